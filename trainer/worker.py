"""``centerlens worker``: claim queued runs one after another and train them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import Run, RunStatus
from store.models import STALE_AFTER_SECONDS
from store.queue import claim_next_run, config_of, queue_runs, worker_name
from store.suite import load_suite
from trainer.config import ConfigError
from trainer.recorder import Recorder



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


def train_claimed(sessions: sessionmaker[Session], run_id: int, db: str, log: Callable[[str], None]) -> None:
    """Train (or resume) a claimed run; a bad config or a crash marks it failed and the worker goes on."""
    from trainer.loop import prepare, train

    recorder = Recorder(sessions)
    recorder.run_id = run_id
    try:
        with sessions() as session:
            config = config_of(session.get(Run, run_id))
        config.db = db
        setup = prepare(config)
    except ConfigError as error:
        recorder.finish(RunStatus.failed, str(error))
        log(f"run {run_id} failed: {error}")
        return
    try:
        train(setup, recorder, log=log, run_id=run_id, resume=True)
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
) -> int:
    """Train queued (and stale) runs until ``stop`` is set or the queue is empty; returns runs trained."""
    name, trained = worker_name(), 0
    log(f"worker {name} waiting for queued runs")
    while not stop.is_set():
        run_id = claim_next_run(sessions, name, stale_after)
        if run_id is None:
            if exit_when_empty:
                break
            stop.wait(poll_seconds)
            continue
        log(f"worker {name} claimed run {run_id}")
        started = time.monotonic()
        train_claimed(sessions, run_id, db, log)
        trained += 1
        log(f"run {run_id} done in {time.monotonic() - started:.0f} s")
    return trained
