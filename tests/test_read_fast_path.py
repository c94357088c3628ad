"""``read_run`` parses plain canonical CSVs with numeric columns (pandas' C reader) and everything
else as text: both paths must give the same run, or the same error message naming the cell."""

import glob
import os

import numpy as np
import pytest

from cptcore.errors import InputError
from cptcore.runs import _parse_numbers, parse_table, read_run, run_from_frame

HEADER = b"step,lr,phase,replay,loss_pt,loss_cpt\n"
GOOD = b"0,0,pt,0.25,,\n1,1e-4,pt,0.25,5.1,6.2\n2,2e-4,cpt,0.25,,\n3,1.5e-4,cpt,,4.9,5.5\n"
CASES = {
    "plain": HEADER + GOOD,
    "crlf": (HEADER + GOOD).replace(b"\n", b"\r\n"),
    "upper-case header": HEADER.upper() + GOOD,
    "spaces in phase": HEADER + GOOD.replace(b",cpt,", b", CPT ,"),
    "text in lr": HEADER + GOOD.replace(b"1e-4", b"abc"),
    "nan text in loss": HEADER + GOOD.replace(b"5.1", b"nan"),
    "inf lr": HEADER + GOOD.replace(b"1e-4", b"inf"),
    "empty lr": HEADER + GOOD.replace(b"1,1e-4,", b"1,,"),
    "empty phase": HEADER + GOOD.replace(b",pt,0.25,5.1", b",,0.25,5.1"),
    "bad phase": HEADER + GOOD.replace(b",cpt,0.25,,", b",xpt,0.25,,"),
    "pt after cpt": HEADER + GOOD + b"4,1e-4,pt,0.25,,\n",
    "fractional step": HEADER + GOOD.replace(b"\n2,", b"\n2.5,"),
    "duplicate step": HEADER + GOOD.replace(b"\n2,", b"\n1,"),
    "negative loss": HEADER + GOOD.replace(b"5.1", b"-5.1"),
    "replay changes": HEADER + GOOD.replace(b"2e-4,cpt,0.25", b"2e-4,cpt,0.5"),
    "bool lr": HEADER + GOOD.replace(b"1e-4", b"True"),
    "duplicate column": HEADER.replace(b"loss_cpt", b"loss_pt") + GOOD,
    "semicolons": (HEADER + GOOD).replace(b",", b";"),
    "too many fields": HEADER + GOOD + b"4,1e-4,cpt,0.25,,,7\n",
    "no lr column": HEADER.replace(b"lr,", b"") + GOOD.replace(b"1e-4,", b""),
}


def _text_path(data: bytes):
    return run_from_frame(parse_table(data, "t.csv"), name="t", source="t.csv")


def _outcome(fn, data):
    try:
        r = fn(data)
    except InputError as e:
        return ("error", e.message)
    return ("run", r)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_and_text_paths_agree(case):
    data = CASES[case]
    fast = _outcome(lambda d: read_run(d, name="t.csv"), data)
    text = _outcome(_text_path, data)
    assert fast[0] == text[0], (fast, text)
    if fast[0] == "error":
        assert fast[1] == text[1]
    else:
        a, b = fast[1], text[1]
        for k in ("step", "lr", "is_cpt", "loss_pt", "loss_cpt"):
            np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
        assert a.replay == b.replay


def test_plain_canonical_files_take_the_fast_path():
    assert _parse_numbers(CASES["plain"]) is not None
    root = os.path.join(os.path.dirname(__file__), "..", "sample_data", "cpt")
    for path in glob.glob(os.path.join(root, "*.csv")):
        with open(path, "rb") as f:
            assert _parse_numbers(f.read()) is not None, path
