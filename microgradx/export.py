"""Hand-over to PyTorch: `to_torch(module)` and `compare(model, torch_model, inputs)`.

`to_torch` turns an `nn.MLP`, `Layer` or `Neuron` into a `torch.nn.Sequential` of
`torch.nn.Linear` layers and activations with the same float64 weights, so a model
trained here keeps training in PyTorch, on batches and on any device torch supports.
`compare` runs both models on the same inputs and reports the largest differences of
their outputs, weights and gradients: the equality check learners otherwise write by
hand.

PyTorch is an optional extra: `pip install "microgradx[torch]"` brings its CPU build.
This module imports without it; `to_torch` and `compare` then raise an `ImportError`
that names the extra.

The correspondence, layer by layer: neuron `j` of a `Layer(nin, nout)` is row `j` of the
`Linear(nin, nout)`'s `weight` (its input `i` at `weight[j, i]`) and entry `j` of its
`bias`; `"relu"`, `"tanh"` and `"sigmoid"` become `torch.nn.ReLU`, `Tanh` and
`Sigmoid`, and a linear layer gets no activation module. The torch model maps a batch of
shape `(n, nin)` to `(n, nout)`, also when `nout` is 1 (where a microgradx `Layer` gives
one `Value`). Its sums are matrix products, added in another order than
`b + w[0]*x[0] + w[1]*x[1] + ...`, so outputs and gradients agree to a few units in the
last place (on micrograd's moons model, to about 1e-15), not always bit for bit.

Examples:
    >>> from microgradx.export import compare, to_torch
    >>> from microgradx.nn import MLP
    >>> model = MLP(2, [4, 1], seed=0)
    >>> torch_model = to_torch(model)  # ImportError without PyTorch
    >>> report = compare(model, torch_model, [[0.5, -1.0], [1.0, 0.25]])
    >>> report.close(1e-12)
    True
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .engine import Value, grad
from .gc_pause import gc_paused
from .grad_mode import enable_grad
from .nn import ACTIVATIONS, MLP, Layer, Module, Neuron

if TYPE_CHECKING:
    import torch

__all__ = ["Comparison", "Difference", "compare", "to_torch"]

#: what to install for this module
INSTALL = 'pip install "microgradx[torch]"'


def _torch() -> Any:
    """The `torch` module, or an `ImportError` that says how to install it."""
    try:
        return importlib.import_module("torch")
    except ImportError as error:
        raise ImportError(
            f"microgradx.export needs PyTorch, which is not installed: {INSTALL} "
            f"(the optional extra `torch`, the CPU build of torch 2.13.0)"
        ) from error


@dataclass(frozen=True)
class _Layer:
    """One layer of a model as plain numbers: the rows of weights, the biases, the
    activation, and the microgradx names of its parameters."""

    weights: list[list[float]]
    biases: list[float]
    activation: str
    weight_names: list[list[str]]
    bias_names: list[str]
    values: list[list[Value]]  # each neuron's weights, then its bias

    @property
    def nin(self) -> int:
        return len(self.weights[0])

    @property
    def nout(self) -> int:
        return len(self.weights)


def _own_forward(module: Module, base: type[Module]) -> bool:
    """Whether `module`'s class keeps `base`'s forward (and call), so its maths is known."""
    cls = type(module)
    return cls.forward is base.forward and cls.__call__ is Module.__call__


def _number(p: Value, name: str) -> float:
    try:
        return float(p.data)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"parameter {name} holds {type(p.data).__name__}, not a number torch can hold"
        ) from error


def _neuron_layer(neurons: Sequence[object], prefix: str, what: str) -> _Layer:
    """The neurons of one layer as a `_Layer`; `prefix` is the microgradx name of the
    layer ("" for a lone neuron, "neurons." or "layers.0.neurons." otherwise)."""
    if not neurons:
        raise ValueError(f"{what} has no neurons")
    kinds: list[str] = []
    weights: list[list[float]] = []
    biases: list[float] = []
    weight_names: list[list[str]] = []
    bias_names: list[str] = []
    values: list[list[Value]] = []
    for j, neuron in enumerate(neurons):
        where = f"{prefix}{j}." if prefix else ""
        if not isinstance(neuron, Neuron):
            raise TypeError(
                f"{what}: expected Neuron objects in its neurons, got {type(neuron).__name__} "
                f"at {where or 'the top'}"
            )
        if not _own_forward(neuron, Neuron):
            raise TypeError(_custom(neuron))
        if not neuron.w:
            raise ValueError(f"{what}: neuron {j} has no weights")
        kinds.append(ACTIVATIONS[neuron._kind])  # what forward() runs
        names = [f"{where}w.{i}" for i in range(len(neuron.w))]
        weights.append([_number(w, n) for w, n in zip(neuron.w, names, strict=True)])
        biases.append(_number(neuron.b, f"{where}b"))
        weight_names.append(names)
        bias_names.append(f"{where}b")
        values.append([*neuron.w, neuron.b])
    sizes = sorted({len(row) for row in weights})
    if len(sizes) > 1:
        raise ValueError(
            f"{what}: its neurons read different numbers of inputs ({sizes}); a torch Linear "
            f"layer needs one"
        )
    if len(set(kinds)) > 1:
        raise ValueError(
            f"{what}: its neurons use different activations ({', '.join(sorted(set(kinds)))}); "
            f"to_torch() exports one activation per layer"
        )
    return _Layer(weights, biases, kinds[0], weight_names, bias_names, values)


def _custom(module: Module) -> str:
    return (
        f"{type(module).__name__} defines its own forward(), which to_torch() cannot "
        f"translate: write the torch module by hand, then check it with "
        f"microgradx.export.compare()"
    )


def _layers(module: object, caller: str) -> tuple[list[_Layer], str]:
    """The layers of an exportable module, and a short description of it."""
    if not isinstance(module, Module):
        raise TypeError(
            f"{caller} expects a microgradx.nn MLP, Layer or Neuron, got {type(module).__name__}"
        )
    if isinstance(module, Neuron):
        layer = _neuron_layer([module], "", "the neuron")
        return [layer], f"Neuron({layer.nin}, {layer.activation})"
    if isinstance(module, Layer):
        if not _own_forward(module, Layer):
            raise TypeError(_custom(module))
        layer = _neuron_layer(module.neurons, "neurons.", "the layer")
        return [layer], f"Layer({layer.nin}, {layer.nout}, {layer.activation})"
    if isinstance(module, MLP):
        if not _own_forward(module, MLP):
            raise TypeError(_custom(module))
        if not module.layers:
            raise ValueError("the MLP has no layers")
        layers = []
        for k, sub in enumerate(module.layers):
            if not isinstance(sub, Layer):
                raise TypeError(f"MLP layer {k}: expected a Layer, got {type(sub).__name__}")
            if not _own_forward(sub, Layer):
                raise TypeError(_custom(sub))
            layers.append(_neuron_layer(sub.neurons, f"layers.{k}.neurons.", f"MLP layer {k}"))
        for k in range(1, len(layers)):
            if layers[k].nin != layers[k - 1].nout:
                raise ValueError(
                    f"MLP layer {k} reads {layers[k].nin} inputs but layer {k - 1} gives "
                    f"{layers[k - 1].nout} outputs"
                )
        sizes = ", ".join(str(layer.nout) for layer in layers)
        acts = "/".join(dict.fromkeys(layer.activation for layer in layers))
        return layers, f"MLP({layers[0].nin}, [{sizes}], {acts})"
    raise TypeError(
        f"{caller} exports MLP, Layer and Neuron; {type(module).__name__} is another "
        f"Module: write the torch module by hand, then check it with "
        f"microgradx.export.compare() on an MLP"
    )


_TORCH_ACTIVATION = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def to_torch(module: Module) -> torch.nn.Sequential:
    """A `torch.nn.Sequential` that computes what `module` computes, in float64.

    `module` is an `nn.MLP`, `Layer` or `Neuron`. Each layer becomes a
    `torch.nn.Linear(nin, nout)` holding the neurons' weights (row `j` is neuron `j`)
    and biases, followed by `torch.nn.ReLU`, `Tanh` or `Sigmoid` unless the layer is
    linear. The weights are copied (as float64; an exact `Fraction` is rounded), so the
    two models train independently afterwards. The torch model takes a batch of shape
    `(n, nin)` and returns `(n, nout)`. Torch's random number generator is not used.

    Args:
        module: the model to export.

    Returns:
        The torch model, on the CPU; `.to(device)` moves it.

    Raises:
        ImportError: PyTorch is not installed (`pip install "microgradx[torch]"`).
        TypeError: `module` is not an `MLP`, `Layer` or `Neuron`, or its class defines
            its own `forward`.
        ValueError: the neurons of a layer differ in input count or activation, or the
            layers of an MLP do not fit together.

    Examples:
        >>> from microgradx.nn import MLP
        >>> model = MLP(2, [16, 16, 1], seed=0)
        >>> torch_model = to_torch(model)
        >>> print(torch_model)
        Sequential(
          (0): Linear(in_features=2, out_features=16, bias=True)
          (1): ReLU()
          (2): Linear(in_features=16, out_features=16, bias=True)
          (3): ReLU()
          (4): Linear(in_features=16, out_features=1, bias=True)
        )
    """
    layers, _ = _layers(module, "to_torch()")
    pt = _torch()  # the module (the name `torch` is left to the type annotations)
    parts = []
    for layer in layers:
        # skip_init: no random initial weights drawn (they are overwritten at once)
        linear = pt.nn.utils.skip_init(pt.nn.Linear, layer.nin, layer.nout, dtype=pt.float64)
        with pt.no_grad():
            linear.weight.copy_(pt.tensor(layer.weights, dtype=pt.float64))
            linear.bias.copy_(pt.tensor(layer.biases, dtype=pt.float64))
        parts.append(linear)
        if layer.activation != "linear":
            parts.append(getattr(pt.nn, _TORCH_ACTIVATION[layer.activation])())
    exported: torch.nn.Sequential = pt.nn.Sequential(*parts)
    return exported


# -- compare ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """The largest difference between corresponding numbers of the two models.

    Attributes:
        absolute: the largest `|a - b|`.
        relative: the largest `|a - b| / max(|a|, |b|)` (0 where both are 0).
        error: the largest, over the entries, of the smaller of the two: every entry
            is within `error` of its counterpart absolutely or relatively.
        at: where the largest absolute difference is (an example and output, or a
            parameter's microgradx and torch names).
        microgradx: the microgradx number there.
        torch: the torch number there.
        count: how many numbers were compared.
    """

    absolute: float
    relative: float
    error: float
    at: str
    microgradx: float
    torch: float
    count: int


def _difference(pairs: Sequence[tuple[str, float, float]]) -> Difference:
    """The `Difference` of `(where, microgradx number, torch number)` triples."""
    worst = (-1.0, "", math.nan, math.nan)
    relative = error = 0.0
    for where, a, b in pairs:
        if a == b or (math.isnan(a) and math.isnan(b)):
            d = r = 0.0
        else:
            d = abs(a - b)
            if math.isnan(d):  # one nan, or infinities of opposite sign
                d = math.inf
            scale = max(abs(a), abs(b))
            r = d / scale if math.isfinite(scale) else math.inf
            if math.isnan(r):
                r = math.inf
        if d > worst[0]:
            worst = (d, where, a, b)
        relative = max(relative, r)
        error = max(error, min(d, r))
    return Difference(worst[0], relative, error, worst[1], worst[2], worst[3], len(pairs))


@dataclass(frozen=True)
class Comparison:
    """What `compare` found: the largest differences of outputs, loss, weights and
    gradients between a microgradx model and a torch model. `str()` gives a table.

    Attributes:
        outputs: over every output of every example.
        loss: of the loss (the sum of all outputs, or the given `loss`).
        weights: over every parameter, before anything ran.
        gradients: over every parameter's gradient of the loss.
        model: the microgradx model, described.
        torch_model: the torch model's class name.
        examples: how many input examples were run.
    """

    outputs: Difference
    loss: Difference
    weights: Difference
    gradients: Difference
    model: str
    torch_model: str
    examples: int

    def close(self, tol: float = 1e-12) -> bool:
        """Whether every number agrees to `tol`, absolutely or relatively."""
        return all(d.error <= tol for d in self.differences().values())

    def differences(self) -> dict[str, Difference]:
        """The four `Difference` s by name: outputs, loss, weights, gradients."""
        return {
            "outputs": self.outputs,
            "loss": self.loss,
            "weights": self.weights,
            "gradients": self.gradients,
        }

    def __str__(self) -> str:
        lines = [
            f"microgradx {self.model} vs torch {self.torch_model}: {self.examples} "
            f"example{'s' * (self.examples != 1)}, {self.weights.count} parameters",
            "  largest difference (and largest relative difference) of the",
        ]
        for name, d in self.differences().items():
            if d.absolute == 0:
                lines.append(f"  {name:9}  0 (the same)")
                continue
            at = f" at {d.at}" if d.at else ""
            lines.append(f"  {name:9}  {d.absolute:.3g} (relative {d.relative:.3g}){at}")
            lines.append(f"  {'':9}  microgradx {d.microgradx!r}, torch {d.torch!r}")
        worst = max(d.error for d in self.differences().values())
        lines.append(
            f"every number agrees to {worst:.3g} (absolutely or relatively)"
            if worst > 0
            else "every number is the same"
        )
        return "\n".join(lines)


def _examples(inputs: object, nin: int) -> list[list[float]]:
    """`inputs` checked to be examples of `nin` numbers each, as lists of floats."""
    if hasattr(inputs, "tolist") and not isinstance(inputs, (list, tuple)):
        inputs = inputs.tolist()  # a torch tensor or numpy array
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise TypeError(
            f"compare(): inputs must be a sequence of examples (each {nin} numbers), got "
            f"{type(inputs).__name__}"
        )
    if not inputs:
        raise ValueError("compare(): inputs has no examples")
    rows = []
    for k, example in enumerate(inputs):
        if nin == 1 and _is_number(example):
            example = [example]
        if isinstance(example, (str, bytes)) or not isinstance(example, Sequence):
            raise TypeError(
                f"compare(): example {k} must be a sequence of {nin} numbers, got "
                f"{type(example).__name__}"
            )
        if len(example) != nin:
            raise ValueError(
                f"compare(): example {k} has {len(example)} numbers; the model reads {nin}"
            )
        for c in example:
            if not _is_number(c):
                raise TypeError(
                    f"compare(): example {k} holds {type(c).__name__}; expected numbers"
                )
        rows.append([float(c) for c in example])
    return rows


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _scalar(x: object, who: str) -> float:
    if isinstance(x, Value):
        return float(x.data)
    if _is_number(x):
        return float(x)  # type: ignore[arg-type]
    raise TypeError(
        f"compare(): the loss of the {who} model must be one number, got {type(x).__name__}"
    )


def _sum_outputs(outputs: list[list[Value]]) -> Value:
    """The sum of every output of every example, added in order."""
    total: Value | None = None
    for out in outputs:
        for v in out:
            total = v if total is None else total + v
    assert total is not None  # there is at least one example and one output
    return total


def _match(layers: list[_Layer], torch_model: Any, torch: Any) -> list[Any]:
    """The torch model's `Linear` modules, checked to match `layers` one for one."""
    linears = [m for m in torch_model.modules() if isinstance(m, torch.nn.Linear)]
    names = {id(m): name or "(the model)" for name, m in torch_model.named_modules()}
    if len(linears) != len(layers):
        raise ValueError(
            f"compare(): the microgradx model has {len(layers)} layer(s), the torch model "
            f"{len(linears)} torch.nn.Linear module(s); they are matched one for one, in order"
        )
    for k, (layer, linear) in enumerate(zip(layers, linears, strict=True)):
        if (linear.in_features, linear.out_features) != (layer.nin, layer.nout):
            raise ValueError(
                f"compare(): layer {k} maps {layer.nin} inputs to {layer.nout} outputs, but "
                f"the torch model's Linear {names[id(linear)]!r} maps {linear.in_features} "
                f"to {linear.out_features}"
            )
        if linear.bias is None:
            raise ValueError(
                f"compare(): the torch model's Linear {names[id(linear)]!r} has no bias; "
                f"every microgradx neuron has one"
            )
        for p in (linear.weight, linear.bias):
            if not p.requires_grad:
                raise ValueError(
                    f"compare(): a parameter of the torch model's Linear "
                    f"{names[id(linear)]!r} does not require grad (it is frozen): its "
                    f"gradient cannot be compared"
                )
    known = {id(p) for linear in linears for p in (linear.weight, linear.bias)}
    others = [name for name, p in torch_model.named_parameters() if id(p) not in known]
    if others:
        raise ValueError(
            f"compare(): the torch model has parameters outside its Linear modules "
            f"({', '.join(others[:5])}); compare() matches Linear layers to microgradx layers"
        )
    return linears


#: a loss for `compare`: the outputs (of either model) to one number
Loss = Callable[[Any], Any]


def _run_microgradx(
    model: Module, rows: list[list[float]], loss: Loss | None
) -> tuple[list[list[float]], float, dict[int, float]]:
    """The outputs, the loss and the gradients (by parameter id) of the microgradx model;
    `grad()` writes no `.grad`, and the graph is freed before the collector comes back."""
    params = [p for _, p in model.named_parameters()]
    with gc_paused(), enable_grad():
        outputs = []
        for x in rows:
            out = model(x)
            outputs.append(out if isinstance(out, list) else [out])
        total = _sum_outputs(outputs) if loss is None else loss(outputs)
        if not isinstance(total, Value):
            total = Value(_scalar(total, "microgradx"))
        grads = grad(total, params, allow_unused=True)
        by_id = {id(p): float(g.data) for p, g in zip(params, grads, strict=True)}
        values = [[float(v.data) for v in out] for out in outputs]
        return values, float(total.data), by_id


def _run_torch(
    torch: Any,
    torch_model: Any,
    linears: list[Any],
    rows: list[list[float]],
    nout: int,
    loss: Loss | None,
) -> tuple[list[list[float]], float, dict[int, Any]]:
    """The outputs, the loss and the gradients (nested lists by parameter id) of the torch
    model, from `torch.autograd.grad` (no `.grad` is written)."""
    first = next(iter(torch_model.parameters()))
    params = [p for linear in linears for p in (linear.weight, linear.bias)]
    with torch.enable_grad():
        batch = torch.tensor(rows, dtype=first.dtype, device=first.device)
        out = torch_model(batch)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"compare(): the torch model returned {type(out).__name__}")
        if tuple(out.shape) == (len(rows),) and nout == 1:
            out = out.unsqueeze(1)  # a model that gives (n,) for one output
        if tuple(out.shape) != (len(rows), nout):
            raise ValueError(
                f"compare(): the torch model gave outputs of shape {tuple(out.shape)}; "
                f"expected ({len(rows)}, {nout})"
            )
        total = out.sum() if loss is None else loss(out)
        if not isinstance(total, torch.Tensor) or total.numel() != 1:
            shape = f" of shape {tuple(total.shape)}" if hasattr(total, "shape") else ""
            raise TypeError(
                f"compare(): the loss of the torch model must be one number, got "
                f"{type(total).__name__}{shape}"
            )
        if not total.requires_grad:
            raise ValueError(
                "compare(): the torch loss does not depend on the torch model's parameters"
            )
        grads = torch.autograd.grad(total.reshape(()), params, allow_unused=True)
    by_id = {
        id(p): (torch.zeros_like(p) if g is None else g).detach().double().cpu().tolist()
        for p, g in zip(params, grads, strict=True)
    }
    values = out.detach().double().cpu().tolist()
    return values, float(total.detach().reshape(())), by_id


def compare(
    model: Module, torch_model: torch.nn.Module, inputs: Any, *, loss: Loss | None = None
) -> Comparison:
    """Run both models on `inputs` and report the largest differences.

    Compared: the weights, the outputs on every example, a loss, and the gradient of
    that loss with respect to every parameter. The loss is the sum of every output of
    every example unless `loss` is given: a function of the outputs, called once with
    the microgradx outputs (a list over examples of lists of `Value` s) and once with the
    torch outputs (a tensor of shape `(n, nout)`), so a loss written with `+ - * /`,
    `**`, `.relu()`, `.tanh()`, `.exp()`, `.log()` and `sum()` works on both. Neither
    model changes: no `.grad` is written on either side.

    `model` is an `MLP`, `Layer` or `Neuron`; `torch_model` is any module whose
    `torch.nn.Linear` modules (in the order `torch_model.modules()` lists them) match
    its layers in shape and which has no other parameters, such as `to_torch(model)` or
    one written by hand. Its inputs get the dtype and device of its first parameter.

    Args:
        model: the microgradx model.
        torch_model: the torch model.
        inputs: a sequence of examples, each a sequence of `nin` numbers (a number when
            `nin` is 1), or a 2-D tensor or array.
        loss: optional function of the outputs giving one number, on both sides.

    Returns:
        A `Comparison`; `print()` it, or test `report.close(1e-12)`.

    Raises:
        ImportError: PyTorch is not installed.
        TypeError: a model or the inputs are not of the kinds above.
        ValueError: the torch model's layers do not match the microgradx model's.

    Examples:
        >>> from microgradx.nn import MLP
        >>> model = MLP(2, [16, 16, 1], seed=0)
        >>> X, y = [[0.5, -1.0], [1.5, 0.25]], [1, -1]
        >>> hinge = lambda out: sum((1 - t * o[0]).relu() for o, t in zip(out, y)) / len(y)
        >>> report = compare(model, to_torch(model), X, loss=hinge)
        >>> report.close(1e-12), report.gradients.absolute < 1e-15
        (True, True)
        >>> print(report)  # doctest: +ELLIPSIS
        microgradx MLP(2, [16, 16, 1], relu/linear) vs torch Sequential: 2 examples, ...
          ...
          gradients  ... at layers.2.neurons.0.w.9 = torch 4.weight[0, 9]
        ...
        every number agrees to ... (absolutely or relatively)
    """
    layers, description = _layers(model, "compare()")
    torch = _torch()
    if not isinstance(torch_model, torch.nn.Module):
        raise TypeError(
            f"compare(): torch_model must be a torch.nn.Module, got {type(torch_model).__name__}"
        )
    rows = _examples(inputs, layers[0].nin)
    linears = _match(layers, torch_model, torch)
    nout = layers[-1].nout
    mine_out, mine_loss, mine_grad = _run_microgradx(model, rows, loss)
    theirs_out, theirs_loss, theirs_grad = _run_torch(torch, torch_model, linears, rows, nout, loss)
    torch_names = {id(p): name for name, p in torch_model.named_parameters()}

    outputs = [
        (f"example {k}, output {j}", mine_out[k][j], theirs_out[k][j])
        for k in range(len(rows))
        for j in range(nout)
    ]
    weights, gradients = [], []
    for layer, linear in zip(layers, linears, strict=True):
        w_name, b_name = torch_names[id(linear.weight)], torch_names[id(linear.bias)]
        tw = linear.weight.detach().double().cpu().tolist()
        tb = linear.bias.detach().double().cpu().tolist()
        gw, gb = theirs_grad[id(linear.weight)], theirs_grad[id(linear.bias)]
        for j in range(layer.nout):
            for i in range(layer.nin):
                where = f"{layer.weight_names[j][i]} = torch {w_name}[{j}, {i}]"
                weights.append((where, layer.weights[j][i], tw[j][i]))
                gradients.append((where, mine_grad[id(layer.values[j][i])], gw[j][i]))
            where = f"{layer.bias_names[j]} = torch {b_name}[{j}]"
            weights.append((where, layer.biases[j], tb[j]))
            gradients.append((where, mine_grad[id(layer.values[j][-1])], gb[j]))
    return Comparison(
        outputs=_difference(outputs),
        loss=_difference([("", mine_loss, theirs_loss)]),
        weights=_difference(weights),
        gradients=_difference(gradients),
        model=description,
        torch_model=type(torch_model).__name__,
        examples=len(rows),
    )
