"""Shape primitives: reshape, transpose, broadcast, concatenate and pad.

broadcast_to's VJP is the one place where broadcasting is undone (a sum over the added
and stretched axes); concatenate's and pad's are slices (gathers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import numpy as fnp

from funcgrad.core import Primitive, Rule, ShapedArray, ShapeError, bind, user_location
from funcgrad.primitives.base import Aval, describe, move_to_front
from funcgrad.primitives.indexing import IndexKey, SliceKey, gather_p


def _unbroadcast_rule(g: Any, out: Any, x: Any, *, shape: tuple[int, ...]) -> Any:
    # The one place where broadcasting is undone: sum over the added and stretched axes.
    lead = len(shape) - x.ndim
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(x.shape) if d == 1 and shape[lead + i] != 1)
    return fnp.reshape(fnp.sum(g, axis=axes), x.shape) if axes else fnp.reshape(g, x.shape)


reshape_p = Primitive(
    "reshape", lambda x, *, shape: x.reshape(shape),
    lambda x, *, shape: ShapedArray(shape, np.dtype(x.dtype)),
    (lambda g, out, x, *, shape: fnp.reshape(g, x.shape),),
    lambda prim, size, args, batched, *, shape: bind(prim, args[0], shape=(size, *shape)),
    complex_rules=True)
transpose_p = Primitive(
    "transpose", lambda x, *, perm: x.transpose(perm),
    lambda x, *, perm: ShapedArray(tuple(x.shape[p] for p in perm), np.dtype(x.dtype)),
    (lambda g, out, x, *, perm: fnp.transpose(g, tuple(np.argsort(perm))),),
    lambda prim, size, args, batched, *, perm: bind(prim, args[0],
                                                    perm=(0, *(p + 1 for p in perm))),
    complex_rules=True)
broadcast_to_p = Primitive(
    "broadcast_to", lambda x, *, shape: np.broadcast_to(x, shape),
    lambda x, *, shape: ShapedArray(shape, np.dtype(x.dtype)), (_unbroadcast_rule,),
    lambda prim, size, args, batched, *, shape: move_to_front(args[0], size, True, shape),
    complex_rules=True)




def _concatenate_shape(*xs: Aval, axis: int) -> ShapedArray:
    first = xs[0]
    for x in xs:
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape))
                                       if i != axis):
            raise ShapeError(f"concatenate along axis {axis}: shapes differ off that axis: "
                             f"{describe(*xs)}" + user_location())
        if x.dtype != first.dtype:
            raise TypeError(f"concatenate: dtypes differ: {describe(*xs)}")
    size = sum(x.shape[axis] for x in xs)
    return ShapedArray(first.shape[:axis] + (size,) + first.shape[axis + 1:], np.dtype(first.dtype))


def _concatenate_rule(i: int) -> Rule:
    def rule(g: Any, out: Any, *xs: Any, axis: int) -> Any:
        start = sum(x.shape[axis] for x in xs[:i])
        key = ((SliceKey(None, None, None),) * axis
               + (SliceKey(start, start + xs[i].shape[axis], None),))
        return gather_p.bind(g, index=IndexKey(key))
    return rule


def _batch_concatenate(prim: Primitive, size: int, args: Any, batched: Any, *,
                       axis: int) -> Any:
    return bind(prim, *(move_to_front(x, size, b)
                        for x, b in zip(args, batched)), axis=axis + 1)


concatenate_p = Primitive("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
                          _concatenate_shape, _concatenate_rule, _batch_concatenate,
                          complex_rules=True)


def _pad_rule(g: Any, out: Any, x: Any, *, widths: tuple[tuple[int, int], ...]) -> Any:
    key = tuple(SliceKey(lo, lo + d, None) for (lo, _), d in zip(widths, x.shape))
    return gather_p.bind(g, index=IndexKey(key))


pad_p = Primitive(
    "pad", lambda x, *, widths: np.pad(x, widths),
    lambda x, *, widths: ShapedArray(tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, widths)),
                                     np.dtype(x.dtype)),
    (_pad_rule,),
    lambda prim, size, args, batched, *, widths: bind(prim, args[0], widths=((0, 0), *widths)),
    complex_rules=True)
