"""Explore: live predictions that follow the controls, pins, URL state, presets."""

import numpy as np
from app_helpers import figure, no_exception, open_page, trace


def _curves(at):
    fig = figure(at)
    return trace(fig, "predicted general loss")[1], trace(fig, "predicted domain loss")[1]


def test_explore_runs_with_a_chart_and_four_numbers():
    at = open_page("pages/explore.py")
    no_exception(at)
    assert len(at.metric) == 4
    general, domain = _curves(at)
    assert np.all(np.isfinite(general[len(general) // 2 :]))
    # the general loss rises in CPT and the domain loss falls (paper Fig. 3 shape)
    assert float(at.metric[0].value) > 0 > float(at.metric[1].value)


def test_moving_the_cpt_peak_lr_changes_the_prediction():
    at = open_page("pages/explore.py")
    g0, d0 = _curves(at)
    rise0 = float(at.metric[0].value)
    at.select_slider(key="cpt_lr").set_value(1e-5).run()
    no_exception(at)
    g1, d1 = _curves(at)
    assert not np.allclose(d0, d1)
    # a much lower CPT peak LR forgets less (paper §4.3)
    assert float(at.metric[0].value) < rise0


def test_longer_cpt_and_replay_controls_rerun_the_chart():
    at = open_page("pages/explore.py")
    x0, _ = trace(figure(at), "learning rate")
    before = at.select_slider(key="cpt_steps").value
    at.select_slider(key="cpt_steps").set_value(20000).run()
    no_exception(at)
    x1, _ = trace(figure(at), "learning rate")
    assert x1.max() - x0.max() == 20_000 - before
    at.slider(key="potential").set_value(100.0).run()
    no_exception(at)
    assert at.metric[3].value == "100 %"


def test_pin_overlays_a_scenario_and_clear_removes_it():
    at = open_page("pages/explore.py")
    at.button(key="pin").click().run()
    no_exception(at)
    at.slider(key="cpt_warmup").set_value(10.0).run()
    names = [t.get("name", "") for t in figure(at)["data"]]
    assert any(n.startswith("pin 1") for n in names)
    at.button(key="clear_pins").click().run()
    names = [t.get("name", "") for t in figure(at)["data"]]
    assert not any(n.startswith("pin") for n in names)


def test_scenario_comes_from_the_url_query_parameters():
    from app_helpers import ROOT, TIMEOUT
    from streamlit.testing.v1 import AppTest

    from ui import data

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/explore.py")
    at.query_params["preset"] = data.PRESET_LABELS[data.PAPER]  # bound selects keep the label
    at.query_params["cpt_kind"] = "constant"
    at.query_params["cpt_steps"] = "20k"  # select sliders keep the shown label in the URL
    at.run()
    no_exception(at)
    assert at.selectbox(key="preset").value == data.PAPER
    assert at.selectbox(key="cpt_kind").value == "constant"
    assert at.select_slider(key="cpt_steps").value == 20000


def test_term_decomposition_adds_the_three_terms():
    at = open_page("pages/explore.py")
    at.selectbox(key="terms").set_value("cpt").run()
    no_exception(at)
    names = [t.get("name", "") for t in figure(at)["data"]]
    assert sum(n.startswith(("power law", "annealing", "distribution shift")) for n in names) == 3


def test_sample_fit_is_the_default_preset_once_params_json_exists(tmp_path, monkeypatch):
    """sample_data/cpt/params.json arrives later: simulate it with an Eq. 8 (convex replay) set."""
    from cptcore.params_io import ParamSet, save
    from cptcore.presets import PAPER_FIG3
    from ui import data

    eq8 = {t: p.with_values(a1=0.0, a2=3.0, replay_form="convex") for t, p in PAPER_FIG3.items()}
    path = tmp_path / "params.json"
    save(ParamSet.from_params(eq8), str(path))
    monkeypatch.setattr(data, "SAMPLE_PARAMS", path)
    at = open_page("pages/explore.py")
    no_exception(at)
    assert at.selectbox(key="preset").value == data.SAMPLE
    replay = at.slider(key="replay")
    assert not replay.disabled  # Eq. 8 models replay
    rise = float(at.metric[0].value)
    replay.set_value(50.0).run()
    no_exception(at)
    assert float(at.metric[0].value) < rise  # replay shrinks the rise of the general loss


def test_an_unexpected_failure_is_a_short_message_not_a_traceback(monkeypatch):
    from ui import data

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail that must not reach the user")

    monkeypatch.setattr(data, "view", broken)
    at = open_page("pages/explore.py")
    no_exception(at)
    assert at.error and "Something went wrong" in at.error[0].value
    assert "internal detail" not in at.error[0].value


def test_a_broken_sample_fit_falls_back_to_the_paper_and_says_why(tmp_path, monkeypatch):
    from ui import data

    path = tmp_path / "params.json"
    path.write_text('{"pt": {"L0": 3}}')
    monkeypatch.setattr(data, "SAMPLE_PARAMS", path)
    at = open_page("pages/explore.py")
    no_exception(at)
    assert at.selectbox(key="preset").value == data.PAPER
    assert any("missing parameters" in c.value for c in at.caption)


def test_every_peak_lr_option_has_its_own_label_and_can_be_chosen():
    """One-digit labels made 1.5e-6 and 2e-6 both read '2e-6' (issue 10): the slider's value is sent
    as its label, so the second could never be chosen. Every option reads differently, reads back as
    its own number, and is reached through the widget and through a link."""
    from app_helpers import ROOT, TIMEOUT
    from streamlit.testing.v1 import AppTest

    from ui.widgets import LRS, fmt_lr

    labels = [fmt_lr(v) for v in LRS]
    assert len(set(labels)) == len(LRS), labels
    assert [float(s) for s in labels] == LRS
    at = open_page("pages/explore.py")
    for v in LRS:
        at.select_slider(key="cpt_lr").set_value(v).run()
        assert at.select_slider(key="cpt_lr").value == v, fmt_lr(v)
    no_exception(at)
    for v in (1.5e-6, 1.5e-4, 3e-4):
        link = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
        link.switch_page("pages/explore.py")
        link.query_params["cpt_lr"] = fmt_lr(v)
        link.run()
        assert link.select_slider(key="cpt_lr").value == v, fmt_lr(v)


def _explore_from_link(**params):
    from app_helpers import ROOT, TIMEOUT
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/explore.py")
    at.query_params.update(params)
    at.run()
    no_exception(at)
    return at


def test_a_your_fit_link_in_another_session_says_what_it_shows_instead():
    """'Your fit' lives in the session that made it: a shared link or F5 used to switch silently to
    another preset. Say so, and what is shown instead; the link's schedule still applies."""
    from ui import data

    at = _explore_from_link(preset=data.PRESET_LABELS[data.YOURS], cpt_kind="constant")
    shown = at.selectbox(key="preset").value
    assert shown != data.YOURS
    (note,) = [i.value for i in at.info]
    assert "Your fit" in note and "not in this browser session" in note
    assert data.PRESET_LABELS[shown] in note
    assert at.selectbox(key="cpt_kind").value == "constant"
    at.selectbox(key="preset").set_value(
        data.PAPER
    ).run()  # the user chose: the note has done its job
    assert not at.info


def test_a_your_fit_link_without_a_schedule_says_the_schedule_shown_is_the_fits_own():
    """After 'Use this fit on Explore' the URL holds only preset=Your+fit (the fit's schedule is
    set by code, which Streamlit does not write to the URL); on F5 the note claimed "the link's
    schedule" while the sample fit's own was shown (QA pass 2, P2-2a)."""
    from ui import data

    at = _explore_from_link(preset=data.PRESET_LABELS[data.YOURS])
    (note,) = [i.value for i in at.info]
    assert "the link's schedule" not in note
    assert "its own typical schedule (the link holds no schedule settings)" in note
    shown = data.presets()[at.selectbox(key="preset").value]
    assert at.select_slider(key="cpt_steps").value == shown.defaults.cpt_steps
    at = _explore_from_link(preset=data.PRESET_LABELS[data.YOURS], cpt_kind="constant")
    (note,) = [i.value for i in at.info]
    assert "with the link's schedule settings" in note


def test_a_hand_typed_link_may_give_plain_numbers_for_steps_and_lr():
    """cpt_steps=50000 or cpt_lr=0.0003 used to reset silently (the sliders take only their labels):
    a plain number is the nearest option, and a note says when it had to move."""
    at = _explore_from_link(cpt_steps="50000", cpt_lr="0.0003", pt_steps="3000")
    assert at.select_slider(key="cpt_steps").value == 50_000
    assert at.select_slider(key="cpt_lr").value == 3e-4
    assert at.select_slider(key="pt_steps").value == 3000
    assert not at.info  # exactly options: nothing to say
    x, _ = trace(figure(at), "learning rate")
    assert x.max() == 3000 + 50_000
    at = _explore_from_link(cpt_lr="0.00035", pt_lr="banana")
    assert at.select_slider(key="cpt_lr").value == 4e-4
    notes = " | ".join(i.value for i in at.info)
    assert "cpt_lr=0.00035" in notes and "using 4e-4" in notes
    assert "pt_lr=banana" in notes and "ignored" in notes
    at.select_slider(key="cpt_lr").set_value(
        1e-3
    ).run()  # the link is read once: the user's move stays
    assert at.select_slider(key="cpt_lr").value == 1e-3


def test_leaving_the_fitted_range_is_said_next_to_the_chart_and_widens_the_band():
    from ui import data

    if data.SAMPLE not in data.presets():
        import pytest

        pytest.skip("no sample fit")
    at = open_page("pages/explore.py")
    no_exception(at)
    assert at.selectbox(key="preset").value == data.SAMPLE
    outside = [w.value for w in at.warning if "outside the fitted range" in w.value]
    assert outside == []  # the sample fit's own setting: inside its envelope
    band0 = _band_width(at)
    at.select_slider(key="cpt_lr").set_value(3e-4).run()
    no_exception(at)
    lines = [w.value for w in at.warning if "outside the fitted range" in w.value]
    assert (
        len(lines) == 1
        and "peak LR 3e-4 is outside the fitted range 1e-3 only" in lines[0]
        and "widened" in lines[0]
    )
    assert _band_width(at) > 1.5 * band0
    at.slider(key="replay").set_value(100.0).run()  # a second reason: replay beyond 0-50 %
    no_exception(at)
    lines = [w.value for w in at.warning if "outside the fitted range" in w.value]
    assert len(lines) == 2 and sum("widened" in ln for ln in lines) == 1  # the factor once


def test_far_outside_the_fitted_runs_no_band_is_drawn_and_the_page_says_so():
    at = open_page("pages/explore.py")
    assert any(t.get("name") == "~95% band" for t in figure(at)["data"])  # inside: a band
    at.select_slider(key="cpt_steps").set_value(100_000).run()  # ~x90: it would fill the panel
    no_exception(at)
    lines = [w.value for w in at.warning if "outside the fitted range" in w.value]
    assert len(lines) == 1 and "CPT summed LR" in lines[0]  # the out-of-range warning stays
    assert "no useful band this far outside the fitted runs" in lines[0]
    assert "the band is widened" not in lines[0] and lines[0].endswith(".")
    assert not any(t.get("name") == "~95% band" for t in figure(at)["data"])


def _band_width(at) -> float:
    """Mean width of the general loss's band (upper trace, then the lower one named '~95% band')."""
    from app_helpers import values

    data = figure(at)["data"]
    i = next(k for k, t in enumerate(data) if t.get("name") == "~95% band")
    upper, lower = values(data[i - 1]["y"]), values(data[i]["y"])
    x = values(data[i]["x"])
    cpt = x > x.min() + 0.8 * (x.max() - x.min())  # the last part of CPT, where bands are widest
    return float(np.nanmean(upper[cpt] - lower[cpt]))
