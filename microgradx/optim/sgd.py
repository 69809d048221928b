"""`SGD`: stochastic gradient descent with momentum, as `torch.optim.SGD`."""

from __future__ import annotations

from typing import Any, ClassVar

from ..checks import to_flag, to_real
from ..engine import Value
from .optimizer import Optimizer, Params, Updates, fma, nonnegative

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, as `torch.optim.SGD`.

    For each parameter `p` with gradient `g` (negated first if `maximize`):

        g = g + weight_decay * p                       # if weight_decay
        buf = g  (first step)  or  buf = momentum * buf + (1 - dampening) * g
        g = g + momentum * buf  if nesterov  else  buf # if momentum
        p = p - lr * g

    With the defaults this is plain gradient descent, `p -= lr * p.grad`, the update of
    micrograd's demo. Each `x + a * y` above is rounded once (a fused multiply-add), as
    PyTorch's CPU kernels compute it, so the numbers are PyTorch's to the last bit.
    """

    _state_keys: ClassVar[dict[str, type]] = {"momentum_buffer": float}

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_settings(self, s: dict[str, Any]) -> dict[str, Any]:
        out = super()._check_settings(s)
        out["momentum"] = momentum = nonnegative(s["momentum"], "momentum")
        out["dampening"] = to_real(s["dampening"], "dampening")
        out["nesterov"] = to_flag(s["nesterov"], "nesterov")
        if out["nesterov"] and (momentum <= 0 or out["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        return out

    def _update(self, group: dict[str, Any], pairs: list[tuple[Value, float]]) -> Updates:
        # torch adds with `alpha` as one fused multiply-add: x + alpha * y rounded once
        neg_lr = -group["lr"]
        momentum = group["momentum"]
        wd = group["weight_decay"]
        maximize = group["maximize"]
        if not (momentum or wd or maximize):  # plain gradient descent: the hot path
            return [(p, fma(neg_lr, g, p.data), None) for p, g in pairs]
        damp = 1 - group["dampening"]
        nesterov = group["nesterov"]
        state = self.state
        out: Updates = []
        for p, g in pairs:
            if maximize:
                g = -g
            if wd != 0:
                g = fma(wd, p.data, g)
            buffers = None
            if momentum != 0:
                buffers = dict(state.get(p, {}))
                buf = buffers.get("momentum_buffer")
                buf = g if buf is None else fma(damp, g, buf * momentum)
                buffers["momentum_buffer"] = buf
                g = fma(momentum, buf, g) if nesterov else buf
            out.append((p, fma(neg_lr, g, p.data), buffers))
        return out
