"""Track: a running job's log -> the forecast with its band, a target step, a Markdown snippet."""

import io
import json

import numpy as np
from app_helpers import ROOT, figure, no_exception, open_page, trace

from cptcore.forecast import cut_run
from cptcore.runs import read_run, run_to_frame

CSV = "text/csv"
SAMPLE = ROOT / "sample_data" / "cpt"
DEMO = "ptconst_cpt-wsd_lr1e-3_replay0.25"  # the page's demo run, held out of the sample fit


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
    # the share observed is said in steps, as the cut is (its summed-LR share in the help)
    observed = next(m for m in at.metric if m.label == "CPT observed")
    assert observed.value == "20%" and "summed learning rate" in observed.help


def test_the_demo_before_any_upload_is_a_held_out_run_inside_the_fit_and_opens_without_warning():
    at = open_page("pages/track.py")
    no_exception(at)
    shown = DEMO.replace("_", "\\_")  # Markdown-escaped on the page
    assert any(f"sample run {shown} (cut at 20% of CPT)" in c.value for c in at.caption)
    assert not at.warning and not at.error  # a first impression without "outside the fitted range"
    split = json.loads((SAMPLE / "split.json").read_text(encoding="utf-8"))
    assert f"{DEMO}.csv" not in split["train"]  # a forecast of a run the fit did not see


def test_out_of_range_warnings_of_an_uploaded_job_end_with_a_period_on_the_page_and_in_markdown():
    run = cut_run(read_run(SAMPLE / "ptconst_cpt-cos_lr1e-3_replay0.csv"), 0.2)  # cosine: outside
    at = _upload(open_page("pages/track.py"), "job.csv", _csv(run))
    no_exception(at)
    warnings = [w.value for w in at.warning]
    assert warnings == [
        "The CPT schedule's mean LR (50% of its peak) is outside the fitted range 88%–98% (a "
        "schedule shape the fitted runs did not have): the forecast extrapolates and the band is "
        "widened ×2.1."
    ]  # 1 + 3 x (0.875 - 0.5): the fitted runs' lowest mean LR share minus the cosine's
    notes = [ln for ln in at.code[0].value.splitlines() if ln.startswith("- **Warning:**")]
    assert len(notes) == 1 and notes[0].endswith("did not have).")


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
    assert "Expected to reach the domain loss" in snippet and "95% band: step" in msg


def test_a_target_the_logged_losses_passed_is_already_reached_at_a_logged_step():
    run = cut_run(read_run(SAMPLE / f"{DEMO}.csv"), 0.2)  # the page's sample
    ok = run.is_cpt & np.isfinite(run.loss_cpt) & (run.loss_cpt <= 2.5)
    first = int(run.step[ok][0])
    at = open_page("pages/track.py")
    at.number_input(key="track_target").set_value(2.5).run()
    no_exception(at)
    sentence = f"Already reached the domain loss 2.500 at step {first:,} (logged)."
    assert sentence in " ".join(s.value for s in at.success)
    assert sentence in at.code[0].value and "Expected to reach" not in at.code[0].value


def test_a_log_without_cpt_rows_is_one_line_and_the_page_stays():
    content = (SAMPLE / "pt-const.csv").read_bytes()
    at = _upload(open_page("pages/track.py"), "pt-only.csv", content)
    no_exception(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "no CPT rows" in errors[0] and "pt-only.csv" in errors[0]


def _wandb_log(run, last_step: int) -> bytes:
    """A W&B panel export of ``run`` up to ``last_step``: only rows where a loss was logged."""
    rows = ["Step,job - train/lr,job - eval/loss_general,job - eval/loss_domain"]
    ok = (run.step <= last_step) & (np.isfinite(run.loss_pt) | np.isfinite(run.loss_cpt))
    for s, lr, g, d in zip(run.step[ok], run.lr[ok], run.loss_pt[ok], run.loss_cpt[ok], strict=True):
        rows.append(f"{s},{lr},{'' if np.isnan(g) else g},{'' if np.isnan(d) else d}")
    return "\n".join(rows).encode()


PLANNED = "constant:peak=1e-3,steps=2500,warmup=100;wsd:peak=1e-3,steps=1000,warmup=50,decay=0.2"


def _map_wandb(at, schedule: str = PLANNED):
    """Fill the Track page's mapping form for ``_wandb_log`` and click Import."""
    assert any("is not a canonical run CSV" in m.value for m in at.markdown)
    at.selectbox(key="track_map_lr").set_value("train/lr")
    at.selectbox(key="track_map_loss_pt").set_value("eval/loss_general")
    at.selectbox(key="track_map_loss_cpt").set_value("eval/loss_domain")
    at.checkbox(key="track_map_cptonly").uncheck().run()
    at.number_input(key="track_map_start").set_value(2500)
    at.number_input(key="track_map_replay").set_value(0.25)
    at.text_input(key="track_map_sched").input(schedule)
    return at.button(key="track_map_add").click().run()


def test_a_wandb_log_is_mapped_once_and_read_again_when_reuploaded_with_more_rows():
    run = read_run(SAMPLE / "ptconst_cpt-wsd_lr1e-3_replay0.25.csv")
    at = _map_wandb(_upload(open_page("pages/track.py"), "job.csv", _wandb_log(run, 2700)))
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    x_obs, _ = trace(figure(at), "observed (domain)")
    x_fc, first = trace(figure(at), "forecast (domain)")
    assert x_obs[-1] == 2700 and x_fc[-1] == 3500  # forecast to the end of the planned schedule
    # the job went on: the same file name with more rows is read with the same mapping
    at = _upload(at, "job.csv", _wandb_log(run, 2900))
    no_exception(at)
    assert not any("is not a canonical run CSV" in m.value for m in at.markdown)
    x_obs, _ = trace(figure(at), "observed (domain)")
    x_fc, second = trace(figure(at), "forecast (domain)")
    assert x_obs[-1] == 2900 and x_fc[-1] == 3500
    assert not np.allclose(first[-1], second[-1])  # the forecast follows the new points
    at = _upload(at, "job.csv", _wandb_log(run, 3100))  # and once more
    x_obs, _ = trace(figure(at), "observed (domain)")
    assert x_obs[-1] == 3100 and not at.error


def test_a_canonical_job_reuploaded_with_more_rows_updates_the_forecast():
    run = read_run(SAMPLE / "ptconst_cpt-wsd_lr1e-3_replay0.25.csv")
    at = _upload(open_page("pages/track.py"), "job.csv", _csv(cut_run(run, 0.2)))
    _, first = trace(figure(at), "forecast (domain)")
    at = _upload(at, "job.csv", _csv(cut_run(run, 0.4)))
    no_exception(at)
    x_obs, _ = trace(figure(at), "observed (domain)")
    _, second = trace(figure(at), "forecast (domain)")
    assert x_obs[-1] == 2900 and not np.allclose(first[-1], second[-1])


def test_a_planned_schedule_shorter_than_the_log_is_one_line_and_the_form_stays():
    run = read_run(SAMPLE / "ptconst_cpt-wsd_lr1e-3_replay0.25.csv")
    at = _upload(open_page("pages/track.py"), "job.csv", _wandb_log(run, 2700))
    at = _map_wandb(at, PLANNED.replace("steps=1000", "steps=100"))
    no_exception(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "job.csv" in errors[0] and "beyond the end of the schedule" in errors[0]
    assert any("is not a canonical run CSV" in m.value for m in at.markdown)  # choose again
