"""POST /api/suites/{name}: each refusal of the queue gets its own status and message."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from store import open_sessions
from tests.backend.api_support import WRITE_HEADERS, make_app

SEEDS = ", ".join(map(str, range(501)))
LARGE = f"runs:\n  - {{method: ce, dataset: digits, epochs: 1, seeds: [{SEEDS}]}}\n"


def test_a_suite_of_over_500_runs_needs_force_and_says_so(db_url: str, tmp_path: Path) -> None:
    open_sessions(db_url)  # the schema, as `centerlens serve` finds it after any command
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "large.yaml").write_text(LARGE)
    with TestClient(make_app(db_url, configs_dir=configs), headers=WRITE_HEADERS) as client:
        refused = client.post("/api/suites/large")
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        assert "501 runs, more than 500" in detail and "force=true" in detail and "already" not in detail
        assert client.get("/api/runs").json() == []
        assert client.post("/api/suites/large?force=true").status_code == 201
        again = client.post("/api/suites/large")
        assert again.status_code == 422 and "more than 500" in again.json()["detail"]
