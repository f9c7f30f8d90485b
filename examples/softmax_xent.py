"""Tasks 40 and 41: cross-entropy and softmax, and why -log softmax is computed as one piece.

Five animals with one-hot labels (dog, cat, horse, eagle, cow), natural log throughout.
Task 40 evaluates the cross-entropy of two predictions for a dog image; task 41 applies
softmax to three rows of logits, computes their cross-entropies with funcgrad.nn, and
shows that -log softmax(z)_i = -z_i + logsumexp(z): its gradient (from funcgrad.grad)
is softmax(z) - onehot(i), and unlike softmax-then-log it stays finite for huge logits.

    python examples/softmax_xent.py [--out out/] [--quick] [--seed 0]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import common
import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.nn import cross_entropy, log_softmax, logsumexp, one_hot, softmax

Array = npt.NDArray[np.float64]

ANIMALS = ("dog", "cat", "horse", "eagle", "cow")

P_DOG: Array = np.eye(5)[0]
"""The label of a dog image, one-hot."""
Q1: Array = np.array([0.45, 0.25, 0.03, 0.07, 0.2])
"""Task 40: the network's output early in training."""
Q2: Array = np.array([0.97, 0.01, 0.003, 0.007, 0.01])
"""Task 40: the output after more training."""

LOGITS: Array = np.array([[6.0, 5.0, 2.0, 3.0, 1.0],
                          [4.0, 3.0, 8.0, 1.0, -2.0],
                          [4.0, 4.0, 1.0, -1.0, 0.0]])
"""Task 41: the network's linear outputs z, one image per row."""
LABELS: npt.NDArray[np.int64] = np.array([1, 2, 2])
"""Task 41: the true classes of the rows (cat, horse, horse)."""

HUGE_LOGITS: Array = np.array([1000.0, 0.0, -1000.0])
"""Logits for which softmax-then-log breaks down in floating point."""

# The sheet's values (rounded to 6 decimals), for comparison in the printed tables.
EXPECTED_H_Q1, EXPECTED_H_Q2 = 0.798508, 0.030459
EXPECTED_SOFTMAX = np.array([[0.693135, 0.254990, 0.012695, 0.034509, 0.004670],
                             [0.017851, 0.006567, 0.974649, 0.000889, 0.000044],
                             [0.481965, 0.481965, 0.023996, 0.003247, 0.008827]])
EXPECTED_XENT = np.array([1.366530, 0.025678, 3.729884])


def entropy(p: Array) -> float:
    """H(P) = -sum_i P(i) log P(i), with 0 log 0 = 0 (nats)."""
    p = np.asarray(p, dtype=np.float64)
    nz = p > 0
    return float(-np.sum(p[nz] * np.log(p[nz]))) + 0.0


def cross_entropy_of(p: Array, q: Array) -> float:
    """H(P, Q) = -sum_i P(i) log Q(i) for two probability vectors (nats)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    nz = p > 0
    return float(-np.sum(p[nz] * np.log(q[nz])))


def softmax_rows(logits: Array) -> Array:
    """softmax of each row of logits, by funcgrad.nn.softmax."""
    return np.asarray(softmax(logits, axis=-1))


def cross_entropies(logits: Array, labels: npt.NDArray[np.int64]) -> Array:
    """Cross-entropy of each row against its integer label, by funcgrad.nn.cross_entropy."""
    return np.array([float(cross_entropy(logits[i:i + 1], labels[i:i + 1]))
                     for i in range(len(labels))])


def nll(z: Any, label: int) -> Any:
    """The per-example loss -log softmax(z)_label, traceable (funcgrad.nn.log_softmax)."""
    return fnp.negative(log_softmax(z)[label])


def nll_simplified(z: Any, label: int) -> Any:
    """The same loss in its simplified form -z_label + logsumexp(z)."""
    return fnp.add(fnp.negative(fnp.asarray(z)[label]), logsumexp(z))


def nll_gradient(z: Array, label: int) -> Array:
    """d/dz of -log softmax(z)_label, computed by funcgrad.grad."""
    return np.asarray(fg.grad(nll)(np.asarray(z, dtype=np.float64), label))


def gradient_formula(z: Array, label: int) -> Array:
    """The closed form of that gradient: softmax(z) - onehot(label)."""
    return np.asarray(softmax(z)) - np.asarray(one_hot(label, len(z), dtype=np.float64), dtype=np.float64)


def naive_nll(z: Array, label: int) -> float:
    """-log(exp(z_label) / sum(exp(z))) in plain numpy without any shift: overflows."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(np.asarray(z, dtype=np.float64))
        return float(-np.log(e[label] / np.sum(e)))


def _plot(probs: Array, labels: npt.NDArray[np.int64], out: Path) -> None:
    plt = common.plt
    fig, axes = plt.subplots(1, len(probs), figsize=(4 * len(probs), 3.6), sharey=True,
                             layout="constrained")
    for r, ax in enumerate(axes):
        colors = ["tab:green" if c == labels[r] else "tab:gray" for c in range(len(ANIMALS))]
        bars = ax.bar(ANIMALS, probs[r], color=colors)
        ax.bar_label(bars, [f"{v:.3f}" for v in probs[r]], fontsize=8)
        ax.set_title(f"z = {_fmt(LOGITS[r], 'g')}\ntrue class: {ANIMALS[labels[r]]} (green)")
        ax.set_ylim(0, 1.1)
    axes[0].set_ylabel("softmax(z)")
    fig.suptitle("Task 41: softmax outputs against the labels")
    common.save_figure(fig, out, "softmax_xent.png")


def main(argv: Sequence[str] | None = None) -> None:
    """Run tasks 40 and 41 and print their tables."""
    args = common.make_parser(__doc__ or "").parse_args(argv)

    common.section("Task 40: cross-entropy H(P, Q) = -sum_i P(i) ln Q(i) for a dog image")
    common.print_table(
        ["output", "Q", "predicted", "Q(dog)", "H(P, Q)", "sheet"],
        [["Q1", _fmt(Q1, "g"), ANIMALS[int(np.argmax(Q1))], float(Q1[0]),
          cross_entropy_of(P_DOG, Q1), EXPECTED_H_Q1],
         ["Q2", _fmt(Q2, "g"), ANIMALS[int(np.argmax(Q2))], float(Q2[0]),
          cross_entropy_of(P_DOG, Q2), EXPECTED_H_Q2]])
    common.explain(f"""
        With a one-hot P only the true class counts: H(P, Q) = -ln Q(dog). Q1 already
        puts its largest probability on "dog", so the argmax is right, but with 0.45 the
        network is unsure (0.25 on cat), and the loss -ln 0.45 = {cross_entropy_of(P_DOG, Q1):.6f}
        is still large: the gradient keeps pushing Q(dog) up. After more training Q2 gives
        0.97 and the loss drops to {cross_entropy_of(P_DOG, Q2):.6f}: the network is now right
        and confident. Accuracy cannot tell Q1 and Q2 apart; the cross-entropy can.

        Entropy H(P) = -sum P ln P is the expected code length (in nats; divide by ln 2 for
        bits) of messages drawn from P with the best code for P. Cross-entropy H(P, Q) is
        the expected length when the code is built for Q instead: H(P, Q) = H(P) +
        KL(P || Q) >= H(P), with equality only if Q = P. So it measures how far the
        predicted distribution Q is from the true one P. Here H(P) = {entropy(P_DOG):g} (the
        label is certain), so the loss is exactly KL(P || Q). Minimising it over a data
        set is maximum likelihood for the labels, it rewards confident correct outputs
        and punishes confident wrong ones without bound, and combined with softmax its
        gradient is simple and never vanishes for a wrong answer (unlike squared error on
        probabilities). That is why it is the classification loss.""")

    common.section("Task 41: softmax(z)_i = exp(z_i) / sum_j exp(z_j), by funcgrad.nn.softmax")
    probs = softmax_rows(LOGITS)
    common.print_table(
        ["image", "z"] + list(ANIMALS) + ["max |diff to sheet|"],
        [[ANIMALS[LABELS[r]], _fmt(LOGITS[r], "g")] + [float(p) for p in probs[r]]
         + [f"{np.max(np.abs(probs[r] - EXPECTED_SOFTMAX[r])):.1e}"] for r in range(len(LABELS))])
    xent = cross_entropies(LOGITS, LABELS)
    common.print_table(
        ["image", "predicted", "softmax(z)_true", "cross-entropy", "sheet"],
        [[ANIMALS[LABELS[r]], ANIMALS[int(np.argmax(LOGITS[r]))], float(probs[r, LABELS[r]]),
          float(xent[r]), float(EXPECTED_XENT[r])] for r in range(len(LABELS))])
    common.explain("""
        Row 1 (a cat) is classified as a dog: the loss 1.37 is large. Row 2 (a horse) is
        right and confident: 0.026. Row 3 (a horse) puts only 2.4% on horse and 48% each on
        dog and cat: the largest loss, 3.73.""")

    common.section("Simplifying -log softmax(z)_i")
    print("  -log softmax(z)_i = -log( exp(z_i) / sum_j exp(z_j) )\n"
          "                    = -log exp(z_i) + log sum_j exp(z_j)\n"
          "                    = -z_i + logsumexp(z)\n"
          "  d/dz_k            = -[k = i] + exp(z_k) / sum_j exp(z_j) = softmax(z)_k - onehot(i)_k\n")
    rows = []
    for r in range(len(LABELS)):
        z, i = LOGITS[r], int(LABELS[r])
        g = nll_gradient(z, i)
        rows.append([ANIMALS[i], float(nll(z, i)), float(nll_simplified(z, i)),
                     _fmt(g, ".4f"), f"{np.max(np.abs(g - gradient_formula(z, i))):.1e}"])
    common.print_table(["image", "-log softmax(z)_i", "-z_i + logsumexp(z)",
                        "grad from fg.grad", "max |grad - (softmax - onehot)|"], rows)
    common.explain("""
        The loss is linear in the correct logit and needs no exp or log of tiny numbers;
        logsumexp(z) = m + log sum_j exp(z_j - m) with m = max(z) never overflows. Its
        gradient softmax(z) - onehot(i) lies in [-1, 1] in every component: it neither
        explodes nor vanishes while the prediction is wrong (for the correct logit it is
        softmax(z)_i - 1, close to -1 when the network is badly wrong).""")

    common.section(f"Large logits z = {_fmt(HUGE_LOGITS, 'g')}: naive versus stable")
    rows = []
    for i in range(len(HUGE_LOGITS)):
        rows.append([i, naive_nll(HUGE_LOGITS, i), float(nll(HUGE_LOGITS, i)),
                     float(nll_simplified(HUGE_LOGITS, i)), _fmt(nll_gradient(HUGE_LOGITS, i), "g")])
    common.print_table(["label i", "naive softmax then log", "-log_softmax (funcgrad)",
                        "-z_i + logsumexp(z)", "gradient (fg.grad)"], rows, digits=1)
    common.explain("""
        The naive route computes exp(1000) = inf in float64: inf / inf = nan for label 0,
        and exp(0) / inf = 0, then -log 0 = inf for labels 1 and 2. The simplified form
        gives the exact losses 0, 1000 and 2000, and the gradient stays finite and in
        [-1, 1]. That is why libraries provide log_softmax / cross-entropy on logits rather
        than softmax followed by log.""")

    _plot(probs, LABELS, args.out)


def _fmt(v: Any, spec: str = ".6f") -> str:
    return "[" + ", ".join(f"{float(a) + 0.0:{spec}}" for a in np.asarray(v).reshape(-1)) + "]"


if __name__ == "__main__":
    main(sys.argv[1:])
