"""Cases of indexing and functional updates."""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from cases.base import NDArray, at, case, normal


INDEX_KEYS: list[tuple[str, Any]] = [
    ("int", 1),
    ("negative_int", -1),
    ("two_ints", (1, -2)),
    ("slice", slice(1, None)),
    ("slice_step", (slice(None), slice(None, None, 2))),
    ("slice_negative_step", slice(None, None, -1)),
    ("slice_negative_bounds", (slice(-2, None), slice(-4, -1, 2))),
    ("none", None),
    ("none_middle", (slice(None), None, 1)),
    ("ellipsis", (Ellipsis, 1)),
    ("ellipsis_step", (0, Ellipsis, slice(None, None, -2))),
    ("int_array", np.array([2, 0])),
    ("int_array_2d", np.array([[0, 1], [2, 2]])),
    ("int_array_repeated", np.array([0, 0, 2, 0])),
    ("int_list", [1, 1, 0]),
    ("int_array_negative", np.array([-1, 0, -1])),
    ("two_int_arrays", (np.array([0, 1, 1]), np.array([2, 3, 2]))),
    ("bool_mask_full", np.arange(60).reshape(3, 4, 5) % 3 == 0),
    ("bool_mask_axis0", np.array([True, False, True])),
    ("bool_mask_axis1", (slice(None), np.array([False, True, True, False]))),
    ("mixed_array_slice_int", (np.array([0, 2, 2]), slice(None), 1)),
    ("mixed_slice_array", (slice(1, None), np.array([0, 0, 3]))),
    ("mixed_none_ellipsis_array", (None, Ellipsis, np.array([1, 1, 4]))),
    ("mixed_separated_arrays", (np.array([0, 1]), slice(None, None, 2), np.array([1, 3]))),
]


INDEXING = [
    case(f"index_{name}", lambda x, key=key: fnp.getitem(x, key),
       lambda x, key=key: x[key], normal(3, 4, 5))
    for name, key in INDEX_KEYS
] + [
    case("index_operator", lambda x: x[1:, ::-1][0], lambda x: x[1:, ::-1][0], normal(3, 4)),
    case("at_add", lambda x, v: at(x)[1:, np.array([0, 0, 2])].add(v),
       lambda x, v: _np_at_add(x, (slice(1, None), np.array([0, 0, 2])), v),
       normal(3, 4), normal(2, 3)),
    case("at_add_scalar_value", lambda x: at(x)[np.array([1, 1])].add(2.0),
       lambda x: _np_at_add(x, np.array([1, 1]), 2.0), normal(3)),
    case("at_set", lambda x, v: at(x)[np.array([2, 0]), 1:3].set(v),
       lambda x, v: _np_at_set(x, (np.array([2, 0]), slice(1, 3)), v),
       normal(3, 4), normal(2, 2)),
    case("at_set_slice", lambda x, v: at(x)[::2].set(v),
       lambda x, v: _np_at_set(x, slice(None, None, 2), v), normal(5), normal(3)),
]


def _np_at_add(x: NDArray, key: Any, v: Any) -> NDArray:
    out = np.array(x, copy=True)
    np.add.at(out, key, v)
    return out


def _np_at_set(x: NDArray, key: Any, v: Any) -> NDArray:
    out = np.array(x, copy=True)
    out[key] = v
    return out
