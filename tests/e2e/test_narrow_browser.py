"""At 800 px (sidebar open) the controls of Explore and Plan get the page's width instead of a
~110 px column, and Plan's schedule-family chips show their names. Skipped like test_browser.py
when chromium or playwright is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from server import open_at, wait_idle  # noqa: E402
from test_browser import ARTIFACTS, base_url, chrome  # noqa: E402,F401 - shared fixtures

pytestmark = pytest.mark.e2e

# width of the column holding the widget labelled `label`, and of the page's main block
WIDTHS = """(label) => {
  const w = [...document.querySelectorAll('[data-testid="stWidgetLabel"]')]
    .find(e => e.innerText.trim().startsWith(label));
  const col = w && w.closest('[data-testid="stColumn"]');
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  return [col ? col.getBoundingClientRect().width : null, main.getBoundingClientRect().width];
}"""

# chips (multiselect tags) whose text is cut
CUT_CHIPS = """() => [...document.querySelectorAll('[data-tag] span[title]')]
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""


@pytest.mark.parametrize(
    ("name", "label"),
    [("explore", "CPT steps"), ("plan", "Schedule families"), ("track", "Base parameters")],
)
def test_controls_take_the_width_at_800_px(chrome, base_url, name, label):  # noqa: F811
    with open_at(
        chrome, f"{base_url}/{name}", 800, wait_for=".js-plotly-plot", timeout=120_000
    ) as page:
        col, main = page.evaluate(WIDTHS, label)
        if col is None or col < 0.8 * main:
            page.screenshot(path=str(ARTIFACTS / f"e2e-narrow-{name}.png"), full_page=True)
        assert col is not None and col >= 0.8 * main, (col, main)
        if name == "plan":
            assert page.locator("[data-tag] span[title]").count() >= 1
            assert page.evaluate(CUT_CHIPS) == []


def test_controls_stay_beside_the_chart_at_1400_px(chrome, base_url):  # noqa: F811
    with open_at(chrome, f"{base_url}/explore", wait_for=".js-plotly-plot") as page:
        col, main = page.evaluate(WIDTHS, "CPT steps")
        assert col is not None and 0.15 * main < col < 0.4 * main, (col, main)


# px between the legend's bottom and the top of the first panel (negative: they overlap)
LEGEND_GAP = """() => { const gd = document.querySelector('.js-plotly-plot');
  const top = gd.getBoundingClientRect().top + gd._fullLayout._size.t;
  return top - gd.querySelector('.legend').getBoundingClientRect().bottom; }"""


@pytest.mark.parametrize("width", [800, 1100])
def test_explore_legend_never_overlaps_the_top_panel(chrome, base_url, width):  # noqa: F811
    with open_at(chrome, f"{base_url}/explore", width, wait_for=".js-plotly-plot") as page:
        assert page.evaluate(LEGEND_GAP) >= 0
        thumb = page.locator('[data-testid="stSlider"]', has_text="CPT peak LR").locator(
            'input[type="range"]'
        )
        for _ in range(2):  # two pins: two more legend rows, with long labels
            page.get_by_role("button", name="Pin scenario").click()
            wait_idle(page)
            thumb.first.focus()
            thumb.first.press("ArrowLeft")
            wait_idle(page)
        page.wait_for_function(  # the redrawn chart alone (a stale one may linger under load)
            """() => [...document.querySelectorAll('.js-plotly-plot .legend .traces')]
                .filter(t => t.textContent.includes('pin 2')).length == 1""",
            timeout=30_000,
        )
        gap = page.evaluate(LEGEND_GAP)
        if gap < 0:
            page.screenshot(path=str(ARTIFACTS / f"e2e-legend-{width}.png"), full_page=True)
        assert gap >= 0


# left x and width of the Plan page's lambda1 panels (one chart each)
LAMBDA_PANELS = """() => [...document.querySelectorAll('.st-key-plan_lambda_panels .js-plotly-plot')]
  .map(e => { const r = e.getBoundingClientRect(); return [r.left, r.width]; })"""


# tick labels of the lambda1 panels (x, y, secondary y) whose boxes overlap, per panel
TICK_OVERLAPS = """() => [...document.querySelectorAll('.st-key-plan_lambda_panels .js-plotly-plot')]
  .map(gd => ['xtick', 'ytick', 'y2tick'].flatMap(cls => {
    const r = [...gd.querySelectorAll(`g.${cls} text`)]
      .map(e => [e.textContent, e.getBoundingClientRect()]).filter(([, b]) => b.height > 0);
    const out = [];
    for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++) {
      const [ta, a] = r[i], [tb, b] = r[j];
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
        out.push(`${ta} / ${tb}`);
    }
    return out; }))"""


@pytest.mark.parametrize("width", [800, 1400])
def test_plan_lambda_panels_stack_when_narrow_and_sit_side_by_side_when_wide(
    chrome,  # noqa: F811
    base_url,  # noqa: F811
    width,
):
    panel = ".st-key-plan_lambda_panels .js-plotly-plot"
    with open_at(chrome, f"{base_url}/plan", width, wait_for=panel, timeout=180_000) as page:
        page.wait_for_function(
            "document.querySelectorAll('.st-key-plan_lambda_panels .js-plotly-plot').length == 3",
            timeout=60_000,
        )
        panels = page.evaluate(LAMBDA_PANELS)
        lefts = [round(x) for x, _ in panels]
        if width == 800:  # stacked: one above the other, each wide enough for its axis titles
            assert len(set(lefts)) == 1, panels
            assert min(w for _, w in panels) > 400, panels
        else:
            assert len(set(lefts)) == 3, panels
        shot = ARTIFACTS / f"e2e-plan-lambda-{width}.png"
        page.locator(".st-key-plan_lambda_panels").screenshot(path=str(shot))
        # Fig. 8b's log LR axis labelled every digit between decades: at 800 px they overlapped
        assert page.evaluate(TICK_OVERLAPS) == [[], [], []], shot
