"""Optimization passes: pure functions ``Graph -> Graph``, run in order to a fixed point.

Each pass preserves the ids and names of the values it keeps, so a graph that no pass changes
compares equal to its input and the loop stops. Code specialized for shapes then gets one run
of ``buffers.reuse_buffers`` (writing results into dead arrays), outside the loop: its marks
are valid only for the final order of the equations.
"""

from __future__ import annotations

from typing import Callable

from gradgen.ir import Graph, verify
from gradgen.passes.cse import eliminate_common_subexpressions
from gradgen.passes.dce import eliminate_dead_code
from gradgen.passes.simplify import simplify

Pass = Callable[[Graph], Graph]

PIPELINE: tuple[Pass, ...] = (
    simplify,
    eliminate_common_subexpressions,  # and copy propagation
    eliminate_dead_code,
)

# Passes that finish their job in one sweep: run again on their own result, they return it
# unchanged (every copy is propagated, every repeat merged, sub-graphs included; dead code is
# found in one sweep from the outputs back, which sees every reader before its operands).
IDEMPOTENT: frozenset[Pass] = frozenset({eliminate_common_subexpressions, eliminate_dead_code})

# Passes that a pass's changes give nothing new to do: dead-code elimination only removes
# equations (and unread outputs and operands of a cond), so a graph without copies or repeats
# keeps none. (simplify is in neither table: fewer uses of a value can enable its rewrites, and
# it applies each rewrite once per round.)
LEAVES_SETTLED: dict[Pass, tuple[Pass, ...]] = {
    eliminate_dead_code: (eliminate_common_subexpressions,),
}

MAX_ROUNDS = 20


def optimize(graph: Graph, *, check: bool = False) -> Graph:
    """Run ``PIPELINE`` until the graph stops changing; ``check`` verifies after every pass.

    A pass is not run again on the very graph it last returned unchanged: passes are pure, so
    it would return it unchanged again; nor, for an ``IDEMPOTENT`` pass, on its own result;
    nor on what ``LEAVES_SETTLED`` says another pass made of such a graph. The round that
    confirms the fixed point then mostly runs ``simplify`` alone (the result is the same:
    tests/test_passes.py checks it against the plain loop, and these two tables' claims)."""
    settled: dict[Pass, Graph] = {}  # a pass -> the graph it is known to leave unchanged
    for _ in range(MAX_ROUNDS):
        before = graph
        for run_pass in PIPELINE:
            if settled.get(run_pass) is graph:
                continue
            result = run_pass(graph)
            for other in LEAVES_SETTLED.get(run_pass, ()):
                if settled.get(other) is graph:
                    settled[other] = result
            if result is graph or run_pass in IDEMPOTENT:
                settled[run_pass] = result
            graph = result
            if check:
                verify(graph)
        if graph == before:
            break
    return graph
