"""Scrubbing in the browser: the slider under Explore's chart swaps the curves for another CPT peak
LR at once, without a rerun (nothing goes from the page to the server). Skipped like
test_browser.py when chromium or playwright is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from server import open_at, wait_idle  # noqa: E402
from test_browser import ARTIFACTS, base_url, chrome  # noqa: E402,F401 - shared fixtures

pytestmark = pytest.mark.e2e
RAIL = ".js-plotly-plot .slider-rail-touch-rect"  # the scrub slider under Explore's chart

# the general-loss prediction as drawn (decoded by plotly), and the scrub slider's state
DRAWN = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  const t = gd._fullData.find(t => t.name === 'predicted general loss');
  const s = gd._fullLayout.sliders[0];
  return {y: Array.from(t.y), active: s.active, labels: s.steps.map(x => x.label)};
}"""


def _general_delta(page) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text="General Δ").first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_scrubbing_the_chart_changes_its_data_without_a_rerun(chrome, base_url):  # noqa: F811
    sent: list = []

    def listen(page):
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))

    with open_at(chrome, f"{base_url}/explore", 1400, 1000, wait_for=RAIL, before=listen) as page:
        before = page.evaluate(DRAWN)
        delta = _general_delta(page)
        assert len(before["labels"]) >= 5  # the chosen LR and its neighbours
        k = 0 if before["active"] > 0 else len(before["labels"]) - 1
        rail = page.locator(RAIL).first
        rail.scroll_into_view_if_needed()
        box = rail.bounding_box()
        n = len(before["labels"])
        assert sent  # the listener sees the page's messages (loading the page sent some)
        sent.clear()
        page.mouse.click(
            box["x"] + 10 + (box["width"] - 20) * k / (n - 1), box["y"] + box["height"] / 2
        )
        page.wait_for_function(
            "(y0) => { const gd = document.querySelector('.js-plotly-plot');"
            " const t = gd._fullData.find(t => t.name === 'predicted general loss');"
            " return t.y[t.y.length - 1] !== y0; }",
            arg=before["y"][-1],
            timeout=10_000,
        )
        page.wait_for_timeout(1500)  # a rerun, had there been one, would have started by now
        after = page.evaluate(DRAWN)
        assert after["active"] == k
        assert len(after["y"]) == len(before["y"])
        # a lower CPT peak LR forgets less: the general loss ends lower (paper §4.3)
        assert (after["y"][-1] < before["y"][-1]) == (k < before["active"])
        assert sent == []  # the page asked the server for nothing: no rerun
        assert page.locator('[data-testid="stStatusWidget"]').count() == 0
        assert _general_delta(page) == delta  # the numbers stay those of the controls
        page.screenshot(path=str(ARTIFACTS / "e2e-explore-scrub.png"), full_page=True)


def test_after_another_control_moves_the_slider_comes_back_for_the_new_setting(chrome, base_url):  # noqa: F811
    """A fragment rerun draws the chart first and the scrub slider once its LRs are computed."""
    with open_at(chrome, f"{base_url}/explore", 1400, 1000, wait_for=RAIL) as page:
        before = page.evaluate(DRAWN)
        thumb = page.locator('[data-testid="stSlider"]', has_text="CPT warm-up")
        thumb.locator('input[type="range"]').first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => window.location.search.includes('cpt_warmup=')")
        wait_idle(page)
        page.wait_for_selector(RAIL, timeout=60_000)
        after = page.evaluate(DRAWN)
        assert after["labels"] == before["labels"] and after["active"] == before["active"]
        assert after["y"] != before["y"]  # the chart shows the new warm-up
        assert page.locator('[data-testid="stException"], [data-testid="stAlert"]').count() == 0
