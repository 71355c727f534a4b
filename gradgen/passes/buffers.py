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

from gradgen.ir import Atom, Equation, Graph, Value, loop_layout
from gradgen.ops import UFUNCS
from gradgen.passes.ownership import ScopeOwnership, allocates, content_reads


def reuse_buffers(graph: Graph) -> Graph:
    """Mark elementwise equations that may write into a dead input's array (``out=k``)."""
    return _Buffers(graph, frozenset()).rewritten()


class _Buffers(ScopeOwnership):
    """One scope: the buffers (arrays) each value may share, those the scope owns, and until
    where each buffer is read. A buffer is named by the id of the value that made it."""

    def __init__(self, graph: Graph, owned_inputs: frozenset[int]):
        super().__init__(graph)
        self.last_read = _last_reads(graph)
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
            equation = dataclasses.replace(equation, params=(*equation.params, ("out", target)))
            buffers = self.buffers_of[equation.inputs[target].id]  # type: ignore[union-attr]
        elif _makes_fresh_array(equation):
            buffers = frozenset({equation.output.id})
            self.owned.add(equation.output.id)
        else:
            # possibly a view of (or the same object as) any array input
            buffers = frozenset({equation.output.id}).union(*self.input_buffers(equation.inputs))
        for value in equation.outputs:
            self.share(value.id, buffers)
        return [equation]

    def loop(self, position: int, equation: Equation) -> list[Equation]:
        """The loop with its body rewritten, after the copies of initial values it needs (see
        ownership.py). Its owned carried values end on arrays this scope then owns, as the
        initial ones; the others may share anything else the loop was given."""
        copies, equation, owned = self.owning_loop(position, equation)
        inputs = equation.inputs[loop_layout(equation).bounds :]
        others = frozenset().union(*self.input_buffers(a for k, a in enumerate(inputs) if k not in owned))
        for k, value in enumerate(equation.outputs):
            self.share(value.id, self.buffers_of[inputs[k].id] if k in owned else others | {value.id})  # type: ignore[union-attr]
        return [*copies, equation]

    def cond(self, position: int, equation: Equation) -> list[Equation]:
        """The cond with its branches rewritten (see ownership.py): an output that is an array of
        its own in both branches is a new array here; the others may share any operand."""
        equation, fresh = self.owning_cond(position, equation)
        operands = frozenset().union(*self.input_buffers(equation.inputs))
        for j, value in enumerate(equation.outputs):
            if j in fresh:
                self.owned.add(value.id)
            self.share(value.id, frozenset({value.id}) if j in fresh else operands | {value.id})
        return [equation]

    def input_buffers(self, atoms: Iterable[Atom]) -> list[frozenset[int]]:
        return [self.buffers_of.get(a.id, frozenset()) for a in atoms if isinstance(a, Value)]

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
        self.owned.add(copy.id)
        self.last_read[copy.id] = position  # read by the loop only
        self.share(copy.id, frozenset({copy.id}))


def _last_reads(graph: Graph) -> dict[int, int]:
    """Each value's last reading position, not counting reads of its shape only (which a write
    does not change); the graph's outputs are read after every equation."""
    last: dict[int, int] = {}
    for position, equation in enumerate(graph.equations):
        for atom in content_reads(equation):
            last[atom.id] = position
    for atom in graph.outputs:
        if isinstance(atom, Value):
            last[atom.id] = len(graph.equations)
    return last


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
