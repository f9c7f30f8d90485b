"""`funcgrad.scipy.special`: scipy.special's functions, traceable and differentiable.

Each is written with funcgrad.numpy (scipy is never imported), with scipy's names and
signatures; float32 in gives float32 out. Where JAX gives a function its own derivative
rule, so does this module (a custom_jvp), with JAX's values at the special points:

* xlogy(0, y) and xlog1py(0, y) are 0 (nan when y is nan, as scipy's); their gradients
  are those of x * log(y): at (0, 0) d/dx = -inf and d/dy = nan, as in JAX.
* logit's derivative is 1 / (x (1 - x)), so inf at 0 and at 1.
* erf, erfc, ndtr and log_ndtr are computed from a power series of erf near 0 and a
  continued fraction of exp(z**2) erfc(z) away from it (no cancellation in the tails:
  log_ndtr is accurate far below the point where ndtr underflows); their derivatives are
  the Gaussian density, and for log_ndtr exp(log pdf - log_ndtr), as JAX's.
* softmax and log_softmax normalize over `axis` (scipy's default None: the whole array)
  from logits shifted by their maximum, so they are finite at logits of +-1e4 in float32;
  a slice of only -inf, or holding +inf, gives nan, as in JAX.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core import Tracer, user_location
from funcgrad.custom import custom_jvp
from funcgrad.numpy import Array, ArrayLike, Axis, logsumexp
from funcgrad.numpy._table import INEXACT, promoted_dtype
from funcgrad.primitives.elementwise import logistic_p

__all__ = ["erf", "erfc", "expit", "log_ndtr", "log_softmax", "logit", "logsumexp", "ndtr",
           "softmax", "xlog1py", "xlogy"]

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_SQRT_PI = math.sqrt(math.pi)
_SQRT_HALF = math.sqrt(0.5)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_HALF = math.log(0.5)

# Below |z| = _CUT erf is summed as a series, above it erfc from a continued fraction: the
# split and the numbers of terms give about 4e-15 relative error in float64 (and float32's
# precision with fewer terms), with erfc = 1 - erf only where erfc > 0.07.
_CUT = 1.25


def _terms(dtype: np.dtype[Any]) -> tuple[int, int]:
    """The numbers of terms of the series and of the continued fraction for dtype."""
    return (25, 60) if np.finfo(dtype).bits > 32 else (12, 20)


def _floats(*xs: ArrayLike) -> list[Array]:
    """The arguments in their common floating dtype (integers become float64, Python
    scalars are weak), as scipy.special's ufuncs compute; the stats modules use it too."""
    arrays = [x if isinstance(x, (Tracer, int, float, complex)) else np.asarray(x) for x in xs]
    dtype = promoted_dtype(INEXACT, arrays)
    return [fnp.astype(x, dtype) for x in arrays]


def _real(name: str, x: ArrayLike) -> Array:
    """x in floating point, refusing complex values (the error function is real here)."""
    (y,) = _floats(x)
    if y.dtype.kind == "c":
        raise TypeError(f"{name}: complex arguments are not supported" + user_location())
    return y


def _unary(value: Callable[[Array], Array],
           slope: Callable[[Array, Array], Array]) -> Callable[[Array], Array]:
    """value as a function whose derivative at x is slope(x, value(x))."""
    fn = custom_jvp(value)

    def rule(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
        (x,), (t,) = primals, tangents
        y = fn(x)
        return y, fnp.multiply(t, slope(x, y))

    fn.defjvp(rule)
    return fn


# ---------------------------------------------------------------------------- logistic


def expit(x: ArrayLike) -> Array:
    """The logistic sigmoid 1 / (1 + exp(-x)), without overflow."""
    return logistic_p.bind(_floats(x)[0])


def _logit(x: Array) -> Array:
    return fnp.log(fnp.divide(x, fnp.subtract(1, x)))


_logit_fn = _unary(_logit, lambda x, y: fnp.reciprocal(fnp.multiply(x, fnp.subtract(1, x))))


def logit(x: ArrayLike) -> Array:
    """log(x / (1 - x)), the inverse of expit."""
    return _logit_fn(_floats(x)[0])


# ---------------------------------------------------------------------------- x log y


def _x_log(log: Callable[[Array], Array], one: float) -> Callable[[Array, Array], Array]:
    """x * log(y), with log = log (one = 0) or log1p (one = 1), and 0 where x is 0 unless y
    is nan; its derivative is that of x * log(y) everywhere, x / (y + one) in y."""
    def value(x: Array, y: Array) -> Array:
        # y where it counts, else a point where log is 0 (so no 0 * inf)
        counts = fnp.logical_or(fnp.not_equal(x, 0), fnp.isnan(y))
        return fnp.multiply(x, log(fnp.where(counts, y, 1 - one)))

    fn = custom_jvp(value)

    def rule(primals: tuple[Array, Array], tangents: tuple[Array, Array]
             ) -> tuple[Array, Array]:
        (x, y), (tx, ty) = primals, tangents
        slope_y = fnp.divide(x, fnp.add(y, one))
        return fn(x, y), fnp.add(fnp.multiply(tx, log(y)), fnp.multiply(ty, slope_y))

    fn.defjvp(rule)
    return fn


_xlogy = _x_log(fnp.log, 0.0)
_xlog1py = _x_log(fnp.log1p, 1.0)


def xlogy(x: ArrayLike, y: ArrayLike) -> Array:
    """x * log(y), and 0 where x is 0 (also at y = 0)."""
    return _xlogy(*_floats(x, y))


def xlog1py(x: ArrayLike, y: ArrayLike) -> Array:
    """x * log1p(y), and 0 where x is 0 (also at y = -1)."""
    return _xlog1py(*_floats(x, y))


# ---------------------------------------------------------------------------- error function


def _gaussian(x: Array) -> Array:
    """exp(-x^2)."""
    return fnp.exp(fnp.negative(fnp.square(x)))


def _erf_series(z: Array) -> Array:
    """erf(z) for |z| < _CUT: 2/sqrt(pi) exp(-z^2) sum_n z (2z^2)^n / (2n+1)!!, a series of
    positive terms (no cancellation), summed by Horner's rule."""
    w = fnp.multiply(2, fnp.square(z))
    total: Array = np.ones((), z.dtype)
    for n in range(_terms(z.dtype)[0], 0, -1):
        total = fnp.add(1, fnp.multiply(total, fnp.divide(w, 2 * n + 1)))
    return fnp.multiply(fnp.multiply(_TWO_OVER_SQRT_PI, _gaussian(z)), fnp.multiply(z, total))


def _erfcx_tail(z: Array, log: bool = False) -> Array:
    """exp(z^2) erfc(z) (or its log) for z >= _CUT, from the continued fraction
    2z / sqrt(pi) / (2z^2 + 1 - 1*2 / (2z^2 + 5 - 3*4 / (2z^2 + 9 - ...))), evaluated from
    its tail; beyond 1/sqrt(eps) it is 1 / (sqrt(pi) z) to working precision."""
    big = 1 / math.sqrt(float(np.finfo(z.dtype).eps))
    zc = fnp.minimum(z, big)  # (also keeps 2z^2 finite)
    x = fnp.multiply(2, fnp.square(zc))
    k = _terms(z.dtype)[1]
    f = fnp.add(x, 4 * k + 1)
    for j in range(k, 0, -1):
        f = fnp.subtract(fnp.add(x, 4 * j - 3), fnp.divide((2 * j - 1) * (2 * j), f))
    fraction = fnp.divide(fnp.multiply(2 / _SQRT_PI, zc), f)
    asymptotic = fnp.multiply(_SQRT_PI, z)
    if log:
        return fnp.where(z > big, fnp.negative(fnp.log(asymptotic)), fnp.log(fraction))
    return fnp.where(z > big, fnp.reciprocal(asymptotic), fraction)


def _erf_parts(x: Array) -> tuple[Array, Array, Array]:
    """(whether |x| < _CUT, erf(x) there, erfc(|x|) elsewhere), each branch evaluated at
    points of its own domain only."""
    a = fnp.abs(x)
    small = a < _CUT
    series = _erf_series(fnp.where(small, x, 0))
    at = fnp.where(small, _CUT, a)
    tail = fnp.multiply(_gaussian(at), _erfcx_tail(at))
    return small, series, tail


def _erf(x: Array) -> Array:
    small, series, tail = _erf_parts(x)
    return fnp.where(small, series, fnp.multiply(fnp.sign(x), fnp.subtract(1, tail)))


def _erfc(x: Array) -> Array:
    small, series, tail = _erf_parts(x)
    return fnp.where(small, fnp.subtract(1, series),
                     fnp.where(x > 0, tail, fnp.subtract(2, tail)))


_erf_fn = _unary(_erf, lambda x, y: fnp.multiply(_TWO_OVER_SQRT_PI, _gaussian(x)))
_erfc_fn = _unary(_erfc, lambda x, y: fnp.multiply(-_TWO_OVER_SQRT_PI, _gaussian(x)))


def erf(x: ArrayLike) -> Array:
    """The error function 2/sqrt(pi) * integral of exp(-t**2) from 0 to x."""
    return _erf_fn(_real("erf", x))


def erfc(x: ArrayLike) -> Array:
    """1 - erf(x), accurate where it is tiny (large x)."""
    return _erfc_fn(_real("erfc", x))


def _log_pdf(x: Array) -> Array:
    """The log density of the standard normal distribution."""
    return fnp.subtract(fnp.multiply(-0.5, fnp.square(x)), _LOG_SQRT_2PI)


def _ndtr(x: Array) -> Array:
    return fnp.multiply(0.5, _erfc(fnp.multiply(-_SQRT_HALF, x)))


def _log_ndtr(x: Array) -> Array:
    # Far below 0 from the continued fraction's log (ndtr itself underflows near -38);
    # elsewhere from ndtr, above 0 as log1p(-ndtr(-x)) since ndtr(x) is near 1.
    tail = x < -_CUT / _SQRT_HALF
    z = fnp.where(tail, fnp.multiply(-_SQRT_HALF, x), _CUT)
    log_tail = fnp.add(fnp.multiply(-0.5, fnp.square(x)),
                       fnp.add(_LOG_HALF, _erfcx_tail(z, log=True)))
    mid = fnp.where(tail, 0, x)
    below = fnp.log(_ndtr(mid))
    above = fnp.log1p(fnp.negative(_ndtr(fnp.negative(mid))))
    return fnp.where(tail, log_tail, fnp.where(mid <= 0, below, above))


_ndtr_fn = _unary(_ndtr, lambda x, y: fnp.exp(_log_pdf(x)))
_log_ndtr_fn = _unary(_log_ndtr, lambda x, y: fnp.exp(fnp.subtract(_log_pdf(x), y)))


def ndtr(x: ArrayLike) -> Array:
    """The standard normal cumulative distribution function."""
    return _ndtr_fn(_real("ndtr", x))


def log_ndtr(x: ArrayLike) -> Array:
    """log(ndtr(x)), accurate also far below 0 where ndtr underflows."""
    return _log_ndtr_fn(_real("log_ndtr", x))


# ---------------------------------------------------------------------------- softmax


def _max_shifted(x: Array, axis: Axis) -> Array:
    """x minus its maximum over axis; the shift cancels in every value and gradient, so it
    is not differentiated. A slice holding +inf or only -inf gives nan, as in JAX."""
    return fnp.subtract(x, fnp.stop_gradient(fnp.max(x, axis=axis, keepdims=True)))


def softmax(x: ArrayLike, axis: Axis = None) -> Array:
    """exp(x) / sum(exp(x)) over axis (None: the whole array), from shifted logits."""
    e = fnp.exp(_max_shifted(_floats(x)[0], axis))
    return fnp.divide(e, fnp.sum(e, axis=axis, keepdims=True))


def log_softmax(x: ArrayLike, axis: Axis = None) -> Array:
    """x - logsumexp(x) over axis (None: the whole array), from shifted logits."""
    shifted = _max_shifted(_floats(x)[0], axis)
    return fnp.subtract(shifted, fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True)))
