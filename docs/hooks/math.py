"""MkDocs hook: typeset the pages' TeX as MathML while the site is built.

`pymdownx.arithmatex` (generic mode) finds the math, `$...$` and `$$...$$`, and wraps it
as `<span class="arithmatex">\\(...\\)</span>` or `<div class="arithmatex">\\[...\\]</div>`.
This hook replaces each of those with the MathML that `latex2mathml` makes of it, so the
formulas are part of the HTML: browsers draw MathML themselves, with no script and no
network (the site works offline and from `file://`). A formula latex2mathml cannot read
stops the build with the page and the formula, rather than showing raw TeX.
"""

from __future__ import annotations

import html
import re
from typing import Any

from latex2mathml.converter import convert

_MATH = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">'
    r"(?:\\\((?P<inline>.*?)\\\)|\\\[(?P<block>.*?)\\\])"
    r"</(?P=tag)>",
    re.S,
)


def to_mathml(tex: str, display: bool) -> str:
    """The MathML of one formula (`display` for a formula on its own line)."""
    math = convert(tex.strip(), display="block" if display else "inline")
    unknown = re.search(r">(\\[A-Za-z]+)<", math)  # latex2mathml keeps what it cannot read
    if unknown:
        raise ValueError(f"unknown command {unknown.group(1)}")
    return math


def typeset(page_html: str, where: str = "page") -> str:
    """Every arithmatex formula of a page's HTML replaced by its MathML."""

    def replace(m: re.Match[str]) -> str:
        display = m.group("block") is not None
        tex = html.unescape(m.group("block") if display else m.group("inline"))
        try:
            math = to_mathml(tex, display)
        except Exception as e:  # latex2mathml raises several kinds; name the formula
            raise ValueError(f"{where}: cannot typeset {tex!r}: {e}") from e
        return f'<div class="math">{math}</div>' if display else math

    return _MATH.sub(replace, page_html)


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    """MkDocs calls this with each page's HTML body."""
    return typeset(html, page.file.src_path)
