"""Edges of microgradx.optim against PyTorch: Adam(eps=0) and the scheduler-order warning.

``optim_edges_torch_reference.json`` was recorded from PyTorch 2.13.0 (CPU, float64) by
``tests/data/make_optim_edges_reference.py``; these tests replay it without torch.
"""

from __future__ import annotations

import json
import math
import pathlib
import warnings
from fractions import Fraction
from typing import Any

import pytest

from microgradx import Value
from microgradx.optim import SGD, Adam, ExponentialLR, LambdaLR, LRScheduler, StepLR

REFERENCE = json.loads(
    (pathlib.Path(__file__).parent / "data" / "optim_edges_torch_reference.json").read_text()
)


def _same(mine: float, theirs: str) -> bool:
    # PyTorch's vectorised sqrt can be an ulp off (see test_optim.py); nan, inf and zeros
    # must match exactly, sign included
    expected = float(theirs)
    if math.isnan(expected) or math.isinf(expected) or expected == 0.0:
        return repr(mine) == theirs
    return abs(mine - expected) <= 4 * math.ulp(expected)


def _label(case: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in case["config"].items())


@pytest.mark.parametrize("case", REFERENCE["adam_eps0"], ids=_label)
def test_adam_with_eps_zero_gives_pytorchs_nan_and_inf(case: dict[str, Any]) -> None:
    params = [Value(x) for x in REFERENCE["x0"]]
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in case["config"].items()}
    opt = Adam(params, **config)
    for k, (grads, expected) in enumerate(zip(case["grads"], case["steps"], strict=True)):
        for p, g in zip(params, grads, strict=True):
            p.grad = float(g)
        opt.step()
        for i, (p, want) in enumerate(zip(params, expected["params"], strict=True)):
            assert _same(p.data, want), (k, i, p.data, want)
        for i, (p, want) in enumerate(zip(params, expected["state"], strict=True)):
            state = opt.state[p]
            assert sorted(state) == sorted(want)
            for name, value in want.items():
                assert _same(state[name], value), (k, i, name, state[name], value)


def test_adam_with_eps_zero_divides_as_ieee() -> None:
    # the three outcomes of m / 0 in one step: 0 / 0, +tiny / 0, -tiny / 0
    zero, up, down = Value(1.0), Value(1.0), Value(1.0)
    opt = Adam([zero, up, down], lr=0.1, eps=0.0)
    zero.grad, up.grad, down.grad = 0.0, 1e-200, -1e-200
    opt.step()
    assert math.isnan(zero.data) and (up.data, down.data) == (-math.inf, math.inf)
    assert opt.state[zero] == {"step": 1.0, "exp_avg": 0.0, "exp_avg_sq": 0.0}


def test_adam_with_a_negative_loaded_second_moment_gives_nan() -> None:
    # sqrt(-1) is nan in IEEE 754 and in PyTorch, not Python's ValueError
    p, q = Value(1.0), Value(2.0)
    opt = Adam([p, q], lr=0.1)
    opt.load_state_dict(
        {
            "state": {0: {"step": 1.0, "exp_avg": 0.5, "exp_avg_sq": -1.0}},
            "param_groups": opt.state_dict()["param_groups"],
        }
    )
    p.grad = q.grad = 1.0
    opt.step()
    assert math.isnan(p.data) and q.data == pytest.approx(1.9)
    assert opt.state[p]["step"] == 2.0


class _Exploding(Fraction):
    """A number of one's own whose arithmetic fails: it passes the step's checks, then the
    update computed from it raises."""

    def _boom(self, *args: object) -> Any:
        raise ArithmeticError("boom")

    __add__ = __radd__ = __mul__ = __rmul__ = __float__ = as_integer_ratio = _boom


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: Adam(ps, lr=0.1),
        lambda ps: Adam([{"params": ps[:1]}, {"params": ps[1:], "amsgrad": True}], lr=0.1),
    ],
)
def test_an_update_that_fails_half_way_changes_nothing(make: Any) -> None:
    first, second = Value(2.0), Value(1.0)
    opt = make([first, second])
    first.grad, second.grad = 1.0, 1.0
    opt.step()
    second.data = _Exploding(1)  # the last parameter of the last group
    before = (first.data, json.dumps(opt.state_dict()), opt._step_count)
    first.grad = 0.5
    with pytest.raises(ArithmeticError, match="boom"):
        opt.step()
    assert (first.data, json.dumps(opt.state_dict()), opt._step_count) == before


def test_a_parameter_whose_data_is_not_a_number_is_refused_before_anything_moves() -> None:
    first, second = Value(2.0), Value(1.0)
    opt = SGD([first, second], lr=0.1)
    first.grad = second.grad = 1.0
    second.data = "1.0"  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"\.data must be a real number, got str"):
        opt.step()
    assert (first.data, opt._step_count) == (2.0, 0)


# -- the scheduler-order warning ---------------------------------------------------------


def _run(program: str) -> list[int]:
    # the same programs as make_optim_edges_reference.py, on microgradx
    opt = SGD([Value(0.0)], lr=1.0)
    opt.param_groups[0]["params"][0].grad = 1.0
    scheds: dict[str, LRScheduler] = {}
    warned = []
    for i, action in enumerate(program.split()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if action == "O":
                opt.step()
            elif action == "S1":
                scheds["1"] = StepLR(opt, 1, 0.5)
            elif action == "S2":
                scheds["2"] = ExponentialLR(opt, 0.9)
            else:
                scheds[action[1]].step()
        hits = [w for w in caught if "before `optimizer.step()`" in str(w.message)]
        warned += [i] * len(hits)
    return warned


@pytest.mark.parametrize("program", sorted(REFERENCE["scheduler_warnings"]))
def test_scheduler_order_warning_as_pytorch(program: str) -> None:
    assert _run(program) == REFERENCE["scheduler_warnings"][program]


def test_scheduler_order_warning_is_given_once_per_scheduler() -> None:
    opt = SGD([Value(0.0)], lr=1.0)
    sched = StepLR(opt, 1, 0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            sched.step()
    assert len(caught) == 1
    assert caught[0].category is UserWarning
    assert str(caught[0].message).startswith(
        "Detected call of `lr_scheduler.step()` before `optimizer.step()`."
    )
    assert caught[0].filename == __file__  # points at the caller's line


def test_a_resumed_scheduler_does_not_warn_again() -> None:
    # the step count is part of the scheduler's state, as in PyTorch
    opt = SGD([Value(0.0)], lr=1.0)
    sched = StepLR(opt, 1, 0.5)
    opt.step()
    sched.step()
    opt2 = SGD([Value(0.0)], lr=1.0)
    sched2 = StepLR(opt2, 1, 0.5)
    sched2.load_state_dict(sched.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_a_failed_scheduler_leaves_the_warning_state_alone() -> None:
    # a scheduler whose first value fails changes nothing, so an optimizer step taken
    # after it counts as taken before any scheduler (PyTorch keeps its watch installed)
    opt = SGD([Value(0.0)], lr=1.0)
    with pytest.raises(TypeError):
        LambdaLR(opt, lambda k: "x")  # type: ignore[arg-type,return-value]
    opt.step()
    sched = StepLR(opt, 1, 0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step"):
        sched.step()
