"""Record PyTorch's optimizer and scheduler numbers for tests/test_optim.py.

Run by hand with PyTorch installed (recorded with torch 2.13.0+cpu, float64):

    python tests/data/make_optim_reference.py

It writes tests/data/optim_torch_reference.json. The gradients are computed in plain
Python and written to ``.grad``, so the recorded numbers depend only on the update rules.
"""

from __future__ import annotations

import json
import pathlib

import torch

X0 = [1.5, -2.0, 0.3]

SGD_CONFIGS: list[dict[str, object]] = [
    {"lr": 0.05},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "maximize": True},
    {"lr": 0.05, "momentum": 0.8, "dampening": 0.1, "weight_decay": 0.05, "maximize": True},
    {"lr": 0.05, "momentum": 0.7, "nesterov": True, "weight_decay": 0.2},
    {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.3},
    {"lr": 0.05, "momentum": 0.6, "nesterov": True, "maximize": True},
]
ADAM_CONFIGS: list[dict[str, object]] = [
    {"lr": 0.1},
    {"lr": 0.1, "betas": [0.8, 0.99], "eps": 1e-6},
    {"lr": 0.1, "amsgrad": True},
    {"lr": 0.1, "weight_decay": 0.1},
    {"lr": 0.1, "weight_decay": 0.1, "amsgrad": True, "maximize": True},
    {"lr": 0.05, "betas": [0.6, 0.5]},
    {"lr": 0.05, "betas": [0.3, 0.9]},
    {"lr": 0.2, "weight_decay": 0.5, "amsgrad": True},
]


def gradient(x: list[float], sign: float) -> list[float]:
    """Gradient of sign * f, f = (3a^2 + b^2 + 2c^2)/2 + 0.8ab - a + 2b - 0.5c."""
    a, b, c = x
    return [sign * (3 * a + 0.8 * b - 1), sign * (b + 0.8 * a + 2), sign * (2 * c - 0.5)]


def trajectory(cls: type, config: dict[str, object], steps: int = 50) -> list[list[float]]:
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in X0]
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    opt = cls(params, **kwargs)
    sign = -1.0 if config.get("maximize") else 1.0
    out = []
    for _ in range(steps):
        for p, g in zip(params, gradient([p.item() for p in params], sign), strict=True):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append([p.item() for p in params])
    return out


def schedule(make: object, steps: int) -> list[float]:
    p = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.5)
    sched = make(opt)  # type: ignore[operator]
    lrs = [sched.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return lrs


def main() -> None:
    sch = torch.optim.lr_scheduler
    data = {
        "torch": torch.__version__,
        "x0": X0,
        "sgd": [{"config": c, "trajectory": trajectory(torch.optim.SGD, c)} for c in SGD_CONFIGS],
        "adam": [
            {"config": c, "trajectory": trajectory(torch.optim.Adam, c)} for c in ADAM_CONFIGS
        ],
        "schedulers": {
            "StepLR(step_size=7, gamma=0.3)": schedule(lambda o: sch.StepLR(o, 7, 0.3), 30),
            "ExponentialLR(gamma=0.9)": schedule(lambda o: sch.ExponentialLR(o, 0.9), 30),
            "CosineAnnealingLR(T_max=10, eta_min=0.01)": schedule(
                lambda o: sch.CosineAnnealingLR(o, 10, 0.01), 45
            ),
            "LambdaLR(1 - 0.9 * k / 100)": schedule(
                lambda o: sch.LambdaLR(o, lambda k: 1.0 - 0.9 * k / 100), 100
            ),
        },
    }
    path = pathlib.Path(__file__).with_name("optim_torch_reference.json")
    path.write_text(json.dumps(data) + "\n")


if __name__ == "__main__":
    main()
