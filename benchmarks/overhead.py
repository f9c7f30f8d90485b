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
  funcgrad jit   fg.jit(fg.grad(f)): traced once into a simplified graph, then replayed
                 as straight-line numpy calls
  numpy (hand)   numpy forward plus a hand-written backward: the "speed of light"
  autograd       HIPS autograd.grad
  jax            jax.grad, not jitted, float64 enabled (jax_enable_x64)
  torch          PyTorch eager, float64 tensors with requires_grad, torch.autograd.grad

Every implementation is first checked to give the same gradient as the hand-written one.
Timing waits (up to two minutes) for a quiet machine, then warms each up, sizes a block
of calls to last >= 0.25 s (0.05 s with --quick) and runs 9 rounds (3 with --quick) in
which the implementations of a workload take turns, so a noisy moment on the machine
hits all of them. The CPU that other processes use during each block is measured
(/proc/stat minus this process): a block above 0.3 foreign cores is busy, and rates,
ratios and verdicts come only from the quiet rounds, those in which every block was
quiet. If there is none, all rounds are used, the table says the result was taken
under load and the targets are "not established (machine busy)". The table shows the
best block per implementation (the JSON output also has the median, every block and
its foreign load). The ratio column is funcgrad's rate divided by that implementation's
rate: "funcgrad is 1.9x autograd" means funcgrad makes 1.9 times as many grad calls per
second. Targets on both workloads: funcgrad >= 2.0x autograd; funcgrad jit >= 5x
funcgrad (un-jitted) and >= 0.8x the hand-written numpy. Their lines also show the
median over rounds of the ratio of blocks from the same round, which is steadier on a
busy machine.

A third measurement, per-example gradients: the MNIST CNN of examples/mnist_cnn.py (or, if
that cannot be imported, the same architecture built here: conv3x3(32) batchnorm maxpool
relu conv3x3(64) batchnorm relu maxpool dense128 relu dense10, the convolutions without
bias), BatchNorm in evaluation
mode, float32, a batch of 128 random 1x28x28 images. `fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))` with each example a batch of one
gives one gradient per example; it is timed against one `fg.grad(loss)` of the whole batch
(which gives their mean). Target: per-example time <= 2x the batched time.

Run from the repository root (about a minute; --quick, where the per-example batch is 16,
takes several seconds):

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
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _blas  # noqa: F401  (first: it configures OpenBLAS, which numpy loads)
import numpy as np
from numpy.typing import NDArray

try:
    import funcgrad as fg
except ImportError:  # not installed: use the checkout this script lives in
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import funcgrad as fg
import funcgrad.numpy as fnp
from _timing import (LOAD_HEADERS, QUIET, QuietRounds, busy_rounds, compare_rates, format_rate,
                     format_table, load_cells, median_rate, wait_for_quiet,
                     wait_report)
from funcgrad import nn, random, tree

F64 = NDArray[np.float64]

MLP_SIZE = 10
CHAIN_SIZE = 100
CHAIN_OPS = 200



@dataclass(frozen=True)
class Target:
    """subject's calls/s divided by peer's, on a workload, must be at least `minimum`."""

    workload: str
    subject: str
    peer: str
    minimum: float


TARGETS = [
    Target("mlp", "funcgrad", "autograd", 2.0),
    Target("chain", "funcgrad", "autograd", 2.0),
    Target("mlp", "funcgrad jit", "funcgrad", 5.0),
    Target("chain", "funcgrad jit", "funcgrad", 5.0),
    Target("mlp", "funcgrad jit", "numpy (hand)", 0.8),
    Target("chain", "funcgrad jit", "numpy (hand)", 0.8),
]

PER_EXAMPLE_BATCH = 128
PER_EXAMPLE_QUICK_BATCH = 16
PER_EXAMPLE_MAX_RATIO = 2.0
"""Per-example gradients may take at most this many times as long as the batched gradient."""


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


def funcgrad_jit_builders() -> Builders:
    mlp = fg.jit(fg.grad(make_mlp_loss(fnp), argnums=(0, 1)))
    chain = fg.jit(fg.grad(make_chain_loss(fnp)))
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
    "funcgrad jit": funcgrad_jit_builders,
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
    if name == "funcgrad jit":
        return "fg.jit(fg.grad(f)), traced once per workload"
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


# ---------------------------------------------------------------------------- per-example


Loss = Callable[[Any, Any, Any], Any]


def mnist_model() -> tuple[str, Loss, Any]:
    """(where the model comes from, loss(params, x, y), params): the CNN of
    examples/mnist_cnn.py, or the same architecture built here if that cannot be imported."""
    examples = str(Path(__file__).resolve().parents[1] / "examples")
    if examples not in sys.path:
        sys.path.append(examples)
    try:
        mnist_cnn = importlib.import_module("mnist_cnn")
        model, source = mnist_cnn.MODEL, "examples/mnist_cnn.py"
    except ImportError as err:
        model = nn.serial(nn.Conv2D(32, 3, use_bias=False), nn.BatchNorm(), nn.MaxPool2D(2),
                          nn.Relu, nn.Conv2D(64, 3, use_bias=False), nn.BatchNorm(), nn.Relu,
                          nn.MaxPool2D(2),
                          nn.Flatten, nn.Linear(128), nn.Relu, nn.Linear(10))
        source = f"built here (examples/mnist_cnn.py not importable: {err})"
    _, params = model.init(random.key(0), (-1, 1, 28, 28))
    state = model.init_state(params)

    def loss(params: Any, x: Any, y: Any) -> Any:
        # BatchNorm with its running statistics (evaluation mode), so that examples do not
        # interact and the batched gradient is the mean of the per-example ones
        return nn.cross_entropy(model.apply_with_state(params, state, x, train=False)[0], y)

    return source, loss, params


@dataclass
class PerExample:
    source: str
    batch: int
    per_example_rates: list[float]
    batched_rates: list[float]
    per_example_loads: list[float]
    batched_loads: list[float]
    rounds: QuietRounds

    @property
    def per_example_best(self) -> float:
        return max(self.rounds.pick(self.per_example_rates))

    @property
    def batched_best(self) -> float:
        return max(self.rounds.pick(self.batched_rates))

    @property
    def ratio(self) -> float:
        """Seconds per per-example call over seconds per batched call (best blocks)."""
        return self.batched_best / self.per_example_best

    @property
    def paired_ratio(self) -> float:
        return median_rate([b / p for b, p in zip(self.rounds.pick(self.batched_rates),
                                                  self.rounds.pick(self.per_example_rates))])


def per_example_benchmark(batch: int, rounds: int, min_time: float) -> PerExample:
    """Time vmap(grad(loss)) over examples (each a batch of one) against grad(loss) on the batch."""
    source, loss, params = mnist_model()
    rng = np.random.default_rng(1)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    x_each, y_each = x[:, None], y[:, None]  # (batch, 1, 1, 28, 28) and (batch, 1)
    per_example = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))
    batched = fg.grad(loss)
    # The loss is a mean over the batch, so the batched gradient is the per-example mean.
    for g, m, p in zip(tree.leaves(per_example(params, x_each, y_each)),
                       tree.leaves(batched(params, x, y)), tree.leaves(params)):
        if g.shape != (batch, *p.shape) or g.dtype != np.float32:
            raise SystemExit(f"per-example gradient of shape {g.shape}, dtype {g.dtype}; "
                             f"expected {(batch, *p.shape)}, float32")
        try:
            np.testing.assert_allclose(g.mean(axis=0), m, rtol=1e-3, atol=1e-5)
        except AssertionError as err:
            raise SystemExit(f"the mean of the per-example gradients differs from the "
                             f"batched gradient:\n{err}") from None
    loads: dict[str, list[float]] = {}
    rates = compare_rates({"per-example": lambda: per_example(params, x_each, y_each),
                           "batched": lambda: batched(params, x, y)},
                          min_time=min_time, rounds=rounds, warmup=1, loads=loads)
    return PerExample(source, batch, rates["per-example"], rates["batched"],
                      loads["per-example"], loads["batched"], QuietRounds.of(loads))


# ---------------------------------------------------------------------------- main


@dataclass
class Result:
    workload: str
    implementation: str
    status: str = "ok"  # "ok", "not installed" or "unavailable: <reason>"
    rates: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    rounds: QuietRounds | None = None  # shared by the workload's results

    @property
    def used(self) -> list[float]:
        """The rates that the reported numbers are taken from."""
        return self.rounds.pick(self.rates) if self.rounds is not None else self.rates

    @property
    def best(self) -> float:
        return max(self.used) if self.used else float("nan")


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


def summary_text(targets: list[dict[str, Any]]) -> str:
    """One line on all targets; one taken under load is counted as open, never as met."""
    verdicts = [t["met"] for t in targets]
    busy = sum(bool(t["under_load"]) for t in targets)
    if False in verdicts:
        summary = "some targets NOT met"
    elif None not in verdicts:
        summary = "all targets met"
    elif busy == 0:
        summary = "targets met where measured"
    else:
        summary = f"{verdicts.count(True)} of {len(targets)} targets met"
    if busy:
        summary += f"; {busy} not established (taken under load): rerun on a quiet machine"
    return summary


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
          f">= {min_time} s per implementation; best block of the quiet rounds reported")
    load = wait_for_quiet()
    print(wait_report(load) + "\n")

    results: list[Result] = []
    workload_rounds: dict[str, QuietRounds] = {}
    for workload in WORKLOADS:
        benches = {name: builders[workload](inputs) for name, builders in loaded.items()}
        check_gradients(workload, benches)
        loads: dict[str, list[float]] = {}
        rates = compare_rates({n: b.run for n, b in benches.items()},
                              min_time=min_time, rounds=rounds, loads=loads)
        workload_rounds[workload] = QuietRounds.of(loads)
        for name in IMPLEMENTATIONS:
            results.append(Result(workload, name, rates=rates[name], loads=loads[name],
                                  rounds=workload_rounds[workload]) if name in rates
                           else Result(workload, name, status=failed[name]))

    rows = []
    for r in results:
        fg_rate = next(x.best for x in results
                       if x.workload == r.workload and x.implementation == "funcgrad")
        rows.append([WORKLOADS[r.workload], r.implementation,
                     format_rate(r.best) if r.status == "ok" else r.status,
                     ratio_text(fg_rate, r), *(load_cells(r.loads) if r.loads else ["", ""])])
    print(format_table(["workload", "implementation", "calls/s", "ratio funcgrad/it",
                        *LOAD_HEADERS], rows, right={2, 4, 5}))
    for workload, quiet in workload_rounds.items():
        print(f"{WORKLOADS[workload]}: {quiet.describe()}")

    quick_batch = PER_EXAMPLE_QUICK_BATCH if args.quick else PER_EXAMPLE_BATCH
    per_ex = per_example_benchmark(quick_batch, max(1, rounds // 3), min_time)
    print(f"\nper-example gradients: MNIST CNN from {per_ex.source}, float32, batch "
          f"{per_ex.batch}" + (" (--quick; the target is for 128)" if args.quick else ""))
    print(format_table(
        ["computation", "calls/s", "seconds/call", *LOAD_HEADERS],
        [["vmap(grad(loss), in_axes=(None, 0, 0)), batches of one",
          format_rate(per_ex.per_example_best), f"{1 / per_ex.per_example_best:.3f}",
          *load_cells(per_ex.per_example_loads)],
         ["grad(loss) on the whole batch", format_rate(per_ex.batched_best),
          f"{1 / per_ex.batched_best:.3f}", *load_cells(per_ex.batched_loads)]],
        right={1, 2, 3, 4}))
    print(per_ex.rounds.describe())

    print("\ntargets:")
    label_width = max(len(WORKLOADS[t.workload]) for t in TARGETS)
    targets: list[dict[str, Any]] = []
    for target in TARGETS:
        by_impl = {r.implementation: r for r in results if r.workload == target.workload}
        subject, peer = by_impl[target.subject], by_impl[target.peer]
        if subject.rounds is None or peer.rounds is None:
            ratio, paired, met, under_load = None, None, None, False
            verdict = f"not measured ({peer.status if subject.status == 'ok' else subject.status})"
        else:
            ratio = subject.best / peer.best
            # Blocks of one round ran back to back, so their ratio cancels slow phases.
            paired = median_rate([a / b for a, b in zip(subject.used, peer.used)])
            quiet = workload_rounds[target.workload]
            met, under_load = quiet.met(ratio >= target.minimum), quiet.under_load
            verdict = (f"{ratio:.2f}x (median of per-round ratios {paired:.2f}x)  "
                       + quiet.verdict(ratio >= target.minimum))
        print(f"  {WORKLOADS[target.workload]:{label_width}s} "
              f"{target.subject} >= {target.minimum:.1f}x {target.peer}: {verdict}")
        targets.append({"workload": target.workload, "subject": target.subject,
                        "peer": target.peer, "minimum": target.minimum,
                        "ratio": ratio, "paired_median_ratio": paired,
                        "met": met, "under_load": under_load})
    per_ex_ok = per_ex.ratio <= PER_EXAMPLE_MAX_RATIO
    print(f"  per-example gradients, batch {per_ex.batch}: time of vmap(grad) <= "
          f"{PER_EXAMPLE_MAX_RATIO:.1f}x time of batched grad: {per_ex.ratio:.2f}x (median of "
          f"per-round ratios {per_ex.paired_ratio:.2f}x)  " + per_ex.rounds.verdict(per_ex_ok))
    targets.append({"workload": "per-example", "subject": "vmap(grad(loss))",
                    "peer": "grad(loss) batched", "maximum_time_ratio": PER_EXAMPLE_MAX_RATIO,
                    "ratio": per_ex.ratio, "paired_median_ratio": per_ex.paired_ratio,
                    "met": per_ex.rounds.met(per_ex_ok), "under_load": per_ex.rounds.under_load})
    elapsed = time.perf_counter() - start
    print(f"\n{summary_text(targets)}; total time {elapsed:.1f} s")

    if args.json is not None:
        payload = {
            "benchmark": "overhead",
            "quick": args.quick,
            "rounds": rounds,
            "min_block_seconds": min_time,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "versions": {n: version_of(n) for n in loaded},
            "foreign_cores_before_timing": load,
            "quiet_threshold_cores": QUIET,
            # best and median are over the rounds listed in "rounds_used"; the blocks and
            # their foreign load are every round's
            "results": [{
                "workload": r.workload,
                "implementation": r.implementation,
                "status": r.status,
                "calls_per_s_best": r.best if r.rounds else None,
                "calls_per_s_median": median_rate(r.used) if r.rounds else None,
                "calls_per_s_blocks": r.rates,
                "foreign_cores_blocks": r.loads,
                "foreign_cores_median": statistics.median(r.loads) if r.rounds else None,
                "busy_rounds": busy_rounds(r.loads) if r.rounds else None,
                "rounds_used": list(r.rounds.indices) if r.rounds else None,
                "under_load": r.rounds.under_load if r.rounds else None,
            } for r in results],
            "per_example": {
                "source": per_ex.source,
                "batch": per_ex.batch,
                "per_example_calls_per_s_blocks": per_ex.per_example_rates,
                "batched_calls_per_s_blocks": per_ex.batched_rates,
                "per_example_foreign_cores_blocks": per_ex.per_example_loads,
                "batched_foreign_cores_blocks": per_ex.batched_loads,
                "per_example_foreign_cores_median": statistics.median(per_ex.per_example_loads),
                "batched_foreign_cores_median": statistics.median(per_ex.batched_loads),
                "per_example_busy_rounds": busy_rounds(per_ex.per_example_loads),
                "batched_busy_rounds": busy_rounds(per_ex.batched_loads),
                "rounds_used": list(per_ex.rounds.indices),
                "under_load": per_ex.rounds.under_load,
            },
            "targets": targets,
            "seconds": elapsed,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
