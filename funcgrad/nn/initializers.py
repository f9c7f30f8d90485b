"""Parameter initializers: `init(key, shape, fan_in, fan_out, dtype) -> array`.

Each is a pure function of its key (funcgrad.random): the same key gives the same values,
and it traces, jits and vmaps over keys like any sampler. The scaled ones draw with
variance scale / fan: Glorot (2 / (fan_in + fan_out)), He (2 / fan_in), LeCun (1 / fan_in).
The uniform variants draw from +-sqrt(3 * variance), the normal variants from a plain
(untruncated) normal, as PyTorch's do. JAX's truncate at two standard deviations and
rescale; the plain normal was kept because it is what funcgrad's layers have drawn so far
(the same key gives the same weights as before) and, at the variances these fans give, its
rare draws beyond two standard deviations do no harm.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import numpy as fnp
from funcgrad import random
from funcgrad.core import Array, user_location

Shape = tuple[int, ...]

Initializer = Callable[[Array, Shape, int, int, DTypeLike], Array]
"""initializer(key, shape, fan_in, fan_out, dtype) -> array."""

def _fan(name: str, value: int) -> int:
    if value <= 0:
        raise ValueError(f"initializer: {name} must be positive, got {value}" + user_location())
    return value


def _normal(key: Array, shape: Shape, dtype: DTypeLike, variance: float) -> Array:
    """A normal of the given variance."""
    return random.normal(key, shape, dtype) * math.sqrt(variance)


def _uniform(key: Array, shape: Shape, dtype: DTypeLike, variance: float) -> Array:
    """Uniform in +-sqrt(3 * variance), which has the given variance."""
    limit = math.sqrt(3.0 * variance)
    return random.uniform(key, shape, dtype, -limit, limit)


def glorot_normal(key: Array, shape: Shape, fan_in: int, fan_out: int,
                  dtype: DTypeLike = np.float32) -> Array:
    """Variance 2 / (fan_in + fan_out), normal (Glorot and Bengio, 2010)."""
    return _normal(key, shape, dtype, 2.0 / (_fan("fan_in", fan_in) + _fan("fan_out", fan_out)))


def glorot_uniform(key: Array, shape: Shape, fan_in: int, fan_out: int,
                   dtype: DTypeLike = np.float32) -> Array:
    """Uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    return _uniform(key, shape, dtype, 2.0 / (_fan("fan_in", fan_in) + _fan("fan_out", fan_out)))


def he_normal(key: Array, shape: Shape, fan_in: int, fan_out: int,
              dtype: DTypeLike = np.float32) -> Array:
    """Variance 2 / fan_in, normal, for ReLU networks (He et al., 2015)."""
    return _normal(key, shape, dtype, 2.0 / _fan("fan_in", fan_in))


def he_uniform(key: Array, shape: Shape, fan_in: int, fan_out: int,
               dtype: DTypeLike = np.float32) -> Array:
    """Uniform in +-sqrt(6 / fan_in), for ReLU networks (He et al., 2015)."""
    return _uniform(key, shape, dtype, 2.0 / _fan("fan_in", fan_in))


def lecun_normal(key: Array, shape: Shape, fan_in: int, fan_out: int,
                 dtype: DTypeLike = np.float32) -> Array:
    """Variance 1 / fan_in, normal (LeCun et al., 1998; SELU networks)."""
    return _normal(key, shape, dtype, 1.0 / _fan("fan_in", fan_in))


def lecun_uniform(key: Array, shape: Shape, fan_in: int, fan_out: int,
                  dtype: DTypeLike = np.float32) -> Array:
    """Uniform in +-sqrt(3 / fan_in) (LeCun et al., 1998)."""
    return _uniform(key, shape, dtype, 1.0 / _fan("fan_in", fan_in))


def orthogonal(key: Array, shape: Shape, fan_in: int, fan_out: int,
               dtype: DTypeLike = np.float32) -> Array:
    """A random orthogonal matrix reshaped to shape (Saxe et al., 2014): viewed as
    (shape[0], prod(shape[1:])), its columns are orthonormal if it has at least as many
    rows as columns, else its rows are; the Q of a Gaussian matrix's QR, sign-corrected so
    that it is uniform (Haar) over the orthogonal matrices."""
    if len(shape) < 2:
        raise ValueError(f"orthogonal: shape must have at least 2 axes, got {tuple(shape)}"
                         + user_location())
    rows, cols = shape[0], math.prod(shape[1:])
    tall = (max(rows, cols), min(rows, cols))
    q, r = fnp.linalg.qr(random.normal(key, tall, np.float64))
    # QR's Q alone is not uniform: the signs of R's diagonal are fixed by the algorithm
    q = fnp.multiply(q, fnp.where(fnp.diagonal(r) < 0, -1.0, 1.0))
    matrix = q if rows >= cols else fnp.transpose(q)
    return fnp.astype(fnp.reshape(matrix, tuple(shape)), dtype)


def zeros(key: Array, shape: Shape, fan_in: int, fan_out: int,
          dtype: DTypeLike = np.float32) -> Array:
    """All zeros (the key is not used)."""
    return np.zeros(shape, dtype)


def ones(key: Array, shape: Shape, fan_in: int, fan_out: int,
         dtype: DTypeLike = np.float32) -> Array:
    """All ones (the key is not used)."""
    return np.ones(shape, dtype)
