"""Layers as (init, apply) pairs over explicit parameter pytrees, in the style of stax.

`init(key, input_shape) -> (output_shape, params)` creates parameters from a random key
(funcgrad.random.key(seed)): the same key, the same parameters, with no hidden random
state; `apply(params, x)` is a pure function of them, so
`grad(loss)(params, batch)` returns gradients in the same tree as `params`. Shapes
exclude nothing: the batch axis is part of input_shape (use -1 for "any batch size").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import numpy as fnp
from funcgrad import random
from funcgrad.core import Array
from funcgrad.nn.activations import log_softmax, relu, sigmoid, tanh
from funcgrad.nn.conv import Padding, conv2d, padding_amounts
from funcgrad.nn.pool import avg_pool2d, max_pool2d

Shape = tuple[int, ...]
Params = Any
"""A pytree of arrays: dicts, tuples and lists of numpy arrays."""

Initializer = Callable[[Array, Shape, int, int, DTypeLike], Array]
"""initializer(key, shape, fan_in, fan_out, dtype) -> array."""


class Layer(NamedTuple):
    """A layer: init(key, input_shape) -> (output_shape, params), apply(params, x) -> y."""

    init: Callable[[Array, Shape], tuple[Shape, Params]]
    apply: Callable[[Params, Any], Array]


def glorot_uniform(key: Array, shape: Shape, fan_in: int, fan_out: int,
                   dtype: DTypeLike = np.float32) -> Array:
    """Uniform in ±sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return random.uniform(key, shape, dtype, -limit, limit)


def he_normal(key: Array, shape: Shape, fan_in: int, fan_out: int,
              dtype: DTypeLike = np.float32) -> Array:
    """Normal with standard deviation sqrt(2 / fan_in), for ReLU networks (He et al., 2015)."""
    return random.normal(key, shape, dtype) * math.sqrt(2.0 / fan_in)


def Linear(out_features: int, w_init: Initializer = glorot_uniform,
           dtype: DTypeLike = np.float32) -> Layer:
    """A dense layer y = x @ w + b over the last axis; params {'w': (in, out), 'b': (out,)}."""

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        fan_in = input_shape[-1]
        w = w_init(key, (fan_in, out_features), fan_in, out_features, dtype)
        return input_shape[:-1] + (out_features,), {"w": w, "b": np.zeros(out_features, dtype)}

    def apply(params: Params, x: Any) -> Array:
        return fnp.add(fnp.matmul(x, params["w"]), params["b"])

    return Layer(init, apply)


Dense = Linear


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def Conv2D(out_channels: int, kernel_size: int | tuple[int, int] = 3,
           padding: Padding = "VALID", w_init: Initializer = he_normal,
           dtype: DTypeLike = np.float32) -> Layer:
    """A convolution with bias over NCHW images; params {'w': (O, C, kh, kw), 'b': (O,)}."""
    kh, kw = _pair(kernel_size)

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        n, c, h, w = input_shape
        fan_in, fan_out = c * kh * kw, out_channels * kh * kw
        kernel = w_init(key, (out_channels, c, kh, kw), fan_in, fan_out, dtype)
        (pt, pb), (pl, pr) = padding_amounts(padding, (kh, kw))
        out_shape = (n, out_channels, h + pt + pb - kh + 1, w + pl + pr - kw + 1)
        return out_shape, {"w": kernel, "b": np.zeros(out_channels, dtype)}

    def apply(params: Params, x: Any) -> Array:
        y = conv2d(x, params["w"], padding=padding)
        return fnp.add(y, fnp.reshape(params["b"], (-1, 1, 1)))

    return Layer(init, apply)


def _pool_layer(pool: Callable[..., Array], window: int | tuple[int, int],
                stride: int | tuple[int, int] | None) -> Layer:
    wh, ww = _pair(window)
    sh, sw = _pair(stride) if stride is not None else (wh, ww)

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        n, c, h, w = input_shape
        return (n, c, (h - wh) // sh + 1, (w - ww) // sw + 1), ()

    def apply(params: Params, x: Any) -> Array:
        return pool(x, (wh, ww), (sh, sw))

    return Layer(init, apply)


def MaxPool2D(window: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None) -> Layer:
    """Max pooling over windows (stride defaults to the window: non-overlapping)."""
    return _pool_layer(max_pool2d, window, stride)


def AvgPool2D(window: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None) -> Layer:
    """Average pooling over windows (stride defaults to the window)."""
    return _pool_layer(avg_pool2d, window, stride)


def elementwise(fn: Callable[[Any], Array]) -> Layer:
    """A parameter-free layer applying fn to its input."""
    return Layer(lambda key, input_shape: (input_shape, ()), lambda params, x: fn(x))


Relu = elementwise(relu)
Sigmoid = elementwise(sigmoid)
Tanh = elementwise(tanh)
LogSoftmax = elementwise(log_softmax)


def _flatten_init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
    return (input_shape[0], math.prod(input_shape[1:])), ()


Flatten = Layer(_flatten_init, lambda params, x: fnp.reshape(x, (x.shape[0], -1)))


def serial(*layers: Layer) -> Layer:
    """Layers applied one after another; params is the tuple of each layer's params."""

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        params = []
        for layer, layer_key in zip(layers, random.split(key, len(layers))):
            input_shape, p = layer.init(layer_key, input_shape)
            params.append(p)
        return input_shape, tuple(params)

    def apply(params: Params, x: Any) -> Array:
        if len(params) != len(layers):
            raise ValueError(f"serial: {len(layers)} layers but params for {len(params)}")
        out: Array = x
        for layer, p in zip(layers, params):
            out = layer.apply(p, out)
        return out

    return Layer(init, apply)
