"""Cases of the reductions: every axis choice with and without keepdims, and extras."""

from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from cases.base import Case, case, distinct, normal


REDUCTIONS = ["sum", "mean", "max", "min", "prod", "var", "std"]
AXES: list[int | tuple[int, ...] | None] = [
    None, 0, 1, 2, -1, -3, (0, 1), (0, 2), (1, 2), (0, 1, 2), (-1, 0), (2, -2), ()]


def reduction(name: str, axis: int | tuple[int, ...] | None, keepdims: bool) -> Case:
    fn = getattr(fnp, name)
    ref = getattr(np, name)
    return Case(f"{name}_axis{axis}_keepdims{keepdims}",
                lambda x: fn(x, axis=axis, keepdims=keepdims),
                lambda x: ref(x, axis=axis, keepdims=keepdims),
                # distinct values: max/min have no ties; values near +-1 keep prod tame
                (lambda rng: distinct(2, 3, 4)(rng) / 3.0,))


# std over no axes is identically 0, where sqrt has no derivative (nan, as in JAX): skipped.
REDUCTION_CASES = [reduction(n, a, k) for n in REDUCTIONS for a in AXES for k in (True, False)
                   if not (n == "std" and a == ())]
EXTRA_REDUCTIONS = [
    case("var_ddof1", lambda x: fnp.var(x, axis=1, ddof=1), lambda x: np.var(x, axis=1, ddof=1),
       normal(2, 3, 4)),
    case("std_ddof1_keepdims", lambda x: fnp.std(x, axis=(0, 2), ddof=1, keepdims=True),
       lambda x: np.std(x, axis=(0, 2), ddof=1, keepdims=True), normal(2, 3, 4)),
    case("sum_method", lambda x: x.sum(axis=0), lambda x: x.sum(axis=0), normal(2, 3)),
    case("mean_method", lambda x: x.mean(-1, keepdims=True),
       lambda x: x.mean(-1, keepdims=True), normal(2, 3)),
    case("max_method", lambda x: x.max(1), lambda x: x.max(1), distinct(2, 3)),
    case("min_method", lambda x: x.min(), lambda x: x.min(), distinct(2, 3)),
    case("prod_method", lambda x: x.prod(0), lambda x: x.prod(0), normal(2, 3)),
    case("prod_with_a_zero", fnp.prod, np.prod, lambda rng: np.array([0.0, 2.0, -1.5, 0.5])),
    case("var_method", lambda x: x.var(0), lambda x: x.var(0), normal(3, 2)),
    case("std_method", lambda x: x.std(), lambda x: x.std(), normal(3, 2)),
    case("sum_0d", fnp.sum, np.sum, normal()),
]
