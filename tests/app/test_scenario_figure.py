"""``plots.scenario_figure`` split into named steps draws the same figure as before the split.

The reference is a digest of the figure's JSON recorded with the one-piece function (commit
d03873f), for the paper's Fig. 3 parameters (fixed in ``presets``, unlike the sample fit, which is
refitted from time to time) with a covariance so that bands are drawn. The layout keys set by
``_base_layout`` (legend, margins, ...) are left out: they are styled elsewhere. To re-record after
an intended change of the figure: ``PYTHONPATH=. python tests/app/test_scenario_figure.py``.
"""

import hashlib
import json
import os
from dataclasses import replace

import numpy as np
import plotly.io as pio
import pytest

from cptcore.fit import FitResult
from cptcore.params_io import ParamSet
from cptcore.plots import _base_layout, scenario_figure
from cptcore.presets import PAPER_FIG3
from cptcore.scenario import scenario_view, simulate
from cptcore.whatif import PAPER_WHATIF

HERE = os.path.dirname(os.path.abspath(__file__))
DIGESTS = os.path.join(HERE, "..", "data", "scenario_figure_digests.json")


def _params() -> ParamSet:
    names = ("L0", "A", "alpha", "C1", "C2", "B", "logE", "beta")
    fits = {
        t: FitResult(t, p, True, "test", (), free_names=names, cov=np.diag([1e-5] * len(names)))
        for t, p in PAPER_FIG3.items()
    }
    return ParamSet.from_fits(fits)


def _views():
    ps = _params()
    base = replace(PAPER_WHATIF, pt_steps=40_000, cpt_steps=10_000, cpt_kind="wsd", replay=0.0)
    pin = replace(base, cpt_lr=1e-4, cpt_kind="cosine")
    main = scenario_view(simulate(ps, base.scenario(), bands=False), 1200, "main", ps, 0.0, 0.5)
    other = scenario_view(simulate(ps, pin.scenario(), bands=False), 800, "pin 1", ps, 0.0)
    return main, other


CASES = {
    "default": lambda v, p: {},
    "terms and CPT window": lambda v, p: dict(terms_of="pt", window="cpt"),
    "domain only, plain": lambda v, p: dict(
        targets=("cpt",), hidden=False, bands=False, markers=False, terms_of="cpt"
    ),
    "pins, height": lambda v, p: dict(pins=(p,), height=700, terms_of="cpt"),
}


def _plain(obj):
    """JSON-able copy: arrays as lists of Python numbers (float32 values kept exactly)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_plain(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float):
        return repr(obj)
    return obj


def _digest(fig) -> str:
    d = fig.to_plotly_json()
    styled = set(_base_layout(100)) - {"height"}
    layout = {k: v for k, v in d["layout"].items() if k not in styled}
    text = json.dumps(_plain({"data": d["data"], "layout": layout}), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _digests() -> dict:
    main, other = _views()
    return {name: _digest(scenario_figure(main, **kw(main, other))) for name, kw in CASES.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_scenario_figure_is_the_same_figure_after_the_split(case, monkeypatch):
    # the digests were recorded with plotly's own default template; importing streamlit (any
    # AppTest earlier in the session) makes its "streamlit" template the process-wide default
    monkeypatch.setattr(pio.templates, "default", "plotly")
    with open(DIGESTS) as fh:
        want = json.load(fh)
    assert _digests()[case] == want[case]


if __name__ == "__main__":
    pio.templates.default = "plotly"
    with open(DIGESTS, "w") as fh:
        json.dump(_digests(), fh, indent=1)
        fh.write("\n")
    print("recorded", DIGESTS)
