"""Linear algebra primitives: decompositions, solves and inverses, batched over leading axes
as numpy's linalg is, each with its VJP and batching rules.

Every operand is a stack of matrices (..., m, n) and the primitives call numpy.linalg, so
values are numpy's. The VJP rules are the standard ones, written with funcgrad.numpy so
they can be differentiated again:

* solve: b_bar = solve(a^T, g), a_bar = -b_bar x^T (transposes, not conjugates: right
  for complex values in JAX's convention too).
* det: g * cofactor(a). The cofactor matrix is its own primitive, computed from an SVD so
  it is exact at singular matrices too (as JAX's det gradient is); its VJP is the
  derivative of the adjugate in the SVD's basis, so det has exact Hessians everywhere.
* slogdet: g * inv(a)^T for logabsdet; the sign has no gradient.
* cholesky, eigh, svd(hermitian=True), pinv(hermitian=True) read one triangle of `a`, as
  numpy's do; their gradients are those of what they compute, so they are nonzero in that
  triangle only: the symmetric formula S folded as S + S^T below (or above) the diagonal.
  For a symmetric matrix built as (x + x^T) / 2 the gradient with respect to x is then
  the symmetric one JAX and PyTorch return.
* eigh: v (diag(w_bar) + F * (v^T v_bar)) v^T with F_ij = 1 / (w_j - w_i); svd and qr:
  the formulas of Townsend (2016) and Walter & Lehmann (2018); cholesky:
  L^-T phi(L^T L_bar) L^-1 (Murray 2016); pinv: the derivative of Golub & Pereyra (1973),
  right wherever the rank does not change.
* eig: eigenvalues of real or complex matrices, in JAX's complex convention:
  a_bar = v^-T diag(w_bar) v^T (its real part for a real a). The eigenvectors' rule is
  the one for eigenvectors of any scale, v^-T (F * (v^T v_bar)) v^T: right for functions
  that do not depend on how each eigenvector is scaled, such as the eigenvalues' own
  rule, which needs it for second derivatives. funcgrad.numpy.linalg.eig refuses
  gradients through the (unit-norm) eigenvectors it returns.

Where two eigenvalues or singular values are equal, F is infinite and the gradient of
eigenvectors or singular vectors is inf or nan, as in JAX. An output that got no
cotangent at all (a concrete zero array: JAX's symbolic zero) contributes nothing, so the
eigenvalues alone (eigvalsh, svdvals) have finite gradients there, as in JAX.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core import Primitive, ShapedArray, ShapeError, Tracer, user_location
from funcgrad.primitives.base import Aval, describe, move_to_front


# ---------------------------------------------------------------------------- helpers


def _mT(x: Any) -> Any:
    """The transpose of each matrix of a stack."""
    return fnp.swapaxes(x, -1, -2)


def _eye(n: int, dtype: Any) -> Any:
    return np.eye(n, dtype=dtype)


def _diag_embed(v: Any) -> Any:
    """The diagonal matrices with diagonals v (..., n)."""
    n = v.shape[-1]
    return fnp.where(_eye(n, bool), fnp.expand_dims(v, -1), 0)


def _diagonal(m: Any) -> Any:
    """The diagonals of a stack of square matrices."""
    n = m.shape[-1]
    return fnp.sum(fnp.where(_eye(n, bool), m, 0), axis=-1)


def _reciprocal_gaps(w: Any, square: bool = False) -> Any:
    """F_ij = 1 / (w_j - w_i) (of squares: 1 / (w_j^2 - w_i^2)), 0 on the diagonal."""
    n = w.shape[-1]
    eye = _eye(n, w.dtype)
    if square:
        w = w * w
    return 1 / (fnp.expand_dims(w, -2) - fnp.expand_dims(w, -1) + eye) - eye


def _unused(ct: Any) -> bool:
    """Whether an output's cotangent is a concrete array of zeros: the output got none (JAX's
    symbolic zero), so its terms are left out rather than multiplied by an infinite F."""
    return not isinstance(ct, Tracer) and not np.any(ct)


def _fold(s: Any, lower: bool) -> Any:
    """The gradient with respect to a matrix of which only one triangle is read (as the
    symmetric matrix it stands for), from the gradient s with respect to that symmetric
    matrix: s + s^T in the triangle, s on the diagonal, zero in the other triangle."""
    n = s.shape[-1]
    triangle = np.tri(n, k=-1, dtype=bool) if lower else np.tri(n, k=-1, dtype=bool).T
    return fnp.where(triangle, s + _mT(s), fnp.where(_eye(n, bool), s, 0))


def _check_stack(name: str, a: Aval, square: bool) -> None:
    if len(a.shape) < 2 or (square and a.shape[-1] != a.shape[-2]):
        kind = "square matrices" if square else "matrices"
        raise ShapeError(f"{name}: the operand must be a stack of {kind}, got {describe(a)}"
                         + user_location())
    if np.dtype(a.dtype).kind not in "fc":
        raise TypeError(f"{name}: the operand must be floating point or complex, got "
                        f"{describe(a)}")


def _real_dtype(dtype: Any) -> np.dtype[Any]:
    real: np.dtype[Any] = np.finfo(np.dtype(dtype)).dtype
    return real


def _batch_stacked(prim: Primitive, size: int, args: Sequence[Any], batched: Sequence[bool],
                   **params: Any) -> Any:
    """Every operand is a stack over the same leading axes: the vmapped axis is one more."""
    stacked = [move_to_front(a, size, b) for a, b in zip(args, batched)]
    if prim.multiple_results:
        return prim.bind_multi(*stacked, **params)
    return prim.bind(*stacked, **params)


# ---------------------------------------------------------------------------- solve


def _solve_shape(a: Aval, b: Aval) -> ShapedArray:
    _check_stack("solve", a, square=True)
    if b.shape[:-2] != a.shape[:-2] or len(b.shape) != len(a.shape) or (
            b.shape[-2] != a.shape[-1]):
        raise ShapeError(f"solve: b must be (..., {a.shape[-1]}, k) with a's batch axes, got "
                         f"{describe(a, b)}" + user_location())
    if a.dtype != b.dtype:
        raise TypeError(f"solve: dtypes differ: {describe(a, b)}")
    return ShapedArray(tuple(b.shape), np.dtype(b.dtype))


def _solve_rule_a(g: Any, x: Any, a: Any, b: Any) -> Any:
    return -fnp.matmul(fnp.linalg.solve(_mT(a), g), _mT(x))


def _solve_rule_b(g: Any, x: Any, a: Any, b: Any) -> Any:
    return fnp.linalg.solve(_mT(a), g)


solve_p = Primitive("solve", np.linalg.solve, _solve_shape, (_solve_rule_a, _solve_rule_b),
                    _batch_stacked, complex_rules=True)
"""solve(a (..., n, n), b (..., n, k)) = a^-1 b."""


# ---------------------------------------------------------------------------- determinants


def _det_shape(a: Aval) -> ShapedArray:
    _check_stack("det", a, square=True)
    return ShapedArray(tuple(a.shape[:-2]), np.dtype(a.dtype))


def _all_but_one(s: Any) -> Any:
    """p_i = the product of all s_k but s_i (exact where some s_k are zero)."""
    n = s.shape[-1]
    return fnp.prod(fnp.where(_eye(n, bool), 1, fnp.expand_dims(s, -2)), axis=-1)


def _all_but_two(s: Any) -> Any:
    """q_ij = the product of all s_k but s_i and s_j, for i != j (exact with zeros)."""
    zero = s == 0
    safe = fnp.where(zero, 1, s)
    p = _all_but_one(s)
    by_j = fnp.expand_dims(p, -1) / fnp.expand_dims(safe, -2)  # right where s_j != 0
    by_i = fnp.expand_dims(p, -2) / fnp.expand_dims(safe, -1)  # right where s_i != 0
    # s_i = s_j = 0: the other values' product if they are the only zeros, else 0
    zeros = fnp.sum(fnp.astype(zero, s.dtype), axis=-1)
    rest = fnp.where(zeros == 2, fnp.prod(safe, axis=-1), 0)
    return fnp.where(fnp.expand_dims(zero, -2),
                     fnp.where(fnp.expand_dims(zero, -1), rest[..., None, None], by_i), by_j)


def _orientation(u: Any, vh: Any) -> Any:
    """det(u) det(vh) for orthogonal u and vh: +-1, with no gradient (it is constant)."""
    return fnp.sign(fnp.linalg.det(u) * fnp.linalg.det(vh))[..., None, None]


def _cofactor_impl(a: Any) -> Any:
    # a = u diag(s) vh gives cofactor(a) = det(u) det(vh) u diag(p) vh, p_i = prod_{k!=i} s_k.
    u, s, vh = np.linalg.svd(a)
    return _orientation(u, vh) * np.matmul(u * _all_but_one(s)[..., None, :], vh)


def _cofactor_rule(g: Any, cof: Any, a: Any) -> Any:
    # In the SVD's basis, h = u^T da vh^T, the cofactor of diag(s) changes by
    # d cof_ii = sum_{k!=i} h_kk q_ik and d cof_ij = -h_ji q_ij (i != j); this is its transpose.
    u, s, vh = fnp.linalg.svd(a, full_matrices=False)
    n = a.shape[-1]
    eye = _eye(n, bool)
    gs = _orientation(u, vh) * fnp.matmul(fnp.matmul(_mT(u), g), _mT(vh))
    q = fnp.where(eye, 0, _all_but_two(s))
    on_diagonal = fnp.matmul(q, fnp.expand_dims(_diagonal(gs), -1))[..., 0]
    h = fnp.where(eye, fnp.expand_dims(on_diagonal, -1), -_mT(gs * q))
    return fnp.matmul(fnp.matmul(u, h), vh)


cofactor_p = Primitive(
    "cofactor", _cofactor_impl, lambda a: ShapedArray(tuple(a.shape), np.dtype(a.dtype)),
    (_cofactor_rule,), _batch_stacked)
"""The cofactor matrix det(a) a^-T, also of singular matrices: the gradient of det."""

det_p = Primitive("det", np.linalg.det, _det_shape,
                  (lambda g, d, a: g[..., None, None] * cofactor_p.bind(a),), _batch_stacked)


def _slogdet_shape(a: Aval) -> tuple[ShapedArray, ShapedArray]:
    out = _det_shape(a)
    return out, ShapedArray(out.shape, _real_dtype(a.dtype))


def _slogdet_rule(cts: Any, outs: Any, a: Any) -> Any:
    return cts[1][..., None, None] * _mT(fnp.linalg.inv(a))


slogdet_p = Primitive("slogdet", lambda a: tuple(np.linalg.slogdet(a)), _slogdet_shape,
                      (_slogdet_rule,), _batch_stacked, multiple_results=True)
"""(sign, log|det|) of each matrix."""


# ---------------------------------------------------------------------------- cholesky


def _cholesky_shape(a: Aval, *, upper: bool) -> ShapedArray:
    _check_stack("cholesky", a, square=True)
    return ShapedArray(tuple(a.shape), np.dtype(a.dtype))


def _cholesky_rule(g: Any, c: Any, a: Any, *, upper: bool) -> Any:
    # With a = l l^T: s = l^-T phi(l^T l_bar) l^-1, phi = the lower triangle, diagonal halved.
    l, l_bar = (_mT(c), _mT(g)) if upper else (c, g)
    n = a.shape[-1]
    p = fnp.matmul(_mT(l), l_bar)
    phi = fnp.where(np.tri(n, k=-1, dtype=bool), p, fnp.where(_eye(n, bool), p * 0.5, 0))
    left = fnp.linalg.solve(_mT(l), phi)  # l^-T phi
    s = _mT(fnp.linalg.solve(_mT(l), _mT(left)))  # (l^-T phi) l^-1
    return _fold(s, lower=not upper)


cholesky_p = Primitive("cholesky", lambda a, *, upper: np.linalg.cholesky(a, upper=upper),
                       _cholesky_shape, (_cholesky_rule,), _batch_stacked)
"""The Cholesky factor of each matrix (lower, or upper with upper=True), from one triangle."""


# ---------------------------------------------------------------------------- eigh


def _eigh_shape(a: Aval, *, lower: bool) -> tuple[ShapedArray, ShapedArray]:
    _check_stack("eigh", a, square=True)
    return (ShapedArray(tuple(a.shape[:-1]), _real_dtype(a.dtype)),
            ShapedArray(tuple(a.shape), np.dtype(a.dtype)))


def _eigh_rule(cts: Any, outs: Any, a: Any, *, lower: bool) -> Any:
    w_bar, v_bar = cts
    w, v = outs
    inner = _diag_embed(w_bar)
    if not _unused(v_bar):
        inner = inner + _reciprocal_gaps(w) * fnp.matmul(_mT(v), v_bar)
    return _fold(fnp.matmul(fnp.matmul(v, inner), _mT(v)), lower)


eigh_p = Primitive("eigh", lambda a, *, lower: tuple(np.linalg.eigh(a, "L" if lower else "U")),
                   _eigh_shape, (_eigh_rule,), _batch_stacked, multiple_results=True)
"""(eigenvalues ascending, eigenvectors as columns) of symmetric matrices, from one
triangle (lower=True: the lower one)."""


# ---------------------------------------------------------------------------- svd


def _svd_shape(a: Aval, *, full_matrices: bool, hermitian: bool
               ) -> tuple[ShapedArray, ShapedArray, ShapedArray]:
    _check_stack("svd", a, square=hermitian)
    *batch, m, n = a.shape
    k = min(m, n)
    rows, cols = (m, n) if full_matrices else (k, k)
    dtype = np.dtype(a.dtype)
    return (ShapedArray((*batch, m, rows), dtype), ShapedArray((*batch, k), _real_dtype(dtype)),
            ShapedArray((*batch, cols, n), dtype))


def _svd_rule(cts: Any, outs: Any, a: Any, *, full_matrices: bool, hermitian: bool) -> Any:
    u_bar, s_bar, vh_bar = cts
    u, s, vh = outs
    m, n = a.shape[-2:]
    k = min(m, n)
    if full_matrices and m != n:
        if not (_unused(u_bar) and _unused(vh_bar)):
            raise NotImplementedError(
                "the gradient of svd's singular vectors with full_matrices=True for a "
                f"non-square matrix {tuple(a.shape)} is not defined (the extra columns are "
                "any orthonormal completion); use full_matrices=False" + user_location())
        return _svdvals_rule(s_bar, s, a, hermitian=hermitian)
    inner = _diag_embed(s_bar)
    out_of_span: Any = 0
    if not _unused(u_bar):
        j = _reciprocal_gaps(s, square=True) * fnp.matmul(_mT(u), u_bar)
        inner = inner + (j + _mT(j)) * fnp.expand_dims(s, -2)
        if m > k:  # the part of u_bar outside the span of u
            rest = u_bar - fnp.matmul(u, fnp.matmul(_mT(u), u_bar))
            out_of_span = fnp.matmul(rest / fnp.expand_dims(s, -2), vh)
    if not _unused(vh_bar):
        kk = _reciprocal_gaps(s, square=True) * fnp.matmul(vh, _mT(vh_bar))
        inner = inner + fnp.expand_dims(s, -1) * (kk + _mT(kk))
        if n > k:
            rest = vh_bar - fnp.matmul(fnp.matmul(vh_bar, _mT(vh)), vh)
            out_of_span = out_of_span + fnp.matmul(u, rest / fnp.expand_dims(s, -1))
    a_bar = fnp.matmul(fnp.matmul(u, inner), vh) + out_of_span
    return _fold(a_bar, lower=True) if hermitian else a_bar


svd_p = Primitive(
    "svd", lambda a, *, full_matrices, hermitian: tuple(
        np.linalg.svd(a, full_matrices=full_matrices, hermitian=hermitian)),
    _svd_shape, (_svd_rule,), _batch_stacked, multiple_results=True)
"""(u, s, vh) with singular values descending; hermitian=True: from the lower triangle
through eigh, as numpy."""


def _svdvals_rule(g: Any, s: Any, a: Any, *, hermitian: bool) -> Any:
    # u diag(g) vh, with the reduced factors as outputs of their own (differentiable) equation
    u, _, vh = svd_p.bind_multi(a, full_matrices=False, hermitian=hermitian)
    a_bar = fnp.matmul(u * fnp.expand_dims(g, -2), vh)
    return _fold(a_bar, lower=True) if hermitian else a_bar


svdvals_p = Primitive(
    "svdvals", lambda a, *, hermitian: np.linalg.svd(a, compute_uv=False, hermitian=hermitian),
    lambda a, *, hermitian: _svd_shape(a, full_matrices=False, hermitian=hermitian)[1],
    (_svdvals_rule,), _batch_stacked)
"""The singular values alone, descending: numpy's values (LAPACK computes them without the
vectors), the vectors computed only for the gradient."""


# ---------------------------------------------------------------------------- qr


def _qr_shape(a: Aval, *, complete: bool) -> tuple[ShapedArray, ShapedArray]:
    _check_stack("qr", a, square=False)
    *batch, m, n = a.shape
    k = m if complete else min(m, n)
    dtype = np.dtype(a.dtype)
    return ShapedArray((*batch, m, k), dtype), ShapedArray((*batch, k, n), dtype)


def _thin_qr_rule(q: Any, r: Any, q_bar: Any, r_bar: Any) -> Any:
    # a = q r with m >= n: a_bar = (q_bar + q copyltu(M)) r^-T, M = r r_bar^T - q_bar^T q,
    # copyltu(M) the symmetric matrix with M's lower triangle.
    n = r.shape[-1]
    mm = fnp.matmul(r, _mT(r_bar)) - fnp.matmul(_mT(q_bar), q)
    sym = fnp.where(np.tri(n, dtype=bool), mm, _mT(mm))
    return _mT(fnp.linalg.solve(r, _mT(q_bar + fnp.matmul(q, sym))))


def _qr_rule(cts: Any, outs: Any, a: Any, *, complete: bool) -> Any:
    q_bar, r_bar = cts
    q, r = outs
    m, n = a.shape[-2:]
    if m < n:
        # a = [x y] with x square: x = q r1 and y = q r2, so r2 = q^T y.
        r2_bar = r_bar[..., :, m:]
        x_bar = _thin_qr_rule(q, r[..., :, :m], q_bar + fnp.matmul(a[..., :, m:], _mT(r2_bar)),
                              r_bar[..., :, :m])
        return fnp.concatenate([x_bar, fnp.matmul(q, r2_bar)], axis=-1)
    if complete and m > n:
        if not _unused(q_bar):
            raise NotImplementedError(
                f"the gradient of qr's q with mode='complete' for a {m}x{n} matrix is not "
                "defined (its last columns are any orthonormal completion); use "
                "mode='reduced'" + user_location())
        q, r = qr_p.bind_multi(a, complete=False)  # as outputs of their own equation
        return _thin_qr_rule(q, r, np.zeros(a.shape, a.dtype), r_bar[..., :n, :])
    return _thin_qr_rule(q, r, q_bar, r_bar)


qr_p = Primitive("qr", lambda a, *, complete: tuple(
    np.linalg.qr(a, "complete" if complete else "reduced")),
    _qr_shape, (_qr_rule,), _batch_stacked, multiple_results=True)
"""(q, r) of each matrix, reduced, or complete (q square) with complete=True."""


# ---------------------------------------------------------------------------- eig


def _eig_impl(a: Any) -> tuple[Any, Any]:
    # numpy makes the results real when every eigenvalue is; a traced result's dtype
    # cannot depend on values, so they are always complex here (as in JAX).
    dtype = np.result_type(a.dtype, np.complex64)
    w, v = np.linalg.eig(a)
    return w.astype(dtype, copy=False), v.astype(dtype, copy=False)


def _eig_shape(a: Aval) -> tuple[ShapedArray, ShapedArray]:
    _check_stack("eig", a, square=True)
    dtype = np.result_type(a.dtype, np.complex64)
    return ShapedArray(tuple(a.shape[:-1]), dtype), ShapedArray(tuple(a.shape), dtype)


def _eig_rule(cts: Any, outs: Any, a: Any) -> Any:
    w_bar, v_bar = cts
    w, v = outs
    inner = _diag_embed(w_bar)
    if not _unused(v_bar):
        inner = inner + _reciprocal_gaps(w) * fnp.matmul(_mT(v), v_bar)
    a_bar = fnp.linalg.solve(_mT(v), fnp.matmul(inner, _mT(v)))
    return a_bar if a.dtype.kind == "c" else fnp.real(a_bar)  # a real a has no imaginary part


eig_p = Primitive("eig", _eig_impl, _eig_shape, (_eig_rule,), _batch_stacked,
                  multiple_results=True, complex_rules=True)
"""(eigenvalues, eigenvectors) of general square matrices, always complex."""


def _refuse_eigenvectors(g: Any, out: Any, v: Any) -> Any:
    raise NotImplementedError(
        "the gradient of eig's eigenvectors is not supported (only of its eigenvalues: "
        "unit-norm complex eigenvectors are defined up to a phase)" + user_location())


eig_vectors_p = Primitive(
    "eig_vectors", lambda v: v, lambda v: ShapedArray(tuple(v.shape), np.dtype(v.dtype)),
    (_refuse_eigenvectors,), lambda prim, size, args, batched: prim.bind(args[0]),
    complex_rules=True)
"""The identity on eig's eigenvectors, whose VJP refuses to run: where the eigenvectors
eig returns leave the graph of eig_p, whose own rule for them is only for gauge-free uses."""


# ---------------------------------------------------------------------------- pinv


def _pinv_shape(a: Aval, rcond: Aval, *, hermitian: bool) -> ShapedArray:
    _check_stack("pinv", a, square=hermitian)
    if tuple(rcond.shape) != tuple(a.shape[:-2]):
        raise ShapeError(f"pinv: rcond must have a's batch shape: {describe(a, rcond)}")
    *batch, m, n = a.shape
    return ShapedArray((*batch, n, m), np.dtype(a.dtype))


def _pinv_rule(g: Any, x: Any, a: Any, rcond: Any, *, hermitian: bool) -> Any:
    # d x = -x da x + x x^T da^T (1 - a x) + (1 - x a) da^T x^T x, transposed.
    xt, gt = _mT(x), _mT(g)
    a_bar = (-fnp.matmul(fnp.matmul(xt, g), xt)
             + fnp.matmul(gt - fnp.matmul(a, fnp.matmul(x, gt)), fnp.matmul(x, xt))
             + fnp.matmul(fnp.matmul(xt, x), gt - fnp.matmul(fnp.matmul(gt, x), a)))
    return _fold(a_bar, lower=True) if hermitian else a_bar


pinv_p = Primitive(
    "pinv", lambda a, rcond, *, hermitian: np.linalg.pinv(a, rcond, hermitian),
    _pinv_shape, (_pinv_rule, None), _batch_stacked)
"""The pseudo-inverse of each matrix, with singular values at most rcond times the largest
taken as zero (rcond: one per matrix, not differentiated)."""
