"""Tests for forward mode and Jacobians: jvp, linearize, jacfwd, jacrev, hessian.

jvp is derived from the VJP rules (the transpose of the linear pullback), so every
primitive of the table in tests/test_numpy.py is checked twice:

* against central finite differences in a random tangent direction;
* against vjp by the inner-product identity <J t, u> == <t, J^T u> for random t and u.

Then pytrees of primals and tangents, jvp's errors, jacfwd == jacrev (pytrees in and out,
argnums tuples, JAX's output-shape-then-input-shape layout), and Hessians of functions whose
Hessian is known in closed form or checked by finite differences of the gradient.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import hessian, jacfwd, jacrev, jvp, linearize, tree, vjp
from cases import ALL_CASES, Case, assert_tree_allclose, case_params, seeded

NDArray = np.ndarray[Any, Any]


def random_like(rng: np.random.Generator, t: Any) -> Any:
    """A pytree of standard normal arrays with the shapes and dtypes of t's leaves."""
    return tree.map(lambda x: np.asarray(rng.standard_normal(np.shape(x)), np.result_type(x)), t)


def inner(a: Any, b: Any) -> float:
    """The sum over leaves of <a_leaf, b_leaf>, in float64."""
    return float(sum(np.vdot(np.asarray(x, np.float64), np.asarray(y, np.float64))
                     for x, y in zip(tree.leaves(a), tree.leaves(b))))


def central_difference(f: Callable[..., Any], args: tuple[Any, ...], tangents: tuple[Any, ...],
                       eps: float) -> Any:
    """(f(args + eps t) - f(args - eps t)) / (2 eps), leafwise over f's output."""
    plus = f(*tree.map(lambda x, t: x + eps * t, args, tangents))
    minus = f(*tree.map(lambda x, t: x - eps * t, args, tangents))
    return tree.map(lambda p, m: (np.asarray(p) - np.asarray(m)) / (2 * eps), plus, minus)


# ---------------------------------------------------------------------------- every primitive


@pytest.mark.parametrize("case", case_params(ALL_CASES))
def test_jvp_matches_finite_differences(case: Case) -> None:
    args = case.inputs()
    tangents = random_like(seeded(case.name + "/tangent"), args)
    out, tangent_out = jvp(case.fn, args, tangents)
    assert_tree_allclose(out, case.fn(*args), rtol=1e-12, atol=1e-12)
    numeric = central_difference(case.fn, args, tangents, case.eps or 1e-5)
    assert_tree_allclose(tangent_out, numeric, atol=case.atol or 1e-6, rtol=case.rtol or 1e-5)


@pytest.mark.parametrize("case", case_params(ALL_CASES))
def test_jvp_and_vjp_are_transposes(case: Case) -> None:
    """<J t, u> == <t, J^T u>: forward and reverse mode describe the same Jacobian."""
    args = case.inputs()
    rng = seeded(case.name + "/inner")
    t = random_like(rng, args)
    out, jt = jvp(case.fn, args, t)
    u = random_like(rng, out)
    _, pullback = vjp(case.fn, *args)
    jtu = pullback(u)
    lhs, rhs = inner(jt, u), inner(t, jtu)
    # (casts through float32 round the two sides differently: that case sets rtol)
    assert math.isclose(lhs, rhs, rel_tol=case.rtol or 1e-10, abs_tol=1e-10), (lhs, rhs)
    # the tangent has the output's structure, shapes and dtypes
    assert tree.structure(jt) == tree.structure(out)
    for a, o in zip(tree.leaves(jt), tree.leaves(out)):
        assert np.shape(a) == np.shape(o) and np.result_type(a) == np.result_type(o)


@pytest.mark.parametrize("case", case_params([c for c in ALL_CASES if c.f32][::7]))
def test_jvp_float32_in_float32_out(case: Case) -> None:
    args = case.inputs(np.float32)
    tangents = random_like(seeded(case.name), args)
    out, tangent_out = jvp(case.fn, args, tangents)
    for o, t in zip(tree.leaves(out), tree.leaves(tangent_out)):
        assert o.dtype == t.dtype == np.float32
    _, t64 = jvp(case.fn, case.inputs(), tree.map(lambda t: t.astype(np.float64), tangents))
    assert_tree_allclose(tangent_out, t64, rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------------------- pytrees


def pytree_fn(p: dict[str, Any], xs: tuple[Any, Any]) -> dict[str, Any]:
    return {"y": fnp.tanh(p["w"] @ xs[0]), "z": p["b"] * fnp.sum(xs[1])}


def test_jvp_pytree_primals_and_tangents_exact() -> None:
    rng = np.random.default_rng(0)
    p = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(2)}
    xs = (rng.standard_normal(4), rng.standard_normal(5))
    dp = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(2)}
    dxs = (rng.standard_normal(4), rng.standard_normal(5))
    out, t = jvp(pytree_fn, (p, xs), (dp, dxs))
    assert set(out) == set(t) == {"y", "z"}
    y = np.tanh(p["w"] @ xs[0])
    np.testing.assert_allclose(out["y"], y, rtol=1e-14)
    np.testing.assert_allclose(t["y"], (1 - y ** 2) * (dp["w"] @ xs[0] + p["w"] @ dxs[0]),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(t["z"], dp["b"] * xs[1].sum() + p["b"] * dxs[1].sum(),
                               rtol=1e-12, atol=1e-14)


def test_jvp_accepts_lists_of_primals_and_tangents() -> None:
    x = np.array([0.5, 1.0, 2.0])
    out, t = jvp(lambda a, b: fnp.sin(a) * b, [x, 3.0 * x], [np.ones(3), np.zeros(3)])
    np.testing.assert_allclose(out, np.sin(x) * 3.0 * x, rtol=1e-15)
    np.testing.assert_allclose(t, np.cos(x) * 3.0 * x, rtol=1e-14)


def test_jvp_is_linear_in_the_tangent() -> None:
    x = np.array([0.3, -1.1, 2.0])

    def f(x: Any) -> Any:
        return fnp.exp(x) * fnp.sin(x[::-1])

    t1, t2 = np.array([1.0, 0.0, -2.0]), np.array([0.5, 3.0, 1.0])
    _, a = jvp(f, (x,), (t1,))
    _, b = jvp(f, (x,), (t2,))
    _, c = jvp(f, (x,), (2.0 * t1 - 3.0 * t2,))
    np.testing.assert_allclose(c, 2.0 * a - 3.0 * b, rtol=1e-12, atol=1e-12)


def test_linearize_agrees_with_jvp() -> None:
    rng = np.random.default_rng(1)
    p = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(2)}
    xs = (rng.standard_normal(4), rng.standard_normal(5))
    out, f_jvp = linearize(pytree_fn, p, xs)
    for seed in range(3):
        dp, dxs = random_like(np.random.default_rng(seed), (p, xs))
        _, expected = jvp(pytree_fn, (p, xs), (dp, dxs))
        assert_tree_allclose(f_jvp(dp, dxs), expected, rtol=1e-12, atol=1e-14)
    assert_tree_allclose(out, pytree_fn(p, xs), rtol=1e-15)


def test_jvp_of_grad_is_a_hessian_vector_product() -> None:
    # f = sum(x**3): Hessian diag(6x), so H t = 6 x t
    x = np.array([1.0, -2.0, 0.5])
    t = np.array([0.3, 1.0, -4.0])
    def cubes(x: Any) -> Any:
        return fnp.sum(x ** 3)

    g, ht = jvp(funcgrad.grad(cubes), (x,), (t,))
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-15)
    np.testing.assert_allclose(ht, 6 * x * t, rtol=1e-14)


# ---------------------------------------------------------------------------- errors


def test_jvp_error_tangent_structure() -> None:
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"jvp: tangents must have the structure of the "
                                         r"primals, PyTreeDef\(\(\*, \*\)\), but have "
                                         r"PyTreeDef\(\(\*,\)\)"):
        jvp(lambda a, b: a * b, (x, x), (x,))
    with pytest.raises(ValueError, match=r"structure.*'b'.*'c'"):
        jvp(lambda d: d["a"] + d["b"], ({"a": x, "b": x},), ({"a": x, "c": x},))


def test_jvp_error_tangent_shape_and_dtype() -> None:
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=re.escape(
            "jvp: tangent 0 is f64[4] but its primal is f64[2,3]")):
        jvp(fnp.sin, (x,), (np.ones(4),))
    with pytest.raises(ValueError, match=re.escape(
            "jvp: tangent 1 is f32[2,3] but its primal is f64[2,3]")):
        jvp(lambda a, b: a * b, (x, x), (x, x.astype(np.float32)))


def test_jvp_error_primals_not_a_tuple() -> None:
    with pytest.raises(TypeError, match=r"jvp: primals must be a tuple or list.*of sin, got "
                                        r"ndarray; write \(x,\) for one"):
        jvp(fnp.sin, np.ones(3), np.ones(3))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- Jacobians


def jac_elementwise(x: Any) -> Any:
    return fnp.sin(x) * fnp.exp(-x)


def jac_matrix(x: Any) -> Any:
    return fnp.tanh(np.arange(12.0).reshape(4, 3) / 10 @ x)  # (3,) -> (4,)


def jac_reduce_to_scalar(x: Any) -> Any:
    return fnp.sum(x ** 2 * fnp.cos(x))


def jac_matrix_to_matrix(x: Any) -> Any:
    return fnp.transpose(x @ x.T)[:, ::-1] + fnp.max(x, axis=1, keepdims=True)


JACOBIAN_FNS: list[tuple[Callable[[Any], Any], tuple[int, ...]]] = [
    (jac_elementwise, (5,)),
    (jac_matrix, (3,)),
    (jac_reduce_to_scalar, (2, 3)),
    (jac_matrix_to_matrix, (2, 3)),
]


def numeric_jacobian(f: Callable[[Any], Any], x: NDArray, eps: float = 1e-6) -> NDArray:
    """Central differences, one column per input element: shape (*out_shape, *in_shape)."""
    cols = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = eps
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    out_shape = np.shape(cols[0])
    jac: NDArray = np.moveaxis(np.stack(cols), 0, -1).reshape(out_shape + x.shape)
    return jac


@pytest.mark.parametrize("fn,shape", [pytest.param(f, s, id=f.__name__)
                                      for f, s in JACOBIAN_FNS])
def test_jacfwd_equals_jacrev_and_finite_differences(fn: Callable[[Any], Any],
                                                      shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(2).standard_normal(shape)
    jf, jr = jacfwd(fn)(x), jacrev(fn)(x)
    out_shape = np.shape(fn(x))
    assert jf.shape == jr.shape == (*out_shape, *shape)  # output shape, then input shape
    np.testing.assert_allclose(jf, jr, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jf, numeric_jacobian(fn, x), rtol=1e-6, atol=1e-8)


def test_jacobian_of_elementwise_function_is_diagonal() -> None:
    x = np.array([0.1, 0.7, -1.2])
    j = jacfwd(fnp.tanh)(x)
    np.testing.assert_allclose(j, np.diag(1 - np.tanh(x) ** 2), rtol=1e-14, atol=0)


def test_jacobian_scalar_input_and_output() -> None:
    def f(s: Any) -> Any:
        return fnp.sin(s) * np.arange(1.0, 4.0)

    for jac in (jacfwd, jacrev):
        j = jac(f)(0.5)
        assert j.shape == (3,)
        np.testing.assert_allclose(j, np.cos(0.5) * np.arange(1.0, 4.0), rtol=1e-14)
        g = jac(lambda s: s ** 3)(2.0)
        assert np.shape(g) == ()
        np.testing.assert_allclose(g, 12.0, rtol=1e-14)


def pytree_in_out(p: dict[str, Any], y: Any) -> dict[str, Any]:
    return {"o": fnp.tanh(p["w"] @ p["v"]) * fnp.sum(y),
            "s": (fnp.sum(p["w"] ** 2), fnp.outer(p["v"], y))}


def test_jacfwd_equals_jacrev_pytrees_and_argnums_tuple() -> None:
    rng = np.random.default_rng(3)
    p = {"w": rng.standard_normal((3, 2)), "v": rng.standard_normal(2)}
    y = rng.standard_normal(4)
    jf = jacfwd(pytree_in_out, argnums=(0, 1))(p, y)
    jr = jacrev(pytree_in_out, argnums=(0, 1))(p, y)
    assert_tree_allclose(jf, jr, rtol=1e-12, atol=1e-14)
    # outer structure: the output's; inner: the argnums tuple, then each argument's tree
    d_o_dp, d_o_dy = jf["o"]
    assert d_o_dp["w"].shape == (3, 3, 2) and d_o_dp["v"].shape == (3, 2)
    assert d_o_dy.shape == (3, 4)
    (d_sq_dp, d_sq_dy), (d_outer_dp, d_outer_dy) = jf["s"]
    assert d_sq_dp["w"].shape == (3, 2) and d_sq_dy.shape == (4,)
    assert d_outer_dp["v"].shape == (2, 4, 2) and d_outer_dy.shape == (2, 4, 4)
    # exact blocks: d sum(w**2)/dw = 2w; d outer(v, y)/dy[i, j, k] = v_i delta_jk
    np.testing.assert_allclose(d_sq_dp["w"], 2 * p["w"], rtol=1e-14)
    np.testing.assert_array_equal(d_sq_dy, np.zeros(4))
    np.testing.assert_allclose(d_outer_dy, p["v"][:, None, None] * np.eye(4)[None],
                               rtol=1e-14)
    # int argnums drops the tuple level, and a 1-tuple keeps it
    j1 = jacfwd(pytree_in_out, argnums=1)(p, y)
    assert_tree_allclose(j1, {"o": d_o_dy, "s": (d_sq_dy, d_outer_dy)}, rtol=1e-12,
                         atol=1e-14)
    j1t = jacrev(pytree_in_out, argnums=(1,))(p, y)
    assert_tree_allclose(j1t, {"o": (d_o_dy,), "s": ((d_sq_dy,), (d_outer_dy,))},
                         rtol=1e-12, atol=1e-14)


def test_jacobians_take_keyword_arguments_as_constants() -> None:
    def f(x: Any, *, scale: float) -> Any:
        return fnp.sin(x) * scale

    x = np.array([0.2, 0.4])
    for jac in (jacfwd, jacrev):
        np.testing.assert_allclose(jac(f)(x, scale=3.0), np.diag(3.0 * np.cos(x)), rtol=1e-14)


# ---------------------------------------------------------------------------- Hessians


def test_hessian_of_sum_of_cubes_is_diag_6x() -> None:
    x = np.array([1.0, -2.0, 0.5, 3.0])
    h = hessian(lambda x: fnp.sum(x ** 3))(x)
    assert h.shape == (4, 4)
    np.testing.assert_allclose(h, np.diag(6 * x), rtol=1e-14, atol=0)


def test_hessian_of_quadratic_form_is_a_plus_a_transpose() -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    h = hessian(lambda x: x @ (a @ x))(x)
    np.testing.assert_allclose(h, a + a.T, rtol=1e-13, atol=1e-14)
    # a matrix-shaped input: shape (*in, *in), and the same form on the flattened input
    xm = rng.standard_normal((2, 2))
    hm = hessian(lambda m: fnp.ravel(m) @ (a @ fnp.ravel(m)))(xm)
    assert hm.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(hm.reshape(4, 4), a + a.T, rtol=1e-13, atol=1e-14)


MLP_SHAPES = {"w1": (3, 4), "b1": (4,), "w2": (4,), "b2": ()}
MLP_X = np.random.default_rng(5).standard_normal((6, 3))
MLP_Y = np.random.default_rng(6).standard_normal(6)


def unpack(theta: Any) -> dict[str, Any]:
    """The MLP's parameters from one flat vector."""
    out, start = {}, 0
    for name, shape in MLP_SHAPES.items():
        n = math.prod(shape)
        out[name] = fnp.reshape(theta[start:start + n], shape)
        start += n
    return out


def mlp_loss(p: dict[str, Any]) -> Any:
    hidden = fnp.tanh(MLP_X @ p["w1"] + p["b1"])
    pred = fnp.tanh(hidden @ p["w2"] + p["b2"])
    return fnp.mean((pred - MLP_Y) ** 2)


def test_hessian_of_two_layer_tanh_mlp_matches_finite_differences_of_grad() -> None:
    n = sum(math.prod(s) for s in MLP_SHAPES.values())
    theta = np.random.default_rng(7).standard_normal(n) * 0.7

    def flat_loss(theta: Any) -> Any:
        return mlp_loss(unpack(theta))

    h = hessian(flat_loss)(theta)
    assert h.shape == (n, n)
    np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-12)
    g = funcgrad.grad(flat_loss)
    eps = 1e-5
    numeric = np.stack([(g(theta + eps * e) - g(theta - eps * e)) / (2 * eps)
                        for e in np.eye(n)], axis=1)
    np.testing.assert_allclose(h, numeric, rtol=1e-5, atol=1e-7)
    # the same Hessian over the parameter dict: block (a, b) has shape a.shape + b.shape
    params = unpack(theta)
    hp = hessian(mlp_loss)(params)
    assert hp["w1"]["w1"].shape == (3, 4, 3, 4) and hp["w1"]["b2"].shape == (3, 4)
    assert hp["b2"]["w2"].shape == (4,)
    sizes = [math.prod(s) for s in MLP_SHAPES.values()]
    offsets = dict(zip(MLP_SHAPES, np.cumsum([0, *sizes]).tolist()))
    for a, sa in MLP_SHAPES.items():
        for b, sb in MLP_SHAPES.items():
            block = h[offsets[a]:offsets[a] + math.prod(sa),
                      offsets[b]:offsets[b] + math.prod(sb)]
            np.testing.assert_allclose(hp[a][b], block.reshape(sa + sb), rtol=1e-12,
                                       atol=1e-14)


def test_hessian_argnums_tuple() -> None:
    # f = sum(a * b**2): d2/da2 = 0, d2/da db = diag(2b), d2/db2 = diag(2a)
    a, b = np.array([1.0, 2.0, -1.0]), np.array([0.5, -3.0, 2.0])
    (haa, hab), (hba, hbb) = hessian(lambda a, b: fnp.sum(a * b ** 2), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(haa, np.zeros((3, 3)))
    np.testing.assert_allclose(hab, np.diag(2 * b), rtol=1e-15)
    np.testing.assert_allclose(hba, np.diag(2 * b), rtol=1e-15)
    np.testing.assert_allclose(hbb, np.diag(2 * a), rtol=1e-15)


# ---------------------------------------------------------------------------- graphs


def test_make_graph_of_jvp_prints_the_tangent_computation() -> None:
    def f_jvp(x: Any, t: Any) -> Any:
        return jvp(lambda x: fnp.sum(fnp.sin(x) * x), (x,), (t,))

    x = np.ones(3, np.float32)
    graph = funcgrad.make_graph(f_jvp)(x, x)
    text = str(graph)
    assert text.startswith("graph(a:f32[3], b:f32[3]) {")
    assert re.search(r"^  \w+:f32\[3\] = sin a$", text, re.M)
    assert re.search(r"= cos a$", text, re.M)  # the derivative of sin appears
    assert re.search(r"= reduce_sum\[axes=\(0,\)\] ", text)
    assert text.rstrip().endswith("}") and "  return " in text
    assert [v.aval.shape for v in graph.outvars] == [(), ()]
    value, tangent = graph(np.full(3, 0.5, np.float32), np.ones(3, np.float32))
    expected = 3 * (np.cos(0.5) * 0.5 + np.sin(0.5))
    np.testing.assert_allclose(tangent, expected, rtol=1e-6)
    np.testing.assert_allclose(value, 3 * np.sin(0.5) * 0.5, rtol=1e-6)
