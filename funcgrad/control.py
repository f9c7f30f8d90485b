"""Control flow: cond, switch, scan, map, fori_loop and while_loop, with JAX's signatures.

Each is one primitive whose parameters are the traced graphs of the user's functions, so
a loop is one equation whatever its length, and every transformation handles it by a
rule: grad of a scan is a scan over the steps' residuals in reverse (memory: the
residuals of each step, no graph per step); grad of a cond is a cond of the branches'
forward and backward graphs; vmap batches the graphs (a batched predicate evaluates every
branch and selects). Values the functions read from their closures become operands.

Beyond JAX: grad of while_loop works when the loop's values are known (under grad, not
under jit): the trip count is found by running the loop, then it is differentiated as a
scan of that many steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from funcgrad import numpy as fnp
from funcgrad import tree
from funcgrad.autodiff import substitute
from funcgrad.core import (Backward, ConcretizationError, Primitive, ShapedArray, Tracer,
                           aval_of, differentiable, user_location)
from funcgrad.graph import Graph, Var, hoist_traced_consts, trace_avals
from funcgrad.jit import batched, call_p, compiled, run, split
from funcgrad.primitives.base import move_to_front

T = TypeVar("T")


def _name(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", repr(f))


def _describe(structure: tree.TreeDef, avals: Sequence[ShapedArray]) -> str:
    return f"{structure} with leaves {', '.join(str(a) for a in avals) or '(none)'}"


def _zeros(avals: Sequence[ShapedArray]) -> list[Any]:
    return [np.zeros(a.shape, a.dtype) for a in avals]


def _traced(f: Callable[..., Any], avals: Sequence[ShapedArray]) -> tuple[Graph[Any], list[Any]]:
    """f's graph with the traced values it closes over as leading inputs, and those values."""
    graph: Graph[Any]
    graph, closed_over = hoist_traced_consts(trace_avals(f, avals))
    return graph, closed_over


def _among(graph: Graph[Any], before: Sequence[ShapedArray], own: int,
           after: Sequence[ShapedArray]) -> Graph[Any]:
    """The graph with its first `own` inputs placed among unused ones (`before` and `after`
    them): a branch reading its own block of inputs shared by all branches."""
    invars = ([Var(a) for a in before] + graph.invars[:own] + [Var(a) for a in after]
              + graph.invars[own:])
    return graph.replace(invars=invars, in_tree=tree.structure([0] * len(invars)))


def _concrete(x: Any) -> Any:
    """x's value where it is known (a tracer of grad knows it), else None."""
    return x._trace.concrete(x) if isinstance(x, Tracer) else np.asarray(x)


# ---------------------------------------------------------------------------- cond / switch


def _cond_impl(index: Any, *args: Any, branches: tuple[Graph[Any], ...]) -> list[Any]:
    return run(branches[int(np.clip(index, 0, len(branches) - 1))], args)


def _cond_vjp(diff: Sequence[bool], args: Sequence[Any], params: dict[str, Any]
              ) -> tuple[Sequence[Any], Backward]:
    # Each branch splits into a forward and a backward graph; their residuals differ, so
    # every forward graph returns all branches' residual slots (zeros in the others') and
    # every backward graph takes them all. Forward and backward are conds on the index.
    branches = params["branches"]
    index, operands = args[0], args[1:]
    splits = [split(b, diff[1:]) for b in branches]
    n_out = len(branches[0].outvars)
    slots = [fwd.out_avals[n_out:] for fwd, _ in splits]
    forwards, backwards = [], []
    for i, (fwd, bwd) in enumerate(splits):
        others = [Var(a) for j, s in enumerate(slots) if j != i for a in s]
        fill = iter(others)
        outvars = list(fwd.outvars[:n_out])
        for j, s in enumerate(slots):
            outvars += fwd.outvars[n_out:] if j == i else [next(fill) for _ in s]
        forwards.append(fwd.replace(constvars=fwd.constvars + others,
                                    consts=fwd.consts + _zeros([v.aval for v in others]),
                                    outvars=outvars,
                                    out_tree=tree.structure([0] * len(outvars))))
        backwards.append(_among(bwd, [a for s in slots[:i] for a in s], len(slots[i]),
                                [a for s in slots[i + 1:] for a in s]))
    outs = cond_p.bind_multi(index, *operands, branches=tuple(forwards))
    residuals = outs[n_out:]
    positions = [i for i, d in enumerate(diff) if d]

    def backward(cts: Sequence[Any]) -> Sequence[Any]:
        full = [np.zeros(a.shape, a.dtype) if c is None else c
                for c, a in zip(cts, branches[0].out_avals)]
        in_cts = cond_p.bind_multi(index, *residuals, *full, branches=tuple(backwards))
        return substitute([None] * len(args), positions, in_cts)

    return outs[:n_out], backward


def _cond_batch(prim: Primitive, size: int, args: Sequence[Any], flags: Sequence[bool], *,
                branches: tuple[Graph[Any], ...]) -> Sequence[Any]:
    index, operands = args[0], args[1:]
    bodies = tuple(batched(b, size, flags[1:]) for b in branches)
    if not flags[0]:
        return prim.bind_multi(index, *operands, branches=bodies)
    # A predicate per example: every branch runs on the whole batch; each example keeps
    # the outputs of its own branch.
    chosen = fnp.clip(index, 0, len(branches) - 1)
    outs = [call_p.bind_multi(*operands, body=b, name=f"branch{i}")
            for i, b in enumerate(bodies)]
    rows = np.arange(size)
    return [fnp.getitem(fnp.stack([o[k] for o in outs]), (chosen, rows))
            for k in range(len(branches[0].outvars))]


cond_p = Primitive("cond", _cond_impl, lambda index, *avals, branches: branches[0].out_avals,
                   batch=_cond_batch, multiple_results=True, vjp_call=_cond_vjp,
                   complex_rules=True)
"""switch/cond: operands (index, *args); `branches` are the branches' graphs."""


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """branches[index](*operands), index clamped to the branches, as jax.lax.switch."""
    if not branches:
        raise ValueError("switch: needs at least one branch")
    leaves, in_tree = tree.flatten(operands)
    avals = [aval_of(x) for x in leaves]
    graphs, closed_over, out_trees = [], [], []
    for f in branches:
        graph, values = _traced(lambda *xs, f=f: f(*tree.unflatten(in_tree, xs)), avals)
        graphs.append(graph)
        closed_over.append(values)
        out_trees.append(graph.out_tree)
    for f, g, t in zip(branches[1:], graphs[1:], out_trees[1:]):
        if t != out_trees[0] or g.out_avals != graphs[0].out_avals:
            raise TypeError(
                f"cond/switch: the branches must return the same structure, shapes and dtypes, "
                f"but {_name(branches[0])} returns "
                f"{_describe(out_trees[0], graphs[0].out_avals)} and {_name(f)} returns "
                f"{_describe(t, g.out_avals)}" + user_location())
    # Each branch reads the values all branches close over (its own, ignoring the rest).
    counts = [len(v) for v in closed_over]
    lifted = [aval_of(x) for v in closed_over for x in v]
    widened = [_among(g, lifted[:sum(counts[:i])], counts[i], lifted[sum(counts[:i + 1]):])
               for i, g in enumerate(graphs)]
    idx = index if isinstance(index, Tracer) else np.asarray(index)
    if idx.shape != () or idx.dtype.kind not in "iub":
        raise TypeError(f"switch: the index must be an integer scalar, got {aval_of(idx)}"
                        + user_location())
    outs = cond_p.bind_multi(fnp.astype(idx, np.int32),
                             *[x for v in closed_over for x in v], *leaves,
                             branches=tuple(widened))
    return tree.unflatten(out_trees[0], outs)


def cond(pred: Any, true_fun: Callable[..., T], false_fun: Callable[..., T],
         *operands: Any) -> T:
    """true_fun(*operands) if pred else false_fun(*operands), as jax.lax.cond.

    Both branches are traced (so they must return the same structure, shapes and dtypes);
    one runs. pred may be traced: under vmap with a predicate per example both run and
    each example takes its branch's result.
    """
    p = pred if isinstance(pred, Tracer) else np.asarray(pred)
    if p.shape != ():
        raise TypeError(f"cond: the predicate must be a scalar, got {aval_of(p)}; for "
                        "elementwise choices use funcgrad.numpy.where" + user_location())
    truth = p if p.dtype == np.bool_ else fnp.not_equal(p, 0)
    result: T = switch(fnp.astype(truth, np.int32), [false_fun, true_fun], *operands)
    return result


# ---------------------------------------------------------------------------- scan


def _scan_impl(*args: Any, body: Graph[Any], n_consts: int, n_carry: int, length: int,
               reverse: bool) -> list[Any]:
    consts, carry = list(args[:n_consts]), list(args[n_consts:n_consts + n_carry])
    xs = args[n_consts + n_carry:]
    y_avals = body.out_avals[n_carry:]
    ys = [np.empty((length, *a.shape), a.dtype) for a in y_avals]
    step = compiled(body)  # looked up once: the loop below is the scan's whole cost
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        out = step(*consts, *carry, *[x[i] for x in xs])
        carry = out[:n_carry]
        for y, value in zip(ys, out[n_carry:]):
            y[i] = value
    return [*(np.array(c) for c in carry), *ys] if length == 0 else [*carry, *ys]


def _scan_shapes(*avals: Any, body: Graph[Any], n_consts: int, n_carry: int, length: int,
                 reverse: bool) -> list[ShapedArray]:
    outs = body.out_avals
    return [*outs[:n_carry], *(ShapedArray((length, *a.shape), a.dtype) for a in outs[n_carry:])]


def _scan_vjp(diff: Sequence[bool], args: Sequence[Any], params: dict[str, Any]
              ) -> tuple[Sequence[Any], Backward]:
    # Forward: a scan of the body's forward graph, its residuals stacked as extra outputs.
    # Backward: a scan in the other direction of the body's backward graph, carrying the
    # carry's cotangent and the constants' summed cotangents, stacking the xs' ones.
    body, n_consts, n_carry = params["body"], params["n_consts"], params["n_carry"]
    length, reverse = params["length"], params["reverse"]
    # Everything floating is differentiated: the carry depends on whatever is.
    floats = [differentiable(a.dtype) for a in body.in_avals]
    fwd, bwd = split(body, floats)
    n_out = len(body.outvars)
    res_avals = fwd.out_avals[n_out:]
    fwd, kept, read = _stacked_residuals(fwd, n_out, n_consts, n_carry)
    outs = scan_p.bind_multi(*args, body=fwd, n_consts=n_consts, n_carry=n_carry,
                             length=length, reverse=reverse)
    stacked = outs[n_out:]
    const_res = [args[j] for j in read if j < n_consts]
    xs_res = [args[j] for j in read if j >= n_consts]
    diff_in = [i for i, f in enumerate(floats) if f]
    consts_d = [i for i in diff_in if i < n_consts]
    carry_d = [i for i in diff_in if n_consts <= i < n_consts + n_carry]
    out_avals = body.out_avals

    def step(*xs: Any) -> list[Any]:
        sizes = [len(const_res), len(carry_d), len(consts_d), len(stacked), len(xs_res)]
        c_res, ct_carry, acc, s_res, x_res, ct_y = _cut(xs, sizes)
        # the residuals in the backward graph's order, each from where it is kept
        from_steps, from_consts, from_xs = iter(s_res), iter(c_res), iter(x_res)
        sources = iter(read)
        res = [next(from_steps) if k else
               next(from_consts) if next(sources) < n_consts else next(from_xs) for k in kept]
        ct_out = substitute(_zeros(out_avals[:n_carry]), [i - n_consts for i in carry_d],
                            ct_carry)
        in_cts = bwd.evaluate([*res, *ct_out, *ct_y])  # inline: one flat step graph
        by_input = dict(zip(diff_in, in_cts))
        return [*(by_input[i] for i in carry_d),
                *(a + by_input[i] for a, i in zip(acc, consts_d)),
                *(by_input[i] for i in diff_in if i >= n_consts + n_carry)]

    def backward(cts: Sequence[Any]) -> Sequence[Any]:
        full = [np.zeros(a.shape, a.dtype) if c is None else c
                for c, a in zip(cts, _scan_shapes(body=body, n_consts=n_consts,
                                                  n_carry=n_carry, length=length,
                                                  reverse=reverse))]
        carry_avals = [body.in_avals[i] for i in carry_d]
        const_avals = [body.in_avals[i] for i in consts_d]
        y_avals = out_avals[n_carry:]
        step_avals = [*(aval_of(c) for c in const_res), *carry_avals, *const_avals,
                      *(a for a, k in zip(res_avals, kept) if k),
                      *(body.in_avals[j] for j in read if j >= n_consts), *y_avals]
        step_graph = trace_avals(step, step_avals)
        ct_carry = [full[i - n_consts] for i in carry_d]
        outs = scan_p.bind_multi(*const_res, *ct_carry, *_zeros(const_avals), *stacked,
                                 *xs_res, *full[n_carry:], body=step_graph,
                                 n_consts=len(const_res),
                                 n_carry=len(carry_d) + len(consts_d), length=length,
                                 reverse=not reverse)
        n_c = len(carry_d)
        found = dict(zip(carry_d, outs[:n_c]))
        found.update(zip(consts_d, outs[n_c:n_c + len(consts_d)]))
        found.update(zip([i for i in diff_in if i >= n_consts + n_carry],
                         outs[n_c + len(consts_d):]))
        return [found.get(i) if d else None for i, d in enumerate(diff)]

    return outs[:n_out], backward


def _stacked_residuals(fwd: Graph[Any], n_out: int, n_consts: int, n_carry: int
                       ) -> tuple[Graph[Any], list[bool], list[int]]:
    """The forward graph returning only the residuals that differ from step to step.

    A residual that is one of the scan's constants (a weight matrix) or the step's slice of
    its xs is read from the scan's own operands in the backward pass, not stacked: stacking
    a constant would keep `length` copies of it. Returns the pruned graph, for each residual
    whether it is stacked, and the operand positions of the others, in order.
    """
    key = ("scan residuals", n_out, n_consts, n_carry)
    found: tuple[Graph[Any], list[bool], list[int]] | None = fwd.derived.get(key)
    if found is None:
        position = {v: j for j, v in enumerate(fwd.invars)}
        kept, read, outvars = [], [], list(fwd.outvars[:n_out])
        for v in fwd.outvars[n_out:]:
            j = position.get(v) if isinstance(v, Var) else None
            if j is not None and not n_consts <= j < n_consts + n_carry:
                kept.append(False)
                read.append(j)
            else:
                kept.append(True)
                outvars.append(v)
        found = fwd.derived[key] = (fwd.replace(outvars=outvars), kept, read)
    return found


def _cut(xs: Sequence[Any], sizes: Sequence[int]) -> list[Sequence[Any]]:
    """xs cut into consecutive pieces of the given sizes, and the rest."""
    pieces, start = [], 0
    for n in sizes:
        pieces.append(xs[start:start + n])
        start += n
    return [*pieces, xs[start:]]


def _scan_batch(prim: Primitive, size: int, args: Sequence[Any], flags: Sequence[bool], *,
                body: Graph[Any], n_consts: int, n_carry: int, length: int,
                reverse: bool) -> Sequence[Any]:
    # The carry is batched from the start (any batched operand may reach it); the xs are
    # scanned along their first axis, so the batch axis goes second for the loop.
    consts, carry = args[:n_consts], args[n_consts:n_consts + n_carry]
    xs, x_flags = args[n_consts + n_carry:], flags[n_consts + n_carry:]
    carry = [move_to_front(c, size, b) for c, b in zip(carry, flags[n_consts:])]
    xs = [fnp.swapaxes(x, 0, 1) if b else x for x, b in zip(xs, x_flags)]
    body_flags = [*flags[:n_consts], *[True] * n_carry, *x_flags]
    outs = prim.bind_multi(*consts, *carry, *xs, body=batched(body, size, body_flags),
                           n_consts=n_consts, n_carry=n_carry, length=length, reverse=reverse)
    return [*outs[:n_carry], *(fnp.swapaxes(y, 0, 1) for y in outs[n_carry:])]


scan_p = Primitive("scan", _scan_impl, _scan_shapes, batch=_scan_batch, multiple_results=True,
                   vjp_call=_scan_vjp, complex_rules=True)
"""A loop over the leading axis of xs: operands (consts, carry, xs); `body` maps
(consts, carry, x) to (carry, y)."""


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None,
         length: int | None = None, reverse: bool = False) -> tuple[Any, Any]:
    """Loop f(carry, x) -> (carry, y) over the leading axis of xs; returns (carry, stacked ys).

    As jax.lax.scan: xs may be a pytree (each leaf scanned along its first axis) or None
    with `length`; the carry must keep its structure, shapes and dtypes.
    """
    x_leaves, x_tree = tree.flatten(xs)
    if any(aval_of(x).shape == () for x in x_leaves):
        raise ValueError(f"scan of {_name(f)}: every leaf of xs needs a leading axis to scan "
                         "over" + user_location())
    lengths = {aval_of(x).shape[0] for x in x_leaves}
    if length is not None:
        lengths.add(int(length))
    if not lengths:
        raise ValueError(f"scan of {_name(f)}: with no xs to scan over, give `length`"
                         + user_location())
    if len(lengths) != 1:
        raise ValueError(f"scan of {_name(f)}: the leading axes of xs and `length` differ: "
                         f"{sorted(lengths)}" + user_location())
    (n,) = lengths
    carry_leaves, carry_tree = tree.flatten(init)
    carry_avals = [aval_of(c) for c in carry_leaves]
    x_avals = [ShapedArray(aval_of(x).shape[1:], aval_of(x).dtype) for x in x_leaves]
    y_trees: list[tree.TreeDef] = []

    def step(*flat: Any) -> list[Any]:
        carry = tree.unflatten(carry_tree, flat[:len(carry_avals)])
        x = tree.unflatten(x_tree, flat[len(carry_avals):])
        result = f(carry, x)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"scan: {_name(f)} must return a pair (carry, y), got "
                            f"{type(result).__name__}" + user_location())
        new_leaves, new_tree = tree.flatten(result[0])
        new_avals = [aval_of(c) for c in new_leaves]
        if new_tree != carry_tree or new_avals != carry_avals:
            raise TypeError(
                f"scan: {_name(f)} must return a carry of the same structure, shapes and dtypes "
                f"as it receives, at every step; it receives "
                f"{_describe(carry_tree, carry_avals)} and returns "
                f"{_describe(new_tree, new_avals)}" + user_location())
        y_leaves, y_tree = tree.flatten(result[1])
        y_trees[:] = [y_tree]
        return [*new_leaves, *y_leaves]

    body, closed_over = _traced(step, [*carry_avals, *x_avals])
    outs = scan_p.bind_multi(*closed_over, *carry_leaves, *x_leaves, body=body,
                             n_consts=len(closed_over), n_carry=len(carry_leaves), length=n,
                             reverse=bool(reverse))
    return (tree.unflatten(carry_tree, outs[:len(carry_leaves)]),
            tree.unflatten(y_trees[0], outs[len(carry_leaves):]))


def map(f: Callable[[Any], Any], xs: Any) -> Any:
    """f applied to each slice of xs along its leading axis, stacked: jax.lax.map."""
    return scan(lambda carry, x: ((), f(x)), (), xs)[1]


# ---------------------------------------------------------------------------- loops


def _while_impl(*args: Any, cond: Graph[Any], body: Graph[Any], n_cond: int,
                n_body: int) -> list[Any]:
    cond_consts, body_consts = args[:n_cond], args[n_cond:n_cond + n_body]
    carry = [np.array(c) for c in args[n_cond + n_body:]]  # the loop's own, if it never runs
    while run(cond, [*cond_consts, *carry])[0]:
        carry = run(body, [*body_consts, *carry])
    return carry


def _while_vjp(diff: Sequence[bool], args: Sequence[Any], params: dict[str, Any]
               ) -> tuple[Sequence[Any], Backward]:
    # With the values known, the loop is a scan of as many steps as it runs.
    cond, body = params["cond"], params["body"]
    n_cond, n_body = params["n_cond"], params["n_body"]
    values = [_concrete(a) for a in args]
    if any(v is None for v in values):
        raise ConcretizationError(
            "differentiating while_loop needs its number of iterations, which is not known "
            "here: under jit or make_graph values are not known, and under vmap each example "
            "may loop a different number of times. Use scan, or fori_loop with bounds that "
            "are Python ints, or take grad outside jit and vmap." + user_location())
    steps = 0
    carry = values[n_cond + n_body:]
    while run(cond, [*values[:n_cond], *carry])[0]:
        carry = run(body, [*values[n_cond:n_cond + n_body], *carry])
        steps += 1
    n_carry = len(carry)
    scan_vjp = scan_p.vjp_call
    assert scan_vjp is not None
    # The body, (consts, carry) -> carry, is a scan body with no x and no y.
    outs, backward = scan_vjp(diff[n_cond:], args[n_cond:],
                              {"body": body, "n_consts": n_body, "n_carry": n_carry,
                               "length": steps, "reverse": False})
    return outs, lambda cts: [*[None] * n_cond, *backward(cts)]


def _while_batch(prim: Primitive, size: int, args: Sequence[Any], flags: Sequence[bool], *,
                 cond: Graph[Any], body: Graph[Any], n_cond: int, n_body: int
                 ) -> Sequence[Any]:
    # Each example stops on its own: the loop runs while any example's predicate holds,
    # and an example whose predicate is false keeps its carry.
    n_carry = len(args) - n_cond - n_body
    carry = [move_to_front(c, size, b) for c, b in zip(args[n_cond + n_body:],
                                                       flags[n_cond + n_body:])]
    cond_b = batched(cond, size, [*flags[:n_cond], *[True] * n_carry])
    body_b = batched(body, size, [*flags[n_cond:n_cond + n_body], *[True] * n_carry])
    carry_avals = [aval_of(c) for c in carry]
    cond_avals = [aval_of(a) for a in args[:n_cond]]
    body_avals = [aval_of(a) for a in args[n_cond:n_cond + n_body]]

    def any_running(*xs: Any) -> list[Any]:
        (pred,) = call_p.bind_multi(*xs, body=cond_b, name="cond")
        running = fnp.sum(fnp.astype(move_to_front(pred, size, True), np.int32))
        return [fnp.greater(running, 0)]

    def step(*xs: Any) -> list[Any]:
        cond_consts, body_consts = xs[:n_cond], xs[n_cond:n_cond + n_body]
        old = xs[n_cond + n_body:]
        (pred,) = call_p.bind_multi(*cond_consts, *old, body=cond_b, name="cond")
        new = call_p.bind_multi(*body_consts, *old, body=body_b, name="body")
        return [fnp.where(fnp.reshape(pred, (size,) + (1,) * (fnp.ndim(n) - 1)), n, o)
                for n, o in zip(new, old)]

    new_cond = trace_avals(any_running, [*cond_avals, *carry_avals])
    new_body = trace_avals(step, [*cond_avals, *body_avals, *carry_avals])
    return prim.bind_multi(*args[:n_cond], *args[:n_cond], *args[n_cond:n_cond + n_body],
                           *carry, cond=new_cond, body=new_body, n_cond=n_cond,
                           n_body=n_cond + n_body)


while_p = Primitive("while", _while_impl,
                    lambda *avals, cond, body, n_cond, n_body: body.out_avals,
                    batch=_while_batch, multiple_results=True, vjp_call=_while_vjp,
                    complex_rules=True)
"""A while loop: operands (cond consts, body consts, carry); `cond` maps (consts, carry)
to a bool scalar, `body` (consts, carry) to the carry."""


def while_loop(cond_fun: Callable[[T], Any], body_fun: Callable[[T], T], init_val: T) -> T:
    """Repeat val = body_fun(val) while cond_fun(val): jax.lax.while_loop.

    grad works when the values are known (under grad: the loop runs to count its
    iterations, then is differentiated as a scan); under jit, reverse-mode
    differentiation needs scan or fori_loop with static bounds, as in JAX.
    """
    leaves, carry_tree = tree.flatten(init_val)
    avals = [aval_of(x) for x in leaves]

    def pred(*xs: Any) -> list[Any]:
        p = cond_fun(tree.unflatten(carry_tree, xs))
        if aval_of(p).shape != () or aval_of(p).dtype != np.bool_:
            raise TypeError(f"while_loop: {_name(cond_fun)} must return a bool scalar, got "
                            f"{aval_of(p)}" + user_location())
        return [p]

    def step(*xs: Any) -> list[Any]:
        new_leaves, new_tree = tree.flatten(body_fun(tree.unflatten(carry_tree, xs)))
        new_avals = [aval_of(x) for x in new_leaves]
        if new_tree != carry_tree or new_avals != avals:
            raise TypeError(
                f"while_loop: {_name(body_fun)} must return a value of the same structure, "
                f"shapes and dtypes as it receives; it receives "
                f"{_describe(carry_tree, avals)} and returns {_describe(new_tree, new_avals)}"
                + user_location())
        return new_leaves

    cond_graph, cond_consts = _traced(pred, avals)
    body_graph, body_consts = _traced(step, avals)
    outs = while_p.bind_multi(*cond_consts, *body_consts, *leaves, cond=cond_graph,
                              body=body_graph, n_cond=len(cond_consts),
                              n_body=len(body_consts))
    result: T = tree.unflatten(carry_tree, outs)
    return result


def fori_loop(lower: Any, upper: Any, body_fun: Callable[[Any, T], T], init_val: T) -> T:
    """val = body_fun(i, val) for i in range(lower, upper): jax.lax.fori_loop.

    With bounds that are Python ints (or known values), a scan of upper - lower steps,
    differentiable in every mode; with traced bounds, a while_loop.
    """
    if not isinstance(lower, Tracer) and not isinstance(upper, Tracer):
        start, stop = int(lower), int(upper)

        def step(carry: tuple[Any, T], _: Any) -> tuple[tuple[Any, T], None]:
            i, val = carry
            return (i + 1, body_fun(i, val)), None

        (_, out), _ = scan(step, (np.asarray(start), init_val), None,
                           length=max(stop - start, 0))
        looped: T = out
        return looped
    index_dtype = np.result_type(aval_of(lower).dtype, aval_of(upper).dtype)
    _, _, result = while_loop(
        lambda c: c[0] < c[1],
        lambda c: (c[0] + 1, c[1], body_fun(c[0], c[2])),
        (fnp.astype(lower, index_dtype), fnp.astype(upper, index_dtype), init_val))
    final: T = result
    return final


# ---------------------------------------------------------------------------- index ops


def _start_grids(operand: Any, start_indices: Sequence[Any], sizes: Sequence[int]
                 ) -> tuple[Any, ...]:
    """Index arrays picking the block of `sizes` at `start_indices` (negative ones counted
    from the end, then clamped so that the block fits, as in JAX), one per axis, shaped to
    broadcast against each other."""
    shape = fnp.shape(operand)
    if len(start_indices) != len(shape) or len(sizes) != len(shape):
        raise ValueError(f"dynamic_slice: an operand of shape {shape} needs {len(shape)} start "
                         f"indices and sizes, got {len(start_indices)} and {len(sizes)}"
                         + user_location())
    grids = []
    for axis, (start, size, n) in enumerate(zip(start_indices, sizes, shape)):
        if not 0 <= size <= n:
            raise ValueError(f"dynamic_slice: size {size} for axis {axis} of length {n}"
                             + user_location())
        # as in JAX: a negative start counts from the end; then the block is made to fit
        start = fnp.astype(start, np.int64)
        first = fnp.clip(fnp.where(start < 0, start + n, start), 0, n - size)
        offsets = np.arange(size).reshape((-1,) + (1,) * (len(shape) - axis - 1))
        grids.append(first + offsets)
    return tuple(grids)


def dynamic_slice(operand: Any, start_indices: Sequence[Any], slice_sizes: Sequence[int]) -> Any:
    """operand[start:start + size] along every axis, with traced start indices (clamped)."""
    return fnp.getitem(operand, _start_grids(operand, start_indices, slice_sizes))


def dynamic_update_slice(operand: Any, update: Any, start_indices: Sequence[Any]) -> Any:
    """operand with the block at start_indices (clamped) replaced by update."""
    grids = _start_grids(operand, start_indices, fnp.shape(update))
    return fnp.at(operand)[grids].set(update)


def dynamic_slice_in_dim(operand: Any, start_index: Any, slice_size: int, axis: int = 0) -> Any:
    """dynamic_slice along one axis (the others whole)."""
    shape = fnp.shape(operand)
    axis %= len(shape)
    starts = [start_index if a == axis else 0 for a in range(len(shape))]
    sizes = [slice_size if a == axis else n for a, n in enumerate(shape)]
    return dynamic_slice(operand, starts, sizes)


def dynamic_index_in_dim(operand: Any, index: Any, axis: int = 0, keepdims: bool = True) -> Any:
    """operand[index] along one axis, with a traced index; keepdims keeps that axis."""
    out = dynamic_slice_in_dim(operand, index, 1, axis)
    return out if keepdims else fnp.squeeze(out, axis)
