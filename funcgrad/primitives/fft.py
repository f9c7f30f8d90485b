"""Fourier transform primitives, each with its VJP and batching rules.

One primitive, `fft`, does every kind of discrete Fourier transform over the axes `axes`
(non-negative, distinct) of its operand. `lengths` are the transform's lengths on the
real side (numpy's `s`): the operand already has them (funcgrad.numpy truncates or
zero-pads first), except that the last axis of a Hermitian half-spectrum holds
lengths[-1] // 2 + 1 frequencies. `norm` is numpy's: 'backward', 'ortho' or 'forward'.
The kinds:

    fft    complex -> complex   numpy's fftn
    ifft   complex -> complex   numpy's ifftn
    rfft   real -> half-spectrum    numpy's rfftn
    irfft  half-spectrum -> real    numpy's irfftn
    hfft   half-spectrum -> real    irfftn of the conjugate, norm swapped (numpy's hfft in 1-D)
    ihfft  real -> half-spectrum    conj of rfftn, norm swapped (numpy's ihfft in 1-D)

Every kind is linear, and its VJP is another kind with the same lengths and norm. In
JAX's convention for complex numbers, the VJP of a complex-linear map A is ct -> A^T ct:
the DFT matrix is symmetric, so fft and ifft are their own VJPs. A map from real to
complex values has the VJP ct -> Re(A^T ct); one from complex to real values only reads
the half-spectrum, counting each bin that stands for two of the full spectrum (all but
the zero and Nyquist frequencies on the last axis) twice. That pairs the real kinds:

    rfft -> hfft of ct with the doubled bins halved     hfft  -> rfft of ct, doubled bins doubled
    ihfft -> irfft of ct with the doubled bins halved   irfft -> ihfft of ct, doubled bins doubled
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np

from funcgrad import numpy as fnp

from funcgrad.core import Primitive, ShapedArray, ShapeError, user_location
from funcgrad.primitives.base import Aval, describe

Norm = Literal["backward", "ortho", "forward"]
NORMS: tuple[Norm, ...] = get_args(Norm)
REAL_IN = ("rfft", "ihfft")
REAL_OUT = ("irfft", "hfft")

_SWAPPED: dict[Norm, Norm] = {"backward": "forward", "ortho": "ortho", "forward": "backward"}
_VJP_KIND = {"fft": "fft", "ifft": "ifft", "rfft": "hfft", "hfft": "rfft",
             "irfft": "ihfft", "ihfft": "irfft"}


def half_spectrum(lengths: tuple[int, ...]) -> tuple[int, ...]:
    """The sizes of the Hermitian half-spectrum of a real signal of these lengths."""
    return lengths[:-1] + (lengths[-1] // 2 + 1,)


def _fft_impl(x: Any, *, kind: str, lengths: tuple[int, ...], axes: tuple[int, ...],
              norm: Norm) -> Any:
    if kind == "fft":
        return np.fft.fftn(x, lengths, axes, norm)
    if kind == "ifft":
        return np.fft.ifftn(x, lengths, axes, norm)
    if kind == "rfft":
        return np.fft.rfftn(x, lengths, axes, norm)
    if kind == "irfft":
        return np.fft.irfftn(x, lengths, axes, norm)
    if kind == "hfft":
        return np.fft.irfftn(np.conj(x), lengths, axes, _SWAPPED[norm])
    return np.conj(np.fft.rfftn(x, lengths, axes, _SWAPPED[norm]))


def _fft_shape(x: Aval, *, kind: str, lengths: tuple[int, ...], axes: tuple[int, ...],
               norm: Norm) -> ShapedArray:
    spectrum = half_spectrum(lengths)
    sizes_in, sizes_out = (lengths, spectrum) if kind in REAL_IN else (
        (spectrum, lengths) if kind in REAL_OUT else (lengths, lengths))
    dtype = np.dtype(x.dtype)
    if dtype.kind != ("f" if kind in REAL_IN else "c"):
        raise TypeError(f"fft[{kind}]: the operand must be "
                        f"{'real' if kind in REAL_IN else 'complex'}, got {describe(x)}")
    if tuple(x.shape[a] for a in axes) != sizes_in:
        raise ShapeError(f"fft[{kind}]: axes {axes} of {describe(x)} must have lengths "
                         f"{sizes_in}" + user_location())
    shape = list(x.shape)
    for a, d in zip(axes, sizes_out):
        shape[a] = d
    if kind in REAL_IN:
        dtype = np.result_type(dtype, np.complex64)
    elif kind in REAL_OUT:
        dtype = np.finfo(dtype).dtype
    return ShapedArray(tuple(shape), dtype)


def _doubled_bins(lengths: tuple[int, ...], axes: tuple[int, ...], ndim: int,
                  dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """How many bins of the full spectrum each bin of the half-spectrum stands for (2, or
    1 for the zero and Nyquist frequencies), shaped to broadcast along axes[-1]."""
    n = lengths[-1]
    counts = np.full(n // 2 + 1, 2, np.finfo(dtype).dtype)
    counts[0] = 1
    if n % 2 == 0:
        counts[-1] = 1
    return counts.reshape((-1,) + (1,) * (ndim - 1 - axes[-1]))


def _fft_vjp(g: Any, out: Any, x: Any, *, kind: str, lengths: tuple[int, ...],
             axes: tuple[int, ...], norm: Norm) -> Any:
    if kind in REAL_IN:
        g = fnp.divide(g, _doubled_bins(lengths, axes, x.ndim, g.dtype))
    ct = fft_p.bind(g, kind=_VJP_KIND[kind], lengths=lengths, axes=axes, norm=norm)
    if kind in REAL_OUT:
        ct = fnp.multiply(ct, _doubled_bins(lengths, axes, x.ndim, ct.dtype))
    return ct


def _batch_fft(prim: Primitive, size: int, args: Any, batched: Any, *,
               axes: tuple[int, ...], **params: Any) -> Any:
    return prim.bind(args[0], axes=tuple(a + 1 for a in axes), **params)


fft_p = Primitive("fft", _fft_impl, _fft_shape, (_fft_vjp,), _batch_fft, complex_rules=True)
