"""Open models in the app (paper §6): a fit of CPT-only runs predicts and plans CPT from its fitted
base models. Explore and Plan call ``open_base`` (the base picker and its fitted S1pt), the Fit page
``base_editor`` (which uploaded CPT-only run starts from which base)."""

from __future__ import annotations

import math
from dataclasses import replace

import streamlit as st

from cptcore.params_io import ParamSet, base_models
from cptcore.runs import Run, base_of
from ui.widgets import md

SET_NAME = {"pt": "general", "cpt": "domain"}


def s1pt_words(ps: ParamSet, base: str) -> str:
    """The base's fitted S1pt in words, with its ~95 % range from the fit's Laplace (Jacobian)
    covariance of log S1pt, per set or once when both sets share it."""
    b = base_models(ps)[base]

    def one(t: str) -> str:
        rng = b.range(t)
        if rng is None:
            return f"{b.S1pt[t]:.3g} (no uncertainty)"
        orders = math.log10(rng[1] / rng[0])
        if orders > 3:  # wider than a factor of 1000: say so instead of printing 1e-24 .. 1e26
            return f"{b.S1pt[t]:.3g} (not identified: its 95 % range spans {orders:.0f} orders of magnitude)"
        return f"{b.S1pt[t]:.3g} (95 % range {rng[0]:.3g} to {rng[1]:.3g})"

    if b.shared or len(b.S1pt) == 1:
        t = next(iter(b.S1pt))
        how = "shared by both validation sets" if b.shared else f"{SET_NAME[t]} set"
        return f"S1pt = {one(t)}, {how}"
    return "S1pt = " + "; ".join(f"{one(t)} on the {SET_NAME[t]} set" for t in b.S1pt)


def open_base(ps: ParamSet, key: str, box=None) -> str | None:
    """For a CPT-only fit (``ParamSet.open_model``): the base model to start CPT from (a picker when
    the fit has several) and a note naming it with its fitted S1pt; None for any other fit."""
    if not ps.open_model:
        return None
    names = sorted(base_models(ps))
    box = box or st.container()
    if len(names) > 1:
        if st.session_state.get(key) not in names:
            st.session_state[key] = names[0]
        base = box.selectbox(
            "Base model",
            names,
            key=key,
            persist_state="session",  # also across page switches
            help="The fitted base models of this parameter set (CPT-only runs, paper §6).",
        )
    else:
        base = names[0]
    box.info(
        f"**Open model**: CPT starts from the base model **{md(base)}**, whose pre-training is "
        f"unknown, so there are no pre-training controls. Fitted {s1pt_words(ps, base)}; the "
        "range is the fit's Laplace (Jacobian) uncertainty. The base is assumed annealed to LR 0 "
        "(paper §6): step 0 is the base model.",
        icon=":material/lock_open:",
    )
    return base


def base_editor(runs: dict[str, Run], key: str = "base_of_") -> None:
    """Name the base model of each CPT-only run (in place in ``runs``): runs from one base share its
    fitted S1pt. Canonical files may carry a ``base`` column; logs (e.g. a fine-tune's Hugging Face
    ``trainer_state.json``) get their base named here, one text field per run."""
    open_runs = [r for r in runs.values() if not r.pt_history_known]
    if not open_runs:
        return
    st.markdown("**Base models of the CPT-only runs**")
    st.caption(
        "Runs whose pre-training is unknown start from an open base model; runs from the same base "
        "share one fitted S1pt (paper §6). Name each run's base (e.g. llama-3.2-1b)."
    )
    cols = st.columns(min(len(open_runs), 3))
    for i, run in enumerate(open_runs):
        k = key + run.name
        st.session_state.setdefault(k, base_of(run))
        typed = cols[i % len(cols)].text_input(
            f"Base of {md(run.name)}", key=k, max_chars=80, persist_state="session"
        )
        base = typed.strip()
        if base and base != base_of(run):
            runs[run.name] = replace(run, base=base)
    groups: dict[str, list[str]] = {}
    for r in runs.values():
        if not r.pt_history_known:
            groups.setdefault(base_of(r), []).append(r.name)
    st.caption(
        "Grouped by base: "
        + "; ".join(f"{b} ({len(v)} run{'s' * (len(v) > 1)})" for b, v in sorted(groups.items()))
        + "."
    )
