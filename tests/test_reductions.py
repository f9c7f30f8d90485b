"""Tests of the reductions, scans and sorting that the shared table of cases cannot express:
exact gradients at special points (zeros in cumprod, ties in sort and median, constant
arrays in var and std, -inf and huge values in logsumexp, nans) with JAX's values,
numpy's dtypes, numpy's own functions on traced values, the Tracer methods, numpy's
partition contract with ties, complex scans, and the errors.

The expected gradients at special points were computed with JAX (jax 0.10, x64).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import ShapeError, grad, hessian, jit, make_graph, vjp, vmap

NDArray = np.ndarray[Any, Any]
W5 = np.arange(1.0, 6.0)


def traced_value(f: Callable[..., Any], *args: Any) -> Any:
    """f's value under grad (vjp), to compare with its eager value."""
    return vjp(f, *args)[0]


# ---------------------------------------------------------------------------- special points


def test_cumprod_gradient_and_hessian_exact_at_zeros() -> None:
    def f(x: Any) -> Any:
        return fnp.sum(fnp.cumprod(x) * W5)

    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    np.testing.assert_array_equal(grad(f)(x), [1.0, 22.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(hessian(f)(x), [[0, 11, 0, 0, 0], [11, 0, 6, 174, 0],
                                                  [0, 6, 0, 0, 0], [0, 174, 0, 0, 0],
                                                  [0, 0, 0, 0, 0]])
    leading = np.array([0.0, 0.0, 2.0, 3.0])
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(fnp.cumprod(x)))(leading), [1, 0, 0, 0])
    np.testing.assert_array_equal(hessian(lambda x: fnp.sum(fnp.cumprod(x)))(leading),
                                  [[0, 9, 0, 0], [9, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    x32 = x.astype(np.float32)
    g32 = grad(f)(x32)
    assert g32.dtype == np.float32
    np.testing.assert_array_equal(g32, [1.0, 22.0, 0.0, 0.0, 0.0])


def test_cumsum_gradient_is_the_reversed_cumsum() -> None:
    x = np.arange(12.0).reshape(3, 4)
    ct = np.random.default_rng(0).standard_normal((3, 4))
    for axis in (0, 1):
        (g,) = vjp(lambda x: fnp.cumsum(x, axis), x)[1](ct)
        np.testing.assert_allclose(g, np.flip(np.cumsum(np.flip(ct, axis), axis), axis),
                                   rtol=1e-15)
    (g,) = vjp(fnp.cumsum, x)[1](np.ones(12))
    np.testing.assert_array_equal(g, np.arange(12, 0, -1).reshape(3, 4))


def test_sort_gradient_follows_the_stable_permutation() -> None:
    x = np.array([3.0, 1.0, 3.0, 2.0, 1.0])
    # tied elements keep their order: the first 1.0 is sorted first, as JAX's sort
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(fnp.sort(x) * W5))(x),
                                  [4.0, 1.0, 5.0, 3.0, 2.0])
    m = np.array([[2.0, 2.0, 1.0], [0.0, 5.0, 0.0]])
    g = grad(lambda m: fnp.sum(fnp.sort(m, axis=0) * np.array([[1.0], [10.0]])))(m)
    np.testing.assert_array_equal(g, [[10.0, 1.0, 10.0], [1.0, 10.0, 1.0]])


def test_argsort_is_stable_for_many_ties() -> None:
    x = np.array([3, 1, 3, 2, 1] * 8, float)  # numpy's default kind reorders these ties
    stable = np.argsort(x, kind="stable")
    np.testing.assert_array_equal(fnp.argsort(x), stable)
    np.testing.assert_array_equal(jit(fnp.argsort)(x), stable)
    np.testing.assert_array_equal(vmap(fnp.argsort)(np.stack([x, -x])),
                                  np.stack([stable, np.argsort(-x, kind="stable")]))
    assert traced_value(fnp.argsort, x).dtype == np.intp


def test_median_and_quantile_gradients_at_ties_as_jax() -> None:
    np.testing.assert_array_equal(grad(fnp.median)(np.array([1.0, 2.0, 2.0, 2.0, 5.0, 6.0])),
                                  [0.0, 0.0, 0.5, 0.5, 0.0, 0.0])
    np.testing.assert_array_equal(grad(fnp.median)(np.array([2.0, 1.0, 2.0, 2.0, 5.0])),
                                  [0.0, 0.0, 1.0, 0.0, 0.0])
    data = np.array([4.0, 1.0, 3.0, 2.0, 1.0])
    np.testing.assert_allclose(grad(lambda x: fnp.quantile(x, 0.3))(data),
                               [0.0, 0.0, 0.0, 0.2, 0.8], rtol=1e-12)
    np.testing.assert_allclose(grad(lambda x: fnp.percentile(x, 30.0))(data),
                               [0.0, 0.0, 0.0, 0.2, 0.8], rtol=1e-12)
    np.testing.assert_array_equal(grad(lambda x: fnp.quantile(x, 0.25, method="nearest"))(data),
                                  [0.0, 0.0, 0.0, 0.0, 1.0])
    # with respect to q: the slope between the two sorted neighbours, times n - 1
    np.testing.assert_allclose(grad(lambda q: fnp.quantile(data, q))(0.3), 4.0, rtol=1e-12)


def test_ptp_ties_share_the_gradient() -> None:
    np.testing.assert_array_equal(grad(fnp.ptp)(np.array([1.0, 3.0, 3.0, 1.0, 2.0])),
                                  [-0.5, 0.5, 0.5, -0.5, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_var_gradient_is_never_nan_and_std_follows_jax(dtype: Any) -> None:
    constant = np.full(3, 2.0, dtype)
    one = np.array([3.0], dtype)
    for x in (constant, one):
        g = grad(fnp.var)(x)
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, np.zeros_like(x))
        np.testing.assert_array_equal(grad(lambda x: fnp.var(x, keepdims=True)[0])(x),
                                      np.zeros_like(x))
        # JAX: sqrt'(0) * 0 is nan, so std has no gradient where the variance is 0
        with np.errstate(divide="ignore", invalid="ignore"):
            assert np.isnan(grad(fnp.std)(x)).all()
    with np.errstate(divide="ignore", invalid="ignore"):  # ddof=1 of one element: nan
        assert np.isnan(traced_value(lambda x: fnp.var(x, ddof=1), one))


def test_logsumexp_is_stable_and_its_special_values_are_jax() -> None:
    big = np.array([1e4, 1e4, -1e4])
    np.testing.assert_allclose(fnp.logsumexp(big), 1e4 + np.log(2), rtol=1e-15)
    np.testing.assert_allclose(grad(fnp.logsumexp)(big), [0.5, 0.5, 0.0], rtol=1e-15)
    np.testing.assert_allclose(fnp.logsumexp(np.array([-1e4, -1e4])), -1e4 + np.log(2),
                               rtol=1e-15)
    big32 = big.astype(np.float32)
    out32, pullback = vjp(fnp.logsumexp, big32)
    assert out32.dtype == np.float32 and np.isfinite(out32)
    np.testing.assert_allclose(pullback(np.float32(1.0))[0], [0.5, 0.5, 0.0])
    rows = np.array([[-np.inf, -np.inf], [1.0, -np.inf]])
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(fnp.logsumexp(rows, axis=1), [-np.inf, 1.0])
        np.testing.assert_array_equal(jit(lambda r: fnp.logsumexp(r, axis=1))(rows),
                                      [-np.inf, 1.0])
        g = grad(lambda r: fnp.sum(fnp.logsumexp(r, axis=1)))(rows)
        np.testing.assert_array_equal(g, [[np.nan, np.nan], [1.0, 0.0]])  # JAX's nan row
        np.testing.assert_array_equal(fnp.logsumexp(np.array([np.inf, 1.0])), np.inf)
        np.testing.assert_array_equal(grad(fnp.logsumexp)(np.array([np.inf, 1.0])),
                                      [np.nan, 0.0])
        # a zero factor removes its term, even an infinite one
        assert fnp.logsumexp(np.array([1.0, np.inf]), b=np.array([1.0, 0.0])) == 1.0
        # a negative sum: nan, or its log magnitude and sign with return_sign
        assert np.isnan(fnp.logsumexp(np.array([1.0, 2.0]), b=np.array([1.0, -1.0])))
    value, sign = fnp.logsumexp(np.array([1.0, 2.0]), b=np.array([1.0, -1.0]), return_sign=True)
    np.testing.assert_allclose(value, np.log(np.e ** 2 - np.e), rtol=1e-15)
    assert sign == -1.0
    ga, gb = grad(lambda a, b: fnp.logsumexp(a, b=b), argnums=(0, 1))(
        np.array([1.0, 2.0]), np.array([2.0, 0.0]))
    np.testing.assert_array_equal(ga, [1.0, 0.0])
    np.testing.assert_array_equal(gb, [0.5, 0.0])
    out = traced_value(lambda a: fnp.logsumexp(a, b=2.0), np.ones(2, np.float32))
    assert out.dtype == np.float32  # a Python scalar b is weak


def test_nans_are_ignored_with_zero_gradient() -> None:
    x = np.array([1.0, np.nan, 3.0])
    np.testing.assert_array_equal(grad(fnp.nansum)(x), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(grad(fnp.nanmean)(x), [0.5, 0.0, 0.5])
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(grad(fnp.nanmean)(np.array([np.nan, np.nan])), [0.0, 0.0])
        # a slice holding a nan has a nan quantile (as numpy) and no gradient (as JAX)
        rows = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
        np.testing.assert_array_equal(traced_value(lambda r: fnp.median(r, axis=1), rows),
                                      [np.nan, 2.0])
        np.testing.assert_array_equal(grad(lambda r: fnp.sum(fnp.quantile(r, 0.5, axis=1)))(rows),
                                      [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    x32 = x.astype(np.float32)
    for f in (fnp.nansum, fnp.nanmean):
        assert traced_value(f, x32).dtype == np.float32


# ---------------------------------------------------------------------------- dtypes


DTYPE_CALLS: list[tuple[str, Callable[[Any], Any], Any]] = [
    ("sum dtype=float32", lambda x: fnp.sum(x, dtype=np.float32), np.float64),
    ("prod dtype=float32", lambda x: fnp.prod(x, 0, np.float32), np.float64),
    ("mean of int8", lambda x: fnp.mean(fnp.astype(x, np.int8)), np.float64),
    ("mean dtype=float64", lambda x: fnp.mean(x, dtype=np.float64), np.float32),
    ("var dtype=float64", lambda x: fnp.var(x, 1, np.float64, ddof=1), np.float32),
    ("cumsum of bool", lambda x: fnp.cumsum(x > 0), np.float64),
    ("cumsum of int8", lambda x: fnp.cumsum(fnp.astype(x, np.int8), 1), np.float64),
    ("cumprod dtype=float32", lambda x: fnp.cumprod(x, 0, np.float32), np.float64),
    ("quantile, Python q", lambda x: fnp.quantile(x, 0.3), np.float32),
    ("quantile, float32 q", lambda x: fnp.quantile(x, np.float32(0.3)), np.float32),
    ("quantile, float64 q array", lambda x: fnp.quantile(x, np.array([0.3])), np.float32),
    ("quantile, integer q", lambda x: fnp.quantile(x, np.array([0, 1])), np.float32),
    ("quantile of ints, lower", lambda x: fnp.quantile(fnp.astype(x, np.int64), 0.5,
                                                       method="lower"), np.float64),
    ("quantile of ints", lambda x: fnp.quantile(fnp.astype(x, np.int32), 0.5), np.float64),
    ("percentile, integer q", lambda x: fnp.percentile(x, np.array([10, 50])), np.float32),
    ("median of float32", lambda x: fnp.median(x, 0), np.float32),
    ("median of ints", lambda x: fnp.median(fnp.astype(x, np.int64)), np.float64),
    ("average of ints", lambda x: fnp.average(fnp.astype(x, np.int64), 0), np.float64),
    ("average, float64 weights", lambda x: fnp.average(x, 1, np.ones(4)), np.float32),
    ("average, float32 weights, returned",
     lambda x: fnp.average(x, 1, np.ones(4, np.float32), returned=True)[1], np.float32),
    ("nanmean of ints", lambda x: fnp.nanmean(fnp.astype(x, np.int64)), np.float64),
    ("any", lambda x: fnp.any(x > 1, axis=0), np.float64),
    ("all keepdims", lambda x: fnp.all(x, keepdims=True), np.float64),
    ("argpartition", lambda x: fnp.argpartition(x, 1), np.float64),
    ("logsumexp of ints", lambda x: fnp.logsumexp(fnp.astype(x, np.int64)), np.float64),
]


@pytest.mark.parametrize("f,dtype", [pytest.param(f, d, id=n) for n, f, d in DTYPE_CALLS])
def test_dtypes_and_values_are_numpys(f: Callable[[Any], Any], dtype: Any) -> None:
    """Traced (under grad and in a graph) and eager, the result has numpy's dtype and value
    for the same call on a numpy array."""
    x = (np.arange(12.0).reshape(3, 4) % 5 - 1.5).astype(dtype)
    expected = np.asarray(f(x))  # eager: numpy itself
    out = traced_value(f, x)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(np.asarray(out, float), np.asarray(expected, float), rtol=1e-6)
    assert make_graph(f)(x).outvars[0].aval.dtype == expected.dtype


def test_eager_dtypes_are_numpys() -> None:
    x = np.arange(6, dtype=np.float32)
    assert fnp.quantile(x, 0.3).dtype == np.quantile(x, 0.3).dtype == np.float32
    assert fnp.quantile(x, np.array([0.3])).dtype == np.float64
    assert fnp.cumsum(np.arange(3, dtype=np.int8)).dtype == np.cumsum(
        np.arange(3, dtype=np.int8)).dtype
    assert fnp.mean(np.arange(3, dtype=np.int8)).dtype == np.float64


# ---------------------------------------------------------------------------- partition


def test_partition_keeps_numpys_contract_with_ties() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, (5, 30)).astype(float)
    for kth in (0, 7, (3, 20), -1):
        indices = np.argpartition(x, kth, axis=1)
        np.testing.assert_array_equal(fnp.argpartition(x, kth, axis=1), indices)
        np.testing.assert_array_equal(jit(lambda x, kth=kth: fnp.argpartition(x, kth))(x),
                                      indices)
        part = np.asarray(fnp.partition(x, kth, axis=1))
        np.testing.assert_array_equal(jit(lambda x, kth=kth: fnp.partition(x, kth))(x), part)
        np.testing.assert_array_equal(traced_value(lambda x, kth=kth: fnp.partition(x, kth),
                                                   x), part)
        ordered = np.sort(x, axis=1)
        for k in np.atleast_1d(kth) % x.shape[1]:
            # the element at k is the sorted one, smaller ones before, larger ones after
            np.testing.assert_array_equal(part[:, k], ordered[:, k])
            assert (part[:, :k] <= part[:, k:k + 1]).all()
            assert (part[:, k + 1:] >= part[:, k:k + 1]).all()
        np.testing.assert_array_equal(np.sort(part, axis=1), ordered)
    # each partitioned element's gradient goes back to where it came from
    g = grad(lambda x: fnp.sum(fnp.partition(x, 2) * W5))(np.array([4.0, 1.0, 3.0, 2.0, 0.0]))
    np.testing.assert_array_equal(g, [5.0, 2.0, 4.0, 3.0, 1.0])


# ---------------------------------------------------------------------------- numpy's functions


NUMPY_CALLS: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = [
    ("sum", lambda x: np.sum(x, axis=0), lambda x: fnp.sum(x, axis=0)),
    ("mean", lambda x: np.mean(x, 1, keepdims=True), lambda x: fnp.mean(x, 1, keepdims=True)),
    ("var", lambda x: np.var(x, ddof=1), lambda x: fnp.var(x, ddof=1)),
    ("cumsum", lambda x: np.cumsum(x, axis=1), lambda x: fnp.cumsum(x, axis=1)),
    ("cumprod", lambda x: np.cumprod(x), fnp.cumprod),
    ("sort", lambda x: np.sort(x, axis=0), lambda x: fnp.sort(x, axis=0)),
    ("partition", lambda x: np.partition(x, 1), lambda x: fnp.partition(x, 1)),
    ("median", lambda x: np.median(x, axis=1), lambda x: fnp.median(x, axis=1)),
    ("quantile", lambda x: np.quantile(x, 0.3, axis=0), lambda x: fnp.quantile(x, 0.3, axis=0)),
    ("percentile", lambda x: np.percentile(x, [20.0, 70.0]),
     lambda x: fnp.percentile(x, np.array([20.0, 70.0]))),
    ("ptp", lambda x: np.ptp(x, axis=1), lambda x: fnp.ptp(x, axis=1)),
    ("average", lambda x: np.average(x, 1, np.arange(1.0, 5.0)),
     lambda x: fnp.average(x, 1, np.arange(1.0, 5.0))),
    ("nansum", lambda x: np.nansum(x), fnp.nansum),
    ("nanmean", lambda x: np.nanmean(x, axis=0), lambda x: fnp.nanmean(x, axis=0)),
    ("amax", lambda x: np.amax(x, 0), lambda x: fnp.amax(x, 0)),
    ("argsort", lambda x: x * np.argsort(x), lambda x: x * fnp.argsort(x)),
    ("argmax", lambda x: x * np.argmax(x, axis=0), lambda x: x * fnp.argmax(x, axis=0)),
    ("all any", lambda x: np.where(np.logical_and(np.all(x > -9), np.any(x > 0, 0)), x, 0.0),
     lambda x: fnp.where(fnp.logical_and(fnp.all(x > -9), fnp.any(x > 0, 0)), x, 0.0)),
]


@pytest.mark.parametrize("numpy_f,fnp_f", [pytest.param(n, f, id=i) for i, n, f in NUMPY_CALLS])
def test_numpys_functions_on_traced_values(numpy_f: Callable[[Any], Any],
                                           fnp_f: Callable[[Any], Any]) -> None:
    x = np.random.default_rng(2).permutation(12).reshape(3, 4) * 0.5 - 2.0
    expected = np.asarray(numpy_f(x))
    out, pullback = vjp(numpy_f, x)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    ct = np.random.default_rng(3).standard_normal(expected.shape)
    np.testing.assert_allclose(pullback(ct)[0], vjp(fnp_f, x)[1](ct)[0], rtol=1e-12)
    np.testing.assert_allclose(jit(numpy_f)(x), expected, rtol=1e-12)


# ---------------------------------------------------------------------------- Tracer methods


def test_tracer_methods() -> None:
    x = np.array([[3.0, -1.0, 2.0], [0.5, 4.0, -2.0]])

    def f(t: Any) -> Any:
        s = t.sort()  # a new, sorted array; t itself is unchanged (unlike ndarray.sort)
        return [s, t, t.sort(axis=0), t.argsort(axis=None), t.cumsum(), t.cumprod(axis=1),
                t.all(), t.any(axis=1, keepdims=True), t.argpartition(1), t.argmax(-1)]

    outs = traced_value(f, x)
    expected = [np.sort(x), x, np.sort(x, axis=0), np.argsort(x, axis=None), x.cumsum(),
                x.cumprod(axis=1), x.all(), x.any(axis=1, keepdims=True), x.argpartition(1),
                x.argmax(-1)]
    for o, e in zip(outs, expected):
        assert o.dtype == e.dtype
        np.testing.assert_array_equal(o, e)
    np.testing.assert_array_equal(grad(lambda t: fnp.sum(t.sort() * np.arange(3.0)))(x),
                                  [[2.0, 0.0, 1.0], [1.0, 2.0, 0.0]])


# ---------------------------------------------------------------------------- complex


def test_complex_values_follow_jax_convention() -> None:
    z = np.array([1 + 2j, 0.5 - 1j, 0j, 2 + 0.5j])
    ct = np.array([1 - 1j, 2 + 0j, 0.5j, -1 + 1j])
    # JAX's vjp, which for these holomorphic (or linear) maps is ct times the Jacobian
    np.testing.assert_allclose(vjp(fnp.cumprod, z)[1](ct)[0],
                               [2 - 3j, 2 + 4j, -6.25 + 5j, 0], rtol=1e-15)
    np.testing.assert_allclose(vjp(fnp.cumsum, z)[1](ct)[0],
                               [2 + 0.5j, 1 + 1.5j, -1 + 1.5j, -1 + 1j], rtol=1e-15)
    np.testing.assert_allclose(vjp(fnp.sort, z)[1](ct)[0],
                               [0.5j, 2 + 0j, 1 - 1j, -1 + 1j], rtol=1e-15)
    # var and std of complex values are real (numpy's), with JAX's gradients
    w = np.array([1 + 2j, 0.5 - 1j, 3j])
    value, pullback = vjp(fnp.var, w)
    assert value.dtype == np.float64
    np.testing.assert_allclose(value, np.var(w), rtol=1e-15)
    np.testing.assert_allclose(pullback(np.float64(1.0))[0], [1 / 3 - 4j / 9, 14j / 9,
                                                              -1 / 3 - 10j / 9], rtol=1e-14)
    np.testing.assert_allclose(grad(fnp.std)(w), [0.09534626 - 0.12712835j, 0.44494921j,
                                                  -0.09534626 - 0.31782086j], rtol=1e-7)


# ---------------------------------------------------------------------------- errors


def test_errors_name_the_function_and_the_problem() -> None:
    x = np.ones((2, 3))
    bad_axes: list[Callable[[Any], Any]] = [
        lambda t: fnp.sort(t, axis=2), lambda t: fnp.cumsum(t, -3),
        lambda t: fnp.quantile(t, 0.5, axis=(0, 5)), lambda t: fnp.argmax(t, 2)]
    for f in bad_axes:
        with pytest.raises(ShapeError, match=r"axis -?\d is out of bounds for an array of "
                                             r"dimension 2 \(at .*test_reductions.py:\d+\)"):
            vjp(f, x)
        with pytest.raises(ShapeError, match=r"out of bounds"):
            f(x)
    with pytest.raises(ShapeError, match=r"partition: kth 3 is out of bounds for an axis "
                                         r"of length 3"):
        fnp.partition(x, 3)
    with pytest.raises(ShapeError, match=r"argpartition: kth -4 is out of bounds"):
        vjp(lambda t: fnp.argpartition(t, [0, -4]), x)
    with pytest.raises(ShapeError, match=r"average: weights of shape \(2,\) fit neither a's "
                                         r"shape \(2, 3\) nor its shape \(3,\) along axis 1"):
        vjp(lambda t: fnp.average(t, 1, np.ones(2)), x)
    with pytest.raises(ShapeError, match=r"average: .* so axis must be given"):
        vjp(lambda t: fnp.average(t, weights=np.ones(3)), x)
    with pytest.raises(ValueError, match=r"quantile: q must be in the range \[0, 1\]"):
        vjp(lambda t: fnp.quantile(t, 1.5), x)
    with pytest.raises(ValueError, match=r"percentile: q must be in the range \[0, 100\]"):
        vjp(lambda t: fnp.percentile(t, np.array([10.0, 101.0])), x)
    unsupported = re.escape("is not supported; use one of linear, interpolated_inverted_cdf")
    for f in (lambda t: fnp.quantile(t, 0.5, method="inverted_cdf"),  # type: ignore[arg-type]
              lambda t: fnp.percentile(t, 5, method="closest")):  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=unsupported):
            f(x)
        with pytest.raises(ValueError, match=unsupported):
            vjp(f, x)
