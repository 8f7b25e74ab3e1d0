"""``GET /api/projections``: the registered projections, which the frames routes accept by name."""

from __future__ import annotations

from fastapi import APIRouter

from backend.projections import PROJECTIONS
from backend.schemas import ProjectionInfo

router = APIRouter(tags=["frames"])


@router.get("/projections")
def list_projections() -> list[ProjectionInfo]:
    """Every registered projection in registry order (the first is the default)."""
    return [ProjectionInfo(name=cls.name, label=cls.label, description=cls.description, linear=cls.linear)
            for cls in PROJECTIONS.values()]
