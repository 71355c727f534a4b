"""Copy propagation."""

from __future__ import annotations

from gradgen.ir import Atom, Graph
from gradgen.passes.substitution import rebuild, substitute_inputs


def propagate_copies(graph: Graph) -> Graph:
    """Replace every use of ``b = copy(a)`` by ``a`` and drop the copy (a = b -> uses of a)."""
    replacements: dict[int, Atom] = {}
    equations = []
    for equation in graph.equations:
        equation = substitute_inputs(equation, replacements)
        if equation.op == "copy":
            replacements[equation.output.id] = equation.inputs[0]
            continue
        equations.append(equation)
    if not replacements:
        return graph
    return rebuild(graph, equations, replacements)
