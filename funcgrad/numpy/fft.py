"""`fnp.fft`: numpy.fft's functions, traceable and differentiable."""

from __future__ import annotations

__all__: list[str] = []
