"""Tests for the vmap rules: every primitive has one, and gather / scatter-add are right.

Every Primitive defined in funcgrad has a batching rule, and a user primitive without one
is refused by name under vmap. Gather (x[idx]) and scatter-add (x.at[idx].add(v)) are
checked for many index layouts (slices before, between and after the index arrays, ints,
None, Ellipsis, negative steps, boolean masks, 2-D and 0-D index arrays), with x and each
index array batched or not, against the loop a user would write: plain numpy per example,
stacked. The gradients through the vmapped gather and scatter-add are checked the same way.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import ConcretizationError, Primitive, ShapedArray, Tracer, grad, jit, vmap

NDArray = np.ndarray[Any, Any]

B = 3  # the batch size


# ---------------------------------------------------------------------------- every rule

def all_primitives() -> list[Primitive]:
    """Every Primitive that any module of funcgrad defines at its top level."""
    found: dict[int, Primitive] = {}
    modules = pkgutil.walk_packages(funcgrad.__path__, prefix="funcgrad.")
    for info in modules:
        for value in vars(importlib.import_module(info.name)).values():
            if isinstance(value, Primitive):
                found[id(value)] = value
    return list(found.values())


def test_the_walk_finds_the_primitives() -> None:
    names = {p.name for p in all_primitives()}
    assert len(names) >= 60
    for expected in ("add", "gather", "scatter_add", "matmul", "einsum", "conv2d",
                     "max_pool2d", "avg_pool2d_grad", "call", "custom_vjp_call",
                     "custom_jvp_call", "checkpoint"):
        assert expected in names, expected


@pytest.mark.parametrize("prim", all_primitives(), ids=lambda p: p.name)
def test_every_primitive_has_a_batching_rule(prim: Primitive) -> None:
    assert prim.batch is not None, f"{prim.name} has no batching rule"


def test_a_primitive_without_a_rule_is_refused_under_vmap() -> None:
    cube_p = Primitive("user_cube", lambda x: x ** 3, lambda x: ShapedArray(x.shape, x.dtype),
                       (lambda g, out, x: 3.0 * g * x * x,))
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(cube_p.bind(x), x ** 3)  # fine outside vmap
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(cube_p.bind(x)))(x), 3.0 * x ** 2)
    with pytest.raises(NotImplementedError,
                       match=r"the primitive 'user_cube' has no batching rule, so it cannot "
                             r"be used under vmap"):
        vmap(cube_p.bind)(x)
    with pytest.raises(NotImplementedError, match=r"'user_cube'.*vmap"):
        vmap(grad(lambda x: fnp.sum(cube_p.bind(x))))(x)
    with pytest.raises(NotImplementedError, match=r"'user_cube'.*vmap"):
        vmap(jit(cube_p.bind))(x)


# ---------------------------------------------------------------------------- index layouts

MASK4 = np.array([True, False, True, True])        # 3 picked of 4
MASK5 = np.array([False, True, True, False, True])  # 3 picked of 5
MASK45 = np.arange(20).reshape(4, 5) % 3 == 0       # 7 picked of 20


@dataclass(frozen=True)
class Layout:
    """x[key(*index_arrays)] for one example: x of shape `shape`, the index arrays of the
    given shapes, each indexing an axis of the given size."""

    name: str
    shape: tuple[int, ...]
    arrays: tuple[tuple[tuple[int, ...], int], ...]  # (shape of the array, size it indexes)
    key: Callable[..., tuple[Any, ...]]


LAYOUTS = [
    Layout("x[i]", (4, 5, 6), (((3,), 4),), lambda i: (i,)),
    Layout("x[i]_0d", (4, 5, 6), (((), 4),), lambda i: (i,)),
    Layout("x[:,i]", (4, 5, 6), (((3,), 5),), lambda i: (slice(None), i)),
    Layout("x[:,i]_0d", (4, 5, 6), (((), 5),), lambda i: (slice(None), i)),
    Layout("x[...,i]", (4, 5, 6), (((2,), 6),), lambda i: (Ellipsis, i)),
    Layout("x[...,i,:]", (4, 5, 6), (((3,), 5),), lambda i: (Ellipsis, i, slice(None))),
    Layout("x[None,...,i]", (4, 5, 6), (((2,), 6),), lambda i: (None, Ellipsis, i)),
    Layout("x[1,:,i]", (4, 5, 6), (((2,), 6),), lambda i: (1, slice(None), i)),
    Layout("x[:,2,i]", (4, 5, 6), (((2,), 6),), lambda i: (slice(None), 2, i)),
    Layout("x[-1,i,:]", (4, 5, 6), (((3,), 5),), lambda i: (-1, i, slice(None))),
    Layout("x[::-1,i]", (4, 5, 6), (((3,), 5),), lambda i: (slice(None, None, -1), i)),
    Layout("x[:,::-2,i]", (4, 5, 6), (((3,), 6),), lambda i: (slice(None), slice(None, None, -2), i)),
    Layout("x[i,::-2,1:4]", (4, 5, 6), (((2,), 4),), lambda i: (i, slice(None, None, -2), slice(1, 4))),
    Layout("x[1:3,None,i]", (4, 5, 6), (((3,), 5),), lambda i: (slice(1, 3), None, i)),
    Layout("x[i,:,j]", (4, 5, 6), (((3,), 4), ((3,), 6)), lambda i, j: (i, slice(None), j)),
    Layout("x[i,None,j]", (4, 5, 6), (((3,), 4), ((3,), 5)), lambda i, j: (i, None, j)),
    Layout("x[:,i,j]", (4, 5, 6), (((3,), 5), ((3,), 6)), lambda i, j: (slice(None), i, j)),
    Layout("x[:,i,None,j]", (4, 5, 6), (((3,), 5), ((3,), 6)),
           lambda i, j: (slice(None), i, None, j)),
    Layout("x[:,i,j]_2d", (4, 5, 6), (((2, 3), 5), ((2, 3), 6)), lambda i, j: (slice(None), i, j)),
    Layout("x[i,j]_2d_1d", (4, 5, 6), (((2, 1), 4), ((3,), 5)), lambda i, j: (i, j)),
    Layout("x[i,1,j]", (4, 5, 6), (((3,), 4), ((3,), 6)), lambda i, j: (i, 1, j)),
    Layout("x[i,j,k]", (4, 5, 6), (((2,), 4), ((2,), 5), ((2,), 6)), lambda i, j, k: (i, j, k)),
    Layout("x[i,:,k]_0d_2d", (4, 5, 6), (((), 4), ((2, 2), 6)), lambda i, k: (i, slice(None), k)),
    Layout("x[mask]", (4, 5, 6), (), lambda: (MASK4,)),
    Layout("x[mask2d]", (4, 5, 6), (), lambda: (MASK45,)),
    Layout("x[:,mask]", (4, 5, 6), (), lambda: (slice(None), MASK5)),
    Layout("x[...,mask,:]", (4, 5, 6), (), lambda: (Ellipsis, MASK5, slice(None))),
    Layout("x[mask,:,i]", (4, 5, 6), (((3,), 6),), lambda i: (MASK4, slice(None), i)),
    Layout("x[:,mask,i]", (4, 5, 6), (((1,), 6),), lambda i: (slice(None), MASK5, i)),
    Layout("x[1,::2,-1]", (4, 5, 6), (), lambda: (1, slice(None, None, 2), -1)),
    Layout("x[None,1:,...,::-1]", (4, 5, 6), (),
           lambda: (None, slice(1, None), Ellipsis, slice(None, None, -1))),
    Layout("x2[i]", (5, 4), (((3, 2), 5),), lambda i: (i,)),
    Layout("x2[i,j]", (5, 4), (((3,), 5), ((3,), 4)), lambda i, j: (i, j)),
    Layout("x1[i]_2d", (7,), (((2, 3), 7),), lambda i: (i,)),
]


def combos(layout: Layout) -> list[tuple[bool, ...]]:
    """Which of (x, *index arrays) are batched: every combination with at least one."""
    n = 1 + len(layout.arrays)
    return [c for c in itertools.product((True, False), repeat=n) if any(c)]


CASES = [pytest.param(layout, c, id=f"{layout.name}-" + "".join("B" if b else "u" for b in c))
         for layout in LAYOUTS for c in combos(layout)]


def make_args(layout: Layout, batched: Sequence[bool], seed: int = 0) -> list[NDArray]:
    """x and the index arrays, a leading axis of B on the batched ones; index arrays have
    negative entries and repeats too."""
    rng = np.random.default_rng([seed, len(layout.name), *map(ord, layout.name)])
    x_shape = ((B,) if batched[0] else ()) + layout.shape
    args = [rng.standard_normal(x_shape)]
    for (shape, size), b in zip(layout.arrays, batched[1:]):
        full = ((B,) if b else ()) + shape
        args.append(np.asarray(rng.integers(-size, size, full)))
    return args


def example(args: Sequence[NDArray], batched: Sequence[bool], n: int) -> list[NDArray]:
    return [a[n] if b else a for a, b in zip(args, batched)]


def in_axes(batched: Sequence[bool]) -> tuple[int | None, ...]:
    return tuple(0 if b else None for b in batched)


def loop(f: Callable[..., Any], args: Sequence[NDArray], batched: Sequence[bool]) -> NDArray:
    """The reference: f on each example's arguments (numpy), stacked."""
    return np.stack([np.asarray(f(*example(args, batched, n))) for n in range(B)])


def np_gather(layout: Layout) -> Callable[..., NDArray]:
    def f(x: NDArray, *arrays: NDArray) -> NDArray:
        out: NDArray = x[layout.key(*arrays)]
        return out
    return f


def np_scatter_add(layout: Layout) -> Callable[..., NDArray]:
    def f(x: NDArray, v: NDArray, *arrays: NDArray) -> NDArray:
        out: NDArray = x.copy()
        np.add.at(out, layout.key(*arrays), v)
        return out
    return f


def fg_gather(layout: Layout) -> Callable[..., Any]:
    def f(x: Any, *arrays: Any) -> Any:
        return fnp.getitem(x, layout.key(*arrays))
    return f


def fg_scatter_add(layout: Layout) -> Callable[..., Any]:
    def f(x: Any, v: Any, *arrays: Any) -> Any:
        at = x.at if isinstance(x, Tracer) else fnp.at(x)  # x unbatched: a plain array
        return at[layout.key(*arrays)].add(v)
    return f


def gathered_shape(layout: Layout) -> tuple[int, ...]:
    dummies = [np.zeros(shape, np.intp) for shape, _ in layout.arrays]
    shape: tuple[int, ...] = np.zeros(layout.shape)[layout.key(*dummies)].shape
    return shape


# ---------------------------------------------------------------------------- gather


@pytest.mark.parametrize("layout,batched", CASES)
def test_gather_under_vmap_equals_a_loop(layout: Layout, batched: tuple[bool, ...]) -> None:
    args = make_args(layout, batched)
    expected = loop(np_gather(layout), args, batched)
    assert expected.shape == (B, *gathered_shape(layout))
    out = vmap(fg_gather(layout), in_axes=in_axes(batched))(*args)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
    if batched[0]:  # traced indexing of a batched x: x[idx]
        def index(x: Any, *arrays: Any) -> Any:
            return x[layout.key(*arrays)]

        np.testing.assert_array_equal(vmap(index, in_axes=in_axes(batched))(*args), expected)


@pytest.mark.parametrize("layout,batched", CASES)
def test_grad_of_gather_through_vmap(layout: Layout, batched: tuple[bool, ...]) -> None:
    """d/dx of sum(w * vmap(gather)(x, ...)): each example's w scattered into x's shape
    (summed over the batch when x is shared)."""
    args = make_args(layout, batched)
    w = np.random.default_rng(1).standard_normal((B, *gathered_shape(layout)))
    gather = vmap(fg_gather(layout), in_axes=in_axes(batched))

    def loss(x: Any) -> Any:
        return fnp.sum(gather(x, *args[1:]) * w)

    def scatter_w(n: int) -> NDArray:
        _, *arrays = example(args, batched, n)
        g = np.zeros(layout.shape)
        np.add.at(g, layout.key(*arrays), w[n])
        return g

    per_example = np.stack([scatter_w(n) for n in range(B)])
    expected = per_example if batched[0] else per_example.sum(0)
    np.testing.assert_allclose(grad(loss)(args[0]), expected, rtol=1e-14, atol=1e-14)
    # and the per-example gradient, vmapped
    def one(x: Any, *arrays: Any) -> Any:
        return fnp.sum(fg_gather(layout)(x, *arrays) * fg_gather(layout)(x, *arrays))

    x_all = args[0] if batched[0] else np.broadcast_to(args[0], (B, *layout.shape))
    g = vmap(grad(one), in_axes=(0, *in_axes(batched)[1:]))(x_all, *args[1:])

    def np_one(n: int) -> NDArray:
        x, *arrays = example([x_all, *args[1:]], [True, *batched[1:]], n)
        out = np.zeros(layout.shape)
        np.add.at(out, layout.key(*arrays), 2.0 * x[layout.key(*arrays)])
        return out

    np.testing.assert_allclose(g, np.stack([np_one(n) for n in range(B)]), rtol=1e-14,
                               atol=1e-14)


# ---------------------------------------------------------------------------- scatter-add


@pytest.mark.parametrize("v_batched", [True, False], ids=["v=B", "v=u"])
@pytest.mark.parametrize("layout,batched", CASES)
def test_scatter_add_under_vmap_equals_a_loop(layout: Layout, batched: tuple[bool, ...],
                                              v_batched: bool) -> None:
    x, *arrays = make_args(layout, batched)
    rng = np.random.default_rng(2)
    v = rng.standard_normal(((B,) if v_batched else ()) + gathered_shape(layout))
    args = [x, v, *arrays]
    flags = [batched[0], v_batched, *batched[1:]]
    expected = loop(np_scatter_add(layout), args, flags)
    out = vmap(fg_scatter_add(layout), in_axes=in_axes(flags))(*args)
    assert out.shape == (B, *layout.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("layout,batched", CASES)
def test_grad_of_scatter_add_through_vmap(layout: Layout, batched: tuple[bool, ...]) -> None:
    """d/dv of sum(w * vmap(scatter_add)(x, v, ...)) is w gathered at each example's index;
    d/dx is w (summed over the batch when x is shared)."""
    x, *arrays = make_args(layout, batched)
    rng = np.random.default_rng(3)
    v = rng.standard_normal((B, *gathered_shape(layout)))
    w = rng.standard_normal((B, *layout.shape))
    flags = [batched[0], True, *batched[1:]]
    scatter = vmap(fg_scatter_add(layout), in_axes=in_axes(flags))

    def loss(x: Any, v: Any) -> Any:
        return fnp.sum(scatter(x, v, *arrays) * w)

    gx, gv = grad(loss, argnums=(0, 1))(x, v)
    np.testing.assert_allclose(gx, w if batched[0] else w.sum(0), rtol=1e-14, atol=1e-14)
    expected_v = np.stack([w[n][layout.key(*example(arrays, batched[1:], n))]
                           for n in range(B)])
    np.testing.assert_allclose(gv, expected_v, rtol=1e-14, atol=1e-14)


# ---------------------------------------------------------------------------- other axes, nesting


def test_gather_with_batch_axes_other_than_the_first() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, B, 5, 6))  # batch on axis 1
    i = rng.integers(-5, 5, (2, B))        # batch on axis 1
    j = rng.integers(0, 6, (2,))

    def f(x: Any, i: Any) -> Any:
        return x[1, i, :][:, j]

    out = vmap(f, in_axes=(1, 1))(x, i)
    expected = np.stack([x[:, n][1, i[:, n], :][:, j] for n in range(B)])
    np.testing.assert_array_equal(out, expected)
    out = vmap(f, in_axes=(1, 1), out_axes=-1)(x, i)
    np.testing.assert_array_equal(out, np.moveaxis(expected, 0, -1))


def test_nested_vmap_of_gather_and_scatter_add() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, B, 4, 5))
    i = rng.integers(-4, 4, (B, 3))
    v = rng.standard_normal((2, 3, 5))

    def g(x: Any, i: Any) -> Any:
        return x[i, :]

    out = vmap(vmap(g, in_axes=(0, 0)), in_axes=(0, None))(x, i)
    expected = np.stack([np.stack([x[a, b][i[b], :] for b in range(B)]) for a in range(2)])
    np.testing.assert_array_equal(out, expected)

    def s(x: Any, i: Any, v: Any) -> Any:
        return x.at[i, :].add(v)

    out = vmap(vmap(s, in_axes=(0, 0, None)), in_axes=(0, None, 0))(x, i, v)

    def np_s(a: int, b: int) -> NDArray:
        r: NDArray = x[a, b].copy()
        key: Any = (i[b], slice(None))
        np.add.at(r, key, v[a])
        return r

    np.testing.assert_allclose(out, np.stack([np.stack([np_s(a, b) for b in range(B)])
                                              for a in range(2)]), rtol=1e-14)


def test_gather_and_scatter_add_under_jit_of_vmap() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((B, 4, 5, 6))
    i = rng.integers(-4, 4, (B, 3))
    j = rng.integers(-6, 6, (3,))

    def f(x: Any, i: Any) -> Any:
        g = x[i, :, j]
        return x.at[i, :, j].add(g * 2.0)

    jf = jit(vmap(f, in_axes=(0, 0)))
    out = jf(x, i)

    def np_f(n: int) -> NDArray:
        r: NDArray = x[n].copy()
        key: Any = (i[n], slice(None), j)
        np.add.at(r, key, 2.0 * x[n][key])
        return r

    np.testing.assert_allclose(out, np.stack([np_f(n) for n in range(B)]), rtol=1e-14)
    assert jf.trace_count == 1


def test_batched_boolean_mask_is_refused() -> None:
    masks = np.array([[True, False, True], [False, True, True]])
    with pytest.raises(ConcretizationError, match=r"traced boolean mask"):
        vmap(lambda x, m: fnp.getitem(x, m), in_axes=(None, 0))(np.ones(3), masks)
    with pytest.raises(ConcretizationError, match=r"traced boolean mask"):
        vmap(lambda x, m: x[m])(np.ones((2, 3)), masks)


def test_gather_of_a_funcgrad_index_computed_under_vmap() -> None:
    """Index arrays computed from batched values (argmax per row), not passed in."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((B, 4, 5))

    def pick(x: Any) -> Any:
        k = fnp.argmax(x, axis=1)            # (4,) per example, batched
        return x[np.arange(4), k]

    np.testing.assert_array_equal(vmap(pick)(x), x.max(axis=2))
    g = grad(lambda x: fnp.sum(vmap(pick)(x)))(x)
    expected = (x == x.max(axis=2, keepdims=True)).astype(float)
    np.testing.assert_array_equal(g, expected)
    # one gather for the whole batch, the batch axis indexed by a constant arange
    text = str(funcgrad.make_graph(vmap(pick))(x))
    assert text.count(" = gather[") == 1, text
    assert re.search(r"^  \w+:f64\[3,4\] = gather\[index=\[#0, #1, #2\]\] a ", text, re.M), text
