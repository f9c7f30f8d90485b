"""Contractions: matmul and einsum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import numpy as fnp

from funcgrad.core import Primitive, Rule, ShapedArray, ShapeError, bind, user_location
from funcgrad.lax.base import Aval, describe


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
                                 f"and {d} in {describe(*xs)}")
    dtype = xs[0].dtype
    if any(x.dtype != dtype for x in xs):
        raise TypeError(f"einsum: dtypes differ: {describe(*xs)}")
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


einsum_p = Primitive("einsum", _einsum_impl, _einsum_shape, _einsum_rule, _batch_einsum,
                     complex_rules=True)
