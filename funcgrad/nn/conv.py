"""Differentiable 2-D convolution: three primitives whose VJPs are each other.

Convolution is bilinear in the image and the kernel, so its two gradients are bilinear
too, and the derivative of each of the three is another of the three:

    y  = conv2d(x, k)                  dy -> dx = input_grad(dy, k),  dk = kernel_grad(x, dy)
    gx = input_grad(g, k)              dgx -> dg = conv2d(dgx, k),    dk = kernel_grad(dgx, g)
    gk = kernel_grad(x, g)             dgk -> dx = input_grad(g, dgk), dg = conv2d(x, dgk)

So grad of grad through a convolution needs no extra code. The numpy work is done by the
kernels in funcgrad.nn.kernels, where the exercise's h_conv2d and h_conv2d_grad live.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.batching import vmap
from funcgrad.core import Array, ArrayLike, Primitive, ShapedArray, ShapeError, Tracer, user_location
from funcgrad.nn import kernels
from funcgrad.primitives.base import batch_leading, move_to_front

Padding = Union[str, int, tuple[int, int]]
"""'VALID' (no padding), 'SAME' (output as large as the input), or zeros added per side."""


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, Tracer) else np.shape(x)


def _check(x: Any, k: Any, *, what: str = "conv2d") -> None:
    xs, ks = tuple(x.shape), tuple(k.shape)
    if len(xs) != 4:
        raise ShapeError(f"{what}: x must be 4-D (batch, channels, height, width), got shape "
                         f"{xs}" + user_location())
    if len(ks) != 4:
        raise ShapeError(f"{what}: k must be 4-D (out_channels, channels, kernel_height, "
                         f"kernel_width), got shape {ks}" + user_location())
    if xs[1] != ks[1]:
        raise ShapeError(f"{what}: x has {xs[1]} channels but k expects {ks[1]}: x {xs}, "
                         f"k {ks}" + user_location())
    if ks[2] > xs[2] or ks[3] > xs[3]:
        raise ShapeError(f"{what}: the kernel ({ks[2]}x{ks[3]}) is larger than the image "
                         f"({xs[2]}x{xs[3]}): x {xs}, k {ks}" + user_location())


def _conv_shape(x: Any, k: Any) -> ShapedArray:
    _check(x, k)
    n, _, h, w = x.shape
    o, _, kh, kw = k.shape
    return ShapedArray((n, o, h - kh + 1, w - kw + 1), np.dtype(x.dtype))


def _input_grad_shape(g: Any, k: Any, *, image_hw: tuple[int, int]) -> ShapedArray:
    return ShapedArray((g.shape[0], k.shape[1], *image_hw), np.dtype(g.dtype))


def _kernel_grad_shape(x: Any, g: Any, *, kernel_hw: tuple[int, int]) -> ShapedArray:
    return ShapedArray((g.shape[1], x.shape[1], *kernel_hw), np.dtype(x.dtype))


def _input_grad(g: Any, k: Any, *, image_hw: tuple[int, int]) -> Any:
    return kernels.conv2d_input_grad(g, k, image_hw)


def _kernel_grad(x: Any, g: Any, *, kernel_hw: tuple[int, int]) -> Any:
    return kernels.conv2d_kernel_grad(x, g, kernel_hw)


def _hw(a: Any) -> tuple[int, int]:
    return (int(a.shape[2]), int(a.shape[3]))


conv2d_p: Primitive = Primitive(
    "conv2d", kernels.conv2d_forward, _conv_shape,
    (lambda ct, y, x, k: conv2d_input_grad_p.bind(ct, k, image_hw=_hw(x)),
     lambda ct, y, x, k: conv2d_kernel_grad_p.bind(x, ct, kernel_hw=_hw(k))),
    batch_leading(0))
conv2d_input_grad_p: Primitive = Primitive(
    "conv2d_input_grad", _input_grad, _input_grad_shape,
    (lambda ct, gx, g, k, *, image_hw: conv2d_p.bind(ct, k),
     lambda ct, gx, g, k, *, image_hw: conv2d_kernel_grad_p.bind(ct, g, kernel_hw=_hw(k))),
    batch_leading(0))


def _each_image(prim: Primitive, **params: Any) -> Any:
    """prim applied to image n of the first operand with the n-th second operand, for all n."""
    return vmap(lambda a, b: fnp.squeeze(prim.bind(fnp.expand_dims(a, 0), b, **params), 0))


def _batch_kernel_grad(prim: Primitive, size: int, args: Any, batched: Any, *,
                       kernel_hw: tuple[int, int]) -> Any:
    # Per-example kernel gradients (vmap of grad): merge the vmapped axis into the images,
    # take each image's kernel gradient in one batched product, and sum each example's.
    x, g = (move_to_front(a, size, b) for a, b in zip(args, batched))
    n = x.shape[1]
    per_image = conv2d_kernel_grad_per_image_p.bind(
        fnp.reshape(x, (size * n, *x.shape[2:])), fnp.reshape(g, (size * n, *g.shape[2:])),
        kernel_hw=kernel_hw)
    return fnp.sum(fnp.reshape(per_image, (size, n, *per_image.shape[1:])), axis=1)


conv2d_kernel_grad_p: Primitive = Primitive(
    "conv2d_kernel_grad", _kernel_grad, _kernel_grad_shape,
    (lambda ct, gk, x, g, *, kernel_hw: conv2d_input_grad_p.bind(g, ct, image_hw=_hw(x)),
     lambda ct, gk, x, g, *, kernel_hw: conv2d_p.bind(x, ct)),
    _batch_kernel_grad)
# Each image's kernel gradient on its own (the per-example gradients of vmap). Its VJPs
# are, image by image, the input gradient and the forward convolution.
conv2d_kernel_grad_per_image_p: Primitive = Primitive(
    "conv2d_kernel_grad_per_image",
    lambda x, g, *, kernel_hw: kernels.conv2d_kernel_grad_per_image(x, g, kernel_hw),
    lambda x, g, *, kernel_hw: ShapedArray((x.shape[0], g.shape[1], x.shape[1], *kernel_hw),
                                           np.dtype(x.dtype)),
    (lambda ct, gk, x, g, *, kernel_hw:
        _each_image(conv2d_input_grad_p, image_hw=_hw(x))(g, ct),
     lambda ct, gk, x, g, *, kernel_hw: _each_image(conv2d_p)(x, ct)),
    batch_leading(0, 1))


def padding_amounts(padding: Padding, kernel_hw: tuple[int, int]
                    ) -> tuple[tuple[int, int], tuple[int, int]]:
    """Zeros to add (top, bottom), (left, right) for a padding spec and kernel size."""
    kh, kw = kernel_hw
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return (0, 0), (0, 0)
        if mode == "SAME":
            # an even kernel puts its extra row/column of padding after the image, as in JAX
            return ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)
        raise ValueError(f"conv2d: padding must be 'VALID', 'SAME', an int or a pair of ints, "
                         f"got {padding!r}")
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    if ph < 0 or pw < 0:
        raise ValueError(f"conv2d: padding must not be negative, got {padding!r}")
    return (ph, ph), (pw, pw)


def conv2d(x: ArrayLike, k: ArrayLike, padding: Padding = "VALID") -> Array:
    """Differentiable 2-D cross-correlation, NCHW images with OIHW kernels, stride 1.

    x: (batch, channels, H, W); k: (out_channels, channels, kh, kw). With the default
    padding 'VALID' the output is (batch, out_channels, H-kh+1, W-kw+1).
    """
    xa = x if isinstance(x, Tracer) else np.asarray(x)
    ka = k if isinstance(k, Tracer) else np.asarray(k)
    if len(_shape(ka)) == 4:
        (pt, pb), (pl, pr) = padding_amounts(padding, (ka.shape[2], ka.shape[3]))
        if pt or pb or pl or pr:
            if len(_shape(xa)) != 4:
                _check(xa, ka)
            xa = fnp.pad(xa, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    _check(xa, ka)
    dtype = np.result_type(xa.dtype, ka.dtype)
    return conv2d_p.bind(fnp.astype(xa, dtype), fnp.astype(ka, dtype))
