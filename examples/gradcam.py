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

The data generator is in shapes_data.py, the measurements in gradcam_measures.py and the
figures in gradcam_plots.py.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import common
import funcgrad as fg
import gradcam_plots as plots
from funcgrad import nn, random
from funcgrad.optim import adam
from gradcam_measures import REGIONS, Attention, attention, confusion, per_class_accuracy, upsample
from shapes_data import (CLASSES, SIZE, Shapes, first_of_each_class, make_shapes,
                         move_large_dot, remove_large_dot, subset)

FloatArray = npt.NDArray[np.floating[Any]]
F32 = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Params = Any
"""The model's parameter pytree: {'features': (...), 'head': (...)}."""

# ---------------------------------------------------------------------------------------
# GradCAM: the weights are the spatial means of the class gradient w.r.t. the feature
# maps, the map is the relu of the maps' weighted sum.


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
# (a) The sheet's hand example: gradients dy^c/dA^k and feature maps A^k.

HAND_GRADIENTS = np.array([
    [[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]],
    [[0, 0, 0, 0], [4, 4, 0, 0], [4, 4, 0, 0], [0, 0, 0, 0]],
    [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 3, 3], [0, 0, 3, 3]]], dtype=np.float64)
HAND_FEATURES = np.array([
    [[4, 0, 0, 4], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 1, 0]],
    [[0, 0, 0, 0], [0, 0, 0, 0], [8, 0, 0, 8], [0, 0, 0, 0]]], dtype=np.float64)


def hand_example(out: Path) -> None:
    """Task 42a: print alpha_k and L for the sheet's maps, and draw them."""
    common.section("Task 42a: GradCAM by hand (three 4x4 feature maps)")
    alpha = gradcam_weights(HAND_GRADIENTS)
    common.print_table(["k", "sum of dy/dA^k", "alpha_k = mean over the 16 pixels"],
                       [[k + 1, float(HAND_GRADIENTS[k].sum()), float(alpha[k])] for k in range(3)],
                       digits=2)
    cam = gradcam(HAND_FEATURES, HAND_GRADIENTS)
    print("L = relu(" + " + ".join(f"{a:g} A^{k + 1}" for k, a in enumerate(alpha)) + ") =")
    for row in cam:
        print("    " + " ".join(f"{v:3g}" for v in row))
    print()
    common.explain("""
        The weights alpha_k say how much class c, on average over the positions, gains when
        map k grows; the weighted sum of the maps shows where the evidence for class c lies.
        Here the corners of A^1 count a quarter, the bottom dots of A^2 fully and the dots
        of A^3 with 0.75, giving 6 at the two positions of row 3.""")
    plots.plot_hand(HAND_GRADIENTS, HAND_FEATURES, alpha, cam, out)


# ---------------------------------------------------------------------------------------
# (b) The model: features(params, x) -> A (the last conv's maps), head(params, A) -> logits.

FEATURES = nn.serial(nn.Conv2D(16, 3, "SAME"), nn.Relu, nn.MaxPool2D(2),
                     nn.Conv2D(32, 3, "SAME"), nn.Relu, nn.MaxPool2D(2),
                     nn.Conv2D(32, 3, "SAME"), nn.Relu)
HEAD = nn.serial(nn.Flatten, nn.Linear(64), nn.Relu, nn.Linear(len(CLASSES)))
MODEL = ("features = Conv2D(16, 3x3, SAME) - relu - MaxPool 2 - Conv2D(32, 3x3, SAME) - relu"
         " - MaxPool 2 - Conv2D(32, 3x3, SAME) - relu -> A (32 x 8 x 8);"
         " head = Flatten - Linear(64) - relu - Linear(3)")


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
# The sheet's two questions, answered with measurements.


def question_1(pred: Ints, test: Shapes) -> float:
    """Can the model solve the task? Prints accuracy per class and the confusion matrix."""
    common.section("Question 1: can the model solve the task?")
    acc = float(np.mean(pred == test.labels))
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
    return acc


def where_gradcam_looks(cams: FloatArray, test: Shapes, cell: int) -> Attention:
    """Print how the predicted class's maps spread over the objects, and return the measures."""
    looks = attention(cams, test, cell)
    print(f"GradCAM of the predicted class on the {len(test.labels)} test images. GradCAM has one "
          f"value per\n{cell}x{cell}-pixel cell (the 8x8 feature maps); an object's region is the "
          f"cells it\ntouches. Share of the GradCAM mass and of the image area per region (mean "
          f"over images):\n")
    common.print_table(["region", "GradCAM mass", "image area", "mass / area"],
                       [[REGIONS[i], float(looks.mass[i]), float(looks.area[i]),
                         float(looks.mass[i] / looks.area[i])] for i in range(len(REGIONS))],
                       digits=3)
    print("Where is the hottest cell of the map? Share of the test images (of each true class)\n"
          "in which it lies within one cell of each object:\n")
    common.print_table(["true class", "small dot", "line", "large dot"],
                       [[f"{c}: {CLASSES[c]}"] + [float(v) for v in looks.peak_by_class[c]]
                        for c in range(len(CLASSES))], digits=3)
    return looks


def interventions(params: Params, variants: dict[str, Shapes], pred: Ints, acc: float
                  ) -> dict[str, float]:
    """Print how many predictions change when the test images are changed; return the shares."""
    changed: dict[str, float] = {}
    rows: list[list[Any]] = [["none", 0.0, acc]]
    for name, variant in variants.items():
        vpred = np.argmax(predict_logits(params, variant.images), axis=1)
        changed[name] = float(np.mean(vpred != pred))
        rows.append([name, changed[name], float(np.mean(vpred == variant.labels))])
    common.print_table(["change to the test images", "predictions changed", "accuracy"],
                       rows, digits=4)
    return changed


def robustness_verdict(moved: float, removed: float) -> str:
    """The answer to question 2 from the shares of predictions changed by the interventions."""
    if moved <= 0.02 and removed <= 0.02:
        return "So yes: the model is robust to the large dot, wherever it is and whether it is there."
    if moved <= 0.02:
        return ("So the model is robust to where the large dot is, but not to its absence: it has "
                "never seen an image without one, and such images are outside the training "
                "distribution. Robust to the distractor as trained, not beyond it.")
    return ("So no: the position of the large dot changes what the model predicts, i.e. it has "
            "partly learned to use the distractor.")


def question_2(looks: Attention, changed: dict[str, float]) -> None:
    """Is the model robust to the large dot? The answer from GradCAM and from interventions."""
    mass, area, peak = looks.mass, looks.area, looks.peak
    used = [REGIONS[i] for i in range(3) if mass[i] > area[i]]  # more mass than area
    where = ("near the " + " and the ".join(used) if used else "nowhere in particular") + (
        "" if REGIONS[2] in used else ", not at the large dot")
    by_class = "; ".join(f"for \"{CLASSES[c]}\" it is most often near the "
                         f"{REGIONS[int(np.argmax(looks.peak_by_class[c]))]} "
                         f"({100 * looks.peak_by_class[c].max():.0f}%)" for c in range(len(CLASSES)))
    moved, removed = changed["large dot moved"], changed["large dot removed"]
    common.explain(f"""
        Answer, from GradCAM: the predicted class's map puts {100 * mass[0]:.0f}% of its mass
        on the cells of the small dot, which cover only {100 * area[0]:.0f}% of the image
        ({mass[0] / area[0]:.1f} times their area share), and {100 * mass[2]:.0f}% on the cells
        of the large dot, which cover {100 * area[2]:.0f}% ({mass[2] / area[2]:.1f} times): the
        evidence lies {where}. The hottest cell is within one cell of the small dot in
        {100 * peak[0]:.0f}% of the images, of the line in {100 * peak[1]:.0f}%, and of
        the large dot in {100 * peak[2]:.0f}%. By true class: {by_class}. GradCAM is
        coarse (one value per cell) and much of its mass lies in empty cells (channels that
        respond to the background get weights alpha_k too), so these are indications; the
        interventions test robustness directly.

        Answer, from interventions: moving the large dot to another allowed place changes
        {100 * moved:.2f}% of the predictions; removing it changes {100 * removed:.2f}%.
        {robustness_verdict(moved, removed)}""")


def figures(params: Params, versions: dict[str, Shapes], cams: F32, outs: F32,
            out: Path) -> None:
    """GradCAM per class for one test image of each class, and those images changed."""
    show = first_of_each_class(versions["original"], 1)
    plots.plot_classes(subset(versions["original"], show), cams[show], outs[show], out)
    shown = {name: subset(data, show) for name, data in versions.items()}
    maps, shown_outs = zip(*(class_gradcams(params, data.images) for data in shown.values()))
    predicted = [m[np.arange(len(show)), np.argmax(o, axis=1)] for m, o in zip(maps, shown_outs)]
    plots.plot_interventions(list(shown.items()), np.stack(predicted), np.stack(shown_outs), out)


def main(argv: Sequence[str] | None = None) -> None:
    """Run task 42 (a) and (b) and print the answers."""
    args = common.make_parser(__doc__ or "").parse_args(argv)
    config = QUICK if args.quick else FULL
    hand_example(args.out)

    common.section("Task 42b: the experiment with a line, a large dot and a small dot")
    print(f"Images {SIZE}x{SIZE}; class 0 = small dot on the line, 1 = below, 2 = above; "
          f"{config.n_train} training and {config.n_test} test images (balanced), "
          f"{config.steps} Adam steps of {config.batch} images, seed {args.seed}"
          f"{' (quick mode)' if args.quick else ''}.")
    print(f"Model: {MODEL}.\n")
    params, _, test, seconds = run_experiment(config, args.seed, log_every=max(config.steps // 6, 1))
    print(f"training took {seconds:.0f} s\n")

    cams, outs = class_gradcams(params, test.images)  # (N, class, H, W), the logits
    pred = np.argmax(outs, axis=1)
    acc = question_1(pred, test)

    common.section("Question 2: is the model robust to the large dot?")
    looks = where_gradcam_looks(cams[np.arange(len(pred)), pred], test, cell=SIZE // 8)
    rng = np.random.default_rng(args.seed + 1)
    variants = {"large dot moved": move_large_dot(test, rng),
                "large dot removed": remove_large_dot(test)}
    changed = interventions(params, variants, pred, acc)
    question_2(looks, changed)
    figures(params, {"original": test, **variants}, cams, outs, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
