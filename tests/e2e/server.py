"""Start ``streamlit run app.py`` on a free local port and open Debian's chromium with Playwright.

Used by ``test_browser.py`` and by ``screenshots.py`` (which refreshes ``docs/screenshots``).
Never runs ``playwright install``: the browser is ``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(timeout: float = 60.0):
    """Yield the base URL of a fresh ``streamlit run app.py``; stop it afterwards."""
    port = free_port()
    log = (
        open(ROOT / "test-artifacts" / f"streamlit-{port}.log", "w")
        if (ROOT / "test-artifacts").is_dir()
        else subprocess.DEVNULL
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not start on port {port}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# the app is idle: no status widget, and Streamlit's own script state is neither running nor asked to
IDLE = """() => !document.querySelector('[data-testid="stStatusWidget"]') && !['running',
  'rerunRequested'].includes(document.querySelector('[data-testid="stApp"]')
  ?.getAttribute('data-test-script-state'))"""


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the page has a title and the app has stopped running (no status widget)."""
    page.wait_for_selector("h1", timeout=timeout)
    for _ in range(2):  # twice: under load a rerun can start after the first quiet moment
        page.wait_for_timeout(600)
        page.wait_for_function(IDLE, timeout=timeout)


@contextlib.contextmanager
def open_at(
    browser,
    url: str,
    width: int = 1400,
    height: int = 900,
    wait_for: str | None = None,
    timeout: float = 60_000,
    before=None,
):
    """A page of ``browser`` in a context of its own, ``width`` x ``height`` px, at ``url`` once
    the app is idle and ``wait_for`` (a selector) is on the page; the context is closed afterwards.
    ``before(page)`` runs before the page loads (listeners for requests or websocket frames)."""
    ctx = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = ctx.new_page()
        if before is not None:
            before(page)
        yield goto(page, url, wait_for, timeout)
    finally:
        ctx.close()


def goto(page, url: str, wait_for: str | None = None, timeout: float = 60_000):
    """``page`` at ``url`` once the app is idle and ``wait_for`` (a selector) is there."""
    page.goto(url)
    wait_idle(page, timeout=timeout)
    if wait_for:
        page.wait_for_selector(wait_for, timeout=timeout)
    return page


def full_screenshot(page, path, width: int = 1400) -> None:
    """Screenshot the whole app: Streamlit scrolls inside its main container, so grow the viewport
    to the content height first."""
    h = page.evaluate(
        '() => Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"], '
        '[data-testid="stMainBlockContainer"]\')].map(e => e.scrollHeight), 900)'
    )
    page.set_viewport_size({"width": width, "height": int(h) + 40})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": 900})
