"""`import funcgrad.numpy as fnp`: numpy's names and semantics, traceable and differentiable.

Every function accepts numpy arrays, Python scalars and traced values. With no traced
argument it simply runs numpy. With one, it does numpy's broadcasting and dtype promotion
as explicit operations (Python scalars are weak: `x * 2.0` keeps float32) and then binds
an exact primitive from funcgrad.primitives.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Union

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import primitives as P
from funcgrad.config import config
from funcgrad.core import (ConcretizationError, Primitive, ShapeError, Tracer, bind, check_finite,
                           user_location)

ArrayLike = Union[Tracer, np.ndarray[Any, Any], np.generic, float, int, bool, complex]
"""What funcgrad.numpy functions accept."""

Array = Union[Tracer, np.ndarray[Any, Any]]
"""What they return: a traced value under a transformation, a numpy array otherwise."""

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


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, (Tracer, np.ndarray, np.generic)) else np.shape(x)


def _dtype_or_scalar(x: Any) -> Any:
    # Python scalars stay themselves so that np.result_type treats them as weak.
    return x.dtype if isinstance(x, (Tracer, np.ndarray, np.generic)) else x


def _any_traced(xs: Sequence[Any]) -> bool:
    return builtins.any(isinstance(x, Tracer) for x in xs)


def _promote(xs: Sequence[Any], dtype: np.dtype[Any]) -> list[Any]:
    return [(x if x.dtype == dtype else bind(P.convert_p, x, dtype=dtype))
            if isinstance(x, Tracer) else np.asarray(x, dtype) for x in xs]


def _broadcast(name: str, xs: Sequence[Any]) -> list[Any]:
    """Broadcast to one shape as explicit operations.

    Constant scalars stay scalars (a primitive accepts them beside any shape); constant
    arrays are broadcast by numpy, outside the graph.
    """
    shapes = [_shape(x) for x in xs]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(
            f"{name}: operands of shapes {', '.join(map(str, shapes))} cannot be broadcast "
            "together" + user_location()
        ) from None
    return [x if s == shape else bind(P.broadcast_to_p, x, shape=shape)
            if isinstance(x, Tracer) else x if s == () else np.broadcast_to(x, shape)
            for x, s in zip(xs, shapes)]


def _prepare(name: str, xs: Sequence[Any], dtype: np.dtype[Any] | None = None) -> list[Any]:
    """Promote to one dtype and broadcast to one shape."""
    if dtype is None:
        dtype = np.result_type(*(_dtype_or_scalar(x) for x in xs))
    return _broadcast(name, _promote(xs, dtype))


def _eager(prim: Primitive, *xs: Any) -> Any:
    out = prim.impl(*xs)
    if config.debug_nans:
        check_finite(prim, xs, {}, out)
    return out


def _elementwise(prim: Primitive, name: str, *xs: Any) -> Array:
    if not _any_traced(xs):
        return _eager(prim, *xs)  # type: ignore[no-any-return]
    if len(xs) == 2:
        x, y = xs
        if (isinstance(x, Tracer) and isinstance(y, Tracer) and x.shape == y.shape
                and x.dtype == y.dtype):
            return bind(prim, x, y)  # type: ignore[no-any-return]
    return bind(prim, *_prepare(name, xs))  # type: ignore[no-any-return]


@cache
def _inexact_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype numpy's float functions (exp, sin, ...) give for inputs of `dtype`."""
    return np.exp(np.zeros((), dtype)).dtype


def _floating(prim: Primitive, x: ArrayLike) -> Array:
    if not isinstance(x, Tracer):
        return _eager(prim, x)  # type: ignore[no-any-return]
    if x.dtype.kind not in "fc":
        x = bind(P.convert_p, x, dtype=_inexact_dtype(x.dtype))
    return bind(prim, x)  # type: ignore[no-any-return]


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


# ---------------------------------------------------------------------------- elementwise


def add(x: ArrayLike, y: ArrayLike) -> Array:
    """x + y, elementwise with broadcasting."""
    return _elementwise(P.add_p, "add", x, y)


def subtract(x: ArrayLike, y: ArrayLike) -> Array:
    """x - y, elementwise with broadcasting."""
    return _elementwise(P.sub_p, "subtract", x, y)


def multiply(x: ArrayLike, y: ArrayLike) -> Array:
    """x * y, elementwise with broadcasting."""
    return _elementwise(P.mul_p, "multiply", x, y)


def divide(x: ArrayLike, y: ArrayLike) -> Array:
    """x / y (true division), elementwise with broadcasting."""
    if isinstance(x, Tracer) or isinstance(y, Tracer):
        dtype = _inexact_dtype(np.result_type(_dtype_or_scalar(x), _dtype_or_scalar(y)))
        return bind(P.div_p, *_prepare("divide", (x, y), dtype))  # type: ignore[no-any-return]
    return np.divide(x, y)


true_divide = divide


def maximum(x: ArrayLike, y: ArrayLike) -> Array:
    """Elementwise maximum; at ties the gradient is split evenly between x and y."""
    return _elementwise(P.max_p, "maximum", x, y)


def minimum(x: ArrayLike, y: ArrayLike) -> Array:
    """Elementwise minimum; at ties the gradient is split evenly between x and y."""
    return _elementwise(P.min_p, "minimum", x, y)


def power(x: ArrayLike, y: ArrayLike) -> Array:
    """x ** y elementwise; an integer exponent uses repeated multiplication."""
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool) and isinstance(x, Tracer):
        return x if y == 1 else bind(P.integer_pow_p, x, y=int(y))
    return _elementwise(P.pow_p, "power", x, y)


def square(x: ArrayLike) -> Array:
    """x * x elementwise."""
    return power(x, 2)


def negative(x: ArrayLike) -> Array:
    """-x elementwise."""
    return _elementwise(P.neg_p, "negative", x)


def sign(x: ArrayLike) -> Array:
    """-1, 0 or 1 by the sign of x (gradient zero)."""
    return _elementwise(P.sign_p, "sign", x)


def abs(x: ArrayLike) -> Array:
    """|x| elementwise; its gradient at 0 is 0."""
    return _elementwise(P.abs_p, "abs", x)


absolute = abs


def sqrt(x: ArrayLike) -> Array:
    """Square root, elementwise."""
    return _floating(P.sqrt_p, x)


def exp(x: ArrayLike) -> Array:
    """e ** x, elementwise."""
    return _floating(P.exp_p, x)


def log(x: ArrayLike) -> Array:
    """Natural logarithm, elementwise."""
    return _floating(P.log_p, x)


def log1p(x: ArrayLike) -> Array:
    """log(1 + x), accurate for small x."""
    return _floating(P.log1p_p, x)


def expm1(x: ArrayLike) -> Array:
    """exp(x) - 1, accurate for small x."""
    return _floating(P.expm1_p, x)


def sin(x: ArrayLike) -> Array:
    """Sine, elementwise."""
    return _floating(P.sin_p, x)


def cos(x: ArrayLike) -> Array:
    """Cosine, elementwise."""
    return _floating(P.cos_p, x)


def tan(x: ArrayLike) -> Array:
    """Tangent, elementwise."""
    return _floating(P.tan_p, x)


def tanh(x: ArrayLike) -> Array:
    """Hyperbolic tangent, elementwise."""
    return _floating(P.tanh_p, x)


def clip(x: ArrayLike, a_min: ArrayLike | None = None, a_max: ArrayLike | None = None) -> Array:
    """Limit x to [a_min, a_max] (either may be None)."""
    out: Any = x
    if a_min is not None:
        out = maximum(out, a_min)
    if a_max is not None:
        out = minimum(out, a_max)
    return out  # type: ignore[no-any-return]


def where(condition: ArrayLike, x: ArrayLike, y: ArrayLike) -> Array:
    """x where condition holds, else y, with broadcasting."""
    if not _any_traced((condition, x, y)):
        return np.where(condition, x, y)
    xx, yy = _promote((x, y), np.result_type(_dtype_or_scalar(x), _dtype_or_scalar(y)))
    return bind(P.select_p, *_broadcast("where", (astype(condition, np.bool_), xx, yy)))  # type: ignore[no-any-return]


def _comparison(prim: Primitive, name: str) -> Callable[[ArrayLike, ArrayLike], Array]:
    def compare(x: ArrayLike, y: ArrayLike) -> Array:
        return _elementwise(prim, name, x, y)
    compare.__name__ = name
    compare.__doc__ = f"Elementwise {name} (a bool array, not differentiable)."
    return compare


less = _comparison(P.lt_p, "less")
less_equal = _comparison(P.le_p, "less_equal")
greater = _comparison(P.gt_p, "greater")
greater_equal = _comparison(P.ge_p, "greater_equal")
equal = _comparison(P.eq_p, "equal")
not_equal = _comparison(P.ne_p, "not_equal")
logical_and = _comparison(P.and_p, "logical_and")
logical_or = _comparison(P.or_p, "logical_or")


def logical_not(x: ArrayLike) -> Array:
    """Elementwise not."""
    return _elementwise(P.not_p, "logical_not", x)


def isfinite(x: ArrayLike) -> Array:
    """True where x is neither infinite nor nan."""
    return _elementwise(P.isfinite_p, "isfinite", x)


def stop_gradient(x: ArrayLike) -> Array:
    """x, but with a zero gradient: derivatives do not flow through it."""
    return _elementwise(P.stop_gradient_p, "stop_gradient", x)


def astype(x: ArrayLike, dtype: DTypeLike) -> Array:
    """x converted to dtype (a no-op when it already has it)."""
    dt = np.dtype(dtype)
    if isinstance(x, Tracer):
        return x if x.dtype == dt else bind(P.convert_p, x, dtype=dt)
    return np.asarray(x).astype(dt, copy=False)


# ---------------------------------------------------------------------------- reductions


def _reduction(prim: Primitive, name: str, x: ArrayLike, axis: Axis, keepdims: bool) -> Array:
    if not isinstance(x, Tracer):
        return np.asarray(getattr(np, name)(np.asarray(x), axis=axis if axis is None else
                                            _axes(name, axis, np.ndim(x)), keepdims=keepdims))
    axes = _axes(name, axis, x.ndim)
    out = bind(prim, x, axes=axes) if axes else x
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
        return np.mean(x, axis=axis if axis is None else _axes("mean", axis, np.ndim(x)),  # type: ignore[no-any-return]
                       keepdims=keepdims)
    axes = _axes("mean", axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    return divide(sum(astype(x, _inexact_dtype(x.dtype)), axes, keepdims), count)


def var(x: ArrayLike, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Array:
    """Variance over the given axes (ddof as numpy's)."""
    if not isinstance(x, Tracer):
        return np.var(x, axis=axis if axis is None else _axes("var", axis, np.ndim(x)),  # type: ignore[no-any-return]
                      ddof=ddof, keepdims=keepdims)
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
        return getattr(np, name)(x, axis=axis, keepdims=keepdims)  # type: ignore[no-any-return]
    flat = ravel(x) if axis is None else x
    ax = 0 if axis is None else _axes(name, axis, x.ndim)[0]
    out = bind(prim, flat, axis=ax)
    if keepdims:
        out = reshape(out, (1,) * x.ndim if axis is None else
                      tuple(1 if i == ax else d for i, d in enumerate(x.shape)))
    return out  # type: ignore[no-any-return]


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
    return x if dims == x.shape else bind(P.reshape_p, x, shape=dims)


def transpose(x: ArrayLike, axes: Sequence[int] | None = None) -> Array:
    """Permute the axes (reverse them by default)."""
    if not isinstance(x, Tracer):
        return np.transpose(x, axes)
    perm = tuple(reversed(range(x.ndim))) if axes is None else tuple(
        a % x.ndim if -x.ndim <= a < x.ndim else a for a in axes)
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {tuple(axes or ())} are not a permutation of the "
                         f"{x.ndim} axes of {x.aval}" + user_location())
    return x if perm == tuple(range(x.ndim)) else bind(P.transpose_p, x, perm=perm)


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
    return x if x.shape == shape else bind(P.broadcast_to_p, x, shape=shape)


def concatenate(arrays: Sequence[ArrayLike], axis: int = 0) -> Array:
    """Join arrays along an existing axis."""
    if not _any_traced(arrays):
        return np.concatenate(arrays, axis=axis)
    dtype = np.result_type(*(_dtype_or_scalar(a) for a in arrays))
    xs = [astype(a, dtype) for a in arrays]
    ax = _axes("concatenate", axis, np.ndim(xs[0]) if not isinstance(xs[0], Tracer)
               else xs[0].ndim)[0]
    P.concatenate_p.shape_rule(*xs, axis=ax)  # grad runs numpy directly: check shapes here
    return bind(P.concatenate_p, *xs, axis=ax)  # type: ignore[no-any-return]


def stack(arrays: Sequence[ArrayLike], axis: int = 0) -> Array:
    """Join arrays along a new axis."""
    if not _any_traced(arrays):
        return np.stack(arrays, axis=axis)
    shapes = {_shape(a) for a in arrays}
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
    return bind(P.pad_p, x, widths=widths)  # type: ignore[no-any-return]


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
        return np.asarray(x)[key]  # type: ignore[no-any-return]
    x = x if isinstance(x, Tracer) else np.asarray(x)
    index, arrays = _index_key(x, key)
    return bind(P.gather_p, x, *arrays, index=index)  # type: ignore[no-any-return]


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
        return bind(P.scatter_add_p, self.x, updates, *arrays, index=index)  # type: ignore[no-any-return]

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
        shape = _shape(self.x)
        size = math.prod(shape)
        picked = np.arange(size).reshape(shape)[P.build_index(index, tuple(concrete))]
        flat = picked.ravel()
        unique, first_from_end = np.unique(flat[::-1], return_index=True)
        last = flat.size - 1 - first_from_end
        vals = ravel(broadcast_to(astype(values, self.x.dtype), picked.shape))
        hit = np.zeros(size, bool)
        hit[unique] = True
        placed = at(zeros_like(ravel(self.x)))[unique].add(getitem(vals, last))
        return where(hit.reshape(shape), reshape(placed, shape), self.x)


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
    xs, ys = _shape(x), _shape(y)
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
        return np.matmul(x, y)  # type: ignore[no-any-return]
    dtype = np.result_type(_dtype_or_scalar(x), _dtype_or_scalar(y))
    a, b = astype(x, dtype), astype(y, dtype)
    if len(xs) <= 2 and len(ys) <= 2:
        return bind(P.matmul_p, a, b)  # type: ignore[no-any-return]
    if len(xs) == 1:
        return reshape(matmul(reshape(a, (1, kx)), b), ys[:-2] + ys[-1:])
    if len(ys) == 1:
        return reshape(matmul(a, reshape(b, (ky, 1))), xs[:-1])
    if len(ys) == 2:
        # a batch of rows times one matrix: one 2-D product
        return reshape(bind(P.matmul_p, reshape(a, (-1, kx)), b), xs[:-1] + ys[-1:])
    batch = np.broadcast_shapes(xs[:-2], ys[:-2])
    a = broadcast_to(a, batch + xs[-2:])
    b = broadcast_to(b, batch + ys[-2:])
    return bind(P.matmul_p, a, b)  # type: ignore[no-any-return]


def dot(x: ArrayLike, y: ArrayLike) -> Array:
    """numpy's dot: products of scalars, inner products, matrix products, sum over last/second-last axes."""
    xs, ys = _shape(x), _shape(y)
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
    xs, ys = _shape(x), _shape(y)
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
    return bind(P.einsum_p, *(astype(o, dtype) for o in operands), spec=spec)  # type: ignore[no-any-return]


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
    return np.zeros(_shape(x), x.dtype if dtype is None and isinstance(x, Tracer)
                    else dtype if dtype is not None else np.result_type(x))


def ones_like(x: ArrayLike, dtype: DTypeLike | None = None) -> np.ndarray[Any, Any]:
    """Ones of x's shape and dtype."""
    return np.ones(_shape(x), x.dtype if dtype is None and isinstance(x, Tracer)
                   else dtype if dtype is not None else np.result_type(x))


arange = np.arange
eye = np.eye
linspace = np.linspace


UFUNCS: dict[Any, Callable[..., Array]] = {
    np.add: add, np.subtract: subtract, np.multiply: multiply, np.divide: divide,
    np.negative: negative, np.power: power, np.square: square, np.sqrt: sqrt, np.exp: exp,
    np.log: log, np.log1p: log1p, np.expm1: expm1, np.sin: sin, np.cos: cos, np.tan: tan,
    np.tanh: tanh, np.absolute: abs, np.sign: sign, np.maximum: maximum, np.minimum: minimum,
    np.matmul: matmul, np.less: less, np.less_equal: less_equal, np.greater: greater,
    np.greater_equal: greater_equal, np.equal: equal, np.not_equal: not_equal,
    np.logical_and: logical_and, np.logical_or: logical_or, np.logical_not: logical_not,
    np.isfinite: isfinite,
}
"""numpy ufuncs that, given a traced value, run their funcgrad.numpy counterpart."""
