"""A trainer killed with SIGKILL leaves a database that opens, holding only whole epochs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select, text

from store import ClassEpoch, EmbeddingSnapshot, Epoch, Run, create_db_engine, session_factory
from tests.conftest import ROOT


def recorded(sessions) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(Epoch.epoch).order_by(Epoch.epoch)))


def start_training_and_wait_for_epochs(db_url: str, epochs: int) -> subprocess.Popen:
    """Start a long digits run and return once it has recorded ``epochs`` epochs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "centerlens.cli", "train", "--epochs", "500", "--batch-size", "32"]
        + ["--db", db_url],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = create_db_engine(db_url)
    sessions = session_factory(engine)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        try:
            if len(recorded(sessions)) >= epochs:
                break
        except Exception:  # the schema may not exist yet
            continue
    engine.dispose()
    return process


def test_sigkill_mid_run_leaves_only_whole_epochs(db_url: str) -> None:
    process = start_training_and_wait_for_epochs(db_url, 2)
    time.sleep(0.37)  # land somewhere inside the next epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    engine = create_db_engine(db_url)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    sessions = session_factory(engine)
    epochs = recorded(sessions)
    assert len(epochs) >= 2 and epochs == list(range(1, len(epochs) + 1))
    with sessions() as session:
        for epoch in epochs:
            classes = session.scalar(
                select(func.count()).select_from(ClassEpoch).where(ClassEpoch.epoch == epoch)
            )
            assert classes == 10
            assert session.get(EmbeddingSnapshot, (1, epoch)) is not None


def test_ctrl_c_marks_run_cancelled_and_keeps_epochs(db_url: str) -> None:
    process = start_training_and_wait_for_epochs(db_url, 1)
    sessions = session_factory(create_db_engine(db_url))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "cancelled" in stderr
    with sessions() as session:
        run = session.get(Run, 1)
        assert run.status == "cancelled" and run.finished_at is not None
    epochs = recorded(sessions)
    assert epochs == list(range(1, len(epochs) + 1))


def test_crash_marks_run_failed_with_its_error(db_url: str, monkeypatch) -> None:
    import trainer.loop as loop
    from store import upgrade_database
    from trainer.config import TrainConfig
    from trainer.recorder import Recorder

    engine = create_db_engine(db_url)
    upgrade_database(engine)
    real_build_record = loop.build_record

    def build_record_that_breaks_in_epoch_2(setup, epoch, *args):
        if epoch == 1:
            raise RuntimeError("disk on fire")
        return real_build_record(setup, epoch, *args)

    monkeypatch.setattr(loop, "build_record", build_record_that_breaks_in_epoch_2)
    setup = loop.prepare(TrainConfig(epochs=3, batch_size=64, db=db_url))
    with pytest.raises(RuntimeError, match="disk on fire"):
        loop.train(setup, Recorder(session_factory(engine)), log=lambda _: None)
    with session_factory(engine)() as session:
        run = session.get(Run, 1)
        assert run.status == "failed" and run.error == "RuntimeError: disk on fire"
    assert recorded(session_factory(engine)) == [1]
