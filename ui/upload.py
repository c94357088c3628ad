"""The upload -> canonical run adapter: canonical CSVs directly; W&B, TensorBoard, Hugging Face,
Megatron logs and other tables through ``cptcore.importers`` with a mapping the user confirms."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import streamlit as st

from cptcore import importers
from cptcore.errors import InputError
from cptcore.runs import Run, parse_table, read_run
from cptcore.transfer import CptStart
from ui.state import UPLOAD_CACHE

NONE = "(none)"
ONE_TAG = "tb-csv"  # the format whose files each hold one metric of a run
AUTO = "(detected)"
# parsed uploads kept per session (the Fit page reads every upload again on each rerun): at most
# this many, and this much memory in all (a 50 MB canonical CSV of 2M rows is ~70 MB as a Run)
MAX_CACHE_ENTRIES = 16
MAX_CACHE_BYTES = 256 * 2**20
T = TypeVar("T")

# the labels of the mapping form's controls (pages/fit.py); importer messages name them
LABELS = {
    "step": "step column",
    "lr": "learning rate",
    "loss_pt": "general loss (loss_pt)",
    "loss_cpt": "domain loss (loss_cpt)",
    "cpt_only": "CPT only (PT history unknown)",
    "cpt_start": "last PT step",
    "replay": "replay ratio (0..1)",
    "schedule": "rebuild the LR from a schedule (optional)",
}
SCHEDULE_EXAMPLE = "wsd:peak=3e-4,steps=20000,warmup=500,decay=0.2"
# importer advice in the page's words instead of the command line's --map / --schedule
PAGE_ADVICE = importers.Advice(
    which_loss=(
        f"Say which it is: choose {{metric}} as '{LABELS['loss_cpt']}' or as '{LABELS['loss_pt']}'"
    ),
    map_metrics=(
        f"Choose the metrics under '{LABELS['lr']}', '{LABELS['loss_pt']}' and "
        f"'{LABELS['loss_cpt']}'"
    ),
    map_lr=(
        f"Choose the LR metric under '{LABELS['lr']}', or describe the schedule under "
        f"'{LABELS['schedule']}', e.g. {SCHEDULE_EXAMPLE}"
    ),
    map_step=f"Choose the column that counts optimizer steps under '{LABELS['step']}'",
    schedule=f"'{LABELS['schedule']}'",
    cpt_start=f"'{LABELS['cpt_start']}'",
)


def digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def stem(filename: str) -> str:
    return filename.rsplit(".", 1)[0] if "." in filename else filename


def _nbytes(value: object) -> int:
    """Rough memory of a parsed upload: a run's arrays, or a log description's names."""
    if isinstance(value, Run):
        arrays = (value.step, value.lr, value.is_cpt, value.loss_pt, value.loss_cpt)
        return sum(a.nbytes for a in arrays) + 1000
    if isinstance(value, list):
        return sum(_nbytes(v) for v in value) + 1000
    if isinstance(value, importers.LogInfo):
        names = (*value.runs, *value.metrics, *value.val_losses)
        return sum(100 + 2 * len(n) for n in names) + 1000
    return 1000


def _cached(key: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per browser session and ``key``: the session's LRU cache of parsed uploads.

    Not ``st.cache_data``: that cache is shared by every session and outlives them, while the page
    promises that files stay in this browser session only. Here parsed uploads go when the session
    ends (Streamlit drops a closed session's state) and at most ``MAX_CACHE_ENTRIES`` of them, and
    ``MAX_CACHE_BYTES`` in all, are kept meanwhile (oldest dropped first)."""
    cache = st.session_state.setdefault(UPLOAD_CACHE, OrderedDict())
    if key in cache:
        cache.move_to_end(key)
        return cache[key][0]
    value = compute()
    cache[key] = (value, _nbytes(value))
    while len(cache) > 1 and (
        len(cache) > MAX_CACHE_ENTRIES or sum(n for _, n in cache.values()) > MAX_CACHE_BYTES
    ):
        cache.popitem(last=False)
    return value


def read_upload(filename: str, data: bytes) -> Run:
    """A canonical run from uploaded bytes (cached on the bytes' hash); ``InputError`` if bad."""

    def read() -> Run:
        # read_run names the source by ``name`` (so errors say 'file.csv'); the run drops the extension
        return replace(read_run(data, name=filename), name=stem(filename))

    try:
        return _cached("run:" + digest(data) + filename, read)
    except InputError as e:
        raise e.with_source(filename) from None


def describe(filename: str, data: bytes) -> importers.LogInfo:
    """Format, run names, metrics and guessed roles of an uploaded log; ``InputError`` if unreadable."""
    return _cached("log:" + digest(data) + filename, lambda: importers.describe(data, filename))


def columns(filename: str, data: bytes) -> list[str]:
    """The column names of a plain table (for choosing its step column); [] if not a table."""
    try:
        return [str(c) for c in parse_table(data, filename).columns]
    except InputError:
        return []


def one_tag_csvs(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The uploads that are one-tag TensorBoard CSV downloads (``Wall time,Step,Value``): several
    of them are usually the tags of one run, to be combined (``cptcore.importers.read_files``)."""
    return [(n, raw) for n, raw in files if importers.detect(raw, n) == ONE_TAG]


def group_guess(files: list[tuple[str, bytes]]) -> dict[str, str]:
    """Role -> file name guessed from the files' tags ('run-x-tag-eval_loss_web.csv' -> loss_pt)."""
    by_tag = {importers.tb_csv.tag_of(n): n for n, _ in files}
    return {role: by_tag[tag] for role, tag in importers.guess_roles(list(by_tag)).items()}


def guess_start(files: list[tuple[str, bytes]], roles: dict[str, str]) -> CptStart | None:
    """Where CPT seems to start in the log(s), from the LR chosen in the mapping form (``roles``:
    'lr' and, for a plain table, 'step'); None without an LR or a re-warm-up. Once per session."""
    mapping = {r: m for r, m in roles.items() if r in ("step", "lr") and m not in (NONE, AUTO, "")}
    if "lr" not in mapping:
        return None
    key = "start:" + "".join(digest(raw) + n for n, raw in files) + repr(sorted(mapping.items()))
    return _cached(key, lambda: importers.guess_cpt_start(files, mapping=mapping))


def import_files(
    files: list[tuple[str, bytes]],
    roles: dict[str, str],
    cpt_start: int | None,
    replay: float,
    schedule: str,
) -> list[Run]:
    """Runs from a non-canonical log, or one run from several one-tag files of one run, with the
    confirmed mapping (``cptcore.importers.read_files``).

    ``roles`` maps step / lr / loss_pt / loss_cpt to a metric, column or file name (``NONE``/``AUTO``
    left out); ``cpt_start`` None means a CPT-only run with unknown pre-training history (paper §6);
    ``schedule`` (optional) rebuilds the LR, e.g. 'wsd:peak=3e-4,steps=20000,warmup=500,decay=0.2'.
    Messages name the mapping form's controls (``PAGE_ADVICE``), not command-line options.
    """
    source = ", ".join(n for n, _ in files)
    mapping = {r: m for r, m in roles.items() if m not in (NONE, AUTO, "", None)}
    if "loss_pt" not in mapping and "loss_cpt" not in mapping:
        raise InputError(
            "choose at least one validation loss",
            source=source,
            fix=f"Pick a metric under '{LABELS['loss_pt']}' or '{LABELS['loss_cpt']}'",
        )
    return importers.read_files(
        files,
        mapping=mapping,
        cpt_start=cpt_start,
        replay=replay,
        schedule=schedule.strip() or None,
        advice=PAGE_ADVICE,
    )


def import_log_once(
    filename: str,
    data: bytes,
    roles: dict[str, str],
    cpt_start: int | None,
    replay: float,
    schedule: str,
) -> list[Run]:
    """``import_files`` of one log, read once per session for the same bytes and mapping (the Track
    page reruns on every widget change)."""
    mapping = repr((sorted(roles.items()), cpt_start, replay, schedule))
    return _cached(
        "import:" + digest(data) + filename + mapping,
        lambda: import_files([(filename, data)], roles, cpt_start, replay, schedule),
    )
