"""Open models in the app (paper §6): Explore and Plan with a CPT-only fit (the bundled
'sample runs as open models' fit, written by benchmarks/open_model.py --write), and the Fit page
naming the base model of uploaded CPT-only logs."""

import json

import numpy as np
import pytest
from app_helpers import figure, live_charts, no_exception, open_page, trace, values

from cptcore.params_io import base_models
from ui import data
from ui.state import SAMPLE_OPEN_PARAMS

CSV = "text/csv"
needs_open_fit = pytest.mark.skipif(
    not SAMPLE_OPEN_PARAMS.exists(), reason="no open-model sample fit (sample_data/cpt)"
)


def _open(page: str, key: str):
    at = open_page(page)
    at.selectbox(key=key).set_value(data.SAMPLE_OPEN).run()
    no_exception(at)
    return at


def _keys(widgets) -> set:
    return {w.key for w in widgets}


@needs_open_fit
def test_explore_with_a_cpt_only_fit_hides_pt_controls_and_names_the_base_and_its_s1pt():
    at = _open("pages/explore.py", "preset")
    assert [t.label for t in at.tabs] == ["CPT", "Display"]
    assert not {"pt_steps", "pt_lr"} & _keys(at.select_slider)
    assert not {"potential", "pt_warmup"} & _keys(at.slider)
    assert "warmup_from" not in _keys(at.radio)  # the base is annealed to LR 0: nothing to choose
    note = " ".join(i.value for i in at.info)
    bases = sorted(base_models(data.presets()[data.SAMPLE_OPEN].ps))
    assert bases == ["ptconst", "ptwsd"]
    assert "Open model" in note and "**ptconst**" in note and "S1pt = " in note
    assert "95 % range" in note and "Laplace (Jacobian)" in note
    assert at.metric[3].value == "0 %" and "assumed annealed to LR 0" in at.metric[3].help
    x, general = trace(figure(at), "predicted general loss")
    assert x[0] == 0 and np.all(np.isfinite(general))  # step 0 is the base model itself
    at.selectbox(key="base").set_value("ptwsd").run()
    no_exception(at)
    _, other = trace(figure(at), "predicted general loss")
    assert "**ptwsd**" in " ".join(i.value for i in at.info)
    assert not np.allclose(general, other)  # another base, another fitted S1pt


@needs_open_fit
def test_explore_predicts_a_new_cpt_schedule_on_the_base():
    at = _open("pages/explore.py", "preset")
    _, before = trace(figure(at), "predicted domain loss")
    at.selectbox(key="cpt_kind").set_value("constant").run()
    no_exception(at)
    _, after = trace(figure(at), "predicted domain loss")
    assert not np.allclose(before, after) and np.all(np.isfinite(after))


@needs_open_fit
def test_plan_with_a_cpt_only_fit_plans_from_the_base():
    at = _open("pages/plan.py", "plan_preset")
    assert not at.error, [e.value for e in at.error]
    assert not {"plan_pt_steps", "plan_pt_lr"} & _keys(at.select_slider)
    assert any("Open model" in i.value and "S1pt = " in i.value for i in at.info)
    text = at.success[0].value if at.success else at.warning[0].value
    assert "peak LR" in text
    x, general = trace(figure(at, 0), "predicted general loss")
    assert x[0] == 0 and np.all(np.isfinite(general))


def _open_csv(name: str, kind: str, seed: int) -> bytes:
    from cptcore.runs import run_to_frame
    from tests.synthetic import PT_WSD, cpt_spec, make_run

    run, _ = make_run(name, PT_WSD, cpt_spec(kind), pt_history=False, seed=seed)
    return run_to_frame(run).to_csv(index=False, float_format="%.8g").encode()


def test_fit_page_groups_uploaded_cpt_only_runs_by_the_base_you_name():
    at = open_page("pages/fit.py")
    files = [
        ("ft_a.csv", _open_csv("ft_a", "wsd", 1), CSV),
        ("ft_b.csv", _open_csv("ft_b", "cosine", 2), CSV),
    ]
    at.file_uploader(key="upload").set_value(files).run()
    no_exception(at)
    assert {"base_of_ft_a", "base_of_ft_b"} <= _keys(at.text_input)
    assert any("Grouped by base: base (2 runs)" in c.value for c in at.caption)
    at.text_input(key="base_of_ft_a").input("llama-1b").run()
    no_exception(at)
    assert any("base (1 run); llama-1b (1 run)" in c.value for c in at.caption)
    runs = at.session_state["cpt_runs"]
    assert runs["ft_a"].base == "llama-1b" and runs["ft_b"].base == ""
    at.button(key="fit_button").click().run(timeout=600)  # two bases: one fitted S1pt each
    no_exception(at)
    params = [d.value for d in at.dataframe if "parameter" in d.value.columns]
    fitted = set(params[0]["parameter"])
    assert {"S1pt[llama-1b]", "S1pt[base]"} <= fitted, fitted


@needs_open_fit
def test_learn_leaves_out_cpt_only_fits_its_tour_needs_a_pt_phase():
    at = open_page("pages/learn.py")
    no_exception(at)
    options = at.selectbox(key="learn_preset").options  # shown labels
    assert data.PRESET_LABELS[data.PAPER] in options
    assert data.PRESET_LABELS[data.SAMPLE_OPEN] not in options


@needs_open_fit
def test_the_live_chart_on_an_open_base_draws_every_frame_from_that_base():
    at = _open("pages/explore.py", "preset")
    fig = figure(at)
    assert fig.get("frames"), "the live chart is on by default"
    i = [t.get("name") for t in fig["data"]].index("predicted general loss")
    active = json.loads(live_charts(at)[0].proto.json)["active"]
    frame = next(f for f in fig["frames"] if f["name"] == active)
    scrubbed = values(frame["data"][frame["traces"].index(i)]["y"])
    _, with_slider = trace(fig, "predicted general loss")
    at.toggle(key="scrub").set_value(False).run()
    no_exception(at)
    plain = figure(at)
    assert not plain.get("frames")
    _, without = trace(plain, "predicted general loss")
    # the same curve with and without the slider: both from the base model, not a PT schedule
    assert np.allclose(with_slider, without, rtol=1e-5, equal_nan=True)
    assert np.allclose(scrubbed, without, rtol=1e-5, equal_nan=True)


@needs_open_fit
def test_explore_draws_no_critical_point_when_the_general_sets_floor_is_not_identified():
    """The open fit's general-set L0 ends at its bound 0 (± tens of nats): its 'critical point'
    (~0.02 nats) meant nothing and stretched the y-axis to 0. The caption says why there is none,
    once; the sample fit (L0 identified) keeps its line."""
    at = _open("pages/explore.py", "preset")
    fig = figure(at)
    lines = [a.get("text", "") for a in fig["layout"].get("annotations", [])]
    assert not any("critical point" in t for t in lines), lines
    _, general = trace(fig, "predicted general loss")
    y0, y1 = fig["layout"]["yaxis"]["range"]
    assert y0 > 0.5 * np.nanmin(general)  # the axis is the curves', not stretched to ~0
    said = [c.value for c in at.caption if "critical point" in c.value.lower()]
    assert len(said) == 1 and "No critical point" in said[0] and "loss floor L0" in said[0]
    at.selectbox(key="preset").set_value(data.SAMPLE).run()
    no_exception(at)
    lines = [a.get("text", "") for a in figure(at)["layout"].get("annotations", [])]
    assert any("critical point" in t for t in lines)
