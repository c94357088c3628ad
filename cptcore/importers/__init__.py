"""Bring your own logs: W&B, TensorBoard (CSV and event files), Hugging Face trainer_state.json and
generic tables -> canonical ``Run``s. The registry ``FORMATS`` is shared by the CLI, the UI and tests.

    read_any(data, filename)                       # one file, format detected
    read_files([(name, data), ...], mapping=..., cpt_start=..., schedule=..., join_pt=..., offset=...)
    describe(data, filename)                        # format, runs, metrics and guessed roles (for a UI)
    guess_cpt_start([(name, data), ...], mapping=...)  # the last PT step, from the LR's re-warm-up

Every problem is an ``InputError`` with one user-facing line; nothing is unpickled or evaluated.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cptcore.errors import InputError
from cptcore.importers import generic, hf, megatron, tb_csv, tb_events, wandb
from cptcore.importers._common import (
    CLI_ADVICE,
    ROLES,
    Advice,
    Log,
    finish,
    guess_roles,
    join,
    parse_map,
    quantities,
    val_loss_candidates,
)
from cptcore.inputs import MAX_BYTES, check_size, read_file
from cptcore.runs import REQUIRED, Run, parse_table, run_from_bytes
from cptcore.schedules import parse_schedule
from cptcore.transfer import CptStart, cpt_start_of


@dataclass(frozen=True)
class Importer:
    name: str
    label: str
    sniff: Callable[[bytes, str], bool]
    parse: Callable[[bytes, str], list[Log]] | None  # None: canonical runs, read by run_from_bytes


def _canonical_sniff(data: bytes, filename: str) -> bool:
    head = data[:4000]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        head = data[:8000].decode("utf-16", errors="ignore").encode()
    first = head.decode("utf-8-sig", errors="ignore").split("\n", 1)[0].lower()
    cols = {c.strip().strip('"') for c in first.replace("\t", ",").replace(";", ",").split(",")}
    return set(REQUIRED) <= cols


# detection order matters: specific formats first, the canonical table, then generic tables
FORMATS: dict[str, Importer] = {
    m.NAME: Importer(m.NAME, m.LABEL, m.sniff, m.parse)
    for m in (tb_events, hf, tb_csv, wandb, megatron)
}
FORMATS["canonical"] = Importer(
    "canonical", "Canonical run CSV (step,lr,phase,replay,loss_pt,loss_cpt)", _canonical_sniff, None
)  # fmt: skip
FORMATS[generic.NAME] = Importer(generic.NAME, generic.LABEL, generic.sniff, generic.parse)
CHOICES = ("auto", *FORMATS)


def detect(data: bytes, filename: str) -> str:
    """The format name (a key of ``FORMATS``) that ``data`` looks like; 'generic' as the fallback."""
    for name, imp in FORMATS.items():
        try:
            if imp.sniff(data, filename):
                return name
        except (ValueError, struct.error):  # a sniffer peeks at a few bytes: junk does not match
            continue
    return "generic"


def _check_format(fmt: str) -> str:
    if fmt not in CHOICES:
        raise InputError("unknown log format", received=fmt, fix=f"Use one of {', '.join(CHOICES)}")
    return fmt


def _check_size(nbytes: int, filename: str) -> None:
    fix = f"Keep logs under {MAX_BYTES // 2**20} MB (export only the metrics you need)"
    check_size(nbytes, MAX_BYTES, filename, fix)


def _stem(filename: str) -> str:
    return os.path.splitext(os.path.basename(filename))[0]


def _parse(
    files: Sequence[tuple[str, bytes]],
    fmt: str,
    step: str | None = None,
    advice: Advice = CLI_ADVICE,
) -> tuple[list[Run], list[Log]]:
    """Canonical runs as they are, every other file as logs; one-tag-per-file TensorBoard logs
    (CSV downloads, event files of one run) are merged into one log."""
    runs, logs, merge = [], [], []
    for filename, data in files:
        filename = os.path.basename(str(filename))
        if not isinstance(data, (bytes, bytearray)):
            data = data.read() if hasattr(data, "read") else bytes(data)
        _check_size(len(data), filename)
        kind = detect(data, filename) if fmt == "auto" else fmt
        if kind == "canonical":
            runs.append(run_from_bytes(bytes(data), _stem(filename), filename))
            continue
        if kind == "generic":  # the one format whose step column the user may have to name
            parsed = generic.parse(bytes(data), filename, step_column=step, advice=advice)
        else:
            parsed = FORMATS[kind].parse(bytes(data), filename)
        (merge if kind in ("tb-csv", "tb-events") else logs).extend(parsed)
    if merge:
        logs.append(_merge(merge))
    return runs, logs


def _merge(logs: list[Log]) -> Log:
    """Outer-join logs on step (later files win on a shared step of the same metric)."""
    table = logs[0].table
    for lg in logs[1:]:
        table = table.merge(lg.table, on="step", how="outer", suffixes=("", "__dup"))
        for c in [c for c in table.columns if c.endswith("__dup")]:
            base = c[: -len("__dup")]
            table[base] = table[c].combine_first(table[base])
            table = table.drop(columns=c)
    sources = ", ".join(dict.fromkeys(lg.source for lg in logs))
    names = list(dict.fromkeys(lg.name for lg in logs))
    name = names[0] if len(names) == 1 else os.path.commonprefix(names).strip("-_ ") or names[0]
    files = {lg.source: lg.table.columns[-1] for lg in logs}  # file name -> its (last) tag
    return Log(
        name, sources if len(sources) <= 80 else logs[0].source + ", ...", table, files=files
    )


def _resolve_files(log: Log, mapping: dict[str, str]) -> dict[str, str]:
    """A TensorBoard-CSV mapping may name the file instead of the tag."""
    return {k: log.files.get(os.path.basename(v), v) for k, v in mapping.items()}


def read_files(
    files: Sequence[tuple[str, bytes]],
    *,
    format: str = "auto",
    mapping: Mapping[str, str] | str | None = None,
    cpt_start: int | None = None,
    replay: float | None = None,
    schedule=None,
    join_pt: Sequence[tuple[str, bytes]] | None = None,
    offset: int | None = None,
    name: str | None = None,
    advice: Advice = CLI_ADVICE,
) -> list[Run]:
    """Runs from one or more log files: ``files`` is ``[(filename, bytes), ...]``.

    - ``format``: 'auto' (detect per file) or a key of ``FORMATS``.
    - ``mapping``: role -> metric/column/tag/file name, roles ``step, lr, loss_pt, loss_cpt, phase,
      replay`` (a dict or 'lr=train/lr,loss_cpt=eval/loss'); unmapped roles are guessed.
    - ``cpt_start``: the step of the checkpoint CPT starts from; later rows are CPT. Without it (and
      without a phase column or a join) the log is a CPT-only run with unknown PT history (paper §6).
    - ``replay``: the replay ratio of the run (default: a mapped 'replay' column, else 0).
    - ``schedule``: rebuild the LR from a schedule ('wsd:peak=3e-4,steps=N,...', two specs joined by
      ';' for PT then CPT, or ``ScheduleSpec``s); the run then has a row at every step.
    - ``join_pt``: the pre-training log's files; each CPT log is joined after it at ``offset`` (CPT step
      s -> s + offset; default the PT log's last step).
    - ``name``: the run's name when there is one run.
    - ``advice``: how messages name the options above (the command line's flags by default).

    Several runs in one file (a W&B export) give several runs. Canonical CSVs are read as they are.
    """
    fmt = _check_format(format)
    if not files:
        raise InputError("no file given", fix="Upload or name at least one log file")
    m = parse_map(mapping) if isinstance(mapping, str) else dict(mapping or {})
    runs, logs = _parse(files, fmt, m.get("step"), advice)
    pt_q = None
    if join_pt:
        pt_runs, pt_logs = _parse(join_pt, fmt, m.get("step"), advice)
        if pt_runs or len(pt_logs) != 1:
            raise InputError(
                "the pre-training log must hold exactly one run in a log format",
                source=", ".join(os.path.basename(str(f)) for f, _ in join_pt),
                received=f"{len(pt_runs) + len(pt_logs)} runs",
                fix="Give one PT log (one W&B run, one trainer_state.json, the TensorBoard files of one run)",
            )
        pt_log = pt_logs[0]
        pt_map = {k: v for k, v in _resolve_files(pt_log, m).items() if v in pt_log.metrics}
        pt_q = quantities(pt_log, pt_map, advice)
    for log in logs:
        q = quantities(log, _resolve_files(log, m), advice)
        if pt_q is not None:
            q = join(pt_q, q, offset, log.source)
        run_name = name if name and len(logs) == 1 else log.name
        runs.append(
            finish(
                q,
                name=run_name,
                source=log.source,
                cpt_start=cpt_start,
                replay=replay,
                schedule=schedule,
                advice=advice,
            )
        )
    return _unique_names(runs)


def guess_cpt_start(
    files: Sequence[tuple[str, bytes]],
    *,
    format: str = "auto",
    mapping: Mapping[str, str] | str | None = None,
) -> CptStart | None:
    """The last PT step of the log(s) in ``files``, guessed from the LR's re-warm-up
    (``cptcore.transfer``): the default for ``read_files(cpt_start=...)``. None when nothing in the
    LR suggests a PT phase, the log has a phase column or no LR, its runs disagree, or it does not
    parse (``read_files`` then says why)."""
    m = parse_map(mapping) if isinstance(mapping, str) else dict(mapping or {})
    try:
        runs, logs = _parse(files, _check_format(format), m.get("step"))
    except InputError:
        return None
    if runs or not logs:  # canonical runs carry their phase
        return None
    guesses = set()
    for log in logs:
        roles = {**guess_roles(log.metrics), **_resolve_files(log, m)}
        lr = roles.get("lr")
        if "phase" in roles or lr not in log.table.columns:
            return None
        guesses.add(cpt_start_of(log.table["step"].to_numpy(), log.table[lr].to_numpy()))
    return guesses.pop() if len(guesses) == 1 else None


def read_any(
    data: bytes,
    filename: str,
    *,
    format: str = "auto",
    mapping: Mapping[str, str] | str | None = None,
    cpt_start: int | None = None,
    replay: float | None = None,
    schedule=None,
    name: str | None = None,
    advice: Advice = CLI_ADVICE,
) -> list[Run]:
    """Runs from one uploaded file (any format in ``FORMATS``); ``InputError`` on any problem.
    See ``read_files`` for the options."""
    return read_files(
        [(filename, data)],
        format=format,
        mapping=mapping,
        cpt_start=cpt_start,
        replay=replay,
        schedule=schedule,
        name=name,
        advice=advice,
    )


def _unique_names(runs: list[Run]) -> list[Run]:
    seen: set[str] = set()
    out = []
    for r in runs:
        nm, k = r.name, 2
        while nm in seen:
            nm, k = f"{r.name}-{k}", k + 1
        seen.add(nm)
        if nm != r.name:
            r = Run(nm, r.step, r.lr, r.is_cpt, r.replay, r.loss_pt, r.loss_cpt)
        out.append(r)
    return out


@dataclass(frozen=True)
class LogInfo:
    """What a file holds, for building a mapping UI: its format, runs, metrics and our guesses."""

    format: str
    runs: tuple[str, ...]
    metrics: tuple[str, ...]
    guess: dict  # role -> metric
    val_losses: tuple[str, ...]  # candidates for loss_pt / loss_cpt


def describe(data: bytes, filename: str, format: str = "auto") -> LogInfo:
    """The format, run names, metric names and guessed roles of one file (nothing is validated
    beyond parsing)."""
    fmt = _check_format(format)
    kind = detect(data, filename) if fmt == "auto" else fmt
    _check_size(len(data), filename)
    if kind == "canonical":
        cols = tuple(str(c) for c in parse_table(data, filename).columns)
        return LogInfo(kind, (_stem(filename),), cols, {c: c for c in cols if c in ROLES}, ())
    if kind == "generic":
        cols = generic.columns(data, filename)
        if generic.step_column_of(cols) is None:  # every column is a candidate: the user says
            return LogInfo(  # which one counts steps (mapping role 'step')
                kind,
                (_stem(filename),),
                tuple(cols),
                guess_roles(cols),
                tuple(val_loss_candidates(cols)),
            )
    logs = FORMATS[kind].parse(bytes(data), filename)
    metrics = tuple(dict.fromkeys(m for lg in logs for m in lg.metrics))
    return LogInfo(
        kind,
        tuple(lg.name for lg in logs),
        metrics,
        guess_roles(metrics),
        tuple(val_loss_candidates(metrics)),
    )


def load_path(path: str, notes: list[str] | None = None, **options) -> list[Run]:
    """Runs from a file path (the CLI's entry point): canonical CSVs and plain tables go through
    ``read_run`` unchanged; W&B, TensorBoard and Hugging Face logs through the importers. Without
    options CPT starts where the LR re-warms up (``guess_cpt_start``), said in ``notes``.

    The file is read once: a named pipe or ``/dev/stdin`` cannot be opened a second time."""
    name = os.path.basename(path)
    data = read_file(path, MAX_BYTES, fix=f"Keep runs and logs under {MAX_BYTES // 2**20} MB")
    fmt = options.get("format", "auto")
    kind = detect(data[:2_000_000], name) if fmt == "auto" else fmt
    if kind in ("canonical", "generic") and not options.get("mapping") and fmt == "auto":
        return [run_from_bytes(data, _stem(name), name)]  # as read_run(path)
    files = [(os.path.basename(path), data)]
    guess = None if options else guess_cpt_start(files)  # as the import command's default
    if guess is not None and notes is not None:
        notes.append(f"{name}: {guess.hint}; import it with --cpt-start to change it")
    try:
        return read_files(files, **options, **({"cpt_start": guess.step} if guess else {}))
    except InputError as e:
        if "--map" not in (e.fix or "") or options:
            raise
        raise InputError(  # fit/predict have no --map: point to the import command
            e.problem,
            source=e.source,
            column=e.column,
            row=e.row,
            received=e.received,
            fix=f"{e.fix.rstrip('.')}, with 'python -m cptcore import {os.path.basename(path)} ... -o run.csv' first",
        ) from None


__all__ = [
    "Advice",
    "CLI_ADVICE",
    "FORMATS",
    "CHOICES",
    "ROLES",
    "Importer",
    "LogInfo",
    "detect",
    "describe",
    "guess_cpt_start",
    "CptStart",
    "read_any",
    "read_files",
    "load_path",
    "parse_map",
    "parse_schedule",
]
