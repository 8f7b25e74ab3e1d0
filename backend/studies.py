"""Studies: the runs of an experiment file grouped by config up to the seed, with mean ± std per group.

A study is every run whose ``runs.suite`` is ``NAME:HASH`` (re-queueing a changed file adds runs to
the same study); ``NAME:HASH`` selects one queueing exactly. A run's group is ``runs.run_group``, or
``store.suite.group_key`` of its stored config for runs trained outside the queue.

Statistics (torch-free, numpy): only **completed** members count; queued, running, failed and
cancelled ones are listed with their status and left out, and ``n`` says how many counted. The
spread is the sample standard deviation (``ddof=1``; none for ``n = 1``). Per run, **final** is the
last epoch's value and **best** is that metric's own best epoch (the lowest error, NLL, ECE, ratio or
NC1, each on its own epoch); epoch seconds is the run's mean over its epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Epoch, Run, RunStatus, catalog
from store.suite import group_key, group_settings


class UnknownStudy(LookupError):
    """A study name no run carries."""


@dataclass(frozen=True)
class Column:
    """One statistic of the table: a metric of each run reduced to a number (``final``/``best``/``mean``)."""

    name: str
    label: str
    metric: str
    reduce: str
    error: bool = False  # shown as 1 - value (an error rate from an accuracy)
    percent: bool = False


def _final_and_best(name: str, label: str, metric: str, **kind: bool) -> tuple[Column, Column]:
    return (
        Column(f"final_{name}", f"final {label}", metric, "final", **kind),
        Column(f"best_{name}", f"best {label}", metric, "best", **kind),
    )


COLUMNS = (
    *_final_and_best("top1_error", "top-1 err %", "test_top1", error=True, percent=True),
    *_final_and_best("top5_error", "top-5 err %", "test_top5", error=True, percent=True),
    *_final_and_best("nll", "NLL", "test_nll"),
    *_final_and_best("ece", "ECE %", "test_ece", percent=True),
    *_final_and_best("variance_ratio", "tr(Sw)/tr(Sb)", "variance_ratio"),
    *_final_and_best("nc1", "NC1", "nc1"),
    Column("epoch_seconds", "epoch s", "epoch_seconds", "mean"),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
TABLE_METRICS = tuple(dict.fromkeys(column.metric for column in COLUMNS))


@dataclass(frozen=True)
class Statistic:
    """Mean, sample std (ddof=1; None for one value) and how many runs gave a value."""

    mean: float | None
    std: float | None
    n: int


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    seed: int
    status: str
    counted: bool


@dataclass
class Group:
    """One group of a study: its key, its display label, its members and their statistics."""

    key: str
    label: str
    method: str
    dataset: str
    settings: dict
    members: list[Member]
    statistics: dict[str, Statistic] = field(default_factory=dict)

    @property
    def counted(self) -> int:
        return sum(member.counted for member in self.members)


def study_of(suite: str | None) -> str | None:
    """The study name of a ``runs.suite`` value (``NAME:HASH``)."""
    return suite.rpartition(":")[0] or suite if suite else None


def study_names(session: Session) -> dict[str, int]:
    """Every study and how many runs it has, by name."""
    counts: dict[str, int] = {}
    for suite in session.scalars(select(Run.suite).where(Run.suite.is_not(None))):
        name = study_of(suite)
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def study_runs(session: Session, study: str | None) -> list[Run]:
    """The runs of a study (``NAME`` or ``NAME:HASH``), or every run for ``None``, oldest first."""
    query = select(Run).order_by(Run.id)
    if study is not None:
        exact = ":" in study and session.scalar(select(Run.id).where(Run.suite == study).limit(1))
        query = query.where(
            Run.suite == study if exact else Run.suite.startswith(f"{study}:", autoescape=True)
        )
    runs = list(session.scalars(query))
    if study is not None and not runs:
        known = ", ".join(study_names(session)) or "none"
        raise UnknownStudy(f"no study {study!r} (known: {known})")
    return runs


def metric_rows(
    session: Session, run_ids: list[int], metrics: tuple[str, ...]
) -> dict[int, dict[str, np.ndarray]]:
    """Per run, ``epoch`` and each metric as arrays in epoch order (NaN where a value is missing)."""
    columns = [getattr(Epoch, metric) for metric in metrics]
    rows = (
        session.execute(
            select(Epoch.run_id, Epoch.epoch, *columns)
            .where(Epoch.run_id.in_(run_ids))
            .order_by(Epoch.run_id, Epoch.epoch)
        ).all()
        if run_ids
        else []
    )
    by_run: dict[int, list] = {}
    for row in rows:
        by_run.setdefault(row[0], []).append(row[1:])
    series = {}
    for run_id, values in by_run.items():
        table = np.array(
            [[np.nan if value is None else value for value in row] for row in values], dtype=float
        )
        series[run_id] = {"epoch": table[:, 0]} | {
            metric: table[:, i + 1] for i, metric in enumerate(metrics)
        }
    return series


def run_value(column: Column, values: np.ndarray) -> float | None:
    """One run's number for ``column`` from its metric's values in epoch order."""
    values = values[~np.isnan(values)]
    if not values.size:
        return None
    values = 1.0 - values if column.error else values
    return float({"final": values[-1], "best": values.min(), "mean": values.mean()}[column.reduce])


def statistic(values: list[float]) -> Statistic:
    """Mean and sample std (ddof=1) of the values a group's counted runs gave."""
    if not values:
        return Statistic(None, None, 0)
    array = np.asarray(values, dtype=float)
    return Statistic(
        float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else None, int(array.size)
    )


def _labels(settings: dict[str, dict]) -> dict[str, str]:
    """Each group's label: its method and the settings that tell it from the study's other groups of
    that method (the dataset is the table's column; a dataset's default model is left out too)."""
    labels = {}
    for key, mine in settings.items():
        peers = [other for other in settings.values() if other.get("method") == mine.get("method")]
        varying = sorted(name for name in mine if len({repr(peer.get(name)) for peer in peers}) > 1)
        default_model = all(
            peer.get("model")
            == getattr(catalog.DATASETS.items.get(peer.get("dataset")), "default_model", None)
            for peer in peers
        )
        shown = [name for name in varying if name != "dataset" and not (name == "model" and default_model)]
        labels[key] = " ".join([str(mine.get("method")), *(f"{name}={_text(mine[name])}" for name in shown)])
    return labels


def _text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def study_groups(session: Session, study: str | None) -> list[Group]:
    """The groups of a study (or of every run), each with its members and statistics, in queue order."""
    runs = study_runs(session, study)
    keyed = [(run.run_group or group_key(run.config), run) for run in runs]
    settings = {key: group_settings(run.config) for key, run in keyed}
    labels = _labels(settings)
    groups: dict[str, Group] = {}
    for key, run in keyed:
        group = groups.setdefault(key, Group(key, labels[key], run.method, run.dataset, settings[key], []))
        counted = run.status == RunStatus.completed.value
        group.members.append(Member(run.id, run.name, run.seed, run.status, counted))
    counted_ids = [member.id for group in groups.values() for member in group.members if member.counted]
    series = metric_rows(session, counted_ids, TABLE_METRICS)
    for group in groups.values():
        members = [series[member.id] for member in group.members if member.counted and member.id in series]
        for column in COLUMNS:
            values = [run_value(column, run[column.metric]) for run in members]
            group.statistics[column.name] = statistic([value for value in values if value is not None])
    return list(groups.values())


def group_curves(session: Session, groups: list[Group], metric: str) -> dict[str, dict[str, list]]:
    """Per group, a metric's mean and sample std over the counted members at each epoch (and n)."""
    if metric not in catalog.METRICS:
        raise KeyError(metric)
    ids = [member.id for group in groups for member in group.members if member.counted]
    series = metric_rows(session, ids, (metric,))
    curves = {}
    for group in groups:
        by_epoch: dict[int, list[float]] = {}
        for member in group.members:
            run = series.get(member.id) if member.counted else None
            for epoch, value in zip(run["epoch"], run[metric]) if run else ():
                if not np.isnan(value):
                    by_epoch.setdefault(int(epoch), []).append(float(value))
        stats = [statistic(by_epoch[epoch]) for epoch in sorted(by_epoch)]
        curves[group.key] = {
            "epoch": sorted(by_epoch),
            "mean": [s.mean for s in stats],
            "std": [s.std for s in stats],
            "n": [s.n for s in stats],
        }
    return curves


def best_per_column(groups: list[Group]) -> dict[tuple[str, str], str]:
    """The group key with the lowest mean of each (dataset, column): the table's bold cell."""
    best: dict[tuple[str, str], tuple[float, str]] = {}
    for group in groups:
        for name, stat in group.statistics.items():
            slot = (group.dataset, name)
            if stat.mean is not None and (slot not in best or stat.mean < best[slot][0]):
                best[slot] = (stat.mean, group.key)
    return {slot: key for slot, (_, key) in best.items()}
