"""Measurements for task 42b: where GradCAM puts its mass, and how often the model is right.

GradCAM has one value per cell of the last feature maps (cell x cell pixels); an object's
region is the cells it touches, so the measures compare like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from shapes_data import CLASSES, Shapes

FloatArray = npt.NDArray[np.floating[Any]]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
S = TypeVar("S", bound=np.generic)

REGIONS = ("small dot", "line", "large dot", "elsewhere")


def upsample(maps: npt.NDArray[S], factor: int) -> npt.NDArray[S]:
    """Nearest-neighbour upsampling of the last two axes by an integer factor."""
    return np.repeat(np.repeat(maps, factor, axis=-2), factor, axis=-1)


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


@dataclass(frozen=True)
class Attention:
    """Where the maps of a data set look, per region of REGIONS."""

    mass: FloatArray
    """(4,) mean share of the GradCAM mass in each region."""
    area: FloatArray
    """(4,) mean share of the image area of each region."""
    peak_by_class: FloatArray
    """(3 true classes, 3 objects): share of maps whose hottest cell is near each object."""
    peak: FloatArray
    """(3 objects,) the same over all maps."""


def attention(cams: FloatArray, data: Shapes, cell: int) -> Attention:
    """Mass shares and peak positions of maps (N, H, W), one per image of data."""
    mass, area = mass_shares(cams, region_masks(data, cell))
    has_mass = cams.max(axis=(1, 2)) > 0
    near = peak_near(cams, data, cell)
    by_class = np.stack([near[(data.labels == c) & has_mass].mean(axis=0)
                         for c in range(len(CLASSES))])
    return Attention(mass, area, by_class, near[has_mass].mean(axis=0))


def per_class_accuracy(pred: Ints, labels: Ints) -> FloatArray:
    """Accuracy within each true class."""
    return np.array([np.mean(pred[labels == c] == c) for c in range(len(CLASSES))])


def confusion(pred: Ints, labels: Ints) -> Ints:
    """Counts[true, predicted]."""
    m = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    np.add.at(m, (labels, pred), 1)
    return m
