"""The plan report: a self-contained HTML page (plotly.js inlined once, no external script), a
Markdown summary and the Pareto frontier as CSV."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest

from cptcore.fit import FitResult
from cptcore.params_io import ParamSet
from cptcore.plan import Goal, SearchSpace, default_scenario
from cptcore.plan.study import build
from cptcore.plots_plan import TITLES, figures
from cptcore.presets import PAPER_FIG3
from cptcore.report import (
    frontier_csv,
    html_report,
    markdown_summary,
    param_table,
    provenance_rows,
    write_html,
)


@pytest.fixture(scope="module")
def rep():
    # a parameter set with a covariance on the general set, so the report shows standard errors
    fits = {
        "pt": FitResult(
            "pt",
            PAPER_FIG3["pt"],
            True,
            "fitted",
            (),
            free_names=("L0", "B"),
            cov=np.diag([1e-4, 4e-4]),
        ),
        "cpt": FitResult("cpt", PAPER_FIG3["cpt"], True, "fitted", ()),
    }
    ps = ParamSet.from_fits(fits, provenance={"runs": ["a.csv", "b.csv"], "tool": "test"})
    space = SearchSpace(steps_min=2_000, steps_max=10_000)
    return build(ps, Goal(0.6), space, default_scenario(), "test fit")


def test_html_report_is_self_contained_and_has_every_figure(rep, tmp_path):
    path = tmp_path / "plan.html"
    write_html(rep, str(path))
    text = path.read_text(encoding="utf-8")
    # plotly.js inlined exactly once, one newPlot per figure, each in its own div
    names = list(figures(rep))
    assert names == ["curves", "map_steps", "pareto", "lambda"]  # Eq. 4: no (flat) replay map
    assert text.count("Plotly.newPlot") == len(names)
    for name in names:
        assert f'id="plan-{name}"' in text and TITLES[name] in text
    assert len(re.findall(r"plotly\.js v\d", text)) == 1
    # offline: no external script, stylesheet or image; no CDN reference in any src/href
    assert not re.search(r"<script[^>]*\bsrc=", text, re.I)
    assert not re.search(r"<link[^>]*\bhref=", text, re.I)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.S | re.I)
    assert not re.search(r"\b(src|href)=[\"']?(https?:)?//", markup, re.I)
    assert "cdn" not in markup.lower()
    # the decision, provenance and uncertainty are in words
    assert rep.result.summary.split(":")[0] in text.replace("&#x27;", "'")
    assert "a.csv, b.csv" in text and "± 0.01" in text and "Assumptions" in text


def test_markdown_summary_states_recommendation_and_parameters(rep):
    md = markdown_summary(rep)
    assert md.startswith("# CPT plan")
    assert "## Recommendation" in md and rep.result.summary in md
    assert "| general (pt) | B | 0.366 | 0.02 |" in md
    assert "## Assumptions" in md


def test_frontier_csv_round_trips_non_dominated_points(rep):
    df = pd.read_csv(io.StringIO(frontier_csv(rep)))
    assert list(df.columns)[:4] == ["family", "peak_lr", "replay", "steps"]
    assert len(df) == int(rep.frontier["pareto"].sum()) >= 3
    # sorted by general loss, the domain loss strictly falls along a frontier
    assert np.all(np.diff(df["loss_pt"]) >= 0) and np.all(np.diff(df["loss_cpt"]) < 0)


def test_param_table_has_stderr_only_where_the_fit_has_covariance(rep):
    t = param_table(rep.ps)
    g = t[t["set"] == "general (pt)"].set_index("parameter")["stderr"]
    assert g["L0"] == pytest.approx(0.01) and np.isnan(g["A"])
    assert t[t["set"] == "domain (cpt)"]["stderr"].isna().all()


def test_replay_map_is_drawn_when_the_law_models_replay():
    from dataclasses import replace as dc_replace

    p = {
        "pt": dc_replace(PAPER_FIG3["pt"], a1=0.055, a2=3.2),
        "cpt": dc_replace(PAPER_FIG3["cpt"], a1=0.037, a2=1.5),
    }
    r = build(
        ParamSet.from_params(p),
        Goal(0.5),
        SearchSpace(steps_max=5_000),
        default_scenario(),
        "eq8",
        lambda_curves=False,
    )
    assert "map_replay" in figures(r)
    xs, lrs, Z = r.map_replay
    assert np.ptp(Z[0]) > 0  # replay changes the objective


def test_infeasible_plan_still_reports(rep):
    r = build(
        rep.ps,
        Goal(mode="max_general_rise", max_general_rise=-1.0),
        rep.space,
        default_scenario(),
        "test fit",
        lambda_curves=False,
    )
    assert not r.result.feasible
    html = html_report(r)
    assert "Infeasible" in html and "Plotly.newPlot" in html
    assert "## No feasible plan" in markdown_summary(r)


def test_report_leaves_out_the_maps_over_peak_lr_when_the_search_holds_it_and_says_so(rep):
    held = build(
        rep.ps,
        Goal(0.6),
        SearchSpace(lr_min=1e-4, lr_max=1e-4, steps_min=2_000, steps_max=10_000),
        default_scenario(),
        "test fit",
        lambda_curves=False,
    )
    assert list(figures(held)) == ["curves", "pareto", "lambda"]
    text = html_report(held)
    assert TITLES["map_steps"] not in text and TITLES["map_replay"] not in text
    assert text.count("Plotly.newPlot") == 3
    assert "The maps over peak LR are left out: the search holds the peak LR at 1e-4" in text
    assert "maps over peak LR are left out" not in html_report(rep)  # a range: drawn, not said


def test_report_gives_the_model_selection_as_one_readable_line():
    sel = {
        "law": "tau",
        "lambda": 0.98,
        "cross_validated": True,
        "message": "tau with lambda = 0.98 chosen by grouped cross-validation",
        "score": "mean held-out CPT-phase MAE (nats), grouped cross-validation",
        "folds": [["a"], ["b"]],
        "candidates": [
            {"law": "eq4", "lambda": 0.995, "score": 0.4217},
            {"law": "tau", "lambda": 0.98, "score": 0.0151},
        ],
    }
    ps = ParamSet.from_params(PAPER_FIG3, provenance={"model_selection": sel})
    r = build(ps, Goal(0.6), SearchSpace(steps_max=5_000), default_scenario(), "x",
              lambda_curves=False)  # fmt: skip
    rows = dict(provenance_rows(r))
    line = rows["Model selection"]
    assert "tau" in line and "0.98" in line and "0.0151" in line and "{" not in line
    text = html_report(r) + markdown_summary(r)
    assert "candidates" not in text.replace("from 2 candidates", "") and "&#x27;law&#x27;" not in text
