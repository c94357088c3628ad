"""Fixtures of the AppTest suites (helpers live in app_helpers.py, shared with tests/e2e)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_helpers import synthetic_csv  # noqa: E402


@pytest.fixture(scope="session")
def good_csv() -> bytes:
    """A canonical run generated from known Eq. 4 parameters (cptcore.schedules + cptcore.law)."""
    return synthetic_csv(seed=1, cpt_kind="wsd")
