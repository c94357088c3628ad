"""Where CPT starts in a logged LR schedule: the transfer step, guessed from the LR's re-warm-up.

A log of pre-training followed by CPT (paper §2, Fig. 1) shows it in the LR: the PT schedule decays
(WSD, cosine) or the LR is reset to ~0 (a constant PT), and then the LR rises again — CPT's warm-up,
or a jump straight to CPT's peak. A PT warm-up at the start of a run has no earlier, higher LR, so it
is never taken for one. Importers offer the guess as the default 'last PT step'; a log where nothing
suggests a PT phase stays a CPT-only run (paper §6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# a valley counts as a restart when the LR was at least this many times higher before it and rises
# at least this many times higher after it, by at least MIN_SHARE of the log's peak LR (float noise
# and small wiggles in a logged LR are neither)
RATIO = 2.0
MIN_SHARE = 0.05


@dataclass(frozen=True)
class CptStart:
    """A guessed transfer point: ``step`` is the last PT step (rows after it are CPT); ``warmup``
    whether the LR ramps up (a re-warm-up) or jumps straight back up."""

    step: int
    warmup: bool

    @property
    def hint(self) -> str:
        """One line saying where and why, e.g. for the mapping form and the CLI."""
        why = "the LR re-warms up there" if self.warmup else "the LR jumps back up there"
        return f"CPT seems to start at step {self.step:,}: {why}"


def cpt_start_of(step: np.ndarray, lr: np.ndarray) -> CptStart | None:
    """The last PT step of a logged run, from the first re-warm-up of its LR; None when the LR never
    rises again after a decay or drop (a CPT-only log, or PT alone).

    ``step`` and ``lr`` are the logged rows (any spacing, increasing steps); NaN LRs are ignored.
    The valley's lowest row is the last PT step when the LR decayed into it (WSD, cosine PT); when
    the LR fell into it in one row, much faster than it changed the row before (a PT reset for CPT's
    warm-up), that row is already CPT's first, and the row before it is the last PT step."""
    step = np.asarray(step, dtype=float)
    lr = np.asarray(lr, dtype=float)
    ok = np.isfinite(lr) & np.isfinite(step)
    step, lr = step[ok], lr[ok]
    if len(lr) < 3:
        return None
    peak = float(lr.max())
    if not peak > 0:
        return None
    floor = MIN_SHARE * peak
    before = np.r_[-np.inf, np.maximum.accumulate(lr)[:-1]]  # the highest LR before each row
    after = np.r_[np.maximum.accumulate(lr[::-1])[::-1][1:], -np.inf]  # ... and after it
    valley = (
        (before >= RATIO * lr)
        & (before - lr >= floor)
        & (after >= RATIO * lr)
        & (after - lr >= floor)
    )
    if not valley.any():
        return None
    first = int(np.argmax(valley))
    end = first + int(np.argmin(valley[first:])) if not valley[first:].all() else len(lr)
    low = lr[first:end]
    m = first + int(np.flatnonzero(low == low.min())[-1])  # the LR rises after its last lowest row
    # the LR fell into the valley in one row (a reset for CPT's warm-up, not a PT decay): that row
    # is already CPT's first
    jump = lr[m - 1] - lr[m] if m > 0 else 0.0
    pace = abs(lr[m - 2] - lr[m - 1]) if m > 1 else 0.0  # the LR's change one row earlier
    reset = jump >= 0.01 * peak and jump > 3 * pace
    last_pt = m - 1 if reset else m
    # a ramp: the LR takes more than one row to climb from the valley to half of what follows
    nxt = lr[m + 1 :]
    target = lr[m] + 0.5 * (nxt.max() - lr[m])
    warmup = int(np.argmax(nxt >= target)) > 0
    return CptStart(int(step[last_pt]), bool(warmup))
