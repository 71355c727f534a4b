"""Stamping shapes on a graph for concrete arguments, through branches and loops.

``stamp_shapes(graph, arguments)`` returns the graph with ``shape`` and ``dtype`` set on every
value whose facts (``shapes.infer``) hold wherever the value is computed; a value whose facts
cannot be known keeps ``shape=None``, and so does everything computed from it, so
``passes.specialize`` leaves those equations generic. Guarantees:

- Straight-line code: every value is stamped, or ``ShapeError`` is raised (the caller then keeps
  the generic backward, which fails, if it must, exactly as numpy does).
- ``cond``: each branch is stamped for the operands' facts; an output is stamped when both
  branches give it the same facts. A branch that numpy would reject for these facts stays
  generic (it may never run).
- ``loop``/``while``: the body is one piece of code for every iteration, so a carried value is
  stamped only when its facts are a fixed point: the same before the loop and after any number
  of iterations. The body is walked from the initial facts; a carried value whose facts change
  becomes unknown, and the walk repeats until nothing changes (at most once per carried value).
  A loop's outputs then have the facts of zero iterations as well. The stack a forward loop
  records carries the facts of the values it holds to the backward loop that pops them. A body
  that numpy would reject for these facts keeps the whole loop generic.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence, Union

from gradgen.ir import Atom, Constant, Equation, Graph, Value, branches, loop_layout, map_values, with_subgraphs
from gradgen.ops import DYNAMIC, OPS
from gradgen.shapes import Fact, ShapeError, argument_fact, infer, resolve_dynamic, size_value, SIZE_OPS

# Ops with a ``key`` whose run-time positions do not change their result's shape: reads, writes,
# and the backward helpers that scatter into (``unindex``) or gather from (``written_gradient``) it.
_KEYED = frozenset({"index", "index_set", "unindex", "written_gradient"})


@dataclass(frozen=True)
class StackFact:
    """A forward loop's stack: the facts of the values each iteration records (None: unknown)."""

    popped: tuple[Fact | None, ...]


Known = Union[Fact, StackFact]
_COUNTER: Fact = ((), "py:int")  # a loop's index, and a while loop's iteration count


def stamp_shapes(graph: Graph, arguments: Sequence[Any]) -> Graph:
    """``graph`` with ``shape`` and ``dtype`` set on every value they are known for."""
    facts: dict[int, Known] = {value.id: argument_fact(argument) for value, argument in zip(graph.inputs, arguments)}
    return _Scope(facts, {}).stamp(graph)[0]


class _Scope:
    """The facts of one graph's values (a sub-graph is a scope of its own) and the known sizes."""

    def __init__(self, facts: dict[int, Known], sizes: dict[int, int]):
        self.facts = facts
        self.sizes = sizes  # values of x.shape[i], len(x)...: shapes may be built from them

    def fact(self, atom: Atom) -> Known | None:
        if isinstance(atom, Constant):
            return _constant_fact(atom)
        return self.facts.get(atom.id)

    def stamp(self, graph: Graph) -> tuple[Graph, tuple[Known | None, ...]]:
        """``graph`` stamped, and the facts of its outputs."""
        equations = []
        for equation in graph.equations:
            if OPS[equation.op].family == "control":
                equation = self.control(equation)
            else:
                self.infer(equation)
            equations.append(equation)

        def stamp(atom: Atom) -> Atom:
            fact = self.facts.get(atom.id) if isinstance(atom, Value) else None
            if isinstance(fact, tuple):
                return dataclasses.replace(atom, shape=fact[0], dtype=fact[1])
            return atom

        stamped = map_values(Graph(graph.inputs, tuple(equations), graph.outputs), stamp)
        return stamped, tuple(self.fact(atom) for atom in graph.outputs)

    def infer(self, equation: Equation) -> None:
        inputs = [self.fact(atom) for atom in equation.inputs]
        if not all(isinstance(fact, tuple) for fact in inputs):
            return  # an unknown input: the output is unknown too
        try:
            resolved = resolve_dynamic(equation, self.sizes_for(equation))
        except KeyError:
            return  # a shape built from a size that is not known here
        try:
            self.facts[equation.output.id] = infer(resolved, inputs)  # type: ignore[arg-type]
            if equation.op in SIZE_OPS:
                self.sizes[equation.output.id] = size_value(resolved, inputs[0][0])  # type: ignore[index]
        except (ValueError, TypeError, IndexError, ArithmeticError, KeyError) as error:
            raise ShapeError(f"{equation}: {error}") from None

    def sizes_for(self, equation: Equation) -> dict[int, int]:
        """The known sizes, plus any valid position (0) for the run-time integers of ``x[i]`` and
        ``H[i] = v``: its shape is the same for every ``i`` in bounds (numpy raises for the others)."""
        key = equation.param("key", ()) if equation.op in _KEYED else ()
        if not any(entry == DYNAMIC for entry in key) or any(isinstance(entry, tuple) and DYNAMIC in entry for entry in key):  # type: ignore[union-attr]
            return self.sizes  # no run-time position, or a run-time slice bound: its value counts
        positions = {atom.id: 0 for atom in equation.inputs[1:] if isinstance(atom, Value) and _is_integer(self.facts.get(atom.id))}
        return {**positions, **self.sizes}  # an index array is no position: its shape counts

    def enter(self, graph: Graph, operands: Sequence[Atom | None], facts: Sequence[Known | None]) -> _Scope:
        """The scope of a sub-graph whose inputs take these facts; operands pass their sizes in
        (None: an input whose value changes, such as a loop's index or carried values)."""
        inner = {value.id: fact for value, fact in zip(graph.inputs, facts) if fact is not None}
        sizes = {}
        for value, atom in zip(graph.inputs, operands):
            if isinstance(atom, Value) and atom.id in self.sizes:
                sizes[value.id] = self.sizes[atom.id]
            elif isinstance(atom, Constant) and type(atom.value) is int:
                sizes[value.id] = atom.value
        return _Scope(inner, sizes)

    def control(self, equation: Equation) -> Equation:
        if equation.op == "cond":
            return self.cond(equation)
        return self.loop(equation)

    def cond(self, equation: Equation) -> Equation:
        operands = equation.inputs[1:]
        facts = [self.fact(atom) for atom in operands]
        stamped, results = [], []
        for branch in branches(equation):
            try:
                graph, outputs = self.enter(branch, operands, facts).stamp(branch)
            except ShapeError:
                graph, outputs = branch, (None,) * len(branch.outputs)  # numpy rejects it: generic
            stamped.append(graph)
            results.append(outputs)
        for value, then_fact, else_fact in zip(equation.outputs, *results):
            if then_fact is not None and then_fact == else_fact:
                self.facts[value.id] = then_fact
        return with_subgraphs(equation, tuple(stamped))

    def loop(self, equation: Equation) -> Equation:
        layout = loop_layout(equation)
        body: Graph = equation.param("body")  # type: ignore[assignment]
        initial, invariants = layout.initial(equation), layout.invariants(equation)
        invariant_facts = [self.fact(atom) for atom in invariants]
        popped: tuple[Known | None, ...] = ()
        if layout.pops:
            stack = self.fact(equation.inputs[-1])
            popped = stack.popped if isinstance(stack, StackFact) else (None,) * layout.pops
        operands = (None, *(None for _ in initial), *invariants)  # only invariants keep their sizes
        carried = [self.fact(atom) for atom in initial]
        try:
            for _ in range(len(carried) + 1):
                facts = [_COUNTER, *carried, *invariant_facts, *popped]
                stamped, outputs = self.enter(body, operands, facts).stamp(body)
                fixed = [fact if fact == output else None for fact, output in zip(carried, outputs)]
                if fixed == carried:
                    break
                carried = fixed
            else:
                raise ShapeError("no fixed point")  # cannot happen: each round forgets a carried value
            graphs = {"body": stamped}
            recorded: tuple[Known | None, ...] = ()
            if layout.record is not None:  # the values pushed, computed from the body's inputs
                graphs["record"], recorded = self.enter(layout.record, operands, facts[: len(layout.record.inputs)]).stamp(layout.record)
            if equation.op == "while":
                test: Graph = equation.param("test")  # type: ignore[assignment]
                graphs["test"] = self.enter(test, operands[1:], [*carried, *invariant_facts]).stamp(test)[0]
        except ShapeError:
            return equation  # numpy rejects the body for these facts: the loop stays generic
        results: list[Known | None] = list(carried)
        if equation.op == "while":
            results.append(_COUNTER)
        if layout.record is not None:
            results.append(StackFact(recorded))  # type: ignore[arg-type]
        for value, fact in zip(equation.outputs, results):
            if fact is not None:
                self.facts[value.id] = fact
        return with_subgraphs(equation, tuple(graphs[name] for name, value in equation.params if isinstance(value, Graph)))


def _constant_fact(constant: Constant) -> Fact | None:
    python = {bool: "py:bool", int: "py:int", float: "py:float"}.get(type(constant.value))
    return None if python is None else ((), python)


def _is_integer(fact: Known | None) -> bool:
    return isinstance(fact, tuple) and fact[0] == () and (fact[1] == "py:int" or fact[1].startswith(("int", "uint")))
