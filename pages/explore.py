"""Explore: what the CPT law predicts for a PT + CPT schedule you set up (every input is in the URL)."""

import streamlit as st

from cptcore.envelope import outside_warnings
from cptcore.plots import critical_note, scenario_figure, turning_note
from cptcore.scenario import has_band
from ui import data, run_through_app
from ui.openmodel import open_base
from ui.state import EXPLORE_PRESET, MAX_PINS, PINS
from ui.widgets import (
    chart,
    clear_link_notes,
    columns_stacking_below,
    explore_note,
    fill_live,
    fmt_lr,
    fmt_steps,
    guard,
    init_defaults,
    link_notes,
    live_chart,
    live_figure,
    load_defaults,
    md,
    read_link,
    remember_scenario,
    scenario_alt,
    scenario_controls,
    scenario_metrics,
    take_new_fit,
)

run_through_app()
st.title("Explore a CPT schedule")
st.caption(
    "Set the pre-training and continual-pre-training schedules; the chart shows the loss the law "
    "predicts on the general set (D_pt) and the domain set (D_cpt). Copy the page URL to share "
    "the scenario."
)

available = data.presets()
fallback = available[data.default_preset_key(available)]


read_link(EXPLORE_PRESET, available, fallback)
st.session_state.setdefault(EXPLORE_PRESET, fallback.key)
if st.session_state[EXPLORE_PRESET] not in available:
    st.session_state[EXPLORE_PRESET] = fallback.key


def _preset_changed() -> None:
    clear_link_notes()
    chosen = data.presets().get(st.session_state[EXPLORE_PRESET])
    if chosen is not None:
        load_defaults(chosen.defaults)


top = columns_stacking_below("explore_top", [2, 1, 1], 560, vertical_alignment="bottom")
key = top[0].selectbox(
    "Parameters",
    list(available),
    key=EXPLORE_PRESET,
    bind="query-params",
    format_func=lambda k: available[k].label,
    on_change=_preset_changed,
    help="Whose fitted law to predict with. Changing it loads that fit's typical schedule.",
)
preset = available[key]
take_new_fit(preset)  # after 'Use this fit': the user's scenario, or the fit's typical one
init_defaults(preset.defaults)


def _reset(w) -> None:
    clear_link_notes()
    load_defaults(w)


top[1].button(
    "Reset the schedule",
    key="reset_schedule",
    on_click=_reset,
    args=(preset.defaults,),
    width="stretch",
    help="Back to the schedule this parameter set is best shown with.",
)
for note in link_notes():
    st.info(note, icon=":material/link:")
if explore_note():
    st.info(explore_note(), icon=":material/tune:")
problem = data.sample_fit_problem()
missing = f" {problem}, so the paper's parameters are the default." if problem else ""
st.caption(
    f"{md(preset.note)} Law: {preset.ps.law}, S2 form: {preset.ps.s2_form}, "
    f"λ = {preset.ps.lam:g}.{missing}"
)
base = open_base(preset.ps, key="base")  # a CPT-only fit: CPT from its base model (paper §6)


def display_options() -> tuple:
    """The Display tab: (hidden curves, term decomposition, zoom, scrub slider, band)."""
    hidden = st.toggle("Hidden curves (dashed)", value=True, key="show_hidden", bind="query-params")
    terms_of = st.selectbox(
        "Term decomposition",
        ["none", "pt", "cpt"],
        key="terms",
        bind="query-params",
        format_func={
            "none": "off",
            "pt": "of the general loss",
            "cpt": "of the domain loss",
        }.get,
    )
    zoom = st.toggle(
        "Zoom to the CPT phase",
        value=True,
        key="zoom_cpt",
        bind="query-params",
        help="Off: show the whole pre-training phase too.",
    )
    scrub = st.toggle(
        "Live chart",
        value=True,
        key="scrub",
        bind="query-params",
        help="The chart follows the CPT peak LR and replay sliders in the browser, while you "
        "move them (three LRs and one replay step each side are sent with it); the numbers "
        "follow a moment later. Off: the chart is redrawn by each rerun, as the numbers.",
    )
    has_cov = any(has_band(f) for f in preset.ps.fits.values())
    calibrated = all(f.calibration is not None for f in preset.ps.fits.values())
    bands = st.toggle(
        "Uncertainty band (~95 %)",
        value=has_cov,
        key="show_band",
        bind="query-params",
        disabled=not has_cov,
        help=(
            "Calibrated: the 95 % quantile of the errors the fit made on held-out runs "
            "(grouped cross-validation), widened when a control leaves the fitted range."
            if calibrated
            else "From the fit's parameter covariance only (no calibration in this "
            "parameter set): it does not include model error."
        )
        if has_cov
        else "This parameter set carries no band.",
    )
    return hidden, terms_of, zoom, scrub, bands


def pin_buttons(view, w, pins: list) -> None:
    """Pin the scenario as a thin line (up to ``MAX_PINS``), clear the pins, and list them."""
    b1 = b2 = st.container(horizontal=True)  # buttons at their own width: never cut
    label = (
        f"{preset.key}: CPT {w.cpt_kind} {fmt_lr(w.cpt_lr)}, "
        f"{fmt_steps(w.cpt_steps)} steps, replay {100 * w.replay:.0f} %"
    )
    b1.button(
        "Pin scenario",
        key="pin",
        icon=":material/push_pin:",
        disabled=len(pins) >= MAX_PINS,
        help=f"Keep this scenario as a thin line (up to {MAX_PINS}).",
        on_click=pins.append,
        args=(view.with_label(f"pin {len(pins) + 1} · {label}"),),
    )
    b2.button(
        "Clear pins",
        key="clear_pins",
        disabled=not pins,
        on_click=pins.clear,
    )
    for p in pins:
        st.caption(p.label)


FULL_RUN = "explore_full_run"  # set by the page's own run, absent in a rerun of the fragment alone


@st.fragment
def live() -> None:
    """The controls and the chart: a slider change reruns only this fragment."""
    full_run = st.session_state.pop(FULL_RUN, False)
    left, right = columns_stacking_below("explore_live", [1, 2.6], gap="medium")
    with left:
        tabs = st.tabs(["CPT", "Display"] if base else ["CPT", "Pre-training", "Display"])
        cpt_tab, pt_tab, show_tab = tabs[0], tabs[1] if not base else None, tabs[-1]
        w = scenario_controls(preset.ps.models_replay, cpt_tab, pt_tab, pt=base is None)
        remember_scenario(preset, w, base)
    with left, show_tab:
        hidden, terms_of, zoom, scrub, bands = display_options()
    fill = False  # the live chart lacks some neighbours: compute them next, then rerun
    with right:
        with guard("predicting this scenario"):
            view = data.view(preset, w, base=base)
            widen = view.widen if bands else None  # cptcore says when a band says nothing
            for text in outside_warnings(
                view.outside, "the prediction extrapolates", widen, view.band_useful
            ):
                st.warning(text, icon=":material/warning:")
            for odd in view.implausible:  # instead of its numbers: they are not losses
                st.error(odd.sentence, icon=":material/block:")
            if not view.implausible:
                scenario_metrics(view, base)
            pins = st.session_state.setdefault(PINS, [])
            opts = dict(
                hidden=hidden,
                terms_of=None if terms_of == "none" else terms_of,
                bands=bands,
                window="cpt" if zoom else "all",
                pins=pins,
            )
            if scrub:
                fig, active, controls, complete = live_figure(
                    preset, w, opts, preset.ps.models_replay, wait=full_run, base=base
                )
                live_chart(fig, "explore_chart", controls, active, alt=scenario_alt(view))
                fill = not complete
            else:
                chart(scenario_figure(view, **opts), key="explore_chart", alt=scenario_alt(view))
            st.caption(f"{turning_note(view)} {critical_note(view)}")
            pin_buttons(view, w, pins)
    if fill:
        with guard("preparing the live chart"):
            fill_live(preset, w, preset.ps.models_replay, base)


st.session_state[FULL_RUN] = True
live()
