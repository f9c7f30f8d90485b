"""Elementwise functions: a row each (name, primitive, promotion, numpy's ufunc, docstring,
Tracer operators), and the compositions written out below (power, square, clip, where,
astype, the complex parts, sinc, nan_to_num, heaviside, i0, isclose, ...), with numpy 2's
array-API names (acos, pow, bitwise_invert, ...) for the same functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast, overload

import numpy as np
from numpy.polynomial import chebyshev
from numpy.typing import DTypeLike

from funcgrad.core import Array, ArrayLike, ConcretizationError, Tracer, user_location
from funcgrad.primitives import elementwise as E
from funcgrad.numpy._table import (COMMON, INEXACT, Binary, Row, Unary, alias, any_traced,
                                   binary, broadcast_all, elementwise, promote, promoted_dtype,
                                   register, unary)

__all__ = [
    "power", "square", "clip", "where", "astype", "add", "subtract", "multiply", "divide",
    "maximum", "minimum", "negative", "sign", "abs", "sqrt", "exp", "log", "log1p", "expm1",
    "sin", "cos", "tan", "tanh", "less", "less_equal", "greater", "greater_equal", "equal",
    "not_equal", "logical_and", "logical_or", "logical_not", "isfinite", "stop_gradient",
    "true_divide", "absolute",
    "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "arcsin", "arccos", "arctan", "arctan2",
    "hypot", "log2", "log10", "exp2", "logaddexp", "logaddexp2", "sinc", "deg2rad", "rad2deg",
    "degrees", "radians", "floor", "ceil", "round", "around", "rint", "trunc", "fix", "fabs",
    "cbrt", "reciprocal", "mod", "remainder", "fmod", "floor_divide", "divmod", "float_power",
    "fmax", "fmin", "copysign", "nan_to_num", "real", "imag", "conj", "conjugate", "angle",
    "isnan", "isinf", "signbit", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
    "invert", "bitwise_not",
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "pow", "positive",
    "bitwise_invert", "heaviside", "i0", "isclose", "isposinf", "isneginf", "isreal",
    "iscomplex", "isrealobj", "iscomplexobj", "isscalar", "real_if_close",
]


# A row each: name, primitive, promotion, numpy's ufunc, docstring, Tracer operators.

add: Binary = binary("add", E.add_p, COMMON, np.add,
                     "x + y, elementwise with broadcasting.",
                     methods=("__add__",), reflected=("__radd__",))
subtract: Binary = binary("subtract", E.sub_p, COMMON, np.subtract,
                          "x - y, elementwise with broadcasting.",
                          methods=("__sub__",), reflected=("__rsub__",))
multiply: Binary = binary("multiply", E.mul_p, COMMON, np.multiply,
                          "x * y, elementwise with broadcasting.",
                          methods=("__mul__",), reflected=("__rmul__",))
divide: Binary = binary("divide", E.div_p, INEXACT, np.divide,
                        "x / y (true division), elementwise with broadcasting.",
                        methods=("__truediv__",), reflected=("__rtruediv__",))
true_divide = alias("true_divide", divide)
floor_divide: Binary = binary("floor_divide", E.floor_divide_p, COMMON, np.floor_divide,
                              "x // y, rounded down (gradient zero).",
                              methods=("__floordiv__",), reflected=("__rfloordiv__",))
mod: Binary = binary("mod", E.mod_p, COMMON, np.remainder,
                     "x % y with the sign of y, as Python's; d/dy is minus the quotient.",
                     methods=("__mod__",), reflected=("__rmod__",))
remainder = alias("remainder", mod)
fmod: Binary = binary("fmod", E.fmod_p, COMMON, np.fmod,
                      "The remainder with the sign of x, as C's fmod.")
maximum: Binary = binary("maximum", E.max_p, COMMON, np.maximum,
                         "Elementwise maximum; at ties the gradient is split evenly.")
minimum: Binary = binary("minimum", E.min_p, COMMON, np.minimum,
                         "Elementwise minimum; at ties the gradient is split evenly.")
fmax: Binary = binary("fmax", E.fmax_p, COMMON, np.fmax,
                      "Elementwise maximum ignoring nans; at ties the gradient goes to y.")
fmin: Binary = binary("fmin", E.fmin_p, COMMON, np.fmin,
                      "Elementwise minimum ignoring nans; at ties the gradient goes to y.")
arctan2: Binary = binary("arctan2", E.arctan2_p, INEXACT, np.arctan2,
                         "The angle of the point (x2, x1), in the right quadrant.")
hypot: Binary = binary("hypot", E.hypot_p, INEXACT, np.hypot,
                       "sqrt(x ** 2 + y ** 2) without overflow; its gradient at (0, 0) is 0.")
logaddexp: Binary = binary("logaddexp", E.logaddexp_p, INEXACT, np.logaddexp,
                           "log(exp(x) + exp(y)), without overflow.")
logaddexp2: Binary = binary("logaddexp2", E.logaddexp2_p, INEXACT, np.logaddexp2,
                            "log2(2 ** x + 2 ** y), without overflow.")
copysign: Binary = binary("copysign", E.copysign_p, INEXACT, np.copysign,
                          "|x| with the sign of y (no gradient for y).")
negative: Unary = unary("negative", E.neg_p, COMMON, np.negative,
                        "-x elementwise.", methods=("__neg__",))
sign: Unary = unary("sign", E.sign_p, COMMON, np.sign,
                    "-1, 0 or 1 by the sign of x, z / |z| for complex z (gradient zero).")
abs: Unary = unary("abs", E.abs_p, COMMON, np.absolute,
                   "|x| elementwise (real for complex x); its gradient at 0 is 0.",
                   methods=("__abs__",))
absolute = alias("absolute", abs)
fabs: Unary = unary("fabs", E.fabs_p, INEXACT, np.fabs,
                    "|x| as a float, for real x; its gradient at 0 is 0.")
sqrt: Unary = unary("sqrt", E.sqrt_p, INEXACT, np.sqrt,
                    "Square root, elementwise.")
cbrt: Unary = unary("cbrt", E.cbrt_p, INEXACT, np.cbrt,
                    "Cube root of real x (negative for negative x).")
reciprocal: Unary = unary("reciprocal", E.reciprocal_p, COMMON, np.reciprocal,
                          "1 / x elementwise (integer division for integers, as numpy's).")
exp: Unary = unary("exp", E.exp_p, INEXACT, np.exp,
                   "e ** x, elementwise.")
exp2: Unary = unary("exp2", E.exp2_p, INEXACT, np.exp2,
                    "2 ** x, elementwise.")
log: Unary = unary("log", E.log_p, INEXACT, np.log,
                   "Natural logarithm, elementwise.")
log2: Unary = unary("log2", E.log2_p, INEXACT, np.log2,
                    "Base-2 logarithm, elementwise.")
log10: Unary = unary("log10", E.log10_p, INEXACT, np.log10,
                     "Base-10 logarithm, elementwise.")
log1p: Unary = unary("log1p", E.log1p_p, INEXACT, np.log1p,
                     "log(1 + x), accurate for small x.")
expm1: Unary = unary("expm1", E.expm1_p, INEXACT, np.expm1,
                     "exp(x) - 1, accurate for small x.")
sin: Unary = unary("sin", E.sin_p, INEXACT, np.sin,
                   "Sine, elementwise.")
cos: Unary = unary("cos", E.cos_p, INEXACT, np.cos,
                   "Cosine, elementwise.")
tan: Unary = unary("tan", E.tan_p, INEXACT, np.tan,
                   "Tangent, elementwise.")
arcsin: Unary = unary("arcsin", E.arcsin_p, INEXACT, np.arcsin,
                      "Inverse sine, elementwise.")
arccos: Unary = unary("arccos", E.arccos_p, INEXACT, np.arccos,
                      "Inverse cosine, elementwise.")
arctan: Unary = unary("arctan", E.arctan_p, INEXACT, np.arctan,
                      "Inverse tangent, elementwise.")
sinh: Unary = unary("sinh", E.sinh_p, INEXACT, np.sinh,
                    "Hyperbolic sine, elementwise.")
cosh: Unary = unary("cosh", E.cosh_p, INEXACT, np.cosh,
                    "Hyperbolic cosine, elementwise.")
tanh: Unary = unary("tanh", E.tanh_p, INEXACT, np.tanh,
                    "Hyperbolic tangent, elementwise.")
arcsinh: Unary = unary("arcsinh", E.arcsinh_p, INEXACT, np.arcsinh,
                       "Inverse hyperbolic sine, elementwise.")
arccosh: Unary = unary("arccosh", E.arccosh_p, INEXACT, np.arccosh,
                       "Inverse hyperbolic cosine, elementwise.")
arctanh: Unary = unary("arctanh", E.arctanh_p, INEXACT, np.arctanh,
                       "Inverse hyperbolic tangent, elementwise.")
deg2rad: Unary = unary("deg2rad", E.deg2rad_p, INEXACT, np.deg2rad,
                       "Degrees to radians.")
radians: Unary = unary("radians", E.deg2rad_p, INEXACT, np.radians,
                       "Degrees to radians (deg2rad).")
rad2deg: Unary = unary("rad2deg", E.rad2deg_p, INEXACT, np.rad2deg,
                       "Radians to degrees.")
degrees: Unary = unary("degrees", E.rad2deg_p, INEXACT, np.degrees,
                       "Radians to degrees (rad2deg).")
floor: Unary = unary("floor", E.floor_p, COMMON, np.floor,
                     "The largest integer <= x (gradient zero).")
ceil: Unary = unary("ceil", E.ceil_p, COMMON, np.ceil,
                    "The smallest integer >= x (gradient zero).")
trunc: Unary = unary("trunc", E.trunc_p, COMMON, np.trunc,
                     "x rounded towards zero (gradient zero).")
fix = alias("fix", trunc)
rint: Unary = unary("rint", E.rint_p, INEXACT, np.rint,
                    "x rounded to the nearest integer, halves to even (gradient zero).")
less: Binary = binary("less", E.lt_p, COMMON, np.less,
                      "x < y elementwise (bool, no gradient).", methods=("__lt__",))
less_equal: Binary = binary("less_equal", E.le_p, COMMON, np.less_equal,
                            "x <= y elementwise (bool, no gradient).", methods=("__le__",))
greater: Binary = binary("greater", E.gt_p, COMMON, np.greater,
                         "x > y elementwise (bool, no gradient).", methods=("__gt__",))
greater_equal: Binary = binary("greater_equal", E.ge_p, COMMON, np.greater_equal,
                               "x >= y elementwise (bool, no gradient).", methods=("__ge__",))
equal: Binary = binary("equal", E.eq_p, COMMON, np.equal,
                       "x == y elementwise (bool, no gradient).", methods=("__eq__",))
not_equal: Binary = binary("not_equal", E.ne_p, COMMON, np.not_equal,
                           "x != y elementwise (bool, no gradient).", methods=("__ne__",))
logical_and: Binary = binary("logical_and", E.and_p, COMMON, np.logical_and,
                             "Elementwise and (bool).")
logical_or: Binary = binary("logical_or", E.or_p, COMMON, np.logical_or,
                            "Elementwise or (bool).")
logical_xor: Binary = binary("logical_xor", E.xor_p, COMMON, np.logical_xor,
                             "Elementwise exclusive or (bool).")
logical_not: Unary = unary("logical_not", E.not_p, COMMON, np.logical_not,
                           "Elementwise not (bool).")
bitwise_and: Binary = binary("bitwise_and", E.bitwise_and_p, COMMON, np.bitwise_and,
                             "x & y for bool or integer arrays.",
                             methods=("__and__",), reflected=("__rand__",))
bitwise_or: Binary = binary("bitwise_or", E.bitwise_or_p, COMMON, np.bitwise_or,
                            "x | y for bool or integer arrays.",
                            methods=("__or__",), reflected=("__ror__",))
bitwise_xor: Binary = binary("bitwise_xor", E.bitwise_xor_p, COMMON, np.bitwise_xor,
                             "x ^ y for bool or integer arrays.",
                             methods=("__xor__",), reflected=("__rxor__",))
invert: Unary = unary("invert", E.invert_p, COMMON, np.invert,
                      "~x: logical not of bools, bitwise not of integers.",
                      methods=("__invert__",))
bitwise_not = alias("bitwise_not", invert)
isfinite: Unary = unary("isfinite", E.isfinite_p, COMMON, np.isfinite,
                        "True where x is neither infinite nor nan.")
isnan: Unary = unary("isnan", E.isnan_p, COMMON, np.isnan,
                     "True where x is nan.")
isinf: Unary = unary("isinf", E.isinf_p, COMMON, np.isinf,
                     "True where x is infinite.")
signbit: Unary = unary("signbit", E.signbit_p, COMMON, np.signbit,
                       "True where the sign bit of x is set (also for -0.0).")
stop_gradient: Unary = unary("stop_gradient", E.stop_gradient_p, COMMON, None,
                             "x, but with a zero gradient: derivatives do not flow through it.")


# ---------------------------------------------------------------------------- compositions


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise TypeError(f"{name}: out= cannot be used with traced values, which are "
                        "immutable; use the returned array" + user_location())


def power(x: ArrayLike, y: ArrayLike) -> Array:
    """x ** y elementwise; an integer exponent uses repeated multiplication."""
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool) and isinstance(x, Tracer):
        return x if y == 1 else E.integer_pow_p.bind(x, y=int(y))
    return elementwise(E.pow_p, "power", COMMON, (x, y))


def float_power(x: ArrayLike, y: ArrayLike) -> Array:
    """x ** y computed in at least float64 (or complex128), as numpy's."""
    if not any_traced((x, y)):
        return np.float_power(x, y)
    dtype = np.result_type(promoted_dtype(COMMON, (x, y)), np.float64)
    return elementwise(E.pow_p, "float_power", COMMON, (astype(x, dtype), astype(y, dtype)))


def square(x: ArrayLike) -> Array:
    """x * x elementwise."""
    return power(x, 2)


def divmod(x: ArrayLike, y: ArrayLike) -> tuple[Array, Array]:
    """(x // y, x % y), as Python's divmod."""
    if not any_traced((x, y)):
        return np.divmod(x, y)
    return floor_divide(x, y), mod(x, y)


def round(a: ArrayLike, decimals: int = 0, out: None = None) -> Array:
    """a rounded to `decimals` decimal places, halves to even (gradient zero)."""
    if not isinstance(a, Tracer):
        return cast(Array, np.round(a, decimals, out))
    _no_out("round", out)
    return E.round_p.bind(a, decimals=int(decimals))



def clip(a: ArrayLike, a_min: ArrayLike | None = None, a_max: ArrayLike | None = None,
         out: None = None, *, min: ArrayLike | None = None, max: ArrayLike | None = None
         ) -> Array:
    """a limited to [a_min, a_max] (either may be None; or min=, max=). At a bound the
    gradient is split evenly between a and the bound, as JAX's."""
    for name, given, keyword in (("a_min", a_min, min), ("a_max", a_max, max)):
        if given is not None and keyword is not None:
            raise ValueError(f"clip: both {name} and its keyword form were given")
    lo = a_min if min is None else min
    hi = a_max if max is None else max
    if not any_traced((a, lo, hi)):
        return cast(Array, np.clip(a, lo, hi, out))
    _no_out("clip", out)
    result: Array = a if isinstance(a, Tracer) else np.asarray(a)
    if lo is not None:
        result = maximum(result, lo)
    if hi is not None:
        result = minimum(result, hi)
    return result


_MISSING: Any = object()


@overload
def where(condition: ArrayLike) -> tuple[Array, ...]: ...
@overload
def where(condition: ArrayLike, x: ArrayLike, y: ArrayLike) -> Array: ...


def where(condition: ArrayLike, x: Any = _MISSING, y: Any = _MISSING
          ) -> Array | tuple[Array, ...]:
    """x where condition holds, else y, with broadcasting; with the condition alone, the
    indices where it holds (nonzero: only of values known while tracing)."""
    if x is _MISSING and y is _MISSING:
        return _indices_where(condition)
    if x is _MISSING or y is _MISSING:
        raise ValueError("where: give both x and y, or neither")
    # arrays too go through the primitive: its kernel is several times faster than np.where
    condition, x, y = operand(condition), operand(x), operand(y)
    xx, yy = promote((x, y), promoted_dtype(COMMON, (x, y)))
    return E.select_p.bind(*broadcast_all("where", (astype(condition, np.bool_), xx, yy)))


def _indices_where(condition: ArrayLike) -> tuple[Array, ...]:
    if isinstance(condition, Tracer):
        value = condition._trace.concrete(condition)
        if value is None:
            raise ConcretizationError(
                f"where(condition) with one argument gives index arrays whose length depends "
                f"on the values, which tracing with {condition._trace.name} cannot know. Use "
                "where(condition, x, y) to select values instead." + user_location())
        condition = value
    return tuple(np.nonzero(np.asarray(condition)))


def astype(x: ArrayLike, dtype: DTypeLike) -> Array:
    """x converted to dtype (a no-op when it already has it)."""
    dt = np.dtype(dtype)
    if isinstance(x, Tracer):
        return x if x.dtype == dt else E.convert_p.bind(x, dtype=dt)
    return np.asarray(x).astype(dt, copy=False)


def real(x: ArrayLike) -> Array:
    """The real part (x itself for real x)."""
    if not isinstance(x, Tracer):
        return cast(Array, np.real(x))
    return E.real_p.bind(x) if x.dtype.kind == "c" else x


def imag(x: ArrayLike) -> Array:
    """The imaginary part (zeros for real x)."""
    if not isinstance(x, Tracer):
        return cast(Array, np.imag(x))
    return E.imag_p.bind(x) if x.dtype.kind == "c" else np.zeros(x.shape, x.dtype)


def conjugate(x: ArrayLike) -> Array:
    """The complex conjugate (x itself for real x)."""
    if not isinstance(x, Tracer):
        return np.conjugate(x)
    return E.conj_p.bind(x) if x.dtype.kind == "c" else x



def angle(z: ArrayLike, deg: bool = False) -> Array:
    """The argument of complex z, in radians (degrees with deg=True); nan gradient at 0."""
    if not isinstance(z, Tracer):
        return np.angle(z, deg)
    zimag, zreal = (imag(z), real(z)) if z.dtype.kind == "c" else (0, z)
    a = arctan2(zimag, zreal)
    return a * (180 / np.pi) if deg else a


def sinc(x: ArrayLike) -> Array:
    """sin(pi x) / (pi x), 1 at 0, where its derivatives of every order are exact."""
    if not isinstance(x, Tracer):
        return np.sinc(x)
    x = astype(x, promoted_dtype(INEXACT, (x, 1.0)))
    y = x * np.pi
    zero = x == 0
    # The unused branch divides by 1 at 0, so that its (discarded) gradient stays finite.
    safe = where(zero, 1, y)
    return where(zero, E.sinc_maclaurin_p.bind(y, k=0), sin(safe) / safe)


def nan_to_num(x: ArrayLike, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Array:
    """x with nan, inf and -inf replaced by nan, posinf and neginf (default: the largest
    finite values); the gradient passes where x is kept and is zero where it was replaced."""
    if not isinstance(x, Tracer):
        return cast(Array, np.nan_to_num(x, copy=copy, nan=nan, posinf=posinf, neginf=neginf))
    if x.dtype.kind not in "fc":
        return x
    return E.nan_to_num_p.bind(x, nan=float(nan),
                               posinf=None if posinf is None else float(posinf),
                               neginf=None if neginf is None else float(neginf))


Values = ArrayLike | Sequence[Any]
"""An array, a traced value, a scalar or (nested) lists of them: what numpy's functions take
where lists are usual (interp's xp and fp, histogram's bins, ...)."""


def operand(x: Any) -> Any:
    """x as an operand: tracers, arrays and Python numbers (which stay weak) as they are,
    nested lists as numpy arrays."""
    return x if isinstance(x, (Tracer, np.ndarray, np.generic, int, float, complex)) \
        else np.asarray(x)


def concrete_value(name: str, what: str, value: Any,
                   reason: str = "the result's shape depends on its value",
                   fix: str = "pass a constant") -> np.ndarray[Any, Any]:
    """The value of an argument that must be known while tracing (under grad it is; under
    jit, vmap and make_graph it is not, which is a ConcretizationError saying why)."""
    if isinstance(value, Tracer):
        known = value._trace.concrete(value)
        if known is None:
            raise ConcretizationError(
                f"{name}: {what} ({value.aval}) is traced, but {reason}, which tracing "
                f"with {value._trace.name} cannot know; {fix}" + user_location())
        value = known
    return np.asarray(value)


def positive(x: ArrayLike, /) -> Array:
    """+x: x itself (numpy's copy of it; traced values are immutable, so no copy is needed)."""
    if not isinstance(x, Tracer):
        return cast(Array, np.positive(x))
    if x.dtype == np.bool_:
        raise TypeError("positive: numpy does not take bool arrays" + user_location())
    return x


# ---------------------------------------------------------------------------- special functions


def heaviside(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """The step function: 0 where x1 < 0, x2 where x1 == 0, 1 where x1 > 0 (nan at nan). x1
    has a zero gradient; x2 has one where x1 == 0, as in JAX."""
    if not any_traced((x1, x2)):
        return cast(Array, np.heaviside(x1, x2))
    x1, x2 = operand(x1), operand(x2)
    dtype = promoted_dtype(INEXACT, (x1, x2))
    x, h = astype(x1, dtype), astype(x2, dtype)
    return where(greater(x, 0), 1, where(equal(x, 0), h, where(less(x, 0), 0, stop_gradient(x))))


def _scaled_i0(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """exp(-x) * I0(x) for x >= 0, from I0(x) = mean of exp(x cos t) over a period of t: the
    trapezoid rule, exact to rounding for such a periodic integrand with enough points."""
    t = np.linspace(0.0, 2 * np.pi, 4096, endpoint=False)
    return cast(np.ndarray[Any, Any], np.exp(np.multiply.outer(x, np.cos(t) - 1)).mean(-1))


def _i0_near(s: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """exp(-x*x/16) * I0(x) for s = x*x/32 - 1 in [-1, 1] (|x| <= 8): a function of x*x, so
    its series has every derivative at 0 exact."""
    x = np.sqrt(32 * (s + 1))
    scaled: np.ndarray[Any, Any] = _scaled_i0(x) * np.exp(x - x * x / 16)
    return scaled


def _i0_far(t: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """sqrt(x) * exp(-x) * I0(x) for t = 16/x - 1 in (-1, 1] (x >= 8)."""
    x = 16 / (t + 1)
    scaled: np.ndarray[Any, Any] = np.sqrt(x) * _scaled_i0(x)
    return scaled


def _chebyshev_fit(f: Any, degree: int) -> tuple[float, ...]:
    return tuple(float(c) for c in chebyshev.chebinterpolate(f, degree))


# I0's two series, fitted once; they agree with numpy's i0 to a few units of 1e-15.
_I0_NEAR = _chebyshev_fit(_i0_near, 16)
_I0_FAR = _chebyshev_fit(_i0_far, 20)


def _chebyshev_series(coefficients: Sequence[float], t: Array) -> Array:
    """sum(c_k T_k(t)) by Clenshaw's recurrence."""
    b1: Array | float = 0.0
    b2: Array | float = 0.0
    for c in coefficients[:0:-1]:
        b1, b2 = add(subtract(multiply(multiply(t, 2.0), b1), b2), c), b1
    return subtract(add(multiply(t, b1), coefficients[0]), b2)


def i0(x: ArrayLike) -> Array:
    """The modified Bessel function of the first kind of order 0, for real x; its
    derivatives of every order follow from smooth series (i0' = i1)."""
    if not isinstance(x, Tracer):
        return cast(Array, np.i0(cast(Any, x)))
    if x.dtype.kind == "c":
        raise TypeError("i0: x must be real" + user_location())
    x = astype(x, promoted_dtype(INEXACT, (x,)))
    square = multiply(x, x)
    near = less_equal(square, 64.0)
    # Each series sees only arguments in its own range, so that the gradient of the one
    # not taken stays finite (it is multiplied by zero).
    small = where(near, square, 64.0)
    large = sqrt(where(near, 64.0, square))  # |x|
    return where(near, multiply(exp(divide(small, 16.0)),
                                _chebyshev_series(_I0_NEAR, subtract(divide(small, 32.0), 1))),
                 divide(multiply(exp(large),
                                 _chebyshev_series(_I0_FAR, subtract(divide(16.0, large), 1))),
                        sqrt(large)))


# ---------------------------------------------------------------------------- tests of values


def isclose(a: ArrayLike, b: ArrayLike, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Array:
    """Where |a - b| <= atol + rtol * |b| (or a == b, infinities included), as numpy's; bool."""
    if not any_traced((a, b)):
        return cast(Array, np.isclose(a, b, rtol, atol, equal_nan))
    # b in floating point, as numpy's (a Python number stays weak)
    b = operand(b)
    y = float(b) if isinstance(b, int) else b if isinstance(b, float) else astype(
        b, promoted_dtype(INEXACT, (b,)))
    x = operand(a)
    finite = isfinite(y)
    # (an infinite y only counts as equal to x: it is left out of x - y, where inf - inf
    # would warn)
    close = logical_and(less_equal(abs(subtract(x, where(finite, y, 0))),
                                   add(atol, multiply(rtol, abs(y)))), finite)
    result = logical_or(close, equal(x, y))
    return logical_or(result, logical_and(isnan(x), isnan(y))) if equal_nan else result


def isposinf(x: ArrayLike) -> Array:
    """True where x is +inf (bool)."""
    if not isinstance(x, Tracer):
        return cast(Array, np.isposinf(cast(Any, x)))
    return logical_and(isinf(x), logical_not(signbit(x)))


def isneginf(x: ArrayLike) -> Array:
    """True where x is -inf (bool)."""
    if not isinstance(x, Tracer):
        return cast(Array, np.isneginf(cast(Any, x)))
    return logical_and(isinf(x), signbit(x))


def isreal(x: ArrayLike) -> Array:
    """True where the imaginary part of x is zero (everywhere for real x)."""
    if not isinstance(x, Tracer):
        return cast(Array, np.isreal(x))
    return equal(imag(x), 0)


def iscomplex(x: ArrayLike) -> Array:
    """True where the imaginary part of x is nonzero (nowhere for real x)."""
    if not isinstance(x, Tracer):
        return cast(Array, np.iscomplex(x))
    return not_equal(imag(x), 0)


def iscomplexobj(x: Any) -> bool:
    """Whether x has a complex dtype (whatever its values)."""
    return x.dtype.kind == "c" if isinstance(x, Tracer) else bool(np.iscomplexobj(x))


def isrealobj(x: Any) -> bool:
    """Whether x has a dtype that is not complex."""
    return not iscomplexobj(x)


def isscalar(element: Any) -> bool:
    """Whether element is a Python or numpy scalar (arrays, 0-d or traced, are not)."""
    return not isinstance(element, Tracer) and bool(np.isscalar(element))


def real_if_close(a: ArrayLike, tol: float = 100) -> Array:
    """The real part of complex a if every imaginary part is within tol machine epsilons
    (tol > 1) or tol (tol <= 1) of zero, else a. Whether the result is real depends on the
    values: under jit, a traced complex a is an error."""
    if not isinstance(a, Tracer):
        return cast(Array, np.real_if_close(a, tol))
    if a.dtype.kind != "c":
        return a
    value = concrete_value("real_if_close", "a", a, "whether the result is real depends on "
                           "its values")
    return real(a) if np.isrealobj(np.real_if_close(value, tol)) else a


register([
    Row("power", power, ufunc=np.power, methods=("__pow__",), reflected=("__rpow__",)),
    Row("float_power", float_power, ufunc=np.float_power),
    Row("square", square, ufunc=np.square),
    Row("divmod", divmod, ufunc=np.divmod, methods=("__divmod__",), reflected=("__rdivmod__",)),
    Row("round", round, E.round_p, methods=("round",)),
    Row("clip", clip, methods=("clip",)),
    Row("where", where),
    Row("astype", astype, methods=("astype",)),
    Row("real", real, E.real_p, properties=("real",)),
    Row("imag", imag, E.imag_p, properties=("imag",)),
    Row("conjugate", conjugate, E.conj_p, ufunc=np.conjugate, methods=("conjugate", "conj")),
    Row("angle", angle),
    Row("sinc", sinc),
    Row("nan_to_num", nan_to_num, E.nan_to_num_p),
    Row("positive", positive, ufunc=np.positive),
    Row("heaviside", heaviside, ufunc=np.heaviside),
    Row("i0", i0),
    Row("isclose", isclose),
    Row("isposinf", isposinf),
    Row("isneginf", isneginf),
    Row("isreal", isreal),
    Row("iscomplex", iscomplex),
    Row("iscomplexobj", iscomplexobj),
    Row("isrealobj", isrealobj),
    Row("isscalar", isscalar),
    Row("real_if_close", real_if_close),
])

around = alias("around", round)
conj = alias("conj", conjugate)

# numpy 2's array-API names for the same functions
acos = alias("acos", arccos)
acosh = alias("acosh", arccosh)
asin = alias("asin", arcsin)
asinh = alias("asinh", arcsinh)
atan = alias("atan", arctan)
atan2 = alias("atan2", arctan2)
atanh = alias("atanh", arctanh)
pow = alias("pow", power)
bitwise_invert = alias("bitwise_invert", invert)
