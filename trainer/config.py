"""The trainer's view of a run's configuration: the shared dataclass plus its command-line flags."""

from __future__ import annotations

import argparse
import dataclasses
from typing import get_type_hints

from store.runconfig import CHOICES, ConfigError, TrainConfig, build_config, load_yaml

__all__ = [
    "CHOICES",
    "ConfigError",
    "TrainConfig",
    "add_config_arguments",
    "build_config",
    "config_from_args",
]


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per config field (underscores become dashes)."""
    hints = get_type_hints(TrainConfig)
    for item in dataclasses.fields(TrainConfig):
        flag = "--" + item.name.replace("_", "-")
        kind = hints[item.name]
        shown = item.default
        help_text = f"{item.metadata['help']} (default: {shown})"
        if kind is bool:
            parser.add_argument(flag, dest=item.name, action=argparse.BooleanOptionalAction, help=help_text)
        elif item.metadata.get("nargs"):
            parser.add_argument(flag, dest=item.name, type=float, nargs="+", help=help_text)
        else:
            parser.add_argument(flag, dest=item.name, type=kind, help=help_text)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Merge ``--config FILE`` (if any) with the flags given on the command line (flags win)."""
    values = load_yaml(args.config) if getattr(args, "config", None) else {}
    for item in dataclasses.fields(TrainConfig):
        given = getattr(args, item.name, None)
        if given is not None:
            values[item.name] = given
    return build_config(values)
