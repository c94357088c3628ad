"""A plan in words: the recommendation in one or two sentences, its notes (replay modelled or not,
the OOD target, settings on the edge of the search space)."""

from __future__ import annotations

from cptcore.plan.goal import Goal, PlanResult, PlanSettings, SearchSpace
from cptcore.plan.planner import Planner
from cptcore.schedules import format_lr


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
    if g.mode == "domain_target" and r.reached_at is not None:
        s += f" The {g.target_name} reaches {g.domain_target:.4f} at CPT step {r.reached_at:,}."
    if g.ood_weights:
        w1, w2 = g.ood_weights
        a, b = (
            w1 * r.loss_pt_start + w2 * r.loss_cpt_start,
            w1 * r.loss_pt_end + w2 * r.loss_cpt_end,
        )
        s += f" The out-of-domain loss goes {a:.4f} → {b:.4f}."
    return s


def plan_notes(pl: Planner, goal: Goal) -> list[str]:
    """The notes every plan carries: whether replay is modelled (and by which form), the OOD mix."""
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
