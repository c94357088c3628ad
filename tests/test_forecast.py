"""Forecasting a running CPT job from its first logged losses (cptcore.forecast, CLI 'forecast')."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from cptcore.__main__ import main
from cptcore.areas import run_areas
from cptcore.forecast import (
    ADAPT,
    Adaptation,
    Reach,
    adapt,
    cut_run,
    forecast_markdown,
    forecast_run,
    point_noise,
    step_reaching,
    step_staying,
    target_reach,
    target_sentence,
)
from cptcore.params_io import ParamSet, load
from cptcore.runs import read_run, write_run
from tests.synthetic import PT_CONST, TRUE, cpt_spec, make_run

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "sample_data", "cpt")
PARAMS = os.path.join(SAMPLE, "params.json")
RUN = os.path.join(SAMPLE, "ptconst_cpt-wsd_lr3e-4_replay0.csv")


@pytest.fixture(scope="module")
def ps():
    return load(PARAMS)


@pytest.fixture(scope="module")
def run():
    return read_run(RUN)


def test_without_an_observed_cpt_loss_the_forecast_is_the_prediction(ps, run):
    partial = cut_run(run, 0.0)  # PT losses observed, none after the transfer point
    assert (
        np.isfinite(partial.loss_pt).any()
        and not np.isfinite(partial.loss_pt[partial.is_cpt]).any()
    )
    fc = forecast_run(ps, partial)
    base = ps.predict_run(run)
    for target in ("pt", "cpt"):
        np.testing.assert_array_equal(fc.targets[target].pred, base[target])
        assert fc.targets[target].n_observed == 0
    assert fc.last_observed_step is None


def test_cli_forecast_without_cpt_losses_writes_what_predict_writes(tmp_path, run):
    partial = tmp_path / "partial.csv"
    write_run(cut_run(run, 0.0), str(partial))
    assert main(["predict", "-p", PARAMS, str(partial), "-o", str(tmp_path / "p.csv")]) == 0
    assert main(["forecast", "-p", PARAMS, str(partial), "-o", str(tmp_path / "f.csv")]) == 0
    assert (tmp_path / "p.csv").read_text() == (tmp_path / "f.csv").read_text()


def _shifted_runs():
    """A run whose distribution shift is larger and faster than the base fit's (TRUE)."""
    shifted = {
        "pt": TRUE["pt"].with_values(B=0.55, E=16.0),
        "cpt": TRUE["cpt"].with_values(B=-1.2, E=60.0),
    }
    return make_run("job", PT_CONST, cpt_spec("wsd", decay_fraction=0.2), 0.0, shifted, 0.002, 3)


def test_forecast_from_20_percent_beats_predict_on_the_rest_of_a_shifted_run():
    base = ParamSet.from_params(dict(TRUE))
    full = _shifted_runs()
    partial = cut_run(full, 0.2)
    pred = base.predict_run(full)
    rest = full.is_cpt & ~np.isfinite(partial.loss_pt) & np.isfinite(full.loss_pt)
    # the default (offset and speed, recent points: chosen on the noisy sample runs) helps; letting
    # the shift (B, E) adapt on every point recovers a run that follows the law (noise 0.002)
    for how, gain in ((None, 0.9), (Adaptation(ADAPT["shift"], 1.0), 0.25)):
        fc = forecast_run(base, partial, adaptation=how)
        for target in ("pt", "cpt"):
            y = full.loss(target)[rest]
            e_fc = np.mean(np.abs(fc.targets[target].pred[rest] - y))
            e_pred = np.mean(np.abs(pred[target][rest] - y))
            assert e_fc < gain * e_pred, (how, target, e_fc, e_pred)
            assert fc.targets[target].n_observed > 3


def test_a_strong_prior_keeps_the_base_parameters_and_a_weak_one_follows_the_data():
    base = ParamSet.from_params(dict(TRUE))
    partial = cut_run(_shifted_runs(), 0.2)
    strong = forecast_run(base, partial, adaptation=Adaptation(("L0",), 1e6)).targets["pt"].params
    weak = forecast_run(base, partial, adaptation=Adaptation(("L0",), 1e-3)).targets["pt"].params
    assert strong.L0 == pytest.approx(TRUE["pt"].L0, abs=1e-6)
    assert weak.L0 > TRUE["pt"].L0 + 0.01  # the larger shift raises the general loss
    assert adapt(TRUE["pt"], None, np.array([]), 0.0, "pt") is TRUE["pt"]  # nothing observed


def test_cli_forecast_columns_summary_and_interval(tmp_path, run, capsys):
    partial = tmp_path / "partial.csv"
    write_run(cut_run(run, 0.2), str(partial))
    out = tmp_path / "pred.csv"
    assert main(["forecast", "-p", PARAMS, str(partial), "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["step", "pred_loss_pt", "pred_loss_cpt"]
    assert len(df) == len(run.step)
    text = capsys.readouterr().out
    assert "final loss at step 3,500" in text and "MAE" in text and "observed CPT points" in text
    assert main(["forecast", "-p", PARAMS, str(partial), "-o", str(out), "--interval", "0.9"]) == 0
    df = pd.read_csv(out)
    assert list(df.columns)[3:] == ["lo_loss_pt", "hi_loss_pt", "lo_loss_cpt", "hi_loss_cpt"]
    last = df.iloc[-1]
    for t in ("pt", "cpt"):
        assert last[f"lo_loss_{t}"] < last[f"pred_loss_{t}"] < last[f"hi_loss_{t}"]
    assert "90% band" in capsys.readouterr().out


def test_cli_adapt_and_prior_strength_options(tmp_path, run, capsys):
    partial = tmp_path / "partial.csv"
    write_run(cut_run(run, 0.2), str(partial))
    out = tmp_path / "pred.csv"
    args = ["forecast", "-p", PARAMS, str(partial), "-o", str(out)]
    assert main([*args, "--adapt", "shift", "--prior-strength", "1"]) == 0
    assert np.isfinite(pd.read_csv(out)["pred_loss_cpt"].iloc[-1])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main([*args, "--prior-strength", "-1"])
    assert e.value.code == 2 and "positive" in _one_error_line(capsys)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    lines = [e for e in err if e.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in "".join(err)
    return lines[0]


def test_cli_refuses_a_params_file_without_the_runs_validation_set(tmp_path, run, capsys):
    d = json.load(open(PARAMS, encoding="utf-8"))
    del d["cpt"]
    p = tmp_path / "pt_only.json"
    p.write_text(json.dumps(d))
    partial = tmp_path / "partial.csv"
    write_run(cut_run(run, 0.2), str(partial))
    assert main(["forecast", "-p", str(p), str(partial), "-o", str(tmp_path / "o.csv")]) == 2
    line = _one_error_line(capsys)
    assert "loss_cpt" in line and "partial.csv" in line
    assert not (tmp_path / "o.csv").exists()


def test_cli_refuses_a_run_without_cpt_rows(tmp_path, capsys):
    pt_only = os.path.join(SAMPLE, "pt-const.csv")
    assert main(["forecast", "-p", PARAMS, pt_only, "-o", str(tmp_path / "o.csv")]) == 2
    assert "no CPT rows" in _one_error_line(capsys)


def test_step_reaching_is_the_first_step_after_the_observed_part_at_or_below_the_target():
    step = np.arange(6)
    loss = np.array([3.0, 2.0, 2.5, 1.9, 1.8, 1.7])
    assert step_reaching(step, loss, 2.0) == 1
    assert step_reaching(step, loss, 2.0, after=2) == 3
    assert step_reaching(step, loss, 1.0) is None


def test_markdown_snippet_gives_the_final_losses_and_shows_a_run_name_literally(ps, run):
    fc = forecast_run(ps, cut_run(run, 0.2), z=1.96)
    target = float(np.round(fc.targets["cpt"].pred[-1] + 0.01, 3))  # below every logged loss
    text = forecast_markdown(fc, "<img src=x>|run", 0.95, target_loss=target)
    assert "\\<img src=x\\>\\|run" in text and "<img" not in text.replace("\\<img", "")
    assert "| domain (loss_cpt) |" in text and "(95%)" in text
    assert f"Expected to reach the domain loss {target:.3f} at step" in text
    assert "(95% band: step " in text


def test_point_noise_recovers_the_scatter_of_points_on_a_smooth_trend():
    rng = np.random.default_rng(0)
    trend = 0.05 * np.exp(-np.linspace(0.0, 3.0, 400))  # a residual that drifts, as early in CPT
    sd = point_noise(trend + rng.normal(0.0, 0.01, 400))
    assert sd == pytest.approx(0.01, rel=0.15)  # 400 points: the robust sd is within ~10 %
    assert point_noise(np.array([0.1, 0.2, 0.3])) == 0.01  # too few points: the fixed NOISE


def test_a_half_life_makes_the_offset_follow_the_recent_points_not_an_early_transient():
    base = TRUE["pt"]
    run = cut_run(make_run("job", PT_CONST, cpt_spec("wsd", decay_fraction=0.2), noise=0.0), 0.3)
    ok = run.is_cpt & np.isfinite(run.loss_pt)
    a = run_areas(run).at(run.step[ok])
    # the law exactly, except 0.1 above it over the first half of the observed CPT points
    y = run.loss_pt[ok] * np.exp(np.where(np.arange(ok.sum()) < ok.sum() // 2, 0.1, 0.0))
    every = adapt(base, a, y, 0.0, "pt", names=("L0",), strength=1e-3)
    recent = adapt(base, a, y, 0.0, "pt", names=("L0",), strength=1e-3, halflife=0.08)
    assert abs(recent.L0 - base.L0) < 0.2 * abs(every.L0 - base.L0)


def test_default_forecast_of_a_sample_run_at_another_peak_lr_beats_the_base_prediction(ps):
    run = read_run(os.path.join(SAMPLE, "ptwsd_cpt-wsd_lr3e-4_replay0.csv"))
    partial = cut_run(run, 0.2)
    fc, pred = forecast_run(ps, partial), ps.predict_run(run)
    for target in ("pt", "cpt"):
        rest = run.is_cpt & np.isfinite(run.loss(target)) & ~np.isfinite(partial.loss(target))
        rest &= run.step >= 500  # the rows a fit scores (min_step)
        y = run.loss(target)[rest]
        e_fc = np.mean(np.abs(fc.targets[target].pred[rest] - y))
        assert e_fc < 0.5 * np.mean(np.abs(pred[target][rest] - y)), target


def test_the_band_brackets_the_step_a_target_is_reached_at(ps):
    run = read_run(os.path.join(SAMPLE, "ptconst_cpt-wsd_lr1e-3_replay0.25.csv"))
    fc = forecast_run(ps, cut_run(run, 0.2), z=1.96)
    final = fc.targets["cpt"].pred[-1]
    r = target_reach(fc, final + 0.02)
    assert not r.logged and r.step > fc.last_observed_step
    assert r.earliest is not None and r.earliest <= r.step  # the lower edge gets there first
    assert r.latest is None or r.step <= r.latest
    far = target_reach(fc, final - 1.0)  # far below: never, even the band
    assert (far.step, far.earliest, far.latest) == (None, None, None)
    plain = target_reach(forecast_run(ps, cut_run(run, 0.2)), final + 0.02)
    assert (plain.earliest, plain.latest) == (None, None)


def _first_logged_at_or_below(run, target_loss):
    ok = run.is_cpt & np.isfinite(run.loss_cpt) & (run.loss_cpt <= target_loss)
    return int(run.step[ok][0])


def test_a_target_the_fully_logged_run_passed_is_reached_at_its_logged_step(ps):
    run = read_run(os.path.join(SAMPLE, "ptconst_cpt-wsd_lr1e-3_replay0.25.csv"))
    fc = forecast_run(ps, run, z=1.96)  # every loss logged: nothing after the last observed step
    expected = _first_logged_at_or_below(run, 1.7)
    assert fc.last_observed_step == run.last_step and expected < run.last_step
    assert target_reach(fc, 1.7) == Reach(expected, logged=True)
    assert target_sentence(fc, 1.7, 0.95) == (
        f"Already reached the domain loss 1.700 at step {expected:,} (logged)."
    )


def test_a_target_the_logged_part_passed_is_already_reached_not_forecast_after_the_cut(ps):
    run = read_run(os.path.join(SAMPLE, "ptconst_cpt-cos_lr1e-3_replay0.csv"))
    partial = cut_run(run, 0.2)
    fc = forecast_run(ps, partial, z=1.96)
    expected = _first_logged_at_or_below(partial, 2.5)
    assert expected < fc.last_observed_step  # passed in the logged part, before the cut
    r = target_reach(fc, 2.5)
    assert r.logged and r.step == expected and r.earliest is None
    sentence = f"Already reached the domain loss 2.500 at step {expected:,} (logged)."
    assert target_sentence(fc, 2.5, 0.95) == sentence
    assert sentence in forecast_markdown(fc, "job", 0.95, 2.5)


def test_a_target_below_every_logged_loss_is_forecast_after_the_last_logged_step(ps):
    run = read_run(os.path.join(SAMPLE, "ptconst_cpt-cos_lr1e-3_replay0.csv"))
    partial = cut_run(run, 0.2)
    fc = forecast_run(ps, partial, z=1.96)
    target = float(np.nanmin(partial.loss_cpt[partial.is_cpt])) - 0.01
    r = target_reach(fc, target)
    assert not r.logged and r.step is not None and r.step > fc.last_observed_step
    assert target_sentence(fc, target, 0.95).startswith(
        f"Expected to reach the domain loss {target:.3f} at step {r.step:,} (95% band: step"
    )


def test_the_latest_step_is_where_the_upper_edge_stays_below_the_target_not_a_first_dip():
    step = np.arange(6)
    hi = np.array([3.0, 1.9, 2.1, 2.2, 1.95, 1.8])  # dips below 2.0, rises again, then stays below
    assert step_staying(step, hi, 2.0) == 4
    assert step_staying(step, hi, 2.0, after=4) == 5
    assert step_staying(step[:3], np.array([3.0, 1.5, 2.5]), 2.0) is None  # ends above: not reached
    assert step_staying(step[:2], np.array([1.0, 1.0]), 2.0) == 0
