"""Command line: ``python -m cptcore fit|predict|forecast ...`` (README, "Command line").

Errors in user input exit with status 2 and one line naming the file, column/row and the fix;
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

import numpy as np

from cptcore.areas import S2_FORMS, row_areas
from cptcore.envelope import implausible, outside, setting_of_run, widening
from cptcore.errors import InputError
from cptcore.files import check_writable, write_csv
from cptcore.fit import fit_rows, has_fit_rows, prediction_band
from cptcore.forecast import (
    ADAPT,
    adaptation_with,
    check_forecastable,
    forecast_run,
)
from cptcore.importers import load_path
from cptcore.importers.cli import add_import_command
from cptcore.law import LAWS
from cptcore.params_io import ParamSet, dumps
from cptcore.params_io import load as load_params
from cptcore.plan import add_plan_command
from cptcore.runs import Run, base_of
from cptcore.select import fit_model


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (no usage dump)
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def load_runs(paths: list[str]) -> list[Run]:
    """Read runs for the CLI; one entry point so importers can extend it."""
    runs = []
    seen = set()
    for path in paths:
        notes: list[str] = []
        for run in load_path(path, notes):  # canonical CSVs: read_run; W&B/TensorBoard/HF logs: importers
            name = run.name
            k = 2
            while name in seen:  # two files with the same stem from different folders
                name = f"{run.name}-{k}"
                k += 1
            seen.add(name)
            if name != run.name:
                run = Run(name, run.step, run.lr, run.is_cpt, run.replay, run.loss_pt, run.loss_cpt)
            runs.append(run)
        for note in notes:
            sys.stderr.write(f"note: {note}\n")
    return runs


def _fmt(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.4g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.3e}"


def _terminal_progress():
    """A one-line progress display on a terminal (stderr), cleared when done."""

    def show(frac: float, text: str) -> None:
        end = "\n" if frac >= 1.0 else ""
        sys.stderr.write(f"\r\033[K[{frac:4.0%}] {text}{end}")
        sys.stderr.flush()

    return show


_SET = {"pt": "general set (loss_pt)", "cpt": "domain set (loss_cpt)"}


def _check_rows_to_fit(runs: list[Run], args: argparse.Namespace) -> None:
    """One line and exit 2 (before any work) when a validation set has losses but none the fit
    could use, e.g. a --min-step past the end of every run."""
    for target in ("pt", "cpt"):
        have = [r for r in runs if r.has_target(target)]
        if not have:
            continue
        if any(has_fit_rows(r, target, args.min_step) for r in have):
            continue
        last = max(r.last_step for r in have)
        where = f"at or after step {args.min_step:,}" if args.min_step else "after the PT warm-up"
        raise InputError(
            f"no {_SET[target]} losses {where} to fit (the runs end by step {last:,})",
            source=", ".join(os.path.basename(p) for p in args.runs),
            column="--min-step" if args.min_step else f"loss_{target}",
            fix="Lower --min-step or leave it out"
            if args.min_step
            else "Log losses after the warm-up",
        )


def cmd_fit(args: argparse.Namespace) -> int:
    check_writable(args.output)  # before a fit of minutes, not after it
    runs = load_runs(args.runs)
    for r in runs:
        w = r.sparsity_warning()
        if w:
            print(f"warning: {w}", file=sys.stderr)
    held_out = load_runs(args.test) if args.test else []
    _check_rows_to_fit(runs, args)
    progress = _terminal_progress() if sys.stderr.isatty() else None
    outcome = fit_model(
        runs,
        held_out,
        args.law,
        args.lam,
        progress=progress,
        s2_form=args.s2_form,
        eps=args.eps,
        seed=args.seed,
        min_step=args.min_step,
        s1pt=args.s1pt,
    )
    sel, fits = outcome.selection, outcome.fits
    law = sel.law
    if sel.candidates:
        print(sel.table())
    print(sel.message)
    if not fits:
        raise InputError(
            "no run has observed losses",
            source=", ".join(os.path.basename(p) for p in args.runs),
            column="loss_pt / loss_cpt",
            fix="Fill in validation losses on at least some rows",
        )
    failed = [t for t, f in fits.items() if not np.isfinite(f.params.L0)]
    if failed:  # nothing to write: NaN parameters are not a parameter file
        f = fits[failed[0]]
        print(f"error: the {_SET[failed[0]]} fit did not run: {f.message}", file=sys.stderr)
        return 1
    ps = ParamSet.from_fits(
        fits,
        envelope=outcome.envelope,
        provenance={
            "runs": [os.path.basename(p) for p in args.runs],
            "law": law,
            "lambda": sel.lam,
            "tool": "python -m cptcore fit",
            "model_selection": sel.to_dict(),
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
        shared = ", shared by both validation sets" if f.s1pt_shared else ""
        for nm, v in f.S1pt.items():
            print(
                f"  S1pt of base model '{nm}' = {_fmt(v)} (fitted: unknown PT history, paper §6"
                f"{shared})"
            )
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
    if args.base:
        if run.pt_history_known:
            raise InputError(
                "--base is for runs without pre-training rows (their PT history is the base model's)",
                source=os.path.basename(args.run),
                column="--base",
                received=args.base,
                fix="Leave --base out for a run with phase 'pt' rows",
            )
        run = replace(run, base=args.base)
    # the areas at the rows written only (per linear segment when the rows are sparse)
    areas = row_areas(run, lam=ps.lam, s2_form=ps.s2_form, eps=ps.eps)
    preds = ps.predict_run(run, os.path.basename(args.run), areas)
    out = {"step": run.step}
    setting = setting_of_run(run)
    reasons = outside(ps.envelope, setting) if setting is not None else []
    for o in reasons:
        print(f"warning: {o.warning()}", file=sys.stderr)
    cpt = run.is_cpt  # the CPT phase (a PT warm-up is the power term's pole)
    logged = {t: run.loss(t) for t in preds}
    for odd in implausible(ps.envelope, run.step[cpt], {t: y[cpt] for t, y in preds.items()}, logged):
        print(f"warning: {odd.sentence}", file=sys.stderr)
    z = _z_of(args.interval) if args.interval is not None else None
    for target in ("pt", "cpt"):
        f = ps.fits.get(target)
        nan = np.full(len(run.step), np.nan)
        out[f"pred_loss_{target}"] = preds.get(target, nan)
        if z is None:
            continue
        if f is None:
            out[f"lo_loss_{target}"] = out[f"hi_loss_{target}"] = nan
            continue
        S1pt = f.S1pt_for(run)
        bm = base_of(run) if S1pt is not None else None  # the base's own S1pt uncertainty
        widen = widening(reasons)
        lo, hi = prediction_band(f, areas, run.replay, S1pt, z=z, widen=widen, base_model=bm)
        out[f"lo_loss_{target}"], out[f"hi_loss_{target}"] = lo, hi
    cols = ["step", "pred_loss_pt", "pred_loss_cpt"]
    if z is not None:
        cols += ["lo_loss_pt", "hi_loss_pt", "lo_loss_cpt", "hi_loss_cpt"]
        if not any(f.calibration for f in ps.fits.values()):
            print(
                "note: the parameter file has no calibrated band (written before it existed, or "
                "by hand): the interval reflects parameter uncertainty only; refit to calibrate it",
                file=sys.stderr,
            )
    write_csv(args.output, {c: out[c] for c in cols})  # as to_csv(float_format="%.6f"), vectorised
    for target in ("pt", "cpt"):
        f = ps.fits.get(target)
        if f is None:
            continue
        # score the rows the fit scores: observed, after the PT warm-up and the fit's min_step
        ok = fit_rows(run, target, areas, f.min_step, f.skip_warmup)
        y, pred = run.loss(target), out[f"pred_loss_{target}"]
        ok &= np.isfinite(pred)
        if ok.any():
            err = pred[ok] - y[ok]
            ss = float(np.sum((y[ok] - y[ok].mean()) ** 2))
            r2 = 1 - float(np.sum(err**2)) / ss if ss > 0 else float("nan")
            first = int(run.step[ok][0])
            line = (
                f"{'general' if target == 'pt' else 'domain'} set (loss_{target}): MAE "
                f"{np.mean(np.abs(err)):.4f}  R2 {_fmt(r2)}  max error {np.max(np.abs(err)):.4f}  "
                f"({ok.sum()} points scored, from step {first:,}: after the PT warm-up"
                + (f" and the fit's min step {f.min_step:,}" if f.min_step else "")
                + ")"
            )
            if z is not None:
                inside = (y[ok] >= out[f"lo_loss_{target}"][ok]) & (
                    y[ok] <= out[f"hi_loss_{target}"][ok]
                )
                line += f"; {inside.mean():.0%} inside the {args.interval:.0%} band"
            print(line)
    print(f"wrote {args.output} ({len(run.step)} rows)")
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    check_writable(args.output)
    ps = load_params(args.params)
    run = load_runs([args.run])[0]
    name = os.path.basename(args.run)
    check_forecastable(ps, run, name)  # before any work: no CPT rows, a set the file lacks
    setting = setting_of_run(run)
    reasons = outside(ps.envelope, setting) if setting is not None else []
    for o in reasons:
        print(f"warning: {o.warning()}", file=sys.stderr)
    z = _z_of(args.interval) if args.interval is not None else None
    fc = forecast_run(
        ps,
        run,
        adaptation=adaptation_with(
            ADAPT[args.adapt] if args.adapt is not None else None, args.prior_strength
        ),
        z=z,
        widen=widening(reasons),
        source=name,
    )
    for odd in fc.implausible:
        print(f"warning: {odd.sentence}", file=sys.stderr)
    nan = np.full(len(run.step), np.nan)
    out = {"step": run.step}
    for target in ("pt", "cpt"):
        tf = fc.targets.get(target)
        out[f"pred_loss_{target}"] = tf.pred if tf is not None else nan
        if z is not None:
            out[f"lo_loss_{target}"] = tf.lo if tf is not None else nan
            out[f"hi_loss_{target}"] = tf.hi if tf is not None else nan
    cols = ["step", "pred_loss_pt", "pred_loss_cpt"]
    if z is not None:
        cols += ["lo_loss_pt", "hi_loss_pt", "lo_loss_cpt", "hi_loss_cpt"]
    write_csv(args.output, {c: out[c] for c in cols})  # the same text as predict writes
    if fc.last_observed_step is None:
        print("no CPT-phase loss observed yet: the forecast is the base prediction ('predict')")
    else:
        print(
            f"observed up to step {fc.last_observed_step:,} "
            f"({fc.observed_share:.0%} of the CPT phase in summed LR)"
        )
    last = len(run.step) - 1
    for target, tf in fc.targets.items():
        label = "general set (loss_pt)" if target == "pt" else "domain set (loss_cpt)"
        band = ""
        if z is not None:
            band = f" [{tf.lo[last]:.4f}, {tf.hi[last]:.4f}] ({args.interval:.0%} band)"
        fit = (
            f"MAE {tf.mae_observed:.4f} on the {tf.n_observed} observed CPT points"
            if tf.n_observed
            else "no observed CPT points"
        )
        print(
            f"{label}: final loss at step {int(run.step[last]):,}: {tf.pred[last]:.4f}{band}; {fit}"
        )
    print(f"wrote {args.output} ({len(run.step)} rows)")
    return 0


def _z_of(level: float) -> float:
    """The normal quantile for a central interval ``level`` (0.95 -> 1.96)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def _interval_arg(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a level such as 0.95, got {text!r}") from None
    if not 0.5 <= v <= 0.99:
        raise argparse.ArgumentTypeError(f"must be between 0.5 and 0.99 (e.g. 0.95), got {text}")
    return v


def _strength_arg(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 10, got {text!r}") from None
    if not 0 < v < 1e6:
        raise argparse.ArgumentTypeError(f"must be a positive number (e.g. 10), got {text}")
    return v


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
    _add_fit_command(sub)
    _add_predict_command(sub)
    _add_forecast_command(sub)
    add_import_command(sub)
    add_plan_command(sub)
    return p


def _add_fit_command(sub) -> None:
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
        choices=["auto", *sorted(LAWS)],
        default="auto",
        help="law form: auto (default: chosen by grouped cross-validation on the runs given), "
        + ", ".join(sorted(LAWS)),
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
        default="auto",
        help="annealing momentum in (0, 1), or auto (default: chosen with the law by grouped "
        "cross-validation from 0.98, 0.99, 0.995, 0.999; the paper uses 0.999)",
    )
    f.add_argument(
        "--s1pt",
        choices=["auto", "shared", "per-set"],
        default="auto",
        help="CPT-only runs (unknown PT history, paper §6): one fitted S1pt per base model shared "
        "by both validation sets, one per set, or auto (default: chosen by the same "
        "cross-validation as the law)",
    )
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=cmd_fit)


def _add_predict_command(sub) -> None:
    q = sub.add_parser("predict", help="predict a run's losses from a params.json")
    q.add_argument("-p", "--params", required=True, help="params.json from 'fit'")
    q.add_argument("run", help="canonical run CSV (losses optional)")
    q.add_argument("-o", "--output", default="pred.csv", help="output CSV (default pred.csv)")
    q.add_argument(
        "--base",
        metavar="NAME",
        help="the fitted base model a CPT-only run starts from (default: its 'base' column, else "
        "the one base 'base' that CPT-only runs without a name share)",
    )
    q.add_argument(
        "--interval",
        type=_interval_arg,
        metavar="LEVEL",
        help="add lo_/hi_ columns: a band that covers about LEVEL of the losses (e.g. 0.95), "
        "calibrated by cross-validation and widened outside the fitted range",
    )
    q.set_defaults(func=cmd_predict)


def _add_forecast_command(sub) -> None:
    fc = sub.add_parser("forecast", help="forecast a running CPT job from its first logged losses")
    fc.add_argument("-p", "--params", required=True, help="params.json from 'fit' (the base fit)")
    fc.add_argument(
        "run", help="canonical run CSV: the whole planned schedule, losses where observed so far"
    )
    fc.add_argument("-o", "--output", default="pred.csv", help="output CSV (default pred.csv)")
    fc.add_argument(
        "--interval",
        type=_interval_arg,
        metavar="LEVEL",
        help="add lo_/hi_ columns: the base fit's calibrated band around the forecast",
    )
    fc.add_argument(
        "--adapt",
        choices=list(ADAPT),
        default=None,
        help="which parameters adapt to the run (default offset+speed: L0 and the shift's speed "
        "E, best in the grouped sample backtest; 'shift' (B, E) when the law fits your runs closely)",
    )
    fc.add_argument(
        "--prior-strength",
        type=_strength_arg,
        default=None,
        metavar="S",
        help="pull towards the base fit (default 3 general, 1 domain; 1: a parameter moved by its "
        "prior scale costs as much as one point off by one sd of the run's own scatter)",
    )
    fc.set_defaults(func=cmd_forecast)


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
