"""Write the benchmark figures that README and the docs quote, from the recorded results.

Every speed or memory figure in README.md and docs/ sits between two HTML comments,
`<!-- figures: NAME -->` and `<!-- /figures -->`, and is written by this script from
benchmarks/results/latest.json (what `python benchmarks/run.py` records) or, for the A/B
comparisons, from the file `python benchmarks/ab.py --json` wrote (`AB_FILES`): medians
with their range, the machine, the Python and the date of the run. No figure is typed by
hand.

    python benchmarks/figures.py           # rewrite the marked text from the results file
    python benchmarks/figures.py --check   # exit 1 if any marked text is out of date

tests/test_figures.py runs the check, so after a new benchmark run the text must be
regenerated (and committed) for the tests to pass.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
RESULTS_NAME = "benchmarks/results/latest.json"
# the files that quote figures; each marked region names its block
FILES = [
    "README.md",
    "docs/explanation/performance.md",
    "docs/howto/go-faster.md",
    "docs/howto/scale-up.md",
    "docs/explanation/how-it-works.md",
]
MARK = re.compile(
    r"(?P<open><!-- figures: (?P<name>[\w-]+) -->)(?P<body>.*?)(?P<close><!-- /figures -->)",
    re.S,
)

Results = dict[str, Any]
#: the A/B results files the blocks quote, by block
AB_FILES = {
    "early-exit": "benchmarks/results/ab-early-exit.json",
    "chain-gc": "benchmarks/results/ab-chain-gc.json",
}


def ms(x: float) -> str:
    """Milliseconds with three significant digits (1237, 53.8, 26.9, 0.855)."""
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def times(r: float) -> str:
    """A ratio as the README writes it: 3.5x, 23.0x, 112x."""
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x"


def step(results: Results, engine: str, mode: str) -> dict[str, float]:
    """The timing record of one engine with the collector on ("gc_on") or off ("gc_off")."""
    try:
        record: dict[str, float] = results["steps"][engine][mode]
    except KeyError:
        raise KeyError(
            f"{RESULTS_NAME} has no {engine} {mode} timing; run the full benchmark"
        ) from None
    return record


def timing(results: Results, engine: str, mode: str) -> str:
    """`53.8 [38.1–82.3]`: the median and the range of one engine's steps, in ms."""
    r = step(results, engine, mode)
    return f"{ms(r['median_ms'])} [{ms(r['min_ms'])}–{ms(r['max_ms'])}]"


def ratio(results: Results, engine: str, mode: str, base: str = "micrograd") -> float:
    """How many times faster than `base`: the ratio of the medians."""
    return step(results, base, mode)["median_ms"] / step(results, engine, mode)["median_ms"]


def ratio_range(results: Results, engine: str, mode: str, base: str = "micrograd") -> str:
    """The ratio between the extremes: `base`'s fastest over the engine's slowest, to
    `base`'s slowest over the engine's fastest."""
    b, e = step(results, base, mode), step(results, engine, mode)
    return f"{times(b['min_ms'] / e['max_ms'])}–{times(b['max_ms'] / e['min_ms'])}"


def machine(results: Results) -> str:
    """`Python 3.11.7, Linux x86_64, 2 CPUs, 2026-11-22 19:41 UTC`."""
    m = results["machine"]
    system = m["platform"].split("-")[0]
    arch = next((p for p in m["platform"].split("-") if p in ("x86_64", "aarch64", "arm64")), "")
    where = f"{system} {arch}".strip()
    return f"Python {m['python']}, {where}, {m['cpus']} CPUs, {results['when']}"


def rounds(results: Results) -> str:
    """`25 steps (5 rounds of 5)`: what one median is taken over."""
    s = results["setting"]
    return f"{s['rounds'] * s['steps']} steps ({s['rounds']} rounds of {s['steps']})"


def has(results: Results, engine: str) -> bool:
    return engine in results.get("steps", {})


def readme_speed(results: Results) -> str:
    """README's Speed section."""
    mem = results["memory"]
    chain = results["chain"]["eager"]
    runs = chain.get("total_s_all", [chain["total_s"]])
    head = (
        f"On that training step, the last recorded run of `python benchmarks/run.py` "
        f"([{RESULTS_NAME}]({RESULTS_NAME}): {machine(results)}) measured these medians "
        f"over {rounds(results)}, with the range in brackets:"
    )
    rows = [("micrograd 0.1.0", "micrograd"), ("microgradx eager", "eager")]
    rows.append(("`microgradx.compile`", "compiled"))
    if has(results, "compiled-matmul"):
        rows.append(('`compile(..., backend="numpy")`', "compiled-matmul"))
    if has(results, "torch"):
        rows.append(("PyTorch float64 (batched)", "torch"))
    if has(results, "numpy-hand"):
        rows.append(("the same model in NumPy by hand", "numpy-hand"))
    lines = [
        *_wrap(head),
        "",
        "| ms per step | GC on (the default) | GC off |",
        "|---|---|---|",
        *(
            f"| {label} | {timing(results, e, 'gc_on')} | {timing(results, e, 'gc_off')} |"
            for label, e in rows
        ),
    ]
    sentence = (
        f"The eager engine is {times(ratio(results, 'eager', 'gc_on'))} faster than micrograd "
        f"with the garbage collector at its defaults (ratio of the medians; "
        f"{ratio_range(results, 'eager', 'gc_on')} between the extremes) and "
        f"{times(ratio(results, 'eager', 'gc_off'))} with it off "
        f"({ratio_range(results, 'eager', 'gc_off')}){paused(results)}, at "
        f"{mem['eager']['bytes_per_node']:.0f} bytes per graph node (micrograd: "
        f"{mem['micrograd']['bytes_per_node']:.0f}). A chain of a million operations builds "
        f"and backpropagates in {chain['total_s']:.2f} s (best of {len(runs)}) with the "
        f"default recursion limit. Compiled, the step is "
        f"{times(ratio(results, 'compiled', 'gc_off'))} faster than micrograd with the "
        f"collector off"
    )
    if has(results, "torch"):
        sentence += f" and {against(results, 'compiled', 'torch', 'PyTorch float64')}"
    sentence += "."
    if has(results, "compiled-matmul") and has(results, "torch") and has(results, "numpy-hand"):
        fast = step(results, "compiled-matmul", "gc_off")["median_ms"]
        hand = "the same model in NumPy by hand"
        sentence += (
            f' With `backend="numpy"` (every example at once, each layer one matrix product) '
            f"the step takes {ms(fast)} ms: it "
            f"{against(results, 'compiled-matmul', 'torch', 'PyTorch')} and "
            f"{against(results, 'compiled-matmul', 'numpy-hand', hand)}."
        )
    sentence += (
        " The figures differ from machine to machine and with the load, the collector-on "
        "column most: it measures micrograd's reference cycles as much as the engines."
    )
    return "\n".join([*lines, "", *_wrap(sentence)])


def against(results: Results, engine: str, other: str, name: str) -> str:
    """`takes 3.6 times as long as NAME` or `is 2.1x faster than NAME` (collector off)."""
    r = ratio(results, other, "gc_off", engine)  # engine's time over other's
    return (
        f"takes {r:.1f} times as long as {name}"
        if r >= 1
        else f"is {times(1 / r)} faster than {name}"
    )


def paused(results: Results) -> str:
    """The eager step inside `gc_paused()` (as `fit()` runs it) against micrograd at its
    defaults, as a clause of README's sentence ("" when the run has no such timing)."""
    if "gc_paused" not in results["steps"].get("eager", {}):
        return ""
    r = (
        step(results, "micrograd", "gc_on")["median_ms"]
        / step(results, "eager", "gc_paused")["median_ms"]
    )
    return f"; inside `fit()`, which pauses the collector for each step, {times(r)}"


def performance_table(results: Results) -> str:
    """The table of the performance page: what run.py printed, and when it ran."""
    return "\n".join(
        [
            "```text",
            results["table"].rstrip("\n"),
            f"(run on {results['when']}, {results['seconds']:.0f} s; recorded in {RESULTS_NAME})",
            "```",
        ]
    )


def performance_reading(results: Results) -> str:
    """The sentences of the performance page that read the table."""
    text = (
        f"Reading it: the eager engine is {times(ratio(results, 'eager', 'gc_on'))} faster "
        f"than micrograd as users run it, and {times(ratio(results, 'eager', 'gc_off'))} with "
        f"the collector out of the picture; the gap between the two columns is micrograd's "
        f"reference cycles. Compiled, the step is {times(ratio(results, 'compiled', 'gc_off'))} "
        f"faster than micrograd even with the collector off"
    )
    if has(results, "torch"):
        text += (
            f", and takes {ratio(results, 'torch', 'gc_off', 'compiled'):.1f} times as long as "
            f"PyTorch"
        )
    return "\n".join(_wrap(text + "."))


def nodes(results: Results) -> str:
    """How many graph nodes one training step makes."""
    return f"{results['memory']['micrograd']['nodes']:,}"


def gc_pause(results: Results) -> str:
    """The collector's share of an eager step, as the go-faster page quotes it."""
    on = step(results, "eager", "gc_on")["median_ms"]
    off = step(results, "eager", "gc_off")["median_ms"]
    return f"{ms(on)} ms to {ms(off)} ms, medians of the last recorded run"


def compiled_step(results: Results) -> str:
    """The eager and compiled step, collector on, as the go-faster page quotes it."""
    eager = step(results, "eager", "gc_on")["median_ms"]
    compiled = step(results, "compiled", "gc_on")["median_ms"]
    return f"{ms(eager)} ms to {ms(compiled)} ms"


def ab_results(block: str) -> Results:
    """The A/B results file a block quotes (see `AB_FILES`)."""
    return load(ROOT / AB_FILES[block])


def ab_timing(row: Results, version: str, unit: str) -> str:
    """`1.91 ms [1.18–10.2]`: one version's median and range in an A/B row."""
    r = row[version]
    fmt = ms if unit == "ms" else (lambda x: f"{x:.2f}")
    return f"{fmt(r['median'])} {unit} [{fmt(r['min'])}–{fmt(r['max'])}]"


def ab_source(block: str, ab: Results) -> str:
    """`recorded in FILE: Python 3.11.7, Linux x86_64, 2 CPUs, DATE`: where an A/B ran."""
    where = machine({"machine": ab["machine"], "when": ab["when"]})
    return f"recorded in {AB_FILES[block]}: {where}"


def early_exit(_: Results) -> str:
    """The compiled step with and without the early exit, from the A/B file."""
    ab = ab_results("early-exit")
    row = ab["tasks"]["compiled-trained"]
    task = row["task"]
    speed = row["old"]["median"] / row["new"]["median"]
    text = (
        f"On the moons step after {task['warmup']} training steps, when about a quarter of "
        f"the {task['points']} examples have a nonzero hinge, the compiled step takes "
        f"{ab_timing(row, 'new', 'ms')} with the exit and {ab_timing(row, 'old', 'ms')} "
        f"without it ({speed:.2f} times as fast; medians of {row['new']['n']} steps in "
        f"{ab['rounds']} rounds of fresh processes, the versions alternating; "
        f"{ab_source('early-exit', ab)})."
    )
    return "\n".join(_wrap(text))


def chain_gc(_: Results) -> str:
    """The chain of number operands with the collector off and on, from the A/B file."""
    ab = ab_results("chain-gc")
    off, on = ab["tasks"]["chain-consts"], ab["tasks"]["chain-consts-gc"]
    n = ab["setting"]["chain"]
    share = on["new"]["median"] / off["new"]["median"]
    text = (
        f"A chain of {n:,} operations `y * 1.000001` builds and backpropagates in "
        f"{ab_timing(off, 'new', 's')} with the collector off and "
        f"{ab_timing(on, 'new', 's')} with it at its defaults, {share:.2f} times as long "
        f"(medians of {on['new']['n']} fresh processes; {ab_source('chain-gc', ab)})."
    )
    return "\n".join(_wrap(text))


def batch_sizes(results: Results) -> str:
    """The Scale up page's table: ms per step of the compiled backends, PyTorch and NumPy
    by hand at each batch size of the last full run (collector on)."""
    sizes = results["sizes"]
    rows = [
        ("`compile(...)`, one example at a time", "compiled"),
        ('`backend="numpy"`', "compiled-matmul"),
        ('`backend="numpy", matmul=False`', "compiled-numpy"),
        ('`backend="torch"` (1 thread)', "compiled-torch"),
        ("PyTorch float64, batched (1 thread)", "torch"),
        ("NumPy by hand (matrices)", "numpy-hand"),
    ]
    rows = [(label, e) for label, e in rows if e in sizes["steps"]]
    points = sizes["points"]

    def cell(engine: str, n: int) -> str:
        r = sizes["steps"][engine][str(n)]
        return f"{ms(r['median_ms'])} [{ms(r['min_ms'])}–{ms(r['max_ms'])}]"

    head = (
        f"ms per training step of the moons model, median [range], from the last recorded "
        f"run (`{RESULTS_NAME}`: {machine(results)}; the collector at its defaults):"
    )
    return "\n".join(
        [
            *_wrap(head),
            "",
            "| points | " + " | ".join(f"{n:,}" for n in points) + " |",
            "|---" * (len(points) + 1) + "|",
            *(f"| {label} | " + " | ".join(cell(e, n) for n in points) + " |" for label, e in rows),
        ]
    )


GC_FLOOR_NAME = "benchmarks/results/gc-floor.json"


def gc_floor(_: Results) -> str:
    """The collector's time on a chain of bare nodes, from `gc_floor.py`'s file."""
    floor = load(ROOT / GC_FLOOR_NAME)
    modes = floor["modes"]
    on, off = modes["on"], modes["off"]
    ab = ab_results("chain-gc")
    chain_on, chain_off = ab["tasks"]["chain-consts-gc"]["new"], ab["tasks"]["chain-consts"]["new"]
    chain_share = chain_on["median"] - chain_off["median"]
    text = (
        f"Built with the collector at its defaults, {floor['nodes']:,} bare nodes take "
        f"{ab_timing(modes, 'on', 's')}, with it off {ab_timing(modes, 'off', 's')}: the "
        f"collector adds {on['median'] - off['median']:.2f} s (the difference of the "
        f"medians) before any arithmetic, against the {chain_share:.2f} s it "
        f"adds to the chain of `y * 1.000001` above (medians of {on['n']} fresh processes "
        f"each, the modes alternating; `{GC_FLOOR_NAME}`: {machine(floor)})."
    )
    return "\n".join(_wrap(text))


LAYOUT_NAME = "benchmarks/results/layout.json"
DUNDER = re.compile(r"__\w+__")  # `__dict__` in a table cell, not bold "dict"


def _code(m: re.Match[str]) -> str:
    return f"`{m.group(0)}`"


def attributes(_: Results) -> str:
    """What room for attributes of one's own would cost a node, from `layout.py`'s file."""
    layout = load(ROOT / LAYOUT_NAME)
    head = (
        f"Measured by `benchmarks/layout.py` (`{LAYOUT_NAME}`: {machine(layout)}). "
        f"Bytes per node is the memory of the moons training step per graph node after "
        f"forward (the object, its float and its share of the rest; see Performance): "
        f"{layout['latest_bytes_per_node']:.0f} today, against a budget of at most "
        f"{layout['budget']}. With each layout, before any attribute is stored:"
    )
    rows = [
        f"| {DUNDER.sub(_code, name)} | {row['bytes_per_object']:.0f} | "
        f"{row['bytes_per_node']:.0f} |"
        for name, row in layout["layouts"].items()
    ]
    hook = layout["setattr"]
    tail = (
        f"And a `__setattr__` written in Python, the one way to catch a new attribute "
        f"without a `__dict__`, makes the seven writes that create a node (its eighth "
        f"field, the adjoint, is written by backward) take "
        f"{hook['ratio']:.1f} times as long ({hook['hooked_ns']:.0f} ns against "
        f"{hook['plain_ns']:.0f} ns, best of {hook['rounds']} alternating runs)."
    )
    return "\n".join(
        [
            *_wrap(head),
            "",
            "| layout | bytes per object | bytes per node |",
            "|---|---|---|",
            *rows,
            "",
            *_wrap(tail),
        ]
    )


BLOCKS: dict[str, Callable[[Results], str]] = {
    "readme-speed": readme_speed,
    "performance-table": performance_table,
    "performance-reading": performance_reading,
    "nodes-per-step": nodes,
    "gc-pause": gc_pause,
    "compiled-step": compiled_step,
    "early-exit": early_exit,
    "chain-gc": chain_gc,
    "batch-sizes": batch_sizes,
    "attributes": attributes,
    "gc-floor": gc_floor,
}


def _wrap(text: str, width: int = 90) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line]


def render(name: str, results: Results) -> str:
    """The text of one block. A block on its own lines keeps its line breaks around it."""
    if name not in BLOCKS:
        raise KeyError(f"unknown figures block {name!r}; known: {', '.join(BLOCKS)}")
    return BLOCKS[name](results)


def rewrite(text: str, results: Results) -> str:
    """`text` with every marked region rewritten from `results`."""

    def replace(m: re.Match[str]) -> str:
        body = m.group("body")
        new = render(m.group("name"), results)
        if body.startswith("\n"):  # a block: the markers on lines of their own
            new = f"\n{new}\n"
        return f"{m.group('open')}{new}{m.group('close')}"

    return MARK.sub(replace, text)


def regions(text: str) -> list[tuple[str, str]]:
    """(block name, text between the markers) of every marked region."""
    return [(m.group("name"), m.group("body")) for m in MARK.finditer(text)]


def load(path: Path = RESULTS) -> Results:
    """The recorded results."""
    results: Results = json.loads(path.read_text("utf-8"))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or with --check, compare) the marked figures of README and the docs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date text")
    parser.add_argument("--results", default=str(RESULTS), help="the results file to quote")
    args = parser.parse_args(argv)
    results = load(Path(args.results))
    stale = []
    for name in FILES:
        path = ROOT / name
        text = path.read_text("utf-8")
        new = rewrite(text, results)
        if new != text:
            stale.append(name)
            if not args.check:
                path.write_text(new, "utf-8")
                print(f"rewrote the figures of {name}")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run python benchmarks/figures.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
