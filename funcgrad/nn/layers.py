"""Layers as (init, apply) pairs over explicit parameter pytrees, in the style of stax.

`init(key, input_shape) -> (output_shape, params)` creates parameters from a random key
(funcgrad.random.key(seed)): the same key, the same parameters, with no hidden random
state; `apply(params, x, *, key=None, train=True)` is a pure function of them, so
`grad(loss)(params, batch)` returns gradients in the same tree as `params`. `key` feeds
the random layers (Dropout) and `train` switches them (and BatchNorm) between training and
evaluation; layers that need neither ignore both. Shapes exclude nothing: the batch axis is
part of input_shape (use -1 for "any batch size"); images are NCHW, kernels OIHW.

State that is not trained (BatchNorm's running statistics) is kept out of params, so
optimizers never touch it: `state = layer.init_state(params)` builds it and
`y, state = layer.apply_with_state(params, state, x, train=...)` returns the next one,
never changing the arrays it was given.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, Protocol, cast

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import numpy as fnp
from funcgrad import random
from funcgrad.core import Array, ShapeError, user_location
from funcgrad.nn.activations import (celu, elu, gelu, hard_tanh, leaky_relu, log_sigmoid,
                                     log_softmax, relu, relu6, selu, sigmoid, silu, softmax,
                                     softplus, softsign, tanh)
from funcgrad.nn.conv import (Padding, conv2d, conv2d_output_shape, conv_transpose2d, int_pair,
                              conv_transpose2d_output_shape)
from funcgrad.nn.initializers import Initializer, glorot_uniform, he_normal
from funcgrad.nn.pool import Padding as PoolPadding
from funcgrad.nn.pool import avg_pool2d, max_pool2d, pooled_hw

Shape = tuple[int, ...]
ShapeTree = Any
"""A Shape, or a tuple of them for layers taking or giving several arrays (parallel, FanOut,
FanInSum, FanInConcat)."""
Params = Any
"""A pytree of arrays: dicts, tuples and lists of numpy arrays."""
State = Any
"""A pytree of arrays a layer carries between calls without training it; () if none."""

class InitFn(Protocol):
    """init(key, input_shape) -> (output_shape, params)."""

    def __call__(self, key: Array, input_shape: ShapeTree, /) -> tuple[ShapeTree, Params]: ...


class ApplyFn(Protocol):
    """apply(params, x, *, key=None, train=True) -> y."""

    def __call__(self, params: Params, x: Any, /, *, key: Array | None = None,
                 train: bool = True) -> Any: ...


class StatefulApplyFn(Protocol):
    """stateful_apply(params, state, x, *, key=None, train=True) -> (y, new_state)."""

    def __call__(self, params: Params, state: State, x: Any, /, *, key: Array | None = None,
                 train: bool = True) -> tuple[Any, State]: ...


def no_state(params: Params) -> State:
    """The state of a stateless layer: ()."""
    return ()


def _with_keywords(apply: ApplyFn | Callable[[Params, Any], Any]) -> ApplyFn:
    """apply itself if it takes the keywords key and train, else apply ignoring them."""
    try:
        parameters = inspect.signature(apply).parameters.values()
    except (TypeError, ValueError):  # no signature to read: take it to follow the protocol
        return cast(ApplyFn, apply)
    names = {p.name for p in parameters if p.kind is not p.POSITIONAL_ONLY}
    if any(p.kind is p.VAR_KEYWORD for p in parameters) or {"key", "train"} <= names:
        return cast(ApplyFn, apply)
    if names & {"key", "train"}:
        raise TypeError(f"Layer: apply {apply!r} takes only one of the keywords key and train; "
                        "an apply function takes both (or neither, for stax layers written as "
                        "apply(params, x))")

    def keyword_apply(params: Params, x: Any, /, *, key: Array | None = None,
                      train: bool = True) -> Any:
        return apply(params, x)
    return keyword_apply


class _LayerFields(NamedTuple):
    init: InitFn
    apply: ApplyFn
    init_state: Callable[[Params], State] = no_state
    stateful_apply: StatefulApplyFn | None = None


class Layer(_LayerFields):
    """A layer: init(key, input_shape) -> (output_shape, params); apply(params, x, *, key,
    train) -> y; and, for layers with state, init_state(params) -> state and
    stateful_apply(params, state, x, *, key, train) -> (y, new_state).

    An apply written as apply(params, x), as in stax, is wrapped to accept and ignore the
    keywords, so layers written before them keep working in serial and parallel.
    """

    def __new__(cls, init: InitFn, apply: ApplyFn | Callable[[Params, Any], Any],
                init_state: Callable[[Params], State] = no_state,
                stateful_apply: StatefulApplyFn | None = None) -> Layer:
        return super().__new__(cls, init, _with_keywords(apply), init_state, stateful_apply)

    def apply_with_state(self, params: Params, state: State, x: Any, *,
                         key: Array | None = None, train: bool = True) -> tuple[Any, State]:
        """(y, new_state): stateful_apply if the layer has state, else (apply(...), state)."""
        if self.stateful_apply is None:
            return self.apply(params, x, key=key, train=train), state
        return self.stateful_apply(params, state, x, key=key, train=train)


def layer_error(layer: str, message: str) -> ShapeError:
    """A ShapeError that names the layer and the user's line."""
    return ShapeError(f"{layer}: {message}" + user_location())


def normalized_axes(layer: str, axis: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """axis (an int or a tuple, negatives counted from the end) as sorted axes of ndim."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if not all(-ndim <= a < ndim for a in axes) or len({a % ndim for a in axes}) != len(axes):
        raise layer_error(layer, f"axis {axis!r} does not name distinct axes of an input "
                                 f"with {ndim} axes")
    return tuple(sorted(a % ndim for a in axes))


def Linear(out_features: int, w_init: Initializer = glorot_uniform,
          dtype: DTypeLike = np.float32) -> Layer:
    """A dense layer y = x @ w + b over the last axis; params {'w': (in, out), 'b': (out,)}."""
    name = f"Dense({out_features})"

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        if len(input_shape) < 1:
            raise layer_error(name, f"needs an input with at least one axis, got shape "
                                    f"{tuple(input_shape)}")
        fan_in = input_shape[-1]
        w = w_init(key, (fan_in, out_features), fan_in, out_features, dtype)
        return input_shape[:-1] + (out_features,), {"w": w, "b": np.zeros(out_features, dtype)}

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Array:
        shape, fan_in = fnp.shape(x), fnp.shape(params["w"])[0]
        if not shape or shape[-1] != fan_in:
            raise layer_error(name, f"got input {shape} but was initialised for {fan_in} "
                                    "features on its last axis")
        return fnp.add(fnp.matmul(x, params["w"]), params["b"])

    return Layer(init, apply)


Dense = Linear


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
    kh, kw = int_pair("kernel_size", kernel_size, "Conv")
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
    kh, kw = int_pair("kernel_size", kernel_size, "ConvTranspose")
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
                stride: int | tuple[int, int] | None, padding: PoolPadding, kind: str) -> Layer:
    name = f"{kind}(window={window!r}, stride={stride!r}, padding={padding!r})"

    def check(shape: ShapeTree) -> None:
        if len(shape) != 4:
            raise layer_error(name, f"needs NCHW input (batch, channels, height, width), got "
                                    f"shape {tuple(shape)}")
        if min(pooled_hw((shape[2], shape[3]), window, stride, padding)) < 1:
            raise layer_error(name, f"the window is larger than the image of shape "
                                    f"{tuple(shape)}")

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        check(input_shape)
        n, c, h, w = input_shape
        return (n, c, *pooled_hw((h, w), window, stride, padding)), ()

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Array:
        check(fnp.shape(x))
        return pool(x, window, stride, padding)

    return Layer(init, apply)


def MaxPool(window: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None,
            padding: PoolPadding = "VALID") -> Layer:
    """Max pooling over windows of NCHW images (stride defaults to the window:
    non-overlapping); padding 'VALID', 'SAME', an int or a pair (padding is never a max)."""
    return _pool_layer(max_pool2d, window, stride, padding, "MaxPool")


def AvgPool(window: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None,
            padding: PoolPadding = "VALID") -> Layer:
    """Average pooling over windows of NCHW images (stride defaults to the window); padded
    zeros count in each window's size, as PyTorch's default and stax."""
    return _pool_layer(avg_pool2d, window, stride, padding, "AvgPool")


MaxPool2D = MaxPool
AvgPool2D = AvgPool


def _spatial_axes(shape: Shape) -> tuple[int, ...]:
    if len(shape) < 3:
        raise layer_error("GlobalAvgPool", "needs input (batch, channels, *spatial), got shape "
                                           f"{tuple(shape)}")
    return tuple(range(2, len(shape)))


def _global_avg_pool_init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
    _spatial_axes(input_shape)
    return tuple(input_shape[:2]), ()


def _global_avg_pool(params: Params, x: Any, *, key: Array | None = None,
                     train: bool = True) -> Array:
    return fnp.mean(x, axis=_spatial_axes(fnp.shape(x)))


GlobalAvgPool = Layer(_global_avg_pool_init, _global_avg_pool)
"""The mean over all spatial axes: (N, C, H, W) -> (N, C)."""


def elementwise(fn: Callable[[Any], Array]) -> Layer:
    """A parameter-free layer applying fn to its input (an activation of your own)."""

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Array:
        return fn(x)

    return Layer(lambda key, input_shape: (input_shape, ()), apply)


Relu = elementwise(relu)
Sigmoid = elementwise(sigmoid)
Tanh = elementwise(tanh)
LogSoftmax = elementwise(log_softmax)
Softmax = elementwise(softmax)
Relu6 = elementwise(relu6)
LeakyRelu = elementwise(leaky_relu)
Elu = elementwise(elu)
Selu = elementwise(selu)
Celu = elementwise(celu)
Gelu = elementwise(gelu)
Silu = Swish = elementwise(silu)
Softplus = elementwise(softplus)
Softsign = elementwise(softsign)
LogSigmoid = elementwise(log_sigmoid)
HardTanh = elementwise(hard_tanh)
Identity = elementwise(lambda x: x)


def _flatten_init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
    return (input_shape[0], math.prod(input_shape[1:])), ()


def _flatten(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Array:
    return fnp.reshape(x, (fnp.shape(x)[0], -1))


Flatten = Layer(_flatten_init, _flatten)
"""All axes after the batch axis as one: (N, ...) -> (N, size)."""


def Dropout(rate: float) -> Layer:
    """Zeroes each entry with probability rate when training and scales the rest by
    1 / (1 - rate) (inverted dropout: evaluation is the identity); needs a key to train."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
    name = f"Dropout({rate})"

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Any:
        if not train:
            return x
        if key is None:
            raise TypeError(f"{name}: training (train=True) needs a random key: "
                            "apply(params, x, key=key, train=True) with a new key for each "
                            "step (funcgrad.random.split), or train=False to evaluate"
                            + user_location())
        keep = random.bernoulli(key, 1.0 - rate, fnp.shape(x))
        return fnp.where(keep, fnp.divide(x, 1.0 - rate), 0)

    return Layer(lambda key, input_shape: (input_shape, ()), apply)
