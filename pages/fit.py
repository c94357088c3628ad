"""Fit: load runs (upload or samples), fit the law, check it on held-out runs, use or download it."""

import streamlit as st

from cptcore import importers
from cptcore.errors import InputError
from ui import data, fitpage, run_through_app
from ui.fitting import FitOutcome
from ui.mapping import group_form, mapping_form
from ui.state import LAST_FIT, RUNS, SEEN_UPLOADS
from ui.upload import describe, digest, one_tag_csvs, read_upload
from ui.widgets import log, md

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

# ---------------------------------------------------------------------------- 1. add runs
st.subheader("1 · Add runs")
# a row that wraps: the buttons beside the uploader when wide, below it in a narrow window
# (a third of 800 px cut 'Use the N bundled sample runs' to a few letters)
up, side = fitpage.upload_row()
with up:
    files = st.file_uploader(
        "Upload one or more runs or training logs",
        type=None,
        accept_multiple_files=True,
        key="upload",
        help="Canonical columns: step, lr, phase (pt/cpt), replay, loss_pt, loss_cpt.",
    )
with side:
    fitpage.sample_buttons(runs, seen, samples)

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
        persist_state="session",
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
    fitpage.runs_preview(runs)

# ---------------------------------------------------------------------------- 3. fit
st.subheader("3 · Fit")
if runs:
    fit_on, hold_out = fitpage.run_selection(runs, samples)
    law, s2, lam, min_step, start_fit = fitpage.fit_settings(can_fit=bool(fit_on))
    if start_fit:
        fitpage.fit_with_progress(runs, fit_on, hold_out, law, s2, lam, min_step)
else:
    st.caption("Add runs to fit.")

# ---------------------------------------------------------------------------- 4. results
outcome = st.session_state.get(LAST_FIT)
if isinstance(outcome, FitOutcome):
    st.subheader("4 · Result")
    fitpage.result_summary(outcome)
    fitpage.result_tabs(outcome, runs)
    fitpage.use_or_download(outcome)
