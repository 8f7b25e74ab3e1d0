"""A run's configuration: one validated pydantic model, generated from the catalog's declared settings.

It lives in the store because three programs share it: the trainer reads it, and the queue (command
line or API) writes it into queued runs. It imports neither torch nor FastAPI. Every way in (flags,
YAML, the queue API, a stored queued run) goes through :func:`build_config` or the model itself, so
a setting is checked once, with the same one-line message everywhere.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from store import catalog
from store.catalog.base import Param

SHOWN_INPUT = 40  # characters of a bad value echoed in an error message


class ConfigError(ValueError):
    """A bad setting, reported to the user as one line before anything is written."""


class _YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-3`` as a number (YAML 1.1 wants ``1.0e-3``)."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_INPUT else text[: SHOWN_INPUT - 3] + "..."


KIND_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "text",
              "floats": "a list of numbers"}


def describe_error(error: dict[str, Any], params: dict[str, Param] | None = None) -> str:
    """One line for one pydantic error, in the catalog's words: ``epochs must be at least 1 (got 0)``."""
    params = params if params is not None else {param.name: param for param in catalog.run_params()}
    location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
    name = location[0] if location else ""
    param = params.get(name)
    got = f" (got {_shown(error['input'])})" if "input" in error and error["type"] != "missing" else ""
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown setting {name!r}"
    if kind == "value_error":
        return str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
    if kind == "string_unicode":
        return f"{name} must be UTF-8 text without NUL characters"
    if param is None:
        where = ".".join(location)
        return f"{where}: {error['msg']}{got}" if where else f"{error['msg']}{got}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        return f"{name} must be {param.bounds_text()}{got}"
    if kind in {"too_short", "too_long"} and param.kind == "floats":
        return f"{name} must list {param.min_items} to {param.max_items} numbers{got}"
    if kind == "string_too_long":
        return f"{name} must be at most {param.max_length} characters (got {len(error['input'])})"
    if kind == "finite_number":
        return f"{name} must be a finite number{got}"
    if kind == "string_pattern_mismatch":
        return f"{name} must be one of: {param.help.split(': ', 1)[-1]}{got}"
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "int_from_float":
        return f"{name} must be {KIND_WORDS[param.kind]}{got}"
    return f"{name}: {error['msg']}{got}"


def describe_validation(error: ValidationError) -> str:
    """The first problem of a pydantic validation error, as one line."""
    return describe_error(error.errors()[0])


def _words(name: str) -> str:
    return name.replace("_", " ")


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class RunConfigBase(BaseModel):
    """Behaviour shared by every generated config model: strict types, derived defaults, cross-checks."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, validate_default=True)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise ConfigError(describe_validation(error)) from None

    @model_validator(mode="before")
    @classmethod
    def _dataset_defaults(cls, values: Any) -> Any:
        """Fill in the settings the dataset sets its own default for (``DatasetSpec.method_defaults``)."""
        if not isinstance(values, dict):
            return values
        general = {param.name: param.default for param in catalog.settings.GENERAL}
        dataset, method = (values.get(key, general[key]) for key in ("dataset", "method"))
        if isinstance(dataset, str) and dataset in catalog.DATASETS and isinstance(method, str):
            return {**catalog.DATASETS[dataset].defaults_for(method), **values}
        return values

    @model_validator(mode="after")
    def _resolve_and_check(self) -> RunConfigBase:
        for param in catalog.run_params():
            value = getattr(self, param.name, None)
            if isinstance(value, str) and _bad_text(value):
                raise ValueError(f"{param.name} must be UTF-8 text without NUL characters")
            if isinstance(param.choices, str) and not catalog.accepts(param.choices, value):
                allowed = ", ".join(catalog.choices(param.choices))
                raise ValueError(f"unknown {_words(param.name)} {_shown(value)} (choose from {allowed})")
            if isinstance(param.choices, tuple) and value not in param.choices:
                allowed = ", ".join(param.choices)
                raise ValueError(f"unknown {_words(param.name)} {_shown(value)} (choose from {allowed})")
        if not self.name:
            self.name = f"{self.method}-{self.dataset}-s{self.seed}"
        if self.model == "auto":  # resolved here so queued runs show their model too
            self.model = catalog.DATASETS[self.dataset].default_model
        for check in catalog.METHODS[self.method].checks:
            problem = check(self)
            if problem:
                raise ValueError(problem)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain JSON-able values."""
        return self.model_dump()


ANNOTATIONS = {"int": int, "float": float, "bool": bool, "str": str}


def _field(param: Param) -> tuple[Any, Any]:
    bounds = {key: getattr(param, key) for key in ("ge", "gt", "le", "lt") if getattr(param, key) is not None}
    if param.kind == "floats":
        item = Annotated[float, Field(**bounds)]
        return list[item], Field(
            default=list(param.default), min_length=param.min_items, max_length=param.max_items,
            description=param.help,
        )
    extra = {"max_length": param.max_length} if param.max_length else {}
    if param.pattern:
        extra["pattern"] = f"^(?:{param.pattern})$"
    return ANNOTATIONS[param.kind], Field(default=param.default, description=param.help, **bounds, **extra)


@lru_cache(maxsize=8)
def _model_for(version: int, local: bool) -> type[RunConfigBase]:
    params = [param for param in catalog.run_params() if local or not param.local]
    fields = {param.name: _field(param) for param in params}
    name = "TrainConfig" if local else "RunRequest"
    doc = "Every setting of a run." if local else "The settings of a run queued over the API."
    model = create_model(name, __base__=RunConfigBase, __doc__=doc, **fields)
    return model


def config_model() -> type[RunConfigBase]:
    """The run config model for the catalog as it is now (rebuilt when a plug-in registers settings)."""
    return _model_for(catalog.version(), True)


def request_model() -> type[RunConfigBase]:
    """The model of a queued run's settings: the config without the machine-local ones (the database)."""
    return _model_for(catalog.version(), False)


TrainConfig = config_model()


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config whose keys are the config field names (dashes allowed)."""
    try:
        data = yaml.load(Path(path).read_text(), Loader=_YamlLoader) or {}
    except FileNotFoundError as error:
        raise ConfigError(f"config file not found: {path}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}".splitlines()[0]) from error
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return {str(key).replace("-", "_"): value for key, value in data.items()}


def build_config(values: dict[str, Any]) -> RunConfigBase:
    """Make a validated config from a mapping (unknown keys, wrong types and bounds are ConfigErrors)."""
    return config_model()(**values)
