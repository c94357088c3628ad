"""Each page opened as the first request of a fresh server (a shared link, a bookmark) is the app's
page: app.py's navigation labels, its wide layout and page title, the link's query parameters kept.

Streamlit 1.67 runs a ``pages/*.py`` file bare while no script of the process has called
``st.navigation`` (its legacy ``pages/`` mode: labels from the file names, "app, explore, ...", and
the default narrow layout); ``ui.run_through_app`` hands such a run to app.py. One fresh server per
page. Skipped like test_browser.py when chromium or playwright is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from server import streamlit_server, wait_idle  # noqa: E402
from test_browser import EXCEPTION, chrome  # noqa: E402,F401 - shared fixtures

pytestmark = pytest.mark.e2e
LABELS = ["Home", "Explore", "Fit", "Learn", "Plan", "Track"]  # app.py's st.Page titles, in order
# URL path and query -> the page's own heading
FIRST = {
    "": "Continual pre-training scaling law",
    "explore": "Explore a CPT schedule",
    "fit": "Fit the law to your runs",
    "learn?learn_step=6+%C2%B7+Critical+point": "Learn how continual pre-training behaves",
    "plan": "Plan a continual pre-training run",
    "track": "Track a running job",
}
# px of the main column at a 1400 px window: ~1100 in the wide layout, 736 in Streamlit's centred one
WIDE = 1000


def _nav_labels(tab) -> list[str]:
    return tab.evaluate(
        "() => [...document.querySelectorAll('[data-testid=\"stSidebarNavLink\"] span[label]')]"
        ".map(s => s.getAttribute('label'))"
    )


def _check(tab, heading: str) -> None:
    assert tab.locator("h1").first.inner_text() == heading
    assert _nav_labels(tab) == LABELS
    width = tab.locator('[data-testid="stMainBlockContainer"]').bounding_box()["width"]
    assert width > WIDE, f"main column {width:.0f} px wide: not the app's wide layout"
    assert tab.title() == "CPT scaling law"  # app.py's set_page_config
    assert tab.get_by_text("Page not found").count() == 0
    assert tab.locator(EXCEPTION).count() == 0


# every page calls run_through_app first (tests/app/test_pages_run_through_app.py); a fresh server
# costs ~25 s, so the browser checks the page that lacked it and one with a query string
@pytest.mark.parametrize("link", ["track", "learn?learn_step=6+%C2%B7+Critical+point"])
def test_a_page_opened_first_after_a_server_start_is_the_apps_page(chrome, link):  # noqa: F811
    with streamlit_server() as url:
        for _ in range(2):  # the first visitor and a later one, each in a new session
            ctx = chrome.new_context(viewport={"width": 1400, "height": 1000})
            tab = ctx.new_page()
            try:
                tab.goto(f"{url}/{link}")
                wait_idle(tab)
                _check(tab, FIRST[link])
                if link.startswith("learn"):  # the link's query parameters reach the page
                    assert tab.get_by_role("radio", name="6 · Critical point").is_checked()
            finally:
                ctx.close()
