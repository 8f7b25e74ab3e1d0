"""What the server refuses before any route runs: foreign Host names, cross-site writes, writes without
the dashboard's header or token, oversized bodies, lone surrogates, too many event streams; one-line
422s without the input; runs holding unencodable strings still served; ``serve --port`` checked.

Attacks go over real HTTP to a live uvicorn (raw sockets where a client would tidy the request up).
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session, sessionmaker

from backend.app import create_app
from backend.settings import Settings
from store import Run, open_sessions
from tests.backend.api_support import WRITE_HEADERS, live_server, make_app
from tests.conftest import ROOT, centerlens

TOKEN = "guard-token"
JSON = {"Content-Type": "application/json"}
MEGABYTE = 1_048_576
Sessions = sessionmaker[Session]
PORT_RANGE = "port must be between 1 and 65535"


@pytest.fixture
def sessions(db_url: str) -> Iterator[Sessions]:
    """Sessions on an empty database with the newest schema (the server refuses to create one)."""
    opened = open_sessions(db_url)
    yield opened
    opened.kw["bind"].dispose()


@pytest.fixture
def empty_db(db_url: str, sessions: Sessions) -> str:
    """The URL of that database."""
    return db_url


@pytest.fixture
def client(empty_db: str) -> Iterator[TestClient]:
    """A loopback server with no token (writes open to this machine's own pages)."""
    with TestClient(make_app(empty_db)) as test_client:
        yield test_client


def run_count(sessions: Sessions) -> int:
    with sessions() as session:
        return session.scalar(sql_select(func.count()).select_from(Run))


def raw_request(base: str, head: str, body: bytes = b"", wait: float = 10) -> tuple[int, bytes]:
    """Send a request head (and body) over a socket; the status and the body of the first answer."""
    host, port = base.removeprefix("http://").split(":")
    answer = b""
    with socket.create_connection((host, int(port)), timeout=wait) as connection:
        connection.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        try:
            while (chunk := connection.recv(65536)) and _first_body(answer := answer + chunk) is None:
                pass
        except (ConnectionResetError, TimeoutError):
            pass
    found = _first_body(answer)
    assert found is not None, f"no whole answer to {head.splitlines()[0]!r} within {wait} s: {answer[:200]!r}"
    return int(answer.split(b" ", 2)[1]), found


def _first_body(answer: bytes) -> bytes | None:
    """The body of the first answer in ``answer`` (by its Content-Length), or None while incomplete."""
    head, blank, rest = answer.partition(b"\r\n\r\n")
    lengths = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    if not blank or not lengths:
        return None
    length = int(lengths[0].split(b":")[1])
    return rest[:length] if len(rest) >= length else None


def detail(body: bytes) -> str:
    return json.loads(body)["detail"]


# --- 1. cross-site writes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},  # another port of this machine: another origin
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"},
    ],
)
def test_a_write_from_another_origin_is_refused(client: TestClient, sessions: Sessions,
                                                headers: dict) -> None:
    for path in ("/api/runs", "/api/suites/demo?force=true", "/api/runs/1/cancel"):
        response = client.post(path, json={"epochs": 1}, headers={**WRITE_HEADERS, **headers})
        assert response.status_code == 403
        assert response.json() == {"detail": "cross-site write refused: queue and cancel runs from this "
                                              "server's own pages"}
    assert run_count(sessions) == 0


def test_a_write_without_the_dashboard_header_is_refused(client: TestClient, sessions: Sessions) -> None:
    for headers in ({}, {"X-Centerlens-Request": "0"}):
        response = client.post("/api/suites/demo?force=true", headers=headers)
        assert response.status_code == 403
        assert response.json() == {"detail": "writes need the header X-Centerlens-Request: 1 (the dashboard "
                                             "sends it)"}
    assert run_count(sessions) == 0


def test_the_dashboards_own_writes_pass(client: TestClient, empty_db: str) -> None:
    own = {**WRITE_HEADERS, "Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    queued = client.post("/api/runs", json={"epochs": 1}, headers=own)
    assert queued.status_code == 201
    typed_url = {**WRITE_HEADERS, "Sec-Fetch-Site": "none"}
    assert client.post(f"/api/runs/{queued.json()['id']}/cancel", headers=typed_url).status_code == 200
    assert client.get("/api/runs", headers={"Origin": "http://evil.example"}).status_code == 200  # reads


# --- 2. DNS rebinding ----------------------------------------------------------------------------


def test_a_foreign_host_name_is_a_400_on_every_path(empty_db: str, sessions: Sessions) -> None:
    with live_server(make_app(empty_db)) as base:
        port = base.rsplit(":", 1)[1]
        for head in (f"GET /api/runs HTTP/1.1\nHost: evil.example:{port}\n",
                     "GET / HTTP/1.1\nHost: evil.example\n",
                     f"GET /static/js/api.js HTTP/1.1\nHost: 127.0.0.1.evil.example:{port}\n",
                     "GET /api/health HTTP/1.1\nHost: localhost:80:80\n",
                     "GET /api/health HTTP/1.1\nHost:\n",
                     f"POST /api/runs HTTP/1.1\nHost: evil.example:{port}\nX-Centerlens-Request: 1\n"
                     "Content-Type: application/json\nContent-Length: 2\n\n{}"):
            request, _, body = head.partition("\n\n")
            status, answer = raw_request(base, request + "\nConnection: close\n", body.encode())
            assert (status, detail(answer)) == (400, "unknown Host header: serve other names with "
                                                     "CENTERLENS_ALLOWED_HOSTS"), head
        for host in ("127.0.0.1", f"127.0.0.1:{port}", "localhost", f"LocalHost:{port}", "[::1]",
                     f"[::1]:{port}"):
            status, _ = raw_request(base, f"GET /api/health HTTP/1.1\nHost: {host}\nConnection: close\n")
            assert status == 200, host
    assert run_count(sessions) == 0


def test_allowed_hosts_add_public_names(empty_db: str) -> None:
    settings = Settings(database_url=empty_db, host="0.0.0.0", token=TOKEN,
                        allowed_hosts="dash.example, Other.Example:8000")
    with TestClient(create_app(settings), base_url="http://dash.example:8000") as client:
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/health", headers={"Host": "other.example"}).status_code == 200
        assert client.get("/api/health", headers={"Host": "localhost:8000"}).status_code == 200
        assert client.get("/api/health", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/api/health", headers={"Host": "testserver"}).status_code == 400


def test_the_test_clients_host_is_served_only_when_allowed(empty_db: str) -> None:
    with TestClient(create_app(Settings(database_url=empty_db))) as client:
        assert client.get("/api/health").status_code == 400


# --- 3. request bodies ---------------------------------------------------------------------------


def post_head(port: str, length: int | None, token: str | None = None, chunked: bool = False) -> str:
    head = f"POST /api/runs HTTP/1.1\nHost: 127.0.0.1:{port}\nX-Centerlens-Request: 1\n"
    head += "Content-Type: application/json\n"
    head += f"Authorization: Bearer {token}\n" if token else ""
    head += "Transfer-Encoding: chunked\n" if chunked else f"Content-Length: {length}\n"
    return head


def test_a_huge_body_without_the_token_is_a_401_before_it_is_read(empty_db: str, sessions: Sessions) -> None:
    with live_server(make_app(empty_db, token=TOKEN)) as base:
        port = base.rsplit(":", 1)[1]
        started = time.monotonic()
        status, answer = raw_request(base, post_head(port, 300_000_000), wait=5)
        assert (status, detail(answer)) == (401, "this server needs a token for writes: send Authorization: "
                                                 "Bearer <CENTERLENS_TOKEN>")
        status, answer = raw_request(base, post_head(port, 300_000_000, token=TOKEN), wait=5)
        too_large = f"request body over {MEGABYTE} bytes (CENTERLENS_MAX_BODY_BYTES)"
        assert (status, detail(answer)) == (413, too_large)
        assert time.monotonic() - started < 5
    assert run_count(sessions) == 0


def test_a_chunked_body_is_cut_off_past_the_cap(empty_db: str, sessions: Sessions) -> None:
    with live_server(make_app(empty_db, token=TOKEN)) as base:
        port = base.rsplit(":", 1)[1]
        host, _ = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(post_head(port, None, token=TOKEN, chunked=True).replace("\n", "\r\n").encode()
                               + b"\r\n")
            chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
            sent, answer = 0, b""
            while sent < 100 * MEGABYTE and not select.select([connection], [], [], 0)[0]:
                connection.sendall(chunk)
                sent += 0x10000
            answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert sent < 8 * MEGABYTE  # the server answered soon after the first megabyte
    assert run_count(sessions) == 0


def test_a_rejected_body_is_never_echoed(client: TestClient) -> None:
    text = "A" * 500_000
    for headers, body in ((WRITE_HEADERS, text), ({**WRITE_HEADERS, **JSON}, json.dumps([text]))):
        response = client.post("/api/runs", content=body, headers=headers)
        assert response.status_code == 422
        assert isinstance(response.json()["detail"], str) and len(response.content) < 400
    assert client.post("/api/runs", content="x" * (MEGABYTE + 1), headers=WRITE_HEADERS).status_code == 413


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/runs/abc", "path.run_id: Input should be a valid integer, unable to parse string as an "
                          "integer"),
        ("/api/runs/0", "path.run_id: Input should be greater than or equal to 1"),
        ("/api/compare?runs=" + "9" * 100, "query.runs: String should match pattern "
                                           "'^[0-9]{1,10}(,[0-9]{1,10}){1,3}$'"),
    ],
)
def test_validation_errors_are_one_line_without_the_input(client: TestClient, path: str,
                                                           message: str) -> None:
    response = client.get(path)
    assert (response.status_code, response.json()) == (422, {"detail": message})


# --- 4. event streams ----------------------------------------------------------------------------


def open_stream(base: str, stack: ExitStack, source: str = "127.0.0.1") -> tuple[httpx.Response, Iterator]:
    """An /api/events stream from client address ``source`` and its lines, the first (a ping) read."""
    client = stack.enter_context(httpx.Client(base_url=base, timeout=10,
                                              transport=httpx.HTTPTransport(local_address=source)))
    response = stack.enter_context(client.stream("GET", "/api/events"))
    lines = response.iter_lines()  # kept: one decoder per stream
    if response.status_code == 200:
        assert next(lines) == ": ping"
    return response, lines


def test_event_streams_are_capped_per_client_and_per_server(empty_db: str) -> None:
    app = make_app(empty_db, max_event_streams=3, max_event_streams_per_client=2)
    with live_server(app) as base, ExitStack() as stack:
        streams = [open_stream(base, stack) for _ in range(3)]  # kept open: iterators and all
        assert [response.status_code for response, _ in streams] == [200, 200, 503]
        streams.append(open_stream(base, stack, "127.0.0.2"))
        assert streams[-1][0].status_code == 200
        refused, _ = open_stream(base, stack, "127.0.0.3")
        assert (refused.status_code, refused.headers["retry-after"]) == (503, "10")
        refused.read()
        assert "too many open event streams" in refused.json()["detail"]
        assert app.state.event_streams == 3


def _count_queries(engine, seconds: float) -> int:
    queries = []
    listener = lambda *args: queries.append(1)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    time.sleep(seconds)
    event.remove(engine, "before_cursor_execute", listener)
    return len(queries)


def test_one_poller_feeds_every_stream(empty_db: str) -> None:
    app = make_app(empty_db)  # polls every 0.2 s
    with live_server(app) as base, ExitStack() as stack:
        streams = [open_stream(base, stack)]
        one_stream = _count_queries(app.state.engine, 2.0)
        streams += [open_stream(base, stack, f"127.0.0.{n}") for n in range(2, 8)]
        seven_streams = _count_queries(app.state.engine, 2.0)
        httpx.post(f"{base}/api/runs", json={"epochs": 1}, headers=WRITE_HEADERS, timeout=10)
        for _, lines in streams:
            assert next(line for line in lines if line.startswith("event:")) == "event: run"
            assert json.loads(next(lines).removeprefix("data: "))["status"] == "queued"
    # a poller per stream would issue about 7x the queries; 3x leaves room for a loaded machine, whose
    # polls come late and unevenly, without letting a per-stream poller through
    assert 0 < seven_streams < 3 * one_stream + 6, (one_stream, seven_streams)


# --- 5. lone surrogates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b'{"name": "\\ud800"}', b'{"data_dir": "\\udfff"}', b'{"name": "ok", "tags": [{"x": "a\\udc00b"}]}',
     b'{"\\ud83d": 1}', b'{"name": "\\ude00\\ud83d"}'],
)
def test_a_lone_surrogate_is_a_422_at_the_door(client: TestClient, sessions: Sessions, body: bytes) -> None:
    response = client.post("/api/runs", content=body, headers={**WRITE_HEADERS, **JSON})
    assert response.status_code == 422
    surrogate = "body: a string holds a lone surrogate (\\ud800-\\udfff), which is no character"
    assert response.json() == {"detail": surrogate}
    assert run_count(sessions) == 0


@pytest.mark.parametrize("depth", [33, 900, 990, 5000, 100_000])
def test_json_nested_too_deep_is_a_422_at_the_door(client: TestClient, depth: int) -> None:
    for body in (b"[" * depth + b"]" * depth, b'{"name": ' + b'{"a": ' * depth + b"1" + b"}" * (depth + 1)):
        response = client.post("/api/runs", content=body, headers={**WRITE_HEADERS, **JSON})
        assert (response.status_code, response.json()) == (422, {"detail": "body: JSON nested deeper than 32 "
                                                                           "levels"})


def test_a_surrogate_pair_is_a_character(client: TestClient) -> None:
    body = b'{"name": "run \\ud83d\\ude00"}'
    response = client.post("/api/runs", content=body, headers={**WRITE_HEADERS, **JSON})
    assert response.status_code == 201 and response.json()["name"] == "run \N{GRINNING FACE}"


def test_a_stored_run_with_a_lone_surrogate_is_still_served(client: TestClient, sessions: Sessions) -> None:
    with sessions.begin() as session:
        run = Run(name="legacy", method="ce", dataset="digits", model="small_cnn", seed=0, status="queued",
                  config={"data_dir": "\udfff", "note": "a\ud800b"}, class_names=["\ud800", "cat"],
                  epochs_planned=1)
        session.add(run)
        session.flush()
        run_id = run.id
    listed = client.get("/api/runs")
    assert listed.status_code == 200 and listed.json()[0]["name"] == "legacy"
    detail_answer = client.get(f"/api/runs/{run_id}")
    assert detail_answer.status_code == 200
    assert detail_answer.json()["config"]["data_dir"] == "\N{REPLACEMENT CHARACTER}"
    assert detail_answer.json()["config"]["note"] == "a\N{REPLACEMENT CHARACTER}b"


# --- 6. serve --port -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "environment", "message"),
    [
        (["--port", "99999"], {}, f"argument --port: {PORT_RANGE} (got 99999) (see --help)"),
        (["--port", "0"], {}, f"argument --port: {PORT_RANGE} (got 0) (see --help)"),
        (["--port", "-1"], {}, f"argument --port: {PORT_RANGE} (got -1) (see --help)"),
        (["--port", "http"], {}, "argument --port: not a port number: 'http' (see --help)"),
        ([], {"CENTERLENS_PORT": "70000"}, "CENTERLENS_PORT: Input should be less than or equal to 65535"),
    ],
)
def test_a_bad_port_is_one_line_and_exit_2(empty_db: str, flags: list[str], environment: dict,
                                           message: str) -> None:
    result = centerlens("serve", "--db", empty_db, *flags, check=False, timeout=60,
                        env={**os.environ, **environment})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip().splitlines() == [f"centerlens serve: error: {message}"]


def test_a_served_server_refuses_a_foreign_host(empty_db: str, tmp_path: Path, sessions: Sessions) -> None:
    """The real ``centerlens serve``: loopback names served, another name refused."""
    from tests.backend.api_support import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "centerlens.cli", "serve", "--db", empty_db, "--port",
                                str(port), "--no-projector"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = raw_request(base, f"GET /api/health HTTP/1.1\nHost: localhost:{port}\n"
                                              "Connection: close\n")
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "serve did not start"
                time.sleep(0.2)
        assert status == 200
        status, _ = raw_request(base, f"POST /api/runs HTTP/1.1\nHost: evil.example:{port}\n"
                                      "X-Centerlens-Request: 1\nContent-Length: 0\nConnection: close\n")
        assert status == 400
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert run_count(sessions) == 0
