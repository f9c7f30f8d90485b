"""Indexing: x[key] with every numpy index form, functional updates (x.at[key].set, add,
multiply, min, ...), take and friends, choose, select and piecewise, diagonals and
triangles, the split family, and the selections whose size depends on the values
(nonzero, argwhere, flatnonzero, compress, extract)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from funcgrad.core import (Array, ArrayLike, ConcretizationError, Primitive, ShapeError, Tracer,
                           user_location)
from funcgrad.primitives import indexing as I
from funcgrad.primitives import reductions as R
from funcgrad.numpy._table import (Row, contains_tracer, dtype_or_scalar, inexact_dtype,
                                   normalize_axes, register, shape)
from funcgrad.numpy.creation import asarray
from funcgrad.numpy.elementwise import (astype, clip, concrete_value, divide, less,
                                        logical_not, logical_or, multiply, negative, operand,
                                        subtract, where, Values)
from funcgrad.numpy.shapes import (broadcast_arrays, broadcast_to, expand_dims, moveaxis,
                                   numpy_result, ravel, reshape, stack)

__all__ = [
    "getitem", "at", "IndexUpdateHelper", "take", "take_along_axis", "put_along_axis",
    "select", "diag", "diagonal", "trace", "tril", "triu", "split", "array_split", "hsplit",
    "vsplit", "dsplit", "diagflat", "choose", "piecewise", "nonzero", "argwhere",
    "flatnonzero", "compress", "extract",
]


# ---------------------------------------------------------------------------- index keys


class _UnitAxis(NamedTuple):
    """A 0-d boolean in an index: numpy adds an axis of length 1 and keeps it (True) or
    takes none of it (False)."""

    keep: bool


def _index_array(item: Any) -> Any:
    """An index entry that is neither an int, a slice, None nor ...: an array or a tracer,
    with a boolean mask's values (which fix the result's shape) made concrete."""
    if isinstance(item, (list, tuple)) and contains_tracer(item):
        item = asarray(item)
    if not isinstance(item, Tracer):
        return np.asarray(item)
    if item.dtype != np.bool_:
        return item
    value = item._trace.concrete(item)
    if value is None:
        raise ConcretizationError(
            f"indexing with a traced boolean mask ({item.aval}) gives a result whose shape "
            "depends on its values, which tracing cannot know. Use fnp.where(mask, x, 0) "
            "instead." + user_location())
    return value


def _parse_index(x: Array, key: Any) -> tuple[Array, I.IndexKey, tuple[Any, ...]]:
    """x[key] as a gather: x (with an axis of length 1 inserted for each 0-d boolean), the
    static part of the index and its integer index arrays."""
    static: list[Any] = []
    arrays: list[Any] = []
    for item in key if isinstance(key, tuple) else (key,):
        if isinstance(item, slice):
            static.append(I.SliceKey(*(None if v is None else int(v)
                                       for v in (item.start, item.stop, item.step))))
        elif item is None or item is Ellipsis:
            static.append(item)
        elif isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
            static.append(int(item))
        else:
            array = _index_array(item)
            if array.dtype == np.bool_ and array.ndim == 0:
                static.append(_UnitAxis(bool(array)))
            elif array.dtype == np.bool_:
                for nonzero in np.nonzero(array):
                    static.append(I.ArrayKey(len(arrays)))
                    arrays.append(nonzero)
            elif array.dtype.kind in "iu":
                static.append(I.ArrayKey(len(arrays)))
                arrays.append(array)
            else:
                raise TypeError(f"index of dtype {array.dtype} is not allowed: use integers, "
                                "slices, None, ..., integer arrays or boolean masks"
                                + user_location())
    if builtins.any(type(k) is _UnitAxis for k in static):
        # numpy's reading of a 0-d boolean: a new axis of length 1, indexed (as an advanced
        # index) by [0] or by [].
        dims = list(shape(x))
        consumed = builtins.sum(1 for k in static if k is not None and k is not Ellipsis
                                and type(k) is not _UnitAxis)
        position = 0
        for i, k in enumerate(static):
            if type(k) is _UnitAxis:
                dims.insert(position, 1)
                static[i] = I.ArrayKey(len(arrays))
                arrays.append(np.zeros(int(k.keep), np.intp))
                position += 1
            elif k is Ellipsis:
                position += builtins.max(len(shape(x)) - consumed, 0)
            elif k is not None:
                position += 1
        x = reshape(x, dims)
    return x, I.IndexKey(static), tuple(arrays)


def getitem(x: ArrayLike, key: Any) -> Array:
    """x[key]: ints, slices, None, ..., integer arrays and boolean masks, as numpy's."""
    if not isinstance(x, Tracer) and not contains_tracer(key):
        picked: Array = np.asarray(x)[key]
        return picked
    x, index, arrays = _parse_index(x if isinstance(x, Tracer) else np.asarray(x), key)
    return I.gather_p.bind(x, *arrays, index=index)


# ---------------------------------------------------------------------------- x.at[key]


class _IndexUpdate:
    """x.at[key]: the update methods, each returning a new array."""

    def __init__(self, x: Array, key: Any) -> None:
        self.x = x
        self.key = key

    def _scatter(self, prim: Primitive, values: ArrayLike) -> Array:
        x, index, arrays = _parse_index(self.x, self.key)
        target = I.gather_p.shape_rule(x, *arrays, index=index).shape
        updates = astype(values, x.dtype)
        extra = len(shape(updates)) - len(target)
        if extra > 0 and builtins.all(d == 1 for d in shape(updates)[:extra]):
            updates = reshape(updates, shape(updates)[extra:])  # numpy drops leading 1s
        try:
            updates = broadcast_to(updates, target)
        except ValueError:  # ShapeError for traced values, numpy's own for constants
            raise ShapeError(f"x.at[...]: values of shape {shape(values)} do not fit the "
                             f"indexed part of x, of shape {target}" + user_location()) from None
        return reshape(prim.bind(x, updates, *arrays, index=index), shape(self.x))

    def get(self) -> Array:
        """x[key]."""
        return getitem(self.x, self.key)

    def set(self, values: ArrayLike) -> Array:
        """x with x[key] replaced by values; of repeated indices the last one wins."""
        return self._scatter(I.scatter_p, values)

    def add(self, values: ArrayLike) -> Array:
        """x with values added at x[key]; repeated indices add up (numpy's add.at)."""
        return self._scatter(I.scatter_add_p, values)

    def subtract(self, values: ArrayLike) -> Array:
        """x with values subtracted at x[key]; repeated indices all subtract."""
        return self.add(negative(astype(values, self.x.dtype)))

    def multiply(self, values: ArrayLike) -> Array:
        """x with x[key] multiplied by values; repeated indices all multiply."""
        return self._scatter(I.scatter_mul_p, values)

    def divide(self, values: ArrayLike) -> Array:
        """x with x[key] divided by values; repeated indices divide by their product."""
        ones = np.ones(shape(self.x), inexact_dtype(self.x.dtype))
        return divide(self.x, IndexUpdateHelper(ones)[self.key].multiply(values))

    def min(self, values: ArrayLike) -> Array:
        """x with x[key] lowered to values where they are smaller (numpy's minimum.at);
        tied values share the gradient."""
        return self._scatter(I.scatter_min_p, values)

    def max(self, values: ArrayLike) -> Array:
        """x with x[key] raised to values where they are larger (numpy's maximum.at);
        tied values share the gradient."""
        return self._scatter(I.scatter_max_p, values)

    def apply(self, fn: Callable[[Array], ArrayLike]) -> Array:
        """x with the elementwise function fn applied at x[key], once per occurrence of an
        element in the index (numpy's ufunc.at with a unary ufunc)."""
        counted = IndexUpdateHelper(np.zeros(shape(self.x), np.intp))[self.key].add(1)
        hits = counted._trace.concrete(counted) if isinstance(counted, Tracer) else counted
        if hits is None:
            raise ConcretizationError(
                "x.at[...].apply: with traced index arrays the number of times each "
                "element is hit is not known while tracing" + user_location())
        hit_counts = getitem(hits, self.key)
        out = self.x
        for round_ in range(int(hits.max(initial=0))):
            picked = getitem(out, self.key)
            changed = where(hit_counts > round_, fn(picked), picked)
            out = IndexUpdateHelper(out)[self.key].set(changed)
        return out


def at(x: ArrayLike) -> IndexUpdateHelper:
    """at(x)[key].set(v) / .add(v) / .get() ...: functional updates, for numpy arrays too."""
    return IndexUpdateHelper(x if isinstance(x, Tracer) else np.asarray(x))


class IndexUpdateHelper:
    """x.at[key]: functional updates of an immutable array (set, add, subtract, multiply,
    divide, min, max, apply, get)."""

    def __init__(self, x: Array) -> None:
        self.x = x

    def __getitem__(self, key: Any) -> _IndexUpdate:
        return _IndexUpdate(self.x, key)


# ---------------------------------------------------------------------------- take

Indices = ArrayLike | Sequence[Any]
"""Integer indices: an array, a traced value or (nested) lists of ints."""


def _wrap(indices: Any, n: int) -> Any:
    """indices modulo n (into [0, n)), for numpy arrays and traced integers alike."""
    if not isinstance(indices, Tracer):
        return np.mod(indices, n)
    # Truncating division (exact for integers below 2**53), then one correction upwards.
    rest = subtract(indices, multiply(astype(divide(indices, n), indices.dtype), n))
    return where(less(rest, 0), rest + n, rest)


def _along(axis: int, index: Any) -> tuple[Any, ...]:
    """The key indexing axis `axis` with `index`."""
    return (slice(None),) * axis + (index,)


def take(a: ArrayLike, indices: Indices, axis: int | None = None,
         mode: Literal["raise", "wrap", "clip"] = "raise") -> Array:
    """Elements of a at indices along axis (a flattened if None); mode 'raise' (out-of-range
    indices raise, negative ones count from the end), 'wrap' or 'clip' (which, as numpy's,
    also clips negative indices to 0)."""
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}"
                         + user_location())
    if not isinstance(a, Tracer) and not contains_tracer(indices):
        return numpy_result(np.take, a, indices, axis=axis, mode=mode)
    x: Array = ravel(a) if axis is None else a if isinstance(a, Tracer) else np.asarray(a)
    ax = 0 if axis is None else normalize_axes("take", axis, len(shape(x)))[0]
    n = shape(x)[ax]
    idx = _index_array(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"take: indices must be integers, got {idx.dtype}" + user_location())
    if mode == "wrap":
        idx = _wrap(idx, n)
    elif mode == "clip":
        idx = clip(idx, 0, n - 1)
    return getitem(x, _along(ax, idx))


def _along_axis_key(name: str, arr: Array, indices: Any, axis: int | None
                    ) -> tuple[Array, tuple[Any, ...]]:
    """arr (flattened if axis is None) and the index that takes `indices` along the axis
    and everything along the others, as numpy's *_along_axis."""
    if axis is None:
        arr = ravel(arr)
        axis = 0
    nd = len(shape(arr))
    if len(shape(indices)) != nd:
        raise ShapeError(f"{name}: indices of shape {shape(indices)} must have as many "
                         f"dimensions as the array, of shape {shape(arr)}" + user_location())
    ax = normalize_axes(name, axis, nd)[0]
    idx = _index_array(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got {idx.dtype}" + user_location())
    key = tuple(idx if i == ax else
                np.arange(d).reshape((1,) * i + (d,) + (1,) * (nd - i - 1))
                for i, d in enumerate(shape(arr)))
    return arr, key


def take_along_axis(arr: ArrayLike, indices: Indices, axis: int | None = -1) -> Array:
    """arr's elements at indices along axis (the others matched), as numpy's: the inverse
    of argsort and friends."""
    if not isinstance(arr, Tracer) and not contains_tracer(indices):
        return np.take_along_axis(np.asarray(arr), np.asarray(indices), axis=axis)
    x, key = _along_axis_key("take_along_axis", arr if isinstance(arr, Tracer)
                             else np.asarray(arr), indices, axis)
    return getitem(x, key)


def put_along_axis(arr: ArrayLike, indices: Indices, values: ArrayLike, axis: int | None,
                   inplace: bool = True) -> Array:
    """A copy of arr with values put at indices along axis (the last of repeated indices
    wins). funcgrad arrays are immutable: pass inplace=False (numpy's version writes into
    arr and returns None)."""
    if inplace:
        raise ValueError("put_along_axis: funcgrad arrays cannot be written in place; call "
                         "funcgrad.numpy.put_along_axis(..., inplace=False), which returns the "
                         "updated array" + user_location())
    x, key = _along_axis_key("put_along_axis", arr if isinstance(arr, Tracer)
                             else np.asarray(arr), indices, axis)
    out = IndexUpdateHelper(x)[key].set(values)
    return reshape(out, shape(arr))


def select(condlist: Sequence[ArrayLike], choicelist: Sequence[ArrayLike],
           default: ArrayLike = 0) -> Array:
    """Elementwise, the choice of the first condition that holds (default if none)."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: {len(condlist)} conditions but {len(choicelist)} choices"
                         + user_location())
    if not contains_tracer(list(condlist) + list(choicelist) + [default]):
        return numpy_result(np.select, condlist, choicelist, default)
    if not condlist:
        raise ValueError("select: the list of conditions is empty" + user_location())
    for i, cond in enumerate(condlist):
        dtype = cond.dtype if isinstance(cond, Tracer) else np.asarray(cond).dtype
        if dtype != np.bool_:
            raise TypeError(f"select: condition {i} must be boolean, got {dtype}"
                            + user_location())
    dtype = np.result_type(*(dtype_or_scalar(c) for c in [*choicelist, default]))
    out: Array = astype(default, dtype)
    for cond, choice in zip(reversed(condlist), reversed(choicelist)):
        out = where(cond, astype(choice, dtype), out)
    return out


def choose(a: ArrayLike, choices: Sequence[ArrayLike], out: None = None,
           mode: Literal["raise", "wrap", "clip"] = "raise") -> Array:
    """Elementwise, choices[a] (a and the choices broadcast together); mode 'raise' (a must
    be in [0, n), so its values must be known: not under jit), 'wrap' or 'clip'."""
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}"
                         + user_location())
    if not contains_tracer([a, *choices]):
        return numpy_result(np.choose, a, choices, out, mode)
    if out is not None:
        raise TypeError("choose: out= cannot be used with traced values, which are immutable"
                        + user_location())
    n = len(choices)
    index = _index_array(a)
    if index.dtype.kind not in "iu":
        raise TypeError(f"choose: a must be integers, got {index.dtype}" + user_location())
    if mode == "raise":
        known = concrete_value("choose", "a", index, "mode='raise' checks its values",
                               "pass a constant, or use mode='wrap' or 'clip'")
        if np.any((known < 0) | (known >= n)):
            raise ValueError(f"choose: a has entries outside [0, {n}) for {n} choices"
                             + user_location())
    elif mode == "wrap":
        index = _wrap(index, n)
    else:
        index = clip(index, 0, n - 1)
    choices = [operand(c) for c in choices]
    dtype = np.result_type(*(dtype_or_scalar(c) for c in choices))
    index, *options = broadcast_arrays(index, *(astype(c, dtype) for c in choices))
    return take_along_axis(stack(options), expand_dims(index, 0), 0)[0]


def piecewise(x: ArrayLike, condlist: Any, funclist: Sequence[Any], *args: Any,
              **kw: Any) -> Array:
    """x's pieces through their functions: where condlist[i] holds, funclist[i](x, *args,
    **kw) (or the constant funclist[i]); an extra last function where none holds, else 0.
    Later conditions win, as numpy's; the result has x's dtype. Traced, each function runs
    on all of x and `where` picks its piece, so a function must accept every value of x
    (an inf or nan from a piece that is not picked still makes its gradient nan, as in
    JAX)."""
    if not contains_tracer([x, condlist, *args, *kw.values()]):
        return numpy_result(np.piecewise, x, condlist, funclist, *args, **kw)
    values = x if isinstance(x, Tracer) else np.asarray(x)
    dims = shape(values)
    if isinstance(condlist, (list, tuple)):
        conditions = list(condlist)
    elif len(shape(condlist)) == len(dims) + 1:  # one condition per row
        conditions = [condlist[i] for i in range(shape(condlist)[0])]
    else:
        conditions = [condlist]
    conditions = [broadcast_to(astype(c, np.bool_), dims) for c in conditions]
    if len(funclist) == len(conditions) + 1:
        elsewhere: Array = logical_not(conditions[0])
        for c in conditions[1:]:
            elsewhere = logical_not(logical_or(logical_not(elsewhere), c))
        conditions.append(elsewhere)
    elif len(funclist) != len(conditions):
        raise ValueError(f"piecewise: {len(conditions)} conditions need {len(conditions)} or "
                         f"{len(conditions) + 1} functions, got {len(funclist)}"
                         + user_location())
    out: Array = np.zeros(dims, values.dtype)
    for condition, fn in zip(conditions, funclist):
        piece = fn(values, *args, **kw) if callable(fn) else fn
        out = where(condition, astype(piece, values.dtype), out)
    return out


# ---------------------------------------------------------------------------- sizes from values


def _known(name: str, a: Values) -> np.ndarray[Any, Any]:
    return concrete_value(name, "the condition" if name in ("compress", "extract") else "a", a,
                          "the number of elements it selects depends on its values")


def nonzero(a: ArrayLike) -> tuple[Array, ...]:
    """The indices of the nonzero elements, one array per axis. How many there are depends
    on the values, which must be known (not under jit)."""
    return tuple(np.nonzero(_known("nonzero", a)))


def argwhere(a: ArrayLike) -> Array:
    """The indices of the nonzero elements, one row each. Needs a's values (not under jit)."""
    return np.argwhere(_known("argwhere", a))


def flatnonzero(a: ArrayLike) -> Array:
    """The indices of the nonzero elements of the flattened a. Needs a's values (not under
    jit)."""
    return np.flatnonzero(_known("flatnonzero", a))


def compress(condition: Values, a: ArrayLike, axis: int | None = None,
             out: None = None) -> Array:
    """The slices of a along axis (a flattened if None) where the 1-D condition holds; the
    condition's values must be known (not under jit), a may be traced."""
    if not contains_tracer([condition, a]):
        return numpy_result(np.compress, condition, a, axis, out)
    if out is not None:
        raise TypeError("compress: out= cannot be used with traced values" + user_location())
    return take(a, np.nonzero(np.ravel(_known("compress", condition)))[0], axis)


def extract(condition: Values, arr: ArrayLike) -> Array:
    """The elements of arr where condition holds, flattened; the condition's values must be
    known (not under jit), arr may be traced."""
    if not contains_tracer([condition, arr]):
        return numpy_result(np.extract, condition, arr)
    return take(ravel(arr), np.nonzero(np.ravel(_known("extract", condition)))[0])


# ---------------------------------------------------------------------------- diagonals


def diagonal(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """The diagonal (offset above it if > 0, below if < 0) of the axis1/axis2 planes, as
    the last axis."""
    if not isinstance(a, Tracer):
        return np.diagonal(a, offset, axis1, axis2)
    ax1 = normalize_axes("diagonal", axis1, a.ndim)[0]
    ax2 = normalize_axes("diagonal", axis2, a.ndim)[0]
    if ax1 == ax2:
        raise ValueError(f"diagonal: axis1 and axis2 are both axis {ax1}" + user_location())
    x = moveaxis(a, (ax1, ax2), (-2, -1))
    rows, cols = x.shape[-2:]
    first_row, first_col = builtins.max(-offset, 0), builtins.max(offset, 0)
    n = builtins.max(0, builtins.min(rows - first_row, cols - first_col))
    return getitem(x, (Ellipsis, np.arange(first_row, first_row + n),
                       np.arange(first_col, first_col + n)))


def trace(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1,
          dtype: DTypeLike | None = None) -> Array:
    """The sum along a diagonal (see diagonal), in dtype if given."""
    if not isinstance(a, Tracer):
        return np.asarray(np.trace(a, offset, axis1, axis2, dtype))
    d = diagonal(a, offset, axis1, axis2)
    # The reduction primitive itself: funcgrad.numpy.reductions imports this module.
    return R.reduce_sum_p.bind(d if dtype is None else astype(d, dtype), axes=(d.ndim - 1,))


def diag(v: ArrayLike, k: int = 0) -> Array:
    """A 1-D v as the k-th diagonal of a square matrix; of a 2-D v, its k-th diagonal."""
    if not isinstance(v, Tracer):
        return np.diag(v, k)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ShapeError(f"diag: the input must be 1-D or 2-D, got {v.aval}" + user_location())
    n = v.shape[0] + builtins.abs(k)
    positions = np.arange(v.shape[0])
    key = (positions + builtins.max(-k, 0), positions + builtins.max(k, 0))
    return IndexUpdateHelper(np.zeros((n, n), v.dtype))[key].add(v)


def diagflat(v: ArrayLike, k: int = 0) -> Array:
    """The flattened v as the k-th diagonal of a square matrix."""
    if not isinstance(v, Tracer):
        return np.diagflat(v, k)
    return diag(ravel(v), k)


def _triangle(name: str, m: ArrayLike, lower: bool, k: int) -> Array:
    if not isinstance(m, Tracer):
        return np.tril(m, k) if lower else np.triu(m, k)
    if m.ndim == 0:
        raise ShapeError(f"{name}: the input must have at least one dimension, got {m.aval}"
                         + user_location())
    # As numpy's, a 1-D m is taken as the rows of a square matrix.
    rows, cols = (m.shape[-2:] if m.ndim > 1 else m.shape * 2)
    below = np.tri(rows, cols, k=k if lower else k - 1, dtype=bool)
    zero = np.zeros((), m.dtype)
    return where(below, m, zero) if lower else where(below, zero, m)


def tril(m: ArrayLike, k: int = 0) -> Array:
    """m with the elements above the k-th diagonal zeroed (over the last two axes)."""
    return _triangle("tril", m, True, k)


def triu(m: ArrayLike, k: int = 0) -> Array:
    """m with the elements below the k-th diagonal zeroed (over the last two axes)."""
    return _triangle("triu", m, False, k)


# ---------------------------------------------------------------------------- splitting

Sections = int | Sequence[int] | np.ndarray[Any, Any]


def _pieces(x: Array, bounds: Sequence[int], ax: int) -> list[Array]:
    return [getitem(x, _along(ax, slice(a, b))) for a, b in zip(bounds[:-1], bounds[1:])]


def _split(name: str, x: Tracer, indices_or_sections: Sections, axis: int,
           equal: bool) -> list[Array]:
    ax = normalize_axes(name, axis, x.ndim)[0]
    n = x.shape[ax]
    if np.ndim(indices_or_sections) != 0:
        return _pieces(x, [0, *(int(i) for i in np.asarray(indices_or_sections)), n], ax)
    sections = int(np.asarray(indices_or_sections))
    if sections <= 0:
        raise ValueError(f"{name}: the number of sections must be positive, got {sections}"
                         + user_location())
    if equal and n % sections:
        raise ShapeError(f"{name}: axis {ax} of length {n} does not divide into "
                         f"{sections} equal parts" + user_location())
    size, extra = divmod(n, sections)
    # As numpy's array_split: the first `extra` pieces are one longer.
    return _pieces(x, np.cumsum([0] + [size + 1] * extra + [size] * (sections - extra)).tolist(),
                   ax)


def split(ary: ArrayLike, indices_or_sections: Sections, axis: int = 0) -> list[Array]:
    """ary split along axis into equal sections, or at the given indices."""
    if not isinstance(ary, Tracer):
        return list(np.split(np.asarray(ary), indices_or_sections, axis))
    return _split("split", ary, indices_or_sections, axis, equal=True)


def array_split(ary: ArrayLike, indices_or_sections: Sections, axis: int = 0) -> list[Array]:
    """As split, but sections need not divide the axis (the first ones are one longer)."""
    if not isinstance(ary, Tracer):
        return list(np.array_split(np.asarray(ary), indices_or_sections, axis))
    return _split("array_split", ary, indices_or_sections, axis, equal=False)


def _split_along(name: str, ary: ArrayLike, indices_or_sections: Sections, min_ndim: int,
                 axis: int) -> list[Array]:
    if len(shape(ary)) < min_ndim:
        raise ShapeError(f"{name} only works on arrays of {min_ndim} or more dimensions, got "
                         f"shape {shape(ary)}" + user_location())
    return split(ary, indices_or_sections, axis)


def hsplit(ary: ArrayLike, indices_or_sections: Sections) -> list[Array]:
    """split along the columns (axis 1; axis 0 of a 1-D ary)."""
    return _split_along("hsplit", ary, indices_or_sections, 1, 1 if len(shape(ary)) > 1 else 0)


def vsplit(ary: ArrayLike, indices_or_sections: Sections) -> list[Array]:
    """split along the rows (axis 0) of an array of 2 or more dimensions."""
    return _split_along("vsplit", ary, indices_or_sections, 2, 0)


def dsplit(ary: ArrayLike, indices_or_sections: Sections) -> list[Array]:
    """split along the depth (axis 2) of an array of 3 or more dimensions."""
    return _split_along("dsplit", ary, indices_or_sections, 3, 2)


register([
    Row("getitem", getitem, methods=("__getitem__",)),
    Row("at", at, properties=("at",)),
    Row("take", take, methods=("take",)),
    Row("take_along_axis", take_along_axis),
    Row("put_along_axis", put_along_axis),
    Row("select", select),
    Row("diagonal", diagonal, methods=("diagonal",)),
    Row("trace", trace, methods=("trace",)),
    Row("diag", diag),
    Row("tril", tril),
    Row("triu", triu),
    Row("split", split),
    Row("array_split", array_split),
    Row("hsplit", hsplit),
    Row("vsplit", vsplit),
    Row("dsplit", dsplit),
    Row("diagflat", diagflat),
    Row("choose", choose),
    Row("piecewise", piecewise),
    Row("nonzero", nonzero, methods=("nonzero",)),
    Row("argwhere", argwhere),
    Row("flatnonzero", flatnonzero),
    Row("compress", compress),
    Row("extract", extract),
])
