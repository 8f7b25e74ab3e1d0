"""The run queue over HTTP: queue a run or an experiment file (configs/*.yaml), cancel a run.

Writes need a token unless the server listens on loopback only (``backend.auth``); a queued run is
trained by a ``centerlens worker`` on the same database, and reaches the dashboard as a ``run`` event.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from backend import queries
from backend.auth import WRITE_ERRORS, require_write
from backend.deps import NOT_FOUND, RunDep, SessionDep, SessionsDep, SettingsDep
from backend.queueing import catalog_json, describe_suite, run_config, settings_schema, suite_files
from backend.schemas import Cancellation, ErrorMessage, QueuedSuite, RequestProblem, RunSummary, SuiteInfo
from store.queue import MAX_UNFORCED_RUNS, QueueError, queue_runs, request_cancel
from store.runconfig import ConfigError
from store.suite import load_suite

router = APIRouter(tags=["queue"])

WRITE = [Depends(require_write)]
REJECTED = {422: {"model": RequestProblem, "description": "bad settings, or a malformed request"}}
FINISHED = {409: {"model": ErrorMessage, "description": "the run has already finished"}}
DUPLICATE = {409: {"model": ErrorMessage, "description": "these exact runs were queued before (see force)"}}
NO_SUITE = {404: {"model": ErrorMessage, "description": "no experiment file of that name in configs/"}}
SETTINGS_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": settings_schema()}}}
}
Force = Annotated[
    bool, Query(description="queue the suite even if these exact runs were queued before, or over 500 runs")
]


@router.get("/run-settings")
def run_settings() -> dict[str, Any]:
    """JSON schema of a run's settings: what POST /api/runs takes, with types, bounds, defaults, allowed
    names, and (``x-methods``) the methods each setting belongs to; generated from the catalog."""
    return settings_schema()


@router.get("/catalog")
def get_catalog() -> dict[str, Any]:
    """Methods, models, datasets and epoch metrics, each with its label and description."""
    return catalog_json()


async def settings_body(request: Request) -> dict[str, Any]:
    """The JSON object of a run's settings (validated by the catalog's run config, as the CLI does)."""
    problem = "the body must be a JSON object of run settings"
    try:
        values = await request.json()
    except ValueError as error:
        raise HTTPException(status_code=422, detail=problem) from error
    if not isinstance(values, dict):
        raise HTTPException(status_code=422, detail=problem)
    return values


RunSettings = Annotated[dict[str, Any], Depends(settings_body)]


@router.post(
    "/runs",
    status_code=201,
    dependencies=WRITE,
    responses={**WRITE_ERRORS, **REJECTED},
    openapi_extra=SETTINGS_BODY,
)
def queue_run(
    values: RunSettings, sessions: SessionsDep, settings: SettingsDep, response: Response
) -> RunSummary:
    """Queue one run; settings left out take their defaults (the dataset folder: the server's data_dir)."""
    try:
        config = run_config(values, settings.data_dir, settings.queue_folders())
    except ConfigError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error
    with sessions.begin() as session:
        [run] = queue_runs(session, [config])
        summary = queries.run_summaries(session, [run])[0]
    response.headers["Location"] = f"/api/runs/{summary.id}"
    return summary


@router.post("/runs/{run_id}/cancel", dependencies=WRITE, responses={**WRITE_ERRORS, **NOT_FOUND, **FINISHED})
def cancel_run(run: RunDep, session: SessionDep) -> Cancellation:
    """Cancel a queued run at once, or ask a running one to stop after its current epoch."""
    try:
        status = request_cancel(session, run.id)
    except QueueError as error:
        raise HTTPException(status_code=409, detail=str(error)) from error
    session.commit()
    message = "cancelled" if status == "cancelled" else "stops after its current epoch"
    return Cancellation(run_id=run.id, status=status, message=message)


@router.get("/suites")
def list_suites(session: SessionDep, settings: SettingsDep) -> list[SuiteInfo]:
    """The experiment files in the server's configs/ folder, and what each would queue."""
    return [describe_suite(session, name, path) for name, path in suite_files(settings.configs_dir).items()]


@router.post(
    "/suites/{name}",
    status_code=201,
    dependencies=WRITE,
    responses={**WRITE_ERRORS, **NO_SUITE, **DUPLICATE, **REJECTED},
)
def queue_suite(name: str, sessions: SessionsDep, settings: SettingsDep, force: Force = False) -> QueuedSuite:
    """Queue every run of an experiment file, named as GET /api/suites lists it."""
    path = suite_files(settings.configs_dir).get(name)
    if path is None:
        raise HTTPException(status_code=404, detail=f"no experiment file {name!r} in configs/")
    try:
        suite, configs = load_suite(path)
        with sessions.begin() as session:
            runs = queue_runs(session, configs, suite=suite, force=force)
            summaries = queries.run_summaries(session, runs)
    except ConfigError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error
    except QueueError as error:
        raise _suite_refusal(suite, configs, error) from error
    return QueuedSuite(suite=suite, runs=summaries)


def _suite_refusal(suite: str, configs: list, error: QueueError) -> HTTPException:
    """The HTTP answer to each refusal of ``queue_runs``, with the API's spelling of its force flag."""
    if len(configs) > MAX_UNFORCED_RUNS:
        detail = (
            f"suite {suite!r} expands to {len(configs)} runs, more than {MAX_UNFORCED_RUNS}: "
            "force=true queues them all"
        )
        return HTTPException(status_code=422, detail=detail)
    detail = f"suite {suite!r} with these exact runs is already queued (force=true queues it again)"
    return HTTPException(status_code=409, detail=detail)
