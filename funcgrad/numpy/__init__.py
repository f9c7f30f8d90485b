"""`import funcgrad.numpy as fnp`: numpy's names and semantics, traceable and differentiable.

Every function accepts numpy arrays, Python scalars and traced values. With no traced
argument it simply runs numpy. With one, it does numpy's broadcasting and dtype promotion
as explicit operations (Python scalars are weak: `x * 2.0` keeps float32) and then binds
an exact primitive of funcgrad.lax.

The layer is one table, `TABLE`: a row per function, naming the primitive it binds (or
none, for a composition of other functions), how its arguments are promoted, and which
numpy ufunc and which Tracer operators and methods it stands for. The functions are made
from their rows, family by family (elementwise, shapes, creation, reductions, indexing,
contractions); numpy's ufuncs given a tracer (`np.sin(t)`), and the Tracer's operators
and methods (`t + 1`, `t.sum()`), are installed from the same table when this package
is imported. Adding an elementwise function is one row plus its primitive's rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad.core import Array, ArrayLike, Tracer, user_location
from funcgrad.numpy import (contractions, creation, elementwise, fft, indexing, linalg, reductions,
                            shapes)
from funcgrad.numpy._table import TABLE, Axis, Row, ndim, shape
from funcgrad.numpy.contractions import *  # noqa: F403
from funcgrad.numpy.creation import *  # noqa: F403
from funcgrad.numpy.elementwise import *  # noqa: F403
from funcgrad.numpy.indexing import *  # noqa: F403
from funcgrad.numpy.reductions import *  # noqa: F403
from funcgrad.numpy.shapes import *  # noqa: F403

__all__ = ["Array", "ArrayLike", "Axis", "TABLE", "Row", "UFUNCS", "fft", "linalg", "ndim", "shape",
           "ndarray",
           "float32", "float64", "int32", "int64", "bool_", "pi", "e", "inf", "nan", "newaxis"]
__all__ += contractions.__all__
__all__ += creation.__all__
__all__ += elementwise.__all__
__all__ += indexing.__all__
__all__ += reductions.__all__
__all__ += shapes.__all__

ndarray = np.ndarray
float32 = np.float32
float64 = np.float64
int32 = np.int32
int64 = np.int64
bool_ = np.bool_
pi = np.pi
e = np.e
inf = np.inf
nan = np.nan
newaxis = None


# ---------------------------------------------------------------------------- installation

UFUNCS: dict[np.ufunc, Callable[..., Any]] = {
    row.ufunc: row.fn for row in TABLE.values() if row.ufunc is not None}
"""numpy ufuncs that, given a traced value, run their funcgrad.numpy counterpart."""


def _array_ufunc(self: Tracer, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any
                 ) -> Any:
    # numpy ufuncs given a tracer (np.sin(x), ndarray + x) run funcgrad's version, so
    # they trace and differentiate instead of failing or making an object array.
    fn = UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
    if fn is None:
        raise TypeError(
            f"numpy's {ufunc.__name__}{'' if method == '__call__' else '.' + method} "
            f"cannot take a traced value ({self.aval}); use funcgrad.numpy instead "
            "(import funcgrad.numpy as fnp)" + user_location())
    return fn(*inputs)


def _reflect(fn: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    def reflected(self: Any, other: Any) -> Any:
        return fn(other, self)
    return reflected


def _install() -> None:
    """Give Tracer its numpy interface from the table: operators, methods, properties and
    numpy's ufunc protocol."""
    for row in TABLE.values():
        for name in row.methods:
            setattr(Tracer, name, row.method or row.fn)
        for name in row.reflected:
            setattr(Tracer, name, _reflect(row.fn))
        for name in row.properties:
            setattr(Tracer, name, property(row.fn))
    setattr(Tracer, "__array_ufunc__", _array_ufunc)


_install()
