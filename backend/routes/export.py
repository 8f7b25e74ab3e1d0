"""Downloads: a run's per-epoch metrics as CSV, and a self-contained HTML animation of its frames."""

from __future__ import annotations

import csv
import io
import re

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import HTMLResponse

from backend import queries
from backend.animation import animation_html
from backend.deps import NOT_FOUND, ProjectionQuery, RunDep, SessionDep
from backend.frames import layouts, stored_frames

router = APIRouter(prefix="/runs", tags=["export"], responses=NOT_FOUND)


def _attachment(run_name: str, run_id: int, suffix: str) -> dict[str, str]:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_name).strip("._") or "run"
    return {"Content-Disposition": f'attachment; filename="{run_id}-{safe}.{suffix}"'}


def _named_columns(rows: list[dict | None], prefix: str) -> tuple[list[str], list[list]]:
    """One column per name found in a series of by-name dicts (loss parts, extra), None where absent."""
    names = list(dict.fromkeys(name for row in rows for name in (row or {})))
    return [f"{prefix}{name}" for name in names], [[(row or {}).get(name) for row in rows] for name in names]


@router.get("/{run_id}/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_csv(run: RunDep, session: SessionDep) -> Response:
    """Per-epoch metrics, one row per epoch, one column per declared metric, one per loss part
    (``loss_part_NAME``) and one per scalar a user's own loop logged (``extra_NAME``), empty where absent."""
    series = queries.epoch_series(session, run.id).model_dump()
    part_header, part_columns = _named_columns(series.pop("loss_parts"), "loss_part_")
    extra_header, extra_columns = _named_columns(series.pop("extra"), "extra_")
    columns = [series[name] for name in series] + part_columns + extra_columns
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*series, *part_header, *extra_header])
    writer.writerows(zip(*columns))
    return Response(buffer.getvalue(), media_type="text/csv", headers=_attachment(run.name, run.id, "csv"))


@router.get("/{run_id}/export.html", response_class=HTMLResponse)
def export_html(run: RunDep, session: SessionDep, projection: ProjectionQuery) -> HTMLResponse:
    """An offline HTML page (Plotly.js inlined) that animates the run's frames epoch by epoch."""
    stored = stored_frames(session, run.id, projection)
    shown = [(frame.epoch, layout) for frame, layout in zip(stored, layouts(stored)) if layout is not None]
    if not shown:
        raise HTTPException(status_code=404, detail=f"run {run.id} has no {projection} frames yet")
    labels, _ = queries.probe_arrays(session, run.id)
    names = run.class_names or [str(index) for index in range(run.num_classes or 0)]
    page = animation_html(
        title=f"{run.name}: {projection} frames", epochs=[epoch for epoch, _ in shown],
        layouts=[layout for _, layout in shown], labels=labels, class_names=names,
    )
    return HTMLResponse(page, headers=_attachment(run.name, run.id, "html"))
