"""The command line: fit -> params.json -> predict, and one-line errors."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cptcore.__main__ import main
from cptcore.law import NAMES
from cptcore.runs import write_run
from tests.synthetic import PT_CONST, PT_WSD, cpt_spec, make_run


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    runs = [
        make_run("a", PT_CONST, cpt_spec("wsd"), seed=1, every=50),
        make_run("b", PT_WSD, cpt_spec("constant"), seed=2, every=50),
        make_run("c", PT_WSD, cpt_spec("cosine", peak=2.5e-4), seed=3, every=50),
    ]
    paths = []
    for r in runs:
        p = d / f"{r.name}.csv"
        write_run(r, str(p))
        paths.append(str(p))
    return paths


def test_fit_then_predict_round_trip(run_files, tmp_path, capsys):
    out = tmp_path / "params.json"
    assert main(["fit", *run_files[:2], "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "general set" in printed and "domain set" in printed and "R2" in printed
    d = json.loads(out.read_text())
    assert d["lambda"] == 0.999 and set(d["pt"]) >= set(NAMES)
    assert "a1" not in d["pt"]  # one replay ratio -> Eq. 4
    pred = tmp_path / "pred.csv"
    assert main(["predict", "-p", str(out), run_files[2], "-o", str(pred)]) == 0
    printed = capsys.readouterr().out
    assert "MAE" in printed and "R2" in printed
    df = pd.read_csv(pred)
    src = pd.read_csv(run_files[2])
    assert list(df.columns) == ["step", "pred_loss_pt", "pred_loss_cpt"]
    assert len(df) == len(src) and (df.step.values == src.step.values).all()
    ok = src.loss_cpt.notna()
    assert np.mean(np.abs(df.pred_loss_cpt[ok] - src.loss_cpt[ok])) < 0.01


def test_fit_scores_held_out_runs_without_fitting_them(run_files, tmp_path, capsys):
    out = tmp_path / "params.json"
    assert main(["fit", *run_files[:2], "--test", run_files[2], "-o", str(out)]) == 0
    assert re.search(r"^  c +held out ", capsys.readouterr().out, re.M)
    d = json.loads(out.read_text())
    held = [m for m in d["cpt"]["metrics"] if m["held_out"]]
    assert [m["run"] for m in held] == ["c"] and held[0]["mae"] < 0.01


def test_a_minimal_params_file_loads(run_files, tmp_path):
    p = tmp_path / "min.json"
    sec = {
        "L0": 2.0,
        "A": 0.8,
        "alpha": 0.5,
        "C1": 0.3,
        "C2": 0.3,
        "B": 0.2,
        "E": 10.0,
        "beta": 0.5,
    }
    p.write_text(json.dumps({"lambda": 0.999, "pt": sec, "cpt": dict(sec, B=-0.5)}))
    assert main(["predict", "-p", str(p), run_files[0], "-o", str(tmp_path / "o.csv")]) == 0


@pytest.mark.parametrize(
    "content, expect",
    [
        ("step,lr\n0,0\n1,1e-3\n", "missing column phase"),
        ("step,lr,phase\n0,0,pt\n1,abc,pt\n", "column 'lr', row 3: not a number"),
        ("step,lr,phase\n0,0,pt\n0,1e-3,pt\n", "duplicated step"),
        ("step,lr,phase\n0,0,pt\n1,-1e-3,pt\n", "negative learning rate"),
        ("step,lr,phase,loss_pt\n0,0,pt,\n1,1e-3,pt,-2\n", "loss must be > 0"),
        ("", "empty"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, content, expect):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    r = subprocess.run(
        [sys.executable, "-m", "cptcore", "fit", str(bad), "-o", str(tmp_path / "p.json")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: bad.csv") and expect in lines[0], (
        r.stderr
    )


def test_bad_params_file_is_one_clear_line(run_files, tmp_path):
    p = tmp_path / "p.json"
    p.write_text('{"lambda": 0.999, "pt": {"L0": 2}}')
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cptcore",
            "predict",
            "-p",
            str(p),
            run_files[0],
            "-o",
            str(tmp_path / "o.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "p.json" in r.stderr and "missing parameters" in r.stderr


def test_missing_file_names_the_path(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "cptcore", "fit", str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "nope.csv" in r.stderr and "Traceback" not in r.stderr


def test_lambda_auto_chooses_by_cross_validation_and_records_it(run_files, tmp_path, capsys):
    out = tmp_path / "params.json"
    assert main(["fit", *run_files, "--lambda", "auto", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "chosen by grouped cross-validation" in printed
    assert "<- chosen" in printed  # the candidate table
    d = json.loads(out.read_text())
    assert d["lambda"] in (0.98, 0.99, 0.995, 0.999)
    sel = d["provenance"]["model_selection"]
    assert sel["cross_validated"] and sel["lambda"] == d["lambda"]
    assert {c["lambda"] for c in sel["candidates"]} == {0.98, 0.99, 0.995, 0.999}


def test_a_bad_option_is_one_line(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "cptcore", "fit", "x.csv", "--lambda", "2"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--lambda" in r.stderr


def test_nothing_to_fit_after_min_step_is_one_line_exit_2_and_no_file(run_files, tmp_path, capsys):
    out = tmp_path / "params.json"
    assert main(["fit", *run_files, "--min-step", "100000", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no general set (loss_pt) losses at or after step 100,000" in err[0]
    assert "--min-step" in err[0] and not out.exists()


def test_ctrl_c_during_a_fit_exits_130_in_one_line_and_writes_nothing(
    run_files, tmp_path, monkeypatch, capsys
):
    import cptcore.fit as fit_module

    def interrupt(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_module, "least_squares", interrupt)
    out = tmp_path / "params.json"
    code = main(["fit", *run_files, "--law", "eq4", "--lambda", "0.999", "-o", str(out)])
    assert code == 130 and not out.exists()
    assert capsys.readouterr().err.strip().splitlines() == ["error: interrupted"]


def test_predict_a_new_schedule_on_a_fitted_open_base_model(tmp_path, capsys):
    # issue 16: CPT-only runs (no PT rows) of one base model; fit two, predict a third by base name
    from dataclasses import replace

    from cptcore.runs import read_run, write_run
    from tests.synthetic import PT_WSD, cpt_spec, make_run

    paths = []
    for name, spec, seed in (("a", cpt_spec("wsd"), 1), ("b", cpt_spec("cosine"), 2)):
        r, _ = make_run(name, PT_WSD, spec, pt_history=False, seed=seed)
        p = tmp_path / f"{name}.csv"
        write_run(replace(r, base="llama-1b"), str(p))
        assert read_run(str(p)).base == "llama-1b"  # the optional 'base' column round-trips
        paths.append(str(p))
    new, _ = make_run("c", PT_WSD, cpt_spec("constant"), pt_history=False, seed=3)
    write_run(new, str(tmp_path / "c.csv"))  # no base column
    params = tmp_path / "params.json"
    assert main(["fit", *paths, "--law", "eq4", "--lambda", "0.999", "-o", str(params)]) == 0
    assert "base model 'llama-1b'" in capsys.readouterr().out
    out = tmp_path / "pred.csv"
    args = ["predict", "-p", str(params), str(tmp_path / "c.csv"), "-o", str(out)]
    assert main(args) == 2  # its base ('base', unnamed) was not fitted: one line naming both
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'base' was not fitted (fitted bases: llama-1b)" in err[0]
    assert main([*args, "--base", "llama-1b"]) == 0
    assert "MAE" in capsys.readouterr().out and out.exists()


def test_a_run_with_two_base_names_is_refused_in_one_line(tmp_path):
    from cptcore.errors import InputError
    from cptcore.runs import read_run

    p = tmp_path / "r.csv"
    p.write_text("step,lr,phase,replay,loss_pt,base\n0,0,cpt,0,,a\n1,1e-3,cpt,0,3.0,b\n")
    with pytest.raises(InputError, match="one base model"):
        read_run(str(p))
