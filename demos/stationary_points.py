"""Find where the slope of f(x) = x**3 - 5x**2 + 7x - 1 is zero, and what kind of point it is.

The derivative f'(x) = 3x**2 - 10x + 7 is zero at x = 1 and x = 7/3. Newton's method on f'
(each step solves f''(x) dx = -f'(x)) finds them from nearby starts; the second
derivative f''(x) = 6x - 10 then tells a maximum (f'' < 0) from a minimum (f'' > 0).

    python demos/stationary_points.py --out out/stationary_points
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from microgradx import Value
from microgradx.functional import derivative, newton
from microgradx.plot import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def f(x: Value) -> Value:
    """The cubic of the study notes."""
    return x**3 - 5 * x**2 + 7 * x - 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run Newton's method from each start, classify each point, draw f with tangents."""
    require("matplotlib", program="demos/stationary_points.py")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--starts",
        type=float,
        nargs="+",
        default=[0.0, 3.0],
        help="where Newton's method starts (default 0 3)",
    )
    parser.add_argument("--out", default="out/stationary_points", help="folder for the pictures")
    args = parser.parse_args(argv)

    d1, d2 = derivative(f), derivative(f, 2)
    print("f(x) = x**3 - 5x**2 + 7x - 1,  f'(x) = 3x**2 - 10x + 7,  f''(x) = 6x - 10")
    found = []
    for start in args.starts:
        r = newton(f, start)
        found.append(r.x)
        print(
            f"Newton from x = {start:g}: x = {r.x:.12f} after {r.iterations} steps;"
            f" f(x) = {r.value:.6f}, f'(x) = {r.gradient:.1e}, f''(x) = {r.hessian:+.6g}"
            f" -> a {r.kind}"
        )
    print("check by hand: f''(1) = 6 - 10 = -4 (maximum), f''(7/3) = 14 - 10 = +4 (minimum)")
    print(f"autograd:      f''(1) = {d2(1.0):+g}, f''(7/3) = {d2(7 / 3):+.12g}")
    print(f"slopes there:  f'(1) = {d1(1.0):g}, f'(7/3) = {d1(7 / 3):.1e}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for p in draw(found, out):
        print(f"wrote {p}")
    return 0


def figures(points: list[float]) -> dict[str, Figure]:
    """f, f' and tangent lines at the stationary points and a few others."""
    from microgradx.plot import plot_derivative

    fig = plot_derivative(
        f,
        xlim=(-0.3, 3.6),
        points=[0.3, *points, 3.1],
        title="f(x) = x³ - 5x² + 7x - 1 and its derivative",
    )
    return {"derivative.png": fig}


def draw(points: list[float], out: Path) -> list[Path]:
    """Write the picture of `figures` to `out`."""
    written = []
    for name, fig in figures(points).items():
        fig.savefig(out / name, dpi=120)
        written.append(out / name)
    return written


if __name__ == "__main__":
    sys.exit(main())
