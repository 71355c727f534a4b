"""Emitting in-place writes: equations with the param ``out=k`` (see ``passes/buffers.py``).

Such an equation is spelled ``np.multiply(a, b, out=a)``, or ``a *= b`` where its result takes
the name of the array it writes. A temporary read once is normally inlined into its reader,
which moves its evaluation later; across an in-place write (this one, or an item write
``x[key] = v`` done in place) that could read the written array, so ``not_across_writes``
keeps such a temporary a statement of its own, computed where the graph computes it.
"""

from __future__ import annotations

import ast

from gradgen.ir import Equation, Graph, Value
from gradgen.item_writes import VIEW_OPS

# In-place ops spelled as augmented assignments (``a += b`` is ``np.add(a, b, out=a)``).
_AUGMENTED: dict[str, type[ast.operator]] = {"add": ast.Add, "sub": ast.Sub, "mul": ast.Mult, "div": ast.Div, "ieee_div": ast.Div}


def assignment(target: str, equation: Equation, expression: ast.expr) -> list[ast.stmt]:
    """``target = expression``; where the expression writes its result into the array of an
    operand named ``b`` (``np.add(b, c, out=b)``), ``b += c``, then ``target = b`` if the result
    has a name of its own. numpy runs the same ufunc with ``out=b`` either way, but the
    augmented form skips parsing a keyword (25-50 ns a call, a few percent of a ufunc on a
    small array); ``b`` is read no more, so rebinding it to itself changes nothing."""
    buffer = equation.param("out")
    operator = _AUGMENTED.get(equation.op)
    if buffer is not None and operator is not None and isinstance(expression, ast.Call):
        operands = expression.args
        if buffer == 1 and equation.op in ("add", "mul"):
            operands = operands[::-1]  # b + a is a + b, bit for bit
        if isinstance(operands[0], ast.Name) and (buffer == 0 or operands is not expression.args):
            written = operands[0].id
            augmented = ast.AugAssign(ast.Name(written, ast.Store()), operator(), operands[1])
            if written == target:
                return [augmented]
            return [augmented, ast.Assign([ast.Name(target, ast.Store())], ast.Name(written, ast.Load()), lineno=0)]
    return [ast.Assign([ast.Name(target, ast.Store())], expression, lineno=0)]


def not_across_writes(graph: Graph, inlined: set[int]) -> set[int]:
    """``inlined`` without the values that would be evaluated after an in-place write that follows
    their own place and may change what they read: an ``out=`` write (whatever they read), or an
    item write ``x[key] = v`` done in place (``passes/in_place.py``) where they read ``x`` or a
    view of it. Such a value keeps a statement of its own, in its place."""
    writes: list[tuple[int, int | None]] = []  # (position, the array an item write overwrites)
    for position, equation in enumerate(graph.equations):
        if equation.param("out") is not None:
            writes.append((position, None))
        elif equation.param("in_place") and isinstance(equation.inputs[0], Value):
            writes.append((position, equation.inputs[0].id))
    if not writes:
        return inlined
    # A view of an overwritten array (``r = H[0]``) sees the write too: reading it is reading H.
    array_of = {array: array for _, array in writes if array is not None}
    for equation in graph.equations:
        source = equation.inputs[0] if equation.op in VIEW_OPS and equation.inputs else None
        if isinstance(source, Value) and source.id in array_of:
            array_of[equation.output.id] = array_of[source.id]
    reader: dict[int, int] = {}  # an inlined value -> the position of the equation reading it
    for position, equation in enumerate(graph.equations):
        for atom in equation.inputs:
            if isinstance(atom, Value) and atom.id in inlined:
                reader[atom.id] = position
    end = len(graph.equations)
    evaluated_at: dict[int, int] = {}  # where each inlined value is really computed
    kept = set(inlined)
    for position in range(end - 1, -1, -1):  # readers are settled before what they read
        equation = graph.equations[position]
        reads = {array_of[a.id] for a in equation.inputs if isinstance(a, Value) and a.id in array_of}
        for value in equation.outputs:
            if value.id not in kept:
                continue
            read_at = reader.get(value.id, end)
            reading = graph.equations[read_at].output.id if read_at < end else None
            read_at = evaluated_at.get(reading, read_at) if reading is not None else read_at
            if any(position < write < read_at and (array is None or array in reads) for write, array in writes):
                kept.discard(value.id)
            else:
                evaluated_at[value.id] = read_at
    return kept
