"""Cases of the products."""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np

import funcgrad.numpy as fnp
from cases.base import B34, case, distinct, normal, uniform
from cases.elementwise import parts


def np_cross(a: Any, b: Any, **kw: Any) -> Any:
    """numpy's cross, without its numpy 2 deprecation warning for 2-vectors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.cross(a, b, **kw)


def einsum_case(name: str, spec: str, *args: Any, **kw: Any) -> Any:
    """A case of fnp.einsum(spec, ...) against np.einsum(spec, ...)."""
    return case(name, lambda *xs: fnp.einsum(spec, *xs, **kw),
                lambda *xs: np.einsum(spec, *xs), *args)


def convolution_cases(fn: Any, ref: Any) -> list[Any]:
    """fn against ref in every mode, for a longer or shorter second operand of odd and even
    length."""
    name = fn.__name__
    return [case(f"{name}_{mode}_{n}_{m}", lambda a, v, mode=mode: fn(a, v, mode),
                 lambda a, v, mode=mode: ref(a, v, mode), normal(n), normal(m))
            for mode in ("full", "same", "valid") for n, m in ((6, 3), (5, 4), (3, 6), (2, 5))]


CONTRACTIONS = [
    case("matmul_1d_1d", fnp.matmul, np.matmul, normal(4), normal(4)),
    case("matmul_2d_1d", fnp.matmul, np.matmul, normal(3, 4), normal(4)),
    case("matmul_1d_2d", fnp.matmul, np.matmul, normal(3), normal(3, 4)),
    case("matmul_2d_2d", fnp.matmul, np.matmul, normal(2, 3), normal(3, 4)),
    case("matmul_operator", lambda x, y: x @ y, lambda x, y: x @ y, normal(2, 3), normal(3, 4)),
    case("matmul_batched", fnp.matmul, np.matmul, normal(2, 3, 4), normal(2, 4, 5)),
    case("matmul_batch_times_matrix", fnp.matmul, np.matmul, normal(2, 3, 4), normal(4, 5)),
    case("matmul_matrix_times_batch", fnp.matmul, np.matmul, normal(3, 4), normal(2, 4, 5)),
    case("matmul_broadcast_batch", fnp.matmul, np.matmul, normal(2, 1, 3, 4), normal(5, 4, 2)),
    case("matmul_batch_of_one", fnp.matmul, np.matmul, normal(1, 3, 4), normal(2, 4, 2)),
    case("matmul_batch_1d", fnp.matmul, np.matmul, normal(2, 3, 4), normal(4)),
    case("matmul_1d_batch", fnp.matmul, np.matmul, normal(4), normal(2, 4, 5)),
    case("dot_1d_1d", fnp.dot, np.dot, normal(4), normal(4)),
    case("dot_2d_1d", fnp.dot, np.dot, normal(3, 4), normal(4)),
    case("dot_2d_2d", fnp.dot, np.dot, normal(2, 3), normal(3, 4)),
    case("dot_scalar", fnp.dot, np.dot, normal(), normal(2, 3)),
    case("dot_nd", fnp.dot, np.dot, normal(2, 3, 4), normal(5, 4, 2)),
    case("dot_nd_1d", fnp.dot, np.dot, normal(2, 3, 4), normal(4)),
    case("dot_1d_nd", fnp.dot, np.dot, normal(3), normal(2, 3, 4)),
    case("dot_method", lambda x, y: x.dot(y), lambda x, y: x.dot(y), normal(2, 3), normal(3)),
    case("vdot_1d", fnp.vdot, np.vdot, normal(4), normal(4)),
    case("vdot_flattens", fnp.vdot, np.vdot, normal(2, 3), normal(3, 2)),
    case("inner_1d", fnp.inner, np.inner, normal(4), normal(4)),
    case("inner_nd", fnp.inner, np.inner, normal(2, 3), normal(4, 2, 3)),
    case("inner_scalar", fnp.inner, np.inner, normal(), normal(2, 3)),
    case("outer", fnp.outer, np.outer, normal(3), normal(4)),
    case("outer_flattens", fnp.outer, np.outer, normal(2, 2), normal(3)),
    case("kron_1d", fnp.kron, np.kron, normal(2), normal(3)),
    case("kron_2d", fnp.kron, np.kron, normal(2, 3), normal(3, 2)),
    case("kron_ndims_differ", fnp.kron, np.kron, normal(2), normal(2, 3)),
    case("kron_3d_2d", fnp.kron, np.kron, normal(2, 1, 2), normal(3, 2)),
    case("cross_3_3", fnp.cross, np_cross, normal(3), normal(3)),
    case("cross_broadcast", fnp.cross, np_cross, normal(4, 3), normal(3)),
    case("cross_2_3", fnp.cross, np_cross, normal(2, 2), normal(2, 3)),
    case("cross_3_2", fnp.cross, np_cross, normal(3), normal(4, 2)),
    case("cross_2_2", fnp.cross, np_cross, normal(4, 2), normal(4, 2)),
    case("cross_axes", lambda a, b: fnp.cross(a, b, axisa=0, axisb=1, axisc=0),
         lambda a, b: np_cross(a, b, axisa=0, axisb=1, axisc=0), normal(3, 4), normal(4, 3)),
    case("cross_axis", lambda a, b: fnp.cross(a, b, axis=0),
         lambda a, b: np_cross(a, b, axis=0), normal(3, 2), normal(3, 2)),
    case("cross_axisc_middle", lambda a, b: fnp.cross(a, b, axisc=1),
         lambda a, b: np_cross(a, b, axisc=1), normal(2, 4, 3), normal(4, 2)),
    *convolution_cases(fnp.convolve, np.convolve),
    *convolution_cases(fnp.correlate, np.correlate),
    case("convolve_default_mode", fnp.convolve, np.convolve, normal(5), normal(3)),
    case("correlate_default_mode", fnp.correlate, np.correlate, normal(5), normal(3)),
    einsum_case("einsum_matmul", "ij,jk->ik", normal(2, 3), normal(3, 4)),
    einsum_case("einsum_implicit", "ij,jk", normal(2, 3), normal(3, 4)),
    einsum_case("einsum_implicit_sorts_labels", "ba,Ac", normal(2, 3), normal(3, 4)),
    einsum_case("einsum_spaces", "i j, j k -> k i", normal(2, 3), normal(3, 4)),
    einsum_case("einsum_batched", "bij,bjk->bik", normal(2, 3, 4), normal(2, 4, 2)),
    einsum_case("einsum_sum_one_operand", "ijk->j", normal(2, 3, 4)),
    einsum_case("einsum_label_only_in_one", "ij,k->ik", normal(2, 3), normal(4)),
    einsum_case("einsum_three_operands", "i,ij,j->", normal(2), normal(2, 3), normal(3)),
    einsum_case("einsum_four_operand_chain", "ij,jk,kl,lm->im", normal(2, 3), normal(3, 4),
                normal(4, 2), normal(2, 3)),
    einsum_case("einsum_transpose", "ij->ji", normal(2, 3)),
    einsum_case("einsum_scalar_operand", ",ij->ji", normal(), normal(2, 3)),
    einsum_case("einsum_outer_product", "i,j->ij", normal(2), normal(3)),
    einsum_case("einsum_trace", "ii->", normal(3, 3)),
    einsum_case("einsum_trace_implicit", "ii", normal(3, 3)),
    einsum_case("einsum_diagonal", "ii->i", normal(3, 3)),
    einsum_case("einsum_repeated_with_others", "iij,j->i", normal(3, 3, 2), normal(2)),
    einsum_case("einsum_repeated_apart", "iji->j", normal(3, 2, 3)),
    einsum_case("einsum_three_times_repeated", "iii->i", normal(2, 2, 2)),
    einsum_case("einsum_repeated_summed_alone", "iij->j", normal(3, 3, 2)),
    einsum_case("einsum_repeated_in_two_operands", "ii,jj->ij", normal(2, 2), normal(3, 3)),
    einsum_case("einsum_ellipsis", "...ij,...jk->...ik", normal(2, 2, 3), normal(2, 3, 4)),
    einsum_case("einsum_ellipsis_implicit", "...ij,...jk", normal(2, 2, 3), normal(3, 4)),
    einsum_case("einsum_ellipsis_ranks_differ", "...ij,...jk->...ik", normal(3, 2, 2, 3),
                normal(2, 3, 4)),
    einsum_case("einsum_ellipsis_size_one", "...ij,...jk->...ik", normal(1, 2, 3),
                normal(4, 3, 2)),
    einsum_case("einsum_ellipsis_size_one_both", "...i,...i->...", normal(2, 1, 3),
                normal(4, 3)),
    einsum_case("einsum_ellipsis_middle", "i...j,j...k->...ik", normal(2, 4, 3),
                normal(3, 1, 2)),
    einsum_case("einsum_ellipsis_diagonal", "...ii->...i", normal(2, 3, 3)),
    einsum_case("einsum_ellipsis_empty", "...i,i->...", normal(3), normal(3)),
    einsum_case("einsum_label_size_one", "ij,ij->ij", normal(1, 3), normal(2, 3)),
    case("einsum_sublists", lambda x, y: fnp.einsum(x, [0, 1], y, [1, 2], [0, 2]),
         lambda x, y: np.einsum(x, [0, 1], y, [1, 2], [0, 2]), normal(2, 3), normal(3, 4)),
    case("einsum_sublists_implicit_ellipsis",
         lambda x, y: fnp.einsum(x, [Ellipsis, 0, 1], y, [1, 30]),
         lambda x, y: np.einsum(x, [Ellipsis, 0, 1], y, [1, 30]), normal(2, 2, 3), normal(3, 4)),
    case("einsum_sublists_trace", lambda x: fnp.einsum(x, [0, 0], []),
         lambda x: np.einsum(x, [0, 0], []), normal(3, 3)),
    *(einsum_case(f"einsum_optimize_{opt}", "ij,jk,kl->il", normal(2, 3), normal(3, 4),
                  normal(4, 2), optimize=opt) for opt in (True, False, "greedy", "optimal")),
    einsum_case("einsum_optimize_two_operands", "ij,jk->ik", normal(2, 3), normal(3, 4),
                optimize=True),
    case("tensordot_1", lambda x, y: fnp.tensordot(x, y, 1),
         lambda x, y: np.tensordot(x, y, 1), normal(2, 3), normal(3, 4)),
    case("tensordot_2", fnp.tensordot, np.tensordot, normal(2, 3, 4), normal(3, 4, 5)),
    case("tensordot_axes_lists", lambda x, y: fnp.tensordot(x, y, ([0, 2], [1, 0])),
         lambda x, y: np.tensordot(x, y, ([0, 2], [1, 0])), normal(2, 3, 4), normal(4, 2, 5)),
    case("tensordot_axes_ints", lambda x, y: fnp.tensordot(x, y, (1, 0)),
         lambda x, y: np.tensordot(x, y, (1, 0)), normal(2, 3), normal(3, 4)),
    case("tensordot_negative_axes", lambda x, y: fnp.tensordot(x, y, ([-1], [-2])),
         lambda x, y: np.tensordot(x, y, ([-1], [-2])), normal(2, 3), normal(2, 3, 4)),
    case("tensordot_empty_axes", lambda x, y: fnp.tensordot(x, y, ([], [])),
         lambda x, y: np.tensordot(x, y, ([], [])), normal(2), normal(3, 2)),
    case("tensordot_0", lambda x, y: fnp.tensordot(x, y, 0),
         lambda x, y: np.tensordot(x, y, 0), normal(2), normal(3)),
]


XS = np.linspace(-1.0, 1.0, 7)  # sample points for polyfit
FREQUENCIES = np.array([1, 2, 1, 3, 2])


def distinct_roots(n: int) -> Any:
    """n real roots at least 0.5 apart: well-conditioned ones."""
    return lambda rng: np.sort(rng.permutation(n) * 0.7 + rng.uniform(0, 0.2, n) - n * 0.3)


def sorted_parts(z: Any) -> list[Any]:
    """Real and imaginary parts of roots in numpy's sort_complex order, as one real list."""
    ordered = fnp.sort_complex(z)
    return [fnp.real(ordered), fnp.imag(ordered)]


CONTRACTIONS += [
    case("vecdot", lambda x, y: fnp.vecdot(x, y), lambda x, y: np.vecdot(x, y),
         normal(2, 3), normal(3)),
    case("vecdot_axis_complex", parts(lambda z: fnp.vecdot(z, z * 2.0 + 1.0, axis=0)),
         parts(lambda z: cast(Any, np.vecdot)(z, z * 2.0 + 1.0, axis=0)), normal(3, 2),
         normal(3, 2)),
    case("matvec", fnp.matvec, np.matvec, normal(2, 3, 4), normal(4)),
    case("vecmat", fnp.vecmat, np.vecmat, normal(3), normal(2, 3, 4)),
    case("vecmat_complex", parts(lambda z: fnp.vecmat(z, B34 * (1 + 1j))),
         parts(lambda z: np.vecmat(z, B34 * (1 + 1j))), normal(2, 3), normal(2, 3), f32=False),
    case("cov", fnp.cov, np.cov, normal(3, 5)),
    case("cov_columns_bias_y", lambda x, y: fnp.cov(x, y, rowvar=False, bias=True),
         lambda x, y: np.cov(x, y, rowvar=False, bias=True), normal(5, 2), normal(5)),
    case("cov_weights", lambda x, w: fnp.cov(x, fweights=FREQUENCIES, aweights=w),
         lambda x, w: np.cov(x, fweights=FREQUENCIES, aweights=w), normal(2, 5),
         uniform(0.5, 2.0, 5)),
    case("cov_aweights_ddof0", lambda x, w: fnp.cov(x, aweights=w, ddof=0),
         lambda x, w: np.cov(x, aweights=w, ddof=0), normal(3, 4), uniform(0.5, 2.0, 4)),
    case("cov_one_variable", lambda x: fnp.cov(x, ddof=2), lambda x: np.cov(x, ddof=2),
         normal(6)),
    case("corrcoef", fnp.corrcoef, np.corrcoef, normal(3, 6)),
    case("corrcoef_two", lambda x, y: fnp.corrcoef(x, y), lambda x, y: np.corrcoef(x, y),
         normal(6), normal(6)),
    case("vander", fnp.vander, np.vander, normal(4)),
    case("vander_increasing_N", lambda x: fnp.vander(x, 6, increasing=True),
         lambda x: np.vander(x, 6, increasing=True), normal(3)),
    case("polyval", fnp.polyval, np.polyval, normal(4), normal(2, 3)),
    case("polyval_columns", fnp.polyval, np.polyval, normal(3, 2), normal(2)),
    case("polyadd_polysub", lambda a, b: fnp.polyadd(a, b) * fnp.polysub(b, a),
         lambda a, b: np.polyadd(a, b) * np.polysub(b, a), normal(4), normal(2)),
    case("polymul", fnp.polymul, np.polymul, normal(3), normal(4)),
    case("polyder", lambda p: fnp.polyder(p, 2), lambda p: np.polyder(p, 2), normal(5)),
    case("polyint", lambda p, k: fnp.polyint(p, 2, k), lambda p, k: np.polyint(p, 2, k),
         normal(3), normal(2)),
    case("poly", fnp.poly, np.poly, normal(4)),
    case("poly_of_matrix", lambda m: [fnp.real(fnp.poly(m)), fnp.imag(fnp.poly(m))],
         lambda m: [np.poly(m), np.zeros(4)], normal(3, 3)),
    case("roots", lambda r: sorted_parts(fnp.roots(fnp.poly(r))),
         lambda r: sorted_parts(np.roots(np.poly(r)).astype(complex)), distinct_roots(3),
         rtol=1e-4, atol=1e-4),
    case("polyfit", lambda y: fnp.polyfit(XS.astype(y.dtype), y, 3),
         lambda y: np.polyfit(XS.astype(y.dtype), y, 3), normal(7)),
    case("polyfit_weights_columns", lambda x, y, w: fnp.polyfit(x, y, 2, w=w),
         lambda x, y, w: np.polyfit(x, y, 2, w=w), distinct(6), normal(6, 2),
         uniform(0.5, 2.0, 6)),
    # (coefficients, residuals, singular values and the covariance, in one array)
    case("polyfit_full_cov",
         lambda y: fnp.concatenate([fnp.ravel(r) for r in (
             *fnp.polyfit(XS, y, 2, full=True)[:2], fnp.polyfit(XS, y, 2, full=True)[3],
             fnp.polyfit(XS, y, 2, cov=True)[1])]),
         lambda y: np.concatenate([np.ravel(r) for r in (
             *np.polyfit(XS, y, 2, full=True)[:2], np.polyfit(XS, y, 2, full=True)[3],
             np.polyfit(XS, y, 2, cov=True)[1])]), normal(7), f32=False),
]
