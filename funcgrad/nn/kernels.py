"""Numpy kernels for 2-D convolution and pooling: plain arrays in, plain arrays out.

Images are NCHW (batch, channels, height, width) and kernels OIHW (out_channels,
in_channels, kernel_height, kernel_width). Convolution here is cross-correlation (the
kernel is not flipped), with any stride, kernel dilation and number of feature groups,
and no padding (funcgrad.nn.conv pads explicitly), as in PyTorch. Every result has the dtype
numpy would give the inputs' product, but at least float32: float32 in gives float32 out
with no float64 temporaries, float64 stays float64, integers become float64.

Convolution is bilinear, so its two gradients are bilinear as well and the three functions
are each other's derivatives::

    y  = conv2d_forward(x, k):     dx = conv2d_input_grad(dy, k),  dk = conv2d_kernel_grad(x, dy)
    gx = conv2d_input_grad(g, k):  dg = conv2d_forward(dgx, k),    dk = conv2d_kernel_grad(dgx, g)
    gk = conv2d_kernel_grad(x, g): dx = conv2d_input_grad(g, dgk), dg = conv2d_forward(x, dgk)

All three accept any real arrays of matching shapes, not only images, kernels and
gradients that came from each other.

Each convolution is one np.matmul call. The image's windows are copied once into an
im2col matrix, so the contraction is a single GEMM over the whole batch, or one GEMM per
image when the contraction is too shallow for the batch-wide layout to pay for its
transposes. The batch-wide matrix has a row per output position, copied from the image
moved to channels-last (NHWC), where each window row is one run of kernel_width *
channels values: a few long copies instead of one per output row. Large temporaries live in a
per-thread workspace reused from call to call: on the machines this was tuned on, first
touches of freshly allocated memory (page faults) cost more than the copies themselves,
so only the returned arrays are new allocations. `release_workspace` frees that memory.

Pooling is VALID (no padding) with any window and stride; 2x2 windows with stride 2 take
a faster path. Max pooling saves, per window, the uint8 position of its maximum instead
of the input, which is all its backward pass needs.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

__all__ = [
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "conv2d_forward",
    "conv2d_input_grad",
    "conv2d_kernel_grad",
    "conv2d_kernel_grad_per_image",
    "h_conv2d",
    "h_conv2d_grad",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "max_pool2d_select",
    "release_workspace",
]

FloatArray = NDArray[np.floating[Any]]
"""A real floating-point array (float32 or float64 in practice)."""

IndexArray = NDArray[np.unsignedinteger[Any]]
"""Max pooling's saved positions: the row-major offset of the maximum inside each window."""

_X_DIMS = "(batch, channels, height, width)"
_K_DIMS = "(out_channels, in_channels, kernel_height, kernel_width)"
_G_DIMS = "(batch, out_channels, out_height, out_width)"


# ---------------------------------------------------------------------------------------
# workspace

_workspace = threading.local()


def scratch(slot: int, shape: tuple[int, ...], dtype: np.dtype[Any]) -> NDArray[Any]:
    """A temporary array from the calling thread's workspace: garbage on entry, overwritten
    by the next kernel call; a kernel uses one slot per temporary it holds at a time."""
    buffers: dict[int, NDArray[np.uint8]] = _workspace.__dict__.setdefault("buffers", {})
    nbytes = math.prod(shape) * dtype.itemsize
    buf = buffers.get(slot)
    if buf is None or buf.nbytes < nbytes:
        # drop the old buffer before allocating, so peak memory is not old + new
        buffers.pop(slot, None)
        buf = buffers[slot] = np.empty(max(nbytes, 1), np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def _release_own_workspace() -> None:
    _workspace.__dict__.pop("buffers", None)


def release_workspace() -> None:
    """Free the scratch buffers cached for the calling thread and the helper thread."""
    _release_own_workspace()
    helper = _helper
    if helper is not None:
        helper.submit(_release_own_workspace).result()


# ---------------------------------------------------------------------------------------
# a second thread for batch halves

# Numpy releases the GIL inside copies, ufunc loops and matmul, so a helper thread can
# process one half of a batch while the caller does the other. That is used only where
# nothing else keeps the second core busy: the per-image convolution paths, whose small
# GEMMs OpenBLAS runs on the calling thread, and the 2x2 pooling paths. (Splitting the
# copies around a large multithreaded GEMM was measured and gained nothing.)
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

# Below this many output elements the hand-off to the helper (tens of microseconds) is
# not repaid.
_PARALLEL_MIN_ITEMS = 1 << 18

# OpenBLAS runs a GEMM of up to about this many multiply-adds on the calling thread;
# larger ones start its own threads, and two callers doing so at once oversubscribe.
_SERIAL_GEMM_MAX = 1 << 18

_helper: ThreadPoolExecutor | None = None
_helper_lock = threading.Lock()


def _start_helper() -> ThreadPoolExecutor:
    global _helper
    with _helper_lock:
        if _helper is None:
            _helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="funcgrad-kernels")
            _helper.submit(setattr, _workspace, "is_helper", True).result()
        return _helper


def _forget_helper() -> None:
    # a forked child has no copy of the helper thread, only of the object describing it
    global _helper, _helper_lock
    _helper, _helper_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helper)


def _split_batch(n: int, items: int, work: Callable[[int, int], None]) -> None:
    """Run work(start, stop) over images [0, n): in two halves on two threads when worth it."""
    if n < 2 or items < _PARALLEL_MIN_ITEMS or _CPUS < 2 or getattr(_workspace, "is_helper", False):
        work(0, n)
        return
    half = n // 2
    try:
        future = _start_helper().submit(work, 0, half)
    except RuntimeError:  # no new threads during interpreter shutdown
        work(0, n)
        return
    try:
        work(half, n)
    finally:
        # also on error: the helper must be done writing into the caller's arrays
        future.result()


# ---------------------------------------------------------------------------------------
# argument checks

def _float_dtype(*arrays: NDArray[Any]) -> np.dtype[Any]:
    # float32 as a floor keeps float32 inputs float32 (numpy 2 promotion) while turning
    # integers into float64 and float16 into float32, which BLAS can multiply.
    dtype = np.result_type(*arrays, np.float32)
    if not np.issubdtype(dtype, np.floating):
        kinds = ", ".join(str(a.dtype) for a in arrays)
        raise TypeError(f"convolution needs real floating-point arrays, got dtypes {kinds}")
    return dtype


def _require_4d(name: str, a: NDArray[Any], dims: str) -> None:
    if a.ndim != 4:
        raise ValueError(f"{name} must be 4-D {dims}, got shape {a.shape}")


Pair = tuple[int, int]


class Geometry(NamedTuple):
    """A convolution's checked sizes: x (n, c, h, w), k (o, c // groups, kh, kw), y (n, o, ho, wo)."""

    n: int
    c: int
    h: int
    w: int
    o: int
    kh: int
    kw: int
    ho: int
    wo: int
    stride: Pair
    dilation: Pair
    groups: int

    @property
    def plain(self) -> bool:
        """Stride 1, no dilation, one group: the case the flat input-gradient is written for."""
        return self.stride == (1, 1) and self.dilation == (1, 1) and self.groups == 1

    @property
    def depth(self) -> int:
        """Multiply-adds per output element: the length of each GEMM's contraction."""
        return self.c // self.groups * self.kh * self.kw

    def describe(self) -> str:
        """The parameters, for error messages; empty for a plain convolution."""
        return "" if self.plain else (f", stride {self.stride}, dilation {self.dilation} "
                                      f"and groups {self.groups}")


def _groups(groups: Any) -> int:
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    return int(groups)


def _geometry(x_shape: tuple[int, ...], k_shape: tuple[int, ...], stride: Any, dilation: Any,
              groups: int, *, image_from_x: bool, kernel_from_k: bool) -> Geometry:
    """The sizes of a convolution of an image of x_shape with a kernel of k_shape, checked.

    image_from_x / kernel_from_k say whether the shapes are the arrays' own (x, k) or were
    given as image_hw / kernel_hw, which is how the error messages name them.
    """
    s, d = _hw_pair("stride", stride), _hw_pair("dilation", dilation)
    n, c, h, w = (int(v) for v in x_shape)
    o, cg, kh, kw = (int(v) for v in k_shape)
    image = f"x has shape {tuple(x_shape)} ({h}x{w} image)" if image_from_x else \
        f"image_hw is {(h, w)}"
    if c % groups or o % groups:
        kernel = f"k has shape {tuple(k_shape)}" if kernel_from_k else f"g has {o} channels"
        raise ValueError(f"groups={groups} must divide both the input channels ({c}) and the "
                         f"output channels ({o}): {image}, {kernel}")
    if c != cg * groups:
        per_group = f" ({cg} per group, {groups} groups)" if groups > 1 else ""
        raise ValueError(f"channel mismatch: x has shape {tuple(x_shape)} with {c} channels but "
                         f"k has shape {tuple(k_shape)} expecting {cg * groups}{per_group}")
    eh, ew = d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1
    window = f"({eh}x{ew} window" + (f", dilation {d})" if d != (1, 1) else ")")
    kernel = f"k has shape {tuple(k_shape)} {window}" if kernel_from_k else \
        f"kernel_hw is {(kh, kw)} {window}"
    if eh > h or ew > w:
        raise ValueError(f"kernel larger than the image: {kernel} but {image}")
    return Geometry(n, c, h, w, o, kh, kw, (h - eh) // s[0] + 1, (w - ew) // s[1] + 1, s, d,
                    groups)


def _hw_pair(name: str, value: Any) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of ints (height, width), got {value!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return h, w


def _check_grad_shape(g: NDArray[Any], expected: tuple[int, ...], context: str) -> None:
    _require_4d("g", g, _G_DIMS)
    if g.shape != expected:
        raise ValueError(f"g must have shape {expected} {context}, got shape {g.shape}")


# ---------------------------------------------------------------------------------------
# convolution

# A convolution does C*kh*kw multiply-adds per output element (per group). Up to about
# this many it is memory-bound: moving y and g between (N, O, ...) and (O, N, ...) order
# for one big GEMM costs as much as the arithmetic, so each image gets its own GEMM in
# NCHW order instead (e.g. MNIST's first layer, 1*3*3 = 9). Deeper contractions are
# compute-bound and run faster as one large, multithreaded GEMM over the whole batch.
_PER_IMAGE_MAX_DEPTH = 64


def _per_image(geo: Geometry) -> bool:
    return geo.depth <= _PER_IMAGE_MAX_DEPTH


def _parallel_items(items: int, gemm_size: int) -> int:
    """items, or 0 (stay on one thread) when each image's GEMM would start BLAS threads."""
    return items if gemm_size <= _SERIAL_GEMM_MAX else 0


def _im2col(x: NDArray[Any], geo: Geometry, slot: int) -> NDArray[Any]:
    """x's windows copied into the workspace, one image per block: (N, G, depth, Ho*Wo),
    with rows (channel, kernel row, kernel column) so each group's rows are one block."""
    n = x.shape[0]
    c, kh, kw, ho, wo, groups = geo.c, geo.kh, geo.kw, geo.ho, geo.wo, geo.groups
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    extent = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    # (N, C, Ho, Wo, kh, kw): every stride-th window, every dilation-th element of each;
    # the innermost run of the copy is an output row
    windows = sliding_window_view(x, extent, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    cols = scratch(slot, (n, c, kh, kw, ho, wo), x.dtype)
    np.copyto(cols, windows.transpose(0, 1, 4, 5, 2, 3))
    return cols.reshape(n, groups, geo.depth, ho * wo)


def _patches(x: NDArray[Any], geo: Geometry, slot: int) -> NDArray[Any]:
    """x's windows as the rows of one matrix per group: (G, N*Ho*Wo, depth), each row
    (kernel row, kernel column, channel), in the workspace (slots slot and slot + 1).

    x is first moved to channels-last (N, H, W, C), so each window row is one contiguous run
    of kw * C values (C of a group, when G > 1) and the copy makes few long runs where
    channels-first windows would make many runs of Wo.
    """
    n = x.shape[0]
    c, h, w, kh, kw, ho, wo = geo.c, geo.h, geo.w, geo.kh, geo.kw, geo.ho, geo.wo
    groups = geo.groups
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    last = scratch(slot + 1, (n, h, w, c), x.dtype)
    np.copyto(last, x.transpose(0, 2, 3, 1))
    # (N, Ho, Wo, C, kh, kw), C split into (G, C // G)
    windows = sliding_window_view(last, (dh * (kh - 1) + 1, dw * (kw - 1) + 1),
                                  axis=(1, 2))[:, ::sh, ::sw, :, ::dh, ::dw]
    windows = windows.reshape(n, ho, wo, groups, c // groups, kh, kw)
    rows = scratch(slot, (groups, n, ho, wo, kh, kw, c // groups), x.dtype)
    np.copyto(rows, windows.transpose(3, 0, 1, 2, 5, 6, 4))
    return rows.reshape(groups, n * ho * wo, geo.depth)


def _col2im(gx: NDArray[Any], colg: NDArray[Any], geo: Geometry) -> None:
    """Add colg (A, B, kh, kw, Ho, Wo) into gx (A, B, H, W), each kernel offset at its windows."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    for i in range(geo.kh):
        for j in range(geo.kw):
            gx[:, :, _window_starts(i * dh, sh, geo.ho), _window_starts(j * dw, sw, geo.wo)] += \
                colg[:, :, i, j]


def _channels_first(a: NDArray[Any], slot: int) -> NDArray[Any]:
    """a (N, C, H, W) copied to a (C, N*H*W) matrix in the workspace."""
    n, c, h, w = a.shape
    out = scratch(slot, (c, n, h, w), a.dtype)
    np.copyto(out, a.transpose(1, 0, 2, 3))
    return out.reshape(c, n * h * w)


def _kernel_matrix(k: NDArray[Any], geo: Geometry) -> NDArray[Any]:
    """k (O, C // G, kh, kw) as one (O // G, depth) matrix per group: (G, O // G, depth)."""
    return k.reshape(geo.groups, geo.o // geo.groups, geo.depth)


def conv2d_forward(x: FloatArray, k: FloatArray, stride: Pair = (1, 1), dilation: Pair = (1, 1),
                   groups: int = 1) -> FloatArray:
    """Cross-correlate x (N, C, H, W) with kernels k (O, C // groups, kh, kw): y (N, O, Ho, Wo).

    Ho = (H - dilation_h * (kh - 1) - 1) // stride_h + 1, likewise Wo; no padding. With
    groups G, the channels split into G consecutive blocks and output block g sees only
    input block g.
    """
    x, k = np.asarray(x), np.asarray(k)
    _require_4d("x", x, _X_DIMS)
    _require_4d("k", k, _K_DIMS)
    geo = _geometry(x.shape, k.shape, stride, dilation, _groups(groups),
                    image_from_x=True, kernel_from_k=True)
    dtype = _float_dtype(x, k)
    x, k = x.astype(dtype, copy=False), k.astype(dtype, copy=False)
    n, o, ho, wo, groups = geo.n, geo.o, geo.ho, geo.wo, geo.groups
    kmat = _kernel_matrix(k, geo)
    y = np.empty((n, o, ho, wo), dtype)
    if _per_image(geo):
        def images(start: int, stop: int) -> None:
            cols = _im2col(x[start:stop], geo, 0)
            np.matmul(kmat, cols,
                      out=y[start:stop].reshape(stop - start, groups, o // groups, ho * wo))

        _split_batch(n, _parallel_items(y.size, kmat.size * ho * wo), images)
        return y
    # rows of patches times the kernel's columns, (kernel row, kernel column, channel)
    kcols = np.ascontiguousarray(k.reshape(groups, o // groups, geo.c // groups, geo.kh, geo.kw)
                                 .transpose(0, 3, 4, 2, 1)).reshape(groups, geo.depth, o // groups)
    yt = scratch(2, (groups, n, ho * wo, o // groups), dtype)
    np.matmul(_patches(x, geo, 0), kcols, out=yt.reshape(groups, n * ho * wo, o // groups))
    np.copyto(y.reshape(n, groups, o // groups, ho * wo), yt.transpose(1, 0, 3, 2))
    return y


def _input_grad_per_image(g: NDArray[Any], k: NDArray[Any], geo: Geometry) -> NDArray[Any]:
    # One GEMM per image (and group) into im2col layout, then col2im: each kernel offset's
    # block is added back at its window positions, in runs of one output row.
    n, o, ho, wo = g.shape
    kt = _kernel_matrix(k, geo).transpose(0, 2, 1)
    gx = np.zeros((n, geo.c, geo.h, geo.w), g.dtype)

    def images(start: int, stop: int) -> None:
        colg = scratch(0, (stop - start, geo.c, geo.kh, geo.kw, ho, wo), g.dtype)
        np.matmul(kt, g[start:stop].reshape(stop - start, geo.groups, o // geo.groups, ho * wo),
                  out=colg.reshape(stop - start, geo.groups, geo.depth, ho * wo))
        _col2im(gx[start:stop], colg, geo)

    _split_batch(n, _parallel_items(gx.size, kt.size * ho * wo), images)
    return gx


def _input_grad_cols(g: NDArray[Any], k: NDArray[Any], geo: Geometry) -> NDArray[Any]:
    # As _input_grad_per_image, but one GEMM per group for the whole batch (g moved
    # channels-first).
    n, o, ho, wo = g.shape
    gt = _channels_first(g, slot=1)
    colg = scratch(0, (geo.c, geo.kh, geo.kw, n, ho, wo), g.dtype)
    np.matmul(_kernel_matrix(k, geo).transpose(0, 2, 1),
              gt.reshape(geo.groups, o // geo.groups, n * ho * wo),
              out=colg.reshape(geo.groups, geo.depth, n * ho * wo))
    gx = np.zeros((n, geo.c, geo.h, geo.w), g.dtype)
    _col2im(gx.transpose(1, 0, 2, 3), colg.transpose(0, 3, 1, 2, 4, 5), geo)
    return gx


def _input_grad_flat(g: NDArray[Any], k: NDArray[Any], geo: Geometry) -> NDArray[Any]:
    # Treat the whole batch as one long flattened image per channel: g is zero-padded to
    # (O, N*H*W), so the contribution of kernel offset (i, j) is a plain shift by i*W + j
    # of the GEMM's output block. The GEMM does some work for the padding positions, but
    # col2im becomes kh*kw long contiguous adds instead of N*C*Ho short ones per offset.
    # Only for plain convolutions (stride 1, no dilation, one group).
    n, o, ho, wo = g.shape
    c, h, w, kh, kw = geo.c, geo.h, geo.w, geo.kh, geo.kw
    length = n * h * w - (kh - 1) * w - (kw - 1)
    gp = scratch(1, (o, n, h, w), g.dtype)
    gp.fill(0)
    np.copyto(gp[:, :, :ho, :wo], g.transpose(1, 0, 2, 3))
    # rows (i, j, c) so that each offset's block is contiguous
    kt = np.ascontiguousarray(k.transpose(2, 3, 1, 0)).reshape(kh * kw * c, o)
    colg = scratch(0, (kh, kw, c, length), g.dtype)
    np.matmul(kt, gp.reshape(o, n * h * w)[:, :length], out=colg.reshape(kh * kw * c, length))
    acc = scratch(2, (c, n, h, w), g.dtype)
    flat = acc.reshape(c, n * h * w)
    flat[:, :length] = colg[0, 0]
    flat[:, length:] = 0
    for i in range(kh):
        for j in range(kw):
            if i or j:
                shift = i * w + j
                flat[:, shift:shift + length] += colg[i, j]
    gx = np.empty((n, c, h, w), g.dtype)
    np.copyto(gx, acc.transpose(1, 0, 2, 3))
    return gx


def conv2d_input_grad(g: FloatArray, k: FloatArray, image_hw: Pair, stride: Pair = (1, 1),
                      dilation: Pair = (1, 1), groups: int = 1) -> FloatArray:
    """Gradient w.r.t. the image (N, C, H, W) of conv2d_forward, given the output gradient g.

    Also the transposed convolution of g with k. Image rows or columns that no window
    reaches (when the stride does not divide H - window) get zero.
    """
    g, k = np.asarray(g), np.asarray(k)
    _require_4d("k", k, _K_DIMS)
    h, w = _hw_pair("image_hw", image_hw)
    _require_4d("g", g, _G_DIMS)
    groups = _groups(groups)
    geo = _geometry((g.shape[0], k.shape[1] * groups, h, w), k.shape, stride, dilation, groups,
                    image_from_x=False, kernel_from_k=True)
    _check_grad_shape(g, (geo.n, geo.o, geo.ho, geo.wo),
                      f"for k of shape {k.shape} and image_hw {(h, w)}{geo.describe()}")
    dtype = _float_dtype(g, k)
    g, k = g.astype(dtype, copy=False), k.astype(dtype, copy=False)
    if g.size == 0 or k.size == 0:
        # empty sums; also keeps the flat method's length arithmetic away from N == 0
        return np.zeros((geo.n, geo.c, h, w), dtype)
    if _per_image(geo):
        return _input_grad_per_image(g, k, geo)
    # The flat method's padding work grows with O, the short adds it saves with C*kh*kw.
    if geo.plain and geo.kh * geo.kw > 1 and geo.depth > geo.o:
        return _input_grad_flat(g, k, geo)
    return _input_grad_cols(g, k, geo)


def _kernel_grad_operands(x: FloatArray, g: FloatArray, kernel_hw: Pair, stride: Pair,
                          dilation: Pair, groups: int) -> tuple[FloatArray, FloatArray, Geometry]:
    """x and g checked against each other and the kernel size, in their common float dtype."""
    x, g = np.asarray(x), np.asarray(g)
    _require_4d("x", x, _X_DIMS)
    kh, kw = _hw_pair("kernel_hw", kernel_hw)
    _require_4d("g", g, _G_DIMS)
    groups = _groups(groups)
    geo = _geometry(x.shape, (g.shape[1], x.shape[1] // groups, kh, kw), stride, dilation,
                    groups, image_from_x=True, kernel_from_k=False)
    _check_grad_shape(g, (geo.n, geo.o, geo.ho, geo.wo),
                      f"for x of shape {x.shape} and kernel_hw {(kh, kw)}{geo.describe()}")
    dtype = _float_dtype(x, g)
    return x.astype(dtype, copy=False), g.astype(dtype, copy=False), geo


def conv2d_kernel_grad_per_image(x: FloatArray, g: FloatArray, kernel_hw: Pair,
                                 stride: Pair = (1, 1), dilation: Pair = (1, 1),
                                 groups: int = 1) -> FloatArray:
    """conv2d_kernel_grad of each image alone: (N, O, C // groups, kh, kw), summing to it."""
    x, g, geo = _kernel_grad_operands(x, g, kernel_hw, stride, dilation, groups)
    n, o, groups = geo.n, geo.o, geo.groups
    cols = _im2col(x, geo, 0)
    per_image: FloatArray = np.matmul(g.reshape(n, groups, o // groups, geo.ho * geo.wo),
                                      cols.transpose(0, 1, 3, 2))
    return per_image.reshape(n, o, geo.c // groups, geo.kh, geo.kw)


def conv2d_kernel_grad(x: FloatArray, g: FloatArray, kernel_hw: Pair, stride: Pair = (1, 1),
                       dilation: Pair = (1, 1), groups: int = 1) -> FloatArray:
    """Gradient w.r.t. the kernel (O, C // groups, kh, kw) of conv2d_forward, given dL/dy = g."""
    x, g, geo = _kernel_grad_operands(x, g, kernel_hw, stride, dilation, groups)
    n, o, groups, depth = geo.n, geo.o, geo.groups, geo.depth
    k_shape = (o, geo.c // groups, geo.kh, geo.kw)
    p = geo.ho * geo.wo
    if _per_image(geo):
        sums: dict[int, NDArray[Any]] = {}

        def images(start: int, stop: int) -> None:
            cols = _im2col(x[start:stop], geo, 0)
            # per-image products are (O, depth): small next to g for a shallow contraction
            partial = scratch(1, (stop - start, groups, o // groups, depth), x.dtype)
            np.matmul(g[start:stop].reshape(stop - start, groups, o // groups, p),
                      cols.transpose(0, 1, 3, 2), out=partial)
            sums[start] = partial.sum(axis=0)

        _split_batch(n, _parallel_items(g.size, o * depth * p), images)
        # fixed order, so the result does not depend on which thread finished first
        total: FloatArray = sums[0]
        for start in sorted(sums)[1:]:
            total = total + sums[start]
        return total.reshape(k_shape)
    gt = _channels_first(g, slot=2).reshape(groups, o // groups, n * p)
    # (G, O // G, depth) with depth (kernel row, kernel column, channel), as _patches
    gk = np.matmul(gt, _patches(x, geo, 0)).reshape(groups, o // groups, geo.kh, geo.kw,
                                                     geo.c // groups)
    return np.ascontiguousarray(gk.transpose(0, 1, 4, 2, 3)).reshape(k_shape)


def h_conv2d(x: FloatArray, k: FloatArray) -> FloatArray:
    """The exercise's forward convolution: same as conv2d_forward."""
    return conv2d_forward(x, k)


def h_conv2d_grad(x: FloatArray, k: FloatArray, g: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The exercise's backward convolution: (dL/dx, dL/dk) given g = dL/dy."""
    x, k, g = np.asarray(x), np.asarray(k), np.asarray(g)
    _require_4d("x", x, _X_DIMS)
    _require_4d("k", k, _K_DIMS)
    geo = _geometry(x.shape, k.shape, (1, 1), (1, 1), 1, image_from_x=True,
                    kernel_from_k=True)
    _check_grad_shape(g, (geo.n, geo.o, geo.ho, geo.wo),
                      f"for x of shape {x.shape} and k of shape {k.shape}")
    return conv2d_input_grad(g, k, (geo.h, geo.w)), conv2d_kernel_grad(x, g, (geo.kh, geo.kw))


# ---------------------------------------------------------------------------------------
# pooling

def _check_pool(x_shape: tuple[int, ...], window: Any, stride: Any,
                name: str = "x") -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Validated (window, stride, output (Ho, Wo)) for VALID pooling of an image of x_shape."""
    if len(x_shape) != 4:
        raise ValueError(f"{name} must be 4-D {_X_DIMS}, got shape {tuple(x_shape)}")
    wh, ww = _hw_pair("window", window)
    sh, sw = _hw_pair("stride", stride)
    h, w = x_shape[2], x_shape[3]
    if wh > h or ww > w:
        raise ValueError(f"pooling window {(wh, ww)} is larger than the image: {name} has "
                         f"shape {tuple(x_shape)} ({h}x{w} image)")
    return (wh, ww), (sh, sw), ((h - wh) // sh + 1, (w - ww) // sw + 1)


def _is_fast_2x2(window: tuple[int, int], stride: tuple[int, int]) -> bool:
    return window == (2, 2) and stride == (2, 2)


def _window_starts(window_offset: int, stride: int, count: int) -> slice:
    """Rows (or columns) of the image seen at one window offset by the count windows."""
    return slice(window_offset, window_offset + stride * (count - 1) + 1, stride)


def _checked_grad(g: NDArray[Any], x_shape: tuple[int, ...], window: Any,
                  stride: Any) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    win, st, (ho, wo) = _check_pool(tuple(int(v) for v in x_shape), window, stride,
                                    name="x_shape")
    expected = (int(x_shape[0]), int(x_shape[1]), ho, wo)
    _check_grad_shape(g, expected, f"for x_shape {tuple(x_shape)}, window {win}, stride {st}")
    return win, st, (ho, wo)


def _select(g: NDArray[Any], mask: NDArray[np.bool_], out: NDArray[Any], finite: bool) -> None:
    """out = g where mask else 0."""
    if finite:
        # an order of magnitude faster than np.where, and exact for finite g
        np.multiply(g, mask, out=out)
    else:
        # inf * 0 would put NaN where the gradient must be 0
        np.copyto(out, np.where(mask, g, np.zeros((), g.dtype)))


def max_pool2d_forward(x: NDArray[Any], window: tuple[int, int],
                       stride: tuple[int, int]) -> tuple[NDArray[Any], IndexArray]:
    """Max over windows of x (N, C, H, W), VALID: returns (y, argmax) for max_pool2d_backward.

    y has shape (N, C, (H - wh) // sh + 1, (W - ww) // sw + 1) and x's dtype. argmax has
    y's shape and holds, for each window, the row-major offset p * ww + q of its maximum
    inside the window (uint8 when the window has at most 256 elements). Ties go to the
    FIRST maximal element in row-major window order, as in PyTorch. For a window holding
    a NaN, y is NaN but which element argmax names is unspecified.
    """
    x = np.asarray(x)
    (wh, ww), (sh, sw), (ho, wo) = _check_pool(x.shape, window, stride)
    index_dtype = np.min_scalar_type(wh * ww - 1)
    n, c = x.shape[:2]
    if _is_fast_2x2((wh, ww), (sh, sw)):
        return _max_pool_2x2(x, ho, wo)
    windows = sliding_window_view(x, (wh, ww), axis=(2, 3))[:, :, ::sh, ::sw]
    flat = windows.reshape(n, c, ho, wo, wh * ww)
    # np.argmax returns the first maximum, which is the documented tie policy
    idx = flat.argmax(axis=-1)
    y = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    return y, idx.astype(index_dtype)


def _max_pool_2x2(x: NDArray[Any], ho: int, wo: int) -> tuple[NDArray[Any], IndexArray]:
    n, c = x.shape[:2]
    y = np.empty((n, c, ho, wo), x.dtype)
    argmax = np.empty((n, c, ho, wo), np.uint8)

    def images(start: int, stop: int) -> None:
        shape = (stop - start, c, ho, wo)
        # Numpy pays a fixed cost per innermost run, and the runs of a stride-2 view are
        # only Wo long, so one copy splits x into four contiguous corner planes (a b / c d)
        # and every comparison after it is a single long loop. Odd H or W lose their last
        # row/column, which no window covers.
        planes = scratch(0, (2, 2, *shape), x.dtype)
        corners = x[start:stop, :, :2 * ho, :2 * wo].reshape(*shape[:3], 2, wo, 2)
        np.copyto(planes, corners.transpose(3, 5, 0, 1, 2, 4))
        a, b, cc, d = planes[0, 0], planes[0, 1], planes[1, 0], planes[1, 1]
        top = scratch(1, shape, x.dtype)
        bottom = scratch(2, shape, x.dtype)
        np.maximum(a, b, out=top)
        np.maximum(cc, d, out=bottom)
        np.maximum(top, bottom, out=y[start:stop])
        # Strict comparisons keep the first element on ties: a before b, c before d, and
        # the top row before the bottom one.
        # argmax = top_col + bottom_wins * (2 + bottom_col - top_col), in uint8
        index = argmax[start:stop]
        np.greater(b, a, out=index.view(np.bool_))
        bottom_col = scratch(3, shape, np.dtype(np.bool_))
        bottom_wins = scratch(4, shape, np.dtype(np.bool_))
        np.greater(d, cc, out=bottom_col)
        np.greater(bottom, top, out=bottom_wins)
        step = bottom_col.view(np.uint8)
        np.add(step, 2, out=step)
        np.subtract(step, index, out=step)
        np.multiply(step, bottom_wins.view(np.uint8), out=step)
        np.add(index, step, out=index)

    _split_batch(n, y.size, images)
    return y, argmax


def max_pool2d_backward(g: FloatArray, argmax: IndexArray, window: tuple[int, int],
                        stride: tuple[int, int], x_shape: tuple[int, ...]) -> FloatArray:
    """Gradient w.r.t. x of max_pool2d_forward: each g entry goes to its window's argmax.

    Linear in g. Elements no window chose get zero; with overlapping windows (stride
    smaller than the window) contributions to the same element add up.
    """
    g, argmax = np.asarray(g), np.asarray(argmax)
    (wh, ww), (sh, sw), (ho, wo) = _checked_grad(g, x_shape, window, stride)
    if argmax.shape != g.shape:
        raise ValueError(f"argmax must have g's shape {g.shape}, got shape {argmax.shape}")
    gx = np.zeros(tuple(int(v) for v in x_shape), g.dtype)
    finite = bool(np.isfinite(g).all())
    if _is_fast_2x2((wh, ww), (sh, sw)):
        n, c = g.shape[:2]

        def images(start: int, stop: int) -> None:
            mask = scratch(0, (stop - start, c, ho, wo), np.dtype(np.bool_))
            share = scratch(1, (stop - start, c, ho, wo), g.dtype)
            # a view: the crop only drops trailing rows/columns no window covers
            gx6 = gx[start:stop, :, :2 * ho, :2 * wo].reshape(stop - start, c, ho, 2, wo, 2)
            for p in range(2):
                for q in range(2):
                    np.equal(argmax[start:stop], 2 * p + q, out=mask)
                    _select(g[start:stop], mask, share, finite)
                    gx6[:, :, :, p, :, q] = share

        _split_batch(n, g.size, images)
        return gx
    mask = scratch(0, g.shape, np.dtype(np.bool_))
    share = scratch(1, g.shape, g.dtype)
    for p in range(wh):
        for q in range(ww):
            np.equal(argmax, p * ww + q, out=mask)
            _select(g, mask, share, finite)
            gx[:, :, _window_starts(p, sh, ho), _window_starts(q, sw, wo)] += share
    return gx


def max_pool2d_select(x: NDArray[Any], argmax: IndexArray, window: tuple[int, int],
                      stride: tuple[int, int]) -> NDArray[Any]:
    """The elements of x at saved argmax positions (the transpose of max_pool2d_backward)."""
    x, argmax = np.asarray(x), np.asarray(argmax)
    (wh, ww), (sh, sw), (ho, wo) = _check_pool(x.shape, window, stride)
    expected = (x.shape[0], x.shape[1], ho, wo)
    if argmax.shape != expected:
        raise ValueError(f"argmax must have shape {expected} for x of shape {x.shape}, "
                         f"got shape {argmax.shape}")
    windows = sliding_window_view(x, (wh, ww), axis=(2, 3))[:, :, ::sh, ::sw]
    rows, cols = np.divmod(argmax.astype(np.intp), ww)
    return np.take_along_axis(
        np.take_along_axis(windows, rows[..., None, None], axis=4)[..., 0, :],
        cols[..., None], axis=4)[..., 0]


def avg_pool2d_forward(x: FloatArray, window: tuple[int, int],
                       stride: tuple[int, int]) -> FloatArray:
    """Mean over windows of x (N, C, H, W), VALID: shape (N, C, (H-wh)//sh + 1, (W-ww)//sw + 1)."""
    x = np.asarray(x)
    (wh, ww), (sh, sw), (ho, wo) = _check_pool(x.shape, window, stride)
    x = x.astype(_float_dtype(x), copy=False)
    if _is_fast_2x2((wh, ww), (sh, sw)):
        n, c = x.shape[:2]
        total = np.empty((n, c, ho, wo), x.dtype)

        def images(start: int, stop: int) -> None:
            # rows first: that sum runs over whole image rows, and halves what the
            # short-run column sum has to read
            xc = x[start:stop, :, :2 * ho, :2 * wo]
            rows = scratch(0, (stop - start, c, ho, 2 * wo), x.dtype)
            np.add(xc[:, :, 0::2], xc[:, :, 1::2], out=rows)
            out = total[start:stop]
            np.add(rows[..., 0::2], rows[..., 1::2], out=out)
            out *= 0.25

        _split_batch(n, total.size, images)
        return total
    windows = sliding_window_view(x, (wh, ww), axis=(2, 3))[:, :, ::sh, ::sw]
    y: FloatArray = windows.mean(axis=(4, 5))
    return y


def avg_pool2d_backward(g: FloatArray, window: tuple[int, int], stride: tuple[int, int],
                        x_shape: tuple[int, ...]) -> FloatArray:
    """Gradient w.r.t. x of avg_pool2d_forward: each g entry spread evenly over its window."""
    g = np.asarray(g)
    (wh, ww), (sh, sw), (ho, wo) = _checked_grad(g, x_shape, window, stride)
    g = g.astype(_float_dtype(g), copy=False)
    gx = np.zeros(tuple(int(v) for v in x_shape), g.dtype)
    if _is_fast_2x2((wh, ww), (sh, sw)):
        n, c = g.shape[:2]

        def images(start: int, stop: int) -> None:
            quarter = scratch(0, (stop - start, c, ho, wo), g.dtype)
            np.multiply(g[start:stop], 0.25, out=quarter)
            gx6 = gx[start:stop, :, :2 * ho, :2 * wo].reshape(stop - start, c, ho, 2, wo, 2)
            for p in range(2):
                for q in range(2):
                    gx6[:, :, :, p, :, q] = quarter

        _split_batch(n, g.size, images)
        return gx
    share = scratch(0, g.shape, g.dtype)
    np.multiply(g, 1.0 / (wh * ww), out=share)
    for p in range(wh):
        for q in range(ww):
            gx[:, :, _window_starts(p, sh, ho), _window_starts(q, sw, wo)] += share
    return gx
