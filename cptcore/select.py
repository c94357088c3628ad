"""The default fit: the law form and lambda that predict held-out runs best, chosen by grouped CV.

A law is only as good as its predictions for settings it was not fitted on, so ``fit_model`` scores
every candidate (law form x lambda) by grouped cross-validation on the runs given, and fits the
winner on all of them:

- **groups**: runs that share a CPT setting (replay ratio, CPT peak LR, CPT length, CPT schedule
  shape) are held out together, so a fold never sees the same CPT setting from another PT history;
  with fewer than three such groups every run is its own group (leave one run out);
- **score**: the mean over held-out runs of the CPT-phase MAE (the whole-run MAE for runs without a
  CPT phase), averaged over the two validation sets; lower is better;
- **speed**: each candidate is fitted once on all runs (full start grid) and each fold starts from
  that fit (``fit_target(init=...)``, no grid); candidates run in parallel processes.

CPT-only runs (unknown PT history, paper §6) add one choice: S1pt per base model fitted per
validation set or shared by both (``fit.fit_shared``); with ``s1pt='auto'`` the best per-set
(law, lambda) is cross-validated once more with S1pt shared and the better one wins.

With fewer than three runs nothing can be cross-validated: the documented fallback is the tau-form
when the runs have two or more replay ratios (it recovers Eq. 4 at replay 0), else Eq. 4, at the
paper's lambda = 0.999. With one replay ratio the replay forms are all Eq. 4, so only Eq. 4 (and
eq4-speed) is tried. The peak-LR speed forms (tau-speed, eq4-speed: the shift's speed E scales as
(eta_peak/eta_ref)^mu) are candidates only when the runs have two or more CPT peak LRs; they won
leave-one-peak-LR-out on the sample runs without losing elsewhere (``benchmarks/law_forms.py``).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from cptcore.areas import LAMBDA
from cptcore.envelope import envelope_of, setting_of_run
from cptcore.errors import InputError
from cptcore.fit import (
    S1PT_MODES,
    FitResult,
    calibration,
    default_law,
    evaluate,
    fit_shared,
    fit_target,
    replay_ratios,
    scored_rows,
)
from cptcore.law import FORMS, PEAK_FORMS
from cptcore.runs import Run

CANDIDATE_LAWS = ("eq4", "eq8", "eq8-convex", "tau", "tau-speed")
# with one replay ratio the replay forms are all Eq. 4: these are tried instead
ONE_RATIO_LAWS = ("eq4", "eq4-speed")
LAMBDA_GRID = (0.98, 0.99, 0.995, 0.999)
MIN_RUNS_FOR_CV = 3
# CPT-only runs without cross-validation (fewer than three runs): S1pt per validation set, the mode
# that predicted the held-out CPT-only sample runs better (README "Open models"; measured by
# benchmarks/open_model.py: 0.068 vs 0.077 nats mean held-out CPT-phase MAE)
DEFAULT_S1PT = "per-set"


@dataclass(frozen=True)
class Candidate:
    """One (law, lambda) candidate with its cross-validated score per validation set."""

    law: str
    lam: float
    scores: dict  # target -> mean held-out CPT-phase MAE over folds (NaN: not scored)
    fitted_law: dict  # target -> law actually fitted on all runs (a replay form may fall back)
    s1pt: str = "per-set"  # CPT-only runs: one S1pt per base per set, or shared by both sets

    @property
    def score(self) -> float:
        """Mean over the validation sets that were scored (NaN if none)."""
        vals = [v for v in self.scores.values() if math.isfinite(v)]
        return float(np.mean(vals)) if vals else float("nan")


@dataclass(frozen=True)
class Selection:
    """What model selection tried and chose; stored in params.json and shown by the CLI and app."""

    law: str
    lam: float
    candidates: tuple[Candidate, ...]
    folds: tuple[tuple[str, ...], ...]  # run names held out together, per fold
    message: str
    cross_validated: bool
    s1pt: str | None = None  # how CPT-only runs' S1pt was fitted (``S1PT_MODES``); None: no such runs

    def to_dict(self) -> dict:
        return {
            "law": self.law,
            "lambda": self.lam,
            "cross_validated": self.cross_validated,
            **({"s1pt": self.s1pt} if self.s1pt else {}),
            "message": self.message,
            "score": "mean held-out CPT-phase MAE (nats), grouped cross-validation",
            "folds": [list(f) for f in self.folds],
            "candidates": [
                {
                    "law": c.law,
                    "lambda": c.lam,
                    **({"s1pt": c.s1pt} if self.s1pt else {}),
                    "score": _num(c.score),
                    **{f"score_{t}": _num(v) for t, v in c.scores.items()},
                }
                for c in self.candidates
            ],
        }

    def table(self) -> str:
        """A plain-text table of the candidates, best first."""
        lines = [f"{'law':<11} {'lambda':>7} {'general':>8} {'domain':>8} {'mean':>8}"]
        ranked = sorted(self.candidates, key=lambda c: (not math.isfinite(c.score), c.score))
        for c in ranked:
            chosen = (c.law, c.lam) == (self.law, self.lam) and c.s1pt == (self.s1pt or c.s1pt)
            mark = "  <- chosen" if chosen else ""
            mark = (" S1pt shared" if c.s1pt == "shared" else "") + mark
            g, d = c.scores.get("pt", math.nan), c.scores.get("cpt", math.nan)
            lines.append(
                f"{c.law:<11} {c.lam:>7g} {_fmt(g):>8} {_fmt(d):>8} {_fmt(c.score):>8}{mark}"
            )
        return "\n".join(lines)


def _num(x: float):
    return None if x is None or not math.isfinite(x) else float(x)


def _fmt(x: float) -> str:
    return f"{x:.4f}" if math.isfinite(x) else "-"


def cpt_setting(run: Run) -> tuple:
    """What a run's CPT phase was: (replay, peak LR, length, schedule shape) - the grouping key,
    from the same settings the fitted envelope records (``envelope.setting_of_run``)."""
    s = setting_of_run(run)
    if s is None:
        return ("pt-only", run.name)
    peak = float(f"{s.cpt_peak_lr:.3g}")
    return (round(s.replay, 4), peak, s.cpt_steps, round(s.cpt_mean_lr_fraction, 2))


def cpt_peak_lrs(runs: Sequence[Run]) -> int:
    """How many distinct CPT peak LRs (3 significant digits) the runs with a CPT phase have (the
    peak forms need 2)."""
    return len({cpt_setting(r)[1] for r in runs if setting_of_run(r) is not None})


def groups(runs: Sequence[Run]) -> list[list[int]]:
    """Indices of runs held out together: one group per CPT setting, or one per run if fewer than
    three settings."""
    by: dict = {}
    for i, r in enumerate(runs):
        by.setdefault(cpt_setting(r), []).append(i)
    if len(by) >= MIN_RUNS_FOR_CV:
        return list(by.values())
    return [[i] for i in range(len(runs))]


def _score_runs(metrics) -> list[float]:
    out = []
    for m in metrics:
        v = m.cpt_mae if math.isfinite(m.cpt_mae) else m.mae
        if math.isfinite(v):
            out.append(v)
    return out


def _targets(runs: Sequence[Run]) -> tuple[str, ...]:
    return tuple(t for t in ("pt", "cpt") if any(r.has_target(t) for r in runs))


def _candidate(
    runs: list[Run],
    folds: list[list[int]],
    law: str,
    lam: float,
    fit_kw: dict,
    s1pt: str = "per-set",
):
    """Fit one candidate on all runs, then score it on every fold (warm-started). Picklable.

    ``s1pt='shared'``: both validation sets are fitted jointly (``fit.fit_shared``), on all runs
    and in every fold. Returns the candidate, its fits on all runs (with a calibrated band from the
    folds' held-out errors, ``fit.calibration``) and nothing else."""
    scores, fitted = {}, {}
    full = {}
    env = envelope_of(runs, lam)
    shared = fit_shared(runs, law, lam=lam, **fit_kw) if s1pt == "shared" else None
    shared_folds: dict = {}

    def fold_fit(i: int, train: list[Run], target: str, init) -> FitResult:
        if shared is None:
            return fit_target(train, target, law, lam=lam, init=init, **fit_kw)
        if i not in shared_folds:
            warm = {t: f for t, f in shared.items() if math.isfinite(f.params.L0)}
            shared_folds[i] = fit_shared(train, law, lam=lam, init=warm, **fit_kw)
        return shared_folds[i][target]

    for target in _targets(runs):
        if shared is not None:
            res = shared[target]
        else:
            res = fit_target(runs, target, law, lam=lam, **fit_kw)
        fitted[target] = res.params.law if math.isfinite(res.params.L0) else law
        errs, s1, err = [], [], []
        for k, fold in enumerate(folds):
            held = [runs[i] for i in fold if runs[i].has_target(target)]
            train = [r for i, r in enumerate(runs) if i not in fold]
            if not held or not any(r.has_target(target) for r in train):
                continue
            init = res if math.isfinite(res.params.L0) else None
            fr = fold_fit(k, train, target, init)
            if not math.isfinite(fr.params.L0):
                continue
            errs += _score_runs(evaluate(fr, held))
            for _, y, pred, a in scored_rows(fr, held):
                cpt = a.S1cpt > 0
                s1.append(a.S1cpt[cpt])
                err.append(np.abs(np.log(y[cpt] / pred[cpt])))
        scores[target] = float(np.mean(errs)) if errs else float("nan")
        if math.isfinite(res.params.L0) and err and env is not None:
            pt_err = [
                np.abs(np.log(y / pred))[a.S1cpt <= 0] for _, y, pred, a in scored_rows(res, runs)
            ]
            cal = calibration(
                np.concatenate(s1), np.concatenate(err), env.S1cpt[1], np.concatenate(pt_err)
            )
            res = replace(res, calibration=cal)
        full[target] = res
    return Candidate(law, float(lam), scores, fitted, s1pt), full


def default_jobs() -> int:
    """Worker processes for model selection: the usable CPUs, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def select_model(
    runs: Sequence[Run],
    laws: Sequence[str] | str = "auto",
    lams: Sequence[float] | float | str = "auto",
    *,
    progress: Callable[[float, str], None] | None = None,
    jobs: int | None = None,
    s1pt: str = "auto",
    **fit_kw,
) -> tuple[Selection, dict[str, FitResult] | None]:
    """Choose (law, lambda) by grouped cross-validation; returns the selection and, when it was
    computed along the way, the winner's fits on all runs (else None: fit them yourself).

    ``laws``/``lams``: 'auto' for all candidates, or the ones to try (one value: no choice there).
    ``s1pt``: for CPT-only runs (paper §6), 'per-set' (one S1pt per base and validation set, the
    paper's Fig. 18), 'shared' (one per base for both sets, ``fit.fit_shared``) or 'auto': the
    best (law, lambda) found per set is cross-validated once more with S1pt shared, and the better
    of the two wins (one extra candidate); without cross-validation ``DEFAULT_S1PT``.
    """
    runs = [r for r in runs if r.has_target("pt") or r.has_target("cpt")]
    law_list = _law_candidates(runs, laws)
    lam_list = list(LAMBDA_GRID) if isinstance(lams, str) else list(np.atleast_1d(lams))
    _check_choices(lam_list, s1pt)
    open_ = has_open_runs(runs)
    mode = s1pt if (open_ and s1pt != "auto") else "per-set"
    try_shared = open_ and s1pt == "auto"
    if len(runs) < MIN_RUNS_FOR_CV:
        return _without_cv(runs, law_list, lam_list, DEFAULT_S1PT if try_shared else mode, open_)
    folds = groups(runs)
    if len(law_list) * len(lam_list) == 1:  # forced: still cross-validated, for its score and band
        return _forced(runs, folds, law_list[0], float(lam_list[0]), fit_kw, mode, open_, try_shared)
    t0 = time.perf_counter()
    n_jobs = default_jobs() if jobs is None else max(1, int(jobs))
    results = _search(runs, folds, law_list, lam_list, mode, try_shared, fit_kw, n_jobs, progress)
    cands = tuple(c for c, _ in results.values())
    finite = [c for c in cands if math.isfinite(c.score)]
    if not finite:
        law = _fallback_law(runs, law_list)
        msg = f"cross-validation scored nothing; used the documented fallback {law}, lambda = 0.999"
        sel = Selection(
            law, LAMBDA, cands, _fold_names(runs, folds), msg, False, mode if open_ else None
        )
        return sel, None
    best = min(finite, key=_sort_key)
    kind = "leave one CPT setting out" if len(folds) < len(runs) else "leave one run out"
    msg = (
        f"{best.law} with lambda = {best.lam:g} chosen by grouped cross-validation ({kind}, "
        f"{len(folds)} folds, {len(results)} candidates, {time.perf_counter() - t0:.0f} s): "
        f"held-out CPT-phase MAE {best.score:.4f} nats" + _s1pt_words(best.s1pt, open_, try_shared)
    )
    sel = Selection(
        best.law,
        best.lam,
        cands,
        _fold_names(runs, folds),
        msg,
        True,
        best.s1pt if open_ else None,
    )
    return sel, results[(best.law, best.lam, best.s1pt)][1]


def _check_choices(lam_list: list, s1pt: str) -> None:
    """One line for a lambda outside [0, 1) or an unknown S1pt mode."""
    for lam in lam_list:
        if not 0.0 <= float(lam) < 1.0:
            raise InputError(
                "lambda must be in [0, 1)", column="lambda", received=lam, fix="e.g. 0.999"
            )
    if s1pt not in ("auto", *S1PT_MODES):
        raise InputError(
            "unknown S1pt mode", column="s1pt", received=s1pt, fix="Use auto, shared or per-set"
        )


def _without_cv(runs, law_list: list, lam_list: list, mode: str, open_: bool):
    """Too few runs to cross-validate: the documented fallback (or the one candidate given)."""
    law = _fallback_law(runs, law_list)
    lam = LAMBDA if LAMBDA in lam_list else float(lam_list[-1])
    if len(law_list) * len(lam_list) == 1:
        law, lam = law_list[0], float(lam_list[0])
    msg = (
        f"only {len(runs)} run(s) with losses: too few to cross-validate (need "
        f"{MIN_RUNS_FOR_CV}); used {law} with lambda = {lam:g}"
        + ("" if law == law_list[0] and len(law_list) == 1 else " (the documented fallback)")
        + (f", S1pt {mode}" if open_ else "")
    )
    return Selection(law, lam, (), (), msg, False, mode if open_ else None), None


def _forced(runs, folds, law: str, lam: float, fit_kw, mode: str, open_: bool, try_shared: bool):
    """One (law, lambda) given: still cross-validated, for its score and its calibrated band."""
    tried = [_candidate(runs, folds, law, lam, fit_kw, mode)]
    if try_shared:
        tried.append(_candidate(runs, folds, law, lam, fit_kw, "shared"))
    cand, fits = min(tried, key=lambda cf_: _sort_key(cf_[0]))
    msg = (
        f"{law} with lambda = {lam:g} (as given); grouped cross-validation: held-out "
        f"CPT-phase MAE {cand.score:.4f} nats" + _s1pt_words(cand.s1pt, open_, try_shared)
    )
    sel = Selection(
        law,
        lam,
        tuple(c for c, _ in tried),
        _fold_names(runs, folds),
        msg,
        False,
        cand.s1pt if open_ else None,
    )
    return sel, fits


def _search(runs, folds, law_list, lam_list, mode, try_shared, fit_kw, n_jobs, progress) -> dict:
    """Every candidate scored, {(law, lambda, S1pt mode): (Candidate, fits)}. Three stages keep the
    cost down: every law at one lambda, then the best two laws at the other lambdas, then (for
    CPT-only runs with ``try_shared``) the best of those with S1pt shared by both sets."""
    results: dict = {}
    lam0 = float(lam_list[len(lam_list) // 2]) if len(law_list) > 2 else None
    stage1 = [(law, lam0, mode) for law in law_list] if lam0 is not None else []
    n_total = len(stage1) + (2 * (len(lam_list) - 1) if stage1 else len(law_list) * len(lam_list))
    n_total += int(try_shared)
    if progress:
        progress(0.0, f"cross-validating up to {n_total} candidates on {len(folds)} folds")
    _run_tasks(stage1, runs, folds, fit_kw, n_jobs, results, progress, n_total)
    if stage1:
        ranked = sorted(stage1, key=lambda t: _sort_key(results[t][0]))
        keep = [law for law, _, _ in ranked[:2]]
    else:
        keep = law_list
    stage2 = [
        (law, float(lam), mode)
        for law in keep
        for lam in lam_list
        if (law, float(lam), mode) not in results
    ]
    _run_tasks(stage2, runs, folds, fit_kw, n_jobs, results, progress, n_total)
    if try_shared:
        scored = [t for t in results if math.isfinite(results[t][0].score)]
        if scored:
            law, lam, _ = min(scored, key=lambda t: _sort_key(results[t][0]))
            _run_tasks([(law, lam, "shared")], runs, folds, fit_kw, 1, results, progress, n_total)
    return results


def has_open_runs(runs: Sequence[Run]) -> bool:
    """Whether the S1pt mode matters: CPT-only runs (unknown PT history) with losses on both sets."""
    return any(not r.pt_history_known for r in runs) and len(_targets(runs)) == 2


def _s1pt_words(mode: str, open_: bool, chosen: bool) -> str:
    if not open_:
        return ""
    how = "chosen by the same cross-validation" if chosen else "as given"
    what = "one per base model, shared by both sets" if mode == "shared" else "one per base and set"
    return f"; S1pt {what} ({how})"


def fit_sets(
    runs: Sequence[Run], law: str, lam: float, s1pt: str = "per-set", **fit_kw
) -> dict[str, FitResult]:
    """Every validation set the runs have, fitted with ``law`` and ``lam``; S1pt of CPT-only runs
    per set or shared by the sets (``fit.fit_shared``)."""
    if s1pt == "shared":
        return fit_shared(runs, law, lam=lam, **fit_kw)
    return {t: fit_target(runs, t, law, lam=lam, **fit_kw) for t in _targets(runs)}


@dataclass(frozen=True, eq=False)
class FitOutcome:
    """The default fit: the chosen model fitted on all runs, with held-out runs scored."""

    fits: dict  # target -> FitResult (metrics of held-out runs appended, marked held_out)
    selection: Selection
    envelope: object = None  # cptcore.envelope.Envelope of the fitted runs (None: no CPT phase)


def fit_model(
    runs: Sequence[Run],
    held_out: Sequence[Run] = (),
    law: Sequence[str] | str = "auto",
    lam: Sequence[float] | float | str = "auto",
    *,
    progress: Callable[[float, str], None] | None = None,
    jobs: int | None = None,
    s1pt: str = "auto",
    **fit_kw,
) -> FitOutcome:
    """Choose the model (``select_model``), fit it on ``runs`` and score ``held_out`` runs: the one
    fit workflow of the CLI, the Fit page and the benchmarks. ``s1pt``: see ``select_model``."""
    sel, fits = select_model(runs, law, lam, progress=progress, jobs=jobs, s1pt=s1pt, **fit_kw)
    if fits is None:
        fits = fit_sets(runs, sel.law, sel.lam, sel.s1pt or "per-set", **fit_kw)
    out = {}
    for target, f in fits.items():
        if held_out and math.isfinite(f.params.L0):  # NaN L0: the fit did not run
            f = replace(f, metrics=f.metrics + evaluate(f, held_out))
        out[target] = f
    if progress:
        progress(1.0, "done")
    return FitOutcome(out, sel, envelope_of(runs, sel.lam))


def _sort_key(c: Candidate) -> tuple:
    return (not math.isfinite(c.score), c.score)


def _run_tasks(tasks, runs, folds, fit_kw, n_jobs, results, progress, n_total) -> None:
    """Score candidates (in parallel processes when n_jobs > 1), filling ``results`` in place."""

    def report(task) -> None:
        if progress:
            done = len(results)
            shared = ", S1pt shared" if task[2] == "shared" else ""
            progress(
                min(done / n_total, 0.99),
                f"candidate {done}/{n_total}: {task[0]}, λ {task[1]:g}{shared}",
            )

    if not tasks:
        return
    if n_jobs == 1 or len(tasks) == 1:
        for task in tasks:
            results[task] = _candidate(runs, folds, task[0], task[1], fit_kw, task[2])
            report(task)
        return
    ctx = multiprocessing.get_context("spawn")  # safe inside threaded servers (the app)
    with cf.ProcessPoolExecutor(min(n_jobs, len(tasks)), mp_context=ctx) as pool:
        futs = {pool.submit(_candidate, runs, folds, t[0], t[1], fit_kw, t[2]): t for t in tasks}
        try:
            for fut in cf.as_completed(futs):
                results[futs[fut]] = fut.result()
                report(futs[fut])
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _fold_names(runs, folds) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(runs[i].name for i in f) for f in folds)


def _law_candidates(runs: Sequence[Run], laws) -> list[str]:
    if isinstance(laws, str) and laws != "auto":
        laws = [laws]
    if isinstance(laws, str):  # auto
        auto = CANDIDATE_LAWS if replay_ratios(runs) > 1 else ONE_RATIO_LAWS
        if cpt_peak_lrs(runs) < 2:  # the peak forms would be fitted as the tau-form / Eq. 4
            auto = tuple(law for law in auto if law not in PEAK_FORMS)
        return list(auto)
    for law in laws:
        if law not in FORMS:
            raise InputError(
                "unknown law", received=law, fix=f"Use auto or one of {', '.join(FORMS)}"
            )
    return list(laws)


def _fallback_law(runs: Sequence[Run], law_list: list[str]) -> str:
    law = default_law(runs)
    return law if law in law_list else law_list[0]


__all__ = [
    "Candidate",
    "Selection",
    "FitOutcome",
    "fit_model",
    "fit_sets",
    "has_open_runs",
    "select_model",
    "groups",
    "cpt_setting",
    "LAMBDA_GRID",
]
