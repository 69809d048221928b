"""Every ```python block of README.md and docs/**/*.md runs, and runs correctly.

The blocks of one page run in order in one fresh namespace (so a page can build on its
earlier blocks), with the current directory a temporary folder (so files a page writes go
nowhere). One test per page; a failure names the page and the block's first line.

A block whose first line is `# needs: torch` runs only where PyTorch is installed (the
page's test is skipped from there on, saying so; CI installs torch and fails instead). On
the pages of `SHOWN_OUTPUT`, a ```text block right after a ```python block is what that
block prints, exactly.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import textwrap
from pathlib import Path

import pytest
import torch_extra

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


def shown_outputs(text: str) -> dict[int, str]:
    """For each ```python block followed (after blank lines) by a ```text block: the
    python block's first line number and the text block's content."""
    shown: dict[int, str] = {}
    for m in re.finditer(r"^```python\n(.*?)^```\n\s*^```text\n(.*?)^```$", text, re.M | re.S):
        shown[text.count("\n", 0, m.start()) + 2] = m.group(2)
    return shown


#: pages whose ```text blocks are checked against what the block before prints
SHOWN_OUTPUT = {"docs/howto/exact-gradients.md"}


def test_shown_outputs_pair_each_text_block_with_the_python_block_before() -> None:
    text = "# t\n```python\nprint(1)\n```\n\n```text\n1\n```\n```python\nx = 2\n```\n"
    assert shown_outputs(text) == {3: "1\n"}
    assert [line for line, _ in python_blocks(text)] == [3, 10]
    page = ROOT / "docs/howto/exact-gradients.md"
    assert len(shown_outputs(page.read_text("utf-8"))) == 9


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
    text = page.read_text("utf-8")
    shown = shown_outputs(text) if rel.as_posix() in SHOWN_OUTPUT else {}
    try:
        for line, code in python_blocks(text):
            if code.startswith("# needs: torch"):
                torch_extra.torch_or_skip()
            compiled = compile(code, f"{rel}:{line}", "exec")
            printed = io.StringIO()
            try:
                with contextlib.redirect_stdout(printed):
                    exec(compiled, namespace)  # the project's own docs, never user input
            except Exception as e:
                first = code.strip().splitlines()[0] if code.strip() else ""
                raise AssertionError(
                    f"{rel}, block at line {line} ({first!r}) failed: {e!r}"
                ) from e
            if line in shown:
                assert printed.getvalue() == shown.pop(line), f"{rel}: block at line {line}"
        assert not shown, f"{rel}: text blocks after no python block: {sorted(shown)}"
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
