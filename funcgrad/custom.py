"""User-defined derivatives (custom_vjp, custom_jvp) and recomputation (checkpoint).

Each is a primitive whose parameters are graphs: the function itself, and the user's
rules traced into graphs at the call. So the rules travel with the equation wherever it
goes: through jit (replayed with the rest), vmap (the graphs are batched), make_graph
(printed nested), and grad at any order. Under grad:

- custom_vjp runs the graph of `fwd` (its extra outputs are the residuals) and, in the
  backward pass, the graph of `bwd`;
- custom_jvp runs the function, and in the backward pass transposes the user's JVP rule
  (it is linear in the tangents; its transpose is its VJP);
- checkpoint runs the function without keeping intermediates, and in the backward pass
  runs it again under grad.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
from typing_extensions import ParamSpec

from funcgrad import tree
from funcgrad.autodiff import substitute, vjp
from funcgrad.batching import batch_graph
from funcgrad.core import (Backward, LeakedTracerError, Primitive, ShapedArray, Tracer, aval_of,
                           differentiable, short_dtype)
from funcgrad.graph import Graph, LazyGraph, hoist_traced_consts, trace_avals
from funcgrad.jit import call_p, run

P = ParamSpec("P")
R = TypeVar("R")


def _name(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", repr(f))


def _zeros_for_none(cts: Sequence[Any], avals: Sequence[ShapedArray]) -> list[Any]:
    return [np.zeros(a.shape, a.dtype) if c is None else c for c, a in zip(cts, avals)]


class _Split:
    """A call's arguments split into the static ones (nondiff_argnums) and the array
    leaves of the others, and put back together around new leaves."""

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: tuple[int, ...],
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if kwargs:  # keywords become positions, as JAX does, so argnums refer to them
            bound = inspect.signature(fun).bind(*args, **kwargs)
            args = bound.args
        n = len(args)
        self.static = sorted({i % n for i in nondiff_argnums})
        self.nondiff = [args[i] for i in self.static]
        self.leaves, self.tree = tree.flatten([a for i, a in enumerate(args)
                                               if i not in self.static])
        self.avals = [aval_of(x) for x in self.leaves]
        self.n = n

    def diff_args(self, leaves: Sequence[Any]) -> list[Any]:
        """The differentiable arguments built from leaves."""
        return list(tree.unflatten(self.tree, leaves))

    def all_args(self, leaves: Sequence[Any]) -> list[Any]:
        """Every argument, the static ones in their places."""
        diff = iter(self.diff_args(leaves))
        statics = dict(zip(self.static, self.nondiff))
        return [statics[i] if i in statics else next(diff) for i in range(self.n)]


def _traced(f: Callable[..., Any], avals: Sequence[ShapedArray], what: str) -> Graph[Any]:
    """The graph of f, which must not read traced values from outside its arguments."""
    advice = ("from outside its arguments (a closure or a global). A custom rule must see "
              "everything it differentiates: pass the value as an argument (or, if it is not "
              "differentiated, through nondiff_argnums).")
    try:
        graph = trace_avals(f, avals)
    except LeakedTracerError as err:
        # A rule is traced when grad first needs it, in the backward pass: a value of the
        # forward pass read from its closure is then one of a finished transformation.
        raise TypeError(f"{what} reads a traced value ({err.aval}) {advice}") from None
    closed: Graph[Any]
    closed, traced = hoist_traced_consts(graph)
    if traced:
        raise TypeError(f"{what} reads a traced value ({traced[0].aval}) {advice}")
    return closed


def _check_cotangents(grads: Any, split: _Split, rule: str, fun: str) -> list[Any]:
    """The leaves of a backward rule's result, checked against the differentiated arguments."""
    args = split.diff_args(split.leaves)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(args):
        got = (f"a tuple of {len(grads)}" if isinstance(grads, tuple) else "a single array"
               if isinstance(grads, (Tracer, np.ndarray)) else type(grads).__name__)
        raise TypeError(f"custom_vjp: the backward rule {rule} of {fun} must return a tuple "
                        f"with one entry per argument ({len(args)}), got {got}")
    leaves: list[Any] = []
    for n, (g, a) in enumerate(zip(grads, args)):
        a_leaves, a_tree = tree.flatten(a)
        if g is None:
            leaves.extend(np.zeros(aval_of(x).shape, aval_of(x).dtype) for x in a_leaves)
            continue
        g_leaves, g_tree = tree.flatten(g)
        if g_tree != a_tree:
            raise TypeError(f"custom_vjp: the backward rule {rule} returned, for argument {n}, "
                            f"the structure {g_tree}; the argument has {a_tree}")
        for gl, al in zip(g_leaves, a_leaves):
            (gs, gd), (as_, ad) = aval_of(gl), aval_of(al)
            if gs != as_ or gd != ad:
                raise TypeError(
                    f"custom_vjp: the backward rule {rule} returned, for argument {n}, a "
                    f"{short_dtype(gd)}{list(gs)} gradient; the argument is "
                    f"{short_dtype(ad)}{list(as_)}")
        leaves.extend(g_leaves)
    return leaves


class _CustomFunction(Generic[P, R]):
    """A function with user rules: calling it with traced arguments binds `prim` with the
    function's graph and the rules' lazy graphs (see `_rules`)."""

    kind = ""
    prim: Primitive

    def __init__(self, fun: Callable[P, R], nondiff_argnums: Sequence[int] = ()) -> None:
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        functools.update_wrapper(self, fun, updated=())

    def _require_rules(self, name: str) -> None:
        raise NotImplementedError

    def _rules(self, split: _Split, fun_graph: Graph[Any], name: str) -> dict[str, LazyGraph]:
        raise NotImplementedError

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        fun: Callable[..., R] = self.fun
        self._require_rules(_name(fun))
        split = _Split(fun, self.nondiff_argnums, args, kwargs)
        if not any(isinstance(x, Tracer) for x in split.leaves):
            return fun(*split.all_args(split.leaves))
        name = _name(fun)
        fun_graph = _traced(lambda *xs: fun(*split.all_args(xs)), split.avals,
                            f"the {self.kind} function {name}")
        outs = self.prim.bind_multi(*split.leaves, fun=fun_graph, name=name,
                                    **self._rules(split, fun_graph, name))
        result: R = tree.unflatten(fun_graph.out_tree, outs)
        return result


# ---------------------------------------------------------------------------- custom_vjp


def _custom_vjp_vjp(diff: Sequence[bool], args: Sequence[Any], params: dict[str, Any]
                    ) -> tuple[Sequence[Any], Backward]:
    fun, fwd, bwd = params["fun"], params["fwd"], params["bwd"]
    n_out = len(fun.outvars)
    outs = call_p.bind_multi(*args, body=fwd.graph, name=fwd.name)
    residuals = outs[n_out:]

    def backward(cts: Sequence[Any]) -> Sequence[Any]:
        return call_p.bind_multi(*residuals, *_zeros_for_none(cts, fun.out_avals),
                                 body=bwd.graph, name=bwd.name)

    return outs[:n_out], backward


def _custom_vjp_batch(prim: Primitive, size: int, args: Sequence[Any], batched: Sequence[bool],
                      *, fun: Graph[Any], name: str, fwd: LazyGraph, bwd: LazyGraph
                      ) -> Sequence[Any]:
    # Every output of a batched graph is batched, the residuals included.
    return prim.bind_multi(
        *args, fun=batch_graph(fun, size, batched), name=name,
        fwd=LazyGraph(fwd.name, lambda: batch_graph(fwd.graph, size, batched)),
        bwd=LazyGraph(bwd.name, lambda: batch_graph(bwd.graph, size,
                                                    [True] * len(bwd.graph.invars))))


custom_vjp_call_p = Primitive(
    "custom_vjp_call", lambda *args, fun, name, fwd, bwd: run(fun, args),
    lambda *avals, fun, name, fwd, bwd: fun.out_avals, batch=_custom_vjp_batch,
    multiple_results=True, vjp_call=_custom_vjp_vjp, complex_rules=True)
"""A call of a custom_vjp function: `fun` is its graph, `fwd` and `bwd` the graphs of the
rules, traced when grad first needs them."""


class custom_vjp(_CustomFunction[P, R]):
    """A function whose VJP is given by the user, as in JAX.

        @custom_vjp
        def f(x): ...
        def f_fwd(x): return f(x), residuals
        def f_bwd(residuals, g): return (gx,)      # one entry per argument of f
        f.defvjp(f_fwd, f_bwd)

    Under grad/vjp the forward runs f_fwd and the backward f_bwd, written with funcgrad
    operations (so they can be differentiated again, and run under jit and vmap). With
    nondiff_argnums, those arguments are static (any Python value), passed to f_fwd in
    their places and to f_bwd first: f_bwd(*nondiff, residuals, g) returns the gradients
    of the other arguments. Called with no traced argument, f itself runs.
    """

    kind = "custom_vjp"
    prim = custom_vjp_call_p
    fwd: Callable[..., tuple[Any, Any]] | None = None
    bwd: Callable[..., Any] | None = None

    def defvjp(self, fwd: Callable[..., tuple[Any, Any]], bwd: Callable[..., Any]) -> None:
        """Set the rules: fwd(*args) -> (output, residuals); bwd(residuals, g) -> gradients."""
        self.fwd, self.bwd = fwd, bwd

    def _require_rules(self, name: str) -> None:
        if self.fwd is None or self.bwd is None:
            raise TypeError(f"custom_vjp function {name} has no rules yet: call "
                            f"{name}.defvjp(fwd, bwd) first")

    def _rules(self, split: _Split, fun_graph: Graph[Any], name: str) -> dict[str, LazyGraph]:
        fwd, bwd = self.fwd, self.bwd
        assert fwd is not None and bwd is not None
        out_tree = fun_graph.out_tree
        n_out = len(fun_graph.outvars)
        res_trees: list[tree.TreeDef] = []  # the residuals' structure, found by tracing fwd

        def flat_fwd(*xs: Any) -> list[Any]:
            out, res = fwd(*split.all_args(xs))
            out_leaves, fwd_tree = tree.flatten(out)
            if fwd_tree != out_tree:
                raise TypeError(f"custom_vjp: the forward rule {_name(fwd)} of {name} returned "
                                f"an output of structure {fwd_tree}; {name} returns {out_tree}")
            res_leaves, res_tree = tree.flatten(res)
            res_trees[:] = [res_tree]
            return [*out_leaves, *res_leaves]

        def flat_bwd(*xs: Any) -> list[Any]:
            res = tree.unflatten(res_trees[0], xs[:len(xs) - n_out])
            ct = tree.unflatten(out_tree, xs[len(xs) - n_out:])
            return _check_cotangents(bwd(*split.nondiff, res, ct), split, _name(bwd), name)

        fwd_graph = LazyGraph(_name(fwd), lambda: _traced(
            flat_fwd, split.avals, f"the forward rule {_name(fwd)} of {name}"))
        bwd_graph = LazyGraph(_name(bwd), lambda: _traced(
            flat_bwd, [*fwd_graph.graph.out_avals[n_out:], *fun_graph.out_avals],
            f"the backward rule {_name(bwd)} of {name}"))
        return {"fwd": fwd_graph, "bwd": bwd_graph}


# ---------------------------------------------------------------------------- custom_jvp


def _custom_jvp_vjp(diff: Sequence[bool], args: Sequence[Any], params: dict[str, Any]
                    ) -> tuple[Sequence[Any], Backward]:
    fun, rule = params["fun"], params["jvp"]
    n_out = len(fun.outvars)
    outs = call_p.bind_multi(*args, body=fun, name=params["name"])
    positions = [i for i, d in enumerate(diff) if d]

    def tangents_out(*ts: Any) -> list[Any]:
        full = substitute([np.zeros(aval_of(a).shape, aval_of(a).dtype) for a in args],
                          positions, ts)
        return list(call_p.bind_multi(*args, *full, body=rule.graph, name=rule.name)[n_out:])

    def backward(cts: Sequence[Any]) -> Sequence[Any]:
        # The JVP rule is linear in the tangents: its VJP at any point is its transpose.
        zeros = [np.zeros(aval_of(args[i]).shape, aval_of(args[i]).dtype) for i in positions]
        _, transpose = vjp(tangents_out, *zeros)
        return substitute([None] * len(args), positions,
                          transpose(_zeros_for_none(cts, fun.out_avals)))

    return outs, backward


def _custom_jvp_batch(prim: Primitive, size: int, args: Sequence[Any], batched: Sequence[bool],
                      *, fun: Graph[Any], name: str, jvp: LazyGraph) -> Sequence[Any]:
    return prim.bind_multi(
        *args, fun=batch_graph(fun, size, batched), name=name,
        jvp=LazyGraph(jvp.name, lambda: batch_graph(jvp.graph, size, [*batched, *batched])))


custom_jvp_call_p = Primitive(
    "custom_jvp_call", lambda *args, fun, name, jvp: run(fun, args),
    lambda *avals, fun, name, jvp: fun.out_avals, batch=_custom_jvp_batch,
    multiple_results=True, vjp_call=_custom_jvp_vjp, complex_rules=True)
"""A call of a custom_jvp function: `fun` is its graph, `jvp` the graph of the rule
(primals, tangents -> outputs, output tangents), traced when first needed."""


class custom_jvp(_CustomFunction[P, R]):
    """A function whose JVP is given by the user, as in JAX.

        @custom_jvp
        def f(x): ...
        @f.defjvp
        def f_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            return f(x), t * df(x)               # output, output tangent (linear in t)

    grad uses the rule's transpose, jvp the rule itself (through the same transpose), so
    both follow the user's derivative; rules written with funcgrad operations can be
    differentiated again. With nondiff_argnums, those arguments are static and passed to
    the rule first: f_jvp(*nondiff, primals, tangents). Called with no traced argument,
    f itself runs.
    """

    kind = "custom_jvp"
    prim = custom_jvp_call_p
    jvp: Callable[..., tuple[Any, Any]] | None = None

    def defjvp(self, jvp: Callable[..., tuple[Any, Any]]) -> Callable[..., tuple[Any, Any]]:
        """Set the rule (primals, tangents) -> (output, output tangent); usable as a decorator."""
        self.jvp = jvp
        return jvp

    def _require_rules(self, name: str) -> None:
        if self.jvp is None:
            raise TypeError(f"custom_jvp function {name} has no rule yet: call "
                            f"{name}.defjvp(jvp) first")

    def _rules(self, split: _Split, fun_graph: Graph[Any], name: str) -> dict[str, LazyGraph]:
        rule = self.jvp
        assert rule is not None
        out_tree = fun_graph.out_tree
        n = len(split.leaves)

        def flat_jvp(*xs: Any) -> list[Any]:
            primals = tuple(split.diff_args(xs[:n]))
            tangents = tuple(split.diff_args(xs[n:]))
            out, tangent_out = rule(*split.nondiff, primals, tangents)
            out_leaves, o_tree = tree.flatten(out)
            t_leaves, t_tree = tree.flatten(tangent_out)
            if o_tree != out_tree or t_tree != out_tree:
                raise TypeError(f"custom_jvp: the rule {_name(rule)} of {name} returned "
                                f"structures {o_tree} and {t_tree}; {name} returns {out_tree}")
            for t, o in zip(t_leaves, fun_graph.out_avals):
                if aval_of(t) != o and differentiable(o.dtype):
                    raise TypeError(f"custom_jvp: the rule {_name(rule)} of {name} returned a "
                                    f"tangent {aval_of(t)} for an output {o}")
            return [*out_leaves, *t_leaves]

        return {"jvp": LazyGraph(_name(rule), lambda: _traced(
            flat_jvp, [*split.avals, *split.avals], f"the JVP rule {_name(rule)} of {name}"))}


# ---------------------------------------------------------------------------- checkpoint


def _checkpoint_vjp(diff: Sequence[bool], args: Sequence[Any], params: dict[str, Any]
                    ) -> tuple[Sequence[Any], Backward]:
    body, name = params["body"], params["name"]
    outs = call_p.bind_multi(*args, body=body, name=name)  # nothing kept but the arguments
    positions = [i for i, d in enumerate(diff) if d]

    def again(*d: Any) -> list[Any]:
        return list(call_p.bind_multi(*substitute(args, positions, d), body=body, name=name))

    def backward(cts: Sequence[Any]) -> Sequence[Any]:
        _, pullback = vjp(again, *(args[i] for i in positions))
        return substitute([None] * len(args), positions,
                          pullback(_zeros_for_none(cts, body.out_avals)))

    return outs, backward


def _checkpoint_batch(prim: Primitive, size: int, args: Sequence[Any], batched: Sequence[bool],
                      *, body: Graph[Any], name: str) -> Sequence[Any]:
    return prim.bind_multi(*args, body=batch_graph(body, size, batched), name=name)


checkpoint_p = Primitive(
    "checkpoint", lambda *args, body, name: run(body, args),
    lambda *avals, body, name: body.out_avals, batch=_checkpoint_batch,
    multiple_results=True, vjp_call=_checkpoint_vjp, complex_rules=True)
"""A checkpointed function: under grad its body runs again in the backward pass."""


def checkpoint(f: Callable[P, R]) -> Callable[P, R]:
    """f, but under grad its intermediate values are recomputed in the backward pass, not stored."""

    @functools.wraps(f)
    def remat(*args: P.args, **kwargs: P.kwargs) -> R:
        leaves, in_tree = tree.flatten((args, kwargs))

        def traced(*xs: Any) -> Any:
            a, kw = tree.unflatten(in_tree, xs)
            return f(*a, **kw)

        graph = trace_avals(traced, [aval_of(x) for x in leaves])
        body: Graph[Any]
        body, closed_over = hoist_traced_consts(graph)
        outs = checkpoint_p.bind_multi(*closed_over, *leaves, body=body, name=_name(f))
        result: R = tree.unflatten(graph.out_tree, outs)
        return result

    return remat
