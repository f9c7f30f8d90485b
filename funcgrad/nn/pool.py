"""Differentiable 2-D max and average pooling over NCHW images.

Padding ('SAME', or rows and columns per side) is added around the image before the
windows are taken, as its own `pad` equation: max pooling pads with -inf, so padding is
never a window's maximum; average pooling pads with zeros and divides every window by its
full size, padded entries included (PyTorch's default count_include_pad=True, and stax's
AvgPool), so a corner window of 'SAME' padding averages fewer image entries over the same
denominator.

Max pooling has two outputs: the pooled values and, per window, where its maximum was
(`argmax`), which is all its backward pass needs. Its gradient sends each output gradient
to that maximum; at ties it goes to the FIRST maximal element in row-major window order
(as in PyTorch). Its second derivative exists too: the gradient is linear in the output
gradient, and its transpose picks the elements at the saved maxima
(`max_pool2d_select`), so the two primitives below are each other's VJPs. Average pooling
is linear; its forward and backward are each other's VJPs likewise.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core import Array, ArrayLike, Primitive, ShapedArray, ShapeError, Tracer, user_location
from funcgrad.nn import kernels
from funcgrad.primitives.base import batch_leading

Pair = tuple[int, int]
Padding = Union[str, int, Pair]
"""'VALID' (none), 'SAME' (ceil(size / stride) outputs per axis, as JAX and TensorFlow), an
int or a (rows, columns) pair added on both sides of the image."""


def _pooled_shape(x: Any, *, window: Pair, stride: Pair) -> ShapedArray:
    n, c, h, w = x.shape
    return ShapedArray((n, c, (h - window[0]) // stride[0] + 1, (w - window[1]) // stride[1] + 1),
                       np.dtype(x.dtype))


def _max_pool_shapes(x: Any, *, window: Pair, stride: Pair) -> tuple[ShapedArray, ShapedArray]:
    y = _pooled_shape(x, window=window, stride=stride)
    return y, ShapedArray(y.shape, np.min_scalar_type(window[0] * window[1] - 1))


max_pool2d_p: Primitive = Primitive(
    "max_pool2d", lambda x, *, window, stride: kernels.max_pool2d_forward(x, window, stride),
    _max_pool_shapes,
    (lambda cts, outs, x, *, window, stride: max_pool2d_grad_p.bind(
        cts[0], outs[1], window=window, stride=stride, image_hw=x.shape[2:]),),
    batch_leading(0), multiple_results=True)
# The maxima's positions do not move under small changes of x: argmax gets no gradient.
max_pool2d_grad_p: Primitive = Primitive(
    "max_pool2d_grad",
    lambda g, argmax, *, window, stride, image_hw: kernels.max_pool2d_backward(
        g, argmax, window, stride, (*g.shape[:2], *image_hw)),
    lambda g, argmax, *, window, stride, image_hw: ShapedArray((*g.shape[:2], *image_hw),
                                                               np.dtype(g.dtype)),
    (lambda ct, gx, g, argmax, *, window, stride, image_hw: max_pool2d_select_p.bind(
        ct, argmax, window=window, stride=stride), None),
    batch_leading(0, 1))
max_pool2d_select_p: Primitive = Primitive(
    "max_pool2d_select",
    lambda v, argmax, *, window, stride: kernels.max_pool2d_select(v, argmax, window, stride),
    lambda v, argmax, *, window, stride: _pooled_shape(v, window=window, stride=stride),
    (lambda ct, out, v, argmax, *, window, stride: max_pool2d_grad_p.bind(
        ct, argmax, window=window, stride=stride, image_hw=v.shape[2:]), None),
    batch_leading(0, 1))

avg_pool2d_p: Primitive = Primitive(
    "avg_pool2d", lambda x, *, window, stride: kernels.avg_pool2d_forward(x, window, stride),
    _pooled_shape,
    (lambda ct, y, x, *, window, stride:
        avg_pool2d_grad_p.bind(ct, window=window, stride=stride, image_hw=x.shape[2:]),),
    batch_leading(0))
avg_pool2d_grad_p: Primitive = Primitive(
    "avg_pool2d_grad",
    lambda g, *, window, stride, image_hw: kernels.avg_pool2d_backward(
        g, window, stride, (*g.shape[:2], *image_hw)),
    lambda g, *, window, stride, image_hw: ShapedArray((*g.shape[:2], *image_hw),
                                                       np.dtype(g.dtype)),
    (lambda ct, gx, g, *, window, stride, image_hw:
        avg_pool2d_p.bind(ct, window=window, stride=stride),),
    batch_leading(0))


def _pair(name: str, v: int | Pair) -> Pair:
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or any(int(p) < 1 for p in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {v!r}")
    return int(pair[0]), int(pair[1])


def pool_padding(padding: Padding, window: Pair, stride: Pair, image_hw: tuple[int, int]
                 ) -> tuple[Pair, Pair]:
    """Rows (top, bottom) and columns (left, right) that `padding` adds around the image."""
    if isinstance(padding, str) and padding.upper() in ("VALID", "SAME"):
        if padding.upper() == "VALID":
            return (0, 0), (0, 0)
        # as JAX's 'SAME': the extra row or column of an odd total goes after the image
        totals = [max((-(-size // s) - 1) * s + w - size, 0)
                  for size, w, s in zip(image_hw, window, stride)]
        return (totals[0] // 2, totals[0] - totals[0] // 2), \
            (totals[1] // 2, totals[1] - totals[1] // 2)
    pair = (padding, padding) if isinstance(padding, (int, np.integer)) else padding
    if isinstance(pair, str) or len(pair) != 2 or \
            not all(isinstance(p, (int, np.integer)) and 0 <= p < w for p, w in zip(pair, window)):
        raise ValueError(f"padding must be 'VALID', 'SAME', or an int or a pair of ints, each "
                         f"at least 0 and smaller than the window {window} (so that every "
                         f"window holds a part of the image), got {padding!r}")
    return (int(pair[0]), int(pair[0])), (int(pair[1]), int(pair[1]))


def pooled_hw(image_hw: tuple[int, int], window: int | Pair, stride: int | Pair | None,
              padding: Padding) -> Pair:
    """The height and width of the pooled images."""
    win = _pair("window", window)
    st = win if stride is None else _pair("stride", stride)
    (top, bottom), (left, right) = pool_padding(padding, win, st, image_hw)
    return ((image_hw[0] + top + bottom - win[0]) // st[0] + 1,
            (image_hw[1] + left + right - win[1]) // st[1] + 1)


def _pool(prim: Primitive, name: str, x: ArrayLike, window: int | Pair,
          stride: int | Pair | None, padding: Padding, pad_value: float) -> Array:
    win = _pair("window", window)
    st = win if stride is None else _pair("stride", stride)
    xa = x if isinstance(x, Tracer) else np.asarray(x)
    shape = tuple(xa.shape)
    if len(shape) != 4:
        raise ShapeError(f"{name}: x must be 4-D (batch, channels, height, width), got shape "
                         f"{shape}" + user_location())
    (top, bottom), (left, right) = pool_padding(padding, win, st, (shape[2], shape[3]))
    if win[0] > shape[2] + top + bottom or win[1] > shape[3] + left + right:
        raise ShapeError(f"{name}: the window {win} is larger than the image {shape[2:]} of x "
                         f"{shape}" + (f" padded by {padding!r}" if top + bottom + left + right
                                       else "") + user_location())
    if xa.dtype.kind not in "fc":
        xa = fnp.astype(xa, np.float64)
    if top + bottom + left + right:
        xa = fnp.pad(xa, ((0, 0), (0, 0), (top, bottom), (left, right)),
                     constant_values=pad_value)
    if prim.multiple_results:
        return prim.bind_multi(xa, window=win, stride=st)[0]
    return prim.bind(xa, window=win, stride=st)


def max_pool2d(x: ArrayLike, window: int | Pair = 2, stride: int | Pair | None = None,
               padding: Padding = "VALID") -> Array:
    """Maximum over windows of NCHW images (stride defaults to the window: non-overlapping);
    padding adds -inf, never a maximum."""
    return _pool(max_pool2d_p, "max_pool2d", x, window, stride, padding, -np.inf)


def avg_pool2d(x: ArrayLike, window: int | Pair = 2, stride: int | Pair | None = None,
               padding: Padding = "VALID") -> Array:
    """Mean over windows of NCHW images (stride defaults to the window); padding adds zeros,
    counted in each window's size."""
    return _pool(avg_pool2d_p, "avg_pool2d", x, window, stride, padding, 0.0)
