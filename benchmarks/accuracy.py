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
from dataclasses import replace
from statistics import NormalDist

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cptcore.envelope import outside, setting_of_run, widening  # noqa: E402
from cptcore.fit import evaluate, fit_target, prediction_band, scored_rows  # noqa: E402
from cptcore.runs import read_run  # noqa: E402
from cptcore.select import fit_model  # noqa: E402

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


def _cpt_mae(res, runs) -> float:
    return float(np.mean([m.cpt_mae for m in evaluate(res, runs) if np.isfinite(m.cpt_mae)]))


def cpt_table() -> tuple[list[dict], object]:
    """The default fit (model selection on the train split) and every candidate it scored: the
    grouped-CV score on the train split next to the held-out CPT-phase MAE on the test split
    (the held-out runs share their PT prefix with the training runs, so CPT-phase MAE is the
    planning-relevant number)."""
    folder = os.path.join(ROOT, "sample_data", "cpt")
    train, test = _load_split(folder)
    t0 = time.perf_counter()
    outcome = fit_model(train, test, min_step=CPT_MIN_STEP)
    default_seconds = time.perf_counter() - t0
    bands = band_table(outcome, test)
    sel = outcome.selection
    rows = []
    for c in sorted(sel.candidates, key=lambda c: c.score):
        row = {
            "law": c.law,
            "lam": c.lam,
            "cv": c.scores,
            "default": (c.law, c.lam) == (sel.law, sel.lam),
        }
        for target in ("pt", "cpt"):
            res = fit_target(train, target, c.law, lam=c.lam, min_step=CPT_MIN_STEP)
            held = evaluate(res, test)
            row[f"held_{target}"] = float(np.mean([m.cpt_mae for m in held]))
            row[f"worst_{target}"] = max(held, key=lambda m: m.cpt_mae)
            row[f"per_run_{target}"] = {m.name: round(m.cpt_mae, 4) for m in held}
        rows.append(row)
    return rows, (sel, default_seconds, bands)


def band_table(outcome, test, level: float = 0.95) -> list[dict]:
    """Coverage and mean width of the default fit's band on the held-out runs' CPT-phase points,
    the band widened where a run leaves the fitted envelope (as `predict --interval` does)."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    rows = []
    for target, res in outcome.fits.items():
        res = replace(res, metrics=())
        inside, width, per_run = [], [], {}
        for run in test:
            s = setting_of_run(run)
            widen = widening(outside(outcome.envelope, s)) if s is not None else 1.0
            for _, y, _pred, a in scored_rows(res, [run]):
                lo, hi = prediction_band(res, a, run.replay, z=z, widen=widen)
                cpt = a.S1cpt > 0
                ok = (y[cpt] >= lo[cpt]) & (y[cpt] <= hi[cpt])
                inside.append(ok)
                width.append((hi - lo)[cpt])
                per_run[run.name] = (float(ok.mean()), float(np.mean((hi - lo)[cpt])), widen)
        rows.append(
            {
                "target": target,
                "coverage": float(np.mean(np.concatenate(inside))),
                "width": float(np.mean(np.concatenate(width))),
                "per_run": per_run,
            }
        )
    return rows


def sample_setting(run) -> dict:
    """Replay, CPT peak LR and CPT schedule of a sample run, from its file name."""
    parts = run.name.split("_")
    return {
        "replay": run.replay,
        "peak LR": parts[2].removeprefix("lr"),
        "schedule": parts[1].split("-")[1],
    }


def grouped_cv_table(laws=("eq4", "eq8", "eq8-convex", "tau"), lam: float = 0.98) -> list[dict]:
    """Grouped cross-validation over all 16 CPT sample runs: leave one replay ratio / peak LR /
    schedule out (every value of the grouping is held out once, all runs with it together)."""
    folder = os.path.join(ROOT, "sample_data", "cpt")
    train, test = _load_split(folder)
    runs = train + test
    rows = []
    for law in laws:
        row = {"law": law, "lam": lam}
        for group in ("replay", "peak LR", "schedule"):
            values = sorted({sample_setting(r)[group] for r in runs})
            for target in ("pt", "cpt"):
                errs = []
                for v in values:
                    held = [r for r in runs if sample_setting(r)[group] == v]
                    fit_on = [r for r in runs if sample_setting(r)[group] != v]
                    res = fit_target(fit_on, target, law, lam=lam, min_step=CPT_MIN_STEP)
                    errs += [m.cpt_mae for m in evaluate(res, held) if np.isfinite(m.cpt_mae)]
                row[(group, target)] = float(np.mean(errs))
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mpl", action="store_true")
    ap.add_argument("--cpt", action="store_true")
    ap.add_argument(
        "--per-run", action="store_true", help="print held-out MAE per run for the CPT table"
    )
    ap.add_argument(
        "--grouped", action="store_true", help="add grouped CV over all 16 CPT runs (slow, ~2 min)"
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
        print_cpt(args.per_run, args.grouped)


def print_cpt(per_run: bool, grouped: bool) -> None:
    print("## CPT sample runs: the default fit and every candidate (nats per byte)\n")
    print(
        f"Fitted on the 8 train runs of split.json, scored on its 8 test runs; losses before step "
        f"{CPT_MIN_STEP} are not fitted or scored; CPT-phase MAE = points after the transfer point.\n"
    )
    rows, (sel, secs, bands) = cpt_table()
    print(
        "| law | λ | grouped CV on train, general | grouped CV on train, domain | held-out CPT-phase MAE, general | held-out CPT-phase MAE, domain | worst held-out run (general) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        mark = " **(default)**" if r["default"] else ""
        w = r["worst_pt"]
        print(
            f"| {r['law']}{mark} | {r['lam']:g} | {r['cv'].get('pt', float('nan')):.4f} | "
            f"{r['cv'].get('cpt', float('nan')):.4f} | **{r['held_pt']:.4f}** | **{r['held_cpt']:.4f}** | "
            f"{w.name} ({w.cpt_mae:.3f}) |"
        )
    print(f"\n{sel.message}\nDefault fit (selection + final fit): {secs:.1f} s")
    print("\n### The default fit's 95 % band on the held-out CPT phases\n")
    print(
        "| validation set | coverage (nominal 95 %) | mean width (nats) | per run: coverage / width (widening) |"
    )
    print("|---|---|---|---|")
    for b in bands:
        per = "; ".join(
            f"{n}: {c:.0%} / {w:.3f}" + (f" (x{k:.1f})" if k > 1 else "")
            for n, (c, w, k) in b["per_run"].items()
        )
        label = "general" if b["target"] == "pt" else "domain"
        print(f"| {label} | **{b['coverage']:.1%}** | {b['width']:.3f} | {per} |")
    if per_run:
        for r in rows:
            print(r["law"], r["lam"], "general", r["per_run_pt"])
            print(r["law"], r["lam"], "domain", r["per_run_cpt"])
    if grouped:
        print(
            "\n## Grouped cross-validation over all 16 CPT sample runs (CPT-phase MAE, λ = 0.98)\n"
        )
        print(
            "| law | leave one replay ratio out (gen / dom) | leave one peak LR out (gen / dom) | leave one schedule out (gen / dom) |"
        )
        print("|---|---|---|---|")
        for r in grouped_cv_table():
            cells = [
                f"{r[(g, 'pt')]:.4f} / {r[(g, 'cpt')]:.4f}"
                for g in ("replay", "peak LR", "schedule")
            ]
            print(f"| {r['law']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
