"""numpy's own functions given traced values (NEP 18's __array_function__): np.sum(t) runs
funcgrad.numpy's sum, so it traces to the same graph and differentiates, under grad, jit
and vmap; numpy's arguments are matched by name; a function funcgrad has no version of,
and the conversions numpy does itself (np.mean([t1, t2]), np.r_[t, t]), fail with what to
write instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import ConcretizationError, grad, jit, make_graph, vmap
from funcgrad.testing import check_grads

RNG = np.random.default_rng(3)
A = RNG.standard_normal((2, 3))  # a constant operand
B3 = RNG.standard_normal(3)


def uses(name: str, np_fn: Callable[..., Any], fnp_fn: Callable[..., Any],
         *shapes: tuple[int, ...]) -> Any:
    return pytest.param(np_fn, fnp_fn, shapes, id=name)


# Each function written once with numpy's functions and once with funcgrad.numpy's.
FUNCTIONS = [
    uses("sum", lambda t: np.sum(t * t), lambda t: fnp.sum(t * t), (2, 3)),
    uses("sum_keepdims", lambda t: np.sum(t, axis=1, keepdims=True),
         lambda t: fnp.sum(t, 1, keepdims=True), (2, 3)),
    uses("mean_axis", lambda t: np.mean(t, axis=0), lambda t: fnp.mean(t, 0), (2, 3)),
    uses("concatenate", lambda t: np.concatenate([t, A]), lambda t: fnp.concatenate([t, A]),
         (2, 3)),
    uses("concatenate_axis", lambda t: np.concatenate((A, t, t), axis=1),
         lambda t: fnp.concatenate((A, t, t), axis=1), (2, 3)),
    uses("stack", lambda t: np.stack([t, A], axis=-1), lambda t: fnp.stack([t, A], axis=-1),
         (2, 3)),
    uses("where", lambda t: np.where(t > 0, t, 0) ** 2, lambda t: fnp.where(t > 0, t, 0) ** 2,
         (2, 3)),
    uses("dot", lambda t: np.dot(t, B3), lambda t: fnp.dot(t, B3), (2, 3)),
    uses("dot_constant_first", lambda t: np.dot(A, t), lambda t: fnp.dot(A, t), (3, 2)),
    uses("reshape", lambda t: np.reshape(t, (3, 2)), lambda t: fnp.reshape(t, (3, 2)), (2, 3)),
    uses("reshape_keyword", lambda t: np.reshape(t, shape=-1), lambda t: fnp.reshape(t, -1),
         (2, 3)),
    uses("transpose", lambda t: np.transpose(t), lambda t: fnp.transpose(t), (2, 3)),
    uses("transpose_axes", lambda t: np.transpose(t, (1, 0)) @ A,
         lambda t: fnp.transpose(t, (1, 0)) @ A, (2, 3)),
    uses("einsum", lambda t: np.einsum("ij,kj->ik", t, A),
         lambda t: fnp.einsum("ij,kj->ik", t, A), (2, 3)),
    uses("tensordot", lambda t: np.tensordot(t, A, axes=([0, 1], [0, 1])),
         lambda t: fnp.tensordot(t, A, axes=([0, 1], [0, 1])), (2, 3)),
    uses("cross", lambda t: np.cross(t, B3), lambda t: fnp.cross(t, B3), (2, 3)),
    uses("convolve", lambda t: np.convolve(t, B3, mode="same"),
         lambda t: fnp.convolve(t, B3, "same"), (5,)),
    uses("kron", lambda t, u: np.kron(t, u), lambda t, u: fnp.kron(t, u), (2, 3), (2, 2)),
    uses("inner", lambda t, u: np.inner(t, u), lambda t, u: fnp.inner(t, u), (2, 3), (3,)),
]


def squared(f: Callable[..., Any]) -> Callable[..., Any]:
    """The sum of f's squared outputs: a scalar loss."""
    return lambda *xs: fnp.sum(f(*xs) ** 2)


def inputs(shapes: tuple[tuple[int, ...], ...], seed: int = 0) -> list[np.ndarray[Any, Any]]:
    """Values with 0.5 <= |x| < 2: away from where's kink at 0."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 2.0, s) * rng.choice([-1.0, 1.0], s) for s in shapes]


@pytest.mark.parametrize("np_fn, fnp_fn, shapes", FUNCTIONS)
def test_numpy_function_traces_to_funcgrads_graph(np_fn: Any, fnp_fn: Any,
                                                  shapes: Any) -> None:
    args = inputs(shapes)
    assert str(make_graph(np_fn)(*args)) == str(make_graph(fnp_fn)(*args))


@pytest.mark.parametrize("np_fn, fnp_fn, shapes", FUNCTIONS)
def test_numpy_function_under_grad(np_fn: Any, fnp_fn: Any, shapes: Any) -> None:
    args = inputs(shapes)
    check_grads(np_fn, args, order=2)  # against finite differences of numpy itself
    argnums = tuple(range(len(args)))
    for got, want in zip(grad(squared(np_fn), argnums=argnums)(*args),
                         grad(squared(fnp_fn), argnums=argnums)(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("np_fn, fnp_fn, shapes", FUNCTIONS)
def test_numpy_function_under_jit(np_fn: Any, fnp_fn: Any, shapes: Any) -> None:
    args = inputs(shapes)
    np.testing.assert_allclose(jit(np_fn)(*args), np_fn(*args), rtol=1e-12)


@pytest.mark.parametrize("np_fn, fnp_fn, shapes", FUNCTIONS)
def test_numpy_function_under_vmap(np_fn: Any, fnp_fn: Any, shapes: Any) -> None:
    batch = [np.stack(inputs((s,) * 4, seed=1)) for s in shapes]
    loop = np.stack([np_fn(*(b[i] for b in batch)) for i in range(4)])
    np.testing.assert_allclose(vmap(np_fn)(*batch), loop, rtol=1e-12)
    # per-example gradients through numpy's functions
    per_example = vmap(grad(squared(np_fn)))(*batch)
    expected = np.stack([grad(squared(fnp_fn))(*(b[i] for b in batch)) for i in range(4)])
    np.testing.assert_allclose(per_example, expected, rtol=1e-12)


def test_numpy_arguments_are_matched_by_name() -> None:
    t = RNG.standard_normal((2, 3))
    # numpy's names for the arrays (a, b) and the defaults it lets users spell out
    np.testing.assert_allclose(jit(lambda t: np.transpose(a=t))(t), t.T)
    np.testing.assert_allclose(jit(lambda t: np.dot(a=t, b=B3, out=None))(t), t @ B3)
    np.testing.assert_allclose(jit(lambda t: np.einsum("ij->", t, out=None, optimize=True))(t),
                               t.sum())
    # positional arguments in numpy's order (cross: a, b, axisa, axisb, axisc)
    u = RNG.standard_normal((3, 2))
    np.testing.assert_allclose(jit(lambda t: np.cross(t, u, 0, 0, 0))(u),
                               np.cross(u, u, 0, 0, 0))
    with pytest.raises(TypeError, match=r"np.einsum on a traced value runs funcgrad.numpy's "
                                        r"version, which has no argument 'dtype'"):
        jit(lambda t: np.einsum("ij->", t, dtype=np.float32))(t)


def test_numpy_inquiries_of_shape_and_dtype_still_answer() -> None:
    def f(t: Any) -> Any:
        assert np.shape(t) == (2, 3) and np.ndim(t) == 2
        assert np.size(t) == 6 and np.size(t, 1) == 3
        assert not np.iscomplexobj(t) and np.isrealobj(t)
        assert np.result_type(t, 1.0) == np.float32 and np.can_cast(t, np.float64)
        return fnp.sum(t)

    for transform in (grad, jit, vmap):
        transform(f)(np.ones((2, 2, 3) if transform is vmap else (2, 3), np.float32))


def test_numpy_function_without_a_funcgrad_version_is_named() -> None:
    with pytest.raises(TypeError, match=r"np.histogram2d has no funcgrad.numpy version, so "
                                        r"it cannot take a traced value \(f64\[3\]\).*fnp"):
        grad(lambda t: np.histogram2d(t, t)[0].sum())(np.ones(3))


def test_linalg_and_fft_functions_are_found_in_their_families(monkeypatch: Any) -> None:
    # A function another family adds (fnp.linalg.X, fnp.fft.X) is found by numpy's module
    # and name, with nothing to register here.
    calls = []

    def fake(x: Any, ord: Any = None) -> Any:
        calls.append(ord)
        return fnp.sum(x * x)

    for family, numpy_fn in ((fnp.linalg, np.linalg.norm), (fnp.fft, np.fft.fft)):
        monkeypatch.setattr(family, numpy_fn.__name__, fake, raising=False)
        monkeypatch.setattr(family, "__all__", [*family.__all__, numpy_fn.__name__])
    np.testing.assert_allclose(grad(lambda t: np.linalg.norm(t, ord=2))(B3), 2 * B3)
    np.testing.assert_allclose(grad(lambda t: np.fft.fft(t))(B3), 2 * B3)
    assert calls == [2, None]


def test_foreign_array_types_get_their_own_implementation() -> None:
    class Other:
        def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> str:
            return "other"

    results = []

    def f(t: Any) -> Any:
        results.append(np.concatenate([t, Other()]))  # the tracer defers: NotImplemented
        return fnp.sum(t)

    grad(f)(np.ones(2))
    assert results == ["other"]


def test_a_list_of_traced_values_says_to_stack_them() -> None:
    t = np.array([1.0, 2.0])
    with pytest.raises(ConcretizationError, match=r"np.mean converted it itself.*"
                                                  r"fnp.mean\(fnp.stack\(\[t1, t2\]\)\)"):
        grad(lambda t: np.mean([t, t]))(t)
    np.testing.assert_allclose(grad(lambda t: fnp.mean(fnp.stack([t, 2 * t])))(t), [0.75, 0.75])
    with pytest.raises(ConcretizationError, match=r"np.array and np.asarray cannot hold traced "
                                                  r"values: write fnp.asarray\(t\), or "
                                                  r"fnp.stack\(\[t, u\]\)"):
        jit(lambda t: np.array([t, t]))(t)


def test_r_and_c_say_to_concatenate() -> None:
    t = np.array([1.0, 2.0])
    builds: list[Callable[[Any], Any]] = [lambda t: np.r_[t, t], lambda t: np.c_[t, t]]
    for build in builds:
        with pytest.raises(ConcretizationError, match=r"np.r_\[...\] and np.c_\[...\] convert "
                                                      r"their items.*fnp.concatenate\(\[t, u\]\)"):
            grad(lambda t: fnp.sum(build(t)))(t)
    np.testing.assert_allclose(grad(lambda t: fnp.concatenate([t, t * t]).sum())(t), [3.0, 5.0])
