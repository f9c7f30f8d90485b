"""The expression graph: variables, equations, graphs; building one by tracing, running it.

`make_graph(f)(*args)` traces `f` with abstract values (shapes and dtypes, no numbers) and
records every primitive applied as an equation. An equation may have several outputs,
and its parameters may be graphs themselves (jit's call, custom_vjp, ...), printed
nested under it. The graph prints one equation per line:

    c:f32[3] = tanh b
    d:f32[] = reduce_sum[axes=(0,)] c
    e:f32[1,2,2], f:u8[1,2,2] = max_pool2d[window=(2, 2), stride=(2, 2)] a
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic

import numpy as np
from typing_extensions import ParamSpec

from funcgrad import tree
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
    """One primitive application: `outvars = prim[params] inputs`."""

    __slots__ = ("prim", "inputs", "params", "outvars")

    def __init__(self, prim: Primitive, inputs: tuple[Atom, ...], params: dict[str, Any],
                 outvars: tuple[Var, ...]) -> None:
        self.prim = prim
        self.inputs = inputs
        self.params = params
        self.outvars = outvars


class LazyGraph:
    """A graph traced when first needed, printed by name: a custom rule's. Such a rule may
    call the very function it belongs to (`f_fwd` calling `f`), so tracing it at every
    call would never end; it is traced only when its rule is used."""

    __slots__ = ("name", "_make", "_graph")

    def __init__(self, name: str, make: Callable[[], Graph[Any]]) -> None:
        self.name = name
        self._make = make
        self._graph: Graph[Any] | None = None

    @property
    def graph(self) -> Graph[Any]:
        """The graph, traced on first use."""
        if self._graph is None:
            self._graph = self._make()
        return self._graph

    def __repr__(self) -> str:
        return self.name


def _format_param(value: Any) -> str:
    if isinstance(value, np.dtype):
        return str(value.name)
    if isinstance(value, type) and issubclass(value, np.generic):
        return str(np.dtype(value).name)
    if isinstance(value, str):
        return value
    return getattr(value, "__name__", None) or repr(value)


class Graph(Generic[P]):
    """A traced function: inputs, constants, equations and outputs, each typed.

    Calling the graph evaluates it on new inputs of the same shapes and dtypes (under any
    active transformation), with the same pytree structure as the traced call.
    `derived` caches what transformations derive from the graph (its compiled replay, its
    VJP split, its batched forms); graphs are never changed after they are built.
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
        self.derived: dict[Hashable, Any] = {}

    @property
    def in_avals(self) -> list[ShapedArray]:
        """The shapes and dtypes of the flat inputs."""
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        """The shapes and dtypes of the flat outputs."""
        return [v.aval for v in self.outvars]

    def replace(self, *, invars: list[Var] | None = None, constvars: list[Var] | None = None,
                consts: list[Any] | None = None, eqns: list[Eqn] | None = None,
                outvars: list[Atom] | None = None, in_tree: tree.TreeDef | None = None,
                out_tree: tree.TreeDef | None = None) -> Graph[P]:
        """A new graph with some of the parts replaced (the caches are not carried over)."""
        def pick(new: Any, old: Any) -> Any:
            return old if new is None else new

        return Graph(pick(invars, self.invars), pick(constvars, self.constvars),
                     pick(consts, self.consts), pick(eqns, self.eqns),
                     pick(outvars, self.outvars), pick(in_tree, self.in_tree),
                     pick(out_tree, self.out_tree))

    def evaluate(self, flat_args: Sequence[Any]) -> list[Any]:
        """Run the equations on a flat list of inputs, binding each one (so any active
        transformation applies); returns the flat outputs."""
        env: dict[Var, Any] = dict(zip(self.constvars, self.consts))
        env.update(zip(self.invars, flat_args))

        def read(atom: Atom) -> Any:
            return atom.value if isinstance(atom, Literal) else env[atom]

        for eqn in self.eqns:
            out: Any = bind(eqn.prim, *[read(a) for a in eqn.inputs], **eqn.params)
            if eqn.prim.multiple_results:
                env.update(zip(eqn.outvars, out))
            else:
                env[eqn.outvars[0]] = out
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
        return "\n".join(self._lines(VarNames(), ""))

    def __repr__(self) -> str:
        return str(self)

    def names(self) -> VarNames:
        """The names printing gives the variables, those of nested graphs included."""
        names = VarNames()
        self._lines(names, "")  # names are handed out in the order printing meets them
        return names

    def _lines(self, names: VarNames, indent: str) -> list[str]:
        # `names` is shared with nested graphs, so every variable printed has its own name.
        lines = [f"graph({', '.join(map(names.decl, self.invars))}) {{"]
        if self.constvars:
            lines.append(f"  consts {', '.join(map(names.decl, self.constvars))}")
        for eqn in self.eqns:
            lines.append(f"  {format_eqn(eqn, names)}")
            for label, sub in nested_graphs(eqn):
                nested = sub._lines(names, "")
                lines.append(f"    {label}: {nested[0]}")
                lines.extend("    " + line for line in nested[1:])
        lines.append(f"  return {', '.join(map(names, self.outvars))}")
        lines.append("}")
        return [indent + line for line in lines]

    def to_dot(self) -> str:
        """The graph as Graphviz DOT text: a node per variable and equation, edges for the
        data flow, nested graphs as clusters (their inputs and outputs joined to the
        equation that carries them by dashed edges)."""
        names = self.names()
        lines = ["digraph funcgrad {", '  node [fontname="monospace", fontsize=10];']
        _dot_body(self, names, "g0_", lines, "  ", [1])
        lines.append("}")
        return "\n".join(lines)


class VarNames:
    """Short names for variables (a, b, ..., z, ba, ...), in the order they are asked for;
    literals are written as their value and type."""

    __slots__ = ("_names",)

    def __init__(self) -> None:
        self._names: dict[Var, str] = {}

    def __call__(self, atom: Atom) -> str:
        if isinstance(atom, Literal):
            return str(atom)
        found = self._names.get(atom)
        if found is None:
            found = self._names[atom] = _var_name(len(self._names))
        return found

    def decl(self, var: Var) -> str:
        """`name:type`, as the variable is declared in a printed graph."""
        return f"{self(var)}:{var.aval}"


def format_params(eqn: Eqn) -> str:
    """The equation's parameters other than graphs, as printed: `[axes=(0,)]` or ''."""
    graphs = {key for key, value in eqn.params.items() if _graphs_of(value)}
    shown = [f"{k}={_format_param(v)}" for k, v in eqn.params.items() if k not in graphs]
    return f"[{', '.join(shown)}]" if shown else ""


def format_eqn(eqn: Eqn, names: VarNames) -> str:
    """One equation as printed: `c:f32[3] = mul[...] a b` (nested graphs not included)."""
    args = " ".join(map(names, eqn.inputs))
    outs = ", ".join(map(names.decl, eqn.outvars))
    return f"{outs} = {eqn.prim.name}{format_params(eqn)} {args}".rstrip()


def nested_graphs(eqn: Eqn) -> list[tuple[str, Graph[Any]]]:
    """The graphs among the equation's parameters, labelled as printed (`body`,
    `branches[1]`); graphs traced lazily (a custom rule's) are not included."""
    return [pair for key, value in eqn.params.items() for pair in _graphs_of(value, key)]


def _graphs_of(value: Any, key: str = "") -> list[tuple[str, Graph[Any]]]:
    """A parameter's graphs, labelled for printing: a graph, or a tuple of graphs (the
    branches of a cond)."""
    if isinstance(value, Graph):
        return [(key, value)]
    if isinstance(value, tuple) and value and all(isinstance(g, Graph) for g in value):
        return [(f"{key}[{i}]", g) for i, g in enumerate(value)]
    return []


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot_body(graph: Graph[Any], names: VarNames, prefix: str, lines: list[str], indent: str,
              counter: list[int]) -> tuple[list[str], list[str]]:
    """Append the graph's nodes and edges (node ids start with `prefix`, unique per nested
    graph, since graphs derived from one another may share variables); returns the ids of
    its input and output nodes. `counter` numbers the nested graphs."""
    def node(var: Var, attrs: str = "") -> str:
        ident = prefix + names(var)
        if ident not in declared:
            declared.add(ident)
            lines.append(f"{indent}{_dot_quote(ident)} [label={_dot_quote(names.decl(var))}"
                         f"{attrs}];")
        return ident

    def atom_node(atom: Atom, literal_ident: str) -> str:
        if isinstance(atom, Var):
            return node(atom)
        lines.append(f"{indent}{_dot_quote(literal_ident)} [label={_dot_quote(str(atom))}, "
                     "shape=plaintext];")
        return literal_ident

    def edge(source: str, target: str, attrs: str = "") -> None:
        lines.append(f"{indent}{_dot_quote(source)} -> {_dot_quote(target)}{attrs};")

    declared: set[str] = set()
    inputs = [node(v, ", shape=invhouse") for v in graph.invars]
    for v in graph.constvars:
        node(v, ", shape=box, style=dashed")
    for i, eqn in enumerate(graph.eqns):
        ident = f"{prefix}eqn{i}"
        label = f"{eqn.prim.name}{format_params(eqn)}"
        lines.append(f"{indent}{_dot_quote(ident)} [label={_dot_quote(label)}, shape=box, "
                     "style=filled, fillcolor=lightgrey];")
        for j, atom in enumerate(eqn.inputs):
            edge(atom_node(atom, f"{prefix}lit{i}_{j}"), ident)
        for var in eqn.outvars:
            edge(ident, node(var))
        for label, sub in nested_graphs(eqn):
            k = counter[0]
            counter[0] += 1
            lines.append(f"{indent}subgraph {_dot_quote(f'cluster_{k}')} {{")
            lines.append(f"{indent}  label={_dot_quote(f'{eqn.prim.name}: {label}')};")
            sub_in, sub_out = _dot_body(sub, names, f"g{k}_", lines, indent + "  ", counter)
            lines.append(f"{indent}}}")
            for s in sub_in:
                edge(ident, s, " [style=dashed]")
            for s in sub_out:
                edge(s, ident, " [style=dashed]")
    outputs = [atom_node(atom, f"{prefix}out{j}") for j, atom in enumerate(graph.outvars)]
    for ident in sorted(set(outputs) & declared):
        lines.append(f"{indent}{_dot_quote(ident)} [peripheries=2];")
    return inputs, outputs


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
        avals = prim.shape_rule(*(a.aval for a in inputs), **params)
        if prim.multiple_results:
            outvars = tuple(Var(a) for a in avals)
            self.eqns.append(Eqn(prim, inputs, params, outvars))
            return tuple(GraphTracer(self, v) for v in outvars)
        var = Var(avals)
        self.eqns.append(Eqn(prim, inputs, params, (var,)))
        return GraphTracer(self, var)


def trace_to_graph(f: Callable[..., Any], args: Sequence[Any],
                   kwargs: dict[str, Any] | None = None) -> Graph[Any]:
    """Trace f(*args, **kwargs) with abstract inputs into a Graph (kwargs are constants).

    Only the shapes and dtypes of the arrays (or tracers) in `args` are used.
    """
    leaves, in_tree = tree.flatten(tuple(args))
    return trace_avals(lambda *xs: f(*tree.unflatten(in_tree, xs), **(kwargs or {})),
                       [aval_of(x) for x in leaves], in_tree)


def trace_avals(f: Callable[..., Any], avals: Sequence[ShapedArray],
                in_tree: tree.TreeDef | None = None) -> Graph[Any]:
    """Trace f, a function of len(avals) arrays, into a Graph (in_tree: for printing and
    calling the graph with pytrees; flat by default)."""
    with new_trace(GraphTrace) as trace:
        tracers = [trace.new_input(a) for a in avals]
        out_leaves, out_tree = tree.flatten(f(*tracers))
        outvars = [trace.atom(x) for x in out_leaves]
    invars = [t.graph_var for t in tracers]
    if in_tree is None:
        in_tree = tree.structure([0] * len(avals))
    return Graph(invars, trace.constvars, trace.consts, trace.eqns, outvars, in_tree, out_tree)


def hoist_traced_consts(graph: Graph[P]) -> tuple[Graph[P], list[Tracer]]:
    """The graph with its traced constants (values of enclosing transformations, captured
    from a closure) turned into leading inputs, and those values.

    A graph carried by an equation must be closed (its constants plain arrays), so that
    the transformations applying to the captured values see them as operands.
    """
    traced = [(v, c) for v, c in zip(graph.constvars, graph.consts) if isinstance(c, Tracer)]
    if not traced:
        return graph, []
    kept = [(v, c) for v, c in zip(graph.constvars, graph.consts) if not isinstance(c, Tracer)]
    hoisted = graph.replace(invars=[v for v, _ in traced] + graph.invars,
                            constvars=[v for v, _ in kept], consts=[c for _, c in kept],
                            in_tree=tree.structure([0] * (len(traced) + len(graph.invars))))
    return hoisted, [c for _, c in traced]


def make_graph(f: Callable[P, Any]) -> Callable[P, Graph[P]]:
    """Return a function that traces `f` on example arguments and returns its Graph."""

    @functools.wraps(f)
    def traced(*args: P.args, **kwargs: P.kwargs) -> Graph[P]:
        return trace_to_graph(f, args, kwargs)

    return traced
