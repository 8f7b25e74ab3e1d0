"""The Study page in real Chromium: from the runs page, the paper's table, ± std bands, a group's compare."""

from __future__ import annotations

import pytest

from tests.e2e.browser_support import open_tab, serve
from tests.study_support import CANCELLED, shared_study_database

pytestmark = pytest.mark.slow

ROWS = "[data-testid=study-table] tbody tr"
CURVES = "[data-testid=study-curves]"


def test_study_page_shows_the_table_and_a_band(browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    url = shared_study_database(tmp_path_factory)
    folder = tmp_path_factory.mktemp("study-e2e")
    with serve(url, folder, [], 2, "--no-projector") as server, open_tab(browser, server) as tab:
        detail = server.get("/api/studies/tiny")
        tab.open("/")
        tab.page.locator("[data-testid=studies] a", has_text="tiny (6 runs)").click()
        tab.page.wait_for_url("**/study/tiny")
        tab.page.locator(ROWS).first.wait_for()
        page = tab.page

        labels = page.locator(f"{ROWS} th").all_inner_texts()
        assert labels == [group["label"] for group in detail["groups"]]
        counts = page.locator(f"{ROWS} td.study-n").all_inner_texts()
        by_label = dict(zip(labels, counts))
        assert by_label["ce"] == "2/2" and by_label["csd beta=0.25"] == "2/2"
        assert by_label["csd beta=0.75"].startswith("1/2") and "cancelled" in by_label["csd beta=0.75"]
        assert page.locator(f"{ROWS} .status-cancelled").get_attribute("title") == CANCELLED

        # bold marks exactly the API's best group of each column
        headers = page.locator("[data-testid=study-table] thead th").all_inner_texts()
        for column in detail["columns"]:
            index = headers.index(column["label"])
            bold = page.locator(f"{ROWS}").evaluate_all(
                f"rows => rows.filter((r) => r.children[{index}].querySelector('strong'))"
                ".map((r) => r.querySelector('th').textContent)"
            )
            expected = [g["label"] for g in detail["groups"] if column["name"] in g["best"]]
            assert bold == expected, column["name"]

        # each group's mean with a ± std band (a filled trace) in the curves, and the plot has pixels
        page.wait_for_function(f"() => document.querySelector('{CURVES}').data?.length")
        traces = page.locator(CURVES).evaluate(
            "gd => gd.data.map((t) => ({fill: t.fill || null, name: t.name || null, y: t.y}))"
        )
        bands = [trace for trace in traces if trace["fill"] == "tonexty"]
        assert len(bands) == len(detail["groups"])
        ce = next(g for g in detail["groups"] if g["label"] == "ce")
        ce_band = next(t for t in bands if t["name"].startswith("ce "))
        assert ce_band["y"] == pytest.approx([m + s for m, s in zip(ce["curve"]["mean"], ce["curve"]["std"])])
        assert page.locator(f"{CURVES} .main-svg path.js-fill").count() == len(bands)
        assert page.locator(CURVES).bounding_box()["height"] > 200
        titles = page.locator(f"{CURVES} .g-xtitle, {CURVES} .g-ytitle").evaluate_all(
            "titles => titles.map((title) => title.textContent)"
        )
        assert titles == ["epoch", "test top-1 accuracy (mean ± std)"]
        page.screenshot(path="/tmp/study.png", full_page=True)
        tab.screenshot("study")

        # a group opens as a compare of its counted members
        row = page.locator(ROWS, has=page.locator("th", has_text="ce"))
        row.first.locator("[data-testid=compare-group]").click()
        ids = ",".join(str(member["id"]) for member in ce["members"])
        page.wait_for_url(f"**/compare?runs={ids}*")
