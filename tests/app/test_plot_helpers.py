"""The pure helpers behind the pages: decimation, what-if settings, figure builders (no streamlit)."""

from dataclasses import replace

import numpy as np
import pytest

from cptcore.decimate import decimate
from cptcore.params_io import ParamSet
from cptcore.plots import scenario_figure, scenario_view, turning_note
from cptcore.presets import PAPER_FIG3
from cptcore.runs import Run
from cptcore.scenario import Scenario, simulate
from cptcore.schedules import ScheduleSpec, concatenate
from cptcore.whatif import PAPER_WHATIF, WhatIf, lr_options, step_options, whatif_from_run


def test_short_curves_are_not_decimated():
    steps = np.arange(500)
    assert np.array_equal(decimate(steps, steps * 1.0, max_points=1000), steps)


def test_decimate_keeps_schedule_corners_and_loss_peaks():
    w = replace(
        PAPER_WHATIF,
        pt_steps=80_000,
        pt_warmup=0.01,
        cpt_steps=20_000,
        cpt_kind="wsd",
        cpt_warmup=0.05,
    )
    lr, t = concatenate(w.pt_spec(), w.cpt_spec())
    steps = np.arange(len(lr))
    loss = np.exp(-steps / 3e4) + 0.1 * np.exp(-(((steps - 90_000) / 2000.0) ** 2))  # a bump
    idx = decimate(steps, lr, loss, max_points=2000, keep=(t,))
    assert len(idx) <= 2100 and np.all(np.diff(idx) > 0)
    kept = set(idx.tolist())
    corners = {800, 80_000 - round(0.1 * 79_200), t, t + 1000, t + 20_000 - round(0.2 * 19_000)}
    for c in corners:  # warm-up end, PT anneal start, transfer, CPT warm-up end, CPT anneal start
        assert kept & {c - 1, c, c + 1}, c
    assert int(np.argmax(loss[80_001:])) + 80_001 in kept  # the bump's peak
    # the kept points reproduce the LR curve: linear interpolation is exact between corners
    assert np.max(np.abs(np.interp(steps, steps[idx], lr[idx]) - lr)) < 1e-3 * lr.max()


def test_lr_and_step_grids_hold_the_paper_and_sample_settings():
    for v in (2e-4, 3e-4, 1e-3):
        assert any(abs(o - v) < 1e-12 for o in lr_options())
    assert {1000, 2500, 10_000, 40_000, 100_000, 1_000_000} <= set(step_options())


@pytest.mark.parametrize(
    "w",
    [
        WhatIf(
            pt_steps=2500,
            pt_kind="constant",
            pt_lr=1e-3,
            pt_warmup=0.04,
            cpt_steps=1000,
            cpt_kind="wsd",
            cpt_lr=1e-3,
            cpt_warmup=0.05,
            cpt_decay=0.2,
        ),
        WhatIf(
            pt_steps=2500,
            pt_kind="wsd",
            pt_lr=1e-3,
            pt_warmup=0.04,
            pt_decay=0.2,
            potential=0.0,
            cpt_steps=1000,
            cpt_kind="cosine",
            cpt_lr=3e-4,
            cpt_warmup=0.05,
        ),
        PAPER_WHATIF,
    ],
)
def test_settings_are_read_back_from_a_run(w):
    lr, t = concatenate(w.pt_spec(), w.cpt_spec())
    steps = np.arange(len(lr))
    run = Run("r", steps, lr, steps > t)
    got = whatif_from_run(run)
    assert (got.pt_steps, got.cpt_steps) == (w.pt_steps, w.cpt_steps)
    assert got.pt_lr == pytest.approx(w.pt_lr) and got.cpt_lr == pytest.approx(w.cpt_lr)
    assert got.cpt_kind == w.cpt_kind
    assert got.effective_potential == pytest.approx(w.effective_potential, abs=0.01)
    assert got.pt_spec().warmup_steps == w.pt_spec().warmup_steps
    assert got.cpt_spec().warmup_steps == w.cpt_spec().warmup_steps
    # the settings rebuild the very same schedule
    assert np.allclose(
        concatenate(got.pt_spec(), got.cpt_spec())[0], lr, rtol=0, atol=1e-6 * w.pt_lr
    )


def test_scenario_figure_zooms_to_cpt_and_marks_the_critical_point():
    ps = ParamSet.from_params(PAPER_FIG3)
    view = scenario_view(simulate(ps, PAPER_WHATIF.scenario()), max_points=1500)
    assert len(view.steps) <= 1600
    fig = scenario_figure(view, window="cpt", terms_of="pt").to_dict()
    lay = fig["layout"]
    assert lay["xaxis4"]["range"] == [
        30_000,
        50_000,
    ]  # panels: general, domain, terms, LR  # 10k PT steps before a 10k-step CPT
    assert any(a["text"].startswith("critical point 3.423") for a in lay["annotations"])
    lo, hi = lay["yaxis"]["range"]
    assert lo < view.start["pt"] < hi and hi < 4  # the step-0 blow-up does not set the range


def _with_covariance() -> ParamSet:
    """Paper Fig. 3 parameters with a made-up diagonal covariance (just to exercise the bands)."""
    from cptcore.fit import FitResult

    names = ("L0", "A", "alpha", "C1", "C2", "B", "logE", "beta")
    fits = {
        t: FitResult(t, p, True, "test", (), free_names=names, cov=np.diag([1e-5] * len(names)))
        for t, p in PAPER_FIG3.items()
    }
    return ParamSet.from_fits(fits)


def test_bands_on_the_thinned_steps_equal_the_full_bands():
    ps = _with_covariance()
    sc = PAPER_WHATIF.scenario()
    full = scenario_view(simulate(ps, sc, bands=True))
    fast = scenario_view(simulate(ps, sc, bands=False), ps=ps)
    for t in ("pt", "cpt"):
        lo, hi = fast.band[t]
        assert np.nanmax(np.abs(lo - full.band[t][0])) < 1e-12
        assert np.nanmax(np.abs(hi - full.band[t][1])) < 1e-12
        k = fast.steps > fast.transfer_step
        assert np.all(lo[k] <= fast.pred[t][k]) and np.all(fast.pred[t][k] <= hi[k])


@pytest.mark.parametrize("source", ["sample", "covariance"])
def test_view_is_simulate_then_thin_then_band(source):
    # scenario.view evaluates the terms, hidden curves and band at the kept points only; the
    # numbers are those of the full simulation thinned (scenario_view(simulate(...)))
    import os

    from cptcore.params_io import load
    from cptcore.scenario import view

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if source == "sample":
        ps = load(os.path.join(root, "sample_data", "cpt", "params.json"))
        w = replace(PAPER_WHATIF, pt_steps=4000, cpt_steps=1000, cpt_kind="wsd", replay=0.1)
    else:
        ps, w = _with_covariance(), replace(PAPER_WHATIF, pt_steps=80_000, cpt_steps=20_000)
    sc = w.scenario()
    got = view(ps, w, 1500, label="x", cpt_share=0.5)
    want = scenario_view(simulate(ps, sc, bands=False), 1500, "x", ps, sc.replay, cpt_share=0.5)
    assert np.array_equal(got.steps, want.steps) and np.array_equal(got.lr, want.lr)
    for k in ("transfer_step", "cpt_steps", "turning_length", "label", "outside", "widen"):
        assert getattr(got, k) == getattr(want, k), k
    for k in ("critical_point", "loss_potential"):
        assert getattr(got, k) == pytest.approx(getattr(want, k), rel=1e-12), k
    for t in ps.fits:
        assert got.start[t] == pytest.approx(want.start[t], rel=1e-12)
        assert got.delta[t] == pytest.approx(want.delta[t], rel=1e-9, abs=1e-12)
        close = dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got.pred[t], want.pred[t], **close)
        np.testing.assert_allclose(got.hidden_pt[t], want.hidden_pt[t], **close)
        np.testing.assert_allclose(got.hidden_cpt[t], want.hidden_cpt[t], **close)
        for name in ("power", "anneal", "shift"):
            np.testing.assert_allclose(got.terms[t][name], want.terms[t][name], **close)
        for g, w_ in zip(got.band[t], want.band[t], strict=True):
            np.testing.assert_allclose(g, w_, **close)


def test_a_general_loss_that_never_rises_is_said_so():
    # CPT goes on at the PT's constant LR on a general set without forgetting (B = 0): after the
    # transfer point the general loss only falls, so there is no turning length to wait for
    p = {"pt": replace(PAPER_FIG3["pt"], B=0.0), "cpt": PAPER_FIG3["cpt"]}
    sc = Scenario(ScheduleSpec("constant", 2e-4, 2000), ScheduleSpec("constant", 2e-4, 1000))
    view = scenario_view(simulate(ParamSet.from_params(p), sc, bands=False), 500)
    assert view.turning_length == 0
    assert turning_note(view).startswith("The general loss never rises")


def test_fit_figure_residual_axis_shows_the_fitted_rows_not_the_earlier_ones():
    """QA: with 'Fit from step 500' the residuals of the unfitted first steps (~1.5 nats) set the
    residual axis and flattened the fitted ones to a line at 0."""
    from cptcore.plots import RunFit, fit_figure

    steps = np.arange(0, 3501, 50)
    resid = np.where(steps < 500, 1.5, 0.01 * np.sin(steps / 100.0))
    observed = 3.0 - steps / 5000.0
    curve = RunFit(
        "run", "pt", False, steps, observed + resid, steps, observed, resid, fit_from=500
    )
    lo, hi = fit_figure([curve], "pt").layout.yaxis2.range
    assert -0.05 < lo < 0 < hi < 0.05, (lo, hi)


def test_fit_figure_title_lines_fit_the_chart_of_an_800_px_window():
    """QA: at 800 px the one-line title was cut ("... held-out prediction (dash"). The chart is
    ~480 px wide there; at 14 px (~7.5 px a character) a line of up to 60 characters fits."""
    import re

    from cptcore.plots import RunFit, fit_figure

    x = np.arange(0, 1001, 50)
    y = 3.0 - x / 5e3
    text = fit_figure(
        [RunFit("run", "cpt", True, x, y, x, y, 0 * y, fit_from=0)], "cpt"
    ).layout.title.text
    lines = [re.sub(r"<[^>]+>", "", ln) for ln in text.split("<br>")]
    assert lines[-1].endswith("held out (dashed)")  # the key to the line styles is whole
    assert max(len(ln) for ln in lines) <= 60, lines


def _term_names(ps: ParamSet, target: str) -> list[str]:
    from cptcore.scenario import view

    fig = scenario_figure(view(ps, PAPER_WHATIF), terms_of=target)
    return [t.name for t in fig.data if t.name and t.name.split("  ")[0] in TERM_NAMES]


TERM_NAMES = ("power law", "annealing", "distribution shift")


def test_term_legend_names_the_terms_of_the_active_law_form():
    """A tau-form fit's shift runs on tau, its annealing carries e^(a1·r): the legend said Eq. 4's
    'B·(1-(1+E·S1cpt)^-β)' whatever the form."""
    eq4 = ParamSet.from_params(PAPER_FIG3)
    tau = ParamSet.from_params(
        {t: replace(p, a1=0.2, kappa=1.0, replay_form="tau") for t, p in PAPER_FIG3.items()}
    )
    assert tau.law == "tau" and eq4.law == "eq4"
    names = _term_names(tau, "pt")
    assert len(names) == 3
    assert "distribution shift  B·(1-(1+E·τ)^-β)" in names
    assert "annealing  -C1·S2pt - C2·e^(a1·r)·S2cpt" in names
    assert not any("S1cpt)^-β" in n for n in names)
    assert "distribution shift  B·(1-(1+E·S1cpt)^-β)" in _term_names(eq4, "cpt")
    # Eq. 8 (paper) writes its replay factors per validation set
    eq8 = ParamSet.from_params({t: replace(p, a1=0.2, a2=1.0) for t, p in PAPER_FIG3.items()})
    assert any("e^(a1·(1-r))" in n for n in _term_names(eq8, "cpt"))
    assert not any("e^(a1·(1-r))" in n for n in _term_names(eq8, "pt"))
