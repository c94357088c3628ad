"""params.json: the fitted parameter sets of both validation sets, with provenance and uncertainty.

Minimal file (must load): ``{"lambda": 0.999, "pt": {L0, A, alpha, C1, C2, B, E, beta}, "cpt": {...}}``.
``a1``/``a2`` present in a section means Eq. 8. Extra keys written by the fitter: ``s2_form``, ``eps``,
``metrics``, ``uncertainty`` (free parameter names + covariance), ``S1pt`` (CPT-only runs: one per
base model; ``S1pt_shared``: true when one value per base was fitted for both sets),
``warnings``, ``message``, ``provenance``, ``calibration`` (per section: the band from grouped
cross-validation) and ``envelope`` (top level: what the fitted runs covered, ``cptcore.envelope``).
Top level ``bases`` (written, not read back: the sections' ``S1pt`` are the source) summarises the
fitted base models of CPT-only runs (paper §6) for readers of the file (``base_models``).
Files without the newer keys load (no calibrated band, no envelope warnings).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cptcore.areas import LAMBDA, S2_FORMS, Areas, row_areas
from cptcore.envelope import Envelope
from cptcore.errors import InputError
from cptcore.fit import FitResult, RunMetrics, warmup_end
from cptcore.inputs import decode, load_json, read_at_most, too_large
from cptcore.law import LawParams, predict
from cptcore.runs import MAX_STEPS, Run, base_of

MAX_PARAMS_BYTES = 5 * 1024 * 1024
_REWRITE = "Use the params.json written by 'python -m cptcore fit'"


@dataclass(frozen=True, eq=False)
class ParamSet:
    """What the app and CLI predict with: one ``FitResult`` per validation set that has one."""

    fits: dict  # 'pt' / 'cpt' -> FitResult
    lam: float = LAMBDA
    s2_form: str = "paper"
    eps: float = 0.1
    provenance: dict = field(default_factory=dict)
    envelope: Envelope | None = None  # what the fitted runs covered (cptcore.envelope)
    source: str = ""  # the file the set was read from, for messages ("" when built in memory)

    def params(self, target: str) -> LawParams | None:
        f = self.fits.get(target)
        return f.params if f is not None else None

    @property
    def open_model(self) -> bool:
        """Whether this is a fit of CPT-only runs (paper §6): fitted base models and no run with a
        known PT history in its envelope (older files without an envelope: bases alone decide)."""
        has_bases = any(f.S1pt for f in self.fits.values())
        return has_bases and (self.envelope is None or self.envelope.loss_potential is None)

    @property
    def law(self) -> str:
        return next(iter(self.fits.values())).params.law if self.fits else "eq4"

    @property
    def models_replay(self) -> bool:
        """Whether predictions depend on the replay ratio: every validation set's law models it
        (``LawParams.models_replay``). The one answer the pages, the planner and the report use."""
        return bool(self.fits) and all(f.params.models_replay for f in self.fits.values())

    def predict_run(
        self, run: Run, source: str | None = None, full: Areas | None = None
    ) -> dict[str, np.ndarray]:
        """Predicted losses at the run's rows, per validation set this set has (NaN at the initial
        model, where the law is undefined); ``InputError`` when the run is CPT-only and has no fitted
        S1pt here, or when a prediction is not a plausible loss (``check_predicted``).

        ``full``: the run's areas with this set's lambda and S2 form, at every step or at its rows,
        when the caller has them already (computed here otherwise, per linear segment when the
        rows are sparse: ``row_areas``)."""
        src = source or run.name
        if full is None:
            full = row_areas(run, lam=self.lam, s2_form=self.s2_form, eps=self.eps)
        areas = full.at(run.step) if full.rows is None else full
        out = {}
        for target, f in self.fits.items():
            S1pt = f.S1pt_for(run)
            if not run.pt_history_known and S1pt is None:
                fitted = ", ".join(sorted(f.S1pt)) or "none"
                raise InputError(
                    f"this run has no pre-training rows (unknown PT history) and its base model "
                    f"'{base_of(run)}' was not fitted (fitted bases: {fitted})",
                    source=src,
                    column="base",
                    fix="Name a fitted base (--base NAME or a 'base' column), fit runs from this "
                    "base too, or give the run's pre-training rows with phase 'pt'",
                )
            pred = predict(f.params, areas, run.replay, target, S1pt)
            S1 = areas.S1pt + areas.S1cpt if S1pt is None else areas.S1cpt + S1pt
            check_predicted(
                pred,
                target,
                self.source,
                lambda i: f"at step {int(run.step[i]):,} of {src}",
                defined=S1 > 0,  # the initial model (S1 = 0): no prediction
                # the rows a fit covers (after the warm-up, from its min_step): at most 100 nats
                upper_from=int(np.searchsorted(run.step, max(warmup_end(run), f.min_step))),
            )
            out[target] = pred
        return out

    @classmethod
    def from_fits(
        cls, fits: dict, provenance: dict | None = None, envelope: Envelope | None = None
    ) -> ParamSet:
        first = next(iter(fits.values()))
        return cls(
            dict(fits), first.lam, first.s2_form, first.eps, dict(provenance or {}), envelope
        )

    @classmethod
    def from_params(
        cls, params: dict, provenance: dict | None = None, lam: float = LAMBDA
    ) -> ParamSet:
        """Wrap bare ``LawParams`` (e.g. the paper's published numbers) without fit diagnostics."""
        fits = {
            t: FitResult(t, p, True, "given parameters (not fitted here)", (), lam=lam)
            for t, p in params.items()
        }
        return cls(fits, lam, "paper", 0.1, dict(provenance or {}))


@dataclass(frozen=True)
class BaseModel:
    """A fitted base model of CPT-only runs (paper §6): its S1pt per validation set and the
    Laplace (Jacobian) standard deviation of log S1pt, when the fit has a covariance."""

    name: str
    S1pt: dict  # target -> fitted S1pt
    log_sd: dict  # target -> standard deviation of log S1pt (absent: no covariance)
    shared: bool  # one S1pt for both validation sets

    def range(self, target: str, z: float = 1.96) -> tuple[float, float] | None:
        """(low, high) of S1pt at ~95 % (z = 1.96): exp(log S1pt -/+ z * sd), or None."""
        sd = self.log_sd.get(target)
        if sd is None or not math.isfinite(sd):
            return None
        v = self.S1pt[target]
        return v * math.exp(-z * sd), v * math.exp(z * sd)

    def to_dict(self) -> dict:
        d: dict = {"S1pt": dict(self.S1pt), "S1pt_shared": self.shared}
        if self.log_sd:
            d["log_S1pt_sd"] = {t: float(v) for t, v in self.log_sd.items()}
            d["uncertainty"] = "Laplace (Jacobian) covariance of the fit, log S1pt"
        return d


def base_models(ps: ParamSet) -> dict[str, BaseModel]:
    """The fitted base models in ``ps`` (CPT-only runs), by name; {} for fits with PT history."""
    out: dict[str, BaseModel] = {}
    names = sorted({nm for f in ps.fits.values() for nm in f.S1pt})
    for nm in names:
        s1, sd = {}, {}
        for t, f in ps.fits.items():
            if nm not in f.S1pt:
                continue
            s1[t] = float(f.S1pt[nm])
            key = f"logS1pt:{nm}"
            if f.cov is not None and key in f.free_names:
                i = f.free_names.index(key)
                sd[t] = math.sqrt(max(float(f.cov[i, i]), 0.0))
        shared = all(f.s1pt_shared for f in ps.fits.values() if nm in f.S1pt) and len(s1) > 1
        out[nm] = BaseModel(nm, s1, sd, shared)
    return out


def to_dict(ps: ParamSet) -> dict:
    d: dict = {"lambda": ps.lam, "s2_form": ps.s2_form, "eps": ps.eps}
    for target, f in ps.fits.items():
        sec = f.params.to_dict()
        sec["success"] = bool(f.success)
        sec["fit_from"] = {"min_step": int(f.min_step), "skip_warmup": bool(f.skip_warmup)}
        sec["message"] = f.message
        if f.warnings:
            sec["warnings"] = list(f.warnings)
        if f.metrics:
            sec["metrics"] = [
                {
                    "run": m.name,
                    "n": m.n_points,
                    "r2": _num(m.r2),
                    "mae": m.mae,
                    "max_error": m.max_error,
                    "held_out": m.held_out,
                    "cpt_mae": _num(m.cpt_mae),
                    "cpt_points": m.cpt_points,
                }
                for m in f.metrics
            ]
        if f.cov is not None:
            sec["uncertainty"] = {
                "free": list(f.free_names),
                "cov": np.asarray(f.cov).tolist(),
                "stderr": f.stderr(),
            }
        if f.S1pt:
            sec["S1pt"] = dict(f.S1pt)
            if f.s1pt_shared:
                sec["S1pt_shared"] = True
        if f.calibration:
            sec["calibration"] = f.calibration
        d[target] = sec
    models = base_models(ps)
    if models:
        d["bases"] = {nm: b.to_dict() for nm, b in models.items()}
    if ps.envelope is not None:
        d["envelope"] = ps.envelope.to_dict()
    if ps.provenance:
        d["provenance"] = ps.provenance
    return d


def _num(x: float):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def dumps(ps: ParamSet) -> str:
    return json.dumps(to_dict(ps), indent=2)


def save(ps: ParamSet, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(dumps(ps))


def loads(text: str | bytes, source: str = "params.json") -> ParamSet:
    """Parse a params.json; ``InputError`` naming the key and the fix on any problem."""
    d = _json_object(text, source)
    lam, s2_form, eps = _settings(d, source)
    fits = {
        target: _fit_section(d[target], target, lam, s2_form, eps, source)
        for target in ("pt", "cpt")
        if target in d
    }
    if not fits:
        raise InputError(
            "no 'pt' or 'cpt' parameter section",
            source=source,
            fix='Give at least one of "pt": {...} and "cpt": {...} with L0, A, alpha, C1, C2, B, E, beta',
        )
    prov = d.get("provenance") if isinstance(d.get("provenance"), dict) else {}
    envelope = Envelope.from_dict(d.get("envelope"))
    return ParamSet(fits, lam, s2_form, eps, prov, envelope, source)


def _json_object(text: str | bytes, source: str) -> dict:
    """The file's top-level JSON object (bytes: at most ``MAX_PARAMS_BYTES``, UTF-8 or UTF-16)."""
    if isinstance(text, bytes):
        if len(text) > MAX_PARAMS_BYTES:
            problem = "file too large for a parameter file"
            raise too_large(len(text), source, _REWRITE, problem, decimals=1)
        text = decode(text, source, fix=_REWRITE, guess_utf16=False)
    d = load_json(text, source, fix=_REWRITE)
    if not isinstance(d, dict):
        raise InputError(
            "expected a JSON object",
            source=source,
            received=type(d).__name__,
            fix='Start the file with {"lambda": 0.999, "pt": {...}, "cpt": {...}}',
        )
    return d


def _settings(d: dict, source: str) -> tuple[float, str, float]:
    """The areas' settings shared by both sections: lambda, the S2 form and eps (defaults when
    absent)."""
    lam = d.get("lambda", LAMBDA)
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not (0 < lam < 1):
        raise InputError(
            "lambda must be a number between 0 and 1",
            source=source,
            column="lambda",
            received=lam,
            fix="The paper uses 0.999",
        )
    s2_form = d.get("s2_form", "paper")
    if not isinstance(s2_form, str) or s2_form not in S2_FORMS:
        raise InputError(
            "unknown s2_form",
            source=source,
            column="s2_form",
            received=s2_form,
            fix=f"Use one of {', '.join(S2_FORMS)}",
        )
    eps = d.get("eps", 0.1)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (0 <= eps <= 1):
        raise InputError("eps must be a number in 0..1", source=source, column="eps", received=eps)
    return float(lam), s2_form, float(eps)


def _fit_section(sec, target: str, lam: float, s2_form: str, eps: float, source: str) -> FitResult:
    """One validation set's section: parameters and fit settings checked strictly, diagnostics
    (metrics, uncertainty, warnings) kept when readable."""
    try:
        p = LawParams.from_dict(sec, where=target)
    except InputError as e:
        raise e.with_source(source) from None
    free, cov = _uncertainty(sec.get("uncertainty") if isinstance(sec, dict) else None)
    ff = sec.get("fit_from") if isinstance(sec.get("fit_from"), dict) else {}
    warnings = sec.get("warnings") if isinstance(sec.get("warnings"), list) else []
    return FitResult(
        target,
        p,
        _flag(sec.get("success", True), f"{target}.success", source),
        str(sec.get("message", f"loaded from {source}")),
        _run_metrics(sec.get("metrics")),
        free_names=free,
        cov=cov,
        S1pt=_s1pt(sec.get("S1pt"), target, source),
        warnings=tuple(w for w in warnings if isinstance(w, str)),
        lam=lam,
        s2_form=s2_form,
        eps=eps,
        min_step=_min_step(ff.get("min_step", 0), f"{target}.fit_from.min_step", source),
        skip_warmup=_flag(ff.get("skip_warmup", True), f"{target}.fit_from.skip_warmup", source),
        calibration=_calibration(sec.get("calibration")),
        s1pt_shared=_flag(sec.get("S1pt_shared", False), f"{target}.S1pt_shared", source),
    )


def _uncertainty(unc) -> tuple[tuple[str, ...], np.ndarray | None]:
    """The free parameters' names and covariance, or ``((), None)`` when missing or malformed."""
    if not isinstance(unc, dict):
        return (), None
    try:
        free = tuple(str(x) for x in unc["free"])
        cov = np.array(unc["cov"], dtype=float)
    except (KeyError, TypeError, ValueError, OverflowError):
        return (), None
    if cov.shape != (len(free), len(free)) or not np.all(np.isfinite(cov)):
        return (), None
    return free, cov


def _run_metrics(rows) -> tuple[RunMetrics, ...]:
    """Per-run fit metrics, or ``()`` when missing or malformed."""
    if not isinstance(rows, list):
        return ()
    try:
        return tuple(
            RunMetrics(
                str(m["run"]),
                int(m["n"]),
                float(m["r2"]) if m.get("r2") is not None else float("nan"),
                float(m["mae"]),
                float(m["max_error"]),
                bool(m.get("held_out", False)),
                float(m["cpt_mae"]) if m.get("cpt_mae") is not None else float("nan"),
                int(m.get("cpt_points", 0)),
            )
            for m in rows
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        return ()


def _calibration(c) -> dict | None:
    """A section's band calibration, or None when missing or malformed (older files: no band)."""
    if not isinstance(c, dict):
        return None
    try:
        levels = [float(v) for v in c["levels"]]
        q = [[float(v) for v in row] for row in c["q"]]
        pt_q = [float(v) for v in c["pt_q"]]
        bins = [float(v) for v in c["progress_bins"]]
        ref = float(c["S1cpt_ref"])
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    ok = (
        len(levels) >= 2
        and all(len(row) == len(levels) for row in q)
        and len(pt_q) == len(levels)
        and len(bins) == len(q) + 1
        and ref > 0
        and all(math.isfinite(v) and v >= 0 for row in [*q, pt_q] for v in row)
    )
    if not ok:
        return None
    return {**c, "levels": levels, "q": q, "pt_q": pt_q, "progress_bins": bins, "S1cpt_ref": ref}


MAX_PREDICTED_LOSS = 100.0  # nats; a uniform guess over any real vocabulary is ~10-12 nats


def check_predicted(
    pred: np.ndarray,
    target: str,
    source: str,
    where: Callable[[int], str],
    *,
    defined: np.ndarray | None = None,
    upper_from: int = 0,
    column: str | None = None,
    fix: str | None = None,
) -> None:
    """``InputError`` when a predicted loss is not a plausible loss: not finite or <= 0 where the law
    is ``defined`` (everywhere by default), or above ``MAX_PREDICTED_LOSS`` from index ``upper_from``
    on (the power term legitimately explodes as S1 -> 0 inside a warm-up).

    Parameters at the edge of their ranges (alpha 20, C2 1e6, ...) pass ``LawParams.from_dict`` but
    predict losses of 1e104 or -48,000; this is where they are stopped. ``where(i)`` says which step
    or plan element ``i`` is, e.g. 'at step 400 of run.csv'. ``column`` and ``fix``: when the
    caller's own input (a schedule) is the likelier cause, name it instead of the file (``source``
    None, ``column`` the input, ``fix`` what to change); by default the file is blamed."""
    pred = np.asarray(pred, dtype=float).ravel()
    ok = np.isfinite(pred) & (pred > 0)
    if defined is not None:
        ok |= ~np.asarray(defined, dtype=bool).ravel()
    ok[upper_from:] &= ~(pred[upper_from:] > MAX_PREDICTED_LOSS)
    if ok.all():
        return
    i = int(np.argmin(ok))
    name = "general" if target == "pt" else "domain"
    raise InputError(
        f"{'the law predicts' if column else 'the parameters predict'} an implausible {name} "
        f"loss {where(i)}",
        source=source or None,
        column=column or target,
        received=float(f"{pred[i]:.6g}"),
        fix=fix
        or f"A loss must be finite, > 0 and at most {MAX_PREDICTED_LOSS:g} nats: refit, or check the parameter file",
    )


# Values the predictions depend on are checked strictly (a wrong one would give blank or wrong
# predictions); the diagnostics (metrics, uncertainty, warnings) are dropped when unreadable.


def _flag(v, where: str, source: str) -> bool:
    """A JSON true/false (the string "false" would otherwise read as true)."""
    if isinstance(v, bool):
        return v
    raise InputError(
        "must be true or false",
        source=source,
        column=where,
        received=v,
        fix='Write it without quotes, e.g. "success": false',
    )


def _min_step(v, where: str, source: str) -> int:
    """The first fitted step: a whole number of steps in 0..MAX_STEPS."""
    ok = (
        isinstance(v, (int, float))
        and not isinstance(v, bool)
        and 0 <= v <= MAX_STEPS  # first: NaN, Infinity and huge JSON integers fail here
        and v == int(v)
    )
    if not ok:
        raise InputError(
            f"must be a whole number of steps from 0 to {MAX_STEPS:,}",
            source=source,
            column=where,
            received=v,
            fix="Use the step the fit started from (0 = from the start), as written by 'python -m cptcore fit'",
        )
    return int(v)


def _s1pt(d, target: str, source: str) -> dict[str, float]:
    """Fitted PT forward areas of CPT-only runs (paper §6): run name -> a finite number > 0."""
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise InputError(
            "expected an object {run name: S1pt}",
            source=source,
            column=f"{target}.S1pt",
            received=type(d).__name__,
        )
    out = {}
    for k, v in d.items():
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 1e300:
            v = math.inf  # a huge JSON integer: float() would overflow
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v < math.inf):
            raise InputError(
                "the PT forward area S1pt must be a finite number > 0",
                source=source,
                column=f"{target}.S1pt[{k}]",
                received=v,
                fix="Refit the CPT-only runs, or remove the entry (predicting that run then needs its PT rows)",
            )
        out[str(k)] = float(v)
    return out


def load(path: str) -> ParamSet:
    import os

    try:
        data = read_at_most(path, MAX_PARAMS_BYTES)
    except OSError as e:
        raise InputError(
            "cannot open the parameter file",
            source=str(path),
            received=e.strerror,
            fix="Check the path, or create it with 'python -m cptcore fit'",
        ) from None
    return loads(data, os.path.basename(str(path)))
