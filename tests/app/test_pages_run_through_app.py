"""Every page hands a bare run to app.py before it draws anything (ui.run_through_app).

Streamlit runs a ``pages/*.py`` file bare, without app.py's navigation and page config, while no
script of the server process has called ``st.navigation`` (a page link opened first after a server
start). A page that draws before calling ``run_through_app`` shows the legacy navigation and layout
(tests/e2e/test_first_visit_browser.py sees it in a browser, one fresh server per page).
"""

import ast

from app_helpers import ROOT

PAGES = sorted((ROOT / "pages").glob("*.py"))


def _is_run_through_app(stmt: ast.stmt) -> bool:
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    return isinstance(call, ast.Call) and getattr(call.func, "id", None) == "run_through_app"


def _calls_nothing(stmt: ast.stmt) -> bool:
    """An import, the docstring or a constant (no call: nothing drawn, nothing computed)."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(stmt, (ast.Expr, ast.Assign, ast.AnnAssign)):
        return stmt.value is None or not any(isinstance(n, ast.Call) for n in ast.walk(stmt.value))
    return False


def test_every_page_calls_run_through_app_before_any_other_statement():
    assert len(PAGES) >= 5
    late = []
    for path in PAGES:
        body = ast.parse(path.read_text()).body
        first = next((i for i, s in enumerate(body) if not _calls_nothing(s)), len(body))
        if first == len(body) or not _is_run_through_app(body[first]):
            late.append(path.name)
    assert not late, f"pages that draw before ui.run_through_app(): {late}"
