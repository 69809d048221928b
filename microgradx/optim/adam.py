"""`Adam`, as `torch.optim.Adam` (bias-corrected; optional AMSGrad and L2 weight decay)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ..checks import to_flag, to_real
from ..engine import Value
from ..ieee import div, sqrt
from .optimizer import Optimizer, Params, Updates, fma, nonnegative

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam, as `torch.optim.Adam` (bias-corrected; optional AMSGrad and L2 weight decay).

    For each parameter `p` with gradient `g` (negated first if `maximize`), at step
    `t = 1, 2, ...`:

        g = g + weight_decay * p                     # if weight_decay (L2, not AdamW)
        m = m + (1 - beta1) * (g - m)                # = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        vmax = max(vmax, v)                          # if amsgrad; then use vmax for v
        denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps
        p = p - (lr / (1 - beta1 ** t)) * m / denom

    `m`, `v` (and `vmax`) start at 0. The operations and their order are PyTorch's,
    so the numbers are too, including IEEE 754's where PyTorch gives them: with `eps=0`
    a second moment of 0 makes the update `m / 0`, so the parameter becomes nan (``m =
    0`) or -inf / +inf (`m`` positive / negative), and the step goes on.
    """

    _state_keys: ClassVar[dict[str, type]] = {
        "step": float,
        "exp_avg": float,
        "exp_avg_sq": float,
        "max_exp_avg_sq": float,
    }
    _required_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_settings(self, s: dict[str, Any]) -> dict[str, Any]:
        out = super()._check_settings(s)
        out["eps"] = nonnegative(s["eps"], "eps", "epsilon value")
        betas = s["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of floats (beta1, beta2), got {betas!r}")
        b = tuple(to_real(x, f"betas[{i}]") for i, x in enumerate(betas))
        for i in range(2):
            if not 0.0 <= b[i] < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")
        out["betas"] = b
        out["amsgrad"] = to_flag(s["amsgrad"], "amsgrad")
        return out

    def _update(self, group: dict[str, Any], pairs: list[tuple[Value, float]]) -> Updates:
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        wd = group["weight_decay"]
        amsgrad = group["amsgrad"]
        maximize = group["maximize"]
        w = 1 - beta1
        c2 = 1 - beta2
        state = self.state
        out: Updates = []
        for p, g in pairs:
            if maximize:
                g = -g
            st = state.get(p)
            if st is None:
                st = {"step": 0.0, "exp_avg": 0.0, "exp_avg_sq": 0.0}
                if amsgrad:
                    st["max_exp_avg_sq"] = 0.0
            new = dict(st)
            step = st["step"] + 1.0
            new["step"] = step
            if wd != 0:
                g = fma(wd, p.data, g)
            m = st["exp_avg"]
            # torch's lerp(m, g, w), fused as torch computes it (two forms, for accuracy):
            # m + w * (g - m), or g - (g - m) * (1 - w), whose zeros have their own signs
            m = fma(w, g - m, m) if abs(w) < 0.5 else fma(-(g - m), 1 - w, g)
            v = fma(c2 * g, g, st["exp_avg_sq"] * beta2)
            new["exp_avg"] = m
            new["exp_avg_sq"] = v
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5
            # IEEE, as torch: sqrt of a (loaded) negative moment is nan, and with eps = 0 a
            # zero moment gives m / 0 = nan or +-inf
            if amsgrad:
                vmax = st.get("max_exp_avg_sq", 0.0)
                vmax = v if v > vmax or math.isnan(v) else vmax
                new["max_exp_avg_sq"] = vmax
                denom = sqrt(vmax) / bias_correction2_sqrt + eps
            else:
                denom = sqrt(v) / bias_correction2_sqrt + eps
            out.append((p, p.data + div(-step_size * m, denom), new))
        return out
