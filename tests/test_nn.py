"""Tests for funcgrad.nn pooling (max_pool2d, avg_pool2d) and the package's names."""

from __future__ import annotations

import re
from typing import Any, Optional, Union

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn
from funcgrad.core import ShapeError
from funcgrad.testing import check_grads

F64 = NDArray[np.float64]
Win = Union[int, tuple[int, int]]


def as_pair(v: Win) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


def windows(shape: tuple[int, ...], window: Win, stride: Optional[Win]
            ) -> list[tuple[int, int, slice, slice]]:
    """(out_row, out_col, rows, cols) of every VALID window, written out by hand."""
    wh, ww = as_pair(window)
    sh, sw = as_pair(window if stride is None else stride)
    h, w = shape[2], shape[3]
    out = []
    for i, top in enumerate(range(0, h - wh + 1, sh)):
        for j, left in enumerate(range(0, w - ww + 1, sw)):
            out.append((i, j, slice(top, top + wh), slice(left, left + ww)))
    return out


def out_hw(shape: tuple[int, ...], window: Win, stride: Optional[Win]) -> tuple[int, int]:
    wins = windows(shape, window, stride)
    return max(i for i, *_ in wins) + 1, max(j for _, j, *_ in wins) + 1


def ref_pool(x: Any, window: Win, stride: Optional[Win], kind: str) -> F64:
    x = np.asarray(x, np.float64)
    n, c = x.shape[:2]
    y = np.zeros((n, c, *out_hw(x.shape, window, stride)))
    for b in range(n):
        for ch in range(c):
            for i, j, rows, cols in windows(x.shape, window, stride):
                patch = x[b, ch, rows, cols]
                y[b, ch, i, j] = patch.max() if kind == "max" else patch.mean()
    return y


def ref_pool_vjp(x: Any, ct: Any, window: Win, stride: Optional[Win], kind: str) -> F64:
    """Max: all of ct to the first maximal element in row-major window order; avg: spread."""
    x = np.asarray(x, np.float64)
    dx: F64 = np.zeros_like(x)
    n, c = x.shape[:2]
    for b in range(n):
        for ch in range(c):
            for i, j, rows, cols in windows(x.shape, window, stride):
                patch = x[b, ch, rows, cols]
                g = ct[b, ch, i, j]
                if kind == "avg":
                    dx[b, ch, rows, cols] += g / patch.size
                    continue
                best = None
                for p in range(patch.shape[0]):
                    for q in range(patch.shape[1]):
                        if best is None or patch[p, q] > patch[best]:
                            best = (p, q)
                assert best is not None
                dx[b, ch, rows.start + best[0], cols.start + best[1]] += g
    return dx


def distinct(shape: tuple[int, ...], seed: int, dtype: Any = np.float64) -> NDArray[Any]:
    """Random values, all different, at least 4 / size apart (no ties, FD-safe)."""
    size = int(np.prod(shape))
    rng = np.random.default_rng(seed)
    return (rng.permutation(size).reshape(shape) * (4.0 / size) - 2.0).astype(dtype)


POOLS = {"max": nn.max_pool2d, "avg": nn.avg_pool2d}

# (shape, window, stride, overlapping)
CONFIGS = [
    pytest.param((2, 3, 4, 4), 2, None, False, id="2x2-fast-path"),
    pytest.param((1, 2, 7, 7), 2, None, False, id="7x7-odd-2x2"),
    pytest.param((2, 1, 7, 9), 3, 2, True, id="3x3-stride2"),
    pytest.param((1, 2, 5, 6), 2, 1, True, id="2x2-stride1"),
    pytest.param((2, 2, 6, 6), 3, None, False, id="3x3-nonoverlapping"),
    pytest.param((1, 1, 5, 7), (2, 3), (1, 2), True, id="rect-2x3-stride1x2"),
    pytest.param((1, 2, 4, 4), 4, None, False, id="window-equals-image"),
    pytest.param((1, 1, 6, 5), (3, 1), (3, 1), False, id="3x1-columns"),
    pytest.param((2, 1, 5, 5), 1, None, False, id="1x1-identity"),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("shape", "window", "stride", "overlapping"), CONFIGS)
def test_forward_equals_loop_reference(kind: str, shape: tuple[int, ...], window: Win,
                                       stride: Optional[Win], overlapping: bool) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    y = np.asarray(POOLS[kind](x, window, stride))
    assert y.shape == (shape[0], shape[1], *out_hw(shape, window, stride))
    np.testing.assert_allclose(y, ref_pool(x, window, stride, kind), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("shape", "window", "stride", "overlapping"), CONFIGS)
def test_vjp_equals_loop_reference(kind: str, shape: tuple[int, ...], window: Win,
                                   stride: Optional[Win], overlapping: bool) -> None:
    x = distinct(shape, seed=1)
    y, pullback = fg.vjp(lambda a: POOLS[kind](a, window, stride), x)
    ct = np.random.default_rng(2).standard_normal(np.shape(y))
    (dx,) = pullback(ct)
    np.testing.assert_allclose(dx, ref_pool_vjp(x, ct, window, stride, kind),
                               rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(("shape", "window", "stride", "overlapping"), CONFIGS)
def test_check_grads_avg_pool_order_2(shape: tuple[int, ...], window: Win,
                                      stride: Optional[Win], overlapping: bool) -> None:
    x = np.random.default_rng(3).standard_normal(shape)
    check_grads(lambda a: nn.avg_pool2d(a, window, stride), (x,), order=2)
    # a nonlinear function of the pooled values, so the second order is not trivially zero
    check_grads(lambda a: fnp.sin(nn.avg_pool2d(a * a, window, stride)), (x,), order=2)


@pytest.mark.parametrize(("shape", "window", "stride", "overlapping"), CONFIGS)
def test_check_grads_max_pool(shape: tuple[int, ...], window: Win, stride: Optional[Win],
                              overlapping: bool) -> None:
    x = distinct(shape, seed=4)
    check_grads(lambda a: nn.max_pool2d(a, window, stride), (x,), order=1)
    # cubing after the pool makes the second derivative go through max_pool2d_grad's VJP
    order = 1 if overlapping else 2
    check_grads(lambda a: nn.max_pool2d(a, window, stride) ** 3, (x,), order=order)
    check_grads(lambda a: nn.max_pool2d(fnp.sin(a), window, stride) ** 2, (x,), order=order)


@pytest.mark.parametrize(("shape", "window", "stride", "overlapping"),
                         [c for c in CONFIGS if c.values[3]])
def test_check_grads_max_pool_order_2_overlapping(shape: tuple[int, ...], window: Win,
                                                  stride: Optional[Win],
                                                  overlapping: bool) -> None:
    x = distinct(shape, seed=5)
    check_grads(lambda a: nn.max_pool2d(a, window, stride) ** 3, (x,), order=2)


def test_max_pool_second_derivative_by_hand() -> None:
    # f(x) = sum(max_pool(x)^2): grad = 2 * max at the argmax; the Hessian is 2 on the
    # argmax diagonal, so grad(grad(f) . v) = 2 * v at the argmaxes and 0 elsewhere
    x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 7.0]]]])
    v = np.arange(8.0).reshape(x.shape) + 1.0

    def f(a: Any) -> Any:
        return fnp.sum(nn.max_pool2d(a) ** 2)

    np.testing.assert_array_equal(fg.grad(f)(x), [[[[0, 10, 0, 0], [0, 0, 16, 0]]]])
    hv = fg.grad(lambda a: fnp.sum(fg.grad(f)(a) * v))(x)
    np.testing.assert_array_equal(hv, [[[[0, 4, 0, 0], [0, 0, 14, 0]]]])


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(data=st.data(), kind=st.sampled_from(["max", "avg"]),
       ties=st.booleans())
def test_random_windows_and_strides_equal_reference(data: st.DataObject, kind: str,
                                                    ties: bool) -> None:
    h, w = data.draw(st.integers(1, 7)), data.draw(st.integers(1, 7))
    window = (data.draw(st.integers(1, h)), data.draw(st.integers(1, w)))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    shape = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), h, w)
    seed = data.draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    # with ties: few distinct values, so many windows hold several maxima
    x = rng.integers(0, 3, shape).astype(np.float64) if ties else distinct(shape, seed)
    y, pullback = fg.vjp(lambda a: POOLS[kind](a, window, stride), x)
    np.testing.assert_allclose(y, ref_pool(x, window, stride, kind), rtol=1e-14, atol=1e-15)
    ct = rng.standard_normal(np.shape(y))
    np.testing.assert_allclose(pullback(ct)[0], ref_pool_vjp(x, ct, window, stride, kind),
                               rtol=1e-13, atol=1e-14)


# ---------------------------------------------------------------------------------------
# The tie policy of max_pool2d: the FIRST maximal element in row-major window order


def max_grad(x: Any, window: Win = 2, stride: Optional[Win] = None) -> Any:
    return fg.grad(lambda a: fnp.sum(nn.max_pool2d(a, window, stride)))(x)


def test_tie_goes_to_first_maximal_element_2x2() -> None:
    x = np.array([[[[1.0, 3.0], [3.0, 2.0]]]])
    np.testing.assert_array_equal(nn.max_pool2d(x), [[[[3.0]]]])
    np.testing.assert_array_equal(max_grad(x), [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_tie_policy_fast_path_every_pattern() -> None:
    # one 2x2 window per tie pattern, side by side: (a b / c d)
    x = np.array([[[
        # all equal | b == c   | c == d   | a == d    | b == d    | a == c
        [5, 5, 1, 5, 1, 2, 7, 1, 0, 4, 6, 0],
        [5, 5, 5, 2, 3, 3, 2, 7, 1, 4, 6, 2],
    ]]], dtype=np.float64)
    expected = np.array([[[
        [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0],
        [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
    ]]], dtype=np.float64)
    np.testing.assert_array_equal(nn.max_pool2d(x), [[[[5, 5, 3, 7, 4, 6]]]])
    np.testing.assert_array_equal(max_grad(x), expected)
    # the generic path (each window pooled on its own) agrees with the fast path
    for start in range(0, 12, 2):
        np.testing.assert_array_equal(max_grad(x[:, :, :, start:start + 2], (2, 2), (1, 1)),
                                      expected[:, :, :, start:start + 2])


def test_tie_policy_generic_path_3x3() -> None:
    x = np.array([[[
        [0, 9, 0, 1, 1, 1],
        [9, 0, 9, 1, 1, 1],
        [0, 9, 0, 1, 1, 1],
        [2, 2, 2, 0, 0, 0],
        [2, 2, 3, 0, 0, 3],
        [3, 2, 2, 0, 3, 0],
    ]]], dtype=np.float64)
    expected = np.zeros_like(x)
    expected[0, 0, 0, 1] = 1  # first 9 in row-major order
    expected[0, 0, 0, 3] = 1  # all ones: the top-left corner
    expected[0, 0, 4, 2] = 1  # 3 at (4, 2) comes before 3 at (5, 0)
    expected[0, 0, 4, 5] = 1  # 3 at (4, 5) comes before 3 at (5, 4)
    np.testing.assert_array_equal(nn.max_pool2d(x, 3), [[[[9, 1], [3, 3]]]])
    np.testing.assert_array_equal(max_grad(x, 3), expected)


def test_tie_policy_overlapping_windows_on_a_constant_image() -> None:
    # every window of a constant image picks its top-left element; overlapping windows
    # pick different elements, so each top-left gets exactly one unit
    x = np.ones((1, 1, 4, 4))
    np.testing.assert_array_equal(max_grad(x, 2, 1)[0, 0], [[1, 1, 1, 0], [1, 1, 1, 0],
                                                             [1, 1, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(max_grad(x, 3, 1)[0, 0], [[1, 1, 0, 0], [1, 1, 0, 0],
                                                             [0, 0, 0, 0], [0, 0, 0, 0]])
    # 3x3 stride 2 on 5x5: windows at rows/cols 0 and 2
    expected = np.zeros((5, 5))
    expected[np.ix_([0, 2], [0, 2])] = 1
    np.testing.assert_array_equal(max_grad(np.ones((1, 1, 5, 5)), 3, 2)[0, 0], expected)


def test_tie_overlapping_windows_sharing_their_maximum_add_up() -> None:
    # one maximum shared by all four 2x2 windows of a 3x3 image receives all four units
    x = np.array([[[[0.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 0.0]]]])
    np.testing.assert_array_equal(max_grad(x, 2, 1)[0, 0], [[0, 0, 0], [0, 4, 0], [0, 0, 0]])
    ct = np.array([[[[1.0, 10.0], [100.0, 1000.0]]]])
    _, pullback = fg.vjp(lambda a: nn.max_pool2d(a, 2, 1), x)
    np.testing.assert_array_equal(pullback(ct)[0][0, 0], [[0, 0, 0], [0, 1111, 0], [0, 0, 0]])


def test_tie_policy_with_integer_input() -> None:
    x = np.array([[[[2, 2], [2, 2]]]])
    y = nn.max_pool2d(x)
    assert y.dtype == np.float64 and float(y[0, 0, 0, 0]) == 2.0
    np.testing.assert_array_equal(max_grad(x.astype(np.float32))[0, 0], [[1, 0], [0, 0]])


# ---------------------------------------------------------------------------------------
# Odd sizes, dtypes, graphs, errors


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_7x7_with_2x2_pooling_drops_the_last_row_and_column(kind: str) -> None:
    x = np.random.default_rng(6).standard_normal((2, 3, 7, 7))
    y = POOLS[kind](x)
    assert y.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(y, POOLS[kind](x[:, :, :6, :6]))
    g = fg.grad(lambda a: fnp.sum(POOLS[kind](a) * np.arange(1.0, 10.0).reshape(3, 3)))(x)
    assert g.shape == x.shape
    np.testing.assert_array_equal(g[:, :, 6, :], 0.0)
    np.testing.assert_array_equal(g[:, :, :, 6], 0.0)
    # the covered 6x6 part still receives all of the gradient: sum of weights 45 per (n, c)
    np.testing.assert_allclose(g.sum(axis=(2, 3)), np.full((2, 3), 45.0), rtol=1e-14)
    # changing the dropped row/column changes nothing
    x2 = x.copy()
    x2[:, :, 6, :] = 100.0
    x2[:, :, :, 6] = 100.0
    np.testing.assert_array_equal(POOLS[kind](x2), y)


def test_avg_pool_hand_example() -> None:
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(nn.avg_pool2d(x)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(nn.max_pool2d(x)[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(nn.avg_pool2d(x, 3, 1)[0, 0], [[5, 6], [9, 10]])
    g = fg.grad(lambda a: fnp.sum(nn.avg_pool2d(a, 3, 1)))(x)[0, 0]
    np.testing.assert_allclose(g, np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2],
                                            [1, 2, 2, 1]]) / 9.0, rtol=1e-15)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("window", "stride"), [(2, None), (3, 2), (2, 1)])
def test_float32_stays_float32(kind: str, window: int, stride: Optional[int]) -> None:
    x = distinct((2, 2, 7, 7), seed=7, dtype=np.float32)
    pool = POOLS[kind]
    y = pool(x, window, stride)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref_pool(x, window, stride, kind), rtol=1e-6, atol=1e-6)

    def loss(a: Any) -> Any:
        return fnp.sum(pool(a, window, stride) ** 2)

    g = fg.grad(loss)(x)
    assert g.dtype == np.float32
    hv = fg.grad(lambda a: fnp.sum(fg.grad(loss)(a) * x))(x)
    assert hv.dtype == np.float32
    assert "f64" not in str(fg.make_graph(fg.grad(loss))(x))


# ---------------------------------------------------------------------------------------
# Padding: max pools pad with -inf, average pools with zeros counted in the window's size

# (shape, window, stride, padding, explicit (top, bottom), (left, right))
PADDED = [
    pytest.param((1, 2, 5, 5), 3, 1, 1, ((1, 1), (1, 1)), id="3x3-s1-pad1"),
    pytest.param((2, 1, 6, 7), (2, 3), (2, 1), (1, 2), ((1, 1), (2, 2)), id="2x3-pad-pair"),
    # SAME: ceil(size / stride) outputs; an odd total puts the extra row after the image
    pytest.param((1, 1, 7, 8), 3, 2, "SAME", ((1, 1), (0, 1)), id="SAME-3s2"),
    pytest.param((1, 2, 5, 5), 2, 1, "same", ((0, 1), (0, 1)), id="SAME-2s1-lowercase"),
    pytest.param((1, 1, 4, 6), 2, None, "SAME", ((0, 0), (0, 0)), id="SAME-divides"),
    pytest.param((2, 1, 5, 4), 3, 3, "SAME", ((0, 1), (1, 1)), id="SAME-3s3"),
]


def padded(x: Any, pads: tuple[tuple[int, int], tuple[int, int]], kind: str) -> Any:
    return np.pad(x, ((0, 0), (0, 0), *pads), constant_values=-np.inf if kind == "max" else 0.0)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("shape", "window", "stride", "padding", "pads"), PADDED)
def test_padding_equals_the_reference_on_the_padded_image(
        kind: str, shape: tuple[int, ...], window: Win, stride: Optional[Win], padding: Any,
        pads: Any) -> None:
    x = distinct(shape, seed=3)
    y, pullback = fg.vjp(lambda a: POOLS[kind](a, window, stride, padding), x)
    np.testing.assert_allclose(y, ref_pool(padded(x, pads, kind), window, stride, kind),
                               rtol=1e-14, atol=1e-15)
    if isinstance(padding, str) and padding.upper() == "SAME":
        sh, sw = as_pair(window if stride is None else stride)
        assert np.shape(y)[2:] == (-(-shape[2] // sh), -(-shape[3] // sw))
    assert np.shape(y)[2:] == nn.pool.pooled_hw((shape[2], shape[3]), window, stride, padding)
    ct = np.random.default_rng(4).standard_normal(np.shape(y))
    (top, bottom), (left, right) = pads
    full = ref_pool_vjp(padded(x, pads, kind), ct, window, stride, kind)
    np.testing.assert_allclose(pullback(ct)[0], full[:, :, top:top + shape[2],
                                                     left:left + shape[3]],
                               rtol=1e-14, atol=1e-15)
    check_grads(lambda a: POOLS[kind](a, window, stride, padding) ** 3, (x,), order=2)


def test_padding_by_hand() -> None:
    ones = np.ones((1, 1, 3, 3))
    # every 3x3 window around an entry of a 3x3 image: zeros counted, as PyTorch's
    # count_include_pad=True
    np.testing.assert_allclose(nn.avg_pool2d(ones, 3, 1, 1)[0, 0],
                               np.array([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) / 9.0, rtol=1e-15)
    # padding is never the maximum, even of an all-negative image
    x = -1.0 - np.arange(9.0).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(nn.max_pool2d(x, 2, 2, "SAME")[0, 0], [[-1, -3], [-7, -9]])
    g = fg.grad(lambda a: fnp.sum(nn.max_pool2d(a, 2, 2, "SAME")))(x)[0, 0]
    np.testing.assert_array_equal(g, [[1, 0, 1], [0, 0, 0], [1, 0, 1]])
    x32 = x.astype(np.float32)
    for pool in POOLS.values():
        assert pool(x32, 3, 1, "SAME").dtype == np.float32
        assert fg.grad(lambda a: fnp.sum(pool(a, 3, 1, 1)))(x32).dtype == np.float32


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_padding_errors(kind: str) -> None:
    pool = POOLS[kind]
    bads: list[Any] = [2, (0, 3), -1, "FULL", (1, 1, 1)]
    for bad in bads:
        with pytest.raises(ValueError, match=re.escape(
                "padding must be 'VALID', 'SAME', or an int or a pair of ints, each at least 0 "
                f"and smaller than the window (2, 3) (so that every window holds a part of the "
                f"image), got {bad!r}")):
            pool(np.ones((1, 1, 4, 4)), (2, 3), 1, bad)
    with pytest.raises(ShapeError, match=re.escape(
            f"{kind}_pool2d: the window (5, 5) is larger than the image (2, 2) of x (1, 1, 2, 2) "
            "padded by 1")):
        pool(np.ones((1, 1, 2, 2)), 5, 1, 1)


def test_make_graph_names_the_pooling_primitives() -> None:
    x = np.ones((1, 2, 4, 4))
    text = str(fg.make_graph(fg.grad(lambda a: fnp.sum(nn.max_pool2d(a) ** 2)))(x))
    # two outputs: the pooled values and where each window's maximum was, which the
    # backward pass reads
    found = re.search(r"\w+:f64\[1,2,2,2\], (\w+):u8\[1,2,2,2\] = "
                      r"max_pool2d\[window=\(2, 2\), stride=\(2, 2\)\] a", text)
    assert found, text
    assert re.search(r"f64\[1,2,4,4\] = max_pool2d_grad\[window=\(2, 2\), stride=\(2, 2\), "
                     rf"image_hw=\(4, 4\)\] \w+ {found.group(1)}\n", text), text
    text = str(fg.make_graph(fg.grad(lambda a: fnp.sum(nn.avg_pool2d(a, 3, 1) ** 2)))(x))
    assert "avg_pool2d[window=(3, 3), stride=(1, 1)] a" in text
    assert "avg_pool2d_grad[window=(3, 3), stride=(1, 1), image_hw=(4, 4)]" in text


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_errors(kind: str) -> None:
    pool = POOLS[kind]
    name = f"{kind}_pool2d"
    with pytest.raises(ShapeError, match=re.escape(
            f"{name}: x must be 4-D (batch, channels, height, width), got shape (4, 4)")):
        pool(np.ones((4, 4)))
    with pytest.raises(ShapeError, match=re.escape(
            f"{name}: the window (5, 5) is larger than the image (4, 4) of x (1, 1, 4, 4)")):
        pool(np.ones((1, 1, 4, 4)), 5)
    with pytest.raises(ShapeError, match=re.escape("the window (2, 3)")):
        fg.grad(lambda a: fnp.sum(pool(a, (2, 3))))(np.ones((1, 1, 4, 2)))
    with pytest.raises(ValueError, match=re.escape(
            "window must be a positive int or a pair of them, got 0")):
        pool(np.ones((1, 1, 4, 4)), 0)
    bad_stride: Any = (1, 2, 3)
    with pytest.raises(ValueError, match=re.escape(
            "stride must be a positive int or a pair of them, got (1, 2, 3)")):
        pool(np.ones((1, 1, 4, 4)), 2, bad_stride)


def test_package_exports() -> None:
    for name in nn.__all__:
        assert hasattr(nn, name), name
    assert {"conv2d", "h_conv2d", "h_conv2d_grad", "max_pool2d", "avg_pool2d", "softmax",
            "log_softmax", "logsumexp", "cross_entropy", "one_hot", "serial"} <= set(nn.__all__)
