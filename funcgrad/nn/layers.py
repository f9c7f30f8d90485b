"""Layers as (init, apply) pairs over explicit parameter pytrees, in the style of stax.

`init(key, input_shape) -> (output_shape, params)` creates parameters from a random key
(funcgrad.random.key(seed)): the same key, the same parameters, with no hidden random
state; `apply(params, x)` is a pure function of them, so
`grad(loss)(params, batch)` returns gradients in the same tree as `params`. Shapes
exclude nothing: the batch axis is part of input_shape (use -1 for "any batch size").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import numpy as fnp
from funcgrad import random
from funcgrad.core import Array, ShapeError
from funcgrad.nn.activations import log_softmax, relu, sigmoid, tanh
from funcgrad.nn.conv import (Padding, conv2d, conv2d_output_shape, conv_transpose2d,
                              conv_transpose2d_output_shape)
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


def _conv_name(kind: str, out_channels: int, kernel_hw: tuple[int, int], **options: Any) -> str:
    """How errors name a conv layer: its arguments, those at their defaults left out."""
    shown = "".join(f", {name}={value!r}" for name, value in options.items()
                    if value not in _CONV_DEFAULTS[name])
    return f"{kind}({out_channels}, kernel_size={kernel_hw}{shown})"


# no padding is 'VALID' for Conv and 0 for ConvTranspose, as in JAX and PyTorch
_CONV_DEFAULTS: dict[str, tuple[Any, ...]] = {"stride": (1,), "padding": ("VALID", 0),
                                              "output_padding": (0,), "dilation": (1,),
                                              "groups": (1,)}


@contextmanager
def _named(layer: str) -> Iterator[None]:
    """Shape and argument errors raised inside re-raised with the layer's name in front."""
    try:
        yield
    except ValueError as error:  # ShapeError is one
        raise type(error)(f"{layer}: {error}") from None


def _conv_layer(name: str, kernel_shape: Callable[[int], tuple[int, ...]],
                output_shape: Callable[[Shape, tuple[int, ...]], Shape],
                conv: Callable[[Any, Any], Array], out_channels: int, w_init: Initializer,
                use_bias: bool, dtype: DTypeLike) -> Layer:
    """A convolution layer; params {'w': kernel_shape(in_channels), 'b': (out_channels,)}."""

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        with _named(name):
            if len(input_shape) != 4:
                raise ShapeError(f"input_shape must be 4-D (batch, channels, height, width), "
                                 f"got {tuple(input_shape)}")
            shape = kernel_shape(input_shape[1])
            # the batch may be -1 (any size): the output shape does not depend on it
            out_shape = output_shape((1, *input_shape[1:]), shape)
        receptive = math.prod(shape[2:])
        fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
        params = {"w": w_init(key, shape, fan_in, fan_out, dtype)}
        if use_bias:
            params["b"] = np.zeros(out_channels, dtype)
        return (input_shape[0], *out_shape[1:]), params

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Array:
        with _named(name):
            y = conv(x, params["w"])
        return fnp.add(y, fnp.reshape(params["b"], (-1, 1, 1))) if use_bias else y

    return Layer(init, apply)


def _channel_groups(channels: int, out_channels: int, groups: int) -> None:
    if channels % groups or out_channels % groups:
        raise ShapeError(f"groups={groups} must divide both the input channels ({channels}) "
                         f"and out_channels ({out_channels})")


def Conv(out_channels: int, kernel_size: int | tuple[int, int] = 3,
         stride: int | tuple[int, int] = 1, padding: Padding = "VALID",
         dilation: int | tuple[int, int] = 1, groups: int = 1,
         w_init: Initializer = he_normal, use_bias: bool = True,
         dtype: DTypeLike = np.float32) -> Layer:
    """A 2-D convolution with bias over NCHW images (see nn.conv2d for the arguments);
    params {'w': (out_channels, in_channels // groups, kh, kw), 'b': (out_channels,)}."""
    kh, kw = _pair(kernel_size)
    name = _conv_name("Conv", out_channels, (kh, kw), stride=stride, padding=padding,
                      dilation=dilation, groups=groups)

    def kernel_shape(channels: int) -> tuple[int, ...]:
        _channel_groups(channels, out_channels, groups)
        return (out_channels, channels // groups, kh, kw)

    return _conv_layer(
        name, kernel_shape,
        lambda x_shape, k_shape: conv2d_output_shape(x_shape, k_shape, stride, padding,
                                                     dilation, groups),
        lambda x, w: conv2d(x, w, stride, padding, dilation, groups),
        out_channels, w_init, use_bias, dtype)


def Conv2D(out_channels: int, kernel_size: int | tuple[int, int] = 3, padding: Padding = "VALID",
           w_init: Initializer = he_normal, dtype: DTypeLike = np.float32, *,
           stride: int | tuple[int, int] = 1, dilation: int | tuple[int, int] = 1,
           groups: int = 1, use_bias: bool = True) -> Layer:
    """Conv with the earlier argument order (padding third), kept for existing callers."""
    return Conv(out_channels, kernel_size, stride, padding, dilation, groups, w_init, use_bias,
                dtype)


def ConvTranspose(out_channels: int, kernel_size: int | tuple[int, int],
                  stride: int | tuple[int, int] = 1, padding: Padding = 0,
                  output_padding: int | tuple[int, int] = 0,
                  dilation: int | tuple[int, int] = 1, groups: int = 1,
                  w_init: Initializer = he_normal, use_bias: bool = True,
                  dtype: DTypeLike = np.float32) -> Layer:
    """A 2-D transposed convolution with bias (see nn.conv_transpose2d), PyTorch's weight
    layout: params {'w': (in_channels, out_channels // groups, kh, kw), 'b': (out_channels,)}.

    The initialiser sees fan_in = (out_channels // groups) * kh * kw, as PyTorch computes it
    from the weight's second axis.
    """
    kh, kw = _pair(kernel_size)
    name = _conv_name("ConvTranspose", out_channels, (kh, kw), stride=stride, padding=padding,
                      output_padding=output_padding, dilation=dilation, groups=groups)

    def kernel_shape(channels: int) -> tuple[int, ...]:
        _channel_groups(channels, out_channels, groups)
        return (channels, out_channels // groups, kh, kw)

    return _conv_layer(
        name, kernel_shape,
        lambda x_shape, k_shape: conv_transpose2d_output_shape(
            x_shape, k_shape, stride, padding, output_padding, dilation, groups),
        lambda x, w: conv_transpose2d(x, w, stride, padding, output_padding, dilation, groups),
        out_channels, w_init, use_bias, dtype)


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
