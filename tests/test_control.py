"""Tests for control flow (funcgrad.control): cond, switch, scan, map, fori_loop, while_loop
and the dynamic slices, with JAX's semantics (jax.lax.*).

The reference is always the code the user would otherwise write: a Python `if`, a Python
loop unrolled under grad, numpy slicing. Each construct is checked for its values, its
derivatives (reverse mode to second order and forward mode, against the reference traced by
grad and against finite differences with check_grads), closures over differentiated values,
vmap (of the data and of the predicate, index or trip count), jit (the cache, the
compositions with grad, nesting), its graph (one equation whatever the trip count), its
errors, and JAX's behaviour at the edges (clamped indices, empty loops, pytrees, integer
carries). A small RNN over 1,000 steps closes the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import ConcretizationError, Graph, grad, jit, jvp, make_graph, tree, vmap
from funcgrad.lax import (cond, dynamic_index_in_dim, dynamic_slice, dynamic_slice_in_dim,
                              dynamic_update_slice, fori_loop, map, scan, switch, while_loop)
from funcgrad.testing import check_grads
from cases import assert_tree_allclose

NDArray = np.ndarray[Any, Any]
Fn = Callable[..., Any]

RNG = np.random.default_rng(2024)


def normal(*shape: int) -> NDArray:
    """Fixed standard-normal test data."""
    return np.asarray(RNG.standard_normal(shape))


def inner(a: Any, b: Any) -> Any:
    """The sum over the leaves of two pytrees of the same structure of sum(a * b)."""
    total: Any = 0.0
    for x, y in zip(tree.leaves(a), tree.leaves(b)):
        total = total + fnp.sum(x * y)
    return total


def assert_same_derivatives(f: Fn, reference: Fn, args: Sequence[Any],
                            rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """f and its reference (the same function with Python control flow, traced by grad)
    agree in value, in the gradient of every argument, in a second-order derivative (the
    gradient of <grad f, v> for a fixed random v) and in a JVP."""
    args = tuple(args)
    argnums = tuple(range(len(args)))
    rng = np.random.default_rng(7)
    direction = tree.map(lambda a: np.asarray(rng.standard_normal(np.shape(a))), args)
    assert_tree_allclose(tree.map(np.asarray, f(*args)), tree.map(np.asarray, reference(*args)),
                         rtol=rtol, atol=atol)
    assert_tree_allclose(grad(f, argnums)(*args), grad(reference, argnums)(*args),
                         rtol=rtol, atol=atol)

    def second(g: Fn) -> Any:
        return grad(lambda *a: inner(grad(g, argnums)(*a), direction), argnums)(*args)

    assert_tree_allclose(second(f), second(reference), rtol=rtol, atol=atol)
    out_f, tan_f = jvp(f, args, direction)
    out_r, tan_r = jvp(reference, args, direction)
    assert_tree_allclose(out_f, out_r, rtol=rtol, atol=atol)
    assert_tree_allclose(tan_f, tan_r, rtol=rtol, atol=atol)


def top_level(graph: Graph[Any]) -> list[str]:
    """The names of the primitives of the graph's own equations (not of nested graphs)."""
    return [e.prim.name for e in graph.eqns]


def stacked(outs: Sequence[Any]) -> Any:
    """A list of per-example results stacked on a new leading axis, leaf by leaf."""
    return tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)


# ============================================================================ cond


def true_branch(x: Any, w: Any) -> Any:
    return fnp.sum(fnp.sin(x * w)) * w


def false_branch(x: Any, w: Any) -> Any:
    return fnp.sum(x ** 3) - fnp.exp(w)


def with_cond(x: Any, w: Any) -> Any:
    return cond(fnp.sum(x) > 0, true_branch, false_branch, x, w) ** 2


def with_if(x: Any, w: Any) -> Any:
    if fnp.sum(x) > 0:
        return true_branch(x, w) ** 2
    return false_branch(x, w) ** 2


X3_POS = np.array([0.7, -0.2, 0.9])
X3_NEG = np.array([-0.7, 0.2, -0.9])


@pytest.mark.parametrize("pred", [True, False, 1, 0, 3, -1, 2.5, 0.0, np.bool_(True),
                                  np.array(False), np.int32(0), np.float32(-0.5)])
def test_cond_values_match_python_if(pred: Any) -> None:
    x, y = np.array([1.0, 2.0]), np.array([[3.0], [4.0]])
    out = cond(pred, lambda a, b: {"s": a + b, "t": (a * 2.0,)},
               lambda a, b: {"s": a - b, "t": (-a,)}, x, y)
    expected = {"s": x + y, "t": (x * 2.0,)} if pred else {"s": x - y, "t": (-x,)}
    assert_tree_allclose(out, expected, rtol=0, atol=0)
    assert cond(pred, lambda: 1.5, lambda: -1.5) == (1.5 if pred else -1.5)  # no operands


@pytest.mark.parametrize("x", [X3_POS, X3_NEG], ids=["true", "false"])
def test_cond_derivatives_match_python_if(x: NDArray) -> None:
    assert_same_derivatives(with_cond, with_if, (x, 0.6))


@pytest.mark.parametrize("x", [X3_POS, X3_NEG], ids=["true", "false"])
def test_cond_check_grads(x: NDArray) -> None:
    check_grads(with_cond, (x, 0.6), order=2)


def test_cond_branches_closing_over_a_differentiated_value() -> None:
    x = np.array([0.5, -1.5])

    def f(w: Any, pred: bool) -> Any:
        # both branches read w from their closure, not as an operand
        return fnp.sum(cond(pred, lambda v: v * w ** 2, lambda v: v + fnp.sin(w) * w, x))

    w = 0.8
    # true: sum(x) w^2 -> 2 sum(x) w; false: n (sin w) w -> n (cos(w) w + sin w)
    assert float(grad(f)(w, True)) == pytest.approx(2 * np.sum(x) * w, rel=1e-14)
    assert float(grad(f)(w, False)) == pytest.approx(2 * (np.cos(w) * w + np.sin(w)),
                                                      rel=1e-14)
    assert float(grad(grad(f))(w, True)) == pytest.approx(2 * np.sum(x), rel=1e-14)
    assert float(grad(grad(f))(w, False)) == pytest.approx(
        2 * (2 * np.cos(w) - np.sin(w) * w), rel=1e-14)
    # the predicate itself computed from w (piecewise: no gradient through it)
    g = grad(lambda w: cond(w > 0, lambda: w ** 3, lambda: -w))
    assert float(g(0.5)) == pytest.approx(0.75, rel=1e-14)
    assert float(g(-0.5)) == -1.0


def test_cond_closure_and_operand_gradients_against_python_if() -> None:
    def f(w: Any, x: Any) -> Any:
        return cond(fnp.sum(x) > w, lambda v: fnp.sum(fnp.tanh(v * w)),
                    lambda v: fnp.sum(v) * w ** 2, x)

    def ref(w: Any, x: Any) -> Any:
        if fnp.sum(x) > w:
            return fnp.sum(fnp.tanh(x * w))
        return fnp.sum(x) * w ** 2

    for w in (-0.3, 2.5):
        assert_same_derivatives(f, ref, (w, X3_POS))


def test_cond_vmap_over_data_with_a_fixed_predicate() -> None:
    xs = normal(4, 3)
    for pred in (True, False):
        f = vmap(lambda x: cond(pred, lambda v: fnp.sin(v), lambda v: v ** 2, x))
        np.testing.assert_allclose(f(xs), np.sin(xs) if pred else xs ** 2, rtol=1e-15)


def test_cond_vmap_over_the_predicate_picks_each_examples_branch() -> None:
    preds = np.array([True, False, False, True, False])
    xs = normal(5, 2)

    def f(p: Any, x: Any) -> Any:
        return cond(p, lambda v: (fnp.sin(v), fnp.sum(v)), lambda v: (v * 3.0, -fnp.sum(v)), x)

    expected = stacked([f(p, x) for p, x in zip(preds, xs)])
    assert_tree_allclose(vmap(f)(preds, xs), expected, rtol=1e-15, atol=0)
    # an integer predicate (nonzero is true), batched along axis 1 of the data
    ints = np.array([0, 2, -1, 0, 7])
    expected_ints = stacked([f(p, x) for p, x in zip(ints, xs)])
    assert_tree_allclose(vmap(f, in_axes=(0, 1))(ints, xs.T), expected_ints, rtol=1e-15, atol=0)


def test_cond_and_switch_vmap_over_the_predicate_alone() -> None:
    # the predicate (or index) batched, the operands not: each example still takes its branch
    preds = np.array([True, False, True])
    x = np.array([0.5, -2.0])

    def f(p: Any, x: Any) -> Any:
        return cond(p, lambda v: fnp.sin(v), lambda v: v * 3.0, x)

    np.testing.assert_allclose(vmap(f, in_axes=(0, None))(preds, x),
                               np.stack([f(p, x) for p in preds]), rtol=1e-15)
    np.testing.assert_allclose(vmap(lambda p: cond(p, lambda: 1.0, lambda: 2.0))(preds),
                               [1.0, 2.0, 1.0], rtol=0)
    indices = np.array([2, 0, 5])
    np.testing.assert_allclose(
        vmap(lambda i: switch(i, BRANCHES, x, 0.7))(indices),
        [BRANCHES[min(i, 2)](x, 0.7) for i in indices], rtol=1e-14)


def test_cond_vmap_predicate_from_the_data_keeps_the_untaken_branch_out() -> None:
    xs = np.array([4.0, -1.0, 0.25, -9.0])
    # the log branch is nan for negative examples; they take the other branch
    with np.errstate(invalid="ignore"):
        out = vmap(lambda x: cond(x > 0, fnp.log, lambda v: v * 2.0, x))(xs)
    np.testing.assert_allclose(out, [np.log(4.0), -2.0, np.log(0.25), -18.0], rtol=1e-15)


def test_cond_vmap_of_grad_and_grad_of_vmap() -> None:
    ws = np.array([0.3, -0.4, 1.2])
    xs = np.stack([X3_POS, X3_NEG, X3_POS * 0.5])
    per_example = vmap(grad(with_cond, argnums=(0, 1)))(xs, ws)
    expected = stacked([grad(with_if, argnums=(0, 1))(x, w) for x, w in zip(xs, ws)])
    assert_tree_allclose(per_example, expected, rtol=1e-12, atol=1e-14)
    total = grad(lambda xs, ws: fnp.sum(vmap(with_cond)(xs, ws)), argnums=(0, 1))(xs, ws)
    assert_tree_allclose(total, expected, rtol=1e-12, atol=1e-14)
    # with the weight shared (unbatched): its gradient sums over the examples
    shared = grad(lambda w: fnp.sum(vmap(with_cond, in_axes=(0, None))(xs, w)))(0.6)
    np.testing.assert_allclose(shared, sum(grad(with_if, argnums=1)(x, 0.6) for x in xs),
                               rtol=1e-12)


def test_cond_under_jit_traces_once_for_both_branches() -> None:
    f = jit(with_cond)
    for x in (X3_POS, X3_NEG, X3_POS * 2.0, X3_NEG * 3.0):
        np.testing.assert_allclose(f(x, np.float64(0.6)), with_if(x, 0.6), rtol=1e-14)
    assert f.trace_count == 1
    g = jit(grad(with_cond, argnums=(0, 1)))
    for x in (X3_POS, X3_NEG):
        assert_tree_allclose(g(x, np.float64(0.6)), grad(with_if, argnums=(0, 1))(x, 0.6),
                             rtol=1e-13, atol=1e-15)
    assert g.trace_count == 1
    h = jit(with_cond)
    for x in (X3_POS, X3_NEG):
        assert_tree_allclose(grad(h, argnums=(0, 1))(x, np.float64(0.6)),
                             grad(with_if, argnums=(0, 1))(x, 0.6), rtol=1e-13, atol=1e-15)
        assert_tree_allclose(grad(grad(h, argnums=1), argnums=1)(x, np.float64(0.6)),
                             grad(grad(with_if, argnums=1), argnums=1)(x, 0.6),
                             rtol=1e-12, atol=1e-14)
    assert h.trace_count == 1


def test_make_graph_of_cond_is_one_equation_with_both_branches_nested() -> None:
    graph = make_graph(with_cond)(X3_POS, 0.6)
    assert top_level(graph).count("cond") == 1
    text = str(graph)
    assert "    branches[0]: graph(" in text and "    branches[1]: graph(" in text
    # the false branch (index 0) holds exp, the true one (index 1) sin
    false_part, true_part = text.split("branches[1]:")
    assert "exp" in false_part.split("branches[0]:")[1] and "sin" not in false_part
    assert "sin" in true_part and "exp" not in true_part


def test_cond_branches_with_different_structures_name_both() -> None:
    def pair(x: Any) -> Any:
        return (x, x)

    def single(x: Any) -> Any:
        return x

    with pytest.raises(TypeError) as info:
        cond(True, pair, single, 1.0)
    message = str(info.value)
    assert message.startswith("cond/switch: the branches must return the same structure")
    assert "single returns PyTreeDef(*) with leaves f64[]" in message
    assert "pair returns PyTreeDef((*, *)) with leaves f64[], f64[]" in message


def test_cond_branches_with_different_shapes_or_dtypes_name_both() -> None:
    def two(x: Any) -> Any:
        return fnp.ones(2) * x

    def three(x: Any) -> Any:
        return fnp.ones(3) * x

    with pytest.raises(TypeError, match=r"three.*f64\[3\].*two.*f64\[2\]|two.*f64\[2\].*three"):
        cond(True, two, three, 1.0)

    def as_int(x: Any) -> Any:
        return fnp.astype(x, np.int32)

    def as_float(x: Any) -> Any:
        return x

    with pytest.raises(TypeError) as info:
        cond(False, as_float, as_int, 1.0)
    message = str(info.value)
    assert "as_float" in message and "as_int" in message
    assert "f64[]" in message and "i32[]" in message


def test_cond_rejects_a_non_scalar_predicate() -> None:
    with pytest.raises(TypeError, match=r"cond: the predicate must be a scalar.*bool\[2\]"):
        cond(np.array([True, False]), lambda x: x, lambda x: -x, 1.0)
    with pytest.raises(TypeError, match=r"predicate must be a scalar"):
        jit(lambda p, x: cond(p, lambda v: v, lambda v: -v, x))(np.ones(3), 1.0)


# ============================================================================ switch


def branch_sin(x: Any, s: Any) -> Any:
    return fnp.sum(fnp.sin(x)) * s


def branch_square(x: Any, s: Any) -> Any:
    return fnp.sum(x ** 2) + s ** 3


def branch_tanh(x: Any, s: Any) -> Any:
    return fnp.tanh(fnp.sum(x * s))


BRANCHES = [branch_sin, branch_square, branch_tanh]


@pytest.mark.parametrize("index", [-5, -1, 0, 1, 2, 3, 100])
def test_switch_values_and_clamped_indices(index: int) -> None:
    x = np.array([0.3, -1.2])
    expected = BRANCHES[min(max(index, 0), 2)](x, 0.7)  # out of range: clamped, as in JAX
    np.testing.assert_allclose(switch(index, BRANCHES, x, 0.7), expected, rtol=1e-15)
    np.testing.assert_allclose(switch(np.int64(index), BRANCHES, x, 0.7), expected, rtol=1e-15)
    traced = jit(lambda i, x: switch(i, BRANCHES, x, 0.7))
    np.testing.assert_allclose(traced(np.int32(index), x), expected, rtol=1e-15)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_switch_derivatives_match_python_selection(index: int) -> None:
    def f(x: Any, s: Any) -> Any:
        return switch(index, BRANCHES, x, s)

    def ref(x: Any, s: Any) -> Any:
        if index == 0:
            return branch_sin(x, s)
        if index == 1:
            return branch_square(x, s)
        return branch_tanh(x, s)

    args = (np.array([0.3, -1.2, 0.5]), 0.7)
    assert_same_derivatives(f, ref, args)
    check_grads(f, args, order=2)


def test_switch_under_jit_traces_once_for_every_index() -> None:
    x = np.array([0.3, -1.2])
    f = jit(lambda i, x, s: switch(i, BRANCHES, x, s))
    g = jit(grad(lambda x, s, i: switch(i, BRANCHES, x, s), argnums=(0, 1)))
    h = jit(lambda x, s, i: switch(i, BRANCHES, x, s))
    for i in (0, 1, 2, 5, -1, 1):
        branch = BRANCHES[min(max(i, 0), 2)]
        np.testing.assert_allclose(f(np.int32(i), x, np.float64(0.7)), branch(x, 0.7),
                                   rtol=1e-15)
        assert_tree_allclose(g(x, np.float64(0.7), np.int32(i)),
                             grad(branch, argnums=(0, 1))(x, 0.7), rtol=1e-14, atol=1e-15)
        assert_tree_allclose(grad(h, argnums=(0, 1))(x, np.float64(0.7), np.int32(i)),
                             grad(branch, argnums=(0, 1))(x, 0.7), rtol=1e-14, atol=1e-15)
    assert f.trace_count == g.trace_count == h.trace_count == 1
    graph = make_graph(lambda i, x: switch(i, BRANCHES, x, 0.7))(np.int32(0), x)
    assert top_level(graph).count("cond") == 1
    assert all(f"    branches[{k}]: graph(" in str(graph) for k in range(3))


def test_switch_index_computed_from_a_differentiated_value() -> None:
    def f(x: Any) -> Any:
        i = fnp.astype(fnp.floor(x), np.int32)  # piecewise constant: no gradient through it
        return switch(i, [lambda v: v ** 2, lambda v: fnp.sin(v), lambda v: v ** 3], x)

    for x, expected in ((0.5, 1.0), (1.5, np.cos(1.5)), (2.5, 3 * 2.5 ** 2), (7.0, 3 * 49.0),
                        (-3.0, -6.0)):
        assert float(grad(f)(x)) == pytest.approx(expected, rel=1e-14)
        assert float(jit(grad(f))(np.float64(x))) == pytest.approx(expected, rel=1e-14)


def test_switch_branches_closing_over_different_differentiated_values() -> None:
    def f(a: Any, b: Any, i: int) -> Any:
        return switch(i, [lambda v: v * a ** 2, lambda v: fnp.sin(v * b), lambda v: v + a * b],
                      1.5)

    a, b = 0.4, -0.9
    assert_tree_allclose(grad(f, argnums=(0, 1))(a, b, 0), (2 * 1.5 * a, 0.0), rtol=1e-14,
                         atol=0)
    assert_tree_allclose(grad(f, argnums=(0, 1))(a, b, 1), (0.0, 1.5 * np.cos(1.5 * b)),
                         rtol=1e-14, atol=0)
    assert_tree_allclose(grad(f, argnums=(0, 1))(a, b, 2), (b, a), rtol=1e-14, atol=0)
    hess = grad(lambda a, b: grad(f, argnums=0)(a, b, 2), argnums=(0, 1))(a, b)
    assert_tree_allclose(hess, (0.0, 1.0), rtol=1e-14, atol=0)


def test_switch_vmap_over_a_batched_index_including_out_of_range() -> None:
    indices = np.array([2, 0, 1, -4, 9, 1])
    xs = normal(6, 2)
    s = 0.7

    def f(i: Any, x: Any) -> Any:
        return switch(i, BRANCHES, x, s)

    expected = np.array([BRANCHES[min(max(i, 0), 2)](x, s) for i, x in zip(indices, xs)])
    np.testing.assert_allclose(vmap(f)(indices, xs), expected, rtol=1e-14)
    np.testing.assert_allclose(vmap(f, in_axes=(0, 1))(indices, xs.T), expected, rtol=1e-14)
    np.testing.assert_allclose(jit(vmap(f))(indices, xs), expected, rtol=1e-14)
    # per-example gradients with the branch chosen per example
    gs = vmap(grad(f, argnums=1))(indices, xs)
    expected_g = np.stack([grad(BRANCHES[min(max(i, 0), 2)])(x, s)
                           for i, x in zip(indices, xs)])
    np.testing.assert_allclose(gs, expected_g, rtol=1e-13)
    total = grad(lambda xs: fnp.sum(vmap(f)(indices, xs)))(xs)
    np.testing.assert_allclose(total, expected_g, rtol=1e-13)


def test_switch_errors() -> None:
    with pytest.raises(TypeError, match=r"switch: the index must be an integer scalar"):
        switch(1.0, BRANCHES, np.ones(2), 0.7)
    with pytest.raises(TypeError, match=r"integer scalar"):
        switch(np.array([0, 1]), BRANCHES, np.ones(2), 0.7)
    with pytest.raises(ValueError, match=r"at least one branch"):
        switch(0, [], 1.0)

    def vector(x: Any) -> Any:
        return fnp.stack([x, x])

    def scalar(x: Any) -> Any:
        return x

    with pytest.raises(TypeError) as info:
        switch(0, [scalar, scalar, vector], 1.0)
    message = str(info.value)
    assert "scalar" in message and "vector" in message and "f64[2]" in message


# ============================================================================ scan


def rnn_step_body(w: Any, h: Any, x: Any) -> tuple[Any, Any]:
    new = fnp.tanh(h @ w + x)
    return new, fnp.sum(new * x)


def with_scan(h0: Any, xs: Any, w: Any) -> Any:
    h, ys = scan(lambda h, x: rnn_step_body(w, h, x), h0, xs)
    return fnp.sum(h ** 2) + fnp.sum(ys * fnp.arange(1.0, ys.shape[0] + 1.0))


def with_loop(h0: Any, xs: Any, w: Any) -> Any:
    h, ys = h0, []
    for t in range(np.shape(xs)[0]):
        h, y = rnn_step_body(w, h, xs[t])
        ys.append(y)
    return fnp.sum(h ** 2) + fnp.sum(fnp.stack(ys) * fnp.arange(1.0, len(ys) + 1.0))


H0, XS, W3 = normal(3) * 0.5, normal(5, 3) * 0.5, normal(3, 3) * 0.5


def test_scan_values_match_a_python_loop() -> None:
    def body(c: Any, x: Any) -> tuple[Any, Any]:
        return c * 0.9 + x, (c, fnp.sum(x))

    carry, (cs, sums) = scan(body, np.zeros(3), XS)
    expected_c, expected_cs = np.zeros(3), []
    for x in XS:
        expected_cs.append(expected_c)
        expected_c = expected_c * 0.9 + x
    np.testing.assert_allclose(carry, expected_c, rtol=1e-15)
    np.testing.assert_allclose(cs, np.stack(expected_cs), rtol=1e-15)
    np.testing.assert_allclose(sums, XS.sum(axis=1), rtol=1e-15)
    assert cs.shape == (5, 3) and sums.shape == (5,)
    np.testing.assert_allclose(with_scan(H0, XS, W3), with_loop(H0, XS, W3), rtol=1e-14)


def test_scan_derivatives_match_the_unrolled_loop() -> None:
    assert_same_derivatives(with_scan, with_loop, (H0, XS, W3))


def test_scan_check_grads() -> None:
    check_grads(with_scan, (H0, XS, W3), order=2)


def test_scan_body_closing_over_a_differentiated_weight() -> None:
    # W is an argument of the differentiated function; the body reads it from its closure
    def f(w: Any) -> Any:
        return with_scan(H0, XS, w)

    def ref(w: Any) -> Any:
        return with_loop(H0, XS, w)

    np.testing.assert_allclose(grad(f)(W3), grad(ref)(W3), rtol=1e-12)
    check_grads(f, (W3,), order=2)
    # closing over a value derived from the differentiated one, and over two of them
    def g(a: Any, b: Any) -> Any:
        scale = fnp.exp(a)

        def body(c: Any, x: Any) -> tuple[Any, Any]:
            return c * scale + fnp.sin(x * b), c * b

        c, ys = scan(body, 0.5, XS[:, 0])
        return c + fnp.sum(ys)

    def g_ref(a: Any, b: Any) -> Any:
        scale = fnp.exp(a)
        c: Any = 0.5
        total: Any = 0.0
        for x in XS[:, 0]:
            total = total + c * b
            c = c * scale + fnp.sin(x * b)
        return c + total

    assert_same_derivatives(g, g_ref, (-0.2, 0.8))


def test_scan_vmap_over_xs_init_and_closure() -> None:
    batch_xs = normal(4, 5, 3) * 0.5
    batch_h = normal(4, 3) * 0.5
    batch_w = normal(4, 3, 3) * 0.5
    expected = np.array([with_loop(h, xs, w) for h, xs, w in zip(batch_h, batch_xs, batch_w)])
    np.testing.assert_allclose(vmap(with_scan)(batch_h, batch_xs, batch_w), expected,
                               rtol=1e-13)
    only_xs = np.array([with_loop(H0, xs, W3) for xs in batch_xs])
    np.testing.assert_allclose(vmap(with_scan, in_axes=(None, 0, None))(H0, batch_xs, W3),
                               only_xs, rtol=1e-13)
    only_init = np.array([with_loop(h, XS, W3) for h in batch_h])
    np.testing.assert_allclose(vmap(with_scan, in_axes=(0, None, None))(batch_h, XS, W3),
                               only_init, rtol=1e-13)
    only_w = np.array([with_loop(H0, XS, w) for w in batch_w])
    np.testing.assert_allclose(vmap(with_scan, in_axes=(None, None, 0))(H0, XS, batch_w),
                               only_w, rtol=1e-13)
    # the batch on another axis of xs (the scan's axis stays first) and of the init
    np.testing.assert_allclose(
        vmap(with_scan, in_axes=(1, 1, None))(batch_h.T, np.moveaxis(batch_xs, 0, 1), W3),
        np.array([with_loop(h, xs, W3) for h, xs in zip(batch_h, batch_xs)]), rtol=1e-13)
    np.testing.assert_allclose(
        vmap(with_scan, in_axes=(None, 2, None))(H0, np.moveaxis(batch_xs, 0, 2), W3),
        only_xs, rtol=1e-13)


def test_scan_vmap_returns_stacked_ys_with_the_batch_first() -> None:
    batch_xs = normal(4, 5, 3)

    def f(xs: Any) -> Any:
        return scan(lambda c, x: (c + x, c * x), fnp.zeros(3), xs)

    carry, ys = vmap(f)(batch_xs)
    expected = [f(xs) for xs in batch_xs]
    np.testing.assert_allclose(carry, np.stack([c for c, _ in expected]), rtol=1e-15)
    assert ys.shape == (4, 5, 3)
    np.testing.assert_allclose(ys, np.stack([y for _, y in expected]), rtol=1e-15)
    carry_t, ys_t = vmap(f, out_axes=1)(batch_xs)
    assert ys_t.shape == (5, 4, 3)
    np.testing.assert_allclose(ys_t, np.moveaxis(ys, 0, 1), rtol=1e-15)
    np.testing.assert_allclose(carry_t, carry.T, rtol=1e-15)


def test_scan_vmap_of_grad_and_grad_of_vmap() -> None:
    batch_xs = normal(3, 5, 3) * 0.5
    per_example = vmap(grad(with_scan, argnums=(0, 2)), in_axes=(None, 0, None))(H0, batch_xs,
                                                                                 W3)
    expected = stacked([grad(with_loop, argnums=(0, 2))(H0, xs, W3) for xs in batch_xs])
    assert_tree_allclose(per_example, expected, rtol=1e-12, atol=1e-14)
    total = grad(lambda h, w: fnp.sum(vmap(with_scan, in_axes=(None, 0, None))(h, batch_xs, w)),
                 argnums=(0, 1))(H0, W3)
    assert_tree_allclose(total, tree.map(lambda g: g.sum(axis=0), expected), rtol=1e-12,
                         atol=1e-14)


def test_scan_under_jit_and_its_compositions_with_grad() -> None:
    f = jit(with_scan)
    for k in range(3):
        np.testing.assert_allclose(f(H0, XS * (k + 1), W3), with_loop(H0, XS * (k + 1), W3),
                                   rtol=1e-14)
    assert f.trace_count == 1
    g = jit(grad(with_scan, argnums=(0, 1, 2)))
    for k in range(3):
        assert_tree_allclose(g(H0, XS, W3 * (k + 1)),
                             grad(with_loop, argnums=(0, 1, 2))(H0, XS, W3 * (k + 1)),
                             rtol=1e-12, atol=1e-14)
    assert g.trace_count == 1
    h = jit(with_scan)
    assert_tree_allclose(grad(h, argnums=(0, 1, 2))(H0, XS, W3),
                         grad(with_loop, argnums=(0, 1, 2))(H0, XS, W3), rtol=1e-12, atol=1e-14)
    hess_w = grad(lambda w: fnp.sum(grad(h, argnums=2)(H0, XS, w) ** 2))(W3)
    np.testing.assert_allclose(
        hess_w, grad(lambda w: fnp.sum(grad(with_loop, argnums=2)(H0, XS, w) ** 2))(W3),
        rtol=1e-11)
    assert h.trace_count == 1
    batched_f = jit(vmap(with_scan, in_axes=(None, 0, None)))
    batch = np.stack([XS, XS * 2.0])
    np.testing.assert_allclose(batched_f(H0, batch, W3), [with_loop(H0, x, W3) for x in batch],
                               rtol=1e-13)


def test_scan_inside_a_scan() -> None:
    grid = normal(4, 3, 2) * 0.5

    def f(a: Any, grid: Any) -> Any:
        def row(c: Any, xs: Any) -> tuple[Any, Any]:
            inner_c, inner_ys = scan(lambda d, x: (d * a + fnp.sum(x), fnp.sin(d)), c, xs)
            return inner_c * 0.5, fnp.sum(inner_ys)

        c, ys = scan(row, 0.1, grid)
        return c + fnp.sum(ys ** 2)

    def ref(a: Any, grid: Any) -> Any:
        c: Any = 0.1
        total: Any = 0.0
        for xs in grid:
            d: Any = c
            row_sum: Any = 0.0
            for x in xs:
                row_sum = row_sum + fnp.sin(d)
                d = d * a + fnp.sum(x)
            c = d * 0.5
            total = total + row_sum ** 2
        return c + total

    assert_same_derivatives(f, ref, (0.7, grid))
    check_grads(f, (0.7, grid), order=2)
    jf = jit(grad(f, argnums=(0, 1)))
    assert_tree_allclose(jf(np.float64(0.7), grid), grad(ref, argnums=(0, 1))(0.7, grid),
                         rtol=1e-12, atol=1e-14)
    assert_tree_allclose(jf(np.float64(0.3), grid), grad(ref, argnums=(0, 1))(0.3, grid),
                         rtol=1e-12, atol=1e-14)
    assert jf.trace_count == 1
    graph = make_graph(f)(0.7, grid)
    assert top_level(graph).count("scan") == 1
    assert str(graph).count("= scan[") == 2  # the inner one nested in the outer's body


def test_cond_inside_a_scan() -> None:
    def f(w: Any, xs: Any) -> Any:
        def body(c: Any, x: Any) -> tuple[Any, Any]:
            new = cond(x > 0, lambda v: v * w + x, lambda v: fnp.sin(v) - x * w, c)
            return new, new ** 2

        c, ys = scan(body, 0.3, xs)
        return c + fnp.sum(ys)

    def ref(w: Any, xs: Any) -> Any:
        c, total = 0.3, 0.0
        for x in xs:
            c = c * w + x if x > 0 else fnp.sin(c) - x * w
            total = total + c ** 2
        return c + total

    xs = np.array([0.5, -0.3, -0.8, 0.2, 0.9, -0.1])
    assert_same_derivatives(f, ref, (0.8, xs))
    check_grads(f, (0.8, xs), order=2)
    assert_tree_allclose(jit(grad(f, argnums=(0, 1)))(np.float64(0.8), xs),
                         grad(ref, argnums=(0, 1))(0.8, xs), rtol=1e-12, atol=1e-14)
    batch = np.stack([xs, -xs, xs[::-1]])
    np.testing.assert_allclose(vmap(f, in_axes=(None, 0))(0.8, batch),
                               [ref(0.8, b) for b in batch], rtol=1e-13)
    gs = vmap(grad(f), in_axes=(None, 0))(0.8, batch)
    np.testing.assert_allclose(gs, [grad(ref)(0.8, b) for b in batch], rtol=1e-12)


def chain(xs: Any) -> Any:
    return scan(lambda c, x: (fnp.sin(c) * x + c, c), 0.0, xs)


def test_tracing_does_not_grow_with_the_trip_count() -> None:
    short = make_graph(chain)(np.ones(10))
    long = make_graph(chain)(np.ones(10_000))
    assert len(short.eqns) == len(long.eqns) == 1
    assert top_level(long) == ["scan"]
    (eqn,) = long.eqns
    body = eqn.params["body"]
    assert isinstance(body, Graph)
    assert len(body.eqns) == len(short.eqns[0].params["body"].eqns) == 3
    assert eqn.params["length"] == 10_000
    # the same under grad: a forward and a backward scan, whatever the length
    g_short = make_graph(grad(lambda xs: fnp.sum(chain(xs)[1]) + chain(xs)[0]))(np.ones(10))
    g_long = make_graph(grad(lambda xs: fnp.sum(chain(xs)[1]) + chain(xs)[0]))(np.ones(10_000))
    assert top_level(g_short) == [re.sub("10000", "10", n) for n in top_level(g_long)]
    assert len(str(g_short).splitlines()) == len(str(g_long).splitlines())


def test_make_graph_prints_one_scan_equation_with_its_body_nested() -> None:
    for n in (3, 10_000):
        text = str(make_graph(chain)(np.ones(n) * 0.5))
        assert text.splitlines() == [
            f"graph(a:f64[{n}]) {{",
            f"  b:f64[], c:f64[{n}] = scan[n_consts=0, n_carry=1, length={n}, "
            "reverse=False] 0.0:f64[] a",
            "    body: graph(d:f64[], e:f64[]) {",
            "      f:f64[] = sin d",
            "      g:f64[] = mul f e",
            "      h:f64[] = add g d",
            "      return h, d",
            "    }",
            "  return b, c",
            "}",
        ]


def test_grad_of_scan_is_a_reverse_scan() -> None:
    graph = make_graph(grad(lambda xs: chain(xs)[0]))(np.ones(7))
    scans = [e for e in graph.eqns if e.prim.name == "scan"]
    assert [e.params["reverse"] for e in scans] == [False, True]
    assert all(e.params["length"] == 7 for e in scans)
    reverse_graph = make_graph(grad(lambda xs: scan(lambda c, x: (fnp.sin(c) * x + c, c), 0.0,
                                                    xs, reverse=True)[0]))(np.ones(7))
    assert [e.params["reverse"] for e in reverse_graph.eqns if e.prim.name == "scan"] == [
        True, False]


def test_grad_of_scan_reads_constants_and_xs_instead_of_stacking_them() -> None:
    # The residuals that are the scan's own operands (the weight, each step's x) are read
    # in the backward pass; only what changes from step to step is stacked per step.
    graph = make_graph(grad(with_scan, argnums=(0, 1, 2)))(H0, XS, W3)
    forward = next(e for e in graph.eqns if e.prim.name == "scan")
    assert (5, *W3.shape) not in [v.aval.shape for v in forward.outvars]
    body, n_consts, n_carry = (forward.params[k] for k in ("body", "n_consts", "n_carry"))
    operands = body.invars[:n_consts] + body.invars[n_consts + n_carry:]
    assert operands and not any(v in operands for v in body.outvars)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_reverse_matches_a_loop_in_either_direction(reverse: bool) -> None:
    xs = np.array([1.0, 2.0, 3.0])
    carry, ys = scan(lambda c, x: (c * 2.0 + x, c), 0.0, xs, reverse=reverse)
    expected_ys = np.zeros(3)
    c = 0.0
    for i in (reversed(range(3)) if reverse else range(3)):
        expected_ys[i] = c  # ys keep the positions of their xs
        c = c * 2.0 + xs[i]
    assert float(carry) == c
    np.testing.assert_array_equal(ys, expected_ys)
    if reverse:  # JAX's answer
        assert float(carry) == 17.0
        np.testing.assert_array_equal(ys, [8.0, 3.0, 0.0])

    def f(h0: Any, xs: Any, w: Any) -> Any:
        h, ys = scan(lambda h, x: rnn_step_body(w, h, x), h0, xs, reverse=reverse)
        return fnp.sum(h ** 2) + fnp.sum(ys * fnp.arange(1.0, 6.0))

    def ref(h0: Any, xs: Any, w: Any) -> Any:
        h, ys = h0, [0.0] * 5
        for t in (range(4, -1, -1) if reverse else range(5)):
            h, ys[t] = rnn_step_body(w, h, xs[t])
        return fnp.sum(h ** 2) + fnp.sum(fnp.stack(ys) * fnp.arange(1.0, 6.0))

    assert_same_derivatives(f, ref, (H0, XS, W3))
    check_grads(f, (H0, XS, W3), order=2)


def test_scan_of_zero_length_returns_init_and_empty_ys() -> None:
    def body(c: Any, x: Any) -> tuple[Any, Any]:
        return (c[0] + fnp.sum(x), c[1] * 2.0), {"y": c[1] * x[0], "z": fnp.outer(x, x)}

    init = (np.float64(1.5), np.array([1.0, 2.0], np.float32))
    carry, ys = scan(body, init, np.zeros((0, 3)))
    assert float(carry[0]) == 1.5
    np.testing.assert_array_equal(carry[1], [1.0, 2.0])
    assert np.asarray(carry[1]).dtype == np.float32
    assert ys["y"].shape == (0, 2) and ys["y"].dtype == np.float64
    assert ys["z"].shape == (0, 3, 3)
    # with no xs: length=0
    c, none = scan(lambda c, _: (c + 1.0, None), 2.5, None, length=0)
    assert float(c) == 2.5 and none is None
    # under jit and grad: the identity on the carry
    f = jit(lambda init, xs: scan(lambda c, x: (c * x, c), init, xs))
    c_j, ys_j = f(np.float64(3.0), np.zeros(0))
    assert float(c_j) == 3.0 and ys_j.shape == (0,)
    g = grad(lambda c0, w: scan(lambda c, x: (c * w + x, c), c0, np.zeros(0))[0],
             argnums=(0, 1))(3.0, 2.0)
    assert_tree_allclose(g, (1.0, 0.0), rtol=0, atol=0)
    check_grads(lambda c0, w: scan(lambda c, x: (fnp.sin(c * w), c), c0, np.zeros(0))[0],
                (3.0, 2.0), order=2)


def test_scan_with_pytree_carry_and_xs() -> None:
    def body(c: dict[str, Any], x: tuple[Any, dict[str, Any]]) -> tuple[Any, Any]:
        a, rest = x
        new = {"h": fnp.tanh(c["h"] * c["scale"] + a), "scale": c["scale"] * 0.9 + rest["b"]}
        return new, (new["h"], {"s": fnp.sum(new["h"]) * rest["b"]})

    def f(h: Any, scale: Any, a: Any, b: Any) -> Any:
        c, (hs, extra) = scan(body, {"h": h, "scale": scale}, (a, {"b": b}))
        return fnp.sum(c["h"]) + c["scale"] + fnp.sum(hs ** 2) + fnp.sum(extra["s"])

    def ref(h: Any, scale: Any, a: Any, b: Any) -> Any:
        c, hs, ss = {"h": h, "scale": scale}, [], []
        for t in range(4):
            c, (y, extra) = body(c, (a[t], {"b": b[t]}))
            hs.append(y)
            ss.append(extra["s"])
        return fnp.sum(c["h"]) + c["scale"] + fnp.sum(fnp.stack(hs) ** 2) + fnp.sum(fnp.stack(ss))

    args = (normal(2), 0.8, normal(4, 2), normal(4) * 0.1)
    assert_same_derivatives(f, ref, args)
    check_grads(f, args, order=2)
    carry, (hs, extra) = scan(body, {"h": args[0], "scale": 0.8}, (args[2], {"b": args[3]}))
    assert set(carry) == {"h", "scale"} and hs.shape == (4, 2) and extra["s"].shape == (4,)


def test_scan_integer_counter_next_to_float_carries_under_grad() -> None:
    def f(x: Any) -> Any:
        def body(c: tuple[Any, Any], _: None) -> tuple[tuple[Any, Any], Any]:
            i, h = c
            return (i + 1, h * x + i), i

        (count, h), counts = scan(body, (0, x), None, length=4)
        return h, count, counts

    def ref(x: Any) -> Any:
        i, h = 0, x
        for _ in range(4):
            i, h = i + 1, h * x + i
        return h

    h, count, counts = f(0.7)
    assert int(count) == 4 and np.asarray(count).dtype.kind == "i"
    np.testing.assert_array_equal(counts, [0, 1, 2, 3])
    assert float(h) == pytest.approx(ref(0.7), rel=1e-15)
    assert_same_derivatives(lambda x: f(x)[0], ref, (0.7,))
    assert float(grad(lambda x: f(x)[0])(0.7)) == pytest.approx(4.6005, rel=1e-13)  # JAX's
    check_grads(lambda x: f(x)[0], (0.7,), order=2)
    assert float(jit(grad(lambda x: f(x)[0]))(np.float64(0.7))) == pytest.approx(4.6005,
                                                                                 rel=1e-13)


def test_scan_with_none_as_y_and_length_without_xs() -> None:
    c, ys = scan(lambda c, _: (c * 2.0, None), 1.0, None, length=5)
    assert float(c) == 32.0 and ys is None
    c, ys = scan(lambda c, x: (c + x, None), 0.0, np.arange(4.0), length=4)
    assert float(c) == 6.0 and ys is None
    g = grad(lambda w: scan(lambda c, _: (c * w, None), 1.0, None, length=5)[0])(1.1)
    assert float(g) == pytest.approx(5 * 1.1 ** 4, rel=1e-14)


def test_scan_carry_changing_shape_names_the_function_and_both() -> None:
    def grows(c: Any, x: Any) -> tuple[Any, Any]:
        return fnp.stack([c, x]), x

    with pytest.raises(TypeError) as info:
        scan(grows, 0.0, np.ones(3))
    message = str(info.value)
    assert message.startswith("scan: grows must return a carry of the same structure")
    assert re.search(r"receives .*f64\[\].* and returns .*f64\[2\]", message)


def test_scan_carry_changing_structure_or_dtype_names_the_function_and_both() -> None:
    def to_list(c: Any, x: Any) -> tuple[Any, Any]:
        return [c[0] + x, c[1]], x

    with pytest.raises(TypeError) as info:
        scan(to_list, (0.0, 1.0), np.ones(3))
    message = str(info.value)
    assert "to_list" in message and "(*, *)" in message and "[*, *]" in message

    def drops(c: Any, x: Any) -> tuple[Any, Any]:
        return {"a": c["a"]}, x

    with pytest.raises(TypeError) as info:
        scan(drops, {"a": 0.0, "b": 1.0}, np.ones(3))
    message = str(info.value)
    assert "drops" in message and "'b'" in message

    def to_float(c: Any, x: Any) -> tuple[Any, Any]:
        return c + x, x

    with pytest.raises(TypeError) as info:
        scan(to_float, np.int64(0), np.ones(3))
    message = str(info.value)
    assert "to_float" in message and "i64[]" in message and "f64[]" in message

    with pytest.raises(TypeError, match=r"must return a pair \(carry, y\)"):
        scan(lambda c, x: c + x, 0.0, np.ones(3))


def test_scan_leading_length_errors() -> None:
    with pytest.raises(ValueError, match=r"leading axes of xs and `length` differ: \[3, 4\]"):
        scan(lambda c, x: (c, None), 0.0, (np.ones(3), np.ones((4, 2))))
    with pytest.raises(ValueError, match=r"differ: \[3, 5\]"):
        scan(lambda c, x: (c, None), 0.0, np.ones(3), length=5)
    with pytest.raises(ValueError, match=r"with no xs to scan over, give `length`"):
        scan(lambda c, x: (c, None), 0.0, None)
    with pytest.raises(ValueError, match=r"needs a leading axis"):
        scan(lambda c, x: (c, None), 0.0, np.float64(2.0))


# ============================================================================ map


def test_map_values_derivatives_vmap_and_jit() -> None:
    xs = {"a": normal(4, 3), "b": normal(4)}

    def fun(x: dict[str, Any]) -> Any:
        return (fnp.sin(x["a"]) * x["b"], fnp.sum(x["a"] ** 2))

    out = map(fun, xs)
    expected = stacked([fun({"a": a, "b": b}) for a, b in zip(xs["a"], xs["b"])])
    assert_tree_allclose(out, expected, rtol=1e-15, atol=0)

    def f(a: Any, b: Any, w: Any) -> Any:
        ys, sq = map(lambda x: (fnp.sin(x["a"] * w) * x["b"], fnp.sum(x["a"] ** 2) * w),
                     {"a": a, "b": b})
        return fnp.sum(ys ** 2) + fnp.sum(sq)

    def ref(a: Any, b: Any, w: Any) -> Any:
        total = 0.0
        for t in range(4):
            total = total + fnp.sum((fnp.sin(a[t] * w) * b[t]) ** 2) + fnp.sum(a[t] ** 2) * w
        return total

    args = (xs["a"], xs["b"], 0.9)
    assert_same_derivatives(f, ref, args)
    check_grads(f, args, order=2)
    jf = jit(f)
    np.testing.assert_allclose(jf(*args[:2], np.float64(0.9)), ref(*args), rtol=1e-14)
    np.testing.assert_allclose(jf(*args[:2], np.float64(0.5)), ref(*args[:2], 0.5), rtol=1e-14)
    assert jf.trace_count == 1
    batch_a = normal(2, 4, 3)
    np.testing.assert_allclose(vmap(f, in_axes=(0, None, None))(batch_a, xs["b"], 0.9),
                               [ref(a, xs["b"], 0.9) for a in batch_a], rtol=1e-13)
    graph = make_graph(f)(*args)
    assert top_level(graph).count("scan") == 1
    # per-example gradients of the weight, and the gradient of the batched function
    per_example = vmap(grad(f, argnums=2), in_axes=(0, None, None))(batch_a, xs["b"], 0.9)
    expected = [grad(ref, argnums=2)(a, xs["b"], 0.9) for a in batch_a]
    np.testing.assert_allclose(per_example, expected, rtol=1e-12)
    total = grad(lambda w: fnp.sum(vmap(f, in_axes=(0, None, None))(batch_a, xs["b"], w)))(0.9)
    np.testing.assert_allclose(total, sum(expected), rtol=1e-12)


# ============================================================================ fori_loop


def fori_body(i: Any, val: tuple[Any, Any]) -> tuple[Any, Any]:
    x, acc = val
    return x * 0.9 + fnp.sin(acc * i), acc + x * i


def with_fori(x: Any, acc: Any) -> Any:
    out = fori_loop(1, 6, fori_body, (x, acc))
    return fnp.sum(out[0] ** 2) + fnp.sum(out[1])


def with_for(x: Any, acc: Any) -> Any:
    val = (x, acc)
    for i in range(1, 6):
        val = fori_body(i, val)
    return fnp.sum(val[0] ** 2) + fnp.sum(val[1])


def test_fori_loop_values_and_derivatives_match_a_for_loop() -> None:
    args = (np.array([0.3, -0.5]), np.array([0.1, 0.2]))
    np.testing.assert_allclose(with_fori(*args), with_for(*args), rtol=1e-14)
    assert_same_derivatives(with_fori, with_for, args)
    check_grads(with_fori, args, order=2)
    assert float(fori_loop(0, 5, lambda i, v: v + i, 0.0)) == 10.0
    assert float(fori_loop(np.int64(2), np.int32(5), lambda i, v: v * 2.0 + i, 1.0)) == (
        ((1.0 * 2 + 2) * 2 + 3) * 2 + 4)


@pytest.mark.parametrize("bounds", [(5, 2), (3, 3), (0, 0), (-1, -4)])
def test_fori_loop_with_upper_not_above_lower_returns_init(bounds: tuple[int, int]) -> None:
    lower, upper = bounds
    init = (np.array([1.0, 2.0]), np.int32(7))
    out = fori_loop(lower, upper, lambda i, v: (v[0] * 2.0, v[1] + 1), init)
    np.testing.assert_array_equal(out[0], init[0])
    assert int(out[1]) == 7
    traced = jit(lambda lo, hi, v: fori_loop(lo, hi, lambda i, v: v * 2.0, v))
    np.testing.assert_array_equal(traced(np.int32(lower), np.int32(upper), init[0]), init[0])
    g = grad(lambda x: fnp.sum(fori_loop(lower, upper, lambda i, v: v * x, init[0])))(3.0)
    assert float(g) == 0.0


def test_fori_loop_with_traced_bounds_is_a_while_loop_under_jit() -> None:
    f = jit(lambda lo, hi, x: fori_loop(lo, hi, lambda i, v: v * 0.5 + i, x))
    for lo, hi in ((0, 4), (2, 9), (3, 1), (0, 0)):
        expected = 1.0
        for i in range(lo, hi):
            expected = expected * 0.5 + i
        assert float(f(np.int64(lo), np.int64(hi), np.float64(1.0))) == expected
    assert f.trace_count == 1
    graph = make_graph(lambda hi, x: fori_loop(0, hi, lambda i, v: v * 0.5 + i, x))(
        np.int64(4), 1.0)
    assert "while" in top_level(graph) and "scan" not in top_level(graph)
    static = make_graph(lambda x: fori_loop(0, 1000, lambda i, v: v * 0.5 + i, x))(1.0)
    assert top_level(static) == ["scan"]
    # eager grad with traced bounds: the while loop is differentiated with its values known
    g = grad(lambda x, hi: fori_loop(0, hi, lambda i, v: v * x + i, 1.0))
    # v1 = x, v2 = x^2 + 1, v3 = x^3 + x + 2: d/dx = 3x^2 + 1
    assert float(g(0.5, 3)) == pytest.approx(1.75, rel=1e-14)


def test_fori_loop_closing_over_a_differentiated_value_inside_a_jitted_grad() -> None:
    def f(w: Any, x: Any) -> Any:
        return fnp.sum(fori_loop(0, 8, lambda i, v: fnp.tanh(v @ w + x * i * 0.1), x))

    def ref(w: Any, x: Any) -> Any:
        v = x
        for i in range(8):
            v = fnp.tanh(v @ w + x * i * 0.1)
        return fnp.sum(v)

    x = normal(3)
    g = jit(grad(f, argnums=(0, 1)))
    for scale in (0.5, 1.0, -0.7):
        assert_tree_allclose(g(W3 * scale, x), grad(ref, argnums=(0, 1))(W3 * scale, x),
                             rtol=1e-12, atol=1e-14)
    assert g.trace_count == 1
    assert_same_derivatives(f, ref, (W3, x))
    check_grads(f, (W3, x), order=2)
    batch_x = normal(4, 3)
    np.testing.assert_allclose(vmap(f, in_axes=(None, 0))(W3, batch_x),
                               [ref(W3, b) for b in batch_x], rtol=1e-13)
    per_example = vmap(grad(f), in_axes=(None, 0))(W3, batch_x)
    expected = np.stack([grad(ref)(W3, b) for b in batch_x])
    np.testing.assert_allclose(per_example, expected, rtol=1e-12)
    total = grad(lambda w: fnp.sum(vmap(f, in_axes=(None, 0))(w, batch_x)))(W3)
    np.testing.assert_allclose(total, expected.sum(axis=0), rtol=1e-12)
    jitted = jit(f)
    for scale in (0.5, 1.0):
        assert_tree_allclose(grad(jitted, argnums=(0, 1))(W3 * scale, x),
                             grad(ref, argnums=(0, 1))(W3 * scale, x), rtol=1e-12, atol=1e-14)
    assert jitted.trace_count == 1


def test_fori_loop_with_an_integer_counter_next_to_a_float_carry() -> None:
    def f(x: Any) -> Any:
        count, value = fori_loop(0, 5, lambda i, c: (c[0] + i, c[1] * x + c[0]), (0, x))
        return value, count

    def ref(x: Any) -> Any:
        count, value = 0, x
        for i in range(5):
            count, value = count + i, value * x + count
        return value

    value, count = f(0.6)
    assert int(count) == 10 and np.asarray(count).dtype.kind == "i"
    assert_same_derivatives(lambda x: f(x)[0], ref, (0.6,))


# ============================================================================ while_loop


def while_body(c: tuple[Any, Any]) -> tuple[Any, Any]:
    i, x = c
    return i + 1, x * fnp.sin(x) + 1.0


def with_while(x: Any) -> Any:
    return while_loop(lambda c: c[0] < 5, while_body, (0, x))[1]


def with_python_while(x: Any) -> Any:
    i = 0
    while i < 5:
        i, x = while_body((i, x))
    return x


def doubling(x: Any) -> Any:
    """Doubles x until it is at least 10: the trip count depends on the value."""
    return while_loop(lambda v: v < 10.0, lambda v: v * 2.0 + 0.5, x)


def python_doubling(x: Any) -> Any:
    while x < 10.0:
        x = x * 2.0 + 0.5
    return x


def test_while_loop_values_match_a_python_while() -> None:
    for x in (0.5, -1.0, 2.0):
        assert float(with_while(x)) == pytest.approx(float(with_python_while(x)), rel=1e-15)
    for x in (0.3, 3.0, 9.9, 10.0, 25.0):
        assert float(doubling(x)) == python_doubling(x)
    # a pytree carry with a counter
    init: dict[str, Any] = {"n": 0, "v": np.array([1.0, -1.0])}
    out = while_loop(lambda c: c["n"] < 3, lambda c: {"n": c["n"] + 1, "v": c["v"] * 2.0},
                     init)
    assert int(out["n"]) == 3
    np.testing.assert_array_equal(out["v"], [8.0, -8.0])
    never = while_loop(lambda v: v > 100.0, lambda v: v * 2.0, np.float64(1.0))
    assert float(never) == 1.0


def test_while_loop_derivatives_match_a_python_while() -> None:
    for x in (0.5, -1.0):
        assert_same_derivatives(with_while, with_python_while, (x,))
        check_grads(with_while, (x,), order=2)
    for x in (0.3, 1.7, 12.0):  # 4, 3 and 0 iterations
        assert_same_derivatives(doubling, python_doubling, (x,))
        check_grads(doubling, (x,), order=2)
    assert float(grad(doubling)(0.3)) == 16.0


def test_while_loop_body_closing_over_a_differentiated_value() -> None:
    def f(w: Any, x: Any) -> Any:
        return while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, fnp.tanh(c[1] @ w) + x),
                          (0, x))[1]

    def ref(w: Any, x: Any) -> Any:
        v = x
        for _ in range(4):
            v = fnp.tanh(v @ w) + x
        return v

    def loss(w: Any, x: Any) -> Any:
        return fnp.sum(f(w, x) ** 2)

    def loss_ref(w: Any, x: Any) -> Any:
        return fnp.sum(ref(w, x) ** 2)

    x = normal(3)
    assert_same_derivatives(loss, loss_ref, (W3, x))
    check_grads(loss, (W3, x), order=2)

    # a condition reading a traced threshold: the trip count depends on it, the gradient
    # flows only through the body
    def g(a: Any) -> Any:
        return while_loop(lambda v: v < a * 10.0, lambda v: v * a + 1.0, 1.0)

    def g_ref(a: Any) -> Any:
        v = 1.0
        while v < a * 10.0:
            v = v * a + 1.0
        return v

    assert_same_derivatives(g, g_ref, (1.3,))


def test_while_loop_under_vmap_with_a_trip_count_per_example() -> None:
    xs = np.array([0.3, 9.9, 25.0, 1.7, 4.0])  # 4, 1, 0, 3 and 2 iterations
    np.testing.assert_array_equal(vmap(doubling)(xs), [python_doubling(x) for x in xs])
    np.testing.assert_array_equal(jit(vmap(doubling))(xs), [python_doubling(x) for x in xs])

    def count_steps(limit: Any, x: Any) -> Any:
        return while_loop(lambda c: c[1] < limit, lambda c: (c[0] + 1, c[1] * 2.0), (0, x))

    limits = np.array([1.0, 100.0, 3.0])
    n, v = vmap(count_steps, in_axes=(-1, None))(limits, 1.0)
    assert n.tolist() == [0, 7, 2] and v.tolist() == [1.0, 128.0, 4.0]
    n2, _ = vmap(count_steps, in_axes=(None, 0))(10.0, np.array([1.0, 6.0, 20.0]))
    assert n2.tolist() == [4, 1, 0]
    # grad of the batched loop: each example differentiated over its own iterations
    total = grad(lambda xs: fnp.sum(vmap(doubling)(xs)))(xs)
    np.testing.assert_allclose(total, [16.0, 2.0, 1.0, 8.0, 4.0], rtol=0)
    np.testing.assert_allclose(total, [grad(python_doubling)(x) for x in xs], rtol=1e-15)


def test_while_loop_grad_under_vmap_or_forward_mode_under_jit_is_a_clear_error() -> None:
    # Reverse mode needs the trip count, and each example of a vmap may have its own (JAX
    # refuses grad of while_loop everywhere); funcgrad's forward mode is derived from the
    # reverse mode, so jvp under jit or vmap meets the same limit. The error says what to
    # do; grad of a vmapped while_loop, and jvp outside jit, work.
    xs = np.array([0.3, 9.9, 25.0, 1.7, 4.0])
    with pytest.raises(ConcretizationError, match="vmap each example may loop"):
        vmap(grad(doubling))(xs)
    with pytest.raises(ConcretizationError, match="Use scan, or fori_loop"):
        jit(lambda x: jvp(doubling, (x,), (np.float64(1.0),)))(np.float64(0.3))
    np.testing.assert_allclose(grad(lambda v: fnp.sum(vmap(doubling)(v)))(xs),
                               [16.0, 2.0, 1.0, 8.0, 4.0], rtol=0)
    assert_tree_allclose(jvp(doubling, (np.float64(0.3),), (np.float64(1.0),)),
                         (np.float64(12.3), np.float64(16.0)), rtol=1e-14, atol=0)


def test_while_loop_under_jit() -> None:
    f = jit(doubling)
    for x in (0.3, 9.9, 25.0):  # different trip counts, one trace
        assert float(f(np.float64(x))) == python_doubling(x)
    assert f.trace_count == 1
    graph = make_graph(doubling)(1.0)
    assert top_level(graph) == ["while"]
    text = str(graph)
    assert "    cond: graph(" in text and "    body: graph(" in text
    # a loop nested in a jitted function nested in a while body
    inner = jit(lambda v: fori_loop(0, 3, lambda i, u: u + 1.0, v))
    nested = jit(lambda x: while_loop(lambda v: v < 10.0, inner, x))
    assert float(nested(np.float64(0.5))) == 12.5
    assert float(grad(lambda x: while_loop(lambda v: v < 10.0, inner, x) * x)(0.5)) == (
        12.5 + 0.5)


def test_while_loop_grad_under_jit_raises_concretization_error() -> None:
    with pytest.raises(ConcretizationError) as info:
        jit(grad(doubling))(np.float64(0.3))
    message = str(info.value)
    assert "while_loop" in message and "number of iterations" in message
    assert "test_control.py" in message
    with pytest.raises(ConcretizationError, match=r"while_loop"):
        make_graph(grad(doubling))(0.3)
    with pytest.raises(ConcretizationError, match=r"while_loop"):
        jit(grad(lambda x: fnp.sum(with_while(x))))(np.ones(2))
    # fori_loop with static bounds is a scan: fine under jit(grad)
    g = jit(grad(lambda x: fori_loop(0, 5, lambda i, v: v * fnp.sin(v) + 1.0, x)))
    assert float(g(np.float64(0.5))) == pytest.approx(float(grad(with_python_while)(0.5)),
                                                      rel=1e-13)


def test_while_loop_errors() -> None:
    def counts_down(v: Any) -> Any:
        return v

    with pytest.raises(TypeError) as info:
        while_loop(counts_down, lambda v: v - 1, 3)
    message = str(info.value)
    assert message.startswith("while_loop: counts_down must return a bool scalar")
    assert "i64[]" in message
    with pytest.raises(TypeError, match=r"must return a bool scalar, got f64\[\]"):
        while_loop(lambda v: v - 1.0, lambda v: v - 1.0, 3.0)
    with pytest.raises(TypeError, match=r"must return a bool scalar, got bool\[2\]"):
        while_loop(lambda v: v > 0, lambda v: v - 1.0, np.ones(2))

    def widen(v: Any) -> Any:
        return fnp.stack([v, v])

    with pytest.raises(TypeError) as info:
        while_loop(lambda v: v < 3.0, widen, 1.0)
    message = str(info.value)
    assert "widen" in message and "f64[]" in message and "f64[2]" in message


# ============================================================================ dynamic slices


A = np.arange(20.0).reshape(4, 5)


@pytest.mark.parametrize("start", [(0, 0), (1, 2), (2, 3), (3, 4), (9, 9)])
def test_dynamic_slice_values_and_clamping(start: tuple[int, int]) -> None:
    sizes = (2, 3)
    # JAX clamps each start so that the block fits
    r, c = min(start[0], 4 - 2), min(start[1], 5 - 3)
    expected = A[r:r + 2, c:c + 3]
    np.testing.assert_array_equal(dynamic_slice(A, start, sizes), expected)
    np.testing.assert_array_equal(dynamic_slice(A, [np.int32(s) for s in start], sizes),
                                  expected)
    f = jit(lambda a, i, j: dynamic_slice(a, (i, j), sizes))
    np.testing.assert_array_equal(f(A, np.int64(start[0]), np.int64(start[1])), expected)


def test_dynamic_slice_under_jit_traces_once_for_every_start() -> None:
    f = jit(lambda a, i: dynamic_slice_in_dim(a, i, 2, axis=1))
    for i in range(7):
        j = min(i, 3)
        np.testing.assert_array_equal(f(A, np.int64(i)), A[:, j:j + 2])
    assert f.trace_count == 1


def test_dynamic_slice_negative_starts_count_from_the_end_as_in_jax() -> None:
    # jax.lax.dynamic_slice(x, (-2,), (3,)) is x[7:10] for len(x) == 10 (negative indices
    # are taken from the end, then clamped); far below -len clamps to the start
    x = np.arange(10.0)
    np.testing.assert_array_equal(dynamic_slice(x, [-2], [3]), [7.0, 8.0, 9.0])
    np.testing.assert_array_equal(dynamic_slice(x, [-20], [3]), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(dynamic_index_in_dim(A, -1, keepdims=False), A[-1])
    np.testing.assert_array_equal(dynamic_update_slice(x, np.ones(3), [-1]),
                                  [0, 1, 2, 3, 4, 5, 6, 1, 1, 1])


def test_dynamic_slice_in_dim_and_index_in_dim() -> None:
    np.testing.assert_array_equal(dynamic_slice_in_dim(A, 1, 2), A[1:3])
    np.testing.assert_array_equal(dynamic_slice_in_dim(A, 4, 2, axis=-1), A[:, 3:5])
    np.testing.assert_array_equal(dynamic_index_in_dim(A, 2), A[2:3])
    np.testing.assert_array_equal(dynamic_index_in_dim(A, 2, keepdims=False), A[2])
    np.testing.assert_array_equal(dynamic_index_in_dim(A, 5, axis=1, keepdims=False), A[:, 4])
    assert dynamic_index_in_dim(A, 1, axis=1).shape == (4, 1)


@pytest.mark.parametrize("start", [(0, 0), (2, 1), (3, 4), (7, 7)])
def test_dynamic_update_slice_values_and_clamping(start: tuple[int, int]) -> None:
    update = -np.arange(6.0).reshape(2, 3) - 1.0
    r, c = min(start[0], 2), min(start[1], 2)
    expected = A.copy()
    expected[r:r + 2, c:c + 3] = update
    np.testing.assert_array_equal(dynamic_update_slice(A, update, start), expected)
    f = jit(lambda a, u, i, j: dynamic_update_slice(a, u, (i, j)))
    np.testing.assert_array_equal(f(A, update, np.int64(start[0]), np.int64(start[1])),
                                  expected)
    np.testing.assert_array_equal(A, np.arange(20.0).reshape(4, 5))  # not modified in place


def sliced_loss(a: Any, u: Any) -> Any:
    block = dynamic_slice(a, (1, 2), (2, 2))
    updated = dynamic_update_slice(a, u * block, (2, 1))
    return fnp.sum(fnp.sin(updated) * a) + fnp.sum(dynamic_index_in_dim(updated, 3, axis=1) ** 2)


def sliced_loss_ref(a: Any, u: Any) -> Any:
    block = a[1:3, 2:4]
    product = u * block
    rows = []
    for i in range(4):
        if 2 <= i < 4:
            rows.append(fnp.concatenate([a[i, :1], product[i - 2], a[i, 3:]]))
        else:
            rows.append(a[i])
    updated = fnp.stack(rows)
    return fnp.sum(fnp.sin(updated) * a) + fnp.sum(updated[:, 3:4] ** 2)


def test_dynamic_slices_derivatives_match_static_indexing() -> None:
    args = (normal(4, 5), normal(2, 2))
    assert_same_derivatives(sliced_loss, sliced_loss_ref, args)
    check_grads(sliced_loss, args, order=2)
    assert_tree_allclose(jit(grad(sliced_loss, argnums=(0, 1)))(*args),
                         grad(sliced_loss_ref, argnums=(0, 1))(*args), rtol=1e-13, atol=1e-15)
    # the gradient of a slice is zero outside the (clamped) block
    g = grad(lambda a: fnp.sum(dynamic_slice(a, (3, 3), (2, 2)) ** 2))(A)
    expected = np.zeros_like(A)
    expected[2:4, 3:5] = 2 * A[2:4, 3:5]
    np.testing.assert_array_equal(g, expected)


def test_dynamic_slices_under_vmap() -> None:
    starts = np.array([0, 3, 1, 8])
    out = vmap(lambda i: dynamic_slice_in_dim(A, i, 2, axis=1))(starts)
    np.testing.assert_array_equal(out, np.stack([A[:, min(i, 3):min(i, 3) + 2] for i in starts]))
    batch = normal(4, 4, 5)
    both = vmap(lambda a, i: dynamic_slice(a, (i, 1), (2, 3)))(batch, starts)
    np.testing.assert_array_equal(
        both, np.stack([a[min(i, 2):min(i, 2) + 2, 1:4] for a, i in zip(batch, starts)]))
    updates = normal(4, 2)
    written = vmap(lambda a, u, i: dynamic_update_slice(a, u, (i,)), in_axes=(None, 0, 0))(
        np.zeros(6), updates, starts)
    expected = np.zeros((4, 6))
    for k, (u, i) in enumerate(zip(updates, starts)):
        expected[k, min(i, 4):min(i, 4) + 2] = u
    np.testing.assert_array_equal(written, expected)
    per_example = vmap(grad(lambda a, i: fnp.sum(dynamic_slice(a, (i, 1), (2, 3)) ** 2)))(
        batch, starts)
    for g, a, i in zip(per_example, batch, starts):
        e = np.zeros_like(a)
        r = min(i, 2)
        e[r:r + 2, 1:4] = 2 * a[r:r + 2, 1:4]
        np.testing.assert_allclose(g, e, rtol=1e-15)


def test_dynamic_slices_inside_loops() -> None:
    # a scan over positions reading a window of a closure array and writing into its carry
    def f(signal: Any, kernel: Any) -> Any:
        def body(out: Any, i: Any) -> tuple[Any, Any]:
            window = dynamic_slice_in_dim(signal, i, 3)
            value = fnp.sum(window * kernel)
            return dynamic_update_slice(out, fnp.reshape(value, (1,)), (i,)), value

        out, values = scan(body, fnp.zeros(6), np.arange(6))
        return fnp.sum(out ** 2) + fnp.sum(values * fnp.arange(6.0))

    def ref(signal: Any, kernel: Any) -> Any:
        values = []
        for i in range(6):
            start = min(i, 5)  # len(signal) - 3
            values.append(fnp.sum(signal[start:start + 3] * kernel))
        v = fnp.stack(values)
        return fnp.sum(v ** 2) + fnp.sum(v * fnp.arange(6.0))

    args = (normal(8), normal(3))
    assert_same_derivatives(f, ref, args)
    check_grads(f, args, order=2)
    assert_tree_allclose(jit(grad(f, argnums=(0, 1)))(*args), grad(ref, argnums=(0, 1))(*args),
                         rtol=1e-12, atol=1e-14)

    def g(x: Any) -> Any:  # a fori_loop filling an array index by index
        return fori_loop(0, 4, lambda i, a: dynamic_update_slice(
            a, fnp.reshape(fnp.sin(x * i), (1,)), (i,)), fnp.zeros(4))

    np.testing.assert_allclose(g(0.5), np.sin(0.5 * np.arange(4)), rtol=1e-15)
    np.testing.assert_allclose(grad(lambda x: fnp.sum(g(x)))(0.5),
                               np.sum(np.arange(4) * np.cos(0.5 * np.arange(4))), rtol=1e-14)


def test_dynamic_slice_errors() -> None:
    with pytest.raises(ValueError, match=r"dynamic_slice: an operand of shape \(4, 5\) needs 2 "
                       r"start indices and sizes, got 1 and 2"):
        dynamic_slice(A, (1,), (2, 2))
    with pytest.raises(ValueError, match=r"got 3 and 3"):
        dynamic_slice(A, (1, 1, 1), (1, 1, 1))
    with pytest.raises(ValueError, match=r"got 2 and 1"):
        dynamic_slice(A, (1, 1), (2,))
    with pytest.raises(ValueError, match=r"needs 2 start indices"):
        dynamic_update_slice(A, np.ones((1, 1)), (0,))
    with pytest.raises(ValueError, match=r"size 6 for axis 1 of length 5"):
        dynamic_slice(A, (0, 0), (1, 6))
    with pytest.raises(ValueError, match=r"size 5 for axis 0 of length 4"):
        dynamic_update_slice(A, np.ones((5, 1)), (0, 0))


# ============================================================================ an RNN


STEPS = 1000
RNN_RNG = np.random.default_rng(99)
RNN_PARAMS = {"w": RNN_RNG.standard_normal((4, 4)) * 0.4,
              "u": RNN_RNG.standard_normal((3, 4)) * 0.4,
              "b": RNN_RNG.standard_normal(4) * 0.1}
RNN_XS = RNN_RNG.standard_normal((STEPS, 3))
RNN_TARGETS = RNN_RNG.standard_normal(STEPS)


def rnn_cell(p: dict[str, Any], h: Any, x: Any) -> Any:
    return fnp.tanh(h @ p["w"] + x @ p["u"] + p["b"])


def rnn_loss_scan(p: dict[str, Any], xs: Any, targets: Any) -> Any:
    def step(h: Any, inputs: tuple[Any, Any]) -> tuple[Any, Any]:
        x, target = inputs
        h = rnn_cell(p, h, x)
        return h, (fnp.sum(h) - target) ** 2

    h, losses = scan(step, fnp.zeros(4), (xs, targets))
    return fnp.mean(losses) + fnp.sum(h ** 2)


def rnn_loss_loop(p: dict[str, Any], xs: Any, targets: Any) -> Any:
    h: Any = np.zeros(4)
    total: Any = 0.0
    for t in range(np.shape(xs)[0]):
        h = rnn_cell(p, h, xs[t])
        total = total + (fnp.sum(h) - targets[t]) ** 2
    return total / np.shape(xs)[0] + fnp.sum(h ** 2)


def test_rnn_over_1000_steps_grad_through_scan_equals_the_unrolled_loop() -> None:
    value_scan = rnn_loss_scan(RNN_PARAMS, RNN_XS, RNN_TARGETS)
    value_loop = rnn_loss_loop(RNN_PARAMS, RNN_XS, RNN_TARGETS)
    np.testing.assert_allclose(value_scan, value_loop, rtol=1e-12)
    g_scan = grad(rnn_loss_scan, argnums=(0, 1))(RNN_PARAMS, RNN_XS, RNN_TARGETS)
    g_loop = grad(rnn_loss_loop, argnums=(0, 1))(RNN_PARAMS, RNN_XS, RNN_TARGETS)
    assert_tree_allclose(g_scan, g_loop, rtol=1e-10, atol=1e-13)
    assert all(np.abs(g).max() > 1e-3 for g in tree.leaves(g_scan[0]))
    g_jit = jit(grad(rnn_loss_scan))(RNN_PARAMS, RNN_XS, RNN_TARGETS)
    assert_tree_allclose(g_jit, g_loop[0], rtol=1e-10, atol=1e-13)


def test_rnn_scan_graph_has_a_fixed_small_number_of_equations() -> None:
    graphs = {n: make_graph(rnn_loss_scan)(RNN_PARAMS, RNN_XS[:n], RNN_TARGETS[:n])
              for n in (10, STEPS)}
    for graph in graphs.values():
        assert top_level(graph).count("scan") == 1
        assert len(graph.eqns) <= 8
        (eqn,) = [e for e in graph.eqns if e.prim.name == "scan"]
        assert len(eqn.params["body"].eqns) <= 12
    assert len(graphs[10].eqns) == len(graphs[STEPS].eqns)
    assert len(str(graphs[10]).splitlines()) == len(str(graphs[STEPS]).splitlines())
    grads = {n: make_graph(grad(rnn_loss_scan))(RNN_PARAMS, RNN_XS[:n], RNN_TARGETS[:n])
             for n in (10, STEPS)}
    assert len(grads[10].eqns) == len(grads[STEPS].eqns) < 40
    assert top_level(grads[STEPS]).count("scan") == 2
    unrolled = make_graph(rnn_loss_loop)(RNN_PARAMS, RNN_XS[:50], RNN_TARGETS[:50])
    assert len(unrolled.eqns) > 50 * 5  # what the scan saves
