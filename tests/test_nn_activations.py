"""Tests for funcgrad.nn's activations: hand values and derivatives at the special points,
stability at +-1e4 (float32 and float64), JAX's values at +-inf and nan, and dtypes.

The shared case table (tests/cases/nn.py) checks each activation's values against a numpy
formula and its derivatives to second order by finite differences, under grad, jvp, vmap
and jit, in float64 and float32; the tests here cover what a table on random inputs cannot.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn

INF, NAN = np.inf, np.nan
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def gelu_tanh(x: float) -> float:
    return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_tanh_slope(x: float) -> float:
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
    du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x ** 2)
    return 0.5 * (1 + math.tanh(u)) + 0.5 * x * (1 - math.tanh(u) ** 2) * du


def phi(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def Phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


Fn = Callable[[Any], Any]
ACTIVATIONS: dict[str, Fn] = {
    "relu": nn.relu, "relu6": nn.relu6, "leaky_relu": nn.leaky_relu, "elu": nn.elu,
    "selu": nn.selu, "celu": nn.celu, "gelu": nn.gelu,
    "gelu_tanh": lambda x: nn.gelu(x, approximate=True), "silu": nn.silu,
    "softplus": nn.softplus, "log_sigmoid": nn.log_sigmoid, "softsign": nn.softsign,
    "hard_tanh": nn.hard_tanh, "sigmoid": nn.sigmoid, "tanh": nn.tanh,
}

# (x, f(x), f'(x)) by hand, at the kinks and a few ordinary points; the derivatives at the
# kinks are JAX's.
HAND: dict[str, list[tuple[float, float, float]]] = {
    "relu": [(0.0, 0.0, 0.0), (-2.0, 0.0, 0.0), (3.0, 3.0, 1.0)],
    "relu6": [(0.0, 0.0, 0.0), (6.0, 6.0, 0.0), (3.0, 3.0, 1.0), (7.0, 6.0, 0.0),
              (-1.0, 0.0, 0.0)],
    "leaky_relu": [(0.0, 0.0, 1.0), (-2.0, -0.02, 0.01), (3.0, 3.0, 1.0)],
    "elu": [(0.0, 0.0, 1.0), (-1.0, math.exp(-1) - 1, math.exp(-1)), (2.0, 2.0, 1.0)],
    "selu": [(0.0, 0.0, SELU_SCALE * SELU_ALPHA),
             (-1.0, SELU_SCALE * SELU_ALPHA * (math.exp(-1) - 1),
              SELU_SCALE * SELU_ALPHA * math.exp(-1)), (2.0, 2 * SELU_SCALE, SELU_SCALE)],
    # celu'(0) = 1: maximum and minimum share the tie, 1/2 + 1/2 exp(0)
    "celu": [(0.0, 0.0, 1.0), (-1.0, math.exp(-1) - 1, math.exp(-1)), (2.0, 2.0, 1.0)],
    "gelu": [(0.0, 0.0, 0.5), (1.0, Phi(1.0), Phi(1.0) + phi(1.0)),
             (-2.0, -2 * Phi(-2.0), Phi(-2.0) - 2 * phi(-2.0))],
    "gelu_tanh": [(0.0, 0.0, 0.5), (1.0, gelu_tanh(1.0), gelu_tanh_slope(1.0)),
                  (-2.0, gelu_tanh(-2.0), gelu_tanh_slope(-2.0))],
    "silu": [(0.0, 0.0, 0.5), (2.0, 2 * sig(2.0), sig(2.0) + 2 * sig(2.0) * sig(-2.0))],
    "softplus": [(0.0, math.log(2), 0.5), (-3.0, math.log1p(math.exp(-3)), sig(-3.0))],
    "log_sigmoid": [(0.0, -math.log(2), 0.5), (3.0, -math.log1p(math.exp(-3)), sig(-3.0))],
    "softsign": [(0.0, 0.0, 1.0), (3.0, 0.75, 1 / 16), (-1.0, -0.5, 0.25)],
    "hard_tanh": [(1.0, 1.0, 1.0), (-1.0, -1.0, 1.0), (0.5, 0.5, 1.0), (1.5, 1.0, 0.0),
                  (-3.0, -1.0, 0.0)],
    "sigmoid": [(0.0, 0.5, 0.25), (2.0, sig(2.0), sig(2.0) * sig(-2.0))],
    "tanh": [(0.0, 0.0, 1.0), (1.0, math.tanh(1.0), 1 - math.tanh(1.0) ** 2)],
}

HAND_PARAMS = [pytest.param(name, x, y, dy, id=f"{name}({x})")
               for name, rows in HAND.items() for x, y, dy in rows]


@pytest.mark.parametrize("name,x,y,dy", HAND_PARAMS)
def test_values_and_derivatives_by_hand(name: str, x: float, y: float, dy: float) -> None:
    f = ACTIVATIONS[name]
    assert float(f(x)) == pytest.approx(y, rel=1e-14, abs=1e-15)
    assert float(fg.grad(f)(x)) == pytest.approx(dy, rel=1e-14, abs=1e-15)


def test_every_activation_has_hand_values() -> None:
    assert set(HAND) == set(ACTIVATIONS)


def test_swish_is_silu() -> None:
    assert nn.swish is nn.silu


# ---------------------------------------------------------------------------- extremes

# f(x) at x = -1e4 and +1e4, by hand: the asymptotes, exact in float64 and float32.
BIG = 1e4
AT_BIG: dict[str, tuple[float, float]] = {
    "relu": (0.0, BIG), "relu6": (0.0, 6.0), "leaky_relu": (-100.0, BIG),
    "elu": (-1.0, BIG), "selu": (-SELU_SCALE * SELU_ALPHA, SELU_SCALE * BIG),
    "celu": (-1.0, BIG), "gelu": (-0.0, BIG), "gelu_tanh": (-0.0, BIG), "silu": (-0.0, BIG),
    "softplus": (0.0, BIG), "log_sigmoid": (-BIG, 0.0),
    "softsign": (-BIG / (BIG + 1), BIG / (BIG + 1)), "hard_tanh": (-1.0, 1.0),
    "sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0),
}
# f'(-1e4), f'(1e4)
SLOPE_AT_BIG: dict[str, tuple[float, float]] = {
    "relu": (0, 1), "relu6": (0, 0), "leaky_relu": (0.01, 1), "elu": (0, 1),
    "selu": (0, SELU_SCALE), "celu": (0, 1), "gelu": (0, 1), "gelu_tanh": (0, 1),
    "silu": (0, 1), "softplus": (0, 1), "log_sigmoid": (1, 0),
    "softsign": (1 / (BIG + 1) ** 2, 1 / (BIG + 1) ** 2), "hard_tanh": (0, 0),
    "sigmoid": (0, 0), "tanh": (0, 0),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_finite_values_and_gradients_at_plus_minus_1e4(name: str, dtype: Any) -> None:
    f = ACTIVATIONS[name]
    x = np.array([-BIG, BIG], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning either
        y = f(x)
        g = fg.grad(lambda u: fnp.sum(f(u)))(x)
        h = fg.grad(lambda u: fnp.sum(fg.grad(lambda v: fnp.sum(f(v)))(u)))(x)
    assert y.dtype == g.dtype == h.dtype == dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(np.asarray(y), AT_BIG[name], rtol=rtol, atol=0)
    if name == "softsign":  # 1/(1+|x|) - |x|/(1+|x|)^2 cancels to about |x| eps
        rtol = 4 * BIG * float(np.finfo(dtype).eps)
    np.testing.assert_allclose(g, SLOPE_AT_BIG[name], rtol=rtol, atol=0)
    # the curvature vanishes out there, except softsign's 2 / (1 + |x|)^3 (tiny)
    np.testing.assert_allclose(h, 0.0, atol=1e-11)


# JAX's values at -inf, +inf and nan (nan in gives nan out; gelu and silu at -inf are
# -inf * 0 and softsign at +-inf is inf / inf, nan in JAX as here).
AT_SPECIAL: dict[str, tuple[float, float, float]] = {
    "relu": (0, INF, NAN), "relu6": (0, 6, NAN), "leaky_relu": (-INF, INF, NAN),
    "elu": (-1, INF, NAN), "selu": (-SELU_SCALE * SELU_ALPHA, INF, NAN),
    "celu": (-1, INF, NAN), "gelu": (NAN, INF, NAN), "gelu_tanh": (NAN, INF, NAN),
    "silu": (NAN, INF, NAN), "softplus": (0, INF, NAN), "log_sigmoid": (-INF, 0, NAN),
    "softsign": (NAN, NAN, NAN), "hard_tanh": (-1, 1, NAN), "sigmoid": (0, 1, NAN),
    "tanh": (-1, 1, NAN),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_values_at_infinities_and_nan(name: str, dtype: Any) -> None:
    x = np.array([-INF, INF, NAN], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's invalid-value warnings
        y = ACTIVATIONS[name](x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(np.asarray(y), np.array(AT_SPECIAL[name], dtype))


def test_relu_keeps_nan_and_its_derivative_at_zero() -> None:
    assert math.isnan(float(nn.relu(NAN)))
    x = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0, NAN])
    np.testing.assert_array_equal(np.asarray(nn.relu(x)), [0.0, 0.0, 0.0, 1e-300, 3.0, NAN])
    np.testing.assert_array_equal(fg.grad(lambda u: fnp.nansum(nn.relu(u)))(x),
                                  [0, 0, 0, 1, 1, 0])
    # the derivative at nan is 0, as JAX's, even where the cotangent reaching it is 1
    np.testing.assert_array_equal(fg.grad(lambda u: fnp.sum(nn.relu(u)))(x),
                                  [0, 0, 0, 1, 1, 0])
    # one equation (the primitive), integers stay integers
    assert [e.prim.name for e in fg.make_graph(nn.relu)(x).eqns] == ["relu"]
    assert nn.relu(np.array([-1, 2], np.int8)).dtype == np.int8
    # under jit too, and vmapped
    np.testing.assert_array_equal(np.asarray(fg.jit(nn.relu)(x)), np.asarray(nn.relu(x)))
    np.testing.assert_array_equal(np.asarray(fg.vmap(nn.relu)(x)), np.asarray(nn.relu(x)))


def test_maximum_and_max_propagate_nan_as_jax() -> None:
    x = np.array([NAN, 1.0, -1.0, 0.0])
    np.testing.assert_array_equal(np.asarray(fnp.maximum(x, 0.0)), [NAN, 1.0, 0.0, 0.0])
    # jax's maximum: the derivative goes to the operand equal to the result (half each on
    # a tie), so to neither at nan
    np.testing.assert_array_equal(fg.grad(lambda u: fnp.sum(fnp.maximum(u, 0.0)))(x),
                                  [0.0, 1.0, 0.0, 0.5])
    assert math.isnan(float(fnp.max(x)))
    # jax's max: the derivative is shared among the entries equal to the max, none here:
    # 0 / 0, nan for every entry
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = fg.grad(fnp.max)(x)
    assert np.all(np.isnan(g))


# ---------------------------------------------------------------------------- softmax family


def test_all_minus_inf_rows_as_jax() -> None:
    z = np.array([[-INF, -INF, -INF], [0.0, -INF, 1.0]])
    w = np.array([1.0, 2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lse = np.asarray(nn.logsumexp(z, axis=-1))
        g_lse = fg.grad(lambda u: fnp.sum(nn.logsumexp(u, axis=-1)))(z)
        p = np.asarray(nn.softmax(z))
        g_p = fg.grad(lambda u: fnp.sum(nn.softmax(u) * w))(z)
        logp = np.asarray(nn.log_softmax(z))
        g_logp = fg.grad(lambda u: fnp.sum(nn.log_softmax(u) * w))(z)
    e1 = sig(1.0)
    # logsumexp of nothing is -inf (log 0), its gradient 0 / 0: nan, not a silent 0
    assert lse[0] == -INF and lse[1] == pytest.approx(1 + math.log1p(math.exp(-1)), rel=1e-15)
    assert np.all(np.isnan(g_lse[0]))
    np.testing.assert_allclose(g_lse[1], [1 - e1, 0, e1], rtol=1e-15)
    # softmax and log_softmax of the empty row are nan, values and gradients
    for value, grad in ((p, g_p), (logp, g_logp)):
        assert np.all(np.isnan(value[0])) and np.all(np.isnan(grad[0]))
        assert not np.any(np.isnan(value[1])) and not np.any(np.isnan(grad[1]))
    np.testing.assert_allclose(p[1], [1 - e1, 0, e1], rtol=1e-15)


def test_plus_inf_makes_the_slice_nan_as_jax() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.all(np.isnan(np.asarray(nn.softmax(np.array([INF, 0.0, 1.0])))))
        assert np.all(np.isnan(np.asarray(nn.log_softmax(np.array([INF, 0.0])))))
        assert float(nn.logsumexp(np.array([INF, 0.0]))) == INF


def test_softmax_family_at_1e4_in_float32() -> None:
    z = np.array([[BIG, 0.0, -BIG], [-BIG, -BIG, -BIG]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = nn.softmax(z)
        logp = nn.log_softmax(z)
        lse = nn.logsumexp(z, axis=-1)
        g = fg.grad(lambda u: fnp.sum(nn.log_softmax(u)[:, 1]))(z)
    assert p.dtype == logp.dtype == lse.dtype == g.dtype == np.float32
    np.testing.assert_allclose(np.asarray(p), np.array([[1, 0, 0], [1 / 3] * 3]), rtol=1e-7,
                               atol=0)
    expected = np.array([[0, -BIG, -2 * BIG], [-math.log(3)] * 3])
    np.testing.assert_allclose(np.asarray(logp), expected,
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(lse), [BIG, -BIG + math.log(3)], rtol=1e-7)
    np.testing.assert_allclose(g, np.array([[-1, 1, 0], [-1 / 3, 2 / 3, -1 / 3]]), rtol=1e-6,
                               atol=1e-7)


# ---------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_python_scalars_and_integers(name: str) -> None:
    f = ACTIVATIONS[name]
    x32 = np.array([0.5, -0.5], np.float32)
    assert f(x32).dtype == np.float32  # the float parameters (slopes, alphas) are weak
    y = f(2.0)
    assert np.asarray(y).dtype == np.float64 and np.shape(y) == ()
    assert float(f(np.array(2))) == pytest.approx(float(f(2.0)), rel=1e-15)
