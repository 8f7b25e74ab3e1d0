"""``centerlens report`` on a database of real tiny runs: its numbers against numpy, formats, errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from store import Epoch, Run, open_sessions
from tests.conftest import centerlens
from tests.study_support import shared_study_database

pytestmark = pytest.mark.slow

# statistic -> (metric, per-run reduction over its epochs in order)
EXPECTED = {
    "final_top1_error": ("test_top1", lambda v: 1 - v[-1]),
    "best_top1_error": ("test_top1", lambda v: (1 - v).min()),
    "final_top5_error": ("test_top5", lambda v: 1 - v[-1]),
    "best_top5_error": ("test_top5", lambda v: (1 - v).min()),
    "final_nll": ("test_nll", lambda v: v[-1]),
    "best_nll": ("test_nll", lambda v: v.min()),
    "final_ece": ("test_ece", lambda v: v[-1]),
    "best_ece": ("test_ece", lambda v: v.min()),
    "final_variance_ratio": ("variance_ratio", lambda v: v[-1]),
    "best_variance_ratio": ("variance_ratio", lambda v: v.min()),
    "final_nc1": ("nc1", lambda v: v[-1]),
    "best_nc1": ("nc1", lambda v: v.min()),
    "epoch_seconds": ("epoch_seconds", lambda v: v.mean()),
}


@pytest.fixture(scope="module")
def study_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return shared_study_database(tmp_path_factory)


def numpy_statistics(url: str) -> dict[tuple[str, str], tuple[float, float | None, int]]:
    """(group, statistic) -> mean, sample std, n over the completed runs, straight from the tables."""
    with open_sessions(url)() as session:
        runs = list(session.scalars(select(Run)))
        epochs = list(session.scalars(select(Epoch).order_by(Epoch.epoch)))
    expected = {}
    for group in {run.run_group for run in runs}:
        members = [run.id for run in runs if run.run_group == group and run.status == "completed"]
        for name, (metric, reduce) in EXPECTED.items():
            values = np.array(
                [
                    reduce(np.array([getattr(e, metric) for e in epochs if e.run_id == run_id]))
                    for run_id in members
                ]
            )
            std = values.std(ddof=1) if len(values) > 1 else None
            expected[(group, name)] = (values.mean(), std, len(values))
    return expected


def test_report_numbers_equal_numpy_over_the_stored_runs(study_db: str) -> None:
    result = centerlens("report", "--db", study_db, "--study", "tiny", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = numpy_statistics(study_db)
    assert len(rows) == len(expected) == 3 * 13
    for row in rows:
        mean, std, n = expected[(row["group"], row["statistic"])]
        assert float(row["mean"]) == pytest.approx(mean, rel=1e-12)
        assert (row["std"] == "") if std is None else float(row["std"]) == pytest.approx(std, rel=1e-12)
        assert int(row["n"]) == n and int(row["members"]) == 2
    left_out = {row["label"]: row["not_counted"] for row in rows}
    assert left_out["ce"] == "" and left_out["csd beta=0.25"] == ""
    assert left_out["csd beta=0.75"].endswith(":cancelled")


def test_markdown_table_has_groups_as_rows_best_in_bold_and_unfinished_marked(study_db: str) -> None:
    table = centerlens("report", "--db", study_db, "--study", "tiny").stdout
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:3] == ["group", "n", "final top-1 err %"] and "tr(Sw)/tr(Sb)" in " ".join(header)
    rows = {
        cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines[1:])
    }
    assert set(rows) == {"ce", "csd beta=0.25", "csd beta=0.75"}
    assert rows["ce"][1] == "2/2" and rows["csd beta=0.75"][1] == "1/2 (1 cancelled)"
    expected = numpy_statistics(study_db)
    with open_sessions(study_db)() as session:
        groups = {run.name.rsplit("-s", 1)[0]: run.run_group for run in session.scalars(select(Run))}
    label_group = {
        "ce": groups["ce"],
        "csd beta=0.25": groups["csd-beta0.25"],
        "csd beta=0.75": groups["csd-beta0.75"],
    }
    for column, statistic in enumerate(EXPECTED, start=2):
        means = {label: expected[(label_group[label], statistic)][0] for label in rows}
        best = min(means, key=means.get)
        assert [label for label in rows if rows[label][column].startswith("**")] == [best], statistic
    assert "±" in rows["ce"][2] and "±" not in rows["csd beta=0.75"][2]


def test_latex_is_a_booktabs_tabular(study_db: str) -> None:
    table = centerlens(
        "report", "--db", study_db, "--format", "latex", "--columns", "final_top1_error"
    ).stdout
    assert r"\begin{tabular}{lrr}" in table and r"\toprule" in table and r"\mathbf{" in table
    assert r"final top-1 err \%" in table


def test_bad_report_requests_are_one_line(study_db: str, tmp_path: Path) -> None:
    unknown = centerlens("report", "--db", study_db, "--study", "nope", check=False)
    assert unknown.returncode == 2 and "no study 'nope' (known: tiny)" in unknown.stderr
    missing = centerlens("report", "--db", str(tmp_path / "none.db"), check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    for result in (unknown, missing):
        assert len(result.stderr.strip().splitlines()) == 1
    help_text = centerlens("report", "--help").stdout
    assert all(word in help_text for word in ("markdown", "latex", "csv", "--study"))


def test_empty_database_is_one_line(db_url: str, tmp_path: Path) -> None:
    open_sessions(db_url)  # an upgraded database without a run
    empty = centerlens("report", "--db", db_url, check=False)
    assert empty.returncode == 2 and "has no runs yet" in empty.stderr
