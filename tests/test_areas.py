"""S1/S2 areas (paper Eq. 1) and their PT/CPT split."""

import numpy as np
import pytest

from cptcore.areas import compute_areas, decay_sum, momentum, pt_eta_for_s2, s2_naive
from cptcore.schedules import ScheduleSpec, concatenate


def test_s2_of_constant_schedule_is_zero():
    lr, _ = concatenate(ScheduleSpec("constant", 3e-4, 5000, warmup_steps=200))
    a = compute_areas(lr)
    assert np.all(a.S2pt == 0.0)
    assert a.S1pt[-1] == pytest.approx(3e-4 * (5000 - 200) + 3e-4 * 201 / 2, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_linear_time_s2_equals_the_papers_double_sum(seed):
    rng = np.random.default_rng(seed)
    eta = np.abs(rng.normal(3e-4, 1e-4, size=600))
    eta[0] = eta[1]
    fast = np.cumsum(momentum(eta, 0.999))
    slow = s2_naive(eta, 0.999)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-15)


def _decay_loop(d, a):
    y, acc = np.empty(len(d)), 0.0
    for i, v in enumerate(d):
        acc = a * acc + v
        y[i] = acc
    return y


@pytest.mark.parametrize("a", [0.9999, 0.999, 0.98, 0.9, 0.5, 0.01, 0.0])
@pytest.mark.parametrize("n", [0, 1, 5, 64, 65, 1000, 54_321])
def test_blocked_decay_sum_equals_the_plain_recursion(n, a):
    # the blocked numpy recursion against the loop it replaces; 1e-12 relative to the largest value
    # leaves room for summation order (measured ~1e-14 at 1M steps against scipy's lfilter)
    d = np.random.default_rng(n).normal(size=n)
    want = _decay_loop(d, a)
    np.testing.assert_allclose(
        decay_sum(d, a), want, rtol=0, atol=1e-12 * max(1.0, np.abs(want).max(initial=0))
    )


def test_momentum_matches_scipy_lfilter_at_a_million_steps():
    from scipy.signal import lfilter

    lr, _ = concatenate(
        ScheduleSpec("wsd", 2e-4, 800_000, warmup_steps=10_000, decay_fraction=0.1),
        ScheduleSpec("cosine", 2e-4, 200_000, warmup_steps=5_000),
    )
    for lam in (0.999, 0.98):
        ref, _ = lfilter([-1.0, 1.0], [1.0, -lam], lr, zi=[lr[0]])
        np.testing.assert_allclose(momentum(lr, lam), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_paper_worked_example_areas():
    # notes §5: PT = 36K steps at 2e-4 + 4K-step linear anneal to 0 -> S1pt = 7.6, S2pt ~ 0.151.
    # S1pt is 7.5999 because the anneal's last update is at LR 0; S2pt is quoted to 3 digits.
    lr, transfer = concatenate(
        ScheduleSpec("wsd", 2e-4, 40_000, decay_fraction=0.1), ScheduleSpec("cosine", 2e-4, 10_000)
    )
    a = compute_areas(lr, transfer)
    assert a.S1pt[-1] == pytest.approx(7.6, abs=2e-4)
    assert a.S2pt[-1] == pytest.approx(0.151, abs=5e-4)
    # re-warm-up to the peak is negative annealing (notes §5: S2cpt dips to -0.12, ends ~ +0.04)
    assert a.S2cpt.min() == pytest.approx(-0.12, abs=0.01)
    assert a.S2cpt[-1] == pytest.approx(0.04, abs=0.005)


def test_pt_warmup_counts_as_peak_for_s2_but_not_for_s1():
    lr, _ = concatenate(ScheduleSpec("constant", 1e-3, 3000, warmup_steps=500))
    a = compute_areas(lr)
    assert np.all(a.S2pt == 0.0)  # no spurious negative area from the ramp
    assert a.S1pt[500] == pytest.approx(1e-3 * 501 / 2, rel=1e-12)  # the real ramp


def test_split_freezes_pt_areas_during_cpt():
    lr, transfer = concatenate(
        ScheduleSpec("wsd", 1e-3, 2000, warmup_steps=100),
        ScheduleSpec("constant", 5e-4, 1000, warmup_steps=50),
    )
    a = compute_areas(lr, transfer)
    assert np.all(a.S1pt[transfer:] == a.S1pt[transfer])
    assert np.all(a.S2pt[transfer:] == a.S2pt[transfer])
    assert np.all(a.S1cpt[: transfer + 1] == 0) and np.all(a.S2cpt[: transfer + 1] == 0)
    np.testing.assert_allclose(a.S1cpt[-1], lr[transfer + 1 :].sum(), rtol=1e-12)


def test_unknown_pt_history_starts_momentum_from_zero_lr():
    lr = np.r_[0.0, np.linspace(1e-4, 1e-3, 100), np.full(400, 1e-3)]
    a = compute_areas(lr, pt_history_known=False)
    assert a.S2cpt[100] < 0  # the re-warm-up from an annealed model is negative annealing
    assert np.all(a.S1pt == 0)


def test_lr_weighted_s2_stops_growing_at_zero_lr():
    lr, _ = concatenate(ScheduleSpec("wsd", 1e-3, 3000, decay_fraction=0.5), None)
    lr = np.r_[lr, np.zeros(2000)]
    paper = compute_areas(lr, s2_form="paper").S2pt
    weighted = compute_areas(lr, s2_form="lr-weighted").S2pt
    assert paper[-1] > paper[3000] * 1.001  # the momentum residue keeps adding area (paper §6)
    assert weighted[-1] == pytest.approx(weighted[3000], rel=1e-9)


def _plain_areas(lr, transfer, lam, known):
    """S1 and S2 (paper form) by the recursion itself: cumsum of the LR and of the momentum."""
    n = len(lr)
    if known:
        eta = pt_eta_for_s2(lr, n - 1 if transfer is None else transfer)
    else:
        eta = np.array(lr, dtype=float)
        eta[0] = 0.0
    return np.r_[0.0, np.cumsum(lr[1:])], np.cumsum(momentum(eta, lam))


def _split_back(a):
    """S1 and S2 over the whole run from the PT/CPT split (S1 = S1pt + S1cpt after the transfer)."""
    return a.S1pt + a.S1cpt, a.S2pt + a.S2cpt


@pytest.mark.parametrize("lam", [0.999, 0.98, 0.5, 0.0])
@pytest.mark.parametrize("known", [True, False])
def test_blocked_areas_equal_the_plain_recursion_at_every_length(lam, known):
    # the row-blocked matrix products (rows of 16 steps) against cumsum + the momentum recursion,
    # for lengths around the row size and transfer points anywhere (1e-12 of the largest value:
    # both sum the same numbers in a different order)
    rng = np.random.default_rng(int(lam * 100) + known)
    for n in [1, 2, 3, 15, 16, 17, 31, 33, 100, 1023, 4099, 40_000]:
        lr = np.abs(rng.normal(1e-3, 3e-4, n))
        lr[: min(n, 3)] = [0.0, 2e-4, 5e-4][: min(n, 3)]  # a warm-up from 0
        transfer = int(rng.integers(0, n)) if known else None
        a = compute_areas(lr, transfer, lam=lam, pt_history_known=known)
        S1, S2 = _plain_areas(lr, transfer, lam, known)
        got1, got2 = _split_back(a)
        if known:
            t = a.transfer_step
            got1[t + 1 :] = a.S1pt[t] + a.S1cpt[t + 1 :]
            got2[t + 1 :] = a.S2pt[t] + a.S2cpt[t + 1 :]
        for got, want in ((got1, S1), (got2, S2)):
            scale = max(np.abs(want).max(), 1e-300)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * scale)


def test_blocked_areas_at_a_million_steps_match_the_recursion_to_1e_9():
    lr, t = concatenate(
        ScheduleSpec("wsd", 2e-4, 800_000, warmup_steps=10_000, decay_fraction=0.1),
        ScheduleSpec("cosine", 2e-4, 200_000, warmup_steps=5_000),
    )
    a = compute_areas(lr, t)
    S1, S2 = _plain_areas(lr, t, 0.999, True)
    for got, want in ((a.S1pt[: t + 1], S1[: t + 1]), (a.S2pt[: t + 1], S2[: t + 1])):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
    for got, want in ((a.S1cpt, S1 - S1[t]), (a.S2cpt, S2 - S2[t])):
        np.testing.assert_allclose(
            got[t + 1 :], want[t + 1 :], rtol=1e-9, atol=1e-9 * np.abs(want).max()
        )
    assert np.all(a.S1cpt[: t + 1] == 0) and np.all(a.S2pt[t:] == a.S2pt[t])


def test_areas_keep_the_lr_without_copying_and_read_only():
    lr, t = concatenate(ScheduleSpec("wsd", 1e-3, 2000), ScheduleSpec("constant", 5e-4, 500))
    a = compute_areas(lr, t)
    assert np.shares_memory(a.lr, lr) and not a.lr.flags.writeable
