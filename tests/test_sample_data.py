"""Checks of the committed sample data (sample_data/**): canonical format, split files, and that the
Multi-Power-Law conversions reproduce their source.  Needs only numpy, pandas and pytest."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "sample_data"
CPT = DATA / "cpt"
MPL = DATA / "multipowerlaw"
MPL_SRC = Path("/work/shared/external_curves/MultiPowerLaw/loss_curve_repo")
HEADER = ["step", "lr", "phase", "replay", "loss_pt", "loss_cpt"]

ALL_CSV = sorted(p for p in DATA.rglob("*.csv") if "_work" not in p.parts)
CPT_CSV = sorted(CPT.glob("*.csv"))
MPL_CSV = sorted(MPL.glob("*/*.csv"))


def check_run_csv(path: Path, every_step: bool = False) -> pd.DataFrame:
    """Assert that `path` is a valid canonical run CSV; return it as a DataFrame."""
    with open(path) as f:
        assert f.readline().strip().split(",") == HEADER, f"{path}: bad header"
    d = pd.read_csv(path, dtype={"phase": str})
    assert list(d.columns) == HEADER
    assert len(d) >= 2, path
    step = d["step"].to_numpy()
    assert np.issubdtype(step.dtype, np.integer), path
    assert step[0] >= 0 and np.all(np.diff(step) > 0), f"{path}: steps not strictly increasing"
    if every_step:
        assert step[0] == 0 and np.all(np.diff(step) == 1), f"{path}: not a row at every step"
    lr = d["lr"].to_numpy(float)
    assert np.all(np.isfinite(lr)) and np.all(lr >= 0), f"{path}: bad lr"
    if step[0] == 0:
        assert lr[0] == 0, f"{path}: lr at step 0 must be 0"
    ph = d["phase"].to_numpy(str)
    assert set(ph) <= {"pt", "cpt"}, f"{path}: bad phase"
    n_pt = int(np.sum(ph == "pt"))
    assert n_pt >= 1 and np.all(ph[:n_pt] == "pt") and np.all(ph[n_pt:] == "cpt"), (
        f"{path}: pt rows must precede cpt rows"
    )
    rep = d["replay"].to_numpy(float)
    assert np.all(rep == rep[0]) and 0.0 <= rep[0] <= 1.0, f"{path}: replay"
    has_loss = False
    for col in ("loss_pt", "loss_cpt"):
        v = d[col].to_numpy(float)
        present = v[~np.isnan(v)]
        assert np.all(present > 0) and np.all(np.isfinite(present)), f"{path}: {col}"
        has_loss |= present.size > 0
    assert has_loss, f"{path}: no losses"
    return d


def test_files_exist():
    assert len(CPT_CSV) >= 12
    assert len(MPL_CSV) == 27


@pytest.mark.parametrize("path", ALL_CSV, ids=lambda p: str(p.relative_to(DATA)))
def test_canonical_format(path):
    check_run_csv(path)


@pytest.mark.parametrize("path", CPT_CSV, ids=lambda p: p.name)
def test_cpt_runs(path):
    d = check_run_csv(path, every_step=True)
    ph = d["phase"].to_numpy(str)
    ev = d.dropna(subset=["loss_pt", "loss_cpt"], how="any")["step"].to_numpy()
    # both validation sets are evaluated at step 0, at the transfer point and every <= 50 steps
    assert ev[0] == 0 and ev[-1] == d["step"].iloc[-1]
    assert np.max(np.diff(ev)) <= 50
    assert d[["loss_pt", "loss_cpt"]].notna().sum().nunique() == 1  # always evaluated together
    if "cpt" in ph:
        transfer = d["step"][ph == "pt"].iloc[-1]
        assert transfer in set(ev)
        assert d["lr"][ph == "cpt"].iloc[0] > 0  # re-warm-up starts from 0 at the transfer point
    # LR stays at 6 significant digits and is bounded by the peak LR used here
    assert d["lr"].max() <= 2e-3 + 1e-12


def test_cpt_split():
    split = json.loads((CPT / "split.json").read_text())
    assert set(split) == {"train", "test", "extra"}
    names = split["train"] + split["test"] + split["extra"]
    assert len(names) == len(set(names)), "a file is in two of train, test, extra"
    for n in names:
        assert (CPT / n).is_file(), n
    assert len(split["train"]) >= 2 and len(split["test"]) >= 2


def test_mpl_split():
    split = json.loads((MPL / "split.json").read_text())
    assert sorted(split["train"]) == ["constant_24000.csv", "cosine_24000.csv", "wsdcon_9.csv"]
    assert len(split["test"]) == 6 and not set(split["train"]) & set(split["test"])
    for size in ("25M", "100M", "400M"):
        for n in split["train"] + split["test"]:
            assert (MPL / size / n).is_file()


def test_mpl_licence():
    lic = (MPL / "LICENSE").read_text()
    assert "MIT License" in lic and "Copyright (c) 2025 Kairong Luo" in lic
    assert "8da9f1902602f3391b971a811e3cc51604541769" in (MPL / "SOURCE.md").read_text()


def _load_converter():
    spec = importlib.util.spec_from_file_location(
        "convert_external", ROOT / "scripts" / "convert_external.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("path", MPL_CSV, ids=lambda p: str(p.relative_to(MPL)))
def test_mpl_lr_matches_schedule_formula(path):
    """The written LR equals the documented schedule at every row (no source files needed)."""
    conv = _load_converter()
    d = check_run_csv(path)
    assert set(d["phase"]) == {"pt"} and (d["replay"] == 0).all() and d["loss_cpt"].isna().all()
    lr, _, _ = conv.schedule(path.stem, int(d["step"].iloc[-1]))
    assert np.max(np.abs(lr[d["step"].to_numpy()] - d["lr"].to_numpy())) < 1e-12


@pytest.mark.skipif(not MPL_SRC.is_dir(), reason="MPL source curves not on this machine")
@pytest.mark.parametrize("path", MPL_CSV, ids=lambda p: str(p.relative_to(MPL)))
def test_mpl_reproduces_source(path):
    folder = {"25M": "csv_25", "100M": "csv_100", "400M": "csv_400"}[path.parent.name]
    src = pd.read_csv(MPL_SRC / folder / path.name)
    d = pd.read_csv(path)
    logged = d.dropna(subset=["loss_pt"]).reset_index(drop=True)
    assert logged["step"].tolist() == src["step"].tolist()
    assert (logged["loss_pt"].to_numpy() == src["loss"].to_numpy()).all()  # exact
    assert np.max(np.abs(logged["lr"].to_numpy() - src["lr"].to_numpy())) <= 1e-9
    assert d["step"].iloc[-1] == src["step"].iloc[-1]
