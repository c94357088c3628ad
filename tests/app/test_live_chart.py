"""Explore's live chart (ui.livechart, ui.widgets.live_figure): the frames it is sent are the
settings around the controls' values, named as the page's sliders show them; the browser side is
tests/e2e/test_live_chart_browser.py."""

import json
from dataclasses import replace

import numpy as np
from app_helpers import figure, live_charts, no_exception, open_page, trace, values

from cptcore.whatif import WhatIf
from ui.widgets import LRS, fmt_lr, live_settings, replay_label


def _sent(at) -> dict:
    (chart,) = live_charts(at)
    return json.loads(chart.proto.json)


def test_the_frames_are_named_after_what_the_lr_and_replay_sliders_show():
    at = open_page("pages/explore.py")
    no_exception(at)
    sent = _sent(at)
    lr, replay = at.select_slider(key="cpt_lr").value, at.slider(key="replay").value
    assert sent["controls"] == ["cpt_lr", "replay"]
    assert sent["active"] == f"{fmt_lr(lr)}|{replay:.0f}%"  # the replay slider's "%d%%"
    names = [f["name"] for f in figure(at)["frames"]]
    i = LRS.index(lr)
    lrs = LRS[max(0, i - 3) : i + 4]
    reps = [r for r in (replay - 5, replay, replay + 5) if 0 <= r <= 100]
    assert names == [f"{fmt_lr(v)}|{r:.0f}%" for v in lrs for r in reps]


def test_a_frame_holds_the_curve_the_rerun_draws_for_that_setting():
    at = open_page("pages/explore.py")
    frames = {f["name"]: f for f in figure(at)["frames"]}
    i = [t.get("name") for t in figure(at)["data"]].index("predicted general loss")
    steps, _ = trace(figure(at), "predicted general loss")
    name = next(n for n in frames if n != _sent(at)["active"] and n.endswith("|5%"))
    lr = next(v for v in LRS if fmt_lr(v) == name.split("|")[0])
    frame = frames[name]
    framed = values(frame["data"][frame["traces"].index(i)]["y"])
    at.select_slider(key="cpt_lr").set_value(lr)
    at.slider(key="replay").set_value(5.0).run()
    no_exception(at)
    assert _sent(at)["active"] == name
    x, y = trace(figure(at), "predicted general loss")
    # the frame is that setting's curve at the first chart's steps (float32)
    assert np.allclose(framed, np.interp(steps, x, y), rtol=1e-5, equal_nan=True)


def test_the_settings_stop_at_the_ends_of_the_sliders():
    w = replace(WhatIf(), cpt_lr=LRS[0], replay=1.0)
    settings, names, controls = live_settings(w, replay_modelled=True)
    assert controls == ["cpt_lr", "replay"]
    assert [s.cpt_lr for s in settings[::2]] == LRS[:4]  # the lowest LR and three above
    assert {s.replay for s in settings} == {0.95, 1.0}
    assert names[:2] == [f"{fmt_lr(LRS[0])}|95%", f"{fmt_lr(LRS[0])}|100%"]
    assert replay_label(0.35) == "35%"


def test_without_a_replay_term_only_the_lr_slider_picks_frames():
    w = replace(WhatIf(), cpt_lr=LRS[10], replay=0.0)
    settings, names, controls = live_settings(w, replay_modelled=False)
    assert controls == ["cpt_lr"]
    assert names == [fmt_lr(v) for v in LRS[7:14]]
    assert all(s.replay == 0.0 for s in settings)
