"""The import ladder: each module of funcgrad imports only modules below it.

The core (core.py, graph.py) knows nothing of the numpy layer or the primitives, not even
for types or inside functions: the numpy layer installs the Tracer's operators and methods
when it is imported. Read from the source, so imports inside functions and under
TYPE_CHECKING count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import funcgrad
from funcgrad.core import Tracer
from funcgrad.numpy import TABLE

PACKAGE = Path(funcgrad.__file__).parent

# Lower rungs first. A module may import modules of lower rungs only; within a rung, the
# primitives (funcgrad.primitives) and the numpy layer import each other (the VJP rules are
# written with funcgrad.numpy, which binds the primitives), and nothing else is mutual.
PRIMITIVES_AND_NUMPY = {"primitives", "primitives.base", "primitives.elementwise",
                        "primitives.indexing", "primitives.shapes", "primitives.reductions",
                        "primitives.contractions", "primitives.linalg", "primitives.fft", "numpy",
                        "numpy._table", "numpy.elementwise", "numpy.shapes", "numpy.creation",
                        "numpy.reductions", "numpy.indexing", "numpy.contractions",
                        "numpy.linalg", "numpy.fft"}
LADDER = [
    {"config", "tree", "nn.kernels", "nn.conv_reference"},
    {"core", "nn.norm_kernels"},
    {"graph"},
    PRIMITIVES_AND_NUMPY,
    {"batching", "nn.pool", "optim.base", "optim.schedules", "random"},
    {"autodiff", "nn.conv", "nn.initializers", "optim.optimizers", "optim.transforms"},
    {"jit", "testing", "optim"},
    {"custom", "control", "scipy.linalg"},
    {"lax", "scipy.special", "explain"},
    # the activations build on scipy.special's erfc, expit and softmax
    {"scipy.stats.norm", "scipy.stats.multivariate_normal", "nn.activations"},
    {"scipy.stats", "nn.losses"},
    {"scipy", "nn.layers"},
    {"nn.combinators", "nn.normalization"},
    {"nn"},
]
RUNG = {module: i for i, rung in enumerate(LADDER) for module in rung}


def funcgrad_imports(module: str) -> set[str]:
    """The funcgrad modules `module` imports, anywhere in its source."""
    path = PACKAGE / module.replace(".", "/")
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                and (node.module + ".").startswith("funcgrad.")):
            # `from funcgrad.nn import kernels` imports the module nn.kernels
            parent = node.module.removeprefix("funcgrad").removeprefix(".")
            for alias in node.names:
                sub = f"{parent}.{alias.name}".lstrip(".")
                found.add(sub if sub in RUNG else parent)
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("funcgrad.") for a in node.names
                         if a.name.startswith("funcgrad."))
    return found


def test_every_module_is_on_the_ladder() -> None:
    modules = {str(p.relative_to(PACKAGE).with_suffix("")).replace("/", ".")
               for p in PACKAGE.rglob("*.py")}
    modules = {m.removesuffix(".__init__") for m in modules} - {"__init__"}
    assert modules == set(RUNG)


@pytest.mark.parametrize("module", sorted(RUNG))
def test_imports_go_down_the_ladder(module: str) -> None:
    for imported in funcgrad_imports(module):
        mutual = {module, imported} <= PRIMITIVES_AND_NUMPY
        assert RUNG[imported] < RUNG[module] or mutual, f"{module} imports {imported}"


@pytest.mark.parametrize("module", ["core", "graph"])
def test_the_core_imports_no_numpy_layer_and_no_primitives(module: str) -> None:
    assert funcgrad_imports(module) <= {"config", "tree", "core"}
    assert not PRIMITIVES_AND_NUMPY & funcgrad_imports(module)


def test_the_numpy_layer_installs_the_tracer_interface() -> None:
    # Every operator and method the table names is the table's function on Tracer.
    installed = 0
    for row in TABLE.values():
        for name in row.methods:
            assert getattr(Tracer, name) is (row.method or row.fn), name
            installed += 1
        for name in row.reflected + row.properties:
            assert name in Tracer.__dict__, name
            installed += 1
    assert installed >= 40
