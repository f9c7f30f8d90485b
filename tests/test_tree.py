"""Tests for funcgrad.tree: flatten/unflatten round trips, node kinds, registration, errors."""

from __future__ import annotations

import copy
import dataclasses
import fcntl
import io
import json
import threading
import tracemalloc
import zipfile
from collections import OrderedDict, defaultdict, namedtuple
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

import funcgrad
import funcgrad.numpy as fnp
from funcgrad import tree


class Point(NamedTuple):
    x: Any
    y: Any


class Point3(Point):
    """A namedtuple subclass: still a node, and must come back as Point3."""

    def norm1(self) -> float:
        return float(abs(self.x) + abs(self.y))


Pair = namedtuple("Pair", ["first", "second"])


def roundtrip(t: Any) -> Any:
    leaves, treedef = tree.flatten(t)
    return tree.unflatten(treedef, leaves)


@pytest.mark.parametrize(
    "t, expected_leaves",
    [
        (1.5, [1.5]),
        ((1, 2, 3), [1, 2, 3]),
        ([1, [2, 3], (4,)], [1, 2, 3, 4]),
        ({"b": 2, "a": 1, "c": 3}, [1, 2, 3]),
        (Point(1, 2), [1, 2]),
        (Pair(first=(1, 2), second=[3]), [1, 2, 3]),
        (None, []),
        ((), []),
        ([], []),
        ({}, []),
        ((None, 1, [None, 2]), [1, 2]),
        ({"w": [1, {"z": 2, "y": (3, None)}], "b": Point(4, [5])}, [4, 5, 1, 3, 2]),
    ],
)
def test_flatten_leaves_and_roundtrip(t: Any, expected_leaves: list[Any]) -> None:
    leaves, treedef = tree.flatten(t)
    assert leaves == expected_leaves
    assert treedef.num_leaves == len(expected_leaves)
    back = tree.unflatten(treedef, leaves)
    assert back == t
    assert type(back) is type(t)


def test_roundtrip_keeps_container_types_at_depth() -> None:
    t: dict[str, Any] = {"a": [(1, Point(2, 3))], "b": (Pair(4, None), [])}
    back = roundtrip(t)
    assert type(back["a"]) is list
    assert type(back["a"][0]) is tuple
    assert type(back["a"][0][1]) is Point
    assert type(back["b"][0]) is Pair
    assert back["b"][0].second is None
    assert back == t


def test_unflatten_substitutes_new_leaves() -> None:
    _, treedef = tree.flatten({"b": (0, 0), "a": 0})
    assert tree.unflatten(treedef, [10, 20, 30]) == {"a": 10, "b": (20, 30)}
    # Any iterable of leaves is accepted, not only lists.
    assert tree.unflatten(treedef, iter("xyz")) == {"a": "x", "b": ("y", "z")}


def test_numpy_arrays_are_leaves_and_kept_by_identity() -> None:
    w = np.arange(6.0).reshape(2, 3)
    b = np.zeros(3)
    leaves, treedef = tree.flatten({"w": w, "b": b})
    assert leaves[0] is b and leaves[1] is w
    assert repr(treedef) == "PyTreeDef({'b': *, 'w': *})"


def test_dict_children_in_sorted_key_order_whatever_insertion_order() -> None:
    d1 = {"zeta": 1, "alpha": 2, "mid": 3}
    d2 = {"mid": 3, "zeta": 1, "alpha": 2}
    l1, t1 = tree.flatten(d1)
    l2, t2 = tree.flatten(d2)
    assert l1 == l2 == [2, 3, 1]
    assert t1 == t2
    assert list(tree.unflatten(t1, l1)) == ["alpha", "mid", "zeta"]


def test_dict_keys_are_part_of_structure() -> None:
    assert tree.structure({"a": 1}) != tree.structure({"b": 1})
    assert tree.structure({1: "x", 2: "y"}) == tree.structure({2: 0, 1: 0})


def test_dict_with_unorderable_keys_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="not mutually orderable"):
        tree.flatten({1: "a", "b": 2})


def test_ordereddict_keeps_insertion_order() -> None:
    od = OrderedDict([("z", 1), ("a", 2)])
    leaves, treedef = tree.flatten(od)
    assert leaves == [1, 2]
    back = tree.unflatten(treedef, leaves)
    assert type(back) is OrderedDict
    assert list(back.items()) == [("z", 1), ("a", 2)]
    assert repr(treedef) == "PyTreeDef(OrderedDict({'z': *, 'a': *}))"
    assert treedef != tree.structure(OrderedDict([("a", 2), ("z", 1)]))
    assert treedef != tree.structure({"z": 1, "a": 2})


def test_defaultdict_sorted_and_factory_kept() -> None:
    dd: defaultdict[str, list[int]] = defaultdict(list, {"b": [1], "a": [2, 3]})
    leaves, treedef = tree.flatten(dd)
    assert leaves == [2, 3, 1]
    back = tree.unflatten(treedef, leaves)
    assert type(back) is defaultdict
    assert back.default_factory is list
    assert back["missing"] == []
    assert treedef != tree.structure(defaultdict(dict, {"b": [1], "a": [2, 3]}))


def test_none_is_an_empty_node_not_a_leaf() -> None:
    leaves, treedef = tree.flatten([None, 1])
    assert leaves == [1]
    assert repr(treedef) == "PyTreeDef([None, *])"
    assert tree.unflatten(treedef, [7]) == [None, 7]
    assert tree.flatten(None)[0] == []
    assert tree.unflatten(tree.structure(None), []) is None
    # map must not call f on None.
    assert tree.map(lambda x: x + 1, {"a": None, "b": 1}) == {"a": None, "b": 2}


def test_namedtuple_subclass_rebuilt_with_same_class() -> None:
    p = Point3(x=-1, y=2)
    leaves, treedef = tree.flatten(p)
    assert leaves == [-1, 2]
    back = tree.unflatten(treedef, [3, -4])
    assert type(back) is Point3
    assert back.norm1() == 7.0
    assert repr(treedef) == "PyTreeDef(Point3(x=*, y=*))"
    # Two namedtuple classes with identical fields are still different structures.
    assert tree.structure(Point(1, 2)) != treedef
    assert tree.structure(Point(1, 2)) != tree.structure((1, 2))


def test_plain_tuple_subclass_without_fields_is_a_leaf() -> None:
    class Tagged(tuple[int, int]):
        pass

    t = Tagged((1, 2))
    leaves, _ = tree.flatten([t])
    assert len(leaves) == 1 and leaves[0] is t


def test_repr_examples() -> None:
    assert repr(tree.structure((1, {"w": 2, "b": 3}))) == "PyTreeDef((*, {'b': *, 'w': *}))"
    assert repr(tree.structure({"a": 1, "b": (2, 3)})) == "PyTreeDef({'a': *, 'b': (*, *)})"
    assert repr(tree.structure((1,))) == "PyTreeDef((*,))"
    assert repr(tree.structure(())) == "PyTreeDef(())"
    assert repr(tree.structure(5)) == "PyTreeDef(*)"


def test_treedef_equality_and_hash() -> None:
    a = tree.structure({"w": np.ones(3), "b": [np.ones(2), 1.0]})
    b = tree.structure({"b": [0, 0], "w": "anything"})
    c = tree.structure({"w": 0, "b": (0, 0)})
    assert a == b
    assert hash(a) == hash(b)
    assert a != c
    assert a != "PyTreeDef"
    cache = {a: "hit"}
    assert cache[b] == "hit"
    assert c not in cache
    assert tree.structure([1, 2]) != tree.structure([1, 2, 3])
    assert tree.structure([1, [2]]) != tree.structure([[1], 2])


def test_treedef_is_immutable() -> None:
    treedef = tree.structure((1, 2))
    with pytest.raises(AttributeError):
        treedef._num_leaves = 5
    with pytest.raises(AttributeError):
        del treedef._records
    assert treedef.num_leaves == 2
    assert copy.deepcopy(treedef) is treedef


def test_leaf_paths() -> None:
    t = {"layers": [{"w": 1, "b": 2}, Point(3, None)], "scale": 4}
    assert tree.structure(t).leaf_paths() == [
        "['layers'][0]['b']",
        "['layers'][0]['w']",
        "['layers'][1].x",
        "['scale']",
    ]
    assert tree.structure(7).leaf_paths() == [""]


def test_map_single_and_several_trees() -> None:
    a = {"w": [1.0, 2.0], "b": 3.0}
    b = {"b": 30.0, "w": [10.0, 20.0]}
    c = {"w": [100.0, 200.0], "b": 300.0}
    assert tree.map(lambda x: x * 2, a) == {"w": [2.0, 4.0], "b": 6.0}
    assert tree.map(lambda x, y, z: x + y + z, a, b, c) == {"w": [111.0, 222.0], "b": 333.0}


def test_map_keeps_leaf_order_pairing_with_arrays() -> None:
    params = {"w": np.array([1.0, 2.0]), "b": np.array([3.0])}
    grads = {"w": np.array([0.5, 0.5]), "b": np.array([1.0])}
    out = tree.map(lambda p, g: p - g, params, grads)
    np.testing.assert_array_equal(out["w"], [0.5, 1.5])
    np.testing.assert_array_equal(out["b"], [2.0])


def test_map_structure_mismatch_shows_both_structures() -> None:
    with pytest.raises(ValueError) as info:
        tree.map(lambda x, y: x + y, {"a": 1, "b": (2, 3)}, {"a": 1, "b": [2, 3]})
    message = str(info.value)
    assert "PyTreeDef({'a': *, 'b': (*, *)})" in message
    assert "PyTreeDef({'a': *, 'b': [*, *]})" in message


def test_map_mismatch_reports_which_extra_tree() -> None:
    with pytest.raises(ValueError, match=r"tree 2 has a different structure") as info:
        tree.map(lambda x, y, z: x, (1, 2), (3, 4), (5,))
    assert "PyTreeDef((*,))" in str(info.value)


def test_unflatten_wrong_leaf_count() -> None:
    treedef = tree.structure({"a": 1, "b": (2, 3)})
    with pytest.raises(ValueError, match=r"expects 3 leaves, got 2"):
        tree.unflatten(treedef, [1, 2])
    with pytest.raises(ValueError, match=r"expects 3 leaves, got 4"):
        tree.unflatten(treedef, [1, 2, 3, 4])


def test_unflatten_rejects_swapped_arguments() -> None:
    leaves, treedef = tree.flatten([1])
    with pytest.raises(TypeError, match="needs a TreeDef"):
        tree.unflatten(leaves, treedef)  # type: ignore[arg-type]


def test_leaves_and_structure_helpers() -> None:
    t = [3, {"b": 2, "a": 1}]
    assert tree.leaves(t) == [3, 1, 2]
    assert tree.structure(t) == tree.flatten(t)[1]


def test_deep_nesting_does_not_hit_recursion_limit() -> None:
    t: Any = 0
    for _ in range(5000):
        t = [t]
    leaves, treedef = tree.flatten(t)
    assert leaves == [0]
    back = tree.unflatten(treedef, [1])
    for _ in range(5000):
        back = back[0]
    assert back == 1


# ---------------------------------------------------------------------------------------
# Registration. Each test defines its own classes: the registry is global and a type can
# only be registered once.


def test_register_node_custom_class() -> None:
    class Linear:
        def __init__(self, w: Any, b: Any, name: str) -> None:
            self.w, self.b, self.name = w, b, name

    def flat(layer: Linear) -> tuple[list[Any], str]:
        return [layer.w, layer.b], layer.name

    def unflat(name: str, children: list[Any]) -> Linear:
        return Linear(children[0], children[1], name)

    tree.register_node(Linear, flat, unflat)
    layer = Linear(np.ones(2), 0.5, "fc1")
    leaves, treedef = tree.flatten({"layer": layer, "extra": 1})
    assert leaves[0] == 1 and leaves[2] == 0.5
    np.testing.assert_array_equal(leaves[1], [1.0, 1.0])
    assert repr(treedef) == "PyTreeDef({'extra': *, 'layer': CustomNode(Linear['fc1'], [*, *])})"
    back = tree.unflatten(treedef, [2, "W", "B"])
    assert isinstance(back["layer"], Linear)
    assert (back["layer"].w, back["layer"].b, back["layer"].name) == ("W", "B", "fc1")
    assert tree.structure(Linear(1, 2, "fc2")) != tree.structure(Linear(1, 2, "fc1"))
    assert tree.structure(Linear(1, 2, "fc1")) == tree.structure(Linear(3, 4, "fc1"))
    assert tree.structure({"layer": layer}).leaf_paths() == ["['layer'][0]", "['layer'][1]"]


def test_register_node_twice_is_an_error() -> None:
    class Box:
        def __init__(self, v: Any) -> None:
            self.v = v

    def flat(box: Box) -> tuple[tuple[Any], None]:
        return (box.v,), None

    def unflat(aux: None, children: list[Any]) -> Box:
        return Box(children[0])

    tree.register_node(Box, flat, unflat)
    with pytest.raises(ValueError, match="already registered"):
        tree.register_node(Box, flat, unflat)
    with pytest.raises(ValueError, match="already registered"):
        tree.register_node(dict, lambda d: ((), None), lambda a, c: {})


def test_register_node_can_take_over_a_namedtuple() -> None:
    class Seen(NamedTuple):
        a: Any
        b: Any

    assert tree.leaves(Seen(1, 2)) == [1, 2]

    def flat(s: Seen) -> tuple[list[Any], None]:
        return [s.b], None

    def unflat(aux: None, children: list[Any]) -> Seen:
        return Seen(None, children[0])

    tree.register_node(Seen, flat, unflat)
    assert tree.leaves(Seen(1, 2)) == [2]


def test_custom_node_with_unhashable_aux_fails_clearly_on_hash() -> None:
    class Holder:
        def __init__(self, v: Any, meta: list[int]) -> None:
            self.v, self.meta = v, meta

    def flat(h: Holder) -> tuple[list[Any], Any]:
        return [h.v], h.meta

    tree.register_node(Holder, flat, lambda meta, ch: Holder(ch[0], meta))
    treedef = tree.structure(Holder(1, [1, 2]))
    with pytest.raises(TypeError, match="unhashable aux data"):
        hash(treedef)


def test_register_dataclass_plain_decorator() -> None:
    @tree.register_dataclass
    @dataclasses.dataclass
    class Dense:
        w: Any
        b: Any

    layer = Dense(w=np.ones((2, 2)), b=np.zeros(2))
    leaves, treedef = tree.flatten([layer])
    assert leaves[0] is layer.w and leaves[1] is layer.b
    assert repr(treedef) == "PyTreeDef([Dense(w=*, b=*)])"
    assert treedef.leaf_paths() == ["[0].w", "[0].b"]
    back = tree.unflatten(treedef, [1, 2])
    assert back == [Dense(1, 2)]
    doubled = tree.map(lambda x: x * 2, layer)
    assert isinstance(doubled, Dense)
    np.testing.assert_array_equal(doubled.w, 2 * np.ones((2, 2)))


def test_register_dataclass_with_meta_fields() -> None:
    @tree.register_dataclass(meta_fields=("activation", "width"))
    @dataclasses.dataclass(frozen=True)
    class Layer:
        w: Any
        activation: str
        b: Any
        width: int

    layer = Layer(w=1.0, activation="relu", b=2.0, width=8)
    leaves, treedef = tree.flatten(layer)
    assert leaves == [1.0, 2.0]
    assert repr(treedef) == "PyTreeDef(Layer(w=*, b=*, activation='relu', width=8))"
    back = tree.unflatten(treedef, [10.0, 20.0])
    assert back == Layer(w=10.0, activation="relu", b=20.0, width=8)
    # Meta fields are structure: a different value is a different TreeDef and breaks map.
    other = Layer(w=1.0, activation="tanh", b=2.0, width=8)
    assert tree.structure(other) != treedef
    assert hash(tree.structure(Layer(5, "relu", 6, 8))) == hash(treedef)
    with pytest.raises(ValueError, match="activation='tanh'"):
        tree.map(lambda x, y: x + y, layer, other)


def test_register_dataclass_runs_post_init_and_restores_non_init_fields() -> None:
    @tree.register_dataclass
    @dataclasses.dataclass
    class Scaled:
        value: Any
        doubled: Any = dataclasses.field(init=False)

        def __post_init__(self) -> None:
            self.doubled = self.value * 2

    s = Scaled(3)
    assert tree.leaves(s) == [3, 6]
    back = tree.unflatten(tree.structure(s), [5, 100])
    assert back.value == 5
    assert back.doubled == 100


def test_register_dataclass_errors() -> None:
    class NotADataclass:
        pass

    with pytest.raises(TypeError, match="needs a dataclass"):
        tree.register_dataclass(NotADataclass)

    @dataclasses.dataclass
    class D:
        a: int

    with pytest.raises(ValueError, match=r"\['nope'\] are not fields of"):
        tree.register_dataclass(D, meta_fields=("nope",))
    with pytest.raises(TypeError, match="not a string"):
        tree.register_dataclass(D, meta_fields="a")
    tree.register_dataclass(D)
    with pytest.raises(ValueError, match="already registered"):
        tree.register_dataclass(D)


# ---------------------------------------------------------------------------- jax.tree_util parity


def test_map_over_several_trees_with_is_leaf() -> None:
    a = {"w": (1.0, 2.0), "b": 3.0}
    b = {"w": (10.0, 20.0), "b": 30.0}
    assert tree.map(lambda x, y: x + y, a, b) == {"w": (11.0, 22.0), "b": 33.0}
    # with is_leaf the pairs are leaves: f sees the whole tuple
    assert tree.map(lambda t: sum(t) if isinstance(t, tuple) else t, a,
                    is_leaf=lambda n: isinstance(n, tuple)) == {
        "w": 3.0, "b": 3.0}
    assert tree.leaves(a, is_leaf=lambda n: isinstance(n, tuple)) == [3.0, (1.0, 2.0)]
    assert tree.tree_map is tree.map and tree.tree_leaves is tree.leaves
    with pytest.raises(ValueError, match="tree 1 has a different structure"):
        tree.map(lambda x, y: x, a, {"w": (1.0,), "b": 2.0})


def test_key_paths_are_readable() -> None:
    Point = namedtuple("Point", "x y")
    t = {"params": [np.zeros(2), Point(1.0, 2.0)], "step": 3}
    pairs, treedef = tree.flatten_with_path(t)
    assert [tree.keystr(p) for p, _ in pairs] == [
        "['params'][0]", "['params'][1].x", "['params'][1].y", "['step']"]
    assert pairs[1] == (("['params']", "[1]", ".x"), 1.0)
    named = tree.map_with_path(lambda p, x, y: f"{tree.keystr(p)}={x + y}",
                               {"a": 1, "b": [2]}, {"a": 10, "b": [20]})
    assert named == {"a": "['a']=11", "b": ["['b'][0]=22"]}
    assert treedef.leaf_paths() == [tree.keystr(p) for p, _ in pairs]


def test_transpose_swaps_outer_and_inner_structures() -> None:
    per_example = [{"loss": 1.0, "acc": 0.5}, {"loss": 2.0, "acc": 0.25}]
    outer, inner = tree.structure([0, 0]), tree.structure({"loss": 0, "acc": 0})
    assert tree.transpose(outer, inner, per_example) == {"loss": [1.0, 2.0], "acc": [0.5, 0.25]}
    with pytest.raises(ValueError, match="has 3 leaves"):
        tree.transpose(outer, inner, [1.0, 2.0, 3.0])


@tree.register_pytree_node_class
class Affine:
    """A user class made a pytree by its own tree_flatten / tree_unflatten."""

    def __init__(self, w: Any, b: Any, name: str) -> None:
        self.w, self.b, self.name = w, b, name

    def tree_flatten(self) -> tuple[tuple[Any, Any], str]:
        return (self.w, self.b), self.name

    @classmethod
    def tree_unflatten(cls, aux: Any, children: list[Any]) -> Affine:
        return cls(children[0], children[1], aux)


def test_register_pytree_node_class_and_partial_through_transforms() -> None:
    layer = Affine(np.array([2.0, -1.0]), np.array(0.5), "layer")
    g = funcgrad.grad(lambda m, x: fnp.sum(m.w * x) + m.b)(layer, np.array([3.0, 4.0]))
    assert isinstance(g, Affine) and g.name == "layer"
    np.testing.assert_array_equal(g.w, [3.0, 4.0])
    assert float(g.b) == 1.0
    scale = tree.Partial(lambda x, k: x * k, k=np.array(3.0))
    assert len(tree.leaves(scale)) == 1  # k is a leaf, the function part of the structure
    np.testing.assert_array_equal(funcgrad.jit(lambda f, x: f(x))(scale, np.ones(2)), [3.0, 3.0])
    dk = funcgrad.grad(lambda f: fnp.sum(f(np.ones(2))))(scale)
    assert float(dk.keywords["k"]) == 2.0


# ---------------------------------------------------------------------------------------
# Checkpoints: save / load


def assert_same_tree(got: Any, want: Any) -> None:
    """Same structure, and leaf by leaf the same type, dtype, shape and values."""
    got_leaves, got_def = tree.flatten(got)
    want_leaves, want_def = tree.flatten(want)
    assert got_def == want_def
    for g, w in zip(got_leaves, want_leaves):
        assert type(g) is type(w)
        assert np.asarray(g).dtype == np.asarray(w).dtype
        assert np.shape(g) == np.shape(w)
        np.testing.assert_array_equal(g, w)


def as_arrays(t: Any) -> Any:
    """What load gives without like=: every leaf as a numpy array."""
    return tree.map(np.asarray, t)


def npy_bytes(array: Any) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def write_zip(path: Path, entries: dict[str, bytes],
              method: int = zipfile.ZIP_STORED) -> Path:
    """A hand-made .npz: name -> the bytes of one entry."""
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def meta_bytes(leaves: list[dict[str, Any]], nodes: list[Any] | None = None,
               fmt: str = tree.CHECKPOINT_FORMAT) -> bytes:
    """The metadata entry of a hand-made checkpoint whose tree is a list of the leaves."""
    meta = {"format": fmt, "structure": "made by hand",
            "nodes": [["list", len(leaves)]] + ["*"] * len(leaves) if nodes is None else nodes,
            "leaves": leaves}
    return npy_bytes(np.frombuffer(json.dumps(meta).encode(), np.uint8))


def nested(rng: np.random.Generator) -> dict[str, Any]:
    """A tree with every kind of node load can rebuild alone and many kinds of leaf."""
    return {
        "params": [{"w": rng.standard_normal((3, 2)).astype(np.float32),
                    "b": np.zeros(2, np.float32)},
                   (rng.standard_normal(4), None)],
        "step": np.array(7, np.int64),
        "mask": rng.random((2, 2)) > 0.5,
        "counts": np.arange(5, dtype=np.int32),
        "scalar64": np.array(2.5),
        "empty": np.zeros((0, 3), np.float32),
        "fortran": np.asfortranarray(rng.standard_normal((3, 4))),
        "big_endian": np.arange(3, dtype=">i4"),
        "complex": np.array([1 + 2j, -3j], np.complex64),
        "name": np.array("adam"),
        "by_layer": {0: np.ones(1), 1: [OrderedDict([("z", np.ones(1)), ("a", np.full(2, 3.0))])]},
    }


def test_save_load_round_trip_without_like(tmp_path: Path) -> None:
    t = nested(np.random.default_rng(0))
    path = tmp_path / "ckpt.npz"
    tree.save(path, t)
    back = tree.load(path)
    assert_same_tree(back, t)
    assert type(back["by_layer"][1][0]) is OrderedDict
    assert list(back["by_layer"][1][0]) == ["z", "a"]
    assert back["fortran"].flags.f_contiguous  # stored as written, not re-laid out
    assert back["big_endian"].dtype == np.dtype(">i4")
    # Plain numpy reads the same file: one entry per leaf plus the metadata.
    with np.load(path, allow_pickle=False) as npz:
        assert len(npz.files) == 1 + tree.structure(t).num_leaves
        np.testing.assert_array_equal(npz["leaf_0"], t["big_endian"])


def test_save_load_python_scalars_and_like_types(tmp_path: Path) -> None:
    @tree.register_dataclass
    @dataclasses.dataclass
    class State:
        params: Any
        step: int

    t: Any = (State(params=Point(np.ones(2, np.float32), np.array(3.0)), step=4),
         {"lr": 0.5, "flag": True, "f32": np.float32(1.5), "tag": "x"}, None, [])
    tree.save(tmp_path / "s.npz", t)
    back = tree.load(tmp_path / "s.npz", like=t)
    assert_same_tree(back, t)  # the same types too: int, float, bool, str, np.float32
    assert type(back[0]) is State and type(back[0].params) is Point
    # The like= tree decides only the containers and leaf types: the values are the file's.
    fresh: Any = (State(params=Point(np.zeros(2, np.float32), np.array(0.0)), step=0),
             {"lr": 0.0, "flag": False, "f32": np.float32(0), "tag": "y"}, None, [])
    assert_same_tree(tree.load(tmp_path / "s.npz", like=fresh), t)


def test_load_without_like_refuses_code_defined_nodes(tmp_path: Path) -> None:
    tree.save(tmp_path / "p.npz", {"pt": Point(np.ones(1), np.zeros(1))})
    with pytest.raises(tree.CheckpointError) as info:
        tree.load(tmp_path / "p.npz")
    message = str(info.value)
    assert str(tmp_path / "p.npz") in message
    assert "Point" in message and "like=" in message


def test_root_leaf_and_empty_tree(tmp_path: Path) -> None:
    tree.save(tmp_path / "a.npz", np.arange(3.0))
    np.testing.assert_array_equal(tree.load(tmp_path / "a.npz"), np.arange(3.0))
    tree.save(tmp_path / "e.npz", {})
    assert tree.load(tmp_path / "e.npz") == {}


def test_load_like_structure_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    tree.save(path, {"w": np.ones(2), "b": np.ones(1)})
    with pytest.raises(tree.CheckpointError) as info:
        tree.load(path, like={"w": np.ones(2), "gamma": np.ones(1)})
    message = str(info.value)
    assert message.startswith(f"{path}: the tree in the file has a different structure")
    assert "leaves only in the file: ['b']" in message
    assert "leaves only in like=: ['gamma']" in message
    with pytest.raises(tree.CheckpointError, match="same leaf paths in different kinds"):
        tree.load(path, like=OrderedDict([("b", np.ones(1)), ("w", np.ones(2))]))


def test_load_like_shape_and_dtype_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    tree.save(path, {"w": np.ones((2, 3), np.float32), "b": np.ones(3, np.float32), "n": 1})
    like = {"w": np.ones((3, 2), np.float32), "b": np.ones(3, np.float64), "n": 1}
    with pytest.raises(tree.CheckpointError) as info:
        tree.load(path, like=like)
    assert str(info.value) == (
        f"{path}: 2 leaves differ from like= in shape or dtype:\n"
        "  ['b']: the file holds float32[3], like= has float64[3]\n"
        "  ['w']: the file holds float32[2, 3], like= has float32[3, 2]")


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    tree.save(path, {"x": np.ones(2)})
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        tree.save(path, {"x": np.zeros(2)})
    assert info.value.filename == str(path)
    np.testing.assert_array_equal(tree.load(path)["x"], np.ones(2))
    tree.save(path, {"x": np.zeros(2)}, overwrite=True)
    np.testing.assert_array_equal(tree.load(path)["x"], np.zeros(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]  # no temp file left


def test_save_errors_name_the_leaf_or_directory(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"leaf at \['f'\] is a builtin_function_or_method of dtype object"):
        tree.save(tmp_path / "c.npz", {"x": np.ones(2), "f": print})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="no such directory") as info:
        tree.save(tmp_path / "nowhere" / "c.npz", [np.ones(1)])
    assert info.value.filename == str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError):
        tree.load(tmp_path / "missing.npz")


def test_interrupted_save_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    path = tmp_path / "c.npz"
    tree.save(path, {"x": np.ones(2)})

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tree.save(path, {"x": np.zeros(2)}, overwrite=True)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]
    np.testing.assert_array_equal(tree.load(path)["x"], np.ones(2))  # the old file, whole


def test_leftover_temp_files_are_cleaned_by_the_next_save(tmp_path: Path) -> None:
    # What a save killed mid-write leaves: a temp file named after its target.
    dead = tmp_path / ".old.npz.k3j_x9q2.funcgrad-save.tmp"
    dead.write_bytes(b"PK\x03\x04 half a zip")
    # A save in progress in another thread or process holds a lock on its temp file.
    live = tmp_path / ".other.npz.abcdefgh.funcgrad-save.tmp"
    live.write_bytes(b"being written")
    unrelated = [tmp_path / name for name in
                 ("notes.txt", ".old.npz.tmp", "x.funcgrad-save.tmp", ".hidden")]
    for p in unrelated:
        p.write_text("keep me")
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        tree.save(tmp_path / "new.npz", [np.ones(3)])
        assert live.exists()
    assert not dead.exists()
    for p in unrelated:
        assert p.read_text() == "keep me"
    np.testing.assert_array_equal(tree.load(tmp_path / "new.npz")[0], np.ones(3))


def test_concurrent_saves_and_loads(tmp_path: Path) -> None:
    trees = [{"w": np.full((50, 50), float(i)), "i": np.array(i)} for i in range(8)]
    results: list[Any] = [None] * 8

    def work(i: int) -> None:
        path = tmp_path / f"t{i % 4}.npz"
        for _ in range(5):
            tree.save(path, trees[i], overwrite=True)
            back = tree.load(path, like=trees[i])
            j = int(back["i"])  # another thread may have replaced it: but never half
            np.testing.assert_array_equal(back["w"], trees[j]["w"])
        results[i] = j

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(r is not None and r % 4 == i % 4 for i, r in enumerate(results))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"t{i}.npz" for i in range(4)]


def test_concurrent_saves_without_overwrite_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def work(i: int) -> None:
        barrier.wait()
        try:
            tree.save(path, {"i": np.array(i)})
            outcomes.append(f"saved {i}")
        except FileExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    saved = [o for o in outcomes if o.startswith("saved")]
    assert len(saved) == 1 and outcomes.count("refused") == 5
    assert saved[0] == f"saved {int(tree.load(path)['i'])}"


@pytest.mark.parametrize("keep", [0, 10, 100, -1, -22])
def test_truncated_file(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "c.npz"
    tree.save(path, nested(np.random.default_rng(1)))
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    with pytest.raises(tree.CheckpointError, match="not a readable tree checkpoint") as info:
        tree.load(path)
    assert str(info.value).startswith(f"{path}: ")


def test_corrupt_leaf_data_fails_its_checksum(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    tree.save(path, {"w": np.zeros(1000)})
    data = bytearray(path.read_bytes())
    data[data.index(bytes(800)) + 400] = 1  # one byte in the middle of the zeros
    path.write_bytes(bytes(data))
    with pytest.raises(tree.CheckpointError, match=r"Bad CRC-32 for file 'leaf_0\.npy'") as info:
        tree.load(path)
    assert str(path) in str(info.value)


def test_npy_and_plain_npz_are_not_checkpoints(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.ones(3))
    with pytest.raises(tree.CheckpointError, match="a .npy file") as info:
        tree.load(tmp_path / "a.npy")
    assert str(tmp_path / "a.npy") in str(info.value)
    np.savez(tmp_path / "b.npz", x=np.ones(3))
    with pytest.raises(tree.CheckpointError, match="no __funcgrad_tree__ entry"):
        tree.load(tmp_path / "b.npz")
    (tmp_path / "c.npz").write_text("hello")
    with pytest.raises(tree.CheckpointError, match="BadZipFile"):
        tree.load(tmp_path / "c.npz")


LEAF = {"path": "[0]", "dtype": "<f8", "shape": [3]}


@pytest.mark.parametrize("meta, message", [
    (npy_bytes(np.frombuffer(b"{not json", np.uint8)), "JSONDecodeError"),
    (npy_bytes(np.frombuffer(b"\xff\xfe", np.uint8)), "UnicodeDecodeError"),
    (npy_bytes(np.ones(3)), r"corrupt metadata entry: float64\[3\]"),
    (meta_bytes([LEAF], fmt="other/2"), "format 'other/2'"),
    (meta_bytes([{"path": "[0]", "dtype": "|O", "shape": [3]}]), "corrupt metadata: leaf 0"),
    (meta_bytes([{"path": "[0]", "dtype": "<f8", "shape": [-3]}]), "corrupt metadata: leaf 0"),
    (meta_bytes([LEAF], nodes=[["list", 2], "*"]), "do not form a tree of 1 leaves"),
    (meta_bytes([LEAF], nodes=["*", "*"]), "nodes after the tree's end"),
    (meta_bytes([LEAF], nodes=[["set", 1], "*"]), r"unknown tree node \['set', 1\]"),
    (meta_bytes([LEAF, LEAF]), "the metadata lists 2 leaves, the file holds 1 other entries"),
    (meta_bytes([{"path": "[0]", "dtype": "<f4", "shape": [3]}]),
     r"entry leaf_0 \(\[0\]\) holds float64\[3\], the metadata says float32\[3\]"),
])
def test_corrupt_metadata(tmp_path: Path, meta: bytes, message: str) -> None:
    path = write_zip(tmp_path / "c.npz", {"__funcgrad_tree__.npy": meta,
                                          "leaf_0.npy": npy_bytes(np.ones(3))})
    with pytest.raises(tree.CheckpointError, match=message) as info:
        tree.load(path)
    assert str(info.value).startswith(f"{path}: ")


def test_wrong_leaf_count(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "c.npz", {"__funcgrad_tree__.npy": meta_bytes([LEAF]),
                                          "leaf_0.npy": npy_bytes(np.ones(3)),
                                          "leaf_1.npy": npy_bytes(np.ones(3))})
    with pytest.raises(tree.CheckpointError,
                       match="the metadata lists 1 leaves, the file holds 2 other entries"):
        tree.load(path)


def load_peak(path: Path) -> tuple[str, int]:
    """load's error message on a hostile file and the peak memory it allocated meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(tree.CheckpointError) as info:
            tree.load(path)
        return str(info.value), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_hostile_shapes_are_refused_before_allocation(tmp_path: Path) -> None:
    huge = [1 << 20, 1 << 20]  # 8 TiB of float64
    leaf = {"path": "[0]", "dtype": "<f8", "shape": huge}
    buf = io.BytesIO()  # numpy's header for the huge shape, then 64 bytes, not 8 TiB
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                               "shape": tuple(huge)})
    path = write_zip(tmp_path / "c.npz", {"__funcgrad_tree__.npy": meta_bytes([leaf]),
                                          "leaf_0.npy": buf.getvalue() + bytes(64)})
    message, peak = load_peak(path)
    assert f"declares 64 data bytes, float64[{huge[0]}, {huge[1]}] needs {8 << 40}" in message
    assert peak < 1 << 20


def test_hostile_declared_sizes_are_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "c.npz", {"__funcgrad_tree__.npy": meta_bytes([LEAF]),
                                          "leaf_0.npy": npy_bytes(np.ones(3))})
    data = bytearray(path.read_bytes())
    # The central directory's record of leaf_0.npy: claim 4 GiB - 1 for both sizes.
    record = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)
    data[record + 20:record + 28] = b"\xff\xff\xfe\xff" * 2
    path.write_bytes(bytes(data))
    message, peak = load_peak(path)
    assert "declares more data than the file's" in message
    assert peak < 1 << 20


def test_compressed_entries_are_refused(tmp_path: Path) -> None:
    # A deflated entry could inflate far beyond the file's size.
    path = write_zip(tmp_path / "c.npz", {"__funcgrad_tree__.npy": meta_bytes([LEAF]),
                                          "leaf_0.npy": npy_bytes(np.ones(3))},
                     method=zipfile.ZIP_DEFLATED)
    with pytest.raises(tree.CheckpointError, match="compressed or encrypted"):
        tree.load(path)
