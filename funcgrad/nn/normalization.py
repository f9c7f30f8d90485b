"""Normalisation layers: BatchNorm (with running statistics as state) and LayerNorm.

Both normalise x to zero mean and unit variance (the biased variance, dividing by the
count, as PyTorch and JAX) and then apply a learned per-feature `scale` and `offset`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import numpy as fnp
from funcgrad.core import Array
from funcgrad.nn.layers import Layer, Params, Shape, State, layer_error, normalized_axes


def _affine(params: Params, x: Any, mean: Any, var: Any, epsilon: float, shape: Shape
            ) -> Array:
    """(x - mean) / sqrt(var + epsilon) * scale + offset, scale and offset in `shape`."""
    scale = fnp.divide(fnp.reshape(params["scale"], shape), fnp.sqrt(fnp.add(var, epsilon)))
    return fnp.add(fnp.multiply(fnp.subtract(x, mean), scale),
                   fnp.reshape(params["offset"], shape))


def _moments(x: Any, axes: tuple[int, ...]) -> tuple[Array, Array]:
    """x's mean and biased variance over axes, with those axes kept (of size 1)."""
    mean = fnp.mean(x, axis=axes, keepdims=True)
    return mean, fnp.mean(fnp.square(fnp.subtract(x, mean)), axis=axes, keepdims=True)


def _scale_and_offset(size: int | tuple[int, ...], dtype: DTypeLike) -> Params:
    return {"scale": np.ones(size, dtype), "offset": np.zeros(size, dtype)}


def BatchNorm(axis: int = 1, momentum: float = 0.9, epsilon: float = 1e-5,
              dtype: DTypeLike = np.float32) -> Layer:
    """Batch normalisation over every axis but `axis` (the features: channels of NCHW, or
    of NC); params {'scale', 'offset'}, state {'mean', 'var'} (the running statistics).

    Training (train=True) normalises with the batch's statistics; apply_with_state also
    returns the running statistics moved towards them,
    running = momentum * running + (1 - momentum) * batch, with the batch's unbiased
    variance (dividing by count - 1, as PyTorch). Evaluation (train=False) normalises with
    the running statistics, through apply_with_state.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
    name = f"BatchNorm(axis={axis})"

    def feature_axis(shape: Shape, features: int | None) -> int:
        (ax,) = normalized_axes(name, axis, len(shape))
        if features is not None and shape[ax] != features:
            raise layer_error(name, f"got input {tuple(shape)} with {shape[ax]} features on "
                                    f"axis {axis} but was initialised for {features}")
        return ax

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        ax = feature_axis(input_shape, None)
        if input_shape[ax] < 1:
            raise layer_error(name, f"the feature axis {axis} of input shape "
                                    f"{tuple(input_shape)} must have a known size")
        return input_shape, _scale_and_offset(input_shape[ax], dtype)

    def init_state(params: Params) -> State:
        return {"mean": np.zeros_like(params["scale"]), "var": np.ones_like(params["scale"])}

    def batch_statistics(params: Params, x: Any) -> tuple[Array, Array, Shape, int]:
        """The batch's mean and biased variance (kept dims), the features' shape, the count."""
        shape = fnp.shape(x)
        ax = feature_axis(shape, fnp.shape(params["scale"])[0])
        mean, var = _moments(x, tuple(i for i in range(len(shape)) if i != ax))
        return mean, var, fnp.shape(mean), math.prod(shape) // shape[ax]

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Array:
        if not train:
            raise ValueError(f"{name}: evaluation (train=False) normalises with the running "
                             "statistics, which are state: use layer.apply_with_state(params, "
                             "state, x, train=False), with the state returned by training "
                             "(or layer.init_state(params))")
        mean, var, shape, _ = batch_statistics(params, x)
        return _affine(params, x, mean, var, epsilon, shape)

    def stateful_apply(params: Params, state: State, x: Any, *, key: Array | None = None,
                       train: bool = True) -> tuple[Array, State]:
        if not train:
            shape = fnp.shape(x)
            ax = feature_axis(shape, fnp.shape(params["scale"])[0])
            features = tuple(n if i == ax else 1 for i, n in enumerate(shape))
            return _affine(params, x, fnp.reshape(state["mean"], features),
                           fnp.reshape(state["var"], features), epsilon, features), state
        mean, var, shape, count = batch_statistics(params, x)
        if count < 2:
            raise layer_error(name, f"training needs more than one value per feature for the "
                                    f"batch variance, got input {fnp.shape(x)}")

        def moved(running: Any, batch: Array) -> Array:
            # The state is not differentiated: the batch statistics enter it as constants.
            new = fnp.add(fnp.multiply(running, momentum),
                          fnp.multiply(fnp.stop_gradient(fnp.reshape(batch, (-1,))),
                                       1.0 - momentum))
            return fnp.astype(new, running.dtype)

        new_state = {"mean": moved(state["mean"], mean),
                     "var": moved(state["var"], fnp.multiply(var, count / (count - 1)))}
        return _affine(params, x, mean, var, epsilon, shape), new_state

    return Layer(init, apply, init_state, stateful_apply)


def LayerNorm(axis: int | tuple[int, ...] = -1, epsilon: float = 1e-5,
              dtype: DTypeLike = np.float32) -> Layer:
    """Normalisation of each example over `axis` (the last by default, or a tuple of axes);
    params {'scale', 'offset'} of the normalised axes' shape."""
    name = f"LayerNorm(axis={axis})"

    def axes_and_sizes(shape: Shape) -> tuple[tuple[int, ...], Shape]:
        axes = normalized_axes(name, axis, len(shape))
        return axes, tuple(shape[a] for a in axes)

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        axes, sizes = axes_and_sizes(input_shape)
        if any(n < 1 for n in sizes):
            raise layer_error(name, f"the normalised axes of input shape {tuple(input_shape)} "
                                    "must have known sizes")
        return input_shape, _scale_and_offset(sizes, dtype)

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Array:
        shape = fnp.shape(x)
        axes, sizes = axes_and_sizes(shape)
        if sizes != fnp.shape(params["scale"]):
            raise layer_error(name, f"got input {shape}, with {sizes} on the normalised axes, "
                                    f"but was initialised for {fnp.shape(params['scale'])}")
        mean, var = _moments(x, axes)
        params_shape = tuple(n if i in axes else 1 for i, n in enumerate(shape))
        return _affine(params, x, mean, var, epsilon, params_shape)

    return Layer(init, apply)
