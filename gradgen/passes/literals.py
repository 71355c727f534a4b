"""Number literals in specialized code, spelled as floats where they meet float arrays:
``np.maximum(s, 0.0)`` and ``s >= 0.0``, where the user wrote ``0``.

Why: numpy converts a Python number operand of a ufunc to the array's dtype on every call, and
takes a slower path for an ``int`` than for a ``float`` (about 150 ns at a 32x64 array, a tenth
of the call; the seed's two-layer net makes two such calls per gradient).

Guarantee: every result is the same, bit for bit, dtype included. The rewrite is made only on
the arithmetic ops, ``maximum``/``minimum`` (numpy's, not the builtins, which return the operand
they pick) and comparisons, where the other operand is an array or numpy scalar of a float
dtype, and only for an ``int`` that this dtype holds exactly: a Python number is a weak scalar
there (NEP 50), converted to the array's dtype whether it is ``0`` or ``0.0``, so numpy runs the
same loop on the same values. Code that is not specialized keeps the user's literals.
"""

from __future__ import annotations

import numpy as np

from gradgen.ir import Constant, Equation, Graph, Value, with_atoms
from gradgen.passes.substitution import map_branches

_WEAK_OPERAND_OPS = frozenset({"add", "sub", "mul", "div", "ieee_div", "maximum", "minimum", "gt", "ge", "lt", "le", "eq", "ne"})


def float_literals(graph: Graph) -> Graph:
    """``graph`` with the int literals of float-array ufuncs written as floats (sub-graphs too)."""
    equations = tuple(_rewritten(map_branches(equation, float_literals)) for equation in graph.equations)
    if all(new is old for new, old in zip(equations, graph.equations)):
        return graph
    return Graph(graph.inputs, equations, graph.outputs)


def _rewritten(equation: Equation) -> Equation:
    if equation.op not in _WEAK_OPERAND_OPS or equation.param("lib") == "builtins":
        return equation
    dtypes = [a.dtype for a in equation.inputs if isinstance(a, Value) and a.shape is not None and _numpy_float(a.dtype)]
    if not dtypes:
        return equation
    inputs = tuple(_as_float(atom, dtypes[0]) for atom in equation.inputs)
    if all(new is old for new, old in zip(inputs, equation.inputs)):
        return equation
    return with_atoms(equation, inputs, equation.outputs)


def _numpy_float(dtype: str | None) -> bool:
    return dtype is not None and dtype.startswith("float")  # "py:float" is a Python float


def _as_float(atom: Value | Constant, dtype: str) -> Value | Constant:
    if not (isinstance(atom, Constant) and type(atom.value) is int):
        return atom
    exact = float(atom.value) == atom.value and int(np.dtype(dtype).type(atom.value)) == atom.value
    return Constant(float(atom.value)) if exact else atom
