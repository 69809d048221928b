"""Tests for microgradx.data: deterministic toy data sets with the documented shapes."""

from __future__ import annotations

import math
import random

import pytest

from microgradx.data import make_blobs, make_line, make_moons


def test_moons_shape_labels_and_determinism() -> None:
    xy, y = make_moons(n=100, noise=0.1, seed=0)
    assert len(xy) == len(y) == 100
    assert all(len(p) == 2 and all(isinstance(v, float) for v in p) for p in xy)
    assert y.count(0) == 50 and y.count(1) == 50
    assert make_moons(n=100, noise=0.1, seed=0) == (xy, y)
    assert make_moons(n=100, noise=0.1, seed=1) != (xy, y)
    assert y[:10] != sorted(y[:10]) or y[10:20] != sorted(y[10:20])  # shuffled


def test_moons_without_noise_lie_on_the_half_circles() -> None:
    xy, y = make_moons(n=7, noise=0.0, seed=3)
    assert y.count(0) == 3 and y.count(1) == 4  # n // 2 in the upper moon
    for (a, b), label in zip(xy, y, strict=True):
        if label == 0:  # cos t, sin t
            assert math.hypot(a, b) == pytest.approx(1.0, abs=1e-15) and b >= 0
        else:  # 1 - cos t, 0.5 - sin t
            assert math.hypot(a - 1.0, b - 0.5) == pytest.approx(1.0, abs=1e-15) and b <= 0.5
    # the end points are there: t = 0 and t = pi
    assert any(p == pytest.approx([1.0, 0.0], abs=1e-15) for p in xy)
    assert any(p == pytest.approx([-1.0, 0.0], abs=1e-15) for p in xy)
    assert any(p == pytest.approx([0.0, 0.5], abs=1e-15) for p in xy)
    assert any(p == pytest.approx([2.0, 0.5], abs=1e-15) for p in xy)


def test_moons_noise_has_the_requested_spread() -> None:
    _, labels = make_moons(n=2000, noise=0.0, seed=0)
    noisy, noisy_labels = make_moons(n=2000, noise=0.1, seed=0)
    assert noisy_labels.count(0) == labels.count(0)
    # distance of each noisy point to its own moon's circle ~ |N(0, 0.1)| radially
    radial = []
    for (a, b), label in zip(noisy, noisy_labels, strict=True):
        centre = (0.0, 0.0) if label == 0 else (1.0, 0.5)
        radial.append(math.hypot(a - centre[0], b - centre[1]) - 1.0)
    sd = math.sqrt(sum(r * r for r in radial) / len(radial))
    assert 0.08 < sd < 0.12


def test_generators_leave_global_random_state_alone() -> None:
    random.seed(5)
    expected = random.random()
    random.seed(5)
    make_moons(seed=1)
    make_line(seed=1)
    make_blobs(seed=1)
    assert random.random() == expected


def test_line() -> None:
    xs, ys = make_line(n=5, slope=2.0, intercept=1.0, noise=0.0)
    assert xs == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert ys == [-1.0, 0.0, 1.0, 2.0, 3.0]
    xs, ys = make_line(n=200, slope=-3.0, intercept=0.5, noise=0.1, seed=2, x_range=(0, 4))
    assert xs[0] == 0.0 and xs[-1] == 4.0
    # least squares recovers the line
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    assert slope == pytest.approx(-3.0, abs=0.05)
    assert my - slope * mx == pytest.approx(0.5, abs=0.1)
    assert make_line(seed=4) == make_line(seed=4)


def test_blobs() -> None:
    xy, y = make_blobs(n=90, centers=3, std=0.3, radius=2.0, seed=0)
    assert len(xy) == 90 and sorted(set(y)) == [0, 1, 2]
    assert [y.count(k) for k in range(3)] == [30, 30, 30]
    for k in range(3):
        pts = [p for p, label in zip(xy, y, strict=True) if label == k]
        cx = sum(p[0] for p in pts) / len(pts)
        cy = sum(p[1] for p in pts) / len(pts)
        angle = 2 * math.pi * k / 3
        assert cx == pytest.approx(2 * math.cos(angle), abs=0.2)
        assert cy == pytest.approx(2 * math.sin(angle), abs=0.2)
    assert make_blobs(seed=3) == make_blobs(seed=3)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: make_moons(n=1), ValueError, "n must be at least 2, got 1"),
        (lambda: make_moons(n=10.0), TypeError, "n must be an int, got float"),
        (lambda: make_moons(noise=-0.1), ValueError, "noise must be a finite number >= 0"),
        (
            lambda: make_moons(noise="a"),
            TypeError,
            r"noise must be a real number \(int or float\), got str",
        ),
        (
            lambda: make_moons(seed=1.5),
            TypeError,
            "seed must be an int, a random.Random or None, got float",
        ),
        (lambda: make_line(slope=math.inf), ValueError, "slope must be finite"),
        (lambda: make_line(x_range=1.0), TypeError, "x_range must be a pair"),
        (lambda: make_blobs(centers=0), ValueError, "centers must be at least 1"),
        (lambda: make_blobs(std=math.nan), ValueError, "std must be a finite number >= 0"),
    ],
)
def test_bad_arguments(call: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()  # type: ignore[operator]
