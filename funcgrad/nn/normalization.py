"""Normalisation: the batch_norm function and primitive, and the layers BatchNorm (with
running statistics as state) and LayerNorm.

Both normalise x to zero mean and unit variance (the biased variance, dividing by the
count, as PyTorch and JAX) and then apply a learned per-feature `scale` and `offset`.

Batch normalisation is one primitive, `batch_norm` (x, scale, offset -> y, mean, var),
whose VJP is the primitive `batch_norm_grad` (the closed form, see nn.norm_kernels): two
passes over the data each way instead of the twenty or so of the formula's autodiff. The
formula written with funcgrad.numpy (`batch_norm_reference`, and the same for the
gradient) is what the kernels are tested against, and gives `batch_norm_grad` its own
derivatives (for second order), run only then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import numpy as fnp
from funcgrad.autodiff import substitute, vjp
from funcgrad.core import Array, ArrayLike, Backward, Primitive, ShapedArray, Tracer, aval_of
from funcgrad.nn import norm_kernels
from funcgrad.nn.layers import Layer, Params, Shape, State, layer_error, normalized_axes
from funcgrad.primitives.base import move_to_front

Axes = tuple[int, ...]


def _count(shape: Sequence[int], axes: Axes) -> int:
    return math.prod(shape[i] for i in axes)


def _affine(params: Params, x: Any, mean: Any, var: Any, epsilon: float, shape: Shape
            ) -> Array:
    """(x - mean) / sqrt(var + epsilon) * scale + offset, scale and offset in `shape`."""
    scale = fnp.divide(fnp.reshape(params["scale"], shape), fnp.sqrt(fnp.add(var, epsilon)))
    return fnp.add(fnp.multiply(fnp.subtract(x, mean), scale),
                   fnp.reshape(params["offset"], shape))


def _moments(x: Any, axes: tuple[int, ...]) -> tuple[Array, Array]:
    """x's mean and biased variance over axes, with those axes kept (of size 1)."""
    mean = fnp.mean(x, axis=axes, keepdims=True)
    return mean, fnp.mean(fnp.square(fnp.subtract(x, mean)), axis=axes, keepdims=True)


def batch_norm_reference(x: Any, scale: Any, offset: Any, *, axes: Axes, epsilon: float
                         ) -> tuple[Array, Array, Array]:
    """batch_norm's (y, mean, var) as funcgrad.numpy formulas (slow; for tests)."""
    kept = norm_kernels.kept_shape(fnp.shape(x), axes)
    mean, var = _moments(x, axes)
    y = _affine({"scale": scale, "offset": offset}, x, mean, var, epsilon, kept)
    stat_shape = fnp.shape(scale)
    return y, fnp.reshape(mean, stat_shape), fnp.reshape(var, stat_shape)


def batch_norm_grad_reference(x: Any, scale: Any, mean: Any, var: Any, dy: Any, *, axes: Axes,
                              epsilon: float) -> tuple[Array, Array, Array]:
    """batch_norm_grad's (dx, dscale, doffset) as funcgrad.numpy formulas (the closed form
    of nn.norm_kernels), differentiable again."""
    kept, n = norm_kernels.kept_shape(fnp.shape(x), axes), _count(fnp.shape(x), axes)
    r = fnp.divide(1.0, fnp.sqrt(fnp.add(var, epsilon)))
    d = fnp.subtract(x, fnp.reshape(mean, kept))
    doffset = fnp.sum(dy, axis=axes)
    dy_d = fnp.sum(fnp.multiply(dy, d), axis=axes)
    sr = fnp.multiply(scale, r)
    dx = fnp.subtract(
        fnp.subtract(fnp.multiply(dy, fnp.reshape(sr, kept)),
                     fnp.reshape(fnp.multiply(sr, fnp.divide(doffset, n)), kept)),
        fnp.multiply(d, fnp.reshape(fnp.multiply(fnp.multiply(sr, fnp.square(r)),
                                                 fnp.divide(dy_d, n)), kept)))
    return dx, fnp.multiply(r, dy_d), doffset


def _shapes(x: Any, scale: Any, *_: Any, **__: Any) -> tuple[ShapedArray, ...]:
    """Both primitives give an array like x, then two like scale, in x's dtype."""
    stat = ShapedArray(scale.shape, np.dtype(x.dtype))
    return ShapedArray(x.shape, np.dtype(x.dtype)), stat, stat


def _nonzero(ct: Any) -> bool:
    # A cotangent autodiff filled in for an unused output is a concrete zero array.
    return ct is not None and (isinstance(ct, Tracer) or bool(np.any(ct)))


def _batch_norm_vjp(diff: Sequence[bool], args: Sequence[Any], params: dict[str, Any]
                    ) -> tuple[Sequence[Any], Backward]:
    x, scale, _ = args
    outs = batch_norm_p.bind_multi(*args, **params)
    mean, var = outs[1], outs[2]

    def backward(cts: Sequence[Any]) -> list[Any]:
        dy, dmean, dvar = cts
        if dy is None:
            dy = np.zeros(fnp.shape(x), aval_of(x).dtype)
        dx, dscale, doffset = batch_norm_grad_p.bind_multi(x, scale, mean, var, dy, **params)
        # The statistics are outputs too: mean's gradient spreads evenly over what it
        # averages, and var's is 2 (x - mean) / n.
        axes, kept = params["axes"], norm_kernels.kept_shape(fnp.shape(x), params["axes"])
        n = _count(fnp.shape(x), axes)
        if _nonzero(dmean):
            dx = fnp.add(dx, fnp.reshape(fnp.divide(dmean, n), kept))
        if _nonzero(dvar):
            dx = fnp.add(dx, fnp.multiply(fnp.subtract(x, fnp.reshape(mean, kept)),
                                          fnp.reshape(fnp.multiply(dvar, 2.0 / n), kept)))
        return [g if d else None for g, d in zip((dx, dscale, doffset), diff)]

    return outs, backward


def _batch_norm_grad_vjp(diff: Sequence[bool], args: Sequence[Any], params: dict[str, Any]
                         ) -> tuple[Sequence[Any], Backward]:
    outs = batch_norm_grad_p.bind_multi(*args, **params)
    positions = [i for i, d in enumerate(diff) if d]

    def backward(cts: Sequence[Any]) -> list[Any]:
        def grad_of(*free: Any) -> tuple[Array, Array, Array]:
            return batch_norm_grad_reference(*substitute(args, positions, free), **params)

        _, pullback = vjp(grad_of, *(args[i] for i in positions))
        full = tuple(np.zeros(fnp.shape(o), aval_of(o).dtype) if c is None else c
                     for c, o in zip(cts, outs))
        return substitute([None] * len(args), positions, pullback(full))

    return outs, backward


def _batch(prim: Primitive, size: int, args: Sequence[Any], batched: Sequence[bool], *,
           axes: Axes, epsilon: float) -> Any:
    """vmap: the vmapped axis leads every operand; the statistics are per example, so it
    is not reduced."""
    moved = [move_to_front(a, size, b) for a, b in zip(args, batched)]
    return prim.bind_multi(*moved, axes=tuple(a + 1 for a in axes), epsilon=epsilon)


batch_norm_p: Primitive = Primitive(
    "batch_norm",
    lambda x, scale, offset, *, axes, epsilon: norm_kernels.batch_norm_forward(
        x, scale, offset, axes, epsilon),
    _shapes, batch=_batch, multiple_results=True, vjp_call=_batch_norm_vjp)
batch_norm_grad_p: Primitive = Primitive(
    "batch_norm_grad",
    lambda x, scale, mean, var, dy, *, axes, epsilon: norm_kernels.batch_norm_backward(
        x, scale, mean, var, dy, axes, epsilon),
    _shapes, batch=_batch, multiple_results=True,
    vjp_call=_batch_norm_grad_vjp)


def batch_norm(x: ArrayLike, scale: ArrayLike, offset: ArrayLike, axis: int | tuple[int, ...] = 1,
               epsilon: float = 1e-5) -> tuple[Array, Array, Array]:
    """(y, mean, var): x normalised with its own statistics over every axis but `axis` (the
    features), times scale plus offset; mean and the biased var have the features' shape."""
    x_shape = fnp.shape(x)
    features = normalized_axes("batch_norm", axis, len(x_shape))
    axes = tuple(i for i in range(len(x_shape)) if i not in features)
    stat_shape = tuple(x_shape[i] for i in features)
    for name, a in (("scale", scale), ("offset", offset)):
        if fnp.shape(a) != stat_shape:
            raise ValueError(f"batch_norm: {name} must have the shape {stat_shape} of x's "
                             f"feature axes {features} (x is {x_shape}), got {fnp.shape(a)}")
    if _count(x_shape, axes) < 1:
        raise ValueError(f"batch_norm: x {x_shape} has no values to take statistics over")
    dtype = np.result_type(aval_of(x).dtype, aval_of(scale).dtype,
                           aval_of(offset).dtype, np.float32)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"batch_norm needs real floating-point arrays, got {dtype}")
    y, mean, var = batch_norm_p.bind_multi(
        *(fnp.astype(a, dtype) for a in (x, scale, offset)), axes=axes, epsilon=float(epsilon))
    return y, mean, var


def _scale_and_offset(size: int | tuple[int, ...], dtype: DTypeLike) -> Params:
    return {"scale": np.ones(size, dtype), "offset": np.zeros(size, dtype)}


def BatchNorm(axis: int = 1, momentum: float = 0.9, epsilon: float = 1e-5,
              dtype: DTypeLike = np.float32) -> Layer:
    """Batch normalisation over every axis but `axis` (the features: channels of NCHW, or
    of NC); params {'scale', 'offset'}, state {'mean', 'var'} (the running statistics).

    Training (train=True) normalises with the batch's statistics; apply_with_state also
    returns the running statistics moved towards them,
    running = momentum * running + (1 - momentum) * batch, with the batch's unbiased
    variance (dividing by count - 1, as PyTorch). Evaluation (train=False) normalises with
    the running statistics, through apply_with_state.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
    name = f"BatchNorm(axis={axis})"

    def feature_axis(shape: Shape, features: int | None) -> int:
        (ax,) = normalized_axes(name, axis, len(shape))
        if features is not None and shape[ax] != features:
            raise layer_error(name, f"got input {tuple(shape)} with {shape[ax]} features on "
                                    f"axis {axis} but was initialised for {features}")
        return ax

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        ax = feature_axis(input_shape, None)
        if input_shape[ax] < 1:
            raise layer_error(name, f"the feature axis {axis} of input shape "
                                    f"{tuple(input_shape)} must have a known size")
        return input_shape, _scale_and_offset(input_shape[ax], dtype)

    def init_state(params: Params) -> State:
        return {"mean": np.zeros_like(params["scale"]), "var": np.ones_like(params["scale"])}

    def normalise(params: Params, x: Any) -> tuple[Array, Array, Array]:
        """batch_norm over every axis but the features, after checking the features."""
        feature_axis(fnp.shape(x), fnp.shape(params["scale"])[0])
        return batch_norm(x, params["scale"], params["offset"], axis, epsilon)

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Array:
        if not train:
            raise ValueError(f"{name}: evaluation (train=False) normalises with the running "
                             "statistics, which are state: use layer.apply_with_state(params, "
                             "state, x, train=False), with the state returned by training "
                             "(or layer.init_state(params))")
        return normalise(params, x)[0]

    def stateful_apply(params: Params, state: State, x: Any, *, key: Array | None = None,
                       train: bool = True) -> tuple[Array, State]:
        shape = fnp.shape(x)
        ax = feature_axis(shape, fnp.shape(params["scale"])[0])
        if not train:
            features = tuple(n if i == ax else 1 for i, n in enumerate(shape))
            return _affine(params, x, fnp.reshape(state["mean"], features),
                           fnp.reshape(state["var"], features), epsilon, features), state
        count = math.prod(shape) // shape[ax]
        if count < 2:
            raise layer_error(name, f"training needs more than one value per feature for the "
                                    f"batch variance, got input {shape}")
        y, mean, var = normalise(params, x)

        def moved(running: Any, batch: Array) -> Array:
            # The state is not differentiated: the batch statistics enter it as constants.
            new = fnp.add(fnp.multiply(running, momentum),
                          fnp.multiply(fnp.stop_gradient(batch), 1.0 - momentum))
            return fnp.astype(new, running.dtype)

        new_state = {"mean": moved(state["mean"], mean),
                     "var": moved(state["var"], fnp.multiply(var, count / (count - 1)))}
        return y, new_state

    return Layer(init, apply, init_state, stateful_apply)


def LayerNorm(axis: int | tuple[int, ...] = -1, epsilon: float = 1e-5,
              dtype: DTypeLike = np.float32) -> Layer:
    """Normalisation of each example over `axis` (the last by default, or a tuple of axes);
    params {'scale', 'offset'} of the normalised axes' shape."""
    name = f"LayerNorm(axis={axis})"

    def axes_and_sizes(shape: Shape) -> tuple[tuple[int, ...], Shape]:
        axes = normalized_axes(name, axis, len(shape))
        return axes, tuple(shape[a] for a in axes)

    def init(key: Array, input_shape: Shape) -> tuple[Shape, Params]:
        axes, sizes = axes_and_sizes(input_shape)
        if any(n < 1 for n in sizes):
            raise layer_error(name, f"the normalised axes of input shape {tuple(input_shape)} "
                                    "must have known sizes")
        return input_shape, _scale_and_offset(sizes, dtype)

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Array:
        shape = fnp.shape(x)
        axes, sizes = axes_and_sizes(shape)
        if sizes != fnp.shape(params["scale"]):
            raise layer_error(name, f"got input {shape}, with {sizes} on the normalised axes, "
                                    f"but was initialised for {fnp.shape(params['scale'])}")
        mean, var = _moments(x, axes)
        params_shape = tuple(n if i in axes else 1 for i, n in enumerate(shape))
        return _affine(params, x, mean, var, epsilon, params_shape)

    return Layer(init, apply)
