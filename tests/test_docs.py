"""Every ```python block of README.md and docs/**/*.md runs, and runs correctly.

The blocks of one page run in order in one fresh namespace (so a page can build on its
earlier blocks), with the current directory a temporary folder (so files a page writes go
nowhere). One test per page; a failure names the page and the block's first line.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*$")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown text as (first line number, dedented code)."""
    blocks: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang = m.group("indent"), m.group("lang")
        start = i + 1
        j = start
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        if j == len(lines):
            raise ValueError(f"unclosed code fence at line {i + 1}")
        if lang in ("python", "py"):
            body = "\n".join(
                line[len(indent) :] if line.startswith(indent) else line for line in lines[start:j]
            )
            blocks.append((start + 1, textwrap.dedent(body)))
        i = j + 1
    return blocks


def test_fence_parser_finds_blocks_in_order_and_skips_others() -> None:
    text = "x\n```python\na = 1\n```\n```text\nnot code\n```\n    ```python\n    b = a\n    ```\n"
    assert python_blocks(text) == [(3, "a = 1"), (9, "b = a")]


PAGES_WITH_CODE = [p for p in PAGES if p.exists() and python_blocks(p.read_text("utf-8"))]


@pytest.mark.parametrize(
    "page", PAGES_WITH_CODE, ids=[str(p.relative_to(ROOT)) for p in PAGES_WITH_CODE]
)
def test_page_code_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    rel = page.relative_to(ROOT)
    try:
        for line, code in python_blocks(page.read_text("utf-8")):
            compiled = compile(code, f"{rel}:{line}", "exec")
            try:
                exec(compiled, namespace)  # the project's own docs, never user input
            except Exception as e:
                first = code.strip().splitlines()[0] if code.strip() else ""
                raise AssertionError(
                    f"{rel}, block at line {line} ({first!r}) failed: {e!r}"
                ) from e
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
