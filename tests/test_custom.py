"""Tests for user-defined derivatives (custom_vjp), checkpoint and debug_nans.

custom_vjp: the user's rule is what grad uses; rules written with funcgrad.numpy can be
differentiated again; pytrees in and out; errors that name the user's backward rule.
checkpoint: the same gradients, recomputation instead of storage (peak memory measured with
tracemalloc). debug_nans: the first primitive making a nan or inf is named, with its
equation and the user's line, under grad and jit; nothing changes outside the block.
"""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import checkpoint, config, custom_vjp, debug_nans, grad, jit, make_graph, tree, vmap

# ---------------------------------------------------------------------------- custom_vjp


@custom_vjp
def clip_gradient(x: Any) -> Any:
    """The identity, whose gradient is clipped to [-1, 1] on the way back."""
    return x


def clip_fwd(x: Any) -> tuple[Any, None]:
    return x, None


def clip_bwd(residuals: None, g: Any) -> tuple[Any]:
    return (fnp.clip(g, -1.0, 1.0),)


clip_gradient.defvjp(clip_fwd, clip_bwd)


def test_user_rule_clips_the_gradient() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    w = np.array([0.5, 3.0, -4.0, -0.25])

    def f(x: Any) -> Any:
        return fnp.sum(clip_gradient(x) * w)

    np.testing.assert_array_equal(f(x), np.sum(x * w))  # the value is untouched
    np.testing.assert_array_equal(grad(f)(x), [0.5, 1.0, -1.0, -0.25])
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(x * w))(x), w)  # without: unclipped
    # the clip acts on the cotangent arriving at the custom function, after the chain rule
    g = grad(lambda x: fnp.sum(clip_gradient(x * 10.0) * w))(x)
    np.testing.assert_array_equal(g, [5.0, 10.0, -10.0, -2.5])


def test_rules_are_traced_only_under_grad() -> None:
    calls: list[str] = []

    @custom_vjp
    def f(x: Any) -> Any:
        calls.append("f")
        return fnp.sin(x)

    def f_fwd(x: Any) -> tuple[Any, Any]:
        calls.append("fwd")
        return fnp.sin(x), fnp.cos(x)

    def f_bwd(cos_x: Any, g: Any) -> tuple[Any]:
        calls.append("bwd")
        return (g * cos_x,)

    f.defvjp(f_fwd, f_bwd)
    x = np.array([0.1, 0.2])
    np.testing.assert_array_equal(f(x), np.sin(x))
    assert calls == ["f"]
    calls.clear()
    np.testing.assert_allclose(grad(lambda x: fnp.sum(f(x)))(x), np.cos(x), rtol=1e-15)
    assert calls == ["f", "fwd", "bwd"]  # f is traced for its graph; the rules run
    calls.clear()
    make_graph(f)(x)  # other transformations need f alone: the rules are never traced
    assert calls == ["f"]
    calls.clear()
    jf = jit(f)
    jf(x)
    jf(x + 1.0)
    assert calls == ["f"]


@custom_vjp
def softplus(x: Any) -> Any:
    """log(1 + exp(x)), with the derivative sigmoid(x) written as a rule."""
    return fnp.log1p(fnp.exp(-fnp.abs(x))) + fnp.maximum(x, 0.0)


def softplus_fwd(x: Any) -> tuple[Any, Any]:
    return softplus(x), x


def softplus_bwd(x: Any, g: Any) -> tuple[Any]:
    return (g / (1.0 + fnp.exp(-x)),)


softplus.defvjp(softplus_fwd, softplus_bwd)


def test_second_order_through_a_rule_written_with_fnp() -> None:
    x = np.array([-3.0, -0.5, 0.0, 0.7, 4.0])
    s = 1.0 / (1.0 + np.exp(-x))
    g1 = grad(lambda x: fnp.sum(softplus(x)))
    np.testing.assert_allclose(g1(x), s, rtol=1e-15)
    g2 = grad(lambda x: fnp.sum(g1(x)))(x)
    np.testing.assert_allclose(g2, s * (1 - s), rtol=1e-12)
    h = funcgrad.hessian(lambda x: fnp.sum(softplus(x)))(x)
    np.testing.assert_allclose(h, np.diag(s * (1 - s)), rtol=1e-12, atol=1e-15)
    # third order: d/dx s(1 - s) = s(1 - s)(1 - 2s)
    g3 = grad(lambda x: fnp.sum(grad(lambda x: fnp.sum(g1(x)))(x)))(x)
    np.testing.assert_allclose(g3, s * (1 - s) * (1 - 2 * s), rtol=1e-10, atol=1e-15)


def test_second_order_uses_the_rule_not_the_function() -> None:
    """A rule that is not f's true derivative: the second derivative is the rule's own."""

    @custom_vjp
    def f(x: Any) -> Any:
        return fnp.sin(x)

    f.defvjp(lambda x: (fnp.sin(x), x), lambda x, g: (g * x ** 2,))  # claims f' = x**2
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(grad(lambda x: fnp.sum(f(x)))(x), x ** 2, rtol=1e-15)
    np.testing.assert_allclose(grad(lambda x: fnp.sum(grad(lambda x: fnp.sum(f(x)))(x)))(x),
                               2 * x, rtol=1e-15)


@custom_vjp
def affine(p: dict[str, Any], xs: tuple[Any, Any]) -> dict[str, Any]:
    return {"y": p["w"] * xs[0] + p["b"], "z": fnp.sum(xs[1]) * p["b"]}


def affine_fwd(p: dict[str, Any], xs: tuple[Any, Any]) -> tuple[Any, Any]:
    return affine(p, xs), (p, xs)


def affine_bwd(res: Any, g: dict[str, Any]) -> tuple[Any, Any]:
    p, (x0, x1) = res
    gy, gz = g["y"], g["z"]
    # deliberately 10x the true gradient of w, to see that this rule is what grad uses
    gp = {"w": 10.0 * gy * x0, "b": gy + gz * fnp.sum(x1)}
    gxs = (gy * p["w"], fnp.broadcast_to(fnp.sum(gz * p["b"]), x1.shape))
    return gp, gxs


affine.defvjp(affine_fwd, affine_bwd)


def test_pytree_arguments_and_outputs() -> None:
    p = {"w": np.array([1.0, 2.0]), "b": np.array([0.5, -1.0])}
    xs = (np.array([3.0, 4.0]), np.array([1.0, 1.0, 2.0]))
    out = affine(p, xs)
    np.testing.assert_array_equal(out["y"], [3.5, 7.0])
    np.testing.assert_array_equal(out["z"], [2.0, -4.0])

    def loss(p: Any, xs: Any) -> Any:
        o = affine(p, xs)
        return fnp.sum(o["y"] * np.array([1.0, 2.0])) + fnp.sum(o["z"])

    gp, gxs = grad(loss, argnums=(0, 1))(p, xs)
    assert tree.structure(gp) == tree.structure(p)
    assert tree.structure(gxs) == tree.structure(xs)
    gy = np.array([1.0, 2.0])
    np.testing.assert_array_equal(gp["w"], 10.0 * gy * xs[0])
    np.testing.assert_array_equal(gp["b"], gy + 4.0)
    np.testing.assert_array_equal(gxs[0], gy * p["w"])
    np.testing.assert_array_equal(gxs[1], np.full(3, -0.5))


def test_multiple_outputs_and_a_none_gradient() -> None:
    @custom_vjp
    def f(x: Any, n: int) -> tuple[Any, Any]:
        return x * n, fnp.sin(x)

    def f_fwd(x: Any, n: int) -> tuple[Any, Any]:
        return f(x, n), (x, n)

    def f_bwd(res: Any, g: tuple[Any, Any]) -> tuple[Any, None]:
        x, n = res
        return g[0] * n + g[1] * fnp.cos(x), None  # the int argument gets no gradient

    f.defvjp(f_fwd, f_bwd)
    x = np.array([0.3, 1.2])

    def loss(x: Any) -> Any:
        a, b = f(x, 3)
        return fnp.sum(a * 2.0) + fnp.sum(b)

    np.testing.assert_allclose(grad(loss)(x), 6.0 + np.cos(x), rtol=1e-15)
    # only one output used: the other's cotangent is zero
    np.testing.assert_allclose(grad(lambda x: fnp.sum(f(x, 3)[1]))(x), np.cos(x), rtol=1e-15)


def test_custom_vjp_under_jit_and_vmap() -> None:
    x = np.array([1.0, 2.0, 3.0])
    w = np.array([0.5, 3.0, -4.0])

    def f(x: Any) -> Any:
        return fnp.sum(clip_gradient(x) * w)

    jg = jit(grad(f))
    np.testing.assert_array_equal(jg(x), [0.5, 1.0, -1.0])
    np.testing.assert_array_equal(jg(x + 1.0), [0.5, 1.0, -1.0])
    assert jg.trace_count == 1
    xs = np.stack([x, -x, 2 * x])
    per_row = vmap(grad(lambda x: fnp.sum(softplus(x))))(xs)
    np.testing.assert_allclose(per_row, 1.0 / (1.0 + np.exp(-xs)), rtol=1e-14)


def test_grad_of_jit_keeps_the_custom_rule() -> None:
    w = np.array([0.5, 3.0, -4.0])

    def f(x: Any) -> Any:
        return fnp.sum(clip_gradient(x) * w)

    np.testing.assert_array_equal(grad(jit(f))(np.ones(3)), [0.5, 1.0, -1.0])


def test_make_graph_of_custom_vjp_functions() -> None:
    x = np.ones(3, np.float32)
    text = str(make_graph(lambda x: fnp.sum(softplus(x)))(x))
    lines = text.splitlines()
    # one equation holding the function's graph, nested; the rules by name
    assert lines[:3] == ["graph(a:f32[3]) {",
                         "  b:f32[3] = custom_vjp_call[name=softplus, fwd=softplus_fwd, bwd=softplus_bwd] a",
                         "    fun: graph(c:f32[3]) {"]
    for name in ("abs", "neg", "exp", "log1p", "max", "add"):
        assert any(re.fullmatch(rf"      \w+:f32\[3\] = {name} .*", line) for line in lines), name
    assert "  j:f32[] = reduce_sum[axes=(0,)] b" in lines
    # grad's graph calls the user's forward rule, then the backward rule g / (1 + exp(-x))
    gtext = str(make_graph(grad(lambda x: fnp.sum(softplus(x))))(x))
    glines = gtext.splitlines()
    assert glines[0] == "graph(a:f32[3]) {"
    fwd = next(i for i, line in enumerate(glines) if "= call[name=softplus_fwd] a" in line)
    bwd = next(i for i, line in enumerate(glines) if "= call[name=softplus_bwd]" in line)
    assert fwd < bwd
    assert any(re.fullmatch(r"      \w+:f32\[3\] = div \w+ \w+", line) for line in glines[bwd:])
    assert any(re.fullmatch(r"      \w+:f32\[3\] = add 1\.0:f32\[\] \w+", line)
               for line in glines[bwd:])


# ---------------------------------------------------------------------------- errors


@custom_vjp
def double(x: Any) -> Any:
    return x * 2.0


def double_fwd(x: Any) -> tuple[Any, None]:
    return x * 2.0, None


def bwd_too_many(res: None, g: Any) -> tuple[Any, Any]:
    return g * 2.0, g


def bwd_not_a_tuple(res: None, g: Any) -> Any:
    return g * 2.0


def bwd_wrong_shape(res: None, g: Any) -> tuple[Any]:
    return (fnp.sum(g),)


def bwd_wrong_dtype(res: None, g: Any) -> tuple[Any]:
    return (fnp.astype(g, np.float32),)


@pytest.mark.parametrize("bwd,match", [
    (bwd_too_many, r"custom_vjp: the backward rule bwd_too_many of double must return a "
                   r"tuple with one entry per argument \(1\), got a tuple of 2"),
    (bwd_not_a_tuple, r"the backward rule bwd_not_a_tuple of double must return a tuple .* "
                      r"got a single array"),
    (bwd_wrong_shape, r"custom_vjp: the backward rule bwd_wrong_shape returned, for argument "
                      r"0, a f64\[\] gradient; the argument is f64\[3\]"),
    (bwd_wrong_dtype, r"the backward rule bwd_wrong_dtype returned, for argument 0, a "
                      r"f32\[3\] gradient; the argument is f64\[3\]"),
])
def test_errors_name_the_users_backward_rule(bwd: Callable[..., Any], match: str) -> None:
    double.defvjp(double_fwd, bwd)
    try:
        with pytest.raises(TypeError, match=match):
            grad(lambda x: fnp.sum(double(x)))(np.ones(3))
    finally:
        double.defvjp(double_fwd, lambda res, g: (g * 2.0,))
    np.testing.assert_array_equal(grad(lambda x: fnp.sum(double(x)))(np.ones(3)), [2.0] * 3)


def test_error_wrong_structure_for_a_pytree_argument() -> None:
    @custom_vjp
    def first(d: dict[str, Any]) -> Any:
        return d["a"] * 1.0

    def bad_bwd(res: None, g: Any) -> tuple[Any]:
        return ([g],)

    first.defvjp(lambda d: (first(d), None), bad_bwd)
    with pytest.raises(TypeError, match=r"the backward rule bad_bwd returned, for argument 0, "
                                        r"the structure PyTreeDef\(\[\*\]\); the argument has "
                                        r"PyTreeDef\(\{'a': \*\}\)"):
        grad(lambda d: fnp.sum(first(d)))({"a": np.ones(2)})


def test_error_calling_without_defvjp() -> None:
    @custom_vjp
    def undefined(x: Any) -> Any:
        return x

    message = (r"custom_vjp function undefined has no rules yet: call undefined.defvjp\(fwd, "
               r"bwd\) first")
    with pytest.raises(TypeError, match=message):
        undefined(np.ones(2))
    with pytest.raises(TypeError, match=message):
        grad(lambda x: fnp.sum(undefined(x)))(np.ones(2))


# ---------------------------------------------------------------------------- checkpoint


def block(x: Any) -> Any:
    """Ten elementwise operations (their derivatives 1 + tanh'(x) stay in (1, 2])."""
    for _ in range(5):
        x = fnp.tanh(x) + x
    return x


def chain(x: Any, blk: Callable[[Any], Any]) -> Any:
    for _ in range(10):
        x = blk(x)
    return fnp.sum(x)


def test_checkpoint_gives_the_same_gradients() -> None:
    x = np.linspace(-2.0, 2.0, 7)
    plain = grad(chain)(x, block)
    ckpt = grad(chain)(x, checkpoint(block))
    np.testing.assert_array_equal(ckpt, plain)  # the same operations, recomputed
    assert np.all(plain >= 1.0)
    # pytree and several arguments; the value too
    def two(p: Any, y: Any) -> Any:
        return fnp.tanh(p["w"] * y) + p["b"]

    p = {"w": np.array([0.5, -1.5]), "b": np.array([0.1, 0.2])}
    y = np.array([2.0, 0.3])

    def loss(p: Any, y: Any, f: Callable[..., Any]) -> Any:
        return fnp.sum(f(p, y) ** 2)

    v1, g1 = funcgrad.value_and_grad(loss, argnums=(0, 1))(p, y, two)
    v2, g2 = funcgrad.value_and_grad(loss, argnums=(0, 1))(p, y, checkpoint(two))
    assert float(v1) == float(v2)
    for a, b in zip(tree.leaves(g1), tree.leaves(g2)):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_recomputes_the_block_in_the_backward_pass() -> None:
    # A primitive that counts how often numpy runs it: checkpoint traces the block once,
    # runs it in the forward pass and again in the backward pass.
    runs: list[int] = []

    def counted_tanh(x: Any) -> Any:
        runs.append(x.size)
        return np.tanh(x)

    tanh_p = funcgrad.Primitive("counted_tanh", counted_tanh,
                                lambda x: funcgrad.ShapedArray(x.shape, x.dtype),
                                (lambda g, out, x: g * (1 - out * out),))

    def counted(x: Any) -> Any:
        for _ in range(5):
            x = tanh_p.bind(x) + x
        return x

    x = np.linspace(-1.0, 1.0, 5)
    grad(chain)(x, counted)
    assert len(runs) == 50
    runs.clear()
    np.testing.assert_array_equal(grad(chain)(x, checkpoint(counted)), grad(chain)(x, counted))
    assert len(runs) == 2 * 50 + 50  # checkpointed: forward, again backward; then plain
    runs.clear()
    np.testing.assert_array_equal(chain(x, checkpoint(counted)), chain(x, counted))
    assert len(runs) == 2 * 50  # no grad: each once


def test_checkpoint_second_order_and_under_jit() -> None:
    x = np.array([0.3, -0.8, 1.1])
    ck = checkpoint(block)

    def g_of(b: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return grad(lambda x: fnp.sum(b(x) ** 2))

    np.testing.assert_allclose(grad(lambda x: fnp.sum(g_of(ck)(x)))(x),
                               grad(lambda x: fnp.sum(g_of(block)(x)))(x), rtol=1e-12)
    jg = jit(g_of(ck))
    np.testing.assert_allclose(jg(x), g_of(block)(x), rtol=1e-13)
    assert jg.trace_count == 1


def peak_memory_of_grad(blk: Callable[[Any], Any], x: Any) -> tuple[int, Any]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        g = grad(chain)(x, blk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, g


def test_checkpoint_lowers_peak_memory_at_least_twofold() -> None:
    """10 blocks of 10 elementwise ops on 200k float32s: without checkpoint every op's
    output is kept for the backward pass (~100 x 0.8 MB); with it only each block's input,
    plus one block's recomputation at a time."""
    x = np.random.default_rng(0).standard_normal(200_000).astype(np.float32)
    peak_plain, g_plain = peak_memory_of_grad(block, x)
    peak_ckpt, g_ckpt = peak_memory_of_grad(checkpoint(block), x)
    assert g_ckpt.dtype == np.float32
    np.testing.assert_array_equal(g_ckpt, g_plain)
    assert peak_plain > 50 * x.nbytes  # the residuals really are kept without checkpoint
    assert peak_plain >= 2 * peak_ckpt, (peak_plain, peak_ckpt)


# ---------------------------------------------------------------------------- debug_nans


def log_loss(x: Any) -> Any:
    return fnp.sum(fnp.log(x) * 2.0)


BAD = np.array([1.0, -1.0])

# numpy's own warnings about the nans these tests make on purpose
quiet = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")


@quiet
def test_debug_nans_names_the_primitive_under_grad() -> None:
    with debug_nans():
        with pytest.raises(FloatingPointError) as info:
            grad(log_loss)(BAD)
    message = str(info.value)
    assert message.startswith("debug_nans: the primitive 'log' produced nan, in the equation")
    assert "\n  out:f64[2] = log a:f64[2] (at " in message  # the equation line
    assert "test_custom.py" in message  # and the user's line


@quiet
def test_debug_nans_reports_the_first_bad_primitive() -> None:
    def f(x: Any) -> Any:
        big = fnp.exp(x * 1000.0)  # inf here ...
        return fnp.sum(big - big)  # ... and only then nan

    with debug_nans(), pytest.raises(FloatingPointError,
                                     match=r"the primitive 'exp' produced inf"):
        grad(f)(np.array([1.0, 0.0]))
    with debug_nans(), pytest.raises(FloatingPointError,
                                     match=r"the primitive 'div' produced inf, in the equation\n  out:f32\[2\] = "
                                           r"div a:f32\[\] b:f32\[2\]"):
        grad(lambda x: fnp.sum(1.0 / x))(np.array([1.0, 0.0], np.float32))


@quiet
def test_debug_nans_under_jit() -> None:
    f = jit(log_loss)
    assert np.isnan(f(BAD))  # compiled and cached outside the block: no check
    with debug_nans(), pytest.raises(FloatingPointError) as info:
        f(BAD)  # the same cached graph, checked equation by equation
    assert "the primitive 'log' produced nan" in str(info.value)
    assert "out:f64[2] = log a:f64[2]" in str(info.value)
    assert f.trace_count == 1
    # jit(grad): the gradient 1/x of log needs no log (simplification dropped it), but
    # sqrt's gradient reads sqrt's output
    with debug_nans(), pytest.raises(FloatingPointError, match=r"'sqrt' produced nan"):
        jit(grad(lambda x: fnp.sum(fnp.sqrt(x))))(BAD)
    np.testing.assert_array_equal(jit(grad(log_loss))(BAD), [2.0, -2.0])


@quiet
def test_no_error_outside_debug_nans_and_for_finite_values() -> None:
    assert np.isnan(log_loss(BAD))
    g = grad(log_loss)(BAD)
    np.testing.assert_array_equal(g, [2.0, -2.0])
    assert np.isnan(jit(log_loss)(BAD))
    with debug_nans():
        np.testing.assert_allclose(grad(log_loss)(np.array([1.0, 2.0])), [2.0, 1.0])
        np.testing.assert_allclose(jit(log_loss)(np.array([1.0, np.e])), 2.0, rtol=1e-15)
        make_graph(log_loss)(BAD)  # no values while tracing, so nothing to check


def nans_checked() -> bool:
    return config.debug_nans


@quiet
def test_debug_nans_restores_the_setting() -> None:
    assert not nans_checked()
    with pytest.raises(FloatingPointError):
        with debug_nans():
            assert nans_checked()
            with debug_nans(False):
                assert not nans_checked()
                grad(log_loss)(BAD)  # disabled inside: no error
            assert nans_checked()
            grad(log_loss)(BAD)
    assert not nans_checked()  # restored after the exception too


@quiet
def test_debug_nans_eager_call() -> None:
    with debug_nans(), pytest.raises(FloatingPointError, match=r"'log' produced nan"):
        log_loss(BAD)


@quiet
def test_debug_nans_in_the_backward_pass() -> None:
    with debug_nans(), pytest.raises(FloatingPointError,
                                     match=r"the VJP rule of 'sqrt' for its argument a produced inf"):
        grad(lambda x: fnp.sum(fnp.sqrt(x)))(np.array([1.0, 0.0]))
