"""Tests for funcgrad.optim: hand-computed steps, schedules, dtypes, errors, clipping."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from funcgrad import optim, tree


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
            assert len(arrays) in (2, 4, 6)
            for leaf in arrays:
                assert leaf.dtype == np.float32, leaf
        assert state.step == 2


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
    "make", [lambda: optim.sgd(0.1), lambda: optim.momentum(0.1), lambda: optim.adam(0.1)]
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
