"""Track and Explore say when a curve extrapolates beyond the fitted PT history, widen its band, and
refuse to print an implausible loss as a forecast (cptcore.envelope: PT history, implausible)."""

import numpy as np
from app_helpers import ROOT, figure, live_charts, no_exception, open_page, trace

CSV = "text/csv"
TOY = ROOT / "tests" / "data" / "canonical-run-example.csv"  # 20 PT steps, the sample fit saw 2,500


def test_track_names_the_pt_history_and_refuses_an_implausible_forecast():
    at = open_page("pages/track.py")
    at.file_uploader(key="track_upload").set_value([("toy.csv", TOY.read_bytes(), CSV)]).run()
    no_exception(at)
    warnings = [w.value for w in at.warning]
    pt = [w for w in warnings if "PT summed LR" in w]
    assert pt == [
        "The PT summed LR 0.00555 (20 PT steps) is outside the fitted range 2.2–2.45 (2,500 PT "
        "steps): the forecast extrapolates and the band is widened ×13.1."
    ]  # the last reason carries the widening (the LR and schedule reasons come first)
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and all(e.startswith("Not a plausible prediction") for e in errors)
    ends = {m.label: m for m in at.metric if m.label.endswith("at the end")}
    assert [m.value for m in ends.values()] == ["—", "—"]  # no number printed as if trusted
    assert "not a plausible loss" in ends["General at the end"].help
    snippet = at.code[0].value
    assert "- **Warning:** The PT summed LR 0.00555" in snippet
    assert "not plausible (" in snippet
    _, y = trace(figure(at), "forecast (general)")
    assert np.nanmax(y) > 20  # still drawn: the chart shows what the law does there
    # its CPT losses are logged but before step 500, where the sample fit starts: said so
    assert any("all come before the rows the base fit uses" in c.value for c in at.caption)


def test_track_shows_numbers_for_a_run_like_the_fitted_ones():
    at = open_page("pages/track.py")  # the sample run cut at 20 %: the fitted PT, 1e-3, WSD
    no_exception(at)
    assert not at.error
    assert not any("PT summed LR" in w.value for w in at.warning)
    ends = [m for m in at.metric if m.label.endswith("at the end")]
    assert len(ends) == 2 and all(float(m.value) > 0 for m in ends)


def test_explore_flags_a_pt_far_outside_the_fitted_one_instead_of_printing_its_numbers():
    at = open_page("pages/explore.py")
    assert len(at.metric) == 4 and not at.error
    at.select_slider(key="pt_lr").set_value(1e-5).run()  # PT summed LR 100x below the fitted runs'
    no_exception(at)
    warnings = [w.value for w in at.warning if "PT summed LR" in w.value]
    assert len(warnings) == 1
    assert "outside the fitted range 2.2–2.45 (2,500 PT steps)" in warnings[0]
    assert "the band is widened ×" in warnings[0]
    assert len(at.error) == 2 and "Not a plausible prediction" in at.error[0].value
    assert len(at.metric) == 0  # no numbers printed as if trusted
    assert len(at.get("plotly_chart")) + len(live_charts(at)) == 1  # the curves are still drawn


def test_plan_says_every_prediction_extrapolates_when_its_fixed_pt_is_outside_the_fitted_one():
    at = open_page("pages/plan.py")
    assert not any("PT summed LR" in w.value for w in at.warning)
    at.select_slider(key="plan_pt_steps").set_value(20_000).run()  # 8x the fitted PT
    no_exception(at)
    pt = [w.value for w in at.warning if "PT summed LR" in w.value]
    assert len(pt) == 1 and "(20,000 PT steps) is outside the fitted range 2.2–2.45" in pt[0]
    assert "every prediction on this page extrapolates" in pt[0]
    assert not at.error  # outside, but still plausible losses
