"""Tests for microgradx.optim: SGD, Adam and the schedulers against PyTorch's numbers.

Two independent oracles:

* ``optim_torch_reference.json``: trajectories recorded from PyTorch 2.13.0 (CPU, float64)
  by ``tests/data/make_optim_reference.py``; the gradients there are plain-Python
  formulas, so the same gradients are used here and only the update rules are compared;
* a NumPy transcription of the update equations in PyTorch's documentation, written
  here independently of microgradx.optim (no fused multiply-add, whole vectors at once),
  driven by gradients that ``backward()`` computes.
"""

from __future__ import annotations

import json
import math
import pathlib
import random
import warnings
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from microgradx import Value
from microgradx.nn import MLP
from microgradx.optim import (
    SGD,
    Adam,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    Optimizer,
    StepLR,
)
from microgradx.optim.optimizer import _fma_exact, fma

REFERENCE = json.loads(
    (pathlib.Path(__file__).parent / "data" / "optim_torch_reference.json").read_text()
)
X0 = REFERENCE["x0"]


def _gradient(x: list[float], sign: float) -> list[float]:
    # the same formula as in make_optim_reference.py
    a, b, c = x
    return [sign * (3 * a + 0.8 * b - 1), sign * (b + 0.8 * a + 2), sign * (2 * c - 0.5)]


def _kwargs(config: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}


def _run_with_formula_gradients(cls: type[Optimizer], config: dict[str, Any]) -> list[list[float]]:
    params = [Value(v) for v in X0]
    opt = cls(params, **_kwargs(config))
    sign = -1.0 if config.get("maximize") else 1.0
    out = []
    for _ in range(50):
        for p, g in zip(params, _gradient([p.data for p in params], sign), strict=True):
            p.grad = g
        opt.step()
        out.append([p.data for p in params])
    return out


def _label(case: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in case["config"].items())


@pytest.mark.parametrize("case", REFERENCE["sgd"], ids=_label)
def test_sgd_reproduces_pytorch_bit_for_bit(case: dict[str, Any]) -> None:
    assert _run_with_formula_gradients(SGD, case["config"]) == case["trajectory"]


@pytest.mark.parametrize("case", REFERENCE["adam"], ids=_label)
def test_adam_reproduces_pytorch(case: dict[str, Any]) -> None:
    # Same operations in the same order. PyTorch's CPU sqrt (vectorised, MKL) is not
    # always correctly rounded (off by one ulp for ~1% of inputs on the machine used),
    # so a few steps may differ by an ulp or two; everything else is bit for bit.
    ours = _run_with_formula_gradients(Adam, case["config"])
    exact = 0
    for mine, theirs in zip(ours, case["trajectory"], strict=True):
        for a, b in zip(mine, theirs, strict=True):
            assert abs(a - b) <= 4 * math.ulp(b)
            exact += a == b
    assert exact >= 0.8 * 150


# -- an independent transcription of PyTorch's documented equations ------------------------


def _quadratic(p: list[Value], sign: float) -> Value:
    a, b, c = p
    f = 0.5 * (3 * a * a + b * b + 2 * c * c) + 0.8 * a * b - a + 2 * b - 0.5 * c
    return sign * f


def _np_gradient(x: np.ndarray, sign: float) -> np.ndarray:
    hessian = np.array([[3.0, 0.8, 0.0], [0.8, 1.0, 0.0], [0.0, 0.0, 2.0]])
    return sign * (hessian @ x + np.array([-1.0, 2.0, -0.5]))


def _objective_gradient(theta: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    # with maximize the objective is -f (so the optimum is the same); the docs' first line
    # is g_t = -grad(objective) when maximizing, grad(objective) otherwise
    if cfg.get("maximize"):
        return -_np_gradient(theta, -1.0)
    return _np_gradient(theta, 1.0)


def _np_sgd(cfg: dict[str, Any], steps: int) -> np.ndarray:
    lr, mu = cfg.get("lr", 1e-3), cfg.get("momentum", 0.0)
    tau, lam = cfg.get("dampening", 0.0), cfg.get("weight_decay", 0.0)
    theta = np.array(X0)
    b = np.zeros(3)
    out = []
    for t in range(1, steps + 1):
        g = _objective_gradient(theta, cfg)
        if lam:
            g = g + lam * theta
        if mu:
            b = g.copy() if t == 1 else mu * b + (1 - tau) * g
            g = g + mu * b if cfg.get("nesterov") else b
        theta = theta - lr * g
        out.append(theta.copy())
    return np.array(out)


def _np_adam(cfg: dict[str, Any], steps: int) -> np.ndarray:
    lr = cfg.get("lr", 1e-3)
    beta1, beta2 = cfg.get("betas", (0.9, 0.999))
    eps, lam = cfg.get("eps", 1e-8), cfg.get("weight_decay", 0.0)
    theta = np.array(X0)
    m, v, vmax = np.zeros(3), np.zeros(3), np.zeros(3)
    out = []
    for t in range(1, steps + 1):
        g = _objective_gradient(theta, cfg)
        if lam:
            g = g + lam * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        if cfg.get("amsgrad"):
            vmax = np.maximum(vmax, v)
            v_hat = vmax / (1 - beta2**t)
        else:
            v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta.copy())
    return np.array(out)


def _run_with_backward(cls: type[Optimizer], config: dict[str, Any]) -> np.ndarray:
    params = [Value(v) for v in X0]
    opt = cls(params, **_kwargs(config))
    sign = -1.0 if config.get("maximize") else 1.0  # maximize -f: the same minimum
    out = []
    for _ in range(50):
        opt.zero_grad()
        _quadratic(params, sign).backward()
        opt.step()
        out.append([p.data for p in params])
    return np.array(out)


@pytest.mark.parametrize("case", REFERENCE["sgd"], ids=_label)
def test_sgd_follows_documented_equations(case: dict[str, Any]) -> None:
    ours = _run_with_backward(SGD, case["config"])
    np.testing.assert_allclose(ours, _np_sgd(case["config"], 50), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", REFERENCE["adam"], ids=_label)
def test_adam_follows_documented_equations(case: dict[str, Any]) -> None:
    ours = _run_with_backward(Adam, case["config"])
    np.testing.assert_allclose(ours, _np_adam(case["config"], 50), rtol=1e-12, atol=1e-14)


def test_plain_sgd_is_micrograd_update() -> None:
    p = Value(0.3)
    p.grad = 1.7
    SGD([p], lr=0.1).step()
    assert p.data == pytest.approx(0.3 - 0.1 * 1.7, rel=1e-16)


# -- fused multiply-add ---------------------------------------------------------------------


def test_fma_is_exactly_rounded() -> None:
    rng = random.Random(0)
    for _ in range(2000):
        a, b, c = (rng.uniform(-1, 1) * 10.0 ** rng.randint(-150, 150) for _ in range(3))
        assert fma(a, b, c) == float(Fraction(a) * Fraction(b) + Fraction(c))
        assert _fma_exact(a, b, c) == float(Fraction(a) * Fraction(b) + Fraction(c))
    # one rounding instead of two: 0.1 * 10 - 1 is 2**-54 exactly, not 0
    assert _fma_exact(0.1, 10.0, -1.0) == 2.0**-54
    assert 0.1 * 10.0 - 1.0 == 0.0


def test_fma_edge_cases() -> None:
    assert _fma_exact(1e308, 10.0, 0.0) == math.inf
    assert _fma_exact(-1e308, 10.0, 0.0) == -math.inf
    assert _fma_exact(1e308, 10.0, -math.inf) == -math.inf
    assert math.isnan(_fma_exact(math.inf, 0.0, 1.0))
    assert math.copysign(1.0, _fma_exact(-0.0, 1.0, 0.0)) == 1.0
    assert math.copysign(1.0, _fma_exact(-0.0, 1.0, -0.0)) == -1.0
    assert _fma_exact(2.0, 3.0, -6.0) == 0.0
    assert _fma_exact(1e-200, 1e-200, 5e-324) == 5e-324  # subnormal result, one rounding


# -- the optimizer API --------------------------------------------------------------------


def test_zero_grad_and_closure() -> None:
    x = Value(3.0)
    opt = SGD([x], lr=0.1)

    def closure() -> Value:
        opt.zero_grad()
        loss = x * x
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.data == 9.0
    assert x.data == pytest.approx(3.0 - 0.1 * 6.0, rel=1e-16)
    opt.zero_grad()
    assert x.grad == 0.0 and isinstance(x.grad, float)


@pytest.mark.parametrize(
    "make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.1)]
)
def test_a_refused_step_moves_nothing(make: Any) -> None:
    b, a = Value(2.0), Value(1.0)
    opt = make([b, a])
    b.grad, a.grad = 1.0, "x"
    with pytest.raises(TypeError, match="must be a number or None, got str"):
        opt.step()
    assert (b.data, a.data, opt.state, opt._step_count) == (2.0, 1.0, {}, 0)


def test_parameters_without_a_gradient_are_skipped_as_in_pytorch() -> None:
    # torch.optim.SGD / Adam (2.13, float64) with b.grad = 1 and a.grad = None:
    # b -> 1.9 (SGD) or 1.900000001 (Adam); a stays 1.0 and gets no state
    for opt_class, moved in [(SGD, 1.9), (Adam, 1.900000001)]:
        b, a = Value(2.0), Value(1.0)
        opt = opt_class([b, a], lr=0.1)
        b.grad, a.grad = 1.0, None
        opt.step()
        assert (b.data, a.data) == (moved, 1.0)
        assert a not in opt.state


def test_zero_grad_can_set_to_none_as_pytorch_does() -> None:
    model = MLP(2, [3, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    for zero in (opt.zero_grad, model.zero_grad):
        zero(set_to_none=True)
        assert all(p.grad is None for p in model.parameters())
        before = [p.data for p in model.parameters()]
        opt.step()  # nothing to do: no parameter has a gradient
        assert [p.data for p in model.parameters()] == before
        model([Value(0.5), Value(-1.0)]).backward()
        assert all(isinstance(p.grad, float) for p in model.parameters())
        opt.step()
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
    for zero in (opt.zero_grad, model.zero_grad):
        with pytest.raises(TypeError, match="set_to_none must be True or False, got str"):
            zero(set_to_none="no")  # type: ignore[arg-type]
    assert all(p.grad == 0.0 for p in model.parameters())


def test_every_backward_reads_a_none_grad_as_no_gradient_yet() -> None:
    from microgradx import compile, grad

    model = MLP(2, [3, 1], seed=0)
    x = [Value(0.5), Value(-1.0)]
    params = model.parameters()
    expected = [g.data for g in grad(model(x), params)]

    def loss(a: Value, b: Value) -> Value:
        return model([a, b])

    step = compile(loss, 0.5, -1.0)
    runs = [
        lambda: model(x).backward(),
        lambda: model(x).backward(create_graph=True),
        lambda: step.backward(0.5, -1.0),
        lambda: step.backward_batch([0.5], [-1.0]),
    ]
    for run in runs:
        model.zero_grad(set_to_none=True)
        run()
        assert [float(p.grad) for p in params] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_param_groups_have_their_own_settings() -> None:
    a, b = Value(1.0), Value(1.0)
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9
    a.grad = b.grad = 1.0
    opt.step()
    assert (a.data, b.data) == (0.9, 0.5)
    c = Value(2.0)
    opt.add_param_group({"params": [c], "lr": 0.25})
    assert len(opt.param_groups) == 3
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [a]})


def test_gradient_from_create_graph_is_used_as_float() -> None:
    x = Value(2.0)
    (x * x * x).backward(create_graph=True)  # .grad is now a Value (12.0)
    SGD([x], lr=0.01).step()
    assert x.data == pytest.approx(2.0 - 0.01 * 12.0, rel=1e-16)
    assert isinstance(x.data, float)


def test_optimizer_trains_a_small_model_with_backward() -> None:
    xs = [[-1.0, 0.5], [0.3, 0.2], [1.5, -0.7], [0.0, 1.0]]
    ys = [0.5, -0.2, 1.1, 0.0]
    model = MLP(2, [4, 1], activation="tanh", seed=0)
    opt = Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = sum(((model(x) - y) ** 2 for x, y in zip(xs, ys, strict=True)), Value(0.0))
        loss.backward()
        opt.step()
        losses.append(loss.data)
    assert losses[-1] < 0.2 * losses[0]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: SGD(p, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda p: SGD(p, lr=float("nan")), ValueError, "Invalid learning rate: nan"),
        (lambda p: SGD(p, lr=0.1, momentum=-1), ValueError, "Invalid momentum value: -1"),
        (lambda p: SGD(p, lr=0.1, weight_decay=-1), ValueError, "Invalid weight_decay value"),
        (
            lambda p: SGD(p, lr=0.1, nesterov=True),
            ValueError,
            "Nesterov momentum requires a momentum and zero dampening",
        ),
        (
            lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
            ValueError,
            "Nesterov momentum requires a momentum and zero dampening",
        ),
        (
            lambda p: SGD(p, lr="0.1"),
            TypeError,
            "lr must be a real number \\(int or float\\), got str",
        ),
        (lambda p: SGD(p, lr=None), TypeError, "lr must be a real number"),
        (lambda p: SGD(p, lr=True), TypeError, "got bool"),
        (lambda p: SGD(p, nesterov=1), TypeError, "nesterov must be True or False"),
        (lambda p: Adam(p, lr=-1e-3), ValueError, "Invalid learning rate: -0.001"),
        (lambda p: Adam(p, eps=-1e-8), ValueError, "Invalid epsilon value: -1e-08"),
        (
            lambda p: Adam(p, betas=(1.0, 0.999)),
            ValueError,
            "Invalid beta parameter at index 0: 1.0",
        ),
        (
            lambda p: Adam(p, betas=(0.9, -0.1)),
            ValueError,
            "Invalid beta parameter at index 1: -0.1",
        ),
        (lambda p: Adam(p, betas=0.9), TypeError, "betas must be a pair"),
        (lambda p: Adam(p, weight_decay=-0.5), ValueError, "Invalid weight_decay value: -0.5"),
        (lambda p: Adam(p, amsgrad="yes"), TypeError, "amsgrad must be True or False"),
        (lambda p: SGD(p, lr=0.1, betas=1), TypeError, "unexpected keyword"),
    ],
)
def test_invalid_arguments(make: Any, error: type[Exception], message: str) -> None:
    p = Value(1.0)
    with pytest.raises(error, match=message):
        make([p])


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"can only optimize Values, but params\[1\] .* is a float"):
        SGD([Value(1.0), 2.0], lr=0.1)  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"iterable of Values .* got a single Value"):
        SGD(Value(1.0), lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got int"):
        SGD(5, lr=0.1)  # type: ignore[arg-type]
    x = Value(1.0)
    with pytest.raises(ValueError, match="not a leaf Value"):
        SGD([x * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        SGD([x, x], lr=0.1)
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['betas'\]"):
        SGD([{"params": [x], "betas": (0.9, 0.9)}], lr=0.1)


# -- optimizer state ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "config"),
    [
        (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        (Adam, {"lr": 0.1, "amsgrad": True, "weight_decay": 0.01}),
    ],
)
def test_state_dict_round_trip_resumes_exactly(
    cls: type[Optimizer], config: dict[str, Any]
) -> None:
    def run(opt: Optimizer, params: list[Value], steps: int) -> None:
        for _ in range(steps):
            opt.zero_grad()
            _quadratic(params, 1.0).backward()
            opt.step()

    straight = [Value(v) for v in X0]
    run(cls(straight, **config), straight, 20)

    first = [Value(v) for v in X0]
    opt = cls(first, **config)
    run(opt, first, 10)
    saved = json.loads(json.dumps(opt.state_dict()))  # plain data only
    second = [Value(p.data) for p in first]
    fresh = cls(second, lr=1.0)  # settings come from the state dict
    saved["state"] = {int(k): v for k, v in saved["state"].items()}
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == config["lr"]
    run(fresh, second, 10)
    assert [p.data for p in second] == [p.data for p in straight]


def test_load_state_dict_errors_leave_optimizer_untouched() -> None:
    params = [Value(1.0), Value(2.0)]
    opt = Adam(params, lr=0.1)
    for p in params:
        p.grad = 1.0
    opt.step()
    good = opt.state_dict()
    before = (json.dumps(opt.state_dict()), [dict(g, params=None) for g in opt.param_groups])

    other = Adam([Value(0.0)], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 2 parameters, this optimizer's group has 1"):
        other.load_state_dict(good)
    bad_buffer = json.loads(json.dumps(good))
    bad_buffer["state"] = {0: {"momentum_buffer": 1.0}}
    with pytest.raises(ValueError, match="unknown buffer 'momentum_buffer'"):
        opt.load_state_dict(bad_buffer)
    bad_index = {"state": {5: {"step": 1.0}}, "param_groups": good["param_groups"]}
    with pytest.raises(ValueError, match=r"parameter 5; expected an index in \[0, 2\)"):
        opt.load_state_dict(bad_index)
    bad_lr = {"state": {}, "param_groups": [dict(good["param_groups"][0], lr=-1.0)]}
    with pytest.raises(ValueError, match=r"Invalid learning rate: -1.0"):
        opt.load_state_dict(bad_lr)
    for broken, message in [
        ({"step": 1.0, "exp_avg_sq": 0.1}, r"lacks the buffer\(s\) \['exp_avg'\]"),
        ({"step": -3.0, "exp_avg": 0.1, "exp_avg_sq": 0.1}, "whole number >= 0"),
        ({"step": 2.5, "exp_avg": 0.1, "exp_avg_sq": 0.1}, "whole number >= 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict({"state": {0: broken}, "param_groups": good["param_groups"]})
    with pytest.raises(ValueError, match="keys 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    with pytest.raises(ValueError, match="1 parameter groups"):
        SGD([{"params": [Value(0.0)]}, {"params": [Value(0.0)]}]).load_state_dict(
            SGD([Value(0.0)]).state_dict()
        )
    assert (
        json.dumps(opt.state_dict()),
        [dict(g, params=None) for g in opt.param_groups],
    ) == before


# -- schedulers -------------------------------------------------------------------------------


def _schedule(make: Any, steps: int) -> list[float]:
    opt = SGD([Value(0.0)], lr=0.5)
    sched = make(opt)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == lrs[-1]
    return lrs


SCHEDULERS = {
    "StepLR(step_size=7, gamma=0.3)": (lambda o: StepLR(o, 7, 0.3), 30),
    "ExponentialLR(gamma=0.9)": (lambda o: ExponentialLR(o, 0.9), 30),
    "CosineAnnealingLR(T_max=10, eta_min=0.01)": (lambda o: CosineAnnealingLR(o, 10, 0.01), 45),
    "LambdaLR(1 - 0.9 * k / 100)": (lambda o: LambdaLR(o, lambda k: 1.0 - 0.9 * k / 100), 100),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_schedulers_reproduce_pytorch_bit_for_bit(name: str) -> None:
    make, steps = SCHEDULERS[name]
    assert _schedule(make, steps) == REFERENCE["schedulers"][name]


def test_schedulers_follow_their_closed_forms() -> None:
    step = _schedule(lambda o: StepLR(o, 3, 0.5), 10)
    assert step == pytest.approx([0.5 * 0.5 ** (k // 3) for k in range(11)], rel=1e-15)
    exp = _schedule(lambda o: ExponentialLR(o, 0.8), 10)
    assert exp == pytest.approx([0.5 * 0.8**k for k in range(11)], rel=1e-14)
    cos = _schedule(lambda o: CosineAnnealingLR(o, 8, 0.1), 8)
    closed = [0.1 + (0.5 - 0.1) * (1 + math.cos(math.pi * k / 8)) / 2 for k in range(9)]
    assert cos == pytest.approx(closed, rel=1e-13)
    lam = _schedule(lambda o: LambdaLR(o, lambda k: 1 / (k + 1)), 5)
    assert lam == pytest.approx([0.5 / (k + 1) for k in range(6)], rel=1e-15)


def test_scheduler_details() -> None:
    a, b = Value(1.0), Value(1.0)
    opt = SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 2.0}], lr=0.1)
    sched = LambdaLR(opt, [lambda k: 0.5**k, lambda k: 1.0])
    assert sched.get_last_lr() == [1.0, 2.0]
    assert [g["initial_lr"] for g in opt.param_groups] == [1.0, 2.0]
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        sched.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()
    assert sched.get_last_lr() == [0.25, 2.0]
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        LambdaLR(opt, [lambda k: 1.0])
    with pytest.raises(TypeError, match="lr_lambda must be callable"):
        LambdaLR(SGD([Value(0.0)]), 0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is not an Optimizer"):
        StepLR("opt", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step_size must be at least 1"):
        StepLR(SGD([Value(0.0)]), 0)
    with pytest.raises(KeyError, match="initial_lr"):
        ExponentialLR(SGD([Value(0.0)]), 0.9, last_epoch=3)
    fresh = SGD([Value(0.0)], lr=0.1)
    with pytest.raises(TypeError, match="must be a real number"):
        LambdaLR(fresh, lambda k: "x")  # type: ignore[arg-type,return-value]
    assert fresh.param_groups[0]["lr"] == 0.1 and "initial_lr" not in fresh.param_groups[0]


def test_scheduler_state_dict_round_trip() -> None:
    opt = SGD([Value(0.0)], lr=1.0)
    sched = StepLR(opt, 2, 0.5)
    for _ in range(3):
        opt.step()
        sched.step()
    state = json.loads(json.dumps(sched.state_dict()))
    opt2 = SGD([Value(0.0)], lr=1.0)
    opt2.load_state_dict(json.loads(json.dumps(opt.state_dict())))
    sched2 = StepLR(opt2, 2, 0.5, last_epoch=state["last_epoch"] - 1)
    sched2.load_state_dict(state)
    for _ in range(4):
        opt.step()
        sched.step()
        opt2.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
    with pytest.raises(ValueError, match="unknown key"):
        sched2.load_state_dict({"bogus": 1})
