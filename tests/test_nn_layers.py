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
    pytest.param(small_cnn(), (3, 1, 12, 12), id="serial-cnn"),
    pytest.param(nn.serial(nn.Conv2D(4, 3, "SAME"), nn.Relu, nn.AvgPool2D(2), nn.Conv2D(6, 2),
                           nn.Tanh, nn.MaxPool2D(2, 1), nn.Flatten, nn.Linear(10),
                           nn.LogSoftmax), (2, 3, 10, 10), id="serial-deep"),
    pytest.param(nn.serial(), (2, 3), id="serial-empty"),
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
