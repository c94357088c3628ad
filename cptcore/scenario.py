"""A what-if scenario: a PT schedule, a CPT schedule and a replay ratio, run through a parameter set.

This is what the Explore, Learn and Plan pages draw: predicted general (D_pt) and domain (D_cpt)
loss per step, the two hidden curves, the term decomposition, uncertainty bands, critical point and
turning length. Pure numpy, O(n) in the number of steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cptcore.areas import Areas, compute_areas
from cptcore.envelope import outside, setting_of_lr, widening
from cptcore.fit import prediction_band
from cptcore.law import (
    Terms,
    critical_point,
    shift_limit,
    terms,
    turning_length,
)
from cptcore.params_io import ParamSet
from cptcore.schedules import ScheduleSpec, concatenate, loss_potential


@dataclass(frozen=True)
class Scenario:
    pt: ScheduleSpec
    cpt: ScheduleSpec
    replay: float = 0.0


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
    lr, transfer = concatenate(sc.pt, sc.cpt)
    return lr, transfer, compute_areas(lr, transfer, lam=lam, s2_form=s2_form, eps=eps)


def simulate(ps: ParamSet, sc: Scenario, bands: bool = True) -> ScenarioCurves:
    """Predict both validation sets for a scenario (paper Eq. 4/8 with the scenario's areas)."""
    lr, transfer, a = lr_and_areas(sc, ps.lam, ps.s2_form, ps.eps)
    reasons = tuple(outside(ps.envelope, setting_of_lr(lr, transfer, sc.replay)))
    curves = {}
    for target, fit in ps.fits.items():
        p = fit.params
        tm = terms(p, a, sc.replay, target)
        pred = tm.total
        band = (
            prediction_band(fit, a, sc.replay, widen=widening(reasons))
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
        loss_potential(lr[1 : transfer + 1]),
        crit,
        reasons,
    )


def has_band(fit) -> bool:
    """Whether a fit can draw a band: a calibration (measured) or a covariance (parameters only)."""
    return fit.calibration is not None or fit.cov is not None
