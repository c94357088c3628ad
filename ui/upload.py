"""The upload -> canonical run adapter: canonical CSVs directly, other tables via a column mapping."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from cptcore.errors import InputError
from cptcore.runs import REQUIRED, Run, parse_table, read_run, run_from_frame

NONE = "(none)"


def digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def stem(filename: str) -> str:
    return filename.rsplit(".", 1)[0] if "." in filename else filename


@st.cache_data(show_spinner=False, max_entries=64)
def _read(key: str, filename: str, _data: bytes) -> Run:
    # read_run names the source by ``name`` (so errors say 'file.csv'); the run drops the extension
    return replace(read_run(_data, name=filename), name=stem(filename))


def read_upload(filename: str, data: bytes) -> Run:
    """A canonical run from uploaded bytes (cached on the bytes' hash); ``InputError`` if bad."""
    try:
        return _read(digest(data) + filename, filename, data)
    except InputError as e:
        raise e.with_source(filename) from None


def needs_mapping(filename: str, data: bytes) -> pd.DataFrame | None:
    """The parsed table when the file is a readable table without the canonical columns, else None."""
    try:
        df = parse_table(data, filename)
    except InputError:
        return None
    cols = {str(c).strip().lower().lstrip("\ufeff") for c in df.columns}
    if all(c in cols for c in REQUIRED):
        return None
    return df if len(df.columns) >= 2 else None


def mapped_run(
    df: pd.DataFrame,
    filename: str,
    step: str,
    lr: str,
    loss_pt: str,
    loss_cpt: str,
    cpt_start: int | None,
    replay: float,
) -> Run:
    """Build the canonical table from chosen columns and validate it (``run_from_frame``).

    Rows with step <= ``cpt_start`` are pre-training, later rows CPT; ``cpt_start`` None means a
    CPT-only run with unknown pre-training history (steps counted from the start of CPT)."""
    for label, col in (("step", step), ("lr", lr)):
        if col == NONE:
            raise InputError(
                f"choose the {label} column",
                source=filename,
                fix=f"Pick which column holds the {label}",
            )
    if loss_pt == NONE and loss_cpt == NONE:
        raise InputError(
            "choose at least one loss column",
            source=filename,
            fix="Pick the general (loss_pt) or domain (loss_cpt) validation loss",
        )
    steps = pd.to_numeric(df[step], errors="coerce")
    phase = np.where(steps > cpt_start, "cpt", "pt") if cpt_start is not None else "cpt"
    canon = pd.DataFrame(
        {
            "step": df[step],
            "lr": df[lr],
            "phase": phase,
            "replay": replay,
            "loss_pt": df[loss_pt] if loss_pt != NONE else "",
            "loss_cpt": df[loss_cpt] if loss_cpt != NONE else "",
        }
    )
    return run_from_frame(canon, name=stem(filename), source=filename)


def guess(columns: list[str], *words: str) -> str:
    """The first column whose name contains one of ``words`` (case-insensitive), else (none)."""
    for w in words:
        for c in columns:
            if w in c.lower():
                return c
    return NONE
