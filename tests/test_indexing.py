"""Tests for indexing beyond the shared table: every numpy index form on traced values
(values, exact gradients, jit and graphs), `.at` updates with repeated indices (exact
values and gradients, as numpy's ufunc.at and JAX's rules), the scatter primitives under
vmap against a loop, take/select/diag and friends at their edges, the errors, and numpy's
own functions handed a tracer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import ConcretizationError, ShapeError, grad, jit, make_graph, vjp, vmap
from funcgrad.testing import check_grads

NDArray = np.ndarray[Any, Any]

X = np.arange(60.0).reshape(3, 4, 5) / 7.0

KEYS: list[tuple[str, Any]] = [
    ("true", True),
    ("false", False),
    ("np_true_with_int_array", (np.True_, np.array([0, 2, 2]))),
    ("int_array_then_true", (np.array([0, 2, 2]), True)),
    ("true_slice_none_array", (True, slice(None), None, np.array([1, 2]))),
    ("true_ellipsis_false", (True, Ellipsis, False)),
    ("two_trues_separated", (True, slice(1, None), True)),
    ("zero_d_bool_array", np.array(False)),
    ("int_with_true", (1, True)),
    ("ellipsis_true", (Ellipsis, True)),
    ("negative_step_slices", (slice(None, None, -2), slice(3, 0, -1))),
    ("negative_int_arrays", (np.array([-1, -3]), slice(None), np.array([-5, 4]))),
    ("mask_and_int", (np.array([True, False, True]), 2)),
    ("mask_2d_then_slice", (np.arange(12).reshape(3, 4) % 5 == 1, slice(1, 4))),
    ("none_everywhere", (None, 0, None, slice(None), None)),
    ("list_of_lists", [[2, 0], [1, 1]]),
    ("zero_d_int_array", (np.array(2), np.array([1, 1]))),
    ("empty_int_array", np.zeros(0, np.intp)),
]


@pytest.mark.parametrize("key", [pytest.param(k, id=n) for n, k in KEYS])
def test_index_forms_values_gradients_jit_and_graph(key: Any) -> None:
    expected = X[key]
    w = np.random.default_rng(0).standard_normal(expected.shape)
    out, pullback = vjp(lambda x: fnp.getitem(x, key), X)
    np.testing.assert_array_equal(out, expected)
    # each element's gradient: the weights of every place it was copied to
    g_expected = np.zeros_like(X)
    np.add.at(g_expected, key, w)
    np.testing.assert_array_equal(pullback(w)[0], g_expected)
    np.testing.assert_array_equal(jit(lambda x: x[key])(X), expected)
    np.testing.assert_array_equal(make_graph(lambda x: x[key])(X)(X), expected)


def test_traced_index_arrays_and_lists_of_traced_ints() -> None:
    def f(x: Any) -> Any:
        i = fnp.argmax(x[:, 0, 0])  # a traced integer
        return x[[i, 0], i] + fnp.getitem(X, (i, [i, 1]))

    expected = X[[2, 0], 2] + X[2, [2, 1]]
    np.testing.assert_array_equal(f(X), expected)
    np.testing.assert_array_equal(jit(f)(X), expected)
    out, pullback = vjp(f, X)
    np.testing.assert_array_equal(out, expected)
    g = pullback(np.ones(expected.shape))[0]
    assert g.sum() == 2 * 5 and g[2, 2].sum() == 5 and g[0, 2].sum() == 5


def test_boolean_index_traced_under_grad_refused_under_jit() -> None:
    x = np.array([1.0, -2.0, 3.0])
    g = grad(lambda x: fnp.sum(x[x > 0] ** 2))(x)
    np.testing.assert_array_equal(g, [2.0, 0.0, 6.0])
    g0 = grad(lambda x: fnp.sum(x[fnp.sum(x) > 0] * 3.0))(x)  # a traced 0-d mask
    np.testing.assert_array_equal(g0, [3.0, 3.0, 3.0])
    with pytest.raises(ConcretizationError, match=r"boolean mask \(bool\[3\]\).*where"):
        jit(lambda x: x[x > 0])(x)
    with pytest.raises(ConcretizationError, match=r"boolean mask \(bool\[\]\)"):
        jit(lambda x: x[fnp.sum(x) > 0])(x)


def test_bad_indices() -> None:
    x = np.ones((2, 3))
    with pytest.raises(TypeError, match="index of dtype float64 is not allowed"):
        vjp(lambda x: x[np.array([0.0])], x)
    with pytest.raises(IndexError):
        vjp(lambda x: x[5], x)
    with pytest.raises(IndexError):
        vjp(lambda x: x[0, 0, 0], x)


# ---------------------------------------------------------------------------- .at updates

IDX = np.array([3, 0, 3, -1, 1])  # element 3 three times (once as -1), 2 not at all


def _np_at(ufunc: np.ufunc, x: NDArray, key: Any, v: Any) -> NDArray:
    out: NDArray = x.copy()
    ufunc.at(out, key, v)
    return out


@pytest.mark.parametrize("method,ufunc", [("add", np.add), ("subtract", np.subtract),
                                          ("multiply", np.multiply), ("divide", np.divide),
                                          ("min", np.minimum), ("max", np.maximum)])
def test_at_repeated_indices_follow_numpy_ufunc_at(method: str, ufunc: np.ufunc) -> None:
    x = np.array([2.0, -1.0, 5.0, 0.5])
    v = np.array([3.0, -2.0, 0.25, 4.0, -0.5])
    expected = _np_at(ufunc, x, IDX, v)
    for fn in (lambda x, v: getattr(x.at[IDX], method)(v),
               jit(lambda x, v: getattr(x.at[IDX], method)(v)),
               jit(lambda x, v: getattr(x.at[fnp.asarray(IDX) + 0], method)(v))):
        out, _ = vjp(fn, x, v)
        np.testing.assert_allclose(out, expected, rtol=1e-15)
    np.testing.assert_allclose(getattr(fnp.at(x)[IDX], method)(v), expected, rtol=1e-15)


def test_at_set_last_repeat_wins_and_only_it_gets_the_gradient() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    v = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    w = np.array([1.0, 10.0, 100.0, 1000.0])
    for traced_index in (False, True):
        def f(x: Any, v: Any, traced_index: bool = traced_index) -> Any:
            idx = fnp.asarray(IDX) + 0 if traced_index else IDX
            return fnp.sum(x.at[idx].set(v) * w)

        for run in (f, jit(f)):
            value, (gx, gv) = funcgrad.value_and_grad(run, argnums=(0, 1))(x, v)
            assert float(value) == 20.0 + 50.0 * 10 + 3.0 * 100 + 40.0 * 1000
            np.testing.assert_array_equal(gx, [0.0, 0.0, 100.0, 0.0])
            # element 3 was written by v[0], v[2] and, last, v[3]
            np.testing.assert_array_equal(gv, [0.0, 1.0, 0.0, 1000.0, 10.0])


def test_at_multiply_gradients_with_repeated_and_zero_updates_exact() -> None:
    x = np.array([2.0, 3.0, 5.0, 7.0])
    w = np.array([1.0, 10.0, 100.0, 1000.0])

    def f(x: Any, v: Any) -> Any:
        return fnp.sum(fnp.at(x)[IDX].multiply(v) * w)

    # element 3 is multiplied by v0 * v2 * v3, element 0 by v1, element 1 by v4
    v = np.array([2.0, 3.0, 0.5, 4.0, -1.0])
    gx, gv = grad(f, argnums=(0, 1))(x, v)
    np.testing.assert_array_equal(gx, [3.0, -10.0, 100.0, 4000.0])
    np.testing.assert_array_equal(gv, [2.0 * 7000, 2.0, 8.0 * 7000, 1.0 * 7000, 30.0])
    # one zero among the repeats: only the zero's own gradient is nonzero there
    v0 = np.array([2.0, 3.0, 0.0, 4.0, -1.0])
    gx, gv = grad(f, argnums=(0, 1))(x, v0)
    np.testing.assert_array_equal(gx, [3.0, -10.0, 100.0, 0.0])
    np.testing.assert_array_equal(gv, [0.0, 2.0, 8.0 * 7000, 0.0, 30.0])
    # two zeros at the same element: every gradient there is zero
    v00 = np.array([0.0, 3.0, 0.0, 4.0, -1.0])
    gv = grad(f, argnums=1)(x, v00)
    np.testing.assert_array_equal(gv, [0.0, 2.0, 0.0, 0.0, 30.0])
    check_grads(f, (x, v), order=2)


@pytest.mark.parametrize("method", ["min", "max"])
def test_at_min_max_ties_share_the_gradient(method: str) -> None:
    # As JAX: the cotangent of an element is split evenly among the values attaining it.
    x = np.array([1.0, 2.0, 3.0])
    idx = np.array([0, 0, 1, 2, 2])
    v = {"max": np.array([1.0, 0.5, 2.0, 3.0, 3.0]),
         "min": np.array([1.0, 1.5, 2.0, 3.0, 3.0])}[method]
    w = np.array([1.0, 10.0, 100.0])

    def f(x: Any, v: Any) -> Any:
        return fnp.sum(getattr(x.at[idx], method)(v) * w)

    gx, gv = grad(f, argnums=(0, 1))(x, v)
    np.testing.assert_allclose(gx, [0.5, 5.0, 100.0 / 3])
    np.testing.assert_allclose(gv, [0.5, 0.0, 5.0, 100.0 / 3, 100.0 / 3])
    gx, gv = jit(grad(f, argnums=(0, 1)))(x, v)
    np.testing.assert_allclose(gv, [0.5, 0.0, 5.0, 100.0 / 3, 100.0 / 3])


def test_at_divide_and_apply() -> None:
    x = np.array([8.0, 2.0, 3.0, 0.5])
    v = np.array([2.0, 4.0, 0.5, -1.0, 8.0])
    g = grad(lambda v: fnp.sum(fnp.at(x)[IDX].divide(v)))(v)
    # element 3 is 0.5 / (v0 v2 v3): d/dv0 = -0.5 / (v0^2 v2 v3)
    np.testing.assert_allclose(g[[0, 2, 3]], [-0.5 / (4 * 0.5 * -1), -0.5 / (2 * 0.25 * -1),
                                              -0.5 / (2 * 0.5 * 1)])
    # apply runs once per occurrence, as numpy's ufunc.at
    expected = x.copy()
    np.sin.at(expected, IDX)
    out, pullback = vjp(lambda x: x.at[IDX].apply(fnp.sin), x)
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    s3 = np.sin(np.sin(x[3]))
    d3 = np.cos(s3) * np.cos(np.sin(x[3])) * np.cos(x[3])  # sin applied three times
    np.testing.assert_allclose(pullback(np.ones(4))[0], [np.cos(8.0), np.cos(2.0), 1.0, d3])
    with pytest.raises(ConcretizationError, match="apply"):
        jit(lambda x: x.at[fnp.argmax(x)].apply(fnp.sin))(x)


def test_at_values_broadcast_and_mismatch() -> None:
    x = np.zeros((3, 4))
    out = jit(lambda x: x.at[1:].set(np.array([[1.0, 2.0, 3.0, 4.0]])))(x)
    np.testing.assert_array_equal(out[1:], [[1, 2, 3, 4]] * 2)
    out = jit(lambda x: x.at[0].add(np.ones((1, 4))))(x)  # numpy drops leading 1s
    np.testing.assert_array_equal(out[0], np.ones(4))
    with pytest.raises(ShapeError, match=r"values of shape \(3,\) do not fit .* \(2, 4\)"):
        jit(lambda x: x.at[1:].set(np.ones(3)))(x)


def test_at_with_integer_values_on_float_and_numpy_arrays() -> None:
    x = np.arange(4.0)
    out = fnp.at(x)[np.array([1, 1])].add(2)
    np.testing.assert_array_equal(out, [0.0, 5.0, 2.0, 3.0])
    np.testing.assert_array_equal(x, np.arange(4.0))  # never written into
    ints = fnp.at(np.arange(4))[2].multiply(3)
    assert ints.dtype == np.arange(4).dtype and ints[2] == 6


# ---------------------------------------------------------------------------- vmap of scatters

UPDATES = ["set", "add", "multiply", "min", "max"]
LAYOUTS: list[tuple[str, tuple[int, ...], Callable[..., Any], tuple[tuple[int, ...], ...]]] = [
    ("x[i]", (4, 3), lambda i: (i,), ((5,),)),
    ("x[:,i]", (3, 4), lambda i: (slice(None), i), ((5,),)),
    ("x[i,:,j]", (4, 2, 4), lambda i, j: (i, slice(None), j), ((3,), (3,))),
    ("x[::-1,i]", (3, 4), lambda i: (slice(None, None, -1), i), ((2, 2),)),
]


@pytest.mark.parametrize("method", UPDATES)
@pytest.mark.parametrize("layout", [pytest.param(lay, id=lay[0]) for lay in LAYOUTS])
@pytest.mark.parametrize("batched", ["x", "v", "i", "all"])
def test_scatters_under_vmap_equal_a_loop(method: str, layout: Any, batched: str) -> None:
    _, shape, key, index_shapes = layout
    rng = np.random.default_rng(len(shape) + len(method))
    b = 3
    x = rng.permutation(b * int(np.prod(shape))).reshape(b, *shape) * 0.25
    arrays = [rng.integers(-4, 4, (b, *s)) for s in index_shapes]  # repeats and negatives
    v_shape = np.zeros(shape)[key(*[a[0] for a in arrays])].shape
    v = rng.permutation(b * int(np.prod(v_shape))).reshape(b, *v_shape) * 0.25 + 0.125
    take = {"x": (True, False, False), "v": (False, True, False), "i": (False, False, True),
            "all": (True, True, True)}[batched]
    args = [x if take[0] else x[0], v if take[1] else v[0], *(a if take[2] else a[0]
                                                             for a in arrays)]
    axes = [0 if take[0] else None, 0 if take[1] else None, *[0 if take[2] else None] * len(arrays)]

    def f(x: Any, v: Any, *idx: Any) -> Any:
        return getattr(fnp.at(x)[key(*idx)], method)(v)

    def np_f(x: NDArray, v: NDArray, *idx: NDArray) -> NDArray:
        out: NDArray = x.copy()
        if method == "set":
            out[key(*idx)] = v
        else:
            {"add": np.add, "multiply": np.multiply, "min": np.minimum,
             "max": np.maximum}[method].at(out, key(*idx), v)
        return out

    expected = np.stack([np_f(*(a[n] if ax == 0 else a for a, ax in zip(args, axes)))
                         for n in range(b)])
    np.testing.assert_array_equal(vmap(f, in_axes=axes)(*args), expected)
    # and the per-example gradients, through the vmapped scatter's VJP rules
    w = rng.standard_normal(expected.shape)

    def loss(x: Any, v: Any) -> Any:
        return fnp.sum(vmap(f, in_axes=axes)(x, v, *args[2:]) * w)

    def loss_loop(x: Any, v: Any) -> Any:
        outs = [f(*(a[n] if ax == 0 else a for a, ax in zip([x, v, *args[2:]], axes)))
                for n in range(b)]
        return fnp.sum(fnp.stack(outs) * w)

    got = grad(loss, argnums=(0, 1))(args[0], args[1])
    want = grad(loss_loop, argnums=(0, 1))(args[0], args[1])
    for g1, g2 in zip(got, want):
        np.testing.assert_allclose(g1, g2, rtol=1e-13, atol=1e-13)


# ---------------------------------------------------------------------------- take and friends


def test_take_modes_with_traced_indices_under_jit() -> None:
    x = np.arange(10.0).reshape(2, 5)
    idx = np.array([-12, -6, -1, 0, 4, 5, 13])

    for mode in ("wrap", "clip"):
        def f(x: Any, i: Any, mode: Any = mode) -> Any:
            return fnp.take(x, i * 1, axis=1, mode=mode)

        np.testing.assert_array_equal(jit(f)(x, idx), np.take(x, idx, axis=1, mode=mode))
        np.testing.assert_array_equal(vmap(f, in_axes=(None, 0))(x, idx.reshape(7, 1)),
                                      np.stack([np.take(x, [i], axis=1, mode=mode)
                                                for i in idx]))
    with pytest.raises(ValueError, match="mode must be"):
        fnp.take(x, [0], mode="fill")  # type: ignore[arg-type]
    with pytest.raises(IndexError):
        vjp(lambda x: fnp.take(x, [7], axis=1), x)


def test_take_gradient_counts_repeats() -> None:
    x = np.arange(5.0)
    g = grad(lambda x: fnp.sum(fnp.take(x, np.array([7, -1, 2, 12]), mode="wrap") ** 2))(x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 3 * 4.0, 0.0, 8.0])  # indices 2, 4, 2, 2


def test_along_axis_with_argsort_indices_and_put() -> None:
    x = np.array([[3.0, 1.0, 2.0], [0.5, 2.5, 1.5]])
    order = np.argsort(x, axis=1)
    out, pullback = vjp(lambda x: fnp.take_along_axis(x, order, axis=1), x)
    np.testing.assert_array_equal(out, np.sort(x, axis=1))
    np.testing.assert_array_equal(pullback(np.array([[1.0, 2, 3], [4, 5, 6]]))[0],
                                  [[3.0, 1, 2], [4, 6, 5]])
    with pytest.raises(ValueError, match="inplace=False"):
        fnp.put_along_axis(x, order, 0.0, 1)
    put = fnp.put_along_axis(x, np.array([[0], [2]]), np.array([[9.0], [8.0]]), 1,
                             inplace=False)
    np.testing.assert_array_equal(put, [[9.0, 1, 2], [0.5, 2.5, 8]])
    with pytest.raises(ShapeError, match="as many dimensions"):
        vjp(lambda x: fnp.take_along_axis(x, np.array([0, 1]), axis=1), x)


def test_select_first_condition_wins_and_promotes() -> None:
    x = np.linspace(-2.0, 2.0, 5, dtype=np.float32)

    def f(x: Any) -> Any:
        return fnp.select([x > 0, x > -1.5], [x * 2, x ** 2], 1)

    out, pullback = vjp(f, x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.select([x > 0, x > -1.5], [x * 2, x ** 2], 1))
    np.testing.assert_array_equal(pullback(np.ones(5, np.float32))[0], [0, -2, 0, 2, 2])
    with pytest.raises(TypeError, match="condition 0 must be boolean"):
        vjp(lambda x: fnp.select([x], [x]), x)
    with pytest.raises(ValueError, match="1 conditions but 2 choices"):
        vjp(lambda x: fnp.select([x > 0], [x, x]), x)


def test_diag_diagonal_trace_exact_gradients() -> None:
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(grad(lambda a: fnp.trace(a, 1) * 2.0)(a),
                                  2.0 * np.eye(3, 4, 1))
    np.testing.assert_array_equal(grad(lambda a: fnp.sum(fnp.diag(a, -1) ** 2))(a),
                                  2.0 * a * np.eye(3, 4, -1))
    v = np.array([1.0, 2.0])
    np.testing.assert_array_equal(grad(lambda v: fnp.sum(fnp.diag(v, 1) * np.arange(9.0)
                                                         .reshape(3, 3)))(v), [1.0, 5.0])
    # a traced integer matrix keeps numpy's widened trace dtype
    ints = np.arange(9, dtype=np.int8).reshape(3, 3)
    assert jit(fnp.trace)(ints).dtype == np.trace(ints).dtype
    assert jit(lambda a: fnp.trace(a, dtype=np.float32))(a).dtype == np.float32
    with pytest.raises(ShapeError, match="1-D or 2-D"):
        jit(fnp.diag)(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="axis1 and axis2"):
        jit(lambda a: fnp.diagonal(a, 0, 1, -1))(a)
    assert jit(lambda a: fnp.diagonal(a, 5))(a).shape == (0,)


def test_split_family_errors() -> None:
    x = np.ones((4, 6))
    with pytest.raises(ShapeError, match="does not divide into 4 equal parts"):
        vjp(lambda x: fnp.split(x, 4, axis=1), x)
    with pytest.raises(ShapeError, match="dsplit only works on arrays of 3"):
        vjp(lambda x: fnp.dsplit(x, 2), x)
    with pytest.raises(ValueError, match="must be positive"):
        vjp(lambda x: fnp.array_split(x, 0), x)
    assert [p.shape for p in jit(lambda x: fnp.array_split(x, 5, axis=0))(x)] == \
        [p.shape for p in np.array_split(x, 5, axis=0)]


# ---------------------------------------------------------------------------- numpy dispatch


@pytest.mark.parametrize("name,call", [
    ("take", lambda t: np.take(t, [2, 0, 2], axis=1, mode="clip")),
    ("repeat", lambda t: np.repeat(t, [1, 0, 2], axis=1)),
    ("diagonal", lambda t: np.diagonal(t, 1)),
    ("trace", lambda t: np.trace(t, -1)),
    ("take_along_axis", lambda t: np.take_along_axis(t, np.array([[2], [0]]), 1)),
    ("tril", lambda t: np.tril(t, -1)),
    ("split", lambda t: np.split(t, [1], axis=1)[1]),
    ("flip", lambda t: np.flip(t)),
    ("roll", lambda t: np.roll(t, 2)),
    ("pad", lambda t: np.pad(t, 2, mode="reflect")),
    ("tile", lambda t: np.tile(t, (2, 1))),
    ("method_take", lambda t: t.take(np.array([1, 1]))),
    ("method_diagonal", lambda t: t.diagonal(0, 1, 0)),
])
def test_numpy_functions_on_tracers_run_funcgrad(name: str, call: Callable[[Any], Any]) -> None:
    x = np.arange(6.0).reshape(2, 3) + 1.0
    expected = call(x)
    out, pullback = vjp(call, x)
    np.testing.assert_array_equal(out, expected)
    assert pullback(np.ones(expected.shape))[0].shape == x.shape
    np.testing.assert_array_equal(jit(call)(x), expected)
