"""Studies from experiment files: seeds x grid expansion, groups, names, --dry-run and refusals."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store import Run, open_sessions
from store.engine import sqlite_file
from store.suite import group_key
from tests.conftest import centerlens

STUDY = """\
suite: sweep
defaults: {dataset: digits, epochs: 2, batch_size: 64, threads: 1, seeds: [0, 1], grid: {temperature: [2, 4]}}
runs:
  - {method: ce, grid: {lr: [0.05, 0.1]}, temperature: 4}
  - {method: cs_kd}
  - {method: csd, grid: {beta: [0.25, 0.5], temperature: [3]}, seeds: [0, 1, 2]}
"""


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def stored_runs(db_url: str) -> list[Run]:
    with open_sessions(db_url)() as session:
        return list(session.scalars(select(Run).order_by(Run.id)))


def count_runs(db_url: str) -> int:
    with open_sessions(db_url)() as session:
        return session.scalar(select(func.count()).select_from(Run))


def test_seeds_times_grid_expands_into_named_grouped_runs(tmp_path: Path, db_url: str) -> None:
    result = centerlens("queue", write(tmp_path, STUDY), "--db", db_url)
    assert "queued 14 run(s) of suite 'sweep'" in result.stdout
    runs = stored_runs(db_url)
    # ce: lr x 2 seeds (its plain temperature takes the key out of the defaults' grid);
    # cs_kd: the defaults' temperature grid x 2 seeds; csd: beta x its own temperature x 3 seeds
    names = [run.name for run in runs]
    assert len(set(names)) == len(names) == 14
    assert {"ce-lr0.05-s0", "ce-lr0.1-s1", "cs_kd-t2-s0", "cs_kd-t4-s1", "csd-t3-beta0.25-s2"} <= set(names)
    assert Counter(run.method for run in runs) == {"ce": 4, "cs_kd": 4, "csd": 6}
    assert {run.config["temperature"] for run in runs if run.method == "ce"} == {4.0}
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.run_group, []).append(run)
    assert sorted(len(members) for members in groups.values()) == [2, 2, 2, 2, 3, 3]
    for key, members in groups.items():
        assert len({run.seed for run in members}) == len(members)
        assert len({str(sorted((k, v) for k, v in run.config.items() if k not in {"seed", "name"}))
                    for run in members}) == 1
        assert key == group_key(members[0].config) and key.startswith(f"{members[0].method}/digits/")
    assert {run.suite.split(":")[0] for run in runs} == {"sweep"}
    assert [run.seed for run in runs][:12] == [0] * 6 + [1] * 6  # seed by seed, every group first


def test_identical_study_is_refused_unless_forced(tmp_path: Path, db_url: str) -> None:
    study = write(tmp_path, STUDY)
    centerlens("queue", study, "--db", db_url)
    again = centerlens("queue", study, "--db", db_url, check=False)
    assert again.returncode == 2 and "already queued" in again.stderr
    assert count_runs(db_url) == 14
    centerlens("queue", study, "--db", db_url, "--force")
    assert count_runs(db_url) == 28


def test_dry_run_prints_the_expansion_and_writes_nothing(tmp_path: Path, db_url: str) -> None:
    result = centerlens("queue", write(tmp_path, STUDY), "--db", db_url, "--dry-run")
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["run", "group", "seed", "lr", "temperature", "beta"]
    row = next(line.split() for line in lines if line.startswith("csd-t3-beta0.5-s1 "))
    assert row[2:] == ["1", "-", "3", "0.5"] and row[1].startswith("csd/digits/small_cnn:")
    assert "14 run(s) in 6 group(s)" in lines[-1]
    assert len(lines) == 16
    path = sqlite_file(db_url)
    if path is not None:
        assert not path.exists()
    else:
        assert count_runs(db_url) == 0


def test_more_than_500_runs_need_force(tmp_path: Path, db_url: str) -> None:
    big = write(tmp_path, "runs:\n  - {method: csd, grid: {beta: [0.25, 0.5, 0.75]}}\nseeds: "
                f"{list(range(167))}\n")
    refused = centerlens("queue", big, "--db", db_url, check=False)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "501 runs, more than 500" in refused.stderr and "--force" in refused.stderr
    assert count_runs(db_url) == 0
    centerlens("queue", big, "--db", db_url, "--force")
    assert count_runs(db_url) == 501


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("{betta: [0.5]}", "unknown grid key 'betta'"),
        ("{beta: []}", "grid key 'beta' needs a non-empty list"),
        ("{beta: [0.5, 1.5]}", "grid key 'beta' = 1.5: beta must be between 0 and 1"),
        ("{center_rule: [ema, median]}", "grid key 'center_rule' = 'median': unknown center rule"),
        ("{group_size: [2]}", "grid key 'group_size' is not a setting of method 'csd'"),
        ("{seed: [1, 2]}", "grid key 'seed' is not allowed"),
    ],
)
def test_bad_grid_is_one_line_naming_the_key_and_queues_nothing(
    tmp_path: Path, db_url: str, grid: str, message: str
) -> None:
    centerlens("queue", write(tmp_path, STUDY), "--db", db_url)
    text = f"seeds: [0, 1]\nruns:\n  - {{method: ce}}\n  - {{method: csd, grid: {grid}}}\n"
    bad = write(tmp_path, text, "bad.yaml")
    result = centerlens("queue", bad, "--db", db_url, check=False)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert "run 2" in result.stderr
    assert count_runs(db_url) == 14


def test_empty_seed_list_is_refused(tmp_path: Path, db_url: str) -> None:
    result = centerlens("queue", write(tmp_path, "seeds: []\nruns:\n  - {method: ce}\n"), "--db", db_url,
                        check=False)
    assert result.returncode == 2 and "'seeds' must be a non-empty list" in result.stderr


def test_train_config_of_a_suite_file_is_refused_as_before(tmp_path: Path, db_url: str) -> None:
    result = centerlens("train", "--config", write(tmp_path, STUDY), "--db", db_url, check=False)
    assert result.returncode == 2 and "unknown setting 'suite'" in result.stderr
