"""Elementwise primitives: arithmetic, transcendental and rounding functions, comparisons,
logical and bitwise operations, complex parts, select and dtype conversion, each with its
VJP rules.

Each primitive's implementation is numpy's own function, and its result dtype is the one
numpy gives for the operands' dtype (floor of integers stays integer, abs of complex is
real, comparisons are bool); numpy's refusals (floor of complex, ~ of floats) are refused
while tracing too. Piecewise-constant functions and those with integer or bool results
have no VJP rule: nothing flows through them, so their gradient is zero.

Complex numbers follow JAX's convention: the cotangent of z = x + iy is dL/dx - i dL/dy.
A holomorphic f then has the rule ct * f'(z); `complex_rules=True` marks the primitives
whose rules are right for complex values (the holomorphic ones, and abs, real, imag, conj,
nan_to_num, select and convert with rules of their own). The others (maximum, fmax, ...)
have no complex derivative, and grad refuses their complex outputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from funcgrad import numpy as fnp

from funcgrad.core import Primitive, Rule, ShapedArray, Tracer, user_location
from funcgrad.primitives.base import Aval, batch_elementwise, elementwise_shape, select_shape


@cache
def _numpy_dtype(name: str, impl: Callable[..., Any], dtypes: tuple[np.dtype[Any], ...],
                 params: tuple[tuple[str, Any], ...]) -> np.dtype[Any]:
    """The dtype numpy's implementation gives for operands of `dtypes` (found by running it
    on ones), or a TypeError naming the function if numpy refuses them."""
    try:
        with np.errstate(all="ignore"):
            out = impl(*(np.ones((), d) for d in dtypes), **dict(params))
    except TypeError as e:
        raise TypeError(f"{name} is not defined for {dtypes[0].name} operands (numpy: {e})"
                        + user_location()) from None
    dtype: np.dtype[Any] = np.asarray(out).dtype
    return dtype


def _shape_rule(name: str, impl: Callable[..., Any]) -> Callable[..., ShapedArray]:
    def rule(*avals: Aval, **params: Any) -> ShapedArray:
        shape, dtype = elementwise_shape(*avals)
        return ShapedArray(shape, _numpy_dtype(name, impl, (dtype,) * len(avals),
                                               tuple(params.items())))
    return rule


def unary(name: str, impl: Callable[..., Any], vjp: Rule | None, *,
          complex_rules: bool = False) -> Primitive:
    """An elementwise primitive of one operand (complex_rules: its rule is right for complex
    values too, as ct * f'(z) is for a holomorphic f)."""
    return Primitive(name, impl, _shape_rule(name, impl), (vjp,), batch_elementwise,
                     complex_rules=complex_rules)


def binary(name: str, impl: Callable[..., Any], vjp_x: Rule | None,
           vjp_y: Rule | None, *, complex_rules: bool = False) -> Primitive:
    """An elementwise primitive of two operands (complex_rules: as for unary)."""
    return Primitive(name, impl, _shape_rule(name, impl), (vjp_x, vjp_y), batch_elementwise,
                     complex_rules=complex_rules)


def _stable_logistic(x: Any) -> Any:
    return np.exp(-np.logaddexp(0, -x))


def _integer_pow(x: Any, *, y: int) -> Any:
    return x * x if y == 2 else np.power(x, y)


def _nonzero(x: Any) -> Any:
    """x with its zeros replaced by ones: a divisor whose zeros a select discards anyway."""
    return fnp.where(x == 0, 1, x)


def _safe_log(x: Any) -> Any:
    # d/dy x**y at x == 0 is 0 for y > 0 (not nan from 0 * log 0), as in JAX
    return fnp.log(_nonzero(x))


LN2 = math.log(2.0)
LN10 = math.log(10.0)


# ---------------------------------------------------------------------------- one operand

neg_p: Primitive = unary("neg", np.negative, lambda g, out, x: -g, complex_rules=True)
exp_p: Primitive = unary("exp", np.exp, lambda g, out, x: g * out, complex_rules=True)
exp2_p: Primitive = unary("exp2", np.exp2, lambda g, out, x: g * (out * LN2), complex_rules=True)
log_p: Primitive = unary("log", np.log, lambda g, out, x: g / x, complex_rules=True)
log2_p: Primitive = unary("log2", np.log2, lambda g, out, x: g / (x * LN2), complex_rules=True)
log10_p: Primitive = unary("log10", np.log10, lambda g, out, x: g / (x * LN10),
                           complex_rules=True)
log1p_p: Primitive = unary("log1p", np.log1p, lambda g, out, x: g / (x + 1), complex_rules=True)
expm1_p: Primitive = unary("expm1", np.expm1, lambda g, out, x: g * (out + 1), complex_rules=True)
sin_p: Primitive = unary("sin", np.sin, lambda g, out, x: g * fnp.cos(x), complex_rules=True)
cos_p: Primitive = unary("cos", np.cos, lambda g, out, x: -g * fnp.sin(x), complex_rules=True)
tan_p: Primitive = unary("tan", np.tan, lambda g, out, x: g * (out * out + 1), complex_rules=True)
arcsin_p: Primitive = unary("arcsin", np.arcsin, lambda g, out, x: g / fnp.sqrt(1 - x * x),
                            complex_rules=True)
arccos_p: Primitive = unary("arccos", np.arccos, lambda g, out, x: -g / fnp.sqrt(1 - x * x),
                            complex_rules=True)
arctan_p: Primitive = unary("arctan", np.arctan, lambda g, out, x: g / (x * x + 1),
                            complex_rules=True)
sinh_p: Primitive = unary("sinh", np.sinh, lambda g, out, x: g * fnp.cosh(x), complex_rules=True)
cosh_p: Primitive = unary("cosh", np.cosh, lambda g, out, x: g * fnp.sinh(x), complex_rules=True)
tanh_p: Primitive = unary("tanh", np.tanh, lambda g, out, x: g * (1 - out * out),
                          complex_rules=True)
arcsinh_p: Primitive = unary("arcsinh", np.arcsinh,
                             lambda g, out, x: g / fnp.sqrt(x * x + 1), complex_rules=True)
# 1 / (sqrt(z - 1) sqrt(z + 1)), not 1 / sqrt(z*z - 1): the derivative of numpy's principal
# branch everywhere in the complex plane (the two differ in sign where Re z < 0).
arccosh_p: Primitive = unary("arccosh", np.arccosh,
                             lambda g, out, x: g / (fnp.sqrt(x - 1) * fnp.sqrt(x + 1)),
                             complex_rules=True)
arctanh_p: Primitive = unary("arctanh", np.arctanh, lambda g, out, x: g / (1 - x * x),
                             complex_rules=True)
logistic_p: Primitive = unary("logistic", _stable_logistic,
                              lambda g, out, x: g * out * (1 - out), complex_rules=True)
sqrt_p: Primitive = unary("sqrt", np.sqrt, lambda g, out, x: g / (out * 2), complex_rules=True)
cbrt_p: Primitive = unary("cbrt", np.cbrt, lambda g, out, x: g / (out * out * 3))
reciprocal_p: Primitive = unary("reciprocal", np.reciprocal, lambda g, out, x: -g * (out * out),
                                complex_rules=True)
deg2rad_p: Primitive = unary("deg2rad", np.deg2rad, lambda g, out, x: g * (math.pi / 180))
rad2deg_p: Primitive = unary("rad2deg", np.rad2deg, lambda g, out, x: g * (180 / math.pi))
integer_pow_p: Primitive = unary(
    "integer_pow", _integer_pow,
    lambda g, out, x, *, y: g * (y * fnp.power(x, y - 1)) if y else None, complex_rules=True)


def _abs_rule(g: Any, out: Any, x: Any) -> Any:
    if x.dtype.kind == "c":
        # |z| is real: its cotangent g becomes conj(z) g / |z| (0 at z == 0, as in JAX),
        # dividing the reals (exact where they divide exactly, as JAX's 6 - 8j at 3 + 4j)
        return fnp.conj(x) * (g / _nonzero(out))
    return g * fnp.sign(x)  # abs'(0) = sign(0) = 0


abs_p: Primitive = unary("abs", np.abs, _abs_rule, complex_rules=True)
fabs_p: Primitive = unary("fabs", np.fabs, _abs_rule)

# The real and imaginary parts are real; the cotangent g of real(z) is g + 0i, of imag(z)
# -ig (JAX's convention). conj's cotangent is conj(g).
real_p: Primitive = unary("real", np.real, lambda g, out, x: fnp.astype(g, x.dtype),
                          complex_rules=True)
imag_p: Primitive = unary("imag", np.imag, lambda g, out, x: g * -1j, complex_rules=True)
conj_p: Primitive = unary("conj", np.conjugate, lambda g, out, x: fnp.conjugate(g), complex_rules=True)


def _sinc_maclaurin(x: Any, *, k: int) -> Any:
    """The k-th derivative of sin(u) / u at u = 0, shaped like x."""
    c = 0.0 if k % 2 else (-1) ** (k // 2) / (k + 1)
    return np.full_like(x, c)


# sin(u) / u at u = 0, where sinc's formula divides by zero: every order of its derivative
# there is a constant, so grad of grad ... of sinc at 0 is exact (as JAX's).
sinc_maclaurin_p: Primitive = unary(
    "sinc_maclaurin", _sinc_maclaurin,
    lambda g, out, x, *, k: g * sinc_maclaurin_p.bind(x, k=k + 1), complex_rules=True)


def _nan_to_num_rule(g: Any, out: Any, x: Any, **params: Any) -> Any:
    # The gradient passes where x is kept (finite), and is zero where x was replaced; a
    # complex x has its real and imaginary parts replaced separately.
    if x.dtype.kind == "c":
        return (fnp.where(fnp.isfinite(fnp.real(x)), fnp.real(g), 0)
                + fnp.where(fnp.isfinite(fnp.imag(x)), fnp.imag(g), 0) * 1j)
    return fnp.where(fnp.isfinite(x), g, 0)


nan_to_num_p: Primitive = unary(
    "nan_to_num", lambda x, *, nan, posinf, neginf: np.nan_to_num(
        x, nan=nan, posinf=posinf, neginf=neginf), _nan_to_num_rule, complex_rules=True)

# Piecewise constant, or with bool results: no rule, so a zero gradient (as in JAX, also
# for sign of complex numbers).
sign_p: Primitive = unary("sign", np.sign, None)
floor_p: Primitive = unary("floor", np.floor, None)
ceil_p: Primitive = unary("ceil", np.ceil, None)
trunc_p: Primitive = unary("trunc", np.trunc, None)
rint_p: Primitive = unary("rint", np.rint, None)
round_p: Primitive = unary("round", lambda x, *, decimals: np.round(x, decimals), None)
stop_gradient_p: Primitive = unary("stop_gradient", lambda x: x, None)
not_p: Primitive = unary("not", np.logical_not, None)
invert_p: Primitive = unary("invert", np.invert, None)
isfinite_p: Primitive = unary("isfinite", np.isfinite, None)
isnan_p: Primitive = unary("isnan", np.isnan, None)
isinf_p: Primitive = unary("isinf", np.isinf, None)
signbit_p: Primitive = unary("signbit", np.signbit, None)


# ---------------------------------------------------------------------------- two operands

add_p: Primitive = binary("add", np.add, lambda g, out, x, y: g, lambda g, out, x, y: g,
                          complex_rules=True)
sub_p: Primitive = binary("sub", np.subtract, lambda g, out, x, y: g, lambda g, out, x, y: -g,
                          complex_rules=True)
mul_p: Primitive = binary("mul", np.multiply, lambda g, out, x, y: g * y,
                          lambda g, out, x, y: g * x, complex_rules=True)
div_p: Primitive = binary("div", np.divide, lambda g, out, x, y: g / y,
                          lambda g, out, x, y: -g * out / y, complex_rules=True)


def _pow_rule_x(g: Any, out: Any, x: Any, y: Any) -> Any:
    if not isinstance(y, Tracer) and np.all(y != 0):
        return g * y * fnp.power(x, y - 1)
    # x ** 0 is constant: its derivative is 0 also at x == 0, not 0 * x ** -1 = nan. The
    # exponent 1 stands in where y == 0, so the discarded branch stays finite at every order.
    zero = y == 0
    y1 = fnp.where(zero, 1, y)
    return fnp.where(zero, 0, g * y1 * fnp.power(x, y1 - 1))


pow_p: Primitive = binary("pow", np.power, _pow_rule_x,
                          lambda g, out, x, y: g * out * _safe_log(x), complex_rules=True)


def _max_rule(g: Any, x: Any, y: Any) -> Any:
    # Ties split the gradient evenly between the two operands (as JAX does).
    return fnp.where(x > y, g, fnp.where(x == y, g * 0.5, 0))


max_p: Primitive = binary("max", np.maximum,
                          lambda g, out, x, y: _max_rule(g, x, y),
                          lambda g, out, x, y: _max_rule(g, y, x))
min_p: Primitive = binary("min", np.minimum,
                          lambda g, out, x, y: _max_rule(g, y, x),
                          lambda g, out, x, y: _max_rule(g, x, y))


def _takes_x(x_wins: Any, y: Any) -> Any:
    """Where fmax/fmin return x, as JAX decides: where x wins or y is nan (ties and a nan x
    go to y)."""
    return fnp.logical_or(x_wins, fnp.isnan(y))


fmax_p: Primitive = binary("fmax", np.fmax,
                           lambda g, out, x, y: fnp.where(_takes_x(x > y, y), g, 0),
                           lambda g, out, x, y: fnp.where(_takes_x(x > y, y), 0, g))
fmin_p: Primitive = binary("fmin", np.fmin,
                           lambda g, out, x, y: fnp.where(_takes_x(x < y, y), g, 0),
                           lambda g, out, x, y: fnp.where(_takes_x(x < y, y), 0, g))


def _quotient(out: Any, x: Any, y: Any) -> Any:
    """The integer q with x = q * y + out, recovered exactly from the remainder `out` (x / y
    itself can round across an integer, and then disagree with the remainder numpy gave)."""
    return fnp.rint((x - out) / y)


# x - q * y with q piecewise constant: d/dx = 1, d/dy = -q (floor for mod, trunc for fmod)
mod_p: Primitive = binary("mod", np.remainder, lambda g, out, x, y: g,
                          lambda g, out, x, y: -g * _quotient(out, x, y))
fmod_p: Primitive = binary("fmod", np.fmod, lambda g, out, x, y: g,
                           lambda g, out, x, y: -g * _quotient(out, x, y))
floor_divide_p: Primitive = binary("floor_divide", np.floor_divide, None, None)


def _atan2_rule(g: Any, num: Any, x: Any, y: Any) -> Any:
    # d atan2(y, x) = (x dy - y dx) / (x^2 + y^2): nan at the origin, as in JAX
    return g * num / (x * x + y * y)


arctan2_p: Primitive = binary("arctan2", np.arctan2,
                              lambda g, out, y, x: _atan2_rule(g, x, x, y),
                              lambda g, out, y, x: _atan2_rule(g, -y, x, y))
# hypot'(0, 0) = 0, as abs'(0) (hypot(x, 0) = |x|).
hypot_p: Primitive = binary("hypot", np.hypot, lambda g, out, x, y: g * (x / _nonzero(out)),
                            lambda g, out, x, y: g * (y / _nonzero(out)))
# d/dx log(e^x + e^y) = logistic(x - y): 1 and 0 where one operand is infinite and the
# other not (the form exp(x - out) would give inf - inf = nan there).
logaddexp_p: Primitive = binary("logaddexp", np.logaddexp,
                                lambda g, out, x, y: g * logistic_p.bind(x - y),
                                lambda g, out, x, y: g * logistic_p.bind(y - x))
logaddexp2_p: Primitive = binary("logaddexp2", np.logaddexp2,
                                 lambda g, out, x, y: g * logistic_p.bind((x - y) * LN2),
                                 lambda g, out, x, y: g * logistic_p.bind((y - x) * LN2))
# |x| with the sign of y: d/dx is sign(x), negated where y's sign bit is set (0 at x == 0,
# as abs'(0)); the sign of y is piecewise constant.
copysign_p: Primitive = binary(
    "copysign", np.copysign,
    lambda g, out, x, y: fnp.sign(x) * fnp.where(fnp.signbit(y), -g, g), None)

lt_p: Primitive = binary("lt", np.less, None, None)
le_p: Primitive = binary("le", np.less_equal, None, None)
gt_p: Primitive = binary("gt", np.greater, None, None)
ge_p: Primitive = binary("ge", np.greater_equal, None, None)
eq_p: Primitive = binary("eq", np.equal, None, None)
ne_p: Primitive = binary("ne", np.not_equal, None, None)
and_p: Primitive = binary("and", np.logical_and, None, None)
or_p: Primitive = binary("or", np.logical_or, None, None)
xor_p: Primitive = binary("xor", np.logical_xor, None, None)
bitwise_and_p: Primitive = binary("bitwise_and", np.bitwise_and, None, None)
bitwise_or_p: Primitive = binary("bitwise_or", np.bitwise_or, None, None)
bitwise_xor_p: Primitive = binary("bitwise_xor", np.bitwise_xor, None, None)


# ---------------------------------------------------------------------------- select, convert

# Integer types of each float size: a float array viewed as one keeps its bits.
_BITS = {2: np.dtype(np.int16), 4: np.dtype(np.int32), 8: np.dtype(np.int64)}


def _select(c: Any, x: Any, y: Any, out: Any = None) -> Any:
    """np.where(c, x, y), bit for bit, with bit masks on large float arrays; into `out`
    (an array of the result's shape and dtype, which may be x or y) when given.

    numpy's where branches on every element, so on an unpredictable mask (relu's, and its
    gradient's) it runs at a fifth of the speed of a multiply; selecting the bits with
    and/or masks gives the same values (nans and signed zeros included) without branches.
    """
    x, y = np.asarray(x), np.asarray(y)
    bits = _BITS.get(x.dtype.itemsize)
    if (type(c) is not np.ndarray or c.dtype != np.bool_ or c.size < 4096 or bits is None
            or x.dtype.kind != "f" or y.dtype != x.dtype
            or not all(a.shape in (c.shape, ()) for a in (x, y))):
        result = np.where(c, x, y)
        if out is None:
            return result
        out[...] = result
        return out
    ones = np.negative(c.view(np.int8))  # True -> all bits set, in each element's width
    if out is None:
        out = np.empty(c.shape, x.dtype)
    if y.shape or y.view(bits) != 0:
        from_y = np.bitwise_and(y.view(bits), np.invert(ones))  # before out overwrites y
        np.bitwise_and(x.view(bits), ones, out=out.view(bits))
        np.bitwise_or(out.view(bits), from_y, out=out.view(bits))
    else:
        np.bitwise_and(x.view(bits), ones, out=out.view(bits))
    return out


select_p: Primitive = Primitive(
    "select", _select, select_shape,
    (None,
     lambda g, out, c, x, y: fnp.where(c, g, 0),
     lambda g, out, c, x, y: fnp.where(c, 0, g)),
    batch_elementwise, complex_rules=True, writes_out=True)


def _convert_rule(g: Any, out: Any, x: Any, *, dtype: np.dtype[Any]) -> Any:
    if x.dtype.kind not in "fc":
        return None
    if x.dtype.kind == "f" and g.dtype.kind == "c":
        g = fnp.real(g)  # a real x made complex: its cotangent is the real part (JAX's)
    return fnp.astype(g, x.dtype)


convert_p: Primitive = Primitive(
    "convert_element_type", lambda x, *, dtype: np.asarray(x).astype(dtype),
    lambda x, *, dtype: ShapedArray(x.shape, np.dtype(dtype)), (_convert_rule,),
    batch_elementwise, complex_rules=True)


IDENTITIES = {add_p: ((0, 0.0), (1, 0.0)), sub_p: ((1, 0.0),), mul_p: ((0, 1.0), (1, 1.0)),
              div_p: ((1, 1.0),)}
"""Constant operands that make an equation return its other operand, for jit's simplifier."""
