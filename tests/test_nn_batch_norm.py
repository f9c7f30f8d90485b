"""Tests for batch normalisation: the numpy kernels of nn.norm_kernels against the
funcgrad.numpy formulas they replace, and nn.batch_norm's checks. (Gradients of order 2,
jvp, vmap, jit and float32 of nn.batch_norm are in the shared case table, cases/nn.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import nn
from funcgrad.nn import norm_kernels as K
from funcgrad.nn.normalization import batch_norm_grad_reference, batch_norm_reference

TOLERANCE = {np.float32: 1e-4, np.float64: 1e-11}

# (x shape, reduced axes): NCHW, NC, odd sizes, one image, features last, features not
# consecutive (np.sum's path), everything reduced but a middle axis
LAYOUTS = [
    ((4, 3, 5, 6), (0, 2, 3)),
    ((7, 5), (0,)),
    ((1, 3, 7, 1), (0, 2, 3)),
    ((3, 4, 5), (0, 1)),
    ((2, 3, 4, 5), (0, 2)),
    ((3, 2, 2, 3, 2), (0, 2, 4)),
    ((5, 1, 9), (0, 2)),
]


def operands(shape: tuple[int, ...], axes: tuple[int, ...], dtype: Any, seed: int = 0
             ) -> tuple[np.ndarray[Any, Any], ...]:
    rng = np.random.default_rng(seed)
    stat = tuple(n for i, n in enumerate(shape) if i not in axes)
    x = rng.normal(0.5, 2.0, shape)
    scale, offset, dy = rng.normal(size=stat), rng.normal(size=stat), rng.normal(size=shape)
    return tuple(a.astype(dtype) for a in (x, scale, offset, dy))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axes", LAYOUTS)
def test_kernels_match_the_formulas(shape: tuple[int, ...], axes: tuple[int, ...],
                                    dtype: Any) -> None:
    x, scale, offset, dy = operands(shape, axes, dtype)
    tol = TOLERANCE[dtype]
    got = K.batch_norm_forward(x, scale, offset, axes, 1e-5)
    want = batch_norm_reference(x, scale, offset, axes=axes, epsilon=1e-5)
    for g, w in zip(got, want):
        assert g.dtype == dtype and g.shape == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    _, mean, var = got
    grads = K.batch_norm_backward(x, scale, mean, var, dy, axes, 1e-5)
    for g, w in zip(grads, batch_norm_grad_reference(x, scale, mean, var, dy, axes=axes,
                                                     epsilon=1e-5)):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("shape, axes", LAYOUTS[:3])
def test_backward_is_the_vjp_of_the_forward(shape: tuple[int, ...], axes: tuple[int, ...]) -> None:
    x, scale, offset, dy = operands(shape, axes, np.float64, seed=1)

    def y(x: Any, scale: Any, offset: Any) -> Any:
        return batch_norm_reference(x, scale, offset, axes=axes, epsilon=1e-5)[0]

    _, pullback = fg.vjp(y, x, scale, offset)
    _, mean, var = K.batch_norm_forward(x, scale, offset, axes, 1e-5)
    for g, w in zip(K.batch_norm_backward(x, scale, mean, var, dy, axes, 1e-5), pullback(dy)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


def test_float32_statistics_survive_a_large_mean() -> None:
    # one-pass E[x^2] - E[x]^2 would lose every digit of the variance here in float32
    rng = np.random.default_rng(2)
    x = (1000.0 + rng.normal(0.0, 0.01, (64, 4, 8, 8))).astype(np.float32)
    ones, zeros = np.ones(4, np.float32), np.zeros(4, np.float32)
    y, mean, var = K.batch_norm_forward(x, ones, zeros, (0, 2, 3), 0.0)
    exact = x.astype(np.float64).var(axis=(0, 2, 3))
    np.testing.assert_allclose(var, exact, rtol=1e-3)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1.0, rtol=1e-3)
    dx, _, _ = K.batch_norm_backward(x, ones, mean, var, np.ones_like(x), (0, 2, 3), 0.0)
    assert np.abs(dx).max() < 1e-2  # a constant cotangent moves nothing after normalising


def test_cotangents_of_the_statistics() -> None:
    # mean and var are outputs with gradients of their own, as in the formulas
    x, scale, offset, _ = operands((4, 3, 2), (0, 2), np.float64, seed=3)

    def stats(f: Any) -> Any:
        def loss(x: Any) -> Any:
            y, mean, var = f(x)
            return fg.numpy.sum(fg.numpy.sin(y)) + fg.numpy.sum(mean * var) + fg.numpy.sum(var)
        return fg.grad(loss)(x)

    got = stats(lambda x: nn.batch_norm(x, scale, offset))
    want = stats(lambda x: batch_norm_reference(x, scale, offset, axes=(0, 2), epsilon=1e-5))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_hessian_matches_the_formulas() -> None:
    x, scale, offset, _ = operands((3, 2, 2), (0, 2), np.float64, seed=4)

    def loss(f: Any) -> Any:
        return lambda x: fg.numpy.sum(fg.numpy.sin(f(x)[0]) * offset[None, :, None])

    got = fg.hessian(loss(lambda x: nn.batch_norm(x, scale, offset)))(x)
    want = fg.hessian(loss(lambda x: batch_norm_reference(x, scale, offset, axes=(0, 2),
                                                         epsilon=1e-5)))(x)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_one_equation_each_way_under_jit() -> None:
    x, scale, offset, _ = operands((4, 3, 2, 2), (0, 2, 3), np.float32)

    def loss(x: Any, scale: Any, offset: Any) -> Any:
        return fg.numpy.sum(fg.numpy.square(nn.batch_norm(x, scale, offset)[0]))

    names = [e.prim.name for e in fg.jit(fg.grad(loss, argnums=(0, 1, 2))).lower(
        x, scale, offset).eqns]
    assert names.count("batch_norm") == 1 and names.count("batch_norm_grad") == 1


def test_errors_name_the_argument_and_shapes() -> None:
    x = np.zeros((4, 3, 2, 2), np.float32)
    with pytest.raises(ValueError,
                       match=r"scale must have the shape \(3,\).*\(4, 3, 2, 2\).*\(2,\)"):
        nn.batch_norm(x, np.ones(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"offset must have the shape \(2,\)"):
        nn.batch_norm(x, np.ones(2), np.zeros(3), axis=3)
    with pytest.raises(ValueError, match="axis 4"):
        nn.batch_norm(x, np.ones(3), np.zeros(3), axis=4)
    with pytest.raises(ValueError, match="no values"):
        nn.batch_norm(np.zeros((0, 3)), np.ones(3), np.zeros(3))
    with pytest.raises(TypeError, match="floating"):
        nn.batch_norm(np.zeros((2, 3), np.complex64), np.ones(3), np.zeros(3))


def test_dtypes() -> None:
    x, scale, offset, _ = operands((4, 3), (0,), np.float32)
    assert all(a.dtype == np.float32 for a in nn.batch_norm(x, scale, offset))
    assert all(a.dtype == np.float64 for a in nn.batch_norm(x, scale.astype(np.float64), offset))
    ints = np.arange(12).reshape(4, 3), np.ones(3, int), np.zeros(3, int)
    assert all(a.dtype == np.float64 for a in nn.batch_norm(*ints))
