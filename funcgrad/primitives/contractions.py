"""Contractions: matmul, einsum, the cross product and the sliding dot product behind
convolve and correlate.

einsum's operands arrive normalised by funcgrad.numpy: an explicit output, no '...' (its
dimensions have labels of their own) and no size-1 broadcasting (such an axis is
dropped from its operand). Labels may repeat within an operand (traces and diagonals).
"""

from __future__ import annotations

import functools
import math
import string
from typing import Any, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from funcgrad import numpy as fnp

from funcgrad.core import Primitive, Rule, ShapedArray, ShapeError, bind, user_location
from funcgrad.primitives.base import Aval, batch_elementwise, describe, move_to_front


def _matmul_shape(x: Aval, y: Aval) -> ShapedArray:
    # Matrices with equal batch axes, or a vector on either side of a matrix (or both).
    ok = x.shape[-1:] == y.shape[-2:][:1] and (
        x.ndim == y.ndim and x.shape[:-2] == y.shape[:-2] or x.ndim <= 2 and y.ndim <= 2)
    if not ok:
        raise ShapeError(f"matmul: shapes do not fit: {describe(x, y)}" + user_location())
    if x.dtype != y.dtype:
        raise TypeError(f"matmul: dtypes differ: {describe(x, y)}")
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
                     _batch_matmul, complex_rules=True)


# ---------------------------------------------------------------------------- einsum

Optimize = Union[bool, str, tuple[Any, ...]]
"""einsum's optimize parameter: numpy's True, False, 'greedy', 'optimal' or explicit path
(as a tuple), or 'auto': numpy's path optimisation where it pays off."""

# Below this many multiply-adds numpy's own loop beats the ~10 us that planning a path
# costs (measured for two operands; with three or more, the order matters far more).
_PLANNING_PAYS = 1 << 15


def fresh_labels(used: str, count: int) -> str:
    """`count` einsum labels not among `used`."""
    free = [c for c in string.ascii_letters if c not in used]
    if len(free) < count:
        raise ShapeError(f"einsum: needs {count} more labels than '{used}' leaves free; "
                         "numpy's einsum has 52 (a-z, A-Z) in all" + user_location())
    return "".join(free[:count])


@functools.lru_cache(maxsize=1024)
def _plan(spec: str, shapes: tuple[tuple[int, ...], ...], optimize: Optimize) -> Any:
    """What np.einsum gets as `optimize`: 'auto' plans a contraction order for three or
    more operands, and for two when a large sum over a shared label can go to BLAS."""
    if optimize != "auto":  # numpy's own choice, or a path (np.einsum takes it as a tuple)
        return optimize
    if len(shapes) != 2:
        return len(shapes) > 2
    ins, out = spec.split("->")
    first, second = ins.split(",")
    sizes = {c: d for sub, dims in zip((first, second), shapes) for c, d in zip(sub, dims)}
    shared_sum = any(c not in out for c in set(first) & set(second))
    return shared_sum and math.prod(sizes.values()) >= _PLANNING_PAYS


def _einsum_impl(*xs: Any, spec: str, optimize: Optimize) -> Any:
    plan = _plan(spec, tuple(x.shape for x in xs), optimize)
    return np.asarray(np.einsum(spec, *xs, optimize=plan))


def _einsum_shape(*xs: Aval, spec: str, optimize: Optimize) -> ShapedArray:
    ins, out = spec.split("->")
    subs = ins.split(",")
    if len(subs) != len(xs):
        raise ShapeError(f"einsum '{spec}': {len(subs)} operands named, {len(xs)} given")
    sizes: dict[str, int] = {}
    for sub, x in zip(subs, xs):
        if len(sub) != x.ndim:
            raise ShapeError(f"einsum '{spec}': operand '{sub}' has shape {tuple(x.shape)}")
        for label, d in zip(sub, x.shape):
            if sizes.setdefault(label, d) != d:
                raise ShapeError(f"einsum '{spec}': label '{label}' has sizes {sizes[label]} "
                                 f"and {d} in {describe(*xs)}")
    if len(set(out)) != len(out) or not set(out) <= set(sizes):
        raise ShapeError(f"einsum '{spec}': the output labels must be distinct and appear in "
                         "an operand")
    dtype = xs[0].dtype
    if any(x.dtype != dtype for x in xs):
        raise TypeError(f"einsum: dtypes differ: {describe(*xs)}")
    return ShapedArray(tuple(sizes[c] for c in out), np.dtype(dtype))


def _place_on_diagonal(g: Any, labels: str, target: str, optimize: Optimize) -> Any:
    """g (one axis per distinct label of `target`, in `labels`' order) written onto the
    diagonal of an array with target's repeated labels ('ii', 'iij'), zero elsewhere."""
    fresh = iter(fresh_labels(target, len(target) - len(labels)))
    renamed = ""
    eyes = []
    sizes = dict(zip(labels, g.shape))
    for c in target:
        if c in renamed:  # a repeat: a new label, tied to the first by an identity matrix
            r = next(fresh)
            renamed += r
            eyes.append((c + r, np.eye(sizes[c], dtype=g.dtype)))
        else:
            renamed += c
    spec = ",".join([labels] + [s for s, _ in eyes]) + "->" + renamed
    return einsum_p.bind(g, *(e for _, e in eyes), spec=spec, optimize=optimize)


def _einsum_rule(i: int) -> Rule:
    def rule(g: Any, out: Any, *xs: Any, spec: str, optimize: Optimize) -> Any:
        # The cotangent of operand i is the einsum of g with the other operands onto i's
        # labels: each distinct label once; those in no other operand nor the output were
        # summed over, so g is constant along them and comes back by broadcasting; a
        # repeated label (a trace or diagonal) puts the result on the diagonal.
        if isinstance(optimize, tuple):  # a path planned for the forward operands
            optimize = "auto"
        ins, out_sub = spec.split("->")
        subs = ins.split(",")
        target = subs[i]
        others = subs[:i] + subs[i + 1:]
        present = set(out_sub).union(*others)
        labels = "".join(dict.fromkeys(target))
        reduced = "".join(c for c in labels if c in present)
        gi = g if not others and reduced == out_sub else einsum_p.bind(
            g, *xs[:i], *xs[i + 1:], spec=",".join([out_sub, *others]) + "->" + reduced,
            optimize=optimize)
        if reduced != labels:
            sizes = dict(zip(target, xs[i].shape))
            kept = tuple(sizes[c] if c in present else 1 for c in labels)
            gi = fnp.broadcast_to(fnp.reshape(gi, kept), tuple(sizes[c] for c in labels))
        return gi if labels == target else _place_on_diagonal(gi, labels, target, optimize)
    return rule


def _batch_einsum(prim: Primitive, size: int, args: Any, batched: Any, *, spec: str,
                  optimize: Optimize) -> Any:
    ins, out = spec.split("->")
    label = fresh_labels(spec, 1)
    subs = [label + s if b else s for s, b in zip(ins.split(","), batched)]
    return bind(prim, *args, spec=",".join(subs) + "->" + label + out, optimize=optimize)


einsum_p = Primitive("einsum", _einsum_impl, _einsum_shape, _einsum_rule, _batch_einsum,
                     complex_rules=True)


# ---------------------------------------------------------------------------- cross


def _cross_shape(a: Aval, b: Aval) -> ShapedArray:
    if a.shape != b.shape or a.shape[-1:] != (3,):
        raise ShapeError(f"cross: operands must have one shape ending in 3, got "
                         f"{describe(a, b)}" + user_location())
    if a.dtype != b.dtype:
        raise TypeError(f"cross: dtypes differ: {describe(a, b)}")
    return ShapedArray(tuple(a.shape), np.dtype(a.dtype))


# <g, da x b> = <b x g, da> and <g, a x db> = <g x a, db>.
cross_p: Primitive = Primitive(
    "cross", lambda a, b: np.cross(a, b),
    _cross_shape, (lambda g, out, a, b: cross_p.bind(b, g),
                   lambda g, out, a, b: cross_p.bind(g, a)),
    batch_elementwise, complex_rules=True)
"""The cross product of 3-vectors along the last axis of two arrays of one shape."""


# ---------------------------------------------------------------------------- sliding dot


def _sliding_dot_impl(x: Any, k: Any) -> Any:
    if x.ndim == 1:  # numpy's own loop; its correlate conjugates k, which undoes that
        return np.correlate(x, np.conj(k) if k.dtype.kind == "c" else k, "valid")
    windows = sliding_window_view(x, k.shape[-1], axis=-1)
    return np.einsum("...ij,...j->...i", windows, k)


def _sliding_dot_shape(x: Aval, k: Aval) -> ShapedArray:
    if (x.ndim == 0 or x.shape[:-1] != k.shape[:-1] or x.ndim != k.ndim
            or not 1 <= k.shape[-1] <= x.shape[-1]):
        raise ShapeError(f"sliding_dot: needs x (..., n) and k (..., m) with the same leading "
                         f"axes and 1 <= m <= n, got {describe(x, k)}" + user_location())
    if x.dtype != k.dtype:
        raise TypeError(f"sliding_dot: dtypes differ: {describe(x, k)}")
    return ShapedArray(x.shape[:-1] + (x.shape[-1] - k.shape[-1] + 1,), np.dtype(x.dtype))


def _pad_last(x: Any, before: int, after: int) -> Any:
    return fnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(before, after)])


def _flip_last(x: Any) -> Any:
    return x[..., ::-1]


def _sliding_dot_rule_x(g: Any, out: Any, x: Any, k: Any) -> Any:
    # x[p] meets k[p - i] in out[i]: the full convolution of g with k.
    m = k.shape[-1]
    return sliding_dot_p.bind(_pad_last(g, m - 1, m - 1), _flip_last(k))


def _sliding_dot_rule_k(g: Any, out: Any, x: Any, k: Any) -> Any:
    # k[j] meets x[i + j] in out[i]: x slid along g.
    return sliding_dot_p.bind(x, g)


def _batch_sliding_dot(prim: Primitive, size: int, args: Any, batched: Any) -> Any:
    (x, k), (bx, bk) = args, batched
    return bind(prim, move_to_front(x, size, bx), move_to_front(k, size, bk))


sliding_dot_p = Primitive("sliding_dot", _sliding_dot_impl, _sliding_dot_shape,
                          (_sliding_dot_rule_x, _sliding_dot_rule_k), _batch_sliding_dot,
                          complex_rules=True)
"""out[..., i] = sum_j x[..., i + j] * k[..., j] for 0 <= i <= n - m: numpy's correlate in
'valid' mode without its conjugation, over the last axis, for a batch of leading axes."""
