"""``GET /api/health``: liveness, version and database kind."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from backend.deps import SessionDep
from backend.schemas import Health
from centerlens import __version__

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep) -> Health:
    """Answer once the database answers."""
    session.execute(text("SELECT 1"))
    return Health(version=__version__, database=session.get_bind().dialect.name)
