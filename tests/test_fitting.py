"""The fitter: recovery of known parameters, held-out prediction, honest diagnostics."""

import numpy as np
import pytest

from cptcore.areas import run_areas
from cptcore.fit import default_law, evaluate, fit_runs, fit_target, prediction_band
from cptcore.law import LawParams, predict
from tests.synthetic import PT_CONST, PT_WSD, TRUE, cpt_spec, make_run


@pytest.fixture(scope="module")
def train_test():
    train = [
        make_run("const-wsd", PT_CONST, cpt_spec("wsd", decay_fraction=0.2), seed=1),
        make_run("wsd-const", PT_WSD, cpt_spec("constant"), seed=2),
        make_run("wsd-wsd-hi", PT_WSD, cpt_spec("wsd", peak=1e-3, decay_fraction=0.2), seed=3),
    ]
    test = [
        make_run("const-cos", PT_CONST, cpt_spec("cosine"), seed=4),
        make_run("wsd-cos-lo", PT_WSD, cpt_spec("cosine", peak=2.5e-4), seed=5),
        make_run("const-lin-long", PT_CONST, cpt_spec("linear", steps=2000), seed=6),
    ]
    return train, test


@pytest.mark.parametrize("target", ["pt", "cpt"])
def test_fit_recovers_known_parameters_and_predicts_held_out_schedules(train_test, target):
    train, test = train_test
    res = fit_target(train, target)
    assert res.success, res.message
    # noise is 0.002 nats: in-sample and held-out errors must be at the noise level
    assert max(m.mae for m in res.metrics) < 0.003
    held = evaluate(res, test)
    assert len(held) == 3 and max(m.mae for m in held) < 0.006, held
    assert res.params.L0 == pytest.approx(TRUE[target].L0, abs=0.25)
    assert np.sign(res.params.B) == np.sign(TRUE[target].B)


def test_fit_is_deterministic(train_test):
    train, _ = train_test
    a = fit_target(train, "cpt", seed=0).params
    b = fit_target(train, "cpt", seed=0).params
    assert a == b


def test_pretraining_only_runs_tie_the_shift_terms_and_say_so():
    runs = [make_run("c", PT_CONST, None, seed=1), make_run("w", PT_WSD, None, seed=2)]
    res = fit_target(runs, "pt")
    assert res.success
    assert res.params.B == 0.0 and res.params.C1 == res.params.C2
    assert any("no CPT phase" in w for w in res.warnings)
    assert res.params.C1 == pytest.approx(TRUE["pt"].C1, rel=0.2)


def test_no_pt_annealing_ties_c1_to_c2_and_says_so():
    runs = [
        make_run("a", PT_CONST, cpt_spec("wsd"), seed=1),
        make_run("b", PT_CONST, cpt_spec("constant"), seed=2),
    ]
    res = fit_target(runs, "pt")
    assert res.params.C1 == res.params.C2
    assert any("C1 is not identified" in w for w in res.warnings)


def test_cpt_only_run_fits_s1pt():
    run, true_s1pt = make_run(
        "open-model", PT_WSD, cpt_spec("wsd", steps=2000), pt_history=False, seed=3
    )
    res = fit_target([run], "cpt")
    assert list(res.S1pt) == ["base"]  # a run without a base name starts from the one shared base
    assert res.success and res.metrics[0].mae < 0.004
    assert 0.1 * true_s1pt < res.S1pt["base"] < 10 * true_s1pt


def test_cpt_only_runs_from_one_base_share_one_s1pt_and_a_new_schedule_is_predicted(tmp_path):
    # issue 16: fit two CPT-only runs of one open model, predict a third schedule on that base
    from dataclasses import replace

    from cptcore.params_io import ParamSet, dumps, loads

    def run(name, spec, seed):
        r, s1 = make_run(name, PT_WSD, spec, pt_history=False, seed=seed)
        return replace(r, base="llama"), s1

    (a, s1), (b, _) = run("a", cpt_spec("wsd", steps=2000), 3), run("b", cpt_spec("cosine"), 4)
    new, _ = run("c", cpt_spec("constant", steps=1500), 5)
    fits = {t: fit_target([a, b], t) for t in ("pt", "cpt")}
    for f in fits.values():
        assert list(f.S1pt) == ["llama"] and 0.1 * s1 < f.S1pt["llama"] < 10 * s1
        assert evaluate(f, [new])[0].mae < 0.01  # a schedule the fit never saw, on that base
    back = loads(dumps(ParamSet.from_fits(fits)))
    preds = back.predict_run(new)
    assert np.isfinite(preds["cpt"][1:]).all()
    other = replace(new, base="mistral")
    from cptcore.errors import InputError

    with pytest.raises(InputError, match="base model 'mistral' was not fitted"):
        back.predict_run(other)


def test_older_files_with_s1pt_by_run_name_still_predict_that_run():
    run, _ = make_run("open-model", PT_WSD, cpt_spec("wsd"), pt_history=False, seed=3)
    res = fit_target([run], "cpt")
    from dataclasses import replace as dc_replace

    old = dc_replace(res, S1pt={"open-model": res.S1pt["base"]})
    assert old.S1pt_for(run) == res.S1pt["base"]


def test_eq8_fits_runs_with_several_replay_ratios_and_predicts_another():
    # B rescaled so that replay 0 matches TRUE (Eq. 8's factors at r_cpt = 1 are 1 - e^-a2 and e^a2 - 1)
    a2 = 2.0
    p8 = {
        "pt": TRUE["pt"].with_values(a1=0.1, a2=a2, B=TRUE["pt"].B / -np.expm1(-a2)),
        "cpt": TRUE["cpt"].with_values(a1=0.1, a2=a2, B=TRUE["cpt"].B / np.expm1(a2)),
    }
    runs = [
        make_run(f"r{r}", PT_WSD, cpt_spec("wsd"), replay=r, params=p8, seed=int(r * 10))
        for r in (0.0, 0.25, 0.5)
    ]
    assert default_law(runs) == "tau"  # without cross-validation
    fits = fit_runs(runs, "eq8")
    held = make_run("r0.75", PT_WSD, cpt_spec("wsd"), replay=0.75, params=p8, seed=9)
    for res in fits.values():
        assert res.params.law == "eq8"
        assert any("rest on 3 replay ratios (0, 0.25, 0.5)" in w for w in res.warnings)
        assert max(m.mae for m in res.metrics) < 0.004, res.message
        assert evaluate(res, [held])[0].mae < 0.01


def test_single_replay_ratio_falls_back_to_eq4_with_a_warning(train_test):
    res = fit_target(train_test[0], "pt", law="eq8")
    assert res.params.law == "eq4"
    assert any("at least two replay ratios" in w for w in res.warnings)


def test_a_fit_without_losses_says_why():
    run = make_run("x", PT_CONST, cpt_spec("wsd"))
    bare = type(run)(run.name, run.step, run.lr, run.is_cpt, 0.0)
    res = fit_target([bare], "pt")
    assert not res.success and "no run has general" in res.message


def test_stopping_a_fit_reports_what_it_reached(train_test):
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 30  # let the grid scan finish partly, then stop

    res = fit_target(train_test[0], "cpt", should_stop=stop)
    assert not res.success
    assert "stopped" in res.message


def test_prediction_band_covers_the_truth_on_a_held_out_schedule(train_test):
    train, test = train_test
    res = fit_target(train, "cpt")
    run = test[0]
    a = run_areas(run)
    lo, hi = prediction_band(res, a, run.replay)
    truth = predict(TRUE["cpt"], a, run.replay, "cpt")
    inside = (truth[1:] >= lo[1:] - 0.003) & (truth[1:] <= hi[1:] + 0.003)
    assert inside.mean() > 0.95
    assert np.all(hi[1:] >= lo[1:]) and np.any(hi[1:] > lo[1:])


def test_fit_reports_a_bound_hit_in_words():
    # a shift that never saturates within the data: E and beta are poorly identified
    p = {"cpt": LawParams(L0=1.5, A=1.1, alpha=0.55, C1=0.3, C2=0.4, B=-0.9, E=1e-3, beta=0.5)}
    runs = [make_run("a", PT_WSD, cpt_spec("constant"), params=p, seed=1)]
    res = fit_target(runs, "cpt")
    assert res.success or res.message
    assert isinstance(res.warnings, tuple)


def test_rows_before_min_step_and_inside_the_pt_warmup_are_not_fitted(train_test):
    train, test = train_test
    res = fit_target(train, "pt", min_step=1000)
    assert res.min_step == 1000
    n_after = sum(int((np.isfinite(r.loss_pt) & (r.step >= 1000)).sum()) for r in train)
    assert res.n_points == n_after
    full = fit_target(train, "pt")
    # synthetic runs: PT warm-up of 100 steps, losses every 25 steps -> steps 25, 50, 75 are skipped
    assert full.n_points == sum(int(np.isfinite(r.loss_pt).sum()) - 3 for r in train)
    assert all(
        m.n_points == int((np.isfinite(r.loss_pt) & (r.step >= 1000)).sum())
        for m, r in zip(evaluate(res, test), test, strict=True)
    )


def test_cross_validation_recovers_the_annealing_momentum_the_curves_were_made_with():
    from cptcore.areas import compute_areas
    from cptcore.runs import Run
    from cptcore.schedules import concatenate
    from cptcore.select import select_model

    def run_with_lambda(name, pt, cpt, seed, lam=0.99):
        lr, t = concatenate(pt, cpt)
        a = compute_areas(lr, t, lam=lam)
        rng = np.random.default_rng(seed)
        steps = np.arange(len(lr))
        ev = (steps % 25 == 0) & (steps > 0)
        losses = {
            f"loss_{k}": np.where(ev, predict(p, a, 0.0, k) + rng.normal(0, 0.002, len(lr)), np.nan)
            for k, p in TRUE.items()
        }
        return Run(name, steps, lr, steps > t, 0.0, **losses)

    runs = [
        run_with_lambda("a", PT_CONST, cpt_spec("wsd"), 1),
        run_with_lambda("b", PT_WSD, cpt_spec("constant"), 2),
        run_with_lambda("c", PT_WSD, cpt_spec("cosine"), 3),
    ]
    choice, _ = select_model(runs, jobs=1)  # one replay ratio: Eq. 4, lambda chosen
    assert choice.lam == 0.99, choice.message
    score = {c.lam: c.score for c in choice.candidates}
    assert score[0.999] > 2 * score[0.99]  # the paper's 0.999 predicts these much worse


def test_a_fit_stopped_by_its_caller_returns_the_best_start_it_finished(train_test, monkeypatch):
    import cptcore.fit as fit_module

    real = fit_module.least_squares
    calls = {"n": 0}

    def count(*a, **kw):
        calls["n"] += 1
        return real(*a, **kw)

    monkeypatch.setattr(fit_module, "least_squares", count)
    # the app's stop button: should_stop turns true once the first start has finished
    res = fit_target(train_test[0], "pt", should_stop=lambda: calls["n"] >= 1)
    assert not res.success and res.message.startswith("stopped early")
    assert np.isfinite(res.params.L0) and res.metrics and calls["n"] == 1


def test_ctrl_c_is_not_swallowed_by_the_fitter(train_test, monkeypatch):
    # issue 12: Ctrl-C must stop the whole command (the CLI exits 130 and writes nothing)
    import cptcore.fit as fit_module

    def interrupt(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_module, "least_squares", interrupt)
    with pytest.raises(KeyboardInterrupt):
        fit_target(train_test[0], "pt")


@pytest.mark.parametrize("law", ["eq4", "eq8", "eq8-convex"])
def test_the_fitters_row_wise_law_is_the_law(law):
    # fit.py evaluates Eq. 4/8 on concatenated rows for speed; evaluate() uses law.predict per run:
    # scoring the fitted runs both ways must agree, or the fitter optimises another law
    a2 = 2.0
    p8 = {
        "pt": TRUE["pt"].with_values(a1=0.1, a2=a2, B=TRUE["pt"].B / -np.expm1(-a2)),
        "cpt": TRUE["cpt"],
    }
    runs = [
        make_run(f"r{r}", PT_WSD, cpt_spec("wsd"), replay=r, params=p8, seed=int(r * 10))
        for r in (0.0, 0.5)
    ]
    runs.append(
        make_run(
            "open", PT_WSD, cpt_spec("constant", steps=1500), pt_history=False, params=p8, seed=7
        )[0]
    )
    res = fit_target(runs, "pt", law)
    again = evaluate(res, runs, held_out=False)
    assert [m.mae for m in again] == pytest.approx([m.mae for m in res.metrics], rel=1e-9)


# --- the LR clock (forms eq4-lr, tau-lr) -------------------------------------------------------

# forgetting grows faster than linearly in the LR (rho > 1), domain learning slower (rho < 1)
TRUE_LR = {
    "pt": TRUE["pt"].with_values(a1=-0.3, kappa=12.0, rho=1.6, eta_ref=1e-3, replay_form="tau-lr"),
    "cpt": TRUE["cpt"].with_values(a1=0.2, kappa=1.5, rho=0.6, eta_ref=1e-3, replay_form="tau-lr"),
}


def _lr_runs(peaks=(4e-4, 1e-3), replays=(0.0, 0.5), seed0=0):
    runs = []
    for i, peak in enumerate(peaks):
        for k, r in enumerate(replays):
            pt, cpt = (PT_CONST, "wsd") if k % 2 == 0 else (PT_WSD, "constant")
            spec = cpt_spec(cpt, peak=peak, decay_fraction=0.2)
            runs.append(
                make_run(f"p{peak:g}-r{r}", pt, spec, r, TRUE_LR, 0.002, seed0 + 10 * i + k, 50)
            )
    return runs


@pytest.fixture(scope="module")
def lr_runs():
    return _lr_runs()


@pytest.mark.parametrize("target", ["pt", "cpt"])
def test_lr_clock_rho_is_recovered_from_runs_at_two_peak_lrs(lr_runs, target):
    res = fit_target(lr_runs, target, "tau-lr")
    assert res.params.law == "tau-lr" and res.success, res.message
    assert res.params.eta_ref == pytest.approx(1e-3)  # the largest CPT LR of the fitted runs
    assert res.params.rho == pytest.approx(TRUE_LR[target].rho, abs=0.15)
    assert max(m.mae for m in res.metrics) < 0.003  # noise is 0.002 nats
    # a lower peak LR and a replay ratio between the fitted ones: at the noise level, where the
    # tau-form (rho = 1) misses
    held = [make_run("p2e-4", PT_WSD, cpt_spec("wsd", peak=2e-4), 0.25, TRUE_LR, 0.002, 99, 25)]
    assert evaluate(res, held)[0].cpt_mae < 0.004
    tau = fit_target(lr_runs, target, "tau")
    assert evaluate(tau, held)[0].cpt_mae > 2 * evaluate(res, held)[0].cpt_mae


def test_lr_clock_with_one_peak_lr_falls_back_to_rho_1_with_a_warning(lr_runs):
    one_peak = [r for r in lr_runs if r.name.startswith("p0.001")]
    res = fit_target(one_peak, "pt", "tau-lr")
    assert res.params.law == "tau" and res.params.rho is None
    assert any("two or more peak LRs" in w for w in res.warnings)
    # one replay ratio but two peak LRs: the replay terms go, the LR clock stays
    zero = [r for r in lr_runs if r.replay == 0.0]
    res = fit_target(zero, "pt", "tau-lr")
    assert res.params.law == "eq4-lr" and res.params.rho is not None
    assert any("at least two replay ratios" in w for w in res.warnings)


def test_the_fitters_row_wise_lr_clock_is_the_law(lr_runs):
    # the fitter sums the clock over concatenated runs; evaluate() uses law.predict per run
    open_run = make_run(
        "open", PT_WSD, cpt_spec("constant", peak=7e-4), pt_history=False, params=TRUE_LR, seed=7
    )[0]
    runs = [*lr_runs, open_run]
    res = fit_target(runs, "cpt", "tau-lr")
    assert res.params.law == "tau-lr"
    again = evaluate(res, runs, held_out=False)
    assert [m.mae for m in again] == pytest.approx([m.mae for m in res.metrics], rel=1e-9)


# --- the peak forms (tau-speed, eq4-speed): the run's CPT peak LR scales the shift's speed E ------

# forgetting per unit S1cpt faster at a higher peak LR (mu > 0), domain learning slower (mu < 0)
TRUE_SPEED = {
    "pt": TRUE["pt"].with_values(
        a1=-0.3, kappa=12.0, mu=1.3, eta_ref=1e-3, replay_form="tau-speed"
    ),
    "cpt": TRUE["cpt"].with_values(
        a1=0.2, kappa=1.5, mu=-0.6, eta_ref=1e-3, replay_form="tau-speed"
    ),
}


@pytest.fixture(scope="module")
def speed_runs():
    runs = []
    for i, peak in enumerate((4e-4, 1e-3)):
        for k, r in enumerate((0.0, 0.5)):
            pt, cpt = (PT_CONST, "wsd") if k % 2 == 0 else (PT_WSD, "constant")
            spec = cpt_spec(cpt, peak=peak, decay_fraction=0.2)
            runs.append(
                make_run(f"p{peak:g}-r{r}", pt, spec, r, TRUE_SPEED, 0.002, 40 + i * 10 + k)
            )
    return runs


@pytest.mark.parametrize("target", ["pt", "cpt"])
def test_tau_speed_mu_is_recovered_from_runs_at_two_peak_lrs(speed_runs, target):
    res = fit_target(speed_runs, target, "tau-speed")
    assert res.params.law == "tau-speed" and res.success, res.message
    assert res.params.eta_ref == pytest.approx(1e-3)  # the largest CPT LR of the fitted runs
    assert res.params.mu == pytest.approx(TRUE_SPEED[target].mu, abs=0.15)
    assert max(m.mae for m in res.metrics) < 0.003  # noise is 0.002 nats
    # a peak LR between the fitted ones and a replay ratio between them: at the noise level,
    # where the tau-form (mu = 0) misses
    held = [make_run("p6e-4", PT_WSD, cpt_spec("wsd", peak=6e-4), 0.25, TRUE_SPEED, 0.002, 98)]
    assert evaluate(res, held)[0].cpt_mae < 0.004
    tau = fit_target(speed_runs, target, "tau")
    assert evaluate(tau, held)[0].cpt_mae > 2 * evaluate(res, held)[0].cpt_mae


def test_tau_speed_falls_back_to_tau_with_one_peak_lr_and_to_eq4_speed_with_one_replay_ratio(
    speed_runs,
):
    one_peak = [r for r in speed_runs if r.name.startswith("p0.001")]
    res = fit_target(one_peak, "pt", "tau-speed")
    assert res.params.law == "tau" and res.params.mu is None
    assert any("two or more peak LRs to identify mu" in w for w in res.warnings)
    zero = [r for r in speed_runs if r.replay == 0.0]
    res = fit_target(zero, "pt", "tau-speed")
    assert res.params.law == "eq4-speed" and res.params.mu is not None
    assert any("peak-LR speed" in w for w in res.warnings)
    # at replay 0 the tau-form is Eq. 4: the speed is still recovered
    assert res.params.mu == pytest.approx(TRUE_SPEED["pt"].mu, abs=0.2)


def test_a_time_limit_that_runs_out_says_so_not_that_someone_stopped_it(train_test):
    res = fit_target(train_test[0], "pt", max_seconds=0.0)
    assert not res.success and "time limit of 0 s ran out" in res.message


def test_floor_is_identified_only_when_its_interval_excludes_zero():
    """The critical point L0 + B is quoted only for an L0 the data pin down (paper §4.3)."""
    from dataclasses import replace

    from cptcore.fit import FitResult
    from cptcore.presets import PAPER_FIG3

    p = PAPER_FIG3["pt"]
    published = FitResult("pt", p, True, "", ())
    assert published.floor_problem() is None  # no covariance: published numbers, taken as given
    free = ("L0", "A", "B")

    def with_se(L0: float, se: float) -> FitResult:
        cov = np.diag([se**2, 1e-4, 1e-4])
        return FitResult("pt", replace(p, L0=L0), True, "", (), free, cov)

    assert with_se(2.0, 0.1).floor_problem() is None
    problem = with_se(2.0, 1.5).floor_problem()  # 2.0 - 1.96 * 1.5 < 0
    assert "general loss floor L0 (2.000 ± 1.5)" in problem
    assert with_se(7.6e-7, 47.7).floor_problem() is not None  # at its bound 0 (open fit)
    assert FitResult("pt", replace(p, L0=0.0), True, "", ()).floor_problem() is not None
