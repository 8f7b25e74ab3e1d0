"""The trainer's view of a run's configuration: the catalog's settings as command-line flags."""

from __future__ import annotations

import argparse

from store import catalog
from store.catalog.base import Param
from store.runconfig import ConfigError, TrainConfig, build_config, load_yaml

__all__ = ["ConfigError", "TrainConfig", "add_config_arguments", "build_config", "config_from_args"]

FLAG_TYPES = {"int": int, "float": float, "str": str}


def _help(param: Param) -> str:
    parts = [param.help]
    if isinstance(param.choices, str):
        parts.append(f"one of {', '.join(catalog.choices(param.choices))}")
    elif param.choices:
        parts.append(f"one of {', '.join(param.choices)}")
    if param.bounds_text():
        parts.append(param.bounds_text())
    users = catalog.methods_using(param.name)
    if users:
        parts.append(f"for {', '.join(users)}")
    default = " ".join(map(str, param.default)) if param.kind == "floats" else param.default
    return f"{'; '.join(parts)} (default: {default})".replace("%", "%%")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per declared run setting (underscores become dashes), grouped general/method."""
    general = parser.add_argument_group("run settings")
    methods = parser.add_argument_group("method settings")
    for param in catalog.run_params():
        group = methods if catalog.methods_using(param.name) else general
        if param.kind == "bool":
            group.add_argument(param.flag, dest=param.name, action=argparse.BooleanOptionalAction,
                               help=_help(param))
        elif param.kind == "floats":
            group.add_argument(param.flag, dest=param.name, type=float, nargs="+", help=_help(param))
        else:
            group.add_argument(param.flag, dest=param.name, type=FLAG_TYPES[param.kind], help=_help(param))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Merge ``--config FILE`` (if any) with the flags given on the command line (flags win)."""
    values = load_yaml(args.config) if getattr(args, "config", None) else {}
    for param in catalog.run_params():
        given = getattr(args, param.name, None)
        if given is not None:
            values[param.name] = given
    return build_config(values)
