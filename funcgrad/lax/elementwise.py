"""Elementwise primitives: arithmetic, transcendental functions, comparisons, select and
dtype conversion, each with its VJP rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad import numpy as fnp

from funcgrad.core import Primitive, Rule, ShapedArray
from funcgrad.lax.base import batch_elementwise, compare_shape, elementwise_shape, select_shape


def unary(name: str, impl: Callable[..., Any], vjp: Rule | None, *,
          holomorphic: bool = False) -> Primitive:
    """An elementwise primitive of one operand (holomorphic: its rule, ct * f'(z), is right
    for complex values too)."""
    return Primitive(name, impl, elementwise_shape, (vjp,), batch_elementwise,
                     complex_rules=holomorphic)


def binary(name: str, impl: Callable[..., Any], vjp_x: Rule | None,
           vjp_y: Rule | None, *, holomorphic: bool = False) -> Primitive:
    """An elementwise primitive of two operands (holomorphic: as for unary)."""
    return Primitive(name, impl, elementwise_shape, (vjp_x, vjp_y), batch_elementwise,
                     complex_rules=holomorphic)


def compare(name: str, impl: Callable[..., Any]) -> Primitive:
    """A comparison: bool output, so no gradient."""
    return Primitive(name, impl, compare_shape, (None, None), batch_elementwise)


def _stable_logistic(x: Any) -> Any:
    return np.exp(-np.logaddexp(0, -x))


def _integer_pow(x: Any, *, y: int) -> Any:
    return x * x if y == 2 else np.power(x, y)


def _safe_log(x: Any) -> Any:
    # d/dy x**y at x == 0 is 0 for y > 0 (not nan from 0 * log 0), as in JAX
    return fnp.log(fnp.where(x == 0, fnp.ones_like(x), x))


neg_p: Primitive = unary("neg", np.negative, lambda g, out, x: -g, holomorphic=True)
exp_p: Primitive = unary("exp", np.exp, lambda g, out, x: g * out, holomorphic=True)
log_p: Primitive = unary("log", np.log, lambda g, out, x: g / x, holomorphic=True)
log1p_p: Primitive = unary("log1p", np.log1p, lambda g, out, x: g / (x + 1), holomorphic=True)
expm1_p: Primitive = unary("expm1", np.expm1, lambda g, out, x: g * (out + 1), holomorphic=True)
sin_p: Primitive = unary("sin", np.sin, lambda g, out, x: g * fnp.cos(x), holomorphic=True)
cos_p: Primitive = unary("cos", np.cos, lambda g, out, x: -g * fnp.sin(x), holomorphic=True)
tan_p: Primitive = unary("tan", np.tan, lambda g, out, x: g * (out * out + 1), holomorphic=True)
tanh_p: Primitive = unary("tanh", np.tanh, lambda g, out, x: g * (1 - out * out), holomorphic=True)
logistic_p: Primitive = unary("logistic", _stable_logistic,
                              lambda g, out, x: g * out * (1 - out), holomorphic=True)
sqrt_p: Primitive = unary("sqrt", np.sqrt, lambda g, out, x: g / (out * 2), holomorphic=True)
abs_p: Primitive = unary("abs", np.abs, lambda g, out, x: g * fnp.sign(x))  # abs'(0) = sign(0) = 0
sign_p: Primitive = unary("sign", np.sign, None)
stop_gradient_p: Primitive = unary("stop_gradient", lambda x: x, None)
integer_pow_p: Primitive = unary(
    "integer_pow", _integer_pow,
    lambda g, out, x, *, y: g * (y * fnp.power(x, y - 1)) if y else None, holomorphic=True)

add_p: Primitive = binary("add", np.add, lambda g, out, x, y: g, lambda g, out, x, y: g,
                          holomorphic=True)
sub_p: Primitive = binary("sub", np.subtract, lambda g, out, x, y: g, lambda g, out, x, y: -g,
                          holomorphic=True)
mul_p: Primitive = binary("mul", np.multiply, lambda g, out, x, y: g * y,
                          lambda g, out, x, y: g * x, holomorphic=True)
div_p: Primitive = binary("div", np.divide, lambda g, out, x, y: g / y,
                          lambda g, out, x, y: -g * out / y, holomorphic=True)
pow_p: Primitive = binary("pow", np.power,
               lambda g, out, x, y: g * y * fnp.power(x, y - 1),
               lambda g, out, x, y: g * out * _safe_log(x), holomorphic=True)


def _max_rule(g: Any, x: Any, y: Any) -> Any:
    # Ties split the gradient evenly between the two operands (as JAX does).
    return fnp.where(x > y, g, fnp.where(x == y, g * 0.5, 0))


max_p: Primitive = binary("max", np.maximum,
               lambda g, out, x, y: _max_rule(g, x, y), lambda g, out, x, y: _max_rule(g, y, x))
min_p: Primitive = binary("min", np.minimum,
               lambda g, out, x, y: _max_rule(g, y, x), lambda g, out, x, y: _max_rule(g, x, y))

lt_p: Primitive = compare("lt", np.less)
le_p: Primitive = compare("le", np.less_equal)
gt_p: Primitive = compare("gt", np.greater)
ge_p: Primitive = compare("ge", np.greater_equal)
eq_p: Primitive = compare("eq", np.equal)
ne_p: Primitive = compare("ne", np.not_equal)
and_p: Primitive = compare("and", np.logical_and)
or_p: Primitive = compare("or", np.logical_or)
not_p: Primitive = Primitive("not", np.logical_not, lambda x: compare_shape(x, x), (None,),
                  batch_elementwise)
isfinite_p: Primitive = Primitive("isfinite", np.isfinite, lambda x: compare_shape(x, x), (None,),
                       batch_elementwise)

select_p: Primitive = Primitive(
    "select", np.where, select_shape,
    (None,
     lambda g, out, c, x, y: fnp.where(c, g, 0),
     lambda g, out, c, x, y: fnp.where(c, 0, g)),
    batch_elementwise, complex_rules=True)


def _convert_rule(g: Any, out: Any, x: Any, *, dtype: np.dtype[Any]) -> Any:
    return fnp.astype(g, x.dtype) if x.dtype.kind in "fc" else None


convert_p: Primitive = Primitive(
    "convert_element_type", lambda x, *, dtype: np.asarray(x).astype(dtype),
    lambda x, *, dtype: ShapedArray(x.shape, np.dtype(dtype)), (_convert_rule,),
    batch_elementwise, complex_rules=True)


IDENTITIES = {add_p: ((0, 0.0), (1, 0.0)), sub_p: ((1, 0.0),), mul_p: ((0, 1.0), (1, 1.0)),
              div_p: ((1, 1.0),)}
"""Constant operands that make an equation return its other operand, for jit's simplifier."""
