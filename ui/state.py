"""Session-state keys (the only ones the pages share) and where the bundled sample data lives.

- ``YOUR_FIT``: the parameter set the user made active on the Fit page (``ActiveFit``).
- ``RUNS``: runs loaded on the Fit page, name -> ``cptcore.runs.Run`` (uploads and samples).
- ``LAST_FIT``: the last fit on the Fit page (``FitOutcome``); kept when a later upload is bad.
- ``UPLOAD_CACHE``: this session's parsed uploads (``ui.upload``), bounded in entries and bytes.
- ``PINS``: pinned Explore scenarios (``cptcore.plots.ScenarioView``), at most ``MAX_PINS``.
- ``LINK_NOTES``: what Explore could not take from its link as given (shown until the preset
  changes); ``LINK_SEEN``: the link values already read, so each is read once per session;
  ``LINK_PENDING``: numbers a link gave the sliders, still to be written back to the URL.
- ``EXPLORE_LAST``: the scenario Explore's controls last described and whether the user had set
  any of them (``ui.widgets.ExploreScenario``); ``NEW_FIT``: set by the Fit page's 'Use this fit'
  button, read once by Explore (``ui.widgets.take_new_fit``); ``EXPLORE_NOTE``: what Explore kept
  of the user's scenario for the new fit (shown until the preset changes or the schedule is reset).
- ``TRACK_MAPPINGS``: on the Track page, file name -> the mapping confirmed for it (``ui.mapping``),
  so a log re-uploaded as the run goes on is read the same way. ``TRACK_UPLOAD``: the log last
  uploaded there, (name, bytes), shown again after a page switch emptied the upload box.
- ``EXPLORE_PRESET`` / ``LEARN_PRESET``: the preset selectors of Explore and Learn (widget keys; the
  Fit page sets both to "yours" when the user makes a fit active). Explore's widget keys are also
  its URL query parameters (``bind="query-params"``), so they are short: see ``ui.widgets.KEYS``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CPT = ROOT / "sample_data" / "cpt"
SAMPLE_PARAMS = SAMPLE_CPT / "params.json"
# the sample train runs cut to their CPT phase and fitted as open models (benchmarks/open_model.py)
SAMPLE_OPEN_PARAMS = SAMPLE_CPT / "params_open.json"
SAMPLE_SPLIT = SAMPLE_CPT / "split.json"

YOUR_FIT = "cpt_your_fit"
RUNS = "cpt_runs"
SEEN_UPLOADS = "cpt_seen_uploads"
LAST_FIT = "cpt_last_fit"
UPLOAD_CACHE = "cpt_upload_cache"
PINS = "cpt_pins"
LINK_NOTES = "cpt_link_notes"
LINK_SEEN = "cpt_link_seen"
LINK_PENDING = "cpt_link_pending"
TRACK_MAPPINGS = "cpt_track_mappings"
EXPLORE_LAST = "cpt_explore_last"
NEW_FIT = "cpt_new_fit"
EXPLORE_NOTE = "cpt_explore_note"
TRACK_UPLOAD = "cpt_track_upload"
LIVE_LAST = "cpt_live_last"  # (preset token, base, WhatIf) Explore's live chart last drew
EXPLORE_PRESET = "preset"
LEARN_PRESET = "learn_preset"
MAX_PINS = 4
MAX_POINTS = 1200  # points per trace sent to the browser, half of them in the CPT window (ui.data)
