"""Record PyTorch's values and gradients on random expression graphs (run by hand).

    python tests/data/make_oracle_torch_reference.py   # needs torch (CPU is enough)

writes ``oracle_torch_reference.json`` next to this file, which
``tests/test_oracle_autograd.py`` reads, so the suite compares against PyTorch without
needing it installed. Graphs come from ``microgradx.testing.strategies.expressions``
(derandomized, so a rerun gives the same graphs): smooth ones (depth up to 30, inputs off
kinks) and unrestricted ones whose inputs are often 0, -0, 1, -1, ... so that kinks,
domain edges, signed zeros, nan and inf all occur; PyTorch's conventions there are the
contract (DESIGN.md). Each record holds the graph's nodes, its inputs and PyTorch's
(float64, CPU) value and gradient, floats written with ``repr`` (``"nan"``, ``"inf"``).
"""

from __future__ import annotations

import json
import pathlib
import warnings
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx.testing import oracles
from microgradx.testing.strategies import Expression, Node, expressions

OUT = pathlib.Path(__file__).with_name("oracle_torch_reference.json")
SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -2.0, 3.0]

SETS: dict[str, tuple[st.SearchStrategy[Expression], int]] = {
    "smooth": (expressions(max_depth=30, n_inputs=3, max_ops=60), 250),
    "anywhere": (
        expressions(
            max_depth=8,
            n_inputs=2,
            respect_domains=False,
            inputs=st.sampled_from(SPECIAL) | st.floats(-4.0, 4.0),
        ),
        500,
    ),
}


def _node(n: Node) -> str:
    # "input 0", "const 1.5", "mul 3 4"
    if n.op == "input":
        return f"input {n.index}"
    if n.op == "const":
        return f"const {n.value!r}"
    return " ".join([n.op, *map(str, n.args)])


def _floats(xs: Any) -> list[str]:
    return [repr(float(x)) for x in xs]


def record(strategy: st.SearchStrategy[Expression], n: int) -> list[dict[str, Any]]:
    """Evaluate ``n`` generated graphs in PyTorch."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    @settings(max_examples=n, derandomize=True, database=None, deadline=None)
    @given(strategy)
    def collect(e: Expression) -> None:
        if repr(e) in seen:  # Hypothesis may try a graph twice
            return
        seen.add(repr(e))
        theirs = oracles.evaluate(e, "torch")
        out.append(
            {
                "text": e.text,
                "nodes": [_node(n) for n in e.nodes],
                "inputs": _floats(e.inputs),
                "value": repr(theirs.value),
                "gradient": _floats(theirs.gradient),
            }
        )

    collect()
    return out


def main() -> None:
    """Write the reference file."""
    import torch

    warnings.simplefilter("ignore")
    data = {
        "torch": torch.__version__,
        "sets": {name: record(strategy, n) for name, (strategy, n) in SETS.items()},
    }
    lines = [f'{{"torch": {json.dumps(data["torch"])}, "sets": {{']
    for k, (name, records) in enumerate(data["sets"].items()):
        lines.append(f"{json.dumps(name)}: [")
        lines += [
            json.dumps(r) + ("," if i < len(records) - 1 else "") for i, r in enumerate(records)
        ]
        lines.append("]" + ("," if k < len(data["sets"]) - 1 else ""))
    lines.append("}}")
    OUT.write_text("\n".join(lines) + "\n")  # one graph per line
    print(f"wrote {OUT} ({sum(len(v) for v in data['sets'].values())} graphs)")


if __name__ == "__main__":
    main()
