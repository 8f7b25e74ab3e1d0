"""The studies API over HTTP on a real tiny study: list, groups and their statistics against numpy, errors."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.backend.api_support import make_app
from tests.backend.test_report import numpy_statistics
from tests.study_support import CANCELLED, shared_study_database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return shared_study_database(tmp_path_factory)


@pytest.fixture(scope="module")
def client(study_db: str) -> Iterator[TestClient]:
    with TestClient(make_app(study_db)) as test_client:
        yield test_client


def test_the_study_is_listed_with_its_runs(client: TestClient) -> None:
    assert client.get("/api/studies").json() == [{"name": "tiny", "runs": 6}]


def test_groups_members_and_statistics_equal_numpy(client: TestClient, study_db: str) -> None:
    response = client.get("/api/studies/tiny")
    assert response.status_code == 200
    detail = response.json()
    assert detail["name"] == "tiny" and detail["metric"] == "test_top1"
    names = [column["name"] for column in detail["columns"]]
    assert "final_top1_error" in names and "best_nc1" in names and "epoch_seconds" in names
    groups = {group["label"]: group for group in detail["groups"]}
    assert sorted(groups) == ["ce", "csd beta=0.25", "csd beta=0.75"]
    unfinished = groups["csd beta=0.75"]
    members = {member["name"]: member for member in unfinished["members"]}
    assert members[CANCELLED]["status"] == "cancelled" and not members[CANCELLED]["counted"]
    assert [m["counted"] for m in members.values()].count(True) == 1 and unfinished["counted"] == 1
    assert unfinished["statistics"]["final_top1_error"]["n"] == 1
    assert unfinished["statistics"]["final_top1_error"]["std"] is None
    expected = numpy_statistics(study_db)
    for group in detail["groups"]:
        for name, statistic in group["statistics"].items():
            mean, std, n = expected[(group["key"], name)]
            assert statistic["n"] == n
            assert statistic["mean"] == pytest.approx(mean, rel=1e-9)
            assert statistic["std"] == (None if std is None else pytest.approx(std, rel=1e-9))
    ce = groups["ce"]
    assert ce["counted"] == 2 and {m["status"] for m in ce["members"]} == {"completed"}


def test_best_per_column_is_the_lowest_mean(client: TestClient) -> None:
    groups = client.get("/api/studies/tiny").json()["groups"]
    for name in groups[0]["statistics"]:
        lowest = min(g["statistics"][name]["mean"] for g in groups)
        holders = [g["label"] for g in groups if name in g["best"]]
        assert holders and all(
            next(g for g in groups if g["label"] == label)["statistics"][name]["mean"] == lowest
            for label in holders
        )


def test_curves_are_mean_and_std_of_the_counted_members(client: TestClient, study_db: str) -> None:
    from sqlalchemy import select

    from store import Epoch, Run, open_sessions

    detail = client.get("/api/studies/tiny?metric=nc1").json()
    assert detail["metric"] == "nc1"
    ce = next(group for group in detail["groups"] if group["label"] == "ce")
    ids = [member["id"] for member in ce["members"]]
    with open_sessions(study_db)() as session:
        query = select(Epoch.run_id, Epoch.epoch, Epoch.nc1).join(Run).where(Run.id.in_(ids))
        rows = session.execute(query.order_by(Epoch.epoch)).all()
    values = np.array([[v for run_id, e, v in rows if e == epoch] for epoch in ce["curve"]["epoch"]])
    assert ce["curve"]["n"] == [2] * len(values)
    assert ce["curve"]["mean"] == pytest.approx(values.mean(axis=1).tolist())
    assert ce["curve"]["std"] == pytest.approx(values.std(axis=1, ddof=1).tolist())


def test_an_unknown_study_or_metric_is_refused_with_a_message(client: TestClient) -> None:
    missing = client.get("/api/studies/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    bad = client.get("/api/studies/tiny?metric=telepathy")
    assert bad.status_code == 422 and "unknown metric 'telepathy'" in bad.json()["detail"]
