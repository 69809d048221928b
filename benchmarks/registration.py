"""Does registering a user op change other graphs' speed? The eager moons step, side by side.

    python benchmarks/registration.py [--rounds 7] [--json benchmarks/results/registration.json]

Each measurement runs in a fresh process (run.py's worker), alternating a process that
first registers a user op whose rule calls a Python function (it may raise) with one that
does not; the step never uses the op. Reported: the median and range (ms per step) of
each, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

from ab import ROOT, worker


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
    text = "\n".join(
        [f"{k:8} {r['median']:8.2f} [{r['min']:.2f}-{r['max']:.2f}] ms" for k, r in rows.items()]
        + [f"with / without: {ratio:.3f}"]
    )
    print(text)
    if args.json:
        args.json.write_text(json.dumps({
            "steps": rows, "ratio_with_over_without": ratio, "table": text,
            "machine": {"python": platform.python_version(), "platform": platform.platform()},
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }, indent=2) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
