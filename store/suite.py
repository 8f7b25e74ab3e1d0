"""Experiment files (``configs/*.yaml``): a named study of runs sharing defaults, over seeds and grids.

suite: ablation
defaults: {dataset: digits, epochs: 15, seeds: [0, 1, 2]}
runs:
  - {method: ce}
  - {method: csd, grid: {beta: [0.25, 0.5], temperature: [2, 4]}}

Expansion: every run entry x the product of its grid x its seeds (here 1 x 3 + 4 x 3 = 15 runs).

- ``seeds`` (a list of seeds) may sit at the top level (as before), in ``defaults`` (the same level:
  give it once) or in a run entry, where it replaces the defaults' list for that run.
- ``grid`` (setting -> list of values) may sit at the top level, in ``defaults`` or in a run entry.
  A run's grid adds keys to the defaults' grid and overrides it per key; a plain setting of the run
  entry takes the key out of the defaults' grid (``{method: csd, beta: 0.5}`` runs beta 0.5 only).
- Every resolved run goes through ``store.runconfig.build_config``, the one validation; a bad grid
  key, an empty list or a value the method refuses is a one-line ``ConfigError`` naming the key.

Each run's **group** is its config without the seed, the name and the machine-local settings
(:data:`RUNTIME_SETTINGS`) and without the settings of other methods: :func:`group_key` writes it as
``method/dataset/model:HASH`` (12 hex digits of the canonical JSON), so runs with the same settings
share a group in any study, and the key of a stored config can be computed again at any time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store import catalog
from store.runconfig import ConfigError, TrainConfig, build_config, load_yaml

SUITE_KEYS = {"suite", "defaults", "seeds", "grid", "runs"}
EXPANSION_KEYS = ("seeds", "grid")
MAX_EXPANSION = 100_000  # runs one file may expand to at all (queueing more than 500 needs --force)

# settings of the machine that trains, not of the experiment: left out of a run's group
RUNTIME_SETTINGS = frozenset({
    "db", "data_dir", "download", "device", "loader", "workers", "threads", "compile",
    "checkpoint_every", "checkpoint_dir",
})
DEFAULT_METHOD = next(param.default for param in catalog.settings.GENERAL if param.name == "method")
NOT_IN_GRID = {"seed": "list seeds under 'seeds'", "name": "names are made from the grid values"}


@dataclass(frozen=True)
class SuiteRun:
    """One expanded run: its validated config, its group key and the grid values it was made with."""

    config: TrainConfig
    group: str
    grid: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    """An experiment file, expanded: its name and every run it queues."""

    name: str
    runs: list[SuiteRun]

    @property
    def configs(self) -> list[TrainConfig]:
        return [run.config for run in self.runs]

    @property
    def grid_keys(self) -> list[str]:
        """Every grid key of any run, in the order first met."""
        return list(dict.fromkeys(key for run in self.runs for key in run.grid))


def group_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that make a group: the config minus seed, name, runtime settings, other methods'."""
    method = config.get("method")
    own = {param.name for param in catalog.METHODS[method].params} if method in catalog.METHODS else set()
    others = {param.name for spec in catalog.METHODS for param in spec.params} - own
    dropped = RUNTIME_SETTINGS | others | {"seed", "name"}
    return {key: value for key, value in config.items() if key not in dropped}


def group_key(config: dict[str, Any]) -> str:
    """``method/dataset/model:HASH`` of a config's group settings: equal for runs that differ by seed."""
    settings = group_settings(config)
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return f"{settings.get('method')}/{settings.get('dataset')}/{settings.get('model')}:{digest}"


def _abbreviation(key: str) -> str:
    """A grid key as it appears in run names: short keys whole, longer ones by their initials."""
    words = key.split("_")
    return key if len(words) == 1 and len(key) <= 5 else "".join(word[0] for word in words)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "_".join(_value_text(item) for item in value)
    return str(value)


def _name_parts(grid: dict[str, Any], abbreviations: dict[str, str]) -> list[str]:
    """``beta0.25``, ``t2``; a text value stands alone (``ema``)."""
    return [
        value if isinstance(value, str) else f"{abbreviations[key]}{_value_text(value)}"
        for key, value in grid.items()
    ]


def _abbreviations(keys: list[str]) -> dict[str, str]:
    """Each grid key's short form, the whole key where two would look alike (or like the seed's ``s``)."""
    short = {key: _abbreviation(key) for key in keys}
    taken = list(short.values()) + ["s"]
    return {key: text if taken.count(text) == 1 else key for key, text in short.items()}


def _seed_list(seeds: Any, where: str) -> list[int]:
    if not isinstance(seeds, list) or not seeds:
        raise ConfigError(f"{where}: 'seeds' must be a non-empty list of seeds (got {seeds!r})")
    if len(set(map(repr, seeds))) != len(seeds):
        raise ConfigError(f"{where}: 'seeds' lists a seed twice ({seeds!r})")
    return seeds


def _grid(grid: Any, where: str) -> dict[str, list[Any]]:
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{where}: 'grid' must map settings to lists of values (got {grid!r})")
    known = {param.name for param in catalog.run_params()} - {"db"}
    checked = {}
    for raw_key, values in grid.items():
        key = str(raw_key).replace("-", "_")
        if key in NOT_IN_GRID:
            raise ConfigError(f"{where}: grid key {key!r} is not allowed ({NOT_IN_GRID[key]})")
        if key not in known:
            raise ConfigError(f"{where}: unknown grid key {key!r} (not a run setting)")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: grid key {key!r} needs a non-empty list of values (got {values!r})")
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"{where}: grid key {key!r} lists a value twice ({values!r})")
        checked[key] = values
    return checked


def _levels(data: dict[str, Any], path: str | Path) -> tuple[dict[str, Any], list[Any], dict[str, list]]:
    """The defaults' plain settings, seeds and grid (top-level seeds/grid belong to the defaults)."""
    defaults = dict(data.get("defaults") or {})
    if not isinstance(data.get("defaults") or {}, dict):
        raise ConfigError(f"{path}: 'defaults' must be a mapping of settings")
    for key in EXPANSION_KEYS:
        if key in data and key in defaults:
            raise ConfigError(f"{path}: give {key!r} once, at the top level or in 'defaults'")
        if key in data:
            defaults[key] = data[key]
    seeds = _seed_list(defaults.pop("seeds"), f"{path}: defaults") if "seeds" in defaults else [None]
    grid = _grid(defaults.pop("grid"), f"{path}: defaults") if "grid" in defaults else {}
    return defaults, seeds, grid


def _points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def _normalised(values: dict[str, Any]) -> dict[str, Any]:
    return {str(key).replace("-", "_"): value for key, value in values.items()}


@dataclass
class _Entry:
    """One run entry of the file with its own seeds and merged grid."""

    number: int
    values: dict[str, Any]
    seeds: list[Any]
    grid: dict[str, list[Any]]
    expanded: bool

    @property
    def size(self) -> int:
        count = len(self.seeds)
        for values in self.grid.values():
            count *= len(values)
        return count


def _entries(path: str | Path, data: dict[str, Any]) -> list[_Entry]:
    defaults, default_seeds, default_grid = _levels(data, path)
    defaults = _normalised(defaults)
    entries = []
    for number, run in enumerate(data["runs"], start=1):
        where = f"{path}: run {number}"
        run = _normalised(run)
        seeds = _seed_list(run.pop("seeds"), where) if "seeds" in run else default_seeds
        own_grid = _grid(run.pop("grid"), where) if "grid" in run else {}
        grid = {key: values for key, values in default_grid.items() if key not in run} | own_grid
        expanded = seeds != [None] or bool(grid)
        entries.append(_Entry(number, {**defaults, **run}, seeds, grid, expanded))
    return entries


def _check_grid_values(entry: _Entry, where: str) -> None:
    """Each grid value alone through the one validation, so the error names the key."""
    for key, values in entry.grid.items():
        users = catalog.methods_using(key)
        method = entry.values.get("method", DEFAULT_METHOD)
        if users and "method" not in entry.grid and method not in users:
            raise ConfigError(
                f"{where}: grid key {key!r} is not a setting of method {method!r} (it is one of "
                f"{', '.join(users)})"
            )
        for value in values:
            try:
                build_config({**entry.values, key: value})
            except ConfigError as error:
                raise ConfigError(f"{where}: grid key {key!r} = {value!r}: {error}") from None


def _expand(entry: _Entry, where: str, abbreviations: dict[str, str]) -> list[tuple[int, SuiteRun]]:
    """The entry's runs, each with the position of its seed in the entry's list."""
    _check_grid_values(entry, where)
    runs = []
    for position, seed in enumerate(entry.seeds):
        for point in _points(entry.grid):
            values = {**entry.values, **point} | ({} if seed is None else {"seed": seed})
            try:
                config = build_config(values)
                if entry.expanded:
                    base = entry.values.get("name") or config.method
                    parts = [base, *_name_parts(point, abbreviations), f"s{config.seed}"]
                    config = build_config({**values, "name": "-".join(parts)})
            except ConfigError as error:
                shown = ", ".join(f"{key}={value!r}" for key, value in point.items())
                raise ConfigError(f"{where}{f' ({shown})' if shown else ''}: {error}") from None
            runs.append((position, SuiteRun(config, group_key(config.to_dict()), point)))
    return runs


def _unique_names(runs: list[SuiteRun]) -> None:
    """Expanded names that still repeat (two entries alike but for a plain setting) get -2, -3 ..."""
    seen: dict[str, int] = {}
    for run in runs:
        name = run.config.name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            run.config.name = f"{name}-{seen[name]}"


def expand_suite(path: str | Path) -> Suite:
    """Read an experiment file and expand it: runs x grid product x seeds, each validated."""
    data = load_yaml(path)
    unknown = sorted(set(data) - SUITE_KEYS)
    if unknown or "runs" not in data:
        raise ConfigError(
            f"{path}: a suite file has keys {sorted(SUITE_KEYS)} and needs 'runs' (got {unknown})"
        )
    runs = data["runs"]
    if not isinstance(runs, list) or not runs or not all(isinstance(run, dict) for run in runs):
        raise ConfigError(f"{path}: 'runs' must be a non-empty list of settings")
    entries = _entries(path, data)
    total = sum(entry.size for entry in entries)
    if total > MAX_EXPANSION:
        raise ConfigError(f"{path}: expands to {total} runs, more than {MAX_EXPANSION} (split the study)")
    abbreviations = _abbreviations(list(dict.fromkeys(key for entry in entries for key in entry.grid)))
    by_entry = [_expand(entry, f"{path}: run {entry.number}", abbreviations) for entry in entries]
    # seed by seed, so the first results of a queued study already cover every group
    numbered = list(itertools.chain(*by_entry))
    order = sorted(range(len(numbered)), key=lambda index: (numbered[index][0], index))
    expanded = [numbered[index][1] for index in order]
    _unique_names(expanded)
    return Suite(str(data.get("suite") or Path(path).stem), expanded)


def load_suite(path: str | Path) -> tuple[str, list[TrainConfig]]:
    """The suite's name and the resolved config of each of its runs (see :func:`expand_suite`)."""
    suite = expand_suite(path)
    return suite.name, suite.configs


def expansion_table(suite: Suite) -> str:
    """The expansion as a text table: run name, group, seed and each grid key's value."""
    keys = suite.grid_keys
    header = ["run", "group", "seed", *keys]
    rows = [
        [run.config.name, run.group, str(run.config.seed), *(_cell(run.grid, key) for key in keys)]
        for run in suite.runs
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]
    ]
    groups = len({run.group for run in suite.runs})
    summary = f"suite {suite.name!r}: {len(rows)} run(s) in {groups} group(s) (dry run: nothing queued)"
    return "\n".join([*lines, summary])


def _cell(grid: dict[str, Any], key: str) -> str:
    return _value_text(grid[key]) if key in grid else "-"
