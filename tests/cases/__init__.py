"""Every case of the shared table, family by family (see cases/base.py)."""

from __future__ import annotations

from cases.base import Case, assert_tree_allclose, case_params, seeded
from cases.contractions import CONTRACTIONS
from cases.conv import CONV
from cases.elementwise import CASTS, ELEMENTWISE
from cases.fft import FFT
from cases.indexing import INDEXING
from cases.linalg import LINALG
from cases.nn import NN
from cases.reductions import EXTRA_REDUCTIONS, REDUCTION_CASES
from cases.shapes import SHAPES

__all__ = ["ALL_CASES", "CASES", "Case", "EXTRA_REDUCTIONS", "REDUCTION_CASES",
           "assert_tree_allclose", "case_params", "seeded"]

CASES = ELEMENTWISE + SHAPES + INDEXING + CONTRACTIONS + CASTS + LINALG + FFT + NN + CONV
"""The cases checked with the default settings (the reductions have their own test)."""

ALL_CASES = CASES + REDUCTION_CASES + EXTRA_REDUCTIONS
assert len({c.name for c in ALL_CASES}) == len(ALL_CASES), "case names must be unique"
