"""Primitives, tracers and the stack of active transformations.

Every operation funcgrad can trace is a `Primitive`. Calling `bind(prim, *args)` runs it:
with no traced argument it is plain numpy (`prim.impl`); otherwise the innermost
transformation among the arguments (the trace with the highest level) interprets it. Each
transformation is a `Trace` subclass with one method, `process`, so the same primitives
serve grad, make_graph and the rest, and nested transformations keep their values apart
by level.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import numpy as np

from funcgrad.config import config

if TYPE_CHECKING:
    from funcgrad.numpy import Array, ArrayLike, IndexUpdateHelper

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))


# ---------------------------------------------------------------------------- errors


class ShapeError(ValueError):
    """Operands whose shapes do not fit the operation."""


class ConcretizationError(TypeError):
    """A traced value was needed as a concrete Python value where none exists."""


class LeakedTracerError(RuntimeError):
    """A traced value was used after the transformation that made it had finished."""


class ImmutableArrayError(TypeError):
    """Item assignment on a traced array."""


def user_location() -> str:
    """The innermost stack frame outside funcgrad and numpy, as ' (at file:line)', for errors."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith((_PACKAGE_DIR, _NUMPY_DIR)):
            return f" (at {filename}:{frame.f_lineno})"
        frame = frame.f_back
    return ""


# ---------------------------------------------------------------------------- avals

_SHORT_DTYPE = {
    "float16": "f16", "float32": "f32", "float64": "f64", "complex64": "c64",
    "complex128": "c128", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64", "bool": "bool",
}


def short_dtype(dtype: np.dtype[Any]) -> str:
    """'f32' for float32 and so on: the names used in printed graphs."""
    return _SHORT_DTYPE.get(dtype.name, str(dtype.name))


class ShapedArray(NamedTuple):
    """What tracing knows of an array: its shape and dtype, not its values."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return len(self.shape)

    def __str__(self) -> str:
        return f"{short_dtype(self.dtype)}[{','.join(map(str, self.shape))}]"


def aval_of(x: Any) -> ShapedArray:
    """The ShapedArray of an array, a scalar or a tracer."""
    if isinstance(x, Tracer):
        return x.aval
    x = np.asarray(x)
    return ShapedArray(x.shape, x.dtype)


# ---------------------------------------------------------------------------- primitives

Rule = Callable[..., Any]
"""A VJP rule for one argument: rule(cotangent, out, *args, **params) -> cotangent of that
argument. It is written with funcgrad operations, so the backward pass can be traced too."""


class Primitive:
    """A named operation with its numpy implementation, shape rule and derivative rules.

    `vjp` holds one rule per positional argument (None: that argument gets no gradient,
    e.g. an integer index), or, for primitives taking any number of arguments, a function
    from the argument's position to its rule. `batch` is the rule vmap uses (see
    funcgrad.batching); without one, vmap loops over the examples.
    """

    __slots__ = ("name", "impl", "shape_rule", "_vjp", "batch")

    def __init__(
        self,
        name: str,
        impl: Callable[..., Any],
        shape_rule: Callable[..., ShapedArray],
        vjp: Sequence[Rule | None] | Callable[[int], Rule | None] | None = None,
        batch: Callable[..., Any] | None = None,
    ) -> None:
        self.name = name
        self.impl = impl
        self.shape_rule = shape_rule
        self._vjp = tuple(vjp) if isinstance(vjp, Sequence) else vjp
        self.batch = batch

    def vjp_rule(self, argnum: int) -> Rule | None:
        """The VJP rule for argument `argnum`, None if it gets no gradient."""
        rules = self._vjp
        if type(rules) is tuple:
            return rules[argnum]
        if rules is None:
            raise NotImplementedError(
                f"the primitive '{self.name}' has no VJP rule, so it cannot be differentiated "
                "with grad/vjp"
            )
        if callable(rules):
            return rules(argnum)
        return rules[argnum]

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive under whatever transformations are active."""
        return bind(self, *args, **params)

    def __repr__(self) -> str:
        return self.name


def bind(prim: Primitive, *args: Any, **params: Any) -> Any:
    """Run `prim` on `args`: in numpy, or in the innermost trace among the arguments."""
    trace: Trace | None = None
    for arg in args:
        if isinstance(arg, Tracer):
            t = arg._trace
            if trace is None or t.level > trace.level:
                trace = t
    if trace is None:
        out = prim.impl(*args, **params)
        if config.debug_nans:
            check_finite(prim, args, params, out)
        return out
    if not trace.active:
        raise _leaked(trace)
    return trace.process(prim, args, params)


def check_finite(prim: Primitive, args: Sequence[Any], params: dict[str, Any], out: Any,
                 vjp_of_arg: int | None = None) -> None:
    """With config.debug_nans: raise if a primitive's (or its VJP rule's) output has a nan or inf."""
    if isinstance(out, Tracer) or aval_of(out).dtype.kind not in "fc" or np.all(np.isfinite(out)):
        return
    bad = "nan" if np.any(np.isnan(out)) else "inf"
    names = "abcdefghijklmnopqrstuvwxyz"
    inputs = " ".join(f"{names[i]}:{aval_of(a)}" for i, a in enumerate(args))
    shown = "[" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + "]" if params else ""
    what = (f"the primitive '{prim.name}'" if vjp_of_arg is None else
            f"the VJP rule of '{prim.name}' for its argument {names[vjp_of_arg]}")
    raise FloatingPointError(
        f"debug_nans: {what} produced {bad}, in the equation\n"
        f"  out:{aval_of(out)} = {prim.name}{shown} {inputs}" + user_location()
    )


def _leaked(trace: Trace) -> LeakedTracerError:
    return LeakedTracerError(
        f"a traced value from a {trace.name} transformation that has already finished was "
        "used here. This happens when a function under a transformation stores a traced "
        "value outside itself (a global, a closure, an attribute) and it is used later. "
        "Return the value from the function instead (use has_aux=True with grad to return "
        "extra values)." + user_location()
    )


# ---------------------------------------------------------------------------- traces


class Trace:
    """One active transformation. Subclasses interpret primitives in `process`."""

    name = "trace"

    def __init__(self, level: int) -> None:
        self.level = level
        self.active = True

    def process(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Any:
        """Apply `prim` to `args`, some of which are this trace's tracers."""
        raise NotImplementedError

    def concrete(self, tracer: Tracer) -> np.ndarray[Any, Any] | None:
        """The tracer's value if this trace knows it (grad does, make_graph does not)."""
        return None


_trace_stack: list[Trace] = []

T = TypeVar("T", bound=Trace)


@contextmanager
def new_trace(make: Callable[[int], T]) -> Iterator[T]:
    """Push a new innermost trace for the duration of the block."""
    trace = make(len(_trace_stack))
    _trace_stack.append(trace)
    try:
        yield trace
    finally:
        trace.active = False
        _trace_stack.pop()


# ---------------------------------------------------------------------------- tracers


class Tracer:
    """A value under a transformation. Behaves like an immutable numpy array.

    Operators and methods follow numpy (via funcgrad.numpy); converting to a numpy array,
    a bool or a float works only where the value is known (under grad, not make_graph).
    """

    __slots__ = ("_trace",)
    _trace: Trace

    __array_priority__ = 1000

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # numpy ufuncs given a tracer (np.sin(x), ndarray + x) run funcgrad's version, so
        # they trace and differentiate instead of failing or making an object array.
        from funcgrad import numpy as fnp
        fn = fnp.UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        if fn is None:
            raise TypeError(
                f"numpy's {ufunc.__name__}{'' if method == '__call__' else '.' + method} "
                f"cannot take a traced value ({self.aval}); use funcgrad.numpy instead "
                "(import funcgrad.numpy as fnp)" + user_location())
        return fn(*inputs)

    @property
    def aval(self) -> ShapedArray:
        """The shape and dtype of the traced value."""
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape, as numpy's."""
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype, as numpy's."""
        return self.aval.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """The number of elements."""
        return math.prod(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d traced array")
        return self.shape[0]

    def __iter__(self) -> Iterator[Array]:
        for i in range(len(self)):
            yield self[i]

    def _concrete_value(self, what: str) -> np.ndarray[Any, Any]:
        value = self._trace.concrete(self)
        if value is None:
            raise ConcretizationError(
                f"{what} of a traced value ({self.aval}) is not known while tracing with "
                f"{self._trace.name}: only its shape and dtype are. Branch on values with "
                "funcgrad.numpy.where(cond, a, b), or make the value a static argument."
                + user_location()
            )
        return value

    def __bool__(self) -> bool:
        return bool(self._concrete_value("the truth value"))

    def __float__(self) -> float:
        return float(self._concrete_value("float()"))

    def __int__(self) -> int:
        return int(self._concrete_value("int()"))

    def __index__(self) -> int:
        return int(self._concrete_value("using as an index"))

    def item(self) -> Any:
        """The value of a one-element array as a Python scalar (only where it is known)."""
        return self._concrete_value(".item()").item()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        raise ConcretizationError(
            f"a traced value ({self.aval}) cannot be turned into a numpy array: numpy "
            "functions cannot be differentiated or traced. Use funcgrad.numpy (import "
            "funcgrad.numpy as fnp) inside transformed functions." + user_location()
        )

    def __setitem__(self, key: Any, value: Any) -> None:
        raise ImmutableArrayError(
            "funcgrad arrays are immutable under transformations, so x[idx] = v is not "
            "allowed. Write it functionally: x = x.at[idx].set(v) (or .add(v)), or "
            "x = fnp.where(mask, v, x)." + user_location()
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.aval})"

    # The numpy-like interface. Implemented in funcgrad.numpy; imported on use because
    # that module builds on this one.

    def __neg__(self) -> Array:
        from funcgrad import numpy as fnp
        return fnp.negative(self)

    def __pos__(self) -> Tracer:
        return self

    def __abs__(self) -> Array:
        from funcgrad import numpy as fnp
        return fnp.abs(self)

    def __add__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.add(self, other)

    def __radd__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.add(other, self)

    def __sub__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.subtract(self, other)

    def __rsub__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.subtract(other, self)

    def __mul__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.multiply(self, other)

    def __rmul__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.multiply(other, self)

    def __truediv__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.divide(self, other)

    def __rtruediv__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.divide(other, self)

    def __pow__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.power(self, other)

    def __rpow__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.power(other, self)

    def __matmul__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.matmul(self, other)

    def __rmatmul__(self, other: ArrayLike) -> Array:
        from funcgrad import numpy as fnp
        return fnp.matmul(other, self)

    def __lt__(self, other: ArrayLike) -> Any:
        from funcgrad import numpy as fnp
        return fnp.less(self, other)

    def __le__(self, other: ArrayLike) -> Any:
        from funcgrad import numpy as fnp
        return fnp.less_equal(self, other)

    def __gt__(self, other: ArrayLike) -> Any:
        from funcgrad import numpy as fnp
        return fnp.greater(self, other)

    def __ge__(self, other: ArrayLike) -> Any:
        from funcgrad import numpy as fnp
        return fnp.greater_equal(self, other)

    def __eq__(self, other: object) -> Any:
        from funcgrad import numpy as fnp
        return fnp.equal(self, other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> Any:
        from funcgrad import numpy as fnp
        return fnp.not_equal(self, other)  # type: ignore[arg-type]

    __hash__ = None  # type: ignore[assignment]

    def __getitem__(self, key: Any) -> Array:
        from funcgrad import numpy as fnp
        return fnp.getitem(self, key)

    @property
    def at(self) -> IndexUpdateHelper:
        """Functional item updates: x.at[idx].set(v), x.at[idx].add(v)."""
        from funcgrad import numpy as fnp
        return fnp.IndexUpdateHelper(self)

    @property
    def T(self) -> Array:
        """The transpose (axes reversed)."""
        from funcgrad import numpy as fnp
        return fnp.transpose(self)

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Array:
        """Sum over axes, as numpy's."""
        from funcgrad import numpy as fnp
        return fnp.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Array:
        """Mean over axes, as numpy's."""
        from funcgrad import numpy as fnp
        return fnp.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Array:
        """Maximum over axes, as numpy's."""
        from funcgrad import numpy as fnp
        return fnp.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Array:
        """Minimum over axes, as numpy's."""
        from funcgrad import numpy as fnp
        return fnp.min(self, axis=axis, keepdims=keepdims)

    def prod(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Array:
        """Product over axes, as numpy's."""
        from funcgrad import numpy as fnp
        return fnp.prod(self, axis=axis, keepdims=keepdims)

    def var(self, axis: int | tuple[int, ...] | None = None, ddof: int = 0,
            keepdims: bool = False) -> Array:
        """Variance over axes, as numpy's."""
        from funcgrad import numpy as fnp
        return fnp.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis: int | tuple[int, ...] | None = None, ddof: int = 0,
            keepdims: bool = False) -> Array:
        """Standard deviation over axes, as numpy's."""
        from funcgrad import numpy as fnp
        return fnp.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def argmax(self, axis: int | None = None) -> Any:
        """Index of the maximum (not differentiable)."""
        from funcgrad import numpy as fnp
        return fnp.argmax(self, axis=axis)

    def argmin(self, axis: int | None = None) -> Any:
        """Index of the minimum (not differentiable)."""
        from funcgrad import numpy as fnp
        return fnp.argmin(self, axis=axis)

    def reshape(self, *shape: Any) -> Array:
        """Reshape, as numpy's (a tuple or separate ints; -1 allowed once)."""
        from funcgrad import numpy as fnp
        return fnp.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes: Any) -> Array:
        """Permute axes, as numpy's."""
        from funcgrad import numpy as fnp
        return fnp.transpose(self, (axes[0] if len(axes) == 1 else axes) if axes else None)

    def swapaxes(self, axis1: int, axis2: int) -> Array:
        """Swap two axes."""
        from funcgrad import numpy as fnp
        return fnp.swapaxes(self, axis1, axis2)

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Array:
        """Remove axes of length one."""
        from funcgrad import numpy as fnp
        return fnp.squeeze(self, axis)

    def ravel(self) -> Array:
        """Flatten to 1-D."""
        from funcgrad import numpy as fnp
        return fnp.ravel(self)

    flatten = ravel

    def astype(self, dtype: Any) -> Array:
        """Convert to another dtype."""
        from funcgrad import numpy as fnp
        return fnp.astype(self, dtype)

    def clip(self, a_min: ArrayLike | None = None, a_max: ArrayLike | None = None) -> Array:
        """Clip values to [a_min, a_max]."""
        from funcgrad import numpy as fnp
        return fnp.clip(self, a_min, a_max)

    def dot(self, other: ArrayLike) -> Array:
        """Dot product, as numpy's."""
        from funcgrad import numpy as fnp
        return fnp.dot(self, other)
