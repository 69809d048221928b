"""Loss functions on Values: each builds its result from Value ops, so `backward()` works.

- `mse(pred, target)`: mean squared error (PyTorch's `MSELoss`);
- `hinge(scores, labels)`: the max-margin loss of micrograd's demo, labels -1 / +1;
- `binary_cross_entropy_with_logits(logits, targets)`: sigmoid and binary cross-entropy
  in one numerically stable step;
- `cross_entropy(logits, target)`: softmax and negative log-likelihood (log-sum-exp);
- `l2_penalty(params, alpha)`: `alpha * sum(p * p)`, micrograd's regulariser;
- `softmax` and `log_softmax` of one row of logits.

Predictions may be Values or plain numbers; targets are numbers (or Values). With
`reduction="mean"` (the default) a loss is averaged over the examples, with `"sum"`
summed. A single prediction may be passed without a list.

Every loss is made of ops, with no Python decision on the numbers of Values, so
`microgradx.compile` replays it exactly for any logits and labels passed as arguments.
Four ops are registered here for that, as any user op (`microgradx.defprim`):
`_bce_with_logits` (the whole binary cross-entropy, with its derivative `sigmoid(z) - y`
as PyTorch's), `_lse_max` and `_lse_finite` (the row's largest logit, or 0 if that is
inf or nan, which log-sum-exp subtracts; no gradient flows through them) and `_pick` (a
logit where the label minus its index is 0: the label's logit when the label is a
Value). The checks of Value labels are comparisons, which `compile` checks again at every
call.

Examples:
    >>> from microgradx import Value
    >>> from microgradx.losses import mse
    >>> w = Value(2.0)
    >>> loss = mse([w * 1.0, w * 2.0], [1.0, 3.0])  # ((2-1)**2 + (4-3)**2) / 2
    >>> loss.data
    1.0
    >>> loss.backward()
    >>> w.grad  # (2*(2-1)*1 + 2*(4-3)*2) / 2
    3.0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .define import defprim
from .engine import Value, lift, to_float

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge",
    "l2_penalty",
    "log_softmax",
    "mse",
    "softmax",
]

Scalar = Value | float

#: log(1 + exp(z)) - z * y for one example, written so that exp never overflows; its
#: derivative is PyTorch's, sigmoid(z) - y, smooth also at z = 0
_bce_with_logits = defprim(
    "_bce_with_logits",
    "(1 - y) * x + log1p(exp(-x)) if x > 0 else log1p(exp(x)) - x * y",
    "g * (sigmoid(x) - y)",
    "-g * x",
)
#: the shift of log-sum-exp, as two ops through which no gradient flows (it changes no
#: result): the row's largest logit by Python's `max` (a step: y if y > x else x), made 0
#: where it is inf or nan. Their rules are -0.0, which adds nothing to any adjoint.
_lse_max = defprim("_lse_max", "y if y > x else x", "-0.0", "-0.0")
_lse_finite = defprim("_lse_finite", "x if x - x == 0 else 0.0", "-0.0")
#: x where y is 0, else -0.0 (which adds nothing): picks the label's logit, y = label - index
_pick = defprim("_pick", "x if y == 0 else -0.0", "_pick(g, y)", "-0.0")


def _as_list(x: Any, what: str) -> list[Any]:
    if isinstance(x, (Value, int, float)) and not isinstance(x, bool):
        return [x]
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        raise TypeError(
            f"{what} must be a Value, a number or a sequence of them, got {type(x).__name__}"
        )
    return list(x)


def _pair(pred: Any, target: Any, fn: str) -> tuple[list[Any], list[Any]]:
    preds = _as_list(pred, f"{fn}(): predictions")
    targets = _as_list(target, f"{fn}(): targets")
    if len(preds) != len(targets):
        raise ValueError(
            f"{fn}(): got {len(preds)} predictions but {len(targets)} targets; they must match"
        )
    if not preds:
        raise ValueError(f"{fn}(): needs at least one example")
    for i, p in enumerate(preds):
        if not isinstance(p, Value):
            preds[i] = lift(p, fn)
    return preds, targets


def _total(values: Sequence[Value]) -> Value:
    """`values[0] + values[1] + ...`, left to right (as Python's `sum` would add them)."""
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


def _reduce(losses: list[Value], reduction: str, fn: str) -> Value:
    if reduction == "mean":
        return _total(losses) / len(losses)
    if reduction == "sum":
        return _total(losses)
    raise ValueError(f"{fn}(): reduction must be 'mean' or 'sum', got {reduction!r}")


def _number(t: Any, fn: str) -> float:
    return t.data if isinstance(t, Value) else to_float(t, f"{fn}(): target")


def mse(pred: Any, target: Any, reduction: str = "mean") -> Value:
    """Mean squared error: the average of `(pred - target) ** 2`.

    `pred` and `target` are a Value / number each, or sequences of equal length.
    """
    preds, targets = _pair(pred, target, "mse")
    for i, t in enumerate(targets):
        if not isinstance(t, Value):
            targets[i] = to_float(t, "mse(): target")
    return _reduce([(p - t) ** 2 for p, t in zip(preds, targets, strict=True)], reduction, "mse")


def hinge(scores: Any, labels: Any, reduction: str = "mean") -> Value:
    """The max-margin loss of micrograd's demo: the mean of `relu(1 - label * score)`.

    `labels` are `-1` or `+1` (turn 0/1 labels into them with `2 * y - 1`). The
    loss is zero for an example classified right with a margin of at least 1. The mean is
    taken as `sum * (1.0 / n)`, exactly micrograd's expression, so the numbers match it.
    """
    preds, targets = _pair(scores, labels, "hinge")
    losses = []
    for s, y in zip(preds, targets, strict=True):
        label = y if isinstance(y, Value) else to_float(y, "hinge(): label")
        if _number(abs(label), "hinge") != 1.0:  # one comparison: a guard when traced
            raise ValueError(
                f"hinge(): labels must be -1 or +1, got {_number(label, 'hinge')!r} (turn "
                "0/1 labels into -1/+1 with 2 * y - 1)"
            )
        losses.append((1 + -label * s).relu())
    if reduction == "mean":
        return _total(losses) * (1.0 / len(losses))
    return _reduce(losses, reduction, "hinge")


def binary_cross_entropy_with_logits(logits: Any, targets: Any, reduction: str = "mean") -> Value:
    """Binary cross-entropy of `sigmoid(logit)` against targets in [0, 1], computed stably.

    The loss of one example is `log(1 + exp(z)) - z * y`, computed by one op so that
    `exp` never overflows: for `z > 0` as `(1 - y) * z + log1p(exp(-z))`, otherwise as
    `log1p(exp(z)) - z * y`. Its derivative is `sigmoid(z) - y` (PyTorch's), also at
    `z = 0`, and a logit of 1000 gives a finite loss and gradient.
    """
    zs, ys = _pair(logits, targets, "binary_cross_entropy_with_logits")
    losses = []
    for z, y in zip(zs, ys, strict=True):
        target = y if isinstance(y, Value) else to_float(y, "binary_cross_entropy_with_logits")
        yv = _number(target, "binary_cross_entropy_with_logits")
        if not 0.0 <= yv <= 1.0:
            raise ValueError(
                f"binary_cross_entropy_with_logits(): targets must lie in [0, 1], got {yv!r}"
            )
        losses.append(_bce_with_logits(z, target))
    return _reduce(losses, reduction, "binary_cross_entropy_with_logits")


def _logits_row(row: Any, fn: str) -> list[Value]:
    values = _as_list(row, f"{fn}(): logits")
    if not values:
        raise ValueError(f"{fn}(): needs at least one logit")
    return [v if isinstance(v, Value) else lift(v, fn) for v in values]


def log_softmax(logits: Any) -> list[Value]:
    """`logit_i - log(sum_j exp(logit_j))` for one example, computed stably.

    The largest logit `m` is subtracted before `exp` (as a constant: the result does
    not depend on it, so no gradient flows through it).
    """
    shifted, lse = _shifted(_logits_row(logits, "log_softmax"))
    return [s - lse for s in shifted]


def softmax(logits: Any) -> list[Value]:
    """The probabilities `exp(logit_i) / sum_j exp(logit_j)` for one example."""
    return [v.exp() for v in log_softmax(logits)]


def _shifted(row: list[Value]) -> tuple[list[Value], Value]:
    """The row minus its largest entry `m`, and the log of the sum of their exps.

    `logit - logsumexp` is computed as `(logit - m) - log(sum exp(logit - m))`, as
    PyTorch does: adding `m` back first would cancel when `|m|` is large. An `m` that is
    inf or nan is 0: there is nothing to stabilise, and inf and nan propagate by IEEE rules.
    """
    m = row[0]
    for v in row[1:]:
        m = _lse_max(m, v)
    m = _lse_finite(m)
    shifted = [v - m for v in row]
    return shifted, _total([s.exp() for s in shifted]).log()


def cross_entropy(logits: Any, targets: Any, reduction: str = "mean") -> Value:
    """Softmax cross-entropy: `-log softmax(logits)[target]`, as PyTorch's `cross_entropy`.

    `logits` is one example (a sequence of C Values, `targets` one class index) or a
    batch (a sequence of such rows, `targets` one index per row). An index is an int, or
    a Value holding one (as `compile` passes a label given as an argument). Uses
    log-sum-exp with the row maximum subtracted, so large logits neither overflow nor lose
    the gradient `softmax(logits) - onehot(target)`.
    """
    rows = _as_list(logits, "cross_entropy(): logits")
    if rows and not isinstance(rows[0], (Value, int, float)):
        batch = [_logits_row(r, "cross_entropy") for r in rows]
        labels = _as_list(targets, "cross_entropy(): targets")
    else:
        batch = [_logits_row(rows, "cross_entropy")]
        labels = [targets]
    if len(batch) != len(labels):
        raise ValueError(
            f"cross_entropy(): got {len(batch)} rows of logits but {len(labels)} targets"
        )
    losses = []
    for i, (row, t) in enumerate(zip(batch, labels, strict=True)):
        shifted, lse = _shifted(row)
        losses.append(lse - _label_logit(shifted, t, i))
    return _reduce(losses, reduction, "cross_entropy")


def _label_logit(shifted: list[Value], t: Any, i: int) -> Value:
    """The entry of `shifted` at the class index `t`: an int, or a Value holding one."""
    if isinstance(t, Value):  # sum of _pick(s_j, t - j): s_t to the bit, no decision on t
        picked = _total([_pick(s, t - j) for j, s in enumerate(shifted)])
        hits = _total([_pick(1.0, t - j) for j in range(len(shifted))])
        if _number(hits, "cross_entropy") != 1.0:  # one comparison: a guard when traced
            raise ValueError(
                f"cross_entropy(): targets[{i}] = {_number(t, 'cross_entropy')!r} is not a "
                f"class index in [0, {len(shifted)})"
            )
        return picked
    if not isinstance(t, int) or isinstance(t, bool):
        raise TypeError(
            f"cross_entropy(): targets[{i}] must be a class index (int), got {type(t).__name__}"
        )
    if not 0 <= t < len(shifted):
        raise ValueError(
            f"cross_entropy(): targets[{i}] = {t} is not a class index in [0, {len(shifted)})"
        )
    return shifted[t]


def l2_penalty(params: Iterable[Value], alpha: float = 1.0) -> Value:
    """`alpha * (p0 * p0 + p1 * p1 + ...)`: the L2 regulariser of micrograd's demo.

    `l2_penalty(model.parameters(), 1e-4)` adds the demo's weight penalty to a loss.
    """
    ps = _as_list(params, "l2_penalty(): params")
    if not ps:
        raise ValueError("l2_penalty(): needs at least one parameter")
    for i, p in enumerate(ps):
        if not isinstance(p, Value):
            raise TypeError(f"l2_penalty(): params[{i}] must be a Value, got {type(p).__name__}")
    a = to_float(alpha, "l2_penalty(): alpha")
    return a * _total([p * p for p in ps])
