"""A run whose trainer died is visibly stale in the API (its heartbeat stopped)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from store import Run, create_db_engine, session_factory, upgrade_database
from store.models import utcnow
from store.queue import queue_runs
from store.runconfig import TrainConfig
from tests.backend.api_support import make_app


def test_running_run_without_heartbeat_is_stale(db_url: str) -> None:
    engine = create_db_engine(db_url)
    upgrade_database(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        queue_runs(session, [TrainConfig(name="alive"), TrainConfig(name="dead")])
        for run, age in zip(session.query(Run).order_by(Run.id), (5, 300)):
            run.status, run.heartbeat_at = "running", utcnow() - timedelta(seconds=age)
    with TestClient(make_app(db_url)) as client:
        runs = {run["name"]: run for run in client.get("/api/runs").json()}
    assert runs["alive"]["stale"] is False and runs["dead"]["stale"] is True
    assert runs["dead"]["heartbeat_at"] is not None
