"""The run queue's request side, apart from the HTTP handlers: run settings checked before a run is
queued, the JSON schema of those settings, and the experiment files of the configs/ folder.

A run queued here is trained later by a ``centerlens worker``, so whatever the trainer would refuse at
start (a wrong type, epochs 0, a non-finite number) is refused now, as one line, instead of queueing a
run that fails.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.deps import MAX_INT
from backend.schemas import SuiteInfo
from store import Run
from store.queue import suite_key
from store.runconfig import CHOICES, ConfigError, TrainConfig, build_config
from store.suite import load_suite

RUN_SETTINGS = TypeAdapter(TrainConfig)
NAME_LENGTH = 200  # the runs.name column

# the values the trainer refuses when it starts a run (and the form's hyper-parameters)
LIMITS: dict[str, tuple[Callable[[float], bool], str]] = {
    "epochs": (lambda value: value >= 1, "at least 1"),
    "batch_size": (lambda value: value >= 2, "at least 2"),
    "lr": (lambda value: value > 0, "positive"),
    "temperature": (lambda value: value > 0, "positive"),
    "distill_weight": (lambda value: value >= 0, "at least 0"),
    "beta": (lambda value: 0 <= value <= 1, "between 0 and 1"),
}


def run_config(values: dict[str, Any], data_dir: str) -> TrainConfig:
    """The config of one run from the API's settings (``data_dir`` unless given), or a ConfigError."""
    if "db" in values:
        raise ConfigError("db is not a setting here: a queued run is trained into this server's database")
    build_config(values)  # unknown keys and unknown names first, with the CLI's messages
    try:
        config = RUN_SETTINGS.validate_python({"data_dir": data_dir, **values})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{where}: {first['msg']}") from error
    check_values(config)
    return config


def check_values(config: TrainConfig) -> None:
    """Refuse values the store or the trainer cannot take: out-of-range integers, NaN, NUL, long names."""
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        for part in value if isinstance(value, list) else [value]:
            if isinstance(part, float) and not math.isfinite(part):
                raise ConfigError(f"{item.name} must be a finite number (got {part})")
            if isinstance(part, int) and not isinstance(part, bool) and not 0 <= part <= MAX_INT:
                raise ConfigError(f"{item.name} must be between 0 and {MAX_INT} (got {part})")
            if isinstance(part, str) and "\x00" in part:
                raise ConfigError(f"{item.name} must not contain NUL characters")
    if len(config.name) > NAME_LENGTH:
        raise ConfigError(f"name must be at most {NAME_LENGTH} characters (got {len(config.name)})")
    for name, (allowed, wanted) in LIMITS.items():
        value = getattr(config, name)
        if not allowed(value):
            raise ConfigError(f"{name} must be {wanted} (got {value})")


def settings_schema() -> dict[str, Any]:
    """JSON schema of a run's settings: types and defaults, each setting's help and its allowed names."""
    schema = RUN_SETTINGS.json_schema()
    for item in dataclasses.fields(TrainConfig):
        field = schema["properties"][item.name]
        field["description"] = item.metadata["help"]
        if item.name in CHOICES:
            field["enum"] = list(CHOICES[item.name])
    del schema["properties"]["db"]  # the worker's database, never the run's choice
    schema["properties"]["lr_milestones"]["default"] = TrainConfig().lr_milestones
    schema["properties"]["name"]["maxLength"] = NAME_LENGTH
    schema["additionalProperties"] = False
    return schema


def suite_files(folder: Path) -> dict[str, Path]:
    """The experiment files (``*.yaml``) directly in ``folder``, by name; links out of it are left out."""
    if not folder.is_dir():
        return {}
    inside = folder.resolve()
    paths = sorted(folder.glob("*.yaml"))
    return {path.stem: path for path in paths if path.is_file() and path.resolve().parent == inside}


def leading_comment(path: Path) -> str:
    """The comment lines at the top of a file, joined into one paragraph."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def distinct(values: list[Any]) -> list[Any]:
    """``values`` without repeats, in their first order."""
    return list(dict.fromkeys(values))


def describe_suite(session: Session, name: str, path: Path) -> SuiteInfo:
    """What a suite file would queue, and whether these exact runs were queued before."""
    description = leading_comment(path)
    try:
        suite, configs = load_suite(path)
    except ConfigError as error:
        return SuiteInfo(
            name=name,
            suite=name,
            description=description,
            runs=0,
            methods=[],
            datasets=[],
            epochs=[],
            queued=False,
            error=str(error),
        )
    key = suite_key(suite, configs)
    queued = session.scalar(select(Run.id).where(Run.suite == key).limit(1)) is not None
    return SuiteInfo(
        name=name,
        suite=suite,
        description=description,
        runs=len(configs),
        methods=distinct([config.method for config in configs]),
        datasets=distinct([config.dataset for config in configs]),
        epochs=distinct([config.epochs for config in configs]),
        queued=queued,
        error=None,
    )
