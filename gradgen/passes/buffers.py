"""Buffer reuse: in shape-specialized code, an elementwise result is written into the array of
an input that nothing reads any more (``np.multiply(a, b, out=a)``, ``grad_x += t``).

Runs once, last, on a graph whose values carry shapes and dtypes (``stamping.stamp_shapes``),
after ``passes.optimize``: the rewrite marks an equation with the param ``out=k`` (write into
input ``k``), which no other pass knows how to move or merge. The emitter spells it as a ufunc
call with ``out=`` or as an augmented assignment.

Guarantees. The buffer written is an array the scope owns (see ``passes/ownership.py``): one
it created (the result of an op that always allocates, never an argument, a constant or a
view), or, in a loop's body, a carried array the loop owns (the accumulators of a backward
loop, ``grad_W += ...``, whose initial ``np.full_like(W, 0)`` is made for the loop and dead
after it, or else copied once before the loop). It has the result's shape and dtype, and from
that equation on nothing reads it: not a later equation, not the scope's outputs, and not any
value that may share its memory (a view of it taken earlier, such as ``a.T`` or
``a.reshape(...)``, or the result of any op not known to return a fresh array, which counts
as a possible view of all its inputs). So the arguments are never modified, nor the values a
forward loop records on its stack, and every value keeps the contents it had in the code
without ``out=``. The other inputs of the equation are plain numbers, booleans or arrays of
the result's dtype, so numpy computes in that dtype with or without ``out=``. Every scope is
rewritten: the top level, loop bodies and the branches of an if (which own the operands the
enclosing scope hands over); an output of a cond that is not an array of its own in both
branches, and an output of a loop that its body does not own, counts as a view of the cond's
or the loop's inputs.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from gradgen.ir import Atom, Equation, Graph, Value
from gradgen.ops import UFUNCS
from gradgen.passes.ownership import ScopeOwnership, allocates


def reuse_buffers(graph: Graph) -> Graph:
    """Mark elementwise equations that may write into a dead input's array (``out=k``)."""
    return _Buffers(graph, frozenset()).rewritten()


class _Buffers(ScopeOwnership):
    """One scope: the buffers (arrays) each value may share, those the scope owns, and until
    where each buffer is read. A buffer is named by the id of the value that made it."""

    def __init__(self, graph: Graph, owned_inputs: frozenset[int]):
        super().__init__(graph)
        self.owned: set[int] = set(owned_inputs)  # buffers this scope created, or a loop handed it
        self.buffers_of: dict[int, frozenset[int]] = {}  # value id -> the buffers it may share memory with
        self.live_until: dict[int, int] = {}  # buffer -> the last position where a value that may share it is read
        for value in graph.inputs:
            self.share(value.id, frozenset({value.id}))

    def share(self, value_id: int, buffers: frozenset[int]) -> None:
        """Record that ``value_id`` may share the memory of ``buffers``, which are live while it is."""
        self.buffers_of[value_id] = buffers
        for buffer in buffers:
            self.live_until[buffer] = max(self.live_until.get(buffer, -1), self.last_read.get(value_id, -1))

    def fresh(self, value: Value) -> None:
        self.owned.add(value.id)
        self.share(value.id, frozenset({value.id}))

    def rewritten(self) -> Graph:
        equations: list[Equation] = []
        for position, equation in enumerate(self.graph.equations):
            equations += self.visit(position, equation)
        return dataclasses.replace(self.graph, equations=tuple(equations))

    def visit(self, position: int, equation: Equation) -> list[Equation]:
        if equation.op in ("loop", "while"):
            return self.loop(position, equation)
        if equation.op == "cond":
            return self.cond(position, equation)
        target = _writable_input(equation, position, self)
        if target is not None:
            self.alias(equation.output, equation.inputs[target])
            return [dataclasses.replace(equation, params=(*equation.params, ("out", target)))]
        if _makes_fresh_array(equation):
            self.fresh(equation.output)
        else:
            self.may_view(equation.outputs, equation.inputs)  # a possible view (or the very object) of an input
        return [equation]

    def cond(self, position: int, equation: Equation) -> list[Equation]:
        """The cond with its branches rewritten (see ownership.py): an output that is an array of
        its own in both branches is a new array here; the others may share any operand."""
        equation, fresh = self.owning_cond(position, equation)
        for j, value in enumerate(equation.outputs):
            if j in fresh:
                self.fresh(value)
            else:
                self.may_view((value,), equation.inputs)
        return [equation]

    def buffer(self, atom: Atom) -> int | None:
        """The one buffer ``atom`` is known to be, if this scope owns it."""
        buffers = self.buffers_of.get(atom.id, frozenset()) if isinstance(atom, Value) else frozenset()
        if len(buffers) != 1 or not buffers <= self.owned:
            return None  # an argument, a possible view, or an array some op may have returned
        return next(iter(buffers))

    # -- the questions of ownership.py -------------------------------------------------------------

    def sub_scope(self, graph: Graph, owned_inputs: frozenset[int]) -> ScopeOwnership:
        return _Buffers(graph, owned_inputs)

    def owns(self, value: Value) -> bool:
        return self.buffer(value) is not None

    def may_share(self, first: Value, second: Value) -> bool:
        return bool(self.buffers_of.get(first.id, frozenset()) & self.buffers_of.get(second.id, frozenset()))

    def dead_after(self, value: Value, position: int) -> bool:
        return all(self.live_until[buffer] <= position for buffer in self.buffers_of[value.id])

    def overwritten_by(self, equation: Equation) -> Atom | None:
        buffer = equation.param("out")
        return None if buffer is None else equation.inputs[buffer]  # type: ignore[index]

    def carried_candidate(self, atom: Atom) -> bool:
        return _is_array(atom)

    def adopt_copy(self, copy: Value, position: int) -> None:
        self.last_read[copy.id] = position  # read by the loop only
        self.fresh(copy)

    def alias(self, value: Value, atom: Atom) -> None:
        self.share(value.id, self.buffers_of[atom.id])  # type: ignore[union-attr]

    def may_view(self, values: tuple[Value, ...], atoms: Iterable[Atom]) -> None:
        """The results share one buffer of their own, which this scope does not own."""
        buffers = frozenset({values[0].id}).union(*(self.buffers_of.get(a.id, frozenset()) for a in atoms if isinstance(a, Value)))
        for value in values:
            self.share(value.id, buffers)


def _is_array(atom: Atom) -> bool:
    return isinstance(atom, Value) and bool(atom.shape) and atom.dtype is not None and not atom.dtype.startswith("py:")


def _makes_fresh_array(equation: Equation) -> bool:
    return len(equation.outputs) == 1 and _is_array(equation.output) and allocates(equation)


def _writable_input(equation: Equation, position: int, scope: _Buffers) -> int | None:
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
        buffer = scope.buffer(atom)
        if buffer is not None and scope.live_until[buffer] <= position:
            return k
    return None
