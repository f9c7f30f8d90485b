"""Reverse mode: vjp, grad and value_and_grad; forward mode derived from it.

Under `vjp`, each primitive is computed at once (so Python control flow on values works)
and appended to a tape together with its inputs. The backward pass walks the tape in
reverse, calling each primitive's VJP rules. The rules are written with funcgrad
operations, so when the inputs are themselves traced (grad of grad, make_graph of grad)
the backward pass is traced as well. Nested vjps keep their perturbations apart because
each tracer belongs to exactly one trace (level).

A primitive with several outputs, or one carrying graphs (jit's call, custom_vjp, ...),
makes one tape node for all its outputs; the latter say through `vjp_call` how to run
their forward part and what their backward function is. `vjp_graph` splits the reverse
mode of a whole graph into a forward graph and a backward graph, for jit's call.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar, overload

import numpy as np
from typing_extensions import ParamSpec

from funcgrad import numpy as fnp
from funcgrad import tree
from funcgrad.batching import vmap
from funcgrad.config import checking_nans
from funcgrad.core import (Array, ArrayLike, Backward, Primitive, ShapedArray, Trace, Tracer,
                           VJPCall, aval_of, bind, check_finite, differentiable, new_trace,
                           short_dtype, unaliased, user_location)
from funcgrad.graph import Graph, Var, trace_avals
from funcgrad.graph import Literal as Constant

P = ParamSpec("P")
R = TypeVar("R")


class VJPTracer(Tracer):
    """A value under vjp: its primal value and how it was computed (one tape entry).

    An input, or an output of a MultiNode, has no primitive of its own.
    """

    __slots__ = ("primal", "prim", "params", "args", "parents", "ct")

    def __init__(self, trace: VJPTrace, primal: Any, prim: Primitive | None,
                 params: dict[str, Any], args: tuple[Any, ...],
                 parents: tuple[tuple[int, VJPTracer], ...]) -> None:
        self._trace = trace
        self.primal = primal
        self.prim = prim
        self.params = params
        self.args = args  # the primal inputs, which the VJP rules read
        self.parents = parents  # (argument position, tracer) for inputs that need gradients
        self.ct: Any = None  # accumulated cotangent during the backward pass

    @property
    def aval(self) -> ShapedArray:
        p = self.primal
        return p.aval if isinstance(p, Tracer) else ShapedArray(p.shape, p.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        shape: tuple[int, ...] = self.primal.shape
        return shape

    @property
    def dtype(self) -> np.dtype[Any]:
        dtype: np.dtype[Any] = self.primal.dtype
        return dtype


class MultiNode:
    """The tape entry of a primitive with several outputs: its outputs' tracers (or plain
    values, for integer outputs) and the function from their cotangents to the arguments'."""

    __slots__ = ("prim", "params", "args", "outs", "parents", "backward")

    def __init__(self, prim: Primitive, params: dict[str, Any], args: tuple[Any, ...],
                 outs: list[Any], parents: tuple[tuple[int, VJPTracer], ...],
                 backward: Backward) -> None:
        self.prim = prim
        self.params = params
        self.args = args
        self.outs = outs
        self.parents = parents
        self.backward = backward


def _by_rules(prim: Primitive, params: dict[str, Any], args: tuple[Any, ...],
              outs: tuple[Any, ...], wanted: Sequence[int], cts: Sequence[Any]) -> list[Any]:
    """The backward function of a primitive with several outputs and per-argument rules."""
    result: list[Any] = [None] * len(args)
    for i in wanted:
        rule = prim.vjp_rule(i)
        assert rule is not None
        result[i] = rule(tuple(cts), outs, *args, **params)
    return result


class VJPTrace(Trace):
    """Computes each primitive and records it on a tape for the backward pass."""

    name = "grad"

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.tape: list[VJPTracer | MultiNode] = []

    def new_input(self, x: Any) -> VJPTracer:
        """A tracer for an input to differentiate with respect to."""
        return VJPTracer(self, x, None, {}, (), ())

    def concrete(self, tracer: Tracer) -> np.ndarray[Any, Any] | None:
        assert isinstance(tracer, VJPTracer)
        primal = tracer.primal
        if isinstance(primal, Tracer):
            return primal._trace.concrete(primal)
        return np.asarray(primal)

    def process(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Any:
        # The hottest loop of grad: written out plainly rather than with comprehensions.
        vjp_call = prim.vjp_call
        if vjp_call is not None:
            return self._process_call(prim, vjp_call, args, params)
        primals = []
        parents = []
        nested = False
        for i, a in enumerate(args):
            if type(a) is VJPTracer and a._trace is self:
                primals.append(a.primal)
                if prim.vjp_rule(i) is not None:
                    parents.append((i, a))
            else:
                primals.append(a)
            nested = nested or isinstance(primals[-1], Tracer)
        out: Any
        if nested:
            out = bind(prim, *primals, **params)
        else:
            out = prim.impl(*primals, **params)
            if checking_nans():
                check_finite(prim, primals, params, out)
        if not parents:
            return out  # stop_gradient, integer inputs: nothing to differentiate
        if prim.multiple_results:
            backward = functools.partial(_by_rules, prim, params, tuple(primals), tuple(out),
                                         [i for i, _ in parents])
            return self._record(prim, params, tuple(primals), out, tuple(parents), backward)
        kind = out.dtype.kind
        if kind != "f":
            if kind != "c":
                return out  # comparisons, argmax: no gradient
            _check_complex(prim, out)
        tracer = VJPTracer(self, out, prim, params, tuple(primals), tuple(parents))
        self.tape.append(tracer)
        return tracer

    def _process_call(self, prim: Primitive, vjp_call: VJPCall, args: Sequence[Any],
                      params: dict[str, Any]) -> Any:
        """process for a primitive that carries graphs: its vjp_call differentiates it."""
        primals = [a.primal if type(a) is VJPTracer and a._trace is self else a for a in args]
        parents = tuple((i, a) for i, a in enumerate(args)
                        if type(a) is VJPTracer and a._trace is self)
        if not parents:
            return bind(prim, *primals, **params)
        diff = [False] * len(args)
        for i, _ in parents:
            diff[i] = True
        outs, backward = vjp_call(diff, primals, params)
        return self._record(prim, params, tuple(primals), outs, parents, backward)

    def _record(self, prim: Primitive, params: dict[str, Any], args: tuple[Any, ...],
                outs: Sequence[Any], parents: tuple[tuple[int, VJPTracer], ...],
                backward: Backward) -> tuple[Any, ...]:
        tracers = [VJPTracer(self, o, None, {}, (), ()) if differentiable(aval_of(o).dtype)
                   else o for o in outs]
        for o in outs:
            if aval_of(o).dtype.kind == "c":
                _check_complex(prim, o)
        self.tape.append(MultiNode(prim, params, args, tracers, parents, backward))
        return tuple(tracers)

    def backward(self, outputs: Sequence[tuple[VJPTracer, Any]], inputs: Sequence[Any],
                 keep_tape: bool) -> list[Any]:
        """Propagate output cotangents back along the tape; returns the inputs' cotangents.

        With keep_tape=False the tape is consumed, so each entry's residuals are freed as
        soon as its rules have run.
        """
        for t, ct in outputs:
            t.ct = ct if t.ct is None else t.ct + ct
        tape = self.tape if keep_tape else self.tape[:]
        if not keep_tape:
            self.tape = []
        nans = checking_nans()
        try:
            for i in range(len(tape) - 1, -1, -1):
                node = tape[i]
                if not keep_tape:
                    tape.pop()
                if type(node) is VJPTracer:
                    ct = node.ct
                    if ct is None:
                        continue
                    node.ct = None
                    prim = node.prim
                    assert prim is not None
                    for argnum, parent in node.parents:
                        rule = prim.vjp_rule(argnum)
                        assert rule is not None
                        c = rule(ct, node.primal, *node.args, **node.params)
                        if c is None:
                            continue
                        dtype = c.dtype
                        primal = parent.primal
                        if (nans or c.shape != primal.shape or dtype != primal.dtype
                                or dtype.kind == "c"):
                            _send(prim, node, argnum, parent, c)  # checks it, and says why not
                        else:  # the common case, inline: this runs for every operation
                            parent.ct = c if parent.ct is None else parent.ct + c
                else:
                    assert isinstance(node, MultiNode)
                    cts = _take_cotangents(node.outs)
                    if cts is not None:
                        in_cts = node.backward(cts)
                        for argnum, parent in node.parents:
                            _send(node.prim, node, argnum, parent, in_cts[argnum])
                del node
            results = []
            for x in inputs:
                if type(x) is VJPTracer and x._trace is self:
                    results.append(x.ct if x.ct is not None else np.zeros(x.shape, x.dtype))
                else:
                    results.append(np.zeros(aval_of(x).shape, aval_of(x).dtype))
            return results
        finally:
            for x in inputs:
                if type(x) is VJPTracer:
                    x.ct = None
            for t, _ in outputs:
                t.ct = None


def _check_complex(prim: Primitive, value: Any) -> None:
    """Refuse to differentiate a primitive whose rules are not written for complex values
    (value: its complex output, or an input's cotangent)."""
    if not prim.complex_rules:
        raise TypeError(
            f"the derivative of '{prim.name}' is not defined for complex values (it met "
            f"{aval_of(value)}); funcgrad differentiates complex functions only through "
            "primitives whose rules follow JAX's convention for complex numbers"
            + user_location())


def _take_cotangents(outs: Sequence[Any]) -> list[Any] | None:
    """The cotangents gathered at a MultiNode's outputs (zeros where an output got none,
    None for integer outputs), or None if none got any."""
    cts: list[Any] = []
    found = False
    for o in outs:
        if type(o) is VJPTracer:
            found = found or o.ct is not None
            cts.append(np.zeros(o.shape, o.dtype) if o.ct is None else o.ct)
            o.ct = None
        else:
            cts.append(None)
    return cts if found else None


def _send(prim: Primitive, node: VJPTracer | MultiNode, argnum: int, parent: VJPTracer,
          c: Any) -> None:
    """Add a rule's cotangent for argument `argnum` to that argument, after checking it."""
    if c is None:
        return
    if checking_nans():
        check_finite(prim, node.args, node.params, c, vjp_of_arg=argnum)
    if c.dtype.kind == "c":
        _check_complex(prim, c)  # a complex input of a rule written for reals
    if c.shape != parent.shape or c.dtype != parent.dtype:
        raise TypeError(
            f"the VJP rule of '{prim.name}' for argument {argnum} returned a cotangent "
            f"{short_dtype(c.dtype)}{list(c.shape)}, but the argument is "
            f"{short_dtype(parent.dtype)}{list(parent.shape)}")
    parent.ct = c if parent.ct is None else parent.ct + c


def substitute(seq: Sequence[Any], positions: Sequence[int], values: Iterable[Any]) -> list[Any]:
    """A copy of seq with the items at `positions` replaced by `values`, in order."""
    out = list(seq)
    for i, v in zip(positions, values):
        out[i] = v
    return out


def _unwrap(trace: VJPTrace, x: Any) -> Any:
    """The primal of this trace's tracer; other values pass unchanged."""
    return x.primal if type(x) is VJPTracer and x._trace is trace else x


def _split_aux(out: Any, fname: str) -> tuple[Any, Any]:
    if not (isinstance(out, tuple) and len(out) == 2):
        kind = f"a tuple of length {len(out)}" if isinstance(out, tuple) else type(out).__name__
        raise TypeError(
            f"with has_aux=True, {fname} must return a pair (output, aux), but it returned "
            f"{kind}"
        )
    return out


def _fname(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", repr(f))


def vjp(f: Callable[..., Any], *primals: Any,
        has_aux: bool = False) -> Any:
    """Return (f(*primals), vjp_fn) (and aux if has_aux): vjp_fn maps output cotangents to input cotangents."""
    out, aux, pullback = _vjp(f, primals, {}, range(len(primals)), has_aux, keep_tape=True)
    if has_aux:
        return out, pullback, aux
    return out, pullback


def _vjp(f: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any],
         argnums: Sequence[int], has_aux: bool, keep_tape: bool, floats_only: bool = False
         ) -> tuple[Any, Any, Callable[[Any], tuple[Any, ...]]]:
    """Trace f with the arguments at `argnums` differentiable; the shared core of vjp and grad.

    Integer and bool leaves are passed through undifferentiated, or, with floats_only
    (grad), rejected.
    """
    diff_args = [args[i] for i in argnums]
    leaves, in_tree = tree.flatten(diff_args)
    with new_trace(VJPTrace) as trace:
        inputs: list[Any] = []
        for x in leaves:
            x = x if isinstance(x, (Tracer, np.ndarray)) else np.asarray(x)
            if differentiable(x.dtype):
                inputs.append(trace.new_input(x))
            elif floats_only:
                _reject_integer_args(args, argnums, _fname(f))
            else:
                inputs.append(x)
        diff_trees = tree.unflatten(in_tree, inputs)
        out = f(*substitute(args, argnums, diff_trees), **kwargs)
        aux = None
        if has_aux:
            out, aux = _split_aux(out, _fname(f))
            aux_leaves, aux_tree = tree.flatten(aux)
            aux_leaves = [_unwrap(trace, x) for x in aux_leaves]
        out_leaves, out_tree = tree.flatten(out)
    # Results are arrays the caller owns: never one of their own arguments, nor read-only;
    # numpy scalars become 0-d arrays, as under jit.
    out_primals = unaliased([_unwrap(trace, x) for x in out_leaves], [*leaves, *args])
    if has_aux:
        aux = tree.unflatten(aux_tree, unaliased(aux_leaves, [*leaves, *args, *out_primals]))

    def pullback(cotangent: Any) -> tuple[Any, ...]:
        ct_leaves, ct_tree = tree.flatten(cotangent)
        if ct_tree != out_tree:
            raise ValueError(
                f"vjp function of {_fname(f)}: the cotangent must have the structure of the "
                f"output, {out_tree}, but has {ct_tree}"
            )
        outputs = []
        for i, (o, c) in enumerate(zip(out_primals, ct_leaves)):
            (c_shape, c_dtype), (o_shape, o_dtype) = aval_of(c), aval_of(o)
            if c_shape != o_shape or c_dtype != o_dtype:
                raise ValueError(
                    f"vjp function of {_fname(f)}: cotangent {i} is "
                    f"{short_dtype(c_dtype)}{list(c_shape)} but the output it belongs to is "
                    f"{short_dtype(o_dtype)}{list(o_shape)}; they must match"
                )
            t = out_leaves[i]
            if type(t) is VJPTracer and t._trace is trace:
                outputs.append((t, c))
        grads = trace.backward(outputs, inputs, keep_tape)
        return tuple(tree.unflatten(in_tree, unaliased(grads, leaves + ct_leaves)))

    return tree.unflatten(out_tree, out_primals), aux, pullback


def _check_argnums(argnums: int | Sequence[int], nargs: int, fname: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise ValueError(
                f"argnums={argnums!r} asks for argument {n} of {fname}, but it was called with "
                f"{nargs} positional argument{'s' if nargs != 1 else ''}"
            )
    return tuple(n % nargs for n in nums)


def _reject_integer_args(args: Sequence[Any], argnums: Sequence[int], fname: str) -> None:
    for n in argnums:
        for leaf in tree.leaves(args[n]):
            dtype = aval_of(leaf).dtype
            if not differentiable(dtype):
                raise TypeError(
                    f"grad of {fname} with respect to argument {n} (argnums): it has dtype "
                    f"{dtype.name}, but gradients need floating-point inputs. Pass a float "
                    f"array (e.g. x.astype(float)), or leave the argument out of argnums."
                )


def _check_scalar(out: Any, fname: str, has_aux: bool, holomorphic: bool) -> None:
    if isinstance(out, (tuple, list)) and not has_aux:
        raise TypeError(
            f"grad of {fname}: the function must return a scalar, but it returned a "
            f"{type(out).__name__} of {len(out)} values. If the extra values are auxiliary "
            "data, use grad(..., has_aux=True) and return (loss, aux)."
        )
    shape, dtype = aval_of(out)
    if shape != ():
        raise TypeError(
            f"grad of {fname}: the function must return a scalar, but the output has shape "
            f"{shape}. Reduce it (e.g. .sum() or .mean()), or use vjp or jacrev for "
            "non-scalar outputs."
        )
    if not differentiable(dtype):
        raise TypeError(f"grad of {fname}: the output has dtype {dtype.name}; it must be float")
    if dtype.kind == "c" and not holomorphic:
        raise TypeError(
            f"grad of {fname}: the output is complex ({dtype.name}). grad differentiates "
            "real-valued functions (of real or complex inputs); for a holomorphic function "
            "pass holomorphic=True to get its complex derivative, or use vjp.")


@overload
def value_and_grad(f: Callable[P, ArrayLike], argnums: int | Sequence[int] = 0,
                   has_aux: Literal[False] = False, holomorphic: bool = False
                   ) -> Callable[P, tuple[Array, Any]]: ...
@overload
def value_and_grad(f: Callable[P, tuple[ArrayLike, Any]], argnums: int | Sequence[int],
                   has_aux: Literal[True], holomorphic: bool = False
                   ) -> Callable[P, tuple[tuple[Array, Any], Any]]: ...
@overload
def value_and_grad(f: Callable[P, tuple[ArrayLike, Any]], argnums: int | Sequence[int] = 0,
                   *, has_aux: Literal[True], holomorphic: bool = False
                   ) -> Callable[P, tuple[tuple[Array, Any], Any]]: ...


def value_and_grad(f: Callable[P, Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, holomorphic: bool = False
                   ) -> Callable[P, tuple[Any, Any]]:
    """Return a function computing (f(*args), gradient of f) ((value, aux), grad with has_aux).

    The value is a 0-d array (also where f returns a Python or numpy scalar), the gradient
    has the structure of the argument(s) at argnums. holomorphic=True, as in JAX: f maps
    complex inputs to a complex output and the result is its complex derivative f'(z).
    """
    return _value_and_grad(f, argnums, has_aux, holomorphic)


def _value_and_grad(f: Callable[P, Any], argnums: int | Sequence[int], has_aux: bool,
                    holomorphic: bool) -> Callable[P, tuple[Any, Any]]:
    """value_and_grad, for any has_aux (the public function's overloads need a literal)."""
    fname = _fname(f)

    @functools.wraps(f)
    def value_and_grad_f(*args: P.args, **kwargs: P.kwargs) -> tuple[Any, Any]:
        nums = _check_argnums(argnums, len(args), fname)
        if holomorphic:
            for n in nums:
                for leaf in tree.leaves(args[n]):
                    if aval_of(leaf).dtype.kind != "c":
                        raise TypeError(
                            f"grad of {fname} with holomorphic=True: argument {n} has dtype "
                            f"{aval_of(leaf).dtype.name}; holomorphic functions take complex "
                            "inputs (e.g. x.astype(complex))")
        out, aux, pullback = _vjp(f, args, kwargs, nums, has_aux, keep_tape=False,
                                  floats_only=True)
        _check_scalar(out, fname, has_aux, holomorphic)
        grads = pullback(np.ones((), aval_of(out).dtype))
        g = grads[0] if isinstance(argnums, int) else grads
        # A Python number returned by f becomes a 0-d array too, as under jit.
        value = out if isinstance(out, Tracer) else np.asarray(out)
        return ((value, aux) if has_aux else value), g

    return value_and_grad_f


@overload
def grad(f: Callable[P, ArrayLike], argnums: int | Sequence[int] = 0,
         has_aux: Literal[False] = False, holomorphic: bool = False) -> Callable[P, Any]: ...
@overload
def grad(f: Callable[P, tuple[ArrayLike, Any]], argnums: int | Sequence[int],
         has_aux: Literal[True], holomorphic: bool = False) -> Callable[P, tuple[Any, Any]]: ...
@overload
def grad(f: Callable[P, tuple[ArrayLike, Any]], argnums: int | Sequence[int] = 0,
         *, has_aux: Literal[True], holomorphic: bool = False
         ) -> Callable[P, tuple[Any, Any]]: ...


def grad(f: Callable[P, Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False, holomorphic: bool = False) -> Callable[P, Any]:
    """Return a function computing the gradient of scalar-valued f (and aux with has_aux;
    holomorphic=True for the complex derivative of a holomorphic f)."""
    vg = _value_and_grad(f, argnums, has_aux, holomorphic)

    @functools.wraps(f)
    def grad_f(*args: P.args, **kwargs: P.kwargs) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return grad_f


def vjp_graph(graph: Graph[Any], diff: Sequence[bool]) -> tuple[Graph[Any], Graph[Any]]:
    """Split the reverse mode of a closed graph into a forward and a backward graph.

    forward: the graph's inputs -> its outputs, then the residuals;
    backward: the residuals, then one cotangent per output -> one cotangent per input
    marked in `diff`. Both come from one trace of vjp over the graph, with the output
    cotangents as extra inputs, cut where values start to depend on the cotangents: what
    the backward pass can compute from the inputs alone moves into the forward graph
    (JAX's partial evaluation, done on the traced graph).
    """
    n = len(graph.invars)
    positions = [i for i, d in enumerate(diff) if d]

    def joint(*xs: Any) -> list[Any]:
        args, cts = xs[:n], list(xs[n:])

        def f(*d: Any) -> list[Any]:
            return graph.evaluate(substitute(args, positions, d))

        outs, pullback = vjp(f, *(args[i] for i in positions))
        return [*outs, *pullback(cts)]

    whole = trace_avals(joint, [*graph.in_avals, *graph.out_avals])
    known: set[Var] = set(whole.invars[:n]) | set(whole.constvars)
    fwd_eqns, bwd_eqns = [], []
    for eqn in whole.eqns:
        if all(isinstance(a, Constant) or a in known for a in eqn.inputs):
            fwd_eqns.append(eqn)
            known.update(eqn.outvars)
        else:
            bwd_eqns.append(eqn)
    n_out = len(graph.outvars)
    ct_outs = whole.outvars[n_out:]
    # Residuals: values of the forward part that the backward part reads (constants
    # excepted, which both graphs hold).
    residuals: dict[Var, None] = {}
    for a in [a for eqn in bwd_eqns for a in eqn.inputs] + ct_outs:
        if isinstance(a, Var) and a in known and a not in whole.constvars:
            residuals[a] = None
    flat = tree.structure
    fwd = whole.replace(invars=whole.invars[:n], eqns=fwd_eqns,
                        outvars=[*whole.outvars[:n_out], *residuals],
                        in_tree=flat([0] * n), out_tree=flat([0] * (n_out + len(residuals))))
    bwd_in = [*residuals, *whole.invars[n:]]
    bwd = whole.replace(invars=bwd_in, eqns=bwd_eqns, outvars=ct_outs,
                        in_tree=flat([0] * len(bwd_in)), out_tree=flat([0] * len(ct_outs)))
    return fwd, bwd


# ---------------------------------------------------------------------------- forward mode


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
        ) -> tuple[Any, Any]:
    """Return (f(*primals), J @ tangents): the Jacobian-vector product, over pytrees.

    Derived from the VJP rules, exactly: the pullback u -> J^T u is linear, so its own VJP
    applied to the tangents is J @ tangents. This costs a second backward pass instead of
    a JVP rule per primitive, and inherits every VJP rule's correctness.
    """
    for what, seq in (("primals", primals), ("tangents", tangents)):
        if not isinstance(seq, (tuple, list)):
            raise TypeError(f"jvp: {what} must be a tuple or list with one entry per argument "
                            f"of {_fname(f)}, got {type(seq).__name__}; write (x,) for one")
    primals, tangents = tuple(primals), tuple(tangents)
    p_leaves, p_tree = tree.flatten(primals)
    t_leaves, t_tree = tree.flatten(tangents)
    if p_tree != t_tree:
        raise ValueError(f"jvp: tangents must have the structure of the primals, {p_tree}, "
                         f"but have {t_tree}")
    for i, (p, t) in enumerate(zip(p_leaves, t_leaves)):
        if aval_of(p) != aval_of(t):
            raise ValueError(f"jvp: tangent {i} is {aval_of(t)} but its primal is {aval_of(p)}")
    out, pullback = vjp(f, *primals)
    zeros = tree.map(lambda o: np.zeros(aval_of(o).shape, aval_of(o).dtype), out)
    _, transpose = vjp(pullback, zeros)
    (tangent_out,) = transpose(tangents)
    return out, tangent_out


def linearize(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """Return (f(*primals), f_jvp) where f_jvp(*tangents) is the Jacobian-vector product."""
    out, pullback = vjp(f, *primals)
    zeros = tree.map(lambda o: np.zeros(aval_of(o).shape, aval_of(o).dtype), out)
    _, transpose = vjp(pullback, zeros)
    return out, lambda *tangents: transpose(tangents)[0]


def _basis(leaves: Sequence[Any]) -> list[Any]:
    """Rows of the identity over all leaves together, split per leaf: leaf i gets (n, *shape_i)."""
    sizes = [math.prod(aval_of(x).shape) for x in leaves]
    n = sum(sizes)
    dtype = np.result_type(*(aval_of(x).dtype for x in leaves)) if leaves else np.float64
    eye = np.eye(n, dtype=dtype)
    out, start = [], 0
    for x, size in zip(leaves, sizes):
        out.append(eye[:, start:start + size].reshape((n, *aval_of(x).shape)))
        start += size
    return out


def _split_rows(stacked: Any, leaves: Sequence[Any], inner_shape: tuple[int, ...],
                outer_first: bool) -> list[Any]:
    """Split an (n, ...) stack of Jacobian rows by the leaves that index n."""
    out, start = [], 0
    for x in leaves:
        shape = aval_of(x).shape
        size = math.prod(shape)
        block = fnp.getitem(stacked, slice(start, start + size)) if len(leaves) > 1 else stacked
        block = fnp.reshape(block, (*shape, *inner_shape))
        if not outer_first:  # (*in_shape, *out_shape) -> (*out_shape, *in_shape)
            nd = len(shape)
            block = fnp.transpose(block, (*range(nd, nd + len(inner_shape)), *range(nd)))
        out.append(block)
        start += size
    return out


def _with_argnums(f: Callable[..., Any], args: Sequence[Any], argnums: int | Sequence[int]
                  ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    nums = _check_argnums(argnums, len(args), _fname(f))

    def of_diff(*diff: Any) -> Any:
        return f(*substitute(args, nums, diff))

    return of_diff, tuple(args[i] for i in nums)


def _jacobian_tree(rows_by_out: list[list[Any]], out_tree: tree.TreeDef, in_tree: tree.TreeDef,
                   single_arg: bool) -> Any:
    """Nest per-(output leaf, input leaf) blocks: outer structure the output's, inner the input's."""
    per_out = [tree.unflatten(in_tree, blocks) for blocks in rows_by_out]
    per_out = [p[0] if single_arg else p for p in per_out]
    return tree.unflatten(out_tree, per_out)


def jacrev(f: Callable[P, Any], argnums: int | Sequence[int] = 0) -> Callable[P, Any]:
    """The Jacobian of f by reverse mode: one vmapped pullback over the output's basis.

    Shapes as in JAX: each block is (*output_shape, *input_shape); for pytrees, the outer
    structure is the output's and the inner the input's.
    """
    @functools.wraps(f)
    def jac(*args: P.args, **kwargs: P.kwargs) -> Any:
        g, diff = _with_argnums(functools.partial(f, **kwargs), args, argnums)
        out, pullback = vjp(g, *diff)
        out_leaves, out_tree = tree.flatten(out)
        in_leaves, in_tree = tree.flatten(diff)
        basis = tree.unflatten(out_tree, _basis(out_leaves))
        rows = vmap(pullback)(basis)  # per input leaf: (n_out, *in_shape)
        row_leaves = tree.leaves(rows)
        blocks = [_split_rows(r, out_leaves, aval_of(x).shape, outer_first=True)
                  for r, x in zip(row_leaves, in_leaves)]
        by_out = [[blocks[j][i] for j in range(len(in_leaves))] for i in range(len(out_leaves))]
        return _jacobian_tree(by_out, out_tree, in_tree, isinstance(argnums, int))

    return jac


def jacfwd(f: Callable[P, Any], argnums: int | Sequence[int] = 0) -> Callable[P, Any]:
    """The Jacobian of f by forward mode: one vmapped JVP over the input's basis."""
    @functools.wraps(f)
    def jac(*args: P.args, **kwargs: P.kwargs) -> Any:
        g, diff = _with_argnums(functools.partial(f, **kwargs), args, argnums)
        in_leaves, in_tree = tree.flatten(diff)
        basis = tree.unflatten(in_tree, _basis(in_leaves))
        out, lin = linearize(g, *diff)
        cols = vmap(lambda *t: lin(*t))(*basis)  # per output leaf: (n_in, *out_shape)
        out_leaves, out_tree = tree.flatten(out)
        col_leaves = tree.leaves(cols)
        blocks = [_split_rows(c, in_leaves, aval_of(o).shape, outer_first=False)
                  for c, o in zip(col_leaves, out_leaves)]
        return _jacobian_tree(blocks, out_tree, in_tree, isinstance(argnums, int))

    return jac


def hessian(f: Callable[P, Any], argnums: int | Sequence[int] = 0) -> Callable[P, Any]:
    """The Hessian of scalar f: jacfwd(jacrev(f)), shape (*input_shape, *input_shape)."""
    return jacfwd(jacrev(f, argnums), argnums)
