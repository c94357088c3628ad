"""The vectorised CSV writer (``files.csv_bytes``) writes what pandas' ``to_csv(index=False,
float_format="%.6f")`` wrote before it (the predict CLI's output format)."""

import numpy as np
import pandas as pd

from cptcore.files import csv_bytes


def _pandas_text(cols: dict) -> bytes:
    return pd.DataFrame(cols).to_csv(index=False, float_format="%.6f").encode()


def test_csv_writer_matches_pandas_on_nan_negative_large_and_ties():
    special = [
        np.nan,
        -0.0,
        0.0,
        -1e-9,
        1e-7,
        5e-7,
        -5e-7,
        2.5e-6,
        1.0000005,
        123456.0000005,
        -789190.761291,
        4294967295.5,
        4294967296.7,
        1e20,
        -3e15,
        np.inf,
        -np.inf,
    ]
    rng = np.random.default_rng(0)
    wide = rng.normal(size=5000) * 10.0 ** rng.integers(-9, 12, 5000)
    ties = np.round(rng.normal(size=5000 + len(special)), 7)  # many values at a half of 1e-6
    a = np.concatenate([special, wide])
    cols = {"step": np.arange(len(a)) - 3, "pred_loss_pt": a, "pred_loss_cpt": ties}
    assert csv_bytes(cols) == _pandas_text(cols)


def test_csv_writer_integer_columns_beyond_32_bits():
    cols = {"step": np.array([0, 7, -12, 2**40 + 3, 10**15]), "x": np.array([1.0, 2, 3, 4, 5])}
    assert csv_bytes(cols) == _pandas_text(cols)


def test_csv_writer_small_frame_text():
    cols = {"step": np.array([0, 1, 10]), "x": np.array([np.nan, -1.5, 12345.6789012])}
    assert csv_bytes(cols).decode().splitlines() == [
        "step,x",
        "0,",
        "1,-1.500000",
        "10,12345.678901",
    ]
