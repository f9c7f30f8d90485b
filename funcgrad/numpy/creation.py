"""Creating arrays: asarray, zeros, ones, full and the *_like forms, arange, eye, linspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from funcgrad.core import Array, ArrayLike, Tracer
from funcgrad.numpy._table import Row, contains_tracer, register, shape
from funcgrad.numpy.elementwise import astype
from funcgrad.numpy.shapes import broadcast_to, stack

__all__ = [
    "asarray", "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye",
    "linspace"
]


def asarray(x: Any, dtype: DTypeLike | None = None) -> Array:
    """An array from x: traced values stay traced, lists of them are stacked."""
    if isinstance(x, Tracer):
        return x if dtype is None else astype(x, dtype)
    if isinstance(x, (list, tuple)) and contains_tracer(x):
        out = stack([asarray(item) for item in x])
        return out if dtype is None else astype(out, dtype)
    return np.asarray(x, dtype)


array = asarray


def zeros(shape: int | Sequence[int], dtype: DTypeLike = float) -> np.ndarray[Any, Any]:
    """An array of zeros (a constant: nothing to trace)."""
    return np.zeros(shape, dtype)


def ones(shape: int | Sequence[int], dtype: DTypeLike = float) -> np.ndarray[Any, Any]:
    """An array of ones."""
    return np.ones(shape, dtype)


def full(shape: int | Sequence[int], fill_value: ArrayLike,
         dtype: DTypeLike | None = None) -> Array:
    """An array of shape filled with fill_value (which may be traced)."""
    if isinstance(fill_value, Tracer):
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        return broadcast_to(fill_value if dtype is None else astype(fill_value, dtype), dims)
    return np.full(shape, fill_value, dtype)


def zeros_like(x: ArrayLike, dtype: DTypeLike | None = None) -> np.ndarray[Any, Any]:
    """Zeros of x's shape and dtype."""
    return np.zeros(shape(x), x.dtype if dtype is None and isinstance(x, Tracer)
                    else dtype if dtype is not None else np.result_type(x))


def ones_like(x: ArrayLike, dtype: DTypeLike | None = None) -> np.ndarray[Any, Any]:
    """Ones of x's shape and dtype."""
    return np.ones(shape(x), x.dtype if dtype is None and isinstance(x, Tracer)
                   else dtype if dtype is not None else np.result_type(x))


arange = np.arange
eye = np.eye
linspace = np.linspace


register([
    Row("asarray", asarray),
    Row("zeros", zeros),
    Row("ones", ones),
    Row("full", full),
    Row("zeros_like", zeros_like),
    Row("ones_like", ones_like),
])
