"""Plan: choose CPT peak LR, schedule, steps and replay for a stated goal, and take the decision away
as a report (widgets -> cptcore.plan -> cptcore.plots_plan figures, cptcore.report files)."""

import json
from dataclasses import replace
from functools import partial

import streamlit as st

from cptcore import plots_plan, report
from cptcore.errors import InputError
from cptcore.params_io import loads
from cptcore.plan import (
    FAMILIES,
    MODES,
    OOD_EXAMPLES,
    Goal,
    Planner,
    SearchSpace,
    default_domain_target,
    edge_notes,
    study,
    within_envelope,
)
from cptcore.whatif import WhatIf, nearest
from ui import data, run_through_app
from ui.openmodel import open_base
from ui.widgets import (
    KEYS,
    LRS,
    SELECT_SLIDERS,
    STEPS,
    WIDE_CARD,
    chart,
    columns_stacking_below,
    fmt_lr,
    fmt_steps,
    guard,
    load_defaults,
    md,
    metric_pairs,
    option_of,
    scenario_controls,
    state_of,
    whatif_of,
)

run_through_app()

UPLOAD = "upload"
P = "plan_"  # prefix of this page's scenario widgets (Explore's keys are unprefixed)
# the goal and search-space controls, by the name cptcore.plan's messages give them
CONTROLS = {
    "lambda1": "λ1: weight of the general loss",
    "max-general-rise": "Allowed rise of the general loss (nats)",
    "domain-target": "Domain loss to reach (nats)",
    "lr-min/lr-max": "CPT peak LR",
    "replay-min/replay-max": "Replay ratio (%)",
    "steps-min/steps-max": "CPT steps",
    "schedules": "Schedule families",
    "decay": "WSD decay fraction (%)",
    "pt-steps/pt-peak-lr": "Your current scenario: PT steps and PT peak LR",
}
MODE_LABEL = {
    "balance": "Balance general and domain loss (paper Eq. 5)",
    "max_general_rise": "Lowest domain loss, general loss may rise by at most x",
    "domain_target": "Reach a domain loss in the fewest steps",
}

st.title("Plan a continual pre-training run")
st.caption(
    "State what matters - the general loss (D_pt), the domain loss (D_cpt), or a budget on either - "
    "and the law picks the CPT schedule, peak LR, steps and replay ratio. The pre-training is held "
    "fixed: your current scenario's, or an open base model's. Download the decision as a "
    "self-contained HTML report."
)

# ------------------------------------------------------------------------------- parameters
available = data.presets()
options = [*available, UPLOAD]
st.session_state.setdefault(P + "preset", data.default_preset_key(available))
if st.session_state[P + "preset"] not in options:
    st.session_state[P + "preset"] = data.default_preset_key(available)
top = st.columns([2, 2], vertical_alignment="bottom")
key = top[0].selectbox(
    "Parameters",
    options,
    key=P + "preset",
    persist_state="session",
    format_func=lambda k: "Upload a params.json" if k == UPLOAD else available[k].label,
    help="Whose fitted law to plan with: the sample fit, your fit from the Fit page, the paper's "
    "Fig. 3 numbers, or a params.json written by 'python -m cptcore fit'.",
)
if key == UPLOAD:
    up = top[1].file_uploader("params.json", type=["json"], key=P + "upload", max_upload_size=5)
    if up is None:
        st.info(
            "Upload a params.json (from the Fit page or 'python -m cptcore fit') to plan with it."
        )
        st.stop()
    try:
        ps = loads(up.getvalue(), up.name)
    except InputError as e:
        st.error(md(e), icon=":material/error:")
        st.stop()
    token, label, defaults, note = "upload:" + data.token_of(ps), f"uploaded {up.name}", None, ""
else:
    preset = available[key]
    ps, token, label, defaults, note = (
        preset.ps,
        preset.token,
        preset.label,
        preset.defaults,
        preset.note,
    )
if "pt" not in ps.fits or "cpt" not in ps.fits:
    st.error(
        "These parameters cover only one validation set; planning needs both the general ('pt') "
        "and the domain ('cpt') set.",
        icon=":material/error:",
    )
    st.stop()
replay_modelled = ps.models_replay
st.caption(f"{md(note)} Law: {ps.law}, S2 form: {ps.s2_form}.")  # 'Your fit' names runs
base = open_base(ps, key=P + "base")  # a CPT-only fit: plan CPT from its base model (paper §6)


# ---------------------------------------------------------------------- the current scenario
def _explore_scenario(fallback: WhatIf) -> WhatIf:
    """The Explore page's scenario when its settings are in the session or the URL, else ``fallback``."""
    ref = state_of(fallback)
    vals = {}
    for field, k in KEYS.items():
        if k in st.session_state:
            vals[field] = st.session_state[k]
        elif k in st.query_params and field in SELECT_SLIDERS:
            got = option_of(st.query_params[k], *SELECT_SLIDERS[field])  # '20k' or 20000
            if got is None:
                return fallback
            vals[field] = got[0]
        elif k in st.query_params:
            try:
                vals[field] = type(ref[field])(st.query_params[k])
            except (TypeError, ValueError):
                return fallback
        else:
            return fallback
    try:
        return whatif_of(vals)
    except (TypeError, ValueError):
        return fallback


source = _explore_scenario(defaults or WhatIf())
if st.session_state.get(P + "source") != source:  # new scenario on Explore (or new preset): take it
    st.session_state[P + "source"] = source
    load_defaults(source, prefix=P)
scenario_title = (
    "Your current scenario (the plan keeps its pre-training)"
    if base is None
    else f"Your current scenario (CPT from the open base model “{base}”)"
)
with st.expander(scenario_title, expanded=False):
    st.caption(
        "Taken from the Explore page when you came from there, else this fit's typical schedule. "
        "The recommendation is compared with it."
    )
    current = None
    with guard("reading the scenario"):
        current_w = scenario_controls(replay_modelled, prefix=P, bind=False, pt=base is None)
        sc = replace(current_w.scenario(), base=base)
        sc.pt.validated()
        sc.cpt.validated()
        current = sc  # only a valid scenario is planned against
if current is None:
    st.stop()

# -------------------------------------------------------------------------------- goal + bounds
left, right = columns_stacking_below("plan_main", [1, 2.6], gap="medium")
with left:
    st.markdown("**Goal**")
    lambda1 = st.slider(
        CONTROLS["lambda1"],
        0.0,
        1.0,
        0.5,
        0.05,
        key=P + "lambda1",
        persist_state="session",
        help="λ1 weights the change of the general loss, λ2 = 1 - λ1 the change of the domain "
        "loss (paper Eq. 5). 1 = keep general ability at any cost, 0 = only the domain matters.",
    )
    mode = st.radio(
        "What to optimise", list(MODES), key=P + "mode", format_func=MODE_LABEL.get,
        persist_state="session",
    )  # fmt: skip
    rise = target = None
    if mode == "max_general_rise":
        rise = st.number_input(
            CONTROLS["max-general-rise"], value=0.02, step=0.005, format="%.3f",
            key=P + "rise", persist_state="session",  # kept while another goal or page is shown
        )  # fmt: skip
    target_box = st.container()  # filled below, once the search space is known
    ood_name = st.selectbox(
        "Judge by an out-of-domain set instead (Eq. 6)",
        ["none", *OOD_EXAMPLES, "custom"],
        key=P + "ood",
        persist_state="session",
        help="An OOD loss is a fixed mix λ1'·L_pt + λ2'·L_cpt (paper Eq. 6). The named sets use "
        "the paper's Fig. 21 weights (FineWeb → Knowledge-Pile); they only fit that pair.",
    )
    ood = None
    if ood_name == "custom":
        c1, c2 = st.columns(2)
        ood = (
            c1.number_input(
                "λ1' (general)", value=0.6, step=0.05, key=P + "ood1", persist_state="session"
            ),
            c2.number_input(
                "λ2' (domain)", value=0.4, step=0.05, key=P + "ood2", persist_state="session"
            ),
        )
    elif ood_name != "none":
        ood = OOD_EXAMPLES[ood_name]
    with st.expander("Search space", expanded=True):
        lr0, steps0 = current_w.cpt_lr, current_w.cpt_steps
        lr_lo, lr_hi = st.select_slider(
            CONTROLS["lr-min/lr-max"], options=LRS, key=P + "lr_range", format_func=fmt_lr,
            persist_state="session",
            value=(nearest(LRS, lr0 / 8), nearest(LRS, lr0 * 2)),
        )  # fmt: skip
        rep_lo, rep_hi = st.slider(
            CONTROLS["replay-min/replay-max"], 0, 100, (0, 50), 5, key=P + "replay_range",
            persist_state="session",
            disabled=not replay_modelled,
            help=None if replay_modelled else "These parameters do not model replay (Eq. 4).",
        )  # fmt: skip
        st_lo, st_hi = st.select_slider(
            CONTROLS["steps-min/steps-max"], options=STEPS, key=P + "steps_range",
            format_func=fmt_steps, persist_state="session",
            value=(nearest(STEPS, max(steps0 / 5, 100)), nearest(STEPS, steps0 * 2)),
        )  # fmt: skip
        fams = st.multiselect(
            CONTROLS["schedules"], list(FAMILIES), default=["wsd", "cosine"], key=P + "families",
            persist_state="session",
        )
        dec_lo, dec_hi = st.slider(
            CONTROLS["decay"], 0, 100, (10, 30), 5, key=P + "decay_range", persist_state="session"
        )
        inside = st.toggle(
            "Stay inside the fitted range",
            value=ps.envelope is not None,
            key=P + "inside",
            persist_state="session",
            disabled=ps.envelope is None,
            help="On: peak LR, replay and CPT length are limited to what the fitted runs covered, "
            "where the law's accuracy was measured. Off: the search extrapolates the law (the "
            "recommendation is then a rough guide; the Explore page shows how wide its band gets)."
            if ps.envelope is not None
            else "These parameters carry no fitted range (published numbers or an older file).",
        )


def search_space() -> tuple[SearchSpace, list[str]]:
    """The search space the controls describe, within the fitted range when asked (and the limits
    that applied); ``InputError`` naming the control when a bound is wrong."""
    space = SearchSpace(
        lr_lo, lr_hi, rep_lo / 100, rep_hi / 100, int(st_lo), int(st_hi), tuple(fams),
        dec_lo / 100, dec_hi / 100, current_w.cpt_warmup, current_w.warmup_from,
    ).validated()  # fmt: skip
    return within_envelope(space, ps.envelope) if inside else (space, [])


if mode == "domain_target":
    with target_box:
        start = None
        with guard("computing the starting loss"):
            start = Planner(ps, current.pt, base=base).start_cpt
        if P + "target" not in st.session_state and start is not None:
            with guard("choosing a domain-loss target", CONTROLS):
                weights = tuple(ood) if ood else None
                planner = Planner(ps, current.pt, search_space()[0], base=base)
                st.session_state[P + "target"] = round(default_domain_target(planner, weights), 3)
        target = st.number_input(
            CONTROLS["domain-target"], step=0.01, format="%.3f", key=P + "target",
            persist_state="session",
            help=(f"The predicted domain loss at the transfer point is {start:.3f}. " if start
                  else "") + "The default lies halfway between the lowest domain loss the search "
            "space reaches in its fewest steps and in its most.",
        )  # fmt: skip

rep = None
with right, guard("planning", CONTROLS):
    goal = Goal(float(lambda1), mode, rise, target, ood).validated()
    space, limits = search_space()
    if not inside and ps.envelope is not None:
        st.warning(
            "Extrapolating: the search may leave the range of the fitted runs "
            "(turn on 'Stay inside the fitted range' to stay where the law was measured).",
            icon=":material/warning:",
        )
    if limits:
        st.caption("Inside the fitted range: " + "; ".join(limits) + ".")

    @st.cache_data(show_spinner="Planning…", max_entries=16)
    def _sweep(token, pt, space, base, _ps):  # independent of the goal: once per search space
        return study.sweep_for(_ps, space, pt, base)

    @st.cache_data(show_spinner="Planning…", max_entries=32)
    def _build(token, current, goal, space, label, _ps):
        sweep = _sweep(token, current.pt, space, current.base, _ps)
        return study.build(_ps, goal, space, current, label, sweep=sweep)

    rep = _build(token, current, goal, space, label, ps)
    r = rep.result
    for o in rep.current_view.outside:  # the PT is held fixed: the search cannot stay inside
        if o.control == "PT history":
            st.warning(
                o.warning(
                    "every prediction on this page extrapolates (the plan keeps this pre-training "
                    "and searches the CPT only); the recommendation's band is widened"
                ),
                icon=":material/warning:",
            )
    views = [v for v in (rep.current_view, rep.plan_view) if v is not None]
    for odd in {o.target: o for v in views for o in v.implausible}.values():
        st.error(odd.sentence, icon=":material/block:")
    if r.feasible:
        st.success(r.summary, icon=":material/flag:")
    else:
        st.warning(r.summary, icon=":material/block:")
    for n in r.notes:
        st.caption(n)
    if r.feasible:
        for n in edge_notes(r.settings, space, inside and ps.envelope is not None):
            st.info(n, icon=":material/border_outer:")
    if r.feasible:
        s = r.settings
        cur = rep.current_view
        fam = f"WSD {s.decay_fraction:.0%}" if s.family == "wsd" else s.family
        slot = metric_pairs(4)
        # the loss changes carry a delta line: cards of their own width, side by side or stacked
        wide = st.container(horizontal=True, gap="small")
        slot += [wide, wide]
        slot[0].metric(
            "CPT schedule", fam, border=True, help="WSD n %: the last n % of the CPT steps decay."
        )
        slot[1].metric("CPT peak LR", fmt_lr(s.peak_lr), border=True)
        slot[2].metric("CPT steps", f"{s.steps:,}", border=True)
        slot[3].metric("Replay", f"{s.replay:.0%}", border=True)
        slot[4].metric(
            "General loss change", f"{r.delta_pt:+.4f}",
            delta=f"{r.delta_pt - cur.delta['pt']:+.4f} vs current", delta_color="inverse",
            border=True, help="End of CPT minus transfer point; positive = forgetting.",
            width=WIDE_CARD,
        )  # fmt: skip
        slot[5].metric(
            "Domain loss change", f"{r.delta_cpt:+.4f}",
            delta=f"{r.delta_cpt - cur.delta['cpt']:+.4f} vs current", delta_color="inverse",
            border=True, help="End of CPT minus transfer point; negative = learning the domain.",
            width=WIDE_CARD,
        )  # fmt: skip
    st.markdown(f"**{plots_plan.TITLES['curves']}**")
    chart(plots_plan.curves_figure(rep, height=560), key="plan_curves")
    st.caption(f"Planned in {rep.seconds:.2f} s ({r.n_evaluations:,} scenario evaluations).")

if rep is None:
    st.stop()
with guard("drawing the maps"):
    figs = {  # the maps worth drawing: the same rule as the report's (plots_plan.map_names)
        **{m: partial(plots_plan.heatmap_figure, rep, m.removeprefix("map_"))
           for m in plots_plan.map_names(rep)},
        "pareto": lambda: plots_plan.pareto_figure(rep),
        "lambda": lambda: plots_plan.lambda_panels(rep, height=360),
    }  # fmt: skip
    if left_out := plots_plan.maps_left_out(rep):  # one peak LR (e.g. held at the fitted one)
        st.caption(left_out)
    names = [n for n in figs if n != "lambda"]
    for i in range(0, len(names), 2):
        pair = names[i : i + 2]
        cols = columns_stacking_below(f"plan_pair_{i}", [1] * len(pair))  # one left: full width
        for col, name in zip(cols, pair, strict=True):
            with col:
                st.markdown(f"**{plots_plan.TITLES[name]}**")
                chart(figs[name](), key=f"plan_{name}")
    # the lambda1 curves: three panels side by side where there is room, stacked where there is not
    st.markdown(f"**{plots_plan.TITLES['lambda']}**")
    panels = figs["lambda"]()
    cols = columns_stacking_below("plan_lambda_panels", [1] * len(panels), width=900)
    for col, fig, (name, _) in zip(cols, panels, plots_plan.LAMBDA_PANELS, strict=True):
        with col:
            chart(fig, key=f"plan_lambda_{name}")
    st.caption(
        "Maps: the objective with the other settings held at the recommendation (blank cells break "
        "the constraint). Trade-off: every grid point of the search space; the frontier joins those no "
        "other point beats on both losses. λ1 curves: turning length of the composite loss for a "
        "constant CPT LR at the plan's peak (paper Fig. 13) and the loss potential a new "
        "pre-training run should be released with (paper Fig. 8a), and the balance-mode optimum peak LR "
        "(and replay, when modelled) for other values of λ1 (paper Fig. 8b/8c)."
    )

    st.markdown("**Take the decision with you**")
    d = [st.container(horizontal=True, wrap=True, gap="small")] * 4  # own widths: never cut
    d[0].download_button(
        "HTML report", data=lambda: report.html_report(rep), file_name="cpt_plan.html",
        mime="text/html", on_click="ignore", icon=":material/description:", key=P + "dl_html",
        help="Interactive figures, parameters with provenance and uncertainty, assumptions; "
        "opens offline.",
    )  # fmt: skip
    d[1].download_button(
        "Markdown summary", data=lambda: report.markdown_summary(rep), file_name="cpt_plan.md",
        mime="text/markdown", on_click="ignore", icon=":material/notes:", key=P + "dl_md",
    )  # fmt: skip
    d[2].download_button(
        "Pareto frontier (CSV)", data=lambda: report.frontier_csv(rep),
        file_name="cpt_plan_frontier.csv", mime="text/csv", on_click="ignore",
        icon=":material/table:", key=P + "dl_csv",
    )  # fmt: skip
    d[3].download_button(
        "Recommendation (JSON)", data=lambda: json.dumps(rep.result.to_dict(), indent=2),
        file_name="cpt_plan.json", mime="application/json", on_click="ignore",
        icon=":material/data_object:", key=P + "dl_json",
    )  # fmt: skip
