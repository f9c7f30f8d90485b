"""Cases of fnp.linalg."""

from __future__ import annotations

from cases.base import Case

LINALG: list[Case] = []
