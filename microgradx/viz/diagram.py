"""`draw_dot`: the computation graph as a diagram, one box per Value and one circle per op.

The diagram is a `Diagram`, a `graphviz.Digraph`: display it in Jupyter, or write it as
SVG or PNG with `render`. The boxes' labels and colours are made here, and the
step-by-step pictures (`render_steps`) draw the same boxes. The `graphviz` package is
imported with the first diagram, not with this module.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..checks import to_flag
from ..engine import Value
from .graph import Drawn, Number, as_float, as_roots, number_format
from .renderer import check_format

if TYPE_CHECKING:
    from .digraph import Diagram

__all__ = [
    "CONST_COLOR",
    "OP_STYLE",
    "draw_dot",
    "new_diagram",
    "record",
    "record_text",
    "value_style",
]

#: the colour of constants (numbers lifted into the graph, which never get a gradient)
CONST_COLOR = "#6b7280"
#: the attributes of an op's circle
OP_STYLE = {"shape": "circle", "width": "0.35", "margin": "0.03", "fontsize": "12"}
# fill colours of the leaves that receive a gradient and of the output; highlighted nodes
_LEAF_FILL = "#dbeafe"
_ROOT_FILL = "#fde68a"
_HIGHLIGHT = "#dc2626"
_HIGHLIGHT_FILL = "#fee2e2"
_RECORD_SPECIAL = re.compile(r'([{}|<>"\\])')


def new_diagram(format: str, rankdir: str) -> Diagram:
    """An empty diagram with the fonts and arrows every picture of a graph uses.

    Raises:
        ImportError: the `graphviz` package is not installed (the message names the extra).
    """
    from .digraph import Diagram  # here, not at the top: only diagrams need graphviz

    dot = Diagram(format=format, graph_attr={"rankdir": rankdir})
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", color="#374151", arrowsize="0.7")
    return dot


def record_text(text: str) -> str:
    """`text` escaped for a field of a Graphviz record label, on one line."""
    return _RECORD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def record(fields: list[str], side_by_side: bool, rankdir: str) -> str:
    """A record label of `fields` (each escaped by `record_text`), side by side or stacked."""
    # a record's fields stack across the rank direction; braces turn them the other way
    body = " | ".join(fields)
    return "{ " + body + " }" if side_by_side == (rankdir in ("LR", "RL")) else body


def value_style(v: Value, is_root: bool, marked: bool) -> dict[str, str]:
    """The box attributes of `v`: blue leaf, yellow output, grey dashed constant, red marked."""
    style: dict[str, str] = {"shape": "record"}
    if not v.requires_grad:
        style.update(style="dashed", color=CONST_COLOR, fontcolor=CONST_COLOR)
    elif is_root:
        style.update(style="filled", fillcolor=_ROOT_FILL)
    elif not v.inputs:
        style.update(style="filled", fillcolor=_LEAF_FILL)
    if marked:
        style.update(color=_HIGHLIGHT, penwidth="2.5")
        if v.requires_grad and not is_root and v.inputs:
            style.update(style="filled", fillcolor=_HIGHLIGHT_FILL)
    return style


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

    Raises:
        ImportError: the `graphviz` package is not installed: `pip install "microgradx[viz]"`.
    """
    roots = as_roots(root, "draw_dot()")
    format = check_format(format, "draw_dot()")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_dot(): rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    if max_nodes is not None and (
        not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes < 1
    ):
        raise ValueError(f"draw_dot(): max_nodes must be a positive int or None, got {max_nodes!r}")
    stack = to_flag(stack, "draw_dot(stack=...)")
    number = number_format(fmt, "draw_dot()")
    marked = {id(v) for v in as_roots(highlight, "draw_dot(highlight=...)")} if highlight else set()

    drawn = Drawn()
    if max_nodes is None:
        nodes = drawn.order(roots)
        total = len(nodes)
    else:
        nodes, total = _nearest(roots, max_nodes, drawn)
        if total <= max_nodes:  # draw everything, in data-flow order
            nodes = drawn.order(roots)
    ids = {id(v): f"v{i}" for i, v in enumerate(nodes)}
    root_ids = {id(r) for r in roots}

    dot = new_diagram(format, rankdir)
    for v in nodes:
        name = ids[id(v)]
        dot.node(
            name,
            _value_label(v, number, show_grad, rankdir, stack),
            **value_style(v, id(v) in root_ids, id(v) in marked),
        )
        inputs = drawn.inputs(v)
        if inputs and all(id(x) in ids for x in inputs):
            _op_node(dot, v, inputs, name, ids, marked)

    if total > len(nodes):
        _summarise(dot, nodes, drawn, ids, total, rankdir)
    return dot


def _value_label(v: Value, number: Number, show_grad: bool, rankdir: str, stack: bool) -> str:
    fields = [record_text(v.label)] if v.label else []
    # a constant never gets a gradient: show only its value
    kind = "data" if v.requires_grad or v.label else "const"
    fields.append(f"{kind} {record_text(number(v.data))}")
    if v.requires_grad and show_grad:
        fields.append(f"grad {record_text(number(as_float(v.grad)))}")
    return record(fields, not stack, rankdir)


def _op_node(
    dot: Diagram, v: Value, inputs: list[Value], name: str, ids: dict[int, str], marked: set[int]
) -> None:
    op = f"{name}_op"
    hot = id(v) in marked
    attrs = dict(OP_STYLE)
    if hot:
        attrs.update(color=_HIGHLIGHT, penwidth="2", fontcolor=_HIGHLIGHT)
    dot.node(op, v._op, **attrs)
    for x in inputs:
        edge: dict[str, str] = {}
        if hot and id(x) in marked:
            edge.update(color=_HIGHLIGHT, penwidth="2")
        elif not x.requires_grad:
            edge.update(style="dashed", color=CONST_COLOR)
        dot.edge(ids[id(x)], op, **edge)
    dot.edge(op, name, **({"color": _HIGHLIGHT, "penwidth": "2"} if hot else {}))


def _summarise(
    dot: Diagram,
    nodes: list[Value],
    drawn: Drawn,
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
        record([record_text(s) for s in lines], False, rankdir),
        shape="record",
        style="filled,dashed",
        fillcolor="#f3f4f6",
        color=CONST_COLOR,
    )
    for v in frontier:
        name = ids[id(v)]
        op = f"{name}_op"
        dot.node(op, v._op, **OP_STYLE)
        for x in drawn.inputs(v):
            if id(x) in ids:
                dot.edge(ids[id(x)], op)
            else:
                dot.edge("summary", op, style="dashed", color=CONST_COLOR)
        dot.edge(op, name)


def _nearest(roots: list[Value], limit: int, drawn: Drawn) -> tuple[list[Value], int]:
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
