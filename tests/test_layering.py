"""The layering rules: the server never loads torch, the trainer never loads FastAPI, the store neither,
and the read path (frames, compare, export) does not import the projector worker."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def imported_after(modules: list[str]) -> set[str]:
    """The module names loaded by importing ``modules`` in a fresh interpreter."""
    code = (f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
            "print(' '.join(sys.modules))")
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.mark.parametrize(
    ("modules", "forbidden"),
    [
        (["store", "store.catalog", "store.runconfig", "store.queue", "store.suite"], {"torch", "fastapi"}),
        (["backend.app", "backend.cli", "backend.routes.queue", "centerlens.cli"], {"torch"}),
        (["centerlens"], {"torch", "centerlens.recorder"}),  # Recorder is resolved on first use
        (["trainer.cli", "trainer.loop", "trainer.worker", "trainer.methods"], {"fastapi", "starlette"}),
        (["backend.frames", "backend.routes.frames", "backend.routes.compare", "backend.routes.export"],
         {"backend.projector", "torch"}),
    ],
)
def test_modules_do_not_load_what_their_layer_must_not(modules: list[str], forbidden: set[str]) -> None:
    loaded = imported_after(modules)
    assert not forbidden & loaded, f"{modules} loaded {sorted(forbidden & loaded)}"


def test_the_recorder_is_importable_from_the_package_and_brings_torch_but_not_fastapi() -> None:
    code = ("from centerlens import Recorder; import sys; "
            "print(Recorder.__module__, 'torch' in sys.modules, 'fastapi' in sys.modules)")
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.stdout.split() == ["centerlens.recorder", "True", "False"], result.stderr
