"""Backtest of ``python -m cptcore forecast`` on the sample CPT runs (README, "Forecast a running job").

Base fit: sample_data/cpt/params.json (fitted on the train split). Each test and extra run is cut at
10 %, 20 % and 40 % of its CPT phase (losses after the cut removed, schedule kept), forecast, and
scored on the rest: CPT-phase MAE (nats) of the points after the cut, per validation set, at the
rows a fit scores (min_step 500). Compared with
  - predict: the base fit, no use of the observed part;
  - refit: fit_target on the train runs + the partial run (law and lambda as in params.json,
    warm-started from the base fit);
  - forecast variants: which parameters adapt (``cptcore.forecast.ADAPT``) x prior strength.
Also the 95 % band's coverage and mean width on the remaining points.

    python benchmarks/forecast.py [--no-refit] [--variants]
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

from cptcore.areas import run_areas  # noqa: E402
from cptcore.envelope import outside, setting_of_run, widening  # noqa: E402
from cptcore.fit import fit_rows, fit_target  # noqa: E402
from cptcore.forecast import ADAPT, DEFAULT_ADAPT, DEFAULT_STRENGTH, cut_run, forecast_run  # noqa: E402
from cptcore.law import predict  # noqa: E402
from cptcore.params_io import load  # noqa: E402
from cptcore.runs import read_run  # noqa: E402

FOLDER = os.path.join(ROOT, "sample_data", "cpt")
CUTS = (0.1, 0.2, 0.4)
Z95 = 1.959963984540054


def _runs(names):
    return [read_run(os.path.join(FOLDER, n)) for n in names]


def _rest(run, partial, target, f):
    """Rows scored: observed in the full run, CPT phase, after the cut, at the fit's rows."""
    full = run_areas(run, lam=f.lam, s2_form=f.s2_form, eps=f.eps)
    ok = fit_rows(run, target, full, f.min_step, f.skip_warmup)
    ok &= full.S1cpt[run.step] > 0
    ok &= ~np.isfinite(partial.loss(target))
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-refit", action="store_true", help="skip the refit baseline (slow)")
    ap.add_argument("--variants", action="store_true", help="also score every ADAPT x strength")
    args = ap.parse_args()
    split = json.load(open(os.path.join(FOLDER, "split.json"), encoding="utf-8"))
    ps = load(os.path.join(FOLDER, "params.json"))
    train = _runs(split["train"])
    sets = {"test": _runs(split["test"]), "extra": _runs(split["extra"])}
    methods = {"predict": None, "forecast": (ADAPT[DEFAULT_ADAPT], DEFAULT_STRENGTH)}
    if args.variants:
        # what was tried when choosing the default (README, "Forecast a running job")
        trials = {**ADAPT, "E": ("logE",), "L0+E": ("L0", "logE"), "L0+B": ("L0", "B")}
        trials["B+beta"] = ("B", "beta")
        for k, names in trials.items():
            for s in (1.0, 3.0, 10.0, 30.0):
                methods[f"{k} s={s:g}"] = (names, s)
    if not args.no_refit:
        methods["refit"] = "refit"
    # errors[(method, split, cut, target)] -> list of per-run MAE
    errs: dict = {}
    cover: dict = {}
    t0 = time.perf_counter()
    for sname, runs in sets.items():
        for run in runs:
            reasons = outside(ps.envelope, setting_of_run(run))
            widen = widening(reasons)
            for cut in CUTS:
                partial = cut_run(run, cut)
                for mname, how in methods.items():
                    if how is None:
                        preds = ps.predict_run(run)
                        band = None
                    elif how == "refit":
                        preds = {}
                        for t, f in ps.fits.items():
                            g = fit_target(
                                [*train, partial],
                                t,
                                ps.law,
                                lam=ps.lam,
                                min_step=f.min_step,
                                init=f,
                            )
                            a = run_areas(run, lam=ps.lam).at(run.step)
                            preds[t] = predict(g.params, a, run.replay, t)
                        band = None
                    else:
                        fc = forecast_run(
                            ps, partial, names=how[0], strength=how[1], z=Z95, widen=widen
                        )
                        preds = {t: tf.pred for t, tf in fc.targets.items()}
                        band = {t: (tf.lo, tf.hi) for t, tf in fc.targets.items()}
                    for t, f in ps.fits.items():
                        ok = _rest(run, partial, t, f)
                        y = run.loss(t)[ok]
                        e = float(np.mean(np.abs(preds[t][ok] - y)))
                        errs.setdefault((mname, sname, cut, t), []).append(e)
                        if band is not None and mname == "forecast":
                            lo, hi = band[t][0][ok], band[t][1][ok]
                            c = cover.setdefault((sname, cut, t), [[], []])
                            c[0].extend(((y >= lo) & (y <= hi)).tolist())
                            c[1].extend((hi - lo).tolist())
    # base-fit band (predict --interval) for comparison
    print(f"# forecast backtest ({time.perf_counter() - t0:.0f} s)")
    print("CPT-phase MAE (nats) of the points after the cut, mean over runs, general / domain\n")
    head = " | ".join(f"{s} {int(c * 100)} %" for s in sets for c in CUTS)
    print(f"| method | {head} | mean | cells worse than predict |")
    print("|---|" + "---|" * (len(sets) * len(CUTS) + 2))
    for mname in methods:
        cells, all_, worse = [], [], 0
        for s in sets:
            for c in CUTS:
                g, d = (np.mean(errs[(mname, s, c, t)]) for t in ("pt", "cpt"))
                cells.append(f"{g:.3f} / {d:.3f}")
                all_ += [g, d]
                for t, v in (("pt", g), ("cpt", d)):
                    worse += v > np.mean(errs[("predict", s, c, t)]) + 1e-4
        cells += [f"{np.mean(all_):.4f}", str(worse)]
        print(f"| {mname} | " + " | ".join(cells) + " |")
    print("\nforecast 95 % band on the points after the cut: coverage, mean width (nats)\n")
    print("| split | cut | general | domain |")
    print("|---|---|---|---|")
    for s in sets:
        for c in CUTS:
            cells = []
            for t in ("pt", "cpt"):
                inside, width = cover[(s, c, t)]
                cells.append(f"{np.mean(inside):.1%}, {np.mean(width):.3f}")
            print(f"| {s} | {int(c * 100)} % | " + " | ".join(cells) + " |")
    print("\nper run, cut 20 %, general / domain: predict -> forecast")
    for s, runs in sets.items():
        for i, run in enumerate(runs):
            p = [errs[("predict", s, 0.2, t)][i] for t in ("pt", "cpt")]
            q = [errs[("forecast", s, 0.2, t)][i] for t in ("pt", "cpt")]
            print(f"  {s:5} {run.name:40} {p[0]:.3f} / {p[1]:.3f} -> {q[0]:.3f} / {q[1]:.3f}")


if __name__ == "__main__":
    main()
