"""User-given names shown in Markdown or HTML stay text (issue 12): a run called
``<img src=x onerror=alert(1)>`` or ``![x](https://example.com/x.png)`` is shown as those characters
in the plan's Markdown summary, its HTML report and the dashboard, and a ``|`` in a name does not
split a Markdown table cell."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cptcore.fit import FitResult, RunMetrics
from cptcore.markup import escape_markdown
from cptcore.params_io import ParamSet
from cptcore.plan import Goal, SearchSpace, default_scenario
from cptcore.plan.study import build
from cptcore.plots import RunFit, fit_figure, runs_figure
from cptcore.presets import PAPER_FIG3
from cptcore.report import html_report, markdown_summary
from cptcore.runs import Run

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "![x](https://example.com/x.png)",
    "[click](javascript:alert(1))",
    "a|b|c",
    "run\nwith newline",
    "www.example.com",
    ":red[alarm] $x^2$",
]
# characters that start Markdown syntax and must never appear unescaped
SPECIAL = set("\\`*_[]<>#!|$~&@")


def _unescape(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md)


def _unescaped_specials(md: str) -> set[str]:
    """Special characters not preceded by an odd number of backslashes."""
    return {
        c for i, c in enumerate(md) if c in SPECIAL - {"\\"} and _backslashes_before(md, i) % 2 == 0
    }


def _backslashes_before(s: str, i: int) -> int:
    n = 0
    while i - n - 1 >= 0 and s[i - n - 1] == "\\":
        n += 1
    return n


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=40))
def test_escaped_markdown_reads_back_as_the_same_text_on_one_line(text):
    md = escape_markdown(text)
    assert "\n" not in md and "\r" not in md
    assert _unescape(md) == " ".join(text.splitlines())  # CommonMark drops each escaping backslash
    assert not _unescaped_specials(md), md


@pytest.mark.parametrize(
    "text, escaped",
    [
        ("1. x.csv", "1\\. x.csv"),  # no ordered list
        ("- x", "\\- x"),  # no bullet list
        ("https://example.com", "https\\://example.com"),  # no autolink
        ("www.example.com", "www\\.example.com"),
        ("broken.csv: column 'lr', row 4", "broken.csv: column 'lr', row 4"),  # plain text stays
        ("general (pt) 0.366", "general (pt) 0.366"),
    ],
)
def test_markdown_escaping_of_line_starts_and_links(text, escaped):
    assert escape_markdown(text) == escaped


@pytest.fixture(scope="module")
def hostile_rep():
    metrics = tuple(RunMetrics(n, 5, 0.9, 0.01, 0.02) for n in HOSTILE)
    fits = {
        "pt": FitResult("pt", PAPER_FIG3["pt"], True, f"worst run {HOSTILE[0]}", metrics),
        "cpt": FitResult("cpt", PAPER_FIG3["cpt"], True, "fitted", ()),
    }
    ps = ParamSet.from_fits(fits, provenance={"runs": HOSTILE, "tool": "a|b"})
    space = SearchSpace(steps_min=2_000, steps_max=10_000)
    return build(ps, Goal(0.6), space, default_scenario(), "<b>params</b>|x.json")


def test_plan_markdown_summary_shows_names_as_text_and_keeps_tables_intact(hostile_rep):
    md = markdown_summary(hostile_rep)
    assert "\\<img src=x onerror=alert(1)\\>" in md and "\\!\\[x\\]" in md and "a\\|b\\|c" in md
    assert re.findall(r"(?<!\\)[<\[]", md) == []  # no raw HTML, no link or image anywhere
    for table in re.findall(r"(?:^\|.*\|$\n?)+", md, flags=re.M):
        rows = table.strip().splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", r)) for r in rows}
        assert len(widths) == 1, rows  # every row has as many cells as the header


def test_html_report_escapes_run_and_file_names(hostile_rep):
    html = html_report(hostile_rep)
    body = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S | re.I)
    assert "<img src=x" not in body and "<b>params</b>" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "&lt;b&gt;params&lt;/b&gt;" in body
    assert np.isfinite(hostile_rep.result.objective)


def test_chart_legends_show_run_names_as_text():
    """plotly renders <a href>, <b>, <br> in trace names: a run name must not become a link."""
    name = '<a href="https://example.com">x</a>'
    steps = np.array([0, 10, 20])
    run = Run(
        name, steps, np.array([0, 1e-3, 1e-3]), np.zeros(3, bool), 0.0, np.array([np.nan, 3.1, 3.0])
    )
    curve = RunFit(
        name,
        "pt",
        False,
        steps,
        np.array([4, 3.1, 3.0]),
        steps[1:],
        np.array([3.1, 3.0]),
        np.zeros(2),
    )
    names = [t.name for fig in (runs_figure([run]), fit_figure([curve], "pt")) for t in fig.data]
    assert names and all("<a" not in n and "&lt;a href=" in n for n in names), names
