"""`funcgrad.scipy.linalg`: scipy.linalg's Cholesky solves, triangular solves and matrix
exponential, traceable and differentiable.

With scipy's signatures (overwrite_* and check_finite are accepted and ignored, as in
JAX) and, as jax.scipy's, batched over leading axes. Written with funcgrad.numpy:

* cholesky and cho_factor read only the triangle they are asked for (lower=False, scipy's
  default: the upper one), and their gradient lies in that triangle (that of
  funcgrad.numpy.linalg.cholesky; JAX's spreads it over both triangles, the same for
  symmetric perturbations); cho_factor's other triangle is zero (scipy leaves whatever
  was there), as in JAX.
* solve_triangular reads only the `lower` triangle of a (and not its diagonal with
  unit_diagonal), so its gradient with respect to a lies in that triangle, as JAX's; it
  solves with numpy's LU solver on that triangle (numpy has no triangular solve).
* expm is scaling and squaring with the degree-13 Pade approximant (Higham, SIAM J.
  Matrix Anal. Appl. 26, 2005), differentiated through; the squarings are masked, so it
  traces to one graph whatever the norm, and with more than max_squarings (JAX's
  keyword) needed the result is nan, as JAX's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core import ShapeError, user_location
from funcgrad.numpy import Array, ArrayLike, shape

__all__ = ["cho_factor", "cho_solve", "cholesky", "expm", "solve_triangular"]


def _square_stack(name: str, argname: str, a: ArrayLike) -> int:
    """The size n of a stack of square matrices (..., n, n), after checking it is one."""
    s = shape(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ShapeError(f"{name}: {argname} must be a square matrix or a stack of them "
                         f"(..., n, n), got shape {s}" + user_location())
    return s[-1]


def _mT(x: Array) -> Array:
    return fnp.swapaxes(x, -1, -2)


# ---------------------------------------------------------------------------- Cholesky


def cholesky(a: ArrayLike, lower: bool = False, overwrite_a: bool = False,
             check_finite: bool = True) -> Array:
    """The Cholesky factor of each matrix: L with a = L L^H (lower), else U = L^H (scipy's
    default), read from that triangle of a."""
    return fnp.linalg.cholesky(a, upper=not lower)


def cho_factor(a: ArrayLike, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Array, bool]:
    """(cholesky(a, lower), lower), the argument cho_solve takes; the other triangle is 0."""
    return cholesky(a, lower), lower


def cho_solve(c_and_lower: tuple[ArrayLike, bool], b: ArrayLike, overwrite_b: bool = False,
              check_finite: bool = True) -> Array:
    """x with a @ x = b, given cho_factor(a) = (c, lower); reads that triangle of c."""
    c, lower = c_and_lower
    # a = L L^H: solve L y = b, then L^H x = y (with U = L^H when c is upper)
    y = solve_triangular(c, b, trans=0 if lower else 2, lower=lower)
    return solve_triangular(c, y, trans=2 if lower else 0, lower=lower)


# ---------------------------------------------------------------------------- triangular solve


_TRANS = {0: "N", 1: "T", 2: "C", "N": "N", "T": "T", "C": "C"}


def solve_triangular(a: ArrayLike, b: ArrayLike, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False, debug: Any = None,
                     check_finite: bool = True) -> Array:
    """x with op(a) @ x = b for a triangular a (its `lower` or upper triangle; with
    unit_diagonal, ones on the diagonal), op by trans: 0 or 'N' a, 1 or 'T' a^T, 2 or 'C'
    a^H. b is a vector (n,) or a stack of matrices (..., n, k)."""
    if trans not in _TRANS:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got "
                         f"{trans!r}")
    n = _square_stack("solve_triangular", "a", a)
    sb = shape(b)
    if not sb or sb[-1 if len(sb) == 1 else -2] != n:
        raise ShapeError(f"solve_triangular: b must have shape ({n},) or (..., {n}, k) to fit "
                         f"a of shape {shape(a)}, got {sb}" + user_location())
    t = fnp.tril(a) if lower else fnp.triu(a)
    if unit_diagonal:
        t = fnp.where(np.eye(n, dtype=bool), 1, t)
    op = _TRANS[trans]
    if op != "N":
        t = _mT(fnp.conj(t) if op == "C" else t)
    return fnp.linalg.solve(t, b)  # (which promotes integers to float64)


# ---------------------------------------------------------------------------- expm


def _pade_coefficients(m: int) -> list[float]:
    """b_j of the [m/m] Pade approximant of exp: p(x) = sum_j b_j x^j, q(x) = p(-x)."""
    return [math.factorial(2 * m - j) * math.factorial(m)
            / (math.factorial(2 * m) * math.factorial(j) * math.factorial(m - j))
            for j in range(m + 1)]


_B = _pade_coefficients(13)
_THETA_13 = 5.371920351148152
"""The largest 1-norm for which the degree-13 approximant is exact to double precision
(Higham 2005, table 2.3)."""


def expm(A: ArrayLike, *, max_squarings: int = 16) -> Array:
    """The matrix exponential of each matrix (scaling and squaring, Pade degree 13)."""
    n = _square_stack("expm", "A", A)
    # s squarings bring the 1-norm under theta_13; s is piecewise constant in A, so not
    # differentiated (the derivative of the approximant at fixed s is the derivative).
    norm = fnp.stop_gradient(fnp.max(fnp.sum(fnp.abs(A), axis=-2), axis=-1))
    s = fnp.ceil(fnp.log2(fnp.maximum(fnp.divide(norm, _THETA_13), 1)))
    s = fnp.expand_dims(s, (-2, -1))
    x = fnp.multiply(A, fnp.exp2(fnp.negative(s)))  # exact: a power of 2 (and floating)
    eye = np.eye(n, dtype=x.dtype)
    x2 = fnp.matmul(x, x)
    x4 = fnp.matmul(x2, x2)
    x6 = fnp.matmul(x4, x2)

    def combination(c6: float, c4: float, c2: float, c0: float) -> Array:
        total = fnp.add(fnp.multiply(c6, x6), fnp.multiply(c4, x4))
        return fnp.add(fnp.add(total, fnp.multiply(c2, x2)), np.multiply(c0, eye))

    # p(x) = v + u with u the odd part and v the even part; q(x) = p(-x) = v - u
    u = fnp.matmul(x, fnp.add(fnp.matmul(x6, combination(_B[13], _B[11], _B[9], 0)),
                              combination(_B[7], _B[5], _B[3], _B[1])))
    v = fnp.add(fnp.matmul(x6, combination(_B[12], _B[10], _B[8], 0)),
                combination(_B[6], _B[4], _B[2], _B[0]))
    r = fnp.linalg.solve(fnp.subtract(v, u), fnp.add(v, u))
    too_many = s > max_squarings
    for i in range(max_squarings):
        # a matrix past its squarings squares zeros instead, so that nothing overflows
        squaring = fnp.logical_and(s > i, fnp.logical_not(too_many))
        held = fnp.where(squaring, r, 0)
        r = fnp.where(squaring, fnp.matmul(held, held), r)
    return fnp.where(too_many, np.nan, r)
