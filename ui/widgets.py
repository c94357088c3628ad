"""Widgets shared by the pages: the scenario controls (their values live in the URL), charts, metrics,
and the guard that turns any failure into a one-line message instead of a traceback."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace

import streamlit as st

from cptcore.errors import InputError
from cptcore.markup import escape_markdown
from cptcore.plots import ScenarioView, for_page, framed_figure, scenario_figure
from cptcore.schedules import DECAY_SHAPES, KINDS, WARMUP_FROM, format_lr
from cptcore.whatif import (
    CPT_KINDS,
    PT_KINDS,
    WhatIf,
    lr_options,
    nearest,
    step_options,
)
from ui import livechart
from ui.data import PRESET_LABELS, YOURS, Preset
from ui.data import view as cached_view
from ui.state import (
    EXPLORE_LAST,
    EXPLORE_NOTE,
    LINK_NOTES,
    LINK_PENDING,
    LINK_SEEN,
    LIVE_LAST,
    NEW_FIT,
)

log = logging.getLogger("cpt-dashboard")

LRS = lr_options(1e-6, 1e-2)
STEPS = step_options(100, 1_000_000)
SHAPES = tuple(s for s in DECAY_SHAPES if s != "exponential")  # exponential needs a final LR > 0
PERCENT_FIELDS = ("pt_warmup", "pt_decay", "potential", "cpt_warmup", "cpt_decay", "replay")
# WhatIf field -> widget key; the key is also the URL query parameter (bind="query-params")
KEYS = {f.name: f.name for f in fields(WhatIf)}
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


fmt_lr = format_lr  # labels of the LR select sliders (unique across LRS: tests pin it)


def md(text: object) -> str:
    """User-given text (a file or run name, a message quoting one) made literal for any element that
    renders Markdown (st.markdown, st.error, st.warning, st.caption, ...): a run named
    ``![x](https://...)`` shows those characters instead of loading an image."""
    return escape_markdown(text)


def fmt_steps(v: int) -> str:
    return f"{v / 1e6:g}M" if v >= 1_000_000 else f"{v / 1e3:g}k" if v >= 1000 else str(v)


# the select sliders a hand-typed link may also give a plain number (cpt_steps=50000, cpt_lr=3e-4)
SELECT_SLIDERS = {
    "pt_steps": (STEPS, fmt_steps),
    "cpt_steps": (STEPS, fmt_steps),
    "pt_lr": (LRS, fmt_lr),
    "cpt_lr": (LRS, fmt_lr),
}


def option_of(text: str, options: list, fmt: Callable) -> tuple[object, bool] | None:
    """The option a link's text means: an option's label ('20k', '1.5e-4'), or a plain number
    ('20000', '0.00015') snapped to the nearest option on a log scale. Returns (option, whether it
    is exactly what the text says), or None when the text is neither."""
    labels = {fmt(o): o for o in options}
    if text in labels:
        return labels[text], True
    try:
        x = float(text.strip().replace("_", ""))
    except ValueError:
        return None
    if not (math.isfinite(x) and x > 0):
        return None
    option = nearest(options, x)
    return option, math.isclose(option, x, rel_tol=1e-9)


def read_link(preset_key: str, available: Mapping[str, Preset], fallback: Preset) -> None:
    """Take what a link asks for that the URL-bound widgets would silently drop, and say so. Call
    before the page draws any widget.

    - The preset widget ``preset_key`` (URL value: a preset's label or key): when the preset is
      not ``available`` (e.g. "Your fit" after a reload), a note says what is shown instead.
    - Plain numbers for the select sliders (``SELECT_SLIDERS``): the widgets accept only their own
      labels, so each number becomes the nearest option, with a note when it had to move or was
      not a number. Streamlit removes the number from the URL and does not write a value set
      before the widget's first draw back to it, so ``scenario_controls`` sets the options again
      on the next run (``LINK_PENDING``), which writes their labels to the URL.

    Notes go to ``st.session_state[LINK_NOTES]``; each URL value is read once per session.
    """
    seen = st.session_state.setdefault(LINK_SEEN, set())
    notes = st.session_state.setdefault(LINK_NOTES, [])

    def fresh(key: str) -> str | None:
        raw = st.query_params.get(key)
        if raw is None or (key, raw) in seen:
            return None
        seen.add((key, raw))
        return raw

    asked = fresh(preset_key)
    labels = {p.label for p in available.values()}
    if asked is not None and asked not in available and asked not in labels:
        has_schedule = any(k in st.query_params for k in KEYS.values())
        notes.append(_missing_preset(asked, fallback, has_schedule))
    taken = {}
    for field, (options, fmt) in SELECT_SLIDERS.items():
        key = KEYS[field]
        raw = fresh(key)
        if raw is None or raw in {fmt(o) for o in options}:
            continue  # an option's own label: the widget takes it
        got = option_of(raw, options, fmt)
        if got is None:
            notes.append(f"The link's {key}={raw} is not a number, so it was ignored.")
            continue
        option, exact = got
        st.session_state[key] = taken[key] = option
        if not exact:
            notes.append(
                f"The link's {key}={raw} is not one of the slider's values: using {fmt(option)}."
            )
    if taken:
        st.session_state[LINK_PENDING] = {"values": taken, "drawn": False}


def _write_link_options_to_url() -> None:
    """The run after ``read_link`` took numbers from a link: set those options again (unless the
    user has moved that slider since), for a value set by code once its widget exists goes to the
    URL, and a copied link keeps the scenario."""
    pending = st.session_state.get(LINK_PENDING)
    if not pending:
        return
    if not pending["drawn"]:  # the run that read the link: the widgets are drawn for the first time
        pending["drawn"] = True
        return
    for key, option in pending["values"].items():
        if st.session_state.get(key) == option:
            st.session_state[key] = option
    st.session_state[LINK_PENDING] = None


def _missing_preset(asked: str, fallback: Preset, has_schedule: bool) -> str:
    """The note for a link whose preset is not here; ``has_schedule``: whether the link sets any
    schedule control (a fit made active on the Fit page puts only its name in the URL until a
    control is moved, so F5 has no schedule to show)."""
    if asked in (YOURS, PRESET_LABELS[YOURS]):
        schedule = (
            "with the link's schedule settings (its own typical schedule for the others)"
            if has_schedule
            else "with its own typical schedule (the link holds no schedule settings)"
        )
        return (
            f"“{PRESET_LABELS[YOURS]}” is not in this browser session (a fit stays in the session "
            "that made it; a reload or a link opened elsewhere starts a new one), so this shows "
            f"“{fallback.label}” {schedule}. Fit again on the Fit page to see yours."
        )
    return (
        f"The link's parameters “{asked}” are not available here, so this shows “{fallback.label}”."
    )


def link_notes() -> list[str]:
    return list(st.session_state.get(LINK_NOTES, ()))


def clear_link_notes() -> None:
    """Forget the link's notes and what was kept for a new fit (a preset change, a reset)."""
    st.session_state[LINK_NOTES] = []
    st.session_state[EXPLORE_NOTE] = ""


@dataclass(frozen=True)
class ExploreScenario:
    """What Explore's controls last described (``EXPLORE_LAST``): kept across page switches."""

    w: WhatIf
    touched: bool  # the user set a control: the scenario differs from the preset's typical one


PT_FIELDS = ("pt_steps", "pt_kind", "pt_lr", "pt_warmup", "pt_decay", "potential", "warmup_from")


def remember_scenario(preset: Preset, w: WhatIf, base: str | None = None) -> None:
    """Keep the scenario the controls describe, and whether the user has set any control (it
    differs from ``preset``'s typical scenario; with an open ``base`` model the PT settings, which
    have no controls, do not count)."""
    mine, typical = state_of(w), state_of(preset.defaults)
    if base is not None:
        for k in PT_FIELDS:
            mine.pop(k), typical.pop(k)
    st.session_state[EXPLORE_LAST] = ExploreScenario(w, mine != typical)


def take_new_fit(preset: Preset) -> None:
    """Call before Explore draws its controls. After 'Use this fit' on the Fit page (``NEW_FIT``):
    a user who had set Explore's controls keeps that scenario (the replay ratio only where the
    new fit models replay), and a note says what was kept; a user who had not gets the new fit's
    typical scenario."""
    if not st.session_state.pop(NEW_FIT, False) or preset.key != YOURS:
        return
    last = st.session_state.get(EXPLORE_LAST)
    st.session_state[EXPLORE_NOTE] = ""
    if not isinstance(last, ExploreScenario) or not last.touched:
        load_defaults(preset.defaults)
        return
    w, dropped = last.w, ""
    if w.replay > 0 and not preset.ps.models_replay:
        w, dropped = replace(w, replay=0.0), f" (replay {100 * last.w.replay:.0f} % set to 0: "
        dropped += "this fit does not model replay)"
    load_defaults(w)
    st.session_state[EXPLORE_NOTE] = (
        f"Kept your scenario for your fit: CPT {kind_label(w.cpt_kind)} at peak LR {fmt_lr(w.cpt_lr)} for "
        f"{fmt_steps(w.cpt_steps)} steps, replay {100 * w.replay:.0f} %{dropped}. "
        "'Reset the schedule' loads this fit's typical one."
    )


def kind_label(kind: str) -> str:
    """A schedule kind as the controls write it ('WSD', 'cosine', ...)."""
    return kind.upper() if kind == "wsd" else kind


def explore_note() -> str:
    return st.session_state.get(EXPLORE_NOTE) or ""


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
    replay_modelled: bool,
    cpt_box=None,
    pt_box=None,
    prefix: str = "",
    bind: bool = True,
    pt: bool = True,
) -> WhatIf:
    """The CPT and PT schedule controls (drawn into ``cpt_box`` / ``pt_box``, e.g. two tabs);
    returns the ``WhatIf`` they describe. ``pt=False`` (an open base model, paper §6): no PT
    controls; the PT fields keep their session values (unused by a scenario on a base)."""
    # the widgets keep their values for the whole session, also while another page is shown
    # (Streamlit drops a value set by code or by the user once its widget is not drawn in a run;
    # Plan's then fell to each slider's first option); with ``bind`` the URL holds them too
    b = {"persist_state": "session", **({"bind": "query-params"} if bind else {})}
    if bind:
        _write_link_options_to_url()
    k = {name: prefix + key for name, key in KEYS.items()}
    v = {}
    with cpt_box or st.container():
        _cpt_controls(v, k, b, replay_modelled, pt)
    if pt:
        with pt_box or st.container():
            _pt_controls(v, k, b)
    else:
        for f in ("pt_steps", "pt_kind", "pt_lr", "pt_warmup", "pt_decay", "potential"):
            v[f] = st.session_state.get(k[f], state_of(WhatIf())[f])
    w = whatif_of(v)
    return w if replay_modelled else replace(w, replay=0.0)


def _phase_controls(v: dict, k: dict, b, phase: str, kinds) -> None:
    """A phase's steps, schedule kind, peak LR and warm-up (``phase`` "pt" or "cpt")."""
    P = phase.upper()
    v[f"{phase}_steps"] = st.select_slider(
        f"{P} steps", STEPS, key=k[f"{phase}_steps"], **b, format_func=fmt_steps
    )
    v[f"{phase}_kind"] = st.selectbox(
        f"{P} schedule",
        kinds,
        key=k[f"{phase}_kind"],
        **b,
        format_func=kind_label,
        help="\n".join(f"- **{s}**: {KINDS[s]}" for s in kinds),
    )
    v[f"{phase}_lr"] = st.select_slider(
        f"{P} peak LR", LRS, key=k[f"{phase}_lr"], **b, format_func=fmt_lr
    )
    v[f"{phase}_warmup"] = _percent(
        f"{P} warm-up (% of {P} steps)", 0.0, 20.0, 0.5, k[f"{phase}_warmup"], b
    )


def _percent(label: str, lo: float, hi: float, step: float, key: str, b, **kw) -> float:
    """A slider over a percentage, with one decimal when its step is a fraction of a percent."""
    fmt = "%.1f%%" if step < 1 else "%d%%"
    return st.slider(label, lo, hi, step=step, format=fmt, key=key, **b, **kw)


def _pt_controls(v: dict, k: dict, b) -> None:
    _phase_controls(v, k, b, "pt", PT_KINDS)
    v["pt_decay"] = _percent(
        "PT anneal (% of PT steps, WSD)",
        1.0,
        60.0,
        0.5,
        k["pt_decay"],
        b,
        disabled=v["pt_kind"] != "wsd",
    )
    v["potential"] = _percent(
        "Loss potential (% of peak LR left at the end of PT)",
        0.0,
        100.0,
        5.0,
        k["potential"],
        b,
        disabled=v["pt_kind"] == "constant",
        help="Final PT LR / peak PT LR (paper §3.3). 0 % = annealed to zero (low potential), "
        "100 % = not annealed (high potential). A constant schedule always has 100 %.",
    )


def _cpt_controls(v: dict, k: dict, b, replay_modelled: bool, pt: bool = True) -> None:
    """The CPT controls; without ``pt`` (an open base model, assumed annealed to LR 0, paper §6)
    there is no choice of where the warm-up starts: the PT final LR is 0."""
    _phase_controls(v, k, b, "cpt", CPT_KINDS)
    if not pt:
        v["warmup_from"] = st.session_state.get(k["warmup_from"], state_of(WhatIf())["warmup_from"])
    else:
        v["warmup_from"] = _warmup_from(k, b)
    _cpt_rest(v, k, b, replay_modelled)


def _warmup_from(k: dict, b):
    return st.radio(
        "CPT warm-up starts from",
        WARMUP_FROM,
        key=k["warmup_from"],
        **b,
        horizontal=True,
        format_func={"zero": "LR 0", "pt_final": "the PT final LR"}.get,
        help="Without a warm-up the CPT LR jumps straight to its peak.",
    )


def _cpt_rest(v: dict, k: dict, b, replay_modelled: bool) -> None:
    # one below the other: side by side, a narrow controls column cut the shape box to nothing
    v["cpt_decay"] = _percent(
        "CPT anneal (%, WSD)", 1.0, 60.0, 0.5, k["cpt_decay"], b, disabled=v["cpt_kind"] != "wsd"
    )
    v["cpt_shape"] = st.selectbox(
        "Anneal shape",
        SHAPES,
        key=k["cpt_shape"],
        **b,
        disabled=v["cpt_kind"] != "wsd",
        help="\n".join(f"- **{s}**: {DECAY_SHAPES[s]}" for s in SHAPES),
    )
    v["replay"] = _percent(
        "Replay (% of PT data in the CPT mix)",
        0.0,
        100.0,
        5.0,
        k["replay"],
        b,
        disabled=not replay_modelled,
        help="Share of pre-training data mixed into CPT (paper §3.4)."
        + (
            ""
            if replay_modelled
            else " This parameter set uses Eq. 4, which has no replay term: "
            "fit Eq. 8 on runs with several replay ratios to model it."
        ),
    )


def columns_stacking_below(key: str, spec: list[float], width: int = 640, **kw) -> list:
    """``st.columns(spec)`` in a container ``key`` whose columns stack, full width, while the
    container is narrower than ``width`` px (a CSS container query). Streamlit stacks columns only
    on phone-sized windows: at 800 px with the sidebar open, a controls column got ~110 px."""
    k = f".st-key-{key}"
    row = f'{k} > div > [data-testid="stHorizontalBlock"]'
    st.html(
        f"<style>{k} {{container-type: inline-size}}"
        f" @container (max-width: {width - 1}px) {{ {row} {{flex-direction: column}}"
        f' {row} > [data-testid="stColumn"] {{width: 100% !important; flex: 1 1 auto !important}}'
        " }</style>"
    )
    return st.container(key=key).columns(spec, **kw)


def chart(fig, key: str, alt: str | None = None) -> None:
    """A plotly chart with our toolbar and colours, dark when the viewer chose the dark theme
    (settings menu); ``alt`` names it for screen readers."""
    # Streamlit's plotly theme follows a switch in the settings menu at once (background, fonts);
    # our inks read on both themes, and plotly's dark template follows from the next rerun on,
    # when st.context.theme knows the new theme (Streamlit #11920)
    fig = for_page(fig, dark=st.context.theme.type == "dark")
    st.plotly_chart(fig, key=key, config=CHART_CONFIG, theme="streamlit", alt=alt)


def live_chart(fig, key: str, controls: list[str], active: str, alt: str | None = None) -> None:
    """``chart`` for a ``live_figure``: it switches to the frame of the ``controls``' shown values
    in the browser as soon as one moves (``ui.livechart``)."""
    fig = for_page(fig, dark=st.context.theme.type == "dark")
    livechart.live_chart(fig, key, controls, active, CHART_CONFIG, alt=alt or "")


# the live chart (ui.livechart): neighbouring values of the page's own controls, each side of the
# chosen one, whose curves the browser holds as plotly frames (LR options; replay steps of 5 %)
LIVE_SPAN = {"cpt_lr": 3, "replay": 1}
REPLAY_STEP = 5.0  # % (the replay slider's step)
LRS_SHOWN = 2 * LIVE_SPAN["cpt_lr"] + 1  # LRs in a live chart (fewer at the ends of the slider)
LIVE_BUDGET = 2_000_000  # steps a fragment rerun simulates for new neighbours (else fill_live)
FILL_SLICE = 0.4  # s of new neighbours per rerun of fill_live
_LIVE: set = set()  # (preset token, base, WhatIf) whose cached view a live chart has asked for
_FIGURES: dict = {}  # the figures of those views (``_figure``), oldest first
_FIGURES_LOCK = threading.Lock()


def replay_label(replay: float) -> str:
    """The replay slider's shown value (its format "%d%%") for a replay ratio."""
    return f"{round(100 * replay):d}%"


def live_settings(w: WhatIf, replay_modelled: bool) -> tuple[list[WhatIf], list[str], list[str]]:
    """(settings, their frame names, the controls those names read): ``w`` and its neighbours on
    the CPT peak LR (``LIVE_SPAN``) times, when the law models replay, the replay ratio."""
    i = LRS.index(nearest(LRS, w.cpt_lr))
    k = LIVE_SPAN["cpt_lr"]
    lrs = LRS[max(0, i - k) : i + k + 1]
    if not replay_modelled:
        return [replace(w, cpt_lr=v) for v in lrs], [fmt_lr(v) for v in lrs], ["cpt_lr"]
    pct = round(100 * w.replay / REPLAY_STEP) * REPLAY_STEP
    k = LIVE_SPAN["replay"]
    reps = [pct + j * REPLAY_STEP for j in range(-k, k + 1) if 0 <= pct + j * REPLAY_STEP <= 100]
    reps = [r / 100 for r in reps]
    if not any(math.isclose(r, w.replay, abs_tol=1e-9) for r in reps):  # off the slider's steps
        reps = [w.replay]
    settings = [replace(w, cpt_lr=v, replay=r) for v in lrs for r in reps]
    names = [livechart.frame_name([fmt_lr(v), replay_label(r)]) for v in lrs for r in reps]
    return settings, names, ["cpt_lr", "replay"]


def _figure(preset: Preset, x: WhatIf, base: str | None, opts: dict):
    """``scenario_figure(view, **opts)`` of the setting ``x`` (cached: a live chart draws each
    setting for up to 21 reruns, ~5 ms each time)."""
    key = (preset.token, base, x, *((k, _key(v)) for k, v in sorted(opts.items())))
    fig = _FIGURES.get(key)
    if fig is None:
        fig = scenario_figure(cached_view(preset, x, base=base), **opts)
        with _FIGURES_LOCK:  # sessions run in threads
            while len(_FIGURES) >= 256:
                _FIGURES.pop(next(iter(_FIGURES)))
            _FIGURES[key] = fig
    return fig


def _key(v):
    """A hashable stand-in for a figure option (pins: their labels, which number them)."""
    return tuple(p.label for p in v) if isinstance(v, list) else v


def live_figure(
    preset: Preset,
    w: WhatIf,
    opts: dict,
    replay_modelled: bool,
    wait: bool,
    base: str | None = None,
) -> tuple[object, str, list[str], bool]:
    """(figure, active frame name, controls, complete): ``w``'s ``scenario_figure`` (``opts``) with a
    plotly frame per neighbouring setting (``live_settings``) that is computed already, for
    ``ui.livechart.live_chart``. Each neighbour is one cached view (``ui.data.view``).

    A fragment rerun computes the new neighbours when they are one LR column or replay row (after
    a move of those sliders) of at most ``LIVE_BUDGET`` steps in all (a replay row up to 100k
    CPT steps after as many PT steps), else
    draws those it has and leaves those one slider move away to ``fill_live`` (``complete``
    False; the rest come with the rerun of a move): at 1M steps a
    new scenario takes ~0.1-0.2 s, and after another control moved all are new. With
    ``wait`` (a full run of the page, whose own rerun would cost more, and whose link handling
    counts on the run after the first being the user's) every neighbour is computed first.
    ``base``: CPT from that fitted open base model (paper §6), as the page's own chart."""
    settings, names, controls = live_settings(w, replay_modelled)
    if w not in settings:  # a value off the sliders' options (never from the page's own widgets)
        settings, names = [w], [""]
    last = st.session_state.get(LIVE_LAST)
    st.session_state[LIVE_LAST] = (preset.token, base, w)
    moved = last is not None and last[:2] == (preset.token, base)
    moved = moved and replace(last[2], cpt_lr=w.cpt_lr, replay=w.replay) == w
    new = [x for x in settings if x != w and (preset.token, base, x) not in _LIVE]
    cross = [x for x in new if _on_cross(x, w)]
    # after a move of those two sliders: the new frames one move away now, if affordable, and the
    # others too if all are; after another control (all new): the chart first, fill_live next
    now = wait or (moved and _cost(cross) <= LIVE_BUDGET)
    if now and not wait and _cost(new) > LIVE_BUDGET:
        new = [x for x in new if x not in cross]  # left out: those two moves away
    else:
        new = [] if now else new
    shown = [(x, n) for x, n in zip(settings, names, strict=True) if x not in new]
    figs = [_figure(preset, x, base, opts) for x, _ in shown]
    _LIVE.update((preset.token, base, x) for x, _ in shown)
    active = [x for x, _ in shown].index(w)
    fig = framed_figure(figs, [n for _, n in shown], active)
    return fig, shown[active][1], controls, now or not cross


def _cost(settings: list[WhatIf]) -> int:
    """Steps to simulate for ``settings`` (a new view is O(steps))."""
    return sum(x.pt_steps + x.cpt_steps for x in settings)


def _on_cross(x: WhatIf, w: WhatIf) -> bool:
    """Whether ``x`` is one move of one slider away from ``w`` (the frames ``fill_live`` makes;
    the others come with the rerun of a move, when it can afford them)."""
    return x.cpt_lr == w.cpt_lr or x.replay == w.replay


def fill_live(preset: Preset, w: WhatIf, replay_modelled: bool, base: str | None = None) -> None:
    """Compute (and cache) the neighbours one slider move away that ``live_figure`` left out,
    nearest first, for at most ``FILL_SLICE`` seconds, then rerun the fragment (which draws them
    and calls this again while some are missing). Streamlit runs a move the user makes meanwhile
    only after this run: 20 new neighbours at 1M steps take ~4 s, too long to hold up the next
    move; the 12 a move of both sliders away come with the rerun of a move when it can afford
    them."""
    if len(_LIVE) > 100_000:  # a long-lived server: forget (the cache has evicted most)
        _LIVE.clear()
    settings = [x for x in live_settings(w, replay_modelled)[0] if _on_cross(x, w)]
    i, r = LRS.index(nearest(LRS, w.cpt_lr)), w.replay
    order = sorted(settings, key=lambda x: (LRS.index(x.cpt_lr) - i) ** 2 + (x.replay != r))
    start = time.perf_counter()
    for x in order:
        if (preset.token, base, x) not in _LIVE:
            cached_view(preset, x, base=base)
            _LIVE.add((preset.token, base, x))
            if time.perf_counter() - start > FILL_SLICE:
                break
    st.rerun(scope="fragment")


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


WIDE_CARD = 230  # px for a card with a delta line: '+0.0092' over '-0.9749 vs current'
PAIR_WIDTH = 300  # px for two cards: '+0.0092' and 'Turning length (?)' fit, not cut


def metric_pairs(n: int) -> list:
    """Slots for ``n`` ``st.metric`` cards, in pairs that wrap: one row where there is room, two
    by two (never three and one) in a narrow column, so labels and values are not cut."""
    row = st.container(horizontal=True, gap="small")
    pairs = [
        row.container(horizontal=True, gap="small", wrap=False, width=PAIR_WIDTH)
        for _ in range((n + 1) // 2)
    ]
    return [pairs[i // 2] for i in range(n)]


def _card(slot, label: str, value: str, help: str) -> None:
    slot.metric(label, value, help=help, border=True, width="stretch")


def scenario_metrics(view: ScenarioView, base: str | None = None) -> None:
    """Compact numbers row: general and domain loss change, turning length, loss potential (for
    an open ``base`` model: assumed annealed, paper §6)."""
    slots = iter(metric_pairs(("pt" in view.delta) + ("cpt" in view.delta) + 2))
    if "pt" in view.delta:
        _card(
            next(slots),
            "General Δ",
            signed(view.delta["pt"]),
            "Change of the general (D_pt) loss: predicted at the end of CPT minus at the "
            f"transfer point ({view.start['pt']:.3f}). Positive = forgetting.",
        )
    if "cpt" in view.delta:
        _card(
            next(slots),
            "Domain Δ",
            signed(view.delta["cpt"]),
            "Change of the domain (D_cpt) loss: predicted at the end of CPT minus at the "
            f"transfer point ({view.start['cpt']:.3f}). Negative = learning the domain.",
        )
    tl = view.turning_length
    if tl == 0:
        shown = "no rise"
    elif tl is not None:
        shown = f"{tl:,}"
    else:
        shown = f"> {fmt_steps(view.cpt_steps)}"
    _card(
        next(slots),
        "Turning length",
        shown,
        "CPT steps until the general loss, after rising, is back at its transfer-point "
        "value (paper §4.3). '> N': not within the N CPT steps shown.",
    )
    _card(
        next(slots),
        "Loss potential",
        f"{100 * view.loss_potential:.0f} %",
        "Final PT LR / peak PT LR (paper §3.3)."
        + (f" The open base model '{base}' is assumed annealed to LR 0 (paper §6)." if base else ""),
    )


def in_page_words(e: InputError, controls: Mapping[str, str] | None) -> InputError:
    """``e`` naming the page's control instead of the option in ``e.column`` (``controls``: option
    -> control label, e.g. 'domain-target' -> 'Domain loss to reach (nats)')."""
    if not controls or e.column not in controls:
        return e
    where = f"'{controls[e.column]}'"
    return InputError(
        e.problem,
        source=f"{e.source}: {where}" if e.source else where,
        row=e.row,
        received=e.received,
        fix=e.fix,
    )


@contextmanager
def guard(what: str, controls: Mapping[str, str] | None = None):
    """Show bad input as its one-line message and anything unexpected as a short error, never a
    traceback (the details go to the server log). ``controls``: see ``in_page_words``."""
    try:
        yield
    except InputError as e:
        st.error(md(str(in_page_words(e, controls))), icon=":material/error:")
    except Exception:  # noqa: BLE001 - the last line of defence between a bug and the user
        log.exception("unexpected error while %s", what)
        st.error(
            f"Something went wrong while {what}. The details are in the server log; "
            "try other settings or reload the page.",
            icon=":material/error:",
        )
