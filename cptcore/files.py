"""Output files of the CLI (reading input files is ``cptcore.inputs``).

- ``check_writable``: whether an output path can be written, checked *before* the work (a fit takes
  minutes; it should not fail at the end because ``-o`` names a folder); ``InputError`` with one
  line naming the file.

- ``write_csv``: numeric columns to a CSV, byte for byte what ``DataFrame.to_csv(index=False,
  float_format="%.6f")`` writes, formatted by numpy (pandas formats each float in Python: ~5 s for
  a 1M-row prediction).
"""

from __future__ import annotations

import os

import numpy as np

from cptcore.errors import InputError


def check_writable(path: str) -> None:
    """``InputError`` unless ``path`` can be written as an output file: not a folder, inside an
    existing folder, and writable. Nothing is created."""
    shown = str(path)
    fix = "Give a file path in an existing folder you can write to"
    if not shown:
        raise InputError("no output file name given", fix=fix)
    if os.path.isdir(path):
        raise InputError("cannot write the output: this is a folder", source=shown, fix=fix)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(
            "cannot write the output: its folder does not exist",
            source=shown,
            received=folder,
            fix="Create the folder first, or choose another path",
        )
    target = path if os.path.exists(path) else folder
    if not os.access(target, os.W_OK):
        raise InputError("cannot write the output: permission denied", source=shown, fix=fix)


_SCALE = 1_000_000  # 6 decimals
_FAST_MAX = 2.0**32  # |x| below this: x * 1e6 < 2^52 (exact integers) and x < 2^32 (uint32 digits)


def _digits(u: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits of non-negative integers (< 10**width) as a (width, n) byte matrix, one column
    per number, zero-padded on the left ('0' bytes)."""
    out = np.empty((width, len(u)), dtype=np.uint8)
    u = u.copy()
    digit = np.empty_like(u)
    for j in range(width - 1, -1, -1):
        np.divmod(u, 10, out=(u, digit))
        np.add(digit, 48, out=out[j], casting="unsafe")
    return out


def _integer_text(u: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """The text of integers ``(-1 if neg) * u`` as a (width + 1, n) byte matrix, right-aligned, with
    0 bytes (no text) left of each number; row 0 is room for a minus sign."""
    top = int(u.max()) if len(u) else 0
    width = len(str(top))
    out = np.zeros((width + 1, len(u)), dtype=np.uint8)
    out[1:] = _digits(u, width)
    first = np.ones(len(u), dtype=np.intp)  # row of each number's first digit
    for j in range(1, width):  # row j holds the 10^(width-j) digit; the units digit always shows
        short = u < 10 ** (width - j)
        np.copyto(out[j], 0, where=short)
        first += short
    rows = np.flatnonzero(neg)
    out[first[rows] - 1, rows] = ord("-")
    return out


def _format_int(v: np.ndarray) -> np.ndarray:
    """``str(int)`` of each element as a (width, n) byte matrix (0 bytes: no text)."""
    v = np.asarray(v, dtype=np.int64)
    u = np.abs(v)
    small = len(v) == 0 or int(u.max()) < 2**32  # uint32 arithmetic is faster
    return _integer_text(u.astype(np.uint32 if small else np.uint64), v < 0)


def _format_f6(x: np.ndarray) -> np.ndarray:
    """``"%.6f" % x`` of each element as a (width, n) byte matrix (0 bytes: no text); NaN gives an
    empty field.

    x * 1e6 is rounded to an integer in floating point; that is the correctly rounded decimal unless
    the product lies within a few ulps of a half (its own rounding could then cross it): those rare
    elements, and the very large or infinite ones, are formatted by Python instead."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    p = x * _SCALE
    q = np.rint(p)
    nan = np.isnan(x)
    with np.errstate(invalid="ignore"):
        slow = ~nan & ~(np.abs(x) < _FAST_MAX)
        # within 4 ulps of a half (an ulp of p is at most |p| * 2^-52)
        slow |= np.abs(np.abs(p - q) - 0.5) <= np.abs(p) * 2.0**-50
    slow &= ~nan
    q[slow | nan] = 0
    np.abs(q, out=q)
    # q is a whole number < 2^52: q / 1e6 is off by far less than 1e-6, so its floor is exact
    # (and faster than q // 1e6, which numpy computes with fmod)
    ipf = np.divide(q, _SCALE)
    np.floor(ipf, out=ipf)
    ip = ipf.astype(np.uint32)
    ipf *= _SCALE
    np.subtract(q, ipf, out=q)
    fp = q.astype(np.uint32)
    # -0.0 and tiny negatives print as -0.000000, as in C and Python
    out = np.concatenate(
        [
            _integer_text(ip, np.signbit(x) & ~nan),
            np.full((1, n), ord("."), np.uint8),
            _digits(fp, 6),
        ]
    )
    out[:, nan] = 0
    idx = np.flatnonzero(slow)
    if idx.size:
        texts = [f"{v:.6f}".encode() for v in x[idx]]
        w = max(len(t) for t in texts)
        if w > out.shape[0]:
            out = np.concatenate([np.zeros((w - out.shape[0], n), np.uint8), out])
        w = out.shape[0]
        for i, t in zip(idx, texts, strict=True):
            out[:, i] = 0
            out[w - len(t) :, i] = np.frombuffer(t, np.uint8)
    return out


def csv_bytes(columns: dict[str, np.ndarray]) -> bytes:
    """A CSV of numeric columns: integer columns as integers, float columns with 6 decimals
    (``"%.6f"``), NaN as an empty field; the same bytes as pandas' ``to_csv(index=False,
    float_format="%.6f")`` (tests/test_files.py)."""
    nl = os.linesep.encode()
    parts = []
    for k, v in enumerate(columns.values()):
        v = np.asarray(v)
        parts.append(_format_int(v) if v.dtype.kind in "iu" else _format_f6(v))
        end = nl if k == len(columns) - 1 else b","
        parts.append(np.frombuffer(end, np.uint8)[:, None])
    n = len(parts[0][0]) if parts else 0
    rows = np.empty((n, sum(len(p) for p in parts)), dtype=np.uint8)  # one CSV row per row
    at = 0
    for p in parts:
        rows[:, at : at + len(p)] = p.T
        at += len(p)
    body = rows.reshape(-1)
    header = ",".join(columns).encode() + nl
    return header + body[body != 0].tobytes()  # 0 bytes are padding, not text


def write_csv(path: str, columns: dict[str, np.ndarray]) -> None:
    """Write ``csv_bytes(columns)`` to ``path``."""
    with open(path, "wb") as f:
        f.write(csv_bytes(columns))
