#!/usr/bin/env python3
"""Convert the Multi-Power-Law loss curves (Luo et al. 2025, MIT) into the canonical run CSV format.

Source: /work/shared/external_curves/MultiPowerLaw/loss_curve_repo/csv_{25,100,400}/*.csv, a copy of
thu-yao-01-luo/MultiPowerLaw @ 8da9f1902602f3391b971a811e3cc51604541769 (header ``step,lr,loss``,
one row every 128 steps after warm-up).

Output: sample_data/multipowerlaw/{25M,100M,400M}/<same name>.csv with header
``step,lr,phase,replay,loss_pt,loss_cpt`` (phase ``pt``, replay 0, loss_pt = the source loss,
loss_cpt empty), plus LICENSE, SOURCE.md and split.json in sample_data/multipowerlaw/.

The LR at every step is reconstructed from the documented schedules (lr[k] = LR of the update that
produced step k; lr[0] = 0):

* warm-up: lr[k] = 3e-4 * k / 2160 for k <= 2160 (all schedules)
* constant_T: 3e-4 after warm-up
* cosine_T: 3e-5 + 0.5 * (3e-4 - 3e-5) * (1 + cos(pi * (k - 2160) / (T - 2160)))
* wsd_20000_24000: 3e-4 until 20000, then 3e-4 * 0.1 ** ((k - 20000) / 4000)  (geometric decay)
* wsdld_20000_24000: 3e-4 until 20000, then 3e-4 - 2.7e-4 * (k - 20000) / 4000  (linear decay)
* wsdcon_X: 3e-4 for k < 8000, X * 1e-5 for k >= 8000

Rows written (consumers interpolate the LR linearly between rows): step 0, every logged step, every
schedule breakpoint (warm-up end; decay start; for the wsdcon jump both 7999 and 8000), and inside
non-linear segments a row every 8 steps (cosine) or every 2 steps (geometric decay) so that linear
interpolation reproduces the per-step LR to < 1e-10 absolute.  The run ends at the last logged step.

Usage: python scripts/convert_external.py [--src DIR] [--out sample_data/multipowerlaw]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SRC = Path("/work/shared/external_curves/MultiPowerLaw/loss_curve_repo")
SIZES = {"25M": "csv_25", "100M": "csv_100", "400M": "csv_400"}
PEAK, FLOOR, WARM = 3e-4, 3e-5, 2160
TRAIN = ["constant_24000", "cosine_24000", "wsdcon_9"]
TEST = [
    "constant_72000",
    "cosine_72000",
    "wsd_20000_24000",
    "wsdld_20000_24000",
    "wsdcon_3",
    "wsdcon_18",
]
COS_STRIDE, GEO_STRIDE = 8, 2

MIT = """MIT License

Copyright (c) 2025 Kairong Luo

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

SOURCE_MD = """# Multi-Power-Law loss curves (converted)

- Origin: https://github.com/thu-yao-01-luo/MultiPowerLaw, commit
  8da9f1902602f3391b971a811e3cc51604541769 (2025-03-18), files `loss_curve_repo/csv_{25,100,400}/*.csv`
  (official data of Luo et al. 2025, "A Multi-Power Law for Loss Curve Prediction Across Learning
  Rate Schedules", arXiv 2503.12811).
- Licence: MIT, "Copyright (c) 2025 Kairong Luo" (see `LICENSE` in this folder).
- Converted by `scripts/convert_external.py` into the canonical run format
  `step,lr,phase,replay,loss_pt,loss_cpt`: phase `pt`, replay 0, `loss_pt` = the source `loss`
  (unchanged values; whether it is training or validation loss is not stated upstream),
  `loss_cpt` empty. Folders `25M`, `100M`, `400M` = source folders `csv_25`, `csv_100`, `csv_400`.
- The LR at every step is reconstructed from the documented schedules (linear warm-up 0 -> 3e-4 over
  2160 steps; constant 3e-4; cosine 3e-4 -> 3e-5; WSD with geometric or linear decay 20000 -> 24000
  to 3e-5; two-stage wsdcon 3e-4 then {3,9,18}e-5 from step 8000). Rows: step 0, every logged step
  (every 128 steps), every schedule breakpoint, and every 8 steps inside cosine segments / every
  2 steps inside geometric-decay segments; between rows the LR is linear (exact in constant and
  linear segments, < 1e-10 absolute error elsewhere).
- Pre-training only: no distribution shift and no replay. These curves test the LR-annealing part
  (S1, S2 terms) of the CPT law, not the distribution-shift term.
- Split (as in the upstream repo): TRAIN = constant_24000, cosine_24000, wsdcon_9;
  TEST = the other six (`split.json`).
"""


def schedule(name: str, n: int) -> tuple[np.ndarray, set, dict]:
    """Return (lr[0..n], breakpoints, nonlinear-segment strides {(a, b): stride})."""
    k = np.arange(n + 1, dtype=np.float64)
    lr = np.where(k <= WARM, PEAK * k / WARM, PEAK)
    bps = {0, WARM}
    nonlin: dict = {}
    if m := re.fullmatch(r"constant_(\d+)", name):
        pass
    elif m := re.fullmatch(r"cosine_(\d+)", name):
        t = int(m.group(1))
        sel = k >= WARM
        lr[sel] = FLOOR + 0.5 * (PEAK - FLOOR) * (
            1 + np.cos(math.pi * (k[sel] - WARM) / (t - WARM))
        )
        nonlin[(WARM, t)] = COS_STRIDE
    elif m := re.fullmatch(r"wsd(ld)?_(\d+)_(\d+)", name):
        a, b = int(m.group(2)), int(m.group(3))
        sel = k >= a
        if m.group(1):  # linear decay
            lr[sel] = PEAK - (PEAK - FLOOR) * (k[sel] - a) / (b - a)
        else:  # geometric (exponential-interpolation) decay
            lr[sel] = PEAK * (FLOOR / PEAK) ** ((k[sel] - a) / (b - a))
            nonlin[(a, b)] = GEO_STRIDE
        bps |= {a, b}
    elif m := re.fullmatch(r"wsdcon_(\d+)", name):
        lr[k >= 8000] = int(m.group(1)) * 1e-5
        bps |= {7999, 8000}
    else:
        raise ValueError(f"unknown schedule {name}")
    return lr, bps, nonlin


def convert_one(src: Path, dst: Path) -> dict:
    d = pd.read_csv(src)
    steps = d["step"].to_numpy(int)
    n = int(steps[-1])
    lr, bps, nonlin = schedule(src.stem, n)
    dev = float(np.max(np.abs(lr[steps] - d["lr"].to_numpy(float))))
    rows = set(int(s) for s in steps) | {b for b in bps if b <= n}
    for (a, b), stride in nonlin.items():
        rows |= set(range(a, min(b, n) + 1, stride))
        if b <= n:
            rows.add(b)
    rows = np.array(sorted(rows))
    # interpolation error of the written rows vs the per-step LR
    interp = np.interp(np.arange(n + 1), rows, lr[rows])
    ierr = float(np.max(np.abs(interp - lr)))
    loss = dict(zip(steps.tolist(), d["loss"].tolist(), strict=True))
    lines = ["step,lr,phase,replay,loss_pt,loss_cpt"]
    for s in rows:
        lp = repr(float(loss[s])) if s in loss else ""
        lines.append(f"{s},{lr[s]:.12g},pt,0,{lp},")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("\n".join(lines) + "\n")
    return {"file": str(dst), "rows": len(rows), "max_lr_dev_logged": dev, "max_interp_err": ierr}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", type=Path, default=SRC)
    ap.add_argument("--out", type=Path, default=Path("sample_data/multipowerlaw"))
    a = ap.parse_args(argv)
    report = []
    for size, folder in SIZES.items():
        for src in sorted((a.src / folder).glob("*.csv")):
            r = convert_one(src, a.out / size / src.name)
            report.append(r)
            print(
                f"{r['file']}: {r['rows']} rows, max |lr - source lr| at logged steps "
                f"{r['max_lr_dev_logged']:.2e}, max interpolation error {r['max_interp_err']:.2e}"
            )
    worst = max(r["max_lr_dev_logged"] for r in report)
    print(
        f"{len(report)} files; worst LR deviation at logged steps: {worst:.3e}; worst "
        f"interpolation error: {max(r['max_interp_err'] for r in report):.3e}"
    )
    (a.out / "LICENSE").write_text(MIT)
    (a.out / "SOURCE.md").write_text(SOURCE_MD)
    (a.out / "split.json").write_text(
        json.dumps(
            {"train": [f"{n}.csv" for n in TRAIN], "test": [f"{n}.csv" for n in TEST]}, indent=1
        )
        + "\n"
    )
    if worst > 1e-9:
        print("ERROR: reconstructed LR deviates from the source by more than 1e-9", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
