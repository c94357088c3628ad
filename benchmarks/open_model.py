"""Open models (paper §6): the sample runs as if their PT history were unknown.

    python benchmarks/open_model.py

Each CPT sample run is cut to its CPT phase (steps counted from the base model; the transfer-point
row becomes step 0 at LR 0), and its base model is named after its PT ('ptconst' or 'ptwsd'): two
base models, each with one fitted S1pt per validation set. Fit the train split's CPT-only runs,
predict the test split's (new schedules, replay ratios and peak LRs on those bases), and compare
with the same split fitted with the full PT history. Law: the sample fit's (tau-form, lambda 0.98).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cptcore.fit import evaluate, fit_target  # noqa: E402
from cptcore.runs import Run, read_run  # noqa: E402

CPT = os.path.join(ROOT, "sample_data", "cpt")


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


def main() -> None:
    split = json.load(open(os.path.join(CPT, "split.json")))
    train = [read_run(os.path.join(CPT, n)) for n in split["train"]]
    test = [read_run(os.path.join(CPT, n)) for n in split["test"]]
    print(
        "| validation set | with PT history: held-out CPT MAE | CPT-only (S1pt fitted per base): held-out CPT MAE | fitted S1pt (ptconst / ptwsd; true 2.45 / 2.20) | fit s |"
    )
    print("|---|---|---|---|---|")
    for target in ("pt", "cpt"):
        full = fit_target(train, target, "tau", lam=0.98, min_step=500)
        t0 = time.perf_counter()
        open_ = fit_target([cpt_only(r) for r in train], target, "tau", lam=0.98)
        secs = time.perf_counter() - t0
        a = np.mean([m.cpt_mae for m in evaluate(full, test)])
        b = np.mean([m.cpt_mae for m in evaluate(open_, [cpt_only(r) for r in test])])
        s1 = " / ".join(f"{open_.S1pt.get(k, float('nan')):.3g}" for k in ("ptconst", "ptwsd"))
        label = "general" if target == "pt" else "domain"
        print(f"| {label} | {a:.4f} | {b:.4f} | {s1} | {secs:.1f} |")


if __name__ == "__main__":
    main()
