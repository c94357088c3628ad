"""Fit: load runs (upload or samples), fit the law, check it on held-out runs, use or download it."""

import numpy as np
import pandas as pd
import streamlit as st

from cptcore import importers
from cptcore.areas import LAMBDA, S2_FORMS
from cptcore.errors import InputError
from cptcore.law import LAWS
from cptcore.params_io import dumps
from cptcore.plots import TARGET_LABEL, fit_figure, run_fit, runs_figure
from cptcore.select import LAMBDA_GRID
from cptcore.whatif import nearest
from ui import data, run_through_app
from ui.fitting import FitOutcome, selection_table
from ui.fitting import run_fit as fit_selected
from ui.mapping import group_form, mapping_form
from ui.state import EXPLORE_PRESET, LAST_FIT, LEARN_PRESET, RUNS, SEEN_UPLOADS, YOUR_FIT
from ui.upload import describe, digest, one_tag_csvs, read_upload
from ui.widgets import chart, guard, log, md

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
}

run_through_app()
st.title("Fit the law to your runs")
st.caption(
    "Each run is one CSV in the canonical format `step, lr, phase, replay, loss_pt, loss_cpt` "
    "(one row per logged step; the LR is interpolated between rows). W&B and TensorBoard CSV "
    "exports, TensorBoard event files, Hugging Face `trainer_state.json`, Megatron-LM logs and "
    "other tables are imported after you confirm which metric is which. Files stay in this "
    "browser session only."
)
runs: dict = st.session_state.setdefault(RUNS, {})
seen: dict = st.session_state.setdefault(SEEN_UPLOADS, {})
samples = data.sample_runs()


def _use_samples() -> None:
    runs.update(samples)
    train, test = data.sample_split(samples)
    st.session_state["fit_on"] = train or list(samples)
    st.session_state["hold_out"] = test
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


def _clear_runs() -> None:
    runs.clear()
    seen.clear()
    st.session_state["fit_on"], st.session_state["hold_out"] = [], []


# ---------------------------------------------------------------------------- 1. add runs
st.subheader("1 · Add runs")
up, side = st.columns([2, 1], gap="medium")
with up:
    files = st.file_uploader(
        "Upload one or more runs or training logs",
        type=None,
        accept_multiple_files=True,
        key="upload",
        help="Canonical columns: step, lr, phase (pt/cpt), replay, loss_pt, loss_cpt.",
    )
with side:
    if samples:
        st.button(
            f"Use the {len(samples)} bundled sample runs",
            key="use_samples",
            on_click=_use_samples,
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
        on_click=_clear_runs,
        disabled=not runs,
        width="stretch",
    )


def _add(key: str, new: list) -> None:
    for run in new:
        runs[run.name] = run
    seen[key] = [r.name for r in new]
    st.rerun()


uploads = [(f.name, f.getvalue()) for f in files or []]
group = one_tag_csvs(uploads) if len(uploads) > 1 else []
if len(group) > 1:
    combine = st.toggle(
        f"Combine the {len(group)} TensorBoard CSVs into one run",
        value=True,
        key="tb_combine",
        help="TensorBoard downloads one tag per CSV file; the files of one run belong together.",
    )
    if combine:
        gkey = "map_" + digest(b"".join(digest(raw).encode() for _, raw in group))[:10]
        if not (gkey in seen and all(n in runs for n in seen[gkey])):
            new = group_form(group, gkey)
            if new:
                _add(gkey, new)
        uploads = [u for u in uploads if u not in group]

for name, raw in uploads:
    key = "map_" + digest(raw)[:10]
    if key in seen and all(n in runs for n in seen[key]):
        continue  # imported earlier in this session
    try:
        if importers.detect(raw, name) == "canonical":
            run = read_upload(name, raw)
            runs[run.name] = run
        else:
            confirmed = mapping_form(name, raw, key, describe(name, raw))
            if confirmed:
                _add(key, confirmed[1])
    except InputError as e:
        st.error(md(e.with_source(name)), icon=":material/error:")
    except Exception:  # noqa: BLE001 - never a traceback; the file is just skipped
        log.exception("could not read the upload %s", name)
        st.error(
            f"{md(name)}: could not be read. Check that it is a UTF-8 CSV with a header row.",
            icon=":material/error:",
        )

# ---------------------------------------------------------------------------- 2. preview
st.subheader("2 · Your runs")
if not runs:
    st.info("No runs yet: upload CSV files or use the bundled sample runs above.")
else:
    rows = []
    for r in runs.values():
        rows.append(
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
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(rows), 300),
        column_config={"peak LR": st.column_config.NumberColumn(format="%.1e")},
    )
    for r in runs.values():
        w = r.sparsity_warning()
        if w:
            st.warning(md(w))
    names = list(runs)
    kept = [n for n in st.session_state.get("preview_runs", []) if n in runs]
    st.session_state["preview_runs"] = kept or names[:8]
    shown = st.multiselect("Runs in the chart", names, key="preview_runs")
    if shown:
        with guard("drawing the runs"):
            chart(runs_figure([runs[n] for n in shown], height=520), key="preview_chart")

# ---------------------------------------------------------------------------- 3. fit
st.subheader("3 · Fit")
if runs:
    names = list(runs)
    train, test = data.sample_split(names) if set(names) <= set(samples) else (names, [])
    st.session_state.setdefault("fit_on", train or names)
    st.session_state.setdefault("hold_out", test)
    st.session_state["fit_on"] = [n for n in st.session_state["fit_on"] if n in runs]
    # runs uploaded since the last rerun join the fit; the samples follow split.json
    known = st.session_state.get("fit_known_runs", set(names))
    st.session_state["fit_on"] += [n for n in names if n not in known and n not in samples]
    st.session_state["fit_known_runs"] = set(names)
    st.session_state["hold_out"] = [
        n for n in st.session_state["hold_out"] if n in runs and n not in st.session_state["fit_on"]
    ]
    # full width, one below the other: side by side, 'Fit on' showed one or two run names
    fit_on = st.multiselect(
        "Fit on", names, key="fit_on", help="The law is fitted jointly to all these runs."
    )
    hold_out = st.multiselect(
        "Hold out (score only)",
        [n for n in names if n not in fit_on],
        key="hold_out",
        help="Predicted with the fitted law, never fitted.",
    )
    fit_runs = [runs[n] for n in fit_on]
    law_opts = ["auto", *LAWS]
    # fixed widths in a row that wraps: side by side when wide, on two rows in a narrow window
    # (five columns squeezed the labels and the checkbox to a few letters at 800 px)
    c = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    law = c.selectbox(
        "Law",
        law_opts,
        index=0,
        key="law",
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
        width=150,
        help="\n".join(f"- **{k}**: {v}" for k, v in S2_FORMS.items()),
    )
    lam_box = c.container(width=240)
    lam = lam_box.select_slider(
        "λ (S2 momentum)",
        LAMBDA_GRID,
        value=LAMBDA,
        key="fit_lambda",
        format_func=lambda v: f"{v:g}" + (" (paper)" if v == LAMBDA else ""),
        help="How long an LR drop keeps paying off (about 1/(1−λ) steps). The paper uses 0.999; "
        "for runs of a few thousand small steps a shorter memory often predicts held-out runs "
        "better. Untick 'choose λ by cross-validation' to set it yourself.",
        disabled=bool(st.session_state.get("fit_lambda_auto")),
    )
    lam_auto = lam_box.checkbox(
        "choose λ by cross-validation",
        value=True,
        key="fit_lambda_auto",
        help="Grouped cross-validation, together with the law: runs sharing a CPT setting are "
        "held out together and predicted by a fit on the others, for λ in "
        f"{', '.join(f'{v:g}' for v in LAMBDA_GRID)}; the λ with the lowest held-out error wins. "
        "Takes tens of seconds.",
    )
    if lam_auto:
        lam = "auto"
    min_step = c.number_input(
        "Fit from step",
        min_value=0,
        value=0,
        step=100,
        key="fit_min_step",
        width=150,
        help="Losses before this step are neither fitted nor scored (the PT warm-up never is). "
        "Skip the first few hundred steps of a small model: its early transient is not what the "
        "law describes. The bundled sample fit starts at step 500.",
    )
    start_fit = c.button(
        "Fit",
        key="fit_button",
        type="primary",
        disabled=not fit_on,
        icon=":material/play_arrow:",
        width=110,
    )
    st.caption(
        "The law form and λ that predict held-out runs best are chosen by cross-validation "
        "(tens of seconds)."
        if law == "auto"
        else f"{LAWS[law]}."
    )
    if start_fit:
        bar = st.progress(0.0, text="Starting the fit…")
        with guard("fitting"):
            outcome = fit_selected(
                runs,
                fit_on,
                hold_out,
                law,
                s2,
                lam,
                progress=lambda f, m: bar.progress(min(f, 1.0), text=m),
                min_step=int(min_step),
            )
            st.session_state[LAST_FIT] = outcome
        bar.empty()
else:
    st.caption("Add runs to fit.")

# ---------------------------------------------------------------------------- 4. results
outcome = st.session_state.get(LAST_FIT)
if isinstance(outcome, FitOutcome):
    st.subheader("4 · Result")
    st.markdown(
        f"Fitted **{outcome.law}** (S2 form *{outcome.s2_form}*, λ = {outcome.param_set.lam:g}) "
        f"on {len(outcome.fitted)} run(s), "
        f"{len(outcome.held_out)} held out, in {outcome.seconds:.1f} s."
    )
    sel = outcome.selection
    if sel is not None:
        st.caption(md(sel.message))
        if sel.candidates:
            with st.expander("Cross-validation: every candidate law and λ", expanded=False):
                st.dataframe(selection_table(sel), hide_index=True, width="stretch")
                st.caption(
                    "Held-out CPT-phase MAE (nats) of each candidate, mean over folds; the fold "
                    "lists and scores are stored in params.json (provenance.model_selection)."
                )
    tabs = st.tabs([TARGET_LABEL[t] for t in outcome.fits])
    for tab, (t, fr) in zip(tabs, outcome.fits.items(), strict=True):
        with tab, guard("showing the fit"):
            (st.success if fr.success else st.warning)(md(fr.message))  # messages name runs
            for w in fr.warnings:
                st.warning(md(w))
            se = fr.stderr()
            p = fr.params.to_dict()
            left, right = st.columns([1, 1.3])
            left.markdown("**Parameters** (± standard error where identified)")
            left.dataframe(
                pd.DataFrame(
                    [
                        {
                            "parameter": k,
                            "value": v,
                            "± std. error": se.get(k),
                            "meaning": MEANING.get(k, ""),
                        }
                        for k, v in p.items()
                        if k != "replay_form"
                    ]
                    + [
                        {
                            "parameter": k,
                            "value": fr.S1pt[k.split("[")[1][:-1]],
                            "± std. error": v,
                            "meaning": "fitted PT forward area of this base model (paper §6)",
                        }
                        for k, v in se.items()
                        if k.startswith("S1pt[")
                    ]
                ),
                hide_index=True,
                width="stretch",
                column_config={
                    "value": st.column_config.NumberColumn(format="%.4g"),
                    "± std. error": st.column_config.NumberColumn(format="%.2g"),
                },
            )
            right.markdown("**Accuracy per run** (loss in nats)")
            right.dataframe(
                pd.DataFrame(
                    [
                        {
                            "run": m.name,
                            "role": "held out" if m.held_out else "fitted",
                            "points": m.n_points,
                            "R²": m.r2,
                            "MAE": m.mae,
                            "max error": m.max_error,
                        }
                        for m in outcome.metrics(t)
                    ]
                ),
                hide_index=True,
                width="stretch",
                column_config={
                    k: st.column_config.NumberColumn(format="%.4f")
                    for k in ("R²", "MAE", "max error")
                },
            )
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
                chart(fit_figure(curves, t), key=f"fit_chart_{t}")
            else:
                st.caption("The runs of this fit are no longer loaded, so no curves are drawn.")
    c = st.columns([1, 1.4, 1.6], vertical_alignment="center")
    c[0].download_button(
        "Download params.json",
        data=dumps(outcome.param_set),
        file_name="params.json",
        mime="application/json",
        key="download_params",
        icon=":material/download:",
        width="stretch",
    )
    if c[1].button(
        "Use this fit on Explore and Learn",
        key="use_fit",
        type="primary",
        icon=":material/check_circle:",
        width="stretch",
    ):
        st.session_state[YOUR_FIT] = outcome.active()
        st.session_state[EXPLORE_PRESET] = data.YOURS
        st.session_state[LEARN_PRESET] = data.YOURS
    active = st.session_state.get(YOUR_FIT)
    if active is not None and active.token == outcome.token:
        c[2].success("This fit is active as “Your fit”.", icon=":material/check:")
        st.page_link("pages/explore.py", label="Explore it", icon=":material/tune:")
