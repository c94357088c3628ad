"""Track: forecast a running CPT job from the losses it has logged so far (cptcore.forecast)."""

import numpy as np
import streamlit as st

from cptcore import importers
from cptcore.envelope import outside, outside_warnings, setting_of_run, widening
from cptcore.errors import InputError
from cptcore.forecast import (
    cut_run,
    forecast_markdown,
    forecast_run,
    target_reach,
    target_sentence,
)
from cptcore.inputs import loss_to_reach
from cptcore.plots import forecast_figure
from ui import data, run_through_app
from ui.mapping import mapping_form
from ui.state import TRACK_MAPPINGS, TRACK_UPLOAD
from ui.upload import describe, read_upload, stem
from ui.widgets import chart, columns_stacking_below, guard, in_page_words, md

LEVEL = 0.95
Z95 = 1.959963984540054
# the demo: a held-out sample run (not fitted on) inside the sample fit's envelope, so it opens
# without an out-of-range warning (a cosine CPT's mean LR is outside the fitted 88-98 %)
DEMO_RUN, DEMO_CUT = "ptconst_cpt-wsd_lr1e-3_replay0.25", 0.2
TARGET_LABEL = "Domain loss to reach (nats)"

run_through_app()
st.title("Track a running job")
st.markdown(
    "Upload the log of a CPT job that is still running: the **whole planned schedule** (every "
    "step's LR, phase and replay) with losses only where they have been logged, or any log the "
    "Fit page reads (W&B, TensorBoard, Hugging Face, Megatron, other tables) with the planned "
    "schedule given in its mapping. Re-upload the file as the run goes on: a mapping you confirmed "
    "is used again for the same file name. The base fit is adapted to the CPT losses seen so far "
    "(its offset and the shift's speed, following the latest points; README, "
    '"Forecast a running job") and predicts the rest of the run.'
)
mappings: dict = st.session_state.setdefault(TRACK_MAPPINGS, {})

available = data.presets()
keys = [k for k in (data.SAMPLE, data.YOURS) if k in available] or list(available)
# stacked below 640 px: at 800 px the side column cut "Fitted on the sample runs"
left, right = columns_stacking_below("track_top", [3, 2], gap="medium")
with right:
    preset_key = st.selectbox(
        "Base parameters",
        keys,
        format_func=lambda k: available[k].label,
        key="track_preset",
        persist_state="session",
        help="The fit to start from: the sample fit, or the fit you made active on the Fit page.",
    )
    target_loss = st.number_input(
        TARGET_LABEL,
        value=None,
        step=0.01,
        format="%.3f",
        key="track_target",
        persist_state="session",
        placeholder="optional",
    )
    if target_loss is not None:  # the Plan page's rule (no silent bounds: -3 was dropped unsaid)
        try:
            target_loss = loss_to_reach(target_loss)
        except InputError as e:
            st.error(md(in_page_words(e, {"domain-target": TARGET_LABEL})), icon=":material/error:")
            target_loss = None


def _upload_changed() -> None:
    """The user added, replaced or removed the log: forget the one kept (``TRACK_UPLOAD``) when it
    was removed. (A page switch empties the upload box too, without this callback.)"""
    if st.session_state.get("track_upload") is None:
        st.session_state[TRACK_UPLOAD] = None


with left:
    upload = st.file_uploader(
        "The job's log so far",
        type=None,
        key="track_upload",
        on_change=_upload_changed,
        help="A canonical CSV (step, lr, phase, replay, loss_pt, loss_cpt) with the whole planned "
        "schedule, or a training log: W&B or TensorBoard export, TensorBoard event file, "
        "trainer_state.json, Megatron log, other table.",
    )
preset = available[preset_key]


def _forget_upload() -> None:
    st.session_state[TRACK_UPLOAD] = None


def _forget_mapping(name: str) -> None:
    mappings.pop(name, None)


def uploaded_run(name: str, raw: bytes):
    """The job in an upload: a canonical CSV as is; another log through the mapping confirmed
    for this file name (asked for once, then reused when the file is uploaded again)."""
    if importers.detect(raw, name) == "canonical":
        return read_upload(name, raw)
    if name not in mappings:
        st.caption(
            "A running job's log holds the LR only up to its last step: describe the whole planned "
            "schedule under 'rebuild the LR from a schedule' (PT and CPT joined by ';') so the "
            "forecast can run to its end."
        )
        confirmed = mapping_form(name, raw, "track_map", describe(name, raw))
        if confirmed is None:
            st.stop()
        mappings[name] = confirmed[0]
        st.rerun()  # without the form: it was drawn before Import was clicked
    mapping = mappings[name]
    st.button(
        f"Change the mapping of {name}",
        key="track_remap",
        on_click=_forget_mapping,
        args=(name,),
        icon=":material/tune:",
        help="Read with the mapping you confirmed for this file name. Click to choose it again.",
    )
    runs = mapping.runs(name, raw)  # before: a mapping that no longer fits can be changed
    if len(runs) > 1:
        pick = st.selectbox(
            "Run in the log", [r.name for r in runs], key="track_run", persist_state="session"
        )
        runs = [r for r in runs if r.name == pick]
    last = runs[0].loss_pt[-1], runs[0].loss_cpt[-1]
    if not mapping.schedule.strip() and np.isfinite(last).any():  # a loss at the last row
        st.info(
            "The log's LR ends at its last logged step, so there is nothing after it to forecast: "
            "choose 'Change the mapping' and describe the whole planned schedule under 'rebuild "
            "the LR from a schedule'."
        )
    return mapping.planned(runs[0])


with guard("forecasting the job"):
    if upload is not None:  # kept for the session: Streamlit empties the box on a page switch
        st.session_state[TRACK_UPLOAD] = (upload.name, upload.getvalue())
    elif st.session_state.get(TRACK_UPLOAD):
        st.caption(
            md(f"Showing {st.session_state[TRACK_UPLOAD][0]}, uploaded earlier in this session. ")
            + "Upload it again to update the forecast."
        )
        st.button("Forget this log", key="track_forget", on_click=_forget_upload)
    if st.session_state.get(TRACK_UPLOAD):
        name, raw = st.session_state[TRACK_UPLOAD]
        run = uploaded_run(name, raw)
    else:
        samples = data.sample_runs()
        if DEMO_RUN not in samples:
            st.info("Upload a running job's log to see its forecast.")
            st.stop()
        run = cut_run(samples[DEMO_RUN], DEMO_CUT)
        name = f"{DEMO_RUN} (cut at {DEMO_CUT:.0%} of CPT)"
        st.caption(md(f"No upload yet: showing the sample run {name}, its later losses hidden."))
    reasons = outside(preset.ps.envelope, setting_of_run(run)) if run.has_cpt else []
    fc = forecast_run(preset.ps, run, z=Z95, widen=widening(reasons), source=name)
    for text in outside_warnings(reasons, "the forecast extrapolates", widening(reasons)):
        st.warning(md(text), icon=":material/warning:")
    for odd in fc.implausible:
        st.error(md(odd.sentence), icon=":material/block:")
    untrusted = {odd.target for odd in fc.implausible}
    last = len(fc.step) - 1
    cols = st.columns(len(fc.targets) + 1)
    for col, (t, tf) in zip(cols, fc.targets.items(), strict=False):
        which = "general" if t == "pt" else "domain"
        numbers = f"{tf.pred[last]:.4f}; {LEVEL:.0%} band {tf.lo[last]:.4f} to {tf.hi[last]:.4f}"
        col.metric(
            f"{which.capitalize()} at the end",
            "—" if t in untrusted else f"{tf.pred[last]:.4f}",  # short: "not plausible" is cut
            help=f"Forecast {which} loss at the last step of the schedule "
            f"({int(fc.step[last]):,}): {numbers}"
            + (" - not a plausible loss: see the message above." if t in untrusted else "."),
        )
    observed = f"{fc.observed_step_share:.0%}" if fc.last_observed_step is not None else "none"
    cols[-1].metric(
        "CPT observed",
        observed,
        help=f"Share of the CPT steps with logged losses so far ({fc.observed_share:.0%} of the "
        "CPT phase's summed learning rate, the law's clock).",
    )
    if target_loss is not None and "cpt" in fc.targets:
        sentence = md(target_sentence(fc, target_loss, LEVEL))
        reached = target_reach(fc, target_loss).step is not None
        (st.success if reached else st.info)(sentence)
    if fc.last_observed_step is None:
        logged = [tf.logged for tf in fc.targets.values() if tf.logged is not None]
        if any(np.isfinite(y).any() for y in logged):  # logged, but before the rows a fit uses
            start = max(f.min_step for f in preset.ps.fits.values())
            st.caption(
                "The CPT losses logged so far all come before the rows the base fit uses (after "
                f"the warm-up and from step {start:,}): the forecast is the base prediction, not "
                "adapted to them."
            )
        else:
            st.caption("No CPT-phase loss logged yet: the forecast is the base prediction.")
    chart(forecast_figure(fc, run, target_loss), key="track_chart")
    st.caption(
        f"Markers: logged losses. Line: the forecast; shaded: the base fit's calibrated {LEVEL:.0%} "
        "band around it (in the backtest it covered 84-96 % of the general and 91-99 % of the "
        "domain losses). Dotted: the last logged CPT step."
    )
    snippet = forecast_markdown(fc, stem(name), LEVEL, target_loss, [o.warning() for o in reasons])
    with st.expander("The forecast as Markdown"):
        st.code(snippet, language="markdown")
        st.download_button(
            "Download forecast.md", snippet, file_name="forecast.md", key="track_markdown"
        )
