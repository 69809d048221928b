"""Side-by-side benchmarks of microgradx and other autodiff engines.

    python benchmarks/run.py            # the full run (a few minutes)
    python benchmarks/run.py --quick    # a tiny setting that checks the harness (seconds)

Every measurement runs in a fresh Python process, one engine at a time, and the rounds
alternate the order of the engines so that a noisy machine hurts them alike. Reported:
milliseconds per training step (median and min-max over all timed steps of all rounds)
with the garbage collector at its defaults and disabled, each engine's speed-up over
micrograd, graph nodes per step and bytes per node (tracemalloc), and a chain of a
million operations (build + backward time, peak memory; with number operands also with the
collector at its defaults). A second table puts the step side by side at batch sizes of 10
to 10,000 points: every engine of ``engines.ENGINES`` that is installed (an unavailable one
is skipped with a note), with the eager step (collector on and inside ``gc_paused()``) and
micrograd at 100 points only. The tables are printed and written as JSON, with a bar chart
as PNG.

With the collector disabled, the engines' own work is timed: each step's graph is freed
between steps, outside the timed part (``gc.collect()`` frees micrograd's, which are
reference cycles; without it each step would leave its graph behind and slow the next ones
down). With the collector at its defaults, everything is timed, freeing included.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import engines  # noqa: E402

SETTINGS = {
    "full": {"points": 100, "rounds": 5, "steps": 5, "warmup": 2, "chain": 1_000_000,
             "chain_rounds": 3, "micrograd_chain": True,
             # the batch sizes table: fewer steps from `big` points on
             "sizes": [10, 100, 1_000, 10_000], "size_rounds": 3, "size_steps": 5,
             "big": 10_000, "big_steps": 2},
    "quick": {"points": 8, "rounds": 1, "steps": 1, "warmup": 1, "chain": 2_000,
              "chain_rounds": 1, "micrograd_chain": True,
              "sizes": [4, 8], "size_rounds": 1, "size_steps": 1, "big": 8, "big_steps": 1},
}  # fmt: skip
#: engines timed at one batch size only (the points of the main table): they build a
#: graph of every example, which takes seconds at thousands of points
SCALAR = ("micrograd", "eager")
#: the chains: (key, engine, collector)
CHAINS = [
    ("eager", "eager", "off"),
    ("eager-consts", "eager-consts", "off"),
    ("eager-consts-gc", "eager-consts", "on"),
    ("micrograd", "micrograd", "off"),
]
CHAIN_LABELS = {
    "eager": "microgradx eager",
    "eager-consts": "microgradx eager, y * 1.000001",
    "eager-consts-gc": "  the same, GC on (default)",
    "micrograd": "micrograd 0.1.0",
}


# -- workers: each runs in its own process ------------------------------------------------


def worker_step(
    engine: str, gc_mode: str, points: int, steps: int, warmup: int, user_op: bool = False
) -> dict[str, Any]:
    """Time ``steps`` training steps after ``warmup`` untimed ones.

    ``gc_mode``: ``"on"`` (the collector at its defaults), ``"off"`` (disabled, the graph
    freed outside the timed part) or ``"paused"`` (each step inside ``gc_paused()``).
    With ``user_op``, a user op whose rule calls a Python function (so it may raise) is
    registered first; the step itself does not use it.
    """
    if gc_mode not in ("on", "off", "paused"):
        raise ValueError(f"gc_mode must be on, off or paused, got {gc_mode!r}")
    if user_op:
        import microgradx

        microgradx.defprim("bench_recip", lambda x: 1.0 / x, "g * -bench_recip(x) ** 2")
    step, info = engines.build(engine, points)
    gc_off = gc_mode == "off"
    if gc_off:
        gc.disable()
        gc.freeze()  # what exists now (modules, model) is left out of the collections below
    losses, times = [], []
    for k in range(warmup + steps):
        start = time.perf_counter()
        if gc_mode == "paused":  # the step inside microgradx.gc_paused(), as fit() runs it
            from microgradx import gc_paused

            with gc_paused():
                loss = step(k)
                engines.HELD.clear()  # the graph is dropped inside the pause, as fit() does
        else:
            loss = step(k)
            if not gc_off:
                engines.HELD.clear()  # the user's loop drops the graph: part of the step
        elapsed = time.perf_counter() - start
        if gc_off:
            # engine cost alone: the graph is freed outside the timed part, by reference
            # counting (microgradx) or by the collector (micrograd's graphs are cycles)
            engines.HELD.clear()
            gc.collect()
        losses.append(loss)
        if k >= warmup:
            times.append(elapsed)
    return {"times": times, "first_loss": losses[0], "losses": losses, **info}


def worker_memory(engine: str, points: int) -> dict[str, Any]:
    """Graph nodes of one step and the bytes they take (after forward, after backward)."""
    xs, y = engines.moons(points)
    import random

    random.seed(1337)
    if engine == "micrograd":
        from micrograd.engine import Value
        from micrograd.nn import MLP
    else:
        from microgradx import Value
        from microgradx.nn import MLP
    model = MLP(2, engines.SIZES)
    params = model.parameters()
    gc.disable()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    inputs = [list(map(Value, xrow)) for xrow in xs]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores, strict=True)]
    total = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)
    forward = tracemalloc.get_traced_memory()[0] - before
    total.backward()
    backward = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    nodes = engines.count_nodes(total)
    return {
        "nodes": nodes,
        "shared": 0 if engine == "micrograd" else engines.count_shared(total),
        "bytes_per_node": forward / nodes,
        "bytes_per_node_after_backward": backward / nodes,
    }


def worker_chain(engine: str, n: int, gc_mode: str = "off") -> dict[str, Any]:
    """Build a chain of ``n`` ops and backpropagate; time and peak memory (max RSS).

    ``gc_mode``: ``"off"`` (the collector disabled) or ``"on"`` (at its defaults, so its
    collections while the chain grows are timed too).
    """
    if gc_mode not in ("on", "off"):
        raise ValueError(f"gc_mode must be on or off, got {gc_mode!r}")
    limit = engines.recursion_limit_for(engine, n)
    if limit:
        sys.setrecursionlimit(limit)
    value_class = engines.value_class(engine)
    if gc_mode == "off":
        gc.disable()
    collections = sum(s["collections"] for s in gc.get_stats())
    base = _resident_kib()
    start = time.perf_counter()
    x, w, y = engines.chain(value_class, n, numbers=engine.endswith("-consts"))
    built = time.perf_counter()
    y.backward()
    done = time.perf_counter()
    peak = _peak_resident_kib() - base
    return {
        "gc_mode": gc_mode,
        "collections": sum(s["collections"] for s in gc.get_stats()) - collections,
        "build_s": built - start,
        "backward_s": done - built,
        "total_s": done - start,
        "peak_mb": peak / 1024,  # KiB to MiB
        "recursion_limit": sys.getrecursionlimit(),
        "x_grad": x.grad,
        "w_grad": w.grad,
    }


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _resident_kib() -> int:
    """The process's resident memory now (Linux), else its peak so far."""
    now = _status_kib("VmRSS")
    return now if now is not None else _peak_resident_kib()


def _peak_resident_kib() -> int:
    # VmHWM starts afresh in each process; ru_maxrss can carry the parent's peak over
    peak = _status_kib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_worker(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task in a fresh interpreter and return its JSON answer."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(task)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {task} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def worker_main(task: dict[str, Any]) -> None:
    kind = task.pop("kind")
    where = task.pop("where", False)
    fn = {"step": worker_step, "memory": worker_memory, "chain": worker_chain}[kind]
    answer = fn(**task)
    if where:  # which microgradx this process imported (benchmarks/ab.py checks it)
        import microgradx

        answer["where"] = microgradx.__file__
    print(json.dumps(answer))


# -- the harness --------------------------------------------------------------------------


def summary(times: list[float]) -> dict[str, Any]:
    ms = [t * 1e3 for t in times]
    return {
        "median_ms": statistics.median(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
        "n": len(ms),
        "samples_ms": ms,
    }


def measure(setting: dict[str, Any], names: list[str], log: Any) -> dict[str, Any]:
    results: dict[str, Any] = {"steps": {}, "memory": {}, "chain": {}, "info": {}}
    times: dict[tuple[str, str], list[float]] = {(e, m): [] for e in names for m in ("on", "off")}
    first_loss: dict[str, float] = {}
    for r in range(setting["rounds"]):
        order = names if r % 2 == 0 else names[::-1]
        for gc_mode in ("off", "on"):
            for engine in order:
                answer = run_worker({
                    "kind": "step", "engine": engine, "gc_mode": gc_mode,
                    "points": setting["points"], "steps": setting["steps"],
                    "warmup": setting["warmup"],
                })  # fmt: skip
                times[engine, gc_mode] += answer["times"]
                first_loss[engine] = answer["first_loss"]
                for key in ("compile_s", "lines"):
                    if key in answer:
                        results["info"].setdefault(engine, {})[key] = answer[key]
                med = statistics.median(answer["times"]) * 1e3
                log(f"  round {r + 1} gc {gc_mode:3} {engine:10} {med:9.2f} ms/step")
    if "eager" in names:  # the eager step inside gc_paused(), as fit() runs it
        for _ in range(setting["rounds"]):
            answer = run_worker({
                "kind": "step", "engine": "eager", "gc_mode": "paused",
                "points": setting["points"], "steps": setting["steps"],
                "warmup": setting["warmup"],
            })  # fmt: skip
            times.setdefault(("eager", "paused"), []).extend(answer["times"])
            log(f"  gc paused eager {statistics.median(answer['times']) * 1e3:9.2f} ms/step")
    for (engine, gc_mode), ts in times.items():
        results["steps"].setdefault(engine, {})[f"gc_{gc_mode}"] = summary(ts)
    results["first_loss"] = first_loss
    reference = first_loss.get("micrograd", next(iter(first_loss.values())))
    results["first_loss_max_difference"] = max(abs(v - reference) for v in first_loss.values())
    for engine in [e for e in ("micrograd", "eager") if e in names]:
        results["memory"][engine] = run_worker(
            {"kind": "memory", "engine": engine, "points": setting["points"]}
        )
        log(f"  memory {engine}: {results['memory'][engine]}")
    chains = [c for c in CHAINS if c[1].removesuffix("-consts") in names]
    if not setting["micrograd_chain"]:
        chains = [c for c in chains if c[1] != "micrograd"]
    for key, engine, gc_mode in chains:
        rounds = setting["chain_rounds"] if engine != "micrograd" else 1
        task = {"kind": "chain", "engine": engine, "n": setting["chain"], "gc_mode": gc_mode}
        runs = [run_worker(task) for _ in range(rounds)]
        best = min(runs, key=lambda a: a["total_s"])
        best["total_s_all"] = [a["total_s"] for a in runs]
        results["chain"][key] = best
        log(f"  chain {key}: {best['total_s']:.2f} s, {best['peak_mb']:.0f} MB")
    results["sizes"] = measure_sizes(setting, names, log, results["steps"])
    results["ratios"] = {
        engine: {
            f"gc_{m}": results["steps"]["micrograd"][f"gc_{m}"]["median_ms"]
            / results["steps"][engine][f"gc_{m}"]["median_ms"]
            for m in ("on", "off")
        }
        for engine in names
        if "micrograd" in names
    }
    return results


def size_rows(setting: dict[str, Any], names: list[str]) -> list[tuple[str, str, str]]:
    """The rows of the batch sizes table: (row, engine, collector)."""
    rows = [(e, e, "on") for e in names if e not in SCALAR]
    if "eager" in names:
        rows += [("eager", "eager", "on"), ("eager-paused", "eager", "paused")]
    if "micrograd" in names:
        rows.append(("micrograd", "micrograd", "on"))
    return rows


def measure_sizes(
    setting: dict[str, Any], names: list[str], log: Any, steps: dict[str, Any]
) -> dict[str, Any]:
    """The step at each batch size, the collector at its defaults (``gc_paused()`` for the
    row ``eager-paused``). The scalar engines are the main table's timings (``steps``), at
    its points only."""
    rows = size_rows(setting, names)
    samples: dict[tuple[str, int], list[float]] = {}
    for r in range(setting["size_rounds"]):
        order = rows if r % 2 == 0 else rows[::-1]
        for points in setting["sizes"]:
            big = points >= setting["big"]
            for row, engine, gc_mode in order:
                if engine in SCALAR:
                    continue
                answer = run_worker({
                    "kind": "step", "engine": engine, "gc_mode": gc_mode, "points": points,
                    "steps": setting["big_steps"] if big else setting["size_steps"],
                    "warmup": 1 if big else setting["warmup"],
                })  # fmt: skip
                samples.setdefault((row, points), []).extend(answer["times"])
                med = statistics.median(answer["times"]) * 1e3
                log(f"  round {r + 1} {points:6} points {row:14} {med:10.2f} ms/step")
    table: dict[str, dict[str, Any]] = {}
    for (row, points), ts in samples.items():
        table.setdefault(row, {})[str(points)] = summary(ts)
    for row, engine, gc_mode in rows:
        if engine in SCALAR and setting["points"] in setting["sizes"]:
            table[row] = {str(setting["points"]): steps[engine][f"gc_{gc_mode}"]}
    return {
        "points": setting["sizes"],
        "labels": {row: _size_label(row) for row, _, _ in rows},
        "gc_mode": {row: gc_mode for row, _, gc_mode in rows},
        "steps": table,
    }


def _size_label(row: str) -> str:
    if row == "eager-paused":
        return engines.LABELS["eager"] + ", gc_paused()"
    return engines.LABELS.get(row, row)


def size_table(results: dict[str, Any]) -> list[str]:
    """The batch sizes table: ms per step (median [min-max]), one column per size."""
    sizes = results.get("sizes")
    if not sizes or not sizes["steps"]:
        return []
    s = results["setting"]
    points = sizes["points"]
    head = f"{'ms per step, GC on (default)':40}" + "".join(f"{p:>24,}" for p in points)
    lines = [
        "",
        f"batch sizes: the same step on each number of points; {s['size_rounds']} rounds x "
        f"{s['size_steps']} steps ({s['big_steps']} from {s['big']:,} points on); the eager"
        f" and micrograd rows are the table's above",
        "",
        head,
    ]
    for row, by_points in sizes["steps"].items():
        cells = []
        for p in points:
            r = by_points.get(str(p))
            cells.append(
                f"{_ms(r['median_ms'])} [{_ms(r['min_ms'])}-{_ms(r['max_ms'])}]" if r else "-"
            )
        lines.append(f"{sizes['labels'][row]:40}" + "".join(f"{c:>24}" for c in cells))
    return lines


def table(results: dict[str, Any]) -> str:
    """The results as a plain-text table."""
    s = results["setting"]
    lines = [
        f"moons training step: MLP(2, [16, 16, 1]), {s['points']} points",
        f"ms per step, median [min-max] of {s['rounds']} rounds x {s['steps']} steps; "
        "speed-up = micrograd time / engine time",
        "",
        f"{'engine':32} {'GC on (default)':>26} {'':>8} {'GC off':>24} {'':>8}",
    ]
    for engine, row in results["steps"].items():
        cells = []
        for m in ("on", "off"):
            r = row[f"gc_{m}"]
            ratio = results["ratios"].get(engine, {}).get(f"gc_{m}")
            cells.append(f"{r['median_ms']:9.2f} [{r['min_ms']:.2f}-{r['max_ms']:.2f}]")
            cells.append(f"{ratio:7.1f}x" if ratio else "")
        label = engines.LABELS[engine]
        lines.append(f"{label:32} {cells[0]:>26} {cells[1]:>8} {cells[2]:>24} {cells[3]:>8}")
        paused = row.get("gc_paused")
        if paused:
            cell = f"{paused['median_ms']:9.2f} [{paused['min_ms']:.2f}-{paused['max_ms']:.2f}]"
            lines.append(f"{'  the same, in gc_paused()':32} {cell:>26}")
    first = next(iter(results["first_loss"].values()))
    lines.append(
        f"first-step loss, all engines: {first:.15f} (largest difference between engines "
        f"{results['first_loss_max_difference']:.1e})"
    )
    if results["missing"]:
        lines.append(f"(not installed, skipped: {', '.join(results['missing'])})")
    lines.append("")
    for engine, m in results["memory"].items():
        lines.append(
            f"{engines.LABELS[engine]:32} {m['nodes']:>8} nodes per step, "
            f"{m['bytes_per_node']:6.0f} bytes per node after forward, "
            f"{m['bytes_per_node_after_backward']:6.0f} after backward"
        )
    for key, c in results["chain"].items():
        gc_note = f", {c['collections']} collections" if c.get("gc_mode") == "on" else ""
        lines.append(
            f"{CHAIN_LABELS.get(key, key):32} chain of {s['chain']:,} ops: build "
            f"{c['build_s']:.2f} s + backward {c['backward_s']:.2f} s = {c['total_s']:.2f} s, "
            f"peak {c['peak_mb']:.0f} MB, recursion limit {c['recursion_limit']:,}{gc_note}"
        )
    for engine, info in results["info"].items():
        if "compile_s" in info:
            lines.append(
                f"{engines.LABELS[engine]:32} compile time {info['compile_s'] * 1e3:.0f} ms "
                f"(once), {info['lines']} lines of generated code"
            )
    lines += size_table(results)
    m = results["machine"]
    lines.append(f"\nPython {m['python']} on {m['platform']}, {m['cpus']} CPUs")
    return "\n".join(lines)


def chart_figure(results: dict[str, Any]) -> Any:
    """The benchmark chart as a matplotlib Figure: each engine's speed-up over micrograd
    (top) and its time per step (bottom), both on log scales, one bar per GC mode; the
    engines down the side, so that every name stays readable however many there are."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["steps"])
    modes = (("on", "GC on (default)"), ("off", "GC off"))
    # one column, 7.5 in wide: shown in the docs' text column at about its own size
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 1.0 + 0.9 * len(names)), dpi=110)
    height = 0.38
    for j, (m, label) in enumerate(modes):
        ys = [i + (j - 0.5) * height for i in range(len(names))]
        ratios = [results["ratios"][e][f"gc_{m}"] for e in names]
        bars = top.barh(ys, ratios, height, label=label)
        top.bar_label(bars, labels=[_times(v) for v in ratios], fontsize=8, padding=2)
        ms = [results["steps"][e][f"gc_{m}"]["median_ms"] for e in names]
        bars = bottom.barh(ys, ms, height, label=label)
        bottom.bar_label(bars, labels=[_ms(v) for v in ms], fontsize=8, padding=2)
    top.axvline(1.0, color="gray", linewidth=1)
    top.set_xlabel("speed-up over micrograd 0.1.0 (x)", fontsize=9)
    bottom.set_xlabel("milliseconds per training step (median)", fontsize=9)
    for ax in (top, bottom):
        ax.set_xscale("log")
        ax.margins(x=0.12)  # room for the labels beyond the longest bars
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([engines.LABELS[e] for e in names], fontsize=8)
        ax.invert_yaxis()  # the first engine at the top
        ax.tick_params(axis="x", labelsize=8)
    handles, labels = top.get_legend_handles_labels()
    fig.suptitle(
        f"moons training step, MLP(2, [16, 16, 1]), {results['setting']['points']} points",
        fontsize=10,
    )
    # one legend for both panels, under the title, clear of every bar
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.965), ncol=2,
               fontsize=8)  # fmt: skip
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.94))
    return fig


def chart(results: dict[str, Any], path: Path) -> None:
    """Draw `chart_figure(results)` to `path` (PNG)."""
    import matplotlib.pyplot as plt

    fig = chart_figure(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _ms(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _times(v: float) -> str:
    return f"{v:.0f}x" if v >= 10 else f"{v:.1f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny setting (checks the harness)")
    parser.add_argument(
        "--engines",
        default=",".join(engines.ENGINES),
        help="comma-separated subset of: " + ", ".join(engines.ENGINES),
    )
    parser.add_argument("--json", type=Path, help="results file (default results/latest.json)")
    parser.add_argument("--chart", type=Path, help="chart file (default docs/img/benchmark.png)")
    parser.add_argument("--no-chart", action="store_true", help="skip the chart")
    for key in ("points", "rounds", "steps", "warmup", "chain"):
        parser.add_argument(f"--{key}", type=int, help=f"override the setting's {key}")
    parser.add_argument(
        "--sizes", help="comma-separated batch sizes of the second table ('' for none)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return 0
    setting = dict(SETTINGS["quick" if args.quick else "full"])
    for key in ("points", "rounds", "steps", "warmup", "chain"):
        if getattr(args, key) is not None:
            setting[key] = getattr(args, key)
    if args.sizes is not None:
        setting["sizes"] = [int(p) for p in args.sizes.split(",") if p.strip()]
    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in wanted if e not in engines.ENGINES]
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; choose from {engines.ENGINES}")
    names = [e for e in wanted if engines.available(e)]
    missing = [e for e in wanted if e not in names]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    log(f"setting: {'quick' if args.quick else 'full'} {setting}; engines: {names}")
    started = time.perf_counter()
    results = measure(setting, names, log)
    results.update(
        setting=setting,
        mode="quick" if args.quick else "full",
        missing=missing,
        seconds=time.perf_counter() - started,
        **engines.stamp(),
    )
    text = table(results)
    results["table"] = text
    print(text)
    # the quick setting is a check, not a result: by default it writes to the temp folder
    scratch = Path(tempfile.gettempdir())
    out = args.json or (
        scratch / "microgradx-quick.json" if args.quick else HERE / "results" / "latest.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    if not args.no_chart and "micrograd" in names:
        default = (
            scratch / "microgradx-quick.png"
            if args.quick
            else ROOT / "docs" / "img" / "benchmark.png"
        )
        path = args.chart or default
        chart(results, path)
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
