"""What `compile`'s array code calls: the same helpers on NumPy arrays or torch tensors.

The code written by `microgradx.codegen.batch` names its functions as the float code does
(`_la_exp`, `_pa_sign`, `_spow`, `_div`, ...) plus a few of its own (`_where`, `_not`,
`_stack`, `_gradient`, ...). `namespace(backend, device)` binds them to one array library,
imported only here and only when asked for. Every helper takes plain floats as well as
arrays (a variable that is the same for every example, such as a parameter, is a float),
and gives IEEE 754 results as `microgradx.ieee` does: `log(0) = -inf`, `1 / 0 = inf`.

A library function with no array counterpart of the same IEEE behaviour here is applied to
each example by the engine's own float function, so it gives the eager engine's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from .. import ieee

#: library functions whose NumPy and torch versions agree with `microgradx.ieee`'s at
#: every float, inf and nan (to rounding); the others run example by example. Not tanh:
#: NumPy's is one ulp off `math.tanh` near 1 (at 18.5), and tanh's rule `1 - out * out`
#: turns that ulp into a gradient twice eager's
_NATIVE = {
    "exp": "exp", "log": "log", "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan",
    "sinh": "sinh", "cosh": "cosh", "asin": "arcsin", "acos": "arccos",
    "atan": "arctan", "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh",
    "log1p": "log1p", "expm1": "expm1", "log2": "log2", "log10": "log10", "fabs": "abs",
    "abs": "abs",
}  # fmt: skip

INSTALL = {"numpy": 'pip install "microgradx[numpy]"', "torch": 'pip install "microgradx[torch]"'}


def require(module: str, backend: str | None = None) -> Any:
    """The module `module` ("numpy" or "torch"), or ImportError saying what to install
    for `backend` (default: the backend of that name)."""
    backend = backend or module
    try:
        return __import__(module)
    except ImportError as e:
        raise ImportError(
            f'compile(..., backend="{backend}") needs {module}: {INSTALL[module]} ({e})'
        ) from None


class Arrays:
    """One array library as the generated code uses it; see `namespace`."""

    def __init__(self, backend: str, device: Any = None) -> None:
        self.backend = backend
        self.xp = require(backend)
        require("numpy", backend)  # the batch is read into a NumPy matrix first
        if backend == "torch":
            self.device = self.xp.device("cpu" if device is None else device)
            self.array_type: Any = self.xp.Tensor
        else:
            self.device = None
            self.array_type = self.xp.ndarray

    # conversion -------------------------------------------------------------------------

    def rows(self, matrix: Any) -> list[Any]:
        """The rows of a float64 NumPy matrix (examples along the rows) as arrays here."""
        if self.backend == "torch":
            return list(self.xp.from_numpy(matrix).to(self.device).unbind(0))
        return list(matrix)

    def index(self, positions: Sequence[int]) -> Any:
        """Positions as an index array (for gathering and scattering parameters)."""
        if self.backend == "torch":
            return self.xp.tensor(list(positions), dtype=self.xp.int64, device=self.device)
        return self.xp.asarray(positions, dtype=self.xp.intp)

    def vector(self, numbers: Sequence[float]) -> Any:
        """A float64 vector of `numbers`."""
        if self.backend == "torch":
            return self.xp.tensor(numbers, dtype=self.xp.float64, device=self.device)
        return self.xp.asarray(numbers, dtype=self.xp.float64)

    def full(self, x: Any, n: int) -> Any:
        """`x` (a float, a 0-d or an n-vector) as an n-vector."""
        if isinstance(x, self.array_type) and x.ndim == 1:
            return x
        if self.backend == "torch":
            if isinstance(x, self.array_type):
                return x.reshape(1).expand(n)
            return self.xp.full((n,), float(x), dtype=self.xp.float64, device=self.device)
        return self.xp.full(n, x, dtype=self.xp.float64)

    # the helpers of the generated code -------------------------------------------------

    def is_array(self, x: Any) -> bool:
        """Whether `x` is an array here (not a plain number)."""
        return isinstance(x, self.array_type)

    def where(self, c: Any, a: Any, b: Any) -> Any:
        """`a if c else b` for each example (both already computed)."""
        if not isinstance(c, self.array_type):
            return a if c else b
        numbers = not isinstance(a, self.array_type) and not isinstance(b, self.array_type)
        if self.backend == "torch" and numbers:  # torch.where of two numbers: float32
            b = self.xp.full_like(c, float(b), dtype=self.xp.float64)
        return self.xp.where(c, a, b)

    def logical_not(self, c: Any) -> Any:
        """`not c` for each example."""
        return ~c if isinstance(c, self.array_type) else not c

    def div(self, x: Any, y: Any) -> Any:
        """`x / y` with IEEE results, on numbers too."""
        if isinstance(x, self.array_type) or isinstance(y, self.array_type):
            return x / y
        return ieee.div(float(x), float(y))

    def pow(self, x: Any, y: Any) -> Any:
        """`x ** y` by C's pow (a Value exponent), as `ieee.pow`."""
        if isinstance(x, self.array_type) or isinstance(y, self.array_type):
            if self.backend == "torch" and not isinstance(x, self.array_type):
                return self.xp.pow(float(x), y)
            return self.xp.power(x, y) if self.backend == "numpy" else self.xp.pow(x, y)
        return ieee.pow(float(x), float(y))

    def scalar_pow(self, x: Any, y: float) -> Any:
        """`x ** y` for a number exponent, with PyTorch's shortcuts as `ieee.scalar_pow`."""
        if not isinstance(x, self.array_type):
            return ieee.scalar_pow(float(x), float(y))
        if y == 2.0:
            return x * x
        if y == 3.0:
            return x * x * x
        if y == -1.0:
            return 1.0 / x
        if y == 0.5:
            return self.xp.sqrt(x)
        if y == -0.5:
            return 1.0 / self.xp.sqrt(x)
        if y == -2.0:
            return 1.0 / (x * x)
        return self.pow(x, y)

    def sign(self, x: Any) -> Any:
        """-1, 0 or 1; 0 at nan and at -0.0 (as `ieee.sign`)."""
        if not isinstance(x, self.array_type):
            return ieee.sign(float(x))
        xp = self.xp
        return xp.where(x > 0.0, 1.0, xp.where(x < 0.0, -1.0, xp.zeros_like(x)))

    def sigmoid(self, x: Any) -> Any:
        """`1 / (1 + e**-x)` (0.0 where `e**-x` overflows), as `ieee.sigmoid`."""
        if not isinstance(x, self.array_type):
            return ieee.sigmoid(float(x))
        return 1.0 / (1.0 + self.xp.exp(-x))

    def relu(self, x: Any) -> Any:
        """`max(x, 0)`, keeping nan."""
        if not isinstance(x, self.array_type):
            return ieee.relu(float(x))
        return self.xp.where(x <= 0.0, 0.0, x)

    def native(self, name: str) -> Callable[[Any], Any]:
        """The library's own function for `name` (one of `_NATIVE`), taking numbers too."""
        f = getattr(self.xp, _NATIVE[name] if self.backend == "numpy" or name == "fabs" else name)
        safe = ieee.LIBRARY[name][1]
        array_type = self.array_type

        def apply(x: Any) -> Any:
            return f(x) if isinstance(x, array_type) else safe(float(x))

        apply.__name__ = name
        return apply

    def each(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` (a function of floats) applied to each example: the eager engine's numbers."""
        array_type = self.array_type

        def apply(*args: Any) -> Any:
            arrays = [a for a in args if isinstance(a, array_type)]
            if not arrays:
                return float(fn(*args))
            n = arrays[0].shape[0]
            columns = [
                a.tolist() if isinstance(a, array_type) and a.ndim else [float(a)] * n for a in args
            ]
            return self.vector([float(fn(*xs)) for xs in zip(*columns, strict=True)])

        apply.__name__ = getattr(fn, "__name__", "each")
        return apply

    def stack(self, rows: Sequence[Any], n: int) -> Any:
        """The rows (n-vectors or numbers, one per variable) as a matrix, one row each."""
        return self.xp.stack([self.full(r, n) for r in rows])

    def gradient(self, parts: Sequence[Any], positions: Any, count: int, unique: bool) -> Any:
        """The parameters' gradients from the pieces computed: `parts` are vectors whose
        entries belong to the parameters at `positions` (in order), added up per parameter."""
        flat = self.xp.concatenate([p.reshape(-1) for p in parts]) + 0.0  # no -0.0 sums
        if self.backend == "torch":
            out = self.xp.zeros(count, dtype=self.xp.float64, device=self.device)
            if unique:
                out[positions] = flat
            else:
                out.index_add_(0, positions, flat)
            return out.tolist()
        if unique:
            out = self.xp.zeros(count)
            out[positions] = flat
            return out.tolist()
        return self.xp.bincount(positions, weights=flat, minlength=count).tolist()

    def dot(self, x: Any, y: Any, n: int) -> Any:
        """The sum over the examples of `x * y` (one product of vectors when both vary)."""
        both = isinstance(x, self.array_type) and isinstance(y, self.array_type)
        if both and x.ndim == 1 and y.ndim == 1:
            return x @ y
        return self.full(x * y, n).sum()

    def sum(self, x: Any, n: int) -> Any:
        """The sum of `x` over the examples."""
        return self.full(x, n).sum()

    def sums(self, sums: Sequence[Any]) -> Any:
        """Sums over the examples (numbers, 0-d arrays) as one vector."""
        if self.backend == "torch":
            return self.xp.stack([self.xp.as_tensor(s, dtype=self.xp.float64) for s in sums])
        return self.xp.array(sums, dtype=self.xp.float64)

    def total(self, x: Any, n: int) -> float:
        """The sum of `x` over the `n` examples."""
        return float(self.full(x, n).sum())

    def failed(self, ok: Any, n: int) -> list[int]:
        """The examples (positions) where `ok` is false."""
        if not isinstance(ok, self.array_type):
            return [] if ok else list(range(n))
        if self.backend == "torch":
            return list(self.xp.nonzero(~ok).reshape(-1).tolist())
        return list(self.xp.flatnonzero(~ok).tolist())

    def quiet(self) -> Any:
        """A context in which floating-point warnings stay silent (IEEE results are meant)."""
        if self.backend == "numpy":
            return self.xp.errstate(all="ignore")
        import contextlib

        return contextlib.nullcontext()


def namespace(arrays: Arrays, primitives: Sequence[Any]) -> dict[str, Any]:
    """The globals of generated array code for `arrays` and the registered `primitives`.

    A primitive called inside a rule (`_pa_NAME`) is its forward expression on arrays,
    generated here by the same `emit` as every other line; a forward that is a Python
    function runs example by example (`_fa_NAME`).
    """
    from . import modules
    from .eager import library_name, primitive_name
    from .expressions import emit

    ns: dict[str, Any] = {
        "_where": arrays.where, "_not": arrays.logical_not, "_div": arrays.div,
        "_pow": arrays.pow, "_spow": arrays.scalar_pow, "_stack": arrays.stack,
        "_gradient": arrays.gradient, "_dot": arrays.dot, "_sum": arrays.sum, "_sums": arrays.sums,
        "_total": arrays.total, "_failed": arrays.failed, "_vector": arrays.vector,
        "_INF": math.inf, "_NAN": math.nan,
    }  # fmt: skip
    library = library_name("array")
    for name, (_, safe, _) in ieee.LIBRARY.items():
        ns[library(name)] = arrays.native(name) if name in _NATIVE else arrays.each(safe)
    ns[library("sign")], ns[library("sigmoid")] = arrays.sign, arrays.sigmoid
    ns[library("relu")] = arrays.relu
    primitive = primitive_name("array")
    for prim in primitives:
        if prim.forward_tree is None:
            ns[f"_fa_{prim.name}"] = ns[primitive(prim.name)] = arrays.each(prim.forward)
            continue
        inputs = ["x", "y"][: prim.arity]
        body = emit(prim.forward_tree, "array", {}, library)
        source = f"def {primitive(prim.name)}({', '.join(inputs)}):\n    return {body}\n"
        # the forward of a registered op, written by emit; its lines readable in tracebacks
        modules.load(source, f"<array forward of {prim.name}>", ns)
    return ns
