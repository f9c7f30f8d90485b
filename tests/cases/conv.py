"""Cases of the strided, dilated, grouped and transposed convolutions.

The reference is funcgrad.nn.conv_reference (einsum over windows), on an image padded with
numpy; the transposed convolution's is that reference's input gradient, cropped by hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import nn
from funcgrad.nn import conv_reference
from cases.base import case, normal

Pads = tuple[tuple[int, int], tuple[int, int]]


def conv_case(name: str, x: tuple[int, ...], k: tuple[int, ...], stride: Any,
              pads: Pads, dilation: Any, groups: int, padding: Any = None) -> Any:
    """nn.conv2d with `padding` (the explicit `pads` when None) against the reference on
    an image padded by `pads`."""
    s, d = (np.broadcast_to(stride, 2), np.broadcast_to(dilation, 2))
    pair = (int(s[0]), int(s[1])), (int(d[0]), int(d[1]))

    def ref(a: Any, b: Any) -> Any:
        return conv_reference.conv2d(np.pad(a, ((0, 0), (0, 0), *pads)), b, *pair, groups)

    return case(name, lambda a, b: nn.conv2d(a, b, stride, pads if padding is None else padding,
                                             dilation, groups),
                ref, normal(*x), normal(*k))


def transpose_case(name: str, x: tuple[int, ...], k: tuple[int, ...], stride: tuple[int, int],
                   padding: int, output_padding: int, dilation: tuple[int, int],
                   groups: int) -> Any:
    """nn.conv_transpose2d against the reference input gradient, cropped as PyTorch does."""

    def ref(a: Any, b: Any) -> Any:
        full = tuple((a.shape[i] - 1) * stride[i - 2] + dilation[i - 2] * (b.shape[i] - 1) + 1
                     for i in (2, 3))
        y = conv_reference.conv2d_input_grad(a, b, (full[0], full[1]), stride, dilation, groups)
        y = np.pad(y, ((0, 0), (0, 0), (0, output_padding), (0, output_padding)))
        return y[:, :, padding:y.shape[2] - padding, padding:y.shape[3] - padding]

    return case(name, lambda a, b: nn.conv_transpose2d(a, b, stride, padding, output_padding,
                                                       dilation, groups),
                ref, normal(*x), normal(*k))


CONV = [
    conv_case("conv2d_stride2", (2, 3, 7, 6), (4, 3, 3, 2), 2, ((0, 0), (0, 0)), 1, 1),
    conv_case("conv2d_stride_pair_pads", (1, 2, 6, 7), (3, 2, 2, 3), (2, 1),
              ((1, 0), (2, 1)), 1, 1),
    conv_case("conv2d_dilation2_same", (2, 2, 6, 5), (2, 2, 3, 2), 1, ((2, 2), (1, 1)), 2, 1,
              padding="SAME"),
    conv_case("conv2d_same_stride3", (1, 2, 7, 8), (2, 2, 3, 3), 3, ((1, 1), (0, 1)), 1, 1,
              padding="SAME"),
    conv_case("conv2d_groups2_stride_dilation", (1, 4, 7, 7), (6, 2, 2, 3), (1, 2),
              ((0, 0), (0, 0)), (2, 1), 2),
    conv_case("conv2d_depthwise_pad1", (2, 3, 5, 4), (3, 1, 2, 2), 1, ((1, 1), (1, 1)), 1, 3,
              padding=1),
    transpose_case("conv_transpose2d_stride2_pad1_out1", (2, 2, 3, 4), (2, 3, 3, 3), (2, 2),
                   1, 1, (1, 1), 1),
    transpose_case("conv_transpose2d_groups2_dilation2", (1, 4, 3, 3), (4, 1, 2, 3), (2, 1),
                   0, 0, (2, 2), 2),
]
