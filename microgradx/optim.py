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
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from .checks import to_flag, to_real
from .engine import LEAF, Value, enable_grad
from .ieee import div, sqrt

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

Params = Iterable[Value] | Iterable[dict[str, Any]]
#: what `Optimizer._update` returns: each parameter with its new `.data` and its new
#: buffers (None: no buffers)
Updates = list[tuple[Value, Any, "dict[str, Any] | None"]]


def _fma_exact(a: float, b: float, c: float) -> float:
    """`a * b + c` with a single rounding, in exact integer arithmetic."""
    try:
        na, da = a.as_integer_ratio()
        nb, db = b.as_integer_ratio()
        nc, dc = c.as_integer_ratio()
    except (OverflowError, ValueError):  # an inf or a nan
        if math.isfinite(a) and math.isfinite(b):
            return c  # the exact product is finite, whatever a * b would round to
        return a * b + c
    num = na * nb * dc + nc * da * db
    if num == 0:  # the exact result is zero: plain arithmetic gets its sign right
        return a * b + c
    try:
        return num / (da * db * dc)  # int / int is correctly rounded in CPython
    except OverflowError:
        return math.inf if num > 0 else -math.inf


def _fma_math(a: float, b: float, c: float) -> float:
    try:
        return math.fma(a, b, c)  # type: ignore[attr-defined,no-any-return]
    except (OverflowError, ValueError):  # Python raises where IEEE 754 returns inf / nan
        return _fma_exact(a, b, c)


#: fused multiply-add `a * b + c` rounded once, as PyTorch's CPU kernels compute
#: `add(x, y, alpha)`, `lerp` and `addcmul`; `math.fma` from Python 3.13 on
fma = _fma_math if hasattr(math, "fma") else _fma_exact


def _gradients(params: list[Value]) -> list[tuple[Value, float]]:
    """Each parameter with its `.grad` as a float (a Value after
    `backward(create_graph=True)`), leaving out those whose `.grad` is None (PyTorch's
    optimizers skip them); `TypeError` for any other `.grad` or a `.data` that is not
    a number."""
    pairs = []
    for p in params:
        d = p.data
        if d.__class__ is not float and (isinstance(d, bool) or not isinstance(d, numbers.Real)):
            raise TypeError(f"a parameter's .data must be a real number, got {type(d).__name__}")
        g = p.grad
        if g.__class__ is not float:
            if g is None:
                continue
            if isinstance(g, Value):
                g = g.data
            elif isinstance(g, bool) or not isinstance(g, numbers.Real):
                raise TypeError(
                    f"a parameter's .grad must be a number or None, got {type(g).__name__}"
                )
            g = float(g)
        pairs.append((p, g))
    return pairs


class Optimizer:
    """Base class: holds `param_groups` and per-parameter `state`; subclasses update.

    `params` is an iterable of Values, or of dicts `{"params": [...], "lr": ...}` to give
    groups of parameters their own settings (anything not given uses the defaults).
    """

    #: the per-parameter buffers a subclass keeps, with their types
    _state_keys: ClassVar[dict[str, type]] = {}
    #: the buffers every saved entry must have (the update reads them)
    _required_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.defaults = self._check_settings(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Value, dict[str, Any]] = {}
        self._step_count = 0
        #: `_step_count` when the first scheduler was attached (None: no scheduler yet);
        #: a scheduler's first `step()` warns if no optimizer step was taken since
        self._steps_unwatched: int | None = None
        if isinstance(params, (Value, dict)):
            raise TypeError(
                "params must be an iterable of Values (e.g. model.parameters()) or of dicts, "
                f"got a single {type(params).__name__}"
            )
        try:
            items = list(params)
        except TypeError:
            raise TypeError(
                f"params must be an iterable of Values or dicts, got {type(params).__name__}"
            ) from None
        if not items:
            raise ValueError("optimizer got an empty parameter list")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        checked = [self._check_group(g, i) for i, g in enumerate(groups)]
        _check_disjoint(checked)
        self.param_groups = checked

    def _check_group(self, group: object, index: int) -> dict[str, Any]:
        """A new group dict with every setting present and checked; the inputs are untouched."""
        if not isinstance(group, dict):
            raise TypeError(f"param group {index} must be a dict, got {type(group).__name__}")
        if "params" not in group:
            raise ValueError(f"param group {index} has no 'params' entry")
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(
                f"param group {index} has unknown setting(s) {sorted(unknown)}; "
                f"{type(self).__name__} takes {sorted(self.defaults)}"
            )
        params = group["params"]
        plist = [params] if isinstance(params, Value) else list(params)
        if not plist:
            raise ValueError(f"param group {index} has no parameters")
        for i, p in enumerate(plist):
            if not isinstance(p, Value):
                raise TypeError(
                    f"optimizer can only optimize Values, but params[{i}] of group {index} "
                    f"is a {type(p).__name__}"
                )
            if p._code != LEAF or not p.requires_grad:
                raise ValueError(
                    f"can't optimize params[{i}] of group {index}: it is the result of an "
                    "operation or a constant, not a leaf Value"
                )
        settings = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        settings = self._check_settings(settings)
        if "initial_lr" in group:
            settings["initial_lr"] = to_real(group["initial_lr"], "initial_lr")
        return {"params": plist, **settings}

    def _check_settings(self, s: dict[str, Any]) -> dict[str, Any]:
        """Validated copy of a group's settings (subclasses extend it with their own)."""
        out = dict(s)
        if "lr" in s:
            out["lr"] = _nonnegative(s["lr"], "lr", "learning rate")
        if "weight_decay" in s:
            out["weight_decay"] = _nonnegative(s["weight_decay"], "weight_decay")
        if "maximize" in s:
            out["maximize"] = to_flag(s["maximize"], "maximize")
        return out

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own settings (defaults fill the rest)."""
        group = self._check_group(param_group, len(self.param_groups))
        _check_disjoint([*self.param_groups, group])
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Set every parameter's `.grad` to `0.0` (micrograd's habit), or to None with
        `set_to_none=True` (PyTorch's default; `step` then skips the parameter until a
        backward pass gives it a gradient)."""
        value = None if to_flag(set_to_none, "set_to_none") else 0.0
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = value

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter once from its `.grad`; returns `closure()` if given.

        A parameter whose `.grad` is None is skipped, as in PyTorch; a `.grad` or
        `.data` that is not a number raises `TypeError`. A step that raises changes
        nothing: no parameter, buffer or step count. `closure` (optional, as in PyTorch)
        re-evaluates the model and returns the loss; it runs first, with gradient
        recording on.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # every new value is computed before any is written: a refused step changes nothing
        gradients = [_gradients(group["params"]) for group in self.param_groups]
        updates = [
            self._update(group, pairs)
            for group, pairs in zip(self.param_groups, gradients, strict=True)
        ]
        state = self.state
        for group_updates in updates:
            for p, data, buffers in group_updates:
                p.data = data
                if buffers is not None:
                    state[p] = buffers
        self._step_count += 1
        return loss

    def _update(self, group: dict[str, Any], pairs: list[tuple[Value, float]]) -> Updates:
        """The group's new parameter values and buffers from `(parameter, gradient)`
        pairs, computed without changing anything (`step` writes them)."""
        raise NotImplementedError

    # -- saving and restoring ------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """`{"state": {index: buffers}, "param_groups": [settings + "params": indices]}`.

        Parameters are numbered in order across all groups, as in PyTorch; the buffers are
        plain floats and ints, so `microgradx.save` can write them.
        """
        index: dict[Value, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(p, len(index))
                ids.append(index[p])
            settings = {k: v for k, v in group.items() if k != "params"}
            groups.append({**settings, "params": ids})
        state = {index[p]: dict(s) for p, s in self.state.items() if p in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore settings and buffers saved by `state_dict`.

        The groups must have the same sizes as this optimizer's. Everything is checked
        before anything changes, so on error the optimizer is left as it was.
        """
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(
                "load_state_dict() expects the dict from Optimizer.state_dict(), with keys "
                "'state' and 'param_groups'"
            )
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, list) or len(saved_groups) != len(self.param_groups):
            n = len(saved_groups) if isinstance(saved_groups, list) else "no list of"
            raise ValueError(
                f"loaded state dict has {n} parameter groups, this optimizer "
                f"{len(self.param_groups)}"
            )
        params: list[Value] = []
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), list):
                raise ValueError(f"loaded param group {i} is not a dict with a 'params' list")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"loaded param group {i} has {len(saved['params'])} parameters, this "
                    f"optimizer's group has {len(group['params'])}"
                )
            settings = {k: v for k, v in saved.items() if k != "params"}
            if isinstance(settings.get("betas"), list):
                settings["betas"] = tuple(settings["betas"])
            new_groups.append(self._check_group({**settings, "params": group["params"]}, i))
            params.extend(group["params"])
        saved_state = state_dict["state"]
        if not isinstance(saved_state, Mapping):
            raise ValueError("loaded 'state' must be a dict of parameter index -> buffers")
        new_state: dict[Value, dict[str, Any]] = {}
        for key, buffers in saved_state.items():
            if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < len(params):
                raise ValueError(
                    f"loaded state has an entry for parameter {key!r}; expected an index in "
                    f"[0, {len(params)})"
                )
            new_state[params[key]] = self._check_buffers(buffers, key)
        for group, new in zip(self.param_groups, new_groups, strict=True):
            group.clear()
            group.update(new)
        self.state = new_state

    def _check_buffers(self, buffers: object, key: int) -> dict[str, Any]:
        if not isinstance(buffers, Mapping):
            raise ValueError(f"loaded state for parameter {key} is not a dict")
        out: dict[str, Any] = {}
        for name, value in buffers.items():
            kind = self._state_keys.get(name)
            if kind is None:
                raise ValueError(
                    f"loaded state for parameter {key} has an unknown buffer {name!r}; "
                    f"{type(self).__name__} keeps {sorted(self._state_keys)}"
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f"loaded buffer {name!r} of parameter {key} must be a number, "
                    f"got {type(value).__name__}"
                )
            out[name] = kind(value)
        missing = [k for k in self._required_keys if k not in out]
        if missing:
            raise ValueError(f"loaded state for parameter {key} lacks the buffer(s) {missing}")
        step = out.get("step", 0.0)
        if not (step >= 0 and float(step).is_integer()):
            raise ValueError(f"loaded 'step' of parameter {key} must be a whole number >= 0")
        return out

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i} ({len(group['params'])} parameters)")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        lines.append(")")
        return "\n".join(lines)


def _check_disjoint(groups: Sequence[dict[str, Any]]) -> None:
    seen: set[int] = set()
    for g in groups:
        for p in g["params"]:
            if id(p) in seen:
                raise ValueError(
                    f"a parameter appears more than once in the optimizer ({p!r}); "
                    "give each Value once"
                )
            seen.add(id(p))


def _nonnegative(x: object, name: str, label: str = "") -> float:
    """`x` as a float >= 0, or PyTorch's `Invalid ...` error."""
    value = to_real(x, name)
    if not value >= 0.0:
        raise ValueError(f"Invalid {label or name + ' value'}: {x}")
    return value


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
        out["momentum"] = momentum = _nonnegative(s["momentum"], "momentum")
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
        out["eps"] = _nonnegative(s["eps"], "eps", "epsilon value")
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


# -- learning-rate schedulers ---------------------------------------------------------------


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
        if isinstance(step_size, bool) or not isinstance(step_size, int):
            raise TypeError(f"step_size must be an int, got {type(step_size).__name__}")
        if step_size < 1:
            raise ValueError(f"step_size must be at least 1, got {step_size}")
        self.step_size = step_size
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
        if isinstance(T_max, bool) or not isinstance(T_max, int):
            raise TypeError(f"T_max must be an int, got {type(T_max).__name__}")
        if T_max < 1:
            raise ValueError(f"T_max must be at least 1, got {T_max}")
        self.T_max = T_max
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
