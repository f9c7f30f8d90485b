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

Checkpoints: `save(path, tree)` writes a tree of arrays to one `.npz` file (atomically, no
pickle) and `load(path, like=None)` reads it back, checked against `like` when given;
every problem with the file is a `CheckpointError` naming it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import json
import math
import os
import sys
import tempfile
import zipfile
from collections import OrderedDict, defaultdict
from typing import (IO, Any, Callable, Hashable, Iterable, Optional, Protocol, Sequence,
                    TypeVar, overload)

import numpy as np

if sys.platform != "win32":
    import fcntl

__all__ = [
    "CheckpointError",
    "KeyPath",
    "Partial",
    "PytreeNodeClass",
    "TreeDef",
    "flatten",
    "flatten_with_path",
    "keystr",
    "leaves",
    "load",
    "map",
    "map_with_path",
    "register_dataclass",
    "register_node",
    "register_pytree_node_class",
    "save",
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

# ---------------------------------------------------------------------------------------
# Checkpoints: one .npz file per tree, read without pickle.
#
# The file is a zip of uncompressed .npy entries (so np.load can read it too): `leaf_<i>`
# for the leaves in flatten order, and `__funcgrad_tree__`, a uint8 array holding JSON:
#   {"format": ..., "structure": repr(treedef),
#    "nodes": the TreeDef's preorder records, "*" for a leaf, [kind, arity] for a tuple,
#             list or None, [kind, keys] for a dict or OrderedDict with str/int keys, and
#             ["opaque", type name, arity] for nodes only code can rebuild,
#    "leaves": [{"path", "dtype", "shape"}, ...]}

CHECKPOINT_FORMAT = "funcgrad.tree/1"
_META_ENTRY = "__funcgrad_tree__"
# The metadata is parsed whole, so it has a cap: about 100 bytes per leaf, far above any model.
_META_LIMIT = 32 << 20
_CHUNK = 1 << 20
# numpy kinds a .npy file holds without pickle: bool, int, uint, float, complex, str, bytes,
# timedelta, datetime (object and structured dtypes are refused).
_STORABLE_KINDS = "biufcUSmM"
# Temp files of a save in progress are `.<target name>.<random>` + this suffix; a save
# cleans those its directory holds that no live save has locked.
_TMP_SUFFIX = ".funcgrad-save.tmp"
_PLAIN_NODES: dict[str, type] = {"tuple": tuple, "list": list, "None": type(None)}
_KEYED_NODES: dict[str, type] = {"dict": dict, "OrderedDict": OrderedDict}


_LeafSpec = tuple[str, np.dtype[Any], tuple[int, ...]]
"""What the metadata says of one leaf: its path, dtype and shape."""


class CheckpointError(ValueError):
    """A checkpoint file that `load` cannot use; the message names the file and the problem."""


def _where(leaf_path: str) -> str:
    return leaf_path or "<the root leaf>"


def _typestr(dtype: np.dtype[Any], shape: tuple[int, ...]) -> str:
    return f"{dtype}{list(shape)}"


def _encode_node(rec: _Record) -> Any:
    """One TreeDef record as JSON (see the format above)."""
    if rec is None:
        return "*"
    handler, _, arity = rec
    keys: Any = rec[1]  # the aux data, which is the keys for the dicts below
    nodetype = handler.nodetype
    for kind, cls in _PLAIN_NODES.items():
        if nodetype is cls:
            return [kind, arity]
    for kind, cls in _KEYED_NODES.items():
        if nodetype is cls and all(type(k) in (str, int) for k in keys):
            return [kind, list(keys)]
    return ["opaque", f"{nodetype.__module__}.{nodetype.__qualname__}", arity]


def _decode_node(path: str, node: Any) -> _Record:
    """The TreeDef record for one JSON node; CheckpointError for nodes only code can rebuild."""
    if node == "*":
        return None
    if isinstance(node, list) and len(node) == 3 and node[0] == "opaque":
        raise CheckpointError(
            f"{path}: the tree holds a {node[1]} node, which cannot be rebuilt from the file "
            "alone (only dicts, lists, tuples and None can); pass like=, a tree of the same "
            "structure (e.g. a fresh init), to load it")
    if isinstance(node, list) and len(node) == 2:
        kind, arg = node
        cls = _PLAIN_NODES.get(kind) if isinstance(kind, str) else None
        if cls is not None and type(arg) is int and 0 <= arg and (cls is not type(None) or arg == 0):
            return (_registered[cls], None, arg)
        cls = _KEYED_NODES.get(kind) if isinstance(kind, str) else None
        if (cls is not None and isinstance(arg, list) and all(type(k) in (str, int) for k in arg)
                and len(set(arg)) == len(arg)):
            return (_registered[cls], tuple(arg), len(arg))
    raise CheckpointError(f"{path}: corrupt metadata: unknown tree node {str(node)[:80]}")


def _rebuild_treedef(path: str, nodes: list[Any], num_leaves: int) -> TreeDef:
    """The TreeDef the stored preorder nodes describe, checked to form exactly one tree."""
    records: list[_Record] = []
    open_slots = 1  # children announced by the nodes so far and not yet seen
    for node in nodes:
        if open_slots == 0:
            raise CheckpointError(f"{path}: corrupt metadata: nodes after the tree's end")
        rec = _decode_node(path, node)
        open_slots += -1 if rec is None else rec[2] - 1
        records.append(rec)
    if open_slots or len(records) - sum(r is not None for r in records) != num_leaves:
        raise CheckpointError(f"{path}: corrupt metadata: the nodes do not form a tree of "
                              f"{num_leaves} leaves")
    return TreeDef(tuple(records), num_leaves)


def _leaf_spec(path: str, i: int, entry: Any) -> _LeafSpec:
    """(leaf path, dtype, shape) of the metadata's entry for leaf i, validated."""
    if not isinstance(entry, dict):
        raise CheckpointError(f"{path}: corrupt metadata: leaf {i} is {str(entry)[:80]}")
    leaf_path, dtype, shape = entry.get("path"), entry.get("dtype"), entry.get("shape")
    try:
        dt = np.dtype(dtype) if isinstance(dtype, str) else None
    except TypeError:
        dt = None
    if (not isinstance(leaf_path, str) or dt is None or dt.kind not in _STORABLE_KINDS
            or dt.fields is not None or not isinstance(shape, list)
            or not all(type(n) is int and n >= 0 for n in shape)):
        raise CheckpointError(f"{path}: corrupt metadata: leaf {i} is {str(entry)[:120]}")
    return leaf_path, dt, tuple(shape)


def _npy_header(path: str, fp: IO[bytes], name: str) -> tuple[tuple[int, ...], bool,
                                                                np.dtype[Any], int]:
    """(shape, fortran_order, dtype, header length) of the .npy entry open in fp."""
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise CheckpointError(f"{path}: entry {name}: unsupported .npy version {version}")
    return shape, fortran, dtype, fp.tell()


def _read_entry(path: str, zf: zipfile.ZipFile, name: str, what: str, dtype: np.dtype[Any],
                shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    """The array in entry name.npy, after checking its header and declared size against
    (dtype, shape), so that nothing is allocated that the metadata did not announce."""
    info = zf.getinfo(name + ".npy")
    with zf.open(info) as fp:
        found_shape, fortran, found_dtype, header_len = _npy_header(path, fp, name)
        if found_dtype != dtype or found_shape != shape:
            raise CheckpointError(
                f"{path}: entry {name} ({what}) holds {_typestr(found_dtype, found_shape)}, "
                f"the metadata says {_typestr(dtype, shape)}")
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != header_len + nbytes:
            raise CheckpointError(
                f"{path}: entry {name} ({what}) declares {info.file_size - header_len} data "
                f"bytes, {_typestr(dtype, shape)} needs {nbytes}")
        out = np.empty(shape[::-1] if fortran else shape, dtype)
        flat = out.reshape(-1).view(np.uint8)
        # In chunks, so that no second copy of a large leaf is ever held. Reading the
        # entry's last byte makes zipfile check its CRC-32.
        for start in range(0, nbytes, _CHUNK):
            size = min(_CHUNK, nbytes - start)
            chunk = fp.read(size)
            if len(chunk) != size:
                raise CheckpointError(f"{path}: entry {name} ({what}) ends early")
            flat[start:start + size] = np.frombuffer(chunk, np.uint8)
    return out.T if fortran else out


def _clip(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."


def _read_metadata(path: str, zf: zipfile.ZipFile) -> tuple[str, list[Any], list[_LeafSpec]]:
    """(structure repr, preorder nodes, leaf specs) from the metadata entry, validated."""
    with zf.open(_META_ENTRY + ".npy") as fp:
        shape, _, dtype, _ = _npy_header(path, fp, _META_ENTRY)
    if dtype != np.uint8 or len(shape) != 1 or shape[0] > _META_LIMIT:
        raise CheckpointError(f"{path}: corrupt metadata entry: {_typestr(dtype, shape)}, "
                              f"expected uint8 JSON of at most {_META_LIMIT} bytes")
    raw = _read_entry(path, zf, _META_ENTRY, "metadata", dtype, shape).tobytes()
    meta = json.loads(raw.decode("utf-8"))
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: corrupt metadata: format {_clip(repr(found))}, "
                              f"expected {CHECKPOINT_FORMAT!r}")
    structure, nodes, specs = meta.get("structure"), meta.get("nodes"), meta.get("leaves")
    if not (isinstance(structure, str) and isinstance(nodes, list) and isinstance(specs, list)):
        raise CheckpointError(f"{path}: corrupt metadata: needs a structure string and lists "
                              "of nodes and leaves")
    return structure, nodes, [_leaf_spec(path, i, entry) for i, entry in enumerate(specs)]


def _match_like(path: str, like_leaves: list[Any], like_def: TreeDef, structure: str,
                nodes: list[Any], specs: list[_LeafSpec]) -> None:
    """Raise CheckpointError unless the stored tree has like's structure, shapes and dtypes."""
    wanted_paths = like_def.leaf_paths()
    if [_encode_node(rec) for rec in like_def._records] != nodes:
        stored_paths = [leaf_path for leaf_path, _, _ in specs]
        lines = [f"{path}: the tree in the file has a different structure from like=:",
                 f"  in the file: {_clip(structure)}", f"  like=:       {_clip(repr(like_def))}"]
        for label, these, others in (("in the file", stored_paths, wanted_paths),
                                     ("in like=", wanted_paths, stored_paths)):
            only = [_where(p) for p in these if p not in set(others)]
            if only:
                lines.append(f"  leaves only {label}: {_clip(', '.join(only))}")
        if len(lines) == 3:
            lines.append("  (the same leaf paths in different kinds of container)")
        raise CheckpointError("\n".join(lines))
    problems = []
    for leaf_path, (_, dtype, shape), slot in zip(wanted_paths, specs, like_leaves):
        want = np.asarray(slot)
        if want.dtype != dtype or want.shape != shape:
            problems.append(f"  {_where(leaf_path)}: the file holds {_typestr(dtype, shape)}, "
                            f"like= has {_typestr(want.dtype, want.shape)}")
    if problems:
        raise CheckpointError(f"{path}: {len(problems)} leaves differ from like= in shape or "
                              "dtype:\n" + "\n".join(problems))


def _as_like(value: np.ndarray[Any, Any], template: Any) -> Any:
    """value as the kind of leaf template is: a Python or numpy scalar for one, else the array."""
    if isinstance(template, np.generic):
        return value[()]
    if isinstance(template, (bool, int, float, complex, str, bytes)):
        return value.item()
    return value


def _load(path: str, f: IO[bytes], like: tuple[list[Any], TreeDef] | None) -> Any:
    """The tree in the open file f; like is the flattened like= tree, if any."""
    if f.read(6) == b"\x93NUMPY":
        raise CheckpointError(f"{path}: a .npy file (a single array), not a tree checkpoint; "
                              "tree.load reads the .npz files that tree.save writes")
    f.seek(0)
    disk_size = os.fstat(f.fileno()).st_size
    with zipfile.ZipFile(f) as zf:
        infos = zf.infolist()
        names = {info.filename for info in infos}
        if _META_ENTRY + ".npy" not in names:
            raise CheckpointError(f"{path}: no {_META_ENTRY} entry, so not written by "
                                  f"funcgrad.tree.save (entries: {_clip(', '.join(names))})")
        for info in infos:
            if (info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 1
                    or info.compress_size != info.file_size):
                raise CheckpointError(f"{path}: entry {info.filename} is compressed or "
                                      "encrypted; tree.save writes plain entries only")
        # Plain entries can hold no more than the file: this bounds every allocation below.
        if len(names) != len(infos) or sum(info.file_size for info in infos) > disk_size:
            raise CheckpointError(f"{path}: the zip directory declares more data than the "
                                  f"file's {disk_size} bytes (truncated or corrupt)")
        structure, nodes, specs = _read_metadata(path, zf)
        leaf_names = [f"leaf_{i}" for i in range(len(specs))]
        if names != {name + ".npy" for name in (_META_ENTRY, *leaf_names)}:
            raise CheckpointError(f"{path}: the metadata lists {len(specs)} leaves, the file "
                                  f"holds {len(names) - 1} other entries")
        if like is None:
            treedef = _rebuild_treedef(path, nodes, len(specs))
        else:
            _match_like(path, like[0], like[1], structure, nodes, specs)
            treedef = like[1]
        values = [_read_entry(path, zf, name, _where(leaf_path), dtype, shape)
                  for name, (leaf_path, dtype, shape) in zip(leaf_names, specs)]
    if like is not None:
        values = [_as_like(value, slot) for value, slot in zip(values, like[0])]
    return unflatten(treedef, values)


def load(path: str | os.PathLike[str], like: Any = None) -> Any:
    """Read a tree written by `save`; with `like`, check it against like's structure, shapes
    and dtypes and rebuild like's node types (needed for namedtuples and registered types)."""
    where = os.fspath(path)
    expected = None if like is None else flatten(like)
    with open(where, "rb") as f:
        try:
            return _load(where, f, expected)
        except CheckpointError:
            raise
        except (zipfile.BadZipFile, EOFError, ValueError, RecursionError, NotImplementedError,
                OSError) as exc:
            # Whatever a corrupt or truncated file makes zipfile, numpy or json raise.
            raise CheckpointError(f"{where}: not a readable tree checkpoint "
                                  f"({type(exc).__name__}: {exc})") from exc


def _exists_error(target: str) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "tree.save: will not replace an existing file "
                           "(pass overwrite=True to replace it)", target)


def _lock(fd: int, *, wait: bool) -> bool:
    """Lock fd exclusively until it is closed; False if a live save holds it."""
    if sys.platform == "win32":
        # No flock there, but Windows refuses to delete an open file, which is what we need.
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held by a live save, or a filesystem without locks: hands off
    return True


def _remove_dead_temps(directory: str) -> None:
    """Delete the temp files of saves killed mid-write: ours by name, and locked by nobody."""
    try:
        names = os.listdir(directory)
    except OSError:
        return  # the save itself reports an unusable directory
    for name in names:
        if not (name.startswith(".") and name.endswith(_TMP_SUFFIX)):
            continue
        tmp = os.path.join(directory, name)
        with contextlib.suppress(OSError):
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                # The inode check skips a name that went to another file since it was opened.
                if (_lock(fd, wait=False)
                        and os.stat(tmp, follow_symlinks=False).st_ino == os.fstat(fd).st_ino):
                    os.unlink(tmp)
            finally:
                os.close(fd)


def _locked_temp(directory: str, name: str) -> tuple[IO[bytes], str]:
    """A new temp file beside the target, locked for as long as it is open."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{name[:100]}.", suffix=_TMP_SUFFIX, dir=directory)
        f = os.fdopen(fd, "wb")
        _lock(fd, wait=True)
        # Another save's cleanup may have deleted it between mkstemp and the lock.
        if os.fstat(fd).st_nlink:
            return f, tmp
        f.close()


def _publish(tmp: str, target: str, overwrite: bool) -> None:
    """Give the finished temp file the target's name; without overwrite, never replace a file."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # atomic, and fails if target exists, even if created meanwhile
    except FileExistsError:
        raise _exists_error(target) from None
    except OSError:
        # No hard links on this filesystem: check, then rename.
        if os.path.lexists(target):
            raise _exists_error(target) from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def save(path: str | os.PathLike[str], tree: Any, *, overwrite: bool = False) -> None:
    """Write tree (its structure and array leaves) to one .npz file, atomically, no pickle."""
    target = os.fspath(path)
    directory = os.path.dirname(target) or "."
    if not overwrite and os.path.lexists(target):
        raise _exists_error(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "tree.save: no such directory", directory)
    tree_leaves, treedef = flatten(tree)
    arrays = [np.asarray(leaf) for leaf in tree_leaves]
    leaf_paths = treedef.leaf_paths()
    for leaf_path, leaf, array in zip(leaf_paths, tree_leaves, arrays):
        if array.dtype.kind not in _STORABLE_KINDS or array.dtype.fields is not None:
            raise TypeError(
                f"tree.save: the leaf at {_where(leaf_path)} is a {type(leaf).__name__} of dtype "
                f"{array.dtype}, which cannot be stored without pickle; leaves must be arrays "
                "or scalars of numbers, bools, str or bytes")
    meta = {
        "format": CHECKPOINT_FORMAT,
        "structure": repr(treedef),
        "nodes": [_encode_node(rec) for rec in treedef._records],
        "leaves": [{"path": p, "dtype": a.dtype.str, "shape": list(a.shape)}
                   for p, a in zip(leaf_paths, arrays)],
    }
    entries = [(_META_ENTRY, np.frombuffer(json.dumps(meta).encode(), np.uint8)),
               *((f"leaf_{i}", array) for i, array in enumerate(arrays))]
    _remove_dead_temps(directory)
    f, tmp = _locked_temp(directory, os.path.basename(target))
    try:
        with f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name, array in entries:
                    with zf.open(name + ".npy", "w", force_zip64=True) as out:
                        np.lib.format.write_array(out, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
            # Still locked while it gets its name, so no cleanup takes it for a dead save's.
            _publish(tmp, target, overwrite)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # Make the new name itself durable, where directories can be synced.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


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
