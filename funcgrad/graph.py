"""The expression graph: variables, equations, graphs; building one by tracing, running it.

`make_graph(f)(*args)` traces `f` with abstract values (shapes and dtypes, no numbers) and
records every primitive applied as an equation. The graph prints one equation per line:

    c:f32[3] = tanh b
    d:f32[] = reduce_sum[axes=(0,)] c
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Generic

import numpy as np
from typing_extensions import ParamSpec

from funcgrad import tree
from funcgrad.config import config
from funcgrad.core import Primitive, ShapedArray, Trace, Tracer, aval_of, bind, new_trace

P = ParamSpec("P")


class Var:
    """A variable of a graph: an input, a constant or an equation's output."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray) -> None:
        self.aval = aval


class Literal:
    """A scalar constant written into an equation in place of a variable."""

    __slots__ = ("value", "aval")

    def __init__(self, value: np.ndarray[Any, Any]) -> None:
        self.value = value
        self.aval = ShapedArray(value.shape, value.dtype)

    def __str__(self) -> str:
        return f"{self.value.item()!r}:{self.aval}"


Atom = Var | Literal


class Eqn:
    """One primitive application: `out = prim[params] inputs`."""

    __slots__ = ("prim", "inputs", "params", "out")

    def __init__(self, prim: Primitive, inputs: tuple[Atom, ...], params: dict[str, Any],
                 out: Var) -> None:
        self.prim = prim
        self.inputs = inputs
        self.params = params
        self.out = out


def _format_param(value: Any) -> str:
    if isinstance(value, np.dtype):
        return str(value.name)
    if isinstance(value, type) and issubclass(value, np.generic):
        return str(np.dtype(value).name)
    return repr(value)


class Graph(Generic[P]):
    """A traced function: inputs, constants, equations and outputs, each typed.

    Calling the graph evaluates it on new inputs of the same shapes and dtypes (under any
    active transformation), with the same pytree structure as the traced call.
    """

    def __init__(self, invars: list[Var], constvars: list[Var], consts: list[Any],
                 eqns: list[Eqn], outvars: list[Atom], in_tree: tree.TreeDef,
                 out_tree: tree.TreeDef) -> None:
        self.invars = invars
        self.constvars = constvars
        self.consts = consts
        self.eqns = eqns
        self.outvars = outvars
        self.in_tree = in_tree
        self.out_tree = out_tree
        self._traced_consts = any(isinstance(c, Tracer) for c in consts)
        self._replay: Callable[..., list[Any]] | None = None

    def evaluate(self, flat_args: Sequence[Any]) -> list[Any]:
        """Run the equations on a flat list of inputs; returns the flat outputs."""
        if (not any(isinstance(x, Tracer) for x in flat_args) and not self._traced_consts
                and not config.debug_nans):
            if self._replay is None:
                self._replay = compile_numpy(self)
            return self._replay(*flat_args)
        # Something is traced: bind each equation so the active transformations apply.
        env: dict[Var, Any] = dict(zip(self.constvars, self.consts))
        env.update(zip(self.invars, flat_args))

        def read(atom: Atom) -> Any:
            return atom.value if isinstance(atom, Literal) else env[atom]

        for eqn in self.eqns:
            env[eqn.out] = bind(eqn.prim, *[read(a) for a in eqn.inputs], **eqn.params)
        return [read(v) for v in self.outvars]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        if kwargs:
            raise TypeError("a Graph takes its inputs positionally, as the traced call did")
        leaves, in_tree = tree.flatten(args)
        if in_tree != self.in_tree:
            raise ValueError(f"graph inputs: expected the structure {self.in_tree}, got {in_tree}")
        for i, (var, x) in enumerate(zip(self.invars, leaves)):
            aval = aval_of(x)
            if aval != var.aval:
                raise ValueError(f"graph input {i}: expected {var.aval}, got {aval}")
        return tree.unflatten(self.out_tree, self.evaluate(leaves))

    def __str__(self) -> str:
        names: dict[Var, str] = {}

        def name(atom: Atom) -> str:
            if isinstance(atom, Literal):
                return str(atom)
            if atom not in names:
                names[atom] = _var_name(len(names))
            return names[atom]

        def decl(var: Var) -> str:
            return f"{name(var)}:{var.aval}"

        lines = [f"graph({', '.join(map(decl, self.invars))}) {{"]
        if self.constvars:
            lines.append(f"  consts {', '.join(map(decl, self.constvars))}")
        for eqn in self.eqns:
            params = ""
            if eqn.params:
                params = "[" + ", ".join(f"{k}={_format_param(v)}"
                                         for k, v in eqn.params.items()) + "]"
            args = " ".join(map(name, eqn.inputs))
            lines.append(f"  {decl(eqn.out)} = {eqn.prim.name}{params} {args}".rstrip())
        lines.append(f"  return {', '.join(map(name, self.outvars))}")
        lines.append("}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _var_name(i: int) -> str:
    """a, b, ..., z, ba, bb, ...: short names in order of first appearance."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = letters[i % 26]
    i //= 26
    while i:
        out = letters[i % 26] + out
        i //= 26
    return out


class GraphTracer(Tracer):
    """A value under make_graph: a variable of the graph being built."""

    __slots__ = ("graph_var",)

    def __init__(self, trace: GraphTrace, var: Var) -> None:
        self._trace = trace
        self.graph_var = var

    @property
    def aval(self) -> ShapedArray:
        return self.graph_var.aval


class GraphTrace(Trace):
    """Records each primitive as an equation instead of computing it."""

    name = "make_graph"

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.eqns: list[Eqn] = []
        self.constvars: list[Var] = []
        self.consts: list[Any] = []
        self._const_ids: dict[int, Var] = {}

    def new_input(self, aval: ShapedArray) -> GraphTracer:
        """A tracer for one input of the graph."""
        return GraphTracer(self, Var(aval))

    def atom(self, x: Any) -> Atom:
        """The graph's name for `x`: its variable, a literal scalar, or a captured constant."""
        if isinstance(x, GraphTracer) and x._trace is self:
            return x.graph_var
        if not isinstance(x, Tracer) and np.ndim(x) == 0:
            return Literal(np.asarray(x))
        # Arrays, and values of outer transformations, enter the graph as constants; the
        # same object captured twice is one constant.
        var = self._const_ids.get(id(x))
        if var is None:
            var = self._const_ids[id(x)] = Var(aval_of(x))
            self.constvars.append(var)
            self.consts.append(x)
        return var

    def process(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Any:
        inputs = tuple(self.atom(x) for x in args)
        out = Var(prim.shape_rule(*(a.aval for a in inputs), **params))
        self.eqns.append(Eqn(prim, inputs, params, out))
        return GraphTracer(self, out)


def trace_to_graph(f: Callable[..., Any], args: Sequence[Any],
                   kwargs: dict[str, Any] | None = None) -> Graph[Any]:
    """Trace f(*args, **kwargs) with abstract inputs into a Graph (kwargs are constants)."""
    leaves, in_tree = tree.flatten(tuple(args))
    with new_trace(GraphTrace) as trace:
        tracers = [trace.new_input(aval_of(x)) for x in leaves]
        out = f(*tree.unflatten(in_tree, tracers), **(kwargs or {}))
        out_leaves, out_tree = tree.flatten(out)
        outvars = [trace.atom(x) for x in out_leaves]
    invars = [t.graph_var for t in tracers]
    return Graph(invars, trace.constvars, trace.consts, trace.eqns, outvars, in_tree, out_tree)


def make_graph(f: Callable[P, Any]) -> Callable[P, Graph[P]]:
    """Return a function that traces `f` on example arguments and returns its Graph."""

    @functools.wraps(f)
    def traced(*args: P.args, **kwargs: P.kwargs) -> Graph[P]:
        return trace_to_graph(f, args, kwargs)

    return traced


# ---------------------------------------------------------------------------- simplification


Identities = dict[Primitive, tuple[tuple[int, float], ...]]
"""For a primitive, (operand position, value): a constant operand of that value everywhere
makes the equation return its other operand (x * 1, x + 0, ...)."""


def simplify(graph: Graph[P], identities: Identities | None = None) -> Graph[P]:
    """Fold constants, drop identity operations, merge common subexpressions, drop dead code."""
    folded = fold_constants(graph)
    if identities:
        folded = drop_identities(folded, identities)
    return eliminate_dead_code(eliminate_common_subexpressions(folded))


def drop_identities(graph: Graph[P], identities: Identities) -> Graph[P]:
    """Replace equations like x * ones by x (the ones of a gradient's seed, for instance)."""
    known: dict[Var, Any] = {v: c for v, c in zip(graph.constvars, graph.consts)
                             if not isinstance(c, Tracer)}
    renamed: dict[Var, Atom] = {}

    def value(a: Atom) -> Any:
        return a.value if isinstance(a, Literal) else known.get(a)

    eqns = []
    for eqn in graph.eqns:
        inputs = tuple(a if isinstance(a, Literal) else renamed.get(a, a) for a in eqn.inputs)
        for pos, neutral in identities.get(eqn.prim, ()):
            c = value(inputs[pos])
            other = inputs[1 - pos]
            if (c is not None and other.aval == eqn.out.aval
                    and bool(np.all(np.asarray(c) == neutral))):
                renamed[eqn.out] = other
                break
        else:
            eqns.append(Eqn(eqn.prim, inputs, eqn.params, eqn.out))
    outvars = [a if isinstance(a, Literal) else renamed.get(a, a) for a in graph.outvars]
    return Graph(graph.invars, graph.constvars, graph.consts, eqns, outvars, graph.in_tree,
                 graph.out_tree)


def fold_constants(graph: Graph[P]) -> Graph[P]:
    """Evaluate equations whose inputs are all known constants, once, at trace time."""
    known: dict[Var, Any] = {v: c for v, c in zip(graph.constvars, graph.consts)
                             if not isinstance(c, Tracer)}
    constvars, consts = list(graph.constvars), list(graph.consts)
    eqns = []
    for eqn in graph.eqns:
        if all(isinstance(a, Literal) or a in known for a in eqn.inputs):
            args = [a.value if isinstance(a, Literal) else known[a] for a in eqn.inputs]
            known[eqn.out] = value = eqn.prim.impl(*args, **eqn.params)
            constvars.append(eqn.out)
            consts.append(value)
        else:
            eqns.append(eqn)
    return Graph(graph.invars, constvars, consts, eqns, graph.outvars, graph.in_tree,
                 graph.out_tree)


def eliminate_common_subexpressions(graph: Graph[P]) -> Graph[P]:
    """Compute each (primitive, inputs, params) once."""
    seen: dict[tuple[Any, ...], Var] = {}
    renamed: dict[Var, Var] = {}

    def atom_key(a: Atom) -> Any:
        return ("lit", a.value.item(), a.aval.dtype) if isinstance(a, Literal) else renamed.get(a, a)

    eqns = []
    for eqn in graph.eqns:
        inputs = tuple(a if isinstance(a, Literal) else renamed.get(a, a) for a in eqn.inputs)
        try:
            key = (eqn.prim, tuple(map(atom_key, inputs)), tuple(sorted(eqn.params.items())))
            hash(key)
        except TypeError:  # unhashable params: keep the equation as it is
            eqns.append(Eqn(eqn.prim, inputs, eqn.params, eqn.out))
            continue
        if key in seen:
            renamed[eqn.out] = seen[key]
        else:
            seen[key] = eqn.out
            eqns.append(Eqn(eqn.prim, inputs, eqn.params, eqn.out))
    outvars = [a if isinstance(a, Literal) else renamed.get(a, a) for a in graph.outvars]
    return Graph(graph.invars, graph.constvars, graph.consts, eqns, outvars, graph.in_tree,
                 graph.out_tree)


def eliminate_dead_code(graph: Graph[P]) -> Graph[P]:
    """Drop equations and constants that no output depends on."""
    live = {a for a in graph.outvars if isinstance(a, Var)}
    eqns = []
    for eqn in reversed(graph.eqns):
        if eqn.out in live:
            eqns.append(eqn)
            live.update(a for a in eqn.inputs if isinstance(a, Var))
    eqns.reverse()
    kept = [(v, c) for v, c in zip(graph.constvars, graph.consts) if v in live]
    return Graph(graph.invars, [v for v, _ in kept], [c for _, c in kept], eqns,
                 graph.outvars, graph.in_tree, graph.out_tree)


# ---------------------------------------------------------------------------- replay


def compile_numpy(graph: Graph[Any]) -> Callable[..., list[Any]]:
    """The graph as a straight-line Python function of its inputs calling numpy directly.

    Replaying a graph this way costs about one Python call per equation, a few times less
    than an interpreter loop over an environment dict. Each variable is deleted after its
    last use, so intermediates are freed as early as in the interpreter.
    """
    names: dict[Var, str] = {}
    namespace: dict[str, Any] = {}

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
    for v in graph.outvars:
        if isinstance(v, Var):
            last_use[v] = len(graph.eqns)
    for var, value in zip(graph.constvars, graph.consts):
        namespace[name(var)] = value
    lines = [f"def replay({', '.join(name(v) for v in graph.invars)}):"]
    for i, eqn in enumerate(graph.eqns):
        fn = f"_f{i}"
        namespace[fn] = eqn.prim.impl
        args = [name(a) for a in eqn.inputs]
        for key, value in eqn.params.items():
            ref = f"_p{i}_{key}"
            namespace[ref] = value
            args.append(f"{key}={ref}")
        lines.append(f"    {name(eqn.out)} = {fn}({', '.join(args)})")
        dead = sorted({names[a] for a in eqn.inputs if isinstance(a, Var)
                       and last_use.get(a) == i and a not in graph.constvars})
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    lines.append(f"    return [{', '.join(name(v) for v in graph.outvars)}]")
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from the graph alone
    return namespace["replay"]  # type: ignore[no-any-return]
