"""Does the Multi-Power-Law annealing term predict held-out schedules better than the paper's S2?

    python benchmarks/mpl_annealing.py

Pre-training curves only (sample_data/multipowerlaw, fit on the repo's 3 train schedules, score the
other 6), so the comparison is of the annealing term alone:

- paper (Tissue et al.):  L = L0 + A*S1^-alpha - C*S2                 (cptcore, 4 parameters)
- Multi-Power-Law form:   L = L0 + A*S1^-alpha - B*LD(t),              (7 parameters)
  LD(t) = sum_k (eta_{k-1} - eta_k) * G(eta_k^-gamma * S_k(t)),  G(x) = 1 - (C*x + 1)^-beta,
  S_k(t) = sum_{tau=k..t} eta_tau  (Luo et al. 2025, notes §7)

LD costs O(evaluated steps x LR change points) per evaluation instead of O(n) for S2; here change
points are grouped into at most 2048 blocks. Same objective (Huber 1e-3 on log loss), same fitter
style (grid + variable projection for L0/A/B, then trust-region refinement). The result decides
whether the form is offered in the app (README, "Accuracy").
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
from scipy.optimize import least_squares, lsq_linear

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cptcore.areas import pt_eta_for_s2, run_areas  # noqa: E402
from cptcore.fit import evaluate, fit_rows, fit_target  # noqa: E402
from cptcore.runs import read_run  # noqa: E402

BASE = os.path.join(ROOT, "sample_data", "multipowerlaw")


def prepare(run, max_blocks: int = 2048) -> dict:
    """Per-run arrays for LD at the fitted rows: S_k(t) for every (row, change-point block)."""
    lr = run.dense_lr()
    eta = pt_eta_for_s2(lr, len(lr) - 1)
    d = np.zeros_like(eta)
    d[1:] = eta[:-1] - eta[1:]
    S1 = np.r_[0.0, np.cumsum(lr[1:])]
    ks = np.nonzero(d)[0]
    groups = np.array_split(ks, min(max_blocks, len(ks))) if len(ks) else []
    dk = np.array([d[g].sum() for g in groups])
    kk = np.array([g[-1] for g in groups], dtype=int)
    ok = fit_rows(run, "pt", run_areas(run))
    rows = run.step[ok]
    Sk = S1[rows][:, None] - S1[kk - 1][None, :]
    mask = kk[None, :] <= rows[:, None]
    return {
        "X": S1[rows],
        "Sk": np.where(mask, Sk, 0.0),
        "mask": mask,
        "dk": dk,
        "etak": np.maximum(lr[kk], 1e-12),
        "y": run.loss_pt[ok],
    }


def ld(p: dict, C: float, beta: float, gamma: float) -> np.ndarray:
    G = -np.expm1(-beta * np.log1p(C * p["Sk"] * p["etak"][None, :] ** (-gamma)))
    return (G * p["mask"]) @ p["dk"]


def model(th: np.ndarray, p: dict) -> np.ndarray:
    L0, A, alpha, B, logC, beta, gamma = th
    return L0 + A * p["X"] ** (-alpha) - B * ld(p, np.exp(logC), beta, gamma)


def fit_mpl(train: list[dict]) -> np.ndarray:
    y = np.concatenate([p["y"] for p in train])
    best = None
    for alpha in (0.3, 0.5, 0.8):
        for logC in np.log([0.5, 2.0, 8.0]):
            for gamma in (0.3, 0.6):
                for beta in (0.3, 0.6):
                    M = np.column_stack(
                        [
                            np.ones_like(y),
                            np.concatenate([p["X"] ** -alpha for p in train]),
                            -np.concatenate([ld(p, np.exp(logC), beta, gamma) for p in train]),
                        ]
                    )
                    r = lsq_linear(
                        M / y[:, None], np.ones_like(y), bounds=([0, 0, 0], [10, 100, 1e5])
                    )
                    if best is None or r.cost < best[0]:
                        best = (r.cost, np.r_[r.x[0], r.x[1], alpha, r.x[2], logC, beta, gamma])
    lo = np.array([0, 0, 0.01, 0, np.log(1e-3), 0.01, 0.0])
    hi = np.array([10, 100, 3, 1e5, np.log(1e3), 5, 2])
    th0 = np.clip(best[1], lo + 1e-9, hi - 1e-9)
    res = least_squares(
        lambda th: np.log(np.concatenate([model(th, p) for p in train])) - np.log(y),
        th0,
        bounds=(lo, hi),
        loss="huber",
        f_scale=1e-3,
        x_scale="jac",
    )
    return res.x


def main() -> None:
    with open(os.path.join(BASE, "split.json")) as f:
        split = json.load(f)
    print(
        "| model | paper S2: held-out MAE | Multi-Power-Law LD: held-out MAE | worst run (paper / MPL) |"
    )
    print("|---|---|---|---|")
    for size in ("25M", "100M", "400M"):
        train = [read_run(os.path.join(BASE, size, n)) for n in split["train"]]
        test = [read_run(os.path.join(BASE, size, n)) for n in split["test"]]
        paper = evaluate(fit_target(train, "pt"), test)
        th = fit_mpl([prepare(r) for r in train])
        mpl = {
            r.name: float(np.mean(np.abs(model(th, p) - p["y"])))
            for r, p in zip(test, map(prepare, test), strict=True)
        }
        wp = max(paper, key=lambda m: m.mae)
        wm = max(mpl, key=mpl.get)
        print(
            f"| {size} | {np.mean([m.mae for m in paper]):.4f} | {np.mean(list(mpl.values())):.4f} | {wp.name} {wp.mae:.4f} / {wm} {mpl[wm]:.4f} |"
        )


if __name__ == "__main__":
    main()
