"""Cases of the reductions: every axis choice with and without keepdims, and extras: scans,
sorting, quantiles, nan-ignoring reductions, average and logsumexp. Functions with integer
or bool results (argsort, argpartition, argmax, all, any) appear inside differentiable
expressions, so that they too are run under every transformation."""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from cases.base import Case, Gen, NDArray, case, distinct, normal, uniform
from cases.elementwise import between_integers


REDUCTIONS = ["sum", "mean", "max", "min", "prod", "var", "std", "ptp"]
AXES: list[int | tuple[int, ...] | None] = [
    None, 0, 1, 2, -1, -3, (0, 1), (0, 2), (1, 2), (0, 1, 2), (-1, 0), (2, -2), ()]


def reduction(name: str, axis: int | tuple[int, ...] | None, keepdims: bool) -> Case:
    fn = getattr(fnp, name)
    ref = getattr(np, name)
    return Case(f"{name}_axis{axis}_keepdims{keepdims}",
                lambda x: fn(x, axis=axis, keepdims=keepdims),
                lambda x: ref(x, axis=axis, keepdims=keepdims),
                # distinct values: max/min have no ties; values near +-1 keep prod tame
                (lambda rng: distinct(2, 3, 4)(rng) / 3.0,))


# std over no axes is identically 0, where sqrt has no derivative (nan, as in JAX): skipped.
REDUCTION_CASES = [reduction(n, a, k) for n in REDUCTIONS for a in AXES for k in (True, False)
                   if not (n == "std" and a == ())]


def with_nans(*shape: int) -> Gen:
    """Standard normal values with a nan in every third place (no slice is all nan)."""
    holes = np.arange(int(np.prod(shape))).reshape(shape) % 3 == 1
    return lambda rng: np.where(holes, np.nan, rng.standard_normal(shape))


def with_zeros(*shape: int) -> Gen:
    """Values in +-[0.5, 2) with zeros in fixed places, two of them in one row."""
    zeros = np.zeros(shape, bool)
    zeros.flat[[1, 3, 6]] = True
    return lambda rng: np.where(zeros, 0.0, rng.uniform(0.5, 2.0, shape)
                                * rng.choice([-1.0, 1.0], shape))


def positive(*shape: int) -> Gen:
    """Weights in [0.5, 2)."""
    return uniform(0.5, 2.0, *shape)


def as_float(i: Any, x: Any) -> Any:
    """Integer or bool results as x's float dtype, to take part in a differentiable case."""
    return fnp.astype(i, x.dtype)


def np_logsumexp(a: NDArray, axis: Any = None, b: Any = None, keepdims: bool = False) -> Any:
    """The reference for moderate inputs: the formula itself."""
    return np.log(np.sum(np.exp(a) * (1.0 if b is None else b), axis=axis, keepdims=keepdims))


def np_logsumexp_with_sign(a: NDArray, axis: int, b: Any) -> list[NDArray]:
    """[log |sum(b * exp(a))|, its sign]."""
    total = np.sum(np.exp(a) * b, axis=axis)
    return [np.log(np.abs(total)), np.sign(total)]


def parts_of(z: Any) -> tuple[Any, Any]:
    """The real and imaginary parts of a complex result."""
    return fnp.real(z), fnp.imag(z)


def q_like(x: Any) -> NDArray:
    """Quantiles in x's dtype (a float64 q array would make numpy's result float64)."""
    return np.array([[0.1, 0.5], [0.75, 0.9]], x.dtype)

SCANS = [
    case("cumsum_flat", fnp.cumsum, np.cumsum, normal(3, 4)),
    case("cumsum_axis1", lambda x: fnp.cumsum(x, 1), lambda x: np.cumsum(x, 1), normal(3, 4)),
    case("cumsum_axis_negative", lambda x: fnp.cumsum(x, axis=-3),
         lambda x: np.cumsum(x, axis=-3), normal(3, 2, 2)),
    case("cumsum_method", lambda x: x.cumsum(0), lambda x: x.cumsum(0), normal(3, 4)),
    case("cumprod_flat", fnp.cumprod, np.cumprod, uniform(0.5, 1.5, 3, 4)),
    case("cumprod_axis0", lambda x: fnp.cumprod(x, 0), lambda x: np.cumprod(x, 0),
         normal(5, 2)),
    case("cumprod_long_axis", lambda x: fnp.cumprod(x, axis=-1), lambda x: np.cumprod(x, -1),
         uniform(0.7, 1.4, 2, 9)),
    case("cumprod_with_zeros", lambda x: fnp.cumprod(x, axis=1),
         lambda x: np.cumprod(x, axis=1), with_zeros(2, 5)),
    case("cumprod_method", lambda x: x.cumprod(1), lambda x: x.cumprod(1), normal(2, 3)),
]

SORTING = [
    case("sort_last_axis", fnp.sort, np.sort, distinct(3, 4)),
    case("sort_axis0", lambda x: fnp.sort(x, 0), lambda x: np.sort(x, 0), distinct(3, 4)),
    case("sort_flat_kind", lambda x: fnp.sort(x, axis=None, kind="heapsort"),
         lambda x: np.sort(x, axis=None), distinct(2, 3)),
    case("argsort_gathers_sort", lambda x: x[fnp.argsort(x)], lambda x: np.sort(x),
         distinct(5)),
    case("argsort_as_weights", lambda x: x * as_float(fnp.argsort(x, axis=0), x),
         lambda x: x * np.argsort(x, axis=0), distinct(3, 4)),
    case("argsort_method", lambda x: x * as_float(x.argsort(), x),
         lambda x: x * x.argsort(), distinct(2, 3)),
    case("partition_kth", lambda x: fnp.partition(x, 2), lambda x: np.partition(x, 2),
         distinct(3, 5)),
    case("partition_kth_list_axis0", lambda x: fnp.partition(x, [0, -1], axis=0),
         lambda x: np.partition(x, [0, -1], axis=0), distinct(4, 3)),
    case("partition_flat", lambda x: fnp.partition(x, 3, axis=None),
         lambda x: np.partition(x, 3, axis=None), distinct(2, 4)),
    case("argpartition_as_weights", lambda x: x * as_float(fnp.argpartition(x, 1), x),
         lambda x: x * np.argpartition(x, 1), distinct(3, 4)),
    case("argmax_keepdims", lambda x: x * as_float(fnp.argmax(x, axis=1, keepdims=True), x),
         lambda x: x * np.argmax(x, axis=1, keepdims=True), distinct(3, 4)),
    case("argmin_flat_keepdims", lambda x: x * as_float(fnp.argmin(x, keepdims=True), x),
         lambda x: x * np.argmin(x, keepdims=True), distinct(3, 4)),
    case("argmax_negative_axis", lambda x: x * as_float(x.argmax(-2), x),
         lambda x: x * x.argmax(-2), distinct(3, 4)),
]

QUANTILES = [
    case("median_flat", fnp.median, np.median, distinct(3, 4)),
    case("median_odd_axis", lambda x: fnp.median(x, axis=0), lambda x: np.median(x, axis=0),
         distinct(3, 4)),
    case("median_axes_keepdims", lambda x: fnp.median(x, axis=(0, 2), keepdims=True),
         lambda x: np.median(x, axis=(0, 2), keepdims=True), distinct(2, 3, 4)),
    case("quantile_scalar", lambda x: fnp.quantile(x, 0.3), lambda x: np.quantile(x, 0.3),
         distinct(3, 4)),
    case("quantile_array_axis", lambda x: fnp.quantile(x, q_like(x), axis=1),
         lambda x: np.quantile(x, q_like(x), axis=1), distinct(3, 5)),
    case("quantile_axes_keepdims",
         lambda x: fnp.quantile(x, q_like(x)[0], axis=(-1, 0), keepdims=True),
         lambda x: np.quantile(x, q_like(x)[0], axis=(-1, 0), keepdims=True), distinct(2, 3, 4)),
    case("quantile_traced_q", lambda x, q: fnp.quantile(x, q, axis=0),
         lambda x, q: np.quantile(x, q, axis=0), distinct(6, 2), uniform(0.25, 0.35, 3)),
    case("percentile", lambda x: fnp.percentile(x, 100 * q_like(x)[1], axis=-1),
         lambda x: np.percentile(x, 100 * q_like(x)[1], axis=-1), distinct(2, 5)),
    case("percentile_traced_q", fnp.percentile, np.percentile, distinct(7), uniform(40, 45)),
] + [
    case(f"quantile_{method}", lambda x, method=method: fnp.quantile(x, q_like(x), method=method),
         lambda x, method=method: np.quantile(x, q_like(x), method=method), distinct(9))
    for method in ("interpolated_inverted_cdf", "hazen", "weibull", "median_unbiased",
                   "normal_unbiased", "lower", "higher", "nearest", "midpoint")
]

OTHERS = [
    case("var_ddof1", lambda x: fnp.var(x, axis=1, ddof=1), lambda x: np.var(x, axis=1, ddof=1),
         normal(2, 3, 4)),
    case("std_ddof1_keepdims", lambda x: fnp.std(x, axis=(0, 2), ddof=1, keepdims=True),
         lambda x: np.std(x, axis=(0, 2), ddof=1, keepdims=True), normal(2, 3, 4)),
    case("sum_method", lambda x: x.sum(axis=0), lambda x: x.sum(axis=0), normal(2, 3)),
    case("mean_method", lambda x: x.mean(-1, keepdims=True),
         lambda x: x.mean(-1, keepdims=True), normal(2, 3)),
    case("max_method", lambda x: x.max(1), lambda x: x.max(1), distinct(2, 3)),
    case("min_method", lambda x: x.min(), lambda x: x.min(), distinct(2, 3)),
    case("prod_method", lambda x: x.prod(0), lambda x: x.prod(0), normal(2, 3)),
    case("prod_with_a_zero", fnp.prod, np.prod, lambda rng: np.array([0.0, 2.0, -1.5, 0.5])),
    case("var_method", lambda x: x.var(0), lambda x: x.var(0), normal(3, 2)),
    case("std_method", lambda x: x.std(), lambda x: x.std(), normal(3, 2)),
    case("sum_0d", fnp.sum, np.sum, normal()),
    case("amax", lambda x: fnp.amax(x, 0), lambda x: np.amax(x, 0), distinct(3, 2)),
    case("nansum_flat", fnp.nansum, np.nansum, with_nans(3, 4)),
    case("nansum_axis_keepdims", lambda x: fnp.nansum(x, axis=0, keepdims=True),
         lambda x: np.nansum(x, axis=0, keepdims=True), with_nans(3, 4)),
    case("nanmean_flat", fnp.nanmean, np.nanmean, with_nans(3, 4)),
    case("nanmean_axes", lambda x: fnp.nanmean(x, axis=(0, -1)),
         lambda x: np.nanmean(x, axis=(0, -1)), with_nans(2, 3, 4)),
    case("average_plain", lambda x: fnp.average(x, axis=1), lambda x: np.average(x, axis=1),
         normal(3, 4)),
    case("average_weights_like_a", lambda x, w: fnp.average(x, weights=w),
         lambda x, w: np.average(x, weights=w), normal(3, 4), positive(3, 4)),
    case("average_weights_along_axes", lambda x, w: fnp.average(x, (2, 0), w, keepdims=True),
         lambda x, w: np.average(x, (2, 0), w, keepdims=True), normal(2, 3, 4), positive(4, 2)),
    case("average_returned", lambda x, w: list(fnp.average(x, -1, w, returned=True)),
         lambda x, w: list(np.average(x, -1, w, returned=True)), normal(3, 4), positive(4)),
    case("all_any_select", lambda x: fnp.where(fnp.any(x > 0.1, axis=0), x, -x)
         * fnp.where(fnp.all(x < 1.1, axis=1, keepdims=True), 2.0, x),
         lambda x: np.where(np.any(x > 0.1, axis=0), x, -x)
         * np.where(np.all(x < 1.1, axis=1, keepdims=True), 2.0, x), distinct(3, 4)),
    case("all_any_methods",
         lambda x: fnp.where(fnp.logical_and((x > 0.1).any(0), (x < 9.0).all()), x, -x),
         lambda x: np.where(np.logical_and((x > 0.1).any(0), (x < 9.0).all()), x, -x),
         distinct(2, 3)),
    case("logsumexp_flat", fnp.logsumexp, np_logsumexp, normal(3, 4)),
    case("logsumexp_axis_keepdims", lambda x: fnp.logsumexp(x, axis=(0, 2), keepdims=True),
         lambda x: np_logsumexp(x, axis=(0, 2), keepdims=True), normal(2, 3, 4)),
    case("logsumexp_b", lambda x, b: fnp.logsumexp(x, -1, b),
         lambda x, b: np_logsumexp(x, -1, b), normal(3, 4), positive(3, 4)),
    case("logsumexp_return_sign", lambda x, b: list(fnp.logsumexp(x, 0, b, return_sign=True)),
         lambda x, b: np_logsumexp_with_sign(x, 0, b), normal(3, 4),
         lambda rng: np.array([1.0, -3.0, 0.5, -1.0])),
]

EXTRA_REDUCTIONS = SCANS + SORTING + QUANTILES + OTHERS


SORTED = np.array([-1.3, -0.2, 0.4, 0.4, 1.1])  # with a repeated value
KNOTS = np.array([-1.0, 0.0, 0.5, 2.0])
COUNTED = np.array([0, 3, 3, 1, 6, 3])


def between_knots(*shape: int) -> Gen:
    """Values in [-1.5, 2.5] at least 0.05 from every knot of KNOTS (and from 0.45 and 1.25,
    the knots of SORTED near them), where interp and searchsorted have no jumps nearby."""
    def draw(rng: np.random.Generator) -> NDArray:
        x = rng.uniform(-1.5, 2.5, shape)
        near = np.min(np.abs(x[..., None] - np.concatenate([KNOTS, SORTED])), axis=-1) < 0.05
        return np.where(near, x + 0.1, x)
    return draw


def rising(*shape: int) -> Gen:
    """Increasing values along the last axis (steps in [0.3, 1])."""
    return lambda rng: np.cumsum(rng.uniform(0.3, 1.0, shape), axis=-1) - 1.0


def nan_rows(*shape: int) -> Gen:
    """with_nans, and more nans: a row with a single value left."""
    def draw(rng: np.random.Generator) -> NDArray:
        x = with_nans(*shape)(rng)
        x[0, 1:] = np.nan
        return x
    return draw


NAN_REDUCTIONS = [
    case("nanmax_axis", lambda x: fnp.nanmax(x, axis=1), lambda x: np.nanmax(x, axis=1),
         with_nans(3, 4)),
    case("nanmin_keepdims", lambda x: fnp.nanmin(x, axis=0, keepdims=True),
         lambda x: np.nanmin(x, axis=0, keepdims=True), with_nans(3, 4)),
    case("nanmax_flat", fnp.nanmax, np.nanmax, with_nans(2, 3)),
    case("nanprod", lambda x: fnp.nanprod(x, axis=-1), lambda x: np.nanprod(x, axis=-1),
         with_nans(3, 4)),
    case("nanvar_ddof", lambda x: fnp.nanvar(x, axis=1, ddof=1),
         lambda x: np.nanvar(x, axis=1, ddof=1), with_nans(3, 5)),
    case("nanvar_flat_keepdims", lambda x: fnp.nanvar(x, keepdims=True),
         lambda x: np.nanvar(x, keepdims=True), with_nans(3, 4)),
    case("nanstd_axes", lambda x: fnp.nanstd(x, axis=(0, 2)),
         lambda x: np.nanstd(x, axis=(0, 2)), with_nans(2, 3, 4)),
    case("nanmedian_axis", lambda x: fnp.nanmedian(x, axis=1),
         lambda x: np.nanmedian(x, axis=1), nan_rows(3, 5)),
    case("nanmedian_flat", fnp.nanmedian, np.nanmedian, with_nans(3, 4)),
    case("nanquantile_q_array", lambda x: fnp.nanquantile(x, q_like(x)[0], axis=0),
         lambda x: np.nanquantile(x, q_like(x)[0], axis=0), with_nans(5, 4)),
    case("nanpercentile_method", lambda x: fnp.nanpercentile(x, 40, axis=-1, method="hazen"),
         lambda x: np.nanpercentile(x, 40, axis=-1, method="hazen"), nan_rows(3, 6)),
    case("nanargmax_nanargmin_as_weights",
         lambda x: fnp.nan_to_num(x) * (as_float(fnp.nanargmax(x, axis=1, keepdims=True), x)
                                        + as_float(fnp.nanargmin(x, 0), x)),
         lambda x: np.nan_to_num(x) * (np.nanargmax(x, axis=1, keepdims=True)
                                       + np.nanargmin(x, 0)), with_nans(3, 4)),
    case("nancumsum", lambda x: fnp.nancumsum(x, 1), lambda x: np.nancumsum(x, 1),
         with_nans(3, 4)),
    case("nancumprod_flat", fnp.nancumprod, np.nancumprod, with_nans(2, 3)),
]

MORE_REDUCTIONS = [
    case("cumulative_sum_initial", lambda x: fnp.cumulative_sum(x, axis=1, include_initial=True),
         lambda x: np.cumulative_sum(x, axis=1, include_initial=True), normal(2, 3)),
    case("cumulative_prod_1d", fnp.cumulative_prod, np.cumulative_prod, uniform(0.5, 1.5, 5)),
    case("count_nonzero_as_weights",
         lambda x: x * as_float(fnp.count_nonzero(x > 0, axis=0, keepdims=True), x)
         + as_float(fnp.count_nonzero(x > 0.5), x),
         lambda x: x * np.count_nonzero(x > 0, axis=0, keepdims=True)
         + np.count_nonzero(x > 0.5), distinct(3, 4, offset=0.125)),
    case("allclose_array_equal_array_equiv_select",
         lambda x: fnp.where(fnp.allclose(x, x + 1e-9), x, -x)
         + fnp.where(fnp.array_equal(x, fnp.sort(x)), 2 * x, x)
         + fnp.where(fnp.array_equiv(x, x[0]), 3 * x, x),
         lambda x: np.where(np.allclose(x, x + 1e-9), x, -x)
         + np.where(np.array_equal(x, np.sort(x)), 2 * x, x)
         + np.where(np.array_equiv(x, x[0]), 3 * x, x), distinct(3, 4)),
    case("isin_selects", lambda x: fnp.where(fnp.isin(fnp.round(x), [0.0, 2.0, -1.0]), x, -x)
         + fnp.where(fnp.isin(x, x[0], invert=True), 2 * x, x),
         lambda x: np.where(np.isin(np.round(x), [0.0, 2.0, -1.0]), x, -x)
         + np.where(np.isin(x, x[0], invert=True), 2 * x, x), between_integers(3, 4)),
    case("lexsort_gathers", lambda x: fnp.take_along_axis(x, fnp.lexsort((x, fnp.floor(x))), -1),
         lambda x: np.take_along_axis(x, np.lexsort((x, np.floor(x))), -1), distinct(2, 6)),
    case("sort_complex", lambda x, y: list(parts_of(fnp.sort_complex(x + 1j * y))),
         lambda x, y: list(parts_of(np.sort_complex(x + 1j * y))), distinct(2, 5), normal(2, 5)),
    case("searchsorted_as_weights",
         lambda x: x * as_float(fnp.searchsorted(SORTED, x), x)
         + as_float(fnp.searchsorted(SORTED, x, side="right"), x),
         lambda x: x * np.searchsorted(SORTED, x) + np.searchsorted(SORTED, x, side="right"),
         between_knots(2, 3)),
    case("searchsorted_traced_sorter",
         lambda a, v: v * as_float(fnp.searchsorted(a, v, sorter=fnp.argsort(a)), v),
         lambda a, v: v * np.searchsorted(a, v, sorter=np.argsort(a)), distinct(6),
         distinct(4, offset=0.125)),
    case("digitize_as_weights",
         lambda x: x * as_float(fnp.digitize(x, KNOTS) + fnp.digitize(x, KNOTS[::-1], True), x),
         lambda x: x * (np.digitize(x, KNOTS) + np.digitize(x, KNOTS[::-1], True)),
         between_knots(2, 3)),
    case("digitize_traced_bins", lambda x, b: x * as_float(fnp.digitize(x, b), x),
         lambda x, b: x * np.digitize(x, b), distinct(2, 3, offset=0.125), rising(4)),
    # (numpy's interp computes in float64; funcgrad keeps float32, as JAX)
    case("interp", lambda x, f: fnp.interp(x, KNOTS.astype(x.dtype), f),
         lambda x, f: np.interp(x, KNOTS, f).astype(x.dtype), between_knots(2, 5), normal(4)),
    case("interp_left_right", lambda x, f, e: fnp.interp(x, KNOTS.astype(x.dtype), f, e[0], e[1]),
         lambda x, f, e: np.interp(x, KNOTS, f, e[0], e[1]).astype(x.dtype), between_knots(6),
         normal(4), normal(2)),
    case("interp_traced_knots", lambda x, k: fnp.interp(x, k, KNOTS.astype(x.dtype)),
         lambda x, k: np.interp(x, k, KNOTS).astype(x.dtype), uniform(-0.7, 1.5, 5), rising(4)),
    case("interp_period", lambda x, f: fnp.interp(x, KNOTS.astype(x.dtype), f, period=2.5),
         lambda x, f: np.interp(x, KNOTS, f, period=2.5).astype(x.dtype), between_knots(5),
         normal(4)),
    case("trapezoid", fnp.trapezoid, np.trapezoid, normal(3, 4)),
    case("trapezoid_x_axis", lambda y, x: fnp.trapezoid(y, x, axis=0),
         lambda y, x: np.trapezoid(y, x, axis=0), normal(4, 3), rising(4)),
    case("trapezoid_dx", lambda y, d: fnp.trapezoid(y, dx=d), lambda y, d: np.trapezoid(y, dx=d),
         normal(2, 5), normal()),
    case("unwrap", lambda x: fnp.unwrap(x * 3), lambda x: np.unwrap(x * 3), normal(2, 6)),
    case("unwrap_axis_period", lambda x: fnp.unwrap(x * 3, 2.0, axis=0, period=4.0),
         lambda x: np.unwrap(x * 3, 2.0, axis=0, period=4.0), normal(5, 2)),
    case("histogram_weights", lambda x, w: fnp.concatenate(fnp.histogram(x, 4, weights=w)),
         lambda x, w: np.concatenate(np.histogram(x, 4, weights=w)), distinct(3, 4),
         normal(3, 4)),
    case("histogram_edges_density",
         lambda x, w: fnp.histogram(x, KNOTS.astype(x.dtype), density=True, weights=w)[0],
         lambda x, w: np.histogram(x, KNOTS.astype(x.dtype), density=True, weights=w)[0],
         between_knots(8), positive(8)),
    case("histogram_counts_as_weights",
         lambda x: x[:4] * as_float(fnp.histogram(x, 4, range=(-1.0, 1.0))[0], x),
         lambda x: x[:4] * np.histogram(x, 4, range=(-1.0, 1.0))[0], between_knots(9)),
    case("histogram_bin_edges", lambda x: fnp.histogram_bin_edges(x, 5),
         lambda x: np.histogram_bin_edges(x, 5), normal(3, 4)),
    case("bincount_weights", lambda w: fnp.bincount(COUNTED, w, minlength=8),
         lambda w: np.bincount(COUNTED, w, minlength=8), normal(6), f32=False),
]

EXTRA_REDUCTIONS += NAN_REDUCTIONS + MORE_REDUCTIONS

# unique of constants inside differentiable expressions (of traced values it needs known
# values: tests/test_numpy_rest.py)
UNIQUE_CASES = [
    case("unique_gathers", lambda x: x[fnp.unique(COUNTED)], lambda x: x[np.unique(COUNTED)],
         normal(7)),
    case("unique_values", lambda x: x[fnp.unique_values(COUNTED)],
         lambda x: x[np.unique(COUNTED)], normal(7)),
    case("unique_counts", lambda x: x[:4] * as_float(fnp.unique_counts(COUNTED).counts, x),
         lambda x: x[:4] * np.unique_counts(COUNTED).counts, normal(7)),
    case("unique_inverse", lambda x: x[fnp.unique_inverse(COUNTED).inverse_indices],
         lambda x: x[np.unique_inverse(COUNTED).inverse_indices], normal(7)),
    case("unique_all", lambda x: x[:4] * as_float(fnp.unique_all(COUNTED).indices, x),
         lambda x: x[:4] * np.unique_all(COUNTED).indices, normal(7)),
]
EXTRA_REDUCTIONS += UNIQUE_CASES
