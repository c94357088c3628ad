"""Command line: ``python -m cptcore fit|predict ...`` (README, "Command line").

Errors in user input exit with status 2 and one line naming the file, column/row and the fix;
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

import numpy as np
import pandas as pd

from cptcore.areas import LAMBDA, S2_FORMS
from cptcore.errors import InputError
from cptcore.files import check_writable
from cptcore.fit import default_law, evaluate, fit_target, select_lambda
from cptcore.importers import load_path
from cptcore.importers.cli import add_import_command
from cptcore.law import LAWS
from cptcore.params_io import ParamSet, dumps
from cptcore.params_io import load as load_params
from cptcore.plan import add_plan_command
from cptcore.runs import Run


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (no usage dump)
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def load_runs(paths: list[str]) -> list[Run]:
    """Read runs for the CLI; one entry point so importers can extend it."""
    runs = []
    seen = set()
    for path in paths:
        for run in load_path(path):  # canonical CSVs: read_run; W&B/TensorBoard/HF logs: importers
            name = run.name
            k = 2
            while name in seen:  # two files with the same stem from different folders
                name = f"{run.name}-{k}"
                k += 1
            seen.add(name)
            if name != run.name:
                run = Run(name, run.step, run.lr, run.is_cpt, run.replay, run.loss_pt, run.loss_cpt)
            runs.append(run)
    return runs


def _fmt(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.4g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.3e}"


def cmd_fit(args: argparse.Namespace) -> int:
    check_writable(args.output)  # before a fit of minutes, not after it
    runs = load_runs(args.runs)
    for r in runs:
        w = r.sparsity_warning()
        if w:
            print(f"warning: {w}", file=sys.stderr)
    held_out = load_runs(args.test) if args.test else []
    law = args.law or default_law(runs)
    lam_note = None
    if args.lam == "auto":
        choice = select_lambda(
            runs, law, s2_form=args.s2_form, eps=args.eps, seed=args.seed, min_step=args.min_step
        )
        args.lam, lam_note = choice.lam, choice.message
        print(lam_note)
    fits = {}
    for target in ("pt", "cpt"):
        if not any(r.has_target(target) for r in runs):
            continue
        f = fit_target(
            runs,
            target,
            law,
            lam=args.lam,
            s2_form=args.s2_form,
            eps=args.eps,
            seed=args.seed,
            min_step=args.min_step,
        )
        if held_out and np.isfinite(f.params.L0):  # NaN L0: the fit did not run
            f = replace(f, metrics=f.metrics + evaluate(f, held_out))
        fits[target] = f
    if not fits:
        raise InputError(
            "no run has observed losses",
            source=", ".join(os.path.basename(p) for p in args.runs),
            column="loss_pt / loss_cpt",
            fix="Fill in validation losses on at least some rows",
        )
    ps = ParamSet.from_fits(
        fits,
        provenance={
            "runs": [os.path.basename(p) for p in args.runs],
            "law": law,
            "tool": "python -m cptcore fit",
            **({"lambda_selection": lam_note} if lam_note else {}),
        },
    )
    for target, f in fits.items():
        label = "general set (loss_pt)" if target == "pt" else "domain set (loss_cpt)"
        print(f"\n== {label}: {'OK' if f.success else 'NOT CONVERGED'} - {f.message}")
        se = f.stderr()
        print(
            "  "
            + "  ".join(
                f"{k}={_fmt(v)}" + (f"±{_fmt(se[k])}" if k in se else "")
                for k, v in f.params.to_dict().items()
                if k != "replay_form"
            )
        )
        for nm, v in f.S1pt.items():
            print(f"  S1pt[{nm}] = {_fmt(v)} (fitted: unknown PT history)")
        for w in f.warnings:
            print(f"  note: {w}")
        w = max([len(m.name) for m in f.metrics] + [3])
        print(
            f"  {'run':<{w}} {'':<8} {'points':>6} {'R2':>7} {'MAE':>7} {'max err':>7} {'CPT MAE':>7}"
        )
        for m in f.metrics:
            role = "held out" if m.held_out else "fitted"
            cpt = f"{m.cpt_mae:>7.4f}" if np.isfinite(m.cpt_mae) else f"{'-':>7}"
            print(
                f"  {m.name:<{w}} {role:<8} {m.n_points:>6} {_fmt(m.r2):>7} {m.mae:>7.4f} {m.max_error:>7.4f} {cpt}"
            )
        print("  (CPT MAE: points after the transfer point only)")
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(dumps(ps))
    print(f"\nwrote {args.output}")
    return 0 if all(f.success for f in fits.values()) else 1


def cmd_predict(args: argparse.Namespace) -> int:
    check_writable(args.output)
    ps = load_params(args.params)
    run = load_runs([args.run])[0]
    preds = ps.predict_run(run, os.path.basename(args.run))
    out = {"step": run.step}
    for target in ("pt", "cpt"):
        out[f"pred_loss_{target}"] = preds.get(target, np.full(len(run.step), np.nan))
    df = pd.DataFrame(out)
    df.to_csv(args.output, index=False, float_format="%.6f")
    for target in ("pt", "cpt"):
        y = run.loss(target)
        pred = out[f"pred_loss_{target}"]
        ok = np.isfinite(y) & np.isfinite(pred)  # the law has no value at step 0 (no update yet)
        if ok.any():
            err = pred[ok] - y[ok]
            ss = float(np.sum((y[ok] - y[ok].mean()) ** 2))
            r2 = 1 - float(np.sum(err**2)) / ss if ss > 0 else float("nan")
            print(
                f"{'general' if target == 'pt' else 'domain'} set (loss_{target}): MAE {np.mean(np.abs(err)):.4f}  R2 {_fmt(r2)}  max error {np.max(np.abs(err)):.4f}  ({ok.sum()} points)"
            )
    print(f"wrote {args.output} ({len(df)} rows)")
    return 0


def _lambda_arg(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number in (0, 1) or 'auto', got {text!r}"
        ) from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"must be between 0 and 1 (the paper uses 0.999), got {text}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m cptcore",
        description="Fit and use the CPT scaling law (Wang, Tissue et al. 2025).",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    f = sub.add_parser("fit", help="fit both validation sets on canonical run CSVs")
    f.add_argument("runs", nargs="+", help="canonical run CSV files")
    f.add_argument(
        "-o",
        "--output",
        default="params.json",
        help="where to write the parameters (default params.json)",
    )
    f.add_argument(
        "--min-step",
        type=int,
        default=0,
        help="fit only losses at or after this step (default 0; the PT warm-up is always skipped)",
    )
    f.add_argument(
        "--test", nargs="+", metavar="RUN.csv", help="held-out runs: not fitted, only scored"
    )
    f.add_argument(
        "--law",
        choices=sorted(LAWS),
        help="eq4, eq8 or eq8-convex (default: eq8 when the runs have more than one replay ratio)",
    )
    f.add_argument(
        "--s2-form",
        choices=sorted(S2_FORMS),
        default="paper",
        help="annealing area form (default: paper)",
    )
    f.add_argument(
        "--eps", type=float, default=0.1, help="exponent of the lr-weighted S2 form (default 0.1)"
    )
    f.add_argument(
        "--lambda",
        dest="lam",
        type=_lambda_arg,
        default=LAMBDA,
        help="annealing momentum in (0, 1), or 'auto' to choose it by leave-one-run-out "
        "cross-validation (default 0.999, the paper's)",
    )
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=cmd_fit)
    q = sub.add_parser("predict", help="predict a run's losses from a params.json")
    q.add_argument("-p", "--params", required=True, help="params.json from 'fit'")
    q.add_argument("run", help="canonical run CSV (losses optional)")
    q.add_argument("-o", "--output", default="pred.csv", help="output CSV (default pred.csv)")
    q.set_defaults(func=cmd_predict)
    add_import_command(sub)
    add_plan_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. the disk filled up while writing; pandas raises without a filename
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        what = (e.strerror or str(e) or type(e).__name__).replace("\n", " ")
        print(f"error: {where}{what}. Check the path and permissions.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
