"""TensorBoard scalar CSV downloads: ``Wall time,Step,Value``, one tag per file.

Which quantity a file holds comes from its name (TensorBoard names downloads
``run-<run>-tag-<tag>.csv``) or from the user's mapping (role -> file name or tag). Several files
combine into one run. TensorBoard's UI downsamples to 1000 points by default: prefer event files."""

from __future__ import annotations

import os
import re

import pandas as pd

from cptcore.errors import InputError
from cptcore.importers._common import LOG_TABLE, Log
from cptcore.inputs import read_table, text_of, to_float

NAME = "tb-csv"
LABEL = "TensorBoard scalar CSV (Wall time,Step,Value; one tag per file)"


def sniff(data: bytes, filename: str) -> bool:
    head = data[:200].decode("utf-8-sig", errors="ignore").split("\n", 1)[0]
    cols = [c.strip().strip('"').lower() for c in head.split(",")]
    return cols == ["wall time", "step", "value"]


def tag_of(filename: str) -> str:
    """'run-cpt_code-tag-eval_loss_domain.csv' -> 'eval_loss_domain' (else the file's stem)."""
    stem = os.path.splitext(os.path.basename(filename))[0]
    m = re.search(r"-tag-(.+)$", stem)
    return m.group(1) if m else stem


def run_of(filename: str) -> str | None:
    m = re.match(r"run[-_](.+?)-tag-", os.path.basename(filename))
    return m.group(1) if m else None


def parse(data: bytes, filename: str) -> list[Log]:
    text = text_of(data, filename)
    df = read_table(text, filename, LOG_TABLE, "Wall time,Step,Value")
    low = {c.lower(): c for c in df.columns}
    if "step" not in low or "value" not in low:
        raise InputError(
            "not a TensorBoard scalar CSV",
            source=filename,
            received=", ".join(df.columns[:6]),
            fix="Download the scalar as CSV from TensorBoard (columns Wall time,Step,Value)",
        )
    tag = tag_of(filename)
    table = pd.DataFrame(
        {
            "step": to_float(df[low["step"]], filename, "Step"),
            tag: to_float(df[low["value"]], filename, "Value"),
        }
    )
    return [Log(run_of(filename) or tag, filename, table)]
