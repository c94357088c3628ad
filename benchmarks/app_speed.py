"""Per-rerun server compute of the Explore page's live path, for 10k / 100k / 1M-step scenarios.

What one slider release costs on the server: the thinned scenario (cptcore.scenario.view: simulate
-> thin -> band, the predicted losses at every step, terms and band at the kept points), the plotly
figure (cptcore.plots.scenario_figure) and its serialisation (fig.to_json, what Streamlit sends).
The app caches the view per setting (st.cache_data), so revisiting a setting costs only the figure.
The column "before" is the path the app took before scenario.view: simulate every curve at every
step, then thin (scenario_view(simulate(...))).

    python benchmarks/app_speed.py            # paper Fig. 3 parameters
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import plotly.io as pio  # noqa: E402

from cptcore.fit import FitResult  # noqa: E402
from cptcore.params_io import ParamSet  # noqa: E402
from cptcore.plots import scenario_figure  # noqa: E402
from cptcore.presets import PAPER_FIG3  # noqa: E402
from cptcore.scenario import scenario_view, simulate, view  # noqa: E402
from cptcore.whatif import PAPER_WHATIF  # noqa: E402

REPEATS = 5


def _ms(f, repeats: int = REPEATS):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times), out


def _with_covariance() -> ParamSet:
    """Paper Fig. 3 parameters with a diagonal covariance on all eight parameters: a fit's bands
    cost one extra law evaluation per parameter at every plotted point."""
    names = ("L0", "A", "alpha", "C1", "C2", "B", "logE", "beta")
    fits = {
        t: FitResult(t, p, True, "benchmark", (), free_names=names, cov=np.diag([1e-5] * 8))
        for t, p in PAPER_FIG3.items()
    }
    return ParamSet.from_fits(fits)


def table(ps: ParamSet, title: str) -> None:
    print(title)
    head = f"{'steps':>9} {'view':>8} {'figure':>8} {'to_json':>8} {'total':>7} {'cached':>7}"
    print(head + f" {'points':>7} {'JSON kB':>8} {'before':>8}")
    for n in (10_000, 100_000, 1_000_000):
        w = replace(PAPER_WHATIF, pt_steps=int(0.8 * n), cpt_steps=int(0.2 * n))
        sc = w.scenario()
        reps = 3 if n >= 1_000_000 else REPEATS
        t_view, v = _ms(lambda w=w: view(ps, w, cpt_share=0.5), reps)
        t_old, _ = _ms(
            lambda sc=sc: scenario_view(simulate(ps, sc, bands=False), ps=ps, cpt_share=0.5), reps
        )
        t_fig, fig = _ms(lambda v=v: scenario_figure(v, terms_of="pt"))
        # what st.plotly_chart does with a Figure: to_dict, then to_json without validation
        t_json, js = _ms(lambda f=fig: pio.to_json(f.to_dict(), validate=False))
        total = t_view + t_fig + t_json
        cached = t_fig + t_json  # the view comes from st.cache_data
        print(
            f"{n:>9,} {t_view:>8.1f} {t_fig:>8.1f} {t_json:>8.1f} {total:>7.1f} {cached:>7.1f} "
            f"{len(v.steps):>7,} {len(js) / 1e3:>8.0f} {t_old:>8.1f}"
        )
    print()


def main() -> None:
    ps = ParamSet.from_params(PAPER_FIG3)
    # warm up imports and plotly's validators once
    scenario_figure(view(ps, PAPER_WHATIF)).to_dict()
    print("Explore live path, server compute per rerun in ms (median of", REPEATS, "runs).")
    print(
        "PT WSD to 0 (80 % of steps) + CPT cosine (20 %), both validation sets, terms panel on.\n"
    )
    table(ps, "Paper Fig. 3 parameters (no covariance):")
    table(_with_covariance(), "With a covariance (uncertainty bands on):")
    print("'total': a setting seen for the first time; 'cached': a setting seen before.")
    print("Budget: < 100 ms of server compute per rerun at 100k steps.")


if __name__ == "__main__":
    main()
