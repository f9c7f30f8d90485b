"""Tests for funcgrad.tree: flatten/unflatten round trips, node kinds, registration, errors."""

from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict, defaultdict, namedtuple
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
