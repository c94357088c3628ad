"""Helpers for the AppTest (and browser) suites: start the app on a page, read plotted values, and
make canonical run CSVs from known parameters."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30  # seconds per run; CI machines are slow


def open_page(page: str | None = None):
    """An AppTest of app.py, switched to ``page`` (e.g. "pages/explore.py") and run once."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()  # home first, as a visitor would: app.py's st.navigation is then in place
    if page:
        at.switch_page(page)
        at.run()
    return at


def figure(at, index: int = 0) -> dict:
    """The plotly figure JSON of the ``index``-th chart: ``st.plotly_chart``s first, then live
    charts (``ui.livechart``, the figure in the component's data)."""
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    charts += [json.loads(json.loads(c.proto.json)["figure"]) for c in live_charts(at)]
    assert len(charts) > index, f"expected at least {index + 1} chart(s), found {len(charts)}"
    return charts[index]


def live_charts(at) -> list:
    """The live charts (``ui.livechart``) of an AppTest run."""
    return [c for c in at.get("bidi_component") if c.proto.component_name == "cpt_live_chart"]


def values(arr) -> np.ndarray:
    """Decode a plotly array: a list, or {'dtype': 'f8', 'bdata': base64} (plotly >= 6)."""
    if isinstance(arr, dict) and "bdata" in arr:
        raw = np.frombuffer(base64.b64decode(arr["bdata"]), dtype=np.dtype(arr["dtype"]))
        return raw.astype(float)  # plotly packs small integers as int8/int16: avoid overflow
    return np.asarray(arr, dtype=float)


def trace(fig: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the first trace called ``name``."""
    for t in fig["data"]:
        if t.get("name") == name:
            return values(t["x"]), values(t["y"])
    raise AssertionError(f"no trace {name!r}; traces: {[t.get('name') for t in fig['data']]}")


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def synthetic_csv(seed: int, cpt_kind: str, name: str = "synthetic") -> bytes:
    from cptcore.areas import compute_areas
    from cptcore.law import predict
    from cptcore.presets import PAPER_FIG3
    from cptcore.runs import Run, run_to_frame
    from cptcore.schedules import ScheduleSpec, concatenate

    pt = ScheduleSpec("wsd", 1e-3, 2000, warmup_steps=50, decay_fraction=0.2)
    cpt = ScheduleSpec(cpt_kind, 5e-4, 800, warmup_steps=40)
    lr, t = concatenate(pt, cpt)
    a = compute_areas(lr, t)
    steps = np.arange(len(lr))
    rng = np.random.default_rng(seed)
    keep = (steps % 20 == 0) | (steps == t) | (steps == t + 1)
    keep[0] = True
    losses = {}
    for target, p in PAPER_FIG3.items():
        y = predict(p, a, 0.0, target) + rng.normal(0, 0.002, len(lr))
        y[0] = np.nan  # no evaluation of the initial model
        losses[f"loss_{target}"] = y[keep]
    run = Run(name, steps[keep], lr[keep], steps[keep] > t, 0.0, **losses)
    return run_to_frame(run).to_csv(index=False, float_format="%.8g").encode()
