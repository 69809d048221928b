"""Does registering a user op change other graphs' speed? The eager moons step, side by side.

    python benchmarks/registration.py [--rounds 7] [--json benchmarks/results/registration.json]

Each measurement runs in a fresh process (run.py's worker), alternating a process that
first registers a user op whose rule calls a Python function (it may raise) with one that
does not; the step never uses the op. Reported: the median and range (ms per step) of
each, and the ratios of the medians and of the best times.

Then, paired in one process (so that both sides of a pair meet the machine in the same
state: a shared host's speed comes in phases of seconds): the step without the op, then
inside `REGISTRY.scope()` with the op registered, alternately; reported, the median of the
pairs' ratios (each side the best of its steps).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from ab import ROOT, worker

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import engines


def paired(rounds: int, points: int, steps: int) -> dict[str, Any]:
    """Best-of-`steps` times of the eager step without and with a registered user op,
    alternately in this process; the ratio of each pair."""
    import gc

    def best(step: Any) -> float:
        times = []
        for k in range(steps):
            start = time.perf_counter()
            step(k)
            times.append(time.perf_counter() - start)
            engines.HELD.clear()
            gc.collect()
        return min(times) * 1e3

    step, _ = engines.build("eager", points)
    gc.disable()
    try:
        best(step)  # warm up
        pairs = []
        for r in range(rounds):
            if r % 2:  # which side goes first alternates, as between the processes above
                with_op = registered(step, best)
                without = best(step)
            else:
                without = best(step)
                with_op = registered(step, best)
            pairs.append({"without": without, "with": with_op, "ratio": with_op / without})
    finally:
        gc.enable()
    return {"pairs": pairs, "median_ratio": statistics.median(p["ratio"] for p in pairs)}


def registered(step: Any, best: Any) -> float:
    """`best(step)` while a user op whose rule calls a Python function is registered."""
    import microgradx
    from microgradx.primitive import REGISTRY

    with REGISTRY.scope():
        microgradx.defprim("bench_recip", lambda x: 1.0 / x, "g * -bench_recip(x) ** 2")
        return float(best(step))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    samples: dict[str, list[float]] = {"without": [], "with": []}
    for r in range(args.rounds):
        for name in ("without", "with") if r % 2 == 0 else ("with", "without"):
            task = {"kind": "step", "engine": "eager", "gc_mode": "off", "points": args.points,
                    "steps": args.steps, "warmup": 2, "user_op": name == "with"}  # fmt: skip
            got = [t * 1e3 for t in worker(ROOT, task)["times"]]
            samples[name] += got
            print(f"round {r + 1} {name:8} {statistics.median(got):8.2f} ms", file=sys.stderr)
    rows = {k: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
            for k, v in samples.items()}  # fmt: skip
    ratio = rows["with"]["median"] / rows["without"]["median"]
    best_ratio = rows["with"]["min"] / rows["without"]["min"]
    inside = paired(args.rounds, args.points, args.steps)
    text = "\n".join(
        [f"{k:8} {r['median']:8.2f} [{r['min']:.2f}-{r['max']:.2f}] ms" for k, r in rows.items()]
        + [f"with / without: {ratio:.3f} (medians), {best_ratio:.3f} (best times)"]
        + [f"paired in one process, {args.rounds} pairs: median ratio {inside['median_ratio']:.3f}"]
    )
    print(text)
    if args.json:
        args.json.write_text(json.dumps({
            "steps": rows, "ratio_with_over_without": ratio,
            "best_ratio_with_over_without": best_ratio, "paired": inside, "table": text,
            **engines.stamp(),
        }, indent=2) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
