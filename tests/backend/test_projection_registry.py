"""A projection registered at run time goes the whole way: the CLI and the worker compute it, the API
lists it, serves its frames and compares runs with it; unregistered, every route refuses it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend import projector_cli
from backend.arrays import decode_typed
from backend.projections import PROJECTIONS, Projection, register_projection
from backend.projector import ProjectorWorker
from backend.schemas import Frames
from store import EmbeddingSnapshot, open_sessions
from tests.backend.api_support import make_app
from tests.backend.test_projector import add_epoch, add_run


class FirstTwoDimensions(Projection):
    """The first two feature dimensions, as they are."""

    name, label, linear = "first_two", "First two dimensions", True
    description = "The first two feature dimensions, unprojected"

    def layout(self, features, centers, previous, fitted):
        return features[:, :2], centers[:, :2]


@pytest.fixture
def first_two() -> Iterator[type[Projection]]:
    """The toy projection, registered for one test."""
    register_projection(FirstTwoDimensions)
    yield FirstTwoDimensions
    PROJECTIONS.pop(FirstTwoDimensions.name)


def test_a_projection_registered_at_test_time_is_computed_listed_and_served(db_url: str, first_two) -> None:
    sessions = open_sessions(db_url)
    run_ids = [add_run(sessions, status="completed") for _ in range(2)]
    for run_id in run_ids:
        for epoch in (1, 2):
            add_epoch(sessions, run_id, epoch)
    assert "first_two" in [projection.name for projection in ProjectorWorker(sessions).projections]
    assert projector_cli.main(["--db", db_url, "--projection", "first_two"]) == 0
    with TestClient(make_app(db_url)) as client:
        listed = client.get("/api/projections").json()
        assert listed[:2] == [
            {"name": "pca", "label": "PCA", "description": PROJECTIONS["pca"].description, "linear": True},
            {"name": "umap", "label": "UMAP", "description": PROJECTIONS["umap"].description,
             "linear": False},
        ]
        assert listed[2:] == [{"name": "first_two", "label": "First two dimensions",
                               "description": FirstTwoDimensions.description, "linear": True}]
        answer = client.get(f"/api/runs/{run_ids[0]}/frames?projection=first_two")
        frames = Frames.model_validate(answer.json())
        assert (frames.projection, frames.epochs, frames.pending) == ("first_two", [1, 2], [])
        with sessions() as session:
            features = session.get(EmbeddingSnapshot, (run_ids[0], 2)).probe_features
        points = decode_typed(frames.frames[1].points)
        np.testing.assert_array_equal(points, features[:, :2].astype(np.float32))
        assert frames.frames[1].procrustes_residual is not None and frames.frames[1].trustworthiness > 0
        one = client.get(f"/api/runs/{run_ids[0]}/frames/2?projection=first_two")
        assert one.status_code == 200 and one.json() == answer.json()["frames"][1]
        compared = client.get(f"/api/compare?runs={run_ids[0]},{run_ids[1]}&projection=first_two").json()
        assert compared["frames"][str(run_ids[1])]["epochs"] == [1, 2]
        assert client.get(f"/api/runs/{run_ids[0]}/frames?projection=pca").json()["frames"] == []
        PROJECTIONS.pop("first_two")
        try:
            refused = client.get(f"/api/runs/{run_ids[0]}/frames?projection=first_two")
        finally:
            register_projection(FirstTwoDimensions)
    assert refused.status_code == 422
    assert "projection must be one of pca, umap" in str(refused.json()["detail"])


@pytest.mark.parametrize("path", ["/api/runs/1/frames", "/api/runs/1/frames/1", "/api/runs/1/export.html",
                                  "/api/compare?runs=1,2"])
def test_every_frames_route_names_the_registered_projections_when_one_is_unknown(db_url, path: str) -> None:
    sessions = open_sessions(db_url)
    add_run(sessions), add_run(sessions)
    with TestClient(make_app(db_url)) as client:
        separator = "&" if "?" in path else "?"
        response = client.get(f"{path}{separator}projection=tsne")
    assert response.status_code == 422
    assert "projection must be one of pca, umap" in str(response.json()["detail"])


def test_the_old_method_parameter_is_refused_with_what_to_write_instead(db_url: str) -> None:
    sessions = open_sessions(db_url)
    run_id = add_run(sessions)
    with TestClient(make_app(db_url)) as client:
        response = client.get(f"/api/runs/{run_id}/frames?method=umap")
    assert response.status_code == 422
    assert "renamed: name the projection as ?projection=" in str(response.json()["detail"])
