"""``GET /api/compare?runs=1,2[,3,4]``: runs on the same probe, frames aligned to the first run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import select

from backend.comparison import IncomparableRuns, comparison
from backend.deps import CONFLICT, MAX_INT, NOT_FOUND, ProjectionQuery, SessionDep, invalid_query
from backend.schemas import Comparison
from store import Run

router = APIRouter(tags=["compare"])

# [0-9], not \d: \d also matches other scripts' digits, which int() would accept as ids
RUN_IDS = r"^[0-9]{1,10}(,[0-9]{1,10}){1,3}$"


def run_ids(
    runs: Annotated[str, Query(pattern=RUN_IDS, description="2 to 4 distinct run ids, comma-separated",
                               examples=["1,2"])],
) -> list[int]:
    """The requested run ids, in order (422, as FastAPI reports it, when repeated or out of range)."""
    ids = [int(part) for part in runs.split(",")]
    if len(set(ids)) != len(ids) or not all(1 <= run_id <= MAX_INT for run_id in ids):
        message = f"runs must be 2 to 4 distinct run ids between 1 and {MAX_INT}"
        raise invalid_query("runs", message, runs)
    return ids


@router.get("/compare", responses={**NOT_FOUND, **CONFLICT})
def compare(ids: Annotated[list[int], Depends(run_ids)], session: SessionDep,
            projection: ProjectionQuery) -> Comparison:
    """Summaries, metric series and frames of the runs, every run aligned to the first."""
    found = {run.id: run for run in session.scalars(select(Run).where(Run.id.in_(ids)))}
    missing = [run_id for run_id in ids if run_id not in found]
    if missing:
        raise HTTPException(status_code=404, detail=f"run {missing[0]} not found")
    try:
        return comparison(session, [found[run_id] for run_id in ids], projection)
    except IncomparableRuns as error:
        raise HTTPException(status_code=409, detail=str(error)) from error
