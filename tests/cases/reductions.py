"""Cases of the reductions: every axis choice with and without keepdims, and extras: scans,
sorting, quantiles, nan-ignoring reductions, average and logsumexp. Functions with integer
or bool results (argsort, argpartition, argmax, all, any) appear inside differentiable
expressions, so that they too are run under every transformation."""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from cases.base import Case, Gen, NDArray, case, distinct, normal, uniform


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
