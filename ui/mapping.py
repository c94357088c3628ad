"""The mapping form of a non-canonical log (W&B, TensorBoard, Hugging Face, Megatron, other tables):
which metric is which, where CPT starts, replay and an optional schedule. Shared by the Fit page
(several runs) and the Track page (one running job, re-uploaded as it goes on)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from cptcore import importers
from cptcore.forecast import with_planned_schedule
from cptcore.runs import Run
from cptcore.schedules import concatenate
from ui.upload import (
    AUTO,
    LABELS,
    NONE,
    PAGE_ADVICE,
    SCHEDULE_EXAMPLE,
    columns,
    group_guess,
    guess_start,
    import_files,
    import_log_once,
)
from ui.widgets import guard, md


@dataclass(frozen=True)
class Mapping:
    """A confirmed mapping: role -> metric (or file), last PT step (None: CPT only), replay and
    schedule; the arguments of ``ui.upload.import_files``."""

    roles: tuple[tuple[str, str], ...]
    cpt_start: int | None
    replay: float
    schedule: str

    def runs(self, filename: str, data: bytes) -> list[Run]:
        """The runs of ``data`` read with this mapping (``InputError`` if it no longer fits)."""
        return import_log_once(
            filename, data, dict(self.roles), self.cpt_start, self.replay, self.schedule
        )

    def planned(self, run: Run) -> Run:
        """``run`` continued to the end of this mapping's schedule (a running job's log stops at
        its last logged step); unchanged without a schedule."""
        if not self.schedule.strip():
            return run
        specs = importers.parse_schedule(self.schedule, PAGE_ADVICE.schedule)
        lr, transfer = concatenate(*specs)
        return with_planned_schedule(run, lr, transfer if len(specs) == 2 else self.cpt_start)


def mapping_controls(
    key: str,
    opts: list[str],
    guess: dict,
    step_opts: list[str] | None,
    files: list[tuple[str, bytes]] | None = None,
):
    """The mapping form's controls: which metric (or file) is which, where CPT starts, replay and
    an optional schedule. Returns (roles, cpt_start or None, replay, schedule, import clicked).

    Where CPT starts defaults to the chosen LR's re-warm-up in ``files`` (``guess_start``), with a
    line saying so; to a CPT-only run when nothing in the LR suggests a PT phase."""

    def pick(row, role: str, label: str, help: str) -> str:
        g = guess.get(role, NONE)
        return row.selectbox(
            label,
            opts,
            index=opts.index(g) if g in opts else 0,
            key=f"{key}_{role}",
            help=help,
            width=260,
        )

    # rows that wrap, with fixed widths: in columns, 800 px cut the labels ('CPT only (…') and the
    # metric names to a few letters
    row = st.container(horizontal=True, gap="small")
    roles = {}
    if step_opts is not None:
        roles["step"] = row.selectbox(
            LABELS["step"],
            step_opts,
            key=f"{key}_step",
            help="Optimizer steps; detected if left alone.",
            width=260,
        )
    roles["lr"] = pick(
        row,
        "lr",
        LABELS["lr"],
        "Per-step LR; or rebuild it from a schedule below when the log has none or only a few "
        "points.",
    )
    roles["loss_pt"] = pick(
        row, "loss_pt", LABELS["loss_pt"], "Validation loss on the pre-training (general) data."
    )
    roles["loss_cpt"] = pick(
        row, "loss_cpt", LABELS["loss_cpt"], "Validation loss on the CPT (domain) data."
    )
    found = guess_start(files, roles) if files else None
    row = st.container(horizontal=True, gap="small", vertical_alignment="bottom")
    cpt_only = row.checkbox(
        LABELS["cpt_only"],
        value=found is None,
        key=f"{key}_cptonly",
        help="The log starts at CPT; the fit estimates the PT forward area "
        f"S1pt (paper §6). Untick it and give the {LABELS['cpt_start']} for a log "
        "that covers pre-training too.",
        width="content",
    )
    start = row.number_input(
        LABELS["cpt_start"],
        min_value=0,
        step=1,
        value=found.step if found else 0,
        key=f"{key}_start",
        disabled=cpt_only,
        width=150,
    )
    replay = row.number_input(
        LABELS["replay"],
        min_value=0.0,
        max_value=1.0,
        value=0.0,
        step=0.05,
        key=f"{key}_replay",
        width=150,
    )
    schedule = row.text_input(
        LABELS["schedule"],
        key=f"{key}_sched",
        placeholder=SCHEDULE_EXAMPLE,
        help="For exports that sample the LR sparsely: one spec, or PT and CPT specs joined "
        "by ';'. Kinds: constant, wsd, cosine, linear, multistep.",
        width=360,
    )
    if found is not None:
        st.caption(
            f"{found.hint}. Change '{LABELS['cpt_start']}' if not, or tick "
            f"'{LABELS['cpt_only']}' if the log starts at CPT."
        )
    clicked = st.button("Import", key=f"{key}_add", type="primary", icon=":material/input:")
    return roles, None if cpt_only else int(start), float(replay), schedule, clicked


def mapping_form(name: str, raw: bytes, key: str, info) -> tuple[Mapping, list[Run]] | None:
    """Confirm how a non-canonical log maps onto runs. Returns the mapping and its runs once the
    user clicks Import and it reads (a bad mapping shows its one-line message), else None."""
    with st.container(border=True):
        st.markdown(
            f"**{md(name)}** is not a canonical run CSV; it looks like a "
            f"*{importers.FORMATS[info.format].label}*. Check which metric is which, then import "
            + (f"(it holds {len(info.runs)} runs)." if len(info.runs) > 1 else "it.")
        )
        step_opts = [AUTO, *columns(name, raw)] if info.format == "generic" else None
        roles, start, replay, schedule, clicked = mapping_controls(
            key, [NONE, *info.metrics], info.guess, step_opts, [(name, raw)]
        )
        if clicked:
            mapping = Mapping(tuple(roles.items()), start, replay, schedule)
            with guard(f"importing {name}"):
                return mapping, mapping.runs(name, raw)
    return None


def group_form(group: list[tuple[str, bytes]], key: str) -> list[Run] | None:
    """One mapping form for several one-tag TensorBoard CSVs of one run: which file is which.
    Returns the run once imported, else None."""
    names = [n for n, _ in group]
    with st.container(border=True):
        st.markdown(
            f"**{len(group)} TensorBoard scalar CSVs** (one tag per file): "
            f"{md(', '.join(names))}. They are combined into one run: choose which file holds "
            "which metric, then import."
        )
        roles, start, replay, schedule, clicked = mapping_controls(
            key, [NONE, *names], group_guess(group), None, group
        )
        if clicked:
            with guard("importing the TensorBoard CSVs"):
                return import_files(group, roles, start, replay, schedule)
    return None
