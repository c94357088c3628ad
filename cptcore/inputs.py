"""Reading what a user gives us: bounded file reads, decoding, JSON, delimited tables and numbers.

Every reader of user files goes through here (canonical runs in ``runs``, every log format in
``importers``, ``params_io``). The mechanics are shared; the words of a message (what to export,
which header to use) belong to the caller and are passed in (``TableRules``, ``fix=...``). Every
problem is an ``InputError`` of one line naming the file.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from io import StringIO

import numpy as np
import pandas as pd

from cptcore.errors import InputError

MAX_BYTES = 200 * 1024 * 1024  # a run or a log: larger is refused before it is read

# ------------------------------------------------------------------------------------ bounded reads


def too_large(
    nbytes: int, source: str, fix: str, problem: str = "file too large", decimals: int = 0
) -> InputError:
    """The error for a file of ``nbytes`` over its cap (its size in MB as received)."""
    return InputError(problem, source=source, received=f"{nbytes / 1e6:.{decimals}f} MB", fix=fix)


def check_size(nbytes: int, limit: int, source: str, fix: str) -> None:
    """``InputError`` ('file too large') when ``nbytes`` exceeds ``limit``."""
    if nbytes > limit:
        raise too_large(nbytes, source, fix)


def read_at_most(path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``path`` (one byte more tells 'too large'); ``OSError`` as is."""
    with open(path, "rb") as f:
        return f.read(limit + 1)


def read_file(path: str, limit: int, fix: str = "Check the path") -> bytes:
    """The bytes of ``path`` (at most ``limit``; more is refused as 'file too large'), read **once**:
    a named pipe or ``/dev/stdin`` cannot be opened a second time."""
    name = os.path.basename(str(path))
    try:
        size = os.path.getsize(path)  # 0 for pipes: their length is only known once read
    except OSError as e:
        raise InputError(
            "cannot open the file", source=str(path), received=e.strerror, fix="Check the path"
        ) from None
    if size > limit:  # refused from its size alone, nothing is read
        raise too_large(size, name, fix)
    try:
        data = read_at_most(path, limit)
    except OSError as e:  # a folder, a permission problem
        raise InputError(
            "cannot read the file", source=name, received=e.strerror, fix="Check the path"
        ) from None
    if len(data) > limit:  # a pipe longer than the cap
        raise too_large(limit + 1, name, fix)
    return data


# ------------------------------------------------------------------------------------------ decoding

UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode(data: bytes, source: str, fix: str, guess_utf16: bool = True) -> str:
    """Bytes -> text: UTF-8 (with or without BOM), UTF-16 with BOM and, with ``guess_utf16``,
    UTF-16 without BOM (some Windows tools); ``InputError`` for anything else."""
    if data[:2] in UTF16_BOMS:
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif guess_utf16 and len(data) >= 8 and b"\x00" in data[:64]:
        # UTF-16 without a BOM: every other byte of ASCII text is zero
        head = data[:2000]
        for enc, zeros in (("utf-16-le", head[1::2]), ("utf-16-be", head[0::2])):
            if zeros.count(0) > 0.9 * len(zeros):
                try:
                    return data.decode(enc)
                except UnicodeDecodeError:
                    break
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not a text file (unreadable bytes)", source=source, fix=fix) from None


def decode_text(data: bytes, source: str) -> str:
    """Bytes of an uploaded table or log -> text; ``InputError`` for an empty file."""
    if not data.strip():
        raise InputError(
            "the file is empty",
            source=source,
            fix="Upload a CSV with a header row and at least two data rows",
        )
    return decode(data, source, fix="Save the table as a UTF-8 CSV")


def text_of(
    data: bytes,
    source: str,
    problem: str = "binary content, not a text log",
    fix: str = "Upload the exported CSV/JSON file itself (UTF-8 or UTF-16 text)",
) -> str:
    """``decode_text``, refusing text with NUL characters (binary content) with ``problem``."""
    text = decode_text(data, source)
    if "\x00" in text:
        raise InputError(problem, source=source, fix=fix)
    return text


def load_json(text: str, source: str, fix: str = "Upload the file as saved"):
    """``json.loads`` with every failure (syntax, nesting bombs, huge integers) as ``InputError``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            "not valid JSON", source=source, row=e.lineno, received=e.msg, fix=fix
        ) from None
    except (RecursionError, ValueError) as e:  # nesting bombs, integers with thousands of digits
        raise InputError(
            "unreadable JSON", source=source, received=str(e).split(";")[0][:60], fix=fix
        ) from None


# -------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class TableRules:
    """A table reader's limits and the words of its messages. ``{what}`` in a fix is replaced by
    what the caller expects in the table (e.g. 'Wall time,Step,Value')."""

    max_header_chars: int
    max_separators: int  # in the header row
    header_in_columns: bool  # the too-long header is reported in columns (else in characters)
    header_fix: str
    not_a_table_fix: str
    one_line_ok: bool  # a one-line file without separators is parsed (its only line: a header)
    parse_problem: str
    parse_fix: str
    strip_names: bool  # column names are stripped, and then must be unique
    max_columns: int | None = None  # after parsing


def sniff_sep(first_line: str) -> str:
    """The separator of a table: the most frequent of comma, tab and semicolon in its first line."""
    return max([",", "\t", ";"], key=first_line.count)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_unique_header(first_line: str, sep: str, source: str) -> None:
    """``InputError`` naming a column the header row gives twice.

    Checked on the header as written: pandas would rename the second ``loss_pt`` to ``loss_pt.1``
    and one of the two columns would be silently ignored."""
    try:
        names = next(csv.reader([first_line.rstrip("\r")], delimiter=sep), [])
    except csv.Error:
        return  # an unparsable header is reported by the table parser itself
    seen: set[str] = set()
    for name in (n.strip().lstrip("\ufeff") for n in names):
        if not name or _is_number(name):  # blank (trailing commas) or a data row, not a header:
            continue  # the missing-column checks say what is wrong
        if name in seen:
            raise InputError(
                "a column is given twice",
                source=source,
                column=name,
                fix="Keep one column per name (rename or delete the other one)",
            )
        seen.add(name)


def _check_header(text: str, first: str, sep: str, source: str, rules: TableRules, what: str):
    """Refuse a header bomb and a text that is not a table before pandas parses all of it."""
    if len(first) > rules.max_header_chars or first.count(sep) > rules.max_separators:
        size = (
            f"{first.count(sep) + 1:,} columns"
            if rules.header_in_columns
            else f"{len(first):,} characters"
        )
        raise InputError(
            "the header row is far too long",
            source=source,
            received=size,
            fix=rules.header_fix.format(what=what),
        )
    one_line = len(text) <= len(first) + 1
    if first.count(sep) == 0 and not (rules.one_line_ok and one_line):
        raise InputError(
            "not a table: the first line has no comma, tab or semicolon",
            source=source,
            received=first.strip()[:40],
            fix=rules.not_a_table_fix.format(what=what),
        )
    check_unique_header(first, sep, source)


def read_table(text: str, source: str, rules: TableRules, what: str = "") -> pd.DataFrame:
    """A delimited table (comma, tab or semicolon) with every cell as a string; ``InputError`` for
    header bombs, non-tables, repeated column names and unparsable rows."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    sep = sniff_sep(first)
    _check_header(text, first, sep, source, rules, what)
    try:
        df = pd.read_csv(
            StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise InputError(
            rules.parse_problem, source=source, received=msg[:80], fix=rules.parse_fix
        ) from None
    if rules.strip_names:
        names = [str(c).strip().lstrip("\ufeff") for c in df.columns]
        dup = next((c for i, c in enumerate(names) if c in names[:i]), None)
        if dup is not None:
            raise InputError(
                "a column is given twice",
                source=source,
                column=dup,
                fix="Keep one column per name (spaces around names are ignored)",
            )
        df.columns = names
    if rules.max_columns is not None and df.shape[1] > rules.max_columns:
        raise InputError(
            "too many columns",
            source=source,
            received=df.shape[1],
            fix="Keep only step,lr,phase,replay,loss_pt,loss_cpt",
        )
    return df


# ------------------------------------------------------------------------------------------- numbers

NA_WORDS = ("", "nan", "NaN", "NAN", "null", "None", "none")  # empty cells in exported logs


def to_float(
    raw: pd.Series, source: str, column: str, row_offset: int = 2, blanks=NA_WORDS
) -> np.ndarray:
    """Numbers from a column: missing cells and the words ``blanks`` become NaN, any other cell
    that is not a number is an ``InputError`` naming its row (``row_offset``: the file row of the
    first table row). A numeric column (a frame built by an importer) is taken as it is: NaN is
    'not logged', and no string is made per cell (millions of rows would cost hundreds of MB)."""
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype=float)
    text = raw.astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    blank = raw.isna().to_numpy() | text.isin(blanks).to_numpy()
    bad = np.isnan(values) & ~blank
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            "not a number",
            source=source,
            column=column,
            row=i + row_offset,
            received=str(raw.iloc[i]),
            fix="Use plain decimal numbers such as 0.0003 or 3e-4",
        )
    return values


def loss_to_reach(value: float | None, name: str = "domain loss") -> float:
    """A loss a user asks to reach (nats): finite and above 0, else ``InputError`` on the option
    'domain-target' (the planner's goal and the tracker's target share this rule)."""
    if value is None or not math.isfinite(value):
        raise InputError(
            f"give the {name} to reach",
            column="domain-target",
            received=value,
            fix="For example 2.7 (nats)",
        )
    if value <= 0:
        raise InputError(
            f"the {name} to reach must be above 0 nats",
            column="domain-target",
            received=value,
            fix="Give a validation loss below the one predicted at the transfer point, e.g. 2.7",
        )
    return float(value)
