"""explain: a gradient worked out step by step and printed, for teaching.

`explain(f)(*args)` traces f into its graph (as make_graph does) and runs two plain
interpreters over it. The forward pass evaluates the equations in order and prints each
one with its value. The backward pass walks them in reverse, applies each primitive's own
VJP rule (the rules grad uses, shown with their formula where a rule is a one-line lambda)
and prints the cotangent coming in and the cotangents going out, ending at the gradient.
Equations that carry graphs (a jitted call, custom_vjp, custom_jvp, checkpoint, cond,
scan, while) show the graph they run indented beneath them, in both passes. The variables
have the names `print(make_graph(f)(*args))` gives them.
"""

from __future__ import annotations

import ast
import functools
import linecache
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TextIO

import numpy as np
from typing_extensions import ParamSpec

from funcgrad import tree
from funcgrad.autodiff import _check_argnums, _fname, _reject_integer_args, substitute
from funcgrad.control import cond_p, scan_p, while_p
from funcgrad.core import ConcretizationError, Primitive, bind, differentiable, unaliased
from funcgrad.custom import checkpoint_p, custom_jvp_call_p, custom_vjp_call_p
from funcgrad.graph import Atom, Eqn, Graph, Literal, Var, VarNames, format_eqn, trace_to_graph
from funcgrad.jit import call_p

P = ParamSpec("P")


class Explanation(NamedTuple):
    """What explain returns besides what it prints, as value_and_grad does: f's value
    (a 0-d array) and its gradient (the structure of the argument, or a tuple of them
    for a sequence of argnums)."""

    value: np.ndarray[Any, Any]
    grad: Any


def explain(f: Callable[P, Any], argnums: int | Sequence[int] = 0, *,
            file: TextIO | None = None, width: int = 88, precision: int = 4,
            steps: int = 2) -> Callable[P, Explanation]:
    """Return a function printing f's forward and backward pass equation by equation and
    returning (value, gradient).

    file: where to print (sys.stdout by default, looked up at each call); width: the
    longest line; precision: significant digits of the numbers shown; steps: how many
    iterations of a scan or while loop are shown (all run).
    """
    fname = _fname(f)
    if width < 20 or precision < 1 or steps < 0:
        raise ValueError(f"explain of {fname}: width must be >= 20, precision >= 1 and "
                         f"steps >= 0, got width={width}, precision={precision}, "
                         f"steps={steps}")

    @functools.wraps(f)
    def explained(*args: P.args, **kwargs: P.kwargs) -> Explanation:
        nums = _check_argnums(argnums, len(args), fname)
        _reject_integer_args(args, nums, fname)
        diff = [args[i] for i in nums]
        labelled = [(f"argument {n}{tree.keystr(path)}", np.asarray(leaf))
                    for n, a in zip(nums, diff) for path, leaf in tree.flatten_with_path(a)[0]]
        leaves = [leaf for _, leaf in labelled]
        try:
            graph = trace_to_graph(
                lambda *d: f(*substitute(args, nums, d), **kwargs), diff)
        except ConcretizationError as err:
            raise ConcretizationError(
                f"explain of {fname} traces it into a graph first, as make_graph does, so "
                f"its Python control flow cannot depend on values: {err}") from None
        out = graph.out_avals
        if len(out) != 1 or out[0].shape != () or out[0].dtype.kind != "f":
            raise TypeError(f"explain of {fname}: the function must return a float scalar, "
                            f"but it returns {', '.join(map(str, out)) or 'nothing'}; "
                            "reduce it (e.g. .sum())")
        ex = _Explainer(graph.names(), width, precision, steps)
        ex.emit(0, f"forward pass of {fname}: each equation and its value")
        for (label, leaf), var in zip(labelled, graph.invars):
            ex.show(1, f"{ex.names.decl(var)} = {label}", [leaf])
        run = ex.forward(graph, leaves, 1, True)
        (result,) = run.outputs()
        ex.emit(0, f"value: {ex.names(graph.outvars[0])} = {ex.preview(result)}")
        ex.emit(0, "backward pass, the equations in reverse: ct v = d value / d v; a VJP rule")
        ex.emit(0, "gives the ct of one input from g (the ct coming in), out (the equation's")
        ex.emit(0, "value) and the inputs x, y, ...")
        seed = np.ones((), out[0].dtype)
        cts = ex.backward(run, [True] * len(leaves), [seed], 1, True)
        grads = [np.zeros_like(x) if c is None else c for c, x in zip(cts, leaves)]
        ex.emit(0, "gradient: the cotangents of the inputs")
        for (label, _), var, g in zip(labelled, graph.invars, grads):
            ex.show(1, f"{label} ({ex.names(var)})", [g])
        print("\n".join(ex.lines), file=sys.stdout if file is None else file)
        value, *grads = unaliased([result, *grads], leaves)
        per_arg = tree.unflatten(tree.structure(diff), grads)
        return Explanation(value, per_arg[0] if isinstance(argnums, int) else tuple(per_arg))

    return explained


@dataclass
class _Run:
    """One evaluation of a graph, kept for its backward pass: every variable's value, and
    the runs of the graphs its equations carry (by equation index)."""

    graph: Graph[Any]
    env: dict[Var, Any]
    nested: dict[int, list[_Run]] = field(default_factory=dict)

    def read(self, atom: Atom) -> Any:
        """The value of a variable or literal."""
        return atom.value if isinstance(atom, Literal) else self.env[atom]

    def outputs(self) -> list[Any]:
        """The graph's outputs."""
        return [self.read(v) for v in self.graph.outvars]


_CALLS = (call_p, checkpoint_p, custom_jvp_call_p)
"""Primitives that run the graph in their parameter `body` or `fun` on their operands."""


class _Explainer:
    """The two interpreters, writing their lines into `lines`."""

    def __init__(self, names: VarNames, width: int, precision: int, steps: int) -> None:
        self.names = names
        self.width = width
        self.precision = precision
        self.steps = steps
        self.lines: list[str] = []
        self._sources: dict[str, tuple[str, list[ast.Lambda | ast.FunctionDef]]] = {}

    # ------------------------------------------------------------------------ output

    def emit(self, depth: int, text: str) -> None:
        """One line, indented, cut to the width."""
        self.lines.append(self._cut("  " * depth + text))

    def _cut(self, line: str) -> str:
        return line if len(line) <= self.width else line[:self.width - 3] + "..."

    def show(self, depth: int, text: str, values: Sequence[Any], at: int | None = None,
             align: bool = True) -> None:
        """`text` and a preview of values, on one line if it fits (aligned in a column, or
        right after the text), else on two; in place of the line at `at`, kept for them, or
        at the end."""
        preview = " | ".join(map(self.preview, values))
        line = "  " * depth + text
        column = max(len(line) + 2, self.width // 2) if align else len(line) + 1
        if column + len(preview) <= self.width:
            lines = [line.ljust(column) + preview]
        else:
            lines = [self._cut(line), self._cut("  " * (depth + 2) + preview)]
        if at is None:
            self.lines.extend(lines)
        else:
            self.lines[at:at + 1] = lines

    def preview(self, x: Any) -> str:
        """A few numbers of x: all of up to 6 entries, else the first three, the last, the
        minimum and maximum."""
        a = np.asarray(x)

        def fmt(v: Any) -> str:
            if a.dtype.kind == "b":
                return str(bool(v))
            if a.dtype.kind in "iu":
                return str(int(v))
            return f"{v + 0.0:.{self.precision}g}"  # + 0.0: -0.0 is printed as 0

        if a.ndim == 0:
            return fmt(a[()])
        flat = a.reshape(-1)
        if flat.size <= 6:
            return "[" + ", ".join(map(fmt, flat)) + "]"
        text = f"[{', '.join(map(fmt, flat[:3]))}, ..., {fmt(flat[-1])}]"
        if a.dtype.kind in "fiu":
            text += f" min {fmt(a.min())} max {fmt(a.max())}"
        return text

    def _header(self, depth: int, label: str, graph: Graph[Any], sources: Sequence[str],
                values: Sequence[Any]) -> None:
        """A nested graph's title and its inputs, with where they come from."""
        self.emit(depth, f"{label}:")
        for var, source, value in zip(graph.invars, sources, values):
            self.show(depth + 1, f"{self.names.decl(var)} = {source}", [value])

    # ------------------------------------------------------------------------ forward

    def forward(self, graph: Graph[Any], args: Sequence[Any], depth: int, show: bool) -> _Run:
        """Evaluate the graph equation by equation, printing each (when `show`)."""
        run = _Run(graph, dict(zip(graph.constvars, graph.consts)))
        run.env.update(zip(graph.invars, args))
        if show:
            for var, value in zip(graph.constvars, graph.consts):
                self.show(depth, f"{self.names.decl(var)} = constant", [value])
        for i, eqn in enumerate(graph.eqns):
            at = len(self.lines)
            if show:
                self.lines.append("")  # the equation's line, written once its value is known
            outs, nested = self._forward_eqn(eqn, [run.read(a) for a in eqn.inputs],
                                             depth + 1, show)
            run.env.update(zip(eqn.outvars, outs))
            if nested:
                run.nested[i] = nested
            if show:
                self.show(depth, format_eqn(eqn, self.names), outs, at)
        return run

    def _nested(self, label: str, graph: Graph[Any], args: Sequence[Any], sources: Sequence[str],
                depth: int, show: bool) -> _Run:
        if show:
            self._header(depth, label, graph, sources, args)
        return self.forward(graph, args, depth + 1, show)

    def _forward_eqn(self, eqn: Eqn, args: list[Any], depth: int, show: bool
                     ) -> tuple[list[Any], list[_Run]]:
        prim, params = eqn.prim, eqn.params
        sources = [self.names(a) for a in eqn.inputs]
        if prim in _CALLS:
            key = "fun" if prim is custom_jvp_call_p else "body"
            run = self._nested(key, params[key], args, sources, depth, show)
            return run.outputs(), [run]
        if prim is custom_vjp_call_p:
            fwd = params["fwd"]
            run = self._nested(f"forward rule {fwd.name} (its outputs, then the residuals)",
                               fwd.graph, args, sources, depth, show)
            return run.outputs()[:len(eqn.outvars)], [run]
        if prim is cond_p:
            branches = params["branches"]
            k = int(np.clip(args[0], 0, len(branches) - 1))
            run = self._nested(f"branches[{k}] runs (index {sources[0]} = {int(args[0])})",
                               branches[k], args[1:], sources[1:], depth, show)
            return run.outputs(), [run]
        if prim is scan_p:
            return self._forward_scan(eqn, args, sources, depth, show)
        if prim is while_p:
            return self._forward_while(eqn, args, sources, depth, show)
        out = bind(prim, *args, **params)
        return (list(out) if prim.multiple_results else [out]), []

    def _forward_scan(self, eqn: Eqn, args: list[Any], sources: list[str], depth: int,
                      show: bool) -> tuple[list[Any], list[_Run]]:
        p = eqn.params
        n_consts, n_carry, length = p["n_consts"], p["n_carry"], p["length"]
        consts, carry = args[:n_consts], args[n_consts:n_consts + n_carry]
        xs = args[n_consts + n_carry:]
        carry_from = sources[n_consts:n_consts + n_carry]
        ys = [np.empty(v.aval.shape, v.aval.dtype) for v in eqn.outvars[n_carry:]]
        runs = []
        for count, t in enumerate(_scan_order(length, p["reverse"])):
            step_sources = [*sources[:n_consts], *carry_from,
                            *(f"{s}[{t}]" for s in sources[n_consts + n_carry:])]
            run = self._nested(f"step {t}", p["body"], [*consts, *carry, *(x[t] for x in xs)],
                               step_sources, depth, show and count < self.steps)
            outs = run.outputs()
            carry = outs[:n_carry]
            carry_from = ["the carry"] * n_carry
            for y, value in zip(ys, outs[n_carry:]):
                y[t] = value
            runs.append(run)
        self._more_steps(depth, show, length)
        return [*carry, *ys], runs

    def _forward_while(self, eqn: Eqn, args: list[Any], sources: list[str], depth: int,
                       show: bool) -> tuple[list[Any], list[_Run]]:
        p = eqn.params
        n_cond, n_body = p["n_cond"], p["n_body"]
        cond_consts, body_consts = args[:n_cond], args[n_cond:n_cond + n_body]
        carry = args[n_cond + n_body:]
        carry_from = sources[n_cond + n_body:]
        runs: list[_Run] = []
        while p["cond"].evaluate([*cond_consts, *carry])[0]:
            run = self._nested(f"step {len(runs)} (cond holds)", p["body"],
                               [*body_consts, *carry], [*sources[n_cond:n_cond + n_body],
                                                         *carry_from],
                               depth, show and len(runs) < self.steps)
            carry = run.outputs()
            carry_from = ["the carry"] * len(carry)
            runs.append(run)
        self._more_steps(depth, show, len(runs))
        return list(carry), runs

    def _more_steps(self, depth: int, show: bool, length: int) -> None:
        if show and length > self.steps:
            self.emit(depth, f"... {length - self.steps} more step(s) alike, not shown")

    # ------------------------------------------------------------------------ backward

    def backward(self, run: _Run, diff: Sequence[bool], out_cts: Sequence[Any], depth: int,
                 show: bool) -> list[Any]:
        """Send the outputs' cotangents back through the graph's equations in reverse;
        returns the inputs' cotangents (None where none arrives). `diff`: which inputs
        are differentiated."""
        graph = run.graph
        active = {v for v, d in zip(graph.invars, diff) if d and differentiable(v.aval.dtype)}
        for eqn in graph.eqns:
            if _wanted(eqn, active):
                active.update(v for v in eqn.outvars if differentiable(v.aval.dtype))
        cts: dict[Var, Any] = {}
        for var, ct in zip(graph.outvars, out_cts):
            if isinstance(var, Var) and var in active and ct is not None:
                cts[var] = ct + cts[var] if var in cts else ct
        for i in range(len(graph.eqns) - 1, -1, -1):
            eqn = graph.eqns[i]
            outs_ct = [cts.pop(v, None) for v in eqn.outvars]
            if all(c is None for c in outs_ct):
                continue
            wanted = _wanted(eqn, active)
            if show:
                self.emit(depth, format_eqn(eqn, self.names))
                for var, ct in zip(eqn.outvars, outs_ct):
                    if ct is not None:
                        self.show(depth + 1, f"ct in  {self.names(var)} =", [ct], align=False)

            def send(j: int, ct: Any, eqn: Eqn = eqn) -> None:
                if ct is None:
                    return
                var = eqn.inputs[j]
                assert isinstance(var, Var)
                _check_cotangent(eqn.prim, j, ct, var)
                if show:
                    sign = "+=" if var in cts else "="
                    self.show(depth + 1, f"ct out {self.names(var)} {sign}", [ct], align=False)
                cts[var] = ct + cts[var] if var in cts else ct

            self._backward_eqn(eqn, run, i, outs_ct, wanted, send, depth + 1, show)
        return [cts.get(v) for v in graph.invars]

    def _backward_eqn(self, eqn: Eqn, run: _Run, i: int, outs_ct: list[Any], wanted: list[int],
                      send: Callable[[int, Any], None], depth: int, show: bool) -> None:
        """Send the cotangents of the equation's wanted inputs (by position) to `send`."""
        prim, params = eqn.prim, eqn.params
        args = [run.read(a) for a in eqn.inputs]
        nested = run.nested.get(i, [])
        flags = [j in wanted for j in range(len(args))]
        ct_names = [f"ct {self.names(v)}" for v in eqn.outvars]
        in_cts: Sequence[Any]

        def rule(text: str, sep: str = ":") -> None:
            if show:
                self.emit(depth, f"rule   {prim.name}{sep} {text}")

        if prim in _CALLS and prim is not custom_jvp_call_p:
            rule("the backward pass of its body" + (
                " (which grad recomputes here)" if prim is checkpoint_p else ""))
            in_cts = self._nested_backward("body", nested[0], flags, outs_ct, ct_names, depth,
                                           show)
        elif prim is cond_p:
            rule("the backward pass of the branch that ran")
            in_cts = [None, *self._nested_backward("branch", nested[0], flags[1:], outs_ct,
                                                   ct_names, depth, show)]
        elif prim is custom_vjp_call_p:
            in_cts = self._backward_custom_vjp(eqn, nested[0], outs_ct, depth, show)
        elif prim is custom_jvp_call_p:
            in_cts = self._backward_custom_jvp(eqn, args, outs_ct, flags, depth, show)
        elif prim is scan_p:
            in_cts = self._backward_scan(eqn, nested, outs_ct, flags, depth, show)
        elif prim is while_p:
            in_cts = self._backward_while(eqn, nested, outs_ct, flags, depth, show)
        elif prim.vjp_call is not None:  # a primitive carrying graphs explain does not know
            rule("its own VJP (vjp_call), not shown step by step")
            in_cts = prim.vjp_call(flags, args, params)[1](outs_ct)
        else:
            if prim.multiple_results:
                ct_arg: Any = tuple(
                    None if c is None and not differentiable(v.aval.dtype) else
                    np.zeros(v.aval.shape, v.aval.dtype) if c is None else c
                    for c, v in zip(outs_ct, eqn.outvars))
                out: Any = tuple(run.read(v) for v in eqn.outvars)
            else:
                ct_arg, out = outs_ct[0], run.read(eqn.outvars[0])
            for j in wanted:
                vjp_rule = prim.vjp_rule(j)
                assert vjp_rule is not None
                arg_name, formula = self._rule_text(vjp_rule, j)
                rule(f"for {arg_name} = {self.names(eqn.inputs[j])}: {formula}", ",")
                send(j, vjp_rule(ct_arg, out, *args, **params))
            return
        for j in wanted:
            send(j, in_cts[j])

    def _nested_backward(self, label: str, run: _Run, diff: Sequence[bool],
                         out_cts: Sequence[Any], sources: Sequence[str], depth: int,
                         show: bool) -> list[Any]:
        """The backward pass of a nested graph, titled, with where its outputs'
        cotangents come from (`sources`)."""
        if show:
            self.emit(depth, f"{label}, in reverse:")
            for var, source, ct in zip(run.graph.outvars, sources, out_cts):
                if ct is not None and isinstance(var, Var):
                    self.show(depth + 1, f"ct {self.names(var)} = {source} =", [ct],
                              align=False)
        return self.backward(run, diff, out_cts, depth + 1, show)

    def _backward_custom_vjp(self, eqn: Eqn, fwd_run: _Run, outs_ct: list[Any], depth: int,
                             show: bool) -> list[Any]:
        bwd = eqn.params["bwd"]
        n_out = len(eqn.outvars)
        if show:
            self.emit(depth, f"rule   custom_vjp_call: the backward rule {bwd.name}, on the "
                             "residuals and cts")
        residuals = fwd_run.outputs()[n_out:]
        cts = [np.zeros(v.aval.shape, v.aval.dtype) if c is None else c
               for c, v in zip(outs_ct, eqn.outvars)]
        res_names = [f"residual {k}" for k in range(len(residuals))]
        ct_names = [f"ct {self.names(v)}" for v in eqn.outvars]
        run = self._nested(f"backward rule {bwd.name}", bwd.graph, [*residuals, *cts], [*res_names, *ct_names],
                           depth, show)
        return run.outputs()

    def _backward_custom_jvp(self, eqn: Eqn, args: list[Any], outs_ct: list[Any],
                             flags: list[bool], depth: int, show: bool) -> list[Any]:
        # The JVP rule is linear in the tangents: its backward pass in them, at zero
        # tangents, is its transpose, which is the VJP.
        jvp = eqn.params["jvp"]
        if show:
            self.emit(depth, f"rule   custom_jvp_call: the transpose of {jvp.name} (backward "
                             "in the tangents)")
        n, n_out = len(args), len(eqn.outvars)
        zeros = [np.zeros(np.shape(a), np.asarray(a).dtype) for a in args]
        sources = [self.names(a) for a in eqn.inputs]
        run = self._nested(f"JVP rule {jvp.name} at zero tangents", jvp.graph, [*args, *zeros],
                           [*sources, *(f"tangent of {s}" for s in sources)], depth, show)
        return self._nested_backward(f"JVP rule {jvp.name}", run, [False] * n + flags,
                                     [None] * n_out + outs_ct,
                                     [""] * n_out + [f"ct {self.names(v)}" for v in eqn.outvars],
                                     depth, show)[n:]

    def _backward_loop(self, label: str, runs: list[_Run], order: Sequence[int],
                       body_diff: list[bool], carry_ct: list[Any], n_consts: int,
                       y_cts: Callable[[int], list[Any]], loop: Eqn, depth: int, show: bool
                       ) -> tuple[list[Any], list[Any], list[tuple[int, list[Any]]]]:
        """The backward pass of a loop's body, step by step in reverse: returns the
        constants' summed cotangents, the carry's at the start, and each step's others."""
        n_carry = len(carry_ct)
        const_cts: list[Any] = [None] * n_consts
        carry_from = [f"ct {self.names(v)}" for v in loop.outvars[:n_carry]]
        per_step = []
        for count, (t, run) in enumerate(zip(reversed(order), reversed(runs))):
            y_from = [f"ct {self.names(v)}[{t}]" for v in loop.outvars[n_carry:]]
            in_cts = self._nested_backward(f"{label} {t}", run, body_diff,
                                           [*carry_ct, *y_cts(t)], [*carry_from, *y_from],
                                           depth, show and count < self.steps)
            carry_from = [f"the carry's ct from step {t}"] * n_carry
            const_cts = [c if a is None else a if c is None else a + c
                         for a, c in zip(const_cts, in_cts[:n_consts])]
            carry_ct = in_cts[n_consts:n_consts + n_carry]
            per_step.append((t, in_cts[n_consts + n_carry:]))
        self._more_steps(depth, show, len(runs))
        return const_cts, carry_ct, per_step

    def _backward_scan(self, eqn: Eqn, runs: list[_Run], outs_ct: list[Any],
                       flags: list[bool], depth: int, show: bool) -> list[Any]:
        p = eqn.params
        n_consts, n_carry, length = p["n_consts"], p["n_carry"], p["length"]
        if show:
            self.emit(depth, "rule   scan: its body's backward pass, step by step in reverse")
        # The carry may take up what any differentiated operand feeds it.
        body_diff = [*flags[:n_consts], *[any(flags)] * n_carry, *flags[n_consts + n_carry:]]
        y_cts = outs_ct[n_carry:]
        const_cts, carry_ct, per_step = self._backward_loop(
            "step", runs, _scan_order(length, p["reverse"]), body_diff, outs_ct[:n_carry],
            n_consts, lambda t: [None if y is None else y[t] for y in y_cts], eqn, depth, show)
        xs = eqn.inputs[n_consts + n_carry:]
        x_cts: list[Any] = [np.zeros(x.aval.shape, x.aval.dtype) for x in xs]
        for t, cts in per_step:
            for stacked, c in zip(x_cts, cts):
                if c is not None:
                    stacked[t] = c
        return [*const_cts, *carry_ct, *x_cts]

    def _backward_while(self, eqn: Eqn, runs: list[_Run], outs_ct: list[Any],
                        flags: list[bool], depth: int, show: bool) -> list[Any]:
        n_cond, n_body = eqn.params["n_cond"], eqn.params["n_body"]
        if show:
            self.emit(depth, "rule   while: its body's backward pass, step by step in "
                             "reverse")
        body_flags = flags[n_cond:]
        body_diff = [*body_flags[:n_body], *[any(body_flags)] * (len(body_flags) - n_body)]
        const_cts, carry_ct, _ = self._backward_loop(
            "step", runs, range(len(runs)), body_diff, outs_ct, n_body, lambda t: [], eqn,
            depth, show)
        return [*[None] * n_cond, *const_cts, *carry_ct]

    # ------------------------------------------------------------------------ rules

    def _rule_text(self, rule: Callable[..., Any], argnum: int) -> tuple[str, str]:
        """The name the rule gives argument `argnum`, and the rule's formula: the
        expression a lambda or a one-line function returns, from its source, or else the
        function's name."""
        code = getattr(rule, "__code__", None)
        if code is None:
            return f"argument {argnum}", getattr(rule, "__qualname__", type(rule).__name__)
        names = code.co_varnames[:code.co_argcount]
        arg_name = names[2 + argnum] if 2 + argnum < len(names) else f"argument {argnum}"
        formula = self._formula(code)
        if formula is None:
            return arg_name, rule.__qualname__
        # The legend calls the first two parameters g and out; other names are shown.
        return arg_name, (formula if names[:2] == ("g", "out") else
                          f"({', '.join(names)}) -> {formula}")

    def _formula(self, code: Any) -> str | None:
        """The source of the expression a function returns, if its body is one expression."""
        filename = code.co_filename
        if filename not in self._sources:
            source = "".join(linecache.getlines(filename))
            try:
                nodes = [n for n in ast.walk(ast.parse(source))
                         if isinstance(n, (ast.Lambda, ast.FunctionDef))]
            except SyntaxError:
                nodes = []
            self._sources[filename] = (source, nodes)
        source, nodes = self._sources[filename]
        body: ast.expr | None = None
        if code.co_name == "<lambda>":
            # Several lambdas may share the line: the one whose body spans the code's
            # instructions (the smallest, if lambdas are nested).
            spans = [(p[0], p[2], p[1], p[3]) for p in code.co_positions()
                     if None not in p and (p[0], p[2]) != (p[1], p[3])]
            if spans:
                first, last = min(s[:2] for s in spans), max(s[2:] for s in spans)
                found = [n.body for n in nodes if isinstance(n, ast.Lambda)
                         and n.lineno == code.co_firstlineno
                         and (n.body.lineno, n.body.col_offset) <= first
                         and (n.body.end_lineno or 0, n.body.end_col_offset or 0) >= last]
                body = min(found, key=lambda b: len(ast.get_source_segment(source, b) or ""),
                           default=None)
        else:
            for n in nodes:
                if (isinstance(n, ast.FunctionDef) and n.name == code.co_name
                        and code.co_firstlineno in [n.lineno, *(d.lineno for d in n.decorator_list)]):
                    statements = [st for st in n.body if not (isinstance(st, ast.Expr)
                                                              and isinstance(st.value, ast.Constant))]
                    if len(statements) == 1 and isinstance(statements[0], ast.Return):
                        body = statements[0].value
        text = ast.get_source_segment(source, body) if body is not None else None
        return re.sub(r"\s+", " ", text) if text else None


def _scan_order(length: int, reverse: bool) -> range:
    return range(length - 1, -1, -1) if reverse else range(length)


def _wanted(eqn: Eqn, active: set[Var]) -> list[int]:
    """The positions of the equation's inputs that get cotangents."""
    prim = eqn.prim
    return [j for j, a in enumerate(eqn.inputs)
            if isinstance(a, Var) and a in active
            and (prim.vjp_call is not None or prim.vjp_rule(j) is not None)]


def _check_cotangent(prim: Primitive, argnum: int, ct: Any, var: Var) -> None:
    shape, dtype = np.shape(ct), np.asarray(ct).dtype
    if shape != var.aval.shape or dtype != var.aval.dtype:
        raise TypeError(f"explain: the VJP rule of '{prim.name}' for argument {argnum} "
                        f"returned a cotangent {dtype.name}{list(shape)}, but the argument "
                        f"is {var.aval}")
