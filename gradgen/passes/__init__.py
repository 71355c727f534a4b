"""Optimization passes: pure functions ``Graph -> Graph``, run in order to a fixed point.

Each pass preserves the ids and names of the values it keeps, so a graph that no pass changes
compares equal to its input and the loop stops.
"""

from __future__ import annotations

from typing import Callable

from gradgen.ir import Graph, verify
from gradgen.passes.copy_propagation import propagate_copies
from gradgen.passes.cse import eliminate_common_subexpressions
from gradgen.passes.dce import eliminate_dead_code
from gradgen.passes.simplify import simplify

Pass = Callable[[Graph], Graph]

PIPELINE: tuple[Pass, ...] = (
    simplify,
    propagate_copies,
    eliminate_common_subexpressions,
    eliminate_dead_code,
)

MAX_ROUNDS = 20


def optimize(graph: Graph, *, check: bool = False) -> Graph:
    """Run ``PIPELINE`` until the graph stops changing; ``check`` verifies after every pass.

    A pass is not run again on the very graph it last returned unchanged: passes are pure, so
    it would return it unchanged again. When only ``simplify`` changed a round, the round that
    confirms the fixed point then costs one pass, not four (the result is the same)."""
    settled: dict[Pass, Graph] = {}  # a pass -> the graph it last left unchanged
    for _ in range(MAX_ROUNDS):
        before = graph
        for run_pass in PIPELINE:
            if settled.get(run_pass) is graph:
                continue
            result = run_pass(graph)
            if result is graph:
                settled[run_pass] = graph
            graph = result
            if check:
                verify(graph)
        if graph == before:
            break
    return graph
