"""What-if settings as a person types them (steps, peak LRs, percentages) and the ``Scenario`` they mean.

The Explore and Learn pages hold one small, hashable ``WhatIf`` (it is also the cache key of the
simulation); ``WhatIf.scenario()`` turns it into ``ScheduleSpec``s. ``whatif_from_run`` reads the
settings of an existing run (the sample runs' steps and LRs become the defaults for the sample fit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from cptcore.presets import PAPER_SETTING
from cptcore.runs import Run
from cptcore.scenario import Scenario
from cptcore.schedules import CORNER_KINDS, ScheduleSpec, pt_spec_for_potential

PT_KINDS = CORNER_KINDS  # PT schedules (the loss potential applies to all but constant)
CPT_KINDS = CORNER_KINDS


@dataclass(frozen=True)
class WhatIf:
    """A PT+CPT scenario in the units of the app's controls. Fractions are 0..1."""

    pt_steps: int = PAPER_SETTING["pt_steps"]
    pt_kind: str = "wsd"
    pt_lr: float = PAPER_SETTING["peak_lr"]
    pt_warmup: float = 0.0  # fraction of PT steps
    pt_decay: float = PAPER_SETTING[
        "pt_decay_fraction"
    ]  # WSD: fraction of PT steps spent annealing
    potential: float = 0.0  # loss potential: final PT LR / PT peak (paper §3.3)
    cpt_steps: int = PAPER_SETTING["cpt_steps"]
    cpt_kind: str = "cosine"
    cpt_lr: float = PAPER_SETTING["peak_lr"]
    cpt_warmup: float = 0.0  # fraction of CPT steps
    cpt_decay: float = 0.2  # WSD: fraction of CPT steps spent annealing
    cpt_shape: str = "linear"  # WSD decay shape
    warmup_from: str = "zero"
    replay: float = 0.0  # share of PT data in the CPT mixture (paper §3.4)

    def pt_spec(self) -> ScheduleSpec:
        base = ScheduleSpec(
            kind=self.pt_kind,
            peak_lr=self.pt_lr,
            steps=int(self.pt_steps),
            warmup_steps=int(round(self.pt_warmup * self.pt_steps)),
            decay_fraction=self.pt_decay,
        )
        if self.pt_kind == "wsd":
            return pt_spec_for_potential(base, self.potential)
        if self.pt_kind in ("cosine", "linear"):
            return replace(base, final_lr=self.potential * self.pt_lr)
        return base  # constant: potential 100 %

    def cpt_spec(self) -> ScheduleSpec:
        pt = self.pt_spec()
        start = pt.final_lr if pt.kind != "constant" else pt.peak_lr
        shape = self.cpt_shape if self.cpt_shape != "exponential" else "linear"
        return ScheduleSpec(
            kind=self.cpt_kind,
            peak_lr=self.cpt_lr,
            steps=int(self.cpt_steps),
            warmup_steps=int(round(self.cpt_warmup * self.cpt_steps)),
            warmup_start=min(start, self.cpt_lr) if self.warmup_from == "pt_final" else 0.0,
            decay_fraction=self.cpt_decay,
            decay_shape=shape,
        )

    def scenario(self) -> Scenario:
        return Scenario(self.pt_spec(), self.cpt_spec(), float(self.replay))

    @property
    def effective_potential(self) -> float:
        """The loss potential this PT schedule really has (1 for a constant LR)."""
        return 1.0 if self.pt_kind == "constant" else float(self.potential)

    def as_dict(self) -> dict:
        return asdict(self)


PAPER_WHATIF = (
    WhatIf()
)  # paper Fig. 3 setting (presets.PAPER_SETTING): WSD 40K to 0, cosine CPT 10K


def lr_options(lo: float = 1e-6, hi: float = 1e-2) -> list[float]:
    """Log-spaced 'round' learning rates (1, 1.5, 2, 3, 4, 5, 7 × 10^k) between lo and hi."""
    out = []
    for k in range(-8, 1):
        for m in (1, 1.5, 2, 3, 4, 5, 7):
            v = float(f"{m}e{k}")
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                out.append(v)
    return out


def step_options(lo: int = 100, hi: int = 1_000_000) -> list[int]:
    """Round step counts (1, 1.5, 2, 2.5, 3, 4, 5, 7.5 × 10^k) between lo and hi."""
    out = []
    for k in range(1, 8):
        for m in (1, 1.5, 2, 2.5, 3, 4, 5, 7.5):
            v = int(round(m * 10**k))
            if lo <= v <= hi:
                out.append(v)
    return out


def nearest(options: list, value: float):
    """The option closest to ``value`` on a log scale (for snapping a run's LR onto a slider)."""
    arr = np.asarray(options, dtype=float)
    return options[int(np.argmin(np.abs(np.log(arr) - np.log(max(value, 1e-300)))))]


def _warmup_end(lr: np.ndarray) -> int:
    """Warm-up length in updates: the update that first reaches the peak (0: starts at the peak),
    as in ``ScheduleSpec.warmup_steps``."""
    peak = float(np.max(lr))
    first = int(np.argmax(lr >= peak * (1 - 1e-9)))
    return first + 1 if first > 0 else 0


def _decay_kind(seg: np.ndarray, warm: int) -> tuple[str, float]:
    """('constant' | 'wsd' | 'linear' | 'cosine', decay fraction) of a per-update LR segment."""
    peak = float(np.max(seg))
    n = len(seg)
    if seg[-1] >= peak * (1 - 1e-6):
        return "constant", 0.2
    at_peak = np.flatnonzero(seg >= peak * (1 - 1e-9))
    start = int(at_peak[-1]) + 1  # first update below the peak
    frac = (n - start) / max(n - warm, 1)
    if start > warm + 0.05 * n:
        return "wsd", round(float(frac), 3)
    q = start + (n - start) // 4  # a quarter into the decay: cosine 85 % of the way, linear 75 %
    lin = peak + (seg[-1] - peak) * (q - start + 1) / max(n - start, 1)
    return ("linear" if abs(seg[q] - lin) < 0.04 * peak else "cosine"), 0.2


def whatif_from_run(run: Run, base: WhatIf = PAPER_WHATIF) -> WhatIf:
    """The settings of a PT+CPT run (steps, peak LRs, warm-ups, schedule kinds, loss potential)."""
    lr = run.dense_lr()
    if not run.pt_history_known:  # CPT from an open base model (paper §6): the CPT settings only
        cpt = lr[1:]
        return replace(base, **_cpt_settings(cpt, run.replay)) if cpt.size >= 2 else base
    t = run.transfer_step
    pt, cpt = lr[1 : t + 1], lr[t + 1 :]
    if pt.size < 2 or cpt.size < 2:
        return base
    pt_warm = _warmup_end(pt)
    pt_kind, pt_decay = _decay_kind(pt, pt_warm)
    pt_peak = float(np.max(pt))
    return replace(
        base,
        pt_steps=int(t),
        pt_kind=pt_kind if pt_kind in PT_KINDS else "wsd",
        pt_lr=pt_peak,
        pt_warmup=round(pt_warm / t, 3),
        pt_decay=pt_decay if pt_kind == "wsd" else base.pt_decay,
        potential=round(float(pt[-1]) / pt_peak, 2) if pt_peak > 0 else 1.0,
        **_cpt_settings(cpt, run.replay),
    )


def _cpt_settings(cpt: np.ndarray, replay: float) -> dict:
    """The ``WhatIf`` CPT fields of a CPT-phase LR (at least two steps)."""
    warm = _warmup_end(cpt)
    kind, decay = _decay_kind(cpt, warm)
    return dict(
        cpt_steps=int(cpt.size),
        cpt_kind=kind,
        cpt_lr=float(np.max(cpt)),
        cpt_warmup=round(warm / cpt.size, 3),
        cpt_decay=decay,
        replay=float(replay),
    )
