"""Plan: the fast end-of-CPT evaluation, the optimiser on problems with known optima, the paper's
Fig. 8b trend, the constraint modes, the Pareto frontier and the lambda curves (Fig. 8a, Fig. 13)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from cptcore.areas import compute_areas, momentum, pt_eta_for_s2
from cptcore.errors import InputError
from cptcore.law import LawParams, shift_shape
from cptcore.params_io import ParamSet
from cptcore.plan import (
    FAMILIES,
    Goal,
    Planner,
    PlanSettings,
    SearchSpace,
    default_pt,
    default_scenario,
    lambda_sweep,
    objective_map,
    pareto_frontier,
    plan,
    potential_curve,
    turning_length_curve,
)
from cptcore.plan.planner import cpt_areas
from cptcore.presets import PAPER_FIG3
from cptcore.scenario import Scenario, simulate
from cptcore.schedules import CORNER_KINDS, ScheduleSpec, concatenate

PAPER = ParamSet.from_params(PAPER_FIG3)
CONST_PT = ScheduleSpec("constant", 2e-4, 10_000)


def _shift_only(E_pt=0.1, E_cpt=10.0, b=0.4, c=0.6) -> ParamSet:
    """A law with only the distribution-shift term (A = C1 = C2 = 0), beta = 1:
    dL_pt = b*u/(1+u), dL_cpt = -c*v/(1+v) with u = E_pt*S1cpt, v = E_cpt*S1cpt."""
    z = dict(L0=3.0, A=0.0, alpha=0.5, C1=0.0, C2=0.0, beta=1.0)
    return ParamSet.from_params(
        {"pt": LawParams(B=b, E=E_pt, **z), "cpt": LawParams(B=-c, E=E_cpt, **z)}
    )


def _s1_star(l1, E_pt=0.1, E_cpt=10.0, b=0.4, c=0.6) -> float:
    """Analytic optimum of l1*b*u/(1+u) - (1-l1)*c*v/(1+v) over S1cpt (derivative = 0):
    sqrt(l1*b*E_pt)*(1 + E_cpt*s) = sqrt(l2*c*E_cpt)*(1 + E_pt*s)."""
    p, q = math.sqrt(l1 * b * E_pt), math.sqrt((1 - l1) * c * E_cpt)
    return (q - p) / (p * E_cpt - q * E_pt)


# ------------------------------------------------------------------------------- fast evaluation
@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize(
    "space",
    [
        SearchSpace(),
        SearchSpace(warmup_fraction=0.05, warmup_from="pt_final", final_lr_ratio=0.1),
        SearchSpace(warmup_fraction=0.1, warmup_from="zero"),
    ],
)
def test_fast_end_of_cpt_losses_equal_full_simulation(family, space):
    # the closed-form final S1cpt/S2cpt (affine in the peak LR) must agree with the per-step
    # simulation of the concatenated schedule to float precision
    pl = Planner(PAPER, default_pt(), space)
    for peak in (3e-5, 1.3e-4, 7e-4):
        s = PlanSettings(family, peak, 0.0, 7_000, 0.25)
        lp, lc = pl.settings_losses(s)
        c = simulate(PAPER, Scenario(pl.pt, s.cpt_spec(space, pl.eta_T), 0.0), bands=False)
        assert lp == pytest.approx(c.final("pt"), abs=1e-10)
        assert lc == pytest.approx(c.final("cpt"), abs=1e-10)
    assert pl.start_pt == pytest.approx(c.curves["pt"].start, abs=1e-12)


@pytest.mark.parametrize("kind", CORNER_KINDS)
@pytest.mark.parametrize(
    "steps, warmup, start, decay, final",
    [(1, 0, 0.0, 0.2, 0.0), (7, 2, 3e-5, 1.0, 1e-5), (12_345, 0, 0.0, 0.0, 2e-5),
     (12_345, 617, 3e-5, 0.25, 0.0), (1_000_000, 10_000, 0.0, 0.1, 1e-5)],
)  # fmt: skip
def test_cpt_areas_from_corners_equal_the_per_step_areas(kind, steps, warmup, start, decay, final):
    # the corners path (areas_at_rows per linear piece, the half cosine in closed form) against
    # compute_areas of the concatenated per-step LR, PT momentum carried across the transfer point;
    # 1e-9 relative: both are sums of ~steps floats (measured ~1e-11 at 1M steps)
    pt = ScheduleSpec("wsd", 2e-4, 5_000, warmup_steps=100, decay_fraction=0.2, final_lr=3e-5)
    cpt = ScheduleSpec(kind, 4e-4, steps, warmup_steps=warmup, warmup_start=start,
                       decay_fraction=decay, final_lr=final)  # fmt: skip
    lr, T = concatenate(pt, cpt)
    ref = compute_areas(lr, T)
    m_T = float(momentum(pt_eta_for_s2(lr, T), 0.999)[T])
    S1, S2 = cpt_areas(cpt, float(lr[T]), m_T, 0.999)
    assert S1 == pytest.approx(ref.S1cpt[-1], rel=1e-9)
    assert S2 == pytest.approx(ref.S2cpt[-1], rel=1e-9, abs=1e-12)


def test_planner_evaluates_a_schedule_by_its_corners_without_per_step_arrays(monkeypatch):
    import cptcore.plan.planner as planner_module

    space = SearchSpace(warmup_fraction=0.01, warmup_from="pt_final", final_lr_ratio=0.1)
    pl = Planner(PAPER, default_pt(), space)  # the fixed PT phase: per step, once

    def no_arrays(*a, **k):
        raise AssertionError("a per-step LR array was built")

    monkeypatch.setattr(planner_module, "segment", no_arrays)
    monkeypatch.setattr(planner_module, "compute_areas", no_arrays)
    got = {}
    for f in FAMILIES:
        got[f] = pl.settings_losses(PlanSettings(f, 2e-4, 0.0, 3_000, 0.2))
        Lp, Lc = pl.evaluate(f, 2_000_000, 0.2, [1e-4, 3e-4], [0.0])
        assert np.all(np.isfinite(Lp)) and np.all(np.isfinite(Lc))
    monkeypatch.undo()
    for f, (lp, lc) in got.items():
        s = PlanSettings(f, 2e-4, 0.0, 3_000, 0.2)
        c = simulate(PAPER, Scenario(pl.pt, s.cpt_spec(space, pl.eta_T), 0.0), bands=False)
        assert (lp, lc) == pytest.approx((c.final("pt"), c.final("cpt")), abs=1e-10)


def test_fast_path_matches_simulation_for_lr_weighted_s2_and_replay_law():
    p = {
        "pt": replace(PAPER_FIG3["pt"], a1=0.055, a2=3.2),
        "cpt": replace(PAPER_FIG3["cpt"], a1=0.037, a2=1.5),
    }
    ps = replace(ParamSet.from_params(p), s2_form="lr-weighted")
    pl = Planner(ps, default_pt(), SearchSpace())
    for fam in ("wsd", "cosine"):
        s = PlanSettings(fam, 2e-4, 0.3, 5_000, 0.2)
        c = simulate(ps, Scenario(pl.pt, s.cpt_spec(pl.space), 0.3), bands=False)
        assert pl.settings_losses(s) == pytest.approx((c.final("pt"), c.final("cpt")), abs=1e-10)


@pytest.mark.parametrize("s2_form", ["paper", "lr-weighted"])
def test_fast_path_matches_simulation_for_the_lr_clock(s2_form):
    # the LR clock sum eta^rho is not affine in the peak LR: the planner sums it per peak
    p = {
        "pt": replace(
            PAPER_FIG3["pt"], a1=0.05, kappa=5.0, rho=1.6, eta_ref=2e-4, replay_form="tau-lr"
        ),
        "cpt": replace(PAPER_FIG3["cpt"], rho=0.6, eta_ref=2e-4, replay_form="lr"),
    }
    ps = replace(ParamSet.from_params(p), s2_form=s2_form)
    pl = Planner(ps, default_pt(), SearchSpace(warmup_fraction=0.05, warmup_from="zero"))
    plain = Planner(
        ParamSet.from_params({t: replace(q, rho=1.0) for t, q in p.items()}),
        default_pt(),
        pl.space,
    )
    for got, without in _fast_path_against_simulation(ps, pl, plain):
        assert abs(without[0] - got[0]) > 1e-3  # the clock matters


@pytest.mark.parametrize("warmup_from", ["zero", "pt_final"])
def test_fast_path_matches_simulation_for_the_peak_forms(warmup_from):
    # tau-speed / tau-amp: the shift depends on the CPT schedule's largest LR (a warm-up from the
    # PT final LR can start above the peak setting); the planner reads it as Explore does
    p = {
        "pt": replace(
            PAPER_FIG3["pt"], a1=0.05, kappa=5.0, mu=1.3, eta_ref=2e-4, replay_form="tau-speed"
        ),
        "cpt": replace(
            PAPER_FIG3["cpt"], a1=0.1, kappa=2.0, nu=0.3, eta_ref=2e-4, replay_form="tau-amp"
        ),
    }
    ps = ParamSet.from_params(p)
    pl = Planner(ps, default_pt(), SearchSpace(warmup_fraction=0.05, warmup_from=warmup_from))
    tau = Planner(
        ParamSet.from_params(
            {t: replace(q, mu=None, nu=None, eta_ref=None, replay_form="tau") for t, q in p.items()}
        ),
        default_pt(),
        pl.space,
    )
    for got, plain in _fast_path_against_simulation(ps, pl, tau):
        assert min(abs(plain[0] - got[0]), abs(plain[1] - got[1])) > 1e-3  # the peak matters


def _fast_path_against_simulation(ps, pl, other):
    """For WSD and cosine plans at two peak LRs: assert the planner's fast path equals the
    simulation to 1e-10; yield (its final losses, ``other`` planner's) for the test to compare."""
    for fam in ("wsd", "cosine"):
        for peak in (5e-5, 4e-4):
            s = PlanSettings(fam, peak, 0.3, 5_000, 0.2)
            c = simulate(ps, Scenario(pl.pt, s.cpt_spec(pl.space), 0.3), bands=False)
            got = pl.settings_losses(s)
            assert got == pytest.approx((c.final("pt"), c.final("cpt")), abs=1e-10)
            yield got, other.settings_losses(s)


# ------------------------------------------------------------------------- known optima
def test_planner_finds_analytic_optimal_peak_lr():
    # constant CPT LR x for n steps: S1cpt = n*x exactly, so x* = s*/n
    ps = _shift_only()
    n = 10_000
    space = SearchSpace(
        lr_min=1e-5, lr_max=1e-3, steps_min=n, steps_max=n, families=("constant",), replay_max=0
    )
    r = plan(ps, Goal(0.5), space, pt=CONST_PT)
    assert r.feasible
    assert r.settings.peak_lr == pytest.approx(_s1_star(0.5) / n, rel=5e-3)


def test_planner_finds_analytic_optimal_steps():
    ps = _shift_only()
    x = 1e-4
    space = SearchSpace(
        lr_min=x, lr_max=x, steps_min=2_000, steps_max=50_000, families=("constant",), replay_max=0
    )
    r = plan(ps, Goal(0.3), space, pt=CONST_PT)
    # steps are integers: within 0.5 % of the continuous optimum
    assert r.settings.steps == pytest.approx(_s1_star(0.3) / x, rel=5e-3)


def test_planner_finds_analytic_optimal_replay_ratio():
    # Eq. 8 'convex' form, both sets: J(r) = K1*f(1-r) - K2*exp(a1*r) + const with
    # f(q) = (e^(a2 q) - 1)/(e^a2 - 1), K1 = l1*B_pt*U, K2 = (l1*C2_pt + l2*C2_cpt)*S2cpt, a1 = -k.
    # dJ/dr = 0  <=>  e^(-(a2-k) r) = K2*k*(e^a2 - 1)/(K1*a2*e^a2); we choose B_pt so r* = 0.3.
    l1, a2, k, r_star = 0.5, 3.0, 1.0, 0.3
    lr, steps = 2e-4, 8_000
    cpt = ScheduleSpec("cosine", lr, steps)
    lrs, T = concatenate(CONST_PT, cpt)
    a = compute_areas(lrs, T)
    S1, S2 = a.S1cpt[-1], a.S2cpt[-1]
    assert S2 > 0
    E, beta, C2p, C2c = 50.0, 0.5, 0.3, 0.3
    U = float(shift_shape(np.array([S1]), E, beta)[0])
    K2 = (l1 * C2p + (1 - l1) * C2c) * S2
    K1 = K2 * k * math.expm1(a2) * math.exp((a2 - k) * r_star) / (a2 * math.exp(a2))
    b = K1 / (l1 * U)
    z = dict(L0=3.0, A=0.0, alpha=0.5, C1=0.0, E=E, beta=beta, a1=-k, a2=a2, replay_form="convex")
    ps = ParamSet.from_params(
        {"pt": LawParams(C2=C2p, B=b, **z), "cpt": LawParams(C2=C2c, B=0.0, **z)}
    )
    space = SearchSpace(
        lr_min=lr,
        lr_max=lr,
        steps_min=steps,
        steps_max=steps,
        families=("cosine",),
        replay_min=0.0,
        replay_max=1.0,
    )
    r = plan(ps, Goal(l1), space, pt=CONST_PT)
    assert r.settings.replay == pytest.approx(r_star, abs=2e-3)


# ----------------------------------------------------------------------- paper trends
def test_larger_lambda1_never_gives_higher_optimal_peak_lr_fig3():
    # paper Fig. 8b: the more the general loss matters, the lower the optimal CPT peak LR.
    # Fig. 3 parameters, the paper's Fig. 8 setting (WSD PT 40K, cosine CPT 10K steps).
    space = SearchSpace(
        lr_min=1e-6,
        lr_max=1e-3,
        steps_min=10_000,
        steps_max=10_000,
        families=("cosine",),
        replay_max=0.0,
    )
    df = lambda_sweep(PAPER, space, lambdas=np.round(np.linspace(0.05, 1.0, 20), 3))
    lrs = df["peak_lr"].to_numpy()
    assert np.all(np.diff(lrs) <= lrs[:-1] * 1e-6), lrs
    assert lrs[0] > lrs[-1]  # and the trend is not flat


def test_lambda1_trend_holds_with_steps_and_families_free():
    space = SearchSpace(lr_min=1e-6, lr_max=1e-3, families=("wsd", "cosine"), replay_max=0.0)
    df = lambda_sweep(PAPER, space, lambdas=[0.2, 0.5, 0.8, 1.0])
    lrs = df["peak_lr"].to_numpy()
    assert np.all(np.diff(lrs) <= lrs[:-1] * 1e-6), lrs
    # balance objective at the optimum is no worse than at any point of a coarse brute-force grid
    pl = Planner(PAPER, default_pt(), space)
    for l1, obj in zip(df["lambda1"], df["objective"], strict=True):
        g = Goal(float(l1))
        for fam in space.families:
            for n in (2_000, 6_000, 20_000):
                Lp, Lc = pl.evaluate(fam, n, 0.2, np.geomspace(1e-6, 1e-3, 13), [0.0])
                assert obj <= np.min(pl.score(g, Lp, Lc)) + 1e-9


# ------------------------------------------------------------------------ constraint modes
@pytest.mark.parametrize("x", [0.0, 0.02, 0.08])
def test_max_general_rise_is_respected_and_optimal_on_a_grid(x):
    space = SearchSpace(lr_min=1e-6, lr_max=1e-3, families=("wsd", "cosine"))
    g = Goal(0.5, mode="max_general_rise", max_general_rise=x)
    r = plan(PAPER, g, space)
    assert r.feasible
    assert r.delta_pt <= x + 1e-12
    pl = Planner(PAPER, default_pt(), space)
    for fam in space.families:
        for n in (2_000, 5_000, 10_000, 20_000):
            Lp, Lc = pl.evaluate(fam, n, 0.2, np.geomspace(1e-6, 1e-3, 25), [0.0])
            ok = Lp - pl.start_pt <= x
            if ok.any():
                assert r.delta_cpt <= np.min((Lc - pl.start_cpt)[ok]) + 1e-6


def test_max_general_rise_infeasible_is_reported_in_words():
    r = plan(PAPER, Goal(mode="max_general_rise", max_general_rise=-0.5), SearchSpace())
    assert not r.feasible and r.settings is None
    assert r.summary.startswith("Infeasible") and "-0.5000" in r.summary
    assert math.isnan(r.objective)


def test_domain_target_uses_fewest_steps_that_reach_it():
    space = SearchSpace(
        lr_min=1e-6,
        lr_max=1e-4,
        steps_min=500,
        steps_max=50_000,
        families=("cosine",),
        replay_max=0.0,
    )
    y = 2.70
    r = plan(PAPER, Goal(mode="domain_target", domain_target=y), space)
    assert r.feasible
    assert r.loss_cpt_end <= y
    n = r.settings.steps
    assert 500 < n < 50_000
    # one percent fewer steps cannot reach the target
    fewer = plan(
        PAPER, Goal(mode="domain_target", domain_target=y), replace(space, steps_max=int(n * 0.99))
    )
    assert not fewer.feasible
    assert "cannot reach 2.7000" in fewer.summary


def test_ood_target_is_the_eq6_mix():
    w = (0.622, 0.385)  # SlimPajama (paper Fig. 21)
    r = plan(PAPER, Goal(0.5, ood_weights=w), SearchSpace())
    mix = w[0] * r.delta_pt + w[1] * r.delta_cpt
    assert r.objective == pytest.approx(mix, abs=1e-12)
    assert "out-of-domain" in r.summary


def test_bad_goal_and_bounds_raise_input_error_with_one_line():
    with pytest.raises(InputError, match="lambda1"):
        plan(PAPER, Goal(1.5))
    with pytest.raises(InputError, match="peak LR bounds"):
        Planner(PAPER, default_pt(), SearchSpace(lr_min=1e-3, lr_max=1e-4))
    with pytest.raises(InputError, match="unknown schedule family"):
        SearchSpace(families=("step",)).validated()
    with pytest.raises(InputError, match="allowed rise"):
        plan(PAPER, Goal(mode="max_general_rise"))
    only_pt = ParamSet.from_params({"pt": PAPER_FIG3["pt"]})
    with pytest.raises(InputError, match="both"):
        plan(only_pt, Goal())


def test_eq4_parameters_hold_replay_and_say_so():
    r = plan(PAPER, Goal(0.5), SearchSpace(replay_min=0.1, replay_max=0.5))
    assert r.settings.replay == 0.1
    assert any("do not model replay" in n for n in r.notes)


def test_replay_is_modelled_only_when_every_set_has_replay_parameters():
    eq8_pt = replace(PAPER_FIG3["pt"], a1=0.05, a2=2.0)
    eq8_cpt = replace(PAPER_FIG3["cpt"], a1=0.0, a2=1.0)
    clock = {t: replace(q, rho=1.5, eta_ref=2e-4, replay_form="lr") for t, q in PAPER_FIG3.items()}
    assert ParamSet.from_params({"pt": eq8_pt, "cpt": eq8_cpt}).models_replay
    # the LR clock alone (eq4-lr) has an extra parameter but no replay term
    assert not ParamSet.from_params(clock).models_replay
    # one set without replay: the other's replay term cannot be planned on (page, planner, report)
    mixed = ParamSet.from_params({"pt": eq8_pt, "cpt": PAPER_FIG3["cpt"]})
    assert mixed.law == "eq8" and not mixed.models_replay
    assert not Planner(mixed, default_pt()).replay_modelled


def test_plan_families_and_what_if_kinds_are_the_schedule_kinds_given_by_corners():
    from cptcore.schedules import CORNER_KINDS, KINDS
    from cptcore.whatif import CPT_KINDS, PT_KINDS

    assert tuple(FAMILIES) == CORNER_KINDS == PT_KINDS == CPT_KINDS
    assert {k: KINDS[k] for k in CORNER_KINDS} == FAMILIES  # one description per kind


def test_plan_is_deterministic():  # its speed: benchmarks/plan_speed.py
    space = SearchSpace(steps_min=5_000, steps_max=50_000, families=("wsd", "cosine", "linear"))
    a = plan(PAPER, Goal(0.6), space)
    b = plan(PAPER, Goal(0.6), space)
    assert a.settings == b.settings and a.objective == b.objective


# -------------------------------------------------------------------- frontier and curves
def test_pareto_points_are_not_dominated():
    pl = Planner(PAPER, default_pt(), SearchSpace(lr_min=1e-6, lr_max=1e-3))
    df = pareto_frontier(pl)
    front = df[df["pareto"]]
    assert 3 <= len(front) < len(df)
    P, C = df["loss_pt"].to_numpy(), df["loss_cpt"].to_numpy()
    for lp, lc in zip(front["loss_pt"], front["loss_cpt"], strict=True):
        assert not np.any((P <= lp) & (C <= lc) & ((P < lp) | (C < lc)))


def test_objective_map_has_the_optimum_at_its_minimum():
    space = SearchSpace(lr_min=1e-6, lr_max=1e-3, families=("cosine",), replay_max=0.0)
    pl = Planner(PAPER, default_pt(), space)
    r = plan(PAPER, Goal(0.7), planner=pl)
    xs, lrs, Z = objective_map(pl, Goal(0.7), r.settings, "steps")
    assert Z.shape == (lrs.size, xs.size)
    assert r.objective <= np.nanmin(Z) + 1e-9


def test_turning_length_vs_lambda1_follows_fig13_pattern():
    # small lambda1: the composite never rises; large lambda1: it stays above (None)
    df = turning_length_curve(PAPER, default_scenario(), lambdas=[0.0, 0.5, 1.0])
    tl = list(df["turning_length"])
    assert tl[0] == 0
    assert df["status"].iloc[-1].startswith("stays above")
    assert tl[-1] is None or tl[-1] is np.nan or str(tl[-1]) == "<NA>"


def test_optimal_loss_potential_falls_with_lambda1_fig8a():
    df = potential_curve(PAPER, default_scenario(), lambdas=[0.2, 0.6, 1.0])
    pot = df["potential"].to_numpy()
    assert np.all((pot >= 0) & (pot <= 1))
    assert np.all(np.diff(pot) <= 1e-9)
    assert pot[0] > 0.5 and pot[-1] < 0.1


# ------------------------------------------------------------------------------------ command line
@pytest.fixture()
def params_file(tmp_path):
    from cptcore.params_io import save

    path = tmp_path / "params.json"
    save(PAPER, str(path))
    return str(path)


def test_cli_plan_prints_the_recommendation_as_json(params_file, capsys):
    import json

    from cptcore.__main__ import main

    rc = main(["plan", "-p", params_file, "--lambda1", "0.7", "--schedules", "cosine",
               "--steps-min", "1000", "--steps-max", "10000"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["feasible"]
    assert out["recommended"]["family"] == "cosine"
    assert 1000 <= out["recommended"]["steps"] <= 10000
    assert out["loss_pt"]["delta"] == pytest.approx(
        out["loss_pt"]["end"] - out["loss_pt"]["start"], abs=2e-6
    )


def test_cli_plan_infeasible_exits_1_and_bad_input_exits_2_with_one_line(params_file, capsys):
    from cptcore.__main__ import main

    assert main(["plan", "-p", params_file, "--max-general-rise", "-1"]) == 1
    assert '"feasible": false' in capsys.readouterr().out
    for argv in (
        ["--lr-min", "1e-3", "--lr-max", "1e-4"],
        ["--schedules", "wsd,step"],
        ["--ood", "nowhere"],
        ["--pt-peak-lr", "2"],
    ):
        assert main(["plan", "-p", params_file, *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_cli_plan_writes_the_report(params_file, tmp_path, capsys):
    from cptcore.__main__ import main

    html, csv = tmp_path / "plan.html", tmp_path / "front.csv"
    rc = main(["plan", "-p", params_file, "--steps-max", "5000", "--report", str(html),
               "--frontier", str(csv)])  # fmt: skip
    assert rc == 0
    assert "Plotly.newPlot" in html.read_text(encoding="utf-8")
    assert csv.read_text().startswith("family,peak_lr,replay,steps")


@pytest.mark.parametrize("target", [0.0, -3.0])
def test_a_domain_target_of_zero_or_less_is_refused(target):
    with pytest.raises(InputError, match="must be above 0 nats"):
        Goal(mode="domain_target", domain_target=target).validated()


def test_the_search_space_is_limited_to_the_fitted_range_and_says_how():
    from cptcore.envelope import Envelope
    from cptcore.plan import SearchSpace, within_envelope

    env = Envelope((0.0, 0.5), (0.0, 0.5), (1e-3, 1e-3), (1000, 1000), (0.9, 0.98), (0.0, 1.0),
                   (0.0, 1.0), 0.98, 8, (0.87, 0.98))  # fmt: skip
    space, notes = within_envelope(SearchSpace(1e-4, 2e-3, 0.0, 1.0, 100, 20_000), env)
    assert (space.lr_min, space.lr_max) == (1e-3, 1e-3)
    assert (space.replay_min, space.replay_max) == (0.0, 0.5)
    assert space.steps_max == int(0.98 / 1e-3 * 1.05)
    assert len(notes) == 3 and "peak LR held at the fitted 1e-3" in notes[0]
    same, none = within_envelope(SearchSpace(1e-3, 1e-3, 0.0, 0.5, 100, 900), env)
    assert none == [] and same == SearchSpace(1e-3, 1e-3, 0.0, 0.5, 100, 900)
    assert within_envelope(space, None) == (space, [])


def test_a_recommendation_on_the_edge_of_the_search_space_says_so():
    from cptcore.plan import PlanSettings, SearchSpace, edge_notes

    space = SearchSpace(1e-4, 2e-3, 0.0, 0.5, 1000, 20_000)
    s = PlanSettings("wsd", 2e-3, 0.5, 5000, 0.2)
    notes = edge_notes(s, space, inside=True)
    assert len(notes) == 2
    assert "peak LR is the highest allowed (2e-3)" in notes[0] and "extrapolating" in notes[0]
    assert "replay ratio is the highest allowed (50%)" in notes[1]
    assert edge_notes(PlanSettings("wsd", 5e-4, 0.2, 5000, 0.2), space, True) == []


def test_domain_target_ties_at_the_fewest_steps_go_to_the_smallest_general_rise():
    # Eq. 8 parameters (replay modelled); a target just below the start is reached by many settings
    # at the fewest steps allowed: the answer is the one that forgets least, not the lowest loss
    eq8 = ParamSet.from_params(
        {
            "pt": replace(PAPER_FIG3["pt"], a1=0.055, a2=3.2),
            "cpt": replace(PAPER_FIG3["cpt"], a1=0.037, a2=1.5),
        }
    )
    space = SearchSpace(steps_min=200, steps_max=5_000, replay_max=0.5)
    y = Planner(eq8, default_pt(), space).start_cpt - 0.01
    r = plan(eq8, Goal(mode="domain_target", domain_target=y), space)
    assert r.feasible and r.settings.steps == 200 and r.loss_cpt_end <= y
    pl = Planner(eq8, default_pt(), space)
    lrs, reps = np.geomspace(space.lr_min, space.lr_max, 15), np.linspace(0, 0.5, 11)
    best_rise = math.inf
    for fam in space.families:
        for dec in (0.1, 0.2, 0.3):
            Lp, Lc = pl.evaluate(fam, 200, dec, lrs, reps)
            ok = Lc <= y
            if ok.any():
                best_rise = min(best_rise, float(Lp[ok].min() - pl.start_pt))
    assert r.delta_pt <= best_rise + 1e-9
    assert "reaches" in r.summary and "step" in r.summary


def test_default_domain_target_needs_more_than_the_fewest_steps_and_is_reachable():
    from cptcore.plan import Planner, default_domain_target, plan

    space = SearchSpace(steps_min=1_000, steps_max=20_000)
    pl = Planner(PAPER, CONST_PT, space)
    y = default_domain_target(pl)
    assert y < pl.start_cpt
    r = plan(PAPER, Goal(0.5, "domain_target", domain_target=y), space, CONST_PT)
    assert r.feasible and space.steps_min < r.settings.steps < space.steps_max
    assert r.reached_at > 0.5 * r.settings.steps


def test_an_implausible_loss_at_the_end_of_a_tiny_pretraining_names_that_schedule_not_the_file():
    """A PT of 100 steps at peak LR 1e-6 makes the power term explode (the Plan page after its
    controls fell to their minimum): the message named params.json, which was not at fault."""
    ps = replace(PAPER, source="params.json")
    with pytest.raises(InputError) as e:
        Planner(ps, ScheduleSpec("wsd", 1e-6, 100))
    assert e.value.source is None and e.value.column == "pt-steps/pt-peak-lr"
    assert "pre-training of 100 steps at peak LR 1e-06" in str(e.value)
    assert "params.json" not in str(e.value) and "parameter file" not in str(e.value)


def test_a_domain_target_already_reached_at_the_transfer_point_gets_no_plan_and_says_so():
    """A target above the starting domain loss answered '... reaches 99 at CPT step 0' with the
    smallest plan (QA pass 2, P2-5)."""
    from cptcore.plan import Planner

    space = SearchSpace(steps_min=1_000, steps_max=20_000)
    start = Planner(PAPER, CONST_PT, space).start_cpt
    r = plan(PAPER, Goal(0.5, "domain_target", domain_target=start + 1.0), space, CONST_PT)
    assert not r.feasible and r.settings is None
    assert r.summary.startswith("Nothing to plan") and f"below {start:.4f}" in r.summary
