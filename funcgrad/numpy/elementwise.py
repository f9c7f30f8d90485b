"""Elementwise functions: a row each (name, primitive, promotion, numpy's ufunc, docstring,
Tracer operators), and the compositions power, square, clip, where and astype."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from funcgrad.core import Array, ArrayLike, Tracer
from funcgrad.lax import elementwise as E
from funcgrad.numpy._table import (COMMON, INEXACT, Binary, Row, Unary, alias, any_traced, binary,
                                   broadcast_all,
                                   elementwise, promote, promoted_dtype, register, unary)

__all__ = [
    "power", "square", "clip", "where", "astype", "add", "subtract", "multiply", "divide",
    "maximum", "minimum", "negative", "sign", "abs", "sqrt", "exp", "log", "log1p", "expm1",
    "sin", "cos", "tan", "tanh", "less", "less_equal", "greater", "greater_equal", "equal",
    "not_equal", "logical_and", "logical_or", "logical_not", "isfinite", "stop_gradient",
    "true_divide", "absolute"
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
maximum: Binary = binary("maximum", E.max_p, COMMON, np.maximum,
                         "Elementwise maximum; at ties the gradient is split evenly.")
minimum: Binary = binary("minimum", E.min_p, COMMON, np.minimum,
                         "Elementwise minimum; at ties the gradient is split evenly.")
negative: Unary = unary("negative", E.neg_p, COMMON, np.negative,
                        "-x elementwise.", methods=("__neg__",))
sign: Unary = unary("sign", E.sign_p, COMMON, np.sign,
                    "-1, 0 or 1 by the sign of x (gradient zero).")
abs: Unary = unary("abs", E.abs_p, COMMON, np.absolute,
                   "|x| elementwise; its gradient at 0 is 0.", methods=("__abs__",))
absolute = alias("absolute", abs)
sqrt: Unary = unary("sqrt", E.sqrt_p, INEXACT, np.sqrt,
                    "Square root, elementwise.")
exp: Unary = unary("exp", E.exp_p, INEXACT, np.exp,
                   "e ** x, elementwise.")
log: Unary = unary("log", E.log_p, INEXACT, np.log,
                   "Natural logarithm, elementwise.")
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
tanh: Unary = unary("tanh", E.tanh_p, INEXACT, np.tanh,
                    "Hyperbolic tangent, elementwise.")
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
logical_not: Unary = unary("logical_not", E.not_p, COMMON, np.logical_not,
                           "Elementwise not (bool).")
isfinite: Unary = unary("isfinite", E.isfinite_p, COMMON, np.isfinite,
                        "True where x is neither infinite nor nan.")
stop_gradient: Unary = unary("stop_gradient", E.stop_gradient_p, COMMON, None,
                             "x, but with a zero gradient: derivatives do not flow through it.")


def power(x: ArrayLike, y: ArrayLike) -> Array:
    """x ** y elementwise; an integer exponent uses repeated multiplication."""
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool) and isinstance(x, Tracer):
        return x if y == 1 else E.integer_pow_p.bind(x, y=int(y))
    return elementwise(E.pow_p, "power", COMMON, (x, y))


def square(x: ArrayLike) -> Array:
    """x * x elementwise."""
    return power(x, 2)


def clip(x: ArrayLike, a_min: ArrayLike | None = None, a_max: ArrayLike | None = None) -> Array:
    """Limit x to [a_min, a_max] (either may be None)."""
    out: Array = x if isinstance(x, Tracer) else np.asarray(x)
    if a_min is not None:
        out = maximum(out, a_min)
    if a_max is not None:
        out = minimum(out, a_max)
    return out


def where(condition: ArrayLike, x: ArrayLike, y: ArrayLike) -> Array:
    """x where condition holds, else y, with broadcasting."""
    if not any_traced((condition, x, y)):
        return np.where(condition, x, y)
    xx, yy = promote((x, y), promoted_dtype(COMMON, (x, y)))
    return E.select_p.bind(*broadcast_all("where", (astype(condition, np.bool_), xx, yy)))


def astype(x: ArrayLike, dtype: DTypeLike) -> Array:
    """x converted to dtype (a no-op when it already has it)."""
    dt = np.dtype(dtype)
    if isinstance(x, Tracer):
        return x if x.dtype == dt else E.convert_p.bind(x, dtype=dt)
    return np.asarray(x).astype(dt, copy=False)


register([
    Row("power", power, ufunc=np.power, methods=("__pow__",), reflected=("__rpow__",)),
    Row("square", square, ufunc=np.square),
    Row("clip", clip, methods=("clip",)),
    Row("where", where),
    Row("astype", astype, methods=("astype",)),
])
