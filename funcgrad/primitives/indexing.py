"""Indexing: gather (x[index]) and the scatters of x.at[index]: scatter-add (gather's
transpose), scatter (set: the last of repeated indices wins) and scatter-mul/min/max
(repeated indices all combine, as numpy's ufunc.at).

An index is split into its static part (ints, slices, None, Ellipsis), kept as a hashable
parameter, and its integer index arrays, which are operands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core import Primitive, Rule, ShapedArray, ShapeError, Tracer, user_location
from funcgrad.primitives.base import Aval, describe, move_to_front


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


def _scatter_impl(combine: np.ufunc | None) -> Callable[..., Any]:
    """The numpy implementation of a scatter: x with updates written into x[index] (combine
    None) or combined with what is there by the ufunc, repeated indices combining too."""
    def impl(x: Any, updates: Any, *arrays: Any, index: IndexKey) -> Any:
        out = np.array(x, copy=True)
        idx = build_index(index, arrays)
        if combine is None:
            out[idx] = updates  # numpy assigns in index order: the last repeat wins
        elif arrays:
            combine.at(out, idx, updates)  # unbuffered: repeated indices all combine
        else:
            out[idx] = combine(out[idx], updates)  # basic indexing never repeats an element
        return out
    return impl


def _scatter_shape(x: Aval, updates: Aval, *arrays: Aval, index: IndexKey) -> ShapedArray:
    target = _gather_shape(x, *arrays, index=index)
    if updates.shape != target.shape or updates.dtype != x.dtype:
        raise ShapeError(f"scatter into x{index}: the updates must be {target}, got "
                         f"{describe(updates)}" + user_location())
    return ShapedArray(x.shape, np.dtype(x.dtype))


def _gather_rule(g: Any, out: Any, x: Any, *arrays: Any, index: IndexKey) -> Any:
    return scatter_add_p.bind(fnp.zeros_like(x), g, *arrays, index=index)


def _unique(x: Any, *arrays: Any, index: IndexKey) -> bool:
    """Whether the index certainly picks no element of x twice (basic indexing, or constant
    index arrays without repeats); traced index arrays count as possibly repeating."""
    if not arrays:
        return True
    if any(isinstance(a, Tracer) for a in arrays):
        return False
    hits = np.zeros(x.shape, np.intp)
    np.add.at(hits, build_index(index, arrays), 1)
    return bool(hits.max(initial=0) <= 1)


def _set_rule_x(g: Any, out: Any, x: Any, u: Any, *arrays: Any, index: IndexKey) -> Any:
    return scatter_p.bind(g, np.zeros(u.shape, g.dtype), *arrays, index=index)


def _set_rule_updates(g: Any, out: Any, x: Any, u: Any, *arrays: Any, index: IndexKey) -> Any:
    picked = gather_p.bind(g, *arrays, index=index)
    if _unique(x, *arrays, index=index):
        return picked
    # Only the update that was written last at an element gets that element's cotangent:
    # scatter the updates' own numbers and read back which number each element kept.
    ids = np.arange(math.prod(u.shape)).reshape(u.shape)
    kept = scatter_p.bind(np.full(x.shape, -1), ids, *arrays, index=index)
    return fnp.where(gather_p.bind(kept, *arrays, index=index) == ids, picked, 0)


def _mul_rule_x(g: Any, out: Any, x: Any, u: Any, *arrays: Any, index: IndexKey) -> Any:
    return g * scatter_mul_p.bind(fnp.ones_like(x), u, *arrays, index=index)


def _mul_rule_updates(g: Any, out: Any, x: Any, u: Any, *arrays: Any, index: IndexKey) -> Any:
    if _unique(x, *arrays, index=index):
        return gather_p.bind(g * x, *arrays, index=index)
    # d out / d u_k is x times the product of the other updates at u_k's element. Written
    # without dividing by a zero: count the zero updates at each element and multiply the
    # nonzero ones; the others' product is nonzero only if u_k is the sole zero there (or
    # there is none), and then it is that product divided by u_k if u_k is nonzero.
    zero = u == 0
    zeros = scatter_add_p.bind(np.zeros(x.shape, np.intp), fnp.astype(zero, np.intp), *arrays,
                               index=index)
    nonzero = scatter_mul_p.bind(fnp.ones_like(x), fnp.where(zero, 1, u), *arrays, index=index)
    zeros_k = gather_p.bind(zeros, *arrays, index=index)
    others = fnp.where(fnp.where(zero, zeros_k == 1, zeros_k == 0),
                       gather_p.bind(g * x * nonzero, *arrays, index=index), 0)
    return others / fnp.where(zero, 1, u)


def _extremum_ties(out: Any, x: Any, u: Any, arrays: Sequence[Any], index: IndexKey
                   ) -> tuple[Any, Any, Any]:
    """For scatter-max/min: where x attains the result, which updates attain it at their
    element, and how many values attain each element's result (ties share its cotangent)."""
    at_x = fnp.astype(x == out, x.dtype)
    at_u = fnp.astype(u == gather_p.bind(out, *arrays, index=index), u.dtype)
    return at_x, at_u, at_x + scatter_add_p.bind(fnp.zeros_like(x), at_u, *arrays, index=index)


def _extremum_rule_x(g: Any, out: Any, x: Any, u: Any, *arrays: Any, index: IndexKey) -> Any:
    at_x, _, count = _extremum_ties(out, x, u, arrays, index)
    return g * at_x / count


def _extremum_rule_updates(g: Any, out: Any, x: Any, u: Any, *arrays: Any,
                           index: IndexKey) -> Any:
    _, at_u, count = _extremum_ties(out, x, u, arrays, index)
    return gather_p.bind(g / count, *arrays, index=index) * at_u


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


def _batch_scatter(prim: Primitive, size: int, args: Any, batched: Any, *,
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


def _scatter(name: str, combine: np.ufunc | None, rule_x: Rule, rule_updates: Rule,
             complex_rules: bool = False) -> Primitive:
    """A scatter primitive: operands x, updates and the index arrays (which get no
    gradient)."""
    return Primitive(name, _scatter_impl(combine), _scatter_shape,
                     lambda i: rule_x if i == 0 else rule_updates if i == 1 else None,
                     _batch_scatter, complex_rules=complex_rules)


gather_p = Primitive("gather", _gather, _gather_shape,
                     lambda i: _gather_rule if i == 0 else None, _batch_gather, complex_rules=True)
scatter_add_p = _scatter(
    "scatter_add", np.add, lambda g, out, x, u, *arrays, index: g,
    lambda g, out, x, u, *arrays, index: gather_p.bind(g, *arrays, index=index),
    complex_rules=True)
scatter_p = _scatter("scatter", None, _set_rule_x, _set_rule_updates, complex_rules=True)
scatter_mul_p = _scatter("scatter_mul", np.multiply, _mul_rule_x, _mul_rule_updates)
scatter_min_p = _scatter("scatter_min", np.minimum, _extremum_rule_x, _extremum_rule_updates)
scatter_max_p = _scatter("scatter_max", np.maximum, _extremum_rule_x, _extremum_rule_updates)
