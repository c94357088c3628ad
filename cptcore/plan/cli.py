"""``python -m cptcore plan`` (registered by cptcore/__main__.py): the options, the goal and search
space they mean, and the JSON (plus optional report files) it prints."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace

from cptcore.errors import InputError
from cptcore.files import check_writable
from cptcore.params_io import load
from cptcore.plan.goal import FAMILIES, OOD_EXAMPLES, Goal, SearchSpace
from cptcore.plan.search import plan
from cptcore.presets import PAPER_SETTING
from cptcore.scenario import Scenario
from cptcore.schedules import ScheduleSpec

CLI_EPILOG = """examples:
  python -m cptcore plan -p params.json --lambda1 0.7
  python -m cptcore plan -p params.json --schedules wsd,cosine --steps-min 1000 --steps-max 20000 \\
      --pt-steps 3000 --pt-peak-lr 1e-3 --max-general-rise 0.02 --report plan.html
  python -m cptcore plan -p params.json --domain-target 2.6 --ood SlimPajama

prints the recommendation as JSON; exit 0 = a plan was found, 1 = infeasible, 2 = bad input.
OOD names (paper Fig. 21 weights): """ + ", ".join(OOD_EXAMPLES)


def add_plan_command(sub) -> None:
    """Register the ``plan`` subcommand on an argparse subparsers object."""
    q = sub.add_parser(
        "plan",
        help="recommend CPT peak LR, schedule, steps and replay for a goal (paper Eq. 5)",
        epilog=CLI_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("-p", "--params", required=True, help="params.json with 'pt' and 'cpt' sets")
    q.add_argument("--lambda1", type=float, default=0.5, help="weight of the general loss (0.5)")
    _space_options(q)
    _pt_options(q)
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


def _space_options(q) -> None:
    """The search space's bounds (``SearchSpace``), defaults from its fields."""
    d = SearchSpace()
    q.add_argument("--lr-min", type=float, default=d.lr_min,
                   help=f"CPT peak LR lower bound ({d.lr_min:g})")  # fmt: skip
    q.add_argument("--lr-max", type=float, default=d.lr_max,
                   help=f"CPT peak LR upper bound ({d.lr_max:g})")  # fmt: skip
    q.add_argument("--replay-min", type=float, default=d.replay_min,
                   help="replay ratio lower bound, 0..1 (0)")  # fmt: skip
    q.add_argument("--replay-max", type=float, default=d.replay_max,
                   help="replay ratio upper bound, 0..1 (0.5)")  # fmt: skip
    q.add_argument("--steps-min", type=int, default=d.steps_min,
                   help=f"fewest CPT steps ({d.steps_min})")  # fmt: skip
    q.add_argument("--steps-max", type=int, default=d.steps_max,
                   help=f"most CPT steps ({d.steps_max})")  # fmt: skip
    q.add_argument("--schedules", default=",".join(d.families), help="CPT schedule families to try, "
                   f"comma-separated, from {', '.join(FAMILIES)} (wsd,cosine)")  # fmt: skip
    q.add_argument("--decay-min", type=float, default=d.decay_min,
                   help="WSD decay fraction lower bound (0.1)")  # fmt: skip
    q.add_argument("--decay-max", type=float, default=d.decay_max,
                   help="WSD decay fraction upper bound (0.3)")  # fmt: skip
    q.add_argument("--cpt-warmup", type=float, default=0.0,
                   help="CPT warm-up, fraction of CPT steps (0)")  # fmt: skip


def _pt_options(q) -> None:
    """The fixed pre-training schedule (the paper's by default)."""
    q.add_argument("--pt-schedule", default="wsd", choices=tuple(FAMILIES),
                   help="pre-training schedule (wsd)")  # fmt: skip
    q.add_argument("--pt-steps", type=int, default=PAPER_SETTING["pt_steps"],
                   help="pre-training steps (40000)")  # fmt: skip
    q.add_argument("--pt-peak-lr", type=float, default=PAPER_SETTING["peak_lr"],
                   help="pre-training peak LR (2e-4)")  # fmt: skip
    q.add_argument("--pt-decay", type=float, default=PAPER_SETTING["pt_decay_fraction"],
                   help="WSD pre-training: fraction of steps annealing (0.1)")  # fmt: skip
    q.add_argument("--pt-final-lr", type=float, default=0.0, help="pre-training final LR (0)")


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


def _goal_of(args) -> Goal:
    if args.max_general_rise is not None:
        goal = Goal(args.lambda1, "max_general_rise", max_general_rise=args.max_general_rise)
    elif args.domain_target is not None:
        goal = Goal(args.lambda1, "domain_target", domain_target=args.domain_target)
    else:
        goal = Goal(args.lambda1)
    return replace(goal, ood_weights=_ood_arg(args.ood)).validated()


def _pt_of(args) -> ScheduleSpec:
    """The pre-training schedule of the options; bad values named by their option."""
    pt = ScheduleSpec(args.pt_schedule, args.pt_peak_lr, args.pt_steps,
                      decay_fraction=args.pt_decay, final_lr=args.pt_final_lr)  # fmt: skip
    for name, value in (("--pt-steps", args.pt_steps), ("--pt-peak-lr", args.pt_peak_lr)):
        if value <= 0:
            raise InputError("must be positive", column=name, received=value)
    try:
        return pt.validated()
    except InputError as e:
        raise InputError(e.problem, column="--" + "pt-" + str(e.column).replace("_", "-"),
                         received=e.received, fix=e.fix) from None  # fmt: skip


def _write_report(args, ps, goal: Goal, space: SearchSpace, pt: ScheduleSpec):
    """Plan with every figure's data and write the report files asked for; returns the result."""
    # not at import: plotly and the figures would add ~0.3 s to every other command's start
    from cptcore import report
    from cptcore.plan.study import build

    n_cur = int(min(max(PAPER_SETTING["cpt_steps"], space.steps_min), space.steps_max))
    current = Scenario(pt, ScheduleSpec("cosine", pt.peak_lr, n_cur), space.replay_min)
    rep = build(ps, goal, space, current, params_label=os.path.basename(args.params))
    for path, text in ((args.report, report.html_report), (args.markdown, report.markdown_summary),
                       (args.frontier, report.frontier_csv)):  # fmt: skip
        if path:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text(rep))
            print(f"wrote {path}", file=sys.stderr)
    return rep.result


def cli_plan(args) -> int:
    """``python -m cptcore plan``: print the recommendation as JSON (exit 1 when infeasible)."""
    for path in (args.report, args.markdown, args.frontier):
        if path:
            check_writable(path)  # before planning, not after it
    ps = load(args.params)
    fams = tuple(f.strip() for f in str(args.schedules).split(",") if f.strip())
    space = SearchSpace(
        args.lr_min, args.lr_max, args.replay_min, args.replay_max, args.steps_min, args.steps_max,
        fams, args.decay_min, args.decay_max, args.cpt_warmup,
    ).validated()  # fmt: skip
    goal = _goal_of(args)
    pt = _pt_of(args)
    if args.report or args.markdown or args.frontier:
        r = _write_report(args, ps, goal, space, pt)
    else:
        r = plan(ps, goal, space, pt)
    print(json.dumps(r.to_dict(), indent=2, ensure_ascii=False))
    return 0 if r.feasible else 1
