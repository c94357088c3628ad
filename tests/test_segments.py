"""Areas per linear segment (issue 13, item 3): ``areas_at_rows`` equals the per-step path."""

import importlib.util
import os

import numpy as np
import pytest

from cptcore.areas import areas_at_rows, compute_areas, row_areas, run_areas
from cptcore.envelope import setting_of_lr, setting_of_run
from cptcore.fit import _gather
from cptcore.runs import Run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _benchmark(name: str):
    """The script ``benchmarks/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(ROOT, "benchmarks", f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _schedule(rng, known: bool):
    """Random piecewise-linear rows: warm-up, constant parts, anneal, re-warm-up, jumps."""
    n = int(rng.integers(3, 9))
    gaps = rng.integers(1, 3000, n)
    st = np.concatenate(([0], np.cumsum(gaps)))
    lr = rng.uniform(0, 1e-3, len(st))
    lr[0] = 0.0 if rng.random() < 0.7 else lr[0]
    for i in range(1, len(st)):  # some constant parts
        if rng.random() < 0.3:
            lr[i] = lr[i - 1]
    if not known:
        st = st + int(rng.integers(0, 40))  # a CPT-only run may start after step 0
    transfer = int(st[rng.integers(0, len(st) - 1)])
    return st, lr, transfer


def _close(a, b, scale):
    assert np.all(np.abs(a - b) <= 1e-9 * (np.abs(b) + scale)), np.max(np.abs(a - b) / scale)


@pytest.mark.parametrize("lam", [0.999, 0.99, 0.9, 0.3, 0.0])
@pytest.mark.parametrize("known", [True, False])
def test_segments_equal_the_per_step_path(lam, known):
    rng = np.random.default_rng(int(lam * 1000) + known)
    for _ in range(25):
        st, lr, transfer = _schedule(rng, known)
        last = int(st[-1])
        at = np.unique(np.concatenate((rng.integers(0, last + 1, 20), st[-2:], [transfer])))
        dense = compute_areas(
            np.interp(np.arange(last + 1), st, lr), transfer, lam=lam, pt_history_known=known
        )
        want = dense.at(at)
        got = areas_at_rows(st, lr, transfer, lam=lam, pt_history_known=known, at=at)
        assert got.cpt_from == want.cpt_from and got.transfer_step == want.transfer_step
        assert np.array_equal(got.rows, want.rows)
        for k in ("S1pt", "S2pt", "S1cpt", "S2cpt"):
            # relative to the value, with the run's own scale for values that cross 0
            full = np.concatenate(
                (dense.S1pt, dense.S1cpt) if "S1" in k else (dense.S2pt, dense.S2cpt)
            )
            _close(getattr(got, k), getattr(want, k), 1e-300 + np.max(np.abs(full)))


def test_pure_pt_run_and_lr_weighted_fallback():
    st, lr = np.array([0, 100, 5000, 9000]), np.array([0.0, 1e-3, 1e-3, 1e-5])
    dense = np.interp(np.arange(9001), st, lr)
    at = np.array([50, 100, 4321, 9000])
    for form in ("paper", "lr-weighted"):
        want = compute_areas(dense, None, s2_form=form).at(at)
        got = areas_at_rows(st, lr, None, s2_form=form, at=at)
        for k in ("S1pt", "S2pt", "S1cpt", "S2cpt"):
            _close(getattr(got, k), getattr(want, k), 1e-300)


def test_row_areas_and_clock_of_a_sparse_run():
    st = np.array([0, 1000, 20_000, 30_000, 30_500, 100_000])
    lr = np.array([0.0, 1e-3, 1e-3, 1e-4, 5e-4, 0.0])
    run = Run("r", st, lr, st > 30_000, loss_pt=np.linspace(4, 3, 6))
    got = row_areas(run)
    assert got.lr is None and got.knots is not None  # the per-segment path: no dense LR
    want = run_areas(run).at(run.step)
    for k in ("S1pt", "S2pt", "S1cpt", "S2cpt"):
        _close(getattr(got, k), getattr(want, k), 1e-300 + np.max(np.abs(getattr(want, k))))
    # the LR clock is built densely on demand and agrees
    _close(got.clock(1.5, 1e-3), want.clock(1.5, 1e-3), 1e-300)
    # the fitter's lazily built dense CPT LRs and peaks
    data = _gather([run], "pt", 0.999, "paper", 0.1, 0, True)
    assert np.allclose(data.cpt_lr, np.maximum(run.dense_lr()[30_001:], 0.0), rtol=0, atol=1e-18)
    assert data.cpt_peaks == (pytest.approx(5e-4, rel=1e-12),)
    s, d = setting_of_run(run), setting_of_lr(run.dense_lr(), 30_000, 0.0)
    assert s.S1cpt == pytest.approx(d.S1cpt, rel=1e-9) and s.cpt_steps == d.cpt_steps
    assert s.cpt_mean_lr_fraction == pytest.approx(d.cpt_mean_lr_fraction, rel=1e-9)
    assert s.loss_potential == pytest.approx(d.loss_potential, rel=1e-12)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory from Linux /proc")
def test_a_sparse_5m_step_run_fits_without_per_step_arrays(tmp_path):
    """Six LR corners over 5M steps, losses on ~60 rows: fitting builds no per-step array
    (a dense 5M-step fit peaked at ~420 MB; the libraries alone take ~150 MB)."""
    bench = _benchmark("sparse_fit")  # benchmarks/ is a folder of scripts, not a package
    measure, write_sparse_run = bench.measure, bench.write_sparse_run

    path = str(tmp_path / "sparse.csv")
    write_sparse_run(path)
    sec, mb, rc = measure(path, str(tmp_path / "params.json"))
    assert rc == 0
    assert mb < 250, f"{mb:.0f} MB"
