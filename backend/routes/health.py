"""``GET /api/health``: liveness, version, database kind and whether writes need a token."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from backend.auth import write_access
from backend.deps import SessionDep, SettingsDep
from backend.schemas import Health
from centerlens import __version__

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep, settings: SettingsDep) -> Health:
    """Answer once the database answers."""
    session.execute(text("SELECT 1"))
    database = session.get_bind().dialect.name
    return Health(version=__version__, database=database, writes=write_access(settings))
