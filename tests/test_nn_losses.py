"""Tests for funcgrad.nn activations and losses: extreme logits, hand values, errors."""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn
from funcgrad.testing import check_grads

INF = np.inf


def np_softmax(z: Any) -> Any:
    """Reference in exact-ish float64 for moderate logits."""
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------
# softmax, log_softmax, logsumexp at extreme logits

EXTREME = np.array([
    [1000.0, 0.0, -1000.0],
    [1000.0, 1000.0, 1000.0],
    [-1000.0, -1000.0, -1000.0],
    [0.0, 0.0, 0.0],
    [1000.0, 999.0, -1000.0],
    [-1000.0, 1000.0, -1000.0],
])


def test_logsumexp_at_extreme_logits() -> None:
    lse = np.asarray(nn.logsumexp(EXTREME, axis=-1))
    log3 = math.log(3.0)
    expected = [1000.0, 1000.0 + log3, -1000.0 + log3, log3,
                1000.0 + math.log1p(math.exp(-1.0)), 1000.0]
    np.testing.assert_allclose(lse, expected, rtol=1e-15, atol=0)
    assert nn.logsumexp(EXTREME).shape == ()
    # over everything: six entries of 1000 and one of 999 dominate
    assert float(nn.logsumexp(EXTREME)) == pytest.approx(1000.0 + math.log(6 + math.exp(-1.0)),
                                                         rel=1e-15)
    kept = nn.logsumexp(EXTREME, axis=1, keepdims=True)
    assert kept.shape == (6, 1)
    np.testing.assert_allclose(np.asarray(kept)[:, 0], expected, rtol=1e-15)
    # along axis 0 as well
    col = np.asarray(nn.logsumexp(EXTREME, axis=0))
    np.testing.assert_allclose(col, [1000 + math.log(3.0), 1000 + math.log(2 + math.exp(-1.0)),
                                     1000.0], rtol=1e-15)


def test_softmax_and_log_softmax_at_extreme_logits() -> None:
    p = np.asarray(nn.softmax(EXTREME))
    logp = np.asarray(nn.log_softmax(EXTREME))
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(logp))
    third = 1.0 / 3.0
    e1 = 1.0 / (1.0 + math.exp(-1.0))
    expected = np.array([[1, 0, 0], [third] * 3, [third] * 3, [third] * 3,
                         [e1, 1 - e1, 0], [0, 1, 0]])
    # softmax is exp(log_softmax): a relative error of about |logit| * eps (1e-13 here)
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(logp[0], [0.0, -1000.0, -2000.0], rtol=1e-15)
    np.testing.assert_allclose(logp[1:4], -math.log(3.0), rtol=1e-12)
    np.testing.assert_allclose(logp[4], [-math.log1p(math.exp(-1.0)),
                                         -1.0 - math.log1p(math.exp(-1.0)),
                                         -2000.0 - math.log1p(math.exp(-1.0))], rtol=1e-12)
    np.testing.assert_allclose(logp[5], [-2000.0, 0.0, -2000.0], rtol=1e-15, atol=1e-300)
    # softmax along another axis
    np.testing.assert_allclose(np.asarray(nn.softmax(EXTREME.T, axis=0)), expected.T,
                               rtol=1e-12, atol=1e-300)


def test_gradients_at_extreme_logits_are_finite_and_right() -> None:
    w = np.array([1.0, 2.0, 3.0])

    # d/dz logsumexp(z) = softmax(z)
    g = fg.grad(lambda z: fnp.sum(nn.logsumexp(z, axis=-1)))(EXTREME)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, np_softmax(EXTREME), rtol=1e-12, atol=1e-300)
    # d/dz sum(w * log_softmax(z)) = w - sum(w) softmax(z)
    g = fg.grad(lambda z: fnp.sum(nn.log_softmax(z) * w))(EXTREME)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, w - 6.0 * np_softmax(EXTREME), rtol=1e-13, atol=1e-13)
    # d/dz sum(w * softmax(z)) = s * (w - s.w)
    s = np_softmax(EXTREME)
    g = fg.grad(lambda z: fnp.sum(nn.softmax(z) * w))(EXTREME)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, s * (w - (s * w).sum(-1, keepdims=True)), rtol=1e-13,
                               atol=1e-13)
    # second order stays finite too
    h = fg.grad(lambda z: fnp.sum(fg.grad(lambda u: fnp.sum(nn.logsumexp(u, axis=-1)))(z) * w))(
        EXTREME)
    assert np.all(np.isfinite(h))
    np.testing.assert_allclose(h, s * (w - (s * w).sum(-1, keepdims=True)), rtol=1e-13,
                               atol=1e-13)


def test_rows_with_minus_infinity() -> None:
    z = np.array([[0.0, -INF, 1.0], [-INF, 5.0, -INF]])
    e1 = 1.0 / (1.0 + math.exp(-1.0))
    np.testing.assert_allclose(np.asarray(nn.softmax(z)), np.array([[1 - e1, 0, e1], [0, 1, 0]]),
                               rtol=1e-15)
    logp = np.asarray(nn.log_softmax(z))
    np.testing.assert_allclose(logp[0, [0, 2]], [-1 - math.log1p(math.exp(-1.0)),
                                                 -math.log1p(math.exp(-1.0))], rtol=1e-15)
    assert logp[0, 1] == -INF and list(logp[1]) == [-INF, 0.0, -INF]
    np.testing.assert_allclose(np.asarray(nn.logsumexp(z, axis=-1)),
                               [1.0 + math.log1p(math.exp(-1.0)), 5.0], rtol=1e-15)
    # a -inf logit is an impossible class: its gradient is exactly zero, the rest finite
    g = fg.grad(lambda u: fnp.sum(nn.logsumexp(u, axis=-1)))(z)
    np.testing.assert_allclose(g, np.array([[1 - e1, 0, e1], [0, 1, 0]]), rtol=1e-15)
    # an all -inf row has logsumexp -inf, the log of an empty sum (numpy warns of log(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lse = np.asarray(nn.logsumexp(np.array([[-INF, -INF], [0.0, -INF]]), axis=-1))
    assert lse[0] == -INF and lse[1] == 0.0


def test_float32_logits_stay_float32_and_finite() -> None:
    z = EXTREME.astype(np.float32)
    for f in (nn.softmax, nn.log_softmax):
        out = f(z)
        assert out.dtype == np.float32 and np.all(np.isfinite(out))
    lse = nn.logsumexp(z, axis=-1)
    assert lse.dtype == np.float32
    np.testing.assert_allclose(np.asarray(lse), np.asarray(nn.logsumexp(EXTREME, axis=-1)),
                               rtol=1e-7)
    np.testing.assert_allclose(np.asarray(nn.softmax(z)), np_softmax(EXTREME), atol=1e-6)
    g = fg.grad(lambda u: nn.cross_entropy(u, np.arange(6) % 3))(z)
    assert g.dtype == np.float32 and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, (np_softmax(EXTREME) - np.eye(3)[np.arange(6) % 3]) / 6,
                               atol=1e-4)


def test_float32_softmax_accurate_to_float32_precision_at_large_logits() -> None:
    z = EXTREME.astype(np.float32)
    np.testing.assert_allclose(np.asarray(nn.softmax(z)), np_softmax(EXTREME), rtol=1e-6,
                               atol=1e-30)
    np.testing.assert_allclose(np.asarray(nn.log_softmax(z))[1:4], -math.log(3.0), rtol=1e-6)


@pytest.mark.parametrize("f", [nn.softmax, nn.log_softmax])
def test_softmax_family_check_grads(f: Any) -> None:
    z = np.random.default_rng(0).standard_normal((3, 5)) * 3.0
    check_grads(f, (z,), order=2)
    check_grads(lambda u: f(u, axis=0), (z,), order=2)
    check_grads(lambda u: nn.logsumexp(u, axis=1), (z,), order=2)
    check_grads(lambda u: nn.logsumexp(u), (z,), order=2)


def test_softmax_matches_reference_and_is_shift_invariant() -> None:
    z = np.random.default_rng(1).standard_normal((4, 7)) * 5.0
    np.testing.assert_allclose(np.asarray(nn.softmax(z)), np_softmax(z), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(nn.log_softmax(z)), np.log(np_softmax(z)),
                               rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(np.asarray(nn.softmax(z + 1234.5)), np_softmax(z), rtol=1e-11)


# ---------------------------------------------------------------------------------------
# sigmoid, relu, tanh


def test_sigmoid_at_plus_minus_1000() -> None:
    x = np.array([1000.0, -1000.0, 0.0, 2.0, -2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        s = np.asarray(nn.sigmoid(x))
        g = fg.grad(lambda u: fnp.sum(nn.sigmoid(u)))(x)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(g))
    e2 = 1.0 / (1.0 + math.exp(-2.0))
    np.testing.assert_allclose(s, [1.0, 0.0, 0.5, e2, 1.0 / (1.0 + math.exp(2.0))],
                               rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(g, [0.0, 0.0, 0.25, e2 * (1 - e2), e2 * (1 - e2)],
                               rtol=1e-14, atol=1e-300)
    s32 = nn.sigmoid(x.astype(np.float32))
    assert s32.dtype == np.float32 and np.all(np.isfinite(s32))
    assert fg.grad(lambda u: fnp.sum(nn.sigmoid(u)))(x.astype(np.float32)).dtype == np.float32
    check_grads(nn.sigmoid, (np.linspace(-4.0, 4.0, 9),), order=2)


def test_relu_and_its_derivative_at_zero() -> None:
    assert float(fg.grad(nn.relu)(0.0)) == 0.0
    assert float(fg.grad(nn.relu)(1.5)) == 1.0
    assert float(fg.grad(nn.relu)(-1.5)) == 0.0
    x = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    np.testing.assert_array_equal(np.asarray(nn.relu(x)), [0.0, 0.0, 0.0, 1e-300, 3.0])
    np.testing.assert_array_equal(fg.grad(lambda u: fnp.sum(nn.relu(u)))(x), [0, 0, 0, 1, 1])
    r32 = nn.relu(x.astype(np.float32))
    assert r32.dtype == np.float32
    # relu'' is zero away from 0
    assert float(fg.grad(fg.grad(nn.relu))(2.0)) == 0.0


def test_tanh() -> None:
    x = np.array([-1000.0, -1.0, 0.0, 0.5, 1000.0])
    np.testing.assert_allclose(np.asarray(nn.tanh(x)), np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(fg.grad(lambda u: fnp.sum(nn.tanh(u)))(x), 1 - np.tanh(x) ** 2,
                               rtol=1e-14)


# ---------------------------------------------------------------------------------------
# cross_entropy and one_hot


def test_cross_entropy_hand_computation() -> None:
    logits = np.array([[6.0, 5.0, 2.0, 3.0, 1.0]])
    # logsumexp = log(e^6 + e^5 + e^2 + e^3 + e^1) = 6.366530...
    lse = math.log(sum(math.exp(v) for v in (6.0, 5.0, 2.0, 3.0, 1.0)))
    assert lse == pytest.approx(6.366530, abs=1e-6)
    for label, expected in [(0, 0.366530), (1, 1.366530), (2, 4.366530), (3, 3.366530),
                            (4, 5.366530)]:
        ce = float(nn.cross_entropy(logits, np.array([label])))
        assert ce == pytest.approx(expected, abs=1e-6)
        assert ce == pytest.approx(lse - logits[0, label], rel=1e-15)


def test_cross_entropy_integer_labels_equal_one_hot_targets() -> None:
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((8, 5)) * 4.0
    labels = rng.integers(0, 5, 8)
    ce_int = float(nn.cross_entropy(logits, labels))
    ce_hot = float(nn.cross_entropy(logits, nn.one_hot(labels, 5, np.float64)))
    hand = float(np.mean([-math.log(np_softmax(logits[i])[labels[i]]) for i in range(8)]))
    assert ce_int == pytest.approx(hand, rel=1e-13)
    assert ce_hot == pytest.approx(hand, rel=1e-13)
    g_int = fg.grad(lambda z: nn.cross_entropy(z, labels))(logits)
    g_hot = fg.grad(lambda z: nn.cross_entropy(z, nn.one_hot(labels, 5, np.float64)))(logits)
    expected = (np_softmax(logits) - np.eye(5)[labels]) / 8
    np.testing.assert_allclose(g_int, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g_hot, expected, rtol=1e-12, atol=1e-15)
    # int32 labels and float32 one-hot targets too
    assert float(nn.cross_entropy(logits, labels.astype(np.int32))) == pytest.approx(hand,
                                                                                      rel=1e-13)
    assert float(nn.cross_entropy(logits, nn.one_hot(labels, 5))) == pytest.approx(hand,
                                                                                   rel=1e-6)


def test_cross_entropy_soft_targets() -> None:
    logits = np.array([[2.0, 0.0, -1.0]])
    target = np.array([[0.5, 0.25, 0.25]])
    logp = np.log(np_softmax(logits))
    assert float(nn.cross_entropy(logits, target)) == pytest.approx(-float(np.sum(target * logp)),
                                                                   rel=1e-14)
    g = fg.grad(lambda z: nn.cross_entropy(z, target))(logits)
    np.testing.assert_allclose(g, np_softmax(logits) - target, rtol=1e-13)


@pytest.mark.parametrize("label", [0, 1, 2])
def test_cross_entropy_grad_at_1000_0_minus_1000(label: int) -> None:
    logits = np.array([[1000.0, 0.0, -1000.0]])
    value = float(nn.cross_entropy(logits, np.array([label])))
    assert value == pytest.approx([0.0, 1000.0, 2000.0][label], abs=1e-12)
    g = fg.grad(lambda z: nn.cross_entropy(z, np.array([label])))(logits)
    assert np.all(np.isfinite(g))
    expected = np.array([[1.0, 0.0, 0.0]]) - np.eye(3)[label]
    np.testing.assert_allclose(g, expected, rtol=1e-15, atol=1e-300)
    # the same through one-hot targets
    g_hot = fg.grad(lambda z: nn.cross_entropy(z, np.eye(3)[[label]]))(logits)
    np.testing.assert_allclose(g_hot, expected, rtol=1e-15, atol=1e-300)


def test_cross_entropy_check_grads() -> None:
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((4, 6))
    labels = rng.integers(0, 6, 4)
    check_grads(lambda z: nn.cross_entropy(z, labels), (logits,), order=2)
    soft = np_softmax(rng.standard_normal((4, 6)))
    check_grads(nn.cross_entropy, (logits, soft), order=2)


def test_cross_entropy_shape_errors() -> None:
    def raises(message: str) -> Any:
        return pytest.raises(ValueError, match=re.escape(message))

    with raises("cross_entropy: integer labels must have shape () for logits of shape (5,) "
                "(classes on axis -1), got (1,)"):
        nn.cross_entropy(np.ones(5), np.array([1]))
    with raises("cross_entropy: integer labels must have shape (2,) for logits of shape (2, 5) "
                "(classes on axis -1), got (1,)"):
        nn.cross_entropy(np.ones((2, 5)), np.array([1]))
    with raises("cross_entropy: integer labels must have shape (2,) for logits of shape (2, 5) "
                "(classes on axis -1), got (2, 1)"):
        nn.cross_entropy(np.ones((2, 5)), np.array([[1], [2]]))
    with raises("cross_entropy: integer labels must have shape (5,) for logits of shape (2, 5) "
                "(classes on axis 0), got (2,)"):
        nn.cross_entropy(np.ones((2, 5)), np.array([1, 0]), axis=0)
    with raises("cross_entropy: target probabilities must have the shape of logits (2, 5), "
                "got (2, 4)"):
        nn.cross_entropy(np.ones((2, 5)), np.ones((2, 4)))
    with raises("cross_entropy: axis 2 is out of range for logits of shape (2, 5)"):
        nn.cross_entropy(np.ones((2, 5)), np.array([1, 0]), axis=2)
    with raises("cross_entropy: axis -1 is out of range for logits of shape ()"):
        nn.cross_entropy(np.float64(1.0), np.array(0))
    with raises("cross_entropy: labels must lie in [0, 5) for 5 classes, got 5"):
        nn.cross_entropy(np.ones((2, 5)), np.array([1, 5]))
    with raises("cross_entropy: labels must lie in [0, 5) for 5 classes, got -1"):
        nn.cross_entropy(np.ones((2, 5)), np.array([-1, 0]))
    with raises("cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        # (the error under test)
        nn.cross_entropy(np.ones((2, 5)), np.array([1, 0]), reduction="avg")  # type: ignore[arg-type]
    with raises("cross_entropy: label_smoothing must lie in [0, 1], got 1.5"):
        nn.cross_entropy(np.ones((2, 5)), np.array([1, 0]), label_smoothing=1.5)
    with raises("nll: integer labels must have shape (2,) for log_probs of shape (2, 5) "
                "(classes on axis -1), got (3,)"):
        nn.nll(np.ones((2, 5)), np.array([1, 0, 2]))
    # and under grad
    with raises("got (3,)"):
        fg.grad(lambda z: nn.cross_entropy(z, np.array([0, 1, 2])))(np.ones((2, 5)))


def test_one_hot() -> None:
    oh = nn.one_hot(np.array([2, 0, 1, 2]), 3)
    assert oh.dtype == np.float32
    np.testing.assert_array_equal(oh, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(nn.one_hot(np.array([2]), 3), [[0, 0, 1]])
    assert nn.one_hot(np.array([1]), 4, np.float64).dtype == np.float64
    batch = nn.one_hot(np.array([[0, 3], [2, 1]]), 4)
    assert batch.shape == (2, 2, 4)
    np.testing.assert_array_equal(batch[1, 0], [0, 0, 1, 0])
    np.testing.assert_array_equal(np.asarray(batch).argmax(-1), [[0, 3], [2, 1]])
    np.testing.assert_array_equal(np.asarray(nn.one_hot(np.arange(5), 5)), np.eye(5))


def test_mse() -> None:
    p = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = np.array([[1.0, 0.0], [0.0, 4.0]])
    assert float(nn.mse(p, t)) == pytest.approx((0 + 4 + 9 + 0) / 4, rel=1e-15)
    np.testing.assert_allclose(fg.grad(nn.mse)(p, t), 2 * (p - t) / 4, rtol=1e-15)


# ---------------------------------------------------------------------------------------
# reductions, label smoothing, nll, regression losses, binary cross-entropy


def test_reductions_of_cross_entropy() -> None:
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    labels = np.array([0, 2])
    each = [-math.log(np_softmax(logits[0])[0]), math.log(3.0)]
    np.testing.assert_allclose(np.asarray(nn.cross_entropy(logits, labels, reduction="none")),
                               each, rtol=1e-15)
    assert float(nn.cross_entropy(logits, labels, reduction="sum")) == pytest.approx(
        sum(each), rel=1e-15)
    assert float(nn.cross_entropy(logits, labels)) == pytest.approx(sum(each) / 2, rel=1e-15)
    # any number of batch axes, classes on any axis
    z = np.random.default_rng(4).standard_normal((2, 5, 3))
    y = np.random.default_rng(5).integers(0, 5, (2, 3))
    each3 = -np.take_along_axis(np.log(np_softmax(np.moveaxis(z, 1, -1))), y[..., None], -1)[..., 0]
    np.testing.assert_allclose(np.asarray(nn.cross_entropy(z, y, axis=1, reduction="none")),
                               each3, rtol=1e-13)
    # a single example: 1-d logits and a scalar label
    assert float(nn.cross_entropy(logits[0], np.array(0))) == pytest.approx(each[0], rel=1e-15)


def test_label_smoothing_by_hand() -> None:
    # two classes, smoothing 0.2: the targets become (0.9, 0.1) for label 0
    logits = np.array([[math.log(3.0), 0.0]])  # softmax (3/4, 1/4)
    expected = -(0.9 * math.log(0.75) + 0.1 * math.log(0.25))
    assert float(nn.cross_entropy(logits, np.array([0]), label_smoothing=0.2)) == pytest.approx(
        expected, rel=1e-15)
    # the same through the targets, and soft targets are smoothed too
    assert float(nn.cross_entropy(logits, np.array([[1.0, 0.0]]), label_smoothing=0.2)
                 ) == pytest.approx(expected, rel=1e-15)
    soft = -(0.7 * math.log(0.75) + 0.3 * math.log(0.25))  # (0.75, 0.25) -> (0.7, 0.3)
    assert float(nn.cross_entropy(logits, np.array([[0.75, 0.25]]), label_smoothing=0.2)
                 ) == pytest.approx(soft, rel=1e-15)
    # d/dz = softmax - smoothed target
    g = fg.grad(lambda z: nn.cross_entropy(z, np.array([0]), label_smoothing=0.2))(logits)
    np.testing.assert_allclose(g, [[0.75 - 0.9, 0.25 - 0.1]], rtol=1e-14)
    check_grads(lambda z: nn.cross_entropy(z, np.array([1]), label_smoothing=0.3), (logits,),
                order=2)


def test_nll_of_log_probabilities() -> None:
    logp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.6, 0.3]]))
    labels = np.array([1, 2])
    assert float(nn.nll(logp, labels)) == pytest.approx(-(math.log(0.25) + math.log(0.3)) / 2,
                                                       rel=1e-15)
    np.testing.assert_allclose(np.asarray(nn.nll(logp, labels, reduction="none")),
                               [-math.log(0.25), -math.log(0.3)], rtol=1e-15)
    g = fg.grad(lambda lp: nn.nll(lp, labels, reduction="sum"))(logp)
    np.testing.assert_array_equal(g, [[0, -1, 0], [0, 0, -1]])
    # nll(log_softmax(z)) is cross_entropy(z)
    z = np.random.default_rng(6).standard_normal((4, 3))
    y = np.array([0, 2, 1, 1])
    assert float(nn.nll(nn.log_softmax(z), y)) == pytest.approx(float(nn.cross_entropy(z, y)),
                                                               rel=1e-15)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the 0 * -inf not taken
def test_a_minus_inf_logit_with_zero_target_adds_nothing() -> None:
    logits = np.array([[0.0, -INF, 0.0]])
    assert float(nn.cross_entropy(logits, np.array([[0.5, 0.0, 0.5]]))) == pytest.approx(
        math.log(2.0), rel=1e-15)
    assert float(nn.cross_entropy(logits, np.array([2]))) == pytest.approx(math.log(2.0),
                                                                           rel=1e-15)
    g = fg.grad(lambda z: nn.cross_entropy(z, np.array([[0.5, 0.0, 0.5]])))(logits)
    np.testing.assert_array_equal(g, [[0.0, 0.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_classification_losses_at_logits_of_1e4(dtype: Any) -> None:
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, 1e4]], dtype)
    labels = np.array([2, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ce, g = fg.value_and_grad(lambda z: nn.cross_entropy(z, labels, label_smoothing=0.1,
                                                             reduction="sum"))(logits)
        x = np.array([1e4, -1e4, 1e4, -1e4], dtype)
        t = np.array([1.0, 0.0, 0.0, 1.0], dtype)
        bce = nn.binary_cross_entropy_with_logits(x, t, reduction="none")
        gb = fg.grad(lambda u: nn.binary_cross_entropy_with_logits(u, t, reduction="sum"))(x)
        gg = fg.grad(lambda u: fg.grad(lambda v: nn.binary_cross_entropy_with_logits(v, t))(u)
                     .sum())(x)
    assert ce.dtype == g.dtype == bce.dtype == gb.dtype == gg.dtype == dtype
    # -log p of the label is 2e4 and 2e4; smoothing mixes in the mean of -log p: 1e4 and
    # (2e4 + 2e4 + 0) / 3
    expected = 0.9 * 4e4 + 0.1 * (1e4 + 4e4 / 3)
    assert float(ce) == pytest.approx(expected, rel=1e-6)
    smoothed = 0.9 * np.eye(3)[labels] + 0.1 / 3
    np.testing.assert_allclose(g, np.array([[1, 0, 0], [0, 0, 1]]) - smoothed, rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(np.asarray(bce), [0.0, 0.0, 1e4, 1e4], rtol=1e-7)
    np.testing.assert_allclose(gb, [0.0, 0.0, 1.0, -1.0], atol=1e-7)
    np.testing.assert_array_equal(gg, 0.0)


def test_binary_cross_entropy_with_logits_by_hand() -> None:
    x = np.array([2.0, -1.0, 0.0])
    t = np.array([1.0, 0.25, 0.0])
    s = 1 / (1 + np.exp(-x))
    each = -(t * np.log(s) + (1 - t) * np.log(1 - s))
    np.testing.assert_allclose(
        np.asarray(nn.binary_cross_entropy_with_logits(x, t, reduction="none")), each,
        rtol=1e-15)
    np.testing.assert_allclose(fg.grad(nn.binary_cross_entropy_with_logits)(x, t), (s - t) / 3,
                               rtol=1e-14)
    check_grads(nn.binary_cross_entropy_with_logits, (x, t), order=2)


def test_regression_losses_by_hand() -> None:
    p = np.array([[1.0, 2.0], [3.0, -4.0]])
    t = np.array([[1.0, 0.0], [0.5, -4.5]])
    d = p - t  # 0, 2, 2.5, 0.5
    assert float(nn.mse(p, t, reduction="sum")) == pytest.approx(4 + 6.25 + 0.25, rel=1e-15)
    assert float(nn.l1(p, t)) == pytest.approx(5.0 / 4, rel=1e-15)
    np.testing.assert_array_equal(np.asarray(nn.l1(p, t, reduction="none")), np.abs(d))
    # huber, delta 1: 0, 2 - 1/2, 2.5 - 1/2, 0.5^2/2
    np.testing.assert_allclose(np.asarray(nn.huber(p, t, reduction="none")),
                               [[0, 1.5], [2.0, 0.125]], rtol=1e-15)
    # delta 3: all quadratic
    np.testing.assert_allclose(np.asarray(nn.huber(p, t, 3.0, reduction="none")), d ** 2 / 2,
                               rtol=1e-15)
    # gradients: clip(d, -delta, delta) for huber, sign(d) for l1 (0 at 0)
    np.testing.assert_allclose(fg.grad(lambda q: nn.huber(q, t, reduction="sum"))(p),
                               np.clip(d, -1, 1), rtol=1e-15)
    np.testing.assert_array_equal(fg.grad(lambda q: nn.l1(q, t, reduction="sum"))(p), np.sign(d))
    # float32 stays float32
    p32, t32 = p.astype(np.float32), t.astype(np.float32)
    for loss in (nn.mse, nn.l1, nn.huber):
        assert loss(p32, t32).dtype == np.float32
        assert fg.grad(loss)(p32, t32).dtype == np.float32


def test_loss_errors_name_the_arguments() -> None:
    def raises(message: str) -> Any:
        return pytest.raises(ValueError, match=re.escape(message))

    with raises("mse: predictions and targets must have the same shape, got (3, 1) and (3,)"):
        nn.mse(np.ones((3, 1)), np.ones(3))
    with raises("huber: predictions and targets must have the same shape, got (2,) and (3,)"):
        nn.huber(np.ones(2), np.ones(3))
    with raises("huber: delta must be positive, got 0.0"):
        nn.huber(np.ones(2), np.ones(2), 0.0)
    with raises("l1: reduction must be 'mean', 'sum' or 'none', got 'max'"):
        nn.l1(np.ones(2), np.ones(2), reduction="max")  # type: ignore[arg-type]  # under test
    with raises("binary_cross_entropy_with_logits: logits and targets must have the same "
                "shape, got (4,) and (4, 1)"):
        nn.binary_cross_entropy_with_logits(np.ones(4), np.ones((4, 1)))
