"""The run queue: queue runs (one or a suite), claim the oldest atomically, request cancellation.

A claim is one guarded statement on SQLite (writes are serialised, and the ``status = 'queued'``
guard makes a second claimant update nothing) and ``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two workers never train the same run. Each claim stores a fresh token on the run;
the trainer's writes carry it, so once a run is taken over the old trainer's writes are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta, timezone

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from store.models import FINISHED, Run, RunStatus, utcnow
from store.runconfig import ConfigError, TrainConfig
from store.suite import group_key

MAX_UNFORCED_RUNS = 500  # a suite expanding to more runs is queued only with force


# the config key and value marking a run a user's own loop records (``centerlens.Recorder``): no worker
# can train it, so none claims or takes it over
RECORDED_BY = "recorded_by"
OWN_LOOP = "centerlens.Recorder"


class QueueError(ValueError):
    """A queue request that cannot be carried out (duplicate suite, unknown or finished run)."""


def worker_name() -> str:
    """host:pid of this process, recorded on the runs it trains."""
    return f"{socket.gethostname()}:{os.getpid()}"


def new_claim() -> str:
    """A fresh claim token: the run's ``claim_token`` while this claimant owns it."""
    return uuid.uuid4().hex


def known_dead(worker: str | None) -> bool:
    """True when ``worker`` names a process on this host that no longer exists."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def suite_key(name: str, configs: Sequence[TrainConfig]) -> str:
    """``name:hash`` of a suite's resolved configs: identical suites get identical keys."""
    canonical = json.dumps([c.to_dict() for c in configs], sort_keys=True)
    return f"{name}:{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


def queue_runs(
    session: Session, configs: Sequence[TrainConfig], suite: str | None = None, force: bool = False
) -> list[Run]:
    """Insert queued runs, each tagged with its suite (study) and group (``store.suite.group_key``).

    Refused unless ``force``: a suite already queued before, and a suite of more than
    :data:`MAX_UNFORCED_RUNS` runs (a grid that is larger than meant, most likely).
    """
    key = suite_key(suite, configs) if suite else None
    if suite and not force and len(configs) > MAX_UNFORCED_RUNS:
        raise QueueError(
            f"suite {suite!r} expands to {len(configs)} runs, more than {MAX_UNFORCED_RUNS}: "
            "use --force to queue them all"
        )
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
            run_group=group_key(config.to_dict()),
        )
        for config in configs
    ]
    session.add_all(runs)
    session.flush()
    return runs


def claimable(stale_after: float | None):
    """Queued runs, and running runs whose trainer stopped beating for ``stale_after`` seconds; never a
    run a user's own loop records."""
    condition = Run.status == RunStatus.queued.value
    if stale_after is not None:
        cutoff = utcnow() - timedelta(seconds=stale_after)
        condition = or_(condition, and_(Run.status == RunStatus.running.value, Run.heartbeat_at < cutoff))
    return and_(condition, Run.config[RECORDED_BY].as_string().is_(None))


def claim_next_run(
    sessions: sessionmaker[Session],
    worker: str,
    stale_after: float | None = None,
    claim: str | None = None,
) -> int | None:
    """Take the oldest claimable run for ``worker`` (marking it running) and return its id, or None.

    With ``stale_after``, a running run whose heartbeat is older than that many seconds (its
    worker died) is claimable too; the new worker resumes it from its checkpoint. ``claim``
    (default: a new token) becomes the run's claim token, which the trainer's writes must carry.
    """
    claimed = {
        "status": RunStatus.running.value,
        "worker": worker,
        "heartbeat_at": utcnow(),
        "claim_token": claim or new_claim(),
    }
    condition = claimable(stale_after)
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            run_id = session.scalar(
                select(Run.id).where(condition).order_by(Run.id).limit(1).with_for_update(skip_locked=True)
            )
            if run_id is not None:
                session.execute(update(Run).where(Run.id == run_id).values(**claimed))
            return run_id
        oldest = select(Run.id).where(condition).order_by(Run.id).limit(1)
        return session.scalar(
            update(Run)
            .where(Run.id == oldest.scalar_subquery(), condition)
            .values(**claimed)
            .returning(Run.id)
        )


def claim_run(
    sessions: sessionmaker[Session],
    run_id: int,
    worker: str,
    stale_after: float,
    claim: str | None = None,
    own_loop: bool = False,
) -> None:
    """Take one given run to resume it; refused while another trainer is alive on it or it completed,
    and unless ``own_loop`` (``centerlens.Recorder``) for a run a user's own loop records."""
    with sessions.begin() as session:
        run = session.get(Run, run_id, with_for_update=True)
        if run is None:
            raise QueueError(f"no run with id {run_id}")
        if (run.config or {}).get(RECORDED_BY) == OWN_LOOP and not own_loop:
            raise QueueError(
                f"run {run_id} was recorded by its own training loop: resume it there with "
                f"centerlens.Recorder(..., resume={run_id})"
            )
        if run.status == RunStatus.completed.value:
            raise QueueError(f"run {run_id} is already completed")
        heartbeat = run.heartbeat_at
        if heartbeat is not None and heartbeat.tzinfo is None:  # SQLite returns naive UTC
            heartbeat = heartbeat.replace(tzinfo=timezone.utc)
        recent = heartbeat is not None and heartbeat >= utcnow() - timedelta(seconds=stale_after)
        alive = recent and not known_dead(run.worker)
        if run.status == RunStatus.running.value and alive:
            raise QueueError(f"run {run_id} is being trained by {run.worker or 'another trainer'}")
        run.status, run.worker, run.heartbeat_at = RunStatus.running.value, worker, utcnow()
        run.cancel_requested, run.finished_at, run.claim_token = False, None, claim or new_claim()


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
