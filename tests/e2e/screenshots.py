"""Take full-page screenshots of every page at 1400 px wide into docs/screenshots/ (and test-artifacts/).

python tests/e2e/screenshots.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    full_screenshot,
    goto,
    streamlit_server,
    wait_idle,
)  # noqa: E402

PAGES = {
    "home": "",
    "explore": "explore",
    "fit": "fit",
    "learn": "learn",
    "plan": "plan",
    "track": "track",
}


def main() -> None:
    from playwright.sync_api import sync_playwright

    out = ROOT / "test-artifacts"
    docs = ROOT / "docs" / "screenshots"
    out.mkdir(exist_ok=True)
    docs.mkdir(parents=True, exist_ok=True)
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for name, path in PAGES.items():
            goto(page, f"{url}/{path}", wait_for=None if name == "fit" else ".js-plotly-plot")
            if name == "fit" and len(sys.argv) < 2:
                btn = page.get_by_role("button", name="bundled sample runs")
                if btn.count():
                    btn.first.click()
                    wait_idle(page)
                    page.get_by_role("button", name="Fit", exact=True).click()
                    page.wait_for_selector("text=4 · Result", timeout=180_000)
                    wait_idle(page)
            full_screenshot(page, out / f"{name}.png")
            shutil.copy(out / f"{name}.png", docs / f"{name}.png")
            print("saved", docs / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main()
