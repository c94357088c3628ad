"""The CLI's files (issue 12): output paths are checked before any work, inputs are read once (named
pipes, /dev/stdin), one import never writes two runs into one file; and the tracebacks of items 1
and 5 reached through fit and plan are one line."""

import json
import os
import subprocess
import sys
import threading

import pytest

from cptcore import __main__ as cli
from cptcore.__main__ import main
from cptcore.errors import InputError
from cptcore.files import check_writable
from cptcore.inputs import read_file
from tests.bad_inputs.make_corpus import GOOD, PARAMS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_PARAMS = os.path.join(ROOT, "sample_data", "cpt", "params.json")


@pytest.fixture
def files(tmp_path):
    run = tmp_path / "good.csv"
    run.write_text(GOOD)
    params = tmp_path / "params.json"
    params.write_text(json.dumps(PARAMS))
    return tmp_path, str(run), str(params)


def _one_error_line(capsys) -> str:
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: ")
    return line


# ------------------------------------------------------------------------------ output paths
def test_check_writable_names_the_path_for_a_folder_a_missing_folder_and_no_permission(tmp_path):
    check_writable(str(tmp_path / "out.csv"))  # a new file in an existing folder: fine
    with pytest.raises(InputError, match=r"^.*: cannot write the output: this is a folder"):
        check_writable(str(tmp_path))
    with pytest.raises(InputError) as e:
        check_writable(str(tmp_path / "no" / "x.csv"))
    assert e.value.message.startswith(f"{tmp_path / 'no' / 'x.csv'}: cannot write the output")
    assert "folder does not exist" in e.value.message
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(InputError, match="permission denied"):
            check_writable(str(ro / "x.csv"))


def test_predict_into_a_missing_folder_names_the_file(files, capsys):
    _, run, params = files
    assert main(["predict", "-p", params, run, "-o", "/nonexistent/x.csv"]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("error: /nonexistent/x.csv: cannot write the output"), line


def test_fit_into_a_folder_fails_before_fitting(files, capsys, monkeypatch):
    folder, run, _ = files

    def no_fit(*a, **k):
        raise AssertionError("fitted before checking the output path")

    monkeypatch.setattr(cli, "fit_model", no_fit)
    assert main(["fit", run, "-o", str(folder)]) == 2
    assert "cannot write the output: this is a folder" in _one_error_line(capsys)


def test_import_and_plan_check_their_outputs_before_reading_or_planning(files, capsys):
    folder, run, params = files
    assert main(["import", run, "-o", str(folder)]) == 2
    assert "this is a folder" in _one_error_line(capsys)
    for flag in ("--report", "--markdown", "--frontier"):
        assert main(["plan", "-p", params, flag, str(folder / "none" / "out")]) == 2
        assert "folder does not exist" in _one_error_line(capsys)


def test_an_os_error_without_a_file_name_prints_no_empty_name(files, capsys, monkeypatch):
    _, run, params = files

    def disk_full(*a, **k):
        raise OSError("No space left on device")

    monkeypatch.setattr(cli, "write_csv", disk_full)
    assert main(["predict", "-p", params, run, "-o", str(files[0] / "p.csv")]) == 2
    line = _one_error_line(capsys)
    assert line == "error: No space left on device. Check the path and permissions.", line


# ------------------------------------------------------------------------------ import outputs
def test_wandb_runs_whose_names_collide_as_file_names_get_one_file_each(tmp_path, capsys):
    names = ["a b", "a_b", "a/b", "A_B"]
    head = ",".join(f'"{n} - train/lr","{n} - eval/loss_code"' for n in names)
    rows = [",".join(f"0.0003,{3 + j - i / 10}" for j in range(len(names))) for i in range(3)]
    export = tmp_path / "export.csv"
    export.write_text(
        '"Step",' + head + "\n" + "\n".join(f"{50 * i},{r}" for i, r in enumerate(rows))
    )
    assert main(["import", str(export), "-o", str(tmp_path / "run.csv")]) == 0
    written = [
        ln.split(":")[0][len("wrote ") :]
        for ln in capsys.readouterr().out.splitlines()
        if ln.startswith("wrote ")
    ]
    assert len(written) == 4 and len({w.lower() for w in written}) == 4, written
    assert all(os.path.exists(w) for w in written)
    # each file holds its own run (no later run overwrote an earlier one's file)
    assert len({open(w).read() for w in written}) == 4


# ------------------------------------------------------------------------------ read once
def _feed(path: str, data: bytes) -> threading.Thread:
    def write():
        with open(path, "wb") as f:  # blocks until the reader opens the pipe
            f.write(data)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_a_named_pipe_is_read_once_by_predict_and_import(files):
    """Opened twice, a named pipe hangs (nobody writes the second time): run in a subprocess with a
    timeout so that a regression fails instead of hanging the suite."""
    folder, _, _ = files
    fifo = str(folder / "run.fifo")
    os.mkfifo(fifo)
    data = open(os.path.join(ROOT, "sample_data", "cpt", "pt-const.csv"), "rb").read()
    for argv in (
        ["predict", "-p", SAMPLE_PARAMS, fifo, "-o", str(folder / "p.csv")],
        ["import", fifo, "-o", str(folder / "r.csv")],
    ):
        t = _feed(fifo, data)
        r = subprocess.run(
            [sys.executable, "-m", "cptcore", *argv],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        t.join(timeout=10)
    assert read_file(str(folder / "r.csv"), 10**8).startswith(b"step,lr,phase")


def test_dev_stdin_pipe_is_read_once(files):
    folder, run, _ = files
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cptcore",
            "predict",
            "-p",
            SAMPLE_PARAMS,
            "/dev/stdin",
            "-o",
            str(folder / "p.csv"),
        ],
        input=open(os.path.join(ROOT, "sample_data", "cpt", "pt-const.csv"), "rb").read(),
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    assert len(open(folder / "p.csv").read().splitlines()) > 100  # not 'the file is empty'


# ------------------------------------------------------------------------------ item 1 via fit/plan
def test_megatron_iteration_beyond_int64_via_fit_is_one_line(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_bytes(
        open(os.path.join(ROOT, "tests/bad_inputs/log_megatron_iteration_2_63.csv"), "rb").read()
    )
    assert main(["fit", str(log), "-o", str(tmp_path / "p.json")]) == 2
    assert "iteration number beyond the supported run length" in _one_error_line(capsys)


@pytest.mark.parametrize(
    "name", ["params_fit_from_infinity.json", "params_predict_negative_loss.json"]
)
def test_plan_with_broken_parameters_is_one_line(name, capsys):
    path = os.path.join(ROOT, "tests", "bad_inputs", name)
    assert main(["plan", "-p", path]) == 2
    assert _one_error_line(capsys).startswith(f"error: {name}: ")


def test_plan_never_recommends_a_negative_predicted_loss(tmp_path, capsys):
    """C2 = 1e6 is inside from_dict's range; the planner would 'optimise' towards a general loss of
    minus tens of thousands. It stops and names the plan element instead."""
    d = json.loads(json.dumps(PARAMS))
    d["pt"]["C2"] = 1e6
    p = tmp_path / "edge.json"
    p.write_text(json.dumps(d))
    assert main(["plan", "-p", str(p)]) == 2
    line = _one_error_line(capsys)
    assert "implausible general loss at the end of a CPT of" in line and "(got -" in line
