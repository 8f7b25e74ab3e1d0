"""SQLAlchemy 2.0 models: the data model every part of centerlens reads and writes.

The trainer writes runs, probe samples, epochs, per-class epochs and embedding snapshots
(one transaction per epoch); the projector writes projections; the API only reads.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store import catalog
from store.codec import NDArray


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the store uses."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, np.ndarray: NDArray}


class RunStatus(str, enum.Enum):
    """Life cycle of a run."""

    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = frozenset({RunStatus.completed.value, RunStatus.failed.value, RunStatus.cancelled.value})

# a running run whose heartbeat is older than this is taken to have lost its trainer: the API marks
# it stale and a worker may take it over (the trainer beats every HEARTBEAT_SECONDS)
HEARTBEAT_SECONDS = 10.0
STALE_AFTER_SECONDS = 120.0


class Run(Base):
    """One training run: its resolved config and its state."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(40))
    dataset: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(40))
    config: Mapped[dict[str, Any]]
    seed: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.queued.value, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    device: Mapped[str | None] = mapped_column(String(40))
    num_classes: Mapped[int | None]
    class_names: Mapped[list[str] | None]
    feature_dim: Mapped[int | None]
    probe_size: Mapped[int | None]
    probe_seed: Mapped[int | None]
    epochs_planned: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    code_version: Mapped[str | None] = mapped_column(String(40))
    suite: Mapped[str | None] = mapped_column(String(120), index=True)  # the suite or study it came from
    run_group: Mapped[str | None] = mapped_column(String(200), index=True)  # study group: config minus seed
    worker: Mapped[str | None] = mapped_column(String(120))
    claim_token: Mapped[str | None] = mapped_column(String(32))  # the current claimant's (store.queue)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    epochs: Mapped[list[Epoch]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="Epoch.epoch", lazy="raise"
    )


class ProbeSample(Base):
    """One point of the run's fixed probe set (a stratified sample of the test split)."""

    __tablename__ = "probe_samples"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    dataset_index: Mapped[int]
    label: Mapped[int]
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)


class Epoch(Base):
    """Metrics of one finished epoch: one column per metric declared in ``store.catalog.metrics``
    (added below), plus every part of the training loss by name (``loss_parts``) and the scalars a user's
    own loop logs (``extra``)."""

    __tablename__ = "epochs"
    __table_args__ = (UniqueConstraint("run_id", "epoch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    epoch: Mapped[int]
    loss_parts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a user's own logged scalars, by name
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    run: Mapped[Run] = relationship(back_populates="epochs", lazy="raise")


def _metric_column(spec: catalog.MetricSpec) -> None:
    """Map a declared metric to its ``epochs`` column (a migration creates the column itself)."""
    if spec.name not in Epoch.__table__.columns:
        setattr(Epoch, spec.name, mapped_column(spec.name, Float, nullable=not spec.required))


catalog.on_metric(_metric_column)


class ClassEpoch(Base):
    """Per-class statistics of one epoch."""

    __tablename__ = "class_epochs"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(primary_key=True)
    class_index: Mapped[int] = mapped_column(primary_key=True)
    within_class_variance: Mapped[float] = mapped_column(Float)
    center_norm: Mapped[float] = mapped_column(Float)
    nearest_class: Mapped[int]
    nearest_distance: Mapped[float] = mapped_column(Float)
    test_accuracy: Mapped[float | None] = mapped_column(Float)  # null without logits


class EmbeddingSnapshot(Base):
    """The probe set's penultimate features and predictions at one epoch, plus class centers."""

    __tablename__ = "embedding_snapshots"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(primary_key=True)
    probe_features: Mapped[np.ndarray]
    probe_predictions: Mapped[np.ndarray]
    probe_confidences: Mapped[np.ndarray]
    class_centers: Mapped[np.ndarray]
    center_distances: Mapped[np.ndarray]
    method_centers: Mapped[np.ndarray | None]


class Projection(Base):
    """A 2-D layout of one epoch's probe features, written by the projector."""

    __tablename__ = "projections"
    __table_args__ = (UniqueConstraint("run_id", "epoch", "projection", "frame"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    epoch: Mapped[int]
    projection: Mapped[str] = mapped_column(String(20))
    frame: Mapped[str] = mapped_column(String(80), default="run")
    status: Mapped[str] = mapped_column(String(20), default="ok")
    error: Mapped[str | None] = mapped_column(Text)
    points: Mapped[np.ndarray | None]
    centers: Mapped[np.ndarray | None]
    trustworthiness: Mapped[float | None] = mapped_column(Float)
    procrustes_residual: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float | None] = mapped_column(Float)
    input_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
