"""check_grads: derivatives against central finite differences, to any order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad import tree
from funcgrad.autodiff import vjp

# (eps, atol, rtol) by dtype: central differences err by O(eps**2) from truncation and
# O(machine eps / eps) from rounding, so eps balances the two.
_DEFAULTS = {
    np.dtype(np.float64): (1e-5, 1e-6, 1e-5),
    np.dtype(np.float32): (3e-3, 3e-2, 3e-2),
}


def _tolerances(leaves: Sequence[Any], eps: float | None, atol: float | None,
                rtol: float | None) -> tuple[float, float, float]:
    worst = min((np.result_type(x) for x in leaves), key=lambda d: np.finfo(d).bits,
                default=np.dtype(np.float64))
    d_eps, d_atol, d_rtol = _DEFAULTS.get(np.dtype(worst), _DEFAULTS[np.dtype(np.float32)])
    return (d_eps if eps is None else eps, d_atol if atol is None else atol,
            d_rtol if rtol is None else rtol)


def _random_like(rng: np.random.Generator, x: Any) -> np.ndarray[Any, Any]:
    x = np.asarray(x)
    return np.asarray(rng.standard_normal(x.shape), x.dtype)


def _inner(a: Any, b: Any) -> float:
    return float(sum(np.vdot(np.asarray(x, np.float64), np.asarray(y, np.float64))
                     for x, y in zip(tree.leaves(a), tree.leaves(b))))


def check_vjp(f: Callable[..., Any], args: Sequence[Any], *, eps: float | None = None,
              atol: float | None = None, rtol: float | None = None,
              rng: np.random.Generator | None = None) -> None:
    """Check vjp(f) at args against central differences in one random direction."""
    rng = np.random.default_rng(0) if rng is None else rng
    leaves, in_tree = tree.flatten(tuple(args))
    eps_, atol_, rtol_ = _tolerances(leaves, eps, atol, rtol)
    direction = tree.unflatten(in_tree, [_random_like(rng, x) for x in leaves])
    out, pullback = vjp(f, *args)
    ct = tree.map(lambda o: _random_like(rng, o), out)

    def shifted(sign: float) -> Any:
        moved = tree.map(lambda x, d: (np.asarray(x) + sign * eps_ * d).astype(np.result_type(x)),
                         tuple(args), direction)
        return f(*moved)

    numeric = (_inner(shifted(1.0), ct) - _inner(shifted(-1.0), ct)) / (2 * eps_)
    analytic = _inner(pullback(ct), direction)
    if not abs(numeric - analytic) <= atol_ + rtol_ * max(abs(numeric), abs(analytic)):
        raise AssertionError(
            f"VJP check failed for {getattr(f, '__name__', f)}: <vjp(ct), v> = {analytic!r} "
            f"but finite differences give {numeric!r} (eps={eps_}, atol={atol_}, rtol={rtol_})"
        )


def check_grads(f: Callable[..., Any], args: Sequence[Any], order: int = 2,
                modes: Sequence[str] = ("rev",), atol: float | None = None,
                rtol: float | None = None, eps: float | None = None,
                rng: np.random.Generator | None = None) -> None:
    """Check f's derivatives up to `order` against finite differences (raises AssertionError)."""
    rng = np.random.default_rng(0) if rng is None else rng
    for mode in modes:
        if mode != "rev":
            raise ValueError(f"check_grads: unknown mode {mode!r} (supported: 'rev')")
    check_vjp(f, args, eps=eps, atol=atol, rtol=rtol, rng=rng)
    if order > 1:
        # The next order checks the VJP itself, as a function of the primals and a fixed
        # cotangent, so every derivative rule is checked by differentiating it.
        out = f(*args)
        ct = tree.map(lambda o: _random_like(rng, o), out)

        def f_vjp(*primals: Any) -> Any:
            return vjp(f, *primals)[1](ct)

        check_grads(f_vjp, args, order - 1, modes, atol, rtol, eps, rng)
