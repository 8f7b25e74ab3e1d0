"""2-D frames of a run for one projection, all at once or one epoch at a time."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from backend import frames
from backend.deps import NOT_FOUND, EpochNumber, ProjectionQuery, RunDep, SessionDep, cache_forever
from backend.schemas import Frame, Frames

router = APIRouter(prefix="/runs", tags=["frames"], responses=NOT_FOUND)


@router.get("/{run_id}/frames")
def get_frames(run: RunDep, session: SessionDep, projection: ProjectionQuery) -> Frames:
    """Points, centers, predictions and confidences of every projected epoch, as typed arrays."""
    return frames.run_frames(session, run.id, projection)


@router.get("/{run_id}/frames/{epoch}")
def get_frame(run: RunDep, epoch: EpochNumber, session: SessionDep, response: Response,
              projection: ProjectionQuery) -> Frame:
    """One epoch's frame; once it can no longer change (finished run, current projection) it is cached."""
    stored = frames.stored_frames(session, run.id, projection, epoch)
    if not stored:
        detail = f"run {run.id} has no {projection} frame for epoch {epoch}"
        raise HTTPException(status_code=404, detail=detail)
    if frames.is_final(session, run, projection, stored[0]):
        cache_forever(response)
    return stored[0].to_frame()
