"""`compile(..., backend="numpy" | "torch")`: `backward_batch` on arrays over the examples.

The oracles are the eager engine (each example on fresh Values, gradients by `grad`) and
the per-example compiled code (`backend="python"`): every backend's value and gradients
must equal their sums over the batch to 1e-12 relative to the sum of the magnitudes added
(the batch adds in another order), inf and nan alike. Examples whose comparisons come out
otherwise than while tracing run eagerly and are counted in `fallbacks`. The torch tests
use `torch_extra.torch_or_skip()`, so under MICROGRADX_REQUIRE_TORCH=1 they fail instead of
skipping.
"""

from __future__ import annotations

import math
import random
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import torch_extra
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compile_differential import Program, load, number, point, programs, summed
from test_compile_guards import eager

from microgradx import Value, compile, defprim, grad
from microgradx.compile import TraceError
from microgradx.nn import MLP

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import engines

inf, nan = math.inf, math.nan
BACKENDS = [("numpy", False), ("numpy", True), ("torch", False), ("torch", True)]
IDS = ["numpy", "numpy-matmul", "torch", "torch-matmul"]


def backend(kind: str) -> None:
    """Skip (or, in CI, fail) a torch case where torch is missing."""
    if kind == "torch":
        torch_extra.torch_or_skip()
    else:
        pytest.importorskip("numpy")


def eager_sums(fn: Any, params: tuple[Value, ...], columns: list[list[Any]]) -> list[list[float]]:
    """Per example: [value, *parameter gradients] by the eager engine."""
    rows = []
    for example in zip(*columns, strict=True):
        value, dp, _ = eager(fn, params, *example)
        rows.append([value, *dp])
    return rows


def assert_batch(c: Any, fn: Any, columns: list[list[Any]], reduction: str = "sum") -> None:
    """`c.backward_batch` gives the eager sums (and the python backend's numbers)."""
    want = eager_sums(fn, c.params, columns)
    n = len(want)
    scale = 1.0 / n if reduction == "mean" else 1.0
    for q in c.params:
        q.grad = None
    total = c.backward_batch(*columns, reduction=reduction)
    got = [q.grad for q in c.params]
    reference = compile(fn, *(col[0] for col in columns))
    for q in c.params:
        q.grad = None
    ref_total = reference.backward_batch(*columns, reduction=reduction)
    ref = [q.grad for q in c.params]
    assert summed([w[0] * scale for w in want], total), (total, ref_total)
    assert summed([w[0] * scale for w in want], ref_total)
    for i in range(len(c.params)):
        terms = [w[1 + i] * scale for w in want]
        assert summed(terms, got[i]), (i, got[i], ref[i])
        assert summed(terms, ref[i])
    assert c.fallbacks == reference.fallbacks  # the same examples branched otherwise


def moons_model() -> MLP:
    random.seed(1337)
    return MLP(2, engines.SIZES)


@pytest.mark.parametrize(("kind", "matmul"), BACKENDS, ids=IDS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_moons_model_equals_eager_and_the_per_example_code(
    kind: str, matmul: bool, reduction: str
) -> None:
    backend(kind)
    model = moons_model()
    xs, y = engines.moons(60)
    xs[3], xs[7], xs[11] = [inf, 0.5], [nan, 1.0], [1e300, -1e300]  # inf and nan in some

    def hinge(x: Any, yi: Any) -> Value:
        return (1 + -yi * model(x)).relu()

    c = compile(hinge, xs[0], y[0], backend=kind, matmul=matmul)
    assert (c.backend, c.matmul) == (kind, matmul)
    assert_batch(c, hinge, [xs, y], reduction)
    assert c.fallbacks == 0 and not c.guards
    grads = [q.grad for q in c.params]
    assert any(math.isnan(g) for g in grads) and not all(math.isnan(g) for g in grads)


@pytest.mark.parametrize(("kind", "matmul"), BACKENDS, ids=IDS)
def test_training_steps_read_the_changed_parameters(kind: str, matmul: bool) -> None:
    backend(kind)
    model, reference = moons_model(), moons_model()
    xs, y = engines.moons(40)
    fast = compile(
        lambda x, yi: (1 + -yi * model(x)).relu(), xs[0], y[0], backend=kind, matmul=matmul
    )
    slow = compile(lambda x, yi: (1 + -yi * reference(x)).relu(), xs[0], y[0])
    for k in range(3):
        for m, c in ((model, fast), (reference, slow)):
            m.zero_grad()
            c.backward_batch(xs, y)
            for p in m.parameters():
                p.data -= engines.lr(k) * p.grad
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert math.isclose(p.data, q.data, rel_tol=1e-12, abs_tol=1e-15)


def test_matmul_writes_one_product_per_layer() -> None:
    pytest.importorskip("numpy")
    model = moons_model()
    c = compile(lambda x, yi: (1 + -yi * model(x)).relu(), [0.5, 0.5], 1, backend="numpy")
    source = c.batch_source
    assert [line.split("=")[0].strip() for line in source.splitlines() if " @ X" in line] == [
        "Z0", "Z1", "Z2", "dW2", "dW1", "dW0"  # backward: the last layer first
    ]  # fmt: skip
    assert "W1 = _P[_iW1].reshape(16, 16)" in source and "dX1 = W1.T @ dZ1" in source
    plain = compile(lambda x, yi: (1 + -yi * model(x)).relu(), [0.5, 0.5], 1, backend="numpy",
                    matmul=False)  # fmt: skip
    assert " @ X" not in plain.batch_source and "_where(" in plain.batch_source


@pytest.mark.parametrize(("kind", "matmul"), [("python", False), *BACKENDS], ids=["python", *IDS])
def test_array_columns_give_the_numbers_of_list_columns(kind: str, matmul: bool) -> None:
    if kind != "python":
        backend(kind)
    np = pytest.importorskip("numpy")
    model = moons_model()
    xs, y = engines.moons(30)
    xs[3] = [inf, 0.5]
    options: dict[str, Any] = {} if kind == "python" else {"backend": kind, "matmul": matmul}
    c = compile(lambda x, yi: (1 + -yi * model(x)).relu(), xs[0], y[0], **options)
    got = []
    for columns in ((xs, y), (np.array(xs), np.array(y)), (np.array(xs), np.array(y, float))):
        model.zero_grad()
        total = c.backward_batch(*columns)
        got.append([repr(v) for v in (total, *(p.grad for p in model.parameters()))])
    assert got[1] == got[0] and got[2] == got[0]  # the same numbers, to the bit (nan too)
    assert sum(v != "0.0" for v in got[0]) > 100  # gradients did arrive


ALL = [("python", False), *BACKENDS]
ALL_IDS = ["python", *IDS]


def options(kind: str, matmul: bool) -> dict[str, Any]:
    """compile's keywords for a backend (skipping, or failing in CI, without its library)."""
    if kind == "python":
        return {}
    backend(kind)
    return {"backend": kind, "matmul": matmul}


@pytest.mark.parametrize(("kind", "matmul"), ALL, ids=ALL_IDS)
def test_a_rule_that_comes_out_a_number_for_the_whole_batch(kind: str, matmul: bool) -> None:
    np = pytest.importorskip("numpy")
    w = Value(0.5)

    def f(x: Value) -> Value:  # pow's rule at exponent 0 is the number 0.0, not an array
        return (w * x) ** 0 + w * x

    c = compile(f, 1.0, **options(kind, matmul))
    for column in ([1.0, 2.0], np.array([1.0, 2.0])):
        w.grad = None
        assert c.backward_batch(column, reduction="sum") == 3.5
        assert w.grad == 3.0


@pytest.mark.parametrize(("kind", "matmul"), ALL, ids=ALL_IDS)
def test_a_fallback_adds_the_gradient_of_a_parameter_only_its_branch_reads(
    kind: str, matmul: bool
) -> None:
    w, u = Value(0.5), Value(-1.5)

    def f(x: Value) -> Value:
        t = w * x
        return t if t > 0 else t * u  # u is read only when t <= 0: not while tracing

    c = compile(f, 1.0, **options(kind, matmul))
    assert c.params == (w,)
    assert c.backward_batch([1.0, -2.0], reduction="sum") == 2.0
    eager_loss = f(Value(1.0)) + f(Value(-2.0))
    want = grad(eager_loss, [w, u])
    assert (w.grad, u.grad, c.fallbacks) == (want[0].data, want[1].data, 1) == (4.0, -1.0, 1)
    w.grad = u.grad = None
    assert c.backward(-2.0) == 1.5 and (w.grad, u.grad) == (3.0, -1.0)
    assert c.value_and_grad(-2.0) == (1.5, [3.0], [-0.75])  # the traced parameters only


@pytest.mark.parametrize(("kind", "matmul"), ALL, ids=ALL_IDS)
def test_columns_of_other_number_types_give_eagers_numbers(kind: str, matmul: bool) -> None:
    np = pytest.importorskip("numpy")
    w = Value(0.5)
    c = compile(lambda x: w * x, 1.0, **options(kind, matmul))
    columns: list[Any] = [[np.float64(1.0), 2.0], [1, 2], np.array([1, 2], dtype=object)]
    if kind == "torch":
        import torch

        columns += [torch.tensor([1.0, 2.0], requires_grad=True)]
        columns += [torch.tensor([1.0, 2.0], dtype=torch.bfloat16)]
    for column in columns:
        w.grad = None
        assert (c.backward_batch(column, reduction="sum"), w.grad) == (1.5, 3.0), column
    w.grad = None
    assert c.backward_batch([10**400, 1], reduction="sum") == inf  # as Value(10**400)
    assert w.grad == inf == (w * Value(10**400)).data
    pair = compile(lambda x: w * x[0] + w * x[1], [1.0, 1.0], **options(kind, matmul))
    w.grad = None
    assert (
        pair.backward_batch(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=object), reduction="sum")
        == 5.0
    )
    assert w.grad == 10.0


@pytest.mark.parametrize(("kind", "matmul"), ALL, ids=ALL_IDS)
def test_tanh_near_one_gives_eagers_gradient(kind: str, matmul: bool) -> None:
    w = Value(1.0)
    c = compile(lambda x: (w * x).tanh(), 1.0, **options(kind, matmul))
    xs = [17.0 + 0.01 * i for i in range(211)]  # where 1 - tanh(x)**2 is a few ulps of 1
    c.backward_batch(xs, reduction="sum")
    want = [grad((w * x).tanh(), [w])[0].data for x in xs]
    assert summed(want, w.grad)


def test_a_layers_activation_runs_once_on_its_matrix() -> None:
    pytest.importorskip("numpy")
    model = moons_model()
    c = compile(lambda x, yi: (1 + -yi * model(x)).relu(), [0.5, 0.5], 1, backend="numpy")
    source = c.batch_source
    for line in (
        "H0 = _where(Z0 < 0.0, 0.0, Z0)",
        "X1 = H0",
        "X2 = H1",
        "dZ1 = _where(H1 <= 0.0, 0.0, dX2)",
        "dZ0 = _where(H0 <= 0.0, 0.0, dX1)",
    ):
        assert f"    {line}\n" in source, line
    assert source.count("_where(") == 6  # two per hidden layer, two for the hinge
    assert "dX1_0" not in source and "_stack([v" not in source


@pytest.mark.parametrize(("kind", "matmul"), BACKENDS, ids=IDS)
@pytest.mark.parametrize("nonlin", ["relu", "tanh", "sigmoid", "exp", "abs", "sign", "sqrt"])
def test_activations_on_a_whole_layer_give_eager_numbers(kind: str, matmul: bool, nonlin: str):
    backend(kind)
    rng = random.Random(7)
    w1 = [[Value(rng.uniform(-1, 1)) for _ in range(3)] for _ in range(4)]
    b1 = [Value(rng.uniform(-1, 1)) for _ in range(4)]
    w2 = [Value(rng.uniform(-1, 1)) for _ in range(4)]
    b2 = Value(0.25)
    method = "__abs__" if nonlin == "abs" else nonlin

    def f(x0: Value, x1: Value, x2: Value) -> Value:
        xs = [x0, x1, x2]
        sums = [
            sum((w * x for w, x in zip(ws, xs, strict=True)), b)
            for ws, b in zip(w1, b1, strict=True)
        ]
        hidden = [getattr(s, method)() for s in sums]
        return sum((w * h for w, h in zip(w2, hidden, strict=True)), b2) * 0.5

    cols = [[0.5, -2.0, 0.0, inf, 3.0, -0.0, 1e300], [0.25, 1.0, -0.0, 1.0, nan, 2.0, -1e300],
            [1.0, -1.0, 1.0, 0.0, 1.0, 5e-324, 2.0]]  # fmt: skip
    c = compile(f, 1.0, 1.0, 1.0, backend=kind, matmul=matmul)
    assert_batch(c, f, cols)
    # one op on the matrix instead of one per neuron, where its rules are element-wise
    # array code that reads the gradient (abs's calls the primitive sign; sign's is 0)
    # (tanh runs example by example: NumPy's tanh is not math.tanh to the last bit)
    assert ("X1 = H0" in c.batch_source) == (matmul and nonlin not in ("abs", "sign", "tanh"))


@pytest.mark.parametrize(("kind", "matmul"), BACKENDS, ids=IDS)
def test_an_activation_read_elsewhere_too_stays_per_row(kind: str, matmul: bool) -> None:
    backend(kind)
    w = [[Value(0.5 - 0.25 * (i + j)) for j in range(2)] for i in range(3)]
    u = [Value(1.0 - 0.5 * i) for i in range(3)]

    def f(x0: Value, x1: Value) -> Value:
        hidden = [(ws[0] * x0 + ws[1] * x1).relu() for ws in w]
        out = sum(ui * h for ui, h in zip(u, hidden, strict=True))
        return out + hidden[1] * hidden[1]  # the second neuron is read again

    cols = [[1.0, -2.0, 0.0, inf, 3.0], [0.5, 0.25, -0.0, 1.0, nan]]
    c = compile(f, 1.0, 1.0, backend=kind, matmul=matmul)
    assert_batch(c, f, cols)
    assert "X1 = H0" not in c.batch_source


@pytest.mark.parametrize(("kind", "matmul"), BACKENDS, ids=IDS)
def test_sums_of_products_that_are_not_a_whole_layer(kind: str, matmul: bool) -> None:
    backend(kind)
    w = [Value(0.5 + i) for i in range(6)]
    b = Value(-1.0)

    def f(x1: Value, x2: Value, x3: Value) -> Value:
        shared = w[0] * x1 + w[1] * x2  # no bias; used twice
        row = b + w[2] * x1 + w[3] * x2 + w[0] * x3  # w[0] twice, in two sums
        start = (x3 * 2.0 + w[4] * x1) + w[5] * x2  # starts from a value, not a parameter
        return shared * row + shared.tanh() + start.exp() * 0.01 + w[1] * w[1]

    cols = [[1.0, -2.0, 0.0, inf, 3.0], [0.5, 0.25, -0.0, 1.0, nan], [2.0, 1.0, 1.0, 0.0, 1.0]]
    c = compile(f, 1.0, 1.0, 1.0, backend=kind, matmul=matmul)
    assert_batch(c, f, cols)
    if matmul:
        assert "@ X" in c.batch_source


@pytest.mark.parametrize(("kind", "matmul"), BACKENDS, ids=IDS)
def test_examples_that_branch_otherwise_run_eagerly_and_are_counted(kind: str, matmul: bool):
    backend(kind)
    w = Value(1.5)

    def f(x: Value, y: Value) -> Value:
        if x > y:
            return (w * x).log() + max(x, w)
        return w * y - abs(x).sqrt()

    cols = [[2.0, -1.0, 3.0, 0.0, nan, inf, 5.0], [1.0, 4.0, 1.0, 0.0, 1.0, 2.0, 6.0]]
    c = compile(f, 2.0, 1.0, backend=kind, matmul=matmul)
    assert_batch(c, f, cols)
    # traced with x > y and x > w: the other examples ran eagerly
    assert c.fallbacks == 4
    assert c.guards
    c.fallbacks = 0
    c.backward_batch([2.0, 3.0], [1.0, 1.0])
    assert c.fallbacks == 0


def test_every_op_and_library_function_example_by_example() -> None:
    pytest.importorskip("numpy")
    w = Value(0.75)
    name = f"op_{uuid.uuid4().hex[:8]}"
    gam = defprim(f"g{name}", "lgamma(x) + erf(x)", "g * sign(x)")  # no array version
    plain = defprim(f"p{name}", lambda t: t * t if t > 0 else -t, "g * 2 * x")

    def f(x: Value) -> Value:
        parts = [
            (w * x).exp(), (w + x).log(), abs(x).sqrt(), (x * w).tanh(), x.sigmoid(), x.sin(),
            x.cos(), abs(x - w), x.sign() * w, (w * x) ** 2, w ** x, x ** w, w / x, 2.0 / (x + w),
            (x - w).relu(), gam(w * x), plain(x * w), x ** -1, abs(x) ** 0.5, x ** 3,
        ]  # fmt: skip
        return sum(parts[1:], parts[0])

    cols = [[1.0, 0.0, -0.0, -1.0, 2.5, inf, -inf, nan, 1e-300, -3.0]]
    for kind in ("numpy", "torch"):
        if kind == "torch" and torch_extra.missing():
            continue
        c = compile(f, 1.0, backend=kind)
        assert_batch(c, f, cols)
        assert f"_fa_p{name}(" in c.batch_source  # a Python forward: example by example


@pytest.mark.parametrize(("kind", "matmul"), BACKENDS, ids=IDS)
def test_value_calls_use_the_per_example_code(kind: str, matmul: bool) -> None:
    backend(kind)
    w = Value(0.5)
    c = compile(lambda x: (w * x).relu() + x, 3.0, backend=kind, matmul=matmul)
    assert c(4.0) == 6.0 and c.value_and_grad(4.0) == (6.0, [4.0], [1.5])
    w.grad = 0.0
    assert c.backward(-4.0) == -4.0 and w.grad == 0.0


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c: c.backward_batch([1.0, 2.0], [1.0]), ValueError, "differ in length"),
        (lambda c: c.backward_batch([], []), ValueError, "empty"),
        (lambda c: c.backward_batch([1.0, "a"], [1.0, 2.0]), TypeError, "numbers"),
        (lambda c: c.backward_batch([1.0, Value(2.0)], [1.0, 2.0]), TypeError, "not Values"),
        (lambda c: c.backward_batch([[1.0], [2.0]], [1.0, 2.0]), ValueError, "do not match"),
        (lambda c: c.backward_batch([1.0, 2.0], [1.0, [2.0]]), ValueError, "do not match"),
        (lambda c: c.backward_batch([1.0], [2.0], reduction="max"), ValueError, "reduction"),
        (lambda c: c.backward_batch([1.0]), ValueError, "do not match"),
    ],
)
def test_bad_batches_are_refused_and_change_nothing(
    kind: str, call: Any, error: type, match: str
) -> None:
    backend(kind)
    w = Value(2.0)
    c = compile(lambda x, y: w * x + y, 1.0, 1.0, backend=kind)
    w.grad = 0.25
    with pytest.raises(error, match=match):
        call(c)
    assert w.grad == 0.25 and c.fallbacks == 0


def test_bad_backend_arguments_are_refused() -> None:
    f = lambda x: x * 2.0  # noqa: E731
    with pytest.raises(ValueError, match="unknown backend 'jax'; expected one of python, numpy"):
        compile(f, 1.0, backend="jax")
    with pytest.raises(ValueError, match="matmul=True needs"):
        compile(f, 1.0, matmul=True)
    with pytest.raises(ValueError, match="device= is for"):
        compile(f, 1.0, backend="numpy", device="cpu")
    with pytest.raises(TypeError, match="matmul must be"):
        compile(f, 1.0, backend="numpy", matmul="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="python backend"):
        _ = compile(f, 1.0).batch_source


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_a_missing_array_library_says_what_to_install(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, kind, None)  # import fails as if not installed
    with pytest.raises(ImportError, match=rf'pip install "microgradx\[{kind}\]"'):
        compile(lambda x: x * 2.0, 1.0, backend=kind)


def test_torch_device_and_float64() -> None:
    torch = torch_extra.torch_or_skip()
    w = Value(0.5)
    c = compile(lambda x: (w * x).exp(), 1.0, backend="torch", device=torch.device("cpu"))
    assert c.backward_batch([1.0, 2.0], reduction="sum") == math.exp(0.5) + math.exp(1.0)
    assert c._arrays is not None and c._arrays.device == torch.device("cpu")
    with pytest.raises(RuntimeError):
        compile(lambda x: x * 2.0, 1.0, backend="torch", device="no-such-device")


STATS: dict[str, int] = {}


def check_program(kind: str, program: Program, traced_at: Any, others: Any, w0: float) -> None:
    w = Value(w0)
    f = load(program, w)
    try:
        c = compile(f, *traced_at, backend=kind, matmul=True)
    except TraceError:
        return
    inputs = [traced_at, *others]
    cols = [[x for x, _ in inputs], [y for _, y in inputs]]
    assert_batch(c, f, cols)
    STATS["programs"] = STATS.get("programs", 0) + 1
    STATS["fell back"] = STATS.get("fell back", 0) + (c.fallbacks > 0)


@pytest.mark.parametrize(("kind", "count"), [("numpy", 150), ("torch", 50)])
def test_random_programs_equal_eager(kind: str, count: int) -> None:
    backend(kind)
    STATS.clear()

    @settings(
        max_examples=count,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(programs(), point, st.lists(point, min_size=12, max_size=12), number)
    def run(program: Program, traced_at: Any, others: Any, w0: float) -> None:
        check_program(kind, program, traced_at, others, w0)

    run()
    assert STATS["programs"] >= count // 2 and STATS["fell back"] >= count // 10
