"""Reductions: sum, max, min, prod, mean, var, std over axes, and argmax, argmin."""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad.core import Array, ArrayLike, Primitive, Tracer
from funcgrad.lax import reductions as R
from funcgrad.numpy._table import Axis, Row, inexact_dtype, normalize_axes, register
from funcgrad.numpy.elementwise import astype, divide, multiply, sqrt, subtract
from funcgrad.numpy.shapes import ravel, reshape

__all__ = ["sum", "max", "min", "prod", "mean", "var", "std", "argmax", "argmin"]


def _numpy_axis(name: str, axis: Axis, x: Any) -> Any:
    return axis if axis is None else normalize_axes(name, axis, np.ndim(x))


def _reduction(prim: Primitive, name: str, x: ArrayLike, axis: Axis, keepdims: bool) -> Array:
    if not isinstance(x, Tracer):
        return np.asarray(getattr(np, name)(np.asarray(x), axis=_numpy_axis(name, axis, x),
                                            keepdims=keepdims))
    axes = normalize_axes(name, axis, x.ndim)
    out = prim.bind(x, axes=axes) if axes else x
    if keepdims:
        out = reshape(out, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return out


def sum(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """Sum over the given axes (all by default)."""
    return _reduction(R.reduce_sum_p, "sum", x, axis, keepdims)


def max(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """Maximum over the given axes; ties share the gradient equally."""
    return _reduction(R.reduce_max_p, "max", x, axis, keepdims)


def min(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """Minimum over the given axes; ties share the gradient equally."""
    return _reduction(R.reduce_min_p, "min", x, axis, keepdims)


def prod(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """Product over the given axes (its gradient is exact at zeros)."""
    return _reduction(R.reduce_prod_p, "prod", x, axis, keepdims)


def mean(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """Mean over the given axes."""
    if not isinstance(x, Tracer):
        return np.asarray(np.mean(x, axis=_numpy_axis("mean", axis, x), keepdims=keepdims))
    axes = normalize_axes("mean", axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    return divide(sum(astype(x, inexact_dtype(x.dtype)), axes, keepdims), count)


def var(x: ArrayLike, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Array:
    """Variance over the given axes (ddof as numpy's)."""
    if not isinstance(x, Tracer):
        return np.asarray(np.var(x, axis=_numpy_axis("var", axis, x), ddof=ddof,
                                 keepdims=keepdims))
    axes = normalize_axes("var", axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    centered = subtract(x, mean(x, axes, keepdims=True))
    return divide(sum(multiply(centered, centered), axes, keepdims), count - ddof)


def std(x: ArrayLike, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Array:
    """Standard deviation over the given axes (ddof as numpy's)."""
    return sqrt(var(x, axis, ddof, keepdims))


def _arg_reduction(prim: Primitive, name: str, x: ArrayLike, axis: int | None,
                   keepdims: bool) -> Array:
    if not isinstance(x, Tracer):
        return np.asarray(getattr(np, name)(x, axis=axis, keepdims=keepdims))
    flat = ravel(x) if axis is None else x
    ax = 0 if axis is None else normalize_axes(name, axis, x.ndim)[0]
    out = prim.bind(flat, axis=ax)
    if keepdims:
        out = reshape(out, (1,) * x.ndim if axis is None else
                      tuple(1 if i == ax else d for i, d in enumerate(x.shape)))
    return out


def argmax(x: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the maximum along axis (flattened if None); not differentiable."""
    return _arg_reduction(R.argmax_p, "argmax", x, axis, keepdims)


def argmin(x: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the minimum along axis (flattened if None); not differentiable."""
    return _arg_reduction(R.argmin_p, "argmin", x, axis, keepdims)


register([
    Row("sum", sum, methods=("sum",)),
    Row("max", max, methods=("max",)),
    Row("min", min, methods=("min",)),
    Row("prod", prod, methods=("prod",)),
    Row("mean", mean, methods=("mean",)),
    Row("var", var, methods=("var",)),
    Row("std", std, methods=("std",)),
    Row("argmax", argmax, methods=("argmax",)),
    Row("argmin", argmin, methods=("argmin",)),
])
