"""Tests for custom_jvp, and for nondiff_argnums of custom_vjp.

custom_jvp: a rule that is the true derivative agrees with closed forms under grad, jvp,
jacfwd, jacrev, hessian and grad of grad (and with finite differences through
check_grads); a rule that is deliberately not the derivative is what every transformation
follows (grad, jvp, jit, vmap, in any order); the call is one `custom_jvp_call` equation
with the function's graph nested; several arguments, pytrees, integer arguments and static
arguments (nondiff_argnums: a callable, an int); errors that name the rule.
custom_vjp with nondiff_argnums: the static arguments go to the backward rule first, the
gradients are those of the other arguments, under jit and vmap too.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import (custom_jvp, custom_vjp, grad, hessian, jacfwd, jacrev, jit, make_graph,
                      tree, vmap)
from funcgrad.testing import check_grads

NDArray = np.ndarray[Any, Any]

X = np.array([-3.0, -0.7, 0.0, 0.4, 2.5])
T = np.array([1.0, -2.0, 0.5, 3.0, -1.5])


def sigmoid(x: NDArray) -> NDArray:
    out: NDArray = 1.0 / (1.0 + np.exp(-x))
    return out


# ---------------------------------------------------------------------------- a true rule


@custom_jvp
def softplus(x: Any) -> Any:
    """log(1 + exp(x)); its derivative sigmoid(x) given as the rule, written with fnp."""
    return fnp.log1p(fnp.exp(x))


@softplus.defjvp
def softplus_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    return softplus(x), t / (1.0 + fnp.exp(-x))


def sum_softplus(x: Any) -> Any:
    return fnp.sum(softplus(x))


def test_true_rule_value_grad_and_jvp() -> None:
    s = sigmoid(X)
    value = softplus(X)
    assert isinstance(value, np.ndarray)
    np.testing.assert_allclose(value, np.log1p(np.exp(X)), rtol=1e-15)
    np.testing.assert_allclose(grad(sum_softplus)(X), s, rtol=1e-15)
    out, tangent = funcgrad.jvp(softplus, (X,), (T,))
    np.testing.assert_allclose(out, np.log1p(np.exp(X)), rtol=1e-15)
    np.testing.assert_allclose(tangent, T * s, rtol=1e-15)
    # linearize gives the same tangents, for any direction
    _, f_jvp = funcgrad.linearize(softplus, X)
    np.testing.assert_allclose(f_jvp(T), T * s, rtol=1e-15)
    np.testing.assert_allclose(f_jvp(2.0 * T), 2.0 * T * s, rtol=1e-15)
    # defjvp used as a decorator hands the rule back, callable on numpy arrays
    rule_out, rule_tangent = softplus_jvp((X,), (T,))
    np.testing.assert_allclose(rule_out, np.log1p(np.exp(X)), rtol=1e-15)
    np.testing.assert_allclose(rule_tangent, T * s, rtol=1e-15)


def test_true_rule_jacobians_and_hessian() -> None:
    s = sigmoid(X)
    np.testing.assert_allclose(jacfwd(softplus)(X), np.diag(s), rtol=1e-15, atol=0)
    np.testing.assert_allclose(jacrev(softplus)(X), np.diag(s), rtol=1e-15, atol=0)
    np.testing.assert_allclose(hessian(sum_softplus)(X), np.diag(s * (1 - s)),
                               rtol=1e-12, atol=1e-15)


def test_true_rule_higher_orders() -> None:
    s = sigmoid(X)
    g1 = grad(sum_softplus)
    g2 = grad(lambda x: fnp.sum(g1(x)))
    np.testing.assert_allclose(g2(X), s * (1 - s), rtol=1e-12)
    g3 = grad(lambda x: fnp.sum(g2(x)))
    np.testing.assert_allclose(g3(X), s * (1 - s) * (1 - 2 * s), rtol=1e-10, atol=1e-15)
    # the derivative of the tangent map: jvp of grad
    _, t2 = funcgrad.jvp(g1, (X,), (T,))
    np.testing.assert_allclose(t2, T * s * (1 - s), rtol=1e-12)


def test_true_rule_against_finite_differences() -> None:
    check_grads(softplus, (X,), order=2)
    check_grads(lambda x: fnp.sum(softplus(x) ** 2), (X,), order=2)
    check_grads(lambda x: softplus(fnp.sin(x)) * x, (X,), order=2)


def test_true_rule_under_jit_and_vmap() -> None:
    s = sigmoid(X)
    jg = jit(grad(sum_softplus))
    np.testing.assert_allclose(jg(X), s, rtol=1e-15)
    np.testing.assert_allclose(jg(X + 1.0), sigmoid(X + 1.0), rtol=1e-15)
    assert jg.trace_count == 1
    np.testing.assert_allclose(grad(jit(sum_softplus))(X), s, rtol=1e-15)
    xs = np.stack([X, -X, 0.5 * X])
    np.testing.assert_allclose(vmap(softplus)(xs), np.log1p(np.exp(xs)), rtol=1e-15)
    np.testing.assert_allclose(vmap(grad(sum_softplus))(xs), sigmoid(xs), rtol=1e-15)
    np.testing.assert_allclose(vmap(hessian(sum_softplus))(xs),
                               np.stack([np.diag(sigmoid(r) * (1 - sigmoid(r))) for r in xs]),
                               rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------- a wrong rule


calls: list[str] = []


@custom_jvp
def doubled(x: Any) -> Any:
    """The identity, whose rule claims the derivative 2."""
    calls.append("fun")
    return x


@doubled.defjvp
def doubled_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    calls.append("jvp")
    return primals[0], 2.0 * tangents[0]


def sum_doubled(x: Any) -> Any:
    return fnp.sum(doubled(x))


TWOS = np.full(X.shape, 2.0)


def test_wrong_rule_is_what_grad_and_jvp_follow() -> None:
    np.testing.assert_array_equal(doubled(X), X)  # the value is the function's
    np.testing.assert_array_equal(grad(sum_doubled)(X), TWOS)
    out, tangent = funcgrad.jvp(doubled, (X,), (T,))
    np.testing.assert_array_equal(out, X)
    np.testing.assert_array_equal(tangent, 2.0 * T)
    np.testing.assert_array_equal(jacfwd(doubled)(X), 2.0 * np.eye(5))
    np.testing.assert_array_equal(jacrev(doubled)(X), 2.0 * np.eye(5))
    # the chain rule goes through it: d/dx sin(f(x)) = cos(x) * 2
    np.testing.assert_allclose(grad(lambda x: fnp.sum(fnp.sin(doubled(3.0 * x))))(X),
                               6.0 * np.cos(3.0 * X), rtol=1e-15)
    # second order: d/dx sum(f(x)**2) = 2 f(x) * 2 = 4x, whose derivative is 4
    g = grad(lambda x: fnp.sum(doubled(x) ** 2))
    np.testing.assert_array_equal(g(X), 4.0 * X)
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(g(x)))(X), np.full(5, 4.0))
    np.testing.assert_array_equal(hessian(lambda x: fnp.sum(doubled(x) ** 2))(X),
                                  4.0 * np.eye(5))


def test_wrong_rule_under_jit_and_vmap() -> None:
    xs = np.stack([X, X + 1.0, -X])
    jg = jit(grad(sum_doubled))
    np.testing.assert_array_equal(jg(X), TWOS)
    np.testing.assert_array_equal(jg(X * 3.0), TWOS)
    assert jg.trace_count == 1
    np.testing.assert_array_equal(grad(jit(sum_doubled))(X), TWOS)
    np.testing.assert_array_equal(vmap(grad(sum_doubled))(xs), np.full(xs.shape, 2.0))
    np.testing.assert_array_equal(grad(lambda xs: fnp.sum(vmap(doubled)(xs)))(xs),
                                  np.full(xs.shape, 2.0))
    np.testing.assert_array_equal(grad(lambda xs: fnp.sum(vmap(sum_doubled)(xs)))(xs),
                                  np.full(xs.shape, 2.0))
    out, tangent = funcgrad.jvp(jit(doubled), (X,), (T,))
    np.testing.assert_array_equal(out, X)
    np.testing.assert_array_equal(tangent, 2.0 * T)
    out, tangent = funcgrad.jvp(vmap(doubled), (xs,), (xs * 0.5,))
    np.testing.assert_array_equal(out, xs)
    np.testing.assert_array_equal(tangent, xs)
    # vmap over a batch of tangents (jacfwd does this internally too)
    tangents = np.stack([T, 2.0 * T])
    batched = vmap(lambda t: funcgrad.jvp(doubled, (X,), (t,))[1])(tangents)
    np.testing.assert_array_equal(batched, 2.0 * tangents)
    np.testing.assert_array_equal(jit(vmap(grad(sum_doubled)))(xs), np.full(xs.shape, 2.0))


def test_make_graph_prints_one_equation_with_the_function_nested() -> None:
    x = np.ones(3, np.float32)
    text = str(make_graph(lambda x: fnp.sum(doubled(x * 3.0)))(x))
    lines = text.splitlines()
    assert lines[0] == "graph(a:f32[3]) {"
    eqn = next(i for i, line in enumerate(lines) if "custom_jvp_call[" in line)
    assert re.fullmatch(r"  \w+:f32\[3\] = custom_jvp_call\[name=doubled, jvp=doubled_jvp\] \w+",
                        lines[eqn]), lines[eqn]
    assert re.fullmatch(r"    fun: graph\(\w+:f32\[3\]\) \{", lines[eqn + 1]), lines[eqn + 1]
    assert sum("custom_jvp_call" in line for line in lines) == 1
    assert re.search(r"^  \w+:f32\[\] = reduce_sum\[axes=\(0,\)\] \w+$", text, re.M)
    # the softplus graph holds its operations, nested one level deeper
    sp = str(make_graph(sum_softplus)(x)).splitlines()
    start = next(i for i, line in enumerate(sp) if "custom_jvp_call[name=softplus" in line)
    assert sp[start + 1].startswith("    fun: graph(")
    for name in ("exp", "log1p"):
        assert any(re.fullmatch(rf"      \w+:f32\[3\] = {name} \w+", line)
                   for line in sp[start + 1:]), name


def test_the_function_runs_on_numpy_and_the_rule_only_when_needed() -> None:
    calls.clear()
    out = doubled(X)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, X)
    assert calls == ["fun"]  # plain numpy arguments: the function itself, once
    calls.clear()
    make_graph(sum_doubled)(X)
    assert calls == ["fun"]  # traced once for its graph; the rule is never traced
    calls.clear()
    jf = jit(doubled)
    jf(X)
    jf(X + 1.0)
    assert calls == ["fun"]
    calls.clear()
    grad(sum_doubled)(X)
    assert calls.count("fun") == 1 and "jvp" in calls


# ---------------------------------------------------------------------------- several arguments


@custom_jvp
def mul_sin(x: Any, y: Any) -> Any:
    """x * sin(y)."""
    return x * fnp.sin(y)


@mul_sin.defjvp
def mul_sin_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (x, y), (tx, ty) = primals, tangents
    return mul_sin(x, y), tx * fnp.sin(y) + x * fnp.cos(y) * ty


def test_several_arguments() -> None:
    x, y = np.array([1.5, -2.0, 0.3]), np.array([0.2, 1.1, -0.9])
    tx, ty = np.array([1.0, 0.5, -1.0]), np.array([-0.3, 2.0, 1.0])
    np.testing.assert_allclose(mul_sin(x, y), x * np.sin(y), rtol=1e-15)
    gx, gy = grad(lambda x, y: fnp.sum(mul_sin(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, np.sin(y), rtol=1e-15)
    np.testing.assert_allclose(gy, x * np.cos(y), rtol=1e-15)
    # only one argument differentiated
    np.testing.assert_allclose(grad(lambda y: fnp.sum(mul_sin(x, y)))(y), x * np.cos(y),
                               rtol=1e-15)
    _, tangent = funcgrad.jvp(mul_sin, (x, y), (tx, ty))
    np.testing.assert_allclose(tangent, tx * np.sin(y) + x * np.cos(y) * ty, rtol=1e-15)
    # a traced and an untraced argument
    _, tangent = funcgrad.jvp(lambda y: mul_sin(x, y), (y,), (ty,))
    np.testing.assert_allclose(tangent, x * np.cos(y) * ty, rtol=1e-15)
    check_grads(mul_sin, (x, y), order=2)
    # the Hessian of sum(x sin y) in (x, y): blocks [[0, cos y], [cos y, -x sin y]]
    h = hessian(lambda x, y: fnp.sum(mul_sin(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(h[0][0], np.zeros((3, 3)), atol=1e-15)
    np.testing.assert_allclose(h[0][1], np.diag(np.cos(y)), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(h[1][0], np.diag(np.cos(y)), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(h[1][1], np.diag(-x * np.sin(y)), rtol=1e-14, atol=1e-15)
    # vmap with one argument mapped
    ys = np.stack([y, 2.0 * y])
    np.testing.assert_allclose(
        vmap(grad(lambda x, y: fnp.sum(mul_sin(x, y)), argnums=(0, 1)), in_axes=(None, 0))(x, ys)[1],
        x * np.cos(ys), rtol=1e-15)


@custom_jvp
def model(params: dict[str, Any], inputs: tuple[Any, Any]) -> dict[str, Any]:
    """A pytree in, a pytree out: {'y': w * a + b, 'z': (sum(c) * b, exp(w))}."""
    a, c = inputs
    return {"y": params["w"] * a + params["b"],
            "z": (fnp.sum(c) * params["b"], fnp.exp(params["w"]))}


@model.defjvp
def model_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (p, (a, c)), (tp, (ta, tc)) = primals, tangents
    w, b = p["w"], p["b"]
    ty = tp["w"] * a + w * ta + tp["b"]
    tz = (fnp.sum(tc) * b + fnp.sum(c) * tp["b"], fnp.exp(w) * tp["w"])
    return model(p, (a, c)), {"y": ty, "z": tz}


P0 = {"w": np.array([0.5, -1.0]), "b": np.array([2.0, 0.25])}
IN0 = (np.array([3.0, -2.0]), np.array([1.0, 2.0, 4.0]))


def test_pytree_arguments_and_outputs() -> None:
    out = model(P0, IN0)
    assert tree.structure(out) == tree.structure({"y": 0, "z": (0, 0)})
    np.testing.assert_array_equal(out["y"], [3.5, 2.25])

    def loss(p: Any, inputs: Any) -> Any:
        o = model(p, inputs)
        return fnp.sum(o["y"] * np.array([1.0, 2.0])) + fnp.sum(o["z"][0]) + fnp.sum(o["z"][1])

    gp, gin = grad(loss, argnums=(0, 1))(P0, IN0)
    assert tree.structure(gp) == tree.structure(P0)
    assert tree.structure(gin) == tree.structure(IN0)
    gy = np.array([1.0, 2.0])
    np.testing.assert_allclose(gp["w"], gy * IN0[0] + np.exp(P0["w"]), rtol=1e-15)
    np.testing.assert_allclose(gp["b"], gy + 7.0, rtol=1e-15)
    np.testing.assert_allclose(gin[0], gy * P0["w"], rtol=1e-15)
    np.testing.assert_allclose(gin[1], np.full(3, P0["b"].sum()), rtol=1e-15)
    # jvp with pytree tangents gives a pytree of output tangents
    tp = {"w": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    tin = (np.array([0.5, 0.5]), np.array([1.0, 0.0, -1.0]))
    _, t_out = funcgrad.jvp(model, (P0, IN0), (tp, tin))
    assert tree.structure(t_out) == tree.structure(out)
    np.testing.assert_allclose(t_out["y"], tp["w"] * IN0[0] + P0["w"] * tin[0] + tp["b"],
                               rtol=1e-15)
    np.testing.assert_allclose(t_out["z"][0], 0.0 * P0["b"] + 7.0 * tp["b"], rtol=1e-15)
    np.testing.assert_allclose(t_out["z"][1], np.exp(P0["w"]) * tp["w"], rtol=1e-15)
    check_grads(model, (P0, IN0), order=2)


@custom_jvp
def scale_by(x: Any, n: Any) -> Any:
    """x * n with n an integer array: an argument that is not differentiated."""
    return x * n


@scale_by.defjvp
def scale_by_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (x, n), (tx, _) = primals, tangents
    return scale_by(x, n), tx * n


def test_integer_argument_is_not_differentiated() -> None:
    n = np.array([1, 2, 3])
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_array_equal(scale_by(x, n), x * n)
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(scale_by(x, n)))(x), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(scale_by(x, 4)))(x), [4.0] * 3)
    np.testing.assert_array_equal(
        jit(grad(lambda x, n: fnp.sum(scale_by(x, n))))(x, n), [1.0, 2.0, 3.0])
    ns = np.array([[1, 1, 1], [0, 5, -2]])
    np.testing.assert_array_equal(
        vmap(grad(lambda x, n: fnp.sum(scale_by(x, n))), in_axes=(None, 0))(x, ns),
        ns.astype(float))
    check_grads(lambda x: scale_by(x, n), (x,), order=2)


# ---------------------------------------------------------------------------- nondiff_argnums


@functools.partial(custom_jvp, nondiff_argnums=(1,))
def power(x: Any, n: int) -> Any:
    """x ** n for a static Python int n."""
    out = fnp.ones_like(x)
    for _ in range(n):  # n is a Python int: usable for Python control flow
        out = out * x
    return out


@power.defjvp
def power_jvp(n: int, primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    assert type(n) is int  # static: passed as it is, first
    (x,), (t,) = primals, tangents
    return power(x, n), (n * power(x, n - 1) * t if n > 0 else 0.0 * t)


def test_nondiff_int_argument() -> None:
    x = np.array([0.5, -1.5, 2.0])
    np.testing.assert_allclose(power(x, 3), x ** 3, rtol=1e-15)
    np.testing.assert_allclose(grad(lambda x: fnp.sum(power(x, 3)))(x), 3 * x ** 2, rtol=1e-15)
    np.testing.assert_allclose(grad(lambda x: fnp.sum(power(x, n=4)))(x), 4 * x ** 3,
                               rtol=1e-15)  # a keyword is bound to its position
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(power(x, 0)))(x), np.zeros(3))
    np.testing.assert_allclose(hessian(lambda x: fnp.sum(power(x, 3)))(x), np.diag(6 * x),
                               rtol=1e-14, atol=1e-15)
    _, tangent = funcgrad.jvp(lambda x: power(x, 5), (x,), (np.ones(3),))
    np.testing.assert_allclose(tangent, 5 * x ** 4, rtol=1e-15)
    check_grads(lambda x: power(x, 3), (x,), order=2)
    np.testing.assert_allclose(jit(grad(lambda x: fnp.sum(power(x, 3))))(x), 3 * x ** 2,
                               rtol=1e-15)
    xs = np.stack([x, x + 1.0])
    np.testing.assert_allclose(vmap(grad(lambda x: fnp.sum(power(x, 3))))(xs), 3 * xs ** 2,
                               rtol=1e-15)
    # the static argument is a parameter, not an operand: one input to the equation
    text = str(make_graph(lambda x: power(x, 3))(x))
    assert re.search(r"= custom_jvp_call\[name=power, jvp=power_jvp\] a$", text, re.M), text


@functools.partial(custom_jvp, nondiff_argnums=(0, 1))
def apply(fn: Any, derivative: Any, x: Any) -> Any:
    """fn(x), with the derivative given as a static callable."""
    return fn(x)


@apply.defjvp
def apply_jvp(fn: Any, derivative: Any, primals: tuple[Any, ...], tangents: tuple[Any, ...]
              ) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    return apply(fn, derivative, x), derivative(x) * t


def test_nondiff_callable_argument() -> None:
    np.testing.assert_allclose(apply(fnp.sin, fnp.cos, X), np.sin(X), rtol=1e-15)
    np.testing.assert_allclose(grad(lambda x: fnp.sum(apply(fnp.sin, fnp.cos, x)))(X),
                               np.cos(X), rtol=1e-15)
    np.testing.assert_allclose(
        grad(lambda x: fnp.sum(apply(fnp.tanh, lambda x: 1.0 - fnp.tanh(x) ** 2, x)))(X),
        1.0 - np.tanh(X) ** 2, rtol=1e-14)
    check_grads(lambda x: apply(fnp.sin, fnp.cos, x), (X,), order=2)
    # a wrong derivative is followed: the callable reaches the rule
    np.testing.assert_allclose(grad(lambda x: fnp.sum(apply(fnp.sin, fnp.exp, x)))(X),
                               np.exp(X), rtol=1e-15)
    _, tangent = funcgrad.jvp(lambda x: apply(fnp.sin, fnp.exp, x), (X,), (T,))
    np.testing.assert_allclose(tangent, np.exp(X) * T, rtol=1e-15)
    xs = np.stack([X, 2.0 * X])
    np.testing.assert_allclose(
        vmap(grad(lambda x: fnp.sum(apply(fnp.sin, fnp.cos, x))))(xs), np.cos(xs), rtol=1e-15)
    np.testing.assert_allclose(
        jit(grad(lambda x: fnp.sum(apply(fnp.sin, fnp.cos, x))))(X), np.cos(X), rtol=1e-15)
    np.testing.assert_allclose(
        grad(jit(lambda x: fnp.sum(apply(fnp.sin, fnp.cos, x))))(X), np.cos(X), rtol=1e-15)


@functools.partial(custom_jvp, nondiff_argnums=(-1,))
def shifted(x: Any, k: float) -> Any:
    return x + k


shifted.defjvp(lambda k, primals, tangents: (shifted(primals[0], k), k * tangents[0]))


def test_negative_nondiff_argnum() -> None:
    np.testing.assert_array_equal(shifted(X, 2.0), X + 2.0)
    # the rule claims the derivative k
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(shifted(x, 3.0)))(X), np.full(5, 3.0))


# ---------------------------------------------------------------------------- errors


def test_error_rule_missing() -> None:
    @custom_jvp
    def undefined(x: Any) -> Any:
        return x

    message = r"custom_jvp function undefined has no rule yet: call undefined\.defjvp\(jvp\) first"
    with pytest.raises(TypeError, match=message):
        undefined(np.ones(2))
    with pytest.raises(TypeError, match=message):
        grad(lambda x: fnp.sum(undefined(x)))(np.ones(2))
    with pytest.raises(TypeError, match=message):
        jit(undefined)(np.ones(2))


def rule_wrong_structure(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    return fnp.sin(primals[0]), (tangents[0], tangents[0])


def rule_wrong_shape(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    return fnp.sin(primals[0]), fnp.sum(tangents[0])


def rule_wrong_dtype(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    return fnp.sin(primals[0]), fnp.astype(tangents[0], np.float32)


def rule_wrong_output(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    return [fnp.sin(primals[0])], tangents[0]


@pytest.mark.parametrize("rule,match", [
    (rule_wrong_structure, r"custom_jvp: the rule rule_wrong_structure of sine returned "
                           r"structures PyTreeDef\(\*\) and PyTreeDef\(\(\*, \*\)\); sine "
                           r"returns PyTreeDef\(\*\)"),
    (rule_wrong_output, r"custom_jvp: the rule rule_wrong_output of sine returned structures "
                        r"PyTreeDef\(\[\*\]\) and PyTreeDef\(\*\)"),
    (rule_wrong_shape, r"custom_jvp: the rule rule_wrong_shape of sine returned a tangent "
                       r"f64\[\] for an output f64\[3\]"),
    (rule_wrong_dtype, r"custom_jvp: the rule rule_wrong_dtype of sine returned a tangent "
                       r"f32\[3\] for an output f64\[3\]"),
])
def test_error_rule_returns_the_wrong_thing(rule: Any, match: str) -> None:
    @custom_jvp
    def sine(x: Any) -> Any:
        return fnp.sin(x)

    sine.defjvp(rule)
    x = np.array([0.1, 0.2, 0.3])
    with pytest.raises(TypeError, match=match):
        grad(lambda x: fnp.sum(sine(x)))(x)
    with pytest.raises(TypeError, match=match):
        funcgrad.jvp(sine, (x,), (x,))
    with pytest.raises(TypeError, match=match):
        jit(grad(lambda x: fnp.sum(sine(x))))(x)
    np.testing.assert_allclose(sine(x), np.sin(x), rtol=1e-15)  # the function still runs
    sine.defjvp(lambda p, t: (sine(p[0]), fnp.cos(p[0]) * t[0]))  # a right rule: fine again
    np.testing.assert_allclose(grad(lambda x: fnp.sum(sine(x)))(x), np.cos(x), rtol=1e-15)


CLOSURE = (r"the custom_jvp function scaled reads a traced value \(f64\[\d*\]\) from outside "
           r"its arguments \(a closure or a global\)\. A custom rule must see everything it "
           r"differentiates: pass the value as an argument")


def closing_over(y: Any) -> Any:
    """A custom_jvp function reading y from its closure, called on an argument made from y."""

    @custom_jvp
    def scaled(x: Any) -> Any:
        return x * y

    scaled.defjvp(lambda p, t: (scaled(p[0]), t[0] * y))
    return fnp.sum(scaled(fnp.ones(2) * y))


def test_error_function_closes_over_a_traced_value() -> None:
    y = np.array(3.0)
    with pytest.raises(TypeError, match=CLOSURE):
        grad(closing_over)(y)
    with pytest.raises(TypeError, match=CLOSURE):
        jit(closing_over)(y)
    with pytest.raises(TypeError, match=CLOSURE):
        make_graph(closing_over)(y)
    with pytest.raises(TypeError, match=CLOSURE):
        vmap(closing_over)(np.ones(3))
    with pytest.raises(TypeError, match=CLOSURE):
        funcgrad.jvp(closing_over, (y,), (y,))
    # without a transformation the value is a plain array: nothing is traced, all is well
    assert float(closing_over(y)) == 18.0


def rule_closing_over(x: Any, y: Any) -> Any:
    """A custom_jvp function of x whose rule (not the function) reads y from its closure."""

    @custom_jvp
    def ident(x: Any) -> Any:
        return x

    def ident_jvp(p: tuple[Any, ...], t: tuple[Any, ...]) -> tuple[Any, Any]:
        return ident(p[0]), t[0] * y

    ident.defjvp(ident_jvp)
    return fnp.sum(ident(x))


RULE_CLOSURE = (r"the JVP rule ident_jvp of ident reads a traced value \(f64\[\d*\]\) from "
                r"outside its arguments .* pass the value as an argument")


def test_error_rule_closes_over_a_value_of_an_enclosing_transformation() -> None:
    # y belongs to the outer transformation, the inner grad differentiates x only
    def outer(y: Any) -> Any:
        return fnp.sum(grad(rule_closing_over)(X, y))

    with pytest.raises(TypeError, match=RULE_CLOSURE):
        grad(outer)(np.array(3.0))
    with pytest.raises(TypeError, match=RULE_CLOSURE):
        jit(outer)(np.array(3.0))
    with pytest.raises(TypeError, match=RULE_CLOSURE):
        vmap(outer)(np.ones(3))
    np.testing.assert_array_equal(outer(np.array(3.0)), 15.0)  # y not traced: it is fine


def test_error_rule_closes_over_the_differentiated_value() -> None:
    # The same mistake, y being the value grad differentiates: the same clear error.
    def f(y: Any) -> Any:
        return rule_closing_over(fnp.ones(2) * y, y)

    with pytest.raises(TypeError, match=RULE_CLOSURE):
        grad(f)(np.array(3.0))
    with pytest.raises(TypeError, match=RULE_CLOSURE):
        jit(grad(f))(np.array(3.0))
    with pytest.raises(TypeError, match=RULE_CLOSURE):
        funcgrad.jvp(f, (np.array(3.0),), (np.array(1.0),))


# ---------------------------------------------------------------------------- custom_vjp nondiff


@functools.partial(custom_vjp, nondiff_argnums=(0, 2))
def gated(fn: Any, x: Any, k: int, y: Any) -> Any:
    """fn(x) * y * k, with fn and k static."""
    return fn(x) * y * k


def gated_fwd(fn: Any, x: Any, k: int, y: Any) -> tuple[Any, Any]:
    assert type(k) is int  # the static arguments in their places
    return gated(fn, x, k, y), (x, y)


def gated_bwd(fn: Any, k: int, res: Any, g: Any) -> tuple[Any, Any]:
    assert type(k) is int  # the static arguments first
    x, y = res
    # deliberately 10x the true gradient of x, to see that this rule is what grad uses
    return 10.0 * g * y * k * fnp.cos(x), g * fn(x) * k


gated.defvjp(gated_fwd, gated_bwd)

GX = np.array([0.1, 0.5, -1.2])
GY = np.array([2.0, 3.0, -0.5])


def gated_loss(x: Any, y: Any) -> Any:
    return fnp.sum(gated(fnp.sin, x, 2, y))


def test_custom_vjp_nondiff_argnums_gradients() -> None:
    np.testing.assert_allclose(gated(fnp.sin, GX, 2, GY), 2 * np.sin(GX) * GY, rtol=1e-15)
    gx, gy = grad(gated_loss, argnums=(0, 1))(GX, GY)
    np.testing.assert_allclose(gx, 20.0 * GY * np.cos(GX), rtol=1e-15)
    np.testing.assert_allclose(gy, 2.0 * np.sin(GX), rtol=1e-15)
    np.testing.assert_allclose(grad(gated_loss, argnums=1)(GX, GY), 2.0 * np.sin(GX),
                               rtol=1e-15)
    # another static callable and int reach the rules
    np.testing.assert_allclose(
        grad(lambda y: fnp.sum(gated(fnp.exp, GX, 3, y)))(GY), 3.0 * np.exp(GX), rtol=1e-15)
    # keyword arguments are bound to their positions
    np.testing.assert_allclose(
        grad(lambda x: fnp.sum(gated(fnp.sin, x, k=2, y=GY)))(GX), 20.0 * GY * np.cos(GX),
        rtol=1e-15)


def test_custom_vjp_nondiff_argnums_under_jit_and_vmap() -> None:
    jg = jit(grad(gated_loss, argnums=(0, 1)))
    for scale in (1.0, 2.0):
        gx, gy = jg(GX * scale, GY)
        np.testing.assert_allclose(gx, 20.0 * GY * np.cos(GX * scale), rtol=1e-15)
        np.testing.assert_allclose(gy, 2.0 * np.sin(GX * scale), rtol=1e-15)
    assert jg.trace_count == 1
    gx, gy = grad(jit(gated_loss), argnums=(0, 1))(GX, GY)
    np.testing.assert_allclose(gx, 20.0 * GY * np.cos(GX), rtol=1e-15)
    np.testing.assert_allclose(gy, 2.0 * np.sin(GX), rtol=1e-15)
    xs = np.stack([GX, 2.0 * GX, -GX])
    gxs, gys = vmap(grad(gated_loss, argnums=(0, 1)), in_axes=(0, None))(xs, GY)
    np.testing.assert_allclose(gxs, 20.0 * GY * np.cos(xs), rtol=1e-15)
    np.testing.assert_allclose(gys, 2.0 * np.sin(xs), rtol=1e-15)
    ys = np.stack([GY, GY + 1.0])
    gxs, gys = vmap(grad(gated_loss, argnums=(0, 1)), in_axes=(None, 0))(GX, ys)
    np.testing.assert_allclose(gxs, 20.0 * ys * np.cos(GX), rtol=1e-15)
    np.testing.assert_allclose(gys, np.broadcast_to(2.0 * np.sin(GX), ys.shape), rtol=1e-15)
    # grad of a vmapped call
    g = grad(lambda xs: fnp.sum(vmap(lambda x: gated(fnp.sin, x, 2, GY))(xs)))(xs)
    np.testing.assert_allclose(g, 20.0 * GY * np.cos(xs), rtol=1e-15)


def test_custom_vjp_nondiff_bwd_returns_only_the_other_arguments() -> None:
    @functools.partial(custom_vjp, nondiff_argnums=(1,))
    def times(x: Any, n: int) -> Any:
        return x * n

    times.defvjp(lambda x, n: (times(x, n), None), lambda n, res, g: (g * n, None))
    with pytest.raises(TypeError, match=r"custom_vjp: the backward rule <lambda> of times must "
                                        r"return a tuple with one entry per argument \(1\), "
                                        r"got a tuple of 2"):
        grad(lambda x: fnp.sum(times(x, 3)))(GX)
    times.defvjp(lambda x, n: (times(x, n), None), lambda n, res, g: (g * n,))
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(times(x, 3)))(GX), np.full(3, 3.0))
    check_grads(lambda x: times(x, 3), (GX,), order=2)
