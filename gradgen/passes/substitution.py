"""Replacing values by other atoms throughout a graph, the common step of every pass."""

from __future__ import annotations

import dataclasses

from gradgen.ir import Atom, Equation, Value


def substitute(atom: Atom, replacements: dict[int, Atom]) -> Atom:
    if isinstance(atom, Value):
        return replacements.get(atom.id, atom)
    return atom


def substitute_inputs(equation: Equation, replacements: dict[int, Atom]) -> Equation:
    if not replacements:
        return equation
    inputs = tuple(substitute(a, replacements) for a in equation.inputs)
    if inputs == equation.inputs:
        return equation
    return dataclasses.replace(equation, inputs=inputs)
