"""The Fit page's pieces, so ``pages/fit.py`` reads as its layout: the sample runs and upload
controls, the table of loaded runs, which runs to fit and hold out (``split.json`` for the samples),
the fit's settings, and the result (parameters with standard errors, accuracy per run, the
model-selection candidates, the fitted curves)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cptcore.areas import LAMBDA, S2_FORMS
from cptcore.fit import FitResult, RunMetrics
from cptcore.law import LAWS
from cptcore.params_io import dumps
from cptcore.plots import TARGET_LABEL, fit_figure, run_fit, runs_figure
from cptcore.runs import Run
from cptcore.select import LAMBDA_GRID, Selection
from cptcore.whatif import nearest
from ui import data
from ui.fitting import FitOutcome, selection_table
from ui.fitting import run_fit as fit_selected
from ui.openmodel import base_editor
from ui.state import EXPLORE_PRESET, LAST_FIT, LEARN_PRESET, NEW_FIT, YOUR_FIT
from ui.widgets import chart, guard, md

MEANING = {
    "L0": "loss floor (irreducible loss)",
    "A": "scale of the power law in the forward area S1",
    "alpha": "exponent of that power law",
    "C1": "loss drop per unit of PT annealing area S2pt",
    "C2": "loss drop per unit of CPT annealing area S2cpt",
    "B": "size of the distribution shift (+ the loss rises, − it falls)",
    "E": "speed of the shift per unit of CPT forward area",
    "beta": "shape of the shift curve",
    "a1": "replay: scales the CPT annealing term (Eq. 8)",
    "a2": "replay: scales the distribution shift (Eq. 8)",
    "kappa": "replay: how fast replayed data undoes the domain exposure (tau-form)",
    "rho": "LR clock: the shift runs on sum of eta^rho (tau-lr, eq4-lr)",
    "mu": "peak LR: the shift's speed E scales as (eta_peak/eta_ref)^mu (tau-speed)",
    "nu": "peak LR: the shift's size B scales as (eta_peak/eta_ref)^nu (tau-amp)",
    "eta_ref": "reference LR of rho / mu / nu (largest CPT peak LR fitted; not fitted)",
}
S1PT_MEANING = "fitted PT forward area of this base model (paper §6)"


# ---------------------------------------------------------------------------- 1. add runs
def use_samples(runs: dict[str, Run], samples: dict[str, Run]) -> None:
    """Load the bundled sample runs, split by ``split.json``, with the sample fit's settings."""
    runs.update(samples)
    train, test = data.sample_split(samples)
    st.session_state["fit_on"] = train or list(samples)
    st.session_state["hold_out"] = test
    st.session_state["fit_known_runs"] = set(runs)  # the split as the sample fit's, nothing added
    sample_fit = data.presets().get(data.SAMPLE)
    if sample_fit is not None:  # start from the settings of the bundled sample fit
        chose = sample_fit.ps.provenance.get("model_selection", {})
        auto = bool(chose.get("cross_validated"))  # made by the default fit: choose the same way
        st.session_state["law"] = "auto" if auto else sample_fit.ps.law
        st.session_state["fit_lambda_auto"] = auto
        st.session_state["s2_form"] = sample_fit.ps.s2_form
        st.session_state["fit_lambda"] = nearest(list(LAMBDA_GRID), sample_fit.ps.lam)
        first = next(iter(sample_fit.ps.fits.values()))
        st.session_state["fit_min_step"] = int(first.min_step)


def clear_runs(runs: dict[str, Run], seen: dict) -> None:
    """Forget every loaded run and upload, and the run selection."""
    runs.clear()
    seen.clear()
    st.session_state["fit_on"], st.session_state["hold_out"] = [], []
    st.session_state.pop("fit_known_runs", None)  # runs loaded again are new runs


def upload_row():
    """Two boxes in a row that wraps: the uploader's and the buttons'. Fixed widths, so that a
    narrow window wraps them instead of squeezing the uploader."""
    row = st.container(horizontal=True, gap="medium")
    return row.container(width=600), row.container(width=300)


def sample_buttons(runs: dict[str, Run], seen: dict, samples: dict[str, Run]) -> None:
    """'Use the N bundled sample runs' (or why there are none) and 'Remove all runs'."""
    if samples:
        st.button(
            f"Use the {len(samples)} bundled sample runs",
            key="use_samples",
            on_click=use_samples,
            args=(runs, samples),
            icon=":material/dataset:",
            width="stretch",
            help="Real CPT runs of a tiny byte-level GPT (sample_data/cpt); the fit/hold-out "
            "split comes from split.json.",
        )
    else:
        st.info("No bundled sample runs yet (sample_data/cpt/*.csv). Upload your own runs.")
    st.button(
        "Remove all runs",
        key="clear_runs",
        on_click=clear_runs,
        args=(runs, seen),
        disabled=not runs,
        width="stretch",
    )


# ---------------------------------------------------------------------------- 2. your runs
def runs_table(runs: dict[str, Run]) -> pd.DataFrame:
    """One row per loaded run: its length, CPT start, replay, peak LR and which losses it has."""
    return pd.DataFrame(
        [
            {
                "run": r.name,
                "rows": len(r.step),
                "last step": r.last_step,
                "CPT starts after": r.transfer_step if r.has_cpt else None,
                "replay": r.replay,
                "peak LR": float(np.max(r.lr)),
                "general loss": r.has_target("pt"),
                "domain loss": r.has_target("cpt"),
                "PT history": "known" if r.pt_history_known else "unknown (S1pt fitted)",
            }
            for r in runs.values()
        ]
    )


def runs_preview(runs: dict[str, Run]) -> None:
    """The table of loaded runs, their sparsity warnings and a chart of the runs picked for it."""
    table = runs_table(runs)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(table), 300),
        column_config={"peak LR": st.column_config.NumberColumn(format="%.1e")},
    )
    for r in runs.values():
        w = r.sparsity_warning()
        if w:
            st.warning(md(w))
    base_editor(runs)  # CPT-only runs grouped by base model: one fitted S1pt per base (§6)
    names = list(runs)
    kept = [n for n in st.session_state.get("preview_runs", []) if n in runs]
    st.session_state["preview_runs"] = kept or names[:8]
    shown = st.multiselect("Runs in the chart", names, key="preview_runs", persist_state="session")
    if shown:
        with guard("drawing the runs"):
            chart(runs_figure([runs[n] for n in shown], height=520), key="preview_chart")


# ---------------------------------------------------------------------------- 3. fit
def _keep_selection_current(runs: dict[str, Run], samples: dict[str, Run]) -> None:
    """Bring 'Fit on' / 'Hold out' up to date with the loaded runs: runs loaded since the last
    rerun join the fit, or, when every loaded run is a sample, go where split.json puts them (its
    'test' and 'extra' runs are held out): each new run lands in one list. Removed runs leave both;
    a run the user took out of both stays out."""
    names = list(runs)
    train, held = [], []
    if set(names) <= set(samples):
        train, held = data.sample_split(names, held=("test", "extra"))
    fit_on = [n for n in st.session_state.get("fit_on", []) if n in runs]
    hold = [n for n in st.session_state.get("hold_out", []) if n in runs and n not in fit_on]
    known = st.session_state.get("fit_known_runs", set())
    new = [n for n in names if n not in known and n not in fit_on and n not in hold]
    to_hold = set(held) if train else set()  # without a run split.json fits: fit on every run
    st.session_state["fit_on"] = fit_on + [n for n in new if n not in to_hold]
    st.session_state["hold_out"] = hold + [n for n in new if n in to_hold]
    st.session_state["fit_known_runs"] = set(names)


def split_note(names, samples, fit_on, hold_out) -> str | None:
    """One line when 'Fit on' / 'Hold out' follow the bundled split (sample_data/cpt/split.json),
    so that it is never applied silently; None otherwise."""
    if not names or not set(names) <= set(samples):
        return None
    train, test = data.sample_split(names)
    _, listed = data.sample_split(names, held=("test", "extra"))
    if not train or set(fit_on) != set(train) or not set(test) <= set(hold_out) <= set(listed):
        return None
    left = len(names) - len(fit_on) - len(hold_out)
    return (
        f"Split as in the bundled sample fit (sample_data/cpt/split.json): {len(fit_on)} fitted, "
        f"{len(hold_out)} held out" + (f", {left} in neither list" if left else "")
        + ". Move runs between 'Fit on' and 'Hold out' to change it."
    )


def run_selection(runs: dict[str, Run], samples: dict[str, Run]) -> tuple[list[str], list[str]]:
    """The 'Fit on' and 'Hold out (score only)' choices: (runs to fit, runs to score only)."""
    _keep_selection_current(runs, samples)
    names = list(runs)
    # full width, one below the other: side by side, 'Fit on' showed one or two run names
    fit_on = st.multiselect(
        "Fit on", names, key="fit_on", persist_state="session",
        help="The law is fitted jointly to all these runs.",
    )  # fmt: skip
    hold_out = st.multiselect(
        "Hold out (score only)",
        [n for n in names if n not in fit_on],
        key="hold_out",
        persist_state="session",
        help="Predicted with the fitted law, never fitted.",
    )
    note = split_note(names, samples, fit_on, hold_out)
    if note:
        st.caption(note)
    return fit_on, hold_out


def _law_controls(c) -> tuple[str, str]:
    """The 'Law' and 'S2 form' choices, drawn into the row ``c``."""
    law = c.selectbox(
        "Law",
        ["auto", *LAWS],
        key="law",
        persist_state="session",
        width=150,
        help="- **auto** (default): every form below is fitted and scored by grouped "
        "cross-validation on these runs (runs sharing a CPT setting held out together); the "
        "form that predicts held-out runs best wins\n"
        + "\n".join(f"- **{k}**: {v}" for k, v in LAWS.items()),
    )
    s2 = c.selectbox(
        "S2 form",
        list(S2_FORMS),
        key="s2_form",
        persist_state="session",
        width=150,
        help="\n".join(f"- **{k}**: {v}" for k, v in S2_FORMS.items()),
    )
    return law, s2


def _lambda_control(c) -> float | str:
    """λ from the slider, or "auto" while 'choose λ by cross-validation' is ticked."""
    box = c.container(width=240)
    lam = box.select_slider(
        "λ (S2 momentum)",
        LAMBDA_GRID,
        key="fit_lambda",
        persist_state="session",
        format_func=lambda v: f"{v:g}" + (" (paper)" if v == LAMBDA else ""),
        help="How long an LR drop keeps paying off (about 1/(1−λ) steps). The paper uses 0.999; "
        "for runs of a few thousand small steps a shorter memory often predicts held-out runs "
        "better. Untick 'choose λ by cross-validation' to set it yourself.",
        disabled=bool(st.session_state["fit_lambda_auto"]),  # the checkbox below: drawn next
    )
    auto = box.checkbox(
        "choose λ by cross-validation",
        key="fit_lambda_auto",
        persist_state="session",
        help="Grouped cross-validation, together with the law: runs sharing a CPT setting are "
        "held out together and predicted by a fit on the others, for λ in "
        f"{', '.join(f'{v:g}' for v in LAMBDA_GRID)}; the λ with the lowest held-out error wins. "
        "Takes tens of seconds.",
    )
    return "auto" if auto else lam


# the settings' first values; the samples button sets them to the sample fit's (``use_samples``).
# Given here rather than as the widgets' defaults: a widget whose key is also set by code must
# not have a default (Streamlit warns, and the browser drew the default before the value)
FIRST_SETTINGS = {"law": "auto", "fit_lambda": LAMBDA, "fit_lambda_auto": True, "fit_min_step": 0}


def fit_settings(can_fit: bool) -> tuple[str, str, float | str, int, bool]:
    """The fit's settings in one row that wraps: (law, S2 form, λ or "auto", first step fitted,
    'Fit' clicked), and a caption saying what the chosen law does."""
    for k, v in FIRST_SETTINGS.items():
        st.session_state.setdefault(k, v)
    # fixed widths in a row that wraps: side by side when wide, on two rows in a narrow window
    # (five columns squeezed the labels and the checkbox to a few letters at 800 px)
    c = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    law, s2 = _law_controls(c)
    lam = _lambda_control(c)
    min_step = c.number_input(
        "Fit from step",
        min_value=0,
        step=100,
        key="fit_min_step",
        persist_state="session",
        width=150,
        help="Losses before this step are neither fitted nor scored (the PT warm-up never is). "
        "Skip the first few hundred steps of a small model: its early transient is not what the "
        "law describes. The bundled sample fit starts at step 500.",
    )
    start = c.button(
        "Fit",
        key="fit_button",
        type="primary",
        disabled=not can_fit,
        icon=":material/play_arrow:",
        width=110,
    )
    st.caption(
        "The law form and λ that predict held-out runs best are chosen by cross-validation "
        "(tens of seconds)."
        if law == "auto"
        else f"{LAWS[law]}."
    )
    return law, s2, lam, int(min_step), start


def fit_with_progress(runs: dict[str, Run], fit_on, hold_out, law, s2, lam, min_step) -> None:
    """Run the fit under a progress bar and keep its outcome (``LAST_FIT``); a failure is one line."""
    bar = st.progress(0.0, text="Starting the fit…")
    with guard("fitting"):
        st.session_state[LAST_FIT] = fit_selected(
            runs,
            fit_on,
            hold_out,
            law,
            s2,
            lam,
            progress=lambda f, m: bar.progress(min(f, 1.0), text=m),
            min_step=min_step,
        )
    bar.empty()


# ---------------------------------------------------------------------------- 4. result
def parameter_table(fr: FitResult) -> pd.DataFrame:
    """The fitted parameters (Eq. 4 / Eq. 8) with their standard errors and meanings, then each
    base model's fitted PT forward area S1pt (paper §6)."""
    se = fr.stderr()
    rows = [
        {"parameter": k, "value": v, "± std. error": se.get(k), "meaning": MEANING.get(k, "")}
        for k, v in fr.params.to_dict().items()
        if k != "replay_form"
    ]
    rows += [
        {
            "parameter": k,
            "value": fr.S1pt[k.split("[")[1][:-1]],
            "± std. error": v,
            "meaning": S1PT_MEANING + (", shared by both validation sets" if fr.s1pt_shared else ""),
        }
        for k, v in se.items()
        if k.startswith("S1pt[")
    ]
    return pd.DataFrame(rows)


def accuracy_table(metrics: tuple[RunMetrics, ...]) -> pd.DataFrame:
    """One row per run: fitted or held out, points scored, R², MAE and max error (nats)."""
    return pd.DataFrame(
        [
            {
                "run": m.name,
                "role": "held out" if m.held_out else "fitted",
                "points": m.n_points,
                "R²": m.r2,
                "MAE": m.mae,
                "max error": m.max_error,
            }
            for m in metrics
        ]
    )


def result_summary(outcome: FitOutcome) -> None:
    """What was fitted on what, and how model selection chose (its candidates in an expander)."""
    st.markdown(
        f"Fitted **{outcome.law}** (S2 form *{outcome.s2_form}*, λ = {outcome.param_set.lam:g}) "
        f"on {len(outcome.fitted)} run(s), "
        f"{len(outcome.held_out)} held out, "
        + (
            f"taken from the cache (the same runs and settings were fitted earlier on this "
            f"server, in {outcome.seconds:.1f} s)."
            if outcome.cached
            else f"in {outcome.seconds:.1f} s."
        )
    )
    if outcome.selection is not None:
        selection_details(outcome.selection)


def selection_details(sel: Selection) -> None:
    """Model selection's message and, when it compared candidates, their table."""
    st.caption(md(sel.message))
    if sel.candidates:
        with st.expander("Cross-validation: every candidate law and λ", expanded=False):
            st.dataframe(selection_table(sel), hide_index=True, width="stretch")
            st.caption(
                "Held-out CPT-phase MAE (nats) of each candidate, mean over folds; the fold "
                "lists and scores are stored in params.json (provenance.model_selection)."
            )


def fit_tab(outcome: FitOutcome, target: str, runs: dict[str, Run]) -> None:
    """One validation set's fit: its message and warnings, the two tables and the fitted curves."""
    fr = outcome.fits[target]
    (st.success if fr.success else st.warning)(md(fr.message))  # messages name runs
    for w in fr.warnings:
        st.warning(md(w))
    # one above the other, full width: side by side, 1280 px cut the parameters' meanings and hid
    # the accuracy's "max error" behind a scroll
    st.markdown("**Parameters** (± standard error where identified)")
    st.dataframe(
        parameter_table(fr),
        hide_index=True,
        width="stretch",
        column_config={
            "value": st.column_config.NumberColumn(format="%.4g"),
            "± std. error": st.column_config.NumberColumn(format="%.2g"),
        },
    )
    st.markdown("**Accuracy per run** (loss in nats)")
    st.dataframe(
        accuracy_table(outcome.metrics(target)),
        hide_index=True,
        width="stretch",
        column_config={
            k: st.column_config.NumberColumn(format="%.4f") for k in ("R²", "MAE", "max error")
        },
    )
    fit_chart(outcome, target, runs)


def fit_chart(outcome: FitOutcome, target: str, runs: dict[str, Run]) -> None:
    """The fitted and held-out runs with the law's curve, for the runs still loaded."""
    fr = outcome.fits[target]
    curves = [
        c
        for c in (
            run_fit(fr, runs[n], held_out=n in outcome.held_out)
            for n in outcome.fitted + outcome.held_out
            if n in runs
        )
        if c is not None
    ]
    if curves:
        chart(fit_figure(curves, target), key=f"fit_chart_{target}")
    else:
        st.caption("The runs of this fit are no longer loaded, so no curves are drawn.")


def result_tabs(outcome: FitOutcome, runs: dict[str, Run]) -> None:
    """One tab per validation set the fit covers (general loss, domain loss)."""
    tabs = st.tabs([TARGET_LABEL[t] for t in outcome.fits])
    for tab, t in zip(tabs, outcome.fits, strict=True):
        with tab, guard("showing the fit"):
            fit_tab(outcome, t, runs)


def use_or_download(outcome: FitOutcome) -> None:
    """'Download params.json' and 'Use this fit on Explore and Learn' (then a link to Explore)."""
    # a row that wraps: in columns, 800 px cut both labels to a few letters
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.download_button(
        "Download params.json",
        data=dumps(outcome.param_set),
        file_name="params.json",
        mime="application/json",
        key="download_params",
        icon=":material/download:",
        width="content",
    )
    if row.button(
        "Use this fit on Explore and Learn",
        key="use_fit",
        type="primary",
        icon=":material/check_circle:",
        width="content",
    ):
        st.session_state[YOUR_FIT] = outcome.active()
        st.session_state[EXPLORE_PRESET] = data.YOURS
        st.session_state[NEW_FIT] = True  # Explore keeps the user's scenario or loads the fit's
        st.session_state[LEARN_PRESET] = data.YOURS
    active = st.session_state.get(YOUR_FIT)
    if active is not None and active.token == outcome.token:
        row.success("This fit is active as “Your fit”.", icon=":material/check:", width=320)
        st.page_link("pages/explore.py", label="Explore it", icon=":material/tune:")
