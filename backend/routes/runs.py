"""Runs and their per-epoch and per-class metrics, and class centers."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from backend import queries
from backend.deps import NOT_FOUND, EpochNumber, RunDep, SessionDep, cache_forever
from backend.schemas import Centers, ClassSeries, EpochSeries, RunDetail, RunSummary

router = APIRouter(prefix="/runs", tags=["runs"], responses=NOT_FOUND)


@router.get("")
def list_runs(session: SessionDep) -> list[RunSummary]:
    """Every run with status, progress and final metrics, newest first."""
    return queries.list_runs(session)


@router.get("/{run_id}")
def get_run(run: RunDep, session: SessionDep) -> RunDetail:
    """One run with its config and class names."""
    return queries.run_detail(session, run)


@router.get("/{run_id}/epochs")
def get_epochs(run: RunDep, session: SessionDep) -> EpochSeries:
    """All metric series of the run at once, columnar."""
    return queries.epoch_series(session, run.id)


@router.get("/{run_id}/classes")
def get_classes(run: RunDep, session: SessionDep) -> ClassSeries:
    """Per-class variance, nearest center and accuracy of every epoch."""
    return queries.class_series(session, run)


@router.get("/{run_id}/centers/{epoch}")
def get_centers(run: RunDep, epoch: EpochNumber, session: SessionDep, response: Response) -> Centers:
    """Class centers (C x D) and their distances (C x C) at one recorded epoch (immutable)."""
    found = queries.centers(session, run.id, epoch)
    if found is None:
        raise HTTPException(status_code=404, detail=f"run {run.id} has no epoch {epoch}")
    cache_forever(response)
    return found
