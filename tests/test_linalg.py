"""Tests of fnp.linalg beyond the shared table (tests/cases/linalg.py): gradients against
JAX's (numbers computed once with JAX 0.10 in float64, written out here), gradients at
special points (zero vectors, singular matrices, repeated eigenvalues and singular
values) as JAX gives them, the triangle the symmetric decompositions read, complex
eigenvalues, values that have no gradient (rank, condition numbers), results as named
tuples, dtype promotion, errors, and numpy's own functions given a traced value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import ShapeError, grad, hessian, jit, vjp, vmap
from funcgrad.testing import check_grads

LA = fnp.linalg
NDArray = np.ndarray[Any, Any]

M = np.array([[2.0, 0.5, -0.3], [0.1, 1.5, 0.4], [-0.2, 0.3, 1.8]])
S = M @ M.T  # symmetric positive definite
W = np.array([[1.0, -2.0, 0.5], [0.3, 1.2, -0.7], [2.0, 0.1, 0.4]])
T = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.2], [0.7, 1.1]])


def sym(x: Any) -> Any:
    return (x + x.T) / 2


# ---------------------------------------------------------------------------- against JAX


def _eigh_loss(eigh: LA.EighResult) -> Any:
    w, v = eigh
    return fnp.sum(v ** 2 * W) + fnp.sum(w * W[0])


def _svd_loss(svd: LA.SVDResult) -> Any:
    u, s, vh = svd
    return fnp.sum(u ** 2 * T) + fnp.sum(s * T[0]) + fnp.sum(vh ** 2 * W[:2, :2])


# (loss of x, the point, JAX's gradient there). For the decompositions that read one
# triangle the loss symmetrizes its input first, as JAX's own functions do.
JAX_GRADIENTS: list[tuple[str, Callable[[Any], Any], NDArray, list[list[float]]]] = [
    ("cholesky", lambda x: fnp.sum(LA.cholesky(sym(x)) * W), S,
     [[0.336030925868, -0.015945852698, 0.510766870543],
      [-0.015945852698, 0.42193589796, -0.039858487649],
      [0.510766870543, -0.039858487649, 0.127062035201]]),
    ("eigh", lambda x: _eigh_loss(LA.eigh(sym(x))), S,
     [[0.573017222902, -0.314446139642, -0.268141598758],
      [-0.314446139642, 0.347175824227, -1.297189481337],
      [-0.268141598758, -1.297189481337, -1.420193047128]]),
    ("svd", lambda x: _svd_loss(LA.svd(x, full_matrices=False)), T,
     [[1.454820533167, 0.207682014255], [-2.106496335268, 0.319663014745],
      [0.330747458047, 0.077911066122], [1.188413775797, -0.097032049802]]),
    ("svdvals_hermitian", lambda x: fnp.sum(LA.svd(sym(x), hermitian=True, compute_uv=False)
                                            * W[0]), S - 3 * np.eye(3),
     [[1.088206836157, -0.340031462366, 0.09597101872],
      [-0.340031462366, 1.391266730486, -0.64770552782],
      [0.09597101872, -0.64770552782, 1.020526433358]]),
    ("qr", lambda x: fnp.sum(LA.qr(x).Q * T) + fnp.sum(LA.qr(x).R * W[:2, :2]), T,
     [[1.935702167163, 0.522684928036], [3.65781430038, -2.102302357281],
      [-1.209214619465, 0.662283055769], [0.683769540909, 0.555433541135]]),
    ("qr_wide", lambda x: fnp.sum(LA.qr(x).Q * W[:2, :2]) + fnp.sum(LA.qr(x).R * T.T),
     T.T, [[-0.633254451228, 0.0, 0.04472135955, -1.29691942695],
           [-0.801406763136, 1.11803398875, -0.3577708764, -0.13416407865]]),
    ("pinv", lambda x: fnp.sum(LA.pinv(x) * T.T), T,
     [[-0.11605540571, -0.317003191524], [0.709764772886, -0.376105481469],
      [-0.224803619209, 0.1266938179], [-0.152483908058, -0.138729193307]]),
    ("det", LA.det, M, [[2.58, -0.26, 0.33], [-0.99, 3.54, -0.7], [0.65, -0.83, 2.95]]),
    ("slogdet", lambda x: LA.slogdet(x).logabsdet, M,
     [[0.523220442101, -0.052727641452, 0.06692354492],
      [-0.20077063476, 0.717907118232, -0.141959034679],
      [0.13181910363, -0.168322855405, 0.59825593186]]),
    ("inv", lambda x: fnp.sum(LA.inv(x) * W), M,
     [[-0.599848380167, 0.880432260881, -0.394104634629],
      [0.478602689124, -1.021790425989, 0.589978655353],
      [-0.805826139932, 0.429910867724, -0.396209117581]]),
    ("lstsq", lambda x: fnp.sum(LA.lstsq(x, T[:, 0])[0] * W[0, :2]), T @ W[:2, :2],
     [[-0.077370270474, 0.019342567618], [0.473176515257, -0.118294128814],
      [-0.149869079473, 0.037467269868], [-0.101655938706, 0.025413984676]]),
    ("matrix_power", lambda x: fnp.sum(LA.matrix_power(x, -3) * W), M,
     [[-1.111871207599, 1.447338369979, -0.834551441736],
      [1.67778846171, -2.439102141937, 1.494927497251],
      [-1.452872296086, 1.440682504809, -1.021184074686]]),
    ("norm_2", lambda x: LA.norm(x, 2), T,
     [[0.409379980761, 0.761097896595], [-0.006110476055, -0.011360278204],
      [-0.006232247278, -0.011586668907], [0.238173645968, 0.44280001341]]),
    ("cond", LA.cond, M, [[0.435749190293, 0.63805036193, -0.660970242037],
                          [0.707511252536, -0.972515287008, 0.641674988194],
                          [-0.746792294163, 0.61872704729, -0.329132998445]]),
]


@pytest.mark.parametrize("loss,x,expected", [pytest.param(f, x, e, id=n)
                                             for n, f, x, e in JAX_GRADIENTS])
def test_gradients_equal_jax(loss: Callable[[Any], Any], x: NDArray,
                             expected: list[list[float]]) -> None:
    np.testing.assert_allclose(grad(loss)(x), expected, rtol=1e-9, atol=1e-11)


def test_eigenvalue_gradient_equals_jax_for_complex_eigenvalues() -> None:
    # M has eigenvalues 1.137 and 2.081 +- 0.062i; the cotangent is complex (JAX's convention).
    w, pullback = vjp(LA.eigvals, M)
    np.testing.assert_allclose(w, np.linalg.eigvals(M), rtol=1e-14)
    assert w.dtype == np.complex128
    (g,) = pullback(np.array([1 - 0.5j, 0.3 + 2j, -0.7 + 0.2j]))
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, [[0.626888042477, -0.987568022833, -1.201989780007],
                                   [0.245891496143, -0.120654899825, -1.624966878743],
                                   [0.788881135144, -0.438711968221, 0.093766857348]],
                               rtol=1e-9, atol=1e-11)


# ---------------------------------------------------------------------------- special points


def test_norm_gradients_at_zero_are_jax_s() -> None:
    z = np.zeros(3)
    x = np.array([0.0, 1.0, -2.0])
    nan = np.nan
    expected: dict[Any, tuple[list[float], list[float]]] = {
        # ord: (gradient at 0, gradient at x), as jax.grad(jnp.linalg.norm) gives
        None: ([nan] * 3, [0.0, 1 / 5 ** 0.5, -2 / 5 ** 0.5]),
        1: ([1.0] * 3, [1.0, 1.0, -1.0]),
        np.inf: ([1 / 6] * 3, [0.0, 0.0, -1.0]),
        -np.inf: ([1 / 3] * 3, [1.0, 0.0, 0.0]),
        0: ([0.0] * 3, [0.0] * 3),
        3: ([nan] * 3, [0.0, 0.23112042, -0.9244817]),
        0.5: ([nan] * 3, [np.inf, 2.41421356, -1.70710678]),
        -1: ([nan] * 3, [nan, 0.0, 0.0]),
    }
    with np.errstate(all="ignore"):
        for ord, (at_zero, at_x) in expected.items():
            np.testing.assert_allclose(grad(lambda v: LA.norm(v, ord))(z), at_zero, rtol=1e-7)
            np.testing.assert_allclose(grad(lambda v: LA.norm(v, ord))(x), at_x, rtol=1e-7)


def test_matrix_norm_gradients_at_zero_are_jax_s() -> None:
    expected: dict[Any, NDArray] = {
        "fro": np.full((2, 3), np.nan), "nuc": np.eye(2, 3),
        1: np.full((2, 3), 1 / 6), -1: np.full((2, 3), 1 / 3),
        2: np.eye(2, 3) / 4, -2: np.eye(2, 3) / 2,
        np.inf: np.full((2, 3), 1 / 4), -np.inf: np.full((2, 3), 1 / 2),
    }
    with np.errstate(all="ignore"):
        for ord, at_zero in expected.items():
            np.testing.assert_allclose(grad(lambda a: LA.norm(a, ord))(np.zeros((2, 3))),
                                       at_zero, rtol=1e-12)


def test_det_gradient_and_hessian_at_singular_matrices() -> None:
    # The cofactor matrix, as JAX gives it: exact also where det = 0.
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(grad(LA.det)(a), [[4.0, -2.0], [-2.0, 1.0]], rtol=1e-12)
    # det of a 2x2 matrix is bilinear: a constant Hessian
    h = np.zeros((4, 4))
    h[0, 3] = h[3, 0] = 1.0
    h[1, 2] = h[2, 1] = -1.0
    np.testing.assert_allclose(hessian(LA.det)(a).reshape(4, 4), h, atol=1e-12)
    rank2 = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(grad(LA.det)(rank2), [[-2.0, 4.0, -2.0], [1.0, -2.0, 1.0],
                                                     [0.0, 0.0, 0.0]], atol=1e-12)
    rank1 = np.outer([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(grad(LA.det)(rank1), np.zeros((3, 3)), atol=1e-12)


def test_det_hessian_at_identity_with_its_repeated_singular_values() -> None:
    # d2 det / da_ij da_kl at I: 1 for (ii, kk), -1 for (ij, ji), i != k.
    n = 3
    h = np.zeros((n, n, n, n))
    for i in range(n):
        for k in range(n):
            if i != k:
                h[i, i, k, k] = 1.0
                h[i, k, k, i] = -1.0
    np.testing.assert_allclose(hessian(LA.det)(np.eye(n)), h, atol=1e-12)


def test_repeated_eigenvalues_and_singular_values_as_jax() -> None:
    # The eigenvalues alone stay finite (their vectors get no cotangent); eigenvectors and
    # singular vectors get nan, and so do second derivatives of the eigenvalues.
    eye = np.eye(3)
    expected = np.zeros((3, 3))
    expected[2, 2] = 1.0
    np.testing.assert_array_equal(grad(lambda a: LA.eigvalsh(a)[-1])(eye), expected)
    np.testing.assert_array_equal(grad(lambda a: LA.eigh(a)[0][-1])(eye), expected)
    np.testing.assert_array_equal(grad(lambda a: fnp.sum(LA.svdvals(a)))(eye), eye)
    np.testing.assert_array_equal(grad(lambda a: fnp.sum(LA.svd(a)[1]))(eye), eye)
    with np.errstate(all="ignore"):
        assert np.isnan(hessian(lambda a: LA.eigvalsh(a)[-1])(eye)).any()
        assert np.isnan(grad(lambda a: fnp.sum(LA.eigh(a)[1] ** 2 * np.arange(3.0)))(eye)).any()
        assert np.isnan(grad(lambda a: fnp.sum(LA.svd(a)[0] ** 2 * np.arange(3.0)))(eye)).all()


# ---------------------------------------------------------------------------- one triangle


@pytest.mark.parametrize("fn", [
    pytest.param(lambda a: fnp.sum(LA.cholesky(a) * W), id="cholesky"),
    pytest.param(lambda a: fnp.sum(LA.eigvalsh(a) * W[0]), id="eigvalsh"),
    pytest.param(lambda a: fnp.sum(LA.eigh(a)[1] ** 2 * W), id="eigh"),
    pytest.param(lambda a: fnp.sum(LA.svd(a, hermitian=True)[1] * W[1]), id="svd_hermitian"),
    pytest.param(lambda a: fnp.sum(LA.pinv(a, hermitian=True) * W), id="pinv_hermitian"),
])
def test_the_read_triangle_alone_has_gradients(fn: Callable[[Any], Any]) -> None:
    g = grad(fn)(S)
    assert np.all(np.triu(g, 1) == 0) and np.any(np.tril(g, -1) != 0)
    # changing the other triangle changes nothing
    np.testing.assert_array_equal(fn(S + np.triu(W, 1)), fn(S))
    # through a symmetric matrix: the symmetric gradient (JAX's and PyTorch's)
    gs = grad(lambda x: fn(sym(x)))(S)
    np.testing.assert_allclose(gs, gs.T, rtol=1e-12)
    np.testing.assert_allclose(gs, (g + g.T) / 2, rtol=1e-12, atol=1e-15)


def test_upper_triangle_variants_read_the_upper_triangle() -> None:
    losses: list[Callable[[Any], Any]] = [
        lambda a: fnp.sum(LA.cholesky(a, upper=True) * W),
        lambda a: fnp.sum(LA.eigh(a, UPLO="U")[1] ** 2 * W),
        lambda a: fnp.sum(LA.eigvalsh(a, UPLO="u") * W[0])]
    for fn in losses:
        g = grad(fn)(S)
        assert np.all(np.tril(g, -1) == 0) and np.any(np.triu(g, 1) != 0)
        np.testing.assert_array_equal(fn(S + np.tril(W, -1)), fn(S))


# ---------------------------------------------------------------------------- eig


def test_eig_is_complex_under_transformations_and_refuses_eigenvector_gradients() -> None:
    # S has real eigenvalues: numpy's results are real arrays, traced ones complex
    w, v = LA.eig(S)
    assert w.dtype == np.float64
    (tw, tv), _ = vjp(lambda a: tuple(LA.eig(a)), S)
    assert tw.dtype == tv.dtype == np.complex128
    np.testing.assert_allclose(tw, w, rtol=1e-14)
    np.testing.assert_allclose(tv, v, rtol=1e-14)
    out = jit(LA.eigvals)(M.astype(np.float32))
    assert out.dtype == np.complex64
    # eigenvalues through eig have gradients even when the eigenvectors are also returned
    g = grad(lambda a: fnp.real(fnp.sum(LA.eig(a)[0] ** 2)))(M)
    np.testing.assert_allclose(g, 2 * M.T, rtol=1e-10)  # sum(w^2) = trace(a @ a)
    with pytest.raises(NotImplementedError, match="gradient of eig's eigenvectors"):
        grad(lambda a: fnp.real(fnp.sum(LA.eig(a)[1])))(M)


def test_eigenvalue_second_derivatives() -> None:
    # sum(w^3) = trace(a^3): the two have the same Hessian-vector products (here in the
    # direction W), the second through matmul alone.
    d = W

    def hvp(f: Callable[[Any], Any]) -> Any:
        return funcgrad.jvp(grad(f), (M,), (d,))[1]

    expected = hvp(lambda a: fnp.sum(fnp.linalg.diagonal(a @ a @ a)))
    np.testing.assert_allclose(hvp(lambda a: fnp.real(fnp.sum(LA.eigvals(a) ** 3))), expected,
                               rtol=1e-9)


# ---------------------------------------------------------------------------- values only


def test_rank_and_condition_numbers_under_transformations() -> None:
    rank2 = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 1.0, 1.0]])
    stack = np.stack([M, rank2, np.zeros((3, 3))])
    for kw in ({}, {"hermitian": True}, {"tol": 0.5}, {"rtol": 0.9}):
        a = stack if "hermitian" not in kw else np.stack([S, np.zeros((3, 3))])
        expected = np.linalg.matrix_rank(a, **kw)
        np.testing.assert_array_equal(jit(lambda x: LA.matrix_rank(x, **kw))(a), expected)
        np.testing.assert_array_equal(vmap(lambda x: LA.matrix_rank(x, **kw))(a), expected)
    np.testing.assert_array_equal(jit(LA.matrix_rank)(np.array([0.0, 2.0])), 1)
    for p in (None, 2, -2, 1, -1, np.inf, -np.inf, "fro", "nuc"):
        np.testing.assert_allclose(jit(lambda x: LA.cond(x, p))(stack[:1]),
                                   np.linalg.cond(stack[:1], p), rtol=1e-12)
    with np.errstate(all="ignore"):  # singular: infinite (also from 0 / 0), as numpy's
        for singular in (np.diag([1.0, 2.0, 0.0]), np.zeros((3, 3))):
            assert jit(LA.cond)(singular) == np.inf == np.linalg.cond(singular)


def test_lstsq_returns_residuals_rank_and_singular_values() -> None:
    a, b = T @ W[:2, :2], np.array([[1.0, 0.0], [2.0, -1.0], [0.5, 0.5], [-1.0, 3.0]])
    x, res, rank, s = jit(LA.lstsq)(a, b)
    ex, eres, erank, es = np.linalg.lstsq(a, b)
    np.testing.assert_allclose(x, ex, rtol=1e-12)
    np.testing.assert_allclose(res, eres, rtol=1e-10)
    assert rank == erank == 2 and rank.dtype == np.int32
    np.testing.assert_allclose(s, es, rtol=1e-12)
    # a wide matrix: no residuals
    assert jit(LA.lstsq)(T.T, T[:2, 0])[1].shape == (0,)


def test_results_are_named_tuples_with_numpy_s_fields() -> None:
    for traced in (False, True):
        def run(f: Callable[[Any], Any]) -> Any:
            return vjp(f, S)[0] if traced else f(S)
        assert run(lambda a: LA.eigh(a)).eigenvectors.shape == (3, 3)
        assert run(lambda a: LA.svd(a)).Vh.shape == (3, 3)
        assert run(lambda a: LA.qr(a)).R.shape == (3, 3)
        np.testing.assert_allclose(run(lambda a: LA.slogdet(a)).logabsdet,
                                   np.linalg.slogdet(S).logabsdet, rtol=1e-14)
        assert run(lambda a: LA.eig(a)).eigenvalues.shape == (3,)
    assert isinstance(LA.eigh(S), LA.EighResult)


def test_full_matrices_vectors_and_complete_q_have_no_gradient() -> None:
    with pytest.raises(NotImplementedError, match="full_matrices=True.*use full_matrices=False"):
        grad(lambda a: fnp.sum(LA.svd(a)[0] ** 2 * np.arange(4.0)[:, None]))(T)
    with pytest.raises(NotImplementedError, match="mode='complete'.*use mode='reduced'"):
        grad(lambda a: fnp.sum(LA.qr(a, mode="complete")[0] * np.arange(4.0)))(T)
    # their other outputs do
    np.testing.assert_allclose(grad(lambda a: fnp.sum(LA.svd(a)[1]))(T),
                               grad(lambda a: fnp.sum(LA.svdvals(a)))(T), rtol=1e-14)


def test_matrix_power_zero_is_the_identity_under_vmap_and_jit() -> None:
    a = np.stack([M, W])
    np.testing.assert_array_equal(vmap(lambda x: LA.matrix_power(x, 0))(a), np.stack([np.eye(3)] * 2))
    np.testing.assert_array_equal(jit(lambda x: LA.matrix_power(x, 0))(M), np.eye(3))
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(LA.matrix_power(x, 0)))(M), 0 * M)


# ---------------------------------------------------------------------------- dtypes


def test_integer_inputs_become_float64_and_float32_stays_float32() -> None:
    ints = np.array([[2, 1], [1, 3]])
    out, pullback = vjp(lambda x: LA.inv(x) * 1.0, ints.astype(np.float32))
    assert out.dtype == np.float32 and pullback(np.ones((2, 2), np.float32))[0].dtype == np.float32
    assert jit(LA.inv)(ints).dtype == np.float64
    np.testing.assert_allclose(jit(LA.det)(ints), 5.0, rtol=1e-14)
    both, pullback = vjp(LA.solve, M.astype(np.float32), np.ones(3))
    assert both.dtype == np.float64
    ga, gb = pullback(np.ones(3))
    assert ga.dtype == np.float32 and gb.dtype == np.float64
    assert jit(LA.norm)(np.array([3, 4])) == 5.0


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize("call,message", [
    (lambda x: LA.inv(x[0]), "inv: a must be a stack of square matrices (..., n, n), got shape (3,)"),
    (lambda x: LA.det(x[:2]), "det: a must be a stack of square matrices (..., n, n), got shape (2, 3)"),
    (lambda x: LA.cholesky(x[:, :2]), "cholesky: a must be a stack of square matrices"),
    (lambda x: LA.svd(x[0]), "svd: a must be a stack of matrices (..., m, n), got shape (3,)"),
    (lambda x: LA.solve(x, x[:2]), "solve: b must have shape (3,) or (..., 3, k) to fit a of shape (3, 3), got (2, 3)"),
    (lambda x: LA.solve(fnp.stack([x, x]), fnp.stack([x] * 3)[:, :, :1]), "solve: the batch axes of a (2, 3, 3) and b (3, 3, 1) do not broadcast"),
    (lambda x: LA.lstsq(x, x[:2, 0]), "lstsq: a must be (m, n) and b (m,) or (m, k), got shapes (3, 3) and (2,)"),
    (lambda x: LA.tensorinv(x[:2], ind=1), "tensorinv: a of shape (2, 3) is not square"),
    (lambda x: LA.multi_dot([x, x[:2], x]), "multi_dot: the arrays must be matrices"),
    (lambda x: LA.cross(x, x[:, :2]), "cross: x1 (3, 3) and x2 (3, 2) must both be 3-vectors"),
    (lambda x: LA.outer(x, x[0]), "linalg.outer: x1 and x2 must be 1-D, got shapes (3, 3) and (3,)"),
])
def test_shape_errors_name_the_function_argument_and_shapes(call: Callable[[Any], Any],
                                                           message: str) -> None:
    for traced in (False, True):
        with pytest.raises(ShapeError, match=re.escape(message) + ".*test_linalg.py"):
            if traced:
                grad(lambda x: fnp.sum(call(x)))(M)
            else:
                call(M)


def test_argument_errors() -> None:
    with pytest.raises(ValueError, match="UPLO argument must be 'L' or 'U'"):
        jit(lambda a: LA.eigh(a, UPLO="X"))(S)
    with pytest.raises(ValueError, match="Unrecognized mode 'q'"):
        jit(lambda a: LA.qr(a, mode="q"))(S)
    with pytest.raises(NotImplementedError, match="qr with mode='raw' under a transformation"):
        jit(lambda a: LA.qr(a, mode="raw"))(S)
    with pytest.raises(ValueError, match="`rtol` and `rcond` can't be both set"):
        jit(lambda a: LA.pinv(a, rcond=0.1, rtol=0.1))(S)
    with pytest.raises(TypeError, match="matrix_power: the exponent must be an integer"):
        jit(lambda a: LA.matrix_power(a, 1.5))(S)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid norm order 'nuc' for vectors"):
        jit(lambda a: LA.norm(a, "nuc"))(S[0])
    with pytest.raises(ValueError, match="Invalid norm order for matrices"):
        jit(lambda a: LA.norm(a, 3))(S)
    with pytest.raises(LA.LinAlgError):
        jit(LA.inv)(np.ones((2, 2)))


# ---------------------------------------------------------------------------- numpy's functions


NUMPY_CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("det", np.linalg.det), ("slogdet", lambda x: np.linalg.slogdet(x)[1]),
    ("inv", np.linalg.inv), ("solve", lambda x: np.linalg.solve(x, W[0])),
    ("lstsq", lambda x: np.linalg.lstsq(x, W, rcond=None)[0]),
    ("pinv", lambda x: np.linalg.pinv(x, rtol=0.1)), ("cholesky", lambda x: np.linalg.cholesky(
        x @ x.T, upper=True)), ("qr", lambda x: np.linalg.qr(x, mode="r")),
    ("eigh", lambda x: np.linalg.eigh(x @ x.T, UPLO="U")[0]),
    ("eigvalsh", lambda x: np.linalg.eigvalsh(x @ x.T)), ("eigvals", np.linalg.eigvals),
    ("svd", lambda x: np.linalg.svd(x, full_matrices=False)[1]),
    ("svd_values", lambda x: np.linalg.svd(x, compute_uv=False)), ("svdvals", np.linalg.svdvals),
    ("norm", lambda x: np.linalg.norm(x, ord=1, axis=0, keepdims=True)),
    ("vector_norm", lambda x: np.linalg.vector_norm(x, ord=3)),
    ("matrix_norm", lambda x: np.linalg.matrix_norm(x, ord="nuc")),
    ("matrix_power", lambda x: np.linalg.matrix_power(x, 3)),
    ("multi_dot", lambda x: np.linalg.multi_dot([x, W, x])),
    ("tensorinv", lambda x: np.linalg.tensorinv(x, ind=1)),
    ("tensorsolve", lambda x: np.linalg.tensorsolve(x, W[0])),
    ("cond", lambda x: np.linalg.cond(x, "fro")),
    ("matrix_transpose", np.linalg.matrix_transpose), ("vecdot", lambda x: np.linalg.vecdot(x, W)),
    ("outer", lambda x: np.linalg.outer(x[0], W[1])), ("cross", lambda x: np.linalg.cross(x, W)),
    ("trace", lambda x: np.linalg.trace(x, offset=1)),
    ("diagonal", lambda x: np.linalg.diagonal(x, offset=-1)),
    ("tensordot", lambda x: np.linalg.tensordot(x, W, axes=1)),
    ("matmul", lambda x: np.linalg.matmul(x, W)),
]


@pytest.mark.parametrize("call", [pytest.param(c, id=n) for n, c in NUMPY_CALLS])
def test_numpy_linalg_given_a_traced_value_runs_fnp_linalg(call: Callable[[Any], Any]) -> None:
    # numpy.linalg's functions given a traced value run funcgrad.numpy.linalg's, so they
    # trace and differentiate.
    np.testing.assert_allclose(jit(call)(M), call(M), rtol=1e-12)
    check_grads(lambda x: fnp.real(call(x)), (M,), order=1, modes=("rev",))
