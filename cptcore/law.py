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

The tau-form (ours, cpt-law notes §10): replay relaxes the domain exposure that drives the shift,
    L = ... - C2*exp(a1*r)*S2cpt + B*(1 - (1 + E*tau)^-beta),  tau = (1-r)*(1-e^(-kappa*r*S1cpt))/(kappa*r)
so the shift levels off sooner and lower with replay while the power-law term keeps the full S1 credit
(the general loss rises, then falls back). tau = S1cpt at r = 0: exactly Eq. 4.

The LR clock (ours, forms "eq4-lr" and "tau-lr"): the shift is driven not by S1cpt but by the
generalised area S1cpt_rho = sum over CPT steps of eta_i^rho * eta_ref^(1-rho) (``areas.lr_clock``),
with rho fitted per validation set and eta_ref a fixed reference LR stored with the parameters (the
largest CPT LR of the fitted runs; changing it only rescales E and kappa). rho = 1 is Eq. 4 / the
tau-form exactly; rho > 1 means forgetting grows faster than linearly in the LR, rho < 1 that
learning the domain per unit of summed LR is faster at a low LR. For the tau-form S1cpt_rho replaces
S1cpt inside tau; the power-law term keeps S1pt + S1cpt.

``columns`` is the one place the formula lives; everything else combines its output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from cptcore.areas import Areas
from cptcore.errors import InputError

NAMES = ("L0", "A", "alpha", "C1", "C2", "B", "E", "beta")
LINEAR = ("L0", "A", "C1", "C2", "B")  # the law is linear in these (variable projection, notes §9)


# the law's three terms as written in a decomposition's legend (r: the replay ratio, Eq. 8)
POWER_TERM = "A·(S1pt+S1cpt)^-α"
EQ4_ANNEAL = "-C1·S2pt - C2·S2cpt"
EQ4_SHIFT = "B·(1-(1+E·S1cpt)^-β)"
REPLAY_ANNEAL = "-C1·S2pt - C2·e^(a1·r)·S2cpt"


@dataclass(frozen=True)
class LawForm:
    """One law form: its extra (replay) parameters, their fitting bounds and grid of start values,
    and how its annealing and shift terms read (on the general set, on the domain set).

    Adding a form = one entry here plus its branch in ``replay_factors`` / ``shift_clock``."""

    label: str
    extra: tuple[str, ...] = ()  # extra nonlinear parameters, all fitted per validation set
    replay_form: str = "paper"  # value of ``LawParams.replay_form`` for this form
    bounds: tuple = ()  # ((name, lo, hi), ...) for the fitter
    starts: tuple = ()  # ((name, (values...)), ...) grid of starting values
    log: tuple[str, ...] = ()  # fitted in log space
    anneal: tuple[str, str] = (EQ4_ANNEAL, EQ4_ANNEAL)  # (general set, domain set)
    shift: tuple[str, str] = (EQ4_SHIFT, EQ4_SHIFT)

    @property
    def replay_extra(self) -> tuple[str, ...]:
        """The extra parameters that model replay (all but the LR clock's rho)."""
        return tuple(k for k in self.extra if k not in LR_NAMES)


FORMS = {
    "eq4": LawForm("Eq. 4: one parameter set per validation set; replay not modelled"),
    "eq8": LawForm(
        "Eq. 8: the paper's replay law (a1 scales CPT annealing, a2 the distribution shift)",
        ("a1", "a2"),
        bounds=(("a1", -10.0, 10.0), ("a2", 1e-3, 20.0)),
        starts=(("a1", (0.0,)), ("a2", (0.5, 2.0, 5.0))),
        anneal=(REPLAY_ANNEAL, "-C1·S2pt - C2·e^(a1·(1-r))·S2cpt"),
        shift=(
            "B·(1-e^(-a2·(1-r)))·(1-(1+E·S1cpt)^-β)",
            "B·(e^(a2·(1-r))-1)·(1-(1+E·S1cpt)^-β)",
        ),
    ),
    "eq8-convex": LawForm(
        "Eq. 8 with a normalised replay factor (e^(a2 r)-1)/(e^a2-1) that can bend either way "
        "(ours, notes §9)",
        ("a1", "a2"),
        "convex",
        bounds=(("a1", -10.0, 10.0), ("a2", -30.0, 30.0)),
        starts=(("a1", (0.0,)), ("a2", (-4.0, 0.5, 4.0, 12.0))),
        anneal=(REPLAY_ANNEAL, REPLAY_ANNEAL),
        shift=("B·(e^(a2·(1-r))-1)/(e^a2-1)·(1-(1+E·S1cpt)^-β)",) * 2,
    ),
    "tau": LawForm(
        "tau-form: replay relaxes the domain exposure that drives the shift, "
        "tau = (1-r)(1-e^(-kappa r S1cpt))/(kappa r) (ours, notes §10)",
        ("a1", "kappa"),
        "tau",
        bounds=(("a1", -10.0, 10.0), ("kappa", 1e-3, 1e4)),
        starts=(("a1", (0.0,)), ("kappa", (0.1, 1.0, 10.0, 100.0))),
        log=("kappa",),
        anneal=(REPLAY_ANNEAL, REPLAY_ANNEAL),
        shift=("B·(1-(1+E·τ)^-β)",) * 2,
    ),
    "eq4-lr": LawForm(
        "Eq. 4 with an LR clock: S1cpt in the shift becomes sum eta^rho * eta_ref^(1-rho) "
        "(ours; needs runs at two or more CPT peak LRs)",
        ("rho",),
        "lr",
        bounds=(("rho", 0.1, 5.0),),
        starts=(("rho", (0.6, 1.0, 1.6)),),
        shift=("B·(1-(1+E·S1cpt_ρ)^-β)",) * 2,
    ),
    "tau-lr": LawForm(
        "tau-form with an LR clock: tau is built on sum eta^rho * eta_ref^(1-rho) instead of "
        "S1cpt (ours; needs runs at two or more CPT peak LRs)",
        ("a1", "kappa", "rho"),
        "tau-lr",
        bounds=(("a1", -10.0, 10.0), ("kappa", 1e-3, 1e4), ("rho", 0.1, 5.0)),
        starts=(("a1", (0.0,)), ("kappa", (0.1, 1.0, 10.0, 100.0)), ("rho", (0.6, 1.0, 1.6))),
        log=("kappa",),
        anneal=(REPLAY_ANNEAL, REPLAY_ANNEAL),
        shift=("B·(1-(1+E·τ_ρ)^-β)",) * 2,
    ),
    "eq4-speed": LawForm(
        "Eq. 4 with a peak-LR shift speed: E becomes E*(eta_peak/eta_ref)^mu "
        "(ours; replay not modelled; needs runs at two or more CPT peak LRs)",
        ("mu",),
        "speed",
        bounds=(("mu", -3.0, 3.0),),
        starts=(("mu", (-0.5, 0.5)),),
    ),
    "tau-amp": LawForm(
        "tau-form with a peak-LR amplitude: the shift is B*(eta_peak/eta_ref)^nu*shape "
        "(ours; needs runs at two or more CPT peak LRs)",
        ("a1", "kappa", "nu"),
        "tau-amp",
        bounds=(("a1", -10.0, 10.0), ("kappa", 1e-3, 1e4), ("nu", -3.0, 3.0)),
        starts=(("a1", (0.0,)), ("kappa", (0.1, 1.0, 10.0, 100.0)), ("nu", (-0.3, 0.3))),
        log=("kappa",),
    ),
    "tau-speed": LawForm(
        "tau-form with a peak-LR shift speed: E becomes E*(eta_peak/eta_ref)^mu "
        "(ours; needs runs at two or more CPT peak LRs)",
        ("a1", "kappa", "mu"),
        "tau-speed",
        bounds=(("a1", -10.0, 10.0), ("kappa", 1e-3, 1e4), ("mu", -3.0, 3.0)),
        starts=(("a1", (0.0,)), ("kappa", (0.1, 1.0, 10.0, 100.0)), ("mu", (-0.5, 0.5))),
        log=("kappa",),
    ),
}
LAWS = {name: f.label for name, f in FORMS.items()}
REPLAY_NAMES = ("a1", "a2", "kappa", "rho", "nu", "mu")  # every extra parameter of a form
LR_NAMES = ("rho", "nu", "mu")  # the extra parameters about the CPT LR (they need eta_ref)
LR_CLOCK_FORMS = ("eq4-lr", "tau-lr")
# the run's CPT peak LR scales the shift's amplitude / speed
PEAK_FORMS = ("eq4-speed", "tau-amp", "tau-speed")
# replay_form values whose replay acts through the shift clock
TAU_FORMS = ("tau", "tau-lr", "tau-amp", "tau-speed")
_FORM_OF = {f.replay_form: name for name, f in FORMS.items() if f.extra}


def term_formulas(law: str, target: str) -> dict[str, str]:
    """The power-law, annealing and shift terms of form ``law`` on the validation set ``target``
    ("pt" or "cpt") as formulas (Eq. 4, Eq. 8, the tau-form...), for a decomposition's legend."""
    form = FORMS.get(law, FORMS["eq4"])
    i = 0 if target == "pt" else 1
    return {"power": POWER_TERM, "anneal": form.anneal[i], "shift": form.shift[i]}


@dataclass(frozen=True)
class LawParams:
    """Parameters of one validation set: Eq. 4, plus the replay parameters of Eq. 8 (``a1``, ``a2``)
    or of the tau-form (``a1``, ``kappa``) when set; ``replay_form`` says which."""

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
    replay_form: str = "paper"  # 'paper' (Eq. 8 as published), 'convex', 'tau', 'tau-lr' or 'lr'
    kappa: float | None = None
    rho: float | None = None  # LR clock exponent (forms eq4-lr, tau-lr)
    eta_ref: float | None = None  # the LR clock's / peak forms' reference LR (stored, not fitted)
    nu: float | None = None  # peak-LR amplitude exponent (form tau-amp)
    mu: float | None = None  # peak-LR speed exponent (form tau-speed)

    @property
    def law(self) -> str:
        """The name of this parameter set's form in ``FORMS``."""
        if self.a1 is None and self.rho is None and not self.peaked:
            return "eq4"
        return "eq8" if self.replay_form == "paper" else _FORM_OF.get(self.replay_form, "eq8")

    @property
    def models_replay(self) -> bool:
        """Whether the replay ratio enters this set's law (its form has replay parameters: Eq. 8,
        the convex or tau forms; not Eq. 4 nor the LR clock alone)."""
        return bool(FORMS[self.law].replay_extra)

    @property
    def peaked(self) -> bool:
        """Whether the run's CPT peak LR scales the shift (forms tau-amp, tau-speed)."""
        return self.nu is not None or self.mu is not None

    @property
    def clocked(self) -> bool:
        """Whether the shift runs on the LR clock S1cpt_rho rather than S1cpt."""
        return self.rho is not None

    def to_dict(self) -> dict:
        d = {k: float(getattr(self, k)) for k in NAMES}
        if self.law != "eq4":
            for k in FORMS[self.law].extra:
                d[k] = float(getattr(self, k))
            if self.eta_ref is not None:
                d["eta_ref"] = float(self.eta_ref)
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
        for k in NAMES + REPLAY_NAMES + ("eta_ref",):
            if k not in d or (k in REPLAY_NAMES + ("eta_ref",) and d[k] is None):
                continue
            v = d[k]
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 1e300:
                v = math.inf  # a huge JSON integer: float() would overflow
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(
                    "parameter must be a finite number", column=f"{where}.{k}", received=v
                )
            vals[k] = float(v)
        form = d.get("replay_form", "paper")
        if form not in _FORM_OF:
            raise InputError(
                "replay_form must be one of " + ", ".join(f"'{k}'" for k in _FORM_OF),
                column=f"{where}.replay_form",
                received=form,
            )
        extra = [k for k in REPLAY_NAMES if k in vals]
        if extra:
            need = FORMS[_FORM_OF[form]].extra
            if set(extra) != set(need):
                raise InputError(
                    f"give both {' and '.join(need)} ({form} replay form) or neither (Eq. 4)",
                    column=where,
                    received=", ".join(extra),
                    fix="a1 and a2 mean Eq. 8; a1 and kappa with replay_form 'tau' the tau-form",
                )
            lr_names = [k for k in extra if k in LR_NAMES]
            if lr_names and "eta_ref" not in vals:
                raise InputError(
                    f"{lr_names[0]} (the CPT LR's effect) needs its reference LR eta_ref",
                    column=where,
                    fix="Refit, or add eta_ref (the CPT peak LR the fit was made at)",
                )
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
            "kappa": (0, 1e6),
            "rho": (0, 20),
            "nu": (-20, 20),
            "mu": (-20, 20),
            "eta_ref": (1e-300, 1e3),
        }
        for k, (lo, hi) in limits.items():
            if k in vals and not lo <= vals[k] <= hi:
                raise InputError(
                    f"{k} is outside the plausible range {lo}..{hi}",
                    column=f"{where}.{k}",
                    received=vals[k],
                    fix="Refit, or check the file was written by 'python -m cptcore fit'",
                )
        return cls(**vals, replay_form=form)

    def with_values(self, **kw) -> LawParams:
        return replace(self, **kw)


def shift_shape(S1cpt: np.ndarray, E: float, beta: float) -> np.ndarray:
    """1 - (1 + E*S1cpt)^-beta: the distribution-shift curve in 0..1 (paper Eq. 3); 0 where
    S1cpt <= 0, NaN where it is NaN.

    Computed only where S1cpt > 0: during pre-training (most steps of a long run) the shape is 0,
    and skipping log1p/expm1 there is most of the law's time at 1M steps. (Masked ufuncs,
    ``where=``, are ~10x slower than plain ones: the positive part is a slice or a gather.)"""
    x = np.asarray(S1cpt, dtype=float)
    off = x <= 0.0  # NaN stays in: the law is not defined there
    if not off.any():
        return _shape(x, E, beta)
    out = np.zeros(x.shape)
    on = ~off
    if on.any():
        out[on] = _shape(x[on], E, beta)
    return out


def _shape(x: np.ndarray, E: float, beta: float) -> np.ndarray:
    """1 - (1 + E*x)^-beta = -expm1(-beta * log1p(E*x)), in one new array."""
    out = np.multiply(x, E)
    np.log1p(out, out=out)
    out *= -beta
    np.expm1(out, out=out)
    return np.negative(out, out=out)


def replay_factors(p: LawParams, replay, target: str):
    """(annealing factor on C2*S2cpt, shift factor on B*shape); (1, 1) for Eq. 4.

    Vectorised: ``replay`` may be a number or one ratio per row (then arrays are returned).
    Eq. 8 (paper): L_pt uses exp(a1*r_pt) and 1 - exp(-a2*r_cpt), L_cpt exp(a1*r_cpt) and
    exp(a2*r_cpt) - 1. 'convex': exp(a1*r_pt) and the normalised (e^(a2*r_cpt)-1)/(e^a2-1) on both.
    'tau': exp(a1*r_pt) and 1 (replay acts through ``shift_clock``)."""
    if p.a1 is None:
        return 1.0, 1.0
    r_pt = np.asarray(replay, dtype=float) if np.ndim(replay) else float(replay)
    r_cpt = 1.0 - r_pt
    if p.replay_form in TAU_FORMS:
        return np.exp(p.a1 * r_pt), 1.0
    if p.replay_form == "convex":
        if abs(p.a2) > 1e-12:
            return np.exp(p.a1 * r_pt), np.expm1(p.a2 * r_cpt) / math.expm1(p.a2)
        return np.exp(p.a1 * r_pt), r_cpt
    if target == "pt":
        return np.exp(p.a1 * r_pt), -np.expm1(-p.a2 * r_cpt)
    return np.exp(p.a1 * r_cpt), np.expm1(p.a2 * r_cpt)


def shift_clock(p: LawParams, S1cpt: np.ndarray, replay, clock: np.ndarray | None = None):
    """What drives the distribution shift: S1cpt (Eq. 3/4/8), or for the tau-form the relaxed domain
    exposure tau = (1-r)*S1cpt*g(kappa*r*S1cpt) with g(x) = (1-e^-x)/x (notes §10): exposure grows at
    rate (1-r) per unit of summed LR and replay undoes it at rate kappa*r, so the shift levels off at
    (1-r)/(kappa*r). tau = S1cpt at r = 0 (exactly Eq. 4) and 0 at r = 1.

    ``clock``: the LR clock S1cpt_rho at p.rho (forms eq4-lr / tau-lr), which then replaces S1cpt
    (also inside tau); None means S1cpt."""
    s = S1cpt if clock is None or not p.clocked else clock
    if p.replay_form not in TAU_FORMS or p.a1 is None:
        return s
    r = np.asarray(replay, dtype=float) if np.ndim(replay) else float(replay)
    x = (p.kappa * r) * s
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(x > 1e-12, -np.expm1(-x) / np.where(x > 1e-12, x, 1.0), 1.0 - 0.5 * x)
    return (1.0 - r) * s * g


class Columns(NamedTuple):
    """The law's terms per unit coefficient: ``L = L0 + A*power + C1*anneal_pt + C2*anneal_cpt +
    B*shift``. The one place the law's formula lives: prediction, decomposition, the fitter's
    residuals and its variable-projection basis, and the planner all evaluate it."""

    power: np.ndarray  # (S1pt + S1cpt)^-alpha, NaN where S1 = 0 (the initial model)
    anneal_pt: np.ndarray  # -S2pt
    anneal_cpt: np.ndarray  # -S2cpt * annealing replay factor
    shift: np.ndarray  # shift replay factor * shape(clock)


def columns(
    p: LawParams,
    S1pt: np.ndarray,
    S2pt: np.ndarray,
    S1cpt: np.ndarray,
    S2cpt: np.ndarray,
    replay=0.0,
    target: str = "pt",
    clock: np.ndarray | None = None,
    power: np.ndarray | None = None,
    peak=None,
) -> Columns:
    """Eq. 4 / Eq. 8 / tau-form per unit linear coefficient, at any rows (per step or per logged
    point, several runs concatenated): only p's nonlinear parameters (alpha, E, beta, replay) are
    used. ``replay`` is one ratio or one per row; ``S1pt`` may be a number (fitted, paper §6).
    ``clock``: for the LR-clock forms, S1cpt_rho at the rows for p.rho and p.eta_ref
    (``Areas.clock``); None (or a form without the clock) uses S1cpt. ``power``: the power column
    when the caller has it already ((S1pt + S1cpt)^-alpha, as ``predict`` computes it). ``peak``:
    the CPT peak LR (one or one per row) for the peak forms (tau-amp, tau-speed); None: eta_ref."""
    if power is None:
        X = S1pt + S1cpt  # a fresh array (or a number): the power is computed in its place
        undefined = ~(X > 0)
        with np.errstate(divide="ignore", invalid="ignore"):  # X = 0: the law is undefined there
            if isinstance(X, np.ndarray):  # exp(-alpha log X) as in predict_sets, to the bit
                power = np.log(X, out=X)
                power *= -p.alpha
                np.exp(power, out=power)
            else:
                power = np.power(X, -p.alpha)
        power[undefined] = np.nan
    f_anneal, f_shift = replay_factors(p, replay, target)
    f_amp, f_speed = peak_factors(p, peak)
    tau = shift_clock(p, S1cpt, replay, clock)
    shape = shift_shape(tau if _is_one(f_speed) else tau * f_speed, p.E, p.beta)
    if not _is_one(f_amp):
        f_shift = f_shift * f_amp
    # no copy for a factor of 1 (Eq. 4): at 1M steps each temporary array costs about a millisecond
    anneal_cpt = np.negative(S2cpt) if _is_one(f_anneal) else -f_anneal * S2cpt
    return Columns(
        power, np.negative(S2pt), anneal_cpt, shape if _is_one(f_shift) else f_shift * shape
    )


def peak_factors(p: LawParams, peak) -> tuple:
    """(amplitude factor on B, speed factor on E) of the run's CPT peak LR: (eta_peak/eta_ref)^nu
    for tau-amp, (eta_peak/eta_ref)^mu for tau-speed, else (1, 1); 1 at eta_peak = eta_ref or
    exponent 0 (the tau-form). ``peak``: a number or one per row; None means eta_ref."""
    if not p.peaked or peak is None:
        return 1.0, 1.0
    ratio = np.asarray(peak, dtype=float) / p.eta_ref if np.ndim(peak) else peak / p.eta_ref
    amp = 1.0 if p.nu is None else np.power(ratio, p.nu)
    return amp, 1.0 if p.mu is None else np.power(ratio, p.mu)


def _is_one(f) -> bool:
    return np.ndim(f) == 0 and f == 1.0


def _area_columns(p: LawParams, a: Areas, replay, target: str, S1pt: float | None) -> Columns:
    clock = a.clock(p.rho, p.eta_ref) if p.clocked else None
    S1pt = a.S1pt if S1pt is None else S1pt
    peak = a.cpt_peak() if p.peaked else None
    return columns(p, S1pt, a.S2pt, a.S1cpt, a.S2cpt, replay, target, clock, peak=peak)


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


def terms(
    p: LawParams, a: Areas, replay: float = 0.0, target: str = "pt", S1pt: float | None = None
) -> Terms:
    """Per-term decomposition of the law. ``S1pt`` overrides the PT forward area for a run with
    unknown PT history (paper §6, fitted)."""
    c = _area_columns(p, a, replay, target, S1pt)
    return Terms(p.L0, p.A * c.power, p.C1 * c.anneal_pt, p.C2 * c.anneal_cpt, p.B * c.shift)


def combine(p: LawParams, c: Columns, *, consume: bool = False) -> np.ndarray:
    """L0 + A*power + C1*anneal_pt + C2*anneal_cpt + B*shift (built in place).

    ``consume``: ``c`` was just made for this call (``predict``): its arrays are overwritten instead
    of allocating the result and a scratch array (at 1M steps each new array costs ~1 ms of page
    faults, as much as the arithmetic)."""
    out = c.power if consume and isinstance(c.power, np.ndarray) else c.power * p.A
    if out is c.power:
        out *= p.A
    out += p.L0
    for coef, col in ((p.C1, c.anneal_pt), (p.C2, c.anneal_cpt), (p.B, c.shift)):
        if consume and isinstance(col, np.ndarray) and col.shape == out.shape:
            col *= coef
            out += col
        else:
            out += coef * col
    return out


def predict(
    p: LawParams, a: Areas, replay: float = 0.0, target: str = "pt", S1pt: float | None = None
) -> np.ndarray:
    """Predicted validation loss at each step of ``a`` (paper Eq. 4, Eq. 8 or the tau-form)."""
    if S1pt is None and _per_step(a) and np.ndim(replay) == 0:
        return predict_sets({target: p}, a, replay)[target]
    return combine(p, _area_columns(p, a, replay, target, S1pt), consume=True)


_CHUNK = 1 << 15  # steps per chunk of ``predict_sets``: its temporaries stay in the CPU cache


def _per_step(a: Areas) -> bool:
    """Whether ``a`` holds every step of one run from ``compute_areas`` (index = step)."""
    return a.rows is None and a.lr is not None and len(a.lr) == len(a)


def predict_sets(fits: dict, a: Areas, replay: float = 0.0) -> dict:
    """``predict`` for several validation sets at once ({target: LawParams} -> {target: loss}) on
    areas at every step (``compute_areas``), sharing log S1 between the sets.

    The same values as ``combine(p, columns(...))`` to ~1e-15 relative (tests/test_law.py), in
    fewer passes over memory: the steps go in chunks whose temporaries stay in the CPU cache; the
    power term is exp(-alpha * log S1), one log per step for all sets; up to the transfer point
    the CPT areas are 0, so there the law is L0 + A*S1^-alpha - C1*S2pt (``columns`` with
    S1cpt = S2cpt = 0); the CPT steps go through ``columns`` and ``combine``."""
    if not _per_step(a):
        return {t: predict(p, a, replay, t) for t, p in fits.items()}
    n = len(a)
    c = a.transfer_step + 1 if a.pt_history_known else 0
    c = min(c, n)
    out = {t: np.empty(n) for t in fits}
    clocks = {t: a.clock(p.rho, p.eta_ref) for t, p in fits.items() if p.clocked}
    peaks = {t: a.cpt_peak() for t, p in fits.items() if p.peaked}
    log_s1 = np.empty(min(_CHUNK, n))
    scratch = np.empty(min(_CHUNK, n))
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        m = min(max(c, lo), hi)  # steps lo..m-1 are PT, m..hi-1 CPT
        L = log_s1[: hi - lo]
        if lo < m:
            L[: m - lo] = a.S1pt[lo:m]  # S1cpt = 0 up to the transfer
        if m < hi:
            np.add(a.S1pt[m:hi], a.S1cpt[m:hi], out=L[m - lo :])
        with np.errstate(divide="ignore", invalid="ignore"):
            np.log(L, out=L)
        L[L == -np.inf] = np.nan  # S1 = 0 (the initial model): the law is undefined there
        for t, p in fits.items():
            o = out[t][lo:hi]
            np.multiply(L, -p.alpha, out=o)
            np.exp(o, out=o)  # (S1pt + S1cpt)^-alpha
            if lo < m:
                pt = o[: m - lo]
                pt *= p.A
                pt += p.L0
                if p.C1 != 0.0:
                    s = np.multiply(a.S2pt[lo:m], p.C1, out=scratch[: m - lo])
                    pt -= s
            if m < hi:
                clock = clocks[t][m:hi] if t in clocks else None
                cols = columns(
                    p,
                    a.S1pt[m:hi],
                    a.S2pt[m:hi],
                    a.S1cpt[m:hi],
                    a.S2cpt[m:hi],
                    replay,
                    t,
                    clock,
                    o[m - lo :],
                    peaks.get(t),
                )
                combine(p, cols, consume=True)
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
    limit = shift_limit(p, replay, target, a.cpt_peak() if p.peaked else None)
    return t.L0 + t.power + t.anneal_pt + t.anneal_cpt + p.B * limit


def shift_limit(
    p: LawParams, replay: float = 0.0, target: str = "pt", peak: float | None = None
) -> float:
    """The shift term's asymptote per unit B as CPT goes on: the replay factor (Eq. 8), or for the
    tau-form the shape at tau's plateau (1-r)/(kappa*r) (1 at r = 0); for the peak forms at the
    CPT peak LR ``peak`` (None: eta_ref)."""
    _, f_shift = replay_factors(p, replay, target)
    f_amp, f_speed = peak_factors(p, peak)
    if p.replay_form in TAU_FORMS and p.a1 is not None and replay > 0:
        plateau = (1.0 - replay) / (p.kappa * replay) if p.kappa > 0 else math.inf
        return float(shift_shape(np.array([plateau * f_speed]), p.E, p.beta)[0] * f_amp)
    return float(f_shift * f_amp)


def critical_point(p_pt: LawParams, replay: float = 0.0, peak: float | None = None) -> float:
    """Critical point (paper §4.3, Fig. 7c): the D_pt loss the hidden D_cpt curve converges to,
    L0 + B (with Eq. 8's shift factor; at the CPT peak LR ``peak`` for the peak forms). CPT
    starting above it can end below its initial D_pt loss."""
    return p_pt.L0 + p_pt.B * shift_limit(p_pt, replay, "pt", peak)


def turning_length(
    pred: np.ndarray, transfer_index: int, steps: np.ndarray | None = None
) -> int | None:
    """Turning length (paper §4.3): CPT steps until the loss, after rising, first returns to its value
    at the transfer point. 0 when it never rises above that value (nothing to return from, Fig. 13);
    None when it rises and does not return within the given horizon."""
    start = pred[transfer_index]
    after = pred[transfer_index + 1 :]
    if after.size == 0:
        return None
    above = after > start + 1e-12
    if not above.any():
        return 0
    rose = np.cumsum(above) > 0
    back = rose & (after <= start)
    if not back.any():
        return None
    i = int(np.argmax(back)) + 1
    if steps is None:
        return i
    return int(steps[transfer_index + i] - steps[transfer_index])


def can_return(
    p_pt: LawParams,
    S1pt: float,
    S2cpt_final: float,
    replay: float = 0.0,
    peak: float | None = None,
) -> bool:
    """Whether the D_pt loss can ever fall back to its transfer value (DERIVED from Eq. 4, notes §2.5):
    A*S1pt^-alpha > B - C2*S2cpt(inf)."""
    f_anneal, _ = replay_factors(p_pt, replay, "pt")
    limit = p_pt.B * shift_limit(p_pt, replay, "pt", peak)
    return p_pt.A * S1pt ** (-p_pt.alpha) > limit - p_pt.C2 * float(f_anneal) * S2cpt_final
