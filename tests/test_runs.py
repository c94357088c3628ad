"""The canonical run format: reading, the CPT-only marker, interpolation, the sparsity warning."""

import os

import numpy as np
import pytest

from cptcore.runs import read_run, run_to_frame, write_run
from cptcore.schedules import ScheduleSpec, concatenate

EXAMPLE = os.path.join(os.path.dirname(__file__), "data", "canonical-run-example.csv")
TOY = b"""step,lr,phase,replay,loss_pt,loss_cpt
0,0,pt,0.25,3.2,3.9
4,0.0003,pt,0.25,,
20,0.0003,pt,0.25,2.59,3.29
24,0.0003,cpt,0.25,,
40,0,cpt,0.25,2.60,2.67
"""


def test_toy_run_reads_with_transfer_point_and_replay():
    run = read_run(TOY, name="toy")
    assert run.transfer_step == 20 and run.replay == 0.25 and run.pt_history_known
    assert run.has_target("pt") and run.has_target("cpt")
    lr = run.dense_lr()
    assert len(lr) == 41 and lr[2] == pytest.approx(1.5e-4) and lr[32] == pytest.approx(1.5e-4)


def test_rows_all_cpt_mark_an_unknown_pt_history():
    run = read_run(
        b"step,lr,phase,loss_cpt\n0,0,cpt,3.0\n10,1e-4,cpt,2.9\n100,1e-4,cpt,2.5\n", name="open"
    )
    assert not run.pt_history_known and run.transfer_step == 0


def test_written_runs_read_back_identically(tmp_path):
    run = read_run(TOY, name="toy")
    path = tmp_path / "toy.csv"
    write_run(run, str(path))
    back = read_run(str(path))
    for col in ("step", "lr", "loss_pt", "loss_cpt"):
        np.testing.assert_allclose(getattr(back, col), getattr(run, col))
    assert list(run_to_frame(back).columns) == [
        "step",
        "lr",
        "phase",
        "replay",
        "loss_pt",
        "loss_cpt",
    ]


def test_sparse_rows_along_a_cosine_warn_about_s2():
    lr, _ = concatenate(ScheduleSpec("cosine", 3e-4, 20000, warmup_steps=500))
    keep = np.r_[0, 500, np.arange(1000, 20001, 500)]
    csv = "step,lr,phase,loss_pt\n" + "\n".join(f"{s},{lr[s]:.8g},pt,{3 - s * 1e-5}" for s in keep)
    run = read_run(csv.encode(), name="cos")
    w = run.sparsity_warning()
    assert w and "500 steps apart" in w


def test_corner_rows_of_a_piecewise_linear_schedule_do_not_warn():
    run = read_run(
        b"step,lr,phase,loss_pt\n0,0,pt,\n100,1e-3,pt,4\n8000,1e-3,pt,3\n10000,0,pt,2.8\n",
        name="wsd",
    )
    assert run.sparsity_warning() is None


def test_the_shared_canonical_example_reads():
    run = read_run(EXAMPLE)
    assert run.transfer_step == 20 and run.replay == 0.25 and len(run.step) == 41
