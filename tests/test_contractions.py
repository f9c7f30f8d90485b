"""Tests of the products that the shared case table does not cover: exact gradients of
einsum's traces and diagonals, einsum under nested vmap, its normalised graph and its
choice of contraction order, complex gradients in JAX's convention, dtypes, and errors."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import ShapeError, grad, jit, make_graph, vjp, vmap
from funcgrad.primitives import contractions as C
from funcgrad.testing import check_grads

RNG = np.random.default_rng(7)
X33 = RNG.standard_normal((3, 3))


# ---------------------------------------------------------------------------- einsum


def test_einsum_trace_gradient_is_the_identity() -> None:
    np.testing.assert_array_equal(grad(lambda x: fnp.einsum("ii->", x))(X33), np.eye(3))
    np.testing.assert_array_equal(grad(lambda x: fnp.einsum("ii", x))(X33), np.eye(3))


def test_einsum_diagonal_cotangent_lands_on_the_diagonal() -> None:
    out, pullback = vjp(lambda x: fnp.einsum("ii->i", x), X33)
    np.testing.assert_array_equal(out, np.diag(X33))
    (ct,) = pullback(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(ct, np.diag([1.0, 2.0, 3.0]))


def test_einsum_repeated_label_summed_alone_broadcasts_then_goes_on_the_diagonal() -> None:
    # 'iij->j': out[j] = sum_i z[i, i, j], so dz[i, k, j] = g[j] where i == k, else 0
    z = RNG.standard_normal((3, 3, 2))
    _, pullback = vjp(lambda z: fnp.einsum("iij->j", z), z)
    (ct,) = pullback(np.array([5.0, 7.0]))
    np.testing.assert_array_equal(ct, np.eye(3)[:, :, None] * np.array([5.0, 7.0]))


def test_einsum_trace_second_derivative() -> None:
    # f(x) = trace(x)^2 / 2: the Hessian-vector product with v is trace(v) * I
    v = RNG.standard_normal((3, 3))
    hvp = grad(lambda x: fnp.sum(grad(lambda y: fnp.einsum("ii", y) ** 2 / 2)(x) * v))(X33)
    np.testing.assert_allclose(hvp, np.trace(v) * np.eye(3))


def test_einsum_repeated_labels_under_nested_vmap() -> None:
    z = RNG.standard_normal((2, 4, 3, 3))
    w = RNG.standard_normal(3)

    def f(z: Any) -> Any:
        return fnp.einsum("ii,i->i", z, w)

    out = vmap(vmap(f))(z)
    np.testing.assert_allclose(out, np.einsum("abii,i->abi", z, w))
    per_example = vmap(vmap(grad(lambda z: fnp.sum(f(z) ** 2))))(z)
    expected = np.stack([np.stack([np.diag(2 * np.diag(zz) * w * w) for zz in zs]) for zs in z])
    np.testing.assert_allclose(per_example, expected)


def test_einsum_with_every_batched_subset_matches_numpy() -> None:
    x, y = RNG.standard_normal((4, 2, 3)), RNG.standard_normal((4, 3, 3))
    for in_axes in ((0, 0), (0, None), (None, 0)):
        xs = x if in_axes[0] == 0 else x[0]
        ys = y if in_axes[1] == 0 else y[0]
        out = vmap(lambda a, b: fnp.einsum("...j,jj->...j", a, b), in_axes=in_axes)(xs, ys)
        loop = [np.einsum("...j,jj->...j", xs[i] if in_axes[0] == 0 else xs,
                          ys[i] if in_axes[1] == 0 else ys) for i in range(4)]
        np.testing.assert_allclose(out, np.stack(loop))


def test_einsum_graph_is_one_equation_with_the_spec_written_out() -> None:
    a, b = np.ones((1, 2, 3)), np.ones((5, 3, 4))
    text = str(make_graph(lambda a, b: fnp.einsum("...ij,...jk", a, b))(a, b))
    # '...' got a label of its own; a's axis of size 1 was dropped (numpy's broadcasting)
    assert "reshape[shape=(2, 3)] a" in text
    assert re.search(r"einsum\[spec=ij,(\w)jk->\1ik, optimize=auto\]", text), text
    assert text.count(" = ") == 2


def test_einsum_sublists_equal_the_string_form() -> None:
    x, y = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    for args in ((x, [0, 1], y, [1, 2], [0, 2]), (x, [0, 1], y, [1, 2]),
                 (x, [Ellipsis, 1], y, [1, 2], [Ellipsis, 2])):
        np.testing.assert_allclose(jit(lambda x, y, args=args: fnp.einsum(
            x, *args[1:2], y, *args[3:]))(x, y), np.einsum(*args))


def test_einsum_plans_the_order_only_where_it_pays() -> None:
    small, big = (4, 4), (64, 64)
    assert C._plan("ij,jk->ik", (small, small), "auto") is False
    assert C._plan("ij,jk->ik", (big, big), "auto") is True
    assert C._plan("ij,kl->ijkl", (big, big), "auto") is False  # nothing summed: no gain
    assert C._plan("ij,jk,kl->il", (small, small, small), "auto") is True
    assert C._plan("ii->i", (big,), "auto") is False
    assert C._plan("ij,jk->ik", (small, small), "optimal") == "optimal"


def test_einsum_explicit_path_is_accepted() -> None:
    x, y, z = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    path, _ = np.einsum_path("ij,jk,k->i", x, y, z, optimize="optimal")
    f = lambda x: fnp.einsum("ij,jk,k->i", x, y, z, optimize=path)  # noqa: E731
    np.testing.assert_allclose(jit(f)(x), np.einsum("ij,jk,k->i", x, y, z))
    check_grads(f, (x,), order=2)


def test_einsum_dtypes() -> None:
    x32 = np.ones(3, np.float32)
    assert jit(lambda x: fnp.einsum(",i->i", 2.0, x))(x32).dtype == np.float32  # weak scalar
    assert fnp.einsum(",i->i", 2.0, x32).dtype == np.float32
    assert jit(lambda x: fnp.einsum("i,i", x, np.ones(3)))(x32).dtype == np.float64
    ints = np.arange(6).reshape(2, 3)
    out = jit(lambda x: fnp.einsum("ij,ij->i", x, ints))(ints)
    np.testing.assert_array_equal(out, np.einsum("ij,ij->i", ints, ints))
    assert out.dtype == ints.dtype


@pytest.mark.parametrize("args, pattern", [
    (("ij,jk", np.ones((2, 3))), r"names 2 operands, got 1"),
    (("ij", np.ones(3)), r"operand 0 has shape \(3,\), but 'ij' names 2 axes"),
    (("ij,jk", np.ones((2, 3)), np.ones((4, 5))), r"label 'j' has sizes 3 and 4"),
    (("ii->i", np.ones((2, 3))), r"label 'i' repeated in operand 0 has sizes 2 and 3"),
    (("ij->ii", np.ones((2, 2))), r"output labels must be distinct"),
    (("ij->k", np.ones((2, 2))), r"output labels must be distinct and each appear"),
    (("...i->i", np.ones((2, 3))), r"the output must have '...'"),
    (("i.j", np.ones((2, 3))), r"'.' that is not part of one '...'"),
    (("i3", np.ones((2, 3))), r"subscripts may hold letters"),
    (("i-j", np.ones((2, 3))), r"subscripts may hold letters"),
    (("ij->i->j", np.ones((2, 3))), r"subscripts may hold letters, ',', '...' and one '->'"),
    ((np.ones(2), [0], np.ones(2), [52]), r"subscript 52 is not within the valid range"),
])
def test_einsum_errors(args: tuple[Any, ...], pattern: str) -> None:
    with pytest.raises((ShapeError, ValueError), match="einsum.*" + pattern):
        fnp.einsum(*args)
    # the same message with the operand traced (under grad, numpy would answer itself)
    at = 1 if isinstance(args[0], str) else 0
    with pytest.raises((ShapeError, ValueError), match="einsum.*" + pattern):
        grad(lambda x: fnp.sum(fnp.einsum(*args[:at], x, *args[at + 1:])))(args[at])


def test_einsum_optimize_errors() -> None:
    with pytest.raises(ValueError, match="optimize must be True, False, 'greedy', 'optimal'"):
        fnp.einsum("i,i", np.ones(2), np.ones(2), optimize="fast")
    with pytest.raises(ValueError, match="starts with 'einsum_path'"):
        fnp.einsum("i,i", np.ones(2), np.ones(2), optimize=[(0, 1)])


def test_einsum_runs_out_of_labels_with_a_clear_error() -> None:
    spec = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    x = np.ones((1,) * 52)
    assert fnp.einsum(spec + "->", x).shape == ()
    with pytest.raises(ShapeError, match=r"einsum: needs 1 more labels.*52 \(a-z, A-Z\)"):
        vmap(lambda x: fnp.einsum(spec + "->", x))(np.ones((2,) + (1,) * 52))


# ---------------------------------------------------------------------------- other products


def test_complex_vdot_and_correlate_gradients_follow_jax() -> None:
    # JAX's convention: the gradient of a real L(z) is dL/dx - i dL/dy. For
    # L = Re vdot(a, v) = Re sum conj(a) v it is conj(v); for L = Re sum correlate(a, v, 'full')
    # = Re (sum a)(sum conj v) it is conj(sum v) everywhere (values checked against JAX).
    a = RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
    v = RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
    np.testing.assert_allclose(grad(lambda a: fnp.real(fnp.vdot(a, v)))(a), np.conj(v))
    g = grad(lambda a: fnp.real(fnp.sum(fnp.correlate(a, v[:3], "full"))))(a)
    np.testing.assert_allclose(g, np.full(5, np.conj(np.sum(v[:3]))))
    for mode in ("valid", "same", "full"):
        np.testing.assert_allclose(jit(lambda a, v: fnp.correlate(a, v, mode))(a, v[:3]),
                                   np.correlate(a, v[:3], mode))
        np.testing.assert_allclose(jit(lambda a, v: fnp.correlate(a, v, mode))(v[:3], a),
                                   np.correlate(v[:3], a, mode))


def test_cross_of_2_vectors_does_not_warn() -> None:
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(fnp.cross(a, b)) == -2.0
        np.testing.assert_array_equal(grad(lambda a: fnp.cross(a, b))(a), [4.0, -3.0])


def test_products_with_a_constant_scalar() -> None:
    x = RNG.standard_normal((2, 3))
    for f, expected in ((lambda x: fnp.kron(2.0, x), 2 * x), (lambda x: fnp.inner(x, 3.0), 3 * x),
                        (lambda x: fnp.tensordot(2.0, x, 0), 2 * x)):
        np.testing.assert_allclose(jit(f)(x), expected)
        check_grads(f, (x,), order=1)


def test_sliding_dot_batches_leading_axes_in_one_call() -> None:
    x, k = RNG.standard_normal((3, 7)), RNG.standard_normal((3, 4))
    expected = np.stack([np.correlate(xi, ki, "valid") for xi, ki in zip(x, k)])
    np.testing.assert_allclose(C.sliding_dot_p.bind(x, k), expected)
    text = str(make_graph(vmap(lambda a, v: fnp.convolve(a, v, "valid")))(x, k))
    assert text.count("sliding_dot") == 1


@pytest.mark.parametrize("f, pattern", [
    (lambda x: fnp.cross(x, np.ones(4)), r"cross: vectors must have 2 or 3 components, got 3 .* "
                                         r"and 4"),
    (lambda x: fnp.cross(np.ones((2, 3)), np.ones((4, 3)) * x[0]),
     r"cross: the shapes \(2, 3\) and \(4, 3\) do not broadcast"),
    (lambda x: fnp.convolve(x, np.ones((2, 2))), r"convolve: a and v must be non-empty 1-D"),
    (lambda x: fnp.correlate(x, np.ones(0)), r"correlate: a and v must be non-empty 1-D"),
    (lambda x: fnp.convolve(x, x, "middle"), r"convolve: mode must be 'valid', 'same' or 'full'"),
    (lambda x: fnp.tensordot(x, x, 2), r"tensordot: axes=2 but the operands have shapes"),
    (lambda x: fnp.tensordot(x, x, ([3], [0])), r"tensordot: axes \[3\] out of range for"),
    (lambda x: fnp.tensordot(x, np.ones(4), ([0], [0])), r"tensordot: shapes \(3,\) and \(4,\) "
                                                         r"do not fit"),
    (lambda x: fnp.inner(x, np.ones(4)), r"inner: the last axes of \(3,\) and \(4,\) differ"),
    (lambda x: fnp.vdot(x, np.ones(4)), r"vdot: a \(3,\) and b \(4,\) have different sizes"),
    (lambda x: fnp.matmul(np.ones((2, 2, 3)) * x, np.ones((3, 3, 1))),
     r"matmul: the batch dimensions of \(2, 2, 3\) and \(3, 3, 1\) do not broadcast"),
])
def test_product_errors(f: Any, pattern: str) -> None:
    with pytest.raises((ShapeError, ValueError), match=pattern):
        grad(lambda x: fnp.sum(f(x)))(np.ones(3))
