"""Studies: the groups of an experiment file's runs, their statistics and mean ± std curves."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from backend import studies
from backend.deps import SessionDep
from backend.schemas import ErrorMessage
from backend.study_schemas import (
    StudyColumn,
    StudyCurve,
    StudyDetail,
    StudyGroup,
    StudyInfo,
    StudyMember,
    StudyStatistic,
)
from store import catalog

router = APIRouter(prefix="/studies", tags=["studies"])
UNKNOWN = {404: {"model": ErrorMessage, "description": "no study of that name"}}
Metric = Annotated[
    str, Query(max_length=60, description="the metric of the curves (a name of GET /api/catalog)")
]


@router.get("")
def list_studies(session: SessionDep) -> list[StudyInfo]:
    """Every study in the database with its number of runs."""
    return [StudyInfo(name=name, runs=count) for name, count in studies.study_names(session).items()]


@router.get("/{name}", responses=UNKNOWN)
def get_study(name: str, session: SessionDep, metric: Metric = "test_top1") -> StudyDetail:
    """A study's groups: members with status, mean ± std of each statistic, and a curve of ``metric``."""
    if metric not in catalog.METRICS:
        raise HTTPException(status_code=422, detail=f"unknown metric {metric[:40]!r}")
    try:
        groups = studies.study_groups(session, name)
    except studies.UnknownStudy as error:
        raise HTTPException(status_code=404, detail=str(error)) from error
    curves = studies.group_curves(session, groups, metric)
    best = studies.best_per_column(groups)
    return StudyDetail(
        name=studies.study_of(name),
        metric=metric,
        columns=[
            StudyColumn(name=c.name, label=c.label, metric=c.metric, reduce=c.reduce, percent=c.percent)
            for c in studies.COLUMNS
        ],
        groups=[_group(group, curves[group.key], best) for group in groups],
    )


def _group(group: studies.Group, curve: dict, best: dict) -> StudyGroup:
    return StudyGroup(
        key=group.key,
        label=group.label,
        method=group.method,
        dataset=group.dataset,
        settings=group.settings,
        members=[StudyMember(**vars(member)) for member in group.members],
        counted=group.counted,
        statistics={name: StudyStatistic(**vars(stat)) for name, stat in group.statistics.items()},
        best=[name for (dataset, name), key in best.items() if key == group.key and dataset == group.dataset],
        curve=StudyCurve(**curve),
    )
