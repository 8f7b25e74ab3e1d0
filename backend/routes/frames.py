"""2-D frames of a run for one projection method, all at once or one epoch at a time."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from backend import frames
from backend.deps import NOT_FOUND, EpochNumber, MethodQuery, RunDep, SessionDep, cache_forever
from backend.schemas import Frame, Frames

router = APIRouter(prefix="/runs", tags=["frames"], responses=NOT_FOUND)


@router.get("/{run_id}/frames")
def get_frames(run: RunDep, session: SessionDep, method: MethodQuery = "pca") -> Frames:
    """Points, centers, predictions and confidences of every projected epoch, as typed arrays."""
    return frames.run_frames(session, run.id, method)


@router.get("/{run_id}/frames/{epoch}")
def get_frame(run: RunDep, epoch: EpochNumber, session: SessionDep, response: Response,
              method: MethodQuery = "pca") -> Frame:
    """One epoch's frame; once it can no longer change (finished run, current projection) it is cached."""
    stored = frames.stored_frames(session, run.id, method, epoch)
    if not stored:
        raise HTTPException(status_code=404, detail=f"run {run.id} has no {method} frame for epoch {epoch}")
    if frames.is_final(session, run, method, stored[0]):
        cache_forever(response)
    return stored[0].to_frame()
