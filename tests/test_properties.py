"""Property-based tests: whatever bytes or tables a user brings, the readers return runs or raise
``InputError`` (never another exception); any parameters ``LawParams.from_dict`` accepts give finite
predictions for finite positive areas.

Example counts are kept modest (the suite shares two cores); a failure prints the shrunk input."""

import json
import math
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cptcore import params_io
from cptcore.areas import compute_areas
from cptcore.errors import InputError
from cptcore.importers import CHOICES, FORMATS, read_any
from cptcore.importers.tb_events import masked_crc
from cptcore.law import LawParams, predict
from cptcore.runs import Run, read_run

# CPT_HYPOTHESIS_EXAMPLES=1000 for a longer hunt before a release
SETTINGS = settings(
    max_examples=int(os.environ.get("CPT_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

FILENAMES = st.sampled_from(
    ["run.csv", "export.csv", "trainer_state.json", "metrics.jsonl", "events.out.tfevents.1.host"]
)


def _runs_or_input_error(fn, *args, **kw):
    try:
        out = fn(*args, **kw)
    except InputError as e:
        assert "\n" not in e.message and e.message
        return None
    runs = out if isinstance(out, list) else [out]
    for r in runs:
        assert isinstance(r, Run) and len(r.step) >= 2
        assert np.all(np.diff(r.step) > 0) and np.all(np.isfinite(r.lr)) and np.all(r.lr >= 0)
    return runs


@SETTINGS
@given(st.binary(max_size=400), FILENAMES)
def test_random_bytes_give_runs_or_an_input_error(data, filename):
    _runs_or_input_error(read_run, data, name=filename)
    _runs_or_input_error(read_any, data, filename)
    try:
        params_io.loads(data, "params.json")
    except InputError:
        pass


@SETTINGS
@given(st.lists(st.binary(max_size=60), min_size=1, max_size=6))
def test_framed_random_event_records_give_runs_or_an_input_error(payloads):
    """Valid TFRecord framing (checksums right) around random protobuf bytes: the Event decoder
    itself must never crash."""
    data = b"".join(_record(p) for p in payloads)
    _runs_or_input_error(read_any, data, "events.out.tfevents.1.host")


def _record(payload: bytes) -> bytes:
    head = struct.pack("<Q", len(payload))
    return (
        head
        + struct.pack("<I", masked_crc(head))
        + payload
        + struct.pack("<I", masked_crc(payload))
    )


# the start of a file of each format, so that random tails reach past the sniffers into the parsers
PREFIXES = st.sampled_from(
    [
        b"",
        b'{"log_history": [{"step": ',
        b"Wall time,Step,Value\n1,",
        b'"Step","r - train/lr","r - eval/loss_code"\n',
        b"_step,lr,eval/loss_web\n",
        b"step,lr,phase,replay,loss_pt,loss_cpt\n0,0,pt,0,,\n",
        b" iteration       10/    1000 | learning rate: 3.0E-04 | lm loss: 3.2E+00 |\n",
        b" validation loss at iteration ",
        b'{"step": 0, "lr": 0.0003, "val_loss_code": 3.1}\n',
        _record(b"\x09" + bytes(8) + b"\x1a\x0dbrain.Event:2"),
    ]
)


@pytest.mark.parametrize("fmt", CHOICES)
@SETTINGS
@given(PREFIXES, st.binary(max_size=400), FILENAMES)
def test_every_importer_gives_runs_or_an_input_error_on_random_bytes(fmt, prefix, tail, filename):
    """Issue 12: each format of ``FORMATS`` (and detection) on arbitrary bytes: runs, or one
    ``InputError`` line; never an OverflowError, a KeyError, a pandas error, ..."""
    _runs_or_input_error(read_any, prefix + tail, filename, format=fmt)


# numbers as loggers write them, and the huge or odd ones they should not
CELLS_NUMERIC = st.one_of(
    st.integers(0, 10**4).map(str),
    st.floats(1e-5, 10).map(lambda x: f"{x:.4g}"),
    st.sampled_from(["0", "3e-4", "1e-300", "1e400", "-1", "nan", "9223372036854775808", "pt"]),
)

# names a log's header may hold, from every format the importers know (and a few odd ones)
LOG_NAMES = st.sampled_from(
    ["step", "lr", "phase", "replay", "loss_pt", "loss_cpt", "Step", "_step", "Wall time", "Value",
     "r - train/lr", "r - eval/loss_code", "r - eval/loss_web", "s - train/lr",
     "r - eval/loss_code__MIN", "iteration", "learning_rate", "val_loss_code", "eval_web_loss",
     "epoch", "", " lr ", "x"]
)  # fmt: skip


@pytest.mark.parametrize("fmt", CHOICES)
@SETTINGS
@given(
    st.lists(LOG_NAMES, min_size=1, max_size=6),
    st.lists(st.lists(st.one_of(CELLS_NUMERIC, st.just("")), min_size=1, max_size=7), max_size=6),
    st.sampled_from([",", ";", "\t"]),
)
def test_every_importer_gives_runs_or_an_input_error_on_valid_looking_tables(
    fmt, header, rows, sep
):
    text = sep.join(header) + "\n" + "\n".join(sep.join(r) for r in rows) + "\n"
    _runs_or_input_error(read_any, text.encode(), "export.csv", format=fmt)


# cells a user's table may hold: numbers of every kind, blanks, junk, phase words
CELLS = st.one_of(
    st.integers(-5, 10**7).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["", " ", "pt", "cpt", "PT", "nan", "inf", "-0", "1e999", "0x10", "1,5", '"', "a\tb"]
    ),
    st.text(max_size=6),
)
HEADERS = st.lists(
    st.sampled_from(["step", "lr", "phase", "replay", "loss_pt", "loss_cpt", "Step", "x", " lr "]),
    min_size=1,
    max_size=7,
)


@SETTINGS
@given(
    HEADERS,
    st.lists(st.lists(CELLS, min_size=1, max_size=8), max_size=8),
    st.sampled_from([",", ";", "\t"]),
)
def test_random_tables_give_runs_or_an_input_error(header, rows, sep):
    text = sep.join(header) + "\n" + "\n".join(sep.join(r) for r in rows)
    _runs_or_input_error(read_run, text.encode(), name="t.csv")
    for fmt in ("generic", "wandb", "tb-csv"):
        _runs_or_input_error(read_any, text.encode(), "t.csv", format=fmt)


@SETTINGS
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                ["step", "learning_rate", "loss", "eval_web_loss", "eval_code_loss", "epoch"]
            ),
            st.one_of(
                st.integers(-3, 10**6), st.floats(), st.text(max_size=3), st.none(), st.booleans()
            ),
        ),
        max_size=10,
    )
)
def test_random_trainer_states_give_runs_or_an_input_error(history):
    data = json.dumps({"log_history": history}).encode()
    _runs_or_input_error(read_any, data, "trainer_state.json")
    assert "hf" in FORMATS


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)
PARAM_KEYS = [
    "L0",
    "A",
    "alpha",
    "C1",
    "C2",
    "B",
    "E",
    "beta",
    "a1",
    "a2",
    "replay_form",
    "metrics",
    "S1pt",
]


@SETTINGS
@given(
    st.dictionaries(st.sampled_from(["lambda", "s2_form", "eps", "pt", "cpt"]), JSON_VALUES),
    st.dictionaries(st.sampled_from(PARAM_KEYS), JSON_VALUES | st.floats(0, 2)),
)
def test_random_params_files_load_or_give_an_input_error(top, section):
    for d in (top, {**top, "pt": section}):
        try:
            params_io.loads(json.dumps(d))
        except InputError as e:
            assert "\n" not in e.message


# --------------------------------------------------------------------------------------- the law

LIMITS = {
    "L0": (0, 50), "A": (0, 1e4), "alpha": (0, 20), "C1": (0, 1e6), "C2": (0, 1e6),
    "B": (-50, 50), "E": (0, 1e9), "beta": (0, 100), "a1": (-50, 50), "a2": (-50, 50),
}  # fmt: skip


@st.composite
def accepted_params(draw):
    d = {k: draw(st.floats(lo, hi)) for k, (lo, hi) in LIMITS.items()}
    if draw(st.booleans()):
        d.pop("a1"), d.pop("a2")
    else:
        d["replay_form"] = draw(st.sampled_from(["paper", "convex"]))
    return LawParams.from_dict(d)  # whatever it accepts must predict finitely


@SETTINGS
@given(
    accepted_params(),
    st.lists(st.floats(1e-6, 1.0), min_size=2, max_size=40),
    st.integers(0, 40),
    st.floats(0, 1),
    st.sampled_from(["pt", "cpt"]),
    st.booleans(),
)
def test_accepted_parameters_predict_finite_losses_where_s1_is_positive(
    p, lrs, t, replay, target, known
):
    lr = np.r_[0.0, np.repeat(lrs, 3)]  # step 0 is the initial model; LRs realistic (>= 1e-6)
    t = min(t, len(lr) - 1)
    a = compute_areas(lr, t, pt_history_known=known)
    # S1 >= 0; S2 may be negative while the LR rises (warm-up), but is finite
    assert all(np.all(np.isfinite(x)) for x in (a.S1pt, a.S2pt, a.S1cpt, a.S2cpt))
    assert np.all(a.S1pt >= 0) and np.all(a.S1cpt >= 0)
    S1pt = None if known else 0.5
    with np.errstate(over="raise", invalid="raise"):
        y = predict(p, a, replay, target, S1pt)
    s1 = (a.S1pt if known else np.full_like(a.S1pt, S1pt)) + a.S1cpt
    assert np.all(np.isfinite(y[s1 > 0])), (p, y)
    assert np.all(np.isnan(y[s1 == 0]))  # the initial model: the law has no value there


def test_limits_above_are_the_ones_from_dict_enforces():
    base = {k: (lo + hi) / 2 for k, (lo, hi) in LIMITS.items()}
    for k, (lo, hi) in LIMITS.items():
        LawParams.from_dict({**base, k: lo}), LawParams.from_dict({**base, k: hi})
        for bad in (lo - 1, hi + 1, math.nan):
            try:
                LawParams.from_dict({**base, k: bad})
            except InputError:
                continue
            raise AssertionError(f"{k}={bad} accepted")
