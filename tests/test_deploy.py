"""Docker files, checked without a Docker engine: they parse, and every command is a real one."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
CPU_OVERRIDE = ROOT / "docker-compose.cpu.yml"


class ComposeLoader(yaml.SafeLoader):
    """YAML loader that knows compose's ``!reset`` tag."""


ComposeLoader.add_constructor("!reset", lambda loader, node: {"!reset": True})


def load(path) -> dict:
    return yaml.load(path.read_text(), Loader=ComposeLoader)  # noqa: S506 - a SafeLoader subclass


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with no variable set."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def parser_for(subcommand: str):
    if subcommand == "serve":
        from backend.cli import serve_parser

        return serve_parser()
    from trainer.cli import worker_parser

    assert subcommand == "worker", subcommand
    return worker_parser()


def test_compose_services_volume_and_gpu() -> None:
    compose = load(COMPOSE)
    assert {"trainer", "dashboard", "postgres"} <= set(compose["services"])
    assert "centerlens-data" in compose["volumes"]
    devices = compose["services"]["trainer"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert compose["services"]["postgres"]["profiles"] == ["postgres"]
    assert any("8000" in port for port in compose["services"]["dashboard"]["ports"])


def test_every_service_command_is_a_real_subcommand_with_valid_flags() -> None:
    for path in (COMPOSE, CPU_OVERRIDE):
        for name, service in load(path)["services"].items():
            if "command" not in service:
                continue
            command = [interpolate(str(part)) for part in service["command"]]
            assert command[0] == "centerlens", (path.name, name)
            args = parser_for(command[1]).parse_args(command[2:])
            suite = getattr(args, "seed_suite", None)
            assert suite is None or (ROOT / suite).is_file(), suite


def test_cpu_override_drops_the_gpu_and_trains_the_demo() -> None:
    trainer = load(CPU_OVERRIDE)["services"]["trainer"]
    assert trainer["deploy"] == {"!reset": True}
    assert "configs/demo.yaml" in trainer["command"]


def test_image_installs_as_the_readme_says() -> None:
    readme = (ROOT / "README.md").read_text()
    installs = [
        line.removeprefix("RUN ").strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("RUN pip install")
    ]
    assert installs
    for line in installs:
        assert line in readme, line
