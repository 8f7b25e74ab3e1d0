"""Checkpoints that cannot hurt: a planted file runs no code, a damaged one falls back to the one
before it, a full disk fails the run in one line and resuming afterwards loses nothing."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from store import Epoch, Run, create_db_engine, open_sessions, session_factory
from store.models import STALE_AFTER_SECONDS, utcnow
from store.queue import queue_runs
from store.runconfig import TrainConfig
from tests.conftest import ROOT, centerlens
from tests.mounts import fill, tmpfs
from trainer import loop
from trainer.checkpoint import MAGIC
from trainer.recorder import Recorder

SMALL = {"batch_size": 64, "probe_per_class": 2, "threads": 1}
SMALL_FLAGS = ("--batch-size", "64", "--probe-per-class", "2", "--threads", "1")


class Planted:
    """Unpickling this creates ``marker``: it stands for any code an attacker would have run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class Killed(BaseException):
    """Stands in for SIGKILL inside one process: nothing after it runs, nothing marks the run."""


def plant(path: Path, marker: Path, with_checksum: bool = False) -> None:
    """Write a torch file whose unpickling runs code, optionally behind a valid checksum header."""
    buffer = io.BytesIO()
    torch.save({"epochs_done": 1, "model": Planted(marker)}, buffer)
    data = buffer.getvalue()
    if with_checksum:
        data = MAGIC + hashlib.sha256(data).hexdigest().encode() + b"\n" + data
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def epochs_of(sessions, run_id: int = 1) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(Epoch.epoch).where(Epoch.run_id == run_id).order_by(Epoch.epoch)))


def run_of(sessions, run_id: int = 1) -> Run:
    with sessions() as session:
        return session.get(Run, run_id)


def queue_one(sessions, **settings) -> None:
    with sessions.begin() as session:
        queue_runs(session, [TrainConfig(epochs=1, **SMALL, **settings)])


def test_a_planted_pickle_where_a_queued_run_points_runs_nothing(tmp_path: Path, db_url: str) -> None:
    marker, planted = tmp_path / "marker", tmp_path / "planted"
    sessions = open_sessions(db_url)
    queue_one(sessions, checkpoint_dir=str(planted))  # as a config sent over HTTP might say
    plant(planted / "run-1.pt", marker)
    own = tmp_path / "own"
    centerlens("worker", "--db", db_url, "--exit-when-empty", "--checkpoint-dir", str(own))
    assert not marker.exists()
    run = run_of(sessions)
    assert run.status == "completed", run.error
    assert epochs_of(sessions) == [1] and (planted / "run-1.pt").exists()


def test_a_planted_pickle_behind_a_valid_checksum_is_refused(tmp_path: Path, db_url: str) -> None:
    marker, own = tmp_path / "marker", tmp_path / "own"
    sessions = open_sessions(db_url)
    queue_one(sessions)
    plant(own / "run-1.pt", marker, with_checksum=True)
    result = centerlens("worker", "--db", db_url, "--exit-when-empty", "--checkpoint-dir", str(own))
    assert not marker.exists()
    run = run_of(sessions)
    assert run.status == "failed" and "cannot be loaded safely" in run.error
    assert f"Remove {own / 'run-1.pt'} to train the run again from epoch 1" in run.error
    assert "run 1 failed: CheckpointError" in result.stdout and "Traceback" not in result.stderr


def test_an_unwritable_checkpoint_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    db = tmp_path / "centerlens.db"
    for command in (("train", "--epochs", "1"), ("worker", "--exit-when-empty")):
        result = centerlens(*command, "--db", str(db), "--checkpoint-dir", "/proc/forbidden", check=False)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1
        assert "checkpoint folder /proc/forbidden is not writable" in result.stderr
        assert not db.exists()


def kill_before_writing_epoch_2(config: TrainConfig, sessions, monkeypatch) -> None:
    """Train until epoch 2's checkpoint is written, then die before its database transaction."""
    real_write = Recorder.write_epoch

    def dies_before_writing_epoch_2(self, record):
        if record.epoch == 2:
            raise Killed
        return real_write(self, record)

    with monkeypatch.context() as patch:
        patch.setattr(Recorder, "write_epoch", dies_before_writing_epoch_2)
        with pytest.raises(Killed):
            loop.train(loop.prepare(config), Recorder(sessions), log=lambda _: None)
    with sessions.begin() as session:  # as if the dead trainer's heartbeat had gone stale
        session.get(Run, 1).heartbeat_at = utcnow() - timedelta(seconds=STALE_AFTER_SECONDS + 1)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.slow
def test_damaged_checkpoints_fall_back_to_the_previous_or_fail_naming_the_files(
    tmp_path: Path, db_url: str, monkeypatch
) -> None:
    folder = tmp_path / "checkpoints"
    sessions = open_sessions(db_url)
    config = TrainConfig(epochs=2, **SMALL, db=db_url, checkpoint_dir=str(folder))
    kill_before_writing_epoch_2(config, sessions, monkeypatch)
    newest, previous = folder / "run-1.pt", folder / "run-1.prev.pt"
    good_previous = previous.read_bytes()
    truncate(newest)
    truncate(previous)
    resume = ("train", "--resume", "1", "--db", db_url, "--checkpoint-dir", str(folder))
    failed = centerlens(*resume, check=False)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    run = run_of(sessions)
    assert run.status == "failed" and "is damaged or truncated" in run.error
    assert f"Remove {newest} and {previous} to train the run again from epoch 1" in run.error
    assert epochs_of(sessions) == [1]  # nothing recorded was lost
    previous.write_bytes(good_previous)
    resumed = centerlens(*resume)
    assert f"checkpoint {newest} is damaged or truncated" in resumed.stdout
    assert "resuming run 1 after epoch 1" in resumed.stdout
    assert run_of(sessions).status == "completed" and epochs_of(sessions) == [1, 2]
    assert list(folder.iterdir()) == []


def start_training(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "centerlens.cli", "train", "--epochs", "2", *SMALL_FLAGS, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def assert_one_line_disk_full(process: subprocess.Popen) -> str:
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 1, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("centerlens train: disk full: "), stderr
    return stderr


@pytest.mark.slow
def test_a_full_checkpoint_disk_fails_the_run_in_one_line_and_resume_works(tmp_path: Path) -> None:
    db = str(tmp_path / "centerlens.db")
    with tmpfs(tmp_path / "small", "3m") as small:
        folder = small / "checkpoints"
        newest = folder / "run-1.pt"
        process = start_training("--db", db, "--checkpoint-dir", str(folder))
        wait_for(newest.exists)
        filler = fill(small, leave=newest.stat().st_size // 2)  # epoch 2's checkpoint cannot fit
        stderr = assert_one_line_disk_full(process)
        assert f"cannot write {newest} (No space left on device)" in stderr
        sessions = open_sessions(db)
        run = run_of(sessions)
        assert run.status == "failed" and run.error.startswith(f"disk full: cannot write {newest}")
        assert epochs_of(sessions) == [1] and sorted(p.name for p in folder.iterdir()) == ["run-1.pt"]
        filler.unlink()
        resumed = centerlens("train", "--resume", "1", "--db", db, "--checkpoint-dir", str(folder))
        assert "resuming run 1 after epoch 1" in resumed.stdout
        assert run_of(sessions).status == "completed" and epochs_of(sessions) == [1, 2]


def has_run(db: str) -> bool:
    engine = create_db_engine(db)
    try:
        with session_factory(engine)() as session:
            return session.get(Run, 1) is not None
    except OperationalError:  # the schema is not there yet
        return False
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_full_database_disk_stops_in_one_line_and_resume_works(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    with tmpfs(tmp_path / "small", "3m") as small:
        db = str(small / "centerlens.db")
        process = start_training("--db", db, "--checkpoint-dir", str(folder))
        wait_for(lambda: has_run(db))
        filler = fill(small)  # the disk fills up while epoch 1 trains
        assert_one_line_disk_full(process)
        filler.unlink()
        sessions = open_sessions(db)
        run = run_of(sessions)
        assert run.status == "running" or run.error.startswith("disk full:"), run.error
        centerlens("train", "--resume", "1", "--db", db, "--checkpoint-dir", str(folder))
        assert run_of(sessions).status == "completed" and epochs_of(sessions) == [1, 2]
        engine = create_db_engine(db)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        engine.dispose()
