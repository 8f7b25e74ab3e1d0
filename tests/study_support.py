"""A database of a real tiny study: digits, 2 epochs, batch 64, queued and trained through the CLI.

ce and csd (beta 0.25 and 0.75) over seeds 0 and 1; the csd beta=0.75 seed-1 run is cancelled before
it starts, so one group has an unfinished member that the statistics must leave out.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from store import Run, open_sessions
from tests.conftest import centerlens, new_database

STUDY = """\
suite: tiny
defaults: {dataset: digits, epochs: 2, batch_size: 64, threads: 1, probe_per_class: 2, seeds: [0, 1]}
runs:
  - {method: ce}
  - {method: csd, grid: {beta: [0.25, 0.75]}}
"""
CANCELLED = "csd-beta0.75-s1"


def build_study_database(url: str, folder: Path) -> str:
    """Queue the tiny study into ``url``, cancel one member, train the rest with a worker."""
    path = folder / "tiny.yaml"
    path.write_text(STUDY)
    centerlens("queue", str(path), "--db", url)
    with open_sessions(url)() as session:
        cancelled = session.scalar(select(Run.id).where(Run.name == CANCELLED))
    centerlens("queue", "--cancel", str(cancelled), "--db", url)
    centerlens("worker", "--db", url, "--exit-when-empty", "--checkpoint-dir", str(folder / "checkpoints"))
    return url


def shared_study_database(tmp_path_factory) -> str:  # noqa: ANN001
    """The tiny study's database, built once per test session (the URL is kept beside it).

    The study tests of the report, the API and the dashboard only read it.
    """
    folder = tmp_path_factory.getbasetemp() / "tiny-study"
    marker = folder / "url.txt"
    if marker.exists():
        return marker.read_text()
    folder.mkdir(exist_ok=True)
    url = build_study_database(new_database(folder), folder)
    marker.write_text(url)
    return url
