"""Every speed and memory figure that README and the docs state equals the recorded results.

The figures sit between `<!-- figures: NAME -->` markers and are written by
benchmarks/figures.py from benchmarks/results/latest.json. These tests check that the text
is what the script makes of the file today, that no measured figure stands outside the
markers, and that the text follows the file when the file changes.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import figures  # noqa: E402

# a measured quantity: a ratio, a time, a size
# sizes worked out from CPython's object layout, not measured: the text says how
DERIVED = ["A node takes 96\n  bytes (a 16-byte collector header"]
MEASURED = re.compile(
    r"\b\d[\d,.]*\s*(?:x\b|ms\b|bytes\b|MB\b|s\b|times (?:faster|as long))", re.IGNORECASE
)


@pytest.fixture(scope="module")
def results() -> figures.Results:
    return figures.load()


@pytest.mark.parametrize("name", figures.FILES)
def test_the_figures_of_each_page_are_those_of_the_results_file(
    name: str, results: figures.Results
) -> None:
    text = (ROOT / name).read_text("utf-8")
    found = figures.regions(text)
    assert found, f"{name} has no marked figures"
    for block, body in found:
        expected = figures.render(block, results)
        assert body.strip("\n") == expected, (
            f"{name}: the {block!r} figures differ from {figures.RESULTS_NAME}; "
            "run python benchmarks/figures.py"
        )
    assert figures.rewrite(text, results) == text


def test_every_block_is_quoted_somewhere() -> None:
    used = {
        block for name in figures.FILES for block, _ in figures.regions((ROOT / name).read_text())
    }
    assert used == set(figures.BLOCKS)


@pytest.mark.parametrize("name", figures.FILES)
def test_no_measured_figure_stands_outside_the_markers(name: str) -> None:
    text = (ROOT / name).read_text("utf-8")
    outside = figures.MARK.sub("", text)
    for derived in DERIVED:
        outside = outside.replace(derived, "")
    outside = re.sub(r"```.*?```", "", outside, flags=re.S)  # code and its comments
    outside = re.sub(r"`[^`\n]*`", "", outside)  # inline code
    assert MEASURED.findall(outside) == []


def test_the_text_follows_the_results_file(results: figures.Results) -> None:
    changed = copy.deepcopy(results)
    eager = changed["steps"]["eager"]["gc_on"]
    eager.update(median_ms=100.0, min_ms=90.0, max_ms=110.0)
    changed["machine"]["python"] = "3.13.1"
    text = (ROOT / "README.md").read_text("utf-8")
    new = figures.rewrite(text, changed)
    assert new != text
    assert "| microgradx eager | 100 [90.0–110] |" in new
    speedup = results["steps"]["micrograd"]["gc_on"]["median_ms"] / 100.0
    assert f"The eager engine is {speedup:.1f}x faster than micrograd" in new
    assert "Python 3.13.1" in new
    # and the rewritten text is then what the check expects
    assert figures.rewrite(new, changed) == new


def test_the_check_reports_stale_text(tmp_path: Path, results: figures.Results) -> None:
    import json

    changed = copy.deepcopy(results)
    changed["memory"]["eager"]["bytes_per_node"] = 99.0
    path = tmp_path / "r.json"
    path.write_text(json.dumps(changed))
    assert figures.main(["--check"]) == 0  # the committed text matches the committed file
    assert figures.main(["--check", "--results", str(path)]) == 1


def test_formats_and_an_unknown_block() -> None:
    assert [figures.ms(x) for x in (1237.1, 53.84, 2.345, 0.8575)] == [
        "1237",
        "53.8",
        "2.35",
        "0.858",
    ]
    assert [figures.times(r) for r in (3.545, 22.97, 111.59)] == ["3.5x", "23.0x", "112x"]
    with pytest.raises(KeyError, match="unknown figures block 'nope'"):
        figures.render("nope", {})


def test_the_ab_blocks_follow_their_files(
    monkeypatch: pytest.MonkeyPatch, results: figures.Results
) -> None:
    early = figures.ab_results("early-exit")
    row = early["tasks"]["compiled-trained"]
    assert row["task"]["engine"] == "compiled" and row["task"]["warmup"] == 16
    changed = copy.deepcopy(early)
    changed["tasks"]["compiled-trained"]["new"].update(median=1.0, min=0.5, max=2.0)
    changed["tasks"]["compiled-trained"]["old"].update(median=1.5, min=1.25, max=3.0)
    monkeypatch.setattr(figures, "ab_results", lambda block: changed)
    text = figures.render("early-exit", results).replace("\n", " ")
    assert "1.00 ms [0.500–2.00] with the exit and 1.50 ms [1.25–3.00] without it" in text
    assert "(1.50 times as fast;" in text
    chain = figures.load(figures.ROOT / figures.AB_FILES["chain-gc"])
    assert chain["tasks"]["chain-consts-gc"]["task"]["gc_mode"] == "on"
    assert chain["tasks"]["chain-consts"]["task"].get("gc_mode", "off") == "off"
