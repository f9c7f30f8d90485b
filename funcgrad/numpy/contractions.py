"""Products: matmul, dot, tensordot, outer, einsum."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

from funcgrad.core import Array, ArrayLike, ShapeError, Tracer, user_location
from funcgrad.lax import contractions as C
from funcgrad.numpy._table import Row, any_traced, dtype_or_scalar, register, shape
from funcgrad.numpy.elementwise import astype, multiply
from funcgrad.numpy.shapes import broadcast_to, ravel, reshape, transpose

__all__ = ["matmul", "dot", "tensordot", "outer", "einsum"]


def matmul(x: ArrayLike, y: ArrayLike) -> Array:
    """Matrix product with numpy's rules for 1-D operands and broadcast batch dimensions."""
    xs, ys = shape(x), shape(y)
    if not xs or not ys:
        raise ShapeError(f"matmul: operands must not be scalars, got shapes {xs} and {ys}; "
                         "use * for scaling" + user_location())
    kx = xs[-1]
    ky = ys[-2] if len(ys) > 1 else ys[0]
    if kx != ky:
        raise ShapeError(f"matmul: shapes {xs} and {ys} do not fit: {kx} (last axis of the "
                         f"first) != {ky} ({'second-to-last' if len(ys) > 1 else 'only'} axis "
                         "of the second)" + user_location())
    if not (isinstance(x, Tracer) or isinstance(y, Tracer)):
        product: Array = np.matmul(x, y)
        return product
    dtype = np.result_type(dtype_or_scalar(x), dtype_or_scalar(y))
    a, b = astype(x, dtype), astype(y, dtype)
    if len(xs) <= 2 and len(ys) <= 2:
        return C.matmul_p.bind(a, b)
    if len(xs) == 1:
        return reshape(matmul(reshape(a, (1, kx)), b), ys[:-2] + ys[-1:])
    if len(ys) == 1:
        return reshape(matmul(a, reshape(b, (ky, 1))), xs[:-1])
    if len(ys) == 2:
        # a batch of rows times one matrix: one 2-D product
        return reshape(C.matmul_p.bind(reshape(a, (-1, kx)), b), xs[:-1] + ys[-1:])
    batch = np.broadcast_shapes(xs[:-2], ys[:-2])
    a = broadcast_to(a, batch + xs[-2:])
    b = broadcast_to(b, batch + ys[-2:])
    return C.matmul_p.bind(a, b)


def dot(x: ArrayLike, y: ArrayLike) -> Array:
    """numpy's dot: scalar, inner and matrix products; over x's last and y's second-last axes."""
    xs, ys = shape(x), shape(y)
    if not xs or not ys:
        return multiply(x, y)
    ky = ys[-2] if len(ys) > 1 else ys[0]
    if xs[-1] != ky:
        raise ShapeError(f"dot: shapes {xs} and {ys} do not fit: {xs[-1]} != {ky}"
                         + user_location())
    if len(ys) <= 2:
        return matmul(x, y)
    return tensordot(x, y, axes=([len(xs) - 1], [len(ys) - 2]))


def tensordot(x: ArrayLike, y: ArrayLike,
              axes: int | tuple[Sequence[int], Sequence[int]] = 2) -> Array:
    """Sum products over the given axes of x and y, as numpy's tensordot."""
    xs, ys = shape(x), shape(y)
    if isinstance(axes, (int, np.integer)):
        ax = list(range(len(xs) - int(axes), len(xs)))
        ay = list(range(int(axes)))
    else:
        ax = [a % len(xs) for a in np.atleast_1d(axes[0])]
        ay = [a % len(ys) for a in np.atleast_1d(axes[1])]
    if len(ax) != len(ay) or builtins.any(xs[a] != ys[b] for a, b in zip(ax, ay)):
        raise ShapeError(f"tensordot: shapes {xs} and {ys} do not fit over axes {ax} and {ay}"
                         + user_location())
    if not (isinstance(x, Tracer) or isinstance(y, Tracer)):
        return np.tensordot(x, y, axes=(ax, ay))
    free_x = [a for a in range(len(xs)) if a not in ax]
    free_y = [b for b in range(len(ys)) if b not in ay]
    k = int(np.prod([xs[a] for a in ax], dtype=np.int64))
    a2 = reshape(transpose(x, free_x + ax), (-1, k))
    b2 = reshape(transpose(y, ay + free_y), (k, -1))
    return reshape(matmul(a2, b2), tuple(xs[a] for a in free_x) + tuple(ys[b] for b in free_y))


def outer(x: ArrayLike, y: ArrayLike) -> Array:
    """Outer product of the flattened x and y."""
    return multiply(reshape(ravel(x), (-1, 1)), reshape(ravel(y), (1, -1)))


def einsum(subscripts: str, *operands: ArrayLike) -> Array:
    """Einstein summation, as numpy's einsum (explicit or implicit output; no '...')."""
    if not any_traced(operands):
        return np.asarray(np.einsum(subscripts, *operands))
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise NotImplementedError("einsum with '...' under a transformation; name the axes")
    if "->" not in spec:
        labels = spec.replace(",", "")
        spec += "->" + "".join(sorted(c for c in set(labels) if labels.count(c) == 1))
    if spec.split("->")[0].count(",") + 1 != len(operands):
        raise ShapeError(f"einsum '{subscripts}' names {spec.count(',') + 1} operands, "
                         f"got {len(operands)}" + user_location())
    dtype = np.result_type(*(dtype_or_scalar(o) for o in operands))
    return C.einsum_p.bind(*(astype(o, dtype) for o in operands), spec=spec)


register([
    Row("matmul", matmul, ufunc=np.matmul, methods=("__matmul__",), reflected=("__rmatmul__",)),
    Row("dot", dot, methods=("dot",)),
    Row("tensordot", tensordot),
    Row("outer", outer),
    Row("einsum", einsum),
])
