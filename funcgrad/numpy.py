"""`import funcgrad.numpy as fnp`: numpy's names and semantics, traceable and differentiable.

Every function accepts numpy arrays, Python scalars and traced values. With no traced
argument it simply runs numpy. With one, it does numpy's broadcasting and dtype promotion
as explicit operations (Python scalars are weak: `x * 2.0` keeps float32) and then binds
an exact primitive from funcgrad.primitives.

The layer is one table, `TABLE`: a row per function, naming the primitive it binds (or
none, for a composition of other functions), how its arguments are promoted, and which
numpy ufunc and which Tracer operators and methods it stands for. The typed functions
below are made from their rows; numpy's ufuncs given a tracer (`np.sin(t)`), and the
Tracer's operators and methods (`t + 1`, `t.sum()`), are installed from the same table.
Adding an elementwise function is one row here plus its primitive's rules.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import math
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Protocol, TypeVar, Union

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import primitives as P
from funcgrad.config import checking_nans
from funcgrad.core import (Array, ArrayLike, ConcretizationError, Primitive, ShapeError, Tracer,
                           bind, check_finite, user_location)

__all__ = ["Array", "ArrayLike"]  # and every row of TABLE, and the functions defined below

Axis = Union[int, Sequence[int], None]

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


# ---------------------------------------------------------------------------- helpers


def shape(x: ArrayLike) -> tuple[int, ...]:
    """The shape of an array, scalar or traced value."""
    return x.shape if isinstance(x, (Tracer, np.ndarray, np.generic)) else np.shape(x)


def ndim(x: ArrayLike) -> int:
    """The number of dimensions of an array, scalar or traced value."""
    return len(shape(x))


def _dtype_or_scalar(x: Any) -> Any:
    # Python scalars stay themselves so that np.result_type treats them as weak.
    return x.dtype if isinstance(x, (Tracer, np.ndarray, np.generic)) else x


def _any_traced(xs: Sequence[Any]) -> bool:
    return builtins.any(isinstance(x, Tracer) for x in xs)


def _promote(xs: Sequence[Any], dtype: np.dtype[Any]) -> list[Any]:
    return [(x if x.dtype == dtype else P.convert_p.bind(x, dtype=dtype))
            if isinstance(x, Tracer) else np.asarray(x, dtype) for x in xs]


def _broadcast(name: str, xs: Sequence[Any]) -> list[Any]:
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
    return [x if s == common else P.broadcast_to_p.bind(x, shape=common)
            if isinstance(x, Tracer) else x if s == () else np.broadcast_to(x, common)
            for x, s in zip(xs, shapes)]


@cache
def _inexact_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype numpy's float functions (exp, sin, ...) give for inputs of `dtype`."""
    return np.exp(np.zeros((), dtype)).dtype


def _eager(prim: Primitive, xs: Sequence[Any]) -> Array:
    out: Array = prim.impl(*xs)
    if checking_nans():
        check_finite(prim, xs, {}, out)
    return out


def _axes(name: str, axis: Axis, ndim: int) -> tuple[int, ...]:
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


# ---------------------------------------------------------------------------- the table

class Promotion(enum.Enum):
    """How a row promotes its arguments to one dtype."""

    COMMON = "numpy's promotion, Python scalars weak: add, maximum, comparisons"
    INEXACT = "the common dtype, made floating point: exp, sin, divide"


COMMON, INEXACT = Promotion.COMMON, Promotion.INEXACT


def promoted_dtype(promotion: Promotion, xs: Sequence[Any]) -> np.dtype[Any]:
    """The dtype the arguments of a row are promoted to."""
    dtype: np.dtype[Any] = np.result_type(*(_dtype_or_scalar(x) for x in xs))
    return _inexact_dtype(dtype) if promotion is INEXACT else dtype


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


def _add_row(row: Row) -> None:
    if row.name in TABLE:
        raise ValueError(f"funcgrad.numpy: two rows named {row.name}")
    TABLE[row.name] = row


def _elementwise(prim: Primitive, name: str, promotion: Promotion, xs: Sequence[Any]) -> Array:
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
        return _eager(prim, xs)
    return bind(prim, *_broadcast(name, _promote(xs, promoted_dtype(promotion, xs))))


def unary(name: str, prim: Primitive, promotion: Promotion, ufunc: np.ufunc | None, doc: str,
          methods: tuple[str, ...] = ()) -> Unary:
    """The row of an elementwise primitive of one operand, and its function."""
    def fn(x: ArrayLike, /) -> Array:
        if not isinstance(x, Tracer):
            return _eager(prim, (x,))
        if promotion is INEXACT and x.dtype.kind not in "fc":
            x = bind(P.convert_p, x, dtype=_inexact_dtype(x.dtype))
        return bind(prim, x)

    _add_row(Row(name, _named(fn, name, doc), prim, promotion, ufunc, methods))
    return fn


def binary(name: str, prim: Primitive, promotion: Promotion, ufunc: np.ufunc | None, doc: str,
           methods: tuple[str, ...] = (), reflected: tuple[str, ...] = ()) -> Binary:
    """The row of an elementwise primitive of two operands, and its function."""
    def fn(x: ArrayLike, y: ArrayLike, /) -> Array:
        if not isinstance(x, Tracer) and not isinstance(y, Tracer):
            return _eager(prim, (x, y))  # inside VJP rules, on numpy arrays
        return _elementwise(prim, name, promotion, (x, y))

    _add_row(Row(name, _named(fn, name, doc), prim, promotion, ufunc, methods, reflected))
    return fn


def _named(fn: F, name: str, doc: str) -> F:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def alias(name: str, fn: F) -> F:
    """Another name for a row's function (numpy's `absolute` for `abs`)."""
    _add_row(dataclasses.replace(TABLE[fn.__name__], name=name, ufunc=None, methods=(),
                                 reflected=(), properties=()))
    return fn


# ---------------------------------------------------------------------------- elementwise
# A row each: name, primitive, promotion, numpy's ufunc, docstring, Tracer operators.

add: Binary = binary("add", P.add_p, COMMON, np.add,
                     "x + y, elementwise with broadcasting.",
                     methods=("__add__",), reflected=("__radd__",))
subtract: Binary = binary("subtract", P.sub_p, COMMON, np.subtract,
                          "x - y, elementwise with broadcasting.",
                          methods=("__sub__",), reflected=("__rsub__",))
multiply: Binary = binary("multiply", P.mul_p, COMMON, np.multiply,
                          "x * y, elementwise with broadcasting.",
                          methods=("__mul__",), reflected=("__rmul__",))
divide: Binary = binary("divide", P.div_p, INEXACT, np.divide,
                        "x / y (true division), elementwise with broadcasting.",
                        methods=("__truediv__",), reflected=("__rtruediv__",))
true_divide = alias("true_divide", divide)
maximum: Binary = binary("maximum", P.max_p, COMMON, np.maximum,
                         "Elementwise maximum; at ties the gradient is split evenly.")
minimum: Binary = binary("minimum", P.min_p, COMMON, np.minimum,
                         "Elementwise minimum; at ties the gradient is split evenly.")
negative: Unary = unary("negative", P.neg_p, COMMON, np.negative,
                        "-x elementwise.", methods=("__neg__",))
sign: Unary = unary("sign", P.sign_p, COMMON, np.sign,
                    "-1, 0 or 1 by the sign of x (gradient zero).")
abs: Unary = unary("abs", P.abs_p, COMMON, np.absolute,
                   "|x| elementwise; its gradient at 0 is 0.", methods=("__abs__",))
absolute = alias("absolute", abs)
sqrt: Unary = unary("sqrt", P.sqrt_p, INEXACT, np.sqrt,
                    "Square root, elementwise.")
exp: Unary = unary("exp", P.exp_p, INEXACT, np.exp,
                   "e ** x, elementwise.")
log: Unary = unary("log", P.log_p, INEXACT, np.log,
                   "Natural logarithm, elementwise.")
log1p: Unary = unary("log1p", P.log1p_p, INEXACT, np.log1p,
                     "log(1 + x), accurate for small x.")
expm1: Unary = unary("expm1", P.expm1_p, INEXACT, np.expm1,
                     "exp(x) - 1, accurate for small x.")
sin: Unary = unary("sin", P.sin_p, INEXACT, np.sin,
                   "Sine, elementwise.")
cos: Unary = unary("cos", P.cos_p, INEXACT, np.cos,
                   "Cosine, elementwise.")
tan: Unary = unary("tan", P.tan_p, INEXACT, np.tan,
                   "Tangent, elementwise.")
tanh: Unary = unary("tanh", P.tanh_p, INEXACT, np.tanh,
                    "Hyperbolic tangent, elementwise.")
less: Binary = binary("less", P.lt_p, COMMON, np.less,
                      "x < y elementwise (bool, no gradient).", methods=("__lt__",))
less_equal: Binary = binary("less_equal", P.le_p, COMMON, np.less_equal,
                            "x <= y elementwise (bool, no gradient).", methods=("__le__",))
greater: Binary = binary("greater", P.gt_p, COMMON, np.greater,
                         "x > y elementwise (bool, no gradient).", methods=("__gt__",))
greater_equal: Binary = binary("greater_equal", P.ge_p, COMMON, np.greater_equal,
                               "x >= y elementwise (bool, no gradient).", methods=("__ge__",))
equal: Binary = binary("equal", P.eq_p, COMMON, np.equal,
                       "x == y elementwise (bool, no gradient).", methods=("__eq__",))
not_equal: Binary = binary("not_equal", P.ne_p, COMMON, np.not_equal,
                           "x != y elementwise (bool, no gradient).", methods=("__ne__",))
logical_and: Binary = binary("logical_and", P.and_p, COMMON, np.logical_and,
                             "Elementwise and (bool).")
logical_or: Binary = binary("logical_or", P.or_p, COMMON, np.logical_or,
                            "Elementwise or (bool).")
logical_not: Unary = unary("logical_not", P.not_p, COMMON, np.logical_not,
                           "Elementwise not (bool).")
isfinite: Unary = unary("isfinite", P.isfinite_p, COMMON, np.isfinite,
                        "True where x is neither infinite nor nan.")
stop_gradient: Unary = unary("stop_gradient", P.stop_gradient_p, COMMON, None,
                             "x, but with a zero gradient: derivatives do not flow through it.")


def power(x: ArrayLike, y: ArrayLike) -> Array:
    """x ** y elementwise; an integer exponent uses repeated multiplication."""
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool) and isinstance(x, Tracer):
        return x if y == 1 else P.integer_pow_p.bind(x, y=int(y))
    return _elementwise(P.pow_p, "power", COMMON, (x, y))


def square(x: ArrayLike) -> Array:
    """x * x elementwise."""
    return power(x, 2)


def clip(x: ArrayLike, a_min: ArrayLike | None = None, a_max: ArrayLike | None = None) -> Array:
    """Limit x to [a_min, a_max] (either may be None)."""
    out: Array = x if isinstance(x, Tracer) else np.asarray(x)
    if a_min is not None:
        out = maximum(out, a_min)
    if a_max is not None:
        out = minimum(out, a_max)
    return out


def where(condition: ArrayLike, x: ArrayLike, y: ArrayLike) -> Array:
    """x where condition holds, else y, with broadcasting."""
    if not _any_traced((condition, x, y)):
        return np.where(condition, x, y)
    xx, yy = _promote((x, y), promoted_dtype(COMMON, (x, y)))
    return P.select_p.bind(*_broadcast("where", (astype(condition, np.bool_), xx, yy)))


def astype(x: ArrayLike, dtype: DTypeLike) -> Array:
    """x converted to dtype (a no-op when it already has it)."""
    dt = np.dtype(dtype)
    if isinstance(x, Tracer):
        return x if x.dtype == dt else P.convert_p.bind(x, dtype=dt)
    return np.asarray(x).astype(dt, copy=False)


# ---------------------------------------------------------------------------- reductions


def _numpy_axis(name: str, axis: Axis, x: Any) -> Any:
    return axis if axis is None else _axes(name, axis, np.ndim(x))


def _reduction(prim: Primitive, name: str, x: ArrayLike, axis: Axis, keepdims: bool) -> Array:
    if not isinstance(x, Tracer):
        return np.asarray(getattr(np, name)(np.asarray(x), axis=_numpy_axis(name, axis, x),
                                            keepdims=keepdims))
    axes = _axes(name, axis, x.ndim)
    out = prim.bind(x, axes=axes) if axes else x
    if keepdims:
        out = reshape(out, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return out


def sum(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """Sum over the given axes (all by default)."""
    return _reduction(P.reduce_sum_p, "sum", x, axis, keepdims)


def max(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """Maximum over the given axes; ties share the gradient equally."""
    return _reduction(P.reduce_max_p, "max", x, axis, keepdims)


def min(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """Minimum over the given axes; ties share the gradient equally."""
    return _reduction(P.reduce_min_p, "min", x, axis, keepdims)


def prod(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """Product over the given axes (its gradient is exact at zeros)."""
    return _reduction(P.reduce_prod_p, "prod", x, axis, keepdims)


def mean(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """Mean over the given axes."""
    if not isinstance(x, Tracer):
        return np.asarray(np.mean(x, axis=_numpy_axis("mean", axis, x), keepdims=keepdims))
    axes = _axes("mean", axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    return divide(sum(astype(x, _inexact_dtype(x.dtype)), axes, keepdims), count)


def var(x: ArrayLike, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Array:
    """Variance over the given axes (ddof as numpy's)."""
    if not isinstance(x, Tracer):
        return np.asarray(np.var(x, axis=_numpy_axis("var", axis, x), ddof=ddof,
                                 keepdims=keepdims))
    axes = _axes("var", axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    centered = subtract(x, mean(x, axes, keepdims=True))
    return divide(sum(multiply(centered, centered), axes, keepdims), count - ddof)


def std(x: ArrayLike, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Array:
    """Standard deviation over the given axes (ddof as numpy's)."""
    return sqrt(var(x, axis, ddof, keepdims))


def _arg_reduction(prim: Primitive, name: str, x: ArrayLike, axis: int | None,
                   keepdims: bool) -> Array:
    if not isinstance(x, Tracer):
        return np.asarray(getattr(np, name)(x, axis=axis, keepdims=keepdims))
    flat = ravel(x) if axis is None else x
    ax = 0 if axis is None else _axes(name, axis, x.ndim)[0]
    out = prim.bind(flat, axis=ax)
    if keepdims:
        out = reshape(out, (1,) * x.ndim if axis is None else
                      tuple(1 if i == ax else d for i, d in enumerate(x.shape)))
    return out


def argmax(x: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the maximum along axis (flattened if None); not differentiable."""
    return _arg_reduction(P.argmax_p, "argmax", x, axis, keepdims)


def argmin(x: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the minimum along axis (flattened if None); not differentiable."""
    return _arg_reduction(P.argmin_p, "argmin", x, axis, keepdims)


# ---------------------------------------------------------------------------- shapes


def reshape(x: ArrayLike, shape: int | Sequence[int]) -> Array:
    """x with a new shape of the same size (one dimension may be -1)."""
    if not isinstance(x, Tracer):
        return np.reshape(x, shape)
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    size = x.size
    if dims.count(-1) == 1:
        known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ShapeError(f"reshape: cannot reshape {x.aval} ({size} elements) into shape "
                             f"{tuple(dims)}" + user_location())
        dims = tuple(size // known if d == -1 else int(d) for d in dims)
    dims = tuple(int(d) for d in dims)
    if int(np.prod(dims, dtype=np.int64)) != size or builtins.any(d < 0 for d in dims):
        raise ShapeError(f"reshape: cannot reshape {x.aval} ({size} elements) into shape "
                         f"{dims}" + user_location())
    return x if dims == x.shape else P.reshape_p.bind(x, shape=dims)


def transpose(x: ArrayLike, axes: Sequence[int] | None = None) -> Array:
    """Permute the axes (reverse them by default)."""
    if not isinstance(x, Tracer):
        return np.transpose(x, axes)
    perm = tuple(reversed(range(x.ndim))) if axes is None else tuple(
        a % x.ndim if -x.ndim <= a < x.ndim else a for a in axes)
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {tuple(axes or ())} are not a permutation of the "
                         f"{x.ndim} axes of {x.aval}" + user_location())
    return x if perm == tuple(range(x.ndim)) else P.transpose_p.bind(x, perm=perm)


def swapaxes(x: ArrayLike, axis1: int, axis2: int) -> Array:
    """Interchange two axes."""
    if not isinstance(x, Tracer):
        return np.swapaxes(x, axis1, axis2)
    perm = list(range(x.ndim))
    a, b = _axes("swapaxes", axis1, x.ndim)[0], _axes("swapaxes", axis2, x.ndim)[0]
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x: ArrayLike, source: int | Sequence[int], destination: int | Sequence[int]) -> Array:
    """Move axes to new positions, keeping the order of the others."""
    if not isinstance(x, Tracer):
        return np.moveaxis(np.asarray(x), source, destination)
    src = [_axes("moveaxis", s, x.ndim)[0] for s in np.atleast_1d(source)]
    dst = [_axes("moveaxis", d, x.ndim)[0] for d in np.atleast_1d(destination)]
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def expand_dims(x: ArrayLike, axis: int | Sequence[int]) -> Array:
    """Insert axes of length one at the given positions."""
    if not isinstance(x, Tracer):
        return np.expand_dims(x, axis)
    ndim = x.ndim + len(np.atleast_1d(axis))
    axes = _axes("expand_dims", axis, ndim)
    shape = iter(x.shape)
    return reshape(x, tuple(1 if i in axes else next(shape) for i in range(ndim)))


def squeeze(x: ArrayLike, axis: Axis = None) -> Array:
    """Remove axes of length one (all of them by default)."""
    if not isinstance(x, Tracer):
        return np.squeeze(x, axis)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = _axes("squeeze", axis, x.ndim)
        bad = [a for a in axes if x.shape[a] != 1]
        if bad:
            raise ShapeError(f"squeeze: axis {bad[0]} of {x.aval} has length "
                             f"{x.shape[bad[0]]}, not 1" + user_location())
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def ravel(x: ArrayLike) -> Array:
    """x flattened to one dimension."""
    return reshape(x, -1)


def broadcast_to(x: ArrayLike, shape: Sequence[int]) -> Array:
    """x broadcast to shape, as numpy's."""
    shape = tuple(shape)
    if not isinstance(x, Tracer):
        return np.broadcast_to(x, shape)
    try:
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast {x.aval} to shape {shape}"
                         + user_location()) from None
    return x if x.shape == shape else P.broadcast_to_p.bind(x, shape=shape)


def concatenate(arrays: Sequence[ArrayLike], axis: int = 0) -> Array:
    """Join arrays along an existing axis."""
    if not _any_traced(arrays):
        return np.concatenate(arrays, axis=axis)
    dtype = np.result_type(*(_dtype_or_scalar(a) for a in arrays))
    xs = [astype(a, dtype) for a in arrays]
    ax = _axes("concatenate", axis, np.ndim(xs[0]) if not isinstance(xs[0], Tracer)
               else xs[0].ndim)[0]
    P.concatenate_p.shape_rule(*xs, axis=ax)  # grad runs numpy directly: check shapes here
    return P.concatenate_p.bind(*xs, axis=ax)


def stack(arrays: Sequence[ArrayLike], axis: int = 0) -> Array:
    """Join arrays along a new axis."""
    if not _any_traced(arrays):
        return np.stack(arrays, axis=axis)
    shapes = {shape(a) for a in arrays}
    if len(shapes) != 1:
        raise ShapeError(f"stack: all arrays must have the same shape, got {sorted(shapes)}"
                         + user_location())
    ndim = len(shapes.pop()) + 1
    ax = _axes("stack", axis, ndim)[0]
    return concatenate([expand_dims(a, ax) for a in arrays], axis=ax)


def split(x: ArrayLike, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Array]:
    """Split x into pieces along axis, as numpy's split."""
    if not isinstance(x, Tracer):
        return list(np.split(np.asarray(x), indices_or_sections, axis))
    ax = _axes("split", axis, x.ndim)[0]
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        if n % indices_or_sections:
            raise ShapeError(f"split: axis {ax} of length {n} does not divide into "
                             f"{indices_or_sections} equal parts" + user_location())
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0, *indices_or_sections, n]
    before = (slice(None),) * ax
    return [getitem(x, (*before, slice(a, b))) for a, b in zip(bounds[:-1], bounds[1:])]


def pad(x: ArrayLike, pad_width: int | Sequence[int] | Sequence[Sequence[int]]) -> Array:
    """Pad with zeros (numpy's pad in 'constant' mode with value 0)."""
    if not isinstance(x, Tracer):
        return np.pad(x, pad_width)
    widths = tuple((int(a), int(b)) for a, b in np.broadcast_to(np.asarray(pad_width),
                                                                  (x.ndim, 2)))
    return P.pad_p.bind(x, widths=widths)


# ---------------------------------------------------------------------------- indexing


def _index_key(x: Array, key: Any) -> tuple[P.IndexKey, tuple[Any, ...]]:
    """Split an index into its static part and its integer index arrays."""
    items = key if isinstance(key, tuple) else (key,)
    static: list[Any] = []
    arrays: list[Any] = []
    for item in items:
        if isinstance(item, slice):
            static.append(P.SliceKey(*(None if v is None else int(v)
                                       for v in (item.start, item.stop, item.step))))
        elif item is None or item is Ellipsis:
            static.append(item)
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            static.append(int(item))
        else:
            if isinstance(item, Tracer):
                dtype = item.dtype
            else:
                item = np.asarray(item)
                dtype = item.dtype
            if dtype == np.bool_:
                if isinstance(item, Tracer):
                    value = item._trace.concrete(item)
                    if value is None:
                        raise ConcretizationError(
                            "indexing with a traced boolean mask gives a result whose shape "
                            "depends on values, which tracing cannot know. Use "
                            "fnp.where(mask, x, 0) instead." + user_location())
                    item = value
                for nz in np.nonzero(item):
                    static.append(P.ArrayKey(len(arrays)))
                    arrays.append(nz)
            elif dtype.kind in "iu":
                static.append(P.ArrayKey(len(arrays)))
                arrays.append(item)
            else:
                raise TypeError(f"index of dtype {dtype} is not allowed: use integers, "
                                "slices, None, ..., integer arrays or boolean masks")
    return P.IndexKey(static), tuple(arrays)


def getitem(x: ArrayLike, key: Any) -> Array:
    """x[key]: ints, slices, None, ..., integer arrays and boolean masks, as numpy's."""
    if not isinstance(x, Tracer) and not _contains_tracer(key):
        picked: Array = np.asarray(x)[key]
        return picked
    x = x if isinstance(x, Tracer) else np.asarray(x)
    index, arrays = _index_key(x, key)
    return P.gather_p.bind(x, *arrays, index=index)


class _IndexUpdate:
    def __init__(self, x: Array, key: Any) -> None:
        self.x = x
        self.key = key

    def get(self) -> Array:
        """x[key]."""
        return getitem(self.x, self.key)

    def add(self, values: ArrayLike) -> Array:
        """A copy of x with values added at x[key] (repeated indices accumulate)."""
        index, arrays = _index_key(self.x, self.key)
        target = P.gather_p.shape_rule(self.x, *arrays, index=index)
        updates = broadcast_to(astype(values, self.x.dtype), target.shape)
        return P.scatter_add_p.bind(self.x, updates, *arrays, index=index)

    def set(self, values: ArrayLike) -> Array:
        """A copy of x with x[key] replaced by values; with repeated indices the last one wins.

        (Under jit, where index arrays computed inside the function are not known, repeated
        indices add their values up instead.)
        """
        index, arrays = _index_key(self.x, self.key)
        concrete = [a if not isinstance(a, Tracer) else a._trace.concrete(a) for a in arrays]
        if builtins.any(a is None for a in concrete):
            hit = greater(at(zeros_like(self.x))[self.key].add(1), 0)
            return where(hit, at(zeros_like(self.x))[self.key].add(values), self.x)
        # Number the elements, see which ones the index picks (in order), and keep each
        # element's last occurrence: then no element is written twice.
        dims = shape(self.x)
        size = math.prod(dims)
        picked = np.arange(size).reshape(dims)[P.build_index(index, tuple(concrete))]
        flat = picked.ravel()
        unique, first_from_end = np.unique(flat[::-1], return_index=True)
        last = flat.size - 1 - first_from_end
        vals = ravel(broadcast_to(astype(values, self.x.dtype), picked.shape))
        hit = np.zeros(size, bool)
        hit[unique] = True
        placed = at(zeros_like(ravel(self.x)))[unique].add(getitem(vals, last))
        return where(hit.reshape(dims), reshape(placed, dims), self.x)


def at(x: ArrayLike) -> IndexUpdateHelper:
    """at(x)[key].set(v) / .add(v) / .get(): functional updates, for numpy arrays too."""
    return IndexUpdateHelper(x if isinstance(x, Tracer) else np.asarray(x))


class IndexUpdateHelper:
    """x.at[key]: functional updates of an immutable array (set, add, get)."""

    def __init__(self, x: Array) -> None:
        self.x = x

    def __getitem__(self, key: Any) -> _IndexUpdate:
        return _IndexUpdate(self.x, key)


# ---------------------------------------------------------------------------- contractions


def matmul(x: ArrayLike, y: ArrayLike) -> Array:
    """Matrix product with numpy's rules for 1-D operands and broadcast batch dimensions."""
    xs, ys = shape(x), shape(y)
    if not xs or not ys:
        raise ShapeError(f"matmul: operands must not be scalars, got shapes {xs} and {ys}; "
                         "use * for scaling" + user_location())
    kx = xs[-1]
    ky = ys[-2] if len(ys) > 1 else ys[0]
    if kx != ky:
        raise ShapeError(f"matmul: shapes {xs} and {ys} do not fit: {kx} (last axis of the "
                         f"first) != {ky} ({'second-to-last' if len(ys) > 1 else 'only'} axis "
                         "of the second)" + user_location())
    if not (isinstance(x, Tracer) or isinstance(y, Tracer)):
        product: Array = np.matmul(x, y)
        return product
    dtype = np.result_type(_dtype_or_scalar(x), _dtype_or_scalar(y))
    a, b = astype(x, dtype), astype(y, dtype)
    if len(xs) <= 2 and len(ys) <= 2:
        return P.matmul_p.bind(a, b)
    if len(xs) == 1:
        return reshape(matmul(reshape(a, (1, kx)), b), ys[:-2] + ys[-1:])
    if len(ys) == 1:
        return reshape(matmul(a, reshape(b, (ky, 1))), xs[:-1])
    if len(ys) == 2:
        # a batch of rows times one matrix: one 2-D product
        return reshape(P.matmul_p.bind(reshape(a, (-1, kx)), b), xs[:-1] + ys[-1:])
    batch = np.broadcast_shapes(xs[:-2], ys[:-2])
    a = broadcast_to(a, batch + xs[-2:])
    b = broadcast_to(b, batch + ys[-2:])
    return P.matmul_p.bind(a, b)


def dot(x: ArrayLike, y: ArrayLike) -> Array:
    """numpy's dot: products of scalars, inner products, matrix products, sum over last/second-last axes."""
    xs, ys = shape(x), shape(y)
    if not xs or not ys:
        return multiply(x, y)
    ky = ys[-2] if len(ys) > 1 else ys[0]
    if xs[-1] != ky:
        raise ShapeError(f"dot: shapes {xs} and {ys} do not fit: {xs[-1]} != {ky}"
                         + user_location())
    if len(ys) <= 2:
        return matmul(x, y)
    return tensordot(x, y, axes=([len(xs) - 1], [len(ys) - 2]))


def tensordot(x: ArrayLike, y: ArrayLike,
              axes: int | tuple[Sequence[int], Sequence[int]] = 2) -> Array:
    """Sum products over the given axes of x and y, as numpy's tensordot."""
    xs, ys = shape(x), shape(y)
    if isinstance(axes, (int, np.integer)):
        ax = list(range(len(xs) - int(axes), len(xs)))
        ay = list(range(int(axes)))
    else:
        ax = [a % len(xs) for a in np.atleast_1d(axes[0])]
        ay = [a % len(ys) for a in np.atleast_1d(axes[1])]
    if len(ax) != len(ay) or builtins.any(xs[a] != ys[b] for a, b in zip(ax, ay)):
        raise ShapeError(f"tensordot: shapes {xs} and {ys} do not fit over axes {ax} and {ay}"
                         + user_location())
    if not (isinstance(x, Tracer) or isinstance(y, Tracer)):
        return np.tensordot(x, y, axes=(ax, ay))
    free_x = [a for a in range(len(xs)) if a not in ax]
    free_y = [b for b in range(len(ys)) if b not in ay]
    k = int(np.prod([xs[a] for a in ax], dtype=np.int64))
    a2 = reshape(transpose(x, free_x + ax), (-1, k))
    b2 = reshape(transpose(y, ay + free_y), (k, -1))
    return reshape(matmul(a2, b2), tuple(xs[a] for a in free_x) + tuple(ys[b] for b in free_y))


def outer(x: ArrayLike, y: ArrayLike) -> Array:
    """Outer product of the flattened x and y."""
    return multiply(reshape(ravel(x), (-1, 1)), reshape(ravel(y), (1, -1)))


def einsum(subscripts: str, *operands: ArrayLike) -> Array:
    """Einstein summation, as numpy's einsum (explicit or implicit output; no '...')."""
    if not _any_traced(operands):
        return np.asarray(np.einsum(subscripts, *operands))
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise NotImplementedError("einsum with '...' under a transformation; name the axes")
    if "->" not in spec:
        labels = spec.replace(",", "")
        spec += "->" + "".join(sorted(c for c in set(labels) if labels.count(c) == 1))
    if spec.split("->")[0].count(",") + 1 != len(operands):
        raise ShapeError(f"einsum '{subscripts}' names {spec.count(',') + 1} operands, "
                         f"got {len(operands)}" + user_location())
    dtype = np.result_type(*(_dtype_or_scalar(o) for o in operands))
    return P.einsum_p.bind(*(astype(o, dtype) for o in operands), spec=spec)


# ---------------------------------------------------------------------------- creation


def asarray(x: Any, dtype: DTypeLike | None = None) -> Array:
    """An array from x: traced values stay traced, lists of them are stacked."""
    if isinstance(x, Tracer):
        return x if dtype is None else astype(x, dtype)
    if isinstance(x, (list, tuple)) and _contains_tracer(x):
        out = stack([asarray(item) for item in x])
        return out if dtype is None else astype(out, dtype)
    return np.asarray(x, dtype)


array = asarray


def _contains_tracer(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return builtins.any(_contains_tracer(i) for i in x)
    return isinstance(x, Tracer)


def zeros(shape: int | Sequence[int], dtype: DTypeLike = float) -> np.ndarray[Any, Any]:
    """An array of zeros (a constant: nothing to trace)."""
    return np.zeros(shape, dtype)


def ones(shape: int | Sequence[int], dtype: DTypeLike = float) -> np.ndarray[Any, Any]:
    """An array of ones."""
    return np.ones(shape, dtype)


def full(shape: int | Sequence[int], fill_value: ArrayLike, dtype: DTypeLike | None = None) -> Array:
    """An array of shape filled with fill_value (which may be traced)."""
    if isinstance(fill_value, Tracer):
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        return broadcast_to(fill_value if dtype is None else astype(fill_value, dtype), dims)
    return np.full(shape, fill_value, dtype)


def zeros_like(x: ArrayLike, dtype: DTypeLike | None = None) -> np.ndarray[Any, Any]:
    """Zeros of x's shape and dtype."""
    return np.zeros(shape(x), x.dtype if dtype is None and isinstance(x, Tracer)
                    else dtype if dtype is not None else np.result_type(x))


def ones_like(x: ArrayLike, dtype: DTypeLike | None = None) -> np.ndarray[Any, Any]:
    """Ones of x's shape and dtype."""
    return np.ones(shape(x), x.dtype if dtype is None and isinstance(x, Tracer)
                   else dtype if dtype is not None else np.result_type(x))


arange = np.arange
eye = np.eye
linspace = np.linspace


# ---------------------------------------------------------------------------- compositions

for _row in [
    Row("power", power, ufunc=np.power, methods=("__pow__",), reflected=("__rpow__",)),
    Row("square", square, ufunc=np.square),
    Row("clip", clip, methods=("clip",)),
    Row("where", where),
    Row("astype", astype, methods=("astype",)),
    Row("sum", sum, methods=("sum",)),
    Row("max", max, methods=("max",)),
    Row("min", min, methods=("min",)),
    Row("prod", prod, methods=("prod",)),
    Row("mean", mean, methods=("mean",)),
    Row("var", var, methods=("var",)),
    Row("std", std, methods=("std",)),
    Row("argmax", argmax, methods=("argmax",)),
    Row("argmin", argmin, methods=("argmin",)),
    Row("reshape", reshape, methods=("reshape",),
        method=lambda x, *shape: reshape(x, shape[0] if len(shape) == 1 else shape)),
    Row("transpose", transpose, methods=("transpose",), properties=("T",),
        method=lambda x, *axes: transpose(x, (axes[0] if len(axes) == 1 else axes)
                                          if axes else None)),
    Row("swapaxes", swapaxes, methods=("swapaxes",)),
    Row("moveaxis", moveaxis),
    Row("expand_dims", expand_dims),
    Row("squeeze", squeeze, methods=("squeeze",)),
    Row("ravel", ravel, methods=("ravel", "flatten")),
    Row("broadcast_to", broadcast_to),
    Row("concatenate", concatenate),
    Row("stack", stack),
    Row("split", split),
    Row("pad", pad),
    Row("getitem", getitem, methods=("__getitem__",)),
    Row("at", at, properties=("at",)),
    Row("matmul", matmul, ufunc=np.matmul, methods=("__matmul__",), reflected=("__rmatmul__",)),
    Row("dot", dot, methods=("dot",)),
    Row("tensordot", tensordot),
    Row("outer", outer),
    Row("einsum", einsum),
    Row("asarray", asarray),
    Row("zeros", zeros),
    Row("ones", ones),
    Row("full", full),
    Row("zeros_like", zeros_like),
    Row("ones_like", ones_like),
]:
    _add_row(_row)


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
