"""User-defined derivatives (custom_vjp) and recomputation in the backward pass (checkpoint)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Generic, NoReturn, TypeVar

import numpy as np
from typing_extensions import ParamSpec

from funcgrad import tree
from funcgrad.autodiff import VJPTrace, VJPTracer, _vjp
from funcgrad.core import Primitive, Tracer, aval_of, short_dtype

P = ParamSpec("P")
R = TypeVar("R")


def _innermost_vjp_trace(leaves: list[Any]) -> VJPTrace | None:
    top = max((x for x in leaves if isinstance(x, Tracer)), key=lambda t: t._trace.level,
              default=None)
    if top is not None and isinstance(top._trace, VJPTrace) and top._trace.active:
        return top._trace
    return None


def _name(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", repr(f))


class custom_vjp(Generic[P, R]):
    """A function whose VJP is given by the user, as in JAX.

        @custom_vjp
        def f(x): ...
        def f_fwd(x): return f(x), residuals
        def f_bwd(residuals, g): return (gx,)      # one entry per argument of f
        f.defvjp(f_fwd, f_bwd)

    Under grad/vjp the forward runs f_fwd and the backward f_bwd (which may use funcgrad
    operations, so it can be differentiated again). Under other transformations, or none,
    f itself runs.
    """

    def __init__(self, fun: Callable[P, R]) -> None:
        self.fun = fun
        self.fwd: Callable[..., tuple[Any, Any]] | None = None
        self.bwd: Callable[[Any, Any], Any] | None = None
        functools.update_wrapper(self, fun)

    def defvjp(self, fwd: Callable[..., tuple[Any, Any]], bwd: Callable[[Any, Any], Any]) -> None:
        """Set the forward rule (returns (output, residuals)) and backward rule (residuals, g) -> grads."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self.fwd is None or self.bwd is None:
            raise TypeError(f"custom_vjp function {_name(self.fun)} has no rules yet: call "
                            f"{_name(self.fun)}.defvjp(fwd, bwd) first")
        leaves, in_tree = tree.flatten(args)
        trace = _innermost_vjp_trace(leaves)
        if trace is None:
            return self.fun(*args, **kwargs)
        primals = [x.primal if type(x) is VJPTracer and x._trace is trace else x for x in leaves]
        out, residuals = self.fwd(*tree.unflatten(in_tree, primals), **kwargs)
        out_leaves, out_tree = tree.flatten(out)
        parents = tuple((i, x) for i, x in enumerate(leaves)
                        if type(x) is VJPTracer and x._trace is trace)
        if not parents:
            return out  # type: ignore[no-any-return]
        call = _BackwardCall(self, residuals, args, out_leaves, out_tree, in_tree)
        results = []
        for j, o in enumerate(out_leaves):
            if aval_of(o).dtype.kind not in "fc":
                results.append(o)
                continue
            # One tape entry per output leaf; each asks the user's rule once.
            prim = Primitive(f"custom_vjp[{_name(self.fun)}]", _tape_only, _tape_only,
                             functools.partial(call.rule, j))
            node = VJPTracer(trace, o, prim, {}, (), parents)
            trace.tape.append(node)
            results.append(node)
        return tree.unflatten(out_tree, results)  # type: ignore[no-any-return]


def _tape_only(*args: Any, **params: Any) -> NoReturn:
    raise AssertionError("a custom_vjp tape entry is only ever differentiated, never run")


class _BackwardCall:
    """Runs the user's bwd for one call, once per output leaf, and checks what it returns."""

    def __init__(self, fn: custom_vjp[Any, Any], residuals: Any, args: tuple[Any, ...],
                 out_leaves: list[Any], out_tree: tree.TreeDef, in_tree: tree.TreeDef) -> None:
        self.fn = fn
        self.residuals = residuals
        self.args = args
        self.out_leaves = out_leaves
        self.out_tree = out_tree
        self.in_tree = in_tree
        self.cache: dict[int, list[Any]] = {}

    def rule(self, j: int, i: int) -> Callable[..., Any]:
        def leaf_rule(ct: Any, out: Any) -> Any:
            key = id(ct)
            if key not in self.cache:
                self.cache = {key: self._run(j, ct)}  # parents of one node ask in a row
            return self.cache[key][i]
        return leaf_rule

    def _run(self, j: int, ct: Any) -> list[Any]:
        cts = [ct if k == j else np.zeros(aval_of(o).shape, aval_of(o).dtype)
               for k, o in enumerate(self.out_leaves)]
        assert self.fn.bwd is not None
        grads = self.fn.bwd(self.residuals, tree.unflatten(self.out_tree, cts))
        rule_name = _name(self.fn.bwd)
        if not isinstance(grads, tuple) or len(grads) != len(self.args):
            got = f"a tuple of {len(grads)}" if isinstance(grads, tuple) else type(grads).__name__
            raise TypeError(f"custom_vjp: the backward rule {rule_name} of {_name(self.fn.fun)} "
                            f"must return a tuple with one entry per argument ({len(self.args)}),"
                            f" got {got}")
        leaves: list[Any] = []
        for n, (g, a) in enumerate(zip(grads, self.args)):
            a_leaves, a_tree = tree.flatten(a)
            if g is None:
                leaves.extend(None for _ in a_leaves)
                continue
            g_leaves, g_tree = tree.flatten(g)
            if g_tree != a_tree:
                raise TypeError(f"custom_vjp: the backward rule {rule_name} returned, for "
                                f"argument {n}, the structure {g_tree}; the argument has {a_tree}")
            for gl, al in zip(g_leaves, a_leaves):
                (gs, gd), (as_, ad) = aval_of(gl), aval_of(al)
                if gs != as_ or gd != ad:
                    raise TypeError(
                        f"custom_vjp: the backward rule {rule_name} returned, for argument {n}, "
                        f"a {short_dtype(gd)}{list(gs)} gradient; the argument is "
                        f"{short_dtype(ad)}{list(as_)}")
            leaves.extend(g_leaves)
        return leaves


def checkpoint(f: Callable[P, R]) -> Callable[P, R]:
    """f, but under grad its intermediate values are recomputed in the backward pass, not stored."""
    fn: Callable[..., Any] = f

    @custom_vjp
    def remat(*args: Any) -> Any:
        return fn(*args)

    def fwd(*args: Any) -> tuple[Any, Any]:
        return fn(*args), args

    def bwd(args: Any, ct: Any) -> Any:
        # A one-shot pullback that consumes its tape, so the recomputed values are freed
        # as the backward pass goes rather than kept until the garbage collector runs.
        return _vjp(fn, args, {}, range(len(args)), False, keep_tape=False)[2](ct)

    remat.defvjp(fwd, bwd)
    return functools.wraps(fn)(remat)  # type: ignore[return-value]
