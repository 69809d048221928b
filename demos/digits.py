"""A real data set on a scalar engine: handwritten digits with a small MLP.

scikit-learn ships 1797 images of handwritten digits, 8x8 pixels each (install it with
`pip install -e ".[digits]"`). A network MLP(64, [16, 10]) reads the 64 pixels and gives one
score (logit) per digit; softmax cross-entropy turns the scores into a loss, and Adam
trains it on mini-batches. Every one of the 1,210 parameters and every multiplication is
a scalar Value. The accuracy is measured on digits the network never saw in training.

    python demos/digits.py --out out/digits
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from microgradx import gc_paused, no_grad
from microgradx.losses import cross_entropy
from microgradx.nn import MLP
from microgradx.optim import Adam
from microgradx.plot import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Rows = list[tuple[list[float], int]]


def load(train_size: int, test_size: int, seed: int) -> tuple[Rows, Rows]:
    """The digits, pixels scaled to [0, 1], shuffled and split into train and test."""
    try:
        from sklearn.datasets import load_digits  # type: ignore[import-untyped]
    except ImportError:
        sys.exit('digits.py needs scikit-learn: pip install -e ".[digits]"')
    digits = load_digits()
    rows = [
        ([float(p) / 16.0 for p in image], int(t))
        for image, t in zip(digits.data, digits.target, strict=True)
    ]
    random.Random(seed).shuffle(rows)
    if train_size + test_size > len(rows):
        raise SystemExit(f"at most {len(rows)} digits in total, asked for {train_size + test_size}")
    return rows[:train_size], rows[train_size : train_size + test_size]


def accuracy(model: MLP, rows: Rows) -> float:
    """Fraction of rows whose largest logit is the right digit."""
    with no_grad():
        hits = 0
        for x, t in rows:
            logits = model(x)
            hits += max(range(10), key=lambda k: logits[k].data) == t
    return hits / len(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Train, report the loss per epoch and the test accuracy, draw the curves."""
    require("sklearn", extra="digits", program="demos/digits.py")
    require("tqdm", "matplotlib", program="demos/digits.py")
    from tqdm import tqdm  # type: ignore[import-untyped]

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=800, help="training digits (default 800)")
    parser.add_argument("--test", type=int, default=997, help="test digits (default 997)")
    parser.add_argument("--hidden", type=int, default=16, help="hidden neurons (default 16)")
    parser.add_argument("--epochs", type=int, default=4, help="passes over the data (default 4)")
    parser.add_argument("--batch", type=int, default=25, help="mini-batch size (default 25)")
    parser.add_argument("--lr", type=float, default=0.03, help="Adam learning rate (default 0.03)")
    parser.add_argument("--seed", type=int, default=0, help="shuffle and weight seed")
    parser.add_argument("--out", default="out/digits", help="folder for the pictures")
    args = parser.parse_args(argv)

    train, test = load(args.train, args.test, args.seed)
    model = MLP(64, [args.hidden, 10], seed=args.seed)
    optimizer = Adam(model.parameters(), lr=args.lr)
    print(
        f"MLP(64, [{args.hidden}, 10]): {len(model.parameters())} parameters; "
        f"{len(train)} training digits, {len(test)} test digits"
    )
    rng = random.Random(args.seed + 1)
    losses: list[float] = []
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        rng.shuffle(train)
        batches = [train[i : i + args.batch] for i in range(0, len(train), args.batch)]
        for batch in tqdm(batches, desc=f"epoch {epoch}", unit="batch", file=sys.stderr):
            # a mini-batch's graph has tens of thousands of nodes and no reference cycles:
            # with the collector paused it is freed by reference counting alone, at `del`
            with gc_paused():
                optimizer.zero_grad()
                loss = cross_entropy([model(x) for x, _ in batch], [t for _, t in batch])
                loss.backward()
                optimizer.step()
                losses.append(loss.data)
                del loss
        recent = losses[-len(batches) :]
        print(f"epoch {epoch}: mean training loss {sum(recent) / len(recent):.4f}")
    seconds = time.perf_counter() - started
    print(f"trained in {seconds:.1f} s")
    print(f"training accuracy {accuracy(model, train):.1%}")
    print(f"test accuracy {accuracy(model, test):.1%} (on {len(test)} digits it never saw)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in figures(losses).items():
        fig.savefig(out / name, dpi=120)
        print(f"wrote {out / name}")
    return 0


def figures(losses: list[float]) -> dict[str, Figure]:
    """The cross-entropy of every mini-batch, its lowest point marked."""
    from microgradx.plot import plot_loss

    loss = plot_loss(losses, title="digits: cross-entropy per mini-batch", xlabel="mini-batch")
    return {"loss.png": loss}


if __name__ == "__main__":
    sys.exit(main())
