"""What the optimizers and gradient transforms share: their pure (init, update) pairs, and
checks of trees, masks and hyperparameters."""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar, Union

import numpy as np
from typing_extensions import NamedTuple, TypeAlias

from funcgrad import tree
from funcgrad.core import Tracer
from funcgrad.numpy import astype

Params: TypeAlias = Any
"""A pytree whose leaves are floating-point numpy arrays."""

Mask: TypeAlias = Union[Params, Callable[[Params], Params]]
"""A pytree of bools shaped like the params (True: the leaf decays), or a function
params -> such a pytree."""

S = TypeVar("S")


# typing_extensions' NamedTuple, because generic NamedTuples need Python 3.11 in `typing`.
class Optimizer(NamedTuple, Generic[S]):
    """Pure optimizer: init(params) -> state; update(grads, state, params) -> (params, state)."""

    init: Callable[[Params], S]
    update: Callable[[Params, S, Params], tuple[Params, S]]


class GradientTransform(NamedTuple, Generic[S]):
    """Pure gradient transform: init(params) -> state; update(grads, state, params) ->
    (new grads, state). `chain` puts transforms in front of an optimizer."""

    init: Callable[[Params], S]
    update: Callable[[Params, S, Params], tuple[Params, S]]


def check_range(owner: str, name: str, value: float, below: float | None = None) -> float:
    """`value` as a Python float if it is >= 0 (and < `below`), else a ValueError naming it."""
    number = float(value)
    if below is None and not number >= 0.0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value}")
    if below is not None and not 0.0 <= number < below:
        raise ValueError(f"{owner}: {name} must be in [0, {below:g}), got {value}")
    return number


def where(treedef: tree.TreeDef, index: int) -> str:
    """Leaf `index` of `treedef` described by its position and key path, for errors."""
    path = treedef.leaf_paths()[index]
    return f"leaf {index} ({path or '<root>'})"


def param_leaves(params: Params) -> tuple[list[np.ndarray], tree.TreeDef]:
    """The params' leaves as arrays and their TreeDef; non-float leaves are a TypeError."""
    leaves, treedef = tree.flatten(params)
    arrays = [as_array(p) for p in leaves]
    for i, p in enumerate(arrays):
        if p.dtype.kind != "f":
            raise TypeError(
                f"optimizer params must be floating-point arrays, but {where(treedef, i)} "
                f"has dtype {p.dtype}"
            )
    return arrays, treedef


def same_structure(what: str, other: Any, treedef: tree.TreeDef) -> list[Any]:
    """The leaves of `other`, or a ValueError showing both trees if it is not shaped like
    the params."""
    leaves, other_def = tree.flatten(other)
    if other_def != treedef:
        raise ValueError(
            f"{what} tree structure does not match the params tree:\n"
            f"  {what}: {other_def!r}\n"
            f"  params: {treedef!r}"
        )
    return leaves


def matching_leaves(
    what: str, other: Params, treedef: tree.TreeDef, params: list[np.ndarray]
) -> list[np.ndarray]:
    """The leaves of `other` as arrays, checked leaf by leaf against the params' shapes."""
    arrays = [as_array(x) for x in same_structure(what, other, treedef)]
    for i, (x, p) in enumerate(zip(arrays, params)):
        if x.shape != p.shape:
            raise ValueError(
                f"{what} {where(treedef, i)} has shape {x.shape}, "
                f"but the param has shape {p.shape}"
            )
    return arrays


def decay_rates(
    weight_decay: float, mask: Mask | None, params: Params, treedef: tree.TreeDef
) -> list[float]:
    """Per leaf: `weight_decay` where `mask` selects the leaf (all when None), else 0."""
    if mask is None:
        return [weight_decay] * treedef.num_leaves
    chosen = same_structure("mask", mask(params) if callable(mask) else mask, treedef)
    for i, m in enumerate(chosen):
        if not isinstance(m, (bool, np.bool_)):
            raise TypeError(f"mask {where(treedef, i)} must be a bool, got {m!r}")
    return [weight_decay if m else 0.0 for m in chosen]


def as_array(x: Any) -> np.ndarray:
    """`x` as a numpy array; traced values (an update inside jit) stay traced."""
    # Tracers have .shape and .dtype too, and stand in for the arrays this package is
    # typed with (hence the ignore).
    return x if isinstance(x, Tracer) else np.asarray(x)  # type: ignore[return-value]


def count(step: Any) -> Any:
    """A step count as a 0-d int64 array (traced counts stay traced)."""
    return step if isinstance(step, Tracer) else np.asarray(step, np.int64)


def like(value: Any, param: np.ndarray) -> np.ndarray:
    """`value` cast to the dtype of `param`."""
    # The guarantee that the param dtype survives a float64 gradient or hyperparameter; it
    # is free (no copy) when the arithmetic already stayed in that dtype. (Traced inside
    # jit, as above.)
    return astype(value, param.dtype)  # type: ignore[return-value]
