"""Gradient clipping, and `chain`, which puts gradient transforms in front of an optimizer.

    opt = chain(clip(1.0), adamw(1e-3, weight_decay=1e-2))
    state = opt.init(params)              # a tuple: (clip's state, adamw's state)
    params, state = opt.update(grads, state, params)
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from funcgrad import numpy as fnp
from funcgrad import tree
from funcgrad.core import Array, ArrayLike
from funcgrad.numpy import astype
from funcgrad.optim.base import GradientTransform, Optimizer, Params


def global_norm(t: Params) -> Array:
    """Euclidean norm of all leaves of `t` taken together as one vector (a float64 scalar)."""
    # Squares in float64: a float32 square overflows for entries above ~1.8e19, which is
    # exactly the exploding-gradient case clipping exists for.
    total: ArrayLike = 0.0
    for leaf in tree.leaves(t):
        total = total + fnp.sum(fnp.square(fnp.astype(leaf, np.float64)))
    return fnp.sqrt(total)


def _check_max_norm(owner: str, max_norm: float) -> float:
    if not max_norm >= 0.0:
        raise ValueError(f"{owner}: max_norm must be >= 0, got {max_norm}")
    return float(max_norm)


def clip_by_global_norm(grads: Params, max_norm: float) -> Params:
    """Scale `grads` so their global norm is at most `max_norm` (unchanged values if within)."""
    bound = _check_max_norm("clip_by_global_norm", max_norm)
    norm = global_norm(grads)
    scale = fnp.where(norm > bound, bound / fnp.maximum(norm, 1e-300), 1.0)
    return tree.map(lambda g: g * astype(scale, g.dtype), grads)


def clip(max_norm: float) -> GradientTransform[tuple[()]]:
    """Transform scaling the gradients so that their global norm is at most `max_norm`."""
    bound = _check_max_norm("clip", max_norm)

    def init(params: Params) -> tuple[()]:
        return ()

    def update(grads: Params, state: tuple[()], params: Params) -> tuple[Params, tuple[()]]:
        return clip_by_global_norm(grads, bound), state

    return GradientTransform(init, update)


Part = Union[GradientTransform[Any], Optimizer[Any]]


def chain(*parts: Part) -> Optimizer[tuple[Any, ...]]:
    """Optimizer applying the gradient transforms `parts[:-1]` in order, then the optimizer
    `parts[-1]`; its state is the tuple of the parts' states."""
    *transforms, last = parts if parts else (None,)
    if not isinstance(last, Optimizer):
        raise TypeError(f"chain: the last part must be an Optimizer (sgd, adam, ...), got {last!r}")
    for i, part in enumerate(transforms):
        if not isinstance(part, GradientTransform):
            raise TypeError(
                f"chain: part {i} must be a GradientTransform (clip, ...): only the last part "
                f"is an optimizer, got {type(part).__name__}"
            )

    def init(params: Params) -> tuple[Any, ...]:
        return tuple(part.init(params) for part in parts)

    def update(
        grads: Params, state: tuple[Any, ...], params: Params
    ) -> tuple[Params, tuple[Any, ...]]:
        if type(state) is not tuple or len(state) != len(parts):
            raise ValueError(
                f"chain: the state must be a tuple of {len(parts)} states, one per part "
                f"(from this chain's init), got {type(state).__name__}"
            )
        new_states = []
        for transform, part_state in zip(transforms, state):
            grads, part_state = transform.update(grads, part_state, params)
            new_states.append(part_state)
        params, last_state = last.update(grads, state[-1], params)
        return params, (*new_states, last_state)

    return Optimizer(init, update)
