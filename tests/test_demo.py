"""``centerlens demo``: trains the demo suite in the background and serves it; a restart continues."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_demo(db: str, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "centerlens.cli", "demo", "--db", db, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("timed out")


def completed_runs(base: str) -> list[dict]:
    runs = httpx.get(f"{base}/api/runs").json()
    return runs if runs and all(run["status"] == "completed" for run in runs) else []


@pytest.mark.slow
def test_demo_trains_and_serves_then_continues(tmp_path) -> None:
    db, port = str(tmp_path / "demo.db"), free_port()
    base = f"http://127.0.0.1:{port}"
    demo = start_demo(db, port)
    try:
        runs = wait_for(lambda: len(listed := httpx.get(f"{base}/api/runs").json()) == 2 and listed)
        assert sorted(run["method"] for run in runs) == ["ce", "csd"]
        wait_for(
            lambda: httpx.get(f"{base}/api/runs/1/frames/1", params={"projection": "pca"}).status_code == 200
        )
        assert "centerlens" in httpx.get(f"{base}/").text
    finally:
        demo.send_signal(signal.SIGINT)
        output = demo.communicate(timeout=60)[0]
    assert demo.returncode == 0, output
    assert "queued the 'demo' suite (2 runs)" in output and f"http://127.0.0.1:{port}/" in output

    again = start_demo(db, port)
    try:
        runs = wait_for(lambda: completed_runs(base))
        assert [run["epochs_done"] for run in runs] == [run["epochs_planned"] for run in runs]
    finally:
        again.send_signal(signal.SIGINT)
        output = again.communicate(timeout=60)[0]
    assert "continuing the 'demo' suite" in output
