"""Random numbers from explicit keys, as jax.random.

A key is a uint32 array of shape (2,): `key(seed)`. The same key always gives the same
numbers (on every machine: they come from numpy's Philox, a counter-based generator,
through this module's own conversions to floats), and there is no hidden state: to draw
again, `split` the key and use the new ones; `fold_in` derives a key from a key and an
integer (a step number, a device index). Each sampler is built on primitives that take
the key as an operand, so sampling is traced, jitted (new numbers for each key passed in,
not numbers baked in at trace time) and vmapped over keys like any other operation.

Draws, splits and fold_ins of one key use separate Philox streams (a key's draws are not
its children's keys), but reusing a key for two draws gives the same numbers: split it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import numpy as fnp
from funcgrad.core import Array, ArrayLike, Primitive, ShapedArray, Tracer, user_location
from funcgrad.primitives.base import batch_each_example

__all__ = ["PRNGKey", "bernoulli", "categorical", "choice", "fold_in", "gumbel", "key",
           "normal", "permutation", "randint", "split", "truncated_normal", "uniform"]

Shape = Sequence[int]

_SAMPLES, _SPLIT, _FOLD_IN = 0, 1, 2  # stream tags: a key's draws, its children, fold_in
_UINT32 = np.dtype(np.uint32)


def _check_key(shape: Sequence[int], dtype: Any) -> None:
    if tuple(shape) != (2,) or np.dtype(dtype) != _UINT32:
        raise TypeError("a random key is a uint32 array of shape (2,) made by "
                        "funcgrad.random.key(seed) or split, got "
                        f"{ShapedArray(tuple(shape), np.dtype(dtype))}" + user_location())


def _philox(key: Any, stream: int) -> np.random.Philox:
    k = np.asarray(key)
    _check_key(k.shape, k.dtype)
    return np.random.Philox(key=(stream << 64) | (int(k[0]) << 32) | int(k[1]))


def _raw(key: Any, count: int, stream: int) -> np.ndarray[Any, Any]:
    raw: np.ndarray[Any, Any] = _philox(key, stream).random_raw(count)
    return raw


def _bits(key: Any, *, shape: tuple[int, ...], stream: int) -> np.ndarray[Any, Any]:
    n = int(np.prod(shape, dtype=np.int64))
    return _raw(key, (n + 1) // 2, stream).view(np.uint32)[:n].reshape(shape)


def _uniform01(key: Any, *, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Any:
    # As many top bits of each 64-bit draw as the dtype's significand holds (53 for
    # float64, 24 for float32, 11 for float16), scaled into [0, 1): every value is exact
    # in the dtype, so none rounds up to 1.
    bits = np.finfo(dtype).nmant + 1
    raw = _raw(key, int(np.prod(shape, dtype=np.int64)), _SAMPLES)
    scaled = (raw >> np.uint64(64 - bits)).astype(np.float64) * 2.0 ** -bits
    return scaled.astype(dtype).reshape(shape)


def _normal(raw: np.ndarray[Any, Any]) -> Any:
    """Standard normals from pairs of 64-bit draws (Box-Muller)."""
    u = (raw >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    half = len(u) // 2
    return np.sqrt(-2.0 * np.log1p(-u[:half])) * np.cos(2.0 * np.pi * u[half:2 * half])


def _truncated_normal(key: Any, *, lower: float, upper: float, shape: tuple[int, ...],
                      dtype: np.dtype[Any]) -> Any:
    # Proposals from the key's stream, in rounds, until enough fall inside the interval.
    n = int(np.prod(shape, dtype=np.int64))
    generator = _philox(key, _SAMPLES)
    kept: list[Any] = []
    while sum(len(k) for k in kept) < n:
        z = _normal(generator.random_raw(2 * max(n, 64)))
        kept.append(z[(z > lower) & (z < upper)])
    return np.concatenate(kept)[:n].reshape(shape).astype(dtype)


def _weighted_sample(key: Any, p: Any, *, count: int) -> Any:
    # Without replacement, with probabilities p: the count largest of log p + Gumbel noise.
    u = (_raw(key, len(p), _SAMPLES) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    with np.errstate(divide="ignore"):
        scores = np.log(p) - np.log(-np.log(np.maximum(u, np.finfo(np.float64).tiny)))
    return np.argsort(-scores, kind="stable")[:count]


def _permutation(key: Any, *, n: int) -> Any:
    return np.argsort(_raw(key, n, _SAMPLES), kind="stable")


def _fold_in(key: Any, data: Any) -> Any:
    stream = (_FOLD_IN << 32) | (int(data) & 0xFFFFFFFF)
    return _raw(key, 1, stream).view(np.uint32)


def _sampled(shape: tuple[int, ...], dtype: DTypeLike) -> Any:
    """The shape rule of a primitive drawing `shape` values of `dtype` from a key."""
    def rule(k: Any, *others: Any, **params: Any) -> ShapedArray:
        _check_key(k.shape, k.dtype)
        return ShapedArray(shape, np.dtype(dtype))
    return rule


def _primitive(name: str, impl: Any, shape_rule: Any, n_args: int = 1) -> Primitive:
    # Each key is its own stream, so a batch of keys draws once per key.
    return Primitive(name, impl, shape_rule, (None,) * n_args, batch_each_example)


random_bits_p = _primitive(
    "random_bits", _bits, lambda k, *, shape, stream: _sampled(shape, _UINT32)(k))
uniform01_p = _primitive(
    "random_uniform", _uniform01, lambda k, *, shape, dtype: _sampled(shape, dtype)(k))
permutation_p = _primitive(
    "random_permutation", _permutation, lambda k, *, n: _sampled((n,), np.intp)(k))
fold_in_p = _primitive("random_fold_in", _fold_in, _sampled((2,), _UINT32), n_args=2)
weighted_sample_p = _primitive(
    "random_weighted_sample", _weighted_sample,
    lambda k, p, *, count: _sampled((count,), np.intp)(k), n_args=2)
truncated_normal_p = _primitive(
    "random_truncated_normal", _truncated_normal,
    lambda k, *, lower, upper, shape, dtype: _sampled(shape, dtype)(k))


# ---------------------------------------------------------------------------- keys


def key(seed: int | ArrayLike) -> Array:
    """A key from an integer seed (any Python int; the same seed, the same numbers)."""
    if isinstance(seed, Tracer):
        raise TypeError("random.key: the seed must be a concrete integer; derive keys from "
                        "traced values with fold_in(key, value)" + user_location())
    s = int(np.asarray(seed)) & 0xFFFFFFFFFFFFFFFF
    return np.array([s >> 32, s & 0xFFFFFFFF], np.uint32)


PRNGKey = key


def split(key: Array, num: int = 2) -> Array:
    """num new keys, shape (num, 2), independent of each other and of key's own draws."""
    return random_bits_p.bind(key, shape=(int(num), 2), stream=_SPLIT)


def fold_in(key: Array, data: ArrayLike) -> Array:
    """A new key from key and an integer (which may be traced, e.g. a step number)."""
    return fold_in_p.bind(key, fnp.astype(data, np.int64))


# ---------------------------------------------------------------------------- samplers


def _float(dtype: DTypeLike) -> np.dtype[Any]:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"random: a floating-point dtype is needed, got {dt.name}")
    return dt


def uniform(key: Array, shape: Shape = (), dtype: DTypeLike = np.float64,
            minval: ArrayLike = 0.0, maxval: ArrayLike = 1.0) -> Array:
    """Uniform floats in [minval, maxval)."""
    u = uniform01_p.bind(key, shape=tuple(shape), dtype=_float(dtype))
    if isinstance(minval, float) and isinstance(maxval, float) and (minval, maxval) == (0, 1):
        return u
    return fnp.astype(u * (fnp.astype(maxval, dtype) - fnp.astype(minval, dtype))
                      + fnp.astype(minval, dtype), dtype)


def normal(key: Array, shape: Shape = (), dtype: DTypeLike = np.float64) -> Array:
    """Standard normal floats (Box-Muller on two uniform draws)."""
    dt = _float(dtype)
    u = uniform01_p.bind(key, shape=(2, *shape), dtype=np.dtype(np.float64))
    radius = fnp.sqrt(-2.0 * fnp.log1p(-u[0]))  # 1 - u lies in (0, 1]: no log(0)
    return fnp.astype(radius * fnp.cos(2.0 * np.pi * u[1]), dt)


def truncated_normal(key: Array, lower: float, upper: float, shape: Shape = (),
                     dtype: DTypeLike = np.float64) -> Array:
    """Standard normal floats conditioned on lower < x < upper (by rejection, so a
    function of the key alone)."""
    lo, hi = float(lower), float(upper)
    if not lo < hi:
        raise ValueError(f"truncated_normal: lower ({lo}) must be below upper ({hi})")
    mass = 0.5 * (math.erf(hi / math.sqrt(2.0)) - math.erf(lo / math.sqrt(2.0)))
    if mass < 1e-6:
        raise ValueError(f"truncated_normal: the interval ({lo}, {hi}) holds too little of "
                         "the normal's mass to sample by rejection")
    return truncated_normal_p.bind(key, lower=lo, upper=hi, shape=tuple(shape),
                                   dtype=_float(dtype))


def gumbel(key: Array, shape: Shape = (), dtype: DTypeLike = np.float64) -> Array:
    """Standard Gumbel floats: -log(-log(u))."""
    u = uniform01_p.bind(key, shape=tuple(shape), dtype=_float(dtype))
    tiny = np.finfo(_float(dtype)).tiny
    return -fnp.log(-fnp.log(fnp.maximum(u, tiny)))


def bernoulli(key: Array, p: ArrayLike = 0.5, shape: Shape | None = None) -> Array:
    """Booleans, True with probability p (shape: p's by default)."""
    dims = tuple(fnp.shape(p)) if shape is None else tuple(shape)
    return fnp.less(uniform01_p.bind(key, shape=dims, dtype=np.dtype(np.float64)), p)


def categorical(key: Array, logits: ArrayLike, axis: int = -1,
                shape: Shape | None = None) -> Array:
    """Indices drawn with probabilities softmax(logits) along axis (the Gumbel-max trick)."""
    dims = tuple(fnp.shape(logits))
    axis %= len(dims)
    batch = dims[:axis] + dims[axis + 1:]
    out = batch if shape is None else tuple(shape)
    noise = gumbel(key, (*out[:len(out) - len(batch)], *dims), np.float64)
    return fnp.argmax(fnp.astype(logits, np.float64) + noise,
                      axis=len(out) - len(batch) + axis)


def randint(key: Array, shape: Shape, minval: int, maxval: int,
            dtype: DTypeLike = np.int64) -> Array:
    """Uniform integers in [minval, maxval)."""
    lo, hi = int(minval), int(maxval)
    if not lo < hi:
        raise ValueError(f"randint: minval ({lo}) must be below maxval ({hi})")
    u = uniform01_p.bind(key, shape=tuple(shape), dtype=np.dtype(np.float64))
    return fnp.astype(fnp.astype(u * (hi - lo), np.int64) + lo, dtype)


def permutation(key: Array, x: int | ArrayLike, axis: int = 0) -> Array:
    """A random permutation of range(x) (an int), or of x's entries along axis."""
    if isinstance(x, (int, np.integer)):
        return permutation_p.bind(key, n=int(x))
    n = fnp.shape(x)[axis]
    index: list[Any] = [slice(None)] * fnp.ndim(x)
    index[axis] = permutation_p.bind(key, n=n)
    return fnp.getitem(x, tuple(index))


def choice(key: Array, a: int | ArrayLike, shape: Shape = (), replace: bool = True,
           p: ArrayLike | None = None, axis: int = 0) -> Array:
    """Entries of a (or of range(a)) drawn along axis, with or without replacement, with
    probabilities p (uniform by default)."""
    n = int(a) if isinstance(a, (int, np.integer)) else fnp.shape(a)[axis]
    dims = tuple(shape)
    count = int(np.prod(dims, dtype=np.int64))
    if not replace and count > n:
        raise ValueError(f"choice: {count} draws without replacement from {n} entries")
    if p is None and replace:
        picked = randint(key, dims, 0, n)
    elif p is None:
        picked = fnp.reshape(permutation_p.bind(key, n=n)[:count], dims)
    elif replace:
        with np.errstate(divide="ignore"):  # p == 0 gives a -inf logit: never drawn
            logits = fnp.log(p)
        picked = categorical(key, logits, shape=dims)
    else:
        picked = fnp.reshape(weighted_sample_p.bind(key, fnp.astype(p, np.float64),
                                                    count=count), dims)
    if isinstance(a, (int, np.integer)):
        return picked
    index: list[Any] = [slice(None)] * fnp.ndim(a)
    index[axis] = picked
    return fnp.getitem(a, tuple(index))
