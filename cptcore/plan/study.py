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
from cptcore.plots import ScenarioView, scenario_view
from cptcore.scenario import Scenario, simulate

SWEEP_LAMBDAS = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0)


def sweep_for(ps: ParamSet, space: SearchSpace, pt) -> pd.DataFrame:
    """The balance-mode optimum per lambda1 (paper Fig. 8b/8c) for a search space and PT schedule."""
    return lambda_sweep(ps, space, pt, lambdas=SWEEP_LAMBDAS)


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
    pl = Planner(ps, current.pt, space)
    res = plan(ps, goal, planner=pl)
    cur = scenario_view(simulate(ps, current, bands=False), max_points, label="current scenario")
    pv = None
    if res.feasible:
        sc = res.scenario()  # its band (calibrated, widened outside the fitted range) is drawn
        pv = scenario_view(
            simulate(ps, sc, bands=False), max_points, "recommended", ps=ps, replay=sc.replay
        )
    anchor = res.settings or _nearest_settings(current)
    mr = objective_map(pl, goal, anchor, "replay", n_lr=36, n_x=21)
    ms = objective_map(pl, goal, anchor, "steps", n_lr=36, n_x=24)
    front = pareto_frontier(pl)
    if lambda_curves:
        turning = turning_length_curve(ps, res.scenario() or current)
        potential = potential_curve(ps, res.scenario() or current)
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
