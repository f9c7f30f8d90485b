"""Tests for funcgrad.numpy (and the primitives' rules behind it).

The shared table of cases (tests/cases/) describes every differentiable function: its
name, the funcgrad.numpy function, the numpy reference, and a generator for each argument.
Parametrised tests here run the table for

* gradients: check_grads(order=2) against finite differences, in float64;
* values: eager results, values under grad and values of the evaluated graph equal numpy's;
* float32: float32 inputs give float32 outputs and float32 gradients.

Separate tests cover every reduction over every axis/keepdims combination, broadcasting on
both sides of the binary operations, dtype promotion with scalars, exact gradients of
repeated indices and `.at` updates, and stop_gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import tree
from funcgrad.testing import check_grads
from cases import (ALL_CASES, CASES, EXTRA_REDUCTIONS, REDUCTION_CASES, Case, assert_tree_allclose,
                   case_params)
from cases.base import MASK, Gen, NDArray, away_from_zero, seeded


# ---------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("case", case_params(CASES + EXTRA_REDUCTIONS))
def test_grads(case: Case) -> None:
    check_grads(case.fn, case.inputs(), order=case.order, eps=case.eps, atol=case.atol,
                rtol=case.rtol)


@pytest.mark.parametrize("case", case_params(REDUCTION_CASES))
def test_reduction_grads(case: Case) -> None:
    check_grads(case.fn, case.inputs(), order=2)


def test_table_covers_every_differentiable_function() -> None:
    """Every row of funcgrad.numpy's table has a case (by name), so each is checked under
    every transformation; the exceptions have no derivative to check."""
    no_derivative = {  # boolean, integer or constant results; tested in their own files
        "less_equal", "greater_equal", "not_equal", "logical_or", "logical_not",
        "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "stop_gradient",
        "asarray", "ones", "zeros_like", "ones_like", "empty_like", "eye", "identity",
        "arange", "matrix_rank"}
    covered_elsewhere = {"getitem": "index_", "conjugate": "conj", "amin": "min"}
    names = " ".join(c.name for c in ALL_CASES)
    missing = [row for row in fnp.TABLE if (short := row.split(".")[-1]) not in names
               and short not in no_derivative
               and covered_elsewhere.get(short, short) not in names]
    assert not missing


def test_repeated_indices_scatter_add_exact() -> None:
    x = np.array([10.0, 20.0, 30.0, 40.0])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    idx = np.array([0, 0, 2, 0])
    g = funcgrad.grad(lambda x: fnp.sum(x[idx] * w))(x)
    # element 0 is read three times (weights 1, 2, 4), element 2 once (weight 3)
    np.testing.assert_array_equal(g, [7.0, 0.0, 3.0, 0.0])
    assert g.dtype == np.float64


def test_repeated_indices_2d_and_mixed_exact() -> None:
    x = np.arange(6.0).reshape(2, 3)
    g = funcgrad.grad(lambda x: fnp.sum(x[np.array([1, 1, 0]), np.array([2, 2, 2])]))(x)
    np.testing.assert_array_equal(g, [[0, 0, 1], [0, 0, 2]])
    # rows selected with repeats, all columns: each row's count lands on the whole row
    g2 = funcgrad.grad(lambda x: fnp.sum(x[np.array([0, 0, 0, 1])] ** 2))(x)
    np.testing.assert_array_equal(g2, [[0.0, 6.0, 12.0], [6.0, 8.0, 10.0]])


def test_repeated_indices_second_order() -> None:
    # f(x) = sum(x[idx] ** 3) with idx = [1, 1]: f = 2 x1^3, f' = 6 x1^2, f'' = 12 x1
    idx = np.array([1, 1])
    x = np.array([0.5, 2.0])

    def df(x: Any) -> Any:
        return funcgrad.grad(lambda x: fnp.sum(x[idx] ** 3))(x)[1]

    g2 = funcgrad.grad(df)(x)
    np.testing.assert_allclose(g2, [0.0, 24.0])


def test_at_add_set_exact() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    v = np.array([10.0, 20.0, 30.0])
    idx = np.array([3, 0, 3])

    def f_add(x: Any, v: Any) -> Any:
        return fnp.sum(x.at[idx].add(v) * np.array([1.0, 2.0, 3.0, 4.0]))

    out, (gx, gv) = funcgrad.value_and_grad(f_add, argnums=(0, 1))(x, v)
    # x becomes [21, 2, 3, 44]
    assert float(out) == 21.0 + 4.0 + 9.0 + 176.0
    np.testing.assert_array_equal(gx, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(gv, [4.0, 1.0, 4.0])

    def f_set(x: Any, v: Any) -> Any:
        return fnp.sum(x.at[1:3].set(v) * np.array([1.0, 2.0, 3.0, 4.0]))

    out, (gx, gv) = funcgrad.value_and_grad(f_set, argnums=(0, 1))(x, np.array([5.0, 6.0]))
    assert float(out) == 1.0 + 10.0 + 18.0 + 16.0
    np.testing.assert_array_equal(gx, [1.0, 0.0, 0.0, 4.0])  # overwritten entries: 0
    np.testing.assert_array_equal(gv, [2.0, 3.0])


def test_at_get_and_result_is_new_array() -> None:
    x = np.array([1.0, 2.0, 3.0])

    def f(x: Any) -> Any:
        y = x.at[0].set(100.0)
        return fnp.sum(x) + y.at[0].get()

    value, g = funcgrad.value_and_grad(f)(x)
    assert float(value) == 106.0
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0])


def test_scalar_boolean_index_under_grad() -> None:
    x = np.arange(3.0)
    out, pullback = funcgrad.vjp(lambda x: fnp.getitem(x, True), x)
    assert out.shape == x[True].shape == (1, 3)
    np.testing.assert_array_equal(pullback(np.ones((1, 3)))[0], np.ones(3))


def test_stop_gradient_is_exactly_zero() -> None:
    x = np.array([0.3, -1.2, 2.0])
    g = funcgrad.grad(lambda x: fnp.sum(fnp.stop_gradient(x) * fnp.sin(x)))(x)
    np.testing.assert_allclose(g, x * np.cos(x), rtol=1e-15)
    g0 = funcgrad.grad(lambda x: fnp.sum(fnp.stop_gradient(fnp.exp(x)) ** 2))(x)
    np.testing.assert_array_equal(g0, np.zeros(3))
    assert g0.dtype == np.float64 and g0.shape == (3,)
    v = funcgrad.grad(lambda x: fnp.sum(funcgrad.stop_gradient(x * x)))(x)
    np.testing.assert_array_equal(v, [0.0, 0.0, 0.0])


def test_integer_power_zero_has_zero_gradient() -> None:
    g = funcgrad.grad(lambda x: fnp.sum(x ** 0 * 3.0))(np.array([1.5, -2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0])


# ---------------------------------------------------------------------------- values


def _ref(case: Case, args: tuple[NDArray, ...]) -> Any:
    out = case.ref(*args)
    return [np.asarray(o) for o in out] if isinstance(out, list) else np.asarray(out)


@pytest.mark.parametrize("case", case_params(ALL_CASES))
def test_eager_values_match_numpy(case: Case) -> None:
    args = case.inputs()
    assert_tree_allclose(case.fn(*args), _ref(case, args), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", case_params(ALL_CASES))
def test_values_under_grad_and_graph_match_numpy(case: Case) -> None:
    args = case.inputs()
    expected = _ref(case, args)
    out, _ = funcgrad.vjp(case.fn, *args)
    assert_tree_allclose(out, expected, rtol=1e-12, atol=1e-12)
    graph = funcgrad.make_graph(case.fn)(*args)
    assert_tree_allclose(graph(*args), expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- float32


@pytest.mark.parametrize("case", case_params([c for c in ALL_CASES if c.f32]))
def test_float32_in_float32_out_and_gradients(case: Case) -> None:
    args = case.inputs(np.float32)
    out, pullback = funcgrad.vjp(case.fn, *args)
    for o in tree.leaves(out):
        assert o.dtype == np.float32, o.dtype
    expected = _ref(case, case.inputs(np.float32))
    assert_tree_allclose(out, expected, rtol=2e-5, atol=1e-5)
    ct = tree.map(lambda o: np.ones(o.shape, o.dtype), out)
    grads = pullback(ct)
    for g, a in zip(grads, args):
        assert g.dtype == np.float32 and g.shape == a.shape, (g.dtype, g.shape)
    graph = funcgrad.make_graph(case.fn)(*args)
    assert all(v.aval.dtype == np.float32 for v in graph.outvars)


def test_float64_stays_float64() -> None:
    x = np.array([1.0, 2.0])
    out, pullback = funcgrad.vjp(lambda x: fnp.sin(x) * 2.0 + 1, x)
    assert out.dtype == np.float64
    assert pullback(np.ones(2))[0].dtype == np.float64


def test_astype_gradients_come_back_in_the_input_dtype() -> None:
    x32 = np.array([1.0, 2.0], np.float32)
    g = funcgrad.grad(lambda x: fnp.sum(fnp.astype(x, np.float64) ** 2))(x32)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [2.0, 4.0])
    x64 = np.array([1.0, 2.0])
    g = funcgrad.grad(lambda x: fnp.sum(fnp.astype(x, np.float32) ** 2))(x64)
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, [2.0, 4.0])


SCALAR_EXPRESSIONS: list[tuple[str, Callable[[Any], Any]]] = [
    ("x * 2.0", lambda x: x * 2.0),
    ("2.0 * x", lambda x: 2.0 * x),
    ("x + 1", lambda x: x + 1),
    ("1 - x", lambda x: 1 - x),
    ("x / 2", lambda x: x / 2),
    ("3.0 / x", lambda x: 3.0 / x),
    ("x ** 2.0", lambda x: x ** 2.0),
    ("x ** 3", lambda x: x ** 3),
    ("2.0 ** x", lambda x: 2.0 ** x),
    ("maximum(x, 0.0)", lambda x: fnp.maximum(x, 0.0)),
    ("minimum(1, x)", lambda x: fnp.minimum(1, x)),
    ("where(x > 0, x, 0.0)", lambda x: fnp.where(x > 0, x, 0.0)),
    ("clip(x, 0, 1)", lambda x: fnp.clip(x, 0, 1)),
    ("x * np.float64(2)", lambda x: x * np.float64(2)),
    ("np.float64(2) + x", lambda x: np.float64(2) + x),
    ("x * np.float32(2)", lambda x: x * np.float32(2)),
    ("x + np.int64(2)", lambda x: x + np.int64(2)),
    ("x * float64 0-d array", lambda x: x * np.array(2.0)),
    ("x * float64 array", lambda x: x * np.array([2.0, 3.0])),
    ("x / int array", lambda x: x / np.array([2, 3])),
    ("where(c, x, float64 array)", lambda x: fnp.where(x > 0, x, np.zeros(2))),
    ("mean(x)", lambda x: fnp.mean(x)),
    ("dot(x, float64 array)", lambda x: fnp.dot(x, np.ones(2))),
    ("concatenate([x, float64 array])", lambda x: fnp.concatenate([x, np.ones(2)])),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("expr", [pytest.param(f, id=n) for n, f in SCALAR_EXPRESSIONS])
def test_promotion_agrees_with_numpy(expr: Callable[[Any], Any], dtype: Any) -> None:
    """Under tracing the result dtype is numpy's for the same expression on plain arrays:
    Python scalars are weak (x * 2.0 stays float32), numpy float64 scalars and float64
    arrays promote (numpy 2 rules), and the gradient has the input's dtype."""
    x = np.array([0.5, 2.0], dtype)
    expected = np.asarray(expr(x)).dtype
    out, pullback = funcgrad.vjp(expr, x)
    assert out.dtype == expected
    graph = funcgrad.make_graph(expr)(x)
    assert graph.outvars[0].aval.dtype == expected
    (g,) = pullback(np.ones(out.shape, out.dtype))
    assert g.dtype == dtype


def test_python_scalars_never_promote_float32() -> None:
    x = np.array([1.0, 2.0], np.float32)
    for f in (lambda x: x * 2.0, lambda x: x + 1.5, lambda x: 2 ** x,
              lambda x: fnp.exp(x) / 3, lambda x: x - True):
        out, _ = funcgrad.vjp(f, x)
        assert out.dtype == np.float32


def test_numpy_float64_scalar_promotes_like_numpy() -> None:
    x = np.array([1.0, 2.0], np.float32)
    assert (x * np.float64(2)).dtype == np.float64  # numpy 2 (NEP 50)
    out, _ = funcgrad.vjp(lambda x: x * np.float64(2), x)
    assert out.dtype == np.float64
    g = funcgrad.grad(lambda x: fnp.sum(x * np.float64(2)))(x)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [2.0, 2.0])


def test_integer_inputs_to_float_functions() -> None:
    i = np.array([1, 2, 3])
    cases: list[tuple[Callable[[Any], Any], Callable[[Any], Any]]] = [
        (fnp.sqrt, np.sqrt), (fnp.exp, np.exp), (fnp.mean, np.mean),
        (lambda a: fnp.divide(a, 2), lambda a: np.divide(a, 2))]
    for f, ref in cases:
        graph = funcgrad.make_graph(f)(i)
        expected = np.asarray(ref(i))
        assert graph.outvars[0].aval.dtype == expected.dtype
        np.testing.assert_allclose(graph(i), expected)


# ---------------------------------------------------------------------------- broadcasting

BROADCAST_SHAPES: list[tuple[int, ...]] = [(), (3,), (2, 3), (1, 3), (2, 1)]

BINARY: list[tuple[str, Callable[[Any, Any], Any], Callable[[Any, Any], Any], Gen | None]] = [
    ("add", fnp.add, np.add, None),
    ("subtract", fnp.subtract, np.subtract, None),
    ("multiply", fnp.multiply, np.multiply, None),
    ("divide", fnp.divide, np.divide, None),
    ("power", fnp.power, np.power, None),
    ("maximum", fnp.maximum, np.maximum, None),
    ("minimum", fnp.minimum, np.minimum, None),
    ("where", lambda x, y: fnp.where(MASK, x, y), lambda x, y: np.where(MASK, x, y), None),
]


def _binary_inputs(name: str, sx: tuple[int, ...], sy: tuple[int, ...]
                   ) -> tuple[NDArray, NDArray]:
    rng = seeded(f"{name}{sx}{sy}")
    if name in ("power", "divide"):
        return rng.uniform(0.5, 2.0, sx), rng.uniform(-2.0, 2.0, sy) if name == "power" \
            else away_from_zero(*sy)(rng)
    if name in ("maximum", "minimum"):
        # x and y from disjoint grids: never equal, so no ties
        return (rng.integers(-8, 8, sx) + 0.25).astype(float), \
            (rng.integers(-8, 8, sy) - 0.25).astype(float)
    return rng.standard_normal(sx), rng.standard_normal(sy)


@pytest.mark.parametrize("sy", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("sx", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("op", [pytest.param(o, id=o[0]) for o in BINARY])
def test_broadcasting_grads(op: Any, sx: tuple[int, ...], sy: tuple[int, ...]) -> None:
    name, fn, ref, _ = op
    x, y = _binary_inputs(name, sx, sy)
    out, pullback = funcgrad.vjp(fn, x, y)
    expected = np.asarray(ref(x, y))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    gx, gy = pullback(np.ones(out.shape))
    assert gx.shape == sx and gy.shape == sy
    assert gx.dtype == gy.dtype == np.float64
    check_grads(fn, (x, y), order=2)


@pytest.mark.parametrize("sy", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("sx", BROADCAST_SHAPES, ids=str)
def test_broadcast_add_gradient_counts(sx: tuple[int, ...], sy: tuple[int, ...]) -> None:
    """Each input's gradient of sum(x + y) counts how often each element was used."""
    x, y = np.zeros(sx), np.zeros(sy)
    gx, gy = funcgrad.grad(lambda x, y: fnp.sum(x + y), argnums=(0, 1))(x, y)
    n = int(np.prod(np.broadcast_shapes(sx, sy)))
    np.testing.assert_array_equal(gx, np.full(sx, n / max(x.size, 1)))
    np.testing.assert_array_equal(gy, np.full(sy, n / max(y.size, 1)))


@pytest.mark.parametrize("op", [pytest.param(o, id=o[0]) for o in BINARY[:7]])
def test_broadcast_with_python_scalar_on_either_side(op: Any) -> None:
    name, fn, ref, _ = op
    x = np.array([[0.5, 1.5, 2.0]])
    for args in ((x, 1.25), (1.25, x)):
        pos = 0 if args[0] is x else 1

        def f(x: Any, args: Any = args, pos: int = pos) -> Any:
            a = list(args)
            a[pos] = x
            return fn(*a)

        out, pullback = funcgrad.vjp(f, x)
        np.testing.assert_allclose(out, ref(*args), rtol=1e-13)
        assert pullback(np.ones(out.shape))[0].shape == x.shape
        check_grads(f, (x,), order=2)
