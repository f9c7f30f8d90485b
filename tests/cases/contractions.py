"""Cases of the products."""

from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from cases.base import case, normal


CONTRACTIONS = [
    case("matmul_1d_1d", fnp.matmul, np.matmul, normal(4), normal(4)),
    case("matmul_2d_1d", fnp.matmul, np.matmul, normal(3, 4), normal(4)),
    case("matmul_1d_2d", fnp.matmul, np.matmul, normal(3), normal(3, 4)),
    case("matmul_2d_2d", fnp.matmul, np.matmul, normal(2, 3), normal(3, 4)),
    case("matmul_operator", lambda x, y: x @ y, lambda x, y: x @ y, normal(2, 3), normal(3, 4)),
    case("matmul_batched", fnp.matmul, np.matmul, normal(2, 3, 4), normal(2, 4, 5)),
    case("matmul_batch_times_matrix", fnp.matmul, np.matmul, normal(2, 3, 4), normal(4, 5)),
    case("matmul_matrix_times_batch", fnp.matmul, np.matmul, normal(3, 4), normal(2, 4, 5)),
    case("matmul_broadcast_batch", fnp.matmul, np.matmul, normal(2, 1, 3, 4), normal(5, 4, 2)),
    case("matmul_batch_1d", fnp.matmul, np.matmul, normal(2, 3, 4), normal(4)),
    case("matmul_1d_batch", fnp.matmul, np.matmul, normal(4), normal(2, 4, 5)),
    case("dot_1d_1d", fnp.dot, np.dot, normal(4), normal(4)),
    case("dot_2d_1d", fnp.dot, np.dot, normal(3, 4), normal(4)),
    case("dot_2d_2d", fnp.dot, np.dot, normal(2, 3), normal(3, 4)),
    case("dot_scalar", fnp.dot, np.dot, normal(), normal(2, 3)),
    case("dot_nd", fnp.dot, np.dot, normal(2, 3, 4), normal(5, 4, 2)),
    case("dot_method", lambda x, y: x.dot(y), lambda x, y: x.dot(y), normal(2, 3), normal(3)),
    case("einsum_matmul", lambda x, y: fnp.einsum("ij,jk->ik", x, y),
       lambda x, y: np.einsum("ij,jk->ik", x, y), normal(2, 3), normal(3, 4)),
    case("einsum_implicit", lambda x, y: fnp.einsum("ij,jk", x, y),
       lambda x, y: np.einsum("ij,jk", x, y), normal(2, 3), normal(3, 4)),
    case("einsum_batched", lambda x, y: fnp.einsum("bij,bjk->bik", x, y),
       lambda x, y: np.einsum("bij,bjk->bik", x, y), normal(2, 3, 4), normal(2, 4, 2)),
    case("einsum_sum_one_operand", lambda x: fnp.einsum("ijk->j", x),
       lambda x: np.einsum("ijk->j", x), normal(2, 3, 4)),
    case("einsum_label_only_in_one", lambda x, y: fnp.einsum("ij,k->ik", x, y),
       lambda x, y: np.einsum("ij,k->ik", x, y), normal(2, 3), normal(4)),
    case("einsum_three_operands", lambda x, y, z: fnp.einsum("i,ij,j->", x, y, z),
       lambda x, y, z: np.einsum("i,ij,j->", x, y, z), normal(2), normal(2, 3), normal(3)),
    case("einsum_transpose", lambda x: fnp.einsum("ij->ji", x), lambda x: np.einsum("ij->ji", x),
       normal(2, 3)),
    case("tensordot_1", lambda x, y: fnp.tensordot(x, y, 1),
       lambda x, y: np.tensordot(x, y, 1), normal(2, 3), normal(3, 4)),
    case("tensordot_2", fnp.tensordot, np.tensordot, normal(2, 3, 4), normal(3, 4, 5)),
    case("tensordot_axes_lists", lambda x, y: fnp.tensordot(x, y, ([0, 2], [1, 0])),
       lambda x, y: np.tensordot(x, y, ([0, 2], [1, 0])), normal(2, 3, 4), normal(4, 2, 5)),
    case("tensordot_0", lambda x, y: fnp.tensordot(x, y, 0),
       lambda x, y: np.tensordot(x, y, 0), normal(2), normal(3)),
    case("outer", fnp.outer, np.outer, normal(3), normal(4)),
    case("outer_flattens", fnp.outer, np.outer, normal(2, 2), normal(3)),
]
