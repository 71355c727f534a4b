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
3. a loop's body owns its carried value ``k`` when the forward loop does not record ``k`` on
   its stack for the backward (the stack would hold the same array T times; the views of it
   that it records are copies, ``H[t].copy()``, see recording.py), the initial value
   is owned by the enclosing scope and dead after the loop (rule 2, with the loop as the
   write), and every iteration ends with ``k`` on an array the body owns that no other carried
   value shares. Where only the initial value fails (the enclosing scope reads it later, or
   does not own it) and the body writes into ``k``, the initial value is copied once before
   the loop (``array_copy``) instead of at every iteration. A branch of an if owns nothing it
   receives (its writes copy).

So an RNN that fills the rows of ``H = np.zeros((T, n))`` writes each row in place, and so
does its backward into the adjoint of ``H``, instead of copying ``H`` at every step.
"""

from __future__ import annotations

import dataclasses

from gradgen.ir import Equation, Graph, Value, loop_layout, with_subgraphs
from gradgen.item_writes import VIEW_OPS

# Ops whose result is always a new array (never a view or an operand itself). Anything else
# (views, runtime helpers that may return their operand, casts, einsum) may share memory.
_ALLOCATING = frozenset(
    {
        "add", "sub", "mul", "div", "pow", "neg", "ieee_div", "ieee_pow", "maximum", "minimum", "abs", "sign",
        "gt", "ge", "lt", "le", "eq", "ne", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh",
        "arctan", "log2", "log10", "sinh", "cosh", "arcsin", "arccos", "arctan2", "square", "clip", "where",
        "sum", "mean", "max", "min", "prod", "matmul", "dot", "inner", "outer", "concatenate", "stack",
        "array_copy", "full_like", "zeros", "ones", "full", "eye", "arange", "unindex", "zeros_like",
        "written_gradient", "take", "prod_others", "expand_reduced",
    }
)  # fmt: skip


# Operands these ops read only for their shape and dtype, which a write does not change: such a
# read after the write (the backward's ``unindex(H, ...)`` for ``H[:, j]``) does not block it.
SHAPE_ONLY: dict[str, tuple[int, ...]] = {
    "unindex": (0,), "written_gradient": (0,), "zeros_like": (0,), "full_like": (0,), "size": (0,), "len": (0,),
    "ndim": (0,), "count_reduced": (0,), "reshape_like": (1,), "unbroadcast": (1,), "expand_reduced": (1,),
}  # fmt: skip


def _content_reads(equation: Equation) -> list[Value]:
    """The operands whose elements ``equation`` reads (or may return)."""
    skipped = SHAPE_ONLY.get(equation.op, ())
    return [a for position, a in enumerate(equation.inputs) if isinstance(a, Value) and position not in skipped]


def mark_in_place(graph: Graph) -> Graph:
    """``graph`` with ``in_place`` set on the ``index_set`` equations that may overwrite their array."""
    if not _writes(graph):
        return graph  # nothing to decide: no cost for the graphs of functions without item writes
    return _Scope(graph, frozenset()).marked()


def _writes(graph: Graph) -> bool:
    return any(eq.op == "index_set" or any(_writes(g) for g in _subgraphs(eq)) for eq in graph.equations)


class _Scope:
    """One graph scope: which values may share memory, who owns what, and the last reads."""

    def __init__(self, graph: Graph, owned_inputs: frozenset[int]):
        self.graph = graph
        self.owned: set[int] = set(owned_inputs)
        self.parent: dict[int, int] = {}  # union-find over value ids: may share memory
        self.defined_at: dict[int, int] = {v.id: -1 for v in graph.inputs}
        self.last_read: dict[int, int] = {}
        self.producer: dict[int, Equation] = {}
        # Views read after a write into their array: made as copies (x[key].copy()) instead, so
        # that the array itself can be written in place (a row copied, not the whole array).
        self.detached: set[int] = set()
        self.next_id = max([v.id for v in graph.inputs] + [v.id for eq in graph.equations for v in eq.outputs], default=-1)
        for position, equation in enumerate(graph.equations):
            for atom in _content_reads(equation):
                self.last_read[atom.id] = position
        for atom in graph.outputs:
            if isinstance(atom, Value):
                self.last_read[atom.id] = len(graph.equations)

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
                    if self.producer[other].op != "index":
                        return None
                    views.append(other)
        return views

    def marked(self) -> Graph:
        equations = [new for position, equation in enumerate(self.graph.equations) for new in self.visit(position, equation)]
        copied = [
            dataclasses.replace(eq, params=eq.params + (("copy", True),)) if eq.op == "index" and eq.output.id in self.detached else eq
            for eq in equations
        ]
        return Graph(self.graph.inputs, tuple(copied), self.graph.outputs)

    def visit(self, position: int, equation: Equation) -> list[Equation]:
        before: list[Equation] = []
        if equation.op in ("loop", "while"):
            before, equation = self.loop(position, equation)
        elif equation.op == "cond":
            equation = with_subgraphs(equation, tuple(_Scope(g, frozenset()).marked() for g in _subgraphs(equation)))
        for value in equation.outputs:
            self.defined_at[value.id] = position
            self.producer[value.id] = equation
        output = equation.outputs[0] if equation.outputs else None
        target = equation.inputs[0] if equation.inputs else None
        views = self.still_read(target, position) if equation.op == "index_set" and isinstance(target, Value) and target.id in self.owned else None
        if views is not None:
            self.detached.update(views)
            self.owned.add(output.id)  # type: ignore[union-attr]
            self.share(output.id, target.id)  # type: ignore[union-attr]
            return [dataclasses.replace(equation, params=equation.params + (("in_place", True),))]
        if equation.op in _ALLOCATING or equation.op == "index_set" or (equation.op == "index" and equation.param("copy")):
            self.owned.update(v.id for v in equation.outputs)
        elif equation.op not in ("loop", "while"):  # the loop shares what rule 3 allows
            # a view shares its array's memory, not its positions' (x[t] and H[t] share nothing)
            shared = equation.inputs[:1] if equation.op in VIEW_OPS else _content_reads(equation)
            for value in equation.outputs:
                for atom in shared:
                    if isinstance(atom, Value):
                        self.share(value.id, atom.id)
        return [*before, equation]

    def loop(self, position: int, equation: Equation) -> tuple[list[Equation], Equation]:
        """The loop with its body marked, and the copies to make before it: a carried array the
        body writes into in place, but whose initial value the enclosing scope still needs (or
        does not own), is copied once before the loop rather than at every iteration."""
        layout = loop_layout(equation)
        body: Graph = equation.param("body")  # type: ignore[assignment]
        initial = layout.initial(equation)
        inputs = equation.inputs[layout.bounds :]
        recorded = _recorded(layout.record) if layout.record is not None else set()
        candidates = {k for k, atom in enumerate(initial) if k not in recorded and isinstance(atom, Value) and not atom.scalar}
        while True:
            candidates, scope, marked_body = _owning_body(body, candidates)
            unready = {k for k in candidates if not self.hands_over(initial[k], k, inputs, position)}  # type: ignore[arg-type]
            copied = {k for k in unready if _written_in_place(scope, marked_body, body.inputs[1 + k])}
            if unready == copied:
                break
            candidates -= unready - copied
        copies = []
        for k in sorted(copied):
            copy = Value(self.new_id(), initial[k].name)  # type: ignore[union-attr]
            copies.append(Equation("array_copy", (initial[k],), (copy,), (), equation.location))
            self.owned.add(copy.id)
            self.defined_at[copy.id] = position
            inputs = inputs[:k] + (copy,) + inputs[k + 1 :]
        equation = dataclasses.replace(equation, inputs=equation.inputs[: layout.bounds] + inputs)
        others = [a for k, a in enumerate(inputs) if k not in candidates]
        for k, value in enumerate(equation.outputs):
            if k in candidates:
                self.owned.add(value.id)
                self.share(value.id, inputs[k].id)  # type: ignore[union-attr]  # no iteration: the initial array
            else:
                for atom in others:
                    if isinstance(atom, Value):
                        self.share(value.id, atom.id)
        graphs = tuple(marked_body if g is body else _Scope(g, frozenset()).marked() for g in _subgraphs(equation))
        return copies, with_subgraphs(equation, graphs)

    def hands_over(self, atom: Value, k: int, inputs: tuple, position: int) -> bool:
        """Whether the loop at ``position`` may write into ``atom``, its ``k``-th input: this scope
        owns it, reads it no more, and does not pass it to the loop twice."""
        if atom.id not in self.owned or not self.dead_after(atom, position):
            return False
        return not any(isinstance(a, Value) and self.root(a.id) == self.root(atom.id) for j, a in enumerate(inputs) if j != k)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


def _owning_body(body: Graph, candidates: set[int]) -> tuple[set[int], _Scope, Graph]:
    """The body marked with the carried values in ``candidates`` owned, less those an iteration
    does not end on an array of their own (to a fixed point)."""
    while True:
        scope = _Scope(body, frozenset(body.inputs[1 + k].id for k in candidates))
        marked_body = scope.marked()
        keep = {k for k in candidates if _ends_owned(scope, body, k)}
        if keep == candidates:
            return candidates, scope, marked_body
        candidates = keep


def _recorded(record: Graph) -> set[int]:
    """The carried values (by position) whose memory a value the record pushes may share: the
    stack would hold them, so the body must not write into them."""
    scope = _Scope(record, frozenset())
    scope.marked()
    pushed = {scope.root(atom.id) for atom in record.outputs if isinstance(atom, Value)}
    return {k - 1 for k, value in enumerate(record.inputs) if k > 0 and scope.root(value.id) in pushed}


def _written_in_place(scope: _Scope, marked_body: Graph, carried: Value) -> bool:
    group = scope.root(carried.id)
    return any(eq.param("in_place") and scope.root(eq.inputs[0].id) == group for eq in marked_body.equations)  # type: ignore[union-attr]


def _ends_owned(scope: _Scope, body: Graph, k: int) -> bool:
    """Whether the body's carried result ``k`` is an array of its own at the end of an iteration."""
    result = body.outputs[k]
    if not isinstance(result, Value) or result.id not in scope.owned:
        return False
    group = scope.root(result.id)
    for j, other in enumerate(body.outputs):  # a carried view of it would see the next writes
        if j != k and isinstance(other, Value) and scope.root(other.id) == group:
            return False
    carried_input = body.inputs[1 + k].id
    return all(scope.root(v.id) != group or v.id == carried_input for v in body.inputs)


def _subgraphs(equation: Equation) -> tuple[Graph, ...]:
    return tuple(value for _, value in equation.params if isinstance(value, Graph))


def overwritten(graph: Graph) -> set[int]:
    """The ids of the arrays ``graph``'s in-place writes overwrite (not its sub-graphs')."""
    return {eq.inputs[0].id for eq in graph.equations if eq.op == "index_set" and eq.param("in_place") and isinstance(eq.inputs[0], Value)}


def read_after_overwrite(graph: Graph, inlined: set[int], written: set[int]) -> set[int]:
    """Of the values the emitter would inline into their reader, those that read an array before
    an in-place write into it but, inlined, would be computed after the write: they keep a
    statement of their own, in their place."""
    if not written:
        return set()
    position_of = {v.id: p for p, eq in enumerate(graph.equations) for v in eq.outputs}
    reader: dict[int, int] = {}  # an inlined value -> the position of the equation reading it
    for position, equation in enumerate(graph.equations):
        for atom in equation.inputs:
            if isinstance(atom, Value) and atom.id in inlined:
                reader[atom.id] = position
    writes = [(p, eq.inputs[0].id) for p, eq in enumerate(graph.equations) if eq.param("in_place")]  # type: ignore[union-attr]

    def evaluated_at(value_id: int) -> int:
        while value_id in inlined:
            if value_id not in reader:
                return len(graph.equations)  # read by the outputs
            position = reader[value_id]
            value_id = graph.equations[position].outputs[0].id
        return position_of.get(value_id, len(graph.equations))

    # A view of a written array (``r = H[0]``, named) sees the write too: reading it is reading H.
    array_of = {array: array for array in written}
    for equation in graph.equations:
        source = equation.inputs[0] if equation.op in VIEW_OPS and equation.inputs else None
        if isinstance(source, Value) and source.id in array_of:
            array_of[equation.output.id] = array_of[source.id]
    early = set()
    for value_id in inlined:
        equation = graph.equations[position_of[value_id]]
        reads = {array_of[a.id] for a in equation.inputs if isinstance(a, Value) and a.id in array_of}
        if any(array in reads and position_of[value_id] < p < evaluated_at(value_id) for p, array in writes):
            early.add(value_id)
    return early
