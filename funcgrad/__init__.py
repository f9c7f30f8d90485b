"""funcgrad: trace pure numpy-style functions into a graph and transform them (grad, vjp, jvp,
vmap, jit)."""

from funcgrad import lax, numpy, random, scipy, tree
from funcgrad.autodiff import (grad, hessian, jacfwd, jacrev, jvp, linearize, value_and_grad,
                               vjp)
from funcgrad.batching import vmap
from funcgrad.config import config, debug_nans
from funcgrad.core import (Array, ArrayLike, ConcretizationError, ImmutableArrayError,
                           LeakedTracerError, Primitive, ShapedArray, ShapeError, Tracer)
from funcgrad.custom import checkpoint, custom_jvp, custom_vjp
from funcgrad.explain import Explanation, explain
from funcgrad.graph import Graph, make_graph
from funcgrad.jit import jit
from funcgrad.numpy import stop_gradient

__all__ = [
    "Array", "ArrayLike", "ConcretizationError", "Explanation", "Graph", "ImmutableArrayError",
    "LeakedTracerError", "Primitive", "ShapeError", "ShapedArray", "Tracer", "checkpoint",
    "config", "custom_jvp", "custom_vjp", "debug_nans", "explain", "grad", "hessian", "jacfwd", "jacrev",
    "jit", "jvp", "lax", "linearize", "make_graph", "numpy", "random", "scipy", "stop_gradient",
    "tree",
    "value_and_grad", "vjp", "vmap",
]
