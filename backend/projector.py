"""The projector worker: fills the Projection table with every recorded epoch's 2-D frames.

It is the only writer of projections. Each pass plans from cheap key-only queries, then computes
what is missing or stale, running runs first (newest first), PCA before UMAP.

- Input hashes. Each frame stores a hash of what it was computed from: the algorithm version,
  the settings, the run and the epochs that determine it (UMAP: every epoch up to this one, since
  each frame starts from the one before; PCA: this epoch and the epochs the basis was fitted on).
  Snapshots are written once, whole, by the trainer, so (run, epoch) names their content. A frame
  whose stored hash equals the planned one is never recomputed, failed frames included.
- PCA of a run still training: the basis is fitted on the first 2^k recorded epochs (the largest
  power of two recorded so far) and applied to every epoch; when the count reaches the next
  power of two, and once more when the run ends (fit on all epochs), every PCA frame of the run
  is recomputed and rewritten in one transaction. A reader thus always sees one basis per run,
  and rewrites cost O(epochs) over a run's life.
- UMAP frames are computed in epoch order, each written as soon as it exists.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only, sessionmaker

from backend import projection
from backend.projection import DEFAULT_SETTINGS, METHODS, Frame, ProjectionError, ProjectionSettings
from store import EmbeddingSnapshot, Projection, Run, RunStatus
from store.models import FINISHED, utcnow

RUN_FRAME = "run"
UMAP_FRAMES_PER_JOB = 8
MAX_BACKOFF_SECONDS = 60.0

logger = logging.getLogger("centerlens.projector")


@dataclass(frozen=True)
class FrameReport:
    """What the worker just stored, for progress output and live events."""

    run_id: int
    epoch: int
    method: str
    status: str
    seconds: float
    trustworthiness: float | None
    error: str | None


@dataclass(frozen=True)
class _Job:
    run_id: int
    method: str
    epochs: list[int]
    pending: list[int]
    fit_epochs: list[int]
    hashes: dict[int, str]

    def frame_key(self) -> tuple[ColumnElement[bool], ...]:
        """The WHERE terms selecting this job's Projection rows."""
        run, method = Projection.run_id == self.run_id, Projection.method == self.method
        return run, method, Projection.frame == RUN_FRAME


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
        return FrameReport(job.run_id, self.epoch, job.method, self.status, self.seconds, trust, self.error)


def pca_fit_epochs(epochs: Sequence[int], finished: bool) -> list[int]:
    """Epochs the run's PCA basis is fitted on: all once finished, else the first 2^k recorded."""
    if finished or not epochs:
        return list(epochs)
    return list(epochs[: 1 << (len(epochs).bit_length() - 1)])


def input_hashes(
    method: str, run_id: int, epochs: Sequence[int], fit_epochs: Sequence[int], settings: ProjectionSettings
) -> dict[int, str]:
    """The input hash of every epoch's frame (see the module docstring)."""
    header = {"version": projection.ALGORITHM_VERSION, "method": method, "run": run_id, **asdict(settings)}
    base = json.dumps(header, sort_keys=True)
    if method == "pca":
        fitted = f"{base}|fit:{','.join(map(str, fit_epochs))}"
        return {epoch: hashlib.sha256(f"{fitted}|epoch:{epoch}".encode()).hexdigest() for epoch in epochs}
    hashes, chain = {}, hashlib.sha256(base.encode()).hexdigest()
    for epoch in epochs:
        chain = hashes[epoch] = hashlib.sha256(f"{chain}|epoch:{epoch}".encode()).hexdigest()
    return hashes


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


def _snapshot(session: Session, run_id: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's probe features and class centers (the snapshot's other arrays stay unread)."""
    query = select(EmbeddingSnapshot.probe_features, EmbeddingSnapshot.class_centers).where(
        EmbeddingSnapshot.run_id == run_id, EmbeddingSnapshot.epoch == epoch
    )
    features, centers = session.execute(query).one()
    return features, centers


class ProjectorWorker:
    """Computes and stores the missing or stale frames of every run (cheap to construct)."""

    def __init__(
        self, sessions: sessionmaker[Session], methods: Sequence[str] = METHODS,
        settings: ProjectionSettings = DEFAULT_SETTINGS, on_frame: Callable[[FrameReport], None] | None = None
    ) -> None:
        unknown = set(methods) - set(METHODS)
        if unknown or not methods:
            raise ValueError(f"projection methods must be among {METHODS}, got {list(methods)}")
        self.sessions = sessions
        self.methods = tuple(methods)
        self.settings = settings
        self.on_frame = on_frame
        self._warm = False

    def warm_up(self) -> None:
        """Pay the one-off imports and numba's UMAP compilation now (once per worker)."""
        if self._warm:
            return
        if "umap" in self.methods:
            logger.info("compiling UMAP (numba, once per process)...")
        start = time.perf_counter()
        projection.warm_up(self.methods, self.settings)
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
        """Every (run, method) with frames to compute, most urgent first."""
        epochs: dict[int, list[int]] = defaultdict(list)
        keys = (EmbeddingSnapshot.run_id, EmbeddingSnapshot.epoch)
        for run_id, epoch in session.execute(select(*keys).order_by(*keys)):
            epochs[run_id].append(epoch)
        runs = session.execute(select(Run.id, Run.status).where(Run.id.in_(list(epochs))))
        statuses = {run_id: status for run_id, status in runs}
        frames = select(Projection.run_id, Projection.method, Projection.epoch, Projection.input_hash)
        frames = frames.where(Projection.frame == RUN_FRAME, Projection.method.in_(self.methods))
        stored: dict[tuple[int, str], dict[int, str | None]] = defaultdict(dict)
        for run_id, method, epoch, digest in session.execute(frames):
            stored[run_id, method][epoch] = digest
        jobs = []
        for run_id in sorted(statuses, key=lambda run: (statuses[run] in FINISHED, -run)):
            finished = statuses[run_id] in FINISHED
            for method in self.methods:
                fit = pca_fit_epochs(epochs[run_id], finished) if method == "pca" else []
                hashes = input_hashes(method, run_id, epochs[run_id], fit, self.settings)
                have = stored[run_id, method]
                pending = [epoch for epoch, digest in hashes.items() if have.get(epoch) != digest]
                if pending:
                    jobs.append(_Job(run_id, method, epochs[run_id], pending, fit, hashes))
        return jobs

    def _run_job(self, job: _Job, stop: threading.Event | None) -> int:
        if job.method == "pca":
            return self._store(job, self._pca_results(job))
        stored = 0
        previous = self._previous_points(job, job.pending[0])
        for epoch in job.pending[:UMAP_FRAMES_PER_JOB]:
            if stop is not None and stop.is_set():
                break
            with self.sessions() as session:
                features, centers = _snapshot(session, job.run_id, epoch)
            frame = partial(projection.umap_frame, features, centers, previous, self.settings)
            result = _compute(epoch, frame)
            if not self._store(job, [result]):
                break
            stored += 1
            previous = result.frame.points if result.frame is not None else None
        return stored

    def _pca_results(self, job: _Job) -> list[_Result]:
        """All pending PCA frames of a run (one basis), to be stored together."""
        try:
            fit_features = (features for features, _ in self._snapshots(job.run_id, job.fit_epochs))
            basis = projection.fit_pca(fit_features)
        except ProjectionError as error:
            return [_Result(epoch, None, str(error), 0.0) for epoch in job.pending]
        results = []
        previous = self._previous_points(job, job.pending[0])
        for epoch, (features, centers) in zip(job.pending, self._snapshots(job.run_id, job.pending)):
            frame = partial(projection.pca_frame, basis, features, centers, previous, self.settings)
            result = _compute(epoch, frame)
            previous = result.frame.points if result.frame is not None else None
            results.append(result)
        return results

    def _snapshots(self, run_id: int, epochs: Sequence[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Probe features and class centers of each epoch, read one epoch at a time."""
        with self.sessions() as session:
            for epoch in epochs:
                yield _snapshot(session, run_id, epoch)

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
                        run_id=job.run_id, epoch=result.epoch, method=job.method, frame=RUN_FRAME
                    )
                    for column, value in result.columns(job.hashes[result.epoch]).items():
                        setattr(row, column, value)
                    session.add(row)
        except IntegrityError:
            logger.warning("run %s %s: frames %s stored by another projector", job.run_id, job.method, epochs)
            return 0
        if self.on_frame is not None:
            for result in results:
                self.on_frame(result.report(job))
        return len(results)
