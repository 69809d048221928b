"""Record PyTorch's value and gradients of every built-in op at the edges (run by hand).

    python tests/data/make_torch_edges_reference.py   # needs torch==2.13.0 (CPU)

writes ``torch_edges_reference.json`` next to this file, which ``tests/test_torch_edges.py``
replays without torch. Every one-input op at special points (±0, ±inf, nan, subnormals,
overflow edges), and every two-input op in its three forms (two tensors; a tensor and a
number; a number and a tensor) on a grid of special points, float64 on the CPU, each as
one scalar tensor. Floats are written with ``float.hex`` so that the sign of zero and every
bit survive (``nan`` as ``"nan"``).
"""

from __future__ import annotations

import itertools
import json
import math
import pathlib
from collections.abc import Callable
from typing import Any

import torch

OUT = pathlib.Path(__file__).with_name("torch_edges_reference.json")
inf, nan = math.inf, math.nan

UNARY_POINTS = [-inf, -1e308, -710.0, -3.0, -1.0, -0.5, -1e-310, -0.0, 0.0, 5e-324, 1e-310,
                0.5, 1.0, 3.0, 20.0, 40.0, 710.0, 1e308, inf, nan]  # fmt: skip
BINARY_POINTS = [-inf, -2.0, -1.0, -0.5, -0.0, 0.0, 5e-324, 1 / 3, 0.3, 0.5, 0.7, 1.0, 2.0,
                 3.0, inf, nan]  # fmt: skip

UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": lambda t: -t,
    "relu": torch.relu,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "sin": torch.sin,
    "cos": torch.cos,
    "sign": torch.sign,
    "abs": torch.abs,
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}


def _hex(x: float) -> str:
    return "nan" if math.isnan(x) else float(x).hex()


def _tensor(x: float) -> Any:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def _record(out: Any, inputs: list[Any]) -> dict[str, Any]:
    grads = torch.autograd.grad(out, inputs, allow_unused=True) if out.requires_grad else []
    return {
        "out": _hex(out.item()),
        "grads": [_hex(0.0 if g is None else g.item()) for g in grads],
    }


def main() -> None:
    records: list[dict[str, Any]] = []
    for name, f in UNARY.items():
        for x in UNARY_POINTS:
            t = _tensor(x)
            records.append({"op": name, "form": "t", "x": _hex(x), **_record(f(t), [t])})
    for name, f in BINARY.items():
        for x, y in itertools.product(BINARY_POINTS, BINARY_POINTS):
            tx, ty = _tensor(x), _tensor(y)
            forms = {"tt": (f(tx, ty), [tx, ty]), "tn": (f(tx, y), [tx]), "nt": (f(x, ty), [ty])}
            for form, (out, inputs) in forms.items():
                records.append(
                    {"op": name, "form": form, "x": _hex(x), "y": _hex(y), **_record(out, inputs)}
                )
    data = {"torch": torch.__version__, "records": records}
    OUT.write_text(json.dumps(data, indent=0) + "\n")
    print(f"wrote {len(records)} records to {OUT}")


if __name__ == "__main__":
    main()
