"""Speed of the core: prints predict and fit timings next to a naive O(n^2) S2 baseline, and each
speed figure of issue 13 next to its baseline as a ratio.

    python benchmarks/speed.py [--repeat N]

Targets (core issue): predicting 1M steps < 20 ms; fitting 6 runs x 2 validation sets < 2 s.
The naive baseline is the paper's double sum for S2; it is timed up to 10k steps and extrapolated
as n^2 beyond (marked "~").

Issue 13 (every figure best of N; the machine may be shared, so ratios matter more than seconds):
- ``predict`` CLI on a 1M-row run vs ``pandas.read_csv`` of the same file, both as fresh processes
  (target: within 2x, at most 3x);
- the law on one validation set vs one numpy pass (``x * 2.0``) over an array of the same length;
- areas and areas + both sets at 1M steps (target < 20 ms), and the floor below them: writing the
  six 1M-element arrays they return (four areas, two losses) into new memory;
- areas of a 1M-step schedule given by its corners at the ~1,200 points a chart draws
  (``row_areas``, per linear segment) vs the per-step areas of the same schedule;
- a new Explore setting (``scenario.view``: simulate -> thin -> band) at 100k and 1M steps vs the
  path before it (``scenario_view(simulate(...))``);
- cold ``python -m cptcore --help`` vs ``python -c "import pandas, scipy.optimize"`` (target 1.3x).

The load average is printed first: with other jobs on the machine every figure grows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cptcore.areas import compute_areas, row_areas, s2_naive  # noqa: E402
from cptcore.fit import fit_target  # noqa: E402
from cptcore.law import predict, predict_sets  # noqa: E402
from cptcore.presets import PAPER_FIG3  # noqa: E402
from cptcore.schedules import ScheduleSpec, concatenate  # noqa: E402


def best_of(fn, repeat=5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def predict_rows():
    rows = []
    naive_ref = None
    for n in (1_000, 10_000, 100_000, 1_000_000):
        pt = ScheduleSpec("wsd", 2e-4, int(n * 0.8), warmup_steps=n // 100, decay_fraction=0.1)
        cpt = ScheduleSpec("cosine", 2e-4, n - int(n * 0.8), warmup_steps=n // 200)
        lr, t = concatenate(pt, cpt)

        def run(lr=lr, t=t):
            predict_sets(PAPER_FIG3, compute_areas(lr, t))

        fast = best_of(run)
        areas_t = best_of(lambda lr=lr, t=t: compute_areas(lr, t))
        a = compute_areas(lr, t)
        law_t = best_of(lambda a=a: predict(PAPER_FIG3["pt"], a, 0.0, "pt"))
        if n <= 10_000:
            naive = best_of(lambda lr=lr: s2_naive(lr), repeat=1)
            naive_ref = (n, naive)
            naive_txt = f"{naive * 1e3:.1f} ms"
        else:
            n0, t0 = naive_ref
            naive = t0 * (n / n0) ** 2
            naive_txt = f"~{naive:.0f} s"
        rows.append((n, fast, areas_t, law_t, naive, naive_txt))
    return rows


def fit_row():
    from tests.synthetic import PT_CONST, PT_WSD, cpt_spec, make_run

    runs = [
        make_run("a", PT_CONST, cpt_spec("wsd"), seed=1),
        make_run("b", PT_CONST, cpt_spec("constant"), seed=2),
        make_run("c", PT_CONST, cpt_spec("cosine", peak=2.5e-4), seed=3),
        make_run("d", PT_WSD, cpt_spec("wsd"), seed=4),
        make_run("e", PT_WSD, cpt_spec("constant", peak=1e-3), seed=5),
        make_run("f", PT_WSD, cpt_spec("cosine"), seed=6),
    ]
    n_points = sum(int(np.isfinite(r.loss_pt).sum()) for r in runs)
    t = best_of(lambda: [fit_target(runs, tg) for tg in ("pt", "cpt")], repeat=3)
    return len(runs), n_points, t


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best_wall(cmd: list[str], repeat: int) -> float:
    """Best wall time of a fresh process (imports included), from the repository root."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(
            cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        best = min(best, time.perf_counter() - t0)
    return best


def ratio_rows(repeat: int) -> list[tuple[str, float, str, float]]:
    """(figure, seconds, baseline, seconds) for the issue-13 table."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from make_big_run import make

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "run_1M.csv")
        make(csv)
        py = sys.executable
        cli = best_wall(
            [
                py,
                "-m",
                "cptcore",
                "predict",
                "-p",
                "sample_data/cpt/params.json",
                csv,
                "-o",
                os.path.join(tmp, "pred.csv"),
            ],
            repeat,
        )
        read = best_wall([py, "-c", f"import pandas; pandas.read_csv({csv!r})"], repeat)
        rows.append(
            ("predict CLI, 1M rows (process)", cli, "pandas.read_csv, same CSV (process)", read)
        )
        import pandas as pd

        read_in = best_of(lambda: pd.read_csv(csv), repeat)
        rows.append(
            (
                "predict CLI, 1M rows (process)",
                cli,
                "pandas.read_csv in-process (no imports)",
                read_in,
            )
        )
    n = 1_000_000
    pt = ScheduleSpec("wsd", 2e-4, int(n * 0.8), warmup_steps=n // 100, decay_fraction=0.1)
    cpt = ScheduleSpec("cosine", 2e-4, n - int(n * 0.8), warmup_steps=n // 200)
    lr, t = concatenate(pt, cpt)
    a = compute_areas(lr, t)
    one_pass = best_of(lambda: lr * 2.0, 4 * repeat)
    law = best_of(lambda: predict(PAPER_FIG3["pt"], a, 0.0, "pt"), 4 * repeat)
    rows.append(("law, one set, 1M steps", law, "one numpy pass (x * 2.0), 1M", one_pass))
    sets = best_of(lambda: predict_sets(PAPER_FIG3, a), 4 * repeat)
    rows.append(
        ("law, both sets (predict_sets), 1M", sets, "one numpy pass (x * 2.0), 1M", one_pass)
    )
    areas = best_of(lambda: compute_areas(lr, t), 4 * repeat)
    rows.append(("areas, 1M steps", areas, "one numpy pass (x * 2.0), 1M", one_pass))
    both = best_of(lambda: predict_sets(PAPER_FIG3, compute_areas(lr, t)), 4 * repeat)
    rows.append(("areas + both sets, 1M steps", both, "target 20 ms", 0.020))
    floor = best_of(lambda: [np.multiply(lr, 2.0) for _ in range(6)], 4 * repeat)
    rows.append(
        ("areas + both sets, 1M steps", both, "floor: 6 new 1M arrays, one pass each", floor)
    )
    rows.append(sparse_row(repeat))
    rows += app_rows(repeat)
    helptime = best_wall([py, "-m", "cptcore", "--help"], repeat)
    imports = best_wall([py, "-c", "import pandas, scipy.optimize"], repeat)
    rows.append(
        ("cold python -m cptcore --help", helptime, "import pandas, scipy.optimize", imports)
    )
    return rows


def sparse_row(repeat: int) -> tuple[str, float, str, float]:
    """A 1M-step schedule given by its 7 corners: areas at the rows and ~1,200 drawn points
    (per linear segment) vs at every step."""
    from cptcore.runs import Run

    st = np.array([0, 10_000, 700_000, 800_000, 805_000, 950_000, 1_000_000])
    run = Run("corners", st, np.array([0, 2e-4, 2e-4, 0, 2e-4, 2e-4, 0.0]), st > 800_000)
    drawn = np.union1d(st, np.linspace(0, 1_000_000, 1200).round()).astype(np.int64)
    sparse = best_of(lambda: row_areas(run, at=drawn), 4 * repeat)
    dense = best_of(lambda: compute_areas(run.dense_lr(), 800_000), repeat)
    return ("areas at ~1,200 drawn points, 7 corners", sparse, "per-step areas (1M steps)", dense)


def app_rows(repeat: int) -> list[tuple[str, float, str, float]]:
    """A new Explore setting (not cached): scenario.view vs the path before it."""
    from dataclasses import replace

    from cptcore.params_io import ParamSet
    from cptcore.scenario import scenario_view, simulate, view
    from cptcore.whatif import PAPER_WHATIF

    ps = ParamSet.from_params(PAPER_FIG3)
    out = []
    for n in (100_000, 1_000_000):
        w = replace(PAPER_WHATIF, pt_steps=int(0.8 * n), cpt_steps=int(0.2 * n))
        sc = w.scenario()
        new = best_of(lambda w=w: view(ps, w, cpt_share=0.5), repeat)
        old = best_of(
            lambda sc=sc: scenario_view(simulate(ps, sc, bands=False), ps=ps, cpt_share=0.5),
            repeat,
        )
        out.append((f"scenario.view, {n:,} steps", new, "scenario_view(simulate(...))", old))
    return out


def _t(sec: float) -> str:
    return f"{sec * 1e3:.1f} ms" if sec < 1 else f"{sec:.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5, help="best of N (default 5)")
    args = ap.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Load average (1, 5, 15 min): {load} on {os.cpu_count()} CPUs\n")
    print(f"## Issue 13: each figure next to its baseline (best of {args.repeat})\n")
    print("| figure | time | baseline | time | ratio |")
    print("|---|---|---|---|---|")
    for what, sec, base, base_sec in ratio_rows(args.repeat):
        print(f"| {what} | {_t(sec)} | {base} | {_t(base_sec)} | {sec / base_sec:.2f}x |")
    print()
    print("## Predict: S1/S2 areas + Eq. 4 on both validation sets (best of 5)\n")
    print(
        "| steps | predict (areas + both sets) | of which areas | law, one set | naive O(n^2) S2 alone | speed-up |"
    )
    print("|---|---|---|---|---|---|")
    for n, fast, areas_t, law_t, naive, naive_txt in predict_rows():
        print(
            f"| {n:,} | {fast * 1e3:.2f} ms | {areas_t * 1e3:.2f} ms | {law_t * 1e3:.2f} ms | {naive_txt} | {naive / fast:,.0f}x |"
        )
    k, pts, t = fit_row()
    print(
        f"\n## Fit: {k} runs x 2 validation sets ({pts} observed points per set, 4000 steps per run)\n"
    )
    print(f"fit time: {t:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
