"""Tests for microgradx.losses: values and gradients against independent formulas."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import autograd.numpy as anp
import pytest
from autograd import elementwise_grad
from hypothesis import given
from hypothesis import strategies as st
from micrograd.engine import Value as MgValue

from microgradx import Value, grad
from microgradx.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge,
    l2_penalty,
    log_softmax,
    mse,
    softmax,
)

finite = st.floats(-30, 30, allow_nan=False)


def test_mse_value_and_gradient() -> None:
    w = Value(2.0)
    loss = mse([w * 1.0, w * 2.0, w * -1.0], [1.0, 3.0, 0.5])
    expected = ((2 - 1) ** 2 + (4 - 3) ** 2 + (-2 - 0.5) ** 2) / 3
    assert loss.data == pytest.approx(expected, rel=1e-15)
    loss.backward()
    assert w.grad == pytest.approx((2 * 1 * 1 + 2 * 1 * 2 + 2 * -2.5 * -1) / 3, rel=1e-15)
    assert mse(Value(3.0), 1.0).data == 4.0  # a single prediction needs no list
    assert mse([1.0, 2.0], [0.0, 0.0], reduction="sum").data == 5.0


def test_hinge_matches_micrograd_demo_expression() -> None:
    scores = [0.3, -1.7, 2.5, 0.99, -0.2]
    labels = [1, 1, -1, 1, -1]
    ours = hinge([Value(s) for s in scores], labels)
    mg = [(1 + -y * MgValue(s)).relu() for y, s in zip(labels, scores, strict=True)]
    theirs = sum(mg) * (1.0 / len(mg))
    assert ours.data == theirs.data
    expected = sum(max(0.0, 1 - y * s) for s, y in zip(scores, labels, strict=True)) / 5
    assert ours.data == pytest.approx(expected, rel=1e-15)


def test_hinge_gradient() -> None:
    s = [Value(0.5), Value(2.0), Value(-0.5)]
    hinge(s, [1, 1, 1]).backward()
    # margin violated (1 - 0.5 > 0): d/ds = -1/3; satisfied: 0
    assert [v.grad for v in s] == [pytest.approx(-1 / 3), 0.0, pytest.approx(-1 / 3)]


def test_hinge_rejects_zero_one_labels() -> None:
    with pytest.raises(ValueError, match=r"labels must be -1 or \+1, got 0.0.*2 \* y - 1"):
        hinge([Value(1.0)], [0])


def _bce_reference(z: float, y: float) -> float:
    # log(1 + e^z) - z*y in 50-digit decimal arithmetic: an independent oracle
    with localcontext() as ctx:
        ctx.prec = 50
        dz = Decimal(z)
        return float((1 + dz.exp()).ln() - dz * Decimal(y))


@given(z=finite, y=st.sampled_from([0.0, 1.0, 0.25]))
def test_bce_with_logits_value_and_gradient(z: float, y: float) -> None:
    v = Value(z)
    loss = binary_cross_entropy_with_logits(v, y)
    assert loss.data == pytest.approx(_bce_reference(z, y), rel=1e-13, abs=1e-300)
    loss.backward()
    sigmoid = 1 / (1 + math.exp(-z))
    assert v.grad == pytest.approx(sigmoid - y, rel=1e-12, abs=1e-15)


def test_bce_with_logits_against_autograd() -> None:
    zs = [-8.0, -1.5, -0.1, 0.0, 0.3, 2.0, 9.0]
    ys = [0.0, 1.0, 0.5, 1.0, 0.0, 1.0, 0.0]

    def ref(z: anp.ndarray) -> anp.ndarray:
        return anp.logaddexp(0.0, z) - z * anp.array(ys)

    expected = elementwise_grad(ref)(anp.array(zs))
    values = [Value(z) for z in zs]
    binary_cross_entropy_with_logits(values, ys, reduction="sum").backward()
    for v, g in zip(values, expected, strict=True):
        assert v.grad == pytest.approx(float(g), rel=1e-13, abs=1e-16)


def test_bce_with_logits_is_stable_for_large_logits() -> None:
    for z, y, value, gradient in [
        (1000.0, 0.0, 1000.0, 1.0),
        (1000.0, 1.0, 0.0, 0.0),
        (-1000.0, 1.0, 1000.0, -1.0),
        (-1000.0, 0.0, 0.0, 0.0),
    ]:
        v = Value(z)
        loss = binary_cross_entropy_with_logits(v, y)
        loss.backward()
        assert loss.data == value
        assert v.grad == gradient


def test_bce_with_logits_derivatives_at_zero() -> None:
    z = Value(0.0)
    loss = binary_cross_entropy_with_logits(z, 1.0)
    assert loss.data == pytest.approx(math.log(2.0), rel=1e-15)
    (g,) = grad(loss, [z], create_graph=True)
    assert g.data == -0.5  # sigmoid(0) - 1: no kink at zero
    (h,) = grad(g, [z])
    assert h.data == pytest.approx(0.25, rel=1e-15)  # sigmoid'(0)


def test_bce_rejects_targets_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\], got -1.0"):
        binary_cross_entropy_with_logits([Value(1.0)], [-1])


@given(logits=st.lists(finite, min_size=2, max_size=5), data=st.data())
def test_cross_entropy_value_and_gradient(logits: list[float], data: st.DataObject) -> None:
    target = data.draw(st.integers(0, len(logits) - 1))
    values = [Value(x) for x in logits]
    loss = cross_entropy(values, target)
    m = max(logits)
    lse = m + math.log(sum(math.exp(x - m) for x in logits))
    assert loss.data == pytest.approx(lse - logits[target], rel=1e-12, abs=1e-14)
    loss.backward()
    probs = [math.exp(x - lse) for x in logits]
    for i, v in enumerate(values):
        assert v.grad == pytest.approx(probs[i] - (i == target), rel=1e-10, abs=1e-14)


def test_cross_entropy_large_logits_and_batches() -> None:
    row = [Value(1000.0), Value(0.0), Value(-1000.0)]
    loss = cross_entropy(row, 1)
    assert loss.data == 1000.0
    loss.backward()
    assert [v.grad for v in row] == [1.0, -1.0, 0.0]
    rows = [[Value(1.0), Value(2.0)], [Value(0.5), Value(-0.5)]]
    batch = cross_entropy(rows, [1, 0])
    each = [cross_entropy(r, t).data for r, t in zip(rows, [1, 0], strict=True)]
    assert batch.data == pytest.approx(sum(each) / 2, rel=1e-15)
    assert cross_entropy(rows, [1, 0], reduction="sum").data == pytest.approx(sum(each))


@pytest.mark.parametrize("m", [1e16, 1e10, 1000.0, 0.0, -1000.0, -1e300])
def test_equal_logits_give_log_2_however_large_they_are(m: float) -> None:
    # PyTorch float64 gives exactly these at every m: (logit - max) - log(sum), with the
    # max never added back (that cancelled: 0.0 at 1e16, 0.69314765... at 1e10)
    log2 = math.log(2.0)
    assert cross_entropy([m, m], 0).data == log2
    assert [v.data for v in log_softmax([m, m])] == [-log2, -log2]
    assert [v.data for v in softmax([m, m])] == [0.5, 0.5]
    row = [Value(m), Value(m)]
    cross_entropy(row, 0).backward()
    assert [v.grad for v in row] == [-0.5, 0.5]


def test_cross_entropy_errors() -> None:
    with pytest.raises(ValueError, match=r"targets\[0\] = 3 is not a class index in \[0, 2\)"):
        cross_entropy([Value(1.0), Value(2.0)], 3)
    with pytest.raises(TypeError, match=r"class index \(int\), got float"):
        cross_entropy([Value(1.0), Value(2.0)], 1.0)
    with pytest.raises(ValueError, match="2 rows of logits but 1 targets"):
        cross_entropy([[1.0, 2.0], [3.0, 4.0]], [0])
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        cross_entropy([1.0, 2.0], 0, reduction="none")


def test_softmax_and_log_softmax() -> None:
    p = softmax([Value(1.0), Value(2.0), Value(3.0)])
    assert sum(v.data for v in p) == pytest.approx(1.0, rel=1e-15)
    e = [math.exp(x) for x in (1.0, 2.0, 3.0)]
    assert [v.data for v in p] == pytest.approx([x / sum(e) for x in e], rel=1e-14)
    ls = log_softmax([800.0, 0.0])
    assert ls[0].data == 0.0
    assert ls[1].data == -800.0


def test_l2_penalty() -> None:
    ps = [Value(1.0), Value(-2.0), Value(0.5)]
    pen = l2_penalty(ps, 1e-4)
    assert pen.data == pytest.approx(1e-4 * (1 + 4 + 0.25), rel=1e-15)
    pen.backward()
    assert [p.grad for p in ps] == pytest.approx([2e-4, -4e-4, 1e-4], rel=1e-15)
    with pytest.raises(TypeError, match=r"params\[1\] must be a Value, got float"):
        l2_penalty([Value(1.0), 2.0])  # type: ignore[list-item]


def test_length_mismatch_and_bad_types() -> None:
    with pytest.raises(ValueError, match="2 predictions but 3 targets"):
        mse([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least one example"):
        mse([], [])
    with pytest.raises(TypeError, match="predictions must be a Value, a number or a sequence"):
        mse("abc", [1.0])
    with pytest.raises(TypeError, match="got str"):
        mse([1.0], ["a"])
