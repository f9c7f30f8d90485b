"""Cases of the shape and assembly functions."""

from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from cases.base import case, normal


SHAPES = [
    case("reshape", lambda x: fnp.reshape(x, (4, 6)), lambda x: np.reshape(x, (4, 6)),
       normal(2, 3, 4)),
    case("reshape_minus1", lambda x: fnp.reshape(x, (-1, 2)), lambda x: np.reshape(x, (-1, 2)),
       normal(2, 3, 4)),
    case("reshape_method_ints", lambda x: x.reshape(6, 4), lambda x: x.reshape(6, 4),
       normal(2, 3, 4)),
    case("transpose", fnp.transpose, np.transpose, normal(2, 3, 4)),
    case("transpose_axes", lambda x: fnp.transpose(x, (1, 2, 0)),
       lambda x: np.transpose(x, (1, 2, 0)), normal(2, 3, 4)),
    case("transpose_negative_axes", lambda x: fnp.transpose(x, (-1, 0, 1)),
       lambda x: np.transpose(x, (-1, 0, 1)), normal(2, 3, 4)),
    case("T", lambda x: x.T, lambda x: x.T, normal(2, 3)),
    case("swapaxes", lambda x: fnp.swapaxes(x, 0, -1), lambda x: np.swapaxes(x, 0, -1),
       normal(2, 3, 4)),
    case("moveaxis", lambda x: fnp.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1),
       normal(2, 3, 4)),
    case("moveaxis_multi", lambda x: fnp.moveaxis(x, (0, 1), (2, 0)),
       lambda x: np.moveaxis(x, (0, 1), (2, 0)), normal(2, 3, 4)),
    case("expand_dims", lambda x: fnp.expand_dims(x, 1), lambda x: np.expand_dims(x, 1),
       normal(2, 3)),
    case("expand_dims_multi", lambda x: fnp.expand_dims(x, (0, -1)),
       lambda x: np.expand_dims(x, (0, -1)), normal(2, 3)),
    case("squeeze", fnp.squeeze, np.squeeze, normal(2, 1, 3, 1)),
    case("squeeze_axis", lambda x: fnp.squeeze(x, -1), lambda x: np.squeeze(x, -1),
       normal(2, 1, 3, 1)),
    case("ravel", fnp.ravel, np.ravel, normal(2, 3, 4)),
    case("broadcast_to", lambda x: fnp.broadcast_to(x, (4, 2, 3)),
       lambda x: np.broadcast_to(x, (4, 2, 3)), normal(2, 1)),
    case("concatenate", lambda x, y: fnp.concatenate([x, y], axis=1),
       lambda x, y: np.concatenate([x, y], axis=1), normal(2, 3), normal(2, 2)),
    case("concatenate_three_negative_axis", lambda x, y, z: fnp.concatenate([x, y, z], axis=-2),
       lambda x, y, z: np.concatenate([x, y, z], axis=-2),
       normal(1, 3), normal(2, 3), normal(3, 3)),
    case("stack", lambda x, y, z: fnp.stack([x, y, z]), lambda x, y, z: np.stack([x, y, z]),
       normal(2, 3), normal(2, 3), normal(2, 3)),
    case("stack_axis", lambda x, y: fnp.stack([x, y], axis=-1),
       lambda x, y: np.stack([x, y], axis=-1), normal(2, 3), normal(2, 3)),
    case("split_sections", lambda x: fnp.split(x, 3, axis=1),
       lambda x: np.split(x, 3, axis=1), normal(2, 6)),
    case("split_indices", lambda x: fnp.split(x, [1, 4]), lambda x: np.split(x, [1, 4]),
       normal(6, 2)),
    case("pad", lambda x: fnp.pad(x, ((1, 2), (0, 3))), lambda x: np.pad(x, ((1, 2), (0, 3))),
       normal(2, 3)),
    case("pad_int", lambda x: fnp.pad(x, 1), lambda x: np.pad(x, 1), normal(2, 3)),
]

