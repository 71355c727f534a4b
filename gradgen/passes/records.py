"""Recording only what is read: a forward loop stops pushing values its backward loop no longer pops.

The reverse pass records what the backward body reads of the carried values (recording.py).
Optimization can remove those reads later (specialized for shapes, ``unbroadcast(g, x)`` only
needed ``x`` for its shape), leaving values pushed on every iteration, and kept until the
backward runs, for nothing. This pass drops, from a backward loop, the popped inputs its body
does not read, and from the forward loop that fills its stack, the same outputs of its
``record`` graph (and what only they read); a stack left with nothing to hold is not built at
all. A stack is pruned only where the forward loop that fills it and the one loop that pops it
are in the same graph.
"""

from __future__ import annotations

import dataclasses

from gradgen.ir import Equation, Graph, Params, Value, loop_layout, uses
from gradgen.passes.dce import eliminate_dead_code
from gradgen.passes.substitution import map_branches


def drop_unread_records(graph: Graph) -> Graph:
    """Stop recording, in a forward loop, what its backward loop does not read."""
    equations = [map_branches(equation, drop_unread_records) for equation in graph.equations]
    readers = uses(Graph(graph.inputs, tuple(equations), graph.outputs))
    kept: dict[int, tuple[bool, ...]] = {}  # stack id -> which recorded entries are still popped
    for position, equation in enumerate(equations):
        stack = equation.inputs[-1] if equation.op == "loop" and equation.param("pops") else None
        if not isinstance(stack, Value) or readers.get(stack.id) != 1:
            continue
        body: Graph = equation.param("body")  # type: ignore[assignment]
        pops = loop_layout(equation).pops
        read = uses(body)
        mask = tuple(value.id in read for value in body.inputs[len(body.inputs) - pops :])
        if all(mask):
            continue
        kept[stack.id] = mask
        equations[position] = _pop_only(equation, body, mask)
    if not kept:
        return graph if all(a is b for a, b in zip(equations, graph.equations)) else Graph(graph.inputs, tuple(equations), graph.outputs)
    for position, equation in enumerate(equations):
        stack_output = equation.outputs[-1] if equation.param("record") is not None else None
        if stack_output is not None and stack_output.id in kept:
            equations[position] = _record_only(equation, kept[stack_output.id])
    return Graph(graph.inputs, tuple(equations), graph.outputs)


def _pop_only(equation: Equation, body: Graph, mask: tuple[bool, ...]) -> Equation:
    """The backward loop, popping only the entries ``mask`` keeps (no stack if none)."""
    pops = len(mask)
    popped = tuple(value for value, keep in zip(body.inputs[len(body.inputs) - pops :], mask) if keep)
    body = Graph(body.inputs[: len(body.inputs) - pops] + popped, body.equations, body.outputs)
    params = tuple((k, body if k == "body" else len(popped) if k == "pops" else v) for k, v in equation.params)
    inputs = equation.inputs if popped else equation.inputs[:-1]
    return dataclasses.replace(equation, inputs=inputs, params=params)


def _record_only(equation: Equation, mask: tuple[bool, ...]) -> Equation:
    """The forward loop, recording only the entries ``mask`` keeps (no stack if none)."""
    record: Graph = equation.param("record")  # type: ignore[assignment]
    outputs = tuple(atom for atom, keep in zip(record.outputs, mask) if keep)
    if outputs:
        pruned = eliminate_dead_code(Graph(record.inputs, record.equations, outputs))
        params = tuple((k, pruned if k == "record" else v) for k, v in equation.params)
        return dataclasses.replace(equation, params=params)
    params = tuple((k, v) for k, v in equation.params if k != "record")
    return dataclasses.replace(equation, outputs=equation.outputs[:-1], params=params)


def with_body(equation: Equation, body: Graph, order: list[int]) -> Params:
    """The params of a loop ``equation`` with ``body`` as its body, whose inputs are the old
    body's at the positions ``order``; its record, which takes the body's inputs but the popped
    ones, takes them in the same order."""
    record = loop_layout(equation).record
    if record is not None:
        record = Graph(tuple(record.inputs[p] for p in order if p < len(record.inputs)), record.equations, record.outputs)
    return tuple((key, body if key == "body" else record if key == "record" else value) for key, value in equation.params)
