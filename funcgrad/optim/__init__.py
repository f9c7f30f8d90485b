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

Weight decay: `sgd`, `momentum`, `nesterov`, `adagrad`, `rmsprop`, `adam` and `adamax` add
L2 (`grad + weight_decay * param`) to the gradient before anything else, as PyTorch does;
`adamw` and `lamb` decouple it (`param -= lr * (direction + weight_decay * param)`, the
decay kept out of the moments). `mask=` (a pytree of bools like the params, or a function
params -> such a pytree) chooses which leaves decay.

A learning rate is a float or a schedule `f(step) -> float` (see `schedules`), where `step`
is the number of updates already applied (0 for the first update).
"""

from funcgrad.optim.base import GradientTransform, Mask, Optimizer, Params
from funcgrad.optim.optimizers import (AdagradState, AdamState, MomentumState, RmspropState,
                                       SgdState, adagrad, adam, adamax, adamw, lamb, momentum,
                                       nesterov, rmsprop, sgd)
from funcgrad.optim.schedules import (LearningRate, Schedule, constant, cosine_decay,
                                      exponential_decay, inverse_time_decay, piecewise_constant,
                                      step_decay, warmup, warmup_cosine_decay)
from funcgrad.optim.transforms import chain, clip, clip_by_global_norm, global_norm

__all__ = [
    "AdagradState", "AdamState", "GradientTransform", "LearningRate", "Mask", "MomentumState",
    "Optimizer", "Params", "RmspropState", "Schedule", "SgdState", "adagrad", "adam",
    "adamax", "adamw", "chain", "clip", "clip_by_global_norm", "constant", "cosine_decay",
    "exponential_decay", "global_norm", "inverse_time_decay", "lamb", "momentum", "nesterov",
    "piecewise_constant", "rmsprop", "sgd", "step_decay", "warmup", "warmup_cosine_decay",
]
