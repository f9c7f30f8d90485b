"""Tests for funcgrad.optim: hand-computed steps, schedules, dtypes, errors, clipping."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import jit, optim, tree


def scalar(x: float, dtype: Any = np.float64) -> np.ndarray:
    return np.array([x], dtype=dtype)


def value(t: Any) -> float:
    """The single number held by a one-leaf tree of one-element arrays."""
    (leaf,) = tree.leaves(t)
    return float(np.asarray(leaf).reshape(()))


def run_steps(opt: optim.Optimizer[Any], params: Any, grads_per_step: list[Any]) -> list[Any]:
    state = opt.init(params)
    history = []
    for grads in grads_per_step:
        params, state = opt.update(grads, state, params)
        history.append(params)
    return history


# ---------------------------------------------------------------------------------------
# One or two steps against hand computation (param 1.0, gradient 0.5 unless noted).


def test_sgd_two_steps() -> None:
    p1, p2 = run_steps(optim.sgd(0.1), {"w": scalar(1.0)}, [{"w": scalar(0.5)}] * 2)
    assert value(p1) == pytest.approx(0.95, abs=1e-15)  # 1 - 0.1 * 0.5
    assert value(p2) == pytest.approx(0.90, abs=1e-15)  # 0.95 - 0.1 * 0.5


def test_sgd_weight_decay_is_l2_added_to_gradient() -> None:
    p1, p2 = run_steps(optim.sgd(0.1, weight_decay=0.1), scalar(1.0), [scalar(0.5)] * 2)
    # step 1: g = 0.5 + 0.1 * 1.0 = 0.6 -> 1 - 0.06 = 0.94
    assert value(p1) == pytest.approx(0.94, abs=1e-15)
    # step 2: g = 0.5 + 0.1 * 0.94 = 0.594 -> 0.94 - 0.0594 = 0.8806
    assert value(p2) == pytest.approx(0.8806, abs=1e-15)


def test_momentum_plain_two_steps() -> None:
    opt = optim.momentum(0.1, beta=0.9)
    p1, p2 = run_steps(opt, scalar(1.0), [scalar(0.5)] * 2)
    # v1 = 0.5 -> p1 = 1 - 0.05 = 0.95
    assert value(p1) == pytest.approx(0.95, abs=1e-15)
    # v2 = 0.9 * 0.5 + 0.5 = 0.95 -> p2 = 0.95 - 0.095 = 0.855
    assert value(p2) == pytest.approx(0.855, abs=1e-15)


def test_momentum_nesterov_two_steps() -> None:
    opt = optim.momentum(0.1, beta=0.9, nesterov=True)
    p1, p2 = run_steps(opt, scalar(1.0), [scalar(0.5)] * 2)
    # v1 = 0.5, direction = 0.5 + 0.9 * 0.5 = 0.95 -> p1 = 1 - 0.095 = 0.905
    assert value(p1) == pytest.approx(0.905, abs=1e-15)
    # v2 = 0.95, direction = 0.5 + 0.9 * 0.95 = 1.355 -> p2 = 0.905 - 0.1355 = 0.7695
    assert value(p2) == pytest.approx(0.7695, abs=1e-15)


def test_momentum_state_carries_velocity_and_step() -> None:
    opt = optim.momentum(0.1, beta=0.9, weight_decay=0.1)
    state = opt.init({"w": scalar(1.0)})
    assert state.step == 0
    np.testing.assert_array_equal(state.velocity["w"], [0.0])
    params, state = opt.update({"w": scalar(0.5)}, state, {"w": scalar(1.0)})
    # L2: g = 0.5 + 0.1 * 1.0 = 0.6 = v1 -> p1 = 1 - 0.06
    assert state.step == 1
    assert float(state.velocity["w"][0]) == pytest.approx(0.6, abs=1e-15)
    assert value(params) == pytest.approx(0.94, abs=1e-15)


def test_adam_two_steps_with_bias_correction() -> None:
    opt = optim.adam(0.1, b1=0.9, b2=0.999, eps=1e-8)
    state = opt.init(scalar(1.0))
    p1, state = opt.update(scalar(0.5), state, scalar(1.0))
    # m1 = 0.1 * 0.5 = 0.05, v1 = 0.001 * 0.25 = 0.00025
    # m_hat = 0.05 / (1 - 0.9) = 0.5, v_hat = 0.00025 / (1 - 0.999) = 0.25
    # p1 = 1 - 0.1 * 0.5 / (sqrt(0.25) + 1e-8) = 0.900000002
    assert float(state.mu[0]) == pytest.approx(0.05, rel=1e-13)
    assert float(state.nu[0]) == pytest.approx(0.00025, rel=1e-13)
    assert value(p1) == pytest.approx(0.900000002, abs=1e-15)

    p2, state = opt.update(scalar(-0.25), state, p1)
    # m2 = 0.9 * 0.05 + 0.1 * -0.25 = 0.02, v2 = 0.999 * 0.00025 + 0.001 * 0.0625 = 0.00031225
    # m_hat = 0.02 / (1 - 0.81) = 0.105263..., v_hat = 0.00031225 / (1 - 0.998001) = 0.156203...
    # p2 = 0.900000002 - 0.1 * 0.105263 / (0.395225 + 1e-8) = 0.8733662987...
    assert state.step == 2
    assert float(state.mu[0]) == pytest.approx(0.02, rel=1e-13)
    assert float(state.nu[0]) == pytest.approx(0.00031225, rel=1e-13)
    assert value(p2) == pytest.approx(0.8733662987078463, abs=1e-13)


def test_adam_first_step_is_lr_times_sign_when_eps_is_zero() -> None:
    # Bias correction makes the first step exactly lr in size, whatever the gradient scale.
    opt = optim.adam(0.1, eps=0.0)
    params = {"a": np.array([1.0, 1.0, 1.0])}
    grads = {"a": np.array([1e-6, -3.0, 250.0])}
    new, _ = opt.update(grads, opt.init(params), params)
    np.testing.assert_allclose(new["a"], [0.9, 1.1, 0.9], rtol=0, atol=1e-15)


def test_adamw_decay_is_decoupled() -> None:
    opt = optim.adamw(0.1, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01)
    p1, p2 = run_steps(opt, scalar(1.0), [scalar(0.5), scalar(-0.25)])
    # step 1: 1 - 0.1 * (0.99999998 + 0.01 * 1.0) = 0.899000002; the moments never see the
    # decay, so step 2 uses the same Adam direction as without it (0.266336...).
    assert value(p1) == pytest.approx(0.899000002, abs=1e-15)
    assert value(p2) == pytest.approx(0.8714672987058464, abs=1e-13)


def test_adam_rejects_betas_that_break_bias_correction() -> None:
    with pytest.raises(ValueError, match=r"b2 must be in \[0, 1\), got 1.0"):
        optim.adam(b2=1.0)


def test_update_is_pure() -> None:
    params = {"w": np.array([1.0, 2.0])}
    grads = {"w": np.array([0.5, 0.5])}
    opt = optim.adam(0.1)
    state = opt.init(params)
    new_params, new_state = opt.update(grads, state, params)
    np.testing.assert_array_equal(params["w"], [1.0, 2.0])
    np.testing.assert_array_equal(grads["w"], [0.5, 0.5])
    np.testing.assert_array_equal(state.mu["w"], [0.0, 0.0])
    assert state.step == 0
    assert not np.shares_memory(new_params["w"], params["w"])
    assert not np.shares_memory(new_state.mu["w"], state.mu["w"])


def test_params_tree_structure_is_kept() -> None:
    params = ({"b": scalar(0.0), "w": [scalar(1.0), scalar(2.0)]}, scalar(3.0))
    grads = tree.map(np.ones_like, params)
    new, _ = optim.sgd(1.0).update(grads, optim.sgd(1.0).init(params), params)
    assert tree.structure(new) == tree.structure(params)
    assert [float(x[0]) for x in tree.leaves(new)] == [-1.0, 0.0, 1.0, 2.0]


# ---------------------------------------------------------------------------------------
# Schedules.


def test_constant_schedule() -> None:
    sched = optim.constant(0.5)
    assert [sched(0), sched(1), sched(10**6)] == [0.5, 0.5, 0.5]


def test_step_decay_schedule() -> None:
    sched = optim.step_decay(1.0, every=10, factor=0.5)
    assert [sched(0), sched(9), sched(10), sched(19), sched(25)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    with pytest.raises(ValueError, match="every must be a positive"):
        optim.step_decay(1.0, every=0, factor=0.5)


def test_cosine_decay_schedule() -> None:
    sched = optim.cosine_decay(1.0, total_steps=100, final=0.1)
    assert sched(0) == pytest.approx(1.0)
    assert sched(50) == pytest.approx(0.55)
    assert sched(25) == pytest.approx(0.1 + 0.45 * (1 + math.sqrt(0.5)))
    assert sched(100) == pytest.approx(0.1)
    assert sched(1000) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="total_steps must be positive"):
        optim.cosine_decay(1.0, total_steps=0)


def test_schedule_is_called_with_count_of_previous_updates() -> None:
    seen: list[int] = []

    def halving(step: int) -> float:
        seen.append(step)
        return 0.1 * 0.5**step

    p1, p2, p3 = run_steps(optim.sgd(halving), scalar(1.0), [scalar(0.5)] * 3)
    assert seen == [0, 1, 2]
    assert value(p1) == pytest.approx(0.95, abs=1e-15)  # lr 0.1
    assert value(p2) == pytest.approx(0.925, abs=1e-15)  # lr 0.05
    assert value(p3) == pytest.approx(0.9125, abs=1e-15)  # lr 0.025


def test_schedule_with_adam_and_momentum() -> None:
    sched = optim.step_decay(0.1, every=1, factor=0.5)
    _, p2 = run_steps(optim.momentum(sched, beta=0.9), scalar(1.0), [scalar(0.5)] * 2)
    # 1 - 0.1 * 0.5 = 0.95, then v = 0.95 at lr 0.05 -> 0.95 - 0.0475
    assert value(p2) == pytest.approx(0.9025, abs=1e-15)
    _, p2 = run_steps(optim.adam(sched, eps=0.0), scalar(1.0), [scalar(0.5)] * 2)
    # Constant gradient: both Adam directions are exactly 1, so the steps are the lrs.
    assert value(p2) == pytest.approx(1.0 - 0.1 - 0.05, abs=1e-15)


# ---------------------------------------------------------------------------------------
# dtypes.


def test_numpy_float64_hyperparameter_would_promote_without_care() -> None:
    # The hazard the optimizers guard against (NEP 50: numpy scalars are not weak).
    assert (np.float32(1.0) - np.float64(0.1) * np.float32(0.5)).dtype == np.float64


@pytest.mark.parametrize(
    "make",
    [
        lambda lr: optim.sgd(lr, weight_decay=np.float64(0.01)),
        lambda lr: optim.momentum(lr, beta=np.float64(0.9), nesterov=True),
        lambda lr: optim.adam(lr, b1=np.float64(0.9), eps=np.float64(1e-8), weight_decay=0.1),
        lambda lr: optim.adamw(lr, b2=np.float64(0.99), weight_decay=np.float64(0.1)),
        lambda lr: optim.adagrad(lr, eps=np.float64(1e-10), weight_decay=np.float64(0.1)),
        lambda lr: optim.rmsprop(lr, alpha=np.float64(0.9), momentum=np.float64(0.5),
                                 centered=True, weight_decay=np.float64(0.1)),
        lambda lr: optim.adamax(lr, b1=np.float64(0.9), weight_decay=np.float64(0.1)),
        lambda lr: optim.lamb(lr, eps=np.float64(1e-6), weight_decay=np.float64(0.1)),
        lambda lr: optim.chain(optim.clip(np.float64(0.1)), optim.nesterov(lr)),
    ],
)
def test_float32_params_and_state_stay_float32(make: Any) -> None:
    for lr in (np.float64(0.1), lambda step: np.float64(0.1)):
        opt = make(lr)
        params = {"w": np.ones((2, 3), np.float32), "b": np.zeros(3, np.float32)}
        state = opt.init(params)
        for grads_dtype in (np.float32, np.float64):
            grads = {"w": np.full((2, 3), 0.5, grads_dtype), "b": np.ones(3, grads_dtype)}
            params, state = opt.update(grads, state, params)
            # Every state leaf but the leading step counter is a moment/velocity array.
            arrays = tree.leaves(params) + tree.leaves(state)[1:]
            assert len(arrays) in (2, 4, 6, 8)
            for leaf in arrays:
                assert leaf.dtype == np.float32, leaf
        assert tree.leaves(state)[0] == 2


def test_float32_sgd_value_matches_float32_arithmetic() -> None:
    opt = optim.sgd(np.float64(0.1))
    p = np.array([1.0, 3.0], np.float32)
    new, _ = opt.update(np.array([0.5, 0.25], np.float32), opt.init(p), p)
    assert new.dtype == np.float32
    expected = p - np.float32(0.1) * np.array([0.5, 0.25], np.float32)
    np.testing.assert_array_equal(new, expected)


def test_float64_params_stay_float64() -> None:
    opt = optim.adam(0.1)
    p = np.ones(2)
    new, state = opt.update(np.ones(2, np.float32), opt.init(p), p)
    assert new.dtype == np.float64 and state.nu.dtype == np.float64


def test_integer_params_rejected() -> None:
    with pytest.raises(TypeError, match=r"leaf 0 \(\['steps'\]\) has dtype int64"):
        optim.adam().init({"w": np.ones(2), "steps": np.array([3], dtype=np.int64)})


# ---------------------------------------------------------------------------------------
# Mismatched trees.


@pytest.mark.parametrize(
    "make", [lambda: optim.sgd(0.1), lambda: optim.momentum(0.1), lambda: optim.adam(0.1),
             lambda: optim.adagrad(), lambda: optim.rmsprop(momentum=0.9, centered=True),
             lambda: optim.adamw(), lambda: optim.adamax(), lambda: optim.lamb(),
             lambda: optim.chain(optim.clip(1.0), optim.nesterov(0.1))]
)
def test_grads_structure_mismatch_shows_both_structures(make: Any) -> None:
    opt = make()
    params = {"w": np.ones(2), "b": np.ones(1)}
    state = opt.init(params)
    grads = {"w": np.ones(2), "b": (np.ones(1),)}
    with pytest.raises(ValueError) as info:
        opt.update(grads, state, params)
    message = str(info.value)
    assert "grads tree structure does not match the params tree" in message
    assert "grads: PyTreeDef({'b': (*,), 'w': *})" in message
    assert "params: PyTreeDef({'b': *, 'w': *})" in message


def test_grads_missing_key_mismatch() -> None:
    opt = optim.sgd(0.1)
    params = {"w": np.ones(2), "b": np.ones(1)}
    with pytest.raises(ValueError, match=r"grads: PyTreeDef\(\{'w': \*\}\)"):
        opt.update({"w": np.ones(2)}, opt.init(params), params)


def test_leaf_shape_mismatch_names_the_leaf_and_both_shapes() -> None:
    opt = optim.adam(0.1)
    params = {"layers": [{"w": np.ones((2, 3)), "b": np.ones(3)}]}
    grads = {"layers": [{"w": np.ones((3, 2)), "b": np.ones(3)}]}
    with pytest.raises(ValueError) as info:
        opt.update(grads, opt.init(params), params)
    assert str(info.value) == (
        "grads leaf 1 (['layers'][0]['w']) has shape (3, 2), but the param has shape (2, 3)"
    )


def test_state_from_other_params_is_rejected() -> None:
    opt = optim.adam(0.1)
    state = opt.init({"w": np.ones(2)})
    params = {"w": np.ones(2), "b": np.ones(1)}
    with pytest.raises(ValueError, match=r"mu \(optimizer state\) tree structure does not match"):
        opt.update(tree.map(np.zeros_like, params), state, params)
    mom = optim.momentum(0.1)
    small = mom.init({"w": np.ones(2)})
    with pytest.raises(ValueError, match=r"velocity \(optimizer state\) leaf 0 \(\['w'\]\)"):
        mom.update({"w": np.ones(3)}, small, {"w": np.ones(3)})


# ---------------------------------------------------------------------------------------
# Clipping.


def test_global_norm() -> None:
    assert optim.global_norm({"a": np.array([3.0]), "b": [np.array([[4.0, 0.0]])]}) == 5.0
    assert optim.global_norm({}) == 0.0
    # float32 squares of 3e20 overflow; the norm must not.
    big = np.array([3e20, 4e20], dtype=np.float32)
    assert optim.global_norm(big) == pytest.approx(5e20, rel=1e-6)


def test_clip_by_global_norm_scales_down() -> None:
    grads = {"a": np.array([3.0], np.float32), "b": np.array([0.0, -4.0], np.float32)}
    clipped = optim.clip_by_global_norm(grads, 1.0)
    np.testing.assert_allclose(clipped["a"], [0.6], rtol=1e-6)
    np.testing.assert_allclose(clipped["b"], [0.0, -0.8], rtol=1e-6)
    assert clipped["a"].dtype == np.float32 and clipped["b"].dtype == np.float32
    assert optim.global_norm(clipped) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(grads["a"], [3.0])


def test_clip_by_global_norm_leaves_small_grads_alone() -> None:
    grads = {"a": np.array([3.0]), "b": np.array([4.0])}
    for bound in (5.0, 10.0):
        clipped = optim.clip_by_global_norm(grads, bound)
        assert all(np.array_equal(clipped[k], grads[k]) for k in grads)
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        optim.clip_by_global_norm(grads, -1.0)


# ---------------------------------------------------------------------------------------
# End to end.


def quadratic(params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """Badly scaled bowl with its minimum 0 at w = target, b = -1; returns loss and grads."""
    scales = np.array([1.0, 10.0, 100.0])
    target = np.array([1.0, -2.0, 3.0])
    dw = params["w"] - target
    db = params["b"] + 1.0
    loss = float(np.sum(scales * dw**2) + np.sum(db**2))
    return loss, {"w": 2.0 * scales * dw, "b": 2.0 * db}


def test_adam_minimises_a_quadratic() -> None:
    params = {"w": np.zeros(3), "b": np.array([5.0])}
    initial, _ = quadratic(params)
    opt = optim.adam(optim.cosine_decay(0.1, total_steps=2000, final=1e-4))
    state = opt.init(params)
    for _ in range(2000):
        _, grads = quadratic(params)
        params, state = opt.update(grads, state, params)
    final, _ = quadratic(params)
    assert initial > 30.0
    assert final < 1e-8
    np.testing.assert_allclose(params["w"], [1.0, -2.0, 3.0], atol=1e-4)


def test_state_survives_savez_round_trip(tmp_path: Path) -> None:
    opt = optim.adam(0.05)
    params = {"w": np.zeros(3), "b": np.array([5.0])}
    state = opt.init(params)
    for _ in range(5):
        params, state = opt.update(quadratic(params)[1], state, params)

    leaves, treedef = tree.flatten((params, state))
    np.savez(tmp_path / "ckpt.npz", *leaves)
    with np.load(tmp_path / "ckpt.npz") as data:
        loaded = [data[f"arr_{i}"] for i in range(len(data.files))]
    # The structure comes from a fresh init, as it would in a new process.
    template = (params, opt.init(params))
    restored_params, restored_state = tree.unflatten(tree.structure(template), loaded)
    assert tree.structure(template) == treedef

    a, sa = opt.update(quadratic(params)[1], state, params)
    b, sb = opt.update(quadratic(restored_params)[1], restored_state, restored_params)
    np.testing.assert_array_equal(a["w"], b["w"])
    np.testing.assert_array_equal(sa.nu["b"], sb.nu["b"])
    assert sa.step == sb.step == 6


# ---------------------------------------------------------------------------------------
# Each optimizer against its paper's (or PyTorch's documented) update equations, written
# out here in plain float64 numpy for one leaf: reference(p, g, state, t) -> new p, with t
# the 1-based update number and `state` a dict the reference keeps its moments in.

Reference = Any


def ref_sgd(lr: float, wd: float = 0.0) -> Reference:
    def step(p: Any, g: Any, st: dict[str, Any], t: int) -> Any:
        return p - lr * (g + wd * p)
    return step


def ref_momentum(lr: float, mu: float, nesterov: bool, wd: float = 0.0) -> Reference:
    # PyTorch's SGD: the buffer starts as the first gradient (no dampening).
    def step(p: Any, g: Any, st: dict[str, Any], t: int) -> Any:
        g = g + wd * p
        st["b"] = g if t == 1 else mu * st["b"] + g
        return p - lr * (g + mu * st["b"] if nesterov else st["b"])
    return step


def ref_adagrad(lr: float, eps: float, start: float, wd: float = 0.0) -> Reference:
    def step(p: Any, g: Any, st: dict[str, Any], t: int) -> Any:
        g = g + wd * p
        st["sum"] = st.get("sum", np.full_like(p, start)) + g * g
        return p - lr * g / (np.sqrt(st["sum"]) + eps)
    return step


def ref_rmsprop(lr: float, alpha: float, eps: float, mu: float, centered: bool,
                wd: float = 0.0) -> Reference:
    def step(p: Any, g: Any, st: dict[str, Any], t: int) -> Any:
        g = g + wd * p
        st["v"] = alpha * st.get("v", 0.0) + (1 - alpha) * g * g
        v = st["v"]
        if centered:
            st["avg"] = alpha * st.get("avg", 0.0) + (1 - alpha) * g
            v = v - st["avg"] ** 2
        if mu > 0:
            st["b"] = mu * st.get("b", 0.0) + g / (np.sqrt(v) + eps)
            return p - lr * st["b"]
        return p - lr * g / (np.sqrt(v) + eps)
    return step


def ref_adam(lr: float, b1: float, b2: float, eps: float, wd: float = 0.0,
             decoupled: bool = False) -> Reference:
    def step(p: Any, g: Any, st: dict[str, Any], t: int) -> Any:
        if decoupled:
            p = p * (1 - lr * wd)  # AdamW: shrink first, with the same lr
        else:
            g = g + wd * p
        st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
        st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
        m_hat = st["m"] / (1 - b1**t)
        v_hat = st["v"] / (1 - b2**t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return step


def ref_adamax(lr: float, b1: float, b2: float, eps: float, wd: float = 0.0) -> Reference:
    def step(p: Any, g: Any, st: dict[str, Any], t: int) -> Any:
        g = g + wd * p
        st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
        st["u"] = np.maximum(b2 * st.get("u", 0.0), np.abs(g) + eps)
        return p - lr * st["m"] / ((1 - b1**t) * st["u"])
    return step


def ref_lamb(lr: float, b1: float, b2: float, eps: float, wd: float = 0.0) -> Reference:
    def step(p: Any, g: Any, st: dict[str, Any], t: int) -> Any:
        st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
        st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
        r = (st["m"] / (1 - b1**t)) / (np.sqrt(st["v"] / (1 - b2**t)) + eps)
        u = r + wd * p
        return p - lr * (np.linalg.norm(p) / np.linalg.norm(u)) * u
    return step


# b2, eps and the lr are far from their defaults, so that bias correction and where eps
# goes change the numbers well beyond the tolerances.
class Betas(TypedDict):
    b1: float
    b2: float
    eps: float


A: Betas = {"b1": 0.8, "b2": 0.9, "eps": 0.1}
EQUATION_CASES = [
    pytest.param(lambda: optim.sgd(0.1), ref_sgd(0.1), id="sgd"),
    pytest.param(lambda: optim.sgd(0.1, weight_decay=0.3), ref_sgd(0.1, 0.3), id="sgd-wd"),
    pytest.param(lambda: optim.momentum(0.1, beta=0.7), ref_momentum(0.1, 0.7, False),
                 id="momentum"),
    pytest.param(lambda: optim.momentum(0.1, beta=0.7, weight_decay=0.3),
                 ref_momentum(0.1, 0.7, False, 0.3), id="momentum-wd"),
    pytest.param(lambda: optim.nesterov(0.1, beta=0.7), ref_momentum(0.1, 0.7, True),
                 id="nesterov"),
    pytest.param(lambda: optim.momentum(0.1, beta=0.7, nesterov=True, weight_decay=0.3),
                 ref_momentum(0.1, 0.7, True, 0.3), id="nesterov-wd"),
    pytest.param(lambda: optim.adagrad(0.2, eps=0.1, initial_accumulator=0.5),
                 ref_adagrad(0.2, 0.1, 0.5), id="adagrad"),
    pytest.param(lambda: optim.adagrad(0.2, eps=0.1, weight_decay=0.3),
                 ref_adagrad(0.2, 0.1, 0.0, 0.3), id="adagrad-wd"),
    pytest.param(lambda: optim.rmsprop(0.05, alpha=0.8, eps=0.1),
                 ref_rmsprop(0.05, 0.8, 0.1, 0.0, False), id="rmsprop"),
    pytest.param(lambda: optim.rmsprop(0.05, alpha=0.8, eps=0.1, centered=True),
                 ref_rmsprop(0.05, 0.8, 0.1, 0.0, True), id="rmsprop-centered"),
    pytest.param(lambda: optim.rmsprop(0.05, alpha=0.8, eps=0.1, momentum=0.6),
                 ref_rmsprop(0.05, 0.8, 0.1, 0.6, False), id="rmsprop-momentum"),
    pytest.param(lambda: optim.rmsprop(0.05, alpha=0.8, eps=0.1, momentum=0.6, centered=True,
                                       weight_decay=0.3),
                 ref_rmsprop(0.05, 0.8, 0.1, 0.6, True, 0.3), id="rmsprop-centered-momentum-wd"),
    pytest.param(lambda: optim.adam(0.1, **A), ref_adam(0.1, **A), id="adam"),
    pytest.param(lambda: optim.adam(0.1, **A, weight_decay=0.3), ref_adam(0.1, **A, wd=0.3),
                 id="adam-wd-coupled"),
    pytest.param(lambda: optim.adamw(0.1, **A, weight_decay=0.0), ref_adam(0.1, **A),
                 id="adamw-no-wd"),
    pytest.param(lambda: optim.adamw(0.1, **A, weight_decay=0.3),
                 ref_adam(0.1, **A, wd=0.3, decoupled=True), id="adamw-wd-decoupled"),
    pytest.param(lambda: optim.adamax(0.1, **A), ref_adamax(0.1, **A), id="adamax"),
    pytest.param(lambda: optim.adamax(0.1, **A, weight_decay=0.3), ref_adamax(0.1, **A, wd=0.3),
                 id="adamax-wd"),
    pytest.param(lambda: optim.lamb(0.1, **A), ref_lamb(0.1, **A), id="lamb"),
    pytest.param(lambda: optim.lamb(0.1, **A, weight_decay=0.3), ref_lamb(0.1, **A, wd=0.3),
                 id="lamb-wd"),
]

# Three parameters in two leaves, one of them float32.
START = {"w": np.array([0.8, -1.3]), "b": np.array([0.4], np.float32)}


def grad_at(params: Any, t: int) -> Any:
    """A gradient that depends on the params and flips sign and grows with the step t."""
    return {k: 1.5 * p - 0.4 * (-1.0) ** t + 0.1 * t for k, p in params.items()}


def run_reference(reference: Reference, steps: int) -> list[dict[str, np.ndarray]]:
    params = {k: p.astype(np.float64) for k, p in START.items()}
    states: dict[str, dict[str, Any]] = {k: {} for k in START}
    history = []
    for t in range(1, steps + 1):
        grads = grad_at(params, t)
        params = {k: reference(params[k], grads[k], states[k], t) for k in params}
        history.append(params)
    return history


def assert_close_to_reference(params: Any, expected: dict[str, np.ndarray]) -> None:
    for k, p in START.items():
        assert params[k].dtype == p.dtype, k
        # float32 against the float64 reference: params are O(1), so atol is float32's
        # resolution there (it matters only where a param crosses zero)
        rtol, atol = (1e-5, 1e-6) if p.dtype == np.float32 else (1e-12, 0.0)
        np.testing.assert_allclose(params[k], expected[k], rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize("make, reference", EQUATION_CASES)
def test_optimizer_follows_its_equations_for_five_steps(make: Any, reference: Reference) -> None:
    opt = make()
    params, state = START, opt.init(START)
    for t, expected in enumerate(run_reference(reference, 5), start=1):
        params, state = opt.update(grad_at(params, t), state, params)
        assert_close_to_reference(params, expected)
        assert state.step == t
    # every moment in the state is shaped and typed like its param
    for field in state._fields[1:]:
        moments = getattr(state, field)
        for k, p in START.items() if moments is not None else ():
            assert moments[k].dtype == p.dtype and moments[k].shape == p.shape, (field, k)


def test_lamb_trust_ratio_is_one_for_a_zero_param() -> None:
    # |p| = 0 would stop a zero-initialised leaf forever; the ratio falls back to 1, and with
    # eps = 0 the first Adam direction is the gradient's sign.
    opt = optim.lamb(0.1, eps=0.0)
    params = {"w": np.zeros(2), "v": np.array([3.0, 4.0])}
    new, _ = opt.update({"w": np.array([2.0, -0.5]), "v": np.array([1.0, 1.0])},
                        opt.init(params), params)
    np.testing.assert_allclose(new["w"], [-0.1, 0.1], rtol=1e-15)
    # |v| = 5 and |r| = |(1, 1)| = sqrt(2): the step is 0.1 * 5 / sqrt(2) per coordinate
    np.testing.assert_allclose(new["v"], np.array([3.0, 4.0]) - 0.5 / math.sqrt(2.0), rtol=1e-15)


def test_rmsprop_keeps_only_the_moments_it_uses() -> None:
    params = {"w": np.ones(2)}
    plain = optim.rmsprop().init(params)
    assert plain.mean is None and plain.velocity is None
    full = optim.rmsprop(momentum=0.9, centered=True).init(params)
    assert full.mean["w"].shape == full.velocity["w"].shape == (2,)


def test_adagrad_initial_accumulator_is_the_starting_sum() -> None:
    state = optim.adagrad(initial_accumulator=0.25).init({"w": np.ones(3, np.float32)})
    np.testing.assert_array_equal(state.sum_of_squares["w"], np.full(3, 0.25, np.float32))
    assert state.sum_of_squares["w"].dtype == np.float32


# ---------------------------------------------------------------------------------------
# Weight-decay masks.

MODEL = {"dense": {"w": np.array([[1.0, -2.0], [0.5, 4.0]]), "b": np.array([1.0, -1.0])},
         "norm": {"scale": np.array([2.0, 3.0], np.float32)}}


def matrices_only(params: Any) -> Any:
    return tree.map(lambda p: p.ndim > 1, params)


@pytest.mark.parametrize("make", [optim.sgd, optim.momentum, optim.adam])
def test_mask_selects_the_leaves_that_decay(make: Any) -> None:
    # With zero gradients only decay moves a param: masked-out leaves must stay exactly put.
    opt = make(0.1, weight_decay=0.5, mask=matrices_only)
    new, _ = opt.update(tree.map(np.zeros_like, MODEL), opt.init(MODEL), MODEL)
    assert not np.allclose(new["dense"]["w"], MODEL["dense"]["w"])
    np.testing.assert_array_equal(new["dense"]["b"], MODEL["dense"]["b"])
    np.testing.assert_array_equal(new["norm"]["scale"], MODEL["norm"]["scale"])
    if make is optim.sgd:
        np.testing.assert_allclose(new["dense"]["w"], 0.95 * MODEL["dense"]["w"], rtol=1e-15)


def test_decoupled_mask_matches_per_leaf_optimizers() -> None:
    # adamw with a mask == adamw with decay on the masked-in leaf, adamw without on the rest
    # (each checked against the equations above).
    mask = {"w": True, "b": False}
    opt, decayed, plain = (optim.adamw(0.1, **A, weight_decay=0.3, mask=mask),
                           optim.adamw(0.1, **A, weight_decay=0.3),
                           optim.adamw(0.1, **A, weight_decay=0.0))
    p, s = START, opt.init(START)
    pd, sd = START, decayed.init(START)
    pp, sp = START, plain.init(START)
    for t in range(1, 4):
        p, s = opt.update(grad_at(p, t), s, p)
        pd, sd = decayed.update(grad_at(pd, t), sd, pd)
        pp, sp = plain.update(grad_at(pp, t), sp, pp)
    np.testing.assert_array_equal(p["w"], pd["w"])
    np.testing.assert_array_equal(p["b"], pp["b"])
    assert not np.array_equal(pd["b"], pp["b"])


def test_mask_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match=r"mask tree structure does not match the params tree"):
        optim.adamw(mask={"w": True}).init(START)
    with pytest.raises(TypeError, match=r"mask leaf 1 \(\['w'\]\) must be a bool, got 0.5"):
        optim.sgd(0.1, weight_decay=0.1, mask={"w": 0.5, "b": True}).init(START)
    opt = optim.adam(weight_decay=0.1, mask=lambda params: {"w": True})
    for call in (lambda: opt.init(START),
                 lambda: opt.update(START, optim.adam().init(START), START)):
        with pytest.raises(ValueError, match=r"mask: PyTreeDef\(\{'w': \*\}\)"):
            call()


# ---------------------------------------------------------------------------------------
# Transforms and chain.


def test_chain_clips_before_the_optimizer() -> None:
    opt = optim.chain(optim.clip(1.0), optim.sgd(1.0))
    params = {"a": np.zeros(1, np.float32), "b": np.zeros(2, np.float32)}
    state = opt.init(params)
    assert state[0] == () and state[1].step == 0
    grads = {"a": np.array([3.0], np.float32), "b": np.array([0.0, 4.0], np.float32)}
    new, state = opt.update(grads, state, params)
    np.testing.assert_allclose(new["a"], [-0.6], rtol=1e-6)
    np.testing.assert_allclose(new["b"], [0.0, -0.8], rtol=1e-6)
    assert new["a"].dtype == np.float32 and state[1].step == 1
    small = {"a": np.array([0.3], np.float32), "b": np.array([0.0, 0.4], np.float32)}
    again, _ = opt.update(small, state, new)  # norm 0.5 < 1: untouched
    np.testing.assert_array_equal(again["b"], new["b"] - small["b"])


def test_chain_of_clip_and_masked_adamw() -> None:
    clipped = optim.chain(optim.clip(0.5), optim.adamw(0.1, **A, weight_decay=0.3,
                                                      mask=matrices_only))
    direct = optim.adamw(0.1, **A, weight_decay=0.3, mask=matrices_only)
    grads = tree.map(lambda p: 2.0 * p + 1.0, MODEL)
    new, state = clipped.update(grads, clipped.init(MODEL), MODEL)
    expected, _ = direct.update(optim.clip_by_global_norm(grads, 0.5), direct.init(MODEL), MODEL)
    assert optim.global_norm(grads) > 5.0  # so the clip acted
    for a, b in zip(tree.leaves(new), tree.leaves(expected)):
        np.testing.assert_array_equal(a, b)
    assert isinstance(state, tuple) and len(state) == 2 and state[1].step == 1


def test_chain_errors() -> None:
    with pytest.raises(TypeError, match="the last part must be an Optimizer"):
        optim.chain(optim.sgd(0.1), optim.clip(1.0))
    with pytest.raises(TypeError, match="the last part must be an Optimizer"):
        optim.chain()
    with pytest.raises(TypeError, match="part 0 must be a GradientTransform"):
        optim.chain(optim.sgd(0.1), optim.adam())
    opt = optim.chain(optim.clip(1.0), optim.adam())
    with pytest.raises(ValueError, match=r"chain: the state must be a tuple of 2 states"):
        opt.update(START, optim.adam().init(START), START)
    with pytest.raises(ValueError, match="clip: max_norm must be >= 0, got -1"):
        optim.clip(-1)


# ---------------------------------------------------------------------------------------
# A whole update under jit, the step count traced.

WARM_COSINE = optim.warmup_cosine_decay(0.1, warmup_steps=2, total_steps=6, final=0.01)
JIT_CASES = EQUATION_CASES + [
    pytest.param(lambda: optim.adam(WARM_COSINE, **A), None, id="adam-scheduled"),
    pytest.param(lambda: optim.chain(optim.clip(0.5), optim.lamb(WARM_COSINE, **A,
                                                                 weight_decay=0.3,
                                                                 mask={"w": True, "b": False})),
                 None, id="chain-clip-lamb-masked-scheduled"),
]


@pytest.mark.parametrize("make, reference", JIT_CASES)
def test_jitted_update_with_traced_step_equals_eager(make: Any, reference: Reference) -> None:
    opt = make()
    update = jit(opt.update)
    eager_p, eager_s = START, opt.init(START)
    jit_p, jit_s = START, opt.init(START)
    for t in range(1, 7):
        eager_p, eager_s = opt.update(grad_at(eager_p, t), eager_s, eager_p)
        jit_p, jit_s = update(grad_at(jit_p, t), jit_s, jit_p)
        for a, b in zip(tree.leaves((jit_p, jit_s)), tree.leaves((eager_p, eager_s))):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-12 if a.dtype == np.float64 else 1e-6)
    assert update.trace_count == 1
    assert not np.allclose(jit_p["w"], START["w"])


# ---------------------------------------------------------------------------------------
# More schedules, each against its formula at chosen steps, boundaries included.


def test_exponential_decay_schedule() -> None:
    smooth = optim.exponential_decay(2.0, decay_rate=0.5, decay_steps=10)
    assert smooth(0) == 2.0
    assert smooth(5) == pytest.approx(2.0 * 0.5**0.5, rel=1e-15)
    assert smooth(10) == pytest.approx(1.0, rel=1e-15)
    assert smooth(25) == pytest.approx(2.0 * 0.5**2.5, rel=1e-15)
    stairs = optim.exponential_decay(2.0, decay_rate=0.5, decay_steps=10, staircase=True)
    assert [float(stairs(s)) for s in (0, 9, 10, 19, 20, 35)] == [2.0, 2.0, 1.0, 1.0, 0.5, 0.25]
    with pytest.raises(ValueError, match="exponential_decay: decay_steps must be a positive"):
        optim.exponential_decay(1.0, 0.5, decay_steps=0)


def test_inverse_time_decay_schedule() -> None:
    smooth = optim.inverse_time_decay(1.0, decay_rate=0.5, decay_steps=10)
    assert smooth(0) == 1.0
    assert smooth(5) == pytest.approx(1.0 / 1.25, rel=1e-15)
    assert smooth(10) == pytest.approx(1.0 / 1.5, rel=1e-15)
    stairs = optim.inverse_time_decay(1.0, decay_rate=0.5, decay_steps=10, staircase=True)
    assert [float(stairs(s)) for s in (0, 9, 10, 19, 20)] == [1.0, 1.0, 1 / 1.5, 1 / 1.5, 0.5]


def test_piecewise_constant_schedule() -> None:
    sched = optim.piecewise_constant([10, 20], [1.0, 0.5, 0.1])
    assert [float(sched(s)) for s in (0, 9, 10, 19, 20, 1000)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValueError, match="values must have one more entry than boundaries, "
                                         "got 2 values for 2 boundaries"):
        optim.piecewise_constant([10, 20], [1.0, 0.5])
    with pytest.raises(ValueError, match=r"boundaries must increase, got \[20, 10\]"):
        optim.piecewise_constant([20, 10], [1.0, 0.5, 0.1])


def test_warmup_ramps_linearly_then_runs_the_schedule_from_its_start() -> None:
    sched = optim.warmup(optim.exponential_decay(1.0, 0.5, 1), warmup_steps=4, start=0.2)
    expected = [0.2, 0.4, 0.6, 0.8, 1.0, 0.5, 0.25]
    assert [float(sched(s)) for s in range(7)] == pytest.approx(expected, rel=1e-15)
    same = optim.cosine_decay(1.0, 10)
    assert optim.warmup(same, 0) is same
    with pytest.raises(ValueError, match="warmup: warmup_steps must be a positive"):
        optim.warmup(same, -1)


def test_warmup_cosine_decay_schedule() -> None:
    sched = optim.warmup_cosine_decay(1.0, warmup_steps=10, total_steps=110, final=0.1)
    assert float(sched(0)) == 0.0
    assert float(sched(5)) == pytest.approx(0.5, rel=1e-15)
    assert float(sched(10)) == pytest.approx(1.0, rel=1e-15)  # the peak, at the boundary
    assert float(sched(35)) == pytest.approx(0.1 + 0.45 * (1 + math.sqrt(0.5)), rel=1e-14)
    assert float(sched(60)) == pytest.approx(0.55, rel=1e-14)
    assert float(sched(110)) == pytest.approx(0.1, rel=1e-14)
    assert float(sched(10**6)) == pytest.approx(0.1, rel=1e-14)
    with pytest.raises(ValueError, match=r"total_steps \(10\) must exceed warmup_steps \(10\)"):
        optim.warmup_cosine_decay(1.0, warmup_steps=10, total_steps=10)


@pytest.mark.parametrize("sched", [
    optim.constant(0.3),
    optim.step_decay(1.0, every=3, factor=0.5),
    optim.exponential_decay(1.0, 0.7, 4),
    optim.exponential_decay(1.0, 0.7, 4, staircase=True),
    optim.inverse_time_decay(1.0, 0.5, 3, staircase=True),
    optim.piecewise_constant([2, 5], [1.0, 0.5, 0.25]),
    optim.cosine_decay(1.0, 7, final=0.1),
    optim.warmup_cosine_decay(1.0, warmup_steps=3, total_steps=9, final=0.1, start=0.05),
])
def test_schedules_trace_under_jit(sched: optim.Schedule) -> None:
    jitted = jit(lambda step: fnp.asarray(sched(step), np.float64))
    for step in range(12):
        np.testing.assert_allclose(jitted(np.asarray(step, np.int64)), sched(step), rtol=1e-15)
    assert jitted.trace_count == 1


# ---------------------------------------------------------------------------------------
# Bad hyperparameters are errors naming the optimizer and the argument.


@pytest.mark.parametrize("make, message", [
    (lambda: optim.sgd(-0.1), "sgd: lr must be >= 0, got -0.1"),
    (lambda: optim.sgd(0.1, weight_decay=-1.0), "sgd: weight_decay must be >= 0, got -1.0"),
    (lambda: optim.momentum(0.1, beta=1.0), r"momentum: beta must be in \[0, 1\), got 1.0"),
    (lambda: optim.nesterov(0.1, beta=-0.5), r"nesterov: beta must be in \[0, 1\), got -0.5"),
    (lambda: optim.adagrad(eps=-1e-10), "adagrad: eps must be >= 0, got -1e-10"),
    (lambda: optim.adagrad(initial_accumulator=-1.0), "adagrad: initial_accumulator must be"),
    (lambda: optim.rmsprop(alpha=1.5), r"rmsprop: alpha must be in \[0, 1\), got 1.5"),
    (lambda: optim.rmsprop(momentum=1.0), r"rmsprop: momentum must be in \[0, 1\), got 1.0"),
    (lambda: optim.adam(b1=-0.1), r"adam: b1 must be in \[0, 1\), got -0.1"),
    (lambda: optim.adamw(weight_decay=-0.01), "adamw: weight_decay must be >= 0, got -0.01"),
    (lambda: optim.adamax(b2=float("nan")), r"adamax: b2 must be in \[0, 1\), got nan"),
    (lambda: optim.lamb(eps=-1e-6), "lamb: eps must be >= 0, got -1e-06"),
    (lambda: optim.lamb(lr=float("nan")), "lamb: lr must be >= 0, got nan"),
])
def test_bad_hyperparameter_is_named(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
