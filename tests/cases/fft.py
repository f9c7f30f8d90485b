"""Cases of fnp.fft, with real inputs and outputs (the shared runner's finite differences
are real): the transforms to real signals (irfft, hfft and their n-D forms, on real input),
compositions that go through the complex spectrum and back (convolutions, filters, round
trips), the real and imaginary parts and magnitudes of spectra, the shifts, and the
frequencies for a traced sample spacing. Complex inputs and outputs are tested in
tests/test_fft.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from cases.base import Case, Gen, case, normal, uniform

# Fixed complex filters, complex64 so that float32 inputs stay single precision
W5 = (np.linspace(-0.5, 0.7, 5) + 1j * np.cos(np.arange(5))).astype(np.complex64)
W33 = (np.linspace(1.0, -1.0, 9) + 0.5j * np.sin(np.arange(9))).reshape(3, 3).astype(np.complex64)


def both(name: str, build: Callable[[Any], Callable[..., Any]], *args: Gen, **kw: Any) -> Case:
    """A case whose function is written once for a module with numpy.fft's interface:
    built with funcgrad.numpy under test, with numpy as the reference."""
    return case(name, build(fnp), build(np), *args, **kw)


FFT: list[Case] = [
    both("fft_irfft_of_real", lambda m: m.fft.irfft, normal(3, 5)),
    both("fft_irfft_n_axis0_ortho", lambda m: lambda x: m.fft.irfft(x, n=5, axis=0, norm="ortho"),
         normal(4, 3)),
    both("fft_irfft_truncated", lambda m: lambda x: m.fft.irfft(x, n=4, norm="forward"),
         normal(2, 6)),
    both("fft_hfft", lambda m: lambda x: m.fft.hfft(x, n=7), normal(2, 4)),
    both("fft_hfft_ortho_padded", lambda m: lambda x: m.fft.hfft(x, n=12, norm="ortho"),
         normal(3)),
    both("fft_irfft2", lambda m: lambda x: m.fft.irfft2(x, s=(3, 4)), normal(3, 3)),
    both("fft_irfftn_axes", lambda m: lambda x: m.fft.irfftn(x, axes=(0, 2), norm="forward"),
         normal(2, 3, 3)),
    both("fft_rfft_filter_irfft",
         lambda m: lambda x: m.fft.irfft(m.fft.rfft(x, n=8) * W5, n=8), normal(3, 5)),
    both("fft_circular_convolution",
         lambda m: lambda x, y: m.fft.irfft(m.fft.rfft(x) * m.fft.rfft(y), n=6),
         normal(2, 6), normal(6)),
    both("fft_self_convolution_odd",
         lambda m: lambda x: m.fft.irfft(m.fft.rfft(x, n=7) ** 2, n=7, norm="ortho"),
         normal(5)),
    both("fft_rfftn_filter_irfftn",
         lambda m: lambda x: m.fft.irfftn(m.fft.rfftn(x) * W33, s=(3, 4), axes=(0, 1)),
         normal(3, 4)),
    both("fft_rfft2_axes_roundtrip",
         lambda m: lambda x: m.fft.irfft2(m.fft.rfft2(x, axes=(0, 2)) * 2.0, s=(2, 5),
                                          axes=(0, 2)),
         normal(2, 3, 5)),
    both("fft_ihfft_filter_hfft",
         lambda m: lambda x: m.fft.hfft(m.fft.ihfft(x, norm="ortho") * W5[:4], n=6,
                                        norm="ortho"),
         normal(2, 6)),
    both("fft_fft_half_irfft", lambda m: lambda x: m.fft.irfft(m.fft.fft(x)[:, :3], n=4),
         normal(2, 6)),
    both("fft_fft2_ifft2_irfft2",
         lambda m: lambda x: m.fft.irfft2(m.fft.ifft2(m.fft.fft2(x, s=(3, 4)) * W33[:, :1])[:, :3],
                                          s=(3, 4)),
         normal(3, 4)),
    both("fft_fftn_ifftn_irfftn",
         lambda m: lambda x: m.fft.irfftn(m.fft.ifftn(m.fft.fftn(x), axes=(0,))[..., :3], s=(4,),
                                              axes=(-1,)),
         normal(2, 5)),
    both("fft_real_of_fft", lambda m: lambda x: m.real(m.fft.fft(x, n=7)), normal(2, 5)),
    both("fft_imag_of_ifft_axis0_ortho",
         lambda m: lambda x: m.imag(m.fft.ifft(x, axis=0, norm="ortho")), normal(4, 3)),
    both("fft_abs_of_rfft", lambda m: lambda x: m.abs(m.fft.rfft(x)), normal(3, 6)),
    both("fft_abs_of_fft2_squared", lambda m: lambda x: m.abs(m.fft.fft2(x, s=(2, 3))) ** 2,
         normal(3, 4)),
    both("fft_real_of_fftn_filter_ifftn",
         lambda m: lambda x: m.real(m.fft.ifftn(m.fft.fftn(x) * W33)), normal(3, 3)),
    both("fft_imag_of_rfftn_axes", lambda m: lambda x: m.imag(m.fft.rfftn(x, axes=(0, 2))),
         normal(2, 3, 4)),
    both("fft_imag_of_ihfft", lambda m: lambda x: m.imag(m.fft.ihfft(x, n=7, norm="forward")),
         normal(2, 6)),
    both("fft_abs_of_fftshift_fft", lambda m: lambda x: m.abs(m.fft.fftshift(m.fft.fft(x))),
         normal(5)),
    both("fft_fftshift", lambda m: m.fft.fftshift, normal(3, 5)),
    both("fft_fftshift_axis", lambda m: lambda x: m.fft.fftshift(x, axes=0), normal(4, 3)),
    both("fft_ifftshift", lambda m: m.fft.ifftshift, normal(5, 2)),
    both("fft_ifftshift_axes", lambda m: lambda x: m.fft.ifftshift(x, axes=(-1,)), normal(2, 5)),
    both("fft_fftfreq_spacing", lambda m: lambda d: m.fft.fftfreq(5, d), uniform(0.5, 2.0),
         f32=False),  # numpy: int64 frequencies times a float32 0-d array are float64
    both("fft_rfftfreq_spacing", lambda m: lambda d: m.fft.rfftfreq(6, d), uniform(0.5, 2.0),
         f32=False),
]
