"""Side by side: compile's batch backends against per-example compiled code, torch and
NumPy written by hand, on micrograd's moons step at 100 and 1000 points.

    python benchmarks/batch.py                 # writes benchmarks/results/batch-backends.json
    python benchmarks/batch.py --rounds 1 --points 20   # a quick check of the harness

Each measurement is one engine in a fresh process (``run.run_worker``), the rounds
alternating the order of the engines; the collector is at its defaults. Reported per
engine and size: the median and range of the milliseconds per step over all rounds, the
first loss (which must equal the eager engine's to 1e-12) and the ratios the batch
backends are measured by.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engines  # noqa: E402
import run  # noqa: E402

NAMES = ["compiled", "compiled-numpy", "compiled-matmul", "compiled-torch", "torch", "numpy-hand"]


def measure(points: int, rounds: int, steps: int, warmup: int) -> dict[str, Any]:
    """Times and first losses of every available engine of NAMES (and eager's first loss)."""
    names = [e for e in NAMES if engines.available(e)]
    times: dict[str, list[float]] = {e: [] for e in names}
    first: dict[str, float] = {}
    for r in range(rounds):
        for engine in names if r % 2 == 0 else names[::-1]:
            answer = run.run_worker({
                "kind": "step", "engine": engine, "gc_mode": "on", "points": points,
                "steps": steps, "warmup": warmup,
            })  # fmt: skip
            times[engine] += [t * 1e3 for t in answer["times"]]
            first[engine] = answer["first_loss"]
            print(f"  {points} points, round {r + 1}: {engine:16} "
                  f"{statistics.median(answer['times']) * 1e3:8.2f} ms", flush=True)  # fmt: skip
    eager = run.run_worker({"kind": "step", "engine": "eager", "gc_mode": "on", "points": points,
                            "steps": 1, "warmup": 0})["first_loss"]  # fmt: skip
    steps_ms = {
        e: {"median_ms": statistics.median(ts), "min_ms": min(ts), "max_ms": max(ts),
            "n": len(ts), "samples_ms": ts}
        for e, ts in times.items()
    }  # fmt: skip
    med = {e: s["median_ms"] for e, s in steps_ms.items()}
    ratios = {}
    if "compiled-numpy" in med:
        ratios["compiled / compiled-numpy"] = med["compiled"] / med["compiled-numpy"]
    if "compiled-matmul" in med:
        ratios["compiled / compiled-matmul"] = med["compiled"] / med["compiled-matmul"]
        ratios["compiled-matmul / numpy-hand"] = med["compiled-matmul"] / med["numpy-hand"]
        if "torch" in med:
            ratios["torch / compiled-matmul"] = med["torch"] / med["compiled-matmul"]
    if "compiled-torch" in med:
        ratios["compiled / compiled-torch"] = med["compiled"] / med["compiled-torch"]
    return {
        "points": points,
        "steps": steps_ms,
        "first_loss": first,
        "eager_first_loss": eager,
        "first_loss_max_relative_difference": max(
            abs(v - eager) / abs(eager) for v in first.values()
        ),
        "ratios": ratios,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="100,1000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "batch-backends.json"))
    args = parser.parse_args(argv)
    report = {
        "labels": {e: engines.LABELS[e] for e in NAMES},
        "settings": {"rounds": args.rounds, "steps": args.steps, "warmup": args.warmup},
        "sizes": [
            measure(int(p), args.rounds, args.steps, args.warmup) for p in args.points.split(",")
        ],
    }
    for size in report["sizes"]:
        assert size["first_loss_max_relative_difference"] < 1e-12, size["first_loss"]
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n", "utf-8")
    for size in report["sizes"]:
        print(f"{size['points']} points:")
        for e, s in size["steps"].items():
            print(
                f"  {e:16} median {s['median_ms']:8.2f} ms  ({s['min_ms']:.2f}-{s['max_ms']:.2f})"
            )
        for name, ratio in size["ratios"].items():
            print(f"  {name:32} {ratio:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
