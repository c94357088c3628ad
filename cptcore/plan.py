"""Plan a continual pre-training run: choose CPT peak LR, schedule, steps and replay for a stated goal.

Objective (paper Eq. 5, §5): minimise ``lambda1*dL_pt + lambda2*dL_cpt`` with lambda1 + lambda2 = 1,
where dL is the *signed* change of the predicted loss from the transfer point to the end of CPT
(negative when the loss falls; notes §2.6 on the sign ambiguity in the paper). An out-of-domain
target (Eq. 6) replaces (lambda1, lambda2) by the dataset weights (lambda1', lambda2') of
``L_ood = lambda1'*L_pt + lambda2'*L_cpt``; then the "domain loss" of the constraint modes is L_ood.

Modes (``Goal.mode``):
- ``balance``: Eq. 5.
- ``max_general_rise``: the general loss may rise by at most ``x``; minimise the domain loss.
- ``domain_target``: reach domain loss ``y`` in the fewest CPT steps (bisection on steps).

How it is fast (a grid of hundreds of scenarios well under a second): the PT phase is fixed, so its
areas and its annealing momentum at the transfer point are computed once. For one CPT schedule shape
(family, steps, decay fraction) the CPT LR is affine in the peak LR, ``lr = peak*g + h`` (h is the
part of a warm-up that ramps from the PT final LR), so the final S1cpt and S2cpt are affine in the
peak too (closed form of the momentum sum, notes §1.2). One O(n) pass per shape, then every peak LR
and replay ratio is O(1) through ``cptcore.law.predict``. Discrete choices (schedule family) are
enumerated; continuous ones (log10 peak LR, replay, log10 steps, WSD decay fraction) are searched on a
grid and refined with bounded Nelder-Mead. Everything is deterministic.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from cptcore.areas import Areas, compute_areas, momentum, pt_eta_for_s2
from cptcore.errors import InputError
from cptcore.law import columns, combine, predict
from cptcore.params_io import ParamSet, check_predicted
from cptcore.presets import PAPER_SETTING
from cptcore.scenario import Scenario, ScenarioCurves, base_S1pt, lr_and_areas, simulate
from cptcore.schedules import (
    ScheduleSpec,
    concatenate,
    format_lr,
    pt_spec_for_potential,
    segment,
)

FAMILIES = {
    "wsd": "Warmup-Stable-Decay: constant at the peak, then a linear decay over the last fraction",
    "cosine": "cosine decay from the peak to the final LR",
    "linear": "linear decay from the peak to the final LR",
    "constant": "constant at the peak LR (no annealing)",
}
MODES = {
    "balance": "minimise lambda1*(general loss change) + lambda2*(domain loss change) (paper Eq. 5)",
    "max_general_rise": "the general loss may rise by at most x; minimise the domain loss",
    "domain_target": "reach domain loss y in the fewest CPT steps",
}
WARMUP_FROM = ("zero", "pt_final")
# Paper Fig. 21 (notes §2.6): OOD set -> (lambda1' on D_pt = FineWeb, lambda2' on D_cpt = Knowledge-Pile)
OOD_EXAMPLES = {
    "C4 (RedPajama)": (0.867, 0.152),
    "SlimPajama": (0.622, 0.385),
    "Stories": (1.409, -0.516),
    "StackExchange": (-0.546, 1.853),
    "arXiv": (-0.609, 1.631),
    "Books (Pile)": (0.611, 0.475),
    "Open-Web-Math": (-0.078, 1.2),
    "PhilPapers (Pile)": (-0.178, 1.505),
}
_INFEASIBLE = 1e6  # penalty scale for constraint violations inside the optimiser


@dataclass(frozen=True)
class SearchSpace:
    """Bounds of the search. A bound pair with min == max fixes that setting."""

    lr_min: float = 2.5e-5
    lr_max: float = 4e-4
    replay_min: float = 0.0
    replay_max: float = 0.5
    steps_min: int = 2_000
    steps_max: int = 20_000
    families: tuple[str, ...] = ("wsd", "cosine")
    decay_min: float = 0.1  # WSD: share of CPT steps spent decaying
    decay_max: float = 0.3
    warmup_fraction: float = 0.0  # CPT warm-up, share of CPT steps
    warmup_from: str = "zero"  # the CPT warm-up ramps from LR 0 or from the PT final LR
    final_lr_ratio: float = 0.0  # final CPT LR / CPT peak (decaying families)

    def validated(self) -> SearchSpace:
        """Return self, or raise ``InputError`` naming the bad bound and the accepted range."""

        def bad(problem: str, column: str, received: object, fix: str | None = None):
            raise InputError(problem, column=column, received=received, fix=fix)

        if not (0 < self.lr_min <= self.lr_max <= 1):
            bad(
                "peak LR bounds must satisfy 0 < min <= max <= 1",
                "lr-min/lr-max",
                f"{self.lr_min:g}..{self.lr_max:g}",
            )
        if not (0 <= self.replay_min <= self.replay_max <= 1):
            bad(
                "replay bounds must satisfy 0 <= min <= max <= 1",
                "replay-min/replay-max",
                f"{self.replay_min:g}..{self.replay_max:g}",
            )
        if not (1 <= int(self.steps_min) <= int(self.steps_max) <= 2_000_000):
            bad(
                "CPT step bounds must satisfy 1 <= min <= max <= 2,000,000",
                "steps-min/steps-max",
                f"{self.steps_min}..{self.steps_max}",
            )
        if not self.families:
            bad(
                "choose at least one schedule family",
                "schedules",
                "",
                f"Use some of {', '.join(FAMILIES)}",
            )
        for f in self.families:
            if f not in FAMILIES:
                bad("unknown schedule family", "schedules", f, f"Use some of {', '.join(FAMILIES)}")
        if not (0 <= self.decay_min <= self.decay_max <= 1):
            bad(
                "WSD decay-fraction bounds must satisfy 0 <= min <= max <= 1",
                "decay",
                f"{self.decay_min:g}..{self.decay_max:g}",
            )
        if not (0 <= self.warmup_fraction < 1):
            bad("CPT warm-up fraction must be in 0..1", "warmup_fraction", self.warmup_fraction)
        if self.warmup_from not in WARMUP_FROM:
            bad("warm-up start must be 'zero' or 'pt_final'", "warmup_from", self.warmup_from)
        if not (0 <= self.final_lr_ratio <= 1):
            bad("final LR ratio must be in 0..1", "final_lr_ratio", self.final_lr_ratio)
        return self


@dataclass(frozen=True)
class Goal:
    """What the plan optimises. ``ood_weights`` = (lambda1', lambda2') of Eq. 6, or None."""

    lambda1: float = 0.5
    mode: str = "balance"
    max_general_rise: float | None = None  # mode 'max_general_rise': allowed rise of L_pt (nats)
    domain_target: float | None = None  # mode 'domain_target': domain loss to reach (nats)
    ood_weights: tuple[float, float] | None = None

    @property
    def lambda2(self) -> float:
        return 1.0 - self.lambda1

    @property
    def weights(self) -> tuple[float, float]:
        """(weight on dL_pt, weight on dL_cpt) of the balance objective."""
        return tuple(self.ood_weights) if self.ood_weights else (self.lambda1, self.lambda2)

    @property
    def target_name(self) -> str:
        return "out-of-domain loss" if self.ood_weights else "domain loss"

    def validated(self) -> Goal:
        if not (isinstance(self.lambda1, (int, float)) and 0 <= self.lambda1 <= 1):
            raise InputError(
                "lambda1 must be in 0..1",
                column="lambda1",
                received=self.lambda1,
                fix="lambda1 weights the general loss, 1 - lambda1 the domain loss",
            )
        if self.mode not in MODES:
            raise InputError(
                "unknown goal mode",
                column="mode",
                received=self.mode,
                fix=f"Use one of {', '.join(MODES)}",
            )
        if self.mode == "max_general_rise" and (
            self.max_general_rise is None or not math.isfinite(self.max_general_rise)
        ):
            raise InputError(
                "give the allowed rise of the general loss",
                column="max-general-rise",
                received=self.max_general_rise,
                fix="For example 0.02 (nats)",
            )
        if self.mode == "domain_target" and (
            self.domain_target is None or not math.isfinite(self.domain_target)
        ):
            raise InputError(
                "give the domain loss to reach",
                column="domain-target",
                received=self.domain_target,
                fix="For example 2.7 (nats)",
            )
        if self.mode == "domain_target" and self.domain_target <= 0:
            raise InputError(
                f"the {self.target_name} to reach must be above 0 nats",
                column="domain-target",
                received=self.domain_target,
                fix="Give a validation loss below the one predicted at the transfer point, "
                "e.g. 2.7",
            )
        if self.ood_weights is not None:
            w = tuple(self.ood_weights)
            if len(w) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in w):
                raise InputError(
                    "OOD weights must be two finite numbers (lambda1', lambda2')",
                    column="ood_weights",
                    received=self.ood_weights,
                )
        return self


@dataclass(frozen=True)
class PlanSettings:
    """One CPT plan: schedule family, peak LR, replay ratio, steps, WSD decay fraction."""

    family: str
    peak_lr: float
    replay: float
    steps: int
    decay_fraction: float = 0.2

    def cpt_spec(self, space: SearchSpace, pt_final_lr: float = 0.0) -> ScheduleSpec:
        warm = int(round(space.warmup_fraction * self.steps))
        return ScheduleSpec(
            kind=self.family,
            peak_lr=float(self.peak_lr),
            steps=int(self.steps),
            warmup_steps=warm,
            warmup_start=float(pt_final_lr) if (space.warmup_from == "pt_final" and warm) else 0.0,
            decay_fraction=float(self.decay_fraction),
            final_lr=0.0 if self.family == "constant" else space.final_lr_ratio * self.peak_lr,
        )

    def as_dict(self) -> dict:
        d = asdict(self)
        d["steps"] = int(d["steps"])
        return d


@dataclass(frozen=True)
class PlanResult:
    """The recommendation (scipy-style: ``feasible`` and a message instead of raising)."""

    goal: Goal
    space: SearchSpace
    pt: ScheduleSpec
    feasible: bool
    settings: PlanSettings | None
    objective: float  # the mode's objective at the recommendation (nan when infeasible)
    loss_pt_start: float
    loss_cpt_start: float
    loss_pt_end: float
    loss_cpt_end: float
    summary: str  # plain words, one or two sentences
    notes: tuple[str, ...] = ()
    n_evaluations: int = 0
    seconds: float = 0.0
    base: str | None = None  # the fitted open base model CPT starts from (paper §6); pt unused

    @property
    def delta_pt(self) -> float:
        return self.loss_pt_end - self.loss_pt_start

    @property
    def delta_cpt(self) -> float:
        return self.loss_cpt_end - self.loss_cpt_start

    def scenario(self) -> Scenario | None:
        """The recommended PT+CPT scenario (for ``cptcore.scenario.simulate``)."""
        if self.settings is None:
            return None
        pt_final = 0.0 if self.base is not None else float(segment(self.pt)[-1])
        return Scenario(
            self.pt,
            self.settings.cpt_spec(self.space, pt_final),
            float(self.settings.replay),
            self.base,
        )

    def to_dict(self) -> dict:
        num = lambda x: None if x is None or not math.isfinite(x) else round(float(x), 6)  # noqa: E731
        return {
            "feasible": self.feasible,
            "mode": self.goal.mode,
            "lambda1": self.goal.lambda1,
            "ood_weights": list(self.goal.ood_weights) if self.goal.ood_weights else None,
            "recommended": self.settings.as_dict() if self.settings else None,
            "objective": num(self.objective),
            "loss_pt": {
                "start": num(self.loss_pt_start),
                "end": num(self.loss_pt_end),
                "delta": num(self.delta_pt),
            },
            "loss_cpt": {
                "start": num(self.loss_cpt_start),
                "end": num(self.loss_cpt_end),
                "delta": num(self.delta_cpt),
            },
            "summary": self.summary,
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
        }


def default_pt() -> ScheduleSpec:
    """The paper's Fig. 3 pre-training (presets.PAPER_SETTING): WSD, 40K steps, last 10% to LR 0."""
    return ScheduleSpec(
        "wsd",
        PAPER_SETTING["peak_lr"],
        PAPER_SETTING["pt_steps"],
        decay_fraction=PAPER_SETTING["pt_decay_fraction"],
    )


def default_scenario() -> Scenario:
    """The paper's Fig. 3 setting: WSD PT 40K to 0, CPT re-warmed to 2e-4, cosine to 0 over 10K."""
    return Scenario(
        default_pt(),
        ScheduleSpec("cosine", PAPER_SETTING["peak_lr"], PAPER_SETTING["cpt_steps"]),
        0.0,
    )


# --------------------------------------------------------------------------------------------------
# fast evaluation


@dataclass(frozen=True, eq=False)
class _Shape:
    """Final CPT areas of one schedule shape as affine functions of the peak LR:
    S1cpt = peak*G1 + H1, S2cpt = peak*G2 + H2 (paper form); for the lr-weighted S2 form the
    per-step arrays are kept and S2cpt is summed per peak."""

    G1: float
    H1: float
    G2: float
    H2: float
    g: np.ndarray | None = None
    h: np.ndarray | None = None


class Planner:
    """Precomputes the fixed PT phase of a parameter set and evaluates CPT plans fast."""

    def __init__(
        self,
        ps: ParamSet,
        pt: ScheduleSpec,
        space: SearchSpace | None = None,
        base: str | None = None,
    ):
        """``base``: plan CPT from a fitted open base model (paper §6) instead of after ``pt``:
        its fitted S1pt per set, S2pt = 0 and the base annealed to LR 0 (``pt`` is unused)."""
        if "pt" not in ps.fits or "cpt" not in ps.fits:
            raise InputError(
                "planning needs parameters for both the general ('pt') and the domain ('cpt') set",
                column="pt/cpt",
                received=", ".join(ps.fits) or "none",
                fix="Fit both validation sets, or use a params.json with both sections",
            )
        self.ps = ps
        self.p_pt = ps.fits["pt"].params
        self.p_cpt = ps.fits["cpt"].params
        self.pt = pt.validated()
        self.space = (space or SearchSpace()).validated()
        self.lam = float(ps.lam)
        self.base = base
        if base is None:
            lr, T = concatenate(self.pt)
            a = compute_areas(lr, None, lam=self.lam, s2_form=ps.s2_form, eps=ps.eps)
            self.T = T
            self.S1pt = float(a.S1pt[T])
            self.S2pt = float(a.S2pt[T])
            self.eta_T = float(lr[T])
            self.m_T = float(momentum(pt_eta_for_s2(lr, T), self.lam)[T])
            self.S1pt_of = {"pt": self.S1pt, "cpt": self.S1pt}
        else:  # the base model: PT areas are its fitted S1pt and 0, LR and momentum 0 (§6)
            self.S1pt_of = base_S1pt(ps, Scenario(self.pt, self.pt, 0.0, base))
            self.T, self.S1pt, self.S2pt, self.eta_T, self.m_T = 0, 0.0, 0.0, 0.0, 0.0
        self.replay_modelled = self.p_pt.a1 is not None and self.p_cpt.a1 is not None
        self.n_eval = 0
        self._shapes: dict = {}
        self._weights: dict = {}
        lp, lc = self.losses(np.zeros(1), np.zeros(1), 0.0)
        for t, x in (("pt", lp), ("cpt", lc)):
            check_predicted(x, t, ps.source, lambda i: "at the transfer point (end of PT)")
        self.start_pt, self.start_cpt = float(lp[0]), float(lc[0])

    # -- the law at the end of CPT ------------------------------------------------------------
    def losses(self, S1cpt: np.ndarray, S2cpt: np.ndarray, replay: float, clocks=None):
        """Final (L_pt, L_cpt) for arrays of final CPT areas (paper Eq. 4 / Eq. 8).

        ``clocks``: (pt, cpt) final LR clocks S1cpt_rho for parameter sets with an LR clock
        (``_clocks``); None uses S1cpt (exact for rho = 1)."""
        S1cpt = np.asarray(S1cpt, float)
        if clocks is not None and any(c is not None for c in clocks):
            S2cpt = np.asarray(S2cpt, float)
            out = []
            for p, t, c in ((self.p_pt, "pt", clocks[0]), (self.p_cpt, "cpt", clocks[1])):
                cols = columns(p, self.S1pt_of[t], self.S2pt, S1cpt, S2cpt, float(replay), t, c)
                out.append(combine(p, cols))
            return out[0], out[1]
        a = Areas(
            np.full(S1cpt.shape, self.S1pt),
            np.full(S1cpt.shape, self.S2pt),
            S1cpt,
            np.asarray(S2cpt, float),
            0,
            cpt_from=0,
        )  # every element is an end of CPT
        S1 = self.S1pt_of if self.base is not None else {}
        return (
            predict(self.p_pt, a, float(replay), "pt", S1.get("pt")),
            predict(self.p_cpt, a, float(replay), "cpt", S1.get("cpt")),
        )

    def _shape(self, family: str, steps: int, decay: float) -> _Shape:
        key = (family, int(steps), round(float(decay), 4) if family == "wsd" else 0.0)
        hit = self._shapes.get(key)
        if hit is not None:
            return hit
        n = key[1]
        st = PlanSettings(family, 1.0, 0.0, n, key[2])
        lr1 = segment(st.cpt_spec(self.space, self.eta_T))
        lr_half = segment(replace(st, peak_lr=0.5).cpt_spec(self.space, self.eta_T))
        g = 2.0 * (lr1 - lr_half)  # exact: the segment is affine in the peak LR
        h = lr1 - g
        lam = self.lam
        # S2cpt(n) = m_T*lam*(1-lam^n)/(1-lam) + sum_j d_j*(1-lam^(n-j+1))/(1-lam)   (notes §1.2)
        w = self._weights.get(n)
        if w is None:  # momentum weights of each step's LR drop, shared by shapes of n steps
            w = -np.expm1(np.arange(n, 0, -1) * math.log(lam)) / (1.0 - lam)
            self._weights = {n: w} if len(self._weights) > 64 else {**self._weights, n: w}
        dg = np.empty(n)
        dh = np.empty(n)
        dg[0], dh[0] = -g[0], self.eta_T - h[0]
        dg[1:], dh[1:] = g[:-1] - g[1:], h[:-1] - h[1:]
        carry = self.m_T * lam * -math.expm1(n * math.log(lam)) / (1.0 - lam)
        sh = _Shape(float(g.sum()), float(h.sum()), float(dg @ w), float(dh @ w) + carry)
        if self.ps.s2_form != "paper" or self.p_pt.clocked or self.p_cpt.clocked:
            sh = replace(sh, g=g, h=h)
        if len(self._shapes) > 4096:
            self._shapes.clear()
        self._shapes[key] = sh
        return sh

    def _clocks(self, sh: _Shape, peaks: np.ndarray):
        """Final LR clocks sum eta^rho * eta_ref^(1-rho) per peak, for (pt, cpt) (None: no clock)."""
        if sh.g is None:
            return None
        lr = np.maximum(np.asarray(peaks, float)[:, None] * sh.g[None, :] + sh.h[None, :], 0.0)
        return tuple(
            np.sum(np.power(lr / p.eta_ref, p.rho), axis=1) * p.eta_ref if p.clocked else None
            for p in (self.p_pt, self.p_cpt)
        )

    def _areas(self, sh: _Shape, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.signal import lfilter  # not at import: scipy.signal costs ~0.5 s to import

        peaks = np.asarray(peaks, float)
        S1 = peaks * sh.G1 + sh.H1
        if sh.g is None or self.ps.s2_form == "paper":
            return S1, peaks * sh.G2 + sh.H2
        # lr-weighted S2 (App. J): S2cpt = sum_k m_k * lr_k^eps, per peak
        lr = peaks[:, None] * sh.g[None, :] + sh.h[None, :]
        d = np.empty_like(lr)
        d[:, 0] = self.eta_T - lr[:, 0]
        d[:, 1:] = lr[:, :-1] - lr[:, 1:]
        n = lr.shape[1]
        carry = self.m_T * self.lam ** np.arange(1, n + 1)
        m = lfilter([1.0], [1.0, -self.lam], d, axis=1) + carry[None, :]
        return S1, np.sum(m * np.power(np.maximum(lr, 0.0), self.ps.eps), axis=1)

    def evaluate(self, family: str, steps: int, decay: float, peaks, replays):
        """Final (L_pt, L_cpt), each of shape (len(peaks), len(replays))."""
        sh = self._shape(family, steps, decay)
        S1, S2 = self._areas(sh, np.atleast_1d(peaks))
        clocks = self._clocks(sh, np.atleast_1d(peaks))
        replays = np.atleast_1d(np.asarray(replays, float))
        Lp = np.empty((S1.size, replays.size))
        Lc = np.empty_like(Lp)
        for k, r in enumerate(replays):
            Lp[:, k], Lc[:, k] = self.losses(S1, S2, r, clocks)
        self.n_eval += Lp.size
        peaks = np.atleast_1d(peaks)

        def where(i: int) -> str:  # i indexes the flattened (peak, replay) grid
            p, r = peaks[i // replays.size], replays[i % replays.size]
            return f"at the end of a CPT of {int(steps):,} steps ({family}, peak LR {p:.2e}, replay {r:.0%})"

        # a negative or exploding predicted loss would be 'optimal': stop instead of recommending it
        check_predicted(Lp, "pt", self.ps.source, where)
        check_predicted(Lc, "cpt", self.ps.source, where)
        return Lp, Lc

    def settings_losses(self, s: PlanSettings) -> tuple[float, float]:
        Lp, Lc = self.evaluate(s.family, s.steps, s.decay_fraction, [s.peak_lr], [s.replay])
        return float(Lp[0, 0]), float(Lc[0, 0])

    # -- scores --------------------------------------------------------------------------------
    def target(self, goal: Goal, Lp, Lc):
        """The 'domain' loss of the goal: L_cpt, or the Eq. 6 OOD mix."""
        if goal.ood_weights:
            w1, w2 = goal.ood_weights
            return w1 * Lp + w2 * Lc
        return Lc

    def target_start(self, goal: Goal) -> float:
        return float(self.target(goal, self.start_pt, self.start_cpt))

    def score(self, goal: Goal, Lp, Lc):
        """The mode's objective (lower is better); NaN where a constraint is violated."""
        dp, dc = Lp - self.start_pt, Lc - self.start_cpt
        if goal.mode == "balance":
            w1, w2 = goal.weights
            return w1 * dp + w2 * dc
        t = self.target(goal, Lp, Lc) - self.target_start(goal)
        if goal.mode == "max_general_rise":
            return np.where(dp <= goal.max_general_rise, t, np.nan)
        return t  # domain_target: the change of the target loss (steps are chosen outside)


# --------------------------------------------------------------------------------------------------
# grids and optimisation


def _log_grid(lo: float, hi: float, n: int) -> np.ndarray:
    return np.array([lo]) if hi <= lo else np.geomspace(lo, hi, n)


def _lin_grid(lo: float, hi: float, n: int) -> np.ndarray:
    return np.array([lo]) if hi <= lo else np.linspace(lo, hi, n)


def _steps_grid(space: SearchSpace, n: int) -> np.ndarray:
    return np.unique(np.round(_log_grid(space.steps_min, space.steps_max, n)).astype(int))


def _replay_grid(pl: Planner, n: int) -> np.ndarray:
    sp = pl.space
    return _lin_grid(sp.replay_min, sp.replay_max if pl.replay_modelled else sp.replay_min, n)


def _decays(space: SearchSpace, family: str, n: int) -> np.ndarray:
    return _lin_grid(space.decay_min, space.decay_max, n) if family == "wsd" else np.array([0.2])


def _grid_best(pl: Planner, goal: Goal, steps_list, n_lr=9, n_rep=6, n_decay=3):
    """Best grid point per family: {family: (score, PlanSettings)} (score NaN-aware)."""
    sp = pl.space
    lrs = _log_grid(sp.lr_min, sp.lr_max, n_lr)
    reps = _replay_grid(pl, n_rep)
    best = {}
    for fam in sp.families:
        for n in steps_list:
            for dec in _decays(sp, fam, n_decay):
                Lp, Lc = pl.evaluate(fam, int(n), dec, lrs, reps)
                sc = pl.score(goal, Lp, Lc)
                if not np.isfinite(sc).any():
                    continue
                i, k = np.unravel_index(np.nanargmin(sc), sc.shape)
                if fam not in best or sc[i, k] < best[fam][0]:
                    best[fam] = (
                        float(sc[i, k]),
                        PlanSettings(fam, float(lrs[i]), float(reps[k]), int(n), float(dec)),
                    )
    return best


def _refine(pl: Planner, goal: Goal, start: PlanSettings, fix_steps: bool = False):
    """Bounded Nelder-Mead from a grid point over the free continuous settings; returns the best
    *feasible* point seen (the penalty only steers the simplex)."""
    from scipy.optimize import minimize  # here: importing scipy.optimize slows the CLI's start

    sp = pl.space
    names, x0, lo, hi = [], [], [], []

    def add(name, v, a, b):
        if b > a:
            names.append(name)
            x0.append(v)
            lo.append(a)
            hi.append(b)

    add("loglr", math.log10(start.peak_lr), math.log10(sp.lr_min), math.log10(sp.lr_max))
    if pl.replay_modelled:
        add("replay", start.replay, sp.replay_min, sp.replay_max)
    if not fix_steps:
        add("logsteps", math.log10(start.steps), math.log10(sp.steps_min), math.log10(sp.steps_max))
    if start.family == "wsd":
        add("decay", start.decay_fraction, sp.decay_min, sp.decay_max)
    if not names:
        return start
    best = {"score": math.inf, "s": start}

    def settings(x) -> PlanSettings:
        v = dict(zip(names, np.clip(x, lo, hi), strict=True))
        return PlanSettings(
            start.family,
            float(10 ** v["loglr"]) if "loglr" in v else start.peak_lr,
            float(v.get("replay", start.replay)),
            int(round(10 ** v["logsteps"])) if "logsteps" in v else start.steps,
            float(v.get("decay", start.decay_fraction)),
        )

    def f(x):
        s = settings(x)
        Lp, Lc = pl.evaluate(s.family, s.steps, s.decay_fraction, [s.peak_lr], [s.replay])
        sc = float(pl.score(goal, Lp, Lc)[0, 0])
        if math.isfinite(sc):
            if sc < best["score"]:
                best.update(score=sc, s=s)
            return sc
        # constraint violated: steer back with an exact penalty on the excess rise
        excess = float(Lp[0, 0] - pl.start_pt - goal.max_general_rise)
        base = float(pl.target(goal, Lp, Lc)[0, 0] - pl.target_start(goal))
        return base + _INFEASIBLE * max(excess, 0.0) + 1e-3

    scale = np.array(
        [
            0.15 if nm == "loglr" or nm == "logsteps" else 0.1 * (b - a)
            for nm, a, b in zip(names, lo, hi, strict=True)
        ]
    )
    x0 = np.array(x0)
    simplex = [x0] + [
        np.clip(
            x0 + np.eye(len(x0))[i] * scale[i] * (1 if x0[i] + scale[i] <= hi[i] else -1), lo, hi
        )
        for i in range(len(x0))
    ]
    minimize(
        f,
        x0,
        method="Nelder-Mead",
        bounds=list(zip(lo, hi, strict=True)),
        options={
            "initial_simplex": np.array(simplex),
            "xatol": 1e-4,
            "fatol": 1e-8,
            "maxfev": 400 * len(x0),
        },
    )
    f(x0)  # the start itself is always a candidate
    return best["s"]


def _result(
    pl: Planner,
    goal: Goal,
    s: PlanSettings | None,
    t0: float,
    notes: list[str],
    infeasible_msg: str | None = None,
) -> PlanResult:
    if s is None:
        return PlanResult(
            goal,
            pl.space,
            pl.pt,
            False,
            None,
            float("nan"),
            pl.start_pt,
            pl.start_cpt,
            float("nan"),
            float("nan"),
            infeasible_msg or "No plan found.",
            tuple(notes),
            pl.n_eval,
            time.perf_counter() - t0,
            pl.base,
        )
    Lp, Lc = pl.settings_losses(s)
    obj = float(pl.score(goal, np.array(Lp), np.array(Lc)))
    res = PlanResult(
        goal,
        pl.space,
        pl.pt,
        True,
        s,
        obj,
        pl.start_pt,
        pl.start_cpt,
        Lp,
        Lc,
        "",
        tuple(notes),
        pl.n_eval,
        time.perf_counter() - t0,
        pl.base,
    )
    return replace(res, summary=summarize(res))


def _notes(pl: Planner, goal: Goal) -> list[str]:
    notes = []
    sp = pl.space
    if not pl.replay_modelled and sp.replay_max > sp.replay_min:
        notes.append(
            f"These parameters do not model replay (Eq. 4), so replay has no predicted effect; "
            f"it is held at {sp.replay_min:.0%}. Fit Eq. 8 on runs with several replay "
            f"ratios to plan replay."
        )
    if pl.replay_modelled:
        notes.append(f"Replay modelled by {pl.p_pt.law} ({pl.p_pt.replay_form} form).")
    if goal.ood_weights:
        w1, w2 = goal.ood_weights
        notes.append(f"Out-of-domain target (Eq. 6): L_ood = {w1:g}*L_pt + {w2:g}*L_cpt.")
    return notes


def plan(
    ps: ParamSet,
    goal: Goal,
    space: SearchSpace | None = None,
    pt: ScheduleSpec | None = None,
    planner: Planner | None = None,
) -> PlanResult:
    """The recommended CPT settings for ``goal`` within ``space``, given the PT schedule ``pt``
    (default: the paper's Fig. 3 pre-training). Deterministic; never raises on infeasibility."""
    t0 = time.perf_counter()
    goal = goal.validated()
    pl = planner or Planner(ps, pt or default_pt(), space)
    notes = _notes(pl, goal)
    if goal.mode == "domain_target":
        return _plan_fewest_steps(pl, goal, t0, notes)
    best = _grid_best(pl, goal, _steps_grid(pl.space, 6))
    if not best:
        # max_general_rise with every grid point violating it: report the smallest reachable rise
        least = min_general_rise(pl)
        msg = (
            f"Infeasible: no plan in the search space keeps the general loss rise within "
            f"{goal.max_general_rise:+.4f}; the smallest predicted change is {least[0]:+.4f} "
            f"({describe(least[1])}). Allow a larger rise, fewer steps or a lower peak LR."
        )
        return _result(pl, goal, None, t0, notes, msg)
    cands = []
    for _fam, (_sc, s0) in best.items():
        s = _refine(pl, goal, s0)
        Lp, Lc = pl.settings_losses(s)
        sc = float(pl.score(goal, np.array(Lp), np.array(Lc)))
        if math.isfinite(sc):
            cands.append((sc, list(pl.space.families).index(s.family), s))
    cands.sort(key=lambda c: (c[0], c[1]))
    return _result(pl, goal, cands[0][2], t0, notes)


def min_general_rise(pl: Planner) -> tuple[float, PlanSettings]:
    """The smallest predicted change of the general loss in the search space (grid + refine)."""
    g = Goal(1.0)
    best = _grid_best(pl, g, _steps_grid(pl.space, 6))
    sc, s = min(((v[0], _refine(pl, g, v[1])) for v in best.values()), key=lambda c: c[0])
    Lp, _ = pl.settings_losses(s)
    return Lp - pl.start_pt, s


def _best_at_steps(pl: Planner, goal: Goal, n: int) -> tuple[float, PlanSettings]:
    """Lowest final target loss reachable in exactly ``n`` CPT steps."""
    best = _grid_best(pl, goal, [n], n_lr=7, n_rep=5, n_decay=3)
    cands = [_refine(pl, goal, s0, fix_steps=True) for _sc, s0 in best.values()]
    out = []
    for s in cands:
        Lp, Lc = pl.settings_losses(s)
        out.append((float(pl.target(goal, np.array(Lp), np.array(Lc))), s))
    return min(out, key=lambda c: c[0])


def _plan_fewest_steps(pl: Planner, goal: Goal, t0: float, notes: list[str]) -> PlanResult:
    """Fewest CPT steps whose best plan reaches the target loss: scan a log grid of steps, then
    bisect between the last miss and the first hit (assumes the reachable loss falls with steps)."""
    y = goal.domain_target
    grid = _steps_grid(pl.space, 10)
    prev = None
    for n in grid:
        val, s = _best_at_steps(pl, goal, int(n))
        if val <= y:
            lo, hi, hit = (prev if prev is not None else int(n)), int(n), s
            while hi - lo > max(1, int(0.005 * hi)):
                mid = (lo + hi) // 2
                v, sm = _best_at_steps(pl, goal, mid)
                if v <= y:
                    hi, hit = mid, sm
                else:
                    lo = mid
            return _result(pl, goal, hit, t0, notes)
        prev = int(n)
    msg = (
        f"Infeasible: the {goal.target_name} cannot reach {y:.4f} within {pl.space.steps_max:,} "
        f"CPT steps; the lowest predicted is {val:.4f} ({describe(s)}), starting from "
        f"{pl.target_start(goal):.4f}. Allow more steps, a higher peak LR, or aim higher."
    )
    return _result(pl, goal, None, t0, notes, msg)


# --------------------------------------------------------------------------------------------------
# words


def describe(s: PlanSettings) -> str:
    """'a cosine schedule at peak LR 1.5e-4 for 12,000 steps with 20% replay'."""
    fam = (
        f"a WSD schedule (last {s.decay_fraction:.0%} decaying)"
        if s.family == "wsd"
        else (f"a {s.family} schedule" if s.family != "constant" else "a constant LR")
    )
    return (
        f"{fam} at peak LR {format_lr(s.peak_lr)} for {s.steps:,} steps with {s.replay:.0%} replay"
    )


def _change(start: float, end: float, name: str) -> str:
    d = end - start
    verb = "rise" if d > 0 else "fall"
    return f"{name} is predicted to {verb} by {abs(d):.4f} ({start:.4f} → {end:.4f})"


def summarize(r: PlanResult) -> str:
    """One or two plain sentences stating the recommendation and its predicted effect."""
    if not r.feasible or r.settings is None:
        return r.summary
    g = r.goal
    if g.mode == "balance":
        w1, w2 = g.weights
        why = (
            f"To minimise {w1:g}×(general loss change) + {w2:g}×(domain loss change)"
            if g.ood_weights
            else f"To balance general loss (weight {g.lambda1:.2f}) and domain loss (weight {g.lambda2:.2f})"
        )
    elif g.mode == "max_general_rise":
        why = (
            f"To get the lowest {g.target_name} while the general loss rises by at most "
            f"{g.max_general_rise:.4f}"
        )
    else:
        why = f"To reach a {g.target_name} of {g.domain_target:.4f} in the fewest steps"
    s = (
        f"{why}, continue pre-training with {describe(r.settings)}: "
        f"{_change(r.loss_pt_start, r.loss_pt_end, 'general loss')} and "
        f"{_change(r.loss_cpt_start, r.loss_cpt_end, 'domain loss')}."
    )
    if g.ood_weights:
        w1, w2 = g.ood_weights
        a, b = (
            w1 * r.loss_pt_start + w2 * r.loss_cpt_start,
            w1 * r.loss_pt_end + w2 * r.loss_cpt_end,
        )
        s += f" The out-of-domain loss goes {a:.4f} → {b:.4f}."
    return s


# --------------------------------------------------------------------------------------------------
# maps, frontier, lambda curves


def objective_map(
    pl: Planner, goal: Goal, s: PlanSettings, x: str = "replay", n_lr: int = 40, n_x: int = 30
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x values, peak LRs, score[len(lrs), len(x)]) around the plan ``s``: x = 'replay' (steps,
    family and decay held at ``s``) or 'steps' (replay held). NaN marks violated constraints; in
    'domain_target' mode the map shows the final target loss."""
    sp = pl.space
    lrs = _log_grid(sp.lr_min, sp.lr_max, n_lr)
    if x == "replay":
        xs = _lin_grid(sp.replay_min, sp.replay_max, n_x)
        Lp, Lc = pl.evaluate(s.family, s.steps, s.decay_fraction, lrs, xs)
        Z = _map_value(pl, goal, Lp, Lc)
    elif x == "steps":
        xs = _steps_grid(sp, n_x)
        Z = np.empty((lrs.size, xs.size))
        for k, n in enumerate(xs):
            Lp, Lc = pl.evaluate(s.family, int(n), s.decay_fraction, lrs, [s.replay])
            Z[:, k] = _map_value(pl, goal, Lp, Lc)[:, 0]
    else:
        raise ValueError(f"x must be 'replay' or 'steps', not {x!r}")
    return xs, lrs, Z


def _map_value(pl: Planner, goal: Goal, Lp, Lc):
    if goal.mode == "domain_target":
        return pl.target(goal, Lp, Lc)
    return pl.score(goal, Lp, Lc)


def map_label(goal: Goal) -> str:
    if goal.mode == "balance":
        w1, w2 = goal.weights
        return f"{w1:g}·ΔL_pt + {w2:g}·ΔL_cpt"
    if goal.mode == "max_general_rise":
        return f"Δ {goal.target_name} (blank: general rise > {goal.max_general_rise:g})"
    return f"final {goal.target_name}"


def pareto_frontier(
    pl: Planner, n_lr: int = 12, n_rep: int = 6, n_steps: int = 8, n_decay: int = 3
) -> pd.DataFrame:
    """Grid over the search space with final losses; column ``pareto`` marks the non-dominated
    points (lower general AND lower domain loss is better), sorted by loss_pt."""
    sp = pl.space
    lrs = _log_grid(sp.lr_min, sp.lr_max, n_lr)
    reps = _replay_grid(pl, n_rep)
    rows = []
    for fam in sp.families:
        for n in _steps_grid(sp, n_steps):
            for dec in _decays(sp, fam, n_decay):
                Lp, Lc = pl.evaluate(fam, int(n), dec, lrs, reps)
                L, R = np.meshgrid(lrs, reps, indexing="ij")
                rows.append(
                    pd.DataFrame(
                        {
                            "family": fam,
                            "peak_lr": L.ravel(),
                            "replay": R.ravel(),
                            "steps": int(n),
                            "decay_fraction": float(dec) if fam == "wsd" else np.nan,
                            "loss_pt": Lp.ravel(),
                            "loss_cpt": Lc.ravel(),
                        }
                    )
                )
    df = pd.concat(rows, ignore_index=True)
    df["delta_pt"] = df["loss_pt"] - pl.start_pt
    df["delta_cpt"] = df["loss_cpt"] - pl.start_cpt
    df = df.sort_values(["loss_pt", "loss_cpt"], kind="mergesort").reset_index(drop=True)
    c = df["loss_cpt"].to_numpy()
    prev_min = np.concatenate([[np.inf], np.minimum.accumulate(c)[:-1]])
    df["pareto"] = c < prev_min - 1e-12
    return df


def turning_length_curve(
    ps: ParamSet, scenario: Scenario, lambdas=None, horizon: int = 100_000
) -> pd.DataFrame:
    """Paper Fig. 13: for the composite lambda1*L_pt + (1-lambda1)*L_cpt, the CPT steps until it
    returns to its value at the transfer point. CPT is held at a constant LR (the scenario's CPT peak
    and warm-up, replay) for ``horizon`` steps (assumption: the paper's CPT schedule for Fig. 13 is
    not stated). ``turning_length`` is 0 when the composite never rises above its initial value and
    None (<NA>) when it stays above it for the whole horizon ('CPT not suitable')."""
    lambdas = np.round(np.linspace(0.0, 1.0, 21), 4) if lambdas is None else np.asarray(lambdas)
    cpt = replace(
        scenario.cpt,
        kind="constant",
        steps=int(horizon),
        warmup_steps=min(int(scenario.cpt.warmup_steps), int(horizon)),
    )
    cur = simulate(ps, Scenario(scenario.pt, cpt, scenario.replay, scenario.base), bands=False)
    T = cur.transfer_step
    lp, lc = cur.curves["pt"].pred, cur.curves["cpt"].pred
    out, status = [], []
    for l1 in lambdas:
        comp = l1 * lp + (1 - l1) * lc
        after = comp[T + 1 :] - comp[T]
        above = after > 1e-12
        if not above.any():
            out.append(0)
            status.append("never rises")
            continue
        first_up = int(np.argmax(above))
        back = np.flatnonzero(after[first_up:] <= 0)
        if back.size == 0:
            out.append(None)
            status.append(f"stays above for {horizon:,} steps")
        else:
            out.append(int(first_up + back[0] + 1))
            status.append("returns")
    return pd.DataFrame(
        {"lambda1": lambdas, "turning_length": pd.array(out, dtype="Int64"), "status": status}
    )


def _final_losses(ps: ParamSet, sc: Scenario) -> tuple[float, float]:
    """(L_pt, L_cpt) at the end of a scenario: the areas of every step, the law at the last only."""
    lr, T, a = lr_and_areas(sc, ps.lam, ps.s2_form, ps.eps)
    end = a.at(np.array([len(lr) - 1]))
    S1 = base_S1pt(ps, sc)
    return tuple(
        float(predict(ps.fits[t].params, end, sc.replay, t, S1.get(t))[0]) for t in ("pt", "cpt")
    )


def potential_curve(
    ps: ParamSet, scenario: Scenario, lambdas=None, n_grid: int = 11, rewarm: bool = False
) -> pd.DataFrame:
    """Paper Fig. 8a: the loss potential (PT final LR / PT peak, §3.3) of a new pre-training run that
    minimises the *final* composite loss lambda1*L_pt + (1-lambda1)*L_cpt after CPT, per lambda1.

    The PT schedule becomes a WSD anneal to ``potential x peak`` (``pt_spec_for_potential``). CPT
    (the scenario's family and steps) continues from the released model: without ``rewarm`` it starts
    at the PT final LR and anneals from there (the paper's §4.1 setting without re-warm-up); with
    ``rewarm`` it is the scenario's CPT unchanged. Final (not changed) loss is compared because the
    starting point itself depends on the potential."""
    from scipy.optimize import minimize_scalar  # not at import: the CLI starts faster

    lambdas = np.round(np.linspace(0.2, 1.0, 9), 4) if lambdas is None else np.asarray(lambdas)
    memo: dict = {}

    def finals(p: float) -> tuple[float, float]:
        key = round(float(p), 5)
        if key not in memo:
            pt = pt_spec_for_potential(scenario.pt, key)
            if rewarm:
                cpt = scenario.cpt
                if cpt.warmup_start > 0:
                    cpt = replace(cpt, warmup_start=pt.final_lr)
            else:
                peak = max(
                    pt.final_lr, 1e-12
                )  # potential 0: the CPT LR is ~0 (nothing to continue)
                cpt = replace(
                    scenario.cpt,
                    peak_lr=peak,
                    warmup_steps=0,
                    warmup_start=0.0,
                    final_lr=min(scenario.cpt.final_lr, peak),
                )
            memo[key] = _final_losses(ps, Scenario(pt, cpt, scenario.replay))
        return memo[key]

    grid = np.linspace(0.0, 1.0, n_grid)
    F = np.array([finals(p) for p in grid])
    rows = []
    for l1 in lambdas:
        comp = l1 * F[:, 0] + (1 - l1) * F[:, 1]
        i = int(np.argmin(comp))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
        r = minimize_scalar(
            lambda p, l1=l1: l1 * finals(p)[0] + (1 - l1) * finals(p)[1],
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 2e-3},
        )
        if r.fun <= comp[i]:
            p_best, v = float(r.x), float(r.fun)
        else:
            p_best, v = float(grid[i]), float(comp[i])
        lp, lc = finals(p_best)
        rows.append(
            {
                "lambda1": float(l1),
                "potential": p_best,
                "composite": v,
                "loss_pt": lp,
                "loss_cpt": lc,
            }
        )
    return pd.DataFrame(rows)


def lambda_sweep(
    ps: ParamSet,
    space: SearchSpace,
    pt: ScheduleSpec | None = None,
    lambdas=None,
    planner: Planner | None = None,
) -> pd.DataFrame:
    """Paper Fig. 8b/8c: the balance-mode optimum (peak LR, replay, steps, family) per lambda1."""
    lambdas = np.round(np.linspace(0.1, 1.0, 10), 4) if lambdas is None else np.asarray(lambdas)
    pl = planner or Planner(ps, pt or default_pt(), space)
    rows = []
    for l1 in lambdas:
        r = plan(ps, Goal(float(l1)), planner=pl)
        rows.append(
            {
                "lambda1": float(l1),
                **r.settings.as_dict(),
                "objective": r.objective,
                "delta_pt": r.delta_pt,
                "delta_cpt": r.delta_cpt,
            }
        )
    return pd.DataFrame(rows)


def simulate_plan(ps: ParamSet, r: PlanResult) -> ScenarioCurves | None:
    """Predicted curves of the recommended plan (no bands)."""
    sc = r.scenario()
    return simulate(ps, sc, bands=False) if sc is not None else None


# --------------------------------------------------------------------------------------------------
# command line: ``python -m cptcore plan`` (registered by cptcore/__main__.py)

CLI_EPILOG = """examples:
  python -m cptcore plan -p params.json --lambda1 0.7
  python -m cptcore plan -p params.json --schedules wsd,cosine --steps-min 1000 --steps-max 20000 \\
      --pt-steps 3000 --pt-peak-lr 1e-3 --max-general-rise 0.02 --report plan.html
  python -m cptcore plan -p params.json --domain-target 2.6 --ood SlimPajama

prints the recommendation as JSON; exit 0 = a plan was found, 1 = infeasible, 2 = bad input.
OOD names (paper Fig. 21 weights): """ + ", ".join(OOD_EXAMPLES)


def add_plan_command(sub) -> None:
    """Register the ``plan`` subcommand on an argparse subparsers object."""
    import argparse

    d = SearchSpace()
    q = sub.add_parser(
        "plan",
        help="recommend CPT peak LR, schedule, steps and replay for a goal (paper Eq. 5)",
        epilog=CLI_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("-p", "--params", required=True, help="params.json with 'pt' and 'cpt' sets")
    q.add_argument("--lambda1", type=float, default=0.5, help="weight of the general loss (0.5)")
    q.add_argument(
        "--lr-min", type=float, default=d.lr_min, help=f"CPT peak LR lower bound ({d.lr_min:g})"
    )
    q.add_argument(
        "--lr-max", type=float, default=d.lr_max, help=f"CPT peak LR upper bound ({d.lr_max:g})"
    )
    q.add_argument(
        "--replay-min", type=float, default=d.replay_min, help="replay ratio lower bound, 0..1 (0)"
    )
    q.add_argument(
        "--replay-max",
        type=float,
        default=d.replay_max,
        help="replay ratio upper bound, 0..1 (0.5)",
    )
    q.add_argument(
        "--steps-min", type=int, default=d.steps_min, help=f"fewest CPT steps ({d.steps_min})"
    )
    q.add_argument(
        "--steps-max", type=int, default=d.steps_max, help=f"most CPT steps ({d.steps_max})"
    )
    q.add_argument("--schedules", default=",".join(d.families), help="CPT schedule families to try, "
                   f"comma-separated, from {', '.join(FAMILIES)} (wsd,cosine)")  # fmt: skip
    q.add_argument(
        "--decay-min", type=float, default=d.decay_min, help="WSD decay fraction lower bound (0.1)"
    )
    q.add_argument(
        "--decay-max", type=float, default=d.decay_max, help="WSD decay fraction upper bound (0.3)"
    )
    q.add_argument(
        "--cpt-warmup", type=float, default=0.0, help="CPT warm-up, fraction of CPT steps (0)"
    )
    q.add_argument("--pt-schedule", default="wsd", choices=("wsd", "cosine", "linear", "constant"),
                   help="pre-training schedule (wsd)")  # fmt: skip
    q.add_argument(
        "--pt-steps", type=int, default=PAPER_SETTING["pt_steps"], help="pre-training steps (40000)"
    )
    q.add_argument(
        "--pt-peak-lr",
        type=float,
        default=PAPER_SETTING["peak_lr"],
        help="pre-training peak LR (2e-4)",
    )
    q.add_argument("--pt-decay", type=float, default=PAPER_SETTING["pt_decay_fraction"],
                   help="WSD pre-training: fraction of steps annealing (0.1)")  # fmt: skip
    q.add_argument("--pt-final-lr", type=float, default=0.0, help="pre-training final LR (0)")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--max-general-rise", type=float, metavar="X",
                   help="minimise the domain loss while the general loss rises by at most X")  # fmt: skip
    g.add_argument("--domain-target", type=float, metavar="Y",
                   help="reach domain loss Y in the fewest CPT steps")  # fmt: skip
    q.add_argument("--ood", help="judge by an OOD set (Eq. 6): a name below or 'w_pt,w_cpt'")
    q.add_argument("--report", metavar="OUT.html", help="also write the self-contained HTML report")
    q.add_argument("--markdown", metavar="OUT.md", help="also write the Markdown summary")
    q.add_argument("--frontier", metavar="OUT.csv", help="also write the Pareto frontier as CSV")
    q.set_defaults(func=cli_plan)


def _ood_arg(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    for name, w in OOD_EXAMPLES.items():
        if text.strip().lower() == name.lower() or text.strip().lower() == name.split()[0].lower():
            return w
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise InputError("expected an OOD set name or two weights 'w_pt,w_cpt'", column="--ood",
                         received=text, fix=f"Use e.g. 0.6,0.4 or one of {', '.join(OOD_EXAMPLES)}") from None  # fmt: skip
    return a, b


def cli_plan(args) -> int:
    """``python -m cptcore plan``: print the recommendation as JSON (exit 1 when infeasible)."""
    import json

    from cptcore.files import check_writable
    from cptcore.params_io import load

    for path in (args.report, args.markdown, args.frontier):
        if path:
            check_writable(path)  # before planning, not after it
    ps = load(args.params)
    fams = tuple(f.strip() for f in str(args.schedules).split(",") if f.strip())
    space = SearchSpace(
        args.lr_min, args.lr_max, args.replay_min, args.replay_max, args.steps_min, args.steps_max,
        fams, args.decay_min, args.decay_max, args.cpt_warmup,
    ).validated()  # fmt: skip
    if args.max_general_rise is not None:
        goal = Goal(args.lambda1, "max_general_rise", max_general_rise=args.max_general_rise)
    elif args.domain_target is not None:
        goal = Goal(args.lambda1, "domain_target", domain_target=args.domain_target)
    else:
        goal = Goal(args.lambda1)
    goal = replace(goal, ood_weights=_ood_arg(args.ood)).validated()
    pt = ScheduleSpec(args.pt_schedule, args.pt_peak_lr, args.pt_steps,
                      decay_fraction=args.pt_decay, final_lr=args.pt_final_lr)  # fmt: skip
    for name, value in (("--pt-steps", args.pt_steps), ("--pt-peak-lr", args.pt_peak_lr)):
        if value <= 0:
            raise InputError("must be positive", column=name, received=value)
    try:
        pt = pt.validated()
    except InputError as e:
        raise InputError(e.problem, column="--" + "pt-" + str(e.column).replace("_", "-"),
                         received=e.received, fix=e.fix) from None  # fmt: skip
    if args.report or args.markdown or args.frontier:
        from cptcore import report

        n_cur = int(min(max(PAPER_SETTING["cpt_steps"], space.steps_min), space.steps_max))
        current = Scenario(pt, ScheduleSpec("cosine", pt.peak_lr, n_cur), space.replay_min)
        rep = report.build(ps, goal, space, current, params_label=os.path.basename(args.params))
        r = rep.result
        for path, text in ((args.report, report.html_report), (args.markdown, report.markdown_summary),
                           (args.frontier, report.frontier_csv)):  # fmt: skip
            if path:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text(rep))
                print(f"wrote {path}", file=sys.stderr)
    else:
        r = plan(ps, goal, space, pt)
    print(json.dumps(r.to_dict(), indent=2, ensure_ascii=False))
    return 0 if r.feasible else 1


# ----------------------------------------------------------------------------- the fitted range
def within_envelope(space: SearchSpace, env) -> tuple[SearchSpace, list[str]]:
    """The search space limited to what the fitted runs covered (``cptcore.envelope``): peak LR and
    replay to their fitted ranges, CPT steps to the longest fitted run scaled by the peak LR (the
    fitted summed LR). Returns the space and one note per limit applied; unchanged without an
    envelope. A range that does not overlap the fitted one is moved onto it."""
    if env is None:
        return space, []
    notes: list[str] = []
    lo, hi = env.cpt_peak_lr
    lr_min, lr_max = max(space.lr_min, lo), min(space.lr_max, hi)
    if lr_min > lr_max:
        lr_min, lr_max = lo, hi
    if (lr_min, lr_max) != (space.lr_min, space.lr_max):
        notes.append(
            f"peak LR limited to the fitted {format_lr(lo)}–{format_lr(hi)}"
            if lo != hi
            else f"peak LR held at the fitted {format_lr(lo)}"
        )
    r_lo, r_hi = env.replay
    rep_min, rep_max = max(space.replay_min, r_lo), min(space.replay_max, r_hi)
    if rep_min > rep_max:
        rep_min, rep_max = r_lo, r_hi
    if (rep_min, rep_max) != (space.replay_min, space.replay_max):
        notes.append(f"replay limited to the fitted {rep_min:.0%}–{rep_max:.0%}")
    longest = int(env.S1cpt[1] / max(lr_max, 1e-30) * 1.05)  # same summed LR as the longest run
    steps_max = min(space.steps_max, max(longest, 1))
    steps_min = min(space.steps_min, steps_max)
    if (steps_min, steps_max) != (space.steps_min, space.steps_max):
        notes.append(f"CPT steps limited to {steps_max:,} (the longest fitted run's summed LR)")
    out = replace(
        space,
        lr_min=lr_min,
        lr_max=lr_max,
        replay_min=rep_min,
        replay_max=rep_max,
        steps_min=steps_min,
        steps_max=steps_max,
    )
    return out, notes


def edge_notes(s: PlanSettings, space: SearchSpace, inside: bool) -> list[str]:
    """One note per setting of a recommendation that sits on a bound of the search space: the true
    optimum may lie beyond it, and what widening it would mean."""
    beyond = (
        "beyond what the fitted runs covered: widening it means extrapolating the law"
        if inside
        else "widen the search space to look further"
    )
    out = []

    def near(v, b, rel=0.02):
        return abs(v - b) <= rel * max(abs(b), 1e-12)

    if space.lr_min < space.lr_max:
        for b, side in ((space.lr_max, "highest"), (space.lr_min, "lowest")):
            if near(s.peak_lr, b):
                out.append(f"The peak LR is the {side} allowed ({format_lr(b)}); {beyond}.")
    if space.replay_min < space.replay_max:
        for b, side in ((space.replay_max, "highest"), (space.replay_min, "lowest")):
            if abs(s.replay - b) < 0.01:
                out.append(f"The replay ratio is the {side} allowed ({b:.0%}); {beyond}.")
    if space.steps_min < space.steps_max:
        for b, side in ((space.steps_max, "most"), (space.steps_min, "fewest")):
            if near(s.steps, b):
                out.append(f"The step count is the {side} allowed ({b:,}); {beyond}.")
    return out
