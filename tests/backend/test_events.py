"""Server-sent events: what the watcher reports, a trainer's epoch reaching a subscriber, disconnects."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.routes.events import StoreWatcher
from store import Epoch, Projection, Run, create_db_engine, session_factory, upgrade_database
from store.models import utcnow
from tests.backend.api_support import live_server, make_app
from tests.conftest import ROOT


@pytest.fixture
def empty_db(db_url: str) -> str:
    """An empty database with the newest schema (the server refuses to create one)."""
    engine = create_db_engine(db_url)
    upgrade_database(engine)
    engine.dispose()
    return db_url


def _epoch(run_id: int, epoch: int) -> Epoch:
    values = dict.fromkeys(
        ("train_loss", "train_accuracy", "test_top1", "test_top5", "test_nll", "test_ece",
         "within_class_variance", "between_class_variance", "variance_ratio", "nc1", "cdnv", "nc2_equinorm",
         "nc2_equiangular", "nc2_max_angle", "nc4_agreement", "learning_rate", "epoch_seconds",
         "images_per_second"), 0.5)
    return Epoch(run_id=run_id, epoch=epoch, **values)


def test_watcher_reports_new_runs_epochs_frames_rewrites_and_status_changes(empty_db: str) -> None:
    engine = create_db_engine(empty_db)
    sessions = session_factory(engine)
    watcher = StoreWatcher(sessions)
    assert watcher.poll() == []
    with sessions.begin() as session:
        run = Run(name="r", method="ce", dataset="digits", model="small_cnn", config={}, seed=0,
                  status="running", epochs_planned=2)
        session.add(run)
        session.flush()
        session.add(_epoch(run.id, 1))
        session.add(Projection(run_id=run.id, epoch=1, projection="pca", points=np.zeros((3, 2), np.float32),
                               centers=np.zeros((2, 2), np.float32)))
    events = [(event.event, event.data) for event in watcher.poll()]
    assert events == [("run", {"run_id": run.id, "status": "running"}),
                      ("epoch", {"run_id": run.id, "epoch": 1}),
                      ("frame", {"run_id": run.id, "epoch": 1, "projection": "pca"})]
    assert watcher.poll() == []
    with sessions.begin() as session:
        session.get(Run, run.id).status = "completed"
        frame = session.scalars(select(Projection)).one()
        frame.points, frame.created_at = np.ones((3, 2), np.float32), utcnow()
    assert [(event.event, event.data) for event in watcher.poll()] == [
        ("run", {"run_id": run.id, "status": "completed"}),
        ("frame", {"run_id": run.id, "epoch": 1, "projection": "pca"})]
    engine.dispose()


def _wait_for_no_streams(app: FastAPI, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while app.state.event_streams and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.state.event_streams == 0, "the event generator outlived its client"


def test_a_test_client_reads_the_first_event_and_closes(empty_db: str) -> None:
    app = make_app(empty_db)
    with TestClient(app) as client, client.stream("GET", "/api/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        assert next(response.iter_lines()) == ": ping"
    _wait_for_no_streams(app)


def test_a_disconnecting_client_ends_its_generator(empty_db: str) -> None:
    app = make_app(empty_db)
    with live_server(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        with client.stream("GET", "/api/events") as response:
            lines = response.iter_lines()  # kept: dropping the iterator closes the connection
            assert next(lines) == ": ping"
            time.sleep(0.5)
            assert app.state.event_streams == 1
        _wait_for_no_streams(app)


def _events(response: httpx.Response) -> Iterator[tuple[str, dict]]:
    name = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name:
            yield name, json.loads(line.removeprefix("data: "))


@pytest.mark.slow
def test_an_epoch_written_by_a_trainer_process_reaches_a_subscriber(empty_db: str, tmp_path: Path) -> None:
    app = make_app(empty_db)
    command = [sys.executable, "-m", "centerlens.cli", "train", "--dataset", "digits", "--method", "ce",
               "--epochs", "2", "--batch-size", "64", "--db", empty_db,
               "--checkpoint-dir", str(tmp_path / "checkpoints")]
    log = tmp_path / "train.log"
    seen: list[tuple[str, dict]] = []
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        with client.stream("GET", "/api/events") as response, log.open("wb") as output:
            trainer = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 180
            try:
                for event in _events(response):
                    seen.append(event)
                    if event[0] == "epoch" or time.monotonic() > deadline or trainer.poll():
                        break
            finally:
                trainer.kill()
                trainer.wait()
    assert seen and seen[-1] == ("epoch", {"run_id": 1, "epoch": 1}), log.read_text()[-2000:]
    assert seen[0] == ("run", {"run_id": 1, "status": "running"})
