"""Generic tables: CSV / TSV / semicolon-separated, or JSON lines (one object per line), with a
column mapping (role -> column). Unmapped roles are guessed from the column names."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cptcore.errors import InputError
from cptcore.importers._common import (
    CLI_ADVICE,
    LOG_TABLE,
    MAX_METRICS,
    Advice,
    Log,
    tokens,
)
from cptcore.inputs import load_json, read_table, text_of, to_float

NAME = "generic"
LABEL = "Generic CSV/TSV/JSON-lines table with a column mapping"
STEP_NAMES = (
    "step",
    "steps",
    "global_step",
    "iteration",
    "iter",
    "it",
    "_step",
    "trainer/global_step",
)


def sniff(data: bytes, filename: str) -> bool:
    return True  # the fallback for text tables


def _rows_from_jsonl(text: str, source: str) -> pd.DataFrame:
    rows = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        obj = load_json(line, source)
        if not isinstance(obj, dict):
            raise InputError(
                "each line must be one JSON object",
                source=source,
                row=i + 1,
                received=type(obj).__name__,
                fix='Write one {"step": ..., "lr": ..., "loss": ...} object per line',
            )
        rows.append({str(k): v for k, v in obj.items() if not isinstance(v, (dict, list))})
        if len(rows) == 1 and len(rows[0]) > MAX_METRICS:
            raise InputError("too many keys per line", source=source, received=len(rows[0]))
    df = pd.DataFrame(rows)
    if df.shape[1] > MAX_METRICS:
        raise InputError("too many distinct keys", source=source, received=df.shape[1])
    return df.astype(object).where(df.notna(), "").astype(str)


def _frame(data: bytes, filename: str) -> tuple[pd.DataFrame, int]:
    """The table as text cells, and the file row of its first data row (1 for JSON lines, 2 for a
    table under a header)."""
    text = text_of(data, filename)
    if text.lstrip()[:1] == "{":
        return _rows_from_jsonl(text, filename), 1
    return read_table(text, filename, LOG_TABLE, "step, lr and the validation losses"), 2


def step_column_of(columns) -> str | None:
    """The column that counts optimizer steps, by name ('step', 'global_step', 'iteration', ...)."""
    by_low = {str(c).lower(): c for c in columns}
    found = next((by_low[s] for s in STEP_NAMES if s in by_low), None)
    return found if found is not None else next((c for c in columns if "step" in tokens(c)), None)


def columns(data: bytes, filename: str) -> list[str]:
    """The table's column names (JSON lines: the keys)."""
    return [str(c) for c in _frame(data, filename)[0].columns]


def parse(
    data: bytes, filename: str, step_column: str | None = None, advice: Advice = CLI_ADVICE
) -> list[Log]:
    df, offset = _frame(data, filename)
    if df.empty:
        raise InputError("no data rows", source=filename, fix="Give at least two rows")
    if step_column is None:
        step_column = step_column_of(df.columns)
    if step_column not in df.columns:
        raise InputError(
            "no step column"
            if step_column is None
            else "the step column named in the mapping is missing",
            source=filename,
            received=", ".join(map(str, df.columns[:6])),
            fix=advice.map_step,
        )
    columns = {"step": to_float(df[step_column], filename, step_column, offset)}
    text_cols = {}
    for c in df.columns:
        if c == step_column:
            continue
        s = df[c].astype(str).str.strip()
        vals = pd.to_numeric(s, errors="coerce")
        if vals.notna().any() or (s == "").all():
            columns[c] = (
                to_float(df[c], filename, c, offset)
                if vals.notna().any()
                else np.full(len(df), np.nan)
            )
        else:
            text_cols[c] = s
    table = pd.DataFrame(columns)  # at once: inserting hundreds of columns one by one fragments it
    name = os.path.splitext(os.path.basename(filename))[0]
    return [Log(name, filename, table, text_cols)]
