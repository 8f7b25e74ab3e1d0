"""The run queue over HTTP: queue runs and suites, cancel runs, token rules, and a worker training a run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.routes.events import StoreWatcher
from store import Run, create_db_engine, session_factory
from tests.backend.api_support import WRITE_HEADERS, copy_database, make_app
from tests.conftest import ROOT, centerlens

TOKEN = "s3cret-token"


@pytest.fixture
def db(trained_db, tmp_path: Path) -> str:
    """A private copy of the two completed digits runs (ids 1 and 2)."""
    return copy_database(trained_db.url, tmp_path)


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    """A loopback server with no token: writes are open."""
    with TestClient(make_app(db), headers=WRITE_HEADERS) as test_client:
        yield test_client


def stored_run(db: str, run_id: int) -> Run:
    engine = create_db_engine(db)
    with session_factory(engine)() as session:
        run = session.get(Run, run_id)
    engine.dispose()
    return run


def test_a_queued_run_is_listed_as_queued_and_announced_as_a_run_event(client: TestClient, db: str) -> None:
    engine = create_db_engine(db)
    watcher = StoreWatcher(session_factory(engine))
    settings = {"method": "csd", "epochs": 2, "seed": 3, "temperature": 2.0, "beta": 0.7}
    response = client.post("/api/runs", json=settings)
    assert response.status_code == 201
    run = response.json()
    assert response.headers["location"] == f"/api/runs/{run['id']}"
    assert (run["name"], run["status"], run["epochs_planned"]) == ("csd-digits-s3", "queued", 2)
    assert client.get("/api/runs").json()[0] == run
    config = client.get(f"/api/runs/{run['id']}").json()["config"]
    assert {key: config[key] for key in settings} == settings and config["data_dir"] == "data"
    events = [(event.event, event.data) for event in watcher.poll()]
    assert events == [("run", {"run_id": run["id"], "status": "queued"})]
    engine.dispose()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "telepathy"}, "unknown method 'telepathy' (choose from ce, ls, cs_kd, ps_kd, bake, csd)"),
        ({"colour": "red"}, "unknown setting 'colour'"),
        ({"epochs": 0}, "epochs must be between 1 and 10000 (got 0)"),
        ({"epochs": "ten"}, "epochs must be an integer (got 'ten')"),
        ({"epochs": "5"}, "epochs must be an integer (got '5')"),
        ({"epochs": True}, "epochs must be an integer (got True)"),
        ({"workers": 48}, "workers must be between 0 and 32 (got 48)"),
        ({"threads": 2**31 - 1}, "threads must be between 0 and 256 (got 2147483647)"),
        ({"batch_size": 2**31 - 1}, "batch_size must be between 2 and 65536 (got 2147483647)"),
        ({"momentum": -5}, "momentum must be at least 0 and below 1 (got -5)"),
        ({"weight_decay": -1}, "weight_decay must be between 0 and 1 (got -1)"),
        ({"smoothing": 7}, "smoothing must be at least 0 and below 1 (got 7)"),
        ({"center_momentum": 5}, "center_momentum must be at least 0 and below 1 (got 5)"),
        ({"lr_milestones": []}, "lr_milestones must list 1 to 10 numbers (got [])"),
        ({"device": "meta"}, "device must be one of: auto, cpu, cuda, cuda:N (got 'meta')"),
        ({"alpha": 2}, "alpha must be between 0 and 1 (got 2)"),
        ({"method": "bake", "group_size": 0}, "group_size must be between 2 and 1024 (got 0)"),
        ({"checkpoint_dir": "/tmp/planted"}, "checkpoint_dir must lie inside a folder this server allows"),
        ({"data_dir": "/etc"}, "data_dir must lie inside a folder this server allows"),
        ({"beta": 1.5}, "beta must be between 0 and 1 (got 1.5)"),
        ({"seed": 2**40}, "seed must be between 0 and 2147483647 (got 1099511627776)"),
        ({"name": "x" * 201}, "name must be at most 200 characters (got 201)"),
        ({"db": "other.db"}, "db is not a setting here: a queued run is trained into this server's database"),
    ],
)
def test_bad_settings_are_a_422_with_one_line(client: TestClient, settings: dict, message: str) -> None:
    body = json.dumps(settings)  # ASCII: a lone surrogate travels as its \u escape, as a browser sends it
    response = client.post("/api/runs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith(message)
    assert len(client.get("/api/runs").json()) == 2


def test_run_settings_schema_names_the_choices_and_defaults(client: TestClient) -> None:
    schema = client.get("/api/run-settings").json()
    method = schema["properties"]["method"]
    assert method["enum"] == ["ce", "ls", "cs_kd", "ps_kd", "bake", "csd"] and method["default"] == "ce"
    assert schema["properties"]["beta"]["default"] == 0.5 and "db" not in schema["properties"]
    assert schema["additionalProperties"] is False


def test_a_suite_is_queued_once_unless_forced(client: TestClient) -> None:
    demo = next(suite for suite in client.get("/api/suites").json() if suite["name"] == "demo")
    assert (demo["runs"], demo["methods"], demo["epochs"], demo["queued"]) == (2, ["ce", "csd"], [15], False)
    assert demo["description"].startswith("The digits demo")
    first = client.post("/api/suites/demo")
    assert first.status_code == 201
    assert [run["name"] for run in first.json()["runs"]] == ["ce-digits", "csd-digits"]
    again = client.post("/api/suites/demo")
    assert again.status_code == 409 and "already queued" in again.json()["detail"]
    assert next(suite for suite in client.get("/api/suites").json() if suite["name"] == "demo")["queued"]
    assert client.post("/api/suites/demo?force=true").status_code == 201
    assert len(client.get("/api/runs").json()) == 2 + 4


@pytest.mark.parametrize(
    "name", ["nope", "demo.yaml", "..", "..%2Fpyproject", "%2e%2e%2fconfigs%2fdemo", "..%2F..%2Fetc%2Fpasswd"]
)
def test_only_files_in_configs_can_be_queued(client: TestClient, name: str) -> None:
    response = client.post(f"/api/suites/{name}")
    assert response.status_code == 404
    assert len(client.get("/api/runs").json()) == 2


def test_a_link_out_of_the_configs_folder_is_not_a_suite(db: str, tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "outside.yaml").symlink_to(ROOT / "configs" / "demo.yaml")
    (configs / "broken.yaml").write_text("# a suite with a typo\nruns:\n  - {method: telepathy}\n")
    with TestClient(make_app(db, configs_dir=configs), headers=WRITE_HEADERS) as client:
        [broken] = client.get("/api/suites").json()
        assert broken["name"] == "broken" and "unknown method 'telepathy'" in broken["error"]
        assert client.post("/api/suites/outside").status_code == 404
        assert client.post("/api/suites/broken").status_code == 422


def test_cancel_a_queued_run_then_a_finished_one_is_a_conflict(client: TestClient) -> None:
    run_id = client.post("/api/runs", json={"epochs": 1}).json()["id"]
    cancelled = client.post(f"/api/runs/{run_id}/cancel")
    assert cancelled.json() == {"run_id": run_id, "status": "cancelled", "message": "cancelled"}
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 409
    completed = client.post("/api/runs/1/cancel")
    assert (completed.status_code, completed.json()) == (409, {"detail": "run 1 is already completed"})
    assert client.post("/api/runs/99/cancel").status_code == 404


def test_cancel_a_running_run_asks_its_worker_to_stop(client: TestClient, db: str) -> None:
    run_id = client.post("/api/runs", json={"epochs": 1}).json()["id"]
    engine = create_db_engine(db)
    with session_factory(engine).begin() as session:
        session.get(Run, run_id).status = "running"
    engine.dispose()
    answer = client.post(f"/api/runs/{run_id}/cancel").json()
    assert answer == {"run_id": run_id, "status": "running", "message": "stops after its current epoch"}
    assert stored_run(db, run_id).cancel_requested


@pytest.mark.parametrize(
    ("host", "token", "header", "writes", "status"),
    [
        ("127.0.0.1", None, None, "open", 201),
        ("::1", None, None, "open", 201),
        ("localhost", None, None, "open", 201),
        ("0.0.0.0", None, None, "disabled", 403),
        ("0.0.0.0", None, f"Bearer {TOKEN}", "disabled", 403),
        ("0.0.0.0", TOKEN, None, "token", 401),
        ("0.0.0.0", TOKEN, "Bearer wrong", "token", 401),
        ("0.0.0.0", TOKEN, f"Basic {TOKEN}", "token", 401),
        ("0.0.0.0", TOKEN, f"Bearer {TOKEN}", "token", 201),
        ("127.0.0.1", TOKEN, None, "token", 401),
        ("127.0.0.1", TOKEN, f"Bearer {TOKEN}", "token", 201),
    ],
)
def test_writes_need_the_token_beyond_loopback(
    db: str, host: str, token: str | None, header: str | None, writes: str, status: int
) -> None:
    headers = {"Authorization": header} if header else {}
    with TestClient(make_app(db, host=host, token=token), headers=WRITE_HEADERS) as client:
        assert client.get("/api/health").json()["writes"] == writes
        response = client.post("/api/runs", json={"epochs": 1}, headers=headers)
        assert response.status_code == status, response.json()
        if status == 403:
            assert response.json() == {"detail": "writes are disabled: set CENTERLENS_TOKEN"}
        for path in ("/api/runs/1/cancel", "/api/suites/demo"):
            expected = 409 if status == 201 and path.endswith("cancel") else status
            assert client.post(path, headers=headers).status_code == expected
        assert client.get("/api/suites").status_code == 200  # reads stay open


def test_a_run_queued_over_http_is_trained_by_a_worker(client: TestClient, db: str, tmp_path: Path) -> None:
    settings = {"dataset": "digits", "epochs": 1, "batch_size": 64}
    run_id = client.post("/api/runs", json=settings).json()["id"]
    centerlens("worker", "--db", db, "--exit-when-empty", "--poll", "0.2")
    run = client.get(f"/api/runs/{run_id}").json()
    assert (run["status"], run["epochs_done"], run["epochs_planned"]) == ("completed", 1, 1)
    assert client.get(f"/api/runs/{run_id}/epochs").json()["epoch"] == [1]
