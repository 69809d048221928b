"""The workloads the harness measures, one builder per engine.

Every engine trains the same model on the same data from the same starting weights, so the
first loss of each engine must agree (the harness checks it): micrograd's moons demo,
``MLP(2, [16, 16, 1])``, hinge loss ``relu(1 - y * score)`` averaged over the points plus
``1e-4 * sum(p * p)``, then ``zero_grad``, ``backward`` and an SGD update with the demo's
learning-rate schedule ``1 - 0.9 * k / 100``.

Each builder returns ``step(k) -> loss`` (one training step). Nothing here times anything;
``run.py`` does, each engine in a fresh process.
"""

from __future__ import annotations

import math
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

Step = Callable[[int], float]
SIZES = [16, 16, 1]
ENGINES = [
    "micrograd", "eager", "compiled", "autograd", "torch",
    "compiled-numpy", "compiled-matmul", "compiled-torch", "numpy-hand",
]  # fmt: skip
LABELS = {
    "micrograd": "micrograd 0.1.0",
    "eager": "microgradx eager",
    "compiled": "microgradx compiled",
    "autograd": "HIPS autograd (numpy, batched)",
    "torch": "PyTorch float64 (batched)",
    "compiled-numpy": "compiled, numpy (no matmul)",
    "compiled-matmul": "compiled, numpy + matmul",
    "compiled-torch": "compiled, torch + matmul",
    "numpy-hand": "NumPy by hand (matrices)",
}
#: compile's keyword arguments for each compiled engine
BACKENDS: dict[str, dict[str, Any]] = {
    "compiled": {},
    "compiled-numpy": {"backend": "numpy", "matmul": False},
    "compiled-matmul": {"backend": "numpy", "matmul": True},
    "compiled-torch": {"backend": "torch", "matmul": True},
}


def moons(n: int, seed: int = 0) -> tuple[list[list[float]], list[int]]:
    """Two noisy interleaving half circles; labels -1 and +1 (deterministic)."""
    rng = random.Random(seed)
    xs, y = [], []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2:
            xs.append([math.cos(t) + rng.gauss(0, 0.1), math.sin(t) + rng.gauss(0, 0.1)])
            y.append(-1)
        else:
            xs.append([1 - math.cos(t) + rng.gauss(0, 0.1), 0.5 - math.sin(t) + rng.gauss(0, 0.1)])
            y.append(1)
    return xs, y


def lr(k: int) -> float:
    """micrograd demo's learning-rate schedule."""
    return 1.0 - 0.9 * k / 100


def initial_weights() -> list[list[list[float]]]:
    """micrograd's initial weights: ``random.seed(1337)``, then each neuron's
    ``uniform(-1, 1)`` weights, bias 0. Returned as layers of neurons of ``[*w, b]``."""
    random.seed(1337)
    layers, nin = [], 2
    for nout in SIZES:
        layers.append([[random.uniform(-1, 1) for _ in range(nin)] + [0.0] for _ in range(nout)])
        nin = nout
    return layers


#: the packages an engine needs besides microgradx (the harness skips it without them)
REQUIRES: dict[str, tuple[str, ...]] = {
    "micrograd": ("micrograd",),
    "autograd": ("autograd", "numpy"),
    "torch": ("torch",),
    "compiled-numpy": ("numpy",),
    "compiled-matmul": ("numpy",),
    "compiled-torch": ("torch", "numpy"),
    "numpy-hand": ("numpy",),
}


def available(engine: str) -> bool:
    """Whether the packages the engine needs import (see ``REQUIRES``; torch is optional)."""
    for module in REQUIRES.get(engine, ()):
        try:
            __import__(module)
        except ImportError:
            return False
    return True


def stamp() -> dict[str, Any]:
    """Where and when a result was measured: a results file's `machine` and `when`."""
    return {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


# the graph of the last step: the harness decides when it is dropped (see run.py)
HELD: list[Any] = []


def scalar_step(Value: Any, model: Any, xs: list[list[float]], y: list[int]) -> Step:  # noqa: N803
    """micrograd's demo step, for any engine with micrograd's Value and MLP API."""
    params = model.parameters()

    def step(k: int) -> float:
        inputs = [list(map(Value, xrow)) for xrow in xs]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in params)
        total = data_loss + reg_loss
        model.zero_grad()
        total.backward()
        rate = lr(k)
        for p in params:
            p.data -= rate * p.grad
        HELD.append(total)
        return float(total.data)

    return step


def build(engine: str, n: int) -> tuple[Step, dict[str, Any]]:
    """``step(k)`` for ``engine`` on ``n`` points, and facts about it (e.g. compile time)."""
    xs, y = moons(n)
    info: dict[str, Any] = {}
    if engine == "micrograd":
        from micrograd.engine import Value as MValue
        from micrograd.nn import MLP as MMLP

        random.seed(1337)
        return scalar_step(MValue, MMLP(2, SIZES), xs, y), info
    if engine == "eager" or engine in BACKENDS:
        from microgradx import Value
        from microgradx.nn import MLP

        random.seed(1337)
        model = MLP(2, SIZES)
        if engine == "eager":
            return scalar_step(Value, model, xs, y), info
        if engine == "compiled-torch":
            import torch

            torch.set_num_threads(1)  # as the torch engine: tiny tensors, a busy machine
        return compiled_step(model, xs, y, info, **BACKENDS[engine]), info
    if engine == "numpy-hand":
        return numpy_step(xs, y), info
    if engine == "autograd":
        return autograd_step(xs, y), info
    if engine == "torch":
        return torch_step(xs, y), info
    raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")


def compiled_step(
    model: Any, xs: list[list[float]], y: list[int], info: dict[str, Any], **options: Any
) -> Step:
    """The same step with ``microgradx.compile``: the per-example loss traced once
    (``options``: compile's ``backend`` and ``matmul``)."""
    import time

    import microgradx

    params = model.parameters()
    start = time.perf_counter()
    hinge = microgradx.compile(lambda x, yi: (1 + -yi * model(x)).relu(), xs[0], y[0], **options)
    reg = microgradx.compile(lambda: 1e-4 * sum(p * p for p in params))
    hinge.source, reg.source  # noqa: B018 - generate and compile the code now
    info["compile_s"] = time.perf_counter() - start
    info["lines"] = len(hinge.source.splitlines())
    columns: tuple[Any, ...] = (xs, y)
    if options.get("backend") in ("numpy", "torch"):
        import numpy as np

        # the data as arrays once, as the torch and NumPy engines hold theirs
        columns = (np.array(xs, dtype=float), np.array(y, dtype=float))

    def step(k: int) -> float:
        model.zero_grad()
        total = hinge.backward_batch(*columns) + reg.backward()
        rate = lr(k)
        for p in params:
            p.data -= rate * p.grad
        return total

    return step


def autograd_step(xs: list[list[float]], y: list[int]) -> Step:
    """The step as whole-batch numpy arrays, differentiated by HIPS autograd."""
    import autograd.numpy as anp
    import numpy as np
    from autograd import value_and_grad

    params = _matrices(np.array)
    xa, ya = np.array(xs), np.array(y, dtype=float)

    def loss(ps: list[Any]) -> Any:
        h = xa
        for i in range(0, len(ps), 2):
            h = anp.dot(h, ps[i]) + ps[i + 1]
            if i + 2 < len(ps):
                h = anp.maximum(h, 0.0)
        data = anp.mean(anp.maximum(1.0 - ya * h[:, 0], 0.0))
        return data + 1e-4 * sum(anp.sum(p * p) for p in ps)

    loss_and_grad = value_and_grad(loss)

    def step(k: int) -> float:
        value, gs = loss_and_grad(params)
        rate = lr(k)
        for p, g in zip(params, gs, strict=True):
            p -= rate * g
        return float(value)

    return step


def torch_step(xs: list[list[float]], y: list[int]) -> Step:
    """The step as whole-batch float64 tensors with PyTorch autograd."""
    import torch

    # one thread: these tensors are tiny, and waiting threads only add noise on a busy machine
    torch.set_num_threads(1)
    params = [t.requires_grad_() for t in _matrices(lambda a: torch.tensor(a, dtype=torch.float64))]
    xt = torch.tensor(xs, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)

    def step(k: int) -> float:
        h = xt
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = torch.relu(h)
        data = torch.relu(1.0 - yt * h[:, 0]).mean()
        total = data + 1e-4 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        total.backward()
        rate = lr(k)
        with torch.no_grad():
            for p in params:
                p -= rate * p.grad
        return float(total)

    return step


def numpy_step(xs: list[list[float]], y: list[int]) -> Step:
    """The step in NumPy matrix code, forward and backward written by hand."""
    import numpy as np

    params = _matrices(np.array)  # [W1, b1, W2, b2, W3, b3], W: inputs x outputs
    xa, ya = np.array(xs), np.array(y, dtype=float)
    n = len(y)

    def step(k: int) -> float:
        hs, h = [xa], xa
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = np.maximum(h, 0.0)
                hs.append(h)
        margin = 1.0 - ya * h[:, 0]
        data = np.maximum(margin, 0.0).mean()
        total = data + 1e-4 * sum(float((p * p).sum()) for p in params)
        dz = (np.where(margin > 0.0, -ya, 0.0) / n)[:, None]  # d data / d score
        grads = [np.empty(0)] * len(params)
        for i in range(len(params) - 2, -1, -2):
            grads[i] = hs[i // 2].T @ dz + 2e-4 * params[i]
            grads[i + 1] = dz.sum(0) + 2e-4 * params[i + 1]
            if i:
                dz = (dz @ params[i].T) * (hs[i // 2] > 0.0)
        rate = lr(k)
        for p, g in zip(params, grads, strict=True):
            p -= rate * g
        return float(total)

    return step


def _matrices(array: Callable[[Any], Any]) -> list[Any]:
    """micrograd's initial weights as ``[W1, b1, W2, b2, W3, b3]`` (W: inputs x outputs)."""
    out = []
    for layer in initial_weights():
        nin = len(layer[0]) - 1
        out.append(array([[neuron[i] for neuron in layer] for i in range(nin)]))
        out.append(array([neuron[-1] for neuron in layer]))
    return out


# -- graph size and memory ----------------------------------------------------------------


def _inputs_met(root: Any) -> Iterator[tuple[Any, bool]]:
    """Every input edge of the graph of ``root`` (micrograd's ``_prev`` works for both), as
    (input, whether the walk meets it for the first time)."""
    seen = {id(root)}
    stack = [root]
    while stack:
        for c in stack.pop()._prev:
            first = id(c) not in seen
            if first:
                seen.add(id(c))
                stack.append(c)
            yield c, first


def count_nodes(root: Any) -> int:
    """Distinct nodes in the graph of ``root``."""
    return 1 + sum(first for _, first in _inputs_met(root))


def count_shared(root: Any) -> int:
    """How many more constant nodes micrograd makes for the graph of ``root`` than
    microgradx, which shares one constant node among all uses of the same number."""
    # a number used again: micrograd lifts it into a new node
    return sum(not first and not c.requires_grad and not c.inputs for c, first in _inputs_met(root))


def value_class(engine: str) -> Any:
    """The scalar ``Value`` class of micrograd or microgradx."""
    if engine == "micrograd":
        from micrograd.engine import Value as MValue

        return MValue
    from microgradx import Value

    return Value


def chain(Value: Any, n: int, numbers: bool = False) -> tuple[Any, Any, Any]:  # noqa: N803
    """``n`` operations in one chain, alternately ``y * w`` and ``y + x``: (x, w, y).

    With ``numbers``, every operation is ``y * 1.000001`` instead (a number operand each
    time): (x, x, y).
    """
    x, w = Value(0.5), Value(0.5)
    y = x
    if numbers:
        for _ in range(n):
            y = y * 1.000001
        return x, x, y
    for i in range(n):
        y = y * w if i % 2 == 0 else y + x
    return x, w, y


def recursion_limit_for(engine: str, n: int) -> int:
    """micrograd's recursive topological sort needs a limit above the chain length."""
    return max(sys.getrecursionlimit(), 2 * n + 1000) if engine.startswith("micrograd") else 0
