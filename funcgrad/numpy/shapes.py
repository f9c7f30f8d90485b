"""Shapes and assembly: reshape, transpose, moveaxis, squeeze, broadcast_to, the stacking
and concatenating family, tile, repeat, flips, rotations, roll, pad in numpy's modes, diff
and meshgrid.

Most are compositions: flips, rolls, per-element repeats and the reflecting pad modes are
one gather with a constant index (whose transpose, a scatter-add, sends the cotangent of
every copy of an element back to it); tile and whole-axis repeats are a broadcast.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import DTypeLike

from funcgrad.core import Array, ArrayLike, ConcretizationError, ShapeError, Tracer, user_location
from funcgrad.primitives import indexing as I
from funcgrad.primitives import shapes as S
from funcgrad.numpy._table import (Axis, Row, any_traced, contains_tracer, dtype_or_scalar,
                                   normalize_axes, register, shape)
from funcgrad.numpy.elementwise import add, astype, multiply, not_equal, subtract, where

__all__ = [
    "reshape", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze", "ravel",
    "broadcast_to", "concatenate", "stack", "vstack", "hstack", "dstack", "column_stack",
    "row_stack", "append", "atleast_1d", "atleast_2d", "atleast_3d", "tile", "repeat", "flip",
    "fliplr", "flipud", "rot90", "roll", "pad", "diff", "meshgrid",
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


def _concrete(name: str, what: str, value: ArrayLike | Sequence[int]) -> np.ndarray[Any, Any]:
    """An argument that fixes the result's shape or is not differentiated: its value must
    be known."""
    if isinstance(value, Tracer):
        known = value._trace.concrete(value)
        if known is None:
            raise ConcretizationError(
                f"{name}: {what} ({value.aval}) is traced, but the result's shape depends on "
                "its value; pass a constant" + user_location())
        value = known
    return np.asarray(value)


def repeat(a: ArrayLike, repeats: ArrayLike | Sequence[int], axis: int | None = None) -> Array:
    """Each element repeated (repeats: one count, or one per element along axis; a is
    flattened if axis is None)."""
    if not isinstance(a, Tracer) and not isinstance(repeats, Tracer):
        return numpy_result(np.repeat, a, repeats, axis)
    x: Array = ravel(a) if axis is None else a if isinstance(a, Tracer) else np.asarray(a)
    ax = 0 if axis is None else normalize_axes("repeat", axis, len(shape(x)))[0]
    counts = _concrete("repeat", "repeats", repeats)
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
    for s, ax in np.broadcast(_concrete("roll", "shift", shift), np.asarray(axis)):
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
        lengths = np.broadcast_to(_concrete("pad", "stat_length", kwargs["stat_length"]),
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
])
