"""A what-if scenario: a PT schedule, a CPT schedule and a replay ratio, run through a parameter set.

This is what the Explore, Learn and Plan pages draw: predicted general (D_pt) and domain (D_cpt)
loss per step, the two hidden curves, the term decomposition, uncertainty bands, critical point and
turning length. Pure numpy, O(n) in the number of steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cptcore.areas import Areas, compute_areas
from cptcore.envelope import outside, setting_of_lr, widening
from cptcore.errors import InputError
from cptcore.fit import prediction_band
from cptcore.law import (
    Terms,
    critical_point,
    shift_limit,
    terms,
    turning_length,
)
from cptcore.params_io import ParamSet
from cptcore.schedules import ScheduleSpec, concatenate, loss_potential, segment


@dataclass(frozen=True)
class Scenario:
    """A PT and a CPT schedule and a replay ratio; with ``base`` (a fitted open base model of the
    parameter set, paper §6) the PT part is that model's: ``pt`` is ignored, step 0 is the base
    model (assumed annealed to LR 0) and its fitted S1pt stands for the PT forward area."""

    pt: ScheduleSpec
    cpt: ScheduleSpec
    replay: float = 0.0
    base: str | None = None


@dataclass(frozen=True, eq=False)
class TargetCurves:
    """Predictions on one validation set ('pt' general, 'cpt' domain), index = step."""

    target: str
    pred: np.ndarray
    hidden_pt: np.ndarray  # continue PT on D_pt with the CPT schedule
    hidden_cpt: np.ndarray  # trained on D_cpt (shift saturated)
    terms: Terms
    band: tuple[np.ndarray, np.ndarray] | None
    turning_length: int | None  # CPT steps back to the transfer value (0: never rose, None: not back)
    transfer_step: int = 0

    @property
    def start(self) -> float:
        """Predicted loss of the PT model (at the transfer point)."""
        return float(self.pred[self.transfer_step])


@dataclass(frozen=True, eq=False)
class ScenarioCurves:
    steps: np.ndarray
    lr: np.ndarray
    transfer_step: int
    areas: Areas
    curves: dict  # target -> TargetCurves
    loss_potential: float
    critical_point: float | None  # on the general set (paper Fig. 7c)
    outside: tuple = ()  # cptcore.envelope.Outside: how this scenario leaves the fitted envelope
    base: str | None = None  # the open base model CPT starts from (paper §6), if any
    S1pt: dict = field(default_factory=dict)  # target -> that base's fitted S1pt

    @property
    def widen(self) -> float:
        """Factor on the band's half-width for leaving the fitted envelope (1 inside)."""
        return widening(self.outside)

    def final(self, target: str) -> float:
        return float(self.curves[target].pred[-1])

    def delta(self, target: str) -> float:
        """Signed change of the loss from the transfer point to the end of CPT."""
        c = self.curves[target].pred
        return float(c[-1] - c[self.transfer_step])


def lr_and_areas(
    sc: Scenario, lam: float, s2_form: str = "paper", eps: float = 0.1
) -> tuple[np.ndarray, int, Areas]:
    if sc.base is not None:  # CPT from an open base model: every step is CPT (paper §6)
        lr = np.concatenate([np.zeros(1), segment(sc.cpt)])
        a = compute_areas(lr, 0, lam=lam, pt_history_known=False, s2_form=s2_form, eps=eps)
        return lr, 0, a
    lr, transfer = concatenate(sc.pt, sc.cpt)
    return lr, transfer, compute_areas(lr, transfer, lam=lam, s2_form=s2_form, eps=eps)


def base_S1pt(ps: ParamSet, sc: Scenario) -> dict:
    """target -> the fitted S1pt of the scenario's base model (empty without a base);
    ``InputError`` when the parameter set has not fitted that base."""
    if sc.base is None:
        return {}
    got = {t: f.S1pt.get(sc.base) for t, f in ps.fits.items()}
    if any(v is None for v in got.values()):
        fitted = ", ".join(sorted({nm for f in ps.fits.values() for nm in f.S1pt})) or "none"
        raise InputError(
            f"the base model '{sc.base}' was not fitted in this parameter set",
            source=ps.source or None,
            column="base",
            received=sc.base,
            fix=f"Choose a fitted base ({fitted}), or fit CPT-only runs from this base",
        )
    return got


def simulate(ps: ParamSet, sc: Scenario, bands: bool = True) -> ScenarioCurves:
    """Predict both validation sets for a scenario (paper Eq. 4/8 with the scenario's areas)."""
    lr, transfer, a = lr_and_areas(sc, ps.lam, ps.s2_form, ps.eps)
    S1pt = base_S1pt(ps, sc)
    known = sc.base is None
    reasons = tuple(outside(ps.envelope, setting_of_lr(lr, transfer, sc.replay, known)))
    curves = {}
    for target, fit in ps.fits.items():
        p = fit.params
        tm = terms(p, a, sc.replay, target, S1pt.get(target))
        pred = tm.total
        band = (
            prediction_band(
                fit, a, sc.replay, S1pt.get(target), widen=widening(reasons), base_model=sc.base
            )
            if bands and has_band(fit)
            else None
        )
        curves[target] = TargetCurves(
            target,
            pred,
            # the hidden curves from the terms already computed: the same sums as
            # hidden_pt_curve / hidden_cpt_curve without evaluating the law twice more per set
            # (at 1M steps each evaluation is ~0.1 s of a slider rerun)
            (hidden := tm.L0 + tm.power + tm.anneal_pt + tm.anneal_cpt),
            hidden + p.B * shift_limit(p, sc.replay, target),
            tm,
            band,
            turning_length(pred, transfer),
            transfer,
        )
    crit = critical_point(ps.fits["pt"].params, sc.replay) if "pt" in ps.fits else None
    return ScenarioCurves(
        np.arange(len(lr)),
        lr,
        transfer,
        a,
        curves,
        loss_potential(lr[1 : transfer + 1]) if known else 0.0,  # §6: annealed to LR 0
        crit,
        reasons,
        sc.base,
        S1pt,
    )


def has_band(fit) -> bool:
    """Whether a fit can draw a band: a calibration (measured) or a covariance (parameters only)."""
    return fit.calibration is not None or fit.cov is not None
