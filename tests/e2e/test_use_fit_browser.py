"""'Use this fit' in a real browser, where Explore's controls live in the URL (``bind``) and a page
switch drops widget state, which AppTest does not do: a scenario the user set on Explore is kept
(and said so), an Explore never set shows the new fit's typical scenario, and the URL follows.
Skipped like test_browser.py when chromium or playwright is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "app"))
from server import open_at, wait_idle  # noqa: E402
from test_browser import EXCEPTION, base_url, chrome  # noqa: E402,F401 - shared fixtures

pytestmark = pytest.mark.e2e
CHART = ".js-plotly-plot"
KEPT = '[data-testid="stAlertContentInfo"]'


def _lr(page) -> str:
    """The CPT peak LR slider's value as shown."""
    box = page.locator('[data-testid="stSlider"]', has_text="CPT peak LR").first
    return box.locator('[data-testid="stSliderThumbValue"]').inner_text()


def _fit_and_use(page, tmp_path) -> None:
    """Fit page: two synthetic runs (CPT at peak LR 5e-4), a fixed λ, 'Use this fit', Explore."""
    from app_helpers import synthetic_csv

    files = []
    for seed, kind in ((1, "wsd"), (2, "cosine")):
        files.append(tmp_path / f"synthetic_{kind}.csv")
        files[-1].write_bytes(synthetic_csv(seed, kind, f"synthetic_{kind}"))
    page.get_by_role("link", name="Fit").first.click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        [str(f) for f in files]
    )
    page.get_by_role("button", name="Fit", exact=True).wait_for(timeout=60_000)
    wait_idle(page)
    page.get_by_text("choose λ by cross-validation").click()  # one λ: a few seconds
    wait_idle(page)
    page.get_by_role("button", name="Fit", exact=True).click()
    page.get_by_role("button", name="Use this fit").wait_for(timeout=180_000)
    wait_idle(page)
    page.get_by_role("button", name="Use this fit").click()
    wait_idle(page)
    page.get_by_role("link", name="Explore").first.click()
    wait_idle(page)
    page.wait_for_selector(CHART, timeout=60_000)


@pytest.mark.parametrize("touched", [True, False])
def test_use_this_fit_keeps_a_scenario_set_on_explore_else_loads_the_fits(
    chrome,  # noqa: F811
    base_url,  # noqa: F811
    tmp_path,
    touched,
):
    with open_at(chrome, base_url, wait_for=CHART) as page:
        page.get_by_role("link", name="Explore").first.click()
        wait_idle(page)
        page.wait_for_selector(CHART, timeout=60_000)
        if touched:
            thumb = page.locator('[data-testid="stSlider"]', has_text="CPT peak LR")
            thumb.locator('input[type="range"]').first.focus()
            for _ in range(3):
                page.keyboard.press("ArrowLeft")  # 1e-3 -> 7e-4 -> 5e-4 -> 4e-4
            page.wait_for_function("() => window.location.search.includes('cpt_lr=4e-4')")
            wait_idle(page)
        chosen = _lr(page)
        _fit_and_use(page, tmp_path)
        notes = " | ".join(page.locator(KEPT).all_inner_texts())
        assert "preset=Your+fit" in page.url
        if touched:
            assert chosen == "4e-4" and _lr(page) == "4e-4"
            assert "Kept your scenario" in notes and "peak LR 4e-4" in notes
        else:  # the synthetic runs' CPT peak LR, not the sample fit's left in the controls
            assert chosen != "5e-4" and _lr(page) == "5e-4"
            assert "Kept your scenario" not in notes
        page.wait_for_function(
            f"() => window.location.search.includes('cpt_lr={_lr(page)}')", timeout=10_000
        )
        assert page.locator(EXCEPTION).count() == 0
