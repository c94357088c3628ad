"""Open models (paper §6): one S1pt per base model shared by both validation sets, its
params.json round trip, and the S1pt mode in model selection."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from cptcore.errors import InputError
from cptcore.fit import evaluate, fit_shared, fit_target
from cptcore.params_io import ParamSet, base_models, dumps, loads
from cptcore.select import fit_model, select_model
from tests.synthetic import PT_CONST, cpt_spec, make_run


def _open_runs():
    runs = []
    for i, (kind, steps) in enumerate([("wsd", 2000), ("cosine", 1000), ("constant", 1500)]):
        r, s1 = make_run(kind, PT_CONST, cpt_spec(kind, steps=steps), pt_history=False, seed=3 + i)
        runs.append(replace(r, base="llama"))
    return runs, s1


@pytest.fixture(scope="module")
def shared():
    runs, true_s1 = _open_runs()
    return runs, true_s1, fit_shared(runs[:2], "eq4")


def test_shared_s1pt_is_one_value_for_both_sets_and_recovers_the_base(shared):
    runs, true_s1, fits = shared
    s1 = {t: f.S1pt["llama"] for t, f in fits.items()}
    assert set(s1) == {"pt", "cpt"} and s1["pt"] == s1["cpt"]
    assert all(f.s1pt_shared and f.success for f in fits.values())
    assert abs(math.log(s1["pt"] / true_s1)) < math.log(1.3)  # synthetic truth, noise 0.002
    assert "S1pt shared with the" in fits["pt"].message
    se = fits["pt"].stderr()["S1pt[llama]"]
    assert se == pytest.approx(fits["cpt"].stderr()["S1pt[llama]"]) and 0 < se < math.inf


def test_shared_s1pt_fit_predicts_a_new_schedule_on_the_base(shared):
    runs, _, fits = shared
    for f in fits.values():
        assert evaluate(f, runs[2:])[0].mae < 0.01


def test_runs_with_pt_history_get_the_per_set_fits_unchanged():
    runs = [
        make_run("a", PT_CONST, cpt_spec("wsd"), seed=1),
        make_run("b", PT_CONST, cpt_spec("constant"), seed=2),
    ]
    fits = fit_shared(runs, "eq4")
    for t, f in fits.items():
        alone = fit_target(runs, t, "eq4")
        assert f.params == alone.params and not f.s1pt_shared and not f.S1pt


def test_params_json_round_trips_the_shared_s1pt_and_lists_the_bases(shared):
    _, _, fits = shared
    text = dumps(ParamSet.from_fits(fits))
    d = json.loads(text)
    assert d["bases"]["llama"]["S1pt_shared"] is True
    assert d["bases"]["llama"]["S1pt"]["pt"] == d["bases"]["llama"]["S1pt"]["cpt"]
    back = loads(text)
    assert all(back.fits[t].s1pt_shared for t in ("pt", "cpt"))
    b = base_models(back)["llama"]
    assert b.shared and b.S1pt == {t: f.S1pt["llama"] for t, f in fits.items()}
    lo, hi = b.range("cpt")
    assert lo < b.S1pt["cpt"] < hi


def test_files_without_the_shared_flag_still_load_as_per_set(shared):
    _, _, fits = shared
    d = json.loads(dumps(ParamSet.from_fits(fits)))
    for t in ("pt", "cpt"):
        del d[t]["S1pt_shared"]
    del d["bases"]
    back = loads(json.dumps(d))
    assert not any(f.s1pt_shared for f in back.fits.values())
    assert not base_models(back)["llama"].shared
    d["cpt"]["S1pt_shared"] = "yes"
    with pytest.raises(InputError, match="cpt.S1pt_shared"):
        loads(json.dumps(d))


def test_model_selection_tries_both_s1pt_modes_for_cpt_only_runs_and_keeps_the_better():
    runs, _ = _open_runs()
    sel, fits = select_model(runs, "eq4", 0.999, jobs=1)
    modes = {c.s1pt: c.score for c in sel.candidates}
    assert set(modes) == {"per-set", "shared"}
    assert sel.s1pt == min(modes, key=modes.get)
    assert all(f.s1pt_shared == (sel.s1pt == "shared") for f in fits.values())
    assert sel.to_dict()["s1pt"] == sel.s1pt and "S1pt" in sel.message


def test_s1pt_mode_can_be_forced_and_a_bad_one_is_one_line():
    runs, _ = _open_runs()
    out = fit_model(runs[:2], law="eq4", lam=0.999, s1pt="shared", jobs=1)  # too few runs for CV
    assert out.selection.s1pt == "shared" and all(f.s1pt_shared for f in out.fits.values())
    with pytest.raises(InputError, match="unknown S1pt mode"):
        select_model(runs, "eq4", 0.999, s1pt="both")


def test_fits_with_pt_history_record_no_s1pt_mode():
    runs = [
        make_run(n, PT_CONST, cpt_spec(k), seed=i)
        for i, (n, k) in enumerate([("a", "wsd"), ("b", "constant")])
    ]
    sel, _ = select_model(runs, "eq4", 0.999)
    assert sel.s1pt is None and "s1pt" not in sel.to_dict()
    assert not np.isnan(sel.lam)


# --- a new CPT schedule on a fitted open base: simulated (Explore) and planned (Plan) ----------


def test_a_scenario_on_an_open_base_predicts_what_the_fit_predicts_for_that_schedule(shared):
    from cptcore.fit import scored_rows
    from cptcore.plan import default_pt
    from cptcore.scenario import Scenario, simulate

    runs, _, fits = shared
    ps = ParamSet.from_fits(fits)
    assert ps.open_model
    new = runs[2]  # a constant CPT of 1500 steps (warm-up 50) the fit never saw
    sc = Scenario(default_pt(), cpt_spec("constant", steps=1500), 0.0, base="llama")
    cur = simulate(ps, sc)
    assert cur.transfer_step == 0 and cur.loss_potential == 0.0
    for t, f in fits.items():
        ((_, _, pred, a),) = scored_rows(f, [new])
        np.testing.assert_allclose(cur.curves[t].pred[a.rows], pred, rtol=1e-9)
        lo, hi = cur.curves[t].band  # delta method with the base's S1pt (no calibration here)
        assert np.all(lo[1:] <= cur.curves[t].pred[1:]) and np.all(cur.curves[t].pred[1:] <= hi[1:])
        # S1pt is correlated with A and alpha: with its own uncertainty the band stays narrow
        assert np.all(hi[1:] / lo[1:] < 1.2), float(np.max(hi[1:] / lo[1:]))
    with pytest.raises(InputError, match="base model 'mistral' was not fitted"):
        simulate(ps, Scenario(default_pt(), cpt_spec("constant"), 0.0, base="mistral"))


def test_a_plan_on_an_open_base_starts_from_the_base_and_its_scenario_agrees(shared):
    from cptcore.plan import Goal, Planner, SearchSpace, default_pt, plan
    from cptcore.scenario import simulate

    _, _, fits = shared
    ps = ParamSet.from_fits(fits)
    space = SearchSpace(lr_min=2e-4, lr_max=1e-3, steps_min=500, steps_max=3000, replay_max=0.0)
    pl = Planner(ps, default_pt(), space, base="llama")
    r = plan(ps, Goal(0.5), space, planner=pl)
    assert r.feasible and r.base == "llama" and r.scenario().base == "llama"
    cur = simulate(ps, r.scenario(), bands=False)
    assert cur.curves["pt"].pred[0] == pytest.approx(r.loss_pt_start, rel=1e-9)
    assert cur.final("pt") == pytest.approx(r.loss_pt_end, rel=1e-6)
    assert cur.final("cpt") == pytest.approx(r.loss_cpt_end, rel=1e-6)


def test_the_settings_of_a_cpt_only_run_are_its_cpt_schedule():
    from cptcore.whatif import whatif_from_run

    runs, _ = _open_runs()
    w = whatif_from_run(runs[0])  # WSD CPT of 2000 steps, peak 5e-4, warm-up 50
    assert (w.cpt_kind, w.cpt_steps, w.cpt_lr) == ("wsd", 2000, pytest.approx(5e-4))
    assert w.cpt_warmup == pytest.approx(0.025, abs=1e-3)


def test_cli_fits_a_shared_s1pt_and_predicts_a_new_schedule_on_the_base(tmp_path, capsys):
    from cptcore.__main__ import main
    from cptcore.runs import write_run

    runs, _ = _open_runs()
    paths = []
    for r in runs:
        paths.append(str(tmp_path / f"{r.name}.csv"))
        write_run(r, paths[-1])
    out = tmp_path / "params.json"
    assert main(["fit", *paths[:2], "--law", "eq4", "--lambda", "0.999", "--s1pt", "shared",
                 "-o", str(out)]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "S1pt of base model 'llama'" in text and "shared by both validation sets" in text
    assert json.loads(out.read_text())["bases"]["llama"]["S1pt_shared"] is True
    pred = tmp_path / "pred.csv"
    assert main(["predict", "-p", str(out), paths[2], "-o", str(pred), "--interval", "0.95"]) == 0
    import pandas as pd

    df = pd.read_csv(pred).iloc[1:]  # the band from the covariance (two runs: no calibration)
    for t in ("pt", "cpt"):  # with the base's own S1pt uncertainty it stays finite and narrow
        assert np.all(df[f"hi_loss_{t}"] / df[f"lo_loss_{t}"] < 1.2)
    with pytest.raises(SystemExit):  # argparse: one line naming the choices
        main(["fit", *paths[:2], "--s1pt", "both"])
