"""Offline: no page asks a host other than this server for anything (fonts, icons, scripts). The
favicon used to come from fonts.gstatic.com (a ':material/...:' page icon), which fails offline.
Skipped like test_browser.py when chromium or playwright is missing."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from server import open_at  # noqa: E402
from test_browser import EXCEPTION, base_url, chrome  # noqa: E402,F401 - shared fixtures

pytestmark = pytest.mark.e2e
PAGES = {"home": "", "explore": "explore", "fit": "fit", "learn": "learn", "plan": "plan",
         "track": "track"}  # fmt: skip


@pytest.mark.parametrize("name", list(PAGES))
def test_no_request_leaves_localhost(chrome, base_url, name):  # noqa: F811
    away: list[str] = []

    def listen(page):
        page.on(
            "request",
            lambda r: (
                away.append(r.url)
                if urlparse(r.url).hostname not in ("127.0.0.1", "localhost", None)
                else None
            ),
        )

    with open_at(chrome, f"{base_url}/{PAGES[name]}", before=listen, timeout=120_000) as page:
        if name not in ("fit", "track"):
            page.wait_for_selector(".js-plotly-plot", timeout=120_000)
        page.wait_for_timeout(1500)  # the favicon and fonts load after the first paint
        assert page.locator(EXCEPTION).count() == 0
        icon = page.evaluate("() => document.querySelector('link[rel*=icon]')?.href")
    assert away == [], away
    # our favicon, inlined by Streamlit (a data: URL) or served by this server
    assert icon and (icon.startswith("data:image/") or urlparse(icon).hostname == "127.0.0.1")
