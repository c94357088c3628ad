"""The CPT law (paper Eq. 4 / Eq. 8), hidden curves, decomposition, critical point, turning length."""

import math

import numpy as np
import pytest

from cptcore.areas import compute_areas
from cptcore.law import (
    LawParams,
    can_return,
    critical_point,
    hidden_cpt_curve,
    hidden_pt_curve,
    predict,
    terms,
    turning_length,
)
from cptcore.presets import PAPER_FIG3
from cptcore.schedules import ScheduleSpec, concatenate


@pytest.fixture(scope="module")
def paper_example():
    # notes §5 worked example: WSD PT 36K + 4K anneal to 0 at 2e-4, CPT jumps back to 2e-4, cosine to 0 over 10K
    lr, t = concatenate(
        ScheduleSpec("wsd", 2e-4, 40_000, decay_fraction=0.1), ScheduleSpec("cosine", 2e-4, 10_000)
    )
    return compute_areas(lr, t), t


def test_paper_worked_example_general_loss(paper_example):
    a, t = paper_example
    y = predict(PAPER_FIG3["pt"], a, target="pt")
    # notes §5: 3.191 at transfer, a peak near 3.37, 3.34 at the end (all quoted to 2-3 decimals)
    assert y[t] == pytest.approx(3.191, abs=5e-4)
    assert y[t:].max() == pytest.approx(3.37, abs=5e-3)
    assert y[-1] == pytest.approx(3.34, abs=5e-3)


def test_paper_worked_example_domain_loss(paper_example):
    a, t = paper_example
    y = predict(PAPER_FIG3["cpt"], a, target="cpt")
    assert y[t] == pytest.approx(3.086, abs=5e-4)
    assert y[-1] == pytest.approx(2.59, abs=5e-3)


def test_law_is_undefined_before_the_first_update(paper_example):
    a, _ = paper_example
    assert math.isnan(predict(PAPER_FIG3["pt"], a)[0])


def test_decomposition_sums_to_the_prediction(paper_example):
    a, _ = paper_example
    tm = terms(PAPER_FIG3["pt"], a)
    np.testing.assert_allclose(
        tm.total[1:], tm.L0 + tm.power[1:] + tm.anneal_pt[1:] + tm.anneal_cpt[1:] + tm.shift[1:]
    )


def test_hidden_curves_bracket_the_cpt_curve_on_the_general_set(paper_example):
    a, t = paper_example
    p = PAPER_FIG3["pt"]
    y, hp, hc = predict(p, a), hidden_pt_curve(p, a), hidden_cpt_curve(p, a)
    # general loss rises in CPT (B > 0): hidden D_pt curve below, hidden D_cpt curve (shift saturated) above
    assert np.all(hp[t + 1 :] < y[t + 1 :]) and np.all(y[t + 1 :] < hc[t + 1 :])
    np.testing.assert_allclose(y[: t + 1][1:], hp[: t + 1][1:])  # no shift before the transfer


def test_eq8_at_replay_zero_is_eq4_with_rescaled_c2_and_b(paper_example):
    # documented in law.py: at r_cpt = 1, L_pt's annealing factor exp(a1*r_pt) is 1 and its shift factor
    # is (1 - e^-a2); L_cpt's factors are exp(a1) and (e^a2 - 1)
    a, _ = paper_example
    p8 = PAPER_FIG3["pt"].with_values(a1=0.05, a2=3.0)
    p4 = PAPER_FIG3["pt"].with_values(B=PAPER_FIG3["pt"].B * (1 - math.exp(-3.0)))
    np.testing.assert_allclose(
        predict(p8, a, 0.0, "pt")[1:], predict(p4, a, 0.0, "pt")[1:], rtol=1e-12
    )
    q8 = PAPER_FIG3["cpt"].with_values(a1=0.04, a2=2.0)
    q4 = PAPER_FIG3["cpt"].with_values(
        C2=PAPER_FIG3["cpt"].C2 * math.exp(0.04), B=PAPER_FIG3["cpt"].B * math.expm1(2.0)
    )
    np.testing.assert_allclose(
        predict(q8, a, 0.0, "cpt")[1:], predict(q4, a, 0.0, "cpt")[1:], rtol=1e-12
    )


def test_eq8_shift_vanishes_at_full_replay(paper_example):
    a, _ = paper_example
    for form in ("paper", "convex"):
        p = PAPER_FIG3["pt"].with_values(a1=0.05, a2=3.0, replay_form=form)
        assert np.all(terms(p, a, replay=1.0).shift == 0)


def test_more_replay_means_a_smaller_general_loss_rise(paper_example):
    a, t = paper_example
    p = PAPER_FIG3["pt"].with_values(a1=0.05, a2=3.0)
    rises = [
        predict(p, a, r, "pt")[t:].max() - predict(p, a, r, "pt")[t] for r in (0.0, 0.25, 0.5, 0.75)
    ]
    assert rises == sorted(rises, reverse=True)


def test_critical_point_is_l0_plus_b():
    assert critical_point(PAPER_FIG3["pt"]) == pytest.approx(3.057 + 0.366)


def test_turning_length_finds_the_return_to_the_start():
    y = np.r_[3.0, 3.0, 3.2, 3.3, 3.1, 2.99, 2.9]
    assert turning_length(y, 1) == 4
    assert turning_length(np.r_[3.0, 3.0, 3.2, 3.3, 3.2], 1) is None


def test_turning_length_is_zero_when_the_loss_never_rises():
    # Fig. 13's convention: a loss that never goes above its transfer value has nothing to return
    # from (0), unlike one that rises and stays up (None); the pages and the planner read this
    assert turning_length(np.r_[3.5, 3.0, 2.9, 3.0, 2.8], 1) == 0


def test_an_undertrained_model_can_return_below_its_start():
    # a short PT leaves A*S1pt^-alpha large: with a weak shift the general loss comes back (Finding 4)
    p = LawParams(L0=3.0, A=0.5, alpha=0.5, C1=0.3, C2=0.3, B=0.1, E=3000.0, beta=0.5)
    lr, t = concatenate(
        ScheduleSpec("constant", 2e-4, 2000), ScheduleSpec("constant", 2e-4, 100_000)
    )
    a = compute_areas(lr, t)
    y = predict(p, a)
    assert can_return(p, a.S1pt[-1], a.S2cpt[-1])
    assert turning_length(y, t) is not None
    strong = p.with_values(B=1.0)  # B > A*S1pt^-alpha = 0.79: the rise can never be undone
    assert not can_return(strong, a.S1pt[-1], a.S2cpt[-1])
    assert turning_length(predict(strong, a), t) is None


def test_params_reject_absurd_values_with_the_key_named():
    from cptcore.errors import InputError

    d = PAPER_FIG3["pt"].to_dict()
    d["alpha"] = -3
    with pytest.raises(InputError, match="pt.alpha"):
        LawParams.from_dict(d, "pt")
    d = PAPER_FIG3["pt"].to_dict()
    del d["E"]
    with pytest.raises(InputError, match="missing parameter E"):
        LawParams.from_dict(d, "pt")


def test_law_at_logged_rows_equals_the_dense_prediction_sampled(paper_example):
    a, t = paper_example
    rows = np.r_[1, 5, 100, t - 1, t, t + 1, t + 7, t + 5000, len(a) - 1]
    for target in ("pt", "cpt"):
        dense = predict(PAPER_FIG3[target], a, 0.0, target)
        np.testing.assert_allclose(
            predict(PAPER_FIG3[target], a.at(rows), 0.0, target), dense[rows], rtol=1e-13
        )
        np.testing.assert_allclose(
            terms(PAPER_FIG3[target], a.at(rows), 0.0, target).total, dense[rows], rtol=1e-13
        )


def test_hand_built_areas_apply_the_cpt_terms_from_the_first_cpt_element():
    # an Areas built by hand (e.g. end-of-CPT values only) must not lose its CPT terms
    from cptcore.areas import Areas

    one = np.ones(1)
    a = Areas(one * 7.6, one * 0.15, one * 2.0, one * 0.04, transfer_step=40_000)
    p = PAPER_FIG3["cpt"]
    expected = (
        p.L0
        + p.A * 9.6**-p.alpha
        - p.C1 * 0.15
        - p.C2 * 0.04
        + p.B * (1 - (1 + p.E * 2.0) ** -p.beta)
    )
    assert predict(p, a, 0.0, "cpt")[0] == pytest.approx(expected, rel=1e-12)


# --- the one kernel (law.columns) against a plain transcription of the paper's equations -------


def _plain(p: LawParams, S1pt, S2pt, S1cpt, S2cpt, r, target, clock=None, peak=None):
    """Eq. 4 / Eq. 8 / tau-form for one point, written out term by term with math (no numpy).
    ``clock``: S1cpt_rho for the LR-clock forms (``_plain_clock``); None means S1cpt. ``peak``:
    the run's CPT peak LR for the peak forms; None means eta_ref."""
    r_pt, r_cpt = r, 1 - r
    if p.law in ("eq4-lr", "tau-lr") and clock is not None:
        S1cpt_for_shift = clock
    else:
        S1cpt_for_shift = S1cpt
    shift_clock = S1cpt_for_shift
    f_anneal = f_shift = 1.0
    if p.law == "eq8":  # paper Eq. 8 (notes §2.4)
        if target == "pt":
            f_anneal, f_shift = math.exp(p.a1 * r_pt), 1 - math.exp(-p.a2 * r_cpt)
        else:
            f_anneal, f_shift = math.exp(p.a1 * r_cpt), math.exp(p.a2 * r_cpt) - 1
    elif p.law == "eq8-convex":
        f_anneal = math.exp(p.a1 * r_pt)
        f_shift = (math.exp(p.a2 * r_cpt) - 1) / (math.exp(p.a2) - 1)
    elif p.law in ("tau", "tau-lr", "tau-amp", "tau-speed"):  # notes §10
        f_anneal = math.exp(p.a1 * r)
        k = p.kappa * r
        s = S1cpt_for_shift
        shift_clock = s if k == 0 else (1 - r) * (1 - math.exp(-k * s)) / k
    if peak is not None and p.law == "tau-amp":  # B * (eta_peak / eta_ref)^nu
        f_shift *= (peak / p.eta_ref) ** p.nu
    if peak is not None and p.law in ("tau-speed", "eq4-speed"):  # E * (eta_peak / eta_ref)^mu
        shift_clock *= (peak / p.eta_ref) ** p.mu
    return (
        p.L0
        + p.A * (S1pt + S1cpt) ** -p.alpha
        - p.C1 * S2pt
        - p.C2 * f_anneal * S2cpt
        + p.B * f_shift * (1 - (1 + p.E * shift_clock) ** -p.beta)
    )


def _plain_clock(lr, transfer, rho, eta_ref):
    """S1cpt_rho at every step, summed step by step: sum_{transfer < i <= t} eta_i^rho eta_ref^(1-rho)."""
    out, acc = [0.0] * len(lr), 0.0
    for i in range(transfer + 1, len(lr)):
        acc += max(lr[i], 0.0) ** rho * eta_ref ** (1 - rho)
        out[i] = acc
    return out


FORM_PARAMS = {
    "eq4": {},
    "eq8": {"a1": 0.05, "a2": 3.0},
    "eq8-convex": {"a1": -0.2, "a2": 6.0, "replay_form": "convex"},
    "tau": {"a1": 0.1, "kappa": 7.0, "replay_form": "tau"},
    "eq4-lr": {"rho": 1.4, "eta_ref": 1e-4, "replay_form": "lr"},
    "tau-lr": {"a1": 0.1, "kappa": 7.0, "rho": 0.7, "eta_ref": 3e-4, "replay_form": "tau-lr"},
    "eq4-speed": {"mu": 0.9, "eta_ref": 1e-3, "replay_form": "speed"},
    "tau-amp": {"a1": 0.1, "kappa": 7.0, "nu": 0.4, "eta_ref": 1e-3, "replay_form": "tau-amp"},
    "tau-speed": {"a1": 0.1, "kappa": 7.0, "mu": 1.3, "eta_ref": 1e-3, "replay_form": "tau-speed"},
}


@pytest.mark.parametrize("form", list(FORM_PARAMS))
@pytest.mark.parametrize("target", ["pt", "cpt"])
@pytest.mark.parametrize("replay", [0.0, 0.1, 0.5, 1.0])
def test_kernel_equals_a_plain_transcription_of_each_form(paper_example, form, target, replay):
    from cptcore.law import FORMS

    a, t = paper_example
    p = PAPER_FIG3[target].with_values(**FORM_PARAMS[form])
    assert p.law == form and form in FORMS
    rows = np.r_[1, 500, t, t + 1, t + 40, t + 3000, len(a) - 1]
    got = predict(p, a.at(rows), replay, target)
    clock = [None] * len(a)
    if p.rho is not None:
        clock = _plain_clock(list(a.lr), a.transfer_step, p.rho, p.eta_ref)
    peak = max(a.lr[t + 1 :])  # the CPT peak LR, 2e-4 (the peak forms)
    want = [
        _plain(p, a.S1pt[i], a.S2pt[i], a.S1cpt[i], a.S2cpt[i], replay, target, clock[i], peak)
        for i in rows
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # the dense prediction and the decomposition use the same clock
    np.testing.assert_allclose(predict(p, a, replay, target)[rows], want, rtol=1e-12)
    np.testing.assert_allclose(terms(p, a.at(rows), replay, target).total, want, rtol=1e-12)


@pytest.mark.parametrize("form", list(FORM_PARAMS))
def test_kernel_with_a_fitted_s1pt_is_the_plain_law_for_cpt_only_runs(form):
    # paper §6: unknown PT history; S1pt is a fitted number, S2pt = 0
    from cptcore.law import columns, combine

    p = PAPER_FIG3["cpt"].with_values(**FORM_PARAMS[form])
    S1cpt = np.array([0.01, 0.2, 1.5])
    S2cpt = np.array([-0.01, 0.02, 0.3])
    got = combine(p, columns(p, 3.0, np.zeros(3), S1cpt, S2cpt, 0.25, "cpt"))
    want = [_plain(p, 3.0, 0.0, s1, s2, 0.25, "cpt") for s1, s2 in zip(S1cpt, S2cpt, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_kernel_takes_one_replay_ratio_per_row(paper_example):
    # the fitter evaluates several runs (several replay ratios) in one call
    from cptcore.law import columns, combine

    a, t = paper_example
    p = PAPER_FIG3["pt"].with_values(**FORM_PARAMS["tau"])
    rows = np.r_[t + 10, t + 500, t + 5000]
    sub = a.at(rows)
    r = np.array([0.0, 0.25, 0.5])
    both = combine(p, columns(p, sub.S1pt, sub.S2pt, sub.S1cpt, sub.S2cpt, r, "pt"))
    one_by_one = [predict(p, sub, float(ri), "pt")[k] for k, ri in enumerate(r)]
    np.testing.assert_allclose(both, one_by_one, rtol=1e-13)


def test_tau_form_is_eq4_without_replay_and_has_no_shift_at_full_replay(paper_example):
    a, t = paper_example
    p4 = PAPER_FIG3["pt"]
    tau = p4.with_values(**FORM_PARAMS["tau"])
    np.testing.assert_allclose(predict(tau, a, 0.0)[1:], predict(p4, a, 0.0)[1:], rtol=1e-13)
    assert np.all(terms(tau, a, 1.0).shift == 0)


def test_tau_form_shift_levels_off_lower_and_sooner_with_more_replay(paper_example):
    a, t = paper_example
    tau = PAPER_FIG3["pt"].with_values(**FORM_PARAMS["tau"])
    final = [terms(tau, a, r).shift[-1] for r in (0.0, 0.1, 0.3, 0.6)]
    assert final == sorted(final, reverse=True) and final[-1] > 0
    # the hidden D_cpt curve uses the shift's limit: with replay it is the plateau, below B
    from cptcore.law import shift_limit

    assert 0 < shift_limit(tau, 0.3) < 1 == shift_limit(tau, 0.0)


def test_params_round_trip_each_form_and_reject_a_half_given_replay_form():
    from cptcore.errors import InputError

    for extra in FORM_PARAMS.values():
        p = PAPER_FIG3["pt"].with_values(**extra)
        assert LawParams.from_dict(p.to_dict()) == p
    d = PAPER_FIG3["pt"].to_dict() | {"a1": 0.1, "replay_form": "tau"}  # kappa missing
    with pytest.raises(InputError, match="give both a1 and kappa"):
        LawParams.from_dict(d, "pt")


# --- the LR clock (forms eq4-lr, tau-lr) -------------------------------------------------------


def test_lr_clock_at_rho_1_is_the_tau_form_and_eq4(paper_example):
    from cptcore.areas import lr_clock

    a, t = paper_example
    np.testing.assert_allclose(lr_clock(a.lr, t, 1.0, 2e-4), a.S1cpt, rtol=1e-12, atol=1e-15)
    for form, plain in (("tau-lr", "tau"), ("eq4-lr", "eq4")):
        p = PAPER_FIG3["pt"].with_values(**(FORM_PARAMS[form] | {"rho": 1.0}))
        q = PAPER_FIG3["pt"].with_values(**FORM_PARAMS[plain])
        assert p.law == form and q.law == plain
        for r in (0.0, 0.3):
            np.testing.assert_array_equal(predict(p, a, r)[1:], predict(q, a, r)[1:])


def test_lr_clock_counts_high_lr_steps_more_when_rho_exceeds_1():
    # two constant CPT phases at 1e-3 and 2e-4 from the same PT: rho > 1 makes the high-LR phase's
    # shift relatively larger; the clock equals S1cpt at eta_ref
    hi, t = concatenate(ScheduleSpec("constant", 1e-3, 1000), ScheduleSpec("constant", 1e-3, 500))
    lo, _ = concatenate(ScheduleSpec("constant", 1e-3, 1000), ScheduleSpec("constant", 2e-4, 500))
    a_hi, a_lo = compute_areas(hi, t), compute_areas(lo, t)
    np.testing.assert_allclose(a_hi.clock(1.5, 1e-3), a_hi.S1cpt, rtol=1e-12)
    ratio = a_lo.clock(1.5, 1e-3)[-1] / a_lo.S1cpt[-1]
    assert ratio == pytest.approx(0.2**0.5, rel=1e-9)


def test_hand_built_areas_without_an_lr_use_s1cpt_as_the_clock():
    from cptcore.areas import Areas

    one = np.ones(1)
    a = Areas(one * 7.6, one * 0.15, one * 2.0, one * 0.04, transfer_step=40_000)
    assert a.clock(1.7, 1e-3)[0] == 2.0


def test_lr_clock_params_need_their_reference_lr():
    from cptcore.errors import InputError

    d = PAPER_FIG3["pt"].with_values(**FORM_PARAMS["tau-lr"]).to_dict()
    assert d["rho"] == 0.7 and d["eta_ref"] == 3e-4 and d["replay_form"] == "tau-lr"
    del d["eta_ref"]
    with pytest.raises(InputError, match="eta_ref"):
        LawParams.from_dict(d, "pt")


# --- the peak forms (tau-amp, tau-speed): the run's CPT peak LR scales the shift ----------------


@pytest.mark.parametrize(
    "form, exponent, plain",
    [("tau-amp", "nu", "tau"), ("tau-speed", "mu", "tau"), ("eq4-speed", "mu", "eq4")],
)
def test_peak_forms_are_the_tau_form_at_exponent_0_or_at_the_reference_lr(
    paper_example, form, exponent, plain
):
    a, t = paper_example  # CPT peak ~2e-4 (the first step of a cosine from 2e-4)
    tau = PAPER_FIG3["pt"].with_values(**FORM_PARAMS[plain])
    for r in (0.0, 0.3):
        want = predict(tau, a, r)[1:]
        neutral = tau.with_values(**(FORM_PARAMS[form] | {exponent: 0.0}))
        at_ref = tau.with_values(**(FORM_PARAMS[form] | {"eta_ref": a.cpt_peak()}))
        assert neutral.law == at_ref.law == form
        np.testing.assert_allclose(predict(neutral, a, r)[1:], want, rtol=1e-13)
        np.testing.assert_allclose(predict(at_ref, a, r)[1:], want, rtol=1e-13)


def test_tau_amp_scales_the_shift_and_tau_speed_its_clock_by_the_peak_lr(paper_example):
    a, t = paper_example
    f = a.cpt_peak() / 1e-3  # CPT peak ~2e-4, eta_ref 1e-3
    assert f == pytest.approx(0.2, rel=1e-6)
    tau = PAPER_FIG3["pt"].with_values(**FORM_PARAMS["tau"])
    amp = tau.with_values(**FORM_PARAMS["tau-amp"])
    np.testing.assert_allclose(
        terms(amp, a, 0.3).shift, terms(tau, a, 0.3).shift * f**0.4, rtol=1e-12
    )
    # tau-speed: the tau-form with E * f^1.3 (E only: tau's relaxation keeps S1cpt)
    speed = tau.with_values(**FORM_PARAMS["tau-speed"])
    slow = tau.with_values(E=tau.E * f**1.3)
    np.testing.assert_allclose(terms(speed, a, 0.3).shift, terms(slow, a, 0.3).shift, rtol=1e-12)


def test_hand_built_areas_without_an_lr_give_the_peak_forms_their_reference_lr():
    from cptcore.areas import Areas

    one = np.ones(1)
    a = Areas(one * 7.6, one * 0.15, one * 2.0, one * 0.04, transfer_step=40_000)
    assert a.cpt_peak() is None
    amp = PAPER_FIG3["pt"].with_values(**FORM_PARAMS["tau-amp"])
    tau = PAPER_FIG3["pt"].with_values(**FORM_PARAMS["tau"])
    assert predict(amp, a, 0.2)[0] == pytest.approx(predict(tau, a, 0.2)[0], rel=1e-14)


@pytest.mark.parametrize("form", list(FORM_PARAMS))
@pytest.mark.parametrize("replay", [0.0, 0.3])
@pytest.mark.parametrize("known", [True, False])
def test_per_step_prediction_of_both_sets_equals_the_kernel(form, replay, known):
    # predict_sets (chunks, one log S1 for both sets, no CPT terms before the transfer) against
    # combine(columns(...)) on the same per-step areas: the same sums in another order
    from cptcore.law import columns, combine, predict_sets

    lr, t = concatenate(
        ScheduleSpec("wsd", 2e-4, 70_000, warmup_steps=500, decay_fraction=0.1),
        ScheduleSpec("wsd", 3e-4, 30_000, warmup_steps=300, decay_fraction=0.2),
    )
    a = compute_areas(lr, t, pt_history_known=known)
    fits = {g: PAPER_FIG3[g].with_values(**FORM_PARAMS[form]) for g in ("pt", "cpt")}
    got = predict_sets(fits, a, replay)
    for g, p in fits.items():
        clock = a.clock(p.rho, p.eta_ref) if p.clocked else None
        cols = columns(p, a.S1pt, a.S2pt, a.S1cpt, a.S2cpt, replay, g, clock, peak=3e-4)
        want = combine(p, cols)
        assert np.isnan(got[g][0]) and np.isnan(want[0])
        np.testing.assert_allclose(got[g][1:], want[1:], rtol=1e-12, atol=1e-12)  # losses ~1
        np.testing.assert_array_equal(predict(p, a, replay, g), got[g])
