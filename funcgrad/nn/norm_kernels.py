"""Numpy kernels for batch normalisation in training: plain arrays in, plain arrays out.

Over the reduced `axes` of x, with n the number of values each statistic covers::

    mean = sum(x) / n,   var = sum((x - mean)**2) / n   (biased, two passes: no cancellation)
    y    = (x - mean) / sqrt(var + epsilon) * scale + offset

scale, offset, mean and var have the shape of x without the reduced axes. The backward
pass is the closed form of y's VJP, one pass over x and dy for the two sums and one for
dx, where autodiff of the formula above makes some twenty full-size temporaries
(d's mean, zero but for the rounding of `mean`, is taken out of d in the code)::

    r = 1 / sqrt(var + epsilon),   d = x - mean
    doffset = sum(dy),   dscale = r * sum(dy * d)
    dx = scale * r * dy - scale * r / n * doffset - d * scale * r**3 / n * sum(dy * d)

x - mean is recomputed in the backward pass, in the workspace of funcgrad.nn.kernels
(fresh memory costs a page fault per 4 KiB, as much as the arithmetic). Every array is
computed in x's dtype (the caller makes all operands one floating dtype). Sums over the
axes of an NCHW or NC batch (all but one run of consecutive axes) are matrix-vector
products with a vector of ones, which BLAS does several times faster than np.sum over
strided axes; other layouts use np.sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from funcgrad.nn.kernels import scratch

__all__ = ["batch_norm_backward", "batch_norm_forward"]

FloatArray = NDArray[np.floating[Any]]


def kept_shape(shape: Sequence[int], axes: tuple[int, ...]) -> tuple[int, ...]:
    """x's shape with the reduced axes of size 1, for broadcasting the statistics."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _three_d(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(before, kept, after) sizes when the kept axes are consecutive, else None."""
    kept = [i for i in range(len(shape)) if i not in axes]
    if not kept or kept != list(range(kept[0], kept[-1] + 1)):
        return None
    return (math.prod(shape[:kept[0]]), math.prod(shape[kept[0]:kept[-1] + 1]),
            math.prod(shape[kept[-1] + 1:]))


def _sum(a: FloatArray, axes: tuple[int, ...], out_shape: tuple[int, ...]) -> FloatArray:
    abc = _three_d(a.shape, axes)
    total: FloatArray
    if abc is None or min(abc) == 0:
        total = np.sum(a, axis=axes)
    else:
        before, kept, after = abc
        rows = a.reshape(before * kept, after) @ np.ones(after, a.dtype)
        total = np.ones(before, a.dtype) @ rows.reshape(before, kept)
    return total.reshape(out_shape)


def _dot(a: FloatArray, b: FloatArray, axes: tuple[int, ...], out_shape: tuple[int, ...]
         ) -> FloatArray:
    """sum(a * b) over axes, without an a * b temporary when the layout allows."""
    abc = _three_d(a.shape, axes)
    dot: FloatArray
    if abc is None:
        dot = np.sum(a * b, axis=axes)
    else:
        dot = np.einsum("akb,akb->k", a.reshape(abc), b.reshape(abc))
    return dot.reshape(out_shape)


def batch_norm_forward(x: FloatArray, scale: FloatArray, offset: FloatArray,
                       axes: tuple[int, ...], epsilon: float
                       ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(y, mean, var): x normalised over axes with the batch's statistics, then scaled and
    offset; mean and the biased var have scale's shape."""
    stat_shape, kept = scale.shape, kept_shape(x.shape, axes)
    n = math.prod(x.shape[i] for i in axes)
    mean = _sum(x, axes, stat_shape) / x.dtype.type(n)
    y = np.subtract(x, mean.reshape(kept))
    var = _dot(y, y, axes, stat_shape) / x.dtype.type(n)
    y *= (scale / np.sqrt(var + x.dtype.type(epsilon))).reshape(kept)
    y += offset.reshape(kept)
    return y, mean, var


def batch_norm_backward(x: FloatArray, scale: FloatArray, mean: FloatArray, var: FloatArray,
                        dy: FloatArray, axes: tuple[int, ...], epsilon: float
                        ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(dx, dscale, doffset): the VJP of batch_norm_forward's y for the cotangent dy."""
    stat_shape, kept = scale.shape, kept_shape(x.shape, axes)
    n = x.dtype.type(math.prod(x.shape[i] for i in axes))
    r = 1 / np.sqrt(var + x.dtype.type(epsilon))
    doffset = _sum(dy, axes, stat_shape)
    d = np.subtract(x, mean.reshape(kept), out=scratch(0, x.shape, x.dtype))
    # d's own mean is the rounding error of `mean` (zero in exact arithmetic); taking it
    # out keeps dx right when the mean is large against the spread, as in float32.
    d_mean = _sum(d, axes, stat_shape) / n
    dy_d = _dot(dy, d, axes, stat_shape) - d_mean * doffset
    sr = scale * r
    d_scale = -sr * r * r / n * dy_d
    d *= d_scale.reshape(kept)
    d -= (sr / n * doffset + d_mean * d_scale).reshape(kept)
    dx = np.multiply(dy, sr.reshape(kept))
    dx += d
    return dx, r * dy_d, doffset
