"""Losses for classification and regression, averaged over the batch."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import numpy as fnp
from funcgrad.core import Tracer
from funcgrad.nn.activations import log_softmax
from funcgrad.numpy import Array, ArrayLike


def one_hot(labels: ArrayLike, num_classes: int, dtype: DTypeLike = np.float32) -> Array:
    """Rows of the identity: one_hot([2], 3) == [[0, 0, 1]]."""
    return fnp.astype(fnp.equal(fnp.expand_dims(labels, -1), np.arange(num_classes)), dtype)


def cross_entropy(logits: ArrayLike, labels: ArrayLike) -> Array:
    """Mean cross-entropy of softmax(logits) against integer labels or target distributions.

    logits: (batch, classes). labels: integers of shape (batch,), or probabilities (one-hot
    or soft) of shape (batch, classes).
    """
    logits_shape = np.shape(logits) if not isinstance(logits, Tracer) else logits.shape
    label_dtype = labels.dtype if isinstance(labels, (Tracer, np.ndarray)) else np.asarray(labels).dtype
    label_shape = labels.shape if isinstance(labels, Tracer) else np.shape(labels)
    if len(logits_shape) != 2:
        raise ValueError(f"cross_entropy: logits must be (batch, classes), got shape {logits_shape}")
    logp = log_softmax(logits, axis=-1)
    if label_dtype.kind in "iu":
        if label_shape != logits_shape[:1]:
            raise ValueError(f"cross_entropy: integer labels must have shape {logits_shape[:1]} "
                             f"for logits of shape {logits_shape}, got {label_shape}")
        picked = fnp.getitem(logp, (np.arange(logits_shape[0]), labels))
        return fnp.negative(fnp.mean(picked))
    if label_shape != logits_shape:
        raise ValueError(f"cross_entropy: target probabilities must have the logits' shape "
                         f"{logits_shape}, got {label_shape}")
    return fnp.negative(fnp.mean(fnp.sum(fnp.multiply(labels, logp), axis=-1)))


def mse(predictions: ArrayLike, targets: ArrayLike) -> Array:
    """Mean squared error."""
    return fnp.mean(fnp.square(fnp.subtract(predictions, targets)))
