"""The benchmark harness runs end to end on its tiny setting (no time is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"
sys.path.insert(0, str(RUN.parent))

import engines  # noqa: E402
import run  # noqa: E402

ENGINES = ["micrograd", "eager", "compiled", "autograd"]  # torch is optional: not required here


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--engines", ",".join(ENGINES),
         "--json", str(out / "r.json"), "--chart", str(out / "r.png")],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "r.json").read_text()), proc.stdout, out


def test_every_engine_is_timed_with_and_without_the_collector(quick):
    results, _, _ = quick
    assert list(results["steps"]) == ENGINES
    for engine in ENGINES:
        for mode in ("gc_on", "gc_off"):
            r = results["steps"][engine][mode]
            assert r["n"] == results["setting"]["rounds"] * results["setting"]["steps"]
            assert 0 < r["min_ms"] <= r["median_ms"] <= r["max_ms"]
            assert results["ratios"][engine][mode] > 0
    assert results["ratios"]["micrograd"] == {"gc_on": 1.0, "gc_off": 1.0}


def test_all_engines_compute_the_same_first_loss(quick):
    results, _, _ = quick
    losses = results["first_loss"]
    assert set(losses) == set(ENGINES)
    assert 0.1 < losses["micrograd"] < 10
    assert results["first_loss_max_difference"] < 1e-9


def test_graph_sizes_memory_and_chain_are_reported(quick):
    results, _, _ = quick
    mem = results["memory"]
    # the same graph; microgradx shares one constant node among the uses of a number
    assert mem["eager"]["nodes"] + mem["eager"]["shared"] == mem["micrograd"]["nodes"] > 1000
    for engine in ("eager", "micrograd"):
        assert 0 < mem[engine]["bytes_per_node"] <= mem[engine]["bytes_per_node_after_backward"]
    n = results["setting"]["chain"]
    for engine in ("eager", "micrograd"):
        c = results["chain"][engine]
        # y = x, then alternately y * w and y + x with x = w = 0.5: y -> x / (1 - w) = 1,
        # dy/dx -> 1 / (1 - w) = 2 and dy/dw -> y / (1 - w) = 2
        assert n >= 1000 and c["x_grad"] == pytest.approx(2.0) and c["w_grad"] == pytest.approx(2.0)
    assert results["chain"]["eager"]["recursion_limit"] == 1000  # never raised
    # y * 1.000001, n times, from x = 0.5: dy/dx = 1.000001 ** n; the same with the
    # collector at its defaults, which then runs
    for key, mode in (("eager-consts", "off"), ("eager-consts-gc", "on")):
        c = results["chain"][key]
        assert c["gc_mode"] == mode and c["x_grad"] == pytest.approx(1.000001**n, rel=1e-9)
    assert results["chain"]["eager-consts"]["collections"] == 0
    assert results["chain"]["eager-consts-gc"]["collections"] > 0


def test_the_batch_sizes_table(quick):
    results, stdout, _ = quick
    s, sizes = results["setting"], results["sizes"]
    assert sizes["points"] == s["sizes"] == [4, 8]
    batched = [e for e in ENGINES if e not in run.SCALAR]
    assert list(sizes["steps"]) == [*batched, "eager", "eager-paused", "micrograd"]
    assert sizes["gc_mode"]["eager-paused"] == "paused" and sizes["gc_mode"]["eager"] == "on"
    for row, by_points in sizes["steps"].items():
        # the engines that build a graph per example run at the main table's points only
        expected = (
            [str(s["points"])] if row in ("eager", "eager-paused", "micrograd") else ["4", "8"]
        )
        assert list(by_points) == expected
        for r in by_points.values():
            assert r["min_ms"] > 0
            if row not in ("eager", "eager-paused", "micrograd"):
                assert r["n"] == s["size_rounds"] * s["size_steps"]
    # those are the timings of the main table, not measured twice
    assert sizes["steps"]["micrograd"]["8"] == results["steps"]["micrograd"]["gc_on"]
    assert sizes["steps"]["eager-paused"]["8"] == results["steps"]["eager"]["gc_paused"]
    assert "batch sizes" in stdout and "microgradx eager, gc_paused()" in stdout
    # and the main table has the eager step inside gc_paused() too
    assert results["steps"]["eager"]["gc_paused"]["n"] == s["rounds"] * s["steps"]


def test_an_engine_not_installed_is_skipped_with_a_note(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(engines, "ENGINES", [*engines.ENGINES, "absent"])
    monkeypatch.setattr(engines, "available", lambda e: e != "absent" and e != "autograd")
    monkeypatch.setattr(run, "measure", lambda setting, names, log: calls.append(names) or {})
    monkeypatch.setattr(run, "table", lambda results: "table")
    out = tmp_path / "r.json"
    assert run.main(["--quick", "--json", str(out), "--no-chart"]) == 0
    assert calls == [[e for e in engines.ENGINES if e not in ("absent", "autograd")]]
    assert json.loads(out.read_text())["missing"] == ["autograd", "absent"]


def test_table_and_chart_are_written(quick):
    results, stdout, out = quick
    assert results["table"] in stdout
    for engine in ENGINES:
        assert engines.LABELS[engine] in stdout
    assert (out / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_chart_shows_the_recorded_numbers() -> None:
    import matplotlib.pyplot as plt

    results = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text("utf-8"))
    fig = run.chart_figure(results)
    try:
        top, bottom = fig.axes
        names = list(results["steps"])
        assert fig.get_size_inches().tolist() == [7.5, 1.0 + 0.9 * len(names)]
        assert top.get_xlabel() == "speed-up over micrograd 0.1.0 (x)"
        assert bottom.get_xlabel() == "milliseconds per training step (median)"
        assert fig._suptitle.get_text().startswith("moons training step, MLP(2, [16, 16, 1])")
        for ax in (top, bottom):  # every engine named in full, down the side
            shown = [t.get_text() for t in ax.get_yticklabels()]
            assert shown == [engines.LABELS[e] for e in names]
        for ax, numbers, fmt in (
            (top, lambda e, m: results["ratios"][e][f"gc_{m}"], run._times),
            (bottom, lambda e, m: results["steps"][e][f"gc_{m}"]["median_ms"], run._ms),
        ):
            labels = [t.get_text() for t in ax.texts]  # the bar labels, GC on then off
            assert labels == [fmt(numbers(e, m)) for m in ("on", "off") for e in names]
            lengths = [p.get_width() for p in ax.patches]
            assert lengths == [numbers(e, m) for m in ("on", "off") for e in names]
        every_text = [t for ax in fig.axes for t in (*ax.texts, *ax.get_yticklabels())]
        assert min(t.get_fontsize() for t in every_text) >= 8
    finally:
        plt.close(fig)


def test_the_workloads_start_from_micrograds_weights():
    layers = engines.initial_weights()
    assert [len(layer) for layer in layers] == engines.SIZES
    assert all(len(neuron) == 3 for neuron in layers[0])  # 2 weights and a bias
    xs, ys = engines.moons(10)
    assert len(xs) == 10 and set(ys) == {-1, 1}
    assert engines.moons(10) == (xs, ys)  # deterministic


def test_unknown_engine_is_refused():
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--engines", "nope"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "unknown engine" in proc.stderr


def test_a_graph_node_takes_at_most_160_bytes_after_backward():
    import gc
    import tracemalloc

    from microgradx import Value

    w = [Value(0.1 * i) for i in range(20)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = Value(0.0)
        for k in range(500):  # 20,000 nodes: sums of products, as in a neuron
            out = out + w[k % 20] * (k * 0.001)
        out.backward()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    nodes = engines.count_nodes(out)
    assert nodes == 3 * 500 + 1 + 20  # (add, mul, lifted constant) per step, the start, w
    assert 100 < used / nodes <= 160, used / nodes
    # each node's adjoint scratch is released once passed on: its data and grad remain
    assert w[3].grad == pytest.approx(sum(k * 0.001 for k in range(3, 500, 20)), rel=1e-12)
    v = out
    while v._a is not None:
        assert v._adj == 0.0 and v._b._adj == 0.0
        v = v._a


def test_gc_floor_worker_counts_the_collections_of_each_mode() -> None:
    import gc

    import gc_floor

    was = gc.isenabled()
    try:
        on = gc_floor.worker("on", 50_000)
        gc.enable()
        off = gc_floor.worker("off", 50_000)
    finally:
        (gc.enable if was else gc.disable)()
    assert on["collections"] >= 50_000 // 700 // 2  # young collections at least
    assert off["collections"] == 0
    assert on["seconds"] > 0 and off["seconds"] > 0
    head = gc_floor.chain(3)
    assert head._a._a._a is None  # each node holds the one made before it
