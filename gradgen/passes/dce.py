"""Dead-code elimination."""

from __future__ import annotations

import dataclasses

from gradgen.ir import Constant, Equation, Graph, Value, branches, loop_layout, subgraphs, uses, with_branches, with_subgraphs
from gradgen.ops import OPS
from gradgen.passes.substitution import map_branches

# math.* functions that raise outside their domain (or on overflow) instead of returning nan/inf.
_MATH_RAISES = frozenset({"log", "log1p", "sqrt", "exp", "expm1", "arcsin", "arccos", "sinh", "cosh", "log2", "log10"})


def may_raise(equation: Equation) -> bool:
    """Whether the user's forward computation can raise where numpy would only warn, so that the
    gradient, which recomputes it even when unused, raises where the forward raises."""
    op, params = equation.op, dict(equation.params)
    if OPS[op].family == "control":
        return any(eq.forward and may_raise(eq) for graph in subgraphs(equation) for eq in graph.equations)
    if op in _MATH_RAISES and params.get("lib") == "math":
        return True
    if params.get("lib") in ("method", "attribute"):
        return not all(isinstance(a, Value) and a.shape for a in equation.inputs[:1])  # no such method
    if op == "cast":
        return True  # float(array) raises
    if op in ("index", "index_set"):
        return True  # a float is not subscriptable; an index may be out of range
    if op == "matmul":
        return not all(isinstance(a, Value) and a.shape for a in equation.inputs)  # 2.0 @ 3.0 raises
    if op == "div":
        divisor = equation.inputs[1]
        return not (isinstance(divisor, Constant) and divisor.value != 0)  # x / 0.0 raises
    if op == "pow":
        exponent = equation.inputs[1]
        safe = isinstance(exponent, Constant) and isinstance(exponent.value, (int, float)) and exponent.value >= 0
        return not safe  # 0.0 ** -0.5 raises ZeroDivisionError for Python numbers
    return False


def eliminate_dead_code(graph: Graph) -> Graph:
    """Drop equations whose outputs nothing reads (except effects and forward code that may raise);
    a cond loses the outputs nothing reads, and the operands its branches then no longer read; a
    loop, the carried values that neither the rest of the graph, its stack, its test nor the
    carried values that are kept read."""
    live = {a.id for a in graph.outputs if isinstance(a, Value)}
    kept = []
    changed = False
    for equation in reversed(graph.equations):
        # liveness first: it is the cheap test, and settles most equations
        if not live.isdisjoint([v.id for v in equation.outputs]) or OPS[equation.op].effect or (equation.forward and may_raise(equation)):
            if equation.op == "cond":
                pruned = _prune_cond(equation, live)
                changed = changed or pruned is not equation
                equation = pruned
            elif equation.op in ("loop", "while"):
                pruned = _prune_loop(equation, live)
                changed = changed or pruned is not equation
                equation = pruned
            kept.append(equation)
            live.update([a.id for a in equation.inputs if isinstance(a, Value)])
    if len(kept) == len(graph.equations) and not changed:
        return graph
    return type(graph)(graph.inputs, tuple(reversed(kept)), graph.outputs)


def _prune_cond(equation: Equation, live: set[int]) -> Equation:
    positions = [j for j, v in enumerate(equation.outputs) if v.id in live] or list(range(len(equation.outputs)))
    pruned = [eliminate_dead_code(Graph(b.inputs, b.equations, tuple(b.outputs[j] for j in positions))) for b in branches(equation)]
    read = [uses(branch) for branch in pruned]
    operands = [i for i in range(len(equation.inputs) - 1) if any(b.inputs[i].id in counts for b, counts in zip(pruned, read))]
    if len(positions) == len(equation.outputs) and len(operands) == len(equation.inputs) - 1 and all(
        new == old for new, old in zip(pruned, branches(equation))
    ):
        return equation
    then, orelse = (Graph(tuple(b.inputs[i] for i in operands), b.equations, b.outputs) for b in pruned)
    inputs = (equation.inputs[0], *(equation.inputs[1 + i] for i in operands))
    outputs = tuple(equation.outputs[j] for j in positions)
    return with_branches(dataclasses.replace(equation, inputs=inputs, outputs=outputs), then, orelse)


def _prune_loop(equation: Equation, live: set[int]) -> Equation:
    """``equation`` (a loop or a while) carrying only the values something reads: after the
    loop, on its stack, in its test, or in the body's updates of the values kept (a value whose
    update may raise is read by that update, so it stays)."""
    layout = loop_layout(equation)
    body: Graph = equation.param("body")  # type: ignore[assignment]
    carried_inputs = body.inputs[1 : 1 + layout.carried]
    needed = {k for k in range(layout.carried) if equation.outputs[k].id in live}
    record = layout.record
    if record is not None:
        needed |= {k for k, value in enumerate(record.inputs[1 : 1 + layout.carried]) if value.id in uses(record)}
    test = equation.param("test")
    if isinstance(test, Graph):
        needed |= {k for k, value in enumerate(test.inputs[: layout.carried]) if value.id in uses(test)}
    while True:
        kept = sorted(needed)
        pruned = eliminate_dead_code(Graph(body.inputs, body.equations, tuple(body.outputs[k] for k in kept)))
        read = uses(pruned)
        more = {k for k, value in enumerate(carried_inputs) if value.id in read} - needed
        if not more:
            break
        needed |= more
    if len(kept) == layout.carried or not kept:
        return map_branches(equation, eliminate_dead_code)
    start = 1 + layout.carried
    body = Graph((body.inputs[0], *(carried_inputs[k] for k in kept), *body.inputs[start:]), pruned.equations, pruned.outputs)
    graphs = {"body": body}
    if record is not None:
        graphs["record"] = eliminate_dead_code(Graph((record.inputs[0], *(record.inputs[1 + k] for k in kept), *record.inputs[start:]), record.equations, record.outputs))
    if isinstance(test, Graph):
        graphs["test"] = eliminate_dead_code(Graph(tuple(test.inputs[k] for k in kept) + test.inputs[layout.carried :], test.equations, test.outputs))
    initial = layout.initial(equation)
    inputs = (*equation.inputs[: layout.bounds], *(initial[k] for k in kept), *equation.inputs[layout.bounds + layout.carried :])
    outputs = (*(equation.outputs[k] for k in kept), *equation.outputs[layout.carried :])
    pruned_equation = dataclasses.replace(equation, inputs=inputs, outputs=outputs)
    return with_subgraphs(pruned_equation, tuple(graphs[name] for name, value in equation.params if isinstance(value, Graph)))
