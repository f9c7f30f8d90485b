"""Hypothesis-generated compositions: random expression trees of smooth funcgrad.numpy
operations over random (broadcast-compatible) shapes, checked with check_grads and against
numpy.

Every operation in the pool is smooth everywhere on its (bounded) inputs; unbounded ones are
squashed with tanh first, so nothing overflows and finite differences stay accurate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import tree
from funcgrad.testing import check_grads

# ("var", i) | ("unary", name, e) | ("binary", name, e1, e2) | ("reduce", name, axis, e)
Expr = tuple[Any, ...]

# Each op is given twice: built from funcgrad.numpy, and from plain numpy as the reference.
UNARY: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "tanh": (fnp.tanh, np.tanh),
    "sin": (fnp.sin, np.sin),
    "cos": (fnp.cos, np.cos),
    "neg": (fnp.negative, np.negative),
    "exp_tanh": (lambda x: fnp.exp(fnp.tanh(x)), lambda x: np.exp(np.tanh(x))),
    "expm1_tanh": (lambda x: fnp.expm1(fnp.tanh(x)), lambda x: np.expm1(np.tanh(x))),
    "log_1_plus_sq": (lambda x: fnp.log(1.0 + x * x), lambda x: np.log(1.0 + x * x)),
    "log1p_half_tanh": (lambda x: fnp.log1p(0.5 * fnp.tanh(x)),
                        lambda x: np.log1p(0.5 * np.tanh(x))),
    "sqrt_1_plus_sq": (lambda x: fnp.sqrt(1.0 + fnp.square(x)), lambda x: np.sqrt(1.0 + x * x)),
    "tanh_cubed": (lambda x: fnp.tanh(x) ** 3, lambda x: np.tanh(x) ** 3),
    "sin_over_2_plus_cos": (lambda x: fnp.sin(x) / (2.0 + fnp.cos(x)),
                            lambda x: np.sin(x) / (2.0 + np.cos(x))),
    "reverse_first_axis": (lambda x: x[::-1] if x.ndim else -x,
                           lambda x: x[::-1] if x.ndim else -x),
}

BINARY: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    "add": (fnp.add, np.add),
    "sub": (lambda x, y: x - y, np.subtract),
    "mul": (lambda x, y: x * y, np.multiply),
    "div": (lambda x, y: x / (2.0 + fnp.tanh(y)), lambda x, y: x / (2.0 + np.tanh(y))),
    "pow": (lambda x, y: (1.5 + fnp.tanh(x)) ** fnp.tanh(y),
            lambda x, y: (1.5 + np.tanh(x)) ** np.tanh(y)),
    # both branches have the same value, computed along different paths: smooth, yet a
    # wrong routing of the gradient through select would show
    "where": (lambda x, y: fnp.where(x > 0, fnp.sin(x) * y, y * fnp.sin(x)),
              lambda x, y: np.sin(x) * y),
}

# reductions keep their axes (keepdims=True), so every result still broadcasts against the
# others; the axis is drawn as a number and taken modulo the operand's rank
REDUCE: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    "sum": (lambda x, a: fnp.sum(x, axis=a, keepdims=True),
            lambda x, a: np.sum(x, axis=a, keepdims=True)),
    "mean": (lambda x, a: fnp.mean(x, axis=a, keepdims=True),
             lambda x, a: np.mean(x, axis=a, keepdims=True)),
    "var": (lambda x, a: fnp.var(x, axis=a, keepdims=True),
            lambda x, a: np.var(x, axis=a, keepdims=True)),
    "prod_tanh": (lambda x, a: fnp.prod(fnp.tanh(x), axis=a, keepdims=True),
                  lambda x, a: np.prod(np.tanh(x), axis=a, keepdims=True)),
}


def evaluate(expr: Expr, inputs: tuple[Any, ...], numpy: bool) -> Any:
    """Evaluate the tree with funcgrad.numpy (numpy=False) or with numpy itself."""
    kind = expr[0]
    k = 1 if numpy else 0
    if kind == "var":
        return inputs[expr[1]]
    if kind == "unary":
        return UNARY[expr[1]][k](evaluate(expr[2], inputs, numpy))
    if kind == "binary":
        return BINARY[expr[1]][k](evaluate(expr[2], inputs, numpy),
                                  evaluate(expr[3], inputs, numpy))
    assert kind == "reduce"
    x = evaluate(expr[3], inputs, numpy)
    axis = expr[2] % x.ndim if x.ndim else None
    return REDUCE[expr[1]][k](x, axis)


def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.tuples(st.just("unary"), st.sampled_from(sorted(UNARY)), children),
        st.tuples(st.just("binary"), st.sampled_from(sorted(BINARY)), children, children),
        st.tuples(st.just("reduce"), st.sampled_from(sorted(REDUCE)), st.integers(0, 2),
                  children),
    )


N_INPUTS = 3
exprs = st.recursive(st.tuples(st.just("var"), st.integers(0, N_INPUTS - 1)), extend,
                     max_leaves=6)


@st.composite
def shapes_and_inputs(draw: st.DrawFn) -> tuple[Any, ...]:
    """Up to three inputs whose shapes broadcast together (some axes of length one)."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=N_INPUTS, min_dims=0,
                                                    max_dims=3, max_side=3))
    elements = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, width=64)
    return tuple(draw(hnp.arrays(np.float64, s, elements=elements))
                 for s in shapes.input_shapes)


SETTINGS = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def as_function(expr: Expr) -> Callable[..., Any]:
    def f(*inputs: Any) -> Any:
        return evaluate(expr, inputs, numpy=False)
    return f


@SETTINGS
@given(expr=exprs, inputs=shapes_and_inputs(), order=st.sampled_from([1, 2]))
def test_random_compositions_check_grads(expr: Expr, inputs: tuple[Any, ...],
                                         order: int) -> None:
    check_grads(as_function(expr), inputs, order=order, atol=1e-5, rtol=1e-4)


@SETTINGS
@given(expr=exprs, inputs=shapes_and_inputs())
def test_random_compositions_agree_with_numpy(expr: Expr, inputs: tuple[Any, ...]) -> None:
    f = as_function(expr)
    expected = np.asarray(evaluate(expr, inputs, numpy=True))
    eager = f(*inputs)
    np.testing.assert_allclose(eager, expected, rtol=1e-12, atol=1e-12)
    out, pullback = funcgrad.vjp(f, *inputs)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    graph = funcgrad.make_graph(f)(*inputs)
    np.testing.assert_allclose(graph(*inputs), expected, rtol=1e-12, atol=1e-12)
    grads = pullback(np.ones(np.shape(expected)))
    for g, x in zip(grads, inputs):
        assert g.shape == x.shape and g.dtype == np.float64


@SETTINGS
@given(expr=exprs, inputs=shapes_and_inputs())
def test_random_compositions_float32(expr: Expr, inputs: tuple[Any, ...]) -> None:
    xs = tuple(x.astype(np.float32) for x in inputs)
    out, pullback = funcgrad.vjp(as_function(expr), *xs)
    assert out.dtype == np.float32
    for g in pullback(np.ones(out.shape, np.float32)):
        assert g.dtype == np.float32
    expected = evaluate(expr, xs, numpy=True)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


@SETTINGS
@given(expr=exprs, inputs=shapes_and_inputs())
def test_random_compositions_grad_of_sum_equals_vjp_of_ones(
        expr: Expr, inputs: tuple[Any, ...]) -> None:
    f = as_function(expr)
    g = funcgrad.grad(lambda *xs: fnp.sum(f(*xs)), argnums=tuple(range(N_INPUTS)))(*inputs)
    out, pullback = funcgrad.vjp(f, *inputs)
    v = pullback(np.ones(np.shape(out)))
    assert tree.structure(g) == tree.structure(v)
    for a, b in zip(g, v):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None, database=None, derandomize=True)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                max_side=3),
       op=st.sampled_from(["add", "sub", "mul", "div", "pow"]))
def test_random_broadcast_shapes(shapes: Any, op: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.5, shapes.input_shapes[0])
    y = rng.uniform(0.5, 1.5, shapes.input_shapes[1])
    fn = BINARY[op][0]
    out, pullback = funcgrad.vjp(fn, x, y)
    assert np.shape(out) == shapes.result_shape
    gx, gy = pullback(np.ones(shapes.result_shape))
    assert gx.shape == x.shape and gy.shape == y.shape
    check_grads(fn, (x, y), order=1)
