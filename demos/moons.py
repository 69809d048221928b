"""The main job: train a neural network on two moons to 100% accuracy.

micrograd's classic demo: MLP(2, [16, 16, 1]) (337 parameters) on 100 points of two
interleaving half-moons, the hinge loss plus a small L2 penalty, 100 steps of gradient
descent with a learning rate falling from 1.0 to 0.1. Every multiplication of every step
runs through the scalar engine (`train.fit` pauses the garbage collector for each step:
the graph has no cycles, so reference counting frees it). It prints the final loss and
accuracy and writes the loss and accuracy curves, the decision boundary and the graph
diagram of one neuron that is active on one point, its gradients from one backward pass.

    python demos/moons.py                  # writes out/moons/
    python demos/moons.py --out somewhere
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from microgradx import Value, no_grad
from microgradx.losses import hinge, l2_penalty
from microgradx.plot import require
from microgradx.train import MOONS_SEED, MoonsRun, binary_accuracy, train_moons

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def main(argv: Sequence[str] | None = None) -> int:
    """Train with a progress bar, report the result, write the pictures."""
    require("tqdm", "matplotlib", program="demos/moons.py")
    from microgradx.viz import INSTALL_HINT, find_renderer

    if find_renderer() is None:
        raise SystemExit(f"demos/moons.py draws a graph and needs a renderer: {INSTALL_HINT}")
    from tqdm import tqdm  # type: ignore[import-untyped]

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    parser.add_argument("--points", type=int, default=100, help="data points (default 100)")
    parser.add_argument("--seed", type=int, default=MOONS_SEED, help="data and weight seed")
    parser.add_argument(
        "--resolution",
        type=int,
        default=100,
        help="grid size of the decision-boundary picture (default 100)",
    )
    parser.add_argument("--out", default="out/moons", help="folder for the pictures")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    with tqdm(total=args.steps, desc="training", unit="step", file=sys.stderr) as bar:

        def progress(step: int, loss: float, accuracy: float | None) -> None:
            bar.set_postfix(loss=f"{loss:.4f}", accuracy=f"{accuracy or 0:.0%}", refresh=False)
            bar.update(1)

        run = train_moons(n=args.points, steps=args.steps, seed=args.seed, callback=progress)
    seconds = time.perf_counter() - started

    with no_grad():  # the trained model, after its last update
        scores = [run.model(x) for x in run.X]
        loss = hinge(scores, run.y) + l2_penalty(run.model.parameters(), 1e-4)
    accuracy = binary_accuracy(scores, run.y)
    reached = run.history.first_step_at(1.0)
    print(
        f"trained MLP(2, [16, 16, 1]) ({len(run.model.parameters())} parameters) on "
        f"{len(run.X)} points for {args.steps} steps in {seconds:.1f} s"
    )
    print(f"final loss {loss.data:.4f}, accuracy {accuracy:.1%}")
    if reached is not None:
        print(f"100% accuracy first reached at step {reached}")
    for p in draw(run, out, args.resolution):
        print(f"wrote {p}")
    return 0


def active_neuron(run: MoonsRun) -> tuple[int, int]:
    """The first neuron of the first layer that is active (relu > 0) on some point, and the
    first such point, as indices (0, 0 if every neuron is dead on every point)."""
    with no_grad():
        for j, neuron in enumerate(run.model.layers[0].neurons):
            for i, x in enumerate(run.X):
                if neuron(x).data > 0:
                    return j, i
    return 0, 0


def neuron_graph(run: MoonsRun) -> tuple[Value, str]:
    """The graph of one trained neuron on one point, after its own backward pass.

    The neuron's parameters are zeroed first, so every gradient drawn comes from this one
    `backward()` (not from the last training step). Returns the output and a sentence
    saying which neuron and point it is.
    """
    j, i = active_neuron(run)
    neuron = run.model.layers[0].neurons[j]
    for k, w in enumerate(neuron.w):
        w.label = f"w{k + 1}"
    neuron.b.label = "b"
    x = [Value(c, label=f"x{k + 1}") for k, c in enumerate(run.X[i])]
    for p in neuron.parameters():
        p.grad = 0.0
    y = neuron(x)
    y.label = "relu"
    y.inputs[0].label = "n"
    y.backward()
    state = "active" if y.data > 0 else "inactive (every neuron is off on every point)"
    about = f"neuron {j + 1} of the first layer on point {i}, where it is {state}"
    return y, about


def figures(run: MoonsRun, resolution: int = 100) -> dict[str, Figure]:
    """The loss curve, the accuracy curve and the decision boundary of a trained run."""
    from microgradx.plot import plot_decision_boundary, plot_loss

    accuracy = [a for a in run.history.accuracy if a is not None]
    return {
        "loss.png": plot_loss(run.history.loss, log=True, title="moons: training loss"),
        "accuracy.png": plot_loss(
            accuracy, ylabel="accuracy", mark="max", title="moons: training accuracy"
        ),
        "decision_boundary.png": plot_decision_boundary(
            run.model, run.X, run.y, resolution=resolution
        ),
    }


def draw(run: MoonsRun, out: Path, resolution: int = 100) -> list[Path]:
    """Write the pictures of `figures` and the graph of one active neuron to `out`."""
    from microgradx.viz import draw_dot, render

    written = []
    for name, fig in figures(run, resolution).items():
        fig.savefig(out / name, dpi=120)
        written.append(out / name)
    y, about = neuron_graph(run)
    print(f"neuron.svg: {about}")
    written.append(render(draw_dot(y, rankdir="TB", stack=True), out / "neuron.svg"))
    return written


if __name__ == "__main__":
    sys.exit(main())
