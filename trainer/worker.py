"""``centerlens worker``: claim queued runs one after another and train them.

A worker finds checkpoints from its own settings (``--checkpoint-dir``, else
``$CENTERLENS_CHECKPOINT_DIR``, else next to its database), never from a queued run's config,
which may have come over HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import Run, RunStatus
from store.models import HEARTBEAT_SECONDS, STALE_AFTER_SECONDS
from store.queue import claim_next_run, config_of, new_claim, queue_runs, worker_name
from store.suite import load_suite
from trainer.config import ConfigError
from trainer.recorder import Recorder
from trainer.stopping import ClaimLost, DiskFull

# a live trainer beats every HEARTBEAT_SECONDS: waiting three beats before a takeover leaves room
# for a slow beat (a busy database) without taking a live run
MIN_STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS


def seed_suite_if_empty(
    sessions: sessionmaker[Session], path: str | Path, log: Callable[[str], None]
) -> None:
    """Queue the suite in ``path`` when the database has no runs at all (a first start)."""
    with sessions.begin() as session:
        if session.scalar(select(func.count()).select_from(Run)):
            return
        name, configs = load_suite(path)
        queue_runs(session, configs, suite=name)
    log(f"queued suite {name!r}: {len(configs)} runs")


def train_claimed(
    sessions: sessionmaker[Session],
    run_id: int,
    db: str,
    log: Callable[[str], None],
    checkpoint_dir: str = "",
    claim: str | None = None,
) -> None:
    """Train (or resume) a run claimed with token ``claim``; a bad config or a crash marks it failed.

    A full disk raises DiskFull (every next run would fail the same way); a takeover by another
    worker is logged and leaves the run to it.
    """
    recorder = Recorder(sessions, claim)
    recorder.run_id = run_id
    try:
        _prepare_and_train(recorder, db, checkpoint_dir, log)
    except ClaimLost as error:
        log(f"run {run_id}: {error}")


def _prepare_and_train(recorder: Recorder, db: str, checkpoint_dir: str, log: Callable[[str], None]) -> None:
    from trainer.loop import prepare, train

    run_id = recorder.run_id
    try:
        with recorder.sessions() as session:
            config = config_of(session.get(Run, run_id))
        config.db, config.checkpoint_dir = db, checkpoint_dir
        setup = prepare(config)
    except ConfigError as error:
        recorder.finish(RunStatus.failed, str(error))
        log(f"run {run_id} failed: {error}")
        return
    try:
        train(setup, recorder, log=log, run_id=run_id, resume=True)
    except (ClaimLost, DiskFull):
        raise
    except Exception as error:  # recorded on the run by train(); the worker takes the next one
        log(f"run {run_id} failed: {type(error).__name__}: {error}")


def run_worker(
    sessions: sessionmaker[Session],
    db: str,
    stop: threading.Event,
    exit_when_empty: bool = False,
    poll_seconds: float = 2.0,
    stale_after: float = STALE_AFTER_SECONDS,
    log: Callable[[str], None] = print,
    checkpoint_dir: str = "",
) -> int:
    """Train queued (and stale) runs until ``stop`` is set or the queue is empty; returns runs trained.

    Raises DiskFull when the disk is full, rather than failing every queued run in turn.
    """
    if not poll_seconds > 0 or not stale_after >= MIN_STALE_AFTER_SECONDS:
        raise ValueError(f"poll must be positive and stale_after at least {MIN_STALE_AFTER_SECONDS:g} s")
    name, trained = worker_name(), 0
    log(f"worker {name} waiting for queued runs")
    while not stop.is_set():
        claim = new_claim()
        run_id = claim_next_run(sessions, name, stale_after, claim)
        if run_id is None:
            if exit_when_empty:
                break
            stop.wait(poll_seconds)
            continue
        log(f"worker {name} claimed run {run_id}")
        started = time.monotonic()
        train_claimed(sessions, run_id, db, log, checkpoint_dir, claim)
        trained += 1
        log(f"run {run_id} done in {time.monotonic() - started:.0f} s")
    return trained
