"""jit: trace once per signature into a simplified graph; each call is one `call` equation.

The cache key is the input tree structure, each array's shape and dtype, and the values of
the static arguments (and of Python scalars, which stay weakly typed by being baked into
the graph). A call binds the primitive `call`, whose parameter is the cached graph: with
no transformation active it replays the graph as generated straight-line numpy code;
under grad, vmap or make_graph, `call` has a rule like any other primitive (grad splits
the graph into a forward and a backward graph, vmap batches it, make_graph records it
with the graph nested), so grad(jit(f)), jit(grad(f)) and vmap(jit(f)) compose, at any
depth.

Constants: arrays a jitted function reads from its closure or globals are captured when
it is traced, as in JAX: later changes to them are not seen until it is traced again
(for new shapes, or after `jit` is applied anew). Traced values of an enclosing
transformation that the function closes over become operands of the call instead.

This module also holds the passes run on every traced graph: constant folding, dropping
identity operations (x * 1), common subexpressions and dead code.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
from typing_extensions import ParamSpec

from funcgrad import tree
from funcgrad.autodiff import substitute, vjp_graph
from funcgrad.batching import batch_graph
from funcgrad.config import checking_nans
from funcgrad.core import (Backward, ConcretizationError, Primitive, Tracer, aval_of,
                           memory_owners, unaliased)
from funcgrad.graph import Atom, Eqn, Graph, Literal, Var, hoist_traced_consts, trace_avals
from funcgrad.primitives.elementwise import IDENTITIES

P = ParamSpec("P")
R = TypeVar("R")

# ---------------------------------------------------------------------------- passes

Identities = dict[Primitive, tuple[tuple[int, float], ...]]
"""For a primitive, (operand position, value): a constant operand of that value everywhere
makes the equation return its other operand (x * 1, x + 0, ...)."""


def simplify(graph: Graph[P], identities: Identities | None = None) -> Graph[P]:
    """Fold constants, drop identity operations, merge common subexpressions, drop dead code."""
    folded = fold_constants(graph)
    if identities:
        folded = drop_identities(folded, identities)
    return eliminate_dead_code(eliminate_common_subexpressions(folded))


def _rename(renamed: dict[Var, Atom], atoms: Sequence[Atom]) -> list[Atom]:
    return [a if isinstance(a, Literal) else renamed.get(a, a) for a in atoms]


def drop_identities(graph: Graph[P], identities: Identities) -> Graph[P]:
    """Replace equations like x * ones by x (the ones of a gradient's seed, for instance)."""
    known: dict[Var, Any] = dict(zip(graph.constvars, graph.consts))
    renamed: dict[Var, Atom] = {}

    def value(a: Atom) -> Any:
        return a.value if isinstance(a, Literal) else known.get(a)

    eqns = []
    for eqn in graph.eqns:
        inputs = tuple(_rename(renamed, eqn.inputs))
        for pos, neutral in identities.get(eqn.prim, ()):
            c = value(inputs[pos])
            other = inputs[1 - pos]
            (out,) = eqn.outvars
            if c is not None and other.aval == out.aval and bool(np.all(np.asarray(c) == neutral)):
                renamed[out] = other
                break
        else:
            eqns.append(Eqn(eqn.prim, inputs, eqn.params, eqn.outvars))
    return graph.replace(eqns=eqns, outvars=_rename(renamed, graph.outvars))


def fold_constants(graph: Graph[P]) -> Graph[P]:
    """Evaluate equations whose inputs are all known constants, once, at trace time."""
    known: dict[Var, Any] = dict(zip(graph.constvars, graph.consts))
    constvars, consts = list(graph.constvars), list(graph.consts)
    eqns = []
    for eqn in graph.eqns:
        if all(isinstance(a, Literal) or a in known for a in eqn.inputs):
            args = [a.value if isinstance(a, Literal) else known[a] for a in eqn.inputs]
            out = eqn.prim.impl(*args, **eqn.params)
            values = out if eqn.prim.multiple_results else (out,)
            for var, value in zip(eqn.outvars, values):
                known[var] = value
                constvars.append(var)
                consts.append(value)
        else:
            eqns.append(eqn)
    return graph.replace(constvars=constvars, consts=consts, eqns=eqns)


def eliminate_common_subexpressions(graph: Graph[P]) -> Graph[P]:
    """Compute each (primitive, inputs, params) once."""
    seen: dict[tuple[Any, ...], tuple[Var, ...]] = {}
    renamed: dict[Var, Atom] = {}

    def atom_key(a: Atom) -> Any:
        return ("lit", a.value.item(), a.aval.dtype) if isinstance(a, Literal) else a

    eqns = []
    for eqn in graph.eqns:
        inputs = tuple(_rename(renamed, eqn.inputs))
        try:
            key = (eqn.prim, tuple(map(atom_key, inputs)), tuple(sorted(eqn.params.items())))
            earlier = seen.get(key)
        except TypeError:  # unhashable params: keep the equation as it is
            key, earlier = None, None
        if earlier is not None:
            renamed.update(zip(eqn.outvars, earlier))
            continue
        if key is not None:
            seen[key] = eqn.outvars
        eqns.append(Eqn(eqn.prim, inputs, eqn.params, eqn.outvars))
    return graph.replace(eqns=eqns, outvars=_rename(renamed, graph.outvars))


def eliminate_dead_code(graph: Graph[P]) -> Graph[P]:
    """Drop equations and constants that no output depends on."""
    live = {a for a in graph.outvars if isinstance(a, Var)}
    eqns = []
    for eqn in reversed(graph.eqns):
        if any(v in live for v in eqn.outvars):
            eqns.append(eqn)
            live.update(a for a in eqn.inputs if isinstance(a, Var))
    eqns.reverse()
    kept = [(v, c) for v, c in zip(graph.constvars, graph.consts) if v in live]
    return graph.replace(constvars=[v for v, _ in kept], consts=[c for _, c in kept], eqns=eqns)


# ---------------------------------------------------------------------------- replay


def _reuses(graph: Graph[Any], donated: set[Var], last_use: dict[Var, int]
            ) -> dict[int, Var]:
    """Equations that can write their result into the memory of an operand that dies
    with them: equation index -> that operand.

    The result must come from a primitive that writes into out= and makes no views
    (Primitive.writes_out: numpy's ufuncs and a few more), and the operand must have the
    result's shape and dtype, not be 0-d (numpy returns scalars there), and own its
    memory: made by such a primitive, or a donated input, and read only by such
    primitives (so no view of it outlives it).
    """
    def ufunc(eqn: Eqn) -> bool:
        return eqn.prim.writes_out and not eqn.prim.multiple_results

    readers: dict[Var, list[Eqn]] = {}
    for eqn in graph.eqns:
        for a in eqn.inputs:
            if isinstance(a, Var):
                readers.setdefault(a, []).append(eqn)
    owned = set(donated) | {e.outvars[0] for e in graph.eqns if ufunc(e)}
    reuse: dict[int, Var] = {}
    for i, eqn in enumerate(graph.eqns):
        if not ufunc(eqn) or eqn.outvars[0].aval.shape == ():
            continue
        for a in eqn.inputs:
            if (isinstance(a, Var) and a in owned and last_use.get(a) == i
                    and a.aval == eqn.outvars[0].aval and all(map(ufunc, readers[a]))):
                reuse[i] = a
                break
    return reuse


def compile_numpy(graph: Graph[Any], donated: Sequence[int] = ()) -> Callable[..., list[Any]]:
    """The graph as a straight-line Python function of its inputs calling numpy directly.

    Replaying a graph this way costs about one Python call per equation, a few times less
    than an interpreter loop over an environment dict. Each variable is deleted after its
    last use, so intermediates are freed as early as in the interpreter, and an elementwise
    result is written into the memory of an operand that dies with it (no allocation):
    an intermediate, or an input at a `donated` position, whose contents are then lost.
    An output that is an input, a constant or a literal is copied: a call never hands out
    its own arguments or the graph's constants.
    """
    names: dict[Var, str] = {}
    namespace: dict[str, Any] = {"_copy": np.array}

    def name(atom: Atom) -> str:
        if isinstance(atom, Literal):
            ref = f"_k{len(namespace)}"
            namespace[ref] = atom.value
            return ref
        return names.setdefault(atom, f"v{len(names)}")

    last_use: dict[Var, int] = {}
    for i, eqn in enumerate(graph.eqns):
        for a in eqn.inputs:
            if isinstance(a, Var):
                last_use[a] = i
        for v in eqn.outvars:
            last_use.setdefault(v, i)  # never read: dropped right after it is made
    outputs = {v for v in graph.outvars if isinstance(v, Var)}
    for v in outputs:
        last_use[v] = len(graph.eqns)
    for var, value in zip(graph.constvars, graph.consts):
        namespace[name(var)] = value
    kept = set(graph.constvars)
    reuse = _reuses(graph, {graph.invars[i] for i in donated}, last_use)
    lines = [f"def replay({', '.join(name(v) for v in graph.invars)}):"]
    for i, eqn in enumerate(graph.eqns):
        fn = f"_f{i}"
        namespace[fn] = eqn.prim.impl
        args = [name(a) for a in eqn.inputs]
        for key, value in eqn.params.items():
            ref = f"_p{i}_{key}"
            namespace[ref] = value
            args.append(f"{key}={ref}")
        if i in reuse:
            args.append(f"out={name(reuse[i])}")
        outs = ", ".join(name(v) for v in eqn.outvars)
        lines.append(f"    {outs}{',' if eqn.prim.multiple_results else ''} = "
                     f"{fn}({', '.join(args)})")
        dead = sorted({names[v] for v in (*eqn.inputs, *eqn.outvars) if isinstance(v, Var)
                       and last_use.get(v) == i and v not in kept})
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    made = {v for eqn in graph.eqns for v in eqn.outvars}
    returned = [name(v) if isinstance(v, Var) and v in made else f"_copy({name(v)})"
                for v in graph.outvars]
    lines.append(f"    return [{', '.join(returned)}]")
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from the graph alone
    replay: Callable[..., list[Any]] = namespace["replay"]
    return replay


def compiled(graph: Graph[Any], donated: tuple[int, ...] = ()) -> Callable[..., list[Any]]:
    """A function evaluating a closed graph on arrays: its compiled replay (made once per
    graph and donation), or, with debug_nans, equation by equation so each primitive is
    checked."""
    if checking_nans():
        return lambda *args: graph.evaluate(args)
    key = ("replay", donated)
    replay: Callable[..., list[Any]] | None = graph.derived.get(key)
    if replay is None:
        replay = graph.derived[key] = compile_numpy(graph, donated)
    return replay


def run(graph: Graph[Any], args: Sequence[Any], donated: tuple[int, ...] = ()) -> list[Any]:
    """Evaluate a closed graph on arrays (see compiled)."""
    return compiled(graph, donated)(*args)


# ---------------------------------------------------------------------------- call


def _call_shapes(*avals: Any, body: Graph[Any], name: str, donated: tuple[int, ...] = ()
                 ) -> list[Any]:
    return body.out_avals


def split(body: Graph[Any], diff: Sequence[bool]) -> tuple[Graph[Any], Graph[Any]]:
    """The body's forward and backward graphs for grad (see vjp_graph), simplified, cached."""
    key = ("vjp", tuple(diff))
    found: tuple[Graph[Any], Graph[Any]] | None = body.derived.get(key)
    if found is None:
        fwd, bwd = vjp_graph(body, diff)
        found = body.derived[key] = (simplify(fwd, IDENTITIES), simplify(bwd, IDENTITIES))
    return found


def _call_vjp(diff: Sequence[bool], args: Sequence[Any], params: dict[str, Any]
              ) -> tuple[Sequence[Any], Backward]:
    # grad of a call is two calls: the forward graph, whose extra outputs are the
    # residuals, now; the backward graph, reading them, in the backward pass.
    body, name = params["body"], params["name"]
    fwd, bwd = split(body, diff)
    n_out = len(body.outvars)
    outs = call_p.bind_multi(*args, body=fwd, name=name)
    residuals = outs[n_out:]
    positions = [i for i, d in enumerate(diff) if d]

    def backward(cts: Sequence[Any]) -> list[Any]:
        full = [np.zeros(a.shape, a.dtype) if c is None else c
                for c, a in zip(cts, body.out_avals)]
        in_cts = call_p.bind_multi(*residuals, *full, body=bwd, name=f"{name}_vjp")
        return substitute([None] * len(args), positions, in_cts)

    return outs[:n_out], backward


def batched(body: Graph[Any], size: int, flags: Sequence[bool]) -> Graph[Any]:
    """The body batched (see batch_graph), simplified, cached on the body."""
    key = ("batch", size, tuple(flags))
    found: Graph[Any] | None = body.derived.get(key)
    if found is None:
        found = body.derived[key] = simplify(batch_graph(body, size, flags), IDENTITIES)
    return found


def _call_batch(prim: Primitive, size: int, args: Sequence[Any], flags: Sequence[bool], *,
                body: Graph[Any], name: str, donated: tuple[int, ...] = ()) -> Sequence[Any]:
    return prim.bind_multi(*args, body=batched(body, size, flags), name=name)


call_p = Primitive("call", lambda *args, body, name, donated=(): run(body, args, donated),
                   _call_shapes, batch=_call_batch, multiple_results=True, vjp_call=_call_vjp,
                   complex_rules=True)
"""A call of a jitted function: its graph is the parameter `body`; `donated` (given only
where the call runs on arrays) lists the operands whose memory the results may take."""


# ---------------------------------------------------------------------------- jit

_PYTHON_SCALARS = (bool, int, float, complex)
_NO_KEYWORDS: dict[str, Any] = {}


class Jitted(Generic[P, R]):
    """A jit-compiled function: call it like the original; `trace_count` counts tracings."""

    __name__: str  # the function's, as functools.wraps gives them

    def __init__(self, f: Callable[P, R], static_argnums: Sequence[int],
                 static_argnames: Sequence[str], donate_argnums: Sequence[int]) -> None:
        # Name and docstring from f, but not f's __dict__: a wrapper of another jitted
        # function carries that one's cache there (functools.wraps copies it).
        functools.update_wrapper(self, f, updated=())
        self.f = f
        # A static argument may be passed by position or by name: each names the other.
        positions = _parameter_positions(f)
        names = {n: i for i, n in positions.items()}
        self.static_argnums = tuple(sorted({*static_argnums, *(names[n] for n in static_argnames
                                                                if n in names)}))
        self.static_argnames = frozenset({*static_argnames, *(positions[i] for i in static_argnums
                                                              if i in positions)})
        self.donate_argnums = tuple(sorted(set(donate_argnums)))
        if set(self.donate_argnums) & set(self.static_argnums):
            raise ValueError(f"jit of {self._name()}: an argument cannot be both static and "
                             "donated")
        self.trace_count = 0
        self._cache: dict[Hashable, tuple[Graph[Any], list[int]]] = {}
        self._simple_cache: dict[Hashable, tuple[Graph[Any], list[int]]] = {}
        self._lock = threading.RLock()  # one tracing at a time, so each signature once

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        graph, closed_over, dyn_leaves, donated = self._lookup(args, kwargs)
        if closed_over or any(isinstance(x, Tracer) for x in dyn_leaves):
            # under a transformation: the call is an equation it handles by its rules
            traced = call_p.bind_multi(*closed_over, *dyn_leaves, body=graph, name=self._name())
            equation: R = tree.unflatten(graph.out_tree, traced)
            return equation
        # On arrays: what the call's implementation does, without binding it.
        outs = compiled(graph, donated)(*dyn_leaves)
        kept = [x for j, x in enumerate(dyn_leaves) if j not in donated] if donated else dyn_leaves
        # Results may take a donated argument's memory (that is what donating is for), but
        # never another argument's or a constant's (whose owners are found once per graph).
        const_owners: set[int] | None = graph.derived.get("const owners")
        if const_owners is None:
            const_owners = graph.derived["const owners"] = memory_owners(graph.consts)
        result: R = tree.unflatten(graph.out_tree, unaliased(outs, kept, const_owners))
        return result

    def lower(self, *args: P.args, **kwargs: P.kwargs) -> Graph[Any]:
        """The simplified graph that calls with these arguments replay."""
        return self._lookup(args, kwargs)[0]

    def _lookup(self, args: tuple[Any, ...], kwargs: dict[str, Any]
                ) -> tuple[Graph[Any], list[Tracer], list[Any], tuple[int, ...]]:
        """The graph for this call (traced on a cache miss), the traced values it closes
        over (its first operands), the array arguments, and which of them are donated."""
        # The common call, positional arrays only, looked up by their shapes and dtypes
        # alone: this runs on every call.
        simple = not kwargs and not self.static_argnums and not self.donate_argnums \
            and all(type(a) is np.ndarray for a in args)
        if simple:
            found = self._simple_cache.get(tuple([(a.shape, a.dtype) for a in args]))
            if found is not None:
                return found[0], [], [args[j] for j in found[1]], ()
        nargs = len(args)
        static_pos = sorted({i % nargs for i in self.static_argnums if -nargs <= i < nargs})
        dynamic = [a for i, a in enumerate(args) if i not in static_pos] if static_pos else args
        static_kw = {k: v for k, v in kwargs.items() if k in self.static_argnames} \
            if kwargs and self.static_argnames else _NO_KEYWORDS
        dynamic_kw = {k: v for k, v in kwargs.items() if k not in static_kw} if static_kw \
            else kwargs
        if not static_pos and not kwargs and all(type(a) is np.ndarray for a in args):
            # the common call, arrays only: its structure is known without flattening
            leaves, in_tree = list(args), _arrays_only(len(args))
        else:
            leaves, in_tree = tree.flatten((dynamic, dynamic_kw))
        # The signature of each leaf: shape and dtype; Python scalars are part of the key by
        # value and baked in as weakly typed literals. (By exact type: numpy's float64 and
        # complex128 scalars subclass float and complex, but are typed arrays, traced like
        # any other.) This runs on every call, so arrays take the shortest path.
        signature: list[tuple[Any, ...]] = []
        for x in leaves:
            kind = type(x)
            if kind is np.ndarray:
                signature.append((x.shape, x.dtype))
            elif kind in _PYTHON_SCALARS:
                signature.append((kind, x))
            else:
                signature.append(tuple(aval_of(x)))
        key = (in_tree, tuple(static_pos), tuple(args[i] for i in static_pos),
               tuple(sorted(static_kw.items())) if static_kw else (), tuple(signature))
        try:
            entry = self._cache.get(key)
        except TypeError as err:
            raise TypeError(f"jit of {self._name()}: static arguments must be hashable "
                            f"({err})") from None
        closed_over: list[Tracer] = []
        if entry is None:
            with self._lock:
                entry = self._cache.get(key)
                if entry is None:
                    graph, dyn_pos, closed_over = self._trace(args, set(static_pos), static_kw,
                                                              leaves, in_tree)
                    entry = (graph, dyn_pos)
                    if not closed_over:  # a graph holding traced values is for this call only
                        self._cache[key] = entry
        if simple and not closed_over:
            self._simple_cache[tuple(signature)] = entry
        graph, dyn_pos = entry
        donated = self._donated(dynamic, args, static_pos, dyn_pos) if self.donate_argnums \
            and not closed_over else ()
        return graph, closed_over, [leaves[j] for j in dyn_pos], donated

    def _donated(self, dynamic: Sequence[Any], args: tuple[Any, ...], static_pos: list[int],
                 dyn_pos: list[int]) -> tuple[int, ...]:
        """Positions among the graph's inputs of the leaves of the donated arguments."""
        nargs = len(args)
        donate = {i % nargs for i in self.donate_argnums if -nargs <= i < nargs}
        positional = [i for i in range(nargs) if i not in static_pos]
        leaf_of_input = {j: n for n, j in enumerate(dyn_pos)}
        start, found = 0, []
        for i, arg in zip(positional, dynamic):
            count = len(tree.leaves(arg))
            if i in donate:
                found += [leaf_of_input[j] for j in range(start, start + count)
                          if j in leaf_of_input]
            start += count
        return tuple(found)

    def _name(self) -> str:
        return getattr(self.f, "__name__", repr(self.f))

    def _trace(self, args: tuple[Any, ...], static_pos: set[int], static_kw: dict[str, Any],
               leaves: list[Any], in_tree: tree.TreeDef
               ) -> tuple[Graph[Any], list[int], list[Tracer]]:
        self.trace_count += 1
        dyn_pos = [j for j, x in enumerate(leaves) if type(x) not in _PYTHON_SCALARS]

        def flat_f(*dyn_leaves: Any) -> Any:
            full = substitute(leaves, dyn_pos, dyn_leaves)
            dyn_args, kw = tree.unflatten(in_tree, full)
            it = iter(dyn_args)
            call_args = [args[i] if i in static_pos else next(it) for i in range(len(args))]
            return self.f(*call_args, **kw, **static_kw)

        try:
            graph = trace_avals(flat_f, [aval_of(leaves[j]) for j in dyn_pos])
        except ConcretizationError as err:
            raise ConcretizationError(
                f"jit of {self._name()}: {err}\nUnder jit only shapes and dtypes are known "
                "while tracing. If the branch depends on an argument that is fixed per call "
                "(a flag, a size), mark it static with jit(f, static_argnums=(i,)) or "
                "static_argnames; if it depends on array values, use funcgrad.numpy.where "
                "or funcgrad.primitives.cond.") from None
        graph, closed_over = hoist_traced_consts(graph)
        # Constants are captured now: copies, so later changes to the arrays are not seen.
        graph = graph.replace(consts=[np.array(c) if isinstance(c, np.ndarray) else c
                                      for c in graph.consts])
        return simplify(graph, IDENTITIES), dyn_pos, closed_over


def _parameter_positions(f: Callable[..., Any]) -> dict[int, str]:
    """Position -> name of f's parameters that may be passed either way (none if unknown)."""
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {i: p.name for i, p in enumerate(params)
            if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD}


@functools.cache
def _arrays_only(n: int) -> tree.TreeDef:
    """The structure of (args, kwargs) for n positional arrays and no keywords."""
    return tree.structure((tuple(range(n)), {}))


def jit(f: Callable[P, R], static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (),
        donate_argnums: int | Sequence[int] = ()) -> Jitted[P, R]:
    """Compile f: trace it once per input signature into a simplified graph and replay that.

    static_argnums / static_argnames: arguments that are fixed Python values (flags, sizes),
    part of the cache key (so hashable) instead of traced. donate_argnums: arguments whose
    arrays the call may overwrite to hold its results (as JAX's donation: do not use them
    after the call); elementwise results write into them instead of new memory.
    """
    def ints(v: int | Sequence[int]) -> tuple[int, ...]:
        return (v,) if isinstance(v, int) else tuple(v)

    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    return Jitted(f, ints(static_argnums), names, ints(donate_argnums))
