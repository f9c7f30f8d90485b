"""Reductions over axes (sum, max, min, prod) and arg-reductions (argmax, argmin).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import numpy as fnp

from funcgrad.core import Primitive, ShapedArray, bind
from funcgrad.lax.base import Aval, reduce_shape


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


def _batch_arg(prim: Primitive, size: int, args: Any, batched: Any, *, axis: int) -> Any:
    return bind(prim, args[0], axis=axis + 1)


argmax_p = Primitive("argmax", lambda x, *, axis: np.argmax(x, axis=axis), _arg_shape, (None,),
                     _batch_arg)
argmin_p = Primitive("argmin", lambda x, *, axis: np.argmin(x, axis=axis), _arg_shape, (None,),
                     _batch_arg)
