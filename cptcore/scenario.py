"""A what-if scenario: a PT schedule, a CPT schedule and a replay ratio, run through a parameter set.

This is what the Explore, Learn and Plan pages draw: predicted general (D_pt) and domain (D_cpt)
loss per step, the two hidden curves, the term decomposition, uncertainty bands, critical point and
turning length. Pure numpy, O(n) in the number of steps.

A page reads its controls, calls ``view(params, whatif)`` (simulate -> thin -> band: a few thousand
points per curve, cheap to cache) and draws the result with ``plots.scenario_figure``. ``simulate``
keeps every step of every curve (the report and the planner use it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cptcore.areas import Areas, compute_areas
from cptcore.decimate import decimate
from cptcore.envelope import band_useful, implausible, outside, setting_of_lr, widening
from cptcore.errors import InputError
from cptcore.fit import prediction_band
from cptcore.law import (
    LawParams,
    Terms,
    critical_point,
    predict,
    predict_sets,
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
    critical_point: float | None  # on the general set (paper Fig. 7c); None when not identified
    outside: tuple = ()  # cptcore.envelope.Outside: how this scenario leaves the fitted envelope
    base: str | None = None  # the open base model CPT starts from (paper §6), if any
    S1pt: dict = field(default_factory=dict)  # target -> that base's fitted S1pt
    laws: dict = field(default_factory=dict)  # target -> the law's form (law.FORMS): term names
    critical_note: str = ""  # why there is no critical point (``critical``), in words

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
    widen = widening(reasons)
    curves = {}
    for target, fit in ps.fits.items():
        p = fit.params
        tm = terms(p, a, sc.replay, target, S1pt.get(target))
        pred = tm.total
        band = (
            prediction_band(fit, a, sc.replay, S1pt.get(target), widen=widen, base_model=sc.base)
            if bands and has_band(fit) and band_useful(widen)
            else None
        )
        curves[target] = TargetCurves(
            target,
            pred,
            *hidden_curves(p, tm, sc.replay, target, a.cpt_peak()),
            tm,
            band,
            turning_length(pred, transfer),
            transfer,
        )
    crit, crit_note = critical(ps, sc.replay, a.cpt_peak())
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
        {t: f.params.law for t, f in ps.fits.items()},
        crit_note,
    )


def critical(ps: ParamSet, replay: float, peak: float | None = None) -> tuple[float | None, str]:
    """(the critical point L0 + B on the general set (paper §4.3, Fig. 7c), ""), or (None, why
    not) when the fit does not pin down the general set's L0 (``FitResult.floor_problem``) or has
    no general set: a critical point quoted from an L0 at its bound means nothing. ``peak``: the
    CPT peak LR (the peak forms' shift limit depends on it)."""
    fit = ps.fits.get("pt")
    if fit is None:
        return None, ""
    problem = fit.floor_problem()
    if problem:
        return None, problem
    return critical_point(fit.params, replay, peak), ""


def has_band(fit) -> bool:
    """Whether a fit can draw a band: a calibration (measured) or a covariance (parameters only)."""
    return fit.calibration is not None or fit.cov is not None


def hidden_curves(
    p: LawParams, tm: Terms, replay: float, target: str, peak: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The hidden curves (continue PT on D_pt; trained on D_cpt) from terms already computed: the
    same sums as ``law.hidden_pt_curve`` / ``hidden_cpt_curve`` without evaluating the law again.
    ``peak``: the CPT peak LR (the peak forms' shift limit depends on it)."""
    hidden = tm.L0 + tm.power + tm.anneal_pt + tm.anneal_cpt
    return hidden, hidden + p.B * shift_limit(p, replay, target, peak)


@dataclass(frozen=True, eq=False)
class ScenarioView:
    """A simulated scenario thinned to at most ~``max_points`` points per curve, plus its numbers."""

    steps: np.ndarray
    lr: np.ndarray
    transfer_step: int
    cpt_steps: int
    pred: dict  # target -> loss per kept step
    hidden_pt: dict
    hidden_cpt: dict
    terms: dict  # target -> {"power", "anneal", "shift"} -> array
    band: dict  # target -> (lower, upper) or None
    start: dict  # target -> loss at the transfer point
    delta: dict  # target -> end of CPT minus transfer point
    turning_length: int | None  # general set, CPT steps (0: never rose; law.turning_length)
    critical_point: float | None
    loss_potential: float
    label: str = ""
    outside: tuple = ()  # cptcore.envelope.Outside: where the scenario leaves the fitted range
    widen: float = 1.0  # the band's widening for it
    implausible: tuple = ()  # cptcore.envelope.Implausible: CPT-phase losses no run could reach
    laws: dict = field(default_factory=dict)  # target -> the law's form (law.FORMS): term names
    critical_note: str = ""  # why there is no critical point (``critical``), in words

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.pred)

    @property
    def band_useful(self) -> bool:
        """False when the scenario is so far outside the fitted runs that no band is drawn
        (``envelope.band_useful``)."""
        return band_useful(self.widen)

    def with_label(self, label: str) -> ScenarioView:
        return ScenarioView(**{**self.__dict__, "label": label})


def _keep(
    steps: np.ndarray, lr: np.ndarray, preds: dict, transfer: int, max_points: int, cpt_share: float
) -> np.ndarray:
    """Indices of the steps a chart of the scenario keeps (``decimate``: LR corners, the losses'
    extrema, the transfer point), with ``cpt_share`` of the budget spent evenly on the CPT window
    (the CPT steps and as many PT steps before them)."""
    n, t0 = len(steps), int(transfer)
    keep = [t0, t0 + 1]
    if cpt_share > 0 and n > max_points:
        lo = max(0, t0 - (n - 1 - t0))
        keep += np.linspace(lo, n - 1, int(cpt_share * max_points)).round().astype(int).tolist()
    return decimate(steps, lr, *preds.values(), max_points=max_points, keep=tuple(keep))


def predicted(ps: ParamSet, sc: Scenario) -> tuple:
    """(lr, transfer step, areas, {target: loss at every step}, {target: base S1pt}) of a
    scenario: the law alone (no terms, hidden curves or band), on an open base model with its
    fitted S1pt (paper §6)."""
    lr, transfer, a = lr_and_areas(sc, ps.lam, ps.s2_form, ps.eps)
    S1pt = base_S1pt(ps, sc)  # an open base model's fitted S1pt, else empty
    if sc.base is None:
        preds = predict_sets({t: f.params for t, f in ps.fits.items()}, a, sc.replay)
    else:
        preds = {t: predict(f.params, a, sc.replay, t, S1pt.get(t)) for t, f in ps.fits.items()}
    return lr, transfer, a, preds, S1pt


def view(
    ps: ParamSet,
    scenario,
    max_points: int = 2000,
    *,
    label: str = "",
    cpt_share: float = 0.0,
    bands: bool = True,
) -> ScenarioView:
    """What a page draws for ``scenario`` (a ``Scenario`` or a ``whatif.WhatIf``) with ``ps``:
    simulate -> thin -> band in one call.

    The predicted loss is evaluated at every step (``law.predict_sets``: the thinning keeps its
    extrema, the turning length needs every step); the terms, the hidden curves and the band only
    at the kept points (O(points)). The same numbers as ``scenario_view(simulate(ps, sc), ps=ps)``
    (tests/app/test_plot_helpers.py) at a fraction of the cost for long schedules. ``bands=False``:
    no band (e.g. the scenario a plan is compared with)."""
    sc = scenario if isinstance(scenario, Scenario) else scenario.scenario()
    lr, transfer, a, preds, S1pt = predicted(ps, sc)
    known = sc.base is None
    reasons = tuple(outside(ps.envelope, setting_of_lr(lr, transfer, sc.replay, known)))
    steps = np.arange(len(lr))
    idx = _keep(steps, lr, preds, transfer, max_points, cpt_share)
    kept = a.at(steps[idx])
    widen = widening(reasons)
    cpt = slice(transfer + 1, None)  # the CPT phase (a PT warm-up is the power term's pole)
    odd = implausible(ps.envelope, steps[cpt], {t: y[cpt] for t, y in preds.items()})
    crit, crit_note = critical(ps, sc.replay, a.cpt_peak())
    hp, hc, tm, band = {}, {}, {}, {}
    for t, fit in ps.fits.items():
        p = fit.params
        tt = terms(p, kept, sc.replay, t, S1pt.get(t))
        hp[t], hc[t] = hidden_curves(p, tt, sc.replay, t, a.cpt_peak())
        tm[t] = _term_panel(tt)
        band[t] = (
            prediction_band(
                fit, kept, sc.replay, S1pt.get(t), widen=widen, base_model=sc.base
            )
            if bands and has_band(fit) and band_useful(widen)
            else None
        )
    return ScenarioView(
        steps=steps[idx],
        lr=lr[idx],
        transfer_step=int(transfer),
        cpt_steps=int(len(lr) - 1 - transfer),
        pred={t: y[idx] for t, y in preds.items()},
        hidden_pt=hp,
        hidden_cpt=hc,
        terms=tm,
        band=band,
        start={t: float(y[transfer]) for t, y in preds.items()},
        delta={t: float(y[-1] - y[transfer]) for t, y in preds.items()},
        turning_length=turning_length(preds["pt"], transfer) if "pt" in preds else None,
        critical_point=crit,
        loss_potential=loss_potential(lr[1 : transfer + 1]) if known else 0.0,  # §6: annealed
        label=label,
        outside=reasons,
        widen=widen,
        implausible=tuple(odd),
        laws={t: f.params.law for t, f in ps.fits.items()},
        critical_note=crit_note,
    )


def _term_panel(tm: Terms) -> dict:
    """The three terms a chart's decomposition panel shows (the two annealing terms summed)."""
    return {
        "power": np.asarray(tm.power),
        "anneal": np.asarray(tm.anneal_pt) + np.asarray(tm.anneal_cpt),
        "shift": np.asarray(tm.shift),
    }


def scenario_view(
    curves: ScenarioCurves,
    max_points: int = 2000,
    label: str = "",
    ps: ParamSet | None = None,
    replay: float = 0.0,
    cpt_share: float = 0.0,
) -> ScenarioView:
    """Thin a simulated scenario for plotting (``decimate`` keeps LR corners and loss extrema).

    ``cpt_share``: the share of ``max_points`` spent evenly on the CPT window ("Zoom to the CPT
    phase": the CPT steps and as many PT steps before them), the rest on the whole run, so the
    zoomed view stays smooth with fewer points in all.

    With ``ps``, uncertainty bands come from its fits' covariances at the kept steps only: the same
    band as ``simulate(..., bands=True)`` at a fraction of the cost (O(points x parameters))."""
    tgts = tuple(curves.curves)
    preds = {t: curves.curves[t].pred for t in tgts}
    idx = _keep(curves.steps, curves.lr, preds, curves.transfer_step, max_points, cpt_share)
    pick = {}
    hp, hc, tm, band, start, delta = {}, {}, {}, {}, {}, {}
    for t in tgts:
        c = curves.curves[t]
        pick[t] = c.pred[idx]
        hp[t] = c.hidden_pt[idx]
        hc[t] = c.hidden_cpt[idx]
        tm[t] = {k: v[idx] for k, v in _term_panel(c.terms).items()}
        fit = ps.fits.get(t) if ps is not None else None
        if not band_useful(curves.widen):
            band[t] = None
        elif fit is not None and has_band(fit):
            a = curves.areas.at(curves.steps[idx])
            S1pt, bm = curves.S1pt.get(t), curves.base  # an open base model's fitted S1pt
            band[t] = prediction_band(fit, a, replay, S1pt, widen=curves.widen, base_model=bm)
        else:
            band[t] = (c.band[0][idx], c.band[1][idx]) if c.band is not None else None
        start[t] = c.start
        delta[t] = curves.delta(t)
    tl = curves.curves["pt"].turning_length if "pt" in curves.curves else None
    return ScenarioView(
        steps=curves.steps[idx],
        lr=curves.lr[idx],
        transfer_step=int(curves.transfer_step),
        cpt_steps=int(len(curves.steps) - 1 - curves.transfer_step),
        pred=pick,
        hidden_pt=hp,
        hidden_cpt=hc,
        terms=tm,
        band=band,
        start=start,
        delta=delta,
        turning_length=tl,
        critical_point=curves.critical_point,
        loss_potential=float(curves.loss_potential),
        label=label,
        outside=tuple(curves.outside),
        widen=curves.widen,
        laws=dict(curves.laws),
        critical_note=curves.critical_note,
    )
