"""Pytrees: nested containers of leaves that transforms flatten, map over and rebuild.

Container nodes are tuple, list, dict, None, namedtuples, OrderedDict, defaultdict and any
type added with `register_node` / `register_dataclass`; everything else is a leaf.

Ordering rules, because leaf order is what ties gradients to parameters:
  * dict and defaultdict children are visited in sorted key order, whatever the insertion
    order, and are rebuilt in that order; their keys must be mutually comparable.
  * OrderedDict keeps insertion order, and the order is part of its structure, so two
    OrderedDicts with the same keys in a different order have different TreeDefs.
  * Types are matched exactly: a subclass of dict or list is a leaf unless registered.
    The one exception is namedtuples (tuple subclasses with `_fields`), which are nodes
    and are rebuilt with their own class.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import OrderedDict, defaultdict
from typing import (Any, Callable, Hashable, Iterable, Optional, Protocol, Sequence, TypeVar,
                    overload)

__all__ = [
    "KeyPath",
    "Partial",
    "PytreeNodeClass",
    "TreeDef",
    "flatten",
    "flatten_with_path",
    "keystr",
    "leaves",
    "map",
    "map_with_path",
    "register_dataclass",
    "register_node",
    "register_pytree_node_class",
    "structure",
    "transpose",
    "unflatten",
    # jax.tree_util's names for the same functions
    "register_pytree_node",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_map",
    "tree_map_with_path",
    "tree_structure",
    "tree_transpose",
    "tree_unflatten",
]

T = TypeVar("T")

_FlattenFn = Callable[[Any], tuple[Sequence[Any], Hashable]]
_UnflattenFn = Callable[[Any, list[Any]], Any]
_DescribeFn = Callable[[Any, list[str]], str]
_KeysFn = Callable[[Any, int], list[str]]


class _Handler:
    """How one node type is taken apart, put back together, printed and addressed."""

    __slots__ = ("nodetype", "flatten", "unflatten", "describe", "keys")

    def __init__(
        self,
        nodetype: type,
        flatten: _FlattenFn,
        unflatten: _UnflattenFn,
        describe: _DescribeFn,
        keys: _KeysFn,
    ) -> None:
        """Bundle the callbacks for `nodetype`."""
        self.nodetype = nodetype
        self.flatten = flatten
        self.unflatten = unflatten
        self.describe = describe
        self.keys = keys

    def __repr__(self) -> str:
        """Name the node type, for debugging."""
        return f"<pytree handler for {self.nodetype.__qualname__}>"


# A TreeDef is the preorder list of nodes: None for a leaf, otherwise (handler, aux, arity).
# A flat tuple keeps flatten/unflatten loop-based (no recursion limit, no per-node calls
# beyond the handler's own) and makes == and hash plain tuple operations.
_Record = Optional[tuple[_Handler, Hashable, int]]


class TreeDef:
    """Immutable, hashable description of a pytree's containers with the leaves cut out."""

    __slots__ = ("_records", "_num_leaves", "_hash")

    _records: tuple[_Record, ...]
    _num_leaves: int
    _hash: int | None

    def __init__(self, records: tuple[_Record, ...], num_leaves: int) -> None:
        """Wrap preorder node records; use `flatten` or `structure` rather than this."""
        _set_records(self, records)
        _set_num_leaves(self, num_leaves)
        _set_hash(self, None)

    @property
    def num_leaves(self) -> int:
        """Number of leaves a tree of this structure holds."""
        return self._num_leaves

    def leaf_paths(self) -> list[str]:
        """Readable access path of every leaf in flatten order, e.g. `[0]['w']` or `.x`."""
        return ["".join(path) for path in self.leaf_key_paths()]

    def leaf_key_paths(self) -> list[tuple[str, ...]]:
        """The steps from the root to every leaf in flatten order, e.g. ("[0]", "['w']")."""
        paths: list[tuple[str, ...]] = []
        # Containers still being walked: (own path, path steps of its children), plus the
        # index of the next child of each in `cursors`.
        frames: list[tuple[tuple[str, ...], list[str]]] = []
        cursors: list[int] = []
        for rec in self._records:
            if frames:
                prefix, keys = frames[-1]
                i = cursors[-1]
                path = (*prefix, keys[i])
                if i + 1 == len(keys):
                    # Pop before descending so the child's own frame sits on top.
                    frames.pop()
                    cursors.pop()
                else:
                    cursors[-1] = i + 1
            else:
                path = ()
            if rec is None:
                paths.append(path)
            else:
                handler, aux, arity = rec
                if arity:
                    frames.append((path, handler.keys(aux, arity)))
                    cursors.append(0)
        return paths

    def __eq__(self, other: object) -> bool:
        """Same containers, same aux data (e.g. dict keys), same arrangement of leaves."""
        if not isinstance(other, TreeDef):
            return NotImplemented
        return self is other or (
            self._num_leaves == other._num_leaves and self._records == other._records
        )

    def __hash__(self) -> int:
        """Hash of the node records, cached because TreeDefs are used as cache keys."""
        cached = self._hash
        if cached is None:
            try:
                cached = hash(self._records)
            except TypeError as err:
                raise TypeError(
                    f"{self!r} cannot be hashed: a custom node returned unhashable aux data "
                    f"({err})"
                ) from None
            _set_hash(self, cached)
        return cached

    def __repr__(self) -> str:
        """Nested picture of the structure with `*` for each leaf."""
        return f"PyTreeDef({_build(self, ['*'] * self._num_leaves, describe=True)})"

    def __setattr__(self, name: str, value: object) -> None:
        """Refuse: a TreeDef may be a cache key, so it must never change."""
        raise AttributeError("TreeDef is immutable")

    def __delattr__(self, name: str) -> None:
        """Refuse: a TreeDef may be a cache key, so it must never change."""
        raise AttributeError("TreeDef is immutable")

    def __copy__(self) -> TreeDef:
        """Immutable, so a copy is the object itself."""
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> TreeDef:
        """Immutable, so a copy is the object itself."""
        return self


# __setattr__ is closed, so TreeDef's own code writes its slots through the slot
# descriptors, which is also quicker than object.__setattr__ on this hot path.
_set_records = TreeDef.__dict__["_records"].__set__
_set_num_leaves = TreeDef.__dict__["_num_leaves"].__set__
_set_hash = TreeDef.__dict__["_hash"].__set__


# ---------------------------------------------------------------------------------------
# Built-in node kinds.


def _index_keys(aux: Any, arity: int) -> list[str]:
    return [f"[{i}]" for i in range(arity)]


def _dict_keys(aux: Any, arity: int) -> list[str]:
    return [f"[{k!r}]" for k in aux]


def _dict_body(keys: Iterable[Any], children: list[str]) -> str:
    return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(keys, children)) + "}"


def _flatten_tuple(node: tuple[Any, ...]) -> tuple[Sequence[Any], Hashable]:
    return node, None


def _unflatten_tuple(aux: Any, children: list[Any]) -> tuple[Any, ...]:
    return tuple(children)


def _describe_tuple(aux: Any, children: list[str]) -> str:
    if len(children) == 1:
        return f"({children[0]},)"
    return "(" + ", ".join(children) + ")"


def _flatten_list(node: list[Any]) -> tuple[Sequence[Any], Hashable]:
    return node, None


def _unflatten_list(aux: Any, children: list[Any]) -> list[Any]:
    # `children` is always a fresh list owned by the caller, so it can be handed out as is.
    return children


def _describe_list(aux: Any, children: list[str]) -> str:
    return "[" + ", ".join(children) + "]"


def _sorted_keys(node: dict[Any, Any]) -> list[Any]:
    try:
        return sorted(node)
    except TypeError:
        raise TypeError(
            f"cannot flatten a dict whose keys are not mutually orderable: {list(node)!r} "
            "(pytree dict children are visited in sorted key order)"
        ) from None


def _flatten_dict(node: dict[Any, Any]) -> tuple[Sequence[Any], Hashable]:
    keys = _sorted_keys(node)
    return [node[k] for k in keys], tuple(keys)


def _unflatten_dict(aux: Any, children: list[Any]) -> dict[Any, Any]:
    return dict(zip(aux, children))


def _describe_dict(aux: Any, children: list[str]) -> str:
    return _dict_body(aux, children)


def _flatten_ordereddict(node: OrderedDict[Any, Any]) -> tuple[Sequence[Any], Hashable]:
    return list(node.values()), tuple(node)


def _unflatten_ordereddict(aux: Any, children: list[Any]) -> OrderedDict[Any, Any]:
    return OrderedDict(zip(aux, children))


def _describe_ordereddict(aux: Any, children: list[str]) -> str:
    return f"OrderedDict({_dict_body(aux, children)})"


def _flatten_defaultdict(node: defaultdict[Any, Any]) -> tuple[Sequence[Any], Hashable]:
    keys = _sorted_keys(node)
    # The factory is part of the structure so the rebuilt dict behaves the same on misses.
    return [node[k] for k in keys], (node.default_factory, tuple(keys))


def _unflatten_defaultdict(aux: Any, children: list[Any]) -> defaultdict[Any, Any]:
    factory, keys = aux
    return defaultdict(factory, zip(keys, children))


def _describe_defaultdict(aux: Any, children: list[str]) -> str:
    factory, keys = aux
    return f"defaultdict({factory!r}, {_dict_body(keys, children)})"


def _dict_keys_defaultdict(aux: Any, arity: int) -> list[str]:
    return _dict_keys(aux[1], arity)


def _flatten_none(node: None) -> tuple[Sequence[Any], Hashable]:
    return (), None


def _unflatten_none(aux: Any, children: list[Any]) -> None:
    return None


def _describe_none(aux: Any, children: list[str]) -> str:
    return "None"


def _namedtuple_handler(cls: type) -> _Handler:
    """Build (and cache) the handler for one namedtuple class, found on first sight."""
    fields: tuple[str, ...] = getattr(cls, "_fields")

    def rebuild(aux: Any, children: list[Any]) -> Any:
        return cls(*children)

    def describe(aux: Any, children: list[str]) -> str:
        inner = ", ".join(f"{f}={c}" for f, c in zip(fields, children))
        return f"{cls.__name__}({inner})"

    def keys(aux: Any, arity: int) -> list[str]:
        return [f".{f}" for f in fields]

    handler = _Handler(cls, _flatten_tuple, rebuild, describe, keys)
    _dispatch[cls] = handler
    return handler


# Types registered explicitly (built-ins included); registering one of these again is an error.
_registered: dict[type, _Handler] = {}
# What flatten consults: the registered types plus namedtuple classes met so far.
_dispatch: dict[type, _Handler] = {}


def _install(handler: _Handler) -> None:
    _registered[handler.nodetype] = handler
    _dispatch[handler.nodetype] = handler


_install(_Handler(tuple, _flatten_tuple, _unflatten_tuple, _describe_tuple, _index_keys))
_install(_Handler(list, _flatten_list, _unflatten_list, _describe_list, _index_keys))
_install(_Handler(dict, _flatten_dict, _unflatten_dict, _describe_dict, _dict_keys))
_install(_Handler(type(None), _flatten_none, _unflatten_none, _describe_none, _index_keys))
_install(
    _Handler(
        OrderedDict,
        _flatten_ordereddict,
        _unflatten_ordereddict,
        _describe_ordereddict,
        _dict_keys,
    )
)
_install(
    _Handler(
        defaultdict,
        _flatten_defaultdict,
        _unflatten_defaultdict,
        _describe_defaultdict,
        _dict_keys_defaultdict,
    )
)


# ---------------------------------------------------------------------------------------
# Public API.


IsLeaf = Optional[Callable[[Any], bool]]
"""is_leaf(node) -> True to keep a node whole, as a leaf (jax.tree_util's is_leaf)."""


def flatten(tree: Any, is_leaf: IsLeaf = None) -> tuple[list[Any], TreeDef]:
    """Split `tree` into its leaves (left to right, depth first) and its TreeDef."""
    leaves_out: list[Any] = []
    records: list[_Record] = []
    stack: list[Any] = [tree]
    # Bound methods hoisted out of the loop: this runs on every transform call.
    lookup = _dispatch.get
    pop = stack.pop
    push_all = stack.extend
    add_leaf = leaves_out.append
    add_record = records.append
    while stack:
        node = pop()
        cls = type(node)
        handler = lookup(cls)
        if is_leaf is not None and is_leaf(node):
            handler = None
        elif handler is None:
            if issubclass(cls, tuple) and hasattr(cls, "_fields"):
                handler = _namedtuple_handler(cls)
        if handler is None:
            add_leaf(node)
            add_record(None)
            continue
        children, aux = handler.flatten(node)
        add_record((handler, aux, len(children)))
        # Reversed so that popping visits the first child first.
        push_all(reversed(children))
    return leaves_out, TreeDef(tuple(records), len(leaves_out))


def unflatten(treedef: TreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a tree of structure `treedef` holding `leaves` (in flatten order)."""
    if not isinstance(treedef, TreeDef):
        raise TypeError(
            f"unflatten(treedef, leaves) needs a TreeDef first, got {type(treedef).__name__}"
        )
    values = leaves if isinstance(leaves, (list, tuple)) else list(leaves)
    if len(values) != treedef._num_leaves:
        raise ValueError(
            f"unflatten: {treedef!r} expects {treedef._num_leaves} leaves, "
            f"got {len(values)}"
        )
    return _build(treedef, values, describe=False)


def _build(treedef: TreeDef, values: Sequence[Any], describe: bool) -> Any:
    """The tree of `values` (or, with describe, its picture, values being strings)."""
    # Walking the preorder records backwards meets every node after its children, so
    # each node can be built from the top of a value stack.
    stack: list[Any] = []
    i = len(values)
    for rec in reversed(treedef._records):
        if rec is None:
            i -= 1
            stack.append(values[i])
            continue
        handler, aux, arity = rec
        if arity:
            children = stack[-arity:]
            del stack[-arity:]
            children.reverse()
        else:
            children = []
        stack.append(handler.describe(aux, children) if describe
                     else handler.unflatten(aux, children))
    return stack[0]


def _columns(what: str, tree: Any, rest: Sequence[Any], is_leaf: IsLeaf
             ) -> tuple[list[list[Any]], TreeDef]:
    """The leaves of tree and of each of rest, which must have tree's structure."""
    first, treedef = flatten(tree, is_leaf)
    columns = [first]
    for n, other in enumerate(rest, start=1):
        other_leaves, other_def = flatten(other, is_leaf)
        if other_def != treedef:
            raise ValueError(
                f"{what}: tree {n} has a different structure from tree 0:\n"
                f"  tree 0: {treedef!r}\n"
                f"  tree {n}: {other_def!r}"
            )
        columns.append(other_leaves)
    return columns, treedef


def map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:
    """Apply `f` to corresponding leaves of `tree` and each of `rest` (same structures)."""
    if not rest and is_leaf is None:
        first, treedef = flatten(tree)
        return unflatten(treedef, [f(x) for x in first])
    columns, treedef = _columns("tree.map", tree, rest, is_leaf)
    return unflatten(treedef, [f(*xs) for xs in zip(*columns)])


KeyPath = tuple[str, ...]
"""Where a leaf sits: one step per container, e.g. ("['params']", "[0]", ".w")."""


def keystr(path: KeyPath) -> str:
    """A key path as one readable string: ['params'][0].w"""
    return "".join(path)


def flatten_with_path(tree: Any, is_leaf: IsLeaf = None
                      ) -> tuple[list[tuple[KeyPath, Any]], TreeDef]:
    """The leaves, each with its key path, and the TreeDef."""
    leaves_out, treedef = flatten(tree, is_leaf)
    return list(zip(treedef.leaf_key_paths(), leaves_out)), treedef


def map_with_path(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:
    """Apply f(path, leaf, *leaves of rest) to every leaf of tree."""
    columns, treedef = _columns("tree.map_with_path", tree, rest, is_leaf)
    return unflatten(treedef, [f(path, *xs) for path, *xs
                               in zip(treedef.leaf_key_paths(), *columns)])


def transpose(outer: TreeDef, inner: TreeDef, tree: Any) -> Any:
    """A tree of structure outer-of-inner turned into inner-of-outer (jax's tree_transpose)."""
    leaves_out, treedef = flatten(tree)
    expected = outer.num_leaves * inner.num_leaves
    if len(leaves_out) != expected:
        raise ValueError(f"tree.transpose: the tree has {len(leaves_out)} leaves, but an "
                         f"outer {outer!r} of inner {inner!r} has {expected}")
    n = inner.num_leaves
    rows = [leaves_out[i * n:(i + 1) * n] for i in range(outer.num_leaves)]
    return unflatten(inner, [unflatten(outer, [row[j] for row in rows]) for j in range(n)])


def leaves(tree: Any, is_leaf: IsLeaf = None) -> list[Any]:
    """The leaves of `tree` in flatten order."""
    return flatten(tree, is_leaf)[0]


def structure(tree: Any) -> TreeDef:
    """The TreeDef of `tree`."""
    return flatten(tree)[1]


def register_node(
    nodetype: type[T],
    flatten_fn: Callable[[T], tuple[Iterable[Any], Hashable]],
    unflatten_fn: Callable[[Any, list[Any]], T],
) -> None:
    """Make `nodetype` a container: flatten_fn(obj) -> (children, aux); unflatten_fn(aux, children) -> obj."""
    if not isinstance(nodetype, type):
        raise TypeError(f"register_node needs a class, got {nodetype!r}")
    if nodetype in _registered:
        raise ValueError(f"{nodetype.__qualname__} is already registered as a pytree node")
    name = nodetype.__name__

    def flat(node: Any) -> tuple[Sequence[Any], Hashable]:
        children, aux = flatten_fn(node)
        # A tuple, because the children are counted and walked in reverse.
        return tuple(children), aux

    def describe(aux: Any, children: list[str]) -> str:
        return f"CustomNode({name}[{aux!r}], [{', '.join(children)}])"

    _install(_Handler(nodetype, flat, unflatten_fn, describe, _index_keys))


@overload
def register_dataclass(cls: type[T], *, meta_fields: Sequence[str] = ()) -> type[T]: ...


@overload
def register_dataclass(
    cls: None = None, *, meta_fields: Sequence[str] = ()
) -> Callable[[type[T]], type[T]]: ...


def register_dataclass(
    cls: type[T] | None = None, *, meta_fields: Sequence[str] = ()
) -> type[T] | Callable[[type[T]], type[T]]:
    """Register a dataclass whose fields are children, except `meta_fields` (kept as aux data)."""
    if isinstance(meta_fields, str):
        # A lone string would otherwise be read as a sequence of one-letter field names.
        raise TypeError("meta_fields must be a sequence of field names, not a string")
    meta_set = frozenset(meta_fields)

    def apply(klass: type[T]) -> type[T]:
        if not (isinstance(klass, type) and dataclasses.is_dataclass(klass)):
            raise TypeError(f"register_dataclass needs a dataclass type, got {klass!r}")
        all_fields = dataclasses.fields(klass)
        names = [fld.name for fld in all_fields]
        unknown = sorted(meta_set.difference(names))
        if unknown:
            raise ValueError(
                f"meta_fields {unknown} are not fields of {klass.__qualname__} (fields: {names})"
            )
        data = tuple(n for n in names if n not in meta_set)
        meta = tuple(n for n in names if n in meta_set)
        not_in_init = tuple(fld.name for fld in all_fields if not fld.init)

        def flat(node: Any) -> tuple[Sequence[Any], Hashable]:
            return (
                tuple([getattr(node, n) for n in data]),
                tuple([getattr(node, n) for n in meta]),
            )

        def rebuild(aux: Any, children: list[Any]) -> T:
            values = dict(zip(data, children))
            values.update(zip(meta, aux))
            if not not_in_init:
                return klass(**values)
            # Going through the constructor keeps __post_init__ side effects; fields the
            # constructor does not take are restored afterwards (frozen-safe).
            late = {n: values.pop(n) for n in not_in_init}
            obj = klass(**values)
            for n, v in late.items():
                object.__setattr__(obj, n, v)
            return obj

        def describe(aux: Any, children: list[str]) -> str:
            parts = [f"{n}={c}" for n, c in zip(data, children)]
            parts += [f"{n}={v!r}" for n, v in zip(meta, aux)]
            return f"{klass.__name__}({', '.join(parts)})"

        def keys(aux: Any, arity: int) -> list[str]:
            return [f".{n}" for n in data]

        if klass in _registered:
            raise ValueError(f"{klass.__qualname__} is already registered as a pytree node")
        _install(_Handler(klass, flat, rebuild, describe, keys))
        return klass

    if cls is None:
        return apply
    return apply(cls)


class PytreeNodeClass(Protocol):
    """What register_pytree_node_class asks of a class."""

    def tree_flatten(self) -> tuple[Iterable[Any], Hashable]:
        """(children, aux data)."""

    @classmethod
    def tree_unflatten(cls, aux: Any, children: list[Any]) -> Any:
        """The node rebuilt from its aux data and children."""


N = TypeVar("N", bound=PytreeNodeClass)


def register_pytree_node_class(cls: type[N]) -> type[N]:
    """Class decorator: a class with `tree_flatten(self) -> (children, aux)` and a
    classmethod `tree_unflatten(aux, children)` becomes a pytree node, as in JAX."""
    register_node(cls, lambda node: node.tree_flatten(), cls.tree_unflatten)
    return cls


class Partial(functools.partial[Any]):
    """functools.partial as a pytree: its arguments are leaves (so it can be passed through
    jit and grad), the function is part of the structure."""


def _flatten_partial(p: Partial) -> tuple[Sequence[Any], Hashable]:
    keys = tuple(sorted(p.keywords))
    return (*p.args, *(p.keywords[k] for k in keys)), (p.func, len(p.args), keys)


def _unflatten_partial(aux: Any, children: list[Any]) -> Partial:
    func, n, keys = aux
    return Partial(func, *children[:n], **dict(zip(keys, children[n:])))


register_node(Partial, _flatten_partial, _unflatten_partial)

# jax.tree_util's names
register_pytree_node = register_node
tree_flatten = flatten
tree_flatten_with_path = flatten_with_path
tree_leaves = leaves
tree_map = map
tree_map_with_path = map_with_path
tree_structure = structure
tree_transpose = transpose
tree_unflatten = unflatten
