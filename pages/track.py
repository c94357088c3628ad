"""Track: forecast a running CPT job from the losses it has logged so far (cptcore.forecast)."""

import streamlit as st

from cptcore.envelope import outside, setting_of_run, widening
from cptcore.forecast import cut_run, forecast_markdown, forecast_run, step_reaching
from cptcore.plots import forecast_figure
from ui import data
from ui.upload import read_upload, stem
from ui.widgets import chart, guard, md

LEVEL = 0.95
Z95 = 1.959963984540054
DEMO_RUN, DEMO_CUT = "ptconst_cpt-cos_lr1e-3_replay0", 0.2

st.title("Track a running job")
st.markdown(
    "Upload the log of a CPT job that is still running: the **whole planned schedule** (every "
    "step's LR, phase and replay) with losses only where they have been logged. The base fit is "
    "adapted to the CPT losses seen so far (an offset, pulled towards the base fit; README, "
    '"Forecast a running job") and predicts the rest of the run.'
)

available = data.presets()
keys = [k for k in (data.SAMPLE, data.YOURS) if k in available] or list(available)
left, right = st.columns([2, 1], gap="medium")
with right:
    preset_key = st.selectbox(
        "Base parameters",
        keys,
        format_func=lambda k: available[k].label,
        key="track_preset",
        help="The fit to start from: the sample fit, or the fit you made active on the Fit page.",
    )
    target_loss = st.number_input(
        "Domain loss to reach (nats)",
        min_value=0.0,
        max_value=100.0,
        value=None,
        step=0.01,
        format="%.3f",
        key="track_target",
        placeholder="optional",
    )
with left:
    upload = st.file_uploader(
        "The job's log so far (canonical CSV)",
        type=None,
        key="track_upload",
        help="Canonical columns: step, lr, phase (pt/cpt), replay, loss_pt, loss_cpt.",
    )
preset = available[preset_key]

with guard("forecasting the job"):
    if upload is not None:
        run = read_upload(upload.name, upload.getvalue())
        name = upload.name
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
    for o in reasons:
        st.warning(md(o.sentence), icon=":material/warning:")
    last = len(fc.step) - 1
    cols = st.columns(len(fc.targets) + 1)
    for col, (t, tf) in zip(cols, fc.targets.items(), strict=False):
        col.metric(
            f"Final {'general' if t == 'pt' else 'domain'} loss (step {int(fc.step[last]):,})",
            f"{tf.pred[last]:.4f}",
            help=f"{LEVEL:.0%} band {tf.lo[last]:.4f} to {tf.hi[last]:.4f}",
        )
    observed = f"{fc.observed_share:.0%}" if fc.last_observed_step is not None else "none"
    cols[-1].metric(
        "CPT observed",
        observed,
        help="Share of the CPT phase (in summed learning rate) with logged losses so far.",
    )
    tf = fc.targets.get("cpt")
    if target_loss is not None and tf is not None:
        at = step_reaching(fc.step, tf.pred, target_loss, fc.last_observed_step)
        if at is not None:
            st.success(f"Expected to reach the domain loss {target_loss:.3f} at step {at:,}.")
        else:
            st.info(
                f"The domain loss {target_loss:.3f} is not reached within the planned schedule."
            )
    if fc.last_observed_step is None:
        st.caption("No CPT-phase loss logged yet: the forecast is the base prediction.")
    chart(forecast_figure(fc, run, target_loss), key="track_chart")
    st.caption(
        f"Markers: logged losses. Line: the forecast; shaded: the base fit's calibrated {LEVEL:.0%} "
        "band around it (in the backtest it covered 83-89 % of the general and 95-100 % of the "
        "domain losses). Dotted: the last logged CPT step."
    )
    snippet = forecast_markdown(fc, stem(name), LEVEL, target_loss)
    with st.expander("The forecast as Markdown"):
        st.code(snippet, language="markdown")
        st.download_button(
            "Download forecast.md", snippet, file_name="forecast.md", key="track_markdown"
        )
