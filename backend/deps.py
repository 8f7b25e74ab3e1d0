"""Request dependencies: settings, a database session, the run named in the path (404 once, here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from sqlalchemy.orm import Session, sessionmaker

from backend.schemas import ErrorMessage
from backend.settings import Settings
from store import Run

# ids and epochs live in 32-bit integer columns (PostgreSQL ``integer``): larger values are malformed
MAX_INT = 2**31 - 1

IMMUTABLE = "public, max-age=31536000, immutable"

ProjectionMethod = Literal["pca", "umap"]

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
MethodQuery = Annotated[ProjectionMethod, Query(description="projection method")]


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
