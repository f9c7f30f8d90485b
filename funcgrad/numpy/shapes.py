"""Shapes and assembly: reshape, transpose, moveaxis, rollaxis, squeeze, broadcast_to and
broadcast_arrays, the stacking and concatenating family, block, unstack, tile, repeat,
flips, rotations, roll, pad in numpy's modes, insert, delete, resize, trim_zeros, diff,
ediff1d, gradient, meshgrid, apply_along_axis and apply_over_axes.

Most are compositions: flips, rolls, per-element repeats, insert, delete, resize and the
reflecting pad modes are one gather with a constant index (whose transpose, a
scatter-add, sends the cotangent of every copy of an element back to it); tile and
whole-axis repeats are a broadcast.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast, overload

import numpy as np
from numpy.typing import DTypeLike

from funcgrad.core import Array, ArrayLike, ShapeError, Tracer, user_location
from funcgrad.primitives import indexing as I
from funcgrad.primitives import shapes as S
from funcgrad.numpy._table import (Axis, Row, alias, any_traced, contains_tracer,
                                   dtype_or_scalar, normalize_axes, register, shape)
from funcgrad.numpy.elementwise import (add, astype, concrete_value, divide, multiply, negative,
                                        not_equal, operand, subtract, where)

__all__ = [
    "reshape", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze", "ravel",
    "broadcast_to", "concatenate", "stack", "vstack", "hstack", "dstack", "column_stack",
    "row_stack", "append", "atleast_1d", "atleast_2d", "atleast_3d", "tile", "repeat", "flip",
    "fliplr", "flipud", "rot90", "roll", "pad", "diff", "meshgrid",
    "permute_dims", "matrix_transpose", "concat", "unstack", "rollaxis", "broadcast_arrays",
    "broadcast_shapes", "insert", "delete", "resize", "trim_zeros", "ediff1d", "block",
    "gradient", "apply_along_axis", "apply_over_axes",
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


def concatenate(arrays: Sequence[ArrayLike], axis: int | None = 0, *,
                dtype: DTypeLike | None = None) -> Array:
    """Join arrays along an existing axis (flattened first if axis is None)."""
    if not any_traced(arrays):
        return np.concatenate(arrays, axis=axis, dtype=dtype)
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    if dtype is None:
        dtype = np.result_type(*(dtype_or_scalar(a) for a in arrays))
    xs = [astype(a, dtype) for a in arrays]
    ax = normalize_axes("concatenate", axis, np.ndim(xs[0]) if not isinstance(xs[0], Tracer)
               else xs[0].ndim)[0]
    S.concatenate_p.shape_rule(*xs, axis=ax)  # grad runs numpy directly: check shapes here
    return S.concatenate_p.bind(*xs, axis=ax)


def stack(arrays: Sequence[ArrayLike], axis: int = 0, *,
          dtype: DTypeLike | None = None) -> Array:
    """Join arrays along a new axis."""
    if not any_traced(arrays):
        return np.stack(arrays, axis=axis, dtype=dtype)
    shapes = {shape(a) for a in arrays}
    if len(shapes) != 1:
        raise ShapeError(f"stack: all arrays must have the same shape, got {sorted(shapes)}"
                         + user_location())
    ndim = len(shapes.pop()) + 1
    ax = normalize_axes("stack", axis, ndim)[0]
    return concatenate([expand_dims(a, ax) for a in arrays], axis=ax, dtype=dtype)


def numpy_result(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Array:
    """numpy's fn called on untraced arguments, as an array (numpy's typed overloads do not
    take ArrayLike)."""
    return np.asarray(fn(*args, **kwargs))


def _atleast(x: ArrayLike, ndim: int) -> Array:
    """x with axes of length 1 added as numpy's atleast_{1,2,3}d add them."""
    dims = shape(x)
    if len(dims) >= ndim:
        return x if isinstance(x, Tracer) else np.asarray(x)
    if ndim == 3 and len(dims) == 2:
        return reshape(x, (*dims, 1))
    if ndim == 3:
        return reshape(x, (1, *dims, 1) if dims else (1, 1, 1))
    return reshape(x, (1,) * (ndim - len(dims)) + dims)


def _atleast_each(arys: tuple[ArrayLike, ...], ndim: int) -> Array | tuple[Array, ...]:
    out = tuple(_atleast(a, ndim) for a in arys)
    return out[0] if len(out) == 1 else out


@overload
def atleast_1d(ary: ArrayLike, /) -> Array: ...
@overload
def atleast_1d(ary: ArrayLike, other: ArrayLike, /, *arys: ArrayLike) -> tuple[Array, ...]: ...
def atleast_1d(*arys: ArrayLike) -> Array | tuple[Array, ...]:
    """Each input with at least one dimension (one array for one input, else a tuple)."""
    return _atleast_each(arys, 1)


@overload
def atleast_2d(ary: ArrayLike, /) -> Array: ...
@overload
def atleast_2d(ary: ArrayLike, other: ArrayLike, /, *arys: ArrayLike) -> tuple[Array, ...]: ...
def atleast_2d(*arys: ArrayLike) -> Array | tuple[Array, ...]:
    """Each input with at least two dimensions (a 1-D one becomes a row)."""
    return _atleast_each(arys, 2)


@overload
def atleast_3d(ary: ArrayLike, /) -> Array: ...
@overload
def atleast_3d(ary: ArrayLike, other: ArrayLike, /, *arys: ArrayLike) -> tuple[Array, ...]: ...
def atleast_3d(*arys: ArrayLike) -> Array | tuple[Array, ...]:
    """Each input with at least three dimensions ((n,) -> (1, n, 1), (m, n) -> (m, n, 1))."""
    return _atleast_each(arys, 3)


def vstack(tup: Sequence[ArrayLike], *, dtype: DTypeLike | None = None) -> Array:
    """Stack arrays as rows (along axis 0, 1-D ones as rows of length n)."""
    if not any_traced(tup):
        return np.vstack(tup, dtype=dtype)
    return concatenate([_atleast(a, 2) for a in tup], axis=0, dtype=dtype)


row_stack = vstack


def hstack(tup: Sequence[ArrayLike], *, dtype: DTypeLike | None = None) -> Array:
    """Stack arrays as columns (along axis 1; 1-D arrays end to end)."""
    if not any_traced(tup):
        return np.hstack(tup, dtype=dtype)
    xs = [_atleast(a, 1) for a in tup]
    return concatenate(xs, axis=0 if xs and len(shape(xs[0])) == 1 else 1, dtype=dtype)


def dstack(tup: Sequence[ArrayLike]) -> Array:
    """Stack arrays along the third axis (depth)."""
    if not any_traced(tup):
        return np.dstack(tup)
    return concatenate([_atleast(a, 3) for a in tup], axis=2)


def column_stack(tup: Sequence[ArrayLike]) -> Array:
    """Stack 1-D arrays as the columns of a 2-D array (2-D arrays are joined as they are)."""
    if not any_traced(tup):
        return np.column_stack(tup)
    return concatenate([reshape(a, (-1, 1)) if len(shape(a)) < 2 else a for a in tup], axis=1)


def append(arr: ArrayLike, values: ArrayLike, axis: int | None = None) -> Array:
    """arr with values added at the end (both flattened if axis is None)."""
    if not any_traced((arr, values)):
        return numpy_result(np.append, arr, values, axis)
    return concatenate([arr, values], axis=axis)


def tile(A: ArrayLike, reps: int | Sequence[int]) -> Array:
    """A repeated reps times along each axis (as a whole block)."""
    if not isinstance(A, Tracer):
        return np.tile(A, reps)
    counts = tuple(int(r) for r in np.atleast_1d(reps))
    nd = builtins.max(len(counts), A.ndim)
    counts = (1,) * (nd - len(counts)) + counts
    dims = (1,) * (nd - A.ndim) + A.shape
    if builtins.any(c < 0 for c in counts):
        raise ValueError(f"tile: negative repetitions {counts}" + user_location())
    # Each axis of length d becomes (count, d): a broadcast, then merged into one axis.
    spread = reshape(A, tuple(v for d in dims for v in (1, d)))
    full = broadcast_to(spread, tuple(v for c, d in zip(counts, dims) for v in (c, d)))
    return reshape(full, tuple(c * d for c, d in zip(counts, dims)))


def _take_const(x: Array, index: np.ndarray[Any, Any], axis: int) -> Array:
    """x[..., index, ...] with a constant integer index array at `axis`."""
    key = I.IndexKey((I.SliceKey(None, None, None),) * axis + (I.ArrayKey(0),))
    return I.gather_p.bind(x, index, index=key)


def repeat(a: ArrayLike, repeats: ArrayLike | Sequence[int], axis: int | None = None) -> Array:
    """Each element repeated (repeats: one count, or one per element along axis; a is
    flattened if axis is None)."""
    if not isinstance(a, Tracer) and not isinstance(repeats, Tracer):
        return numpy_result(np.repeat, a, repeats, axis)
    x: Array = ravel(a) if axis is None else a if isinstance(a, Tracer) else np.asarray(a)
    ax = 0 if axis is None else normalize_axes("repeat", axis, len(shape(x)))[0]
    counts = concrete_value("repeat", "repeats", repeats)
    n = shape(x)[ax]
    index = np.repeat(np.arange(n), counts)  # numpy checks the counts
    if counts.size != 1:
        return _take_const(x, index, ax)
    # One count for all: a broadcast along a new axis after `axis`, merged into it.
    dims = shape(x)
    spread = broadcast_to(expand_dims(x, ax + 1), (*dims[:ax + 1], int(counts.flat[0]),
                                                   *dims[ax + 1:]))
    return reshape(spread, (*dims[:ax], index.size, *dims[ax + 1:]))


def flip(m: ArrayLike, axis: Axis = None) -> Array:
    """m with the order of elements reversed along the given axes (all by default)."""
    if not isinstance(m, Tracer):
        return numpy_result(np.flip, m, axis)
    axes = normalize_axes("flip", axis, m.ndim)
    key = tuple(I.SliceKey(None, None, -1 if i in axes else None) for i in range(m.ndim))
    return I.gather_p.bind(m, index=I.IndexKey(key)) if axes else m


def _require_ndim(name: str, m: ArrayLike, ndim: int) -> None:
    if len(shape(m)) < ndim:
        raise ShapeError(f"{name}: the input must have at least {ndim} dimensions, got shape "
                         f"{shape(m)}" + user_location())


def fliplr(m: ArrayLike) -> Array:
    """m with its columns (axis 1) in reverse order."""
    _require_ndim("fliplr", m, 2)
    return flip(m, 1)


def flipud(m: ArrayLike) -> Array:
    """m with its rows (axis 0) in reverse order."""
    _require_ndim("flipud", m, 1)
    return flip(m, 0)


def rot90(m: ArrayLike, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Array:
    """m rotated by 90 degrees k times in the plane of axes, from the first towards the
    second."""
    if not isinstance(m, Tracer):
        return np.rot90(m, k, axes)
    if len(axes) != 2:
        raise ValueError(f"rot90: axes must be two axes, got {axes!r}" + user_location())
    first, second = (normalize_axes("rot90", a, m.ndim)[0] for a in axes)
    if first == second:
        raise ValueError(f"rot90: the axes must be different, got {axes!r}" + user_location())
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(m, (first, second))
    perm = list(range(m.ndim))
    perm[first], perm[second] = perm[second], perm[first]
    return transpose(flip(m, second), perm) if k == 1 else flip(transpose(m, perm), second)


def roll(a: ArrayLike, shift: int | Sequence[int], axis: Axis = None) -> Array:
    """a with its elements shifted cyclically along the axes (a flattened if axis is None)."""
    if not isinstance(a, Tracer):
        return np.roll(a, shift, axis)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), a.shape)
    shifts = [0] * a.ndim
    for s, ax in np.broadcast(concrete_value("roll", "shift", shift), np.asarray(axis)):
        shifts[normalize_axes("roll", int(ax), a.ndim)[0]] += int(s)  # repeated axes add up
    out: Array = a
    for ax, s in enumerate(shifts):
        n = a.shape[ax]
        if n and s % n:
            out = _take_const(out, (np.arange(n) - s) % n, ax)
    return out


PadWidth = int | Sequence[int] | Sequence[Sequence[int]] | np.ndarray[Any, Any]

_PAD_OPTIONS = {"constant": {"constant_values"}, "edge": set(), "wrap": set(), "empty": set(),
                "reflect": {"reflect_type"}, "symmetric": {"reflect_type"},
                "linear_ramp": {"end_values"}, "mean": {"stat_length"}}


def _pad_linear(x: Array, axis: int, widths: tuple[int, int], mode: str,
                options: dict[str, Any]) -> Array:
    """x padded along one axis in a mode where each new element is a fixed linear
    combination of the elements along that axis (edge, wrap, reflect, mean, ...).

    numpy's own pad of the identity gives the weights, row by row; the result is a gather
    of the elements with nonzero weights and, unless each row is a single 1, their
    weighted sum.
    """
    n = shape(x)[axis]
    if n == 0:
        raise ShapeError(f"pad: cannot extend the empty axis {axis} in mode {mode!r}, only in "
                         "'constant' or 'empty'" + user_location())
    weights = numpy_result(np.pad, np.eye(n), (widths, (0, 0)), mode, **options)
    terms = builtins.max(int((weights != 0).sum(axis=1).max()), 1)
    columns = np.argsort(weights == 0, axis=1, kind="stable")[:, :terms]  # nonzero ones first
    picked = np.take_along_axis(weights, columns, axis=1)
    if terms == 1 and np.all(picked == 1):
        return _take_const(x, columns[:, 0], axis)
    gathered = _take_const(x, columns, axis)  # the new axis of terms follows `axis`
    trailing = (1,) * (len(shape(x)) - axis - 1)
    scaled = multiply(gathered, picked.reshape(*picked.shape, *trailing).astype(x.dtype))
    return scaled.sum(axis=axis + 1)


def _pad_constant(x: Array, widths: tuple[tuple[int, int], ...], values: ArrayLike) -> Array:
    out = S.pad_p.bind(x, widths=widths) if builtins.any(w != (0, 0) for w in widths) else x
    if not isinstance(values, Tracer) and not np.any(np.asarray(values)):
        return out
    values = astype(values, x.dtype)
    nd = len(widths)
    if len(shape(values)) != 0:
        values = broadcast_to(values, (nd, 2))
    # As numpy's, axis by axis over the whole padded extent of the others: the corners
    # take the values of the last axis.
    for axis, (before, after) in enumerate(widths):
        length = shape(out)[axis]
        for side, (start, stop) in enumerate(((0, before), (length - after, length))):
            if start == stop:
                continue
            region = np.zeros(length, bool)
            region[start:stop] = True
            value = values if len(shape(values)) == 0 else values[axis, side]
            out = where(region.reshape((length,) + (1,) * (nd - axis - 1)), value, out)
    return out


def pad(array: ArrayLike, pad_width: PadWidth, mode: str = "constant", **kwargs: Any) -> Array:
    """array padded as numpy's pad: pad_width an int, (before, after), or a pair per axis;
    mode 'constant' (constant_values, which may be traced), 'edge', 'reflect',
    'symmetric' (reflect_type 'even' or 'odd'), 'wrap', 'linear_ramp' (end_values),
    'mean' (stat_length) or 'empty' (zeros here)."""
    if not isinstance(array, Tracer) and not contains_tracer(list(kwargs.values())):
        return numpy_result(np.pad, array, pad_width, mode, **kwargs)
    x: Array = array if isinstance(array, Tracer) else np.asarray(array)
    nd = len(shape(x))
    if not isinstance(mode, str) or mode not in _PAD_OPTIONS:
        raise NotImplementedError(
            f"pad: mode {mode!r} is not supported on traced values; the supported modes are "
            f"{', '.join(map(repr, _PAD_OPTIONS))}" + user_location())
    unknown = set(kwargs) - _PAD_OPTIONS[mode]
    if unknown:
        raise TypeError(f"pad: unsupported keyword arguments for mode {mode!r}: "
                        f"{sorted(unknown)}" + user_location())
    try:
        pairs = np.broadcast_to(np.asarray(pad_width), (nd, 2))
    except ValueError:
        raise ShapeError(f"pad: pad_width {pad_width!r} does not give a (before, after) pair "
                         f"for each of the {nd} axes of shape {shape(x)}"
                         + user_location()) from None
    if pairs.dtype.kind not in "iu" or np.any(pairs < 0):
        raise ValueError(f"pad: pad_width must be non-negative integers, got {pad_width!r}"
                         + user_location())
    widths = tuple((int(a), int(b)) for a, b in pairs)
    if mode in ("constant", "empty"):
        return _pad_constant(x, widths, kwargs.get("constant_values", 0))
    per_axis = dict(kwargs)
    if mode == "linear_ramp":
        # The ramp is linear in x (towards the end values 0) plus linear in the end values
        # (which may be traced): the first part by _pad_linear, the second added below.
        ends = kwargs.get("end_values", 0)
        ends = astype(ends if isinstance(ends, Tracer) else np.asarray(ends), x.dtype)
        per_axis["end_values"] = 0
    if "stat_length" in kwargs:
        lengths = np.broadcast_to(concrete_value("pad", "stat_length", kwargs["stat_length"]),
                                  (nd, 2))
    out = x
    for axis, pair in enumerate(widths):
        if pair == (0, 0):
            continue
        if "stat_length" in kwargs:
            per_axis["stat_length"] = (tuple(lengths[axis]), (1, 1))
        padded = _pad_linear(out, axis, pair, mode, per_axis)
        if mode == "linear_ramp":
            for side, unit in enumerate(((1, 0), (0, 1))):
                weights = numpy_result(np.pad, np.zeros(shape(out)[axis]), pair, mode,
                                       end_values=unit).astype(x.dtype)
                end = ends if len(shape(ends)) == 0 else broadcast_to(ends, (nd, 2))[axis, side]
                padded = add(padded, multiply(end, weights.reshape(-1, *(1,) * (nd - axis - 1))))
        out = padded
    return out


def diff(a: ArrayLike, n: int = 1, axis: int = -1, prepend: ArrayLike | None = None,
         append: ArrayLike | None = None) -> Array:
    """The n-th discrete difference along axis (after adding prepend and append there)."""
    if n < 0:
        raise ValueError(f"diff: the order n must be non-negative, got {n}" + user_location())
    ends = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}
    if not any_traced((a, prepend, append)):
        return np.diff(a, n, axis, **ends)
    if n == 0:
        return a if isinstance(a, Tracer) else np.asarray(a)
    nd = len(shape(a))
    if nd == 0:
        raise ShapeError("diff: the input must have at least one dimension" + user_location())
    ax = normalize_axes("diff", axis, nd)[0]
    if ends:
        edge = tuple(1 if i == ax else d for i, d in enumerate(shape(a)))
        parts = [p for p in (prepend, a, append) if p is not None]
        a = concatenate([p if len(shape(p)) else broadcast_to(p, edge) for p in parts], axis=ax)
    x: Array = a if isinstance(a, Tracer) else np.asarray(a)
    before = (slice(None),) * ax
    for _ in range(n):
        later, earlier = x[before + (slice(1, None),)], x[before + (slice(None, -1),)]
        x = not_equal(later, earlier) if x.dtype == np.bool_ else subtract(later, earlier)
    return x


def meshgrid(*xi: ArrayLike, copy: bool = True, sparse: bool = False,
             indexing: Literal["xy", "ij"] = "xy") -> tuple[Array, ...]:
    """Coordinate arrays from coordinate vectors: 'xy' (Cartesian: the first two axes
    swapped) or 'ij' (matrix) indexing; sparse keeps them broadcastable instead of full."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}"
                         + user_location())
    if not any_traced(xi):
        eager: tuple[Array, ...] = tuple(np.meshgrid(*map(np.asarray, xi), copy=copy,
                                                     sparse=sparse, indexing=indexing))
        return eager
    nd = len(xi)
    axes = list(range(nd))
    if indexing == "xy" and nd > 1:
        axes[0], axes[1] = 1, 0
    grids = [reshape(x, tuple(-1 if i == ax else 1 for i in range(nd)))
             for x, ax in zip(xi, axes)]
    if sparse:
        return tuple(grids)
    full = np.broadcast_shapes(*(shape(g) for g in grids))
    return tuple(broadcast_to(g, full) for g in grids)


def matrix_transpose(x: ArrayLike, /) -> Array:
    """x with its last two axes swapped (a stack of matrices transposed)."""
    if len(shape(x)) < 2:
        raise ShapeError(f"matrix_transpose: x must have at least 2 dimensions, got shape "
                         f"{shape(x)}" + user_location())
    return swapaxes(x, -1, -2)


def unstack(x: ArrayLike, /, *, axis: int = 0) -> tuple[Array, ...]:
    """The slices of x along axis, as a tuple (the inverse of stack)."""
    if not isinstance(x, Tracer):
        return tuple(np.unstack(np.asarray(x), axis=axis))
    ax = normalize_axes("unstack", axis, x.ndim)[0]
    return tuple(x[(slice(None),) * ax + (i,)] for i in range(x.shape[ax]))


def rollaxis(a: ArrayLike, axis: int, start: int = 0) -> Array:
    """a with axis moved to just before position start (numpy's older moveaxis)."""
    if not isinstance(a, Tracer):
        return np.rollaxis(np.asarray(a), axis, start)
    ax = normalize_axes("rollaxis", axis, a.ndim)[0]
    to = start + a.ndim if start < 0 else start
    if not 0 <= to <= a.ndim:
        raise ShapeError(f"rollaxis: start {start} is out of bounds for an array of dimension "
                         f"{a.ndim}" + user_location())
    order = [i for i in range(a.ndim) if i != ax]
    order.insert(to - 1 if ax < to else to, ax)
    return transpose(a, order)


def broadcast_shapes(*args: int | Sequence[int]) -> tuple[int, ...]:
    """The shape that arrays of the given shapes broadcast to."""
    return np.broadcast_shapes(*args)


def broadcast_arrays(*args: ArrayLike, subok: bool = False) -> tuple[Array, ...]:
    """The arrays broadcast to their common shape."""
    if not any_traced(args):
        return tuple(np.broadcast_arrays(*args, subok=subok))
    try:
        common = np.broadcast_shapes(*(shape(a) for a in args))
    except ValueError:
        raise ShapeError(f"broadcast_arrays: shapes {', '.join(str(shape(a)) for a in args)} "
                         "cannot be broadcast together" + user_location()) from None
    return tuple(broadcast_to(a, common) for a in args)


# ---------------------------------------------------------------------------- rearranging

NDArray = np.ndarray[Any, Any]
Positions = int | slice | Sequence[int] | ArrayLike


def _gather_plan(x: Array, extra: Array | None,
                 plan: Callable[[NDArray, NDArray | None], NDArray]) -> Array:
    """x's elements (and extra's, if given) rearranged as numpy's own function rearranges
    labels: `plan` gets x's element numbers (of x's shape) and extra's (numbered after
    them) and returns the numbers in their new places, which is one gather."""
    labels = np.arange(math.prod(shape(x))).reshape(shape(x))
    if extra is None:
        return _take_const(ravel(x), plan(labels, None), 0)
    extra_labels = labels.size + np.arange(math.prod(shape(extra))).reshape(shape(extra))
    return _take_const(concatenate([ravel(x), ravel(extra)]), plan(labels, extra_labels), 0)


def _places(name: str, obj: Positions) -> Any:
    """insert's and delete's obj, whose value must be known."""
    return concrete_value(name, "obj", obj) if isinstance(obj, Tracer) else obj


def insert(arr: ArrayLike, obj: Positions, values: ArrayLike, axis: int | None = None) -> Array:
    """arr with values inserted before the positions obj along axis (arr flattened if
    None), as numpy's; values take arr's dtype. obj must be known (not traced under jit)."""
    if not any_traced((arr, obj, values)):
        return numpy_result(np.insert, arr, obj, values, axis)
    x = arr if isinstance(arr, Tracer) else np.asarray(arr)
    places = _places("insert", obj)
    return _gather_plan(x, astype(values, x.dtype),
                        lambda labels, new: cast(Any, np.insert)(labels, places, new, axis))


def delete(arr: ArrayLike, obj: Positions, axis: int | None = None) -> Array:
    """arr without the positions obj along axis (arr flattened if None), as numpy's; obj
    must be known (not traced under jit)."""
    if not any_traced((arr, obj)):
        return numpy_result(np.delete, arr, obj, axis)
    x = arr if isinstance(arr, Tracer) else np.asarray(arr)
    places = _places("delete", obj)
    return _gather_plan(x, None, lambda labels, _: np.delete(labels, places, axis))


def resize(a: ArrayLike, new_shape: int | Sequence[int]) -> Array:
    """a's elements, flattened and repeated as often as needed, in new_shape (numpy's
    resize, which is not ndarray.resize: no zeros are added)."""
    if not isinstance(a, Tracer):
        return numpy_result(np.resize, a, new_shape)
    if a.size == 0:  # as numpy: nothing to repeat, zeros
        return np.zeros(new_shape, a.dtype)
    return _gather_plan(a, None, lambda labels, _: np.resize(labels, new_shape))


def trim_zeros(filt: ArrayLike, trim: str = "fb", axis: Axis = None) -> Array:
    """filt without its leading ('f') and trailing ('b') zeros along the given axes (all by
    default). Where they are depends on the values, which must be known (not under jit)."""
    if not isinstance(filt, Tracer):
        return numpy_result(np.trim_zeros, filt, trim, axis)
    if trim.lower() not in ("fb", "bf", "f", "b"):
        raise ValueError(f"trim_zeros: trim must be 'f', 'b' or 'fb', got {trim!r}"
                         + user_location())
    known = concrete_value("trim_zeros", "filt", filt, "the result's shape depends on where "
                           "its zeros are")
    axes = normalize_axes("trim_zeros", axis, filt.ndim)
    nonzero = np.argwhere(known)
    if not nonzero.size:  # all zeros: an empty box
        start = stop = np.zeros(filt.ndim, np.intp)
    else:
        start = nonzero.min(0) if "f" in trim.lower() else np.zeros(filt.ndim, np.intp)
        stop = nonzero.max(0) + 1 if "b" in trim.lower() else np.array(filt.shape)
    return filt[tuple(slice(int(start[i]), int(stop[i])) if i in axes else slice(None)
                      for i in range(filt.ndim))]


def ediff1d(ary: ArrayLike, to_end: ArrayLike | None = None,
            to_begin: ArrayLike | None = None) -> Array:
    """The differences of consecutive elements of the flattened ary, with to_begin before
    and to_end after them (in ary's dtype)."""
    if not any_traced((ary, to_end, to_begin)):
        return numpy_result(np.ediff1d, ary, to_end, to_begin)
    flat = ravel(ary)
    parts = [diff(flat)]
    for name, extra in (("to_begin", to_begin), ("to_end", to_end)):
        if extra is None:
            continue
        values = extra if isinstance(extra, Tracer) else np.asarray(extra)
        if not np.can_cast(values.dtype, flat.dtype, "same_kind"):
            raise TypeError(f"ediff1d: {name} of dtype {values.dtype} cannot be cast to ary's "
                            f"dtype {flat.dtype}" + user_location())
        edge = ravel(astype(values, flat.dtype))
        parts = [edge, *parts] if name == "to_begin" else [*parts, edge]
    return concatenate(parts) if len(parts) > 1 else parts[0]


def _block_depth(arrays: Any, place: str) -> int:
    """How deeply the lists of block nest (the same at every leaf, as numpy requires)."""
    if isinstance(arrays, tuple):
        raise TypeError(f"block: {place} is a tuple; use lists of arrays" + user_location())
    if not isinstance(arrays, list):
        return 0
    if not arrays:
        raise ValueError(f"block: {place} is an empty list" + user_location())
    depths = {_block_depth(item, f"{place}[{i}]") for i, item in enumerate(arrays)}
    if len(depths) != 1:
        raise ValueError(f"block: the lists inside {place} nest to different depths"
                         + user_location())
    return 1 + depths.pop()


def _block_leaves(arrays: Any) -> list[Any]:
    return [leaf for item in arrays for leaf in _block_leaves(item)] if isinstance(
        arrays, list) else [arrays]


def block(arrays: Any) -> Array:
    """An array assembled from nested lists of blocks, as numpy's: the innermost lists are
    joined along the last axis, the next ones along the second-to-last, and so on."""
    if not contains_tracer(_block_leaves(arrays) if isinstance(arrays, list) else [arrays]):
        return numpy_result(np.block, arrays)
    depth = _block_depth(arrays, "arrays")
    nd = builtins.max([depth, *(len(shape(leaf)) for leaf in _block_leaves(arrays))])

    def assemble(item: Any, level: int) -> Array:
        if not isinstance(item, list):  # a block, with axes of length 1 in front
            return reshape(item, (1,) * (nd - len(shape(item))) + shape(item))
        return concatenate([assemble(i, level + 1) for i in item], axis=level - depth)

    return assemble(arrays, 0)


# ---------------------------------------------------------------------------- differences


def _along_axis(x: Array, axis: int, key: slice | int) -> Array:
    """x[..., key, ...] with the key at axis (an int keeps the axis, as length 1)."""
    index = slice(key, key + 1 or None) if isinstance(key, int) else key
    return x[(slice(None),) * axis + (index,)]


def _edge_weights(steps: Sequence[ArrayLike], last: bool) -> tuple[Any, Any, Any]:
    """numpy's second-order one-sided weights of the three points at an edge, from the two
    steps between them."""
    h1, h2 = steps
    both = add(h1, h2)
    if last:
        return (divide(h2, multiply(h1, both)), negative(divide(both, multiply(h1, h2))),
                divide(add(multiply(2.0, h2), h1), multiply(h2, both)))
    return (negative(divide(add(multiply(2.0, h1), h2), multiply(h1, both))),
            divide(both, multiply(h1, h2)), negative(divide(h1, multiply(h2, both))))


def _gradient_along(f: Array, axis: int, spacing: Any, edge_order: int) -> Array:
    """numpy's gradient of f along one axis: central differences inside, one-sided ones of
    edge_order at the ends; spacing a scalar step or the steps between the coordinates."""
    def part(key: slice | int) -> Array:
        return _along_axis(f, axis, key)

    def weighted(weights: Sequence[Any], keys: Sequence[slice | int]) -> Array:
        total = multiply(weights[0], part(keys[0]))
        for w, k in zip(weights[1:], keys[1:]):
            total = add(total, multiply(w, part(k)))
        return total

    if len(shape(spacing)) == 0:  # uniform: numpy's formulas for one step h
        # (operators, so that a Python step stays a weak Python number)
        h = spacing
        inside = divide(subtract(part(slice(2, None)), part(slice(None, -2))), 2.0 * h)
        if edge_order == 1:
            first = divide(subtract(part(1), part(0)), h)
            last = divide(subtract(part(-1), part(-2)), h)
        else:
            first = weighted([-1.5 / h, 2.0 / h, -0.5 / h], [0, 1, 2])
            last = weighted([0.5 / h, -2.0 / h, 1.5 / h], [-3, -2, -1])
    else:
        # steps of the coordinates, along the axis
        steps = reshape(spacing, tuple(-1 if i == axis else 1 for i in range(len(shape(f)))))

        def step(key: slice | int) -> Array:
            return _along_axis(steps, axis, key)

        h1, h2 = step(slice(None, -1)), step(slice(1, None))
        both = add(h1, h2)
        inside = weighted([negative(divide(h2, multiply(h1, both))),
                           divide(subtract(h2, h1), multiply(h1, h2)),
                           divide(h1, multiply(h2, both))],
                          [slice(None, -2), slice(1, -1), slice(2, None)])
        if edge_order == 1:
            first = divide(subtract(part(1), part(0)), step(0))
            last = divide(subtract(part(-1), part(-2)), step(-1))
        else:
            first = weighted(_edge_weights((step(0), step(1)), False), [0, 1, 2])
            last = weighted(_edge_weights((step(-2), step(-1)), True), [-3, -2, -1])
    return concatenate([first, inside, last], axis=axis)


def gradient(f: ArrayLike, *varargs: ArrayLike | Sequence[float], axis: Axis = None,
             edge_order: int = 1) -> Array | tuple[Array, ...]:
    """numpy's gradient: second-order central differences inside, one-sided differences
    of edge_order (1 or 2) at the ends, along each axis (a tuple of results for several).
    varargs: one spacing for all axes, or one per axis, each a scalar step or the
    coordinates along it (which may be traced and are differentiated)."""
    if not any_traced((f, *varargs)):
        result = cast(Any, np.gradient)(f, *varargs, axis=axis, edge_order=edge_order)
        return tuple(result) if isinstance(result, (list, tuple)) else result
    values = f if isinstance(f, Tracer) else np.asarray(f)
    nd = len(shape(values))
    given = list(range(nd)) if axis is None else (
        [axis] if isinstance(axis, (int, np.integer)) else list(axis))
    axes = [normalize_axes("gradient", a, nd)[0] for a in given]
    if len(set(axes)) != len(axes):
        raise ValueError(f"gradient: repeated axis in {axis!r}" + user_location())
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}"
                         + user_location())
    given = [operand(v) for v in varargs]
    if not given:
        spacings: list[Any] = [1.0] * len(axes)
    elif len(given) == 1 and len(shape(given[0])) == 0:
        spacings = given * len(axes)
    elif len(given) == len(axes):
        spacings = given
    else:
        raise TypeError(f"gradient: {len(varargs)} spacings for {len(axes)} axes; give none, "
                        "one, or one per axis" + user_location())
    if values.dtype.kind not in "fc":
        values = astype(values, np.float64)
    results = []
    for ax, spacing in zip(axes, spacings):
        n = shape(values)[ax]
        if n < edge_order + 1:
            raise ShapeError(f"gradient: axis {ax} of length {n} is too short for edge_order "
                             f"{edge_order}; at least {edge_order + 1} points are needed"
                             + user_location())
        if len(shape(spacing)) == 1:
            if shape(spacing)[0] != n:
                raise ShapeError(f"gradient: coordinates of length {shape(spacing)[0]} do not "
                                 f"match axis {ax} of length {n}" + user_location())
            if not isinstance(spacing, Tracer):
                steps = np.diff(np.asarray(spacing))
                # numpy takes evenly spaced coordinates as one step
                spacing = steps[0] if np.all(steps == steps[0]) else steps
            else:
                spacing = diff(spacing)
        elif len(shape(spacing)) != 0:
            raise ShapeError(f"gradient: the spacing along axis {ax} must be a scalar or 1-D, "
                             f"got shape {shape(spacing)}" + user_location())
        results.append(astype(_gradient_along(values, ax, spacing, edge_order), values.dtype))
    return results[0] if len(results) == 1 else tuple(results)


# ---------------------------------------------------------------------------- applying functions


def apply_along_axis(func1d: Callable[..., Any], axis: int, arr: ArrayLike, *args: Any,
                     **kwargs: Any) -> Array:
    """func1d applied to each 1-D slice of arr along axis, as numpy's: the results (all of
    one shape) replace the axis. Like numpy, func1d is called once per slice, so it may do
    anything it could do on one slice."""
    if not contains_tracer([arr, *args, *kwargs.values()]):
        return numpy_result(np.apply_along_axis, func1d, axis, arr, *args, **kwargs)
    x = arr if isinstance(arr, Tracer) else np.asarray(arr)
    ax = normalize_axes("apply_along_axis", axis, len(shape(x)))[0]
    moved = moveaxis(x, ax, -1)
    outer = shape(moved)[:-1]
    if 0 in outer:
        raise ValueError(f"apply_along_axis: no slices along axis {axis} of an array of shape "
                         f"{shape(x)}" + user_location())
    results = [func1d(moved[index], *args, **kwargs) for index in np.ndindex(*outer)]
    shapes = {shape(r) for r in results}
    if len(shapes) != 1:
        raise ShapeError(f"apply_along_axis: func1d returned results of different shapes "
                         f"{sorted(shapes)}" + user_location())
    inner = shapes.pop()
    out = reshape(stack(results), (*outer, *inner))
    # the result's axes where arr's axis was
    nd_outer, nd_inner = len(outer), len(inner)
    return transpose(out, (*range(ax), *range(nd_outer, nd_outer + nd_inner),
                           *range(ax, nd_outer)))


def apply_over_axes(func: Callable[[Any, int], Any], a: ArrayLike,
                    axes: int | Sequence[int]) -> Array:
    """func(a, axis) applied for each axis in turn, each result given back its axis (of
    length 1) if func removed it, as numpy's."""
    if not isinstance(a, Tracer):
        return numpy_result(np.apply_over_axes, func, a, axes)
    value: Array = a
    for axis in np.atleast_1d(axes):
        ax = int(axis) + a.ndim if axis < 0 else int(axis)
        result = func(value, ax)
        if len(shape(result)) == len(shape(value)) - 1:
            result = expand_dims(result, ax)
        if len(shape(result)) != len(shape(value)):
            raise ShapeError(f"apply_over_axes: func returned shape {shape(result)} for axis "
                             f"{ax} of shape {shape(value)}: it must keep the axis or remove "
                             "it" + user_location())
        value = result
    return value


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
    Row("vstack", vstack),
    Row("hstack", hstack),
    Row("dstack", dstack),
    Row("column_stack", column_stack),
    Row("row_stack", row_stack),
    Row("append", append),
    Row("atleast_1d", atleast_1d),
    Row("atleast_2d", atleast_2d),
    Row("atleast_3d", atleast_3d),
    Row("tile", tile),
    Row("repeat", repeat, methods=("repeat",)),
    Row("flip", flip),
    Row("fliplr", fliplr),
    Row("flipud", flipud),
    Row("rot90", rot90),
    Row("roll", roll),
    Row("pad", pad),
    Row("diff", diff),
    Row("meshgrid", meshgrid),
    Row("matrix_transpose", matrix_transpose),
    Row("unstack", unstack),
    Row("rollaxis", rollaxis),
    Row("broadcast_arrays", broadcast_arrays),
    Row("broadcast_shapes", broadcast_shapes),
    Row("trim_zeros", trim_zeros),
    Row("insert", insert),
    Row("delete", delete),
    Row("resize", resize),
    Row("ediff1d", ediff1d),
    Row("block", block),
    Row("gradient", gradient),
    Row("apply_along_axis", apply_along_axis),
    Row("apply_over_axes", apply_over_axes),
])
permute_dims = alias("permute_dims", transpose)
concat = alias("concat", concatenate)
