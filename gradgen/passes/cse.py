"""Common-subexpression elimination by hash-consing: linear in the size of the graph."""

from __future__ import annotations

from typing import Hashable

from gradgen.ir import Atom, Graph, Value
from gradgen.ops import OPS
from gradgen.passes.substitution import map_branches, rebuild, substitute_inputs

# Ops whose operands may be swapped without changing the result (max/min are not: their
# tie convention favours the first argument).
COMMUTATIVE = frozenset({"add", "mul", "eq", "ne"})


def _key(op: str, inputs: tuple[Atom, ...], params: Hashable) -> Hashable:
    if op in COMMUTATIVE:
        inputs = tuple(sorted(inputs, key=repr))
    return (op, inputs, params)


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Reuse the first value computed by each ``(op, inputs, params)`` for its repeats.

    A cond is opaque here (each branch is a scope of its own, optimized on its own)."""
    seen: dict[Hashable, Value] = {}
    replacements: dict[int, Atom] = {}
    equations = []
    changed = False
    for equation in graph.equations:
        substituted = map_branches(substitute_inputs(equation, replacements), eliminate_common_subexpressions)
        changed = changed or substituted is not equation
        equation = substituted
        if OPS[equation.op].effect or len(equation.outputs) != 1 or OPS[equation.op].family == "control":
            equations.append(equation)
            continue
        key = _key(equation.op, equation.inputs, equation.params)
        existing = seen.get(key)
        if existing is not None:
            replacements[equation.output.id] = existing
            continue
        seen[key] = equation.output
        equations.append(equation)
    if not replacements:
        return Graph(graph.inputs, tuple(equations), graph.outputs) if changed else graph
    return rebuild(graph, equations, replacements)
