"""Backtest of ``python -m cptcore forecast`` on the sample CPT runs (README, "Forecast a running job").

Base fit: sample_data/cpt/params.json (fitted on the train split). Each test and extra run is cut at
10 %, 20 % and 40 % of its CPT phase (losses after the cut removed, schedule kept), forecast, and
scored on the rest: CPT-phase MAE (nats) of the points after the cut, per validation set, at the
rows a fit scores (min_step 500). Compared with
  - predict: the base fit, no use of the observed part;
  - refit: fit_target on the train runs + the partial run (law and lambda as in params.json,
    warm-started from the base fit);
  - forecast, nested: for each CPT setting (the ptconst_/ptwsd_ pair of a setting is one group), the
    adaptation (which parameters x prior strength x noise x half-life, ``CANDIDATES``) with the
    lowest mean MAE over the *other* groups' runs and all cuts is chosen per validation set, then
    scored on the held-out group: an honest estimate of choosing the method from these runs;
  - forecast, default: ``cptcore.forecast.DEFAULT`` (the choice made on all 13 runs: in-sample).
Also the 95 % band's coverage and mean width on the remaining points, and each run's noise floor
(the scatter of its observed points, ``point_noise``; a forecast's MAE cannot go much below 0.8 sd).

    python benchmarks/forecast.py [--no-refit]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections import Counter

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cptcore.areas import run_areas  # noqa: E402
from cptcore.envelope import outside, setting_of_run, widening  # noqa: E402
from cptcore.fit import fit_rows, fit_target, prediction_band  # noqa: E402
from cptcore.forecast import (  # noqa: E402
    ADAPT,
    DEFAULT,
    NOISE,
    Adaptation,
    adapt,
    cut_run,
    point_noise,
)
from cptcore.law import predict  # noqa: E402
from cptcore.params_io import load  # noqa: E402
from cptcore.runs import read_run  # noqa: E402

FOLDER = os.path.join(ROOT, "sample_data", "cpt")
CUTS = (0.1, 0.2, 0.4)
TARGETS = ("pt", "cpt")
Z95 = 1.959963984540054
CANDIDATES = [
    Adaptation(ADAPT[k], s, noise, hl)
    for k, s, noise, hl in itertools.product(
        ("offset", "offset+speed", "shift", "shift+offset", "offset+anneal"),
        (0.3, 1.0, 3.0, 10.0),
        (NOISE, None),
        (None, 0.5, 0.25, 0.15, 0.08),
    )
]


def _runs(names):
    return [read_run(os.path.join(FOLDER, n)) for n in names]


def _group(run) -> str:
    """The CPT setting of a sample run: its name without the PT schedule."""
    return run.name.split("_", 1)[1]


def _label(a: Adaptation) -> str:
    names = next(k for k, v in ADAPT.items() if v == a.names)
    noise = "sd from scatter" if a.noise is None else f"sd {a.noise:g}"
    hl = "all points" if a.halflife is None else f"half-life {a.halflife:g}"
    return f"{names}, strength {a.strength:g}, {noise}, {hl}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-refit", action="store_true", help="skip the refit baseline (slow)")
    args = ap.parse_args()
    split = json.load(open(os.path.join(FOLDER, "split.json"), encoding="utf-8"))
    ps = load(os.path.join(FOLDER, "params.json"))
    train = _runs(split["train"])
    sets = {"test": _runs(split["test"]), "extra": _runs(split["extra"])}
    # err[(run name, cut, target, method)] = MAE after the cut; band[...] = (inside, width) arrays
    err: dict = {}
    band: dict = {}
    noise: dict = {}
    t0 = time.perf_counter()
    for run in (r for rs in sets.values() for r in rs):
        base = ps.predict_run(run)
        full = run_areas(run, lam=ps.lam, s2_form=ps.s2_form, eps=ps.eps)
        areas = full.at(run.step)
        widen = widening(outside(ps.envelope, setting_of_run(run)))
        for cut in CUTS:
            partial = cut_run(run, cut)
            for t, f in ps.fits.items():
                S1pt = f.S1pt_for(run)
                scored = fit_rows(run, t, full, f.min_step, f.skip_warmup) & (areas.S1cpt > 0)
                seen = fit_rows(partial, t, full, f.min_step, f.skip_warmup) & (areas.S1cpt > 0)
                rest = scored & ~seen
                y, y_rest = run.loss(t)[seen], run.loss(t)[rest]
                a_seen, a_rest = full.at(run.step[seen]), full.at(run.step[rest])
                sd = point_noise(np.log(y) - np.log(base[t][seen]))
                noise[(run.name, cut, t)] = sd
                err[(run.name, cut, t, "predict")] = float(np.mean(np.abs(base[t][rest] - y_rest)))
                for c in CANDIDATES:
                    p = adapt(f.params, a_seen, y, run.replay, t, S1pt, c.names, c.strength,
                              sd if c.noise is None else c.noise, c.halflife)  # fmt: skip
                    pred = predict(p, a_rest, run.replay, t, S1pt)
                    err[(run.name, cut, t, c)] = float(np.mean(np.abs(pred - y_rest)))
                    _, hi = prediction_band(_with_params(f, p), a_rest, run.replay, S1pt, Z95, widen)
                    q = np.log(hi / pred)  # the base band's half-width in log loss
                    band[(run.name, cut, t, c)] = (np.abs(np.log(y_rest / pred)) / q, pred, q)
                if not args.no_refit:
                    g = fit_target([*train, partial], t, ps.law, lam=ps.lam, min_step=f.min_step,
                                   init=f)  # fmt: skip
                    pred = predict(g.params, a_rest, run.replay, t)
                    err[(run.name, cut, t, "refit")] = float(np.mean(np.abs(pred - y_rest)))
    runs = [r for rs in sets.values() for r in rs]
    groups = sorted({_group(r) for r in runs})

    def score(c, t, rs):
        return np.mean([err[(r.name, cut, t, c)] for r in rs for cut in CUTS])

    def band_scale(c, t, rs):
        """The factor on the base band that covers 95 % of ``rs``' points after the cuts."""
        ratio = np.concatenate([band[(r.name, cut, t, c)][0] for r in rs for cut in CUTS])
        return float(np.quantile(ratio, 0.95))

    chosen = {t: Counter() for t in TARGETS}
    scales = {t: [] for t in TARGETS}
    for g in groups:
        fitting = [r for r in runs if _group(r) != g]
        for t in TARGETS:
            best = min(CANDIDATES, key=lambda c: score(c, t, fitting))
            k = band_scale(best, t, fitting)
            chosen[t][_label(best)] += 1
            scales[t].append(k)
            for r in (r for r in runs if _group(r) == g):
                for cut in CUTS:
                    err[(r.name, cut, t, "nested")] = err[(r.name, cut, t, best)]
                    ratio, _, q = band[(r.name, cut, t, best)]
                    band[(r.name, cut, t, "nested")] = (ratio, q, k)
                    band[(r.name, cut, t, "nested, base band")] = (ratio, q, 1.0)
    for t in TARGETS:
        for r in runs:
            for cut in CUTS:
                err[(r.name, cut, t, "default")] = err[(r.name, cut, t, DEFAULT[t])]
                ratio, _, q = band[(r.name, cut, t, DEFAULT[t])]
                band[(r.name, cut, t, "default")] = (ratio, q, 1.0)
    print(f"# forecast backtest ({time.perf_counter() - t0:.0f} s, {len(CANDIDATES)} candidates)")
    print("CPT-phase MAE (nats) of the points after the cut, mean over runs, general / domain\n")
    print("| method | " + " | ".join(f"{s} {int(c * 100)} %" for s in sets for c in CUTS) + " |")
    print("|---|" + "---|" * (len(sets) * len(CUTS)))
    methods = ["predict", *([] if args.no_refit else ["refit"]), "nested", "default"]
    for m in methods:
        cells = [
            " / ".join(f"{np.mean([err[(r.name, c, t, m)] for r in rs]):.3f}" for t in TARGETS)
            for rs in sets.values()
            for c in CUTS
        ]
        print(f"| {m} | " + " | ".join(cells) + " |")
    floor = [
        " / ".join(f"{np.mean([0.8 * noise[(r.name, c, t)] for r in rs]):.3f}" for t in TARGETS)
        for rs in sets.values()
        for c in CUTS
    ]
    print("| noise floor (0.8 sd of the observed scatter) | " + " | ".join(floor) + " |")
    for t in TARGETS:
        print(f"\nnested choices, {t} (held-out groups): " + "; ".join(
            f"{k} x{n}" for k, n in chosen[t].most_common()))  # fmt: skip
        print(f"default {t}: {_label(DEFAULT[t])}")
        print(f"band scale {t}: nested {min(scales[t]):.2f}-{max(scales[t]):.2f}, "
              f"on all runs {band_scale(DEFAULT[t], t, runs):.2f} (the CLI: 1)")  # fmt: skip
    print("\n95 % band on the points after the cut: coverage (mean width, nats), general / domain")
    print("(nested: the base band times a factor chosen on the other groups' points)\n")
    print("| method | " + " | ".join(f"{s} {int(c * 100)} %" for s in sets for c in CUTS) + " |")
    print("|---|" + "---|" * (len(sets) * len(CUTS)))
    for m in ("nested, base band", "nested", "default"):
        cells = []
        for rs in sets.values():
            for c in CUTS:
                parts = []
                for t in TARGETS:
                    inside, width = [], []
                    for r in rs:
                        ratio, q, k = band[(r.name, c, t, m)]
                        pred = band[(r.name, c, t, DEFAULT[t])][1]
                        inside.append(ratio <= k)
                        width.append(pred * 2 * np.sinh(k * q))  # hi - lo
                    inside, width = np.concatenate(inside), np.concatenate(width)
                    parts.append(f"{inside.mean():.0%} ({width.mean():.2f})")
                cells.append(" / ".join(parts))
        print(f"| {m} | " + " | ".join(cells) + " |")
    print("\nper run, cut 20 %, general / domain: predict -> nested (noise sd)")
    for s, rs in sets.items():
        for r in rs:
            p = [err[(r.name, 0.2, t, "predict")] for t in TARGETS]
            q = [err[(r.name, 0.2, t, "nested")] for t in TARGETS]
            n = [noise[(r.name, 0.2, t)] for t in TARGETS]
            print(f"  {s:5} {r.name:40} {p[0]:.3f} / {p[1]:.3f} -> {q[0]:.3f} / {q[1]:.3f}"
                  f"  ({n[0]:.3f} / {n[1]:.3f})")  # fmt: skip


def _with_params(f, p):
    from dataclasses import replace

    return replace(f, params=p)


if __name__ == "__main__":
    main()
