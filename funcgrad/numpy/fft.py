"""`fnp.fft`: numpy.fft's functions, traceable and differentiable.

Each transform truncates or zero-pads its input to the lengths asked (n, s), as numpy
does, with slices and pads in the graph, and then binds the one primitive of
funcgrad.primitives.fft, whose kinds and rules are described there. Results have numpy 2's
dtypes: single precision stays single (float32 in, complex64 out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Literal

import numpy as np

from funcgrad.core import Array, ArrayLike, Tracer, user_location
from funcgrad.primitives import fft as F
from funcgrad.primitives.fft import Norm
from funcgrad.numpy._table import Row, normalize_axes, register
from funcgrad.numpy.elementwise import astype, divide, multiply
from funcgrad.numpy.indexing import getitem
from funcgrad.numpy.shapes import concatenate, pad

__all__ = [
    "fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
    "rfftn", "irfftn", "hfft", "ihfft", "fftshift", "ifftshift", "fftfreq", "rfftfreq",
]

Lengths = Sequence[int] | None
Axes = Sequence[int] | None


@cache
def _numpy_dtype(name: str, dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype numpy.fft's function `name` returns for input of `dtype`."""
    out: np.dtype[Any] = getattr(np.fft, name)(np.ones((2, 2), dtype)).dtype
    return out


def _fit(x: Array, axes: tuple[int, ...], sizes: tuple[int, ...]) -> Array:
    """x truncated or zero-padded at the end to `sizes` along `axes`, as numpy's transforms
    take their input."""
    index = [slice(None)] * x.ndim
    widths = [(0, 0)] * x.ndim
    for a, n in zip(axes, sizes):
        index[a] = slice(0, n)
        widths[a] = (0, max(n - x.shape[a], 0))
    if any(x.shape[a] > n for a, n in zip(axes, sizes)):
        x = getitem(x, tuple(index))
    if any(w != (0, 0) for w in widths):
        x = pad(x, widths)
    return x


def _transform(kind: str, name: str, a: Tracer, s: Sequence[int | None] | None, axes: Axes,
               norm: Norm | None) -> Array:
    """numpy.fft's `name` on a traced array: the primitive's `kind` over `axes`, with the
    real-side lengths `s` (None: the input's)."""
    where = f"fft.{name}"
    norm = "backward" if norm is None else norm
    if norm not in F.NORMS:
        raise ValueError(f'{where}: invalid norm value {norm!r}; should be "backward", '
                         '"ortho" or "forward"' + user_location())
    if axes is None:
        # numpy: all axes, or the last len(s) axes when s is given
        axes = range(a.ndim) if s is None else range(a.ndim - len(s), a.ndim)
    ax = tuple(normalize_axes(where, axis, a.ndim)[0] for axis in axes)
    if len(set(ax)) != len(ax):
        raise ValueError(f"{where}: repeated axes {tuple(axes)} are not supported (numpy "
                         "transforms such an axis twice): transform twice instead"
                         + user_location())
    if s is not None and len(s) != len(ax):
        raise ValueError(f"{where}: s {tuple(s)} and axes {ax} have different lengths"
                         + user_location())
    if not ax:
        if kind in ("fft", "ifft"):
            return a  # numpy returns the input as it is
        raise ValueError(f"{where}: no axes to transform" + user_location())
    if kind in F.REAL_IN and a.dtype.kind == "c":
        raise TypeError(f"{where}: the input must be real, got {a.aval}" + user_location())
    in_sizes = tuple(a.shape[i] for i in ax)
    default = (in_sizes[:-1] + (2 * (in_sizes[-1] - 1),) if kind in F.REAL_OUT else in_sizes)
    lengths = tuple(d if n is None else int(n) for d, n in zip(default, s or default))
    if min(lengths) < 1:
        raise ValueError(f"{where}: invalid number of FFT data points ({min(lengths)}) for "
                         f"{a.aval} along axes {ax}" + user_location())
    out_dtype = _numpy_dtype(name, a.dtype)
    complex_dtype = np.result_type(out_dtype, np.complex64)
    x = astype(a, np.finfo(complex_dtype).dtype if kind in F.REAL_IN else complex_dtype)
    x = _fit(x, ax, F.half_spectrum(lengths) if kind in F.REAL_OUT else lengths)
    return astype(F.fft_p.bind(x, kind=kind, lengths=lengths, axes=ax, norm=norm), out_dtype)


def _one_axis(kind: str, name: str, a: ArrayLike, n: int | None, axis: int,
              norm: Norm | None) -> Array:
    if not isinstance(a, Tracer):
        out: Array = getattr(np.fft, name)(a, n, axis, norm)
        return out
    return _transform(kind, name, a, None if n is None else (n,), (axis,), norm)


def _many_axes(kind: str, name: str, a: ArrayLike, s: Lengths, axes: Axes,
               norm: Norm | None) -> Array:
    if not isinstance(a, Tracer):
        out: Array = getattr(np.fft, name)(a, s, axes, norm)
        return out
    return _transform(kind, name, a, s, axes, norm)


def fft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: Norm | None = None) -> Array:
    """The discrete Fourier transform along one axis (n: truncate or zero-pad to n first)."""
    return _one_axis("fft", "fft", a, n, axis, norm)


def ifft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: Norm | None = None) -> Array:
    """The inverse discrete Fourier transform along one axis."""
    return _one_axis("ifft", "ifft", a, n, axis, norm)


def fft2(a: ArrayLike, s: Lengths = None, axes: Axes = (-2, -1),
         norm: Norm | None = None) -> Array:
    """The 2-D discrete Fourier transform (over the last two axes by default)."""
    return _many_axes("fft", "fft2", a, s, axes, norm)


def ifft2(a: ArrayLike, s: Lengths = None, axes: Axes = (-2, -1),
          norm: Norm | None = None) -> Array:
    """The 2-D inverse discrete Fourier transform."""
    return _many_axes("ifft", "ifft2", a, s, axes, norm)


def fftn(a: ArrayLike, s: Lengths = None, axes: Axes = None, norm: Norm | None = None) -> Array:
    """The n-D discrete Fourier transform (over all axes by default)."""
    return _many_axes("fft", "fftn", a, s, axes, norm)


def ifftn(a: ArrayLike, s: Lengths = None, axes: Axes = None, norm: Norm | None = None) -> Array:
    """The n-D inverse discrete Fourier transform."""
    return _many_axes("ifft", "ifftn", a, s, axes, norm)


def rfft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: Norm | None = None) -> Array:
    """The Fourier transform of a real signal: its n // 2 + 1 non-negative frequencies."""
    return _one_axis("rfft", "rfft", a, n, axis, norm)


def irfft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: Norm | None = None) -> Array:
    """The real signal of length n (default 2 * (m - 1)) whose rfft is the half-spectrum a."""
    return _one_axis("irfft", "irfft", a, n, axis, norm)


def rfft2(a: ArrayLike, s: Lengths = None, axes: Axes = (-2, -1),
          norm: Norm | None = None) -> Array:
    """The 2-D Fourier transform of a real array (half-spectrum on the last axis)."""
    return _many_axes("rfft", "rfft2", a, s, axes, norm)


def irfft2(a: ArrayLike, s: Lengths = None, axes: Axes = (-2, -1),
           norm: Norm | None = None) -> Array:
    """The inverse of rfft2."""
    return _many_axes("irfft", "irfft2", a, s, axes, norm)


def rfftn(a: ArrayLike, s: Lengths = None, axes: Axes = None, norm: Norm | None = None) -> Array:
    """The n-D Fourier transform of a real array (half-spectrum on the last axis)."""
    return _many_axes("rfft", "rfftn", a, s, axes, norm)


def irfftn(a: ArrayLike, s: Lengths = None, axes: Axes = None, norm: Norm | None = None) -> Array:
    """The inverse of rfftn (the last axis's length defaults to 2 * (m - 1))."""
    return _many_axes("irfft", "irfftn", a, s, axes, norm)


def hfft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: Norm | None = None) -> Array:
    """The (real) Fourier transform of a signal with Hermitian symmetry, given by its first half."""
    return _one_axis("hfft", "hfft", a, n, axis, norm)


def ihfft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: Norm | None = None) -> Array:
    """The inverse of hfft: the half-spectrum of a real signal, conjugated and scaled."""
    return _one_axis("ihfft", "ihfft", a, n, axis, norm)


def _roll_half(name: str, x: ArrayLike, axes: int | Sequence[int] | None,
               start: Callable[[int], int]) -> Array:
    """x rotated along each axis so that the element at `start(length)` comes first."""
    fn = getattr(np.fft, name)
    if not isinstance(x, Tracer):
        out: Array = fn(x, axes)
        return out
    for a in normalize_axes(f"fft.{name}", axes, x.ndim):
        k = start(x.shape[a])
        if k:
            before = (slice(None),) * a
            x = concatenate([getitem(x, before + (slice(k, None),)),
                             getitem(x, before + (slice(0, k),))], axis=a)
    return x


def fftshift(x: ArrayLike, axes: int | Sequence[int] | None = None) -> Array:
    """x with the zero frequency moved to the centre (along all axes by default)."""
    return _roll_half("fftshift", x, axes, lambda n: n - n // 2)


def ifftshift(x: ArrayLike, axes: int | Sequence[int] | None = None) -> Array:
    """The inverse of fftshift (they differ for odd lengths)."""
    return _roll_half("ifftshift", x, axes, lambda n: n // 2)


def fftfreq(n: int, d: ArrayLike = 1.0, device: Literal["cpu"] | None = None) -> Array:
    """The frequencies of the bins of an n-point fft, for sample spacing d."""
    if not isinstance(d, Tracer):
        out: Array = np.fft.fftfreq(n, np.asarray(d), device=device)
        return out
    # numpy's computation, step for step, so a traced d gives the same values and dtype
    bins = np.fft.ifftshift(np.arange(-(n // 2), n - n // 2, device=device))
    return multiply(bins, divide(1.0, multiply(n, d)))


def rfftfreq(n: int, d: ArrayLike = 1.0, device: Literal["cpu"] | None = None) -> Array:
    """The frequencies of the bins of an n-point rfft, for sample spacing d."""
    if not isinstance(d, Tracer):
        out: Array = np.fft.rfftfreq(n, np.asarray(d), device=device)
        return out
    return multiply(np.arange(n // 2 + 1, device=device), divide(1.0, multiply(n, d)))


register([Row(f"fft.{name}", globals()[name]) for name in __all__])
