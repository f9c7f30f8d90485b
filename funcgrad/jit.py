"""jit: trace once per signature into a simplified graph, then replay it.

The cache key is the input tree structure, each array's shape and dtype, and the values of
the static arguments (and of Python scalars, which stay weakly typed by being baked into
the graph). A replay evaluates the cached graph: as plain numpy calls when nothing is
traced, or equation by equation under the active transformations, so grad(jit(f)),
jit(grad(f)) and vmap(jit(f)) all work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
from typing_extensions import ParamSpec

from funcgrad import tree
from funcgrad.core import ConcretizationError, aval_of
from funcgrad.graph import Graph, simplify, trace_to_graph
from funcgrad.primitives import IDENTITIES

P = ParamSpec("P")
R = TypeVar("R")

_PYTHON_SCALARS = (bool, int, float, complex)


class Jitted(Generic[P, R]):
    """A jit-compiled function: call it like the original; `trace_count` counts tracings."""

    def __init__(self, f: Callable[P, R], static_argnums: Sequence[int]) -> None:
        self.f = f
        self.static_argnums = tuple(static_argnums)
        self.trace_count = 0
        self._cache: dict[Hashable, tuple[Graph[Any], list[int]]] = {}
        functools.update_wrapper(self, f)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        graph, dyn_leaves = self._lookup(args, kwargs)
        return tree.unflatten(graph.out_tree, graph.evaluate(dyn_leaves))  # type: ignore[no-any-return]

    def lower(self, *args: P.args, **kwargs: P.kwargs) -> Graph[Any]:
        """The simplified graph that calls with these arguments replay."""
        return self._lookup(args, kwargs)[0]

    def _lookup(self, args: tuple[Any, ...], kwargs: dict[str, Any]
                ) -> tuple[Graph[Any], list[Any]]:
        """The cached graph for this call (tracing it on a miss), and its array inputs."""
        nargs = len(args)
        static_pos = sorted({i % nargs for i in self.static_argnums if -nargs <= i < nargs})
        dynamic = [a for i, a in enumerate(args) if i not in static_pos] if static_pos else args
        if not static_pos and not kwargs and all(type(a) is np.ndarray for a in args):
            # the common call, arrays only: its structure is known without flattening
            leaves, in_tree = list(args), _arrays_only(len(args))
        else:
            leaves, in_tree = tree.flatten((dynamic, kwargs))
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
        key = (in_tree, tuple(static_pos), tuple(args[i] for i in static_pos), tuple(signature))
        try:
            entry = self._cache.get(key)
        except TypeError as err:
            raise TypeError(f"jit of {self._name()}: static arguments must be hashable "
                            f"({err})") from None
        if entry is None:
            scalar_pos = [j for j, x in enumerate(leaves) if type(x) in _PYTHON_SCALARS]
            entry = self._cache[key] = self._trace(args, set(static_pos), leaves, in_tree,
                                                   scalar_pos)
        graph, dyn_pos = entry
        return graph, [leaves[j] for j in dyn_pos]

    def _name(self) -> str:
        return getattr(self.f, "__name__", repr(self.f))

    def _trace(self, args: tuple[Any, ...], static_pos: set[int],
               leaves: list[Any], in_tree: tree.TreeDef, scalar_pos: list[int]
               ) -> tuple[Graph[Any], list[int]]:
        self.trace_count += 1
        dyn_pos = [j for j in range(len(leaves)) if j not in set(scalar_pos)]

        def flat_f(*dyn_leaves: Any) -> Any:
            full = list(leaves)
            for j, x in zip(dyn_pos, dyn_leaves):
                full[j] = x
            dyn_args, kw = tree.unflatten(in_tree, full)
            it = iter(dyn_args)
            call_args = [args[i] if i in static_pos else next(it) for i in range(len(args))]
            return self.f(*call_args, **kw)

        examples = [np.zeros(aval_of(leaves[j]).shape, aval_of(leaves[j]).dtype)
                    for j in dyn_pos]
        try:
            graph = trace_to_graph(flat_f, examples)
        except ConcretizationError as err:
            raise ConcretizationError(
                f"jit of {self._name()}: {err}\nUnder jit only shapes and dtypes are known "
                "while tracing. If the branch depends on an argument that is fixed per call "
                "(a flag, a size), mark it static with jit(f, static_argnums=(i,)); if it "
                "depends on array values, use funcgrad.numpy.where."
            ) from None
        return simplify(graph, IDENTITIES), dyn_pos


@functools.cache
def _arrays_only(n: int) -> tree.TreeDef:
    """The structure of (args, kwargs) for n positional arrays and no keywords."""
    return tree.structure((tuple(range(n)), {}))


def jit(f: Callable[P, R], static_argnums: int | Sequence[int] = ()) -> Jitted[P, R]:
    """Compile f: trace it once per input signature into a simplified graph and replay that."""
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    return Jitted(f, nums)

