"""Optimizers and learning-rate schedulers with PyTorch's names, update rules and numbers.

`SGD` and `Adam` follow `torch.optim` (2.x, the single-tensor code path) operation by
operation, so a run gives the numbers PyTorch gives on float64 scalars; the schedulers
`StepLR`, `ExponentialLR`, `CosineAnnealingLR` and `LambdaLR` follow
`torch.optim.lr_scheduler` (call `scheduler.step()` after `optimizer.step()`).

Examples:
    >>> from microgradx import Value
    >>> from microgradx.optim import SGD
    >>> x = Value(3.0)
    >>> opt = SGD([x], lr=0.1)
    >>> for _ in range(3):
    ...     opt.zero_grad()
    ...     loss = x * x
    ...     loss.backward()
    ...     opt.step()
    >>> round(x.data, 6)  # 3 * 0.8**3
    1.536

The gradients are the floats `backward()` wrote to each parameter's `.grad`; a step
changes each parameter's `.data`. Parameters live in `param_groups` (a list of dicts
holding `"params"` and the settings such as `"lr"`), per-parameter buffers in
`state`; `state_dict()` / `load_state_dict()` save and restore both, as in PyTorch.

One module per job, named as in `torch.optim`: `optimizer` (the base class `Optimizer`
and the fused multiply-add the update rules share), `sgd`, `adam` and `lr_scheduler`.
"""

from .adam import Adam
from .lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR, LRScheduler, StepLR
from .optimizer import Optimizer
from .sgd import SGD

__all__ = [
    "SGD",
    "Adam",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "Optimizer",
    "StepLR",
]
