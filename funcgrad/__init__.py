"""funcgrad: trace pure numpy-style functions into a graph and transform them (grad, vjp)."""

from funcgrad import numpy, tree
from funcgrad.autodiff import (grad, hessian, jacfwd, jacrev, jvp, linearize, value_and_grad,
                               vjp)
from funcgrad.batching import vmap
from funcgrad.config import config, debug_nans
from funcgrad.custom import checkpoint, custom_vjp
from funcgrad.core import (ConcretizationError, ImmutableArrayError, LeakedTracerError,
                           Primitive, ShapedArray, ShapeError, Tracer)
from funcgrad.graph import Graph, make_graph
from funcgrad.jit import jit
from funcgrad.numpy import Array, ArrayLike, stop_gradient

__all__ = [
    "Array", "ArrayLike", "ConcretizationError", "Graph", "ImmutableArrayError",
    "LeakedTracerError", "Primitive", "ShapeError", "ShapedArray", "Tracer", "checkpoint", "config", "custom_vjp", "debug_nans", "grad", "hessian", "jacfwd", "jacrev", "jvp", "linearize",
    "jit", "make_graph", "numpy", "stop_gradient", "tree", "value_and_grad", "vjp", "vmap",
]
