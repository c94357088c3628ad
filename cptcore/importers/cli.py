"""``python -m cptcore import LOG [LOG ...] -o run.csv``: any supported log -> canonical run CSV(s)."""

from __future__ import annotations

import argparse
import os

import numpy as np

from cptcore.errors import InputError
from cptcore.files import check_writable
from cptcore.importers import CHOICES, FORMATS, guess_cpt_start, parse_map, read_files
from cptcore.inputs import MAX_BYTES, read_file
from cptcore.runs import write_run

EPILOG = """examples:
  python -m cptcore import wandb_export.csv --map loss_pt='eval/loss_web',loss_cpt='eval/loss_math' -o run.csv
  python -m cptcore import run-x-tag-lr.csv run-x-tag-eval_loss_web.csv run-x-tag-eval_loss_math.csv --cpt-start 3000 -o run.csv
  python -m cptcore import checkpoint-1000/trainer_state.json --join-pt pt/trainer_state.json --offset 3000 -o run.csv
  python -m cptcore import losses.csv --cpt-start 3000 --schedule 'wsd:peak=1e-3,steps=3000,warmup=100,decay=0.2; cosine:peak=5e-4,steps=1000,warmup=50' -o run.csv

formats: """ + "; ".join(f"{k} = {v.label}" for k, v in FORMATS.items())


def _read(path: str) -> tuple[str, bytes]:
    data = read_file(
        path,
        MAX_BYTES,
        fix=f"Keep logs under {MAX_BYTES // 2**20} MB (export only the metrics you need)",
    )
    return os.path.basename(path), data


def output_paths(output: str, names: list[str]) -> list[str]:
    """One output file per run: ``output`` itself for one run, else ``<stem>-<run name><ext>``.

    Run names are made safe for file names ('a/b' -> 'a_b') and then unique, ignoring case (a
    case-insensitive file system would merge 'A' and 'a'): runs 'a b', 'a_b' and 'a/b' are written
    to three files, never over each other."""
    if len(names) == 1:
        return [output]
    stem, ext = os.path.splitext(output)
    out, used = [], set()
    for name in names:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        path, k = f"{stem}-{safe}{ext or '.csv'}", 2
        while path.lower() in used:
            path, k = f"{stem}-{safe}-{k}{ext or '.csv'}", k + 1
        used.add(path.lower())
        out.append(path)
    return out


def add_import_command(sub) -> None:
    """Register the ``import`` subcommand on an argparse subparsers object."""
    p = sub.add_parser(
        "import",
        help="convert W&B / TensorBoard / Hugging Face / generic logs into canonical run CSVs",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "logs", nargs="+", metavar="LOG", help="log file(s); TensorBoard CSVs of one run combine"
    )
    p.add_argument("--format", choices=CHOICES, default="auto", help="log format (default: detect)")
    p.add_argument(
        "--map",
        dest="mapping",
        metavar="ROLE=NAME,...",
        help="which column/metric/tag is step, lr, loss_pt (general set), loss_cpt (domain set), phase, replay",
    )
    p.add_argument(
        "--cpt-start",
        type=int,
        metavar="STEP",
        help="step CPT starts from (rows after it are CPT); default: where the LR re-warms up, "
        "else a CPT-only run",
    )
    p.add_argument("--replay", type=float, metavar="R", help="replay ratio of the run (0..1)")
    p.add_argument(
        "--join-pt",
        metavar="PT_LOG",
        action="append",
        help="pre-training log to put before the CPT log",
    )
    p.add_argument(
        "--offset", type=int, metavar="N", help="CPT step s becomes s + N (default: PT's last step)"
    )
    p.add_argument(
        "--schedule",
        metavar="SPEC",
        help="rebuild the LR: 'kind:peak=..,steps=..[,warmup=..,decay=..,final=..,shape=..]' (PT; CPT)",
    )
    p.add_argument("--name", help="run name (default: from the log)")
    p.add_argument(
        "-o",
        "--output",
        default="run.csv",
        help="canonical CSV to write (default run.csv; several runs get -<name> suffixes)",
    )
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    if args.offset is not None and not args.join_pt:
        raise InputError(
            "--offset needs --join-pt", source="import", fix="Name the PT log with --join-pt PT_LOG"
        )
    check_writable(args.output)  # before reading: fail fast on a folder or a missing directory
    files = [_read(p) for p in args.logs]
    mapping = parse_map(args.mapping) if args.mapping else None
    cpt_start, guess = args.cpt_start, None
    if cpt_start is None and not args.join_pt and not args.schedule:
        guess = guess_cpt_start(files, format=args.format, mapping=mapping)
        cpt_start = guess.step if guess else None
    runs = read_files(
        files,
        format=args.format,
        mapping=mapping,
        cpt_start=cpt_start,
        replay=args.replay,
        schedule=args.schedule,
        join_pt=[_read(p) for p in args.join_pt] if args.join_pt else None,
        offset=args.offset,
        name=args.name,
    )
    if guess is not None:
        print(f"note: {guess.hint}; give --cpt-start to change it")
    for run, out in zip(runs, output_paths(args.output, [r.name for r in runs]), strict=True):
        write_run(run, out)
        kind = (
            "PT+CPT"
            if run.has_cpt and run.pt_history_known
            else "CPT only"
            if run.has_cpt
            else "PT only"
        )
        n_pt, n_cpt = (int(np.isfinite(run.loss(t)).sum()) for t in ("pt", "cpt"))
        print(
            f"wrote {out}: run '{run.name}', {kind}, steps {run.step[0]}..{run.last_step}"
            f" (transfer at {run.transfer_step}), replay {run.replay:g},"
            f" {n_pt} general and {n_cpt} domain loss points"
        )
        if not run.pt_history_known:
            print(
                "  note: no pre-training rows: the fit treats S1pt as a parameter (paper §6); give --cpt-start or --join-pt if the log has PT steps"
            )
        w = run.sparsity_warning()
        if w:
            print(f"  warning: {w}")
    return 0
