"""Hostile input over real HTTP: malformed parameters are a 4xx, static files stay inside the frontend,
and readers never see "database is locked" while a trainer writes.

Requests go through a raw socket to a live uvicorn, so no client normalises ``..`` or percent-escapes
on the way, exactly as an attacker's request arrives.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from store import Run, create_db_engine
from tests.backend.api_support import live_server, make_app
from tests.conftest import ROOT

SECRET = "centerlens-secret-outside-the-frontend"

MALFORMED = [
    "/api/runs/" + "9" * 5000,
    "/api/runs/2147483648",
    "/api/runs/0",
    "/api/runs/-1",
    "/api/runs/1/frames/" + "9" * 100,
    "/api/runs/1/centers/-1",
    "/api/runs/1/frames/-5?projection=pca",
    "/api/runs/1/centers/1.5",
    "/api/runs/1/frames/1e3",
    "/api/runs/0x10",
    "/api/runs/%zz",
    "/api/runs/1/probe/-1.png",
    "/api/runs/1/probe/%00.png",
    "/api/runs/1/probe/" + "9" * 30 + ".png",
    "/api/compare?runs=" + ",".join(["1"] * 10_000),
    "/api/compare?runs=1,1,1,1,1",
    "/api/compare?runs=1,99999999999",
    "/api/compare?runs=" + "%2C" * 1000,
    "/api/compare?runs=1,2&projection=" + "x" * 100_000,
    "/api/runs/1/frames?projection=" + "../" * 30_000,
    "/api/runs/1/frames?projection=../../etc",
    "/api/runs/1/frames/1?projection=..%2F..%2Fetc%2Fpasswd",
    "/api/runs/1/export.html?projection=../../etc/passwd",
    "/api/compare?runs=1,2&projection=../../etc",
    "/api/runs/1/frames?projection=pca%00",
    "/api/runs/%D9%A1",
    "/api/runs/%EF%BC%91/epochs",
    "/api/compare?runs=%D9%A1,%D9%A2",
    "/api/compare?runs=%EF%BC%91,%EF%BC%92",
    "/api/runs/1/frames?projection=%F0%9F%98%80",
    "/run/" + "9" * 100,
    "/run/%00",
]
RAW_MALFORMED = [
    "/api/runs/1/frames?projection=é".encode(),
    "/api/runs/١".encode(),
    b"/api/runs/\xff\xfe",
    b"/static/js/api.js\x00",
    b"/api/runs/1/frames?projection=" + b"x" * 1_000_000,
]
ESCAPES = [
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/js/../../secret.txt",
    "/static/js/%2e%2e/%2e%2e/secret.txt",
    "/static/%252e%252e/secret.txt",
    "/static/..%5csecret.txt",
    "/static/..\\secret.txt",
    "/static/....//secret.txt",
    "/static/%c0%ae%c0%ae/secret.txt",
    "/static/..%00/secret.txt",
    "/static/" + "../" * 20 + "etc/passwd",
    "/static/" + "%2e%2e%2f" * 20 + "etc/passwd",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/file:///etc/passwd",
    "/static/js/escape.js",
    "/static/linked/passwd",
    "/static/linked/../secret.txt",
    "/static/" + "a" * 300,
    "/static/",
    "/static/.",
    "/static/..",
    "/static/js",
    "/vendor/../../../etc/passwd",
    "/run/../../etc/passwd",
    "/../secret.txt",
]


def raw_get(base: str, target: str | bytes) -> tuple[int, bytes]:
    """Send ``GET target`` byte for byte over a socket; the status code and the whole raw answer."""
    host, port = base.removeprefix("http://").split(":")
    request = b"GET " + (target.encode() if isinstance(target, str) else target)
    answer = b""
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        try:
            connection.sendall(request + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        except OSError:  # the server may answer and close before a huge request is sent
            pass
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    assert answer.startswith(b"HTTP/1.1 "), f"no HTTP answer to {target[:80]!r}: {answer[:200]!r}"
    return int(answer.split(b" ", 2)[1]), answer


@pytest.fixture(scope="module")
def frontend(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the real frontend, a secret file beside it, and symlinks pointing out of it."""
    folder = tmp_path_factory.mktemp("served")
    copy = folder / "frontend"
    shutil.copytree(ROOT / "frontend", copy)
    (folder / "secret.txt").write_text(SECRET)
    (copy / "js" / "escape.js").symlink_to(folder / "secret.txt")
    (copy / "linked").symlink_to("/etc")
    return copy


@pytest.fixture(scope="module")
def server(trained_db, frontend: Path) -> Iterator[str]:
    """A live server on the trained runs (read only), serving the planted frontend copy."""
    with live_server(make_app(trained_db.url, frontend_dir=frontend)) as base:
        yield base


@pytest.mark.parametrize("target", MALFORMED + RAW_MALFORMED, ids=lambda target: repr(target[:60]))
def test_malformed_parameters_are_a_4xx_never_a_5xx(server: str, target: str | bytes) -> None:
    status, _ = raw_get(server, target)
    assert 400 <= status < 500


def test_run_ids_in_other_scripts_digits_are_malformed(server: str) -> None:
    assert raw_get(server, "/api/compare?runs=1,2")[0] == 200
    for digits in ("%D9%A1,%D9%A2", "%EF%BC%91,%EF%BC%92", "1,%F0%9D%9F%90"):  # Arabic-Indic, fullwidth, bold
        assert raw_get(server, f"/api/compare?runs={digits}")[0] == 422, digits


def test_static_files_are_served_from_the_frontend(server: str, frontend: Path) -> None:
    status, answer = raw_get(server, "/static/js/api.js")
    assert status == 200 and answer.endswith((frontend / "js" / "api.js").read_bytes())


@pytest.mark.parametrize("target", ESCAPES, ids=lambda target: target[:60])
def test_static_files_cannot_escape_the_frontend(server: str, target: str) -> None:
    status, answer = raw_get(server, target)
    assert status == 404
    assert SECRET.encode() not in answer and b"root:" not in answer


@dataclass
class Reads:
    """What concurrent readers saw: requests made, epoch counts seen, errors."""

    requests: int = 0
    seen_epochs: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read_until(self, base: str, stop: threading.Event) -> None:
        """Cycle through the read endpoints until ``stop`` is set."""
        paths = ["/api/runs", "/api/runs/1", "/api/runs/1/epochs", "/api/runs/1/classes", "/api/runs/1/probe",
                 "/api/runs/1/frames", "/api/runs/1/export.csv", "/api/health"]
        with httpx.Client(base_url=base, timeout=60) as client:
            while not stop.is_set():
                for path in paths:
                    self.read(client, path)

    def read(self, client: httpx.Client, path: str) -> None:
        """One GET; anything but a 200 without "database is locked" is an error."""
        try:
            response = client.get(path)
        except httpx.HTTPError as error:
            outcome = f"{path}: {type(error).__name__}: {error}"
        else:
            failed = response.status_code != 200 or "database is locked" in response.text
            outcome = f"{path}: {response.status_code} {response.text[:200]}" if failed else None
        with self.lock:
            self.requests += 1
            if outcome:
                self.errors.append(outcome)
            elif path == "/api/runs/1/epochs":
                self.seen_epochs.add(len(response.json()["epoch"]))


def wait_for_run(url: str, trainer: subprocess.Popen) -> None:
    """Return once run 1 is in the database (the trainer has created the schema and the run)."""
    engine = create_db_engine(url)
    try:
        while trainer.poll() is None:
            try:
                with engine.connect() as connection:
                    if connection.scalar(select(Run.id).where(Run.id == 1)):
                        return
            except (OperationalError, ProgrammingError):  # no schema yet
                pass
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise AssertionError(f"the trainer exited ({trainer.returncode}) before creating its run")


def test_readers_never_see_database_is_locked_while_a_trainer_writes(db_url: str, tmp_path: Path) -> None:
    trainer = subprocess.Popen(
        [sys.executable, "-m", "centerlens.cli", "train", "--epochs", "4", "--batch-size", "64",
         "--probe-per-class", "5", "--checkpoint-dir", str(tmp_path / "checkpoints"), "--db", db_url],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    wait_for_run(db_url, trainer)
    reads, stop = Reads(), threading.Event()
    with live_server(make_app(db_url)) as base:
        readers = [threading.Thread(target=reads.read_until, args=(base, stop)) for _ in range(3)]
        for reader in readers:
            reader.start()
        _, trainer_errors = trainer.communicate(timeout=300)
        stop.set()
        for reader in readers:
            reader.join()
    assert trainer.returncode == 0, trainer_errors
    assert reads.errors == []
    assert reads.requests > 100 and len(reads.seen_epochs) >= 2  # the reads overlapped the writes
