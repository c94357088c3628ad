"""Streamlit glue shared by the pages: session-state keys, presets, cached wrappers, the upload adapter.

Pages import from here; ``cptcore`` never imports streamlit (style guide, "The shape").
"""

from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parent.parent / "app.py"
FAVICON = Path(__file__).resolve().parent / "favicon.svg"  # the page icon, served locally


def run_through_app() -> None:
    """Call first in every page: make sure the page runs inside app.py's ``st.navigation``.

    Streamlit 1.67 decides once per server process whether the app is a legacy multipage app:
    ``PagesManager.uses_pages_directory`` is set to True when the first session finds a ``pages/``
    folder next to app.py, and only a call of ``st.navigation`` sets it back to False. While it is
    True the script runner does not run app.py: ``_mpa_v1`` lists ``pages/*.py`` itself (labels
    from the file names: "app, explore, ...") and runs the file whose name matches the URL, bare
    (no page config, no navigation). So the first visitor after a server start who opens a page
    link gets the bare page, and so does every later visitor of a page link until someone opens
    ``/`` (whose app.py reaches ``st.navigation``). A URL matching no file name runs app.py after a
    "Page not found" message. Here, in a bare run: run app.py in this same run - its
    ``st.navigation`` ends the legacy mode for the process and runs this page inside it (a page's
    id is a hash of its url_path, the same in both modes; the query string is kept) - and stop the
    bare run. Not ``st.rerun()``: AppTest re-enters the legacy mode on every run, and a rerun would
    drop a button click made in that run. Once app.py has run, this does nothing.
    ``tests/app/test_pages_run_through_app.py`` checks that every page calls it first.
    """
    import runpy

    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        runpy.run_path(str(APP), run_name="__main__")
        st.stop()
