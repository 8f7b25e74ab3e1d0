"""The runs page's New run panel in headless Chromium: queue a run and a suite, cancel, token mode."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backend.api_support import WRITE_HEADERS, copy_database
from tests.conftest import TrainedDatabase
from tests.e2e.browser_support import LiveServer, open_tab, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "e2e-token"
FORM = "[data-testid=new-run-form]"
SUITE_FORM = "[data-testid=suite-form]"


@pytest.fixture
def server(trained_db: TrainedDatabase, tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own (queued runs would change what other browser tests see); no projector."""
    url = copy_database(trained_db.url, tmp_path)
    with serve(url, tmp_path, trained_db.run_ids, trained_db.epochs, "--no-projector") as live:
        yield live


def open_new_run(tab) -> None:
    tab.open("/")
    tab.page.locator("[data-testid=runs] tbody tr").first.wait_for()
    tab.page.evaluate("() => { window.notReloaded = true; }")
    tab.page.locator("[data-testid=new-run] > summary").click()
    tab.page.locator(FORM).wait_for()


def provoked(tab, status: int) -> None:
    """Chromium logs every 4xx answer as a console error: take out the one this test asked for."""
    logged = [error for error in tab.errors if f"status of {status}" in error]
    assert logged, f"no HTTP {status} was logged: {tab.errors}"
    tab.errors.remove(logged[0])


def row_of(tab, name: str):
    return tab.page.locator("[data-testid=runs] tbody tr", has_text=name)


def test_queue_a_run_from_the_form_then_cancel_it_from_its_row(browser, server: LiveServer) -> None:
    with open_tab(browser, server) as tab:
        open_new_run(tab)
        form = tab.page.locator(FORM)
        assert form.locator("select[name=method]").input_value() == "csd"
        form.locator("input[name=epochs]").fill("2")
        form.locator("input[name=seed]").fill("7")
        form.locator("input[name=name]").fill("e2e-csd")
        form.locator("input[name=beta]").fill("0.6")
        form.locator("button[type=submit]").click()
        row = row_of(tab, "e2e-csd")
        row.locator("[data-testid=status]", has_text="queued").wait_for()
        assert "Queued e2e-csd" in form.locator("[data-testid=form-status]").inner_text()
        assert tab.page.evaluate("() => window.notReloaded") is True
        queued = next(run for run in server.get("/api/runs") if run["name"] == "e2e-csd")
        config = server.get(f"/api/runs/{queued['id']}")["config"]
        assert (config["method"], config["epochs"], config["seed"], config["beta"]) == ("csd", 2, 7, 0.6)
        tab.screenshot("new-run-queued")
        hint = tab.page.locator("[data-testid=worker-hint]")
        assert hint.is_hidden()
        tab.page.clock.set_fixed_time(time.time() + 60)  # the run has waited a minute: no worker took it
        hint.wait_for()
        assert "centerlens worker --db" in hint.inner_text()
        tab.screenshot("new-run-waiting")

        cancel = row.locator("[data-testid=cancel]")
        cancel.click()
        assert cancel.inner_text() == "Confirm cancel"
        cancel.click()
        row.locator("[data-testid=status]", has_text="cancelled").wait_for()
        assert row.locator("[data-testid=cancel]").count() == 0
        assert server.get(f"/api/runs/{queued['id']}")["status"] == "cancelled"
        assert hint.is_hidden()


def test_queue_a_suite_and_be_told_when_it_was_queued_before(browser, server: LiveServer) -> None:
    with open_tab(browser, server) as tab:
        open_new_run(tab)
        suite_form = tab.page.locator(SUITE_FORM)
        suite_form.locator("[data-testid=suite]").select_option("demo")
        status = suite_form.locator("[data-testid=form-status]")
        suite_form.locator("button[type=submit]").click()
        row_of(tab, "csd-digits").wait_for()
        assert status.inner_text() == "Queued suite demo: 2 runs."
        suite_form.locator("button[type=submit]").click()
        suite_form.locator("[data-testid=form-status].form-status-error").wait_for()
        assert "was queued before" in status.inner_text()
        provoked(tab, 409)
        suite_form.locator("[data-testid=force]").check()
        suite_form.locator("button[type=submit]").click()
        tab.page.locator("[data-testid=runs] tbody tr").nth(5).wait_for()
        tab.screenshot("new-run-suite")


def test_a_server_with_a_token_asks_for_it(
    browser, trained_db: TrainedDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CENTERLENS_TOKEN", TOKEN)
    url = copy_database(trained_db.url, tmp_path)
    with serve(url, tmp_path, trained_db.run_ids, trained_db.epochs, "--no-projector") as token_server:
        with open_tab(browser, token_server) as tab:
            open_new_run(tab)
            form = tab.page.locator(FORM)
            token = tab.page.locator("[data-testid=token]")
            token.fill("wrong")
            form.locator("button[type=submit]").click()
            error = form.locator(".form-status-error")
            error.wait_for()
            assert error.inner_text() == "wrong token (HTTP 401)"
            provoked(tab, 401)
            token.fill(TOKEN)
            form.locator("button[type=submit]").click()
            row_of(tab, "csd-digits-s0").locator("[data-testid=status]", has_text="queued").wait_for()
            tab.screenshot("new-run-token")


def test_cancel_a_queued_run_from_its_page(browser, server: LiveServer) -> None:
    request = urllib.request.Request(f"{server.url}/api/runs", data=json.dumps({"epochs": 1}).encode(),
                                     headers={"Content-Type": "application/json", **WRITE_HEADERS},
                                     method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        run_id = json.load(response)["id"]
    with open_tab(browser, server) as tab:
        tab.open(f"/run/{run_id}")
        status = tab.page.locator("#summary [data-testid=status]")
        status.filter(has_text="queued").wait_for()
        cancel = tab.page.locator("#summary [data-testid=cancel]")
        cancel.click()
        tab.screenshot("run-page-cancel")
        cancel.click()
        status.filter(has_text="cancelled").wait_for()
        assert tab.page.locator("#summary [data-testid=cancel]").count() == 0
