"""Smoke test of scripts/make_sample_runs.py --quick (needs torch; skipped without it)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location("_sd", ROOT / "tests" / "test_sample_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.check_run_csv


def test_quick_generation(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "quick"
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "make_sample_runs.py"),
            "--quick",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "ALL DONE" in r.stdout and "ETA" in r.stdout
    check = _checker()
    files = sorted(out.glob("*.csv"))
    assert len(files) >= 14
    for f in files:
        d = check(f, every_step=True)
        if f.name.startswith("pt") and "_cpt-" in f.name:
            assert "cpt" in set(d["phase"])
            assert d["replay"].iloc[0] == float(f.stem.split("replay")[1])
    assert (out / "generation_info.json").is_file()
    assert not (out / "_work").exists()
