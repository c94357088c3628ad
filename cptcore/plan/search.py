"""The search for a plan: discrete choices (schedule family) are enumerated; continuous ones (log10
peak LR, replay, log10 steps, WSD decay fraction) are searched on a grid and refined with bounded
Nelder-Mead. Also the objective maps and the Pareto frontier over the same grids. Deterministic.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from cptcore.params_io import ParamSet
from cptcore.plan.goal import Goal, PlanResult, PlanSettings, SearchSpace, default_pt
from cptcore.plan.planner import Planner
from cptcore.plan.words import describe, plan_notes, summarize
from cptcore.scenario import predicted
from cptcore.schedules import ScheduleSpec

_INFEASIBLE = 1e6  # penalty scale for constraint violations inside the optimiser


# --------------------------------------------------------------------------------------------------
# grids


def _log_grid(lo: float, hi: float, n: int) -> np.ndarray:
    return np.array([lo]) if hi <= lo else np.geomspace(lo, hi, n)


def _lin_grid(lo: float, hi: float, n: int) -> np.ndarray:
    return np.array([lo]) if hi <= lo else np.linspace(lo, hi, n)


def _steps_grid(space: SearchSpace, n: int) -> np.ndarray:
    return np.unique(np.round(_log_grid(space.steps_min, space.steps_max, n)).astype(int))


def _replay_grid(pl: Planner, n: int) -> np.ndarray:
    sp = pl.space
    return _lin_grid(sp.replay_min, sp.replay_max if pl.replay_modelled else sp.replay_min, n)


def _decays(space: SearchSpace, family: str, n: int) -> np.ndarray:
    return _lin_grid(space.decay_min, space.decay_max, n) if family == "wsd" else np.array([0.2])


def _grid_best(pl: Planner, goal: Goal, steps_list, n_lr=9, n_rep=6, n_decay=3):
    """Best grid point per family: {family: (score, PlanSettings)} (score NaN-aware)."""
    sp = pl.space
    lrs = _log_grid(sp.lr_min, sp.lr_max, n_lr)
    reps = _replay_grid(pl, n_rep)
    best = {}
    for fam in sp.families:
        for n in steps_list:
            for dec in _decays(sp, fam, n_decay):
                Lp, Lc = pl.evaluate(fam, int(n), dec, lrs, reps)
                sc = pl.score(goal, Lp, Lc)
                if not np.isfinite(sc).any():
                    continue
                i, k = np.unravel_index(np.nanargmin(sc), sc.shape)
                if fam not in best or sc[i, k] < best[fam][0]:
                    best[fam] = (
                        float(sc[i, k]),
                        PlanSettings(fam, float(lrs[i]), float(reps[k]), int(n), float(dec)),
                    )
    return best


# --------------------------------------------------------------------------------------------------
# refinement


def _free_settings(pl: Planner, start: PlanSettings, fix_steps: bool):
    """(names, start values, lower, upper bounds) of the settings the simplex moves: the continuous
    ones whose bounds differ (log10 peak LR, replay when modelled, log10 steps, WSD decay)."""
    sp = pl.space
    free = [("loglr", math.log10(start.peak_lr), math.log10(sp.lr_min), math.log10(sp.lr_max))]
    if pl.replay_modelled:
        free.append(("replay", start.replay, sp.replay_min, sp.replay_max))
    if not fix_steps:
        lo, hi = math.log10(sp.steps_min), math.log10(sp.steps_max)
        free.append(("logsteps", math.log10(start.steps), lo, hi))
    if start.family == "wsd":
        free.append(("decay", start.decay_fraction, sp.decay_min, sp.decay_max))
    free = [f for f in free if f[3] > f[2]]
    return tuple(list(c) for c in zip(*free, strict=True)) if free else ([], [], [], [])


def _settings_at(start: PlanSettings, names, lo, hi, x) -> PlanSettings:
    """The plan at simplex point ``x`` (clipped to the bounds); fixed settings from ``start``."""
    v = dict(zip(names, np.clip(x, lo, hi), strict=True))
    return PlanSettings(
        start.family,
        float(10 ** v["loglr"]) if "loglr" in v else start.peak_lr,
        float(v.get("replay", start.replay)),
        int(round(10 ** v["logsteps"])) if "logsteps" in v else start.steps,
        float(v.get("decay", start.decay_fraction)),
    )


def _initial_simplex(names, x0: np.ndarray, lo, hi) -> np.ndarray:
    """The start plus one step per setting (0.15 decades on log scales, 10% of the range otherwise),
    stepping inwards at an upper bound."""
    scale = [0.15 if nm in ("loglr", "logsteps") else 0.1 * (b - a)
             for nm, a, b in zip(names, lo, hi, strict=True)]  # fmt: skip
    eye = np.eye(len(x0))
    return np.array(
        [x0]
        + [np.clip(x0 + eye[i] * scale[i] * (1 if x0[i] + scale[i] <= hi[i] else -1), lo, hi)
           for i in range(len(x0))]
    )  # fmt: skip


def _refine(pl: Planner, goal: Goal, start: PlanSettings, fix_steps: bool = False):
    """Bounded Nelder-Mead from a grid point over the free continuous settings; returns the best
    *feasible* point seen (the penalty only steers the simplex)."""
    from scipy.optimize import minimize  # here: importing scipy.optimize slows the CLI's start

    names, x0, lo, hi = _free_settings(pl, start, fix_steps)
    if not names:
        return start
    best = {"score": math.inf, "s": start}

    def f(x):
        s = _settings_at(start, names, lo, hi, x)
        Lp, Lc = pl.evaluate(s.family, s.steps, s.decay_fraction, [s.peak_lr], [s.replay])
        sc = float(pl.score(goal, Lp, Lc)[0, 0])
        if math.isfinite(sc):
            if sc < best["score"]:
                best.update(score=sc, s=s)
            return sc
        # constraint violated: steer back with an exact penalty on the excess rise
        excess = float(Lp[0, 0] - pl.start_pt - goal.max_general_rise)
        base = float(pl.target(goal, Lp, Lc)[0, 0] - pl.target_start(goal))
        return base + _INFEASIBLE * max(excess, 0.0) + 1e-3

    x0 = np.array(x0)
    options = {"initial_simplex": _initial_simplex(names, x0, lo, hi), "xatol": 1e-4,
               "fatol": 1e-8, "maxfev": 400 * len(x0)}  # fmt: skip
    minimize(f, x0, method="Nelder-Mead", bounds=list(zip(lo, hi, strict=True)), options=options)
    f(x0)  # the start itself is always a candidate
    return best["s"]


# --------------------------------------------------------------------------------------------------
# the plan


def _result(
    pl: Planner,
    goal: Goal,
    s: PlanSettings | None,
    t0: float,
    notes: list[str],
    infeasible_msg: str | None = None,
) -> PlanResult:
    nan = float("nan")
    if s is None:
        return PlanResult(
            goal, pl.space, pl.pt, False, None, nan, pl.start_pt, pl.start_cpt, nan, nan,
            infeasible_msg or "No plan found.", tuple(notes), pl.n_eval, time.perf_counter() - t0,
            pl.base,
        )  # fmt: skip
    Lp, Lc = pl.settings_losses(s)
    obj = float(pl.score(goal, np.array(Lp), np.array(Lc)))
    res = PlanResult(
        goal, pl.space, pl.pt, True, s, obj, pl.start_pt, pl.start_cpt, Lp, Lc, "", tuple(notes),
        pl.n_eval, time.perf_counter() - t0, pl.base,
    )  # fmt: skip
    return replace(res, summary=summarize(res))


def plan(
    ps: ParamSet,
    goal: Goal,
    space: SearchSpace | None = None,
    pt: ScheduleSpec | None = None,
    planner: Planner | None = None,
) -> PlanResult:
    """The recommended CPT settings for ``goal`` within ``space``, given the PT schedule ``pt``
    (default: the paper's Fig. 3 pre-training). Deterministic; never raises on infeasibility."""
    t0 = time.perf_counter()
    goal = goal.validated()
    pl = planner or Planner(ps, pt or default_pt(), space)
    notes = plan_notes(pl, goal)
    if goal.mode == "domain_target":
        return _plan_fewest_steps(pl, goal, t0, notes)
    best = _grid_best(pl, goal, _steps_grid(pl.space, 6))
    if not best:
        # max_general_rise with every grid point violating it: report the smallest reachable rise
        least = min_general_rise(pl)
        msg = (
            f"Infeasible: no plan in the search space keeps the general loss rise within "
            f"{goal.max_general_rise:+.4f}; the smallest predicted change is {least[0]:+.4f} "
            f"({describe(least[1])}). Allow a larger rise, fewer steps or a lower peak LR."
        )
        return _result(pl, goal, None, t0, notes, msg)
    cands = []
    for _fam, (_sc, s0) in best.items():
        s = _refine(pl, goal, s0)
        Lp, Lc = pl.settings_losses(s)
        sc = float(pl.score(goal, np.array(Lp), np.array(Lc)))
        if math.isfinite(sc):
            cands.append((sc, list(pl.space.families).index(s.family), s))
    cands.sort(key=lambda c: (c[0], c[1]))
    return _result(pl, goal, cands[0][2], t0, notes)


def min_general_rise(pl: Planner) -> tuple[float, PlanSettings]:
    """The smallest predicted change of the general loss in the search space (grid + refine)."""
    g = Goal(1.0)
    best = _grid_best(pl, g, _steps_grid(pl.space, 6))
    sc, s = min(((v[0], _refine(pl, g, v[1])) for v in best.values()), key=lambda c: c[0])
    Lp, _ = pl.settings_losses(s)
    return Lp - pl.start_pt, s


def default_domain_target(pl: Planner, ood_weights: tuple[float, float] | None = None) -> float:
    """A domain-loss target worth planning for (mode ``domain_target``): halfway between the lowest
    final loss the search space reaches in its fewest steps and in its most. Its fewest steps then
    lie inside the step range - a trade-off to show - where a target a little below the starting
    loss is reached at CPT step 1 and the answer is just the smallest step count. ``ood_weights``:
    the target is the Eq. 6 out-of-domain loss."""
    g = Goal(0.5, "domain_target", domain_target=1.0, ood_weights=ood_weights)
    short = _best_at_steps(pl, g, pl.space.steps_min)[0]
    long = _best_at_steps(pl, g, pl.space.steps_max)[0]
    return long + 0.5 * max(short - long, 0.0)


def _best_at_steps(pl: Planner, goal: Goal, n: int) -> tuple[float, PlanSettings]:
    """Lowest final target loss reachable in exactly ``n`` CPT steps."""
    best = _grid_best(pl, goal, [n], n_lr=7, n_rep=5, n_decay=3)
    cands = [_refine(pl, goal, s0, fix_steps=True) for _sc, s0 in best.values()]
    out = []
    for s in cands:
        Lp, Lc = pl.settings_losses(s)
        out.append((float(pl.target(goal, np.array(Lp), np.array(Lc))), s))
    return min(out, key=lambda c: c[0])


def _least_rise_at_steps(
    pl: Planner, goal: Goal, n: int, hit: PlanSettings, n_lr=15, n_rep=11, n_decay=3
) -> PlanSettings:
    """Among the settings that reach the target in ``n`` CPT steps (a grid, and ``hit``), the one
    whose general loss rises least, then the lowest final target loss (ties of the fewest steps)."""
    y, sp = goal.domain_target, pl.space
    lrs, reps = _log_grid(sp.lr_min, sp.lr_max, n_lr), _replay_grid(pl, n_rep)
    Lp, Lc = pl.settings_losses(hit)
    best = ((Lp, float(pl.target(goal, Lp, Lc))), hit)
    for fam in sp.families:
        for dec in _decays(sp, fam, n_decay):
            Lp, Lc = pl.evaluate(fam, int(n), dec, lrs, reps)
            t = pl.target(goal, Lp, Lc)
            key = np.where(t <= y, Lp, np.inf)
            if not np.isfinite(key).any():
                continue
            i, k = np.unravel_index(np.lexsort((t.ravel(), key.ravel()))[0], key.shape)
            if (key[i, k], t[i, k]) < best[0]:
                s = PlanSettings(fam, float(lrs[i]), float(reps[k]), int(n), float(dec))
                best = ((float(key[i, k]), float(t[i, k])), s)
    return best[1]


def _reached_at(pl: Planner, goal: Goal, r: PlanResult) -> int | None:
    """The first CPT step at which the plan's predicted target loss is at or below the target
    (the law at every step; no terms or hidden curves)."""
    _, T, _, preds, _ = predicted(pl.ps, r.scenario())
    t = pl.target(goal, preds["pt"][T:], preds["cpt"][T:])
    idx = np.flatnonzero(np.asarray(t) <= goal.domain_target)
    return int(idx[0]) if idx.size else None


def _plan_fewest_steps(pl: Planner, goal: Goal, t0: float, notes: list[str]) -> PlanResult:
    """Fewest CPT steps whose best plan reaches the target loss: scan a log grid of steps, then
    bisect between the last miss and the first hit (assumes the reachable loss falls with steps)."""
    y = goal.domain_target
    start = float(pl.target(goal, np.array(pl.start_pt), np.array(pl.start_cpt)))
    if start <= y:  # reached before CPT: any plan would do, so none is recommended
        msg = (
            f"Nothing to plan: the {goal.target_name} is predicted at {start:.4f} at the transfer "
            f"point, already at or below the target {y:.4f}. Give a target below {start:.4f}."
        )
        return _result(pl, goal, None, t0, notes, msg)
    grid = _steps_grid(pl.space, 10)
    prev = None
    for n in grid:
        val, s = _best_at_steps(pl, goal, int(n))
        if val <= y:
            lo, hi, hit = (prev if prev is not None else int(n)), int(n), s
            while hi - lo > max(1, int(0.005 * hi)):
                mid = (lo + hi) // 2
                v, sm = _best_at_steps(pl, goal, mid)
                if v <= y:
                    hi, hit = mid, sm
                else:
                    lo = mid
            hit = _least_rise_at_steps(pl, goal, hi, hit)
            res = _result(pl, goal, hit, t0, notes)
            res = replace(res, reached_at=_reached_at(pl, goal, res))
            return replace(res, summary=summarize(res))
        prev = int(n)
    msg = (
        f"Infeasible: the {goal.target_name} cannot reach {y:.4f} within {pl.space.steps_max:,} "
        f"CPT steps; the lowest predicted is {val:.4f} ({describe(s)}), starting from "
        f"{pl.target_start(goal):.4f}. Allow more steps, a higher peak LR, or aim higher."
    )
    return _result(pl, goal, None, t0, notes, msg)


# --------------------------------------------------------------------------------------------------
# maps and frontier


def objective_map(
    pl: Planner, goal: Goal, s: PlanSettings, x: str = "replay", n_lr: int = 40, n_x: int = 30
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x values, peak LRs, score[len(lrs), len(x)]) around the plan ``s``: x = 'replay' (steps,
    family and decay held at ``s``) or 'steps' (replay held). NaN marks violated constraints; in
    'domain_target' mode the map shows the final target loss."""
    sp = pl.space
    lrs = _log_grid(sp.lr_min, sp.lr_max, n_lr)
    if x == "replay":
        xs = _lin_grid(sp.replay_min, sp.replay_max, n_x)
        Lp, Lc = pl.evaluate(s.family, s.steps, s.decay_fraction, lrs, xs)
        Z = _map_value(pl, goal, Lp, Lc)
    elif x == "steps":
        xs = _steps_grid(sp, n_x)
        Z = np.empty((lrs.size, xs.size))
        for k, n in enumerate(xs):
            Lp, Lc = pl.evaluate(s.family, int(n), s.decay_fraction, lrs, [s.replay])
            Z[:, k] = _map_value(pl, goal, Lp, Lc)[:, 0]
    else:
        raise ValueError(f"x must be 'replay' or 'steps', not {x!r}")
    return xs, lrs, Z


def _map_value(pl: Planner, goal: Goal, Lp, Lc):
    if goal.mode == "domain_target":
        return pl.target(goal, Lp, Lc)
    return pl.score(goal, Lp, Lc)


def pareto_frontier(
    pl: Planner, n_lr: int = 12, n_rep: int = 6, n_steps: int = 8, n_decay: int = 3
) -> pd.DataFrame:
    """Grid over the search space with final losses; column ``pareto`` marks the non-dominated
    points (lower general AND lower domain loss is better), sorted by loss_pt."""
    sp = pl.space
    lrs = _log_grid(sp.lr_min, sp.lr_max, n_lr)
    reps = _replay_grid(pl, n_rep)
    rows = []
    for fam in sp.families:
        for n in _steps_grid(sp, n_steps):
            for dec in _decays(sp, fam, n_decay):
                Lp, Lc = pl.evaluate(fam, int(n), dec, lrs, reps)
                L, R = np.meshgrid(lrs, reps, indexing="ij")
                rows.append(
                    pd.DataFrame(
                        {
                            "family": fam,
                            "peak_lr": L.ravel(),
                            "replay": R.ravel(),
                            "steps": int(n),
                            "decay_fraction": float(dec) if fam == "wsd" else np.nan,
                            "loss_pt": Lp.ravel(),
                            "loss_cpt": Lc.ravel(),
                        }
                    )
                )
    df = pd.concat(rows, ignore_index=True)
    df["delta_pt"] = df["loss_pt"] - pl.start_pt
    df["delta_cpt"] = df["loss_cpt"] - pl.start_cpt
    df = df.sort_values(["loss_pt", "loss_cpt"], kind="mergesort").reset_index(drop=True)
    c = df["loss_cpt"].to_numpy()
    prev_min = np.concatenate([[np.inf], np.minimum.accumulate(c)[:-1]])
    df["pareto"] = c < prev_min - 1e-12
    return df
