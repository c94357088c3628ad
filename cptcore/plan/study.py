"""Everything the Plan page and its report show for one goal (``PlanReport``): the plan, the current
and recommended scenarios thinned for drawing, the objective maps, the Pareto frontier and the lambda
curves. The figures are drawn by ``cptcore.plots_plan``, the files written by ``cptcore.report``."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from cptcore.params_io import ParamSet
from cptcore.plan.curves import lambda_sweep, potential_curve, turning_length_curve
from cptcore.plan.goal import FAMILIES, Goal, PlanResult, PlanSettings, SearchSpace
from cptcore.plan.planner import Planner
from cptcore.plan.search import objective_map, pareto_frontier, plan
from cptcore.scenario import Scenario, ScenarioView, view

SWEEP_LAMBDAS = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0)


def sweep_for(ps: ParamSet, space: SearchSpace, pt, base: str | None = None) -> pd.DataFrame:
    """The balance-mode optimum per lambda1 (paper Fig. 8b/8c) for a search space and PT schedule
    (or a fitted open ``base`` model, paper §6)."""
    pl = Planner(ps, pt, space, base=base) if base is not None else None
    return lambda_sweep(ps, space, pt, lambdas=SWEEP_LAMBDAS, planner=pl)


@dataclass(frozen=True, eq=False)
class PlanReport:
    """Everything the Plan page and the report show for one goal."""

    ps: ParamSet
    params_label: str
    goal: Goal
    space: SearchSpace
    result: PlanResult
    current: Scenario
    current_view: ScenarioView
    plan_view: ScenarioView | None
    map_replay: tuple  # (replay values, peak LRs, Z)
    map_steps: tuple  # (steps values, peak LRs, Z)
    frontier: pd.DataFrame
    turning: pd.DataFrame
    potential: pd.DataFrame
    sweep: pd.DataFrame | None = None  # balance optimum per lambda1 (Fig. 8b/8c)
    seconds: float = 0.0


def build(
    ps: ParamSet,
    goal: Goal,
    space: SearchSpace,
    current: Scenario,
    params_label: str = "",
    max_points: int = 1500,
    lambda_curves: bool = True,
    sweep: pd.DataFrame | None = None,
) -> PlanReport:
    """Plan for ``goal`` keeping the PT schedule of ``current`` and compute every figure's data."""
    t0 = time.perf_counter()
    pl = Planner(ps, current.pt, space, base=current.base)
    res = plan(ps, goal, planner=pl)
    # the law at every step, terms and band at the drawn points only (scenario.view)
    cur = view(ps, current, max_points, label="current scenario", bands=False)
    pv = None
    if res.feasible:  # its band (calibrated, widened outside the fitted range) is drawn
        pv = view(ps, res.scenario(), max_points, label="recommended")
    anchor = res.settings or _nearest_settings(current)
    mr = objective_map(pl, goal, anchor, "replay", n_lr=36, n_x=21)
    ms = objective_map(pl, goal, anchor, "steps", n_lr=36, n_x=24)
    front = pareto_frontier(pl)
    if lambda_curves:
        turning = turning_length_curve(ps, res.scenario() or current)
        potential = (  # an open base model's PT is given: no loss potential to choose (§6)
            potential_curve(ps, res.scenario() or current)
            if current.base is None
            else pd.DataFrame(columns=["lambda1", "potential", "composite"])
        )
        if sweep is None:  # independent of the goal: callers may compute it once (``sweep_for``)
            sweep = lambda_sweep(ps, pl.space, lambdas=SWEEP_LAMBDAS, planner=pl)
    else:
        turning = pd.DataFrame(columns=["lambda1", "turning_length", "status"])
        potential = pd.DataFrame(columns=["lambda1", "potential", "composite"])
    return PlanReport(
        ps, params_label, goal, pl.space, res, current, cur, pv, mr, ms, front, turning,
        potential, sweep, time.perf_counter() - t0,
    )  # fmt: skip


def _nearest_settings(sc: Scenario) -> PlanSettings:
    """The plan family nearest a scenario's CPT schedule (the maps' anchor when nothing is feasible)."""
    fam = sc.cpt.kind if sc.cpt.kind in FAMILIES else "cosine"
    return PlanSettings(fam, sc.cpt.peak_lr, sc.replay, sc.cpt.steps, sc.cpt.decay_fraction)
