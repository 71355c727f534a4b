"""Gradients of indexing added where they land: ``grad_x[key] += g``, not ``grad_x + scatter``.

In code specialized for shapes (``passes/specialize.py``), the adjoint of ``x[key]`` is a
scatter: ``np.zeros(x.shape)`` with ``g`` assigned at ``key``, a key that selects each
position once. Where two such scatters are added, the second one's zeros are not made: its
``g`` is added into the first one's slot instead, ``index_set(a, a[key] + g, key)``, which
``passes/in_place.py`` writes in place. So reading ``x[0]``, ``x[1]`` and ``x[-1, 1:]`` gives one
array of ``x``'s shape, not three, as in hand-written code. The sum is the same:
``a + scatter`` is ``a[key] + g`` at ``key`` and ``a`` elsewhere (up to the sign of a zero,
``-0.0 + 0.0``).

Only where ``a`` is the sum's alone: a scatter (or a chain of such writes into one) that
nothing else reads, so that writing into it changes no other value and the write is done in
place, never by a copy. An array made by another op may turn out to be an argument once the
simplifier is done with it (``1.0 * w`` is ``w``): writing into it would copy it.
"""

from __future__ import annotations

from typing import Hashable

import numpy as np

from gradgen.ir import Atom, Equation, Graph, Value
from gradgen.ops import DYNAMIC
from gradgen.passes.substitution import rename
from gradgen.shapes import python_key


def fold_scatters(graph: Graph, carried: dict[int, int]) -> Graph:
    """``graph`` with each scatter that is added to another scatter, or to a loop's carried
    accumulator (``carried``: the body's inputs to their outputs' positions), written into it."""
    producers = {v.id: eq for eq in graph.equations for v in eq.outputs}
    reads: dict[int, int] = {}
    for atom in [a for eq in graph.equations for a in eq.inputs] + list(graph.outputs):
        if isinstance(atom, Value):
            reads[atom.id] = reads.get(atom.id, 0) + 1

    def read_once(atom: Atom) -> bool:
        return isinstance(atom, Value) and reads.get(atom.id) == 1 and atom.id in producers

    def scatter(atom: Atom) -> Equation | None:
        """The ``index_set`` of a scatter that only ``atom``'s reader reads, or None."""
        if not read_once(atom) or producers[atom.id].op != "index_set":  # type: ignore[union-attr]
            return None
        write = producers[atom.id]  # type: ignore[union-attr]
        zeros = write.inputs[0]
        return write if read_once(zeros) and producers[zeros.id].op == "zeros" else None  # type: ignore[union-attr]

    last_read = {a.id: position for position, eq in enumerate(graph.equations) for a in eq.inputs if isinstance(a, Value)}
    last_read.update((a.id, len(graph.equations)) for a in graph.outputs if isinstance(a, Value))

    def own(atom: Atom, like: Value, position: int) -> bool:
        """Whether the sum at ``position`` may write into ``atom``: an array that only the sum
        reads, made by a chain of writes into new zeros or into a loop's carried accumulator
        that the sum is the next value of, none of them read after the sum."""
        if not (isinstance(atom, Value) and atom.shape == like.shape and atom.dtype == like.dtype and like.shape):
            return False
        if reads.get(atom.id) != 1:
            return False
        while atom.id in producers and producers[atom.id].op == "index_set":
            atom = producers[atom.id].inputs[0]  # type: ignore[assignment]
            if not isinstance(atom, Value) or last_read.get(atom.id, -1) > position:
                return False
        if atom.id in carried:  # grad_x += scatter in a loop: the next iteration gets the sum
            output = graph.outputs[carried[atom.id]]
            return isinstance(output, Value) and output.id == like.id
        return atom.id in producers and producers[atom.id].op == "zeros"

    next_id = max([v.id for v in graph.inputs] + list(producers), default=-1) + 1
    dropped: set[int] = set()
    replaced: dict[int, list[Equation]] = {}
    names: dict[int, Value] = {}
    for position, equation in enumerate(graph.equations):
        if equation.op != "add" or len(equation.inputs) != 2:
            continue
        for target, other in (equation.inputs, equation.inputs[::-1]):
            write = scatter(other)
            if write is None or id(write) in dropped or not own(target, equation.output, position):
                continue
            _, gradient, *positions = write.inputs
            slot_shape = selected_shape(write.param("key"), target.shape)  # type: ignore[arg-type, union-attr]
            slot = Value(next_id, "", False, shape=slot_shape, dtype=target.dtype)  # type: ignore[union-attr]
            summed = Value(next_id + 1, "", False, shape=slot_shape, dtype=equation.output.dtype)
            next_id += 2
            key = (("key", write.param("key")),)
            replaced[id(equation)] = [
                Equation("index", (target, *positions), (slot,), key, equation.location),
                Equation("add", (slot, gradient), (summed,), (), equation.location),
                Equation("index_set", (target, summed, *positions), equation.outputs, key, equation.location),
            ]
            dropped.update((id(write), id(producers[write.inputs[0].id])))  # type: ignore[union-attr]
            producers[equation.output.id] = replaced[id(equation)][-1]  # a scatter in turn
            root = _root(target, producers)  # type: ignore[arg-type]
            if equation.output.name and not root.name:
                names[root.id] = equation.output  # the array written in place takes the sum's name
            break
    if not replaced:
        return graph
    equations = [new for eq in graph.equations if id(eq) not in dropped for new in replaced.get(id(eq), [eq])]
    return rename(Graph(graph.inputs, tuple(equations), graph.outputs), names)


def _root(value: Value, producers: dict[int, Equation]) -> Value:
    """The array a chain of writes writes into (the writes' results take its name)."""
    while value.id in producers and producers[value.id].op == "index_set":
        value = producers[value.id].inputs[0]  # type: ignore[assignment]
    return value


def selected_shape(key: tuple[Hashable, ...], shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape of ``x[key]`` for an ``x`` of ``shape``; None where a list of indices may
    select a position twice, or where a run-time slice bound decides the shape."""
    if any(isinstance(entry, tuple) and DYNAMIC in entry for entry in key):
        return None
    # a run-time integer selects one position: any valid one (0) gives the same shape and
    # repeats the same positions
    positions = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)
    selected = positions[python_key(tuple(0 if entry == DYNAMIC else entry for entry in key))]
    if np.unique(selected).size != selected.size:
        return None
    return selected.shape
