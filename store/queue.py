"""The run queue: queue runs (one or a suite), claim the oldest atomically, request cancellation.

A claim is one guarded statement on SQLite (writes are serialised, and the ``status = 'queued'``
guard makes a second claimant update nothing) and ``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two workers never train the same run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from store.models import Run, RunStatus, utcnow
from store.runconfig import ConfigError, TrainConfig

FINISHED = {RunStatus.completed.value, RunStatus.failed.value, RunStatus.cancelled.value}


class QueueError(ValueError):
    """A queue request that cannot be carried out (duplicate suite, unknown or finished run)."""


def suite_key(name: str, configs: Sequence[TrainConfig]) -> str:
    """``name:hash`` of a suite's resolved configs: identical suites get identical keys."""
    canonical = json.dumps([c.to_dict() for c in configs], sort_keys=True)
    return f"{name}:{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


def queue_runs(
    session: Session, configs: Sequence[TrainConfig], suite: str | None = None, force: bool = False
) -> list[Run]:
    """Insert queued runs; a suite already queued before is refused unless ``force``."""
    key = suite_key(suite, configs) if suite else None
    if key and not force and session.scalar(select(Run.id).where(Run.suite == key).limit(1)):
        raise QueueError(
            f"suite {suite!r} with these exact runs is already queued (use --force to queue it again)"
        )
    runs = [
        Run(
            name=config.name,
            method=config.method,
            dataset=config.dataset,
            model=config.model,
            config=config.to_dict(),
            seed=config.seed,
            status=RunStatus.queued.value,
            epochs_planned=config.epochs,
            suite=key,
        )
        for config in configs
    ]
    session.add_all(runs)
    session.flush()
    return runs


def claim_next_run(sessions: sessionmaker[Session], worker: str) -> int | None:
    """Mark the oldest queued run as running for ``worker`` and return its id (None if none)."""
    now = utcnow()
    claimed = {"status": RunStatus.running.value, "worker": worker, "started_at": now, "heartbeat_at": now}
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            run_id = session.scalar(
                select(Run.id)
                .where(Run.status == RunStatus.queued.value)
                .order_by(Run.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if run_id is not None:
                session.execute(update(Run).where(Run.id == run_id).values(**claimed))
            return run_id
        oldest = select(Run.id).where(Run.status == RunStatus.queued.value).order_by(Run.id).limit(1)
        return session.scalar(
            update(Run)
            .where(Run.id == oldest.scalar_subquery(), Run.status == RunStatus.queued.value)
            .values(**claimed)
            .returning(Run.id)
        )


def request_cancel(session: Session, run_id: int) -> str:
    """Cancel a queued run at once, or ask a running one to stop after its current epoch."""
    run = session.get(Run, run_id)
    if run is None:
        raise QueueError(f"no run with id {run_id}")
    if run.status in FINISHED:
        raise QueueError(f"run {run_id} is already {run.status}")
    if run.status == RunStatus.queued.value:
        run.status, run.finished_at, run.error = (
            RunStatus.cancelled.value,
            utcnow(),
            "cancelled before it started",
        )
    else:
        run.cancel_requested = True
    return run.status


def config_of(run: Run) -> TrainConfig:
    """The stored config of a queued run, validated again (it may predate an upgrade)."""
    from store.runconfig import build_config

    try:
        return build_config(dict(run.config))
    except ConfigError as error:
        raise ConfigError(f"run {run.id}: {error}") from error
