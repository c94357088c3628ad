"""Learn: every step of the tour renders a live chart, and its controls move the curves."""

import numpy as np
import pytest
from app_helpers import figure, no_exception, open_page, trace, values

STEPS = ["hidden", "anneal", "rewarm", "potential", "replay", "critical"]


@pytest.fixture(scope="module")
def at():
    return open_page("pages/learn.py")


@pytest.mark.parametrize("step", STEPS)
def test_every_step_has_text_and_a_chart(at, step):
    at.radio(key="learn_step").set_value(step).run()
    no_exception(at)
    assert len(at.markdown) >= 1 and len(at.markdown[0].value) > 200
    trace(figure(at), "predicted general loss")


def test_next_button_walks_the_tour():
    at = open_page("pages/learn.py")
    assert at.radio(key="learn_step").value == "hidden"
    at.button(key="learn_next").click().run()
    no_exception(at)
    assert at.radio(key="learn_step").value == "anneal"


def test_loss_potential_slider_changes_the_domain_curve():
    at = open_page("pages/learn.py")
    at.radio(key="learn_step").set_value("potential").run()
    _, d0 = trace(figure(at), "predicted domain loss")
    at.slider(key="learn_potential").set_value(100.0).run()
    no_exception(at)
    _, d1 = trace(figure(at), "predicted domain loss")
    assert not np.allclose(d0, d1)
    # higher loss potential -> lower final domain loss (paper Finding 3)
    assert d1[-1] < d0[-1]


def test_rewarm_step_shows_the_negative_annealing_bump():
    at = open_page("pages/learn.py")
    at.radio(key="learn_step").set_value("rewarm").run()
    fig = figure(at)
    x, anneal = trace(fig, "annealing  -C1·S2pt - C2·S2cpt")
    xt, _ = trace(fig, "transfer point")
    at_transfer = anneal[np.searchsorted(x, xt[0])]
    # re-warming an annealed checkpoint: right after CPT starts the annealing term rises above its
    # value at the transfer point, because LR increases count as negative annealing (paper Fig. 3)
    assert anneal[x > xt[0]].max() > at_transfer + 0.01


def test_critical_point_step_shows_a_turning_length_with_the_paper_preset():
    at = open_page("pages/learn.py")
    at.radio(key="learn_step").set_value("critical").run()
    no_exception(at)
    fig = figure(at)
    x, _ = trace(fig, "turning length")  # a briefly pre-trained checkpoint comes back (§4.3)
    assert at.metric[2].value.replace(",", "").isdigit()


def test_replay_step_moves_the_curves_with_a_replay_law():
    from ui import data

    at = open_page("pages/learn.py")
    sample = data.presets().get(data.SAMPLE)
    if sample is None or sample.ps.law == "eq4":
        pytest.skip("no sample fit with a replay law (sample_data/cpt/params.json) yet")
    at.selectbox(key="learn_preset").set_value(data.SAMPLE).run()
    at.radio(key="learn_step").set_value("replay").run()
    _, g0 = trace(figure(at), "predicted general loss")
    at.slider(key="learn_replay").set_value(75.0).run()
    no_exception(at)
    _, g1 = trace(figure(at), "predicted general loss")
    assert not np.allclose(g0, g1)
    assert g1[-1] < g0[-1]  # more replay, less forgetting (paper §4.2)


def test_the_replay_step_works_from_the_default_preset_with_one_line_naming_the_set_it_uses():
    from ui import data

    sample = data.presets().get(data.SAMPLE)
    if sample is None or not sample.ps.models_replay:
        pytest.skip("no sample fit with a replay law (sample_data/cpt/params.json)")
    at = open_page("pages/learn.py")
    assert at.selectbox(key="learn_preset").value == data.PAPER  # Eq. 4: no replay term
    at.radio(key="learn_step").set_value("replay").run()
    no_exception(at)
    assert not at.slider(key="learn_replay").disabled
    notes = [i.value for i in at.info]
    assert notes == [
        f"This step uses “{sample.label}”: “{data.PRESET_LABELS[data.PAPER]}” uses "
        "Eq. 4, which has no replay term."
    ]
    _, g0 = trace(figure(at), "predicted general loss")
    at.slider(key="learn_replay").set_value(75.0).run()
    _, g1 = trace(figure(at), "predicted general loss")
    assert g1[-1] < g0[-1]  # the slider moves the curves: more replay, less forgetting (§4.2)
    assert at.selectbox(key="learn_preset").value == data.PAPER  # the user's choice is kept


def test_critical_point_chart_is_not_flattened_by_the_first_steps():
    # step 6 pre-trains briefly, so its CPT window reaches back to step 0, where the power law is
    # huge (~37 nats at step 1): the y-range must fit the curves it explains, as Explore's does
    at = open_page("pages/learn.py")
    at.radio(key="learn_step").set_value("critical").run()
    no_exception(at)
    fig = figure(at)
    end = trace(fig, "predicted general loss")[0][-1]
    later = []  # the general-loss panel's curves after the first 3 % of the steps
    for t in fig["data"]:
        if t.get("yaxis", "y") == "y" and "x" in t:
            x, y = values(t["x"]), values(t["y"])
            later.append(y[(x >= 0.03 * end) & np.isfinite(y)])
    later = np.concatenate(later)
    lo, hi = fig["layout"]["yaxis"]["range"]
    span = later.max() - later.min()
    assert later.min() - 0.1 * span <= lo <= later.min()
    assert later.max() <= hi <= later.max() + 0.1 * span
