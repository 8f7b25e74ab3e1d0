"""Writes a run into the store: the run row and its probe once, then each epoch in one transaction.

Both writers of runs go through here: the built-in trainer (``trainer.loop``) and a user's own loop
(``centerlens.Recorder``); :func:`epoch_record` turns either's :class:`~trainer.metrics.Evaluation`
into the :class:`EpochRecord` that :meth:`Recorder.write_epoch` stores.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from centerlens import __version__
from store import ClassEpoch, EmbeddingSnapshot, Epoch, ProbeSample, Projection, Run, RunStatus, catalog
from store.models import HEARTBEAT_SECONDS, utcnow
from store.queue import new_claim
from trainer.metrics import Evaluation, metric_tensors, to_host
from trainer.stopping import ClaimLost


@dataclass
class EpochRecord:
    """Everything one epoch produces, already on the host as plain numbers and arrays."""

    epoch: int
    scalars: dict[str, float | None]
    loss_parts: dict[str, float]
    per_class: dict[str, np.ndarray]
    probe_features: np.ndarray
    probe_predictions: np.ndarray
    probe_confidences: np.ndarray
    class_centers: np.ndarray
    center_distances: np.ndarray
    method_centers: np.ndarray | None
    extra: dict[str, float] | None = None  # a user's own logged scalars (``epochs.extra``)


def epoch_record(
    evaluation: Evaluation,
    probe: torch.Tensor,
    epoch: int,
    scalars: dict[str, float | None],
    loss_parts: dict[str, float],
    method_centers: torch.Tensor | None = None,
    extra: dict[str, float] | None = None,
) -> EpochRecord:
    """The record of epoch ``epoch`` (numbered from 1) from its evaluation and the run's own scalars.

    ``probe`` holds the probe's sample indices on the evaluation's device. Everything small (metrics,
    per-class rows, probe predictions, centers) reaches the host in one transfer, the probe's features
    (float16) in a second. Without logits the per-class accuracy is None and the probe's predictions
    are the nearest class mean's (:meth:`Evaluation.predicted`).
    """
    geometry, predictions = evaluation.geometry, evaluation.predictions
    predicted, confidences = evaluation.predicted()
    metrics = metric_tensors(evaluation)
    small = {
        **{f"metric:{name}": value for name, value in metrics.items()},
        "variance": geometry["per_class_variance"],
        "center_norm": geometry["center_norms"],
        "nearest_class": geometry["nearest_class"],
        "nearest_distance": geometry["nearest_distance"],
        "probe_predictions": predicted[probe],
        "probe_confidences": confidences[probe],
        "class_centers": geometry["class_means"],
        "center_distances": geometry["center_distances"],
    }
    if predictions is not None:
        small["accuracy"] = predictions["per_class_accuracy"]
    if method_centers is not None:
        small["method_centers"] = method_centers.detach()
    host = to_host(small)
    computed = {name: float(host[f"metric:{name}"]) for name in metrics}
    return EpochRecord(
        epoch=epoch,
        scalars={**scalars, **computed},
        loss_parts=loss_parts,
        per_class={
            "variance": host["variance"],
            "center_norm": host["center_norm"],
            "nearest_class": host["nearest_class"].astype(np.int64),
            "nearest_distance": host["nearest_distance"],
            "accuracy": host.get("accuracy"),
        },
        probe_features=evaluation.features[probe].half().cpu().numpy(),
        probe_predictions=host["probe_predictions"].astype(np.int64),
        probe_confidences=host["probe_confidences"].astype(np.float32),
        class_centers=host["class_centers"].astype(np.float32),
        center_distances=host["center_distances"].astype(np.float32),
        method_centers=None if method_centers is None else host["method_centers"].astype(np.float32),
        extra=extra,
    )


def config_columns(config: dict[str, Any]) -> dict[str, Any]:
    """The run columns a trainer config decides."""
    return {
        "name": config["name"],
        "method": config["method"],
        "dataset": config["dataset"],
        "model": config["model"],
        "config": config,
        "seed": config["seed"],
        "epochs_planned": config["epochs"],
    }


def metric_columns(scalars: dict[str, float | None]) -> dict[str, float | None]:
    """The epoch's metrics by declared name; an undeclared name or a missing required one is an error."""
    unknown = sorted(set(scalars) - set(catalog.METRICS.names()))
    if unknown:
        raise ValueError(f"metric {unknown[0]!r} is not declared in store.catalog.metrics")
    missing = [spec.name for spec in catalog.METRICS if spec.required and scalars.get(spec.name) is None]
    if missing:
        raise ValueError(f"metric {missing[0]!r} was not computed for this epoch")
    return {spec.name: scalars.get(spec.name) for spec in catalog.METRICS}


class Recorder:
    """The trainer's only door into the store.

    Every write carries the recorder's claim token and is refused with :class:`ClaimLost` once
    another worker has claimed the run (a takeover), so a trainer that lost its run cannot touch it.
    """

    def __init__(self, sessions: sessionmaker[Session], claim: str | None = None) -> None:
        self.sessions = sessions
        self.run_id: int | None = None
        self.claim = claim

    def start_run(
        self,
        run_columns: dict[str, Any],
        probe: list[tuple[int, int, bytes]],
        run_id: int | None = None,
    ) -> int:
        """Insert the run (or take over the run ``run_id``) as running, with its probe samples.

        ``run_columns`` holds at least name, method, dataset, model, config, seed and epochs_planned
        (:func:`config_columns` of a trainer config), plus what else is known (device, classes, ...).
        """
        columns = {
            "status": RunStatus.running.value,
            "heartbeat_at": utcnow(),
            "error": None,
            "finished_at": None,
            "code_version": __version__,
            **run_columns,
        }
        with self.sessions.begin() as session:
            if run_id is None:
                run = Run(started_at=utcnow())
            else:
                run = session.get(Run, run_id, with_for_update=True)
                if self.claim is not None and run.claim_token != self.claim:
                    raise self._taken_over(session, run_id)
            self.claim = self.claim or new_claim()
            run.claim_token = self.claim
            for name, value in columns.items():
                setattr(run, name, value)
            run.started_at = run.started_at or utcnow()
            session.add(run)
            session.flush()
            self.run_id = run.id
            self._add_probe(session, probe)
        return self.run_id

    def _add_probe(self, session: Session, probe: list[tuple[int, int, bytes]]) -> None:
        """(dataset index, label, PNG) rows in probe order, unless the run has its probe already."""
        first = select(ProbeSample.position).where(ProbeSample.run_id == self.run_id).limit(1)
        if session.scalar(first) is None:
            session.add_all(
                ProbeSample(
                    run_id=self.run_id, position=position, dataset_index=index, label=label, thumbnail=png
                )
                for position, (index, label, png) in enumerate(probe)
            )

    def write_epoch(
        self,
        record: EpochRecord,
        run_columns: dict[str, Any] | None = None,
        probe: list[tuple[int, int, bytes]] | None = None,
    ) -> bool:
        """Write the epoch's metrics, per-class rows and snapshot atomically, with any run columns it
        changes and (a run started without them) its probe samples.

        Returns True when someone asked for the run to be cancelled.
        """
        columns = metric_columns(record.scalars)
        with self.sessions.begin() as session:
            cancel_requested = self._hold_claim(session)
            if run_columns:
                session.execute(update(Run).where(Run.id == self.run_id).values(**run_columns))
            if probe:
                self._add_probe(session, probe)
            session.add(
                Epoch(
                    run_id=self.run_id,
                    epoch=record.epoch,
                    loss_parts=record.loss_parts,
                    extra=record.extra,
                    **columns,
                )
            )
            per_class = record.per_class
            accuracy = per_class["accuracy"]
            session.add_all(
                ClassEpoch(
                    run_id=self.run_id,
                    epoch=record.epoch,
                    class_index=k,
                    within_class_variance=float(per_class["variance"][k]),
                    center_norm=float(per_class["center_norm"][k]),
                    nearest_class=int(per_class["nearest_class"][k]),
                    nearest_distance=float(per_class["nearest_distance"][k]),
                    test_accuracy=None if accuracy is None else float(accuracy[k]),
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
            return cancel_requested

    def finish(self, status: RunStatus, error: str | None = None) -> None:
        """Mark the run completed, failed or cancelled (in its own transaction)."""
        if self.run_id is None:
            return
        with self.sessions.begin() as session:
            self._hold_claim(session)
            run = session.get(Run, self.run_id)
            run.status, run.error, run.finished_at = status.value, error, utcnow()

    def last_epoch(self) -> int:
        """The newest whole epoch recorded for the run (0 if none)."""
        with self.sessions() as session:
            return session.scalar(select(func.max(Epoch.epoch)).where(Epoch.run_id == self.run_id)) or 0

    def truncate_after(self, epoch: int) -> None:
        """Delete the run's records of epochs after ``epoch`` (before retraining them), atomically."""
        with self.sessions.begin() as session:
            self._hold_claim(session)
            for table in (Projection, EmbeddingSnapshot, ClassEpoch, Epoch):
                session.execute(delete(table).where(table.run_id == self.run_id, table.epoch > epoch))

    def heartbeat(self) -> None:
        """Tell other workers this run's trainer is alive (ClaimLost once it was taken over)."""
        with self.sessions.begin() as session:
            self._hold_claim(session)

    def _hold_claim(self, session: Session) -> bool:
        """Refresh the heartbeat if this recorder still holds the run's claim, which also locks the
        run for the rest of the transaction; returns the run's cancel request, else raises ClaimLost."""
        held = session.execute(
            update(Run)
            .where(Run.id == self.run_id, Run.claim_token == self.claim)
            .values(heartbeat_at=utcnow())
            .returning(Run.cancel_requested)
            .execution_options(synchronize_session=False)
        ).first()
        if held is None:
            raise self._taken_over(session, self.run_id)
        return bool(held.cancel_requested)

    @staticmethod
    def _taken_over(session: Session, run_id: int | None) -> ClaimLost:
        holder = session.scalar(select(Run.worker).where(Run.id == run_id))
        return ClaimLost(
            f"run {run_id} was taken over by {holder or 'another worker'}: this trainer stops and leaves it"
        )


class Heartbeat:
    """Refreshes the run's heartbeat from a background thread while it trains."""

    def __init__(self, recorder: Recorder, seconds: float = HEARTBEAT_SECONDS) -> None:
        self.recorder, self.seconds, self.stop = recorder, seconds, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")

    def _beat(self) -> None:
        while not self.stop.wait(self.seconds):
            try:
                self.recorder.heartbeat()
            except Exception:  # a busy or unreachable database must not stop training
                continue

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
