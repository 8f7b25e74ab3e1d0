"""The timm/<name> model family as the server describes and accepts it, without timm or torch there:
/api/run-settings, /api/catalog and POST /api/runs all derive it from the catalog's one declaration."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from store import open_sessions
from tests.backend.api_support import WRITE_HEADERS, make_app
from tests.conftest import centerlens


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    open_sessions(db_url)
    with TestClient(make_app(db_url), headers=WRITE_HEADERS) as test_client:
        yield test_client


def test_run_settings_accept_the_fixed_models_and_any_timm_name(client: TestClient) -> None:
    model = client.get("/api/run-settings").json()["properties"]["model"]
    assert model["x-forms"] == ["auto", "small_cnn", "preact_resnet18", "resnet18", "timm/<name>"]
    fixed, family = model["anyOf"]
    assert fixed == {"enum": ["auto", "small_cnn", "preact_resnet18", "resnet18"]}
    for accepted in ("timm/resnet10t", "timm/vit_tiny.a_b-c", "timm/" + "x" * 35):
        assert re.match(family["pattern"], accepted), accepted
    for refused in ("timm/", "timm/a b", "timm/<name>", "timm/" + "x" * 36, "resnet10t"):
        assert not re.match(family["pattern"], refused), refused


def test_the_catalog_describes_the_timm_family(client: TestClient) -> None:
    models = {spec["name"]: spec for spec in client.get("/api/catalog").json()["models"]}
    timm = models["timm/<name>"]
    assert timm["pattern"] and "Any timm classifier" in timm["description"]
    assert models["small_cnn"]["pattern"] is None


def test_a_timm_model_is_queued_and_a_malformed_name_is_a_422(client: TestClient) -> None:
    queued = client.post("/api/runs", json={"model": "timm/resnet10t", "epochs": 1})
    assert queued.status_code == 201
    assert client.get(f"/api/runs/{queued.json()['id']}").json()["model"] == "timm/resnet10t"
    refused = client.post("/api/runs", json={"model": "timm/no such model"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == ("unknown model 'timm/no such model' (choose from auto, small_cnn, "
                                        "preact_resnet18, resnet18, timm/<name>)")
    assert len(client.get("/api/runs").json()) == 1


def test_help_names_the_timm_family() -> None:
    help_text = " ".join(centerlens("train", "--help").stdout.split())
    assert "one of auto, small_cnn, preact_resnet18, resnet18, timm/<name>" in help_text
