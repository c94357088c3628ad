"""The Fit page's result tables, built from a fit without Streamlit (``ui.fitpage``)."""

import pytest

from cptcore.fit import fit_target
from tests.synthetic import PT_CONST, PT_WSD, cpt_spec, make_run
from ui.fitpage import MEANING, S1PT_MEANING, accuracy_table, parameter_table, runs_table


@pytest.fixture(scope="module")
def cpt_only_fit():
    run, _ = make_run("open-model", PT_WSD, cpt_spec("wsd", steps=2000), pt_history=False, seed=3)
    return run, fit_target([run], "cpt")


def test_a_cpt_only_fit_lists_its_fitted_s1pt_after_the_laws_parameters(cpt_only_fit):
    _, res = cpt_only_fit
    table = parameter_table(res)
    laws = [k for k in res.params.to_dict() if k != "replay_form"]
    assert list(table["parameter"]) == [*laws, "S1pt[base]"]
    s1pt = table.set_index("parameter").loc["S1pt[base]"]
    assert s1pt["value"] == res.S1pt["base"] and s1pt["meaning"] == S1PT_MEANING
    assert s1pt["± std. error"] == pytest.approx(res.stderr()["S1pt[base]"])
    assert list(table["meaning"][: len(laws)]) == [MEANING.get(k, "") for k in laws]


def test_the_accuracy_table_has_one_row_per_scored_run_with_its_role(cpt_only_fit):
    run, res = cpt_only_fit
    table = accuracy_table(tuple(res.metrics))
    assert list(table["run"]) == [run.name] and list(table["role"]) == ["fitted"]
    assert table["MAE"][0] == res.metrics[0].mae


def test_the_runs_table_says_when_a_runs_pt_history_is_unknown(cpt_only_fit):
    run, _ = cpt_only_fit
    full = make_run("with-history", PT_CONST, cpt_spec("constant"), seed=1)
    table = runs_table({r.name: r for r in (full, run)}).set_index("run")
    assert table.loc["with-history", "PT history"] == "known"
    assert table.loc["open-model", "PT history"] == "unknown (S1pt fitted)"
    assert table.loc["with-history", "CPT starts after"] == full.transfer_step
