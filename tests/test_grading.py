"""check_engine grades micrograd-style engines against microgradx.

The subjects: micrograd 0.1.0 from PyPI; a correct engine written here; deliberately broken
engines, each a few lines away from the correct one and caught in the right check with a
shrunk example of at most three ops; the engine of the how-to page; bad input; the report
as text and HTML; and the command line.
"""

from __future__ import annotations

import doctest
import html.parser
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from micrograd.engine import Value as MicrogradValue
from test_docs import ROOT, python_blocks

from microgradx.cli import main
from microgradx.testing import EngineReport, check_engine, grading

EXAMPLES = 40  # random graphs per run: enough to catch every bug below, and quick

# A correct engine in the lecture's style: closures for the rules, an iterative topological
# order (any depth), and each backward() computed from zero and added to .grad (PyTorch).
ENGINE = """\
import math


class Value:
    def __init__(self, data, _children=()):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, other):
        if isinstance(other, Value):
            out = Value(self.data**other.data, (self, other))

            def _backward():
                self.grad += other.data * self.data ** (other.data - 1) * out.grad
                other.grad += out.data * math.log(self.data) * out.grad

            out._backward = _backward
            return out
        out = Value(self.data**other, (self,))

        def _backward():
            self.grad += other * self.data ** (other - 1) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def _backward():
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,))

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,))

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        topo, seen, stack = [], set(), [(self, False)]
        while stack:
            v, done = stack.pop()
            if done:
                topo.append(v)
            elif v not in seen:
                seen.add(v)
                stack.append((v, True))
                stack.extend((child, False) for child in v._prev)
        kept = [v.grad for v in topo]
        for v in topo:
            v.grad = 0.0
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()
        for v, g in zip(topo, kept):
            v.grad += g

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1


class Other(Value):
    pass
"""

_TOPO_AND_PASS = """\
        topo, seen, stack = [], set(), [(self, False)]
        while stack:
            v, done = stack.pop()
            if done:
                topo.append(v)
            elif v not in seen:
                seen.add(v)
                stack.append((v, True))
                stack.extend((child, False) for child in v._prev)
        kept = [v.grad for v in topo]
        for v in topo:
            v.grad = 0.0
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()
        for v, g in zip(topo, kept):
            v.grad += g
"""

# bug name -> (old, new) replacements that turn ENGINE into the broken engine
BUGS: dict[str, list[tuple[str, str]]] = {
    # = instead of +=: a node used twice keeps only the last part
    "overwrite": [
        ("self.grad += out.grad\n", "self.grad = out.grad\n"),
        ("other.grad += out.grad\n", "other.grad = out.grad\n"),
        ("self.grad += other.data * out.grad", "self.grad = other.data * out.grad"),
        ("other.grad += self.data * out.grad", "other.grad = self.data * out.grad"),
    ],
    # a recursive backward that runs each node's rule as soon as it reaches the node
    "recursive": [
        (
            _TOPO_AND_PASS,
            "        self.grad = 1.0\n        self._visit()\n\n"
            "    def _visit(self):\n        self._backward()\n"
            "        for child in self._prev:\n            child._visit()\n",
        )
    ],
    # the derivative of tanh taken at the input instead of the output
    "tanh": [("(1 - t**2)", "(1 - self.data**2)")],
    # the derivative of exp taken as the input
    "exp": [("self.grad += out.data * out.grad", "self.grad += self.data * out.grad")],
    # no reflected operators: 2 + a and 2 * a raise TypeError
    "reflected": [
        ("    def __radd__(self, other):\n        return self + other\n\n", ""),
        ("    def __rmul__(self, other):\n        return self * other\n\n", ""),
    ],
    # a ** b forgets b's gradient
    "exponent": [("                other.grad += out.data * math.log(self.data) * out.grad\n", "")],
    # a private running total that zeroing .grad does not reset
    "total": [
        (
            "            v.grad += g\n",
            '            v._total = getattr(v, "_total", 0.0) + v.grad\n'
            "            v.grad = v._total\n",
        )
    ],
    # micrograd's backward: intermediate nodes keep their gradient into the next call
    "intermediates": [
        (
            "        kept = [v.grad for v in topo]\n        for v in topo:\n"
            "            v.grad = 0.0\n",
            "",
        ),
        ("        for v, g in zip(topo, kept):\n            v.grad += g\n", ""),
    ],
    # a number operand not wrapped in a Value: a + 2.0 reads 2.0.data
    "unwrapped": [
        (
            "        other = other if isinstance(other, Value) else Value(other)\n"
            "        out = Value(self.data + other.data, (self, other))\n",
            "        out = Value(self.data + other.data, (self, other))\n",
        )
    ],
    # relu's derivative at 0 taken as 1 (PyTorch: 0): a note, not a failure
    "relu_at_zero": [("(out.data > 0) * out.grad", "(self.data >= 0) * out.grad")],
}


def engine_source(bug: str) -> str:
    source = ENGINE
    for old, new in BUGS.get(bug, []):
        assert source.count(old) == 1, (bug, old)
        source = source.replace(old, new)
    return source


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("engines")
    for bug in ["good", *BUGS]:
        (folder / f"{bug}_engine.py").write_text(engine_source(bug), "utf-8")
    return folder


@pytest.fixture(scope="module")
def graded(engines: Path) -> Callable[[str], EngineReport]:
    cache: dict[str, EngineReport] = {}

    def grade(bug: str) -> EngineReport:
        if bug not in cache:
            cls, module = grading.load_engine(str(engines / f"{bug}_engine.py"))
            cache[bug] = grading.grade(cls, max_examples=EXAMPLES, module=module)
        return cache[bug]

    return grade


@pytest.fixture(scope="module")
def micrograd() -> tuple[EngineReport, int]:
    # graded under a raised recursion limit: the depth check must use the default one
    # and leave the caller's limit as it was
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(4000)
    try:
        report = check_engine(MicrogradValue, max_examples=EXAMPLES)
        after = sys.getrecursionlimit()
    finally:
        sys.setrecursionlimit(before)
    return report, after


_NUMBER = re.compile(r"-?(?:inf|nan|\d+(?:\.\d*)?(?:e[-+]?\d+)?)")


def printed_numbers(code: str, cwd: Path) -> list[float]:
    """Run a finding's code in a fresh interpreter; the numbers it prints."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [float(x) for x in _NUMBER.findall(done.stdout)]


def status(report: EngineReport) -> dict[str, str]:
    return {name: c.status for name, c in report.categories.items()}


def op_rows(report: EngineReport) -> dict[str, str]:
    return {name: r.status for name, r in report.categories["ops"].rows}


# -- micrograd 0.1.0 ------------------------------------------------------------------------


def test_micrograd_supported_ops_pass(micrograd: tuple[EngineReport, int]) -> None:
    report, _ = micrograd
    assert report.ops == ("add", "mul", "sub", "neg", "div", "pow", "relu")
    assert report.categories["ops"].status == "passed"
    assert all(op_rows(report)[op] == "passed" for op in report.ops)
    assert set(report.unsupported) == {
        "rpow",
        "vpow",
        "exp",
        "log",
        "sqrt",
        "tanh",
        "sigmoid",
        "abs",
        "sin",
        "cos",
    }
    # micrograd's __pow__ refuses a Value exponent with an assert
    assert "AssertionError" in report.unsupported["vpow"]
    assert report.unsupported["tanh"] == "no such method"
    assert report.unsupported["rpow"] == "no __rpow__"
    for name in ("reuse", "graphs", "rerun"):
        assert report.categories[name].status == "passed", name


def test_micrograd_recursion_reported_near_1000(micrograd: tuple[EngineReport, int]) -> None:
    report, limit_after = micrograd
    assert limit_after == 4000  # the caller's recursion limit is back
    assert report.categories["depth"].status == "failed"
    assert "RecursionError" in report.categories["depth"].why
    # its recursive topological sort stops near Python's default limit of 1000, although
    # the caller's limit was 4000
    assert report.max_depth is not None and 900 <= report.max_depth < 1000
    (depth,) = [f for f in report.failures if f.category == "depth"]
    assert depth.error is not None and depth.error.startswith("RecursionError")
    assert depth.expected == {"v.data": 10000.5, "a.grad": 1.0}
    assert "for _ in range(10000):" in depth.code
    assert [f.category for f in report.failures] == ["depth"]
    assert not report.passed


def test_micrograd_second_backward_keeps_intermediates(
    micrograd: tuple[EngineReport, int], tmp_path: Path
) -> None:
    report, _ = micrograd
    assert report.categories["accumulate"].status == "note"
    (note,) = [f for f in report.notes if f.category == "accumulate"]
    assert "intermediate" in note.culprit and note.ops <= 3
    assert note.code.startswith("from micrograd.engine import Value\n")
    # the code runs with micrograd and prints [first], [second]: second != 2 * first
    numbers = printed_numbers(note.code, tmp_path)
    half = len(numbers) // 2
    first, second = numbers[:half], numbers[half:]
    assert second == list(note.received.values())
    assert [2 * x for x in first] == list(note.expected.values())
    assert second != [2 * x for x in first]


def test_micrograd_edges_are_notes(micrograd: tuple[EngineReport, int]) -> None:
    report, _ = micrograd
    assert report.categories["edges"].status == "note"
    notes = {f.title: f for f in report.notes if f.category == "edges"}
    # 1 / 0 raises in Python where PyTorch gives inf; relu at 0 agrees (derivative 0)
    assert notes["a / b at b = 0"].error is not None
    assert notes["a / b at b = 0"].error.startswith("ZeroDivisionError")
    assert notes["a / b at b = 0"].expected == {
        "out.data": math.inf,
        "a.grad": math.inf,
        "b.grad": -math.inf,
    }
    assert "relu at 0" not in notes


def test_report_text_for_micrograd(micrograd: tuple[EngineReport, int]) -> None:
    report, _ = micrograd
    text = str(report)
    lines = text.splitlines()
    assert lines[0] == "check_engine: micrograd.engine.Value (40 random graphs, derandomized)"
    rows = {line[7:].strip().split("  ")[0]: line[:6].strip() for line in lines[2:] if line}
    assert rows["each op: value and gradient"] == "OK"
    assert rows["a + b, a + 2.0, 2.0 + a"] == "OK"
    assert rows["depth: a chain of 10,000 ops"] == "WRONG"
    assert rows["second backward() without zeroing"] == "note"
    assert rows["2.0 ** a"] == "skip"
    assert "WRONG: 1 of 7 checks failed (6 notes)" in lines
    assert "--- WRONG: depth: a chain of 10,000 ops: v = v + Value(1.0), 10,000 times" in lines
    assert report.table() in text and len(report.table()) < len(text)


class _Cells(html.parser.HTMLParser):
    """Table rows (as lists of cell texts) and the texts of the <pre> blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.pres: list[str] = []
        self._cell: list[str] | None = None
        self._pre: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "pre":
            self._pre = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "pre" and self._pre is not None:
            self.pres.append("".join(self._pre).strip("\n"))
            self._pre = None

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._pre):
            if part is not None:
                part.append(data)


def test_report_html_for_jupyter(graded: Callable[[str], EngineReport]) -> None:
    report = graded("reflected")
    page = report._repr_html_()
    cells = _Cells()
    cells.feed(page)
    assert cells.rows[0] == ["result", "check", "details"]
    expected = []
    for result in report.categories.values():
        expected.append([result.mark, result.title, result.why])
        expected += [[r.mark, r.title, r.why] for _, r in result.rows]
    assert cells.rows[1:] == expected
    assert ["WRONG", "each op: value and gradient", "wrong: mul, add, sub, div"] in cells.rows
    # every failure's lines, quotes and all, come back unchanged from the escaped HTML
    assert cells.pres == ["\n".join(f.lines()) for f in report.failures]
    assert "'float'" in cells.pres[0] and "'float'" not in page


# -- the correct engine and the broken ones -------------------------------------------------


def test_correct_engine_passes_every_check(graded: Callable[[str], EngineReport]) -> None:
    report = graded("good")
    assert report.passed and report.failures == ()
    assert status(report) == {
        "ops": "passed",
        "reuse": "passed",
        "graphs": "passed",
        "depth": "passed",
        "rerun": "passed",
        "accumulate": "passed",
        "edges": "note",  # Python raises at 1 / 0 where PyTorch gives inf
    }
    assert report.max_depth is None
    assert set(report.ops) == {"add", "mul", "sub", "neg", "div", "pow", "vpow", "exp"} | {
        "tanh",
        "relu",
    }


@pytest.mark.parametrize(
    ("bug", "category"),
    [
        ("overwrite", "reuse"),
        ("recursive", "reuse"),
        ("tanh", "ops"),
        ("exp", "ops"),
        ("reflected", "ops"),
        ("exponent", "ops"),
        ("total", "rerun"),
    ],
)
def test_broken_engine_is_caught_in_its_check(
    graded: Callable[[str], EngineReport], bug: str, category: str
) -> None:
    report = graded(bug)
    assert not report.passed
    assert report.categories[category].status == "failed"
    found = [f for f in report.failures if f.category == category]
    assert found and all(1 <= f.ops <= 3 for f in found)


def test_overwrite_fails_reuse_not_the_ops(graded: Callable[[str], EngineReport]) -> None:
    report = graded("overwrite")
    assert report.categories["ops"].status == "passed"
    (reuse,) = [f for f in report.failures if f.category == "reuse"]
    assert reuse.title == "a + a" and reuse.ops == 1
    assert reuse.expected["a.grad"] == 2.0 and reuse.received["a.grad"] == 1.0
    assert "+=" in reuse.culprit
    (graphs,) = [f for f in report.failures if f.category == "graphs"]
    assert graphs.ops == 1 and "+=" in graphs.culprit


def test_recursive_backward_fails_on_a_shared_node(
    graded: Callable[[str], EngineReport],
) -> None:
    report = graded("recursive")
    assert report.categories["ops"].status == "passed"
    (reuse,) = [f for f in report.failures if f.category == "reuse"]
    # the smallest failing shape: an intermediate node with two users
    assert reuse.title == "v1 = a * a; v2 = v1 * a; out = v2 + v1"
    assert "topological" in reuse.culprit
    assert reuse.received["a.grad"] != reuse.expected["a.grad"]
    assert report.categories["depth"].status == "failed"  # and it recurses, too


@pytest.mark.parametrize(
    ("bug", "op", "title", "wrong"),
    [
        ("tanh", "tanh", "a.tanh()", lambda a: 1 - a**2),
        ("exp", "exp", "a.exp()", lambda a: a),
    ],
)
def test_wrong_rule_names_the_op(
    graded: Callable[[str], EngineReport],
    engines: Path,
    bug: str,
    op: str,
    title: str,
    wrong: Callable[[float], float],
) -> None:
    report = graded(bug)
    rows = op_rows(report)
    assert rows[op] == "failed"
    assert all(s == "passed" for name, s in rows.items() if name in report.ops and name != op)
    (f,) = report.failures
    assert f.title == title and f.ops == 1
    assert op in f.culprit
    # the received gradient is the broken rule's number at the shrunk point
    (a,) = [float(x) for x in re.findall(r"^a = Value\((.+)\)$", f.code, re.M)]
    assert f.received["a.grad"] == wrong(a) != f.expected["a.grad"]
    assert f.received["out.data"] == f.expected["out.data"]
    # the other checks use the ops that passed alone, so they pass
    for name in ("reuse", "graphs", "depth", "rerun", "accumulate"):
        assert report.categories[name].status == "passed", name
    # the shrunk example runs with the broken engine and prints what the report received
    assert f.code.startswith(f"from {bug}_engine import Value\n")
    assert printed_numbers(f.code.split("#")[0], engines) == list(f.received.values())


def test_missing_reflected_operators(graded: Callable[[str], EngineReport]) -> None:
    report = graded("reflected")
    rows = op_rows(report)
    assert rows["add"] == rows["mul"] == "failed"
    by_title = {f.title: f for f in report.failures}
    for title, method in (("2.0 + a", "__radd__"), ("2.0 * a", "__rmul__")):
        f = by_title[title]
        assert f.error is not None and f.error.startswith("TypeError")
        assert method in f.culprit and f.ops == 1
    # a Value on the left still works
    assert "a + 2.0" not in by_title and "a * 2.0" not in by_title
    assert report.categories["reuse"].status == "passed"


def test_dropped_exponent_gradient(graded: Callable[[str], EngineReport]) -> None:
    report = graded("exponent")
    rows = op_rows(report)
    assert rows["vpow"] == "failed" and rows["pow"] == "passed"
    (f,) = report.failures
    assert f.title == "a ** b"
    assert f.received["b.grad"] == 0.0 != f.expected["b.grad"]
    assert f.received["a.grad"] == f.expected["a.grad"]


def test_hidden_total_fails_the_second_backward(graded: Callable[[str], EngineReport]) -> None:
    report = graded("total")
    assert [f.category for f in report.failures] == ["rerun"]
    (f,) = report.failures
    assert f.ops <= 3 and "zeroing" in f.culprit
    assert f.received != f.expected  # second call != first call
    assert "v.grad = 0.0" in f.code and "todo.extend(v._prev)" in f.code


def test_kept_intermediates_are_a_note(graded: Callable[[str], EngineReport]) -> None:
    report = graded("intermediates")
    assert report.passed  # PyTorch's semantics is reported apart, not as a failure
    assert report.categories["accumulate"].status == "note"
    assert report.categories["rerun"].status == "passed"
    (note,) = [f for f in report.notes if f.category == "accumulate"]
    assert note.ops <= 3 and "intermediate" in note.culprit


def test_unwrapped_number_operand(graded: Callable[[str], EngineReport]) -> None:
    report = graded("unwrapped")
    assert op_rows(report)["add"] == "failed" and op_rows(report)["mul"] == "passed"
    by_title = {f.title: f for f in report.failures}
    f = by_title["a + 2.0"]
    assert f.error is not None and f.error.startswith("AttributeError")
    assert "wrap a number operand" in f.culprit
    assert report.categories["reuse"].status == "passed"  # a + b is right


def test_microgradx_itself_passes_every_check_and_edge() -> None:
    from microgradx import Value

    report = check_engine(Value, max_examples=EXAMPLES)
    assert all(c.status == "passed" for c in report.categories.values())
    assert report.unsupported == {} and report.notes == () and report.failures == ()


def test_kink_convention_is_a_note(graded: Callable[[str], EngineReport]) -> None:
    report = graded("relu_at_zero")
    assert report.passed and op_rows(report)["relu"] == "passed"
    notes = {f.title: f for f in report.notes if f.category == "edges"}
    assert notes["relu at 0"].received == {"out.data": 0.0, "a.grad": 1.0}
    assert notes["relu at 0"].expected == {"out.data": 0.0, "a.grad": 0.0}


class Flaky:
    """tanh's derivative wrong on every other call: Hypothesis sees a flaky failure."""

    calls = 0

    def __init__(self, data: float, _children: tuple[Flaky, ...] = ()) -> None:
        self.data = data
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        self._prev = _children

    def __add__(self, other: Any) -> Flaky:
        other = other if isinstance(other, Flaky) else Flaky(other)
        out = Flaky(self.data + other.data, (self, other))

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    __radd__ = __add__

    def __mul__(self, other: Any) -> Flaky:
        other = other if isinstance(other, Flaky) else Flaky(other)
        out = Flaky(self.data * other.data, (self, other))

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    __rmul__ = __mul__

    def tanh(self) -> Flaky:
        t = math.tanh(self.data)
        out = Flaky(t, (self,))
        Flaky.calls += 1
        wrong = Flaky.calls % 2 == 0

        def _backward() -> None:
            self.grad += (1 - t**2) * out.grad * (2 if wrong else 1)

        out._backward = _backward
        return out

    def backward(self) -> None:
        topo: list[Flaky] = []
        seen: set[int] = set()

        def visit(v: Flaky) -> None:
            if id(v) not in seen:
                seen.add(id(v))
                for c in v._prev:
                    visit(c)
                topo.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


def test_an_engine_that_changes_its_answers_is_still_reported() -> None:
    report = check_engine(Flaky, ops=["add", "mul", "tanh"], max_examples=20)
    assert op_rows(report)["tanh"] == "failed"
    assert any("tanh" in f.title and f.category == "ops" for f in report.failures)


# -- options and bad input ------------------------------------------------------------------


def test_runs_are_reproducible_and_seedable(engines: Path) -> None:
    cls, _ = grading.load_engine(str(engines / "tanh_engine.py"))
    first = check_engine(cls, ops=["add", "mul", "tanh"], max_examples=20)
    again = check_engine(cls, ops=["add", "mul", "tanh"], max_examples=20)
    assert str(first) == str(again)
    seeded = check_engine(cls, ops=["add", "mul", "tanh"], max_examples=20, seed=7)
    assert seeded.seed == 7 and "seed 7" in seeded.table().splitlines()[0]
    assert op_rows(seeded)["tanh"] == "failed" and op_rows(seeded)["add"] == "passed"


def test_ops_overrides_detection() -> None:
    # micrograd has no tanh: named in ops=, it is checked and fails (AttributeError)
    report = check_engine(MicrogradValue, ops=["add", "mul", "tanh"], max_examples=10)
    assert report.ops == ("add", "mul", "tanh")
    assert op_rows(report)["tanh"] == "failed"
    (f,) = [f for f in report.failures if f.category == "ops"]
    assert f.error is not None and f.error.startswith("AttributeError")
    assert set(report.unsupported) == set(grading.OPS) - {"add", "mul", "tanh"}
    assert set(report.unsupported.values()) == {"not in ops="}


class NoBackward:
    def __init__(self, data: float) -> None:
        self.data = data
        self.grad = 0.0

    def __add__(self, other: Any) -> NoBackward:
        return NoBackward(self.data + other.data)

    def __mul__(self, other: Any) -> NoBackward:
        return NoBackward(self.data * other.data)


class NoData(NoBackward):
    def __init__(self, data: float) -> None:
        self.grad = 0.0

    def backward(self) -> None:
        pass


class TwoArguments(NoData):
    def __init__(self, data: float, label: str) -> None:
        self.data, self.grad = data, 0.0


@pytest.mark.parametrize(
    ("value_class", "kwargs", "error", "message"),
    [
        (3, {}, TypeError, "expects a class like micrograd's Value, got 3 \\(int\\)"),
        (MicrogradValue(1.0), {}, TypeError, "expects a class"),
        (NoBackward, {}, TypeError, "NoBackward is not Value-like: it has no backward\\(\\)"),
        (NoData, {}, TypeError, "NoData\\(1.5\\) has no .data"),
        (TwoArguments, {}, TypeError, "TwoArguments\\(1.5\\) raised TypeError"),
        (MicrogradValue, {"ops": "add"}, TypeError, "ops must be a list of op names"),
        (MicrogradValue, {"ops": ["add", "nope"]}, ValueError, "unknown op 'nope'; known: add"),
        (MicrogradValue, {"ops": []}, ValueError, "ops is empty"),
        (MicrogradValue, {"max_examples": 0}, ValueError, "max_examples must be a positive"),
        (MicrogradValue, {"rtol": -1.0}, ValueError, "rtol must be a finite number"),
        (MicrogradValue, {"seed": "x"}, TypeError, "seed must be an integer"),
    ],
)
def test_bad_input_is_refused(
    value_class: Any, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        check_engine(value_class, **kwargs)
    assert isinstance(info.value, grading.InputError)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(grading)
    assert result.attempted > 0 and result.failed == 0


# -- the how-to page's engine ---------------------------------------------------------------

PAGE = ROOT / "docs" / "howto" / "grade-your-own-micrograd.md"


def _page_engines() -> tuple[type, type]:
    """The page's buggy Value, and the same class after the page's three fixes.

    Each ```python block runs up to its first line that grades or reads a report.
    """
    blocks = []
    for line, code in python_blocks(PAGE.read_text("utf-8")):
        kept: list[str] = []
        for text in code.splitlines():
            if "check_engine" in text or "report" in text:
                break
            kept.append(text)
        blocks.append(compile("\n".join(kept), f"{PAGE.name}:{line}", "exec"))
    first: dict[str, Any] = {"__name__": "grade_page"}
    exec(blocks[0], first)  # the project's own docs
    fixed: dict[str, Any] = {"__name__": "grade_page"}
    for block in blocks:
        exec(block, fixed)
    return first["Value"], fixed["Value"]


def _marks(table: str) -> list[tuple[str, str]]:
    rows = []
    for line in table.splitlines()[2:]:
        if not line or line.startswith(("OK:", "WRONG:")):
            continue
        rows.append((line[:6].strip(), line[7:].strip().split("  ")[0]))
    return rows


def test_page_engine_passes_every_check() -> None:
    _, fixed = _page_engines()
    report = check_engine(fixed, max_examples=EXAMPLES)
    assert report.passed
    assert all(c.status == "passed" for name, c in report.categories.items() if name != "edges")
    # the page shows the same table (marks and checks) as a run gives
    tables = re.findall(r"```text\n(check_engine: .*?)\n```", PAGE.read_text("utf-8"), re.S)
    assert len(tables) == 3
    assert _marks(tables[2]) == _marks(report.table())


def test_page_buggy_engine_fails_as_the_page_says() -> None:
    buggy, _ = _page_engines()
    report = check_engine(buggy, max_examples=EXAMPLES)
    failed = [name for name, c in report.categories.items() if c.status == "failed"]
    assert failed == ["ops", "reuse", "graphs", "depth"]
    tables = re.findall(r"```text\n(check_engine: .*?)\n```", PAGE.read_text("utf-8"), re.S)
    assert _marks(tables[0]) == _marks(report.table())


# -- the command line -----------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exit_0_when_everything_passed(
    capsys: pytest.CaptureFixture[str], engines: Path
) -> None:
    target = str(engines / "good_engine.py")
    code, out, err = run(capsys, "check-engine", target, "--ops", "add,mul", "--max-examples", "10")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"check_engine: {target}:Value (10 random graphs, derandomized)"
    assert "OK: all checks passed" in out


def test_cli_exit_1_with_the_shrunk_example(
    capsys: pytest.CaptureFixture[str], engines: Path
) -> None:
    target = str(engines / "tanh_engine.py")
    code, out, _ = run(capsys, "check-engine", target, "--ops", "add,mul,tanh", "--seed", "1")
    assert code == 1
    assert "WRONG: 1 of 7 checks failed" in out
    assert "from tanh_engine import Value" in out  # the example imports the learner's file


def test_cli_names_a_class_after_the_last_colon(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "with:colon"
    folder.mkdir()
    (folder / "engine.py").write_text(ENGINE, "utf-8")
    # a colon in the folder's name is part of the path; after the last one, a class name
    cls, module = grading.load_engine(str(folder / "engine.py"))
    assert cls.__name__ == "Value" and module == "engine"
    other, _ = grading.load_engine(f"{folder / 'engine.py'}:Other")
    assert other.__name__ == "Other"
    args = ["--ops", "add,mul", "--max-examples", "10"]
    code, out, _ = run(capsys, "check-engine", f"{folder / 'engine.py'}:Other", *args)
    assert code == 0 and "engine.py:Other" in out.splitlines()[0]


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (None, "missing.py", "no such file: {folder}/missing.py"),
        (
            ENGINE,
            "engine.py:Scalar",
            "{folder}/engine.py has no class Scalar (it defines Value, Other",
        ),
        ("x = 1\n", "engine.py", "{folder}/engine.py has no class Value"),
        ("import math\nValue = math\n", "engine.py", "engine.py:Value is a module, not a class"),
        (
            "class Value:\n    def __init__(self, data):\n        self.data = data\n",
            "engine.py",
            "Value is not Value-like: it has no backward(), +, *",
        ),
        ("1 / 0\n", "engine.py", "importing {folder}/engine.py raised ZeroDivisionError"),
        ("import sys\nsys.exit(3)\n", "engine.py", "raised SystemExit: 3"),
        ("def broken(:\n", "engine.py", "raised SyntaxError"),
    ],
)
def test_cli_exit_2_on_bad_input(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    source: str | None,
    target: str,
    message: str,
) -> None:
    if source is not None:
        (tmp_path / "engine.py").write_text(source, "utf-8")
    code, out, err = run(capsys, "check-engine", f"{tmp_path}/{target}")
    assert (code, out) == (2, "")
    assert err.startswith("microgradx: error: ")
    assert message.format(folder=tmp_path) in err
    assert len(err.splitlines()) == 1


def test_cli_help_says_it_runs_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check-engine", "--help"])
    out = capsys.readouterr().out
    assert "runs that file's code" in " ".join(out.split())
    assert "0: every check passed; 1: a check failed; 2: bad input" in " ".join(out.split())


CLI_FAST = ["--ops", "add,mul", "--max-examples", "10"]


def test_python_m_microgradx_check_engine(engines: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "microgradx", "check-engine", "reflected_engine.py", *CLI_FAST],
        cwd=engines,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "2.0 + a: for a number on the left Python calls __radd__" in done.stdout
