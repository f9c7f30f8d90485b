"""Optimizers over pytrees of numpy arrays, as pairs of pure functions (optax style).

    opt = adam(1e-3)
    state = opt.init(params)
    params, state = opt.update(grads, state, params)

Nothing is mutated: `update` returns new parameter arrays and a new state. States are
NamedTuples of pytrees and a step count, all arrays (the count a 0-d int64 array), so a
whole training step `params, state = update(grad(loss)(params, batch), state, params)`
can be jitted (the count is traced like everything else), and `tree.flatten(state)` gives
plain leaves that `numpy.savez` can store; rebuild with the TreeDef of a fresh
`init(params)`.

Parameters must be floating-point arrays, and every returned parameter and moment keeps
its parameter's dtype: float32 models stay float32 even when a gradient or a
hyperparameter (e.g. a numpy float64 learning rate) would promote the arithmetic.

Weight decay: `sgd` and `momentum` add plain L2 (`grad + weight_decay * param`) to the
gradient before anything else; `adam` uses decoupled AdamW decay
(`param -= lr * (adam_direction + weight_decay * param)`), kept out of the moments.

A learning rate is a float or a schedule `f(step) -> float`, where `step` is the number of
updates already applied (0 for the first update): an integer array, traced under jit, so
schedules are written with funcgrad.numpy.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Generic, TypeVar, Union

import numpy as np
from typing_extensions import NamedTuple, TypeAlias

from funcgrad import numpy as fnp
from funcgrad import tree
from funcgrad.core import Array, ArrayLike, Tracer
from funcgrad.numpy import astype

__all__ = [
    "Params",
    "Schedule",
    "LearningRate",
    "Optimizer",
    "SgdState",
    "MomentumState",
    "AdamState",
    "sgd",
    "momentum",
    "adam",
    "constant",
    "step_decay",
    "cosine_decay",
    "global_norm",
    "clip_by_global_norm",
]

Params: TypeAlias = Any
"""A pytree whose leaves are floating-point numpy arrays."""

Schedule: TypeAlias = Callable[[Any], Any]
"""step (an int array, possibly traced) -> learning rate (a float or float array)."""
LearningRate: TypeAlias = Union[float, Schedule]

S = TypeVar("S")


# typing_extensions' NamedTuple, because generic NamedTuples need Python 3.11 in `typing`.
class Optimizer(NamedTuple, Generic[S]):
    """Pure optimizer: init(params) -> state; update(grads, state, params) -> (params, state)."""

    init: Callable[[Params], S]
    update: Callable[[Params, S, Params], tuple[Params, S]]


class SgdState(NamedTuple):
    """State of `sgd`: only the number of updates applied so far."""

    step: Array


class MomentumState(NamedTuple):
    """State of `momentum`: update count and a velocity tree shaped like the params."""

    step: Array
    velocity: Params


class AdamState(NamedTuple):
    """State of `adam`: update count, first moments `mu` and second moments `nu`."""

    step: Array
    mu: Params
    nu: Params


# ---------------------------------------------------------------------------------------
# Schedules.


def constant(lr: float) -> Schedule:
    """Schedule that returns `lr` at every step."""
    value = float(lr)

    def schedule(step: Any) -> Any:
        return value

    return schedule


def step_decay(lr: float, every: int, factor: float) -> Schedule:
    """Schedule `lr * factor ** (step // every)`: multiply by `factor` every `every` steps."""
    if every <= 0:
        raise ValueError(f"step_decay: every must be a positive number of steps, got {every}")
    base, every, factor = float(lr), int(every), float(factor)

    def schedule(step: Any) -> Any:
        # steps are never negative, so truncation is the floor
        periods = fnp.astype(fnp.astype(step, np.float64) / every, np.int64)
        return base * fnp.power(factor, fnp.astype(periods, np.float64))

    return schedule


def cosine_decay(lr: float, total_steps: int, final: float = 0.0) -> Schedule:
    """Schedule going from `lr` at step 0 to `final` at `total_steps` on a half cosine, then flat."""
    if total_steps <= 0:
        raise ValueError(f"cosine_decay: total_steps must be positive, got {total_steps}")
    start, end, total = float(lr), float(final), int(total_steps)

    def schedule(step: Any) -> Any:
        progress = fnp.minimum(fnp.astype(step, np.float64), total) / total
        return end + (start - end) * 0.5 * (1.0 + fnp.cos(math.pi * progress))

    return schedule


def _as_schedule(lr: LearningRate) -> Schedule:
    return lr if callable(lr) else constant(lr)


# ---------------------------------------------------------------------------------------
# Checking trees against the params.


def _where(treedef: tree.TreeDef, index: int) -> str:
    path = treedef.leaf_paths()[index]
    return f"leaf {index} ({path or '<root>'})"


def _param_leaves(params: Params) -> tuple[list[np.ndarray], tree.TreeDef]:
    leaves, treedef = tree.flatten(params)
    arrays = [_array(p) for p in leaves]
    for i, p in enumerate(arrays):
        if p.dtype.kind != "f":
            raise TypeError(
                f"optimizer params must be floating-point arrays, but {_where(treedef, i)} "
                f"has dtype {p.dtype}"
            )
    return arrays, treedef


def _matching_leaves(
    what: str, other: Params, treedef: tree.TreeDef, params: list[np.ndarray]
) -> list[np.ndarray]:
    leaves, other_def = tree.flatten(other)
    if other_def != treedef:
        raise ValueError(
            f"{what} tree structure does not match the params tree:\n"
            f"  {what}: {other_def!r}\n"
            f"  params: {treedef!r}"
        )
    arrays = [_array(x) for x in leaves]
    for i, (x, p) in enumerate(zip(arrays, params)):
        if x.shape != p.shape:
            raise ValueError(
                f"{what} {_where(treedef, i)} has shape {x.shape}, "
                f"but the param has shape {p.shape}"
            )
    return arrays


def _array(x: Any) -> np.ndarray:
    # Traced values (an update inside jit) stay traced: they have .shape and .dtype too,
    # and stand in for the arrays this module is typed with (hence the ignore).
    return x if isinstance(x, Tracer) else np.asarray(x)  # type: ignore[return-value]


def _count(step: Any) -> Any:
    """A step count as a 0-d int64 array (traced counts stay traced)."""
    return step if isinstance(step, Tracer) else np.asarray(step, np.int64)


def _like(value: Any, param: np.ndarray) -> np.ndarray:
    # Casting back is the guarantee that the param dtype survives a float64 gradient; it
    # is free (no copy) when the arithmetic already stayed in that dtype. (Traced inside
    # jit, as above.)
    return astype(value, param.dtype)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# Optimizers.


def sgd(lr: LearningRate, weight_decay: float = 0.0) -> Optimizer[SgdState]:
    """Plain gradient descent `p -= lr * (g + weight_decay * p)`."""
    schedule = _as_schedule(lr)
    wd = float(weight_decay)

    def init(params: Params) -> SgdState:
        _param_leaves(params)
        return SgdState(step=_count(0))

    def update(grads: Params, state: SgdState, params: Params) -> tuple[Params, SgdState]:
        ps, treedef = _param_leaves(params)
        gs = _matching_leaves("grads", grads, treedef, ps)
        step = _count(state.step)
        rate = schedule(step)
        new = []
        for p, g in zip(ps, gs):
            if wd:
                g = g + wd * p
            new.append(_like(p - _like(rate, p) * g, p))
        return tree.unflatten(treedef, new), SgdState(step=step + 1)

    return Optimizer(init, update)


def momentum(
    lr: LearningRate, beta: float = 0.9, nesterov: bool = False, weight_decay: float = 0.0
) -> Optimizer[MomentumState]:
    """Heavy-ball momentum `v = beta * v + g; p -= lr * v` (Nesterov: `p -= lr * (g + beta * v)`)."""
    schedule = _as_schedule(lr)
    beta, wd = float(beta), float(weight_decay)

    def init(params: Params) -> MomentumState:
        ps, treedef = _param_leaves(params)
        return MomentumState(_count(0), tree.unflatten(treedef, [np.zeros_like(p) for p in ps]))

    def update(
        grads: Params, state: MomentumState, params: Params
    ) -> tuple[Params, MomentumState]:
        ps, treedef = _param_leaves(params)
        gs = _matching_leaves("grads", grads, treedef, ps)
        vs = _matching_leaves("velocity (optimizer state)", state.velocity, treedef, ps)
        step = _count(state.step)
        rate = schedule(step)
        new_p, new_v = [], []
        for p, g, v in zip(ps, gs, vs):
            if wd:
                g = g + wd * p
            v = _like(beta * v + g, p)
            direction = g + beta * v if nesterov else v
            new_p.append(_like(p - _like(rate, p) * direction, p))
            new_v.append(v)
        return (
            tree.unflatten(treedef, new_p),
            MomentumState(step + 1, tree.unflatten(treedef, new_v)),
        )

    return Optimizer(init, update)


def adam(
    lr: LearningRate = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> Optimizer[AdamState]:
    """Adam with bias correction and eps outside the sqrt; weight_decay is decoupled (AdamW)."""
    for name, beta in (("b1", b1), ("b2", b2)):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"adam: {name} must be in [0, 1), got {beta}")
    schedule = _as_schedule(lr)
    b1, b2, eps, wd = float(b1), float(b2), float(eps), float(weight_decay)

    def init(params: Params) -> AdamState:
        ps, treedef = _param_leaves(params)
        return AdamState(
            _count(0),
            tree.unflatten(treedef, [np.zeros_like(p) for p in ps]),
            tree.unflatten(treedef, [np.zeros_like(p) for p in ps]),
        )

    def update(grads: Params, state: AdamState, params: Params) -> tuple[Params, AdamState]:
        ps, treedef = _param_leaves(params)
        gs = _matching_leaves("grads", grads, treedef, ps)
        ms = _matching_leaves("mu (optimizer state)", state.mu, treedef, ps)
        vs = _matching_leaves("nu (optimizer state)", state.nu, treedef, ps)
        step = _count(state.step)
        rate = schedule(step)
        t = step + 1
        # Bias corrections: scalars, cast to each param's dtype so float32 stays float32.
        exponent = fnp.astype(t, np.float64)
        correct1 = 1.0 / (1.0 - fnp.power(b1, exponent))
        correct2 = 1.0 / (1.0 - fnp.power(b2, exponent))
        new_p, new_m, new_v = [], [], []
        for p, g, m, v in zip(ps, gs, ms, vs):
            m = _like(b1 * m + (1.0 - b1) * g, p)
            v = _like(b2 * v + (1.0 - b2) * fnp.square(g), p)
            direction = (m * _like(correct1, p)) / (fnp.sqrt(v * _like(correct2, p)) + eps)
            if wd:
                direction = direction + wd * p
            new_p.append(_like(p - _like(rate, p) * direction, p))
            new_m.append(m)
            new_v.append(v)
        return (
            tree.unflatten(treedef, new_p),
            AdamState(t, tree.unflatten(treedef, new_m), tree.unflatten(treedef, new_v)),
        )

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------
# Gradient clipping.


def global_norm(t: Params) -> Array:
    """Euclidean norm of all leaves of `t` taken together as one vector (a float64 scalar)."""
    # Squares in float64: a float32 square overflows for entries above ~1.8e19, which is
    # exactly the exploding-gradient case clipping exists for.
    squares = [fnp.sum(fnp.square(fnp.astype(leaf, np.float64))) for leaf in tree.leaves(t)]
    total: ArrayLike = 0.0
    for sq in squares:
        total = total + sq
    return fnp.sqrt(total)


def clip_by_global_norm(grads: Params, max_norm: float) -> Params:
    """Scale `grads` so their global norm is at most `max_norm` (unchanged values if within)."""
    if not max_norm >= 0.0:
        raise ValueError(f"clip_by_global_norm: max_norm must be >= 0, got {max_norm}")
    norm = global_norm(grads)
    scale = fnp.where(norm > max_norm, float(max_norm) / fnp.maximum(norm, 1e-300), 1.0)
    return tree.map(lambda g: astype(g * astype(scale, fnp.astype(g, g.dtype).dtype), g.dtype),
                    grads)
