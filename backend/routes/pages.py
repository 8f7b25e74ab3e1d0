"""The dashboard's pages and static files from ``frontend/``, and Plotly.js from the plotly package."""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from backend.deps import RunId, SettingsDep

router = APIRouter(include_in_schema=False)

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# pages and modules change with the code: revalidate; Plotly.js changes with the package version
REVALIDATE = {"Cache-Control": "no-cache"}
VENDOR_CACHE = {"Cache-Control": "public, max-age=86400"}
# browsers only run ES modules served as JavaScript, whatever the system's MIME table says
MEDIA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html"}


def _file_under(folder: Path, relative: str) -> Path:
    """``folder/relative`` if it is a file inside ``folder`` (no ``..``, no symlink out), else 404."""
    try:
        root = folder.resolve()
        path = (root / relative).resolve()
        inside = path.is_relative_to(root) and path.is_file()  # is_file raises on a too-long name
    except (OSError, ValueError) as error:
        raise HTTPException(status_code=404, detail="file not found") from error
    if not inside:
        raise HTTPException(status_code=404, detail=f"file not found: {relative}")
    return path


def _page(settings: SettingsDep, name: str) -> FileResponse:
    path = Path(settings.frontend_dir) / name
    if not path.is_file():
        raise HTTPException(status_code=404, detail=f"page {name} is missing from {settings.frontend_dir}")
    return FileResponse(path, media_type="text/html", headers=REVALIDATE)


@router.get("/")
def index_page(settings: SettingsDep) -> FileResponse:
    """The runs page."""
    return _page(settings, "index.html")


@router.get("/run/{run_id}")
def run_page(run_id: RunId, settings: SettingsDep) -> FileResponse:
    """The page of one run (it reads the id from its URL)."""
    return _page(settings, "run.html")


@router.get("/compare")
def compare_page(settings: SettingsDep) -> FileResponse:
    """The comparison page (it reads ``?runs=`` from its URL)."""
    return _page(settings, "compare.html")


@router.get("/study/{name}")
def study_page(name: str, settings: SettingsDep) -> FileResponse:
    """The page of one study (it reads the name from its URL)."""
    return _page(settings, "study.html")


@router.get("/static/{relative:path}")
def static_file(relative: str, settings: SettingsDep) -> FileResponse:
    """A file under ``frontend/`` (ES modules, CSS, images)."""
    path = _file_under(Path(settings.frontend_dir), relative)
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix), headers=REVALIDATE)


@router.get("/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    """Plotly.js from the installed plotly package, so the dashboard works offline."""
    if not PLOTLY_JS.is_file():
        raise HTTPException(status_code=404, detail=f"{PLOTLY_JS} is missing from the plotly package")
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=VENDOR_CACHE)
