"""What a plan is asked and what it answers: the goal (paper Eq. 5 / Eq. 6), the search space, one
CPT plan's settings and the result, plus the paper's default pre-training.

Modes (``Goal.mode``):
- ``balance``: minimise ``lambda1*dL_pt + lambda2*dL_cpt`` (Eq. 5), dL the *signed* change of the
  predicted loss from the transfer point to the end of CPT (negative when the loss falls; notes §2.6).
- ``max_general_rise``: the general loss may rise by at most ``x``; minimise the domain loss.
- ``domain_target``: reach domain loss ``y`` in the fewest CPT steps.
An out-of-domain target (Eq. 6) replaces (lambda1, lambda2) by the dataset weights (lambda1', lambda2')
of ``L_ood = lambda1'*L_pt + lambda2'*L_cpt``; then the "domain loss" of the constraint modes is L_ood.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from cptcore.errors import InputError
from cptcore.inputs import loss_to_reach
from cptcore.presets import PAPER_SETTING
from cptcore.scenario import Scenario
from cptcore.schedules import (
    CORNER_KINDS,
    KINDS,
    WARMUP_FROM,
    ScheduleSpec,
    format_lr,
    segment,
)

FAMILIES = {k: KINDS[k] for k in CORNER_KINDS}  # the CPT schedule kinds a plan may use
MODES = {
    "balance": "minimise lambda1*(general loss change) + lambda2*(domain loss change) (paper Eq. 5)",
    "max_general_rise": "the general loss may rise by at most x; minimise the domain loss",
    "domain_target": "reach domain loss y in the fewest CPT steps",
}
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
        if self.mode == "domain_target":
            loss_to_reach(self.domain_target, self.target_name)
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
    reached_at: int | None = None  # mode 'domain_target': first CPT step at or below the target

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
