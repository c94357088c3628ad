"""Streamlit glue shared by the pages: session-state keys, presets, cached wrappers, the upload adapter.

Pages import from here; ``cptcore`` never imports streamlit (style guide, "The shape").
"""

from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parent.parent / "app.py"
FAVICON = Path(__file__).resolve().parent / "favicon.svg"  # the page icon, served locally


def run_through_app() -> None:
    """Call first in every page: make sure the page runs inside app.py's ``st.navigation``.

    Streamlit 1.67 treats a ``pages/`` folder as the legacy multipage app until some script in the
    server process has called ``st.navigation``: the first visitor after a server start who opens a
    page link (e.g. a shared ``/explore?...`` scenario) gets the bare page script, without app.py's
    page config and navigation. In that case run app.py here - its ``st.navigation`` switches the
    legacy mode off and runs this same page inside it, with the URL's query parameters - and stop
    the bare run. Afterwards (and always, once any session has run app.py) this does nothing.
    """
    import runpy

    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        runpy.run_path(str(APP), run_name="__main__")
        st.stop()
