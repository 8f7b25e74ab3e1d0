"""ASGI middleware that refuses hostile requests before any route (or FastAPI's body parsing) runs.

- ``HostGuard``: every request must name this server in its ``Host`` header: a loopback name
  (``localhost``, ``127.0.0.1``, ``[::1]``, with any port) or one of ``CENTERLENS_ALLOWED_HOSTS``;
  anything else is a 400, so a DNS-rebinding page that resolves its own name to this machine is
  never served.
- ``WriteGuard``: a write (any method but GET, HEAD and OPTIONS under ``/api/``) must come from
  this server's own pages: no foreign ``Origin`` or ``Sec-Fetch-Site`` (403), and the header
  ``X-Centerlens-Request: 1``, which a cross-site page cannot send without a CORS preflight that
  this server never grants. Then the token rule of ``backend.auth`` (401/403) is checked, and only
  then is the body read: at most ``max_body_bytes`` (413); a JSON body holding a lone surrogate
  (``"\\ud800"``, no character at all) or nested deeper than ``MAX_JSON_DEPTH`` is a 422.
- ``StreamLimit``: at most ``max_event_streams`` open ``/api/events`` streams per server and
  ``max_event_streams_per_client`` per client address; beyond, 503 with ``Retry-After``. The count
  of open streams is kept in ``app.state.event_streams``.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.auth import bearer_token, write_refusal
from backend.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REQUEST_HEADER = "X-Centerlens-Request"
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
SAME_ORIGIN_FETCHES = frozenset({"same-origin", "none"})
EVENTS_PATH = "/api/events"
RETRY_AFTER_SECONDS = 10
# a write's JSON body may nest this deep (run settings are flat); deeper ones could exhaust the parser's stack
MAX_JSON_DEPTH = 32


def header(scope: Scope, name: str) -> str | None:
    """The first value of request header ``name`` (lowercase), or None."""
    wanted = name.encode()
    for key, value in scope["headers"]:
        if key == wanted:
            return value.decode("latin-1")
    return None


def split_host(value: str) -> tuple[str, int | None] | None:
    """``"Example.org:8620"`` -> ``("example.org", 8620)``, ``"[::1]"`` -> ``("[::1]", None)``, else None."""
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value.partition("]")
        name += bracket
        valid_name = bracket == "]" and _ip(name[1:-1]) is not None
    else:
        name, colon, rest = value.partition(":")
        rest = colon + rest
        valid_name = bool(name) and all(char.isascii() and (char.isalnum() or char in "-.") for char in name)
    port = rest.removeprefix(":")
    valid_port = rest == "" or (rest.startswith(":") and (port == "" or _is_port(port)))
    if not (valid_name and valid_port):
        return None
    return name, int(port) if port else None


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_loopback_name(name: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.1``, ``[::1]``): names only this machine answers to."""
    address = _ip(name.strip("[]"))
    return name == "localhost" or (address is not None and address.is_loopback)


def _refuse(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class HostGuard:
    """400 ``unknown Host header`` for a request that names neither loopback nor an allowed host."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        parsed = (split_host(name) for name in settings.allowed_hosts)
        self.allowed = frozenset(host[0] for host in parsed if host is not None)

    def accepts(self, value: str | None) -> bool:
        """Whether a ``Host`` header value names this server."""
        host = split_host(value) if value is not None else None
        return host is not None and (is_loopback_name(host[0]) or host[0] in self.allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass requests for a known host name on; answer the others 400."""
        if scope["type"] in ("http", "websocket") and not self.accepts(header(scope, "host")):
            detail = "unknown Host header: serve other names with CENTERLENS_ALLOWED_HOSTS"
            await _refuse(400, detail)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _same_origin(scope: Scope, origin: str) -> bool:
    """Whether an ``Origin`` header names the origin the request was sent to (scheme, host, port)."""
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    target = split_host(header(scope, "host") or "")
    if target is None or not parts.hostname:
        return False
    scheme = scope.get("scheme", "http")
    origin_name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return (parts.scheme, origin_name, origin_port) == (scheme, target[0], target[1] or DEFAULT_PORTS[scheme])


def cross_site_refusal(scope: Scope) -> JSONResponse | None:
    """403 for a write sent by another site's page, or without the dashboard's request header."""
    fetch_site = header(scope, "sec-fetch-site")
    origin = header(scope, "origin")
    if (fetch_site is not None and fetch_site not in SAME_ORIGIN_FETCHES) or (
        origin is not None and not _same_origin(scope, origin)
    ):
        return _refuse(403, "cross-site write refused: queue and cancel runs from this server's own pages")
    if header(scope, REQUEST_HEADER.lower()) != "1":
        return _refuse(403, f"writes need the header {REQUEST_HEADER}: 1 (the dashboard sends it)")
    return None


def json_problem(document: object) -> str | None:
    """What makes a parsed JSON body unfit for a route: nesting deeper than ``MAX_JSON_DEPTH`` or a lone
    surrogate in a string or key (walked without recursion); None if nothing."""
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)
        elif isinstance(value, str) and not _encodable(value):
            return "a string holds a lone surrogate (\\ud800-\\udfff), which is no character"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _body_refusal(body: bytes) -> JSONResponse | None:
    """422 for a JSON body that ``json_problem`` finds unfit; bodies that are no JSON pass on to the route."""
    try:
        problem = json_problem(json.loads(body))
    except RecursionError:
        problem = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    except ValueError:  # no JSON (or none at all): the route says what it expected
        return None
    return None if problem is None else _refuse(422, f"body: {problem}")


def is_write(scope: Scope) -> bool:
    """Whether a request may change something: any method but GET, HEAD and OPTIONS under ``/api/``."""
    http = scope["type"] == "http"
    return http and scope["method"] not in SAFE_METHODS and scope["path"].startswith("/api/")


class WriteGuard:
    """Same-origin, request-header, token and body checks for writes under ``/api/``, in that order."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a write early, or pass it on with its body read, checked and replayed."""
        if not is_write(scope):
            await self.app(scope, receive, send)
            return
        refusal = cross_site_refusal(scope) or self.access_refusal(scope) or self.length_refusal(scope)
        if refusal is None:
            body = await self.read_body(receive)
            refusal = self.too_large() if body is None else _body_refusal(body)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def access_refusal(self, scope: Scope) -> JSONResponse | None:
        """401 or 403 from the token rule (``backend.auth``), before a byte of the body is read."""
        refusal = write_refusal(self.settings, bearer_token(header(scope, "authorization")))
        return None if refusal is None else _refuse(refusal.status_code, refusal.detail, refusal.headers)

    def length_refusal(self, scope: Scope) -> JSONResponse | None:
        """400 for a malformed ``Content-Length``, 413 for one over the cap."""
        length = header(scope, "content-length")
        if length is None:
            return None
        if not (length.isascii() and length.isdigit()):
            return _refuse(400, "malformed Content-Length header")
        return self.too_large() if int(length) > self.settings.max_body_bytes else None

    def too_large(self) -> JSONResponse:
        """The 413 answer."""
        limit = self.settings.max_body_bytes
        return _refuse(413, f"request body over {limit} bytes (CENTERLENS_MAX_BODY_BYTES)")

    async def read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as more than ``max_body_bytes`` arrived (chunked uploads)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then passes on to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class StreamLimit:
    """503 with ``Retry-After`` for an ``/api/events`` stream beyond the server's or the client's limit."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.open: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the stream while it is open, or refuse it."""
        if scope["type"] != "http" or scope["path"] != EVENTS_PATH:
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else ""
        if self.open.total() >= self.settings.max_event_streams or (
            self.open[client] >= self.settings.max_event_streams_per_client
        ):
            detail = (f"too many open event streams (at most {self.settings.max_event_streams} per server, "
                      f"{self.settings.max_event_streams_per_client} per client): try again later")
            await _refuse(503, detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})(scope, receive, send)
            return
        state = scope["app"].state
        self.open[client] += 1
        state.event_streams = self.open.total()
        try:
            await self.app(scope, receive, send)
        finally:
            self.open[client] -= 1
            if not self.open[client]:
                del self.open[client]
            state.event_streams = self.open.total()
