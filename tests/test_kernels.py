"""Tests for funcgrad.nn.kernels: convolution and pooling on plain numpy arrays."""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np
import pytest
from numpy.typing import NDArray

from funcgrad.nn import conv_reference as R
from funcgrad.nn import kernels as K

Array = NDArray[Any]

# (batch, channels, height, width, out_channels, kernel_height, kernel_width)
CONV_SHAPES = [
    (1, 1, 5, 5, 1, 1, 1),     # 1x1 kernel
    (2, 3, 6, 7, 4, 1, 1),     # 1x1 kernel, several channels
    (2, 3, 7, 6, 4, 3, 3),
    (3, 2, 6, 8, 5, 2, 2),     # even kernel
    (2, 2, 5, 7, 3, 2, 3),     # even and odd kernel sides
    (1, 3, 4, 5, 2, 4, 5),     # kernel == image: 1x1 output
    (4, 1, 8, 8, 6, 3, 3),     # one input channel, as MNIST's first layer
    (2, 8, 6, 6, 2, 3, 3),     # many channels, few outputs
    (2, 4, 9, 3, 3, 5, 1),     # tall kernel, thin image
]

TOLERANCE = {np.float32: 2e-5, np.float64: 1e-12}


def assert_close(actual: Array, desired: Array, dtype: Any) -> None:
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(actual, desired, rtol=tol, atol=tol)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def conv_reference(x: Array, k: Array) -> Array:
    """Cross-correlation by the definition, in float64."""
    n, c, h, w = x.shape
    o, _, kh, kw = k.shape
    x64, k64 = x.astype(np.float64), k.astype(np.float64)
    y = np.zeros((n, o, h - kh + 1, w - kw + 1))
    for b in range(n):
        for oc in range(o):
            for i in range(h - kh + 1):
                for j in range(w - kw + 1):
                    y[b, oc, i, j] = np.sum(x64[b, :, i:i + kh, j:j + kw] * k64[oc])
    return y


def random_case(shape: tuple[int, ...], dtype: Any = np.float64,
                seed: int = 0) -> tuple[Array, Array, Array]:
    n, c, h, w, o, kh, kw = shape
    r = rng(seed)
    x = r.standard_normal((n, c, h, w)).astype(dtype)
    k = r.standard_normal((o, c, kh, kw)).astype(dtype)
    g = r.standard_normal((n, o, h - kh + 1, w - kw + 1)).astype(dtype)
    return x, k, g


def vdot(a: Array, b: Array) -> float:
    return float(np.vdot(a.astype(np.float64), b.astype(np.float64)))


def split_batches_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every batch of two or more images go through the helper thread, however small."""
    monkeypatch.setattr(K, "_CPUS", 2)
    monkeypatch.setattr(K, "_PARALLEL_MIN_ITEMS", 0)
    monkeypatch.setattr(K, "_SERIAL_GEMM_MAX", 10**9)


@pytest.fixture(params=["per-image GEMMs", "per-image GEMMs, two threads", "one GEMM"])
def strategy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force the kernels' choice between per-image GEMMs and one GEMM for the batch."""
    limit = 0 if request.param == "one GEMM" else 10**9
    monkeypatch.setattr(K, "_PER_IMAGE_MAX_DEPTH", limit)
    if "two threads" in request.param:
        split_batches_across_threads(monkeypatch)
    else:
        monkeypatch.setattr(K, "_CPUS", 1)
    return str(request.param)


@pytest.fixture(params=["one thread", "two threads"])
def threads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the pooling kernels on one thread, or with batches split across two."""
    if request.param == "two threads":
        split_batches_across_threads(monkeypatch)
    else:
        monkeypatch.setattr(K, "_CPUS", 1)
    return str(request.param)


# ---------------------------------------------------------------------------------------
# convolution forward

@pytest.mark.parametrize("shape", CONV_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_loops(shape: tuple[int, ...], dtype: Any, strategy: str) -> None:
    x, k, _ = random_case(shape, dtype)
    y = K.conv2d_forward(x, k)
    assert y.dtype == dtype
    assert y.flags.c_contiguous
    assert_close(y, conv_reference(x, k), dtype)


def test_forward_dtype_promotion() -> None:
    x, k, _ = random_case((2, 2, 5, 5, 3, 2, 2), np.float32)
    assert K.conv2d_forward(x, k.astype(np.float64)).dtype == np.float64
    # integers are outside the typed contract but are promoted rather than rejected
    xi: Any = np.arange(50).reshape(1, 2, 5, 5)
    ki: Any = np.ones((1, 2, 2, 2), np.int64)
    ints = K.conv2d_forward(xi, ki)
    assert ints.dtype == np.float64
    np.testing.assert_allclose(ints, conv_reference(np.arange(50).reshape(1, 2, 5, 5),
                                                    np.ones((1, 2, 2, 2))))


def test_forward_accepts_strided_views(strategy: str) -> None:
    x, k, _ = random_case((3, 4, 9, 8, 2, 3, 2))
    # the same NCHW array in another memory order
    xt = np.ascontiguousarray(x.transpose(1, 0, 3, 2)).transpose(1, 0, 3, 2)
    kv = np.ascontiguousarray(k[:, :, ::-1])[:, :, ::-1]                   # negative strides
    np.testing.assert_allclose(K.conv2d_forward(xt, kv), conv_reference(x, k), rtol=1e-12)
    np.testing.assert_allclose(K.conv2d_forward(x[:, :, ::2], k[:, :, :2]),
                               conv_reference(x[:, :, ::2], k[:, :, :2]), rtol=1e-12)


def test_results_do_not_alias_the_workspace(strategy: str) -> None:
    x, k, g = random_case((2, 3, 6, 6, 4, 3, 3))
    y = K.conv2d_forward(x, k)
    gx = K.conv2d_input_grad(g, k, (6, 6))
    kept = y.copy(), gx.copy()
    K.conv2d_forward(2 * x, k)
    K.conv2d_input_grad(3 * g, k, (6, 6))
    K.conv2d_kernel_grad(x, g, (3, 3))
    np.testing.assert_array_equal(y, kept[0])
    np.testing.assert_array_equal(gx, kept[1])
    K.release_workspace()
    np.testing.assert_allclose(K.conv2d_forward(x, k), kept[0], rtol=1e-12)
    np.testing.assert_allclose(K.conv2d_input_grad(g, k, (6, 6)), kept[1], rtol=1e-12)


def test_threads_get_their_own_workspace(threads: str) -> None:
    # with "two threads", four callers also share the one helper thread
    cases = [random_case((3, 4, 10, 10, 5, 3, 3), seed=s) for s in range(4)]
    expected = [K.conv2d_forward(x, k) for x, k, _ in cases]
    results: dict[int, list[Array]] = {}

    def work(i: int) -> None:
        x, k, _ = cases[i]
        results[i] = [K.conv2d_forward(x, k) for _ in range(20)]

    callers = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert sorted(results) == list(range(len(cases)))
    for i, ys in results.items():
        for y in ys:
            np.testing.assert_array_equal(y, expected[i])


# ---------------------------------------------------------------------------------------
# convolution gradients

def finite_difference(f: Callable[[Array], float], a: Array, eps: float = 1e-6) -> Array:
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        up = f(a)
        a[idx] = old - eps
        down = f(a)
        a[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("shape", [(2, 2, 5, 6, 3, 2, 3), (1, 3, 4, 4, 2, 3, 3),
                                   (2, 1, 4, 5, 2, 1, 1), (1, 2, 3, 3, 2, 3, 3)])
def test_gradients_match_finite_differences(shape: tuple[int, ...], strategy: str) -> None:
    x, k, g = random_case(shape)

    def loss_x(xx: Array) -> float:
        return vdot(K.conv2d_forward(xx, k), g)

    def loss_k(kk: Array) -> float:
        return vdot(K.conv2d_forward(x, kk), g)

    gx = K.conv2d_input_grad(g, k, x.shape[2:])
    gk = K.conv2d_kernel_grad(x, g, k.shape[2:])
    np.testing.assert_allclose(gx, finite_difference(loss_x, x.copy()), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gk, finite_difference(loss_k, k.copy()), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", CONV_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vjp_identities(shape: tuple[int, ...], dtype: Any, strategy: str) -> None:
    x, k, g = random_case(shape, dtype)
    n, c, h, w, o, kh, kw = shape
    gx = K.conv2d_input_grad(g, k, (h, w))
    gk = K.conv2d_kernel_grad(x, g, (kh, kw))
    assert gx.shape == x.shape and gx.dtype == dtype and gx.flags.c_contiguous
    assert gk.shape == k.shape and gk.dtype == dtype and gk.flags.c_contiguous
    forward = vdot(K.conv2d_forward(x, k), g)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    scale = np.sqrt(x.size * k.size)
    assert vdot(x, gx) == pytest.approx(forward, rel=rtol, abs=rtol * scale)
    assert vdot(k, gk) == pytest.approx(forward, rel=rtol, abs=rtol * scale)


@pytest.mark.parametrize("shape", CONV_SHAPES)
def test_triangle_identities(shape: tuple[int, ...], strategy: str) -> None:
    # each gradient is the adjoint of the forward in the other argument, for unrelated inputs
    x, k, g = random_case(shape, seed=1)
    u, v, _ = random_case(shape, seed=2)
    h, w, kh, kw = shape[2], shape[3], shape[5], shape[6]
    assert vdot(K.conv2d_input_grad(g, k, (h, w)), u) == pytest.approx(
        vdot(g, K.conv2d_forward(u, k)), rel=1e-10, abs=1e-10)
    assert vdot(K.conv2d_kernel_grad(x, g, (kh, kw)), v) == pytest.approx(
        vdot(g, K.conv2d_forward(x, v)), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("method", [K._input_grad_per_image, K._input_grad_cols,
                                    K._input_grad_flat])
@pytest.mark.parametrize("shape", CONV_SHAPES)
def test_both_input_grad_methods_agree(method: Callable[..., Array],
                                       shape: tuple[int, ...]) -> None:
    # conv2d_input_grad picks one by shape; both must be right for every shape
    x, k, g = random_case(shape, np.float32)
    expected = K.conv2d_input_grad(g.astype(np.float64), k.astype(np.float64), x.shape[2:])
    geo = K._geometry(x.shape, k.shape, (1, 1), (1, 1), 1, image_from_x=True,
                      kernel_from_k=True)
    got = method(g, k, geo)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_h_conv2d_wrappers() -> None:
    x, k, g = random_case((2, 3, 6, 5, 2, 3, 2))
    np.testing.assert_array_equal(K.h_conv2d(x, k), K.conv2d_forward(x, k))
    gx, gk = K.h_conv2d_grad(x, k, g)
    np.testing.assert_array_equal(gx, K.conv2d_input_grad(g, k, (6, 5)))
    np.testing.assert_array_equal(gk, K.conv2d_kernel_grad(x, g, (3, 2)))


def test_float32_gradients_stay_float32(strategy: str) -> None:
    x, k, g = random_case((4, 3, 10, 10, 5, 3, 3), np.float32)
    gx, gk = K.h_conv2d_grad(x, k, g)
    assert gx.dtype == np.float32 and gk.dtype == np.float32
    x64, k64, g64 = (a.astype(np.float64) for a in (x, k, g))
    gx64, gk64 = K.h_conv2d_grad(x64, k64, g64)
    np.testing.assert_allclose(gx, gx64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gk, gk64, rtol=1e-4, atol=1e-3)


# ---------------------------------------------------------------------------------------
# convolution errors

def test_error_x_rank() -> None:
    with pytest.raises(ValueError, match=r"x must be 4-D \(batch, channels, height, width\), "
                                         r"got shape \(28, 28\)"):
        K.conv2d_forward(np.zeros((28, 28)), np.zeros((1, 1, 3, 3)))


def test_error_k_rank() -> None:
    with pytest.raises(ValueError, match=r"k must be 4-D \(out_channels, in_channels, "
                                         r"kernel_height, kernel_width\), got shape \(3, 3\)"):
        K.conv2d_forward(np.zeros((1, 1, 5, 5)), np.zeros((3, 3)))


def test_error_channel_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"channel mismatch: x has shape \(2, 3, 8, 8\) with 3 "
                                         r"channels but k has shape \(4, 1, 3, 3\) expecting 1"):
        K.conv2d_forward(np.zeros((2, 3, 8, 8)), np.zeros((4, 1, 3, 3)))


def test_error_kernel_larger_than_image() -> None:
    with pytest.raises(ValueError, match=r"kernel larger than the image: k has shape "
                                         r"\(1, 1, 5, 3\) \(5x3 window\) but x has shape "
                                         r"\(1, 1, 4, 4\) \(4x4 image\)"):
        K.conv2d_forward(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 5, 3)))
    with pytest.raises(ValueError, match=r"kernel larger than the image: k has shape "
                                         r"\(1, 1, 5, 3\) \(5x3 window\) but image_hw is \(4, 4\)"):
        K.conv2d_input_grad(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 5, 3)), (4, 4))
    with pytest.raises(ValueError, match=r"kernel larger than the image: kernel_hw is "
                                         r"\(5, 3\) \(5x3 window\) but x has shape \(1, 1, 4, 4\)"):
        K.conv2d_kernel_grad(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 1, 1)), (5, 3))


def test_error_wrong_g_shape() -> None:
    x, k = np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"g must have shape \(2, 4, 6, 6\) for x of shape "
                                         r"\(2, 3, 8, 8\) and k of shape \(4, 3, 3, 3\), "
                                         r"got shape \(2, 4, 8, 8\)"):
        K.h_conv2d_grad(x, k, np.zeros((2, 4, 8, 8)))
    with pytest.raises(ValueError, match=r"g must have shape \(2, 4, 6, 6\) for k of shape "
                                         r"\(4, 3, 3, 3\) and image_hw \(8, 8\), got shape "
                                         r"\(2, 5, 6, 6\)"):
        K.conv2d_input_grad(np.zeros((2, 5, 6, 6)), k, (8, 8))
    with pytest.raises(ValueError, match=r"g must have shape \(2, 4, 6, 6\) for x of shape "
                                         r"\(2, 3, 8, 8\) and kernel_hw \(3, 3\), got shape "
                                         r"\(3, 4, 6, 6\)"):
        K.conv2d_kernel_grad(x, np.zeros((3, 4, 6, 6)), (3, 3))
    with pytest.raises(ValueError, match=r"g must be 4-D \(batch, out_channels, out_height, "
                                         r"out_width\), got shape \(4, 6, 6\)"):
        K.conv2d_kernel_grad(x, np.zeros((4, 6, 6)), (3, 3))


def test_error_bad_sizes_and_dtypes() -> None:
    with pytest.raises(ValueError, match=r"image_hw must be a pair of ints \(height, width\), "
                                         r"got 8"):
        not_a_pair: Any = 8
        K.conv2d_input_grad(np.zeros((1, 1, 6, 6)), np.zeros((1, 1, 3, 3)), not_a_pair)
    with pytest.raises(ValueError, match=r"kernel_hw must be positive, got \(0, 3\)"):
        K.conv2d_kernel_grad(np.zeros((1, 1, 6, 6)), np.zeros((1, 1, 6, 4)), (0, 3))
    with pytest.raises(TypeError, match="real floating-point"):
        K.conv2d_forward(np.zeros((1, 1, 3, 3), complex), np.zeros((1, 1, 2, 2)))


# ---------------------------------------------------------------------------------------
# pooling

def pool_reference(x: Array, window: tuple[int, int], stride: tuple[int, int],
                   reduce: Callable[[Array], Any]) -> Array:
    n, c, h, w = x.shape
    (wh, ww), (sh, sw) = window, stride
    ho, wo = (h - wh) // sh + 1, (w - ww) // sw + 1
    y = np.zeros((n, c, ho, wo), x.dtype)
    for b in range(n):
        for ch in range(c):
            for i in range(ho):
                for j in range(wo):
                    y[b, ch, i, j] = reduce(x[b, ch, i * sh:i * sh + wh, j * sw:j * sw + ww])
    return y


POOL_CASES = [
    ((2, 3, 8, 6), (2, 2), (2, 2)),    # the fast path
    ((2, 2, 7, 9), (2, 2), (2, 2)),    # fast path, odd sizes crop the last row/column
    ((1, 2, 5, 5), (2, 2), (2, 2)),
    ((2, 2, 7, 8), (3, 3), (2, 2)),    # overlapping windows
    ((2, 2, 5, 6), (2, 2), (1, 1)),    # overlapping windows, stride 1
    ((1, 3, 7, 9), (2, 3), (1, 2)),
    ((2, 1, 6, 6), (3, 3), (3, 3)),    # non-overlapping, not 2x2
    ((1, 2, 4, 5), (4, 5), (1, 1)),    # window == image
    ((1, 1, 9, 4), (1, 1), (3, 2)),    # 1x1 window with skips
]


def distinct_values(shape: tuple[int, ...], dtype: Any = np.float64, seed: int = 0) -> Array:
    size = int(np.prod(shape))
    return (rng(seed).permutation(size).reshape(shape) * 0.37 - size * 0.1).astype(dtype)


@pytest.mark.parametrize("x_shape,window,stride", POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_forward_matches_loops(x_shape: tuple[int, ...], window: tuple[int, int],
                                        stride: tuple[int, int], dtype: Any, threads: str) -> None:
    x = rng().standard_normal(x_shape).astype(dtype)
    y, argmax = K.max_pool2d_forward(x, window, stride)
    assert y.dtype == dtype and argmax.dtype == np.uint8
    np.testing.assert_array_equal(y, pool_reference(x, window, stride, np.max))
    np.testing.assert_array_equal(K.max_pool2d_select(x, argmax, window, stride), y)


@pytest.mark.parametrize("x_shape,window,stride", POOL_CASES)
def test_max_pool_backward_matches_finite_differences(
        x_shape: tuple[int, ...], window: tuple[int, int], stride: tuple[int, int],
        threads: str) -> None:
    x = distinct_values(x_shape)  # no ties, so the max is differentiable
    y, argmax = K.max_pool2d_forward(x, window, stride)
    g = rng(1).standard_normal(y.shape)
    gx = K.max_pool2d_backward(g, argmax, window, stride, x.shape)
    assert gx.shape == x.shape

    def loss(xx: Array) -> float:
        return vdot(K.max_pool2d_forward(xx, window, stride)[0], g)

    np.testing.assert_allclose(gx, finite_difference(loss, x.copy(), eps=1e-3),
                               rtol=1e-9, atol=1e-9)
    # the select is backward's transpose: <backward(g), u> == <g, select(u)>
    u = rng(2).standard_normal(x_shape)
    assert vdot(gx, u) == pytest.approx(vdot(g, K.max_pool2d_select(u, argmax, window, stride)))


def test_max_pool_ties_go_to_the_first_element_in_row_major_order(threads: str) -> None:
    x = np.array([[[[1., 1., 0., 2., 5.],
                    [1., 1., 2., 0., 5.],
                    [3., 0., 4., 4., 5.],
                    [0., 3., 4., 4., 5.],
                    [9., 9., 9., 9., 9.]]]])
    g = np.array([[[[10., 20.],
                    [30., 40.]]]])
    y, argmax = K.max_pool2d_forward(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(y, [[[[1., 2.], [3., 4.]]]])
    np.testing.assert_array_equal(argmax, [[[[0, 1], [0, 0]]]])
    np.testing.assert_array_equal(K.max_pool2d_backward(g, argmax, (2, 2), (2, 2), x.shape),
                                  [[[[10., 0., 0., 20., 0.],
                                     [0., 0., 0., 0., 0.],
                                     [30., 0., 40., 0., 0.],
                                     [0., 0., 0., 0., 0.],
                                     [0., 0., 0., 0., 0.]]]])
    # the generic path follows the same policy; overlapping windows add up
    y3, argmax3 = K.max_pool2d_forward(x, (3, 3), (2, 2))
    np.testing.assert_array_equal(y3, [[[[4., 5.], [9., 9.]]]])
    np.testing.assert_array_equal(argmax3, [[[[8, 2], [6, 6]]]])
    np.testing.assert_array_equal(K.max_pool2d_backward(g, argmax3, (3, 3), (2, 2), x.shape),
                                  [[[[0., 0., 0., 0., 20.],
                                     [0., 0., 0., 0., 0.],
                                     [0., 0., 10., 0., 0.],
                                     [0., 0., 0., 0., 0.],
                                     [30., 0., 40., 0., 0.]]]])


def test_max_pool_backward_keeps_non_finite_gradients_in_place() -> None:
    x = distinct_values((1, 1, 4, 4))
    y, argmax = K.max_pool2d_forward(x, (2, 2), (2, 2))
    g = np.array([[[[np.inf, 1.], [2., 3.]]]])
    gx = K.max_pool2d_backward(g, argmax, (2, 2), (2, 2), x.shape)
    assert np.isinf(gx).sum() == 1 and not np.isnan(gx).any()


@pytest.mark.parametrize("x_shape,window,stride", POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool_forward_matches_loops(x_shape: tuple[int, ...], window: tuple[int, int],
                                        stride: tuple[int, int], dtype: Any, threads: str) -> None:
    x = rng().standard_normal(x_shape).astype(dtype)
    y = K.avg_pool2d_forward(x, window, stride)
    assert y.dtype == dtype
    assert_close(y, pool_reference(x, window, stride, np.mean), dtype)


@pytest.mark.parametrize("x_shape,window,stride", POOL_CASES)
def test_avg_pool_backward_matches_finite_differences(
        x_shape: tuple[int, ...], window: tuple[int, int], stride: tuple[int, int],
        threads: str) -> None:
    x = rng().standard_normal(x_shape)
    g = rng(1).standard_normal(K.avg_pool2d_forward(x, window, stride).shape)
    gx = K.avg_pool2d_backward(g, window, stride, x.shape)

    def loss(xx: Array) -> float:
        return vdot(K.avg_pool2d_forward(xx, window, stride), g)

    np.testing.assert_allclose(gx, finite_difference(loss, x.copy()), rtol=1e-7, atol=1e-8)


def test_pool_dtypes() -> None:
    x = distinct_values((2, 2, 6, 6), np.float32)
    y, argmax = K.max_pool2d_forward(x, (2, 2), (2, 2))
    g = np.ones_like(y)
    assert K.max_pool2d_backward(g, argmax, (2, 2), (2, 2), x.shape).dtype == np.float32
    assert K.avg_pool2d_forward(x, (3, 3), (1, 1)).dtype == np.float32
    assert K.avg_pool2d_backward(g, (2, 2), (2, 2), x.shape).dtype == np.float32
    ints: Any = np.arange(16).reshape(1, 1, 4, 4)
    assert K.avg_pool2d_forward(ints, (2, 2), (2, 2)).dtype == np.float64
    big = K.max_pool2d_forward(np.zeros((1, 1, 17, 17)), (17, 17), (1, 1))[1]
    assert big.dtype == np.uint16


def test_pool_errors() -> None:
    with pytest.raises(ValueError, match=r"x must be 4-D \(batch, channels, height, width\), "
                                         r"got shape \(6, 6\)"):
        K.max_pool2d_forward(np.zeros((6, 6)), (2, 2), (2, 2))
    with pytest.raises(ValueError, match=r"pooling window \(3, 3\) is larger than the image: "
                                         r"x has shape \(1, 1, 2, 5\) \(2x5 image\)"):
        K.avg_pool2d_forward(np.zeros((1, 1, 2, 5)), (3, 3), (1, 1))
    with pytest.raises(ValueError, match=r"stride must be positive, got \(0, 1\)"):
        K.max_pool2d_forward(np.zeros((1, 1, 4, 4)), (2, 2), (0, 1))
    with pytest.raises(ValueError, match=r"window must be a pair of ints \(height, width\)"):
        triple: Any = (2, 2, 2)
        K.avg_pool2d_forward(np.zeros((1, 1, 4, 4)), triple, (1, 1))
    with pytest.raises(ValueError, match=r"g must have shape \(1, 2, 2, 2\) for x_shape "
                                         r"\(1, 2, 5, 5\), window \(2, 2\), stride \(2, 2\), "
                                         r"got shape \(1, 2, 3, 3\)"):
        K.avg_pool2d_backward(np.zeros((1, 2, 3, 3)), (2, 2), (2, 2), (1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"argmax must have g's shape \(1, 1, 2, 2\), "
                                         r"got shape \(1, 1, 2, 1\)"):
        K.max_pool2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 1), np.uint8),
                              (2, 2), (2, 2), (1, 1, 4, 4))


# ---------------------------------------------------------------------------------------
# strided, dilated and grouped convolution against the reference kernels

def geometries(count: int, seed: int) -> list[tuple[Any, ...]]:
    """Random (x shape, k shape, stride, dilation, groups), odd and even sizes, including
    images with rows no window reaches."""
    r = rng(seed)
    out = []
    for _ in range(count):
        groups, cg, og = (int(v) for v in r.integers(1, 4, 3))
        kh, kw = (int(v) for v in r.integers(1, 4, 2))
        stride = tuple(int(v) for v in r.integers(1, 4, 2))
        dilation = tuple(int(v) for v in r.integers(1, 3, 2))
        h = dilation[0] * (kh - 1) + 1 + int(r.integers(0, 6))
        w = dilation[1] * (kw - 1) + 1 + int(r.integers(0, 6))
        out.append(((int(r.integers(1, 4)), groups * cg, h, w), (groups * og, cg, kh, kw),
                    stride, dilation, groups))
    return out


# every stride, dilation and groups the kernels treat differently, then random ones
GEOMETRIES = [
    ((2, 3, 7, 6), (4, 3, 3, 2), (2, 2), (1, 1), 1),      # stride
    ((2, 3, 8, 7), (4, 3, 3, 2), (1, 1), (2, 3), 1),      # dilation
    ((2, 4, 6, 6), (6, 2, 3, 3), (1, 1), (1, 1), 2),      # groups
    ((3, 4, 5, 5), (4, 1, 3, 3), (1, 1), (1, 1), 4),      # depthwise
    ((2, 6, 9, 8), (3, 2, 2, 3), (3, 2), (2, 1), 3),      # all three
    ((2, 70, 6, 6), (4, 70, 1, 1), (2, 2), (1, 1), 1),    # deep contraction
    # deep ones (batch-wide channels-last patches) with groups, stride and dilation
    ((2, 16, 9, 8), (6, 8, 3, 3), (2, 1), (1, 2), 2),
    ((3, 40, 7, 7), (6, 20, 2, 3), (1, 2), (2, 1), 2),
] + geometries(40, seed=100)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_general_convolution_matches_the_reference(geometry: tuple[Any, ...], dtype: Any,
                                                   strategy: str) -> None:
    x_shape, k_shape, stride, dilation, groups = geometry
    r = rng(sum(x_shape) + sum(k_shape))
    x = r.standard_normal(x_shape).astype(dtype)
    k = r.standard_normal(k_shape).astype(dtype)
    x64, k64 = x.astype(np.float64), k.astype(np.float64)
    want = R.conv2d(x64, k64, stride, dilation, groups)
    y = K.conv2d_forward(x, k, stride, dilation, groups)
    assert y.dtype == dtype and y.flags.c_contiguous
    assert_close(y, want, dtype)
    g = r.standard_normal(want.shape).astype(dtype)
    g64 = g.astype(np.float64)
    hw, khw = x_shape[2:], k_shape[2:]
    gx = K.conv2d_input_grad(g, k, hw, stride, dilation, groups)
    gk = K.conv2d_kernel_grad(x, g, khw, stride, dilation, groups)
    per_image = K.conv2d_kernel_grad_per_image(x, g, khw, stride, dilation, groups)
    assert gx.dtype == gk.dtype == per_image.dtype == dtype
    assert_close(gx, R.conv2d_input_grad(g64, k64, hw, stride, dilation, groups), dtype)
    assert_close(gk, R.conv2d_kernel_grad(x64, g64, khw, stride, dilation, groups), dtype)
    assert per_image.shape == (x_shape[0], *k_shape)
    for i in range(x_shape[0]):
        assert_close(per_image[i], R.conv2d_kernel_grad(x64[i:i + 1], g64[i:i + 1], khw, stride,
                                                        dilation, groups), dtype)


@pytest.mark.parametrize("geometry", GEOMETRIES[:6])
def test_reference_kernels_are_each_others_adjoints(geometry: tuple[Any, ...]) -> None:
    # <conv(x, k), g> = <x, input_grad(g, k)> = <k, kernel_grad(x, g)>: the references
    # agree with each other, not only the fast kernels with them
    x_shape, k_shape, stride, dilation, groups = geometry
    x, k = rng(1).standard_normal(x_shape), rng(2).standard_normal(k_shape)
    y = R.conv2d(x, k, stride, dilation, groups)
    g = rng(3).standard_normal(y.shape)
    forward = vdot(y, g)
    gx = R.conv2d_input_grad(g, k, x_shape[2:], stride, dilation, groups)
    assert vdot(x, gx) == pytest.approx(forward, rel=1e-12)
    assert vdot(k, R.conv2d_kernel_grad(x, g, k_shape[2:], stride, dilation, groups)) == \
        pytest.approx(forward, rel=1e-12)


def test_reference_on_a_hand_example() -> None:
    # 1x5 image, kernel [1, 10], stride 2, dilation 2: windows (0, 2) and (2, 4)
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 1, 1, 5)
    k = np.array([1.0, 10.0]).reshape(1, 1, 1, 2)
    np.testing.assert_array_equal(R.conv2d(x, k, (1, 2), (1, 2)), [[[[31.0, 53.0]]]])
    # two groups of one channel each: each output sees only its own channel
    x2 = np.stack([x[0, 0], 10 * x[0, 0]])[None]
    k2 = np.array([1.0, 1.0, 1.0, 1.0]).reshape(2, 1, 1, 2)
    np.testing.assert_array_equal(R.conv2d(x2, k2, (1, 3), (1, 1), 2),
                                  [[[[3.0, 9.0]], [[30.0, 90.0]]]])


def test_error_groups_and_dilation() -> None:
    with pytest.raises(ValueError, match=r"groups=2 must divide both the input channels \(3\) "
                                         r"and the output channels \(4\)"):
        K.conv2d_forward(np.zeros((1, 3, 5, 5)), np.zeros((4, 1, 3, 3)), groups=2)
    with pytest.raises(ValueError, match=r"k has shape \(4, 1, 3, 3\) expecting 2 \(1 per "
                                         r"group, 2 groups\)"):
        K.conv2d_forward(np.zeros((1, 4, 5, 5)), np.zeros((4, 1, 3, 3)), groups=2)
    with pytest.raises(ValueError, match=r"\(5x5 window, dilation \(2, 2\)\) but x has shape "
                                         r"\(1, 1, 4, 6\)"):
        K.conv2d_forward(np.zeros((1, 1, 4, 6)), np.zeros((1, 1, 3, 3)), dilation=(2, 2))
    with pytest.raises(ValueError, match=r"groups must be a positive int, got 0"):
        K.conv2d_forward(np.zeros((1, 1, 4, 6)), np.zeros((1, 1, 3, 3)), groups=0)
    with pytest.raises(ValueError, match=r"g must have shape \(1, 2, 2, 2\) for k of shape "
                                         r"\(2, 1, 3, 3\) and image_hw \(6, 6\), stride \(2, 2\)"):
        K.conv2d_input_grad(np.zeros((1, 2, 4, 4)), np.zeros((2, 1, 3, 3)), (6, 6), (2, 2))
