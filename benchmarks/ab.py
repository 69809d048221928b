"""A/B: the same benchmark tasks on two versions of microgradx, side by side.

    python benchmarks/ab.py                       # HEAD against the working tree
    python benchmarks/ab.py --old 6966385 --new HEAD --rounds 7 --tasks eager,compiled
    python benchmarks/ab.py --json benchmarks/results/ab-refactor.json

Each version is exported to a temporary folder (``git archive``; the working tree is used as
it is) and every measurement runs in a fresh process that imports that version (through
``PYTHONPATH``), with this checkout's harness (``run.py``'s workers). The rounds alternate
which version goes first, so that a noisy machine hurts both alike. Reported per task:
median and range (ms per step, or seconds for the chain) of each version over all rounds,
the ratio new / old of the medians, and that of the best times ("best").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import engines  # benchmarks/ is on the path: this file's folder

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUN = HERE / "run.py"

TASKS: dict[str, dict[str, Any]] = {
    "eager": {"kind": "step", "engine": "eager", "gc_mode": "off"},
    "eager-gc": {"kind": "step", "engine": "eager", "gc_mode": "on"},
    "compiled": {"kind": "step", "engine": "compiled", "gc_mode": "off"},
    # the step at a point of training where about a quarter of the examples are active
    "compiled-trained": {"kind": "step", "engine": "compiled", "gc_mode": "off", "warmup": 16},
    "chain": {"kind": "chain", "engine": "eager"},
    "chain-gc": {"kind": "chain", "engine": "eager", "gc_mode": "on"},
    "chain-consts": {"kind": "chain", "engine": "eager-consts"},
    "chain-consts-gc": {"kind": "chain", "engine": "eager-consts", "gc_mode": "on"},
}


def export(rev: str, into: Path) -> Path:
    """The tree of ``rev`` in a folder (``WORKTREE``: this checkout as it is)."""
    if rev == "WORKTREE":
        return ROOT
    target = into / rev.replace("/", "_")
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev], cwd=ROOT, capture_output=True, check=True
    ).stdout
    tar = target / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(target, filter="data")
    tar.unlink()
    return target


def worker(tree: Path, task: dict[str, Any]) -> dict[str, Any]:
    """Run one of run.py's worker tasks in a fresh process importing ``tree``'s microgradx."""
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(tree))
    cmd = [sys.executable, str(RUN), "--worker", json.dumps({**task, "where": True})]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tree, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {task} on {tree} failed:\n{proc.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    imported = Path(answer["where"]).resolve()
    if not imported.is_relative_to(tree.resolve()):
        raise RuntimeError(f"the worker imported {imported}, not the version in {tree}")
    return answer


def measure(args: argparse.Namespace, trees: dict[str, Path], log: Any) -> dict[str, Any]:
    samples: dict[str, dict[str, list[float]]] = {t: {v: [] for v in trees} for t in args.tasks}
    settings: dict[str, dict[str, Any]] = {}
    for r in range(args.rounds):
        versions = list(trees) if r % 2 == 0 else list(trees)[::-1]
        for name in args.tasks:
            if TASKS[name]["kind"] == "step":
                task = {"points": args.points, "steps": args.steps, "warmup": args.warmup}
            else:
                task = {"n": args.chain}
            task.update(TASKS[name])  # a task's own setting (its warmup) comes first
            settings[name] = task
            for version in versions:
                answer = worker(trees[version], task)
                if task["kind"] == "step":
                    got = [t * 1e3 for t in answer["times"]]
                else:
                    got = [answer["total_s"]]
                samples[name][version] += got
                log(f"round {r + 1} {name:12} {version:4} {statistics.median(got):9.3f}")
    report: dict[str, Any] = {}
    for name, by_version in samples.items():
        row = {
            v: {
                "median": statistics.median(s),
                "min": min(s),
                "max": max(s),
                "n": len(s),
                "samples": s,
            }
            for v, s in by_version.items()
        }
        row["ratio_new_over_old"] = row["new"]["median"] / row["old"]["median"]
        # the fastest of each: on a machine whose speed comes in phases (a shared host), the
        # medians follow the phases each version's processes met, the best times much less
        row["best_ratio_new_over_old"] = row["new"]["min"] / row["old"]["min"]
        row["unit"] = "ms per step" if TASKS[name]["kind"] == "step" else "s"
        row["task"] = settings[name]
        report[name] = row
    return report


def table(report: dict[str, Any], old: str, new: str) -> str:
    lines = [f"{'task':14} {'old ' + old:>28} {'new ' + new:>28} {'new/old':>8} {'best':>6}"]
    for name, row in report.items():
        cells = [
            f"{row[v]['median']:.3f} [{row[v]['min']:.3f}-{row[v]['max']:.3f}]"
            for v in ("old", "new")
        ]
        ratios = f"{row['ratio_new_over_old']:8.3f} {row['best_ratio_new_over_old']:6.3f}"
        lines.append(f"{name:14} {cells[0]:>28} {cells[1]:>28} {ratios}")
    return "\n".join(lines)


def _commit(rev: str) -> str:
    """The commit ``rev`` names (``WORKTREE``: HEAD, marked if the tree has changes)."""
    name = "HEAD" if rev == "WORKTREE" else rev
    git = ["git", "-C", str(ROOT)]
    sha = subprocess.run([*git, "rev-parse", name], capture_output=True, text=True, check=True)
    commit = sha.stdout.strip()
    if rev == "WORKTREE":
        status = subprocess.run(
            [*git, "status", "--porcelain", "--", "microgradx"],
            capture_output=True,
            text=True,
            check=True,
        )
        commit += " with changes" if status.stdout.strip() else ""
    return commit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="HEAD", help="git revision (default HEAD)")
    parser.add_argument("--new", default="WORKTREE", help="git revision, or WORKTREE (default)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tasks", default="eager,compiled", help=", ".join(TASKS))
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--chain", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    args.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in args.tasks if t not in TASKS]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    if args.rounds < 5:
        print("note: fewer than 5 rounds is a smoke test, not a measurement", file=sys.stderr)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as scratch:
        trees = {"old": export(args.old, Path(scratch)), "new": export(args.new, Path(scratch))}
        started = time.perf_counter()
        report = measure(args, trees, log)
    text = table(report, args.old, args.new)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "old": args.old,
            "new": args.new,
            "commits": {"old": _commit(args.old), "new": _commit(args.new)},
            "rounds": args.rounds,
            "setting": {k: getattr(args, k) for k in ("points", "steps", "warmup", "chain")},
            "tasks": report,
            "table": text,
            "seconds": time.perf_counter() - started,
            **engines.stamp(),
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
