"""How the answer depends on lambda1: the turning length of the composite loss (paper Fig. 13), the
best loss potential of a new pre-training run (Fig. 8a) and the balance optimum (Fig. 8b/8c)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from cptcore.law import predict, turning_length
from cptcore.params_io import ParamSet
from cptcore.plan.goal import Goal, SearchSpace, default_pt
from cptcore.plan.planner import Planner
from cptcore.plan.search import plan
from cptcore.scenario import Scenario, lr_and_areas, simulate
from cptcore.schedules import ScheduleSpec, pt_spec_for_potential


def turning_length_curve(
    ps: ParamSet, scenario: Scenario, lambdas=None, horizon: int = 100_000
) -> pd.DataFrame:
    """Paper Fig. 13: for the composite lambda1*L_pt + (1-lambda1)*L_cpt, the CPT steps until it
    returns to its value at the transfer point (``law.turning_length``). CPT is held at a constant LR
    (the scenario's CPT peak and warm-up, replay) for ``horizon`` steps (assumption: the paper's CPT
    schedule for Fig. 13 is not stated). ``turning_length`` is 0 when the composite never rises above
    its initial value and None (<NA>) when it stays above it for the whole horizon ('CPT not
    suitable')."""
    lambdas = np.round(np.linspace(0.0, 1.0, 21), 4) if lambdas is None else np.asarray(lambdas)
    cpt = replace(
        scenario.cpt,
        kind="constant",
        steps=int(horizon),
        warmup_steps=min(int(scenario.cpt.warmup_steps), int(horizon)),
    )
    cur = simulate(ps, Scenario(scenario.pt, cpt, scenario.replay), bands=False)
    lp, lc = cur.curves["pt"].pred, cur.curves["cpt"].pred
    out = [turning_length(l1 * lp + (1 - l1) * lc, cur.transfer_step) for l1 in lambdas]
    stays = f"stays above for {horizon:,} steps"
    status = [stays if n is None else "never rises" if n == 0 else "returns" for n in out]
    return pd.DataFrame(
        {"lambda1": lambdas, "turning_length": pd.array(out, dtype="Int64"), "status": status}
    )


def _final_losses(ps: ParamSet, sc: Scenario) -> tuple[float, float]:
    """(L_pt, L_cpt) at the end of a scenario: the areas of every step, the law at the last only."""
    lr, T, a = lr_and_areas(sc, ps.lam, ps.s2_form, ps.eps)
    end = a.at(np.array([len(lr) - 1]))
    return tuple(float(predict(ps.fits[t].params, end, sc.replay, t)[0]) for t in ("pt", "cpt"))


def _released_scenario(scenario: Scenario, potential: float, rewarm: bool) -> Scenario:
    """The scenario with its PT annealed to ``potential`` x peak; without ``rewarm`` the CPT starts
    at the PT final LR and anneals from there (paper §4.1 without re-warm-up)."""
    pt = pt_spec_for_potential(scenario.pt, potential)
    if rewarm:
        cpt = scenario.cpt
        if cpt.warmup_start > 0:
            cpt = replace(cpt, warmup_start=pt.final_lr)
    else:
        peak = max(pt.final_lr, 1e-12)  # potential 0: the CPT LR is ~0 (nothing to continue)
        cpt = replace(scenario.cpt, peak_lr=peak, warmup_steps=0, warmup_start=0.0,
                      final_lr=min(scenario.cpt.final_lr, peak))  # fmt: skip
    return Scenario(pt, cpt, scenario.replay)


def potential_curve(
    ps: ParamSet, scenario: Scenario, lambdas=None, n_grid: int = 11, rewarm: bool = False
) -> pd.DataFrame:
    """Paper Fig. 8a: the loss potential (PT final LR / PT peak, §3.3) of a new pre-training run that
    minimises the *final* composite loss lambda1*L_pt + (1-lambda1)*L_cpt after CPT, per lambda1.

    The PT schedule becomes a WSD anneal to ``potential x peak`` (``pt_spec_for_potential``). CPT
    (the scenario's family and steps) continues from the released model: without ``rewarm`` it starts
    at the PT final LR and anneals from there (the paper's §4.1 setting without re-warm-up); with
    ``rewarm`` it is the scenario's CPT unchanged. Final (not changed) loss is compared because the
    starting point itself depends on the potential."""
    from scipy.optimize import minimize_scalar  # not at import: the CLI starts faster

    lambdas = np.round(np.linspace(0.2, 1.0, 9), 4) if lambdas is None else np.asarray(lambdas)
    memo: dict = {}

    def finals(p: float) -> tuple[float, float]:
        key = round(float(p), 5)
        if key not in memo:
            memo[key] = _final_losses(ps, _released_scenario(scenario, key, rewarm))
        return memo[key]

    grid = np.linspace(0.0, 1.0, n_grid)
    F = np.array([finals(p) for p in grid])
    rows = []
    for l1 in lambdas:
        comp = l1 * F[:, 0] + (1 - l1) * F[:, 1]
        i = int(np.argmin(comp))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
        r = minimize_scalar(
            lambda p, l1=l1: l1 * finals(p)[0] + (1 - l1) * finals(p)[1],
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 2e-3},
        )
        p_best, v = (
            (float(r.x), float(r.fun)) if r.fun <= comp[i] else (float(grid[i]), float(comp[i]))
        )
        lp, lc = finals(p_best)
        rows.append({"lambda1": float(l1), "potential": p_best, "composite": v,
                     "loss_pt": lp, "loss_cpt": lc})  # fmt: skip
    return pd.DataFrame(rows)


def lambda_sweep(
    ps: ParamSet,
    space: SearchSpace,
    pt: ScheduleSpec | None = None,
    lambdas=None,
    planner: Planner | None = None,
) -> pd.DataFrame:
    """Paper Fig. 8b/8c: the balance-mode optimum (peak LR, replay, steps, family) per lambda1."""
    lambdas = np.round(np.linspace(0.1, 1.0, 10), 4) if lambdas is None else np.asarray(lambdas)
    pl = planner or Planner(ps, pt or default_pt(), space)
    rows = []
    for l1 in lambdas:
        r = plan(ps, Goal(float(l1)), planner=pl)
        rows.append(
            {
                "lambda1": float(l1),
                **r.settings.as_dict(),
                "objective": r.objective,
                "delta_pt": r.delta_pt,
                "delta_cpt": r.delta_cpt,
            }
        )
    return pd.DataFrame(rows)
