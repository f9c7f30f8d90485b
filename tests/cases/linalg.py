"""Cases of fnp.linalg.

Inputs are built to be well conditioned: matrices u diag(s) v^T with orthogonal u, v and
well-separated singular values in [1, 3] (so every solve, inverse and decomposition is
smooth, and singular values are distinct), symmetric matrices with well-separated
eigenvalues, and matrices with distinct (real, or one complex pair of) eigenvalues.
Eigenvectors and singular vectors are compared through quantities that do not depend on
their signs (squares, reconstructions), since LAPACK picks the signs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from cases.base import Case, Gen, NDArray, case, distinct, normal

LA = fnp.linalg
NPL: Any = np.linalg  # numpy's stubs reject some of its valid calls (vecdot's axis)


def _orthogonal(rng: np.random.Generator, n: int) -> NDArray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _spaced(rng: np.random.Generator, k: int, lo: float, step: float) -> NDArray:
    """k values lo, lo + step, ... in random order, each moved by up to step / 5."""
    return lo + step * rng.permutation(k) + rng.uniform(0, step / 5, k)


def _stacked(one: Gen, batch: tuple[int, ...]) -> Gen:
    """A stack of batch draws of `one` (a single draw for batch ())."""
    def gen(rng: np.random.Generator) -> NDArray:
        draws = np.stack([one(rng) for _ in range(int(np.prod(batch)))])
        return draws.reshape(batch + draws.shape[1:])
    return gen


def matrices(m: int, n: int, *batch: int, rank: int | None = None) -> Gen:
    """u diag(s) v^T with singular values s about 2 / min(m, n) apart in [1, 3.4) (with
    rank: all but the largest `rank` of them zero)."""
    def one(rng: np.random.Generator) -> NDArray:
        k = min(m, n)
        s = np.sort(_spaced(rng, k, 1.0, 2.0 / k))[::-1]
        s[k if rank is None else rank:] = 0.0
        out: NDArray = (_orthogonal(rng, m)[:, :k] * s) @ _orthogonal(rng, n)[:, :k].T
        return out
    return _stacked(one, batch)


def symmetric(n: int, *batch: int, lo: float = -2.0) -> Gen:
    """q diag(w) q^T with eigenvalues w spaced 0.8 apart from lo (lo=1: positive definite)."""
    def one(rng: np.random.Generator) -> NDArray:
        q = _orthogonal(rng, n)
        out: NDArray = (q * _spaced(rng, n, lo, 0.8)) @ q.T
        return out
    return _stacked(one, batch)


def spd(n: int, *batch: int) -> Gen:
    """Symmetric positive definite, eigenvalues in [1, 1 + 0.8 n]."""
    return symmetric(n, *batch, lo=1.0)


def nonsymmetric(n: int, complex_pair: bool = False) -> Gen:
    """v diag(d) v^-1 with real eigenvalues d spaced 0.8 apart (or the first two a complex
    pair 1 +- 0.7i) and a well-conditioned v."""
    def gen(rng: np.random.Generator) -> NDArray:
        v = np.eye(n) + 0.3 * rng.standard_normal((n, n))
        d = np.diag(_spaced(rng, n, -1.5, 0.8))
        if complex_pair:
            d[:2, :2] = [[1.0, -0.7], [0.7, 1.0]]
        out: NDArray = v @ d @ np.linalg.inv(v)
        return out
    return gen


def _joined(parts: Any) -> Any:
    """Several results as one vector (one array is what every shared test handles)."""
    return fnp.concatenate([fnp.ravel(p) for p in parts])


def _squares(out: Any) -> Any:
    """A decomposition's factors, vectors squared (independent of their signs), joined."""
    return _joined([x * x if np.ndim(x) >= 2 else x for x in out])


def _svd_case(name: str, gen: Gen, **kw: Any) -> Case:
    return case(name, lambda a: _squares(LA.svd(a, **kw)),
                lambda a: _squares(np.linalg.svd(a, **kw)), gen)


def _cubed(eigh: Any) -> Any:
    """The cube of a symmetric matrix, from its eigenvalues and eigenvectors."""
    w, v = eigh
    return v @ (w[:, None] ** 3 * v.T)


def _norm_case(name: str, gen: Gen, **kw: Any) -> Case:
    return case(f"linalg_norm_{name}", lambda x: LA.norm(x, **kw),
                lambda x: np.linalg.norm(x, **kw), gen)


def _eigvals_loss(w: Any) -> Any:
    """A real function of complex eigenvalues that depends on both parts of each."""
    return fnp.real(w * w * (1.0 - 0.5j) + w * (0.3 + 2.0j))


VECTOR = distinct(5, offset=0.1)  # nonzero, no two of the same magnitude

LINALG: list[Case] = [
    # solves and inverses
    case("linalg_solve_matrix", LA.solve, np.linalg.solve, matrices(3, 3), normal(3, 2)),
    case("linalg_solve_vector", LA.solve, np.linalg.solve, matrices(3, 3), normal(3)),
    case("linalg_solve_batched", LA.solve, np.linalg.solve, matrices(3, 3, 2), normal(2, 3, 2)),
    case("linalg_solve_broadcast", LA.solve, np.linalg.solve, matrices(3, 3), normal(2, 3, 1)),
    case("linalg_solve_batched_vector", LA.solve, np.linalg.solve, matrices(3, 3, 2), normal(3)),
    case("linalg_inv", LA.inv, np.linalg.inv, matrices(3, 3)),
    case("linalg_inv_batched", LA.inv, np.linalg.inv, matrices(3, 3, 2)),
    case("linalg_pinv_tall", LA.pinv, np.linalg.pinv, matrices(4, 3)),
    case("linalg_pinv_wide_batched", LA.pinv, np.linalg.pinv, matrices(2, 4, 2)),
    case("linalg_pinv_hermitian", lambda a: LA.pinv(a, hermitian=True),
         lambda a: np.linalg.pinv(a, hermitian=True), symmetric(3)),
    # gradients at constant rank: exact where the singular values dropped are zero
    case("linalg_pinv_rtol_rank_deficient", lambda a: LA.pinv(a, rtol=0.1),
         lambda a: np.linalg.pinv(a, rtol=0.1), matrices(4, 3, rank=2)),
    case("linalg_lstsq_rank_deficient", lambda a, b: LA.lstsq(a, b, rcond=0.1)[0],
         lambda a, b: np.linalg.lstsq(a, b, rcond=0.1)[0], matrices(4, 3, rank=2), normal(4)),
    case("linalg_lstsq", lambda a, b: _joined(LA.lstsq(a, b)[:2]),
         lambda a, b: _joined(np.linalg.lstsq(a, b)[:2]),
         matrices(5, 3), normal(5, 2)),
    case("linalg_lstsq_vector_rcond", lambda a, b: _joined(LA.lstsq(a, b, rcond=0.2)[:2]),
         lambda a, b: _joined(np.linalg.lstsq(a, b, rcond=0.2)[:2]), matrices(5, 3), normal(5)),
    case("linalg_lstsq_underdetermined", lambda a, b: LA.lstsq(a, b)[0],
         lambda a, b: np.linalg.lstsq(a, b)[0], matrices(2, 4), normal(2, 3)),
    case("linalg_tensorsolve", LA.tensorsolve, np.linalg.tensorsolve,
         lambda rng: matrices(6, 6)(rng).reshape(2, 3, 3, 2), normal(2, 3)),
    case("linalg_tensorsolve_axes", lambda a, b: LA.tensorsolve(a, b, axes=(0,)),
         lambda a, b: np.linalg.tensorsolve(a, b, axes=(0,)),
         lambda rng: np.moveaxis(matrices(6, 6)(rng).reshape(6, 2, 3), 2, 0), normal(6)),
    case("linalg_tensorinv", lambda a: LA.tensorinv(a, ind=1),
         lambda a: np.linalg.tensorinv(a, ind=1), lambda rng: matrices(6, 6)(rng).reshape(6, 2, 3)),
    # determinants
    case("linalg_det", LA.det, np.linalg.det, matrices(3, 3)),
    case("linalg_det_batched", LA.det, np.linalg.det, matrices(3, 3, 2)),
    case("linalg_slogdet", lambda a: _joined(LA.slogdet(a)), lambda a: _joined(np.linalg.slogdet(a)),
         matrices(3, 3, 2)),
    # decompositions
    case("linalg_cholesky", LA.cholesky, np.linalg.cholesky, spd(3)),
    case("linalg_cholesky_upper", lambda a: LA.cholesky(a, upper=True),
         lambda a: np.linalg.cholesky(a, upper=True), spd(3)),
    case("linalg_cholesky_batched", LA.cholesky, np.linalg.cholesky, spd(3, 2)),
    case("linalg_eigh", lambda a: _squares(LA.eigh(a)), lambda a: _squares(np.linalg.eigh(a)),
         symmetric(3)),
    case("linalg_eigh_upper_batched", lambda a: _squares(LA.eigh(a, UPLO="U")),
         lambda a: _squares(np.linalg.eigh(a, UPLO="U")), symmetric(3, 2)),
    case("linalg_eigh_reconstruct", lambda a: _cubed(LA.eigh(a)),
         lambda a: _cubed(np.linalg.eigh(a)), symmetric(4)),
    case("linalg_eigvalsh", LA.eigvalsh, np.linalg.eigvalsh, symmetric(3)),
    case("linalg_eigvalsh_upper", lambda a: LA.eigvalsh(a, "U"),
         lambda a: np.linalg.eigvalsh(a, "U"), symmetric(3, 2)),
    _svd_case("linalg_svd_tall", matrices(4, 3), full_matrices=False),
    _svd_case("linalg_svd_wide_batched", matrices(2, 3, 2), full_matrices=False),
    _svd_case("linalg_svd_square_full", matrices(3, 3)),
    _svd_case("linalg_svd_hermitian", symmetric(3), hermitian=True),
    case("linalg_svd_full_values", lambda a: LA.svd(a)[1], lambda a: np.linalg.svd(a)[1],
         matrices(4, 2)),
    case("linalg_svd_compute_uv_false", lambda a: LA.svd(a, compute_uv=False),
         lambda a: np.linalg.svd(a, compute_uv=False), matrices(2, 3, 2)),
    case("linalg_svdvals", LA.svdvals, np.linalg.svdvals, matrices(3, 4)),
    case("linalg_qr_tall", lambda a: _joined(LA.qr(a)), lambda a: _joined(np.linalg.qr(a)),
         matrices(4, 3)),
    case("linalg_qr_square_batched", lambda a: _joined(LA.qr(a)), lambda a: _joined(np.linalg.qr(a)),
         matrices(3, 3, 2)),
    case("linalg_qr_wide", lambda a: _joined(LA.qr(a)), lambda a: _joined(np.linalg.qr(a)),
         matrices(2, 4)),
    case("linalg_qr_r", lambda a: LA.qr(a, mode="r"), lambda a: np.linalg.qr(a, mode="r"),
         matrices(4, 3)),
    case("linalg_qr_complete_r", lambda a: LA.qr(a, mode="complete")[1],
         lambda a: np.linalg.qr(a, mode="complete")[1], matrices(4, 2)),
    case("linalg_eigvals", lambda a: _eigvals_loss(LA.eigvals(a)),
         lambda a: _eigvals_loss(np.linalg.eigvals(a)), nonsymmetric(3)),
    case("linalg_eigvals_complex_pair", lambda a: _eigvals_loss(LA.eig(a)[0]),
         lambda a: _eigvals_loss(np.linalg.eig(a)[0]), nonsymmetric(3, complex_pair=True)),
    # norms
    _norm_case("vector", VECTOR),
    _norm_case("vector_1", VECTOR, ord=1),
    _norm_case("vector_inf", VECTOR, ord=np.inf),
    _norm_case("vector_minus_inf", VECTOR, ord=-np.inf),
    _norm_case("vector_0", VECTOR, ord=0),
    _norm_case("vector_3", VECTOR, ord=3),
    _norm_case("vector_minus_1_5", VECTOR, ord=-1.5),
    _norm_case("vector_axis_keepdims", normal(3, 4), axis=-1, keepdims=True),
    _norm_case("all_axes_3d", normal(2, 3, 4)),
    _norm_case("fro", normal(3, 4), ord="fro"),
    _norm_case("nuc", matrices(3, 4), ord="nuc"),
    _norm_case("matrix_1", normal(3, 4), ord=1),
    _norm_case("matrix_minus_1", normal(3, 4), ord=-1),
    _norm_case("matrix_2", matrices(3, 4), ord=2),
    _norm_case("matrix_minus_2", matrices(4, 3), ord=-2),
    _norm_case("matrix_inf", normal(3, 4), ord=np.inf),
    _norm_case("matrix_minus_inf", normal(3, 4), ord=-np.inf),
    _norm_case("matrix_axes_keepdims", normal(2, 3, 4), ord=1, axis=(2, 0), keepdims=True),
    _norm_case("matrix_2_axes", lambda rng: matrices(3, 4)(rng)[:, None, :], ord=2,
               axis=(-1, 0)),
    case("linalg_vector_norm_axes", lambda x: LA.vector_norm(x, axis=(0, 2), ord=3),
         lambda x: np.linalg.vector_norm(x, axis=(0, 2), ord=3), normal(2, 3, 4)),
    case("linalg_vector_norm_all_keepdims", lambda x: LA.vector_norm(x, keepdims=True),
         lambda x: NPL.vector_norm(x, keepdims=True), normal(2, 3)),
    case("linalg_matrix_norm", lambda x: LA.matrix_norm(x, ord="nuc"),
         lambda x: np.linalg.matrix_norm(x, ord="nuc"), matrices(3, 2, 2)),
    case("linalg_cond", LA.cond, np.linalg.cond, matrices(3, 3, 2)),
    case("linalg_cond_fro", lambda x: LA.cond(x, "fro"), lambda x: np.linalg.cond(x, "fro"),
         matrices(3, 3)),
    # products
    case("linalg_matrix_power_5", lambda a: LA.matrix_power(a, 5),
         lambda a: np.linalg.matrix_power(a, 5), lambda rng: matrices(3, 3)(rng) / 2),
    case("linalg_matrix_power_minus_2", lambda a: LA.matrix_power(a, -2),
         lambda a: np.linalg.matrix_power(a, -2), matrices(3, 3, 2)),
    case("linalg_matrix_power_0", lambda a: LA.matrix_power(a, 0) * a,
         lambda a: np.linalg.matrix_power(a, 0) * a, normal(3, 3)),
    case("linalg_multi_dot", lambda a, b, c, d: LA.multi_dot([a, b, c, d]),
         lambda a, b, c, d: np.linalg.multi_dot([a, b, c, d]),
         normal(2, 5), normal(5, 1), normal(1, 4), normal(4, 3)),
    case("linalg_multi_dot_vectors", lambda a, b, c: LA.multi_dot([a, b, c]),
         lambda a, b, c: np.linalg.multi_dot([a, b, c]), normal(3), normal(3, 4), normal(4)),
    case("linalg_matrix_transpose", LA.matrix_transpose, np.linalg.matrix_transpose,
         normal(2, 3, 4)),
    case("linalg_outer", LA.outer, np.linalg.outer, normal(3), normal(4)),
    case("linalg_vecdot", LA.vecdot, np.linalg.vecdot, normal(2, 3), normal(3)),
    case("linalg_vecdot_axis", lambda x, y: LA.vecdot(x, y, axis=0),
         lambda x, y: NPL.vecdot(x, y, axis=0), normal(3, 2), normal(3, 2)),
    case("linalg_matmul", LA.matmul, np.linalg.matmul, normal(2, 3, 4), normal(4, 2)),
    case("linalg_tensordot", lambda x, y: LA.tensordot(x, y, axes=1),
         lambda x, y: np.linalg.tensordot(x, y, axes=1), normal(2, 3), normal(3, 4)),
    case("linalg_diagonal_offset", lambda x: LA.diagonal(x, offset=-1),
         lambda x: np.linalg.diagonal(x, offset=-1), normal(2, 4, 3)),
    case("linalg_trace", lambda x: LA.trace(x, offset=1), lambda x: np.linalg.trace(x, offset=1),
         normal(2, 3, 4)),
    case("linalg_cross", LA.cross, np.linalg.cross, normal(2, 3), normal(3)),
    case("linalg_cross_axis", lambda x, y: LA.cross(x, y, axis=0),
         lambda x, y: np.linalg.cross(x, y, axis=0), normal(3, 2), normal(3, 2)),
]
