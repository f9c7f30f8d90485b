"""Tests for vmap: every primitive of the table against a Python loop, in_axes and out_axes
in all their forms, nesting, convolution and pooling, per-example gradients of a small CNN,
composition with grad and jit, errors and graphs.

The reference is always the loop the user would otherwise write: call the function once
per example (taking element i along each mapped axis) and stack the results on axis 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import grad, jit, nn, random, tree, vmap
from cases import ALL_CASES, Case, assert_tree_allclose, seeded
from cases.base import at

NDArray = np.ndarray[Any, Any]
Axes = Sequence[int | None]

BATCH = 3


def loop(f: Callable[..., Any], args: Sequence[Any], axes: Axes, size: int) -> Any:
    """f applied to example i of each mapped argument (unmapped ones whole), stacked on axis 0."""
    outs = [f(*(a if ax is None else np.take(a, i, axis=ax) for a, ax in zip(args, axes)))
            for i in range(size)]
    return tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)


def case_batch(case: Case, axes: Axes) -> list[NDArray]:
    """Arguments for vmap: a mapped one stacks BATCH fresh draws of its generator at its
    axis (so every example has its own values in the generator's safe range); an unmapped
    one is the case's usual input."""
    plain = case.inputs()
    out = []
    for j, (gen, ax) in enumerate(zip(case.args, axes)):
        if ax is None:
            out.append(plain[j])
        else:
            rng = seeded(f"{case.name}/vmap{j}")
            out.append(np.stack([np.asarray(gen(rng), np.float64) for _ in range(BATCH)], axis=ax))
    return out


def variants(case: Case) -> list[tuple[str, Any, list[int | None]]]:
    """(id, in_axes as given to vmap, in_axes per argument)."""
    n = case.arity
    out: list[tuple[str, Any, list[int | None]]] = [
        ("in_axes=0", 0, [0] * n),
        ("in_axes=-1", -1, [-1] * n),  # one negative int for every argument
    ]
    if n > 1:
        mixed = tuple(0 if k % 2 == 0 else -1 for k in range(n))
        out.append((f"in_axes={mixed}", mixed, list(mixed)))
        for k in range(n):
            # x.dot(y) with an unmapped x is numpy's own ndarray.dot, which cannot take a
            # traced y (as under grad): not something vmap could change.
            if case.name == "dot_method" and k != 0:
                continue
            only = tuple(0 if j == k else None for j in range(n))
            out.append((f"in_axes={only}", only, list(only)))
    return out


VMAP_PARAMS = [pytest.param(c, spec, axes, id=f"{c.name}-{vid}")
               for c in ALL_CASES for vid, spec, axes in variants(c)]


@pytest.mark.parametrize("case,spec,axes", VMAP_PARAMS)
def test_vmap_matches_loop_for_every_primitive(case: Case, spec: Any,
                                               axes: list[int | None]) -> None:
    args = case_batch(case, axes)
    out = vmap(case.fn, in_axes=spec)(*args)
    assert_tree_allclose(out, loop(case.fn, args, axes, BATCH), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in ALL_CASES[::9]])
def test_vmap_float32_stays_float32(case: Case) -> None:
    args = [a.astype(np.float32) for a in case_batch(case, [0] * case.arity)]
    for leaf in tree.leaves(vmap(case.fn)(*args)):
        assert leaf.dtype == np.asarray(case.fn(*(a[0] for a in args))).dtype


def test_vmap_batched_index_arrays_and_updates() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    idx = np.array([[0, 4, 4], [1, 1, 2], [3, 0, 0], [2, 2, 2]])
    v = rng.standard_normal((4, 3))

    def f(x: Any, i: Any, v: Any) -> Any:
        return at(x)[i].add(v)[i] * x[i]

    out = vmap(f)(x, idx, v)
    assert_tree_allclose(out, loop(f, (x, idx, v), (0, 0, 0), 4), rtol=1e-14)
    # one index for all examples, applied to mapped arrays
    g = vmap(lambda x: x[idx[0]] * 2.0)(x)
    np.testing.assert_array_equal(g, x[:, idx[0]] * 2.0)


def test_vmap_constant_array_indexed_by_mapped_index() -> None:
    table = np.arange(12.0).reshape(4, 3)
    idx = np.array([[0, 3], [2, 2]])
    out = vmap(lambda i: fnp.getitem(table, i))(idx)
    np.testing.assert_array_equal(out, table[idx])


# ---------------------------------------------------------------------------- in_axes forms


def test_in_axes_dict_and_list_prefixes() -> None:
    rng = np.random.default_rng(1)
    d = {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)}
    lst = [rng.standard_normal((3, 2)), rng.standard_normal((4, 2))]

    def f(d: dict[str, Any], lst: list[Any]) -> Any:
        return fnp.sum(d["a"] * d["b"]) * lst[0] + fnp.mean(lst[1])

    out = vmap(f, in_axes=({"a": 0, "b": None}, [1, -1]))(d, lst)
    expected = np.stack([f({"a": d["a"][i], "b": d["b"]}, [lst[0][:, i], lst[1][:, i]])
                         for i in range(2)])
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    # a list at the top level works like a tuple; an int inside a dict maps the whole subtree
    out2 = vmap(f, in_axes=[{"a": 0, "b": None}, 1])(d, lst)
    np.testing.assert_allclose(out2, expected, rtol=1e-14)


def test_in_axes_nested_prefix_maps_a_whole_subtree() -> None:
    rng = np.random.default_rng(2)
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    batch: dict[str, Any] = {"x": rng.standard_normal((5, 3)),
                             "meta": {"scale": np.arange(5.0)}}

    def f(p: dict[str, Any], b: dict[str, Any]) -> Any:
        return fnp.tanh(b["x"] @ p["w"] + p["b"]) * b["meta"]["scale"]

    out = vmap(f, in_axes=(None, 0))(params, batch)
    expected = np.stack([f(params, {"x": batch["x"][i],
                                    "meta": {"scale": batch["meta"]["scale"][i]}})
                         for i in range(5)])
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    assert out.shape == (5, 2)


def test_keyword_arguments_are_not_mapped() -> None:
    x = np.arange(6.0).reshape(3, 2)
    out = vmap(lambda x, *, w: x @ w)(x, w=np.array([[1.0], [2.0]]))
    np.testing.assert_array_equal(out, x @ np.array([[1.0], [2.0]]))


def test_unmapped_numpy_argument_broadcasts() -> None:
    x = np.arange(12.0).reshape(4, 3)
    y = np.array([1.0, -1.0, 2.0])
    out = vmap(lambda x, y: fnp.dot(x, y) + fnp.sum(y), in_axes=(0, None))(x, y)
    np.testing.assert_allclose(out, x @ y + 2.0, rtol=1e-15)


# ---------------------------------------------------------------------------- out_axes


@pytest.mark.parametrize("out_axes", [0, 1, 2, -1, -2, -3])
def test_out_axes_int(out_axes: int) -> None:
    x = np.random.default_rng(3).standard_normal((4, 2, 3))
    out = vmap(lambda a: fnp.sin(a) * 2.0, out_axes=out_axes)(x)
    np.testing.assert_allclose(out, np.moveaxis(np.sin(x) * 2.0, 0, out_axes), rtol=1e-15)


def test_out_axes_per_output_pytree() -> None:
    x = np.random.default_rng(4).standard_normal((4, 3))

    def f(a: Any) -> Any:
        return {"outer": fnp.outer(a, a), "sum": fnp.sum(a), "row": a * 2.0}

    out = vmap(f, out_axes={"outer": 2, "sum": 0, "row": -1})(x)
    np.testing.assert_allclose(out["outer"], np.einsum("bi,bj->ijb", x, x), rtol=1e-15)
    np.testing.assert_allclose(out["sum"], x.sum(1), rtol=1e-15)
    np.testing.assert_allclose(out["row"], 2.0 * x.T, rtol=1e-15)


def test_out_axes_none_for_an_unmapped_output() -> None:
    x = np.arange(6.0).reshape(2, 3)
    c = np.array([1.0, 2.0])

    def f(a: Any) -> Any:
        return a * 2.0, fnp.sum(c) * 3.0

    mapped, unmapped = vmap(f, out_axes=(0, None))(x)
    np.testing.assert_array_equal(mapped, 2.0 * x)
    assert np.shape(unmapped) == ()  # no batch axis added
    assert float(unmapped) == 9.0
    # with out_axes=0 the same constant output is broadcast along the batch
    _, broadcast = vmap(f)(x)
    np.testing.assert_array_equal(broadcast, [9.0, 9.0])


def test_out_axes_none_for_a_mapped_output_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"vmap: out_axes is None for output 0, but it "
                                         r"depends on the mapped inputs"):
        vmap(lambda a: a * 2.0, out_axes=None)(np.ones((2, 3)))


# ---------------------------------------------------------------------------- nesting


def test_vmap_of_vmap_pairwise_distances() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))

    def dist(u: Any, v: Any) -> Any:
        return fnp.sqrt(fnp.sum((u - v) ** 2))

    d = vmap(vmap(dist, in_axes=(None, 0)), in_axes=(0, None))(a, b)
    expected = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    assert d.shape == (4, 5)
    np.testing.assert_allclose(d, expected, rtol=1e-14)


def test_vmap_of_vmap_both_mapped_other_axes() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4, 2, 5))  # map axis 1 outside, then axis -1 of what remains

    def f(m: Any) -> Any:  # m: (3, 2)
        return fnp.tanh(m.T @ m)

    out = vmap(vmap(f, in_axes=-1), in_axes=1)(x)
    expected = np.stack([np.stack([f(x[:, i, :, j]) for j in range(5)]) for i in range(4)])
    assert out.shape == (4, 5, 2, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-14)


def test_vmap_of_vmap_matmul_equals_einsum() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 5))
    out = vmap(vmap(fnp.matmul))(a, b)
    np.testing.assert_allclose(out, np.einsum("ijkl,ijl->ijk", a, b), rtol=1e-13)


# ---------------------------------------------------------------------------- nn


CONV_X = np.random.default_rng(8).standard_normal((4, 2, 3, 7, 6)).astype(np.float32)
CONV_W = np.random.default_rng(9).standard_normal((5, 3, 3, 2)).astype(np.float32)


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_vmap_conv2d_image_batched(padding: str) -> None:
    out = vmap(lambda x: nn.conv2d(x, CONV_W, padding=padding))(CONV_X)
    expected = loop(lambda x: nn.conv2d(x, CONV_W, padding=padding), [CONV_X], [0], 4)
    assert out.dtype == np.float32 and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_vmap_conv2d_kernel_batched_and_both() -> None:
    ws = np.random.default_rng(10).standard_normal((4, *CONV_W.shape)).astype(np.float32)
    out = vmap(nn.conv2d, in_axes=(None, 0))(CONV_X[0], ws)
    np.testing.assert_allclose(out, loop(nn.conv2d, [CONV_X[0], ws], [None, 0], 4),
                               rtol=1e-5, atol=1e-5)
    both = vmap(nn.conv2d)(CONV_X, ws)
    np.testing.assert_allclose(both, loop(nn.conv2d, [CONV_X, ws], [0, 0], 4),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pool,window,stride", [
    (nn.max_pool2d, 2, None), (nn.max_pool2d, 3, 1), (nn.max_pool2d, (2, 3), (1, 2)),
    (nn.avg_pool2d, 2, None), (nn.avg_pool2d, 3, 1), (nn.avg_pool2d, (3, 2), (2, 1)),
])
def test_vmap_pooling(pool: Callable[..., Any], window: Any, stride: Any) -> None:
    def f(x: Any) -> Any:
        return pool(x, window, stride)

    out = vmap(f)(CONV_X)
    np.testing.assert_allclose(out, loop(f, [CONV_X], [0], 4), rtol=1e-6, atol=1e-6)
    # and the gradient through the vmapped pooling equals the per-example one
    g = grad(lambda x: fnp.sum(vmap(f)(x) ** 2))(CONV_X)
    g_loop = np.stack([grad(lambda x: fnp.sum(f(x) ** 2))(x) for x in CONV_X])
    np.testing.assert_allclose(g, g_loop, rtol=1e-5, atol=1e-6)


SMALL_CNN = nn.serial(nn.Conv2D(4, 3), nn.Relu, nn.MaxPool2D(2), nn.Conv2D(6, 2), nn.Relu,
                      nn.AvgPool2D(2), nn.Flatten, nn.Linear(5))


def cnn_loss(params: Any, x: Any, y: Any) -> Any:
    return nn.cross_entropy(SMALL_CNN.apply(params, x), y)


def test_per_example_gradients_of_a_cnn_equal_a_loop_of_grad() -> None:
    _, params = SMALL_CNN.init(random.key(11), (-1, 1, 10, 10))
    rng = np.random.default_rng(11)
    x = rng.random((6, 1, 10, 10), dtype=np.float32)
    y = rng.integers(0, 5, 6)
    # each example is a batch of one: (6, 1, 1, 10, 10) images and (6, 1) labels
    per_example = vmap(grad(cnn_loss), in_axes=(None, 0, 0))(params, x[:, None], y[:, None])
    looped = [grad(cnn_loss)(params, x[i:i + 1], y[i:i + 1]) for i in range(6)]
    expected = tree.map(lambda *gs: np.stack(gs), *looped)
    assert tree.structure(per_example) == tree.structure(params)
    for g, e, p in zip(tree.leaves(per_example), tree.leaves(expected), tree.leaves(params)):
        assert g.shape == (6, *p.shape) and g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)
    # the loss is a mean over the batch, so the batched gradient is the mean of these
    batched = grad(cnn_loss)(params, x, y)
    for g, b in zip(tree.leaves(per_example), tree.leaves(batched)):
        np.testing.assert_allclose(g.mean(0), b, rtol=1e-4, atol=1e-6)
    # examples differ: the per-example gradients are not all the same
    assert not np.allclose(tree.leaves(per_example)[-1][0], tree.leaves(per_example)[-1][1])


# ---------------------------------------------------------------------------- composition


def mlp(w: Any, x: Any) -> Any:
    return fnp.sum(fnp.tanh(x @ w) ** 2)


W = np.random.default_rng(12).standard_normal((3, 2))
XS = np.random.default_rng(13).standard_normal((5, 3))


def test_grad_of_vmap() -> None:
    g = grad(lambda w: fnp.sum(vmap(mlp, in_axes=(None, 0))(w, XS)))(W)
    np.testing.assert_allclose(g, grad(mlp)(W, XS), rtol=1e-13)
    gx = grad(lambda xs: fnp.sum(vmap(lambda x: fnp.sin(x) * x)(xs)))(XS)
    np.testing.assert_allclose(gx, np.cos(XS) * XS + np.sin(XS), rtol=1e-14)


def test_vmap_of_grad() -> None:
    gs = vmap(grad(mlp), in_axes=(None, 0))(W, XS)
    np.testing.assert_allclose(gs, np.stack([grad(mlp)(W, x) for x in XS]), rtol=1e-13)
    np.testing.assert_allclose(gs.sum(0), grad(mlp)(W, XS), rtol=1e-13)


def test_jit_of_vmap() -> None:
    f = jit(vmap(mlp, in_axes=(None, 0)))
    expected = np.stack([mlp(W, x) for x in XS])
    np.testing.assert_allclose(f(W, XS), expected, rtol=1e-14)
    np.testing.assert_allclose(f(W * 2.0, XS), np.stack([mlp(W * 2.0, x) for x in XS]),
                               rtol=1e-14)
    assert f.trace_count == 1
    text = str(f.lower(W, XS))
    assert "matmul" in text and "tanh" in text and "reduce_sum[axes=(1,)]" in text


def test_vmap_of_jit_traces_once() -> None:
    f = jit(mlp)
    out = vmap(f, in_axes=(None, 0))(W, XS)
    np.testing.assert_allclose(out, np.stack([mlp(W, x) for x in XS]), rtol=1e-14)
    out2 = vmap(f, in_axes=(None, 0))(W, XS + 1.0)
    np.testing.assert_allclose(out2, np.stack([mlp(W, x + 1.0) for x in XS]), rtol=1e-14)
    assert f.trace_count == 1  # traced for one example's shapes, replayed under vmap


def test_vmap_of_jit_of_grad() -> None:
    g = vmap(jit(grad(mlp, argnums=1)), in_axes=(None, 0))(W, XS)
    np.testing.assert_allclose(g, np.stack([grad(mlp, argnums=1)(W, x) for x in XS]),
                               rtol=1e-13)


# ---------------------------------------------------------------------------- errors


def test_error_mismatched_batch_sizes() -> None:
    with pytest.raises(ValueError, match=re.escape(
            "vmap: the mapped axes have different sizes (leaf 0: 2, leaf 1: 3)")):
        vmap(fnp.add)(np.ones((2, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"different sizes \(leaf 0: 4, leaf 1: 2\)"):
        vmap(fnp.add, in_axes=(1, 0))(np.ones((2, 4)), np.ones((2, 4)))


@pytest.mark.parametrize("in_axes,match", [
    (2, r"vmap: in_axes=2 for an argument of shape \(2, 3\)"),
    (-3, r"vmap: in_axes=-3 for an argument of shape \(2, 3\)"),
    ((0, 0), r"vmap: in_axes has 2 entries but f got 1 arguments"),
    (({"a": 0},), r"in_axes \[0\] is \{'a': 0\}, which is not a prefix of the argument's "
                  r"structure"),
    ("0", r"in_axes\s+is '0', which is not a prefix"),
    (None, r"vmap: in_axes maps no argument; at least one must be batched"),
])
def test_error_bad_in_axes(in_axes: Any, match: str) -> None:
    def f(x: Any) -> Any:
        return x * 2.0

    with pytest.raises(ValueError, match=match):
        vmap(f, in_axes=in_axes)(np.ones((2, 3)))


def test_error_mapping_a_scalar() -> None:
    with pytest.raises(ValueError, match=r"in_axes=0 for an argument of shape \(\)"):
        vmap(fnp.sin)(2.0)


def test_error_dict_prefix_with_wrong_keys() -> None:
    with pytest.raises(ValueError, match=r"in_axes \[0\] is \{'a': 0, 'c': 0\}, which is not "
                                         r"a prefix .*'a'.*'b'"):
        vmap(lambda d: d["a"], in_axes=({"a": 0, "c": 0},))({"a": np.ones(2), "b": np.ones(2)})


# ---------------------------------------------------------------------------- graphs


def test_make_graph_of_vmap_prints_the_batched_program() -> None:
    def f(x: Any) -> Any:
        return fnp.sum(fnp.tanh(x) @ np.ones((3, 2), np.float32))

    graph = funcgrad.make_graph(vmap(f))(np.ones((4, 5, 3), np.float32))
    text = str(graph)
    assert text.splitlines()[0] == "graph(a:f32[4,5,3]) {"
    assert re.search(r"^  consts \w+:f32\[3,2\]$", text, re.M)
    assert re.search(r"^  c:f32\[4,5,3\] = tanh a$", text, re.M)
    assert re.search(r":f32\[20,2\] = matmul ", text)  # one matmul for the whole batch
    assert re.search(r":f32\[4\] = reduce_sum\[axes=\(1, 2\)\] ", text)
    assert graph.outvars[0].aval.shape == (4,)
    x = np.random.default_rng(14).standard_normal((4, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(graph(x), [f(xi) for xi in x], rtol=1e-5)
