"""The MNIST CNN of examples/mnist_cnn.py: training-step time against PyTorch, and memory.

    python benchmarks/mnist.py [--data DIR] [--rounds 5] [--steps 20] [--full] [--no-jit]

Step time: one training step on a batch of 128 images (forward, backward, Adam update),
float32, for funcgrad (the example's step function, jitted as the example runs it unless
--no-jit) and, when installed, for PyTorch eager on the same architecture,
the same initial weights and the same batch (PyTorch with its default number of
threads). The two take turns in interleaved rounds (benchmarks/_timing.py), so a busy
moment of the machine hits both; the ratio is funcgrad's time per step over PyTorch's,
as the median over rounds of the ratio within a round. Target: <= 1.3x (the aim: 1.0x).

Memory: the peak resident set size (getrusage ru_maxrss) of a child process that runs a
short training of the example (`--steps` minibatches of 128, then two evaluation batches
of 500 test images, as after every epoch), plus tracemalloc's peak of the arrays
allocated during it; the same for PyTorch's training loop for comparison. Target:
<= 608 MB.

--full also runs the example's default training (all epochs, full test set after each)
in a child process and prints test accuracy, epoch time, images/s per epoch, the time to
99% test accuracy and the run's peak RSS.

MNIST comes from --data DIR, else $FUNCGRAD_DATA/mnist or the download cache (see
examples/mnist_data.py); without it, the step time and memory use random images (and
--full fails). Without --full the script takes about a minute.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import _blas  # noqa: F401  (first: it configures OpenBLAS, which numpy loads)
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
# run from a checkout without installing; the example modules live in examples/
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT))

import funcgrad as fg  # noqa: E402
import mnist_cnn  # noqa: E402
from _timing import (LOAD_HEADERS, QUIET, LoadMeter, QuietRounds, compare_rates,  # noqa: E402
                     format_table, load_cells, wait_for_quiet, wait_report)
from funcgrad import optim  # noqa: E402
from mnist_data import Mnist, MnistError, load_mnist, random_shift, to_input  # noqa: E402

BATCH = 128
STEP_TARGET = 1.3
MEMORY_TARGET_MB = 608.0
FULL_RUN_TARGET = 2.0
"""The example's default training may take at most this many times PyTorch's time for the
same recipe."""
EVAL_IMAGES = 1000
"""Test images scored after the short memory runs: two evaluation batches of 500, as in
the example's evaluation (the largest arrays of a run)."""


def _maxrss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS
    scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def get_data(data_dir: str | None, *, download: bool = False) -> tuple[Mnist, str]:
    """MNIST, or random stand-in images of the same shapes when it is not available."""
    try:
        return load_mnist(data_dir, download=download, progress=False), "MNIST"
    except MnistError as exc:
        if download:
            raise
        rng = np.random.default_rng(0)
        fake = Mnist(rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
                     rng.integers(0, 10, 60000, dtype=np.uint8),
                     rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8),
                     rng.integers(0, 10, 10000, dtype=np.uint8))
        return fake, f"random images (MNIST not found: {str(exc).splitlines()[0]})"


# ---------------------------------------------------------------------------------------
# One training step in each library.


def funcgrad_step(x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], jit: bool = True
                  ) -> tuple[Callable[[], float], Any]:
    """funcgrad's training step on (x, y) (the example's, jitted unless jit is False),
    updating its own params; and the initial params."""
    run = mnist_cnn.new_run(mnist_cnn.Config())
    # the default run's schedule: 5 epochs of 469 steps
    opt = optim.adam(optim.cosine_decay(1e-3, 5 * 469, final=1e-3 * mnist_cnn.FINAL_LR))
    train_step = mnist_cnn.make_step(opt)
    if jit:
        train_step = fg.jit(train_step)
    y_int = y.astype(np.intp)

    def step() -> float:
        run["params"], run["state"], run["opt_state"], loss = train_step(
            run["params"], run["state"], run["opt_state"], x, y_int)
        return float(loss)

    return step, run["params"]


def torch_model(params: Any) -> Any:
    """PyTorch's nn.Sequential of the same layers, with funcgrad's initial weights (the
    example's layers are numbered as in its nn.serial; BatchNorm's momentum 0.9 is
    PyTorch's 0.1)."""
    torch: Any = importlib.import_module("torch")
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 32, 3, bias=False), nn.BatchNorm2d(32), nn.MaxPool2d(2),
                        nn.ReLU(), nn.Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128),
                        nn.ReLU(), nn.Linear(128, 10))
    with torch.no_grad():
        for i in (0, 4, 9, 11):  # convolutions (no bias before BatchNorm) and dense layers
            w = params[i]["w"]
            net[i].weight.copy_(torch.from_numpy(np.ascontiguousarray(w if w.ndim == 4 else w.T)))
            if "b" in params[i]:
                net[i].bias.copy_(torch.from_numpy(params[i]["b"]))
        for i in (1, 5):  # BatchNorm
            net[i].weight.copy_(torch.from_numpy(params[i]["scale"]))
            net[i].bias.copy_(torch.from_numpy(params[i]["offset"]))
    return net


def torch_step(net: Any, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64]
               ) -> Callable[[], float]:
    """PyTorch eager training step of net on (x, y): Adam (lr 1e-3) on the cross-entropy.

    x and y are shared with the returned function (torch.from_numpy), so writing new
    data into them changes the batch.
    """
    torch: Any = importlib.import_module("torch")
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(tx), ty)
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


def torch_train(data: Mnist, config: mnist_cnn.Config) -> list[list[float]]:
    """The example's recipe in PyTorch: the same initial weights, batches (order and
    shifts), Adam on the same cosine schedule and BatchNorm; rows (train loss, test
    accuracy, seconds of training) per epoch, as the example's history."""
    torch: Any = importlib.import_module("torch")
    net = torch_model(mnist_cnn.new_run(config)["params"])
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    n, bs = len(data.train_labels), config.batch_size
    steps = -(-n // bs)
    total, final = config.epochs * steps, config.lr * mnist_cnn.FINAL_LR

    def factor(t: int) -> float:  # the example's optim.cosine_decay, over lr
        return float(final + (config.lr - final) * 0.5
                     * (1 + np.cos(np.pi * min(t, total) / total))) / config.lr

    schedule = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    labels = torch.from_numpy(data.train_labels.astype(np.int64))
    history = []
    for epoch in range(config.epochs):
        net.train()
        order = np.random.default_rng([config.seed, epoch]).permutation(n)
        start, loss_sum = time.perf_counter(), 0.0
        for i in range(steps):
            idx = order[i * bs:(i + 1) * bs]
            x = random_shift(data.train_images[idx], config.shift,
                             np.random.default_rng([config.seed, epoch, i]))
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(to_input(x))),
                                                     labels[idx])
            loss.backward()
            opt.step()
            schedule.step()
            loss_sum += float(loss.item()) * len(idx)
        seconds = time.perf_counter() - start
        net.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(data.test_labels), mnist_cnn.EVAL_BATCH):
                batch = torch.from_numpy(to_input(data.test_images[i:i + mnist_cnn.EVAL_BATCH]))
                correct += int((net(batch).numpy().argmax(axis=1) ==
                                data.test_labels[i:i + mnist_cnn.EVAL_BATCH]).sum())
        history.append([loss_sum / n, correct / len(data.test_labels), seconds])
    return history


def torch_available() -> str | None:
    """torch's version with its thread count, or None when it is not installed."""
    try:
        torch: Any = importlib.import_module("torch")
    except ImportError:
        return None
    return f"{torch.__version__}, {torch.get_num_threads()} threads"


# ---------------------------------------------------------------------------------------
# Child processes: memory of a short run, and the full training.


def probe(kind: str, data_dir: str | None, steps: int, result: Path,
          checkpoint: Path | None = None, jit: bool = True) -> None:
    """Run in a child process: train, then write peak memory (and results) as JSON."""
    data, source = get_data(data_dir, download=kind == "full")
    out: dict[str, Any] = {"data": source}
    if kind == "funcgrad":
        config = mnist_cnn.Config(epochs=1, limit=steps * BATCH)
        tracemalloc.start()
        start = time.perf_counter()
        run = mnist_cnn.train(config, data, test_limit=EVAL_IMAGES, progress=False,
                              jit=jit, log=lambda s: None)
        out["seconds"] = time.perf_counter() - start
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        out["accuracy"] = float(run["history"][-1, 1])
    elif kind == "torch":
        torch: Any = importlib.import_module("torch")
        x = to_input(data.train_images[:BATCH])
        y = data.train_labels[:BATCH].astype(np.int64)
        net = torch_model(mnist_cnn.new_run(mnist_cnn.Config())["params"])
        step = torch_step(net, x, y)
        for i in range(steps):
            x[...] = to_input(data.train_images[i * BATCH:(i + 1) * BATCH])
            y[...] = data.train_labels[i * BATCH:(i + 1) * BATCH]
            step()
        correct = 0
        net.eval()  # BatchNorm with its running statistics, as the example evaluates
        with torch.no_grad():
            for i in range(0, EVAL_IMAGES, mnist_cnn.EVAL_BATCH):
                batch = data.test_images[i:i + mnist_cnn.EVAL_BATCH]
                logits = net(torch.from_numpy(to_input(batch))).numpy()
                correct += int((logits.argmax(axis=1) ==
                                data.test_labels[i:i + mnist_cnn.EVAL_BATCH]).sum())
        out["accuracy"] = correct / EVAL_IMAGES
    elif kind in ("full", "full_torch"):
        config = mnist_cnn.Config()
        meter = LoadMeter()
        meter.start()
        start = time.perf_counter()
        if kind == "full":
            history = mnist_cnn.train(config, data, checkpoint=checkpoint, jit=jit)["history"]
            out["history"] = history.tolist()  # rows (train loss, test accuracy, seconds)
        else:
            out["history"] = torch_train(data, config)
        out["wall_s"] = time.perf_counter() - start
        out["foreign_cores"] = meter.stop()
        out["train_images"] = len(data.train_labels)
        out["config"] = dataclasses.asdict(config)
    out["maxrss_mb"] = _maxrss_mb()
    result.write_text(json.dumps(out))


def run_probe(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run `probe(kind)` in a child process and return its JSON result."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--probe", kind, "--result", str(result),
               "--steps", str(args.steps)]
        if args.data:
            cmd += ["--data", args.data]
        if args.checkpoint:
            cmd += ["--checkpoint", str(args.checkpoint)]
        if args.no_jit:
            cmd += ["--no-jit"]
        proc = subprocess.run(cmd, stdout=None if kind == "full" else subprocess.PIPE,
                              stderr=None if kind == "full" else subprocess.PIPE, text=True)
        if proc.returncode != 0 or not result.exists():
            raise RuntimeError(f"the {kind} probe failed (exit {proc.returncode}):\n"
                               f"{proc.stderr or ''}")
        loaded: dict[str, Any] = json.loads(result.read_text())
        return loaded


# ---------------------------------------------------------------------------------------
# Reports.


def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def step_benchmark(data: Mnist, rounds: int, jit: bool = True) -> tuple[float, float | None]:
    """Print the step-time table; returns funcgrad's median ms per step and the ratio.

    With jit the un-jitted step takes its turn in the same rounds, so the speed-up of
    jitting is measured under the same conditions as the ratio to PyTorch.
    """
    x = to_input(data.train_images[:BATCH])
    y = data.train_labels[:BATCH].astype(np.int64)
    ours, params = funcgrad_step(x, y, jit)
    fns: dict[str, Callable[[], object]] = {"funcgrad": ours}
    if jit:
        fns["funcgrad (no jit)"] = funcgrad_step(x, y, jit=False)[0]
    version = torch_available()
    if version is not None:
        theirs = torch_step(torch_model(params), x, y)
        # Same layers and weights: the first step's losses agree.
        loss_fg, loss_torch = ours(), theirs()
        if not abs(loss_fg - loss_torch) <= 1e-4 * max(1.0, abs(loss_torch)):
            raise AssertionError(f"funcgrad and torch models differ: first-step loss "
                                 f"{loss_fg} vs {loss_torch}")
        fns["torch"] = theirs
    print(wait_report(wait_for_quiet()))
    loads: dict[str, list[float]] = {}
    rates = compare_rates(fns, min_time=0.5, rounds=rounds, warmup=2, loads=loads)
    quiet = QuietRounds.of(loads)
    used = {name: quiet.pick(r) for name, r in rates.items()}
    ms = {name: 1e3 / statistics.median(r) for name, r in used.items()}

    def per_round(a: str, b: str) -> float:
        """a's time per step over b's, within each round; the median over rounds."""
        return statistics.median(rate_b / rate_a for rate_a, rate_b in zip(used[a], used[b]))

    rows = []
    for name, label in (("funcgrad", "funcgrad" + ("" if jit else " (no jit)")),
                        ("funcgrad (no jit)", "funcgrad (no jit)"),
                        ("torch", f"torch {version}")):
        if name in used:
            ratio_cell = f"{per_round('funcgrad', 'torch'):.2f}x" if name == "torch" else ""
            rows.append([label, f"{ms[name]:.1f}", f"{1e3 / max(used[name]):.1f}",
                         f"{BATCH * 1e3 / ms[name]:,.0f}", ratio_cell, *load_cells(loads[name])])
    print(format_table(["step (batch 128, fwd+bwd+Adam)", "median ms", "best ms", "images/s",
                        "funcgrad/torch", *LOAD_HEADERS], rows, right={1, 2, 3, 4, 5}))
    print(quiet.describe())
    if jit:
        print(f"jit: the jitted step is {per_round('funcgrad (no jit)', 'funcgrad'):.2f}x the "
              f"speed of the un-jitted one (median of per-round ratios)")
    ratio = per_round("funcgrad", "torch") if "torch" in used else None
    if ratio is None:
        print("torch is not installed: no ratio (pip install torch)")
    else:
        print(f"target: funcgrad step time <= {STEP_TARGET:.1f}x PyTorch's: "
              f"{quiet.verdict(ratio <= STEP_TARGET)} ({ratio:.2f}x, median over "
              f"{len(quiet.indices)} interleaved rounds)")
    return ms["funcgrad"], ratio


def memory_benchmark(args: argparse.Namespace, with_torch: bool) -> float:
    """Print peak memory of short training runs in child processes; returns funcgrad's MB."""
    ours = run_probe("funcgrad", args)
    rows = [["funcgrad", f"{ours['maxrss_mb']:.0f}", f"{ours['tracemalloc_peak_mb']:.0f}"]]
    if with_torch:
        theirs = run_probe("torch", args)
        rows.append(["torch", f"{theirs['maxrss_mb']:.0f}", "-"])
    print(f"short training run: {args.steps} steps of {BATCH} images, then {EVAL_IMAGES} test "
          f"images scored in batches of {mnist_cnn.EVAL_BATCH} ({ours['data']})")
    print(format_table(["library", "peak RSS MB", "tracemalloc peak MB"], rows, right={1, 2}))
    ok = ours["maxrss_mb"] <= MEMORY_TARGET_MB
    print(f"target: funcgrad peak RSS <= {MEMORY_TARGET_MB:.0f} MB: {_mark(ok)} "
          f"({ours['maxrss_mb']:.0f} MB)")
    return float(ours["maxrss_mb"])


def full_run(args: argparse.Namespace, with_torch: bool) -> None:
    """The example's default training in a child process, with its per-epoch figures, and
    the same recipe in PyTorch after it (when installed) for the wall-time ratio."""
    print("\nfull training: the default run of examples/mnist_cnn.py (progress on stderr)",
          flush=True)
    print(wait_report(wait_for_quiet()))
    runs = {"funcgrad": run_probe("full", args)}
    if with_torch:
        print("the same recipe in PyTorch", flush=True)
        runs["torch"] = run_probe("full_torch", args)
    for name, result in runs.items():
        history, images = np.asarray(result["history"]), result["train_images"]
        rows = [[str(epoch), f"{100 * acc:.2f}", f"{s:.1f}", f"{images / s:,.0f}"]
                for epoch, (_, acc, s) in enumerate(history, start=1)]
        print(f"\n{name}")
        print(format_table(["epoch", "test acc %", "epoch s", "images/s"], rows,
                           right={0, 1, 2, 3}))
        train_s = float(history[:, 2].sum())
        print(f"final test accuracy {100 * history[-1, 1]:.2f}%; training {train_s:.0f} s for "
              f"{len(history)} epochs ({train_s / len(history):.1f} s per epoch, "
              f"{images * len(history) / train_s:,.0f} images/s); the whole run "
              f"{result['wall_s']:.0f} s under {result['foreign_cores']:.2f} foreign cores")
        reached = np.flatnonzero(history[:, 1] >= 0.99)
        if len(reached) == 0:
            print("99% test accuracy: not reached")
        else:
            print(f"time to 99% test accuracy: {history[:reached[0] + 1, 2].sum():.0f} s of "
                  f"training, after epoch {reached[0] + 1}")
        print(f"peak RSS of the full run: {result['maxrss_mb']:.0f} MB")
    if with_torch:
        ratio = runs["funcgrad"]["wall_s"] / runs["torch"]["wall_s"]
        busy = max(r["foreign_cores"] for r in runs.values()) > QUIET
        verdict = "not established (machine busy)" if busy else _mark(ratio <= FULL_RUN_TARGET)
        print(f"\ntarget: the default run takes <= {FULL_RUN_TARGET:.1f}x PyTorch's time for "
              f"the same recipe: {verdict} ({ratio:.2f}x; test accuracy "
              f"{100 * runs['funcgrad']['history'][-1][1]:.2f}% against "
              f"{100 * runs['torch']['history'][-1][1]:.2f}%)")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the step-time and memory tables (and with --full, the full training)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", metavar="DIR", default=None, help="directory with MNIST")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--steps", type=int, default=20,
                        help="training steps of the memory runs (default: 20)")
    parser.add_argument("--full", action="store_true",
                        help="also run the example's full default training")
    parser.add_argument("--checkpoint", type=Path, default=None, metavar="PATH",
                        help="with --full: keep the trained model there (draw its pictures "
                             "with examples/mnist_analysis.py PATH)")
    parser.add_argument("--no-jit", action="store_true",
                        help="time and train with the example's step un-jitted")
    parser.add_argument("--probe", choices=("funcgrad", "torch", "full", "full_torch"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.probe, args.data, args.steps, args.result, args.checkpoint,
              jit=not args.no_jit)
        return 0
    print(f"machine: {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())} (1, 5, 15 min)")
    data, source = get_data(args.data)
    print(f"data: {source}\n")
    memory_benchmark(args, with_torch=torch_available() is not None)
    print()
    step_benchmark(data, args.rounds, jit=not args.no_jit)
    if args.full:
        full_run(args, with_torch=torch_available() is not None)
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"(1, 5, 15 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
