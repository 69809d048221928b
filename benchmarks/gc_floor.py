"""The collector's own floor for a chain of a million live nodes.

The chain benchmark (`run.py`, `y = y * 1.000001` a million times) takes seconds with the
collector at its defaults. This script measures how much of that no engine can avoid: a
chain of a million objects of a bare class with Value's eight slots, each linked to the
one before and nothing else computed, built with the collector at its defaults and with it
off. Each run is a fresh process, the two modes alternating.

    python benchmarks/gc_floor.py [--rounds 5]   # prints, writes results/gc-floor.json
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import engines  # noqa: E402

from microgradx import Value  # noqa: E402

RESULTS = HERE / "results" / "gc-floor.json"
N = 1_000_000


class Bare:
    """Value's slots, with nothing behind them."""

    __slots__ = tuple(Value.__slots__)


def chain(n: int) -> Bare:
    """`n` objects, each holding the one made before it."""
    new = object.__new__
    prev = None
    for _ in range(n):
        node = new(Bare)
        node._a = prev
        prev = node
    return node


def worker(mode: str, n: int) -> dict[str, float]:
    """Build the chain once with the collector `on` (its defaults) or `off`."""
    if mode == "off":
        gc.disable()
    before = sum(s["collections"] for s in gc.get_stats())
    start = time.perf_counter()
    held = chain(n)
    seconds = time.perf_counter() - start
    collections = sum(s["collections"] for s in gc.get_stats()) - before
    del held
    return {"seconds": seconds, "collections": collections}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rounds in fresh processes, print the medians, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", choices=["on", "off"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=N)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n)))
        return 0
    runs: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    for r in range(args.rounds):
        for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", mode, "--n", str(args.n)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs[mode].append(json.loads(out))
            print(f"round {r + 1} collector {mode:3} {runs[mode][-1]['seconds']:.3f} s")
    summary = {}
    for mode, rows in runs.items():
        s = [row["seconds"] for row in rows]
        summary[mode] = {
            "median": statistics.median(s),
            "min": min(s),
            "max": max(s),
            "n": len(s),
            "samples_s": s,
            "collections": rows[0]["collections"],
        }
    results = {
        "nodes": args.n,
        "rounds": args.rounds,
        "modes": summary,
        **engines.stamp(),
    }
    on, off = summary["on"], summary["off"]
    print(
        f"a chain of {args.n:,} bare nodes: collector on {on['median']:.2f} s "
        f"[{on['min']:.2f}-{on['max']:.2f}], off {off['median']:.2f} s "
        f"[{off['min']:.2f}-{off['max']:.2f}]"
    )
    if args.n == N:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n", "utf-8")
        print(f"wrote {RESULTS.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
