"""Indexing: x[key] with every numpy index form, functional updates (x.at[key].set/add),
and split."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core import Array, ArrayLike, ConcretizationError, ShapeError, Tracer, user_location
from funcgrad.lax import indexing as I
from funcgrad.numpy._table import Row, contains_tracer, normalize_axes, register, shape
from funcgrad.numpy.creation import zeros_like
from funcgrad.numpy.elementwise import astype, greater, where
from funcgrad.numpy.shapes import broadcast_to, ravel, reshape

__all__ = ["split", "getitem", "at", "IndexUpdateHelper"]


def split(x: ArrayLike, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Array]:
    """Split x into pieces along axis, as numpy's split."""
    if not isinstance(x, Tracer):
        return list(np.split(np.asarray(x), indices_or_sections, axis))
    ax = normalize_axes("split", axis, x.ndim)[0]
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        if n % indices_or_sections:
            raise ShapeError(f"split: axis {ax} of length {n} does not divide into "
                             f"{indices_or_sections} equal parts" + user_location())
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0, *indices_or_sections, n]
    before = (slice(None),) * ax
    return [getitem(x, (*before, slice(a, b))) for a, b in zip(bounds[:-1], bounds[1:])]


def _index_key(x: Array, key: Any) -> tuple[I.IndexKey, tuple[Any, ...]]:
    """Split an index into its static part and its integer index arrays."""
    items = key if isinstance(key, tuple) else (key,)
    static: list[Any] = []
    arrays: list[Any] = []
    for item in items:
        if isinstance(item, slice):
            static.append(I.SliceKey(*(None if v is None else int(v)
                                       for v in (item.start, item.stop, item.step))))
        elif item is None or item is Ellipsis:
            static.append(item)
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            static.append(int(item))
        else:
            if isinstance(item, Tracer):
                dtype = item.dtype
            else:
                item = np.asarray(item)
                dtype = item.dtype
            if dtype == np.bool_:
                if isinstance(item, Tracer):
                    value = item._trace.concrete(item)
                    if value is None:
                        raise ConcretizationError(
                            "indexing with a traced boolean mask gives a result whose shape "
                            "depends on values, which tracing cannot know. Use "
                            "fnp.where(mask, x, 0) instead." + user_location())
                    item = value
                for nz in np.nonzero(item):
                    static.append(I.ArrayKey(len(arrays)))
                    arrays.append(nz)
            elif dtype.kind in "iu":
                static.append(I.ArrayKey(len(arrays)))
                arrays.append(item)
            else:
                raise TypeError(f"index of dtype {dtype} is not allowed: use integers, "
                                "slices, None, ..., integer arrays or boolean masks")
    return I.IndexKey(static), tuple(arrays)


def getitem(x: ArrayLike, key: Any) -> Array:
    """x[key]: ints, slices, None, ..., integer arrays and boolean masks, as numpy's."""
    if not isinstance(x, Tracer) and not contains_tracer(key):
        picked: Array = np.asarray(x)[key]
        return picked
    x = x if isinstance(x, Tracer) else np.asarray(x)
    index, arrays = _index_key(x, key)
    return I.gather_p.bind(x, *arrays, index=index)


class _IndexUpdate:
    def __init__(self, x: Array, key: Any) -> None:
        self.x = x
        self.key = key

    def get(self) -> Array:
        """x[key]."""
        return getitem(self.x, self.key)

    def add(self, values: ArrayLike) -> Array:
        """A copy of x with values added at x[key] (repeated indices accumulate)."""
        index, arrays = _index_key(self.x, self.key)
        target = I.gather_p.shape_rule(self.x, *arrays, index=index)
        updates = broadcast_to(astype(values, self.x.dtype), target.shape)
        return I.scatter_add_p.bind(self.x, updates, *arrays, index=index)

    def set(self, values: ArrayLike) -> Array:
        """A copy of x with x[key] replaced by values; with repeated indices the last one wins.

        (Under jit, where index arrays computed inside the function are not known, repeated
        indices add their values up instead.)
        """
        index, arrays = _index_key(self.x, self.key)
        concrete = [a if not isinstance(a, Tracer) else a._trace.concrete(a) for a in arrays]
        if builtins.any(a is None for a in concrete):
            hit = greater(at(zeros_like(self.x))[self.key].add(1), 0)
            return where(hit, at(zeros_like(self.x))[self.key].add(values), self.x)
        # Number the elements, see which ones the index picks (in order), and keep each
        # element's last occurrence: then no element is written twice.
        dims = shape(self.x)
        size = math.prod(dims)
        picked = np.arange(size).reshape(dims)[I.build_index(index, tuple(concrete))]
        flat = picked.ravel()
        unique, first_from_end = np.unique(flat[::-1], return_index=True)
        last = flat.size - 1 - first_from_end
        vals = ravel(broadcast_to(astype(values, self.x.dtype), picked.shape))
        hit = np.zeros(size, bool)
        hit[unique] = True
        placed = at(zeros_like(ravel(self.x)))[unique].add(getitem(vals, last))
        return where(hit.reshape(dims), reshape(placed, dims), self.x)


def at(x: ArrayLike) -> IndexUpdateHelper:
    """at(x)[key].set(v) / .add(v) / .get(): functional updates, for numpy arrays too."""
    return IndexUpdateHelper(x if isinstance(x, Tracer) else np.asarray(x))


class IndexUpdateHelper:
    """x.at[key]: functional updates of an immutable array (set, add, get)."""

    def __init__(self, x: Array) -> None:
        self.x = x

    def __getitem__(self, key: Any) -> _IndexUpdate:
        return _IndexUpdate(self.x, key)


register([
    Row("split", split),
    Row("getitem", getitem, methods=("__getitem__",)),
    Row("at", at, properties=("at",)),
])
