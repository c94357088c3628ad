"""Fit time and peak memory for a 5M-step run given by sparse rows (issue 13, item 3).

The run's LR has four corners per phase (warm-up end, anneal, transfer, CPT end) and losses are
logged on ~60 rows; the LR is linear between rows. ``python benchmarks/sparse_fit.py`` writes the
file to a temporary folder and runs ``python -m cptcore fit`` on it in a fresh process, printing
the wall time and the process's peak RSS (VmHWM)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

LAST = 5_000_000


def corners():
    """(step, lr, phase): warm-up, constant, PT anneal to the transfer, CPT re-warm-up and decay."""
    return [
        (0, 0.0, "pt"),
        (20_000, 1e-3, "pt"),
        (3_000_000, 1e-3, "pt"),
        (3_500_000, 1e-4, "pt"),
        (3_520_000, 5e-4, "cpt"),
        (LAST, 5e-5, "cpt"),
    ]


def write_sparse_run(path: str, n_loss: int = 60) -> None:
    """The sparse run with synthetic losses from the law (noise-free: a timing fixture)."""
    from cptcore.areas import areas_at_rows
    from cptcore.law import predict
    from cptcore.params_io import loads

    c = corners()
    cs = np.array([s for s, _, _ in c])
    cl = np.array([v for _, v, _ in c])
    loss_steps = np.unique(np.linspace(40_000, LAST, n_loss).astype(np.int64))
    steps = np.union1d(cs, loss_steps)
    lr = np.interp(steps, cs, cl)
    transfer = 3_500_000
    with open(os.path.join(ROOT, "sample_data", "cpt", "params.json")) as f:
        ps = loads(f.read())
    a = areas_at_rows(steps, lr, transfer, lam=ps.lam, at=steps)
    cols = {t: predict(ps.params(t), a, 0.0, t) for t in ("pt", "cpt")}
    with open(path, "w") as f:
        f.write("step,lr,phase,replay,loss_pt,loss_cpt\n")
        for i, s in enumerate(steps):
            ph = "pt" if s <= transfer else "cpt"
            has = s in set(loss_steps.tolist())
            lp = f"{cols['pt'][i]:.6f}" if has else ""
            lc = f"{cols['cpt'][i]:.6f}" if has else ""
            f.write(f"{s},{lr[i]:.6g},{ph},0,{lp},{lc}\n")


def measure(path: str, out: str) -> tuple[float, float, int]:
    code = (
        "import sys, time; t = time.perf_counter(); from cptcore.__main__ import main; "
        f"c = main(['fit', {path!r}, '-o', {out!r}]); "
        "print(time.perf_counter() - t); "
        "print(next(ln for ln in open('/proc/self/status') if ln.startswith('VmHWM'))); sys.exit(c)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    lines = r.stdout.strip().splitlines()
    return float(lines[-2]), int(lines[-1].split()[1]) / 1024, r.returncode


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "sparse5m.csv")
        write_sparse_run(p)
        with open(p) as f:
            n = sum(1 for _ in f) - 1
        for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
            t0 = time.perf_counter()
            sec, mb, rc = measure(p, os.path.join(d, "params.json"))
            print(
                f"fit, {n} rows, last step {LAST:,}: {sec:.2f} s in-process "
                f"({time.perf_counter() - t0:.2f} s fresh process), peak RSS {mb:.0f} MB, exit {rc}"
            )
