"""Per-call overhead of reverse-mode autodiff: grad calls per second on tiny problems.

The arrays are small, so the numpy work is cheap and what is measured is mostly the
autodiff machinery: tracing/taping, dispatch and the backward walk. Two workloads:

  (a) mlp:   sum(tanh(W2 @ tanh(W1 @ x))), W1 and W2 10x10 float64, x a 10-vector;
             gradient with respect to (W1, W2).
  (b) chain: 200 elementwise ops on a (100,) float64 vector, tanh at even steps and sin
             at odd steps, then sum; gradient with respect to x.

Implementations, all in the same run (each optional except the first two; a missing one
is reported as "not installed"):

  funcgrad       fg.grad
  numpy (hand)   numpy forward plus a hand-written backward: the "speed of light"
  autograd       HIPS autograd.grad
  jax            jax.grad, not jitted, float64 enabled (jax_enable_x64)
  torch          PyTorch eager, float64 tensors with requires_grad, torch.autograd.grad

Every implementation is first checked to give the same gradient as the hand-written one.
Timing then warms each up, sizes a block of calls to last >= 0.25 s (0.05 s with --quick)
and runs 9 rounds (3 with --quick) in which the implementations of a workload take turns,
so a noisy moment on the machine hits all of them. The table shows the best block per
implementation (the JSON output also has the median and every block). The ratio column
is funcgrad's rate divided by that implementation's rate: "funcgrad is 1.9x autograd"
means funcgrad makes 1.9 times as many grad calls per second. Targets: funcgrad >= 1.0x
autograd on both workloads; their lines also show the median over rounds of the ratio of
blocks from the same round, which is steadier on a busy machine.

Run from the repository root (about 30 s; --quick takes a few seconds):

    python benchmarks/overhead.py [--quick] [--json results.json]

Peers to measure against: pip install autograd jax jaxlib torch
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

try:
    import funcgrad as fg
except ImportError:  # not installed: use the checkout this script lives in
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import funcgrad as fg
import funcgrad.numpy as fnp
from _timing import compare_rates, format_rate, format_table, median_rate

F64 = NDArray[np.float64]

MLP_SIZE = 10
CHAIN_SIZE = 100
CHAIN_OPS = 200

TARGETS = [("mlp", "autograd", 1.0), ("chain", "autograd", 1.0)]
"""(workload, implementation, minimum ratio funcgrad/implementation)."""


# ---------------------------------------------------------------------------- workloads
# One source for every library with a numpy-like namespace `xp` (funcgrad.numpy,
# autograd.numpy, jax.numpy and torch all have tanh, sin and sum).


def make_mlp_loss(xp: Any) -> Callable[[Any, Any, Any], Any]:
    def mlp_loss(W1: Any, W2: Any, x: Any) -> Any:
        return xp.sum(xp.tanh(W2 @ xp.tanh(W1 @ x)))
    return mlp_loss


def make_chain_loss(xp: Any) -> Callable[[Any], Any]:
    def chain_loss(x: Any) -> Any:
        for i in range(CHAIN_OPS):
            x = xp.tanh(x) if i % 2 == 0 else xp.sin(x)
        return xp.sum(x)
    return chain_loss


def numpy_mlp_value_and_grad(W1: F64, W2: F64, x: F64) -> tuple[float, tuple[F64, F64]]:
    """Forward, then the backward pass written out by hand."""
    a1 = np.tanh(W1 @ x)
    a2 = np.tanh(W2 @ a1)
    value = float(np.sum(a2))
    g_h2 = 1.0 - a2 * a2                      # d sum(tanh(h2)) / d h2
    g_h1 = (W2.T @ g_h2) * (1.0 - a1 * a1)    # through W2 @ a1 and tanh
    return value, (np.outer(g_h1, x), np.outer(g_h2, a1))


def numpy_chain_value_and_grad(x: F64) -> tuple[float, F64]:
    """Forward keeping what each derivative needs, then the backward pass by hand."""
    saved = []
    y = x
    for i in range(CHAIN_OPS):
        if i % 2 == 0:
            y = np.tanh(y)
            saved.append(y)        # tanh' = 1 - tanh(y)^2: keep the output
        else:
            saved.append(y)        # sin' = cos(y): keep the input
            y = np.sin(y)
    value = float(np.sum(y))
    g = np.ones_like(x)
    for i in reversed(range(CHAIN_OPS)):
        s = saved[i]
        g = g * (1.0 - s * s) if i % 2 == 0 else g * np.cos(s)
    return value, g


@dataclass
class Inputs:
    W1: F64
    W2: F64
    x_mlp: F64
    x_chain: F64


def make_inputs() -> Inputs:
    rng = np.random.default_rng(0)
    scale = 1.0 / np.sqrt(MLP_SIZE)
    return Inputs(W1=rng.normal(0.0, scale, (MLP_SIZE, MLP_SIZE)),
                  W2=rng.normal(0.0, scale, (MLP_SIZE, MLP_SIZE)),
                  x_mlp=rng.normal(0.0, 1.0, MLP_SIZE),
                  x_chain=rng.uniform(-1.0, 1.0, CHAIN_SIZE))


# ---------------------------------------------------------------------------- implementations


@dataclass
class Bench:
    """One grad call to time, and how to turn its result into numpy gradients."""

    run: Callable[[], object]
    gradients: Callable[[object], list[F64]]


Builders = dict[str, Callable[[Inputs], Bench]]
"""workload name -> builder of that workload's Bench."""


def _as_numpy_list(result: object) -> list[F64]:
    items = result if isinstance(result, (tuple, list)) else [result]
    return [np.asarray(g, dtype=np.float64) for g in items]


def funcgrad_builders() -> Builders:
    mlp = fg.grad(make_mlp_loss(fnp), argnums=(0, 1))
    chain = fg.grad(make_chain_loss(fnp))
    return {
        "mlp": lambda d: Bench(lambda: mlp(d.W1, d.W2, d.x_mlp), _as_numpy_list),
        "chain": lambda d: Bench(lambda: chain(d.x_chain), _as_numpy_list),
    }


def numpy_builders() -> Builders:
    def grads(result: object) -> list[F64]:
        return _as_numpy_list(result[1])  # type: ignore[index]
    return {
        "mlp": lambda d: Bench(lambda: numpy_mlp_value_and_grad(d.W1, d.W2, d.x_mlp), grads),
        "chain": lambda d: Bench(lambda: numpy_chain_value_and_grad(d.x_chain), grads),
    }


def autograd_builders() -> Builders:
    autograd = importlib.import_module("autograd")
    anp = importlib.import_module("autograd.numpy")
    mlp = autograd.grad(make_mlp_loss(anp), argnum=(0, 1))
    chain = autograd.grad(make_chain_loss(anp))
    return {
        "mlp": lambda d: Bench(lambda: mlp(d.W1, d.W2, d.x_mlp), _as_numpy_list),
        "chain": lambda d: Bench(lambda: chain(d.x_chain), _as_numpy_list),
    }


def jax_builders() -> Builders:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    jax = importlib.import_module("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = importlib.import_module("jax.numpy")
    if jnp.ones(1).dtype != np.float64:
        raise RuntimeError("jax_enable_x64 did not enable float64")
    mlp = jax.grad(make_mlp_loss(jnp), argnums=(0, 1))
    chain = jax.grad(make_chain_loss(jnp))
    block = jax.block_until_ready  # dispatch is asynchronous: wait for the result

    def build_mlp(d: Inputs) -> Bench:
        W1, W2, x = jnp.asarray(d.W1), jnp.asarray(d.W2), jnp.asarray(d.x_mlp)
        return Bench(lambda: block(mlp(W1, W2, x)), _as_numpy_list)

    def build_chain(d: Inputs) -> Bench:
        x = jnp.asarray(d.x_chain)
        return Bench(lambda: block(chain(x)), _as_numpy_list)

    return {"mlp": build_mlp, "chain": build_chain}


def torch_builders() -> Builders:
    torch = importlib.import_module("torch")
    mlp_loss, chain_loss = make_mlp_loss(torch), make_chain_loss(torch)

    def tensor(a: F64, requires_grad: bool) -> Any:
        return torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad)

    def grads(result: object) -> list[F64]:
        return [np.asarray(t.detach().numpy()) for t in result]  # type: ignore[attr-defined]

    def build_mlp(d: Inputs) -> Bench:
        W1, W2, x = tensor(d.W1, True), tensor(d.W2, True), tensor(d.x_mlp, False)
        return Bench(lambda: torch.autograd.grad(mlp_loss(W1, W2, x), (W1, W2)), grads)

    def build_chain(d: Inputs) -> Bench:
        x = tensor(d.x_chain, True)
        return Bench(lambda: torch.autograd.grad(chain_loss(x), (x,)), grads)

    return {"mlp": build_mlp, "chain": build_chain}


IMPLEMENTATIONS: dict[str, Callable[[], Builders]] = {
    "funcgrad": funcgrad_builders,
    "numpy (hand)": numpy_builders,
    "autograd": autograd_builders,
    "jax": jax_builders,
    "torch": torch_builders,
}
WORKLOADS = {
    "mlp": f"(a) mlp {MLP_SIZE}x{MLP_SIZE}",
    "chain": f"(b) chain {CHAIN_OPS} ops x ({CHAIN_SIZE},)",
}
REFERENCE = "numpy (hand)"


def version_of(name: str) -> str:
    if name == "funcgrad":
        return str(Path(fg.__file__).resolve().parent)
    if name == REFERENCE:
        return f"numpy {np.__version__}"
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        version = str(getattr(sys.modules.get(name), "__version__", "?"))
    if name == "torch" and "torch" in sys.modules:
        version += f", {sys.modules['torch'].get_num_threads()} threads"
    if name == "jax":
        version += ", not jitted, x64"
    return version


# ---------------------------------------------------------------------------- main


@dataclass
class Result:
    workload: str
    implementation: str
    status: str = "ok"  # "ok", "not installed" or "unavailable: <reason>"
    rates: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return max(self.rates) if self.rates else float("nan")


def load_implementations() -> tuple[dict[str, Builders], dict[str, str]]:
    loaded: dict[str, Builders] = {}
    failed: dict[str, str] = {}
    for name, load in IMPLEMENTATIONS.items():
        try:
            loaded[name] = load()
        except ImportError:
            failed[name] = "not installed"
        except Exception as e:  # e.g. a broken install: report it, measure the rest
            failed[name] = f"unavailable: {type(e).__name__}: {e}"
    return loaded, failed


def check_gradients(workload: str, benches: dict[str, Bench]) -> None:
    expected = benches[REFERENCE].gradients(benches[REFERENCE].run())
    for name, bench in benches.items():
        got = bench.gradients(bench.run())
        try:
            assert len(got) == len(expected), f"{len(got)} gradients, expected {len(expected)}"
            for g, e in zip(got, expected):
                np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)
        except AssertionError as err:
            raise SystemExit(f"{name} computes a different gradient than {REFERENCE} "
                             f"on workload {workload}:\n{err}") from None


def ratio_text(fg_rate: float, result: Result) -> str:
    if result.status != "ok":
        return ""
    if result.implementation == "funcgrad":
        return "1.00x (itself)"
    return f"funcgrad is {fg_rate / result.best:.2f}x {result.implementation}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter timing blocks")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write results as JSON")
    args = parser.parse_args(argv)
    rounds, min_time = (3, 0.05) if args.quick else (9, 0.25)

    start = time.perf_counter()
    loaded, failed = load_implementations()
    inputs = make_inputs()

    print("funcgrad overhead benchmark: grad calls per second on tiny inputs (higher is better)")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} cpus"
          + (f", OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}"
             if "OPENBLAS_CORETYPE" in os.environ else ""))
    for name in IMPLEMENTATIONS:
        print(f"  {name:13s} {version_of(name) if name in loaded else failed[name]}")
    print(f"timing: {'quick, ' if args.quick else ''}{rounds} interleaved rounds of blocks "
          f">= {min_time} s per implementation; best block reported\n")

    results: list[Result] = []
    for workload in WORKLOADS:
        benches = {name: builders[workload](inputs) for name, builders in loaded.items()}
        check_gradients(workload, benches)
        rates = compare_rates({n: b.run for n, b in benches.items()},
                              min_time=min_time, rounds=rounds)
        for name in IMPLEMENTATIONS:
            results.append(Result(workload, name, rates=rates[name]) if name in rates
                           else Result(workload, name, status=failed[name]))

    rows = []
    for r in results:
        fg_rate = next(x.best for x in results
                       if x.workload == r.workload and x.implementation == "funcgrad")
        rows.append([WORKLOADS[r.workload], r.implementation,
                     format_rate(r.best) if r.status == "ok" else r.status,
                     ratio_text(fg_rate, r)])
    print(format_table(["workload", "implementation", "calls/s", "ratio funcgrad/it"],
                       rows, right={2}))

    print("\ntargets:")
    label_width = max(len(WORKLOADS[w]) for w, _, _ in TARGETS)
    targets = []
    all_met = True
    for workload, peer, minimum in TARGETS:
        by_impl = {r.implementation: r for r in results if r.workload == workload}
        peer_result = by_impl[peer]
        if peer_result.status != "ok":
            ratio, paired = None, None
            verdict = f"not measured ({peer_result.status})"
        else:
            ratio = by_impl["funcgrad"].best / peer_result.best
            # Blocks of one round ran back to back, so their ratio cancels slow phases.
            paired = median_rate([a / b for a, b in zip(by_impl["funcgrad"].rates,
                                                         peer_result.rates)])
            verdict = (f"{ratio:.2f}x (median of per-round ratios {paired:.2f}x)  "
                       + ("met" if ratio >= minimum else "NOT MET"))
            all_met = all_met and ratio >= minimum
        print(f"  {WORKLOADS[workload]:{label_width}s} "
              f"funcgrad >= {minimum:.1f}x {peer}: {verdict}")
        targets.append({"workload": workload, "peer": peer, "minimum": minimum,
                        "ratio": ratio, "paired_median_ratio": paired,
                        "met": None if ratio is None else ratio >= minimum})
    elapsed = time.perf_counter() - start
    measured = all(t["met"] is not None for t in targets)
    summary = ("some targets NOT met" if not all_met else
               "all targets met" if measured else "targets met where measured")
    print(f"\n{summary}; "
          f"total time {elapsed:.1f} s")

    if args.json is not None:
        payload = {
            "benchmark": "overhead",
            "quick": args.quick,
            "rounds": rounds,
            "min_block_seconds": min_time,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "versions": {n: version_of(n) for n in loaded},
            "results": [{
                "workload": r.workload,
                "implementation": r.implementation,
                "status": r.status,
                "calls_per_s_best": r.best if r.status == "ok" else None,
                "calls_per_s_median": median_rate(r.rates) if r.status == "ok" else None,
                "calls_per_s_blocks": r.rates,
            } for r in results],
            "targets": targets,
            "seconds": elapsed,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
