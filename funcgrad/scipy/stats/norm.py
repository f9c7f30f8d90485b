"""`funcgrad.scipy.stats.norm`: the normal distribution's log density, density and
(log) distribution and survival functions, with scipy's loc and scale.

The distribution functions are funcgrad.scipy.special's ndtr and log_ndtr of the
standardized x, so logcdf and logsf are accurate far in the tails (where cdf and sf
underflow) and their derivatives are JAX's.
"""

from __future__ import annotations

import math

from funcgrad import numpy as fnp
from funcgrad.numpy import Array, ArrayLike
from funcgrad.scipy.special import _floats, log_ndtr, ndtr

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _standardized(x: ArrayLike, loc: ArrayLike, scale: ArrayLike) -> Array:
    """(x - loc) / scale."""
    return fnp.divide(fnp.subtract(x, loc), scale)


def logpdf(x: ArrayLike, loc: ArrayLike = 0, scale: ArrayLike = 1) -> Array:
    """The log of the normal density with mean loc and standard deviation scale."""
    x, loc, scale = _floats(x, loc, scale)  # a Python scale keeps float32 x float32
    z = _standardized(x, loc, scale)
    log_normalizer = fnp.add(fnp.log(scale), _LOG_SQRT_2PI)
    return fnp.subtract(fnp.multiply(-0.5, fnp.square(z)), log_normalizer)


def pdf(x: ArrayLike, loc: ArrayLike = 0, scale: ArrayLike = 1) -> Array:
    """The normal density with mean loc and standard deviation scale."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x: ArrayLike, loc: ArrayLike = 0, scale: ArrayLike = 1) -> Array:
    """P(X <= x) for X normal with mean loc and standard deviation scale."""
    return ndtr(_standardized(x, loc, scale))


def logcdf(x: ArrayLike, loc: ArrayLike = 0, scale: ArrayLike = 1) -> Array:
    """log P(X <= x), accurate where the probability underflows."""
    return log_ndtr(_standardized(x, loc, scale))


def sf(x: ArrayLike, loc: ArrayLike = 0, scale: ArrayLike = 1) -> Array:
    """P(X > x) = 1 - cdf(x), accurate where it is tiny."""
    return ndtr(_standardized(loc, x, scale))


def logsf(x: ArrayLike, loc: ArrayLike = 0, scale: ArrayLike = 1) -> Array:
    """log P(X > x), accurate where the probability underflows."""
    return log_ndtr(_standardized(loc, x, scale))
