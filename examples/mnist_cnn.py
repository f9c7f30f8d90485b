"""Task 43e: a CNN of funcgrad's own Conv2D layers, trained on MNIST; from top to bottom the
recipe, model, loss, training step, loop, evaluation and command line. The data comes from
mnist_data.py (--data DIR, $FUNCGRAD_DATA/mnist or the download cache); mnist_analysis.py
draws what the network learned from a checkpoint:

    python examples/mnist_cnn.py --checkpoint run.npz    # --quick: a one-minute run
    python examples/mnist_analysis.py run.npz            # GradCAM, kernels, ... in out/
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import common
import funcgrad as fg
from funcgrad import nn, optim, random, tree
from funcgrad.tree import CheckpointError
from mnist_data import Mnist, load_mnist, random_shift, to_input

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
Params = Any  # the model's parameters: a tuple with one entry per layer
State = Any  # BatchNorm's running statistics, a tuple like the parameters
Run = dict[str, Any]  # a training run between two steps: all that a checkpoint holds


@dataclass(frozen=True)
class Config:
    """The recipe: everything that decides a run (stored in its checkpoint)."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 1e-3  # Adam's, on a half cosine down to lr * FINAL_LR over the whole run
    shift: int = 2  # augmentation: each training image moved by up to this many pixels
    seed: int = 0
    limit: int = 0  # train on the first `limit` training images; 0: all 60,000

    def __post_init__(self) -> None:
        """Refuse settings that cannot train."""
        if not (self.epochs >= 1 and self.batch_size >= 1 and self.lr > 0 and self.limit >= 0
                and 0 <= self.shift <= 13):
            raise ValueError(f"need epochs, batch_size >= 1, lr > 0, limit >= 0 and shift 0..13, "
                             f"got {self}")


FINAL_LR = 0.05
QUICK = Config(epochs=1, batch_size=32, lr=2e-3, limit=2000)
"""--quick, which also scores only the first QUICK.limit test images."""
EVAL_BATCH = 500

# The model: NCHW images (N, 1, 28, 28) in [0, 1] to class logits (N, 10). ------------
# No bias before BatchNorm (its offset is one); pool before relu: the same, on 1/4 the values.
FEATURES = (nn.Conv2D(32, 3, use_bias=False), nn.BatchNorm(), nn.MaxPool2D(2), nn.Relu,
            nn.Conv2D(64, 3, use_bias=False), nn.BatchNorm(), nn.Relu)
"""Up to the last convolution's maps (N, 64, 11, 11), the ones GradCAM weighs."""
HEAD = (nn.MaxPool2D(2), nn.Flatten, nn.Dense(128), nn.Relu, nn.Dense(10))
MODEL = nn.serial(*FEATURES, *HEAD)
INPUT_SHAPE = (-1, 1, 28, 28)


# The loss and one training step. -----------------------------------------------------
def loss(params: Params, state: State, x: Any, y: Any) -> tuple[Any, State]:
    """Mean cross-entropy on a batch, and BatchNorm's running statistics moved towards it."""
    logits, state = MODEL.apply_with_state(params, state, x, train=True)
    return nn.cross_entropy(logits, y), state


def make_step(opt: optim.Optimizer[optim.AdamState]
              ) -> Callable[..., tuple[Params, State, optim.AdamState, Any]]:
    """step(params, state, opt_state, x, y) -> (params, state, opt_state, loss): pure, so
    fg.jit(step) traces it once and replays it (the step count is an array in opt_state)."""
    loss_and_grad = fg.value_and_grad(loss, has_aux=True)

    def step(params: Params, state: State, opt_state: optim.AdamState, x: F32,
             y: npt.NDArray[np.intp]) -> tuple[Params, State, optim.AdamState, Any]:
        (value, state), grads = loss_and_grad(params, state, x, y)
        params, opt_state = opt.update(grads, opt_state, params)
        return params, state, opt_state, value

    return step


# The training loop. ------------------------------------------------------------------
def new_run(config: Config) -> Run:
    """A run before its first step; history rows are (train loss, test accuracy, seconds)."""
    _, params = MODEL.init(random.key(config.seed), INPUT_SHAPE)
    return {"config": asdict(config), "params": params, "state": MODEL.init_state(params),
            "opt_state": optim.adam().init(params), "loss_sum": 0.0, "seconds": 0.0,
            "history": np.full((config.epochs, 3), np.nan)}


def train(config: Config, data: Mnist, run: Run | None = None, *, stop_after: int | None = None,
          checkpoint: Path | None = None, jit: bool = True, test_limit: int | None = None,
          progress: bool = True, log: Callable[[str], None] = print) -> Run:
    """Train a new run (or continue `run`) to its end or to `stop_after` steps in all, scoring
    the test set after each epoch; saved to `checkpoint` then and where it stops."""
    run = new_run(config) if run is None else run
    test_images, test_labels = data.test_images[:test_limit], data.test_labels[:test_limit]
    n = min(config.limit or len(data.train_labels), len(data.train_labels))
    images, labels = data.train_images[:n], data.train_labels[:n].astype(np.intp)
    steps, bs = math.ceil(n / config.batch_size), config.batch_size  # steps per epoch
    total = config.epochs * steps
    opt = optim.adam(optim.cosine_decay(config.lr, total, final=config.lr * FINAL_LR))
    step = fg.jit(make_step(opt)) if jit else make_step(opt)
    stop = total if stop_after is None else min(stop_after, total)
    while (done := int(run["opt_state"].step)) < stop:
        epoch, first = divmod(done, steps)
        order = np.random.default_rng([config.seed, epoch]).permutation(n)
        p, s, o, loss_sum = run["params"], run["state"], run["opt_state"], run["loss_sum"]
        bar = common.progress_bar(steps, f"epoch {epoch + 1}/{config.epochs}", "batch",
                                  initial=first, enabled=progress)
        start = time.perf_counter()
        for i in range(first, min(steps, stop - epoch * steps)):
            idx = order[i * bs:(i + 1) * bs]  # the shifts depend on (seed, epoch, step) only
            x = random_shift(images[idx], config.shift, np.random.default_rng([config.seed,
                                                                                epoch, i]))
            p, s, o, value = step(p, s, o, to_input(x), labels[idx])
            loss_sum += float(value) * len(idx)
            bar.update(1)
            bar.set_postfix_str(f"loss {loss_sum / min((i + 1) * bs, n):.4f}", refresh=False)
        bar.close()
        run = {**run, "params": p, "state": s, "opt_state": o, "loss_sum": loss_sum,
               "seconds": run["seconds"] + time.perf_counter() - start}
        if int(o.step) % steps == 0:  # the epoch is over: score it
            accuracy = evaluate(p, s, test_images, test_labels)
            history = run["history"].copy()
            history[epoch] = loss_sum / n, accuracy, run["seconds"]
            run = {**run, "loss_sum": 0.0, "seconds": 0.0, "history": history}
            log(f"epoch {epoch + 1}/{config.epochs}: train loss {loss_sum / n:.4f}, test "
                f"accuracy {100 * accuracy:.2f}%, {history[epoch, 2]:.1f} s of training")
        if checkpoint is not None:
            save_run(checkpoint, run)
    if done < total:
        log(f"stopped after step {done} of {total}"
            + (f"; --resume continues from {checkpoint}" if checkpoint else ""))
    return run


def on_disk(run: Run) -> Run:
    """The run as saved: Adam's state as a plain dict, so load_run reads the config first."""
    return {**run, "opt_state": run["opt_state"]._asdict()}


def save_run(path: Path, run: Run, overwrite: bool = True) -> None:
    """Write run to path with funcgrad.tree.save."""
    try:
        tree.save(path, on_disk(run), overwrite=overwrite)
    except FileExistsError:
        raise CheckpointError(f"{path} exists: --resume continues its run, --overwrite starts "
                              "a new one") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot write a checkpoint there ({exc})") from None


def load_run(path: Path) -> Run:
    """The run saved at path, checked against a fresh run of its config by tree.load(like=)."""
    try:
        config = Config(**{k: v.item() for k, v in tree.load(path)["config"].items()})
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a checkpoint of mnist_cnn.py ({exc!r})") from None
    saved = tree.load(path, like=on_disk(new_run(config)))
    return {**saved, "opt_state": optim.AdamState(**saved["opt_state"])}


# Evaluation: BatchNorm normalises with its running statistics (train=False). ---------
@fg.jit
def logits(params: Params, state: State, x: F32) -> Any:
    """Class logits (N, 10) of the model in evaluation mode."""
    return MODEL.apply_with_state(params, state, x, train=False)[0]


def predict(params: Params, state: State, images: U8) -> F32:
    """Logits (N, 10) for uint8 images (N, 28, 28), in batches of EVAL_BATCH."""
    return np.concatenate([np.asarray(logits(params, state, to_input(images[i:i + EVAL_BATCH])))
                           for i in range(0, len(images), EVAL_BATCH)], dtype=np.float32)


def evaluate(params: Params, state: State, images: U8, labels: npt.NDArray[Any]) -> float:
    """The fraction of images classified correctly."""
    if len(images) == 0 or len(images) != len(labels):
        raise ValueError(f"evaluate: got {len(images)} images and {len(labels)} labels (want n>0)")
    return float(np.mean(predict(params, state, images).argmax(axis=1) == labels))


# The command line. -------------------------------------------------------------------
def make_parser() -> argparse.ArgumentParser:
    """The options; the recipe's default to None so --resume can tell which were given."""
    parser = common.make_parser(__doc__ or "")
    parser.set_defaults(seed=None)
    for f in fields(Config):
        if f.name != "seed":
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default),
                                help=f"default {f.default}, {getattr(QUICK, f.name)} with --quick")
    parser.add_argument("--data", metavar="DIR", help="folder with the four MNIST files")
    parser.add_argument("--checkpoint", type=Path, help="save the run here after each epoch")
    parser.add_argument("--resume", action="store_true", help="continue the run in --checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace --checkpoint")
    parser.add_argument("--stop-after-steps", type=int, help="stop there, to try --resume")
    parser.add_argument("--no-jit", action="store_true", help="run the step without fg.jit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Train and report; the exit status is 2 for unusable settings, data or checkpoints."""
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.checkpoint is None and (args.resume or args.overwrite):
        parser.error("--resume and --overwrite need --checkpoint PATH")
    given = {f.name: getattr(args, f.name) for f in fields(Config)
             if getattr(args, f.name) is not None}
    try:
        if args.resume and given:
            raise ValueError(f"--resume continues with the checkpoint's settings: drop "
                             + ", ".join(f"--{k.replace('_', '-')}" for k in given))
        run = load_run(args.checkpoint) if args.resume else None
        config = Config(**run["config"]) if run else replace(QUICK if args.quick else Config(),
                                                             **given)
        data = load_mnist(args.data)
        if args.checkpoint is not None and run is None:  # so a bad path fails before training
            run = new_run(config)
            save_run(args.checkpoint, run, overwrite=args.overwrite)
    except (OSError, ValueError) as exc:  # MnistError and CheckpointError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    test_limit = QUICK.limit if args.quick else None
    common.section("Task 43e: a CNN on MNIST, trained with funcgrad")
    print(f"{config}; {'un-jitted' if args.no_jit else 'jitted'} step.\n")
    run = train(config, data, run, stop_after=args.stop_after_steps, checkpoint=args.checkpoint,
                jit=not args.no_jit, test_limit=test_limit)
    accuracy = run["history"][-1, 1]  # rows (train loss, test accuracy, training seconds)
    if not np.isnan(accuracy):  # the run is complete
        print(f"\nfinal test accuracy {100 * accuracy:.2f}% after "
              f"{run['history'][:, 2].sum():.0f} s of training")
        if args.checkpoint is not None:
            print(f"what it learned: python examples/mnist_analysis.py {args.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
