"""Layers made of layers: serial and parallel, and the fan-out/fan-in layers between them.

A combinator's params and state are the tuples of its layers' params and states, and a key
given to it is split among its layers (funcgrad.random.split), so each random layer draws
its own numbers. A shape error inside a layer is re-raised naming the layer's index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from funcgrad import numpy as fnp
from funcgrad import random
from funcgrad.core import Array, ShapeError
from funcgrad.nn.layers import Layer, Params, ShapeTree, State, layer_error


@contextmanager
def _at(combinator: str, index: int, count: int) -> Iterator[None]:
    """Prefixes a shape error raised inside layer `index` with where it happened."""
    try:
        yield
    except ShapeError as e:
        raise ShapeError(f"{combinator}: layers[{index}] (of {count}): {e}") from e


def _keys(key: Array | None, count: int) -> list[Array | None]:
    if key is None:
        return [None] * count
    keys = random.split(key, count)
    return [keys[i] for i in range(count)]


def _check_count(combinator: str, layers: Sequence[Layer], what: str, values: Any) -> None:
    if len(values) != len(layers):
        raise ValueError(f"{combinator}: {len(layers)} layers but {what} for {len(values)}")


def _init_states(combinator: str, layers: Sequence[Layer]) -> Callable[[Params], State]:
    """init_state of a combinator: the tuple of its layers' initial states."""
    def init_state(params: Params) -> State:
        _check_count(combinator, layers, "params", params)
        return tuple(layer.init_state(p) for layer, p in zip(layers, params))
    return init_state


def serial(*layers: Layer) -> Layer:
    """Layers applied one after another; params and state are tuples, one entry per layer."""
    count = len(layers)

    def init(key: Array, input_shape: ShapeTree) -> tuple[ShapeTree, Params]:
        params = []
        for i, (layer, layer_key) in enumerate(zip(layers, random.split(key, count))):
            with _at("serial", i, count):
                input_shape, p = layer.init(layer_key, input_shape)
            params.append(p)
        return input_shape, tuple(params)

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Any:
        _check_count("serial", layers, "params", params)
        for i, (layer, p, k) in enumerate(zip(layers, params, _keys(key, count))):
            with _at("serial", i, count):
                x = layer.apply(p, x, key=k, train=train)
        return x

    def stateful_apply(params: Params, state: State, x: Any, *, key: Array | None = None,
                       train: bool = True) -> tuple[Any, State]:
        _check_count("serial", layers, "params", params)
        _check_count("serial", layers, "states", state)
        new_state = []
        for i, (layer, p, s, k) in enumerate(zip(layers, params, state, _keys(key, count))):
            with _at("serial", i, count):
                x, s = layer.apply_with_state(p, s, x, key=k, train=train)
            new_state.append(s)
        return x, tuple(new_state)

    return Layer(init, apply, _init_states("serial", layers), stateful_apply)


def parallel(*layers: Layer) -> Layer:
    """Layer i applied to input i of a tuple of inputs, giving a tuple of outputs (after
    FanOut, before FanInSum or FanInConcat); params and state are tuples, one per layer."""
    count = len(layers)

    def init(key: Array, input_shape: ShapeTree) -> tuple[ShapeTree, Params]:
        _check_count("parallel", layers, "input shapes", input_shape)
        shapes, params = [], []
        for i, (layer, layer_key, shape) in enumerate(
                zip(layers, random.split(key, count), input_shape)):
            with _at("parallel", i, count):
                out, p = layer.init(layer_key, shape)
            shapes.append(out)
            params.append(p)
        return tuple(shapes), tuple(params)

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Any:
        _check_count("parallel", layers, "params", params)
        _check_count("parallel", layers, "inputs", x)
        outs = []
        for i, (layer, p, xi, k) in enumerate(zip(layers, params, x, _keys(key, count))):
            with _at("parallel", i, count):
                outs.append(layer.apply(p, xi, key=k, train=train))
        return tuple(outs)

    def stateful_apply(params: Params, state: State, x: Any, *, key: Array | None = None,
                       train: bool = True) -> tuple[Any, State]:
        _check_count("parallel", layers, "params", params)
        _check_count("parallel", layers, "states", state)
        _check_count("parallel", layers, "inputs", x)
        outs, new_state = [], []
        for i, (layer, p, s, xi, k) in enumerate(
                zip(layers, params, state, x, _keys(key, count))):
            with _at("parallel", i, count):
                out, s = layer.apply_with_state(p, s, xi, key=k, train=train)
            outs.append(out)
            new_state.append(s)
        return tuple(outs), tuple(new_state)

    return Layer(init, apply, _init_states("parallel", layers), stateful_apply)


def FanOut(n: int) -> Layer:
    """n references to the input, as a tuple (to feed parallel)."""
    if n < 1:
        raise ValueError(f"FanOut: n must be at least 1, got {n!r}")

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Any:
        return (x,) * n

    return Layer(lambda key, input_shape: ((input_shape,) * n, ()), apply)


def _same_dims(a: int, b: int) -> bool:
    return a == b or -1 in (a, b)  # -1: any batch size


def _listed(shapes: Sequence[Sequence[int]]) -> str:
    return ", ".join(str(tuple(s)) for s in shapes)


def _check_inputs(name: str, shapes: Sequence[Sequence[int]], skip_axis: int | None) -> None:
    """All shapes equal (apart from skip_axis), else an error naming the layer and them."""
    first = tuple(shapes[0])
    for shape in shapes[1:]:
        if len(shape) != len(first) or not all(
                _same_dims(a, b) for i, (a, b) in enumerate(zip(first, shape))
                if i != skip_axis):
            what = "equal shapes" if skip_axis is None else \
                f"shapes equal but along axis {skip_axis}"
            raise layer_error(name, f"needs inputs of {what}, got {_listed(shapes)}")


def _inputs(name: str, shapes: Sequence[Sequence[int]]) -> Sequence[Sequence[int]]:
    if not shapes or not all(isinstance(s, (tuple, list)) for s in shapes):
        raise layer_error(name, f"needs a tuple of inputs (from FanOut or parallel), got "
                                f"{shapes!r}")
    return shapes


def _input_shapes(name: str, x: Any) -> Sequence[Sequence[int]]:
    if not isinstance(x, (tuple, list)):
        raise layer_error(name, f"needs a tuple of inputs (from FanOut or parallel), got one "
                                f"array of shape {fnp.shape(x)}")
    return _inputs(name, [fnp.shape(xi) for xi in x])


def _fan_in_sum_init(key: Array, input_shape: ShapeTree) -> tuple[ShapeTree, Params]:
    _check_inputs("FanInSum", _inputs("FanInSum", input_shape), None)
    return tuple(input_shape[0]), ()


def _fan_in_sum(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Any:
    _check_inputs("FanInSum", _input_shapes("FanInSum", x), None)
    total = x[0]
    for xi in x[1:]:
        total = fnp.add(total, xi)
    return total


FanInSum = Layer(_fan_in_sum_init, _fan_in_sum)
"""The sum of a tuple of inputs of equal shapes."""


def FanInConcat(axis: int = 1) -> Layer:
    """A tuple of inputs concatenated along axis (channels of NCHW or NC by default)."""
    name = f"FanInConcat(axis={axis})"

    def checked_axis(shapes: Sequence[Sequence[int]]) -> int:
        ndim = len(_inputs(name, shapes)[0])
        if not -ndim <= axis < ndim:
            raise layer_error(name, f"axis {axis} is out of range for inputs of shapes "
                                    f"{_listed(shapes)}")
        _check_inputs(name, shapes, axis % ndim)
        return axis % ndim

    def init(key: Array, input_shape: ShapeTree) -> tuple[ShapeTree, Params]:
        ax = checked_axis(input_shape)
        sizes = [s[ax] for s in input_shape]
        out = list(input_shape[0])
        out[ax] = -1 if -1 in sizes else sum(sizes)
        return tuple(out), ()

    def apply(params: Params, x: Any, *, key: Array | None = None, train: bool = True) -> Array:
        return fnp.concatenate(x, axis=checked_axis(_input_shapes(name, x)))

    return Layer(init, apply)
