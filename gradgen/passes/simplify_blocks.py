"""Conds and loops, readied for ``simplify`` to simplify their sub-graphs on their own.

Guarantees, each rewrite leaving what the equation computes unchanged:

* ``constant_operands_inside``: a cond's constant operands are written into both branches
  (``cond(p, 2.0)`` -> ``cond(p)``), so the branches can fold them;
* ``constant_invariants_inside``: a loop's constant invariants are written into its body,
  unless the loop records them for its backward (``record``);
* ``unchanged_carried``: a carried value the body returns unchanged becomes an invariant, and
  the loop's output for it is its initial value (the adjoint of an accumulator); the loop's
  record graph follows the new order of the body's inputs (``records.with_body``);
* ``known_floats``: a sub-graph's inputs known to be floats outside are marked so inside, so
  ``x * 1.0 -> x`` may apply there too.
"""

from __future__ import annotations

import dataclasses

from gradgen.ir import Atom, Constant, Equation, Graph, Value, branches, loop_layout, uses, with_branches
from gradgen.passes.records import with_body
from gradgen.passes.substitution import rename, substitute, substitute_inputs
from gradgen.shapes import is_float_dtype


def known_floats(graph: Graph, floats: list[bool]) -> Graph:
    """``graph`` with the inputs at the flagged positions known to be floats (as dtype)."""
    known = {v.id: dataclasses.replace(v, dtype="py:float") for v, flag in zip(graph.inputs, floats) if flag and not is_float_dtype(v.dtype)}
    if not known:
        return graph
    return rename(graph, known)


def unchanged_carried(eq: Equation) -> tuple[Equation, dict[int, Atom]] | None:
    """A loop whose body returns a carried value unchanged carries it no more: it becomes an
    invariant, and the loop's output for it is its initial value (the adjoint of an accumulator)."""
    layout = loop_layout(eq)
    body: Graph = eq.param("body")  # type: ignore[assignment]
    carried = layout.carried
    fixed = [k for k in range(carried) if isinstance(body.outputs[k], Value) and body.outputs[k].id == body.inputs[1 + k].id]  # type: ignore[union-attr]
    if not fixed or len(fixed) == carried:
        return None
    kept = [k for k in range(carried) if k not in fixed]
    invariants = range(1 + carried, 1 + carried + layout.invariant)
    order = [0, *(1 + k for k in kept), *invariants, *(1 + k for k in fixed), *range(1 + carried + layout.invariant, len(body.inputs))]
    new_body = Graph(tuple(body.inputs[p] for p in order), body.equations, tuple(body.outputs[k] for k in kept))
    initial = layout.initial(eq)
    inputs = (*eq.inputs[:3], *(initial[k] for k in kept), *layout.invariants(eq), *(initial[k] for k in fixed), *eq.inputs[3 + carried + layout.invariant :])
    outputs = (*(eq.outputs[k] for k in kept), *eq.outputs[carried:])
    params = with_body(eq, new_body, order)
    passed = {eq.outputs[k].id: initial[k] for k in fixed}
    return dataclasses.replace(eq, inputs=inputs, outputs=outputs, params=params), passed


def constant_invariants_inside(eq: Equation) -> Equation:
    """A loop with its constant invariants written into its body."""
    layout = loop_layout(eq)
    start = 3 + layout.carried
    constant = [m for m, a in enumerate(layout.invariants(eq)) if isinstance(a, Constant)]
    if not constant:
        return eq
    body: Graph = eq.param("body")  # type: ignore[assignment]
    dropped = {1 + layout.carried + m for m in constant}
    mapping: dict[int, Atom] = {body.inputs[1 + layout.carried + m].id: eq.inputs[start + m] for m in constant}
    order = [p for p in range(len(body.inputs)) if p not in dropped]
    if layout.record is not None and any(layout.record.inputs[p].id in uses(layout.record) for p in dropped):
        return eq
    new_body = Graph(
        tuple(body.inputs[p] for p in order),
        tuple(substitute_inputs(inner, mapping) for inner in body.equations),
        tuple(substitute(a, mapping) for a in body.outputs),
    )
    inputs = tuple(a for position, a in enumerate(eq.inputs) if position - start not in constant or position < start)
    return dataclasses.replace(eq, inputs=inputs, params=with_body(eq, new_body, order))


def constant_operands_inside(eq: Equation) -> Equation:
    """A cond with its constant operands written into its branches (cond(p, 2.0) -> cond(p))."""
    constant = [i for i, a in enumerate(eq.inputs[1:]) if isinstance(a, Constant)]
    if not constant:
        return eq
    new_branches = []
    for branch in branches(eq):
        mapping: dict[int, Atom] = {branch.inputs[i].id: eq.inputs[1 + i] for i in constant}
        inputs = tuple(v for i, v in enumerate(branch.inputs) if i not in constant)
        body = tuple(substitute_inputs(inner, mapping) for inner in branch.equations)
        new_branches.append(Graph(inputs, body, tuple(substitute(a, mapping) for a in branch.outputs)))
    inputs = (eq.inputs[0], *(a for i, a in enumerate(eq.inputs[1:]) if i not in constant))
    return with_branches(dataclasses.replace(eq, inputs=inputs), *new_branches)
