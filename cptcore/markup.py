"""User-given text (file names, run names, cell values, messages that quote them) shown inside
Markdown: the plan's Markdown summary and every Streamlit element that renders Markdown
(``st.markdown``, ``st.error``, ``st.warning``, ``st.caption``, ...); and inside plotly's trace
names, which accept a little HTML (``<a href>``, ``<b>``, ``<br>``): ``plotly_text``.

A run called ``<img src=x onerror=...>`` or ``![x](https://example.com/t.png)`` must show as those
characters, not as an image or a link, and a ``|`` must not split a table cell. HTML output is
escaped with ``html.escape`` instead (``cptcore.report.html_report``).
"""

from __future__ import annotations

import html
import re

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the characters that start
# inline syntax (emphasis, code, links and images, raw HTML, table cells, entities) in CommonMark,
# GitHub Markdown and Streamlit (``$`` maths, ``~`` strike-through, ``:red[...]`` directives).
# Parentheses need no escape: with every '[' escaped they cannot form a link.
_INLINE = re.compile(r"([\\`*_\[\]<>#!|$~&@])")
_COLON = re.compile(r":(?=\S)")  # ':material/icon:', ':red[...]' and 'https://' autolinks
_WWW = re.compile(r"(?i)\b(www)\.")  # 'www.example.com' autolinks
# at the start: a list item ('- x', '+ x', '1. x', '2) x') or a rule ('---'); '0.36' is no list
_BLOCK_START = re.compile(r"^(\s*)(?:(-(?=[\s-]|$)|\+(?=\s|$))|(\d{1,9})([.)])(?=\s|$))")


def escape_markdown(text: object) -> str:
    """``text`` as one line of literal Markdown: renders as exactly these characters."""
    s = " ".join(str(text).splitlines())  # a newline would end a table row or start a block
    s = _INLINE.sub(r"\\\1", s)
    s = _COLON.sub(r"\\:", s)
    s = _WWW.sub(r"\1\\.", s)
    return _BLOCK_START.sub(
        lambda m: (
            m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4))
        ),
        s,
    )


def plotly_text(text: object) -> str:
    """``text`` for a plotly trace name or hover label: shown literally (plotly decodes the
    entities), so a run named ``<a href="...">x</a>`` is no link in a legend."""
    return html.escape(str(text), quote=False)
