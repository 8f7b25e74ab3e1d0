"""Takeovers are fenced: once another worker claims a run, the old trainer's writes are refused and
it stops quietly, so a takeover never fails a run; worker flags that would take live runs are refused."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from store import Epoch, Run, RunStatus, catalog, open_sessions
from store.models import STALE_AFTER_SECONDS, utcnow
from store.queue import claim_next_run, new_claim, queue_runs
from store.runconfig import TrainConfig
from tests.conftest import ROOT, centerlens
from trainer.recorder import EpochRecord, Recorder, config_columns
from trainer.stopping import ClaimLost
from trainer.worker import train_claimed

CLASSES, PROBE, FEATURES = 3, 4, 5


@pytest.mark.parametrize(
    "flags, message",
    [
        (("--stale-after", "1"), "--stale-after: must be at least 30"),
        (("--stale-after", "nan"), "--stale-after: must be at least 30"),
        (("--poll", "-1"), "--poll: must be more than 0"),
        (("--poll", "0"), "--poll: must be more than 0"),
    ],
)
def test_unsafe_worker_timing_is_refused_in_one_line(tmp_path: Path, flags, message: str) -> None:
    db = tmp_path / "centerlens.db"
    result = centerlens("worker", "--db", str(db), "--exit-when-empty", *flags, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr
    assert not db.exists()


def record(epoch: int) -> EpochRecord:
    """A small epoch record with every declared metric, as a trainer would write it."""
    per_class = ("variance", "center_norm", "nearest_class", "nearest_distance", "accuracy")
    return EpochRecord(
        epoch=epoch,
        scalars=dict.fromkeys(catalog.METRICS.names(), 0.5),
        loss_parts={"ce": 0.5},
        per_class={name: np.zeros(CLASSES) for name in per_class},
        probe_features=np.zeros((PROBE, FEATURES)),
        probe_predictions=np.zeros(PROBE),
        probe_confidences=np.zeros(PROBE),
        class_centers=np.zeros((CLASSES, FEATURES)),
        center_distances=np.zeros((CLASSES, CLASSES)),
        method_centers=None,
    )


def epochs_of(sessions) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(Epoch.epoch).where(Epoch.run_id == 1).order_by(Epoch.epoch)))


def make_stale(sessions) -> None:
    with sessions.begin() as session:
        session.get(Run, 1).heartbeat_at = utcnow() - timedelta(seconds=STALE_AFTER_SECONDS + 1)


def test_after_a_takeover_every_write_of_the_old_recorder_is_refused(db_url: str) -> None:
    sessions = open_sessions(db_url)
    config = TrainConfig(epochs=3)
    with sessions.begin() as session:
        queue_runs(session, [config])
    recorders = {}
    for worker in ("first:1", "second:2"):
        claim = new_claim()
        assert claim_next_run(sessions, worker, STALE_AFTER_SECONDS, claim) == 1
        recorders[worker] = Recorder(sessions, claim)
        recorders[worker].start_run({**config_columns(config.to_dict()), "worker": worker}, [], run_id=1)
        if worker == "first:1":
            recorders[worker].write_epoch(record(1))
            make_stale(sessions)  # its trainer looks dead; it is not
    first, second = recorders["first:1"], recorders["second:2"]
    refused = (
        lambda: first.write_epoch(record(2)),
        first.heartbeat,
        lambda: first.finish(RunStatus.failed, "IntegrityError: duplicate epoch"),
        lambda: first.truncate_after(0),
        lambda: first.start_run(config_columns(config.to_dict()), [], run_id=1),
    )
    for write in refused:
        with pytest.raises(ClaimLost, match="run 1 was taken over by second:2"):
            write()
    with sessions() as session:
        run = session.get(Run, 1)
        assert (run.status, run.error, run.worker) == ("running", None, "second:2")
    assert epochs_of(sessions) == [1]
    assert second.write_epoch(record(2)) is False
    second.finish(RunStatus.completed)
    assert epochs_of(sessions) == [1, 2]


@pytest.mark.slow
def test_a_takeover_of_a_live_worker_never_fails_the_run(tmp_path: Path, db_url: str) -> None:
    """A second trainer takes a run its first worker is still training (as ``--stale-after 1`` did)."""
    folder, epochs = tmp_path / "checkpoints", 4
    sessions = open_sessions(db_url)
    with sessions.begin() as session:
        queue_runs(session, [TrainConfig(epochs=epochs, batch_size=64, probe_per_class=2, threads=1)])
    first = subprocess.Popen(
        [sys.executable, "-m", "centerlens.cli", "worker", "--db", db_url, "--exit-when-empty"]
        + ["--checkpoint-dir", str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not (folder / "run-1.pt").exists() or not epochs_of(sessions):
        assert time.monotonic() < deadline and first.poll() is None, "the first worker recorded no epoch"
        time.sleep(0.2)
    claim = new_claim()
    assert claim_next_run(sessions, "thief:1", 0, claim) == 1  # the first worker is alive
    lines: list[str] = []
    train_claimed(sessions, 1, db_url, lines.append, str(folder), claim)
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0 and "Traceback" not in stderr, stderr
    assert "run 1 was taken over by " in stdout and ": this trainer stops and leaves it" in stdout
    assert any(line.startswith("resuming run 1 after epoch") for line in lines), lines
    with sessions() as session:
        run = session.get(Run, 1)
        assert (run.status, run.error) == ("completed", None)
        assert session.scalar(select(func.count()).select_from(Epoch)) == epochs
    assert epochs_of(sessions) == list(range(1, epochs + 1))
