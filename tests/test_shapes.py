"""Tests for the shape, assembly and creation functions beyond the shared table: pad in
every mode against numpy (with widths beyond the axis), exact gradients of the copying
functions (each element's gradient counts its copies), linspace's values, dtypes and
derivatives, the errors, and dtype promotion when assembling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import ConcretizationError, ShapeError, grad, jit, make_graph, vjp, vmap
from funcgrad.testing import check_grads

NDArray = np.ndarray[Any, Any]


def copies(f: Callable[[Any], Any], x: NDArray) -> NDArray:
    """The gradient of sum(f(x)): how many times f copies each element of x."""
    g: NDArray = grad(lambda x: fnp.sum(f(x)))(x)
    return g


def numpy_copies(f: Callable[[NDArray], NDArray], x: NDArray) -> NDArray:
    """The same count from numpy: f applied to x's element numbers."""
    ids = np.arange(x.size).reshape(x.shape)
    counts: NDArray = np.bincount(np.ravel(f(ids)), minlength=x.size).reshape(x.shape)
    return counts.astype(float)


# ---------------------------------------------------------------------------- pad

PAD_CASES: list[tuple[str, dict[str, Any]]] = [
    ("edge", {}), ("wrap", {}), ("reflect", {}), ("symmetric", {}),
    ("reflect", {"reflect_type": "odd"}), ("symmetric", {"reflect_type": "odd"}),
    ("linear_ramp", {"end_values": ((1, 2), (-3, 0.5), (0, 0))}),
    ("mean", {}), ("mean", {"stat_length": 2}), ("empty", {}),
    ("constant", {}), ("constant", {"constant_values": ((1, 2), (3, 4), (5, 6))}),
]
WIDTHS: list[Any] = [3, (1, 7), ((0, 2), (5, 1), (8, 0)), ((2,), (0,), (1,))]


@pytest.mark.parametrize("width", WIDTHS, ids=str)
@pytest.mark.parametrize("mode,options", [pytest.param(m, o, id=f"{m}{o}")
                                          for m, o in PAD_CASES])
def test_pad_modes_match_numpy(mode: str, options: dict[str, Any], width: Any) -> None:
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    numpy_pad: Any = np.pad  # (its overloads want a literal mode)
    # funcgrad's empty padding is zeros
    expected = numpy_pad(x, width, "constant" if mode == "empty" else mode, **options)
    out, pullback = vjp(lambda x: fnp.pad(x, width, mode, **options), x)
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(jit(lambda x: fnp.pad(x, width, mode, **options))(x), expected,
                               rtol=1e-13, atol=1e-13)
    assert pullback(np.ones(expected.shape))[0].shape == x.shape


@pytest.mark.parametrize("mode", ["edge", "wrap", "reflect", "symmetric"])
def test_pad_gradients_add_the_padded_cotangents_onto_their_sources(
        mode: Literal["edge", "wrap", "reflect", "symmetric"]) -> None:
    x = np.zeros((3, 4))
    width = ((4, 2), (1, 6))
    np.testing.assert_array_equal(copies(lambda x: fnp.pad(x, width, mode), x),
                                  numpy_copies(lambda i: np.pad(i, width, mode), x))


def test_pad_gradients_second_order_and_float32() -> None:
    x = np.random.default_rng(2).standard_normal((3, 2))
    for mode, options in (("reflect", {"reflect_type": "odd"}), ("mean", {}),
                          ("linear_ramp", {"end_values": 2.0}), ("wrap", {})):
        check_grads(lambda x: fnp.pad(x, ((2, 3), (1, 1)), mode, **options) ** 2, (x,), order=2)
        out, pullback = vjp(lambda x: fnp.pad(x, 2, mode, **options), x.astype(np.float32))
        assert out.dtype == np.float32
        assert pullback(np.ones(out.shape, np.float32))[0].dtype == np.float32


def test_pad_traced_constant_values() -> None:
    x = np.arange(6.0).reshape(2, 3)

    def f(x: Any, c: Any) -> Any:
        return fnp.pad(x, ((1, 2), (0, 1)), constant_values=c)

    c = np.array([[1.0, 2.0], [3.0, 4.0]])  # (before, after) per axis
    np.testing.assert_array_equal(f(x, c), np.pad(x, ((1, 2), (0, 1)), constant_values=c))
    gx, gc = grad(lambda x, c: fnp.sum(f(x, c)), argnums=(0, 1))(x, c)
    np.testing.assert_array_equal(gx, np.ones((2, 3)))
    # axis 0's values fill whole padded rows but for the corners, which axis 1's take
    np.testing.assert_array_equal(gc, [[3.0, 6.0], [0.0, 5.0]])
    g = grad(lambda c: fnp.sum(fnp.pad(x, 1, constant_values=c)))(1.5)
    assert g == 4 * 5 - 6
    out32 = jit(lambda x, c: fnp.pad(x, 1, constant_values=c))(x.astype(np.float32), 2.0)
    assert out32.dtype == np.float32


def test_pad_errors() -> None:
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="non-negative integers"):
        vjp(lambda x: fnp.pad(x, -1), x)
    with pytest.raises(ShapeError, match=r"pair for each of the 2 axes of shape \(2, 3\)"):
        vjp(lambda x: fnp.pad(x, ((1, 2), (3, 4), (5, 6))), x)
    with pytest.raises(NotImplementedError, match="'median' is not supported"):
        vjp(lambda x: fnp.pad(x, 1, "median"), x)
    with pytest.raises(TypeError, match=r"mode 'edge': \['constant_values'\]"):
        vjp(lambda x: fnp.pad(x, 1, "edge", constant_values=1), x)
    with pytest.raises(ShapeError, match="empty axis 0"):
        vjp(lambda x: fnp.pad(x, 1, "wrap"), np.ones((0, 2)))


# ---------------------------------------------------------------------------- copies


@pytest.mark.parametrize("f,ref", [
    (lambda x: fnp.tile(x, (2, 1, 3)), lambda i: np.tile(i, (2, 1, 3))),
    (lambda x: fnp.repeat(x, 3), lambda i: np.repeat(i, 3)),
    (lambda x: fnp.repeat(x, [3, 0], axis=0), lambda i: np.repeat(i, [3, 0], axis=0)),
    (lambda x: fnp.roll(x, (-1, 4), axis=(1, 0)), lambda i: np.roll(i, (-1, 4), axis=(1, 0))),
    (lambda x: fnp.rot90(x, 3), lambda i: np.rot90(i, 3)),
    (lambda x: fnp.meshgrid(x[0], x[1])[1], lambda i: np.meshgrid(i[0], i[1])[1]),
    (lambda x: fnp.column_stack([x[0], x[1], x[0]]),
     lambda i: np.column_stack([i[0], i[1], i[0]])),
    (lambda x: fnp.diagonal(fnp.tile(x, 2), 1), lambda i: np.diagonal(np.tile(i, 2), 1)),
], ids=["tile", "repeat", "repeat_per_element", "roll", "rot90", "meshgrid", "column_stack",
        "diagonal_of_tile"])
def test_gradients_count_copies(f: Callable[[Any], Any], ref: Callable[[NDArray], NDArray]
                                ) -> None:
    x = np.zeros((2, 3))
    np.testing.assert_array_equal(copies(f, x), numpy_copies(ref, x))


def test_rot90_every_k_and_axes() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    for k in range(-4, 6):
        for axes in ((0, 1), (1, 0), (2, 0), (-1, -2)):
            np.testing.assert_array_equal(jit(lambda x: fnp.rot90(x, k, axes))(x),
                                          np.rot90(x, k, axes))
    with pytest.raises(ValueError, match="must be different"):
        jit(lambda x: fnp.rot90(x, 1, (1, -2)))(x)
    with pytest.raises(ValueError, match="two axes"):
        jit(lambda x: fnp.rot90(x, 1, (0,)))(x)  # type: ignore[arg-type]


def test_shape_from_traced_values_is_refused_under_jit() -> None:
    x = np.arange(3.0)
    with pytest.raises(ConcretizationError, match="repeat: repeats"):
        jit(lambda x, r: fnp.repeat(x, r))(x, np.array([1, 2, 0]))
    with pytest.raises(ConcretizationError, match="roll: shift"):
        jit(lambda x, s: fnp.roll(x, s))(x, np.array(1))
    # under grad the values are known: the same calls work
    g = grad(lambda x, r: fnp.sum(fnp.repeat(x, fnp.asarray(r) * 1) ** 2))(x, np.array([1, 2, 0]))
    np.testing.assert_array_equal(g, [0.0, 4.0, 0.0])
    with pytest.raises(ConcretizationError, match="arange: stop is traced"):
        jit(lambda n: fnp.arange(0, n))(np.array(3))
    with pytest.raises(ConcretizationError, match="arange: start"):
        grad(lambda x: fnp.sum(fnp.arange(x)))(3.0)


def test_flip_fliplr_flipud() -> None:
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(jit(lambda x: fnp.flip(x, ()))(x), x)
    with pytest.raises(ShapeError, match="fliplr: the input must have at least 2"):
        jit(fnp.fliplr)(np.ones(3))
    with pytest.raises(ShapeError, match="axis 2 is out of bounds"):
        jit(lambda x: fnp.flip(x, 2))(x)


# ---------------------------------------------------------------------------- assembly


def test_atleast_and_stacking_follow_numpy() -> None:
    s, v = np.float32(2.0), np.arange(3.0, dtype=np.float32)
    m: NDArray = np.ones((2, 3), np.int32)
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        single = jit(getattr(fnp, name))(s)
        assert single.shape == getattr(np, name)(s).shape
        several = jit(lambda a, b, name=name: getattr(fnp, name)(a, b))(v, m)
        assert isinstance(several, tuple)
        assert [a.shape for a in several] == [a.shape for a in getattr(np, name)(v, m)]
    for name in ("vstack", "hstack", "column_stack", "dstack", "row_stack"):
        ref = getattr(np, "vstack" if name == "row_stack" else name)
        a, b = (v, v[None]) if name in ("vstack", "row_stack") else (v, v)
        if name == "hstack":
            a, b = m, np.ones((2, 1), np.float32)
        out = jit(lambda a, b, name=name: getattr(fnp, name)([a, b]))(a, b)
        np.testing.assert_array_equal(out, ref([a, b]))
        assert out.dtype == ref([a, b]).dtype
    out = jit(lambda a, b: fnp.vstack([a, b], dtype=np.float64))(v, v)
    assert out.dtype == np.float64


def test_diff_bool_orders_and_ends() -> None:
    b = np.array([True, False, False, True])
    np.testing.assert_array_equal(jit(fnp.diff)(b), np.diff(b))
    x = np.array([[1.0, 4.0, 9.0, 16.0]])
    for n in (0, 1, 3, 5):
        np.testing.assert_array_equal(jit(lambda x, n=n: fnp.diff(x, n))(x), np.diff(x, n))
    out = jit(lambda x: fnp.diff(x, axis=0, prepend=0.5, append=x))(x)
    np.testing.assert_array_equal(out, np.diff(x, axis=0, prepend=0.5, append=x))
    with pytest.raises(ValueError, match="non-negative"):
        jit(lambda x: fnp.diff(x, -1))(x)


def test_meshgrid_forms() -> None:
    x, y, z = np.arange(2.0), np.arange(3.0), np.arange(4.0)
    for kw in ({}, {"indexing": "ij"}, {"sparse": True}, {"sparse": True, "indexing": "ij"}):
        for args in ((x,), (x, y), (x, y, z)):
            out = jit(lambda *a, kw=kw: fnp.meshgrid(*a, **kw))(*args)
            ref = np.meshgrid(*args, **kw)
            assert len(out) == len(ref)
            for o, r in zip(out, ref):
                np.testing.assert_array_equal(o, r)
    with pytest.raises(ValueError, match="indexing must be"):
        jit(lambda x: fnp.meshgrid(x, indexing="yx"))(x)  # type: ignore[arg-type]


def test_tril_triu_zero_gradient_where_zeroed() -> None:
    x = np.ones((2, 3, 3))
    np.testing.assert_array_equal(copies(lambda x: fnp.triu(x, 1), x),
                                  np.broadcast_to(np.triu(np.ones((3, 3)), 1), x.shape))
    ints = np.arange(9).reshape(3, 3)
    assert jit(fnp.tril)(ints).dtype == ints.dtype
    np.testing.assert_array_equal(jit(lambda v: fnp.triu(v, -1))(np.arange(3.0)),
                                  np.triu(np.arange(3.0), -1))


# ---------------------------------------------------------------------------- creation


@pytest.mark.parametrize("kw", [
    {}, {"num": 1}, {"num": 0}, {"num": 2, "endpoint": False}, {"num": 6, "dtype": np.int64},
    {"num": 4, "dtype": np.float32}, {"num": 5, "retstep": True},
    {"num": 1, "retstep": True}, {"num": 3, "axis": 1},
], ids=str)
def test_linspace_traced_equals_numpy(kw: dict[str, Any]) -> None:
    start, stop = np.array([-2.5, 1.0]), np.array([[3.0], [-7.25]])
    expected = np.linspace(start, stop, **kw)
    def f(a: Any, b: Any) -> Any:
        return fnp.linspace(a, b, **kw)

    for out in (jit(f)(start, stop), make_graph(f)(start, stop)(start, stop)):
        for o, e in zip(out if kw.get("retstep") else [out],
                        expected if kw.get("retstep") else [expected]):
            np.testing.assert_array_equal(o, e)
            assert np.asarray(o).dtype == np.asarray(e).dtype


def test_linspace_gradients_and_float32() -> None:
    g = grad(lambda a, b: fnp.sum(fnp.linspace(a, b, 5) * np.arange(5.0)), argnums=(0, 1))
    ga, gb = g(1.0, 2.0)
    t = np.linspace(0.0, 1.0, 5)
    assert ga == pytest.approx(np.sum((1 - t) * np.arange(5.0)))
    assert gb == pytest.approx(np.sum(t * np.arange(5.0)))
    x32 = np.float32(0.5)
    out = jit(lambda a: fnp.linspace(a, 2.0, 4))(x32)
    assert out.dtype == np.float32
    assert grad(lambda a: fnp.sum(fnp.linspace(a, 2, 4)))(x32).dtype == np.float32
    per_example = vmap(lambda a: fnp.linspace(a, 1.0, 3))(np.array([0.0, -1.0]))
    np.testing.assert_array_equal(per_example, [np.linspace(0.0, 1, 3), np.linspace(-1.0, 1, 3)])


def test_like_functions_and_constants() -> None:
    x = np.ones((2, 3), np.float32)

    def f(x: Any) -> Any:
        return (fnp.zeros_like(x), fnp.ones_like(x, dtype=np.int8), fnp.empty_like(x, shape=4),
                fnp.full_like(x, 7, shape=(1, 2)), fnp.full_like(x, fnp.sum(x), dtype=float))

    outs = jit(f)(x)
    refs: tuple[NDArray, ...] = (
        np.zeros_like(x), np.ones_like(x, dtype=np.int8), np.zeros(4, np.float32),
        np.full_like(x, 7, shape=(1, 2)), np.full(x.shape, 6.0))
    for o, r in zip(outs, refs):
        np.testing.assert_array_equal(o, r)
        assert o.dtype == r.dtype
    np.testing.assert_array_equal(fnp.empty((2, 2)), np.zeros((2, 2)))
    np.testing.assert_array_equal(fnp.eye(3, 4, 1, dtype=int), np.eye(3, 4, 1, dtype=int))
    np.testing.assert_array_equal(fnp.identity(2), np.identity(2))
    np.testing.assert_array_equal(fnp.tri(3, 2, -1), np.tri(3, 2, -1))
    np.testing.assert_array_equal(fnp.arange(1, 7, 2.5), np.arange(1, 7, 2.5))
    assert grad(lambda c: fnp.sum(fnp.full_like(x, c)))(np.float64(2.0)) == 6.0
    assert jit(lambda t: fnp.array(t, ndmin=3))(np.ones(2)).shape == (1, 1, 2)
