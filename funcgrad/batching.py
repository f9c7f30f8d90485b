"""vmap: run a function on a batch as if once per example, with one batched call per primitive.

Under `vmap` a value is a BatchTracer holding the whole batch with the batched axis in
front. Each primitive's batching rule (`Primitive.batch`) receives the batch size, the
operands (the batched ones with that leading axis) and which of them are batched, and
returns the batched result (every output batched). Rules are written with funcgrad
operations, so vmap composes with grad and jit. A primitive without a rule cannot be
vmapped: there is no silent per-example loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from typing_extensions import ParamSpec

from funcgrad import numpy as fnp
from funcgrad import tree
from funcgrad.core import Primitive, ShapedArray, Trace, Tracer, aval_of, new_trace
from funcgrad.graph import Graph, trace_avals
from funcgrad.primitives.base import move_to_front

P = ParamSpec("P")


class BatchTracer(Tracer):
    """A value under vmap: the stacked values of all examples, batch axis first."""

    __slots__ = ("val",)

    def __init__(self, trace: BatchTrace, val: Any) -> None:
        self._trace = trace
        self.val = val

    @property
    def aval(self) -> ShapedArray:
        a = aval_of(self.val)
        return ShapedArray(a.shape[1:], a.dtype)


class BatchTrace(Trace):
    """Applies each primitive's batching rule to whole batches."""

    name = "vmap"

    def __init__(self, level: int, size: int) -> None:
        super().__init__(level)
        self.size = size

    def process(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Any:
        vals = []
        batched = []
        for a in args:
            mine = type(a) is BatchTracer and a._trace is self
            vals.append(a.val if mine else a)
            batched.append(mine)
        if prim.batch is None:
            raise NotImplementedError(f"the primitive '{prim.name}' has no batching rule, so "
                                      "it cannot be used under vmap")
        out = prim.batch(prim, self.size, vals, batched, **params)
        if prim.multiple_results:
            return tuple(BatchTracer(self, o) for o in out)
        return BatchTracer(self, out)


def batch_graph(graph: Graph[Any], size: int, batched: Sequence[bool]) -> Graph[Any]:
    """The graph run on a batch of `size`: the inputs marked in `batched` have a leading
    batch axis, and so does every output."""
    avals = [ShapedArray((size, *a.shape), a.dtype) if b else a
             for a, b in zip(graph.in_avals, batched)]
    if not any(batched):  # the same for every example: computed once, broadcast
        return trace_avals(lambda *xs: [move_to_front(o, size, False)
                                        for o in graph.evaluate(xs)], avals)
    batched_f = vmap(lambda *xs: graph.evaluate(xs), in_axes=[0 if b else None for b in batched])
    return trace_avals(batched_f, avals)


# ---------------------------------------------------------------------------- vmap


def _leaf_axes(spec: Any, value: Any, where: str) -> list[int | None]:
    """The in_axes entry `spec` broadcast over the leaves of `value` (a pytree prefix)."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(tree.leaves(value))
    if isinstance(spec, dict) and isinstance(value, dict) and set(spec) == set(value):
        return [a for k in sorted(value) for a in _leaf_axes(spec[k], value[k], where)]
    if (isinstance(spec, (list, tuple)) and isinstance(value, (list, tuple))
            and len(spec) == len(value)):
        return [a for s, v in zip(spec, value) for a in _leaf_axes(s, v, where)]
    raise ValueError(f"vmap: in_axes {where} is {spec!r}, which is not a prefix of the "
                     f"argument's structure {tree.structure(value)}")


def vmap(f: Callable[P, Any], in_axes: Any = 0, out_axes: Any = 0) -> Callable[P, Any]:
    """Vectorise f over an axis of its arguments (in_axes: int, None, or a pytree prefix)."""

    @functools.wraps(f)
    def batched_f(*args: P.args, **kwargs: P.kwargs) -> Any:
        if isinstance(in_axes, (list, tuple)):
            if len(in_axes) != len(args):
                raise ValueError(f"vmap: in_axes has {len(in_axes)} entries but "
                                 f"{getattr(f, '__name__', f)} got {len(args)} arguments")
            axes = [a for i, (s, x) in enumerate(zip(in_axes, args))
                    for a in _leaf_axes(s, x, f"[{i}]")]
        else:
            axes = _leaf_axes(in_axes, args, "")
        leaves, in_tree = tree.flatten(args)
        sizes = {}
        for i, (x, ax) in enumerate(zip(leaves, axes)):
            if ax is not None:
                shape = aval_of(x).shape
                if not -len(shape) <= ax < len(shape):
                    raise ValueError(f"vmap: in_axes={ax} for an argument of shape {shape}")
                sizes[i] = shape[ax]
        if not sizes:
            raise ValueError("vmap: in_axes maps no argument; at least one must be batched")
        if len(set(sizes.values())) != 1:
            detail = ", ".join(f"leaf {i}: {n}" for i, n in sizes.items())
            raise ValueError(f"vmap: the mapped axes have different sizes ({detail})")
        size = next(iter(sizes.values()))
        with new_trace(lambda level: BatchTrace(level, size)) as trace:
            tracers = [x if ax is None else BatchTracer(trace, fnp.moveaxis(x, ax, 0))
                       for x, ax in zip(leaves, axes)]
            out = f(*tree.unflatten(in_tree, tracers), **kwargs)
            out_leaves, out_tree = tree.flatten(out)
        out_ax = ([out_axes] * len(out_leaves) if out_axes is None or isinstance(out_axes, int)
                  else _leaf_axes(out_axes, out, "(out_axes)"))
        results = []
        for i, (x, ax) in enumerate(zip(out_leaves, out_ax)):
            mine = type(x) is BatchTracer and x._trace is trace
            if ax is None:  # an unmapped output: returned as it is, without a batch axis
                if mine:
                    raise ValueError(f"vmap: out_axes is None for output {i}, but it depends "
                                     "on the mapped inputs; give it an axis (e.g. 0)")
                results.append(x)
                continue
            val = x.val if mine else move_to_front(x, size, False)
            results.append(val if ax == 0 else fnp.moveaxis(val, 0, ax))
        return tree.unflatten(out_tree, results)

    return batched_f

