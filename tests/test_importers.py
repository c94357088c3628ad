"""Importers: every fixture in tests/importers/ (written by make_fixtures.py from one known run family)
comes back as the canonical run it was made from, through the Python API and through
``python -m cptcore import``."""

import glob
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from cptcore.__main__ import load_runs, main
from cptcore.errors import InputError
from cptcore.importers import FORMATS, describe, detect, read_any, read_files
from cptcore.importers.tb_events import masked_crc
from cptcore.runs import read_run, write_run
from tests.importers.make_fixtures import CPT_SCHEDULE, PT_SCHEDULE, T, truth
from tests.synthetic import PT_WSD, cpt_spec, make_run

HERE = os.path.join(os.path.dirname(__file__), "importers")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TB_CSVS = sorted(glob.glob(os.path.join(HERE, "run-pt_wsd_then_cpt-tag-*.csv")))
EVENTS = glob.glob(os.path.join(HERE, "tb_run", "events.out.tfevents.*"))[0]
# fixtures store 6 significant digits (8 for LRs): compare at that precision
LOSS_TOL, LR_RTOL = 2e-5, 1e-6


def _file(name):
    path = name if os.path.isabs(name) else os.path.join(HERE, name)
    with open(path, "rb") as f:
        return os.path.basename(path), f.read()


def _check_losses(run, seed, offset=0, replay=0.0):
    lr, lpt, lcpt = truth(seed, replay)
    for target, true in (("pt", lpt), ("cpt", lcpt)):
        y = run.loss(target)
        ok = np.isfinite(y)
        assert ok.sum() >= 10, target
        assert np.allclose(y[ok], true[run.step[ok] + offset], atol=LOSS_TOL), target
    return lr


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("wandb_panel_export.csv", "wandb"),
        ("wandb_losses_only.csv", "wandb"),
        (os.path.basename(TB_CSVS[0]), "tb-csv"),
        (EVENTS, "tb-events"),
        ("pt_trainer_state.json", "hf"),
        ("megatron_metrics.tsv", "generic"),
        ("nemo_metrics.jsonl", "generic"),
        ("megatron_stdout.log", "megatron"),
        (os.path.join(ROOT, "tests/bad_inputs/ok_crlf.csv"), "canonical"),
    ],
)
def test_each_fixture_is_detected_as_its_format(name, fmt):
    fname, data = _file(name)
    assert detect(data, fname) == fmt
    assert fmt in FORMATS


def test_wandb_panel_export_gives_one_run_per_run_prefix_and_ignores_min_max():
    runs = read_any(*reversed(_file("wandb_panel_export.csv")), replay=0.25)
    assert [r.name for r in runs] == ["cpt-math-r0", "cpt-math-r25"]
    for r, seed in zip(runs, (1, 2), strict=True):
        assert not r.pt_history_known and r.replay == 0.25  # steps count from CPT start (§6)
        assert list(r.step) == list(range(0, 1001, 50))
        lr = _check_losses(r, seed, offset=T, replay=0.25 if seed == 2 else 0.0)
        assert np.allclose(r.lr, lr[T + r.step], rtol=LR_RTOL)


def test_wandb_losses_only_rebuilds_the_lr_from_a_two_phase_schedule():
    fname, data = _file("wandb_losses_only.csv")
    with pytest.raises(InputError, match="learning rate was not logged.*--schedule"):
        read_any(data, fname)
    (run,) = read_any(data, fname, schedule=f"{PT_SCHEDULE}; {CPT_SCHEDULE}")
    lr = _check_losses(run, 3)
    # a row at every step: the LR is exact along the cosine, not interpolated between sparse rows
    assert list(run.step) == list(range(0, 4001)) and np.allclose(run.lr, lr)
    assert run.transfer_step == T and run.sparsity_warning() is None


def test_tensorboard_csvs_of_one_run_combine_into_one_run():
    (run,) = read_files([_file(p) for p in TB_CSVS], cpt_start=T)
    assert run.name == "pt_wsd_then_cpt" and run.transfer_step == T and run.pt_history_known
    assert run.step[0] == 0 and run.lr[0] == 0  # the initial model is added
    lr = _check_losses(run, 4)
    assert np.allclose(run.lr, lr[run.step], rtol=LR_RTOL)


def test_tensorboard_csv_quantity_can_be_named_by_file():
    files = [_file(p) for p in TB_CSVS]
    web = os.path.basename([p for p in TB_CSVS if "web" in p][0])
    math_ = os.path.basename([p for p in TB_CSVS if "math" in p][0])
    # swap the roles on purpose: the mapping wins over the guess
    (run,) = read_files(files, cpt_start=T, mapping={"loss_pt": math_, "loss_cpt": web})
    _, lpt, lcpt = truth(4)
    ok = np.isfinite(run.loss_pt)
    assert np.allclose(run.loss_pt[ok], lcpt[run.step[ok]], atol=LOSS_TOL)


def test_tensorboard_event_file_written_by_tensorboard_is_read_in_full():
    (run,) = read_any(*reversed(_file(EVENTS)), name="cpt-math")
    assert run.name == "cpt-math" and list(run.step) == list(range(0, 1001, 10))
    lr = _check_losses(run, 5, offset=T)  # eval/loss_domain is a TF2 tensor scalar
    assert np.allclose(run.lr, lr[T + run.step], rtol=1e-6)  # float32 in the file


def _record(payload: bytes) -> bytes:
    head = struct.pack("<Q", len(payload))
    return (
        head
        + struct.pack("<I", masked_crc(head))
        + payload
        + struct.pack("<I", masked_crc(payload))
    )


def _event(step: int, tag: str, content: bytes) -> bytes:
    """An Event whose scalar is a TF2 tensor given as tensor_content (dtype DT_DOUBLE)."""

    def ld(num, b):
        return bytes([num << 3 | 2, len(b)]) + b

    tensor = bytes([1 << 3, 2]) + ld(4, content)
    value = ld(1, tag.encode()) + ld(8, tensor)
    return bytes([2 << 3]) + bytes([step]) + ld(5, ld(1, value))


def test_event_file_tensor_content_scalars_and_a_record_cut_by_a_running_job(tmp_path):
    data = b"".join(
        _record(_event(s, "lr", struct.pack("<d", 1e-4 * s)))
        + _record(_event(s, "eval/domain_loss", struct.pack("<d", 3.0 - 0.01 * s)))
        for s in range(1, 100, 10)
    )
    data += _record(_event(101, "lr", struct.pack("<d", 0.5)))[:-7]  # still being written
    (run,) = read_any(data, "events.out.tfevents.1.host")
    assert list(run.step) == list(range(1, 100, 10))
    assert np.allclose(run.lr, 1e-4 * run.step) and np.allclose(run.loss_cpt, 3.0 - 0.01 * run.step)


def test_hf_trainer_states_join_pt_then_cpt_with_offset():
    cpt, pt = _file("cpt_trainer_state.json"), _file("pt_trainer_state.json")
    (run,) = read_files([cpt], join_pt=[pt], offset=T)
    assert run.name == "cpt-math-cosine" and run.transfer_step == T and run.last_step == 4000
    lr = _check_losses(run, 6)  # eval_web_loss -> general, eval_math_loss -> domain
    assert np.allclose(run.lr, lr[run.step], rtol=LR_RTOL)
    assert np.isfinite(run.loss_pt[run.step == 3100]).all()  # train and eval rows merged by step


def test_hf_single_unmarked_eval_loss_asks_which_set_it_is():
    data = (
        b'{"log_history": [{"step": 10, "learning_rate": 1e-4, "loss": 3.1}, {"step": 10, "eval_loss": 3.0},'
        b' {"step": 20, "learning_rate": 2e-4, "loss": 3.0}, {"step": 20, "eval_loss": 2.9}]}'
    )
    with pytest.raises(InputError, match=r"general or the domain.*--map loss_cpt=eval_loss"):
        read_any(data, "trainer_state.json")
    (run,) = read_any(data, "trainer_state.json", mapping="loss_cpt=eval_loss")
    assert list(run.loss_cpt) == [3.0, 2.9] and list(run.lr) == [1e-4, 2e-4]


def test_generic_tsv_with_mapped_phase_and_replay_columns():
    (run,) = read_any(
        *reversed(_file("megatron_metrics.tsv")), mapping={"phase": "stage", "replay": "pt share"}
    )
    assert run.replay == 0.1 and run.transfer_step == T and run.pt_history_known
    lr = _check_losses(run, 7, replay=0.1)
    assert np.allclose(run.lr, lr[run.step], rtol=LR_RTOL)


def test_generic_json_lines_guess_lr_and_losses():
    info = describe(*reversed(_file("nemo_metrics.jsonl")))
    assert info.format == "generic"
    assert info.guess == {"lr": "lr", "loss_pt": "val_loss_general", "loss_cpt": "val_loss"}
    (run,) = read_any(*reversed(_file("nemo_metrics.jsonl")))
    _check_losses(run, 8, offset=T)


def test_wandb_history_export_and_a_custom_x_axis():
    hist = b"_step,_runtime,_timestamp,train/lr,eval/loss_general,eval/loss_code\n0,1,2,0.0003,3.1,3.9\n50,9,9,0.0003,3.0,3.7\n"
    (run,) = read_any(hist, "cpt-code-history.csv")
    assert detect(hist, "cpt-code-history.csv") == "wandb" and run.name == "cpt-code-history"
    assert list(run.loss_cpt) == [3.9, 3.7]
    panel = b'"trainer/global_step","a - lr","a - eval/loss_math","a - eval/loss_web","a - _step"\n10,1e-4,3.0,2.9,10\n20,2e-4,2.8,2.95,20\n'
    (run,) = read_any(panel, "panel.csv", cpt_start=0)
    assert detect(panel, "panel.csv") == "wandb" and list(run.step) == [0, 10, 20]
    assert list(run.loss_pt[1:]) == [2.9, 2.95] and run.transfer_step == 0


def test_canonical_column_names_in_a_generic_table_take_their_roles():
    (run,) = read_any(
        b"step,lr,loss_pt,loss_cpt\n0,1e-4,3.0,3.5\n10,2e-4,2.9,3.4\n", "no_phase.csv"
    )
    assert list(run.loss_pt) == [3.0, 2.9] and list(run.loss_cpt) == [3.5, 3.4]
    assert not run.pt_history_known  # no phase column, no --cpt-start: CPT-only (paper §6)


def test_errors_after_import_name_the_logged_metric_and_the_step():
    data = b'"Step","a - train/lr","a - eval/loss_web","a - eval/loss_math"\n0,1e-4,3.0,3.5\n50,1e-4,3.0,0\n'
    with pytest.raises(InputError) as e:
        read_any(data, "w.csv")
    assert e.value.message.startswith(
        "w.csv: column 'eval/loss_math (loss_cpt)': loss must be > 0 at step 50"
    )


def test_megatron_stdout_training_and_per_set_validation_lines():
    info = describe(*reversed(_file("megatron_stdout.log")))
    assert info.metrics == (
        "learning rate",
        "train lm loss",
        "validation lm loss [web]",
        "validation lm loss [math]",
    )
    (run,) = read_any(*reversed(_file("megatron_stdout.log")), name="cpt-math")
    assert list(run.step) == list(range(10, 1001, 10)) and not run.pt_history_known
    lr = _check_losses(run, 9, offset=T)
    assert np.allclose(run.lr, lr[T + run.step], rtol=LR_RTOL)


def test_megatron_single_validation_set_and_final_test_set_lines():
    log = (
        b"0:  iteration       10/      20 | learning rate: 1.000000E-04 | lm loss: 3.300000E+00 |\n"
        b"0:  validation loss at iteration 10 | lm loss value: 3.200000E+00 | lm loss PPL: 24.5 |\n"
        b"0:  iteration       20/      20 | learning rate: 5.000000E-05 | lm loss: 3.100000E+00 |\n"
        b" validation loss at iteration 20 on validation set | lm loss value: 3.000000E+00 |\n"
        b" validation loss at iteration 20 on test set | lm loss value: 3.050000E+00 |\n"
    )
    (run,) = read_any(log, "slurm-123.out", mapping={"loss_cpt": "validation lm loss"})
    assert list(run.loss_cpt) == [3.2, 3.0] and list(run.lr) == [1e-4, 5e-5]
    assert "test lm loss" in describe(log, "slurm-123.out").metrics


def test_generic_step_column_can_be_named():
    data = b"tokens_seen,optimizer_updates,lr,val_loss_code\n0,0,0,\n4096,10,1e-4,3.1\n8192,20,2e-4,3.0\n"
    (run,) = read_any(data, "m.csv", mapping="step=optimizer_updates")
    assert list(run.step) == [0, 10, 20] and list(run.lr) == [0, 1e-4, 2e-4]
    with pytest.raises(InputError, match="step column named in the mapping is missing"):
        read_any(data, "m.csv", mapping="step=iteration")


def test_describe_lists_runs_metrics_and_guesses_for_a_mapping_ui():
    info = describe(*reversed(_file("wandb_panel_export.csv")))
    assert info.format == "wandb" and info.runs == ("cpt-math-r0", "cpt-math-r25")
    assert info.metrics == ("train/lr", "eval/loss_general", "eval/loss_math")
    assert info.guess == {
        "lr": "train/lr",
        "loss_pt": "eval/loss_general",
        "loss_cpt": "eval/loss_math",
    }


def test_canonical_csv_through_read_any_equals_read_run(tmp_path):
    path = str(tmp_path / "run-a.csv")
    write_run(make_run("run-a", PT_WSD, cpt_spec("cosine"), every=50), path)
    (a,) = read_any(*reversed(_file(path)))
    b = read_run(path)
    assert a.name == b.name == "run-a" and np.array_equal(a.step, b.step)
    assert np.array_equal(a.lr, b.lr) and np.array_equal(a.is_cpt, b.is_cpt)
    assert np.array_equal(a.loss_cpt, b.loss_cpt, equal_nan=True)


def test_cli_fit_and_predict_take_logs_directly():
    runs = load_runs([os.path.join(HERE, "wandb_panel_export.csv"), EVENTS])
    assert [r.name for r in runs] == ["cpt-math-r0", "cpt-math-r25", "tensorboard"]


@pytest.mark.parametrize(
    "args, n_rows, transfer",
    [
        (["wandb_losses_only.csv", "--schedule", f"{PT_SCHEDULE}; {CPT_SCHEDULE}"], 4001, T),
        ([*map(os.path.basename, TB_CSVS), "--cpt-start", str(T)], 201, T),
        ([EVENTS, "--format", "tb-events"], 101, 0),
        (
            ["cpt_trainer_state.json", "--join-pt", "pt_trainer_state.json", "--offset", str(T)],
            401,
            T,
        ),
        (["megatron_metrics.tsv", "--map", "phase=stage,replay=pt share"], 161, T),
        (["nemo_metrics.jsonl", "--map", "loss_cpt=val_loss", "--replay", "0"], 101, 0),
        (["megatron_stdout.log", "--cpt-start", "0"], 101, 0),
    ],
)
def test_cli_import_writes_a_canonical_csv(args, n_rows, transfer, tmp_path, capsys):
    args = [
        a if not a.endswith((".csv", ".json", ".tsv", ".jsonl", ".log")) else os.path.join(HERE, a)
        for a in args
    ]
    out = tmp_path / "run.csv"
    assert main(["import", *args, "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    run = read_run(str(out))
    assert len(run.step) == n_rows and run.transfer_step == transfer


def test_cli_import_of_a_multi_run_export_writes_one_file_per_run(tmp_path):
    out = tmp_path / "cpt.csv"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cptcore",
            "import",
            os.path.join(HERE, "wandb_panel_export.csv"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["cpt-cpt-math-r0.csv", "cpt-cpt-math-r25.csv"]
    assert "CPT only" in r.stdout and "S1pt as a parameter" in r.stdout


def test_cli_import_error_is_one_line(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "cptcore", "import", os.path.join(HERE, "wandb_panel_export.csv"),
         "--map", "loss_pt=eval/nope", "-o", str(tmp_path / "x.csv")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: wandb_panel_export.csv:")
    assert "'eval/nope'" in lines[0] and "eval/loss_general" in lines[0]
