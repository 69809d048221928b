"""README, the tutorial's index and the docs' navigation give the learning path in one order."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_path() -> list[tuple[int, str]]:
    """(step, demo) of each row of README's learning-path table, in order."""
    text = (ROOT / "README.md").read_text("utf-8")
    rows = re.findall(r"^\| (\d)\. [^|]+ \| `(?:demos/)?([\w. ]+?)(?:\.py)?` \|", text, re.M)
    return [(int(step), demo) for step, demo in rows]


def tutorial_path() -> list[tuple[int, str]]:
    """(step, demo) of the tutorial index's table, demos of one step in their listed order."""
    text = (ROOT / "docs" / "tutorial" / "index.md").read_text("utf-8")
    path = []
    for step, demos in re.findall(
        r"^\| (\d) \| \[[^]]+\]\([\w-]+\.md\) \| [^|]+ \| ([^|]+) \|", text, re.M
    ):
        for demo in re.findall(r"`([\w. ]+?)(?:\.py)?`", demos):
            path.append((int(step), demo))
    return path


def test_readme_and_the_tutorial_list_the_same_demos_in_the_same_order() -> None:
    readme, tutorial = readme_path(), tutorial_path()
    assert len(readme) == 11
    assert readme == tutorial


def test_every_demo_is_on_the_learning_path() -> None:
    demos = {p.stem for p in (ROOT / "demos").glob("*.py")}
    assert {demo for _, demo in tutorial_path()} - {"microgradx draw"} == demos


def test_the_tutorial_index_follows_the_navigation_and_each_page_names_its_demos() -> None:
    nav = re.findall(
        r"^      - (\d)\. [^:]+: tutorial/([\w-]+)\.md$", (ROOT / "mkdocs.yml").read_text(), re.M
    )
    text = (ROOT / "docs" / "tutorial" / "index.md").read_text("utf-8")
    pages = re.findall(r"^\| (\d) \| \[[^]]+\]\(([\w-]+)\.md\)", text, re.M)
    assert pages == nav and len(pages) == 7
    for step, page in pages:
        body = (ROOT / "docs" / "tutorial" / f"{page}.md").read_text("utf-8")
        for s, demo in tutorial_path():
            if str(s) == step and demo != "microgradx draw":
                assert f"demos/{demo}.py" in body, (page, demo)
