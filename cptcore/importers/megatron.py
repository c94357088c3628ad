"""Megatron-LM (and Megatron-DeepSpeed / NeMo-Megatron) stdout logs.

Training lines:   `` iteration      100/  500000 | consumed samples: 12800 | ... | learning rate:
3.000000E-04 | ... | lm loss: 3.214E+00 | ...`` -> metrics ``learning rate``, ``train lm loss``.
Validation lines: `` validation loss at iteration 1000 | lm loss value: 2.72E+00 | lm loss PPL: ...``
-> ``validation lm loss``; forks that evaluate several sets print ``... at iteration 1000 [code] |``
or ``... on <name> |`` -> ``validation lm loss [code]``; ``on test set`` -> ``test lm loss``.
Other lines (warnings, timers, rank prefixes such as ``0:``) are ignored.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cptcore.errors import InputError
from cptcore.importers._common import MAX_METRICS, Log
from cptcore.inputs import text_of
from cptcore.runs import MAX_STEPS

NAME = "megatron"
LABEL = "Megatron-LM stdout log (iteration / learning rate / validation loss lines)"

_ITER = re.compile(r"\biteration\s+(\d+)\s*/\s*\d+\s*\|(.*)")
_VAL = re.compile(
    r"\bvalidation loss at iteration\s+(\d+)(?:\s+on\s+([^|\[]+?))?\s*(?:\[([^\]|]+)\])?\s*\|(.*)"
)
_FIELD = re.compile(
    r"([A-Za-z][A-Za-z0-9_/ ()-]*?)\s*:\s*([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))"
)


def sniff(data: bytes, filename: str) -> bool:
    head = data[:65536].decode("utf-8", errors="ignore")
    return bool(_VAL.search(head)) or (
        bool(_ITER.search(head)) and "learning rate:" in head and "lm loss" in head
    )


def _fields(rest: str) -> dict[str, float]:
    return {k.strip().lower(): float(v) for k, v in _FIELD.findall(rest)}


def parse(data: bytes, filename: str) -> list[Log]:
    text = text_of(data, filename)
    rows: dict[str, dict[int, float]] = {}

    def step_of(digits: str, lineno: int) -> int:
        # checked on the digits: a damaged line may hold a 30-digit (or 5000-digit) number
        digits = digits.lstrip("0") or "0"
        if len(digits) > len(str(MAX_STEPS)) or int(digits) > MAX_STEPS:
            raise InputError(
                "iteration number beyond the supported run length",
                source=filename,
                row=lineno,
                received=digits,
                fix=f"Runs up to {MAX_STEPS:,} steps are supported; check that line of the log",
            )
        return int(digits)

    def put(metric: str, step: int, value: float) -> None:
        rows.setdefault(metric, {})[step] = value  # a resumed run re-logs steps: the last wins
        if len(rows) > MAX_METRICS:
            raise InputError("too many metric names", source=filename, received=len(rows))

    for lineno, line in enumerate(text.splitlines(), 1):
        if "iteration" not in line:
            continue
        m = _VAL.search(line)
        if m:
            step, on, panel, rest = (
                step_of(m.group(1), lineno),
                (m.group(2) or "").strip(),
                m.group(3),
                m.group(4),
            )
            f = _fields(rest)
            value = f.get("lm loss value", f.get("loss value"))
            if value is None:
                continue
            where = panel or ("" if on in ("", "validation set") else on)
            base = "test lm loss" if on == "test set" else "validation lm loss"
            put(f"{base} [{where}]" if where and on != "test set" else base, step, value)
            continue
        m = _ITER.search(line)
        if m:
            step, f = step_of(m.group(1), lineno), _fields(m.group(2))
            if "learning rate" in f:
                put("learning rate", step, f["learning rate"])
            if "lm loss" in f:
                put("train lm loss", step, f["lm loss"])
    if not rows:
        raise InputError(
            "no Megatron iteration or validation lines found",
            source=filename,
            fix="Upload the training job's stdout log, or export the metrics as CSV",
        )
    steps = np.array(sorted({s for r in rows.values() for s in r}), dtype=np.int64)
    table = pd.DataFrame(  # at once: inserting hundreds of columns one by one fragments it
        {
            "step": steps.astype(float),
            **{
                metric: pd.Series(points, dtype=float).reindex(steps).to_numpy()
                for metric, points in rows.items()
            },
        }
    )
    return [Log("megatron", filename, table)]
