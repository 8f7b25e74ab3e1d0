"""Nothing lost: checkpoints, resume after SIGKILL, takeover of a dead worker's run, failed writes."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from store import Epoch, Run, create_db_engine, open_sessions, session_factory
from store.models import STALE_AFTER_SECONDS, utcnow
from store.queue import queue_runs
from tests.conftest import ROOT, centerlens
from trainer import loop
from trainer.config import TrainConfig
from trainer.recorder import Recorder
from trainer.stopping import DiskFull

EPOCHS = 4
TRAIN = ("--epochs", str(EPOCHS), "--batch-size", "32", "--probe-per-class", "5")


class Killed(BaseException):
    """Stands in for SIGKILL inside one process: nothing after it runs, nothing marks the run."""


def epoch_rows(sessions, run_id: int) -> list[tuple]:
    with sessions() as session:
        rows = session.scalars(select(Epoch).where(Epoch.run_id == run_id).order_by(Epoch.epoch)).all()
        return [(row.epoch, round(row.train_loss, 4), round(row.test_top1, 4)) for row in rows]


def assert_whole(url: str, run_id: int, epochs: int) -> None:
    engine = create_db_engine(url)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    with session_factory(engine)() as session:
        numbers = session.scalars(
            select(Epoch.epoch).where(Epoch.run_id == run_id).order_by(Epoch.epoch)
        ).all()
        assert numbers == list(range(1, epochs + 1))


def popen(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "centerlens.cli", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_epochs(sessions, count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sessions() as session:
                if session.scalar(select(func.count()).select_from(Epoch)) >= count:
                    return
        except OperationalError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no {count} epochs within {timeout} s")


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path, db_url: str) -> None:
    clean = str(tmp_path / "clean.db")
    centerlens("train", *TRAIN, "--db", clean)
    process = popen("train", *TRAIN, "--db", db_url)
    sessions = open_sessions(db_url)
    wait_for_epochs(sessions, 2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    resumed = centerlens("train", "--resume", "1", "--db", db_url)
    assert "resuming run 1 after epoch" in resumed.stdout
    assert_whole(db_url, 1, EPOCHS)
    assert epoch_rows(sessions, 1) == epoch_rows(open_sessions(clean), 1)


def test_death_between_checkpoint_and_transaction_loses_nothing(db_url: str, monkeypatch) -> None:
    sessions = open_sessions(db_url)
    real_write = Recorder.write_epoch

    def dies_before_writing_epoch_2(self, record):
        if record.epoch == 2:
            raise Killed
        return real_write(self, record)

    monkeypatch.setattr(Recorder, "write_epoch", dies_before_writing_epoch_2)
    config = TrainConfig(
        epochs=3,
        batch_size=64,
        probe_per_class=5,
        db=db_url,
        checkpoint_dir=str(ROOT / "artifacts" / f"ckpt-{time.time_ns()}"),
    )
    with pytest.raises(Killed):
        loop.train(loop.prepare(config), Recorder(sessions), log=lambda _: None)
    assert [row[0] for row in epoch_rows(sessions, 1)] == [1]
    monkeypatch.setattr(Recorder, "write_epoch", real_write)
    loop.train(loop.prepare(config), Recorder(sessions), log=lambda _: None, run_id=1, resume=True)
    assert_whole(db_url, 1, 3)


def test_failed_write_marks_the_run_failed_and_keeps_earlier_epochs(db_url: str, monkeypatch) -> None:
    sessions = open_sessions(db_url)
    real_write = Recorder.write_epoch

    def disk_fills_up_in_epoch_2(self, record):
        if record.epoch == 2:
            raise OperationalError("INSERT INTO epochs", {}, Exception("database or disk is full"))
        return real_write(self, record)

    monkeypatch.setattr(Recorder, "write_epoch", disk_fills_up_in_epoch_2)
    config = TrainConfig(epochs=3, batch_size=64, probe_per_class=5, db=db_url, checkpoint_every=0)
    with pytest.raises(DiskFull):
        loop.train(loop.prepare(config), Recorder(sessions), log=lambda _: None)
    with sessions() as session:
        run = session.get(Run, 1)
        assert run.status == "failed" and run.error.startswith("disk full:")
        assert "database or disk is full" in run.error
    assert [row[0] for row in epoch_rows(sessions, 1)] == [1]


@pytest.mark.slow
def test_another_worker_takes_over_a_dead_workers_run(db_url: str) -> None:
    sessions = open_sessions(db_url)
    with sessions.begin() as session:
        queue_runs(session, [TrainConfig(epochs=EPOCHS, batch_size=32, probe_per_class=5)])
    first = popen("worker", "--db", db_url, "--exit-when-empty")
    wait_for_epochs(sessions, 1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    with sessions.begin() as session:
        run = session.get(Run, 1)
        assert run.status == "running"  # visibly stale: its heartbeat stops
        run.heartbeat_at = utcnow() - timedelta(seconds=STALE_AFTER_SECONDS + 1)  # as if time passed
    second = centerlens("worker", "--db", db_url, "--exit-when-empty", "--poll", "0.5")
    assert "claimed run 1" in second.stdout and "resuming run 1" in second.stdout
    with sessions() as session:
        assert session.get(Run, 1).status == "completed"
    assert_whole(db_url, 1, EPOCHS)


@pytest.mark.slow
def test_twenty_random_kills(db_url: str) -> None:
    """SIGKILL at random moments (start-up, training, evaluation, recording, checkpointing); resume."""
    rng = random.Random(0)
    epochs, survived = 8, 0
    args = ("train", "--epochs", str(epochs), "--batch-size", "32", "--probe-per-class", "5", "--db", db_url)
    sessions = None
    for _ in range(20):
        process = popen(*(args if sessions is None else ("train", "--resume", "1", "--db", db_url)))
        time.sleep(rng.uniform(2.0, 6.0))
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        survived += 1
        try:
            sessions = open_sessions(db_url)
            with sessions() as session:
                if session.get(Run, 1) is None:
                    sessions = None
        except OperationalError:
            sessions = None
    if sessions is None:
        centerlens(*args)
    else:
        centerlens("train", "--resume", "1", "--db", db_url, check=False)
    print(f"kills survived: {survived}")
    assert_whole(db_url, 1, epochs)
