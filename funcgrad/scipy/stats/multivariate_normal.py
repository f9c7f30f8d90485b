"""`funcgrad.scipy.stats.multivariate_normal`: the log density and density of the
multivariate normal distribution, from a Cholesky factor of the covariance.

As scipy's: mean None is zero; cov may be a scalar (a multiple of the identity; with a
scalar or no mean, a one-dimensional distribution evaluated elementwise), a vector (a
diagonal covariance) or a matrix, and x has the components on its last axis, the leading
axes a batch of points. Unlike scipy's, the result is not squeezed: x of shape (m, n)
gives shape (m,) also for m = 1 (as JAX's); matrices may be batched too, (..., n, n). A
matrix covariance is symmetrized first, (cov + cov^T) / 2, as JAX does, so its gradient
is symmetric; allow_singular=True is not supported.
"""

from __future__ import annotations

import math

from funcgrad import numpy as fnp
from funcgrad.core import ShapeError, user_location
from funcgrad.numpy import Array, ArrayLike
from funcgrad.scipy.linalg import solve_triangular
from funcgrad.scipy.special import _floats

__all__ = ["logpdf", "pdf"]

_LOG_2PI = math.log(2 * math.pi)


def _check(x: Array, mean: Array | None, cov: Array, n: int) -> None:
    """x and mean must be n-vectors (or stacks, mean also a scalar), a matrix cov square."""
    if cov.ndim > 1 and cov.shape[-2] != n:
        raise ShapeError(f"multivariate_normal.logpdf: cov must be a square matrix (or a stack "
                         f"of them), got shape {cov.shape}" + user_location())
    for name, arg in (("x", x), ("mean", mean)):
        if arg is not None and arg.ndim and arg.shape[-1] != n:
            raise ShapeError(f"multivariate_normal.logpdf: {name} of shape {arg.shape} does not "
                             f"fit a covariance of dimension {n}" + user_location())


def logpdf(x: ArrayLike, mean: ArrayLike | None = None, cov: ArrayLike = 1,
           allow_singular: bool = False) -> Array:
    """The log density at the points x (components on the last axis) of the normal
    distribution with the given mean (None: zero) and covariance."""
    if allow_singular:
        raise NotImplementedError("multivariate_normal.logpdf: allow_singular=True (a "
                                  "singular covariance) is not supported" + user_location())
    if mean is None:
        x, cov = _floats(x, cov)
    else:
        x, mean, cov = _floats(x, mean, cov)
    one_dimensional = cov.ndim == 0 and (mean is None or mean.ndim == 0)
    if one_dimensional:
        n = 1
    else:
        n = cov.shape[-1] if cov.ndim else x.shape[-1] if mean is None else mean.shape[-1]
        _check(x, mean, cov, n)
    d = x if mean is None else fnp.subtract(x, mean)
    if one_dimensional:  # elementwise
        quadratic = fnp.divide(fnp.square(d), cov)
        log_det = fnp.log(cov)
    elif cov.ndim == 0:  # cov times the identity
        quadratic = fnp.divide(fnp.sum(fnp.square(d), axis=-1), cov)
        log_det = fnp.multiply(n, fnp.log(cov))
    elif cov.ndim == 1:  # a diagonal
        quadratic = fnp.sum(fnp.divide(fnp.square(d), cov), axis=-1)
        log_det = fnp.sum(fnp.log(cov), axis=-1)
    else:
        factor = fnp.linalg.cholesky(fnp.multiply(0.5, fnp.add(cov, fnp.swapaxes(cov, -1, -2))))
        # |L^-1 d|^2 = d^T cov^-1 d: a triangular solve for each point
        y = solve_triangular(factor, fnp.expand_dims(d, -1), lower=True)
        quadratic = fnp.sum(fnp.square(y[..., 0]), axis=-1)
        log_det = fnp.multiply(2, fnp.sum(fnp.log(fnp.diagonal(factor, 0, -2, -1)), axis=-1))
    return fnp.multiply(-0.5, fnp.add(fnp.add(quadratic, log_det), n * _LOG_2PI))


def pdf(x: ArrayLike, mean: ArrayLike | None = None, cov: ArrayLike = 1,
        allow_singular: bool = False) -> Array:
    """The density at the points x of the normal distribution with the given mean and
    covariance."""
    return fnp.exp(logpdf(x, mean, cov, allow_singular))
