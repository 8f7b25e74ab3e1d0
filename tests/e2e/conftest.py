"""Browser fixtures: a live ``centerlens serve`` on a copy of real digits runs, and headless Chromium tabs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backend.api_support import copy_database
from tests.conftest import TrainedDatabase, require_or_skip
from tests.e2e.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FRAMES_SECONDS,
    LiveServer,
    Tab,
    all_frames_projected,
    open_tab,
    serve,
    wait_for,
)


@pytest.fixture(scope="session")
def live_server(
    trained_db: TrainedDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``centerlens serve`` (projector on) on a private copy of the trained runs, once PCA frames exist."""
    folder = tmp_path_factory.mktemp("e2e")
    url = copy_database(trained_db.url, folder)
    with serve(url, folder, trained_db.run_ids, trained_db.epochs) as server:
        wait_for(server, lambda: all_frames_projected(server, "pca"), FRAMES_SECONDS, "PCA frames")
        yield server


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (skipped without them, failed under CI=true)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    require_or_skip(sync_playwright is not None, "playwright (Python) is not installed")
    require_or_skip(Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def tab(browser, live_server: LiveServer) -> Iterator[Tab]:
    """A tab on the live server with the trained runs."""
    with open_tab(browser, live_server) as opened:
        yield opened
