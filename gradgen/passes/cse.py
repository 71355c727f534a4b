"""Common-subexpression elimination by hash-consing, and copy propagation: linear in the size
of the graph.

Both replace a value by an equal one computed earlier: a repeat of ``(op, inputs, params)`` by
its first occurrence, a copy ``b = copy(a)`` by ``a``. One sweep does both (it used to be two
passes, each a walk over the whole graph). A user's name is not lost: where a named value is
replaced by a temporary, the temporary takes the name, a copy's name first (``rebuild``).
"""

from __future__ import annotations

from typing import Hashable

from gradgen.ir import Atom, Graph, Value
from gradgen.ops import OPS
from gradgen.passes.substitution import map_branches, rebuild, substitute_inputs

# Ops whose operands may be swapped without changing the result (max/min are not: their
# tie convention favours the first argument).
COMMUTATIVE = frozenset({"add", "mul", "eq", "ne"})


def _key(op: str, inputs: tuple[Atom, ...], params: Hashable) -> Hashable:
    # A value stands for itself by its id (SSA: one id, one value): ints hash and compare in C,
    # where a Value's own hash and equality run Python code (compile time).
    operands = tuple([a.id if isinstance(a, Value) else a for a in inputs])
    if op in COMMUTATIVE:
        if len(operands) == 2 and type(operands[0]) is int and type(operands[1]) is int:
            if operands[1] < operands[0]:  # two values, the common case: the order sorted() gives
                operands = (operands[1], operands[0])
        else:
            operands = tuple(sorted(operands, key=_canonical_position))
    return (op, operands, params)


def _canonical_position(operand: int | Atom) -> tuple[int, int, str]:
    # Any fixed order makes ``a * b`` and ``b * a`` one key; values by id are cheap to order.
    if isinstance(operand, int):
        return (0, operand, "")
    return (1, 0, repr(operand))


def _written_arrays(graph: Graph) -> set[int]:
    """The arrays an item write fills (np.zeros for H[t] = h), seen through copies (u = H;
    u[t] = h fills H). Such an array is no common subexpression: merged with another, each
    write would have to copy it (passes/in_place.py) to keep the other's."""
    copied: dict[int, Atom] = {}
    targets: list[Atom] = []
    for equation in graph.equations:
        if equation.op == "copy":
            copied[equation.output.id] = equation.inputs[0]
        elif equation.op == "index_set":
            targets.append(equation.inputs[0])
    written = set()
    for atom in targets:
        while isinstance(atom, Value) and atom.id in copied:
            atom = copied[atom.id]
        if isinstance(atom, Value):
            written.add(atom.id)
    return written


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Reuse the first value computed by each ``(op, inputs, params)`` for its repeats, and the
    operand of each copy for the copy.

    A cond is opaque here (each branch is a scope of its own, optimized on its own)."""
    seen: dict[Hashable, Value] = {}
    copies: dict[int, Atom] = {}
    repeats: dict[int, Atom] = {}
    replacements: dict[int, Atom] = {}  # both
    written = _written_arrays(graph)
    equations = []
    changed = False
    for equation in graph.equations:
        substituted = substitute_inputs(equation, replacements)
        if substituted.params:
            substituted = map_branches(substituted, eliminate_common_subexpressions)
        changed = changed or substituted is not equation
        equation = substituted
        if equation.op == "copy":
            replacements[equation.output.id] = copies[equation.output.id] = equation.inputs[0]
            continue
        spec = OPS[equation.op]
        if spec.effect or len(equation.outputs) != 1 or spec.family == "control" or equation.output.id in written:
            equations.append(equation)
            continue
        key = _key(equation.op, equation.inputs, equation.params)
        existing = seen.get(key)
        if existing is not None:
            replacements[equation.output.id] = repeats[equation.output.id] = existing
            continue
        seen[key] = equation.output
        equations.append(equation)
    if not replacements:
        return Graph(graph.inputs, tuple(equations), graph.outputs) if changed else graph
    # copies first: a temporary that a named copy and a named repeat both resolve to takes the
    # copy's name (``grad_x = copy(t)`` reads as ``grad_x = ...``)
    return rebuild(graph, equations, {**copies, **repeats})
