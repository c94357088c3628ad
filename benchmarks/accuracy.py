"""Held-out accuracy of the fitted law on real curves: prints the tables the README shows.

    python benchmarks/accuracy.py            # both parts
    python benchmarks/accuracy.py --mpl      # Multi-Power-Law pre-training curves only
    python benchmarks/accuracy.py --cpt      # our CPT sample runs only

1. Multi-Power-Law curves (sample_data/multipowerlaw, pre-training only, MIT): fit on that repo's
   train split (constant_24000, cosine_24000, wsdcon_9), predict the other six, per model size, and
   compare with the MAE that repo reports for its own law (0.0038 / 0.0044 / 0.0048).
2. CPT sample runs (sample_data/cpt, split.json): fit on the train runs, predict the test runs, both
   validation sets, for each law form and S2 form.
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

from cptcore.fit import evaluate, fit_target, select_lambda  # noqa: E402
from cptcore.runs import read_run  # noqa: E402

MPL_REPORTED = {
    "25M": 0.00376,
    "100M": 0.00435,
    "400M": 0.00484,
}  # MPL README, its own law, its test set


def _load_split(folder: str) -> tuple[list, list]:
    with open(os.path.join(folder, "split.json")) as f:
        split = json.load(f)
    train = [read_run(os.path.join(folder, n)) for n in split["train"]]
    test = [read_run(os.path.join(folder, n)) for n in split["test"]]
    return train, test


def mpl_table(s2_forms=("paper", "lr-weighted")) -> list[dict]:
    rows = []
    base = os.path.join(ROOT, "sample_data", "multipowerlaw")
    with open(os.path.join(base, "split.json")) as f:
        split = json.load(f)
    for size in ("25M", "100M", "400M"):
        folder = os.path.join(base, size)
        train = [
            read_run(os.path.join(folder, n if n.endswith(".csv") else n + ".csv"))
            for n in split["train"]
        ]
        test = [
            read_run(os.path.join(folder, n if n.endswith(".csv") else n + ".csv"))
            for n in split["test"]
        ]
        for form in s2_forms:
            t0 = time.perf_counter()
            res = fit_target(train, "pt", "eq4", s2_form=form)
            held = evaluate(res, test)
            rows.append(
                {
                    "size": size,
                    "s2_form": form,
                    "train_mae": float(np.mean([m.mae for m in res.metrics])),
                    "heldout_mae": float(np.mean([m.mae for m in held])),
                    "heldout_max": float(max(m.max_error for m in held)),
                    "heldout_r2": float(np.mean([m.r2 for m in held])),
                    "worst": max(held, key=lambda m: m.mae).name,
                    "worst_mae": max(m.mae for m in held),
                    "mpl_reported": MPL_REPORTED[size],
                    "seconds": time.perf_counter() - t0,
                }
            )
    return rows


CPT_MIN_STEP = 500  # the first 500 steps of a 0.8M-parameter byte model are a transient (README)


def cpt_table() -> list[dict]:
    """Fit the train split, score the test split; CPT-phase MAE is the planning-relevant number
    (the held-out runs share their PT prefix with the training runs)."""
    folder = os.path.join(ROOT, "sample_data", "cpt")
    train, test = _load_split(folder)
    configs = [
        ("eq4", "paper", 0.999),
        ("eq8", "paper", 0.999),
        ("eq8-convex", "paper", 0.999),
        ("eq8-convex", "lr-weighted", 0.999),
    ]
    choice = select_lambda(train, "eq8-convex", min_step=CPT_MIN_STEP)
    configs.append(("eq8-convex", "paper", choice.lam))
    rows = []
    for law, form, lam in configs:
        for target in ("pt", "cpt"):
            t0 = time.perf_counter()
            res = fit_target(train, target, law, s2_form=form, lam=lam, min_step=CPT_MIN_STEP)
            held = evaluate(res, test)
            worst = max(held, key=lambda m: m.cpt_mae)
            rows.append(
                {
                    "law": law,
                    "s2_form": form,
                    "lam": lam,
                    "lam_note": choice.message
                    if (
                        lam == choice.lam
                        and law == "eq8-convex"
                        and form == "paper"
                        and len(rows) >= 8
                    )
                    else "",
                    "target": target,
                    "fitted_law": res.params.law,
                    "train_mae": float(np.mean([m.mae for m in res.metrics])),
                    "heldout_mae": float(np.mean([m.mae for m in held])),
                    "heldout_cpt_mae": float(np.mean([m.cpt_mae for m in held])),
                    "worst": f"{worst.name} ({worst.cpt_mae:.3f})",
                    "per_run": {m.name: round(m.cpt_mae, 4) for m in held},
                    "seconds": time.perf_counter() - t0,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mpl", action="store_true")
    ap.add_argument("--cpt", action="store_true")
    ap.add_argument(
        "--per-run", action="store_true", help="print held-out MAE per run for the CPT table"
    )
    args = ap.parse_args()
    both = not (args.mpl or args.cpt)
    if args.mpl or both:
        print(
            "## Multi-Power-Law curves: fit on 3 schedules, predict 6 held-out (general loss, nats)\n"
        )
        print(
            "| model | S2 form | train MAE | held-out MAE | held-out max err | held-out R2 | worst held-out run | MPL law's reported MAE |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for r in mpl_table():
            print(
                f"| {r['size']} | {r['s2_form']} | {r['train_mae']:.4f} | **{r['heldout_mae']:.4f}** | {r['heldout_max']:.4f} | {r['heldout_r2']:.4f} | {r['worst']} ({r['worst_mae']:.4f}) | {r['mpl_reported']:.4f} |"
            )
        print()
    if args.cpt or both:
        if not os.path.exists(os.path.join(ROOT, "sample_data", "cpt", "split.json")):
            print("no CPT sample runs (sample_data/cpt/split.json missing)")
            return
        print(
            "## CPT sample runs: fit on the train split, predict the test split (nats per byte)\n"
        )
        print(
            f"Losses before step {CPT_MIN_STEP} are not fitted or scored. CPT-phase MAE: points after the transfer point.\n"
        )
        print(
            "| law | S2 form | lambda | validation set | train MAE | held-out MAE | held-out CPT-phase MAE | worst held-out run (CPT-phase MAE) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        rows = cpt_table()
        for r in rows:
            law = (
                r["law"]
                if r["fitted_law"] == r["law"]
                else f"{r['law']} (fell back to {r['fitted_law']})"
            )
            label = "general (D_pt)" if r["target"] == "pt" else "domain (D_cpt)"
            lam = f"{r['lam']:g}" + (" (CV)" if r["lam_note"] else "")
            print(
                f"| {law} | {r['s2_form']} | {lam} | {label} | {r['train_mae']:.4f} | {r['heldout_mae']:.4f} | **{r['heldout_cpt_mae']:.4f}** | {r['worst']} |"
            )
        notes = {r["lam_note"] for r in rows if r["lam_note"]}
        for n in notes:
            print(f"\n{n}")
        if args.per_run:
            for r in rows:
                print(r["law"], r["s2_form"], r["lam"], r["target"], r["per_run"])


if __name__ == "__main__":
    main()
