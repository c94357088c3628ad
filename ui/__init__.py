"""Streamlit glue shared by the pages: session-state keys, presets, cached wrappers, the upload adapter.

Pages import from here; ``cptcore`` never imports streamlit (style guide, "The shape").
"""
