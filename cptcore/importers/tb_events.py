"""TensorBoard event files (``events.out.tfevents.*``): a minimal pure-Python reader for scalar
summaries only, no TensorBoard or TensorFlow needed.

Why not ``tbparse``/``tensorboard``: they bring about 50 MB of dependencies (grpcio, TensorBoard) for
what is a simple container format, and TensorBoard's ``EventAccumulator`` silently keeps only 10,000
scalars per tag by default. The format read here is small and stable:

- TFRecord framing: ``uint64 length, uint32 masked-CRC32C(length), data, uint32 masked-CRC32C(data)``;
  the length CRC is checked (it is what tells an event file from junk), the data CRC is not (pure-Python
  CRC over every byte would dominate the read time; a damaged record then fails to decode instead).
- ``Event`` protobuf: ``wall_time`` = 1 (double), ``step`` = 2 (int64), ``summary`` = 5;
  ``Summary.value`` = 1 (repeated); ``Value``: ``tag`` = 1, ``simple_value`` = 2 (float, PyTorch's
  SummaryWriter and TF1), ``tensor`` = 8 (TF2 ``tf.summary.scalar``: ``TensorProto`` with
  ``dtype`` = 1, ``tensor_content`` = 4, ``float_val`` = 5, ``double_val`` = 6).
Histograms, images, text and graphs are skipped. Every point is kept (no downsampling).
"""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd

from cptcore.errors import InputError
from cptcore.importers._common import MAX_METRICS, Log

NAME = "tb-events"
# A record running past the end of the file is the cut-off last record of a job still writing only if
# its length is plausible: scalar events are ~100 bytes, images and histograms a few MB.
MAX_RECORD = 16 * 2**20
LABEL = "TensorBoard event file (events.out.tfevents.*)"

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def sniff(data: bytes, filename: str) -> bool:
    if "tfevents" in filename:
        return True
    if len(data) < 12:
        return False
    return struct.unpack("<I", data[8:12])[0] == masked_crc(data[:8])


class _Bad(Exception):
    pass


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise _Bad("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: memoryview):
    """(field number, wire type, value) of one protobuf message; bytes-like for length-delimited."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i : i + 8], i + 8
        elif wt == 2:
            ln, i = _varint(buf, i)
            v, i = buf[i : i + ln], i + ln
        elif wt == 5:
            v, i = buf[i : i + 4], i + 4
        else:
            raise _Bad(f"wire type {wt}")
        if i > n:
            raise _Bad("truncated field")
        yield num, wt, v


def _tensor_scalar(buf: memoryview) -> float | None:
    dtype, values, content = 0, [], b""
    for num, wt, v in _fields(buf):
        if num == 1 and wt == 0:
            dtype = v
        elif num == 4 and wt == 2:
            content = bytes(v)
        elif num == 5:  # float_val, packed (wt 2) or not (wt 5)
            values += struct.unpack(f"<{len(v) // 4}f", v) if wt == 2 else struct.unpack("<f", v)
        elif num == 6:
            values += struct.unpack(f"<{len(v) // 8}d", v) if wt == 2 else struct.unpack("<d", v)
    if not values and dtype in (1, 2):
        size = 4 if dtype == 1 else 8
        if len(content) == size:
            values = list(struct.unpack("<f" if dtype == 1 else "<d", content))
    return float(values[0]) if len(values) == 1 else None


def _scalars(event: memoryview):
    """(step, [(tag, value), ...]) of one Event record."""
    step, out = 0, []
    for num, wt, v in _fields(event):
        if num == 2 and wt == 0:
            step = v - (1 << 64) if v >= 1 << 63 else v
        elif num == 5 and wt == 2:
            for vn, vwt, value in _fields(v):
                if vn != 1 or vwt != 2:
                    continue
                tag, x = None, None
                for fn, fwt, f in _fields(value):
                    if fn == 1 and fwt == 2:
                        tag = bytes(f).decode("utf-8", errors="replace")
                    elif fn == 2 and fwt == 5:
                        x = struct.unpack("<f", f)[0]
                    elif fn == 8 and fwt == 2:
                        x = _tensor_scalar(f)
                if tag is not None and x is not None:
                    out.append((tag, x))
    return step, out


def parse(data: bytes, filename: str) -> list[Log]:
    buf = memoryview(data)
    i, n = 0, len(buf)
    cols: dict[str, dict[int, float]] = {}
    try:
        while i < n:
            if n - i < 12:
                raise _Bad("truncated record header")
            (ln,) = struct.unpack_from("<Q", buf, i)
            (lcrc,) = struct.unpack_from("<I", buf, i + 8)
            if lcrc != masked_crc(bytes(buf[i : i + 8])):
                raise _Bad("bad record length checksum")
            start = i + 12
            if start + ln + 4 > n:
                if i > 0 and ln <= MAX_RECORD:  # a run still writing: the last record is cut off
                    break
                if i > 0:  # not a cut-off record: a damaged length would drop the rest silently
                    raise InputError(
                        f"damaged TensorBoard event file: the record at byte {i:,} declares {ln:,} bytes",
                        source=filename,
                        received=f"{n - start:,} bytes left in the file",
                        fix="The rest of the file cannot be read; copy the event file again from the training machine",
                    )
                raise _Bad("truncated record")
            step, values = _scalars(buf[start : start + ln])
            for tag, x in values:
                cols.setdefault(tag, {})[step] = x  # later records win (resumed runs)
                if len(cols) > MAX_METRICS:
                    raise _Bad("too many tags")
            i = start + ln + 4
    except (_Bad, struct.error, UnicodeDecodeError) as e:
        raise InputError(
            "not a readable TensorBoard event file",
            source=filename,
            received=f"{e} at byte {i:,}",
            fix="Upload an events.out.tfevents.* file as written by the training run",
        ) from None
    if not cols:
        raise InputError(
            "no scalar summaries in the event file",
            source=filename,
            fix="Log the LR and validation losses with add_scalar / tf.summary.scalar",
        )
    steps = np.array(sorted({s for c in cols.values() for s in c}), dtype=float)
    index = steps.astype(np.int64)
    table = pd.DataFrame(  # at once: inserting hundreds of columns one by one fragments it
        {
            "step": steps,
            **{
                tag: pd.Series(points, dtype=float).reindex(index).to_numpy()
                for tag, points in cols.items()
            },
        }
    )
    return [Log("tensorboard", filename, table)]
