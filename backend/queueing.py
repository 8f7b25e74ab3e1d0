"""The run queue's request side, apart from the HTTP handlers: a queued run's settings checked with the
one validation the CLI uses (``store.runconfig``), the catalog as JSON (``/api/run-settings``), and the
experiment files of the configs/ folder.

A run queued here is trained later by a ``centerlens worker``, so whatever the trainer would refuse at
start is refused now, with the CLI's message. Filesystem paths (data and checkpoint folders) are taken
only inside the folders the server allows, since a queued run is trained by another program.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.schemas import SuiteInfo
from store import Run, catalog
from store.queue import suite_key
from store.runconfig import ConfigError, RunConfigBase, build_config, request_model
from store.suite import load_suite


def check_paths(values: dict[str, Any], allowed: list[Path]) -> None:
    """Refuse a path setting that does not lie inside one of the ``allowed`` folders."""
    for param in catalog.run_params():
        value = values.get(param.name)
        if not param.path or not isinstance(value, str) or not value:
            continue
        resolved = Path(value).expanduser().resolve()
        if not any(resolved == folder or folder in resolved.parents for folder in allowed):
            shown = ", ".join(str(folder) for folder in allowed) or "none"
            raise ConfigError(f"{param.name} must lie inside a folder this server allows ({shown})")


def run_config(values: dict[str, Any], data_dir: Path, allowed: list[Path]) -> RunConfigBase:
    """The config of one queued run from the API's settings (``data_dir`` unless given), or a ConfigError."""
    local = [param.name for param in catalog.run_params() if param.local and param.name in values]
    if local:
        raise ConfigError(
            f"{local[0]} is not a setting here: a queued run is trained into this server's database"
        )
    check_paths(values, [folder.resolve() for folder in allowed])
    return build_config({"data_dir": str(data_dir), **values})


def _choices(param: catalog.Param) -> list[str] | None:
    if isinstance(param.choices, str):
        return list(catalog.fixed_choices(param.choices))
    return list(param.choices) if param.choices else None


def _allowed(param: catalog.Param, field: dict[str, Any]) -> None:
    """The names a setting allows: an ``enum``, or beside it the patterns of a family (``timm/<name>``)."""
    patterns = catalog.name_patterns(param.choices) if isinstance(param.choices, str) else ()
    if patterns:
        field["anyOf"] = [{"enum": _choices(param)}, *({"pattern": f"^(?:{p})$"} for p in patterns)]
        field["x-forms"] = list(catalog.choices(param.choices))
    elif _choices(param):
        field["enum"] = _choices(param)


def settings_schema() -> dict[str, Any]:
    """JSON schema of a queued run's settings, each with its help, label, allowed names (``x-forms``
    lists them as a user writes them: ``timm/<name>``) and methods."""
    schema = request_model().model_json_schema()
    schema.pop("title", None)
    for param in catalog.run_params():
        if param.local:
            continue
        field = schema["properties"][param.name]
        field.pop("title", None)
        field["x-label"] = param.label or param.name.replace("_", " ")
        field["x-methods"] = catalog.methods_using(param.name)
        _allowed(param, field)
    return schema


def catalog_json() -> dict[str, Any]:
    """The catalog for clients: methods, models (a family with its name ``pattern``), datasets and epoch
    metrics with their descriptions."""
    return {
        "methods": [{"name": spec.name, "label": spec.label, "description": spec.description,
                     "settings": [param.name for param in spec.params]} for spec in catalog.METHODS],
        "models": [{"name": spec.name, "label": spec.label, "description": spec.description,
                    "pattern": spec.pattern} for spec in catalog.MODELS],
        "datasets": [{"name": spec.name, "label": spec.label, "description": spec.description,
                      "default_model": spec.default_model, "uses_data_dir": spec.uses_data_dir}
                     for spec in catalog.DATASETS],
        "metrics": [{"name": spec.name, "label": spec.label, "unit": spec.unit,
                     "explanation": spec.explanation, "group": spec.group, "chart": spec.chart,
                     "percent": spec.percent} for spec in catalog.METRICS],
    }


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
