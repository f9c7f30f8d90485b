"""Every alternation of grad, jit, vmap and jvp up to depth 4, checked against the same
composition without jit.

`jit` turns a function into a call primitive, and every other transformation handles that
primitive by a rule of its own (its VJP, its JVP, its batching rule) instead of tracing
through the body. A wrong rule, or a rule that loses track of which trace a value belongs
to, shows up only in some nesting orders: a past bug made
`grad(jit(grad(jit(grad(tanh)))))(2.0)` return the second derivative of tanh instead of the
third. So this file enumerates the nestings exhaustively.

Each transformation below maps a scalar -> scalar function g to another one:

    D(g) = grad(g)                                 reverse-mode derivative
    F(g) = x -> jvp(g, (x,), (1,))[1]              forward-mode derivative
    V(g) = x -> sum(vmap(g)(x * [1, 0.5, -0.25]))  batched, folded back to a scalar
    J(g) = jit(g)

For every word over {D, F, V, J} of length 1 to 4 (4 + 16 + 64 + 256 of them), the word
applied to a base function is compared with the same word with every J removed (the plain
composition, traced without any call primitive); a word made only of J's is compared with
the base function itself. Words read like compositions: "J-D-V-F" is J(D(V(F(g)))).
The base functions are tanh and a function mixing several primitives. The jit-free
references are themselves checked, on tanh, against a closed form computed in numpy
(derivatives of tanh as polynomials in tanh). The only hard-coded numbers are the
hand-computed second and third derivatives of tanh at 2.0, checked through several
orderings of the transformations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

ScalarFn = Callable[[Any], Any]

RTOL = 1e-10
ATOL = 1e-12

# vmap's batch: the scalar input scaled by these factors, so that every lane differs
BATCH_SCALES = np.array([1.0, 0.5, -0.25])

# evaluation points: a Python float and a 0-d float64 array
POINTS: tuple[Any, ...] = (0.3, np.array(1.7))


def D(g: ScalarFn) -> ScalarFn:
    """Reverse-mode derivative."""
    return fg.grad(g)


def F(g: ScalarFn) -> ScalarFn:
    """Forward-mode derivative: the JVP with a unit tangent of x's shape and dtype."""

    def forward(x: Any) -> Any:
        return fg.jvp(g, (x,), (fnp.ones_like(x),))[1]

    return forward


def V(g: ScalarFn) -> ScalarFn:
    """g mapped over a batch of scaled copies of x, summed back to a scalar."""

    def batched(x: Any) -> Any:
        return fnp.sum(fg.vmap(g)(x * BATCH_SCALES))

    return batched


def J(g: ScalarFn) -> ScalarFn:
    """g compiled into a call primitive."""
    return fg.jit(g)


TRANSFORMS: dict[str, Callable[[ScalarFn], ScalarFn]] = {"D": D, "F": F, "V": V, "J": J}


def mixed(x: Any) -> Any:
    """A base function mixing several primitives (sin, exp, mul, neg, pow, add)."""
    return fnp.sin(x) * fnp.exp(-x * x) + x ** 3


BASES: dict[str, ScalarFn] = {"tanh": fnp.tanh, "mixed": mixed}

WORDS: list[str] = ["".join(w) for n in range(1, 5) for w in itertools.product("DFVJ", repeat=n)]


def apply_word(word: str, g: ScalarFn, *, use_jit: bool = True) -> ScalarFn:
    """The word applied to g, its rightmost letter innermost; J's are skipped without use_jit."""
    for letter in reversed(word):
        if letter == "J" and not use_jit:
            continue
        g = TRANSFORMS[letter](g)
    return g


def word_id(word: str) -> str:
    return "-".join(word)


def test_word_count() -> None:
    assert len(WORDS) == 4 + 16 + 64 + 256
    assert len(set(WORDS)) == len(WORDS)


@pytest.mark.parametrize("base_name", list(BASES))
@pytest.mark.parametrize("word", WORDS, ids=word_id)
def test_nesting_matches_plain_composition(word: str, base_name: str) -> None:
    base = BASES[base_name]
    transformed = apply_word(word, base)
    plain = apply_word(word, base, use_jit=False)
    for x in POINTS:
        got = transformed(x)
        want = plain(x)
        assert np.shape(got) == (), f"{word_id(word)} at {x}: shape {np.shape(got)}"
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL,
                                   err_msg=f"{word_id(word)}({base_name}) at x={x!r}")


# ------------------------------------------------- the plain compositions, against a formula

def tanh_derivative(k: int, y: Any) -> Any:
    """The k-th derivative of tanh at y: a polynomial in t = tanh(y), built with
    P_0 = t, P_{k+1} = P_k'(t) (1 - t^2)."""
    poly = np.polynomial.Polynomial([0.0, 1.0])
    for _ in range(k):
        poly = poly.deriv() * np.polynomial.Polynomial([1.0, 0.0, -1.0])
    return poly(np.tanh(y))


def closed_form(word: str, x: float) -> float:
    """A jit-free word applied to tanh, in numpy: the value is a sum of terms
    coef * tanh^(k)(scale * x); D and F differentiate each term, V splits each term into one
    per batch lane."""
    terms = [(1.0, 0, 1.0)]
    for letter in reversed(word):
        if letter in "DF":
            terms = [(c * s, k + 1, s) for c, k, s in terms]
        elif letter == "V":
            terms = [(c, k, s * float(b)) for c, k, s in terms for b in BATCH_SCALES]
    return float(sum(c * tanh_derivative(k, s * x) for c, k, s in terms))


@pytest.mark.parametrize("word", [w for w in WORDS if "J" not in w], ids=word_id)
def test_plain_composition_matches_closed_form(word: str) -> None:
    """The reference the jitted words are compared with is itself right."""
    for x in (0.3, 1.7):
        np.testing.assert_allclose(apply_word(word, fnp.tanh, use_jit=False)(x),
                                   closed_form(word, x), rtol=1e-9, atol=1e-12,
                                   err_msg=f"{word_id(word)}(tanh) at x={x!r}")


# ------------------------------------------------------------------ hand-computed tanh values

TANH_D2_AT_2 = -0.13621868742711296  # -2 t (1 - t^2), t = tanh(2)
TANH_D3_AT_2 = 0.2526540650980626    # (1 - t^2)(6 t^2 - 2)


@pytest.mark.parametrize("x", [-1.3, 0.0, 0.3, 2.0])
@pytest.mark.parametrize("word", ["D", "F", "DJ", "JD", "FJ", "JF", "JDJ", "JFJ"],
                         ids=word_id)
def test_first_derivative_of_tanh(word: str, x: float) -> None:
    np.testing.assert_allclose(apply_word(word, fnp.tanh)(x), 1.0 - np.tanh(x) ** 2,
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("word", ["DD", "FF", "DF", "FD", "DJD", "JDD", "DDJ", "FJF", "DJF",
                                  "FJD", "JDJDJ", "JFJFJ"], ids=word_id)
def test_second_derivative_of_tanh(word: str) -> None:
    np.testing.assert_allclose(apply_word(word, fnp.tanh)(2.0), TANH_D2_AT_2,
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("word", ["DDD", "FFF", "DJDJD", "JDJDJD", "FJFJF", "DJFJD",
                                  "FJDJF", "DFD", "FDF", "JDDD", "DDDJ", "JFDJD"],
                         ids=word_id)
def test_third_derivative_of_tanh(word: str) -> None:
    np.testing.assert_allclose(apply_word(word, fnp.tanh)(2.0), TANH_D3_AT_2,
                               rtol=RTOL, atol=ATOL)


def test_reported_regression() -> None:
    """The ordering of the past bug, written out in full."""
    f = fg.grad(fg.jit(fg.grad(fg.jit(fg.grad(fnp.tanh)))))
    np.testing.assert_allclose(f(2.0), TANH_D3_AT_2, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------------------- make_graph

@pytest.mark.parametrize("word", [w for w in WORDS if len(w) == 2], ids=word_id)
def test_make_graph_of_depth_two(word: str) -> None:
    graph = fg.make_graph(apply_word(word, fnp.tanh))(0.3)
    text = str(graph)
    if "J" in word:
        assert "call[" in text, f"{word_id(word)}: no call primitive in\n{text}"
    # the traced graph computes the same value as the function it was traced from
    np.testing.assert_allclose(graph(0.3), apply_word(word, fnp.tanh, use_jit=False)(0.3),
                               rtol=RTOL, atol=ATOL)
