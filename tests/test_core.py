"""Tests for funcgrad.core: ShapedArray, Primitive and bind, tracers as immutable arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import Primitive, ShapedArray, Tracer, grad, make_graph
from funcgrad.core import aval_of, short_dtype
from funcgrad.testing import check_grads


def test_shaped_array() -> None:
    a = ShapedArray((2, 3), np.dtype(np.float32))
    assert a.ndim == 2 and str(a) == "f32[2,3]"
    assert str(ShapedArray((), np.dtype(np.float64))) == "f64[]"
    assert str(ShapedArray((4,), np.dtype(np.int64))) == "i64[4]"
    assert str(ShapedArray((1,), np.dtype(np.bool_))) == "bool[1]"
    assert short_dtype(np.dtype(np.complex128)) == "c128"
    assert aval_of(3.0) == ShapedArray((), np.dtype(np.float64))
    assert aval_of(np.ones((2, 1), np.float32)) == ShapedArray((2, 1), np.dtype(np.float32))


def test_bind_without_tracers_runs_the_implementation() -> None:
    calls: list[tuple[Any, ...]] = []

    def impl(x: Any, *, k: int) -> Any:
        calls.append((x, k))
        return x * k

    p = Primitive("times", impl, lambda x, *, k: ShapedArray(x.shape, x.dtype))
    out = p.bind(np.array([1.0, 2.0]), k=3)
    np.testing.assert_array_equal(out, [3.0, 6.0])
    assert len(calls) == 1 and calls[0][1] == 3
    assert repr(p) == "times"


def test_custom_primitive_with_rules_everywhere() -> None:
    """A user primitive works under grad, make_graph, nesting, and prints its params."""
    cube = Primitive("cube", lambda x, *, scale: scale * x ** 3,
                     lambda x, *, scale: ShapedArray(x.shape, x.dtype),
                     (lambda g, out, x, *, scale: g * scale * 3.0 * x * x,))
    x = np.array([1.0, -2.0])
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(cube.bind(x, scale=2.0)))(x),
                                  [6.0, 24.0])
    text = str(make_graph(lambda x: cube.bind(x, scale=2.0))(x))
    assert "b:f64[2] = cube[scale=2.0] a" in text
    check_grads(lambda x: cube.bind(x, scale=0.5), (x,), order=3)


def test_primitive_with_a_rule_function_by_position() -> None:
    # a variadic primitive: vjp rules given as a function of the argument position
    def rule(i: int) -> Any:
        return lambda g, out, *xs: g * (i + 1.0)

    weighted = Primitive("weighted", lambda *xs: sum((i + 1.0) * x for i, x in enumerate(xs)),
                         lambda *xs: ShapedArray(xs[0].shape, xs[0].dtype), rule)
    gs = grad(lambda a, b, c: fnp.sum(weighted.bind(a, b, c)), argnums=(0, 1, 2))(
        np.ones(2), np.ones(2), np.ones(2))
    for i, g in enumerate(gs):
        np.testing.assert_array_equal(g, np.full(2, i + 1.0))


def test_tracer_array_interface_under_grad_and_make_graph() -> None:
    seen: dict[str, Any] = {}

    def f(x: Any) -> Any:
        assert isinstance(x, Tracer)
        seen.update(shape=x.shape, dtype=x.dtype, ndim=x.ndim, size=x.size, len=len(x),
                    rows=[r.shape for r in x], T=x.T.shape, repr=repr(x))
        return fnp.sum(+x)

    x = np.ones((2, 3), np.float32)
    for transform in (grad, make_graph):
        seen.clear()
        transform(f)(x)
        assert seen["shape"] == (2, 3) and seen["dtype"] == np.float32
        assert seen["ndim"] == 2 and seen["size"] == 6 and seen["len"] == 2
        assert seen["rows"] == [(3,), (3,)] and seen["T"] == (3, 2)
        assert "f32[2,3]" in seen["repr"]


def test_tracer_methods_match_numpy_methods() -> None:
    x = np.arange(1.0, 7.0).reshape(2, 3) / 4.0

    def f(x: Any) -> Any:
        return [x.sum(0), x.mean(), x.max(1), x.min(0), x.prod(), x.var(1), x.std(),
                x.argmax(), x.argmin(1), x.reshape(3, 2), x.reshape((-1,)), x.transpose(),
                x.transpose(1, 0), x.swapaxes(0, 1), x.ravel(), x.flatten(), x.astype(np.float32),
                x.clip(0.5, 1.0), x.dot(np.ones(3)), x[None].squeeze(0)]

    expected = f(x)
    out, _ = funcgrad.vjp(f, x)
    assert len(out) == len(expected)
    for o, e in zip(out, expected):
        assert o.dtype == e.dtype and o.shape == e.shape
        np.testing.assert_allclose(o, e, rtol=1e-15)


def test_operators_with_the_tracer_on_the_right() -> None:
    x = np.array([1.0, 2.0])
    # numpy arrays and scalars on the left hand the operation to the tracer
    g = grad(lambda x: fnp.sum(np.array([3.0, 4.0]) * x + np.float64(1.0) - x + 2.0 / x)
             + np.ones(2) @ x)(x)
    np.testing.assert_allclose(g, [3.0 - 1.0 - 2.0 + 1.0, 4.0 - 1.0 - 0.5 + 1.0])
    assert float(grad(lambda x: 2.0 ** x)(3.0)) == pytest.approx(8.0 * np.log(2.0), rel=1e-15)


def test_comparisons_give_bool_arrays_without_gradient() -> None:
    def f(x: Any) -> Any:
        masks = [x < 1.0, x <= 1.0, x > 1.0, x >= 1.0, x == 1.0, x != 1.0,
                 fnp.logical_and(x > 0, x < 2), fnp.logical_or(x < 0, x > 1.5),
                 fnp.logical_not(x > 1.0)]
        for m in masks:
            assert m.dtype == np.bool_
        return fnp.sum(fnp.where(masks[0], x, 2.0 * x))

    np.testing.assert_array_equal(grad(f)(np.array([0.5, 1.0, 3.0])), [1.0, 2.0, 2.0])
    g = make_graph(lambda x: x > 1.0)(np.ones(3))
    assert str(g.outvars[0].aval) == "bool[3]"


def test_nondifferentiable_primitives_under_nested_grad() -> None:
    """argmax, comparisons and isfinite have no gradient; they work inside grad of grad."""
    def f(x: Any) -> Any:
        i = fnp.argmax(x)
        ok = fnp.isfinite(x)
        return fnp.sum(fnp.where(ok, x ** 3, 0.0)) + x[i]

    x = np.array([0.5, 2.0, -1.0])
    g = grad(f)(x)
    np.testing.assert_allclose(g, 3 * x ** 2 + np.array([0.0, 1.0, 0.0]))
    h = grad(lambda x: fnp.sum(grad(f)(x)))(x)
    np.testing.assert_allclose(h, 6 * x)


def test_tracers_are_not_hashable() -> None:
    def f(x: Any) -> Any:
        with pytest.raises(TypeError):
            hash(x)
        return fnp.sum(x)

    grad(f)(np.ones(2))


def test_numpy_ufuncs_on_a_tracer_run_funcgrad() -> None:
    # np.sin(x) and ndarray + x dispatch to funcgrad.numpy, so they differentiate
    assert grad(lambda x: np.sin(x))(0.5) == pytest.approx(np.cos(0.5), abs=1e-15)
    assert grad(lambda x: (np.array([2.0]) * x).sum())(1.0) == 2.0


def test_unsupported_numpy_ufunc_on_a_tracer_names_funcgrad_numpy() -> None:
    with pytest.raises(TypeError, match=r"gcd.*funcgrad\.numpy"):
        grad(lambda x: np.gcd(x, 2))(1.0)


def test_traces_are_cleaned_up_after_errors() -> None:
    from funcgrad.core import trace_depth

    depth = trace_depth()
    with pytest.raises(ZeroDivisionError):
        grad(lambda x: x * (1 // 0))(1.0)
    with pytest.raises(funcgrad.ConcretizationError):
        make_graph(lambda x: bool(x))(1.0)
    assert trace_depth() == depth
    assert float(grad(lambda x: x * x)(3.0)) == 6.0
