"""Dead-code elimination."""

from __future__ import annotations

from gradgen.ir import Graph, Value
from gradgen.ops import OPS


def eliminate_dead_code(graph: Graph) -> Graph:
    """Drop equations whose outputs nothing reads (the user's forward code and effects stay)."""
    live = {a.id for a in graph.outputs if isinstance(a, Value)}
    kept = []
    for equation in reversed(graph.equations):
        if equation.forward or OPS[equation.op].effect or any(v.id in live for v in equation.outputs):
            kept.append(equation)
            live.update(a.id for a in equation.inputs if isinstance(a, Value))
    if len(kept) == len(graph.equations):
        return graph
    return type(graph)(graph.inputs, tuple(reversed(kept)), graph.outputs)
