"""User code as mypy sees it: funcgrad's transformations keep the wrapped function's types.

Never imported by the tests: the project's mypy run checks this file (every assert_type
below must hold), and tests/test_typing.py checks it again from outside the checkout,
through the installed package, beside code with deliberate type errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from typing_extensions import assert_type

import funcgrad as fg
import funcgrad.numpy as fnp

F64 = np.ndarray[Any, np.dtype[np.float64]]


def loss(w: F64, x: F64) -> fg.Array:
    """A scalar loss of weights w (3,) on inputs x (n, 3)."""
    return fnp.sum((x @ w) ** 2)


def loss_aux(w: F64, x: F64) -> tuple[fg.Array, dict[str, fg.Array]]:
    """loss, with the predictions as auxiliary output."""
    pred = x @ w
    return fnp.sum(pred ** 2), {"pred": pred}


def transformations_keep_types(w: F64, x: F64, xs: F64) -> None:
    """Each transformation is called as the function it wraps; values are arrays."""
    value, g = fg.value_and_grad(loss)(w, x)
    assert_type(value, fg.Array)
    (value, aux), g = fg.value_and_grad(loss_aux, has_aux=True)(w, x)
    assert_type(value, fg.Array)
    (value, aux), g = fg.value_and_grad(loss_aux, 0, True)(w, x)
    assert_type(value, fg.Array)
    g, aux = fg.grad(loss_aux, has_aux=True)(w, x)
    gw, gx = fg.grad(loss, argnums=(0, 1))(w, x)
    assert_type(fg.jit(loss)(w, x), fg.Array)
    assert_type(fg.checkpoint(loss)(w, x), fg.Array)
    value, g = fg.jit(fg.value_and_grad(loss))(w, x)
    assert_type(value, fg.Array)
    assert_type(fg.value_and_grad(fg.checkpoint(loss))(w, x)[0], fg.Array)
    per_example = fg.vmap(fg.grad(loss), in_axes=(None, 0))(w, xs)
    jac = fg.jacrev(loss)(w, x) + fg.jacfwd(loss)(w, x)
    hess = fg.hessian(loss)(w, x)
    second = fg.grad(fg.grad(lambda t: fnp.sin(t)))(1.0)
