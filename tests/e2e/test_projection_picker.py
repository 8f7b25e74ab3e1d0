"""The projection picker in headless Chromium: built from ``GET /api/projections``, kept in the address
as ``?projection=`` (an old ``?method=`` address is read once), and drawing the chosen projection."""

from __future__ import annotations

import pytest

from tests.e2e.browser_support import FRAMES_SECONDS, all_frames_projected, wait_for
from tests.e2e.test_dashboard import SCATTER, open_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BUTTONS = "[role=group][aria-label=projection] button"
AXES = f"""() => {{
    const layout = document.querySelector('{SCATTER}')._fullLayout;
    return [layout.xaxis.title.text, layout.yaxis.scaleanchor || null];
}}"""


def pressed(page) -> list[str]:
    return [button.inner_text() for button in page.locator(BUTTONS).all()
            if button.get_attribute("aria-pressed") == "true"]


def test_the_picker_lists_the_servers_projections_and_draws_the_chosen_one(tab, live_server):
    listed = live_server.get("/api/projections")
    run_id = live_server.run_ids[0]
    open_run(tab, run_id)
    buttons = tab.page.locator(BUTTONS)
    assert buttons.all_inner_texts() == [projection["label"] for projection in listed]
    assert [button.get_attribute("title") for button in buttons.all()] == [p["description"] for p in listed]
    assert pressed(tab.page) == ["PCA"] and tab.page.evaluate(AXES) == ["PCA 1", "x"]
    wait_for(live_server, lambda: all_frames_projected(live_server, "umap"), FRAMES_SECONDS, "UMAP frames")
    buttons.filter(has_text="UMAP").click()
    tab.page.wait_for_function(f"() => document.querySelector('{SCATTER}')._fullLayout?.xaxis.title.text "
                               "=== 'UMAP 1'")
    assert tab.page.evaluate(AXES) == ["UMAP 1", None], "a non-linear projection keeps no 1:1 aspect"
    assert "projection=umap" in tab.page.url and pressed(tab.page) == ["UMAP"]
    buttons.filter(has_text="PCA").click()
    tab.page.wait_for_function("() => !window.location.search.includes('projection')")


def test_an_old_method_address_is_rewritten_to_projection(tab, live_server):
    tab.open(f"/run/{live_server.run_ids[0]}?method=umap&color=correct")
    tab.page.locator(BUTTONS).first.wait_for()
    tab.page.wait_for_function("() => window.location.search.includes('projection=umap')")
    assert "method=" not in tab.page.url and "color=correct" in tab.page.url
    assert pressed(tab.page) == ["UMAP"]
