"""The optimizers: each a per-leaf rule (its paper's update equations) run by `_optimizer`,
which checks the trees, applies weight decay and the learning rate, and keeps dtypes."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import numpy as np
from typing_extensions import NamedTuple

from funcgrad import numpy as fnp
from funcgrad import tree
from funcgrad.core import Array
from funcgrad.optim.base import (Mask, Optimizer, Params, check_range, count, decay_rates,
                                 like, matching_leaves, param_leaves)
from funcgrad.optim.schedules import LearningRate, Schedule, constant

S = TypeVar("S")


class SgdState(NamedTuple):
    """State of `sgd`: only the number of updates applied so far."""

    step: Array


class MomentumState(NamedTuple):
    """State of `momentum` and `nesterov`: update count and a velocity tree like the params."""

    step: Array
    velocity: Params


class AdagradState(NamedTuple):
    """State of `adagrad`: update count and the running sums of squared gradients."""

    step: Array
    sum_of_squares: Params


class RmspropState(NamedTuple):
    """State of `rmsprop`: update count, the mean square `nu`, the mean gradient `mean`
    (None unless centered) and the momentum buffer `velocity` (None without momentum)."""

    step: Array
    nu: Params
    mean: Params = None
    velocity: Params = None


class AdamState(NamedTuple):
    """State of `adam`, `adamw`, `lamb` (first moments `mu`, second moments `nu`) and
    `adamax` (`nu` is the decaying infinity norm)."""

    step: Array
    mu: Params
    nu: Params


Rule = Callable[..., tuple[Any, tuple[Any, ...]]]
"""One leaf's update: rule(g, p, t, *moments) -> (direction, new moments), with `t` the
1-based update number (a float64 array) and the new param `p - lr * direction`."""


def _optimizer(
    name: str,
    lr: LearningRate,
    weight_decay: float,
    mask: Mask | None,
    state: Callable[..., S],
    moments: dict[str, float],
    rule: Rule,
    decoupled: bool = False,
    trust_ratio: bool = False,
) -> Optimizer[S]:
    """The optimizer running `rule` on every leaf; `moments` names the state's per-leaf
    trees (passed to the rule in this order) with their initial values. Weight decay is
    added to the gradient before the rule, or with `decoupled` to its direction after it;
    `trust_ratio` then scales each leaf's direction by |param| / |direction| (LAMB)."""
    schedule = _as_schedule(name, lr)
    wd = check_range(name, "weight_decay", weight_decay)

    def init(params: Params) -> S:
        ps, treedef = param_leaves(params)
        decay_rates(wd, mask, params, treedef)  # a bad mask fails here rather than later
        trees = {
            field: tree.unflatten(treedef, [np.full_like(p, fill) for p in ps])
            for field, fill in moments.items()
        }
        return state(count(0), **trees)

    def update(grads: Params, old: S, params: Params) -> tuple[Params, S]:
        ps, treedef = param_leaves(params)
        gs = matching_leaves("grads", grads, treedef, ps)
        columns = [
            matching_leaves(f"{field} (optimizer state)", getattr(old, field), treedef, ps)
            for field in moments
        ]
        rates = decay_rates(wd, mask, params, treedef)
        step = count(getattr(old, "step"))
        rate = schedule(step)
        t = fnp.astype(step + 1, np.float64)
        new_params: list[Any] = []
        new_columns: list[list[Any]] = [[] for _ in moments]
        for i, (p, g, decay) in enumerate(zip(ps, gs, rates)):
            if decay and not decoupled:
                g = g + decay * p
            direction, new_moments = rule(g, p, t, *(column[i] for column in columns))
            if decay and decoupled:
                direction = direction + decay * p
            if trust_ratio:
                direction = direction * _trust_ratio(p, direction)
            new_params.append(like(p - like(rate, p) * direction, p))
            for column, m in zip(new_columns, new_moments):
                column.append(like(m, p))
        trees = {f: tree.unflatten(treedef, c) for f, c in zip(moments, new_columns)}
        return tree.unflatten(treedef, new_params), state(step + 1, **trees)

    return Optimizer(init, update)


def _as_schedule(name: str, lr: LearningRate) -> Schedule:
    return lr if callable(lr) else constant(check_range(name, "lr", lr))


def _trust_ratio(p: Any, direction: Any) -> Any:
    """|p| / |direction| for one leaf, 1 where either norm is 0 (as in LAMB's reference)."""
    p_norm = fnp.sqrt(fnp.sum(fnp.square(p)))
    d_norm = fnp.sqrt(fnp.sum(fnp.square(direction)))
    both = fnp.logical_and(p_norm > 0, d_norm > 0)
    return like(fnp.where(both, p_norm / fnp.where(both, d_norm, 1.0), 1.0), p)


def _correction(beta: float, t: Any, p: Any) -> Any:
    """Adam's bias correction 1 - beta**t, in the param's dtype."""
    return like(1.0 - fnp.power(beta, t), p)


# ---------------------------------------------------------------------------------------
# Gradient descent and momentum.


def sgd(lr: LearningRate, weight_decay: float = 0.0, mask: Mask | None = None
        ) -> Optimizer[SgdState]:
    """Plain gradient descent `p -= lr * (g + weight_decay * p)`."""
    return _optimizer("sgd", lr, weight_decay, mask, SgdState, {}, lambda g, p, t: (g, ()))


def _heavy_ball(name: str, lr: LearningRate, beta: float, nesterov: bool, weight_decay: float,
                mask: Mask | None) -> Optimizer[MomentumState]:
    b = check_range(name, "beta", beta, below=1.0)

    def rule(g: Any, p: Any, t: Any, v: Any) -> tuple[Any, tuple[Any, ...]]:
        v = b * v + g
        return (g + b * v if nesterov else v), (v,)

    return _optimizer(name, lr, weight_decay, mask, MomentumState, {"velocity": 0.0}, rule)


def momentum(lr: LearningRate, beta: float = 0.9, nesterov: bool = False,
             weight_decay: float = 0.0, mask: Mask | None = None) -> Optimizer[MomentumState]:
    """Heavy-ball momentum `v = beta * v + g; p -= lr * v` (Nesterov: `p -= lr * (g + beta * v)`),
    with `g` including the L2 term `weight_decay * p`."""
    return _heavy_ball("momentum", lr, beta, nesterov, weight_decay, mask)


def nesterov(lr: LearningRate, beta: float = 0.9, weight_decay: float = 0.0,
             mask: Mask | None = None) -> Optimizer[MomentumState]:
    """Nesterov momentum `v = beta * v + g; p -= lr * (g + beta * v)` (Sutskever et al.'s
    form, as PyTorch's SGD with nesterov=True)."""
    return _heavy_ball("nesterov", lr, beta, True, weight_decay, mask)


# ---------------------------------------------------------------------------------------
# Per-coordinate step sizes.


def adagrad(lr: LearningRate = 1e-2, eps: float = 1e-10, initial_accumulator: float = 0.0,
            weight_decay: float = 0.0, mask: Mask | None = None) -> Optimizer[AdagradState]:
    """Adagrad (Duchi et al. 2011): `s += g**2; p -= lr * g / (sqrt(s) + eps)`."""
    e = check_range("adagrad", "eps", eps)
    start = check_range("adagrad", "initial_accumulator", initial_accumulator)

    def rule(g: Any, p: Any, t: Any, s: Any) -> tuple[Any, tuple[Any, ...]]:
        s = s + fnp.square(g)
        return g / (fnp.sqrt(s) + e), (s,)

    return _optimizer("adagrad", lr, weight_decay, mask, AdagradState,
                      {"sum_of_squares": start}, rule)


def rmsprop(lr: LearningRate = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
            momentum: float = 0.0, centered: bool = False, weight_decay: float = 0.0,
            mask: Mask | None = None) -> Optimizer[RmspropState]:
    """RMSprop as PyTorch's: `nu = alpha * nu + (1 - alpha) * g**2`, step `g / (sqrt(nu) + eps)`;
    `centered` subtracts the square of the mean gradient from `nu`, and `momentum` > 0
    accumulates the steps in a buffer `b = momentum * b + step`."""
    a = check_range("rmsprop", "alpha", alpha, below=1.0)
    e = check_range("rmsprop", "eps", eps)
    mu = check_range("rmsprop", "momentum", momentum, below=1.0)

    def rule(g: Any, p: Any, t: Any, nu: Any, *rest: Any) -> tuple[Any, tuple[Any, ...]]:
        nu = a * nu + (1.0 - a) * fnp.square(g)
        new, others = [nu], list(rest)
        variance = nu
        if centered:
            mean = a * others.pop(0) + (1.0 - a) * g
            variance = nu - fnp.square(mean)
            new.append(mean)
        direction = g / (fnp.sqrt(variance) + e)
        if mu:
            direction = mu * others.pop(0) + direction
            new.append(direction)
        return direction, tuple(new)

    moments = {"nu": 0.0} | ({"mean": 0.0} if centered else {}) | ({"velocity": 0.0} if mu else {})
    return _optimizer("rmsprop", lr, weight_decay, mask, RmspropState, moments, rule)


# ---------------------------------------------------------------------------------------
# Adam and its variants.


def _adam_rule(name: str, b1: float, b2: float, eps: float) -> Rule:
    """Adam's direction `m_hat / (sqrt(v_hat) + eps)` with bias-corrected moments."""
    beta1 = check_range(name, "b1", b1, below=1.0)
    beta2 = check_range(name, "b2", b2, below=1.0)
    e = check_range(name, "eps", eps)

    def rule(g: Any, p: Any, t: Any, m: Any, v: Any) -> tuple[Any, tuple[Any, ...]]:
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * fnp.square(g)
        m_hat = m / _correction(beta1, t, p)
        v_hat = v / _correction(beta2, t, p)
        return m_hat / (fnp.sqrt(v_hat) + e), (m, v)

    return rule


_ADAM_MOMENTS = {"mu": 0.0, "nu": 0.0}


def adam(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
         weight_decay: float = 0.0, mask: Mask | None = None) -> Optimizer[AdamState]:
    """Adam (Kingma & Ba 2015) with bias correction and eps outside the sqrt; weight_decay
    is L2 added to the gradient, as PyTorch's Adam (see `adamw` for decoupled decay)."""
    return _optimizer("adam", lr, weight_decay, mask, AdamState, _ADAM_MOMENTS,
                      _adam_rule("adam", b1, b2, eps))


def adamw(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2, mask: Mask | None = None) -> Optimizer[AdamState]:
    """AdamW (Loshchilov & Hutter 2019): `p -= lr * (adam_direction + weight_decay * p)`,
    the decay kept out of the moments."""
    return _optimizer("adamw", lr, weight_decay, mask, AdamState, _ADAM_MOMENTS,
                      _adam_rule("adamw", b1, b2, eps), decoupled=True)


def adamax(lr: LearningRate = 2e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
           weight_decay: float = 0.0, mask: Mask | None = None) -> Optimizer[AdamState]:
    """Adamax (Kingma & Ba 2015, as PyTorch's): `u = max(b2 * u, |g| + eps)`,
    `p -= lr * m / ((1 - b1**t) * u)`; weight_decay is L2 added to the gradient."""
    beta1 = check_range("adamax", "b1", b1, below=1.0)
    beta2 = check_range("adamax", "b2", b2, below=1.0)
    e = check_range("adamax", "eps", eps)

    def rule(g: Any, p: Any, t: Any, m: Any, u: Any) -> tuple[Any, tuple[Any, ...]]:
        m = beta1 * m + (1.0 - beta1) * g
        u = fnp.maximum(beta2 * u, fnp.abs(g) + e)
        return m / (_correction(beta1, t, p) * u), (m, u)

    return _optimizer("adamax", lr, weight_decay, mask, AdamState, _ADAM_MOMENTS, rule)


def lamb(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-6,
         weight_decay: float = 0.0, mask: Mask | None = None) -> Optimizer[AdamState]:
    """LAMB (You et al. 2020): per leaf, `r = adam_direction + weight_decay * p` (decoupled)
    and `p -= lr * (|p| / |r|) * r`, the trust ratio taken as 1 when either norm is 0."""
    return _optimizer("lamb", lr, weight_decay, mask, AdamState, _ADAM_MOMENTS,
                      _adam_rule("lamb", b1, b2, eps), decoupled=True, trust_ratio=True)
