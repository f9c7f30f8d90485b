"""Tests for examples/gradcam.py (task 42) and its modules: the hand example, the data
generator (shapes_data), the measurements (gradcam_measures), the figures (gradcam_plots)
and a quick run of the script."""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import common
import funcgrad as fg
import gradcam as gc
import gradcam_measures as gm
import gradcam_plots as plots
import shapes_data as sd
from funcgrad import random

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SHEET_ALPHA = [0.25, 1.0, 0.75]
SHEET_MAP = [[1, 0, 0, 1], [0, 0, 0, 0], [6, 0, 0, 6], [0, 1, 1, 0]]


def grow(masks: np.ndarray, radius: int) -> np.ndarray:
    """Boolean masks (N, H, W) grown by `radius` pixels in every direction (a square)."""
    n, h, w = masks.shape
    padded = np.pad(masks, ((0, 0), (radius, radius), (radius, radius)))
    out = np.zeros_like(masks)
    for dr in range(2 * radius + 1):
        for dc in range(2 * radius + 1):
            out |= padded[:, dr:dr + h, dc:dc + w]
    return out


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, read from the PNG header."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_gradcam_on_the_sheets_hand_example() -> None:
    np.testing.assert_array_equal(gc.gradcam_weights(gc.HAND_GRADIENTS), SHEET_ALPHA)
    np.testing.assert_array_equal(gc.gradcam(gc.HAND_FEATURES, gc.HAND_GRADIENTS), SHEET_MAP)
    # batched (N, C, H, W) gives the same map per example; a negative gradient is cut by relu
    batch_a = np.stack([gc.HAND_FEATURES, gc.HAND_FEATURES])
    batch_g = np.stack([gc.HAND_GRADIENTS, -gc.HAND_GRADIENTS])
    maps = gc.gradcam(batch_a, batch_g)
    assert maps.shape == (2, 4, 4)
    np.testing.assert_array_equal(maps[0], SHEET_MAP)
    np.testing.assert_array_equal(maps[1], np.zeros((4, 4)))


def test_hand_example_prints_the_sheets_values(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    gc.hand_example(tmp_path)
    text = capsys.readouterr().out
    assert "L = relu(0.25 A^1 + 1 A^2 + 0.75 A^3) =" in text
    printed = [[float(v) for v in line.split()] for line in text.splitlines()
               if re.fullmatch(r"\s{4}(\s*\d+){4}", line)]
    assert printed == SHEET_MAP
    alphas = re.findall(r"^(\d)\s+(\d+\.\d\d)\s+(\d\.\d\d)$", text, re.MULTILINE)
    assert alphas == [("1", "4.00", "0.25"), ("2", "16.00", "1.00"), ("3", "12.00", "0.75")]
    assert png_size(tmp_path / "gradcam_hand.png")[1] <= 1200


def test_gradcam_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"gradcam: .* got \(3, 4, 4\) and \(2, 4, 4\)"):
        gc.gradcam(np.zeros((3, 4, 4)), np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="gradcam"):
        gc.gradcam(np.zeros((4, 4)), np.zeros((4, 4)))


def test_upsample() -> None:
    m = np.arange(4.0).reshape(1, 2, 2)
    up = gm.upsample(m, 3)
    assert up.shape == (1, 6, 6)
    np.testing.assert_array_equal(up[0, :3, :3], 0.0)
    np.testing.assert_array_equal(up[0, 3:, 3:], 3.0)


@pytest.fixture(scope="module")
def shapes() -> sd.Shapes:
    return sd.make_shapes(601, np.random.default_rng(7))


def test_generator_labels_follow_the_geometry_of_the_masks(shapes: sd.Shapes) -> None:
    n = len(shapes.labels)
    assert shapes.images.shape == (n, 1, sd.SIZE, sd.SIZE) and shapes.images.dtype == np.float32
    assert sorted(np.bincount(shapes.labels)) == [200, 200, 201]  # balanced
    rows = np.arange(sd.SIZE)
    large_area = sd.disk(np.array([[15, 15]]), sd.LARGE_RADIUS).sum()
    assert large_area == 69
    for k in range(n):
        line_rows = np.flatnonzero(shapes.line_mask[k].all(axis=1))
        assert list(line_rows) == [shapes.line_row[k]] and shapes.line_mask[k].sum() == sd.SIZE
        small = shapes.small_mask[k]
        assert small.sum() == 9  # a 3x3 dot, fully inside the image
        small_row = (small.sum(axis=1) * rows).sum() / small.sum()
        d = small_row - line_rows[0]
        expected = 0 if d == 0 else 1 if d > 0 else 2  # image rows grow downwards
        assert shapes.labels[k] == expected
        assert d == 0 or abs(d) >= sd.OFF_GAP  # on the line, or clearly off it
        assert shapes.large_mask[k].sum() == large_area  # fully inside
    # the large dot never touches the small dot or the line (a gap of at least one pixel)
    near_large = grow(shapes.large_mask, 1)
    assert not np.any(near_large & shapes.small_mask)
    assert not np.any(near_large & shapes.line_mask)
    union = shapes.line_mask | shapes.small_mask | shapes.large_mask
    np.testing.assert_array_equal(shapes.images[:, 0], union.astype(np.float32))


def test_generator_is_reproducible_and_covers_the_image() -> None:
    a = sd.make_shapes(90, np.random.default_rng(3))
    b = sd.make_shapes(90, np.random.default_rng(3))
    np.testing.assert_array_equal(a.images, b.images)
    big = sd.make_shapes(3000, np.random.default_rng(4))
    assert set(big.line_row) == set(range(sd.LINE_ROWS[0], sd.LINE_ROWS[1] + 1))
    assert big.small_center[:, 1].min() == 2 and big.small_center[:, 1].max() == sd.SIZE - 3


def test_moving_and_removing_the_large_dot_keep_the_label(shapes: sd.Shapes) -> None:
    moved = sd.move_large_dot(shapes, np.random.default_rng(0))
    removed = sd.remove_large_dot(shapes)
    for variant in (moved, removed):
        np.testing.assert_array_equal(variant.labels, shapes.labels)
        np.testing.assert_array_equal(variant.small_mask, shapes.small_mask)
        np.testing.assert_array_equal(variant.line_mask, shapes.line_mask)
    assert np.mean(np.any(moved.large_center != shapes.large_center, axis=1)) > 0.9
    assert not np.any(grow(moved.large_mask, 1) & (moved.small_mask | moved.line_mask))
    assert not removed.large_mask.any()
    np.testing.assert_array_equal(removed.large_center, -1)
    np.testing.assert_array_equal(removed.images[:, 0],
                                  (shapes.line_mask | shapes.small_mask).astype(np.float32))


def test_subset_and_first_of_each_class(shapes: sd.Shapes) -> None:
    show = sd.first_of_each_class(shapes, 2)
    assert list(shapes.labels[show]) == [0, 0, 1, 1, 2, 2]
    assert show[0] == np.flatnonzero(shapes.labels == 0)[0]
    part = sd.subset(shapes, show)
    np.testing.assert_array_equal(part.images, shapes.images[show])
    np.testing.assert_array_equal(part.large_mask, shapes.large_mask[show])


def test_regions_partition_the_image_and_mass_shares_sum_to_one(shapes: sd.Shapes) -> None:
    regions = gm.region_masks(shapes, cell=4)
    assert regions.shape == (len(shapes.labels), 4, sd.SIZE, sd.SIZE)
    np.testing.assert_array_equal(regions.sum(axis=1), 1)
    assert np.all(regions[:, 0] >= shapes.small_mask)
    assert np.all(regions[:, 0] | regions[:, 2] >= shapes.large_mask)
    assert np.all(regions[:, 0] | regions[:, 1] | regions[:, 2] >= shapes.line_mask)
    # regions are unions of whole 4x4 cells
    blocks = regions.reshape(len(shapes.labels), 4, 8, 4, 8, 4)
    assert np.all(blocks.all(axis=(3, 5)) == blocks.any(axis=(3, 5)))
    # the line touches one row of 8 cells; the dots may claim some of them
    assert np.all(regions[:, 1].sum(axis=(1, 2)) <= 8 * 16)
    cams = np.random.default_rng(0).random((len(shapes.labels), sd.SIZE, sd.SIZE))
    mass, area = gm.mass_shares(cams, regions)
    assert mass.sum() == pytest.approx(1.0) and area.sum() == pytest.approx(1.0)
    # a map that sits exactly on the small dot puts all its mass there, and peaks there
    on_small = shapes.small_mask.astype(float)
    mass, _ = gm.mass_shares(on_small, regions)
    np.testing.assert_allclose(mass, [1, 0, 0, 0])
    # peak_near takes maps at cell resolution (upsampled): one on the small dot's cells
    cell_map = gm.upsample(gm.object_cells(shapes.small_mask, 4), 4).astype(float)
    near = gm.peak_near(cell_map, shapes, cell=4)
    assert near.shape == (len(shapes.labels), 3) and near[:, 0].all()
    assert near[shapes.labels == 0, 1].all()  # on the line: the line is near too
    # a map peaking in the top-left cell is near the line only if the line is in cell row 0 or 1
    corner = np.zeros((len(shapes.labels), sd.SIZE, sd.SIZE))
    corner[:, :4, :4] = 1.0
    np.testing.assert_array_equal(gm.peak_near(corner, shapes)[:, 1], shapes.line_row < 8)


def test_attention_of_maps_on_the_small_dot(shapes: sd.Shapes) -> None:
    on_small = gm.upsample(gm.object_cells(shapes.small_mask, 4), 4).astype(float)
    on_small[0] = 0.0  # a map without mass is left out of every mean
    looks = gm.attention(on_small, shapes, cell=4)
    np.testing.assert_allclose(looks.mass, [1, 0, 0, 0])
    area = gm.region_masks(shapes, 4)[1:].mean(axis=(-2, -1)).mean(axis=0)
    np.testing.assert_allclose(looks.area, area)
    np.testing.assert_array_equal(looks.peak_by_class[:, 0], 1.0)
    # the hottest cell is the small dot's first cell: on the line exactly for class 0
    np.testing.assert_array_equal(looks.peak_by_class[0, 1], 1.0)
    assert looks.peak.shape == (3,) and looks.peak[0] == 1.0


def test_accuracy_per_class_and_confusion() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 1, 0, 2, 2])
    np.testing.assert_allclose(gm.per_class_accuracy(pred, labels), [0.5, 1.0, 2 / 3])
    np.testing.assert_array_equal(gm.confusion(pred, labels),
                                  [[1, 1, 0], [0, 2, 0], [1, 0, 2]])


def test_class_gradients_match_per_example_grad() -> None:
    params = gc.init_params(random.key(0))
    images = sd.make_shapes(3, np.random.default_rng(1)).images
    a, out, grads = gc.class_gradients(params, images, range(3))
    assert a.shape == (3, 32, sd.SIZE // 4, sd.SIZE // 4) and out.shape == (3, 3)
    np.testing.assert_allclose(out, gc.logits(params, images), rtol=1e-5, atol=1e-6)
    for c in range(3):
        for n in range(3):
            g = fg.grad(lambda maps: gc.head(params, maps[None])[0, c])(a[n])
            np.testing.assert_allclose(grads[c][n], g, rtol=1e-5, atol=1e-6)
    cams, cam_logits = gc.class_gradcams(params, images)
    assert cams.shape == (3, 3, sd.SIZE, sd.SIZE) and np.all(cams >= 0)
    np.testing.assert_allclose(cam_logits, out, rtol=1e-6)
    np.testing.assert_allclose(cams[:, 1], gm.upsample(gc.gradcam(a, grads[1]), 4), rtol=1e-6)


def capture_figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Make common.save_figure keep the figures it is given (and still write them)."""
    figures: list[Any] = []
    save = common.save_figure

    def keep(fig: Any, out: Path, name: str) -> Path:
        figures.append((fig, [ax.get_label() for ax in fig.axes]))
        return save(fig, out, name)

    monkeypatch.setattr(common, "save_figure", keep)
    return figures


def test_figures_have_colour_bars_and_fit_a_screen(
        shapes: sd.Shapes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = capture_figures(monkeypatch)
    show = sd.first_of_each_class(shapes, 1)
    cams = np.random.default_rng(0).random((3, 3, sd.SIZE, sd.SIZE))
    logits = np.random.default_rng(1).standard_normal((3, 3))
    plots.plot_classes(sd.subset(shapes, show), cams, logits, tmp_path)
    versions = [("original", sd.subset(shapes, show)),
                ("large dot removed", sd.remove_large_dot(sd.subset(shapes, show)))]
    plots.plot_interventions(versions, cams.transpose(1, 0, 2, 3)[:2],
                             np.stack([logits, logits]), tmp_path)
    (_, classes_axes), (_, grid_axes) = figures
    assert classes_axes.count("<colorbar>") == 3 and len(classes_axes) == 3 * 4 + 3
    assert grid_axes.count("<colorbar>") == 3 and len(grid_axes) == 3 * 2 + 3
    for name in ["gradcam_classes.png", "gradcam_large_dot.png"]:
        width, height = png_size(tmp_path / name)
        assert height <= 1200 and width <= 1200, (name, width, height)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The script's output in --quick mode, and the folder of its figures."""
    # The script runs in a child process: let it import the funcgrad of this checkout
    # (the one the other tests import), not another one installed in the environment.
    checkout = str(Path(gc.__file__).resolve().parents[1])
    cwd = tmp_path_factory.mktemp("gradcam")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join(
            [checkout, *filter(None, [os.environ.get("PYTHONPATH")])]))
        result = common.run_example("gradcam", cwd, "--quick", "--out", "figs", timeout=1200)
    assert result.returncode == 0, result.stderr
    return result.stdout, cwd / "figs"


def number_after(label: str, text: str) -> list[float]:
    """The numbers of the table row starting with label."""
    match = re.search(rf"^{re.escape(label)}\s+(.*)$", text, re.MULTILINE)
    assert match, (label, text)
    return [float(v) for v in match.group(1).split()]


def test_quick_run_answers_question_1(quick_run: tuple[str, Path]) -> None:
    text, _ = quick_run
    match = re.search(r"^test accuracy: ([0-9.]+)$", text, re.MULTILINE)
    assert match, text
    acc = float(match.group(1))
    assert acc >= gc.QUICK_THRESHOLD
    assert number_after("all", text) == [600, pytest.approx(acc)]
    per_class = [number_after(f"{c}: {name}", text) for c, name in enumerate(sd.CLASSES)]
    assert all(row[0] == 200 and row[1] >= 0.85 for row in per_class[:3]), per_class
    assert "Answer: yes." in text if acc >= 0.97 else "Answer: largely." in text


def test_quick_run_answers_question_2(quick_run: tuple[str, Path]) -> None:
    text, _ = quick_run
    # GradCAM puts more than its area's share on the small dot, less on the large dot
    small_mass, small_area, small_ratio = number_after("small dot", text)
    large_mass, large_area, large_ratio = number_after("large dot", text)
    assert small_ratio > 1.5 and small_mass > small_area, text
    assert large_ratio < 1.0 and 0.08 < large_area < 0.2, text
    assert small_mass + number_after("line", text)[0] + large_mass + \
        number_after("elsewhere", text)[0] == pytest.approx(1.0, abs=0.002)
    # the interventions: few predictions change, and the verdict follows from the numbers
    (moved, moved_acc), (removed, removed_acc) = (number_after(name, text) for name in
                                                  ["large dot moved", "large dot removed"])
    assert moved <= 0.05 and removed <= 0.10 and moved_acc >= 0.85 and removed_acc >= 0.85
    verdict = gc.robustness_verdict(moved, removed)
    assert " ".join(verdict.split()[:6]) in " ".join(text.split())
    assert f"changes {100 * moved:.2f}% of the predictions" in " ".join(text.split())


def test_quick_run_writes_compact_figures(quick_run: tuple[str, Path]) -> None:
    text, figs = quick_run
    sizes = {name: png_size(figs / name) for name in
             ["gradcam_hand.png", "gradcam_classes.png", "gradcam_large_dot.png"]}
    for name, (width, height) in sizes.items():
        assert f"figure written: figs/{name}" in text
        assert 400 <= height <= 1200 and 400 <= width <= 1300, (name, width, height)
