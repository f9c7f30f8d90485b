"""Primitives, tracers and the per-thread count of active transformations.

Every operation funcgrad can trace is a `Primitive`. `bind(prim, *args)` runs it: with no
traced argument it is plain numpy (`prim.impl`); otherwise the innermost transformation
among the arguments (the trace with the highest level) interprets it. Each
transformation is a `Trace` subclass with one method, `process`, so the same primitives
serve grad, make_graph, vmap and jit, and nested transformations keep their values apart
by level. A level is the number of transformations already active in the current thread
(kept in a context variable), so threads tracing at the same time never share a level.

This module imports nothing of funcgrad.numpy: the numpy layer installs the Tracer's
operators and array methods (declared below for type checkers) when it is imported.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, Union, cast

import numpy as np

from funcgrad.config import checking_nans

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))


# ---------------------------------------------------------------------------- errors


class ShapeError(ValueError):
    """Operands whose shapes do not fit the operation."""


class ConcretizationError(TypeError):
    """A traced value was needed as a concrete Python value where none exists."""


class LeakedTracerError(RuntimeError):
    """A traced value was used after the transformation that made it had finished."""

    def __init__(self, message: str, aval: ShapedArray) -> None:
        super().__init__(message)
        self.aval = aval  # the value's shape and dtype


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


def differentiable(dtype: np.dtype[Any]) -> bool:
    """Whether values of this dtype have gradients (floating point and complex)."""
    return dtype.kind in "fc"


# ---------------------------------------------------------------------------- primitives

Rule = Callable[..., Any]
"""A VJP rule for one argument: rule(cotangent, out, *args, **params) -> cotangent of that
argument. With several outputs, cotangent and out are tuples (the cotangent of an output
that got none is zeros; of an integer output, None). Rules are written with funcgrad
operations, so the backward pass can be traced too."""

Backward = Callable[[Sequence[Any]], Sequence[Any]]
"""Output cotangents -> one cotangent (or None) per argument."""

VJPCall = Callable[[Sequence[bool], Sequence[Any], dict[str, Any]],
                   tuple[Sequence[Any], Backward]]
"""How grad runs a primitive that carries graphs: vjp_call(differentiated, args, params)
binds its forward part (so outer transformations see it) and returns the outputs and the
backward function, whose residuals are outputs of the forward part."""


class Primitive:
    """A named operation with its numpy implementation, shape rule and derivative rules.

    `vjp` holds one rule per positional argument (None: that argument gets no gradient,
    e.g. an integer index), or, for primitives taking any number of arguments, a function
    from the argument's position to its rule. `batch` is the rule vmap uses (see
    funcgrad.batching). With `multiple_results` the implementation returns a tuple and the
    shape rule a tuple of ShapedArrays. Primitives that carry graphs (jit's call,
    custom_vjp, ...) give `vjp_call` instead of per-argument rules. `complex_rules` says
    the VJP rules are right for complex values, in JAX's convention (the cotangent of
    z = x + iy is dL/dx - i dL/dy, so a holomorphic f has the rule ct * f'(z)); without
    it, grad refuses a complex output rather than give a wrong number. `writes_out` says
    the implementation takes `out=` (an array of its result's shape and dtype, possibly
    one of its operands, that it writes the result into) and returns no view of an
    operand, so jit may hand it the memory of an operand that dies there; numpy's ufuncs
    do.
    """

    __slots__ = ("name", "impl", "shape_rule", "_vjp", "batch", "multiple_results", "vjp_call",
                 "complex_rules", "writes_out")

    def __init__(
        self,
        name: str,
        impl: Callable[..., Any],
        shape_rule: Callable[..., Any],
        vjp: Sequence[Rule | None] | Callable[[int], Rule | None] | None = None,
        batch: Callable[..., Any] | None = None,
        *,
        multiple_results: bool = False,
        vjp_call: VJPCall | None = None,
        complex_rules: bool = False,
        writes_out: bool | None = None,
    ) -> None:
        self.name = name
        self.impl = impl
        self.shape_rule = shape_rule
        self._vjp = tuple(vjp) if isinstance(vjp, Sequence) else vjp
        self.batch = batch
        self.multiple_results = multiple_results
        self.vjp_call = vjp_call
        self.complex_rules = complex_rules
        self.writes_out = isinstance(impl, np.ufunc) if writes_out is None else writes_out

    def vjp_rule(self, argnum: int) -> Rule | None:
        """The VJP rule for argument `argnum`, None if it gets no gradient."""
        rules = self._vjp
        if type(rules) is tuple:
            return rules[argnum]
        if rules is None:
            raise NotImplementedError(
                f"the primitive '{self.name}' has no VJP rule, so it cannot be differentiated "
                "with grad/vjp")
        assert callable(rules)
        return rules(argnum)

    def bind(self, *args: Any, **params: Any) -> Array:
        """Apply the primitive (one output) under whatever transformations are active."""
        return bind(self, *args, **params)

    def bind_multi(self, *args: Any, **params: Any) -> tuple[Array, ...]:
        """Apply a primitive with several outputs; returns them as a tuple."""
        return bind_multi(self, *args, **params)

    def __repr__(self) -> str:
        return self.name


def bind(prim: Primitive, *args: Any, **params: Any) -> Array:
    """Run `prim` on `args`: in numpy, or in the innermost trace among them.

    Typed for primitives with one output; `bind_multi` is the same for several.
    """
    trace: Trace | None = None
    for arg in args:
        if isinstance(arg, Tracer):
            t = arg._trace
            if trace is None or t.level > trace.level:
                trace = t
    if trace is None:
        out: Array = prim.impl(*args, **params)
        if checking_nans():
            check_finite(prim, args, params, out)
        return out
    if not trace.active:
        leaked = next(a for a in args if isinstance(a, Tracer) and a._trace is trace)
        raise _leaked(trace, leaked.aval)
    result: Array = trace.process(prim, args, params)
    return result


def bind_multi(prim: Primitive, *args: Any, **params: Any) -> tuple[Array, ...]:
    """Run a primitive with several outputs; returns them as a tuple."""
    return cast(tuple[Array, ...], bind(prim, *args, **params))


def check_finite(prim: Primitive, args: Sequence[Any], params: dict[str, Any], out: Any,
                 vjp_of_arg: int | None = None) -> None:
    """With config.debug_nans: raise if a primitive's (or its VJP rule's) output has a nan or inf."""
    for o in (out if isinstance(out, (tuple, list)) else (out,)):
        if (o is None or isinstance(o, Tracer) or aval_of(o).dtype.kind not in "fc"
                or np.all(np.isfinite(o))):
            continue
        bad = "nan" if np.any(np.isnan(o)) else "inf"
        names = "abcdefghijklmnopqrstuvwxyz"
        inputs = " ".join(f"{names[i]}:{aval_of(a)}" for i, a in enumerate(args))
        shown = "[" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + "]" if params else ""
        what = (f"the primitive '{prim.name}'" if vjp_of_arg is None else
                f"the VJP rule of '{prim.name}' for its argument {names[vjp_of_arg]}")
        raise FloatingPointError(
            f"debug_nans: {what} produced {bad}, in the equation\n"
            f"  out:{aval_of(o)} = {prim.name}{shown} {inputs}" + user_location())


def _leaked(trace: Trace, aval: ShapedArray) -> LeakedTracerError:
    return LeakedTracerError(
        f"a traced value ({aval}) from a {trace.name} transformation that has already "
        "finished was "
        "used here. This happens when a function under a transformation stores a traced "
        "value outside itself (a global, a closure, an attribute) and it is used later. "
        "Return the value from the function instead (use has_aux=True with grad to return "
        "extra values)." + user_location(), aval)


def unaliased(outputs: Sequence[Any], sources: Sequence[Any],
              taken: set[int] | None = None) -> list[Any]:
    """The outputs, each copied if it is read-only or shares memory with one of `sources`
    (or with an owner in `taken`, from memory_owners) or with an earlier output; numpy
    scalars become 0-d arrays.

    Results handed to the user (of jit, grad, vjp) are then ordinary arrays they own, all
    of one kind: writing into one never changes an argument, a cached constant or another
    result.
    """
    # This runs on every call of grad and jit, so the common case is cheap: an output
    # owning its memory can only alias by being a source itself; only views (rare) need
    # the owners of every source.
    handed_out: set[int] = set()
    source_ids: set[int] | None = None
    owners: set[int] | None = None
    out = []
    for o in outputs:
        if type(o) is np.ndarray:
            if o.base is None:
                if source_ids is None:
                    source_ids = {id(x) for x in sources}
                    if taken:
                        source_ids |= taken
                owner = id(o)
                shared = owner in source_ids or owner in handed_out
            else:
                if owners is None:
                    owners = memory_owners(sources) | (taken or set())
                owner = id(_memory_owner(o))
                shared = owner in owners or owner in handed_out
            if shared or not o.flags.writeable:
                o = np.array(o)
                owner = id(o)
            handed_out.add(owner)
        elif isinstance(o, np.generic):
            o = np.asarray(o)
        out.append(o)
    return out


def memory_owners(arrays: Sequence[Any]) -> set[int]:
    """The ids of the arrays that own the memory of the numpy arrays among `arrays`."""
    return {id(_memory_owner(a)) for a in arrays if type(a) is np.ndarray}


def _memory_owner(a: np.ndarray[Any, Any]) -> Any:
    while type(a.base) is np.ndarray:
        a = a.base
    return a


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


# How many transformations are active in this thread (or asyncio task): the next one's
# level. A context variable, so concurrent threads each count their own.
_depth: ContextVar[int] = ContextVar("funcgrad_trace_depth", default=0)

T = TypeVar("T", bound=Trace)


def trace_depth() -> int:
    """The number of transformations active in the current thread."""
    return _depth.get()


@contextmanager
def new_trace(make: Callable[[int], T]) -> Iterator[T]:
    """Make the innermost transformation (one level above the active ones) for the block."""
    level = _depth.get()
    trace = make(level)
    token = _depth.set(level + 1)
    try:
        yield trace
    finally:
        trace.active = False
        _depth.reset(token)


# ---------------------------------------------------------------------------- tracers


class Tracer:
    """A value under a transformation. Behaves like an immutable numpy array.

    Operators and array methods follow numpy: funcgrad.numpy installs them, with numpy's
    dispatch (np.sin(t), np.sum(t)). Converting to a bool or a float works only where the
    value is known (under grad, not under make_graph or jit); to a numpy array, never (the
    error says which funcgrad.numpy function to use).
    """

    __slots__ = ("_trace",)
    _trace: Trace

    __array_priority__ = 1000

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
                + user_location())
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

    def __setitem__(self, key: Any, value: Any) -> None:
        raise ImmutableArrayError(
            "funcgrad arrays are immutable under transformations, so x[idx] = v is not "
            "allowed. Write it functionally: x = x.at[idx].set(v) (or .add(v)), or "
            "x = fnp.where(mask, v, x)." + user_location())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.aval})"

    def __pos__(self) -> Tracer:
        return self

    __hash__ = None  # type: ignore[assignment]  # arrays are unhashable, as numpy's

    if TYPE_CHECKING:
        # Installed by funcgrad.numpy from its table (the rows' methods); declared for mypy.
        def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any
                            ) -> Any: ...
        def __array_function__(self, func: Any, types: Any, args: tuple[Any, ...],
                               kwargs: dict[str, Any]) -> Any: ...
        def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]: ...
        def __neg__(self) -> Array: ...
        def __abs__(self) -> Array: ...
        def __add__(self, other: ArrayLike) -> Array: ...
        def __radd__(self, other: ArrayLike) -> Array: ...
        def __sub__(self, other: ArrayLike) -> Array: ...
        def __rsub__(self, other: ArrayLike) -> Array: ...
        def __mul__(self, other: ArrayLike) -> Array: ...
        def __rmul__(self, other: ArrayLike) -> Array: ...
        def __truediv__(self, other: ArrayLike) -> Array: ...
        def __rtruediv__(self, other: ArrayLike) -> Array: ...
        def __pow__(self, other: ArrayLike) -> Array: ...
        def __rpow__(self, other: ArrayLike) -> Array: ...
        def __mod__(self, other: ArrayLike) -> Array: ...
        def __rmod__(self, other: ArrayLike) -> Array: ...
        def __floordiv__(self, other: ArrayLike) -> Array: ...
        def __rfloordiv__(self, other: ArrayLike) -> Array: ...
        def __divmod__(self, other: ArrayLike) -> tuple[Array, Array]: ...
        def __rdivmod__(self, other: ArrayLike) -> tuple[Array, Array]: ...
        def __invert__(self) -> Array: ...
        def __and__(self, other: ArrayLike) -> Array: ...
        def __rand__(self, other: ArrayLike) -> Array: ...
        def __or__(self, other: ArrayLike) -> Array: ...
        def __ror__(self, other: ArrayLike) -> Array: ...
        def __xor__(self, other: ArrayLike) -> Array: ...
        def __rxor__(self, other: ArrayLike) -> Array: ...
        def __matmul__(self, other: ArrayLike) -> Array: ...
        def __rmatmul__(self, other: ArrayLike) -> Array: ...
        def __lt__(self, other: ArrayLike) -> Array: ...
        def __le__(self, other: ArrayLike) -> Array: ...
        def __gt__(self, other: ArrayLike) -> Array: ...
        def __ge__(self, other: ArrayLike) -> Array: ...
        def __eq__(self, other: object) -> Array: ...  # type: ignore[override]  # elementwise, as numpy's
        def __ne__(self, other: object) -> Array: ...  # type: ignore[override]  # elementwise, as numpy's
        def __getitem__(self, key: Any) -> Array: ...
        @property
        def at(self) -> Any: ...
        @property
        def T(self) -> Array: ...
        def sum(self, axis: Axis = None, dtype: Any = None, *, keepdims: bool = False
                ) -> Array: ...
        def mean(self, axis: Axis = None, dtype: Any = None, *, keepdims: bool = False
                 ) -> Array: ...
        def prod(self, axis: Axis = None, dtype: Any = None, *, keepdims: bool = False
                 ) -> Array: ...
        def max(self, axis: Axis = None, *, keepdims: bool = False) -> Array: ...
        def min(self, axis: Axis = None, *, keepdims: bool = False) -> Array: ...
        def var(self, axis: Axis = None, dtype: Any = None, *, ddof: int = 0,
                keepdims: bool = False) -> Array: ...
        def std(self, axis: Axis = None, dtype: Any = None, *, ddof: int = 0,
                keepdims: bool = False) -> Array: ...
        def argmax(self, axis: int | None = None, *, keepdims: bool = False) -> Array: ...
        def argmin(self, axis: int | None = None, *, keepdims: bool = False) -> Array: ...
        def all(self, axis: Axis = None, *, keepdims: bool = False) -> Array: ...
        def any(self, axis: Axis = None, *, keepdims: bool = False) -> Array: ...
        def copy(self, order: str = "K", subok: bool = False) -> Array: ...
        def searchsorted(self, v: Any, side: str = "left", sorter: Any = None) -> Array: ...
        def nonzero(self) -> tuple[Array, ...]: ...
        def cumsum(self, axis: int | None = None, dtype: Any = None) -> Array: ...
        def cumprod(self, axis: int | None = None, dtype: Any = None) -> Array: ...
        def sort(self, axis: int | None = -1, kind: str | None = None, *,
                 stable: bool | None = None) -> Array: ...
        def argsort(self, axis: int | None = -1, kind: str | None = None, *,
                    stable: bool | None = None) -> Array: ...
        def argpartition(self, kth: int | Sequence[int], axis: int | None = -1,
                         kind: str = "introselect") -> Array: ...
        def repeat(self, repeats: ArrayLike | Sequence[int], axis: int | None = None
                   ) -> Array: ...
        def take(self, indices: Any, axis: int | None = None, mode: str = "raise") -> Array: ...
        def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array: ...
        def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None
                  ) -> Array: ...
        def reshape(self, *shape: Any) -> Array: ...
        def transpose(self, *axes: Any) -> Array: ...
        def swapaxes(self, axis1: int, axis2: int) -> Array: ...
        def squeeze(self, axis: int | Sequence[int] | None = None) -> Array: ...
        def ravel(self) -> Array: ...
        def flatten(self) -> Array: ...
        def astype(self, dtype: Any) -> Array: ...
        def clip(self, a_min: ArrayLike | None = None, a_max: ArrayLike | None = None,
                 out: None = None, *, min: ArrayLike | None = None,
                 max: ArrayLike | None = None) -> Array: ...
        def round(self, decimals: int = 0, out: None = None) -> Array: ...
        def conj(self) -> Array: ...
        def conjugate(self) -> Array: ...
        @property
        def real(self) -> Array: ...
        @property
        def imag(self) -> Array: ...
        def dot(self, other: ArrayLike) -> Array: ...


Axis = Union[int, Sequence[int], None]
"""An axis argument: one, several, or None for all."""

Array = Union[Tracer, np.ndarray[Any, Any]]
"""What funcgrad functions return: a traced value under a transformation, a numpy array
otherwise."""

ArrayLike = Union[Tracer, np.ndarray[Any, Any], np.generic, float, int, bool, complex]
"""What funcgrad functions accept."""
