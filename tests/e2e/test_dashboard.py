"""The dashboard in headless Chromium against a live ``centerlens serve`` on real digits runs."""

from __future__ import annotations

import pytest

from store import create_db_engine, upgrade_database
from tests.conftest import new_database
from tests.e2e.browser_support import open_tab, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCATTER = "[data-testid=scatter]"
COMPARE_SCATTERS = "[data-testid=compare-scatter] .scatter-plot"
LABEL = "[data-testid=epoch-label]"
# probe points are the traces that show a hover card (centers and trails do not)
POINT_COUNTS = """(selector) => [...document.querySelectorAll(selector)].map((gd) =>
    (gd.data || []).filter((t) => t.hoverinfo === 'none').reduce((n, t) => n + t.x.length, 0))"""
FIRST_POINTS = """(selector) => [...document.querySelectorAll(selector)].map(
    (gd) => Array.from(gd.data[0].x.slice(0, 20)).concat(Array.from(gd.data[0].y.slice(0, 20))))"""
POINT_ON_SCREEN = """() => {
    const gd = document.querySelector('[data-testid=scatter]');
    const layout = gd._fullLayout, box = gd.getBoundingClientRect(), trace = gd.data[0];
    return [box.left + layout._size.l + layout.xaxis.l2p(trace.x[0]),
            box.top + layout._size.t + layout.yaxis.l2p(trace.y[0])];
}"""
RECORD_LABELS = """(selector) => {
    const label = document.querySelector(selector);
    window.labelsSeen = new Set();
    new MutationObserver(() => window.labelsSeen.add(label.textContent))
        .observe(label, {childList: true, characterData: true, subtree: true});
}"""


def wait_for_label(page, text: str) -> None:
    page.wait_for_function(f"(text) => document.querySelector('{LABEL}')?.textContent === text", arg=text)


def open_run(tab, run_id: int) -> None:
    epochs = tab.server.epochs
    tab.open(f"/run/{run_id}")
    wait_for_label(tab.page, f"epoch {epochs} / {epochs}")
    tab.page.wait_for_function(f"() => document.querySelector('{SCATTER}').data?.length > 0")


def probe_size(server) -> int:
    return server.get(f"/api/runs/{server.run_ids[0]}/probe")["size"]


def test_runs_page_lists_the_runs(tab, live_server):
    tab.open("/")
    rows = tab.page.locator("[data-testid=runs] tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(live_server.run_ids)
    for run in live_server.get("/api/runs"):
        row = tab.page.locator(f"tr[data-run='{run['id']}']")
        assert run["name"] in row.inner_text()
        assert row.locator("[data-testid=status]").inner_text() == "completed"
    assert tab.page.locator("[data-testid=compare]").is_disabled()
    tab.screenshot("runs")


def test_runs_page_without_runs_says_how_to_start_one(browser, tmp_path):
    url = new_database(tmp_path)
    upgrade_database(create_db_engine(url))
    with serve(url, tmp_path, [], 0, "--no-projector") as server:
        with open_tab(browser, server) as tab:
            tab.open("/")
            message = tab.page.locator(".message-empty")
            message.wait_for()
            assert "centerlens demo" in message.inner_text()
            assert "centerlens train --dataset digits" in message.inner_text()
            tab.screenshot("runs-empty")


def test_run_page_draws_every_probe_sample(tab, live_server):
    open_run(tab, live_server.run_ids[0])
    assert tab.page.evaluate(POINT_COUNTS, SCATTER) == [probe_size(live_server)]
    assert tab.page.locator("[data-testid=scatter-overlay]").is_hidden()
    assert tab.page.locator("[data-testid=trust]").inner_text().startswith("trustworthiness")
    assert tab.page.locator("[data-testid=curve]").count() == 6
    tab.screenshot("run")


def test_play_advances_the_epoch_and_moves_points(tab, live_server):
    epochs = live_server.epochs
    open_run(tab, live_server.run_ids[0])
    tab.page.keyboard.press("Home")
    wait_for_label(tab.page, f"epoch 1 / {epochs}")
    before = tab.page.evaluate(FIRST_POINTS, SCATTER)
    tab.page.evaluate(RECORD_LABELS, LABEL)
    tab.page.locator("[data-testid=play]").click()
    wait_for_label(tab.page, f"epoch {epochs} / {epochs}")
    tab.page.wait_for_function("() => document.querySelector('[data-testid=play]').ariaPressed === 'false'")
    assert f"epoch 2 / {epochs}" in tab.page.evaluate("() => [...window.labelsSeen]")
    assert tab.page.evaluate(FIRST_POINTS, SCATTER) != before
    tab.page.keyboard.press("ArrowLeft")
    wait_for_label(tab.page, f"epoch {epochs - 1} / {epochs}")


def test_hovering_a_point_shows_its_thumbnail(tab, live_server):
    open_run(tab, live_server.run_ids[0])
    x, y = tab.page.evaluate(POINT_ON_SCREEN)
    tab.page.mouse.move(x, y)
    card = tab.page.locator("[data-testid=hover-card]")
    card.wait_for(state="visible")
    tab.page.wait_for_function("() => document.querySelector('[data-testid=hover-card] img').naturalWidth")
    text = card.inner_text()
    assert "true" in text and "predicted" in text and "%" in text
    tab.screenshot("run-hover")


def test_compare_page_shows_both_runs_driven_by_one_slider(tab, live_server):
    epochs = live_server.epochs
    tab.open("/")
    for run_id in live_server.run_ids:
        tab.page.locator(f"tr[data-run='{run_id}'] input[type=checkbox]").check()
    tab.page.locator("[data-testid=compare]").click()
    selection = f"runs={','.join(map(str, live_server.run_ids))}"
    tab.page.wait_for_url(f"**/compare?{selection}*")
    wait_for_label(tab.page, f"epoch {epochs} / {epochs}")
    tab.page.wait_for_function(
        f"() => [...document.querySelectorAll('{COMPARE_SCATTERS}')].every((gd) => gd.data?.length)"
    )
    counts = tab.page.evaluate(POINT_COUNTS, COMPARE_SCATTERS)
    assert counts == [probe_size(live_server)] * len(live_server.run_ids)
    at_end = tab.page.evaluate(FIRST_POINTS, COMPARE_SCATTERS)
    tab.page.locator("[data-testid=epoch-slider]").evaluate(
        "(slider) => { slider.value = 0; slider.dispatchEvent(new Event('input')); }"
    )
    wait_for_label(tab.page, f"epoch 1 / {epochs}")
    tab.page.wait_for_timeout(500)
    at_start = tab.page.evaluate(FIRST_POINTS, COMPARE_SCATTERS)
    assert all(start != end for start, end in zip(at_start, at_end))
    assert tab.page.locator("[data-testid=class-table] tbody tr").count() == 11
    assert selection in tab.page.url and "epoch=1" in tab.page.url
    tab.screenshot("compare")
