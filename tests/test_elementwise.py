"""Tests of the elementwise functions beyond the shared table (tests/cases/elementwise.py).

* complex numbers: gradients of real functions of complex inputs against the numbers JAX
  gives and against finite differences along the real and imaginary directions; the
  primitives with no complex derivative refuse, while their values still work;
* special points: x ** 0.0 at 0, clip at its bounds, sinc at 0, fmax/fmin ties and nans,
  nan_to_num, the remainder's quotient, logaddexp at infinities, arctan2 and hypot at the
  origin;
* zero gradients of comparisons, piecewise-constant functions and integer conversions,
  under grad, jvp, jit, make_graph and vmap;
* numpy's dtypes for integer, bool and float32 inputs (Python scalars weak), the Tracer
  operators, numpy's ufuncs given a tracer, where(condition) and the errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import ConcretizationError, grad, jit, jvp, make_graph, vjp, vmap

NDArray = np.ndarray[Any, Any]


def graph_value(f: Callable[..., Any], *args: Any) -> Any:
    """f evaluated through its traced graph (abstract tracing: dtypes from shape rules)."""
    graph = make_graph(f)(*args)
    return graph(*args), [v.aval.dtype for v in graph.outvars]


# ---------------------------------------------------------------------------- complex numbers

Z0 = 0.7 + 0.4j

# jax.grad(f)(0.7 + 0.4j) for each f (the same function written with jax.numpy), computed
# with JAX 0.10.2 in float64: JAX's values for these inputs.
JAX_GRADS: list[tuple[str, Callable[[Any], Any], complex]] = [
    ("abs_sq", lambda z: fnp.abs(z) ** 2, 1.4 - 0.8j),
    ("real_exp", lambda z: fnp.real(fnp.exp(z)), 1.8547890704187584 + 0.7841922411627098j),
    ("imag_log", lambda z: fnp.imag(fnp.log(z)), -0.6153846153846154 - 1.0769230769230769j),
    ("abs_sqrt", lambda z: fnp.abs(fnp.sqrt(z)), 0.4834850246217646 - 0.2762771569267227j),
    ("real_sin_cos", lambda z: fnp.real(fnp.sin(z) * fnp.cos(z)),
     0.22731999663837188 - 0.8751838003479293j),
    ("imag_tan", lambda z: fnp.imag(fnp.tan(z)), 0.7703197632672698 - 1.080263196014142j),
    ("abs_tanh", lambda z: fnp.abs(fnp.tanh(z)), 0.45791534687408664 - 0.5325424061320978j),
    ("real_pow_float", lambda z: fnp.real(z ** 2.5), 1.2882240120115531 + 1.271129853761268j),
    ("real_pow_complex", lambda z: fnp.real(z ** (1.0 + 1.0j)),
     0.7084543170968385 + 0.45410363971887646j),
    ("imag_square_reciprocal", lambda z: fnp.imag(fnp.square(z) + fnp.reciprocal(z)),
     2.125443786982249 - 0.6189349112426035j),
    ("real_div_sub_neg", lambda z: fnp.real(-z / (2.0 - z)),
     -0.8940832724616508 - 0.6077428780131483j),
    ("real_conj_mul", lambda z: fnp.real(fnp.conj(z) * z ** 2), 1.63 - 0.56j),
    ("angle", fnp.angle, -0.6153846153846154 - 1.0769230769230769j),
    ("real_arcsin_arccos", lambda z: fnp.real(fnp.arcsin(z) * fnp.arccos(z)),
     0.5852476820273358 - 0.9065808208878423j),
    ("imag_arctan_arcsinh", lambda z: fnp.imag(fnp.arctan(z) + fnp.arcsinh(z)),
     -0.4336853929817354 - 1.454625556875884j),
    ("real_arccosh_arctanh", lambda z: fnp.real(fnp.arccosh(z + 1.0) * fnp.arctanh(z)),
     1.350999461807986 + 1.3354793707723525j),
    ("imag_logs", lambda z: fnp.imag(fnp.log2(z) + fnp.log10(z) * fnp.log1p(z)),
     -0.7908106746112062 - 1.8536392062463376j),
    ("real_expm1_exp2", lambda z: fnp.real(fnp.expm1(z) * fnp.exp2(z)),
     3.233394068156338 + 3.1627747274203752j),
    ("abs_sinh_cosh", lambda z: fnp.abs(fnp.sinh(z) + fnp.cosh(z) * 1j),
     1.1244156037150361 - 0.41137807989217046j),
    ("real_sinc", lambda z: fnp.real(fnp.sinc(z)), -1.9875196648551217 + 0.164454121545122j),
    ("imag_nan_to_num", lambda z: fnp.imag(fnp.nan_to_num(z) * (2 - 1j)), -1 - 2j),
    ("real_z_conj_z", lambda z: fnp.real(z * fnp.conj(z)), 1.4 - 0.8j),
]


def fd_grad(f: Callable[[Any], Any], z: complex, h: float = 1e-6) -> complex:
    """df/dx - i df/dy by central differences: the gradient of real f in JAX's convention."""
    dx = (float(f(z + h)) - float(f(z - h))) / (2 * h)
    dy = (float(f(z + 1j * h)) - float(f(z - 1j * h))) / (2 * h)
    return complex(dx, -dy)


@pytest.mark.parametrize("f,expected", [pytest.param(f, e, id=n) for n, f, e in JAX_GRADS])
def test_complex_gradients_are_jaxs_and_finite_differences(f: Callable[[Any], Any],
                                                           expected: complex) -> None:
    g = grad(f)(Z0)
    assert np.result_type(g) == np.complex128
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g, fd_grad(f, Z0), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(jit(grad(f))(Z0), expected, rtol=1e-12, atol=1e-14)


def test_complex_gradients_of_the_brief() -> None:
    assert grad(lambda z: fnp.abs(z) ** 2)(3 + 4j) == 6 - 8j
    z = np.array([1.5 - 0.5j, -2.0 + 0.25j, 0.0 + 3.0j])
    g = grad(lambda z: fnp.sum(fnp.real(z * fnp.conj(z))))(z)
    np.testing.assert_array_equal(g, 2 * np.conj(z))
    # abs at 0 has gradient 0 (JAX's), and abs's rule differentiates again: JAX gives
    # 0.128 + 0.096j for grad of real(grad(abs)) at 3 + 4j.
    assert grad(fnp.abs)(0j) == 0
    np.testing.assert_allclose(grad(lambda z: fnp.real(grad(fnp.abs)(z)))(3 + 4j),
                               0.128 + 0.096j, rtol=1e-12)


def test_complex_gradients_of_two_arguments() -> None:
    # JAX: (-0.887573964497042 + 0.8698224852071013j, 1.7769230769230768 + 1.0153846153846153j)
    def f(z: Any, w: Any) -> Any:
        return fnp.real(z * w + fnp.conj(w) / z)

    gz, gw = grad(f, argnums=(0, 1))(Z0, 2 - 1j)
    np.testing.assert_allclose(gz, -0.887573964497042 + 0.8698224852071013j, rtol=1e-12)
    np.testing.assert_allclose(gw, 1.7769230769230768 + 1.0153846153846153j, rtol=1e-12)


def test_arccosh_left_half_plane_follows_numpys_branch() -> None:
    # For Re z < 0 JAX's gradient of arccosh has the opposite sign of the derivative of the
    # function it (and numpy) computes; funcgrad's agrees with finite differences.
    z = -0.7 + 0.4j
    for part in (fnp.real, fnp.imag):
        def f(z: Any, part: Any = part) -> Any:
            return part(fnp.arccosh(z))
        np.testing.assert_allclose(grad(f)(z), fd_grad(f, z), rtol=1e-7)


def test_complex64_stays_complex64_and_real_parts_float32() -> None:
    z = np.array([0.5 + 1.0j, -1.0 + 0.5j], np.complex64)

    def f(z: Any) -> Any:
        return fnp.sum(fnp.abs(fnp.exp(z) * 2.0 + fnp.conj(z) * 1j) + fnp.angle(z))

    out, g = funcgrad.value_and_grad(f)(z)
    assert out.dtype == np.float32 and g.dtype == np.complex64
    g64 = grad(f)(z.astype(np.complex128))
    np.testing.assert_allclose(g, g64, rtol=1e-5)
    assert fnp.abs(z).dtype == np.float32
    (abs_dtype,) = graph_value(fnp.abs, z)[1]
    assert abs_dtype == np.float32  # the graph knows |z| is real


def test_real_input_made_complex_gets_the_real_part_of_the_cotangent() -> None:
    x = np.array([0.3, -1.2])
    g = grad(lambda x: fnp.sum(fnp.imag(fnp.exp(1j * x)) + fnp.real(x * (2 - 3j))))(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.cos(x) + 2.0, rtol=1e-14)


REFUSING = [("max", fnp.maximum), ("min", fnp.minimum), ("fmax", fnp.fmax),
            ("fmin", fnp.fmin)]


@pytest.mark.parametrize("name,fn", REFUSING, ids=[n for n, _ in REFUSING])
def test_no_complex_derivative_is_refused_but_values_work(name: str, fn: Any) -> None:
    z = np.array([1 + 2j, 3 - 1j, -1 + 0j])
    w = np.array([1 + 3j, 2 + 5j, -1 + 0j])
    with pytest.raises(TypeError, match=f"the derivative of '{name}' is not defined for "
                                        r"complex values \(it met c128\[3\]\)"):
        grad(lambda z: fnp.sum(fnp.real(fn(z, w))))(z)
    expected = getattr(np, {"max": "maximum", "min": "minimum"}.get(name, name))(z, w)
    np.testing.assert_array_equal(fn(z, w), expected)
    np.testing.assert_array_equal(jit(fn)(z, w), expected)
    np.testing.assert_array_equal(vmap(fn)(z, w), expected)
    value, dtypes = graph_value(fn, z, w)
    np.testing.assert_array_equal(value, expected)
    assert dtypes == [np.complex128]
    # a complex value that does not depend on the differentiated input is fine
    assert grad(lambda x: x * fnp.real(fn(z, w)[0]))(2.0) == expected[0].real


def test_functions_numpy_refuses_for_complex_are_refused_while_tracing() -> None:
    z = np.array([1 + 2j])
    for name in ("floor", "cbrt", "fabs", "deg2rad"):
        fn = getattr(fnp, name)
        with pytest.raises(TypeError, match="not supported for the input types"):
            fn(z)
        with pytest.raises(TypeError, match=f"{name} is not defined for complex128 operands"):
            make_graph(fn)(z)
    with pytest.raises(TypeError, match=r"mod is not defined for complex128 operands .*"
                                        r"test_elementwise\.py"):
        make_graph(lambda z: z % 2)(z)


def test_complex_values_of_rounding_and_sign() -> None:
    z = np.array([1.26 - 2.5j, -0.4 + 3.5j])
    for f, ref in ((fnp.round, np.round), (fnp.rint, np.rint), (fnp.sign, np.sign),
                   (lambda z: fnp.round(z, 1), lambda z: np.round(z, 1))):
        np.testing.assert_array_equal(jit(f)(z), ref(z))
    # zero gradient (as JAX's sign, also for complex z)
    np.testing.assert_array_equal(grad(lambda z: fnp.sum(fnp.real(fnp.sign(z) * z)))(z),
                                  np.sign(z))


# ---------------------------------------------------------------------------- special points


def test_power_zero_exponent_has_zero_gradient_at_zero() -> None:
    x = np.array([0.0, 2.0, -1.5])
    for dtype in (np.float64, np.float32):
        g = grad(lambda x: fnp.sum(x ** 0.0))(x.astype(dtype))
        np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
        assert g.dtype == dtype
    assert grad(grad(lambda x: x ** 0.0))(0.0) == 0.0
    assert grad(lambda x: fnp.float_power(x, 0.0))(0.0) == 0.0
    # with a traced exponent: d/dx at y == 0 is 0; d/dy 0 ** y at 0 is 0 (as JAX)
    gx, gy = grad(lambda x, y: x ** y, argnums=(0, 1))(0.0, 0.0)
    assert (gx, gy) == (0.0, 0.0)
    assert grad(lambda y: 0.0 ** y)(2.0) == 0.0
    assert grad(lambda x: x ** 2.0)(0.0) == 0.0
    assert grad(grad(lambda x: x ** 2.0))(0.0) == 2.0


def test_clip_at_its_bounds_as_jax() -> None:
    # JAX: 0.5 at either bound, shared with the bound when it is traced
    x = np.array([-1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(fnp.clip(x, -1.0, 1.0)))(x),
                                  [0.5, 1.0, 0.5, 0.0])
    gx, lo, hi = grad(lambda x, a, b: fnp.clip(x, a, b), argnums=(0, 1, 2))(1.0, -1.0, 1.0)
    assert (gx, lo, hi) == (0.5, 0.0, 0.5)
    with pytest.raises(ValueError, match="clip: both a_min and its keyword form"):
        fnp.clip(x, 0.0, min=1.0)


def test_sinc_at_zero_to_fourth_order_as_jax() -> None:
    derivatives = []
    f: Callable[[Any], Any] = fnp.sinc
    for _ in range(4):
        f = grad(f)
        derivatives.append(float(f(0.0)))
    # JAX: 0, -pi^2/3, 0, pi^4/5
    np.testing.assert_allclose(derivatives, [0.0, -np.pi ** 2 / 3, 0.0, np.pi ** 4 / 5],
                               rtol=1e-14)
    assert fnp.sinc(np.float32(0)).dtype == np.float32
    assert grad(fnp.sinc)(np.float32(0)).dtype == np.float32


def test_fmax_fmin_ties_and_nans_as_jax() -> None:
    nan = np.nan
    for fn in (fnp.fmax, fnp.fmin):
        gx, gy = grad(lambda x, y: fnp.sum(fn(x, y)), argnums=(0, 1))(
            np.array([1.0, 1.0, nan]), np.array([1.0, nan, 2.0]))
        np.testing.assert_array_equal(gx, [0.0, 1.0, 0.0])  # ties go to y
        np.testing.assert_array_equal(gy, [1.0, 0.0, 1.0])
        np.testing.assert_array_equal(fn(np.array([nan, 1.0]), np.array([2.0, nan])), [2.0, 1.0])


def test_nan_to_num_passes_the_gradient_where_values_are_kept() -> None:
    x = np.array([1.5, np.nan, np.inf, -np.inf])
    g = grad(lambda x: fnp.sum(fnp.nan_to_num(x, posinf=5.0) * 0.5))(x)
    np.testing.assert_array_equal(g, [0.5, 0.0, 0.0, 0.0])
    # complex parts are replaced separately; JAX gives -1j here (with any posinf)
    g = grad(lambda z: fnp.real(fnp.nan_to_num(z, posinf=5.0) * (2 - 1j)))(complex(np.inf, 2.0))
    assert g == -1j
    i = np.array([1, 2])
    np.testing.assert_array_equal(jit(fnp.nan_to_num)(i), i)


def test_remainder_gradients_use_the_quotient_numpy_used() -> None:
    gx, gy = grad(lambda x, y: fnp.mod(x, y), argnums=(0, 1))(7.5, -2.0)
    assert (gx, gy) == (1.0, 4.0)  # mod(7.5, -2) = 7.5 - (-4)(-2): as JAX
    gx, gy = grad(lambda x, y: fnp.fmod(x, y), argnums=(0, 1))(7.5, -2.0)
    assert (gx, gy) == (1.0, 3.0)  # fmod(7.5, -2) = 7.5 - (-3)(-2): as JAX
    # 1 / 0.1 rounds to 10, but numpy's remainder 0.0999... is 1 - 9 * 0.1: d/dy is -9 (JAX,
    # which divides again, says -10, the other side of the jump)
    assert grad(lambda y: fnp.mod(1.0, y))(0.1) == -9.0
    assert grad(lambda y: fnp.fmod(1.0, y))(0.1) == -9.0
    assert grad(lambda y: fnp.divmod(1.0, y)[1])(0.1) == -9.0


def test_logaddexp_at_infinities() -> None:
    inf = np.inf
    for fn in (fnp.logaddexp, fnp.logaddexp2):
        gx, gy = grad(lambda x, y: fnp.sum(fn(x, y)), argnums=(0, 1))(
            np.array([inf, -inf, 1.0, 3.0]), np.array([1.0, 1.0, 1.0, -inf]))
        np.testing.assert_array_equal(gx, [1.0, 0.0, 0.5, 1.0])
        np.testing.assert_array_equal(gy, [0.0, 1.0, 0.5, 0.0])


def test_arctan2_hypot_copysign_cbrt_at_zero() -> None:
    # arctan2 at the origin: nan, as JAX; hypot: 0 there, as abs'(0) (JAX: 0.5 each)
    with np.errstate(invalid="ignore"):
        gy, gx = grad(fnp.arctan2, argnums=(0, 1))(0.0, 0.0)
    assert np.isnan(gy) and np.isnan(gx)
    assert grad(fnp.hypot, argnums=(0, 1))(0.0, 0.0) == (0.0, 0.0)
    assert grad(fnp.hypot, argnums=(0, 1))(3.0, 4.0) == (0.6, 0.8)
    # copysign: sign(x) times y's sign, 0 at x == 0 as abs'(0); nothing for y
    gx, gy = grad(lambda x, y: fnp.sum(fnp.copysign(x, y)), argnums=(0, 1))(
        np.array([2.0, -2.0, 0.0, 3.0]), np.array([-1.0, -1.0, 1.0, -0.0]))
    np.testing.assert_array_equal(gx, [-1.0, 1.0, 0.0, -1.0])
    np.testing.assert_array_equal(gy, [0.0, 0.0, 0.0, 0.0])
    with np.errstate(divide="ignore"):
        assert grad(fnp.cbrt)(0.0) == np.inf  # as JAX
    assert grad(fnp.cbrt)(-8.0) == pytest.approx(1 / 12, rel=1e-15)


# ---------------------------------------------------------------------------- zero gradients

PIECEWISE_CONSTANT: list[tuple[str, Callable[[Any], Any]]] = [
    ("floor", fnp.floor), ("ceil", fnp.ceil), ("round", fnp.round),
    ("round_2", lambda x: fnp.round(x, 2)), ("around", fnp.around), ("rint", fnp.rint),
    ("trunc", fnp.trunc), ("fix", fnp.fix), ("sign", fnp.sign),
    ("floor_divide", lambda x: fnp.floor_divide(x, 0.3)), ("floordiv", lambda x: 2.0 // (x + 9.0)),
    ("divmod_quotient", lambda x: divmod(x, 0.7)[0]), ("round_method", lambda x: x.round(1)),
]


@pytest.mark.parametrize("fn", [pytest.param(f, id=n) for n, f in PIECEWISE_CONSTANT])
def test_piecewise_constant_functions_have_zero_gradient(fn: Callable[[Any], Any]) -> None:
    x = np.array([-1.37, 0.0, 0.52, 2.5, 3.0])
    for dtype in (np.float64, np.float32):
        xd = x.astype(dtype)
        g = grad(lambda x: fnp.sum(fn(x) * 3.0))(xd)
        np.testing.assert_array_equal(g, np.zeros(5))
        assert g.dtype == dtype
        _, tangent = jvp(fn, (xd,), (np.ones(5, dtype),))
        np.testing.assert_array_equal(tangent, np.zeros(5))
    g = jit(grad(lambda x: fnp.sum(fn(x) * x)))(x)  # product rule: only fn(x) survives
    np.testing.assert_allclose(g, np.asarray(fn(x)), rtol=1e-15)


COMPARISONS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("x * (x > 0)", lambda x, y: fnp.sum(x * (x > 0))),
    ("(x >= y) * y", lambda x, y: fnp.sum((x >= y) * y)),
    ("where(x == y)", lambda x, y: fnp.sum(fnp.where(x == y, x * y, 2.0 * x))),
    ("where(x != y)", lambda x, y: fnp.sum(fnp.where(x != y, y, x ** 2))),
    ("x < y as float", lambda x, y: fnp.sum((x < y).astype(x.dtype) * x + (x <= y) + y)),
    ("logical", lambda x, y: fnp.sum(fnp.where(fnp.logical_xor(x > 0, ~(y > 0)) & (x < 3), x, y))),
    ("astype int", lambda x, y: fnp.sum((x * 0.9).astype(int) * y
                                        + (x * 1.3 + 0.2).astype(np.int32) * x)),
]


@pytest.mark.parametrize("f", [pytest.param(f, id=n) for n, f in COMPARISONS])
def test_gradients_through_comparisons_are_right_under_every_transformation(
        f: Callable[[Any, Any], Any]) -> None:
    x = np.array([-1.0, 0.5, 2.0, 1.0])
    y = np.array([-1.0, 1.0, 2.0, 0.25])
    for dtype, tol in ((np.float64, 1e-6), (np.float32, 2e-2)):
        xd, yd = x.astype(dtype), y.astype(dtype)
        gx, gy = grad(f, argnums=(0, 1))(xd, yd)
        assert gx.dtype == gy.dtype == dtype
        # finite differences away from the ties (where the comparisons jump)
        for i in np.flatnonzero(x != y):
            e = np.zeros(4, dtype)
            e[i] = 1e-3
            np.testing.assert_allclose(gx[i], (f(xd + e, yd) - f(xd - e, yd)) / 2e-3, atol=tol)
            np.testing.assert_allclose(gy[i], (f(xd, yd + e) - f(xd, yd - e)) / 2e-3, atol=tol)
        through_graph: Callable[..., Any] = lambda x, y: make_graph(  # noqa: E731
            grad(f, argnums=(0, 1)))(x, y)(x, y)
        for transformed in (jit(grad(f, argnums=(0, 1))), through_graph,
                            grad(jit(f), argnums=(0, 1))):
            tx, ty = transformed(xd, yd)
            np.testing.assert_array_equal(tx, gx)
            np.testing.assert_array_equal(ty, gy)
        vx = vmap(grad(f), in_axes=(0, None))(np.stack([xd, xd]), yd)
        np.testing.assert_array_equal(vx, [gx, gx])


def test_where_equal_at_the_ties_takes_the_branch_it_selects() -> None:
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    y = np.array([-1.0, 1.0, 2.0], np.float32)
    gx, gy = grad(lambda x, y: fnp.sum(fnp.where(x == y, x * y, 2.0 * x)), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [-1.0, 2.0, 2.0])  # y at the ties, 2 elsewhere
    np.testing.assert_array_equal(gy, [-1.0, 0.0, 2.0])  # x at the ties
    assert gx.dtype == gy.dtype == np.float32


def test_astype_int_under_grad_is_an_integer_constant() -> None:
    x = np.array([1.7, -2.2, 0.4])

    def f(x: Any) -> Any:
        i = x.astype(int)
        assert i.dtype == np.int64
        return fnp.sum(i * x)

    np.testing.assert_array_equal(grad(f)(x), [1.0, -2.0, 0.0])
    np.testing.assert_array_equal(jit(grad(f))(x), [1.0, -2.0, 0.0])
    value, dtypes = graph_value(lambda x: x.astype(int), x)
    np.testing.assert_array_equal(value, [1, -2, 0])
    assert dtypes == [np.int64]


def test_comparisons_and_tests_give_bools() -> None:
    x = np.array([-1.0, np.nan, np.inf, -0.0])
    tests: list[Callable[[Any], Any]] = [fnp.isnan, fnp.isinf, fnp.isfinite, fnp.signbit,
                                         lambda x: x > 0, lambda x: fnp.logical_not(x < 0)]
    for f in tests:
        value, dtypes = graph_value(f, x)
        np.testing.assert_array_equal(value, f(x))
        assert dtypes == [np.bool_]
    np.testing.assert_array_equal(fnp.signbit(x), [True, False, False, True])


# ---------------------------------------------------------------------------- dtypes


INTEGER_INPUTS: list[tuple[str, int]] = [
    (n, 1) for n in ("floor", "ceil", "trunc", "fix", "rint", "round", "sign", "abs", "fabs",
                     "square", "reciprocal", "cbrt", "sinh", "arctan", "exp2",
                     "deg2rad", "sinc", "isnan", "signbit", "real", "imag", "conj", "angle",
                     "nan_to_num", "invert")
] + [(n, 2) for n in ("mod", "fmod", "floor_divide", "divide", "power", "float_power", "fmax",
                      "fmin", "arctan2", "hypot", "copysign", "logaddexp", "bitwise_and",
                      "bitwise_xor", "logical_xor")]


@pytest.mark.parametrize("name,arity", INTEGER_INPUTS, ids=[n for n, _ in INTEGER_INPUTS])
def test_integer_inputs_give_numpys_values_and_dtypes(name: str, arity: int) -> None:
    fn = getattr(fnp, name)
    args = (np.array([3, -2, 5, 7]), np.array([2, 3, 4, 2]))[:arity]
    expected = np.asarray(getattr(np, name)(*args))
    value, dtypes = graph_value(fn, *args)
    np.testing.assert_array_equal(value, expected)
    assert value.dtype == expected.dtype and dtypes == [expected.dtype]


SCALAR_EXPRESSIONS: list[tuple[str, Callable[[Any], Any]]] = [
    ("x % 2.0", lambda x: x % 2.0),
    ("3 % x", lambda x: 3 % x),
    ("x // 2", lambda x: x // 2),
    ("fmod(x, 1.5)", lambda x: fnp.fmod(x, 1.5)),
    ("arctan2(x, 1)", lambda x: fnp.arctan2(x, 1)),
    ("arctan2(1.0, x)", lambda x: fnp.arctan2(1.0, x)),
    ("hypot(x, 3)", lambda x: fnp.hypot(x, 3)),
    ("logaddexp(x, 0.0)", lambda x: fnp.logaddexp(x, 0.0)),
    ("copysign(x, -1)", lambda x: fnp.copysign(x, -1)),
    ("fmax(x, 0.5)", lambda x: fnp.fmax(x, 0.5)),
    ("clip(x, min=0)", lambda x: fnp.clip(x, min=0)),
    ("float_power(x, 2)", lambda x: fnp.float_power(x, 2)),
    ("x ** 0.0", lambda x: x ** 0.0),
    ("round(x, 1)", lambda x: fnp.round(x, 1) * x),
    ("angle(x * 1j)", lambda x: fnp.angle(x * 1j)),
    ("abs(x + 2j)", lambda x: fnp.abs(x + 2j)),
    ("real(exp(1j * x))", lambda x: fnp.real(fnp.exp(1j * x))),
    ("nan_to_num(x, nan=1)", lambda x: fnp.nan_to_num(x, nan=1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,expr", SCALAR_EXPRESSIONS, ids=[n for n, _ in SCALAR_EXPRESSIONS])
def test_python_scalars_are_weak(name: str, expr: Callable[[Any], Any], dtype: Any) -> None:
    """float32 stays float32 beside Python scalars (float_power gives float64, as numpy's),
    also in the graph; the gradient has the input's dtype."""
    x = np.array([0.5, 2.0], dtype)
    expected = np.asarray(expr(x))
    assert expected.dtype == (np.float64 if name.startswith("float_power") else dtype)
    out, pullback = vjp(expr, x)
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert graph_value(expr, x)[1] == [expected.dtype]
    (g,) = pullback(np.ones(out.shape, out.dtype))
    assert g.dtype == dtype


# ---------------------------------------------------------------------------- operators, ufuncs


def test_tracer_operators_follow_numpy() -> None:
    x = np.array([5.5, -3.25, 7.0])
    y = np.array([2.0, 1.5, -4.0])
    b = np.array([True, False, True])
    c = np.array([True, True, False])
    i = np.array([6, 3, -2])
    exprs: list[Callable[..., Any]] = [
        lambda x, y: x % y, lambda x, y: 2.5 % x, lambda x, y: x // y, lambda x, y: 7 // y,
        lambda x, y: divmod(x, y)[0] + divmod(x, y)[1], lambda x, y: divmod(1.5, y)[1],
        lambda x, y: abs(x) + y.round(), lambda x, y: x.real + y.imag + x.conj() * y.conjugate(),
        lambda x, y: x.clip(min=-1.0, max=6.0), lambda x, y: x.round(1) * y,
    ]
    for f in exprs:
        np.testing.assert_array_equal(graph_value(f, x, y)[0], f(x, y))
        np.testing.assert_allclose(vjp(f, x, y)[0], f(x, y))
    bool_exprs: list[Callable[..., Any]] = [
        lambda b, c: ~b, lambda b, c: b & c, lambda b, c: b | c, lambda b, c: b ^ c,
        lambda b, c: True & b, lambda b, c: False | c, lambda b, c: True ^ c]
    for f in bool_exprs:
        value, dtypes = graph_value(f, b, c)
        np.testing.assert_array_equal(value, f(b, c))
        assert dtypes == [np.bool_]
    value, dtypes = graph_value(lambda i: ~i & 5 | (i ^ 3), i)
    np.testing.assert_array_equal(value, ~i & 5 | (i ^ 3))
    with pytest.raises(TypeError, match="invert is not defined for float64 operands"):
        make_graph(lambda x: ~x)(x)
    with pytest.raises(TypeError, match="bitwise_and is not defined for float64"):
        make_graph(lambda x: x & x)(x)
    with pytest.raises(TypeError, match="'invert' not supported"):
        grad(lambda x: fnp.sum(~x))(x)


UFUNCS: list[tuple[str, int]] = [
    (n, 1) for n in ("sinh", "cosh", "arcsinh", "arctan", "exp2", "log2", "log10", "deg2rad",
                     "radians", "rad2deg", "degrees", "floor", "ceil", "rint", "trunc", "fabs",
                     "sign", "absolute", "square", "cbrt", "reciprocal", "conjugate", "isnan",
                     "isinf", "isfinite", "signbit")
] + [(n, 2) for n in ("arctan2", "hypot", "logaddexp", "logaddexp2", "mod", "remainder",
                      "fmod", "floor_divide", "true_divide", "float_power", "fmax", "fmin",
                      "copysign", "less", "equal", "logical_xor", "divmod")]


@pytest.mark.parametrize("name,arity", UFUNCS, ids=[n for n, _ in UFUNCS])
def test_numpys_ufuncs_given_a_tracer_run_funcgrads(name: str, arity: int) -> None:
    x = np.array([1.25, 2.5, 3.75])
    args = (x, x[::-1])[:arity]
    ufunc = getattr(np, name)
    expected = ufunc(*args)
    out, _ = vjp(lambda *a: ufunc(*a), *args)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))
    graph = make_graph(lambda *a: ufunc(*a))(*args)
    others = tuple(a * 2.0 + 0.5 for a in args)  # the graph computes, it holds no constant
    np.testing.assert_array_equal(np.asarray(graph(*others)), np.asarray(ufunc(*others)))


def test_numpys_other_functions_given_a_tracer_run_funcgrads() -> None:
    x = np.array([1.26, -2.5, 3.75])
    for f in (lambda x: np.round(x, 1), lambda x: np.around(x), lambda x: np.clip(x, 0, 2),
              lambda x: np.real(x) + np.imag(x), lambda x: np.conj(x),
              lambda x: np.clip(x, max=1.0), lambda x: np.angle(x * 1j - 1, deg=True),
              lambda x: np.sinc(x), lambda x: np.fix(x), lambda x: np.where(x > 0, x, 0.0),
              lambda x: np.nan_to_num(x * np.array([-np.inf, 1.0, np.nan]), neginf=-9.0)):
        np.testing.assert_array_equal(graph_value(f, x)[0], f(x))
    g = grad(lambda x: np.sum(np.clip(np.sin(x), -0.5, 0.5) * np.floor(x)))(x)
    np.testing.assert_allclose(g, np.where(np.abs(np.sin(x)) < 0.5, np.cos(x), 0) * np.floor(x))


# ---------------------------------------------------------------------------- where(condition)


def test_where_with_the_condition_alone_is_nonzero_of_known_values() -> None:
    c = np.array([[True, False], [False, True]])
    for got, want in zip(fnp.where(c), np.where(c)):
        np.testing.assert_array_equal(got, want)
    x = np.array([0.5, -1.0, 2.0])

    def f(x: Any) -> Any:
        (idx,) = fnp.where(x > 0)
        (nonzero,) = fnp.where(x)  # a float tracer: its known value under grad
        assert len(nonzero) == 3
        return fnp.sum(x[idx] ** 2)

    np.testing.assert_array_equal(grad(f)(x), [1.0, 0.0, 4.0])
    for transform in (jit, make_graph, vmap):
        with pytest.raises(ConcretizationError,
                           match=r"where\(condition\) with one argument gives index arrays "
                                 r"whose length depends on the values.*test_elementwise\.py"):
            transform(f)(x)
    with pytest.raises(ValueError, match="where: give both x and y, or neither"):
        fnp.where(x > 0, x)  # type: ignore[call-overload]  # the mistake under test


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("operands", ["arrays", "zero", "negative zero", "scalar first",
                                      "nan scalar"])
@pytest.mark.parametrize("size", [10, 5000])
def test_select_kernel_is_numpys_where_bit_for_bit(dtype: Any, operands: str,
                                                   size: int) -> None:
    # select runs on bit masks for large float arrays; np.where is its reference
    from funcgrad.primitives.elementwise import _select

    rng = np.random.default_rng(size)
    x, y = (rng.standard_normal(size).astype(dtype) for _ in range(2))
    x[:4], y[:4] = [np.nan, -0.0, np.inf, -np.inf], [-np.inf, np.nan, 0.0, -0.0]
    c = rng.random(size) > 0.5
    a, b = {"arrays": (x, y), "zero": (x, dtype(0)), "negative zero": (x, dtype(-0.0)),
            "scalar first": (dtype(2.5), y), "nan scalar": (x, dtype(np.nan))}[operands]
    expected = np.where(c, a, b)
    got = _select(c, a, b)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
    # into out=, which jit may make one of the operands that dies there
    for into in ("fresh", "x", "y"):
        a2, b2 = np.array(a), np.array(b)
        out = {"fresh": np.empty_like(expected), "x": a2, "y": b2}[into]
        if out.shape != expected.shape:
            continue
        assert _select(c, a2, b2, out=out) is out
        assert out.tobytes() == expected.tobytes()
