"""Honest extrapolation: the fitted envelope knows the fitted runs' PT history (S1pt, PT steps) and
losses; a run or scenario with another PT history is named with its value and the range, and its
band widens; a prediction far outside every loss seen says it is not a plausible loss."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cptcore.envelope import (
    IMPLAUSIBLE,
    USEFUL_WIDENING,
    Envelope,
    envelope_of,
    implausible,
    outside,
    setting_of_run,
    widening,
)
from cptcore.forecast import cut_run, forecast_markdown, forecast_run
from cptcore.params_io import load, loads
from cptcore.runs import read_run
from cptcore.scenario import view
from cptcore.schedules import ScheduleSpec
from cptcore.whatif import whatif_from_run
from tests.synthetic import PT_CONST, PT_WSD, cpt_spec, make_run

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "cpt"
TOY = ROOT / "tests" / "data" / "canonical-run-example.csv"  # 20 PT steps at <= 3e-4
Z95 = 1.959963984540054


@pytest.fixture(scope="module")
def sample():
    return load(SAMPLE / "params.json")


def _old_file(path: Path) -> str:
    """The sample params.json as written before the PT history and loss ranges were recorded."""
    d = json.loads(path.read_text())
    for k in ("S1pt", "pt_steps", "loss"):
        d["envelope"].pop(k)
    return json.dumps(d)


def test_the_envelope_records_the_fitted_runs_pt_history_and_logged_losses():
    short = ScheduleSpec("constant", 1e-3, 1500, warmup_steps=100)
    runs = [
        make_run("a", PT_CONST, cpt_spec("wsd", decay_fraction=0.2)),
        make_run("b", PT_WSD, cpt_spec("constant"), seed=1),
        make_run("c", short, cpt_spec("constant"), seed=2),
    ]
    env = envelope_of(runs, 0.999)
    pt_areas = [float(r.dense_lr()[1 : r.transfer_step + 1].sum()) for r in runs]
    assert env.S1pt == pytest.approx((min(pt_areas), max(pt_areas)))
    assert env.pt_steps == (1500, 3000)
    for t in ("pt", "cpt"):
        y = np.concatenate([r.loss(t) for r in runs])
        assert env.loss_range(t) == pytest.approx((np.nanmin(y), np.nanmax(y)))
    assert Envelope.from_dict(json.loads(json.dumps(env.to_dict()))) == env


def test_cpt_only_runs_have_no_pt_history_to_record_or_check():
    run, _ = make_run("open", PT_CONST, cpt_spec("constant"), pt_history=False)
    s = setting_of_run(run)
    assert s.S1pt is None and s.pt_steps is None
    env = envelope_of([run], 0.999)
    assert env.S1pt is None and env.pt_steps is None and "S1pt" not in env.to_dict()
    known = envelope_of([make_run("a", PT_CONST, cpt_spec("constant"))], 0.999)
    assert [o for o in outside(known, s) if o.control == "PT history"] == []


def test_a_run_with_a_tiny_pt_is_named_with_its_summed_pt_lr_and_the_fitted_range(sample):
    toy = read_run(TOY)
    reasons = outside(sample.envelope, setting_of_run(toy))
    pt = [o for o in reasons if o.control == "PT history"]
    assert len(pt) == 1
    # 0.0055 = 0 + 7.5e-5 + 1.5e-4 + 2.25e-4 + 17 x 3e-4 (the toy's PT rows); fitted: 2,500 steps
    assert pt[0].sentence == (
        "The PT summed LR 0.00555 (20 PT steps) is outside the fitted range 2.2–2.45 "
        "(2,500 PT steps)"
    )
    assert pt[0].distance == pytest.approx(np.log10(2.2 / 0.00555), rel=1e-3)  # decades below


def test_a_pt_history_outside_the_fitted_one_widens_the_band_like_the_other_reasons(sample):
    toy = read_run(TOY)
    reasons = outside(sample.envelope, setting_of_run(toy))
    others = [o for o in reasons if o.control != "PT history"]
    assert widening(reasons) > widening(others) + 5  # 2.6 decades x 3
    with_pt = forecast_run(sample, toy, z=Z95, widen=widening(reasons))
    without = forecast_run(sample, toy, z=Z95, widen=widening(others))
    for t, tf in with_pt.targets.items():
        half = np.log(tf.hi[-1] / tf.pred[-1])
        assert half == pytest.approx(
            np.log(without.targets[t].hi[-1] / tf.pred[-1]) * widening(reasons) / widening(others)
        )


def test_the_sample_pt_history_is_inside_its_own_range(sample):
    run = read_run(SAMPLE / "ptwsd_cpt-wsd_lr3e-4_replay0.csv")  # a test run: other CPT, same PT
    assert [o.control for o in outside(sample.envelope, setting_of_run(run))] == ["peak LR"]


def test_the_toy_run_forecast_is_not_a_plausible_loss_and_says_so(sample):
    toy = read_run(TOY)
    fc = forecast_run(sample, toy, z=Z95)
    assert {o.target for o in fc.implausible} == {"pt", "cpt"}
    general = next(o for o in fc.implausible if o.target == "pt")
    assert general.value > IMPLAUSIBLE * 3.48  # the fitted runs' highest general loss: 3.477
    assert general.seen[1] == pytest.approx(3.47686)
    assert general.by == "the fitted runs and this run"
    assert general.sentence.startswith("Not a plausible prediction: the general loss at step")
    text = forecast_markdown(fc, "toy", 0.95, warnings=["The PT summed LR 0.00555 is outside"])
    assert "- **Warning:** The PT summed LR 0.00555 is outside" in text
    assert "Not a plausible prediction" in text
    last = f"{fc.targets['pt'].pred[-1]:.4f}"
    assert f"| general (loss_pt) | not plausible ({last}) |" in text


def test_a_forecast_of_a_run_like_the_fitted_ones_is_plausible(sample):
    run = cut_run(read_run(SAMPLE / "ptconst_cpt-wsd_lr1e-3_replay0.25.csv"), 0.2)
    fc = forecast_run(sample, run, z=Z95)
    assert fc.implausible == ()
    assert "Warning" not in forecast_markdown(fc, "job", 0.95)


def test_an_explore_scenario_with_a_pt_far_outside_is_flagged_and_the_fitted_one_is_not(sample):
    w = whatif_from_run(read_run(SAMPLE / "ptconst_cpt-wsd_lr1e-3_replay0.csv"))
    assert view(sample, w).outside == () and view(sample, w).implausible == ()
    v = view(sample, replace(w, pt_lr=1e-5))  # PT summed LR 0.025: about 2 decades below
    assert [o.control for o in v.outside] == ["PT history"]
    assert "PT summed LR 0.0245 (2,500 PT steps)" in v.outside[0].sentence
    assert v.widen == pytest.approx(widening(v.outside)) and v.widen > 6
    assert {o.target for o in v.implausible} == {"pt", "cpt"}
    assert all(o.step > v.transfer_step for o in v.implausible)  # judged on the CPT phase
    longer = view(sample, replace(w, pt_steps=20_000))  # 8x the fitted PT: outside, not absurd
    assert [o.control for o in longer.outside] == ["PT history"] and longer.implausible == ()


def test_a_loss_far_below_every_loss_seen_or_not_positive_is_implausible(sample):
    env = sample.envelope  # general losses seen: 0.898 to 3.48
    steps = np.arange(4)
    assert implausible(env, steps, {"pt": np.array([2.0, 1.0, 0.5, 0.9])}) == []
    low = implausible(env, steps, {"pt": np.array([2.0, 1.0, 0.4, 0.9])})
    assert [(o.value, o.step) for o in low] == [(0.4, 2)]
    assert "far below the lowest loss logged by the fitted runs (0.898)" in low[0].sentence
    assert implausible(env, steps, {"pt": np.array([2.0, -1.0, np.nan, 2.0])})[0].value == -1.0


def test_older_files_without_pt_history_or_losses_load_and_make_no_such_claim(sample):
    old = loads(_old_file(SAMPLE / "params.json"))
    assert old.envelope is not None and old.envelope.S1pt is None and old.envelope.loss == ()
    toy = read_run(TOY)
    reasons = outside(old.envelope, setting_of_run(toy))
    assert "PT history" not in {o.control for o in reasons}
    assert {o.control for o in reasons} == {"peak LR", "schedule"}  # the checks it had
    # the fitted runs' losses are unknown, the run's own log still shows the forecast is absurd
    fc = forecast_run(old, toy)
    assert {o.target for o in fc.implausible} == {"pt", "cpt"}
    assert all(o.by == "this run" for o in fc.implausible)
    fitted = whatif_from_run(read_run(SAMPLE / "ptconst_cpt-wsd_lr1e-3_replay0.csv"))
    w = replace(fitted, pt_lr=1e-5)
    assert view(old, w).implausible == () and view(old, w).outside == ()  # nothing to compare with


def test_the_sample_fit_stores_the_pt_history_of_its_train_runs(sample):
    runs = [read_run(SAMPLE / f) for f in sample.provenance["runs"]]
    assert sample.envelope == envelope_of(runs, sample.lam)


def test_the_cli_warns_of_the_pt_history_and_an_implausible_forecast(tmp_path, capsys):
    from cptcore.__main__ import main

    params = str(SAMPLE / "params.json")
    for cmd in ("predict", "forecast"):
        assert main([cmd, "-p", params, str(TOY), "-o", str(tmp_path / f"{cmd}.csv")]) == 0
        err = capsys.readouterr().err
        assert (  # one sentence per line, ending with a period (Outside.warning)
            "warning: The PT summed LR 0.00555 (20 PT steps) is outside the fitted range 2.2–2.45 "
            "(2,500 PT steps).\n"
        ) in err
        assert err.count("warning: Not a plausible prediction: the") == 2, cmd


def test_a_sparse_log_gives_the_same_pt_history_as_every_step():
    run = read_run(SAMPLE / "ptwsd_cpt-wsd_lr1e-3_replay0.csv")
    corner = np.r_[True, np.abs(np.diff(run.lr, 2)) > 1e-12, True]  # where the LR bends
    keep = corner | np.isfinite(run.loss_pt) | (run.step == run.transfer_step)
    sparse = replace(
        run,
        step=run.step[keep],
        lr=run.lr[keep],
        is_cpt=run.is_cpt[keep],
        loss_pt=run.loss_pt[keep],
        loss_cpt=run.loss_cpt[keep],
    )
    dense, rows = setting_of_run(run), setting_of_run(sparse)
    assert len(sparse.step) < len(run.step) // 10
    assert rows.S1pt == pytest.approx(dense.S1pt) and dense.S1pt == pytest.approx(2.2)
    assert rows.pt_steps == dense.pt_steps == 2500


def test_a_scenario_far_outside_the_fitted_runs_gets_no_band_and_a_near_one_keeps_it(sample):
    w = whatif_from_run(read_run(SAMPLE / "ptconst_cpt-wsd_lr1e-3_replay0.csv"))
    near = view(sample, replace(w, cpt_steps=2_000))  # 2x the fitted CPT: widened, still useful
    assert 1 < near.widen <= USEFUL_WIDENING and near.band_useful
    assert all(near.band[t] is not None for t in near.targets)
    far = view(sample, replace(w, cpt_steps=100_000))  # Explore at 100k CPT steps: about x90
    assert far.widen > USEFUL_WIDENING and not far.band_useful
    assert all(far.band[t] is None for t in far.targets)  # not a band filling the whole panel
    assert [o.control for o in far.outside] == ["steps"]  # the warning itself is kept


def test_every_out_of_range_warning_is_one_sentence_ending_with_a_period(sample):
    cos = read_run(SAMPLE / "ptconst_cpt-cos_lr1e-3_replay0.csv")
    reasons = outside(sample.envelope, setting_of_run(cos))
    assert [o.warning() for o in reasons] == [
        "The CPT schedule's mean LR (50% of its peak) is outside the fitted range 88%–98% "
        "(a schedule shape the fitted runs did not have)."
    ]
    assert reasons[0].warning("the forecast extrapolates").endswith(
        "did not have): the forecast extrapolates."
    )
