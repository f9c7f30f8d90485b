"""The shared table of test cases: what a case is, and the inputs it is tested on.

A `Case` is one differentiable function of funcgrad.numpy with numpy's own computation of
the same thing and a generator for each argument (which fixes the arity and keeps the
inputs away from kinks and domain edges). Each family of functions lists its cases in its
own module of this package; tests/test_numpy.py (gradients of order 2, values, float32),
test_forward.py (jvp), test_vmap.py and test_jit.py run every case.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import Tracer, tree

NDArray = np.ndarray[Any, Any]
Gen = Callable[[np.random.Generator], NDArray]


# ---------------------------------------------------------------------------- inputs


def normal(*shape: int) -> Gen:
    """Standard normal values."""
    return lambda rng: rng.standard_normal(shape)


def uniform(lo: float, hi: float, *shape: int) -> Gen:
    """Uniform values in [lo, hi): for functions with a restricted domain."""
    return lambda rng: rng.uniform(lo, hi, shape)


def away_from_zero(*shape: int) -> Gen:
    """Values with 0.5 <= |x| < 2 and random signs: for kinks or poles at zero."""
    return lambda rng: rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(*shape: int, offset: float = 0.0) -> Gen:
    """A random permutation of well-separated values (spacing 0.25): no ties anywhere.
    Two operands with offsets 0 and 0.125 never tie with each other either."""
    n = int(np.prod(shape))
    return lambda rng: (rng.permutation(n) * 0.25 - n * 0.125 + offset).reshape(shape)


def seeded(name: str) -> np.random.Generator:
    """A generator seeded by the test's name, so each case has its own fixed inputs."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def at(x: Any) -> Any:
    """x.at for a traced x; for a plain numpy array (as check_grads' finite differences pass
    in) the same helper built explicitly, since numpy arrays have no .at."""
    return x.at if isinstance(x, Tracer) else fnp.IndexUpdateHelper(x)


MASK = np.array([[True, False, True], [False, False, True]])
B34 = np.arange(12.0).reshape(3, 4) % 5 - 2  # a constant operand


# ---------------------------------------------------------------------------- cases


@dataclasses.dataclass(frozen=True)
class Case:
    """One differentiable function and how to test it."""

    name: str
    fn: Callable[..., Any]  # the funcgrad.numpy function under test
    ref: Callable[..., Any]  # numpy's own computation of the same thing
    args: tuple[Gen, ...]  # one generator per argument: the arity and the input range
    order: int = 2
    eps: float | None = None  # finite-difference step and tolerances (None: the defaults)
    atol: float | None = None
    rtol: float | None = None
    f32: bool = True  # whether float32 inputs must give float32 outputs

    @property
    def arity(self) -> int:
        return len(self.args)

    def inputs(self, dtype: Any = np.float64) -> tuple[NDArray, ...]:
        rng = seeded(self.name)
        return tuple(np.asarray(g(rng), dtype) for g in self.args)


def case(name: str, fn: Callable[..., Any], ref: Callable[..., Any], *args: Gen,
       **kw: Any) -> Case:
    return Case(name, fn, ref, tuple(args), **kw)



def case_params(cases: Sequence[Case]) -> list[Any]:
    return [pytest.param(c, id=c.name) for c in cases]


def assert_tree_allclose(actual: Any, expected: Any, **kw: Any) -> None:
    a_leaves, a_tree = tree.flatten(actual)
    e_leaves, e_tree = tree.flatten(expected)
    assert a_tree == e_tree, (a_tree, e_tree)
    for a, e in zip(a_leaves, e_leaves):
        assert isinstance(a, (np.ndarray, np.generic)), type(a)  # plain values, not tracers
        assert np.shape(a) == np.shape(e)
        np.testing.assert_allclose(np.asarray(a), e, **kw)
