"""Cases of fnp.fft."""

from __future__ import annotations

from cases.base import Case

FFT: list[Case] = []
