"""The main job: train a neural network on two moons to 100% accuracy.

micrograd's classic demo: MLP(2, [16, 16, 1]) (337 parameters) on 100 points of two
interleaving half-moons, the hinge loss plus a small L2 penalty, 100 steps of gradient
descent with a learning rate falling from 1.0 to 0.1. Every multiplication of every step
runs through the scalar engine. It prints the final loss and accuracy and writes the loss
curve, the decision boundary and the graph diagram of one neuron.

    python demos/moons.py                  # writes out/moons/
    python demos/moons.py --out somewhere
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from microgradx import no_grad
from microgradx.losses import hinge, l2_penalty
from microgradx.train import MOONS_SEED, MoonsRun, binary_accuracy, train_moons


def main(argv: Sequence[str] | None = None) -> int:
    """Train with a progress bar, report the result, write the pictures."""
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


def draw(run: MoonsRun, out: Path, resolution: int = 100) -> list[Path]:
    """Loss curve, decision boundary, and the graph of the first neuron on the first point."""
    from microgradx.plot import plot_decision_boundary, plot_loss
    from microgradx.viz import draw_dot, render

    accuracy = [a for a in run.history.accuracy if a is not None]
    plot_loss(run.history.loss, log=True, title="moons: training loss", path=out / "loss.png")
    plot_loss({"accuracy": accuracy}, title="moons: training accuracy", path=out / "accuracy.png")
    plot_decision_boundary(
        run.model, run.X, run.y, resolution=resolution, path=out / "decision_boundary.png"
    )
    neuron = run.model.layers[0].neurons[0]
    for i, w in enumerate(neuron.w):
        w.label = f"w{i + 1}"
    neuron.b.label = "b"
    x = run.X[0]
    y = neuron(x)
    y.label = "relu"
    y.backward()  # fills the neuron's grads (the model is trained; nothing else reads them)
    render(draw_dot(y), out / "neuron.svg")
    return [
        out / "loss.png",
        out / "accuracy.png",
        out / "decision_boundary.png",
        out / "neuron.svg",
    ]


if __name__ == "__main__":
    sys.exit(main())
