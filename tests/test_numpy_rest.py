"""Tests of the rest of numpy's namespace (numpy 2's names, the nan-ignoring reductions,
value tests, searching and interpolation, statistics, polynomials, creation and shape
functions) that the shared table of cases cannot express: the functions that need values
known while tracing (fine under grad, a ConcretizationError under jit), bool results and
special values (nans, infinities, all-nan slices), exact gradients at special points with
JAX's values, dtypes, numpy's own functions on traced values, and errors.

The expected gradients at special points were computed with JAX (jax 0.10, x64), except
i0's second derivative at 0, which is exactly 1/2 (JAX gives 0 there).
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Literal, cast

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import ConcretizationError, ShapeError, grad, hessian, jit, vjp, vmap

NDArray = np.ndarray[Any, Any]
X = np.array([[0.5, -1.25, 2.0, 0.75], [-0.5, 1.5, -2.25, 1.0], [0.25, 3.0, -1.0, -0.75]])


def traced(f: Any, *args: Any) -> Any:
    """f's value under grad (vjp), where values are known while tracing."""
    return vjp(f, *args)[0]


# ---------------------------------------------------------------------------- known values


@pytest.mark.parametrize("name, call", [
    ("unique", lambda t: fnp.unique(t)),
    ("unique", lambda t: fnp.unique_counts(t)),
    ("bincount", lambda t: fnp.bincount(fnp.astype(t, np.intp))),
    ("trim_zeros", lambda t: fnp.trim_zeros(t)),
    ("real_if_close", lambda t: fnp.real_if_close(t + 0j)),
    ("histogram", lambda t: fnp.histogram(t, "auto")),
    ("nonzero", lambda t: fnp.nonzero(t)),
    ("nonzero", lambda t: t.nonzero()),
    ("argwhere", lambda t: fnp.argwhere(t)),
    ("flatnonzero", lambda t: fnp.flatnonzero(t)),
    ("compress", lambda t: fnp.compress(t > 0, t)),
    ("extract", lambda t: fnp.extract(t > 0, t)),
    ("insert", lambda t: fnp.insert(t, fnp.astype(t[0], np.intp), 1.0)),
    ("delete", lambda t: fnp.delete(t, fnp.astype(t[:1], np.intp))),
    ("choose", lambda t: fnp.choose(fnp.astype(t > 0, np.intp), [t, -t])),
])
def test_value_dependent_results_need_known_values(name: str, call: Any) -> None:
    x = np.array([1.0, 0.0, 2.0, 1.0])
    traced(call, x)  # under grad the values are known
    with pytest.raises(ConcretizationError, match=rf"jit of <lambda>: {name}: .* is traced, "
                                                  r"but .*; pass a constant"):
        jit(call)(x)


def test_unique_values_and_gradient_to_first_occurrence() -> None:
    x = np.array([2.0, 1.0, 2.0, 3.0])
    weights = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(fnp.unique(x) * weights))(x),
                                  [2.0, 1.0, 0.0, 3.0])  # JAX's (unique with size=3)
    values, index, inverse, counts = traced(lambda x: fnp.unique(x, True, True, True), x)
    for ours, numpys in zip((values, index, inverse, counts), np.unique(x, True, True, True)):
        np.testing.assert_array_equal(ours, numpys)
    rows = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(traced(lambda r: fnp.unique(r, axis=0), rows),
                                  np.unique(rows, axis=0))


def test_unique_family_is_sorted_and_keeps_nans_apart() -> None:
    x = np.array([3.0, np.nan, 1.0, 3.0, np.nan])
    for f in (fnp.unique_values, lambda t: fnp.unique_counts(t).values):
        for value in (f(x), traced(f, x)):
            np.testing.assert_array_equal(value, [1.0, 3.0, np.nan, np.nan])
    result = traced(fnp.unique_all, x)
    expected = np.unique_all(x)
    assert result._fields == expected._fields
    for ours, numpys in zip(result, expected):
        np.testing.assert_array_equal(ours, numpys)
    np.testing.assert_array_equal(fnp.unique_inverse(x).inverse_indices,
                                  np.unique_inverse(x).inverse_indices)


def test_bincount_with_known_indices_differentiates_the_weights() -> None:
    indices = np.array([0, 3, 3, 1])
    w = np.array([0.5, 1.0, 2.0, -1.0])
    np.testing.assert_array_equal(jit(lambda w: fnp.bincount(indices, w, 6))(w),
                                  np.bincount(indices, w, 6))
    np.testing.assert_array_equal(
        grad(lambda w: fnp.sum(fnp.bincount(indices, w) * np.arange(1.0, 5.0)))(w),
        [1.0, 4.0, 4.0, 2.0])
    counted = traced(lambda t: fnp.bincount(fnp.astype(t, np.intp), minlength=5),
                     indices.astype(float))
    np.testing.assert_array_equal(counted, [1, 1, 0, 2, 0])
    with pytest.raises(ValueError, match="bincount: x must be 1-D non-negative integers"):
        grad(lambda w: fnp.sum(fnp.bincount(np.array([-1, 2]), w[:2])))(w)


def test_trim_zeros_and_real_if_close_under_grad() -> None:
    x = np.array([[0.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    trims: list[tuple[Literal["fb", "f", "b"], int | None]] = [
        ("fb", None), ("f", None), ("b", 1), ("fb", 0)]
    for trim, axis in trims:
        np.testing.assert_array_equal(traced(lambda t: fnp.trim_zeros(t, trim, axis), x),
                                      np.trim_zeros(x, trim, axis))
    assert traced(fnp.trim_zeros, np.zeros(3)).shape == (0,)
    np.testing.assert_array_equal(grad(lambda t: fnp.sum(fnp.trim_zeros(t[0]) * 2.0))(x),
                                  np.zeros((3, 3)))  # the first row is all zeros: nothing left
    with pytest.raises(ValueError, match="trim_zeros: trim must be"):
        traced(lambda t: fnp.trim_zeros(t, "x"), x)
    z = np.array([1.0 + 1e-20j, 2.0])
    assert traced(fnp.real_if_close, z).dtype == np.float64
    assert traced(fnp.real_if_close, z + 1e-3j).dtype == np.complex128
    assert jit(fnp.real_if_close)(np.array([1.0, 2.0])).dtype == np.float64  # real: as it is


def test_histogram_with_string_bins_under_grad_and_integer_bins_under_jit() -> None:
    x = np.array([0.1, 0.4, 0.4, 0.9, 1.7, 2.0])
    counts, edges = traced(lambda t: fnp.histogram(t, "auto"), x)
    expected = np.histogram(x, "auto")
    np.testing.assert_array_equal(counts, expected[0])
    np.testing.assert_allclose(edges, expected[1], rtol=1e-15)
    np.testing.assert_allclose(traced(lambda t: fnp.histogram_bin_edges(t, "sturges"), x),
                               np.histogram_bin_edges(x, "sturges"), rtol=1e-15)
    # The last edge is in the last bin; values outside the range are not counted.
    for bins, value_range in ((3, None), (4, (0.4, 1.7)), ([0.0, 0.4, 1.0, 1.7], None)):
        ours = jit(lambda t: fnp.histogram(t, bins, value_range))(x)
        numpys = np.histogram(x, bins, value_range)
        np.testing.assert_array_equal(ours[0], numpys[0])
        np.testing.assert_allclose(ours[1], numpys[1], rtol=1e-15)
    # A constant array gets the range [x - 0.5, x + 0.5], as numpy's.
    np.testing.assert_allclose(jit(lambda t: fnp.histogram_bin_edges(t, 2))(np.ones(3)),
                               [0.5, 1.0, 1.5])
    # The edges move with the extremes of the values: their gradient.
    np.testing.assert_allclose(grad(lambda t: fnp.histogram_bin_edges(t, 4)[1])(x),
                               [0.75, 0, 0, 0, 0, 0.25])


def test_nonzero_method_and_value_dependent_selections_under_grad() -> None:
    x = np.array([[0.0, 2.0], [3.0, 0.0]])
    rows, cols = traced(lambda t: t.nonzero(), x)
    np.testing.assert_array_equal(rows, [0, 1])
    np.testing.assert_array_equal(cols, [1, 0])
    np.testing.assert_array_equal(traced(fnp.argwhere, x), np.argwhere(x))
    np.testing.assert_array_equal(traced(fnp.flatnonzero, x), [1, 2])
    np.testing.assert_array_equal(grad(lambda t: fnp.sum(fnp.extract(t > 1, t) ** 2))(x),
                                  [[0.0, 4.0], [6.0, 0.0]])
    np.testing.assert_array_equal(
        grad(lambda t: fnp.sum(fnp.compress(t[0] > 1, t, axis=1) * 3.0))(x), [[0, 3], [0, 3]])


# ---------------------------------------------------------------------------- nans


def test_nan_reductions_of_all_nan_slices_have_jax_values_and_zero_gradients() -> None:
    x = np.array([[np.nan, np.nan, np.nan], [1.0, np.nan, 3.0]])
    for name, expected in (("nanmax", [np.nan, 3.0]), ("nanmin", [np.nan, 1.0]),
                           ("nanprod", [1.0, 3.0]), ("nanvar", [np.nan, 1.0]),
                           ("nanmedian", [np.nan, 2.0])):
        fn = getattr(fnp, name)
        np.testing.assert_array_equal(jit(lambda t, fn=fn: fn(t, axis=1))(x), expected)
        g = grad(lambda t, fn=fn: fnp.nansum(fn(t, axis=1)))(x)
        assert np.all(np.isfinite(g)) and np.all(g[0] == 0) and g[1, 1] == 0, (name, g)
    np.testing.assert_array_equal(
        jit(lambda t: fnp.nanquantile(t, np.array([0.0, 0.5]), axis=1))(x),
        [[np.nan, 1.0], [np.nan, 2.0]])
    # numpy raises for nanargmax of an all-nan slice; -1 there, as JAX
    np.testing.assert_array_equal(fnp.nanargmax(x, axis=1), [-1, 2])
    np.testing.assert_array_equal(jit(lambda t: fnp.nanargmin(t, axis=1))(x), [-1, 0])


def test_nan_reductions_gradients_at_jax_values() -> None:
    np.testing.assert_array_equal(
        grad(lambda a: fnp.sum(fnp.nanmax(a, axis=1)))(np.array([[np.nan, 1.0], [2.0, 2.0]])),
        [[0.0, 1.0], [0.5, 0.5]])
    np.testing.assert_array_equal(
        grad(lambda a: fnp.nanquantile(a, 0.25))(np.array([3.0, np.nan, 1.0, 2.0, np.nan])),
        [0.0, 0.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(
        grad(fnp.nanmedian)(np.array([3.0, np.nan, 1.0, 2.0, np.nan, 0.0])),
        [0.0, 0.0, 0.5, 0.5, 0.0, 0.0])
    # no degrees of freedom left: nan, as numpy, with a zero gradient (JAX: the same here)
    one_left = np.array([[1.0, np.nan, np.nan], [1.0, 2.0, np.nan]])
    with warnings.catch_warnings():  # numpy's, eagerly: "Degrees of freedom <= 0"
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(fnp.nanvar(one_left, axis=1, ddof=1), [np.nan, 0.5])
    np.testing.assert_array_equal(jit(lambda t: fnp.nanvar(t, axis=1, ddof=1))(one_left),
                                  [np.nan, 0.5])
    np.testing.assert_array_equal(
        grad(lambda a: fnp.nansum(fnp.nanvar(a, axis=1, ddof=1)))(one_left),
        [[0.0, 0.0, 0.0], [-1.0, 1.0, 0.0]])


def test_nan_scans_and_cumulative_functions() -> None:
    x = np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 3.0]])
    np.testing.assert_array_equal(jit(lambda t: fnp.nancumsum(t, 1))(x), np.nancumsum(x, 1))
    np.testing.assert_array_equal(jit(fnp.nancumprod)(x), np.nancumprod(x))
    np.testing.assert_array_equal(grad(lambda t: fnp.sum(fnp.nancumprod(t, 1)))(x),
                                  [[4.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    y = np.arange(1.0, 7.0).reshape(2, 3)
    for include in (False, True):
        np.testing.assert_array_equal(
            jit(lambda t: fnp.cumulative_prod(t, axis=0, include_initial=include))(y),
            np.cumulative_prod(y, axis=0, include_initial=include))
    with pytest.raises(ValueError, match="cumulative_sum: axis must be given for an array of "
                                         "2 dimensions"):
        traced(fnp.cumulative_sum, y)


# ---------------------------------------------------------------------------- bool results


def test_value_tests_with_special_values_match_numpy() -> None:
    a = np.array([1.0, np.inf, -np.inf, np.nan, 1e-9, 1.0])
    b = np.array([1.0 + 1e-7, np.inf, np.inf, np.nan, 0.0, 1.1])
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.2, "atol": 0.0}):
        ours = jit(lambda x, y, kw=kw: fnp.isclose(x, y, **kw))(a, b)
        assert ours.dtype == np.bool_
        np.testing.assert_array_equal(ours, np.isclose(a, b, **kw))
        assert bool(jit(lambda x, y, kw=kw: fnp.allclose(x, y, **kw))(a, b)) == np.allclose(
            a, b, **kw)
    np.testing.assert_array_equal(jit(lambda x: fnp.isclose(x, 1))(a), np.isclose(a, 1))
    for f, g in ((fnp.isposinf, np.isposinf), (fnp.isneginf, np.isneginf)):
        np.testing.assert_array_equal(jit(f)(a), g(a))
    z = np.array([1.0, 1.0 + 2j, 3j])
    np.testing.assert_array_equal(jit(fnp.isreal)(z), [True, False, False])
    np.testing.assert_array_equal(jit(fnp.iscomplex)(z), [False, True, True])
    assert jit(fnp.iscomplex)(a).dtype == np.bool_
    nan_pair = np.array([np.nan, 1.0])
    assert not jit(fnp.array_equal)(nan_pair, nan_pair)
    assert jit(lambda x: fnp.array_equal(x, x, equal_nan=True))(nan_pair)
    assert not jit(fnp.array_equal)(nan_pair, nan_pair[:1])  # shapes differ: False
    assert jit(fnp.array_equiv)(np.ones((2, 3)), np.ones(3))
    assert not jit(fnp.array_equiv)(np.ones((2, 3)), np.ones(2))


def test_inquiries_on_traced_values() -> None:
    def f(t: Any) -> Any:
        assert not fnp.isscalar(t) and not np.isscalar(t)
        assert fnp.isrealobj(t) and not fnp.iscomplexobj(t)
        assert fnp.iscomplexobj(t * 1j) and np.iscomplexobj(t * 1j)
        return fnp.sum(t)

    jit(f)(np.ones(2))
    assert fnp.isscalar(1.5) and not fnp.isscalar(np.ones(1))


# ---------------------------------------------------------------------------- special points


def test_heaviside_gradients_as_jax() -> None:
    points = np.array([-1.0, 0.0, 2.0, 0.0])
    np.testing.assert_array_equal(
        grad(lambda h: fnp.sum(fnp.heaviside(points, h)))(np.array([0.3, 0.3, 0.3, 0.7])),
        [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(fnp.heaviside(x, 0.5)))(points),
                                  np.zeros(4))
    np.testing.assert_array_equal(jit(lambda x: fnp.heaviside(x, 0.5))(
        np.array([np.nan, -0.0, 3.0])), [np.nan, 0.5, 1.0])


def test_i0_values_and_derivatives() -> None:
    x = np.array([0.0, 0.3, -2.0, 7.99, 8.01, -30.0, 300.0, 700.0])
    np.testing.assert_allclose(jit(fnp.i0)(x), np.i0(x), rtol=1e-13)
    # i0' = i1, here by its integral: the mean of exp(x cos t) cos t over a period
    t = np.linspace(0, 2 * np.pi, 4096, endpoint=False)
    small = x[np.abs(x) < 100]
    i1 = np.mean(np.exp(np.multiply.outer(small, np.cos(t))) * np.cos(t), axis=-1)
    np.testing.assert_allclose(grad(lambda v: fnp.sum(fnp.i0(v)))(small), i1, rtol=1e-12,
                               atol=1e-15)
    assert hessian(fnp.i0)(0.0) == pytest.approx(0.5, abs=1e-12)
    assert jit(fnp.i0)(np.float32(3.0)).dtype == np.float32
    assert grad(fnp.i0)(3.0) == pytest.approx(3.9533702174026093, rel=1e-13)  # JAX's


def test_interp_gradients_at_knots_and_outside_as_jax() -> None:
    xp, fp = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 4.0])

    def f(x: Any) -> Any:
        return fnp.interp(x, xp, fp)

    assert [grad(f)(v) for v in (-1.0, 0.0, 1.0, 2.0, 3.0)] == [0.0, 1.0, 3.0, 3.0, 0.0]
    np.testing.assert_allclose(grad(lambda k: fnp.interp(0.75, k, fp))(xp), [-0.25, -0.75, 0.0])
    np.testing.assert_array_equal(grad(lambda e: fnp.interp(-1.0, xp, fp, left=e))(2.0), 1.0)
    # repeated knots take the later value, as numpy's; nan stays nan
    np.testing.assert_array_equal(jit(lambda x: fnp.interp(x, [0.0, 1.0, 1.0], [0.0, 1.0, 5.0]))(
        np.array([1.0, 0.5])), [5.0, 0.5])
    np.testing.assert_array_equal(jit(lambda x: fnp.interp(x, xp, fp))(np.array([np.nan])),
                                  [np.nan])
    complex_fp = np.array([1.0, 2j, 3.0])
    np.testing.assert_allclose(jit(lambda x: fnp.interp(x, xp, complex_fp))(np.array([0.5, 1.5])),
                               np.interp([0.5, 1.5], xp, complex_fp))


def test_searchsorted_with_nans_ties_and_batched_sorted_arrays() -> None:
    a = np.array([0.0, 1.0, 1.0, 2.0, np.nan])
    v = np.array([-1.0, 1.0, 1.5, 2.0, 3.0, np.nan])
    for side in ("left", "right"):
        expected = np.searchsorted(a, v, side)
        np.testing.assert_array_equal(jit(lambda s, side=side: fnp.searchsorted(s, v, side))(a),
                                      expected)
        # a sorted array per example: the batching rule counts instead of bisecting
        stacked = np.stack([a, a - 0.5])
        batched = vmap(lambda s, side=side: fnp.searchsorted(s, v, side))(stacked)
        np.testing.assert_array_equal(batched, [expected, np.searchsorted(a - 0.5, v, side)])
    assert vmap(fnp.searchsorted, in_axes=(None, 0))(a, v.reshape(3, 2)).shape == (3, 2)
    np.testing.assert_array_equal(jit(lambda x: cast(Any, x).searchsorted(2.0))(a), 3)
    with pytest.raises(ValueError, match="searchsorted: side must be 'left' or 'right'"):
        jit(lambda x: fnp.searchsorted(x, 1.0, "middle"))(a)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="searchsorted: the sorted array must be 1-D"):
        jit(lambda x: fnp.searchsorted(x, 1.0))(np.ones((2, 2)))


def test_digitize_with_traced_bins_of_either_direction() -> None:
    x = np.array([-0.5, 0.0, 0.4, 1.0, 2.5])
    for bins in (np.array([0.0, 1.0, 2.0]), np.array([2.0, 1.0, 0.0])):
        for right in (False, True):
            np.testing.assert_array_equal(
                jit(lambda b, right=right: fnp.digitize(x, b, right))(bins),
                np.digitize(x, bins, right))
    with pytest.raises(ValueError, match="digitize: bins must be monotonically"):
        jit(lambda t: fnp.digitize(t, [0.0, 2.0, 1.0]))(x)


def test_unwrap_gradient_is_the_identity_as_jax() -> None:
    np.testing.assert_array_equal(
        grad(lambda a: fnp.sum(fnp.unwrap(a) * np.arange(3.0)))(np.array([0.0, 6.0, 1.0])),
        [0.0, 1.0, 2.0])
    ints = np.array([0, 7, 14, 3])
    np.testing.assert_array_equal(jit(lambda a: fnp.unwrap(a, period=6))(ints),
                                  np.unwrap(ints, period=6))


def test_statistics_gradients_as_jax() -> None:
    x = np.array([[1.0, 2.0, 4.0], [0.0, 1.0, -1.0]])
    np.testing.assert_allclose(grad(lambda x: fnp.sum(fnp.cov(x)))(x),
                               [[-4 / 3, 2 / 3, 2 / 3], [-4 / 3, 2 / 3, 2 / 3]])
    np.testing.assert_allclose(grad(lambda x: fnp.corrcoef(x)[0, 1])(x),
                               [[-0.18704391, 0.28056586, -0.09352195],
                                [-0.43643578, 0.21821789, 0.21821789]], rtol=1e-7)
    np.testing.assert_allclose(grad(lambda p: fnp.polyval(p, 2.0))(np.array([1.0, 2.0, 3.0])),
                               [4.0, 2.0, 1.0])
    np.testing.assert_allclose(grad(lambda t: fnp.trapezoid(np.array([1.0, 2.0, 4.0]), t))(
        np.array([0.0, 1.0, 3.0])), [-1.5, -1.5, 3.0])
    assert grad(lambda a: fnp.sum(fnp.geomspace(a, 8.0, 4)))(1.0) == pytest.approx(11 / 3)


def test_cov_with_no_degrees_of_freedom_is_inf_as_numpy() -> None:
    x = np.array([[1.0, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.cov(x, ddof=2)
    np.testing.assert_array_equal(jit(lambda t: fnp.cov(t, ddof=2))(x), expected)
    np.testing.assert_array_equal(jit(lambda t: fnp.corrcoef(t[0]))(x), 1.0)


def test_roots_strip_zeros_where_values_are_known() -> None:
    p = np.array([0.0, 1.0, -3.0, 2.0, 0.0])
    ours = traced(fnp.roots, p)
    assert ours.dtype == np.complex128
    np.testing.assert_allclose(np.sort_complex(ours), np.sort_complex(np.roots(p)), atol=1e-12)
    assert traced(fnp.roots, np.zeros(3)).shape == (0,)
    # under jit the polynomial is taken as given: its trailing zero is a root at 0
    np.testing.assert_allclose(np.sort_complex(jit(fnp.roots)(p[1:])), [0.0, 1.0, 2.0],
                               atol=1e-12)


# ---------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("name, call", [
    ("cov", lambda x: fnp.cov(x)),
    ("corrcoef", lambda x: fnp.corrcoef(x)),
    ("interp", lambda x: fnp.interp(x[0], fnp.sort(x[1]), x[1] * 2)),
    ("geomspace", lambda x: fnp.geomspace(x[0, 0] + 2, 3.0, 4)),
    ("vander", lambda x: fnp.vander(x[0])),
    ("polyfit", lambda x: fnp.polyfit(x[0], x[1], 1)),
    ("gradient", lambda x: fnp.gradient(x[0], 0.5)),
    ("i0", lambda x: fnp.i0(x)),
    ("trapezoid", lambda x: fnp.trapezoid(x, dx=0.5)),
    ("kaiser", lambda x: fnp.kaiser(4, x[0, 0] + 2)),
])
def test_float32_stays_float32_eagerly_and_traced(name: str, call: Any) -> None:
    # (numpy computes cov, corrcoef, interp, geomspace, vander and polyfit in float64)
    x = np.array([[0.25, 0.5, 1.0], [1.0, -0.5, 0.75]], np.float32)
    if name != "kaiser":  # kaiser of a constant beta is numpy's window
        assert np.asarray(call(x)).dtype == np.float32
    assert jit(call)(x).dtype == np.float32


def test_dtypes_of_the_other_results() -> None:
    x = np.array([3.0, 1.0], np.float32)
    assert jit(fnp.sort_complex)(x).dtype == np.complex64
    assert jit(fnp.sort_complex)(x.astype(np.float64)).dtype == np.complex128
    assert jit(lambda t: fnp.count_nonzero(t))(x).dtype == np.intp
    assert jit(lambda t: fnp.histogram(t, 2)[0])(x).dtype == np.intp
    assert jit(lambda t: fnp.digitize(t, [0.0, 2.0]))(x).dtype == np.intp
    assert jit(lambda t: fnp.heaviside(t, 0.5))(x).dtype == np.float32
    assert jit(lambda t: fnp.heaviside(fnp.astype(t, int), 1))(x).dtype == np.float64
    assert jit(lambda t: fnp.vander(fnp.astype(t, int)))(x).dtype == np.int64


# ---------------------------------------------------------------------------- numpy's functions


def test_numpy_functions_and_ufuncs_run_the_new_functions_on_traced_values() -> None:
    x = np.array([0.25, 0.5, 0.75])
    checks: list[tuple[Any, Any]] = [
        (lambda t: np.acos(t), lambda t: -1 / np.sqrt(1 - t * t)),
        (lambda t: np.pow(t, 3), lambda t: 3 * t * t),
        (lambda t: np.positive(t) * 2, lambda t: 2 * np.ones_like(t)),
        (lambda t: np.heaviside(t - 0.5, t), lambda t: np.array([0.0, 1.0, 0.0])),
        (lambda t: np.vecdot(t, t), lambda t: 2 * t),
        (lambda t: np.nanmax(t), lambda t: np.array([0.0, 0.0, 1.0])),
        (lambda t: np.nanvar(t), lambda t: 2 * (t - t.mean()) / 3),
        (lambda t: np.sum(np.cov(t, t)), lambda t: 4 * 2 * (t - t.mean()) / 2),
        (lambda t: np.interp(t, [0.0, 1.0], [0.0, 2.0]).sum(), lambda t: 2 * np.ones_like(t)),
        (lambda t: np.trapezoid(t), lambda t: np.array([0.5, 1.0, 0.5])),
        (lambda t: np.polyval(t, 2.0), lambda t: np.array([4.0, 2.0, 1.0])),
        (lambda t: np.sum(np.gradient(t)), lambda t: np.array([-1.5, 0.0, 1.5])),
        (lambda t: np.sum(np.insert(t, 1, 0.0) * np.arange(4.0)), lambda t: np.array([0, 2, 3.])),
        (lambda t: np.sum(np.apply_along_axis(np.sum, 0, t * t)), lambda t: 2 * t),
        (lambda t: np.sum(np.unique(t)), lambda t: np.ones_like(t)),
        (lambda t: np.sum(np.block([t, t])), lambda t: 2 * np.ones_like(t)),
    ]
    for f, expected in checks:
        np.testing.assert_allclose(grad(lambda t, f=f: fnp.sum(f(t)))(x), expected(x),
                                   rtol=1e-12, atol=1e-12)
    assert np.nanargmax(fnp.asarray(x)) == 2  # numpy arrays are numpy's business
    np.testing.assert_array_equal(jit(lambda t: np.searchsorted(t, 0.6))(x), 2)
    np.testing.assert_array_equal(jit(lambda t: np.matvec(np.eye(3), t))(x), x)


# ---------------------------------------------------------------------------- applying functions


def test_apply_along_axis_calls_the_function_once_per_slice_as_numpy() -> None:
    def clipped_norm(v: Any) -> Any:
        # branches on a value: fine under grad, where values are known, as in numpy
        return fnp.sum(v * v) if float(v[0]) > 0 else -fnp.sum(v)

    np.testing.assert_allclose(traced(lambda t: fnp.apply_along_axis(clipped_norm, 1, t), X),
                               np.apply_along_axis(clipped_norm, 1, X))
    np.testing.assert_allclose(grad(lambda t: fnp.sum(fnp.apply_along_axis(clipped_norm, 1, t)))(
        X), [2 * X[0], -np.ones(4), 2 * X[2]])
    with pytest.raises(ShapeError, match="apply_along_axis: func1d returned results of "
                                         "different shapes"):
        traced(lambda t: fnp.apply_along_axis(lambda v: v[: int(v[0] > 0) + 1], 1, t), X)
    with pytest.raises(ShapeError, match=r"apply_over_axes: func returned shape \(\) for axis"):
        traced(lambda t: fnp.apply_over_axes(lambda a, axis: fnp.sum(a), t, 0), X)


def test_piecewise_picks_later_conditions_and_keeps_x_dtype() -> None:
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    conditions = [x < 0, x < -1]
    np.testing.assert_array_equal(jit(lambda t: fnp.piecewise(t, conditions, [1.0, 2.0, 3.0]))(x),
                                  np.piecewise(x, conditions, [1.0, 2.0, 3.0]))
    ints = np.array([1, -2, 3])
    np.testing.assert_array_equal(
        jit(lambda t: fnp.piecewise(t, [t > 0], [lambda v: v * 1.5]))(ints),
        np.piecewise(ints, [ints > 0], [lambda v: v * 1.5]))
    with pytest.raises(ValueError, match="piecewise: 2 conditions need 2 or 3 functions, got 1"):
        jit(lambda t: fnp.piecewise(t, conditions, [1.0]))(x)


def test_fromfunction_with_a_traced_closure() -> None:
    def f(a: Any) -> Any:
        return fnp.sum(fnp.fromfunction(lambda i, j: a * i + j, (2, 3)))

    assert jit(f)(2.0) == np.sum(np.fromfunction(lambda i, j: 2.0 * i + j, (2, 3)))
    assert grad(f)(2.0) == 3.0


# ---------------------------------------------------------------------------- constants


def test_windows_indices_and_broadcast_shapes_are_numpy_constants() -> None:
    for name in ("hamming", "hanning", "blackman", "bartlett"):
        np.testing.assert_array_equal(getattr(fnp, name)(7), getattr(np, name)(7))
    np.testing.assert_array_equal(fnp.kaiser(7, 2.5), np.kaiser(7, 2.5))
    np.testing.assert_array_equal(jit(lambda b: fnp.kaiser(1, b))(2.0), [1.0])
    np.testing.assert_array_equal(fnp.indices((2, 3)), np.indices((2, 3)))
    assert fnp.broadcast_shapes((2, 1), (3,)) == (2, 3)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize("call, error, message", [
    (lambda t: fnp.matvec(t, t[:, :2]), ShapeError,
     r"matvec: shapes \(3, 4\) and \(3, 2\) are not"),
    (lambda t: fnp.vecdot(t, t[:, :2]), ShapeError, r"vecdot: vectors of lengths 4 and 2"),
    (lambda t: fnp.interp(t, [0.0, 1.0], [1.0]), ShapeError,
     r"interp: xp and fp must be 1-D of the same nonzero length"),
    (lambda t: fnp.gradient(t[:1], edge_order=2), ShapeError,
     r"gradient: axis 0 of length 1 is too short for edge_order 2"),
    (lambda t: fnp.gradient(t, 1.0, 2.0, 3.0), TypeError, r"gradient: 3 spacings for 2 axes"),
    (lambda t: fnp.gradient(t, [0.0, 1.0], 1.0), ShapeError,
     r"gradient: coordinates of length 2 do not match axis 0 of length 3"),
    (lambda t: fnp.block([[t], t]), ValueError, r"block: the lists inside arrays nest to"),
    (lambda t: fnp.block([t, (t,)]), TypeError, r"block: arrays\[1\] is a tuple"),
    (lambda t: fnp.matrix_transpose(t[0]), ShapeError, r"matrix_transpose: x must have at least"),
    (lambda t: fnp.rollaxis(t, 0, 4), ShapeError, r"rollaxis: start 4 is out of bounds"),
    (lambda t: fnp.cov(t[None]), ShapeError, r"cov: m has more than 2 dimensions"),
    (lambda t: fnp.cov(t, fweights=[1, 2]), ShapeError, r"cov: fweights of shape \(2,\)"),
    (lambda t: fnp.cov(t, fweights=[1, 2, 1.5, 1]), ValueError,
     r"cov: fweights must be non-negative integers"),
    (lambda t: fnp.polyfit(t, t[0], 1), ShapeError, r"polyfit: deg must be non-negative, x 1-D"),
    (lambda t: fnp.polyder(t[0], -1), ValueError, r"polyder: the order m must be non-negative"),
    (lambda t: fnp.polyint(t[0], 3, [1.0, 2.0]), ValueError,
     r"polyint: k must be a scalar or hold at least m=3 constants, got 2"),
    (lambda t: fnp.roots(t), ShapeError, r"roots: p must be 1-D"),
    (lambda t: fnp.poly(t), ShapeError, r"poly: the roots must be 1-D or a non-empty square"),
    (lambda t: fnp.choose(fnp.astype(t, np.intp), [t], mode=cast(Any, "other")), ValueError,
     r"choose: mode must be 'raise', 'wrap' or 'clip'"),
    (lambda t: fnp.choose(np.full((3, 4), 2), [t, t]), ValueError,
     r"choose: a has entries outside \[0, 2\) for 2 choices"),
    (lambda t: fnp.lexsort([t[0], t[1, :2]]), ShapeError,
     r"lexsort: all keys must have the same shape"),
    (lambda t: fnp.histogram(t, 0), ValueError, r"histogram: bins must be positive"),
    (lambda t: fnp.histogram(t, [1.0, 0.0]), ValueError, r"histogram: bins must increase"),
    (lambda t: fnp.histogram(t, 2, range=(1.0, 0.0)), ValueError,
     r"histogram: range \(1.0, 0.0\) must be finite and increasing"),
    (lambda t: fnp.ediff1d(t, to_end=np.array([1 + 2j])), TypeError,
     r"ediff1d: to_end of dtype complex128 cannot be cast to ary's dtype float64"),
    (lambda t: fnp.geomspace(t[0, 0], 0.0, 3), ValueError, r"geomspace: stop is zero"),
    (lambda t: fnp.positive(t > 0), TypeError, r"positive: numpy does not take bool arrays"),
    (lambda t: fnp.i0(t * 1j), TypeError, r"i0: x must be real"),
])
def test_errors_name_the_function_and_the_problem(call: Any, error: type[Exception],
                                                  message: str) -> None:
    with pytest.raises(error, match=message) as info:
        jit(call)(X)
    if error is ShapeError:
        assert re.search(r"\(at .*test_numpy_rest\.py:\d+\)", str(info.value))
