"""Every bad input in tests/bad_inputs/ gives one clear line naming the file, the problem and the fix,
never a traceback: through the Python API (``InputError``) and through the CLI (exit code 2, one
``error:`` line on stderr). Valid-but-odd files (BOMs, UTF-16, CRLF, other separators) load.

The manifest ``expected.json`` (written with the corpus by ``make_corpus.py``) maps each file to the
substring its message must contain, or to null for 'must load'."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from cptcore import params_io
from cptcore.__main__ import main
from cptcore.errors import InputError
from cptcore.importers import Advice, read_any
from cptcore.runs import parse_table, read_run, run_from_frame
from tests.bad_inputs.make_corpus import GOOD, huge_files

HERE = os.path.join(os.path.dirname(__file__), "bad_inputs")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(HERE, "expected.json")) as _f:
    EXPECTED = json.load(_f)
BAD = sorted(k for k, v in EXPECTED.items() if v is not None)
ODD = sorted(k for k, v in EXPECTED.items() if v is None)


def test_the_corpus_on_disk_matches_the_manifest():
    on_disk = {n for n in os.listdir(HERE) if n.endswith((".csv", ".json", ".bin"))} - {
        "expected.json"
    }
    assert on_disk == set(EXPECTED)
    assert len(BAD) >= 50
    assert all(os.path.getsize(os.path.join(HERE, n)) < 1_000_000 for n in on_disk)


def _kind(name: str) -> str:
    return "params" if name.startswith("params_") else "log" if name.startswith("log_") else "run"


def _load(path: str):
    name = os.path.basename(path)
    with open(path, "rb") as f:
        data = f.read()
    if _kind(name) == "params":
        ps = params_io.loads(data, name)
        if name.startswith("params_predict_"):  # loads, but predicts nonsense on the plain run
            return ps.predict_run(run_from_frame(parse_table(GOOD.encode(), "good.csv"), "good"))
        return ps
    if _kind(name) == "log":
        return read_any(data, name)
    return read_run(path)


def _assert_one_clear_line(msg: str, name: str, expect: str) -> None:
    assert "\n" not in msg and "Traceback" not in msg, msg
    assert msg.startswith(f"{name}:"), msg  # names the file
    assert expect in msg, f"expected {expect!r} in: {msg}"
    assert len(msg) < 400, msg


@pytest.mark.parametrize("name", BAD)
def test_python_api_raises_one_input_error_naming_the_file(name):
    with pytest.raises(InputError) as e:
        _load(os.path.join(HERE, name))
    _assert_one_clear_line(e.value.message, name, EXPECTED[name])


@pytest.mark.parametrize("name", [n for n in BAD if _kind(n) == "run"])
def test_upload_path_read_any_also_gives_one_line(name):
    """The dashboard may send any upload through read_any: runs or one clear line, nothing else
    (a table without a phase column, say, is a fine generic log there)."""
    with open(os.path.join(HERE, name), "rb") as f:
        data = f.read()
    try:
        runs = read_any(data, name)
    except InputError as e:
        assert "\n" not in e.message and e.message.startswith(f"{name}:")
    else:
        assert runs and all(len(r.step) >= 2 for r in runs)


# the wording a web page passes instead of the command line's (ui.upload.PAGE_ADVICE)
PAGE_WORDS = Advice(
    which_loss="choose {metric} in the loss boxes",
    map_metrics="choose the metrics in the boxes",
    map_lr="choose the LR in its box or fill in the schedule box",
    map_step="choose the step column box",
    schedule="'schedule box'",
    cpt_start="'last PT step box'",
)


@pytest.mark.parametrize("name", [n for n in BAD if _kind(n) != "params"])
def test_importer_messages_name_options_in_the_callers_words(name):
    """Given a page's wording, no message read through read_any names a command-line option
    ('--map', '--schedule', ...): the Fit page shows these messages."""
    with open(os.path.join(HERE, name), "rb") as f:
        data = f.read()
    try:
        read_any(data, name, advice=PAGE_WORDS)
    except InputError as e:
        assert "--" not in e.message, e.message
        assert e.message.startswith(f"{name}:")


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    p = tmp_path_factory.mktemp("good") / "good.csv"
    p.write_text(GOOD)
    return str(p)


def _cli_args(path: str, good_run: str, out: str) -> list[str]:
    kind = _kind(os.path.basename(path))
    if kind == "params":
        return ["predict", "-p", path, good_run, "-o", out]
    if kind == "log":
        return ["import", path, "-o", out]
    return ["fit", path, "-o", out]


@pytest.mark.parametrize("name", BAD)
def test_cli_exits_2_with_one_error_line(name, good_run, tmp_path, capsys):
    code = main(_cli_args(os.path.join(HERE, name), good_run, str(tmp_path / "out")))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("error: ")
    _assert_one_clear_line(lines[0][len("error: ") :], name, EXPECTED[name])


# a few through a real process: exit code, stderr and no traceback as a user sees them
@pytest.mark.parametrize(
    "name", ["duplicate_column_case.csv", "params_deep_nesting.json", "log_hf_truncated.json"]
)
def test_cli_subprocess_shows_no_traceback(name, good_run, tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cptcore",
            *_cli_args(os.path.join(HERE, name), good_run, str(tmp_path / "o")),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {name}:") and EXPECTED[name] in lines[0]


@pytest.mark.parametrize("name", [n for n in ODD if _kind(n) == "run"])
def test_valid_but_odd_canonical_files_load_like_the_plain_one(name, good_run):
    run, ref = read_run(os.path.join(HERE, name)), read_run(good_run)
    assert np.array_equal(run.step, ref.step) and np.array_equal(run.lr, ref.lr)
    assert np.array_equal(run.is_cpt, ref.is_cpt)
    for t in ("pt", "cpt"):
        if run.has_target(t):  # files that keep only the required columns have no losses
            assert np.array_equal(run.loss(t), ref.loss(t), equal_nan=True)


@pytest.mark.parametrize("name", [n for n in ODD if _kind(n) != "run"])
def test_valid_but_odd_params_and_logs_load(name):
    out = _load(os.path.join(HERE, name))
    if _kind(name) == "params":
        assert out.params("pt").L0 == 1.9 and out.params("cpt").B == -0.9
    else:
        (run,) = out
        assert list(run.step) == [0, 50, 100] and np.allclose(run.loss_pt, [3.1, 3.0, 2.9])


@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    d = tmp_path_factory.mktemp("huge")
    return str(d), huge_files(str(d))


@pytest.mark.parametrize("name", ["csv_bomb_columns.csv", "row_bomb.csv", "stdout_100MB.csv"])
def test_huge_files_fail_fast_with_one_line(name, huge, good_run, capsys):
    folder, expected = huge
    path = os.path.join(folder, name)
    with pytest.raises(InputError) as e:
        read_run(path)
    _assert_one_clear_line(e.value.message, name, expected[name])
    with open(path, "rb") as f:
        data = f.read()
    with pytest.raises(InputError) as e:
        read_any(data, name)
    assert "\n" not in e.value.message and e.value.message.startswith(f"{name}:")
    del data
    assert main(_cli_args(path, good_run, os.path.join(folder, "out"))) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {name}:") and expected[name] in line


def test_over_the_size_cap_is_refused_before_reading(tmp_path):
    """A sparse 300 MB file: refused from its size alone (nothing is read)."""
    p = tmp_path / "giant.csv"
    with open(p, "wb") as f:
        f.truncate(300 * 2**20)
    with pytest.raises(InputError, match=r"giant\.csv: file too large \(got '315 MB'\)"):
        read_run(str(p))
    assert main(["import", str(p), "-o", str(tmp_path / "o.csv")]) == 2


def test_nothing_from_a_user_is_unpickled_or_evaluated():
    """No pickle, eval/exec or unsafe YAML anywhere in the library (user data is only parsed)."""
    pattern = re.compile(
        r"\bpickle\b|\beval\(|\bexec\(|yaml\.load\(|\bmarshal\b|np\.load\(|allow_pickle=True|read_pickle"
    )
    hits = []
    for dirpath, _, files in os.walk(os.path.join(ROOT, "cptcore")):
        for fn in files:
            if fn.endswith(".py"):
                with open(os.path.join(dirpath, fn), encoding="utf-8") as f:
                    for i, line in enumerate(f, 1):
                        if pattern.search(line):
                            hits.append(f"{fn}:{i}: {line.strip()}")
    assert hits == []
