"""Figures of task 42: the hand example, GradCAM per class, and the large-dot interventions.

Heat maps are drawn with a colour bar (their values are GradCAM's, not rescaled) and the
objects of the image as outlines on top, so the colours read against the bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import common
from shapes_data import CLASSES, Shapes

FloatArray = npt.NDArray[np.floating[Any]]

HEAT = "inferno"
OUTLINE = "deepskyblue"


def _bare(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _matrix(ax: Any, arr: FloatArray, title: str) -> None:
    ax.imshow(arr, cmap="viridis")
    for (i, j), v in np.ndenumerate(arr):
        ax.text(j, i, f"{v:g}", ha="center", va="center",
                color="white" if v < arr.max() / 2 else "black")
    ax.set_title(title, fontsize=10)
    _bare(ax)


def plot_hand(gradients: FloatArray, features: FloatArray, alpha: FloatArray, cam: FloatArray,
              out: Path) -> Path:
    """The sheet's gradient and feature maps (one column per k, values written) and the map L."""
    fig, axes = common.plt.subplots(2, 4, figsize=(11, 5.6), layout="constrained")
    for k in range(len(alpha)):
        _matrix(axes[0, k], gradients[k], f"dy/dA^{k + 1}, mean {alpha[k]:g}")
        _matrix(axes[1, k], features[k], f"A^{k + 1}")
    _matrix(axes[0, 3], cam, "L = relu(sum_k alpha_k A^k)")
    axes[1, 3].axis("off")
    fig.suptitle("Task 42a: GradCAM by hand")
    return common.save_figure(fig, out, "gradcam_hand.png")


def _heat(ax: Any, cam: FloatArray, image: FloatArray, vmax: float) -> Any:
    """GradCAM as colours on [0, vmax], the image's objects outlined on top."""
    shown = ax.imshow(cam, cmap=HEAT, vmin=0, vmax=vmax)
    ax.contour(image, levels=[0.5], colors=OUTLINE, linewidths=0.8)
    _bare(ax)
    return shown


def plot_classes(data: Shapes, cams: FloatArray, logits: FloatArray, out: Path) -> Path:
    """One row per image: the input, then GradCAM for each class, with a colour bar per row.

    cams is (N, classes, H, W); a row shares one colour scale, so its classes compare.
    """
    n, k = cams.shape[:2]
    fig, axes = common.plt.subplots(n, 1 + k, figsize=(2.3 * (1 + k) + 0.8, 2.45 * n),
                                    layout="constrained", squeeze=False)
    for r in range(n):
        image, pred = data.images[r, 0], int(np.argmax(logits[r]))
        axes[r, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_title(f"class {data.labels[r]}: {CLASSES[data.labels[r]]}\n"
                             f"predicted {pred}", fontsize=9)
        _bare(axes[r, 0])
        vmax = max(float(cams[r].max()), 1e-12)
        for c in range(k):
            shown = _heat(axes[r, 1 + c], cams[r, c], image, vmax)
            mark = " (predicted)" if c == pred else ""
            axes[r, 1 + c].set_title(f"GradCAM for class {c}{mark}\nlogit {logits[r, c]:.2f}",
                                     fontsize=9)
        fig.colorbar(shown, ax=axes[r, 1:], shrink=0.9, label="GradCAM")
    fig.suptitle("Task 42b: GradCAM per class (outlined: the objects of the input)")
    return common.save_figure(fig, out, "gradcam_classes.png")


def plot_interventions(versions: Sequence[tuple[str, Shapes]], cams: FloatArray,
                       logits: FloatArray, out: Path) -> Path:
    """A grid: one row per image, one column per version of it, the predicted class's GradCAM.

    versions are (name, data) with the same images in each; cams (versions, N, H, W) and
    logits (versions, N, classes). A row shares one colour scale and a colour bar.
    """
    v, n = cams.shape[:2]
    fig, axes = common.plt.subplots(n, v, figsize=(2.3 * v + 0.8, 2.5 * n),
                                    layout="constrained", squeeze=False)
    for r in range(n):
        vmax = max(float(cams[:, r].max()), 1e-12)
        for j, (name, data) in enumerate(versions):
            shown = _heat(axes[r, j], cams[j, r], data.images[r, 0], vmax)
            pred = int(np.argmax(logits[j, r]))
            axes[r, j].set_title(f"{name}: class {data.labels[r]}\npredicted {pred}, logit "
                                 f"{logits[j, r, pred]:.2f}", fontsize=9)
        fig.colorbar(shown, ax=axes[r, :], shrink=0.9, label="GradCAM")
    fig.suptitle("The same images with the large dot moved and removed:\n"
                 "GradCAM of the predicted class (outlined: the objects)", fontsize=11)
    return common.save_figure(fig, out, "gradcam_large_dot.png")
