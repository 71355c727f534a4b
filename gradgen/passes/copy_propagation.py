"""Copy propagation."""

from __future__ import annotations

from gradgen.ir import Atom, Graph
from gradgen.passes.substitution import map_branches, rebuild, substitute_inputs


def propagate_copies(graph: Graph) -> Graph:
    """Replace every use of ``b = copy(a)`` by ``a`` and drop the copy (a = b -> uses of a)."""
    replacements: dict[int, Atom] = {}
    equations = []
    changed = False
    for equation in graph.equations:
        substituted = substitute_inputs(equation, replacements)
        if substituted.params:
            substituted = map_branches(substituted, propagate_copies)
        changed = changed or substituted is not equation
        equation = substituted
        if equation.op == "copy":
            replacements[equation.output.id] = equation.inputs[0]
            continue
        equations.append(equation)
    if not replacements:
        return Graph(graph.inputs, tuple(equations), graph.outputs) if changed else graph
    return rebuild(graph, equations, replacements)
