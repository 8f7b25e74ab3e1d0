"""Another site's page in headless Chromium cannot queue or cancel runs on a loopback server without a token,
while the dashboard's own pages still can."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from store import create_db_engine, upgrade_database
from tests.backend.api_support import WRITE_HEADERS
from tests.conftest import new_database
from tests.e2e.browser_support import LiveServer, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# the attacks of the security review: a no-cors fetch that queues a suite, a plain form that cancels a run,
# and a CORS fetch with the dashboard's header (its preflight is never granted)
ATTACK_PAGE = """<!doctype html>
<form id="cancel" method="post" action="{target}/api/runs/{run_id}/cancel" target="sink"></form>
<iframe name="sink"></iframe>
<script>
window.attacks = (async () => {{
  const results = {{}};
  const response = await fetch('{target}/api/suites/demo?force=true', {{method: 'POST', mode: 'no-cors'}});
  results.no_cors = response.type;
  try {{
    await fetch('{target}/api/runs', {{method: 'POST', body: '{{"epochs": 1}}',
      headers: {{'X-Centerlens-Request': '1', 'Content-Type': 'application/json'}}}});
    results.cors = 'answered';
  }} catch (error) {{
    results.cors = 'blocked';
  }}
  await new Promise((resolve) => {{
    document.querySelector('iframe').onload = resolve;
    document.getElementById('cancel').submit();
  }});
  return results;
}})();
</script>
"""


def post(server: LiveServer, path: str, body: dict | None = None) -> dict:
    """A write as a script on this machine sends it (with the request header)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json", **WRITE_HEADERS})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """``centerlens serve`` on a new, empty database (loopback, no token: writes open to this machine)."""
    url = new_database(tmp_path)
    engine = create_db_engine(url)
    upgrade_database(engine)
    engine.dispose()
    with serve(url, tmp_path, [], 0, "--no-projector") as live:
        yield live


class AttackSite:
    """A page served from another origin (``http://ADDRESS:PORT/``) by a tiny HTTP server in a thread."""

    def __init__(self, address: str, page: str) -> None:
        body = page.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((address, 0), Handler)
        self.url = f"http://{address}:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> AttackSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("address", ["127.0.0.2", "127.0.0.1"], ids=["cross-site", "same-site-other-port"])
def test_another_origins_page_can_neither_queue_nor_cancel(browser, server: LiveServer, address: str) -> None:
    run_id = post(server, "/api/runs", {"epochs": 1})["id"]
    page_text = ATTACK_PAGE.format(target=server.url, run_id=run_id)
    with AttackSite(address, page_text) as site:
        context = browser.new_context()
        page = context.new_page()
        page.goto(site.url)
        results = page.evaluate("() => window.attacks")
        context.close()
    assert results == {"no_cors": "opaque", "cors": "blocked"}
    runs = server.get("/api/runs")
    assert [(run["id"], run["status"]) for run in runs] == [(run_id, "queued")]


def test_the_dashboards_own_pages_still_write(browser, server: LiveServer) -> None:
    run_id = post(server, "/api/runs", {"epochs": 1})["id"]
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/")
    with_api = "() => import('/static/js/api.js').then(({ api }) => "  # the dashboard's own client
    queued = page.evaluate(with_api + "api.queueSuite('demo', true))")
    cancelled = page.evaluate(with_api + f"api.cancel({run_id}))")
    context.close()
    assert len(queued["runs"]) == 2 and cancelled["status"] == "cancelled"
    assert server.get(f"/api/runs/{run_id}")["status"] == "cancelled"
