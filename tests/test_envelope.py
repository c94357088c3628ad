"""Where the law holds: the fitted envelope, the calibrated band and "outside the fitted range"."""

import json
import math

import numpy as np
import pytest

from cptcore.__main__ import main
from cptcore.envelope import Envelope, envelope_of, outside, setting_of_run, widening
from cptcore.fit import prediction_band, scored_rows
from cptcore.params_io import ParamSet, dumps, loads
from cptcore.runs import write_run
from cptcore.select import fit_model
from tests.synthetic import PT_CONST, PT_WSD, cpt_spec, make_run
from tests.test_select import TRUE_TAU


def _runs(noise=0.01):
    """Tau-form runs at peak 5e-4, replay 0 / 0.25 / 0.5, two schedules, known noise."""
    out = []
    for k, r in enumerate((0.0, 0.25, 0.5)):
        out.append(
            make_run(
                f"c{r}",
                PT_CONST,
                cpt_spec("wsd", decay_fraction=0.2),
                r,
                TRUE_TAU,
                noise,
                k,
                every=50,
            )
        )
        out.append(
            make_run(f"w{r}", PT_WSD, cpt_spec("constant"), r, TRUE_TAU, noise, 10 + k, every=50)
        )
    return out


@pytest.fixture(scope="module")
def fitted():
    runs = _runs()
    return runs, fit_model(runs, (), "tau", 0.999, jobs=1)


def test_the_envelope_records_what_the_fitted_runs_covered(fitted):
    runs, out = fitted
    env = out.envelope
    assert env.replay == (0.0, 0.5) and env.replay_values == (0.0, 0.25, 0.5)
    assert env.cpt_peak_lr == pytest.approx((5e-4, 5e-4))
    assert env.cpt_steps == (1000, 1000)
    assert env.S1cpt[1] == pytest.approx(max(setting_of_run(r).S1cpt for r in runs))
    assert env.cpt_final_lr_fraction == (0.0, 1.0)  # WSD to 0, constant
    assert env.loss_potential == pytest.approx((0.0, 1.0))  # annealed and constant PT
    assert env.lam == 0.999 and env.runs == 6


def test_envelope_and_band_round_trip_and_older_files_load_without_them(fitted):
    _, out = fitted
    ps = ParamSet.from_fits(out.fits, envelope=out.envelope)
    d = json.loads(dumps(ps))
    assert set(d["envelope"]) >= {"replay", "cpt_peak_lr", "cpt_steps", "S1cpt", "lambda"}
    assert "calibration" in d["pt"] and d["pt"]["calibration"]["n"] > 100
    back = loads(dumps(ps))
    assert back.envelope == out.envelope
    assert back.fits["pt"].calibration["q"] == d["pt"]["calibration"]["q"]
    for k in ("envelope",):
        d.pop(k)
    d["pt"].pop("calibration")
    d["pt"]["calibration"] = {"levels": "junk"}  # malformed: ignored, not fatal
    old = loads(json.dumps(d))
    assert old.envelope is None and old.fits["pt"].calibration is None


def test_a_setting_inside_the_envelope_gives_no_reason_and_outside_names_each_control(fitted):
    runs, out = fitted
    env = out.envelope
    assert outside(env, setting_of_run(runs[0])) == []
    far = make_run("far", PT_CONST, cpt_spec("wsd", peak=2e-3, steps=3000), 0.75, TRUE_TAU, 0.01, 5)
    reasons = outside(env, setting_of_run(far))
    assert {o.control for o in reasons} == {"replay", "peak LR", "steps"}
    assert all("outside the fitted range" in o.message for o in reasons)
    assert any("replay 75% is outside the fitted range 0%–50%" == o.message for o in reasons)
    assert widening(reasons) > widening(reasons[:1]) > 1.0 == widening([])
    assert outside(None, setting_of_run(far)) == []  # no envelope (older file): no claim


def test_the_95_percent_band_covers_about_95_percent_of_held_out_points(fitted):
    # a held-out replay ratio inside the envelope, same known noise (0.01 nats)
    _, out = fitted
    held = [
        make_run(
            "h", PT_CONST, cpt_spec("wsd", decay_fraction=0.2), 0.1, TRUE_TAU, 0.01, 77, every=10
        ),
        make_run("h2", PT_WSD, cpt_spec("cosine"), 0.4, TRUE_TAU, 0.01, 78, every=10),
    ]
    for target, res in out.fits.items():
        assert res.calibration is not None, target
        inside, width = [], []
        for run, y, _pred, a in scored_rows(res, held):
            lo, hi = prediction_band(res, a, run.replay, z=1.96)
            cpt = a.S1cpt > 0
            inside.append((y[cpt] >= lo[cpt]) & (y[cpt] <= hi[cpt]))
            width.append(np.mean(hi[cpt] - lo[cpt]))
        cov = np.mean(np.concatenate(inside))
        assert 0.88 <= cov <= 0.99, (target, cov)
        # no wider than needed: about 2 x 1.96 x noise (0.039), with some slack for the fit
        assert np.mean(width) < 0.07, (target, width)


def test_the_band_widens_outside_the_envelope(fitted):
    _, out = fitted
    res = out.fits["pt"]
    run = _runs()[0]
    ((_, _, _, a),) = scored_rows(res, [run])
    lo1, hi1 = prediction_band(res, a, 0.0)
    lo2, hi2 = prediction_band(res, a, 0.0, widen=3.0)
    cpt = a.S1cpt > 0
    assert np.all((hi2 - lo2)[cpt] > 2.5 * (hi1 - lo1)[cpt])
    np.testing.assert_allclose((hi2 - lo2)[~cpt], (hi1 - lo1)[~cpt])  # PT rows: not a setting


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory, fitted):
    d = tmp_path_factory.mktemp("env")
    runs, _ = fitted
    paths = []
    for r in runs:
        p = d / f"{r.name}.csv"
        write_run(r, str(p))
        paths.append(str(p))
    params = d / "params.json"
    assert main(["fit", *paths, "--law", "tau", "--lambda", "0.999", "-o", str(params)]) == 0
    far = make_run("far", PT_CONST, cpt_spec("wsd", peak=2e-3), 0.75, TRUE_TAU, 0.01, 5)
    write_run(far, str(d / "far.csv"))
    return d, paths, params


def test_predict_says_outside_the_fitted_range_only_outside(cli_files, capsys):
    d, paths, params = cli_files
    capsys.readouterr()
    assert main(["predict", "-p", str(params), paths[0], "-o", str(d / "a.csv")]) == 0
    assert "outside the fitted range" not in capsys.readouterr().err
    assert main(["predict", "-p", str(params), str(d / "far.csv"), "-o", str(d / "b.csv")]) == 0
    err = capsys.readouterr().err.splitlines()
    lines = [ln for ln in err if "outside the fitted range" in ln]
    assert len(lines) == 3  # replay, peak LR and (at 4x the LR) the summed LR: one line each
    assert any("warning: Replay 75%" in ln for ln in lines)
    assert any("peak LR 2e-3" in ln for ln in lines)
    assert all(ln.endswith(".") for ln in lines)  # sentences (Outside.warning)


def test_predict_interval_adds_lo_hi_columns_and_reports_coverage(cli_files, capsys):
    import pandas as pd

    d, paths, params = cli_files
    capsys.readouterr()
    out = d / "pred.csv"
    assert main(["predict", "-p", str(params), paths[1], "-o", str(out), "--interval", "0.95"]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == [
        "step", "pred_loss_pt", "pred_loss_cpt", "lo_loss_pt", "hi_loss_pt", "lo_loss_cpt", "hi_loss_cpt"
    ]  # fmt: skip
    ok = df["pred_loss_pt"].notna()
    assert (df["lo_loss_pt"][ok] < df["pred_loss_pt"][ok]).all()
    assert (df["hi_loss_pt"][ok] > df["pred_loss_pt"][ok]).all()
    printed = capsys.readouterr().out
    assert "inside the 95% band" in printed and "points scored, from step" in printed


def test_predict_scores_the_rows_the_fit_scores(cli_files, capsys):
    # the first steps (PT warm-up) are not scored: R2 of a fitted run is not dominated by them
    d, paths, params = cli_files
    capsys.readouterr()
    assert main(["predict", "-p", str(params), paths[0], "-o", str(d / "c.csv")]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("general")][0]
    r2 = float(line.split("R2 ")[1].split()[0])
    assert r2 > 0.99 and "after the PT warm-up" in line


def test_an_interval_from_an_uncalibrated_file_says_so(cli_files, capsys):
    d, paths, params = cli_files
    data = json.loads(params.read_text())
    for t in ("pt", "cpt"):
        data[t].pop("calibration")
    old = d / "old.json"
    old.write_text(json.dumps(data))
    capsys.readouterr()
    assert (
        main(["predict", "-p", str(old), paths[0], "-o", str(d / "d.csv"), "--interval", "0.9"])
        == 0
    )
    assert "no calibrated band" in capsys.readouterr().err


def test_a_bad_interval_is_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["predict", "-p", "x.json", "r.csv", "--interval", "1.5"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--interval" in err[0]


def test_envelope_from_garbage_is_none():
    assert Envelope.from_dict({"replay": [1, 0]}) is None
    assert Envelope.from_dict("x") is None
    assert envelope_of([], 0.999) is None
    assert not math.isnan(widening([]))
