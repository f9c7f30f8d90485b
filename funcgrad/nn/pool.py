"""Differentiable 2-D max and average pooling over NCHW images (VALID windows).

Max pooling's gradient sends each output gradient to the maximum of its window; at ties
it goes to the FIRST maximal element in row-major window order (as in PyTorch). Its
second derivative exists too: the gradient is linear in the output gradient, and its
transpose picks the elements at the saved maxima (`max_pool2d_select`), so the two
primitives below are each other's VJPs. Average pooling is linear; its forward and
backward are each other's VJPs likewise.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.batching import batch_leading
from funcgrad.core import Primitive, ShapedArray, ShapeError, Tracer, bind, user_location
from funcgrad.nn import kernels
from funcgrad.numpy import Array, ArrayLike

Pair = tuple[int, int]


def _pooled_shape(x: Any, *, window: Pair, stride: Pair) -> ShapedArray:
    n, c, h, w = x.shape
    return ShapedArray((n, c, (h - window[0]) // stride[0] + 1, (w - window[1]) // stride[1] + 1),
                       np.dtype(x.dtype))


# Where each window's maximum was, kept from the forward pass for the backward pass, by the
# forward output's identity, for as long as that output lives. Both backward primitives
# take the forward output y as an operand to find it; if it is not there (y made some other
# way), the maxima are found again from x.
_argmax_of_output: dict[int, Any] = {}


def _max_pool(x: Any, *, window: Pair, stride: Pair) -> Any:
    y, argmax = kernels.max_pool2d_forward(x, window, stride)
    _argmax_of_output[id(y)] = argmax
    weakref.finalize(y, _argmax_of_output.pop, id(y), None)
    return y


def _argmax(x: Any, y: Any, window: Pair, stride: Pair) -> Any:
    saved = _argmax_of_output.get(id(y))
    return saved if saved is not None else kernels.max_pool2d_forward(x, window, stride)[1]


def _max_pool_grad(g: Any, x: Any, y: Any, *, window: Pair, stride: Pair) -> Any:
    return kernels.max_pool2d_backward(g, _argmax(x, y, window, stride), window, stride,
                                       x.shape)


def _max_pool_select(v: Any, x: Any, y: Any, *, window: Pair, stride: Pair) -> Any:
    return kernels.max_pool2d_select(v, _argmax(x, y, window, stride), window, stride)


max_pool2d_p: Primitive = Primitive(
    "max_pool2d", _max_pool, _pooled_shape,
    (lambda ct, y, x, *, window, stride:
        bind(max_pool2d_grad_p, ct, x, y, window=window, stride=stride),),
    batch_leading(0))
# The maxima's positions do not move under small changes of x, so x (and y) get no
# gradient here.
max_pool2d_grad_p: Primitive = Primitive(
    "max_pool2d_grad", _max_pool_grad,
    lambda g, x, y, *, window, stride: ShapedArray(tuple(x.shape), np.dtype(g.dtype)),
    (lambda ct, gx, g, x, y, *, window, stride:
        bind(max_pool2d_select_p, ct, x, y, window=window, stride=stride), None, None),
    batch_leading(0, 1, 2))
max_pool2d_select_p: Primitive = Primitive(
    "max_pool2d_select", _max_pool_select,
    lambda v, x, y, *, window, stride: _pooled_shape(x, window=window, stride=stride),
    (lambda ct, out, v, x, y, *, window, stride:
        bind(max_pool2d_grad_p, ct, x, y, window=window, stride=stride), None, None),
    batch_leading(0, 1, 2))

avg_pool2d_p: Primitive = Primitive(
    "avg_pool2d", lambda x, *, window, stride: kernels.avg_pool2d_forward(x, window, stride),
    _pooled_shape,
    (lambda ct, y, x, *, window, stride:
        bind(avg_pool2d_grad_p, ct, window=window, stride=stride, image_hw=x.shape[2:]),),
    batch_leading(0))
avg_pool2d_grad_p: Primitive = Primitive(
    "avg_pool2d_grad",
    lambda g, *, window, stride, image_hw: kernels.avg_pool2d_backward(
        g, window, stride, (*g.shape[:2], *image_hw)),
    lambda g, *, window, stride, image_hw: ShapedArray((*g.shape[:2], *image_hw),
                                                       np.dtype(g.dtype)),
    (lambda ct, gx, g, *, window, stride, image_hw:
        bind(avg_pool2d_p, ct, window=window, stride=stride),),
    batch_leading(0))


def _pair(name: str, v: int | Pair) -> Pair:
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or any(int(p) < 1 for p in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {v!r}")
    return int(pair[0]), int(pair[1])


def _pool(prim: Primitive, name: str, x: ArrayLike, window: int | Pair,
          stride: int | Pair | None) -> Array:
    win = _pair("window", window)
    st = win if stride is None else _pair("stride", stride)
    xa = x if isinstance(x, Tracer) else np.asarray(x)
    shape = tuple(xa.shape)
    if len(shape) != 4:
        raise ShapeError(f"{name}: x must be 4-D (batch, channels, height, width), got shape "
                         f"{shape}" + user_location())
    if win[0] > shape[2] or win[1] > shape[3]:
        raise ShapeError(f"{name}: the window {win} is larger than the image {shape[2:]} of x "
                         f"{shape}" + user_location())
    if xa.dtype.kind not in "fc":
        xa = fnp.astype(xa, np.float64)
    return bind(prim, xa, window=win, stride=st)  # type: ignore[no-any-return]


def max_pool2d(x: ArrayLike, window: int | Pair = 2, stride: int | Pair | None = None) -> Array:
    """Maximum over windows of NCHW images (stride defaults to the window: non-overlapping)."""
    return _pool(max_pool2d_p, "max_pool2d", x, window, stride)


def avg_pool2d(x: ArrayLike, window: int | Pair = 2, stride: int | Pair | None = None) -> Array:
    """Mean over windows of NCHW images (stride defaults to the window)."""
    return _pool(avg_pool2d_p, "avg_pool2d", x, window, stride)
