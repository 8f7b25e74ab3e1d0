"""The projector worker: fills the Projection table with every recorded epoch's 2-D frames.

It is the only writer of projections. Each pass plans from cheap key-only queries, then computes
what is missing or stale, running runs first (newest first), projections in registry order
(``backend.projections``: PCA before UMAP).

- Input hashes. Each frame stores a hash of what it was computed from (``Projection.input_hashes``:
  the algorithm version, the settings, the run and the epochs that determine it). Snapshots are
  written once, whole, by the trainer, so (run, epoch) names their content. A frame whose stored
  hash equals the planned one is never recomputed, failed frames included.
- A projection with a fit shared by the run (PCA's basis, fitted on the first 2^k recorded epochs
  while the run trains, on all of them once it ends): when its fit epochs change, every frame's
  hash changes, and all of the run's frames are recomputed and rewritten in one transaction. A
  reader thus always sees one fit per run.
- A projection without a fit (UMAP): frames are computed in epoch order, each from the one
  before, and each is written as soon as it exists.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only, sessionmaker

from backend import projections
from backend.projections import (
    DEFAULT_SETTINGS,
    PROJECTIONS,
    RUN_FRAME,
    Frame,
    ProjectionError,
    ProjectionSettings,
    get_projection,
)
from store import EmbeddingSnapshot, Projection, Run
from store.models import FINISHED, utcnow

# frames of a projection without a fit computed before the worker plans again (a live run is not
# starved by a backlog)
CHAINED_FRAMES_PER_JOB = 8
MAX_BACKOFF_SECONDS = 60.0

logger = logging.getLogger("centerlens.projector")


@dataclass(frozen=True)
class FrameReport:
    """What the worker just stored, for progress output and live events."""

    run_id: int
    epoch: int
    projection: str
    status: str
    seconds: float
    trustworthiness: float | None
    error: str | None


@dataclass(frozen=True)
class _Job:
    run_id: int
    projection: projections.Projection
    epochs: list[int]
    pending: list[int]
    fit_epochs: list[int]
    hashes: dict[int, str]

    def frame_key(self) -> tuple[ColumnElement[bool], ...]:
        """The WHERE terms selecting this job's Projection rows."""
        run, name = Projection.run_id == self.run_id, Projection.projection == self.projection.name
        return run, name, Projection.frame == RUN_FRAME


@dataclass(frozen=True)
class _Result:
    epoch: int
    frame: Frame | None
    error: str | None
    seconds: float

    @property
    def status(self) -> str:
        """``ok`` or ``failed``."""
        return "failed" if self.frame is None else "ok"

    def columns(self, input_hash: str) -> dict[str, Any]:
        """The Projection row's values for this frame (a failed frame's layout columns are null)."""
        layout = {field.name: getattr(self.frame, field.name, None) for field in fields(Frame)}
        return {**layout, "status": self.status, "error": self.error, "seconds": self.seconds,
                "input_hash": input_hash, "created_at": utcnow()}

    def report(self, job: _Job) -> FrameReport:
        """The progress record of this frame."""
        trust = getattr(self.frame, "trustworthiness", None)
        return FrameReport(job.run_id, self.epoch, job.projection.name, self.status, self.seconds, trust,
                           self.error)


def _compute(epoch: int, compute: Callable[[], Frame]) -> _Result:
    """Run one frame's computation; a failure becomes the frame's one-line reason."""
    start = time.perf_counter()
    try:
        return _Result(epoch, compute(), None, time.perf_counter() - start)
    except ProjectionError as error:
        return _Result(epoch, None, str(error), time.perf_counter() - start)
    except Exception as error:  # a numerical failure inside a library must not stop the worker
        logger.exception("frame of epoch %s failed unexpectedly", epoch)
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        return _Result(epoch, None, reason, time.perf_counter() - start)


class ProjectorWorker:
    """Computes and stores the missing or stale frames of every run (cheap to construct).

    ``projections``: names of registered projections to compute (default: every registered one).
    """

    def __init__(
        self, sessions: sessionmaker[Session], projections: Sequence[str] | None = None,
        settings: ProjectionSettings = DEFAULT_SETTINGS, on_frame: Callable[[FrameReport], None] | None = None
    ) -> None:
        names = list(PROJECTIONS) if projections is None else list(projections)
        if not names:
            raise ValueError(f"name one or more projections (choose from {', '.join(PROJECTIONS)})")
        self.sessions = sessions
        self.projections = tuple(get_projection(name, settings) for name in dict.fromkeys(names))
        self.on_frame = on_frame
        self._warm = False

    def warm_up(self) -> None:
        """Pay each projection's one-off imports and compilation now (once per worker)."""
        if self._warm:
            return
        start = time.perf_counter()
        for projection in self.projections:
            projection.warm_up()
        self._warm = True
        logger.info("projector ready in %.1f s", time.perf_counter() - start)

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Compute and store every missing or stale frame; returns how many frames were stored.

        BLAS runs on one thread meanwhile (process-wide): on a small machine shared with a
        trainer, multi-threaded OpenBLAS was 3-10x slower than one thread for these sizes.
        """
        from threadpoolctl import threadpool_limits

        stored = 0
        with threadpool_limits(limits=1, user_api="blas"):
            while stop is None or not stop.is_set():
                with self.sessions() as session:
                    jobs = self._plan(session)
                if not jobs:
                    break
                self.warm_up()
                done = self._run_job(jobs[0], stop)
                stored += done
                if not done:
                    break
        return stored

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Warm up, then poll for new epochs until ``stop`` is set; failed passes are logged and retried."""
        self.warm_up()
        failures = 0
        while not stop.is_set():
            try:
                self.run_once(stop)
                failures = 0
            except Exception:  # e.g. a locked or not yet created database: retry later
                failures += 1
                logger.exception("projector pass failed (retrying)")
            stop.wait(min(poll_seconds * 2 ** min(failures, 10), max(poll_seconds, MAX_BACKOFF_SECONDS)))

    def _plan(self, session: Session) -> list[_Job]:
        """Every (run, projection) with frames to compute, most urgent first."""
        epochs: dict[int, list[int]] = defaultdict(list)
        keys = (EmbeddingSnapshot.run_id, EmbeddingSnapshot.epoch)
        for run_id, epoch in session.execute(select(*keys).order_by(*keys)):
            epochs[run_id].append(epoch)
        runs = session.execute(select(Run.id, Run.status).where(Run.id.in_(list(epochs))))
        statuses = {run_id: status for run_id, status in runs}
        names = [projection.name for projection in self.projections]
        frames = select(Projection.run_id, Projection.projection, Projection.epoch, Projection.input_hash)
        frames = frames.where(Projection.frame == RUN_FRAME, Projection.projection.in_(names))
        stored: dict[tuple[int, str], dict[int, str | None]] = defaultdict(dict)
        for run_id, name, epoch, digest in session.execute(frames):
            stored[run_id, name][epoch] = digest
        jobs = []
        for run_id in sorted(statuses, key=lambda run: (statuses[run] in FINISHED, -run)):
            finished = statuses[run_id] in FINISHED
            for projection in self.projections:
                hashes = projection.input_hashes(run_id, epochs[run_id], finished)
                have = stored[run_id, projection.name]
                pending = [epoch for epoch, digest in hashes.items() if have.get(epoch) != digest]
                if pending:
                    fit = projection.fit_epochs(epochs[run_id], finished)
                    jobs.append(_Job(run_id, projection, epochs[run_id], pending, fit, hashes))
        return jobs

    def _run_job(self, job: _Job, stop: threading.Event | None) -> int:
        """A fitted projection's pending frames, stored together; else up to a few chained frames."""
        if job.fit_epochs:
            return self._store(job, list(self._results(job, job.pending)))
        stored = 0
        for result in self._results(job, job.pending[:CHAINED_FRAMES_PER_JOB]):
            if not self._store(job, [result]):
                break
            stored += 1
            if stop is not None and stop.is_set():
                break
        return stored

    def _results(self, job: _Job, epochs: Sequence[int]) -> Iterator[_Result]:
        """Frames of ``epochs`` in order, each with the one before as ``previous`` (lazily)."""
        fitted = None
        if job.fit_epochs:
            try:
                fitted = job.projection.fit(self._snapshot(job.run_id, epoch)[0] for epoch in job.fit_epochs)
            except ProjectionError as error:
                yield from (_Result(epoch, None, str(error), 0.0) for epoch in epochs)
                return
        previous = self._previous_points(job, epochs[0])
        for epoch in epochs:
            features, centers = self._snapshot(job.run_id, epoch)
            result = _compute(epoch, partial(job.projection.frame, features, centers, previous, fitted))
            previous = result.frame.points if result.frame is not None else None
            yield result

    def _snapshot(self, run_id: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """One epoch's probe features and class centers (the snapshot's other arrays stay unread)."""
        query = select(EmbeddingSnapshot.probe_features, EmbeddingSnapshot.class_centers).where(
            EmbeddingSnapshot.run_id == run_id, EmbeddingSnapshot.epoch == epoch
        )
        with self.sessions() as session:
            features, centers = session.execute(query).one()
        return features, centers

    def _previous_points(self, job: _Job, epoch: int) -> np.ndarray | None:
        """The stored layout of the epoch before ``epoch`` when it is current and ok, else None."""
        position = job.epochs.index(epoch)
        if position == 0:
            return None
        before = job.epochs[position - 1]
        current = (Projection.status == "ok", Projection.input_hash == job.hashes[before])
        query = select(Projection.points).where(*job.frame_key(), Projection.epoch == before, *current)
        with self.sessions() as session:
            return session.scalar(query)

    def _store(self, job: _Job, results: list[_Result]) -> int:
        """Write frames in one transaction (insert or replace); 0 if another projector got there first."""
        epochs = [result.epoch for result in results]
        try:
            with self.sessions.begin() as session:
                query = select(Projection).options(load_only(Projection.id, Projection.epoch))
                query = query.where(*job.frame_key(), Projection.epoch.in_(epochs))
                rows = {row.epoch: row for row in session.scalars(query)}
                for result in results:
                    row = rows.get(result.epoch) or Projection(
                        run_id=job.run_id, epoch=result.epoch, projection=job.projection.name, frame=RUN_FRAME
                    )
                    for column, value in result.columns(job.hashes[result.epoch]).items():
                        setattr(row, column, value)
                    session.add(row)
        except IntegrityError:
            name = job.projection.name
            logger.warning("run %s %s: frames %s stored by another projector", job.run_id, name, epochs)
            return 0
        if self.on_frame is not None:
            for result in results:
                self.on_frame(result.report(job))
        return len(results)
