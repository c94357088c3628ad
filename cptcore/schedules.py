"""Learning-rate schedules as per-step arrays, built from a small spec.

A schedule segment of ``steps`` updates is an array of length ``steps``: the LR of updates 1..steps.
A whole run is ``[0] + PT segment + CPT segment`` indexed by step (step 0 is the initial model), and
the transfer point is step ``pt.steps``. Everything here is vectorised numpy: O(n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from cptcore.errors import InputError

KINDS = {
    "constant": "Constant LR after the warm-up",
    "wsd": "Warmup-Stable-Decay: constant, then a decay over the last fraction of steps",
    "cosine": "Cosine decay from the peak to a minimum LR",
    "linear": "Linear decay from the peak to a final LR",
    "multistep": "Step decay: multiply by gamma at each milestone",
}
# The kinds given by their corners (warm-up, peak, decay start, final LR): the what-if controls and
# the planner offer these (multistep also needs milestones and a factor, which they do not ask for)
CORNER_KINDS = ("wsd", "cosine", "linear", "constant")
WARMUP_FROM = ("zero", "pt_final")  # a CPT warm-up ramps from LR 0 or from the PT final LR
# The longest run or schedule, in steps. S1/S2 are computed at every step (README, "Limits"): about
# 50 bytes per step at the peak (the dense LR, the momentum and four area arrays), so 5 million steps
# take ~240 MB on top of the ~180 MB the libraries need: a fit or a prediction stays under ~500 MB.
MAX_STEPS = 5_000_000
DECAY_SHAPES = {
    "linear": "straight line to the final LR",
    "cosine": "half cosine to the final LR",
    "exponential": "geometric interpolation (needs final LR > 0)",
    "sqrt": "1 - sqrt(progress), fast drop first",
}


@dataclass(frozen=True)
class ScheduleSpec:
    """One phase's LR schedule. ``warmup_start`` is the LR the warm-up ramps from (0, or the PT final
    LR for a CPT that re-warms from where PT ended)."""

    kind: str = "constant"
    peak_lr: float = 3e-4
    steps: int = 1000
    warmup_steps: int = 0
    warmup_start: float = 0.0
    decay_fraction: float = 0.2  # WSD: share of steps spent decaying
    decay_shape: str = "linear"  # WSD decay shape
    final_lr: float = 0.0  # WSD / linear / cosine (cosine: the minimum LR)
    milestones: tuple[float, ...] = (0.5, 0.75)  # multistep: fractions of steps
    gamma: float = 0.1  # multistep factor

    def validated(self) -> ScheduleSpec:
        """Return self, or raise ``InputError`` naming the bad field and its accepted range."""
        if self.kind not in KINDS:
            raise InputError(
                "unknown schedule kind",
                column="kind",
                received=self.kind,
                fix=f"Use one of {', '.join(KINDS)}",
            )
        if self.decay_shape not in DECAY_SHAPES:
            raise InputError(
                "unknown decay shape",
                column="decay_shape",
                received=self.decay_shape,
                fix=f"Use one of {', '.join(DECAY_SHAPES)}",
            )
        if not (0 < self.peak_lr <= 1):
            raise InputError("peak LR must be in (0, 1]", column="peak_lr", received=self.peak_lr)
        if not 1 <= int(self.steps) <= MAX_STEPS:  # per-step arrays: bounded memory
            raise InputError(
                f"steps must be from 1 to {MAX_STEPS:,}",
                column="steps",
                received=self.steps,
                fix="Count steps in units of larger batches",
            )
        if not (0 <= self.warmup_steps <= self.steps):
            raise InputError(
                "warm-up must be between 0 and the number of steps",
                column="warmup_steps",
                received=self.warmup_steps,
            )
        if not (0 <= self.final_lr <= self.peak_lr):
            raise InputError(
                "final LR must be between 0 and the peak LR",
                column="final_lr",
                received=self.final_lr,
            )
        if not (0 <= self.decay_fraction <= 1):
            raise InputError(
                "decay fraction must be in 0..1",
                column="decay_fraction",
                received=self.decay_fraction,
            )
        if self.kind == "wsd" and self.decay_shape == "exponential" and self.final_lr <= 0:
            raise InputError(
                "an exponential decay needs a final LR > 0",
                column="final_lr",
                received=self.final_lr,
                fix="Set a final LR such as peak/10",
            )
        return self


def _decay(progress: np.ndarray, peak: float, final: float, shape: str) -> np.ndarray:
    """LR along a decay from ``peak`` (progress 0) to ``final`` (progress 1)."""
    p = np.clip(progress, 0.0, 1.0)
    if shape == "linear":
        return peak - (peak - final) * p
    if shape == "cosine":
        return final + (peak - final) * 0.5 * (1 + np.cos(np.pi * p))
    if shape == "exponential":
        return peak * (final / peak) ** p
    if shape == "sqrt":
        return final + (peak - final) * (1 - np.sqrt(p))
    raise ValueError(shape)


def segment(spec: ScheduleSpec) -> np.ndarray:
    """Per-update LR for one phase: array of length ``spec.steps`` (updates 1..steps)."""
    return lr_at(spec, np.arange(1, int(spec.steps) + 1, dtype=float))


def lr_at(spec: ScheduleSpec, i: np.ndarray) -> np.ndarray:
    """The LR of the given updates (numbers in 1..steps) of one phase: ``segment(spec)[i - 1]``
    without the other updates."""
    spec.validated()
    n, w, peak = int(spec.steps), int(spec.warmup_steps), float(spec.peak_lr)
    i = np.asarray(i, dtype=float)
    lr = np.full(i.shape, peak)
    if spec.kind == "wsd":
        n_decay = int(round(spec.decay_fraction * (n - w)))
        start = n - n_decay
        if n_decay > 0:
            k = i > start
            lr[k] = _decay((i[k] - start) / n_decay, peak, spec.final_lr, spec.decay_shape)
    elif spec.kind == "cosine":
        k = i > w
        lr[k] = _decay((i[k] - w) / max(n - w, 1), peak, spec.final_lr, "cosine")
    elif spec.kind == "linear":
        k = i > w
        lr[k] = _decay((i[k] - w) / max(n - w, 1), peak, spec.final_lr, "linear")
    elif spec.kind == "multistep":
        drops = np.zeros(i.shape)
        for m in sorted(spec.milestones):
            drops += i > w + m * (n - w)
        lr = peak * spec.gamma**drops
    if w > 0:
        k = i <= w
        lr[k] = spec.warmup_start + (peak - spec.warmup_start) * i[k] / w
    return lr


def corners(spec: ScheduleSpec) -> tuple[np.ndarray, int] | None:
    """The schedule by its corners (warm-up end, decay start, last update): ``(knots, c)`` such that
    the LR is linear in the update number between consecutive knots (updates 1..c; ``knots[-1] == c``
    when c >= 1) and, when c < steps, a half cosine from update c to the last (the cosine kind after
    its warm-up; its value at c taken as the peak). None for a schedule with other curved pieces
    (a WSD decay of another shape, the steps of multistep)."""
    spec.validated()
    n, w = int(spec.steps), int(spec.warmup_steps)
    pts = [1, w, n]
    c = n
    if spec.kind == "wsd":
        if spec.decay_shape != "linear" and spec.decay_fraction > 0:
            return None
        pts.append(n - int(round(spec.decay_fraction * (n - w))))  # the decay's start
    elif spec.kind == "cosine":
        c = w
    elif spec.kind not in ("constant", "linear"):
        return None
    knots = np.unique(np.array([p for p in pts if 1 <= p <= c], dtype=np.int64))
    return knots, c


def concatenate(pt: ScheduleSpec, cpt: ScheduleSpec | None = None) -> tuple[np.ndarray, int]:
    """The whole run's LR indexed by step (``lr[0] = 0``, the initial model) and the transfer step."""
    parts = [np.zeros(1), segment(pt)]
    if cpt is not None:
        parts.append(segment(cpt))
    return np.concatenate(parts), int(pt.steps)


def loss_potential(lr_pt: np.ndarray) -> float:
    """Final PT LR over peak PT LR (paper §3.3): 1 = not annealed, 0 = annealed to zero."""
    peak = float(np.max(lr_pt))
    return float(lr_pt[-1] / peak) if peak > 0 else 0.0


def pt_spec_for_potential(spec: ScheduleSpec, potential: float) -> ScheduleSpec:
    """A WSD pre-training schedule that anneals to ``potential`` × peak (§3.3 loss potential)."""
    p = float(np.clip(potential, 0.0, 1.0))
    return replace(
        spec,
        kind="wsd",
        final_lr=p * spec.peak_lr,
        decay_shape="linear" if spec.decay_shape == "exponential" and p == 0 else spec.decay_shape,
    )


def format_lr(v: float) -> str:
    """A learning rate as people write it, with up to three significant digits: 3e-4, 1.5e-4,
    1.23e-4 (never 2e-4 for 1.5e-4: labels of nearby LRs must differ)."""
    if not v:
        return "0"
    mantissa, exponent = f"{v:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


# ------------------------------------------------------------------------- schedules written as text

_SPEC_KEYS = {
    "peak": "peak_lr", "peak_lr": "peak_lr", "lr": "peak_lr",
    "steps": "steps",
    "warmup": "warmup_steps", "warmup_steps": "warmup_steps",
    "warmup_start": "warmup_start", "start": "warmup_start",
    "decay": "decay_fraction", "decay_fraction": "decay_fraction",
    "shape": "decay_shape", "decay_shape": "decay_shape",
    "final": "final_lr", "final_lr": "final_lr", "min_lr": "final_lr",
    "milestones": "milestones", "gamma": "gamma",
}  # fmt: skip


def parse_schedule(
    text: str | ScheduleSpec | Sequence[ScheduleSpec], source: str = "--schedule"
) -> tuple[ScheduleSpec, ...]:
    """'wsd:peak=3e-4,steps=20000,warmup=500,decay=0.2' (one phase) or two such specs joined by ';'
    (pre-training then CPT) -> validated ``ScheduleSpec``s. Errors name ``source`` (the option or
    control the text came from)."""
    if isinstance(text, ScheduleSpec):
        return (text.validated(),)
    if not isinstance(text, str):
        specs = tuple(text)
        for s in specs:
            s.validated()
        return specs
    parts = [p.strip() for p in text.split(";") if p.strip()]
    if not 1 <= len(parts) <= 2:
        raise InputError(
            "a schedule is one spec, or two joined by ';' (pre-training; CPT)",
            source=source,
            received=text,
            fix="e.g. 'wsd:peak=3e-4,steps=20000,warmup=500,decay=0.2'",
        )
    specs = []
    for part in parts:
        kind, _, rest = part.partition(":")
        kw: dict = {"kind": kind.strip().lower()}
        for item in filter(None, (x.strip() for x in rest.split(","))):
            k, eq, v = item.partition("=")
            key = _SPEC_KEYS.get(k.strip().lower())
            if not eq or key is None:
                raise InputError(
                    "unknown schedule setting",
                    source=source,
                    received=item,
                    fix="Use peak, steps, warmup, warmup_start, decay, shape, final, milestones (0.5/0.75), gamma",
                )
            v = v.strip()
            try:
                if key == "decay_shape":
                    kw[key] = v.lower()
                elif key == "milestones":
                    kw[key] = tuple(float(x) for x in v.split("/") if x)
                elif key in ("steps", "warmup_steps"):
                    kw[key] = int(float(v))
                else:
                    kw[key] = float(v)
            except (ValueError, OverflowError):
                raise InputError(
                    "not a number", source=source, column=k.strip(), received=v
                ) from None
        if "steps" not in kw:
            raise InputError(
                "the schedule needs its number of steps",
                source=source,
                received=part,
                fix="Add steps=N (the phase's number of optimizer steps)",
            )
        spec = ScheduleSpec(**kw)
        try:
            spec.validated()
        except InputError as e:
            raise e.with_source(source) from None
        specs.append(spec)
    return tuple(specs)


def schedule_lr(specs: tuple[ScheduleSpec, ...]) -> tuple[np.ndarray, int | None]:
    """LR indexed by step (``lr[0] = 0``) and the transfer step when a PT and a CPT spec are given."""
    if len(specs) == 2:
        return concatenate(specs[0], specs[1])
    lr, _ = concatenate(specs[0])
    return lr, None
