"""``centerlens train`` end to end: rows written, arrays decoded, bad input refused before any write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Float, select
from sqlalchemy.orm import Session

from store import ClassEpoch, EmbeddingSnapshot, Epoch, ProbeSample, Run, create_db_engine, session_factory
from store.engine import open_sessions as store_sessions
from tests.conftest import DIGITS_RUNS, centerlens, drop_database, new_database


@contextmanager
def opened(url: str) -> Iterator[Session]:
    """A session on an existing database, its engine disposed after (PostgreSQL copies need that)."""
    engine = create_db_engine(url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


TWO_EPOCHS = 2
PROBE_PER_CLASS = 7
SMALL_CNN_FEATURES = 64  # small_cnn's feature layer


@pytest.fixture(scope="module")
def two_epoch_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A 2-epoch digits run trained by ``centerlens train``: its database URL and printed output."""
    url = new_database(tmp_path_factory.mktemp("two_epochs"))
    output = centerlens("train", "--dataset", "digits", "--method", "ce", "--epochs", str(TWO_EPOCHS),
                        "--seed", "5", "--batch-size", "64", "--probe-per-class", str(PROBE_PER_CLASS),
                        "--threads", "1", "--checkpoint-every", "0", "--db", url).stdout
    yield url, output
    drop_database(url)


def test_two_epoch_digits_run_writes_expected_rows(two_epoch_run) -> None:
    url, output = two_epoch_run
    epoch_lines = [line.split()[1] for line in output.splitlines() if line.startswith("epoch ")]
    assert epoch_lines == ["1/2", "2/2"] and "run 1 recorded in" in output
    with opened(url) as session:
        run = session.scalars(select(Run)).one()
        assert (run.status, run.error, run.method, run.dataset, run.model) == (
            "completed", None, "ce", "digits", "small_cnn")
        assert (run.epochs_planned, run.probe_size, run.num_classes, run.feature_dim) == (
            TWO_EPOCHS, 10 * PROBE_PER_CLASS, 10, SMALL_CNN_FEATURES)
        assert run.class_names == [str(k) for k in range(10)] and run.seed == 5
        assert run.started_at <= run.finished_at
        config = run.config
        assert (config["epochs"], config["seed"], config["batch_size"], config["probe_per_class"]) == (
            TWO_EPOCHS, 5, 64, PROBE_PER_CLASS)
        assert session.scalars(select(Epoch.epoch).order_by(Epoch.epoch)).all() == [1, 2]
        learning_rates = session.scalars(select(Epoch.learning_rate).order_by(Epoch.epoch)).all()
        assert learning_rates == pytest.approx([0.1, 0.01])  # x0.1 at milestone 0.5 of 2 epochs
        class_rows = session.execute(select(ClassEpoch.epoch, ClassEpoch.class_index)).all()
        assert sorted(class_rows) == [(epoch, k) for epoch in (1, 2) for k in range(10)]
        probe = session.scalars(select(ProbeSample).order_by(ProbeSample.position)).all()
        assert [p.position for p in probe] == list(range(10 * PROBE_PER_CLASS))
        assert np.bincount([p.label for p in probe]).tolist() == [PROBE_PER_CLASS] * 10
        assert len({p.dataset_index for p in probe}) == len(probe)
        assert all(p.thumbnail.startswith(b"\x89PNG") for p in probe)
        snapshots = session.scalars(select(EmbeddingSnapshot).order_by(EmbeddingSnapshot.epoch)).all()
        assert [snapshot.epoch for snapshot in snapshots] == [1, 2]
        for snapshot in snapshots:
            check_snapshot(snapshot, len(probe), SMALL_CNN_FEATURES)


def check_snapshot(snapshot: EmbeddingSnapshot, probe_size: int, feature_dim: int) -> None:
    """Shapes and dtypes of a stored snapshot, and the distances that follow from its centers."""
    assert snapshot.probe_features.shape == (probe_size, feature_dim)
    assert snapshot.probe_features.dtype == np.float16 and np.isfinite(snapshot.probe_features).all()
    assert snapshot.probe_predictions.shape == (probe_size,)
    assert set(snapshot.probe_predictions.tolist()) <= set(range(10))
    assert snapshot.probe_confidences.shape == (probe_size,)
    assert ((snapshot.probe_confidences >= 0.1) & (snapshot.probe_confidences <= 1)).all()  # max of 10
    centers = snapshot.class_centers
    assert centers.shape == (10, feature_dim) and centers.dtype == np.float32
    distances = np.linalg.norm(centers[:, None].astype(np.float64) - centers[None], axis=2)
    np.testing.assert_allclose(snapshot.center_distances, distances, rtol=1e-5, atol=1e-6)


def test_same_seed_gives_same_probe_in_every_run(trained_db) -> None:
    with opened(trained_db.url) as session:
        probes = [
            session.scalars(
                select(ProbeSample.dataset_index)
                .where(ProbeSample.run_id == run_id)
                .order_by(ProbeSample.position)
            ).all()
            for run_id in trained_db.run_ids
        ]
    assert probes[0] == probes[1]


def add_runs_to_list(url: str) -> None:
    """Add a run whose last epoch is not its best (top-1 0.9 then 0.8) and a queued run with no epochs."""
    with store_sessions(url).begin() as session:
        falling, queued = (
            Run(name=name, method=method, dataset="digits", model="small", config={}, seed=0,
                epochs_planned=planned, status=status)
            for name, method, planned, status in (("falling", "csd", 4, "failed"),
                                                  ("waiting", "ls", 5, "queued"))
        )
        session.add_all([falling, queued])
        session.flush()
        metrics = {column.name: 1.0 for column in Epoch.__table__.columns if isinstance(column.type, Float)}
        for epoch, top1, ratio, nc1 in ((1, 0.9, 2.0, 3.0), (2, 0.8, 0.5, 0.25)):
            session.add(Epoch(**{**metrics, "run_id": falling.id, "epoch": epoch, "test_top1": top1,
                                 "within_class_variance": ratio, "between_class_variance": 1.0,
                                 "variance_ratio": ratio, "nc1": nc1}))


def table_rows(url: str) -> list[list[str]]:
    """The cells of ``centerlens runs``, header checked and left out."""
    lines = centerlens("runs", "--db", url).stdout.splitlines()
    assert lines[0].split() == ["id", "name", "method", "dataset", "model", "status", "epoch", "top1", "best",
                                "Sw/Sb", "NC1"]
    return [line.split() for line in lines[1:]]


def test_runs_table_lists_runs(trained_db) -> None:
    expected = []
    with opened(trained_db.url) as session:
        for run_id, (method, seed) in zip(trained_db.run_ids, DIGITS_RUNS, strict=True):
            epochs = session.scalars(select(Epoch).where(Epoch.run_id == run_id).order_by(Epoch.epoch)).all()
            last, best = epochs[-1], max(epoch.test_top1 for epoch in epochs)
            ratio = last.within_class_variance / last.between_class_variance
            expected.append([str(run_id), f"{method}-digits-s{seed}", method, "digits", "small_cnn",
                             "completed", f"{len(epochs)}/{trained_db.epochs}", f"{last.test_top1:.4f}",
                             f"{best:.4f}", f"{ratio:.4f}", f"{last.nc1:.4f}"])
    assert table_rows(trained_db.url) == expected


def test_runs_table_shows_last_and_best_apart_and_dashes_without_epochs(db_url: str) -> None:
    add_runs_to_list(db_url)
    assert table_rows(db_url) == [
        # last top-1, best top-1, the ratio of the last epoch, its NC1
        ["1", "falling", "csd", "digits", "small", "failed", "2/4", "0.8000", "0.9000", "0.5000", "0.2500"],
        ["2", "waiting", "ls", "digits", "small", "queued", "0/5", "-", "-", "-", "-"],
    ]


def test_yaml_config_keys_are_the_flags(tmp_path: Path, db_url: str) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("dataset: digits\nepochs: 1\nbatch-size: 256\nname: from-yaml\nprobe_per_class: 5\n")
    centerlens("train", "--config", str(config), "--db", db_url)
    with opened(db_url) as session:
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
