"""Track in a real browser: upload a running job's partial log, see the forecast chart and, given a
domain loss to reach, "Expected to reach ... at step N". Screenshots at 1400 and 800 px go to
test-artifacts/. Skipped like test_browser.py when chromium or playwright is missing."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from server import ROOT, open_at, wait_idle  # noqa: E402
from test_browser import ARTIFACTS, EXCEPTION, base_url, chrome  # noqa: E402,F401 - shared fixtures

from cptcore.forecast import cut_run, forecast_run  # noqa: E402
from cptcore.params_io import load  # noqa: E402
from cptcore.runs import read_run, write_run  # noqa: E402

pytestmark = pytest.mark.e2e
SAMPLE = ROOT / "sample_data" / "cpt"


@pytest.mark.parametrize("width", [1400, 800])
def test_uploaded_partial_job_shows_its_forecast_and_the_step_it_reaches_a_target(
    chrome,  # noqa: F811
    base_url,  # noqa: F811
    tmp_path,
    width,
):
    partial = cut_run(read_run(SAMPLE / "ptconst_cpt-wsd_lr1e-3_replay0.25.csv"), 0.2)
    path = tmp_path / "running_job.csv"
    write_run(partial, str(path))
    final = forecast_run(load(SAMPLE / "params.json"), partial).targets["cpt"].pred[-1]
    target = round(float(final) + 0.02, 3)  # reached before the end of the schedule
    with open_at(chrome, f"{base_url}/track", width, 1000) as page:
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
        page.get_by_text("No upload yet").wait_for(state="detached", timeout=60_000)
        wait_idle(page)
        page.locator(".js-plotly-plot").last.wait_for(timeout=60_000)
        box = page.get_by_label("Domain loss to reach (nats)")
        box.fill(f"{target:.3f}")
        box.press("Enter")
        message = page.locator('[data-testid="stAlertContentSuccess"]').get_by_text(
            re.compile(r"Expected to reach the domain loss .* at step [\d,]+")
        )
        message.wait_for(timeout=60_000)
        wait_idle(page)
        assert f"{target:.3f}" in message.inner_text()
        assert page.locator(EXCEPTION).count() == 0
        # one chart (a stale one may linger a moment after the rerun under load)
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot').length == 1", timeout=30_000
        )
        traces = page.evaluate(
            "() => document.querySelector('.js-plotly-plot').data.map(t => t.name)"
        )
        assert "forecast (domain)" in traces and "observed (domain)" in traces
        page.screenshot(path=str(ARTIFACTS / f"e2e-track-{width}.png"), full_page=True)
