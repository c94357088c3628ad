"""What the fitted runs covered (the fitted envelope), and where a prediction leaves it.

A law fitted at one peak LR, replay ratios 0..0.5 and 1000 CPT steps can only be trusted near those
settings (README, "Accuracy": another peak LR is the largest error). ``fit`` records the envelope in
params.json; the CLI, Explore and Plan say "outside the fitted range" and widen the band when a
setting leaves it. Keys (all ranges are [min, max] over the fitted runs with a CPT phase):

- ``replay``: replay ratios; ``replay_values``: the distinct ratios
- ``cpt_peak_lr``: CPT peak LRs
- ``cpt_steps``: CPT lengths in steps; ``S1cpt``: CPT forward areas (summed LR) at the end of CPT
- ``cpt_final_lr_fraction``: final CPT LR / CPT peak (1 = constant, 0 = annealed to zero)
- ``cpt_mean_lr_fraction``: mean CPT LR / CPT peak, the schedule's shape (constant 1, WSD with a
  20 % decay ~0.9, cosine ~0.5)
- ``loss_potential``: final PT LR / PT peak (paper §3.3; 1 = PT not annealed, 0 = annealed to 0);
  absent for CPT-only runs (unknown PT history)
- ``S1pt``: PT forward areas (summed PT LR, Eq. 4's S1pt) at the transfer point; ``pt_steps``: PT
  lengths in steps; both absent for CPT-only runs (unknown PT history) and in older files
- ``loss``: per validation set ('pt', 'cpt') the lowest and highest loss the fitted runs logged
  (after their first row, the initial model): a prediction far outside it is not a plausible loss
  (``implausible``); absent in older files
- ``lambda``: the S2 momentum the parameters were fitted with; ``runs``: number of runs
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cptcore.areas import areas_at_rows, is_sparse
from cptcore.runs import Run
from cptcore.schedules import format_lr

# how close to a fitted setting still counts as inside (relative for LRs, steps, areas)
REL_TOL = 0.05
REPLAY_TOL = 0.01


@dataclass(frozen=True)
class Envelope:
    """Ranges of the CPT settings the fitted runs covered (module docstring)."""

    replay: tuple[float, float]
    replay_values: tuple[float, ...]
    cpt_peak_lr: tuple[float, float]
    cpt_steps: tuple[int, int]
    S1cpt: tuple[float, float]
    cpt_final_lr_fraction: tuple[float, float]
    loss_potential: tuple[float, float] | None
    lam: float
    runs: int
    cpt_mean_lr_fraction: tuple[float, float] | None = None
    S1pt: tuple[float, float] | None = None
    pt_steps: tuple[int, int] | None = None
    loss: tuple[tuple[str, tuple[float, float]], ...] = ()  # (target, (lo, hi)) pairs: hashable

    def loss_range(self, target: str) -> tuple[float, float] | None:
        """(lowest, highest) loss the fitted runs logged on ``target`` (None: not recorded)."""
        return dict(self.loss).get(target)

    def to_dict(self) -> dict:
        d = {
            "replay": list(self.replay),
            "replay_values": list(self.replay_values),
            "cpt_peak_lr": list(self.cpt_peak_lr),
            "cpt_steps": list(self.cpt_steps),
            "S1cpt": list(self.S1cpt),
            "cpt_final_lr_fraction": list(self.cpt_final_lr_fraction),
            "lambda": self.lam,
            "runs": self.runs,
        }
        if self.loss_potential is not None:
            d["loss_potential"] = list(self.loss_potential)
        if self.cpt_mean_lr_fraction is not None:
            d["cpt_mean_lr_fraction"] = list(self.cpt_mean_lr_fraction)
        if self.S1pt is not None and self.pt_steps is not None:
            d["S1pt"], d["pt_steps"] = list(self.S1pt), list(self.pt_steps)
        if self.loss:
            d["loss"] = {t: list(r) for t, r in self.loss}
        return d

    @classmethod
    def from_dict(cls, d) -> Envelope | None:
        """The envelope of a params.json, or None when it is missing or unreadable (older files).
        The newer keys (PT history, loss ranges) are optional: without them, no check of them."""
        if not isinstance(d, dict):
            return None
        try:

            def pair(k, cast=float):
                lo, hi = d[k]
                lo, hi = cast(lo), cast(hi)
                if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                    raise ValueError(k)
                return lo, hi

            lp = d.get("loss_potential")
            shape = d.get("cpt_mean_lr_fraction")
            history = d.get("S1pt") is not None and d.get("pt_steps") is not None
            return cls(
                pair("replay"),
                tuple(float(v) for v in d.get("replay_values", d["replay"])),
                pair("cpt_peak_lr"),
                pair("cpt_steps", int),
                pair("S1cpt"),
                pair("cpt_final_lr_fraction"),
                pair("loss_potential") if lp is not None else None,
                float(d.get("lambda", 0.999)),
                int(d.get("runs", 0)),
                pair("cpt_mean_lr_fraction") if shape is not None else None,
                pair("S1pt") if history else None,
                pair("pt_steps", int) if history else None,
                _loss_ranges(d.get("loss")),
            )
        except (KeyError, TypeError, ValueError, OverflowError):
            return None


def _loss_ranges(d) -> tuple[tuple[str, tuple[float, float]], ...]:
    """The envelope's ``loss`` key read back: ((target, (lo, hi)), ...), () when absent or unreadable
    (a malformed diagnostic is dropped, not fatal)."""
    if not isinstance(d, dict):
        return ()
    out = []
    for t in ("pt", "cpt"):
        try:
            lo, hi = (float(v) for v in d[t])
        except (KeyError, TypeError, ValueError, OverflowError):
            continue
        if math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi:
            out.append((t, (lo, hi)))
    return tuple(out)


@dataclass(frozen=True)
class Setting:
    """One CPT run's settings, as compared with the envelope."""

    replay: float
    cpt_peak_lr: float
    cpt_steps: int
    S1cpt: float
    cpt_final_lr_fraction: float
    loss_potential: float | None
    cpt_mean_lr_fraction: float = 1.0
    S1pt: float | None = None  # summed PT LR at the transfer point (None: unknown PT history)
    pt_steps: int | None = None


def setting_of_lr(lr: np.ndarray, transfer: int, replay: float, pt_known: bool = True) -> Setting:
    """Settings of a per-step LR array (index = step) with the last PT step ``transfer``."""
    cpt = np.asarray(lr[transfer + 1 :], dtype=float)
    peak = float(cpt.max()) if cpt.size else 0.0
    final = float(cpt[-1]) / peak if cpt.size and peak > 0 else 0.0
    pot = S1pt = pt_steps = None
    if pt_known:
        pt = np.asarray(lr[1 : transfer + 1], dtype=float)
        S1pt, pt_steps = float(pt.sum()), int(transfer)
        pot = float(pt[-1] / pt.max()) if pt.size and pt.max() > 0 else None
    mean = float(cpt.mean()) / peak if cpt.size and peak > 0 else 0.0
    return Setting(
        float(replay), peak, int(cpt.size), float(cpt.sum()), final, pot, mean, S1pt, pt_steps
    )


def setting_of_run(run: Run) -> Setting | None:
    """Settings of a run with a CPT phase (None for a PT-only run)."""
    if not run.has_cpt:
        return None
    transfer = run.transfer_step if run.pt_history_known else 0
    if not is_sparse(run):
        return setting_of_lr(run.dense_lr(), transfer, run.replay, run.pt_history_known)
    # sparse rows: the same numbers from the rows (the LR is linear between them, so its extremes
    # are on rows or ends, and its sum is S1cpt at the last step) without a per-step array
    st, v, last = run.step, run.lr, run.last_step

    def lr_max(lo: int, hi: int) -> float:
        inside = v[(st >= lo) & (st <= hi)]
        ends = np.interp([lo, hi], st, v)
        return float(max(ends.max(), inside.max(initial=ends.max())))

    n = last - transfer
    if n <= 0:
        return Setting(float(run.replay), 0.0, 0, 0.0, 0.0, None, 0.0)
    a = areas_at_rows(st, v, transfer, pt_history_known=run.pt_history_known, at=np.array([last]))
    known = run.pt_history_known
    S1pt, pt_steps = (float(a.S1pt[0]), int(transfer)) if known else (None, None)
    total = float(a.S1cpt[0])
    peak = lr_max(transfer + 1, last)
    final = float(np.interp(last, st, v)) / peak if peak > 0 else 0.0
    pot = None
    if run.pt_history_known and transfer > 0:
        pt_max = lr_max(1, transfer)
        pot = float(np.interp(transfer, st, v)) / pt_max if pt_max > 0 else None
    mean = total / n / peak if peak > 0 else 0.0
    return Setting(float(run.replay), peak, int(n), total, final, pot, mean, S1pt, pt_steps)


def envelope_of(runs: Sequence[Run], lam: float) -> Envelope | None:
    """The envelope of the fitted runs (None when none has a CPT phase)."""
    ss = [s for s in (setting_of_run(r) for r in runs) if s is not None]
    if not ss:
        return None

    def span(vals):
        return (min(vals), max(vals))

    pots = [s.loss_potential for s in ss if s.loss_potential is not None]
    known = [s for s in ss if s.S1pt is not None and s.pt_steps]
    return Envelope(
        span([s.replay for s in ss]),
        tuple(sorted({round(s.replay, 6) for s in ss})),
        span([s.cpt_peak_lr for s in ss]),
        span([s.cpt_steps for s in ss]),
        span([s.S1cpt for s in ss]),
        span([s.cpt_final_lr_fraction for s in ss]),
        span(pots) if pots else None,
        float(lam),
        len(ss),
        span([s.cpt_mean_lr_fraction for s in ss]),
        span([s.S1pt for s in known]) if known else None,
        span([s.pt_steps for s in known]) if known else None,
        _logged_losses(runs),
    )


def _logged_losses(runs: Sequence[Run]) -> tuple[tuple[str, tuple[float, float]], ...]:
    """Per validation set, the lowest and highest loss the runs logged after their first row (the
    initial model, where the law is undefined)."""
    out = []
    for t in ("pt", "cpt"):
        ys = [r.loss(t)[1:] for r in runs]
        y = np.concatenate(ys) if ys else np.array([])
        y = y[np.isfinite(y) & (y > 0)]
        if y.size:
            out.append((t, (float(y.min()), float(y.max()))))
    return tuple(out)


@dataclass(frozen=True)
class Outside:
    """One way a setting leaves the envelope: a line for the user and how far (for the band)."""

    control: str  # 'replay', 'peak LR', 'steps', 'loss potential', 'schedule', 'PT history'
    message: str
    distance: float  # >= 0; how far beyond the range, in the unit the band widens by

    @property
    def sentence(self) -> str:
        """The message as a sentence on its own (capitalised), for the pages' warnings."""
        return self.message[:1].upper() + self.message[1:]

    def warning(self, consequence: str = "") -> str:
        """The warning a page, an export or the CLI shows: the sentence, then ``consequence``
        ("the prediction extrapolates") after a colon, ending with a period (the one place it is
        added)."""
        return f"{self.sentence}: {consequence}." if consequence else f"{self.sentence}."


def outside_warnings(
    reasons: Sequence[Outside], consequence: str, widen: float | None = None, drawn: bool = True
) -> list[str]:
    """One warning per way out of the envelope (``Outside.warning(consequence)``). With ``widen``
    (a band is shown) the last also says the band's widening once: "and the band is widened ×w",
    or, when the band is not ``drawn`` (``band_useful``), that no useful band is left."""
    note = ""
    if widen is not None:
        note = (
            f" and the band is widened ×{widen:.1f}"
            if drawn
            else f"; {NO_USEFUL_BAND} (it would be widened ×{widen:.0f})"
        )
    last = len(reasons) - 1
    return [o.warning(consequence + (note if i == last else "")) for i, o in enumerate(reasons)]


def _fmt_range(lo: float, hi: float, fmt) -> str:
    """'lo–hi', or 'lo only' when the fitted runs had one value (a range of one reads wrong)."""
    return f"{fmt(lo)} only" if fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"


def outside(env: Envelope | None, s: Setting) -> list[Outside]:
    """Every way ``s`` lies outside the fitted envelope (empty inside, or without an envelope).

    Distances: replay in ratio units; peak LR in decades (|log10| beyond the range); CPT length as
    the relative excess of S1cpt over the longest fitted run; loss potential in ratio units; the PT
    history (summed PT LR, S1pt in Eq. 4) in decades."""
    if env is None:
        return []
    out = []
    out += _share_outside("replay", f"replay {s.replay:.0%}", s.replay, env.replay, tol=REPLAY_TOL)
    lo, hi = env.cpt_peak_lr
    if s.cpt_peak_lr > 0 and (
        s.cpt_peak_lr < lo * (1 - REL_TOL) or s.cpt_peak_lr > hi * (1 + REL_TOL)
    ):
        d = max(math.log10(lo / s.cpt_peak_lr), math.log10(s.cpt_peak_lr / hi), 0.0)
        out.append(
            Outside(
                "peak LR",
                f"CPT peak LR {format_lr(s.cpt_peak_lr)} is outside the fitted range "
                f"{_fmt_range(lo, hi, format_lr)}",
                d,
            )
        )
    hi_s1 = env.S1cpt[1]
    if hi_s1 > 0 and s.S1cpt > hi_s1 * (1 + REL_TOL):
        out.append(
            Outside(
                "steps",
                f"CPT summed LR {s.S1cpt:.3g} ({s.cpt_steps:,} steps) is outside the fitted range "
                f"(up to {hi_s1:.3g}, {env.cpt_steps[1]:,} steps)",
                s.S1cpt / hi_s1 - 1.0,
            )
        )
    if env.cpt_mean_lr_fraction is not None:
        out += _share_outside(
            "schedule",
            f"the CPT schedule's mean LR ({s.cpt_mean_lr_fraction:.0%} of its peak)",
            s.cpt_mean_lr_fraction,
            env.cpt_mean_lr_fraction,
            " (a schedule shape the fitted runs did not have)",
        )
    if env.loss_potential is not None and s.loss_potential is not None:
        out += _share_outside(
            "loss potential",
            f"PT loss potential {s.loss_potential:.0%}",
            s.loss_potential,
            env.loss_potential,
        )
    out += _pt_outside(env, s)
    return out


def _pt_outside(env: Envelope, s: Setting) -> list[Outside]:
    """[Outside] when the PT history (S1pt, the summed PT LR) leaves the fitted runs' by > REL_TOL:
    the power term A (S1pt + S1cpt)^-alpha was only measured there (a tiny PT puts it near its pole)."""
    if env.S1pt is None or env.pt_steps is None or s.S1pt is None:
        return []
    lo, hi = env.S1pt
    if lo * (1 - REL_TOL) <= s.S1pt <= hi * (1 + REL_TOL):
        return []
    d = max(math.log10(lo / s.S1pt), math.log10(s.S1pt / hi)) if s.S1pt > 0 else 3.0
    steps = "–".join(f"{v:,}" for v in sorted(set(env.pt_steps)))
    length = f" ({s.pt_steps:,} PT steps)" if s.pt_steps is not None else ""
    return [
        Outside(
            "PT history",
            f"the PT summed LR {s.S1pt:.3g}{length} is outside the fitted range "
            f"{_fmt_range(lo, hi, lambda v: f'{v:.3g}')} ({steps} PT steps)",
            max(d, 0.0),
        )
    ]


def _share_outside(control, what, value, rng, suffix="", tol=0.05) -> list[Outside]:
    """[Outside] when a share (0..1: replay, LR fraction, loss potential) leaves ``rng`` by > tol."""
    lo, hi = rng
    if lo - tol <= value <= hi + tol:
        return []
    pct = _fmt_range(lo, hi, lambda v: f"{v:.0%}")
    d = max(lo - value, value - hi, 0.0)
    return [Outside(control, f"{what} is outside the fitted range {pct}{suffix}", d)]


# how much each unit of distance widens the band (README "Bands"): one decade of peak LR beyond the
# fitted ones doubles it three times over; 10 points of replay beyond the range widen it by half; a
# PT history 2x shorter or longer (0.3 decade) nearly doubles it (set by hand: the sample runs all
# have one PT length, so nothing measured it)
WIDEN = {
    "replay": 5.0,
    "peak LR": 6.0,
    "steps": 1.0,
    "loss potential": 2.0,
    "schedule": 3.0,
    "PT history": 3.0,
}


def widening(reasons: Sequence[Outside]) -> float:
    """Factor (>= 1) on the band's half-width for a setting outside the envelope."""
    return 1.0 + sum(WIDEN.get(o.control, 1.0) * o.distance for o in reasons)


# beyond this widening the band says nothing: the calibrated ~95 % half-width (about 0.02-0.05 nats
# on the sample fit) times 10 spans a few tenths of a nat, the whole CPT shift the law predicts, so a
# wider band covers every plausible loss and fills the chart (Explore at 100k CPT steps: x89.7)
USEFUL_WIDENING = 10.0
NO_USEFUL_BAND = "no useful band this far outside the fitted runs"


def band_useful(widen: float) -> bool:
    """Whether a band widened by ``widen`` (``widening``) still carries information (is drawn)."""
    return widen <= USEFUL_WIDENING


# a predicted loss this many times above the highest loss seen (or below the lowest) is not a loss a
# run of these settings reaches: the law is evaluated far from where it was fitted. Twice: the toy
# run of tests/data (20 PT steps) is forecast at ~10x; Explore's shortest PT (100 steps) reaches
# 1.6x the sample runs' highest logged loss, an extrapolation already flagged, not an absurdity
IMPLAUSIBLE = 2.0


@dataclass(frozen=True)
class Implausible:
    """A prediction that is not a plausible loss: it leaves the losses seen by a factor IMPLAUSIBLE."""

    target: str  # 'pt' or 'cpt'
    value: float  # the predicted loss furthest outside
    seen: tuple[float, float]  # the lowest and highest loss seen
    step: int  # where
    by: str = "the fitted runs"  # who saw them: the fitted runs and/or the run's own log

    @property
    def sentence(self) -> str:
        name = "general" if self.target == "pt" else "domain"
        lo, hi = self.seen
        if self.value > hi:
            side = f"far above the highest loss logged by {self.by} ({hi:.3g})"
        else:
            side = f"far below the lowest loss logged by {self.by} ({lo:.3g})"
        return (
            f"Not a plausible prediction: the {name} loss at step {self.step:,} is predicted at "
            f"{self.value:.3g} nats, {side}. The law is evaluated far outside what it was fitted "
            "on: do not use these numbers."
        )


def implausible(
    env: Envelope | None,
    step: np.ndarray,
    preds: dict,
    logged: dict | None = None,
) -> list[Implausible]:
    """Per validation set, whether the predicted losses ``preds`` (target -> loss at ``step``; pass
    the CPT phase: the power term legitimately explodes inside a PT warm-up) leave the losses seen
    by more than a factor ``IMPLAUSIBLE``: seen = the fitted runs' (``Envelope.loss``) and the run's
    own ``logged`` losses (target -> array, NaN where not logged). Empty when nothing was seen."""
    out = []
    for t, pred in preds.items():
        seen, by = [], []
        rng = env.loss_range(t) if env is not None else None
        if rng is not None:
            seen, by = list(rng), ["the fitted runs"]
        y = np.asarray(logged[t], float) if logged is not None and t in logged else np.array([])
        y = y[np.isfinite(y) & (y > 0)]
        if y.size:
            seen, by = [*seen, float(y.min()), float(y.max())], [*by, "this run"]
        pred = np.asarray(pred, float)
        if not seen or pred.size == 0:
            continue
        lo, hi = min(seen), max(seen)
        top, bottom = np.fmax.reduce(pred), np.fmin.reduce(pred)  # NaN (no prediction) ignored
        if top > hi * IMPLAUSIBLE:
            i = int(np.nanargmax(pred))
        elif bottom < lo / IMPLAUSIBLE:  # also 0 or negative: no loss at all
            i = int(np.nanargmin(pred))
        else:
            continue
        where = int(np.asarray(step)[i])
        out.append(Implausible(t, float(pred[i]), (lo, hi), where, " and ".join(by)))
    return out
