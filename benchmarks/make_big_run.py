"""Write a canonical run CSV with 1M+1 rows (steps 0..1e6) for the CLI speed benchmark.

    python benchmarks/make_big_run.py OUT.csv [N]

PT (WSD, 80% of the steps) then CPT (cosine), replay 0.25, losses every 1000 rows.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cptcore.areas import compute_areas  # noqa: E402
from cptcore.law import predict  # noqa: E402
from cptcore.presets import PAPER_FIG3  # noqa: E402
from cptcore.schedules import ScheduleSpec, concatenate  # noqa: E402


def make(path: str, n: int = 1_000_000) -> None:
    n_pt = int(n * 0.8)
    pt = ScheduleSpec("wsd", 2e-4, n_pt, warmup_steps=n // 100, decay_fraction=0.1)
    cpt = ScheduleSpec("cosine", 2e-4, n - n_pt, warmup_steps=n // 200)
    lr, t = concatenate(pt, cpt)
    a = compute_areas(lr, t)
    step = np.arange(len(lr))
    every = np.zeros(len(lr), dtype=bool)
    every[::1000] = True
    every[0] = False  # the initial model: S1 = 0, the law is undefined there
    loss = {}
    for target in ("pt", "cpt"):
        v = predict(PAPER_FIG3[target], a, 0.25, target)
        loss[f"loss_{target}"] = np.where(every, v, np.nan)
    pd.DataFrame(
        {
            "step": step,
            "lr": lr,
            "phase": np.array(["pt", "cpt"], dtype=object)[(step > t).astype(int)],
            "replay": 0.25,
            **loss,
        }
    ).to_csv(path, index=False, float_format="%.8g")


if __name__ == "__main__":
    make(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
