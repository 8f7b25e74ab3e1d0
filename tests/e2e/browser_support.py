"""Browser test helpers: a ``centerlens serve`` subprocess, and Chromium tabs that record console errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.backend.api_support import free_port
from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
SERVER_START_SECONDS = 60
# the projector may compile UMAP (numba) before its first frames: allow minutes on 2 cores
FRAMES_SECONDS = 300


@dataclass
class LiveServer:
    """A running ``centerlens serve``: its base URL and the runs it serves."""

    url: str
    run_ids: list[int]
    epochs: int
    log: Path
    process: subprocess.Popen

    def get(self, path: str) -> dict | list:
        """GET a JSON endpoint."""
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.load(response)


def wait_for(server: LiveServer, condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` until it holds; if the server exits or time runs out, fail with its log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.5)
    state = "the server exited" if server.process.poll() is not None else f"timed out after {seconds:.0f} s"
    raise AssertionError(f"{state} waiting for {what}:\n{server.log.read_text()[-4000:]}")


def all_frames_projected(server: LiveServer, projection: str) -> bool:
    """Whether every epoch of every run has a frame of ``projection``."""
    for run_id in server.run_ids:
        frames = server.get(f"/api/runs/{run_id}/frames?projection={projection}")
        if frames["pending"] or len(frames["frames"]) < server.epochs:
            return False
    return True


@contextmanager
def serve(url: str, folder: Path, run_ids: list[int], epochs: int, *flags: str) -> Iterator[LiveServer]:
    """Run ``centerlens serve --db url`` on a free port until the block ends."""
    port = free_port()
    log = folder / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "centerlens.cli", "serve", "--db", url, "--port", str(port), *flags],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = LiveServer(f"http://127.0.0.1:{port}", run_ids, epochs, log, process)
    try:
        wait_for(server, lambda: server.get("/api/health")["status"] == "ok", SERVER_START_SECONDS, "startup")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Tab:
    """A 1280x800 browser tab on a server, and the errors its console reported."""

    page: object
    server: LiveServer
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto(self.server.url + path)

    def screenshot(self, name: str) -> Path:
        """Save the whole page as artifacts/screenshots/NAME.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def open_tab(browser, server: LiveServer) -> Iterator[Tab]:
    """A fresh tab; fails the test if the browser console reported an error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = Tab(context.new_page(), server)
    tab.page.on("console", lambda message: message.type == "error" and tab.errors.append(message.text))
    tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert tab.errors == [], f"browser console errors: {tab.errors}"
