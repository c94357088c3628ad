"""Parameter presets, the bundled sample runs and the cached simulation every chart is drawn from.

Caches are keyed on small things only (a preset token, a ``WhatIf``, file paths with their
modification times); big objects travel in ``_``-prefixed arguments, which ``st.cache_data`` does not
hash (style guide, "Streamlit facts").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

import streamlit as st

from cptcore import scenario
from cptcore.errors import InputError
from cptcore.params_io import ParamSet, dumps, load
from cptcore.presets import PAPER_FIG3
from cptcore.runs import Run, read_run
from cptcore.scenario import ScenarioView
from cptcore.whatif import PAPER_WHATIF, WhatIf, whatif_from_run
from ui.state import (
    MAX_POINTS,
    SAMPLE_CPT,
    SAMPLE_OPEN_PARAMS,
    SAMPLE_PARAMS,
    SAMPLE_SPLIT,
    YOUR_FIT,
)

SAMPLE, YOURS, PAPER, SAMPLE_OPEN = "sample", "yours", "paper", "sample-open"
PRESET_LABELS = {
    SAMPLE: "Fitted on the sample runs",
    SAMPLE_OPEN: "Sample runs as open models (CPT only, S1pt fitted)",
    YOURS: "Your fit",
    PAPER: "Paper Fig. 3 (106M, FineWeb→Knowledge-Pile)",
}


@dataclass(frozen=True, eq=False)
class Preset:
    """A parameter set the pages can predict with, and the scenario it is best shown with."""

    key: str
    label: str
    ps: ParamSet
    token: str  # changes whenever the parameters change: part of every cache key
    defaults: WhatIf
    note: str


@dataclass(frozen=True, eq=False)
class ActiveFit:
    """The user's fit made active on the Fit page (stored under ``ui.state.YOUR_FIT``)."""

    ps: ParamSet
    token: str
    defaults: WhatIf
    summary: str


def token_of(ps: ParamSet) -> str:
    return hashlib.sha1(dumps(ps).encode()).hexdigest()[:16]


def _mtime(path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


# ----------------------------------------------------------------------------- sample runs
def sample_files() -> tuple[tuple[str, float], ...]:
    """(path, mtime) of every bundled sample CPT run, sorted by name."""
    if not SAMPLE_CPT.is_dir():
        return ()
    return tuple((str(p), _mtime(p)) for p in sorted(SAMPLE_CPT.glob("*.csv")))


@st.cache_data(show_spinner=False, max_entries=4)
def _load_samples(files: tuple[tuple[str, float], ...]) -> dict[str, Run]:
    out = {}
    for path, _ in files:
        try:
            run = read_run(path)
        except InputError:
            continue  # a sample still being written; it shows up on a later rerun
        out[run.name] = run
    return out


def sample_runs() -> dict[str, Run]:
    """The bundled sample runs by name ({} until ``sample_data/cpt/*.csv`` exist)."""
    return _load_samples(sample_files())


def _stem(name: str) -> str:
    return name[:-4] if name.lower().endswith(".csv") else name


def sample_split(names, held: tuple[str, ...] = ("test",)) -> tuple[list[str], list[str]]:
    """(train, test) run names from ``split.json``; every run is 'train' when there is no split.
    ``held`` names the lists that count as test (("test", "extra"): every run it lists but does
    not fit)."""
    names = list(names)
    try:
        d = json.loads(SAMPLE_SPLIT.read_text(encoding="utf-8"))
        train = [_stem(str(x)) for x in d.get("train", [])]
        test = [_stem(str(x)) for k in held for x in d.get(k, [])]
    except (OSError, ValueError, AttributeError):
        return names, []
    return [n for n in names if n in train], [n for n in names if n in test]


def sample_defaults(runs: dict[str, Run]) -> WhatIf:
    """Explore's default settings for the sample fit: those of a typical sample run (steps, LRs)."""
    train, _ = sample_split(runs)
    order = train + [n for n in runs if n not in train]
    cands = [runs[n] for n in order if runs[n].has_cpt and runs[n].pt_history_known]
    if not cands:
        return PAPER_WHATIF
    no_replay = [r for r in cands if r.replay == 0] or cands
    settings = [whatif_from_run(r) for r in no_replay[:12]]
    # the most telling default: an annealed PT and a WSD CPT (re-warm-up, anneal, transfer)
    for ok in (lambda w: w.pt_kind == "wsd" and w.cpt_kind == "wsd", lambda w: w.cpt_kind == "wsd"):
        for w in settings:
            if ok(w):
                return w
    return settings[0]


# ----------------------------------------------------------------------------- presets
@st.cache_data(show_spinner=False, max_entries=4)
def _load_sample_params(path: str, mtime: float) -> ParamSet | str:
    """The sample fit, or the one-line reason it cannot be read."""
    try:
        return load(path)
    except InputError as e:
        return str(e)


def sample_fit_problem() -> str | None:
    """Why there is no 'Fitted on the sample runs' preset (None when there is one)."""
    if not SAMPLE_PARAMS.exists():
        return "No sample fit yet (sample_data/cpt/params.json)"
    got = _load_sample_params(str(SAMPLE_PARAMS), _mtime(SAMPLE_PARAMS))
    return got if isinstance(got, str) else None


def _sample_fits() -> tuple:
    """The bundled fits: (preset key, params file, token tag, what it is); read at call time."""
    return (
        (
            SAMPLE,
            SAMPLE_PARAMS,
            "sample",
            "Fitted by us on the bundled sample runs (a tiny byte-level GPT on CPU).",
        ),
        (
            SAMPLE_OPEN,
            SAMPLE_OPEN_PARAMS,
            "sample-open",
            "Fitted by us on the sample train runs cut to their CPT phase, as if their "
            "pre-training were unknown (paper §6; benchmarks/open_model.py).",
        ),
    )


def presets() -> dict[str, Preset]:
    """The presets available right now, in menu order: sample fit, your fit, the paper's Fig. 3."""
    out: dict[str, Preset] = {}
    for key, path, tag, summary in _sample_fits():
        if path.exists():
            ps = _load_sample_params(str(path), _mtime(path))
            if isinstance(ps, ParamSet):
                out[key] = Preset(
                    key,
                    PRESET_LABELS[key],
                    ps,
                    f"{tag}:{token_of(ps)}",
                    sample_defaults(sample_runs()),
                    summary,
                )
    yours = st.session_state.get(YOUR_FIT)
    if isinstance(yours, ActiveFit):
        out[YOURS] = Preset(
            YOURS,
            PRESET_LABELS[YOURS],
            yours.ps,
            "yours:" + yours.token,
            yours.defaults,
            yours.summary,
        )
    out[PAPER] = Preset(
        PAPER,
        PRESET_LABELS[PAPER],
        ParamSet.from_params(PAPER_FIG3),
        "paper",
        PAPER_WHATIF,
        "The paper's published numbers (Fig. 3, 106M model, peak LR 2e-4): for learning and "
        "comparing, not for planning a run on other data.",
    )
    return out


def default_preset_key(available: dict[str, Preset]) -> str:
    return SAMPLE if SAMPLE in available else PAPER


# ----------------------------------------------------------------------------- simulation
# Explore's live chart asks for 21 settings around each one shown (~100 kB each): room for ~12
@st.cache_data(show_spinner=False, max_entries=256)
def _view(token: str, w: WhatIf, max_points: int, base: str | None, _ps: ParamSet) -> ScenarioView:
    # simulate -> thin -> band; terms and bands at the kept points only
    return scenario.view(_ps, replace(w.scenario(), base=base), max_points, cpt_share=0.5)


def view(
    preset: Preset, w: WhatIf, max_points: int = MAX_POINTS, base: str | None = None
) -> ScenarioView:
    """The scenario ``w`` predicted with ``preset``, thinned for plotting (cached); with ``base``
    CPT starts from that fitted open base model (paper §6) and ``w``'s PT settings are unused."""
    return _view(preset.token, w, max_points, base, preset.ps)
