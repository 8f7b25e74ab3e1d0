"""The examples run as a user runs them, and their runs show up over the API with epochs, frames (after
``centerlens project``) and thumbnails."""

from __future__ import annotations

import subprocess
import sys

from fastapi.testclient import TestClient

from tests.backend.api_support import make_app
from tests.conftest import ROOT, centerlens


def test_own_loop_example_records_a_run_the_dashboard_shows(db_url: str) -> None:
    command = [sys.executable, "examples/own_loop.py", "--db", db_url, "--epochs", "2"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"recorded run 1 into {db_url}"
    centerlens("project", "--db", db_url, "--projection", "pca")
    with TestClient(make_app(db_url)) as client:
        (run,) = client.get("/api/runs").json()
        assert (run["name"], run["status"], run["epochs_done"], run["probe_size"]) == (
            "own-loop-digits", "completed", 2, 300)
        epochs = client.get("/api/runs/1/epochs").json()
        assert epochs["epoch"] == [1, 2] and all(row["weight_norm"] > 0 for row in epochs["extra"])
        assert epochs["test_top1"][1] > 0.5, "two epochs of an MLP on digits learn something"
        frames = client.get("/api/runs/1/frames?projection=pca").json()
        assert [frame["epoch"] for frame in frames["frames"]] == [1, 2]
        thumbnail = client.get("/api/runs/1/probe/0.png")
        assert thumbnail.status_code == 200 and thumbnail.content.startswith(b"\x89PNG")
