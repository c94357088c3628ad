"""Speed of the planner per candidate schedule (issue 13, item 3): a CPT schedule given by its corners
(warm-up, peak, decay start, final LR) evaluated without per-step arrays, next to the per-step path the
planner used before (two LR arrays per shape, the momentum weights, two dot products).

    python benchmarks/plan_speed.py [--repeat N]

A candidate is one new shape (family, steps, decay fraction) - what each Nelder-Mead step over the
step count asks for - evaluated at one peak LR and replay ratio: ``Planner.evaluate`` on an empty
shape cache. Then a whole plan with either path (``PerStepPlanner`` swaps in the baseline).
Best of N; the machine may be shared, so the ratio matters more than the microseconds.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cptcore.params_io import ParamSet  # noqa: E402
from cptcore.plan import (  # noqa: E402
    FAMILIES,
    Goal,
    Planner,
    PlanSettings,
    SearchSpace,
    default_pt,
    plan,
)
from cptcore.plan.planner import _Shape  # noqa: E402
from cptcore.presets import PAPER_FIG3  # noqa: E402
from cptcore.schedules import segment  # noqa: E402


@functools.lru_cache(maxsize=64)
def weights(n: int, lam: float) -> np.ndarray:
    """The momentum weight of each step's LR drop in S2cpt at step n (cached per n, as before)."""
    return -np.expm1(np.arange(n, 0, -1) * math.log(lam)) / (1.0 - lam)


def per_step_shape(pl: Planner, s: PlanSettings) -> tuple[float, float, float, float]:
    """The baseline: final S1cpt, S2cpt affine in the peak from per-step LR arrays (notes §1.2)."""
    one = replace(s, peak_lr=1.0).cpt_spec(pl.space, pl.eta_T)
    lr1 = segment(one)
    g = 2.0 * (lr1 - segment(replace(s, peak_lr=0.5).cpt_spec(pl.space, pl.eta_T)))
    h = lr1 - g
    n, lam = len(g), pl.lam
    w = weights(n, lam)
    dg, dh = np.empty(n), np.empty(n)
    dg[0], dh[0] = -g[0], pl.eta_T - h[0]
    dg[1:], dh[1:] = g[:-1] - g[1:], h[:-1] - h[1:]
    carry = pl.m_T * lam * -math.expm1(n * math.log(lam)) / (1.0 - lam)
    return float(g.sum()), float(h.sum()), float(dg @ w), float(dh @ w) + carry


class PerStepPlanner(Planner):
    """The planner with the per-step baseline in place of the corners (same search, same answers)."""

    def _shape(self, family: str, steps: int, decay: float) -> _Shape:
        key = (family, int(steps), round(float(decay), 4) if family == "wsd" else 0.0)
        if key not in self._shapes:
            s = PlanSettings(family, 1.0, 0.0, key[1], key[2])
            self._shapes[key] = _Shape(*per_step_shape(self, s))
        return self._shapes[key]


def best_of(fn, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=1_000_000)
    args = ap.parse_args()
    ps = ParamSet.from_params(PAPER_FIG3)
    space = SearchSpace(steps_max=2_000_000, warmup_fraction=0.01, final_lr_ratio=0.1)
    pl = Planner(ps, default_pt(), space)
    print(
        f"## Planner: µs per candidate CPT schedule of {args.steps:,} steps (best of {args.repeat})\n"
    )
    print("| family | per-step arrays (before) | corners (after) | ratio |")
    print("|---|---|---|---|")
    for fam in FAMILIES:
        s = PlanSettings(fam, 2e-4, 0.0, args.steps, 0.2)

        def after(s=s):
            pl._shapes.clear()  # a new shape each time, as in the search
            pl.evaluate(s.family, s.steps, s.decay_fraction, [s.peak_lr], [s.replay])

        def before(s=s):
            weights.cache_clear()  # a new step count each time, as in the search
            per_step_shape(pl, s)

        b, a = best_of(before, args.repeat), best_of(after, max(args.repeat, 50))
        print(f"| {fam} | {b * 1e6:,.0f} µs | {a * 1e6:,.0f} µs | {b / a:,.0f}x |")
    print(f"\n## A whole plan (balance, λ1 = 0.6, four families; best of {args.repeat})\n")
    print(
        "| CPT steps searched | per-step arrays (before) | corners (after) | ratio | same answer |"
    )
    print("|---|---|---|---|---|")
    for hi in (50_000, 1_000_000):
        sp = SearchSpace(steps_min=2_000, steps_max=hi, families=tuple(FAMILIES))
        res = {}

        def run(kind, sp=sp, res=res):
            res[kind] = plan(ps, Goal(0.6), planner=kind(ps, default_pt(), sp))

        b = best_of(lambda: run(PerStepPlanner), max(1, args.repeat // 2))
        a = best_of(lambda: run(Planner), args.repeat)
        same = res[Planner].settings == res[PerStepPlanner].settings
        print(f"| 2,000-{hi:,} | {b:.3f} s | {a:.3f} s | {b / a:,.0f}x | {same} |")


if __name__ == "__main__":
    main()
