"""Task 39: visualising weights by gradient ascent on the input, and xW as a convolution.

f(x) = relu(xW) with the sheet's 5x4 matrix W. Gradient ascent from x = 0 on the
pre-activation (xW)_1 moves x along the weight column W[:, 1]; the same ascent on
relu((xW)_1) never starts, because relu'(0) = 0. Every column of W is the kernel (1, -1)
shifted by one row, so xW is a 1-D convolution written as a matrix product.

    python examples/ascent.py [--out out/] [--quick] [--seed 0]
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

import common
import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.nn import conv2d, relu

Vector = npt.NDArray[np.float64]

W: Vector = np.array([[1, 0, 0, 0],
                      [-1, 1, 0, 0],
                      [0, -1, 1, 0],
                      [0, 0, -1, 1],
                      [0, 0, 0, -1]], dtype=np.float64)
"""The sheet's weight matrix (5 inputs, 4 units)."""

KERNEL: Vector = np.array([1.0, -1.0])
"""The 1-D kernel that every column of W is a shifted copy of."""

UNIT = 1
"""The unit to maximise: the second column, 0-based index 1."""


def preactivation(x: Any, unit: int = UNIT) -> Any:
    """(xW)_unit: the unit's input before the ReLU."""
    return fnp.matmul(x, W)[unit]


def activation(x: Any, unit: int = UNIT) -> Any:
    """relu((xW)_unit): the unit's output."""
    return relu(preactivation(x, unit))


def gradient_ascent(f: Callable[[Any], Any], x0: Vector, lr: float = 1.0,
                    steps: int = 2) -> list[Vector]:
    """x_{t+1} = x_t + lr * grad f(x_t); returns [x_0, x_1, ..., x_steps]."""
    df = fg.grad(f)
    xs = [np.asarray(x0, dtype=np.float64)]
    for _ in range(steps):
        xs.append(xs[-1] + lr * np.asarray(df(xs[-1])))
    return xs


def conv_matrix(kernel: Vector, n_inputs: int) -> Vector:
    """The (n_inputs, n_inputs - len(kernel) + 1) matrix whose product is a valid 1-D conv."""
    n_out = n_inputs - len(kernel) + 1
    m = np.zeros((n_inputs, n_out))
    for j in range(n_out):
        m[j:j + len(kernel), j] = kernel
    return m


def conv1d_via_conv2d(x: Vector, kernel: Vector) -> Vector:
    """Valid 1-D cross-correlation of x with kernel, computed by funcgrad.nn.conv2d."""
    y = conv2d(np.reshape(x, (1, 1, 1, -1)), np.reshape(kernel, (1, 1, 1, -1)))
    return np.asarray(y).reshape(-1)


def _plot(xs: Sequence[Vector], out: Any) -> None:
    plt = common.plt
    fig, (ax_w, ax_x) = plt.subplots(1, 2, figsize=(10, 4))
    im = ax_w.imshow(W, cmap="coolwarm", vmin=-1.5, vmax=1.5)
    for (i, j), v in np.ndenumerate(W):
        ax_w.text(j, i, f"{v + 0.0:g}", ha="center", va="center")
    ax_w.set_xticks(range(4), [f"unit {j}" for j in range(4)])
    ax_w.set_yticks(range(5), [f"x{i + 1}" for i in range(5)])
    ax_w.set_title("W: every column is the kernel (+1, -1), shifted")
    fig.colorbar(im, ax=ax_w, shrink=0.8)
    width = 0.8 / len(xs)
    for t, x in enumerate(xs):
        label = f"x after step {t}" if t else "x0 = 0"
        ax_x.bar(np.arange(5) + (t - (len(xs) - 1) / 2) * width, x, width, label=label)
    ax_x.axhline(0, color="black", linewidth=0.8)
    ax_x.set_xticks(range(5), [f"x{i + 1}" for i in range(5)])
    ax_x.set_title(f"gradient ascent on (xW)_{UNIT}, lr 1")
    ax_x.legend()
    common.save_figure(fig, out, "ascent.png")


def main(argv: Sequence[str] | None = None) -> None:
    """Run task 39 and print its tables."""
    args = common.make_parser(__doc__ or "").parse_args(argv)
    x0 = np.zeros(5)

    common.section(f"Task 39: gradient ascent on the pre-activation (xW)_{UNIT}, lr 1, from x = 0")
    xs = gradient_ascent(preactivation, x0, lr=1.0, steps=2)
    grads = [np.asarray(fg.grad(preactivation)(x)) for x in xs[:-1]] + [None]
    common.print_table(
        ["step", "x", f"(xW)_{UNIT}", "gradient at x"],
        [[t, _fmt(x), float(preactivation(x)), "" if g is None else _fmt(g)]
         for t, (x, g) in enumerate(zip(xs, grads))])
    common.explain(f"""
        The gradient of (xW)_{UNIT} with respect to x is the column W[:, {UNIT}] =
        {_fmt(W[:, UNIT])}, the same at every x, so two steps of size 1 give
        x = {_fmt(xs[-1])}. The input that excites a unit most (for a fixed norm) is its
        own weight vector: gradient ascent on the input "visualises the weights". In a
        deep network the gradient changes with x, and the same procedure shows the
        pattern a neuron responds to.""")

    common.section(f"The same ascent on the activation relu((xW)_{UNIT})")
    dead = gradient_ascent(activation, x0, lr=1.0, steps=2)
    common.print_table(["step", "x", f"relu((xW)_{UNIT})", "gradient at x"],
                       [[t, _fmt(x), float(activation(x)), _fmt(np.asarray(fg.grad(activation)(x)))]
                        for t, x in enumerate(dead)])
    common.explain("""
        A dead start: at x = 0 the pre-activation is exactly 0, and funcgrad (like JAX and
        PyTorch) defines relu'(0) = 0, so the gradient is zero and x never moves. Ascent on
        a ReLU unit must start where the unit is active (or from a small random x), or
        maximise the pre-activation as above.""")

    common.section("Which architecture computes xW? A convolution")
    rng = np.random.default_rng(args.seed)
    n_random = 1 if args.quick else 3
    checks = [np.arange(1.0, 6.0), xs[-1]] + [rng.standard_normal(5).round(2) for _ in range(n_random)]
    rows = []
    for x in checks:
        by_matmul, by_conv = x @ W, conv1d_via_conv2d(x, KERNEL)
        diff = np.max(np.abs(by_matmul - by_conv))
        rows.append([_fmt(x), _fmt(by_matmul), _fmt(by_conv), f"{diff:.1e}"])
    common.print_table(["x", "x @ W", "conv(x, (1, -1)), valid", "max |difference|"], rows)
    same_matrix = bool(np.array_equal(conv_matrix(KERNEL, 5), W))
    print(f"W equals the matrix of the valid convolution with kernel (1, -1): {same_matrix}")
    print("=> this is a convolutional layer written as a matrix product with shared weights.\n")
    common.explain("""
        Column j of W holds +1 in row j and -1 in row j+1: the same two weights, shifted by
        one position. So (xW)_j = x_j - x_{j+1}, a cross-correlation of x with the kernel
        (1, -1) (no padding, stride 1), checked above with funcgrad.nn.conv2d on x shaped
        (1, 1, 1, 5) and the kernel shaped (1, 1, 1, 2). The matrix has 20 entries but
        only 2 free parameters (weight sharing), and most entries are zero (local
        connectivity).""")

    _plot(xs, args.out)


def _fmt(v: Any) -> str:
    return "(" + ", ".join(f"{float(a) + 0.0:g}" for a in np.asarray(v).reshape(-1)) + ")"


if __name__ == "__main__":
    main(sys.argv[1:])
