"""Cases of funcgrad.nn's activations and losses, against numpy formulas written out by hand.

Inputs keep away from the kinks (relu's 0, relu6's 0 and 6, hard_tanh's +-1, huber's
|d| = delta, l1's 0), where the one-sided derivatives differ and finite differences would
straddle them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from cases.base import Gen, away_from_zero, case, distinct, normal, uniform
from funcgrad import nn

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
LABELS = np.array([3, 0, 4, 1])  # for logits of shape (4, 5)
erfc = np.vectorize(math.erfc)


def near(*centres: float, shape: tuple[int, ...] = (2, 3)) -> Gen:
    """Values within 0.2 of the given centres (chosen at random)."""
    return lambda rng: rng.choice(centres, shape) + rng.uniform(-0.2, 0.2, shape)


def np_sigmoid(x: Any) -> Any:
    return 1 / (1 + np.exp(-x))


def np_elu(x: Any, alpha: float = 1.0) -> Any:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def np_log_softmax(z: Any, axis: int = -1) -> Any:
    s = z - z.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def np_huber(p: Any, t: Any, delta: float = 1.0) -> Any:
    a = np.abs(p - t)
    return np.where(a <= delta, 0.5 * a ** 2, delta * (a - 0.5 * delta))


def smoothed(labels: Any, classes: int, s: float) -> Any:
    return (1 - s) * np.eye(classes)[labels] + s / classes


ACTIVATIONS = [
    case("nn_relu", nn.relu, lambda x: np.maximum(x, 0), away_from_zero(2, 3)),
    case("nn_relu6", nn.relu6, lambda x: np.minimum(np.maximum(x, 0), 6),
         near(-1.0, 0.5, 3.0, 5.5, 7.0)),
    case("nn_leaky_relu", nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x),
         away_from_zero(2, 3)),
    case("nn_leaky_relu_slope", lambda x: nn.leaky_relu(x, negative_slope=0.3),
         lambda x: np.where(x >= 0, x, 0.3 * x), away_from_zero(2, 3)),
    case("nn_elu", nn.elu, np_elu, away_from_zero(2, 3)),
    case("nn_elu_alpha", lambda x: nn.elu(x, alpha=0.5), lambda x: np_elu(x, 0.5),
         away_from_zero(2, 3)),
    case("nn_selu", nn.selu, lambda x: SELU_SCALE * np_elu(x, SELU_ALPHA), away_from_zero(2, 3)),
    case("nn_celu", lambda x: nn.celu(x, alpha=2.0),
         lambda x: np.where(x > 0, x, 2.0 * np.expm1(x / 2.0)), away_from_zero(2, 3)),
    case("nn_gelu", nn.gelu, lambda x: 0.5 * x * erfc(-x / math.sqrt(2)), uniform(-4, 4, 2, 3)),
    case("nn_gelu_tanh", lambda x: nn.gelu(x, approximate=True),
         lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
         uniform(-4, 4, 2, 3)),
    case("nn_silu", nn.silu, lambda x: x * np_sigmoid(x), normal(2, 3)),
    case("nn_softplus", nn.softplus, lambda x: np.log1p(np.exp(x)), uniform(-6, 6, 2, 3)),
    case("nn_log_sigmoid", nn.log_sigmoid, lambda x: np.log(np_sigmoid(x)), uniform(-6, 6, 2, 3)),
    case("nn_softsign", nn.softsign, lambda x: x / (np.abs(x) + 1), away_from_zero(2, 3)),
    case("nn_hard_tanh", nn.hard_tanh, lambda x: np.clip(x, -1, 1), near(-1.5, -0.4, 0.3, 1.6)),
    case("nn_sigmoid", nn.sigmoid, np_sigmoid, uniform(-6, 6, 2, 3)),
    case("nn_tanh", nn.tanh, np.tanh, normal(2, 3)),
    case("nn_softmax", nn.softmax, lambda z: np.exp(np_log_softmax(z)), normal(3, 4)),
    case("nn_log_softmax_axis0", lambda z: nn.log_softmax(z, axis=0),
         lambda z: np_log_softmax(z, 0), normal(3, 4)),
    case("nn_logsumexp_keepdims", lambda z: nn.logsumexp(z, axis=1, keepdims=True),
         lambda z: np.log(np.exp(z).sum(axis=1, keepdims=True)), normal(3, 4)),
]

LOSSES = [
    case("nn_cross_entropy_labels", lambda z: nn.cross_entropy(z, LABELS),
         lambda z: -np.mean(np_log_softmax(z)[np.arange(4), LABELS]), normal(4, 5)),
    case("nn_cross_entropy_soft_sum", lambda z, t: nn.cross_entropy(z, t, reduction="sum"),
         lambda z, t: -np.sum(t * np_log_softmax(z)), normal(4, 5), uniform(0, 1, 4, 5)),
    case("nn_cross_entropy_smoothed_axis0",
         lambda z: nn.cross_entropy(z, LABELS, axis=0, label_smoothing=0.2, reduction="none"),
         lambda z: -np.sum(smoothed(LABELS, 5, 0.2).T * np_log_softmax(z, 0), axis=0),
         normal(5, 4)),
    case("nn_nll", lambda lp: nn.nll(lp, LABELS),
         lambda lp: -np.mean(lp[np.arange(4), LABELS]), normal(4, 5)),
    case("nn_mse", nn.mse, lambda p, t: np.mean((p - t) ** 2), normal(2, 3), normal(2, 3)),
    case("nn_l1_sum", lambda p, t: nn.l1(p, t, reduction="sum"),
         lambda p, t: np.sum(np.abs(p - t)), distinct(2, 3), distinct(2, 3, offset=0.125)),
    case("nn_huber", nn.huber, lambda p, t: np.mean(np_huber(p, t)),
         distinct(2, 3), distinct(2, 3, offset=0.125)),
    case("nn_huber_delta_none", lambda p, t: nn.huber(p, t, 0.5, reduction="none"),
         lambda p, t: np_huber(p, t, 0.5), distinct(2, 3), distinct(2, 3, offset=0.125)),
    case("nn_binary_cross_entropy_with_logits", nn.binary_cross_entropy_with_logits,
         lambda x, t: np.mean(-t * np.log(np_sigmoid(x)) - (1 - t) * np.log(1 - np_sigmoid(x))),
         uniform(-5, 5, 2, 3), uniform(0, 1, 2, 3)),
]



def np_batch_norm(x: Any, scale: Any, offset: Any, features: tuple[int, ...]) -> Any:
    """batch_norm's (y, mean, var) in numpy, flattened into one vector."""
    axes = tuple(i for i in range(x.ndim) if i not in features)
    kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + 1e-5) * scale.reshape(kept) + offset.reshape(kept)
    return np.concatenate([y.ravel(), mean.ravel(), var.ravel()])


def batch_norm_case(name: str, x: tuple[int, ...], features: tuple[int, ...]) -> Any:
    """nn.batch_norm over every axis but `features`, all three outputs checked."""
    stat = tuple(x[i] for i in features)

    def fn(a: Any, scale: Any, offset: Any) -> Any:
        y, mean, var = nn.batch_norm(a, scale, offset, features)
        return fnp.concatenate([fnp.ravel(y), fnp.ravel(mean), fnp.ravel(var)])

    return case(name, fn, lambda a, scale, offset: np_batch_norm(a, scale, offset, features),
                normal(*x), normal(*stat), normal(*stat))


NORMALIZATION = [
    batch_norm_case("nn_batch_norm_nchw", (3, 2, 3, 2), (1,)),
    batch_norm_case("nn_batch_norm_nc", (5, 3), (1,)),
    batch_norm_case("nn_batch_norm_last_axis", (2, 3, 4), (2,)),
    batch_norm_case("nn_batch_norm_two_feature_axes", (3, 2, 2, 3), (1, 3)),
]

NN = ACTIVATIONS + LOSSES + NORMALIZATION
