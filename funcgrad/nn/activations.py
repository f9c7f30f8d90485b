"""Activations and normalisers, numerically stable, with stable gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core import Tracer
from funcgrad.numpy import Array, ArrayLike, Axis
from funcgrad.primitives.elementwise import logistic_p


def relu(x: ArrayLike) -> Array:
    """max(x, 0); its gradient at 0 is 0 (as in JAX and PyTorch)."""
    return fnp.where(fnp.greater(x, 0), x, 0)


def sigmoid(x: ArrayLike) -> Array:
    """1 / (1 + exp(-x)), without overflow for large |x|."""
    dtype: Any = x.dtype if isinstance(x, (Tracer, np.ndarray, np.generic)) else np.float64
    return logistic_p.bind(fnp.astype(x, np.result_type(dtype, np.float16)))


def tanh(x: ArrayLike) -> Array:
    """Hyperbolic tangent."""
    return fnp.tanh(x)


def _shifted(x: ArrayLike, axis: Axis) -> tuple[Array, Array]:
    """(x - m, m) with m the maximum along axis (kept), not differentiated.

    The shift cancels in every value and gradient below, so it need not be differentiated;
    where a slice is all -inf, m would be -inf and give nan, so it falls back to 0.
    """
    m = fnp.stop_gradient(fnp.max(x, axis=axis, keepdims=True))
    m = fnp.where(fnp.isfinite(m), m, 0)
    return fnp.subtract(x, m), m


def logsumexp(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """log(sum(exp(x))) over axis, shifted by the maximum so that nothing overflows."""
    shifted, m = _shifted(x, axis)
    out = fnp.add(fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True)), m)
    return out if keepdims else fnp.squeeze(out, axis)


def log_softmax(x: ArrayLike, axis: Axis = -1) -> Array:
    """x - logsumexp(x): log-probabilities, finite even for logits of 1000."""
    # computed from the shifted logits, so float32 keeps its precision at large logits
    shifted, _ = _shifted(x, axis)
    return fnp.subtract(shifted, fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True)))


def softmax(x: ArrayLike, axis: Axis = -1) -> Array:
    """exp(x) / sum(exp(x)) along axis, computed from shifted logits."""
    e = fnp.exp(_shifted(x, axis)[0])
    return fnp.divide(e, fnp.sum(e, axis=axis, keepdims=True))
