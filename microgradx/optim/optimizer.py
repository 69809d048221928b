"""`Optimizer`, the base class: parameter groups, per-parameter state, `step` and saving.

It also holds what every update rule uses: the fused multiply-add `fma` (PyTorch's CPU
kernels round `x + a * y` once) and the check of a setting that must not be negative.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from ..checks import to_flag, to_real
from ..engine import LEAF, Value, enable_grad

__all__ = ["Optimizer", "Params", "Updates", "fma", "nonnegative"]

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
            if type(p.data) is not float:
                raise TypeError(
                    f"optimizers update float Values; params[{i}] of group {index} holds a "
                    f"{type(p.data).__name__} (for exact or high-precision gradients use "
                    "grad() or backward(), and update the numbers yourself)"
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
            out["lr"] = nonnegative(s["lr"], "lr", "learning rate")
        if "weight_decay" in s:
            out["weight_decay"] = nonnegative(s["weight_decay"], "weight_decay")
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


def nonnegative(x: object, name: str, label: str = "") -> float:
    """`x` as a float >= 0, or PyTorch's `Invalid ...` error."""
    value = to_real(x, name)
    if not value >= 0.0:
        raise ValueError(f"Invalid {label or name + ' value'}: {x}")
    return value
