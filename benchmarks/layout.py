"""What room for attributes of one's own would cost a node (`v.m = ...` on a Value).

micrograd's Value is a plain class, so programs written for it may set attributes of their
own on a node (an optimizer keeping `p.m`, a visualiser keeping `v.color`). microgradx's
Value has eight fixed slots and no `__dict__`, so such a program gets AttributeError. This
script measures, on the running CPython, what each way of making room would cost:

* the bytes of one object of each layout (tracemalloc, 100,000 empty objects made as the
  engine makes nodes: a lower bound, before any attribute is stored), and the bytes per
  node of the moons step (`latest.json`'s figure after forward) each layout would give,
  against the budget issue 13 set for it (130 bytes per node after forward);
* the time of the seven field writes that make a node, with a `__setattr__` written in
  Python (the only way to catch a new attribute without a `__dict__`) against plain slots.

    python benchmarks/layout.py        # prints the table, writes results/layout.json
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import engines  # noqa: E402

from microgradx import Value  # noqa: E402

RESULTS = HERE / "results" / "layout.json"
LATEST = HERE / "results" / "latest.json"
OBJECTS = 100_000
#: bytes per node after forward that room for attributes was allowed (issue 13, item 6)
BUDGET = 130
FIELDS = tuple(Value.__slots__)


def layouts() -> dict[str, type]:
    """The layouts measured: today's Value, and each way of making room for attributes."""
    slots = list(FIELDS)
    found: dict[str, type] = {"today: 8 slots": Value}
    for n in (8, 7, 6, 5):
        fields = (*slots[:n], "__dict__")
        found[f"{n} slots + __dict__"] = type(f"Dict{n}", (), {"__slots__": fields})
    found["8 slots + __weakref__ (a side table)"] = type(
        "Weak8", (), {"__slots__": (*slots, "__weakref__")}
    )
    return found


def bytes_per_object(cls: type) -> float:
    """Bytes one object of `cls` takes, as tracemalloc counts them (the list excluded)."""
    held: list[Any] = [None] * OBJECTS
    new = object.__new__
    tracemalloc.start()
    for i in range(OBJECTS):
        held[i] = new(cls)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size / OBJECTS


class _Hooked:
    __slots__ = FIELDS

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)


class _Plain:
    __slots__ = FIELDS


def _make(cls: type, n: int) -> float:
    new = object.__new__
    start = time.perf_counter()
    for _ in range(n):
        out = new(cls)
        out.data = 1.0
        out.grad = 0.0
        out.label = ""
        out._mark = 0
        out._code = 2
        out._a = None
        out._b = None
    return time.perf_counter() - start


def setattr_cost(n: int = 200_000, rounds: int = 7) -> dict[str, Any]:
    """Making a node (seven writes) with a Python `__setattr__` against plain slots: the
    ratio of the best of `rounds` alternating runs."""
    plain, hooked = [], []
    for _ in range(rounds):
        plain.append(_make(_Plain, n))
        hooked.append(_make(_Hooked, n))
    return {
        "nodes": n,
        "rounds": rounds,
        "plain_ns": min(plain) / n * 1e9,
        "hooked_ns": min(hooked) / n * 1e9,
        "ratio": min(hooked) / min(plain),
    }


def main() -> int:
    """Measure, print and write `results/layout.json`."""
    latest = json.loads(LATEST.read_text("utf-8"))
    per_node = latest["memory"]["eager"]["bytes_per_node"]
    sizes = {name: bytes_per_object(cls) for name, cls in layouts().items()}
    today = sizes["today: 8 slots"]
    rows = {
        name: {"bytes_per_object": b, "bytes_per_node": per_node + (b - today)}
        for name, b in sizes.items()
    }
    results = {
        "layouts": rows,
        "budget": BUDGET,
        "latest_bytes_per_node": per_node,
        "setattr": setattr_cost(),
        **engines.stamp(),
    }
    for name, row in rows.items():
        each, node = row["bytes_per_object"], row["bytes_per_node"]
        print(f"{name:40} {each:6.1f} B/object {node:6.1f} B/node")
    s = results["setattr"]
    print(f"making a node with a Python __setattr__: {s['ratio']:.2f}x the time")
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", "utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
