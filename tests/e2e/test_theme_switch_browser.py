"""A theme switch in the settings menu restyles Explore's chart at once, and its rules and markers
stay readable before any rerun (Streamlit tells the script about the new theme only at the next
rerun, Streamlit #11920). Skipped like test_browser.py when chromium or playwright is missing."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from server import open_at, wait_idle  # noqa: E402
from test_browser import ARTIFACTS, base_url, chrome  # noqa: E402,F401 - shared fixtures

pytestmark = pytest.mark.e2e

# the inks of the fixed rules (CPT start, critical point) and of the transfer-point marker
INKS = """() => { const gd = document.querySelector('.js-plotly-plot');
  const l = gd._fullLayout;
  const marker = gd._fullData.find(t => t.name === 'transfer point');
  return [...l.shapes.map(s => s.line.color), marker.marker.color]; }"""
APP_BG = "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor"


def _rgb(css: str) -> tuple[float, ...]:
    if css.startswith("#"):
        return tuple(int(css[i : i + 2], 16) for i in (1, 3, 5))
    return tuple(float(x) for x in re.findall(r"[\d.]+", css)[:3])


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two opaque CSS colours."""

    def lum(c):
        ch = [v / 255 for v in _rgb(c)]
        ch = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_chart_inks_read_on_both_themes_right_after_a_switch(chrome, base_url):  # noqa: F811
    with open_at(chrome, f"{base_url}/explore", wait_for=".js-plotly-plot") as page:
        light_bg = page.evaluate(APP_BG)
        assert min(contrast(c, light_bg) for c in page.evaluate(INKS)) >= 3
        page.get_by_test_id("stMainMenu").click()
        page.get_by_test_id("stMainMenuList").locator("*", has_text="Dark").last.click()
        page.wait_for_function(f"() => ({APP_BG})() !== {light_bg!r}", timeout=10_000)
        page.wait_for_timeout(800)  # no reload, no rerun: the chart as the switch left it
        dark_bg = page.evaluate(APP_BG)
        worst = min(contrast(c, dark_bg) for c in page.evaluate(INKS))
        if worst < 3:
            page.screenshot(path=str(ARTIFACTS / "e2e-theme-switch.png"), full_page=True)
        assert worst >= 3, (page.evaluate(INKS), dark_bg)


def test_the_dark_theme_chosen_on_one_page_survives_a_reload_on_another(chrome, base_url):  # noqa: F811
    """Streamlit stores the choice under the address the session opened; app.py copies it to every
    page's address, so F5 after moving to Learn stays dark (it fell back to light)."""
    with open_at(chrome, f"{base_url}/explore") as page:
        light_bg = page.evaluate(APP_BG)
        page.get_by_test_id("stMainMenu").click()
        page.get_by_test_id("stMainMenuList").locator("*", has_text="Dark").last.click()
        page.wait_for_function(f"() => ({APP_BG})() !== {light_bg!r}", timeout=10_000)
        page.get_by_role("link", name="Learn").click()
        wait_idle(page)
        page.reload()
        wait_idle(page)
        assert page.evaluate(APP_BG) != light_bg
        assert "/learn" in page.url
