"""Grade anyone's micrograd: property-based checks of a foreign autodiff engine.

`check_engine(Value)` takes a class shaped like micrograd's `Value` (made with `Value(data)`,
with `.data`, `.grad`, `.backward()` and arithmetic operators), finds which ops it supports,
and compares its values and gradients with microgradx's on the same graphs: each op alone,
re-used nodes and diamonds, random graphs, a deep chain, and a second `backward()`. A failure
is shrunk by Hypothesis to the smallest graph that still fails and reported as code that
uses the graded class, with the numbers expected and received and the likely culprit.

Examples:
    >>> from microgradx.engine import Value
    >>> report = check_engine(Value, max_examples=20)
    >>> report.passed
    True
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import importlib.machinery
import importlib.util
import itertools
import math
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..engine import Value as _Reference
from ._forms import (
    BOUND,
    FAMILIES,
    FORMS,
    REQUIRED,
    Form,
    Graph,
    Step,
    close,
    form,
    is_value_like,
    number,
)

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "OPS",
    "CheckResult",
    "EngineReport",
    "Finding",
    "InputError",
    "check_engine",
    "load_engine",
]

Status = Literal["passed", "failed", "skipped", "note"]

#: the op names `check_engine(ops=...)` accepts, each with the forms it checks
OPS: dict[str, tuple[str, ...]] = {
    name: tuple(f.text for f in forms) for name, forms in FAMILIES.items()
}

#: how long the chain of the depth check is
DEPTH = 10_000
#: Python's default recursion limit, which the depth check runs under
RECURSION_LIMIT = 1000

_TITLES = {
    "ops": "each op: value and gradient",
    "reuse": "re-used nodes and diamonds",
    "graphs": "random graphs",
    "depth": f"depth: a chain of {DEPTH:,} ops",
    "rerun": "second backward() after zeroing",
    "accumulate": "second backward() without zeroing",
    "edges": "kinks and edges",
}
_NOTES = ("accumulate", "edges")  # checks whose findings are notes, never failures
_MARKS = {"passed": "OK", "failed": "WRONG", "skipped": "skip", "note": "note"}
# attributes through which an engine exposes a node's operands (micrograd: _prev)
_LINKS = ("_prev", "_children", "children", "prev", "_parents", "parents", "_inputs", "inputs")
_WEIGHT = -2.5  # the incoming gradient of the weighted op checks (a rule must use it)
_MAX_OPS = 8  # the largest random graph
_STACK = 64 * 2**20  # the stack of the depth check's thread, in bytes


@dataclass(frozen=True)
class Finding:
    """One example that went wrong (or, for a note, differs from PyTorch's convention).

    Attributes:
        category: the key of the check it belongs to (`"ops"`, `"graphs"`, ...).
        title: what was checked, e.g. `2.0 * a` or `tanh at a = 1000`.
        code: runnable Python that builds the example with the graded class.
        expected: microgradx's numbers (PyTorch's semantics), e.g. `{"a.grad": 2.0}`.
        received: the graded engine's numbers, as far as it got.
        error: the exception the engine raised (`"TypeError: ..."`), or None.
        culprit: the likely culprit: an op's rule, or backward() itself, and how to fix it.
        ops: how many ops the example has.
    """

    category: str
    title: str
    code: str
    expected: Mapping[str, float]
    received: Mapping[str, float]
    error: str | None
    culprit: str
    ops: int

    @property
    def got(self) -> str:
        """What the engine gave, as text: its numbers, then the exception it raised."""
        got = _pairs(self.received)
        if self.error is not None:
            got = f"{got}; then raised {self.error}" if got else f"raised {self.error}"
        return got

    @property
    def brief(self) -> str:
        """The finding on one line: what was checked, received and expected."""
        return f"{self.title}: {self.got}; PyTorch gives {_pairs(self.expected)}"

    def lines(self) -> list[str]:
        """The finding as text lines: code, expected, received, culprit."""
        out = [*self.code.splitlines(), ""]
        out.append(f"expected (microgradx): {_pairs(self.expected)}")
        out.append(f"received:              {self.got}")
        label = "note" if self.category in _NOTES else "likely culprit"
        out.append(f"{label}: {self.culprit}")
        return out


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: `status` is passed, failed, skipped or note, and `why`.

    The ops check has one row per op in `rows` (an op the engine lacks is a skipped row).
    """

    status: Status
    why: str
    title: str = ""
    rows: tuple[tuple[str, CheckResult], ...] = ()

    @property
    def mark(self) -> str:
        """`OK`, `WRONG`, `skip` or `note`, as the table shows the status."""
        return _MARKS[self.status]


@dataclass(frozen=True)
class EngineReport:
    """What `check_engine` found: one `CheckResult` per check, and the failing examples.

    `report.table()` is an OK/WRONG table to read in a terminal, and `str(report)` adds every
    failure and note with its code (what the command line prints). In Jupyter the report
    shows as an HTML table.

    Attributes:
        engine: the graded class, as `module.Name`.
        categories: check name -> its `CheckResult`; the names are `ops`, `reuse`, `graphs`,
            `depth`, `rerun` (a second backward() after zeroing), `accumulate` (a second
            backward() without zeroing: notes, PyTorch's semantics) and `edges` (notes).
        failures: the shrunk failing example of every failed check (and op).
        notes: where the engine differs from PyTorch's conventions without being wrong.
        ops: the ops checked; `OPS` lists the forms of each.
        unsupported: op name -> why it was not checked.
        max_depth: the longest chain that backpropagates, when 10,000 ops do not.
    """

    engine: str
    categories: Mapping[str, CheckResult]
    failures: tuple[Finding, ...]
    notes: tuple[Finding, ...]
    ops: tuple[str, ...]
    unsupported: Mapping[str, str]
    max_depth: int | None = None
    seed: int | None = None
    max_examples: int = 200

    @property
    def passed(self) -> bool:
        """True when no check failed (skipped checks and notes do not count)."""
        return all(c.status != "failed" for c in self.categories.values())

    def _rows(self) -> list[tuple[int, CheckResult, str]]:
        rows: list[tuple[int, CheckResult, str]] = []
        for result in self.categories.values():
            rows.append((0, result, result.title))
            rows += [(1, r, r.title) for _, r in result.rows]
        return rows

    def summary(self) -> str:
        """One line: how many checks passed, failed, were skipped or noted."""
        count = {s: 0 for s in _MARKS}
        for c in self.categories.values():
            count[c.status] += 1
        failed = count["failed"]
        head = (
            "all checks passed"
            if not failed
            else f"{failed} of {len(self.categories)} checks failed"
        )
        extra = [f"{count['skipped']} skipped"] * bool(count["skipped"])
        extra += [f"{len(self.notes)} note{'s' * (len(self.notes) != 1)}"] * bool(self.notes)
        return (
            ("OK: " if not failed else "WRONG: ")
            + head
            + (f" ({', '.join(extra)})" if extra else "")
        )

    def __str__(self) -> str:
        """The table, then every failure and note with its code (what the CLI prints)."""
        lines = [self.table()]
        for heading, f in self._full():
            lines += ["", f"--- {heading}: {_TITLES[f.category]}: {f.title}", *f.lines()]
        edges = [f for f in self.notes if f.category == "edges"]
        if edges:
            lines += ["", f"--- notes: {_TITLES['edges']} (conventions differ; not failures)"]
            lines += [f.brief for f in edges]
        return "\n".join(lines)

    def table(self) -> str:
        """The OK/WRONG table alone: one row per check (and per op), then a summary line."""
        how = "derandomized" if self.seed is None else f"seed {self.seed}"
        lines = [f"check_engine: {self.engine} ({self.max_examples} random graphs, {how})", ""]
        rows = self._rows()
        width = max(len(t) + 2 * depth for depth, _, t in rows)
        for depth, r, title in rows:
            name = ("  " * depth + title).ljust(width)
            lines.append(f"{r.mark:<6} {name}  {r.why}".rstrip())
        lines += ["", self.summary()]
        return "\n".join(lines)

    def _full(self) -> list[tuple[str, Finding]]:
        # the findings shown with their code; notes on kinks and edges get one line each
        shown = [("WRONG", f) for f in self.failures]
        return shown + [("note", f) for f in self.notes if f.category != "edges"]

    def _repr_html_(self) -> str:
        e = html.escape
        colour = {"passed": "#1a7f37", "failed": "#cf222e", "skipped": "#6e7781", "note": "#9a6700"}
        how = "derandomized" if self.seed is None else f"seed {self.seed}"
        out = [
            "<div>",
            f"<p><b>check_engine</b>: <code>{e(self.engine)}</code> "
            f"({self.max_examples} random graphs, {e(how)})</p>",
            "<table>",
            "<tr><th>result</th><th style='text-align:left'>check</th>"
            "<th style='text-align:left'>details</th></tr>",
        ]
        for depth, r, title in self._rows():
            pad = f" style='padding-left:{1 + 1.5 * depth}em;text-align:left'"
            out.append(
                f"<tr><td style='color:{colour[r.status]};font-weight:bold'>{e(r.mark)}</td>"
                f"<td{pad}>{e(title)}</td><td style='text-align:left'>{e(r.why)}</td></tr>"
            )
        out += ["</table>", f"<p><b>{e(self.summary())}</b></p>"]
        for heading, f in self._full():
            title = f"{heading}: {_TITLES[f.category]}: {f.title}"
            out.append(f"<details><summary>{e(title)}</summary><pre>")
            out.append(e("\n".join(f.lines())))
            out.append("</pre></details>")
        edges = [f for f in self.notes if f.category == "edges"]
        if edges:
            out.append(f"<p>Notes on {e(_TITLES['edges'])} (conventions differ; not failures):</p>")
            out.append("<ul>" + "".join(f"<li>{e(f.brief)}</li>" for f in edges) + "</ul>")
        out.append("</div>")
        return "\n".join(out)


def check_engine(
    value_class: type,
    *,
    ops: Iterable[str] | None = None,
    max_examples: int = 200,
    rtol: float = 1e-9,
    seed: int | None = None,
) -> EngineReport:
    """Grade a micrograd-style `Value` class against microgradx, with Hypothesis.

    The class needs `Value(number)`, `.data`, `.grad`, `.backward()`, `+` and `*`; every
    other op (`-`, `/`, `**`, `-a`, `abs`, `exp`, `log`, `sqrt`, `tanh`, `sigmoid`, `relu`,
    `sin`, `cos`) is checked when the class has it. Values and gradients must agree with
    microgradx's within `rtol` (relative, and absolute near zero; nan matches nan).

    Args:
        value_class: the class to grade.
        ops: the ops to check instead of those found (names of `OPS`, e.g. `["add", "mul"]`).
        max_examples: how many random graphs to try; the other checks try a share of it.
        rtol: the tolerance of every comparison.
        seed: Hypothesis's seed; by default the run is derandomized (the same every time).

    Returns:
        An `EngineReport`: `report.passed`, `report.categories`, `report.failures`.

    Raises:
        TypeError: `value_class` is not a class, or lacks what a Value needs (the message
            names it).
        ValueError: an unknown op name, or a bad `max_examples` or `rtol`.
        ImportError: Hypothesis is not installed.

    Examples:
        >>> from microgradx.engine import Value
        >>> report = check_engine(Value, ops=["add", "mul", "tanh"], max_examples=20)
        >>> report.categories["ops"].status, report.passed
        ('passed', True)
    """
    return grade(value_class, ops=ops, max_examples=max_examples, rtol=rtol, seed=seed)


def grade(
    value_class: type,
    *,
    ops: Iterable[str] | None = None,
    max_examples: int = 200,
    rtol: float = 1e-9,
    seed: int | None = None,
    module: str | None = None,
    name: str | None = None,
) -> EngineReport:
    """`check_engine`, with the module the printed examples import from and a display name."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:  # pragma: no cover - hypothesis comes with the test extra
        raise ImportError('check_engine needs Hypothesis: pip install "microgradx[test]"') from None
    _check_class(value_class)
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise _ValueInputError(f"max_examples must be a positive integer, got {max_examples!r}")
    if (
        isinstance(rtol, bool)
        or not isinstance(rtol, (int, float))
        or not math.isfinite(rtol)
        or rtol < 0
    ):
        raise _ValueInputError(f"rtol must be a finite number >= 0, got {rtol!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _TypeInputError(f"seed must be an integer or None, got {seed!r}")
    families = _chosen(ops)
    ctx = _Context(value_class, float(rtol), seed, max_examples, module)
    report = ctx.run(families)
    if name is not None:
        report = dataclasses.replace(report, engine=name)
    return report


def _check_class(cls: object) -> None:
    if not isinstance(cls, type):
        raise _TypeInputError(
            f"check_engine expects a class like micrograd's Value, got {cls!r} "
            f"({type(cls).__name__})"
        )
    need = "Value(data), .data, .grad, .backward(), + and *"
    missing = [f"{m}()" for m in ("backward",) if not callable(getattr(cls, m, None))]
    missing += [op for op, m in (("+", "__add__"), ("*", "__mul__")) if not hasattr(cls, m)]
    if missing:
        raise _TypeInputError(
            f"{cls.__name__} is not Value-like: it has no {', '.join(missing)} "
            f"(check_engine needs {need})"
        )
    try:
        v = cls(1.5)
    except Exception as e:
        raise _TypeInputError(
            f"{cls.__name__}(1.5) raised {_describe(e)}: check_engine makes values with "
            f"{cls.__name__}(number)"
        ) from None
    absent = [f".{a}" for a in ("data", "grad") if not hasattr(v, a)]
    if absent:
        raise _TypeInputError(
            f"{cls.__name__} is not Value-like: {cls.__name__}(1.5) has no "
            f"{' or '.join(absent)} (check_engine needs {need})"
        )
    try:
        data = number(v.data)
    except (TypeError, ValueError):
        data = math.nan
    if data != 1.5:
        raise _TypeInputError(f"{cls.__name__}(1.5).data should be 1.5, got {v.data!r}")


def _chosen(ops: Iterable[str] | None) -> tuple[str, ...] | None:
    if ops is None:
        return None
    given = tuple(ops) if isinstance(ops, Iterable) and not isinstance(ops, str) else None
    if given is None or not all(isinstance(o, str) for o in given):
        raise _TypeInputError(f"ops must be a list of op names such as ['add', 'mul'], got {ops!r}")
    names = tuple(dict.fromkeys(given))
    unknown = [o for o in names if o not in FAMILIES]
    if unknown:
        raise _ValueInputError(f"unknown op {unknown[0]!r}; known: {', '.join(FAMILIES)}")
    if not names:
        raise _ValueInputError("ops is empty: name at least one op, e.g. ['add', 'mul']")
    return names


def _describe(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 120:
        first = first[:117] + "..."
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _fmt(x: float) -> str:
    text = repr(x)
    return text if len(text) <= 12 else format(x, ".10g")


def _pairs(numbers: Mapping[str, float]) -> str:
    return ", ".join(f"{k} = {_fmt(v)}" for k, v in numbers.items())


class InputError(Exception):
    """Bad input to the grader: not a Value-like class, an unknown op, a missing file."""


class _TypeInputError(InputError, TypeError):
    pass


class _ValueInputError(InputError, ValueError):
    pass


_modules = itertools.count(1)


def load_engine(target: str) -> tuple[type, str | None]:
    """Import `path/to/engine.py[:ClassName]` and return the class (default name `Value`).

    This runs the file's code, as `import` does. The second item is the module name the
    printed examples import from (the file's stem), or None when it is not an identifier.
    The text after the last colon names the class only when it is an identifier.

    Raises:
        InputError: no such file, the import raised, or no such class.
    """
    path_text, name = target, "Value"
    head, sep, tail = target.rpartition(":")
    if sep and head and tail.isidentifier():
        path_text, name = head, tail
    path = Path(path_text)
    if not path.is_file():
        raise _ValueInputError(f"no such file: {path_text}")
    module_name = f"_microgradx_graded_{next(_modules)}_{path.stem}"
    loader = importlib.machinery.SourceFileLoader(module_name, str(path))
    spec = importlib.util.spec_from_loader(module_name, loader)
    assert spec is not None  # a SourceFileLoader always gives one
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # so the file can import its neighbours
    try:
        loader.exec_module(module)
    except (Exception, SystemExit) as e:
        del sys.modules[module_name]
        raise _ValueInputError(f"importing {path_text} raised {_describe(e)}") from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    cls = getattr(module, name, None)
    if cls is None:
        classes = [
            k
            for k, v in vars(module).items()
            if isinstance(v, type) and v.__module__ == module_name
        ]
        hint = f" (it defines {', '.join(classes)}: name one as {path_text}:CLASS)"
        raise _ValueInputError(f"{path_text} has no class {name}" + (hint if classes else ""))
    if not isinstance(cls, type):
        raise _TypeInputError(f"{path_text}:{name} is a {type(cls).__name__}, not a class")
    return cls, (path.stem if path.stem.isidentifier() else None)


class _FoundError(Exception):
    """Raised inside a Hypothesis property: this example fails (or differs)."""

    def __init__(self, finding: Finding):
        super().__init__(finding.title)
        self.finding = finding


def _found_in(e: BaseException) -> Finding | None:
    # a Flaky error or an exception group from Hypothesis may carry the example inside
    stack: list[BaseException] = [e]
    seen: set[int] = set()
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, _FoundError):
            return x.finding
        stack += list(getattr(x, "exceptions", ()))
        stack += [c for c in (x.__cause__, x.__context__) if c is not None]
    return None


@dataclass(frozen=True)
class _Expected:
    numbers: dict[str, float]  # out.data and every input's gradient
    values: tuple[float, ...]  # every node's value
    adjoints: tuple[float, ...]  # every node's gradient
    scale: float


_INVALID = object()  # an example Hypothesis should not count (near a kink, too large)


def _points() -> SearchStrategy[float]:
    from hypothesis import strategies as st

    # mostly round numbers (readable examples), and any float in range
    nice = st.integers(-24, 24).map(lambda n: n / 8)
    return st.one_of(nice, st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False))


def _graphs(forms: Sequence[Form]) -> SearchStrategy[Graph]:
    from hypothesis import strategies as st

    @st.composite
    def graphs(draw: st.DrawFn) -> Graph:
        n_in = draw(st.integers(1, 3))
        inputs = tuple(draw(_points()) for _ in range(n_in))
        steps: list[Step] = []
        for j in range(draw(st.integers(1, _MAX_OPS))):
            f = draw(st.sampled_from(forms))
            size = n_in + j
            # counted back from the newest node: shrinks towards a chain
            args = tuple(size - 1 - draw(st.integers(0, size - 1)) for _ in range(f.arity))
            k = draw(st.sampled_from(f.constants)) if f.constants else 0.0
            steps.append(Step(f, args, k))
        return Graph(inputs, tuple(steps)).pruned()

    return graphs()


def _expected(graph: Graph, check_domain: bool = True) -> _Expected | None:
    """microgradx's numbers on `graph`; None where it is near a kink or too large."""
    nodes: list[Any] = [_Reference(x) for x in graph.inputs]
    for s in graph.steps:
        a = nodes[s.args[0]]
        b = nodes[s.args[1]] if len(s.args) > 1 else None
        if check_domain and not s.form.smooth(a.data, b.data if b is not None else 0.0, s.k):
            return None
        out = s.form.apply(a, b, s.k)
        if check_domain and not abs(out.data) <= BOUND:
            return None
        nodes.append(out)
    nodes[-1].backward()
    values = tuple(number(v.data) for v in nodes)
    adjoints = tuple(number(v.grad) for v in nodes)
    if check_domain and not all(abs(g) <= BOUND for g in adjoints):
        return None
    names = graph.names()
    numbers = {"out.data": values[-1]}
    numbers |= {f"{names[i]}.grad": adjoints[i] for i in range(len(graph.inputs))}
    scale = max([1.0, *(abs(x) for x in (*values, *adjoints) if math.isfinite(x))])
    return _Expected(numbers, values, adjoints, scale)


def _importable(cls: type) -> bool:
    """Whether `from module import Name` finds `cls` (not in `__main__` or a function)."""
    module = sys.modules.get(cls.__module__)
    return (
        module is not None
        and cls.__module__ != "__main__"
        and getattr(module, "__spec__", None) is not None
        and cls.__qualname__ == cls.__name__
        and getattr(module, cls.__name__, None) is cls
    )


def _agree(
    expected: Mapping[str, float], received: Mapping[str, float], rtol: float, scale: float
) -> bool:
    return all(k in received and close(v, received[k], rtol, scale) for k, v in expected.items())


class _Context:
    """One grading run: the class, the settings, and what has been found so far."""

    def __init__(
        self, cls: type, rtol: float, seed: int | None, max_examples: int, module: str | None
    ):
        self.cls = cls
        self.name = cls.__name__
        self.rtol = rtol
        self.seed = seed
        self.max_examples = max_examples
        self.header = f"# {self.name}: the class you graded"
        if module is not None:
            self.header = f"from {module} import {self.name}"
        elif _importable(cls):
            self.header = f"from {cls.__module__} import {self.name}"
        self.failures: list[Finding] = []
        self.notes: list[Finding] = []
        self.link = self._find_link()

    # -- running examples -------------------------------------------------------------

    def _find_link(self) -> str | None:
        try:
            a, b = self.cls(1.0), self.cls(2.0)
            c = a * b
        except Exception:
            return None
        for name in _LINKS:
            kids = getattr(c, name, None)
            if isinstance(kids, (tuple, list, set, frozenset)) and any(x is a for x in kids):
                return name
        return None

    def receive(self, graph: Graph) -> tuple[dict[str, float], str | None]:
        """Build `graph` with the engine and backpropagate: its numbers, or its exception."""
        received: dict[str, float] = {}
        names = graph.names()
        try:
            nodes = graph.build(self.cls)
            received["out.data"] = number(nodes[-1].data)
            nodes[-1].backward()
            for i in range(len(graph.inputs)):
                received[f"{names[i]}.grad"] = number(nodes[i].grad)
        except Exception as e:
            return received, _describe(e)
        return received, None

    def program(self, graph: Graph, tail: Sequence[str] = (), comment: str = "") -> str:
        """Runnable code: build `graph` with the engine, backward, print (or `tail`)."""
        names = graph.names()[: len(graph.inputs)]
        lines = [self.header, "", *graph.lines(self.name)]
        if tail:
            lines += tail
        else:
            grads = ", ".join(f"{n}.grad" for n in names)
            lines += ["out.backward()", f"print(out.data, {grads}){comment}"]
        return "\n".join(lines)

    def search(
        self,
        strategy: SearchStrategy[Any],
        check: Callable[[Any], Finding | object | None],
        examples: int,
    ) -> tuple[Finding | None, bool]:
        """Run `check` on examples from `strategy`: the shrunk failure, and whether any ran.

        `check` returns a `Finding` for a failing example, None for a passing one and
        `_INVALID` for one to discard.
        """
        from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings
        from hypothesis import seed as hseed
        from hypothesis.errors import Unsatisfiable

        found: list[Finding] = []
        valid = [0]

        @settings(
            max_examples=examples,
            derandomize=self.seed is None,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            report_multiple_bugs=False,
            print_blob=False,
            # no explain phase: it replays the shrunk example many times to say which
            # parts matter, and the report shows the example itself
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        )
        @given(strategy)
        def prop(example: Any) -> None:
            result = check(example)
            assume(result is not _INVALID)
            valid[0] += 1
            if isinstance(result, Finding):
                found.append(result)
                raise _FoundError(result)

        test = prop if self.seed is None else hseed(self.seed)(prop)
        try:
            test()
        except _FoundError as e:
            return e.finding, True
        except Unsatisfiable:
            return None, False
        except Exception as e:  # e.g. Flaky: the engine answered differently on a replay
            inner = _found_in(e)
            if inner is None and found:
                inner = min(found, key=lambda f: (f.ops, len(f.code)))
            if inner is None:
                raise
            return inner, True
        return None, valid[0] > 0

    # -- the checks -------------------------------------------------------------------

    def run(self, chosen: tuple[str, ...] | None) -> EngineReport:
        families, unsupported = self.supported(chosen)
        categories: dict[str, CheckResult] = {}
        ops_result, passed = self.check_ops(families, unsupported)
        categories["ops"] = ops_result
        categories["reuse"] = self.check_reuse(passed)
        categories["graphs"] = self.check_graphs(passed)
        categories["depth"], max_depth = self.check_depth(passed)
        categories["rerun"] = self.check_rerun(passed)
        categories["accumulate"] = self.check_accumulate(passed)
        categories["edges"] = self.check_edges(families)
        for key, result in categories.items():
            categories[key] = CheckResult(result.status, result.why, _TITLES[key], result.rows)
        return EngineReport(
            engine=f"{self.cls.__module__}.{self.cls.__qualname__}",
            categories=categories,
            failures=tuple(self.failures),
            notes=tuple(self.notes),
            ops=families,
            unsupported=unsupported,
            max_depth=max_depth,
            seed=self.seed,
            max_examples=self.max_examples,
        )

    def supported(self, chosen: tuple[str, ...] | None) -> tuple[tuple[str, ...], dict[str, str]]:
        """The ops to check and, for each op left out, why."""
        if chosen is not None:
            left_out = {f: "not in ops=" for f in FAMILIES if f not in chosen}
            return tuple(f for f in FAMILIES if f in chosen), left_out
        found: list[str] = []
        unsupported: dict[str, str] = {}
        for family, forms in FAMILIES.items():
            base = forms[0]
            if family in REQUIRED:
                found.append(family)
                continue
            if getattr(self.cls, base.method, None) is None:
                unsupported[family] = (
                    "no such method" if base.method.isalpha() else f"no {base.method}"
                )
                continue
            try:
                k = base.constants[0] if base.constants else 2.0
                base.apply(self.cls(0.75), self.cls(1.25), k)
            except (TypeError, AssertionError, NotImplementedError, AttributeError) as e:
                unsupported[family] = f"{base.text} raised {_describe(e)}"
                continue
            except Exception:
                pass  # it tries: the ops check reports what goes wrong
            found.append(family)
        return tuple(found), unsupported

    def check_ops(
        self, families: tuple[str, ...], unsupported: Mapping[str, str]
    ) -> tuple[CheckResult, list[Form]]:
        from hypothesis import strategies as st

        rows: list[tuple[str, CheckResult]] = []
        passed: list[Form] = []
        examples = max(10, self.max_examples // 10)
        mul = form("{a} * {b}")
        order = sorted(families, key=lambda f: f != "mul")  # the weighted checks need a * b
        results: dict[str, CheckResult] = {}
        for family in order:
            wrong: list[str] = []
            for f in FAMILIES[family]:
                weighted = mul in passed or f is mul
                points = st.tuples(
                    _points(),
                    _points(),
                    st.sampled_from(f.constants) if f.constants else st.just(2.0),
                )
                finding, ran = self.search(points, self._op_check(f, weighted), examples)
                if finding is not None:
                    self.failures.append(finding)
                    several = len(FAMILIES[family]) > 1
                    wrong.append(f"{finding.title}: " * several + _short(finding))
                elif ran:
                    passed.append(f)
            forms = ", ".join(f.text for f in FAMILIES[family])
            if wrong:
                results[family] = CheckResult("failed", "; ".join(wrong), forms)
            else:
                results[family] = CheckResult("passed", "", forms)
        for family in FAMILIES:
            if family in results:
                rows.append((family, results[family]))
        # one row per reason: "exp, log, tanh: no such method"
        reasons: dict[str, list[str]] = {}
        for family in FAMILIES:
            if family in unsupported:
                reasons.setdefault(unsupported[family], []).append(family)
        for why, group in reasons.items():
            if len(group) == 1:
                title, text = ", ".join(f.text for f in FAMILIES[group[0]]), why
            else:
                title, text = f"{len(group)} ops", f"{', '.join(group)}: {why}"
            rows.append((", ".join(group), CheckResult("skipped", text, title)))
        bad = [f for f in results if results[f].status == "failed"]
        n_forms = sum(len(FAMILIES[f]) for f in families)
        if bad:
            result = CheckResult("failed", f"wrong: {', '.join(bad)}", rows=tuple(rows))
        else:
            why = f"{n_forms} forms of {len(families)} ops"
            result = CheckResult("passed", why, rows=tuple(rows))
        return result, [f for f in FORMS if f in passed]

    def _op_graph(self, f: Form, a: float, b: float, k: float, weight: bool) -> Graph:
        inputs: tuple[float, ...] = (a,) if f.arity == 1 else (a, b)
        labels: tuple[str, ...] = ("a",) if f.arity == 1 else ("a", "b")
        steps = [Step(f, tuple(range(f.arity)), k)]
        if weight:
            inputs, labels = (*inputs, _WEIGHT), (*labels, "w")
            steps.append(Step(form("{a} * {b}"), (len(inputs), len(inputs) - 1)))
        return Graph(inputs, tuple(steps), labels)

    def _op_check(self, f: Form, weighted: bool) -> Callable[[Any], object]:
        return lambda point: self._op_example(f, point, weighted)

    def _op_example(self, f: Form, point: tuple[float, float, float], weighted: bool) -> object:
        a, b, k = point
        plain = self._op_graph(f, a, b, k, weight=False)
        expected = _expected(plain)
        if expected is None:
            return _INVALID
        finding = self._compare(plain, expected, "ops", self._op_culprit(f, weighted=False))
        if finding is not None or not weighted:
            return finding
        heavy = self._op_graph(f, a, b, k, weight=True)
        expected = _expected(heavy)
        if expected is None:
            return _INVALID
        return self._compare(heavy, expected, "ops", self._op_culprit(f, weighted=True))

    def _op_culprit(self, f: Form, weighted: bool) -> str:
        if weighted:
            return (
                f"the rule of {f.text} ({f.rule}) must multiply by the gradient coming in "
                "from its output (out.grad); with out.grad = 1 the mistake does not show"
            )
        return f"the rule of {f.text}: {f.rule}"

    def _compare(
        self, graph: Graph, expected: _Expected, category: str, culprit: str
    ) -> Finding | None:
        received, error = self.receive(graph)
        if error is None and _agree(expected.numbers, received, self.rtol, expected.scale):
            return None
        if error is not None:
            culprit = self._error_hint(graph, error) or culprit
        numbers = "  # microgradx: " + " ".join(_fmt(v) for v in expected.numbers.values())
        return Finding(
            category=category,
            title=graph.title,
            code=self.program(graph, comment=numbers),
            expected=expected.numbers,
            received=received,
            error=error,
            culprit=culprit,
            ops=graph.n_ops,
        )

    def _error_hint(self, graph: Graph, error: str) -> str:
        # which form raised: rerun the graph one step at a time
        for j in range(1, graph.n_ops + 1):
            part = Graph(graph.inputs, graph.steps[:j], graph.labels)
            try:
                part.build(self.cls)
            except Exception as e:
                f = graph.steps[j - 1].form
                text = f.text
                missing = getattr(self.cls, f.method, None) is None
                if missing and f.method.startswith("__r") and isinstance(e, TypeError):
                    return (
                        f"{text}: for a number on the left Python calls {f.method}; "
                        f"define it on {self.name}"
                    )
                if isinstance(e, AttributeError) and (
                    "'float' object" in str(e) or "'int' object" in str(e)
                ):
                    return (
                        f"{text}: wrap a number operand first, e.g. other = other if "
                        f"isinstance(other, {self.name}) else {self.name}(other)"
                    )
                return f"{text} raised {_describe(e)}"
        return f"backward() raised {error}"

    def check_reuse(self, passed: Sequence[Form]) -> CheckResult:
        from hypothesis import strategies as st

        add, mul = form("{a} + {b}"), form("{a} * {b}")
        if add not in passed or mul not in passed:
            return CheckResult("skipped", "needs a + b and a * b right on their own first")
        same = "a node used twice by one op: its rule must add (+=) both parts to .grad"
        shapes: list[tuple[int, tuple[Step, ...], str]] = [
            (1, (Step(add, (0, 0)),), same),
            (1, (Step(mul, (0, 0)),), same),
            (1, (Step(mul, (0, 0)), Step(add, (1, 1))), same),
            (
                2,
                (Step(mul, (0, 1)), Step(add, (0, 1)), Step(mul, (2, 3))),
                "a and b are each used by two ops: each op must add (+=) to their .grad",
            ),
            (
                1,
                (Step(mul, (0, 0)), Step(mul, (1, 0)), Step(add, (2, 1))),
                "v1 is used by two ops: backward() must run v1's rule only after both have "
                "added their part to v1.grad (visit nodes in reverse topological order, "
                "each once)",
            ),
        ]

        def example(x: tuple[int, float, float]) -> object:
            i, a, b = x
            n_in, steps, culprit = shapes[i]
            graph = Graph((a, b)[:n_in], steps)
            expected = _expected(graph)
            if expected is None:
                return _INVALID
            return self._compare(graph, expected, "reuse", culprit)

        strategy = st.tuples(st.integers(0, len(shapes) - 1), _points(), _points())
        finding, _ = self.search(strategy, example, max(25, self.max_examples // 4))
        if finding is not None:
            self.failures.append(finding)
            return CheckResult("failed", f"{finding.title}: {_short(finding)}")
        return CheckResult("passed", "a + a, a * a, (a*a) + (a*a), diamonds")

    def check_graphs(self, passed: Sequence[Form]) -> CheckResult:
        if not passed:
            return CheckResult("skipped", "no op is right on its own")

        def example(graph: Graph) -> object:
            expected = _expected(graph)
            if expected is None:
                return _INVALID
            received, error = self.receive(graph)
            if error is None and _agree(expected.numbers, received, self.rtol, expected.scale):
                return None
            return self._compare(graph, expected, "graphs", self._blame(graph, expected))

        finding, ran = self.search(_graphs(passed), example, self.max_examples)
        if finding is not None:
            self.failures.append(finding)
            size = f"{finding.ops} op{'s' * (finding.ops != 1)}"
            return CheckResult("failed", f"{size}: {_short(finding)}")
        if not ran:
            return CheckResult("skipped", "no random graph could be made from these ops")
        why = f"up to {_MAX_OPS} ops with shared subexpressions, from {len(passed)} forms"
        return CheckResult("passed", why)

    def _blame(self, graph: Graph, expected: _Expected) -> str:
        """The likely culprit of a failing graph: the first op wrong on its own, or backward."""
        n = len(graph.inputs)
        names = graph.names()
        for j, s in enumerate(graph.steps):
            # the op alone on fresh leaves at the same inputs (an operand used twice stays so)
            operands = sorted(set(s.args))
            local = Graph(
                tuple(expected.values[i] for i in operands),
                (Step(s.form, tuple(operands.index(i) for i in s.args), s.k),),
            )
            want = _expected(local, check_domain=False)
            if want is None:
                continue
            received, error = self.receive(local)
            if error is None and _agree(want.numbers, received, self.rtol, want.scale):
                continue
            if len(operands) < len(s.args):
                return (
                    f"{names[n + j]} uses {names[operands[0]]} twice: the rule of "
                    f"{s.form.text} must add (+=) both parts to .grad, not overwrite it"
                )
            return f"the rule of {s.form.text}, wrong at these inputs: {s.form.rule}"
        uses = graph.uses()
        shared = [i for i in range(n, n + len(graph.steps)) if uses[i] > 1]
        if shared:
            return (
                f"{names[shared[0]]} is used by several ops: backward() must run its rule only "
                "after all of them added their part (reverse topological order, each node once)"
            )
        if any(u > 1 for u in uses[:n]):
            return "an input is used by several ops: each must add (+=) to its .grad"
        return "every op is right on its own here: look at backward() (the order, out.grad = 1)"

    def check_depth(self, passed: Sequence[Form]) -> tuple[CheckResult, int | None]:
        if form("{a} + {b}") not in passed:
            return CheckResult("skipped", "needs a + b right on its own first"), None
        expected = _chain(_Reference, DEPTH)
        outcome = _in_thread(lambda: _deepest(self.cls))
        tail = [
            "v = a",
            f"for _ in range({DEPTH}):",
            f"    v = v + {self.name}(1.0)",
            "v.backward()",
            f"print(v.data, a.grad)  # microgradx: {_fmt(expected[0])} {_fmt(expected[1])}",
        ]
        code = "\n".join([self.header, "", f"a = {self.name}(0.5)", *tail])
        want = {"v.data": expected[0], "a.grad": expected[1]}
        title = f"v = v + {self.name}(1.0), {DEPTH:,} times"
        if isinstance(outcome, int):  # the longest chain that worked
            error = "RecursionError: maximum recursion depth exceeded"
            self.failures.append(
                Finding(
                    "depth",
                    title,
                    code,
                    want,
                    {},
                    error,
                    f"backward() recurses once per node (at most {RECURSION_LIMIT} deep by "
                    "default): build the topological order with a loop and a stack instead",
                    DEPTH,
                )
            )
            why = (
                f"RecursionError (default recursion limit {RECURSION_LIMIT}); "
                f"the longest chain that works: {outcome:,} ops"
            )
            return CheckResult("failed", why), outcome
        if isinstance(outcome, BaseException):
            error = _describe(outcome)
            self.failures.append(Finding("depth", title, code, want, {}, error, error, DEPTH))
            return CheckResult("failed", f"raised {error}"), None
        got = {"v.data": outcome[0], "a.grad": outcome[1]}
        if not _agree(want, got, self.rtol, 1.0):
            self.failures.append(
                Finding(
                    "depth",
                    title,
                    code,
                    want,
                    got,
                    None,
                    "every a + b is right alone: look at how backward() walks a long chain",
                    DEPTH,
                )
            )
            return CheckResult("failed", f"v.data, a.grad = {_pairs(got)}"), None
        return CheckResult(
            "passed", f"works with the default recursion limit ({RECURSION_LIMIT})"
        ), None

    def _reachable(self, nodes: Sequence[Any]) -> list[Any]:
        """Every node the engine exposes: those built, and those its ops made inside."""
        out: list[Any] = []
        seen: set[int] = set()
        todo = list(reversed(nodes))
        while todo:
            v = todo.pop()
            if id(v) in seen:
                continue
            seen.add(id(v))
            out.append(v)
            if self.link is not None:
                kids = getattr(v, self.link, ())
                todo += [k for k in kids if is_value_like(k)]
        return out

    def _zeroing_code(self, graph: Graph) -> list[str]:
        if self.link is None:
            names = graph.names()
            return [f"{' = '.join(f'{n}.grad' for n in names)} = 0.0"]
        return [
            f"# zero every gradient: the nodes above and those the ops made inside ({self.link})",
            "todo, seen = [out], set()",
            "while todo:",
            "    v = todo.pop()",
            "    if id(v) not in seen:",
            "        seen.add(id(v))",
            "        v.grad = 0.0",
            f"        todo.extend(v.{self.link})",
        ]

    def _twice(
        self, graph: Graph, zero: str, expected: _Expected
    ) -> tuple[list[float], list[float], str | None] | None:
        """Input gradients after one backward() and after a second one.

        `zero` is "all" (zero every gradient in between), "inputs" or "none". None when the
        first call fails or disagrees with microgradx: the one-backward checks report that.
        """
        n = len(graph.inputs)
        try:
            nodes = graph.build(self.cls)
            nodes[-1].backward()
            first = [number(v.grad) for v in nodes[:n]]
        except Exception:
            return None
        want = expected.adjoints[:n]
        if not all(
            close(x, y, self.rtol, expected.scale) for x, y in zip(want, first, strict=True)
        ):
            return None
        try:
            if zero != "none":
                for v in self._reachable(nodes) if zero == "all" else nodes[:n]:
                    v.grad = 0.0
            nodes[-1].backward()
            second = [number(v.grad) for v in nodes[:n]]
        except Exception as e:
            return first, [], _describe(e)
        return first, second, None

    def check_rerun(self, passed: Sequence[Form]) -> CheckResult:
        if not passed:
            return CheckResult("skipped", "no op is right on its own")
        try:
            self.cls(1.0).grad = 0.0
        except Exception as e:
            return CheckResult("skipped", f"setting .grad = 0.0 raised {_describe(e)}")

        def example(graph: Graph) -> object:
            expected = _expected(graph)
            if expected is None:
                return _INVALID
            result = self._twice(graph, "all", expected)
            if result is None:
                return _INVALID
            first, second, error = result
            names = graph.names()[: len(graph.inputs)]
            if error is None and all(
                close(x, y, self.rtol, expected.scale) for x, y in zip(first, second, strict=True)
            ):
                return None
            grads = ", ".join(f"{n}.grad" for n in names)
            tail = [
                "out.backward()",
                f"first = [{grads}]",
                *self._zeroing_code(graph),
                "out.backward()",
                f"print(first, [{grads}])  # the same numbers twice",
            ]
            return Finding(
                "rerun",
                graph.title,
                self.program(graph, tail),
                {f"{n}.grad": x for n, x in zip(names, first, strict=True)},
                {f"{n}.grad": x for n, x in zip(names, second, strict=False)},
                error,
                "backward() keeps something from the first call that zeroing .grad does not "
                "reset (a hidden accumulator, or gradients cached on the nodes): start every "
                "call from zero",
                graph.n_ops,
            )

        finding, ran = self.search(_graphs(passed), example, max(10, self.max_examples // 4))
        if finding is not None:
            self.failures.append(finding)
            return CheckResult(
                "failed",
                f"second call: {_pairs(finding.received)}; first: {_pairs(finding.expected)}",
            )
        if not ran:
            return CheckResult("skipped", "no random graph backpropagates without an error")
        how = f"via .{self.link}" if self.link else "the nodes built"
        return CheckResult("passed", f"every .grad set to 0 ({how}): the same gradients again")

    def check_accumulate(self, passed: Sequence[Form]) -> CheckResult:
        if not passed:
            return CheckResult("skipped", "no op is right on its own")

        def example(graph: Graph) -> object:
            expected = _expected(graph)
            if expected is None:
                return _INVALID
            result = self._twice(graph, "none", expected)
            if result is None:
                return _INVALID
            first, second, error = result
            if error is None and all(
                close(2 * x, y, self.rtol, expected.scale)
                for x, y in zip(first, second, strict=True)
            ):
                return None
            names = graph.names()[: len(graph.inputs)]
            grads = ", ".join(f"{n}.grad" for n in names)
            # zero only the inputs: a second call that still differs uses leftovers inside
            again = self._twice(graph, "inputs", expected)
            keeps = (
                again is not None
                and again[2] is None
                and not all(
                    close(x, y, self.rtol, expected.scale)
                    for x, y in zip(again[0], again[1], strict=True)
                )
            )
            if keeps:
                hint = (
                    "backward() adds in the gradients the intermediate nodes kept from the first "
                    "call (micrograd does the same). PyTorch computes each call afresh: reset "
                    "every node's .grad in backward(), or zero them all between calls"
                )
            elif error is None and all(
                close(x, y, self.rtol, expected.scale) for x, y in zip(first, second, strict=True)
            ):
                hint = (
                    "the second call gives the same gradients as the first: a rule overwrites "
                    ".grad (=) where PyTorch adds (+=)"
                )
            else:
                hint = "PyTorch's second backward() adds exactly the first gradients again"
            tail = [
                "out.backward()",
                f"first = [{grads}]",
                "out.backward()  # again, without zeroing",
                f"print(first, [{grads}])  # PyTorch: the second is twice the first",
            ]
            return Finding(
                "accumulate",
                graph.title,
                self.program(graph, tail),
                {f"{n}.grad": 2 * x for n, x in zip(names, first, strict=True)},
                {f"{n}.grad": x for n, x in zip(names, second, strict=False)},
                error,
                hint,
                graph.n_ops,
            )

        finding, ran = self.search(_graphs(passed), example, max(10, self.max_examples // 4))
        if finding is not None:
            self.notes.append(finding)
            like = (
                "intermediate nodes keep their gradients"
                if "intermediate" in finding.culprit
                else "not twice the first"
            )
            return CheckResult("note", f"not PyTorch's semantics: {like} (see the note)")
        if not ran:
            return CheckResult("skipped", "no random graph backpropagates without an error")
        return CheckResult("passed", "twice the gradient of one call, as in PyTorch")

    def check_edges(self, families: Sequence[str]) -> CheckResult:
        checked = 0
        differ: list[str] = []
        for family, title, template, a, b, k in _EDGES:
            if family not in families:
                continue
            f = form(template)
            n_in = f.arity
            graph = Graph((a, b)[:n_in], (Step(f, tuple(range(n_in)), k),))
            try:
                expected = _expected(graph, check_domain=False)
            except Exception:
                continue  # microgradx has no convention here
            if expected is None:
                continue
            checked += 1
            received, error = self.receive(graph)
            if error is None and _agree(expected.numbers, received, self.rtol, 1.0):
                continue
            differ.append(title)
            self.notes.append(
                Finding(
                    "edges",
                    title,
                    self.program(
                        graph,
                        comment="  # PyTorch: "
                        + " ".join(_fmt(v) for v in expected.numbers.values()),
                    ),
                    expected.numbers,
                    received,
                    error,
                    "conventions differ here; PyTorch (and IEEE 754) give "
                    + _pairs(expected.numbers),
                    1,
                )
            )
        if not checked:
            return CheckResult("skipped", "none of the ops checked has a kink or an edge")
        if differ:
            return CheckResult(
                "note", f"{len(differ)} of {checked} differ from PyTorch (see the notes)"
            )
        return CheckResult("passed", f"{checked} kinks and edges as in PyTorch")


# (family, title, form, a, b, k): points where conventions differ between engines
_EDGES: tuple[tuple[str, str, str, float, float, float], ...] = (
    ("relu", "relu at 0", "{a}.relu()", 0.0, 0.0, 0.0),
    ("abs", "abs at 0", "abs({a})", 0.0, 0.0, 0.0),
    ("div", "a / b at b = 0", "{a} / {b}", 1.0, 0.0, 0.0),
    ("div", "a / b at a = b = 0", "{a} / {b}", 0.0, 0.0, 0.0),
    ("pow", "a ** 0 at 0", "{a} ** {k}", 0.0, 0.0, 0),
    ("pow", "a ** 0.5 at 0", "{a} ** {k}", 0.0, 0.0, 0.5),
    ("pow", "a ** -1 at 0", "{a} ** {k}", 0.0, 0.0, -1),
    ("vpow", "a ** b at a = 0, b = 2", "{a} ** {b}", 0.0, 2.0, 0.0),
    ("log", "log at 0", "{a}.log()", 0.0, 0.0, 0.0),
    ("log", "log at -1", "{a}.log()", -1.0, 0.0, 0.0),
    ("sqrt", "sqrt at 0", "{a}.sqrt()", 0.0, 0.0, 0.0),
    ("exp", "exp at 1000", "{a}.exp()", 1000.0, 0.0, 0.0),
    ("tanh", "tanh at 1000", "{a}.tanh()", 1000.0, 0.0, 0.0),
    ("sigmoid", "sigmoid at -1000", "{a}.sigmoid()", -1000.0, 0.0, 0.0),
)


def _short(f: Finding) -> str:
    if f.error is not None and not f.received:
        return f"raised {f.error}"
    diffs = [
        f"{k} {_fmt(f.received[k])} instead of {_fmt(v)}"
        for k, v in f.expected.items()
        if k in f.received and not close(v, f.received[k], 1e-9)
    ]
    if f.error is not None:
        diffs.append(f"raised {f.error}")
    return ", ".join(diffs[:2]) or "differs"


def _chain(cls: type, n: int) -> tuple[float, float]:
    a = cls(0.5)
    v = a
    for _ in range(n):
        v = v + cls(1.0)
    v.backward()
    return number(v.data), number(a.grad)


def _deepest(cls: type) -> tuple[float, float] | int:
    """The chain's numbers, or on a RecursionError the longest chain that works."""
    try:
        return _chain(cls, DEPTH)
    except RecursionError:
        pass
    works, fails = 0, DEPTH
    while fails - works > 1:
        mid = (works + fails) // 2
        try:
            _chain(cls, mid)
            works = mid
        except Exception:
            fails = mid
    return works


def _in_thread(job: Callable[[], Any]) -> Any:
    """Run `job` in a fresh thread under the default recursion limit; restore everything.

    A fresh thread starts with an empty stack, so the depth the engine reaches does not
    depend on how deep the caller is (pytest, Jupyter, the command line).
    """
    box: list[Any] = []

    def run() -> None:
        old = sys.getrecursionlimit()
        try:
            sys.setrecursionlimit(RECURSION_LIMIT)
            box.append(job())
        except Exception as e:
            box.append(e)
        finally:
            sys.setrecursionlimit(old)

    old_size = threading.stack_size()
    with contextlib.suppress(ValueError, RuntimeError):  # some platforms refuse a size
        threading.stack_size(_STACK)  # room for a recursive engine on every platform
    try:
        thread = threading.Thread(target=run, name="check_engine-depth", daemon=True)
        thread.start()
    finally:
        threading.stack_size(old_size)
    thread.join()
    return box[0] if box else RuntimeError("the depth check stopped without a result")
