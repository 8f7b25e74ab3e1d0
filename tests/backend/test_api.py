"""Every endpoint over HTTP on real digits runs projected by the real projector (docs/api.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.arrays import decode_typed
from backend.projections import align_to_reference
from backend.schemas import Comparison, EpochSeries, Frames, TypedArray
from store import ClassEpoch, EmbeddingSnapshot, Epoch, ProbeSample, Projection, Run, create_db_engine
from store import session_factory as make_sessions
from tests.backend.api_support import copy_database, make_app, project

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def db(trained_db, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A private copy of the two trained runs, with PCA frames of every epoch."""
    url = copy_database(trained_db.url, tmp_path_factory.mktemp("api"))
    project(url)
    return url


@pytest.fixture(scope="module")
def sessions(db: str) -> Iterator:
    engine = create_db_engine(db)
    yield make_sessions(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def client(db: str) -> Iterator[TestClient]:
    with TestClient(make_app(db)) as test_client:
        yield test_client


def decode(payload: dict) -> np.ndarray:
    return decode_typed(TypedArray.model_validate(payload))


def test_health_names_version_and_database(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["version"] == "0.1.0"
    assert body["database"] in {"sqlite", "postgresql"}


def test_runs_list_has_progress_and_final_metrics(client: TestClient, sessions) -> None:
    runs = client.get("/api/runs").json()
    assert [run["id"] for run in runs] == [2, 1]
    with sessions() as session:
        last = session.scalars(select(Epoch).where(Epoch.run_id == 1).order_by(Epoch.epoch.desc())).first()
        best = max(session.scalars(select(Epoch.test_top1).where(Epoch.run_id == 1)))
    run = runs[1]
    assert run["status"] == "completed" and run["eta_seconds"] is None
    assert (run["epochs_done"], run["epochs_planned"], run["progress"]) == (3, 3, 1.0)
    assert run["final"]["test_top1"] == last.test_top1 and run["final"]["nc1"] == last.nc1
    assert run["best_top1"] == best
    assert run["probe_size"] > 0 and run["finished_at"].endswith(("Z", "+00:00"))


def test_run_detail_has_config_and_class_names(client: TestClient) -> None:
    run = client.get("/api/runs/1").json()
    assert run["config"]["method"] == "ce" and run["config"]["epochs"] == 3
    assert run["class_names"] == [str(digit) for digit in range(10)] and run["num_classes"] == 10
    assert run["feature_dim"] > 0 and run["error"] is None


@pytest.mark.parametrize("path", [
    "/api/runs/99", "/api/runs/99/epochs", "/api/runs/99/classes", "/api/runs/99/centers/1",
    "/api/runs/99/probe", "/api/runs/99/probe/0.png", "/api/runs/99/frames", "/api/runs/99/frames/1",
    "/api/runs/99/export.csv", "/api/runs/99/export.html", "/api/compare?runs=1,99",
])
def test_unknown_run_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and response.json() == {"detail": "run 99 not found"}


@pytest.mark.parametrize("path", [
    "/api/runs/abc", "/api/runs/1/frames?projection=foo", "/api/compare?runs=abc", "/api/compare?runs=1",
    "/api/compare?runs=1,2,3,4,5", "/api/compare?runs=1,1", "/api/compare?runs=1,2&projection=tsne",
    "/api/runs/99999999999", "/api/runs/1/probe/-1.png", "/api/compare?runs=1,99999999999",
])
def test_malformed_parameters_are_422(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 422


@pytest.mark.parametrize("path", ["/api/runs/1/centers/99", "/api/runs/1/probe/99999.png",
                                  "/api/runs/1/frames/99", "/api/runs/1/frames/1?projection=umap"])
def test_unknown_epoch_or_sample_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and "detail" in response.json()


def test_epochs_are_the_stored_series(client: TestClient, sessions) -> None:
    body = client.get("/api/runs/1/epochs").json()
    with sessions() as session:
        rows = session.scalars(select(Epoch).where(Epoch.run_id == 1).order_by(Epoch.epoch)).all()
    assert set(body) == set(EpochSeries.model_fields)
    for name, values in body.items():
        assert values == [getattr(row, name) for row in rows], name


def test_classes_are_epoch_by_class_tables(client: TestClient, sessions) -> None:
    body = client.get("/api/runs/1/classes").json()
    with sessions() as session:
        rows = session.scalars(select(ClassEpoch).where(ClassEpoch.run_id == 1)).all()
    assert body["epoch"] == [1, 2, 3] and len(body["class_names"]) == 10
    for row in rows:
        for name in ("within_class_variance", "nearest_class", "nearest_distance", "test_accuracy"):
            assert body[name][row.epoch - 1][row.class_index] == getattr(row, name)


def test_centers_decode_to_the_stored_arrays(client: TestClient, sessions) -> None:
    response = client.get("/api/runs/1/centers/2")
    body = response.json()
    with sessions() as session:
        snapshot = session.get(EmbeddingSnapshot, (1, 2))
    assert np.array_equal(decode(body["class_centers"]), snapshot.class_centers)
    assert np.array_equal(decode(body["center_distances"]), snapshot.center_distances)
    assert body["class_centers"]["shape"] == list(snapshot.class_centers.shape)
    assert body["method_centers"] is None and response.headers["cache-control"] == IMMUTABLE


def test_probe_and_thumbnails_are_the_stored_samples(client: TestClient, sessions) -> None:
    body = client.get("/api/runs/1/probe").json()
    with sessions() as session:
        samples = session.scalars(select(ProbeSample).where(ProbeSample.run_id == 1)
                                  .order_by(ProbeSample.position)).all()
    assert body["size"] == len(samples) and "shape" not in body["labels"]
    assert decode(body["labels"]).tolist() == [sample.label for sample in samples]
    assert decode(body["dataset_index"]).tolist() == [sample.dataset_index for sample in samples]
    thumbnail = client.get(body["thumbnail_url"].replace("{position}", "5"))
    assert thumbnail.headers["content-type"] == "image/png"
    assert thumbnail.headers["cache-control"] == IMMUTABLE
    assert thumbnail.content == samples[5].thumbnail and thumbnail.content.startswith(b"\x89PNG")


def test_frames_decode_to_the_stored_projections(client: TestClient, sessions) -> None:
    response = client.get("/api/runs/1/frames?projection=pca")
    frames = Frames.model_validate(response.json())
    assert (frames.epochs, frames.pending) == ([1, 2, 3], [])
    with sessions() as session:
        for frame in frames.frames:
            stored = session.scalars(select(Projection).where(
                Projection.run_id == 1, Projection.epoch == frame.epoch, Projection.projection == "pca",
            )).one()
            snapshot = session.get(EmbeddingSnapshot, (1, frame.epoch))
            assert frame.status == "ok" and frame.trustworthiness == stored.trustworthiness
            assert np.array_equal(decode_typed(frame.points), stored.points)
            assert np.array_equal(decode_typed(frame.centers), stored.centers)
            assert np.array_equal(decode_typed(frame.predictions), snapshot.probe_predictions)
            assert np.array_equal(decode_typed(frame.confidences), snapshot.probe_confidences)
            assert frame.points.dtype == "f4" and frame.points.shape == [len(stored.points), 2]


def test_one_frame_is_cached_once_its_run_has_finished(client: TestClient) -> None:
    everything = client.get("/api/runs/1/frames").json()
    response = client.get("/api/runs/1/frames/2?projection=pca")
    assert response.json() == everything["frames"][1]
    assert response.headers["cache-control"] == IMMUTABLE


def test_frames_of_a_running_run_are_not_cached(client: TestClient, sessions) -> None:
    with sessions.begin() as session:
        session.get(Run, 2).status = "running"
    try:
        response = client.get("/api/runs/2/frames/2")
    finally:
        with sessions.begin() as session:
            session.get(Run, 2).status = "completed"
    assert response.status_code == 200 and "cache-control" not in response.headers


def test_frames_list_pending_epochs_of_other_projections(client: TestClient) -> None:
    body = client.get("/api/runs/1/frames?projection=umap").json()
    assert (body["frames"], body["pending"]) == ([], [1, 2, 3])


def test_compare_aligns_the_second_run_to_the_first(client: TestClient) -> None:
    body = Comparison.model_validate(client.get("/api/compare?runs=1,2&projection=pca").json())
    own = {run_id: Frames.model_validate(client.get(f"/api/runs/{run_id}/frames").json())
           for run_id in (1, 2)}
    assert body.reference == 1 and [run.id for run in body.runs] == [1, 2]
    assert body.frames["1"] == own[1] and body.epochs["2"].epoch == [1, 2, 3]
    points = {run_id: {frame.epoch: decode_typed(frame.points) for frame in own[run_id].frames}
              for run_id in (1, 2)}
    similarity = align_to_reference(points[1], points[2])
    for frame, original in zip(body.frames["2"].frames, own[2].frames):
        assert np.array_equal(decode_typed(frame.points), similarity.apply(points[2][frame.epoch]))
        assert np.array_equal(decode_typed(frame.centers), similarity.apply(decode_typed(original.centers)))
        assert frame.predictions == original.predictions
    aligned = decode_typed(body.frames["2"].frames[-1].points)
    before = np.abs(points[2][3] - points[1][3]).mean()
    assert np.abs(aligned - points[1][3]).mean() <= before


def test_compare_refuses_runs_on_another_dataset_or_probe(client: TestClient, sessions) -> None:
    with sessions.begin() as session:
        base = session.get(Run, 1)
        other_dataset = Run(name="c10", method="ce", dataset="cifar10", model="resnet18", config={}, seed=0,
                            epochs_planned=1)
        other_probe = Run(name="p", method="ce", dataset="digits", model=base.model, config={}, seed=0,
                          epochs_planned=1)
        session.add_all([other_dataset, other_probe])
        session.flush()
        session.add(ProbeSample(run_id=other_probe.id, position=0, dataset_index=0, label=0, thumbnail=b""))
        ids = other_dataset.id, other_probe.id
    for run_id, reason in zip(ids, ("cifar10", "probe")):
        response = client.get(f"/api/compare?runs=1,{run_id}")
        assert response.status_code == 409 and reason in response.json()["detail"]


def test_csv_export_has_a_row_per_epoch(client: TestClient) -> None:
    response = client.get("/api/runs/1/export.csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    series = client.get("/api/runs/1/epochs").json()
    assert response.headers["content-disposition"].startswith("attachment;")
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    assert [float(row["test_top1"]) for row in rows] == series["test_top1"]


def test_html_export_is_a_self_contained_animation(client: TestClient) -> None:
    response = client.get("/api/runs/1/export.html?projection=pca")
    page = response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<script src=" not in page and "Plotly.newPlot" in page and '"bdata"' in page
    assert all(f'"name": "{epoch}"' in page or f'"name":"{epoch}"' in page for epoch in (1, 2, 3))
    assert client.get("/api/runs/1/export.html?projection=umap").status_code == 404


@pytest.fixture
def frontend(tmp_path: Path) -> Path:
    for name in ("index.html", "run.html", "compare.html"):
        (tmp_path / name).write_text(f"<title>{name}</title>")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "api.js").write_text("export const x = 1;")
    (tmp_path.parent / "secret.txt").write_text("outside")
    return tmp_path


def test_pages_and_static_files_come_from_the_frontend_folder(db: str, frontend: Path) -> None:
    client = TestClient(make_app(db, frontend_dir=frontend))
    for path, name in (("/", "index.html"), ("/run/1", "run.html"), ("/compare?runs=1,2", "compare.html")):
        assert client.get(path).text == f"<title>{name}</title>"
    script = client.get("/static/js/api.js")
    assert script.text == "export const x = 1;"
    assert script.headers["content-type"].startswith("text/javascript")
    for attempt in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/..%2fsecret.txt",
                    "/static/js/../../secret.txt", "/static//etc/passwd", "/static/js"):
        assert client.get(attempt).status_code == 404, attempt
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and plotly.headers["content-type"].startswith("text/javascript")


def test_a_missing_page_is_a_404_with_a_message(db: str, tmp_path: Path) -> None:
    response = TestClient(make_app(db, frontend_dir=tmp_path)).get("/")
    assert response.status_code == 404 and "index.html" in response.json()["detail"]


def test_gzip_where_it_pays_and_schema_is_documented(client: TestClient) -> None:
    assert "content-encoding" not in client.get("/api/health").headers  # too small to pay
    assert client.get("/api/runs/1/classes").headers["content-encoding"] == "gzip"
    for typed_arrays in ("/api/runs/1/frames", "/api/runs/1/frames/1", "/api/compare?runs=1,2"):
        assert "content-encoding" not in client.get(typed_arrays).headers
    paths = client.get("/openapi.json").json()["paths"]
    documented = {"/api/runs/{run_id}/frames", "/api/compare", "/api/events", "/api/runs/{run_id}/export.csv"}
    assert documented <= set(paths)
    assert client.get("/docs").status_code == 200

