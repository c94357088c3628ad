"""Forecast a running CPT job from its first steps (issue 15).

A base fit (``params.json``, fitted on other runs) predicts the whole run from its LR schedule. Once
the job has logged some CPT-phase losses, a few run-specific parameters are re-estimated on them with
the base fit as a prior, and the law (same form, same kernel ``law.columns``) then predicts every
row. The objective is a maximum-a-posteriori least squares in log loss:

    sum_i w_i ((log pred_i - log y_i) / sigma)^2 + strength^2 * sum_k ((theta_k - base_k) / SCALE_k)^2

sigma is the scatter of single evaluations, estimated from the observed points (``point_noise``),
so one parameter moved by its prior scale costs as much as one point off by one sd; w_i halves
every ``halflife`` of the observed window, so the forecast follows where the run is now rather than
its first, transient steps. With no observed point the forecast is the base prediction exactly.
Which parameters adapt, the strength and the half-life (``DEFAULT``, per validation set) were chosen
by a grouped backtest on the sample runs (``benchmarks/forecast.py``, README "Forecast a running
job").

Only CPT-phase losses are used: the PT phase is what the base fit already saw in most uses, and the
shift parameters (B, E) do not act there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import least_squares

from cptcore.areas import Areas, row_areas
from cptcore.envelope import implausible
from cptcore.errors import InputError
from cptcore.fit import fit_rows, prediction_band
from cptcore.law import LawParams, predict
from cptcore.markup import escape_markdown
from cptcore.params_io import ParamSet
from cptcore.runs import Run, base_of

# which parameters are re-estimated on the run (fitting space: logE is log E)
ADAPT = {
    "offset": ("L0",),
    "offset+speed": ("L0", "logE"),
    "shift": ("B", "logE"),
    "shift+offset": ("L0", "B", "logE"),
    "offset+anneal": ("L0", "C2"),
}
NOISE = 0.01  # |log error| of one evaluation when too few points to estimate it (README, "Accuracy")
# prior scales: L0 in nats, B and C2 relative to their size (plus a floor), log E in e-folds
_SCALE = {
    "L0": lambda p: 0.05,
    "beta": lambda p: 0.3 * p.beta,
    "B": lambda p: 0.3 * abs(p.B) + 0.02,
    "logE": lambda p: 1.0,
    "C2": lambda p: 0.3 * abs(p.C2) + 0.02,
}


@dataclass(frozen=True)
class Adaptation:
    """How a base fit bends to a running job: which parameters (``names``), the prior's strength,
    the per-point noise (None: estimated from the observed points' scatter, ``point_noise``), and a
    half-life (share of the observed CPT window, in summed LR) that down-weights older points."""

    names: tuple[str, ...]
    strength: float
    noise: float | None = None
    halflife: float | None = None


# chosen per validation set by the grouped backtest (benchmarks/forecast.py, README "Forecast a
# running job"): the offset and the shift's speed E, following the most recent points
DEFAULT = {
    "pt": Adaptation(ADAPT["offset+speed"], 3.0, None, 0.08),
    "cpt": Adaptation(ADAPT["offset+speed"], 1.0, None, 0.15),
}


def point_noise(log_residual: np.ndarray) -> float:
    """The scatter (sd, in log loss) of single evaluations: a robust sd of consecutive differences
    of ``log_residual`` (observed vs base prediction) over sqrt(2), so a smooth trend barely counts;
    ``NOISE`` with fewer than four points."""
    d = np.diff(np.asarray(log_residual, float))
    if len(d) < 3:
        return NOISE
    return max(1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2.0), 1e-3)


@dataclass(frozen=True, eq=False)
class TargetForecast:
    """The forecast of one validation set."""

    target: str
    params: LawParams  # the adapted parameters (the base ones when nothing was observed)
    pred: np.ndarray  # at every row of the run
    lo: np.ndarray | None
    hi: np.ndarray | None
    n_observed: int  # CPT-phase points the adaptation used
    mae_observed: float  # MAE of the forecast on those points (NaN without any)
    logged: np.ndarray | None = None  # the losses logged at CPT rows (NaN elsewhere)


@dataclass(frozen=True, eq=False)
class Forecast:
    """A forecast of every row of a running job, per validation set the parameters have."""

    step: np.ndarray
    targets: dict  # 'pt' / 'cpt' -> TargetForecast
    observed_share: float  # share of the CPT phase (in summed LR) up to the last observed loss
    last_observed_step: int | None
    observed_step_share: float = 0.0  # the same share in steps
    implausible: tuple = ()  # cptcore.envelope.Implausible: CPT-phase forecasts no run could reach



def _get(p: LawParams, name: str) -> float:
    return math.log(max(p.E, 1e-300)) if name == "logE" else float(getattr(p, name))


def _with(p: LawParams, values: dict) -> LawParams:
    kw = {
        ("E" if k == "logE" else k): (math.exp(v) if k == "logE" else v) for k, v in values.items()
    }
    return p.with_values(**kw)


def adapt(
    base: LawParams,
    areas: Areas,
    y: np.ndarray,
    replay: float,
    target: str,
    S1pt: float | None = None,
    names: tuple[str, ...] = ADAPT["offset"],
    strength: float = 10.0,
    noise: float = NOISE,
    halflife: float | None = None,
) -> LawParams:
    """The parameters ``names`` re-estimated on observed losses ``y`` at ``areas`` (rows of one run),
    with a Gaussian prior at the base values (scales ``_SCALE``, times 1/``strength``); ``noise``
    is the |log error| one point is trusted to; ``halflife`` (share of the observed CPT window in
    summed LR) down-weights older points."""
    if len(y) == 0 or not names:
        return base
    x0 = np.array([_get(base, k) for k in names])
    scale = np.array([_SCALE[k](base) for k in names]) / max(strength, 1e-12)
    logy = np.log(y)
    sw = np.ones(len(y))
    if halflife is not None:
        s = np.asarray(areas.S1cpt, float)
        sw = np.sqrt(0.5 ** ((s[-1] - s) / max(halflife * s[-1], 1e-12)))

    def residuals(theta: np.ndarray) -> np.ndarray:
        p = _with(base, dict(zip(names, theta, strict=True)))
        pred = predict(p, areas, replay, target, S1pt)
        r_data = sw * (np.log(np.maximum(pred, 1e-6)) - logy) / noise
        return np.concatenate([r_data, (theta - x0) / scale])

    r = least_squares(residuals, x0, method="trf", x_scale=scale, max_nfev=200 * len(names))
    return _with(base, dict(zip(names, r.x, strict=True)))


def _cpt_share(areas: Areas, step: int | None) -> float:
    """S1cpt at ``step`` over S1cpt at the end; ``areas`` at the run's rows (``step`` is one)."""
    total = float(areas.S1cpt[-1])
    if step is None or not total > 0:
        return 0.0
    return float(areas.S1cpt[int(np.searchsorted(areas.rows, step))]) / total


def check_forecastable(ps: ParamSet, run: Run, source: str) -> None:
    """``InputError`` when ``run`` cannot be forecast with ``ps``: no CPT rows, or observed losses on
    a validation set the parameter file has no fit for."""
    if not run.has_cpt:
        raise InputError(
            "the run has no CPT rows: nothing to forecast",
            source=source,
            column="phase",
            fix="Give the whole planned schedule, with the CPT rows marked 'cpt' (losses may be empty)",
        )
    for target in ("pt", "cpt"):
        if run.has_target(target) and target not in ps.fits:
            raise InputError(
                f"the run has loss_{target} values but the parameter file has no "
                f"{'general' if target == 'pt' else 'domain'} set ('{target}') to forecast them with",
                source=source,
                column=f"loss_{target}",
                fix="Use parameters fitted on runs with this validation set, or drop the column",
            )


def forecast_run(
    ps: ParamSet,
    run: Run,
    *,
    adaptation: Adaptation | dict | None = None,
    z: float | None = None,
    widen: float = 1.0,
    source: str | None = None,
) -> Forecast:
    """Forecast every row of ``run`` (the whole planned schedule; losses where observed so far):
    the base fit adapted to the run's observed CPT-phase losses (``adapt``; ``adaptation`` one for
    both validation sets or one per set, default ``DEFAULT``). With ``z`` a band:
    the base fit's band (calibrated by cross-validation, widened outside the fitted range by
    ``widen``) around the forecast, not narrowed: narrowing it by the share of CPT observed lost
    coverage in the backtest (README, "Forecast a running job")."""
    src = source or run.name
    check_forecastable(ps, run, src)
    # the areas at the run's rows only (per linear segment when the rows are sparse)
    areas = row_areas(run, lam=ps.lam, s2_form=ps.s2_form, eps=ps.eps)
    base_preds = ps.predict_run(run, src, areas)  # checks S1pt of CPT-only runs and plausibility
    last = None
    for target in ps.fits:
        ok = fit_rows(run, target, areas, ps.fits[target].min_step, ps.fits[target].skip_warmup)
        ok &= areas.S1cpt > 0
        if ok.any():
            last = max(last or 0, int(run.step[ok][-1]))
    share = _cpt_share(areas, last)
    out = {}
    for target, f in ps.fits.items():
        S1pt = f.S1pt_for(run)
        ok = fit_rows(run, target, areas, f.min_step, f.skip_warmup) & (areas.S1cpt > 0)
        y = run.loss(target)[ok]
        how = _adaptation_of(adaptation, target)
        noise = how.noise
        if noise is None:
            noise = point_noise(np.log(y) - np.log(base_preds[target][ok])) if ok.any() else NOISE
        p = adapt(
            f.params,
            areas.select(ok),
            y,
            run.replay,
            target,
            S1pt,
            how.names,
            how.strength,
            noise,
            how.halflife,
        )
        pred = base_preds[target] if p is f.params else predict(p, areas, run.replay, target, S1pt)
        mae = float(np.mean(np.abs(pred[ok] - y))) if ok.any() else float("nan")
        lo = hi = None
        if z is not None:
            bm = base_of(run) if S1pt is not None else None  # the base's own S1pt uncertainty
            lo, hi = prediction_band(replace(f, params=p), areas, run.replay, S1pt, z, widen, bm)
        logged = np.where(run.is_cpt, run.loss(target), np.nan)
        out[target] = TargetForecast(target, p, pred, lo, hi, int(ok.sum()), mae, logged)
    cpt = run.is_cpt  # the forecast's part; against the fitted runs' losses and the run's own
    preds = {t: tf.pred[cpt] for t, tf in out.items()}
    odd = implausible(ps.envelope, run.step[cpt], preds, {t: run.loss(t) for t in out})
    return Forecast(run.step, out, share, last, _step_share(run, last), tuple(odd))


def _step_share(run: Run, last: int | None) -> float:
    """Share of the CPT phase's steps up to ``last`` (0 when nothing was observed)."""
    if last is None:
        return 0.0
    t0 = run.transfer_step  # the first row of a CPT-only run
    return float(np.clip((last - t0) / max(run.last_step - t0, 1), 0.0, 1.0))


def _adaptation_of(adaptation: Adaptation | dict | None, target: str) -> Adaptation:
    if adaptation is None:
        return DEFAULT[target]
    return adaptation if isinstance(adaptation, Adaptation) else adaptation[target]


def adaptation_with(names: tuple[str, ...] | None = None, strength: float | None = None) -> dict:
    """``DEFAULT`` per validation set with the parameters and/or the prior strength replaced (the
    CLI's ``--adapt`` / ``--prior-strength``)."""
    out = {}
    for target, how in DEFAULT.items():
        kw = {k: v for k, v in (("names", names), ("strength", strength)) if v is not None}
        out[target] = replace(how, **kw)
    return out


def step_reaching(
    step: np.ndarray, loss: np.ndarray, target: float, after: int | None = None
) -> int | None:
    """The first step (after ``after``) at which ``loss`` is at or below ``target``; None if never
    within the planned schedule."""
    ok = np.isfinite(loss) & (loss <= target)
    if after is not None:
        ok &= step > after
    return int(step[np.argmax(ok)]) if ok.any() else None


def step_staying(
    step: np.ndarray, loss: np.ndarray, target: float, after: int | None = None
) -> int | None:
    """The first step (after ``after``) from which ``loss`` stays at or below ``target`` to the end
    of the schedule; None if it ends above it (a widening band can dip below and rise again)."""
    keep = np.ones(len(step), bool) if after is None else step > after
    s, y = step[keep], loss[keep]
    if len(y) == 0 or not (np.isfinite(y[-1]) and y[-1] <= target):
        return None
    above = ~(np.isfinite(y) & (y <= target))
    return int(s[len(y) - np.argmax(above[::-1])]) if above.any() else int(s[0])


@dataclass(frozen=True)
class Reach:
    """When the domain loss reaches a target: ``step`` (None: not within the planned schedule);
    ``logged``: at a logged step, the first one at or below it (then no band); ``earliest`` the
    first step the band's lower edge reaches it, ``latest`` the step from which its upper edge stays
    at or below it (None: not within the schedule, or no band)."""

    step: int | None
    logged: bool = False
    earliest: int | None = None
    latest: int | None = None


def target_reach(fc: Forecast, target_loss: float) -> Reach:
    """When the domain loss reaches ``target_loss``: at the first logged CPT step at or below it
    (already reached); else at the first forecast step after the last logged one, with the steps its
    band gives; else not within the planned schedule."""
    tf = fc.targets["cpt"]
    logged = tf.logged if tf.logged is not None else np.full(len(fc.step), np.nan)
    seen = step_reaching(fc.step, logged, target_loss)
    if seen is not None:
        return Reach(seen, logged=True)
    has_log = np.isfinite(logged)
    after = int(fc.step[has_log][-1]) if has_log.any() else fc.last_observed_step
    at = step_reaching(fc.step, tf.pred, target_loss, after)
    if tf.lo is None:
        return Reach(at)
    early = step_reaching(fc.step, tf.lo, target_loss, after)
    return Reach(at, False, early, step_staying(fc.step, tf.hi, target_loss, after))


def target_sentence(fc: Forecast, target_loss: float, level: float | None = None) -> str:
    """When the domain loss reaches ``target_loss`` (``target_reach``): already at a logged step,
    or expected at a forecast one with the range its band gives, or not within the schedule."""
    r = target_reach(fc, target_loss)
    if r.logged:
        return f"Already reached the domain loss {target_loss:.3f} at step {r.step:,} (logged)."
    band = ""
    if level is not None and r.earliest is not None:
        end = f"step {r.latest:,}" if r.latest is not None else "after the end of the schedule"
        band = f" ({level:.0%} band: step {r.earliest:,} to {end})"
    if r.step is not None:
        return f"Expected to reach the domain loss {target_loss:.3f} at step {r.step:,}{band}."
    return f"The domain loss {target_loss:.3f} is not reached within the planned schedule{band}."


def forecast_markdown(
    fc: Forecast,
    run_name: str,
    level: float | None = None,
    target_loss: float | None = None,
    warnings: Sequence[str] = (),
) -> str:
    """A short Markdown summary of a forecast: ``warnings`` (e.g. outside the fitted range) and
    the forecast's implausible losses first, observed share, final losses with their band (an
    implausible one marked so), the fit on the observed points and, with ``target_loss``, when the
    domain loss reaches it."""
    last = len(fc.step) - 1
    lines = [f"**Forecast of {escape_markdown(run_name)}**", ""]
    notes = [*warnings, *(odd.sentence for odd in fc.implausible)]
    lines += [f"- **Warning:** {escape_markdown(w)}" for w in notes]
    lines += [""] if notes else []
    untrusted = {odd.target for odd in fc.implausible}
    if fc.last_observed_step is None:
        lines.append("No CPT-phase loss observed yet: this is the base prediction.")
    else:
        lines.append(
            f"Observed up to step {fc.last_observed_step:,} "
            f"({fc.observed_step_share:.0%} of the CPT steps, "
            f"{fc.observed_share:.0%} of its summed LR)."
        )
    lines += [
        "",
        f"| validation set | final loss (step {int(fc.step[last]):,}) | band | MAE on observed |",
        "|---|---|---|---|",
    ]
    for target, tf in fc.targets.items():
        band = (
            f"{tf.lo[last]:.4f} to {tf.hi[last]:.4f} ({level:.0%})"
            if tf.lo is not None and level is not None
            else "-"
        )
        mae = f"{tf.mae_observed:.4f} ({tf.n_observed} points)" if tf.n_observed else "-"
        name = "general (loss_pt)" if target == "pt" else "domain (loss_cpt)"
        final = f"{tf.pred[last]:.4f}"
        final = f"not plausible ({final})" if target in untrusted else final
        lines.append(f"| {name} | {final} | {band} | {mae} |")
    if target_loss is not None and "cpt" in fc.targets:
        lines += ["", target_sentence(fc, target_loss, level)]
    return "\n".join(lines) + "\n"


def with_planned_schedule(run: Run, lr: np.ndarray, transfer: int | None = None) -> Run:
    """``run`` continued with a row at every step after its last one to the end of the planned
    schedule ``lr`` (LR indexed by step; ``transfer``: the last PT step, None for CPT only), losses
    empty: a running job's log holds its LR only up to now, the forecast needs the rest."""
    last = run.last_step
    if last >= len(lr) - 1:
        return run
    new = np.arange(last + 1, len(lr), dtype=run.step.dtype)
    cpt = np.ones(len(new), bool) if transfer is None else new > transfer
    nan = np.full(len(new), np.nan)
    return replace(
        run,
        step=np.concatenate([run.step, new]),
        lr=np.concatenate([run.lr, lr[new]]),
        is_cpt=np.concatenate([run.is_cpt, cpt]),
        loss_pt=np.concatenate([run.loss_pt, nan]),
        loss_cpt=np.concatenate([run.loss_cpt, nan]),
    )


def cut_run(run: Run, fraction: float) -> Run:
    """``run`` with its losses removed after ``fraction`` of its CPT phase (in steps): what a job
    that far along has logged. The schedule is kept whole."""
    if not run.has_cpt:
        raise InputError("the run has no CPT rows to cut", source=run.name, column="phase")
    t0 = run.transfer_step  # the first row of a CPT-only run
    cut = t0 + fraction * (run.last_step - t0)
    keep = run.step <= cut
    return replace(
        run,
        loss_pt=np.where(keep, run.loss_pt, np.nan),
        loss_cpt=np.where(keep, run.loss_cpt, np.nan),
    )


__all__ = [
    "ADAPT",
    "DEFAULT",
    "Adaptation",
    "adaptation_with",
    "point_noise",
    "Forecast",
    "TargetForecast",
    "adapt",
    "check_forecastable",
    "cut_run",
    "forecast_markdown",
    "forecast_run",
    "Reach",
    "step_reaching",
    "step_staying",
    "target_reach",
    "target_sentence",
    "with_planned_schedule",
]
