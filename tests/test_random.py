"""Tests for funcgrad.random: explicit keys, splits and fold_ins, and the samplers.

Covered: determinism (the same key gives bitwise the same numbers eagerly, under jit and
under vmap; golden values pin the stream), independence of split and folded-in keys,
the distributions at fixed seeds (moments and chi-square tests with bounds far outside
what chance produces, yet tight enough to catch a wrong distribution), the transformations
(jit traces once and draws new numbers for each key passed in, vmap over keys equals a
loop, gradients flow through the parameters, the graph takes the key as an input) and the
errors for bad keys and impossible requests.

Statistical bounds are written as a number of standard errors of the statistic (6 for
moments, 4 for correlations, which the brief asks of them); at a fixed seed the outcome
is fixed, so these tests cannot flake.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import Array, ArrayLike, make_graph
from funcgrad import random as jr
from funcgrad.testing import check_grads

Sampler = Callable[[Array], Array]

EULER_GAMMA = 0.5772156649015329
N = 200_000  # draws for the moment and frequency tests


# ---------------------------------------------------------------------------- helpers


def _np(x: Any) -> NDArray[Any]:
    return np.asarray(x)


def _near(value: float | np.floating[Any], expected: float, se: float, k: float = 6.0,
          what: str = "") -> None:
    """|value - expected| within k standard errors se."""
    v = float(value)
    assert abs(v - expected) < k * se, (
        f"{what}: {v} is {abs(v - expected) / se:.1f} standard errors from {expected}")


def _chi2(counts: NDArray[Any], probs: NDArray[Any]) -> float:
    """Pearson's chi-square statistic of observed counts against probabilities."""
    counts = np.asarray(counts, np.float64).ravel()
    expected = np.asarray(probs, np.float64).ravel() * counts.sum()
    return float(np.sum((counts - expected) ** 2 / expected))


def _chi2_limit(df: int) -> float:
    """Far in the chi-square tail (mean df, sd sqrt(2 df)): 6 standard deviations above."""
    return df + 6.0 * math.sqrt(2.0 * df)


def _assert_chi2(counts: NDArray[Any], probs: NDArray[Any], df: int, what: str) -> None:
    stat = _chi2(counts, probs)
    assert stat < _chi2_limit(df), f"{what}: chi-square {stat:.1f} with {df} dof"


def _corr(a: NDArray[Any], b: NDArray[Any]) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def _softmax(x: NDArray[Any], axis: int = -1) -> NDArray[Any]:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    out: NDArray[Any] = e / np.sum(e, axis=axis, keepdims=True)
    return out


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _Phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _truncated_normal_moments(a: float, b: float) -> tuple[float, float]:
    """Mean and variance of the standard normal conditioned on a < x < b."""
    z = _Phi(b) - _Phi(a)
    mean = (_phi(a) - _phi(b)) / z
    var = 1.0 + (a * _phi(a) - b * _phi(b)) / z - mean * mean
    return mean, var


P4 = np.array([0.1, 0.2, 0.3, 0.4])

# Every sampler (and the key functions) as a function of the key alone.
SAMPLERS: dict[str, Sampler] = {
    "uniform": lambda k: jr.uniform(k, (5,)),
    "uniform_f32_range": lambda k: jr.uniform(k, (2, 3), np.float32, -2.0, 3.0),
    "normal": lambda k: jr.normal(k, (3, 2)),
    "normal_f32": lambda k: jr.normal(k, (4,), np.float32),
    "truncated_normal": lambda k: jr.truncated_normal(k, -1.0, 2.0, (7,)),
    "gumbel": lambda k: jr.gumbel(k, (4,)),
    "bernoulli": lambda k: jr.bernoulli(k, 0.3, (6,)),
    "bernoulli_p_array": lambda k: jr.bernoulli(k, np.array([0.1, 0.5, 0.9])),
    "categorical": lambda k: jr.categorical(k, np.log(P4), shape=(6,)),
    "categorical_axis0": lambda k: jr.categorical(k, np.zeros((3, 2)), axis=0),
    "randint": lambda k: jr.randint(k, (5,), -3, 9),
    "randint_i32": lambda k: jr.randint(k, (5,), 0, 100, np.int32),
    "permutation": lambda k: jr.permutation(k, 6),
    "permutation_array": lambda k: jr.permutation(k, np.arange(12.0).reshape(3, 4), axis=1),
    "choice": lambda k: jr.choice(k, 6, (4,)),
    "choice_no_replace": lambda k: jr.choice(k, 6, (4,), replace=False),
    "choice_p": lambda k: jr.choice(k, 4, (5,), p=P4),
    "choice_p_no_replace": lambda k: jr.choice(k, 4, (3,), replace=False, p=P4),
    "choice_array_axis": lambda k: jr.choice(k, np.arange(12.0).reshape(3, 4), (2,), axis=1),
    "split": lambda k: jr.split(k, 3),
    "fold_in": lambda k: jr.fold_in(k, 7),
}


def _same(a: Any, b: Any) -> None:
    """Bitwise equal: same dtype, same shape, same values."""
    a, b = _np(a), _np(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------- keys


def test_key_is_a_uint32_pair_of_the_seed() -> None:
    k = jr.key(0)
    assert isinstance(k, np.ndarray) and k.dtype == np.uint32 and k.shape == (2,)
    np.testing.assert_array_equal(k, [0, 0])
    np.testing.assert_array_equal(jr.key(2 ** 32 + 5), [1, 5])
    np.testing.assert_array_equal(jr.key(-1), [2 ** 32 - 1, 2 ** 32 - 1])
    _same(jr.key(np.int64(12345)), jr.key(12345))
    _same(jr.PRNGKey(7), jr.key(7))


# ---------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_key_same_numbers_eagerly(name: str) -> None:
    f = SAMPLERS[name]
    first = f(jr.key(42))
    _same(f(jr.key(42)), first)  # a fresh key from the same seed
    k = jr.key(42)
    _same(f(k), f(k))  # and the same key object, used twice
    np.testing.assert_array_equal(k, jr.key(42))  # sampling leaves the key as it was


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_numbers_under_jit(name: str) -> None:
    f = SAMPLERS[name]
    jitted = fg.jit(f)
    k = jr.key(3)
    _same(jitted(k), f(k))
    _same(jitted(k), f(k))  # the cached graph replays the same numbers
    assert jitted.trace_count == 1


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_vmap_over_keys_equals_a_loop(name: str) -> None:
    f = SAMPLERS[name]
    keys = jr.split(jr.key(5), 6)
    looped = np.stack([_np(f(k)) for k in keys])
    _same(fg.vmap(f)(keys), looped)
    _same(fg.jit(fg.vmap(f))(keys), looped)
    # the keys along another axis
    _same(fg.vmap(f, in_axes=1)(np.ascontiguousarray(keys.T)), looped)


def test_uniform_float32_is_the_float64_draw_rounded_down() -> None:
    # The same stream in both dtypes: float32 keeps the top 24 of the 53 bits.
    k = jr.key(11)
    u64 = _np(jr.uniform(k, (10_000,)))
    u32 = _np(jr.uniform(k, (10_000,), np.float32))
    assert u64.dtype == np.float64 and u32.dtype == np.float32
    np.testing.assert_array_equal(u32.astype(np.float64), np.floor(u64 * 2.0 ** 24) / 2.0 ** 24)


def test_normal_float32_is_the_float64_draw_rounded() -> None:
    k = jr.key(12)
    z64 = _np(jr.normal(k, (10_000,)))
    z32 = _np(jr.normal(k, (10_000,), np.float32))
    assert z32.dtype == np.float32
    _same(z32, z64.astype(np.float32))


def test_truncated_normal_float32_is_the_float64_draw_rounded() -> None:
    k = jr.key(13)
    t64 = _np(jr.truncated_normal(k, -1.5, 0.5, (1000,)))
    _same(jr.truncated_normal(k, -1.5, 0.5, (1000,), np.float32), t64.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_uniform_lies_in_the_half_open_unit_interval_in_every_dtype(dtype: Any) -> None:
    u = _np(jr.uniform(jr.key(0), (N,), dtype))
    assert u.dtype == dtype
    assert u.min() >= 0.0 and u.max() < 1.0, (u.min(), u.max(), int(np.sum(u >= 1.0)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_gumbel_is_finite_in_every_dtype(dtype: Any) -> None:
    g = _np(jr.gumbel(jr.key(0), (N,), dtype))
    assert g.dtype == dtype
    assert np.all(np.isfinite(g)), f"{int(np.sum(~np.isfinite(g)))} non-finite draws"


def test_different_keys_and_seeds_give_different_numbers() -> None:
    seeds = [0, 1, 2, 2 ** 32, 2 ** 32 + 1, -1, 12345]
    draws = [_np(jr.uniform(jr.key(s), (1000,))) for s in seeds]
    everything = np.concatenate(draws)
    # 53-bit floats: not a single value is shared between the streams
    assert len(np.unique(everything)) == len(everything)
    for s, d in zip(seeds, draws):
        assert 0.4 < d.mean() < 0.6, s  # each stream is itself uniform-looking
    others: list[Sampler] = [lambda k: jr.normal(k, (8,)),
                             lambda k: jr.randint(k, (8,), 0, 1000),
                             lambda k: jr.permutation(k, 20), lambda k: jr.split(k)]
    for f in others:
        assert not np.array_equal(f(jr.key(0)), f(jr.key(1)))


def test_golden_values_of_key_0() -> None:
    # These are the stream's fixed values: any change to how keys become numbers (the
    # Philox streams, the bits-to-float conversion, Box-Muller, split) is caught here.
    k = jr.key(0)
    # Integer arithmetic then an exact scaling: pinned bit for bit.
    np.testing.assert_array_equal(
        jr.uniform(k, (4,)),
        [0.011546754286331562, 0.24154919656271812, 0.11142585551493822, 0.5644146216071337])
    np.testing.assert_array_equal(
        jr.uniform(k, (4,), np.float32),
        np.array([0.011546730995178223, 0.24154919385910034, 0.11142581701278687,
                  0.5644146203994751], np.float32))
    np.testing.assert_array_equal(jr.split(k), [[4188131702, 3493329091],
                                                [1277232997, 3226943899]])
    np.testing.assert_array_equal(jr.fold_in(k, 1), [2321267816, 963260380])
    np.testing.assert_array_equal(jr.randint(k, (6,), 0, 10), [0, 2, 1, 5, 5, 2])
    # log/sqrt/cos may differ by an ulp between libms: pinned to 1e-13.
    np.testing.assert_allclose(
        jr.normal(k, (4,)),
        [-0.15238989229360111, -0.12833397221377518, 0.4589200056034579, 1.2842981280621089],
        rtol=1e-13, atol=0)


# ---------------------------------------------------------------------------- split, fold_in


@pytest.mark.parametrize("num", [1, 2, 3, 16])
def test_split_gives_num_distinct_new_keys(num: int) -> None:
    k = jr.key(9)
    keys = _np(jr.split(k, num))
    assert keys.shape == (num, 2) and keys.dtype == np.uint32
    assert len(np.unique(keys, axis=0)) == num
    assert not np.any(np.all(keys == k, axis=1))  # none is the parent
    assert _np(jr.split(k)).shape == (2, 2)  # num defaults to 2


def test_no_equal_keys_among_thousands_of_splits() -> None:
    k = jr.key(0)
    wide = _np(jr.split(k, 20_000))
    assert len(np.unique(wide, axis=0)) == 20_000
    # A binary tree of splits, 12 levels deep (8190 keys), under vmap.
    level = _np(jr.split(k))
    tree = [level]
    for _ in range(11):
        level = _np(fg.vmap(jr.split)(level)).reshape(-1, 2)
        tree.append(level)
    nodes = np.concatenate([k[None], *tree])
    assert len(nodes) == 8191
    # fold_ins of the root too: all of them distinct from each other and from the splits
    folded = _np(fg.vmap(lambda d: jr.fold_in(k, d))(np.arange(2000)))
    everything = np.concatenate([nodes, wide, folded])
    assert len(np.unique(everything, axis=0)) == len(np.unique(np.concatenate(
        [nodes, wide]), axis=0)) + 2000
    assert len(np.unique(nodes, axis=0)) == len(nodes)


def test_children_draws_are_independent_of_each_other_and_of_the_parent() -> None:
    n = 100_000
    bound = 4.0 / math.sqrt(n)  # 4 standard errors of a correlation of independent draws
    k = jr.key(2024)
    c0, c1 = jr.split(k)
    (g0,) = jr.split(c0, 1)
    streams = {
        "parent": _np(jr.uniform(k, (n,))),
        "child0": _np(jr.uniform(c0, (n,))),
        "child1": _np(jr.uniform(c1, (n,))),
        "grandchild": _np(jr.uniform(g0, (n,))),
        "fold_in0": _np(jr.uniform(jr.fold_in(k, 0), (n,))),
        "fold_in1": _np(jr.uniform(jr.fold_in(k, 1), (n,))),
    }
    names = sorted(streams)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            x, y = streams[a], streams[b]
            assert abs(_corr(x, y)) < bound, (a, b, _corr(x, y))
            # nor one shifted against the other
            assert abs(_corr(x[1:], y[:-1])) < bound, (a, b)
            assert abs(_corr(x[:-1], y[1:])) < bound, (a, b)
            # and not a single 53-bit value in common (no stream is another one, offset)
            assert len(np.intersect1d(x, y)) == 0, (a, b)
    # normals too, where a sign or scale coupling would show
    z = [_np(jr.normal(c, (n,))) for c in (k, c0, c1)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert abs(_corr(z[i], z[j])) < bound
            assert abs(_corr(z[i] ** 2, z[j] ** 2)) < bound


def test_fold_in_same_data_same_key_different_data_different_keys() -> None:
    k = jr.key(77)
    a = _np(jr.fold_in(k, 5))
    assert a.shape == (2,) and a.dtype == np.uint32
    _same(jr.fold_in(k, 5), a)
    _same(jr.fold_in(k, np.int64(5)), a)
    _same(jr.fold_in(k, np.array(5, np.int32)), a)
    assert not np.array_equal(a, k)
    data = list(range(-500, 1500))
    keys = np.stack([_np(jr.fold_in(k, d)) for d in data])
    assert len(np.unique(keys, axis=0)) == len(data)
    # other parents, the same data: other keys
    assert not np.array_equal(jr.fold_in(jr.key(78), 5), a)
    # fold_in is not split
    assert not np.any(np.all(_np(jr.split(k, 100)) == a, axis=1))


def test_fold_in_with_traced_data_under_jit() -> None:
    @fg.jit
    def step_noise(k: Array, step: Array) -> Array:
        return jr.normal(jr.fold_in(k, step), (3,))

    k = jr.key(1)
    outs = [_np(step_noise(k, np.int64(s))) for s in range(5)]
    assert step_noise.trace_count == 1
    for s, out in enumerate(outs):
        _same(out, jr.normal(jr.fold_in(k, s), (3,)))
    assert len(np.unique(np.concatenate(outs))) == 15
    jitted_fold = fg.jit(jr.fold_in)
    for s in (0, 3, -2):
        _same(jitted_fold(k, np.int64(s)), jr.fold_in(k, s))
    # vmap over the data, the key shared; and over both
    data = np.arange(6)
    _same(fg.vmap(lambda d: jr.fold_in(k, d))(data), np.stack([jr.fold_in(k, d) for d in data]))
    keys = jr.split(k, 6)
    _same(fg.vmap(jr.fold_in)(keys, data),
          np.stack([jr.fold_in(kk, d) for kk, d in zip(keys, data)]))


# ---------------------------------------------------------------------------- statistics


def test_uniform_statistics() -> None:
    u = _np(jr.uniform(jr.key(100), (N,)))
    assert u.dtype == np.float64 and u.shape == (N,)
    assert 0.0 <= u.min() and u.max() < 1.0
    _near(u.mean(), 0.5, math.sqrt(1 / 12 / N), what="mean")
    _near(u.var(), 1 / 12, math.sqrt((1 / 80 - 1 / 144) / N), what="variance")
    counts, _ = np.histogram(u, bins=20, range=(0.0, 1.0))
    _assert_chi2(counts, np.full(20, 1 / 20), 19, "uniform histogram")


def test_uniform_minval_maxval_float32() -> None:
    lo, hi = -2.0, 3.0
    u = _np(jr.uniform(jr.key(101), (N,), np.float32, minval=lo, maxval=hi))
    assert u.dtype == np.float32
    assert lo <= u.min() and u.max() <= hi
    width = hi - lo
    mean, var = u.astype(np.float64).mean(), u.astype(np.float64).var()
    _near(mean, (lo + hi) / 2, width * math.sqrt(1 / 12 / N), what="mean")
    _near(var, width ** 2 / 12, width ** 2 * math.sqrt((1 / 80 - 1 / 144) / N), what="var")
    counts, _ = np.histogram(u, bins=10, range=(lo, hi))
    _assert_chi2(counts, np.full(10, 0.1), 9, "scaled uniform histogram")


def test_uniform_with_array_bounds_broadcasts() -> None:
    lo = np.array([0.0, 10.0, -5.0])
    hi = np.array([1.0, 20.0, -4.0])
    u = _np(jr.uniform(jr.key(102), (50_000, 3), minval=lo, maxval=hi))
    assert u.shape == (50_000, 3)
    assert np.all(u >= lo) and np.all(u <= hi)
    for j in range(3):
        w = hi[j] - lo[j]
        _near(u[:, j].mean(), (lo[j] + hi[j]) / 2, w * math.sqrt(1 / 12 / 50_000), what=f"{j}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normal_statistics(dtype: Any) -> None:
    z = _np(jr.normal(jr.key(200), (N,), dtype))
    assert z.dtype == dtype and z.shape == (N,)
    z = z.astype(np.float64)
    _near(z.mean(), 0.0, math.sqrt(1 / N), what="mean")
    _near(z.var(), 1.0, math.sqrt(2 / N), what="variance")
    _near(np.mean(z ** 3), 0.0, math.sqrt(15 / N), what="third moment")
    _near(np.mean(z ** 4), 3.0, math.sqrt(96 / N), what="fourth moment")
    p1 = 0.6826894921370859  # P(|z| < 1)
    _near(np.mean(np.abs(z) < 1), p1, math.sqrt(p1 * (1 - p1) / N), what="P(|z|<1)")


def test_normal_location_scale() -> None:
    mu, sigma = 3.0, 0.5
    x = _np(jr.normal(jr.key(201), (N,))) * sigma + mu
    _near(x.mean(), mu, sigma / math.sqrt(N), what="mean")
    _near(x.std(), sigma, sigma * math.sqrt(1 / (2 * N)), what="std")


@pytest.mark.parametrize("lower, upper", [(-2.0, 2.0), (0.0, 3.0), (-1.0, 0.5), (1.0, 4.0)])
def test_truncated_normal_statistics(lower: float, upper: float) -> None:
    x = _np(jr.truncated_normal(jr.key(300), lower, upper, (N,)))
    assert x.dtype == np.float64 and x.shape == (N,)
    assert lower < x.min() and x.max() < upper
    mean, var = _truncated_normal_moments(lower, upper)
    _near(x.mean(), mean, math.sqrt(var / N), what="mean")
    # a truncated normal is no heavier-tailed than the normal: Var(s^2) <= 2 var^2 / N
    _near(x.var(), var, var * math.sqrt(2 / N), what="variance")


def test_truncated_normal_known_moments() -> None:
    # the analytic values used above, checked against scipy.stats.truncnorm.stats
    m, v = _truncated_normal_moments(-2.0, 2.0)
    assert m == pytest.approx(0.0, abs=1e-15) and v == pytest.approx(0.7737413, abs=1e-6)
    m, v = _truncated_normal_moments(0.0, 3.0)
    assert m == pytest.approx(0.7911568, abs=1e-6) and v == pytest.approx(0.3474078, abs=1e-6)


def test_gumbel_statistics() -> None:
    g = _np(jr.gumbel(jr.key(400), (N,)))
    var = math.pi ** 2 / 6
    _near(g.mean(), EULER_GAMMA, math.sqrt(var / N), what="mean")
    _near(g.var(), var, var * math.sqrt((5.4 - 1.0) / N), what="variance")  # kurtosis 5.4
    # its CDF exp(-exp(-x)) at a few points
    for x in (-1.0, 0.0, 1.0, 3.0):
        p = math.exp(-math.exp(-x))
        _near(np.mean(g <= x), p, math.sqrt(p * (1 - p) / N), what=f"CDF({x})")


def test_bernoulli_frequencies() -> None:
    b = _np(jr.bernoulli(jr.key(500), 0.3, (N,)))
    assert b.dtype == np.bool_ and b.shape == (N,)
    _near(b.mean(), 0.3, math.sqrt(0.3 * 0.7 / N), what="p=0.3")
    assert _np(jr.bernoulli(jr.key(500), 0.5)).shape == ()  # shape of p by default
    p = np.array([0.05, 0.5, 0.9])
    many = _np(fg.vmap(lambda k: jr.bernoulli(k, p))(jr.split(jr.key(501), 20_000)))
    assert many.shape == (20_000, 3)
    for j in range(3):
        _near(many[:, j].mean(), p[j], math.sqrt(p[j] * (1 - p[j]) / 20_000), what=f"p={p[j]}")
    assert not _np(jr.bernoulli(jr.key(502), 0.0, (N,))).any()
    assert _np(jr.bernoulli(jr.key(502), 1.0, (N,))).all()


@pytest.mark.parametrize("lo, hi", [(-3, 7), (0, 2), (5, 6), (-1000, 1000)])
def test_randint_uniform_over_its_range(lo: int, hi: int) -> None:
    r = _np(jr.randint(jr.key(600), (N,), lo, hi))
    assert r.dtype == np.int64 and r.shape == (N,)
    assert r.min() == lo and r.max() == hi - 1
    n_bins = hi - lo
    counts = np.bincount(r - lo, minlength=n_bins)
    assert len(counts) == n_bins
    if n_bins > 1:
        _assert_chi2(counts, np.full(n_bins, 1 / n_bins), n_bins - 1, f"randint[{lo},{hi})")


def test_randint_dtype() -> None:
    r = _np(jr.randint(jr.key(601), (1000,), 0, 100, np.int32))
    assert r.dtype == np.int32 and 0 <= r.min() and r.max() < 100


def test_categorical_frequencies_match_softmax() -> None:
    logits = np.array([0.5, -1.0, 2.0, 0.0, 1.0])
    c = _np(jr.categorical(jr.key(700), logits, shape=(N,)))
    assert c.shape == (N,) and np.issubdtype(c.dtype, np.integer)
    _assert_chi2(np.bincount(c, minlength=5), _softmax(logits), 4, "categorical")
    # a single draw by default
    assert _np(jr.categorical(jr.key(700), logits)).shape == ()


def test_categorical_along_axis_0_with_a_batch() -> None:
    logits = np.array([[0.0, 3.0], [1.0, 0.0], [2.0, -3.0]])  # categories along axis 0
    n = 50_000
    c = _np(jr.categorical(jr.key(701), logits, axis=0, shape=(n, 2)))
    assert c.shape == (n, 2)
    probs = _softmax(logits, axis=0)
    for j in range(2):
        _assert_chi2(np.bincount(c[:, j], minlength=3), probs[:, j], 2, f"column {j}")
    default = _np(jr.categorical(jr.key(702), logits, axis=0))
    assert default.shape == (2,)


def test_permutation_is_a_permutation() -> None:
    k = jr.key(800)
    p = _np(jr.permutation(k, 1000))
    np.testing.assert_array_equal(np.sort(p), np.arange(1000))
    assert not np.array_equal(p, np.arange(1000))
    x = np.arange(24.0).reshape(4, 6)
    px = _np(jr.permutation(k, x, axis=1))
    assert px.shape == (4, 6)
    np.testing.assert_array_equal(np.sort(px, axis=1), x)  # whole columns moved together
    cols = px[0].astype(int)
    np.testing.assert_array_equal(px, x[:, cols])
    rows = _np(jr.permutation(k, x))
    np.testing.assert_array_equal(np.sort(rows[:, 0]), x[:, 0])
    np.testing.assert_array_equal(rows, x[(rows[:, 0] // 6).astype(int)])


def test_permutation_positions_uniform_over_many_keys() -> None:
    n, m = 5, 5000
    perms = _np(fg.vmap(lambda k: jr.permutation(k, n))(jr.split(jr.key(801), m)))
    assert perms.shape == (m, n)
    np.testing.assert_array_equal(np.sort(perms, axis=1), np.tile(np.arange(n), (m, 1)))
    table = np.stack([np.bincount(perms[:, i], minlength=n) for i in range(n)])
    _assert_chi2(table, np.full((n, n), 1 / n ** 2), (n - 1) ** 2, "position x value")
    # all 120 orders appear, with about equal frequency
    codes = perms @ (n ** np.arange(n))
    _, counts = np.unique(codes, return_counts=True)
    assert len(counts) == 120
    _assert_chi2(counts, np.full(120, 1 / 120), 119, "orders")


def test_choice_with_replacement_uniform() -> None:
    c = _np(jr.choice(jr.key(900), 7, (N,)))
    assert c.shape == (N,) and c.min() == 0 and c.max() == 6
    _assert_chi2(np.bincount(c, minlength=7), np.full(7, 1 / 7), 6, "choice")
    a = np.array([10.0, 20.0, 30.0])
    ca = _np(jr.choice(jr.key(901), a, (2, 3)))
    assert ca.shape == (2, 3) and set(ca.ravel()) <= set(a)


def test_choice_without_replacement_has_no_repeats() -> None:
    k = jr.key(902)
    np.testing.assert_array_equal(np.sort(_np(jr.choice(k, 6, (6,), replace=False))),
                                  np.arange(6))
    m = 5000
    picks = _np(fg.vmap(lambda k: jr.choice(k, 5, (3,), replace=False))(jr.split(k, m)))
    assert picks.shape == (m, 3)
    assert all(len(set(row)) == 3 for row in picks.tolist())
    for j in range(3):  # every position is uniform over the 5 entries
        _assert_chi2(np.bincount(picks[:, j], minlength=5), np.full(5, 0.2), 4, f"pos {j}")
    grid = _np(jr.choice(k, 10, (2, 3), replace=False))
    assert grid.shape == (2, 3) and len(set(grid.ravel().tolist())) == 6
    a = np.arange(12.0).reshape(3, 4)
    cols = _np(jr.choice(k, a, (4,), replace=False, axis=1))
    assert cols.shape == (3, 4)
    np.testing.assert_array_equal(np.sort(cols, axis=1), a)


def test_choice_with_p_and_replacement_frequencies() -> None:
    c = _np(jr.choice(jr.key(903), 4, (N,), p=P4))
    _assert_chi2(np.bincount(c, minlength=4), P4, 3, "choice with p")
    zero = np.array([0.0, 0.25, 0.75])
    cz = _np(jr.choice(jr.key(904), 3, (N,), p=zero))
    assert not np.any(cz == 0)  # an entry of probability 0 is never drawn
    _near(np.mean(cz == 2), 0.75, math.sqrt(0.75 * 0.25 / N), what="p=0.75")


def test_choice_with_p_without_replacement() -> None:
    m = 5000
    picks = _np(fg.vmap(lambda k: jr.choice(k, 4, (2,), replace=False, p=P4))(
        jr.split(jr.key(905), m)))
    assert picks.shape == (m, 2)
    assert np.all(picks[:, 0] != picks[:, 1])
    # the first pick has probabilities p; the second sum_i p_i p_j / (1 - p_i), i != j
    _assert_chi2(np.bincount(picks[:, 0], minlength=4), P4, 3, "first pick")
    second = np.array([sum(P4[i] * P4[j] / (1 - P4[i]) for i in range(4) if i != j)
                       for j in range(4)])
    assert second.sum() == pytest.approx(1.0)
    _assert_chi2(np.bincount(picks[:, 1], minlength=4), second, 3, "second pick")
    # with zero-probability entries, those come last
    z = _np(jr.choice(jr.key(906), 4, (2,), replace=False, p=np.array([0.0, 0.5, 0.0, 0.5])))
    assert sorted(z.tolist()) == [1, 3]


# ---------------------------------------------------------------------------- transformations


def test_jit_traces_once_and_draws_new_numbers_for_each_key() -> None:
    @fg.jit
    def draw(k: Array) -> Array:
        return jr.uniform(k, (4,))

    keys = jr.split(jr.key(0), 5)
    outs = [_np(draw(k)) for k in keys]
    assert draw.trace_count == 1
    for k, out in zip(keys, outs):
        _same(out, jr.uniform(k, (4,)))  # not numbers baked in at trace time
    assert len(np.unique(np.concatenate(outs))) == 20
    _same(draw(jr.key(0)), jr.uniform(jr.key(0), (4,)))
    assert draw.trace_count == 1

    @fg.jit
    def split_and_draw(k: Array) -> tuple[Array, Array]:
        k, sub = jr.split(k)
        return k, jr.normal(sub, (3,))

    k = jr.key(4)
    seen = []
    for _ in range(4):
        k, z = split_and_draw(k)
        seen.append(_np(z))
    assert split_and_draw.trace_count == 1
    assert len(np.unique(np.concatenate(seen))) == 12


def test_grad_through_uniform_bounds() -> None:
    k = jr.key(1000)
    u = _np(jr.uniform(k, (10,)))

    def total(a: ArrayLike, b: ArrayLike) -> Array:
        return fnp.sum(jr.uniform(k, (10,), minval=a, maxval=b))

    ga, gb = fg.grad(total, argnums=(0, 1))(-1.0, 2.0)
    # sum(a + u (b - a)): d/da = sum(1 - u), d/db = sum(u)
    np.testing.assert_allclose(ga, np.sum(1 - u), rtol=1e-12)
    np.testing.assert_allclose(gb, np.sum(u), rtol=1e-12)
    check_grads(lambda a, b: jr.uniform(k, (10,), minval=a, maxval=b), (-1.0, 2.0), order=2)


def test_grad_through_normal_location_and_scale() -> None:
    z = _np(jr.normal(jr.key(1001), (10,)))

    def loss(mu: ArrayLike, sigma: ArrayLike, k: Array) -> Array:
        return fnp.sum((jr.normal(k, (10,)) * sigma + mu) ** 2)

    k = jr.key(1001)
    mu, sigma = 0.5, 2.0
    gmu, gsigma = fg.grad(loss, argnums=(0, 1))(mu, sigma, k)
    x = z * sigma + mu
    np.testing.assert_allclose(gmu, np.sum(2 * x), rtol=1e-12)
    np.testing.assert_allclose(gsigma, np.sum(2 * x * z), rtol=1e-12)
    # jitted, with the key a traced argument: one trace, the gradient of each key's draws
    jitted = fg.jit(fg.grad(loss, argnums=(0, 1)))
    for seed in (1001, 1002):
        kk = jr.key(seed)
        zz = _np(jr.normal(kk, (10,)))
        g = jitted(mu, sigma, kk)
        np.testing.assert_allclose(g[0], np.sum(2 * (zz * sigma + mu)), rtol=1e-12)
        np.testing.assert_allclose(g[1], np.sum(2 * (zz * sigma + mu) * zz), rtol=1e-12)
    assert jitted.trace_count == 1
    check_grads(lambda m, s: jr.normal(k, (5,)) * s + m, (mu, sigma), order=2)
    # per-key gradients under vmap
    keys = jr.split(k, 3)
    per_key = fg.vmap(fg.grad(loss, argnums=1), in_axes=(None, None, 0))(mu, sigma, keys)
    np.testing.assert_allclose(per_key, [fg.grad(loss, argnums=1)(mu, sigma, kk) for kk in keys],
                               rtol=1e-12)


def test_make_graph_shows_the_sampling_primitive_reading_the_key() -> None:
    k = jr.key(0)
    text = str(make_graph(lambda k: jr.uniform(k, (3,)))(k))
    assert text.splitlines()[0] == "graph(a:u32[2]) {"
    assert "b:f64[3] = random_uniform[shape=(3,), dtype=float64] a" in text
    assert "consts" not in text  # the key is an input, not a constant
    text = str(make_graph(lambda k: jr.normal(k, (3,)))(k))
    assert "= random_uniform[shape=(2, 3), dtype=float64] a" in text
    text = str(make_graph(lambda k: jr.split(k, 4))(k))
    assert "b:u32[4,2] = random_bits[" in text and text.splitlines()[1].endswith("] a")
    text = str(make_graph(jr.fold_in)(k, np.int64(3)))
    assert text.splitlines()[0] == "graph(a:u32[2], b:i64[]) {"
    assert "c:u32[2] = random_fold_in a b" in text
    text = str(make_graph(lambda k: jr.permutation(k, 5))(k))
    assert "random_permutation[n=5] a" in text
    text = str(make_graph(lambda k: jr.truncated_normal(k, -1.0, 1.0, (2,)))(k))
    assert "random_truncated_normal[" in text and text.splitlines()[1].endswith("] a")
    text = str(make_graph(lambda k: jr.choice(k, 4, (2,), replace=False, p=P4))(k))
    assert "= random_weighted_sample[count=2] a" in text


# ---------------------------------------------------------------------------- errors


BAD_KEYS: dict[str, NDArray[Any]] = {
    "shape (3,)": np.zeros(3, np.uint32),
    "shape ()": np.zeros((), np.uint32),
    "int32": np.zeros(2, np.int32),
    "float64": np.zeros(2, np.float64),
    "a batch of keys": np.zeros((4, 2), np.uint32),
}

KEY_USERS: dict[str, Sampler] = {
    "uniform": lambda k: jr.uniform(k, (2,)),
    "normal": lambda k: jr.normal(k, (2,)),
    "truncated_normal": lambda k: jr.truncated_normal(k, -1.0, 1.0, (2,)),
    "randint": lambda k: jr.randint(k, (2,), 0, 5),
    "permutation": lambda k: jr.permutation(k, 5),
    "choice_p_no_replace": lambda k: jr.choice(k, 4, (2,), replace=False, p=P4),
    "split": jr.split,
    "fold_in": lambda k: jr.fold_in(k, 1),
}


@pytest.mark.parametrize("bad", sorted(BAD_KEYS))
def test_a_bad_key_is_rejected_eagerly(bad: str) -> None:
    for name, f in KEY_USERS.items():
        with pytest.raises(TypeError, match="random key"):
            f(BAD_KEYS[bad])
            pytest.fail(f"{name} accepted a key of {bad}")


@pytest.mark.parametrize("bad", sorted(BAD_KEYS))
def test_a_bad_key_is_rejected_under_jit(bad: str) -> None:
    for f in KEY_USERS.values():
        with pytest.raises(TypeError, match="random key is a uint32 array of shape"):
            fg.jit(f)(BAD_KEYS[bad])


def test_a_batch_of_bad_keys_is_rejected_under_vmap() -> None:
    for f in KEY_USERS.values():
        with pytest.raises(TypeError, match="random key"):
            fg.vmap(f)(np.zeros((4, 3), np.uint32))


def test_a_traced_seed_is_refused() -> None:
    with pytest.raises(TypeError, match="fold_in"):
        fg.jit(jr.key)(np.int64(3))
    with pytest.raises(TypeError, match="concrete"):
        fg.vmap(jr.key)(np.arange(3))
    # the way to do it: fold the traced value into a key
    keys = fg.vmap(lambda s: jr.fold_in(jr.key(0), s))(np.arange(3))
    assert _np(keys).shape == (3, 2)


@pytest.mark.parametrize("lower, upper", [(1.0, 1.0), (2.0, -2.0), (0.0, -1e-9)])
def test_truncated_normal_needs_lower_below_upper(lower: float, upper: float) -> None:
    with pytest.raises(ValueError, match="lower"):
        jr.truncated_normal(jr.key(0), lower, upper, (3,))


@pytest.mark.parametrize("lo, hi", [(5, 5), (3, 1), (0, -10)])
def test_randint_needs_minval_below_maxval(lo: int, hi: int) -> None:
    with pytest.raises(ValueError, match="minval"):
        jr.randint(jr.key(0), (3,), lo, hi)


def test_choice_without_replacement_of_more_than_available() -> None:
    k = jr.key(0)
    with pytest.raises(ValueError, match="without replacement"):
        jr.choice(k, 3, (4,), replace=False)
    with pytest.raises(ValueError, match="without replacement"):
        jr.choice(k, np.arange(5.0), (2, 3), replace=False)
    with pytest.raises(ValueError, match="without replacement"):
        jr.choice(k, 4, (5,), replace=False, p=P4)
    with pytest.raises(ValueError, match="without replacement"):
        jr.choice(k, np.zeros((2, 3)), (4,), replace=False, axis=1)
    jr.choice(k, 3, (3,), replace=False)  # exactly all of them is fine


def test_samplers_need_a_floating_dtype() -> None:
    for f in (jr.uniform, jr.normal, jr.gumbel):
        with pytest.raises(TypeError, match="floating"):
            f(jr.key(0), (2,), np.int32)
