"""Which arrays a scope owns, for the passes that write into arrays: ``in_place.py`` (item
writes ``x[key] = v``) and ``buffers.py`` (``np.multiply(a, b, out=a)``, ``grad_W += g``).

A scope (a graph, or a sub-graph of a loop or an if) may overwrite an array only if it owns it:
the array was made by an op that always allocates (``allocates``), in this scope, or handed to
it by a loop or an if, and nothing that may share its memory is read after the write. Each pass tracks
ownership and sharing its own way over straight-line code (a subclass of ``ScopeOwnership``, which
records an equation's results with ``alias`` and ``may_view``): ``buffers.py`` names the arrays
each value may share, so a possible view of ``a`` and ``b`` leaves ``a`` and ``b`` apart, while
``in_place.py`` groups the values that may share memory, so such a view joins their groups (an
if given ``H`` and the argument ``W`` makes a later write into ``H`` copy). One notion for both
would change what one of them decides. The rule for loops is the same for both, and lives here:

A loop's body owns its carried value ``k`` when

1. the forward loop does not record ``k`` on its stack for the backward (the stack would hold
   the same array T times, each write corrupting the records);
2. the initial value is owned by the enclosing scope, dead after the loop (nothing that may
   share its memory is read after it), and not passed to the loop a second time (as another
   carried value or an invariant);
3. every iteration ends with ``k`` on an array the body owns that no other carried result and
   no other input of the body shares: so the next iteration receives an array of its own.

Where only rule 2 fails (the enclosing scope reads the initial value later, or does not own it:
an argument, a view, zeros shared by CSE) and the body writes into ``k`` (or hands it to an if
or an inner loop, which may), the initial value is copied once before the loop
(``array_copy``) instead. The branches of an if own the operands that the enclosing scope
owns, reads no more after the if, and passes once (``owning_cond``, used by ``buffers.py``;
the branches of ``in_place.py`` own nothing they receive). So the backward of an RNN
accumulates ``grad_W += ...`` into the array ``np.full_like(W, 0)`` made for it before the
loop, without a new array per step.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from gradgen.ir import Atom, Equation, Graph, Value, loop_layout, subgraphs, uses, with_subgraphs

# Ops whose result is always a new array (never a view or an operand itself). Anything else
# (views, runtime helpers that may return their operand, casts, einsum) may share memory.
_ALLOCATING = frozenset(
    {
        "add", "sub", "mul", "div", "pow", "neg", "ieee_div", "ieee_pow", "maximum", "minimum", "abs", "sign",
        "gt", "ge", "lt", "le", "eq", "ne", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh",
        "arctan", "log2", "log10", "sinh", "cosh", "arcsin", "arccos", "arctan2", "square", "clip", "where",
        "sum", "mean", "max", "min", "prod", "norm", "matmul", "dot", "tensordot", "inner", "outer", "concatenate", "stack",
        "array_copy", "full_like", "zeros", "ones", "full", "eye", "arange", "unindex", "zeros_like",
        "written_gradient", "take", "prod_others", "expand_reduced",
    }
)  # fmt: skip

# Builtins may return an operand itself (``max(a, b)`` is ``a`` or ``b``): only numpy's
# functions and the arrays' own methods count as allocating.
_ALLOCATING_LIBS = (None, "numpy", "method")


def allocates(equation: Equation) -> bool:
    """Whether ``equation``'s array results are always new arrays (given arrays)."""
    if equation.op == "index" and equation.param("copy"):
        return True  # x[key].copy(), the form recording.py gives a view the backward reads
    if equation.op == "cast":
        return True  # float(x[i]) is a Python float: it holds no array's memory
    return equation.op in _ALLOCATING and equation.param("lib") in _ALLOCATING_LIBS


# Operands these ops read only for their shape and dtype, which a write does not change: such a
# read after the write (the backward's ``unindex(H, ...)`` for ``H[:, j]``) does not block it.
SHAPE_ONLY: dict[str, tuple[int, ...]] = {
    "unindex": (0,), "written_gradient": (0,), "zeros_like": (0,), "full_like": (0,), "size": (0,), "len": (0,),
    "ndim": (0,), "count_reduced": (0,), "reshape_like": (1,), "unbroadcast": (1,), "expand_reduced": (1,),
}  # fmt: skip


def content_reads(equation: Equation) -> list[Value]:
    """The operands whose elements ``equation`` reads (or may return)."""
    skipped = _unread_invariants(equation) if equation.op in ("loop", "while") else SHAPE_ONLY.get(equation.op, ())
    return [a for position, a in enumerate(equation.inputs) if isinstance(a, Value) and position not in skipped]


def last_reads(graph: Graph) -> dict[int, int]:
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


def _unread_invariants(equation: Equation) -> tuple[int, ...]:
    """The positions of a loop's invariant inputs that neither its body nor its test reads (a
    backward loop is given all the forward loop's invariants, whether it needs them or not)."""
    layout = loop_layout(equation)
    body: Graph = equation.param("body")  # type: ignore[assignment]
    test: Graph | None = equation.param("test")  # type: ignore[assignment]
    read = uses(body)
    test_read = uses(test) if test is not None else {}
    first = layout.bounds + layout.carried
    return tuple(
        first + m
        for m in range(layout.invariant)
        if body.inputs[1 + layout.carried + m].id not in read and (test is None or test.inputs[layout.carried + m].id not in test_read)
    )


class ScopeOwnership:
    """One graph scope of a pass that writes into arrays: what it owns, what may share memory.

    A subclass walks its scope's equations and answers the questions below; ``owning_loop``
    applies the loop rule with them, the enclosing scope's answers deciding rule 2 and a scope
    made for the body (of the same subclass) rule 3."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.last_read = last_reads(graph)
        self.next_id = max([v.id for v in graph.inputs] + [v.id for eq in graph.equations for v in eq.outputs], default=-1)

    # -- what each pass answers ------------------------------------------------------------------

    def sub_scope(self, graph: Graph, owned_inputs: frozenset[int]) -> ScopeOwnership:
        """A scope of the same pass for a sub-graph that owns the inputs ``owned_inputs``."""
        raise NotImplementedError

    def rewritten(self) -> Graph:
        """The scope's graph with its writes marked (sub-graphs included)."""
        raise NotImplementedError

    def owns(self, value: Value) -> bool:
        """Whether ``value`` is an array of this scope's own (after ``rewritten``)."""
        raise NotImplementedError

    def may_share(self, first: Value, second: Value) -> bool:
        raise NotImplementedError

    def dead_after(self, value: Value, position: int) -> bool:
        """Whether nothing that may share ``value``'s memory is read after ``position``."""
        raise NotImplementedError

    def overwritten_by(self, equation: Equation) -> Atom | None:
        """The array a marked equation writes into, if it does."""
        raise NotImplementedError

    def carried_candidate(self, atom: Atom) -> bool:
        """Whether a loop's initial value may be an array its body owns (rule 1 aside)."""
        raise NotImplementedError

    def adopt_copy(self, copy: Value, position: int) -> None:
        """Record the copy made, just before the loop at ``position``, of a carried value."""
        raise NotImplementedError

    def alias(self, value: Value, atom: Atom) -> None:
        """Record that ``value`` is the array of ``atom``, which this scope owns (written into, or
        handed back by a loop)."""
        raise NotImplementedError

    def may_view(self, values: tuple[Value, ...], atoms: Iterable[Atom]) -> None:
        """Record that the results ``values`` of one equation, which this scope does not own, may
        share the memory of any of ``atoms``."""
        raise NotImplementedError

    # -- loops -----------------------------------------------------------------------------------

    def loop(self, position: int, equation: Equation) -> list[Equation]:
        """The loop at ``position`` with its sub-graphs rewritten, after the copies of initial
        values it needs. Its owned carried results are arrays this scope then owns, the initial
        arrays the iterations wrote into; the others may share anything else it was given."""
        copies, equation, owned = self.owning_loop(position, equation)
        inputs = equation.inputs[loop_layout(equation).bounds :]
        others = [a for k, a in enumerate(inputs) if k not in owned]
        for k, value in enumerate(equation.outputs):
            if k in owned:
                self.alias(value, inputs[k])
            else:
                self.may_view((value,), others)
        return [*copies, equation]

    def owning_loop(self, position: int, equation: Equation) -> tuple[list[Equation], Equation, frozenset[int]]:
        """The loop at ``position`` with its sub-graphs rewritten, the copies to make before it,
        and the carried positions its body owns (see the module docstring)."""
        layout = loop_layout(equation)
        body: Graph = equation.param("body")  # type: ignore[assignment]
        initial = layout.initial(equation)
        inputs = equation.inputs[layout.bounds :]
        recorded = self._recorded(layout.record)
        candidates = {k for k, atom in enumerate(initial) if k not in recorded and self.carried_candidate(atom)}
        while True:
            candidates, scope, rewritten_body = self._owning_body(body, candidates)
            unready = {k for k in candidates if not self.hands_over(initial[k], k, inputs, position)}  # type: ignore[arg-type]
            copied = {k for k in unready if scope.writes_into(rewritten_body, body.inputs[1 + k])}
            if unready == copied:
                break
            candidates -= unready - copied  # owned for nothing, and blocked: ask the body again
        copies = []
        for k in sorted(copied):
            self.next_id += 1
            copy = dataclasses.replace(initial[k], id=self.next_id)  # type: ignore[type-var]
            copies.append(Equation("array_copy", (initial[k],), (copy,), (), equation.location))
            self.adopt_copy(copy, position)
            inputs = inputs[:k] + (copy,) + inputs[k + 1 :]
        equation = dataclasses.replace(equation, inputs=equation.inputs[: layout.bounds] + inputs)
        graphs = tuple(rewritten_body if g is body else self.sub_scope(g, frozenset()).rewritten() for g in subgraphs(equation))
        return copies, with_subgraphs(equation, graphs), frozenset(candidates)

    def _recorded(self, record: Graph | None) -> set[int]:
        """Rule 1: the carried positions whose memory a value the loop records may share (the
        record graph maps ``(i, *carried, *invariant)`` to the values pushed on the stack)."""
        if record is None:
            return set()
        scope = self.sub_scope(record, frozenset())
        scope.rewritten()
        pushed = [atom for atom in record.outputs if isinstance(atom, Value)]
        return {k - 1 for k, value in enumerate(record.inputs) if k > 0 and any(scope.may_share(value, p) for p in pushed)}

    def owning_cond(self, position: int, equation: Equation) -> tuple[Equation, frozenset[int]]:
        """The cond at ``position`` with its branches rewritten, each owning the operands this
        scope hands over (as to a loop, see ``hands_over``), and the positions of its outputs
        that are arrays of their own whichever branch runs (owned, shared with no other output)."""
        operands = equation.inputs[1:]
        handed = [k for k, atom in enumerate(operands) if self.carried_candidate(atom) and self.hands_over(atom, k, operands, position)]  # type: ignore[arg-type]
        branches, fresh = [], set(range(len(equation.outputs)))
        for branch in subgraphs(equation):
            scope = self.sub_scope(branch, frozenset(branch.inputs[k].id for k in handed))
            branches.append(scope.rewritten())
            fresh &= {j for j in fresh if scope.returns_own_array(j)}
        return with_subgraphs(equation, tuple(branches)), frozenset(fresh)

    def returns_own_array(self, j: int) -> bool:
        """Whether this scope's output ``j`` is an array it owns that no other output shares."""
        result = self.graph.outputs[j]
        if not isinstance(result, Value) or not self.owns(result):
            return False
        return not any(k != j and isinstance(other, Value) and self.may_share(other, result) for k, other in enumerate(self.graph.outputs))

    def hands_over(self, atom: Value, k: int, inputs: tuple[Atom, ...], position: int) -> bool:
        """Rule 2: the loop at ``position`` may own ``atom``, its ``k``-th input: this scope owns
        it, reads it no more, and does not pass it to the loop twice."""
        if not self.owns(atom) or not self.dead_after(atom, position):
            return False
        return not any(isinstance(a, Value) and self.may_share(a, atom) for j, a in enumerate(inputs) if j != k)

    def _owning_body(self, body: Graph, candidates: set[int]) -> tuple[set[int], ScopeOwnership, Graph]:
        """The body rewritten with the carried values in ``candidates`` owned, less those an
        iteration does not end on an array of their own (rule 3, to a fixed point)."""
        while True:
            scope = self.sub_scope(body, frozenset(body.inputs[1 + k].id for k in candidates))
            rewritten_body = scope.rewritten()
            keep = {k for k in candidates if scope.ends_owned(k)}
            if keep == candidates:
                return candidates, scope, rewritten_body
            candidates = keep

    def ends_owned(self, k: int) -> bool:
        """Rule 3, in a body's scope: its carried result ``k`` is an array of its own."""
        if not self.returns_own_array(k):  # a carried view of it would see the next writes
            return False
        result, carried_input = self.graph.outputs[k], self.graph.inputs[1 + k]
        return all(v.id == carried_input.id or not self.may_share(v, result) for v in self.graph.inputs)  # type: ignore[union-attr]

    def writes_into(self, rewritten: Graph, carried: Value) -> bool:
        """Whether the rewritten body writes into the array of its input ``carried``, or may: an
        if or a loop it is handed to counts as a write."""
        for equation in rewritten.equations:
            written = self.overwritten_by(equation)
            if isinstance(written, Value) and self.may_share(written, carried):
                return True
            if subgraphs(equation) and any(isinstance(a, Value) and self.may_share(a, carried) for a in equation.inputs):
                return True
        return False
