"""A user's own logged scalars (``Recorder.log_epoch(extra=...)``) get their own curve in the dashboard."""

from __future__ import annotations

from pathlib import Path

from centerlens import Recorder
from tests.e2e.browser_support import open_tab, serve
from tests.test_recorder_api import NAMES, epoch_data

EPOCHS = 3


def test_extra_scalars_are_plotted_as_their_own_curves(browser, tmp_path: Path) -> None:
    db = str(tmp_path / "own.db")
    with Recorder(db=db, name="own loop", class_names=NAMES, probe_size=40) as rec:
        for epoch in range(1, EPOCHS + 1):
            rec.log_epoch(epoch, **epoch_data(epoch), train_loss=1.0 / epoch,
                          extra={"my_metric": 0.25 * epoch, "grad_norm": 10.0 - epoch})
    with serve(db, tmp_path, [1], EPOCHS, "--no-projector") as server, open_tab(browser, server) as tab:
        tab.open("/run/1")
        for name in ("my_metric", "grad_norm"):
            tab.page.locator("[data-testid=curve] h3", has_text=name).wait_for()
        offered = tab.page.locator("[data-testid=curve-picker] option").evaluate_all(
            "all => all.map((o) => o.value)")
        assert {"extra:my_metric", "extra:grad_norm"} <= set(offered), offered
        panel = tab.page.locator("[data-testid=curve]", has=tab.page.locator("h3", has_text="my_metric"))
        plotted = panel.locator(".js-plotly-plot").evaluate("chart => chart.data.map((trace) => trace.y)")
        assert plotted == [[0.25, 0.5, 0.75]]
        tab.screenshot("extra-curves")
