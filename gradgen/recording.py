"""What a forward loop records for its backward: the values the backward body reads, taken small.

The backward body of a loop recomputes the forward body from the carried values of its
iteration, then walks it backwards. It reads some of those carried values. Recording a carried
value as it is costs its whole size at every step, which is too much where the backward reads
only a part of it: ``H[t + 1] = np.tanh(W @ H[t])`` reads the row ``H[t]``, and recording ``H``
(a ``T x n`` array) at each of ``T`` steps costs ``T * T * n``. So, for each carried value the
backward body reads, ``record_what_is_read`` chooses what goes on the stack:

- where every read of it takes a view ``c[key]`` (basic indexing: integers, slices, run-time
  integers) or its shape only (the ``SHAPE_ONLY`` operands: ``unindex(H, g, t)``), and, if its
  shape is read, every iteration keeps its shape and dtype (the body's result is the carried
  value through item writes, ``index_set``, and copies): the views are recorded, each as a
  copy (``H[t].copy()``: a view would show the later writes into ``H``, and keep all of ``H``
  alive), and the backward pops them instead of recomputing them; its shape is read from the
  loop's final value, which the backward loop takes as an invariant;
- any other read (an arithmetic op, a branch, the backward's results) records it whole.

Guarantees: the backward reads values equal to those it read before (each view is taken at the
start of the iteration, before the body writes: the forward body, which is SSA, takes it from
the same carried value); a recorded view is never larger than the array it is taken from (a
list of positions, which may repeat elements, records the array whole); the stack of a loop
whose views are all recorded grows with the size of the views, not of the arrays. The record
is a graph of its own (``record`` on the forward loop, see ir.py), from the body's inputs to the
values pushed, in the order the backward body pops them.
"""

from __future__ import annotations

import dataclasses

from gradgen.ir import Equation, Graph, Value, uses
from gradgen.passes.dce import eliminate_dead_code
from gradgen.passes.ownership import SHAPE_ONLY


@dataclasses.dataclass(frozen=True)
class Recording:
    """The backward body ``(*leading, *likes, *popped)``, the record graph that fills its stack
    (None: nothing to record), and the carried positions whose final values are the likes."""

    backward: Graph
    record: Graph | None
    likes: tuple[int, ...]


def record_what_is_read(body: Graph, carried: int, backward: Graph) -> Recording:
    """``backward`` takes ``(*leading, *carried inputs of body)``, which are the inputs it may read;
    return it taking ``(*leading, *likes, *popped)`` and the record that pushes ``popped``."""
    carried_inputs = body.inputs[1 : 1 + carried]
    leading = backward.inputs[: len(backward.inputs) - carried]
    readers = _readers(backward)
    computed_forward = {v.id for equation in body.equations for v in equation.outputs}
    output_ids = {a.id for a in backward.outputs if isinstance(a, Value)}
    views: list[Equation] = []  # popped instead of recomputed
    replaced: dict[int, Value] = {}  # carried input id -> its like, for the reads of its shape
    likes: list[int] = []
    next_id = max([v.id for v in backward.inputs] + [v.id for eq in backward.equations for v in eq.outputs], default=-1) + 1
    for k, value in enumerate(carried_inputs):
        reads = readers.get(value.id, [])
        if not reads or value.id in output_ids:
            continue
        taken = [eq for eq, position in reads if position == 0 and _is_view(eq, value) and eq.output.id in computed_forward]
        shape_reads = [eq for eq, position in reads if position in SHAPE_ONLY.get(eq.op, ())]
        if len(taken) + len(shape_reads) != len(reads) or (shape_reads and not _keeps_shape(body, k)):
            continue
        views += taken
        if shape_reads:
            replaced[value.id] = Value(next_id, value.name, value.scalar)
            next_id += 1
            likes.append(k)
    popped_views = tuple(eq.output for eq in views)
    dropped = {id(eq) for eq in views}
    equations = tuple(_reading(eq, replaced) for eq in backward.equations if id(eq) not in dropped)
    like_inputs = tuple(replaced[carried_inputs[k].id] for k in likes)
    pruned = eliminate_dead_code(Graph(leading + like_inputs + popped_views, equations, backward.outputs))
    read = uses(pruned)
    whole = tuple(v for v in carried_inputs if v.id in read)
    popped = whole + popped_views
    backward = Graph(leading + like_inputs + popped, pruned.equations, pruned.outputs)
    if not popped:
        return Recording(backward, None, tuple(likes))
    return Recording(backward, _record(body, whole, views), tuple(likes))


def _readers(graph: Graph) -> dict[int, list[tuple[Equation, int]]]:
    """For each value id, the equations that read it and at which operand position."""
    readers: dict[int, list[tuple[Equation, int]]] = {}
    for equation in graph.equations:
        for position, atom in enumerate(equation.inputs):
            if isinstance(atom, Value):
                readers.setdefault(atom.id, []).append((equation, position))
    return readers


def _is_view(equation: Equation, array: Value) -> bool:
    """``array[key]`` with basic indexing (a list of positions may repeat elements), its
    positions not read from ``array`` itself."""
    if equation.op != "index":
        return False
    key = equation.param("key", ())
    fancy = any(isinstance(entry, tuple) and entry and entry[0] == "list" for entry in key)  # type: ignore[union-attr]
    return not fancy and all(atom != array for atom in equation.inputs[1:])


def _keeps_shape(body: Graph, k: int) -> bool:
    """Whether every iteration leaves carried value ``k`` with its shape and dtype: the body's
    result is the carried value itself, through item writes and copies."""
    producers = {v.id: eq for eq in body.equations for v in eq.outputs}
    atom = body.outputs[k]
    while isinstance(atom, Value) and atom.id in producers and producers[atom.id].op in ("index_set", "array_copy"):
        atom = producers[atom.id].inputs[0]
    return isinstance(atom, Value) and atom.id == body.inputs[1 + k].id


def _reading(equation: Equation, replaced: dict[int, Value]) -> Equation:
    """``equation`` reading the likes in place of the carried values they stand for."""
    if not replaced or not any(isinstance(a, Value) and a.id in replaced for a in equation.inputs):
        return equation
    inputs = tuple(replaced[a.id] if isinstance(a, Value) and a.id in replaced else a for a in equation.inputs)
    return dataclasses.replace(equation, inputs=inputs)


def _record(body: Graph, whole: tuple[Value, ...], views: list[Equation]) -> Graph:
    """``(i, *carried, *invariant) -> (*whole, *views)``: the forward body's equations the views
    need (their positions), the views made as copies."""
    view_ids = {eq.output.id for eq in views}
    needed = set(view_ids)
    kept: list[Equation] = []
    for equation in reversed(body.equations):
        if any(v.id in needed for v in equation.outputs):
            copy = (("copy", True),) if equation.outputs[0].id in view_ids else ()
            kept.append(dataclasses.replace(equation, params=equation.params + copy, forward=False))
            needed.update(a.id for a in equation.inputs if isinstance(a, Value))
    return Graph(body.inputs, tuple(reversed(kept)), whole + tuple(eq.output for eq in views))
