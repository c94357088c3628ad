"""What a user set stays set across the sidebar navigation, in a real browser (Debian's chromium
through Playwright), and no page logs Streamlit's warning about a widget given both a default and
a Session State value (QA pass 2: P1-1, P2-4 and the Fit items of P3)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import CHROMIUM, CHROMIUM_ARGS, ROOT, streamlit_server, wait_idle  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

LONG = 120_000  # ms: the machine is shared
EXCEPTION = '[data-testid="stException"]'
TITLES = {  # each page's title, to know the switch is done
    "Home": "Continual pre-training scaling law",
    "Fit": "Fit the law to your runs",
    "Plan": "Plan a continual pre-training run",
    "Track": "Track a running job",
    "Learn": "Learn how continual pre-training behaves",
}


def _go(page, name: str) -> None:
    """Open page ``name`` from the sidebar, as a user does, and wait until it has run."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name).click()
    page.wait_for_function(
        "t => [...document.querySelectorAll('h1')].some(h => h.textContent.includes(t))",
        arg=TITLES[name],
        timeout=LONG,
    )
    wait_idle(page, timeout=LONG)


def test_settings_survive_the_sidebar_navigation_and_no_page_warns_about_session_state():
    (ROOT / "test-artifacts").mkdir(exist_ok=True)  # the server's log goes there
    with streamlit_server() as url, sync_api.sync_playwright() as p:
        log = ROOT / "test-artifacts" / f"streamlit-{url.rsplit(':', 1)[1]}.log"
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            wait_idle(page, timeout=LONG)

            # Fit: the samples button sets 'Fit from step' to the sample fit's 500
            _go(page, "Fit")
            page.get_by_role("button", name="bundled sample runs").click()
            page.get_by_role("spinbutton", name="Fit from step").wait_for(timeout=LONG)
            wait_idle(page, timeout=LONG)
            assert page.get_by_role("spinbutton", name="Fit from step").input_value() == "500"
            _go(page, "Home")
            _go(page, "Fit")
            assert page.get_by_role("spinbutton", name="Fit from step").input_value() == "500"

            # Plan -> Home -> Plan: the same plan, no error (every control fell to its minimum)
            _go(page, "Plan")
            page.wait_for_selector("text=continue pre-training with", timeout=LONG)
            wait_idle(page, timeout=LONG)
            first = page.locator('[data-testid="stAlertContentSuccess"]').first.inner_text()
            _go(page, "Home")
            _go(page, "Plan")
            page.wait_for_selector("text=continue pre-training with", timeout=LONG)
            again = page.locator('[data-testid="stAlertContentSuccess"]').first.inner_text()
            assert again == first
            assert page.locator('[data-testid="stAlertContentError"]').count() == 0

            # Track's target and Learn's step controls
            _go(page, "Track")
            target = page.get_by_role("spinbutton", name="Domain loss to reach (nats)")
            target.fill("1.6")
            target.press("Enter")
            wait_idle(page, timeout=LONG)
            _go(page, "Learn")
            _go(page, "Track")
            assert page.get_by_role(
                "spinbutton", name="Domain loss to reach (nats)"
            ).input_value() == "1.600"  # fmt: skip
            assert page.locator(EXCEPTION).count() == 0
        finally:
            browser.close()
        text = log.read_text(encoding="utf-8", errors="replace")
        assert "created with a default value" not in text, text[-2000:]
