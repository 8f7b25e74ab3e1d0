"""Writes a run into the store: the run row and its probe once, then each epoch in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from centerlens import __version__
from store import ClassEpoch, EmbeddingSnapshot, Epoch, ProbeSample, Projection, Run, RunStatus
from store.models import utcnow


@dataclass
class EpochRecord:
    """Everything one epoch produces, already on the host as plain numbers and arrays."""

    epoch: int
    scalars: dict[str, float]
    per_class: dict[str, np.ndarray]
    probe_features: np.ndarray
    probe_predictions: np.ndarray
    probe_confidences: np.ndarray
    class_centers: np.ndarray
    center_distances: np.ndarray
    method_centers: np.ndarray | None


class Recorder:
    """The trainer's only door into the store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.run_id: int | None = None

    def start_run(
        self,
        config: dict[str, Any],
        info: dict[str, Any],
        probe: list[tuple[int, int, bytes]],
        run_id: int | None = None,
    ) -> int:
        """Insert the run (or take over the queued run ``run_id``) as running, with its probe samples."""
        columns = {
            "name": config["name"],
            "method": config["method"],
            "dataset": config["dataset"],
            "model": config["model"],
            "config": config,
            "seed": config["seed"],
            "status": RunStatus.running.value,
            "epochs_planned": config["epochs"],
            "heartbeat_at": utcnow(),
            "error": None,
            "code_version": __version__,
            **info,
        }
        with self.sessions.begin() as session:
            run = session.get(Run, run_id) if run_id is not None else Run(started_at=utcnow())
            for name, value in columns.items():
                setattr(run, name, value)
            run.started_at = run.started_at or utcnow()
            session.add(run)
            session.flush()
            has_probe = session.scalar(
                select(ProbeSample.position).where(ProbeSample.run_id == run.id).limit(1)
            )
            if has_probe is None:
                session.add_all(
                    ProbeSample(
                        run_id=run.id, position=position, dataset_index=index, label=label, thumbnail=png
                    )
                    for position, (index, label, png) in enumerate(probe)
                )
            self.run_id = run.id
        return self.run_id

    def write_epoch(self, record: EpochRecord) -> bool:
        """Write the epoch's metrics, per-class rows and snapshot atomically.

        Returns True when someone asked for the run to be cancelled.
        """
        with self.sessions.begin() as session:
            session.add(Epoch(run_id=self.run_id, epoch=record.epoch, **record.scalars))
            per_class = record.per_class
            session.add_all(
                ClassEpoch(
                    run_id=self.run_id,
                    epoch=record.epoch,
                    class_index=k,
                    within_class_variance=float(per_class["variance"][k]),
                    center_norm=float(per_class["center_norm"][k]),
                    nearest_class=int(per_class["nearest_class"][k]),
                    nearest_distance=float(per_class["nearest_distance"][k]),
                    test_accuracy=float(per_class["accuracy"][k]),
                )
                for k in range(len(per_class["variance"]))
            )
            session.add(
                EmbeddingSnapshot(
                    run_id=self.run_id,
                    epoch=record.epoch,
                    probe_features=record.probe_features.astype(np.float16),
                    probe_predictions=record.probe_predictions.astype(np.int16),
                    probe_confidences=record.probe_confidences.astype(np.float32),
                    class_centers=record.class_centers.astype(np.float32),
                    center_distances=record.center_distances.astype(np.float32),
                    method_centers=None
                    if record.method_centers is None
                    else record.method_centers.astype(np.float32),
                )
            )
            run = session.get(Run, self.run_id)
            run.heartbeat_at = utcnow()
            return run.cancel_requested

    def finish(self, status: RunStatus, error: str | None = None) -> None:
        """Mark the run completed, failed or cancelled (in its own transaction)."""
        if self.run_id is None:
            return
        with self.sessions.begin() as session:
            run = session.get(Run, self.run_id)
            run.status, run.error, run.finished_at = status.value, error, utcnow()

    def last_epoch(self) -> int:
        """The newest whole epoch recorded for the run (0 if none)."""
        with self.sessions() as session:
            return session.scalar(select(func.max(Epoch.epoch)).where(Epoch.run_id == self.run_id)) or 0

    def truncate_after(self, epoch: int) -> None:
        """Delete the run's records of epochs after ``epoch`` (before retraining them), atomically."""
        with self.sessions.begin() as session:
            for table in (Projection, EmbeddingSnapshot, ClassEpoch, Epoch):
                session.execute(delete(table).where(table.run_id == self.run_id, table.epoch > epoch))

    def heartbeat(self) -> None:
        """Tell other workers this run's trainer is alive."""
        with self.sessions.begin() as session:
            session.execute(update(Run).where(Run.id == self.run_id).values(heartbeat_at=utcnow()))
