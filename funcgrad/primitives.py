"""The primitives: each declared once, with its numpy implementation, shape rule and VJP rules.

Primitives are exact: they take operands of the shapes and dtypes they expect (equal
shapes for elementwise operations; a scalar constant is the one operand allowed to differ)
and never broadcast or promote. `funcgrad.numpy` does broadcasting and promotion as
explicit operations before binding them, so no rule here has to undo a broadcast.

A VJP rule reads `rule(g, out, *args, **params)`: the output cotangent, the primal output,
the primal inputs and the parameters; it returns the cotangent of one argument. A batching
rule reads `rule(prim, size, args, batched, **params)`: the batch size, the operands (the
batched ones with a leading batch axis) and which are batched; it returns the batched
output. Rules are written with funcgrad.numpy and operators, so they are differentiable
and batchable themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, NamedTuple

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core import Primitive, Rule, ShapedArray, ShapeError, Tracer, bind, user_location

Aval = Any  # anything with .shape and .dtype: ShapedArray, numpy array, tracer


# ---------------------------------------------------------------------------- shape rules


def _describe(*avals: Aval) -> str:
    return " and ".join(str(ShapedArray(a.shape, np.dtype(a.dtype))) for a in avals)


def _common_shape(avals: tuple[Aval, ...]) -> tuple[int, ...]:
    shape: tuple[int, ...] = ()
    for a in avals:
        if a.shape != shape and a.shape != ():
            if shape != ():
                raise ShapeError(f"elementwise operands of different shapes: {_describe(*avals)}")
            shape = a.shape
    return shape


def elementwise_shape(*avals: Aval, **params: Any) -> ShapedArray:
    """Operands of one shape (or constant scalars) and one dtype; the result has both."""
    dtype = avals[0].dtype
    if any(a.dtype != dtype for a in avals):
        raise TypeError(f"elementwise operands of different dtypes: {_describe(*avals)}")
    return ShapedArray(_common_shape(avals), np.dtype(dtype))


def _compare_shape(x: Aval, y: Aval) -> ShapedArray:
    return ShapedArray(elementwise_shape(x, y).shape, np.dtype(np.bool_))


def _select_shape(c: Aval, x: Aval, y: Aval) -> ShapedArray:
    if c.dtype != np.bool_:
        raise TypeError(f"select: the condition must be bool, got {_describe(c)}")
    return ShapedArray(_common_shape((c, x, y)), elementwise_shape(x, y).dtype)


@cache
def reduced_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype numpy's sum gives for `dtype` (bool and small ints widen)."""
    widened: np.dtype[Any] = np.add.reduce(np.zeros(1, dtype)).dtype
    return widened


def _reduce_shape(x: Aval, *, axes: tuple[int, ...], widen: bool = False) -> ShapedArray:
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


# ---------------------------------------------------------------------------- elementwise


def unary(name: str, impl: Callable[..., Any], vjp: Rule | None) -> Primitive:
    """An elementwise primitive of one operand."""
    return Primitive(name, impl, elementwise_shape, (vjp,), batch_elementwise)


def binary(name: str, impl: Callable[..., Any], vjp_x: Rule | None,
           vjp_y: Rule | None) -> Primitive:
    """An elementwise primitive of two operands."""
    return Primitive(name, impl, elementwise_shape, (vjp_x, vjp_y), batch_elementwise)


def compare(name: str, impl: Callable[..., Any]) -> Primitive:
    """A comparison: bool output, so no gradient."""
    return Primitive(name, impl, _compare_shape, (None, None), batch_elementwise)


def _stable_logistic(x: Any) -> Any:
    return np.exp(-np.logaddexp(0, -x))


def _integer_pow(x: Any, *, y: int) -> Any:
    return x * x if y == 2 else np.power(x, y)


def _safe_log(x: Any) -> Any:
    # d/dy x**y at x == 0 is 0 for y > 0 (not nan from 0 * log 0), as in JAX
    return fnp.log(fnp.where(x == 0, fnp.ones_like(x), x))


neg_p = unary("neg", np.negative, lambda g, out, x: -g)
exp_p = unary("exp", np.exp, lambda g, out, x: g * out)
log_p = unary("log", np.log, lambda g, out, x: g / x)
log1p_p = unary("log1p", np.log1p, lambda g, out, x: g / (x + 1))
expm1_p = unary("expm1", np.expm1, lambda g, out, x: g * (out + 1))
sin_p = unary("sin", np.sin, lambda g, out, x: g * fnp.cos(x))
cos_p = unary("cos", np.cos, lambda g, out, x: -g * fnp.sin(x))
tan_p = unary("tan", np.tan, lambda g, out, x: g * (out * out + 1))
tanh_p = unary("tanh", np.tanh, lambda g, out, x: g * (1 - out * out))
logistic_p = unary("logistic", _stable_logistic, lambda g, out, x: g * out * (1 - out))
sqrt_p = unary("sqrt", np.sqrt, lambda g, out, x: g / (out * 2))
abs_p = unary("abs", np.abs, lambda g, out, x: g * fnp.sign(x))  # abs'(0) = sign(0) = 0
sign_p = unary("sign", np.sign, None)
stop_gradient_p = unary("stop_gradient", lambda x: x, None)
integer_pow_p = unary("integer_pow", _integer_pow,
                      lambda g, out, x, *, y: g * (y * fnp.power(x, y - 1)) if y else None)

add_p = binary("add", np.add, lambda g, out, x, y: g, lambda g, out, x, y: g)
sub_p = binary("sub", np.subtract, lambda g, out, x, y: g, lambda g, out, x, y: -g)
mul_p = binary("mul", np.multiply, lambda g, out, x, y: g * y, lambda g, out, x, y: g * x)
div_p = binary("div", np.divide, lambda g, out, x, y: g / y, lambda g, out, x, y: -g * out / y)
pow_p = binary("pow", np.power,
               lambda g, out, x, y: g * y * fnp.power(x, y - 1),
               lambda g, out, x, y: g * out * _safe_log(x))


def _max_rule(g: Any, x: Any, y: Any) -> Any:
    # Ties split the gradient evenly between the two operands (as JAX does).
    return fnp.where(x > y, g, fnp.where(x == y, g * 0.5, 0))


max_p = binary("max", np.maximum,
               lambda g, out, x, y: _max_rule(g, x, y), lambda g, out, x, y: _max_rule(g, y, x))
min_p = binary("min", np.minimum,
               lambda g, out, x, y: _max_rule(g, y, x), lambda g, out, x, y: _max_rule(g, x, y))

lt_p: Primitive = compare("lt", np.less)
le_p: Primitive = compare("le", np.less_equal)
gt_p: Primitive = compare("gt", np.greater)
ge_p: Primitive = compare("ge", np.greater_equal)
eq_p: Primitive = compare("eq", np.equal)
ne_p: Primitive = compare("ne", np.not_equal)
and_p: Primitive = compare("and", np.logical_and)
or_p: Primitive = compare("or", np.logical_or)
not_p = Primitive("not", np.logical_not, lambda x: _compare_shape(x, x), (None,),
                  batch_elementwise)
isfinite_p = Primitive("isfinite", np.isfinite, lambda x: _compare_shape(x, x), (None,),
                       batch_elementwise)

select_p = Primitive(
    "select", np.where, _select_shape,
    (None,
     lambda g, out, c, x, y: fnp.where(c, g, 0),
     lambda g, out, c, x, y: fnp.where(c, 0, g)),
    batch_elementwise)


def _convert_rule(g: Any, out: Any, x: Any, *, dtype: np.dtype[Any]) -> Any:
    return fnp.astype(g, x.dtype) if x.dtype.kind in "fc" else None


convert_p = Primitive(
    "convert_element_type", lambda x, *, dtype: np.asarray(x).astype(dtype),
    lambda x, *, dtype: ShapedArray(x.shape, np.dtype(dtype)), (_convert_rule,),
    batch_elementwise)


# ---------------------------------------------------------------------------- reductions


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
    lambda x, *, axes: _reduce_shape(x, axes=axes, widen=True),
    (lambda g, out, x, *, axes: expand_reduced(g, x.shape, axes),), _batch_reduce)
reduce_max_p = Primitive("reduce_max", lambda x, *, axes: np.max(x, axis=axes), _reduce_shape,
                         (_extremum_rule,), _batch_reduce)
reduce_min_p = Primitive("reduce_min", lambda x, *, axes: np.min(x, axis=axes), _reduce_shape,
                         (_extremum_rule,), _batch_reduce)
reduce_prod_p = Primitive(
    "reduce_prod", lambda x, *, axes: np.prod(x, axis=axes),
    lambda x, *, axes: _reduce_shape(x, axes=axes, widen=True), (_prod_rule,), _batch_reduce)


def _arg_shape(x: Aval, *, axis: int) -> ShapedArray:
    return ShapedArray(tuple(d for i, d in enumerate(x.shape) if i != axis), np.dtype(np.intp))


def _batch_arg(prim: Primitive, size: int, args: Any, batched: Any, *, axis: int) -> Any:
    return bind(prim, args[0], axis=axis + 1)


argmax_p = Primitive("argmax", lambda x, *, axis: np.argmax(x, axis=axis), _arg_shape, (None,),
                     _batch_arg)
argmin_p = Primitive("argmin", lambda x, *, axis: np.argmin(x, axis=axis), _arg_shape, (None,),
                     _batch_arg)


# ---------------------------------------------------------------------------- shapes


def _unbroadcast_rule(g: Any, out: Any, x: Any, *, shape: tuple[int, ...]) -> Any:
    # The one place where broadcasting is undone: sum over the added and stretched axes.
    lead = len(shape) - x.ndim
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(x.shape) if d == 1 and shape[lead + i] != 1)
    return fnp.reshape(fnp.sum(g, axis=axes), x.shape) if axes else fnp.reshape(g, x.shape)


reshape_p = Primitive(
    "reshape", lambda x, *, shape: np.reshape(x, shape),
    lambda x, *, shape: ShapedArray(shape, np.dtype(x.dtype)),
    (lambda g, out, x, *, shape: fnp.reshape(g, x.shape),),
    lambda prim, size, args, batched, *, shape: bind(prim, args[0], shape=(size, *shape)))
transpose_p = Primitive(
    "transpose", lambda x, *, perm: np.transpose(x, perm),
    lambda x, *, perm: ShapedArray(tuple(x.shape[p] for p in perm), np.dtype(x.dtype)),
    (lambda g, out, x, *, perm: fnp.transpose(g, tuple(np.argsort(perm))),),
    lambda prim, size, args, batched, *, perm: bind(prim, args[0],
                                                    perm=(0, *(p + 1 for p in perm))))
broadcast_to_p = Primitive(
    "broadcast_to", lambda x, *, shape: np.broadcast_to(x, shape),
    lambda x, *, shape: ShapedArray(shape, np.dtype(x.dtype)), (_unbroadcast_rule,),
    lambda prim, size, args, batched, *, shape: move_to_front(args[0], size, True, shape))


class SliceKey(NamedTuple):
    """A slice inside an index key (slices themselves are not hashable)."""

    start: int | None
    stop: int | None
    step: int | None

    def __repr__(self) -> str:
        s = f"{'' if self.start is None else self.start}:{'' if self.stop is None else self.stop}"
        return s if self.step is None else f"{s}:{self.step}"


class ArrayKey(NamedTuple):
    """The position in an index key of the k-th integer index array operand."""

    k: int

    def __repr__(self) -> str:
        return f"#{self.k}"


class IndexKey(tuple[Any, ...]):
    """An index expression with its arrays taken out: ints, SliceKeys, None, ..., ArrayKeys."""

    def __repr__(self) -> str:
        return "[" + ", ".join("..." if k is Ellipsis else repr(k) for k in self) + "]"


def build_index(key: IndexKey, arrays: tuple[Any, ...]) -> tuple[Any, ...]:
    """The numpy index for `key`, with index arrays put back in their places."""
    return tuple(slice(*k) if type(k) is SliceKey else arrays[k.k] if type(k) is ArrayKey
                 else k for k in key)


def _gather(x: Any, *arrays: Any, index: IndexKey) -> Any:
    return x[build_index(index, arrays)]


def _gather_shape(x: Aval, *arrays: Aval, index: IndexKey) -> ShapedArray:
    # Index a zero-strided stand-in of x: numpy works out the result shape for any mix of
    # basic and advanced indices, without touching real data.
    stand_in = np.broadcast_to(np.zeros((), np.int8), x.shape)
    dummies = tuple(np.zeros(a.shape, np.intp) for a in arrays)
    return ShapedArray(stand_in[build_index(index, dummies)].shape, np.dtype(x.dtype))


def _scatter_add(x: Any, updates: Any, *arrays: Any, index: IndexKey) -> Any:
    out = np.array(x, copy=True)
    idx = build_index(index, arrays)
    if arrays:
        np.add.at(out, idx, updates)  # repeated indices accumulate
    else:
        out[idx] += updates  # basic indexing never repeats an element
    return out


def _gather_rule(g: Any, out: Any, x: Any, *arrays: Any, index: IndexKey) -> Any:
    return scatter_add_p.bind(fnp.zeros_like(x), g, *arrays, index=index)


def _layout(index: IndexKey, ndim: int, shapes: Sequence[tuple[int, ...]]
            ) -> tuple[bool, int, int, bool]:
    """Where numpy puts the dims of the advanced indices (index arrays, and ints among
    them) in x[index], x of `ndim` dims: whether they are separated by other entries
    (then their dims come first), how many dims come before them otherwise, how many
    they are, and whether the first of them is the first entry of the index."""
    has_arrays = any(type(k) is ArrayKey for k in index)
    adv = [i for i, k in enumerate(index)
           if type(k) is ArrayKey or has_arrays and type(k) is int]
    if not adv:
        return False, 0, 0, False
    separated = adv[-1] - adv[0] + 1 != len(adv)
    consumed = sum(1 for k in index if k is not None and k is not Ellipsis)
    before = sum(ndim - consumed if k is Ellipsis else 1 for k in index[:adv[0]])
    return separated, before, len(np.broadcast_shapes(*shapes)), adv[0] == 0


def _block_move(ndim: int, start: int, length: int, to: int) -> tuple[int, ...]:
    """The permutation moving axes start..start+length-1 to position `to`."""
    axes = list(range(ndim))
    block, rest = axes[start:start + length], axes[:start] + axes[start + length:]
    return tuple(rest[:to] + block + rest[to:])


def _batched_index(size: int, index: IndexKey, x: Any, x_batched: bool,
                   arrays: Sequence[Any], batched: Sequence[bool]
                   ) -> tuple[IndexKey, tuple[Any, ...], tuple[int, ...] | None]:
    """The index, index arrays and output permutation computing x[index] of every example
    in one gather: x has a leading batch axis if x_batched, else it is shared.

    The permutation takes numpy's layout of that one result to the batch axis followed by
    each example's own layout (None if they agree).
    """
    shapes = [fnp.shape(a)[1:] if b else fnp.shape(a) for a, b in zip(arrays, batched)]
    ndim = fnp.ndim(x) - x_batched
    separated, before, n_adv, first = _layout(index, ndim, shapes)
    full = SliceKey(None, None, None)
    if not any(batched):  # x alone is batched: a full slice in front for its batch axis
        key = IndexKey((full, *index))
        perm = None
        if separated:
            perm = _block_move(len(_gather_shape(x, *arrays, index=key).shape), n_adv, 1, 0)
        return key, tuple(arrays), perm
    # Batched index arrays: the batch axis joins the block of advanced indices.
    padded = tuple(fnp.reshape(a, ((size,) if b else (1,)) + (1,) * (n_adv - len(s)) + s)
                   for a, b, s in zip(arrays, batched, shapes))
    if not x_batched:
        out_ndim = len(_gather_shape(x, *padded, index=index).shape)
        return index, padded, None if separated else _block_move(out_ndim, before, 1, 0)
    key = IndexKey((ArrayKey(0), *(ArrayKey(k.k + 1) if type(k) is ArrayKey else k
                                   for k in index)))
    new_arrays = (np.arange(size).reshape((size,) + (1,) * n_adv), *padded)
    if separated or first or before == 0:
        return key, new_arrays, None
    out_ndim = len(_gather_shape(x, *new_arrays, index=key).shape)
    return key, new_arrays, _block_move(out_ndim, 1, n_adv, 1 + before)


def _batch_gather(prim: Primitive, size: int, args: Any, batched: Any, *,
                  index: IndexKey) -> Any:
    x, *arrays = args
    key, new_arrays, perm = _batched_index(size, index, x, batched[0], arrays, batched[1:])
    out = prim.bind(x, *new_arrays, index=key)
    return out if perm is None else fnp.transpose(out, perm)


def _batch_scatter_add(prim: Primitive, size: int, args: Any, batched: Any, *,
                       index: IndexKey) -> Any:
    # The result has a batch axis whatever is batched, so x takes one too; the updates
    # come in each example's layout and go into the one the batched gather would have.
    x, updates, *arrays = args
    x = move_to_front(x, size, batched[0])
    key, new_arrays, perm = _batched_index(size, index, x, True, arrays, batched[2:])
    example = [ShapedArray(fnp.shape(a)[b:], np.dtype(np.intp))
               for a, b in zip(arrays, batched[2:])]
    target = _gather_shape(ShapedArray(fnp.shape(x)[1:], x.dtype), *example, index=index).shape
    updates = move_to_front(updates, size, batched[1], target)
    if perm is not None:
        updates = fnp.transpose(updates, tuple(np.argsort(perm)))
    return prim.bind(x, updates, *new_arrays, index=key)


gather_p = Primitive("gather", _gather, _gather_shape,
                     lambda i: _gather_rule if i == 0 else None, _batch_gather)
scatter_add_p = Primitive(
    "scatter_add", _scatter_add, lambda x, updates, *arrays, index: ShapedArray(
        x.shape, np.dtype(x.dtype)),
    lambda i: ((lambda g, out, x, u, *arrays, index: g) if i == 0 else
               (lambda g, out, x, u, *arrays, index: gather_p.bind(g, *arrays, index=index))
               if i == 1 else None),
    _batch_scatter_add)


def _concatenate_shape(*xs: Aval, axis: int) -> ShapedArray:
    first = xs[0]
    for x in xs:
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape))
                                       if i != axis):
            raise ShapeError(f"concatenate along axis {axis}: shapes differ off that axis: "
                             f"{_describe(*xs)}" + user_location())
        if x.dtype != first.dtype:
            raise TypeError(f"concatenate: dtypes differ: {_describe(*xs)}")
    size = sum(x.shape[axis] for x in xs)
    return ShapedArray(first.shape[:axis] + (size,) + first.shape[axis + 1:], np.dtype(first.dtype))


def _concatenate_rule(i: int) -> Rule:
    def rule(g: Any, out: Any, *xs: Any, axis: int) -> Any:
        start = sum(x.shape[axis] for x in xs[:i])
        key = (SliceKey(None, None, None),) * axis + (SliceKey(start, start + xs[i].shape[axis], None),)
        return gather_p.bind(g, index=IndexKey(key))
    return rule


def _batch_concatenate(prim: Primitive, size: int, args: Any, batched: Any, *,
                       axis: int) -> Any:
    return bind(prim, *(move_to_front(x, size, b)
                        for x, b in zip(args, batched)), axis=axis + 1)


concatenate_p = Primitive("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
                          _concatenate_shape, _concatenate_rule, _batch_concatenate)


def _pad_rule(g: Any, out: Any, x: Any, *, widths: tuple[tuple[int, int], ...]) -> Any:
    key = tuple(SliceKey(lo, lo + d, None) for (lo, _), d in zip(widths, x.shape))
    return gather_p.bind(g, index=IndexKey(key))


pad_p = Primitive(
    "pad", lambda x, *, widths: np.pad(x, widths),
    lambda x, *, widths: ShapedArray(tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, widths)),
                                     np.dtype(x.dtype)),
    (_pad_rule,),
    lambda prim, size, args, batched, *, widths: bind(prim, args[0], widths=((0, 0), *widths)))


# ---------------------------------------------------------------------------- contractions


def _matmul_shape(x: Aval, y: Aval) -> ShapedArray:
    # Matrices with equal batch axes, or a vector on either side of a matrix (or both).
    ok = x.shape[-1:] == y.shape[-2:][:1] and (
        x.ndim == y.ndim and x.shape[:-2] == y.shape[:-2] or x.ndim <= 2 and y.ndim <= 2)
    if not ok:
        raise ShapeError(f"matmul: shapes do not fit: {_describe(x, y)}" + user_location())
    if x.dtype != y.dtype:
        raise TypeError(f"matmul: dtypes differ: {_describe(x, y)}")
    return ShapedArray(x.shape[:-1] + y.shape[-1:] if y.ndim > 1 else x.shape[:-1],
                       np.dtype(x.dtype))


def _outer(a: Any, b: Any) -> Any:
    return fnp.matmul(fnp.reshape(a, (-1, 1)), fnp.reshape(b, (1, -1)))


def _matmul_rule_x(g: Any, out: Any, x: Any, y: Any) -> Any:
    if y.ndim == 1:
        return g * y if x.ndim == 1 else _outer(g, y)
    return fnp.matmul(g, fnp.swapaxes(y, -1, -2)) if x.ndim > 1 else fnp.matmul(y, g)


def _matmul_rule_y(g: Any, out: Any, x: Any, y: Any) -> Any:
    if x.ndim == 1:
        return g * x if y.ndim == 1 else _outer(x, g)
    return fnp.matmul(fnp.swapaxes(x, -1, -2), g) if y.ndim > 1 else fnp.matmul(g, x)


def _batch_matmul(prim: Primitive, size: int, args: Any, batched: Any) -> Any:
    # Batched vectors become (size, 1, k) rows or (size, k, 1) columns, so that fnp.matmul's
    # batch broadcasting applies; the added axis is dropped again afterwards.
    (x, y), (bx, by) = args, batched
    row = bx and x.ndim == 2
    col = by and y.ndim == 2
    if row:
        x = fnp.expand_dims(x, 1)
    if col:
        y = fnp.expand_dims(y, -1)
    out = fnp.matmul(x, y)
    if col:
        out = fnp.squeeze(out, -1)
    if row:  # the row's axis is last when the other operand was (or became) a column
        out = fnp.squeeze(out, -1 if col or y.ndim == 1 else -2)
    return out


matmul_p = Primitive("matmul", np.matmul, _matmul_shape, (_matmul_rule_x, _matmul_rule_y),
                     _batch_matmul)


def _einsum_impl(*xs: Any, spec: str) -> Any:
    return np.einsum(spec, *xs, optimize=len(xs) > 1)


def _einsum_shape(*xs: Aval, spec: str) -> ShapedArray:
    ins, out = spec.split("->")
    sizes: dict[str, int] = {}
    for sub, x in zip(ins.split(","), xs):
        if len(sub) != x.ndim:
            raise ShapeError(f"einsum '{spec}': operand '{sub}' has shape {tuple(x.shape)}")
        for label, d in zip(sub, x.shape):
            if sizes.setdefault(label, d) != d:
                raise ShapeError(f"einsum '{spec}': label '{label}' has sizes {sizes[label]} "
                                 f"and {d} in {_describe(*xs)}")
    dtype = xs[0].dtype
    if any(x.dtype != dtype for x in xs):
        raise TypeError(f"einsum: dtypes differ: {_describe(*xs)}")
    return ShapedArray(tuple(sizes[c] for c in out), np.dtype(dtype))


def _einsum_rule(i: int) -> Rule:
    def rule(g: Any, out: Any, *xs: Any, spec: str) -> Any:
        ins, out_sub = spec.split("->")
        subs = ins.split(",")
        target = subs[i]
        if len(set(target)) != len(target):
            raise NotImplementedError(f"VJP of einsum '{spec}' with a repeated label in "
                                      f"operand {i}")
        others = subs[:i] + subs[i + 1:]
        present = set(out_sub).union(*others)
        # Labels summed in this operand alone come back by broadcasting.
        reduced = "".join(c for c in target if c in present)
        gi = einsum_p.bind(g, *xs[:i], *xs[i + 1:],
                           spec=",".join([out_sub, *others]) + "->" + reduced)
        if reduced != target:
            kept = tuple(xs[i].shape[k] if c in present else 1 for k, c in enumerate(target))
            gi = fnp.broadcast_to(fnp.reshape(gi, kept), xs[i].shape)
        return gi
    return rule


def _batch_einsum(prim: Primitive, size: int, args: Any, batched: Any, *, spec: str) -> Any:
    ins, out = spec.split("->")
    label = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba"
                 if c not in spec)
    subs = [label + s if b else s for s, b in zip(ins.split(","), batched)]
    return bind(prim, *args, spec=",".join(subs) + "->" + label + out)


einsum_p = Primitive("einsum", _einsum_impl, _einsum_shape, _einsum_rule, _batch_einsum)


IDENTITIES = {add_p: ((0, 0.0), (1, 0.0)), sub_p: ((1, 0.0),), mul_p: ((0, 1.0), (1, 1.0)),
              div_p: ((1, 1.0),)}
"""Constant operands that make an equation return its other operand, for jit's simplifier."""
