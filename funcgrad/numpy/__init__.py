"""`import funcgrad.numpy as fnp`: numpy's names and semantics, traceable and differentiable.

Every function accepts numpy arrays, Python scalars and traced values. With no traced
argument it simply runs numpy. With one, it does numpy's broadcasting and dtype promotion
as explicit operations (Python scalars are weak: `x * 2.0` keeps float32) and then binds
an exact primitive of funcgrad.primitives.

The layer is one table, `TABLE`: a row per function, naming the primitive it binds (or
none, for a composition of other functions), how its arguments are promoted, and which
numpy ufunc and which Tracer operators and methods it stands for. The functions are made
from their rows, family by family (elementwise, shapes, creation, reductions, indexing,
contractions); numpy's ufuncs and functions given a tracer (`np.sin(t)`, `np.sum(t)`,
`np.linalg.norm(t)`), and the Tracer's operators and methods (`t + 1`, `t.sum()`), are
installed from the same table and family modules when this package is imported. Adding
an elementwise function is one row plus its primitive's rules.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from funcgrad.core import Array, ArrayLike, ConcretizationError, Tracer, user_location
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


_FAMILIES: dict[str, ModuleType] = {
    "numpy": sys.modules[__name__], "numpy.linalg": linalg, "numpy.fft": fft}
"""The funcgrad.numpy module standing for each of numpy's, by numpy's module name (which
numpy's functions keep as their __module__)."""


_INQUIRIES = frozenset({np.size, np.iscomplexobj, np.isrealobj, np.result_type, np.can_cast})
"""numpy functions that read only a value's shape or dtype, which tracers have: numpy's own
implementation answers them."""


def _numpy_name(func: Any) -> str:
    """'np.linalg.norm' for numpy.linalg.norm: a numpy function as users write it."""
    return f"np{func.__module__[len('numpy'):]}.{func.__name__}"


@functools.cache
def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _is_default(value: Any, default: Any) -> bool:
    return value is default or (isinstance(default, (bool, int, float, str))
                                and type(value) is type(default) and value == default)


def _as_called(func: Any, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """A call of numpy's `func` as the arguments of funcgrad's `fn`.

    Arguments are matched by numpy's parameter names, so none lands in a different
    parameter of fn when numpy's positions differ (np.sum(t, 0, np.float32) passes a dtype,
    not keepdims). Where fn names a parameter differently at the same position and numpy
    has no parameter of fn's name (numpy's `a` for fn's `x`), it is the same argument.
    Arguments equal to numpy's defaults (out=None) are dropped; any other fn does not take
    is a TypeError naming it.
    """
    theirs, ours = _signature(func), _signature(fn)
    if theirs is None or ours is None:
        return list(args), kwargs
    given = theirs.bind(*args, **kwargs).arguments  # numpy's dispatcher checked the call
    mine = list(ours.parameters.values())
    assigned: dict[str, Any] = {}
    for index, p in enumerate(theirs.parameters.values()):
        if p.name not in given:
            continue
        extra = given[p.name] if p.kind is p.VAR_KEYWORD else {p.name: given[p.name]}
        for name, value in extra.items():
            target = name if name in ours.parameters else (
                mine[index].name if p.kind is not p.VAR_KEYWORD and index < len(mine)
                and mine[index].name not in theirs.parameters else None)
            if target is not None:
                assigned[target] = value
            elif not _is_default(value, p.default):
                raise TypeError(f"{_numpy_name(func)} on a traced value runs funcgrad.numpy's "
                                f"version, which has no argument '{name}'" + user_location())
    # In fn's order: positionally until the first parameter not given, then by keyword.
    call_args: list[Any] = []
    call_kwargs: dict[str, Any] = {}
    positional = True
    for q in mine:
        if q.name not in assigned:
            positional = positional and q.kind is q.VAR_POSITIONAL
        elif q.kind is q.VAR_POSITIONAL:
            call_args.extend(assigned[q.name])
        elif positional and q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD):
            call_args.append(assigned[q.name])
        else:
            positional = False
            call_kwargs[q.name] = assigned[q.name]
    return call_args, call_kwargs


def _array_function(self: Tracer, func: Any, types: Any, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
    # numpy's functions given a tracer (np.sum(t), np.concatenate([t, a]), np.linalg.norm(t))
    # run funcgrad.numpy's function of the same name and module, so they trace and
    # differentiate.
    if not builtins.all(issubclass(t, (Tracer, np.ndarray)) for t in types):
        return NotImplemented
    if func in _INQUIRIES:
        return func._implementation(*args, **kwargs)  # NEP 18's undispatched numpy function
    family = _FAMILIES.get(getattr(func, "__module__", None) or "")
    fn = getattr(family, func.__name__, None) if (
        family is not None and func.__name__ in family.__all__) else None
    if fn is None or fn is func:  # fnp.linspace is numpy's own: it cannot take tracers
        raise TypeError(
            f"{_numpy_name(func) if family else func.__name__} has no funcgrad.numpy version, "
            f"so it cannot take a traced value ({self.aval}); write the computation with "
            "funcgrad.numpy's functions (import funcgrad.numpy as fnp)" + user_location())
    call_args, call_kwargs = _as_called(func, fn, args, kwargs)
    return fn(*call_args, **call_kwargs)


def _converting_numpy_function() -> str | None:
    """The name of the numpy function the user called that is converting a value to an
    array (its outermost frame inside numpy), if there is one."""
    numpy_dir = os.path.dirname(np.__file__)
    frame: Any = sys._getframe(2)
    found: str | None = None
    while frame is not None and frame.f_code.co_filename.startswith(numpy_dir):
        found = frame.f_code.co_name
        frame = frame.f_back
    return found


def _array(self: Tracer, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
    # numpy hands a tracer to funcgrad.numpy only as a direct argument of one of its
    # functions. Inside a list (np.mean([t1, t2]), np.array([t, 1.0])) or in np.r_[t, t]
    # numpy builds an array from the items itself, and no protocol lets a tracer take
    # part: say what to write instead.
    caller = _converting_numpy_function()
    if caller is None:
        fix = ("np.array and np.asarray cannot hold traced values: write fnp.asarray(t), or "
               "fnp.stack([t, u]) for a list holding them")
    elif caller == "__getitem__":  # numpy's index tricks: np.r_[...], np.c_[...]
        fix = ("np.r_[...] and np.c_[...] convert their items to numpy arrays: write "
               "fnp.concatenate([t, u]) for np.r_[t, u] (fnp.stack([t, u], axis=-1) for np.c_ "
               "of 1-D arrays)")
    else:
        fix = (f"np.{caller} converted it itself, as numpy does with the items of a list or "
               "tuple: stack them with funcgrad.numpy and use its function, e.g. "
               "fnp.mean(fnp.stack([t1, t2])) for np.mean([t1, t2])")
    raise ConcretizationError(
        f"a traced value ({self.aval}) cannot be turned into a numpy array: {fix} "
        "(import funcgrad.numpy as fnp)" + user_location())


def _reflect(fn: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    def reflected(self: Any, other: Any) -> Any:
        return fn(other, self)
    return reflected


def _install() -> None:
    """Give Tracer its numpy interface from the table: operators, methods, properties,
    numpy's ufunc and function protocols, and the error of a conversion to a numpy array."""
    for row in TABLE.values():
        for name in row.methods:
            setattr(Tracer, name, row.method or row.fn)
        for name in row.reflected:
            setattr(Tracer, name, _reflect(row.fn))
        for name in row.properties:
            setattr(Tracer, name, property(row.fn))
    setattr(Tracer, "__array_ufunc__", _array_ufunc)
    setattr(Tracer, "__array_function__", _array_function)
    setattr(Tracer, "__array__", _array)


_install()
