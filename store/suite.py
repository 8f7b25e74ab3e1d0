"""Experiment files (``configs/*.yaml``): a named suite of runs sharing defaults.

suite: demo
defaults: {dataset: digits, epochs: 15}
seeds: [0, 1]          # optional: every run once per seed
runs:
  - {method: ce}
  - {method: csd, beta: 0.5}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from store.runconfig import ConfigError, TrainConfig, build_config, load_yaml

SUITE_KEYS = {"suite", "defaults", "seeds", "runs"}


def load_suite(path: str | Path) -> tuple[str, list[TrainConfig]]:
    """The suite's name and the resolved config of each of its runs."""
    data = load_yaml(path)
    unknown = sorted(set(data) - SUITE_KEYS)
    if unknown or "runs" not in data:
        raise ConfigError(
            f"{path}: a suite file has keys {sorted(SUITE_KEYS)} and needs 'runs' (got {unknown})"
        )
    defaults: dict[str, Any] = data.get("defaults") or {}
    runs = data["runs"]
    if not isinstance(runs, list) or not runs or not all(isinstance(run, dict) for run in runs):
        raise ConfigError(f"{path}: 'runs' must be a non-empty list of settings")
    seeds = data.get("seeds") or [None]
    name = str(data.get("suite") or Path(path).stem)
    configs = []
    for seed in seeds:
        for run in runs:
            values = {**defaults, **run} | ({} if seed is None else {"seed": seed})
            values = {key.replace("-", "_"): value for key, value in values.items()}
            try:
                configs.append(build_config(values))
            except ConfigError as error:
                raise ConfigError(f"{path}: {error}") from error
    return name, configs
