"""A loop as one scan equation against the same loop unrolled by Python, under grad.

    python3 benchmarks/scan.py [--steps 1000] [--rounds 7]

The workload: an RNN cell h = tanh(W h + U x_t + b) (hidden 32, input 16) over `steps`
inputs, loss = sum of the final state and of every step's output; the gradient with
respect to (W, U, b). Written twice: with funcgrad.primitives.scan, and with a Python for loop
(which grad records step by step). Measured, in the same run:

- seconds per gradient, eager and under jit (interleaved rounds, medians; each round's
  foreign CPU load is shown and rounds above 0.3 cores are marked);
- tracing time: make_graph of the gradient (the scan's graph has a fixed number of
  equations; the loop's grows with the steps), and the first call of the jitted gradient;
- peak memory of one gradient (tracemalloc: numpy allocations included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _blas  # noqa: F401  (first: it configures OpenBLAS, which numpy loads)
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402
from funcgrad.lax import scan  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import (LOAD_HEADERS, QuietRounds, compare_rates, format_table,  # noqa: E402
                     load_cells, wait_for_quiet, wait_report)

HIDDEN, INPUT = 32, 16


def cell(params: Any, h: Any, x: Any) -> Any:
    """One step of the RNN."""
    return fnp.tanh(params["W"] @ h + params["U"] @ x + params["b"])


def loss_scan(params: Any, xs: Any) -> Any:
    """The RNN over xs as one scan."""
    def step(h: Any, x: Any) -> tuple[Any, Any]:
        h = cell(params, h, x)
        return h, fnp.sum(h)
    h, ys = scan(step, np.zeros(HIDDEN), xs)
    return fnp.sum(h) + fnp.sum(ys)


def loss_loop(params: Any, xs: Any) -> Any:
    """The same RNN as a Python loop."""
    h: Any = np.zeros(HIDDEN)
    total: Any = 0.0
    for x in xs:
        h = cell(params, h, x)
        total = total + fnp.sum(h)
    return fnp.sum(h) + total


def seconds(f: Callable[[], object]) -> float:
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def peak_bytes(f: Callable[[], object]) -> int:
    tracemalloc.start()
    f()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((HIDDEN, HIDDEN)) * 0.3,
              "U": rng.standard_normal((HIDDEN, INPUT)) * 0.3, "b": np.zeros(HIDDEN)}
    xs = rng.standard_normal((args.steps, INPUT))
    grads = {"scan": fg.grad(loss_scan), "loop": fg.grad(loss_loop)}
    g_scan, g_loop = grads["scan"](params, xs), grads["loop"](params, xs)
    err = max(float(np.abs(g_scan[k] - g_loop[k]).max()) for k in params)
    print(f"RNN, {args.steps} steps: scan and loop gradients differ by at most {err:.1e}")

    rows = []
    for name, loss in (("scan", loss_scan), ("loop", loss_loop)):
        start = time.perf_counter()
        graph = fg.make_graph(fg.grad(loss))(params, xs)
        trace = time.perf_counter() - start
        jitted = fg.jit(fg.grad(loss))
        first = seconds(lambda: jitted(params, xs))
        rows.append((name, str(len(graph.eqns)), f"{trace:.3f}", f"{first:.3f}",
                     f"{peak_bytes(lambda: grads[name](params, xs)) / 2**20:.1f}"))
    print()
    print(format_table(["version", "equations in grad's graph", "make_graph s",
                        "jit's first call s", "peak MiB of grad"], rows, right={1, 2, 3, 4}))

    print("\n" + wait_report(wait_for_quiet()))
    jit_scan, jit_loop = fg.jit(grads["scan"]), fg.jit(grads["loop"])
    jit_scan(params, xs), jit_loop(params, xs)
    fns = {"grad, scan": lambda: grads["scan"](params, xs),
           "grad, loop": lambda: grads["loop"](params, xs),
           "jit(grad), scan": lambda: jit_scan(params, xs),
           "jit(grad), loop": lambda: jit_loop(params, xs)}
    loads: dict[str, list[float]] = {}
    rates = compare_rates(fns, min_time=0.3, rounds=args.rounds, warmup=1, loads=loads)
    quiet = QuietRounds.of(loads)
    used = {name: quiet.pick(r) for name, r in rates.items()}
    table = [(name, f"{1e3 / statistics.median(r):.1f}", f"{1e3 / max(r):.1f}",
              *load_cells(loads[name])) for name, r in used.items()]
    print(format_table(["gradient", "median ms", "best ms", *LOAD_HEADERS], table,
                       right={1, 2, 3}))
    print(quiet.describe())
    for kind in ("grad", "jit(grad)"):
        ratio = statistics.median(used[f"{kind}, scan"]) / statistics.median(used[f"{kind}, loop"])
        print(f"{kind}: scan is {ratio:.2f}x the speed of the unrolled loop")


if __name__ == "__main__":
    main()
