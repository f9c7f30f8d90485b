"""Reductions, scans and sorting: sum, prod, max, min, mean, var, std, ptp, average,
nansum, nanmean, all, any, argmax, argmin, cumsum, cumprod, sort, argsort, partition,
argpartition, median, quantile, percentile and logsumexp.

Signatures are numpy's without `out` (and `order`, `overwrite_input`): the parameters that
follow `out` in numpy are keyword-only here, so that no positional argument lands in a
different parameter than numpy's would.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any, Literal, TypeGuard, cast, overload

import numpy as np
from numpy.typing import DTypeLike

from funcgrad.core import Array, ArrayLike, Primitive, ShapeError, Tracer, user_location
from funcgrad.primitives import reductions as R
from funcgrad.numpy._table import (INEXACT, Axis, Row, alias, any_traced, normalize_axes,
                                   promoted_dtype, register, shape)
from funcgrad.numpy.elementwise import (absolute, add, around, astype, ceil, clip, conj, divide,
                                        equal, exp, floor, greater, greater_equal, isfinite, isnan,
                                        less, log, logical_not, minimum, multiply, not_equal, real,
                                        sign, sqrt, stop_gradient, subtract, where)
from funcgrad.numpy.indexing import getitem, take_along_axis
from funcgrad.numpy.shapes import broadcast_to, ravel, reshape, transpose

__all__ = [
    "sum", "max", "min", "amax", "amin", "prod", "mean", "var", "std", "ptp", "average",
    "nansum", "nanmean", "all", "any", "argmax", "argmin", "cumsum", "cumprod", "sort",
    "argsort", "partition", "argpartition", "median", "quantile", "percentile", "logsumexp",
]


# ---------------------------------------------------------------------------- helpers


def _array(a: ArrayLike) -> Array:
    return a if isinstance(a, Tracer) else np.asarray(a)


def _numpy_axis(name: str, axis: Axis, x: Any) -> Any:
    return axis if axis is None else normalize_axes(name, axis, np.ndim(x))


def _one_axis(name: str, axis: int | None, ndim: int) -> int | None:
    """A single axis made non-negative (None stays None)."""
    return None if axis is None else normalize_axes(name, operator.index(axis), ndim)[0]


def _python_number(x: ArrayLike) -> TypeGuard[int | float]:
    """Whether x is a Python int or float, which numpy does not let promote a's dtype."""
    return type(x) in (int, float)


def _size(dims: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return math.prod(dims[a] for a in axes)


def _float_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype numpy's mean gives: integers and bools average to float64."""
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _reduction(prim: Primitive, name: str, a: ArrayLike, axis: Axis, keepdims: bool,
               dtype: DTypeLike | None = None) -> Array:
    if not isinstance(a, Tracer):
        extra = {} if dtype is None else {"dtype": dtype}
        return np.asarray(getattr(np, name)(np.asarray(a), axis=_numpy_axis(name, axis, a),
                                            keepdims=keepdims, **extra))
    x = a if dtype is None else astype(a, dtype)
    axes = normalize_axes(name, axis, x.ndim)
    out = prim.bind(x, axes=axes) if axes else x
    if keepdims:
        out = reshape(out, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return out


# ---------------------------------------------------------------------------- reductions


def sum(a: ArrayLike, axis: Axis = None, dtype: DTypeLike | None = None, *,
        keepdims: bool = False) -> Array:
    """Sum over the given axes (all by default)."""
    return _reduction(R.reduce_sum_p, "sum", a, axis, keepdims, dtype)


def max(a: ArrayLike, axis: Axis = None, *, keepdims: bool = False) -> Array:
    """Maximum over the given axes; ties share the gradient equally."""
    return _reduction(R.reduce_max_p, "max", a, axis, keepdims)


def min(a: ArrayLike, axis: Axis = None, *, keepdims: bool = False) -> Array:
    """Minimum over the given axes; ties share the gradient equally."""
    return _reduction(R.reduce_min_p, "min", a, axis, keepdims)


def prod(a: ArrayLike, axis: Axis = None, dtype: DTypeLike | None = None, *,
         keepdims: bool = False) -> Array:
    """Product over the given axes (its gradient is exact at zeros)."""
    return _reduction(R.reduce_prod_p, "prod", a, axis, keepdims, dtype)


def mean(a: ArrayLike, axis: Axis = None, dtype: DTypeLike | None = None, *,
         keepdims: bool = False) -> Array:
    """Mean over the given axes (integers average to float64, as numpy's)."""
    if not isinstance(a, Tracer):
        return np.asarray(np.mean(a, axis=_numpy_axis("mean", axis, a), dtype=dtype,
                                  keepdims=keepdims))
    axes = normalize_axes("mean", axis, a.ndim)
    x = astype(a, _float_dtype(a.dtype) if dtype is None else dtype)
    return divide(sum(x, axes, keepdims=keepdims), _size(a.shape, axes))


def var(a: ArrayLike, axis: Axis = None, dtype: DTypeLike | None = None, *, ddof: int = 0,
        keepdims: bool = False) -> Array:
    """Variance over the given axes (ddof as numpy's); its gradient is never nan."""
    if not isinstance(a, Tracer):
        return np.asarray(np.var(a, axis=_numpy_axis("var", axis, a), dtype=dtype, ddof=ddof,
                                 keepdims=keepdims))
    x = a if dtype is None else astype(a, dtype)
    axes = normalize_axes("var", axis, x.ndim)
    centered = subtract(x, mean(x, axes, keepdims=True))
    squares = (real(multiply(centered, conj(centered))) if x.dtype.kind == "c"
               else multiply(centered, centered))
    return divide(sum(squares, axes, keepdims=keepdims), _size(a.shape, axes) - ddof)


def std(a: ArrayLike, axis: Axis = None, dtype: DTypeLike | None = None, *, ddof: int = 0,
        keepdims: bool = False) -> Array:
    """Standard deviation over the given axes (ddof as numpy's); nan gradient at 0 variance."""
    return sqrt(var(a, axis, dtype, ddof=ddof, keepdims=keepdims))


def ptp(a: ArrayLike, axis: Axis = None, *, keepdims: bool = False) -> Array:
    """Range (maximum - minimum) over the given axes; ties share the gradient equally."""
    if not isinstance(a, Tracer):
        return np.asarray(np.ptp(a, axis=_numpy_axis("ptp", axis, a), keepdims=keepdims))
    return subtract(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


def _broadcast_weights(a: Array, w: Array, axis: Axis) -> Array:
    """Weights of a's shape, or of a's shape along `axis` (in that order), ready to
    broadcast against a."""
    if shape(w) == shape(a):
        return w
    if axis is None:
        raise ShapeError(f"average: weights of shape {shape(w)} differ from a's shape "
                         f"{shape(a)}, so axis must be given" + user_location())
    given = [normalize_axes("average", ax, len(shape(a)))[0]
             for ax in ((axis,) if isinstance(axis, (int, np.integer)) else axis)]
    along = tuple(shape(a)[ax] for ax in given)
    if shape(w) != along:
        raise ShapeError(f"average: weights of shape {shape(w)} fit neither a's shape "
                         f"{shape(a)} nor its shape {along} along axis {axis}"
                         + user_location())
    kept = tuple(d if i in given else 1 for i, d in enumerate(shape(a)))
    return reshape(transpose(w, tuple(int(i) for i in np.argsort(given))), kept)


@overload
def average(a: ArrayLike, axis: Axis = None, weights: ArrayLike | None = None,
            returned: Literal[False] = False, *, keepdims: bool = False) -> Array: ...
@overload
def average(a: ArrayLike, axis: Axis = None, weights: ArrayLike | None = None, *,
            returned: Literal[True], keepdims: bool = False) -> tuple[Array, Array]: ...
@overload
def average(a: ArrayLike, axis: Axis, weights: ArrayLike | None, returned: Literal[True], *,
            keepdims: bool = False) -> tuple[Array, Array]: ...


def average(a: ArrayLike, axis: Axis = None, weights: ArrayLike | None = None,
            returned: bool = False, *, keepdims: bool = False
            ) -> Array | tuple[Array, Array]:
    """Weighted average over the given axes; returned=True also gives the sum of weights."""
    if not any_traced((a, weights)):
        # (numpy's stubs accept returned and keepdims only as literals)
        result = cast(Any, np.average)(a, axis, weights, returned, keepdims=keepdims)
        return (np.asarray(result[0]), np.asarray(result[1])) if returned else np.asarray(result)
    x = _array(a)
    if weights is None:
        avg = mean(x, axis, keepdims=keepdims)
        total: Array = np.full(shape(avg), math.prod(shape(x)) / avg.size, avg.dtype)
    else:
        w = _array(weights)
        dtype = np.result_type(x.dtype, w.dtype, *([np.float64] if x.dtype.kind in "biu" else []))
        w = astype(_broadcast_weights(x, w, axis), dtype)
        total = sum(w, axis, keepdims=keepdims)
        avg = divide(sum(multiply(astype(x, dtype), w), axis, keepdims=keepdims), total)
    return (avg, broadcast_to(total, shape(avg))) if returned else avg


def nansum(a: ArrayLike, axis: Axis = None, dtype: DTypeLike | None = None, *,
           keepdims: bool = False) -> Array:
    """Sum over the given axes with nans counted as zero (their gradient is zero)."""
    if not isinstance(a, Tracer):
        return np.asarray(np.nansum(a, axis=_numpy_axis("nansum", axis, a), dtype=dtype,
                                    keepdims=keepdims))
    if a.dtype.kind in "fc":
        a = where(isnan(a), 0, a)
    return sum(a, axis, dtype, keepdims=keepdims)


def nanmean(a: ArrayLike, axis: Axis = None, dtype: DTypeLike | None = None, *,
            keepdims: bool = False) -> Array:
    """Mean over the given axes of the elements that are not nan (zero gradient at nans)."""
    if not isinstance(a, Tracer):
        return np.asarray(np.nanmean(a, axis=_numpy_axis("nanmean", axis, a), dtype=dtype,
                                     keepdims=keepdims))
    if a.dtype.kind not in "fc":
        return mean(a, axis, dtype, keepdims=keepdims)
    total = nansum(a, axis, dtype, keepdims=keepdims)
    count = sum(equal(a, a), axis, keepdims=keepdims)
    return divide(total, astype(count, total.dtype))


def any(a: ArrayLike, axis: Axis = None, *, keepdims: bool = False) -> Array:
    """Whether any element over the given axes is true (nonzero); bool, no gradient."""
    if not isinstance(a, Tracer):
        return np.asarray(np.any(a, axis=_numpy_axis("any", axis, a), keepdims=keepdims))
    return greater(sum(astype(a, np.bool_), axis, keepdims=keepdims), 0)


def all(a: ArrayLike, axis: Axis = None, *, keepdims: bool = False) -> Array:
    """Whether every element over the given axes is true (nonzero); bool, no gradient."""
    if not isinstance(a, Tracer):
        return np.asarray(np.all(a, axis=_numpy_axis("all", axis, a), keepdims=keepdims))
    return equal(sum(logical_not(a), axis, keepdims=keepdims), 0)


def _arg_reduction(prim: Primitive, name: str, a: ArrayLike, axis: int | None,
                   keepdims: bool) -> Array:
    x = _array(a)
    ax = _one_axis(name, axis, len(shape(x)))
    if not isinstance(x, Tracer):
        return np.asarray(getattr(np, name)(x, axis=ax, keepdims=keepdims))
    result = prim.bind(ravel(x) if ax is None else x, axis=0 if ax is None else ax)
    if keepdims:
        result = reshape(result, tuple(1 if ax is None or i == ax else d
                                       for i, d in enumerate(x.shape)))
    return result


def argmax(a: ArrayLike, axis: int | None = None, *, keepdims: bool = False) -> Array:
    """Index of the (first) maximum along axis (flattened if None); not differentiable."""
    return _arg_reduction(R.argmax_p, "argmax", a, axis, keepdims)


def argmin(a: ArrayLike, axis: int | None = None, *, keepdims: bool = False) -> Array:
    """Index of the (first) minimum along axis (flattened if None); not differentiable."""
    return _arg_reduction(R.argmin_p, "argmin", a, axis, keepdims)


# ---------------------------------------------------------------------------- along an axis


def _along(name: str, a: ArrayLike, axis: int | None) -> tuple[Array, int]:
    """a and the axis to work along: a flattened for axis=None, else the axis made
    non-negative."""
    x = _array(a)
    ax = _one_axis(name, axis, len(shape(x)))
    return (ravel(x), 0) if ax is None else (x, ax)


def _scan(prim: Primitive, name: str, a: ArrayLike, axis: int | None,
          dtype: DTypeLike | None, **params: Any) -> Array:
    x, ax = _along(name, a, axis)
    if not isinstance(x, Tracer):
        return np.asarray(getattr(np, name)(x, axis=ax, dtype=dtype))
    return prim.bind(x if dtype is None else astype(x, dtype), axis=ax, **params)


def cumsum(a: ArrayLike, axis: int | None = None, dtype: DTypeLike | None = None) -> Array:
    """Cumulative sum along axis (of the flattened array if None)."""
    return _scan(R.cumsum_p, "cumsum", a, axis, dtype, reverse=False)


def cumprod(a: ArrayLike, axis: int | None = None, dtype: DTypeLike | None = None) -> Array:
    """Cumulative product along axis (flattened if None); exact gradient at zeros."""
    return _scan(R.cumprod_p, "cumprod", a, axis, dtype)


def sort(a: ArrayLike, axis: int | None = -1, kind: str | None = None, *,
         stable: bool | None = None) -> Array:
    """A sorted copy along axis (flattened if None); always stable, whatever kind says."""
    x, ax = _along("sort", a, axis)
    return R.sort_p.bind(x, axis=ax)


def argsort(a: ArrayLike, axis: int | None = -1, kind: str | None = None, *,
            stable: bool | None = None) -> Array:
    """Indices that sort a along axis (flattened if None); stable; not differentiable."""
    x, ax = _along("argsort", a, axis)
    return R.argsort_p.bind(x, axis=ax)


def _kth(name: str, kth: int | Sequence[int], n: int) -> tuple[int, ...]:
    ks = (kth,) if isinstance(kth, (int, np.integer)) else tuple(kth)
    for k in ks:
        if not -n <= k < n:
            raise ShapeError(f"{name}: kth {k} is out of bounds for an axis of length {n}"
                             + user_location())
    return tuple(int(k) % n for k in ks)


def _argpartition(name: str, x: Array, kth: int | Sequence[int], axis: int) -> Array:
    return R.argpartition_p.bind(x, kth=_kth(name, kth, shape(x)[axis]), axis=axis)


def argpartition(a: ArrayLike, kth: int | Sequence[int], axis: int | None = -1,
                 kind: str = "introselect") -> Array:
    """Indices partitioning a along axis around kth, as numpy's; not differentiable."""
    x, ax = _along("argpartition", a, axis)
    return _argpartition("argpartition", x, kth, ax)


def partition(a: ArrayLike, kth: int | Sequence[int], axis: int | None = -1,
              kind: str = "introselect") -> Array:
    """a partitioned along axis around kth: a in the order argpartition gives."""
    # np.partition may order the elements on each side of kth differently where values
    # tie: this is the order of np.argpartition, the same traced or not.
    x, ax = _along("partition", a, axis)
    return take_along_axis(x, _argpartition("partition", x, kth, ax), ax)


# ---------------------------------------------------------------------------- quantiles

# numpy's continuous methods: the virtual index n*q + alpha + q*(1 - alpha - beta) - 1
# between sorted elements, by (alpha, beta); 'linear' is (1, 1), computed as (n-1)*q.
_CONTINUOUS = {"linear": (1.0, 1.0), "interpolated_inverted_cdf": (0.0, 1.0),
               "hazen": (0.5, 0.5), "weibull": (0.0, 0.0),
               "median_unbiased": (1 / 3.0, 1 / 3.0), "normal_unbiased": (3 / 8.0, 3 / 8.0)}
_METHODS = (*_CONTINUOUS, "lower", "higher", "nearest", "midpoint")
QuantileMethod = Literal["linear", "interpolated_inverted_cdf", "hazen", "weibull",
                         "median_unbiased", "normal_unbiased", "lower", "higher", "nearest",
                         "midpoint"]
"""numpy's quantile methods that funcgrad has: all but the three discontinuous ones
('inverted_cdf', 'averaged_inverted_cdf', 'closest_observation')."""


def _check_method(name: str, method: str) -> None:
    if method not in _METHODS:
        raise ValueError(f"{name}: method {method!r} is not supported; use one of "
                         f"{', '.join(_METHODS)}" + user_location())


def _positions(method: str, n: int, q: Array) -> tuple[Array, Array, Array | None]:
    """The sorted positions a quantile lies between, and the interpolation weight of the
    upper one (None: no interpolation), as numpy computes them."""
    last = n - 1
    if method in _CONTINUOUS:
        alpha, beta = _CONTINUOUS[method]
        virtual = (multiply(last, q) if method == "linear" else
                   subtract(add(multiply(n, q), add(alpha, multiply(q, 1 - alpha - beta))), 1))
        # Outside [0, n-1] both positions are the end: the weight then does not matter.
        index = clip(virtual, 0, last)
        lo = astype(floor(index), np.intp)
        return lo, minimum(add(lo, 1), last), subtract(index, floor(index))
    index = multiply(last, q)
    lo, hi = astype(floor(index), np.intp), astype(ceil(index), np.intp)
    if method == "lower":
        return lo, lo, None
    if method == "higher":
        return hi, hi, None
    if method == "nearest":
        nearest = astype(around(index), np.intp)  # halves to even, as numpy
        return nearest, nearest, None
    return lo, hi, where(equal(lo, hi), 0.0, 0.5)  # midpoint


def _quantile(name: str, a: ArrayLike, q: ArrayLike, axis: Axis, method: str,
              keepdims: bool) -> Array:
    """quantile, percentile (q / 100) and median on traced values, as numpy computes them:
    the sorted values at the positions of q, linearly interpolated, nan where a slice
    holds a nan."""
    weak_q = _python_number(q)
    q_arr = _array(q)
    if not isinstance(q_arr, Tracer) and not np.all((q_arr >= 0) & (q_arr <= 1)):
        bounds = "[0, 100]" if name == "percentile" else "[0, 1]"
        raise ValueError(f"{name}: q must be in the range {bounds}" + user_location())
    x = _array(a)
    if x.dtype.kind == "c":
        raise TypeError(f"{name}: a must be real, got {x.dtype}" + user_location())
    dims = shape(x)
    axes = normalize_axes(name, axis, len(dims))
    kept = [i for i in range(len(dims)) if i not in axes]
    n = _size(dims, axes)
    if n == 0:
        raise ShapeError(f"{name}: no elements to take a quantile of along axis {axis} of "
                         f"an array of shape {dims}" + user_location())
    # numpy picks elements without interpolating for the discrete methods and for integer
    # q with 'linear': then the result keeps a's dtype (even an integer one).
    picked = method in ("lower", "higher", "nearest") or (
        method == "linear" and q_arr.dtype.kind in "biu")
    dtype = x.dtype if picked else np.result_type(
        _float_dtype(x.dtype), *([] if weak_q else [q_arr.dtype]))
    q_float = astype(q_arr, _float_dtype(q_arr.dtype))
    flat = reshape(transpose(x, (*kept, *axes)), (*(dims[i] for i in kept), n))
    ordered = sort(astype(flat, dtype), axis=-1)
    lo, hi, weight = _positions(method, n, q_float)
    low = getitem(ordered, (Ellipsis, lo))
    if weight is None:
        result = low
    else:
        high = getitem(ordered, (Ellipsis, hi))
        t = astype(weight, dtype)
        step = subtract(high, low)
        # numpy's lerp: from the nearer end, so that t = 0 and t = 1 give the ends exactly
        result = where(greater_equal(t, 0.5), subtract(high, multiply(step, subtract(1, t))),
                       add(low, multiply(step, t)))
    q_ndim = len(shape(q_arr))
    if dtype.kind == "f":  # nans sort last: a nan at the end means the slice has one
        end = getitem(ordered, (Ellipsis, -1))
        result = where(reshape(isnan(end), (*shape(end), *(1,) * q_ndim)), np.nan, result)
    result = transpose(result, (*range(len(kept), len(kept) + q_ndim), *range(len(kept))))
    if keepdims:
        result = reshape(result, (*shape(q_arr), *(1 if i in axes else d
                                                     for i, d in enumerate(dims))))
    return result


def quantile(a: ArrayLike, q: ArrayLike, axis: Axis = None, *,
             method: QuantileMethod = "linear", keepdims: bool = False) -> Array:
    """The q-th quantiles (q in [0, 1], may be traced) over the given axes, as numpy's."""
    _check_method("quantile", method)
    if not any_traced((a, q)):
        # q as given: numpy lets a Python number keep a's dtype
        return np.asarray(np.quantile(np.asarray(a), cast(Any, q),
                                      axis=_numpy_axis("quantile", axis, a), method=method,
                                      keepdims=keepdims))
    return _quantile("quantile", a, q, axis, method, keepdims)


def percentile(a: ArrayLike, q: ArrayLike, axis: Axis = None, *,
               method: QuantileMethod = "linear", keepdims: bool = False) -> Array:
    """The q-th percentiles (q in [0, 100]) over the given axes: quantile(a, q / 100)."""
    _check_method("percentile", method)
    if not any_traced((a, q)):
        return np.asarray(np.percentile(np.asarray(a), cast(Any, q),
                                        axis=_numpy_axis("percentile", axis, a), method=method,
                                        keepdims=keepdims))
    return _quantile("percentile", a, q / 100 if _python_number(q) else divide(q, 100),
                     axis, method, keepdims)


def median(a: ArrayLike, axis: Axis = None, *, keepdims: bool = False) -> Array:
    """Median over the given axes; two middle elements share the gradient."""
    if not isinstance(a, Tracer):
        return np.asarray(np.median(a, axis=_numpy_axis("median", axis, a), keepdims=keepdims))
    return _quantile("median", a, 0.5, axis, "midpoint", keepdims)


# ---------------------------------------------------------------------------- logsumexp


@overload
def logsumexp(a: ArrayLike, axis: Axis = None, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[False] = False) -> Array: ...
@overload
def logsumexp(a: ArrayLike, axis: Axis = None, b: ArrayLike | None = None,
              keepdims: bool = False, *, return_sign: Literal[True]) -> tuple[Array, Array]: ...
@overload
def logsumexp(a: ArrayLike, axis: Axis, b: ArrayLike | None, keepdims: bool,
              return_sign: Literal[True]) -> tuple[Array, Array]: ...


def logsumexp(a: ArrayLike, axis: Axis = None, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: bool = False
              ) -> Array | tuple[Array, Array]:
    """log(sum(b * exp(a))) over the given axes, without overflow, as scipy's and JAX's."""
    a = _array(a)
    if b is None:
        x = astype(a, promoted_dtype(INEXACT, (a,)))
    else:
        b = b if _python_number(b) else _array(b)  # a Python number stays weak
        dtype = promoted_dtype(INEXACT, (a, b))
        b = astype(b, dtype)
        x = where(not_equal(b, 0), astype(a, dtype), -np.inf)
    if x.dtype.kind == "c":
        raise TypeError("logsumexp: a must be real" + user_location())
    axes = normalize_axes("logsumexp", axis, len(shape(x)))
    # The shift cancels in value and gradient, so it is not differentiated; a slice without
    # a finite maximum (all -inf, or an inf) is shifted by 0 instead.
    shift = stop_gradient(max(x, axes, keepdims=True))
    shift = where(isfinite(shift), shift, 0)
    terms = exp(subtract(x, shift))
    total = sum(terms if b is None else multiply(terms, b), axes, keepdims=keepdims)
    total_sign = sign(total)
    result = add(log(absolute(total)), shift if keepdims else reshape(shift, shape(total)))
    if b is not None and not return_sign:
        result = where(less(total_sign, 0), np.nan, result)
    # (of numpy arrays, 0-d arrays rather than numpy scalars, as numpy's reductions give)
    return (_array(result), _array(total_sign)) if return_sign else _array(result)


register([
    Row("sum", sum, methods=("sum",)),
    Row("max", max, methods=("max",)),
    Row("min", min, methods=("min",)),
    Row("prod", prod, methods=("prod",)),
    Row("mean", mean, methods=("mean",)),
    Row("var", var, methods=("var",)),
    Row("std", std, methods=("std",)),
    Row("ptp", ptp),
    Row("average", average),
    Row("nansum", nansum),
    Row("nanmean", nanmean),
    Row("any", any, methods=("any",)),
    Row("all", all, methods=("all",)),
    Row("argmax", argmax, methods=("argmax",)),
    Row("argmin", argmin, methods=("argmin",)),
    Row("cumsum", cumsum, methods=("cumsum",)),
    Row("cumprod", cumprod, methods=("cumprod",)),
    # t.sort() returns the sorted array, as JAX's (numpy's ndarray.sort sorts in place)
    Row("sort", sort, methods=("sort",)),
    Row("argsort", argsort, methods=("argsort",)),
    Row("partition", partition),
    Row("argpartition", argpartition, methods=("argpartition",)),
    Row("quantile", quantile),
    Row("percentile", percentile),
    Row("median", median),
    Row("logsumexp", logsumexp),
])
amax = alias("amax", max)
amin = alias("amin", min)
