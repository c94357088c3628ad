"""What every importer shares: the raw ``Log``, role guessing, schedule specs, joining, and the one
path from a log to a canonical ``Run`` (validated by ``cptcore.runs.run_from_frame``).

A format module turns bytes into ``Log``s: a name, the file it came from and a table with a numeric
``step`` column plus one float column per logged metric (NaN where that metric was not logged). The
user's mapping (role -> metric name) or our guesses pick the LR and the two validation losses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cptcore.errors import InputError
from cptcore.inputs import TableRules
from cptcore.runs import MAX_STEPS, Run, phase_labels, run_from_frame
from cptcore.schedules import parse_schedule, schedule_lr

# roles a metric/column can play; "step" only matters for the generic and W&B tables
ROLES = {
    "step": "optimizer step",
    "lr": "learning rate",
    "loss_pt": "validation loss on the general (pre-training) set",
    "loss_cpt": "validation loss on the domain (CPT) set",
    "phase": "'pt' / 'cpt' per row (generic tables only)",
    "replay": "share of pre-training data in the CPT mix (generic tables only)",
}
MAX_METRICS = 5000  # columns/tags beyond this are a bomb, not a log


@dataclass(frozen=True)
class Advice:
    """How importer messages tell the user to fix the mapping. The defaults are the command line's
    words (``--map``, ``--schedule``); the Fit page passes the names of its own controls
    (``ui.upload.PAGE_ADVICE``), so a web user is never told to type a flag."""

    which_loss: str = (
        "Say which it is, e.g. --map loss_cpt={metric} (domain) or loss_pt={metric} (general)"
    )
    map_metrics: str = "Map the metrics, e.g. --map lr=train/lr,loss_cpt=eval/loss"
    map_lr: str = (
        "Map the LR metric (--map lr=NAME), or describe the schedule: "
        "--schedule 'wsd:peak=3e-4,steps=N,warmup=W,decay=0.2'"
    )
    map_step: str = "Say which column counts optimizer steps, e.g. --map step=iteration"
    schedule: str = "--schedule"  # names the schedule option (the source of its errors)
    cpt_start: str = "--cpt-start"  # names the option that gives the last PT step


CLI_ADVICE = Advice()


@dataclass
class Log:
    """One run as logged: ``table`` has a float ``step`` column and one column per metric."""

    name: str
    source: str
    table: pd.DataFrame
    text_columns: dict = field(default_factory=dict)  # name -> string Series (a 'phase' column)
    files: dict = field(default_factory=dict)  # TensorBoard CSVs: file name -> its tag

    @property
    def metrics(self) -> list[str]:
        return [c for c in self.table.columns if c != "step"] + list(self.text_columns)


# ------------------------------------------------------------------------------------------- tables

LOG_TABLE = TableRules(
    max_header_chars=200_000,
    max_separators=MAX_METRICS,
    header_in_columns=True,
    header_fix="Export only the metrics you need ({what})",
    not_a_table_fix="Export the metrics as a CSV table ({what})",
    one_line_ok=True,
    parse_problem="cannot parse as a table",
    parse_fix="Check that every row has the same number of separated fields",
    strip_names=True,
)


def tokens(name: str) -> list[str]:
    """'train/learning_rate' -> ['train', 'learning', 'rate'] (lower case, split on non-alnum)."""
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


# ------------------------------------------------------------------------------------ role guessing

_GENERAL = {
    "pt",
    "general",
    "gen",
    "web",
    "pile",
    "c4",
    "fineweb",
    "slimpajama",
    "redpajama",
    "dclm",
    "pretrain",
    "pretraining",
    "english",
    "en",
    "base",
    "orig",
    "original",
    "wiki",
    "wikitext",
}
_DOMAIN = {
    "cpt",
    "domain",
    "code",
    "math",
    "med",
    "medical",
    "bio",
    "law",
    "legal",
    "finance",
    "fin",
    "chinese",
    "zh",
    "target",
    "arxiv",
    "github",
    "science",
    "new",
    "downstream",
    "task",
}
_VAL = {"val", "valid", "validation", "eval", "evaluation", "test", "dev", "heldout"}


def is_lr(name: str) -> bool:
    t = tokens(name)
    joined = "".join(t)
    return "lr" in t or "learningrate" in joined


def is_val_loss(name: str) -> bool:
    t = tokens(name)
    return any("loss" in x for x in t) and (bool(_VAL & set(t)) or name.lower().startswith("eval"))


def guess_roles(metrics: Sequence[str]) -> dict[str, str]:
    """Best guess of role -> metric: LR by name ('lr', 'learning_rate'), the general and domain
    validation losses by a marker in the name ('pt'/'general'/'web'… vs 'cpt'/'domain'/'code'…).
    A lone unmarked validation loss is left unassigned: which set it is cannot be guessed."""
    roles: dict[str, str] = {}
    exact = {m.strip().lower(): m for m in metrics}
    for role in ("lr", "loss_pt", "loss_cpt", "replay", "phase"):  # canonical names win
        if role in exact:
            roles[role] = exact[role]
    metrics = [m for m in metrics if m not in roles.values()]
    lrs = [m for m in metrics if is_lr(m)] if "lr" not in roles else []
    if lrs:
        roles["lr"] = min(lrs, key=len)
    vals = [m for m in metrics if is_val_loss(m)]
    general = [m for m in vals if set(tokens(m)) & _GENERAL and not set(tokens(m)) & _DOMAIN]
    domain = [m for m in vals if set(tokens(m)) & _DOMAIN]
    unmarked = [m for m in vals if m not in general and m not in domain]
    if len(general) == 1 and "loss_pt" not in roles:
        roles["loss_pt"] = general[0]
    if len(domain) == 1 and "loss_cpt" not in roles:
        roles["loss_cpt"] = domain[0]
    if len(unmarked) == 1:
        if "loss_pt" in roles and "loss_cpt" not in roles:
            roles["loss_cpt"] = unmarked[0]
        elif "loss_cpt" in roles and "loss_pt" not in roles:
            roles["loss_pt"] = unmarked[0]
    return roles


def val_loss_candidates(metrics: Sequence[str]) -> list[str]:
    return [m for m in metrics if is_val_loss(m)]


def check_mapping(mapping: Mapping[str, str] | None, source: str) -> dict[str, str]:
    out = {}
    for k, v in (mapping or {}).items():
        key = str(k).strip().lower()
        if key not in ROLES:
            raise InputError(
                "unknown role in the column mapping",
                source=source,
                received=str(k),
                fix=f"Map any of {', '.join(ROLES)} to a column or metric name, e.g. lr=train/lr",
            )
        out[key] = str(v).strip()
    return out


def parse_map(text: str | None, source: str = "--map") -> dict[str, str]:
    """'step=Step,lr=train/lr' -> {'step': 'Step', 'lr': 'train/lr'}."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise InputError(
                "expected role=column",
                source=source,
                received=part.strip(),
                fix="Write the mapping as step=Step,lr=train/lr,loss_cpt=eval/loss",
            )
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return check_mapping(out, source)


# ------------------------------------------------------------------------------- log -> quantities

QTY = ("lr", "loss_pt", "loss_cpt", "replay")


def quantities(
    log: Log, mapping: Mapping[str, str] | None, advice: Advice = CLI_ADVICE
) -> pd.DataFrame:
    """The log's step/LR/losses (+phase/replay) after mapping, merged to one row per step.

    Rows logged twice at one step (train and eval rows, a resumed run) are merged; the later
    value wins. Rows where none of the chosen quantities was logged are dropped."""
    m = check_mapping(mapping, log.source)
    metrics = log.metrics
    for role, col in m.items():
        if role != "step" and col not in metrics:  # 'step' is used by the generic parser
            shown = ", ".join(metrics[:6]) + (", ..." if len(metrics) > 6 else "")
            raise InputError(
                f"the mapping names a metric this log does not have (for {role})",
                source=log.source,
                received=col,
                fix=f"Pick one of: {shown or 'no metrics found'}",
            )
    guess = guess_roles([c for c in metrics if c not in m.values()])
    roles = {**{k: v for k, v in guess.items() if k not in m}, **{k: v for k, v in m.items()}}
    roles.pop("step", None)
    if "loss_pt" not in roles and "loss_cpt" not in roles:
        cands = [c for c in val_loss_candidates(metrics) if c not in roles.values()]
        if cands:
            raise InputError(
                "cannot tell whether this validation loss is on the general or the domain set",
                source=log.source,
                received=", ".join(cands[:4]),
                fix=advice.which_loss.format(metric=cands[0]),
            )
    out = pd.DataFrame({"step": log.table["step"].to_numpy(dtype=float)})
    for role in QTY:
        if role in roles and roles[role] in log.text_columns:
            text = log.text_columns[roles[role]]
            raise InputError(
                "not a number",
                source=log.source,
                column=roles[role],
                received=str(text[text != ""].iloc[0]) if (text != "").any() else "",
                fix=f"The {ROLES[role]} must be numbers such as 3e-4; map another column if this one is not it",
            )
        if role in roles:
            out[role] = log.table[roles[role]].to_numpy(dtype=float)
    if "phase" in roles:
        col = roles["phase"]
        phase = log.text_columns[col] if col in log.text_columns else log.table[col].astype(str)
        out["phase"] = phase.to_numpy()
    out.attrs["roles"] = roles
    keep = out.drop(columns="step").notna().any(axis=1).to_numpy()
    out = out[keep & np.isfinite(out["step"].to_numpy())]
    if out.empty:
        raise InputError(
            "no learning rate or validation loss found",
            source=log.source,
            received=", ".join(metrics[:6]) or "no metrics",
            fix=advice.map_metrics,
        )
    merged = out.groupby("step", sort=True).last().reset_index()
    merged.attrs["roles"] = roles
    return merged


def join(pt: pd.DataFrame, cpt: pd.DataFrame, offset: int | None, source: str) -> pd.DataFrame:
    """PT rows up to ``offset`` then the CPT log's rows shifted by ``offset`` (CPT step s -> s + offset).

    ``offset`` defaults to the PT log's last step (CPT started from the last PT checkpoint). The CPT
    log's own step-0 evaluation (the transfer model) fills the PT row at the offset."""
    if offset is None:
        offset = int(pt["step"].max())
    if offset < 0:
        raise InputError("the step offset must be >= 0", source=source, received=offset)
    p = pt[pt["step"] <= offset].copy()
    c = cpt.copy()
    c["step"] = c["step"] + offset
    p["phase"], c["phase"] = "pt", "cpt"
    at = c[c["step"] == offset]
    c = c[c["step"] > offset]
    if not at.empty:
        at = at.assign(phase="pt")
        p = pd.concat([p, at]).groupby("step", sort=True).last().reset_index()
    out = pd.concat([p, c], ignore_index=True).sort_values("step", kind="stable")
    out.attrs["roles"] = {**pt.attrs.get("roles", {}), **cpt.attrs.get("roles", {})}
    return out.reset_index(drop=True)


# ------------------------------------------------------------------------------ quantities -> Run


def finish(
    q: pd.DataFrame,
    *,
    name: str,
    source: str,
    cpt_start: int | None = None,
    replay: float | None = None,
    schedule=None,
    advice: Advice = CLI_ADVICE,
) -> Run:
    """Phase, LR (logged, interpolated, or rebuilt from a schedule) and replay -> a validated Run."""
    q = q.copy()
    roles = q.attrs.get("roles", {})
    step = q["step"].to_numpy(dtype=float)
    if np.any(step != np.round(step)) or np.any(step < 0) or np.any(step > MAX_STEPS):
        i = int(np.argmax((step != np.round(step)) | (step < 0) | (step > MAX_STEPS)))
        raise InputError(
            f"steps must be whole numbers from 0 to {MAX_STEPS:,}",
            source=source,
            column=roles.get("step", "step"),
            received=step[i],
            fix="Map the optimizer-step column (not the epoch or the token count) as step",
        )
    specs = parse_schedule(schedule, advice.schedule) if schedule is not None else None
    lr_sched, sched_transfer = schedule_lr(specs) if specs else (None, None)
    if cpt_start is None and sched_transfer is not None and "phase" not in q:
        cpt_start = sched_transfer

    # phase: a mapped/joined phase column, else --cpt-start, else a CPT-only run (paper §6)
    if "phase" in q:
        ph = q["phase"].astype(str).str.strip().str.lower()
    elif cpt_start is not None:
        if cpt_start < 0:
            raise InputError(f"{advice.cpt_start} must be >= 0", source=source, received=cpt_start)
        ph = pd.Series(phase_labels(step > cpt_start))
    else:
        ph = pd.Series(phase_labels(np.ones(len(step), dtype=bool)))
    q["phase"] = ph.to_numpy()
    # a known PT history starts at step 0 (the initial model): also when --cpt-start is 0
    has_pt = bool((q["phase"] == "pt").any()) or (cpt_start is not None and "phase" not in roles)

    if lr_sched is not None:
        last = int(step.max())
        if last >= len(lr_sched):
            raise InputError(
                "the log goes beyond the end of the schedule",
                source=source,
                received=f"last step {last:,}, schedule of {len(lr_sched) - 1:,} steps",
                fix="Give the schedule's full number of steps (steps=...), PT and CPT separated by ';'",
            )
        # a row at every step from 0: the LR (and so S1, S2) is then exact for any decay shape
        dense = pd.DataFrame({"step": np.arange(0, last + 1, dtype=float)})
        q = dense.merge(q.drop(columns=["lr"], errors="ignore"), on="step", how="left")
        q["lr"] = lr_sched[: last + 1]
        q["phase"] = q["phase"].bfill().ffill()
        if cpt_start is not None and "phase" not in roles:
            q["phase"] = phase_labels(q["step"].to_numpy() > cpt_start)
    else:
        if "lr" not in q or not q["lr"].notna().any():
            raise InputError(
                "the learning rate was not logged",
                source=source,
                received=", ".join(sorted(set(roles.values()))[:5]) or "no metrics",
                fix=advice.map_lr,
            )
        if has_pt and step.min() > 0:  # the initial model: no update yet
            row = {"step": 0.0, "lr": 0.0, "phase": "pt"}
            q = pd.concat([pd.DataFrame([row]), q], ignore_index=True)
        known = q["lr"].notna().to_numpy()
        s = q["step"].to_numpy(dtype=float)
        # rows logged between LR rows (eval-only rows): LR interpolated linearly, as the run does
        q["lr"] = np.interp(s, s[known], q["lr"].to_numpy(dtype=float)[known])

    if replay is not None:
        q["replay"] = float(replay)
    frame = pd.DataFrame(
        {c: q[c] for c in ("step", "lr", "phase", "replay", "loss_pt", "loss_cpt") if c in q}
    )
    frame["step"] = frame["step"].astype(np.int64)
    try:
        return run_from_frame(frame, name=name, source=source)
    except InputError as e:
        raise _at_step(e, frame, roles, source) from None


def _at_step(e: InputError, frame: pd.DataFrame, roles: dict, source: str) -> InputError:
    """Re-express a canonical-table error in the log's terms: its metric name and step."""
    problem = e.problem
    if e.row is not None and 0 <= e.row - 2 < len(frame):
        problem += f" at step {int(frame['step'].iloc[e.row - 2])}"
    column = e.column
    if column in roles and roles[column] != column:
        column = f"{roles[column]} ({column})"
    return InputError(problem, source=source, column=column, received=e.received, fix=e.fix)
