"""Hugging Face ``trainer_state.json``: ``log_history`` holds train rows (``loss``,
``learning_rate``) and eval rows (``eval_loss``, ``eval_<name>_loss``) at the same step; merged by
step. Which eval loss is the general and which the domain set is guessed from ``<name>`` or mapped."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cptcore.errors import InputError
from cptcore.importers._common import MAX_METRICS, Log
from cptcore.inputs import load_json, text_of

NAME = "hf"
LABEL = "Hugging Face trainer_state.json (log_history)"


def sniff(data: bytes, filename: str) -> bool:
    return data.lstrip()[:1] == b"{" and b'"log_history"' in data[:2_000_000]


def _num(v) -> float:
    """A number, or a number written as a string ("10", "3e-4": some tools re-save the state that
    way); NaN for anything else."""
    if isinstance(v, str):
        try:
            return float(v.strip()) if len(v) < 100 else math.nan
        except ValueError:
            return math.nan
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan
    try:
        return float(v)
    except OverflowError:
        return math.inf


def parse(data: bytes, filename: str) -> list[Log]:
    d = load_json(text_of(data, filename), filename)
    hist = d.get("log_history") if isinstance(d, dict) else None
    if not isinstance(hist, list) or not hist:
        raise InputError(
            "no 'log_history' list",
            source=filename,
            fix="Upload trainer_state.json from a checkpoint folder (checkpoint-N/trainer_state.json)",
        )
    steps, rows = [], []
    keys: dict[str, None] = {}
    for i, entry in enumerate(hist):
        if not isinstance(entry, dict) or "step" not in entry:
            raise InputError(
                "a log_history entry has no 'step'",
                source=filename,
                row=i + 1,
                received=str(entry)[:40],
                fix="Upload trainer_state.json as the Trainer wrote it",
            )
        step = _num(entry["step"])
        if math.isnan(step):
            raise InputError(
                "a log_history entry's 'step' is not a number",
                source=filename,
                row=i + 1,
                received=str(entry["step"])[:40],
                fix='Each entry needs its optimizer step as a number, e.g. "step": 10',
            )
        steps.append(step)
        row = {}
        for k, v in entry.items():
            if k in ("step", "epoch") or not isinstance(k, str):
                continue
            x = _num(v)
            if not math.isnan(x):
                row[k] = x
                keys[k] = None
        rows.append(row)
        if len(keys) > MAX_METRICS:
            raise InputError("too many metric names", source=filename, received=len(keys))
    table = pd.DataFrame(rows, columns=list(keys), dtype=float)
    table.insert(0, "step", np.asarray(steps, dtype=float))
    name = d.get("run_name") or d.get("trial_name") or "trainer_state"
    return [Log(str(name), filename, table)]
