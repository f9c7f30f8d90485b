"""Learning-rate schedules: functions `step -> lr`, where `step` is the number of updates
already applied (0 for the first update).

Under jit the step is a traced int64 array, so every schedule is written with
funcgrad.numpy (no Python `if` on the step) and returns a float or a 0-d float64 array.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence, Union

import numpy as np
from typing_extensions import TypeAlias

from funcgrad import numpy as fnp

Schedule: TypeAlias = Callable[[Any], Any]
"""step (an int array, possibly traced) -> learning rate (a float or float array)."""
LearningRate: TypeAlias = Union[float, Schedule]


def _positive(owner: str, name: str, value: int) -> int:
    if not value > 0:
        raise ValueError(f"{owner}: {name} must be a positive number of steps, got {value}")
    return int(value)


def _float(step: Any) -> Any:
    return fnp.astype(step, np.float64)


def constant(lr: float) -> Schedule:
    """Schedule that returns `lr` at every step."""
    value = float(lr)

    def schedule(step: Any) -> Any:
        return value

    return schedule


def exponential_decay(
    lr: float, decay_rate: float, decay_steps: int, staircase: bool = False
) -> Schedule:
    """Schedule `lr * decay_rate ** (step / decay_steps)`; with `staircase`, the exponent is
    floored, so the rate drops by `decay_rate` at each multiple of `decay_steps`."""
    every = _positive("exponential_decay", "decay_steps", decay_steps)
    base, rate = float(lr), float(decay_rate)

    def schedule(step: Any) -> Any:
        periods = fnp.floor_divide(step, every) if staircase else _float(step) / every
        return base * fnp.power(rate, _float(periods))

    return schedule


def inverse_time_decay(
    lr: float, decay_rate: float, decay_steps: int, staircase: bool = False
) -> Schedule:
    """Schedule `lr / (1 + decay_rate * step / decay_steps)` (`staircase` floors the ratio)."""
    every = _positive("inverse_time_decay", "decay_steps", decay_steps)
    base, rate = float(lr), float(decay_rate)

    def schedule(step: Any) -> Any:
        periods = fnp.floor_divide(step, every) if staircase else _float(step) / every
        return base / (1.0 + rate * _float(periods))

    return schedule


def step_decay(lr: float, every: int, factor: float) -> Schedule:
    """Schedule `lr * factor ** (step // every)`: multiply by `factor` every `every` steps."""
    _positive("step_decay", "every", every)
    return exponential_decay(lr, factor, every, staircase=True)


def piecewise_constant(boundaries: Sequence[int], values: Sequence[float]) -> Schedule:
    """Schedule `values[i]` for `boundaries[i-1] <= step < boundaries[i]`: `values[0]` before
    the first boundary, `values[-1]` from the last one on."""
    bounds, rates = [int(b) for b in boundaries], [float(v) for v in values]
    if len(rates) != len(bounds) + 1:
        raise ValueError(
            f"piecewise_constant: values must have one more entry than boundaries, got "
            f"{len(rates)} values for {len(bounds)} boundaries"
        )
    if any(b >= c for b, c in zip(bounds, bounds[1:])):
        raise ValueError(f"piecewise_constant: boundaries must increase, got {bounds}")

    def schedule(step: Any) -> Any:
        result: Any = rates[0]
        for bound, rate in zip(bounds, rates[1:]):
            result = fnp.where(step >= bound, rate, result)
        return result

    return schedule


def cosine_decay(lr: float, total_steps: int, final: float = 0.0) -> Schedule:
    """Schedule going from `lr` at step 0 to `final` at `total_steps` on a half cosine, then flat."""
    if total_steps <= 0:
        raise ValueError(f"cosine_decay: total_steps must be positive, got {total_steps}")
    start, end, total = float(lr), float(final), int(total_steps)

    def schedule(step: Any) -> Any:
        progress = fnp.minimum(_float(step), total) / total
        return end + (start - end) * 0.5 * (1.0 + fnp.cos(math.pi * progress))

    return schedule


def warmup(schedule: Schedule, warmup_steps: int, start: float = 0.0) -> Schedule:
    """`schedule` after a linear warm-up: from `start` at step 0 up to `schedule(0)` at step
    `warmup_steps`, where `schedule` begins (it sees `step - warmup_steps`)."""
    if warmup_steps == 0:
        return schedule
    steps = _positive("warmup", "warmup_steps", warmup_steps)
    first = float(start)

    def warmed(step: Any) -> Any:
        peak = schedule(np.asarray(0, np.int64))
        ramp = first + (peak - first) * (_float(step) / steps)
        # clamped so that `schedule` never sees a negative step, even in the unused branch
        after = schedule(fnp.maximum(step - steps, 0))
        return fnp.where(step < steps, ramp, after)

    return warmed


def warmup_cosine_decay(
    lr: float, warmup_steps: int, total_steps: int, final: float = 0.0, start: float = 0.0
) -> Schedule:
    """Linear warm-up from `start` to `lr` over `warmup_steps`, then a half cosine down to
    `final` at `total_steps` (counted from step 0, warm-up included), then flat."""
    if not total_steps > warmup_steps:
        raise ValueError(
            f"warmup_cosine_decay: total_steps ({total_steps}) must exceed warmup_steps "
            f"({warmup_steps})"
        )
    return warmup(cosine_decay(lr, total_steps - warmup_steps, final), warmup_steps, start)

