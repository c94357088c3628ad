"""A PT+CPT log imported without saying where CPT starts: the importers take the LR's re-warm-up
(``cptcore.importers.guess_cpt_start``), say so, and keep a log without one a CPT-only run. The
logs are written from a bundled sample run, in the layouts TensorBoard and W&B export."""

import os

import numpy as np
import pandas as pd
import pytest

from cptcore.__main__ import load_runs, main
from cptcore.importers import guess_cpt_start, read_files
from cptcore.runs import read_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "sample_data", "cpt", "ptwsd_cpt-wsd_lr1e-3_replay0.csv")
TAGS = {"lr": "train_lr", "loss_pt": "eval_loss_general", "loss_cpt": "eval_loss_domain"}
LR_EVERY = 4  # TensorBoard's CSV download keeps ~1000 points: the 3,500-step LR every 4th step


def tensorboard_csvs(folder, sample=SAMPLE, run="myrun") -> list[str]:
    """One ``Wall time,Step,Value`` CSV per tag of ``sample``, named as TensorBoard names them."""
    d = pd.read_csv(sample)
    paths = []
    for col, tag in TAGS.items():
        rows = d[d["step"] % LR_EVERY == 0] if col == "lr" else d[d[col].notna()]
        path = os.path.join(folder, f"run-{run}-tag-{tag}.csv")
        pd.DataFrame(
            {"Wall time": 1.7e9 + rows["step"], "Step": rows["step"], "Value": rows[col]}
        ).to_csv(path, index=False)
        paths.append(path)
    return paths


def wandb_export(folder, sample=SAMPLE, run="myrun") -> str:
    """A W&B panel export (``Step``, ``<run> - <metric>``) of ``sample``."""
    d = pd.read_csv(sample)
    path = os.path.join(folder, "wandb_export.csv")
    pd.DataFrame(
        {"Step": d["step"], **{f"{run} - {tag}": d[col] for col, tag in TAGS.items()}}
    ).to_csv(path, index=False)
    return path


def _files(paths):
    return [(os.path.basename(p), open(p, "rb").read()) for p in paths]


def test_tensorboard_csvs_of_a_pt_then_cpt_run_guess_the_transfer_step(tmp_path):
    files = _files(tensorboard_csvs(tmp_path))
    guess = guess_cpt_start(files)
    assert guess is not None and guess.step == 2500  # the sample's last PT step
    assert guess.hint == "CPT seems to start at step 2,500: the LR re-warms up there"
    (run,) = read_files(files, cpt_start=guess.step)
    truth = read_run(SAMPLE)
    assert run.pt_history_known and run.transfer_step == truth.transfer_step
    assert np.array_equal(run.is_cpt, truth.is_cpt[run.step])


def test_tensorboard_csvs_of_a_cpt_only_run_give_no_guess(tmp_path):
    d = pd.read_csv(SAMPLE)
    cpt = d[d["step"] >= 2500].assign(step=lambda x: x["step"] - 2500)  # steps from CPT start
    sample = tmp_path / "cpt_only.csv"
    cpt.to_csv(sample, index=False)
    assert guess_cpt_start(_files(tensorboard_csvs(tmp_path, sample))) is None


def test_an_lr_tag_of_any_name_is_read_once_mapped(tmp_path):
    files = _files(tensorboard_csvs(tmp_path))
    lr_file = f"run-myrun-tag-{TAGS['lr']}.csv"
    renamed = "run-myrun-tag-opt_sched_value.csv"  # no name a guess takes for the LR
    files = [(renamed if n == lr_file else n, raw) for n, raw in files]
    assert guess_cpt_start(files) is None
    assert guess_cpt_start(files, mapping={"lr": renamed}).step == 2500


def test_cli_import_without_cpt_start_takes_the_lr_rewarmup_and_says_so(tmp_path, capsys):
    out = tmp_path / "run.csv"
    assert main(["import", *tensorboard_csvs(tmp_path), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "note: CPT seems to start at step 2,500: the LR re-warms up there" in printed
    assert "PT+CPT" in printed and "S1pt as a parameter" not in printed
    assert read_run(str(out)).transfer_step == 2500


def test_cli_import_cpt_start_overrides_the_guess(tmp_path, capsys):
    out = tmp_path / "run.csv"
    paths = tensorboard_csvs(tmp_path)
    assert main(["import", *paths, "--cpt-start", "2000", "-o", str(out)]) == 0
    assert "seems to start" not in capsys.readouterr().out
    assert read_run(str(out)).transfer_step == 2000


def test_cli_fit_reads_a_pt_then_cpt_log_with_its_transfer_step(tmp_path, capsys):
    (run,) = load_runs([wandb_export(tmp_path)])
    assert run.name == "myrun" and run.transfer_step == 2500 and run.pt_history_known
    assert "wandb_export.csv: CPT seems to start at step 2,500" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["tensorboard", "wandb"])
def test_a_guess_needs_the_lr(tmp_path, kind):
    paths = tensorboard_csvs(tmp_path) if kind == "tensorboard" else [wandb_export(tmp_path)]
    files = _files(paths)
    if kind == "tensorboard":
        files = [f for f in files if TAGS["lr"] not in f[0]]
        assert guess_cpt_start(files) is None
    else:
        assert guess_cpt_start(files, mapping={"lr": "myrun - eval_loss_domain"}) is None
