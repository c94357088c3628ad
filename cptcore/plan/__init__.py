"""Plan a continual pre-training run: choose CPT peak LR, schedule, steps and replay for a stated goal
(paper Eq. 5 / Eq. 6, §5).

One module per job:
- ``goal``     what is asked and answered: ``Goal``, ``SearchSpace``, ``PlanSettings``, ``PlanResult``
- ``planner``  the fast end-of-CPT evaluation (``Planner``): PT once, each CPT shape from its corners
- ``search``   ``plan``: grid + bounded Nelder-Mead per family; objective maps, Pareto frontier
- ``curves``   how the answer moves with lambda1 (Fig. 13 turning length, Fig. 8a/8b/8c)
- ``words``    the recommendation and its notes in plain sentences
- ``study``    everything the Plan page and report show for one goal (``PlanReport``, ``build``;
               imported on its own: it draws on ``cptcore.plots``)
- ``cli``      ``python -m cptcore plan``
"""

from cptcore.plan.cli import add_plan_command, cli_plan
from cptcore.plan.curves import lambda_sweep, potential_curve, turning_length_curve
from cptcore.plan.goal import (
    FAMILIES,
    MODES,
    OOD_EXAMPLES,
    WARMUP_FROM,
    Goal,
    PlanResult,
    PlanSettings,
    SearchSpace,
    default_pt,
    default_scenario,
    within_envelope,
)
from cptcore.plan.planner import Planner
from cptcore.plan.search import (
    default_domain_target,
    min_general_rise,
    objective_map,
    pareto_frontier,
    plan,
)
from cptcore.plan.words import describe, edge_notes, summarize

__all__ = [
    "FAMILIES",
    "MODES",
    "OOD_EXAMPLES",
    "WARMUP_FROM",
    "Goal",
    "PlanResult",
    "PlanSettings",
    "Planner",
    "SearchSpace",
    "add_plan_command",
    "cli_plan",
    "default_domain_target",
    "default_pt",
    "default_scenario",
    "describe",
    "edge_notes",
    "lambda_sweep",
    "min_general_rise",
    "objective_map",
    "pareto_frontier",
    "plan",
    "potential_curve",
    "summarize",
    "turning_length_curve",
    "within_envelope",
]
