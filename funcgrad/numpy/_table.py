"""The machinery of funcgrad.numpy: the table of rows, promotion and broadcasting.

Every function accepts numpy arrays, Python scalars and traced values. With no traced
argument it simply runs numpy. With one, it does numpy's broadcasting and dtype promotion
as explicit operations (Python scalars are weak: `x * 2.0` keeps float32) and then binds
an exact primitive of funcgrad.primitives.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Protocol, TypeVar, Union

import numpy as np

from funcgrad.config import checking_nans
from funcgrad.core import (Array, ArrayLike, Primitive, ShapeError, Tracer, bind, check_finite,
                           user_location)
from funcgrad.primitives import elementwise as E
from funcgrad.primitives import shapes as S

Axis = Union[int, Sequence[int], None]


def shape(x: ArrayLike) -> tuple[int, ...]:
    """The shape of an array, scalar or traced value."""
    return x.shape if isinstance(x, (Tracer, np.ndarray, np.generic)) else np.shape(x)


def ndim(x: ArrayLike) -> int:
    """The number of dimensions of an array, scalar or traced value."""
    return len(shape(x))


def dtype_or_scalar(x: Any) -> Any:
    # Python scalars stay themselves so that np.result_type treats them as weak.
    return x.dtype if isinstance(x, (Tracer, np.ndarray, np.generic)) else x


def any_traced(xs: Sequence[Any]) -> bool:
    return builtins.any(isinstance(x, Tracer) for x in xs)


def promote(xs: Sequence[Any], dtype: np.dtype[Any]) -> list[Any]:
    return [(x if x.dtype == dtype else E.convert_p.bind(x, dtype=dtype))
            if isinstance(x, Tracer) else np.asarray(x, dtype) for x in xs]


def broadcast_all(name: str, xs: Sequence[Any]) -> list[Any]:
    """Broadcast to one shape as explicit operations.

    Constant scalars stay scalars (a primitive accepts them beside any shape); constant
    arrays are broadcast by numpy, outside the graph.
    """
    shapes = [shape(x) for x in xs]
    try:
        common = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(
            f"{name}: operands of shapes {', '.join(map(str, shapes))} cannot be broadcast "
            "together" + user_location()) from None
    return [x if s == common else S.broadcast_to_p.bind(x, shape=common)
            if isinstance(x, Tracer) else x if s == () else np.broadcast_to(x, common)
            for x, s in zip(xs, shapes)]


@cache
def inexact_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype numpy's float functions (exp, sin, ...) give for inputs of `dtype`."""
    return np.exp(np.zeros((), dtype)).dtype


def eager(prim: Primitive, xs: Sequence[Any]) -> Array:
    out: Array = prim.impl(*xs)
    if checking_nans():
        check_finite(prim, xs, {}, out)
    return out


def normalize_axes(name: str, axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{name}: axis {a} is out of bounds for an array of dimension "
                             f"{ndim}" + user_location())
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def contains_tracer(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return builtins.any(contains_tracer(i) for i in x)
    return isinstance(x, Tracer)


# ---------------------------------------------------------------------------- the table

class Promotion(enum.Enum):
    """How a row promotes its arguments to one dtype."""

    COMMON = "numpy's promotion, Python scalars weak: add, maximum, comparisons"
    INEXACT = "the common dtype, made floating point: exp, sin, divide"


COMMON, INEXACT = Promotion.COMMON, Promotion.INEXACT


def promoted_dtype(promotion: Promotion, xs: Sequence[Any]) -> np.dtype[Any]:
    """The dtype the arguments of a row are promoted to."""
    dtype: np.dtype[Any] = np.result_type(*(dtype_or_scalar(x) for x in xs))
    return inexact_dtype(dtype) if promotion is INEXACT else dtype


@dataclasses.dataclass(frozen=True)
class Row:
    """One function of the numpy layer.

    prim: the primitive it binds after promotion (`promotion`) and broadcasting, or None for
    a composition written out below. ufunc: numpy's ufunc that runs it when given a
    tracer. methods / reflected / properties: the Tracer operators, methods and properties
    it provides (the reflected ones, `__radd__`, with their operands swapped), through
    `method` where the method's signature differs from the function's (`x.reshape(2, 3)`).
    """

    name: str
    fn: Callable[..., Any]
    prim: Primitive | None = None
    promotion: Promotion | None = None
    ufunc: np.ufunc | None = None
    methods: tuple[str, ...] = ()
    reflected: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    method: Callable[..., Any] | None = None


TABLE: dict[str, Row] = {}
"""Every function of funcgrad.numpy by name."""


class Unary(Protocol):
    """An elementwise function of one array."""

    def __call__(self, x: ArrayLike, /) -> Array: ...


class Binary(Protocol):
    """An elementwise function of two arrays, broadcast together."""

    def __call__(self, x: ArrayLike, y: ArrayLike, /) -> Array: ...


F = TypeVar("F", bound=Callable[..., Any])


def add_row(row: Row) -> None:
    if row.name in TABLE:
        raise ValueError(f"funcgrad.numpy: two rows named {row.name}")
    TABLE[row.name] = row


def elementwise(prim: Primitive, name: str, promotion: Promotion, xs: Sequence[Any]) -> Array:
    """Bind a binary elementwise primitive after promotion and broadcasting (numpy's,
    eagerly)."""
    # The common case first, without the general path's calls: this runs for every
    # operation under grad.
    x, y = xs
    if isinstance(x, Tracer):
        if (isinstance(y, Tracer) and x.aval == y.aval
                and (promotion is COMMON or x.dtype.kind in "fc")):
            return bind(prim, x, y)
    elif not isinstance(y, Tracer):
        return eager(prim, xs)
    return bind(prim, *broadcast_all(name, promote(xs, promoted_dtype(promotion, xs))))


def unary(name: str, prim: Primitive, promotion: Promotion, ufunc: np.ufunc | None, doc: str,
          methods: tuple[str, ...] = ()) -> Unary:
    """The row of an elementwise primitive of one operand, and its function."""
    def fn(x: ArrayLike, /) -> Array:
        if not isinstance(x, Tracer):
            return eager(prim, (x,))
        if promotion is INEXACT and x.dtype.kind not in "fc":
            x = bind(E.convert_p, x, dtype=inexact_dtype(x.dtype))
        return bind(prim, x)

    add_row(Row(name, _named(fn, name, doc), prim, promotion, ufunc, methods))
    return fn


def binary(name: str, prim: Primitive, promotion: Promotion, ufunc: np.ufunc | None, doc: str,
           methods: tuple[str, ...] = (), reflected: tuple[str, ...] = ()) -> Binary:
    """The row of an elementwise primitive of two operands, and its function."""
    def fn(x: ArrayLike, y: ArrayLike, /) -> Array:
        if not isinstance(x, Tracer) and not isinstance(y, Tracer):
            return eager(prim, (x, y))  # inside VJP rules, on numpy arrays
        return elementwise(prim, name, promotion, (x, y))

    add_row(Row(name, _named(fn, name, doc), prim, promotion, ufunc, methods, reflected))
    return fn


def _named(fn: F, name: str, doc: str) -> F:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def register(rows: list[Row]) -> None:
    """Add the rows of a family's compositions (functions written out) to the table."""
    for row in rows:
        add_row(row)


def alias(name: str, fn: F) -> F:
    """Another name for a row's function (numpy's `absolute` for `abs`)."""
    add_row(dataclasses.replace(TABLE[fn.__name__], name=name, ufunc=None, methods=(),
                                 reflected=(), properties=()))
    return fn
