"""A run whose trainer died is stale after STALE_AFTER_SECONDS: the API says so and a worker takes it over."""

from __future__ import annotations

import inspect
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from store import Run, open_sessions
from store.models import STALE_AFTER_SECONDS, utcnow
from store.queue import claim_next_run, queue_runs
from store.runconfig import build_config
from tests.backend.api_support import make_app

# heartbeat ages either side of the threshold, by name of the run
AGES = {"alive": STALE_AFTER_SECONDS - 5, "dead": STALE_AFTER_SECONDS + 5, "beating": 1.0}


def running_runs(db_url: str):
    """Three running runs whose heartbeats are AGES old (ids in AGES order); their sessions."""
    sessions = open_sessions(db_url)
    with sessions.begin() as session:
        queue_runs(session, [build_config({"name": name}) for name in AGES])
        for run in session.scalars(select(Run).order_by(Run.id)):
            run.status, run.worker = "running", "gone-host:1"
            run.heartbeat_at = utcnow() - timedelta(seconds=AGES[run.name])
    return sessions


def stale_flags(db_url: str) -> dict[str, bool]:
    with TestClient(make_app(db_url)) as client:
        runs = client.get("/api/runs").json()
    assert all(run["heartbeat_at"] is not None for run in runs)
    return {run["name"]: run["stale"] for run in runs}


def test_the_api_marks_stale_only_past_the_threshold(db_url: str) -> None:
    running_runs(db_url)
    assert stale_flags(db_url) == {"alive": False, "dead": True, "beating": False}


def test_a_worker_takes_over_exactly_the_stale_run(db_url: str) -> None:
    from trainer.worker import run_worker

    assert inspect.signature(run_worker).parameters["stale_after"].default == STALE_AFTER_SECONDS
    sessions = running_runs(db_url)
    assert claim_next_run(sessions, "new-host:2", STALE_AFTER_SECONDS) == 2
    assert claim_next_run(sessions, "new-host:3", STALE_AFTER_SECONDS) is None
    with sessions() as session:
        runs = {run.name: run for run in session.scalars(select(Run))}
    assert {name: run.worker for name, run in runs.items()} == {
        "alive": "gone-host:1", "dead": "new-host:2", "beating": "gone-host:1"}
    assert all(run.status == "running" for run in runs.values())
    assert stale_flags(db_url) == {"alive": False, "dead": False, "beating": False}
