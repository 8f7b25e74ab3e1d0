"""Request dependencies: settings, a database session, the run named in the path (404 once, here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session, sessionmaker

from backend.projections import DEFAULT_PROJECTION, PROJECTIONS
from backend.schemas import ErrorMessage
from backend.settings import Settings
from store import Run

# ids and epochs live in 32-bit integer columns (PostgreSQL ``integer``): larger values are malformed
MAX_INT = 2**31 - 1

IMMUTABLE = "public, max-age=31536000, immutable"

# longer than any projection's name: a longer value is refused before it is looked up
MAX_PROJECTION_NAME = 40

# documented error answers (FastAPI documents 422 itself)
NOT_FOUND = {404: {"model": ErrorMessage, "description": "unknown run, or no such epoch, sample or frame"}}
CONFLICT = {409: {"model": ErrorMessage, "description": "the runs are on different datasets or probes"}}


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_sessions(request: Request) -> sessionmaker[Session]:
    """The app's session factory (for code that opens its own short sessions)."""
    return request.app.state.sessions


def get_session(sessions: Annotated[sessionmaker[Session], Depends(get_sessions)]) -> Iterator[Session]:
    """One read session per request."""
    with sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
SessionDep = Annotated[Session, Depends(get_session)]
RunId = Annotated[int, PathParam(ge=1, le=MAX_INT, description="run id")]
EpochNumber = Annotated[int, PathParam(ge=0, le=MAX_INT, description="epoch number")]


def invalid_query(name: str, message: str, value: object) -> RequestValidationError:
    """A 422 on query parameter ``name``, reported the way FastAPI reports its own validation errors."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", name), "msg": message,
                                    "input": value}])


def projection_name(
    projection: Annotated[str, Query(max_length=MAX_PROJECTION_NAME,
                                     description="a projection's name (GET /api/projections lists them)")]
    = DEFAULT_PROJECTION,
    method: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> str:
    """The requested projection, which must be registered (a 422 names the registered ones).

    The parameter used to be called ``method``: a request that still says so gets a 422 saying
    what to write, rather than the default projection in place of the one it asked for.
    """
    if method is not None:
        raise invalid_query("method", "renamed: name the projection as ?projection=", None)
    if projection not in PROJECTIONS:
        raise invalid_query("projection", f"projection must be one of {', '.join(PROJECTIONS)}", projection)
    return projection


ProjectionQuery = Annotated[str, Depends(projection_name)]


def get_run(run_id: RunId, session: SessionDep) -> Run:
    """The run named in the path, or 404."""
    run = session.get(Run, run_id)
    if run is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    return run


RunDep = Annotated[Run, Depends(get_run)]


def cache_forever(response: Response) -> None:
    """Mark a response whose content can never change (a recorded epoch, a thumbnail) as cacheable."""
    response.headers["Cache-Control"] = IMMUTABLE
