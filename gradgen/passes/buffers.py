"""Buffer reuse: in shape-specialized code, an elementwise result is written into the array of
an input that nothing reads any more (``np.multiply(a, b, out=a)``, ``grad_x += t``).

Runs once, last, on a graph whose values carry shapes and dtypes (``stamping.stamp_shapes``),
after ``passes.optimize``: the rewrite marks an equation with the param ``out=k`` (write into
input ``k``), which no other pass knows how to move or merge. The emitter spells it as a ufunc
call with ``out=`` or as an augmented assignment.

Guarantees. The buffer written is an array this function created (the result of an
elementwise op, a product or a reduction, never an argument, a constant or a view), of the
result's shape and dtype, and from that equation on nothing reads it: not a later equation,
not the function's outputs, and not any value that may share its memory (a view of it taken
earlier, such as ``a.T`` or ``a.reshape(...)``, or the result of any op not known to return a
fresh array, which counts as a possible view of all its inputs). So the arguments are never
modified, and every value keeps the contents it had in the code without ``out=``. The other
inputs of the equation are plain numbers, booleans or arrays of the result's dtype, so numpy
computes in that dtype with or without ``out=``. Only the top level of the graph is rewritten:
the inputs and outputs of a cond or loop are read, and treated as views, like any other op's.
"""

from __future__ import annotations

import dataclasses

from gradgen.ir import Atom, Equation, Graph, Value
from gradgen.ops import OPS, UFUNCS

# Ops whose array result is a new array (given arrays, numpy never returns a view of an input).
_FRESH_FAMILIES = frozenset({"elementwise", "reduction"})
_FRESH_OPS = frozenset({"matmul", "dot", "inner", "outer"})


def reuse_buffers(graph: Graph) -> Graph:
    """Mark elementwise equations that may write into a dead input's array (``out=k``)."""
    last_read = _last_reads(graph)
    owned: set[int] = set()  # buffers this function created (the id of the value that made each)
    buffers_of: dict[int, frozenset[int]] = {}  # value id -> the buffers it may share memory with
    # buffer -> the last position where a value that may share its memory is read
    live_until: dict[int, int] = {}
    for value in graph.inputs:
        _share(value.id, frozenset({value.id}), buffers_of, live_until, last_read)
    equations: list[Equation] = []
    for position, equation in enumerate(graph.equations):
        target = _writable_input(equation, position, owned, buffers_of, live_until)
        if target is not None:
            equation = dataclasses.replace(equation, params=(*equation.params, ("out", target)))
            buffers = buffers_of[equation.inputs[target].id]  # type: ignore[union-attr]
        elif _makes_fresh_array(equation):
            buffers = frozenset({equation.output.id})
            owned.add(equation.output.id)
        else:
            # possibly a view of (or the same object as) any array input
            buffers = frozenset({equation.output.id}).union(*(buffers_of.get(a.id, frozenset()) for a in equation.inputs if isinstance(a, Value)))
        for value in equation.outputs:
            _share(value.id, buffers, buffers_of, live_until, last_read)
        equations.append(equation)
    return dataclasses.replace(graph, equations=tuple(equations))


def _share(value_id: int, buffers: frozenset[int], buffers_of: dict[int, frozenset[int]], live_until: dict[int, int], last_read: dict[int, int]) -> None:
    """Record that ``value_id`` may share the memory of ``buffers``, which are live while it is."""
    buffers_of[value_id] = buffers
    for buffer in buffers:
        live_until[buffer] = max(live_until.get(buffer, -1), last_read.get(value_id, -1))


def _last_reads(graph: Graph) -> dict[int, int]:
    """Each value's last reading position; the graph's outputs are read after every equation."""
    last: dict[int, int] = {}
    for position, equation in enumerate(graph.equations):
        for atom in equation.inputs:
            if isinstance(atom, Value):
                last[atom.id] = position
    for atom in graph.outputs:
        if isinstance(atom, Value):
            last[atom.id] = len(graph.equations)
    return last


def _is_array(atom: Atom) -> bool:
    return isinstance(atom, Value) and bool(atom.shape) and atom.dtype is not None and not atom.dtype.startswith("py:")


def _makes_fresh_array(equation: Equation) -> bool:
    if len(equation.outputs) != 1 or not _is_array(equation.output):
        return False
    spec = OPS[equation.op]
    if spec.family == "elementwise":
        return equation.param("lib") in (None, "numpy")  # builtin max(a, b) returns a or b
    return spec.family in _FRESH_FAMILIES or equation.op in _FRESH_OPS


def _writable_input(
    equation: Equation,
    position: int,
    owned: set[int],
    buffers_of: dict[int, frozenset[int]],
    live_until: dict[int, int],
) -> int | None:
    """The input whose array ``equation`` may write its result into, or None."""
    if equation.op not in UFUNCS or not _makes_fresh_array(equation):
        return None
    output = equation.output
    for atom in equation.inputs:
        # numpy computes in the result's dtype either way: no input of another array dtype
        if _is_array(atom) and atom.dtype not in (output.dtype, "bool"):  # type: ignore[union-attr]
            return None
    for k, atom in enumerate(equation.inputs):
        if not (_is_array(atom) and atom.shape == output.shape and atom.dtype == output.dtype):  # type: ignore[union-attr]
            continue
        buffers = buffers_of.get(atom.id, frozenset())  # type: ignore[union-attr]
        if len(buffers) != 1 or not buffers <= owned:
            continue  # an argument, a possible view, or an array some op may have returned
        (buffer,) = buffers
        if live_until[buffer] <= position:
            return k
    return None
