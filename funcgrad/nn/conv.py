"""Differentiable 2-D convolution: three primitives whose VJPs are each other.

Convolution is bilinear in the image and the kernel, so its two gradients are bilinear
too, and the derivative of each of the three is another of the three:

    y  = conv2d(x, k)                  dy -> dx = input_grad(dy, k),  dk = kernel_grad(x, dy)
    gx = input_grad(g, k)              dgx -> dg = conv2d(dgx, k),    dk = kernel_grad(dgx, g)
    gk = kernel_grad(x, g)             dgk -> dx = input_grad(g, dgk), dg = conv2d(x, dgk)

So grad of grad through a convolution needs no extra code. All three carry the same
stride, dilation and groups, which the rules pass on unchanged. Padding is not a
parameter: it is an explicit pad of the image before the convolution (and its VJP a
slice), so the primitives and their kernels only ever see VALID convolutions. The
transposed convolution is the input gradient, cropped. The numpy work is done by the
kernels in funcgrad.nn.kernels, where the exercise's h_conv2d and h_conv2d_grad live.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.batching import vmap
from funcgrad.core import (Array, ArrayLike, Primitive, ShapedArray, ShapeError, Tracer,
                           user_location)
from funcgrad.nn import kernels
from funcgrad.primitives.base import batch_leading, move_to_front

Pair = tuple[int, int]
IntOrPair = Union[int, Pair]
Padding = Union[str, int, Pair, tuple[Pair, Pair]]
"""'VALID' (no padding), 'SAME' (output ceil(H / stride)), or zeros added: the same on
all sides (int), per axis (pair), or ((top, bottom), (left, right))."""
PadWidths = tuple[Pair, Pair]


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if isinstance(x, Tracer) else np.shape(x)


def int_pair(name: str, value: Any, what: str = "conv2d", least: int = 1) -> Pair:
    """An int or a pair of ints, as a pair of ints of at least `least`."""
    try:
        pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
        ok = len(pair) == 2 and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                    and v >= least for v in pair)
    except TypeError:
        ok = False
    if not ok:
        kind = "a positive int" if least == 1 else "an int >= 0"
        raise ValueError(f"{what}: {name} must be {kind} or a pair of them, got {value!r}"
                         + user_location())
    return int(pair[0]), int(pair[1])


def _groups(groups: Any, what: str = "conv2d") -> int:
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{what}: groups must be a positive int, got {groups!r}"
                         + user_location())
    return int(groups)


def _extent(kernel: int, dilation: int) -> int:
    """The rows (or columns) a dilated kernel spans."""
    return dilation * (kernel - 1) + 1


def _check(x: Any, k: Any, *, stride: Pair, dilation: Pair, groups: int,
           what: str = "conv2d") -> Pair:
    """The output (Ho, Wo) of a VALID convolution of x with k, after checking the shapes."""
    xs, ks = _shape(x), _shape(k)
    if len(xs) != 4:
        raise ShapeError(f"{what}: x must be 4-D (batch, channels, height, width), got shape "
                         f"{xs}" + user_location())
    if len(ks) != 4:
        raise ShapeError(f"{what}: k must be 4-D (out_channels, channels, kernel_height, "
                         f"kernel_width), got shape {ks}" + user_location())
    if groups > 1 and (xs[1] % groups or ks[0] % groups):
        raise ShapeError(f"{what}: groups={groups} must divide both the input channels "
                         f"({xs[1]}) and the output channels ({ks[0]}): x {xs}, k {ks}"
                         + user_location())
    if xs[1] != ks[1] * groups:
        per_group = f" ({ks[1]} per group, {groups} groups)" if groups > 1 else ""
        raise ShapeError(f"{what}: x has {xs[1]} channels but k expects {ks[1] * groups}"
                         f"{per_group}: x {xs}, k {ks}" + user_location())
    eh, ew = _extent(ks[2], dilation[0]), _extent(ks[3], dilation[1])
    if eh > xs[2] or ew > xs[3]:
        dilated = f" with dilation {dilation}" if dilation != (1, 1) else ""
        raise ShapeError(f"{what}: the kernel ({eh}x{ew}{dilated}) is larger than the image "
                         f"({xs[2]}x{xs[3]}): x {xs}, k {ks}" + user_location())
    return (xs[2] - eh) // stride[0] + 1, (xs[3] - ew) // stride[1] + 1


def _conv_shape(x: Any, k: Any, *, stride: Pair, dilation: Pair, groups: int) -> ShapedArray:
    ho, wo = _check(x, k, stride=stride, dilation=dilation, groups=groups)
    return ShapedArray((x.shape[0], k.shape[0], ho, wo), np.dtype(x.dtype))


def _input_grad_shape(g: Any, k: Any, *, image_hw: Pair, groups: int, **_: Any) -> ShapedArray:
    return ShapedArray((g.shape[0], k.shape[1] * groups, *image_hw), np.dtype(g.dtype))


def _kernel_grad_shape(x: Any, g: Any, *, kernel_hw: Pair, groups: int,
                       **_: Any) -> ShapedArray:
    return ShapedArray((g.shape[1], x.shape[1] // groups, *kernel_hw), np.dtype(x.dtype))


def _hw(a: Any) -> Pair:
    return (int(a.shape[2]), int(a.shape[3]))


conv2d_p: Primitive = Primitive(
    "conv2d", kernels.conv2d_forward, _conv_shape,
    (lambda ct, y, x, k, **p: conv2d_input_grad_p.bind(ct, k, image_hw=_hw(x), **p),
     lambda ct, y, x, k, **p: conv2d_kernel_grad_p.bind(x, ct, kernel_hw=_hw(k), **p)),
    batch_leading(0))
conv2d_input_grad_p: Primitive = Primitive(
    "conv2d_input_grad", kernels.conv2d_input_grad, _input_grad_shape,
    (lambda ct, gx, g, k, *, image_hw, **p: conv2d_p.bind(ct, k, **p),
     lambda ct, gx, g, k, *, image_hw, **p:
        conv2d_kernel_grad_p.bind(ct, g, kernel_hw=_hw(k), **p)),
    batch_leading(0))


def _each_image(prim: Primitive, **params: Any) -> Any:
    """prim applied to image n of the first operand with the n-th second operand, for all n."""
    return vmap(lambda a, b: fnp.squeeze(prim.bind(fnp.expand_dims(a, 0), b, **params), 0))


def _batch_kernel_grad(prim: Primitive, size: int, args: Any, batched: Any, *,
                       kernel_hw: Pair, **p: Any) -> Any:
    # Per-example kernel gradients (vmap of grad): merge the vmapped axis into the images,
    # take each image's kernel gradient in one batched product, and sum each example's.
    x, g = (move_to_front(a, size, b) for a, b in zip(args, batched))
    n = x.shape[1]
    per_image = conv2d_kernel_grad_per_image_p.bind(
        fnp.reshape(x, (size * n, *x.shape[2:])), fnp.reshape(g, (size * n, *g.shape[2:])),
        kernel_hw=kernel_hw, **p)
    return fnp.sum(fnp.reshape(per_image, (size, n, *per_image.shape[1:])), axis=1)


conv2d_kernel_grad_p: Primitive = Primitive(
    "conv2d_kernel_grad", kernels.conv2d_kernel_grad, _kernel_grad_shape,
    (lambda ct, gk, x, g, *, kernel_hw, **p:
        conv2d_input_grad_p.bind(g, ct, image_hw=_hw(x), **p),
     lambda ct, gk, x, g, *, kernel_hw, **p: conv2d_p.bind(x, ct, **p)),
    _batch_kernel_grad)
# Each image's kernel gradient on its own (the per-example gradients of vmap). Its VJPs
# are, image by image, the input gradient and the forward convolution.
conv2d_kernel_grad_per_image_p: Primitive = Primitive(
    "conv2d_kernel_grad_per_image", kernels.conv2d_kernel_grad_per_image,
    lambda x, g, **p: ShapedArray((x.shape[0], *_kernel_grad_shape(x, g, **p).shape),
                                  np.dtype(x.dtype)),
    (lambda ct, gk, x, g, *, kernel_hw, **p:
        _each_image(conv2d_input_grad_p, image_hw=_hw(x), **p)(g, ct),
     lambda ct, gk, x, g, *, kernel_hw, **p: _each_image(conv2d_p, **p)(x, ct)),
    batch_leading(0, 1))


def _padding_error(padding: Any, what: str) -> ValueError:
    return ValueError(f"{what}: padding must be 'VALID', 'SAME', an int, a pair of ints or "
                      f"((top, bottom), (left, right)), got {padding!r}" + user_location())


def padding_amounts(padding: Padding, image_hw: Pair, kernel_hw: Pair, stride: Pair = (1, 1),
                    dilation: Pair = (1, 1), what: str = "conv2d") -> PadWidths:
    """Zeros to add (top, bottom), (left, right) to an image before a convolution.

    'SAME' gives an output of ceil(H / stride) rows, with the odd padding row after the
    image, as in JAX.
    """
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return (0, 0), (0, 0)
        if mode == "SAME":
            def same(size: int, kernel: int, s: int, d: int) -> Pair:
                total = max((-(-size // s) - 1) * s + _extent(kernel, d) - size, 0)
                return total // 2, total - total // 2

            return (same(image_hw[0], kernel_hw[0], stride[0], dilation[0]),
                    same(image_hw[1], kernel_hw[1], stride[1], dilation[1]))
        raise _padding_error(padding, what)
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        widths: Any = ((padding, padding), (padding, padding))
    else:
        try:
            spec: Any = padding
            ph, pw = spec
            widths = tuple((p, p) if isinstance(p, (int, np.integer)) else tuple(p)
                           for p in (ph, pw))
        except (TypeError, ValueError):
            raise _padding_error(padding, what) from None
    flat = [v for side in widths for v in side]
    if len(flat) != 4 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 for v in flat):
        raise _padding_error(padding, what)
    if any(v < 0 for v in flat):
        raise ValueError(f"{what}: padding must not be negative, got {padding!r}"
                         + user_location())
    (pt, pb), (pl, pr) = widths
    return (int(pt), int(pb)), (int(pl), int(pr))


def conv2d_output_shape(x_shape: tuple[int, ...], k_shape: tuple[int, ...], stride: IntOrPair = 1,
                        padding: Padding = "VALID", dilation: IntOrPair = 1,
                        groups: int = 1) -> tuple[int, int, int, int]:
    """The shape of conv2d(x, k, ...) for x and k of these shapes, checked as conv2d does."""
    s, d, g = int_pair("stride", stride), int_pair("dilation", dilation), _groups(groups)
    padded = _padded_shape(x_shape, k_shape, padding, s, d)
    ho, wo = _check(ShapedArray(padded, np.dtype(np.float32)),
                    ShapedArray(tuple(k_shape), np.dtype(np.float32)),
                    stride=s, dilation=d, groups=g)
    return int(x_shape[0]), int(k_shape[0]), ho, wo


def _padded_shape(x_shape: tuple[int, ...], k_shape: tuple[int, ...], padding: Padding,
                  stride: Pair, dilation: Pair) -> tuple[int, ...]:
    if len(x_shape) != 4 or len(k_shape) != 4:
        return tuple(x_shape)  # _check says what is wrong
    (pt, pb), (pl, pr) = padding_amounts(padding, (x_shape[2], x_shape[3]),
                                         (k_shape[2], k_shape[3]), stride, dilation)
    n, c, h, w = x_shape
    return n, c, h + pt + pb, w + pl + pr


def _as_array(a: ArrayLike) -> Any:
    return a if isinstance(a, Tracer) else np.asarray(a)


def _common_dtype(x: Any, k: Any) -> tuple[Any, Any]:
    dtype = np.result_type(x.dtype, k.dtype)
    return fnp.astype(x, dtype), fnp.astype(k, dtype)


def conv2d(x: ArrayLike, k: ArrayLike, stride: IntOrPair = 1, padding: Padding = "VALID",
           dilation: IntOrPair = 1, groups: int = 1) -> Array:
    """Differentiable 2-D cross-correlation of NCHW images with OIHW kernels (PyTorch's conv2d).

    x: (batch, C, H, W); k: (O, C // groups, kh, kw); stride and dilation (of the kernel)
    an int or a pair. Output (batch, O, Ho, Wo) with Ho = (H + top + bottom
    - dilation*(kh-1) - 1) // stride + 1. With groups G, channels split into G blocks and
    output block g sees only input block g (depthwise when G == C).
    """
    xa, ka = _as_array(x), _as_array(k)
    s, d, g = int_pair("stride", stride), int_pair("dilation", dilation), _groups(groups)
    xs, ks = _shape(xa), _shape(ka)
    if len(xs) == 4 and len(ks) == 4:
        (pt, pb), (pl, pr) = padding_amounts(padding, (xs[2], xs[3]), (ks[2], ks[3]), s, d)
        if pt or pb or pl or pr:
            xa = fnp.pad(xa, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    _check(xa, ka, stride=s, dilation=d, groups=g)
    xa, ka = _common_dtype(xa, ka)
    return conv2d_p.bind(xa, ka, stride=s, dilation=d, groups=g)


def conv_transpose2d(x: ArrayLike, k: ArrayLike, stride: IntOrPair = 1, padding: Padding = 0,
                     output_padding: IntOrPair = 0, dilation: IntOrPair = 1,
                     groups: int = 1) -> Array:
    """Differentiable transposed convolution (PyTorch's conv_transpose2d): conv2d's input gradient.

    x: (batch, C_in, H, W); k: (C_in, C_out // groups, kh, kw), PyTorch's ConvTranspose2d
    weight layout. Output (batch, C_out, Ho, Wo) with Ho = (H - 1)*stride - top - bottom
    + dilation*(kh-1) + output_padding + 1: padding p removes p rows or columns from each
    side of the full result, output_padding adds rows at the bottom and columns on the
    right. padding 'VALID' is 0; 'SAME' gives Ho = H*stride (cropped as the gradient of a
    'SAME' conv2d with this stride on an image of that size).
    """
    xa, ka = _as_array(x), _as_array(k)
    s, d, g = (int_pair("stride", stride, _TRANSPOSE),
               int_pair("dilation", dilation, _TRANSPOSE),
               _groups(groups, _TRANSPOSE))
    full, rows, cols = _transpose_crop(_shape(xa), _shape(ka), s, padding, output_padding, d, g)
    xa, ka = _common_dtype(xa, ka)
    y = conv2d_input_grad_p.bind(xa, ka, image_hw=full, stride=s, dilation=d, groups=g)
    return _crop(y, rows, cols)


_TRANSPOSE = "conv_transpose2d"


def conv_transpose2d_output_shape(x_shape: tuple[int, ...], k_shape: tuple[int, ...],
                                  stride: IntOrPair = 1, padding: Padding = 0,
                                  output_padding: IntOrPair = 0, dilation: IntOrPair = 1,
                                  groups: int = 1) -> tuple[int, int, int, int]:
    """The shape of conv_transpose2d(x, k, ...) for x and k of these shapes, checked."""
    s, d, g = (int_pair("stride", stride, _TRANSPOSE),
               int_pair("dilation", dilation, _TRANSPOSE),
               _groups(groups, _TRANSPOSE))
    (fh, fw), (pt, pb), (pl, pr) = _transpose_crop(tuple(x_shape), tuple(k_shape), s, padding,
                                                   output_padding, d, g)
    return int(x_shape[0]), int(k_shape[1]) * g, fh - pt - pb, fw - pl - pr


def _transpose_crop(xs: tuple[int, ...], ks: tuple[int, ...], s: Pair, padding: Padding,
                    output_padding: IntOrPair, d: Pair, g: int) -> tuple[Pair, Pair, Pair]:
    """The full (uncropped) size of a transposed convolution and the rows and columns to
    crop from it (negative: zeros to add), after checking the shapes."""
    op = int_pair("output_padding", output_padding, _TRANSPOSE, least=0)
    for name, shape, dims in (("x", xs, "(batch, channels, height, width)"),
                              ("k", ks, "(in_channels, out_channels // groups, kernel_height, "
                                        "kernel_width)")):
        if len(shape) != 4:
            raise ShapeError(f"{_TRANSPOSE}: {name} must be 4-D {dims}, got shape {shape}"
                             + user_location())
    if xs[1] != ks[0] or ks[0] % g:
        raise ShapeError(f"{_TRANSPOSE}: x has {xs[1]} channels but k has {ks[0]} input "
                         f"channels" + (f" (which groups={g} must divide)" if g > 1 else "")
                         + f": x {xs}, k {ks}" + user_location())
    # The padded image of the conv2d whose input gradient this is: its output is x's size.
    full = ((xs[2] - 1) * s[0] + _extent(ks[2], d[0]), (xs[3] - 1) * s[1] + _extent(ks[3], d[1]))
    (pt, pb), (pl, pr) = padding_amounts(padding, full, (ks[2], ks[3]), s, d, _TRANSPOSE)
    out = (full[0] - pt - pb + op[0], full[1] - pl - pr + op[1])
    if isinstance(padding, str) and padding.upper() == "SAME":
        # cropped as the gradient of a SAME conv2d of an image of the output's size
        image = (xs[2] * s[0], xs[3] * s[1])
        (pt, _), (pl, _) = padding_amounts(padding, image, (ks[2], ks[3]), s, d, _TRANSPOSE)
        out = (image[0] + op[0], image[1] + op[1])
    if min(out) < 1:
        raise ShapeError(f"{_TRANSPOSE}: padding {padding!r} leaves no output "
                         f"({out[0]}x{out[1]}) for x {xs}, k {ks}" + user_location())
    # output_padding rows (and any beyond the full result) are a negative crop: zeros
    return full, (pt, full[0] - pt - out[0]), (pl, full[1] - pl - out[1])


def _crop(y: Array, rows: Pair, cols: Pair) -> Array:
    """y without rows[0] rows at the top and rows[1] at the bottom, likewise cols (negative:
    zeros added instead)."""
    h, w = _hw(y)
    keep: Array = y[:, :, max(rows[0], 0):h - max(rows[1], 0), max(cols[0], 0):w - max(cols[1], 0)]
    grow = ((0, 0), (0, 0), (max(-rows[0], 0), max(-rows[1], 0)),
            (max(-cols[0], 0), max(-cols[1], 0)))
    return fnp.pad(keep, grow) if any(v for side in grow for v in side) else keep
