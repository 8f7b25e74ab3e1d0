"""A trainer killed with SIGKILL leaves a database that opens, holding only whole epochs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from sqlalchemy import func, select, text

from store import ClassEpoch, EmbeddingSnapshot, Epoch, create_db_engine, session_factory
from tests.conftest import ROOT


def recorded(sessions) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(Epoch.epoch).order_by(Epoch.epoch)))


def test_sigkill_mid_run_leaves_only_whole_epochs(db_url: str) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "centerlens.cli",
            "train",
            "--epochs",
            "500",
            "--batch-size",
            "32",
            "--db",
            db_url,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = create_db_engine(db_url)
    sessions = session_factory(engine)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                if len(recorded(sessions)) >= 2:
                    break
            except Exception:  # the schema may not exist yet
                continue
        time.sleep(0.37)  # land somewhere inside the next epoch
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    engine.dispose()
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
