"""Tests for funcgrad.nn.conv2d: loop reference, every transformation, dtypes, errors."""

from __future__ import annotations

import re
from typing import Any, Union

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
Padding = Union[str, int, tuple[int, int]]

# ---------------------------------------------------------------------------------------
# A direct loop reference, written independently of the library.


def pad_widths(padding: Padding, kh: int, kw: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(top, bottom), (left, right); SAME puts the odd extra row/column after the image."""
    if padding == "VALID":
        return (0, 0), (0, 0)
    if padding == "SAME":
        th, tw = kh - 1, kw - 1
        return (th // 2, th - th // 2), (tw // 2, tw - tw // 2)
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    assert isinstance(padding, tuple)
    return (padding[0], padding[0]), (padding[1], padding[1])


def ref_conv(x: Any, k: Any, padding: Padding = "VALID") -> F64:
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    (pt, pb), (pl, pr) = pad_widths(padding, k.shape[2], k.shape[3])
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, w = xp.shape
    o, c2, kh, kw = k.shape
    assert c == c2
    y = np.zeros((n, o, h - kh + 1, w - kw + 1))
    for b in range(n):
        for oc in range(o):
            for i in range(h - kh + 1):
                for j in range(w - kw + 1):
                    total = 0.0
                    for ic in range(c):
                        for p in range(kh):
                            for q in range(kw):
                                total += xp[b, ic, i + p, j + q] * k[oc, ic, p, q]
                    y[b, oc, i, j] = total
    return y


def ref_conv_vjp(x: Any, k: Any, ct: Any, padding: Padding = "VALID") -> tuple[F64, F64]:
    """(dx, dk) for the output cotangent ct, by scattering each output's contribution."""
    x, k, ct = (np.asarray(a, np.float64) for a in (x, k, ct))
    (pt, pb), (pl, pr) = pad_widths(padding, k.shape[2], k.shape[3])
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    _, _, kh, kw = k.shape
    dxp = np.zeros_like(xp)
    dk = np.zeros_like(k)
    n, o, ho, wo = ct.shape
    for b in range(n):
        for oc in range(o):
            for i in range(ho):
                for j in range(wo):
                    dxp[b, :, i:i + kh, j:j + kw] += ct[b, oc, i, j] * k[oc]
                    dk[oc] += ct[b, oc, i, j] * xp[b, :, i:i + kh, j:j + kw]
    h, w = xp.shape[2:]
    return dxp[:, :, pt:h - pb, pl:w - pr], dk


def test_reference_is_right_on_a_hand_example() -> None:
    # the references themselves checked once by hand: a 3x3 image, a 2x2 kernel
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    k = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    # top-left window [[0,1],[3,4]] . [[1,2],[3,4]] = 0 + 2 + 9 + 16 = 27
    np.testing.assert_array_equal(ref_conv(x, k), [[[[27.0, 37.0], [57.0, 67.0]]]])
    # SAME with an even kernel pads one zero row below and one zero column to the right
    np.testing.assert_array_equal(ref_conv(x, k, "SAME")[0, 0],
                                  [[27.0, 37.0, 17.0], [57.0, 67.0, 29.0], [20.0, 23.0, 8.0]])
    dx, dk = ref_conv_vjp(x, k, np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(dx[0, 0], [[1, 3, 2], [4, 10, 6], [3, 7, 4]])
    np.testing.assert_array_equal(dk[0, 0], [[8, 12], [20, 24]])


# ---------------------------------------------------------------------------------------
# Shapes: (batch, in_channels, H, W, out_channels, kh, kw)

SHAPES = [
    pytest.param((1, 1, 5, 5, 1, 1, 1), id="1x1-kernel-single"),
    pytest.param((2, 3, 4, 6, 5, 1, 1), id="1x1-kernel-multichannel"),
    pytest.param((2, 2, 6, 5, 3, 3, 3), id="3x3-batch2"),
    pytest.param((1, 3, 4, 4, 2, 4, 4), id="kernel-equals-image"),
    pytest.param((3, 2, 5, 6, 2, 2, 2), id="even-2x2"),
    pytest.param((2, 1, 6, 7, 2, 2, 4), id="even-2x4"),
    pytest.param((1, 2, 3, 5, 3, 3, 2), id="rect-3x2"),
]
PADDINGS: list[Padding] = ["VALID", "SAME", 0, 1, 2, (1, 0), (0, 2)]


def make_inputs(shape: tuple[int, ...], seed: int = 0,
                dtype: Any = np.float64) -> tuple[NDArray[Any], NDArray[Any]]:
    n, c, h, w, o, kh, kw = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    k = rng.standard_normal((o, c, kh, kw)).astype(dtype)
    return x, k


def expected_hw(shape: tuple[int, ...], padding: Padding) -> tuple[int, int]:
    _, _, h, w, _, kh, kw = shape
    (pt, pb), (pl, pr) = pad_widths(padding, kh, kw)
    return h + pt + pb - kh + 1, w + pl + pr - kw + 1


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_equals_loop_reference(shape: tuple[int, ...], padding: Padding) -> None:
    x, k = make_inputs(shape)
    y = np.asarray(nn.conv2d(x, k, padding=padding))
    assert y.shape == (shape[0], shape[4], *expected_hw(shape, padding))
    if padding == "SAME":
        assert y.shape[2:] == x.shape[2:]
    np.testing.assert_allclose(y, ref_conv(x, k, padding), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("shape", SHAPES)
def test_vjp_equals_loop_reference(shape: tuple[int, ...], padding: Padding) -> None:
    x, k = make_inputs(shape, seed=1)
    y, pullback = fg.vjp(lambda a, b: nn.conv2d(a, b, padding=padding), x, k)
    ct = np.random.default_rng(2).standard_normal(np.shape(y))
    dx, dk = pullback(ct)
    rdx, rdk = ref_conv_vjp(x, k, ct, padding)
    assert np.shape(dx) == x.shape and np.shape(dk) == k.shape
    np.testing.assert_allclose(dx, rdx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dk, rdk, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", ["VALID", "SAME", 1])
@pytest.mark.parametrize("shape", SHAPES)
def test_grad_of_scalar_loss_equals_reference(shape: tuple[int, ...], padding: Padding) -> None:
    x, k = make_inputs(shape, seed=3)

    def loss(a: Any, b: Any) -> Any:
        return 0.5 * fnp.sum(nn.conv2d(a, b, padding=padding) ** 2)

    gx, gk = fg.grad(loss, argnums=(0, 1))(x, k)
    # d/dy of 0.5 * sum(y^2) is y itself
    rdx, rdk = ref_conv_vjp(x, k, ref_conv(x, k, padding), padding)
    np.testing.assert_allclose(gx, rdx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gk, rdk, rtol=1e-10, atol=1e-10)
    value, (gx2, gk2) = fg.value_and_grad(loss, argnums=(0, 1))(x, k)
    assert float(value) == pytest.approx(0.5 * float(np.sum(ref_conv(x, k, padding) ** 2)),
                                         rel=1e-12)
    np.testing.assert_array_equal(gx2, gx)
    np.testing.assert_array_equal(gk2, gk)


@pytest.mark.parametrize("padding", ["VALID", "SAME", 1, (0, 2)])
@pytest.mark.parametrize("shape", SHAPES)
def test_check_grads_order_2(shape: tuple[int, ...], padding: Padding) -> None:
    x, k = make_inputs(shape, seed=4)
    # the bilinear conv itself, and a nonlinear function of it (non-zero Hessian blocks)
    check_grads(lambda a, b: nn.conv2d(a, b, padding=padding), (x, k), order=2)
    check_grads(lambda a, b: fnp.tanh(nn.conv2d(a, b, padding=padding)), (x, k), order=2,
                rng=np.random.default_rng(5))


def test_check_grads_catches_a_wrong_gradient() -> None:
    # guard for the tests above: a conv whose kernel gradient is wrong must fail the check
    x, k = make_inputs((1, 1, 4, 4, 1, 2, 2), seed=6)

    def wrong(a: Any, b: Any) -> Any:
        return nn.conv2d(a, fg.stop_gradient(b) + 0.5 * (b - fg.stop_gradient(b)))

    with pytest.raises(AssertionError, match="[JV]VP check failed"):
        check_grads(wrong, (x, k), order=1)


def test_second_order_grad_of_grad_norm() -> None:
    # d/dk of ||d loss/dx||^2 for loss = sum(w * conv(x, k)): dloss/dx = input_grad(w, k),
    # which is linear in k, so the gradient of its squared norm is 2 * kernel_grad(dx, w)
    x, k = make_inputs((2, 2, 5, 5, 3, 3, 3), seed=7)
    wgt = np.random.default_rng(8).standard_normal((2, 3, 3, 3))

    def gx_norm(b: Any) -> Any:
        gx = fg.grad(lambda a: fnp.sum(wgt * nn.conv2d(a, b)))(x)
        return fnp.sum(gx * gx)

    gx_ref, _ = ref_conv_vjp(x, k, wgt)
    assert float(gx_norm(k)) == pytest.approx(float(np.sum(gx_ref ** 2)), rel=1e-12)
    # reference: the derivative of sum(dx^2) in k is sum over windows of 2 dx-window * w
    _, expected = ref_conv_vjp(2 * gx_ref, k, wgt)
    np.testing.assert_allclose(fg.grad(gx_norm)(k), expected, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------
# make_graph


def test_make_graph_of_grad_shows_the_two_gradient_primitives() -> None:
    x, k = make_inputs((2, 3, 6, 6, 4, 3, 3), seed=9)

    def loss(a: Any, b: Any) -> Any:
        return fnp.sum(fnp.tanh(nn.conv2d(a, b)))

    graph = fg.make_graph(fg.grad(loss, argnums=(0, 1)))(x, k)
    text = str(graph)
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "graph(a:f64[2,3,6,6], b:f64[4,3,3,3]) {"
    assert any(re.fullmatch(r"\w+:f64\[2,4,4,4\] = conv2d\[stride=\(1, 1\), dilation=\(1, 1\), "
                            r"groups=1\] a b", ln) for ln in lines), text
    assert any(re.fullmatch(r"\w+:f64\[2,3,6,6\] = conv2d_input_grad\[image_hw=\(6, 6\), stride=\(1, 1\), "
                            r"dilation=\(1, 1\), groups=1\] \w+ b",
                            ln) for ln in lines), text
    assert any(re.fullmatch(r"\w+:f64\[4,3,3,3\] = conv2d_kernel_grad\[kernel_hw=\(3, 3\), stride=\(1, 1\), "
                            r"dilation=\(1, 1\), groups=1\] a \w+",
                            ln) for ln in lines), text
    names = [e.prim.name for e in graph.eqns]
    assert names.count("conv2d") == 1
    assert names.count("conv2d_input_grad") == 1 and names.count("conv2d_kernel_grad") == 1
    # the graph is callable on new inputs and agrees with grad there
    x2, k2 = make_inputs((2, 3, 6, 6, 4, 3, 3), seed=10)
    gx, gk = graph(x2, k2)
    ex, ek = fg.grad(loss, argnums=(0, 1))(x2, k2)
    np.testing.assert_allclose(gx, ex, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gk, ek, rtol=1e-12, atol=1e-12)


def test_make_graph_with_same_padding_pads_then_crops_gradient() -> None:
    x, k = make_inputs((1, 2, 5, 5, 2, 3, 3), seed=11)
    text = str(fg.make_graph(fg.grad(lambda a, b: fnp.sum(nn.conv2d(a, b, padding="SAME"))))(x, k))
    assert "pad[widths=((0, 0), (0, 0), (1, 1), (1, 1))] a" in text
    assert "conv2d_input_grad[image_hw=(7, 7), stride=(1, 1)" in text
    assert re.search(r"f64\[1,2,5,5\] = gather", text), text


def test_make_graph_of_second_order_uses_conv_primitives_as_each_others_vjps() -> None:
    x, k = make_inputs((1, 2, 5, 5, 2, 3, 3), seed=12)

    def gnorm(a: Any, b: Any) -> Any:
        gx = fg.grad(lambda u: fnp.sum(fnp.sin(nn.conv2d(u, b))))(a)
        return fnp.sum(gx * gx)

    graph = fg.make_graph(fg.grad(gnorm, argnums=(0, 1)))(x, k)
    names = {e.prim.name for e in graph.eqns}
    assert {"conv2d", "conv2d_input_grad", "conv2d_kernel_grad"} <= names
    got = graph(x, k)
    want = fg.grad(gnorm, argnums=(0, 1))(x, k)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    check_grads(gnorm, (x, k), order=1)


# ---------------------------------------------------------------------------------------
# Third order along a line, against finite differences


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_third_derivative_along_a_line(padding: Padding) -> None:
    rng = np.random.default_rng(13)
    x, k = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    u, v = rng.standard_normal(x.shape), rng.standard_normal(k.shape)

    def f(t: Any) -> Any:
        y = nn.conv2d(x + t * u, k + t * v, padding=padding)
        return fnp.sum(fnp.tanh(0.2 * y))

    d1 = fg.grad(f)
    d2 = fg.grad(d1)
    d3 = fg.grad(d2)
    t0 = 0.3

    def fv(t: float) -> float:
        return float(f(t))

    def fd3(h: float) -> float:  # central differences, error O(h^2)
        return (fv(t0 + 2 * h) - 2 * fv(t0 + h) + 2 * fv(t0 - h) - fv(t0 - 2 * h)) / (2 * h ** 3)

    # Richardson extrapolation cancels the h^2 term: error O(h^4)
    h = 4e-3
    fd = (4 * fd3(h / 2) - fd3(h)) / 3
    got = float(d3(t0))
    assert abs(got) > 1.0  # a real, non-trivial third derivative
    assert got == pytest.approx(fd, rel=1e-5)
    assert got == pytest.approx(fd3(h / 2), rel=2e-3)
    # and consistent with central differences of the second derivative
    e = 2e-5
    assert got == pytest.approx((float(d2(t0 + e)) - float(d2(t0 - e))) / (2 * e), rel=1e-6)
    # lower orders also agree with finite differences
    assert float(d1(t0)) == pytest.approx((fv(t0 + 1e-5) - fv(t0 - 1e-5)) / 2e-5, rel=1e-7)


def test_third_derivative_of_a_polynomial_in_t_is_exact() -> None:
    # sum(conv(x + t u, k + t v)^2) is a quartic in t: f(t) = sum (A + B t + C t^2)^2 with
    # A = conv(x, k), B = conv(u, k) + conv(x, v), C = conv(u, v); so
    # f'''(t) = 12 sum(B C) + 24 t sum(C^2)
    rng = np.random.default_rng(14)
    x, k = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 2, 2))
    u, v = rng.standard_normal(x.shape), rng.standard_normal(k.shape)

    def f(t: Any) -> Any:
        return fnp.sum(nn.conv2d(x + t * u, k + t * v) ** 2)

    b = ref_conv(u, k) + ref_conv(x, v)
    c = ref_conv(u, v)
    d3 = fg.grad(fg.grad(fg.grad(f)))
    for t in (0.0, 0.7, -1.3):
        expected = 12 * float(np.sum(b * c)) + 24 * t * float(np.sum(c * c))
        assert float(d3(t)) == pytest.approx(expected, rel=1e-10)


# ---------------------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("padding", ["VALID", "SAME", 1])
def test_float32_stays_float32_end_to_end(padding: Padding) -> None:
    x, k = make_inputs((2, 3, 6, 6, 4, 3, 3), seed=15, dtype=np.float32)
    y = nn.conv2d(x, k, padding=padding)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref_conv(x, k, padding), rtol=1e-5, atol=1e-5)

    def loss(a: Any, b: Any) -> Any:
        return fnp.sum(fnp.tanh(nn.conv2d(a, b, padding=padding)) * 2.0)

    value, (gx, gk) = fg.value_and_grad(loss, argnums=(0, 1))(x, k)
    assert np.asarray(value).dtype == np.float32
    assert gx.dtype == np.float32 and gk.dtype == np.float32
    out, pullback = fg.vjp(lambda a, b: nn.conv2d(a, b, padding=padding), x, k)
    dx, dk = pullback(np.ones(np.shape(out), np.float32))
    assert out.dtype == dx.dtype == dk.dtype == np.float32

    def gnorm(b: Any) -> Any:
        g = fg.grad(loss)(x, b)
        return fnp.sum(g * g)

    g2 = fg.grad(gnorm)(k)
    assert g2.dtype == np.float32
    text = str(fg.make_graph(fg.grad(loss, argnums=(0, 1)))(x, k))
    assert "f64" not in text and "f32" in text
    # float32 results agree with a float64 computation of the same thing
    gx64, gk64 = fg.grad(loss, argnums=(0, 1))(x.astype(np.float64), k.astype(np.float64))
    np.testing.assert_allclose(gx, gx64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gk, gk64, rtol=1e-4, atol=1e-4)


def test_float32_check_grads_with_default_float32_tolerances() -> None:
    x, k = make_inputs((2, 2, 5, 5, 2, 3, 3), seed=16, dtype=np.float32)
    check_grads(lambda a, b: nn.conv2d(a, b, padding="SAME"), (x, k), order=2)


# ---------------------------------------------------------------------------------------
# Errors


def test_error_image_of_wrong_rank() -> None:
    with pytest.raises(ShapeError, match=re.escape(
            "conv2d: x must be 4-D (batch, channels, height, width), got shape (3, 5, 5)")):
        nn.conv2d(np.ones((3, 5, 5)), np.ones((2, 3, 3, 3)))
    # also when padding is asked for, and under grad
    with pytest.raises(ShapeError, match=re.escape("got shape (3, 5, 5)")):
        nn.conv2d(np.ones((3, 5, 5)), np.ones((2, 3, 3, 3)), padding="SAME")
    with pytest.raises(ShapeError, match=re.escape("x must be 4-D")):
        fg.grad(lambda a: fnp.sum(nn.conv2d(a, np.ones((2, 3, 3, 3)))))(np.ones((5, 5)))


def test_error_kernel_of_wrong_rank() -> None:
    with pytest.raises(ShapeError, match=re.escape(
            "conv2d: k must be 4-D (out_channels, channels, kernel_height, kernel_width), "
            "got shape (3, 3, 3)")):
        nn.conv2d(np.ones((1, 3, 5, 5)), np.ones((3, 3, 3)))


def test_error_channel_mismatch_names_both_shapes() -> None:
    msg = "conv2d: x has 3 channels but k expects 2: x (2, 3, 5, 5), k (4, 2, 3, 3)"
    with pytest.raises(ShapeError, match=re.escape(msg)):
        nn.conv2d(np.ones((2, 3, 5, 5)), np.ones((4, 2, 3, 3)))
    with pytest.raises(ShapeError, match=re.escape(msg)):
        fg.grad(lambda b: fnp.sum(nn.conv2d(np.ones((2, 3, 5, 5)), b)))(np.ones((4, 2, 3, 3)))
    with pytest.raises(ShapeError, match=re.escape(msg)):
        fg.make_graph(nn.conv2d)(np.ones((2, 3, 5, 5)), np.ones((4, 2, 3, 3)))


def test_error_kernel_larger_than_image_names_both_shapes() -> None:
    x, k = np.ones((2, 3, 5, 4)), np.ones((4, 3, 3, 5))
    with pytest.raises(ShapeError) as info:
        nn.conv2d(x, k)
    message = str(info.value)
    assert "larger than the image" in message
    assert "(2, 3, 5, 4)" in message and "(4, 3, 3, 5)" in message
    assert "(3x5)" in message and "(5x4)" in message
    # the error points at the caller's line
    assert "test_nn_conv.py" in message
    with pytest.raises(ShapeError, match=re.escape("x (1, 1, 2, 2), k (1, 1, 3, 3)")):
        fg.grad(lambda a: fnp.sum(nn.conv2d(a, np.ones((1, 1, 3, 3)))))(np.ones((1, 1, 2, 2)))
    # with SAME padding the same kernel fits: the padded image is as large as the kernel
    assert nn.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), padding="SAME").shape == (1, 1, 2, 2)


def test_error_bad_padding() -> None:
    x, k = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))
    with pytest.raises(ValueError, match=re.escape(
            "conv2d: padding must be 'VALID', 'SAME', an int, a pair of ints or ((top, bottom), "
            "(left, right)), got 'FULL'")):
        nn.conv2d(x, k, padding="FULL")
    with pytest.raises(ValueError, match=re.escape("padding must not be negative, got -1")):
        nn.conv2d(x, k, padding=-1)


def test_lowercase_padding_is_accepted() -> None:
    x, k = make_inputs((1, 2, 5, 5, 2, 3, 3), seed=17)
    np.testing.assert_array_equal(nn.conv2d(x, k, padding="same"), nn.conv2d(x, k, padding="SAME"))
    np.testing.assert_array_equal(nn.conv2d(x, k, padding="valid"), nn.conv2d(x, k))


# ---------------------------------------------------------------------------------------
# The exercise's names


@pytest.mark.parametrize("shape", SHAPES)
def test_h_conv2d_and_h_conv2d_grad_agree_with_conv2d(shape: tuple[int, ...]) -> None:
    x, k = make_inputs(shape, seed=18)
    y = nn.h_conv2d(x, k)
    np.testing.assert_allclose(y, nn.conv2d(x, k), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(y, ref_conv(x, k), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(19).standard_normal(y.shape)
    hdx, hdk = nn.h_conv2d_grad(x, k, g)
    _, pullback = fg.vjp(nn.conv2d, x, k)
    dx, dk = pullback(g)
    np.testing.assert_allclose(hdx, dx, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(hdk, dk, rtol=1e-13, atol=1e-13)
    # with g = dL/dy for L = sum(conv * w) it is exactly grad of L
    gx, gk = fg.grad(lambda a, b: fnp.sum(nn.conv2d(a, b) * g), argnums=(0, 1))(x, k)
    np.testing.assert_allclose(hdx, gx, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(hdk, gk, rtol=1e-13, atol=1e-13)


def test_h_conv2d_float32_and_grad_shape_error() -> None:
    x, k = make_inputs((2, 2, 5, 5, 3, 3, 3), seed=20, dtype=np.float32)
    y = nn.h_conv2d(x, k)
    assert y.dtype == np.float32
    dx, dk = nn.h_conv2d_grad(x, k, np.ones_like(y))
    assert dx.dtype == np.float32 and dk.dtype == np.float32
    with pytest.raises(ValueError, match=re.escape("got shape (2, 3, 2, 2)")):
        nn.h_conv2d_grad(x, k, np.ones((2, 3, 2, 2), np.float32))


# ---------------------------------------------------------------------------------------
# Random shapes and paddings


@st.composite
def conv_cases(draw: st.DrawFn) -> tuple[tuple[int, ...], Padding, int]:
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, h)), draw(st.integers(1, w))
    padding: Padding = draw(st.one_of(st.sampled_from(["VALID", "SAME"]), st.integers(0, 2),
                                      st.tuples(st.integers(0, 2), st.integers(0, 2))))
    return (n, c, h, w, o, kh, kw), padding, draw(st.integers(0, 2 ** 16))


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(case=conv_cases())
def test_random_shapes_forward_and_vjp_equal_reference(
        case: tuple[tuple[int, ...], Padding, int]) -> None:
    shape, padding, seed = case
    x, k = make_inputs(shape, seed=seed)
    y, pullback = fg.vjp(lambda a, b: nn.conv2d(a, b, padding=padding), x, k)
    assert np.shape(y) == (shape[0], shape[4], *expected_hw(shape, padding))
    np.testing.assert_allclose(y, ref_conv(x, k, padding), rtol=1e-12, atol=1e-12)
    ct = np.random.default_rng(seed + 1).standard_normal(np.shape(y))
    dx, dk = pullback(ct)
    rdx, rdk = ref_conv_vjp(x, k, ct, padding)
    np.testing.assert_allclose(dx, rdx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dk, rdk, rtol=1e-12, atol=1e-12)
