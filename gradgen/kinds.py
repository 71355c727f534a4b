"""Scalar inference: which values are statically scalars (shape ``()``).

Known scalars: numeric literals, parameters annotated ``float``/``int``, ``math.*`` operands
and results, full reductions. Scalar-ness then flows forward (an elementwise op of scalars is a
scalar) and backward (numpy broadcasting never shrinks a shape, so every operand of an
elementwise op with a scalar result is a scalar; with ``output_is_scalar`` the function's
output is one, which ``grad`` checks at run time where it cannot be proven). Scalars need no
broadcasting reductions in the backward pass and are spelled with ``math.*``.

A cond is conservative: each branch is inferred with the kinds of its operands, and an output
is a scalar only when both branches prove it; nothing flows backward through a cond. A value a
loop carries is a scalar when it starts as one and the body, given that, keeps it one.
"""

from __future__ import annotations

import dataclasses

from gradgen.builder import is_scalar, result_is_scalar
from gradgen.ir import (
    Atom,
    Equation,
    Graph,
    Value,
    branches,
    loop_layout,
    with_branches,
    with_subgraphs,
    map_values,
)
from gradgen.ops import OPS


def infer_scalars(graph: Graph, output_is_scalar: bool) -> Graph:
    """Return ``graph`` with ``Value.scalar`` set wherever it can be proven."""
    return _restamp(graph, _scalar_ids_of(graph, (0,) if output_is_scalar else (), guessing=False))


def _scalar_ids_of(graph: Graph, scalar_outputs: tuple[int, ...], *, guessing: bool) -> set[int]:
    scalar = {v.id for v in graph.inputs if v.scalar}
    for equation in graph.equations:
        scalar.update(v.id for v in equation.outputs if v.scalar)
    scalar.update(a.id for i, a in enumerate(graph.outputs) if i in scalar_outputs and isinstance(a, Value))
    changed = True
    while changed:
        before = len(scalar)
        for equation in graph.equations:
            _forward(equation, scalar)
        for equation in reversed(graph.equations):
            _backward(equation, scalar)
            if guessing:
                _guess_backward(equation, scalar)
        changed = len(scalar) != before
    return scalar


def control_flow_guard(graph: Graph) -> tuple[Graph, tuple[int, ...]] | None:
    """For a graph with branches or loops: inputs whose being Python floats makes the output one.

    Candidates are guessed by following the scalar output backwards into every branch and loop
    body (as if each branch could run and each loop ran at least once), which proves nothing;
    the guess is then checked forwards: with the candidates scalar, forward inference alone
    must make the output a scalar. Returns that forward-inferred graph and the candidates'
    positions, or None.
    """
    proven = {v.id for v in graph.inputs if v.scalar}
    guessed = _scalar_ids_of(graph, (0,), guessing=True)
    candidates = tuple(i for i, v in enumerate(graph.inputs) if v.id in guessed and v.id not in proven)
    if not candidates:
        return None
    inputs = tuple(dataclasses.replace(v, scalar=True) if i in candidates else v for i, v in enumerate(graph.inputs))
    checked = infer_scalars(Graph(inputs, graph.equations, graph.outputs), False)
    output = checked.outputs[0]
    if isinstance(output, Value) and not output.scalar:
        return None
    return checked, candidates


def _guess_backward(equation: Equation, scalar: set[int]) -> None:
    """Scalar outputs of a cond or a loop -> the operands some branch, or the body, needs scalar."""
    if equation.op not in ("cond", "loop", "while") or not any(v.id in scalar for v in equation.outputs):
        return
    flags = tuple(i for i, v in enumerate(equation.outputs) if v.id in scalar)
    if equation.op == "cond":
        for branch in branches(equation):
            inner = _scalar_ids_of(branch, flags, guessing=True)
            scalar.update(a.id for a, v in zip(equation.inputs[1:], branch.inputs) if isinstance(a, Value) and v.id in inner)
        return
    layout = loop_layout(equation)
    body: Graph = equation.param("body")  # type: ignore[assignment]
    inner = _scalar_ids_of(body, tuple(k for k in flags if k < layout.carried), guessing=True)
    operands = equation.inputs[layout.bounds : layout.bounds + layout.carried + layout.invariant]
    scalar.update(a.id for a, v in zip(operands, body.inputs[1:]) if isinstance(a, Value) and v.id in inner)
    scalar.update(a.id for k, a in enumerate(layout.initial(equation)) if isinstance(a, Value) and k in flags)


def _restamp_atom(atom: Atom, scalar: set[int]) -> Atom:
    if isinstance(atom, Value) and atom.id in scalar and not atom.scalar:
        return dataclasses.replace(atom, scalar=True)
    return atom


def _forward(equation: Equation, scalar: set[int]) -> None:
    if all(v.id in scalar for v in equation.outputs):
        return  # nothing left to learn (compile time: from the second sweep on, most equations)
    if equation.op == "cond":
        then, orelse = _inferred_branches(equation, scalar)
        for value, first, second in zip(equation.outputs, then.outputs, orelse.outputs):
            if is_scalar(first) and is_scalar(second):
                scalar.add(value.id)
        return
    if equation.op in ("loop", "while"):
        _, carried = _inferred_body(equation, scalar)
        scalar.update(v.id for v, flag in zip(equation.outputs, carried) if flag)
        if equation.op == "while":
            scalar.add(equation.outputs[len(carried)].id)  # the number of iterations
        return
    inputs = tuple(_restamp_atom(a, scalar) for a in equation.inputs)
    if result_is_scalar(equation.op, inputs, equation.params):
        scalar.update(v.id for v in equation.outputs)


def _backward(equation: Equation, scalar: set[int]) -> None:
    spec = OPS[equation.op]
    scalar_in = spec.family == "math" or dict(equation.params).get("lib") == "math"
    if spec.family in ("elementwise", "like_first") and equation.output.id in scalar:
        scalar_in = True
    if scalar_in:
        scalar.update(a.id for a in equation.inputs if isinstance(a, Value))


def _inferred_branches(equation: Equation, scalar: set[int]) -> tuple[Graph, Graph]:
    """The cond's branches inferred with its operands' kinds as their inputs' kinds."""
    operands = equation.inputs[1:]
    inferred = []
    for branch in branches(equation):
        inputs = tuple(
            dataclasses.replace(v, scalar=True) if is_scalar(_restamp_atom(a, scalar)) and not v.scalar else v
            for v, a in zip(branch.inputs, operands)
        )
        inferred.append(infer_scalars(Graph(inputs, branch.equations, branch.outputs), False))
    return inferred[0], inferred[1]


def _inferred_body(equation: Equation, scalar: set[int]) -> tuple[Graph, list[bool]]:
    """A loop's body inferred with its inputs' kinds, and which carried values are scalars."""
    body: Graph = equation.param("body")  # type: ignore[assignment]
    layout = loop_layout(equation)
    outer = [is_scalar(_restamp_atom(a, scalar)) for a in equation.inputs[layout.bounds : layout.bounds + layout.carried + layout.invariant]]
    carried, invariant = outer[: layout.carried], outer[layout.carried :]
    while True:
        flags = [True, *carried, *invariant] + [False] * layout.pops
        inputs = tuple(dataclasses.replace(v, scalar=True) if flag and not v.scalar else v for v, flag in zip(body.inputs, flags))
        inferred = infer_scalars(Graph(inputs, body.equations, body.outputs), False)
        kept = [flag and is_scalar(out) for flag, out in zip(carried, inferred.outputs)]
        if kept == carried:
            return inferred, [flag or v.scalar for flag, v in zip(carried, body.inputs[1:])]
        carried = kept


def _inferred_test(equation: Equation, carried: list[bool], scalar: set[int]) -> Graph:
    """A while loop's test inferred with the carried values' and the invariants' kinds."""
    test: Graph = equation.param("test")  # type: ignore[assignment]
    layout = loop_layout(equation)
    invariant = [is_scalar(_restamp_atom(a, scalar)) for a in layout.invariants(equation)]
    inputs = tuple(dataclasses.replace(v, scalar=True) if flag and not v.scalar else v for v, flag in zip(test.inputs, [*carried, *invariant]))
    return infer_scalars(Graph(inputs, test.equations, test.outputs), False)


def _restamp(graph: Graph, scalar: set[int]) -> Graph:
    # one new value per value object, for all its reads (by object: a Value's own hash and
    # equality run Python code; compile time)
    restamped: dict[int, Value] = {}

    def fix(atom: Atom) -> Atom:
        if isinstance(atom, Value) and atom.id in scalar and not atom.scalar:
            new = restamped.get(id(atom))
            if new is None:
                new = restamped[id(atom)] = dataclasses.replace(atom, scalar=True)
            return new
        return atom

    def fix_equation(eq: Equation) -> Equation:
        if eq.op == "cond":
            eq = with_branches(eq, *_inferred_branches(eq, scalar))
        elif eq.op == "loop":
            eq = with_subgraphs(eq, (_inferred_body(eq, scalar)[0],))
        elif eq.op == "while":
            body, carried = _inferred_body(eq, scalar)
            eq = with_subgraphs(eq, (_inferred_test(eq, carried, scalar), body))
        return eq

    # Sub-graphs first (they carry their own scalar facts), then every top-level value.
    branches_fixed = Graph(graph.inputs, tuple(fix_equation(eq) for eq in graph.equations), graph.outputs)
    return map_values(branches_fixed, fix)


def assumption_guard(proven: Graph, assumed: Graph) -> tuple[int, ...] | None:
    """The inputs whose being Python floats makes ``assumed``'s scalar output a fact.

    ``proven`` and ``assumed`` are one graph inferred without and with the scalar-output
    assumption. Each value the assumption alone makes scalar must follow, through elementwise
    ops, from values that are scalar too; then, if the listed inputs are Python floats at run
    time, every such value is a Python float and so is the output. Returns None when a value
    depends on something a float test cannot vouch for (a reduction over an axis, a product).
    """
    proven_ids = _scalar_ids(proven)
    for equation in assumed.equations:
        if OPS[equation.op].family == "control":
            if any(v.scalar and v.id not in proven_ids for v in equation.outputs):
                return None
            continue
        output = equation.output
        if not output.scalar or output.id in proven_ids:
            continue
        if OPS[equation.op].family not in ("elementwise", "like_first"):
            return None
        if not all(a.scalar for a in equation.inputs if isinstance(a, Value)):
            return None
    return tuple(i for i, v in enumerate(assumed.inputs) if v.scalar and v.id not in proven_ids)


def _scalar_ids(graph: Graph) -> set[int]:
    ids = {v.id for v in graph.inputs if v.scalar}
    ids.update(v.id for eq in graph.equations for v in eq.outputs if v.scalar)
    return ids
