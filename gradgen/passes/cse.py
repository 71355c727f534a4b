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
        inputs = tuple(sorted(inputs, key=_canonical_position))
    return (op, inputs, params)


def _canonical_position(atom: Atom) -> tuple[int, int, str]:
    # Any fixed order makes ``a * b`` and ``b * a`` one key; values by id are cheap to order.
    if isinstance(atom, Value):
        return (0, atom.id, "")
    return (1, 0, repr(atom))


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Reuse the first value computed by each ``(op, inputs, params)`` for its repeats.

    A cond is opaque here (each branch is a scope of its own, optimized on its own)."""
    seen: dict[Hashable, Value] = {}
    replacements: dict[int, Atom] = {}
    # An array an item write fills (np.zeros for H[t] = h) is no common subexpression: merged
    # with another, each write would have to copy it (passes/in_place.py) to keep the other's.
    written = {eq.inputs[0].id for eq in graph.equations if eq.op == "index_set" and isinstance(eq.inputs[0], Value)}
    equations = []
    changed = False
    for equation in graph.equations:
        substituted = substitute_inputs(equation, replacements)
        if substituted.params:
            substituted = map_branches(substituted, eliminate_common_subexpressions)
        changed = changed or substituted is not equation
        equation = substituted
        spec = OPS[equation.op]
        if spec.effect or len(equation.outputs) != 1 or spec.family == "control" or equation.output.id in written:
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
