"""Tests for examples/softmax_xent.py (tasks 40 and 41): the sheet's numbers and stability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import common
import softmax_xent as sx

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_task40_cross_entropies() -> None:
    assert sx.cross_entropy_of(sx.P_DOG, sx.Q1) == pytest.approx(0.798508, abs=1e-6)
    assert sx.cross_entropy_of(sx.P_DOG, sx.Q2) == pytest.approx(0.030459, abs=1e-6)
    assert sx.entropy(sx.P_DOG) == 0.0
    # a non-one-hot P: cross-entropy = entropy + KL >= entropy, equal for Q = P
    p = np.array([0.5, 0.25, 0.25])
    assert sx.cross_entropy_of(p, p) == pytest.approx(sx.entropy(p)) == pytest.approx(1.5 * np.log(2))
    assert sx.cross_entropy_of(p, np.array([0.4, 0.4, 0.2])) > sx.entropy(p)


def test_task41_softmax_and_cross_entropies() -> None:
    probs = sx.softmax_rows(sx.LOGITS)
    np.testing.assert_allclose(probs, [[0.693135, 0.254990, 0.012695, 0.034509, 0.004670],
                                       [0.017851, 0.006567, 0.974649, 0.000889, 0.000044],
                                       [0.481965, 0.481965, 0.023996, 0.003247, 0.008827]],
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sx.cross_entropies(sx.LOGITS, sx.LABELS),
                               [1.366530, 0.025678, 3.729884], rtol=0, atol=1e-6)
    assert list(sx.LABELS) == [1, 2, 2]  # cat, horse, horse


@pytest.mark.parametrize("row", range(3))
def test_simplified_loss_and_its_gradient(row: int) -> None:
    z, i = sx.LOGITS[row], int(sx.LABELS[row])
    assert float(sx.nll(z, i)) == pytest.approx(float(sx.nll_simplified(z, i)), abs=1e-12)
    assert float(sx.nll(z, i)) == pytest.approx(-z[i] + np.log(np.sum(np.exp(z))), abs=1e-12)
    g = sx.nll_gradient(z, i)
    expected = np.exp(z) / np.sum(np.exp(z)) - np.eye(5)[i]
    np.testing.assert_allclose(g, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sx.gradient_formula(z, i), expected, rtol=0, atol=1e-12)


def test_naive_softmax_then_log_breaks_on_large_logits_but_the_stable_form_does_not() -> None:
    z = sx.HUGE_LOGITS
    assert np.isnan(sx.naive_nll(z, 0))
    assert sx.naive_nll(z, 1) == np.inf and sx.naive_nll(z, 2) == np.inf
    for i, exact in enumerate([0.0, 1000.0, 2000.0]):
        assert float(sx.nll(z, i)) == pytest.approx(exact, abs=1e-9)
        assert float(sx.nll_simplified(z, i)) == pytest.approx(exact, abs=1e-9)
        g = sx.nll_gradient(z, i)
        assert np.all(np.isfinite(g)) and np.all(np.abs(g) <= 1.0)
        np.testing.assert_allclose(g, np.eye(3)[0] - np.eye(3)[i], atol=1e-12)


def test_script_runs_end_to_end_in_quick_mode(tmp_path: Path) -> None:
    result = common.run_example("softmax_xent", tmp_path, "--quick", "--out", "figs")
    assert result.returncode == 0, result.stderr
    for number in ["0.798508", "0.030459", "0.693135", "1.366530", "0.025678", "3.729884"]:
        assert number in result.stdout
    assert "nan" in result.stdout and "inf" in result.stdout
    png = tmp_path / "figs" / "softmax_xent.png"
    assert png.stat().st_size > 0 and png.read_bytes()[:8] == PNG_MAGIC
