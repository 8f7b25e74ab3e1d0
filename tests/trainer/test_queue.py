"""The run queue: suites, atomic claims by concurrent workers, cancellation within an epoch."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store import Epoch, Run, catalog, open_sessions
from store.queue import QueueError, claim_next_run, queue_runs, request_cancel
from store.runconfig import TrainConfig
from tests.conftest import ROOT, centerlens
from trainer.datasets import DATASETS
from trainer.methods import METHODS
from trainer.models import MODELS

ROOT_CONFIGS = ROOT / "configs"


def test_every_catalog_entry_has_an_implementation_and_back() -> None:
    assert catalog.DATASETS.names() == tuple(DATASETS)
    assert catalog.MODELS.names() == tuple(MODELS)
    assert catalog.METHODS.names() == tuple(METHODS)


def test_concurrent_claims_never_hand_out_a_run_twice(db_url: str) -> None:
    sessions = open_sessions(db_url)
    with sessions.begin() as session:
        queue_runs(session, [TrainConfig(name=f"r{i}") for i in range(40)])
    claimed: list[int] = []

    def claim_all(worker: str) -> None:
        while (run_id := claim_next_run(sessions, worker)) is not None:
            claimed.append(run_id)

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == list(range(1, 41))
    with sessions() as session:
        assert set(session.scalars(select(Run.status))) == {"running"}


def test_suite_is_refused_twice_unless_forced(db_url: str) -> None:
    first = centerlens("queue", str(ROOT_CONFIGS / "demo.yaml"), "--db", db_url)
    assert "queued 2 run(s) of suite 'demo'" in first.stdout
    again = centerlens("queue", str(ROOT_CONFIGS / "demo.yaml"), "--db", db_url, check=False)
    assert again.returncode == 2 and "already queued" in again.stderr
    centerlens("queue", str(ROOT_CONFIGS / "demo.yaml"), "--db", db_url, "--force")
    with open_sessions(db_url)() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 4


def test_every_experiment_file_is_a_valid_suite() -> None:
    from store.suite import load_suite

    for path in sorted(ROOT_CONFIGS.glob("*.yaml")):
        name, configs = load_suite(path)
        assert name and configs, path


def test_bad_suite_file_is_one_line_error(tmp_path: Path, db_url: str) -> None:
    suite = tmp_path / "bad.yaml"
    suite.write_text("runs:\n  - {method: telepathy}\n")
    result = centerlens("queue", str(suite), "--db", db_url, check=False)
    assert result.returncode == 2 and "unknown method 'telepathy'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cancel_queued_and_finished_runs(db_url: str) -> None:
    sessions = open_sessions(db_url)
    with sessions.begin() as session:
        queue_runs(session, [TrainConfig()])
    with sessions.begin() as session:
        assert request_cancel(session, 1) == "cancelled"
    with sessions.begin() as session, pytest.raises(QueueError, match="already cancelled"):
        request_cancel(session, 1)
    with sessions.begin() as session, pytest.raises(QueueError, match="no run with id 9"):
        request_cancel(session, 9)


@pytest.mark.slow
def test_two_worker_processes_train_each_run_once(db_url: str) -> None:
    sessions = open_sessions(db_url)
    with sessions.begin() as session:
        queue_runs(session, [TrainConfig(name=f"r{i}", epochs=1, probe_per_class=2) for i in range(4)])
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "centerlens.cli", "worker", "--db", db_url, "--exit-when-empty"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    claims = Counter(
        line.split()[-1] for out in outputs for line in out.splitlines() if " claimed run " in line
    )
    assert sorted(claims) == ["1", "2", "3", "4"] and set(claims.values()) == {1}
    with sessions() as session:
        assert set(session.scalars(select(Run.status))) == {"completed"}
        assert session.scalar(select(func.count()).select_from(Epoch)) == 4


@pytest.mark.slow
def test_cancel_reaches_a_running_worker_within_one_epoch(db_url: str) -> None:
    sessions = open_sessions(db_url)
    with sessions.begin() as session:
        queue_runs(session, [TrainConfig(epochs=500, batch_size=32)])
    worker = subprocess.Popen(
        [sys.executable, "-m", "centerlens.cli", "worker", "--db", db_url, "--exit-when-empty"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    with sessions() as session:
        while time.monotonic() < deadline and not session.scalar(select(func.count()).select_from(Epoch)):
            time.sleep(0.2)
    epochs_at_cancel = centerlens("runs", "--db", db_url).stdout
    centerlens("queue", "--cancel", "1", "--db", db_url)
    with sessions() as session:
        seen = session.scalar(select(func.count()).select_from(Epoch))
    output = worker.communicate(timeout=120)[0]
    assert worker.returncode == 0, output
    with sessions() as session:
        run = session.get(Run, 1)
        assert run.status == "cancelled", epochs_at_cancel
        assert session.scalar(select(func.count()).select_from(Epoch)) <= seen + 1


def test_worker_seeds_its_suite_only_on_an_empty_database(db_url: str) -> None:
    suite = str(ROOT_CONFIGS / "demo.yaml")
    sessions = open_sessions(db_url)
    from trainer.worker import seed_suite_if_empty

    seed_suite_if_empty(sessions, suite, lambda _: None)
    seed_suite_if_empty(sessions, suite, lambda _: None)
    with sessions() as session:
        assert session.scalars(select(Run.name).order_by(Run.id)).all() == ["ce-digits", "csd-digits"]
