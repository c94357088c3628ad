"""The LR clock (forms tau-lr / eq4-lr) against the tau-form on runs at several CPT peak LRs.

    python benchmarks/lr_clock.py [--extra DIR] [--parts 1,2,3]

Runs: the 16 CPT sample runs (sample_data/cpt) plus, with --extra (default /work/gen/out if it
exists), every ``pt*_cpt-*`` run there (other peak LRs and replay ratios). Fits use min_step = 500
and lambda = 0.98; score = mean CPT-phase MAE over held-out runs, per validation set.
1. leave one CPT peak LR out; 2. fit on split.json's train runs + the 2e-3 runs, predict the test
runs; 3. leave one replay ratio out, leave one CPT schedule out.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cptcore.fit import evaluate, fit_target  # noqa: E402
from cptcore.runs import read_run  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from accuracy import sample_setting  # noqa: E402  (the same grouping as the accuracy benchmark)

KW = {"min_step": 500, "lam": 0.98}
SAMPLE = os.path.join(ROOT, "sample_data", "cpt")


def load(extra: str | None):
    with open(os.path.join(SAMPLE, "split.json")) as f:
        split = json.load(f)
    train = [read_run(os.path.join(SAMPLE, n)) for n in split["train"]]
    test = [read_run(os.path.join(SAMPLE, n)) for n in split["test"]]
    new = []
    if extra and os.path.isdir(extra):
        new = [read_run(p) for p in sorted(glob.glob(os.path.join(extra, "pt*_cpt-*.csv")))]
    return train, test, new


def fit(runs, target, law):
    t0 = time.perf_counter()
    res = fit_target(runs, target, law, **KW)
    return res, time.perf_counter() - t0


def grouped(runs, key, laws, log):
    """Hold out each value of ``key`` in turn; mean CPT-phase MAE over all held-out runs, and over
    the held-out runs at replay 0 only (what the LR clock is about, without replay extrapolation)."""
    values = sorted({sample_setting(r)[key] for r in runs})
    out = {}
    for law in laws:
        for target in ("pt", "cpt"):
            errs, errs0 = [], []
            for v in values:
                held = [r for r in runs if sample_setting(r)[key] == v]
                res, secs = fit([r for r in runs if sample_setting(r)[key] != v], target, law)
                ms = [m for m in evaluate(res, held) if np.isfinite(m.cpt_mae)]
                e = [m.cpt_mae for m in ms]
                e0 = [m.cpt_mae for m in ms if m.name.endswith("_replay0")]
                errs += e
                errs0 += e0
                rho = "-" if res.params.rho is None else f"{res.params.rho:.3f}"
                z = f"{np.mean(e0):.4f}" if e0 else "-"
                log(
                    f"  {key}={v!s:<6} {law:<7} {target:<3} fitted {res.params.law:<7} rho={rho:<6} "
                    f"MAE {np.mean(e):.4f} (replay-0 runs {z}; {len(e)} runs) ({secs:.1f} s)"
                )
            out[(law, target)] = float(np.mean(errs))
            out[(law, target, "replay0")] = float(np.mean(errs0)) if errs0 else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extra", default="/work/gen/out")
    ap.add_argument("--parts", default="1,2,3")
    ap.add_argument("--laws", default="tau,tau-lr")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    laws = args.laws.split(",")
    train, test, new = load(args.extra)
    runs = train + test + new
    print(
        f"{len(runs)} runs: {len(train)} train, {len(test)} test, {len(new)} new: "
        + ", ".join(r.name for r in new)
    )
    log = print
    if "1" in parts:
        print("\n## 1. leave one CPT peak LR out (mean held-out CPT-phase MAE)")
        print("| law | general | domain | general, replay-0 runs | domain, replay-0 runs |")
        res = grouped(runs, "peak LR", laws, log)
        for law in laws:
            print(
                f"| {law} | {res[(law, 'pt')]:.4f} | {res[(law, 'cpt')]:.4f} | "
                f"{res[(law, 'pt', 'replay0')]:.4f} | {res[(law, 'cpt', 'replay0')]:.4f} |"
            )
    if "2" in parts:
        print("\n## 2. fit on split train + the 2e-3 runs, predict split test")
        fit_on = train + [r for r in new if sample_setting(r)["peak LR"] == "2e-3"]
        for target in ("pt", "cpt"):
            for law in laws:
                res, secs = fit(fit_on, target, law)
                held = evaluate(res, test)
                rho = res.params.rho
                print(
                    f"{target} {law:<7} fitted {res.params.law} rho={rho} eta_ref={res.params.eta_ref} "
                    f"time {secs:.1f} s mean {np.mean([m.cpt_mae for m in held]):.4f}"
                )
                for w in res.warnings:
                    print("   note:", w)
                for m in held:
                    print(f"    {m.name:<40} {m.cpt_mae:.4f}")
    if "3" in parts:
        for key in ("replay", "schedule"):
            print(f"\n## 3. leave one {key} out")
            print("| law | general | domain | general, replay-0 runs | domain, replay-0 runs |")
            res = grouped(runs, key, laws, log)
            for law in laws:
                print(
                    f"| {law} | {res[(law, 'pt')]:.4f} | {res[(law, 'cpt')]:.4f} | "
                    f"{res[(law, 'pt', 'replay0')]:.4f} | {res[(law, 'cpt', 'replay0')]:.4f} |"
                )


if __name__ == "__main__":
    main()
