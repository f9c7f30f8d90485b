"""The synthetic data of task 42b: images with a horizontal line, a large dot and a small dot.

Class 0 if the small dot is on the line, 1 if below it, 2 if above it. The large dot is a
distractor that never touches the other two objects. Besides the images, each data set
keeps the geometry and the pixel masks of its objects, so that the measurements can ask
where GradCAM looks and the interventions can move or remove the large dot.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

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
    """(N, 2) row, column of the large dot (-1 where it is removed)."""
    line_mask: Bools
    small_mask: Bools
    large_mask: Bools
    """(N, SIZE, SIZE) pixel masks of the three objects (large_mask all False if removed)."""


def disk(center: Ints, radius: float, size: int = SIZE) -> Bools:
    """(N, size, size) masks of the pixels within radius of each (row, column) centre."""
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
    small_mask = disk(small, SMALL_RADIUS)
    if large is None:
        large_mask = np.zeros_like(line_mask)
        large = np.full_like(small, -1)
    else:
        large_mask = disk(large, LARGE_RADIUS)
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
    return Shapes(*(getattr(data, f.name)[index] for f in fields(Shapes)))


def first_of_each_class(data: Shapes, per_class: int) -> Ints:
    """Indices of the first per_class examples of class 0, then of class 1, then of class 2."""
    return np.concatenate([np.flatnonzero(data.labels == c)[:per_class]
                           for c in range(len(CLASSES))]).astype(np.int64)
