"""Weights & Biases CSV exports: a panel export (``Step`` + ``<run> - <metric>`` columns, with
``__MIN``/``__MAX`` envelope columns that are ignored; one file may hold several runs) or a run-history
export (``_step`` + metric columns, one run).

W&B samples panel exports (sparse rows), so the LR is often better rebuilt from the schedule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cptcore.errors import InputError
from cptcore.importers._common import LOG_TABLE, Log
from cptcore.inputs import read_table, text_of, to_float

NAME = "wandb"
LABEL = "Weights & Biases CSV export (Step, '<run> - <metric>' columns)"
SEP = " - "


def _header(data: bytes) -> list[str]:
    head = data[:20_000].decode("utf-8-sig", errors="ignore").split("\n", 1)[0]
    return [c.strip().strip('"') for c in head.split(",")]


def _step_column(cols: list[str]) -> str | None:
    """'Step' (panel export), '_step' (history export) or a custom x-axis such as
    'trainer/global_step' (a panel whose x-axis was changed)."""
    for c in ("Step", "_step"):
        if c in cols:
            return c
    return next((c for c in cols if SEP not in c and "step" in c.lower()), None)


def sniff(data: bytes, filename: str) -> bool:
    cols = _header(data)
    if "_step" in cols:
        return True
    return _step_column(cols) is not None and any(SEP in c for c in cols)


def parse(data: bytes, filename: str) -> list[Log]:
    text = text_of(data, filename)
    df = read_table(text, filename, LOG_TABLE, "Step and a few '<run> - <metric>' columns")
    step_col = _step_column(list(df.columns))
    if step_col is None:
        raise InputError(
            "no 'Step' column",
            source=filename,
            received=", ".join(df.columns[:6]),
            fix="Export the panel from W&B with its x-axis set to Step",
        )
    step = to_float(df[step_col], filename, step_col)
    runs: dict[str, dict[str, str]] = {}  # run -> metric -> column
    for c in df.columns:
        if c == step_col or c.endswith("__MIN") or c.endswith("__MAX") or c.startswith("_"):
            continue
        if SEP not in c:
            run, metric = filename.rsplit(".", 1)[0], c
        else:
            run, metric = c.rsplit(SEP, 1)
            if metric.strip().startswith("_"):  # '<run> - _step', '_runtime': bookkeeping
                continue
        runs.setdefault(run.strip(), {})[metric.strip()] = c
    if not runs:
        raise InputError(
            "no metric columns besides the step",
            source=filename,
            fix="Export a panel that shows the LR and the validation losses",
        )
    logs = []
    for run, cols in runs.items():
        # one frame from all columns at once (inserting hundreds one by one fragments it)
        table = pd.DataFrame(
            {"step": step, **{metric: to_float(df[c], filename, c) for metric, c in cols.items()}}
        )
        keep = table.drop(columns="step").notna().any(axis=1).to_numpy() & np.isfinite(step)
        logs.append(Log(run, filename, table[keep].reset_index(drop=True)))
    return logs
