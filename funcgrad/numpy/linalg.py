"""`fnp.linalg`: numpy.linalg's functions, traceable and differentiable.

Signatures, defaults and batching (stacks of matrices over leading axes) are numpy's;
with no traced argument each function is numpy's own. Decompositions return named tuples
with numpy's names and fields (EighResult, SVDResult, ...). Under a transformation:

* eig and eigvals always return complex arrays (numpy makes them real when every
  eigenvalue is real, which a traced value's dtype cannot depend on); eigenvalues have
  gradients (JAX's complex convention), eigenvectors none (a clear error).
* cholesky, eigh, eigvalsh and the hermitian=True svd and pinv read one triangle of the
  matrix, as numpy's do, and so do their gradients (see funcgrad.primitives.linalg).
* lstsq returns its residuals whenever a has more rows than columns (numpy returns an
  empty array for rank-deficient a, which a traced shape cannot depend on); its rank is a
  0-d int array.
* norm's gradient at zero is JAX's: nan for the 2-norm and Frobenius norm (sqrt at 0),
  |x| counted with slope 1 at 0, and max(..., 0) for the norms numpy computes with
  initial=0 (ties shared, so a zero vector's inf-norm gradient is 1 / (2 n)).
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Sequence
from functools import cache
from typing import Any, Literal, NamedTuple, overload

import numpy as np
from numpy.typing import DTypeLike

from funcgrad.core import Array, ArrayLike, ShapeError, Tracer, user_location
from funcgrad.primitives import linalg as L
from funcgrad.numpy._table import (Row, any_traced, dtype_or_scalar, inexact_dtype,
                                   normalize_axes, register, shape)
from funcgrad.numpy.contractions import dot as _dot
from funcgrad.numpy.contractions import matmul as _matmul
from funcgrad.numpy.contractions import outer as _outer
from funcgrad.numpy.contractions import tensordot as _tensordot
from funcgrad.numpy.elementwise import (absolute, astype, conj, divide, isnan, logical_and,
                                        logical_not, maximum, multiply, negative, not_equal,
                                        real, sqrt, subtract, where)
from funcgrad.numpy.elementwise import power as _power
from funcgrad.numpy.indexing import getitem
from funcgrad.numpy.reductions import max as _max
from funcgrad.numpy.reductions import min as _min
from funcgrad.numpy.reductions import sum as _sum
from funcgrad.numpy.shapes import (broadcast_to, expand_dims, moveaxis, ravel, reshape, stack,
                                   swapaxes, transpose)

__all__ = [
    "LinAlgError", "norm", "vector_norm", "matrix_norm", "inv", "pinv", "solve", "lstsq",
    "det", "slogdet", "cholesky", "qr", "eigh", "eigvalsh", "eig", "eigvals", "svd",
    "svdvals", "matrix_power", "multi_dot", "tensorsolve", "tensorinv", "matrix_rank", "cond",
    "matrix_transpose", "outer", "vecdot", "matmul", "tensordot", "trace", "diagonal", "cross",
]

LinAlgError = np.linalg.LinAlgError

_npl: Any = np.linalg
"""numpy.linalg, for the untraced calls: their arguments are the user's, which numpy checks."""

Ord = float | Literal["fro", "f", "nuc"] | None


class EighResult(NamedTuple):
    """eigh's result: eigenvalues ascending, eigenvectors as columns."""

    eigenvalues: Array
    eigenvectors: Array


class EigResult(NamedTuple):
    """eig's result: eigenvalues and unit-norm eigenvectors as columns."""

    eigenvalues: Array
    eigenvectors: Array


class SVDResult(NamedTuple):
    """svd's result: a = U @ (S[..., None] * Vh), singular values S descending."""

    U: Array
    S: Array
    Vh: Array


class QRResult(NamedTuple):
    """qr's result: a = Q @ R."""

    Q: Array
    R: Array


class SlogdetResult(NamedTuple):
    """slogdet's result: det = sign * exp(logabsdet)."""

    sign: Array
    logabsdet: Array


class _Unset(enum.Enum):
    UNSET = "unset"  # pinv's rtol when not given (None means something else)


# ---------------------------------------------------------------------------- helpers


def _stack(name: str, argname: str, a: ArrayLike, square: bool = True) -> tuple[int, ...]:
    """a's shape, after checking it is a stack of (square) matrices."""
    s = shape(a)
    if len(s) < 2 or (square and s[-1] != s[-2]):
        kind = "square matrices (..., n, n)" if square else "matrices (..., m, n)"
        raise ShapeError(f"{name}: {argname} must be a stack of {kind}, got shape {s}"
                         + user_location())
    return s


def _float(*xs: ArrayLike) -> list[Any]:
    """The arguments in their common floating-point (or complex) dtype, as numpy.linalg
    computes (integers become float64)."""
    dtype = inexact_dtype(np.result_type(*(dtype_or_scalar(x) for x in xs)))
    return [astype(x, dtype) for x in xs]


def _real_dtype(x: Any) -> np.dtype[Any]:
    dtype: np.dtype[Any] = np.finfo(x.dtype).dtype
    return dtype


def _abs(x: Any) -> Array:
    """|x|; for real x with slope 1 at 0, as JAX's abs, so norms have JAX's gradient at 0."""
    return absolute(x) if x.dtype.kind == "c" else where(x >= 0, x, negative(x))


def _squared(x: Any) -> Array:
    """|x|^2 elementwise."""
    return real(multiply(conj(x), x)) if x.dtype.kind == "c" else multiply(x, x)


def _max0(x: Any, axis: int, keepdims: bool = False) -> Array:
    """max(x, axis) with numpy's initial=0 (an empty axis gives 0); at a tie with 0 the
    gradient is shared with it, as in JAX."""
    return maximum(_max(x, axis=axis, keepdims=keepdims), 0.0)


def _keep(r: Array, full: tuple[int, ...], axes: Sequence[int]) -> Array:
    """r with the reduced axes `axes` of shape `full` put back with length 1 (keepdims)."""
    return reshape(r, tuple(1 if i in axes else d for i, d in enumerate(full)))


# ---------------------------------------------------------------------------- norms


def _vector_norm(x: Any, ord: Any, axis: int, keepdims: bool) -> Array:
    if ord is None or ord == 2:
        return sqrt(_sum(_squared(x), axis=axis, keepdims=keepdims))
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord == np.inf:
        return _max0(_abs(x), axis, keepdims)
    if ord == -np.inf:
        return _min(_abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return _sum(astype(not_equal(x, 0), x.dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return _sum(_abs(x), axis=axis, keepdims=keepdims)
    return _power(_sum(_power(_abs(x), ord), axis=axis, keepdims=keepdims), 1.0 / ord)


def _matrix_norm(x: Any, ord: Any, row: int, col: int, keepdims: bool) -> Array:
    if row == col:
        raise ValueError("Duplicate axes given.")
    if ord in (2, -2, "nuc"):
        s = svdvals(moveaxis(x, (row, col), (-2, -1)))
        r = _max0(s, -1) if ord == 2 else _min(s, axis=-1) if ord == -2 else _sum(s, axis=-1)
    elif ord in (1, -1):  # the largest (smallest) column sum
        sums = _sum(_abs(x), axis=row)
        r = _max0(sums, col - (col > row)) if ord == 1 else _min(sums, axis=col - (col > row))
    elif ord in (np.inf, -np.inf):  # the largest (smallest) row sum
        sums = _sum(_abs(x), axis=col)
        r = _max0(sums, row - (row > col)) if ord > 0 else _min(sums, axis=row - (row > col))
    elif ord in (None, "fro", "f"):
        r = sqrt(_sum(_squared(x), axis=(row, col)))
    else:
        raise ValueError("Invalid norm order for matrices.")
    return _keep(r, x.shape, (row, col)) if keepdims else r


def norm(x: ArrayLike, ord: Ord = None, axis: int | tuple[int, ...] | None = None,
         keepdims: bool = False) -> Array:
    """Vector norm (one axis) or matrix norm (two axes) of x, with numpy's ord values."""
    if not isinstance(x, Tracer):
        return np.asarray(_npl.norm(x, ord, axis, keepdims))
    xt = _float(x)[0]
    nd = xt.ndim
    if axis is None:
        if ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1):
            r = sqrt(_sum(_squared(xt)))
            return reshape(r, (1,) * nd) if keepdims else r
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = [normalize_axes("norm", a, nd)[0] for a in axes]
    if len(axes) == 1:
        return _vector_norm(xt, ord, normalized[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(xt, ord, normalized[0], normalized[1], keepdims)
    raise ValueError("Improper number of dimensions to norm.")


def vector_norm(x: ArrayLike, /, *, axis: int | tuple[int, ...] | None = None,
                keepdims: bool = False, ord: float = 2) -> Array:
    """The vector norm over axis (several axes: over their elements together; None: all)."""
    if not isinstance(x, Tracer):
        return np.asarray(_npl.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord))
    xt = _float(x)[0]
    axes = normalize_axes("vector_norm", axis, xt.ndim)
    if axis is not None and len(axes) == 1:
        return _vector_norm(xt, ord, axes[0], keepdims)
    rest = [i for i in range(xt.ndim) if i not in axes]
    flat = reshape(transpose(xt, (*rest, *axes)), tuple(xt.shape[i] for i in rest) + (-1,))
    r = _vector_norm(flat, ord, -1, False)
    return _keep(r, xt.shape, axes) if keepdims else r


def matrix_norm(x: ArrayLike, /, *, keepdims: bool = False,
                ord: Ord = "fro") -> Array:
    """The matrix norm of each matrix of a stack (the last two axes)."""
    return norm(x, ord, (-2, -1), keepdims)


# ---------------------------------------------------------------------------- solves


def solve(a: ArrayLike, b: ArrayLike) -> Array:
    """x with a @ x = b; b is a vector (n,) or a stack of matrices (..., n, k)."""
    sa, sb = _stack("solve", "a", a), shape(b)
    n = sa[-1]
    if not sb or sb[-1 if len(sb) == 1 else -2] != n:
        raise ShapeError(f"solve: b must have shape ({n},) or (..., {n}, k) to fit a of "
                         f"shape {sa}, got {sb}" + user_location())
    try:
        batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ShapeError(f"solve: the batch axes of a {sa} and b {sb} do not broadcast"
                         + user_location()) from None
    if not any_traced((a, b)):
        return np.asarray(_npl.solve(a, b))
    aa, bb = _float(a, b)
    if len(sb) == 1:
        column = broadcast_to(reshape(bb, (n, 1)), sa[:-1] + (1,))
        return L.solve_p.bind(aa, column)[..., 0]
    return L.solve_p.bind(broadcast_to(aa, batch + sa[-2:]), broadcast_to(bb, batch + sb[-2:]))


def inv(a: ArrayLike) -> Array:
    """The inverse of each matrix."""
    s = _stack("inv", "a", a)
    if not isinstance(a, Tracer):
        return np.asarray(_npl.inv(a))
    (aa,) = _float(a)
    return L.solve_p.bind(aa, np.broadcast_to(np.eye(s[-1], dtype=aa.dtype), s))


def _rcond_array(rcond: Any, batch: tuple[int, ...]) -> Any:
    return np.broadcast_to(np.asarray(rcond, np.float64), batch)


def pinv(a: ArrayLike, rcond: ArrayLike | None = None, hermitian: bool = False, *,
         rtol: ArrayLike | None | Literal[_Unset.UNSET] = _Unset.UNSET) -> Array:
    """The Moore-Penrose pseudo-inverse: singular values at most rcond (or rtol) times the
    largest count as zero."""
    s = _stack("pinv", "a", a, square=hermitian)
    if not isinstance(a, Tracer):
        if rtol is _Unset.UNSET:
            return np.asarray(_npl.pinv(a, rcond, hermitian))
        return np.asarray(_npl.pinv(a, rcond, hermitian, rtol=rtol))
    (aa,) = _float(a)
    if rcond is None:
        rcond = (1e-15 if rtol is _Unset.UNSET else
                 max(s[-2:]) * np.finfo(aa.dtype).eps if rtol is None else rtol)
    elif rtol is not _Unset.UNSET:
        raise ValueError("`rtol` and `rcond` can't be both set.")
    return L.pinv_p.bind(aa, _rcond_array(rcond, s[:-2]), hermitian=bool(hermitian))


def lstsq(a: ArrayLike, b: ArrayLike, rcond: float | None = None
          ) -> tuple[Array, Array, Any, Array]:
    """Least-squares solution of a @ x = b: (x, residuals, rank, singular values)."""
    sa, sb = shape(a), shape(b)
    if len(sa) != 2 or len(sb) not in (1, 2) or sa[0] != sb[0]:
        raise ShapeError(f"lstsq: a must be (m, n) and b (m,) or (m, k), got shapes {sa} and "
                         f"{sb}" + user_location())
    if not any_traced((a, b)):
        x, residuals, rank, sv = _npl.lstsq(a, b, rcond)
        return np.asarray(x), np.asarray(residuals), rank, np.asarray(sv)
    aa, bb = _float(a, b)
    m, n = sa
    # numpy computes in double precision, and LAPACK reads a negative rcond as its epsilon
    eps = float(np.finfo(np.float64).eps)
    cutoff = eps * max(m, n) if rcond is None else eps if rcond < 0 else rcond
    x = _matmul(pinv(aa, cutoff), bb)
    s = svdvals(aa)
    rank = astype(_sum(astype(s > s[0] * cutoff, np.int32)), np.int32)
    if m > n:
        r = subtract(bb, _matmul(aa, x))
        residuals = reshape(_sum(_squared(r), axis=0), (-1,))
    else:
        residuals = np.zeros((0,), _real_dtype(aa))
    return x, residuals, rank, s


def tensorsolve(a: ArrayLike, b: ArrayLike, axes: Sequence[int] | None = None) -> Array:
    """x with tensordot(a, x, x.ndim) = b; `axes` of a are moved to the end first."""
    sa, sb = shape(a), shape(b)
    order = list(range(len(sa)))
    if axes is not None:
        moved = [normalize_axes("tensorsolve", k, len(sa))[0] for k in axes]
        order = [k for k in order if k not in moved] + moved
    x_shape = tuple(sa[k] for k in order[len(sb):])
    size = math.prod(x_shape)
    if math.prod(sa) != size * size or math.prod(sb) != size:
        raise ShapeError(f"tensorsolve: a of shape {sa} (axes {axes} moved last) does not fit b "
                         f"of shape {sb}: a must be b.shape + Q with prod(Q) == prod(b.shape)"
                         + user_location())
    if not any_traced((a, b)):
        return np.asarray(_npl.tensorsolve(a, b, axes))
    return reshape(solve(reshape(transpose(a, order), (size, size)), ravel(b)), x_shape)


def tensorinv(a: ArrayLike, ind: int = 2) -> Array:
    """The inverse of a for tensordot over its first `ind` axes."""
    if ind <= 0:
        raise ValueError(f"tensorinv: ind must be a positive integer, got {ind}")
    s = shape(a)
    size = math.prod(s[ind:])
    if math.prod(s[:ind]) != size:
        raise ShapeError(f"tensorinv: a of shape {s} is not square over its first {ind} axes: "
                         f"prod(a.shape[:ind]) != prod(a.shape[ind:])" + user_location())
    if not isinstance(a, Tracer):
        return np.asarray(_npl.tensorinv(a, ind))
    return reshape(inv(reshape(a, (size, size))), s[ind:] + s[:ind])


# ---------------------------------------------------------------------------- determinants


def det(a: ArrayLike) -> Array:
    """The determinant of each matrix (its gradient, the cofactor matrix, also where a is
    singular)."""
    _stack("det", "a", a)
    if not isinstance(a, Tracer):
        return np.asarray(_npl.det(a))
    return L.det_p.bind(*_float(a))


def slogdet(a: ArrayLike) -> SlogdetResult:
    """(sign, log|det|) of each matrix; only logabsdet has a gradient."""
    _stack("slogdet", "a", a)
    if not isinstance(a, Tracer):
        sign, logabsdet = _npl.slogdet(a)
        return SlogdetResult(np.asarray(sign), np.asarray(logabsdet))
    return SlogdetResult(*L.slogdet_p.bind_multi(*_float(a)))


# ---------------------------------------------------------------------------- decompositions


def cholesky(a: ArrayLike, /, *, upper: bool = False) -> Array:
    """The Cholesky factor L (a = L @ L.T) of each matrix, or upper: U = L.T; it reads only
    that triangle of a."""
    _stack("cholesky", "a", a)
    if not isinstance(a, Tracer):
        return np.asarray(_npl.cholesky(a, upper=upper))
    return L.cholesky_p.bind(*_float(a), upper=bool(upper))


@overload
def qr(a: ArrayLike, mode: Literal["reduced", "complete"] = "reduced") -> QRResult: ...
@overload
def qr(a: ArrayLike, mode: Literal["r"]) -> Array: ...
@overload
def qr(a: ArrayLike, mode: str) -> QRResult | Array: ...


def qr(a: ArrayLike, mode: str = "reduced") -> QRResult | Array:
    """QR decomposition of each matrix; mode 'reduced', 'complete' or 'r' (R alone)."""
    s = _stack("qr", "a", a, square=False)
    if not isinstance(a, Tracer):
        out = _npl.qr(a, mode)
        return QRResult(*out) if isinstance(out, tuple) and mode != "raw" else out
    if mode not in ("reduced", "complete", "r"):
        if mode in ("raw", "full", "f", "economic", "e"):
            raise NotImplementedError(f"qr with mode={mode!r} under a transformation; use "
                                      "'reduced', 'complete' or 'r'" + user_location())
        raise ValueError(f"Unrecognized mode '{mode}'")
    q, r = L.qr_p.bind_multi(*_float(a), complete=mode == "complete" and s[-2] > s[-1])
    return r if mode == "r" else QRResult(q, r)


def _uplo(name: str, UPLO: str) -> bool:
    if UPLO.upper() not in ("L", "U"):
        raise ValueError(f"{name}: UPLO argument must be 'L' or 'U', got {UPLO!r}")
    return UPLO.upper() == "L"


def eigh(a: ArrayLike, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices, read from the UPLO
    triangle."""
    lower = _uplo("eigh", UPLO)
    _stack("eigh", "a", a)
    if not isinstance(a, Tracer):
        return EighResult(*_npl.eigh(a, UPLO))
    return EighResult(*L.eigh_p.bind_multi(*_float(a), lower=lower))


def eigvalsh(a: ArrayLike, UPLO: str = "L") -> Array:
    """Eigenvalues (ascending) of symmetric matrices, read from the UPLO triangle."""
    lower = _uplo("eigvalsh", UPLO)
    _stack("eigvalsh", "a", a)
    if not isinstance(a, Tracer):
        return np.asarray(_npl.eigvalsh(a, UPLO))
    return L.eigh_p.bind_multi(*_float(a), lower=lower)[0]


def eig(a: ArrayLike) -> EigResult:
    """Eigenvalues and eigenvectors of general matrices (traced: complex, with gradients for
    the eigenvalues only)."""
    _stack("eig", "a", a)
    if not isinstance(a, Tracer):
        return EigResult(*_npl.eig(a))
    w, v = L.eig_p.bind_multi(*_float(a))
    return EigResult(w, L.eig_vectors_p.bind(v))


def eigvals(a: ArrayLike) -> Array:
    """Eigenvalues of general matrices (traced: always complex)."""
    _stack("eigvals", "a", a)
    if not isinstance(a, Tracer):
        return np.asarray(_npl.eigvals(a))
    return L.eig_p.bind_multi(*_float(a))[0]


@overload
def svd(a: ArrayLike, full_matrices: bool = True, compute_uv: Literal[True] = True,
        hermitian: bool = False) -> SVDResult: ...
@overload
def svd(a: ArrayLike, full_matrices: bool, compute_uv: Literal[False],
        hermitian: bool = False) -> Array: ...
@overload
def svd(a: ArrayLike, full_matrices: bool = True, *, compute_uv: Literal[False],
        hermitian: bool = False) -> Array: ...


def svd(a: ArrayLike, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> SVDResult | Array:
    """Singular value decomposition a = U @ (S[..., None] * Vh) of each matrix, or the
    singular values alone (compute_uv=False)."""
    s = _stack("svd", "a", a, square=hermitian)
    if not isinstance(a, Tracer):
        out = _npl.svd(a, full_matrices, compute_uv, hermitian)
        return SVDResult(*out) if compute_uv else out
    if not compute_uv:
        return L.svdvals_p.bind(*_float(a), hermitian=bool(hermitian))
    # Full and reduced are the same for square matrices: one parameter value for both.
    full = bool(full_matrices) and s[-1] != s[-2]
    return SVDResult(*L.svd_p.bind_multi(*_float(a), full_matrices=full,
                                         hermitian=bool(hermitian)))


def svdvals(x: ArrayLike, /) -> Array:
    """The singular values of each matrix, descending."""
    return svd(x, compute_uv=False)


# ---------------------------------------------------------------------------- products


def matrix_power(a: ArrayLike, n: int) -> Array:
    """a raised to the integer power n (negative: of inv(a)) by repeated squaring."""
    s = _stack("matrix_power", "a", a)
    try:
        n = operator.index(n)
    except TypeError as e:
        raise TypeError("matrix_power: the exponent must be an integer") from e
    if not isinstance(a, Tracer):
        return np.asarray(_npl.matrix_power(a, n))
    if n == 0:  # constant: no gradient
        identity = np.empty(s, a.dtype)
        identity[...] = np.eye(s[-1])
        return identity
    base: Array = inv(a) if n < 0 else a
    n = abs(n)
    result: Array | None = None
    while True:
        if n % 2:
            result = base if result is None else _matmul(result, base)
        n //= 2
        if not n:
            assert result is not None
            return result
        base = _matmul(base, base)


def _chain(arrays: Sequence[ArrayLike]) -> Array:
    """The product of matrices in the order with the fewest scalar multiplications."""
    dims = [shape(x)[0] for x in arrays] + [shape(arrays[-1])[1]]

    @cache
    def best(i: int, j: int) -> tuple[int, int]:
        """(cost, split) of the product of arrays i..j."""
        return min((best(i, k)[0] + best(k + 1, j)[0] + dims[i] * dims[k + 1] * dims[j + 1], k)
                   for k in range(i, j)) if i < j else (0, i)

    def build(i: int, j: int) -> Array:
        if i == j:
            x = arrays[i]
            return x if isinstance(x, Tracer) else np.asarray(x)
        k = best(i, j)[1]
        return _matmul(build(i, k), build(k + 1, j))

    return build(0, len(arrays) - 1)


def multi_dot(arrays: Sequence[ArrayLike], *, out: np.ndarray[Any, Any] | None = None) -> Array:
    """The product of several matrices (first and last may be vectors), in the cheapest order."""
    if len(arrays) < 2:
        raise ValueError("multi_dot: Expecting at least two arrays.")
    shapes = [shape(x) for x in arrays]
    first, last = shapes[0], shapes[-1]
    # as matrices: a first vector is a row, a last one a column
    chained = [(1, *first) if len(first) == 1 else first, *shapes[1:-1],
               (*last, 1) if len(last) == 1 else last]
    if len(arrays) > 2 and (any(len(s) != 2 for s in chained) or any(
            p[1] != q[0] for p, q in zip(chained, chained[1:]))):
        raise ShapeError(f"multi_dot: the arrays must be matrices (vectors at the ends) that "
                         f"chain, got shapes {shapes}" + user_location())
    if not any_traced(arrays):
        return np.asarray(_npl.multi_dot(arrays, out=out))
    if out is not None:
        raise TypeError("multi_dot: out= cannot take a traced result" + user_location())
    if len(arrays) == 2:
        return _dot(arrays[0], arrays[1])
    mats = list(arrays)
    if len(first) == 1:
        mats[0] = reshape(mats[0], (1, -1))
    if len(last) == 1:
        mats[-1] = reshape(mats[-1], (-1, 1))
    product = _chain(mats)
    if len(first) == 1 and len(last) == 1:
        return reshape(product, ())
    return ravel(product) if len(first) == 1 or len(last) == 1 else product


# ---------------------------------------------------------------------------- rank and condition


def matrix_rank(A: ArrayLike, tol: ArrayLike | None = None, hermitian: bool = False, *,
                rtol: ArrayLike | None = None) -> Array:
    """The number of singular values above tol (default: rtol times the largest); an int,
    not differentiated."""
    if not isinstance(A, Tracer):
        return np.asarray(_npl.matrix_rank(A, tol, hermitian, rtol=rtol))
    if rtol is not None and tol is not None:
        raise ValueError("`tol` and `rtol` can't be both set.")
    if A.ndim < 2:
        return _max(astype(not_equal(A, 0), np.intp))
    s = svd(A, compute_uv=False, hermitian=hermitian)
    if tol is None:
        scale = max(A.shape[-2:]) * np.finfo(s.dtype).eps if rtol is None else expand_dims(
            rtol, -1)
        cut = multiply(_max0(s, -1, keepdims=True), scale)
    else:
        cut = expand_dims(tol, -1)
    return _sum(astype(s > cut, np.intp), axis=-1)


def cond(x: ArrayLike, p: Ord = None) -> Array:
    """The condition number of each matrix in the norm p (None: the 2-norm, from the
    singular values)."""
    s = _stack("cond", "x", x, square=p not in (None, 2, -2))
    if not isinstance(x, Tracer):
        return np.asarray(_npl.cond(x, p))
    if math.prod(s[-2:]) == 0:
        raise LinAlgError("cond is not defined on empty arrays")
    (xx,) = _float(x)
    if p in (None, 2, -2):
        sv = svdvals(xx)
        big, small = sv[..., 0], sv[..., -1]
        r = divide(small, big) if p == -2 else divide(big, small)
    else:
        r = multiply(norm(xx, p, (-2, -1)), norm(inv(xx), p, (-2, -1)))
    # numpy: an infinite condition number where r is nan but x has no nan
    x_nan = _max(isnan(xx), axis=(-2, -1))
    return where(logical_and(isnan(r), logical_not(x_nan)), np.inf, r)


# ---------------------------------------------------------------------------- numpy 2 additions


def matrix_transpose(x: ArrayLike, /) -> Array:
    """Transpose each matrix of a stack (the last two axes)."""
    _stack("matrix_transpose", "x", x, square=False)
    if not isinstance(x, Tracer):
        return np.asarray(_npl.matrix_transpose(x))
    return swapaxes(x, -1, -2)


def outer(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """The outer product of two vectors (1-D only, unlike numpy.outer)."""
    if len(shape(x1)) != 1 or len(shape(x2)) != 1:
        raise ShapeError(f"linalg.outer: x1 and x2 must be 1-D, got shapes {shape(x1)} and "
                         f"{shape(x2)}" + user_location())
    if not any_traced((x1, x2)):
        return np.asarray(_npl.outer(x1, x2))
    return _outer(x1, x2)


def vecdot(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1) -> Array:
    """sum(conj(x1) * x2) over axis, broadcasting the other axes."""
    s1, s2 = shape(x1), shape(x2)
    a1 = normalize_axes("vecdot", axis, len(s1))[0]
    a2 = normalize_axes("vecdot", axis, len(s2))[0]
    if s1[a1] != s2[a2]:
        raise ShapeError(f"vecdot: x1 {s1} and x2 {s2} differ in length along axis {axis}"
                         + user_location())
    if not any_traced((x1, x2)):
        return np.asarray(_npl.vecdot(x1, x2, axis=axis))
    return _sum(multiply(conj(moveaxis(x1, a1, -1)), moveaxis(x2, a2, -1)), axis=-1)


def matmul(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """The matrix product, as numpy.matmul."""
    return _matmul(x1, x2)


def tensordot(x1: ArrayLike, x2: ArrayLike, /, *,
              axes: int | tuple[Sequence[int], Sequence[int]] = 2) -> Array:
    """Sum of products over the given axes, as numpy.tensordot."""
    return _tensordot(x1, x2, axes)


def diagonal(x: ArrayLike, /, *, offset: int = 0) -> Array:
    """The diagonal (offset > 0: above it) of each matrix of a stack."""
    m, n = _stack("diagonal", "x", x, square=False)[-2:]
    if not isinstance(x, Tracer):
        return np.asarray(_npl.diagonal(x, offset=offset))
    start = np.arange(max(0, min(m + min(offset, 0), n - max(offset, 0))))
    return getitem(x, (Ellipsis, start - min(offset, 0), start + max(offset, 0)))


def trace(x: ArrayLike, /, *, offset: int = 0, dtype: DTypeLike | None = None) -> Array:
    """The sum of the diagonal (offset > 0: above it) of each matrix of a stack."""
    _stack("trace", "x", x, square=False)
    if not isinstance(x, Tracer):
        return np.asarray(_npl.trace(x, offset=offset, dtype=dtype))
    d = diagonal(x, offset=offset)
    return _sum(d if dtype is None else astype(d, dtype), axis=-1)


def cross(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1) -> Array:
    """The cross product of 3-vectors along axis, broadcasting the other axes."""
    s1, s2 = shape(x1), shape(x2)
    a1 = normalize_axes("cross", axis, len(s1))[0]
    a2 = normalize_axes("cross", axis, len(s2))[0]
    if s1[a1] != 3 or s2[a2] != 3:
        raise ShapeError(f"cross: x1 {s1} and x2 {s2} must both be 3-vectors along axis "
                         f"{axis}" + user_location())
    if not any_traced((x1, x2)):
        return np.asarray(_npl.cross(x1, x2, axis=axis))
    u, v = moveaxis(x1, a1, -1), moveaxis(x2, a2, -1)

    def part(i: int, j: int) -> Array:
        return subtract(multiply(u[..., i], v[..., j]), multiply(u[..., j], v[..., i]))

    c = stack([part(1, 2), part(2, 0), part(0, 1)], axis=-1)
    return moveaxis(c, -1, normalize_axes("cross", axis, c.ndim)[0])


register([Row(f"linalg.{name}", globals()[name]) for name in __all__ if name != "LinAlgError"])
