"""Fourier transform primitives, each with its VJP and batching rules."""

from __future__ import annotations
