"""Tests for jit: every primitive of the table against eager, a whole training step, the
trace cache (what re-traces and what does not), composition with grad and vmap, the error
for branching on traced values, static arguments, and the simplified graph of `.lower()`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import ConcretizationError, Graph, grad, jit, make_graph, nn, optim, tree, vmap
from funcgrad.graph import Eqn, Var
from funcgrad.jit import simplify
from funcgrad.primitives.elementwise import mul_p, sin_p
from cases import ALL_CASES, Case, assert_tree_allclose, case_params, seeded

NDArray = np.ndarray[Any, Any]


# ---------------------------------------------------------------------------- every primitive


def other_inputs(case: Case) -> tuple[NDArray, ...]:
    """A second draw of the case's inputs: same shapes and dtypes, other values."""
    rng = seeded(case.name + "/jit")
    return tuple(np.asarray(g(rng), np.float64) for g in case.args)


@pytest.mark.parametrize("case", case_params(ALL_CASES))
def test_jit_equals_eager_for_every_primitive(case: Case) -> None:
    f = jit(case.fn)
    args = case.inputs()
    assert_tree_allclose(f(*args), case.fn(*args), rtol=1e-12, atol=1e-12)
    # the second call replays the cached graph on new values
    again = other_inputs(case)
    assert_tree_allclose(f(*again), case.fn(*again), rtol=1e-12, atol=1e-12)
    assert f.trace_count == 1


@pytest.mark.parametrize("case", case_params([c for c in ALL_CASES if c.f32][::5]))
def test_jit_float32_in_float32_out(case: Case) -> None:
    args = case.inputs(np.float32)
    out = jit(case.fn)(*args)
    assert_tree_allclose(out, case.fn(*args), rtol=1e-6, atol=1e-6)
    for o in tree.leaves(out):
        assert o.dtype == np.float32


# ---------------------------------------------------------------------------- training step


def init_mlp(rng: np.random.Generator) -> dict[str, NDArray]:
    return {"w1": (rng.standard_normal((4, 8)) * 0.5).astype(np.float32),
            "b1": np.zeros(8, np.float32),
            "w2": (rng.standard_normal((8, 3)) * 0.5).astype(np.float32),
            "b2": np.zeros(3, np.float32)}


def mlp_loss(p: dict[str, Any], x: Any, y: Any) -> Any:
    hidden = fnp.tanh(x @ p["w1"] + p["b1"])
    return nn.cross_entropy(hidden @ p["w2"] + p["b2"], y)


DATA_RNG = np.random.default_rng(20)
X = DATA_RNG.standard_normal((16, 4)).astype(np.float32)
Y = DATA_RNG.integers(0, 3, 16)
OPT = optim.adam(0.05)


def train_step(params: Any, state: Any, x: Any, y: Any,
               opt: optim.Optimizer[Any] = OPT) -> tuple[Any, Any, Any]:
    loss, g = funcgrad.value_and_grad(mlp_loss)(params, x, y)
    params, state = opt.update(g, state, params)
    return params, state, loss


def test_jit_of_a_whole_training_step_equals_eager() -> None:
    params = init_mlp(np.random.default_rng(0))
    eager_p, eager_s = params, OPT.init(params)
    jit_p, jit_s = params, OPT.init(params)
    step = jit(train_step)
    losses = []
    for _ in range(6):
        eager_p, eager_s, eager_loss = train_step(eager_p, eager_s, X, Y)
        jit_p, jit_s, jit_loss = step(jit_p, jit_s, X, Y)
        np.testing.assert_allclose(jit_loss, eager_loss, rtol=1e-6)
        losses.append(float(jit_loss))
    assert losses[-1] < 0.8 * losses[0]  # it trains
    assert jit_s.step == eager_s.step == 6
    assert step.trace_count == 1  # the step count is an array: traced, not baked in
    for name in params:
        assert jit_p[name].dtype == np.float32
        np.testing.assert_allclose(jit_p[name], eager_p[name], rtol=1e-5, atol=1e-6)
        assert not np.allclose(jit_p[name], params[name])
    assert_tree_allclose((jit_s.mu, jit_s.nu), (eager_s.mu, eager_s.nu), rtol=1e-5, atol=1e-7)


def test_jitted_training_step_accepts_its_own_returned_state() -> None:
    params = init_mlp(np.random.default_rng(0))
    opt = optim.adam(optim.cosine_decay(0.05, 10))  # a schedule of the traced step count
    state = opt.init(params)
    step = jit(lambda p, s, x, y: train_step(p, s, x, y, opt))
    for _ in range(3):
        params, state, _ = step(params, state, X, Y)
    assert state.step == 3 and step.trace_count == 1


def test_jitted_sgd_step_traces_once_over_many_steps() -> None:
    lr = 0.1

    @jit
    def sgd_step(params: Any, x: Any, y: Any) -> Any:
        g = grad(mlp_loss)(params, x, y)
        return tree.map(lambda p, d: p - lr * d, params, g)

    def eager_step(params: Any, x: Any, y: Any) -> Any:
        g = grad(mlp_loss)(params, x, y)
        return tree.map(lambda p, d: p - lr * d, params, g)

    p_jit = p_eager = init_mlp(np.random.default_rng(1))
    for _ in range(5):
        p_jit = sgd_step(p_jit, X, Y)
        p_eager = eager_step(p_eager, X, Y)
    assert sgd_step.trace_count == 1
    assert_tree_allclose(p_jit, p_eager, rtol=1e-5, atol=1e-6)
    assert float(mlp_loss(p_jit, X, Y)) < float(mlp_loss(init_mlp(np.random.default_rng(1)),
                                                         X, Y))


# ---------------------------------------------------------------------------- the cache


def scaled(x: Any, s: Any) -> Any:
    return fnp.sin(x) * s


def test_trace_count_stays_one_for_same_shapes_and_dtypes() -> None:
    f = jit(scaled)
    x = np.ones(3, np.float32)
    for k in range(5):
        np.testing.assert_allclose(f(x + k, np.float32(2.0)), np.sin(x + k) * 2.0, rtol=1e-6)
    assert f.trace_count == 1


def test_trace_count_increments_for_new_shapes_and_dtypes() -> None:
    f = jit(scaled)
    s = np.float32(3.0)
    f(np.ones(3, np.float32), s)
    f(np.ones(4, np.float32), s)  # new shape
    assert f.trace_count == 2
    f(np.ones((4, 1), np.float32), s)  # new rank
    assert f.trace_count == 3
    out = f(np.ones(4, np.float64), s)  # new dtype
    assert f.trace_count == 4 and out.dtype == np.float64
    f(np.ones(4, np.float32), np.float64(3.0))  # a numpy scalar's dtype is part of the key
    assert f.trace_count == 5
    out = f(np.ones(4, np.float32), np.float64(4.0))  # but not its value: it is traced
    assert f.trace_count == 5 and out.dtype == np.float64  # and promotes, as in numpy
    for x in (np.ones(3, np.float32), np.ones(4, np.float32), np.ones(4, np.float64)):
        f(x, s)  # all cached
    assert f.trace_count == 5


def test_python_scalars_are_baked_in_per_value() -> None:
    f = jit(scaled)
    x = np.array([0.5, 1.5], np.float32)
    a = f(x, 2.0)
    b = f(x, 2.0)
    assert f.trace_count == 1
    c = f(x, 3.0)  # a new value: a new trace
    assert f.trace_count == 2
    d = f(x, 3)  # an int 3 is another key than a float 3.0
    assert f.trace_count == 3
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(c, np.sin(x) * 3.0, rtol=1e-6)
    np.testing.assert_allclose(d, np.sin(x) * 3, rtol=1e-6)
    for out in (a, c, d):
        assert out.dtype == np.float32  # weakly typed: no promotion
    # the value is a literal in the graph
    assert "mul b 3.0:f32[]" in str(f.lower(x, 3.0))


def branchy(x: Any, flag: Any) -> Any:
    if flag > 0:
        return x * 2.0
    return -x


def test_static_argnums_make_branching_work_and_key_the_cache() -> None:
    f = jit(branchy, static_argnums=1)
    x = np.array([1.0, -2.0])
    np.testing.assert_array_equal(f(x, 1), [2.0, -4.0])
    np.testing.assert_array_equal(f(x, -1), [-1.0, 2.0])
    assert f.trace_count == 2
    f(x, 1)
    f(x + 1.0, -1)
    assert f.trace_count == 2
    f(x, 5)  # a new static value
    assert f.trace_count == 3
    g = jit(branchy, static_argnums=(-1,))  # negative and tuple forms
    np.testing.assert_array_equal(g(x, 1), [2.0, -4.0])
    np.testing.assert_array_equal(g(x, 0), [-1.0, 2.0])
    assert g.trace_count == 2


def test_static_argument_must_be_hashable() -> None:
    f = jit(lambda x, opts: x * opts[0], static_argnums=1)
    with pytest.raises(TypeError, match=r"jit of <lambda>: static arguments must be hashable"):
        f(np.ones(2), [2.0])
    np.testing.assert_array_equal(f(np.ones(2), (2.0,)), [2.0, 2.0])


def test_pytree_and_keyword_arguments() -> None:
    @jit
    def f(p: dict[str, Any], xs: tuple[Any, Any], *, scale: Any) -> Any:
        return {"y": p["w"] @ xs[0] * scale, "z": (fnp.sum(xs[1]),)}

    p = {"w": np.arange(6.0).reshape(2, 3)}
    xs = (np.array([1.0, 0.0, -1.0]), np.ones(4))
    out = f(p, xs, scale=np.float64(2.0))
    np.testing.assert_array_equal(out["y"], p["w"] @ xs[0] * 2.0)
    assert isinstance(out["z"], tuple) and float(out["z"][0]) == 4.0
    f(p, xs, scale=np.float64(5.0))
    assert f.trace_count == 1
    f(p, (xs[0], np.ones(5)), scale=np.float64(5.0))
    assert f.trace_count == 2


# ---------------------------------------------------------------------------- errors


def test_branching_on_a_traced_value_raises_concretization_error() -> None:
    f = jit(branchy)
    with pytest.raises(ConcretizationError) as info:
        f(np.ones(3), np.float32(1.0))
    message = str(info.value)
    assert message.startswith("jit of branchy: the truth value of a traced value (bool[])")
    assert "static_argnums" in message
    assert "funcgrad.numpy.where" in message
    assert "test_jit.py" in message  # points at the user's line
    assert isinstance(info.value, TypeError)


def test_branch_rewritten_with_where_works_under_jit() -> None:
    @jit
    def f(x: Any, flag: Any) -> Any:
        return fnp.where(flag > 0, x * 2.0, -x)

    x = np.array([1.0, -2.0])
    np.testing.assert_array_equal(f(x, np.float64(1.0)), [2.0, -4.0])
    np.testing.assert_array_equal(f(x, np.float64(-1.0)), [-1.0, 2.0])
    assert f.trace_count == 1


def test_python_scalar_flag_is_concrete_under_jit() -> None:
    f = jit(branchy)  # Python scalars are baked into the graph, so branching on them works
    np.testing.assert_array_equal(f(np.ones(2), 1.0), [2.0, 2.0])
    np.testing.assert_array_equal(f(np.ones(2), -1.0), [-1.0, -1.0])


def test_constant_table_indexed_by_a_traced_index() -> None:
    table = np.arange(12.0).reshape(4, 3)
    lookup = jit(lambda ids: fnp.getitem(table, ids))
    np.testing.assert_array_equal(lookup(np.array([3, 0, 3])), table[[3, 0, 3]])


# ---------------------------------------------------------------------------- composition


def loss(w: Any, x: Any) -> Any:
    return fnp.sum(fnp.tanh(x @ w) ** 2) + fnp.sum(w ** 2) * 0.1


W = np.random.default_rng(21).standard_normal((3, 2))
XB = np.random.default_rng(22).standard_normal((5, 3))


def test_jit_of_grad() -> None:
    g = jit(grad(loss))
    np.testing.assert_allclose(g(W, XB), grad(loss)(W, XB), rtol=1e-13)
    np.testing.assert_allclose(g(W * 0.5, XB), grad(loss)(W * 0.5, XB), rtol=1e-13)
    assert g.trace_count == 1
    text = str(g.lower(W, XB))
    assert "tanh" in text and "transpose" in text and "matmul" in text


def test_grad_of_jit() -> None:
    f = jit(loss)
    for w in (W, W + 1.0, W * 3.0):
        np.testing.assert_allclose(grad(f)(w, XB), grad(loss)(w, XB), rtol=1e-13)
    assert f.trace_count == 1
    # second order through a jitted function
    h = grad(lambda w: fnp.sum(grad(f)(w, XB) ** 2))(W)
    np.testing.assert_allclose(h, grad(lambda w: fnp.sum(grad(loss)(w, XB) ** 2))(W),
                               rtol=1e-12)


def test_vmap_of_jit() -> None:
    f = jit(loss)
    out = vmap(f, in_axes=(None, 0))(W, XB)
    np.testing.assert_allclose(out, [loss(W, x) for x in XB], rtol=1e-14)
    assert f.trace_count == 1


def test_jit_of_jit_and_of_value_and_grad() -> None:
    inner = jit(loss)
    outer = jit(lambda w, x: inner(w, x) * 2.0)
    np.testing.assert_allclose(outer(W, XB), 2.0 * loss(W, XB), rtol=1e-14)
    vg = jit(funcgrad.value_and_grad(loss))
    value, g = vg(W, XB)
    np.testing.assert_allclose(value, loss(W, XB), rtol=1e-14)
    np.testing.assert_allclose(g, grad(loss)(W, XB), rtol=1e-13)


def test_make_graph_of_jit_of_grad_prints_the_backward_pass() -> None:
    def f(x: Any) -> Any:
        return fnp.sum(fnp.sin(x) * x)

    x = np.ones(3, np.float32)
    text = str(make_graph(jit(grad(f)))(x))
    lines = text.splitlines()
    # one call of the jitted function, its graph nested: the forward and backward pass
    assert lines[:3] == ["graph(a:f32[3]) {", "  b:f32[3] = call[name=f] a",
                         "    body: graph(c:f32[3]) {"]
    assert any(re.fullmatch(r"      \w+:f32\[3\] = sin c", line) for line in lines)
    assert any(re.fullmatch(r"      \w+:f32\[3\] = cos c", line) for line in lines)
    assert lines[-3:] == ["    }", "  return b", "}"]


# ---------------------------------------------------------------------------- lower()


def messy(x: Any) -> Any:
    unused = fnp.exp(x) * 3.0  # dead: nothing below reads it
    del unused
    scale = fnp.ones(3) * 2.0 + 1.0  # constant: computed once, at trace time
    return fnp.tanh(x) * scale + fnp.tanh(x)  # tanh(x) twice: computed once


def test_lower_returns_the_simplified_graph() -> None:
    x = np.array([0.1, 0.2, 0.3])
    f = jit(messy)
    graph = f.lower(x)
    assert isinstance(graph, Graph)
    assert f.trace_count == 1
    f(x)  # calls replay the same graph: no new trace
    assert f.trace_count == 1 and f.lower(x) is graph
    raw = make_graph(messy)(x)
    raw_names = [e.prim.name for e in raw.eqns]
    assert raw_names.count("tanh") == 2 and "exp" in raw_names
    names = [e.prim.name for e in graph.eqns]
    assert names == ["tanh", "mul", "add"]  # exp and its mul gone (dead), tanh merged (CSE)
    text = str(graph)
    assert text == ("graph(a:f64[3]) {\n"
                    "  consts b:f64[3]\n"
                    "  c:f64[3] = tanh a\n"
                    "  d:f64[3] = mul c b\n"
                    "  e:f64[3] = add d c\n"
                    "  return e\n"
                    "}")
    # the constant subexpression is one folded constant, ones * 2 + 1
    (const,) = graph.consts
    np.testing.assert_array_equal(const, [3.0, 3.0, 3.0])
    np.testing.assert_allclose(f(x), np.tanh(x) * 4.0, rtol=1e-15)


def test_simplify_folds_equations_on_constants() -> None:
    """The folding pass on a graph with an equation whose inputs are all constants (tracing
    never records one, since it evaluates constant subexpressions right away)."""
    base = make_graph(lambda x: x * 2.0)(np.ones(2))
    c = Var(funcgrad.ShapedArray((2,), np.dtype(np.float64)))
    s = Var(c.aval)
    m = Var(c.aval)
    (x,) = base.invars
    eqns = [Eqn(sin_p, (c,), {}, (s,)), Eqn(mul_p, (x, s), {}, (m,))]
    graph: Graph[Any] = Graph(base.invars, [c], [np.array([0.0, np.pi / 2])], eqns, [m],
                              base.in_tree, base.out_tree)
    assert "= sin " in str(graph)
    simple: Graph[Any] = simplify(graph)
    assert [e.prim.name for e in simple.eqns] == ["mul"]
    assert "sin" not in str(simple)
    (folded,) = simple.consts
    np.testing.assert_allclose(folded, [0.0, 1.0], atol=1e-16)
    np.testing.assert_allclose(simple(np.array([5.0, 7.0])), [0.0, 7.0], atol=1e-15)


# ---------------------------------------------------------------------------- the call


def test_a_jitted_call_is_one_equation_with_its_graph_nested() -> None:
    g = jit(fnp.sin)
    text = str(make_graph(lambda x: g(x) * 2.0)(1.0))
    assert text.splitlines() == [
        "graph(a:f64[]) {",
        "  b:f64[] = call[name=sin] a",
        "    body: graph(c:f64[]) {",
        "      d:f64[] = sin c",
        "      return d",
        "    }",
        "  e:f64[] = mul b 2.0:f64[]",
        "  return e",
        "}",
    ]


def test_grad_of_jit_keeps_jit_graphs_for_both_passes() -> None:
    # grad of a call is a call of the forward graph (with residuals) and one of the
    # backward graph: no equation of f's body appears outside a call.
    def f(x: Any) -> Any:
        return fnp.sum(fnp.tanh(x) * x)

    text = str(make_graph(grad(jit(f)))(np.ones(3)))
    top = [line for line in text.splitlines() if re.match(r"  \w", line)]
    assert [line.split(" = ")[1].split("[")[0] for line in top if " = " in line] == [
        "call", "call"]
    np.testing.assert_allclose(grad(jit(f))(np.ones(3)), grad(f)(np.ones(3)), rtol=1e-15)


def test_third_derivative_through_alternating_jit_and_grad() -> None:
    t = fnp.tanh
    third = 0.2526540650980626  # d3/dx3 tanh at 2: 2 sech^2 (2 tanh^2 - sech^2)
    assert grad(grad(grad(t)))(2.0) == pytest.approx(third, rel=1e-14)
    assert grad(jit(grad(jit(grad(t)))))(2.0) == pytest.approx(third, rel=1e-14)
    assert jit(grad(jit(grad(jit(grad(t))))))(2.0) == pytest.approx(third, rel=1e-14)


def test_jit_of_a_function_wrapping_another_jitted_function_has_its_own_cache() -> None:
    inner = jit(lambda x: x * 2.0)
    outer = jit(grad(inner))  # grad's wrapper carries inner's attributes (functools.wraps)
    assert float(outer(3.0)) == 2.0 and float(inner(3.0)) == 6.0
    assert outer.trace_count == 1 and inner.trace_count == 2


def test_closing_over_traced_values_makes_them_operands() -> None:
    x = np.array([1.0, 2.0, 3.0])
    # w is traced by the outer grad; the jitted function reads it from its closure
    g = grad(lambda w: jit(lambda v: fnp.sum(fnp.sin(v * w)))(x))(0.5)
    np.testing.assert_allclose(g, np.sum(x * np.cos(0.5 * x)), rtol=1e-14)
    ws = np.array([0.1, 0.2])
    per_w = vmap(lambda w: jit(lambda v: fnp.sum(v * w))(x))(ws)
    np.testing.assert_allclose(per_w, ws * 6.0, rtol=1e-15)


def test_multi_output_equations_replay_and_differentiate_under_jit() -> None:
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 4))

    def loss(x: Any) -> Any:
        return fnp.sum(nn.max_pool2d(x) ** 2)

    np.testing.assert_allclose(jit(grad(loss))(x), grad(loss)(x), rtol=1e-15)
    np.testing.assert_allclose(grad(jit(loss))(x), grad(loss)(x), rtol=1e-15)


# ---------------------------------------------------------------------------- aliasing


def test_results_never_share_memory_with_arguments_or_constants() -> None:
    a = np.arange(6.0).reshape(2, 3)
    const = np.ones(3)
    cases = {
        "identity op": jit(lambda x: x * 1.0),
        "view": jit(lambda x: fnp.reshape(x, (3, 2))),
        "transpose": jit(lambda x: x.T),
        "argument": jit(lambda x: x),
        "constant": jit(lambda x: const),
        "literal": jit(lambda x: 2.0),
    }
    for name, f in cases.items():
        for _ in range(2):  # the second call replays the cached graph
            out = f(a)
            assert isinstance(out, np.ndarray) and out.flags.writeable, name
            assert not np.shares_memory(out, a) and not np.shares_memory(out, const), name
            expected = np.array(out)
            out[...] = -7.0  # scribbling on a result changes nothing for the next call
            np.testing.assert_array_equal(f(a), expected, err_msg=name)
    np.testing.assert_array_equal(a, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(const, np.ones(3))
    p, q = jit(lambda x: (x + 1.0, x + 1.0))(a)  # one value, returned twice
    assert not np.shares_memory(p, q)


def test_gradients_are_ordinary_writeable_arrays() -> None:
    x = np.ones((2, 3))
    g = grad(fnp.sum)(x)  # the VJP of sum broadcasts: not a read-only view any more
    assert g.flags.writeable and g.flags.owndata
    g[0, 0] = 5.0
    np.testing.assert_array_equal(grad(fnp.sum)(x), np.ones((2, 3)))
    ct = np.array([1.0, 2.0])
    (back,) = funcgrad.vjp(lambda v: v, np.zeros(2))[1](ct)  # the identity's VJP
    assert not np.shares_memory(back, ct)


def test_constants_are_captured_when_traced() -> None:
    # JAX's rule: arrays read from a closure or a global are constants of the traced
    # graph, as they were at tracing; later changes are not seen until it is traced anew.
    table = np.array([1.0, 2.0, 3.0])
    f = jit(lambda x: x * table)
    np.testing.assert_array_equal(f(np.ones(3)), [1.0, 2.0, 3.0])
    table[:] = 10.0
    np.testing.assert_array_equal(f(np.ones(3)), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(f(np.ones(2, np.float32)[:, None]),
                                  np.full((2, 3), 10.0))  # a new shape: traced again
    np.testing.assert_array_equal(jit(lambda x: x * table)(np.ones(3)), [10.0] * 3)


# ---------------------------------------------------------------------------- arguments


def test_static_argnames_by_name_and_by_position() -> None:
    def f(x: Any, mode: str = "sin", power: int = 1) -> Any:
        return (fnp.sin(x) if mode == "sin" else fnp.cos(x)) ** power

    jf = jit(f, static_argnames=("mode", "power"))
    x = np.linspace(0.0, 1.0, 4)
    np.testing.assert_allclose(jf(x, mode="cos", power=2), np.cos(x) ** 2, rtol=1e-15)
    np.testing.assert_allclose(jf(x, "cos", 2), np.cos(x) ** 2, rtol=1e-15)  # same, by position
    np.testing.assert_allclose(jf(x), np.sin(x), rtol=1e-15)
    assert jf.trace_count == 3  # one per distinct (mode, power): by name or position alike
    by_num = jit(f, static_argnums=1)
    np.testing.assert_allclose(by_num(x, mode="cos"), np.cos(x), rtol=1e-15)  # and the other way
    with pytest.raises(TypeError, match="static arguments must be hashable"):
        jit(lambda x, opts: x, static_argnames="opts")(x, opts=["unhashable"])


def test_donated_arguments_hold_the_results() -> None:
    def step(p: Any, g: Any) -> Any:
        return p - 0.1 * g

    p, g = np.ones((3, 4)), np.full((3, 4), 2.0)
    donating = jit(step, donate_argnums=0)
    out = donating(p, g)
    np.testing.assert_allclose(out, 0.8)
    assert np.shares_memory(out, p)  # written into the donated array: no new buffer
    plain = jit(step)(np.ones((3, 4)), g)
    np.testing.assert_allclose(plain, 0.8)
    assert not np.shares_memory(plain, g)
    # pytrees, under grad (where there is nothing to donate), and the same answers
    tree_step = jit(lambda ps, gs: tree.map(step, ps, gs), donate_argnums=(0,))
    ps = {"a": np.ones(3), "b": np.zeros((2, 2))}
    new = tree_step(ps, {"a": np.ones(3), "b": np.ones((2, 2))})
    np.testing.assert_allclose(new["b"], -0.1)
    assert np.shares_memory(new["a"], ps["a"])
    np.testing.assert_allclose(grad(lambda q: fnp.sum(donating(q, g)))(np.ones((3, 4))), 1.0)
    with pytest.raises(ValueError, match="both static and donated"):
        jit(step, static_argnums=0, donate_argnums=0)


def test_intermediates_reuse_memory_without_changing_results() -> None:
    # elementwise results are written into operands that die with them; a view of such
    # an operand (here a reshape) keeps it from being overwritten
    def f(x: Any) -> Any:
        a = fnp.exp(x)
        b = fnp.reshape(a, (2, 3))
        c = fnp.sin(a) * 2.0 + 1.0
        return c, b

    x = np.linspace(0.0, 1.0, 6)
    c, b = jit(f)(x)
    np.testing.assert_allclose(c, np.sin(np.exp(x)) * 2.0 + 1.0, rtol=1e-15)
    np.testing.assert_allclose(b, np.exp(x).reshape(2, 3), rtol=1e-15)
    np.testing.assert_array_equal(x, np.linspace(0.0, 1.0, 6))  # not donated: untouched


class Scaler:
    """A method to jit."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def apply(self, x: Any) -> Any:
        return x * self.factor


def test_jit_of_bound_methods_and_partials() -> None:
    import functools

    x = np.arange(3.0)
    method = jit(Scaler(2.0).apply)
    np.testing.assert_array_equal(method(x), 2.0 * x)
    assert method.__name__ == "apply"
    part = jit(functools.partial(lambda x, k: x * k, k=3.0))
    np.testing.assert_array_equal(part(x), 3.0 * x)
    np.testing.assert_array_equal(grad(lambda v: fnp.sum(part(v)))(x), [3.0, 3.0, 3.0])
