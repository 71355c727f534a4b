"""The computation graph: small, frozen, SSA data.

A ``Graph`` has input ``Value``s, a tuple of ``Equation``s in a valid evaluation order, and
output atoms. An ``Equation`` applies one op (see ``ops.py``) to atoms (``Value`` or
``Constant``) and defines fresh output values; every value is defined exactly once.
Nodes are never mutated: passes build new graphs (``dataclasses.replace``).

Guarantees checked by ``verify``: every value is defined once, before it is used; each op's
arity matches the op table; every output is defined. ``str(graph)`` prints the graph like a
jaxpr, one equation per line.

Control flow is structured: an ``if`` is one equation ``outs = cond(predicate, *operands)``
whose params ``then`` and ``else`` hold two closed sub-graphs (see ``branches``). Each takes the
operands, in order, and returns the cond's outputs. A sub-graph is its own scope: its ids are
unique within it, and may repeat ids of the enclosing graph. A ``for`` loop over a range is one
equation ``outs = loop(start, stop, step, *initial, *invariant)`` whose param ``body`` maps
``(i, *carried, *invariant, *popped)`` to the carried values of the next iteration (see
``loop_layout``): the outputs are the carried values after the last iteration. A ``while`` loop
is ``outs = while(*initial, *invariant)`` with params ``test`` (``(*carried, *invariant)`` to
the condition) and ``body``; its outputs are the carried values and the number of iterations.
A loop whose backward needs values of its iterations has one more sub-graph, ``record``: it maps
``(i, *carried, *invariant)``, the body's inputs, to the values pushed on a stack at the start
of each iteration (the stack is the loop's last output); its backward loop pops them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Container, Hashable, Union

from gradgen.errors import SourceLocation


@dataclass(frozen=True, slots=True)
class Value:
    """An SSA value. ``id`` is unique within a graph; ``name`` is only a hint for the emitter.

    ``scalar`` is True when the value is known at compile time to be a scalar (a Python or
    numpy number, shape ``()``); the emitter then spells math with ``math.*`` and the reverse
    pass needs no broadcasting reductions for it.
    """

    id: int
    name: str = ""
    scalar: bool = False
    # For an adjoint: the id of the value it is the gradient of (the emitter names it after it).
    adjoint_of: int | None = None
    # Known only in a graph specialized for concrete arguments (see shapes.py): the shape, and
    # the dtype ("float64"...; "float"/"int"/"bool" for Python numbers).
    shape: tuple[int, ...] | None = None
    dtype: str | None = None

    def __hash__(self) -> int:
        # The id alone: equal values have equal ids, and hashing one int instead of six fields
        # keeps CSE tables and id sets cheap (compile time).
        return hash(self.id)

    def __str__(self) -> str:
        if self.shape is not None:
            kind = f":{self.dtype}[{','.join(map(str, self.shape))}]"
        else:
            kind = ":scalar" if self.scalar else ""
        return f"{self.name or 't'}#{self.id}{kind}"


@dataclass(frozen=True, slots=True, eq=False)
class Constant:
    """A literal. Equality includes the Python type, so ``1``, ``1.0`` and ``True`` differ."""

    value: Hashable

    def _key(self) -> tuple[type, Hashable]:
        return (type(self.value), self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constant) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def is_number(self) -> bool:
        return isinstance(self.value, (int, float)) and not isinstance(self.value, bool)

    def __str__(self) -> str:
        return repr(self.value)


Atom = Union[Value, Constant]
Params = tuple[tuple[str, Hashable], ...]


@dataclass(frozen=True, slots=True)
class Equation:
    """``outputs = op(*inputs, **params)``; ``location`` points at the user's source."""

    op: str
    inputs: tuple[Atom, ...]
    outputs: tuple[Value, ...]
    params: Params = ()
    location: SourceLocation | None = field(default=None, compare=False)
    # True for the user's own computations: they are always recomputed, as written, so the
    # gradient raises wherever the forward raises.
    forward: bool = field(default=False, compare=False)

    @property
    def output(self) -> Value:
        return self.outputs[0]

    def param(self, name: str, default: Hashable = None) -> Hashable:
        for key, value in self.params:
            if key == name:
                return value
        return default

    def __str__(self) -> str:
        outs = " ".join(str(v) for v in self.outputs)
        args = " ".join(str(a) for a in self.inputs)
        params = "".join(f" {k}={v!r}" for k, v in self.params if not isinstance(v, Graph))
        text = f"{outs} = {self.op}{params} {args}".rstrip()
        for key, value in self.params:
            if isinstance(value, Graph):
                text += f"\n  {key}:\n" + "\n".join("    " + line for line in str(value).splitlines())
        return text


@dataclass(frozen=True, slots=True)
class Graph:
    inputs: tuple[Value, ...]
    equations: tuple[Equation, ...]
    outputs: tuple[Atom, ...]

    def __str__(self) -> str:
        head = "{ lambda " + " ".join(str(v) for v in self.inputs) + " ."
        body = ["    " + line for eq in self.equations for line in str(eq).splitlines()]
        tail = "  in (" + ", ".join(str(a) for a in self.outputs) + ") }"
        return "\n".join([head, *body, tail])


def with_atoms(equation: Equation, inputs: tuple[Atom, ...], outputs: tuple[Value, ...]) -> Equation:
    """``equation`` reading ``inputs`` and defining ``outputs``: ``dataclasses.replace`` at a
    third of its cost, for the passes that rebuild equations by the thousand (compile time)."""
    return Equation(equation.op, inputs, outputs, equation.params, equation.location, equation.forward)


class GraphError(AssertionError):
    """A malformed graph: always a bug in gradgen, never the user's fault."""


def branches(equation: Equation) -> tuple[Graph, Graph]:
    """The ``then`` and ``else`` sub-graphs of a ``cond`` equation."""
    return equation.param("then"), equation.param("else")  # type: ignore[return-value]


def with_branches(equation: Equation, then: Graph, orelse: Graph) -> Equation:
    """``equation`` (a cond) with new sub-graphs, its other params kept."""
    params = tuple((k, then if k == "then" else orelse if k == "else" else v) for k, v in equation.params)
    return replace(equation, params=params)


def subgraphs(equation: Equation) -> tuple[Graph, ...]:
    """The sub-graphs an equation holds (a cond's branches, a loop's body), in param order."""
    if not equation.params:
        return ()
    return tuple(value for _, value in equation.params if isinstance(value, Graph))


def with_subgraphs(equation: Equation, graphs: tuple[Graph, ...]) -> Equation:
    """``equation`` with its sub-graphs replaced, in the order ``subgraphs`` lists them."""
    replacements = iter(graphs)
    return replace(equation, params=tuple((k, next(replacements) if isinstance(v, Graph) else v) for k, v in equation.params))


@dataclass(frozen=True)
class LoopLayout:
    """How a loop equation's inputs and its body's inputs divide up.

    The equation's inputs are ``(start, stop, step, *initial, *invariant)``, plus the stack of
    recorded values when ``pops`` (a backward loop); its outputs are the carried values, plus
    the stack when ``record``, a graph from the body's ``(i, *carried, *invariant)`` to the
    values to push on it each iteration, is set (a forward loop whose backward needs them). The
    body takes ``(i, *carried, *invariant, *popped)`` and returns the carried values; a
    ``reverse`` loop runs over ``reversed(range(...))``.
    """

    carried: int
    invariant: int
    pops: int
    record: Graph | None
    reverse: bool
    bounds: int = 3  # (start, stop, step) come first in a for loop's inputs; a while has none

    def initial(self, equation: Equation) -> tuple[Atom, ...]:
        return equation.inputs[self.bounds : self.bounds + self.carried]

    def invariants(self, equation: Equation) -> tuple[Atom, ...]:
        start = self.bounds + self.carried
        return equation.inputs[start : start + self.invariant]


def loop_layout(equation: Equation) -> LoopLayout:
    """The layout of a ``loop`` or ``while`` equation (a while's outputs add the iteration count)."""
    body: Graph = equation.param("body")  # type: ignore[assignment]
    carried = len(body.outputs)
    pops = int(equation.param("pops", 0))  # type: ignore[arg-type]
    bounds = 3 if equation.op == "loop" else 0
    return LoopLayout(carried, len(body.inputs) - 1 - carried - pops, pops, equation.param("record"), bool(equation.param("reverse", False)), bounds)  # type: ignore[arg-type]


def verify(graph: Graph) -> Graph:
    """Check SSA form, arities and outputs; return the graph unchanged so it can be chained.

    Sub-graphs are checked too, each as its own scope, and against the cond that holds them.
    """
    from gradgen.ops import OPS

    defined: set[int] = set()
    for value in graph.inputs:
        if value.id in defined:
            raise GraphError(f"input {value} defined twice")
        defined.add(value.id)
    for equation in graph.equations:
        spec = OPS.get(equation.op)
        if spec is None:
            raise GraphError(f"unknown op {equation.op!r} in {equation}")
        if spec.arity is not None and len(equation.inputs) != spec.arity:
            raise GraphError(f"{equation.op} takes {spec.arity} inputs: {equation}")
        for atom in equation.inputs:
            if isinstance(atom, Value) and atom.id not in defined:
                raise GraphError(f"{atom} used before it is defined in {equation}")
        if equation.op == "cond":
            _verify_cond(equation)
        if equation.op in ("loop", "while"):
            _verify_loop(equation)
        for value in equation.outputs:
            if value.id in defined:
                raise GraphError(f"{value} defined twice (SSA violated) in {equation}")
            defined.add(value.id)
    for atom in graph.outputs:
        if isinstance(atom, Value) and atom.id not in defined:
            raise GraphError(f"output {atom} is never defined")
    return graph


def _verify_cond(equation: Equation) -> None:
    if not equation.inputs:
        raise GraphError(f"cond without a predicate: {equation}")
    for branch in branches(equation):
        if not isinstance(branch, Graph):
            raise GraphError(f"cond without two sub-graphs: {equation}")
        verify(branch)
        if len(branch.inputs) != len(equation.inputs) - 1:
            raise GraphError(f"a branch takes {len(branch.inputs)} operands, the cond passes {len(equation.inputs) - 1}: {equation}")
        if len(branch.outputs) != len(equation.outputs):
            raise GraphError(f"a branch returns {len(branch.outputs)} values, the cond defines {len(equation.outputs)}: {equation}")


def _verify_loop(equation: Equation) -> None:
    body = equation.param("body")
    if not isinstance(body, Graph):
        raise GraphError(f"loop without a body: {equation}")
    verify(body)
    layout = loop_layout(equation)
    expected_inputs = layout.bounds + layout.carried + layout.invariant + (1 if layout.pops else 0)
    if layout.invariant < 0 or len(equation.inputs) != expected_inputs:
        raise GraphError(f"a loop's inputs do not match its body's: {equation}")
    count = 1 if equation.op == "while" else 0
    if len(equation.outputs) != layout.carried + count + (1 if layout.record is not None else 0):
        raise GraphError(f"a loop's outputs do not match its body's: {equation}")
    if layout.record is not None:
        if not isinstance(layout.record, Graph) or len(layout.record.inputs) != 1 + layout.carried + layout.invariant:
            raise GraphError(f"a loop's record does not take its body's inputs: {equation}")
        verify(layout.record)
    if equation.op == "while":
        test = equation.param("test")
        if not isinstance(test, Graph) or len(test.outputs) != 1 or len(test.inputs) != layout.carried + layout.invariant:
            raise GraphError(f"a while loop's test does not match its body: {equation}")
        verify(test)


def is_constant_number(atom: Atom, number: float) -> bool:
    """True if ``atom`` is a numeric constant equal to ``number`` (``1`` and ``1.0`` alike)."""
    return (
        isinstance(atom, Constant)
        and atom.is_number
        and not (isinstance(atom.value, float) and math.isnan(atom.value))
        and atom.value == number
    )


def map_values(graph: Graph, fix: Callable[[Atom], Atom], only: Container[int] | None = None) -> Graph:
    """``graph`` with ``fix`` applied to every atom of its top level: inputs, equation inputs
    and outputs, graph outputs (used to restamp or rename values consistently). ``only``, if
    given, holds the ids of every value ``fix`` changes: it returns every other atom as it is.

    An equation ``fix`` leaves unchanged is kept as the same object: a rename touching a few
    values costs one tuple comparison per equation, not a new equation (compile time); with
    ``only``, an equation that reads and defines none of those values costs a scan of its
    atoms, not a call of ``fix`` per atom."""
    equations = []
    for eq in graph.equations:
        if only is not None and not _mentions(eq, only):
            equations.append(eq)
            continue
        inputs = tuple(fix(a) for a in eq.inputs)
        outputs = tuple(fix(v) for v in eq.outputs)
        if not (_same_atoms(inputs, eq.inputs) and _same_atoms(outputs, eq.outputs)):
            eq = with_atoms(eq, inputs, outputs)  # type: ignore[arg-type]
        equations.append(eq)
    return Graph(
        tuple(fix(v) for v in graph.inputs),  # type: ignore[misc]
        tuple(equations),
        tuple(fix(a) for a in graph.outputs),
    )


def _mentions(equation: Equation, ids: Container[int]) -> bool:
    for atom in equation.inputs:
        if isinstance(atom, Value) and atom.id in ids:
            return True
    for value in equation.outputs:
        if value.id in ids:
            return True
    return False


def _same_atoms(new: tuple[Atom, ...], old: tuple[Atom, ...]) -> bool:
    return all(a is b for a, b in zip(new, old))


def uses(graph: Graph) -> dict[int, int]:
    """How many times each value id is read by equations and outputs."""
    counts: dict[int, int] = {}
    for equation in graph.equations:
        for atom in equation.inputs:
            if isinstance(atom, Value):
                counts[atom.id] = counts.get(atom.id, 0) + 1
    for atom in graph.outputs:
        if isinstance(atom, Value):
            counts[atom.id] = counts.get(atom.id, 0) + 1
    return counts
