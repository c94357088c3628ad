"""What a user set on a page is still there after a visit to another page, for the whole session
(QA pass 2, P1-1 and P2-4: Streamlit drops the value of a widget not drawn in a run, so a page
switch reset Learn's PT steps, Track's target and Fit's 'Fit from step'), and no page sets a
widget's value both as a default and through the Session State API (P3: the browser drew the
default first, and the server logged a warning)."""

import pytest
from app_helpers import ROOT, no_exception, open_page, synthetic_csv

from ui import data

CSV = "text/csv"


def _away_and_back(at, page: str, via: str = "pages/explore.py"):
    at.switch_page(via).run()
    at.switch_page(page).run()
    no_exception(at)
    return at


def test_learn_keeps_each_steps_controls_after_a_visit_to_another_page():
    at = open_page("pages/learn.py")
    at.radio(key="learn_step").set_value("critical").run()
    at.select_slider(key="learn_crit_pt").set_value(7500).run()
    at.select_slider(key="learn_crit_steps").set_value(20_000).run()
    at.selectbox(key="learn_preset").set_value(data.PAPER).run()
    _away_and_back(at, "pages/learn.py")
    assert at.radio(key="learn_step").value == "critical"
    assert at.select_slider(key="learn_crit_pt").value == 7500
    assert at.select_slider(key="learn_crit_steps").value == 20_000


def test_track_keeps_its_target_after_a_visit_to_another_page():
    at = open_page("pages/track.py")
    at.number_input(key="track_target").set_value(1.6).run()
    _away_and_back(at, "pages/track.py")
    assert at.number_input(key="track_target").value == 1.6
    assert any("domain loss 1.600" in m.value for m in [*at.success, *at.info])


def test_track_keeps_the_uploaded_log_after_a_visit_to_another_page_until_it_is_forgotten():
    """A page switch empties Streamlit's upload box: Track fell back to its demo run."""
    import io

    from cptcore.forecast import cut_run
    from cptcore.runs import read_run, run_to_frame

    run = cut_run(read_run(ROOT / "sample_data/cpt/ptconst_cpt-wsd_lr1e-3_replay0.25.csv"), 0.2)
    buf = io.StringIO()
    run_to_frame(run).to_csv(buf, index=False)
    at = open_page("pages/track.py")
    at.file_uploader(key="track_upload").set_value([("job.csv", buf.getvalue().encode(), CSV)])
    at.run()
    assert at.code[0].value.startswith("**Forecast of job**")
    _away_and_back(at, "pages/track.py")
    assert at.code[0].value.startswith("**Forecast of job**")
    assert any("job.csv, uploaded earlier in this session" in c.value for c in at.caption)
    at.button(key="track_forget").click().run()
    no_exception(at)
    assert any("No upload yet" in c.value for c in at.caption)


@pytest.mark.parametrize("target", [-3.0, 0.0])
def test_track_refuses_a_target_of_zero_or_less_in_one_line_as_plan_does(target):
    """Track took -3 nats silently while Plan refused it: one rule (cptcore.inputs.loss_to_reach),
    one line naming the control."""
    at = open_page("pages/track.py")
    at.number_input(key="track_target").set_value(target).run()
    no_exception(at)
    (msg,) = [e.value for e in at.error]
    assert msg.startswith("'Domain loss to reach (nats)': the domain loss to reach must be above 0")
    assert f"(got {target})" in msg and "\n" not in msg
    assert not any("domain loss" in s.value for s in at.success)  # no sentence for that target
    assert at.get("plotly_chart")  # the forecast itself is still shown


def test_fit_keeps_its_settings_and_selection_after_a_visit_to_another_page():
    at = open_page("pages/fit.py")
    files = [(f"{n}.csv", synthetic_csv(i, k), CSV) for i, (n, k) in enumerate(
        [("a", "wsd"), ("b", "cosine"), ("c", "constant")], start=1)]  # fmt: skip
    at.file_uploader(key="upload").set_value(files).run()
    at.multiselect(key="fit_on").set_value(["a", "b"]).run()
    at.multiselect(key="hold_out").set_value(["c"]).run()
    at.selectbox(key="law").set_value("eq4").run()
    at.checkbox(key="fit_lambda_auto").uncheck().run()
    at.select_slider(key="fit_lambda").set_value(0.99).run()
    at.number_input(key="fit_min_step").set_value(300).run()
    _away_and_back(at, "pages/fit.py", via="pages/learn.py")
    assert at.multiselect(key="fit_on").value == ["a", "b"]
    assert at.multiselect(key="hold_out").value == ["c"]
    assert at.selectbox(key="law").value == "eq4"
    assert not at.checkbox(key="fit_lambda_auto").value
    assert at.select_slider(key="fit_lambda").value == 0.99
    assert at.number_input(key="fit_min_step").value == 300


def test_fit_keeps_the_sample_settings_after_a_visit_to_another_page():
    if data.SAMPLE not in data.presets():
        pytest.skip("no sample fit")
    at = open_page("pages/fit.py")
    at.button(key="use_samples").click().run()
    step = at.number_input(key="fit_min_step").value
    assert step > 0  # the sample fit's 'Fit from step' (500)
    _away_and_back(at, "pages/fit.py")
    assert at.number_input(key="fit_min_step").value == step


def test_the_lambda_slider_is_disabled_while_cross_validation_chooses_lambda_after_an_upload():
    """After an upload (not the samples button) the slider was drawn enabled although the ticked
    'choose λ by cross-validation' ignores it."""
    at = open_page("pages/fit.py")
    at.file_uploader(key="upload").set_value([("a.csv", synthetic_csv(1, "wsd"), CSV)]).run()
    assert at.checkbox(key="fit_lambda_auto").value
    assert at.select_slider(key="fit_lambda").disabled
    at.checkbox(key="fit_lambda_auto").uncheck().run()
    assert not at.select_slider(key="fit_lambda").disabled


def test_a_fit_from_the_cache_says_so_instead_of_another_sessions_fit_time():
    files = [("a.csv", synthetic_csv(11, "wsd"), CSV), ("b.csv", synthetic_csv(12, "cosine"), CSV)]

    def fit_once():
        at = open_page("pages/fit.py")
        at.file_uploader(key="upload").set_value(files).run()
        at.selectbox(key="law").set_value("eq4").run()
        at.checkbox(key="fit_lambda_auto").uncheck().run()
        at.button(key="fit_button").click().run(timeout=120)
        no_exception(at)
        return next(m.value for m in at.markdown if m.value.startswith("Fitted **"))

    first, second = fit_once(), fit_once()
    assert "cache" not in first and first.rstrip(".").endswith(" s")
    assert "taken from the cache" in second


@pytest.fixture
def session_state_warnings(monkeypatch):
    """Streamlit's warning 'created with a default value but also had its value set via the
    Session State API', as a list of widget keys. Streamlit checks only with a runtime (not under
    AppTest) and warns once per process: both are lifted here."""
    from streamlit.elements.lib import policies

    keys = []
    monkeypatch.setattr(policies.runtime, "exists", lambda: True)
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)

    def warning(msg, *args, **kw):
        if "created with a default value" in msg:
            keys.append(args[0])
            monkeypatch.setattr(policies, "_shown_default_value_warning", False)

    monkeypatch.setattr(policies._LOGGER, "warning", warning)
    return keys


def test_no_page_gives_a_widget_both_a_default_and_a_session_state_value(session_state_warnings):
    at = open_page("pages/fit.py")
    if data.sample_files():
        at.button(key="use_samples").click().run()
    short = (ROOT / "tests" / "data" / "canonical-run-example.csv").read_bytes()
    at.file_uploader(key="upload").set_value([("short.csv", short, CSV)]).run()
    for page in ("pages/explore.py", "pages/learn.py", "pages/plan.py", "pages/track.py"):
        at.switch_page(page).run()
        no_exception(at)
    at.switch_page("pages/plan.py").run()
    at.radio(key="plan_mode").set_value("domain_target").run()
    at.switch_page("pages/fit.py").run()
    at.switch_page("pages/learn.py").run()
    at.button(key="learn_next").click().run()
    no_exception(at)
    assert session_state_warnings == []
