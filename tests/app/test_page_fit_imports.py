"""Fit page, importing logs: where CPT starts is guessed from the LR (QA pass 2, P2-1)."""

from pathlib import Path

import numpy as np
import pandas as pd
from app_helpers import no_exception, open_page

from tests.test_import_cpt_start import SAMPLE, tensorboard_csvs
from ui.state import RUNS

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
