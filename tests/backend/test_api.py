"""Every endpoint over HTTP on real digits runs projected by the real projector (docs/api.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, Float, select

from backend.arrays import decode_typed
from backend.schemas import Comparison, Frames, TypedArray
from store import ClassEpoch, EmbeddingSnapshot, Epoch, ProbeSample, Projection, Run, create_db_engine
from store import session_factory as make_sessions
from store.engine import open_sessions
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


CLASSES = 4
CLASS_FIELDS = ("within_class_variance", "center_norm", "nearest_distance", "test_accuracy")


def written_value(run_id: int, epoch: int, field: int, class_index: int = 0) -> float:
    """A value no other (run, epoch, field, class) has: a swapped, misordered or foreign value shows."""
    return run_id * 10_000 + epoch * 1_000 + field * 10 + class_index + 0.25


def written_epoch(run_id: int, epoch: int) -> dict[str, object]:
    """Known unique values for every float (metric) and JSON column of an ``epochs`` row."""
    values: dict[str, object] = {}
    for field, column in enumerate(Epoch.__table__.columns):
        if isinstance(column.type, Float):
            values[column.name] = written_value(run_id, epoch, field)
        elif isinstance(column.type, JSON):
            values[column.name] = {"part": written_value(run_id, epoch, field)}
    return {**values, "train_distill": None}


@pytest.fixture
def written(db_url: str) -> Iterator[TestClient]:
    """Two runs whose epoch and class rows hold known unique values, written out of epoch order."""
    sessions = open_sessions(db_url)
    with sessions.begin() as session:
        runs = [Run(name=f"written-{k}", method="ce", dataset="digits", model="small_cnn", config={}, seed=k,
                    epochs_planned=3, status="completed", num_classes=CLASSES,
                    class_names=[f"class {c}" for c in range(CLASSES)]) for k in (1, 2)]
        session.add_all(runs)
        session.flush()
        for epoch in (3, 1, 2):
            for run in runs:
                session.add(Epoch(run_id=run.id, epoch=epoch, **written_epoch(run.id, epoch)))
                session.add_all(ClassEpoch(
                    run_id=run.id, epoch=epoch, class_index=c, nearest_class=(c + epoch) % CLASSES,
                    **{name: written_value(run.id, epoch, i, c) for i, name in enumerate(CLASS_FIELDS)},
                ) for c in range(CLASSES))
    with TestClient(make_app(db_url)) as client:
        yield client


def test_epochs_are_the_written_rows_in_epoch_order(written: TestClient) -> None:
    for run_id in (1, 2):
        body = written.get(f"/api/runs/{run_id}/epochs").json()
        expected = [written_epoch(run_id, epoch) for epoch in (1, 2, 3)]
        assert body.pop("epoch") == [1, 2, 3]
        missing = set(expected[0]) - set(body) - {"record_seconds"}
        assert not missing, f"columns missing from the epochs response: {sorted(missing)}"
        for name, series in body.items():
            assert name in expected[0], f"no check for the epochs field {name}"
            assert series == [row[name] for row in expected], name


def test_classes_are_the_written_rows_by_epoch_and_class(written: TestClient) -> None:
    for run_id in (1, 2):
        expected = {
            "epoch": [1, 2, 3],
            "class_names": [f"class {c}" for c in range(CLASSES)],
            "nearest_class": [[(c + epoch) % CLASSES for c in range(CLASSES)] for epoch in (1, 2, 3)],
            **{name: [[written_value(run_id, epoch, i, c) for c in range(CLASSES)] for epoch in (1, 2, 3)]
               for i, name in enumerate(CLASS_FIELDS)},
        }
        assert written.get(f"/api/runs/{run_id}/classes").json() == expected


def test_nearest_classes_are_those_of_the_stored_centers(client: TestClient, sessions) -> None:
    body = client.get("/api/runs/1/classes").json()
    assert body["epoch"] == [1, 2, 3] and body["class_names"] == [str(digit) for digit in range(10)]
    with sessions() as session:
        for row, epoch in enumerate(body["epoch"]):
            centers = session.get(EmbeddingSnapshot, (1, epoch)).class_centers.astype(np.float64)
            distances = np.linalg.norm(centers[:, None] - centers[None], axis=2) + np.diag([np.inf] * 10)
            assert body["nearest_class"][row] == distances.argmin(axis=1).tolist()
            np.testing.assert_allclose(body["nearest_distance"][row], distances.min(axis=1), rtol=1e-5)
            query = select(ClassEpoch).where(ClassEpoch.run_id == 1, ClassEpoch.epoch == epoch)
            stored = session.scalars(query.order_by(ClassEpoch.class_index)).all()
            for name in (*CLASS_FIELDS, "nearest_class"):
                assert body[name][row] == [getattr(stored_row, name) for stored_row in stored], name


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


def least_squares_similarity(source: np.ndarray, target: np.ndarray):
    """The scale, orthogonal map and shift taking ``source`` closest to ``target`` (Umeyama 1991, via SVD)."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    centred = source - source_mean
    u, singular, vt = np.linalg.svd(centred.T @ (target - target_mean))
    scale = singular.sum() / np.sum(centred**2)
    return lambda points: scale * (points - source_mean) @ (u @ vt) + target_mean


def frames_of(client: TestClient, url: str) -> dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """(points, centers) by run and epoch of a comparison response."""
    body = Comparison.model_validate(client.get(url).json())
    return {run: {frame.epoch: (decode_typed(frame.points), decode_typed(frame.centers))
                  for frame in frames.frames} for run, frames in body.frames.items()}


def test_compare_aligns_the_second_run_to_the_first(client: TestClient) -> None:
    body = Comparison.model_validate(client.get("/api/compare?runs=1,2&projection=pca").json())
    own = {run_id: Frames.model_validate(client.get(f"/api/runs/{run_id}/frames").json())
           for run_id in (1, 2)}
    assert body.reference == 1 and [run.id for run in body.runs] == [1, 2]
    assert body.frames["1"] == own[1] and body.epochs["2"].epoch == [1, 2, 3]
    points = {run_id: np.concatenate([decode_typed(frame.points) for frame in own[run_id].frames])
              for run_id in (1, 2)}
    expected = least_squares_similarity(points[2].astype(np.float64), points[1].astype(np.float64))
    spread = np.abs(points[1]).max()
    for frame, original in zip(body.frames["2"].frames, own[2].frames, strict=True):
        for name in ("points", "centers"):
            np.testing.assert_allclose(decode_typed(getattr(frame, name)),
                                       expected(decode_typed(getattr(original, name))), atol=1e-5 * spread)
        assert frame.predictions == original.predictions
    aligned = np.concatenate([decode_typed(frame.points) for frame in body.frames["2"].frames])
    assert np.sum((aligned - points[1]) ** 2) < np.sum((points[2] - points[1]) ** 2)


@pytest.mark.parametrize("mirror", [1, -1], ids=["rotated", "rotated-and-reflected"])
def test_compare_undoes_a_known_rotation_scale_and_shift(db_url: str, mirror: int) -> None:
    cos, sin = np.cos(0.7), np.sin(0.7)
    rotation = np.array([[cos, -sin], [sin, cos]]) @ np.diag([1, mirror])

    def move(points: np.ndarray) -> np.ndarray:
        return (3.0 * points.astype(np.float64) @ rotation + np.array([5.0, -2.0])).astype(np.float32)

    rng = np.random.default_rng(4)
    layouts = {epoch: tuple(rng.normal(size=(n, 2)).astype(np.float32) for n in (50, 4))
               for epoch in (1, 2, 3)}  # 50 probe points and 4 class centers per epoch
    with open_sessions(db_url).begin() as session:  # run 2's frames are a moved copy of run 1's
        runs = [Run(name=f"frames-{k}", method="ce", dataset="digits", model="small_cnn", config={}, seed=k,
                    epochs_planned=3, status="completed") for k in (1, 2)]
        session.add_all(runs)
        session.flush()
        for run, moved in zip(runs, (False, True)):
            session.add_all(ProbeSample(run_id=run.id, position=i, dataset_index=3 * i, label=i % 4,
                                        thumbnail=b"") for i in range(50))
            session.add_all(Projection(run_id=run.id, epoch=epoch, projection="pca", frame="run", status="ok",
                                       points=move(points) if moved else points,
                                       centers=move(centers) if moved else centers)
                            for epoch, (points, centers) in layouts.items())
    with TestClient(make_app(db_url)) as client:
        onto_first = frames_of(client, "/api/compare?runs=1,2&projection=pca")
        onto_second = frames_of(client, "/api/compare?runs=2,1&projection=pca")
    assert sorted(onto_first["2"]) == sorted(onto_second["1"]) == [1, 2, 3]
    for epoch, (points, centers) in layouts.items():
        np.testing.assert_allclose(onto_first["2"][epoch][0], points, atol=1e-5)
        np.testing.assert_allclose(onto_first["2"][epoch][1], centers, atol=1e-5)
        np.testing.assert_allclose(onto_second["1"][epoch][0], move(points), atol=3e-5)
        np.testing.assert_allclose(onto_second["1"][epoch][1], move(centers), atol=3e-5)


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

