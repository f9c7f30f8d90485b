"""The errors users meet: each test checks the exception type and what the message says."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import (ConcretizationError, ImmutableArrayError, LeakedTracerError, Primitive,
                      ShapedArray, ShapeError, grad, make_graph, value_and_grad, vjp)

X = np.array([1.0, 2.0, 3.0])
THIS_FILE = "test_errors.py"


def message(exc: pytest.ExceptionInfo[BaseException]) -> str:
    return str(exc.value)


# ---------------------------------------------------------------------------- grad outputs


def test_grad_of_non_scalar_output() -> None:
    with pytest.raises(TypeError) as exc:
        grad(lambda x: x * 2.0)(np.ones((2, 3)))
    msg = message(exc)
    assert "scalar" in msg and "(2, 3)" in msg
    assert ".sum()" in msg and "vjp" in msg and "jacrev" in msg


def test_grad_of_tuple_output_suggests_has_aux() -> None:
    with pytest.raises(TypeError) as exc:
        # mypy rejects this call too (no has_aux); the message is for untyped callers.
        grad(lambda x: (fnp.sum(x), x))(X)  # type: ignore[arg-type, return-value]
    msg = message(exc)
    assert "has_aux=True" in msg and "tuple of 2" in msg


def test_has_aux_without_a_pair() -> None:
    with pytest.raises(TypeError, match=r"has_aux=True.*must return a pair \(output, aux\)"):
        # mypy rejects these calls too; the messages are for untyped callers.
        grad(lambda x: fnp.sum(x), has_aux=True)(X)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="tuple of length 3"):
        grad(lambda x: (fnp.sum(x), 1, 2), has_aux=True)(X)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="must return a pair"):
        vjp(lambda x: x, X, has_aux=True)


def test_grad_of_integer_output() -> None:
    with pytest.raises(TypeError, match="must be float"):
        grad(lambda x: fnp.argmax(x))(X)


# ---------------------------------------------------------------------------- grad inputs


@pytest.mark.parametrize("argnum, bad, dtype", [
    (0, np.array([1, 2]), "int64"),
    (1, np.array([True, False]), "bool"),
    (1, 3, "int64"),
    (0, True, "bool"),
])
def test_grad_with_respect_to_int_or_bool(argnum: int, bad: Any, dtype: str) -> None:
    args = [X, X]
    args[argnum] = bad
    with pytest.raises(TypeError) as exc:
        grad(lambda x, y: fnp.sum(x) * fnp.sum(y), argnums=argnum)(*args)
    msg = message(exc)
    assert f"argument {argnum}" in msg
    assert dtype in msg
    assert "float" in msg


def test_grad_with_respect_to_int_leaf_of_a_pytree() -> None:
    with pytest.raises(TypeError, match=r"argument 0 .*int64"):
        grad(lambda p: fnp.sum(p["w"]) * p["n"])({"w": X, "n": np.array(2)})


@pytest.mark.parametrize("argnums, bad", [(2, 2), ((0, 5), 5), (-3, -3)])
def test_argnums_out_of_range(argnums: Any, bad: int) -> None:
    with pytest.raises(ValueError) as exc:
        value_and_grad(lambda x, y: fnp.sum(x * y), argnums=argnums)(X, X)
    msg = message(exc)
    assert f"argument {bad}" in msg
    assert "2 positional arguments" in msg


# ---------------------------------------------------------------------------- shapes

A23, B45 = np.ones((2, 3)), np.ones((4, 5))

SHAPE_ERRORS: list[tuple[str, Callable[[Any, Any], Any], str]] = [
    ("add", lambda x, y: x + y, "add"),
    ("multiply", fnp.multiply, "multiply"),
    ("matmul", lambda x, y: x @ y, "matmul"),
    ("dot", fnp.dot, "dot"),
    ("concatenate", lambda x, y: fnp.concatenate([x, y], axis=1), "concatenate"),
    ("reshape", lambda x, y: fnp.reshape(x, y.shape), "reshape"),
]


@pytest.mark.parametrize("transform", ["grad", "make_graph"])
@pytest.mark.parametrize("op, expected_name",
                         [pytest.param(f, n, id=i) for i, f, n in SHAPE_ERRORS])
def test_shape_mismatch_names_op_shapes_and_location(
        op: Callable[[Any, Any], Any], expected_name: str, transform: str) -> None:
    def f(x: Any, y: Any) -> Any:
        return fnp.sum(op(x, y))

    with pytest.raises(ShapeError) as exc:
        if transform == "grad":
            grad(f, argnums=(0, 1))(A23, B45)
        else:
            make_graph(f)(A23, B45)
    msg = message(exc)
    assert expected_name in msg
    # both shapes, written as tuples or as avals
    assert re.search(r"\(2, 3\)|\[2,3\]", msg) and re.search(r"\(4, 5\)|\[4,5\]", msg)
    assert THIS_FILE in msg  # where in the user's code


def test_eager_matmul_and_dot_shape_errors() -> None:
    with pytest.raises(ShapeError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        fnp.matmul(A23, B45)
    with pytest.raises(ShapeError, match=r"dot: shapes \(2, 3, 4\) and \(5, 3, 2\)"):
        fnp.dot(np.ones((2, 3, 4)), np.ones((5, 3, 2)))
    with pytest.raises(ShapeError, match=r"dot: shapes \(2, 3\) and \(4,\)"):
        fnp.dot(A23, np.ones(4))
    with pytest.raises(ShapeError, match="scalars"):
        grad(lambda x: fnp.sum(fnp.matmul(x, 2.0)))(X)


def test_other_shape_errors_under_grad() -> None:
    with pytest.raises(ShapeError, match="axis 3 is out of bounds"):
        grad(lambda x: fnp.sum(fnp.sum(x, axis=3)))(A23)
    with pytest.raises(ShapeError, match=r"broadcast_to: cannot broadcast f64\[2,3\]"):
        grad(lambda x: fnp.sum(fnp.broadcast_to(x, (4,))))(A23)
    with pytest.raises(ShapeError, match=r"stack: .*\(2, 3\).*\(3,\)"):
        grad(lambda x: fnp.sum(fnp.stack([x, x[0]])))(A23)
    with pytest.raises(ShapeError, match="squeeze: axis 1"):
        grad(lambda x: fnp.sum(fnp.squeeze(x, 1)))(A23)
    with pytest.raises(ShapeError, match="not a permutation"):
        grad(lambda x: fnp.sum(fnp.transpose(x, (0, 0))))(A23)
    with pytest.raises(ShapeError, match="does not divide"):
        grad(lambda x: fnp.sum(fnp.split(x, 2, axis=1)[0]))(A23)


# ---------------------------------------------------------------------------- vjp cotangents


def test_wrong_cotangent_shape_dtype_structure() -> None:
    out, pullback = vjp(lambda x: x * 2.0, X)
    with pytest.raises(ValueError) as exc:
        pullback(np.ones(4))
    msg = message(exc)
    assert "cotangent" in msg and "f64[4]" in msg and "f64[3]" in msg
    with pytest.raises(ValueError, match=r"f32\[3\].*f64\[3\]"):
        pullback(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="structure"):
        pullback((np.ones(3),))


def test_custom_rule_returning_the_wrong_shape_is_named() -> None:
    bad = Primitive("badshape", lambda x: x * 2.0, lambda x: ShapedArray(x.shape, x.dtype),
                    (lambda g, out, x: fnp.sum(g),))
    with pytest.raises(TypeError) as exc:
        grad(lambda x: fnp.sum(bad.bind(x)))(X)
    msg = message(exc)
    assert "'badshape'" in msg and "f64[]" in msg and "f64[3]" in msg


# ---------------------------------------------------------------------------- missing rules


def test_missing_vjp_rule_names_the_primitive() -> None:
    mystery = Primitive("mystery", lambda x: x * 2.0, lambda x: ShapedArray(x.shape, x.dtype))
    np.testing.assert_array_equal(mystery.bind(X), 2.0 * X)  # it runs without a transform
    with pytest.raises(NotImplementedError) as exc:
        grad(lambda x: fnp.sum(mystery.bind(x)))(X)
    msg = message(exc)
    assert "'mystery'" in msg and "VJP" in msg


# ---------------------------------------------------------------------------- tracers


def test_leaked_tracer() -> None:
    leaked: list[Any] = []

    def f(x: Any) -> Any:
        leaked.append(x)
        return fnp.sum(x)

    grad(f)(X)
    with pytest.raises(LeakedTracerError) as exc:
        leaked[0] * 2.0
    msg = message(exc)
    assert "grad" in msg and "already finished" in msg and "has_aux=True" in msg
    assert THIS_FILE in msg
    with pytest.raises(LeakedTracerError):
        fnp.sin(leaked[0])


def test_leaked_tracer_from_make_graph() -> None:
    leaked: list[Any] = []
    def f(x: Any) -> Any:
        leaked.append(x)
        return x

    make_graph(f)(X)
    with pytest.raises(LeakedTracerError, match="make_graph"):
        fnp.exp(leaked[0])


def test_item_assignment_on_a_traced_array() -> None:
    def f(x: Any) -> Any:
        x[0] = 1.0
        return fnp.sum(x)

    for transform in (grad, make_graph):
        with pytest.raises(ImmutableArrayError) as exc:
            transform(f)(X)
        msg = message(exc)
        assert ".at[" in msg and "where" in msg and "immutable" in msg
        assert THIS_FILE in msg


@pytest.mark.parametrize("transform", [grad, make_graph])
def test_np_asarray_of_a_tracer(transform: Any) -> None:
    with pytest.raises(ConcretizationError) as exc:
        transform(lambda x: fnp.sum(np.asarray(x)))(X)
    msg = message(exc)
    assert "numpy array" in msg and "funcgrad.numpy" in msg and THIS_FILE in msg


def test_concretization_error_is_a_type_error() -> None:
    # so code that catches TypeError for "not convertible" keeps working
    assert issubclass(ConcretizationError, TypeError)
    assert issubclass(ImmutableArrayError, TypeError)
    assert issubclass(ShapeError, ValueError)


def test_bad_index_dtype() -> None:
    with pytest.raises(TypeError, match="index of dtype float64"):
        grad(lambda x: fnp.sum(x[np.array([0.0, 1.0])]))(X)


def test_len_of_0d_tracer() -> None:
    with pytest.raises(TypeError, match="len"):
        grad(lambda x: x * len(x))(2.0)


def test_error_classes_are_exported() -> None:
    for name in ("ConcretizationError", "ImmutableArrayError", "LeakedTracerError",
                 "ShapeError"):
        assert getattr(funcgrad, name).__name__ == name
