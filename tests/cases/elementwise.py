"""Cases of the elementwise functions and dtype conversions.

Functions with bool results (comparisons, logical and bitwise operations, isnan, ...) and
the piecewise-constant ones appear inside differentiable expressions. Complex numbers appear
inside real functions of real inputs (z = x + iy, out = [real(f(z)), imag(f(z))]), whose
finite-difference checks hold only if every complex rule follows JAX's convention."""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from cases.base import Gen, MASK, away_from_zero, case, distinct, normal, uniform


def between_integers(*shape: int, step: float = 1.0) -> Gen:
    """Values a tenth of `step` or more from every multiple of step/2: where floor, round
    and mod have no jumps nearby (and round, with step 0.1, to one decimal)."""
    return lambda rng: (rng.integers(-30, 30, shape) + rng.uniform(0.1, 0.4, shape)) * step


def two_sided(lo: float, hi: float, *shape: int) -> Gen:
    """Values with lo <= |x| < hi and random signs."""
    return lambda rng: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def with_zeros(*shape: int) -> Gen:
    """Standard normal values with exact zeros in about half the places."""
    return lambda rng: rng.standard_normal(shape) * (rng.random(shape) < 0.5)


def parts(f: Any) -> Any:
    """x, y -> [real(f(x + iy)), imag(f(x + iy))]: a complex function as a real one."""
    def g(x: Any, y: Any) -> list[Any]:
        w = f(x + 1j * y)
        return [w.real, w.imag]
    return g


# nan, inf and -inf in fixed places: x + SPECIAL and SPECIAL * x have them there too.
SPECIAL = np.array([[np.nan, 1.0, np.inf], [-np.inf, 2.0, 0.0]])


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
    case("sinh", fnp.sinh, np.sinh, normal(2, 3)),
    case("cosh", fnp.cosh, np.cosh, normal(2, 3)),
    case("arcsinh", fnp.arcsinh, np.arcsinh, normal(2, 3)),
    case("arccosh", fnp.arccosh, np.arccosh, uniform(1.2, 3.0, 2, 3)),
    case("arctanh", fnp.arctanh, np.arctanh, uniform(-0.8, 0.8, 2, 3)),
    case("arcsin", fnp.arcsin, np.arcsin, uniform(-0.8, 0.8, 2, 3)),
    case("arccos", fnp.arccos, np.arccos, uniform(-0.8, 0.8, 2, 3)),
    case("arctan", fnp.arctan, np.arctan, normal(2, 3)),
    # y away from 0: off the cut of arctan2 along the negative x axis
    case("arctan2", fnp.arctan2, np.arctan2, away_from_zero(2, 3), normal(2, 3)),
    case("arctan2_scalar", lambda x: fnp.arctan2(1.5, x), lambda x: np.arctan2(1.5, x),
         normal(2, 3)),
    case("hypot", fnp.hypot, np.hypot, away_from_zero(2, 3), normal(2, 3)),
    case("log2", fnp.log2, np.log2, uniform(0.5, 3.0, 2, 3)),
    case("log10", fnp.log10, np.log10, uniform(0.5, 3.0, 2, 3)),
    case("exp2", fnp.exp2, np.exp2, normal(2, 3)),
    case("logaddexp", fnp.logaddexp, np.logaddexp, normal(2, 3), normal(2, 3)),
    case("logaddexp2", fnp.logaddexp2, np.logaddexp2, normal(2, 3), normal(2, 3)),
    case("sinc", fnp.sinc, np.sinc, normal(2, 3)),
    case("sinc_with_zeros", fnp.sinc, np.sinc, with_zeros(2, 3)),
    case("deg2rad", fnp.deg2rad, np.deg2rad, normal(2, 3)),
    case("radians", fnp.radians, np.radians, normal(2, 3)),
    case("rad2deg", fnp.rad2deg, np.rad2deg, normal(2, 3)),
    case("degrees", fnp.degrees, np.degrees, normal(2, 3)),
    case("floor", fnp.floor, np.floor, between_integers(2, 3)),
    case("ceil", fnp.ceil, np.ceil, between_integers(2, 3)),
    case("rint", fnp.rint, np.rint, between_integers(2, 3)),
    case("trunc", fnp.trunc, np.trunc, between_integers(2, 3)),
    case("fix", fnp.fix, np.fix, between_integers(2, 3)),
    case("round", fnp.round, np.round, between_integers(2, 3)),
    case("round_decimals_1", lambda x: fnp.round(x, 1), lambda x: np.round(x, 1),
         between_integers(2, 3, step=0.1)),
    case("around_decimals_neg1", lambda x: fnp.around(x, decimals=-1),
         lambda x: np.around(x, decimals=-1), between_integers(2, 3, step=10.0)),
    case("round_method_times_x", lambda x: x.round(1) * x, lambda x: x.round(1) * x,
         between_integers(2, 3, step=0.1)),
    case("floor_times_x", lambda x: fnp.floor(x) * x, lambda x: np.floor(x) * x,
         between_integers(2, 3)),
    case("fabs", fnp.fabs, np.fabs, away_from_zero(2, 3)),
    case("absolute", fnp.absolute, np.absolute, away_from_zero(2, 3)),
    case("cbrt", fnp.cbrt, np.cbrt, away_from_zero(2, 3)),
    case("reciprocal", fnp.reciprocal, np.reciprocal, away_from_zero(2, 3)),
    # |x / y| in [1.125, 1.86]: quotients 1 and -2 (floor) or -1 (trunc), and no jumps near
    case("mod", fnp.mod, np.mod, two_sided(4.5, 6.5, 2, 3), uniform(3.5, 4.0, 2, 3)),
    case("remainder_negative_divisor", fnp.remainder, np.remainder, two_sided(4.5, 6.5, 2, 3),
         uniform(-4.0, -3.5, 2, 3)),
    case("mod_operator", lambda x, y: x % y, lambda x, y: x % y, two_sided(4.5, 6.5, 2, 3),
         two_sided(3.5, 4.0, 2, 3)),
    case("mod_rmod_scalar", lambda x: 7.5 % x, lambda x: 7.5 % x, uniform(3.9, 4.5, 2, 3)),
    case("fmod", fnp.fmod, np.fmod, two_sided(4.5, 6.5, 2, 3), uniform(3.5, 4.0, 2, 3)),
    case("fmod_negative_divisor", fnp.fmod, np.fmod, two_sided(4.5, 6.5, 2, 3),
         uniform(-4.0, -3.5, 2, 3)),
    case("floor_divide_times_x", lambda x, y: fnp.floor_divide(x, y) * x,
         lambda x, y: np.floor_divide(x, y) * x, two_sided(4.5, 6.5, 2, 3),
         two_sided(3.5, 4.0, 2, 3)),
    # |0.04 / x| < 0.8: the reflected quotient jumps only at x = -0.04, out of range
    case("floordiv_operator", lambda x: (x // 0.5 + 0.04 // x) * x,
         lambda x: (x // 0.5 + 0.04 // x) * x, between_integers(2, 3, step=0.5)),
    case("divmod", lambda x, y: list(fnp.divmod(x, y)), lambda x, y: list(np.divmod(x, y)),
         two_sided(4.5, 6.5, 2, 3), two_sided(3.5, 4.0, 2, 3)),
    case("divmod_builtin", lambda x: list(divmod(x, 0.75)) + list(divmod(0.05, x)),
         lambda x: list(divmod(x, 0.75)) + list(divmod(0.05, x)),
         between_integers(2, 3, step=0.75)),
    case("float_power", fnp.float_power, np.float_power, uniform(0.5, 2.0, 2, 3),
         uniform(-2.0, 2.0, 2, 3), f32=False),
    case("power_float_zero", lambda x: x ** 0.0, lambda x: x ** 0.0, normal(2, 3)),
    case("fmax", fnp.fmax, np.fmax, distinct(2, 3), distinct(2, 3, offset=0.125)),
    case("fmin", fnp.fmin, np.fmin, distinct(2, 3), distinct(2, 3, offset=0.125)),
    case("copysign", fnp.copysign, np.copysign, away_from_zero(2, 3), away_from_zero(2, 3)),
    case("nan_to_num", fnp.nan_to_num, np.nan_to_num, normal(2, 3)),
    case("nan_to_num_of_special_values",
         lambda x: fnp.nan_to_num(x + SPECIAL, nan=-1.0, posinf=3.0, neginf=-2.0) * x,
         lambda x: np.nan_to_num(x + SPECIAL, nan=-1.0, posinf=3.0, neginf=-2.0) * x,
         normal(2, 3), f32=False),  # SPECIAL is float64
    case("clip_min_max_keywords", lambda x: fnp.clip(x, min=-0.5, max=0.5),
         lambda x: np.clip(x, min=-0.5, max=0.5), between_integers(2, 3, step=0.25)),
    case("clip_traced_bounds", lambda x, lo, hi: fnp.clip(x, lo, hi),
         lambda x, lo, hi: np.clip(x, lo, hi), distinct(2, 3), distinct(2, 3, offset=0.125),
         distinct(2, 3, offset=0.0625)),
    case("clip_method", lambda x: x.clip(-0.6, None), lambda x: x.clip(-0.6, None),
         between_integers(2, 3, step=0.25)),
    case("true_divide", fnp.true_divide, np.true_divide, normal(2, 3), away_from_zero(2, 3)),
    case("greater_mask", lambda x: x * (x > 0), lambda x: x * (x > 0), away_from_zero(2, 3)),
    case("less_greater_functions",
         lambda x, y: fnp.where(fnp.less(x, y), x, y) * fnp.greater_equal(x, 0.3)
         + fnp.less_equal(y, x) * fnp.not_equal(x, 0.1) * y,
         lambda x, y: np.where(np.less(x, y), x, y) * np.greater_equal(x, 0.3)
         + np.less_equal(y, x) * np.not_equal(x, 0.1) * y,
         distinct(2, 3), distinct(2, 3, offset=0.125)),
    case("logical_and_or_not",
         lambda x, y: fnp.where(fnp.logical_or(fnp.logical_and(x > 0, y > 0),
                                               fnp.logical_not(x > -1)), x, y),
         lambda x, y: np.where(np.logical_or(np.logical_and(x > 0, y > 0),
                                             np.logical_not(x > -1)), x, y),
         away_from_zero(2, 3), away_from_zero(2, 3)),
    case("equal_selects", lambda x, y: fnp.where(x == fnp.maximum(x, y), x ** 2, y * x),
         lambda x, y: np.where(x == np.maximum(x, y), x ** 2, y * x), distinct(2, 3),
         distinct(2, 3, offset=0.125)),
    case("logical_xor", lambda x, y: fnp.where(fnp.logical_xor(x > 0, y > 0), x, y),
         lambda x, y: np.where(np.logical_xor(x > 0, y > 0), x, y), away_from_zero(2, 3),
         away_from_zero(2, 3)),
    case("bitwise_operators", lambda x, y: fnp.where(((x > 0) & (y > 0)) | ((x < -1) ^ ~(y < 1)),
                                                     x, y),
         lambda x, y: np.where(((x > 0) & (y > 0)) | ((x < -1) ^ ~(y < 1)), x, y),
         away_from_zero(2, 3), away_from_zero(2, 3)),
    case("isnan_isinf_isfinite",
         lambda x: fnp.where(fnp.isnan(x + SPECIAL) | fnp.isinf(SPECIAL * x), 0.0, x * x)
         + x * fnp.isfinite(SPECIAL - x),
         lambda x: np.where(np.isnan(x + SPECIAL) | np.isinf(SPECIAL * x), 0.0, x * x)
         + x * np.isfinite(SPECIAL - x), normal(2, 3)),
    case("signbit", lambda x: x * fnp.signbit(x), lambda x: x * np.signbit(x),
         away_from_zero(2, 3)),
    case("real_imag_conj_of_real", lambda x: fnp.real(x) * 2 + fnp.imag(x) + fnp.conj(x),
         lambda x: np.real(x) * 2 + np.imag(x) + np.conj(x), normal(2, 3)),
    case("angle_of_real", lambda x: fnp.angle(x) + x, lambda x: np.angle(x) + x,
         away_from_zero(2, 3)),
]

# Complex functions as real ones: z = x + iy with y away from 0, off the cuts along the
# real axis (log, sqrt, arcsin, arccos, arctanh, arccosh); arctan and arcsinh (cuts on the
# imaginary axis beyond +-i) take x away from 0 instead.
COMPLEX = [
    case("complex_arithmetic",
         parts(lambda z: (z * fnp.conjugate(z) + z / (z + 2.0) - (-z) * 3.0) ** 2 / z),
         parts(lambda z: (z * np.conj(z) + z / (z + 2.0) - (-z) * 3.0) ** 2 / z),
         normal(2, 3), away_from_zero(2, 3)),
    case("complex_abs_angle_parts",
         lambda x, y: fnp.abs(x + 1j * y) * fnp.angle(x + 1j * y)
         + fnp.real((x + 1j * y) ** 2) * fnp.imag(x - 2j * y),
         lambda x, y: np.abs(x + 1j * y) * np.angle(x + 1j * y)
         + np.real((x + 1j * y) ** 2) * np.imag(x - 2j * y),
         normal(2, 3), away_from_zero(2, 3)),
    case("complex_exp_log_sqrt", parts(lambda z: fnp.exp(z) * fnp.log(z) + fnp.sqrt(z)),
         parts(lambda z: np.exp(z) * np.log(z) + np.sqrt(z)), normal(2, 3),
         away_from_zero(2, 3)),
    case("complex_log2_log10_log1p_expm1_exp2",
         parts(lambda z: fnp.log2(z) + fnp.log10(z) * fnp.log1p(z) + fnp.expm1(z) / fnp.exp2(z)),
         parts(lambda z: np.log2(z) + np.log10(z) * np.log1p(z) + np.expm1(z) / np.exp2(z)),
         normal(2, 3), away_from_zero(2, 3)),
    case("complex_trigonometric",
         parts(lambda z: fnp.sin(z) * fnp.cos(z) + fnp.tan(z) + fnp.tanh(z)),
         parts(lambda z: np.sin(z) * np.cos(z) + np.tan(z) + np.tanh(z)),
         normal(2, 3), uniform(0.3, 1.0, 2, 3)),
    case("complex_hyperbolic_and_inverse",
         parts(lambda z: fnp.sinh(z) + fnp.cosh(z) * fnp.arcsin(z) + fnp.arccos(z)
               + fnp.arctanh(z) * fnp.arccosh(z)),
         parts(lambda z: np.sinh(z) + np.cosh(z) * np.arcsin(z) + np.arccos(z)
               + np.arctanh(z) * np.arccosh(z)),
         normal(2, 3), away_from_zero(2, 3)),
    case("complex_arctan_arcsinh", parts(lambda z: fnp.arctan(z) * fnp.arcsinh(z)),
         parts(lambda z: np.arctan(z) * np.arcsinh(z)), away_from_zero(2, 3), normal(2, 3)),
    case("complex_power_square_reciprocal_sinc",
         parts(lambda z: fnp.power(z, 1.5 - 0.5j) + fnp.square(z) * fnp.reciprocal(z + 3.0)
               + fnp.sinc(z) + 2.0 ** z),
         parts(lambda z: np.power(z, 1.5 - 0.5j) + np.square(z) * np.reciprocal(z + 3.0)
               + np.sinc(z) + 2.0 ** z),
         normal(2, 3), away_from_zero(2, 3)),
    case("complex_nan_to_num_where_astype",
         parts(lambda z: fnp.nan_to_num(z) * fnp.where(MASK, z, 2.0 * z)
               + fnp.astype(fnp.real(z), np.complex128) * 1j),
         parts(lambda z: np.nan_to_num(z) * np.where(MASK, z, 2.0 * z)
               + np.real(z).astype(np.complex128) * 1j),
         normal(2, 3), normal(2, 3), f32=False),
]
ELEMENTWISE += COMPLEX  # (run with the others)


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


# Step points (with exact zeros) for heaviside's second operand, which is picked at zeros.
STEPS = np.array([[-1.0, 0.0, 2.0], [0.0, 3.0, -0.5]])
# Offsets from x: 0 and 1e-9 are close (isclose), 0.5 and 1 are not.
OFFSETS = np.array([[0.0, 1.0, 1e-9], [1.0, 0.0, 0.5]])

# numpy 2's names of the same functions, and the special functions and value tests.
ELEMENTWISE += [
    case("acos", fnp.acos, np.acos, uniform(-0.9, 0.9, 2, 3)),
    case("acosh", fnp.acosh, np.acosh, uniform(1.2, 3.0, 2, 3)),
    case("asin", fnp.asin, np.asin, uniform(-0.9, 0.9, 2, 3)),
    case("asinh", fnp.asinh, np.asinh, normal(2, 3)),
    case("atan", fnp.atan, np.atan, normal(2, 3)),
    case("atan2", fnp.atan2, np.atan2, normal(2, 3), away_from_zero(2, 3)),
    case("atanh", fnp.atanh, np.atanh, uniform(-0.9, 0.9, 2, 3)),
    case("pow", fnp.pow, np.pow, uniform(0.5, 2.0, 2, 3), uniform(-2, 2, 2, 3)),
    case("positive", fnp.positive, np.positive, normal(2, 3)),
    case("bitwise_invert_selects", lambda x: fnp.where(fnp.bitwise_invert(x > 0), x, 2 * x),
         lambda x: np.where(np.bitwise_invert(x > 0), x, 2 * x), away_from_zero(2, 3)),
    case("heaviside_at_steps", lambda h: fnp.heaviside(STEPS.astype(h.dtype), h),
         lambda h: np.heaviside(STEPS.astype(h.dtype), h), normal(2, 3)),
    case("heaviside_times_x", lambda x: fnp.heaviside(x, 0.5) * x,
         lambda x: np.heaviside(x, 0.5) * x, away_from_zero(2, 3)),
    case("i0", fnp.i0, np.i0, uniform(-12.0, 12.0, 2, 4)),
    case("i0_near_zero", fnp.i0, np.i0, uniform(-0.5, 0.5, 2, 3)),
    case("isclose_selects", lambda x: fnp.where(fnp.isclose(x, x + OFFSETS), x, -x),
         lambda x: np.where(np.isclose(x, x + OFFSETS), x, -x), normal(2, 3)),
    case("isclose_equal_nan", lambda x: fnp.where(
        fnp.isclose(x * SPECIAL, x * SPECIAL + OFFSETS, atol=0.6, equal_nan=True), x, -x),
         lambda x: np.where(np.isclose(x * SPECIAL, x * SPECIAL + OFFSETS, atol=0.6,
                                       equal_nan=True), x, -x), uniform(0.5, 2.0, 2, 3)),
    case("isposinf_isneginf_select",
         lambda x: fnp.where(fnp.isposinf(x * SPECIAL), x, 2 * x)
         + fnp.where(fnp.isneginf(x * SPECIAL), 3 * x, x),
         lambda x: np.where(np.isposinf(x * SPECIAL), x, 2 * x)
         + np.where(np.isneginf(x * SPECIAL), 3 * x, x), uniform(0.5, 2.0, 2, 3)),
    case("isreal_iscomplex_select",
         lambda x: fnp.where(fnp.isreal(x + 1j * MASK), x, 2 * x)
         + fnp.where(fnp.iscomplex(x - 1j * MASK), 3 * x, x) * fnp.where(fnp.isreal(x), x, -x),
         lambda x: np.where(np.isreal(x + 1j * MASK), x, 2 * x)
         + np.where(np.iscomplex(x - 1j * MASK), 3 * x, x) * np.where(np.isreal(x), x, -x),
         normal(2, 3)),
]

# inquiries on dtypes, and real_if_close of real values (complex ones need known values:
# tests/test_numpy_rest.py)
ELEMENTWISE += [
    case("isrealobj_iscomplexobj_isscalar_branch",
         lambda x: x * 2.0 if fnp.isrealobj(x) and not fnp.iscomplexobj(x)
         and not fnp.isscalar(x) else x,
         lambda x: x * 2.0 if np.isrealobj(x) and not np.iscomplexobj(x)
         and not np.isscalar(x) else x, normal(2, 3)),
    case("real_if_close_of_real", lambda x: fnp.real_if_close(x) * x,
         lambda x: np.real_if_close(x) * x, normal(2, 3)),
]
