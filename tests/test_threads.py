"""Threads: transformations in several threads at once give what each gives alone.

The trace state (which transformations are active, at which level) and the settings
(debug_nans) are per thread, so concurrent nested gradients never see each other's
traces. The test forces a thread switch every microsecond, which, with a shared trace
stack, made about one call in eight wrong.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

THREADS = 8
CALLS = 1000


@pytest.fixture
def frequent_switches() -> Iterator[None]:
    """Make the interpreter switch threads as often as it can."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def nested_gradient(c: float) -> Callable[[float], Any]:
    """d/dx of x * d/dy [sin(c * x * y) + y**3] at y = x: a nested grad over a closure."""
    def inner(x: Any) -> Any:
        return fg.grad(lambda y: fnp.sin(c * x * y) + y ** 3)(x)
    return fg.grad(lambda x: x * inner(x))


def run_in_threads(work: Callable[[int], list[Any]]) -> list[list[Any]]:
    """work(i) in THREADS threads at once; their results, by thread."""
    results: list[list[Any]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def body(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_nested_gradients_in_eight_threads_equal_one_thread(frequent_switches: None) -> None:
    consts = [0.5 + 0.25 * i for i in range(THREADS)]
    points = np.linspace(-1.0, 1.0, CALLS)
    expected = [[float(nested_gradient(c)(x)) for x in points] for c in consts]

    def work(i: int) -> list[Any]:
        f = nested_gradient(consts[i])
        return [float(f(x)) for x in points]

    results = run_in_threads(work)
    wrong = sum(r != e for got, want in zip(results, expected) for r, e in zip(got, want))
    assert wrong == 0, f"{wrong} of {THREADS * CALLS} results differ from one thread's"


def test_a_jitted_function_shared_by_threads(frequent_switches: None) -> None:
    # One jit cache, traced once per signature, while the threads call it with different
    # shapes and under grad.
    f = fg.jit(lambda x, w: fnp.sum(fnp.tanh(x * w)))
    g = fg.grad(f, argnums=1)

    def work(i: int) -> list[Any]:
        x = np.linspace(0.0, 1.0, 3 + i % 3)
        return [float(g(x, 0.1 * k)) for k in range(50)]

    results = run_in_threads(work)
    for i, got in enumerate(results):
        x = np.linspace(0.0, 1.0, 3 + i % 3)
        want = [float(np.sum(x * (1 - np.tanh(x * 0.1 * k) ** 2))) for k in range(50)]
        np.testing.assert_allclose(got, want, rtol=1e-13)
    assert f.trace_count == 3  # once per shape: grad of the call reuses the same graph


def test_debug_nans_is_per_thread() -> None:
    inside = threading.Event()
    done = threading.Event()
    seen: list[bool] = []

    def other() -> None:
        inside.wait()
        seen.append(fg.config.debug_nans)
        with np.errstate(invalid="ignore"):
            fnp.log(np.array([-1.0]))  # no error here: the setting is the main thread's
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with fg.debug_nans():
        assert fg.config.debug_nans
        inside.set()
        done.wait()
        with pytest.raises(FloatingPointError), np.errstate(invalid="ignore"):
            fnp.log(np.array([-1.0]))
    t.join()
    assert seen == [False] and not fg.config.debug_nans
