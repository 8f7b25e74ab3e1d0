"""Property-based requests over the OpenAPI schema (schemathesis), and hostile bodies sent to every write
endpoint: no input makes the server fail.

Every documented operation except the endless event stream gets generated path and query
values (writes with the dashboard's request header, so they reach the routes); each answer must be
a non-5xx that matches its documented schema. (The pytest plugin's lazy loader does not run under
pytest 9, so each operation's strategy is driven by Hypothesis.) Then Hypothesis builds hostile
write requests: bodies over the size cap, JSON of the wrong shape and type, huge numbers, NaN,
lone surrogates, NUL bytes, paths out of the data folder, deep nesting, bytes that are no UTF-8,
under several content types; each must be a 4xx (or a 2xx) whose ``detail`` is one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from backend.queueing import settings_schema
from tests.backend.api_support import WRITE_HEADERS, copy_database, make_app, project

MEGABYTE = 1_048_576
HOSTILE_EXAMPLES = 300


@pytest.fixture(scope="module")
def api_schema(trained_db, tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    """The live app's own OpenAPI schema, on a projected copy of the trained runs."""
    url = copy_database(trained_db.url, tmp_path_factory.mktemp("fuzz"))
    project(url)
    return schemathesis.openapi.from_asgi("/openapi.json", make_app(url))


def _operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    operations = [result.ok() for result in schema.get_all_operations()]
    return [operation for operation in operations if operation.path != "/api/events"]


def _cases(operation: schemathesis.APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    return st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))


def _aim_at_real_data(case: schemathesis.Case, run_id: int | None, epoch: int) -> None:
    """Point some generated cases at recorded runs and epochs, so the data paths are fuzzed too."""
    parameters = case.path_parameters or {}
    if run_id is None:
        return
    if isinstance(parameters.get("run_id"), int):
        parameters["run_id"] = run_id
    for name in ("epoch", "position"):
        if isinstance(parameters.get(name), int):
            parameters[name] = epoch
    if isinstance(case.query, dict) and "runs" in case.query:
        case.query["runs"] = f"{run_id},{3 - run_id}"


def test_no_generated_request_is_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    operations = _operations(api_schema)
    assert len(operations) >= 12
    statuses: dict[int, int] = {}
    for operation in operations:

        @given(case=_cases(operation), run_id=st.sampled_from([None, 1, 2]), epoch=st.integers(1, 3))
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case, run_id: int | None, epoch: int) -> None:
            _aim_at_real_data(case, run_id, epoch)
            response = case.call(headers=WRITE_HEADERS)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        no_server_error()
    print(f"schema fuzz: {sum(statuses.values())} requests over {len(operations)} operations, "
          f"statuses {sorted(statuses.items())}")


# strings a hostile client would try: lone surrogates, NUL, paths out of the data folder, huge ones
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\ud800", "\udfff", "a\ud83d", "\x00", "a\x00b", "../../etc/passwd", "/etc/shadow",
                     "~root", "..", "C:\\Windows", "\\\\host\\share", "file:///etc/passwd", "%2e%2e%2f",
                     "data/../../..", "\u202e", "\ufeff", "x" * 10_000]),
    st.builds(lambda n: "\U0001f600" * n, st.integers(1, 3000)),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), HOSTILE_TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(HOSTILE_TEXT, inner, max_size=4), max_leaves=12)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A request body and its content type (None: no Content-Type header)."""
    names = sorted(settings_schema()["properties"])
    kind = draw(st.sampled_from(["settings", "json", "nested", "huge", "bytes"]))
    if kind == "settings":  # real setting names with hostile values
        document = draw(st.dictionaries(st.sampled_from(names) | HOSTILE_TEXT, JSON_VALUES, max_size=6))
        body = json.dumps(document).encode()
    elif kind == "json":  # any JSON document: arrays, strings, numbers at the top
        body = json.dumps(draw(JSON_VALUES)).encode()
    elif kind == "nested":
        depth = draw(st.integers(100, 200_000))
        body = draw(st.sampled_from([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth]))
    elif kind == "huge":
        body = b'{"name": "' + b"x" * (MEGABYTE + draw(st.integers(0, 4096))) + b'"}'
    else:
        body = draw(st.binary(max_size=2000) | st.just(b'{"name": "\xff\xfe"}') | st.just(b'{"epochs": 1'))
    content_type = draw(st.sampled_from(["application/json", "application/json; charset=latin-1",
                                         "text/plain", "application/x-www-form-urlencoded",
                                         "multipart/form-data", "application/vnd.api+json", None]))
    return body, content_type


WRITE_PATHS = st.one_of(
    st.just("/api/runs"),
    st.sampled_from(["/api/runs/1/cancel", "/api/runs/99999/cancel", "/api/runs/0/cancel",
                     "/api/runs/x/cancel"]),
    st.sampled_from(["/api/suites/demo", "/api/suites/demo?force=true", "/api/suites/..%2F..%2Fetc%2Fpasswd",
                     "/api/suites/%00", "/api/suites/%ED%A0%80", "/api/suites/" + "a" * 5000,
                     "/api/suites/demo?force=maybe"]),
)


@dataclass
class Tally:
    """What the hostile bodies got back."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    longest_detail: int = 0


def test_hostile_write_bodies_are_never_a_server_error(trained_db, tmp_path) -> None:
    url = copy_database(trained_db.url, tmp_path)
    tally = Tally()
    with TestClient(make_app(url), headers=WRITE_HEADERS, raise_server_exceptions=False) as client:

        @given(path=WRITE_PATHS, request_body=hostile_bodies())
        @settings(max_examples=HOSTILE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def no_server_error(path: str, request_body: tuple[bytes, str | None]) -> None:
            body, content_type = request_body
            headers = {"Content-Type": content_type} if content_type else {}
            response = client.post(path, content=body, headers=headers)
            tally.requests += 1
            tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                tally.server_errors.append(f"{path} {body[:80]!r}: {response.status_code}")
                return
            if response.status_code >= 400:
                detail = response.json()["detail"]
                assert isinstance(detail, str) and "\n" not in detail, (path, body[:80], detail[:200])
                tally.longest_detail = max(tally.longest_detail, len(detail))

        no_server_error()
    print(f"hostile write bodies: {tally.requests} requests, statuses {sorted(tally.statuses.items())}, "
          f"{len(tally.server_errors)} server errors, longest detail {tally.longest_detail} characters")
    assert tally.server_errors == []
    assert tally.requests >= HOSTILE_EXAMPLES and 413 in tally.statuses and 422 in tally.statuses
