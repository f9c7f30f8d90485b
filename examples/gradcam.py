"""Task 42: GradCAM, by hand (a) and on a CNN trained with funcgrad (b).

GradCAM explains a class score y^c through the feature maps A^k of the last convolution:
alpha_k = the spatial mean of dy^c/dA^k, and the map L^c = relu(sum_k alpha_k A^k).

(a) The sheet's three 4x4 gradient / feature-map pairs, computed with the same function.
(b) The experiment behind the sheet's pictures: images with a horizontal line, a large dot
    and a small dot; class 0 if the small dot is on the line, 1 if below it, 2 if above.
    A small CNN is trained with funcgrad, GradCAM is computed for every class, and the
    sheet's two questions (can the model solve the task? is it robust to the large dot?)
    are answered with measurements.

    python examples/gradcam.py [--out out/] [--quick] [--seed 0]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

import common
import funcgrad as fg
from funcgrad import nn, random
from funcgrad.optim import adam

FloatArray = npt.NDArray[np.floating[Any]]
F32 = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
S = TypeVar("S", bound=np.generic)
Params = Any
"""The model's parameter pytree: {'features': (...), 'head': (...)}."""

# ---------------------------------------------------------------------------------------
# GradCAM itself.


def gradcam_weights(gradients: FloatArray) -> FloatArray:
    """alpha_k: the spatial mean of each gradient map, shape (..., C)."""
    return np.asarray(np.mean(gradients, axis=(-2, -1)))


def gradcam(feature_maps: FloatArray, gradients: FloatArray) -> FloatArray:
    """relu(sum_k alpha_k A^k) for maps (C, H, W) or (N, C, H, W), alpha from the gradients."""
    a, g = np.asarray(feature_maps), np.asarray(gradients)
    if a.shape != g.shape or a.ndim not in (3, 4):
        raise ValueError(f"gradcam: feature maps and gradients must both be (C, H, W) or "
                         f"(N, C, H, W), got {a.shape} and {g.shape}")
    alpha = gradcam_weights(g)
    return np.asarray(np.maximum(np.einsum("...k,...khw->...hw", alpha, a), 0))


def upsample(maps: npt.NDArray[S], factor: int) -> npt.NDArray[S]:
    """Nearest-neighbour upsampling of the last two axes by an integer factor."""
    return np.repeat(np.repeat(maps, factor, axis=-2), factor, axis=-1)


# The sheet's hand example (task 42a): gradients dy^c/dA^k and feature maps A^k.
HAND_GRADIENTS = np.array([
    [[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]],
    [[0, 0, 0, 0], [4, 4, 0, 0], [4, 4, 0, 0], [0, 0, 0, 0]],
    [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 3, 3], [0, 0, 3, 3]]], dtype=np.float64)
HAND_FEATURES = np.array([
    [[4, 0, 0, 4], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 1, 0]],
    [[0, 0, 0, 0], [0, 0, 0, 0], [8, 0, 0, 8], [0, 0, 0, 0]]], dtype=np.float64)

# ---------------------------------------------------------------------------------------
# The synthetic data set (task 42b).

CLASSES = ("on the line", "below the line", "above the line")
SIZE = 32
"""Images are SIZE x SIZE, one channel, float32 in {0, 1}."""
SMALL_RADIUS = 1.5
"""The small dot: all pixels within 1.5 of its centre, a 3x3 square."""
LARGE_RADIUS = 4.5
"""The large dot: a disk of 69 pixels, never touching the line or the small dot."""
LINE_ROWS = (8, 23)
"""The line is one full-width row, drawn uniformly from these rows (inclusive)."""
OFF_GAP = 4
"""Off the line the small dot's centre is >= 4 rows away: >= 2 empty rows between them."""


@dataclass(frozen=True)
class Shapes:
    """Images with their labels and the geometry and pixel masks they were drawn from."""

    images: F32
    """(N, 1, SIZE, SIZE)."""
    labels: Ints
    """0: small dot on the line, 1: below it (larger row), 2: above it (smaller row)."""
    line_row: Ints
    small_center: Ints
    """(N, 2) row, column of the small dot."""
    large_center: Ints
    """(N, 2) row, column of the large dot (kept even when it is removed)."""
    line_mask: Bools
    small_mask: Bools
    large_mask: Bools
    """(N, SIZE, SIZE) pixel masks of the three objects (large_mask all False if removed)."""


def _disk(center: Ints, radius: float, size: int) -> Bools:
    rows = np.arange(size)[None, :, None]
    cols = np.arange(size)[None, None, :]
    r, c = center[:, 0, None, None], center[:, 1, None, None]
    return np.asarray((rows - r) ** 2 + (cols - c) ** 2 <= radius ** 2)


def _large_ok(large: Ints, line_row: Ints, small: Ints) -> Bools:
    """Whether the large dots keep a gap of at least one pixel to the line and the small dot."""
    reach = int(LARGE_RADIUS)
    away_from_line = np.abs(large[:, 0] - line_row) >= reach + 2
    away_from_small = np.hypot(*(large - small).T) >= LARGE_RADIUS + SMALL_RADIUS + 2
    return np.asarray(away_from_line & away_from_small)


def place_large_dots(line_row: Ints, small: Ints, rng: np.random.Generator) -> Ints:
    """Uniform random centres for the large dots, inside the image and off line and small dot."""
    reach = int(LARGE_RADIUS)
    large = np.zeros_like(small)
    todo = np.arange(len(small))
    while todo.size:
        cand = rng.integers(reach, SIZE - reach, size=(todo.size, 2))
        ok = _large_ok(cand, line_row[todo], small[todo])
        large[todo[ok]] = cand[ok]
        todo = todo[~ok]
    return large


def render(line_row: Ints, small: Ints, large: Ints | None) -> Shapes:
    """Draw the images from the geometry (large=None: without the large dot)."""
    n = len(line_row)
    line_mask = np.zeros((n, SIZE, SIZE), dtype=bool)
    line_mask[np.arange(n), line_row] = True
    small_mask = _disk(small, SMALL_RADIUS, SIZE)
    if large is None:
        large_mask = np.zeros_like(line_mask)
        large = np.full_like(small, -1)
    else:
        large_mask = _disk(large, LARGE_RADIUS, SIZE)
    images = (line_mask | small_mask | large_mask).astype(np.float32)[:, None]
    d = small[:, 0] - line_row
    labels = np.where(d == 0, 0, np.where(d > 0, 1, 2)).astype(np.int64)
    return Shapes(images, labels, line_row.astype(np.int64), small.astype(np.int64),
                  large.astype(np.int64), line_mask, small_mask, large_mask)


def make_shapes(n: int, rng: np.random.Generator) -> Shapes:
    """n images with balanced classes (n // 3 each, the rest spread), shuffled."""
    labels = rng.permutation(np.arange(n) % 3)
    line_row = rng.integers(LINE_ROWS[0], LINE_ROWS[1] + 1, size=n)
    edge = int(SMALL_RADIUS) + 1  # keeps the small dot inside the image
    below = rng.integers(line_row + OFF_GAP, SIZE - edge)  # high is exclusive
    above = rng.integers(edge, line_row - OFF_GAP + 1)
    small_row = np.choose(labels, [line_row, below, above])
    small = np.stack([small_row, rng.integers(edge, SIZE - edge, size=n)], axis=1)
    data = render(line_row, small, place_large_dots(line_row, small, rng))
    assert np.array_equal(data.labels, labels)
    return data


def move_large_dot(data: Shapes, rng: np.random.Generator) -> Shapes:
    """The same images with the large dot drawn at a new random (allowed) place."""
    return render(data.line_row, data.small_center,
                  place_large_dots(data.line_row, data.small_center, rng))


def remove_large_dot(data: Shapes) -> Shapes:
    """The same images without the large dot."""
    return render(data.line_row, data.small_center, None)


def subset(data: Shapes, index: Any) -> Shapes:
    """The examples selected by index (array, slice or mask)."""
    return Shapes(*(getattr(data, f)[index] for f in data.__dataclass_fields__))


# ---------------------------------------------------------------------------------------
# The model: features(params, x) -> A (the last conv's maps), head(params, A) -> logits.

FEATURES = nn.serial(nn.Conv2D(16, 3, "SAME"), nn.Relu, nn.MaxPool2D(2),
                     nn.Conv2D(32, 3, "SAME"), nn.Relu, nn.MaxPool2D(2),
                     nn.Conv2D(32, 3, "SAME"), nn.Relu)
HEAD = nn.serial(nn.Flatten, nn.Linear(64), nn.Relu, nn.Linear(len(CLASSES)))


def init_params(key: fg.Array) -> Params:
    """Fresh parameters for features and head from a key (funcgrad.random.key(seed))."""
    features_key, head_key = random.split(key)
    shape, feature_params = FEATURES.init(features_key, (-1, 1, SIZE, SIZE))
    _, head_params = HEAD.init(head_key, shape)
    return {"features": feature_params, "head": head_params}


def features(params: Params, x: Any) -> Any:
    """The last convolution's feature maps A, (N, 32, SIZE/4, SIZE/4)."""
    return FEATURES.apply(params["features"], x)


def head(params: Params, a: Any) -> Any:
    """Class logits from the feature maps."""
    return HEAD.apply(params["head"], a)


def logits(params: Params, x: Any) -> Any:
    """The whole model: images to class logits."""
    return head(params, features(params, x))


def loss(params: Params, x: F32, y: Ints) -> Any:
    """Mean cross-entropy of the model on a batch."""
    return nn.cross_entropy(logits(params, x), y)


def predict_logits(params: Params, images: F32, batch: int = 500) -> F32:
    """Logits for many images, computed in batches."""
    return np.concatenate([np.asarray(logits(params, images[i:i + batch]))
                           for i in range(0, len(images), batch)])


def train(params: Params, data: Shapes, steps: int, rng: np.random.Generator,
          batch: int = 64, lr: float = 2e-3, log_every: int = 0) -> tuple[Params, list[float]]:
    """Adam on the cross-entropy for `steps` minibatches; returns params and per-step losses."""
    opt = adam(lr)
    state = opt.init(params)
    step_fn = fg.value_and_grad(loss)
    losses: list[float] = []
    order = rng.permutation(len(data.labels))
    pos = 0
    for step in range(steps):
        if pos + batch > len(order):
            order, pos = rng.permutation(len(data.labels)), 0
        idx = order[pos:pos + batch]
        pos += batch
        value, grads = step_fn(params, data.images[idx], data.labels[idx])
        params, state = opt.update(grads, state, params)
        losses.append(float(value))
        if log_every and (step + 1) % log_every == 0:
            print(f"  step {step + 1:5d}/{steps}: mean loss of the last {log_every} steps "
                  f"{np.mean(losses[-log_every:]):.3g}")
    return params, losses


def class_gradients(params: Params, images: F32, classes: Sequence[int]
                    ) -> tuple[F32, F32, list[F32]]:
    """Feature maps A, logits, and d logit_c / dA for every c in classes (fg.vjp w.r.t. A)."""
    a = np.asarray(features(params, images))
    out, pullback = fg.vjp(lambda maps: head(params, maps), a)
    grads = []
    for c in classes:
        seed = np.zeros_like(np.asarray(out))
        seed[:, c] = 1  # each example's logit c depends only on that example's maps
        grads.append(np.asarray(pullback(seed)[0]))
    return a, np.asarray(out), grads


def class_gradcams(params: Params, images: F32, batch: int = 500) -> tuple[F32, F32]:
    """GradCAM maps for every class, upsampled to the images: (N, classes, SIZE, SIZE), logits."""
    maps, outs = [], []
    for i in range(0, len(images), batch):
        a, out, grads = class_gradients(params, images[i:i + batch], range(len(CLASSES)))
        cams = np.stack([gradcam(a, g) for g in grads], axis=1)
        maps.append(upsample(cams, SIZE // a.shape[-1]))
        outs.append(out)
    return np.concatenate(maps).astype(np.float32), np.concatenate(outs)


# ---------------------------------------------------------------------------------------
# Measurements.


REGIONS = ("small dot", "line", "large dot", "elsewhere")


def object_cells(mask: Bools, cell: int) -> Bools:
    """(N, H/cell, W/cell): the cells (one per feature-map position) holding a pixel of the object."""
    n, h, w = mask.shape
    return np.asarray(mask.reshape(n, h // cell, cell, w // cell, cell).any(axis=(2, 4)))


def region_masks(data: Shapes, cell: int = 4) -> Bools:
    """Disjoint regions (N, 4, H, W) at GradCAM's resolution: small dot, line, large dot, rest.

    A region is the cells (cell x cell pixels, one per feature-map position) that hold a
    pixel of the object; a cell shared by two objects counts for the small dot first, then
    the large dot, then the line.
    """
    small, line, large = (upsample(object_cells(m, cell), cell)
                          for m in (data.small_mask, data.line_mask, data.large_mask))
    large = large & ~small
    line = line & ~small & ~large
    rest = ~(small | large | line)
    return np.stack([small, line, large, rest], axis=1)


def peak_near(cams: FloatArray, data: Shapes, cell: int = 4) -> Bools:
    """(N, 3): is each map's hottest cell within one cell of the small dot, the line, the large dot?"""
    coarse = np.asarray(cams)[:, ::cell, ::cell]
    n = len(coarse)
    r, c = np.unravel_index(coarse.reshape(n, -1).argmax(axis=1), coarse.shape[1:])
    near = []
    for mask in (data.small_mask, data.line_mask, data.large_mask):
        padded = np.pad(object_cells(mask, cell), ((0, 0), (1, 1), (1, 1)))
        hit = np.zeros(n, dtype=bool)
        for dr in range(3):
            for dc in range(3):
                hit |= padded[np.arange(n), r + dr, c + dc]
        near.append(hit)
    return np.stack(near, axis=1)


def mass_shares(cams: FloatArray, regions: Bools) -> tuple[FloatArray, FloatArray]:
    """Mean share of GradCAM mass and of image area per region, over maps with any mass."""
    total = cams.sum(axis=(-2, -1))
    has_mass = total > 0
    mass = (cams[:, None] * regions).sum(axis=(-2, -1))[has_mass] / total[has_mass, None]
    area = regions.mean(axis=(-2, -1))[has_mass]
    return np.asarray(mass.mean(axis=0)), np.asarray(area.mean(axis=0))


def per_class_accuracy(pred: Ints, labels: Ints) -> FloatArray:
    """Accuracy within each true class."""
    return np.array([np.mean(pred[labels == c] == c) for c in range(len(CLASSES))])


def confusion(pred: Ints, labels: Ints) -> Ints:
    """Counts[true, predicted]."""
    m = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    np.add.at(m, (labels, pred), 1)
    return m


@dataclass(frozen=True)
class Config:
    """Sizes of one run."""

    n_train: int
    n_test: int
    steps: int
    batch: int = 64
    lr: float = 2e-3


FULL = Config(n_train=9000, n_test=3000, steps=1200)
QUICK = Config(n_train=1200, n_test=600, steps=100)
QUICK_THRESHOLD = 0.90
"""The test accuracy the quick mode must reach (the tests assert it)."""


def run_experiment(config: Config, seed: int, log_every: int = 0
                   ) -> tuple[Params, Shapes, Shapes, float]:
    """Generate data, train the model; returns params, train and test data, training seconds."""
    rng = np.random.default_rng(seed)
    train_data = make_shapes(config.n_train, rng)
    test_data = make_shapes(config.n_test, rng)
    params = init_params(random.key(seed))
    start = time.perf_counter()
    params, _ = train(params, train_data, config.steps, rng, config.batch, config.lr, log_every)
    return params, train_data, test_data, time.perf_counter() - start


# ---------------------------------------------------------------------------------------
# Figures and the script.


def _plot_hand(out: Path) -> None:
    plt = common.plt
    fig, axes = plt.subplots(2, 4, figsize=(11, 5.6), layout="constrained")
    alpha = gradcam_weights(HAND_GRADIENTS)
    for k in range(3):
        for row, (arr, name) in enumerate(((HAND_GRADIENTS[k], f"dy/dA^{k + 1}, mean {alpha[k]:g}"),
                                          (HAND_FEATURES[k], f"A^{k + 1}"))):
            _matrix(axes[row, k], arr, name)
    _matrix(axes[0, 3], gradcam(HAND_FEATURES, HAND_GRADIENTS), "L = relu(sum_k alpha_k A^k)")
    axes[1, 3].axis("off")
    fig.suptitle("Task 42a: GradCAM by hand")
    common.save_figure(fig, out, "gradcam_hand.png")


def _matrix(ax: Any, arr: FloatArray, title: str) -> None:
    ax.imshow(arr, cmap="viridis")
    for (i, j), v in np.ndenumerate(arr):
        ax.text(j, i, f"{v:g}", ha="center", va="center", color="white" if v < arr.max() / 2 else "black")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def _plot_classes(data: Shapes, cams: FloatArray, outs: FloatArray, out: Path, name: str,
                  title: str, row_labels: Sequence[str] | None = None) -> None:
    plt = common.plt
    n = len(data.labels)
    fig, axes = plt.subplots(n, 1 + len(CLASSES), figsize=(2.4 * (1 + len(CLASSES)), 2.5 * n),
                             layout="constrained", squeeze=False)
    for r in range(n):
        img = data.images[r, 0]
        pred = int(np.argmax(outs[r]))
        axes[r, 0].imshow(img, cmap="gray", vmin=0, vmax=1)
        label = f"{row_labels[r]}: " if row_labels else "input: "
        axes[r, 0].set_title(f"{label}class {data.labels[r]}\n(predicted {pred})", fontsize=9)
        vmax = max(float(cams[r].max()), 1e-12)  # one colour scale per row: classes compare
        for c in range(len(CLASSES)):
            ax = axes[r, 1 + c]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            ax.imshow(cams[r, c], cmap="jet", alpha=0.5, vmin=0, vmax=vmax)
            mark = " *" if c == pred else ""
            ax.set_title(f"GradCAM class {c}{mark}\nlogit {outs[r, c]:.2f}", fontsize=9)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title)
    common.save_figure(fig, out, name)


def _robustness_verdict(moved: float, removed: float) -> str:
    if moved <= 0.02 and removed <= 0.02:
        return "So yes: the model is robust to the large dot, wherever it is and whether it is there."
    if moved <= 0.02:
        return ("So the model is robust to where the large dot is, but not to its absence: it has "
                "never seen an image without one, and such images are outside the training "
                "distribution. Robust to the distractor as trained, not beyond it.")
    return ("So no: the position of the large dot changes what the model predicts, i.e. it has "
            "partly learned to use the distractor.")


def _examples(data: Shapes, per_class: int) -> Ints:
    return np.concatenate([np.flatnonzero(data.labels == c)[:per_class] for c in range(len(CLASSES))])


def main(argv: Sequence[str] | None = None) -> None:
    """Run task 42 (a) and (b) and print the answers."""
    args = common.make_parser(__doc__ or "").parse_args(argv)
    config = QUICK if args.quick else FULL

    common.section("Task 42a: GradCAM by hand (three 4x4 feature maps)")
    alpha = gradcam_weights(HAND_GRADIENTS)
    common.print_table(["k", "sum of dy/dA^k", "alpha_k = mean over the 16 pixels"],
                       [[k + 1, float(HAND_GRADIENTS[k].sum()), float(alpha[k])] for k in range(3)],
                       digits=2)
    hand = gradcam(HAND_FEATURES, HAND_GRADIENTS)
    print("L = relu(0.25 A^1 + 1.0 A^2 + 0.75 A^3) =")
    for row in hand:
        print("    " + " ".join(f"{v:3g}" for v in row))
    print()
    common.explain("""
        The weights alpha_k say how much class c, on average over the positions, gains when
        map k grows; the weighted sum of the maps shows where the evidence for class c lies.
        Here the corners of A^1 count a quarter, the bottom dots of A^2 fully and the dots
        of A^3 with 0.75, giving 6 at the two positions of row 3.""")
    _plot_hand(args.out)

    common.section("Task 42b: the experiment with a line, a large dot and a small dot")
    print(f"Images {SIZE}x{SIZE}; class 0 = small dot on the line, 1 = below, 2 = above; "
          f"{config.n_train} training and {config.n_test} test images (balanced), "
          f"{config.steps} Adam steps of {config.batch} images, seed {args.seed}"
          f"{' (quick mode)' if args.quick else ''}.")
    print(f"Model: features = {_describe(FEATURES_DESC)}; head = {_describe(HEAD_DESC)}.\n")
    params, _, test, seconds = run_experiment(config, args.seed, log_every=max(config.steps // 6, 1))
    print(f"training took {seconds:.0f} s\n")

    outs = predict_logits(params, test.images)
    pred = np.argmax(outs, axis=1)
    acc = float(np.mean(pred == test.labels))
    common.section("Question 1: can the model solve the task?")
    per_class = per_class_accuracy(pred, test.labels)
    common.print_table(["true class", "test images", "accuracy"],
                       [[f"{c}: {CLASSES[c]}", int(np.sum(test.labels == c)), float(per_class[c])]
                        for c in range(len(CLASSES))] + [["all", len(test.labels), acc]], digits=4)
    cm = confusion(pred, test.labels)
    common.print_table(["true \\ predicted"] + [str(c) for c in range(len(CLASSES))],
                       [[f"{c}: {CLASSES[c]}"] + [int(v) for v in cm[c]] for c in range(len(CLASSES))])
    print(f"test accuracy: {acc:.4f}\n")
    verdict = "yes" if acc >= 0.97 else "largely" if acc >= 0.85 else "not yet"
    common.explain(f"""
        Answer: {verdict}. The model classifies {100 * acc:.2f}% of unseen test images
        correctly, and every class is recognised (worst class {100 * per_class.min():.2f}%).""")

    common.section("Question 2: is the model robust to the large dot?")
    cams, cam_outs = class_gradcams(params, test.images)
    cam_pred = cams[np.arange(len(pred)), pred]
    cell = SIZE // 8
    mass, area = mass_shares(cam_pred, region_masks(test, cell))
    print(f"GradCAM of the predicted class on the {len(pred)} test images. GradCAM has one value per\n"
          f"{cell}x{cell}-pixel cell (the 8x8 feature maps); an object's region is the cells it\n"
          f"touches. Share of the GradCAM mass and of the image area per region (mean over images):\n")
    common.print_table(["region", "GradCAM mass", "image area", "mass / area"],
                       [[REGIONS[i], float(mass[i]), float(area[i]), float(mass[i] / area[i])]
                        for i in range(len(REGIONS))], digits=3)
    has_mass = cam_pred.max(axis=(1, 2)) > 0
    near = peak_near(cam_pred, test, cell)
    near_by_class = np.stack([near[(test.labels == c) & has_mass].mean(axis=0)
                              for c in range(len(CLASSES))])
    print("Where is the hottest cell of the map? Share of the test images (of each true class)\n"
          "in which it lies within one cell of each object:\n")
    common.print_table(["true class", "small dot", "line", "large dot"],
                       [[f"{c}: {CLASSES[c]}"] + [float(v) for v in near_by_class[c]]
                        for c in range(len(CLASSES))], digits=3)
    rng = np.random.default_rng(args.seed + 1)
    variants = {"large dot moved": move_large_dot(test, rng), "large dot removed": remove_large_dot(test)}
    changed: dict[str, float] = {}
    rows: list[list[Any]] = [["none", 0.0, acc]]
    for name, variant in variants.items():
        vpred = np.argmax(predict_logits(params, variant.images), axis=1)
        changed[name] = float(np.mean(vpred != pred))
        rows.append([name, changed[name], float(np.mean(vpred == variant.labels))])
    common.print_table(["change to the test images", "predictions changed", "accuracy"],
                       rows, digits=4)
    moved, removed = changed["large dot moved"], changed["large dot removed"]
    used = [REGIONS[i] for i in range(3) if mass[i] > area[i]]  # more mass than area
    where = ("near the " + " and the ".join(used) if used else "nowhere in particular") + (
        "" if REGIONS[2] in used else ", not at the large dot")
    peak_all = near[has_mass].mean(axis=0)
    looks = "; ".join(f"for \"{CLASSES[c]}\" it is most often near the "
                      f"{REGIONS[int(np.argmax(near_by_class[c]))]} "
                      f"({100 * near_by_class[c].max():.0f}%)" for c in range(len(CLASSES)))
    common.explain(f"""
        Answer, from GradCAM: the predicted class's map puts {100 * mass[0]:.0f}% of its mass
        on the cells of the small dot, which cover only {100 * area[0]:.0f}% of the image
        ({mass[0] / area[0]:.1f} times their area share), and {100 * mass[2]:.0f}% on the cells
        of the large dot, which cover {100 * area[2]:.0f}% ({mass[2] / area[2]:.1f} times): the
        evidence lies {where}. The hottest cell is within one cell of the small dot in
        {100 * peak_all[0]:.0f}% of the images, of the line in {100 * peak_all[1]:.0f}%, and of
        the large dot in {100 * peak_all[2]:.0f}%. By true class: {looks}. GradCAM is
        coarse (one value per cell) and much of its mass lies in empty cells (channels that
        respond to the background get weights alpha_k too), so these are indications; the
        interventions test robustness directly.

        Answer, from interventions: moving the large dot to another allowed place changes
        {100 * moved:.2f}% of the predictions; removing it changes {100 * removed:.2f}%.
        {_robustness_verdict(moved, removed)}""")

    show = _examples(test, 1 if args.quick else 2)
    _plot_classes(subset(test, show), cams[show], cam_outs[show], args.out, "gradcam_classes.png",
                  "Task 42b: GradCAM per class (* = predicted), logits in the titles")
    one = show[:3]
    trio = [subset(test, one), subset(variants["large dot moved"], one),
            subset(variants["large dot removed"], one)]
    interleave = np.arange(3 * len(one)).reshape(3, -1).T.ravel()  # each image's 3 versions together
    stacked = subset(Shapes(*(np.concatenate([getattr(d, f) for d in trio])
                              for f in Shapes.__dataclass_fields__)), interleave)
    s_cams, s_outs = class_gradcams(params, stacked.images)
    _plot_classes(stacked, s_cams, s_outs, args.out, "gradcam_large_dot.png",
                  "The same images: original, large dot moved, large dot removed",
                  ["original", "large dot moved", "large dot removed"] * len(one))


FEATURES_DESC = ["Conv2D(16, 3x3, SAME)", "relu", "MaxPool 2", "Conv2D(32, 3x3, SAME)", "relu",
                 "MaxPool 2", "Conv2D(32, 3x3, SAME)", "relu -> A (32 x 8 x 8)"]
HEAD_DESC = ["Flatten", "Linear(64)", "relu", "Linear(3)"]


def _describe(parts: Sequence[str]) -> str:
    return " - ".join(parts)


if __name__ == "__main__":
    main(sys.argv[1:])
