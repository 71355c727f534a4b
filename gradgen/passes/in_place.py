"""In-place item writes: which ``index_set`` equations may overwrite their array.

``y = index_set(x, v, key)`` is "a copy of ``x`` with ``y[key] = v``". The emitter writes
``x[key] = v`` instead (``y`` takes ``x``'s name, see emit.py) where this pass sets the param
``in_place``, which it does only when nothing can observe ``x``'s old contents afterwards:

1. ``x`` is an array this scope owns: the result of an op that always allocates (arithmetic,
   ``np.zeros``, ``x.copy()``, a copying ``index_set``...), an ``index_set`` done in place on
   such an array, or a loop's carried value that rule 3 lets the body own;
2. neither ``x`` nor any value made before the write that may share its memory (a view
   ``x[1:]``, ``x.T``, a reshape, an alias, a result of an if or a loop that read it) is read
   after the write: not by a later equation, not by the scope's outputs. A view ``x[key]`` that
   is (``H[1] *= a`` keeps the old row for the backward of ``*``) is made as a copy instead,
   ``x[key].copy()`` (param ``copy``), which costs the view's size rather than the array's;
3. a loop's body owns its carried value ``k`` by the rule ``passes/ownership.py`` states for
   both passes that write into arrays: ``k`` is not recorded on the loop's stack (the views of it
   that the stack records are copies, ``H[t].copy()``, see recording.py), its initial value is
   owned by the enclosing scope and dead after the loop (rule 2, with the loop as the write),
   and every iteration ends with ``k`` on an array of the body's own. Where only the initial
   value fails and the body writes into ``k``, it is copied once before the loop
   (``array_copy``) instead of at every iteration. A branch of an if owns nothing it receives
   (its writes copy).

So an RNN that fills the rows of ``H = np.zeros((T, n))`` writes each row in place, and so
does its backward into the adjoint of ``H``, instead of copying ``H`` at every step.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from gradgen.ir import Atom, Equation, Graph, Value, subgraphs, with_subgraphs
from gradgen.item_writes import VIEW_OPS
from gradgen.passes.ownership import ScopeOwnership, allocates, content_reads

def mark_in_place(graph: Graph) -> Graph:
    """``graph`` with ``in_place`` set on the ``index_set`` equations that may overwrite their array."""
    if not _writes(graph):
        return graph  # nothing to decide: no cost for the graphs of functions without item writes
    return _Scope(graph, frozenset()).rewritten()


def _writes(graph: Graph) -> bool:
    return any(eq.op == "index_set" or any(_writes(g) for g in subgraphs(eq)) for eq in graph.equations)


class _Scope(ScopeOwnership):
    """One graph scope: which values may share memory, who owns what, and the last reads."""

    def __init__(self, graph: Graph, owned_inputs: frozenset[int]):
        super().__init__(graph)
        self.owned: set[int] = set(owned_inputs)
        self.parent: dict[int, int] = {}  # union-find over value ids: may share memory
        self.defined_at: dict[int, int] = {v.id: -1 for v in graph.inputs}
        self.made_by: dict[int, str] = {}  # value id -> the op of its equation
        # Views read after a write into their array: made as copies (x[key].copy()) instead, so
        # that the array itself can be written in place (a row copied, not the whole array).
        self.detached: set[int] = set()

    def root(self, value_id: int) -> int:
        while self.parent.get(value_id, value_id) != value_id:
            value_id = self.parent[value_id]
        return value_id

    def share(self, first: int, second: int) -> None:
        a, b = self.root(first), self.root(second)
        if a != b:
            self.parent[a] = b

    def dead_after(self, value: Value, position: int) -> bool:
        """No value made before ``position`` that may share ``value``'s memory is read after it,
        and none of them is an input of the scope the scope does not own."""
        return self.still_read(value, position) == []

    def still_read(self, value: Value, position: int) -> list[int] | None:
        """The views ``x[key]`` made before ``position`` that share ``value``'s memory and are
        read after it (None if anything else is, or if the scope does not own the memory)."""
        group = self.root(value.id)
        views = []
        for other, defined in self.defined_at.items():
            if defined < position and other not in self.detached and self.root(other) == group:
                if defined == -1 and other not in self.owned:
                    return None
                if self.last_read.get(other, -1) > position:
                    if self.made_by[other] != "index":
                        return None
                    views.append(other)
        return views

    def rewritten(self) -> Graph:
        equations = [new for position, equation in enumerate(self.graph.equations) for new in self.visit(position, equation)]
        copied = [
            dataclasses.replace(eq, params=eq.params + (("copy", True),)) if eq.op == "index" and eq.output.id in self.detached else eq
            for eq in equations
        ]
        return Graph(self.graph.inputs, tuple(copied), self.graph.outputs)

    def visit(self, position: int, equation: Equation) -> list[Equation]:
        for value in equation.outputs:
            self.defined_at[value.id] = position
            self.made_by[value.id] = equation.op
        if equation.op in ("loop", "while"):
            return self.loop(position, equation)  # it shares what rule 3 allows
        if equation.op == "cond":
            equation = with_subgraphs(equation, tuple(self.sub_scope(g, frozenset()).rewritten() for g in subgraphs(equation)))
        target = equation.inputs[0] if equation.inputs else None
        views = self.still_read(target, position) if equation.op == "index_set" and isinstance(target, Value) and target.id in self.owned else None
        if views is not None:
            self.detached.update(views)
            self.alias(equation.output, target)  # type: ignore[arg-type]
            return [dataclasses.replace(equation, params=equation.params + (("in_place", True),))]
        if allocates(equation) or equation.op == "index_set":
            self.owned.update(v.id for v in equation.outputs)
        else:
            # a view shares its array's memory, not its positions' (x[t] and H[t] share nothing)
            self.may_view(equation.outputs, equation.inputs[:1] if equation.op in VIEW_OPS else content_reads(equation))
        return [equation]

    # -- the questions of ownership.py -------------------------------------------------------------

    def sub_scope(self, graph: Graph, owned_inputs: frozenset[int]) -> ScopeOwnership:
        return _Scope(graph, owned_inputs)

    def owns(self, value: Value) -> bool:
        return value.id in self.owned

    def may_share(self, first: Value, second: Value) -> bool:
        return self.root(first.id) == self.root(second.id)

    def overwritten_by(self, equation: Equation) -> Atom | None:
        return equation.inputs[0] if equation.param("in_place") else None

    def carried_candidate(self, atom: Atom) -> bool:
        return isinstance(atom, Value) and not atom.scalar

    def adopt_copy(self, copy: Value, position: int) -> None:
        self.owned.add(copy.id)
        self.defined_at[copy.id] = position

    def alias(self, value: Value, atom: Atom) -> None:
        self.owned.add(value.id)
        self.share(value.id, atom.id)  # type: ignore[union-attr]

    def may_view(self, values: tuple[Value, ...], atoms: Iterable[Atom]) -> None:
        """The results join the group of each of ``atoms``, which join each other's."""
        for value in values:
            for atom in atoms:
                if isinstance(atom, Value):
                    self.share(value.id, atom.id)


def overwritten(graph: Graph) -> set[int]:
    """The ids of the arrays ``graph``'s in-place writes overwrite (not its sub-graphs')."""
    return {eq.inputs[0].id for eq in graph.equations if eq.op == "index_set" and eq.param("in_place") and isinstance(eq.inputs[0], Value)}
