"""Explore's live chart: a plotly chart (a custom component, ``st.components.v2``) that follows some
of the page's own controls in the browser, before the rerun they start has come back.

Python sends one figure with a plotly frame per combination of those controls' neighbouring
values (``plots.framed_figure``: every curve computed here, by ``cptcore``); ``livechart.js``
watches the controls' shown values and switches to the frame named after them. The rerun then
brings the numbers and the chart for the new setting (with new neighbours). plotly.js is the one
the installed ``plotly`` package ships (served by Streamlit, never a CDN: the app works offline)."""

from __future__ import annotations

from pathlib import Path

import plotly
import plotly.io as pio
import streamlit as st
import streamlit.components.v1 as components_v1

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"  # plotly.min.js, offline
_JS = (Path(__file__).with_suffix(".js")).read_text(encoding="utf-8")
_component = st.components.v2.component("cpt_live_chart", js=_JS, isolate_styles=False)
FRAME_SEP = "|"  # a frame's name: the controls' shown values joined by this


def _plotly_url() -> str:
    """Where the browser gets plotly.js: the package's own file, served by Streamlit."""
    served = components_v1.declare_component("plotlyjs", path=str(PLOTLY_DIR))
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return "/" + "/".join(p for p in (base, "component", served.name, "plotly.min.js") if p)


def frame_name(shown: list[str]) -> str:
    return FRAME_SEP.join(shown)


def live_chart(
    fig, key: str, controls: list[str], active: str, config: dict, alt: str = ""
) -> None:
    """Draw ``fig`` (a ``framed_figure``) and switch to its frame named after the shown values of
    the widgets ``controls`` (their keys; ``frame_name``) as soon as one moves."""
    _component(
        key=key,
        data=dict(
            figure=pio.to_json(fig, validate=False),
            plotly=_plotly_url(),
            controls=list(controls),
            active=active,
            config=config,
            alt=alt,
        ),
    )
