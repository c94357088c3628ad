"""Track: a running job's log -> the forecast with its band, a target step, a Markdown snippet."""

import io

import numpy as np
from app_helpers import ROOT, figure, no_exception, open_page, trace

from cptcore.forecast import cut_run
from cptcore.runs import read_run, run_to_frame

CSV = "text/csv"
SAMPLE = ROOT / "sample_data" / "cpt"


def _csv(run) -> bytes:
    buf = io.StringIO()
    run_to_frame(run).to_csv(buf, index=False)
    return buf.getvalue().encode()


def _upload(at, name: str, content: bytes):
    at.file_uploader(key="track_upload").set_value([(name, content, CSV)]).run()
    return at


def test_track_page_shows_a_sample_job_before_any_upload():
    at = open_page("pages/track.py")
    no_exception(at)
    fig = figure(at)
    x_obs, _ = trace(fig, "observed (domain)")
    x_fc, y_fc = trace(fig, "forecast (domain)")
    assert x_fc[-1] > x_obs[-1]  # the forecast runs past the logged losses
    assert np.all(np.isfinite(y_fc))
    assert any("cut at 20%" in c.value for c in at.caption)


def test_uploaded_job_is_forecast_and_the_target_step_is_given():
    run = cut_run(read_run(SAMPLE / "ptconst_cpt-wsd_lr1e-3_replay0.25.csv"), 0.2)
    at = _upload(open_page("pages/track.py"), "job.csv", _csv(run))
    no_exception(at)
    assert not at.error
    _, y_fc = trace(figure(at), "forecast (domain)")
    target = float(np.round(y_fc[-1] + 0.02, 3))  # reached before the end of the schedule
    at.number_input(key="track_target").set_value(target).run()
    no_exception(at)
    msg = " ".join(s.value for s in at.success)
    assert f"Expected to reach the domain loss {target:.3f} at step" in msg
    snippet = at.code[0].value
    assert snippet.startswith("**Forecast of job**") and "domain (loss_cpt)" in snippet
    assert "expected at step" in snippet


def test_a_log_without_cpt_rows_is_one_line_and_the_page_stays():
    content = (SAMPLE / "pt-const.csv").read_bytes()
    at = _upload(open_page("pages/track.py"), "pt-only.csv", content)
    no_exception(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "no CPT rows" in errors[0] and "pt-only.csv" in errors[0]
