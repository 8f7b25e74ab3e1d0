"""The dashboard's forms and charts come from the catalog: the New run form offers each method's own
settings (from /api/run-settings) and queues them; the run page's curve picker adds any declared metric."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backend.api_support import copy_database
from tests.conftest import TrainedDatabase
from tests.e2e.browser_support import LiveServer, open_tab, serve
from tests.e2e.test_new_run import FORM, open_new_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(trained_db: TrainedDatabase, tmp_path: Path) -> Iterator[LiveServer]:
    url = copy_database(trained_db.url, tmp_path)
    with serve(url, tmp_path, trained_db.run_ids, trained_db.epochs, "--no-projector") as live:
        yield live


def test_each_method_offers_exactly_its_declared_settings(browser, server: LiveServer) -> None:
    schema = server.get("/api/run-settings")["properties"]
    with open_tab(browser, server) as tab:
        open_new_run(tab)
        form = tab.page.locator(FORM)
        for method in schema["method"]["enum"]:
            form.locator("select[name=method]").select_option(method)
            shown = form.locator(".method-params label.field:visible span").all_inner_texts()
            declared = [prop["x-label"] for prop in schema.values() if method in prop.get("x-methods", [])]
            assert shown == declared, method
        form.locator("select[name=method]").select_option("bake")
        form.locator("input[name=omega]").fill("0.7")
        form.locator("input[name=group_size]").fill("8")
        form.locator("input[name=name]").fill("e2e-bake")
        form.locator("button[type=submit]").click()
        tab.page.locator("[data-testid=runs] tbody tr", has_text="e2e-bake").wait_for()
        queued = next(run for run in server.get("/api/runs") if run["name"] == "e2e-bake")
        config = server.get(f"/api/runs/{queued['id']}")["config"]
        assert (config["method"], config["omega"], config["group_size"]) == ("bake", 0.7, 8)
        form.locator("select[name=method]").select_option("csd")
        assert form.locator("select[name=center_rule] option").all_inner_texts() == ["ema", "learned"]


def test_the_curve_picker_adds_any_declared_metric(browser, server: LiveServer) -> None:
    metrics = server.get("/api/catalog")["metrics"]
    with open_tab(browser, server) as tab:
        tab.open(f"/run/{server.run_ids[0]}")
        picker = tab.page.locator("[data-testid=curve-picker]")
        picker.wait_for()
        offered = picker.locator("option").evaluate_all("all => all.map((o) => o.value).filter(Boolean)")
        groups = list(dict.fromkeys(metric["group"] for metric in metrics))
        by_group = sorted(metrics, key=lambda metric: groups.index(metric["group"]))
        assert offered == [metric["name"] for metric in by_group]
        before = tab.page.locator("[data-testid=curve]").count()
        assert before == len({metric["chart"] for metric in metrics if metric["chart"]})
        picker.select_option("cdnv")
        tab.page.locator("[data-testid=curve] h3", has_text="CDNV").wait_for()
        assert tab.page.locator("[data-testid=curve]").count() == before + 1
        tab.screenshot("curve-picker-cdnv")
