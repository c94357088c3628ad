"""plots.framed_figure: one chart whose frames swap in the curves of neighbouring settings (what
Explore's live chart switches to in the browser); checked here on the figure dicts, without a
browser."""

import base64
from dataclasses import replace

import numpy as np
import pytest

from cptcore.params_io import ParamSet
from cptcore.plots import framed_figure, scenario_figure, scenario_view
from cptcore.presets import PAPER_FIG3
from cptcore.scenario import simulate
from cptcore.whatif import PAPER_WHATIF

LRS = (1e-4, 2e-4, 4e-4)
NAMES = ["1e-4|0%", "2e-4|0%", "4e-4|0%"]  # as Explore names them: the sliders' shown values


@pytest.fixture(scope="module")
def charts():
    ps = ParamSet.from_params(PAPER_FIG3)
    w = replace(PAPER_WHATIF, pt_steps=20_000, cpt_steps=5_000)
    views = [
        scenario_view(simulate(ps, replace(w, cpt_lr=lr).scenario(), bands=False), 400)
        for lr in LRS
    ]
    figs = [scenario_figure(v, window="cpt") for v in views]
    return views, figs, framed_figure(figs, NAMES, 1)


def _y(v) -> np.ndarray:
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v, float)


def _index(fig, name: str) -> int:
    return next(i for i, t in enumerate(fig.data) if t.name == name)


def test_the_chart_starts_at_the_active_setting_with_a_frame_per_setting(charts):
    views, figs, fig = charts
    assert [f.name for f in fig.frames] == NAMES
    assert not fig.layout.sliders  # the page's own sliders pick the frame
    i = _index(fig, "predicted general loss")
    assert np.allclose(fig.data[i].y, views[1].pred["pt"], rtol=1e-6, equal_nan=True)


def test_each_frame_holds_that_settings_curve_at_the_charts_steps(charts):
    views, _, fig = charts
    i = _index(fig, "predicted general loss")
    steps = np.asarray(fig.data[i].x, float)
    for view, frame in zip(views, fig.frames, strict=True):
        assert i in frame.traces
        y = _y(frame.data[frame.traces.index(i)].y)
        expected = np.interp(steps, view.steps, view.pred["pt"])
        assert y.dtype == np.float32 and np.allclose(y, expected, rtol=1e-6, equal_nan=True)
    ends = [_y(f.data[f.traces.index(i)].y)[-1] for f in fig.frames]
    assert ends[0] < ends[1] < ends[2]  # a higher CPT peak LR forgets more (paper §4.3)


def test_frames_leave_out_what_does_not_change_and_axes_span_every_frame(charts):
    _, figs, fig = charts
    moving = set(fig.frames[0].traces)
    assert _index(fig, "transfer point") not in moving  # the PT phase is the same for all
    assert _index(fig, "learning rate") in moving
    for ax in ("yaxis", "yaxis2"):
        lo = min(f.layout[ax].range[0] for f in figs)
        hi = max(f.layout[ax].range[1] for f in figs)
        assert tuple(fig.layout[ax].range) == pytest.approx((lo, hi))


def test_the_lr_panel_spans_every_frames_learning_rate(charts):
    """Frames do not re-autorange: an LR panel autoranged to the active setting clipped the
    curve of a higher peak LR (QA at 2e-3 / 3e-3). The loss panels have their own ranges."""
    _, _, fig = charts
    i = _index(fig, "learning rate")
    rng = fig.layout["yaxis" + (fig.data[i].yaxis or "y")[1:]].range
    assert rng is not None
    for frame in fig.frames:
        y = _y(frame.data[frame.traces.index(i)].y)
        assert rng[0] <= np.nanmin(y) and np.nanmax(y) <= rng[1], (frame.name, rng)
