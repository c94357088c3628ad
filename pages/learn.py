"""Learn: a guided tour of CPT dynamics in six steps, each with a live chart of the law."""

from dataclasses import replace

import streamlit as st

from cptcore.plots import ScenarioView, critical_note, scenario_figure, turning_note
from cptcore.whatif import nearest
from ui import data, run_through_app
from ui.state import LEARN_PRESET
from ui.widgets import (
    LRS,
    STEPS,
    chart,
    columns_stacking_below,
    fmt_lr,
    fmt_steps,
    guard,
    scenario_alt,
    scenario_metrics,
)

STEPS_TOUR = {
    "hidden": "1 · Hidden curves",
    "anneal": "2 · Annealing (S2)",
    "rewarm": "3 · Re-warm-up",
    "potential": "4 · Loss potential",
    "replay": "5 · Replay",
    "critical": "6 · Critical point",
}

run_through_app()
st.title("Learn how continual pre-training behaves")
st.caption(
    "Six short steps through the CPT scaling law of Wang, Tissue et al. (ICML 2025). Every chart is "
    "the law itself, computed live: move the controls and watch the curves."
)
# the tour walks through a PT phase: fits of CPT-only runs (open models, paper §6) have none
available = {k: p for k, p in data.presets().items() if not p.ps.open_model}
st.session_state.setdefault(LEARN_PRESET, data.PAPER)
if st.session_state[LEARN_PRESET] not in available:
    st.session_state[LEARN_PRESET] = data.PAPER
c = columns_stacking_below("learn_top", [1.2, 2], 560, vertical_alignment="bottom")
key = c[0].selectbox(
    "Parameters",
    list(available),
    key=LEARN_PRESET,
    persist_state="session",
    format_func=lambda k: available[k].label,
)
preset = available[key]
step = c[1].radio(
    "Step",
    list(STEPS_TOUR),
    key="learn_step",
    horizontal=True,
    bind="query-params",
    persist_state="session",
    format_func=STEPS_TOUR.get,
    label_visibility="collapsed",
)
base = preset.defaults


def show(w, **kw) -> ScenarioView:
    """Metrics and chart for scenario ``w``; ``compare``: (label, scenario) pairs drawn thin."""
    v = data.view(preset, w)
    pins = [data.view(preset, pw).with_label(lab) for lab, pw in kw.pop("compare", [])]
    scenario_metrics(v)
    chart(
        scenario_figure(v, pins=pins, window="cpt", **kw),
        key=f"learn_chart_{step}",
        alt=scenario_alt(v),
    )
    return v


text, controls = columns_stacking_below("learn_main", [1.25, 1], gap="large")
with guard("drawing this step"):
    if step == "hidden":
        with text:
            st.markdown(
                "During CPT the loss on each validation set **moves from one hidden curve to "
                "another**. The grey dashed curve is the loss you would get by simply continuing "
                "pre-training on the general data D_pt with the same LR schedule. The orange dotted "
                "curve is the loss of a model trained on the domain data D_cpt from the start. The "
                "solid CPT curve leaves the first at the transfer point and slides towards the "
                "second; the gap to the grey curve is the *distribution shift* "
                "B·(1−(1+E·S1cpt)^−β), which grows with the CPT forward area S1cpt (the area under "
                "the CPT learning rate), not with where CPT started. On the general set B > 0, "
                "so the general loss rises (forgetting); on the domain set B < 0 and it falls."
            )
        with controls:
            n = st.select_slider(
                "CPT steps",
                STEPS,
                value=nearest(STEPS, base.cpt_steps),
                key="learn_hidden_steps",
                persist_state="session",
                format_func=fmt_steps,
            )
            lr = st.select_slider(
                "CPT learning rate (constant)",
                LRS,
                key="learn_hidden_lr",
                persist_state="session",
                value=nearest(LRS, base.cpt_lr),
                format_func=fmt_lr,
            )
        show(replace(base, cpt_kind="constant", cpt_steps=n, cpt_lr=lr, cpt_warmup=0.0))

    elif step == "anneal":
        with text:
            st.markdown(
                "Lowering the learning rate gives a loss drop **on top of** the slow power law in "
                "S1. The law books it as −C·S2: S2 adds up every LR decrease, each spread over the "
                "following steps by a momentum of λ = 0.999 (so a drop takes about 1/(1−λ) = 1,000 "
                "steps to pay off fully). C1 prices the annealing done in pre-training and C2 the "
                "annealing in CPT. Try a longer anneal or another shape and watch the orange "
                "*annealing* term in the decomposition."
            )
        with controls:
            frac = st.slider(
                "CPT anneal (% of CPT steps, WSD)",
                0.0,
                100.0,
                20.0,
                5.0,
                format="%.0f%%",
                key="learn_anneal_frac",
                persist_state="session",
            )
            shape = st.selectbox(
                "Anneal shape",
                ["linear", "cosine", "sqrt"],
                key="learn_anneal_shape",
                persist_state="session",
            )
        show(
            replace(base, cpt_kind="wsd", cpt_decay=frac / 100, cpt_shape=shape),
            terms_of="cpt",
            hidden=False,
        )

    elif step == "rewarm":
        with text:
            st.markdown(
                "A released checkpoint is usually annealed, so CPT must **warm the LR back up**. In "
                "the law an LR *increase* is negative annealing: S2cpt goes below zero and both "
                "losses get a bump right after the transfer point (the paper's \"distribution "
                'shift + LR re-warmup" rise). The bump is paid back once CPT anneals again. A '
                "lower CPT peak LR makes the bump smaller but also slows down learning the "
                "domain; a longer warm-up only spreads it out."
            )
        with controls:
            lr = st.select_slider(
                "CPT peak LR",
                LRS,
                key="learn_rewarm_lr",
                persist_state="session",
                value=nearest(LRS, base.cpt_lr),
                format_func=fmt_lr,
            )
            warm = st.slider(
                "CPT warm-up (% of CPT steps)",
                0.0,
                30.0,
                5.0,
                0.5,
                format="%.1f%%",
                key="learn_rewarm_warm",
                persist_state="session",
            )
        show(
            replace(
                base,
                potential=0.0,
                pt_kind="wsd",
                cpt_kind="wsd",
                cpt_lr=lr,
                cpt_warmup=warm / 100,
                warmup_from="zero",
            ),
            terms_of="pt",
            hidden=False,
        )

    elif step == "potential":
        with text:
            st.markdown(
                "The **loss potential** is the PT final LR divided by the PT peak LR: 0 % means "
                "the checkpoint was annealed to zero, 100 % means it was not annealed at all. An "
                "annealed checkpoint has already cashed in its annealing gain, and re-warming "
                "takes it back; a high-potential checkpoint leaves that gain for CPT to collect "
                "on the domain data. The paper finds that higher loss potential gives a lower "
                "final domain loss, and recommends releasing high-potential checkpoints for CPT. "
                "The thin lines are 0 % and 100 % for comparison."
            )
        with controls:
            pot = st.slider(
                "Loss potential (%)",
                0.0,
                100.0,
                0.0,
                5.0,
                format="%.0f%%",
                key="learn_potential",
                persist_state="session",
            )
        show(
            replace(base, pt_kind="wsd", potential=pot / 100),
            hidden=False,
            compare=[
                ("potential 0 %", replace(base, pt_kind="wsd", potential=0.0)),
                ("potential 100 %", replace(base, pt_kind="wsd", potential=1.0)),
            ],
        )

    elif step == "replay":
        chosen = preset
        if not chosen.ps.models_replay:  # e.g. the paper's Eq. 4: this step would do nothing
            first = data.default_preset_key(available)
            order = [first, *(k for k in available if k != first)]
            preset = next((available[k] for k in order if available[k].ps.models_replay), preset)
            base = preset.defaults
        models_replay = preset.ps.models_replay
        with text:
            st.markdown(
                "**Replay** mixes some pre-training data back into the CPT data. It shrinks the "
                "distribution shift: the general loss rises less, and the domain loss falls a bit "
                "more slowly. The paper models it with Eq. 8, where the replay ratio scales the "
                "shift term and the CPT annealing term (`a2` and `a1`). The thin line is the same "
                "schedule without replay."
            )
            if preset is not chosen:
                st.info(
                    f"This step uses “{preset.label}”: “{chosen.label}” uses Eq. 4, which has no "
                    "replay term.",
                    icon=":material/info:",
                )
            if not models_replay:
                st.info(
                    f"“{preset.label}” uses Eq. 4, which has no replay term, so the slider is "
                    "off. Choose a parameter set with a replay term (“Fitted on the sample "
                    "runs”, the tau-form; or your own fit on runs with several replay ratios) "
                    "to see replay at work.",
                    icon=":material/info:",
                )
        with controls:
            rp = st.slider(
                "Replay (% of PT data in the CPT mix)",
                0.0,
                100.0,
                25.0,
                5.0,
                format="%.0f%%",
                key="learn_replay",
                persist_state="session",
                disabled=not models_replay,
            )
        w = replace(base, replay=rp / 100 if models_replay else 0.0)
        compare = [("no replay", replace(base, replay=0.0))] if models_replay else []
        show(w, hidden=False, compare=compare)

    else:  # critical point and turning length
        with text:
            st.markdown(
                "Does the general loss ever come back? The law's answer is the **critical point** "
                "(the purple line): the general loss the hidden D_cpt curve converges to, L0 + B. "
                "A checkpoint that starts CPT well above it (here: a shorter pre-training) can "
                "fall back below its starting general loss during CPT, because it still gains "
                "more from training than it loses to the shift; the number of CPT steps until it "
                "is back at its starting value is the **turning length** (the green diamond). A "
                "well-trained checkpoint that starts near or below the critical point keeps a "
                "higher general loss for as long as CPT runs."
            )
        with controls:
            pt_n = st.select_slider(
                "PT steps (how long the checkpoint was pre-trained)",
                STEPS,
                key="learn_crit_pt",
                persist_state="session",
                value=nearest(STEPS, base.pt_steps / 8),
                format_func=fmt_steps,
            )
            n = st.select_slider(
                "CPT steps",
                STEPS,
                key="learn_crit_steps",
                persist_state="session",
                value=nearest(STEPS, 2 * base.cpt_steps),
                format_func=fmt_steps,
            )
        v = show(replace(base, pt_steps=pt_n, cpt_steps=n), targets=("pt",), hidden=True)
        missing = critical_note(v) if v.critical_point is None else ""  # no purple line: why
        st.caption(f"{turning_note(v)} {missing}".strip())

i = list(STEPS_TOUR).index(step)
if i + 1 < len(STEPS_TOUR):
    nxt = list(STEPS_TOUR)[i + 1]

    def _next(s: str = nxt) -> None:
        st.session_state["learn_step"] = s

    st.button(f"Next: {STEPS_TOUR[nxt]} →", key="learn_next", on_click=_next)
