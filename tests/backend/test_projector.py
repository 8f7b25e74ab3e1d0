"""The projector worker and ``centerlens project`` on real digits runs and on runs written epoch by epoch."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from backend.projections import get_projection
from backend.projector import FrameReport, ProjectorWorker
from store import EmbeddingSnapshot, Projection, Run, open_sessions
from tests.backend.api_support import copy_database
from tests.conftest import ROOT, centerlens, new_database


def projections(sessions, run_id: int, projection: str) -> list[Projection]:
    """Stored frames of one run and projection, in epoch order."""
    with sessions() as session:
        query = select(Projection).where(Projection.run_id == run_id, Projection.projection == projection)
        return list(session.scalars(query.order_by(Projection.epoch)))


def add_run(sessions, status: str = "running") -> int:
    """A run row as the trainer creates it; returns its id."""
    with sessions.begin() as session:
        run = Run(
            name="synthetic",
            method="ce",
            dataset="synthetic",
            model="none",
            config={},
            seed=0,
            epochs_planned=5,
            status=status,
        )
        session.add(run)
    return run.id


def add_epoch(sessions, run_id: int, epoch: int, points: int = 60) -> None:
    """Write one epoch's snapshot the way the trainer does: three classes that tighten epoch by epoch."""
    labels = np.arange(points) % 3
    means = np.eye(3, 8) * 10
    features = means[labels] + np.random.default_rng(epoch).normal(scale=3.0 / epoch, size=(points, 8))
    with sessions.begin() as session:
        session.add(
            EmbeddingSnapshot(
                run_id=run_id,
                epoch=epoch,
                probe_features=features.astype(np.float16),
                probe_predictions=labels.astype(np.int16),
                probe_confidences=np.ones(points, np.float32),
                class_centers=means.astype(np.float32),
                center_distances=np.zeros((3, 3), np.float32),
            )
        )


@pytest.fixture(scope="module")
def digits_db(trained_db, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A private copy of the shared database of two real 3-epoch digits runs (520 probe points)."""
    return copy_database(trained_db.url, tmp_path_factory.mktemp("projector"))


def test_worker_fills_every_epoch_and_a_second_pass_computes_nothing(digits_db: str, trained_db) -> None:
    sessions = open_sessions(digits_db)
    reports: list[FrameReport] = []
    stored = ProjectorWorker(sessions, on_frame=reports.append).run_once()
    epochs = list(range(1, trained_db.epochs + 1))
    assert stored == len(reports) == 2 * len(trained_db.run_ids) * len(epochs)
    for run_id in trained_db.run_ids:
        for name, least_trustworthiness in (("pca", 0.7), ("umap", 0.95)):
            frames = projections(sessions, run_id, name)
            assert [frame.epoch for frame in frames] == epochs
            assert all(frame.status == "ok" and frame.points.shape == (520, 2) for frame in frames)
            assert all(frame.centers.shape == (10, 2) for frame in frames)
            assert all(frame.trustworthiness > least_trustworthiness for frame in frames)
            assert frames[0].procrustes_residual is None and frames[-1].procrustes_residual >= 0
            expected = get_projection(name).input_hashes(run_id, epochs, finished=True)
            assert [frame.input_hash for frame in frames] == list(expected.values())
    assert ProjectorWorker(sessions).run_once() == 0
    assert {report.projection for report in reports} == {"pca", "umap"}


def test_input_hashes_are_those_stored_before_the_projection_column_was_renamed() -> None:
    """Frames already in a database keep matching their planned hashes, so none is recomputed."""
    pca = get_projection("pca").input_hashes(7, [1, 2, 3], finished=False)
    umap = get_projection("umap").input_hashes(7, [1, 2, 3], finished=False)
    assert (pca[1], pca[3]) == ("c79ba69e79ba755d385c40b7154d5f2a707184d99a7c917374bdd6e0800505d9",
                                "aa1f74e8051934227bc7c572893a7def2d673b7aa69d5719de8162a37b6fb851")
    assert (umap[1], umap[3]) == ("1cd5d0c0796d4a69f7eeb7012f56fe3e1dee2164517f5040cf969a8750e5b70a",
                                  "674ce041a25c0c7e3c76395cf29b47ed9b9e70fcec3af4659130f840351b5731")


def test_a_run_too_small_for_umap_gets_a_failed_frame_with_the_reason(db_url: str) -> None:
    sessions = open_sessions(db_url)
    run_id = add_run(sessions, status="completed")
    add_epoch(sessions, run_id, 1, points=10)
    worker = ProjectorWorker(sessions)
    assert worker.run_once() == 2
    (failed,) = projections(sessions, run_id, "umap")
    assert failed.status == "failed" and failed.points is None
    assert failed.error == "UMAP needs more probe points than n_neighbors=15; this run has 10"
    assert [frame.status for frame in projections(sessions, run_id, "pca")] == ["ok"]
    assert worker.run_once() == 0, "a failed frame is not retried while its inputs are unchanged"


def test_pca_refits_at_powers_of_two_and_at_the_end_while_umap_frames_are_kept(db_url: str) -> None:
    sessions = open_sessions(db_url)
    run_id = add_run(sessions)
    worker = ProjectorWorker(sessions)
    for epoch in (1, 2, 3):
        add_epoch(sessions, run_id, epoch)
    assert worker.run_once() == 3 + 3
    assert get_projection("pca").fit_epochs([1, 2, 3], finished=False) == [1, 2]
    add_epoch(sessions, run_id, 4)
    assert worker.run_once() == 4 + 1, "a fit on epochs 1-4 rewrites every PCA frame; UMAP adds one"
    add_epoch(sessions, run_id, 5)
    assert worker.run_once() == 1 + 1, "epoch 5 goes through the epochs-1-4 basis"
    with sessions.begin() as session:
        session.get(Run, run_id).status = "completed"
    assert worker.run_once() == 5, "the final fit on all epochs rewrites the PCA frames only"
    assert worker.run_once() == 0
    with sessions() as session:
        query = select(EmbeddingSnapshot).where(EmbeddingSnapshot.run_id == run_id)
        snapshots = list(session.scalars(query.order_by(EmbeddingSnapshot.epoch)))
    features, centers = [s.probe_features for s in snapshots], [s.class_centers for s in snapshots]
    expected = get_projection("pca").run_frames(features, centers)
    for frame, stored in zip(expected, projections(sessions, run_id, "pca")):
        np.testing.assert_allclose(stored.points, frame.points, rtol=1e-5, atol=1e-5)
    umap_frames = projections(sessions, run_id, "umap")
    assert [frame.status for frame in umap_frames] == ["ok"] * 5
    assert all(frame.procrustes_residual is not None for frame in umap_frames[1:])


@pytest.mark.slow
def test_worker_keeps_up_with_a_live_digits_run(tmp_path: Path) -> None:
    url = new_database(tmp_path)
    sessions = open_sessions(url)
    worker = ProjectorWorker(sessions)
    worker.warm_up()
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop, 0.2), daemon=True)
    thread.start()
    epochs = [1, 2, 3, 4]
    centerlens("train", "--dataset", "digits", "--epochs", "4", "--batch-size", "64", "--db", url)
    finished = time.monotonic()
    expected = {
        name: list(get_projection(name).input_hashes(1, epochs, finished=True).values())
        for name in ("pca", "umap")
    }
    while any(
        [frame.input_hash for frame in projections(sessions, 1, name)] != hashes
        for name, hashes in expected.items()
    ):
        assert time.monotonic() - finished < 30, "the projector fell behind the trainer"
        time.sleep(0.2)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert worker.run_once() == 0


def test_project_command_refuses_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    result = centerlens("project", "--db", str(missing), check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr and not result.stdout
    assert not missing.exists()


def test_project_command_projects_and_reports(digits_db: str) -> None:
    result = centerlens("project", "--db", digits_db, "--projection", "pca")
    assert result.stdout.strip().endswith(f"frames stored in {digits_db}")
    assert centerlens("project", "--db", digits_db, "--method", "pca").stdout.startswith("0 frames stored")
    refused = centerlens("project", "--db", digits_db, "--projection", "tsne", check=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "invalid choice: 'tsne' (choose from 'pca', 'umap')" in refused.stderr


def test_watching_project_command_stops_cleanly_on_ctrl_c(digits_db: str) -> None:
    command = [
        sys.executable,
        "-m",
        "centerlens.cli",
        "project",
        "--db",
        digits_db,
        "--watch",
        "--projection",
        "pca",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("watching")
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "Traceback" not in stderr and stderr.strip().endswith("frames already stored are kept")


def test_the_projector_never_imports_torch() -> None:
    code = (
        "import sys, umap, backend.projector_cli, backend.projections as p; "
        "p.get_projection('pca').warm_up(); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=300)
