"""Neural-network building blocks: `Module`, `Neuron`, `Layer` and `MLP`.

The classes keep micrograd's signatures and shapes, so code written for `micrograd.nn`
runs unchanged with `from microgradx.nn import MLP`.

On top of that: a choice of activation (`"relu"`, the default, `"tanh"`, `"sigmoid"`
or `"linear"`), a seedable initialiser, and PyTorch's `named_parameters()`,
`state_dict()` and `load_state_dict()`.

Initialisation follows micrograd: each weight is `uniform(-1, 1)`, each bias `0`,
drawn neuron by neuron in order. `seed=None` draws from Python's global `random`
module (so `random.seed(1337)` before building gives micrograd's exact weights); an
`int` seeds a private `random.Random`, so two models built with one seed are identical;
a `random.Random` instance is used (and advanced) as it is.

Examples:
    >>> from microgradx.nn import MLP
    >>> model = MLP(2, [16, 16, 1], seed=0)
    >>> len(model.parameters())
    337
    >>> out = model([0.5, -1.0])  # the last layer has one neuron: one Value comes back
    >>> type(out).__name__
    'Value'
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ._builtins import weighted_sum
from .checks import one_of, to_count, to_flag, to_rng
from .engine import Value

__all__ = ["ACTIVATIONS", "MLP", "Layer", "Module", "Neuron"]

#: the activation names a `Neuron` accepts
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")

Seed = int | random.Random | None
Input = Sequence[Value | float] | Value | float


class Module:
    """Base class of everything with parameters (PyTorch's `nn.Module`, scalar-sized).

    A subclass defines `forward` (or `__call__`, as micrograd does). By default the
    parameters are found by walking the attributes in the order they were set: `Value`
    attributes, sub-`Module` s, and lists, tuples and dicts of them. Names join the path
    with dots, as in PyTorch: `layers.0.neurons.3.w.1`.
    """

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the module's output; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run `forward`."""
        return self.forward(*args, **kwargs)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        """Yield `(name, parameter)` for every parameter, each Value once."""
        seen: set[int] = set()
        for name, p in _walk(self, prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def parameters(self) -> list[Value]:
        """All parameters, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Set every parameter's `.grad` to `0.0` (micrograd's habit), or to None with
        `set_to_none=True` (PyTorch's default; backward and the optimizers read None as
        no gradient yet)."""
        value = None if to_flag(set_to_none, "set_to_none") else 0.0
        for p in self.parameters():
            p.grad = value

    def state_dict(self) -> dict[str, float]:
        """The parameters' values by name: `{"layers.0.neurons.0.w.0": 0.23, ...}`."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict: Mapping[str, float], strict: bool = True) -> None:
        """Copy values from `state_dict` into the parameters.

        Every entry is checked before any parameter changes, so on error the module is
        left as it was. With `strict=True` (the default) the names must match exactly;
        with `strict=False` missing and unexpected names are ignored.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict() expects a mapping of name -> float (from state_dict()), "
                f"got {type(state_dict).__name__}"
            )
        params = dict(self.named_parameters())
        if strict:
            missing = [n for n in params if n not in state_dict]
            unexpected = [n for n in state_dict if n not in params]
            if missing or unexpected:
                raise ValueError(
                    f"state dict does not match {type(self).__name__}: it has "
                    f"{len(state_dict)} entries, the model {len(params)} parameters"
                    + _listing("missing", missing)
                    + _listing("unexpected", unexpected)
                )
        updates: list[tuple[Value, float]] = []
        for name, v in state_dict.items():
            p = params.get(name)
            if p is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(
                    f"state dict entry {name!r} must be a float, got {type(v).__name__}"
                )
            updates.append((p, float(v)))
        for p, v in updates:
            p.data = v


def _listing(kind: str, names: list[str], limit: int = 5) -> str:
    if not names:
        return ""
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return f"; {kind}: {shown}{more}"


def _walk(obj: Any, prefix: str, active: set[int] | None = None) -> Iterator[tuple[str, Value]]:
    """Parameters under `obj`, depth first, in attribute order.

    A container already being walked (a module that refers back to its parent, say) is
    skipped, so cycles among modules end.
    """
    if isinstance(obj, Value):
        yield prefix, obj
        return
    if not isinstance(obj, (Module, list, tuple, dict)):
        return
    active = set() if active is None else active
    if id(obj) in active:
        return
    active.add(id(obj))
    if isinstance(obj, Module):
        items: Iterable[tuple[Any, Any]] = (
            (k, v) for k, v in vars(obj).items() if not k.startswith("_")
        )
    elif isinstance(obj, dict):
        items = ((k, v) for k, v in obj.items() if isinstance(k, str))
    else:
        items = enumerate(obj)
    for key, child in items:
        yield from _walk(child, f"{prefix}.{key}" if prefix else str(key), active)
    active.discard(id(obj))


_RELU, _TANH, _SIGMOID, _LINEAR = range(4)


class Neuron(Module):
    """One neuron: `activation(b + w[0]*x[0] + w[1]*x[1] + ...)`.

    `nonlin=False` makes it linear (micrograd's switch); otherwise `activation`
    chooses the non-linearity (`"relu"` by default, `"tanh"`, `"sigmoid"`, or
    `"linear"`). Weights start `uniform(-1, 1)`, the bias `0` (see the module doc
    for `seed`).
    """

    def __init__(
        self, nin: int, nonlin: bool = True, *, activation: str = "relu", seed: Seed = None
    ) -> None:
        to_count(nin, "Neuron(nin=...)")
        one_of(activation, "activation", ACTIVATIONS)
        rng = to_rng(seed)
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = bool(nonlin) and activation != "linear"
        self.activation = activation if self.nonlin else "linear"
        self._kind = ACTIVATIONS.index(self.activation)

    def forward(self, x: Input) -> Value:
        """The neuron's output for the input `x` (a sequence of `nin` Values or numbers)."""
        w = self.w
        if x.__class__ is not list or len(x) != len(w):
            x = _as_sequence(x, len(w))
        # act = b + w0*x0 + w1*x1 + ..., summed left to right exactly as micrograd does:
        # the nodes `for wi, xi in zip(w, x): act = act + wi * xi` makes, made faster
        act: Value = weighted_sum(self.b, w, x)
        kind = self._kind
        if kind == _RELU:
            return act.relu()
        if kind == _LINEAR:
            return act
        return act.tanh() if kind == _TANH else act.sigmoid()

    def parameters(self) -> list[Value]:
        """The weights, then the bias (micrograd's order)."""
        return [*self.w, self.b]

    def __repr__(self) -> str:
        name = {"relu": "ReLU", "linear": "Linear"}.get(self.activation, self.activation.title())
        return f"{name}Neuron({len(self.w)})"


def _as_sequence(x: object, nin: int) -> Sequence[Value | float]:
    """`x` checked to be `nin` inputs; a lone Value or number counts as one input."""
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        if len(x) == nin:
            return x
        raise ValueError(f"expected {nin} inputs, got {len(x)}")
    if isinstance(x, (Value, int, float)) and not isinstance(x, bool):
        if nin == 1:
            return [x]
        raise ValueError(f"expected {nin} inputs, got a single {type(x).__name__}")
    raise TypeError(f"expected a sequence of {nin} Values or numbers, got {type(x).__name__}")


class Layer(Module):
    """`nout` neurons reading the same `nin` inputs.

    Returns a list of `nout` Values, or one Value when `nout == 1` (as micrograd does).
    Keyword arguments (`nonlin`, `activation`, `seed`) go to each `Neuron`.
    """

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        to_count(nin, "Layer(nin=...)")
        to_count(nout, "Layer(nout=...)")
        seed = kwargs.get("seed")
        if seed is not None:
            kwargs["seed"] = to_rng(seed)  # one stream for all the neurons, not one each
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def forward(self, x: Input) -> Value | list[Value]:
        """The layer's outputs for the input `x`."""
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        """Every neuron's parameters, neuron by neuron."""
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: `nin` inputs, then one `Layer` per entry of `nouts`.

    Hidden layers use `activation` (relu by default); the last layer is linear, as in
    micrograd. `MLP(2, [16, 16, 1])` is micrograd's moons classifier (337 parameters).
    """

    def __init__(
        self, nin: int, nouts: Sequence[int], *, activation: str = "relu", seed: Seed = None
    ) -> None:
        to_count(nin, "MLP(nin=...)")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence):
            raise TypeError(f"MLP(nouts=...) must be a list of ints, got {type(nouts).__name__}")
        if not nouts:
            raise ValueError("MLP(nouts=...) must name at least one layer size")
        for k in nouts:
            to_count(k, "MLP(nouts=...) entries")
        one_of(activation, "activation", ACTIVATIONS)
        rng = None if seed is None else to_rng(seed)
        sz = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [
            Layer(sz[i], sz[i + 1], nonlin=i != last, activation=activation, seed=rng)
            for i in range(len(nouts))
        ]

    def forward(self, x: Input) -> Value | list[Value]:
        """Run `x` through every layer."""
        out: Any = x
        for layer in self.layers:
            out = layer(out)
        return out  # type: ignore[no-any-return]

    def parameters(self) -> list[Value]:
        """Every layer's parameters, layer by layer."""
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
