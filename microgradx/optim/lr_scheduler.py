"""Learning-rate schedulers, as `torch.optim.lr_scheduler`: each sets every group's `"lr"`.

Call `scheduler.step()` once per epoch, after `optimizer.step()`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..checks import to_count, to_real
from .optimizer import Optimizer

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "StepLR"]


class LRScheduler:
    """Base class of the schedulers: sets each group's `"lr"` once per `step()`.

    Creating a scheduler records each group's `"initial_lr"` and applies the schedule's
    value for epoch 0. Call `scheduler.step()` once per epoch, after `optimizer.step()`
    (calling it before, as PyTorch < 1.1 did, skips the first value). As in PyTorch, the
    scheduler's first `step()` warns, once, if the optimizer has not stepped since the
    first scheduler was attached to it.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"last_epoch must be an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        lrs = [group["lr"] for group in optimizer.param_groups]
        had_initial = ["initial_lr" in group for group in optimizer.param_groups]
        unwatched = optimizer._steps_unwatched
        if unwatched is None:  # the first scheduler: count optimizer steps from here
            optimizer._steps_unwatched = optimizer._step_count
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when "
                        "resuming a scheduler with last_epoch >= 0 (load the optimizer's "
                        "state first)"
                    )
        self.base_lrs: list[float] = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = []
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        except BaseException:  # e.g. a lr_lambda that fails: leave the optimizer as it was
            for group, lr, was_set in zip(optimizer.param_groups, lrs, had_initial, strict=True):
                group["lr"] = lr
                if not was_set:
                    del group["initial_lr"]
            optimizer._steps_unwatched = unwatched
            raise
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for the epoch `last_epoch` (subclasses define it)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last `step()`, one per parameter group."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and set each group's learning rate for it."""
        opt = self.optimizer
        # PyTorch checks only the first call after __init__ (whose own step is call 0)
        if self._step_count == 1 and opt._step_count == opt._steps_unwatched:
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`. Call them "
                "in the opposite order: `optimizer.step()` before `lr_scheduler.step()`, or "
                "the first value of the learning rate schedule is skipped.",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state (everything but the optimizer), for checkpoints."""
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the state saved by `state_dict`."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"expected a dict from state_dict(), got {type(state_dict).__name__}")
        expected = set(self.state_dict())
        unknown = set(state_dict) - expected
        if unknown:
            raise ValueError(
                f"loaded scheduler state has unknown key(s) {sorted(unknown)} for "
                f"{type(self).__name__}"
            )
        for k, v in state_dict.items():
            setattr(self, k, list(v) if isinstance(v, tuple) else v)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


def _group_lrs(optimizer: Optimizer) -> list[float]:
    return [g["lr"] for g in optimizer.param_groups]


class LambdaLR(LRScheduler):
    """`lr = initial_lr * lr_lambda(epoch)`: any schedule given as a function.

    `lr_lambda` is one function for all groups or a list with one per group. The decay
    of micrograd's demo, `lr = 1.0 - 0.9 * k / 100`, is
    `LambdaLR(SGD(params, lr=1.0), lambda k: 1.0 - 0.9 * k / 100)`.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"Expected {n} lr_lambdas, but got {len(lr_lambda)}")
            fns = list(lr_lambda)
        else:
            fns = [lr_lambda] * n
        for fn in fns:
            if not callable(fn):
                raise TypeError(f"lr_lambda must be callable, got {type(fn).__name__}")
        self.lr_lambdas: list[Callable[[int], float]] = fns
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """`base_lr * lr_lambda(last_epoch)` for each group."""
        return [
            base * to_real(fn(self.last_epoch), "lr_lambda(epoch)")
            for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]

    def state_dict(self) -> dict[str, Any]:
        """The state without the functions (they cannot be saved; recreate them)."""
        return {k: v for k, v in vars(self).items() if k not in ("optimizer", "lr_lambdas")}


class StepLR(LRScheduler):
    """Multiply the learning rate by `gamma` every `step_size` epochs."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = to_count(step_size, "step_size")
        self.gamma = to_real(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current rates, times `gamma` at each multiple of `step_size`."""
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _group_lrs(self.optimizer)
        return [lr * self.gamma for lr in _group_lrs(self.optimizer)]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by `gamma` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = to_real(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current rates times `gamma` (unchanged when the scheduler is created)."""
        if self._is_initial:
            return _group_lrs(self.optimizer)
        return [lr * self.gamma for lr in _group_lrs(self.optimizer)]


class CosineAnnealingLR(LRScheduler):
    """Anneal the learning rate from `initial_lr` to `eta_min` along a half cosine.

    `lr(t) = eta_min + (initial_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2`, computed
    step by step from the previous rate exactly as PyTorch does (so past `T_max` it
    rises again: SGDR without the restart jump).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,  # noqa: N803 - PyTorch's name
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self.T_max = to_count(T_max, "T_max")
        self.eta_min = to_real(eta_min, "eta_min")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The next rate, from the current one (PyTorch's recursive form)."""
        t, t_max, eta = self.last_epoch, self.T_max, self.eta_min
        lrs = _group_lrs(self.optimizer)
        if self._is_initial:
            return lrs
        if (t - 1 - t_max) % (2 * t_max) == 0:
            return [
                lr + (base - eta) * (1 - math.cos(math.pi / t_max)) / 2
                for base, lr in zip(self.base_lrs, lrs, strict=True)
            ]
        return [
            (1 + math.cos(math.pi * t / t_max))
            / (1 + math.cos(math.pi * (t - 1) / t_max))
            * (lr - eta)
            + eta
            for lr in lrs
        ]
