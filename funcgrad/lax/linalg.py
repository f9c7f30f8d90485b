"""Linear algebra primitives: decompositions, solves and inverses, batched over leading axes
as numpy's linalg is, each with its VJP and batching rules."""

from __future__ import annotations
