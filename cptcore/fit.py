"""Fitting the CPT law to observed loss curves: robust, deterministic, honest about what it found.

Objective (paper App. C): Huber loss on log(observed) - log(predicted), all fitted runs of one
validation set jointly. How we make it robust (README, "How the fit works"):
1. Variable projection for starting values (notes §9): for fixed nonlinear parameters
   (alpha, E, beta [, a1, a2] [, S1pt of CPT-only runs]) the law is linear in (L0, A, C1, C2, B),
   so a grid over the nonlinear ones with a bounded linear least-squares solve at each point finds
   good basins without guessing scales.
2. The best few grid points are refined on the full Huber objective with a trust-region
   least-squares solver (bounds, parameters scaled by the Jacobian, E and S1pt in log space).
3. Parameters the data cannot identify are tied or fixed and the result says so: no CPT phase in the
   fitted runs -> shift terms off and C2 = C1; no PT annealing -> C1 = C2; one replay ratio -> Eq. 4;
   one CPT peak LR -> no LR clock (rho = 1).
4. Uncertainty: a Laplace (Jacobian) covariance, inflated for the autocorrelation of residuals along
   a curve; ``prediction_band`` turns it into a band for any schedule.
A fit never raises on non-convergence: ``FitResult.success`` and ``.message`` say what happened.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from cptcore.areas import LAMBDA, Areas, row_areas
from cptcore.errors import InputError
from cptcore.law import (
    FORMS,
    LINEAR,
    LR_CLOCK_FORMS,
    LR_NAMES,
    NAMES,
    PEAK_FORMS,
    Columns,
    LawParams,
    columns,
    combine,
    predict,
)
from cptcore.runs import Run, base_of

HUBER_DELTA = 1e-3  # on log loss, as peers use (notes §1.3, §9)


@dataclass(frozen=True)
class RunMetrics:
    """Accuracy on one run's observed points (loss space, nats)."""

    name: str
    n_points: int
    r2: float
    mae: float
    max_error: float
    held_out: bool = False
    cpt_mae: float = float("nan")  # MAE over the CPT-phase points only (what CPT planning predicts)
    cpt_points: int = 0


_SET_NAME = {"pt": "general", "cpt": "domain"}


@dataclass(frozen=True, eq=False)
class FitResult:
    """A fitted parameter set for one validation set, with diagnostics (scipy-style result)."""

    target: str
    params: LawParams
    success: bool
    message: str
    metrics: tuple[RunMetrics, ...]
    free_names: tuple[str, ...] = ()
    cov: np.ndarray | None = None  # covariance of free parameters (E and S1pt in log space)
    S1pt: dict = field(default_factory=dict)  # fitted S1pt of CPT-only runs, by run name
    warnings: tuple[str, ...] = ()
    objective: float = float("nan")
    n_points: int = 0
    lam: float = LAMBDA
    s2_form: str = "paper"
    eps: float = 0.1
    seconds: float = 0.0
    min_step: int = 0  # rows before this step were not fitted (and are not scored)
    skip_warmup: bool = True  # rows inside the PT warm-up were not fitted
    calibration: dict | None = None  # residual band from grouped CV (``calibration``)
    s1pt_shared: bool = False  # S1pt fitted jointly with the other validation set (``fit_shared``)

    def S1pt_for(self, run: Run) -> float | None:
        """The fitted PT forward area of a CPT-only run's base model (paper §6): any CPT schedule
        on a fitted base can be predicted. None for a run with PT history, or an unfitted base.
        Files written before bases existed key S1pt by run name: that is looked up too."""
        if run.pt_history_known:
            return None
        return self.S1pt.get(base_of(run), self.S1pt.get(run.name))

    def stderr(self) -> dict:
        """Standard errors of the free parameters, in the parameters' own units."""
        if self.cov is None:
            return {}
        out = {}
        for i, name in enumerate(self.free_names):
            sd = math.sqrt(max(self.cov[i, i], 0.0))
            if name in ("logE", "logkappa"):
                out[name[3:]] = getattr(self.params, name[3:]) * sd
            elif name.startswith("logS1pt:"):
                base = name.split(":", 1)[1]
                out[f"S1pt[{base}]"] = self.S1pt.get(base, float("nan")) * sd
            else:
                out[name] = sd
        return out

    def floor_problem(self) -> str | None:
        """Why the data do not pin down the loss floor L0 (Eq. 4), in words, or None when they do:
        L0 at its bound 0, or its ~95 % interval (±1.96 standard errors) reaching 0. Without a
        covariance (published parameters) L0 is taken as given. The critical point L0 + B (paper
        §4.3) is then not known either: e.g. CPT-only runs whose general loss barely moves."""
        L0 = self.params.L0
        se = self.stderr().get("L0")
        if L0 > 1e-6 and (se is None or 1.96 * se < L0):
            return None
        shown = f"{L0:.3f}" + (f" ± {se:.3g}" if se is not None else "")
        where = _SET_NAME.get(self.target, self.target)
        return f"the fitted runs do not pin down the {where} loss floor L0 ({shown})"


@dataclass(frozen=True, eq=False)
class _Data:
    """All observed rows of the fitted runs for one validation set, concatenated."""

    S1pt: np.ndarray
    S2pt: np.ndarray
    S1cpt: np.ndarray
    S2cpt: np.ndarray
    replay: np.ndarray
    run_index: np.ndarray
    y: np.ndarray
    names: tuple[str, ...]
    unknown_pt: tuple[str, ...]  # base models of the CPT-only runs (one S1pt fitted per base)
    base_index: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # per row, -1: known
    # the LR clock (``areas.lr_clock``) at the rows: every run's dense CPT LRs concatenated, and per
    # row the index of its step in that array (-1 before the transfer) and of its run's first step
    # (per run: its rows' steps and LRs, its transfer step and last step; the dense CPT LRs are built
    # only when a form with an LR clock asks, so sparse runs fit the other forms without them)
    cpt_rows: tuple = ()
    clock_at: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    clock_from: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    cpt_peaks: tuple[float, ...] = ()  # CPT peak LR of each run with a CPT phase
    peak: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per row, its run's CPT peak LR

    @cached_property
    def cpt_lr(self) -> np.ndarray:
        """Every run's dense CPT LRs (steps transfer+1..last, linear between rows), concatenated."""
        parts = [
            np.maximum(np.interp(np.arange(t + 1, last + 1), st, lr), 0.0)
            for st, lr, t, last in self.cpt_rows
        ]
        return np.concatenate(parts) if parts else np.zeros(0)

    def clock(self, rho: float, eta_ref: float) -> np.ndarray:
        """S1cpt_rho at every row: one power and one cumulative sum over the dense CPT steps."""
        w = np.power(self.cpt_lr / eta_ref, rho) * eta_ref
        C = np.concatenate(([0.0], np.cumsum(w)))
        return np.where(self.clock_at >= 0, C[self.clock_at + 1] - C[self.clock_from], 0.0)


def _areas_for(run: Run, lam: float, s2_form: str, eps: float) -> Areas:
    """The run's areas at its rows (per linear segment when the rows are sparse)."""
    return row_areas(run, lam=lam, s2_form=s2_form, eps=eps)


def _at_rows(full: Areas, run: Run) -> Areas:
    """Areas at the run's rows from areas at every step (index = step) or already at the rows."""
    if full.rows is None:
        return full.at(run.step)
    if len(full) != len(run.step) or not np.array_equal(full.rows, run.step):
        raise ValueError("areas are neither per step nor at the run's rows")
    return full


def _select(a: Areas, ok: np.ndarray) -> Areas:
    """The elements of row areas ``a`` where ``ok``."""
    return a.select(ok)


def warmup_end(run: Run) -> int:
    """Step where the PT warm-up ends (the LR first reaches its PT peak); 0 for CPT-only runs."""
    if not run.pt_history_known:
        return 0
    pt = ~run.is_cpt
    lr = run.lr[pt]
    return int(run.step[pt][int(np.argmax(lr))]) if lr.size else 0


def fit_rows(
    run: Run, target: str, full: Areas, min_step: int = 0, skip_warmup: bool = True
) -> np.ndarray:
    """Rows of ``run`` the law is fitted/scored on (``full``: its areas at every step or at its
    rows, as ``row_areas`` gives them): observed, after the first update (the law is
    undefined at S1 = 0), at or after ``min_step`` and, with ``skip_warmup``, after the PT warm-up
    (the law describes the loss after the warm-up transient, as in the papers' own fits)."""
    y = run.loss(target)
    ok = np.isfinite(y) & (run.step >= min_step)
    if run.pt_history_known:
        a = _at_rows(full, run)
        ok &= a.S1pt + a.S1cpt > 0
        if skip_warmup:
            ok &= run.step >= warmup_end(run)
    return ok


def has_fit_rows(run: Run, target: str, min_step: int = 0) -> bool:
    """Whether ``run`` has at least one ``target`` loss the fit can use (``fit_rows``); its areas
    are taken at its rows only (``row_areas``: no per-step arrays for a sparse run)."""
    return bool(fit_rows(run, target, row_areas(run), min_step).any())


def replay_ratios(runs: Sequence[Run]) -> int:
    """How many distinct replay ratios the runs with a CPT phase have (the replay forms need 2)."""
    return len({round(r.replay, 6) for r in runs if r.has_cpt})


def _gather(
    runs: Sequence[Run],
    target: str,
    lam: float,
    s2_form: str,
    eps: float,
    min_step: int,
    skip_warmup: bool,
) -> _Data:
    keys = ("S1pt", "S2pt", "S1cpt", "S2cpt", "replay", "run_index", "y", "clock_at", "clock_from")
    keys += ("peak",)
    cols = {k: [] for k in keys}
    names, cpt_rows, peaks = [], [], []
    offset = 0
    for j, run in enumerate(runs):
        full = _areas_for(run, lam, s2_form, eps)
        ok = fit_rows(run, target, full, min_step, skip_warmup)
        steps = run.step[ok]
        a = _select(full, ok)
        for k in ("S1pt", "S2pt", "S1cpt", "S2cpt"):
            cols[k].append(getattr(a, k))
        cols["replay"].append(np.full(ok.sum(), run.replay))
        cols["run_index"].append(np.full(ok.sum(), j))
        cols["y"].append(run.loss(target)[ok])
        names.append(run.name)
        t, last = full.transfer_step, run.last_step  # the CPT steps t+1..last (lr_clock's sum)
        pos = steps - (t + 1)
        cols["clock_at"].append(np.where(pos >= 0, pos + offset, -1))
        cols["clock_from"].append(np.full(ok.sum(), offset))
        cpt_rows.append((run.step, run.lr, t, last))
        offset += max(last - t, 0)
        peak = math.nan
        if run.has_cpt and last > t:  # the LR is linear between rows: its maximum is on a row
            inside = run.lr[run.step > t]
            first = float(np.interp(t + 1, run.step, run.lr))
            peak = max(max(first, float(np.max(inside, initial=first))), 0.0)
            peaks.append(peak)
        cols["peak"].append(np.full(ok.sum(), peak))
    arrays = {k: np.concatenate(v) for k, v in cols.items()}
    # rows of runs without CPT: the shift is 0 there, any finite peak will do
    arrays["peak"][~np.isfinite(arrays["peak"])] = max(peaks, default=1.0)
    for k in ("run_index", "clock_at", "clock_from"):
        arrays[k] = arrays[k].astype(int)
    unknown = tuple(sorted({base_of(r) for r in runs if not r.pt_history_known}))
    per_run = [unknown.index(base_of(r)) if not r.pt_history_known else -1 for r in runs]
    base_index = np.array(per_run, dtype=int)[arrays["run_index"]] if per_run else np.zeros(0, int)
    return _Data(
        **arrays,
        names=tuple(names),
        unknown_pt=unknown,
        base_index=base_index,
        cpt_rows=tuple(cpt_rows),
        cpt_peaks=tuple(peaks),
    )


@dataclass(frozen=True)
class _Spec:
    """Which parameters are free, fixed or tied in this fit."""

    law: str
    free: tuple[str, ...]
    fixed: dict
    tie_C1_to_C2: bool
    tie_C2_to_C1: bool
    eta_ref: float | None = None  # the LR clock's reference LR (forms with rho)


def _unpack(theta: np.ndarray, spec: _Spec, data: _Data) -> tuple[LawParams, np.ndarray]:
    v = dict(spec.fixed)
    v.update(zip(spec.free, theta, strict=True))
    if spec.tie_C1_to_C2:
        v["C1"] = v["C2"]
    if spec.tie_C2_to_C1:
        v["C2"] = v["C1"]
    s1 = np.array([math.exp(v.pop(f"logS1pt:{n}")) for n in data.unknown_pt])
    return _params_from(v, spec.law, spec.eta_ref), s1


def _params_from(v: dict, law: str, eta_ref: float | None = None) -> LawParams:
    """LawParams from fitting-space values (log-space names 'logE', 'logkappa'); ``eta_ref`` is the
    LR clock's reference LR (forms with rho)."""
    form = FORMS[law]
    nat = {
        k[3:] if k.startswith("log") else k: (math.exp(x) if k.startswith("log") else x)
        for k, x in v.items()
        if not k.startswith("logS1pt:") and k != "s1mult"
    }
    extra = {k: float(nat[k]) for k in form.extra}
    if any(k in LR_NAMES for k in extra):
        extra["eta_ref"] = float(eta_ref)
    return LawParams(**{k: float(nat[k]) for k in NAMES}, replay_form=form.replay_form, **extra)


def _fit_space_values(init: FitResult, data: _Data) -> dict:
    """A fitted result's parameters in fitting space, as a start for a related fit."""
    p = init.params
    v = {k: float(getattr(p, k)) for k in NAMES if k != "E"}
    v["logE"] = math.log(max(p.E, 1e-300))
    form = FORMS[p.law]
    for k in form.extra:  # named and scaled as in ``_fit_space``
        x = float(getattr(p, k))
        v[f"log{k}" if k in form.log else k] = math.log(max(x, 1e-300)) if k in form.log else x
    s1c = float(np.max(data.S1cpt)) or 1.0
    for nm in data.unknown_pt:
        v[f"logS1pt:{nm}"] = math.log(init.S1pt.get(nm, s1c))
    return v


def _fit_space(law: str) -> tuple[str, ...]:
    """Names of the nonlinear parameters in fitting space, in order."""
    form = FORMS[law]
    return ("alpha", "logE", "beta") + tuple(f"log{k}" if k in form.log else k for k in form.extra)


def _row_S1pt(data: _Data, s1_unknown: np.ndarray) -> np.ndarray:
    S1pt = data.S1pt
    if data.unknown_pt:
        S1pt = S1pt.copy()
        for k in range(len(data.unknown_pt)):  # one S1pt per base model, shared by its runs
            S1pt[data.base_index == k] = s1_unknown[k]
    return S1pt


def _data_columns(p: LawParams, data: _Data, target: str, s1_unknown: np.ndarray) -> Columns:
    """The law's kernel (``law.columns``) at every observed row of the fitted runs."""
    S1pt = _row_S1pt(data, s1_unknown)
    clock = data.clock(p.rho, p.eta_ref) if p.clocked else None
    peak = data.peak if p.peaked else None
    return columns(
        p, S1pt, data.S2pt, data.S1cpt, data.S2cpt, data.replay, target, clock, peak=peak
    )


def _model(p: LawParams, data: _Data, target: str, s1_unknown: np.ndarray) -> np.ndarray:
    """The law at every observed row (one call of the kernel, vectorised over rows and replay)."""
    return combine(p, _data_columns(p, data, target, s1_unknown))


def _basis(
    nl: dict, data: _Data, target: str, law: str, s1_unknown: np.ndarray, eta_ref=None
) -> np.ndarray:
    """Design matrix of the linear parameters (L0, A, C1, C2, B) for fixed nonlinear ones: the
    kernel's columns, so variable projection fits exactly the law that is predicted."""
    probe = _params_from({**{k: 1.0 for k in LINEAR}, **nl}, law, eta_ref)
    c = _data_columns(probe, data, target, s1_unknown)
    return np.column_stack([np.ones_like(c.power), c.power, c.anneal_pt, c.anneal_cpt, c.shift])


def _metrics(
    name: str, y: np.ndarray, pred: np.ndarray, in_cpt: np.ndarray, held_out: bool = False
) -> RunMetrics:
    err = pred - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else float("nan")
    n_cpt = int(in_cpt.sum())
    cpt_mae = float(np.mean(np.abs(err[in_cpt]))) if n_cpt else float("nan")
    mae, worst = float(np.mean(np.abs(err))), float(np.max(np.abs(err)))
    return RunMetrics(name, len(y), r2, mae, worst, held_out, cpt_mae, n_cpt)


def scored_rows(result: FitResult, runs: Sequence[Run]):
    """Yield (run, observed, predicted, areas) at the rows a fit scores: after the warm-up and
    ``min_step``, observed; runs of unknown PT history without a fitted S1pt are skipped."""
    for run in runs:
        y = run.loss(result.target)
        full = _areas_for(run, result.lam, result.s2_form, result.eps)
        ok = fit_rows(run, result.target, full, result.min_step, result.skip_warmup)
        if not ok.any():
            continue
        a = _select(full, ok)
        S1pt = result.S1pt_for(run)
        if not run.pt_history_known and S1pt is None:
            continue  # a run from a base model that was not fitted has no S1pt to predict with
        yield run, y[ok], predict(result.params, a, run.replay, result.target, S1pt), a


def evaluate(
    result: FitResult, runs: Sequence[Run], held_out: bool = True
) -> tuple[RunMetrics, ...]:
    """Per-run accuracy of a fitted parameter set on (typically held-out) runs with observed losses."""
    return tuple(
        _metrics(run.name, y, pred, a.S1cpt > 0, held_out)
        for run, y, pred, a in scored_rows(result, runs)
    )


BAND_LEVELS = (0.5, 0.68, 0.8, 0.9, 0.95, 0.99)
BAND_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)  # CPT progress: S1cpt / the longest fitted run's S1cpt


def calibration(
    S1cpt: np.ndarray, abs_log_err: np.ndarray, S1cpt_ref: float, pt_abs_log_err: np.ndarray
) -> dict | None:
    """A residual-based (conformal-style) band: quantiles of held-out |log error| per bin of CPT
    progress, from grouped cross-validation, and of the in-sample PT-phase |log error|."""
    if abs_log_err.size < 10 or not S1cpt_ref > 0:
        return None
    prog = S1cpt / S1cpt_ref
    q = []
    for lo, hi in zip(BAND_BINS[:-1], BAND_BINS[1:], strict=True):
        m = (prog >= lo) & ((prog < hi) if hi < 1 else np.ones_like(prog, bool))
        e = abs_log_err[m] if m.sum() >= 10 else abs_log_err
        q.append([float(np.quantile(e, lv)) for lv in BAND_LEVELS])
    pt_q = (
        [float(np.quantile(pt_abs_log_err, lv)) for lv in BAND_LEVELS]
        if pt_abs_log_err.size >= 10
        else q[0]
    )
    return {
        "source": "grouped cross-validation: held-out CPT-phase |log(observed/predicted)|",
        "levels": list(BAND_LEVELS),
        "progress_bins": list(BAND_BINS),
        "S1cpt_ref": float(S1cpt_ref),
        "q": q,
        "pt_q": pt_q,
        "n": int(abs_log_err.size),
    }


def default_law(runs: Sequence[Run]) -> str:
    """The law used without cross-validation (too few runs, or ``fit_runs`` without a law): the
    tau-form when the CPT runs have more than one replay ratio (it is Eq. 4 at replay 0), else Eq. 4.
    The default fit chooses by grouped cross-validation instead (``cptcore.select``)."""
    return "tau" if replay_ratios(runs) > 1 else "eq4"


def _grid(law: str, n_unknown: int, data: _Data, has_cpt: bool) -> list[dict]:
    """Starting points of the nonlinear parameters, in fitting space (E, kappa as logs)."""
    alphas = [0.15, 0.3, 0.5, 0.8, 1.2]
    if not has_cpt:
        grid = [{"alpha": a, "logE": 0.0, "beta": 1.0} for a in alphas]
    else:
        # E spans the paper's fitted range (about 10 .. 6000 per unit S1) and beyond
        s1c = float(np.max(data.S1cpt)) or 1.0
        logEs = [math.log(10**k / s1c) for k in (-0.5, 0.5, 1.5, 2.5, 3.5)]
        betas = [0.1, 0.3, 0.7, 1.5]
        grid = [
            {"alpha": a, "logE": e, "beta": b}
            for a, e, b in itertools.product(alphas, logEs, betas)
        ]
    form = FORMS[law]
    for name, values in form.starts:
        key = f"log{name}" if name in form.log else name
        vals = [math.log(v) for v in values] if name in form.log else list(values)
        grid = [dict(g, **{key: v}) for g in grid for v in vals]
    if n_unknown:
        grid = [dict(g, s1mult=m) for g in grid for m in (0.3, 3.0, 30.0)]
    return grid


def least_squares(*args, **kwargs):
    """``scipy.optimize.least_squares``, imported on first use: the CLI's predict and --help never
    fit, and importing scipy.optimize costs them ~0.4 s."""
    from scipy.optimize import least_squares as solve

    return solve(*args, **kwargs)


def lsq_linear(*args, **kwargs):
    """``scipy.optimize.lsq_linear``, imported on first use (see ``least_squares``)."""
    from scipy.optimize import lsq_linear as solve

    return solve(*args, **kwargs)


# Why a fit ended, in words: each status's message (as scipy's ``least_squares`` maps its status to
# a message). ``{summary}`` is the fitted law, runs, points and errors (``_summary``).
MESSAGES = {
    "no runs": "no run has {label} losses to fit",
    "no rows": "no {label} losses {where} to fit",
    "every start failed": "the fit did not run: every start failed numerically",
    "out of time": (
        "the fit did not run: the time limit of {max_seconds:g} s ran out before a start finished "
        "(a very large run: thin its rows, or allow more time)"
    ),
    "stop requested": "the fit did not run: stopped on request before any start finished",
    "stopped": "stopped early (time limit or user); best so far: {summary}",
    "not converged": "did not converge ({solver}); best so far: {summary}",
    "converged": "{summary}",
}


def fit_target(
    runs: Sequence[Run],
    target: str,
    law: str = "eq4",
    *,
    lam: float = LAMBDA,
    s2_form: str = "paper",
    eps: float = 0.1,
    seed: int = 0,
    n_starts: int = 4,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_seconds: float = 60.0,
    min_step: int = 0,
    skip_warmup: bool = True,
    init: FitResult | None = None,
) -> FitResult:
    """Fit one validation set ('pt' general, 'cpt' domain) jointly over ``runs``.

    ``init``: a fit of the same law on related runs (e.g. all runs, when this is a cross-validation
    fold): its parameters are the only start and the grid stage is skipped (warm start)."""
    t0 = time.perf_counter()
    if target not in ("pt", "cpt"):
        raise InputError("target must be 'pt' or 'cpt'", received=target)
    if law not in FORMS:
        raise InputError("unknown law", received=law, fix=f"Use one of {', '.join(FORMS)}")
    settings = {"lam": lam, "s2_form": s2_form, "eps": eps}
    used = [r for r in runs if r.has_target(target)]
    label = "general (loss_pt)" if target == "pt" else "domain (loss_cpt)"
    if not used:
        return _failed(target, "no runs", settings, label=label)
    data = _gather(used, target, lam, s2_form, eps, min_step, skip_warmup)
    if len(data.y) == 0:
        where = f"at or after step {min_step}" if min_step else "after the PT warm-up"
        return _failed(target, "no rows", settings, label=label, where=where)

    def halt() -> bool:
        return bool((should_stop and should_stop()) or time.perf_counter() - t0 > max_seconds)

    warnings: list[str] = []
    spec = _spec(data, law, init, warnings)
    grid = [] if init is not None else _grid(spec.law, len(data.unknown_pt), data, _has_cpt(data))
    scored = _scan(grid, data, target, spec, halt, progress)
    starts = _starts(scored, n_starts, init, data, seed)
    best, stopped = _refine(starts, data, target, spec, init is not None, halt, progress, warnings)
    if best is None:
        status = _not_run(stopped, t0, max_seconds)
        return _failed(target, status, settings, warnings, max_seconds=max_seconds)
    result = _diagnose(best, stopped, data, target, spec, len(used), warnings)
    return replace(
        result,
        **settings,
        seconds=time.perf_counter() - t0,
        min_step=min_step,
        skip_warmup=skip_warmup,
    )


def _failed(target: str, status: str, settings: dict, warnings=(), **words) -> FitResult:
    """The result of a fit that found no parameters: ``MESSAGES[status]`` says why."""
    empty = LawParams(float("nan"), 0, 0, 0, 0, 0, 1, 1)
    message = MESSAGES[status].format(**words)
    return FitResult(target, empty, False, message, (), warnings=tuple(warnings), **settings)


def _not_run(stopped: bool, t0: float, max_seconds: float) -> str:
    """Why no start finished: the time limit, a stop request, or numerical failure."""
    if not stopped:
        return "every start failed"
    if time.perf_counter() - t0 > max_seconds:
        return "out of time"
    return "stop requested"


def _has_cpt(data: _Data) -> bool:
    return bool(np.any(data.S1cpt > 0))


# --- data: what the fitted rows identify ---------------------------------------------------------


def _identified_law(data: _Data, law: str, init: FitResult | None, warnings: list) -> tuple:
    """The law the rows can identify (a form needing two peak LRs or two replay ratios falls back
    to a simpler one) and the LR clock's reference LR; the reasons are appended to ``warnings``."""
    peaks = sorted({float(f"{pk:.3g}") for pk in data.cpt_peaks})
    if law in LR_CLOCK_FORMS + PEAK_FORMS and len(peaks) < 2:
        plain = "eq4" if law in ("eq4-lr", "eq4-speed") else "tau"
        what = "the LR clock's rho" if law in LR_CLOCK_FORMS else FORMS[law].extra[-1]
        neutral = "rho = 1" if law in LR_CLOCK_FORMS else f"{FORMS[law].extra[-1]} = 0"
        warnings.append(
            f"{law} needs CPT runs at two or more peak LRs to identify {what}; "
            f"fitted {plain} instead ({neutral})"
        )
        law = plain
    if FORMS[law].replay_extra and len(np.unique(data.replay[data.S1cpt > 0])) < 2:
        plain = {"tau-lr": "eq4-lr", "tau-speed": "eq4-speed"}.get(law, "eq4")
        words = {"eq4-lr": "Eq. 4 with the LR clock", "eq4-speed": "Eq. 4 with the peak-LR speed"}
        warnings.append(
            f"{law} needs CPT runs with at least two replay ratios; fitted "
            f"{words.get(plain, 'Eq. 4')} instead"
        )
        law = plain
    ratios = np.unique(data.replay[data.S1cpt > 0])
    if FORMS[law].replay_extra and len(ratios) < 4:
        shown = ", ".join(f"{r:g}" for r in ratios)
        warnings.append(
            f"the replay terms ({', '.join(FORMS[law].replay_extra)}) rest on {len(ratios)} replay ratios ({shown}): predictions at "
            "other ratios follow the assumed curve shape; fit runs near the ratios you plan"
        )
    eta_ref = None
    if law in LR_CLOCK_FORMS + PEAK_FORMS:
        eta_ref = init.params.eta_ref if init is not None else None
        eta_ref = eta_ref or max(data.cpt_peaks)
        if len(peaks) < 4:
            shown = ", ".join(f"{pk:g}" for pk in peaks)
            what = "the LR clock (rho)" if law in LR_CLOCK_FORMS else FORMS[law].extra[-1]
            warnings.append(
                f"{what} rests on {len(peaks)} CPT peak LRs ({shown}): predictions at other peak "
                f"LRs follow the assumed power {'eta^rho' if law in LR_CLOCK_FORMS else 'of eta_peak'}"
            )
    return law, eta_ref


def _spec(data: _Data, law: str, init: FitResult | None, warnings: list) -> _Spec:
    """Free, fixed and tied parameters: what the rows cannot identify is fixed or tied, and
    ``warnings`` says so."""
    law, eta_ref = _identified_law(data, law, init, warnings)
    has_cpt = _has_cpt(data)
    s2pt_varies = (
        float(np.ptp(data.S2pt)) > 1e-9 * max(float(np.max(np.abs(data.S2pt))), 1e-30)
        and float(np.max(np.abs(data.S2pt))) > 1e-6
    )
    s2cpt_present = has_cpt and float(np.max(np.abs(data.S2cpt))) > 1e-6

    fixed: dict = {}
    tie_c1 = tie_c2 = False
    if not has_cpt:
        fixed.update(B=0.0, logE=0.0, beta=1.0)
        tie_c2 = True
        warnings.append(
            "the fitted runs have no CPT phase: shift terms (B, E, beta) are not identified and set to 0; C2 set equal to C1"
        )
    elif not s2pt_varies and s2cpt_present:
        tie_c1 = True
        warnings.append(
            "the fitted runs have no PT annealing the fit can see: C1 is not identified and is set equal to C2"
        )
    elif not s2pt_varies and not s2cpt_present:
        fixed.update(C1=0.0, C2=0.0)
        warnings.append(
            "no LR annealing in the fitted runs: C1 and C2 are not identified and set to 0"
        )
    order = ["L0", "A", "C1", "C2", "B", *_fit_space(law)]
    order += [f"logS1pt:{nm}" for nm in data.unknown_pt]
    free = tuple(
        k
        for k in order
        if k not in fixed and not (tie_c1 and k == "C1") and not (tie_c2 and k == "C2")
    )
    return _Spec(law, free, fixed, tie_c1, tie_c2, eta_ref)


def _bounds(data: _Data, spec: _Spec) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the free parameters, scaled to the observed losses and areas."""
    ymax = float(np.max(data.y))
    s1c = float(np.max(data.S1cpt)) or 1.0
    bounds = {
        "L0": (0.0, 2 * ymax),
        "A": (0.0, 1e3 * ymax),
        "alpha": (0.01, 5.0),
        "C1": (0.0, 1e4),
        "C2": (0.0, 1e4),
        "B": (-ymax, ymax),
        "logE": (math.log(1e-4 / s1c), math.log(1e7 / s1c)),
        "beta": (1e-3, 10.0),
    }
    form = FORMS[spec.law]
    for name, b_lo, b_hi in form.bounds:
        if name in form.log:
            bounds[f"log{name}"] = (math.log(b_lo), math.log(b_hi))
        else:
            bounds[name] = (b_lo, b_hi)
    for nm in data.unknown_pt:
        bounds[f"logS1pt:{nm}"] = (math.log(1e-3 * s1c), math.log(1e4 * s1c))
    lo = np.array([bounds[k][0] for k in spec.free])
    hi = np.array([bounds[k][1] for k in spec.free])
    return lo, hi


# --- grid: variable projection over the nonlinear parameters ------------------------------------


def _scan(grid: list[dict], data: _Data, target: str, spec: _Spec, halt, progress) -> list:
    """(cost, start) of each grid point until ``halt()``, best first."""
    scored = []
    for k, g in enumerate(grid):
        if halt():
            break
        scored.append(_project(g, data, target, spec))
        if progress and k % 20 == 0:
            progress(0.4 * k / max(len(grid), 1), f"scanning starting points {k}/{len(grid)}")
    scored.sort(key=lambda t: t[0])
    return scored


def _project(g: dict, data: _Data, target: str, spec: _Spec) -> tuple[float, dict]:
    """One grid point: the bounded linear solve for (L0, A, C1, C2, B) with the nonlinear
    parameters ``g`` fixed (linear residuals weighted to approximate log residuals)."""
    fixed = spec.fixed
    ymax = float(np.max(data.y))
    s1c = float(np.max(data.S1cpt)) or 1.0
    w = 1.0 / data.y
    lin_lo = np.array([0.0, 0.0, 0.0, 0.0, -ymax])
    lin_hi = np.array([2 * ymax, 1e3 * ymax, 1e4, 1e4, ymax])
    s1u = np.full(len(data.unknown_pt), g.get("s1mult", 1.0) * s1c)
    M = _basis(g, data, target, spec.law, s1u, spec.eta_ref)
    keep = [i for i, nm in enumerate(LINEAR) if nm not in fixed]
    Mk = M[:, keep].copy()
    if spec.tie_C1_to_C2:  # C1 column folds into C2's
        Mk[:, keep.index(3)] += M[:, 2]
        keep_names = [LINEAR[i] for i in keep if i != 2]
        Mk = np.delete(Mk, keep.index(2), axis=1)
    elif spec.tie_C2_to_C1:
        Mk[:, keep.index(2)] += M[:, 3]
        keep_names = [LINEAR[i] for i in keep if i != 3]
        Mk = np.delete(Mk, keep.index(3), axis=1)
    else:
        keep_names = [LINEAR[i] for i in keep]
    idx = [LINEAR.index(nm) for nm in keep_names]
    col_scale = np.maximum(np.abs(Mk).max(axis=0), 1e-30)
    res = lsq_linear(
        (Mk * w[:, None]) / col_scale,
        data.y * w,
        bounds=(lin_lo[idx] * col_scale, lin_hi[idx] * col_scale),
        method="bvls",
    )
    coef = dict(zip(keep_names, res.x / col_scale, strict=True))
    start = {**coef, **{k: v for k, v in g.items() if k != "s1mult"}}
    for nm in data.unknown_pt:
        start[f"logS1pt:{nm}"] = math.log(g.get("s1mult", 1.0) * s1c)
    return float(res.cost), start


# --- refine: trust-region on the Huber objective on log loss -------------------------------------


def _starts(scored: list, n_starts: int, init: FitResult | None, data: _Data, seed: int) -> list:
    """The best grid points and one jittered copy of the best (it guards against a grid
    artefact); a warm start's only start is ``init``."""
    if init is not None:
        return [_fit_space_values(init, data)]
    starts = [s for _, s in scored[: max(n_starts, 1)]]
    if scored:
        rng = np.random.default_rng(seed)
        jit = dict(scored[0][1])
        jit["alpha"] = float(np.clip(jit["alpha"] * rng.uniform(0.7, 1.3), 0.02, 4.9))
        starts.append(jit)
    return starts


def _residuals(theta: np.ndarray, data: _Data, target: str, spec: _Spec) -> np.ndarray:
    """log(predicted) - log(observed) at every fitted row."""
    p, s1u = _unpack(theta, spec, data)
    pred = _model(p, data, target, s1u)
    return np.log(np.maximum(pred, 1e-6)) - np.log(data.y)


def _refine(
    starts: list, data, target: str, spec: _Spec, warm: bool, halt, progress, warnings: list
) -> tuple:
    """The best ``least_squares`` solution over the starts (None when none finished) and whether
    the fit was cut short (time limit or stop request)."""
    lo, hi = _bounds(data, spec)
    best = None
    stopped = not starts  # the start grid was cut short (time limit or stop request)
    for k, s in enumerate(starts):
        if halt():
            stopped = True
            break
        x0 = np.array([s.get(nm, spec.fixed.get(nm, 0.0)) for nm in spec.free], dtype=float)
        x0 = np.clip(x0, lo + 1e-12 * (hi - lo), hi - 1e-12 * (hi - lo))
        try:
            r = least_squares(
                _residuals,
                x0,
                args=(data, target, spec),
                bounds=(lo, hi),
                loss="huber",
                f_scale=HUBER_DELTA,
                x_scale="jac",
                max_nfev=(100 if warm else 400) * len(spec.free),
                method="trf",
            )
        except (ValueError, FloatingPointError) as e:  # numerical trouble in one start is not fatal
            warnings.append(f"start {k + 1} failed numerically ({e})")
            continue
        if best is None or r.cost < best.cost:
            best = r
        if progress:
            progress(0.4 + 0.6 * (k + 1) / len(starts), f"refining start {k + 1}/{len(starts)}")
    return best, stopped


# --- diagnose: metrics, what is not pinned down, uncertainty, the message ------------------------


def _diagnose(
    best,
    stopped: bool,
    data: _Data,
    target: str,
    spec: _Spec,
    n_runs: int,
    warnings: list,
    what: str | None = None,
    cov: np.ndarray | None = None,
) -> FitResult:
    """The fitted parameters with per-run metrics, warnings, covariance and the message.
    ``what`` names the fitted runs in the message; ``cov``, when given (a joint fit), is used
    instead of this set's own Laplace covariance."""
    p, s1u = _unpack(best.x, spec, data)
    pred = _model(p, data, target, s1u)
    metrics = tuple(
        _metrics(
            nm,
            data.y[data.run_index == j],
            pred[data.run_index == j],
            data.S1cpt[data.run_index == j] > 0,
        )
        for j, nm in enumerate(data.names)
    )
    warnings.extend(_pinning_warnings(best.x, p, data, spec))
    if cov is None:
        cov = _covariance(best, data, target, spec, warnings)
    n, free = len(data.y), spec.free
    if n <= len(free):
        warnings.append(
            f"only {n} observed points for {len(free)} free parameters: the fit is not determined"
        )
    worst = max(metrics, key=lambda m: m.mae)
    summary = (
        f"fitted {spec.law} on {what or f'{n_runs} run(s)'}, {n} points: mean abs error {np.mean(np.abs(pred - data.y)):.4f} nats; "
        f"worst run {worst.name} (MAE {worst.mae:.4f})"
    )
    status = "stopped" if stopped else "converged" if best.success else "not converged"
    return FitResult(
        target=target,
        params=p,
        success=bool(best.success) and not stopped and n > len(free),
        message=MESSAGES[status].format(summary=summary, solver=best.message),
        metrics=metrics,
        free_names=free,
        cov=cov,
        S1pt={nm: float(v) for nm, v in zip(data.unknown_pt, s1u, strict=True)},
        warnings=tuple(warnings),
        objective=float(best.cost),
        n_points=n,
    )


def _pinning_warnings(x: np.ndarray, p: LawParams, data: _Data, spec: _Spec) -> list[str]:
    """Parameters the data do not pin down: those ended at a bound, and beta near 0."""
    lo, hi = _bounds(data, spec)
    at_bound = [
        nm
        for nm, v, lb, h in zip(spec.free, x, lo, hi, strict=True)
        if (v - lb) < 1e-6 * (h - lb) or (h - v) < 1e-6 * (h - lb)
    ]
    at_bound = [
        nm for nm in at_bound if not (nm in ("C1", "C2", "A") and abs(getattr(p, nm)) < 1e-12)
    ]  # 0 is a legitimate value for these
    out = [
        f"{nm.replace('logE', 'E').replace('logkappa', 'kappa')} ended at its bound: the data do not pin it down"
        for nm in at_bound
    ]
    if _has_cpt(data) and p.beta < 0.02:
        out.append(
            "beta is near 0: B and beta trade off (the shift tends to B*beta*ln(1+E*S1cpt)); extrapolation beyond the fitted steps is uncertain"
        )
    return out


def _covariance(best, data: _Data, target: str, spec: _Spec, warnings: list) -> np.ndarray | None:
    """Laplace covariance of the free parameters, inflated for residual autocorrelation along each
    curve."""
    if best.jac is None:
        return None
    resid = _residuals(best.x, data, target, spec)
    scale = _noise_scale(resid, data.run_index, len(spec.free))
    try:
        return np.linalg.pinv(best.jac.T @ best.jac) * scale
    except np.linalg.LinAlgError:
        warnings.append("no uncertainty: the Jacobian is singular")
        return None


S1PT_MODES = ("shared", "per-set")


def _huber_cost(resid: np.ndarray) -> float:
    """The Huber objective ``least_squares`` minimises (loss='huber', f_scale=HUBER_DELTA)."""
    z = (resid / HUBER_DELTA) ** 2
    rho = np.where(z <= 1, z, 2 * np.sqrt(z) - 1)
    return float(0.5 * HUBER_DELTA**2 * np.sum(rho))


def fit_shared(
    runs: Sequence[Run],
    law: str = "eq4",
    *,
    init: dict | None = None,
    **kw,
) -> dict[str, FitResult]:
    """Both validation sets fitted jointly with ONE S1pt per base model (paper §6: one base model
    has one summed PT learning rate), every other parameter per set (Eq. 4 / Eq. 8 per set).

    Starts: the per-set fits (``fit_target``), their S1pt values and their geometric mean; with
    ``init`` (a shared fit of related runs, e.g. all runs when this is a CV fold) only that one.
    Runs with PT history have nothing to share: the per-set fits are returned unchanged, as they
    are when only one validation set has losses or a per-set fit did not run."""
    targets = [t for t in ("pt", "cpt") if any(r.has_target(t) for r in runs)]
    init = init or {}
    t0 = time.perf_counter()
    warm = bool(init) and all(t in init for t in targets)

    def per_set() -> dict[str, FitResult]:
        return {t: fit_target(runs, t, law, init=init.get(t), **kw) for t in targets}

    per = {t: init[t] for t in targets} if warm else per_set()
    if len(targets) < 2 or not all(math.isfinite(per[t].params.L0) for t in targets):
        return per_set() if warm else per
    settings = {
        "lam": kw.get("lam", LAMBDA),
        "s2_form": kw.get("s2_form", "paper"),
        "eps": kw.get("eps", 0.1),
        "min_step": kw.get("min_step", 0),
        "skip_warmup": kw.get("skip_warmup", True),
    }
    joint = _joint_problem(runs, targets, law, per, settings)
    if joint is None:
        return per_set() if warm else per
    best, warnings = _joint_refine(joint, per, warm)
    if best is None:
        return per_set() if warm else per
    return _joint_results(joint, best, warnings, settings, t0)


@dataclass(frozen=True)
class _SetProblem:
    """One validation set's part of a joint fit: its rows, what is free, its bounds."""

    used: list
    data: _Data
    spec: _Spec
    warnings: list
    lo: np.ndarray
    hi: np.ndarray
    logy: np.ndarray


@dataclass(frozen=True, eq=False)
class _Joint:
    """The parameter vector of a shared-S1pt fit: each set's own free parameters, then one log
    S1pt per base model."""

    sets: dict  # target -> _SetProblem
    bases: list
    layout: dict  # target -> per free name its index in the joint vector (None: a log S1pt)
    n_own: int

    def index(self, t: str) -> list[int]:
        """Where each of set ``t``'s free parameters sits in the joint vector."""
        return [
            i if i is not None else self.n_own + self.bases.index(nm.split(":", 1)[1])
            for i, nm in zip(self.layout[t], self.sets[t].spec.free, strict=True)
        ]

    def split(self, theta: np.ndarray) -> dict:
        return {t: theta[self.index(t)] for t in self.sets}

    def residuals_of(self, t: str, theta_t: np.ndarray) -> np.ndarray:
        sp = self.sets[t]
        p, s1u = _unpack(theta_t, sp.spec, sp.data)
        return np.log(np.maximum(_model(p, sp.data, t, s1u), 1e-6)) - sp.logy

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        parts = self.split(theta)
        return np.concatenate([self.residuals_of(t, parts[t]) for t in self.sets])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Each set's own bounds; for a shared S1pt the range both sets allow."""
        n = self.n_own + len(self.bases)
        lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
        for t, sp in self.sets.items():
            for j, a, b in zip(self.index(t), sp.lo, sp.hi, strict=True):
                lo[j], hi[j] = max(lo[j], a), min(hi[j], b)
        return lo, hi


def _joint_problem(runs, targets, law: str, per: dict, settings: dict) -> _Joint | None:
    """The joint problem of both sets' CPT-only rows (None when a set has no unknown S1pt)."""
    sets = {}
    for t in targets:
        used = [r for r in runs if r.has_target(t)]
        data = _gather(used, t, *(settings[k] for k in ("lam", "s2_form", "eps", "min_step")),
                       settings["skip_warmup"])  # fmt: skip
        if not data.unknown_pt:
            return None
        warn_t: list[str] = []
        spec = _spec(data, law, per[t], warn_t)
        lo, hi = _bounds(data, spec)
        sets[t] = _SetProblem(used, data, spec, warn_t, lo, hi, np.log(data.y))
    bases = sorted({nm for sp in sets.values() for nm in sp.data.unknown_pt})
    layout, n_own = {}, 0
    for t, sp in sets.items():
        layout[t] = []
        for nm in sp.spec.free:
            layout[t].append(None if nm.startswith("logS1pt:") else n_own)
            n_own += not nm.startswith("logS1pt:")
    return _Joint(sets, bases, layout, n_own)


def _joint_refine(joint: _Joint, per: dict, warm: bool) -> tuple:
    """The best Huber refine of the joint vector over the S1pt starts (the per-set fits' values
    and their mean; a warm start only the mean), and the warnings of failed starts."""
    lo, hi = joint.bounds()
    x_own = np.empty(joint.n_own)
    for t, sp in joint.sets.items():
        v = _fit_space_values(per[t], sp.data)
        for i, nm in zip(joint.layout[t], sp.spec.free, strict=True):
            if i is not None:
                x_own[i] = v[nm]

    def log_s1(t: str, nm: str) -> float:
        return math.log(per[t].S1pt.get(nm, float(np.max(joint.sets[t].data.S1cpt)) or 1.0))

    targets = list(joint.sets)
    s1_starts = [[float(np.mean([log_s1(t, nm) for t in targets])) for nm in joint.bases]]
    if not warm:
        s1_starts += [[log_s1(t, nm) for nm in joint.bases] for t in targets]
    best, warnings = None, []
    for s1 in s1_starts:
        x0 = np.clip(np.r_[x_own, s1], lo + 1e-12 * (hi - lo), hi - 1e-12 * (hi - lo))
        try:
            r = least_squares(
                joint.residuals,
                x0,
                bounds=(lo, hi),
                loss="huber",
                f_scale=HUBER_DELTA,
                x_scale="jac",
                max_nfev=100 * len(x0),
                method="trf",
            )
        except (ValueError, FloatingPointError) as e:
            warnings.append(f"a shared-S1pt start failed numerically ({e})")
            continue
        if best is None or r.cost < best.cost:
            best = r
    return best, warnings


def _joint_results(joint: _Joint, best, warnings: list, settings: dict, t0: float) -> dict:
    """Each set's FitResult of the joint solution, with the joint Laplace covariance (each set's
    rows weighted by its own residual noise)."""
    parts = joint.split(best.x)
    resid = {t: joint.residuals_of(t, parts[t]) for t in joint.sets}
    ends = np.cumsum([0] + [len(r) for r in resid.values()])
    Jw = best.jac.copy()
    for k, (t, sp) in enumerate(joint.sets.items()):
        scale = _noise_scale(resid[t], sp.data.run_index, len(sp.spec.free))
        Jw[ends[k] : ends[k + 1]] /= math.sqrt(max(scale, 1e-300))
    try:
        covj = np.linalg.pinv(Jw.T @ Jw)
    except np.linalg.LinAlgError:
        covj = None
    out = {}
    other = {"pt": "domain", "cpt": "general"}
    for t, sp in joint.sets.items():
        jidx = joint.index(t)
        cov = covj[np.ix_(jidx, jidx)] if covj is not None else None
        sol = _Solution(parts[t], best.success, _huber_cost(resid[t]), best.message)
        what = f"{len(sp.used)} run(s) (S1pt shared with the {other[t]} set)"
        res = _diagnose(
            sol, False, sp.data, t, sp.spec, len(sp.used), sp.warnings + warnings, what=what,
            cov=cov,
        )  # fmt: skip
        out[t] = replace(
            res, **settings, seconds=time.perf_counter() - t0, s1pt_shared=True
        )
    return out


@dataclass(frozen=True)
class _Solution:
    """A solution in ``least_squares``' shape for ``_diagnose`` (a joint fit's one set)."""

    x: np.ndarray
    success: bool
    cost: float
    message: str
    jac: np.ndarray | None = None


def _noise_scale(resid: np.ndarray, run_index: np.ndarray, n_free: int) -> float:
    """Residual variance per degree of freedom, inflated for the lag-1 autocorrelation of the
    residuals along each curve (the factor a Laplace covariance is scaled by)."""
    s2 = float(np.sum(resid**2)) / max(len(resid) - n_free, 1)
    rho = _lag1_autocorr(resid, run_index)
    return s2 * (1 + rho) / max(1 - rho, 1e-3)


def _lag1_autocorr(resid: np.ndarray, run_index: np.ndarray) -> float:
    num = den = 0.0
    for j in np.unique(run_index):
        r = resid[run_index == j]
        r = r - r.mean()
        if len(r) > 2:
            num += float(np.sum(r[1:] * r[:-1]))
            den += float(np.sum(r * r))
    return float(np.clip(num / den, 0.0, 0.99)) if den > 0 else 0.0


def fit_runs(runs: Sequence[Run], law: str | None = None, **kw) -> dict[str, FitResult]:
    """Fit both validation sets (those the runs have); ``law=None`` picks the default law."""
    law = law or default_law(runs)
    out = {}
    for target in ("pt", "cpt"):
        if any(r.has_target(target) for r in runs):
            out[target] = fit_target(runs, target, law, **kw)
    return out


def prediction_band(
    result: FitResult,
    areas: Areas,
    replay: float = 0.0,
    S1pt: float | None = None,
    z: float = 1.96,
    widen: float = 1.0,
    base_model: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) band of the predicted loss; ``z`` = 1.96 is ~95 %. ``base_model``: the open
    base model whose S1pt is given (its uncertainty enters the delta-method band: S1pt is strongly
    correlated with A and alpha, so leaving it out would overstate the band).

    With a calibration (``FitResult.calibration``, from grouped cross-validation) the band is the
    measured quantile of held-out |log error| at that CPT progress, times ``widen`` (>= 1 outside
    the fitted envelope, ``cptcore.envelope.widening``); its coverage is what the README reports.
    Without one (e.g. published parameters) it falls back to the delta method on the fit's
    covariance, which reflects parameter uncertainty only."""
    p = result.params
    base = predict(p, areas, replay, result.target, S1pt)
    cal = result.calibration
    if cal is not None:
        level = math.erf(z / math.sqrt(2.0))
        levels = np.asarray(cal["levels"], float)
        q_bins = np.array([np.interp(level, levels, row) for row in cal["q"]])
        edges = np.asarray(cal["progress_bins"], float)
        centres = (edges[:-1] + edges[1:]) / 2  # interpolated between bins: no steps in the band
        prog = areas.S1cpt / cal["S1cpt_ref"]
        q = np.interp(prog, centres, q_bins) * widen
        q[areas.S1cpt <= 0] = float(np.interp(level, levels, cal["pt_q"]))
        return base * np.exp(-q), base * np.exp(q)
    if result.cov is None or not result.free_names:
        return base, base
    grads = []
    s1_name = f"logS1pt:{base_model}" if base_model is not None and S1pt is not None else None
    names = [nm for nm in result.free_names if not nm.startswith("logS1pt:") or nm == s1_name]
    logb = np.log(np.maximum(base, 1e-9))
    for nm in names:
        if nm == s1_name:
            h = 1e-6
            moved = predict(p, areas, replay, result.target, S1pt * math.exp(h))
        else:
            h = 1e-6 * max(1.0, abs(_get(p, nm)))
            moved = predict(_set(p, nm, _get(p, nm) + h), areas, replay, result.target, S1pt)
        grads.append((np.log(np.maximum(moved, 1e-9)) - logb) / h)
    G = np.array(grads)
    idx = [result.free_names.index(nm) for nm in names]
    C = result.cov[np.ix_(idx, idx)]
    var = np.einsum("in,ij,jn->n", G, C, G)
    sd = np.sqrt(np.maximum(var, 0.0)) * widen
    return base * np.exp(-z * sd), base * np.exp(z * sd)


def _get(p: LawParams, nm: str) -> float:
    return math.log(getattr(p, nm[3:])) if nm in ("logE", "logkappa") else float(getattr(p, nm))


def _set(p: LawParams, nm: str, value: float) -> LawParams:
    if nm in ("logE", "logkappa"):
        return p.with_values(**{nm[3:]: math.exp(value)})
    kw = {nm: value}
    return p.with_values(**kw)


__all__ = [
    "FitResult",
    "RunMetrics",
    "fit_target",
    "fit_runs",
    "fit_shared",
    "S1PT_MODES",
    "evaluate",
    "prediction_band",
    "default_law",
    "NAMES",
]
