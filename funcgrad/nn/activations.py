"""Activations and normalisers with JAX's values and gradients, stable at large |x|.

Each follows jax.nn's definition, so its values at nan and +-inf and its derivatives at
the kinks are JAX's: nan in gives nan out; relu'(0) = relu6'(0) = relu6'(6) = 0, while
leaky_relu'(0) = hard_tanh'(+-1) = 1 and elu'(0) = alpha. softplus and log_sigmoid go
through logaddexp, whose derivative is a logistic, so both are finite at +-1e4 in float32.
softmax and log_softmax of a slice that is all -inf or holds +inf are nan (their gradients
too), and logsumexp of an all -inf slice is -inf with a nan gradient, as in JAX.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core import Primitive
from funcgrad.numpy import Array, ArrayLike, Axis
from funcgrad.primitives.base import batch_elementwise, elementwise_shape
from funcgrad.scipy import special

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)


def _relu(x: Any, out: Any = None) -> Any:
    x = np.asarray(x)
    return np.maximum(x, x.dtype.type(0), out=out)  # np.maximum keeps nans


# One primitive, not where(x > 0, x, 0): one pass forward instead of three. Its
# derivative is 1 where the output is positive, so 0 at 0 and at nan, as JAX's.
relu_p: Primitive = Primitive(
    "relu", _relu, elementwise_shape,
    (lambda g, y, x: fnp.where(fnp.greater(y, 0), g, 0),), batch_elementwise, writes_out=True)


def relu(x: ArrayLike) -> Array:
    """max(x, 0), nan at nan; its derivative is 0 at 0 and at nan (as in JAX)."""
    return relu_p.bind(x)


def relu6(x: ArrayLike) -> Array:
    """min(max(x, 0), 6), nan at nan; its derivative is 0 at 0 and at 6 (as in JAX)."""
    return fnp.where(fnp.less_equal(x, 0), 0, fnp.where(fnp.greater_equal(x, 6), 6, x))


def leaky_relu(x: ArrayLike, negative_slope: float = 0.01) -> Array:
    """x where x >= 0, negative_slope * x below."""
    return fnp.where(fnp.greater_equal(x, 0), x, fnp.multiply(negative_slope, x))


def elu(x: ArrayLike, alpha: float = 1.0) -> Array:
    """x where x > 0, alpha * (exp(x) - 1) elsewhere."""
    positive = fnp.greater(x, 0)
    # expm1 sees only x <= 0, so it neither overflows nor gives inf * 0 in the gradient
    return fnp.where(positive, x, fnp.multiply(alpha, fnp.expm1(fnp.where(positive, 0, x))))


def selu(x: ArrayLike) -> Array:
    """SELU_SCALE * elu(x, SELU_ALPHA), the self-normalising ELU (Klambauer et al., 2017)."""
    return fnp.multiply(SELU_SCALE, elu(x, SELU_ALPHA))


def celu(x: ArrayLike, alpha: float = 1.0) -> Array:
    """max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1): elu continuously differentiable."""
    return fnp.add(fnp.maximum(x, 0),
                   fnp.multiply(alpha, fnp.expm1(fnp.divide(fnp.minimum(x, 0), alpha))))


def gelu(x: ArrayLike, approximate: bool = False) -> Array:
    """x * Phi(x), Phi the normal CDF (exact, from erfc; PyTorch's default) or with
    approximate=True its tanh form 0.5 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (JAX's
    default). Both are nan at -inf, as JAX's (-inf * 0)."""
    if approximate:
        inner = fnp.multiply(_SQRT_2_OVER_PI,
                             fnp.add(x, fnp.multiply(0.044715, fnp.power(x, 3))))
        return fnp.multiply(x, fnp.multiply(0.5, fnp.add(1, fnp.tanh(inner))))
    return fnp.multiply(fnp.multiply(0.5, x), special.erfc(fnp.multiply(-_SQRT_HALF, x)))


def sigmoid(x: ArrayLike) -> Array:
    """1 / (1 + exp(-x)), without overflow for large |x|."""
    return special.expit(x)


def silu(x: ArrayLike) -> Array:
    """x * sigmoid(x), also called swish."""
    return fnp.multiply(x, sigmoid(x))


swish = silu


def softplus(x: ArrayLike) -> Array:
    """log(1 + exp(x)), as logaddexp(x, 0): finite values and gradients for any finite x."""
    return fnp.logaddexp(x, 0)


def log_sigmoid(x: ArrayLike) -> Array:
    """log(sigmoid(x)) = -softplus(-x), finite far below 0 where sigmoid underflows."""
    return fnp.negative(softplus(fnp.negative(x)))


def softsign(x: ArrayLike) -> Array:
    """x / (|x| + 1)."""
    return fnp.divide(x, fnp.add(fnp.abs(x), 1))


def hard_tanh(x: ArrayLike) -> Array:
    """x clipped to [-1, 1]; its derivative is 1 at -1 and at 1 (as in JAX)."""
    return fnp.where(fnp.greater(x, 1), 1, fnp.where(fnp.less(x, -1), -1, x))


def tanh(x: ArrayLike) -> Array:
    """Hyperbolic tangent."""
    return fnp.tanh(x)


def logsumexp(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """log(sum(exp(x))) over axis, shifted by the maximum so that nothing overflows."""
    return fnp.logsumexp(x, axis=axis, keepdims=keepdims)


def log_softmax(x: ArrayLike, axis: Axis = -1) -> Array:
    """x - logsumexp(x) along axis: log-probabilities, finite even for logits of 1e4."""
    return special.log_softmax(x, axis=axis)


def softmax(x: ArrayLike, axis: Axis = -1) -> Array:
    """exp(x) / sum(exp(x)) along axis, computed from shifted logits."""
    return special.softmax(x, axis=axis)
