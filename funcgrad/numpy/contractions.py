"""Products: matmul, dot, vdot, inner, outer, tensordot, kron, cross, einsum, convolve and
correlate."""

from __future__ import annotations

import builtins
import functools
import operator
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core import Array, ArrayLike, ShapeError, Tracer, user_location
from funcgrad.primitives import contractions as C
from funcgrad.numpy._table import Row, any_traced, dtype_or_scalar, register, shape
from funcgrad.numpy.elementwise import astype, conjugate, multiply
from funcgrad.numpy.shapes import broadcast_to, moveaxis, pad, ravel, reshape, transpose

__all__ = ["matmul", "dot", "vdot", "inner", "outer", "tensordot", "kron", "cross", "einsum",
           "convolve", "correlate"]


def _promoted(*xs: ArrayLike) -> list[Array]:
    """The operands converted to their common dtype (Python scalars weak)."""
    dtype = np.result_type(*(dtype_or_scalar(x) for x in xs))
    return [astype(x, dtype) for x in xs]


def matmul(x1: ArrayLike, x2: ArrayLike) -> Array:
    """Matrix product with numpy's rules for 1-D operands and broadcast batch dimensions."""
    xs, ys = shape(x1), shape(x2)
    if not xs or not ys:
        raise ShapeError(f"matmul: operands must not be scalars, got shapes {xs} and {ys}; "
                         "use * for scaling" + user_location())
    kx = xs[-1]
    ky = ys[-2] if len(ys) > 1 else ys[0]
    if kx != ky:
        raise ShapeError(f"matmul: shapes {xs} and {ys} do not fit: {kx} (last axis of the "
                         f"first) != {ky} ({'second-to-last' if len(ys) > 1 else 'only'} axis "
                         "of the second)" + user_location())
    if not (isinstance(x1, Tracer) or isinstance(x2, Tracer)):
        product: Array = np.matmul(x1, x2)
        return product
    a, b = _promoted(x1, x2)
    if len(xs) <= 2 and len(ys) <= 2:
        return C.matmul_p.bind(a, b)
    if len(xs) == 1:
        return reshape(matmul(reshape(a, (1, kx)), b), ys[:-2] + ys[-1:])
    if len(ys) == 1:
        return reshape(matmul(a, reshape(b, (ky, 1))), xs[:-1])
    if len(ys) == 2:
        # a batch of rows times one matrix: one 2-D product
        return reshape(C.matmul_p.bind(reshape(a, (-1, kx)), b), xs[:-1] + ys[-1:])
    try:
        batch = np.broadcast_shapes(xs[:-2], ys[:-2])
    except ValueError:
        raise ShapeError(f"matmul: the batch dimensions of {xs} and {ys} do not broadcast"
                         + user_location()) from None
    return C.matmul_p.bind(broadcast_to(a, batch + xs[-2:]), broadcast_to(b, batch + ys[-2:]))


def dot(a: ArrayLike, b: ArrayLike) -> Array:
    """numpy's dot: scalar, inner and matrix products; over a's last and b's second-last axes."""
    xs, ys = shape(a), shape(b)
    if not xs or not ys:
        return multiply(a, b)
    ky = ys[-2] if len(ys) > 1 else ys[0]
    if xs[-1] != ky:
        raise ShapeError(f"dot: shapes {xs} and {ys} do not fit: {xs[-1]} != {ky}"
                         + user_location())
    if len(ys) <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([len(xs) - 1], [len(ys) - 2]))


def vdot(a: ArrayLike, b: ArrayLike, /) -> Array:
    """The dot product of the flattened a and b, a conjugated (numpy's vdot)."""
    if not any_traced((a, b)):
        return np.asarray(np.vdot(a, b))
    x, y = ravel(a), ravel(b)
    if shape(x) != shape(y):
        raise ShapeError(f"vdot: a {shape(a)} and b {shape(b)} have different sizes"
                         + user_location())
    return dot(conjugate(x), y)


def inner(a: ArrayLike, b: ArrayLike, /) -> Array:
    """Sum of products over the last axes of a and b (a scalar operand scales the other)."""
    xs, ys = shape(a), shape(b)
    if not xs or not ys:
        return multiply(a, b)
    if xs[-1] != ys[-1]:
        raise ShapeError(f"inner: the last axes of {xs} and {ys} differ" + user_location())
    if not any_traced((a, b)):
        return np.asarray(np.inner(a, b))
    return tensordot(a, b, axes=([len(xs) - 1], [len(ys) - 1]))


def _tensordot_axes(axes: int | Sequence[Any], xs: tuple[int, ...], ys: tuple[int, ...]
                    ) -> tuple[list[int], list[int]]:
    """numpy's forms of tensordot's axes (n; (i, j); ([i, ...], [j, ...])) as two lists of
    non-negative axes."""
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n > len(xs) or n > len(ys):
            raise ShapeError(f"tensordot: axes={n} but the operands have shapes {xs} and "
                             f"{ys}" + user_location())
        return list(range(len(xs) - n, len(xs))) if n > 0 else [], list(range(n))
    first, second = axes
    out = []
    for given, dims in ((first, xs), (second, ys)):
        listed = [int(a) for a in np.atleast_1d(given)]
        if builtins.any(not -len(dims) <= a < len(dims) for a in listed):
            raise ShapeError(f"tensordot: axes {listed} out of range for shape {dims}"
                             + user_location())
        out.append([a % len(dims) for a in listed])
    return out[0], out[1]


def tensordot(a: ArrayLike, b: ArrayLike, axes: int | Sequence[Any] = 2) -> Array:
    """Sum products over the given axes of a and b, as numpy's tensordot."""
    xs, ys = shape(a), shape(b)
    ax, ay = _tensordot_axes(axes, xs, ys)
    if len(ax) != len(ay) or builtins.any(xs[i] != ys[j] for i, j in zip(ax, ay)):
        raise ShapeError(f"tensordot: shapes {xs} and {ys} do not fit over axes {ax} and {ay}"
                         + user_location())
    if not any_traced((a, b)):
        return np.asarray(np.tensordot(a, b, axes=(ax, ay)))
    free_x = [i for i in range(len(xs)) if i not in ax]
    free_y = [j for j in range(len(ys)) if j not in ay]
    k = int(np.prod([xs[i] for i in ax], dtype=np.int64))
    a2 = reshape(transpose(a, free_x + ax), (-1, k))
    b2 = reshape(transpose(b, ay + free_y), (k, -1))
    return reshape(matmul(a2, b2), tuple(xs[i] for i in free_x) + tuple(ys[j] for j in free_y))


def outer(a: ArrayLike, b: ArrayLike) -> Array:
    """Outer product of the flattened a and b."""
    return multiply(reshape(ravel(a), (-1, 1)), reshape(ravel(b), (1, -1)))


def kron(a: ArrayLike, b: ArrayLike) -> Array:
    """Kronecker product: blocks a[i, j] * b, as numpy's kron (the shorter shape gets
    leading ones)."""
    if not any_traced((a, b)):
        return np.kron(a, b)
    sa, sb = shape(a), shape(b)
    nd = builtins.max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    # a as (a0, 1, a1, 1, ...) times b as (1, b0, 1, b1, ...): axes pair up as (a0 b0), ...
    blocks = multiply(reshape(a, tuple(d for i in sa for d in (i, 1))),
                      reshape(b, tuple(d for j in sb for d in (1, j))))
    return reshape(blocks, tuple(i * j for i, j in zip(sa, sb)))


def cross(a: ArrayLike, b: ArrayLike, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Array:
    """Cross product of 2- or 3-vectors along axisa of a and axisb of b (or both `axis`),
    broadcast over the other axes; two 2-vectors give the z component (a scalar each).

    (2-vectors are deprecated in numpy 2 but not here: this never calls numpy's cross with
    them, so it does not warn.)
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    x, y = _promoted(a, b)
    x, y = moveaxis(x, axisa, -1), moveaxis(y, axisb, -1)
    n, m = shape(x)[-1], shape(y)[-1]
    if n not in (2, 3) or m not in (2, 3):
        raise ShapeError(f"cross: vectors must have 2 or 3 components, got {n} (axis {axisa} of "
                         f"{shape(a)}) and {m} (axis {axisb} of {shape(b)})" + user_location())
    try:
        batch = np.broadcast_shapes(shape(x)[:-1], shape(y)[:-1])
    except ValueError:
        raise ShapeError(f"cross: the shapes {shape(a)} and {shape(b)} do not broadcast "
                         "outside the vector axes" + user_location()) from None
    # 2-vectors are 3-vectors with z = 0
    x3 = broadcast_to(pad(x, [(0, 0)] * (len(shape(x)) - 1) + [(0, 3 - n)]), batch + (3,))
    y3 = broadcast_to(pad(y, [(0, 0)] * (len(shape(y)) - 1) + [(0, 3 - m)]), batch + (3,))
    product = C.cross_p.bind(x3, y3)
    if n == m == 2:
        return product[..., 2]
    return moveaxis(product, -1, axisc)


# ---------------------------------------------------------------------------- einsum


# numpy's letters for the integers of sublists: in the order of the implicit output
_SUBLIST_LABELS = string.ascii_uppercase + string.ascii_lowercase


def _sublist(items: Any) -> str:
    """A sublist of numpy's second einsum form ([0, 1, Ellipsis]) as subscripts ('ab...')."""
    out = ""
    for item in items:
        if item is Ellipsis:
            out += "..."
            continue
        k = operator.index(item)
        if not 0 <= k < len(_SUBLIST_LABELS):
            raise ValueError(f"einsum: subscript {k} is not within the valid range [0, 52)")
        out += _SUBLIST_LABELS[k]
    return out


def _subscripts(operands: Sequence[Any]) -> tuple[str, list[Any]]:
    """numpy's two forms, einsum('ij,jk->ik', a, b) and einsum(a, [0, 1], b, [1, 2], [0, 2]),
    as the subscripts string and the operands."""
    if not operands:
        raise TypeError("einsum: no subscripts or operands given")
    if isinstance(operands[0], str):
        return operands[0].replace(" ", ""), list(operands[1:])
    pairs = len(operands) // 2
    subs = ",".join(_sublist(operands[2 * i + 1]) for i in range(pairs))
    if len(operands) % 2:
        subs += "->" + _sublist(operands[-1])
    return subs, [operands[2 * i] for i in range(pairs)]


def _expand_ellipsis(where: str, subscripts: str, shapes: list[tuple[int, ...]]
                     ) -> tuple[list[str], str]:
    """The operands' subscripts and the output with '...' replaced by labels of its own
    (right-aligned: numpy's broadcasting) and the implicit output written out."""
    ins, arrow, out = subscripts.partition("->")
    subs = ins.split(",")
    if len(subs) != len(shapes):
        raise ShapeError(f"{where} names {len(subs)} operands, got {len(shapes)}"
                         + user_location())
    if builtins.any("." in s.replace("...", "", 1) for s in (*subs, out)):
        raise ValueError(f"{where}: a '.' that is not part of one '...'")
    spans: list[int | None] = []  # how many axes '...' stands for (None: no '...')
    for i, (sub, dims) in enumerate(zip(subs, shapes)):
        named = len(sub.replace("...", "", 1))
        span = len(dims) - named if "..." in sub else None
        if (len(dims) != named) if span is None else span < 0:
            raise ShapeError(f"{where}: operand {i} has shape {dims}, but '{sub}' names "
                             f"{named} axes" + user_location())
        spans.append(span)
    widest = builtins.max((s for s in spans if s is not None), default=0)
    ellipsis = C.fresh_labels(subscripts, widest)
    subs = [sub if s is None else sub.replace("...", ellipsis[widest - s:])
            for sub, s in zip(subs, spans)]
    if not arrow:  # numpy's implicit output: '...', then the labels used once, sorted
        labels = "".join(subs)
        return subs, ellipsis + "".join(sorted(c for c in set(labels) - set(ellipsis)
                                               if labels.count(c) == 1))
    if widest and "..." not in out:
        raise ShapeError(f"{where}: the output must have '...', since the operands' '...' "
                         "stands for dimensions" + user_location())
    return subs, out.replace("...", ellipsis)


def _label_sizes(where: str, subs: list[str], shapes: list[tuple[int, ...]]
                 ) -> dict[str, int]:
    """Each label's size, broadcast over the operands (a size 1 stretches)."""
    sizes: dict[str, int] = {}
    for i, (sub, dims) in enumerate(zip(subs, shapes)):
        own: dict[str, int] = {}
        for c, d in zip(sub, dims):
            if own.setdefault(c, d) != d:
                raise ShapeError(f"{where}: label '{c}' repeated in operand {i} has sizes "
                                 f"{own[c]} and {d}" + user_location())
            if d != 1 and sizes.get(c, 1) not in (1, d):
                raise ShapeError(f"{where}: label '{c}' has sizes {sizes[c]} and {d}, which "
                                 f"do not broadcast, in shapes {shapes}" + user_location())
            sizes[c] = builtins.max(sizes.get(c, 1), d)
    return sizes


@functools.lru_cache(maxsize=1024)
def _normal_form(subscripts: str, shapes: tuple[tuple[int, ...], ...]
                 ) -> tuple[str, tuple[tuple[int, ...] | None, ...]]:
    """The explicit spec of einsum_p for operands of these shapes (no '...', the output
    written out) and the shape each operand is reshaped to first (None: kept): every axis of
    size 1 that broadcasts against a longer one is dropped from its operand."""
    where = f"einsum '{subscripts}'"
    ins, _, out = subscripts.partition("->")
    if set(ins) - set(string.ascii_letters + ",.") or set(out) - set(string.ascii_letters + "."):
        raise ValueError(f"{where}: subscripts may hold letters, ',', '...' and one '->'")
    subs, out = _expand_ellipsis(where, subscripts, list(shapes))
    sizes = _label_sizes(where, subs, list(shapes))
    if len(set(out)) != len(out) or not set(out) <= set(sizes):
        raise ShapeError(f"{where}: the output labels must be distinct and each appear in "
                         "an operand" + user_location())
    reshaped: list[tuple[int, ...] | None] = []
    for i, (sub, dims) in enumerate(zip(subs, shapes)):
        kept = [k for k, (c, d) in enumerate(zip(sub, dims)) if d == sizes[c]]
        reshaped.append(None if len(kept) == len(sub) else tuple(dims[k] for k in kept))
        subs[i] = "".join(sub[k] for k in kept)
    return ",".join(subs) + "->" + out, tuple(reshaped)


def _optimize_param(optimize: bool | str | Sequence[Any]) -> C.Optimize:
    """numpy's values of einsum's optimize, checked, as einsum_p's (hashable) parameter."""
    if isinstance(optimize, (bool, np.bool_)):
        return bool(optimize)
    if isinstance(optimize, str):
        if optimize not in ("auto", "greedy", "optimal"):
            raise ValueError(f"einsum: optimize must be True, False, 'greedy', 'optimal', "
                             f"'auto' or a path from np.einsum_path, got {optimize!r}")
        return optimize
    path = tuple(p if isinstance(p, str) else tuple(p) for p in optimize)
    if not path or path[0] != "einsum_path":
        raise ValueError("einsum: an explicit optimize path starts with 'einsum_path', as "
                         "np.einsum_path returns it")
    return path


def einsum(*operands: Any, optimize: bool | str | Sequence[Any] = "auto") -> Array:
    """Einstein summation, as numpy's einsum: einsum('ij,jk->ik', a, b) or
    einsum(a, [0, 1], b, [1, 2], [0, 2]), with '...', implicit output and repeated labels.

    optimize: numpy's True/False/'greedy'/'optimal' or a path; the default 'auto' plans
    the contraction order for three or more operands and for large two-operand products.
    """
    subscripts, arrays = _subscripts(operands)
    spec, reshaped = _normal_form(subscripts, tuple(shape(a) for a in arrays))
    arrays = [a if s is None else reshape(a, s) for a, s in zip(arrays, reshaped)]
    return C.einsum_p.bind(*_promoted(*arrays), spec=spec, optimize=_optimize_param(optimize))


# ---------------------------------------------------------------------------- convolve


def _signals(name: str, mode: str, a: ArrayLike, v: ArrayLike) -> tuple[Array, Array]:
    """a and v checked (1-D, not empty) and promoted to one dtype."""
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"{name}: mode must be 'valid', 'same' or 'full', got {mode!r}")
    if len(shape(a)) != 1 or len(shape(v)) != 1 or not shape(a)[0] or not shape(v)[0]:
        raise ShapeError(f"{name}: a and v must be non-empty 1-D arrays, got shapes "
                         f"{shape(a)} and {shape(v)}" + user_location())
    x, y = _promoted(a, v)
    return x, y


def _slide(x: Array, k: Array, mode: str) -> Array:
    """sum_j x[i + j] k[j] for the lags of `mode`, x zero-padded as numpy pads it (len(x) >=
    len(k))."""
    m = shape(k)[0]
    widths = {"valid": (0, 0), "same": (m // 2, m - 1 - m // 2), "full": (m - 1, m - 1)}[mode]
    return C.sliding_dot_p.bind(pad(x, [widths]), k)


def convolve(a: ArrayLike, v: ArrayLike, mode: str = "full") -> Array:
    """Discrete linear convolution of two 1-D arrays ('full', 'same' or 'valid', as numpy's)."""
    x, k = _signals("convolve", mode, a, v)
    if shape(k)[0] > shape(x)[0]:  # numpy slides the shorter one, whichever it is
        x, k = k, x
    return _slide(x, k[::-1], mode)


def correlate(a: ArrayLike, v: ArrayLike, mode: str = "valid") -> Array:
    """Cross-correlation sum_n a[n + k] conj(v[n]) of two 1-D arrays ('valid', 'same' or
    'full', as numpy's)."""
    x, k = _signals("correlate", mode, a, v)
    k = conjugate(k)
    if shape(k)[0] <= shape(x)[0]:
        return _slide(x, k, mode)
    # numpy slides the shorter one along the longer and reverses the result
    return _slide(k, x, mode)[::-1]


register([
    Row("matmul", matmul, ufunc=np.matmul, methods=("__matmul__",), reflected=("__rmatmul__",)),
    Row("dot", dot, methods=("dot",)),
    Row("vdot", vdot),
    Row("inner", inner),
    Row("tensordot", tensordot),
    Row("outer", outer),
    Row("kron", kron),
    Row("cross", cross),
    Row("einsum", einsum),
    Row("convolve", convolve),
    Row("correlate", correlate),
])
