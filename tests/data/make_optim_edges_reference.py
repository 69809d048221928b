"""Record PyTorch's behaviour at two edges of the optimizers, for tests/test_optim_edges.py.

Run by hand with PyTorch installed (recorded with torch 2.13.0+cpu, float64):

    python tests/data/make_optim_edges_reference.py

It writes tests/data/optim_edges_torch_reference.json with

* ``adam_eps0``: ``Adam(eps=0)`` runs where a second moment is (or underflows to) zero, so
  the update divides by zero. Each case gives the gradients of every step (written to
  ``.grad`` as they are, so only the update rule is compared) and the parameters and
  buffers after each step. Floats are written as ``repr`` strings (``"nan"``, ``"-inf"``).
* ``scheduler_warnings``: short programs of optimizer and scheduler calls, and after
  which calls PyTorch warned "Detected call of `lr_scheduler.step()` before
  `optimizer.step()`" (with every warning shown: ``simplefilter("always")``).
"""

from __future__ import annotations

import json
import pathlib
import warnings
from typing import Any

import torch

X0 = [1.5, -2.0, 0.3, 0.0]
TINY = 1e-200  # its square, times 1 - beta2, underflows to 0.0: the second moment stays 0

ADAM_EPS0: list[dict[str, Any]] = [
    {
        "config": {"lr": 0.1, "eps": 0.0},
        "grads": [[0.0, TINY, -TINY, 0.5], [1.0, 0.0, 0.0, -0.5], [0.0, 0.0, 0.0, 0.0]],
    },
    {
        "config": {"lr": 0.1, "eps": 0.0, "amsgrad": True},
        "grads": [[0.0, TINY, -TINY, 0.5], [1.0, 0.0, 0.0, -0.5], [0.0, 0.0, 0.0, 0.0]],
    },
    {
        "config": {"lr": 0.1, "eps": 0.0, "maximize": True},
        "grads": [[0.0, TINY, -TINY, -0.0], [2.0, -TINY, 0.0, 0.0]],
    },
    {
        # weight decay makes the gradient p * wd: nonzero except at p = 0
        "config": {"lr": 0.1, "eps": 0.0, "weight_decay": 1e-190},
        "grads": [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
    },
    {
        "config": {"lr": 0.1, "eps": 0.0, "betas": [0.0, 0.5]},
        "grads": [[-0.0, TINY, 3.0, 0.0], [0.0, 1.0, 0.0, TINY]],
    },
]

# programs: "O" optimizer.step(); "S1" / "S2" create StepLR(opt, 1, 0.5) / ExponentialLR(opt,
# 0.9); "s1" / "s2" step that scheduler
SCHEDULER_PROGRAMS = [
    "S1 s1 s1 s1 O s1",
    "S1 s1 O s1",
    "S1 O s1 s1 s1",
    "S1 S2 s1 s2 s1 s2",
    "O S1 s1",
    "O S1 O s1",
    "S1 O s1 S2 s2",
    "S1 s1 S2 s2",
]


def _f(x: float) -> str:
    return repr(float(x))


def adam_run(case: dict[str, Any]) -> dict[str, Any]:
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in X0]
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in case["config"].items()}
    opt = torch.optim.Adam(params, **kwargs)
    steps = []
    for grads in case["grads"]:
        for p, g in zip(params, grads, strict=True):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        state = []
        for p in params:
            st = opt.state[p]
            state.append({k: _f(v.item()) for k, v in sorted(st.items())})
        steps.append({"params": [_f(p.item()) for p in params], "state": state})
    return {**case, "grads": [[_f(g) for g in row] for row in case["grads"]], "steps": steps}


def scheduler_warnings(program: str) -> list[int]:
    p = torch.zeros((), dtype=torch.float64, requires_grad=True)
    p.grad = torch.ones((), dtype=torch.float64)
    opt = torch.optim.SGD([p], lr=1.0)
    scheds: dict[str, Any] = {}
    warned = []
    for i, action in enumerate(program.split()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if action == "O":
                opt.step()
            elif action == "S1":
                scheds["1"] = torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)
            elif action == "S2":
                scheds["2"] = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)
            else:
                scheds[action[1]].step()
        hits = [w for w in caught if "before `optimizer.step()`" in str(w.message)]
        warned += [i] * len(hits)
    return warned


def main() -> None:
    data = {
        "torch": torch.__version__,
        "x0": X0,
        "adam_eps0": [adam_run(case) for case in ADAM_EPS0],
        "scheduler_warnings": {p: scheduler_warnings(p) for p in SCHEDULER_PROGRAMS},
    }
    path = pathlib.Path(__file__).with_name("optim_edges_torch_reference.json")
    path.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
