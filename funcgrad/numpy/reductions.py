"""Reductions, scans and sorting: sum, prod, max, min, mean, var, std, ptp, average, the
nan-ignoring reductions (nansum, nanmax, nanvar, nanmedian, nanquantile, nanargmax,
nancumsum, ...), all, any, count_nonzero, allclose, array_equal, argmax, argmin, cumsum,
cumprod, cumulative_sum, sort, argsort, lexsort, partition, argpartition, median,
quantile, percentile and logsumexp; searching and interpolating in sorted arrays
(searchsorted, digitize, interp), trapezoid and unwrap; and the value-dependent ones:
histogram, bincount and unique.

Signatures are numpy's without `out` (and `order`, `overwrite_input`): the parameters that
follow `out` in numpy are keyword-only here, so that no positional argument lands in a
different parameter than numpy's would.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, TypeGuard, cast, overload

import numpy as np
from numpy.typing import DTypeLike

from funcgrad.core import Array, ArrayLike, Primitive, ShapeError, Tracer, user_location
from funcgrad.primitives import reductions as R
from funcgrad.numpy._table import (INEXACT, Axis, Row, alias, any_traced, contains_tracer,
                                   dtype_or_scalar, inexact_dtype, normalize_axes,
                                   promoted_dtype, register, shape)
from funcgrad.numpy.creation import linspace
from funcgrad.numpy.elementwise import (absolute, add, around, astype, ceil, clip, concrete_value,
                                        conj, divide, equal, exp, floor, greater, greater_equal,
                                        isclose, isfinite, isnan, less, less_equal, log,
                                        logical_and, logical_not, logical_or, minimum, mod,
                                        multiply, not_equal, operand, real, sign, sqrt,
                                        stop_gradient, subtract, where, Values)
from funcgrad.numpy.indexing import at, getitem, take, take_along_axis
from funcgrad.numpy.shapes import (broadcast_to, concatenate, diff, expand_dims, ravel, reshape,
                                   transpose)

__all__ = [
    "sum", "max", "min", "amax", "amin", "prod", "mean", "var", "std", "ptp", "average",
    "nansum", "nanmean", "all", "any", "argmax", "argmin", "cumsum", "cumprod", "sort",
    "argsort", "partition", "argpartition", "median", "quantile", "percentile", "logsumexp",
    "nanmax", "nanmin", "nanprod", "nanvar", "nanstd", "nanmedian", "nanquantile",
    "nanpercentile", "nanargmax", "nanargmin", "nancumsum", "nancumprod", "cumulative_sum",
    "cumulative_prod", "count_nonzero", "allclose", "array_equal", "array_equiv", "isin",
    "lexsort", "sort_complex", "searchsorted", "digitize", "interp", "trapezoid", "unwrap",
    "histogram", "histogram_bin_edges", "bincount", "unique", "unique_values",
    "unique_counts", "unique_inverse", "unique_all",
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


def _without_nans(x: Array, fill: float) -> tuple[Array, Array | None]:
    """x with its nans replaced by fill, and where they were (None for dtypes without
    nans). The replaced elements get a zero gradient."""
    if x.dtype.kind not in "fc":
        return x, None
    missing = isnan(x)
    return where(missing, fill, x), missing


def _nan_extremum(reduce: Any, name: str, a: ArrayLike, axis: Axis, keepdims: bool,
                  fill: float) -> Array:
    if not isinstance(a, Tracer):
        return np.asarray(getattr(np, name)(a, axis=_numpy_axis(name, axis, a),
                                            keepdims=keepdims))
    filled, missing = _without_nans(a, fill)
    result: Array = reduce(filled, axis, keepdims=keepdims)
    if missing is None:
        return result
    return where(all(missing, axis, keepdims=keepdims), np.nan, result)


def nanmax(a: ArrayLike, axis: Axis = None, *, keepdims: bool = False) -> Array:
    """Maximum over the given axes ignoring nans (nan where a slice is all nan); ties share
    the gradient, nans get none."""
    return _nan_extremum(max, "nanmax", a, axis, keepdims, -np.inf)


def nanmin(a: ArrayLike, axis: Axis = None, *, keepdims: bool = False) -> Array:
    """Minimum over the given axes ignoring nans (nan where a slice is all nan); ties share
    the gradient, nans get none."""
    return _nan_extremum(min, "nanmin", a, axis, keepdims, np.inf)


def nanprod(a: ArrayLike, axis: Axis = None, dtype: DTypeLike | None = None, *,
            keepdims: bool = False) -> Array:
    """Product over the given axes with nans counted as one (their gradient is zero)."""
    if not isinstance(a, Tracer):
        return np.asarray(np.nanprod(a, axis=_numpy_axis("nanprod", axis, a), dtype=dtype,
                                     keepdims=keepdims))
    return prod(_without_nans(a, 1.0)[0], axis, dtype, keepdims=keepdims)


def nanvar(a: ArrayLike, axis: Axis = None, dtype: DTypeLike | None = None, *, ddof: int = 0,
           keepdims: bool = False) -> Array:
    """Variance over the given axes of the elements that are not nan (nan where fewer than
    ddof + 1 are left); nans get a zero gradient."""
    if not isinstance(a, Tracer):
        return np.asarray(np.nanvar(a, axis=_numpy_axis("nanvar", axis, a), dtype=dtype,
                                    ddof=ddof, keepdims=keepdims))
    x = a if dtype is None else astype(a, dtype)
    filled, missing = _without_nans(x, 0.0)
    if missing is None:
        return var(x, axis, ddof=ddof, keepdims=keepdims)
    real_dtype = real(filled).dtype
    count = astype(sum(logical_not(missing), axis, keepdims=True), real_dtype)
    # Divisors of empty slices are made 1 (their result is nan anyway), so that no
    # gradient divides by zero.
    centered = where(missing, 0, subtract(filled, divide(sum(filled, axis, keepdims=True),
                                                         where(equal(count, 0), 1, count))))
    squares = (real(multiply(centered, conj(centered))) if x.dtype.kind == "c"
               else multiply(centered, centered))
    dof = subtract(count, ddof)
    valid = greater(dof, 0)
    result = where(valid, divide(sum(squares, axis, keepdims=True), where(valid, dof, 1)),
                   np.nan)
    axes = normalize_axes("nanvar", axis, x.ndim)
    return result if keepdims else reshape(result, tuple(
        d for i, d in enumerate(x.shape) if i not in axes))


def nanstd(a: ArrayLike, axis: Axis = None, dtype: DTypeLike | None = None, *, ddof: int = 0,
           keepdims: bool = False) -> Array:
    """Standard deviation over the given axes ignoring nans: sqrt(nanvar)."""
    if not isinstance(a, Tracer):
        return np.asarray(np.nanstd(a, axis=_numpy_axis("nanstd", axis, a), dtype=dtype,
                                    ddof=ddof, keepdims=keepdims))
    return sqrt(nanvar(a, axis, dtype, ddof=ddof, keepdims=keepdims))


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


def _nan_arg(reduce: Any, a: ArrayLike, axis: int | None, keepdims: bool,
             fill: float) -> Array:
    # Also for numpy arrays: numpy raises where a slice is all nan, JAX gives -1 there.
    x = _array(a)
    filled, missing = _without_nans(x, fill)
    index: Array = reduce(filled, axis, keepdims=keepdims)
    if missing is None:
        return index
    return where(all(missing, axis, keepdims=keepdims), -1, index)


def nanargmax(a: ArrayLike, axis: int | None = None, *, keepdims: bool = False) -> Array:
    """Index of the (first) maximum along axis ignoring nans; -1 where a slice is all nan
    (as JAX; numpy raises)."""
    return _nan_arg(argmax, a, axis, keepdims, -np.inf)


def nanargmin(a: ArrayLike, axis: int | None = None, *, keepdims: bool = False) -> Array:
    """Index of the (first) minimum along axis ignoring nans; -1 where a slice is all nan
    (as JAX; numpy raises)."""
    return _nan_arg(argmin, a, axis, keepdims, np.inf)


def count_nonzero(a: ArrayLike, axis: Axis = None, *, keepdims: bool = False) -> Array:
    """The number of nonzero (true) elements over the given axes."""
    if not isinstance(a, Tracer):
        return np.asarray(np.count_nonzero(a, axis=_numpy_axis("count_nonzero", axis, a),
                                           keepdims=keepdims))
    return astype(sum(astype(a, np.bool_), axis, keepdims=keepdims), np.intp)


def allclose(a: ArrayLike, b: ArrayLike, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> Array:
    """Whether isclose(a, b) holds everywhere (a 0-d bool array)."""
    if not any_traced((a, b)):
        return np.asarray(np.allclose(a, b, rtol, atol, equal_nan))
    return all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1: ArrayLike, a2: ArrayLike, equal_nan: bool = False) -> Array:
    """Whether a1 and a2 have the same shape and elements (nans equal with equal_nan)."""
    if not any_traced((a1, a2)):
        return np.asarray(np.array_equal(a1, a2, equal_nan))
    if shape(a1) != shape(a2):
        return np.asarray(False)
    same = equal(a1, a2)
    if equal_nan:
        same = logical_or(same, logical_and(isnan(a1), isnan(a2)))
    return all(same)


def array_equiv(a1: ArrayLike, a2: ArrayLike) -> Array:
    """Whether a1 and a2 broadcast together and are equal everywhere."""
    if not any_traced((a1, a2)):
        return np.asarray(np.array_equiv(a1, a2))
    try:
        np.broadcast_shapes(shape(a1), shape(a2))
    except ValueError:
        return np.asarray(False)
    return all(equal(a1, a2))


def isin(element: ArrayLike, test_elements: Values, assume_unique: bool = False,
         invert: bool = False, *, kind: Literal["sort", "table"] | None = None) -> Array:
    """Where element is one of test_elements (not one of them with invert); bool."""
    if not any_traced((element, test_elements)):
        return np.asarray(np.isin(element, test_elements, assume_unique, invert, kind=kind))
    candidates = ravel(operand(test_elements))
    found = any(equal(expand_dims(operand(element), -1), candidates), axis=-1)
    return logical_not(found) if invert else found


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


def nancumsum(a: ArrayLike, axis: int | None = None, dtype: DTypeLike | None = None) -> Array:
    """Cumulative sum along axis (flattened if None) with nans counted as zero."""
    if not isinstance(a, Tracer):
        return np.asarray(np.nancumsum(a, axis, dtype))
    return cumsum(_without_nans(a, 0.0)[0], axis, dtype)


def nancumprod(a: ArrayLike, axis: int | None = None, dtype: DTypeLike | None = None) -> Array:
    """Cumulative product along axis (flattened if None) with nans counted as one."""
    if not isinstance(a, Tracer):
        return np.asarray(np.nancumprod(a, axis, dtype))
    return cumprod(_without_nans(a, 1.0)[0], axis, dtype)


def _cumulative(name: str, x: ArrayLike, axis: int | None, dtype: DTypeLike | None,
                include_initial: bool, initial: int) -> Array:
    """numpy 2's cumulative_sum and cumulative_prod: axis may be None only for 1-D x; the
    identity first with include_initial."""
    if not isinstance(x, Tracer):
        return np.asarray(getattr(np, name)(x, axis=axis, dtype=dtype,
                                            include_initial=include_initial))
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"{name}: axis must be given for an array of {x.ndim} dimensions"
                             + user_location())
        axis = 0
    ax = normalize_axes(name, axis, x.ndim)[0]
    out = (cumsum if name == "cumulative_sum" else cumprod)(x, ax, dtype)
    if not include_initial:
        return out
    edge = np.full(tuple(1 if i == ax else d for i, d in enumerate(out.shape)), initial,
                   out.dtype)
    return concatenate([edge, out], axis=ax)


def cumulative_sum(x: ArrayLike, /, *, axis: int | None = None, dtype: DTypeLike | None = None,
                   include_initial: bool = False) -> Array:
    """Cumulative sum along axis (needed unless x is 1-D), 0 first if include_initial."""
    return _cumulative("cumulative_sum", x, axis, dtype, include_initial, 0)


def cumulative_prod(x: ArrayLike, /, *, axis: int | None = None, dtype: DTypeLike | None = None,
                    include_initial: bool = False) -> Array:
    """Cumulative product along axis (needed unless x is 1-D), 1 first if include_initial."""
    return _cumulative("cumulative_prod", x, axis, dtype, include_initial, 1)


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


def lexsort(keys: ArrayLike | Sequence[ArrayLike], axis: int = -1) -> Array:
    """Indices sorting by several keys along axis, the last key first (rows of a 2-D keys
    array are the keys); stable; not differentiable."""
    if not contains_tracer(keys if isinstance(keys, (list, tuple)) else [keys]):
        return np.asarray(np.lexsort(cast(Any, keys), axis))
    rows = [getitem(keys, i) for i in range(shape(keys)[0])] if isinstance(keys, Tracer) else [
        _array(k) for k in cast(Sequence[ArrayLike], keys)]
    if not rows:
        raise ValueError("lexsort: need at least one key" + user_location())
    if len({shape(k) for k in rows}) != 1:
        raise ShapeError(f"lexsort: all keys must have the same shape, got "
                         f"{[shape(k) for k in rows]}" + user_location())
    # A stable sort by each key in turn, the most significant (last) one at the end.
    order = argsort(rows[0], axis)
    for key in rows[1:]:
        order = take_along_axis(order, argsort(take_along_axis(key, order, axis), axis), axis)
    return order


def sort_complex(a: ArrayLike) -> Array:
    """a sorted by real part, then imaginary part, as a complex array (complex64 for
    float32 and smaller types, complex128 otherwise)."""
    x = _array(a)
    dtype = np.result_type(x.dtype, np.complex64)
    if not isinstance(x, Tracer):
        return np.sort_complex(x).astype(dtype)
    return sort(astype(x, dtype))


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


def _positions(method: str, n: ArrayLike, q: Array) -> tuple[Array, Array, Array | None]:
    """The sorted positions a quantile lies between, and the interpolation weight of the
    upper one (None: no interpolation), as numpy computes them, for n elements (an int, or
    an array of counts broadcasting against q)."""
    last = subtract(n, 1)
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


def _pick(ordered: Array, index: Array, positions: tuple[int, ...]) -> Array:
    """ordered[..., index] within each slice (the leading axes of ordered), for every
    quantile: index broadcasts to `positions`, the slices' shape followed by q's."""
    slices = shape(ordered)[:-1]
    flat_index = reshape(broadcast_to(index, positions), (*slices, -1))
    return reshape(take_along_axis(ordered, flat_index, -1), positions)


def _quantile(name: str, a: ArrayLike, q: ArrayLike, axis: Axis, method: str,
              keepdims: bool, ignore_nan: bool = False) -> Array:
    """quantile, percentile (q / 100) and median on traced values, as numpy computes them:
    the sorted values at the positions of q, linearly interpolated, nan where a slice
    holds a nan (ignore_nan: of the values that are not nan, nan where there are none)."""
    weak_q = _python_number(q)
    q_arr = _array(q)
    if not isinstance(q_arr, Tracer) and not np.all((q_arr >= 0) & (q_arr <= 1)):
        bounds = "[0, 100]" if name.endswith("percentile") else "[0, 1]"
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
    q_shape = shape(q_arr)
    flat = reshape(transpose(x, (*kept, *axes)), (*(dims[i] for i in kept), n))
    slices = shape(flat)[:-1]
    ordered = sort(astype(flat, dtype), axis=-1)  # nans sort last
    skip_nans = ignore_nan and x.dtype.kind == "f"
    count: Any = n
    if skip_nans:  # the positions among each slice's values that are not nan
        count = sum(logical_not(isnan(flat)), -1)
        count = reshape(count, (*slices, *(1,) * len(q_shape)))
    lo, hi, weight = _positions(method, count, q_float)
    positions = (*slices, *q_shape)
    low = _pick(ordered, lo, positions)
    if weight is None:
        result = low
    else:
        high = _pick(ordered, hi, positions)
        t = astype(weight, dtype)
        step = subtract(high, low)
        # numpy's lerp: from the nearer end, so that t = 0 and t = 1 give the ends exactly
        result = where(greater_equal(t, 0.5), subtract(high, multiply(step, subtract(1, t))),
                       add(low, multiply(step, t)))
    if dtype.kind == "f":
        # nan where a slice holds a nan (they sort last) or, ignoring nans, holds only nans;
        # the where also keeps the gradient of those nans zero
        empty = equal(count, 0) if skip_nans else reshape(
            isnan(getitem(ordered, (Ellipsis, -1))), (*slices, *(1,) * len(q_shape)))
        result = where(empty, np.nan, result)
    result = transpose(result, (*range(len(kept), len(kept) + len(q_shape)),
                                *range(len(kept))))
    if keepdims:
        result = reshape(result, (*q_shape, *(1 if i in axes else d
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


def nanquantile(a: ArrayLike, q: ArrayLike, axis: Axis = None, *,
                method: QuantileMethod = "linear", keepdims: bool = False) -> Array:
    """The q-th quantiles over the given axes of the elements that are not nan (nan where
    a slice is all nan); nans get a zero gradient."""
    _check_method("nanquantile", method)
    if not any_traced((a, q)):
        return np.asarray(np.nanquantile(np.asarray(a), cast(Any, q),
                                         axis=_numpy_axis("nanquantile", axis, a),
                                         method=method, keepdims=keepdims))
    return _quantile("nanquantile", a, q, axis, method, keepdims, ignore_nan=True)


def nanpercentile(a: ArrayLike, q: ArrayLike, axis: Axis = None, *,
                  method: QuantileMethod = "linear", keepdims: bool = False) -> Array:
    """The q-th percentiles (q in [0, 100]) ignoring nans: nanquantile(a, q / 100)."""
    _check_method("nanpercentile", method)
    if not any_traced((a, q)):
        return np.asarray(np.nanpercentile(np.asarray(a), cast(Any, q),
                                           axis=_numpy_axis("nanpercentile", axis, a),
                                           method=method, keepdims=keepdims))
    return _quantile("nanpercentile", a, q / 100 if _python_number(q) else divide(q, 100),
                     axis, method, keepdims, ignore_nan=True)


def nanmedian(a: ArrayLike, axis: Axis = None, *, keepdims: bool = False) -> Array:
    """Median over the given axes ignoring nans (nan where a slice is all nan)."""
    if not isinstance(a, Tracer):
        return np.asarray(np.nanmedian(a, axis=_numpy_axis("nanmedian", axis, a),
                                       keepdims=keepdims))
    return _quantile("nanmedian", a, 0.5, axis, "midpoint", keepdims, ignore_nan=True)


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


# ---------------------------------------------------------------------------- searching


def searchsorted(a: Values, v: Values, side: Literal["left", "right"] = "left",
                 sorter: Values | None = None) -> Array:
    """Where the values v would go in the sorted 1-D a (side 'left': before equal elements,
    'right': after them; a[sorter] if given), as numpy's; not differentiable."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}"
                         + user_location())
    if not any_traced((a, v, sorter)):
        return np.asarray(np.searchsorted(cast(Any, a), cast(Any, v), side,
                                          cast(Any, sorter)))
    x = _array(operand(a)) if sorter is None else take(operand(a), operand(sorter))
    values = operand(v)
    dtype = np.result_type(dtype_or_scalar(x), dtype_or_scalar(values))  # as numpy compares
    return R.searchsorted_p.bind(astype(x, dtype), astype(values, dtype), side=side)


def digitize(x: Values, bins: Values, right: bool = False) -> Array:
    """The index of the bin of each x among monotonic bins (right: intervals closed on the
    right), as numpy's; not differentiable."""
    if not any_traced((x, bins)):
        return np.asarray(np.digitize(cast(Any, x), cast(Any, bins), right))
    edges = _array(operand(bins))
    if len(shape(edges)) != 1:
        raise ShapeError(f"digitize: bins must be 1-D, got shape {shape(edges)}"
                         + user_location())
    side: Literal["left", "right"] = "left" if right else "right"
    rising = searchsorted(edges, x, side)
    falling = subtract(shape(edges)[0], searchsorted(edges[::-1], x, side))
    if not isinstance(edges, Tracer):
        steps = np.diff(edges)
        if not (np.all(steps >= 0) or np.all(steps <= 0)):
            raise ValueError("digitize: bins must be monotonically increasing or decreasing"
                             + user_location())
        return falling if np.any(steps < 0) else rising
    # Traced bins: which way they run is known only from their values.
    return where(greater(edges[0], edges[-1]), falling, rising)


def interp(x: Values, xp: Values, fp: Values, left: ArrayLike | None = None,
           right: ArrayLike | None = None, period: float | None = None) -> Array:
    """The piecewise-linear interpolant through (xp, fp) at x: fp[0] (or left) below xp[0],
    fp[-1] (or right) above xp[-1]; with period, xp is periodic. Differentiable in x, xp,
    fp, left and right; at a knot x takes the slope on its right, as in JAX. float32 stays
    float32 (numpy computes in float64)."""
    points, knots, values = operand(x), operand(xp), operand(fp)
    dtype = promoted_dtype(INEXACT, (points, knots, values))
    real_dtype = np.finfo(dtype).dtype  # of x and xp (fp may be complex)
    if not any_traced((points, knots, values, left, right, period)):
        return np.asarray(cast(Any, np.interp)(points, knots, values, left, right, period),
                          dtype)
    xs = astype(points, real_dtype)
    knots, values = astype(knots, real_dtype), astype(values, dtype)
    if len(shape(knots)) != 1 or shape(knots) != shape(values) or not shape(knots)[0]:
        raise ShapeError(f"interp: xp and fp must be 1-D of the same nonzero length, got "
                         f"shapes {shape(knots)} and {shape(values)}" + user_location())
    if period is not None:
        if period == 0:
            raise ValueError("interp: period must be nonzero" + user_location())
        span = abs(period)
        xs, knots = mod(xs, span), mod(knots, span)
        order = argsort(knots)
        knots, values = getitem(knots, order), getitem(values, order)
        # One knot beyond each end, from the other end, so that the interpolant wraps.
        knots = concatenate([subtract(knots[-1:], span), knots, add(knots[:1], span)])
        values = concatenate([values[-1:], values, values[:1]])
        left = right = None
    n = shape(knots)[0]
    if n == 1:
        result: Array = broadcast_to(values[0], shape(xs))
    else:
        i = clip(searchsorted(knots, xs, "right"), 1, n - 1)
        x0, x1 = getitem(knots, subtract(i, 1)), getitem(knots, i)
        f0, f1 = getitem(values, subtract(i, 1)), getitem(values, i)
        width = subtract(x1, x0)
        flat = equal(width, 0)  # repeated knots: the later value, as numpy
        slope = divide(subtract(f1, f0), where(flat, 1, width))
        result = where(flat, f1, add(multiply(slope, subtract(xs, x0)), f0))
    below = values[0] if left is None else astype(left, dtype)
    above = values[-1] if right is None else astype(right, dtype)
    return where(greater(xs, knots[-1]), above, where(less(xs, knots[0]), below, result))


# ---------------------------------------------------------------------------- calculus


def trapezoid(y: ArrayLike, x: Values | None = None, dx: ArrayLike = 1.0,
              axis: int = -1) -> Array:
    """The integral of y along axis by the trapezoid rule, at the points x (1-D, or of y's
    shape) or with spacing dx."""
    if not any_traced((y, x, dx)):
        return np.asarray(np.trapezoid(y, x, cast(Any, dx), axis))
    values = _array(y)
    nd = len(shape(values))
    ax = normalize_axes("trapezoid", axis, nd)[0]
    points = None if x is None else operand(x)
    if points is None:
        widths: Array | ArrayLike = dx
    elif len(shape(points)) == 1:
        widths = reshape(diff(points), tuple(-1 if i == ax else 1 for i in range(nd)))
    else:
        widths = diff(points, axis=ax)
    later = getitem(values, (slice(None),) * ax + (slice(1, None),))
    earlier = getitem(values, (slice(None),) * ax + (slice(None, -1),))
    return sum(divide(multiply(widths, add(later, earlier)), 2.0), ax)


def unwrap(p: ArrayLike, discont: float | None = None, axis: int = -1, *,
           period: float = 2 * np.pi) -> Array:
    """p with jumps of more than max(discont, period/2) along axis undone by adding
    multiples of period; the gradient is that of p (the corrections are constants)."""
    if not isinstance(p, Tracer):
        return np.asarray(np.unwrap(cast(Any, p), discont, axis, period=period))
    ax = normalize_axes("unwrap", axis, p.ndim)[0]
    steps = diff(stop_gradient(p), axis=ax)
    dtype = np.result_type(steps.dtype, dtype_or_scalar(period))
    if dtype.kind in "iu":
        high, rest = builtins.divmod(period, 2)
        ambiguous = rest == 0
    else:
        high, ambiguous = period / 2, True
    # As numpy: each step brought into [-high, high) (high itself for positive steps on
    # the boundary), unless it is smaller than discont already.
    wrapped = add(mod(add(steps, high), period), -high)
    if ambiguous:
        wrapped = where(logical_and(equal(wrapped, -high), greater(steps, 0)), high, wrapped)
    correction = where(less(absolute(steps), period / 2 if discont is None else discont), 0,
                       subtract(wrapped, steps))
    first = np.zeros(tuple(1 if i == ax else d for i, d in enumerate(p.shape)), dtype)
    return add(astype(p, dtype), concatenate([first, cumsum(correction, ax)], axis=ax))


# ---------------------------------------------------------------------------- histograms


def _range_edges(a: Array, bins: int, value_range: tuple[float, float] | None) -> Array:
    """bins + 1 equal-width edges over value_range, or over a's range (widened by 0.5 on
    each side if a is constant), as numpy's."""
    if value_range is not None:
        first, last = value_range
        if not first <= last or not np.isfinite([first, last]).all():
            raise ValueError(f"histogram: range {value_range} must be finite and increasing"
                             + user_location())
        lo: Array | float = float(first)
        hi: Array | float = float(last)
    elif not shape(a)[0]:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = min(a), max(a)
    if value_range is None and shape(a)[0]:
        same = equal(lo, hi)
        lo, hi = where(same, subtract(lo, 0.5), lo), where(same, add(hi, 0.5), hi)
    dtype = np.result_type(dtype_or_scalar(lo), dtype_or_scalar(hi), a.dtype)
    return linspace(lo, hi, bins + 1, dtype=dtype if dtype.kind == "f" else np.float64)


def _bin_edges(name: str, a: ArrayLike, bins: int | str | Values,
               value_range: tuple[float, float] | None, weights: ArrayLike | None
               ) -> tuple[Array, Array]:
    """a flattened and the histogram's bin edges."""
    values = ravel(a)
    if isinstance(bins, str):  # an estimator of the best number of bins, from the values
        known = concrete_value(name, "a", values, f"bins={bins!r} chooses the number of bins "
                               "from its values")
        return values, np.histogram_bin_edges(known, bins, value_range,
                                              None if weights is None else
                                              concrete_value(name, "weights", weights))
    given = operand(bins)
    if len(shape(given)) == 0:
        count = operator.index(given)
        if count < 1:
            raise ValueError(f"{name}: bins must be positive, got {count}" + user_location())
        return values, _range_edges(values, count, value_range)
    edges = _array(given)
    if not isinstance(edges, Tracer) and np.any(np.diff(edges) < 0):
        raise ValueError(f"{name}: bins must increase monotonically" + user_location())
    return values, edges


def histogram_bin_edges(a: ArrayLike, bins: int | str | Values = 10,
                        range: tuple[float, float] | None = None,
                        weights: ArrayLike | None = None) -> Array:
    """The bin edges histogram uses: bins equal bins over range (or a's range), or the
    given edges; a string estimator needs a's values (not under jit)."""
    if not any_traced((a, bins, weights)):
        return np.histogram_bin_edges(a, cast(Any, bins), range, weights)
    return _bin_edges("histogram_bin_edges", a, bins, range, weights)[1]


def histogram(a: ArrayLike, bins: int | str | Values = 10,
              range: tuple[float, float] | None = None, density: bool | None = None,
              weights: ArrayLike | None = None) -> tuple[Array, Array]:
    """(counts, bin edges) of the values of a, as numpy's: the last bin includes its right
    edge, values outside the edges are not counted. Counts have no gradient; weights,
    and edges computed from a's range, do."""
    if not any_traced((a, bins, weights)):
        counts, edges = np.histogram(a, cast(Any, bins), range, density, weights)
        if density:  # numpy's densities are float64; float32 stays float32, as when traced
            summed = np.intp if weights is None else np.asarray(weights).dtype
            counts = counts.astype(inexact_dtype(np.result_type(summed, edges.dtype)))
        return counts, edges
    values, bin_edges = _bin_edges("histogram", a, bins, range, weights)
    n = shape(bin_edges)[0] - 1
    index = subtract(searchsorted(bin_edges, values, "right"), 1)
    index = where(equal(values, bin_edges[-1]), n - 1, index)  # the last bin is closed
    inside = logical_and(greater_equal(values, bin_edges[0]),
                         less_equal(values, bin_edges[-1]))
    if weights is None:
        amounts: Array = astype(inside, np.intp)
    else:
        amounts = where(inside, ravel(weights), 0)
    totals = at(np.zeros(n, amounts.dtype))[where(inside, index, 0)].add(amounts)
    if density:
        totals = divide(divide(totals, diff(bin_edges)), sum(totals))
    return totals, bin_edges


def bincount(x: ArrayLike, /, weights: ArrayLike | None = None, minlength: int = 0) -> Array:
    """How often each value 0, 1, ... occurs in the non-negative integers x (the sum of
    their weights, which may be traced and get gradients). The result's length depends on
    x's values, which must be known (not under jit)."""
    if not any_traced((x, weights)):
        counts = np.bincount(cast(Any, x), cast(Any, weights), minlength)
        # (numpy sums weights in float64; float32 weights give float32, as when traced)
        return counts if weights is None else counts.astype(
            promoted_dtype(INEXACT, (operand(weights),)))
    counted = concrete_value("bincount", "x", x, "the length of the result is its largest "
                             "value plus one")
    if weights is None:
        return np.bincount(counted, None, minlength)
    if counted.ndim != 1 or counted.dtype.kind not in "biu" or np.any(counted < 0):
        raise ValueError(f"bincount: x must be 1-D non-negative integers, got {counted.dtype} "
                         f"of shape {counted.shape}" + user_location())
    length = builtins.max(int(counted.max(initial=-1)) + 1, minlength)
    amounts = _array(weights)
    if shape(amounts) != counted.shape:
        raise ShapeError(f"bincount: weights of shape {shape(amounts)} differ from x's shape "
                         f"{counted.shape}" + user_location())
    dtype = promoted_dtype(INEXACT, (amounts,))
    return at(np.zeros(length, dtype))[counted].add(astype(amounts, dtype))


# ---------------------------------------------------------------------------- unique


class UniqueAllResult(NamedTuple):
    """unique_all's result, as numpy's."""

    values: Array
    indices: Array
    inverse_indices: Array
    counts: Array


class UniqueCountsResult(NamedTuple):
    """unique_counts' result, as numpy's."""

    values: Array
    counts: Array


class UniqueInverseResult(NamedTuple):
    """unique_inverse's result, as numpy's."""

    values: Array
    inverse_indices: Array


def unique(ar: ArrayLike, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           sorted: bool = True) -> Any:
    """The sorted unique elements of ar (flattened) or slices along axis, with numpy's
    optional indices, inverse and counts (always sorted, whatever `sorted` says). How many
    there are depends on the values, which must be known (not under jit); each value's
    gradient goes to its first occurrence."""
    if not isinstance(ar, Tracer):
        return cast(Any, np.unique)(ar, return_index, return_inverse, return_counts, axis,
                                    equal_nan=equal_nan)
    known = concrete_value("unique", "ar", ar, "the number of unique values depends on its "
                           "values")
    found = cast(Any, np.unique)(known, True, return_inverse, return_counts, axis,
                                 equal_nan=equal_nan)
    first = found[1]
    values = take(ravel(ar), first) if axis is None else take(ar, first, axis)
    extra = ((first,) if return_index else ()) + tuple(found[2:])
    return (values, *extra) if extra else values


def unique_values(x: ArrayLike) -> Array:
    """The unique elements of x, sorted (nans kept apart); see unique."""
    return cast(Array, unique(x, equal_nan=False))


def unique_counts(x: ArrayLike) -> UniqueCountsResult:
    """The unique elements of x, sorted, and how often each occurs; see unique."""
    return UniqueCountsResult(*unique(x, return_counts=True, equal_nan=False))


def unique_inverse(x: ArrayLike) -> UniqueInverseResult:
    """The unique elements of x, sorted, and where each element of x is among them."""
    return UniqueInverseResult(*unique(x, return_inverse=True, equal_nan=False))


def unique_all(x: ArrayLike) -> UniqueAllResult:
    """The unique elements of x, sorted, their first indices, the inverse and counts."""
    return UniqueAllResult(*unique(x, True, True, True, equal_nan=False))


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
    Row("nanmax", nanmax),
    Row("nanmin", nanmin),
    Row("nanprod", nanprod),
    Row("nanvar", nanvar),
    Row("nanstd", nanstd),
    Row("nanmedian", nanmedian),
    Row("nanquantile", nanquantile),
    Row("nanpercentile", nanpercentile),
    Row("nanargmax", nanargmax),
    Row("nanargmin", nanargmin),
    Row("nancumsum", nancumsum),
    Row("nancumprod", nancumprod),
    Row("cumulative_sum", cumulative_sum),
    Row("cumulative_prod", cumulative_prod),
    Row("count_nonzero", count_nonzero),
    Row("allclose", allclose),
    Row("array_equal", array_equal),
    Row("array_equiv", array_equiv),
    Row("isin", isin),
    Row("lexsort", lexsort),
    Row("sort_complex", sort_complex),
    Row("searchsorted", searchsorted, methods=("searchsorted",)),
    Row("digitize", digitize),
    Row("interp", interp),
    Row("trapezoid", trapezoid),
    Row("unwrap", unwrap),
    Row("histogram", histogram),
    Row("histogram_bin_edges", histogram_bin_edges),
    Row("bincount", bincount),
    Row("unique", unique),
    Row("unique_values", unique_values),
    Row("unique_counts", unique_counts),
    Row("unique_inverse", unique_inverse),
    Row("unique_all", unique_all),
])
amax = alias("amax", max)
amin = alias("amin", min)
