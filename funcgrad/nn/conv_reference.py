"""Reference convolution kernels: short and obviously right, for testing the fast ones.

Same contract as the kernels in funcgrad.nn.kernels (NCHW images, OIHW kernels with
C // groups input channels, no padding), written straight from the definition

    y[n, o, i, j] = sum over c in o's group, p, q of
                    x[n, c, i*sh + p*dh, j*sw + q*dw] * k[o, c, p, q]

with numpy's einsum over a view of the windows. No workspace, no threads, no layout tricks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

Pair = tuple[int, int]


def _grouped_windows(x: NDArray[Any], kernel_hw: Pair, stride: Pair, dilation: Pair,
                     groups: int) -> NDArray[Any]:
    """x's windows as (N, G, C // G, Ho, Wo, kh, kw): the element each kernel entry meets."""
    (kh, kw), (sh, sw), (dh, dw) = kernel_hw, stride, dilation
    extent = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = sliding_window_view(x, extent, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    n, c = x.shape[:2]
    return windows.reshape(n, groups, c // groups, *windows.shape[2:])


def conv2d(x: NDArray[Any], k: NDArray[Any], stride: Pair = (1, 1), dilation: Pair = (1, 1),
           groups: int = 1) -> NDArray[Any]:
    """y = the cross-correlation of x (N, C, H, W) with k (O, C // groups, kh, kw)."""
    o, _, kh, kw = k.shape
    win = _grouped_windows(x, (kh, kw), stride, dilation, groups)
    kg = k.reshape(groups, o // groups, *k.shape[1:])
    y: NDArray[Any] = np.einsum("ngchwpq,gocpq->ngohw", win, kg)
    return y.reshape(x.shape[0], o, *y.shape[3:])


def conv2d_kernel_grad(x: NDArray[Any], g: NDArray[Any], kernel_hw: Pair, stride: Pair = (1, 1),
                       dilation: Pair = (1, 1), groups: int = 1) -> NDArray[Any]:
    """dk: each kernel entry's gradient is the sum of g times the image elements it met."""
    n, o, ho, wo = g.shape
    win = _grouped_windows(x, kernel_hw, stride, dilation, groups)
    gg = g.reshape(n, groups, o // groups, ho, wo)
    gk: NDArray[Any] = np.einsum("ngchwpq,ngohw->gocpq", win, gg)
    return gk.reshape(o, *gk.shape[2:])


def conv2d_input_grad(g: NDArray[Any], k: NDArray[Any], image_hw: Pair, stride: Pair = (1, 1),
                      dilation: Pair = (1, 1), groups: int = 1) -> NDArray[Any]:
    """dx: for each kernel entry (p, q), g times that entry goes back to the elements it met."""
    n, o, ho, wo = g.shape
    _, cg, kh, kw = k.shape
    (sh, sw), (dh, dw) = stride, dilation
    gx = np.zeros((n, groups, cg, *image_hw), np.result_type(g, k))
    gg = g.reshape(n, groups, o // groups, ho, wo)
    kg = k.reshape(groups, o // groups, cg, kh, kw)
    for p in range(kh):
        for q in range(kw):
            rows = slice(p * dh, p * dh + sh * (ho - 1) + 1, sh)
            cols = slice(q * dw, q * dw + sw * (wo - 1) + 1, sw)
            gx[:, :, :, rows, cols] += np.einsum("ngohw,goc->ngchw", gg, kg[:, :, :, p, q])
    return gx.reshape(n, groups * cg, *image_hw)
