"""The fast end-of-CPT evaluation behind every plan (``Planner``).

The PT phase is fixed, so its areas and its annealing momentum at the transfer point are computed
once. A candidate CPT schedule is given by its corners (warm-up, peak, decay start, final LR; the plan
families are piecewise linear, or linear then a half cosine), so its final S1cpt and S2cpt come
without per-step arrays (``cpt_areas``): per linear segment in closed form (``areas.areas_at_rows``,
notes §1.2) and the cosine piece as a geometric series of a complex ratio. For one shape (family,
steps, decay fraction) the LR is affine in the peak LR, ``lr = peak*g + h`` (h is the part of a warm-up
that ramps from the PT final LR), so the final areas are affine in the peak too: two evaluations per
shape, then every peak LR and replay ratio is O(1) through the law (paper Eq. 4 / Eq. 8). Only the
LR clock and the lr-weighted S2 (sums of powers of the LR) keep per-step arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from cptcore.areas import (
    Areas,
    areas_at_rows,
    compute_areas,
    decay_sum,
    momentum,
    pt_eta_for_s2,
)
from cptcore.errors import InputError
from cptcore.law import columns, combine, predict
from cptcore.params_io import ParamSet, check_predicted
from cptcore.plan.goal import Goal, PlanSettings, SearchSpace
from cptcore.scenario import Scenario, base_S1pt
from cptcore.schedules import ScheduleSpec, concatenate, corners, lr_at, segment


def cpt_areas(spec: ScheduleSpec, eta_T: float, m_T: float, lam: float) -> tuple[float, float]:
    """Final (S1cpt, S2cpt) of the CPT schedule ``spec`` after a PT that ended at LR ``eta_T`` with
    annealing momentum ``m_T`` (paper Eq. 1, S2 in the paper's form), from its corners in O(corners):
    equal to ``compute_areas`` of the concatenated per-step LR (~1e-11 relative at 1M steps).

    ``spec`` must be given by its corners (``schedules.corners``: the kinds in ``CORNER_KINDS``, a WSD
    decay linear). The linear pieces go through ``areas_at_rows`` as a run whose step 0 is the
    transfer point (momentum 0 there; the PT's momentum decays as m_T*lam^t on top), the half cosine
    through ``_cosine_piece``. S2cpt = sum of m_i over CPT = (eta_T - eta_n + lam*(m_T - m_n))/(1-lam)
    (the summed recursion, as in ``compute_areas``)."""
    knots, c = corners(spec)
    n = int(spec.steps)
    q_n = math.exp(n * math.log(lam))
    if c == n:  # piecewise linear throughout
        a = areas_at_rows(np.r_[0, knots], np.r_[eta_T, lr_at(spec, knots)], 0, lam=lam, at=[n])
        return float(a.S1cpt[0]), float(a.S2cpt[0]) + m_T * lam * (1.0 - q_n) / (1.0 - lam)
    S1, m, v_c = 0.0, m_T, eta_T  # at update c: S1cpt, momentum, LR
    if c >= 1:  # the linear warm-up before the cosine
        v = np.r_[eta_T, lr_at(spec, knots)]
        a = areas_at_rows(np.r_[0, knots], v, 0, lam=lam, at=[c])
        S1, v_c = float(a.S1cpt[0]), float(v[-1])
        # the momentum at c: its zero-start part from the summed recursion, plus the PT's carry
        carry = m_T * math.exp(c * math.log(lam))
        m = (eta_T - v_c - (1.0 - lam) * float(a.S2cpt[0])) / lam + carry
    dS1, m = _cosine_piece(m, v_c, spec.peak_lr, spec.final_lr, n - c, lam)
    return S1 + dS1, (eta_T - spec.final_lr + lam * (m_T - m)) / (1.0 - lam)


def _cosine_piece(m: float, v0: float, peak: float, final: float, L: int, lam: float):
    """(sum of the LR, momentum at the end) over L updates of a half cosine from ``peak`` to
    ``final``, g_j = final + (peak-final)/2*(1 + cos(pi*j/L)), j = 1..L, entered with momentum ``m``
    at LR ``v0`` (the drop v0 - g_0 counts at j = 1).

    Closed forms: sum_j cos(pi*j/L) = -1, and the momentum's sum of the drops
    g_{j-1} - g_j = (peak-final)/2*(cos(theta*(j-1)) - cos(theta*j)), theta = pi/L, weighted by
    lam^(L-j), is the real part of (peak-final)/2*(e^(-i*theta) - 1)*Z with
    Z = sum_j lam^(L-j)*e^(i*theta*j) = -(1 + lam^L)/(1 - lam*e^(-i*theta)) (a geometric series;
    e^(i*theta*L) = -1)."""
    amp, theta = peak - final, math.pi / L
    q_L = math.exp(L * math.log(lam))
    s2 = math.sin(theta / 2.0) ** 2  # 1 - cos(theta) = 2*sin^2(theta/2), without cancellation
    Z = -(1.0 + q_L) / complex((1.0 - lam) + 2.0 * lam * s2, lam * math.sin(theta))
    drops = 0.5 * amp * (complex(-2.0 * s2, -math.sin(theta)) * Z).real
    m_end = q_L * m + q_L / lam * (v0 - peak) + drops
    return L * (final + 0.5 * amp) - 0.5 * amp, m_end


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
        self.replay_modelled = ps.models_replay
        self.n_eval = 0
        self._shapes: dict = {}
        lp, lc = self.losses(np.zeros(1), np.zeros(1), 0.0)
        for t, x in (("pt", lp), ("cpt", lc)):
            if base is None:  # the caller's pre-training, not the file, is the likelier cause
                check_predicted(
                    x, t, "", lambda i: f"at the end of a pre-training of {self.T:,} steps at "
                    f"peak LR {self.pt.peak_lr:.3g} (the transfer point)",
                    column="pt-steps/pt-peak-lr",
                    fix="Pre-train longer or at a higher peak LR: the law's power term in S1 (Eq. 4) "
                    "explodes for a short, low-LR pre-training",
                )  # fmt: skip
            else:
                check_predicted(x, t, ps.source, lambda i: "at the transfer point (end of PT)")
        self.start_pt, self.start_cpt = float(lp[0]), float(lc[0])

    # -- the law at the end of CPT ------------------------------------------------------------
    def losses(self, S1cpt: np.ndarray, S2cpt: np.ndarray, replay: float, clocks=None, peaks=None):
        """Final (L_pt, L_cpt) for arrays of final CPT areas (paper Eq. 4 / Eq. 8).

        ``clocks``: (pt, cpt) final LR clocks S1cpt_rho for parameter sets with an LR clock
        (``_clocks``); None uses S1cpt (exact for rho = 1). ``peaks``: the CPT peak LR of each
        element, for parameter sets whose shift depends on it (the peak forms); None: eta_ref."""
        S1cpt = np.asarray(S1cpt, float)
        clocked = clocks is not None and any(c is not None for c in clocks)
        peaked = peaks is not None and (self.p_pt.peaked or self.p_cpt.peaked)
        if clocked or peaked:
            S2cpt = np.asarray(S2cpt, float)
            clocks = clocks or (None, None)
            out = []
            for p, t, c in ((self.p_pt, "pt", clocks[0]), (self.p_cpt, "cpt", clocks[1])):
                cols = columns(
                    p, self.S1pt_of[t], self.S2pt, S1cpt, S2cpt, float(replay), t, c, peak=peaks
                )
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
        st = PlanSettings(family, 1.0, 0.0, key[1], key[2])
        one = st.cpt_spec(self.space, self.eta_T)
        half = replace(st, peak_lr=0.5).cpt_spec(self.space, self.eta_T)
        (S1_1, S2_1), (S1_h, S2_h) = (
            cpt_areas(x, self.eta_T, self.m_T, self.lam) for x in (one, half)
        )
        G1, G2 = 2.0 * (S1_1 - S1_h), 2.0 * (S2_1 - S2_h)  # exact: the areas are affine in the peak
        sh = _Shape(G1, S1_1 - G1, G2, S2_1 - G2)
        per_step = self.p_pt.clocked or self.p_cpt.clocked or self.p_pt.peaked or self.p_cpt.peaked
        if self.ps.s2_form != "paper" or per_step:
            g = 2.0 * (segment(one) - segment(half))  # sums of LR powers: per step
            sh = replace(sh, g=g, h=segment(one) - g)
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

    def _peaks(self, sh: _Shape, peaks: np.ndarray) -> np.ndarray | None:
        """The largest CPT LR of the schedule per peak setting (a warm-up from a higher PT final
        LR starts above it), as ``Areas.cpt_peak`` reads it; None when no set uses it."""
        if not (self.p_pt.peaked or self.p_cpt.peaked):
            return None
        lr = np.asarray(peaks, float)[:, None] * sh.g[None, :] + sh.h[None, :]
        return np.max(np.maximum(lr, 0.0), axis=1)

    def _areas(self, sh: _Shape, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
        m = np.stack([decay_sum(row, self.lam) for row in d]) + carry[None, :]
        return S1, np.sum(m * np.power(np.maximum(lr, 0.0), self.ps.eps), axis=1)

    def evaluate(self, family: str, steps: int, decay: float, peaks, replays):
        """Final (L_pt, L_cpt), each of shape (len(peaks), len(replays))."""
        sh = self._shape(family, steps, decay)
        S1, S2 = self._areas(sh, np.atleast_1d(peaks))
        clocks = self._clocks(sh, np.atleast_1d(peaks))
        replays = np.atleast_1d(np.asarray(replays, float))
        Lp = np.empty((S1.size, replays.size))
        Lc = np.empty_like(Lp)
        peak = self._peaks(sh, np.atleast_1d(peaks))
        for k, r in enumerate(replays):
            Lp[:, k], Lc[:, k] = self.losses(S1, S2, r, clocks, peak)
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
