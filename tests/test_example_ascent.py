"""Tests for examples/ascent.py (task 39): gradient ascent on the input, xW as a convolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ascent
import common

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_two_ascent_steps_on_the_preactivation_reach_the_weight_column_twice() -> None:
    xs = ascent.gradient_ascent(ascent.preactivation, np.zeros(5), lr=1.0, steps=2)
    assert len(xs) == 3
    np.testing.assert_array_equal(xs[1], [0, 1, -1, 0, 0])
    np.testing.assert_array_equal(xs[2], [0, 2, -2, 0, 0])
    np.testing.assert_array_equal(xs[2], 2 * ascent.W[:, 1])
    assert float(ascent.preactivation(xs[2])) == 4.0


def test_ascent_on_the_relu_output_is_a_dead_start() -> None:
    xs = ascent.gradient_ascent(ascent.activation, np.zeros(5), lr=1.0, steps=2)
    for x in xs:
        np.testing.assert_array_equal(x, np.zeros(5))
    # but from a point where the unit is active, the gradient is the weight column again
    x = np.array([0.0, 0.5, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ascent.gradient_ascent(ascent.activation, x, steps=1)[1],
                                  x + ascent.W[:, 1])


def test_xw_is_a_valid_convolution_with_kernel_one_minus_one() -> None:
    np.testing.assert_array_equal(ascent.conv_matrix(ascent.KERNEL, 5), ascent.W)
    rng = np.random.default_rng(1)
    for x in [np.arange(1.0, 6.0), rng.standard_normal(5), rng.standard_normal(5)]:
        y = ascent.conv1d_via_conv2d(x, ascent.KERNEL)
        assert y.shape == (4,)
        np.testing.assert_allclose(y, x @ ascent.W, rtol=0, atol=1e-12)
        np.testing.assert_allclose(y, x[:-1] - x[1:], rtol=0, atol=1e-12)


def test_script_runs_end_to_end_in_quick_mode(tmp_path: Path) -> None:
    result = common.run_example("ascent", tmp_path, "--quick", "--out", "figs")
    assert result.returncode == 0, result.stderr
    assert "(0, 2, -2, 0, 0)" in result.stdout
    assert "dead start" in result.stdout.lower()
    assert "convolutional layer written as a matrix product with shared weights" in result.stdout
    png = tmp_path / "figs" / "ascent.png"
    assert png.stat().st_size > 0 and png.read_bytes()[:8] == PNG_MAGIC
