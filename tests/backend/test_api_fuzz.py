"""Property-based requests over the OpenAPI schema (schemathesis): no input makes the server fail.

Every documented operation except the endless event stream gets generated path and query
values; each answer must be a non-5xx that matches its documented schema. (The pytest plugin's
lazy loader does not run under pytest 9, so each operation's strategy is driven by Hypothesis.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.backend.api_support import copy_database, make_app, project


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
    for operation in operations:

        @given(case=_cases(operation), run_id=st.sampled_from([None, 1, 2]), epoch=st.integers(1, 3))
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case, run_id: int | None, epoch: int) -> None:
            _aim_at_real_data(case, run_id, epoch)
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        no_server_error()
