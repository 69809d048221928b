"""`trace`: the graph as text, one line per node, for terminals and logs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..engine import Value
from .graph import Drawn, Number, as_float, as_roots, number_format

__all__ = ["trace"]


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
    number = number_format(fmt, "trace()")
    drawn = Drawn()
    order = drawn.order(as_roots(root, "trace()"))
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
    order: list[Value], drawn: Drawn, index: dict[int, int], number: Number
) -> Iterator[tuple[str, str, str, str, str]]:
    for i, v in enumerate(order):
        if v.inputs:
            made = f"{v.op}({','.join(f'#{index[id(x)]}' for x in drawn.inputs(v))})"
        else:
            made = "leaf" if v.requires_grad else "const"
        grad = number(as_float(v.grad)) if v.requires_grad else ""
        yield f"#{i}", v.label, made, number(v.data), grad
