"""Replacing values by other atoms throughout a graph, the common step of every pass."""

from __future__ import annotations

import dataclasses
from typing import Callable

from gradgen.ir import Atom, Equation, Graph, Value, map_values, subgraphs, with_atoms, with_subgraphs


def substitute(atom: Atom, replacements: dict[int, Atom]) -> Atom:
    if isinstance(atom, Value):
        return replacements.get(atom.id, atom)
    return atom


def substitute_inputs(equation: Equation, replacements: dict[int, Atom]) -> Equation:
    # Every pass calls this on every equation, and most equations read nothing replaced: a
    # plain scan settles those without building a tuple (compile time).
    for atom in equation.inputs:
        if isinstance(atom, Value) and atom.id in replacements:
            break
    else:
        return equation
    inputs = tuple(substitute(a, replacements) for a in equation.inputs)
    if inputs == equation.inputs:
        return equation
    return with_atoms(equation, inputs, equation.outputs)


def rebuild(graph: Graph, equations: list[Equation], replacements: dict[int, Atom]) -> Graph:
    """``graph`` with new ``equations`` and its outputs substituted.

    A user name is never lost to a rewrite: when a named value was replaced by an unnamed
    temporary, the temporary takes the name (``grad_s3 = -(-t)`` -> ``grad_s3 = t``).
    """
    outputs = tuple(substitute(a, replacements) for a in graph.outputs)
    named = {v.id: v for eq in graph.equations for v in eq.outputs if v.name}
    adopted: dict[int, Value] = {}
    for old_id, atom in replacements.items():
        old = named.get(old_id)
        if old is not None and isinstance(atom, Value) and not atom.name and atom.id not in adopted:
            adopted[atom.id] = old
    result = Graph(graph.inputs, tuple(equations), outputs)
    return rename(result, adopted) if adopted else result


def rename(graph: Graph, names: dict[int, Value]) -> Graph:
    """``graph`` with the values whose ids are in ``names`` given those values' names (and
    dtypes, where known): inputs and equation outputs alike."""

    def fix(atom: Atom) -> Atom:
        if isinstance(atom, Value) and atom.id in names:
            source = names[atom.id]
            return dataclasses.replace(atom, name=source.name, adjoint_of=source.adjoint_of, dtype=source.dtype or atom.dtype)
        return atom

    return map_values(graph, fix, only=names.keys())


def map_branches(equation: Equation, run_pass: Callable[[Graph], Graph]) -> Equation:
    """``equation`` with ``run_pass`` applied to its sub-graphs (a cond's branches, a loop's body)."""
    graphs = subgraphs(equation)
    if not graphs:
        return equation
    new = tuple(run_pass(graph) for graph in graphs)
    if all(a is b for a, b in zip(new, graphs)):
        return equation
    return with_subgraphs(equation, new)
