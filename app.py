"""The CPT scaling-law dashboard: navigation and the home screen (no maths here).

Run with ``streamlit run app.py``.
"""

import json
from importlib.machinery import ModuleSpec

import streamlit as st

from cptcore.plots import scenario_figure, turning_note
from ui import FAVICON, data
from ui.widgets import chart, guard, scenario_alt, scenario_metrics

# Streamlit runs this script as a module '__main__' with a __file__ and no __spec__; worker processes
# started with 'spawn' (the fit's model selection) then run the file again as '__mp_main__', in bare
# mode: the whole app without a session, a stream of "No runtime found" / "missing
# ScriptRunContext" warnings in the server log, and seconds per worker. A spec named '__main__' tells
# them to skip it: their functions live in cptcore, which they import by name.
__spec__ = ModuleSpec("__main__", None)

# a file served by this server: a ':material/...:' page icon is fetched from fonts.gstatic.com,
# which fails offline (the navigation's and buttons' icons use Streamlit's bundled font)
st.set_page_config(page_title="CPT scaling law", page_icon=str(FAVICON), layout="wide")

DESCRIPTIONS = {
    "Explore": "Set up a PT + CPT schedule and replay ratio; see the predicted general and domain "
    "loss, hidden curves, critical point and turning length. Pin scenarios to compare; share a link.",
    "Fit": "Upload your own runs (or use the bundled samples), fit the law, check it on held-out "
    "runs, download params.json and use your fit on the other pages.",
    "Learn": "A six-step guided tour of CPT dynamics with live charts: hidden curves, annealing, "
    "re-warm-up, loss potential, replay, critical point.",
    "Track": "Upload a running job's log so far: the forecast of the rest of the run, with its band "
    "and when the domain loss reaches your target.",
    "Plan": "Choose the CPT peak LR, schedule, steps and replay ratio for a stated goal, and take "
    "the decision away as a report.",
}


def home() -> None:
    st.title("Continual pre-training scaling law")
    st.markdown(
        "Predict how the **general loss rises** and the **domain loss falls** during continual "
        "pre-training (CPT), for any learning-rate schedule, loss potential and replay ratio, "
        "with the law of Wang, Tissue et al. "
        "([ICML 2025, arXiv 2505.07796](https://arxiv.org/abs/2505.07796)). "
        "Fit it to your own runs, or explore with the paper's parameters."
    )
    links = st.columns(len(PAGES) - 1)
    for col, page in zip(links, PAGES[1:], strict=True):
        with col.container(border=True):
            st.page_link(page, label=f"**{page.title}**", icon=page.icon)
            st.caption(DESCRIPTIONS.get(page.title, ""))
    available = data.presets()
    preset = available[data.default_preset_key(available)]
    st.subheader(f"Example with the parameters “{preset.label}”")
    with guard("drawing the example"):
        view = data.view(preset, preset.defaults)
        scenario_metrics(view)
        chart(
            scenario_figure(view, height=720, window="cpt"),
            key="home_chart",
            alt=scenario_alt(view),
        )
        st.caption(
            turning_note(view) + " Dashed: the hidden curves the CPT curve moves between "
            "(continue pre-training on D_pt; trained on D_cpt). Zoomed to the CPT phase: "
            "double-click the chart to see all steps. " + preset.note
        )


PAGES = [
    st.Page(home, title="Home", icon=":material/home:", default=True),
    st.Page("pages/explore.py", title="Explore", icon=":material/tune:", url_path="explore"),
    st.Page("pages/fit.py", title="Fit", icon=":material/query_stats:", url_path="fit"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:", url_path="learn"),
    st.Page("pages/plan.py", title="Plan", icon=":material/flag:", url_path="plan"),
    st.Page("pages/track.py", title="Track", icon=":material/monitoring:", url_path="track"),
]

# Streamlit keeps the theme chosen in the settings menu under the address the session was opened
# at (localStorage "stActiveTheme-<path>-v2"), so F5 on another page fell back to light: the choice
# is copied to every page's address as Streamlit writes it. Our own constant script, no input.
THEME_ON_EVERY_PAGE = """<script>(() => {
  if (window.cptThemeOnEveryPage) return;
  window.cptThemeOnEveryPage = true;
  const pages = %s, setItem = Storage.prototype.setItem;
  const key = /^stActiveTheme-(.*\\/)([^\\/]*)-v(\\d+)$/;
  Storage.prototype.setItem = function (name, value) {
    setItem.call(this, name, value);
    const k = key.exec(name);
    if (this !== window.localStorage || !k || !pages.includes(k[2])) return;
    for (const p of pages) setItem.call(this, `stActiveTheme-${k[1]}${p}-v${k[3]}`, value);
  };
})();</script>"""
with st.container(key="theme_on_every_page"):  # hidden: no gap above the page's title
    st.html(
        "<style>:has(> .st-key-theme_on_every_page) {display: none}</style>"
        + THEME_ON_EVERY_PAGE
        % json.dumps(["", "explore", "fit", "learn", "plan", "track"]),  # url_path of PAGES
        unsafe_allow_javascript=True,
    )

st.navigation(PAGES).run()
