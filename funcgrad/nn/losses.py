"""Losses for classification and regression, each reduced by `reduction`: "mean" (the
default) or "sum" over every example, or "none" for the loss of each example."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import numpy as fnp
from funcgrad.core import Tracer, user_location
from funcgrad.nn.activations import log_softmax, softplus
from funcgrad.numpy import Array, ArrayLike

Reduction = Literal["mean", "sum", "none"]


def one_hot(labels: ArrayLike, num_classes: int, dtype: DTypeLike = np.float32) -> Array:
    """Rows of the identity: one_hot([2], 3) == [[0, 0, 1]]."""
    return fnp.astype(fnp.equal(fnp.expand_dims(labels, -1), np.arange(num_classes)), dtype)


def _reduce(name: str, losses: Array, reduction: str) -> Array:
    """The losses of the examples, reduced as asked."""
    if reduction == "mean":
        return fnp.mean(losses)
    if reduction == "sum":
        return fnp.sum(losses)
    if reduction == "none":
        return losses
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
                     + user_location())


def _dtype(x: ArrayLike) -> np.dtype[Any]:
    return x.dtype if isinstance(x, (Tracer, np.ndarray)) else np.asarray(x).dtype


def _class_axis(name: str, x: ArrayLike, axis: int, what: str) -> int:
    """axis as a non-negative index into x's shape (the class axis), checked."""
    shape = tuple(fnp.shape(x))
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"{name}: axis {axis} is out of range for {what} of shape {shape} "
                         "(the classes lie along axis)" + user_location())
    return axis % len(shape)


def _nll(name: str, logp: Array, labels: ArrayLike, label_smoothing: float, reduction: str,
         axis: int, what: str) -> Array:
    """-log p of the labels (integers along axis, or target probabilities) with the log
    probabilities logp, targets smoothed towards uniform by label_smoothing."""
    shape = tuple(logp.shape)
    label_shape = tuple(fnp.shape(labels))
    ax = _class_axis(name, logp, axis, what)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must lie in [0, 1], got {label_smoothing}"
                         + user_location())
    classes = shape[ax]
    if _dtype(labels).kind in "iub":
        batch = shape[:ax] + shape[ax + 1:]
        if label_shape != batch:
            raise ValueError(f"{name}: integer labels must have shape {batch} for {what} of "
                             f"shape {shape} (classes on axis {axis}), got {label_shape}"
                             + user_location())
        if not isinstance(labels, Tracer):
            bad = np.asarray(labels)[(np.asarray(labels) < 0) | (np.asarray(labels) >= classes)]
            if bad.size:
                raise ValueError(f"{name}: labels must lie in [0, {classes}) for {classes} "
                                 f"classes, got {bad[0]}" + user_location())
        picked = fnp.squeeze(fnp.take_along_axis(logp, fnp.expand_dims(labels, ax), axis=ax),
                             ax)
        losses = fnp.negative(picked)
    else:
        if label_shape != shape:
            raise ValueError(f"{name}: target probabilities must have the shape of {what} "
                             f"{shape}, got {label_shape}" + user_location())
        targets = fnp.astype(labels, logp.dtype)
        # a class of probability 0 adds nothing, even where its log-probability is -inf
        terms = fnp.where(fnp.equal(targets, 0), 0, fnp.multiply(targets, logp))
        losses = fnp.negative(fnp.sum(terms, axis=ax))
    if label_smoothing:
        # the targets (1 - s) * targets + s / classes: the loss mixes in the mean of -log p
        uniform = fnp.negative(fnp.mean(logp, axis=ax))
        losses = fnp.add(fnp.multiply(1 - label_smoothing, losses),
                         fnp.multiply(label_smoothing, uniform))
    return _reduce(name, losses, reduction)


def nll(log_probs: ArrayLike, labels: ArrayLike, *, label_smoothing: float = 0.0,
        reduction: Reduction = "mean", axis: int = -1) -> Array:
    """The negative log-likelihood -log_probs[label] of integer labels (the shape of
    log_probs without axis) or of target probabilities (log_probs' shape) over axis."""
    logp = fnp.asarray(log_probs)
    return _nll("nll", logp, labels, label_smoothing, reduction, axis, "log_probs")


def cross_entropy(logits: ArrayLike, labels: ArrayLike, *, label_smoothing: float = 0.0,
                  reduction: Reduction = "mean", axis: int = -1) -> Array:
    """Cross-entropy of softmax(logits) over axis against integer labels (the shape of
    logits without axis) or target probabilities, one-hot or soft (logits' shape)."""
    _class_axis("cross_entropy", logits, axis, "logits")
    return _nll("cross_entropy", log_softmax(logits, axis=axis), labels, label_smoothing,
                reduction, axis, "logits")


def _same_shape(name: str, a: ArrayLike, b: ArrayLike, names: tuple[str, str]) -> None:
    """Regression losses compare entry by entry: no silent broadcasting of (n, 1) with (n,)."""
    sa, sb = tuple(fnp.shape(a)), tuple(fnp.shape(b))
    if sa != sb:
        raise ValueError(f"{name}: {names[0]} and {names[1]} must have the same shape, got "
                         f"{sa} and {sb}" + user_location())


def mse(predictions: ArrayLike, targets: ArrayLike, *, reduction: Reduction = "mean") -> Array:
    """Squared error (predictions - targets)^2, entry by entry."""
    _same_shape("mse", predictions, targets, ("predictions", "targets"))
    return _reduce("mse", fnp.square(fnp.subtract(predictions, targets)), reduction)


def l1(predictions: ArrayLike, targets: ArrayLike, *, reduction: Reduction = "mean") -> Array:
    """Absolute error |predictions - targets|, entry by entry (its derivative is 0 at 0)."""
    _same_shape("l1", predictions, targets, ("predictions", "targets"))
    return _reduce("l1", fnp.abs(fnp.subtract(predictions, targets)), reduction)


def huber(predictions: ArrayLike, targets: ArrayLike, delta: float = 1.0, *,
          reduction: Reduction = "mean") -> Array:
    """d^2 / 2 for |d| <= delta, delta (|d| - delta / 2) beyond, d = predictions - targets."""
    _same_shape("huber", predictions, targets, ("predictions", "targets"))
    if not delta > 0:
        raise ValueError(f"huber: delta must be positive, got {delta}" + user_location())
    a = fnp.abs(fnp.subtract(predictions, targets))
    # quadratic up to delta, linear beyond: 0.5 q^2 + delta (a - q) with q = min(a, delta)
    q = fnp.minimum(a, delta)
    return _reduce("huber", fnp.add(fnp.multiply(0.5, fnp.square(q)),
                                    fnp.multiply(delta, fnp.subtract(a, q))), reduction)


def binary_cross_entropy_with_logits(logits: ArrayLike, targets: ArrayLike, *,
                                     reduction: Reduction = "mean") -> Array:
    """-t log sigmoid(x) - (1 - t) log(1 - sigmoid(x)) = softplus(x) - t x, stable for any
    finite logits x and targets t in [0, 1]."""
    _same_shape("binary_cross_entropy_with_logits", logits, targets, ("logits", "targets"))
    sp = softplus(logits)
    t = fnp.astype(targets, sp.dtype)
    return _reduce("binary_cross_entropy_with_logits",
                   fnp.subtract(sp, fnp.multiply(t, logits)), reduction)
