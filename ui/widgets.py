"""Widgets shared by the pages: the scenario controls (their values live in the URL), charts, metrics,
and the guard that turns any failure into a one-line message instead of a traceback."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import fields, replace

import streamlit as st

from cptcore.errors import InputError
from cptcore.markup import escape_markdown
from cptcore.plots import ScenarioView
from cptcore.schedules import DECAY_SHAPES, KINDS
from cptcore.whatif import (
    CPT_KINDS,
    PT_KINDS,
    WARMUP_FROM,
    WhatIf,
    lr_options,
    nearest,
    step_options,
)

log = logging.getLogger("cpt-dashboard")

LRS = lr_options(1e-6, 1e-2)
STEPS = step_options(100, 1_000_000)
SHAPES = tuple(s for s in DECAY_SHAPES if s != "exponential")  # exponential needs a final LR > 0
PERCENT_FIELDS = ("pt_warmup", "pt_decay", "potential", "cpt_warmup", "cpt_decay", "replay")
# WhatIf field -> widget key; the key is also the URL query parameter (bind="query-params")
KEYS = {f.name: f.name for f in fields(WhatIf)}
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def md(text: object) -> str:
    """User-given text (a file or run name, a message quoting one) made literal for any element that
    renders Markdown (st.markdown, st.error, st.warning, st.caption, ...): a run named
    ``![x](https://...)`` shows those characters instead of loading an image."""
    return escape_markdown(text)


def fmt_lr(v: float) -> str:
    return f"{v:.0e}".replace("e-0", "e-") if v else "0"


def fmt_steps(v: int) -> str:
    return f"{v / 1e6:g}M" if v >= 1_000_000 else f"{v / 1e3:g}k" if v >= 1000 else str(v)


def state_of(w: WhatIf) -> dict:
    """Widget values (percentages, snapped options) for a ``WhatIf``."""
    d = w.as_dict()
    for k in PERCENT_FIELDS:
        d[k] = round(100 * d[k], 1)
    d["pt_lr"], d["cpt_lr"] = nearest(LRS, w.pt_lr), nearest(LRS, w.cpt_lr)
    d["pt_steps"], d["cpt_steps"] = nearest(STEPS, w.pt_steps), nearest(STEPS, w.cpt_steps)
    if d["cpt_shape"] not in SHAPES:
        d["cpt_shape"] = "linear"
    return d


def whatif_of(values: dict) -> WhatIf:
    d = dict(values)
    for k in PERCENT_FIELDS:
        d[k] = float(d[k]) / 100
    return WhatIf(**d)


def load_defaults(w: WhatIf, prefix: str = "") -> None:
    """Put a ``WhatIf``'s values into the widgets (an ``on_change`` callback or before first draw)."""
    for k, v in state_of(w).items():
        st.session_state[prefix + KEYS[k]] = v


def init_defaults(w: WhatIf, prefix: str = "") -> None:
    """Give widgets without a value (and no URL parameter) the values of ``w``."""
    for k, v in state_of(w).items():
        st.session_state.setdefault(prefix + KEYS[k], v)


def scenario_controls(
    replay_modelled: bool, cpt_box=None, pt_box=None, prefix: str = "", bind: bool = True
) -> WhatIf:
    """The CPT and PT schedule controls (drawn into ``cpt_box`` / ``pt_box``, e.g. two tabs);
    returns the ``WhatIf`` they describe."""
    b = "query-params" if bind else None
    k = {name: prefix + key for name, key in KEYS.items()}
    v = {}
    with cpt_box or st.container():
        _cpt_controls(v, k, b, replay_modelled)
    with pt_box or st.container():
        _pt_controls(v, k, b)
    w = whatif_of(v)
    return w if replay_modelled else replace(w, replay=0.0)


def _pt_controls(v: dict, k: dict, b) -> None:
    v["pt_steps"] = st.select_slider(
        "PT steps", STEPS, key=k["pt_steps"], bind=b, format_func=fmt_steps
    )
    v["pt_kind"] = st.selectbox(
        "PT schedule",
        PT_KINDS,
        key=k["pt_kind"],
        bind=b,
        format_func=lambda s: s.upper() if s == "wsd" else s,
        help="\n".join(f"- **{s}**: {KINDS[s]}" for s in PT_KINDS),
    )
    v["pt_lr"] = st.select_slider("PT peak LR", LRS, key=k["pt_lr"], bind=b, format_func=fmt_lr)
    v["pt_warmup"] = st.slider(
        "PT warm-up (% of PT steps)",
        0.0,
        20.0,
        step=0.5,
        format="%.1f%%",
        key=k["pt_warmup"],
        bind=b,
    )
    v["pt_decay"] = st.slider(
        "PT anneal (% of PT steps, WSD)",
        1.0,
        60.0,
        step=0.5,
        format="%.1f%%",
        key=k["pt_decay"],
        bind=b,
        disabled=v["pt_kind"] != "wsd",
    )
    v["potential"] = st.slider(
        "Loss potential (% of peak LR left at the end of PT)",
        0.0,
        100.0,
        step=5.0,
        format="%d%%",
        key=k["potential"],
        bind=b,
        disabled=v["pt_kind"] == "constant",
        help="Final PT LR / peak PT LR (paper §3.3). 0 % = annealed to zero (low potential), "
        "100 % = not annealed (high potential). A constant schedule always has 100 %.",
    )


def _cpt_controls(v: dict, k: dict, b, replay_modelled: bool) -> None:
    v["cpt_steps"] = st.select_slider(
        "CPT steps", STEPS, key=k["cpt_steps"], bind=b, format_func=fmt_steps
    )
    v["cpt_kind"] = st.selectbox(
        "CPT schedule",
        CPT_KINDS,
        key=k["cpt_kind"],
        bind=b,
        format_func=lambda s: s.upper() if s == "wsd" else s,
        help="\n".join(f"- **{s}**: {KINDS[s]}" for s in CPT_KINDS),
    )
    v["cpt_lr"] = st.select_slider("CPT peak LR", LRS, key=k["cpt_lr"], bind=b, format_func=fmt_lr)
    v["cpt_warmup"] = st.slider(
        "CPT warm-up (% of CPT steps)",
        0.0,
        20.0,
        step=0.5,
        format="%.1f%%",
        key=k["cpt_warmup"],
        bind=b,
    )
    v["warmup_from"] = st.radio(
        "CPT warm-up starts from",
        WARMUP_FROM,
        key=k["warmup_from"],
        bind=b,
        horizontal=True,
        format_func={"zero": "LR 0", "pt_final": "the PT final LR"}.get,
        help="Without a warm-up the CPT LR jumps straight to its peak.",
    )
    c1, c2 = st.columns(2)
    with c1:
        v["cpt_decay"] = st.slider(
            "CPT anneal (%, WSD)",
            1.0,
            60.0,
            step=0.5,
            format="%.1f%%",
            key=k["cpt_decay"],
            bind=b,
            disabled=v["cpt_kind"] != "wsd",
        )
    with c2:
        v["cpt_shape"] = st.selectbox(
            "Anneal shape",
            SHAPES,
            key=k["cpt_shape"],
            bind=b,
            disabled=v["cpt_kind"] != "wsd",
            help="\n".join(f"- **{s}**: {DECAY_SHAPES[s]}" for s in SHAPES),
        )
    v["replay"] = st.slider(
        "Replay (% of PT data in the CPT mix)",
        0.0,
        100.0,
        step=5.0,
        format="%d%%",
        key=k["replay"],
        bind=b,
        disabled=not replay_modelled,
        help="Share of pre-training data mixed into CPT (paper §3.4)."
        + (
            ""
            if replay_modelled
            else " This parameter set uses Eq. 4, which has no replay term: "
            "fit Eq. 8 on runs with several replay ratios to model it."
        ),
    )


def chart(fig, key: str, alt: str | None = None) -> None:
    """A plotly chart with our toolbar and colours; ``alt`` names it for screen readers."""
    st.plotly_chart(fig, key=key, config=CHART_CONFIG, theme=None, alt=alt)


def scenario_alt(view: ScenarioView) -> str:
    """A one-line description of a scenario chart for screen readers."""
    parts = [
        f"Predicted loss over {int(view.steps[-1]):,} steps, "
        f"CPT starting at step {view.transfer_step:,}"
    ]
    for t, name in (("pt", "general"), ("cpt", "domain")):
        if t in view.delta:
            parts.append(f"{name} loss {view.start[t]:.3f} to {view.start[t] + view.delta[t]:.3f}")
    return "; ".join(parts) + "; learning-rate schedule below."


def signed(x: float) -> str:
    return f"{x:+.3f}"


def scenario_metrics(view: ScenarioView) -> None:
    """Compact numbers row: general and domain loss change, turning length, loss potential."""
    cols = st.columns(4)
    if "pt" in view.delta:
        cols[0].metric(
            "General Δ loss",
            signed(view.delta["pt"]),
            help="Predicted D_pt loss at the end of CPT minus at the transfer point "
            f"({view.start['pt']:.3f}). Positive = forgetting.",
            border=True,
        )
    if "cpt" in view.delta:
        cols[1].metric(
            "Domain Δ loss",
            signed(view.delta["cpt"]),
            help="Predicted D_cpt loss at the end of CPT minus at the transfer point "
            f"({view.start['cpt']:.3f}). Negative = learning the domain.",
            border=True,
        )
    tl = view.turning_length
    if tl is not None:
        shown = f"{tl:,}"
    elif "pt" in view.pred and view.pred["pt"].max() <= view.start["pt"]:
        shown = "no rise"
    else:
        shown = f"> {fmt_steps(view.cpt_steps)}"
    cols[2].metric(
        "Turning length",
        shown,
        help="CPT steps until the general loss, after rising, is back at its transfer-point "
        "value (paper §4.3). '> N': not within the N CPT steps shown.",
        border=True,
    )
    cols[3].metric(
        "Loss potential",
        f"{100 * view.loss_potential:.0f} %",
        help="Final PT LR / peak PT LR (paper §3.3).",
        border=True,
    )


@contextmanager
def guard(what: str):
    """Show bad input as its one-line message and anything unexpected as a short error, never a
    traceback (the details go to the server log)."""
    try:
        yield
    except InputError as e:
        st.error(md(e), icon=":material/error:")
    except Exception:  # noqa: BLE001 - the last line of defence between a bug and the user
        log.exception("unexpected error while %s", what)
        st.error(
            f"Something went wrong while {what}. The details are in the server log; "
            "try other settings or reload the page.",
            icon=":material/error:",
        )
