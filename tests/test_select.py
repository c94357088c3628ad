"""Model selection (the default fit): law form and lambda chosen by grouped cross-validation."""

import json

import numpy as np
import pytest

from cptcore.__main__ import main
from cptcore.errors import InputError
from cptcore.fit import evaluate, fit_target
from cptcore.select import cpt_setting, fit_model, groups, select_model
from tests.synthetic import PT_CONST, PT_WSD, TRUE, cpt_spec, make_run

# replay relaxes the shift (tau-form, notes §10): strongly on the general set, weakly on the domain
TRUE_TAU = {
    "pt": TRUE["pt"].with_values(a1=-0.3, kappa=12.0, replay_form="tau"),
    "cpt": TRUE["cpt"].with_values(a1=0.2, kappa=1.5, replay_form="tau"),
}


def _replay_runs(params, replays=(0.0, 0.25, 0.5), seed0=0, noise=0.002):
    runs = []
    for k, r in enumerate(replays):
        runs.append(
            make_run(
                f"c{r}",
                PT_CONST,
                cpt_spec("wsd", decay_fraction=0.2),
                r,
                params,
                noise,
                seed0 + k,
                every=50,
            )
        )
        runs.append(
            make_run(
                f"w{r}", PT_WSD, cpt_spec("constant"), r, params, noise, seed0 + 10 + k, every=50
            )
        )
    return runs


@pytest.fixture(scope="module")
def tau_runs():
    return _replay_runs(TRUE_TAU)


@pytest.mark.parametrize("target", ["pt", "cpt"])
def test_tau_form_parameters_are_recovered_from_noisy_runs(tau_runs, target):
    res = fit_target(tau_runs, target, "tau")
    assert res.params.law == "tau" and res.success, res.message
    assert max(m.mae for m in res.metrics) < 0.003  # noise is 0.002 nats
    # a replay ratio between the fitted ones is predicted at the noise level
    held = [
        make_run("c0.1", PT_CONST, cpt_spec("wsd", decay_fraction=0.2), 0.1, TRUE_TAU, 0.002, 99)
    ]
    assert evaluate(res, held)[0].cpt_mae < 0.004
    assert res.params.kappa == pytest.approx(TRUE_TAU[target].kappa, rel=0.5)
    assert np.sign(res.params.B) == np.sign(TRUE_TAU[target].B)


def test_auto_picks_the_generating_form_on_synthetic_runs(tau_runs):
    sel, fits = select_model(tau_runs, "auto", [0.999], jobs=1)
    assert sel.cross_validated and sel.law == "tau", sel.table()
    assert {c.law for c in sel.candidates} == {"eq4", "eq8", "eq8-convex", "tau"}
    assert fits["pt"].params.law == "tau"


def test_auto_picks_the_papers_eq8_when_the_runs_follow_it():
    eq8 = {
        "pt": TRUE["pt"].with_values(a1=0.1, a2=1.5, B=0.5),
        "cpt": TRUE["cpt"].with_values(a1=0.1, a2=1.0, B=-0.6),
    }
    runs = _replay_runs(eq8, (0.0, 0.3, 0.6), seed0=20)
    sel, _ = select_model(runs, ["eq4", "eq8", "tau"], [0.999], jobs=1)
    assert sel.law == "eq8", sel.table()


def test_one_replay_ratio_only_tries_eq4_and_chooses_lambda():
    runs = [
        make_run("a", PT_CONST, cpt_spec("wsd", decay_fraction=0.2), seed=1),
        make_run("b", PT_WSD, cpt_spec("constant"), seed=2),
        make_run("c", PT_CONST, cpt_spec("cosine"), seed=3),
    ]
    sel, _ = select_model(runs, jobs=1)
    assert {c.law for c in sel.candidates} == {"eq4"}
    assert {c.lam for c in sel.candidates} == {0.98, 0.99, 0.995, 0.999}
    assert sel.lam == 0.999  # the synthetic runs were made with the paper's lambda


def test_runs_at_two_peak_lrs_add_the_peak_lr_speed_form_and_auto_picks_it_when_it_holds():
    # the shift's speed E scales as (eta_peak / eta_ref)^mu (tau-speed): forgetting per unit S1cpt
    # faster at a higher peak LR on the general set, domain learning slower
    speed = {
        "pt": TRUE_TAU["pt"].with_values(mu=1.3, eta_ref=1e-3, replay_form="tau-speed"),
        "cpt": TRUE_TAU["cpt"].with_values(mu=-0.6, eta_ref=1e-3, replay_form="tau-speed"),
    }
    runs = []
    for i, (peak, r) in enumerate(
        [(4e-4, 0.0), (4e-4, 0.5), (1e-3, 0.0), (1e-3, 0.5), (7e-4, 0.25)]
    ):
        pt, kind = (PT_CONST, "wsd") if i % 2 == 0 else (PT_WSD, "constant")
        spec = cpt_spec(kind, peak=peak, decay_fraction=0.2)
        runs.append(make_run(f"p{peak:g}-r{r}", pt, spec, r, speed, 0.002, 60 + i, every=50))
    sel, fits = select_model(runs, "auto", [0.999], jobs=1)
    assert {c.law for c in sel.candidates} == {"eq4", "eq8", "eq8-convex", "tau", "tau-speed"}
    assert sel.law == "tau-speed", sel.table()
    assert fits["pt"].params.mu == pytest.approx(1.3, abs=0.2)
    # one replay ratio at two peak LRs: Eq. 4 and its peak-LR speed form
    zero = [r for r in runs if r.replay == 0.0] + [
        make_run("p7e-4-r0", PT_WSD, cpt_spec("constant", peak=7e-4), 0.0, speed, 0.002, 70)
    ]
    sel, _ = select_model(zero, "auto", [0.999], jobs=1)
    assert {c.law for c in sel.candidates} == {"eq4", "eq4-speed"}
    assert sel.law == "eq4-speed", sel.table()


def test_too_few_runs_fall_back_to_a_documented_choice_and_say_so(tau_runs):
    sel, fits = select_model(tau_runs[:2], jobs=1)
    assert not sel.cross_validated and fits is None
    assert sel.law == "eq4" and sel.lam == 0.999  # two runs at one replay ratio
    assert "too few to cross-validate" in sel.message
    two_ratios = [tau_runs[0], tau_runs[2]]
    assert select_model(two_ratios, jobs=1)[0].law == "tau"


def test_runs_sharing_a_cpt_setting_are_held_out_together(tau_runs):
    # c0 and w0 differ in PT and CPT schedule; a copy of c0 from the WSD PT shares c0's CPT setting
    twin = make_run("twin", PT_WSD, cpt_spec("wsd", decay_fraction=0.2), 0.0, TRUE_TAU, 0.002, 7)
    runs = [*tau_runs, twin]
    assert cpt_setting(twin) == cpt_setting(runs[0])
    g = groups(runs)
    assert [0, len(runs) - 1] in g and len(g) == len(runs) - 1
    assert groups(runs[:2]) == [[0], [1]]  # fewer than three settings: leave one run out


def test_forcing_a_law_and_lambda_skips_selection_and_unknown_ones_are_refused(tau_runs):
    out = fit_model(tau_runs[:3], tau_runs[3:], "eq8-convex", 0.99)
    assert not out.selection.cross_validated and out.selection.law == "eq8-convex"
    assert all(f.lam == 0.99 for f in out.fits.values())
    assert any(m.held_out for m in out.fits["pt"].metrics)
    with pytest.raises(InputError, match="unknown law"):
        select_model(tau_runs, "eq9")
    with pytest.raises(InputError, match="lambda"):
        select_model(tau_runs, "auto", [1.5])


def test_parallel_selection_equals_the_serial_one(tau_runs):
    a, _ = select_model(tau_runs, ["eq4", "tau"], [0.999], jobs=1)
    b, _ = select_model(tau_runs, ["eq4", "tau"], [0.999], jobs=2)
    assert (a.law, a.lam) == (b.law, b.lam)
    sa = {(c.law, c.lam): c.score for c in a.candidates}
    sb = {(c.law, c.lam): c.score for c in b.candidates}
    assert sa == pytest.approx(sb, rel=1e-9)


def test_cli_default_fit_selects_prints_and_stores_the_table(tau_runs, tmp_path, capsys):
    from cptcore.runs import write_run

    paths = []
    for r in tau_runs:
        p = tmp_path / f"{r.name}.csv"
        write_run(r, str(p))
        paths.append(str(p))
    out = tmp_path / "params.json"
    assert main(["fit", *paths, "--lambda", "0.999", "-o", str(out)]) == 0  # the law is auto
    printed = capsys.readouterr().out
    assert "<- chosen" in printed and "grouped cross-validation" in printed
    d = json.loads(out.read_text())
    sel = d["provenance"]["model_selection"]
    assert sel["law"] == "tau" and d["pt"]["replay_form"] == "tau" and "kappa" in d["pt"]
    assert len(sel["folds"]) == 6 and len(sel["candidates"]) == 4


def test_cli_refuses_an_unknown_law_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["fit", "x.csv", "--law", "eq9"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--law" in err[0]
