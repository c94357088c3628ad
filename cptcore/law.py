"""The CPT scaling law (Wang, Tissue et al. 2025): Eq. 4, the replay law Eq. 8, hidden curves,
term decomposition, critical point and turning length.

Eq. 4, per validation set:
    L = L0 + A*(S1pt+S1cpt)^-alpha - C1*S2pt - C2*S2cpt + B*(1 - (1 + E*S1cpt)^-beta)
B > 0 on the general set (loss rises in CPT), B < 0 on the domain set (loss falls).

Eq. 8 (replay ratio r_pt = replay, r_cpt = 1 - replay), per validation set 'pt' / 'cpt':
    L_pt  = ... - C2*S2cpt*exp(a1*r_pt)  + shift * (1 - exp(-a2*r_cpt))
    L_cpt = ... - C2*S2cpt*exp(a1*r_cpt) + shift * (exp(a2*r_cpt) - 1)
Both shift factors vanish at r_cpt = 0 (pure replay). At replay 0 (r_cpt = 1) Eq. 8 is Eq. 4 with
rescaled constants: on the general set B becomes B*(1 - e^-a2) (annealing factor exp(a1*0) = 1); on the
domain set C2 becomes C2*e^a1 and B becomes B*(e^a2 - 1).

Replay form "convex" (ours, after cpt-law notes §9): the shift factor is the normalised
(exp(a2*r_cpt) - 1)/(exp(a2) - 1) on both sets - 1 at no replay, 0 at full replay, convex for a2 > 0
(a little replay removes most of the rise of the general loss, as seen on real small-model runs),
linear at a2 = 0 and concave for a2 < 0 (replay barely slows the domain loss) - and the annealing
factor is exp(a1*(1 - r_cpt)) on both sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from cptcore.areas import Areas
from cptcore.errors import InputError

NAMES = ("L0", "A", "alpha", "C1", "C2", "B", "E", "beta")
REPLAY_NAMES = ("a1", "a2")
LAWS = {
    "eq4": "Eq. 4: one parameter set per validation set; replay not modelled",
    "eq8": "Eq. 8: the paper's replay law (a1 scales CPT annealing, a2 the distribution shift)",
    "eq8-convex": "Eq. 8 with a normalised replay factor (e^(a2 r)-1)/(e^a2-1) that can bend either way (ours, notes §9)",
}


@dataclass(frozen=True)
class LawParams:
    """Parameters of Eq. 4 (or Eq. 8 when ``a1``/``a2`` are set) for one validation set."""

    L0: float
    A: float
    alpha: float
    C1: float
    C2: float
    B: float
    E: float
    beta: float
    a1: float | None = None
    a2: float | None = None
    replay_form: str = "paper"  # 'paper' (Eq. 8 as published) or 'convex'

    @property
    def law(self) -> str:
        if self.a1 is None:
            return "eq4"
        return "eq8-convex" if self.replay_form == "convex" else "eq8"

    def to_dict(self) -> dict:
        d = {k: float(getattr(self, k)) for k in NAMES}
        if self.a1 is not None:
            d["a1"], d["a2"] = float(self.a1), float(self.a2)
            if self.replay_form != "paper":
                d["replay_form"] = self.replay_form
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "params") -> LawParams:
        """Build from a params.json section, raising ``InputError`` for missing/absurd values."""
        if not isinstance(d, dict):
            raise InputError(
                "expected an object with L0, A, alpha, C1, C2, B, E, beta",
                column=where,
                received=type(d).__name__,
            )
        missing = [k for k in NAMES if k not in d]
        if missing:
            raise InputError(
                f"missing parameter{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                column=where,
                fix="Each of 'pt' and 'cpt' needs L0, A, alpha, C1, C2, B, E, beta (a1, a2 for Eq. 8)",
            )
        vals = {}
        for k in NAMES + REPLAY_NAMES:
            if k not in d or (k in REPLAY_NAMES and d[k] is None):
                continue
            v = d[k]
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 1e300:
                v = math.inf  # a huge JSON integer: float() would overflow
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(
                    "parameter must be a finite number", column=f"{where}.{k}", received=v
                )
            vals[k] = float(v)
        if ("a1" in vals) != ("a2" in vals):
            raise InputError("give both a1 and a2 (Eq. 8) or neither (Eq. 4)", column=where)
        limits = {
            "L0": (0, 50),
            "A": (0, 1e4),
            "alpha": (0, 20),
            "C1": (0, 1e6),
            "C2": (0, 1e6),
            "B": (-50, 50),
            "E": (0, 1e9),
            "beta": (0, 100),
            "a1": (-50, 50),  # exp(a1 * r) must stay finite (the fitter keeps |a1| <= 10)
            "a2": (-50, 50),
        }
        for k, (lo, hi) in limits.items():
            if k in vals and not lo <= vals[k] <= hi:
                raise InputError(
                    f"{k} is outside the plausible range {lo}..{hi}",
                    column=f"{where}.{k}",
                    received=vals[k],
                    fix="Refit, or check the file was written by 'python -m cptcore fit'",
                )
        form = d.get("replay_form", "paper")
        if form not in ("paper", "convex"):
            raise InputError(
                "replay_form must be 'paper' or 'convex'",
                column=f"{where}.replay_form",
                received=form,
            )
        return cls(**vals, replay_form=form)

    def with_values(self, **kw) -> LawParams:
        return replace(self, **kw)


def shift_shape(S1cpt: np.ndarray, E: float, beta: float) -> np.ndarray:
    """1 - (1 + E*S1cpt)^-beta: the distribution-shift curve in 0..1 (paper Eq. 3)."""
    return -np.expm1(-beta * np.log1p(E * np.maximum(S1cpt, 0.0)))


def replay_factors(p: LawParams, replay: float, target: str) -> tuple[float, float]:
    """(annealing factor on C2*S2cpt, shift factor on B*shape) for Eq. 8; (1, 1) for Eq. 4."""
    if p.a1 is None:
        return 1.0, 1.0
    r_cpt, r_pt = 1.0 - replay, replay
    if p.replay_form == "convex":
        denom = math.expm1(p.a2) if abs(p.a2) > 1e-12 else 1.0
        shift = (math.expm1(p.a2 * r_cpt) / denom) if abs(p.a2) > 1e-12 else r_cpt
        return math.exp(p.a1 * r_pt), shift
    if target == "pt":
        return math.exp(p.a1 * r_pt), -math.expm1(-p.a2 * r_cpt)
    return math.exp(p.a1 * r_cpt), math.expm1(p.a2 * r_cpt)


@dataclass(frozen=True, eq=False)
class Terms:
    """The law's terms at each step; ``total = L0 + power + anneal_pt + anneal_cpt + shift``."""

    L0: float
    power: np.ndarray  # A * (S1pt + S1cpt)^-alpha
    anneal_pt: np.ndarray  # -C1 * S2pt
    anneal_cpt: np.ndarray  # -C2 * S2cpt (* replay factor)
    shift: np.ndarray  # B * shape (* replay factor)

    @property
    def total(self) -> np.ndarray:
        return self.L0 + self.power + self.anneal_pt + self.anneal_cpt + self.shift


def _power(p: LawParams, a: Areas, S1pt: float | None) -> np.ndarray:
    """A * (S1pt + S1cpt)^-alpha; NaN where S1 = 0 (the initial model: the law is undefined there)."""
    X = a.S1pt + a.S1cpt if S1pt is None else a.S1cpt + S1pt
    with np.errstate(divide="ignore", invalid="ignore"):  # X = 0: inf (* A = 0: NaN), set below
        out = np.power(X, -p.alpha)
        out *= p.A
    # X never decreases along a run (LRs are >= 0), so the undefined points form a prefix
    out[: int(np.searchsorted(X, 0.0, side="right"))] = np.nan
    return out


def _cpt_slice(a: Areas) -> slice:
    """Steps where CPT terms can be non-zero (after the transfer point)."""
    return slice(a.cpt_index, None)


def terms(
    p: LawParams, a: Areas, replay: float = 0.0, target: str = "pt", S1pt: float | None = None
) -> Terms:
    """Per-term decomposition of Eq. 4 / Eq. 8. ``S1pt`` overrides the PT forward area for a run with
    unknown PT history (paper §6, fitted)."""
    f_anneal, f_shift = replay_factors(p, replay, target)
    c = _cpt_slice(a)
    anneal_cpt = np.zeros(len(a.S1cpt))
    shift = np.zeros(len(a.S1cpt))
    anneal_cpt[c] = (-p.C2 * f_anneal) * a.S2cpt[c]
    shift[c] = (p.B * f_shift) * shift_shape(a.S1cpt[c], p.E, p.beta)
    return Terms(
        L0=p.L0,
        power=_power(p, a, S1pt),
        anneal_pt=-p.C1 * a.S2pt,
        anneal_cpt=anneal_cpt,
        shift=shift,
    )


def predict(
    p: LawParams, a: Areas, replay: float = 0.0, target: str = "pt", S1pt: float | None = None
) -> np.ndarray:
    """Predicted validation loss at each step of ``a`` (paper Eq. 4, or Eq. 8 when replay params set).

    Same sum as ``terms(...).total``, built in place: this is the slider's hot path."""
    f_anneal, f_shift = replay_factors(p, replay, target)
    out = _power(p, a, S1pt)
    out += p.L0
    c = _cpt_slice(a)
    k = a.cpt_index
    out[:k] -= p.C1 * a.S2pt[:k]
    if k < len(out):
        out[c] -= p.C1 * a.S2pt[k]  # S2pt is frozen after the transfer point
    out[c] -= (p.C2 * f_anneal) * a.S2cpt[c]
    out[c] += (p.B * f_shift) * shift_shape(a.S1cpt[c], p.E, p.beta)
    return out


def hidden_pt_curve(
    p: LawParams, a: Areas, replay: float = 0.0, target: str = "pt", S1pt: float | None = None
) -> np.ndarray:
    """Hidden curve 'continue PT on D_pt with the CPT schedule' (paper §2.2): the law without the
    distribution-shift term. The gap to ``predict`` is the shift."""
    t = terms(p, a, replay, target, S1pt)
    return t.L0 + t.power + t.anneal_pt + t.anneal_cpt


def hidden_cpt_curve(
    p: LawParams, a: Areas, replay: float = 0.0, target: str = "pt", S1pt: float | None = None
) -> np.ndarray:
    """Hidden curve 'trained on D_cpt' (paper §2.1): the CPT curve converges to it as the shift
    saturates, so it is the law with the shift term at its asymptote B (DERIVED, ours). Defined in the
    CPT phase; in the PT phase it is returned for the same areas for plotting continuity."""
    t = terms(p, a, replay, target, S1pt)
    _, f_shift = replay_factors(p, replay, target)
    return t.L0 + t.power + t.anneal_pt + t.anneal_cpt + p.B * f_shift


def critical_point(p_pt: LawParams, replay: float = 0.0) -> float:
    """Critical point (paper §4.3, Fig. 7c): the D_pt loss the hidden D_cpt curve converges to,
    L0 + B (with Eq. 8's shift factor). CPT starting above it can end below its initial D_pt loss."""
    _, f_shift = replay_factors(p_pt, replay, "pt")
    return p_pt.L0 + p_pt.B * f_shift


def turning_length(
    pred: np.ndarray, transfer_index: int, steps: np.ndarray | None = None
) -> int | None:
    """Turning length (paper §4.3): CPT steps until the loss, after rising, first returns to its value
    at the transfer point. None when it does not return within the given horizon (or never rose)."""
    start = pred[transfer_index]
    after = pred[transfer_index + 1 :]
    if after.size == 0:
        return None
    rose = np.cumsum(after > start + 1e-12) > 0
    back = rose & (after <= start)
    if not back.any():
        return None
    i = int(np.argmax(back)) + 1
    if steps is None:
        return i
    return int(steps[transfer_index + i] - steps[transfer_index])


def can_return(p_pt: LawParams, S1pt: float, S2cpt_final: float, replay: float = 0.0) -> bool:
    """Whether the D_pt loss can ever fall back to its transfer value (DERIVED from Eq. 4, notes §2.5):
    A*S1pt^-alpha > B - C2*S2cpt(inf)."""
    f_anneal, f_shift = replay_factors(p_pt, replay, "pt")
    return p_pt.A * S1pt ** (-p_pt.alpha) > p_pt.B * f_shift - p_pt.C2 * f_anneal * S2cpt_final
