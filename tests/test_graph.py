"""Tests for funcgrad.graph: make_graph, the printed form, the typed structure, evaluation."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import ConcretizationError, Graph, make_graph
from funcgrad.graph import Eqn, Literal, Var


def tanh_sum(x: Any) -> Any:
    return fnp.sum(fnp.tanh(x * 2.0))


X32 = np.array([0.1, -0.4, 0.9], np.float32)


def test_printed_graph_has_one_equation_per_line() -> None:
    text = str(make_graph(tanh_sum)(X32))
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "graph(a:f32[3]) {"
    assert "b:f32[3] = mul a 2.0:f32[]" in lines
    assert "c:f32[3] = tanh b" in lines
    assert "d:f32[] = reduce_sum[axes=(0,)] c" in lines
    assert lines[-2:] == ["return d", "}"]
    assert repr(make_graph(tanh_sum)(X32)) == text


def test_graph_structure_is_typed() -> None:
    g = make_graph(tanh_sum)(X32)
    assert isinstance(g, Graph)
    assert len(g.invars) == 1 and isinstance(g.invars[0], Var)
    assert g.invars[0].aval.shape == (3,) and g.invars[0].aval.dtype == np.float32
    assert [e.prim.name for e in g.eqns] == ["mul", "tanh", "reduce_sum"]
    assert all(isinstance(e, Eqn) for e in g.eqns)
    mul, tanh, red = g.eqns
    assert mul.inputs[0] is g.invars[0]
    lit = mul.inputs[1]
    assert isinstance(lit, Literal) and float(lit.value) == 2.0 and lit.aval.dtype == np.float32
    assert tanh.inputs == mul.outvars and red.inputs == tanh.outvars
    assert red.params == {"axes": (0,)}
    assert tanh.outvars[0].aval.shape == (3,) and tanh.outvars[0].aval.dtype == np.float32
    assert len(g.outvars) == 1 and g.outvars[0] is red.outvars[0]
    assert red.outvars[0].aval.shape == () and red.outvars[0].aval.dtype == np.float32


def test_params_and_shapes_printed() -> None:
    def f(x: Any) -> Any:
        return fnp.reshape(fnp.transpose(x), (6,))[1:5:2]

    text = str(make_graph(f)(np.zeros((2, 3))))
    assert "b:f64[3,2] = transpose[perm=(1, 0)] a" in text
    assert "c:f64[6] = reshape[shape=(6,)] b" in text
    assert "d:f64[2] = gather[index=[1:5:2]] c" in text


def test_constants_are_listed() -> None:
    w = np.arange(6.0).reshape(3, 2)
    g = make_graph(lambda x: fnp.matmul(x, w) + w[0])(np.ones((4, 3)))
    text = str(g)
    assert "consts" in text and "f64[3,2]" in text
    assert any(c is w for c in g.consts)
    np.testing.assert_array_equal(g(np.ones((4, 3))), np.ones((4, 3)) @ w + w[0])


def test_evaluating_on_new_inputs_equals_calling_f() -> None:
    rng = np.random.default_rng(0)

    def f(x: Any, y: Any) -> Any:
        h = fnp.tanh(fnp.matmul(x, y)) * 3.0
        return fnp.mean(h ** 2, axis=0) - fnp.max(y, axis=1)[:2]

    x0, y0 = rng.standard_normal((5, 3)), rng.standard_normal((3, 2))
    g = make_graph(f)(x0, y0)
    for _ in range(3):
        x, y = rng.standard_normal((5, 3)), rng.standard_normal((3, 2))
        out = g(x, y)
        assert isinstance(out, np.ndarray)
        np.testing.assert_allclose(out, f(x, y), rtol=1e-14)


def test_pytree_inputs_and_outputs_are_restored() -> None:
    def f(p: dict[str, Any], xs: tuple[Any, Any]) -> Any:
        return {"y": fnp.matmul(xs[0], p["w"]), "rest": [p["b"][1:], (xs[1].T,)]}

    p = {"w": np.ones((3, 2), np.float32), "b": np.zeros(3, np.float32)}
    xs = (np.ones((4, 3), np.float32), np.arange(6.0).reshape(2, 3))
    g = make_graph(f)(p, xs)
    # inputs flattened in pytree order: dict keys sorted, then the tuple
    assert [str(v.aval) for v in g.invars] == ["f32[3]", "f32[3,2]", "f32[4,3]", "f64[2,3]"]
    p2 = {"w": np.full((3, 2), 2.0, np.float32), "b": np.array([1.0, 2.0, 3.0], np.float32)}
    xs2 = (np.full((4, 3), 0.5, np.float32), np.arange(6.0).reshape(2, 3) * -1)
    out = g(p2, xs2)
    assert set(out) == {"y", "rest"} and type(out["rest"]) is list
    assert type(out["rest"][1]) is tuple
    np.testing.assert_array_equal(out["y"], np.full((4, 2), 3.0))
    assert out["y"].dtype == np.float32
    np.testing.assert_array_equal(out["rest"][0], [2.0, 3.0])
    np.testing.assert_array_equal(out["rest"][1][0], xs2[1].T)


def test_graph_rejects_other_shapes_dtypes_and_structures() -> None:
    g = make_graph(tanh_sum)(X32)
    with pytest.raises(ValueError, match=r"expected f32\[3\], got f32\[4\]"):
        g(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"expected f32\[3\], got f64\[3\]"):
        g(np.zeros(3))
    with pytest.raises(ValueError, match="structure"):
        g((X32,))
    with pytest.raises(TypeError, match="positionally"):
        g(x=X32)


def test_grad_graph_shows_the_backward_pass() -> None:
    forward = make_graph(tanh_sum)(X32)
    backward = make_graph(funcgrad.grad(tanh_sum))(X32)
    assert len(backward.eqns) > len(forward.eqns)
    names = [e.prim.name for e in backward.eqns]
    # tanh' = 1 - tanh**2 appears as equations, after the forward tanh
    assert names.count("tanh") == 1 and "sub" in names
    assert names.index("sub") > names.index("tanh")
    assert backward.outvars[0].aval == forward.invars[0].aval
    x = np.array([0.3, -0.2, 1.1], np.float32)
    expected = 2.0 * (1.0 - np.tanh(2.0 * x) ** 2)
    np.testing.assert_allclose(backward(x), expected, rtol=1e-6)
    assert backward(x).dtype == np.float32


def test_second_order_graph() -> None:
    g2 = make_graph(funcgrad.grad(funcgrad.grad(fnp.sin)))(0.5)
    assert len(g2.eqns) > len(make_graph(funcgrad.grad(fnp.sin))(0.5).eqns)
    for x in (0.1, 1.3):
        np.testing.assert_allclose(g2(np.float64(x)), -np.sin(x), rtol=1e-15)


def test_grad_of_an_evaluated_graph() -> None:
    x = np.array([0.2, 0.5, -1.0])
    g = make_graph(lambda x: fnp.sum(fnp.exp(x) * x))(x)
    gg = funcgrad.grad(lambda x: g(x))(x)
    np.testing.assert_allclose(gg, np.exp(x) * (1 + x), rtol=1e-15)
    # a graph traced from a graph has the same equations
    assert [e.prim.name for e in make_graph(g)(x).eqns] == [e.prim.name for e in g.eqns]


def test_branching_on_a_traced_value_raises() -> None:
    def f(x: Any) -> Any:
        if fnp.sum(x) > 0:
            return x
        return -x

    with pytest.raises(ConcretizationError, match="truth value") as info:
        make_graph(f)(np.ones(3))
    assert "where" in str(info.value)  # suggests the functional alternative
    assert "test_graph.py" in str(info.value)  # points at the user's line
    with pytest.raises(ConcretizationError, match=r"float\(\)"):
        make_graph(lambda x: float(x))(np.ones(()))
    with pytest.raises(ConcretizationError, match="traced boolean mask"):
        make_graph(lambda x: x[x > 0])(np.ones(3))


def test_make_graph_of_python_int_and_float_inputs() -> None:
    g = make_graph(lambda x, n: x * n)(np.float32(2.0), 3)
    assert str(g.invars[0].aval) == "f32[]"
    assert g.invars[1].aval.dtype.kind == "i"
    # a traced int is an int64 array, no longer a weak Python scalar: numpy's array rules
    expected = (np.float32(2.0) * np.asarray(3)).dtype
    assert g.outvars[0].aval.dtype == expected
    out = g(np.float32(1.5), 4)
    assert float(out) == 6.0 and out.dtype == expected


def test_graphs_returning_inputs_and_constants() -> None:
    g = make_graph(lambda x: (x, 3.0, np.ones(2)))(np.zeros(3))
    assert not g.eqns
    text = str(g)
    assert "return a, 3.0:f64[], b" in text and "consts b:f64[2]" in text
    x, c, ones = g(np.arange(3.0))
    np.testing.assert_array_equal(x, [0.0, 1.0, 2.0])
    assert float(c) == 3.0
    np.testing.assert_array_equal(ones, [1.0, 1.0])


def test_keyword_arguments_become_constants() -> None:
    def f(x: Any, scale: float = 1.0) -> Any:
        return x * scale

    g = make_graph(f)(np.ones(2), scale=2.5)
    assert "mul a 2.5:f64[]" in str(g)
    np.testing.assert_array_equal(g(np.array([1.0, 2.0])), [2.5, 5.0])


# ---------------------------------------------------------------------------- to_dot

DOT_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|->|-?\d+(?:\.\d*)?|[{}\[\];=,]|[A-Za-z_][\w.]*|\s+|(.)')


def dot_tokens(text: str) -> list[str]:
    """DOT's tokens; anything DOT does not allow outside a quoted string fails the test."""
    tokens = []
    for m in DOT_TOKEN.finditer(text):
        assert m.group(1) is None, f"unexpected {m.group(1)!r} in DOT text"
        if not m.group(0).isspace():
            tokens.append(m.group(0))
    return tokens


def dot_unquote(token: str) -> str:
    assert token.startswith('"') and token.endswith('"'), token
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), token[1:-1])


def dot_structure(text: str) -> tuple[dict[str, str], list[tuple[str, str]], list[str]]:
    """The declared nodes (id -> label), the edges and the cluster names, checking that the
    braces balance and every statement ends with a semicolon or a brace."""
    tokens = dot_tokens(text)
    assert tokens[:3] == ["digraph", "funcgrad", "{"] and tokens[-1] == "}"
    depth, nodes, edges, clusters = 0, {}, [], []
    statement: list[str] = []
    for tok in tokens[2:]:
        if tok == "{":
            if statement[:1] == ["subgraph"]:
                clusters.append(dot_unquote(statement[1]))
            depth += 1
            statement = []
        elif tok == "}":
            depth -= 1
            assert depth >= 0 and not statement
        elif tok == ";":
            if "->" in statement:
                edges.append((dot_unquote(statement[0]), dot_unquote(statement[2])))
            elif statement[0].startswith('"') and "label" in statement:
                label = statement[statement.index("label") + 2]
                nodes[dot_unquote(statement[0])] = dot_unquote(label)
            statement = []
        else:
            statement.append(tok)
    assert depth == 0
    return nodes, edges, clusters


def test_to_dot_of_a_flat_graph() -> None:
    g = make_graph(tanh_sum)(X32)
    nodes, edges, clusters = dot_structure(g.to_dot())
    assert clusters == []
    labels = set(nodes.values())
    assert {"a:f32[3]", "b:f32[3]", "c:f32[3]", "d:f32[]", "mul", "tanh",
            "reduce_sum[axes=(0,)]", "2.0:f32[]"} <= labels
    by_label = {label: ident for ident, label in nodes.items()}
    assert (by_label["a:f32[3]"], by_label["mul"]) in edges
    assert (by_label["mul"], by_label["b:f32[3]"]) in edges
    assert (by_label["b:f32[3]"], by_label["tanh"]) in edges
    assert (by_label["reduce_sum[axes=(0,)]"], by_label["d:f32[]"]) in edges
    assert all(a in nodes and b in nodes for a, b in edges)
    assert len(edges) == 7  # each equation: its inputs in, its output out


def test_to_dot_nests_sub_graphs_as_clusters() -> None:
    inner = funcgrad.jit(lambda x: fnp.sin(x) * 2.0)

    def f(x: Any) -> Any:
        y = funcgrad.lax.cond(fnp.sum(x) > 0, fnp.sin, fnp.cos, inner(x))
        return funcgrad.lax.scan(lambda c, xi: (c + xi, c), 0.0, y)[0]

    nodes, edges, clusters = dot_structure(make_graph(f)(np.ones(3)).to_dot())
    assert clusters == ["cluster_1", "cluster_2", "cluster_3", "cluster_4"]
    assert all(a in nodes and b in nodes for a, b in edges)
    assert len(nodes) == len(set(nodes))
    # each cluster's input is fed by its equation (dashed edges both ways)
    call = next(i for i, label in nodes.items() if label.startswith("call"))
    sin = next(i for i, label in nodes.items() if label == "sin" and i.startswith("g1_"))
    assert any(a == call and b.startswith("g1_") for a, b in edges)
    assert any(a.startswith("g1_") and b == call for a, b in edges)
    assert sin in nodes


def test_to_dot_escapes_labels() -> None:
    def f(x: Any) -> Any:
        return x * 2.0

    f.__name__ = 'say "hi"\\ twice\n'
    g = make_graph(lambda x: funcgrad.jit(f)(x))(1.0)
    text = g.to_dot()
    nodes, _, _ = dot_structure(text)
    assert 'call[name=say "hi"\\ twice\n]' in nodes.values()
    assert "\n]" not in text  # the newline is written as \n, inside the quotes
