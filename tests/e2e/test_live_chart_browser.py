"""Explore's live chart in the browser: a key press on the page's own CPT peak LR or replay slider
switches the chart to that setting's curves at once, without a rerun (the press's message to the
server is held back here, so none can happen). Skipped like test_browser.py when chromium or
playwright is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from server import wait_idle  # noqa: E402
from test_browser import ARTIFACTS, base_url, chrome  # noqa: E402,F401 - shared fixtures

pytestmark = pytest.mark.e2e

# the live chart's drawn curves (decoded by plotly), its frame and the frames it holds
DRAWN = """() => {
  const gd = document.querySelector('.cpt-live-chart');
  if (!gd || !gd._fullData || !gd._transitionData) return null;
  const y = (name) => Array.from(gd._fullData.find(t => t.name === name).y);
  return {general: y('predicted general loss'), domain: y('predicted domain loss'),
          frame: gd.dataset.frame, frames: gd._transitionData._frames.map(f => f.name)};
}"""
SHOWN = """(keys) => keys.map(k => document.querySelector(`.st-key-${k} input[type="range"]`)
  .getAttribute('aria-valuetext')).join('|')"""


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def _no_error(page) -> None:
    """No exception and no error message (a warning that the LR leaves the fitted range is fine)."""
    assert page.locator('[data-testid="stException"]').count() == 0
    alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()
    assert not [a for a in alerts if "went wrong" in a], alerts


def _open(chrome, base_url, hold: dict):  # noqa: F811
    """Explore in a new tab whose messages to the server are dropped while ``hold["on"]``."""
    ctx = chrome.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()

    def route(ws):
        server = ws.connect_to_server()

        def up(message):
            if hold["on"]:
                hold["dropped"] += 1
            else:
                server.send(message)

        ws.on_message(up)
        server.on_message(ws.send)

    page.route_web_socket("**/_stcore/stream", route)
    page.goto(f"{base_url}/explore")
    wait_idle(page)
    page.wait_for_function(f"() => {{ const d = ({DRAWN})(); return d && d.frames.length > 1; }}")
    return ctx, page


def _frames_back(page, n: int) -> None:
    """Wait until the live chart holds at least ``n`` frames again (the fill after a rerun)."""
    page.wait_for_function(
        f"(n) => {{ const d = ({DRAWN})(); return d && d.frames.length >= n; }}",
        arg=n,
        timeout=60_000,
    )


@pytest.mark.parametrize(("key", "general_moves"), [("cpt_lr", True), ("replay", False)])
def test_a_key_press_on_a_headline_slider_switches_the_chart_without_a_rerun(
    chrome,  # noqa: F811
    base_url,  # noqa: F811
    key,
    general_moves,
):
    hold = {"on": False, "dropped": 0}
    ctx, page = _open(chrome, base_url, hold)
    try:
        thumb = page.locator(f'.st-key-{key} input[type="range"]')
        if thumb.is_disabled():
            pytest.skip(f"the bundled fit does not model {key}")
        before = page.evaluate(DRAWN)
        numbers = _metric(page, "General Δ"), _metric(page, "Domain Δ")
        controls = before["frame"].count("|") + 1
        keys = ["cpt_lr", "replay"][:controls]
        assert before["frame"] == page.evaluate(SHOWN, keys)
        hold["on"] = True  # from here on the server hears nothing: no rerun can happen
        thumb.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            f"(f) => ({DRAWN})().frame !== f", arg=before["frame"], timeout=10_000
        )
        after = page.evaluate(DRAWN)
        assert after["frame"] == page.evaluate(SHOWN, keys) != before["frame"]
        assert after["frame"] in before["frames"]
        assert len(after["domain"]) == len(before["domain"])
        # a higher CPT peak LR learns the domain faster and forgets more (paper §4.3); more
        # replay forgets less and learns the domain more slowly (§3.4)
        assert after["domain"][-1] != before["domain"][-1]
        if general_moves:
            assert after["general"][-1] > before["general"][-1]
        page.wait_for_timeout(1000)  # a rerun, had there been one, would have shown by now
        assert hold["dropped"] >= 1  # the slider asked for a rerun; it never reached the server
        assert (_metric(page, "General Δ"), _metric(page, "Domain Δ")) == numbers
        page.screenshot(path=str(ARTIFACTS / f"e2e-explore-live-{key}.png"), full_page=True)
    finally:
        ctx.close()


def test_the_rerun_after_a_move_brings_the_numbers_and_frames_around_the_new_setting(
    chrome,  # noqa: F811
    base_url,  # noqa: F811
):
    hold = {"on": False, "dropped": 0}
    ctx, page = _open(chrome, base_url, hold)
    try:
        before = page.evaluate(DRAWN)
        delta = _metric(page, "General Δ")
        page.locator('.st-key-cpt_lr input[type="range"]').focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(
            "(d) => { const m = [...document.querySelectorAll('[data-testid=\"stMetric\"]')]"
            ".find(e => e.innerText.includes('General Δ'));"
            " return m && !m.innerText.includes(d); }",
            arg=delta,
            timeout=60_000,
        )
        wait_idle(page)
        _frames_back(page, len(before["frames"]))
        after = page.evaluate(DRAWN)
        assert after["frame"] != before["frame"]
        assert after["frames"] != before["frames"]  # centred on the new LR
        _no_error(page)
    finally:
        ctx.close()


def test_after_another_control_moves_the_chart_shows_it_and_its_frames_come_back(
    chrome,  # noqa: F811
    base_url,  # noqa: F811
):
    """A fragment rerun after another control draws the new chart first and its neighbours once
    they are computed (``widgets.fill_live``)."""
    hold = {"on": False, "dropped": 0}
    ctx, page = _open(chrome, base_url, hold)
    try:
        before = page.evaluate(DRAWN)
        page.locator('[data-testid="stSlider"]', has_text="CPT warm-up").locator(
            'input[type="range"]'
        ).first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => window.location.search.includes('cpt_warmup=')")
        wait_idle(page)
        _frames_back(page, len(before["frames"]))
        after = page.evaluate(DRAWN)
        assert after["frames"] == before["frames"] and after["frame"] == before["frame"]
        assert after["general"] != before["general"]  # the chart shows the new warm-up
        _no_error(page)
    finally:
        ctx.close()


def test_a_zoom_along_the_steps_survives_a_rerun(chrome, base_url):  # noqa: F811
    """The component keeps its plotly chart and updates it (``Plotly.react``, ``uirevision``):
    a zoom made with the mouse stays when a control reruns the fragment (a re-mounted
    ``st.plotly_chart`` lost it)."""
    hold = {"on": False, "dropped": 0}
    ctx, page = _open(chrome, base_url, hold)
    x_range = "() => document.querySelector('.cpt-live-chart')._fullLayout.xaxis.range"
    try:
        before = page.evaluate(x_range)
        box = page.locator(".cpt-live-chart .nsewdrag").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.7, steps=5)
        page.mouse.up()
        page.wait_for_function(f"(r) => ({x_range})()[0] !== r[0]", arg=before)
        zoomed = page.evaluate(x_range)
        drawn = page.evaluate(DRAWN)
        page.locator('[data-testid="stSlider"]', has_text="CPT warm-up").locator(
            'input[type="range"]'
        ).first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            f"(y) => {{ const d = ({DRAWN})(); return d && d.general.join() !== y.join(); }}",
            arg=drawn["general"],
            timeout=60_000,
        )
        wait_idle(page)
        assert page.evaluate(x_range) == pytest.approx(zoomed)
    finally:
        ctx.close()
