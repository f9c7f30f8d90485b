"""Products: matmul, dot, vdot, inner, outer, tensordot, kron, cross, numpy 2's vecdot,
matvec and vecmat, einsum, convolve and correlate; covariances (cov, corrcoef); and the
polynomials (vander, polyval, polyfit, poly, roots, polyadd, polysub, polymul, polyder,
polyint), whose products are these."""

from __future__ import annotations

import builtins
import functools
import operator
import string
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from funcgrad.core import Array, ArrayLike, ShapeError, Tracer, user_location
from funcgrad.primitives import contractions as C
from funcgrad.numpy._table import (INEXACT, Row, any_traced, dtype_or_scalar, promoted_dtype,
                                   register, shape)
from funcgrad.numpy.elementwise import (add, astype, clip, conjugate, divide, imag, less_equal,
                                        multiply, negative, operand, real, sqrt, subtract, where,
                                        Values)
from funcgrad.numpy.indexing import diagonal
from funcgrad.numpy.reductions import average, cumprod
from funcgrad.numpy.reductions import sum as _sum
from funcgrad.numpy.shapes import (broadcast_to, concatenate, flip, moveaxis, pad, ravel,
                                   reshape, squeeze, transpose)

__all__ = ["matmul", "dot", "vdot", "inner", "outer", "tensordot", "kron", "cross", "einsum",
           "convolve", "correlate", "vecdot", "matvec", "vecmat", "cov", "corrcoef", "vander",
           "polyval", "polyfit", "poly", "roots", "polyadd", "polysub", "polymul", "polyder",
           "polyint"]


def _promoted(*xs: ArrayLike) -> list[Array]:
    """The operands converted to their common dtype (Python scalars weak)."""
    arrays = [x for x in xs if isinstance(x, (Tracer, np.ndarray))]
    if len(arrays) == len(xs) and all(a.dtype is arrays[0].dtype for a in arrays):
        return arrays  # the common case (every product under grad), without result_type
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


# ---------------------------------------------------------------------------- numpy 2's products


def vecdot(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1) -> Array:
    """The dot products of the vectors along axis (x1 conjugated), broadcast over the other
    axes."""
    if not any_traced((x1, x2)):
        return np.asarray(cast(Any, np.vecdot)(x1, x2, axis=axis))
    a, b = _promoted(x1, x2)
    a, b = moveaxis(a, axis, -1), moveaxis(b, axis, -1)
    if shape(a)[-1] != shape(b)[-1]:
        raise ShapeError(f"vecdot: vectors of lengths {shape(a)[-1]} and {shape(b)[-1]} (axis "
                         f"{axis} of shapes {shape(x1)} and {shape(x2)})" + user_location())
    return einsum("...i,...i->...", conjugate(a), b)


def matvec(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """Matrices times vectors, broadcast over the leading axes: (..., m, n) by (..., n)."""
    if len(shape(x1)) < 2 or len(shape(x2)) < 1 or shape(x1)[-1] != shape(x2)[-1]:
        raise ShapeError(f"matvec: shapes {shape(x1)} and {shape(x2)} are not (..., m, n) and "
                         "(..., n)" + user_location())
    if not any_traced((x1, x2)):
        return np.asarray(np.matvec(x1, x2))
    return einsum("...ij,...j->...i", x1, x2)


def vecmat(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """Vectors (conjugated) times matrices, broadcast over the leading axes: (..., n) by
    (..., n, m)."""
    if len(shape(x2)) < 2 or len(shape(x1)) < 1 or shape(x1)[-1] != shape(x2)[-2]:
        raise ShapeError(f"vecmat: shapes {shape(x1)} and {shape(x2)} are not (..., n) and "
                         "(..., n, m)" + user_location())
    if not any_traced((x1, x2)):
        return np.asarray(np.vecmat(x1, x2))
    return einsum("...i,...ij->...j", conjugate(x1), x2)


# ---------------------------------------------------------------------------- covariance


def _variables(name: str, m: ArrayLike, rowvar: bool, dtype: np.dtype[Any]) -> Array:
    """m as a 2-D array of variables (rows) by observations, in dtype."""
    if len(shape(m)) > 2:
        raise ShapeError(f"{name}: m has more than 2 dimensions (shape {shape(m)})"
                         + user_location())
    x = reshape(astype(m, dtype), (1, -1)) if len(shape(m)) < 2 else astype(m, dtype)
    return transpose(x) if not rowvar and shape(x)[0] != 1 else x


def _weights(name: str, weights: Values, n: int, frequencies: bool) -> ArrayLike:
    """fweights or aweights, checked: 1-D, one per observation, non-negative (and whole
    numbers for fweights) where their values are known."""
    given = operand(weights)
    if len(shape(given)) != 1 or shape(given)[0] != n:
        raise ShapeError(f"cov: {name} of shape {shape(given)} must be 1-D with one weight "
                         f"per observation ({n})" + user_location())
    if not isinstance(given, Tracer) and (
            np.any(given < 0) or (frequencies and np.any(given != np.around(given)))):
        raise ValueError(f"cov: {name} must be non-negative"
                         + (" integers" if frequencies else "") + user_location())
    checked: ArrayLike = given
    return checked


def _cov_dtype(m: ArrayLike, y: ArrayLike | None, dtype: Any) -> np.dtype[Any]:
    return np.dtype(dtype) if dtype is not None else promoted_dtype(
        INEXACT, [operand(v) for v in (m, y) if v is not None])


def cov(m: ArrayLike, y: ArrayLike | None = None, rowvar: bool = True, bias: bool = False,
        ddof: int | None = None, fweights: Values | None = None,
        aweights: Values | None = None, *, dtype: Any = None) -> Array:
    """The covariance matrix of the variables in the rows of m (columns if not rowvar) and
    of y, as numpy's (ddof, bias, frequency and analytic weights). float32 stays float32
    (numpy computes in float64)."""
    kind = _cov_dtype(m, y, dtype)
    if not any_traced((m, y, fweights, aweights)):
        # (numpy's result can be wider than dtype when there are weights)
        return np.asarray(cast(Any, np.cov)(m, y, rowvar, bias, ddof, fweights, aweights,
                                            dtype=kind), kind)
    if ddof is not None and ddof != int(ddof):
        raise ValueError(f"cov: ddof must be an integer, got {ddof}" + user_location())
    x = _variables("cov", m, rowvar, kind)
    if y is not None:
        x = concatenate([x, _variables("cov", y, rowvar, kind)], axis=0)
    n = shape(x)[1]
    correction = (0 if bias else 1) if ddof is None else int(ddof)
    w: ArrayLike | None = None
    if fweights is not None:
        w = astype(_weights("fweights", fweights, n, True), kind)
    analytic = None
    if aweights is not None:
        analytic = astype(_weights("aweights", aweights, n, False), kind)
        w = analytic if w is None else multiply(w, analytic)
    mean, total = average(x, axis=1, weights=w, returned=True)
    count = total[0]
    # the divisor; as numpy, none left (<= 0) gives inf
    if w is None:
        scale: ArrayLike = 1.0 / (n - correction) if n > correction else np.inf
    else:
        if correction == 0:
            fact = count
        elif analytic is None:
            fact = subtract(count, correction)
        else:
            fact = subtract(count, divide(multiply(correction, _sum(multiply(w, analytic))),
                                          count))
        scale = divide(1.0, where(less_equal(fact, 0), 0.0, fact))
    centered = subtract(x, reshape(mean, (-1, 1)))
    weighted = centered if w is None else multiply(centered, w)
    product = matmul(centered, conjugate(transpose(weighted)))
    return squeeze(multiply(product, scale))


def corrcoef(x: ArrayLike, y: ArrayLike | None = None, rowvar: bool = True, *,
             dtype: Any = None) -> Array:
    """The correlation coefficients of the variables in the rows of x (columns if not
    rowvar) and of y: cov scaled to a unit diagonal, clipped to [-1, 1]. float32 stays
    float32 (numpy computes in float64)."""
    if not any_traced((x, y)):
        return np.asarray(np.corrcoef(x, y, rowvar, dtype=_cov_dtype(x, y, dtype)))
    c = cov(x, y, rowvar, dtype=dtype)
    if len(shape(c)) == 0:  # one variable: c / c, as numpy
        return divide(c, c)
    spread = sqrt(real(diagonal(c)))
    scaled = divide(divide(c, reshape(spread, (-1, 1))), reshape(spread, (1, -1)))
    if scaled.dtype.kind == "c":
        return add(clip(real(scaled), -1, 1), multiply(clip(imag(scaled), -1, 1), 1j))
    return clip(scaled, -1, 1)


# ---------------------------------------------------------------------------- polynomials


def _in_precision_of(result: Any, *inputs: Any) -> Array:
    """numpy's polynomial result (computed in float64) in the precision of its inputs, as
    when traced: float32 stays float32, complex results become complex64."""
    precision = np.finfo(promoted_dtype(INEXACT, [operand(v) for v in inputs if v is not None]))
    kind = np.result_type(precision.dtype, *([np.complex64] if np.iscomplexobj(result) else []))
    return np.asarray(result, kind)


def vander(x: ArrayLike, N: int | None = None, increasing: bool = False) -> Array:
    """The Vandermonde matrix of the 1-D x: columns x ** (N-1), ..., x, 1 (the other way
    round if increasing), as running products, so every derivative is exact. float32
    stays float32 (numpy makes it float64)."""
    if len(shape(x)) != 1:
        raise ShapeError(f"vander: x must be 1-D, got shape {shape(x)}" + user_location())
    given = x if isinstance(x, Tracer) else np.asarray(x)
    # integers and bools as numpy's int; float32 stays float32 (numpy makes it float64)
    dtype = given.dtype if given.dtype.kind in "fc" else np.promote_types(given.dtype, int)
    if not isinstance(given, Tracer):
        return np.vander(given, N, increasing).astype(dtype)
    n = given.shape[0]
    columns = n if N is None else N
    ones = np.ones((n, builtins.min(columns, 1)), dtype)
    powers = cumprod(broadcast_to(reshape(astype(given, dtype), (n, 1)),
                                  (n, builtins.max(columns - 1, 0))), axis=1)
    out = concatenate([ones, powers], axis=1)
    return out if increasing else flip(out, 1)


def polyval(p: Values, x: Values) -> Array:
    """The polynomial with coefficients p (highest power first) at x, by Horner's rule, as
    numpy's."""
    if not any_traced((p, x)):
        return np.asarray(np.polyval(p, x))
    coefficients, points = operand(p), operand(x)
    value: Array = np.zeros(shape(points), np.result_type(dtype_or_scalar(points)))
    for i in range(shape(coefficients)[0]):
        value = add(multiply(value, points), coefficients[i])
    return value


def _leading(name: str, p: ArrayLike) -> Array:
    """p as a 1-D array of coefficients."""
    if len(shape(p)) > 1:
        raise ShapeError(f"{name}: coefficients must be 1-D, got shape {shape(p)}"
                         + user_location())
    return reshape(p, (-1,)) if len(shape(p)) == 0 else p if isinstance(p, Tracer) \
        else np.asarray(p)


def _padded_pair(name: str, a1: ArrayLike, a2: ArrayLike) -> tuple[Array, Array]:
    """Two polynomials with leading zeros added to the shorter one."""
    p, q = _leading(name, a1), _leading(name, a2)
    longest = builtins.max(shape(p)[0], shape(q)[0])
    return (pad(p, [(longest - shape(p)[0], 0)]), pad(q, [(longest - shape(q)[0], 0)]))


def polyadd(a1: ArrayLike, a2: ArrayLike) -> Array:
    """The sum of two polynomials (coefficients highest power first)."""
    if not any_traced((a1, a2)):
        return np.asarray(np.polyadd(a1, a2))
    return add(*_padded_pair("polyadd", a1, a2))


def polysub(a1: ArrayLike, a2: ArrayLike) -> Array:
    """The difference of two polynomials (coefficients highest power first)."""
    if not any_traced((a1, a2)):
        return np.asarray(np.polysub(a1, a2))
    return subtract(*_padded_pair("polysub", a1, a2))


def polymul(a1: ArrayLike, a2: ArrayLike) -> Array:
    """The product of two polynomials: the convolution of their coefficients."""
    if not any_traced((a1, a2)):
        return np.asarray(np.polymul(a1, a2))
    return convolve(_leading("polymul", a1), _leading("polymul", a2))


def polyder(p: ArrayLike, m: int = 1) -> Array:
    """The m-th derivative of a polynomial (coefficients highest power first)."""
    if m < 0:
        raise ValueError(f"polyder: the order m must be non-negative, got {m}"
                         + user_location())
    if not isinstance(p, Tracer):
        return _in_precision_of(np.polyder(p, m), p)
    out = _leading("polyder", p)
    for _ in range(m):
        powers = np.arange(shape(out)[0] - 1, 0, -1)
        out = multiply(out[:-1], powers.astype(out.dtype) if out.dtype.kind in "fc" else powers)
    return out


def polyint(p: Values, m: int = 1, k: Values | None = None) -> Array:
    """The m-th antiderivative of a polynomial, with integration constants k (one, or one
    per integration, the first for the first; zeros by default)."""
    if m < 0:
        raise ValueError(f"polyint: the order m must be non-negative, got {m}"
                         + user_location())
    if not any_traced((p, k)):
        return _in_precision_of(np.polyint(p, m, k), p, k)
    out = _leading("polyint", operand(p))
    given = None if k is None else operand(k)
    dtype = promoted_dtype(INEXACT, (out,) if given is None else (out, given))
    constants = np.zeros(m, dtype) if given is None else reshape(astype(given, dtype), (-1,))
    if shape(constants)[0] == 1 and m > 1:
        constants = broadcast_to(constants, (m,))
    if shape(constants)[0] < m:
        raise ValueError(f"polyint: k must be a scalar or hold at least m={m} constants, got "
                         f"{shape(constants)[0]}" + user_location())
    out = astype(out, dtype)
    for i in range(m):
        scaled = divide(out, np.arange(shape(out)[0], 0, -1).astype(dtype))
        out = concatenate([scaled, reshape(constants[i], (1,))])
    return out


def poly(seq_of_zeros: ArrayLike) -> Array:
    """The coefficients of the monic polynomial with the given roots (or the
    characteristic polynomial of a square matrix). Traced complex roots give complex
    coefficients, as in JAX (numpy makes them real when the roots pair up as conjugates)."""
    if not isinstance(seq_of_zeros, Tracer):
        return _in_precision_of(np.poly(seq_of_zeros), seq_of_zeros)
    dims = seq_of_zeros.shape
    if len(dims) == 2 and dims[0] == dims[1] and dims[0]:
        from funcgrad.numpy import linalg  # (linalg is built on this module)
        zeros = linalg.eigvals(seq_of_zeros)
    elif len(dims) <= 1:
        zeros = astype(reshape(seq_of_zeros, (-1,)), promoted_dtype(INEXACT, (seq_of_zeros,)))
    else:
        raise ShapeError(f"poly: the roots must be 1-D or a non-empty square matrix, got shape "
                         f"{dims}" + user_location())
    out: Array = np.ones(1, zeros.dtype)
    for i in range(shape(zeros)[0]):
        out = convolve(out, concatenate([np.ones(1, zeros.dtype),
                                         reshape(negative(zeros[i]), (1,))]))
    return out


def roots(p: ArrayLike) -> Array:
    """The roots of the polynomial with coefficients p (highest power first): the
    eigenvalues of its companion matrix, complex when traced. Leading and trailing zeros
    of p are removed where its values are known; under jit p[0] must be nonzero (trailing
    zeros give roots at 0 anyway)."""
    if len(shape(p)) != 1:
        raise ShapeError(f"roots: p must be 1-D, got shape {shape(p)}" + user_location())
    if not isinstance(p, Tracer):
        return _in_precision_of(np.roots(p), p)
    coefficients: Array = astype(p, promoted_dtype(INEXACT, (p,)))
    trailing = 0
    known = p._trace.concrete(p)
    if known is not None:
        nonzero = np.flatnonzero(known)
        if not nonzero.size:
            return np.zeros(0, coefficients.dtype)
        trailing = p.shape[0] - 1 - int(nonzero[-1])
        coefficients = coefficients[int(nonzero[0]):int(nonzero[-1]) + 1]
    n = shape(coefficients)[0]
    if n > 1:
        from funcgrad.numpy import linalg  # (linalg is built on this module)
        first_row = reshape(negative(divide(coefficients[1:], coefficients[0])), (1, -1))
        shift = np.eye(n - 2, n - 1, dtype=coefficients.dtype)
        found = linalg.eigvals(concatenate([first_row, shift]))
    else:
        found = np.zeros(0, np.result_type(coefficients.dtype, np.complex64))
    return concatenate([found, np.zeros(trailing, found.dtype)]) if trailing else found


def polyfit(x: ArrayLike, y: ArrayLike, deg: int, rcond: float | None = None,
            full: bool = False, w: ArrayLike | None = None, cov: bool | str = False) -> Any:
    """The least-squares polynomial of degree deg through (x, y) (y may hold several data
    sets as columns), as numpy's: coefficients highest power first; full=True also gives
    (residuals, rank, singular values, rcond), cov=True the coefficients' covariance.
    Differentiable in x, y and w (at constant rank). float32 stays float32."""
    order = int(deg) + 1
    if deg < 0 or len(shape(x)) != 1 or not shape(x)[0] or len(shape(y)) not in (1, 2) \
            or shape(x)[0] != shape(y)[0]:
        raise ShapeError(f"polyfit: deg must be non-negative, x 1-D and non-empty, y of x's "
                         f"length (1-D or 2-D); got deg={deg} and shapes {shape(x)} and "
                         f"{shape(y)}" + user_location())
    x, y, w = operand(x), operand(y), None if w is None else operand(w)
    dtype = promoted_dtype(INEXACT, (x, y) if w is None else (x, y, w))
    if not any_traced((x, y, w)):
        result = cast(Any, np.polyfit)(x, y, deg, rcond, full, w, cov)
        # float32 stays float32, as when traced
        return tuple(np.asarray(r, dtype) if isinstance(r, np.ndarray) and r.dtype.kind == "f"
                     else r for r in result) if isinstance(result, tuple) else np.asarray(
                         result, dtype)
    from funcgrad.numpy import linalg  # (linalg is built on this module)
    n = shape(x)[0]
    limit = n * float(np.finfo(dtype).eps) if rcond is None else rcond
    lhs = vander(astype(x, dtype), order)
    rhs = astype(y, dtype)
    if w is not None:
        if shape(w) != (n,):
            raise ShapeError(f"polyfit: w of shape {shape(w)} must be 1-D of x's length {n}"
                             + user_location())
        weights = astype(w, dtype)
        lhs = multiply(lhs, reshape(weights, (-1, 1)))
        rhs = multiply(rhs, reshape(weights, (-1, 1)) if len(shape(rhs)) == 2 else weights)
    # columns scaled to unit norm, as numpy, for a better conditioned problem
    scale = sqrt(_sum(multiply(lhs, lhs), axis=0))
    lhs = divide(lhs, scale)
    solution, residuals, rank, singular = linalg.lstsq(lhs, rhs, limit)
    coefficients = divide(solution, reshape(scale, (-1, 1)) if len(shape(solution)) == 2
                          else scale)
    if full:
        return coefficients, residuals, rank, singular, limit
    if not cov:
        return coefficients
    base = divide(linalg.inv(matmul(transpose(lhs), lhs)), outer(scale, scale))
    if cov == "unscaled":
        factor: ArrayLike = 1.0
    else:
        if n <= order:
            raise ValueError("polyfit: the number of data points must exceed deg + 1 to scale "
                             "the covariance matrix" + user_location())
        factor = divide(residuals, n - order)
    if len(shape(rhs)) == 1:
        return coefficients, multiply(base, factor)
    return coefficients, multiply(reshape(base, (*shape(base), 1)), factor)


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
    Row("vecdot", vecdot, ufunc=np.vecdot),
    Row("matvec", matvec, ufunc=np.matvec),
    Row("vecmat", vecmat, ufunc=np.vecmat),
    Row("cov", cov),
    Row("corrcoef", corrcoef),
    Row("vander", vander),
    Row("polyval", polyval),
    Row("polyfit", polyfit),
    Row("poly", poly),
    Row("roots", roots),
    Row("polyadd", polyadd),
    Row("polysub", polysub),
    Row("polymul", polymul),
    Row("polyder", polyder),
    Row("polyint", polyint),
])
