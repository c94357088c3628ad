"""Fit page, importing logs: where CPT starts is guessed from the LR (QA pass 2, P2-1)."""

from pathlib import Path

import numpy as np
import pandas as pd
from app_helpers import no_exception, open_page, synthetic_csv

from tests.test_import_cpt_start import SAMPLE, tensorboard_csvs
from ui.state import LAST_FIT, RUNS

CSV = "text/csv"


def _upload_tb(at, paths):
    files = [(p.name, p.read_bytes(), CSV) for p in paths]
    at.file_uploader(key="upload").set_value(files).run()
    no_exception(at)
    key = [s.key for s in at.selectbox if s.key and s.key.endswith("_lr")][0][: -len("_lr")]
    return key


def test_tensorboard_csvs_of_a_pt_then_cpt_run_import_with_the_guessed_cpt_start(tmp_path):
    """Three one-tag TensorBoard CSVs of a run with PT to step 2,500 and then CPT, imported with
    the form's defaults, used to become a CPT-only run starting at 0."""
    at = open_page("pages/fit.py")
    key = _upload_tb(at, map(Path, tensorboard_csvs(tmp_path)))
    assert not at.checkbox(key=f"{key}_cptonly").value
    assert at.number_input(key=f"{key}_start").value == 2500
    hints = [c.value for c in at.caption if "seems to start" in c.value]
    assert len(hints) == 1 and hints[0].startswith(
        "CPT seems to start at step 2,500: the LR re-warms up there."
    )
    at.button(key=f"{key}_add").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    run = at.session_state[RUNS]["myrun"]
    assert run.pt_history_known and run.transfer_step == 2500
    table = at.dataframe[0].value
    row = table[table["run"] == "myrun"].iloc[0]
    assert row["CPT starts after"] == 2500 and row["PT history"] == "known"


def test_a_cpt_only_log_stays_cpt_only_without_a_hint(tmp_path):
    d = pd.read_csv(SAMPLE)
    cpt = d[d["step"] >= 2500].assign(step=lambda x: x["step"] - 2500)
    cpt.to_csv(tmp_path / "cpt.csv", index=False)
    at = open_page("pages/fit.py")
    key = _upload_tb(at, map(Path, tensorboard_csvs(tmp_path, tmp_path / "cpt.csv")))
    assert at.checkbox(key=f"{key}_cptonly").value
    assert not [c for c in at.caption if "seems to start" in c.value]
    at.button(key=f"{key}_add").click().run()
    run = at.session_state[RUNS]["myrun"]
    assert not run.pt_history_known and np.all(run.is_cpt)


SIX = [  # two runs split.json fits, three it holds out and one of its 'extra' runs (QA2 P2-3)
    "ptconst_cpt-const_lr1e-3_replay0.csv",
    "ptwsd_cpt-wsd_lr1e-3_replay0.csv",
    "ptconst_cpt-cos_lr1e-3_replay0.csv",
    "ptconst_cpt-wsd_lr1e-3_replay0.25.csv",
    "ptwsd_cpt-wsd_lr3e-4_replay0.csv",
    "ptconst_cpt-wsd_lr1e-3_replay0.05.csv",
]


def _lists(at) -> tuple[list[str], list[str]]:
    return at.multiselect(key="fit_on").value, at.multiselect(key="hold_out").value


def test_uploaded_sample_runs_each_land_in_one_list_and_the_split_is_said():
    folder = Path(SAMPLE).parent
    files = [(n, (folder / n).read_bytes(), CSV) for n in SIX]
    at = open_page("pages/fit.py")
    at.file_uploader(key="upload").set_value(files).run()
    no_exception(at)
    fit_on, hold_out = _lists(at)
    assert sorted(fit_on + hold_out) == sorted(n[:-4] for n in SIX)  # each run in one list
    assert set(fit_on) == {"ptconst_cpt-const_lr1e-3_replay0", "ptwsd_cpt-wsd_lr1e-3_replay0"}
    assert "ptconst_cpt-wsd_lr1e-3_replay0.05" in hold_out  # split.json fits it in neither
    (note,) = [c.value for c in at.caption if "split.json" in c.value]
    assert "2 fitted, 4 held out" in note and "'Fit on' and 'Hold out'" in note
    # the user's own choice is kept, and the note goes: it is no longer the bundled split
    at.multiselect(key="hold_out").unselect("ptconst_cpt-wsd_lr1e-3_replay0.05").run()
    at.multiselect(key="fit_on").select("ptconst_cpt-wsd_lr1e-3_replay0.05").run()
    fit_on, hold_out = _lists(at)
    assert "ptconst_cpt-wsd_lr1e-3_replay0.05" in fit_on and len(fit_on + hold_out) == 6
    assert not [c for c in at.caption if "split.json" in c.value]


def test_the_samples_button_says_the_split_and_runs_loaded_again_after_remove_all_get_a_list():
    folder = Path(SAMPLE).parent
    files = [(n, (folder / n).read_bytes(), CSV) for n in SIX[:2]]
    at = open_page("pages/fit.py")
    at.button(key="use_samples").click().run()
    fit_on, hold_out = _lists(at)
    left = len(at.session_state[RUNS]) - len(fit_on) - len(hold_out)
    (note,) = [c.value for c in at.caption if "split.json" in c.value]
    assert f"{len(fit_on)} fitted, {len(hold_out)} held out, {left} in neither list" in note
    at.button(key="clear_runs").click().run()
    at.file_uploader(key="upload").set_value(files).run()
    no_exception(at)
    fit_on, hold_out = _lists(at)
    assert sorted(fit_on + hold_out) == sorted(n[:-4] for n in SIX[:2])


def test_a_fit_logs_no_streamlit_warnings(capfd):
    """The fit's worker processes (spawn) used to run app.py again in bare mode: the server log
    filled with "No runtime found" and "missing ScriptRunContext" warnings (QA2, P3). Captured at
    the file descriptors, so the worker processes' output counts too."""
    at = open_page("pages/fit.py")
    files = [(f"{k}.csv", synthetic_csv(s, k), CSV) for s, k in enumerate(("wsd", "cosine", "constant"), 1)]
    at.file_uploader(key="upload").set_value(files).run()
    at.selectbox(key="law").set_value("eq4").run()
    at.checkbox(key="fit_lambda_auto").check().run()  # λ by cross-validation: worker processes
    capfd.readouterr()
    at.button(key="fit_button").click().run(timeout=300)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[LAST_FIT].selection.candidates  # the cross-validation did run
    log = "".join(capfd.readouterr())
    assert "No runtime found" not in log and "missing ScriptRunContext" not in log, log[-2000:]
