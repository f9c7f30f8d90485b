"""Tests for funcgrad.autodiff: grad, value_and_grad and vjp.

argnums, has_aux, pytrees in and out, zeros for unused inputs, Python control flow on
values, higher orders against known derivatives, perturbation confusion, stop_gradient and
the policy at non-smooth points.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any, NamedTuple

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import grad, tree, value_and_grad, vjp
from funcgrad.testing import check_grads


class Params(NamedTuple):
    w: Any
    b: Any


Pair = namedtuple("Pair", ["left", "right"])


# ---------------------------------------------------------------------------- argnums


def f3(x: Any, y: Any, z: Any) -> Any:
    return fnp.sum(x * y) + fnp.sum(fnp.sin(z)) * 2.0


X = np.array([1.0, 2.0, 3.0])
Y = np.array([-1.0, 0.5, 4.0])
Z = np.array([[0.1, 0.2], [0.3, 0.4]])


def test_grad_default_argnum_is_first() -> None:
    g = grad(f3)(X, Y, Z)
    np.testing.assert_array_equal(g, Y)


@pytest.mark.parametrize("argnum", [0, 1, 2, -1, -3])
def test_grad_int_argnums(argnum: int) -> None:
    g = grad(f3, argnums=argnum)(X, Y, Z)
    expected = [Y, X, 2.0 * np.cos(Z)][argnum % 3]
    np.testing.assert_allclose(g, expected, rtol=1e-15)
    assert g.shape == expected.shape


def test_grad_tuple_argnums() -> None:
    gz, gx = grad(f3, argnums=(2, 0))(X, Y, Z)
    np.testing.assert_allclose(gz, 2.0 * np.cos(Z), rtol=1e-15)
    np.testing.assert_array_equal(gx, Y)
    (gy,) = grad(f3, argnums=(1,))(X, Y, Z)  # a 1-tuple gives a 1-tuple
    np.testing.assert_array_equal(gy, X)


def test_value_and_grad() -> None:
    value, (gx, gy) = value_and_grad(f3, argnums=(0, 1))(X, Y, Z)
    assert math.isclose(float(value), float(X @ Y + 2 * np.sin(Z).sum()), rel_tol=1e-14)
    np.testing.assert_array_equal(gx, Y)
    np.testing.assert_array_equal(gy, X)


def test_keyword_arguments_are_not_differentiated() -> None:
    def f(x: Any, *, scale: float) -> Any:
        return fnp.sum(x ** 2) * scale

    np.testing.assert_array_equal(grad(f)(X, scale=3.0), 6.0 * X)


def test_scalar_python_float_input() -> None:
    g = grad(lambda x: x * x * x)(2.0)
    assert float(g) == 12.0


# ---------------------------------------------------------------------------- has_aux


def test_grad_has_aux() -> None:
    def loss(w: Any) -> tuple[Any, dict[str, Any]]:
        pred = w * 3.0
        return fnp.sum(pred ** 2), {"pred": pred, "n": 3}

    g, aux = grad(loss, has_aux=True)(np.array([1.0, -2.0]))
    np.testing.assert_array_equal(g, [18.0, -36.0])
    # aux values come back as plain arrays (no tracers), with their structure
    assert set(aux) == {"pred", "n"} and aux["n"] == 3
    assert isinstance(aux["pred"], np.ndarray)
    np.testing.assert_array_equal(aux["pred"], [3.0, -6.0])


def test_value_and_grad_has_aux() -> None:
    (value, aux), g = value_and_grad(lambda x: (fnp.sum(fnp.exp(x)), x * 2), has_aux=True)(
        np.array([0.0, 1.0]))
    assert math.isclose(float(value), 1 + math.e, rel_tol=1e-15)
    np.testing.assert_array_equal(aux, [0.0, 2.0])
    np.testing.assert_allclose(g, [1.0, math.e], rtol=1e-15)


def test_vjp_has_aux() -> None:
    out, pullback, aux = vjp(lambda x: (fnp.sin(x), fnp.cos(x)), np.array([0.5, 1.0]),
                             has_aux=True)
    np.testing.assert_allclose(out, np.sin([0.5, 1.0]))
    np.testing.assert_allclose(aux, np.cos([0.5, 1.0]))
    (g,) = pullback(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, np.cos([0.5, 1.0]) * [1.0, 2.0], rtol=1e-15)


# ---------------------------------------------------------------------------- result kinds

RETURNS: dict[str, Any] = {
    "traced": lambda x: fnp.sum(x * x),
    "numpy scalar": lambda x: np.float32(3.0) if x.dtype == np.float32 else np.float64(3.0),
    "Python float": lambda x: 3.0,
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("returns", list(RETURNS))
def test_value_and_grad_returns_arrays_of_one_kind(dtype: Any, jitted: bool, returns: str
                                                  ) -> None:
    """The value is a 0-d array and the gradient an array, with or without jit."""
    vg = value_and_grad(RETURNS[returns])
    x = np.array([1.0, 2.0], dtype)
    value, g = (funcgrad.jit(vg) if jitted else vg)(x)
    assert type(value) is np.ndarray and value.shape == ()
    # a Python number is float64, as numpy's np.asarray(3.0)
    assert value.dtype == (np.float64 if returns == "Python float" else dtype)
    assert type(g) is np.ndarray and g.dtype == dtype
    np.testing.assert_array_equal(value, 5.0 if returns == "traced" else 3.0)
    np.testing.assert_array_equal(g, [2.0, 4.0] if returns == "traced" else [0.0, 0.0])


@pytest.mark.parametrize("x", [np.float32(0.5), np.array(0.5, np.float32), np.float64(0.5),
                               0.5], ids=["f32 scalar", "f32 0-d", "f64 scalar", "float"])
@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
def test_grad_of_a_scalar_input_is_a_0d_array(x: Any, jitted: bool) -> None:
    gf = grad(fnp.sin)
    g = (funcgrad.jit(gf) if jitted else gf)(x)
    assert type(g) is np.ndarray and g.shape == () and g.dtype == np.asarray(x).dtype
    np.testing.assert_allclose(g, np.cos(np.asarray(x)), rtol=1e-7)


@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
def test_aux_arrays_are_arrays_the_caller_owns(jitted: bool) -> None:
    """Numpy scalars in aux become 0-d arrays, and aux never is one of the arguments."""
    def f(x: Any) -> tuple[Any, dict[str, Any]]:
        return fnp.sum(x), {"input": x, "count": np.float32(2.0)}

    vg = value_and_grad(f, has_aux=True)
    x = np.array([1.0, 2.0], np.float32)
    (value, aux), _ = (funcgrad.jit(vg) if jitted else vg)(x)
    assert aux["input"] is not x and not np.shares_memory(aux["input"], x)
    np.testing.assert_array_equal(aux["input"], x)
    count = aux["count"]
    assert type(count) is np.ndarray and count.shape == () and count.dtype == np.float32


# ---------------------------------------------------------------------------- pytrees


def test_grad_dict_of_params() -> None:
    params = {
        "w": np.array([[1.0, 2.0], [3.0, 4.0]]),
        "b": np.array([0.5, -0.5], np.float32),
        "scale": np.float64(2.0),
    }
    x = np.array([1.0, -1.0])

    def loss(p: dict[str, Any], x: Any) -> Any:
        h = fnp.matmul(p["w"], x) + p["b"]
        return fnp.sum(h * h) * p["scale"]

    g = grad(loss)(params, x)
    assert isinstance(g, dict) and set(g) == set(params)
    for k in params:
        assert g[k].shape == np.shape(params[k])
        assert g[k].dtype == np.asarray(params[k]).dtype
    h = params["w"] @ x + params["b"]  # [-0.5, -1.5]
    np.testing.assert_allclose(g["b"], 2 * 2.0 * h)
    np.testing.assert_allclose(g["w"], 2 * 2.0 * np.outer(h, x))
    np.testing.assert_allclose(g["scale"], np.sum(h * h))


def test_grad_tuple_list_namedtuple_args() -> None:
    def f(t: tuple[Any, Any], lst: list[Any], p: Params, pair: Any) -> Any:
        return (fnp.sum(t[0] * t[1]) + fnp.sum(lst[0] ** 2) + fnp.sum(p.w * p.b)
                + pair.left * pair.right)

    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    args = ((a, b), [np.array([5.0])], Params(np.array([2.0]), np.array([7.0])),
            Pair(np.float64(3.0), np.float64(-2.0)))
    gt, gl, gp, gpair = grad(f, argnums=(0, 1, 2, 3))(*args)
    assert type(gt) is tuple and type(gl) is list
    assert type(gp) is Params and type(gpair) is Pair
    np.testing.assert_array_equal(gt[0], b)
    np.testing.assert_array_equal(gt[1], a)
    np.testing.assert_array_equal(gl[0], [10.0])
    np.testing.assert_array_equal(gp.w, [7.0])
    np.testing.assert_array_equal(gp.b, [2.0])
    assert float(gpair.left) == -2.0 and float(gpair.right) == 3.0
    assert tree.structure((gt, gl, gp, gpair)) == tree.structure(args)


def test_vjp_pytree_inputs_and_outputs() -> None:
    def f(p: dict[str, Any], xs: list[Any]) -> dict[str, Any]:
        return {"sum": p["a"] * xs[0], "pair": (fnp.exp(p["b"]), xs[1] * 2.0)}

    p = {"a": np.array([1.0, 2.0]), "b": np.array(0.5)}
    xs = [np.array([3.0, 4.0]), np.array([[1.0], [2.0]])]
    out, pullback = vjp(f, p, xs)
    assert set(out) == {"sum", "pair"} and type(out["pair"]) is tuple
    np.testing.assert_array_equal(out["sum"], [3.0, 8.0])
    ct = {"sum": np.array([1.0, -1.0]), "pair": (np.array(2.0), np.array([[1.0], [3.0]]))}
    gp, gxs = pullback(ct)
    assert set(gp) == {"a", "b"} and type(gxs) is list and len(gxs) == 2
    np.testing.assert_array_equal(gp["a"], [3.0, -4.0])
    np.testing.assert_allclose(gp["b"], 2.0 * math.exp(0.5), rtol=1e-15)
    np.testing.assert_array_equal(gxs[0], [1.0, -2.0])
    np.testing.assert_array_equal(gxs[1], [[2.0], [6.0]])
    assert gxs[1].shape == (2, 1)


def test_vjp_can_be_called_twice() -> None:
    out, pullback = vjp(lambda x: x * x, np.array([1.0, 3.0]))
    (g1,) = pullback(np.array([1.0, 1.0]))
    (g2,) = pullback(np.array([0.0, 2.0]))
    np.testing.assert_array_equal(g1, [2.0, 6.0])
    np.testing.assert_array_equal(g2, [0.0, 12.0])


def test_unused_inputs_get_zeros_of_their_shape_and_dtype() -> None:
    def f(x: Any, unused: Any, d: dict[str, Any]) -> Any:
        return fnp.sum(x * 2.0)

    x = np.array([1.0, 2.0])
    unused = np.ones((2, 3), np.float32)
    d = {"a": np.ones(4), "b": np.float32(1.0)}
    gx, gu, gd = grad(f, argnums=(0, 1, 2))(x, unused, d)
    np.testing.assert_array_equal(gx, [2.0, 2.0])
    assert gu.shape == (2, 3) and gu.dtype == np.float32 and not gu.any()
    assert gd["a"].shape == (4,) and gd["a"].dtype == np.float64 and not gd["a"].any()
    assert gd["b"].shape == () and gd["b"].dtype == np.float32 and gd["b"] == 0


def test_output_independent_of_input() -> None:
    g = grad(lambda x: fnp.sum(np.ones(3)))(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0])
    out, pullback = vjp(lambda x: np.ones(2), np.array([1.0]))
    np.testing.assert_array_equal(pullback(np.ones(2))[0], [0.0])


def test_non_differentiable_arguments_outside_argnums() -> None:
    def f(x: Any, idx: Any, flag: bool) -> Any:
        return fnp.sum(x[idx]) * (2.0 if flag else 1.0)

    g = grad(f)(np.array([1.0, 2.0, 3.0]), np.array([2, 2]), True)
    np.testing.assert_array_equal(g, [0.0, 0.0, 4.0])


# ---------------------------------------------------------------------------- control flow


def test_python_control_flow_on_values() -> None:
    def f(x: Any) -> Any:
        if x > 0:
            return x * x
        return -3.0 * x

    assert float(grad(f)(2.0)) == 4.0
    assert float(grad(f)(-2.0)) == -3.0

    def loop(x: Any) -> Any:
        y = x
        while y < 10.0:  # the trip count depends on the value
            y = y * 2.0
        return y

    assert float(grad(loop)(1.5)) == 8.0  # 1.5 * 2**3 = 12
    assert float(grad(loop)(3.0)) == 4.0  # 3 * 2**2 = 12


def test_float_and_item_under_grad() -> None:
    seen: list[float] = []

    def f(x: Any) -> Any:
        seen.append(float(fnp.sum(x)))
        seen.append(x[0].item())
        return fnp.sum(x * int(x[1]))

    g = grad(f)(np.array([1.5, 3.0]))
    np.testing.assert_array_equal(g, [3.0, 3.0])
    assert seen == [4.5, 1.5]


# ---------------------------------------------------------------------------- higher order


def test_second_and_third_order_sin() -> None:
    x = 0.7
    d1 = grad(fnp.sin)
    d2 = grad(d1)
    d3 = grad(d2)
    assert math.isclose(float(d1(x)), math.cos(x), rel_tol=1e-15)
    assert math.isclose(float(d2(x)), -math.sin(x), rel_tol=1e-15)
    assert math.isclose(float(d3(x)), -math.cos(x), rel_tol=1e-15)


def test_higher_order_exp_and_cube() -> None:
    d = fnp.exp
    for _ in range(4):
        d = grad(d)
    assert math.isclose(float(d(0.3)), math.exp(0.3), rel_tol=1e-15)

    def cube(x: Any) -> Any:
        return x ** 3

    assert float(grad(cube)(2.0)) == 12.0
    assert float(grad(grad(cube))(2.0)) == 12.0
    assert float(grad(grad(grad(cube)))(2.0)) == 6.0
    assert float(grad(grad(grad(grad(cube))))(2.0)) == 0.0


def test_higher_order_of_products_and_quotients() -> None:
    # f(x) = x / (1 + x^2): f'' = (2x^3 - 6x) / (1 + x^2)^3
    def f(x: Any) -> Any:
        return x / (1.0 + x * x)

    x = 0.8
    assert math.isclose(float(grad(grad(f))(x)), (2 * x ** 3 - 6 * x) / (1 + x * x) ** 3,
                        rel_tol=1e-13)


def test_hessian_vector_product_by_nested_grad() -> None:
    a = np.array([[2.0, 1.0], [1.0, 3.0]])

    def quad(x: Any) -> Any:
        return 0.5 * fnp.sum(x * fnp.matmul(a, x)) + fnp.sum(x ** 3)

    x = np.array([0.5, -1.0])
    v = np.array([1.0, 2.0])
    hvp = grad(lambda x: fnp.sum(grad(quad)(x) * v))(x)
    np.testing.assert_allclose(hvp, (a + np.diag(6 * x)) @ v, rtol=1e-14)


def test_perturbation_confusion() -> None:
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1, at any x and y
    def outer(x: Any) -> Any:
        return x * grad(lambda y: x + y)(2.0)

    for x in (0.0, 1.0, -3.5):
        assert float(grad(outer)(x)) == 1.0

    # and a case where the inner derivative does depend on x: d/dx [x * d/dy (x * y)] = 2x
    assert float(grad(lambda x: x * grad(lambda y: x * y)(3.0))(1.5)) == 3.0


def test_nested_grad_closing_over_outer_value_in_make_graph() -> None:
    def f(x: Any) -> Any:
        return grad(lambda y: fnp.sum(x * fnp.sin(y)))(x)

    g = funcgrad.make_graph(f)(np.array([0.1, 0.2]))
    np.testing.assert_allclose(g(np.array([0.3, 0.4])), np.array([0.3, 0.4]) * np.cos([0.3, 0.4]))


def test_check_grads_third_order_through_a_composite() -> None:
    def f(x: Any, y: Any) -> Any:
        return fnp.tanh(x) * fnp.exp(y * 0.5) + fnp.sum(x * y) / 3.0

    rng = np.random.default_rng(1)
    check_grads(f, (rng.standard_normal(3), rng.standard_normal(3)), order=3)


# ---------------------------------------------------------------------------- stop_gradient


def test_stop_gradient_blocks_only_its_branch() -> None:
    def f(x: Any) -> Any:
        return x * x + funcgrad.stop_gradient(x * x) * 10.0

    assert float(grad(f)(3.0)) == 6.0
    assert float(grad(grad(f))(3.0)) == 2.0


# ---------------------------------------------------------------------------- non-smooth points


def test_relu_by_maximum_splits_the_tie() -> None:
    relu = grad(lambda x: fnp.maximum(x, 0.0))
    assert float(relu(0.0)) == 0.5  # tie: the gradient is shared between x and 0
    assert float(relu(2.0)) == 1.0
    assert float(relu(-2.0)) == 0.0


def test_relu_by_where_is_zero_at_zero() -> None:
    relu = grad(lambda x: fnp.where(x > 0, x, 0.0))
    assert float(relu(0.0)) == 0.0
    assert float(relu(1.0)) == 1.0
    np.testing.assert_array_equal(
        grad(lambda x: fnp.sum(fnp.where(x > 0, x, 0.0)))(np.array([-1.0, 0.0, 1.0])),
        [0.0, 0.0, 1.0])


def test_abs_gradient_at_zero_is_zero() -> None:
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(fnp.abs(x)))(np.array([-2.0, 0.0, 3.0])),
                                  [-1.0, 0.0, 1.0])


def test_maximum_of_x_with_itself() -> None:
    assert float(grad(lambda x: fnp.maximum(x, x))(1.5)) == 1.0
    assert float(grad(lambda x: fnp.minimum(x, x))(-1.5)) == 1.0
    gx, gy = grad(lambda x, y: fnp.maximum(x, y), argnums=(0, 1))(2.0, 2.0)
    assert float(gx) == 0.5 and float(gy) == 0.5


def test_max_reduction_splits_ties_evenly() -> None:
    np.testing.assert_array_equal(grad(fnp.max)(np.array([1.0, 3.0, 3.0])), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(grad(fnp.min)(np.array([2.0, 2.0, 2.0, 5.0])),
                                  [1 / 3, 1 / 3, 1 / 3, 0.0])
    g = grad(lambda x: fnp.sum(fnp.max(x, axis=1)))(np.array([[1.0, 1.0], [0.0, 4.0]]))
    np.testing.assert_array_equal(g, [[0.5, 0.5], [0.0, 1.0]])


def test_clip_at_the_bounds() -> None:
    g = grad(lambda x: fnp.sum(fnp.clip(x, -1.0, 1.0)))(np.array([-2.0, 0.0, 1.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.5, 0.0])


def test_sqrt_and_power_at_zero_are_handled() -> None:
    # d/dy x**y at x == 0 is 0 (not nan) for y > 0
    gy = grad(lambda y: fnp.sum(fnp.power(np.array([0.0, 2.0]), y)))(np.array([2.0, 3.0]))
    np.testing.assert_allclose(gy, [0.0, 8.0 * math.log(2.0)], rtol=1e-15)


def test_vjp_with_an_output_used_twice_accumulates() -> None:
    x = np.array([1.0, 2.0])
    out, pullback = vjp(lambda x: (x, x * 3.0, {"again": x}), x)
    (g,) = pullback((np.array([1.0, 0.0]), np.array([1.0, 1.0]),
                     {"again": np.array([0.0, 5.0])}))
    np.testing.assert_array_equal(g, [4.0, 8.0])


def test_complex_values_follow_jax_convention_through_holomorphic_rules() -> None:
    # For holomorphic f the VJP is ct -> ct * f'(z), as in JAX (no conjugate).
    z = np.array([0.3 + 1.2j, -0.7 - 0.4j])
    ct = np.array([1.0 - 2.0j, 0.5 + 0.25j])
    for f, df in ((fnp.exp, np.exp), (fnp.sin, np.cos),
                  (lambda v: v * v / (v + 2.0), lambda v: (v * v + 4 * v) / (v + 2.0) ** 2)):
        out, pullback = funcgrad.vjp(f, z)
        (back,) = pullback(ct)
        assert back.dtype == np.complex128
        np.testing.assert_allclose(back, ct * df(z), rtol=1e-14)


def test_complex_values_are_refused_by_rules_written_for_reals() -> None:
    z = np.array([0.3 + 1.2j, -0.7 - 0.4j])
    with pytest.raises(TypeError, match="derivative of 'max' is not defined for complex"):
        funcgrad.vjp(lambda v: fnp.maximum(v, v * 2.0), z)
