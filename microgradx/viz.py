"""Diagrams and text traces of a computation graph.

`draw_dot` turns a graph into a `graphviz.Digraph` (one box per Value, one small
circle per op); `render` writes it as SVG or PNG. Rendering uses the system Graphviz
`dot` when it is installed and otherwise the self-contained `graphviz-pure` executable
(`pip install graphviz-pure`, included in `microgradx[viz]`), so diagrams work on a fresh
machine. `trace` prints the same graph as text, for terminals and logs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import graphviz  # type: ignore[import-untyped]

from . import engine
from .engine import Value, to_flag

__all__ = [
    "Diagram",
    "RenderError",
    "RendererNotFound",
    "draw_dot",
    "find_renderer",
    "path_between",
    "render",
    "save",
    "to_svg",
    "topological",
    "trace",
]

INSTALL_HINT = (
    'pip install graphviz-pure  (or pip install "microgradx[viz]"), '
    "or install the system Graphviz package that provides `dot`"
)
# formats written without any renderer: the DOT source itself
SOURCE_FORMATS = ("dot", "gv")
_FORMAT = re.compile(r"[A-Za-z0-9_.:-]+")

# colours: leaves that receive a gradient, the output, constants, highlighted nodes
_LEAF_FILL = "#dbeafe"
_ROOT_FILL = "#fde68a"
_CONST_COLOR = "#6b7280"
_HIGHLIGHT = "#dc2626"
_HIGHLIGHT_FILL = "#fee2e2"
_OP_STYLE = {"shape": "circle", "width": "0.35", "margin": "0.03", "fontsize": "12"}

Number = Callable[[float], str]


class RendererNotFound(RuntimeError):  # noqa: N818 - reads as a sentence at the raise site
    """Neither the system Graphviz `dot` nor `graphviz-pure` could be found."""


class RenderError(RuntimeError):
    """The renderer ran but failed (its error output is in the message)."""


# -- graph walks --------------------------------------------------------------------------


def _roots(root: Value | Iterable[Value], where: str) -> list[Value]:
    roots = [root] if isinstance(root, Value) else list(root)
    for i, r in enumerate(roots):
        if not isinstance(r, Value):
            raise TypeError(f"{where}: expected a Value or Values, got {type(r).__name__} at {i}")
    if not roots:
        raise ValueError(f"{where}: expected at least one Value")
    return list({id(r): r for r in roots}.values())  # each once, in order


class _Drawn:
    """The graph as drawn: each use of a number an op was given is a constant box of its own.

    The engine keeps one constant node per number, shared by every op given it; a picture
    shows a grey box for each use, as a program reads `a * 2 + b * 2`.
    """

    def __init__(self) -> None:
        self._uses: dict[tuple[int, int], Value] = {}
        self._held: list[Value] = []  # keeps the nodes whose ids key `_uses` alive

    def inputs(self, v: Value) -> list[Value]:
        """`v`'s inputs, a shared number as a box for this use (the same box every time)."""
        out = []
        for i, u in enumerate(v.inputs):
            if engine.is_shared_constant(u):
                key = (id(v), i)
                if key not in self._uses:
                    self._uses[key] = engine.constant(u.data)
                    self._held.append(v)
                u = self._uses[key]
            out.append(u)
        return out

    def order(self, roots: list[Value]) -> list[Value]:
        """Every drawn node, each after all of its inputs."""
        return engine.topological(roots, inputs=self.inputs)


def topological(root: Value | Iterable[Value]) -> list[Value]:
    """Every node the output(s) depend on, each after all of its inputs (iterative walk).

    Constants are included, and each plain number an op was given appears as a constant
    of its own. The graph's own bookkeeping is not touched, so this is safe to call at
    any time.
    """
    return _Drawn().order(_roots(root, "topological()"))


def path_between(source: Value | Iterable[Value], root: Value) -> set[Value]:
    """The nodes on some path from `source` (one Value or several) up to `root`.

    These are the nodes through which `source` influences `root`: pass the result to
    `draw_dot(root, highlight=...)` to see how a parameter reaches the loss. The set is
    empty when `root` does not depend on `source`.
    """
    sources = {id(s) for s in _roots(source, "path_between()")}
    on_path: dict[int, Value] = {}
    for v in engine.topological(_roots(root, "path_between()")):
        if id(v) in sources or any(id(x) in on_path for x in v.inputs):
            on_path[id(v)] = v
    return set(on_path.values())


def _nearest(roots: list[Value], limit: int, drawn: _Drawn) -> tuple[list[Value], int]:
    """The `limit` nodes closest to the roots (breadth first) and how many nodes exist."""
    seen: set[int] = {id(r) for r in roots}
    kept: list[Value] = []
    queue = deque(roots)
    total = len(roots)
    while queue:
        v = queue.popleft()
        if len(kept) < limit:
            kept.append(v)
        for x in drawn.inputs(v):
            if id(x) not in seen:
                seen.add(id(x))
                total += 1
                queue.append(x)
    return kept, total


# -- number formatting and DOT labels -----------------------------------------------------


def _number_format(fmt: str | Number) -> Number:
    if callable(fmt):
        return fmt
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be a format spec such as '.4f' or a function, got {fmt!r}")
    try:
        format(1.5, fmt)
    except ValueError as e:
        raise ValueError(f"fmt: {fmt!r} is not a valid float format spec ({e})") from None
    return lambda x: format(x, fmt)


def _as_float(x: Any) -> float:
    # a gradient made with create_graph=True is a Value
    return float(x.data if isinstance(x, Value) else x)


_RECORD_SPECIAL = re.compile(r'([{}|<>"\\])')


def _record_text(text: str) -> str:
    return _RECORD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- the diagram --------------------------------------------------------------------------


class Diagram(graphviz.Digraph):  # type: ignore[misc]
    """A `graphviz.Digraph` that renders without the system Graphviz.

    `pipe` (and so the SVG shown by Jupyter) and the `render` method fall back to
    `graphviz-pure` when `dot` is not installed; everything else is `graphviz.Digraph`.
    """

    def pipe(
        self,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        *,
        engine: str | None = None,
        encoding: str | None = None,
    ) -> bytes | str:
        """The diagram rendered in `format` (bytes, or str when `encoding` is given)."""
        if _system_dot() or renderer or formatter or neato_no_op or engine not in (None, "dot"):
            result: bytes | str = super().pipe(
                format, renderer, formatter, neato_no_op, quiet, engine=engine, encoding=encoding
            )
            return result
        data = _run(self.source, format or self.format)
        return data.decode(encoding) if encoding else data

    def render(
        self,
        filename: str | os.PathLike[str] | None = None,
        directory: str | os.PathLike[str] | None = None,
        view: bool = False,
        cleanup: bool = False,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        quiet_view: bool = False,
        *,
        outfile: str | os.PathLike[str] | None = None,
        engine: str | None = None,
        raise_if_result_exists: bool = False,
        overwrite_source: bool = False,
    ) -> str:
        """Like `graphviz.Digraph.render` (writes the source, then `source.FORMAT`).

        Without the system Graphviz this renders with `graphviz-pure` (`view=True` and
        the renderer/formatter/engine options still need the system Graphviz).
        """
        if (
            _system_dot()
            or view
            or renderer
            or formatter
            or neato_no_op
            or engine not in (None, "dot")
        ):
            result = super().render(
                filename, directory, view, cleanup, format, renderer, formatter, neato_no_op,
                quiet, quiet_view, outfile=outfile, engine=engine,
                raise_if_result_exists=raise_if_result_exists, overwrite_source=overwrite_source,
            )  # fmt: skip
            return str(result)
        fmt = format or (Path(outfile).suffix.lstrip(".") if outfile else "") or self.format
        if filename is None and outfile is not None:
            filename = Path(outfile).with_suffix(".gv")
        source_path = Path(self.save(filename, directory=directory))
        out = Path(outfile) if outfile is not None else Path(f"{source_path}.{fmt}")
        if raise_if_result_exists and out.exists():
            raise FileExistsError(f"output file exists: {out}")
        out.write_bytes(_run(self.source, fmt))
        if cleanup:
            source_path.unlink()
        return str(out)

    def _repr_svg_(self) -> str:
        return to_svg(self)


def draw_dot(
    root: Value | Iterable[Value],
    format: str = "svg",
    rankdir: str = "LR",
    *,
    show_grad: bool = True,
    fmt: str | Number = ".4f",
    highlight: Iterable[Value] = (),
    max_nodes: int | None = 200,
    stack: bool = False,
) -> Diagram:
    """The computation graph behind `root` as a `graphviz.Digraph`.

    Each Value is a box with its label (when it has one), `data` and `grad`; each op is
    a small circle between its inputs and its output, so the arrows follow the data.
    Leaves that receive a gradient are blue, the output is yellow, and constants (numbers
    lifted into the graph, which never get a gradient) are grey and dashed.

    Args:
        root: the output Value (or several outputs).
        format: the diagram's default output format (`"svg"`, `"png"`).
        rankdir: layout direction: `"LR"` (left to right) or `"TB"` (top to bottom).
        show_grad: show each node's `grad` next to its `data`.
        fmt: how numbers are written: a format spec (`".4f"`, `".3g"`) or a function.
        highlight: Values to draw in red (see `path_between`), with the ops and
            arrows that connect them.
        max_nodes: at most this many Values are drawn, the ones nearest the output; the
            rest is summarised in one box (how many nodes, which ops). `None` draws all.
        stack: put each box's label, data and grad on top of one another instead of side
            by side: with `rankdir="TB"` the diagram is then narrow enough to read on a
            page or a phone.

    Returns:
        A `Diagram` (a `graphviz.Digraph`): display it in Jupyter, or write it
        with `render`.
    """
    roots = _roots(root, "draw_dot()")
    if not isinstance(format, str) or not _FORMAT.fullmatch(format):
        raise ValueError(
            f"draw_dot(): format must be a name such as 'svg' or 'png', got {format!r}"
        )
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_dot(): rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    if max_nodes is not None and (
        not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes < 1
    ):
        raise ValueError(f"draw_dot(): max_nodes must be a positive int or None, got {max_nodes!r}")
    stack = to_flag(stack, "draw_dot(stack=...)")
    number = _number_format(fmt)
    marked = {id(v) for v in _roots(highlight, "draw_dot(highlight=...)")} if highlight else set()

    drawn = _Drawn()
    if max_nodes is None:
        nodes = drawn.order(roots)
        total = len(nodes)
    else:
        nodes, total = _nearest(roots, max_nodes, drawn)
        if total <= max_nodes:  # draw everything, in data-flow order
            nodes = drawn.order(roots)
    ids = {id(v): f"v{i}" for i, v in enumerate(nodes)}
    root_ids = {id(r) for r in roots}

    dot = Diagram(format=format, graph_attr={"rankdir": rankdir})
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", color="#374151", arrowsize="0.7")
    for v in nodes:
        name = ids[id(v)]
        dot.node(
            name,
            _value_label(v, number, show_grad, rankdir, stack),
            **_value_style(v, id(v) in root_ids, id(v) in marked),
        )
        inputs = drawn.inputs(v)
        if inputs and all(id(x) in ids for x in inputs):
            _op_node(dot, v, inputs, name, ids, marked)

    if total > len(nodes):
        _summarise(dot, nodes, drawn, ids, total, rankdir)
    return dot


def _value_label(v: Value, number: Number, show_grad: bool, rankdir: str, stack: bool) -> str:
    fields = [_record_text(v.label)] if v.label else []
    # a constant never gets a gradient: show only its value
    kind = "data" if v.requires_grad or v.label else "const"
    fields.append(f"{kind} {_record_text(number(v.data))}")
    if v.requires_grad and show_grad:
        fields.append(f"grad {_record_text(number(_as_float(v.grad)))}")
    return _record(fields, not stack, rankdir)


def _record(fields: list[str], side_by_side: bool, rankdir: str) -> str:
    # a record's fields stack across the rank direction; braces turn them the other way
    body = " | ".join(fields)
    return "{ " + body + " }" if side_by_side == (rankdir in ("LR", "RL")) else body


def _value_style(v: Value, is_root: bool, marked: bool) -> dict[str, str]:
    style: dict[str, str] = {"shape": "record"}
    if not v.requires_grad:
        style.update(style="dashed", color=_CONST_COLOR, fontcolor=_CONST_COLOR)
    elif is_root:
        style.update(style="filled", fillcolor=_ROOT_FILL)
    elif not v.inputs:
        style.update(style="filled", fillcolor=_LEAF_FILL)
    if marked:
        style.update(color=_HIGHLIGHT, penwidth="2.5")
        if v.requires_grad and not is_root and v.inputs:
            style.update(style="filled", fillcolor=_HIGHLIGHT_FILL)
    return style


def _op_node(
    dot: Diagram, v: Value, inputs: list[Value], name: str, ids: dict[int, str], marked: set[int]
) -> None:
    op = f"{name}_op"
    hot = id(v) in marked
    attrs = dict(_OP_STYLE)
    if hot:
        attrs.update(color=_HIGHLIGHT, penwidth="2", fontcolor=_HIGHLIGHT)
    dot.node(op, v._op, **attrs)
    for x in inputs:
        edge: dict[str, str] = {}
        if hot and id(x) in marked:
            edge.update(color=_HIGHLIGHT, penwidth="2")
        elif not x.requires_grad:
            edge.update(style="dashed", color=_CONST_COLOR)
        dot.edge(ids[id(x)], op, **edge)
    dot.edge(op, name, **({"color": _HIGHLIGHT, "penwidth": "2"} if hot else {}))


def _summarise(
    dot: Diagram,
    nodes: list[Value],
    drawn: _Drawn,
    ids: dict[int, str],
    total: int,
    rankdir: str,
) -> None:
    """One box standing for every node left out, joined to the drawn nodes it feeds."""
    hidden_ops: Counter[str] = Counter()
    leaves = constants = 0
    frontier = [
        v for v in nodes if drawn.inputs(v) and not all(id(x) in ids for x in drawn.inputs(v))
    ]
    seen = set(ids)
    stack: list[Value] = []
    for x in (x for v in frontier for x in drawn.inputs(v)):
        if id(x) not in seen:
            seen.add(id(x))
            stack.append(x)
    while stack:
        x = stack.pop()
        if x.inputs:
            hidden_ops[x.op] += 1
        elif x.requires_grad:
            leaves += 1
        else:
            constants += 1
        for y in drawn.inputs(x):
            if id(y) not in seen:
                seen.add(id(y))
                stack.append(y)
    hidden = total - len(nodes)
    lines = [f"{hidden:,} more nodes not drawn"]
    if hidden_ops:
        ops = ", ".join(f"{op} {n:,}" for op, n in hidden_ops.most_common(6))
        more = len(hidden_ops) - 6
        lines.append(f"ops: {ops}" + (f", {more} more kinds" if more > 0 else ""))
    lines.append(f"leaves: {leaves:,} with grad, {constants:,} constants")
    dot.node(
        "summary",
        _record([_record_text(s) for s in lines], False, rankdir),
        shape="record",
        style="filled,dashed",
        fillcolor="#f3f4f6",
        color=_CONST_COLOR,
    )
    for v in frontier:
        name = ids[id(v)]
        op = f"{name}_op"
        dot.node(op, v._op, **_OP_STYLE)
        for x in drawn.inputs(v):
            if id(x) in ids:
                dot.edge(ids[id(x)], op)
            else:
                dot.edge("summary", op, style="dashed", color=_CONST_COLOR)
        dot.edge(op, name)


# -- rendering ----------------------------------------------------------------------------


def _system_dot() -> str | None:
    return shutil.which("dot")


def _graphviz_pure() -> str | None:
    found = shutil.which("graphviz-pure")
    if found:
        return found
    # installed in a virtual environment that is not on PATH: look next to the interpreter
    suffix = ".exe" if os.name == "nt" else ""
    for folder in {
        Path(sys.executable).parent,
        Path(sys.prefix) / "bin",
        Path(sys.prefix) / "Scripts",
    }:
        candidate = folder / f"graphviz-pure{suffix}"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_renderer() -> str | None:
    """Path of the program that renders diagrams: system `dot`, else `graphviz-pure`."""
    return _system_dot() or _graphviz_pure()


def _run(source: str, format: str) -> bytes:
    program = find_renderer()
    if program is None:
        raise RendererNotFound(
            f"cannot render {format}: no Graphviz renderer found (neither `dot` nor "
            f"`graphviz-pure`). Install one: {INSTALL_HINT}"
        )
    done = subprocess.run(
        [program, f"-T{format}"], input=source.encode("utf-8"), capture_output=True, check=False
    )
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"{Path(program).name} -T{format} failed: {message or 'no output'}")
    return done.stdout


def _source_of(diagram: object, where: str) -> str:
    if isinstance(diagram, Value):
        return str(draw_dot(diagram).source)
    source = getattr(diagram, "source", None)
    if not isinstance(source, str):
        raise TypeError(
            f"{where}: expected a diagram from draw_dot() (a graphviz.Digraph) or a Value, "
            f"got {type(diagram).__name__}"
        )
    return source


def to_svg(diagram: object) -> str:
    """The diagram (or a Value's diagram) as an SVG document, with any available renderer."""
    return _run(_source_of(diagram, "to_svg()"), "svg").decode("utf-8")


def render(diagram: object, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Write a diagram to `path` as SVG or PNG and return the path written.

    `diagram` is what `draw_dot` returns (any `graphviz.Digraph` works) or a
    Value, which is drawn first. `format` defaults to the path's suffix (`.svg`,
    `.png`), else to the svg or png format the diagram was made with
    (`draw_dot(v, format="png")`), else `"svg"`; a path without such a suffix gets one
    (`lesson.v2` becomes `lesson.v2.svg`). Uses the system Graphviz `dot` when
    installed, else `graphviz-pure`. When neither exists the DOT source is
    written next to `path` (suffix `.dot`) and `RendererNotFound` says what to
    install.
    """
    source = _source_of(diagram, "render()")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"render(): path must be a str or a path, got {type(path).__name__}")
    target = Path(path)
    suffix = target.suffix.lstrip(".").lower()
    if format is None:
        own = getattr(diagram, "format", None)
        # a plain graphviz.Digraph says "pdf" by default: only svg and png count as chosen
        format = suffix if suffix in _KNOWN_SUFFIXES else own if own in ("svg", "png") else "svg"
    if not isinstance(format, str) or not _FORMAT.fullmatch(format):
        raise ValueError(f"render(): format must be a name such as 'svg' or 'png', got {format!r}")
    format = format.lower()
    if suffix != format:
        if suffix in _KNOWN_SUFFIXES:
            raise ValueError(
                f"render(): the path ends in .{suffix} but format is {format!r}; make them agree"
            )
        target = target.with_name(f"{target.name}.{format}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if format in SOURCE_FORMATS:
        target.write_text(source, encoding="utf-8")
        return target
    try:
        data = _run(source, format)
    except RendererNotFound as e:
        fallback = target.with_suffix(".dot")
        fallback.write_text(source, encoding="utf-8")
        raise RendererNotFound(f"{e}. The DOT source was written to {fallback}") from None
    target.write_bytes(data)
    return target


# Graphviz's output formats that are file suffixes too: such a suffix names the format
_KNOWN_SUFFIXES = {
    "bmp", "canon", "dot", "eps", "fig", "gd", "gd2", "gif", "gv", "ico", "imap", "jpe",
    "jpeg", "jpg", "json", "pdf", "pic", "plain", "png", "pov", "ps", "psd", "sgi", "svg",
    "svgz", "tga", "tif", "tiff", "vml", "vrml", "wbmp", "webp", "xdot",
}  # fmt: skip

#: the same as `render` (`microgradx.save` is the checkpoint function, not this)
save = render


# -- text trace ---------------------------------------------------------------------------


def trace(
    root: Value | Iterable[Value],
    *,
    fmt: str | Number = ".4f",
    max_nodes: int | None = None,
) -> str:
    """The graph as text: one line per node, inputs before the nodes that use them.

    Each line gives the node's number, label, how it was made (`leaf`, `const` or
    the op applied to earlier numbers), its data and its grad. With `max_nodes` only the
    last nodes (those nearest the output) are listed.

    Examples:
        >>> a = Value(2.0, label="a")
        >>> b = a * a
        >>> b.backward()
        >>> print(trace(b))
        #0  a  leaf        data 2.0000  grad 4.0000
        #1     mul(#0,#0)  data 4.0000  grad 1.0000
    """
    if max_nodes is not None and (
        not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes < 1
    ):
        raise ValueError(f"trace(): max_nodes must be a positive int or None, got {max_nodes!r}")
    number = _number_format(fmt)
    drawn = _Drawn()
    order = drawn.order(_roots(root, "trace()"))
    index = {id(v): i for i, v in enumerate(order)}
    rows = list(_trace_rows(order, drawn, index, number))
    skipped = 0
    if max_nodes is not None and len(rows) > max_nodes:
        skipped = len(rows) - max_nodes
        rows = rows[skipped:]
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    lines = [f"... {skipped:,} earlier nodes not shown"] if skipped else []
    for row in rows:
        left = "  ".join(row[c].ljust(widths[c]) for c in range(3))
        numbers = "  ".join(
            f"{name} {row[c].rjust(widths[c])}" for c, name in ((3, "data"), (4, "grad")) if row[c]
        )
        lines.append(f"{left}  {numbers}")
    return "\n".join(line.rstrip() for line in lines)


def _trace_rows(
    order: list[Value], drawn: _Drawn, index: dict[int, int], number: Number
) -> Iterator[tuple[str, str, str, str, str]]:
    for i, v in enumerate(order):
        if v.inputs:
            made = f"{v.op}({','.join(f'#{index[id(x)]}' for x in drawn.inputs(v))})"
        else:
            made = "leaf" if v.requires_grad else "const"
        grad = number(_as_float(v.grad)) if v.requires_grad else ""
        yield f"#{i}", v.label, made, number(v.data), grad
