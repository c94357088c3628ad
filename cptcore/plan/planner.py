"""The fast end-of-CPT evaluation behind every plan (``Planner``).

The PT phase is fixed, so its areas and its annealing momentum at the transfer point are computed
once. For one CPT schedule shape (family, steps, decay fraction) the CPT LR is affine in the peak LR,
``lr = peak*g + h`` (h is the part of a warm-up that ramps from the PT final LR), so the final S1cpt
and S2cpt are affine in the peak too (closed form of the momentum sum, notes §1.2). One pass per
shape, then every peak LR and replay ratio is O(1) through the law (paper Eq. 4 / Eq. 8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from cptcore.areas import Areas, compute_areas, momentum, pt_eta_for_s2
from cptcore.errors import InputError
from cptcore.law import columns, combine, predict
from cptcore.params_io import ParamSet, check_predicted
from cptcore.plan.goal import Goal, PlanSettings, SearchSpace
from cptcore.schedules import ScheduleSpec, concatenate, segment


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

    def __init__(self, ps: ParamSet, pt: ScheduleSpec, space: SearchSpace | None = None):
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
        lr, T = concatenate(self.pt)
        a = compute_areas(lr, None, lam=self.lam, s2_form=ps.s2_form, eps=ps.eps)
        self.T = T
        self.S1pt = float(a.S1pt[T])
        self.S2pt = float(a.S2pt[T])
        self.eta_T = float(lr[T])
        self.m_T = float(momentum(pt_eta_for_s2(lr, T), self.lam)[T])
        self.replay_modelled = ps.models_replay
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
                cols = columns(p, self.S1pt, self.S2pt, S1cpt, S2cpt, float(replay), t, c)
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
        return (
            predict(self.p_pt, a, float(replay), "pt"),
            predict(self.p_cpt, a, float(replay), "cpt"),
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
