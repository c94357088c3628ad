"""Candidate law forms for another CPT peak LR, scored only on runs each fit never saw.

    python benchmarks/law_forms.py [--forms tau,tau-speed,...] [--jobs 1] [--per-fold] [--log F]
    python benchmarks/law_forms.py --from-log F      # the table from a saved log, no fitting

30 fits per form, about 5 CPU-minutes per form (tau, tau-speed); --log keeps each fit's result as it
finishes, so a long run can be read while it goes on.

All 21 CPT sample runs (sample_data/cpt, split.json train + test + extra: peak LRs 3e-4, 1e-3,
2e-3; replay 0..1; constant, WSD and cosine CPT). Every fit: ``fit.fit_target`` with min_step = 500
and lambda = 0.98 (the default fit's), one per validation set. Score: the mean over held-out runs of
their CPT-phase MAE (nats), general / domain. Columns:

- split: fit on split.json's 8 train runs (all at peak 1e-3), predict test + extra (13 runs), and
  the three peak-3e-4 runs among them (a form needing two peak LRs falls back to the tau-form here);
- split + 2e-3: the same with the two peak-2e-3 runs moved into the fit (11 held-out runs);
- leave one peak LR out: 3e-4 out and 2e-3 out are extrapolations (below / above every fitted
  peak); 1e-3 out is the interpolation (fitted on the five runs at 3e-4 and 2e-3, replay 0 and
  0.25), scored on the 1e-3 runs whose replay lies inside the fitted 0-0.25 (9 runs; the others
  would test replay extrapolation, not the LR);
- leave one replay ratio out (7 folds) and leave one CPT schedule out (3 folds), all 21 runs.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cptcore.fit import evaluate, fit_target  # noqa: E402
from cptcore.runs import read_run  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from accuracy import sample_setting  # noqa: E402  (one reading of a sample run's name)

# no time limit: on a shared machine the fitter's default 60 s (wall clock) cuts fits short
KW = {"min_step": 500, "lam": 0.98, "max_seconds": 1e5}
SAMPLE = os.path.join(ROOT, "sample_data", "cpt")
FORMS = ("tau", "tau-speed", "tau-amp", "tau-lr")
COLUMNS = (
    "split",
    "split 3e-4",
    "split+2e-3",
    "split+2e-3 3e-4",
    "LR 3e-4 out",
    "LR 1e-3 out",
    "LR 2e-3 out",
    "replay out",
    "schedule out",
)


def load() -> dict:
    with open(os.path.join(SAMPLE, "split.json")) as f:
        split = json.load(f)
    return {k: [read_run(os.path.join(SAMPLE, n)) for n in v] for k, v in split.items()}


def folds(split: dict) -> list[tuple[str, list, list]]:
    """(column, fitted runs, held-out runs) of every fold; a column's score pools its folds."""
    runs = split["train"] + split["test"] + split["extra"]
    lr = {r.name: sample_setting(r)["peak LR"] for r in runs}
    out = [("split", split["train"], split["test"] + split["extra"])]
    at2 = [r for r in split["extra"] if lr[r.name] == "2e-3"]
    out.append(
        (
            "split+2e-3",
            split["train"] + at2,
            [r for r in split["test"] + split["extra"] if r not in at2],
        )
    )
    for v in ("3e-4", "2e-3"):
        out.append(
            (
                f"LR {v} out",
                [r for r in runs if lr[r.name] != v],
                [r for r in runs if lr[r.name] == v],
            )
        )
    fit_on = [r for r in runs if lr[r.name] != "1e-3"]
    top = max(r.replay for r in fit_on)
    held = [r for r in runs if lr[r.name] == "1e-3" and r.replay <= top + 1e-9]
    out.append(("LR 1e-3 out", fit_on, held))
    for key, column in (("replay", "replay out"), ("schedule", "schedule out")):
        for v in sorted({sample_setting(r)[key] for r in runs}):
            held = [r for r in runs if sample_setting(r)[key] == v]
            out.append((column, [r for r in runs if r not in held], held))
    return out


def score(form: str, target: str, column: str, fit_on: list, held: list) -> dict:
    """One fit and its held-out per-run CPT-phase MAE (picklable task)."""
    t0 = time.process_time()
    res = fit_target(fit_on, target, form, **KW)
    per_run = {m.name: m.cpt_mae for m in evaluate(res, held) if np.isfinite(m.cpt_mae)}
    p = res.params
    extra = {k: getattr(p, k) for k in ("kappa", "rho", "nu", "mu") if getattr(p, k) is not None}
    return {
        "form": form,
        "target": target,
        "column": column,
        "fitted": p.law,
        "extra": extra,
        "per_run": per_run,
        "success": bool(res.success),
        "seconds": time.process_time() - t0,  # CPU time of this process
    }


def table(results: list[dict], forms) -> list[dict]:
    """Per form: {column: (general, domain)} pooled over folds, plus the CPU time of its fits;
    ``missing``: the columns with folds not (yet) in ``results``."""
    expected: dict = {}
    for column, _, _ in folds(load()):
        expected[column] = expected.get(column, 0) + 1
    rows = []
    for form in forms:
        row = {"form": form, "seconds": 0.0, "missing": set()}
        for column, n in expected.items():
            for target in ("pt", "cpt"):
                done = [
                    r
                    for r in results
                    if (r["form"], r["target"], r["column"]) == (form, target, column)
                ]
                if len(done) < n:
                    row["missing"] |= {column, f"{column} 3e-4"}
        for column in COLUMNS:
            sub = column.startswith("split") and column.endswith(" 3e-4")
            base = column.removesuffix(" 3e-4") if sub else column
            cell = []
            for target in ("pt", "cpt"):
                errs = [
                    e
                    for r in results
                    if r["form"] == form and r["target"] == target and r["column"] == base
                    for name, e in r["per_run"].items()
                    if not sub or "_lr3e-4_" in name
                ]
                cell.append(float(np.mean(errs)) if errs else float("nan"))
            row[column] = tuple(cell)
        row["seconds"] = sum(r["seconds"] for r in results if r["form"] == form)
        rows.append(row)
    return rows


def run(forms, jobs: int, log: str | None) -> list[dict]:
    """Every (form, validation set, fold) fit, in ``jobs`` processes; each result is appended to
    ``log`` as it finishes."""
    tasks = [
        (form, target, column, fit_on, held)
        for form in forms
        for target in ("pt", "cpt")
        for column, fit_on, held in folds(load())
    ]
    results = []

    def keep(r: dict) -> None:
        results.append(r)
        if log:
            with open(log, "a") as f:
                f.write(json.dumps(r) + "\n")

    if jobs <= 1:
        for t in tasks:
            keep(score(*t))
        return results
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        for fut in cf.as_completed([pool.submit(score, *t) for t in tasks]):
            keep(fut.result())
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--forms", default=",".join(FORMS))
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (the machine is shared)")
    ap.add_argument("--per-fold", action="store_true", help="print every fold's fit and score")
    ap.add_argument(
        "--log", help="append every fold's result to this JSON-lines file as it finishes"
    )
    ap.add_argument("--from-log", help="print the table from such a file instead of fitting")
    args = ap.parse_args()
    forms = args.forms.split(",")
    if args.from_log:
        with open(args.from_log) as f:
            results = [json.loads(line) for line in f if line.strip()]
        forms = [f for f in forms if any(r["form"] == f for r in results)]
    else:
        results = run(forms, args.jobs, args.log)
    if args.per_fold:
        for r in results:
            held = "; ".join(f"{n} {e:.3f}" for n, e in r["per_run"].items())
            extra = " ".join(f"{k}={v:.3g}" for k, v in r["extra"].items())
            print(
                f"{r['form']:<9} {r['target']:<3} {r['column']:<12} fitted {r['fitted']:<9} {extra} ({r['seconds']:.1f} s): {held}"
            )
    print("\nMean held-out CPT-phase MAE, general / domain (nats per byte)\n")
    print("| form | " + " | ".join(COLUMNS) + " | CPU s, all fits |")
    print("|---|" + "---|" * (len(COLUMNS) + 1))
    for row in table(results, forms):
        cells = " | ".join(
            f"{row[c][0]:.3f} / {row[c][1]:.3f}" + (" (part)" if c in row["missing"] else "")
            for c in COLUMNS
        )
        print(f"| {row['form']} | {cells} | {row['seconds']:.0f} |")


if __name__ == "__main__":
    main()
