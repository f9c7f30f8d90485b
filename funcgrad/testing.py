"""check_grads: derivatives against central finite differences, to any order, in reverse
mode (VJP, by the inner-product identity) and forward mode (JVP)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad import tree
from funcgrad.autodiff import jvp, vjp

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


def _shifted(f: Callable[..., Any], args: Sequence[Any], direction: Any, step: float) -> Any:
    moved = tree.map(lambda x, d: (np.asarray(x) + step * d).astype(np.result_type(x)),
                     tuple(args), direction)
    return f(*moved)


def _compare(what: str, f: Callable[..., Any], analytic: float, numeric: float, eps: float,
             atol: float, rtol: float) -> None:
    if not abs(numeric - analytic) <= atol + rtol * max(abs(numeric), abs(analytic)):
        raise AssertionError(
            f"{what} check failed for {getattr(f, '__name__', f)}: {analytic!r} but finite "
            f"differences give {numeric!r} (eps={eps}, atol={atol}, rtol={rtol})")


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
    numeric = (_inner(_shifted(f, args, direction, eps_), ct)
               - _inner(_shifted(f, args, direction, -eps_), ct)) / (2 * eps_)
    _compare("VJP", f, _inner(pullback(ct), direction), numeric, eps_, atol_, rtol_)


def check_jvp(f: Callable[..., Any], args: Sequence[Any], *, eps: float | None = None,
              atol: float | None = None, rtol: float | None = None,
              rng: np.random.Generator | None = None) -> None:
    """Check jvp(f) at args against central differences in one random direction."""
    rng = np.random.default_rng(0) if rng is None else rng
    leaves, in_tree = tree.flatten(tuple(args))
    eps_, atol_, rtol_ = _tolerances(leaves, eps, atol, rtol)
    direction = tree.unflatten(in_tree, [_random_like(rng, x) for x in leaves])
    _, tangent = jvp(f, tuple(args), direction)
    ct = tree.map(lambda o: _random_like(rng, o), tangent)
    numeric = (_inner(_shifted(f, args, direction, eps_), ct)
               - _inner(_shifted(f, args, direction, -eps_), ct)) / (2 * eps_)
    _compare("JVP", f, _inner(tangent, ct), numeric, eps_, atol_, rtol_)


def check_grads(f: Callable[..., Any], args: Sequence[Any], order: int = 2,
                modes: Sequence[str] = ("fwd", "rev"), atol: float | None = None,
                rtol: float | None = None, eps: float | None = None,
                rng: np.random.Generator | None = None) -> None:
    """Check f's derivatives up to `order` against finite differences (raises AssertionError).

    modes: "rev" checks vjp, "fwd" jvp. Each higher order checks the derivative itself, as
    a function of the primals with a fixed random cotangent (or tangent), in every mode, so
    every derivative rule is checked by differentiating it.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    for mode in modes:
        if mode not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {mode!r} (supported: 'fwd', 'rev')")
    checks = {"rev": check_vjp, "fwd": check_jvp}
    for mode in modes:
        checks[mode](f, args, eps=eps, atol=atol, rtol=rtol, rng=rng)
    if order > 1:
        out = f(*args)
        for mode in modes:
            if mode == "rev":
                ct = tree.map(lambda o: _random_like(rng, o), out)

                def derivative(*primals: Any) -> Any:
                    return vjp(f, *primals)[1](ct)
            else:
                tangent = tree.map(lambda x: _random_like(rng, x), tuple(args))

                def derivative(*primals: Any) -> Any:
                    return jvp(f, primals, tangent)[1]
            check_grads(derivative, args, order - 1, modes, atol, rtol, eps, rng)
