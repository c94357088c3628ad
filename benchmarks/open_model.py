"""Open models (paper §6): the sample runs as if their PT history were unknown.

    python benchmarks/open_model.py            # all three parts (~5 min on one core)
    python benchmarks/open_model.py --split    # part 1 only
    python benchmarks/open_model.py --cv       # part 2 only
    python benchmarks/open_model.py --quarter  # part 3 only
    python benchmarks/open_model.py --write sample_data/cpt/params_open.json  # the app's open fit

Each CPT sample run is cut to its CPT phase (steps counted from the base model; the transfer-point
row becomes step 0 at LR 0), and its base model is named after its PT ('ptconst' or 'ptwsd').
1. Split: fit the train split's CPT-only runs, predict the test split's (new schedules, replay ratios
   and peak LRs on those bases), S1pt fitted per base and validation set or shared by both sets, and
   compare with the same split fitted with the full PT history. Law: the sample fit's (tau, 0.98).
2. The S1pt mode by grouped cross-validation on the CPT-only train runs, as ``fit_model`` decides it
   (``s1pt='auto'``: both modes at the sample fit's law and lambda).
``--write PATH``: the default fit (``fit_model``, S1pt mode by grouped CV) of the CPT-only train runs
at the sample fit's law and lambda, test runs held out, as params.json: the app's "open model" preset.
3. The paper's §6 test shape: fit the first quarter of one CPT-only run (its first 250 of 1,000 CPT
   steps, the default fit: ``fit_model`` on that one run), predict the other three quarters.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cptcore.fit import evaluate, fit_shared, fit_target, scored_rows  # noqa: E402
from cptcore.runs import Run, read_run  # noqa: E402
from cptcore.select import fit_model, select_model  # noqa: E402

CPT = os.path.join(ROOT, "sample_data", "cpt")
LAW, LAM = "tau", 0.98  # the sample fit's law and lambda (sample_data/cpt/params.json)
SET = {"pt": "general", "cpt": "domain"}


def cpt_only(run: Run) -> Run:
    """The run from its transfer point on, as a CPT-only run of the base model its PT made."""
    t = run.transfer_step
    keep = run.step >= t
    lr = run.lr[keep].copy()
    lr[0] = 0.0  # the base model itself: no update yet
    return Run(
        run.name,
        run.step[keep] - t,
        lr,
        np.ones(keep.sum(), bool),
        run.replay,
        run.loss_pt[keep],
        run.loss_cpt[keep],
        base=run.name.split("_")[0],
    )


def first_steps(run: Run, last: int) -> Run:
    """The run's rows up to step ``last`` (a job that has run that far)."""
    keep = run.step <= last
    return Run(
        run.name,
        run.step[keep],
        run.lr[keep],
        run.is_cpt[keep],
        run.replay,
        run.loss_pt[keep],
        run.loss_cpt[keep],
        base=run.base,
    )


def _split() -> tuple[list[Run], list[Run]]:
    split = json.load(open(os.path.join(CPT, "split.json")))
    return (
        [read_run(os.path.join(CPT, n)) for n in split["train"]],
        [read_run(os.path.join(CPT, n)) for n in split["test"]],
    )


def _mae(fit, runs) -> float:
    return float(np.mean([m.cpt_mae for m in evaluate(fit, runs)]))


def part_split() -> None:
    train, test = _split()
    otrain, otest = [cpt_only(r) for r in train], [cpt_only(r) for r in test]
    t0 = time.perf_counter()
    shared = fit_shared(otrain, LAW, lam=LAM)
    secs_shared = time.perf_counter() - t0
    print("## 1. held-out CPT-phase MAE (nats), train split -> test split\n")
    print(
        "| validation set | with PT history | CPT-only, S1pt per base and set | CPT-only, S1pt per "
        "base shared by both sets | fitted S1pt per set (ptconst / ptwsd) | shared S1pt "
        "(ptconst / ptwsd) | fit s (per set / shared, both sets) |"
    )
    print("|---|---|---|---|---|---|---|")
    for target in ("pt", "cpt"):
        full = fit_target(train, target, LAW, lam=LAM, min_step=500)
        t0 = time.perf_counter()
        per = fit_target(otrain, target, LAW, lam=LAM)
        secs = time.perf_counter() - t0
        s1 = " / ".join(f"{per.S1pt.get(k, float('nan')):.3g}" for k in ("ptconst", "ptwsd"))
        sh = shared[target]
        s1s = " / ".join(f"{sh.S1pt.get(k, float('nan')):.3g}" for k in ("ptconst", "ptwsd"))
        print(
            f"| {SET[target]} | {_mae(full, test):.4f} | {_mae(per, otest):.4f} | "
            f"{_mae(sh, otest):.4f} | {s1} | {s1s} | {secs:.1f} / {secs_shared:.1f} |"
        )
    print("\n(true S1pt of the bases, from their PT schedules: ptconst 2.45, ptwsd 2.20)\n")


def part_cv() -> None:
    train, _ = _split()
    otrain = [cpt_only(r) for r in train]
    t0 = time.perf_counter()
    sel, _ = select_model(otrain, LAW, LAM, s1pt="auto", jobs=1)
    print("## 2. the S1pt mode by grouped cross-validation (CPT-only train runs)\n")
    print("| S1pt | general | domain | mean (held-out CPT-phase MAE, nats) |")
    print("|---|---|---|---|")
    for c in sel.candidates:
        mark = " (chosen)" if c.s1pt == sel.s1pt else ""
        g, d = c.scores.get("pt", np.nan), c.scores.get("cpt", np.nan)
        print(f"| {c.s1pt}{mark} | {g:.4f} | {d:.4f} | {c.score:.4f} |")
    print(f"\n{sel.message}\n(select_model, jobs=1: {time.perf_counter() - t0:.0f} s)\n")


def part_quarter() -> None:
    names = [
        "ptconst_cpt-cos_lr1e-3_replay0.csv",
        "ptwsd_cpt-cos_lr1e-3_replay0.25.csv",
        "ptconst_cpt-const_lr1e-3_replay0.csv",
        "ptwsd_cpt-wsd_lr1e-3_replay0.csv",
    ]
    print("## 3. paper §6 shape: fit the first quarter of one CPT-only run, predict the rest\n")
    print(
        "| run (CPT-only) | fitted steps | fitted rows | MAE on the rest, general | domain | "
        "last fitted loss held (general / domain) | fitted S1pt (general / domain) | fit s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        run = cpt_only(read_run(os.path.join(CPT, name)))
        cut = run.last_step // 4
        head = first_steps(run, cut)
        t0 = time.perf_counter()
        out = fit_model([head], jobs=1)
        secs = time.perf_counter() - t0
        maes, s1, held = [], [], []
        for target in ("pt", "cpt"):
            f = out.fits[target]
            errs = [
                np.abs(pred - y)[a.rows > cut] for _, y, pred, a in scored_rows(f, [run])
            ]
            maes.append(float(np.mean(np.concatenate(errs))))
            s1.append(f"{f.S1pt[run.base]:.3g}")
            y, seen = run.loss(target), head.loss(target)
            last = seen[np.isfinite(seen)][-1]  # the naive forecast: the loss stays where it is
            rest = (run.step > cut) & np.isfinite(y)
            held.append(f"{float(np.mean(np.abs(y[rest] - last))):.4f}")
        rows = int(np.sum(np.isfinite(head.loss_pt)))
        print(
            f"| {name[:-4]} | 0-{cut} of {run.last_step} | {rows} | {maes[0]:.4f} | {maes[1]:.4f} "
            f"| {' / '.join(held)} | {' / '.join(s1)} | {secs:.1f} |"
        )
    print(f"\n(law and lambda: {out.selection.message})\n")


def write(path: str) -> None:
    from cptcore.params_io import ParamSet, dumps

    train, test = _split()
    otrain, otest = [cpt_only(r) for r in train], [cpt_only(r) for r in test]
    # a shipped fit must converge: a generous time limit (the default 60 s can stop a fit early on
    # a busy machine), and nothing is written when a fit did not converge
    out = fit_model(otrain, otest, LAW, LAM, s1pt="auto", max_seconds=1800)
    failed = [t for t, f in out.fits.items() if not f.success]
    if failed:
        for t in failed:
            print(f"error: the {t} fit did not converge: {out.fits[t].message}")
        raise SystemExit(1)
    ps = ParamSet.from_fits(
        out.fits,
        envelope=out.envelope,
        provenance={
            "runs": [r.name for r in otrain],
            "law": out.selection.law,
            "lambda": out.selection.lam,
            "tool": f"python benchmarks/open_model.py --write {path}",
            "note": "the sample train runs cut to their CPT phase (PT history unknown, paper §6); "
            "bases ptconst and ptwsd",
            "model_selection": out.selection.to_dict(),
        },
    )
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(dumps(ps))
    print(out.selection.message)
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", action="store_true")
    ap.add_argument("--cv", action="store_true")
    ap.add_argument("--quarter", action="store_true")
    ap.add_argument("--write", metavar="PATH", help="write the open-model fit as params.json")
    a = ap.parse_args()
    if a.write:
        write(a.write)
        return
    every = not (a.split or a.cv or a.quarter)
    if every or a.split:
        part_split()
    if every or a.cv:
        part_cv()
    if every or a.quarter:
        part_quarter()


if __name__ == "__main__":
    main()
