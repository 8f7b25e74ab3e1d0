"""``centerlens serve`` and ``centerlens demo`` as a user runs them: bad databases, a real start and stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.backend.api_support import copy_database, free_port
from tests.conftest import ROOT, centerlens


def test_a_missing_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = centerlens("serve", "--db", str(tmp_path / "missing.db"), check=False, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"centerlens serve: error: database {tmp_path}/missing.db "
                                                   "does not exist"]
    assert not (tmp_path / "missing.db").exists()


def test_an_unreadable_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("not a database\n" * 100)
    result = centerlens("serve", "--db", str(tmp_path / "notes.db"), check=False, timeout=60)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("centerlens serve: error: cannot read database") and "not a database" in line


def _serve_until_healthy(command: list[str], port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "centerlens.cli", *command, "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{command[0]} exited {process.returncode}: {process.stdout.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"{command[0]} did not answer /api/health within 90 s")


def _stop(process: subprocess.Popen[str], how: signal.Signals = signal.SIGTERM) -> str:
    process.send_signal(how)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in output, output
    return output


def test_serve_starts_serves_and_stops(trained_db, tmp_path: Path) -> None:
    port = free_port()
    process = _serve_until_healthy(["serve", "--db", trained_db.url, "--no-projector"], port)
    try:
        runs = httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=10).json()
        assert sorted(run["id"] for run in runs) == trained_db.run_ids
    finally:
        output = _stop(process)
    assert f"dashboard at http://127.0.0.1:{port}/" in output and "projector off" in output


@pytest.mark.slow
def test_serve_runs_the_projector_in_the_background(trained_db, tmp_path: Path) -> None:
    url = copy_database(trained_db.url, tmp_path)
    port = free_port()
    process = _serve_until_healthy(["serve", "--db", url], port)
    try:
        deadline = time.monotonic() + 240
        frames: dict = {"pending": [1]}
        while frames["pending"] and time.monotonic() < deadline:
            time.sleep(1)
            frames = httpx.get(f"http://127.0.0.1:{port}/api/runs/1/frames?projection=pca", timeout=10).json()
        assert frames["epochs"] == [1, 2, 3], "the projector thread wrote no PCA frames"
    finally:
        _stop(process)


def test_demo_without_training_serves_a_new_database(tmp_path: Path) -> None:
    db = tmp_path / "demo" / "demo.db"
    port = free_port()
    process = _serve_until_healthy(["demo", "--no-train", "--db", str(db)], port)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=10).json() == []
    finally:
        output = _stop(process, signal.SIGINT)
    assert db.is_file() and f"centerlens demo: dashboard at http://127.0.0.1:{port}/" in output
