"""The transfer step guessed from a logged LR (``cptcore.transfer.cpt_start_of``): found at a
re-warm-up after a PT decay or reset, never in a run without one."""

import glob
import os

import numpy as np
import pandas as pd
import pytest

from cptcore.schedules import ScheduleSpec, concatenate
from cptcore.transfer import cpt_start_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = sorted(glob.glob(os.path.join(ROOT, "sample_data", "cpt", "pt*_cpt-*.csv")))

PT = {
    "const": ScheduleSpec("constant", 1e-3, 3000, warmup_steps=100),
    "cosine": ScheduleSpec("cosine", 1e-3, 3000, warmup_steps=100, final_lr=1e-4),
    "wsd": ScheduleSpec("wsd", 1e-3, 3000, warmup_steps=100, decay_fraction=0.2),
}
CPT = {
    "wsd, warm-up from 0": ScheduleSpec("wsd", 5e-4, 1000, warmup_steps=50),
    "cosine, warm-up from PT's final LR": ScheduleSpec(
        "cosine", 5e-4, 1000, warmup_steps=50, warmup_start=1e-4
    ),
    "constant, no warm-up": ScheduleSpec("constant", 1e-3, 1000),
}


def _logged(lr, every):
    step = np.arange(len(lr))
    keep = step % every == 0
    return step[keep], lr[keep]


@pytest.mark.parametrize("path", SAMPLES, ids=os.path.basename)
def test_sample_runs_lr_gives_their_transfer_step(path):
    d = pd.read_csv(path)
    transfer = int(d["step"][d["phase"] == "pt"].max())
    got = cpt_start_of(d["step"].to_numpy(), d["lr"].to_numpy())
    assert got is not None and got.step == transfer and got.warmup  # every sample re-warms up


# every PT x CPT pair but a constant PT then a constant CPT at the same LR without warm-up: nothing
# in the LR marks CPT there (the next test)
PAIRS = [(pt, cpt) for pt in PT for cpt in CPT if (pt, cpt) != ("const", "constant, no warm-up")]


@pytest.mark.parametrize("pt, cpt", PAIRS)
@pytest.mark.parametrize("every", [1, 7])  # every step, and a sparse log
def test_pt_then_cpt_schedule_gives_the_last_pt_step(pt, cpt, every):
    lr, t = concatenate(PT[pt], CPT[cpt])
    step, lr = _logged(lr, every)
    got = cpt_start_of(step, lr)
    last_pt_row = step[step <= t][-1]  # a sparse log: the last PT row it has
    assert got is not None and got.step == last_pt_row, (pt, cpt, got)
    assert got.warmup == ("no warm-up" not in cpt)


@pytest.mark.parametrize(
    "name, lr",
    [
        ("constant PT alone", concatenate(PT["const"])[0]),
        ("cosine PT alone", concatenate(PT["cosine"])[0]),
        ("WSD PT alone", concatenate(PT["wsd"])[0]),
        ("a CPT-only log (warm-up from 0, WSD)", concatenate(CPT["wsd, warm-up from 0"])[0]),
        ("constant PT then CPT at the same LR", concatenate(PT["const"], CPT["constant, no warm-up"])[0]),
        ("a multistep decay", concatenate(ScheduleSpec("multistep", 1e-3, 3000, warmup_steps=100))[0]),
        ("float noise on a constant LR", 1e-3 * (1 + 1e-6 * np.random.default_rng(0).standard_normal(3000))),
    ],
)  # fmt: skip
def test_no_guess_when_nothing_suggests_a_pt_phase(name, lr):
    assert cpt_start_of(np.arange(len(lr)), lr) is None, name


def test_hint_names_the_step_and_the_reason():
    lr, t = concatenate(PT["wsd"], CPT["wsd, warm-up from 0"])
    assert cpt_start_of(np.arange(len(lr)), lr).hint == (
        "CPT seems to start at step 3,000: the LR re-warms up there"
    )
    lr, t = concatenate(PT["wsd"], CPT["constant, no warm-up"])
    assert "jumps back up" in cpt_start_of(np.arange(len(lr)), lr).hint


def test_unlogged_lr_rows_are_ignored():
    lr, t = concatenate(PT["wsd"], CPT["wsd, warm-up from 0"])
    lr = lr.copy()
    lr[1::3] = np.nan  # eval-only rows of a merged log
    assert cpt_start_of(np.arange(len(lr)), lr).step == t


def test_a_flat_floor_ends_where_the_lr_rises_again():
    lr = np.r_[0.0, np.linspace(1e-3, 0, 500), np.zeros(100), np.full(200, 1e-3)]
    assert cpt_start_of(np.arange(len(lr)), lr).step == 600  # the last row at LR 0
