"""Tests for funcgrad.testing.check_grads: it passes on right rules and FAILS on wrong ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import Primitive, ShapedArray
from funcgrad.testing import check_grads, check_vjp


def same_shape(x: Any) -> ShapedArray:
    return ShapedArray(x.shape, x.dtype)


# cos with a wrong derivative (+sin instead of -sin): only second derivatives of mysin see it
bad_cos = Primitive("bad_cos", np.cos, same_shape, (lambda g, out, x: g * fnp.sin(x),))
good_sin = Primitive("good_sin", np.sin, same_shape, (lambda g, out, x: g * bad_cos.bind(x),))
wrong_sin = Primitive("wrong_sin", np.sin, same_shape, (lambda g, out, x: g * fnp.sin(x),))
scaled_sin = Primitive("scaled_sin", np.sin, same_shape,
                       (lambda g, out, x: g * fnp.cos(x) * 1.001,))
right_sin = Primitive("right_sin", np.sin, same_shape, (lambda g, out, x: g * fnp.cos(x),))
# a two-argument primitive whose rule for the second argument is wrong (x instead of 2 y)
bad_binary = Primitive("bad_binary", lambda x, y: x * y * y, lambda x, y: same_shape(x),
                       (lambda g, out, x, y: g * y * y, lambda g, out, x, y: g * x))

X = np.array([0.3, -1.1, 2.0])


def test_wrong_first_derivative_fails() -> None:
    with pytest.raises(AssertionError, match="VJP check failed"):
        check_grads(lambda x: wrong_sin.bind(x), (X,), order=1, modes=("rev",))
    with pytest.raises(AssertionError, match="JVP check failed"):
        check_grads(lambda x: wrong_sin.bind(x), (X,), order=1, modes=("fwd",))
    with pytest.raises(AssertionError):
        check_grads(lambda x: fnp.sum(wrong_sin.bind(x) * 2.0), (X,), order=2)


def test_slightly_wrong_rule_fails_in_float64() -> None:
    with pytest.raises(AssertionError):
        check_grads(lambda x: scaled_sin.bind(x), (X,), order=1)


def test_wrong_rule_for_second_argument_fails() -> None:
    y = np.array([0.5, 1.5, -0.7])
    with pytest.raises(AssertionError):
        check_grads(lambda x, y: bad_binary.bind(x, y), (X, y), order=1)
    # with the first argument alone the rules are right
    check_grads(lambda x: bad_binary.bind(x, y), (X,), order=2)


def test_wrong_second_derivative_fails_only_at_order_two() -> None:
    check_grads(lambda x: good_sin.bind(x), (X,), order=1)
    with pytest.raises(AssertionError):
        check_grads(lambda x: good_sin.bind(x), (X,), order=2)


def test_right_custom_rule_passes_to_third_order() -> None:
    check_grads(lambda x: right_sin.bind(x) * x, (X,), order=3)


def test_check_vjp_directly() -> None:
    check_vjp(fnp.tanh, (X,))
    with pytest.raises(AssertionError):
        check_vjp(lambda x: wrong_sin.bind(x), (X,))


def test_check_grads_float32_uses_looser_defaults() -> None:
    x = X.astype(np.float32)
    check_grads(fnp.tanh, (x,), order=2)
    with pytest.raises(AssertionError):
        check_grads(lambda x: wrong_sin.bind(x), (x,), order=1)


def test_tolerance_arguments_are_used() -> None:
    # a 0.1% error passes with a loose rtol and fails with the default one
    check_grads(lambda x: scaled_sin.bind(x), (X,), order=1, rtol=1e-2)
    with pytest.raises(AssertionError):
        check_grads(lambda x: scaled_sin.bind(x), (X,), order=1, rtol=1e-5)


def test_pytree_arguments_and_outputs() -> None:
    def f(p: dict[str, Any], xs: list[Any]) -> Any:
        return {"a": fnp.sin(p["w"]) * xs[0], "b": [fnp.sum(xs[1] ** 2)]}

    args = ({"w": X}, [X * 2.0, np.array([[1.0, 2.0]])])
    check_grads(f, args, order=2)

    def g(p: dict[str, Any], xs: list[Any]) -> Any:
        return {"a": wrong_sin.bind(p["w"]) * xs[0], "b": [fnp.sum(xs[1] ** 2)]}

    with pytest.raises(AssertionError):
        check_grads(g, args, order=1)


def test_forward_mode_checks_each_order() -> None:
    # good_sin's first derivative is right, its second (through bad_cos) is not: forward
    # mode alone sees it at order 2, as reverse mode does
    check_grads(lambda x: good_sin.bind(x), (X,), order=1, modes=("fwd",))
    with pytest.raises(AssertionError, match="JVP check failed"):
        check_grads(lambda x: good_sin.bind(x), (X,), order=2, modes=("fwd",))
    check_grads(lambda x: right_sin.bind(x), (X,), order=3, modes=("fwd", "rev"))


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown mode 'sideways'"):
        check_grads(lambda x: right_sin.bind(x), (X,), modes=("sideways",))
