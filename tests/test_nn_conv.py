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
from funcgrad.nn import conv
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
    assert any(re.fullmatch(r"\w+:f64\[2,3,6,6\] = conv2d_input_grad\[image_hw=\(6, 6\), "
                            r"stride=\(1, 1\), dilation=\(1, 1\), groups=1\] \w+ b",
                            ln) for ln in lines), text
    assert any(re.fullmatch(r"\w+:f64\[4,3,3,3\] = conv2d_kernel_grad\[kernel_hw=\(3, 3\), "
                            r"stride=\(1, 1\), dilation=\(1, 1\), groups=1\] a \w+",
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
    same = nn.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), padding="SAME")
    assert same.shape == (1, 1, 2, 2)


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


# ---------------------------------------------------------------------------------------
# Stride, dilation and groups; the transposed convolution


def ref_general(x: Any, k: Any, stride: tuple[int, int], pads: Any, dilation: tuple[int, int],
                groups: int) -> F64:
    """conv2d by its definition, one output element at a time."""
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    n, c, h, w = xp.shape
    o, cg, kh, kw = k.shape
    (sh, sw), (dh, dw) = stride, dilation
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, ho, wo))
    for b, oc, i, j in np.ndindex(n, o, ho, wo):
        grp = oc // (o // groups)
        window = xp[b, grp * cg:(grp + 1) * cg, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                    j * sw:j * sw + dw * (kw - 1) + 1:dw]
        y[b, oc, i, j] = np.sum(window * k[oc])
    return y


def ref_transpose(x: Any, k: Any, stride: tuple[int, int], padding: int,
                  output_padding: tuple[int, int], dilation: tuple[int, int],
                  groups: int) -> F64:
    """conv_transpose2d by PyTorch's definition: every input element scatters its kernel."""
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    n, ci, h, w = x.shape
    _, cog, kh, kw = k.shape
    (sh, sw), (dh, dw) = stride, dilation
    full = np.zeros((n, cog * groups, (h - 1) * sh + dh * (kh - 1) + 1 + output_padding[0],
                     (w - 1) * sw + dw * (kw - 1) + 1 + output_padding[1]))
    for b, c, i, j, p, q in np.ndindex(n, ci, h, w, kh, kw):
        grp = c // (ci // groups)
        out = full[b, grp * cog:(grp + 1) * cog]
        out[:, i * sh + p * dh, j * sw + q * dw] += x[b, c, i, j] * k[c, :, p, q]
    return full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]


def pairs(low: int, high: int) -> st.SearchStrategy[tuple[int, int]]:
    return st.tuples(st.integers(low, high), st.integers(low, high))


@st.composite
def general_cases(draw: st.DrawFn) -> tuple[Any, ...]:
    groups, cg, og = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    (kh, kw), stride, dilation = draw(pairs(1, 3)), draw(pairs(1, 3)), draw(pairs(1, 2))
    pads = (draw(pairs(0, 2)), draw(pairs(0, 2)))
    h = max(dilation[0] * (kh - 1) + 1 - sum(pads[0]), 1) + draw(st.integers(0, 4))
    w = max(dilation[1] * (kw - 1) + 1 - sum(pads[1]), 1) + draw(st.integers(0, 4))
    n = draw(st.integers(1, 2))
    return ((n, groups * cg, h, w), (groups * og, cg, kh, kw), stride, pads, dilation, groups,
            draw(st.integers(0, 2 ** 16)))


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(case=general_cases())
def test_random_general_convolutions_equal_the_definition(case: tuple[Any, ...]) -> None:
    x_shape, k_shape, stride, pads, dilation, groups, seed = case
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    y, pullback = fg.vjp(lambda a, b: nn.conv2d(a, b, stride, pads, dilation, groups), x, k)
    want = ref_general(x, k, stride, pads, dilation, groups)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    # the transposed convolution of the same kernel is the input gradient (for zero pads)
    ct = rng.standard_normal(want.shape)
    dx, dk = pullback(ct)
    # the VJP by the inner-product identity with random directions u, v
    u, v = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    assert float(np.vdot(dx, u)) == pytest.approx(
        float(np.vdot(ct, ref_general(u, k, stride, pads, dilation, groups))), rel=1e-10,
        abs=1e-10)
    assert float(np.vdot(dk, v)) == pytest.approx(
        float(np.vdot(ct, ref_general(x, v, stride, pads, dilation, groups))), rel=1e-10,
        abs=1e-10)


@st.composite
def transpose_cases(draw: st.DrawFn) -> tuple[Any, ...]:
    groups, cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    (kh, kw), stride, dilation = draw(pairs(1, 3)), draw(pairs(1, 3)), draw(pairs(1, 3))
    # PyTorch allows output_padding below the stride or the dilation
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    full = min((h - 1) * stride[0] + dilation[0] * (kh - 1) + 1,
               (w - 1) * stride[1] + dilation[1] * (kw - 1) + 1)
    padding = draw(st.integers(0, (full - 1) // 2))
    return ((draw(st.integers(1, 2)), groups * cg, h, w), (groups * cg, og, kh, kw), stride,
            padding, output_padding, dilation, groups, draw(st.integers(0, 2 ** 16)))


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(case=transpose_cases())
def test_random_transposed_convolutions_equal_the_scatter_definition(
        case: tuple[Any, ...]) -> None:
    x_shape, k_shape, stride, padding, output_padding, dilation, groups, seed = case
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    y = nn.conv_transpose2d(x, k, stride, padding, output_padding, dilation, groups)
    want = ref_transpose(x, k, stride, padding, output_padding, dilation, groups)
    assert y.shape == want.shape
    assert y.shape[2] == ((x_shape[2] - 1) * stride[0] - 2 * padding
                          + dilation[0] * (k_shape[2] - 1) + output_padding[0] + 1)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    assert conv.conv_transpose2d_output_shape(x_shape, k_shape, stride, padding,
                                              output_padding, dilation, groups) == y.shape


@pytest.mark.parametrize("stride,dilation,kernel", [((2, 2), (1, 1), (3, 3)),
                                                    ((3, 2), (1, 2), (2, 3)),
                                                    ((1, 1), (1, 1), (4, 3)),
                                                    ((3, 3), (1, 1), (2, 1))])
def test_transposed_same_is_the_gradient_of_a_same_conv2d(
        stride: tuple[int, int], dilation: tuple[int, int], kernel: tuple[int, int]) -> None:
    rng = np.random.default_rng(21)
    x, k = rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((4, 3, *kernel))
    y = nn.conv_transpose2d(x, k, stride, "SAME", dilation=dilation, groups=2)
    assert y.shape == (2, 6, 3 * stride[0], 4 * stride[1])
    image = np.zeros(y.shape)
    _, pullback = fg.vjp(lambda a: nn.conv2d(a, k, stride, "SAME", dilation, 2), image)
    np.testing.assert_allclose(y, pullback(x)[0], rtol=1e-12, atol=1e-12)
    # VALID is padding 0
    np.testing.assert_array_equal(nn.conv_transpose2d(x, k, stride, "VALID", 0, dilation, 2),
                                  nn.conv_transpose2d(x, k, stride, 0, 0, dilation, 2))


CONFIGS = [
    pytest.param(dict(stride=2), id="stride2"),
    pytest.param(dict(stride=(1, 2), padding="SAME", dilation=(2, 1)), id="same-dilated"),
    pytest.param(dict(groups=2, padding=((1, 0), (0, 2))), id="groups-pads"),
    pytest.param(dict(stride=2, dilation=2, groups=4, padding=1), id="depthwise-all"),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_check_grads_order_2_general(config: dict[str, Any]) -> None:
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 4, 7, 6))
    k = rng.standard_normal((4, 4 // config.get("groups", 1), 2, 3))
    check_grads(lambda a, b: fnp.tanh(nn.conv2d(a, b, **config)), (x, k), order=2, rng=rng)
    kt = rng.standard_normal((4, 2, 3, 2))
    stride = config.get("stride", 1)
    check_grads(lambda a, b: fnp.tanh(nn.conv_transpose2d(
        a, b, stride, 1, 0, config.get("dilation", 1), config.get("groups", 1))), (x, kt),
        order=2, rng=rng)


@pytest.mark.parametrize("config", CONFIGS)
def test_per_example_gradients_of_a_general_conv(config: dict[str, Any]) -> None:
    # vmap of grad goes through the per-image kernel gradient, with the conv's parameters
    rng = np.random.default_rng(23)
    xs = rng.standard_normal((3, 2, 4, 7, 6)).astype(np.float32)
    k = rng.standard_normal((4, 4 // config.get("groups", 1), 2, 3)).astype(np.float32)

    def loss(b: Any, a: Any) -> Any:
        return fnp.sum(fnp.tanh(nn.conv2d(a, b, **config)))

    per_example = fg.vmap(fg.grad(loss), in_axes=(None, 0))(k, xs)
    assert per_example.dtype == np.float32
    looped = np.stack([fg.grad(loss)(k, x) for x in xs])
    np.testing.assert_allclose(per_example, looped, rtol=1e-4, atol=1e-5)
    jitted = fg.jit(fg.vmap(fg.grad(loss), in_axes=(None, 0)))
    np.testing.assert_allclose(jitted(k, xs), looped, rtol=1e-4, atol=1e-5)
    # and the second derivative of a vmapped loss (the per-image primitive's own VJP)
    check_grads(lambda b: fnp.sum(fg.vmap(fg.grad(loss), in_axes=(None, 0))(b, xs) ** 2),
                (k.astype(np.float64),), order=1, rng=rng)


def test_make_graph_shows_the_parameters() -> None:
    x, k = make_inputs((1, 4, 7, 7, 4, 3, 3), seed=24)
    text = str(fg.make_graph(fg.grad(lambda a, b: fnp.sum(
        nn.conv2d(a, b[:, :2], stride=2, dilation=(1, 2), groups=2) ** 2), argnums=(0, 1)))(x, k))
    assert "conv2d[stride=(2, 2), dilation=(1, 2), groups=2]" in text
    assert "conv2d_input_grad[image_hw=(7, 7), stride=(2, 2), dilation=(1, 2), groups=2]" in text
    assert "conv2d_kernel_grad[kernel_hw=(3, 3), stride=(2, 2), dilation=(1, 2), groups=2]" in text


def test_same_padding_with_stride_gives_ceil_of_the_size() -> None:
    x, k = make_inputs((1, 1, 7, 8, 1, 3, 2), seed=25)
    for stride in (1, 2, 3, 4):
        y = nn.conv2d(x, k, stride, "SAME")
        assert y.shape[2:] == (-(-7 // stride), -(-8 // stride))
        assert conv.conv2d_output_shape(x.shape, k.shape, stride, "SAME") == y.shape
    # stride 2 on 7 rows with a 3-row kernel: total padding (4-1)*2 + 3 - 7 = 2, one each
    # side; on 8 columns with a 2-column kernel: (4-1)*2 + 2 - 8 = 0
    np.testing.assert_allclose(nn.conv2d(x, k, 2, "SAME"),
                               ref_general(x, k, (2, 2), ((1, 1), (0, 0)), (1, 1), 1),
                               rtol=1e-12)
    # stride 3: rows (3-1)*3 + 3 - 7 = 2 -> (1, 1); columns (3-1)*3 + 2 - 8 = 0
    np.testing.assert_allclose(nn.conv2d(x, k, 3, "SAME"),
                               ref_general(x, k, (3, 3), ((1, 1), (0, 0)), (1, 1), 1),
                               rtol=1e-12)
    # stride 4: rows (2-1)*4 + 3 - 7 = 0; columns (2-1)*4 + 2 - 8 < 0 -> 0
    np.testing.assert_allclose(nn.conv2d(x, k, (4, 1), "SAME", dilation=(1, 3)),
                               ref_general(x, k, (4, 1), ((0, 0), (1, 2)), (1, 3), 1),
                               rtol=1e-12)


def test_errors_of_the_general_convolution() -> None:
    x, k = np.ones((1, 4, 6, 6)), np.ones((6, 2, 3, 3))
    with pytest.raises(ValueError, match=re.escape(
            "conv2d: stride must be a positive int or a pair of them, got 'SAME'")):
        nn.conv2d(x, k, "SAME")  # type: ignore[arg-type]  # the old positional padding
    with pytest.raises(ValueError, match=re.escape("conv2d: dilation must be a positive int "
                                                   "or a pair of them, got (1, 0)")):
        nn.conv2d(x, k, dilation=(1, 0))
    with pytest.raises(ValueError, match=re.escape("conv2d: groups must be a positive int, "
                                                   "got 0")):
        nn.conv2d(x, k, groups=0)
    with pytest.raises(ShapeError, match=re.escape(
            "conv2d: groups=4 must divide both the input channels (4) and the output channels "
            "(6): x (1, 4, 6, 6), k (6, 2, 3, 3)")):
        nn.conv2d(x, k, groups=4)
    with pytest.raises(ShapeError, match=re.escape(
            "conv2d: x has 6 channels but k expects 4 (2 per group, 2 groups): x (1, 6, 6, 6), "
            "k (6, 2, 3, 3)")):
        nn.conv2d(np.ones((1, 6, 6, 6)), k, groups=2)
    with pytest.raises(ShapeError, match=re.escape(
            "conv2d: the kernel (7x5 with dilation (3, 2)) is larger than the image (6x6)")):
        nn.conv2d(x, k, dilation=(3, 2), groups=2)
    with pytest.raises(ShapeError, match=re.escape(
            "conv_transpose2d: x has 4 channels but k has 6 input channels: x (1, 4, 6, 6), "
            "k (6, 2, 3, 3)")):
        nn.conv_transpose2d(x, k)
    with pytest.raises(ValueError, match=re.escape(
            "conv_transpose2d: output_padding must be an int >= 0 or a pair of them, got -1")):
        nn.conv_transpose2d(x, np.ones((4, 2, 3, 3)), output_padding=-1)
    with pytest.raises(ShapeError, match=re.escape(
            "conv_transpose2d: padding 4 leaves no output (0x0) for x (1, 4, 6, 6), "
            "k (4, 2, 3, 3)")):
        nn.conv_transpose2d(x, np.ones((4, 2, 3, 3)), padding=4)


# ---------------------------------------------------------------------------------------
# The Conv and ConvTranspose layers


@pytest.mark.parametrize("layer,conv_of", [
    pytest.param(nn.Conv(6, 3, stride=2, padding="SAME", groups=2),
                 lambda x, p: nn.conv2d(x, p["w"], 2, "SAME", 1, 2), id="Conv-strided-grouped"),
    pytest.param(nn.Conv(4, (2, 3), dilation=(2, 1), padding=((1, 0), (2, 1))),
                 lambda x, p: nn.conv2d(x, p["w"], 1, ((1, 0), (2, 1)), (2, 1)), id="Conv-dilated"),
    pytest.param(nn.Conv(4, 3, groups=4, use_bias=False),
                 lambda x, p: nn.conv2d(x, p["w"], groups=4), id="Conv-depthwise-no-bias"),
    pytest.param(nn.ConvTranspose(3, 3, stride=2, padding=1, output_padding=1),
                 lambda x, p: nn.conv_transpose2d(x, p["w"], 2, 1, 1), id="ConvTranspose"),
    pytest.param(nn.ConvTranspose(6, (2, 3), stride=(2, 1), padding="SAME", dilation=2, groups=2),
                 lambda x, p: nn.conv_transpose2d(x, p["w"], (2, 1), "SAME", 0, 2, 2),
                 id="ConvTranspose-same-grouped"),
])
def test_conv_layers_init_shapes_and_apply(layer: nn.Layer, conv_of: Any) -> None:
    x = np.random.default_rng(30).standard_normal((2, 4, 7, 6)).astype(np.float32)
    out_shape, params = layer.init(fg.random.key(4), (-1, 4, 7, 6))
    assert out_shape[0] == -1
    # the layer protocol's keywords (Layer's annotation on this branch predates them)
    apply: Any = layer.apply
    y = apply(params, x, key=fg.random.key(5), train=False)
    assert y.dtype == np.float32 and y.shape == (2, *out_shape[1:])
    bias = params["b"].reshape(-1, 1, 1) if "b" in params else 0.0
    np.testing.assert_allclose(y, np.asarray(conv_of(x, params) + bias), rtol=1e-6)
    check_grads(lambda p: fnp.sum(fnp.tanh(layer.apply(p, x.astype(np.float64)))),
                (fg.tree.map(lambda a: a.astype(np.float64), params),), order=1)


def test_conv_layer_weight_layouts_and_fans() -> None:
    _, conv = nn.Conv(6, (2, 3), groups=3).init(fg.random.key(6), (1, 9, 8, 8))
    assert conv["w"].shape == (6, 3, 2, 3)
    _, tconv = nn.ConvTranspose(6, (2, 3), groups=3).init(fg.random.key(6), (1, 9, 8, 8))
    assert tconv["w"].shape == (9, 2, 2, 3)  # PyTorch's (in, out // groups, kh, kw)
    # he_normal's scale comes from fan_in = weight.shape[1] * kh * kw
    _, big = nn.Conv(64, 3, groups=2).init(fg.random.key(7), (1, 64, 8, 8))
    assert float(np.std(big["w"])) == pytest.approx(np.sqrt(2 / (32 * 9)), rel=0.05)


def test_conv_layer_errors_name_the_layer_and_shapes() -> None:
    layer = nn.Conv(4, 3, stride=2, groups=2)
    _, params = layer.init(fg.random.key(0), (1, 6, 8, 8))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "Conv(4, kernel_size=(3, 3), stride=2, groups=2): conv2d: x has 4 channels but k "
            "expects 6 (3 per group, 2 groups): x (1, 4, 8, 8), k (4, 3, 3, 3)")):
        layer.apply(params, np.zeros((1, 4, 8, 8), np.float32))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "Conv(4, kernel_size=(3, 3), stride=2, groups=2): groups=2 must divide both the "
            "input channels (5) and out_channels (4)")):
        layer.init(fg.random.key(0), (1, 5, 8, 8))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "ConvTranspose(2, kernel_size=(3, 3)): input_shape must be 4-D")):
        nn.ConvTranspose(2, 3).init(fg.random.key(0), (5, 8, 8))


def test_conv2d_keeps_its_positional_padding() -> None:
    x = np.random.default_rng(31).standard_normal((1, 2, 5, 5)).astype(np.float32)
    old, new = nn.Conv2D(3, 3, "SAME"), nn.Conv(3, 3, padding="SAME")
    shape_old, p = old.init(fg.random.key(8), x.shape)
    shape_new, p_new = new.init(fg.random.key(8), x.shape)
    assert shape_old == shape_new == (1, 3, 5, 5)
    np.testing.assert_array_equal(p["w"], p_new["w"])
    np.testing.assert_array_equal(old.apply(p, x), new.apply(p, x))
