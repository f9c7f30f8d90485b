"""Tests for funcgrad.explain: the printed forward and backward passes and the returned
gradient, on a hand-checked example, the sheet's examples and nested graphs."""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
import softmax_xent as sx
from funcgrad import ConcretizationError, Explanation, lax, nn, random


def explained(f: Any, *args: Any, **options: Any) -> tuple[Explanation, str]:
    """explain's result and its printed text."""
    out = io.StringIO()
    result = fg.explain(f, file=out, **options)(*args)
    return result, out.getvalue()


def tanh_sum(x: Any) -> Any:
    return fnp.sum(fnp.tanh(x) * 2.0)


X = np.array([0.0, 0.5, 1.0])

# By hand: tanh(0.5) = 0.462117, tanh(1) = 0.761594; the sum 2 * 1.223711 = 2.447423; the
# gradient 2 * (1 - tanh(x)^2) = [2, 2 * 0.786448, 2 * 0.419974] = [2, 1.572895, 0.839949].
HAND_TEXT = """\
forward pass of tanh_sum: each equation and its value
  a:f64[3] = argument 0                     [0, 0.5, 1]
  b:f64[3] = tanh a                         [0, 0.4621, 0.7616]
  c:f64[3] = mul b 2.0:f64[]                [0, 0.9242, 1.523]
  d:f64[] = reduce_sum[axes=(0,)] c         2.447
value: d = 2.447
backward pass, the equations in reverse: ct v = d value / d v; a VJP rule
gives the ct of one input from g (the ct coming in), out (the equation's
value) and the inputs x, y, ...
  d:f64[] = reduce_sum[axes=(0,)] c
    ct in  d = 1
    rule   reduce_sum, for x = c: expand_reduced(g, x.shape, axes)
    ct out c = [1, 1, 1]
  c:f64[3] = mul b 2.0:f64[]
    ct in  c = [1, 1, 1]
    rule   mul, for x = b: g * y
    ct out b = [2, 2, 2]
  b:f64[3] = tanh a
    ct in  b = [2, 2, 2]
    rule   tanh, for x = a: g * (1 - out * out)
    ct out a = [2, 1.573, 0.8399]
gradient: the cotangents of the inputs
  argument 0 (a)                            [2, 1.573, 0.8399]
"""


def test_hand_checked_example_prints_each_step() -> None:
    (value, grad), text = explained(tanh_sum, X)
    assert text == HAND_TEXT
    assert value == pytest.approx(2.447423, abs=1e-6)
    np.testing.assert_allclose(grad, [2.0, 1.572895, 0.839949], atol=1e-6)


def test_hand_checked_numbers_at_full_precision() -> None:
    _, text = explained(tanh_sum, X, precision=8)
    t = np.tanh(X)
    found = {k: [float(v) for v in re.findall(r"-?[\d.]+(?:e[-+]\d+)?", rest)]
             for k, rest in re.findall(r"ct (?:in |out) (\w) = (.*)", text)}
    np.testing.assert_allclose(found["b"], [2.0, 2.0, 2.0])
    np.testing.assert_allclose(found["a"], 2.0 * (1.0 - t * t), rtol=1e-7)
    # cotangents come in before the rule and go out after it, from the output backwards
    order = [line.split()[:3] for line in text.splitlines() if line.strip().startswith("ct ")]
    assert order == [["ct", "in", "d"], ["ct", "out", "c"], ["ct", "in", "c"],
                     ["ct", "out", "b"], ["ct", "in", "b"], ["ct", "out", "a"]]


def test_explanation_type_and_unpacking() -> None:
    result, _ = explained(tanh_sum, X.astype(np.float32))
    assert isinstance(result, Explanation) and isinstance(result.value, np.ndarray)
    assert result.value.shape == () and result.value.dtype == np.float32
    assert result.grad.dtype == np.float32
    value, grad = result
    assert value is result.value and grad is result.grad


def test_default_file_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    fg.explain(tanh_sum)(X)
    assert capsys.readouterr().out == HAND_TEXT


def test_output_is_deterministic_and_width_limited() -> None:
    _, first = explained(nested_everything, XN, width=60, steps=1)
    _, second = explained(nested_everything, XN, width=60, steps=1)
    assert first == second
    assert max(map(len, first.splitlines())) <= 60


# ---------------------------------------------------------------------------- the sheet


@pytest.mark.parametrize("row", range(3))
def test_task41_nll_gradient_is_softmax_minus_onehot(row: int) -> None:
    z, label = sx.LOGITS[row], int(sx.LABELS[row])
    (value, grad), text = explained(sx.nll, z, label)
    assert value == pytest.approx(sx.EXPECTED_XENT[row], abs=1e-6)
    np.testing.assert_allclose(grad, sx.gradient_formula(z, label), atol=1e-12)
    np.testing.assert_allclose(grad, fg.grad(sx.nll)(z, label), rtol=1e-12)
    for name in ["reduce_max", "stop_gradient", "exp", "reduce_sum", "log", "sub", "gather",
                 "neg"]:
        assert f" = {name}" in text


def test_task41_mean_cross_entropy_of_all_rows() -> None:
    def loss(z: Any) -> Any:
        return nn.cross_entropy(z, sx.LABELS)

    (value, grad), _ = explained(loss, sx.LOGITS)
    assert value == pytest.approx(np.mean(sx.EXPECTED_XENT), abs=1e-6)
    np.testing.assert_allclose(grad, fg.grad(loss)(sx.LOGITS), rtol=1e-12)


def test_conv2d_layer_keeps_float32() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)

    def conv_loss(w: Any, x: Any) -> Any:
        return fnp.sum(nn.relu(nn.conv2d(x, w)) ** 2)

    out = io.StringIO()
    value, (gw, gx) = fg.explain(conv_loss, argnums=(0, 1), file=out)(w, x)
    rw, rx = fg.grad(conv_loss, argnums=(0, 1))(w, x)
    assert value.dtype == gw.dtype == gx.dtype == np.float32
    np.testing.assert_allclose(gw, rw, rtol=1e-5)
    np.testing.assert_allclose(gx, rx, rtol=1e-5)
    text = out.getvalue()
    assert "c:f32[2,3,3,3] = conv2d[stride=(1, 1), dilation=(1, 1), groups=1] b a" in text
    assert "rule   conv2d, for x = b: (ct, y, x, k) -> conv2d_input_grad_p" in text
    assert "argument 0 (a)" in text and "argument 1 (b)" in text


def test_gradcam_class_score_by_feature_maps() -> None:
    head = nn.serial(nn.Flatten, nn.Linear(4), nn.Relu, nn.Linear(3))
    _, params = head.init(random.key(0), (1, 2, 2, 2))
    maps = np.asarray(random.normal(random.key(1), (1, 2, 2, 2), dtype=np.float32))

    def score(a: Any) -> Any:
        return head.apply(params, a)[0, 2]

    (_, grad), text = explained(score, maps)
    np.testing.assert_allclose(grad, fg.grad(score)(maps), rtol=1e-6)
    assert "= constant" in text and "rule   matmul" in text


def test_pytree_arguments_are_labelled_by_path() -> None:
    def loss(p: Any, x: Any) -> Any:
        return fnp.sum(fnp.tanh(x @ p["W"] + p["b"]))

    p = {"W": np.ones((3, 2)) * 0.1, "b": np.array([0.5, -0.5])}
    x = np.arange(6.0).reshape(2, 3)
    (_, grad), text = explained(loss, p, x)
    ref = fg.grad(loss)(p, x)
    np.testing.assert_allclose(grad["W"], ref["W"], rtol=1e-12)
    np.testing.assert_allclose(grad["b"], ref["b"], rtol=1e-12)
    assert "a:f64[3,2] = argument 0['W']" in text and "b:f64[2] = argument 0['b']" in text


# ---------------------------------------------------------------------------- nested graphs


@fg.custom_vjp
def halved_sin(x: Any) -> Any:
    return fnp.sin(x)


def halved_sin_fwd(x: Any) -> Any:
    return fnp.sin(x), (fnp.cos(x),)


def halved_sin_bwd(res: Any, g: Any) -> Any:
    return (g * res[0] * 0.5,)  # half the true derivative, so the rule is seen to be used


halved_sin.defvjp(halved_sin_fwd, halved_sin_bwd)


@fg.custom_jvp
def softplus(x: Any) -> Any:
    return fnp.log1p(fnp.exp(x))


@softplus.defjvp
def softplus_jvp(primals: Any, tangents: Any) -> Any:
    (x,), (t,) = primals, tangents
    return softplus(x), t / (1.0 + fnp.exp(-x))


scaled_tanh = fg.jit(lambda x: fnp.tanh(x) * 3.0)


def nested_everything(x: Any) -> Any:
    y = scaled_tanh(x)
    y = lax.cond(fnp.sum(y) > 0, fnp.sin, fnp.cos, y)

    def step(c: Any, xi: Any) -> Any:
        c = c * fnp.tanh(xi) + halved_sin(xi)
        return c, scaled_tanh(c)

    c, ys = lax.scan(step, np.float64(0.5), y)
    w = lax.while_loop(lambda v: fnp.sum(fnp.abs(v)) < 4.0, lambda v: v * 1.5, ys)
    z = fg.checkpoint(lambda v: fnp.exp(v) * 0.1)(w)
    return fnp.sum(softplus(z)) + c


XN = np.array([0.3, -0.2, 0.5])


def test_nested_graphs_give_grads_gradient() -> None:
    (value, grad), text = explained(nested_everything, XN)
    np.testing.assert_allclose(value, nested_everything(XN), rtol=1e-12)
    np.testing.assert_allclose(grad, fg.grad(nested_everything)(XN), rtol=1e-10)
    for prim in ["call", "cond", "scan", "while", "checkpoint", "custom_vjp_call",
                 "custom_jvp_call"]:
        assert f" = {prim}[" in text or f" = {prim} " in text
    for rule in ["rule   call: the backward pass of its body",
                 "rule   cond: the backward pass of the branch that ran",
                 "rule   scan: its body's backward pass",
                 "rule   while: its body's backward pass",
                 "rule   checkpoint: the backward pass of its body",
                 "rule   custom_vjp_call: the backward rule halved_sin_bwd",
                 "rule   custom_jvp_call: the transpose of softplus_jvp"]:
        assert rule in text


def indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def test_sub_graphs_are_indented_under_their_equation_both_ways() -> None:
    _, text = explained(nested_everything, XN)
    lines = text.splitlines()
    backward = next(i for i, line in enumerate(lines) if line.startswith("backward pass"))
    for start, stop in [(0, backward), (backward, len(lines))]:
        part = lines[start:stop]
        # in each pass, the scan's body runs under the scan, and the jitted call inside the
        # body under it again, with the call's own body one level deeper still
        scan = next(i for i, line in enumerate(part) if " = scan[" in line)
        call = next(i for i, line in enumerate(part) if i > scan and " = call[" in line)
        tanh = next(i for i, line in enumerate(part) if i > call and " = tanh " in line)
        assert indent(part[scan]) < indent(part[call]) < indent(part[tanh])
        assert all(indent(line) > indent(part[scan]) for line in part[scan + 1:call])


def test_scan_steps_shown_and_counted() -> None:
    def f(x: Any) -> Any:
        return fnp.sum(lax.scan(lambda c, xi: (c * xi, c), np.float64(1.0), x,
                                reverse=True)[1])

    x = np.array([0.5, 2.0, 3.0, -1.0])
    (_, grad), text = explained(f, x, steps=1)
    np.testing.assert_allclose(grad, fg.grad(f)(x), rtol=1e-12)
    # reversed: the forward pass starts at the last step, the backward pass at the first
    assert "step 3:" in text and "step 0, in reverse:" in text
    assert "step 2:" not in text and text.count("... 3 more step(s) alike, not shown") == 2


def test_custom_vjp_rule_is_what_is_applied() -> None:
    def f(x: Any) -> Any:
        return fnp.sum(halved_sin(x))

    (_, grad), text = explained(f, XN)
    np.testing.assert_allclose(grad, 0.5 * np.cos(XN), rtol=1e-12)
    assert "forward rule halved_sin_fwd" in text and "backward rule halved_sin_bwd:" in text


def test_jitted_function_explained_through_its_call() -> None:
    jitted = fg.jit(tanh_sum)
    (value, grad), text = explained(jitted, X)
    np.testing.assert_allclose(grad, fg.grad(tanh_sum)(X), rtol=1e-12)
    assert "b:f64[] = call[name=tanh_sum] a" in text and "body, in reverse:" in text


# ---------------------------------------------------------------------------- errors


def test_errors_name_the_problem() -> None:
    with pytest.raises(TypeError, match=r"explain of <lambda>: the function must return a "
                                        r"float scalar, but it returns f64\[3\]"):
        fg.explain(lambda x: x * 2.0)(X)
    with pytest.raises(TypeError, match="argument 0 .*dtype int64"):
        fg.explain(tanh_sum)(np.arange(3))
    with pytest.raises(ValueError, match="argnums=1 asks for argument 1"):
        fg.explain(tanh_sum, argnums=1)(X)
    with pytest.raises(ConcretizationError, match="explain of branchy traces it into a graph"):
        def branchy(x: Any) -> Any:
            return fnp.sum(x) if fnp.sum(x) > 0 else -fnp.sum(x)

        fg.explain(branchy)(X)
    with pytest.raises(ValueError, match="width must be >= 20"):
        fg.explain(tanh_sum, width=5)
