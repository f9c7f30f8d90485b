"""What every family of primitives shares: shape rules for operands of one shape, and the
batching helpers the rules are written with.

Primitives are exact: they take operands of the shapes and dtypes they expect (equal
shapes for elementwise operations; a scalar constant is the one operand allowed to differ)
and never broadcast or promote. `funcgrad.numpy` does broadcasting and promotion as
explicit operations before binding them, so no rule has to undo a broadcast.

A VJP rule reads `rule(g, out, *args, **params)`: the output cotangent, the primal output,
the primal inputs and the parameters; it returns the cotangent of one argument. A batching
rule reads `rule(prim, size, args, batched, **params)`: the batch size, the operands (the
batched ones with a leading batch axis) and which are batched; it returns the batched
output. Rules are written with funcgrad.numpy and operators, so they are differentiable
and batchable themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from collections.abc import Callable, Sequence
from functools import cache

from funcgrad.core import Primitive, ShapedArray, ShapeError, Tracer

Aval = Any  # anything with .shape and .dtype: ShapedArray, numpy array, tracer


def describe(*avals: Aval) -> str:
    return " and ".join(str(ShapedArray(a.shape, np.dtype(a.dtype))) for a in avals)


def _common_shape(avals: tuple[Aval, ...]) -> tuple[int, ...]:
    shape: tuple[int, ...] = ()
    for a in avals:
        if a.shape != shape and a.shape != ():
            if shape != ():
                raise ShapeError(f"elementwise operands of different shapes: {describe(*avals)}")
            shape = a.shape
    return shape


def elementwise_shape(*avals: Aval, **params: Any) -> ShapedArray:
    """Operands of one shape (or constant scalars) and one dtype; the result has both."""
    dtype = avals[0].dtype
    if any(a.dtype != dtype for a in avals):
        raise TypeError(f"elementwise operands of different dtypes: {describe(*avals)}")
    return ShapedArray(_common_shape(avals), np.dtype(dtype))


def compare_shape(x: Aval, y: Aval) -> ShapedArray:
    return ShapedArray(elementwise_shape(x, y).shape, np.dtype(np.bool_))


def select_shape(c: Aval, x: Aval, y: Aval) -> ShapedArray:
    if c.dtype != np.bool_:
        raise TypeError(f"select: the condition must be bool, got {describe(c)}")
    return ShapedArray(_common_shape((c, x, y)), elementwise_shape(x, y).dtype)


@cache
def reduced_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype numpy's sum gives for `dtype` (bool and small ints widen)."""
    widened: np.dtype[Any] = np.add.reduce(np.zeros(1, dtype)).dtype
    return widened


def reduce_shape(x: Aval, *, axes: tuple[int, ...], widen: bool = False) -> ShapedArray:
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return ShapedArray(shape, reduced_dtype(np.dtype(x.dtype)) if widen else np.dtype(x.dtype))




# ---------------------------------------------------------------------------- batching helpers

BatchRule = Callable[..., Any]
"""rule(prim, size, args, batched, **params) -> the batched output (batch axis first)."""


def move_to_front(x: Any, size: int, batched: bool,
                  core_shape: tuple[int, ...] | None = None) -> Any:
    """x as a (size, *core_shape) array: an unbatched x is broadcast, a batched one expanded.

    core_shape defaults to x's own per-example shape.
    """
    shape = x.shape if isinstance(x, Tracer) else np.shape(x)
    if core_shape is None:
        core_shape = shape[1:] if batched else shape
    target = (size, *core_shape)
    if batched:
        core = shape[1:]
        if core != core_shape:
            x = fnp.reshape(x, (size,) + (1,) * (len(core_shape) - len(core)) + core)
    return x if fnp.shape(x) == target else fnp.broadcast_to(x, target)


def batch_elementwise(prim: Primitive, size: int, args: Sequence[Any], batched: Sequence[bool],
                      **params: Any) -> Any:
    """The rule for elementwise primitives: bring every operand to the batched full shape."""
    cores = [fnp.shape(a)[1:] if b else fnp.shape(a) for a, b in zip(args, batched)]
    core = max(cores, key=len)
    # Unbatched constant scalars may stay scalars; everything else takes the full shape.
    return prim.bind(*(a if not b and not isinstance(a, Tracer) and c == () else
                       move_to_front(a, size, b, core)
                       for a, b, c in zip(args, batched, cores)), **params)


def batch_each_example(prim: Primitive, size: int, args: Sequence[Any],
                       batched: Sequence[bool], **params: Any) -> Any:
    """prim applied to each example, stacked: for operations whose work is one separate
    product per example anyway (a convolution with a kernel per example)."""
    outs = [prim.bind(*(fnp.getitem(a, i) if b else a for a, b in zip(args, batched)),
                      **params) for i in range(size)]
    return fnp.stack(outs)


def batch_leading(*data_args: int) -> BatchRule:
    """The rule for primitives whose operands `data_args` share a leading (data batch) axis.

    The vmapped axis is merged into that axis, so one call serves the whole batch (conv2d,
    pooling). If any other operand is batched, each example is computed on its own.
    """
    def rule(prim: Primitive, size: int, args: Sequence[Any], batched: Sequence[bool],
             **params: Any) -> Any:
        if any(b for i, b in enumerate(batched) if i not in data_args):
            return batch_each_example(prim, size, args, batched, **params)
        merged = []
        for i, (a, b) in enumerate(zip(args, batched)):
            if i in data_args:
                a = move_to_front(a, size, b)
                shape = fnp.shape(a)
                a = fnp.reshape(a, (size * shape[1], *shape[2:]))
            merged.append(a)
        outs = prim.bind_multi(*merged, **params) if prim.multiple_results else (
            prim.bind(*merged, **params),)
        split = [fnp.reshape(o, (size, fnp.shape(o)[0] // size, *fnp.shape(o)[1:]))
                 for o in outs]
        return tuple(split) if prim.multiple_results else split[0]
    return rule
