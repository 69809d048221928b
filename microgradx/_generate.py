"""Generate the ``Value`` operators and the backward pass from the table of primitives.

Every op in :mod:`microgradx.ops` is one forward expression and one rule per input. This
module writes them into Python source once (and again when an op is registered):

* one method per operator (``__add__``, ``__radd__``, ``exp``, ...), with the forward
  expression inlined (in a class body, copied onto ``Value``);
* ``backward_kernel``: one loop over the nodes with one branch per op, each rule inlined
  on plain floats, the most used ops tested first;
* ``value_rules``: the same rules as functions on Values, for ``create_graph=True``.

A rule that can raise (it divides, or calls ``log``...) runs in a ``try``; on
``ZeroDivisionError``, ``OverflowError`` or a math domain error it is evaluated again
with IEEE 754 results (``1/0 = inf``). The common case pays nothing for that.
"""

from __future__ import annotations

import ast
import textwrap
from typing import Any

from . import ieee, lang, ops


def _data(v: Any) -> float:
    return v.data if hasattr(v, "_code") else v  # type: ignore[no-any-return]


def _function_names(mode: lang.Mode) -> Any:
    return lambda f: f"_p{mode[0]}_{f}"


def _library(mode: lang.Mode) -> Any:
    return lambda f: f"_l{mode[0]}_{f}"


def _raises(f: str) -> bool:
    return ops.BY_NAME[f].raises


class Generated:
    """The generated code for the current table; ``rebuild()`` regenerates it."""

    def __init__(self, value_class: type) -> None:
        self.Value = value_class
        self.installed: dict[str, str] = {}  # Value method -> primitive name
        self.source = ""
        self.backward_kernel: Any = None
        self.kernel_accumulates = True
        self.value_rules: list[tuple[Any, ...]] = []
        self.rebuild()

    def namespace(self) -> dict[str, Any]:
        from .engine import NO_GRAD, _enabled, _Switch, lift

        ns = ops.library_namespace()
        ns.update(
            _Value=self.Value, _new=object.__new__, _lift=lift, _Switch=_Switch,
            _enabled=_enabled, _NO_GRAD=NO_GRAD, _ERRORS=(ArithmeticError, ValueError),
            _data=_data, _first_grad=_first_grad, _ZERO=lift(0.0, "*"),
        )  # fmt: skip
        for p in ops.REGISTRY:
            ns[f"_pf_{p.name}"] = p.fast
            ns[f"_ps_{p.name}"] = p.safe
        return ns

    def rebuild(self) -> None:
        """Regenerate everything from ``ops.REGISTRY``; on error nothing is changed."""
        methods: dict[str, tuple[ops.Primitive, int]] = {}
        for p in ops.REGISTRY:
            for i, m in enumerate(p.methods[: p.arity]):
                owner = self.installed.get(m)
                if m in methods or (owner is None and hasattr(self.Value, m)):
                    raise ValueError(
                        f"Value already has an attribute {m!r}; choose another method name"
                    )
                methods[m] = (p, i)
        parts = [_forward(p, f"_apply_{p.name}", lift_self=True) for p in ops.REGISTRY]
        # the methods live in a class body, so that no method name (a user op may choose
        # any) can replace a global the generated code uses, such as `_pow`
        body = [_forward(p, m, reflected=i == 1) for m, (p, i) in methods.items()]
        parts.append("class ValueMethods:\n" + textwrap.indent("\n\n".join(body) or "pass", "    "))
        parts.append(_kernel(ops.REGISTRY))
        parts.append(_LINKED.strip())
        source = "\n\n".join(parts) + "\n"
        ns = self.namespace()
        exec(compile(source, "<microgradx generated>", "exec"), ns)
        rules = [
            tuple(eval(f"lambda g, x, y, out: {_value_rule(t)}", ns) for t in p.vjp_trees)
            for p in ops.REGISTRY
        ]
        # all generated: now install
        for p in ops.REGISTRY:
            p.apply = ns[f"_apply_{p.name}"]
            ns[f"_pv_{p.name}"] = p.apply
        for m in set(self.installed) - set(methods):
            delattr(self.Value, m)
        for m in methods:
            setattr(self.Value, m, ns["ValueMethods"].__dict__[m])
        self.installed = {m: p.name for m, (p, _) in methods.items()}
        self.backward_kernel = ns["backward_kernel"]
        self.kernel_accumulates = not can_fail(ops.REGISTRY)
        self.value_rules = rules
        self.source = source


def _value_rule(tree: ast.expr) -> str:
    return lang.emit(tree, "value", {}, _function_names("value"))


# On Values, a branch of a rule's `a if cond else b` that uses none of the nodes the rest
# of the expression reads (relu's `0.0 if out <= 0 else g`) is passed through `_linked`:
# when the condition tests a node that requires grad, the branch stays connected to every
# node read, with derivative 0, as PyTorch's `where` does. So the derivative of relu's
# derivative is 0 rather than "does not affect the output", while `x ** 0.0` (a number
# exponent: PyTorch's zeros) keeps a constant derivative. The link adds
# 0 * (sign(n1) + ...), exactly ±0; a branch that is the number 0 is the link itself.
_LINKED = """
def _linked(branch, tested, read):
    if all(n._mark == _NO_GRAD for n in tested):
        return branch
    link = None
    for n in read:
        if n._mark != _NO_GRAD:
            s = _pv_sign(n)
            link = s if link is None else link + s
    link = _ZERO * link
    return link if branch.__class__ is float and branch == 0.0 else branch + link
"""


def _guarded(target: str, fast: str, safe: str | None, indent: str) -> list[str]:
    """``target = fast``, retried as ``safe`` if it raised."""
    if safe is None:
        return [f"{indent}{target} = {fast}"]
    return [
        f"{indent}try:",
        f"{indent}    {target} = {fast}",
        f"{indent}except _ERRORS:",
        f"{indent}    {target} = {safe}",
    ]


def _forward(p: ops.Primitive, fname: str, reflected: bool = False, lift_self: bool = False) -> str:
    """A Value method (or the op's apply function) computing ``p`` and recording it."""
    params = ["self", "other"][: p.arity]
    inputs = list(reversed(params)) if reflected else params
    lines = [f"def {fname}({', '.join(params)}):", f"    {_docstring(p, reflected)!r}"]
    for name in params if lift_self else params[1:]:
        lines += [
            f"    if {name}.__class__ is not _Value:",
            f"        {name} = _lift({name}, {p.symbol!r})",
        ]
    data = {var: f"{src}.data" for var, src in zip(("x", "y"), inputs, strict=False)}
    if p.forward_tree is None:
        call = f"_pf_{p.name}({', '.join(data.values())})"
        lines.append(f"    d = float({call})")
    else:
        fast = lang.emit(p.forward_tree, "fast", data, _library("fast"))
        safe = lang.emit(p.forward_tree, "safe", data, _library("safe")) if p.raises else None
        lines += _guarded("d", fast, safe, "    ")
    second = inputs[1] if p.arity == 2 else "None"
    lines += [
        "    out = _new(_Value)",
        "    out.data = d",
        "    out.grad = 0.0",
        '    out.label = ""',
        "    if _Switch.disabled and not _enabled.get():",
        "        out._code = 0",
        "        out._a = out._b = None",
        "        out._mark = _NO_GRAD",
        "        out._adj = 0.0",
        "    else:",
        f"        out._code = {p.code}",
        f"        out._a = {inputs[0]}",
        f"        out._b = {second}",
        "        out._mark = 0",
        "    return out",
    ]
    return "\n".join(lines)


def _docstring(p: ops.Primitive, reflected: bool) -> str:
    """``help(Value.exp)``: the op's row of the table."""
    names = ("x", "y")[: p.arity]
    forward = p.forward if isinstance(p.forward, str) else f"{p.name}({', '.join(names)})"
    rules = "; ".join(f"d/d{n}: {r}" for n, r in zip(names, p.vjps, strict=True))
    who = " (self is y)" if reflected else ""
    return f"The primitive {p.name!r}{who}: {forward}, recorded in the graph ({rules})."


def can_fail(prims: list[ops.Primitive]) -> bool:
    """Whether some rule calls an op whose forward is a Python function (it may raise).

    Every other rule gives IEEE results and cannot raise, so the kernel can add to
    ``.grad`` as it goes: no error can stop a pass halfway.
    """
    opaque = {p.name for p in prims if p.forward_tree is None}
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in opaque
        for p in prims
        for t in p.vjp_trees
        for n in ast.walk(t)
    )


def _first_grad(grad: Any, g: float) -> float:
    if grad is None:  # PyTorch's "no gradient yet"
        return g
    raise TypeError(f"a Value's .grad must be a number or None, got {type(grad).__name__}")


def branch_head(k: int, p: ops.Primitive, inputs: list[str]) -> list[str]:
    """The ``elif code == K:`` line of a per-op branch of a kernel over ``v``, and the
    loads of the rule names ``x``, ``y``, ``out`` that the op's rules use; ``inputs`` are
    the expressions for the op's inputs (the branch binds bare names like ``a`` itself)."""
    lines = [f"        {'if' if k == 0 else 'elif'} code == {p.code}:  # {p.name}"]
    lines += [f"            {i} = v._{i}" for i in inputs if i.isidentifier()]
    used = set().union(*(lang.names_used(t) for t in p.vjp_trees))
    for var, src in zip(("x", "y"), inputs, strict=False):
        if var in used:
            lines.append(f"            {var} = {src}.data")
    if "out" in used:
        lines.append("            out = v.data")
    return lines


def rule_code(tree: ast.expr) -> tuple[str, str | None]:
    """A rule on floats: its fast form, and its IEEE-safe form when the fast one can raise."""
    fast = lang.emit(tree, "fast", {}, _function_names("fast"))
    if not lang.may_raise(tree, _raises):
        return fast, None
    return fast, lang.emit(tree, "safe", {}, _function_names("safe"))


def _kernel(prims: list[ops.Primitive]) -> str:
    """The first-order backward pass on floats: one branch per primitive.

    With ``accumulate`` each node's adjoint is added to its ``.grad`` (and released) as the
    pass reaches it, unless a rule can fail (:func:`can_fail`): then the engine adds them
    after the pass, so that an error leaves every ``.grad`` as it was.
    """
    lines = ["def backward_kernel(order, accumulate):", "    for v in order:", "        g = v._adj"]
    if not can_fail(prims):
        lines += [
            "        if accumulate:",
            "            v._adj = 0.0  # spent: drop the float",
            "            try:",
            "                v.grad += g",
            "            except TypeError:",
            "                v.grad = _first_grad(v.grad, g)",
        ]
    lines.append("        code = v._code")
    for k, p in enumerate(prims):
        args = ["a", "b"][: p.arity]
        lines += branch_head(k, p, args)
        for arg, tree in zip(args, p.vjp_trees, strict=True):
            fast, safe = rule_code(tree)
            if safe is not None:
                lines.append(f"            if {arg}._mark != _NO_GRAD:")
                lines += _guarded(
                    # parenthesised: a rule may be `a if c else b`, which binds looser than +
                    f"{arg}._adj",
                    f"{arg}._adj + ({fast})",
                    f"{arg}._adj + ({safe})",
                    " " * 16,
                )
            else:
                lines.append(f"            {arg}._adj += {fast}")
    return "\n".join(lines)


__all__ = ["Generated", "ieee"]
