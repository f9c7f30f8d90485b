"""`from funcgrad import lax`: JAX's lax control flow and the index operations loops need.

cond, switch, scan, map, fori_loop and while_loop each trace the functions they are given
into one equation (see funcgrad.control); dynamic_slice and friends index with traced
start positions; stop_gradient blocks derivatives. The primitives themselves, by family,
are in funcgrad.primitives.
"""

from __future__ import annotations

from funcgrad.control import (cond, dynamic_index_in_dim, dynamic_slice, dynamic_slice_in_dim,
                              dynamic_update_slice, fori_loop, map, scan, switch, while_loop)
from funcgrad.numpy import stop_gradient

__all__ = ["cond", "dynamic_index_in_dim", "dynamic_slice", "dynamic_slice_in_dim",
           "dynamic_update_slice", "fori_loop", "map", "scan", "stop_gradient", "switch",
           "while_loop"]
