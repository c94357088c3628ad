"""Layout in a real browser: at 800 and 1280 px the metric cards of Explore, Learn and Plan show
their whole value and label (no "+.." or "General Δ l…"). Skipped like test_browser.py when
chromium or playwright is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from server import open_at, wait_idle  # noqa: E402
from test_browser import ARTIFACTS, base_url, chrome  # noqa: E402,F401 - shared fixtures

pytestmark = pytest.mark.e2e

# text boxes of the metric cards whose content is wider than the box, i.e. cut with an ellipsis
CUT = """() => [...document.querySelectorAll(
    '[data-testid="stMetricValue"], [data-testid="stMetricValue"] div, '
    + '[data-testid="stMetricLabel"] p, [data-testid="stMetricDelta"] div')]
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""


@pytest.mark.parametrize("width", [800, 1280])
@pytest.mark.parametrize("name", ["explore", "learn", "plan"])
def test_metric_values_and_labels_are_not_cut(chrome, base_url, name, width):  # noqa: F811
    metric = '[data-testid="stMetricValue"]'
    with open_at(chrome, f"{base_url}/{name}", width, wait_for=metric) as page:
        page.wait_for_timeout(500)
        assert page.locator('[data-testid="stMetricValue"]').count() >= 4
        cut = page.evaluate(CUT)
        if cut:
            page.screenshot(path=str(ARTIFACTS / f"e2e-cut-{name}-{width}.png"), full_page=True)
        assert cut == [], f"cut at {width} px on {name}: {cut}"


def test_settings_menu_offers_light_and_dark_and_dark_turns_the_charts_dark(chrome, base_url):  # noqa: F811
    with open_at(chrome, f"{base_url}/explore", wait_for=".js-plotly-plot") as page:
        page.get_by_test_id("stMainMenu").click()
        menu = page.get_by_test_id("stMainMenuList")
        assert {"Light", "Dark"} <= set(menu.inner_text().split("\n"))
        menu.locator("*", has_text="Dark").last.click()
        page.reload()  # a fresh run: st.context.theme now says dark
        wait_idle(page)
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        page.wait_for_timeout(800)
        look = page.evaluate(
            """() => { const l = document.querySelector('.js-plotly-plot')._fullLayout;
                return [l.paper_bgcolor, (l.shapes || []).map(s => s.line.color)]; }"""
        )
        app_bg = page.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]'))"
            ".backgroundColor"
        )
        assert app_bg == "rgb(15, 23, 42)"  # the dark theme's #0f172a (.streamlit/config.toml)
        assert look[0] == "rgba(0,0,0,0)"  # the page shows through the chart
        assert "#334155" not in look[1]  # the server swapped the dark inks for light ones
