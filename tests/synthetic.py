"""Synthetic runs generated from known law parameters (shared by the fit and CLI tests)."""

from __future__ import annotations

import numpy as np

from cptcore.areas import compute_areas
from cptcore.law import LawParams, predict
from cptcore.runs import Run
from cptcore.schedules import ScheduleSpec, concatenate

# a small-model-like setting: peak LR 1e-3, PT 3000 steps, CPT 1000 steps, eval every 25 steps
TRUE = {
    "pt": LawParams(L0=1.9, A=0.9, alpha=0.45, C1=0.35, C2=0.30, B=0.35, E=8.0, beta=0.6),
    "cpt": LawParams(L0=1.5, A=1.1, alpha=0.55, C1=0.30, C2=0.40, B=-0.9, E=40.0, beta=0.5),
}
PT_CONST = ScheduleSpec("constant", 1e-3, 3000, warmup_steps=100)
PT_WSD = ScheduleSpec("wsd", 1e-3, 3000, warmup_steps=100, decay_fraction=0.2)


def make_run(
    name, pt, cpt, replay=0.0, params=TRUE, noise=0.002, seed=0, every=25, pt_history=True
):
    lr, t = concatenate(pt, cpt)
    rng = np.random.default_rng(seed)
    steps = np.arange(len(lr))
    ev = (steps % every == 0) | (steps == t)
    ev[0] = False
    losses = {}
    if not pt_history:
        lr_c = np.r_[0.0, lr[t + 1 :]]
        a_full = compute_areas(lr, t)
        steps_c = np.arange(len(lr_c))
        ev_c = ev[t:]
        for target, p in params.items():
            y = predict(p, a_full, 0.0, target)[t:]
            losses[f"loss_{target}"] = np.where(ev_c, y + rng.normal(0, noise, len(y)), np.nan)
        return Run(name, steps_c, lr_c, np.ones(len(lr_c), bool), replay, **losses), float(
            a_full.S1pt[-1]
        )
    a = compute_areas(lr, t)
    for target, p in params.items():
        y = predict(p, a, replay, target)
        losses[f"loss_{target}"] = np.where(ev, y + rng.normal(0, noise, len(y)), np.nan)
    is_cpt = steps > t
    return Run(name, steps, lr, is_cpt, replay, **losses)


def cpt_spec(kind, peak=5e-4, steps=1000, **kw):
    return ScheduleSpec(kind, peak, steps, warmup_steps=kw.pop("warmup_steps", 50), **kw)
