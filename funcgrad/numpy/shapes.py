"""Shapes and assembly: reshape, transpose, moveaxis, squeeze, broadcast_to, concatenate,
stack, pad and friends."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

from funcgrad.core import Array, ArrayLike, ShapeError, Tracer, user_location
from funcgrad.lax import shapes as S
from funcgrad.numpy._table import (Axis, Row, any_traced, dtype_or_scalar, normalize_axes, register,
                                   shape)
from funcgrad.numpy.elementwise import astype

__all__ = [
    "reshape", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze", "ravel",
    "broadcast_to", "concatenate", "stack", "pad"
]


def reshape(x: ArrayLike, shape: int | Sequence[int]) -> Array:
    """x with a new shape of the same size (one dimension may be -1)."""
    if not isinstance(x, Tracer):
        return np.reshape(x, shape)
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    size = x.size
    if dims.count(-1) == 1:
        known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ShapeError(f"reshape: cannot reshape {x.aval} ({size} elements) into shape "
                             f"{tuple(dims)}" + user_location())
        dims = tuple(size // known if d == -1 else int(d) for d in dims)
    dims = tuple(int(d) for d in dims)
    if int(np.prod(dims, dtype=np.int64)) != size or builtins.any(d < 0 for d in dims):
        raise ShapeError(f"reshape: cannot reshape {x.aval} ({size} elements) into shape "
                         f"{dims}" + user_location())
    return x if dims == x.shape else S.reshape_p.bind(x, shape=dims)


def transpose(x: ArrayLike, axes: Sequence[int] | None = None) -> Array:
    """Permute the axes (reverse them by default)."""
    if not isinstance(x, Tracer):
        return np.transpose(x, axes)
    perm = tuple(reversed(range(x.ndim))) if axes is None else tuple(
        a % x.ndim if -x.ndim <= a < x.ndim else a for a in axes)
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {tuple(axes or ())} are not a permutation of the "
                         f"{x.ndim} axes of {x.aval}" + user_location())
    return x if perm == tuple(range(x.ndim)) else S.transpose_p.bind(x, perm=perm)


def swapaxes(x: ArrayLike, axis1: int, axis2: int) -> Array:
    """Interchange two axes."""
    if not isinstance(x, Tracer):
        return np.swapaxes(x, axis1, axis2)
    perm = list(range(x.ndim))
    a = normalize_axes("swapaxes", axis1, x.ndim)[0]
    b = normalize_axes("swapaxes", axis2, x.ndim)[0]
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x: ArrayLike, source: int | Sequence[int], destination: int | Sequence[int]) -> Array:
    """Move axes to new positions, keeping the order of the others."""
    if not isinstance(x, Tracer):
        return np.moveaxis(np.asarray(x), source, destination)
    src = [normalize_axes("moveaxis", s, x.ndim)[0] for s in np.atleast_1d(source)]
    dst = [normalize_axes("moveaxis", d, x.ndim)[0] for d in np.atleast_1d(destination)]
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def expand_dims(x: ArrayLike, axis: int | Sequence[int]) -> Array:
    """Insert axes of length one at the given positions."""
    if not isinstance(x, Tracer):
        return np.expand_dims(x, axis)
    ndim = x.ndim + len(np.atleast_1d(axis))
    axes = normalize_axes("expand_dims", axis, ndim)
    shape = iter(x.shape)
    return reshape(x, tuple(1 if i in axes else next(shape) for i in range(ndim)))


def squeeze(x: ArrayLike, axis: Axis = None) -> Array:
    """Remove axes of length one (all of them by default)."""
    if not isinstance(x, Tracer):
        return np.squeeze(x, axis)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axes("squeeze", axis, x.ndim)
        bad = [a for a in axes if x.shape[a] != 1]
        if bad:
            raise ShapeError(f"squeeze: axis {bad[0]} of {x.aval} has length "
                             f"{x.shape[bad[0]]}, not 1" + user_location())
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def ravel(x: ArrayLike) -> Array:
    """x flattened to one dimension."""
    return reshape(x, -1)


def broadcast_to(x: ArrayLike, shape: Sequence[int]) -> Array:
    """x broadcast to shape, as numpy's."""
    shape = tuple(shape)
    if not isinstance(x, Tracer):
        return np.broadcast_to(x, shape)
    try:
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast {x.aval} to shape {shape}"
                         + user_location()) from None
    return x if x.shape == shape else S.broadcast_to_p.bind(x, shape=shape)


def concatenate(arrays: Sequence[ArrayLike], axis: int = 0) -> Array:
    """Join arrays along an existing axis."""
    if not any_traced(arrays):
        return np.concatenate(arrays, axis=axis)
    dtype = np.result_type(*(dtype_or_scalar(a) for a in arrays))
    xs = [astype(a, dtype) for a in arrays]
    ax = normalize_axes("concatenate", axis, np.ndim(xs[0]) if not isinstance(xs[0], Tracer)
               else xs[0].ndim)[0]
    S.concatenate_p.shape_rule(*xs, axis=ax)  # grad runs numpy directly: check shapes here
    return S.concatenate_p.bind(*xs, axis=ax)


def stack(arrays: Sequence[ArrayLike], axis: int = 0) -> Array:
    """Join arrays along a new axis."""
    if not any_traced(arrays):
        return np.stack(arrays, axis=axis)
    shapes = {shape(a) for a in arrays}
    if len(shapes) != 1:
        raise ShapeError(f"stack: all arrays must have the same shape, got {sorted(shapes)}"
                         + user_location())
    ndim = len(shapes.pop()) + 1
    ax = normalize_axes("stack", axis, ndim)[0]
    return concatenate([expand_dims(a, ax) for a in arrays], axis=ax)


def pad(x: ArrayLike, pad_width: int | Sequence[int] | Sequence[Sequence[int]]) -> Array:
    """Pad with zeros (numpy's pad in 'constant' mode with value 0)."""
    if not isinstance(x, Tracer):
        return np.pad(x, pad_width)
    widths = tuple((int(a), int(b)) for a, b in np.broadcast_to(np.asarray(pad_width),
                                                                  (x.ndim, 2)))
    return S.pad_p.bind(x, widths=widths)


register([
    Row("reshape", reshape, methods=("reshape",),
        method=lambda x, *shape: reshape(x, shape[0] if len(shape) == 1 else shape)),
    Row("transpose", transpose, methods=("transpose",), properties=("T",),
        method=lambda x, *axes: transpose(x, (axes[0] if len(axes) == 1 else axes)
                                          if axes else None)),
    Row("swapaxes", swapaxes, methods=("swapaxes",)),
    Row("moveaxis", moveaxis),
    Row("expand_dims", expand_dims),
    Row("squeeze", squeeze, methods=("squeeze",)),
    Row("ravel", ravel, methods=("ravel", "flatten")),
    Row("broadcast_to", broadcast_to),
    Row("concatenate", concatenate),
    Row("stack", stack),
    Row("pad", pad),
])
