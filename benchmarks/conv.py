"""Time one convolution training step (forward, then input and kernel gradients), float32.

    python3 benchmarks/conv.py [--rounds 30] [--warmup 5]

Shapes: (a) MNIST's first layer, x (128,1,28,28) with k (32,1,3,3); (b) a second layer,
x (128,32,13,13) with k (64,32,3,3). Prints the median (and fastest) milliseconds per
step for funcgrad's kernels and, when installed, for PyTorch and JAX on the same data,
with the ratio funcgrad / other (below 1 means funcgrad is faster).

The contenders take turns in interleaved rounds (benchmarks/_timing.py), each round
timing a block of steps lasting at least 0.05 s per contender, after waiting for a quiet
machine. The CPU that other processes use during each block is shown; a block above 0.3
foreign cores is busy, and the numbers come only from rounds in which every block was
quiet, or, if there is none, from all rounds with a note that they were taken under load.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

import _blas  # noqa: F401  (first: it configures OpenBLAS, which numpy loads)
import numpy as np
from numpy.typing import NDArray

# run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from funcgrad.nn import kernels  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import (LOAD_HEADERS, QuietRounds, compare_rates,  # noqa: E402
                     load_cells, wait_for_quiet, wait_report)

F32 = NDArray[np.float32]

SHAPES: dict[str, tuple[tuple[int, int, int, int], tuple[int, int, int, int]]] = {
    "a": ((128, 1, 28, 28), (32, 1, 3, 3)),
    "b": ((128, 32, 13, 13), (64, 32, 3, 3)),
}
# funcgrad's time over PyTorch's, at most (medians of the quiet rounds)
TARGETS = {"a": 1.0, "b": 1.5}

BLOCK_SECONDS = 0.05
"""Each round times a block of steps this long per contender: a single step is too short
for the foreign load measured around it to mean anything."""


def conv_step(x: F32, k: F32, g: F32) -> tuple[Any, Any, Any]:
    """One training step's convolution work: y = conv(x, k) and the gradients of <y, g>."""
    y = kernels.conv2d_forward(x, k)
    gx = kernels.conv2d_input_grad(g, k, (x.shape[2], x.shape[3]))
    gk = kernels.conv2d_kernel_grad(x, g, (k.shape[2], k.shape[3]))
    return y, gx, gk


def torch_step(x: F32, k: F32, g: F32) -> Callable[[], object] | str:
    """PyTorch's conv2d forward + backward on the same data, or why it cannot run."""
    try:
        # typed as Any: torch may be absent (then mypy sees nothing) or partly untyped
        torch: Any = importlib.import_module("torch")
    except ImportError:
        return "not installed"
    tx = torch.from_numpy(x).requires_grad_(True)
    tk = torch.from_numpy(k).requires_grad_(True)
    tg = torch.from_numpy(g)

    def step() -> object:
        tx.grad = None
        tk.grad = None
        y = torch.nn.functional.conv2d(tx, tk)
        y.backward(tg)
        return tx.grad, tk.grad

    return step


def jax_step(x: F32, k: F32, g: F32) -> Callable[[], object] | str:
    """JAX's jitted VJP of conv_general_dilated on the same data, or why it cannot run."""
    try:
        jax: Any = importlib.import_module("jax")
        jnp: Any = importlib.import_module("jax.numpy")
    except ImportError:
        return "not installed"

    def conv(xx: Any, kk: Any) -> Any:
        return jax.lax.conv_general_dilated(xx, kk, (1, 1), "VALID",
                                            dimension_numbers=("NCHW", "OIHW", "NCHW"))

    def fwd_bwd_eager(xx: Any, kk: Any, gg: Any) -> Any:
        y, pullback = jax.vjp(conv, xx, kk)
        return y, *pullback(gg)

    fwd_bwd = jax.jit(fwd_bwd_eager)

    jx, jk, jg = jnp.asarray(x), jnp.asarray(k), jnp.asarray(g)
    return lambda: jax.block_until_ready(fwd_bwd(jx, jk, jg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # --repeats is the name this option had when every step was timed on its own
    parser.add_argument("--rounds", "--repeats", type=int, default=30,
                        help="interleaved rounds, each timing a block of steps per contender")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per contender")
    args = parser.parse_args()

    load = wait_for_quiet()
    print(wait_report(load))
    rng = np.random.default_rng(0)
    for name, (x_shape, k_shape) in SHAPES.items():
        x = rng.standard_normal(x_shape, dtype=np.float32)
        k = rng.standard_normal(k_shape, dtype=np.float32)
        n, _, h, w = x_shape
        g = rng.standard_normal((n, k_shape[0], h - k_shape[2] + 1, w - k_shape[3] + 1),
                                dtype=np.float32)
        steps: dict[str, Callable[[], object]] = {"funcgrad": lambda: conv_step(x, k, g)}
        missing: dict[str, str] = {}
        for other, make in (("torch", torch_step), ("jax", jax_step)):
            step = make(x, k, g)
            if isinstance(step, str):
                missing[other] = step
            else:
                steps[other] = step
        loads: dict[str, list[float]] = {}
        rates = compare_rates(steps, min_time=BLOCK_SECONDS, rounds=args.rounds,
                              warmup=args.warmup, loads=loads)
        quiet = QuietRounds.of(loads)
        ms = {who: (1e3 / statistics.median(quiet.pick(r)), 1e3 / max(quiet.pick(r)))
              for who, r in rates.items()}
        print(f"({name}) x {x_shape}, k {k_shape}")
        lines: dict[str, str] = {}
        for who in ("funcgrad", "torch", "jax"):
            if who in missing:
                lines[who] = f"    {who:8}  {missing[who]}"
                continue
            median_ms, fastest_ms = ms[who]
            lines[who] = (f"    {who:8}  {median_ms:7.2f} ms  (fastest {fastest_ms:.2f})"
                          + ("" if who == "funcgrad"
                             else f"  funcgrad/{who} = {ms['funcgrad'][0] / median_ms:.2f}"))
        # The load goes last, aligned, so the columns above keep the layout they had.
        width = max(len(line) for line in lines.values())
        for who, line in lines.items():
            if who in loads:
                cores, busy = load_cells(loads[who])
                line = f"{line:{width}}  {LOAD_HEADERS[0]} {cores}, {LOAD_HEADERS[1]} {busy}"
            print(line)
        print(f"    {quiet.describe()}")
        if "torch" in ms:
            ratio = ms["funcgrad"][0] / ms["torch"][0]
            print(f"    target: funcgrad/torch <= {TARGETS[name]}: "
                  f"{quiet.verdict(ratio <= TARGETS[name])} ({ratio:.2f})")


if __name__ == "__main__":
    main()
