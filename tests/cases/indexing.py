"""Cases of indexing and functional updates."""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from cases.base import MASK, NDArray, at, away_from_zero, case, distinct, normal


REPEATED = np.array([3, 0, 3, -1, 1])  # element 3 three times (once as -1)
ALONG = np.array([[2, 0, 0, 1], [1, 1, 2, 2]])

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
    ("bool_scalar_true", True),
    ("bool_scalar_false", False),
    ("bool_scalar_middle", (slice(None), np.True_, np.array([0, 3]))),
    ("bool_scalar_with_ellipsis", (Ellipsis, True, None)),
    ("bool_scalars_separated", (True, slice(1, None), False)),
    ("int_with_bool_scalar", (1, True)),
    ("empty_tuple", ()),
    ("nested_list", [[0, 2], [1, 1]]),
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
    case("at_set_repeated", lambda x, v: at(x)[REPEATED].set(v),
         lambda x, v: _np_at_set(x, REPEATED, v), normal(4, 2), normal(5, 2)),
    case("at_set_bool_scalar", lambda x, v: at(x)[True, 1].set(v),
         lambda x, v: _np_at_set(x, (True, 1), v), normal(3, 2), normal(1, 2)),
    case("at_subtract", lambda x, v: at(x)[REPEATED].subtract(v),
         lambda x, v: _np_at(np.subtract, x, REPEATED, v), normal(4), normal(5)),
    case("at_multiply_repeated", lambda x, v: at(x)[REPEATED].multiply(v),
         lambda x, v: _np_at(np.multiply, x, REPEATED, v), normal(4, 2), away_from_zero(5, 2)),
    case("at_multiply_mask", lambda x, v: at(x)[x_mask()].multiply(v),
         lambda x, v: _np_at(np.multiply, x, x_mask(), v), normal(2, 3), normal(3)),
    case("at_divide_repeated", lambda x, v: at(x)[REPEATED].divide(v),
         lambda x, v: _np_at(np.divide, x, REPEATED, v), normal(4), away_from_zero(5)),
    case("at_min_repeated", lambda x, v: at(x)[REPEATED].min(v),
         lambda x, v: _np_at(np.minimum, x, REPEATED, v), distinct(4, 3),
         distinct(5, 3, offset=0.0625)),
    case("at_max_repeated", lambda x, v: at(x)[:, np.array([2, 0, 2, 2])].max(v),
         lambda x, v: _np_at(np.maximum, x, (slice(None), np.array([2, 0, 2, 2])), v),
         distinct(2, 3), distinct(2, 4, offset=0.0625)),
    case("at_max_slice", lambda x, v: at(x)[1:].max(v),
         lambda x, v: _np_at(np.maximum, x, slice(1, None), v), distinct(3),
         distinct(2, offset=0.0625)),
    case("at_apply_repeated", lambda x: at(x)[REPEATED].apply(fnp.sin),
         lambda x: _np_at(np.sin, x, REPEATED), normal(4)),
    case("take_flat", lambda x: fnp.take(x, np.array([[5, 0], [-1, 2]])),
         lambda x: np.take(x, np.array([[5, 0], [-1, 2]])), normal(2, 3)),
    case("take_axis", lambda x: fnp.take(x, [2, 2, 0], axis=-1),
         lambda x: np.take(x, [2, 2, 0], axis=-1), normal(2, 3)),
    case("take_scalar_index", lambda x: fnp.take(x, 1, axis=0),
         lambda x: np.take(x, 1, axis=0), normal(2, 3)),
    case("take_wrap", lambda x: fnp.take(x, np.array([-4, 5, 7]), axis=1, mode="wrap"),
         lambda x: np.take(x, np.array([-4, 5, 7]), axis=1, mode="wrap"), normal(2, 3)),
    case("take_clip", lambda x: fnp.take(x, np.array([-4, 1, 7]), axis=1, mode="clip"),
         lambda x: np.take(x, np.array([-4, 1, 7]), axis=1, mode="clip"), normal(2, 3)),
    case("take_method", lambda x: x.take(np.array([1, 1]), axis=0),
         lambda x: x.take(np.array([1, 1]), axis=0), normal(2, 3)),
    case("take_along_axis", lambda x: fnp.take_along_axis(x, ALONG, axis=1),
         lambda x: np.take_along_axis(x, ALONG, axis=1), normal(2, 3)),
    case("take_along_axis_broadcast", lambda x: fnp.take_along_axis(x, np.array([[2, 0]]), 1),
         lambda x: np.take_along_axis(x, np.array([[2, 0]]), 1), normal(2, 3)),
    case("take_along_axis_none", lambda x: fnp.take_along_axis(x, np.array([4, 0, 4]), None),
         lambda x: np.take_along_axis(x, np.array([4, 0, 4]), None), normal(2, 3)),
    case("put_along_axis", lambda x, v: fnp.put_along_axis(x, ALONG, v, 1, inplace=False),
         lambda x, v: _np_put_along(x, ALONG, v, 1), normal(2, 3), normal(2, 4)),
    case("select", lambda x, y: fnp.select([x > 0.5, x < -0.5], [x, y], default=2.0),
         lambda x, y: np.select([x > 0.5, x < -0.5], [x, y], default=2.0),
         away_from_zero(2, 3), normal(3)),
    case("select_traced_default", lambda x, d: fnp.select([x > 0], [x * 2], d),
         lambda x, d: np.select([x > 0], [x * 2], d), away_from_zero(4), normal(4)),
    case("diag_vector", fnp.diag, np.diag, normal(3)),
    case("diag_vector_k", lambda x: fnp.diag(x, -2), lambda x: np.diag(x, -2), normal(3)),
    case("diag_matrix_k", lambda x: fnp.diag(x, 1), lambda x: np.diag(x, 1), normal(3, 4)),
    case("diagonal", fnp.diagonal, np.diagonal, normal(3, 4)),
    case("diagonal_offset_axes", lambda x: fnp.diagonal(x, -1, 2, 0),
         lambda x: np.diagonal(x, -1, 2, 0), normal(3, 2, 4)),
    case("diagonal_method", lambda x: x.diagonal(1), lambda x: x.diagonal(1), normal(3, 3)),
    case("trace", fnp.trace, np.trace, normal(3, 4)),
    case("trace_offset_axes", lambda x: fnp.trace(x, 1, axis1=1, axis2=2),
         lambda x: np.trace(x, 1, axis1=1, axis2=2), normal(2, 3, 4)),
    case("trace_method", lambda x: x.trace(-1), lambda x: x.trace(-1), normal(3, 3)),
    case("tril", fnp.tril, np.tril, normal(2, 3, 4)),
    case("tril_k_1d", lambda x: fnp.tril(x, -1), lambda x: np.tril(x, -1), normal(3)),
    case("triu_k", lambda x: fnp.triu(x, 1), lambda x: np.triu(x, 1), normal(4, 3)),
    case("array_split", lambda x: _joined(fnp.array_split(x, 3, axis=1), 1),
         lambda x: _joined(np.array_split(x, 3, axis=1), 1), normal(2, 7)),
    case("array_split_indices", lambda x: _joined(fnp.array_split(x, np.array([2, -1])), 0),
         lambda x: _joined(np.array_split(x, np.array([2, -1])), 0), normal(5)),
    case("array_split_more_sections", lambda x: _joined(fnp.array_split(x, 4), 0),
         lambda x: _joined(np.array_split(x, 4), 0), normal(3, 2)),
    case("hsplit", lambda x: _joined(fnp.hsplit(x, [1]), 1),
         lambda x: _joined(np.hsplit(x, [1]), 1), normal(2, 3)),
    case("hsplit_1d", lambda x: fnp.hsplit(x, 2), lambda x: np.hsplit(x, 2), normal(4)),
    case("vsplit", lambda x: fnp.vsplit(x, 2), lambda x: np.vsplit(x, 2), normal(4, 3)),
    case("dsplit", lambda x: _joined(fnp.dsplit(x, [1, 3]), 2),
         lambda x: _joined(np.dsplit(x, [1, 3]), 2), normal(2, 1, 4)),
]

def x_mask() -> NDArray:
    return np.array([[True, False, True], [False, True, False]])


def _joined(pieces: Any, axis: int) -> Any:
    """Pieces of unequal shapes, each reversed along the split axis and joined again: one
    array (the vmap tests stack outputs), which shows where the pieces were cut."""
    flip = np.flip if isinstance(pieces[0], np.ndarray) else fnp.flip
    join = np.concatenate if isinstance(pieces[0], np.ndarray) else fnp.concatenate
    return join([flip(p, axis) for p in pieces], axis=axis)


def _np_at(ufunc: np.ufunc, x: NDArray, key: Any, *v: Any) -> NDArray:
    out = np.array(x, copy=True)
    ufunc.at(out, key, *v)
    return out


def _np_put_along(x: NDArray, idx: NDArray, v: NDArray, axis: int) -> NDArray:
    out = np.array(x, copy=True)
    np.put_along_axis(out, idx, v, axis)
    return out


def _np_at_add(x: NDArray, key: Any, v: Any) -> NDArray:
    out = np.array(x, copy=True)
    np.add.at(out, key, v)
    return out


def _np_at_set(x: NDArray, key: Any, v: Any) -> NDArray:
    out = np.array(x, copy=True)
    out[key] = v
    return out


CHOICES = np.array([[0, 2, 1, 0], [1, 1, 2, 0], [2, 0, 0, 1]])

INDEXING += [
    case("diagflat", lambda x: fnp.diagflat(x, -1), lambda x: np.diagflat(x, -1), normal(2, 2)),
    case("choose", lambda x, y: fnp.choose(CHOICES, [x, y, x[0] * 2]),
         lambda x, y: np.choose(CHOICES, [x, y, x[0] * 2]), normal(3, 4), normal(3, 4)),
    case("choose_wrap_clip", lambda x: fnp.choose(CHOICES + 2, [x, -x, 2 * x], mode="wrap")
         + fnp.choose(2 * CHOICES - 1, [x, -x, 2 * x], mode="clip"),
         lambda x: np.choose(CHOICES + 2, [x, -x, 2 * x], mode="wrap")
         + np.choose(2 * CHOICES - 1, [x, -x, 2 * x], mode="clip"), normal(3, 4)),
    case("choose_traced_index_wrap",
         lambda x: fnp.choose(fnp.astype(x > 0, np.intp), [x, x * x], mode="wrap"),
         lambda x: np.choose((x > 0).astype(np.intp), [x, x * x], mode="wrap"),
         away_from_zero(3, 4)),
    case("piecewise", lambda x: fnp.piecewise(x, [x < -0.5, x > 0.5], [lambda v: v * v,
                                                                        fnp.sin, 0.25]),
         lambda x: np.piecewise(x, [x < -0.5, x > 0.5], [lambda v: v * v, np.sin, 0.25]),
         away_from_zero(2, 5)),
    # (one condition, and an argument passed on to every function)
    case("piecewise_one_condition",
         lambda x, c: fnp.piecewise(x, x > 0, [lambda v, k: fnp.exp(v), lambda v, k: v * k], c[0]),
         lambda x, c: np.piecewise(x, x > 0, [lambda v, k: np.exp(v), lambda v, k: v * k], c[0]),
         away_from_zero(5), normal(1)),
    case("nonzero_gathers", lambda x: x[fnp.nonzero(MASK)], lambda x: x[np.nonzero(MASK)],
         normal(2, 3)),
    case("argwhere_gathers", lambda x: x[tuple(fnp.argwhere(MASK).T)],
         lambda x: x[tuple(np.argwhere(MASK).T)], normal(2, 3)),
    case("flatnonzero_gathers", lambda x: fnp.ravel(x)[fnp.flatnonzero(MASK)],
         lambda x: np.ravel(x)[np.flatnonzero(MASK)], normal(2, 3)),
    case("compress", lambda x: fnp.compress([True, False, True], x, axis=1),
         lambda x: np.compress([True, False, True], x, axis=1), normal(2, 3)),
    case("compress_flat_short", lambda x: fnp.compress([False, True, True], x),
         lambda x: np.compress([False, True, True], x), normal(2, 3)),
    case("extract", lambda x: fnp.extract(MASK, x), lambda x: np.extract(MASK, x), normal(2, 3)),
]
