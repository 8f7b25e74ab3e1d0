"""The application factory: ``create_app(settings)`` wires the database, middleware and routers."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.guards import HostGuard, StreamLimit, WriteGuard
from backend.responses import VALIDATION_ERROR, RobustJSONResponse, one_line_validation_error
from backend.routes import (
    compare,
    events,
    export,
    frames,
    health,
    pages,
    probe,
    projections,
    queue,
    runs,
    studies,
)
from backend.settings import Settings
from centerlens import __version__
from store import Run, create_db_engine, database_url, session_factory, upgrade_database
from store.engine import UnusableDatabase


class DatabaseUnavailable(RuntimeError):
    """The configured database is missing, unreadable or not a centerlens database."""


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def open_database(database: str, upgrade: bool = False) -> Engine:
    """An engine on an existing, readable centerlens database (optionally upgraded to the newest schema).

    A SQLite path must already exist: the server never creates an empty database by accident.
    """
    url = make_url(database_url(database))
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not path.is_file():
            raise DatabaseUnavailable(f"database {path} does not exist")
        if not os.access(path, os.R_OK):
            raise DatabaseUnavailable(f"database {path} is not readable")
    engine = create_db_engine(database)
    try:
        if upgrade:
            upgrade_database(engine)
        with engine.connect() as connection:
            connection.execute(select(func.count()).select_from(Run))
    except SQLAlchemyError as error:
        engine.dispose()
        raise DatabaseUnavailable(f"cannot read database {shown}: {_first_line(error)}") from error
    except UnusableDatabase as error:  # another program's database: refused before anything is written
        engine.dispose()
        raise DatabaseUnavailable(str(error)) from error
    return engine


class GZipWherePays:
    """gzip for answers above a minimum size, except the typed-array-heavy ones (frames, comparisons):
    base64 of float32 coordinates shrinks by only about a third, and compressing megabytes costs far
    more time than it saves on a local network (see docs/performance.md, "API")."""

    UNCOMPRESSED = re.compile(r"^/api/(runs/\d+/frames(/\d+)?|compare)$")

    def __init__(self, app: ASGIApp, minimum_size: int) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass typed-array answers through, compress the rest."""
        if scope["type"] == "http" and self.UNCOMPRESSED.match(scope["path"]):
            await self.app(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the API and dashboard server for ``settings`` (raises DatabaseUnavailable up front)."""
    engine = engine or open_database(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="centerlens",
        version=__version__,
        summary="Runs, per-epoch metrics and 2-D feature-space frames of recorded training runs.",
        lifespan=lifespan,
        default_response_class=RobustJSONResponse,
        responses=VALIDATION_ERROR,
        exception_handlers={RequestValidationError: one_line_validation_error},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.event_streams = 0
    app.state.event_hub = events.EventHub(app.state.sessions, settings.events_poll_seconds)
    # the last added runs first: Host, then the stream limit and the write checks, then gzip
    app.add_middleware(GZipWherePays, minimum_size=settings.gzip_minimum_bytes)
    app.add_middleware(WriteGuard, settings=settings)
    app.add_middleware(StreamLimit, settings=settings)
    app.add_middleware(HostGuard, settings=settings)
    for module in (health, runs, probe, frames, projections, compare, events, export, queue, studies):
        app.include_router(module.router, prefix="/api")
    app.include_router(pages.router)
    return app
