"""Read-side queries: runs, metric series, class statistics, probe and centers as response schemas.

Plain functions of a session, kept apart from the HTTP handlers; each is a fixed, small number of
queries whatever the number of runs or epochs (no lazy loads, no per-row round trips).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import LargeBinary, and_, func, select, type_coerce
from sqlalchemy.orm import Session

from backend.arrays import typed_array, typed_blob, typed_blob_or_none
from backend.schemas import (
    Centers,
    ClassSeries,
    EpochSeries,
    FinalMetrics,
    Probe,
    RunDetail,
    RunSummary,
)
from store import ClassEpoch, EmbeddingSnapshot, Epoch, ProbeSample, Run, RunStatus
from store.models import STALE_AFTER_SECONDS

FINAL_METRICS = tuple(FinalMetrics.model_fields)
EPOCH_METRICS = tuple(EpochSeries.model_fields)  # epoch, every declared metric, loss_parts
CLASS_METRICS = ("within_class_variance", "nearest_class", "nearest_distance", "test_accuracy", "center_norm")


def raw(column: object) -> object:
    """A codec column selected as its stored bytes (skips decoding; see ``backend.arrays``)."""
    return type_coerce(column, LargeBinary)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def run_summaries(session: Session, runs: Sequence[Run]) -> list[RunSummary]:
    """Summaries of ``runs`` (in that order) from one aggregate query over their epochs."""
    if not runs:
        return []
    totals = (
        select(
            Epoch.run_id,
            func.count().label("done"),
            func.max(Epoch.epoch).label("last"),
            func.max(Epoch.test_top1).label("best"),
        )
        .where(Epoch.run_id.in_([run.id for run in runs]))
        .group_by(Epoch.run_id)
        .subquery()
    )
    query = select(totals, Epoch.recorded_at, *(getattr(Epoch, name) for name in FINAL_METRICS)).join(
        Epoch, and_(Epoch.run_id == totals.c.run_id, Epoch.epoch == totals.c.last)
    )
    by_run = {row.run_id: row for row in session.execute(query)}
    return [_summary(run, by_run.get(run.id)) for run in runs]


def _summary(run: Run, totals: object | None) -> RunSummary:
    done = totals.done if totals is not None else 0
    final = None
    if totals is not None:
        final = FinalMetrics(**{name: getattr(totals, name) for name in FINAL_METRICS})
    return RunSummary(
        id=run.id,
        name=run.name,
        method=run.method,
        dataset=run.dataset,
        model=run.model,
        status=run.status,
        epochs_done=done,
        epochs_planned=run.epochs_planned,
        progress=min(1.0, done / run.epochs_planned) if run.epochs_planned else 0.0,
        eta_seconds=_eta_seconds(run, totals),
        heartbeat_at=as_utc(run.heartbeat_at),
        stale=_stale(run),
        created_at=as_utc(run.created_at),
        started_at=as_utc(run.started_at),
        finished_at=as_utc(run.finished_at),
        final=final,
        best_top1=totals.best if totals is not None else None,
        probe_size=run.probe_size,
        seed=run.seed,
    )


def _stale(run: Run) -> bool:
    """A running run whose trainer stopped refreshing its heartbeat: the threshold workers take over at."""
    if run.status != RunStatus.running.value or run.heartbeat_at is None:
        return False
    return (datetime.now(timezone.utc) - as_utc(run.heartbeat_at)).total_seconds() > STALE_AFTER_SECONDS


def _eta_seconds(run: Run, totals: object | None) -> float | None:
    """Remaining epochs times the wall-clock seconds per epoch so far (running runs only)."""
    if run.status != RunStatus.running.value or totals is None or run.started_at is None:
        return None
    elapsed = (as_utc(totals.recorded_at) - as_utc(run.started_at)).total_seconds()
    remaining = max(0, run.epochs_planned - totals.done)
    return max(0.0, elapsed / totals.done * remaining)


def list_runs(session: Session) -> list[RunSummary]:
    """Every run, newest first."""
    return run_summaries(session, session.scalars(select(Run).order_by(Run.id.desc())).all())


def run_detail(session: Session, run: Run) -> RunDetail:
    """One run's summary plus its config and class names."""
    summary = run_summaries(session, [run])[0]
    return RunDetail(
        **summary.model_dump(),
        config=run.config,
        class_names=run.class_names,
        num_classes=run.num_classes,
        feature_dim=run.feature_dim,
        device=run.device,
        error=run.error,
    )


def epoch_series(session: Session, run_id: int) -> EpochSeries:
    """All metric series of a run, one list per metric, ordered by epoch."""
    columns = [getattr(Epoch, name) for name in EPOCH_METRICS]
    rows = session.execute(select(*columns).where(Epoch.run_id == run_id).order_by(Epoch.epoch)).all()
    values = list(zip(*rows)) if rows else [() for _ in columns]
    return EpochSeries(**{name: list(series) for name, series in zip(EPOCH_METRICS, values)})


def class_series(session: Session, run: Run) -> ClassSeries:
    """Per-class statistics, one row per recorded epoch and one column per class."""
    query = select(ClassEpoch).where(ClassEpoch.run_id == run.id)
    rows = session.scalars(query.order_by(ClassEpoch.epoch, ClassEpoch.class_index)).all()
    num_classes = run.num_classes or (max((row.class_index for row in rows), default=-1) + 1)
    epochs = sorted({row.epoch for row in rows})
    position = {epoch: index for index, epoch in enumerate(epochs)}
    table = {name: [[None] * num_classes for _ in epochs] for name in CLASS_METRICS}
    for row in rows:
        for name in CLASS_METRICS:
            table[name][position[row.epoch]][row.class_index] = getattr(row, name)
    names = run.class_names or [str(index) for index in range(num_classes)]
    return ClassSeries(epoch=epochs, class_names=names, **table)


def probe_arrays(session: Session, run_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels (int16) and dataset indices (int32) of the probe samples, in probe order."""
    query = select(ProbeSample.label, ProbeSample.dataset_index).where(ProbeSample.run_id == run_id)
    rows = session.execute(query.order_by(ProbeSample.position)).all()
    labels = np.array([row.label for row in rows], dtype=np.int16)
    return labels, np.array([row.dataset_index for row in rows], dtype=np.int32)


def probe(session: Session, run_id: int) -> Probe:
    """The probe's labels and dataset indices as typed arrays, and the thumbnail URL template."""
    labels, indices = probe_arrays(session, run_id)
    imaged = select(ProbeSample.position).where(ProbeSample.run_id == run_id,
                                                func.length(ProbeSample.thumbnail) > 0)
    has_images = session.scalar(imaged.limit(1)) is not None
    return Probe(
        size=len(labels),
        labels=typed_array(labels),
        dataset_index=typed_array(indices),
        thumbnail_url=f"/api/runs/{run_id}/probe/{{position}}.png" if has_images else None,
    )


def thumbnail(session: Session, run_id: int, position: int) -> bytes | None:
    """The PNG thumbnail of one probe sample (None if there is no such sample)."""
    query = select(ProbeSample.thumbnail).where(ProbeSample.run_id == run_id)
    return session.scalar(query.where(ProbeSample.position == position))


def centers(session: Session, run_id: int, epoch: int) -> Centers | None:
    """Class centers and center distances of one epoch (None if that epoch has no snapshot)."""
    query = select(
        raw(EmbeddingSnapshot.center_distances),
        raw(EmbeddingSnapshot.class_centers),
        raw(EmbeddingSnapshot.method_centers),
    ).where(EmbeddingSnapshot.run_id == run_id, EmbeddingSnapshot.epoch == epoch)
    row = session.execute(query).first()
    if row is None:
        return None
    distances, class_centers, method_centers = row
    return Centers(
        epoch=epoch,
        center_distances=typed_blob(distances),
        class_centers=typed_blob(class_centers),
        method_centers=typed_blob_or_none(method_centers),
    )
