"""Small deterministic toy data sets in plain Python (no NumPy, no scikit-learn).

Every generator takes a `seed` and draws only from its own `random.Random(seed)`, so
one seed always gives the same data, and the global `random` state is never touched.

* `make_moons` — two interleaving half circles, labels 0 and 1 (micrograd's demo);
* `make_line` — noisy points on a line, for linear regression;
* `make_blobs` — Gaussian clusters, labels 0 .. k-1, for softmax classification.

Examples:
    >>> from microgradx.data import make_moons
    >>> X, y = make_moons(n=100, noise=0.1, seed=0)
    >>> len(X), len(X[0]), sorted(set(y))
    (100, 2, [0, 1])
"""

from __future__ import annotations

import math

from .checks import to_count, to_real, to_rng

__all__ = ["make_blobs", "make_line", "make_moons"]


def _scale(x: object, name: str) -> float:
    value = to_real(x, name)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number >= 0, got {x!r}")
    return value


def make_moons(
    n: int = 100, noise: float = 0.1, seed: int = 0
) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles in the plane: `(X, y)`.

    Label `0` is the upper moon, `cos(t), sin(t)` for `t` in `[0, pi]`; label
    `1` the lower one, `1 - cos(t), 0.5 - sin(t)`. The first `n // 2` points go to
    moon 0, the rest to moon 1, evenly spaced in `t` (as scikit-learn does), then each
    coordinate gets Gaussian noise of standard deviation `noise` and the points are
    shuffled. `X` is a list of `[x0, x1]` pairs, `y` a list of ints. For the
    hinge loss, which wants labels -1 and +1, use `[2 * yi - 1 for yi in y]`.
    """
    n = to_count(n, "n", 2)
    sd = _scale(noise, "noise")
    rng = to_rng(seed)
    n_upper = n // 2
    n_lower = n - n_upper
    points: list[tuple[list[float], int]] = []
    for i in range(n_upper):
        t = math.pi * i / (n_upper - 1) if n_upper > 1 else 0.0
        points.append(([math.cos(t), math.sin(t)], 0))
    for i in range(n_lower):
        t = math.pi * i / (n_lower - 1) if n_lower > 1 else 0.0
        points.append(([1.0 - math.cos(t), 0.5 - math.sin(t)], 1))
    if sd:
        for xy, _ in points:
            xy[0] += rng.gauss(0.0, sd)
            xy[1] += rng.gauss(0.0, sd)
    rng.shuffle(points)
    return [xy for xy, _ in points], [label for _, label in points]


def make_line(
    n: int = 20,
    slope: float = 2.0,
    intercept: float = 1.0,
    noise: float = 0.1,
    seed: int = 0,
    x_range: tuple[float, float] = (-1.0, 1.0),
) -> tuple[list[float], list[float]]:
    """Points near the line `y = slope * x + intercept`: `(xs, ys)`.

    `xs` are `n` evenly spaced values over `x_range`; each `y` gets Gaussian noise
    of standard deviation `noise`. Fitting `w * x + b` by least squares recovers
    `slope` and `intercept` approximately.
    """
    n = to_count(n, "n", 2)
    sd = _scale(noise, "noise")
    a = to_real(slope, "slope", finite=True)
    b = to_real(intercept, "intercept", finite=True)
    if not isinstance(x_range, (tuple, list)) or len(x_range) != 2:
        raise TypeError(f"x_range must be a pair (low, high), got {x_range!r}")
    lo, hi = (to_real(v, "x_range", finite=True) for v in x_range)
    rng = to_rng(seed)
    xs = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
    ys = [a * x + b + (rng.gauss(0.0, sd) if sd else 0.0) for x in xs]
    return xs, ys


def make_blobs(
    n: int = 150, centers: int = 3, std: float = 0.5, radius: float = 2.0, seed: int = 0
) -> tuple[list[list[float]], list[int]]:
    """Gaussian clusters in the plane, one per class: `(X, y)` with labels 0 .. centers-1.

    Cluster `k` is centred at angle `2 * pi * k / centers` on a circle of `radius`
    around the origin; its points have standard deviation `std` per coordinate. The
    classes take turns (point `i` has label `i % centers`) and the points are then
    shuffled.
    """
    n = to_count(n, "n", 1)
    k = to_count(centers, "centers", 1)
    sd = _scale(std, "std")
    r = _scale(radius, "radius")
    rng = to_rng(seed)
    points: list[tuple[list[float], int]] = []
    for i in range(n):
        label = i % k
        angle = 2 * math.pi * label / k
        x = r * math.cos(angle) + rng.gauss(0.0, sd)
        y = r * math.sin(angle) + rng.gauss(0.0, sd)
        points.append(([x, y], label))
    rng.shuffle(points)
    return [xy for xy, _ in points], [label for _, label in points]
