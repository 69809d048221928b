"""Every demo runs (small settings where a flag allows) and prints the right numbers.

The demos are run in this process through their ``main(argv)``, with pictures going to a
temporary folder; first_loop's output is checked line for line, and once as a script.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ROOT / "demos"

FIRST_LOOP = """\
1 w= 1.2 loss= 3.24
2 w= 1.92 loss= 1.166
3 w= 2.352 loss= 0.42
4 w= 2.611 loss= 0.151
5 w= 2.767 loss= 0.054
6 w= 2.86 loss= 0.02

step   w before   autograd dloss/dw   by hand 2*(w - 3)
   1     0.0000             -6.0000             -6.0000   same
   2     1.2000             -3.6000             -3.6000   same
   3     1.9200             -2.1600             -2.1600   same
   4     2.3520             -1.2960             -1.2960   same
   5     2.6112             -0.7776             -0.7776   same
   6     2.7667             -0.4666             -0.4666   same
"""


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"demo_{name}", DEMOS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert load(name).main(list(argv)) == 0
    return capsys.readouterr().out.splitlines()


def written(lines: list[str]) -> list[Path]:
    files = [Path(line.removeprefix("wrote ")) for line in lines if line.startswith("wrote ")]
    for f in files:
        data = f.read_bytes()
        kind = f.suffix
        assert (
            (kind == ".png" and data[:4] == b"\x89PNG")
            or (kind == ".gif" and data[:6] == b"GIF89a")
            or (kind == ".svg" and b"<svg" in data[:1000])
            or (kind == ".html" and data.startswith(b"<!DOCTYPE html>"))
        ), f
    return files


def test_every_demo_has_a_test() -> None:
    names = {p.stem for p in DEMOS.glob("*.py")}
    tested = {n.removeprefix("test_") for n in globals() if n.startswith("test_")}
    assert names <= tested, names - tested


def test_first_loop(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("first_loop").main([]) == 0
    assert capsys.readouterr().out == FIRST_LOOP


def test_first_loop_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, str(DEMOS / "first_loop.py")], capture_output=True, text=True, check=True
    )
    assert done.stdout == FIRST_LOOP


def test_quadratic(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = run("quadratic", capsys, "--steps", "10", "--weights", "20", "--out", str(tmp_path))
    assert lines[2].split() == ["1", "-3.6000", "-8.0000", "0.4000"]
    assert lines[3].split() == ["2", "-3.2400", "-7.2000", "0.3600"]
    assert "slopes of 20 weights by nudging each: 21 evaluations of the loss" in lines
    assert any(line.startswith("nudging w by 0.1 from -4: stopped at w = 0.0000") for line in lines)
    assert [f.name for f in written(lines)] == ["descent.png", "loss.png", "nudge.png"]


def test_stationary_points(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = run("stationary_points", capsys, "--out", str(tmp_path))
    assert "x = 1.000000000000" in lines[1] and lines[1].endswith("f''(x) = -4 -> a maximum")
    assert "x = 2.333333333333" in lines[2] and lines[2].endswith("f''(x) = +4 -> a minimum")
    assert "autograd:      f''(1) = -4, f''(7/3) = +4" in lines
    assert [f.name for f in written(lines)] == ["derivative.png"]


def test_learning_rates(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = run("learning_rates", capsys, "--out", str(tmp_path))
    assert lines[0].startswith("lr = 0.1   converges: loss 9 -> ")
    assert lines[1].startswith("lr = 0.95  oscillates")
    assert lines[2].startswith("lr = 1.1   diverges: the loss grew from 9 to ")
    assert lines[3].startswith("lr = 30    blows up: the loss became inf at step 87")
    assert "use a smaller learning rate" in lines[3]
    assert [f.name for f in written(lines)] == ["loss_curves.png", "steps.png"]


def test_linear_regression(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = run(
        "linear_regression", capsys, "--steps", "8", "--points", "10", "--out", str(tmp_path)
    )
    rows = [line.split("|") for line in lines[1:9]]
    assert len(rows) == 8
    for row in rows:  # autograd's gradient and the hand-written one, side by side
        auto0, hand0 = row[1].split()
        auto1, hand1 = row[2].split()
        assert (auto0, auto1) == (hand0, hand1)
    losses = [float(r[0].split()[3]) for r in rows]
    assert losses[-1] < losses[0]
    assert "the hand-written gradients matched autograd's at every step" in lines
    assert [f.name for f in written(lines)] == ["fit.png", "fit.gif"]


def test_local_minima(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = run("local_minima", capsys, "--out", str(tmp_path))
    assert "7 starts ended in 4 different valleys: [-7.0689, -1.4276, 4.2711, 9.6789]" in lines
    assert sum("<- the global minimum" in line for line in lines) == 2
    assert [f.name for f in written(lines)] == ["valleys.png", "loss_curves.png"]


def test_loss_vs_metric(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = run("loss_vs_metric", capsys, "--out", str(tmp_path))
    table = [line.split() for line in lines[1:10]]
    assert all(row[2] in ("0.000", "-0.000") for row in table)  # the accuracy's slope
    assert all(float(row[4]) != 0 and float(row[6]) != 0 for row in table)  # the losses'
    assert lines[-3].endswith("b stays 3, accuracy 0.500")
    assert lines[-2].endswith("accuracy 0.975")
    assert [f.name for f in written(lines)] == ["loss_vs_metric.png"]


def test_moons(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = run(
        "moons",
        capsys,
        "--steps",
        "3",
        "--points",
        "20",
        "--resolution",
        "8",
        "--out",
        str(tmp_path),
    )
    assert lines[0] == (
        "trained MLP(2, [16, 16, 1]) (337 parameters) on 20 points for 3 steps in "
        + lines[0].split(" in ")[-1]
    )
    loss, accuracy = lines[1].removeprefix("final loss ").split(", accuracy ")
    assert 0 < float(loss) < 2 and accuracy.endswith("%")
    names = [f.name for f in written(lines)]
    assert names == ["loss.png", "accuracy.png", "decision_boundary.png", "neuron.svg"]
    assert any(
        line.startswith("neuron.svg: neuron ") and line.endswith("where it is active")
        for line in lines
    )
    svg = (tmp_path / "neuron.svg").read_text()
    assert all(label in svg for label in ("w1", "w2", "x1", "x2", "relu"))


def test_digits(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = run(
        "digits", capsys, "--train", "30", "--test", "20", "--hidden", "4", "--epochs", "2",
        "--batch", "15", "--out", str(tmp_path),
    )  # fmt: skip
    assert lines[0] == "MLP(64, [4, 10]): 310 parameters; 30 training digits, 20 test digits"
    first = float(lines[1].removeprefix("epoch 1: mean training loss "))
    second = float(lines[2].removeprefix("epoch 2: mean training loss "))
    assert 0.5 < first < 20.0 and second < first  # cross-entropy of 10 classes, learning
    test_line = next(line for line in lines if line.startswith("test accuracy "))
    assert test_line.endswith("(on 20 digits it never saw)")
    assert [f.name for f in written(lines)] == ["loss.png"]


def test_backprop_steps(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = run("backprop_steps", capsys, "--out", str(tmp_path))
    assert lines[:9] == [
        "L = (a*b + c) * f at a=2, b=-3, c=10, f=-2; backward() runs these steps:",
        "L.grad = 1.0  (the seed: dL/dL = 1)",
        "d.grad += dL/dd = f * L.grad = -2.0 * 1.0 = -2.0",
        "f.grad += dL/df = d * L.grad = 4.0 * 1.0 = 4.0",
        "e.grad += dL/de = 1 * d.grad = 1.0 * -2.0 = -2.0",
        "c.grad += dL/dc = 1 * d.grad = 1.0 * -2.0 = -2.0",
        "a.grad += dL/da = b * e.grad = -3.0 * -2.0 = 6.0",
        "b.grad += dL/db = a * e.grad = 2.0 * -2.0 = -4.0",
        "gradients: L 1.0, d -2.0, e -2.0, a 6.0, b -4.0, c -2.0, f 4.0",
    ]
    assert "x1.grad += do/dx1 = w1 * (x1*w1).grad = -3.0000 * 0.5000 = -1.5000" in lines
    assert "a    8.0         4.0  wrong" in lines
    names = [str(f.relative_to(tmp_path)) for f in written(lines)]
    frames = [f"expression/frame-{i:03d}.svg" for i in range(9)]
    assert names == [
        "expression.html", "expression.gif", *frames, "neuron.html", "neuron.gif", "naive.html",
    ]  # fmt: skip
    naive = (tmp_path / "naive.html").read_text("utf-8")
    assert "the naive replay got these gradients wrong: a" in naive


def test_make_figures_runs_the_demos_and_draws_the_extra_figures(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "docs" / "make_figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.DEMOS) <= {p.stem for p in DEMOS.glob("*.py")}
    only = ["stationary_points", "backprop", "gradient", "derivative", "howto", "benchmark"]
    argv = ["--only", *only, "--img", str(tmp_path)]
    assert module.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    names = sorted(str(f.relative_to(tmp_path)) for f in written(lines))
    assert names == [
        "backprop/graph.svg",
        "backprop/neuron.svg",
        "benchmark.png",
        "derivative/finite_differences.png",
        "gradient/descent_2d.png",
        "graph_expression.png",
        "graph_expression.svg",
        "graph_neuron.png",
        "graph_neuron.svg",
        "plot_derivative.png",
        "plot_descent_1d.png",
        "plot_descent_2d.png",
        "stationary_points/derivative.png",
    ]
    graph = (tmp_path / "backprop" / "graph.svg").read_text()
    assert "grad 6.0000" in graph and "grad &#45;4.0000" in graph  # dL/da and dL/db
