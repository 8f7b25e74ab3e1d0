"""Helpers for the API tests: private copies of the trained database, projected by the real projector."""

from __future__ import annotations

import socket
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from backend.app import create_app
from backend.guards import REQUEST_HEADER
from backend.settings import Settings
from store import create_db_engine, session_factory
from store.engine import is_url


def copy_database(url: str, folder: Path) -> str:
    """A copy of a database, so a test module can add rows without touching the shared fixture."""
    if not is_url(url):
        target = folder / "copy.db"
        with sqlite3.connect(url) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        return str(target)
    name = f"centerlens_copy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        source = make_url(url).database
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def project(url: str, projections: tuple[str, ...] = ("pca",)) -> None:
    """Compute every pending frame with the real projector worker."""
    from backend.projector import ProjectorWorker

    engine = create_db_engine(url)
    worker = ProjectorWorker(session_factory(engine), projections=projections)
    while worker.run_once():
        pass
    engine.dispose()


# what the dashboard sends with every write (backend.guards.WriteGuard refuses writes without it)
WRITE_HEADERS = {REQUEST_HEADER: "1"}


def make_app(url: str, **settings: object) -> FastAPI:
    """The API app on ``url``, events polled quickly so tests do not wait, serving TestClient's host name."""
    settings.setdefault("allowed_hosts", ["testserver"])
    return create_app(Settings(database_url=url, events_poll_seconds=0.2, **settings))


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on a loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            threading.Event().wait(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
