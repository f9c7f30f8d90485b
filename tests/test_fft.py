"""Tests for fnp.fft beyond the shared table: complex inputs and outputs.

* Gradients follow JAX's convention for complex numbers (the cotangent of z = x + iy is
  dL/dx - i dL/dy): VJPs and gradients equal JAX's, recorded below for fixed inputs, and
  agree with finite differences along real and imaginary directions, to second order, in
  reverse and forward mode.
* Exact gradients of round trips, where the weights of the doubled bins of a
  half-spectrum show.
* numpy 2's dtypes (single precision stays single) for values and gradients; vmap and jit
  of complex transforms; numpy's own np.fft functions given traced values; the errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import ShapeError

NDArray = np.ndarray[Any, Any]

X6 = np.array([0.3, -1.2, 0.7, 2.0, -0.5, 1.1])
Z4 = np.array([0.5 - 0.2j, -1.0 + 0.8j, 0.25 + 1.5j, 0.9 - 0.6j])
X23 = np.array([[0.4, -0.8, 1.3], [2.1, -0.3, 0.6]])
Z23 = np.array([[0.2 + 0.7j, -1.1 + 0.4j, 0.5 - 0.9j], [1.6 - 0.3j, 0.8 + 0.1j, -0.4 - 1.2j]])


def cotangent(shape: tuple[int, ...], complex_: bool) -> NDArray:
    """A fixed cotangent, complex for complex outputs (JAX's numbers below used the same)."""
    k = np.arange(math.prod(shape)).reshape(shape)
    c: NDArray = np.round(np.cos(1.7 * k + 0.3), 2)
    return c + 1j * np.round(np.sin(0.9 * k - 0.4), 2) if complex_ else c


F = fnp.fft
SPECS: list[tuple[str, Callable[[Any], Any], NDArray]] = [
    ("rfft_n5", lambda x: F.rfft(x, n=5), X6),
    ("rfft_n8_ortho", lambda x: F.rfft(x, n=8, norm="ortho"), X6),
    ("irfft", lambda z: F.irfft(z), Z4),
    ("irfft_n7_forward", lambda z: F.irfft(z, n=7, norm="forward"), Z4),
    ("irfft_n4", lambda z: F.irfft(z, n=4), Z4),
    ("fft_ortho", lambda z: F.fft(z, norm="ortho"), Z4),
    ("ifft_n6", lambda z: F.ifft(z, n=6), Z4),
    ("fft_real", lambda x: F.fft(x, n=4), X6),
    ("hfft_n5", lambda z: F.hfft(z, n=5), Z4),
    ("ihfft_n5_ortho", lambda x: F.ihfft(x, n=5, norm="ortho"), X6),
    ("rfftn_s", lambda x: F.rfftn(x, s=(3, 4), axes=(1, 0)), X23),
    ("irfftn_s", lambda z: F.irfftn(z, s=(2, 5), axes=(0, 1), norm="ortho"), Z23),
    ("square_rfft", lambda x: F.rfft(x) * F.rfft(x), X6),
    ("irfft_square", lambda z: F.irfft(z * z, n=5), Z4),
]

# JAX's VJPs (jax.vjp with jax_enable_x64) of SPECS at these inputs, with `cotangent`.
JAX_VJP: dict[str, Any] = {
    "rfft_n5": [-0.31, 2.5562918351724, 0.377713662387, 1.6965317224506, 0.47946277999, 0.0],
    "rfft_n8_ortho": [0.3535533905933, 0.4940128060535, 0.7848885271171, 0.3189770926788,
                      0.2050609665441, 0.4040128060535],
    "irfft": [(0.0316666666667-0j), (-0.0666666666667-0.3290896534381j),
              (0.7633333333333+0.554256258422j), (0.2316666666667-0j)],
    "irfft_n7_forward": [(-0.29-0j), (-0.8240505765151-0.0275628289901j),
                         (6.9452976034273+0.229885196838j), (0.8887529730878+0.0171197760734j)],
    "irfft_n4": [(0.08-0j), (0.905-0.525j), (-0.025-0j), 0j],
    "fft_ortho": [(0.16+0.915j), (0.77-0.165j), (-0.05-0.315j), (1.04-1.215j)],
    "ifft_n6": [(0.0316666666667+0.1583333333333j), (-0.3725266164822-0.4603781600524j),
                (0.3455822748423+0.2879614625444j), (0.2316666666667+0.0216666666667j)],
    "fft_real": [0.32, 1.54, -0.1, 2.08, 0.0, 0.0],
    "hfft_n5": [(1+0j), (2.4366563145999+3.8321686826351j), (1.3633436854001-1.5219997331902j),
                -0j],
    "ihfft_n5_ortho": [-0.138636214605, 0.2144222737477, 0.7587120514769, 0.1689186850255,
                       1.1432084627547, 0.0],
    "rfftn_s": [[0.87, 0.7017245036915, 1.7582754963085],
                [-1.12, 2.8577310396857, 4.8322689603143]],
    "irfftn_s": [[(-0.037947331922-0j), (-0.6225807115582-0.6448490303334j),
                  (0.8976988679929+0.2498394045744j)],
                 [(0.6704028639557-0j), (2.1636574773917-1.7788272526854j),
                  (-0.0354446120984+0.7127577464356j)]],
    "square_rfft": [-6.3430788746225, 8.7695986676534, 5.8108351463304, -4.0940332218298,
                    9.0642437282921, 14.4404345541764],
    "irfft_square": [(0.2-0.08j), (0.2516314526032+2.312597493726j),
                     (-0.7768654713741+0.9702061845591j), 0j],
}

@pytest.mark.parametrize("name,f,x", [pytest.param(n, f, x, id=n) for n, f, x in SPECS])
def test_vjp_equals_jax(name: str, f: Callable[[Any], Any], x: NDArray) -> None:
    out, pullback = funcgrad.vjp(f, x)
    (g,) = pullback(cotangent(out.shape, np.iscomplexobj(out)))
    assert g.dtype == x.dtype and g.shape == x.shape
    np.testing.assert_allclose(g, JAX_VJP[name], rtol=1e-10, atol=1e-11)


def test_grad_of_real_losses_equals_jax() -> None:
    # jax.grad(lambda x: jnp.sum(jnp.abs(jnp.fft.rfft(x)) ** 2))(X6): here |X|^2 is
    # X * conj(X), with conj(X) = ihfft(x, norm="forward") for real x
    power = funcgrad.grad(lambda x: fnp.real(fnp.sum(F.rfft(x) * F.ihfft(x, norm="forward"))))(X6)
    np.testing.assert_allclose(power, [2.8, -3.4, 5.2, 15.8, -2.0, 10.4], rtol=1e-12)
    # jax.grad(lambda z: jnp.sum(jnp.fft.irfft(z, n=7) ** 2))(Z4)
    g = funcgrad.grad(lambda z: fnp.sum(F.irfft(z, n=7) ** 2))(Z4)
    np.testing.assert_allclose(g, [(0.1428571428571 - 0j), (-0.5714285714286 - 0.4571428571429j),
                                   (0.1428571428571 - 0.8571428571429j),
                                   (0.5142857142857 + 0.3428571428571j)], rtol=1e-11)


# ---------------------------------------------------------------------------- finite differences


def _directions(x: NDArray) -> list[NDArray]:
    """A random real direction, and for complex x a random imaginary one."""
    rng = np.random.default_rng(x.size)
    real = np.asarray(rng.standard_normal(x.shape))
    imaginary = 1j * np.asarray(rng.standard_normal(x.shape))
    return [real, imaginary] if np.iscomplexobj(x) else [real]


def check_complex_grads(f: Callable[[Any], Any], x: NDArray, order: int = 2,
                        eps: float = 1e-6) -> None:
    """f's VJP and JVP at x against central differences along real and imaginary directions;
    then the same for the VJP and JVP themselves, as functions of x, up to `order`.

    For a real loss L(z) = Re(sum(ct * f(z))), the VJP of ct is dL/dx - i dL/dy, so its
    pairing Re(sum(vjp * d)) with a direction d is the derivative of L along d."""
    out = np.asarray(f(x))
    ct = cotangent(out.shape, np.iscomplexobj(out))
    (g,) = funcgrad.vjp(f, x)[1](ct)
    for d in _directions(x):
        slope = (np.asarray(f(x + eps * d)) - np.asarray(f(x - eps * d))) / (2 * eps)
        np.testing.assert_allclose(np.real(np.sum(g * d)), np.real(np.sum(ct * slope)),
                                   rtol=1e-6, atol=1e-8)
        _, tangent = funcgrad.jvp(f, (x,), (d.astype(x.dtype),))
        np.testing.assert_allclose(tangent, slope, rtol=1e-6, atol=1e-8)
    if order > 1:
        check_complex_grads(lambda z: funcgrad.vjp(f, z)[1](ct)[0], x, order - 1, eps)
        t = _directions(x)[-1].astype(x.dtype)
        check_complex_grads(lambda z: funcgrad.jvp(f, (z,), (t,))[1], x, order - 1, eps)


NONLINEAR: list[tuple[str, Callable[[Any], Any], NDArray]] = [
    ("fft_squared", lambda z: F.fft(z, n=5) * F.fft(z, n=5), Z4),
    ("ifft_of_exp", lambda z: F.ifft(fnp.exp(z), norm="ortho"), Z4),
    ("hfft_cubed", lambda z: F.hfft(z ** 3, n=6), Z4),
    ("ihfft_squared", lambda x: F.ihfft(x * x, n=7), X6),
    ("fftn_times_rfftn",
     lambda z: F.fftn(z, s=(2, 4), axes=(0, 1))[:, :3] * F.rfftn(X23, s=(2, 4), axes=(0, 1)), Z23),
    ("irfft2_squared", lambda z: F.irfft2(z * z, s=(2, 4)), Z23),
]


@pytest.mark.parametrize("f,x", [pytest.param(f, x, id=n) for n, f, x in SPECS + NONLINEAR])
def test_complex_gradients_match_finite_differences(f: Callable[[Any], Any], x: NDArray) -> None:
    check_complex_grads(f, x)


# Real losses through the complex parts: (loss, input, JAX's gradient, jax.grad of the same
# loss written with jnp, with jax_enable_x64).
PART_LOSSES: list[tuple[str, Callable[[Any], Any], NDArray, Any]] = [
    ("abs_rfft_squared", lambda x: fnp.sum(fnp.abs(F.rfft(x)) ** 2), X6,
     [2.8, -3.4, 5.2, 15.8, -2.0, 10.4]),
    ("real_ifft", lambda z: fnp.real(F.ifft(z)).sum(), Z4, [1.0, 0.0, 0.0, 0.0]),
    ("real_ifft_weighted", lambda z: fnp.sum(fnp.real(F.ifft(z)) * np.arange(1.0, 5.0)), Z4,
     [(2.5 + 0j), (-0.5 - 0.5j), (-0.5 + 0j), (-0.5 + 0.5j)]),
    ("abs_fft2", lambda z: fnp.sum(fnp.abs(F.fft2(z))), Z23,
     [[(-0.2152255459621 - 1.3027262808235j), (-1.0420076368405 - 0.5830669964j),
       (1.1610822997891 + 2.0216926885478j)],
      [(2.9275848311159 - 0.0445900806419j), (3.0827179458717 + 0.7738350010861j),
       (-1.1141518939741 + 2.7348556682315j)]]),
    ("imag_rfft2_squared", lambda x: fnp.sum(fnp.imag(F.rfft2(x)) ** 2), X23,
     [[0.0, -6.3, 6.3], [0.0, -2.7, 2.7]]),
    ("real_conj_ihfft_rfft", lambda x: fnp.sum(fnp.real(fnp.conj(F.ihfft(x)) * F.rfft(x))), X6,
     [0.4666666666667, 1.7333333333333, -0.3333333333333, 2.6333333333333, 0.8666666666667,
      -0.5666666666667]),
]


@pytest.mark.parametrize("loss,x,expected", [pytest.param(f, x, e, id=n)
                                             for n, f, x, e in PART_LOSSES])
def test_grad_of_losses_through_the_complex_parts_equals_jax(loss: Callable[[Any], Any],
                                                             x: NDArray, expected: Any) -> None:
    g = funcgrad.grad(loss)(x)
    assert g.dtype == x.dtype
    np.testing.assert_allclose(g, expected, rtol=1e-11, atol=1e-12)
    check_complex_grads(loss, x)


# ---------------------------------------------------------------------------- exact gradients


@pytest.mark.parametrize("n", [6, 7])
def test_round_trips_have_identity_gradients(n: int) -> None:
    v = np.linspace(-1.0, 2.0, n)
    # irfft(rfft(x)) = x: the doubled bins and the zero and Nyquist bins must balance exactly
    for norm in ("backward", "ortho", "forward"):
        g = funcgrad.grad(lambda x: fnp.sum(F.irfft(F.rfft(x, norm=norm), n, norm=norm) * v))(
            np.cos(np.arange(n)))
        np.testing.assert_allclose(g, v, rtol=1e-13, atol=1e-14)
        g = funcgrad.grad(lambda x: fnp.sum(F.hfft(F.ihfft(x, norm=norm), n, norm=norm) * v))(
            np.cos(np.arange(n)))
        np.testing.assert_allclose(g, v, rtol=1e-13, atol=1e-14)
    # rfft(irfft(z)) = z for a half-spectrum whose zero (and Nyquist) bins are real, so the
    # pullback of that round trip is the identity on such cotangents
    w = np.exp(1j * np.arange(n // 2 + 1))
    w[0] = 2.0
    if n % 2 == 0:
        w[-1] = -1.5
    _, pullback = funcgrad.vjp(lambda z: F.rfft(F.irfft(z, n)), w)
    np.testing.assert_allclose(pullback(w)[0], w, rtol=1e-13, atol=1e-14)
    _, pullback = funcgrad.vjp(lambda z: F.ifft(F.fft(z, axis=0), axis=0), np.outer(w, w))
    np.testing.assert_allclose(pullback(np.outer(w, w))[0], np.outer(w, w), rtol=1e-13)


def test_gradient_of_a_padded_and_truncated_transform_is_exact() -> None:
    # fft(x, n) reads only the first n entries (or all of them, padded): here the
    # half-spectrum of x[:3] gives back x[:3]
    g = funcgrad.grad(lambda x: fnp.sum(F.irfft(F.fft(x, n=3)[:2], n=3)))(X6)
    np.testing.assert_allclose(g, [1.0, 1.0, 1.0, 0.0, 0.0, 0.0], atol=1e-15)
    g = funcgrad.grad(lambda x: fnp.real(fnp.sum(F.rfft(x, n=10, norm="forward")[:1] * 2.0)))(X6)
    np.testing.assert_allclose(g, np.full(6, 0.2), rtol=1e-15)


# ---------------------------------------------------------------------------- dtypes

ALL: list[tuple[str, dict[str, Any], bool]] = [  # name, keywords, takes a real input
    ("fft", {}, False), ("ifft", {"n": 5}, False), ("fft2", {}, False), ("ifft2", {}, False),
    ("fftn", {}, False), ("ifftn", {"axes": (0,)}, False), ("rfft", {}, True),
    ("irfft", {}, False), ("rfft2", {}, True), ("irfft2", {}, False), ("rfftn", {}, True),
    ("irfftn", {"s": (3, 7), "axes": (0, 1)}, False), ("hfft", {"n": 5}, False),
    ("ihfft", {}, True), ("fftshift", {}, False), ("ifftshift", {}, True),
]


@pytest.mark.parametrize("name,kw,real", ALL, ids=[n for n, _, _ in ALL])
@pytest.mark.parametrize("single", [True, False], ids=["single", "double"])
def test_dtypes_are_numpys_for_values_and_gradients(name: str, kw: dict[str, Any], real: bool,
                                                    single: bool) -> None:
    x = X23 if real else Z23
    x = x.astype(np.float32 if real else np.complex64) if single else x
    f = lambda a: getattr(F, name)(a, **kw)  # noqa: E731
    expected = getattr(np.fft, name)(x, **kw)
    out, pullback = funcgrad.vjp(f, x)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5 if single else 1e-12, atol=1e-6)
    assert funcgrad.make_graph(f)(x).outvars[0].aval.dtype == expected.dtype
    (g,) = pullback(np.ones(out.shape, out.dtype))
    assert g.dtype == x.dtype and g.shape == x.shape


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.bool_])
@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "hfft", "ihfft", "irfftn", "fft2"])
def test_other_input_dtypes_give_numpys_dtype_when_traced(name: str, dtype: Any) -> None:
    x = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    f = getattr(F, name)
    expected = getattr(np.fft, name)(x)
    out = funcgrad.make_graph(f)(x)(x)
    assert out.dtype == expected.dtype
    tol = 1e-3 if dtype == np.float16 else 1e-12
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


def test_without_tracers_numpy_runs() -> None:
    np.testing.assert_array_equal(F.rfft(X6[:3]), np.fft.rfft(X6[:3]))
    np.testing.assert_array_equal(F.fftfreq(7, 0.1), np.fft.fftfreq(7, 0.1))
    np.testing.assert_array_equal(F.rfftfreq(8), np.fft.rfftfreq(8))
    np.testing.assert_array_equal(F.ifftshift(Z23, axes=0), np.fft.ifftshift(Z23, axes=0))


@pytest.mark.parametrize("n", [1, 4, 7])
def test_frequencies_for_a_traced_spacing(n: int) -> None:
    d = np.float32(0.3)
    for ours, theirs in ((F.fftfreq, np.fft.fftfreq), (F.rfftfreq, np.fft.rfftfreq)):
        out, pullback = funcgrad.vjp(lambda d: ours(n, d), d)
        expected = theirs(n, d)
        assert out.dtype == expected.dtype
        np.testing.assert_allclose(out, expected, rtol=1e-7)
        # the frequencies are k / (n d): their derivative is -k / (n d^2)
        (g,) = pullback(np.ones(out.shape))
        np.testing.assert_allclose(g, -np.sum(expected) / d, rtol=1e-6)


# ---------------------------------------------------------------------------- vmap and jit


def _loop(f: Callable[[Any], Any], xs: NDArray, axis: int) -> NDArray:
    return np.stack([np.asarray(f(np.take(xs, i, axis))) for i in range(xs.shape[axis])])


VMAPPED: list[tuple[str, Callable[[Any], Any]]] = [
    ("fft_axis0", lambda z: F.fft(z, n=3, axis=0)),
    ("ifft2", lambda z: F.ifft2(z, norm="ortho")),
    ("irfft", lambda z: F.irfft(z, n=5)),
    ("hfft_axis0", lambda z: F.hfft(z, axis=0, norm="forward")),
    ("irfftn", lambda z: F.irfftn(z)),
    ("fftshift", lambda z: F.fftshift(z)),
    ("grad_of_irfft", lambda z: funcgrad.grad(lambda w: fnp.sum(F.irfft(w * w, n=4) ** 2))(z)),
    ("vjp_of_fft", lambda z: funcgrad.vjp(lambda w: F.fft(w * w, axis=0), z)[1](Z23)[0]),
]


@pytest.mark.parametrize("axis", [0, 2])
@pytest.mark.parametrize("f", [pytest.param(f, id=n) for n, f in VMAPPED])
def test_vmap_of_complex_transforms_matches_a_loop(f: Callable[[Any], Any], axis: int) -> None:
    zs = np.stack([Z23, 2 * Z23 + 1j, np.conj(Z23)], axis=axis)
    np.testing.assert_allclose(funcgrad.vmap(f, in_axes=axis)(zs), _loop(f, zs, axis),
                               rtol=1e-12, atol=1e-12)


def test_jit_of_complex_transforms_and_their_gradients() -> None:
    def f(z: Any) -> Any:
        return fnp.sum(F.hfft(F.ifft(z * z, axis=0), n=4) ** 2)

    np.testing.assert_allclose(funcgrad.jit(f)(Z23), f(Z23), rtol=1e-12)
    np.testing.assert_allclose(funcgrad.jit(funcgrad.grad(f))(Z23), funcgrad.grad(f)(Z23),
                               rtol=1e-12)


def test_a_transform_is_one_equation() -> None:
    graph = funcgrad.make_graph(lambda z: F.fft(z, axis=0, norm="ortho"))(Z23)
    assert [e.prim.name for e in graph.eqns] == ["fft"]
    assert "fft[kind=fft, lengths=(2,), axes=(0,), norm=ortho]" in str(graph)


# ---------------------------------------------------------------------------- errors


def _traced(f: Callable[[Any], Any], x: NDArray) -> None:
    funcgrad.make_graph(f)(x)


def test_errors_name_the_function_and_the_argument() -> None:
    with pytest.raises(ValueError, match=r"fft\.fft: invalid norm value 'unitary'"):
        bad: Any = "unitary"
        _traced(lambda z: F.fft(z, norm=bad), Z4)
    with pytest.raises(ValueError, match=r"fft\.irfft: invalid number of FFT data points \(0\)"):
        _traced(lambda z: F.irfft(z), Z4[:1])
    with pytest.raises(ValueError, match=r"fft\.rfft2: invalid number of FFT data points \(-2\)"):
        _traced(lambda x: F.rfft2(x, s=(2, -2)), X23)
    with pytest.raises(TypeError, match=r"fft\.rfft: the input must be real, got c128\[4\]"):
        _traced(F.rfft, Z4)
    with pytest.raises(ValueError, match=r"fft\.fftn: repeated axes \(0, -2\)"):
        _traced(lambda z: F.fftn(z, axes=(0, -2)), Z23)
    with pytest.raises(ValueError, match=r"fft\.irfftn: s \(4,\) and axes \(0, 1\) have "
                                          r"different lengths"):
        _traced(lambda z: F.irfftn(z, s=(4,), axes=(0, 1)), Z23)
    with pytest.raises(ShapeError, match=r"fft\.fft: axis 2 is out of bounds for an array of "
                                         r"dimension 2"):
        _traced(lambda z: F.fft(z, axis=2), Z23)
    with pytest.raises(ValueError, match=r"fft\.rfftn: no axes to transform"):
        _traced(lambda x: F.rfftn(x, axes=()), X23)


def test_an_empty_set_of_axes_leaves_the_array_alone() -> None:
    # as numpy's fftn does
    out, pullback = funcgrad.vjp(lambda z: F.fftn(z, axes=()), Z23)
    np.testing.assert_array_equal(out, np.fft.fftn(Z23, axes=()))
    np.testing.assert_array_equal(pullback(Z23)[0], Z23)


NUMPY_CALLS: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], NDArray]] = [
    (np.fft.fft, (6, 0, "ortho"), {}, Z4),
    (np.fft.irfft, (), {"n": 7, "norm": "forward"}, Z4),
    (np.fft.rfft2, (), {"s": (3, 4), "axes": (1, 0)}, X23),
    (np.fft.ifftn, (None, (0,)), {}, Z23),
    (np.fft.hfft, (), {"n": 5, "out": None}, Z4),
    (np.fft.fftshift, (), {"axes": 1}, Z23),
]


@pytest.mark.parametrize("func,args,kwargs,x", [pytest.param(*c, id=c[0].__name__)
                                                for c in NUMPY_CALLS])
def test_numpys_fft_functions_given_traced_values_run_fnp_fft(
        func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
        x: NDArray) -> None:
    ours = getattr(F, func.__name__)
    kw = {k: v for k, v in kwargs.items() if k != "out"}
    graph = funcgrad.make_graph(lambda a: func(a, *args, **kwargs))(x)
    assert str(graph) == str(funcgrad.make_graph(lambda a: ours(a, *args, **kw))(x))
    out = np.asarray(graph(x))
    np.testing.assert_allclose(out, func(x, *args, **kwargs), rtol=1e-12, atol=1e-12)
    ct = cotangent(out.shape, np.iscomplexobj(out))
    (g,) = funcgrad.vjp(lambda a: func(a, *args, **kwargs), x)[1](ct)
    np.testing.assert_array_equal(g, funcgrad.vjp(lambda a: ours(a, *args, **kw), x)[1](ct)[0])
