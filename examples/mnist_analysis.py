"""What the CNN of mnist_cnn.py learned, drawn from a checkpoint that script wrote.

GradCAM of correct and misclassified test digits (task 42, with examples/gradcam.py's
function), activation maximisation per class (task 39: gradient ascent on the input), the
first layer's kernels before and after training, and how far each layer's weights moved.
The network runs in evaluation mode throughout (BatchNorm with its running statistics).

    python examples/mnist_cnn.py --checkpoint run.npz
    python examples/mnist_analysis.py run.npz [--data DIR] [--out out/] [--quick]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import common
import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn
from gradcam import gradcam
from mnist_cnn import FEATURES, HEAD, Config, Params, State, load_run, logits, new_run, predict
from mnist_data import load_mnist, to_input

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
Ints = npt.NDArray[np.intp]

NUM_CLASSES = 10
IMAGE_SIZE = 28
QUICK_TEST_IMAGES = 2000
_FEATURES, _HEAD, _SPLIT = nn.serial(*FEATURES), nn.serial(*HEAD), len(FEATURES)


def features(params: Params, state: State, x: Any) -> Any:
    """The last convolution's maps after its ReLU, (N, 64, 11, 11): what GradCAM weighs."""
    return _FEATURES.apply_with_state(params[:_SPLIT], state[:_SPLIT], x, train=False)[0]


def head(params: Params, state: State, maps: Any) -> Any:
    """Class logits (N, 10) from the maps of `features`."""
    return _HEAD.apply_with_state(params[_SPLIT:], state[_SPLIT:], maps, train=False)[0]


def class_gradcams(params: Params, state: State, images: U8, classes: Ints) -> F32:
    """GradCAM maps (N, 11, 11) of each image for its class in `classes`.

    One grad of the sum of the chosen logits gives every image's gradient, since in
    evaluation mode an image's logits depend on its own maps only.
    """
    maps = np.asarray(features(params, state, to_input(images)))
    rows = np.arange(len(images))

    def chosen_logits(a: Any) -> Any:
        return fnp.sum(head(params, state, a)[rows, classes])

    return np.asarray(gradcam(maps, np.asarray(fg.grad(chosen_logits)(maps))), dtype=np.float32)


def _interpolation_matrix(cells: int, pixels: int) -> F32:
    # Cell i of the last convolution sees input pixels 2i .. 2i+7 (conv 3, pool 2, conv 3),
    # so its centre lies at pixel 2i + 3.5; pixels beyond the outer centres take the edge.
    pos = np.clip((np.arange(pixels) - 3.5) / 2.0, 0, cells - 1)
    lo = np.minimum(np.floor(pos).astype(np.intp), cells - 2)
    frac = pos - lo
    m = np.zeros((pixels, cells), np.float32)
    m[np.arange(pixels), lo] = 1 - frac
    m[np.arange(pixels), lo + 1] += frac
    return m


def cam_to_image(cams: F32) -> F32:
    """GradCAM maps (..., 11, 11) resampled bilinearly onto the 28x28 input, each cell at the
    centre of its receptive field, so that the map lines up with the digit."""
    rows = _interpolation_matrix(cams.shape[-2], IMAGE_SIZE)
    cols = _interpolation_matrix(cams.shape[-1], IMAGE_SIZE)
    return np.asarray(rows @ cams @ cols.T, dtype=np.float32)


def activation_maximisation(params: Params, state: State, *, steps: int = 200,
                            lr: float = 0.05, l2: float = 0.05, noise: float = 0.01,
                            seed: int = 0) -> tuple[F32, F32]:
    """For each class c, gradient ascent on an input image of logit_c(x) - l2 * |x|^2 from
    faint noise, x kept in [0, 1]; the images (10, 28, 28) and their logits (10, 10)."""
    rng = np.random.default_rng(seed)
    shape = (NUM_CLASSES, 1, IMAGE_SIZE, IMAGE_SIZE)
    x: F32 = np.clip(rng.normal(0.0, noise, shape), 0, 1).astype(np.float32)
    classes = np.arange(NUM_CLASSES)

    def objective(x: Any) -> Any:
        return fnp.sum(logits(params, state, x)[classes, classes]) - l2 * fnp.sum(x * x)

    ascent = fg.grad(objective)
    for _ in range(steps):
        x = np.clip(x + lr * np.asarray(ascent(x)), 0.0, 1.0).astype(np.float32)
    return x[:, 0], np.asarray(logits(params, state, x), dtype=np.float32)


def weight_change(params: Params, initial: Params) -> dict[str, float]:
    """|w - w0| / |w0| (Frobenius norms) of each convolution's and dense layer's weights."""
    return {f"layer {i} ({'conv' if np.ndim(p['w']) == 4 else 'dense'})":
            float(np.linalg.norm(np.asarray(p["w"]) - p0["w"]) / np.linalg.norm(p0["w"]))
            for i, (p, p0) in enumerate(zip(params, initial)) if "w" in p}


def _softmax(z: F32) -> F32:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True), dtype=np.float32)


def plot_gradcam(params: Params, state: State, images: U8, labels: npt.NDArray[Any],
                 out: Path, per_row: int = 8) -> Path:
    """GradCAM of correct and misclassified test digits (predicted and, if wrong, true class)."""
    z = predict(params, state, images)
    pred, probs = z.argmax(axis=1), _softmax(z)
    right, wrong = np.flatnonzero(pred == labels)[:per_row], np.flatnonzero(pred != labels)[:per_row]
    rows = [(title, idx, classes) for title, idx, classes in (
        ("correct,\nmap of the\nprediction", right, pred[right]),
        ("misclassified,\nmap of the\nprediction", wrong, pred[wrong]),
        ("misclassified,\nmap of the\ntrue class", wrong, labels[wrong].astype(np.intp)))
        if len(idx)]
    fig, axes = common.plt.subplots(len(rows), per_row, figsize=(1.6 * per_row, 2.0 * len(rows)),
                                    squeeze=False)
    for r, (title, idx, classes) in enumerate(rows):
        cams = cam_to_image(class_gradcams(params, state, images[idx], classes))
        for j, ax in enumerate(axes[r]):
            ax.axis("off")
            if j < len(idx):
                k, c, cam = int(idx[j]), int(classes[j]), cams[j]
                ax.imshow(images[k], cmap="gray", interpolation="nearest")
                ax.imshow(cam / cam.max() if cam.max() > 0 else cam, cmap="jet", alpha=0.45,
                          interpolation="nearest", vmin=0, vmax=1)
                ax.set_title(f"true {labels[k]}, pred {pred[k]}\nmap for {c}: "
                             f"p={probs[k, c]:.2f}", fontsize=8)
        axes[r, 0].text(-0.08, 0.5, title, transform=axes[r, 0].transAxes, ha="right",
                        va="center", fontsize=8)
    fig.suptitle("GradCAM of the last convolution (11x11 maps) on MNIST test digits")
    return common.save_figure(fig, out, "mnist_gradcam.png")


def plot_activation_maximisation(images: F32, z: F32, out: Path) -> Path:
    """The ten class-maximising inputs with their logit and softmax probability."""
    probs = _softmax(z)
    fig, axes = common.plt.subplots(1, NUM_CLASSES, figsize=(1.6 * NUM_CLASSES, 2.2))
    for c, ax in enumerate(axes):
        ax.imshow(images[c], cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"class {c}\nlogit {z[c, c]:.1f}, p={probs[c, c]:.2f}", fontsize=8)
        ax.axis("off")
    fig.suptitle("Activation maximisation: gradient ascent on the input for each class logit")
    return common.save_figure(fig, out, "mnist_activation_max.png")


def mosaic(kernels: F32, per_row: int) -> F32:
    """Kernels (n, kh, kw) side by side in rows of per_row, separated by NaN (drawn blank)."""
    n, kh, kw = kernels.shape
    out = np.full((math.ceil(n / per_row) * (kh + 1) - 1, per_row * (kw + 1) - 1), np.nan,
                  np.float32)
    for i, k in enumerate(kernels):
        r, c = divmod(i, per_row)
        out[r * (kh + 1):r * (kh + 1) + kh, c * (kw + 1):c * (kw + 1) + kw] = k
    return out


def plot_kernels(params: Params, initial: Params, out: Path) -> Path:
    """The first convolution's 3x3 kernels: at initialisation, trained, and the change."""
    trained, start = np.asarray(params[0]["w"])[:, 0], np.asarray(initial[0]["w"])[:, 0]
    change = trained - start
    limit = float(max(np.abs(trained).max(), np.abs(start).max()))
    change_limit = float(np.abs(change).max()) or 1.0
    panels = ((start, limit, "at initialisation (He normal)"), (trained, limit, "after training"),
              (change, change_limit, f"change (colour scale x{limit / change_limit:.1f})"))
    fig, axes = common.plt.subplots(1, 3, figsize=(13, 2.6))
    cmap = common.plt.get_cmap("RdBu_r").with_extremes(bad="white")
    for ax, (w, vmax, title) in zip(axes, panels):
        ax.imshow(mosaic(w, per_row=8), cmap=cmap, vmin=-vmax, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle("First-layer kernels, 3x3 (red positive, blue negative)")
    return common.save_figure(fig, out, "mnist_kernels.png")


def report(params: Params, state: State, initial: Params, images: U8,
           labels: npt.NDArray[Any], out: Path, *, ascent_steps: int = 200, seed: int = 0
           ) -> list[Path]:
    """Draw the three figures into out, print the weight changes; the figures' paths."""
    common.section("What the network learned")
    paths = [plot_gradcam(params, state, images, labels, out),
             plot_activation_maximisation(*activation_maximisation(
                 params, state, steps=ascent_steps, seed=seed), out),
             plot_kernels(params, initial, out)]
    print()
    common.print_table(["layer", "weights moved from their start, |w - w0| / |w0|"],
                       list(weight_change(params, initial).items()), digits=3)
    common.explain("""
        GradCAM weighs the 64 maps of the last convolution by the mean gradient of a class
        logit and keeps the positive part: the coloured regions are where the evidence for
        that class lies. For a misclassified digit, compare the map of the prediction with
        the map of the true class: each points at the strokes that speak for its class.

        Activation maximisation starts from faint noise and climbs the gradient of one
        logit with respect to the input, keeping pixels in [0, 1] with a small L2 penalty.
        The network reaches large logits with images of stroke fragments where they matter
        for the class rather than clean digits: a classifier learns what separates the
        classes, not what a digit looks like.

        The kernels figure shows the first layer's nine-weight kernels at their random
        start, after training, and (magnified) what training changed; the table says how far
        each layer's weights moved.""")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Draw the figures for a checkpoint; the exit status is 2 for an unusable one."""
    parser = common.make_parser(__doc__ or "")
    parser.add_argument("checkpoint", type=Path, help="a checkpoint written by mnist_cnn.py")
    parser.add_argument("--data", metavar="DIR", help="folder with the four MNIST files")
    args = parser.parse_args(argv)
    try:
        run = load_run(args.checkpoint)
        data = load_mnist(args.data)
    except (OSError, ValueError) as exc:  # MnistError and CheckpointError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    initial = new_run(Config(**run["config"]))["params"]
    n = QUICK_TEST_IMAGES if args.quick else None
    report(run["params"], run["state"], initial, data.test_images[:n], data.test_labels[:n],
           args.out, ascent_steps=40 if args.quick else 200, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
