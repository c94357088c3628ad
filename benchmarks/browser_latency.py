"""What a user feels on Explore: the browser round trip from a key press on a slider to a changed chart.

Starts the app (tests/e2e/server.py ``streamlit_server``), opens Explore in Debian's chromium
(Playwright, never ``playwright install``), focuses the "CPT peak LR" select slider and presses
ArrowRight ``--presses`` times (a new setting each time: the server has not drawn it yet), then
ArrowLeft as many times (settings seen before), then the same on "Replay", then ArrowRight on "CPT
warm-up" (another control: a new setting whose neighbours are all new). For each press a listener
in the page stamps the keydown; a poll in the page (every animation frame) stamps the first moment
the chart's data (a signature of every trace's y values) differs from before the press. Also
measured: cold start (navigation start -> first chart drawn, on a fresh server and on a warm one)
and a page switch (click "Explore" in the sidebar on another page -> chart drawn).

Each size runs with Explore's live chart (ui/livechart.py: the chart switches to a frame the page
sent with it as soon as the CPT peak LR or replay slider moves, before the rerun) and without it
(``scrub=false``: the chart as each rerun draws it, with another CPT warm-up, so that none of its
settings is cached by the run with the live chart).

    python benchmarks/browser_latency.py                 # 1k, 100k, 1M CPT steps, 6 presses each way
    python benchmarks/browser_latency.py --steps 1000 --presses 10
    python benchmarks/browser_latency.py --steps          # cold start and page switch only
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

from server import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

# a signature of the first chart's drawn data: changes whenever any trace's y values change
SIGNATURE = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullData || !gd._fullLayout) return null;
  let s = gd._fullData.length + ':';
  for (const t of gd._fullData) {  // decoded arrays (gd.data may hold base64 typed arrays)
    const y = t.y; if (!y || !y.length) continue;
    const n = y.length;
    s += n + ',' + y[0] + ',' + y[n >> 2] + ',' + y[n >> 1] + ',' + y[(3 * n) >> 2] + ',' + y[n - 1] + ';';
  }
  return s;
}"""

# stamps: window.__press (keydown), window.__drawn (first frame with a new signature after it)
WATCH = (
    """() => {
  const sig = """
    + SIGNATURE
    + """;
  window.__sig = sig;
  if (window.__watching) return;
  window.__watching = true;
  const stamp = () => {
    window.__before = sig(); window.__press = performance.now(); window.__drawn = null;
  };
  document.addEventListener('keydown', stamp, true);
  document.addEventListener('mousedown', stamp, true);
  const loop = () => {
    if (window.__press != null && window.__drawn == null) {
      const s = sig();
      if (s !== null && s !== window.__before) window.__drawn = performance.now();
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
}"""
)

IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


def _settle(page, ms: int = 400) -> None:
    page.wait_for_function(IDLE, timeout=60_000)
    page.wait_for_timeout(ms)
    page.wait_for_function(IDLE, timeout=60_000)


def _first_chart(page, timeout: float = 120_000) -> float:
    """ms from navigation start to the first drawn chart (data with y values)."""
    page.wait_for_function(
        "() => { const g = document.querySelector('.js-plotly-plot');"
        " return g && g.data && g.data.length && g._fullLayout; }",
        timeout=timeout,
    )
    return page.evaluate("() => performance.now()")


def _presses(page, key: str, n: int, label: str = "CPT peak LR") -> list[float]:
    thumb = page.locator('[data-testid="stSlider"]', has_text=label).locator('input[type="range"]')
    out = []
    for _ in range(n):
        page.evaluate(WATCH)
        thumb.first.focus()
        page.keyboard.press(key)
        page.wait_for_function("() => window.__drawn != null", timeout=60_000)
        out.append(page.evaluate("() => window.__drawn - window.__press"))
        _settle(page)
    return out


def _stats(xs: list[float]) -> str:
    return f"{statistics.median(xs):7.0f} {max(xs):7.0f}" if xs else f"{'-':>7} {'-':>7}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, nargs="*", default=[1_000, 100_000, 1_000_000])
    ap.add_argument("--presses", type=int, default=6)
    ap.add_argument("--screenshot", help="save a 1400 px screenshot of Explore here")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rows = []
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        page.goto(url + "/explore", wait_until="commit")
        rows.append(("cold start, fresh server", [_first_chart(page)]))
        _settle(page)
        for _ in range(3):  # cold start with the server warm: a new session each time
            for live in (True, False):
                ctx2 = browser.new_context(viewport={"width": 1400, "height": 900})
                p2 = ctx2.new_page()
                p2.goto(url + "/explore" + ("" if live else "?scrub=false"), wait_until="commit")
                tail = "" if live else ", live chart off"
                rows.append((f"cold start, warm server{tail}", [_first_chart(p2)]))
                ctx2.close()
        merged: dict[str, list[float]] = {}
        for name, xs in rows:
            merged.setdefault(name, []).extend(xs)
        rows = list(merged.items())
        if args.screenshot:
            from server import full_screenshot

            full_screenshot(page, args.screenshot)
        # page switch: Home -> Explore through the sidebar
        switch = []
        for _ in range(3):
            page.goto(url + "/", wait_until="load")
            page.wait_for_selector("h1", timeout=60_000)
            _settle(page)
            t0 = page.evaluate("() => performance.now()")
            page.locator('[data-testid="stSidebarNav"] a', has_text="Explore").first.click()
            # Home has a chart too: wait for Explore's title and no stale (Home) elements left
            page.wait_for_function(
                "() => { const h = document.querySelector('h1');"
                " const g = document.querySelector('.js-plotly-plot');"
                " return h && h.innerText.includes('Explore') && g && g._fullData"
                " && g._fullData.length && !document.querySelector('[data-stale=\"true\"]'); }",
                timeout=60_000,
            )
            switch.append(page.evaluate("() => performance.now()") - t0)
            _settle(page)
        rows.append(("page switch Home -> Explore", switch))
        for steps, live in [(s, on) for s in args.steps for on in (True, False)]:
            # without the live chart: the chart as before it (one scenario, redrawn by each
            # rerun); another CPT warm-up, so that no setting is cached by the run with it
            tail = "" if live else ", live chart off"
            q = f"cpt_steps={steps}&scrub={str(live).lower()}" + (
                "" if live else "&cpt_warmup=6.5"
            )
            page.goto(f"{url}/explore?{q}", wait_until="commit")
            _first_chart(page)
            _settle(page, 800)
            for label, name in (("CPT peak LR", "CPT peak LR"), ("Replay", "replay")):
                new = _presses(page, "ArrowRight", args.presses, label)
                seen = _presses(page, "ArrowLeft", args.presses, label)
                rows.append((f"{name}, {steps:,} CPT steps, new setting{tail}", new))
                rows.append((f"{name}, {steps:,} CPT steps, seen setting{tail}", seen))
            # another control: every neighbour of the live chart is new
            other = _presses(page, "ArrowRight", args.presses, "CPT warm-up")
            rows.append((f"CPT warm-up, {steps:,} CPT steps{tail}", other))
        browser.close()
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"{'case (ms)':<54} {'median':>7} {'max':>7} {'n':>3}")
    for name, xs in rows:
        print(f"{name:<54} {_stats(xs)} {len(xs):>3}")


if __name__ == "__main__":
    main()
