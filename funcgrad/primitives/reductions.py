"""Reductions over axes (sum, max, min, prod), arg-reductions (argmax, argmin), scans along
an axis (cumsum, cumprod), sorting (sort, argsort, argpartition) and searching a sorted
array (searchsorted).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import numpy as fnp

from funcgrad.core import Primitive, ShapedArray, ShapeError, bind
from funcgrad.primitives.base import Aval, describe, move_to_front, reduce_shape, reduced_dtype


def expand_reduced(g: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Broadcast a reduction's result (or cotangent) back to the reduced operand's shape."""
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    return fnp.broadcast_to(fnp.reshape(g, kept), shape)


def _extremum_rule(g: Any, out: Any, x: Any, *, axes: tuple[int, ...]) -> Any:
    # Ties share the gradient equally among all maximal elements.
    at_max = fnp.astype(x == expand_reduced(out, x.shape, axes), x.dtype)
    count = fnp.sum(at_max, axis=axes)
    return expand_reduced(g / count, x.shape, axes) * at_max


def _prod_rule(g: Any, out: Any, x: Any, *, axes: tuple[int, ...]) -> Any:
    # d prod / d x_i = product of the others, computed without dividing (exact at zeros):
    # move the reduced axes last, flatten them to n, and multiply along a (n, n) copy whose
    # diagonal is 1.
    kept = [i for i in range(x.ndim) if i not in axes]
    kept_shape = tuple(x.shape[i] for i in kept)
    n = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
    xt = fnp.reshape(fnp.transpose(x, (*kept, *axes)), (*kept_shape, 1, n))
    square = fnp.broadcast_to(xt, (*kept_shape, n, n))
    others = fnp.prod(fnp.where(np.eye(n, dtype=bool), fnp.ones_like(square), square), axis=-1)
    gt = others * fnp.reshape(g, (*kept_shape, 1))
    perm = (*kept, *axes)
    gx = fnp.reshape(gt, (*kept_shape, *(x.shape[i] for i in axes)))
    return fnp.transpose(gx, tuple(np.argsort(perm)))


def _batch_reduce(prim: Primitive, size: int, args: Any, batched: Any, *,
                  axes: tuple[int, ...]) -> Any:
    return bind(prim, args[0], axes=tuple(a + 1 for a in axes))


reduce_sum_p = Primitive(
    "reduce_sum", lambda x, *, axes: np.sum(x, axis=axes),
    lambda x, *, axes: reduce_shape(x, axes=axes, widen=True),
    (lambda g, out, x, *, axes: expand_reduced(g, x.shape, axes),), _batch_reduce,
    complex_rules=True)
reduce_max_p = Primitive("reduce_max", lambda x, *, axes: np.max(x, axis=axes), reduce_shape,
                         (_extremum_rule,), _batch_reduce)
reduce_min_p = Primitive("reduce_min", lambda x, *, axes: np.min(x, axis=axes), reduce_shape,
                         (_extremum_rule,), _batch_reduce)
reduce_prod_p = Primitive(
    "reduce_prod", lambda x, *, axes: np.prod(x, axis=axes),
    lambda x, *, axes: reduce_shape(x, axes=axes, widen=True), (_prod_rule,), _batch_reduce,
    complex_rules=True)


def _arg_shape(x: Aval, *, axis: int) -> ShapedArray:
    return ShapedArray(tuple(d for i, d in enumerate(x.shape) if i != axis), np.dtype(np.intp))


def _batch_along(prim: Primitive, size: int, args: Any, batched: Any, *, axis: int,
                 **params: Any) -> Any:
    """The rule for primitives of one operand working along one axis: the batch axis in
    front moves that axis by one."""
    return bind(prim, args[0], axis=axis + 1, **params)


argmax_p = Primitive("argmax", lambda x, *, axis: np.argmax(x, axis=axis), _arg_shape, (None,),
                     _batch_along)
argmin_p = Primitive("argmin", lambda x, *, axis: np.argmin(x, axis=axis), _arg_shape, (None,),
                     _batch_along)


# ---------------------------------------------------------------------------- scans


def _cumsum(x: Any, *, axis: int, reverse: bool) -> Any:
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis), axis)
    return np.cumsum(x, axis)


def _scan_shape(x: Aval, *, axis: int, **params: Any) -> ShapedArray:
    return ShapedArray(tuple(x.shape), reduced_dtype(np.dtype(x.dtype)))


def _shifted_left(x: Any, axis: int, by: int) -> Any:
    """y with y[..., i, ...] = x[..., i + by, ...] along axis, zero past the end."""
    key = (slice(None),) * axis + (slice(by, None),)
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, min(by, x.shape[axis]))
    return fnp.pad(fnp.getitem(x, key), widths)


def _suffix_recurrence(a: Any, b: Any, axis: int) -> Any:
    """s with s[i] = b[i] + a[i] * s[i + 1] along axis (s is 0 past the end).

    A parallel scan in log2(n) rounds of products and sums: after the round with offset k,
    b[i] + a[i] * s[i + 2k] = s[i]. No division, so it is exact where a has zeros, and its
    derivatives are those of the products it is made of.
    """
    n = a.shape[axis]
    offset = 1
    while offset < n:
        b = b + a * _shifted_left(b, axis, offset)
        if 2 * offset < n:
            a = a * _shifted_left(a, axis, offset)
        offset *= 2
    return b


def _cumprod_rule(g: Any, out: Any, x: Any, *, axis: int) -> Any:
    # d out[j] / d x[i] is the product of x[k] for k <= j, k != i (for i <= j). Dividing
    # out[j] by x[i] would fail at zeros; instead the cotangent of x[i] is
    # out[i - 1] * s[i] (1 * s[0] for i = 0), with s[i] the sum over j >= i of
    # g[j] * x[i + 1] * ... * x[j]: the suffix recurrence s[i] = g[i] + x[i + 1] * s[i + 1].
    first = (slice(None),) * axis + (slice(0, 1),)
    before = fnp.concatenate([fnp.ones_like(fnp.getitem(out, first)),
                              fnp.getitem(out, (slice(None),) * axis + (slice(None, -1),))],
                             axis=axis)
    return before * _suffix_recurrence(_shifted_left(x, axis, 1), g, axis)


cumsum_p: Primitive = Primitive(
    "cumsum", _cumsum, _scan_shape,
    (lambda g, out, x, *, axis, reverse: cumsum_p.bind(g, axis=axis, reverse=not reverse),),
    _batch_along, complex_rules=True)
cumprod_p = Primitive("cumprod", lambda x, *, axis: np.cumprod(x, axis), _scan_shape,
                      (_cumprod_rule,), _batch_along, complex_rules=True)


# ---------------------------------------------------------------------------- sorting


def _sort_rule(g: Any, out: Any, x: Any, *, axis: int) -> Any:
    # The sorted values are x permuted: each cotangent goes back to the element that landed
    # there, through the inverse permutation. The sort is stable, so tied elements keep
    # their order, as in JAX.
    permutation = argsort_p.bind(x, axis=axis)
    return fnp.take_along_axis(g, argsort_p.bind(permutation, axis=axis), axis)


def _index_shape(x: Aval, *, axis: int, **params: Any) -> ShapedArray:
    return ShapedArray(tuple(x.shape), np.dtype(np.intp))


sort_p = Primitive("sort", lambda x, *, axis: np.sort(x, axis, kind="stable"),
                   lambda x, *, axis: ShapedArray(tuple(x.shape), np.dtype(x.dtype)),
                   (_sort_rule,), _batch_along, complex_rules=True)
argsort_p = Primitive("argsort", lambda x, *, axis: np.argsort(x, axis, kind="stable"),
                      _index_shape, (None,), _batch_along)
argpartition_p = Primitive(
    "argpartition", lambda x, *, kth, axis: np.argpartition(x, kth, axis), _index_shape,
    (None,), _batch_along)


# ---------------------------------------------------------------------------- searching


def _searchsorted_shape(a: Aval, v: Aval, *, side: str) -> ShapedArray:
    if len(a.shape) != 1:
        raise ShapeError(f"searchsorted: the sorted array must be 1-D, got {describe(a)}")
    return ShapedArray(tuple(v.shape), np.dtype(np.intp))


def _batch_searchsorted(prim: Primitive, size: int, args: Any, batched: Any, *,
                        side: str) -> Any:
    a, v = args
    if not batched[0]:
        return bind(prim, a, v, side=side)  # the batch axis of v is more values to place
    # A sorted array per example: count, for each value, the elements of its own example
    # that sort before it (nans sort last, as in numpy).
    v = move_to_front(v, size, batched[1])
    a = fnp.reshape(a, (size, *(1,) * (v.ndim - 1), a.shape[-1]))
    value = fnp.expand_dims(v, -1)
    if side == "left":
        before = (a < value) | (fnp.isnan(value) & ~fnp.isnan(a))
    else:
        before = (a <= value) | fnp.isnan(value)
    return fnp.astype(fnp.sum(before, axis=-1), np.intp)


searchsorted_p = Primitive(
    "searchsorted", lambda a, v, *, side: np.searchsorted(a, v, side), _searchsorted_shape,
    (None, None), _batch_searchsorted)
