"""Importers on wide and damaged logs (issue 12): one line means one line - no flood of pandas
warnings for logs with hundreds of metrics - and a damaged TensorBoard record is refused by name and
byte offset instead of silently dropping the rest of the file. (The one-line messages for single bad
files are in tests/bad_inputs/.)"""

import struct
import warnings

import numpy as np
import pytest

from cptcore.importers import read_any
from tests.bad_inputs.make_corpus import _record, _scalar_event

N_METRICS = 200


def _wandb_wide() -> bytes:
    head = ['"Step"', '"r - train/lr"', '"r - eval/loss_code"']
    head += [f'"r - extra/m{i}"' for i in range(N_METRICS)]
    rows = [
        ",".join([str(s), "0.0003", f"{3 - s / 1000}", *["1"] * N_METRICS]) for s in (0, 50, 100)
    ]
    return ("\n".join([",".join(head), *rows]) + "\n").encode()


def _generic_wide() -> bytes:
    head = ["step", "lr", "val_loss_code", *[f"m{i}" for i in range(N_METRICS)]]
    rows = [
        ",".join([str(s), "0.0003", f"{3 - s / 1000}", *["1"] * N_METRICS]) for s in (0, 50, 100)
    ]
    return ("\n".join([",".join(head), *rows]) + "\n").encode()


def _megatron_wide() -> bytes:
    lines = [
        f" validation loss at iteration {s} [set{i}] | lm loss value: 3.0E+00 |"
        for s in (10, 20, 30)
        for i in range(N_METRICS)
    ]
    lines += [
        f" iteration {s}/ 100 | learning rate: 3.0E-04 | lm loss: 3.1E+00 |" for s in (10, 20, 30)
    ]
    return ("\n".join(lines) + "\n").encode()


def _events_wide(n_tags: int = 152) -> bytes:
    def event(step: int) -> bytes:
        values = b""
        for tag, x in [("train/lr", 3e-4), ("eval/loss_code", 3 - step / 1000)] + [
            (f"m{i}", 1.0) for i in range(n_tags - 2)
        ]:
            t = tag.encode()
            v = b"\x0a" + bytes([len(t)]) + t + b"\x15" + struct.pack("<f", x)
            values += b"\x0a" + bytes([len(v)]) + v
        n = len(values)
        varint = bytes([n & 0x7F | 0x80, n >> 7]) if n >= 128 else bytes([n])
        return b"\x09" + bytes(8) + b"\x10" + bytes([step]) + b"\x2a" + varint + values

    head = _record(b"\x09" + bytes(8) + b"\x1a\x0dbrain.Event:2")
    return head + b"".join(_record(event(s)) for s in (0, 50, 100))


@pytest.mark.parametrize(
    "name, data, mapping",
    [
        ("wandb_wide.csv", _wandb_wide(), {"loss_cpt": "eval/loss_code"}),
        ("generic_wide.csv", _generic_wide(), None),
        ("megatron_wide.log", _megatron_wide(), {"loss_cpt": "validation lm loss [set0]"}),
        ("events.out.tfevents.wide", _events_wide(), {"loss_cpt": "eval/loss_code"}),
    ],
    ids=["wandb", "generic", "megatron", "tb-events"],
)
def test_logs_with_hundreds_of_metrics_import_without_a_single_warning(name, data, mapping):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a PerformanceWarning (fragmented frame) fails the test
        (run,) = read_any(data, name, mapping=mapping)
    assert len(run.step) >= 3 and np.isfinite(run.loss_cpt).sum() == 3


def test_a_cut_off_last_event_record_is_still_ignored():
    """A job still writing leaves its last record incomplete: the points before it are kept (the
    damaged-length refusal must not catch this case)."""
    good = _record(b"\x09" + bytes(8) + b"\x1a\x0dbrain.Event:2")
    good += b"".join(_record(_scalar_event(s, "lr", 3e-4)) for s in (0, 50, 100))
    good += b"".join(
        _record(_scalar_event(s, "eval/loss_code", 3.0 - s / 1e3)) for s in (0, 50, 100)
    )
    cut = _record(_scalar_event(120, "lr", 3e-4))[:-7]
    (run,) = read_any(
        good + cut, "events.out.tfevents.1.host", mapping={"loss_cpt": "eval/loss_code"}
    )
    assert list(run.step) == [0, 50, 100]
