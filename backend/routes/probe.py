"""The probe set of a run: labels, dataset indices and cacheable PNG thumbnails."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Response
from fastapi import Path as PathParam

from backend import queries
from backend.deps import IMMUTABLE, MAX_INT, NOT_FOUND, RunDep, SessionDep
from backend.schemas import Probe

router = APIRouter(prefix="/runs", tags=["probe"], responses=NOT_FOUND)

Position = Annotated[int, PathParam(ge=0, le=MAX_INT, description="probe position (0..N-1)")]


@router.get("/{run_id}/probe")
def get_probe(run: RunDep, session: SessionDep) -> Probe:
    """Labels and dataset indices of the probe samples, in probe order."""
    return queries.probe(session, run.id)


@router.get(
    "/{run_id}/probe/{position}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_thumbnail(run: RunDep, position: Position, session: SessionDep) -> Response:
    """The probe sample's thumbnail; it never changes, so it is cached for a year."""
    png = queries.thumbnail(session, run.id, position)
    if png is None:
        raise HTTPException(status_code=404, detail=f"run {run.id} has no probe sample {position}")
    if not png:
        raise HTTPException(status_code=404, detail=f"run {run.id} was recorded without probe images")
    return Response(content=png, media_type="image/png", headers={"Cache-Control": IMMUTABLE})
