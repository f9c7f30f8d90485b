"""Cases of the elementwise functions and dtype conversions."""

from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from cases.base import MASK, away_from_zero, case, distinct, normal, uniform


ELEMENTWISE = [
    case("add", fnp.add, np.add, normal(2, 3), normal(2, 3)),
    case("subtract", fnp.subtract, np.subtract, normal(2, 3), normal(2, 3)),
    case("multiply", fnp.multiply, np.multiply, normal(2, 3), normal(2, 3)),
    case("divide", fnp.divide, np.divide, normal(2, 3), away_from_zero(2, 3)),
    case("negative", fnp.negative, np.negative, normal(2, 3)),
    case("power_array", fnp.power, np.power, uniform(0.5, 2.0, 2, 3), uniform(-2, 2, 2, 3)),
    case("power_float_scalar", lambda x: fnp.power(x, 2.5), lambda x: np.power(x, 2.5),
       uniform(0.5, 2.0, 2, 3)),
    case("power_int_3", lambda x: fnp.power(x, 3), lambda x: np.power(x, 3), normal(2, 3)),
    case("power_int_2_operator", lambda x: x ** 2, lambda x: x ** 2, normal(2, 3)),
    case("power_int_neg2", lambda x: fnp.power(x, -2), lambda x: np.power(x, -2.0),
       away_from_zero(2, 3)),
    case("power_int_0", lambda x: fnp.power(x, 0), lambda x: np.power(x, 0), normal(2, 3)),
    case("power_rpow", lambda x: 2.0 ** x, lambda x: 2.0 ** x, normal(2, 3)),
    case("square", fnp.square, np.square, normal(2, 3)),
    case("sqrt", fnp.sqrt, np.sqrt, uniform(0.5, 3.0, 2, 3)),
    case("exp", fnp.exp, np.exp, normal(2, 3)),
    case("log", fnp.log, np.log, uniform(0.5, 3.0, 2, 3)),
    case("log1p", fnp.log1p, np.log1p, uniform(-0.5, 2.0, 2, 3)),
    case("expm1", fnp.expm1, np.expm1, normal(2, 3)),
    case("sin", fnp.sin, np.sin, normal(2, 3)),
    case("cos", fnp.cos, np.cos, normal(2, 3)),
    case("tan", fnp.tan, np.tan, uniform(-1.2, 1.2, 2, 3)),
    case("tanh", fnp.tanh, np.tanh, normal(2, 3)),
    case("abs", fnp.abs, np.abs, away_from_zero(2, 3)),
    case("abs_operator", lambda x: abs(x), np.abs, away_from_zero(2, 3)),
    case("sign", fnp.sign, np.sign, away_from_zero(2, 3)),
    case("maximum", fnp.maximum, np.maximum, distinct(2, 3), distinct(2, 3, offset=0.125)),
    case("minimum", fnp.minimum, np.minimum, distinct(2, 3), distinct(2, 3, offset=0.125)),
    case("maximum_scalar", lambda x: fnp.maximum(x, 0.0), lambda x: np.maximum(x, 0.0),
       away_from_zero(2, 3)),
    case("clip", lambda x: fnp.clip(x, -0.4, 0.6), lambda x: np.clip(x, -0.4, 0.6),
       lambda rng: rng.choice([-1.3, -0.7, -0.1, 0.2, 0.4, 0.9, 1.5], (3, 4))
       + rng.uniform(-0.05, 0.05, (3, 4))),
    case("clip_lower_only", lambda x: fnp.clip(x, 0.0), lambda x: np.clip(x, 0.0, None),
       away_from_zero(2, 3)),
    case("where", lambda x, y: fnp.where(MASK, x, y), lambda x, y: np.where(MASK, x, y),
       normal(2, 3), normal(2, 3)),
    case("where_scalar_branch", lambda x: fnp.where(MASK, x, 0.0),
       lambda x: np.where(MASK, x, 0.0), normal(2, 3)),
]


CASTS = [
    # float64 -> float32 -> float64: the gradient comes back as float64; the float32
    # rounding needs a larger finite-difference step.
    case("astype_f32_roundtrip", lambda x: fnp.astype(fnp.astype(x, np.float32), np.float64),
       lambda x: x.astype(np.float32).astype(np.float64), normal(2, 3),
       eps=1e-2, atol=1e-4, rtol=1e-4, f32=False),
    case("astype_method_same", lambda x: x.astype(x.dtype) * 3.0,
       lambda x: x.astype(x.dtype) * 3.0, normal(2, 3)),
    case("astype_int_is_constant", lambda x: fnp.astype(x * 3.0, np.int64) * x,
       lambda x: (x * 3.0).astype(np.int64) * x, uniform(0.1, 0.9, 2, 3), f32=False),
]
