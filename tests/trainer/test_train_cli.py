"""``centerlens train`` end to end: rows written, arrays decoded, bad input refused before any write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from store import ClassEpoch, EmbeddingSnapshot, Epoch, ProbeSample, Run, create_db_engine, session_factory
from tests.conftest import centerlens


def open_sessions(url: str):
    return session_factory(create_db_engine(url))


def test_two_epoch_digits_run_writes_expected_rows(trained_db) -> None:
    sessions = open_sessions(trained_db.url)
    with sessions() as session:
        run = session.get(Run, trained_db.run_ids[0])
        assert run.status == "completed" and run.error is None
        assert run.num_classes == 10 and run.class_names == [str(k) for k in range(10)]
        assert run.config["method"] == "ce" and run.config["model"] == "small_cnn"
        epochs = session.scalars(select(Epoch).where(Epoch.run_id == run.id).order_by(Epoch.epoch)).all()
        assert [e.epoch for e in epochs] == list(range(1, trained_db.epochs + 1))
        assert all(0 <= e.test_top1 <= 1 and e.within_class_variance > 0 and e.nc1 > 0 for e in epochs)
        class_rows = session.scalar(
            select(func.count()).select_from(ClassEpoch).where(ClassEpoch.run_id == run.id)
        )
        assert class_rows == 10 * trained_db.epochs
        probe = session.scalars(select(ProbeSample).where(ProbeSample.run_id == run.id)).all()
        assert len(probe) == run.probe_size and probe[0].thumbnail.startswith(b"\x89PNG")
        assert np.bincount([p.label for p in probe]).tolist() == [run.probe_size // 10] * 10
        snapshot = session.get(EmbeddingSnapshot, (run.id, 1))
        n, d, c = run.probe_size, run.feature_dim, run.num_classes
        assert snapshot.probe_features.shape == (n, d) and snapshot.probe_features.dtype == np.float16
        assert snapshot.probe_predictions.shape == (n,) and snapshot.probe_confidences.shape == (n,)
        assert snapshot.class_centers.shape == (c, d) and snapshot.center_distances.shape == (c, c)


def test_same_seed_gives_same_probe_in_every_run(trained_db) -> None:
    sessions = open_sessions(trained_db.url)
    with sessions() as session:
        probes = [
            session.scalars(
                select(ProbeSample.dataset_index)
                .where(ProbeSample.run_id == run_id)
                .order_by(ProbeSample.position)
            ).all()
            for run_id in trained_db.run_ids
        ]
    assert probes[0] == probes[1]


def test_runs_table_lists_runs(trained_db) -> None:
    output = centerlens("runs", "--db", trained_db.url).stdout
    assert (
        "ce-digits-s0" in output
        and "completed" in output
        and f"{trained_db.epochs}/{trained_db.epochs}" in output
    )


def test_yaml_config_keys_are_the_flags(tmp_path: Path, db_url: str) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("dataset: digits\nepochs: 1\nbatch-size: 256\nname: from-yaml\nprobe_per_class: 5\n")
    centerlens("train", "--config", str(config), "--db", db_url)
    with open_sessions(db_url)() as session:
        run = session.scalars(select(Run)).one()
        assert run.name == "from-yaml" and run.config["batch_size"] == 256 and run.probe_size == 50


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "mnist"], "unknown dataset 'mnist'"),
        (["--model", "vgg"], "unknown model 'vgg'"),
        (["--method", "magic"], "unknown method 'magic'"),
        (["--epochs", "0"], "epochs must be between 1 and 10000 (got 0)"),
        (["--lr", "nan"], "lr must be a finite number (got nan)"),
        (["--lr", "inf"], "lr must be a finite number (got inf)"),
        (["--probe-per-class", "1000"], "larger than the test split"),
        (["--dataset", "cifar10", "--data-dir", "/nonexistent"], "CIFAR10 not found"),
        (["--dataset", "imagefolder", "--data-dir", "/nonexistent"], "imagefolder needs"),
        (["--db", "/nonexistent/folder/x.db"], "database folder /nonexistent/folder does not exist"),
        (["--lr-milestones", "abc"], "invalid float value"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, args, message) -> None:
    db = tmp_path / "untouched.db"
    full = ["train", "--epochs", "1", "--db", str(db), *args]
    result = centerlens(*full, check=False, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not db.exists()


def test_database_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    result = centerlens("train", "--epochs", "1", "--db", str(tmp_path), check=False)
    assert result.returncode == 2 and "is a folder" in result.stderr


def test_help_lists_flags() -> None:
    output = centerlens("train", "--help").stdout
    for flag in ("--dataset", "--method", "--epochs", "--config", "--probe-per-class", "--beta"):
        assert flag in output
