"""Tests for funcgrad.nn layers: shapes, params, initialisers, gradients, training a CNN."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import nn, optim, random
from funcgrad.nn import Layer
from funcgrad.testing import check_grads


def small_cnn(dtype: Any = np.float32) -> Layer:
    return nn.serial(nn.Conv2D(8, 3, dtype=dtype), nn.Relu, nn.MaxPool2D(2), nn.Flatten,
                     nn.Linear(4, dtype=dtype))


LAYERS = [
    pytest.param(nn.Linear(7), (3, 5), id="Linear"),
    pytest.param(nn.Linear(4), (2, 3, 5), id="Linear-3d-input"),
    pytest.param(nn.Dense(1), (4, 6), id="Dense"),
    pytest.param(nn.Conv2D(4, 3), (2, 3, 8, 8), id="Conv2D-VALID"),
    pytest.param(nn.Conv2D(4, 3, "SAME"), (2, 3, 8, 7), id="Conv2D-SAME"),
    pytest.param(nn.Conv2D(2, 2, "SAME"), (1, 1, 5, 5), id="Conv2D-SAME-even"),
    pytest.param(nn.Conv2D(2, (2, 3), "SAME"), (2, 2, 6, 5), id="Conv2D-SAME-2x3"),
    pytest.param(nn.Conv2D(3, 3, padding=1), (1, 2, 4, 4), id="Conv2D-pad1"),
    pytest.param(nn.Conv2D(3, (3, 1), padding=(0, 2)), (1, 2, 4, 4), id="Conv2D-pad-pair"),
    pytest.param(nn.Conv2D(5, 1), (2, 3, 4, 4), id="Conv2D-1x1"),
    pytest.param(nn.Conv2D(2, 6), (1, 1, 6, 6), id="Conv2D-kernel-is-image"),
    pytest.param(nn.MaxPool2D(2), (2, 3, 7, 7), id="MaxPool2D-odd"),
    pytest.param(nn.MaxPool2D(3, 2), (2, 3, 9, 8), id="MaxPool2D-3s2"),
    pytest.param(nn.AvgPool2D(2), (2, 3, 6, 6), id="AvgPool2D"),
    pytest.param(nn.AvgPool2D((2, 3), (1, 2)), (1, 2, 5, 7), id="AvgPool2D-rect"),
    pytest.param(nn.Flatten, (2, 3, 4, 5), id="Flatten"),
    pytest.param(nn.Relu, (2, 3, 4), id="Relu"),
    pytest.param(nn.Sigmoid, (2, 3), id="Sigmoid"),
    pytest.param(nn.Tanh, (2, 3), id="Tanh"),
    pytest.param(nn.LogSoftmax, (2, 5), id="LogSoftmax"),
    pytest.param(nn.Gelu, (2, 5), id="Gelu"),
    pytest.param(nn.Softplus, (2, 5), id="Softplus"),
    pytest.param(small_cnn(), (3, 1, 12, 12), id="serial-cnn"),
    pytest.param(nn.serial(nn.Conv2D(4, 3, "SAME"), nn.Relu, nn.AvgPool2D(2), nn.Conv2D(6, 2),
                           nn.Tanh, nn.MaxPool2D(2, 1), nn.Flatten, nn.Linear(10),
                           nn.LogSoftmax), (2, 3, 10, 10), id="serial-deep"),
    pytest.param(nn.serial(), (2, 3), id="serial-empty"),
    pytest.param(nn.MaxPool(3, 2, "SAME"), (2, 3, 7, 8), id="MaxPool-SAME-3s2"),
    pytest.param(nn.AvgPool(3, 1, 1), (1, 2, 5, 4), id="AvgPool-pad1"),
    pytest.param(nn.MaxPool((2, 3), padding=(1, 2)), (1, 2, 5, 4), id="MaxPool-pad-pair"),
    pytest.param(nn.GlobalAvgPool, (2, 3, 4, 5), id="GlobalAvgPool"),
    pytest.param(nn.Softmax, (2, 5), id="Softmax"),
    pytest.param(nn.Identity, (2, 5), id="Identity"),
    pytest.param(nn.BatchNorm(), (4, 3, 5, 5), id="BatchNorm-NCHW"),
    pytest.param(nn.BatchNorm(), (6, 3), id="BatchNorm-NC"),
    pytest.param(nn.BatchNorm(axis=-1), (2, 3, 4), id="BatchNorm-last-axis"),
    pytest.param(nn.LayerNorm(), (3, 5), id="LayerNorm"),
    pytest.param(nn.LayerNorm((1, 2, 3)), (2, 3, 4, 4), id="LayerNorm-CHW"),
    pytest.param(nn.serial(nn.FanOut(2), nn.parallel(nn.Dense(4), nn.Identity),
                           nn.FanInConcat(axis=-1)), (3, 5), id="FanOut-parallel-concat"),
    pytest.param(nn.serial(nn.FanOut(3), nn.parallel(nn.Conv2D(3, 3, "SAME"), nn.Identity,
                                                     nn.BatchNorm()),
                           nn.FanInSum), (2, 3, 6, 6), id="residual-sum"),
    pytest.param(nn.serial(nn.Conv2D(4, 3), nn.BatchNorm(), nn.Relu, nn.MaxPool(2, padding="SAME"),
                           nn.GlobalAvgPool, nn.Dense(3), nn.LayerNorm()), (3, 2, 7, 7),
                 id="serial-bn-ln"),
]


@pytest.mark.parametrize(("layer", "input_shape"), LAYERS)
def test_init_output_shape_matches_apply(layer: Layer, input_shape: tuple[int, ...]) -> None:
    out_shape, params = layer.init(random.key(0), input_shape)
    x = np.random.default_rng(1).standard_normal(input_shape).astype(np.float32)
    y = layer.apply(params, x)
    assert tuple(out_shape) == np.shape(y)
    assert y.dtype == np.float32
    # under make_graph the shape is known without running anything
    graph = fg.make_graph(layer.apply)(params, x)
    assert graph.outvars[0].aval.shape == tuple(out_shape)


@pytest.mark.parametrize(("layer", "input_shape"), LAYERS)
def test_init_with_any_batch_size(layer: Layer, input_shape: tuple[int, ...]) -> None:
    out_any, _ = layer.init(random.key(0), (-1, *input_shape[1:]))
    out_fixed, _ = layer.init(random.key(0), input_shape)
    assert out_any[0] == -1
    assert tuple(out_any[1:]) == tuple(out_fixed[1:])


def assert_plain_float32_tree(params: Any) -> int:
    """Walks params by hand: only dicts, tuples and float32 numpy arrays; returns leaf count."""
    if isinstance(params, dict):
        assert type(params) is dict
        return sum(assert_plain_float32_tree(v) for v in params.values())
    if isinstance(params, tuple):
        assert type(params) is tuple
        return sum(assert_plain_float32_tree(v) for v in params)
    assert type(params) is np.ndarray, type(params)
    assert params.dtype == np.float32
    return 1


@pytest.mark.parametrize(("layer", "input_shape"), LAYERS)
def test_params_are_plain_dicts_and_tuples_of_float32(layer: Layer,
                                                      input_shape: tuple[int, ...]) -> None:
    _, params = layer.init(random.key(0), input_shape)
    count = assert_plain_float32_tree(params)
    assert count == len(fg.tree.leaves(params))


def test_param_shapes_and_values() -> None:
    keys = random.split(random.key(2), 4)
    _, lin = nn.Linear(7).init(keys[0], (3, 5))
    assert set(lin) == {"w", "b"} and lin["w"].shape == (5, 7) and lin["b"].shape == (7,)
    np.testing.assert_array_equal(lin["b"], 0.0)
    _, conv = nn.Conv2D(4, (2, 3)).init(keys[1], (1, 3, 8, 8))
    assert set(conv) == {"w", "b"} and conv["w"].shape == (4, 3, 2, 3) and conv["b"].shape == (4,)
    np.testing.assert_array_equal(conv["b"], 0.0)
    _, cnn = small_cnn().init(keys[2], (2, 1, 12, 12))
    assert isinstance(cnn, tuple) and len(cnn) == 5
    assert cnn[1] == () and cnn[2] == () and cnn[3] == ()
    assert cnn[0]["w"].shape == (8, 1, 3, 3)
    assert cnn[4]["w"].shape == (8 * 5 * 5, 4)
    _, lin64 = nn.Linear(3, dtype=np.float64).init(keys[3], (1, 2))
    assert lin64["w"].dtype == np.float64 and lin64["b"].dtype == np.float64


def test_layer_apply_values() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    conv_key, linear_key = random.split(random.key(3))
    _, p = nn.Conv2D(4, 3, "SAME").init(conv_key, x.shape)
    p = {"w": p["w"], "b": np.arange(4, dtype=np.float32)}
    y = np.asarray(nn.Conv2D(4, 3, "SAME").apply(p, x))
    np.testing.assert_allclose(y, np.asarray(nn.conv2d(x, p["w"], padding="SAME"))
                               + np.arange(4.0).reshape(1, 4, 1, 1), rtol=1e-6, atol=1e-6)
    h = rng.standard_normal((3, 5)).astype(np.float32)
    _, q = nn.Linear(2).init(linear_key, h.shape)
    q = {"w": q["w"], "b": np.array([1.0, -1.0], np.float32)}
    np.testing.assert_allclose(np.asarray(nn.Linear(2).apply(q, h)), h @ q["w"] + q["b"],
                               rtol=1e-6)
    np.testing.assert_array_equal(nn.MaxPool2D(3, 2).apply((), x), nn.max_pool2d(x, 3, 2))
    np.testing.assert_array_equal(nn.AvgPool2D(2).apply((), x), nn.avg_pool2d(x, 2))
    np.testing.assert_array_equal(nn.Flatten.apply((), x), x.reshape(2, -1))
    np.testing.assert_array_equal(nn.Relu.apply((), x), np.maximum(x, 0))
    np.testing.assert_array_equal(nn.LogSoftmax.apply((), h), nn.log_softmax(h))


ACTIVATION_LAYERS = [
    (nn.Relu6, nn.relu6), (nn.LeakyRelu, nn.leaky_relu), (nn.Elu, nn.elu), (nn.Selu, nn.selu),
    (nn.Celu, nn.celu), (nn.Gelu, nn.gelu), (nn.Silu, nn.silu), (nn.Swish, nn.swish),
    (nn.Softplus, nn.softplus), (nn.Softsign, nn.softsign), (nn.LogSigmoid, nn.log_sigmoid),
    (nn.HardTanh, nn.hard_tanh), (nn.Softmax, nn.softmax),
]


@pytest.mark.parametrize(("layer", "fn"), ACTIVATION_LAYERS)
def test_activation_layers_apply_their_function(layer: nn.Layer, fn: Any) -> None:
    x = np.linspace(-8.0, 8.0, 24, dtype=np.float32).reshape(2, 12)
    shape, params = layer.init(random.key(0), x.shape)
    assert shape == x.shape and params == ()
    np.testing.assert_array_equal(np.asarray(layer.apply(params, x)), np.asarray(fn(x)))


def test_serial_rejects_params_of_the_wrong_length() -> None:
    model = small_cnn()
    _, params = model.init(random.key(0), (1, 1, 12, 12))
    with pytest.raises(ValueError, match=re.escape("serial: 5 layers but params for 4")):
        model.apply(params[:4], np.zeros((1, 1, 12, 12), np.float32))


def test_conv_layer_shape_error_names_shapes() -> None:
    _, params = nn.Conv2D(4, 3).init(random.key(0), (1, 3, 8, 8))
    with pytest.raises(fg.ShapeError, match=re.escape("x (1, 2, 8, 8), k (4, 3, 3, 3)")):
        nn.Conv2D(4, 3).apply(params, np.zeros((1, 2, 8, 8), np.float32))


# ---------------------------------------------------------------------------------------
# Initialisers


def leaves_equal(a: Any, b: Any) -> bool:
    la, lb = fg.tree.leaves(a), fg.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb))


@pytest.mark.parametrize("init", [nn.glorot_uniform, nn.he_normal])
def test_initialisers_are_deterministic_for_a_key(init: Any) -> None:
    a = init(random.key(42), (30, 20), 30, 20)
    b = init(random.key(42), (30, 20), 30, 20)
    c = init(random.key(43), (30, 20), 30, 20)
    assert type(a) is np.ndarray and a.dtype == np.float32 and a.shape == (30, 20)
    np.testing.assert_array_equal(a, b)
    assert not np.any(a == c)  # continuous draws: a different seed changes every entry
    # so does a key split from the same seed (the way serial hands keys to its layers)
    left, right = random.split(random.key(42))
    for other in (init(left, (30, 20), 30, 20), init(right, (30, 20), 30, 20)):
        assert not np.any(a == other)
    assert not np.any(init(left, (30, 20), 30, 20) == init(right, (30, 20), 30, 20))
    assert init(random.key(42), (3,), 3, 3, np.float64).dtype == np.float64


@pytest.mark.parametrize("init", [nn.glorot_uniform, nn.he_normal])
def test_initialisers_leave_numpys_global_random_state_alone(init: Any) -> None:
    state = np.random.get_state()
    before = np.random.random(3)
    np.random.set_state(state)
    init(random.key(0), (30, 20), 30, 20)
    nn.serial(nn.Conv2D(4, 3), nn.Flatten, nn.Linear(2)).init(random.key(1), (1, 1, 6, 6))
    np.testing.assert_array_equal(np.random.random(3), before)


def test_layer_init_is_deterministic_for_a_key() -> None:
    model = nn.serial(nn.Conv2D(8, 3), nn.Relu, nn.MaxPool2D(2), nn.Flatten, nn.Linear(4),
                      nn.Linear(3))
    _, p1 = model.init(random.key(7), (2, 1, 12, 12))
    _, p2 = model.init(random.key(7), (2, 1, 12, 12))
    _, p3 = model.init(random.key(8), (2, 1, 12, 12))
    assert leaves_equal(p1, p2)
    assert not leaves_equal(p1, p3)
    for w1, w3 in [(p1[0]["w"], p3[0]["w"]), (p1[4]["w"], p3[4]["w"]), (p1[5]["w"], p3[5]["w"])]:
        assert not np.any(w1 == w3)
    # serial splits the key: the two Linear layers get keys of their own, not the same numbers
    assert not np.any(p1[4]["w"][:3, :3] == p1[5]["w"][:3, :3])
    # ... and layer i's params are those of the layer initialised alone with the i-th key
    keys = random.split(random.key(7), 6)
    _, alone = nn.Linear(3).init(keys[5], (2, 4))
    np.testing.assert_array_equal(alone["w"], p1[5]["w"])


def test_layer_init_under_jit_gives_the_same_params_for_each_key() -> None:
    model = small_cnn()
    init = fg.jit(lambda key: model.init(key, (2, 1, 12, 12))[1])
    for seed in (0, 1):
        _, eager = model.init(random.key(seed), (2, 1, 12, 12))
        jitted = init(random.key(seed))
        for x, y in zip(fg.tree.leaves(jitted), fg.tree.leaves(eager)):
            np.testing.assert_array_equal(x, y)
    assert init.trace_count == 1  # new numbers for a new key, not numbers baked in


def test_glorot_uniform_statistics() -> None:
    fan_in, fan_out = 800, 1200
    w = nn.glorot_uniform(random.key(0), (fan_in, fan_out), fan_in, fan_out)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    assert float(np.abs(w).max()) <= limit * (1 + 1e-6)
    assert float(w.max()) > 0.999 * limit and float(w.min()) < -0.999 * limit
    assert float(w.std()) == pytest.approx(math.sqrt(2.0 / (fan_in + fan_out)), rel=0.01)
    assert abs(float(w.mean())) < 1e-3 * limit
    # uniform: a quarter of the values in each quarter of [-limit, limit]
    hist, _ = np.histogram(w, bins=4, range=(-limit, limit))
    np.testing.assert_allclose(hist / w.size, 0.25, atol=0.005)


def test_he_normal_statistics() -> None:
    fan_in, fan_out = 500, 1000
    w = nn.he_normal(random.key(0), (fan_in, fan_out), fan_in, fan_out)
    std = math.sqrt(2.0 / fan_in)
    assert float(w.std()) == pytest.approx(std, rel=0.01)
    assert abs(float(w.mean())) < 0.01 * std
    # normal: about 68.3% within one standard deviation, 95.4% within two
    assert float(np.mean(np.abs(w) < std)) == pytest.approx(0.6827, abs=0.005)
    assert float(np.mean(np.abs(w) < 2 * std)) == pytest.approx(0.9545, abs=0.005)


def test_layer_default_initialiser_scales() -> None:
    lin_key, conv_key, he_key = random.split(random.key(1), 3)
    _, lin = nn.Linear(512).init(lin_key, (1, 1024))
    assert float(lin["w"].std()) == pytest.approx(math.sqrt(2.0 / (1024 + 512)), rel=0.1)
    assert float(np.abs(lin["w"]).max()) <= math.sqrt(6.0 / (1024 + 512)) * (1 + 1e-6)
    _, conv = nn.Conv2D(64, 3).init(conv_key, (1, 32, 5, 5))
    # He: fan_in = in_channels * kh * kw
    assert float(conv["w"].std()) == pytest.approx(math.sqrt(2.0 / (32 * 9)), rel=0.1)
    # the initialiser can be swapped
    _, he_lin = nn.Linear(512, w_init=nn.he_normal).init(he_key, (1, 1024))
    assert float(he_lin["w"].std()) == pytest.approx(math.sqrt(2.0 / 1024), rel=0.1)


# ---------------------------------------------------------------------------------------
# Gradients through a model


def cnn_loss(model: Layer) -> Any:
    def loss(params: Any, batch: tuple[Any, Any]) -> Any:
        x, y = batch
        return nn.cross_entropy(model.apply(params, x), y)
    return loss


def test_grad_of_loss_has_the_params_tree_structure() -> None:
    model = nn.serial(nn.Conv2D(4, 3, "SAME"), nn.Relu, nn.MaxPool2D(2), nn.Conv2D(6, 3),
                      nn.Relu, nn.AvgPool2D(2), nn.Flatten, nn.Linear(8), nn.Tanh,
                      nn.Linear(3))
    _, params = model.init(random.key(0), (5, 2, 12, 12))
    rng = np.random.default_rng(1)
    batch = (rng.standard_normal((5, 2, 12, 12)).astype(np.float32), rng.integers(0, 3, 5))
    grads = fg.grad(cnn_loss(model))(params, batch)
    assert fg.tree.structure(grads) == fg.tree.structure(params)
    for g, p in zip(fg.tree.leaves(grads), fg.tree.leaves(params)):
        assert type(g) is np.ndarray
        assert g.shape == p.shape and g.dtype == np.float32
    # every weight gets some gradient (nothing is disconnected)
    for g in fg.tree.leaves(grads):
        assert float(np.abs(g).max()) > 0.0
    # make_graph of the gradient returns the same tree
    graph = fg.make_graph(fg.grad(cnn_loss(model)))(params, batch)
    assert graph.out_tree == fg.tree.structure(params)


def test_cnn_gradient_against_finite_differences_float64() -> None:
    model = small_cnn(np.float64)
    _, params = model.init(random.key(2), (3, 1, 8, 8))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 1, 8, 8))
    y = rng.integers(0, 4, 3)
    check_grads(lambda p, xx: cnn_loss(model)(p, (xx, y)), (params, x), order=1)
    # second order through conv + relu + maxpool + linear
    check_grads(lambda p: cnn_loss(model)(p, (x, y)), (params,), order=2)


def test_adam_step_on_the_cnn_keeps_float32() -> None:
    model = small_cnn()
    _, params = model.init(random.key(3), (8, 1, 12, 12))
    rng = np.random.default_rng(4)
    batch = (rng.standard_normal((8, 1, 12, 12)).astype(np.float32), rng.integers(0, 4, 8))
    opt = optim.adam(1e-3)
    state = opt.init(params)
    loss, grads = fg.value_and_grad(cnn_loss(model))(params, batch)
    assert np.asarray(loss).dtype == np.float32
    new_params, state = opt.update(grads, state, params)
    assert fg.tree.structure(new_params) == fg.tree.structure(params)
    for leaf in fg.tree.leaves((new_params, state.mu, state.nu)):
        assert leaf.dtype == np.float32
    assert state.step == 1
    # Adam's first step moves every weight with a non-zero gradient by about lr
    moved = np.abs(new_params[0]["w"] - params[0]["w"])
    assert float(moved.max()) == pytest.approx(1e-3, rel=1e-3)
    assert fg.tree.structure(new_params) == fg.tree.structure(params)
    assert np.asarray(model.apply(new_params, batch[0])).dtype == np.float32
    # plain SGD and momentum keep float32 as well
    others: list[optim.Optimizer[Any]] = [optim.sgd(0.1), optim.momentum(0.1)]
    for opt2 in others:
        p2, _ = opt2.update(grads, opt2.init(params), params)
        assert all(leaf.dtype == np.float32 for leaf in fg.tree.leaves(p2))


def test_tiny_cnn_overfits_random_images_to_zero_training_error() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 4, 32)
    assert len(set(y.tolist())) == 4
    model = small_cnn()
    _, params = model.init(random.key(1), x.shape)
    loss_fn = cnn_loss(model)
    value_and_grad = fg.value_and_grad(loss_fn)
    opt = optim.adam(1e-2)
    state = opt.init(params)

    def accuracy(p: Any) -> float:
        return float(np.mean(np.argmax(np.asarray(model.apply(p, x)), axis=-1) == y))

    first_loss = float(loss_fn(params, (x, y)))
    assert accuracy(params) < 0.6  # random labels: nothing is known at the start
    for _ in range(200):
        loss, grads = value_and_grad(params, (x, y))
        params, state = opt.update(grads, state, params)
    final_loss = float(loss_fn(params, (x, y)))
    assert accuracy(params) == 1.0
    assert final_loss < 0.02 < first_loss
    assert all(leaf.dtype == np.float32 for leaf in fg.tree.leaves(params))


# ---------------------------------------------------------------------------------------
# The Layer protocol: state, keys, transformations


def example_input(shape: tuple[int, ...], seed: int = 1, dtype: Any = np.float32) -> Any:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def leaves_close(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    assert fg.tree.structure(a) == fg.tree.structure(b)
    for x, y in zip(fg.tree.leaves(a), fg.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def copied(tree: Any) -> Any:
    return fg.tree.map(lambda leaf: np.array(leaf, copy=True), tree)


@pytest.mark.parametrize(("layer", "input_shape"), LAYERS)
def test_apply_with_state_in_training_gives_apply(layer: Layer,
                                                  input_shape: tuple[int, ...]) -> None:
    _, params = layer.init(random.key(0), input_shape)
    state = layer.init_state(params)
    x = example_input(input_shape)
    before = copied((params, state, x))
    y, new_state = layer.apply_with_state(params, state, x)
    leaves_close(y, layer.apply(params, x), rtol=0, atol=0)
    assert fg.tree.structure(new_state) == fg.tree.structure(state)
    for old, new in zip(fg.tree.leaves(state), fg.tree.leaves(new_state)):
        assert np.shape(old) == np.shape(new) and np.asarray(new).dtype == np.float32
    leaves_close((params, state, x), before, rtol=0, atol=0)  # nothing mutated
    # evaluation with the state works for every layer (BatchNorm's apply would refuse it)
    y_eval, after_eval = layer.apply_with_state(params, new_state, x, train=False)
    assert np.shape(y_eval) == np.shape(y) and np.asarray(y_eval).dtype == np.float32
    leaves_close(after_eval, new_state, rtol=0, atol=0)


@pytest.mark.parametrize(("layer", "input_shape"), LAYERS)
def test_jit_of_apply_and_apply_with_state(layer: Layer, input_shape: tuple[int, ...]) -> None:
    _, params = layer.init(random.key(0), input_shape)
    state = layer.init_state(params)
    x = example_input(input_shape)
    jitted = fg.jit(layer.apply)
    leaves_close(jitted(params, x), layer.apply(params, x))
    leaves_close(jitted(params, 2 * x), layer.apply(params, 2 * x))
    assert jitted.trace_count == 1
    stateful = fg.jit(layer.apply_with_state, static_argnames="train")
    for train in (True, False):
        leaves_close(stateful(params, state, x, train=train),
                     layer.apply_with_state(params, state, x, train=train))


@pytest.mark.parametrize(("layer", "input_shape"), LAYERS)
def test_vmap_of_apply_is_apply_per_example(layer: Layer, input_shape: tuple[int, ...]) -> None:
    # vmap over a leading axis of independent inputs (for BatchNorm: independent batches)
    _, params = layer.init(random.key(0), input_shape)
    state = layer.init_state(params)
    xs = example_input((3, *input_shape))
    batched = fg.vmap(lambda x: layer.apply(params, x))(xs)
    leaves_close(batched, fg.tree.map(lambda *ys: np.stack(ys),
                                      *[layer.apply(params, x) for x in xs]))
    batched_state = fg.vmap(lambda x: layer.apply_with_state(params, state, x))(xs)
    looped = [layer.apply_with_state(params, state, x) for x in xs]
    leaves_close(batched_state, fg.tree.map(lambda *ys: np.stack(ys), *looped))


def test_float32_gradients_through_a_model_with_batchnorm_and_dropout() -> None:
    model = nn.serial(nn.Conv2D(4, 3), nn.BatchNorm(), nn.Relu, nn.Dropout(0.25),
                      nn.GlobalAvgPool, nn.Dense(3), nn.LayerNorm())
    _, params = model.init(random.key(0), (5, 2, 6, 6))
    state = model.init_state(params)
    x = example_input((5, 2, 6, 6))

    def loss(p: Any, s: Any) -> tuple[Any, Any]:
        y, new_state = model.apply_with_state(p, s, x, key=random.key(1))
        return fg.numpy.sum(fg.numpy.sin(y)), new_state

    grads, new_state = fg.grad(loss, has_aux=True)(params, state)
    assert fg.tree.structure(grads) == fg.tree.structure(params)
    for leaf in fg.tree.leaves((grads, new_state)):
        assert type(leaf) is np.ndarray and leaf.dtype == np.float32
    assert float(np.abs(grads[1]["scale"]).max()) > 0  # BatchNorm's params are trained


def test_per_example_gradients_with_vmap_of_grad() -> None:
    model = nn.serial(nn.Conv2D(3, 3, "SAME"), nn.BatchNorm(), nn.Relu,
                      nn.MaxPool(2, padding="SAME"), nn.Dropout(0.2), nn.GlobalAvgPool,
                      nn.Dense(4), nn.LayerNorm())
    _, params = model.init(random.key(0), (-1, 2, 5, 5))
    xs = example_input((4, 1, 2, 5, 5))  # four examples, each a batch of one
    keys = random.split(random.key(1), 4)

    def loss(p: Any, x: Any, k: Any) -> Any:
        return fg.numpy.sum(fg.numpy.tanh(model.apply(p, x, key=k)))

    per_example = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))(params, xs, keys)
    for i in range(4):
        leaves_close(fg.tree.map(lambda g: g[i], per_example), fg.grad(loss)(params, xs[i],
                                                                               keys[i]),
                     rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------
# Gradients against finite differences, in float64


def f64_input(shape: tuple[int, ...], seed: int = 2) -> Any:
    return example_input(shape, seed, np.float64)


def perturbed(params: Any, seed: int = 3) -> Any:
    """params with every entry moved randomly (so scale != 1, offset != 0 are exercised)."""
    rng = np.random.default_rng(seed)
    return fg.tree.map(lambda p: p + 0.3 * rng.standard_normal(p.shape), params)


GRAD_LAYERS = [
    pytest.param(nn.Dense(3, dtype=np.float64), (4, 5), id="Dense"),
    pytest.param(nn.BatchNorm(dtype=np.float64), (4, 3, 2, 2), id="BatchNorm-NCHW"),
    pytest.param(nn.BatchNorm(dtype=np.float64), (5, 3), id="BatchNorm-NC"),
    pytest.param(nn.LayerNorm(dtype=np.float64), (3, 4), id="LayerNorm"),
    pytest.param(nn.LayerNorm((1, 2), dtype=np.float64), (2, 3, 4), id="LayerNorm-2-axes"),
    pytest.param(nn.serial(nn.Conv2D(3, 2, dtype=np.float64), nn.BatchNorm(dtype=np.float64),
                           nn.Relu, nn.AvgPool(2, 1, "SAME"), nn.Flatten,
                           nn.Dense(2, dtype=np.float64)), (4, 2, 4, 4),
                 id="serial-with-BatchNorm"),
]


@pytest.mark.parametrize(("layer", "input_shape"), GRAD_LAYERS)
def test_check_grads_order_2_in_training(layer: Layer, input_shape: tuple[int, ...]) -> None:
    _, params = layer.init(random.key(0), input_shape)
    params = perturbed(params)
    x = f64_input(input_shape)
    # sin: the plain sum of a normalised output would not depend on x at all
    check_grads(lambda p, xx: fg.numpy.sum(fg.numpy.sin(layer.apply(p, xx))), (params, x),
                order=2)


@pytest.mark.parametrize(("layer", "input_shape"), GRAD_LAYERS)
def test_check_grads_order_2_in_evaluation(layer: Layer, input_shape: tuple[int, ...]) -> None:
    _, params = layer.init(random.key(0), input_shape)
    params = perturbed(params)
    _, state = layer.apply_with_state(params, layer.init_state(params), f64_input(input_shape, 5))
    x = f64_input(input_shape)

    def f(p: Any, xx: Any) -> Any:
        return fg.numpy.sum(fg.numpy.sin(layer.apply_with_state(p, state, xx, train=False)[0]))

    check_grads(f, (params, x), order=2)


def test_check_grads_through_dropout_with_a_fixed_key() -> None:
    layer = nn.serial(nn.Dense(6, dtype=np.float64), nn.Dropout(0.5), nn.Tanh)
    _, params = layer.init(random.key(0), (3, 4))
    check_grads(lambda p, x: fg.numpy.sum(layer.apply(p, x, key=random.key(7)) ** 2),
                (params, f64_input((3, 4))), order=2)


# ---------------------------------------------------------------------------------------
# BatchNorm, LayerNorm, Dropout: values by hand


def test_batchnorm_training_and_evaluation_values_by_hand() -> None:
    x = np.array([[1.0, -2.0], [3.0, 0.0], [2.0, 4.0], [6.0, 2.0]], np.float32)
    layer = nn.BatchNorm(momentum=0.8, epsilon=0.01)
    _, params = layer.init(random.key(0), x.shape)
    np.testing.assert_array_equal(params["scale"], [1, 1])
    np.testing.assert_array_equal(params["offset"], [0, 0])
    params = {"scale": np.array([2.0, 0.5], np.float32),
              "offset": np.array([1.0, -1.0], np.float32)}
    # column 0: mean 3, biased variance (4 + 0 + 1 + 9) / 4 = 3.5; column 1: mean 1,
    # (9 + 1 + 9 + 1) / 4 = 5
    expected = ((x - [3.0, 1.0]) / np.sqrt(np.array([3.5, 5.0]) + 0.01) * [2.0, 0.5]
                + [1.0, -1.0])
    np.testing.assert_allclose(layer.apply(params, x), expected, rtol=1e-6)
    state = layer.init_state(params)
    np.testing.assert_array_equal(state["mean"], [0, 0])
    np.testing.assert_array_equal(state["var"], [1, 1])
    y, state = layer.apply_with_state(params, state, x)
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    # running = 0.8 * running + 0.2 * batch, with the unbiased variance (14 / 3, 20 / 3)
    np.testing.assert_allclose(state["mean"], [0.2 * 3.0, 0.2 * 1.0], rtol=1e-6)
    np.testing.assert_allclose(state["var"], [0.8 + 0.2 * 14 / 3, 0.8 + 0.2 * 20 / 3], rtol=1e-6)
    y_eval, same = layer.apply_with_state(params, state, x, train=False)
    assert same is state
    np.testing.assert_allclose(
        y_eval, (x - state["mean"]) / np.sqrt(state["var"] + 0.01) * [2.0, 0.5] + [1.0, -1.0],
        rtol=1e-5)


def test_batchnorm_running_statistics_over_three_steps_nchw() -> None:
    layer = nn.BatchNorm()  # momentum 0.9, epsilon 1e-5
    _, params = layer.init(random.key(0), (-1, 3, 4, 5))
    state = layer.init_state(params)
    mean, var = np.zeros(3), np.ones(3)
    for step in range(3):
        x = (example_input((6, 3, 4, 5), seed=step) * [[[[1.0]], [[2.0]], [[0.5]]]]
             + step).astype(np.float32)
        before = copied(state)
        y, state = layer.apply_with_state(params, state, x)
        leaves_close(before, copied(before), rtol=0, atol=0)
        mean = 0.9 * mean + 0.1 * x.mean(axis=(0, 2, 3))
        var = 0.9 * var + 0.1 * x.var(axis=(0, 2, 3), ddof=1)
        np.testing.assert_allclose(state["mean"], mean, rtol=1e-5)
        np.testing.assert_allclose(state["var"], var, rtol=1e-5)
        assert state["mean"].dtype == np.float32 and state["var"].dtype == np.float32
        batch_normed = ((x - x.mean(axis=(0, 2, 3), keepdims=True))
                        / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + 1e-5))
        np.testing.assert_allclose(y, batch_normed, rtol=1e-4, atol=1e-5)
    y_eval, _ = layer.apply_with_state(params, state, x, train=False)
    np.testing.assert_allclose(
        y_eval, (x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5),
        rtol=1e-4, atol=1e-5)


def test_serial_state_is_the_tuple_of_its_layers_states() -> None:
    model = nn.serial(nn.Dense(3), nn.BatchNorm(), nn.Relu, nn.BatchNorm(momentum=0.5))
    _, params = model.init(random.key(0), (8, 4))
    state = model.init_state(params)
    assert len(state) == 4 and state[0] == () and state[2] == ()
    assert set(state[1]) == {"mean", "var"} and state[3]["var"].shape == (3,)
    x = example_input((8, 4))
    y, new_state = model.apply_with_state(params, state, x)
    # the same as threading the state through the layers one by one
    h = nn.Dense(3).apply(params[0], x)
    h, s1 = nn.BatchNorm().apply_with_state(params[1], state[1], h)
    h = np.maximum(h, 0)
    h, s3 = nn.BatchNorm(momentum=0.5).apply_with_state(params[3], state[3], h)
    np.testing.assert_allclose(y, h, rtol=1e-6)
    leaves_close(new_state, ((), s1, (), s3), rtol=1e-6)


def test_layernorm_values_by_hand() -> None:
    x = example_input((2, 3, 4))
    layer = nn.LayerNorm(epsilon=1e-3)
    _, params = layer.init(random.key(0), x.shape)
    assert params["scale"].shape == (4,) and params["offset"].shape == (4,)
    params = perturbed(params)
    normed = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(layer.apply(params, x), normed * params["scale"]
                               + params["offset"], rtol=1e-5, atol=1e-6)
    two = nn.LayerNorm((-2, 1))  # the same axis twice
    with pytest.raises(fg.ShapeError, match=re.escape("LayerNorm(axis=(-2, 1)): axis (-2, 1) "
                                                      "does not name distinct axes")):
        two.init(random.key(0), x.shape)
    layer2 = nn.LayerNorm((0, 2))
    _, p2 = layer2.init(random.key(0), x.shape)
    assert p2["scale"].shape == (2, 4)
    normed2 = (x - x.mean((0, 2), keepdims=True)) / np.sqrt(x.var((0, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(layer2.apply(p2, x), normed2, rtol=1e-5, atol=1e-5)


def test_dropout_masks_the_rate_and_scales_the_rest() -> None:
    rate = 0.3
    layer = nn.Dropout(rate)
    x = np.ones((200, 500), np.float32)
    y = np.asarray(layer.apply((), x, key=random.key(0)))
    assert y.dtype == np.float32
    dropped = y == 0
    # 100000 draws: the fraction's standard deviation is 0.0015
    assert float(dropped.mean()) == pytest.approx(rate, abs=0.006)
    np.testing.assert_array_equal(y[~dropped], np.float32(1 / (1 - rate)))
    assert float(y.mean()) == pytest.approx(1.0, abs=0.01)  # inverted: the mean is kept
    # the same key, the same mask; another key, another mask; evaluation is the identity
    np.testing.assert_array_equal(layer.apply((), x, key=random.key(0)), y)
    other = np.asarray(layer.apply((), x, key=random.key(1))) == 0
    assert float(np.mean(other != dropped)) == pytest.approx(2 * rate * (1 - rate), abs=0.01)
    assert layer.apply((), x, key=random.key(0), train=False) is x
    assert layer.apply((), x, train=False) is x
    # each example gets its own mask under vmap with a key per example
    keys = random.split(random.key(2), 3)
    xs = example_input((3, 40))
    batched = fg.vmap(lambda xi, k: layer.apply((), xi, key=k))(xs, keys)
    for xi, k, yi in zip(xs, keys, np.asarray(batched)):
        np.testing.assert_array_equal(yi, layer.apply((), xi, key=k))
    # under jit: new numbers for each key, without tracing again
    jitted = fg.jit(lambda xx, k: layer.apply((), xx, key=k))
    np.testing.assert_array_equal(jitted(x, random.key(0)), y)
    np.testing.assert_array_equal(np.asarray(jitted(x, random.key(1))) == 0, other)
    assert jitted.trace_count == 1


def test_combinators_give_each_random_layer_its_own_key() -> None:
    x = np.ones((4, 50), np.float32)
    two = nn.serial(nn.Dropout(0.5), nn.Identity, nn.Dropout(0.5))
    _, params = two.init(random.key(0), x.shape)
    y = np.asarray(two.apply(params, x, key=random.key(3)))
    # two independent masks: 1/4 of the entries survive both (scaled by 2 twice)
    assert set(np.unique(y).tolist()) == {0.0, 4.0}
    np.testing.assert_array_equal(two.apply(params, x, key=random.key(3)), y)
    k0, _, k2 = random.split(random.key(3), 3)
    by_hand = nn.Dropout(0.5).apply((), nn.Dropout(0.5).apply((), x, key=k0), key=k2)
    np.testing.assert_array_equal(y, by_hand)
    branches = nn.serial(nn.FanOut(2), nn.parallel(nn.Dropout(0.5), nn.Dropout(0.5)))
    a, b = branches.apply(((), ((), ())), x, key=random.key(4))
    assert not np.array_equal(np.asarray(a) == 0, np.asarray(b) == 0)


# ---------------------------------------------------------------------------------------
# The other new layers: values


def test_pool_layers_with_padding_and_global_average() -> None:
    x = example_input((2, 3, 5, 6))
    np.testing.assert_array_equal(nn.MaxPool(3, 2, "SAME").apply((), x),
                                  nn.max_pool2d(x, 3, 2, "SAME"))
    np.testing.assert_array_equal(nn.AvgPool(2, 1, 1).apply((), x), nn.avg_pool2d(x, 2, 1, 1))
    assert nn.MaxPool(3, 2, "SAME").init(random.key(0), (-1, 3, 5, 6))[0] == (-1, 3, 3, 3)
    assert nn.MaxPool2D is nn.MaxPool and nn.AvgPool2D is nn.AvgPool
    np.testing.assert_allclose(nn.GlobalAvgPool.apply((), x), x.mean(axis=(2, 3)), rtol=1e-6)
    assert nn.GlobalAvgPool.init(random.key(0), (-1, 3, 5, 6))[0] == (-1, 3)


def test_fan_out_parallel_and_fan_in_values() -> None:
    x = example_input((3, 4))
    model = nn.serial(nn.FanOut(3), nn.parallel(nn.Dense(2), nn.Tanh, nn.Identity))
    out_shape, params = model.init(random.key(0), x.shape)
    assert out_shape == ((3, 2), (3, 4), (3, 4))
    a, b, c = model.apply(params, x)
    np.testing.assert_allclose(a, x @ params[1][0]["w"] + params[1][0]["b"], rtol=1e-6)
    np.testing.assert_allclose(b, np.tanh(x), rtol=1e-6)
    np.testing.assert_array_equal(c, x)
    np.testing.assert_allclose(nn.FanInSum.apply((), (x, 2 * x, -x)), 2 * x, rtol=1e-6)
    np.testing.assert_array_equal(nn.FanInConcat(axis=-1).apply((), (a, b)),
                                  np.concatenate([a, b], axis=-1))
    assert nn.FanInConcat(axis=1).init(random.key(0), ((-1, 2, 5), (-1, 3, 5)))[0] == (-1, 5, 5)
    assert nn.FanInSum.init(random.key(0), ((-1, 4), (-1, 4)))[0] == (-1, 4)
    # parallel splits its key like serial: layer i's params are those it gets alone
    _, p = nn.parallel(nn.Dense(2), nn.Dense(3)).init(random.key(5), ((1, 4), (1, 4)))
    _, alone = nn.Dense(3).init(random.split(random.key(5), 2)[1], (1, 4))
    np.testing.assert_array_equal(p[1]["w"], alone["w"])


def test_softmax_layer_and_elementwise() -> None:
    x = example_input((2, 5))
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(nn.Softmax.apply((), x), e / e.sum(-1, keepdims=True), rtol=1e-6)
    cube = nn.elementwise(lambda v: v ** 3)
    np.testing.assert_allclose(cube.apply((), x, key=random.key(0), train=False), x ** 3,
                               rtol=1e-6)


def test_a_stax_style_apply_without_keywords_keeps_working() -> None:
    double = Layer(lambda key, shape: (shape, ()), lambda params, x: 2 * x)
    x = example_input((2, 3))
    np.testing.assert_array_equal(double.apply((), x, key=random.key(0), train=False), 2 * x)
    model = nn.serial(double, nn.Dropout(0.5), double)
    y = model.apply(((), (), ()), x, key=random.key(1))
    assert np.all((np.asarray(y) == 0) | np.isclose(y, 8 * x))
    def key_only(params: Any, x: Any, key: Any = None) -> Any:
        return x

    with pytest.raises(TypeError, match="takes only one of the keywords key and train"):
        Layer(lambda key, shape: (shape, ()), key_only)


# ---------------------------------------------------------------------------------------
# Errors


def test_dense_shape_error_names_the_layer_and_both_shapes() -> None:
    model = nn.serial(nn.Flatten, nn.Dense(10))
    _, params = model.init(random.key(0), (-1, 1, 28, 28))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "serial: layers[1] (of 2): Dense(10): got input (5, 783) but was initialised for "
            "784 features on its last axis")):
        model.apply(params, np.zeros((5, 783), np.float32))


def test_serial_names_the_failing_layer_in_init_and_in_nested_serials() -> None:
    inner = nn.serial(nn.Relu, nn.MaxPool(2))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "serial: layers[2] (of 3): serial: layers[1] (of 2): MaxPool(window=2, stride=None, "
            "padding='VALID'): needs NCHW input (batch, channels, height, width), got shape "
            "(-1, 4)")):
        nn.serial(nn.Dense(4), nn.Tanh, inner).init(random.key(0), (-1, 3))


def test_fan_in_errors_name_the_layer_and_the_shapes() -> None:
    with pytest.raises(fg.ShapeError, match=re.escape(
            "FanInSum: needs inputs of equal shapes, got (2, 3), (2, 4)")):
        nn.FanInSum.apply((), (np.ones((2, 3)), np.ones((2, 4))))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "FanInSum: needs inputs of equal shapes, got (-1, 3), (-1, 3, 1)")):
        nn.FanInSum.init(random.key(0), ((-1, 3), (-1, 3, 1)))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "FanInSum: needs a tuple of inputs (from FanOut or parallel), got one array of "
            "shape (2, 3)")):
        nn.FanInSum.apply((), np.ones((2, 3)))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "FanInConcat(axis=1): needs inputs of shapes equal but along axis 1, got "
            "(2, 3, 4), (2, 5, 3)")):
        nn.FanInConcat().apply((), (np.ones((2, 3, 4)), np.ones((2, 5, 3))))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "FanInConcat(axis=2): axis 2 is out of range for inputs of shapes (2, 3), (2, 3)")):
        nn.FanInConcat(2).init(random.key(0), ((2, 3), (2, 3)))
    with pytest.raises(ValueError, match=re.escape("parallel: 2 layers but inputs for 3")):
        nn.parallel(nn.Relu, nn.Relu).apply(((), ()), (1.0, 2.0, 3.0))


def test_normalisation_errors() -> None:
    layer = nn.BatchNorm()
    _, params = layer.init(random.key(0), (-1, 4, 3, 3))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "BatchNorm(axis=1): got input (2, 5, 3, 3) with 5 features on axis 1 but was "
            "initialised for 4")):
        layer.apply(params, np.zeros((2, 5, 3, 3), np.float32))
    with pytest.raises(ValueError, match=re.escape(
            "use layer.apply_with_state(params, state, x, train=False)")):
        layer.apply(params, np.zeros((2, 4, 3, 3), np.float32), train=False)
    with pytest.raises(fg.ShapeError, match=re.escape(
            "BatchNorm(axis=1): training needs more than one value per feature")):
        layer.apply_with_state(params, layer.init_state(params), np.zeros((1, 4, 1, 1)))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "BatchNorm(axis=2): axis 2 does not name distinct axes of an input with 2 axes")):
        nn.BatchNorm(axis=2).init(random.key(0), (-1, 3))
    with pytest.raises(ValueError, match=re.escape("serial: 2 layers but states for 1")):
        model = nn.serial(nn.Relu, layer)
        model.apply_with_state(((), params), ((),), np.zeros((2, 4, 3, 3)))
    _, ln = nn.LayerNorm().init(random.key(0), (2, 6))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "LayerNorm(axis=-1): got input (2, 5), with (5,) on the normalised axes, but was "
            "initialised for (6,)")):
        nn.LayerNorm().apply(ln, np.zeros((2, 5)))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "LayerNorm(axis=0): the normalised axes of input shape (-1, 6) must have known "
            "sizes")):
        nn.LayerNorm(0).init(random.key(0), (-1, 6))


def test_dropout_errors() -> None:
    with pytest.raises(TypeError, match=re.escape(
            "Dropout(0.5): training (train=True) needs a random key")):
        nn.serial(nn.Dropout(0.5)).apply(((),), np.ones(3))
    for rate in (-0.1, 1.0):
        with pytest.raises(ValueError, match=re.escape(f"Dropout: rate must be in [0, 1), got "
                                                       f"{rate}")):
            nn.Dropout(rate)


def test_pool_layer_errors() -> None:
    with pytest.raises(fg.ShapeError, match=re.escape(
            "AvgPool(window=3, stride=None, padding='VALID'): the window is larger than the "
            "image of shape (1, 1, 2, 4)")):
        nn.AvgPool(3).apply((), np.zeros((1, 1, 2, 4)))
    with pytest.raises(fg.ShapeError, match=re.escape(
            "GlobalAvgPool: needs input (batch, channels, *spatial), got shape (2, 3)")):
        nn.GlobalAvgPool.apply((), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=re.escape(
            "padding must be 'VALID', 'SAME', or an int or a pair of ints")):
        nn.MaxPool(2, padding=2).init(random.key(0), (1, 1, 4, 4))


@pytest.mark.parametrize("make", [nn.Conv, nn.ConvTranspose])
def test_conv_layers_reject_a_bad_kernel_size_by_name(make: Any) -> None:
    with pytest.raises(ValueError, match=r"kernel_size must be a positive int or a pair"):
        make(4, (3, 0))
