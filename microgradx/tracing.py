"""What a function traced by `compile` may do with the numbers of its Values.

While `compile` traces a function, its Values are *traced*: their numbers change from call
to call (they depend on the arguments or on the parameters), and the generated code
replays only the operations recorded in the graph. So every decision the function takes on
a traced number has to be taken again at every call. `Trace` watches the function, in the
thread (or asyncio task) that traces it, and each use of a traced number is one of:

* **recorded**: the operations on Values (`x * w`, `x.relu()`, `abs(x)`), written into the
  generated code;
* **guarded**: comparisons (`x > y`, `x > 0`, so `max`, `min` and `sorted` of Values),
  `bool(x)` and comparisons of `x.data`, including those the rules of relu and pow make
  when the function calls `grad(..., create_graph=True)`. Each is a *guard*, checked at
  every call; a call where one comes out the other way runs eagerly;
* **refused**: anything else that takes the number out of the graph (arithmetic on
  `x.data`, `float(x)`, `math.exp(x)`, `int(x)`, `Value(x.data)`, an op inside
  `no_grad()`, setting `.data`, `backward()`). Tracing stops with a `TraceError` naming
  the user's file and line and saying what to write instead.

How: while a trace runs, `Value.data` is a property (it is a slot the rest of the time, so
eager code outside tracing pays nothing) and the comparison and conversion methods of
`Value` are wrapped. A read of `.data` by the engine's own operators gives the float;
any other read of a traced Value's `.data` gives a `TracedNumber`, which records its
comparisons and refuses everything else. Threads and tasks that are not tracing see plain
floats (a little slower while some other thread traces).

Examples:
    >>> from microgradx import Value
    >>> x = Value(2.0)
    >>> with Trace() as trace:
    ...     branch = x.data > 1.0  # a TracedNumber: the comparison is recorded
    >>> branch, [(symbol, b, result) for symbol, _, b, result in trace.guards]
    (True, [('>', 1.0, True)])
"""

from __future__ import annotations

import contextvars
import linecache
import math
import numbers
import operator
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, FrameType, TracebackType
from typing import Any

from . import _builtins, engine, exact
from .checks import to_float
from .codegen import runtime
from .codegen.runtime import CONSTANT
from .engine import Value
from .grad_mode import is_grad_enabled
from .primitive import REGISTRY

__all__ = ["Guard", "Trace", "TraceError", "TracedNumber"]

#: one guard: (symbol, left, right, the result while tracing); a side is a node or a number
Guard = tuple[str, Any, Any, bool]


class TraceError(TypeError):
    """`compile` refused a function: it takes a number out of a traced Value.

    `filename` and `lineno` say where, in the user's code.
    """

    def __init__(self, message: str, filename: str | None, lineno: int | None) -> None:
        super().__init__(message)
        self.filename = filename
        self.lineno = lineno


_current: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "microgradx_trace", default=None
)

# -- where: the user's line ---------------------------------------------------------------

_PACKAGE = Path(__file__).resolve().parent
#: the engine's own files: a use inside them is reported at the caller's line alone
_CORE = ("engine.py", "_builtins.py", "checks.py", "compile.py", "tracing.py", "codegen/")


def _in_package(filename: str) -> str | None:
    """The file's path inside microgradx (`""` for generated code); None outside it."""
    if filename.startswith("<"):  # generated code is ours; "<string>", "<stdin>" are not
        return "" if filename.startswith(("<compiled ", "<microgradx op ")) else None
    try:
        return Path(filename).resolve().relative_to(_PACKAGE).as_posix()
    except ValueError:
        return None


def _where(frame: FrameType | None) -> tuple[str, str | None, int | None]:
    """`file:line` of the first frame outside microgradx, its text, and the library line.

    The text reads "model.py:12 (`if x.data > 0:`)", and "model.py:12 (...), in
    microgradx/losses.py:80" when the use is inside a library function it called.
    """
    inside = None
    while frame is not None:
        path = _in_package(frame.f_code.co_filename)
        if path is None:
            break
        if inside is None and path and not path.startswith(_CORE):
            inside = f"microgradx/{path}:{frame.f_lineno}"
        frame = frame.f_back
    if frame is None:
        return "(no caller outside microgradx)", None, None
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    text = f"{filename}:{lineno}"
    line = linecache.getline(filename, lineno).strip()
    if line:
        text += f" (`{line}`)"
    if inside is not None:
        text += f", in {inside}"
    return text, filename, lineno


_FIRST_ORDER = {
    _builtins.backward_kernel.__code__,
    engine.chain_rule.__code__,
    engine.plain_backward.__code__,
}


def refuse(what: str, advice: str, depth: int = 1) -> TraceError:
    """The error for a use of a traced number that compile cannot replay.

    `depth` counts the frames between the caller of `refuse` and the code that made the
    use (1: the caller's caller).
    """
    frame = sys._getframe(depth + 1)
    text, filename, lineno = _where(frame)
    probe: FrameType | None = frame
    while probe is not None:
        if probe.f_code in _FIRST_ORDER:
            advice = (
                "a gradient taken inside the function without create_graph=True is computed "
                "on plain numbers: pass create_graph=True to grad() so that it is recorded"
            )
            break
        probe = probe.f_back
    return TraceError(f"compile: {text} {what}; {advice}", filename, lineno)


# -- the number of a traced Value ---------------------------------------------------------

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_NOT_DATA = "takes the number out of the graph, so the result would stay what it was while tracing"
_DATA_ADVICE = (
    "compute with the Value itself (`x * 2`, `x.exp()`, `x.relu()`, `abs(x)`), or only "
    "compare the number (`if x.data > 0:` and `if x > y:` are checked at every call)"
)


def _side(x: Any) -> tuple[Any, Any, Trace | None] | None:
    """`(what a guard names, the number, the trace it belongs to)` for one side of a
    comparison; None if it is not a number."""
    if type(x) is TracedNumber:
        return (x.node, x.value, x.trace) if x.trace.active else (x.value, x.value, None)
    if isinstance(x, Value):
        return x, _SLOT_GET(x), None
    if isinstance(x, numbers.Real):  # as Value's comparisons take it: made a float
        number = x if isinstance(x, float) else to_float(x, "a comparison")
        return number, number, None
    return None


def _compared(symbol: str, a: Any, b: Any) -> Any:
    """`a <symbol> b`, recorded as a guard when a traced number is in it.

    NotImplemented when a side is not a number, so that Python tries the other side.
    """
    left, right = _side(a), _side(b)
    if left is None or right is None:
        return NotImplemented
    result: bool = _COMPARE[symbol](left[1], right[1])
    trace = left[2] or right[2] or _current.get()
    if trace is not None:
        trace.guard(symbol, left[0], right[0], result)
    return result


class TracedNumber:
    """The number of a traced Value, as `.data` gives it to a function `compile` traces.

    Comparing it records a guard (`x.data > 0` is checked again at every call) and
    printing it shows the number; anything else (arithmetic, `float()`, `math.*`,
    `int()`, hashing) raises `TraceError` at that line. After the trace it acts as its
    number.
    """

    __slots__ = ("node", "trace", "value")

    def __init__(self, node: Value, value: float, trace: Trace) -> None:
        self.node = node
        self.value = value
        self.trace = trace

    def __lt__(self, other: Any) -> Any:
        return _compared("<", self, other)

    def __le__(self, other: Any) -> Any:
        return _compared("<=", self, other)

    def __gt__(self, other: Any) -> Any:
        return _compared(">", self, other)

    def __ge__(self, other: Any) -> Any:
        return _compared(">=", self, other)

    def __eq__(self, other: object) -> Any:
        return _compared("==", self, other)

    def __ne__(self, other: object) -> Any:
        return _compared("!=", self, other)

    def __bool__(self) -> bool:
        return bool(_compared("!=", self, 0.0))

    def __repr__(self) -> str:
        return repr(self.value)

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __getattr__(self, name: str) -> Any:  # a float's other attributes: x.data.is_integer()
        if self.trace.active:
            raise refuse(
                f"uses `.data` of a traced Value with `.{name}`, which {_NOT_DATA}", _DATA_ADVICE
            )
        return getattr(self.value, name)


#: how each refused use reads in the error
_USES = {
    **{f"__{p}{op}__": f"`{symbol}`" for op, symbol in (
        ("add", "+"), ("sub", "-"), ("mul", "*"), ("truediv", "/"), ("floordiv", "//"),
        ("mod", "%"), ("pow", "**")) for p in ("", "r")},
    "__divmod__": "divmod()", "__rdivmod__": "divmod()", "__neg__": "unary `-`",
    "__pos__": "unary `+`", "__abs__": "abs()", "__float__": "float() or math.*",
    "__int__": "int()", "__index__": "an index", "__round__": "round()",
    "__trunc__": "math.trunc()", "__floor__": "math.floor()", "__ceil__": "math.ceil()",
    "__complex__": "complex()", "__hash__": "hash(), as a dict key or in a set",
}  # fmt: skip


def _refusing(name: str) -> Callable[..., Any]:
    """`TracedNumber.<name>`: refused while its trace runs, the float's method after."""
    method = getattr(float, name, None)
    what = f"uses `.data` of a traced Value with {_USES[name]}, which {_NOT_DATA}"

    def use(self: TracedNumber, *args: Any) -> Any:
        if self.trace.active:
            raise refuse(what, _DATA_ADVICE)
        if method is None:
            raise TypeError(f"a float has no {name}")
        plain = [a.value if type(a) is TracedNumber else a for a in args]
        return method(self.value, *plain)

    use.__name__ = name
    return use


for _name in _USES:
    setattr(TracedNumber, _name, _refusing(_name))
numbers.Real.register(TracedNumber)  # so that library code calls float() on it (refused)


# -- the interception ---------------------------------------------------------------------

_SLOT = Value.__dict__["data"]
_SLOT_GET = _SLOT.__get__
_SLOT_SET = _SLOT.__set__
_OP, _RAW = 1, 2
_patch_lock = threading.Lock()
_patches = 0
_originals: dict[str, Any] = {}  # what the trace replaced on Value while it runs
_inherited: set[str] = set()  # ... of those, the ones Value inherits (taken off after)


def _readers() -> dict[CodeType, int]:
    """Code that reads `.data` as the engine does: the ops (their reads are the recorded
    operations themselves) and Value's own methods that do not hand the number out."""
    kinds: dict[CodeType, int] = {}
    for f in vars(_builtins.Operators).values():
        if callable(f) and hasattr(f, "__code__"):
            kinds[f.__code__] = _OP
    kinds[_builtins.weighted_sum.__code__] = _OP  # a neuron's sum: mul and add, inlined
    for prim in REGISTRY:
        for f in prim.functions:
            if hasattr(f, "__code__"):
                kinds[f.__code__] = _OP
    raw: list[Any] = [Value.__init__, Value.__repr__, engine._data_of, runtime.shared_constant]
    raw += [_originals.get(name, vars(Value).get(name)) for name in _WRAPPED]
    op = vars(Value).get("_op")
    raw.append(op.fget if isinstance(op, property) else None)
    for f in raw:
        code = getattr(f, "__code__", None)
        if code is not None:
            kinds[code] = _RAW
    # the exact engine's ops read their numbers too (compile then refuses the Fractions)
    for f in vars(exact).values():
        if getattr(f, "__module__", None) == exact.__name__ and hasattr(f, "__code__"):
            for code in _nested(f.__code__):
                kinds[code] = _RAW
    return kinds


def _nested(code: CodeType) -> Iterator[CodeType]:
    """A function's code and the code of the functions and comprehensions inside it."""
    yield code
    for c in code.co_consts:
        if isinstance(c, CodeType):
            yield from _nested(c)


def _get_data(node: Value) -> Any:
    value = _SLOT_GET(node)
    trace = _current.get()
    if trace is None or node._code == CONSTANT:
        return value
    kind = trace.readers.get(sys._getframe(1).f_code)
    if kind is None:
        return TracedNumber(node, value, trace)
    if kind == _OP and not is_grad_enabled():
        raise refuse(
            "computes with a traced Value inside no_grad(), so the result would be a constant "
            "that stays what it was while tracing",
            "compute it outside the compiled function and pass it in as an argument, or "
            "leave out no_grad()",
            depth=2,
        )
    return value


def _set_data(node: Value, value: Any) -> None:
    trace = _current.get()
    if trace is not None and sys._getframe(1).f_code not in trace.readers:
        try:
            traced = node._code != CONSTANT
        except AttributeError:  # a node being made
            traced = False
        if traced:
            raise refuse(
                "sets `.data` of a Value inside the compiled function; the generated code "
                "would not do that again",
                "change parameters outside it, between calls (an optimizer step)",
            )
    _SLOT_SET(node, value)


def _guarding_comparison(name: str, symbol: str) -> Callable[[Value, Any], Any]:
    original = _originals[name]

    def compare(self: Value, other: Any) -> Any:
        if _current.get() is None:
            return original(self, other)
        result = _compared(symbol, self, other)
        return original(self, other) if result is NotImplemented else result

    return compare


def _guarding_bool(self: Value) -> bool:
    result: bool = _originals["__bool__"](self)
    trace = _current.get()
    if trace is not None:
        trace.guard("!=", self, 0.0, result)
    return result


_CONVERSIONS = {
    "__float__": (
        f"takes float() of a traced Value (as float(x) and math.exp(x) do), which {_NOT_DATA}",
        "use the Value's own methods (`x.exp()`, `x.log()`, `x.sqrt()`, `abs(x)`, "
        "`x.relu()`), and compare Values for branches (`if x > 0:` is checked at every call)",
    ),
    "__int__": None,
    "__index__": None,
    "__round__": None,
    "__trunc__": None,
    "__floor__": None,
    "__ceil__": None,
    "__complex__": None,
}
_ROUNDING = (
    "rounds a traced Value to a plain number, which the generated code could not do again",
    "a count or an index that depends on a Value cannot be traced: loop or branch on "
    "comparisons of Values instead (`while x > 1:` is checked at every call)",
)


def _refusing_conversion(name: str) -> Callable[..., Any]:
    original = _originals[name]
    what, advice = _CONVERSIONS[name] or _ROUNDING

    def convert(self: Value, *args: Any) -> Any:
        if _current.get() is not None and self._code != CONSTANT:
            raise refuse(what, advice)
        return original(self, *args)

    return convert


def _refusing_backward(name: str) -> Callable[..., Any]:
    original = _originals[name]

    def backward(self: Value, *args: Any, **kwargs: Any) -> Any:
        if _current.get() is not None:
            raise refuse(
                f"calls {name}() inside the compiled function; the generated code computes "
                "the function's value and gradients, not the changes to `.grad`",
                "return the loss and call the compiled function's backward() (or "
                "backward_batch()), or take gradients inside with grad(..., "
                "create_graph=True)",
            )
        return original(self, *args, **kwargs)

    return backward


_WRAPPED = ("__lt__", "__le__", "__gt__", "__ge__", "__bool__", *_CONVERSIONS)
_SYMBOLS = {"__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">="}


def _install() -> None:
    """Put the property and the wrappers on `Value` (the first trace of all threads)."""
    replaced: dict[str, Any] = {"data": property(_get_data, _set_data)}
    for name in (*_WRAPPED, "backward", "_backward"):
        original = getattr(Value, name, None)
        if original is None or getattr(object, name, None) is original:
            continue  # Value does not define it (bool(x) is then always True)
        _originals[name] = original
        if name not in vars(Value):
            _inherited.add(name)
        if name in _SYMBOLS:
            replaced[name] = _guarding_comparison(name, _SYMBOLS[name])
        elif name == "__bool__":
            replaced[name] = _guarding_bool
        elif name in _CONVERSIONS:
            replaced[name] = _refusing_conversion(name)
        else:
            replaced[name] = _refusing_backward(name)
    _originals["data"] = _SLOT
    for name, f in replaced.items():
        setattr(Value, name, f)


def _uninstall() -> None:
    """Take them off again (the last trace of all threads has ended)."""
    for name, original in _originals.items():
        if name in _inherited:
            delattr(Value, name)
        else:
            setattr(Value, name, original)
    _originals.clear()
    _inherited.clear()


class Trace:
    """Watch a function while `compile` traces it, in this thread or task (see the module).

    A context manager: inside it, the comparisons of traced numbers become `guards`, and
    uses that compile cannot replay raise `TraceError`. Traces nest.
    """

    def __init__(self) -> None:
        self.guards: list[Guard] = []
        self.active = False
        self.readers: dict[CodeType, int] = {}
        self._seen: set[tuple[Any, ...]] = set()

    def guard(self, symbol: str, a: Any, b: Any, result: bool) -> None:
        """Record that `a <symbol> b` came out `result` (once per distinct comparison)."""
        if not (_is_traced(a) or _is_traced(b)):
            return  # numbers and constants only: the same at every call
        key = (symbol, _key(a), _key(b), result)
        if key not in self._seen:
            self._seen.add(key)
            self.guards.append((symbol, a, b, result))

    def __enter__(self) -> Trace:
        global _patches
        with _patch_lock:
            if _patches == 0:
                _install()
            _patches += 1
            self.readers = _readers()
        self.active = True
        self._token = _current.set(self)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _patches
        _current.reset(self._token)
        self.active = False
        with _patch_lock:
            _patches -= 1
            if _patches == 0:
                _uninstall()


def _is_traced(x: Any) -> bool:
    """Whether `x` is a Value whose number can change between calls (not a constant)."""
    return isinstance(x, Value) and x._code != CONSTANT


def _key(x: Any) -> Any:
    """What tells two sides of guards apart: a node's identity, a number's value and sign."""
    if isinstance(x, Value):
        return id(x)
    return ("number", math.copysign(1.0, x), x) if x == x else ("nan",)


def guard_nodes(guards: list[Guard]) -> Iterator[Value]:
    """The nodes the guards compare."""
    for _, a, b, _ in guards:
        for x in (a, b):
            if isinstance(x, Value):
                yield x
