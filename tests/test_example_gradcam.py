"""Tests for examples/gradcam.py (task 42): GradCAM by hand, the data generator, the model."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import common
import funcgrad as fg
import gradcam as gc
from funcgrad import random

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def grow(masks: np.ndarray, radius: int) -> np.ndarray:
    """Boolean masks (N, H, W) grown by `radius` pixels in every direction (a square)."""
    n, h, w = masks.shape
    padded = np.pad(masks, ((0, 0), (radius, radius), (radius, radius)))
    out = np.zeros_like(masks)
    for dr in range(2 * radius + 1):
        for dc in range(2 * radius + 1):
            out |= padded[:, dr:dr + h, dc:dc + w]
    return out


def test_gradcam_on_the_sheets_hand_example() -> None:
    np.testing.assert_array_equal(gc.gradcam_weights(gc.HAND_GRADIENTS), [0.25, 1.0, 0.75])
    expected = np.array([[1, 0, 0, 1], [0, 0, 0, 0], [6, 0, 0, 6], [0, 1, 1, 0]], dtype=float)
    np.testing.assert_array_equal(gc.gradcam(gc.HAND_FEATURES, gc.HAND_GRADIENTS), expected)
    # batched (N, C, H, W) gives the same map per example; a negative gradient is cut by relu
    batch_a = np.stack([gc.HAND_FEATURES, gc.HAND_FEATURES])
    batch_g = np.stack([gc.HAND_GRADIENTS, -gc.HAND_GRADIENTS])
    maps = gc.gradcam(batch_a, batch_g)
    assert maps.shape == (2, 4, 4)
    np.testing.assert_array_equal(maps[0], expected)
    np.testing.assert_array_equal(maps[1], np.zeros((4, 4)))


def test_gradcam_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="gradcam"):
        gc.gradcam(np.zeros((3, 4, 4)), np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="gradcam"):
        gc.gradcam(np.zeros((4, 4)), np.zeros((4, 4)))


def test_upsample() -> None:
    m = np.arange(4.0).reshape(1, 2, 2)
    up = gc.upsample(m, 3)
    assert up.shape == (1, 6, 6)
    np.testing.assert_array_equal(up[0, :3, :3], 0.0)
    np.testing.assert_array_equal(up[0, 3:, 3:], 3.0)


@pytest.fixture(scope="module")
def shapes() -> gc.Shapes:
    return gc.make_shapes(601, np.random.default_rng(7))


def test_generator_labels_follow_the_geometry_of_the_masks(shapes: gc.Shapes) -> None:
    n = len(shapes.labels)
    assert shapes.images.shape == (n, 1, gc.SIZE, gc.SIZE) and shapes.images.dtype == np.float32
    assert sorted(np.bincount(shapes.labels)) == [200, 200, 201]  # balanced
    rows = np.arange(gc.SIZE)
    for k in range(n):
        line_rows = np.flatnonzero(shapes.line_mask[k].all(axis=1))
        assert list(line_rows) == [shapes.line_row[k]] and shapes.line_mask[k].sum() == gc.SIZE
        small = shapes.small_mask[k]
        assert small.sum() == 9  # a 3x3 dot, fully inside the image
        small_row = (small.sum(axis=1) * rows).sum() / small.sum()
        d = small_row - line_rows[0]
        expected = 0 if d == 0 else 1 if d > 0 else 2  # image rows grow downwards
        assert shapes.labels[k] == expected
        assert d == 0 or abs(d) >= gc.OFF_GAP  # on the line, or clearly off it
        assert shapes.large_mask[k].sum() == gc._disk(np.array([[15, 15]]), gc.LARGE_RADIUS,
                                                       gc.SIZE).sum()  # fully inside
    # the large dot never touches the small dot or the line (a gap of at least one pixel)
    near_large = grow(shapes.large_mask, 1)
    assert not np.any(near_large & shapes.small_mask)
    assert not np.any(near_large & shapes.line_mask)
    union = shapes.line_mask | shapes.small_mask | shapes.large_mask
    np.testing.assert_array_equal(shapes.images[:, 0], union.astype(np.float32))


def test_generator_is_reproducible_and_covers_the_image() -> None:
    a = gc.make_shapes(90, np.random.default_rng(3))
    b = gc.make_shapes(90, np.random.default_rng(3))
    np.testing.assert_array_equal(a.images, b.images)
    big = gc.make_shapes(3000, np.random.default_rng(4))
    assert set(big.line_row) == set(range(gc.LINE_ROWS[0], gc.LINE_ROWS[1] + 1))
    assert big.small_center[:, 1].min() == 2 and big.small_center[:, 1].max() == gc.SIZE - 3


def test_moving_and_removing_the_large_dot_keep_the_label(shapes: gc.Shapes) -> None:
    moved = gc.move_large_dot(shapes, np.random.default_rng(0))
    removed = gc.remove_large_dot(shapes)
    for variant in (moved, removed):
        np.testing.assert_array_equal(variant.labels, shapes.labels)
        np.testing.assert_array_equal(variant.small_mask, shapes.small_mask)
        np.testing.assert_array_equal(variant.line_mask, shapes.line_mask)
    assert np.mean(np.any(moved.large_center != shapes.large_center, axis=1)) > 0.9
    assert not np.any(grow(moved.large_mask, 1) & (moved.small_mask | moved.line_mask))
    assert not removed.large_mask.any()
    np.testing.assert_array_equal(removed.images[:, 0],
                                  (shapes.line_mask | shapes.small_mask).astype(np.float32))


def test_regions_partition_the_image_and_mass_shares_sum_to_one(shapes: gc.Shapes) -> None:
    regions = gc.region_masks(shapes, cell=4)
    assert regions.shape == (len(shapes.labels), 4, gc.SIZE, gc.SIZE)
    np.testing.assert_array_equal(regions.sum(axis=1), 1)
    assert np.all(regions[:, 0] >= shapes.small_mask)
    assert np.all(regions[:, 0] | regions[:, 2] >= shapes.large_mask)
    assert np.all(regions[:, 0] | regions[:, 1] | regions[:, 2] >= shapes.line_mask)
    # regions are unions of whole 4x4 cells
    blocks = regions.reshape(len(shapes.labels), 4, 8, 4, 8, 4)
    assert np.all(blocks.all(axis=(3, 5)) == blocks.any(axis=(3, 5)))
    # the line touches one row of 8 cells; the dots may claim some of them
    assert np.all(regions[:, 1].sum(axis=(1, 2)) <= 8 * 16)
    cams = np.random.default_rng(0).random((len(shapes.labels), gc.SIZE, gc.SIZE))
    mass, area = gc.mass_shares(cams, regions)
    assert mass.sum() == pytest.approx(1.0) and area.sum() == pytest.approx(1.0)
    # a map that sits exactly on the small dot puts all its mass there, and peaks there
    on_small = shapes.small_mask.astype(float)
    mass, _ = gc.mass_shares(on_small, regions)
    np.testing.assert_allclose(mass, [1, 0, 0, 0])
    # peak_near takes maps at cell resolution (upsampled): one on the small dot's cells
    cell_map = gc.upsample(gc.object_cells(shapes.small_mask, 4), 4).astype(float)
    near = gc.peak_near(cell_map, shapes, cell=4)
    assert near.shape == (len(shapes.labels), 3) and near[:, 0].all()
    assert near[shapes.labels == 0, 1].all()  # on the line: the line is near too
    # a map peaking in the top-left cell is near the line only if the line is in cell row 0 or 1
    corner = np.zeros((len(shapes.labels), gc.SIZE, gc.SIZE))
    corner[:, :4, :4] = 1.0
    np.testing.assert_array_equal(gc.peak_near(corner, shapes)[:, 1], shapes.line_row < 8)


def test_class_gradients_match_per_example_grad() -> None:
    params = gc.init_params(random.key(0))
    images = gc.make_shapes(3, np.random.default_rng(1)).images
    a, out, grads = gc.class_gradients(params, images, range(3))
    assert a.shape == (3, 32, gc.SIZE // 4, gc.SIZE // 4) and out.shape == (3, 3)
    np.testing.assert_allclose(out, gc.logits(params, images), rtol=1e-5, atol=1e-6)
    for c in range(3):
        for n in range(3):
            g = fg.grad(lambda maps: gc.head(params, maps[None])[0, c])(a[n])
            np.testing.assert_allclose(grads[c][n], g, rtol=1e-5, atol=1e-6)
    cams, cam_logits = gc.class_gradcams(params, images)
    assert cams.shape == (3, 3, gc.SIZE, gc.SIZE) and np.all(cams >= 0)
    np.testing.assert_allclose(cams[:, 1], gc.upsample(gc.gradcam(a, grads[1]), 4), rtol=1e-6)


def test_quick_mode_end_to_end_reaches_the_stated_accuracy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The script runs in a child process: let it import the funcgrad of this checkout
    # (the one the other tests import), not another one installed in the environment.
    checkout = str(Path(gc.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [checkout, *filter(None, [os.environ.get("PYTHONPATH")])]))
    result = common.run_example("gradcam", tmp_path, "--quick", "--out", "figs")
    assert result.returncode == 0, result.stderr
    match = re.search(r"^test accuracy: ([0-9.]+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    assert float(match.group(1)) >= gc.QUICK_THRESHOLD, result.stdout
    for name in ["gradcam_hand.png", "gradcam_classes.png", "gradcam_large_dot.png"]:
        png = tmp_path / "figs" / name
        assert png.stat().st_size > 0 and png.read_bytes()[:8] == PNG_MAGIC
    for text in ["Question 1", "Question 2", "large dot moved", "large dot removed", "0.25", "0.75"]:
        assert text in result.stdout
