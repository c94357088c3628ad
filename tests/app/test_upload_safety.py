"""Uploads that used to break the app or leak out of the session (issue 12): a params.json the Plan
page could not load (a traceback), parameters that predict negative losses, file names that render as
Markdown (images, links), and parsed uploads kept in a cache shared by every session."""

from pathlib import Path

import pytest
from app_helpers import no_exception, open_page, synthetic_csv

from ui import upload
from ui.state import UPLOAD_CACHE

BAD = Path(__file__).resolve().parents[1] / "bad_inputs"
PLAN = "pages/plan.py"
CSV = "text/csv"


def _plan_upload(name: str):
    at = open_page(PLAN)
    at.selectbox(key="plan_preset").set_value("upload").run()
    at.file_uploader(key="plan_upload").set_value(
        (name, (BAD / name).read_bytes(), "application/json")
    )
    at.run()
    no_exception(at)
    return at


@pytest.mark.parametrize(
    "name, expected",
    [
        ("params_fit_from_infinity.json", "must be a whole number of steps"),
        ("params_predict_negative_loss.json", "implausible general loss"),
    ],
)
def test_plan_page_shows_a_broken_params_upload_as_one_line(name, expected):
    at = _plan_upload(name)
    (err,) = at.error
    assert "\n" not in err.value and expected in err.value
    assert err.value.replace("\\", "").startswith(name)


def test_upload_names_are_shown_as_text_not_markdown():
    at = open_page("pages/fit.py")
    hostile = "![x](https://example.com/x.png).csv"
    at.file_uploader(key="upload").set_value([(hostile, b"", CSV)]).run()
    no_exception(at)
    (err,) = at.error
    assert err.value.startswith("\\!\\[x\\](https\\://example.com/x.png).csv:")  # no image
    assert "the file is empty" in err.value


def test_a_log_with_a_hostile_name_is_offered_for_mapping_under_its_literal_name():
    table = b"iteration,learning_rate,val_loss\n0,0,3.2\n10,0.001,3.1\n20,0.001,3.0\n"
    at = open_page("pages/fit.py")
    at.file_uploader(key="upload").set_value(
        [("<img src=x onerror=alert(1)>.csv", table, CSV)]
    ).run()
    no_exception(at)
    (form,) = [m.value for m in at.markdown if "is not a canonical run CSV" in m.value]
    assert form.startswith("**\\<img src=x onerror=alert(1)\\>.csv**")


def test_parsed_uploads_live_in_the_session_and_are_bounded(monkeypatch):
    """Not in st.cache_data (shared by every session, kept after they end): in this session's state,
    at most MAX_CACHE_ENTRIES of them."""
    monkeypatch.setattr(upload, "MAX_CACHE_ENTRIES", 2)
    at = open_page("pages/fit.py")
    files = [(f"run{i}.csv", synthetic_csv(i, "wsd", f"run{i}"), CSV) for i in range(3)]
    at.file_uploader(key="upload").set_value(files).run()
    no_exception(at)
    assert set(at.multiselect(key="fit_on").options) == {"run0", "run1", "run2"}
    cache = at.session_state[UPLOAD_CACHE]
    assert len(cache) == 2 and all(k.startswith("run:") for k in cache)
    monkeypatch.setattr(upload, "MAX_CACHE_BYTES", 1)  # a byte budget drops all but the newest
    at.file_uploader(key="upload").set_value(
        [*files, ("run3.csv", synthetic_csv(3, "wsd", "run3"), CSV)]
    )
    at.run()
    no_exception(at)
    assert len(at.session_state[UPLOAD_CACHE]) == 1
