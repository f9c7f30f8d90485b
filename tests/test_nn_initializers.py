"""Tests for funcgrad.nn.initializers: statistics over large draws (tolerances a few
standard errors wide, so a wrong scale fails), orthogonality, keys, dtypes, errors."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import nn, random
from funcgrad.nn.initializers import Initializer

FAN_IN, FAN_OUT = 400, 600  # a (400, 600) matrix: 240000 draws

# (initializer, variance, uniform?)
SCALED: list[tuple[Initializer, float, bool]] = [
    (nn.glorot_normal, 2 / (FAN_IN + FAN_OUT), False),
    (nn.glorot_uniform, 2 / (FAN_IN + FAN_OUT), True),
    (nn.he_normal, 2 / FAN_IN, False),
    (nn.he_uniform, 2 / FAN_IN, True),
    (nn.lecun_normal, 1 / FAN_IN, False),
    (nn.lecun_uniform, 1 / FAN_IN, True),
]
SCALED_PARAMS = [pytest.param(f, v, u, id=f.__name__) for f, v, u in SCALED]


@pytest.mark.parametrize("init,variance,is_uniform", SCALED_PARAMS)
def test_scaled_initializer_statistics(init: Initializer, variance: float,
                                       is_uniform: bool) -> None:
    w = np.asarray(init(random.key(0), (FAN_IN, FAN_OUT), FAN_IN, FAN_OUT, np.float64))
    std = math.sqrt(variance)
    n = w.size
    # the mean within 4 standard errors of 0, the std within 1% (its standard error is
    # about 0.15% for these draws)
    assert abs(float(w.mean())) < 4 * std / math.sqrt(n)
    assert float(w.std()) == pytest.approx(std, rel=0.01)
    within_one_std = float(np.mean(np.abs(w) < std))
    if is_uniform:
        limit = math.sqrt(3 * variance)
        assert float(np.abs(w).max()) <= limit
        assert float(np.abs(w).max()) > 0.999 * limit  # the whole interval is used
        assert within_one_std == pytest.approx(1 / math.sqrt(3), abs=0.005)
    else:
        # a plain normal: 68.3% within one std, 4.6% beyond two
        assert within_one_std == pytest.approx(math.erf(1 / math.sqrt(2)), abs=0.005)
        assert float(np.mean(np.abs(w) > 2 * std)) == pytest.approx(
            math.erfc(2 / math.sqrt(2)), abs=0.003)


@pytest.mark.parametrize("init,variance,is_uniform", SCALED_PARAMS)
def test_same_key_same_values_other_key_others(init: Initializer, variance: float,
                                               is_uniform: bool) -> None:
    a = np.asarray(init(random.key(1), (30, 20), 30, 20, np.float32))
    b = np.asarray(init(random.key(1), (30, 20), 30, 20, np.float32))
    c = np.asarray(init(random.key(2), (30, 20), 30, 20, np.float32))
    assert a.dtype == np.float32 and a.shape == (30, 20)
    np.testing.assert_array_equal(a, b)
    assert np.mean(a == c) < 0.01
    # jit gives the key's values, new ones for a new key
    jitted = fg.jit(lambda k: init(k, (30, 20), 30, 20, np.float32))
    np.testing.assert_array_equal(np.asarray(jitted(random.key(1))), a)
    np.testing.assert_array_equal(np.asarray(jitted(random.key(2))), c)
    # vmap over keys: each row of keys its own draw
    keys = random.split(random.key(3), 2)
    batched = np.asarray(fg.vmap(lambda k: init(k, (4, 5), 4, 5, np.float64))(keys))
    np.testing.assert_array_equal(batched[1], np.asarray(init(keys[1], (4, 5), 4, 5, np.float64)))


def test_he_normal_is_the_same_draw_as_before() -> None:
    """The layers' earlier he_normal: normal(key) * sqrt(2 / fan_in)."""
    w = nn.he_normal(random.key(7), (5, 6), 5, 6)
    np.testing.assert_array_equal(np.asarray(w), np.asarray(
        random.normal(random.key(7), (5, 6), np.float32) * math.sqrt(2 / 5)))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (8, 2, 3), (3, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_orthogonal(shape: tuple[int, ...], dtype: Any) -> None:
    w = np.asarray(nn.orthogonal(random.key(4), shape, 1, 1, dtype))
    assert w.shape == shape and w.dtype == dtype
    m = w.reshape(shape[0], -1).astype(np.float64)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=tol)
    np.testing.assert_array_equal(w, np.asarray(nn.orthogonal(random.key(4), shape, 1, 1, dtype)))
    assert not np.allclose(w, np.asarray(nn.orthogonal(random.key(5), shape, 1, 1, dtype)))


def test_orthogonal_is_haar_distributed() -> None:
    """Without the sign correction Q's diagonal would lean positive; uniform over the
    orthogonal group, each entry of a 3x3 Q has mean 0 and variance 1/3."""
    draws = np.stack([np.asarray(nn.orthogonal(k, (3, 3), 3, 3, np.float64))
                      for k in random.split(random.key(6), 2000)])
    # standard error of a mean: sqrt(1/3 / 2000) = 0.013
    np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=0.055)
    np.testing.assert_allclose((draws ** 2).mean(axis=0), 1 / 3, atol=0.04)


def test_zeros_and_ones() -> None:
    z = nn.zeros(random.key(0), (2, 3), 2, 3)
    o = nn.ones(random.key(0), (2, 3), 2, 3, np.float64)
    assert z.dtype == np.float32 and o.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(z), np.zeros((2, 3)))
    np.testing.assert_array_equal(np.asarray(o), np.ones((2, 3)))


def test_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("initializer: fan_in must be positive, got 0")):
        nn.he_normal(random.key(0), (0, 3), 0, 3)
    with pytest.raises(ValueError,
                       match=re.escape("initializer: fan_out must be positive, got -1")):
        nn.glorot_uniform(random.key(0), (2, 3), 2, -1)
    with pytest.raises(ValueError, match=re.escape(
            "orthogonal: shape must have at least 2 axes, got (5,)")):
        nn.orthogonal(random.key(0), (5,), 5, 5)
