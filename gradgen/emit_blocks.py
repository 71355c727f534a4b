"""Emitting control flow: a cond -> a Python ``if``/``else``, a loop -> a ``for`` statement.

A cond is a Python ``if``/``else``: each branch's statements, then one (tuple) assignment of
the branch's results to the names the cond's outputs take after it. Names are chosen over the
statements in textual order (``_events``), with each branch's liveness; as only one branch
runs, a name read in one branch may be reused in the other. A value a branch reads is never
inlined into it.

A loop is a Python ``for`` over ``range(...)`` (``reversed(range(...))`` for a backward loop):
the carried values are assigned their initial values before it and keep one name throughout;
a forward loop whose backward needs them appends what its record graph computes from the
iteration's inputs (carried values, or copies of views of them) to a list at the start of
each iteration, and the backward loop pops them. What the body reads from outside the loop
stays live until the loop ends.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from gradgen.ir import (
    Atom,
    Equation,
    Graph,
    Value,
    branches,
    loop_layout,
    subgraphs,
    with_subgraphs,
)


@dataclass
class _Statement:
    equation: Equation
    expression: ast.expr
    reads: list[int]
    target: str | None = None
    stored: ast.expr | None = None  # an in-place write: ``expression[...] = stored``


@dataclass
class _If:
    equation: Equation
    test: ast.expr
    reads: list[int]
    # Per branch: its statements, the expressions of its results and what they read.
    branches: list[tuple[list[_Statement | _If], list[ast.expr], list[int]]] = dataclasses.field(default_factory=list)
    targets: list[str] = dataclasses.field(default_factory=list)


@dataclass
class _IfEnd:
    """The point after an if, where its outputs are named."""

    conditional: _If


@dataclass
class _Loop:
    equation: Equation
    bounds: list[ast.expr]
    initial: list[ast.expr]
    reads: list[int]  # of the bounds, the initial values and the stack popped from
    stack: ast.expr | None  # the list a backward loop pops from
    pushed: list[ast.expr]
    push_reads: list[int]
    body: list[_Statement | _If | _Loop]
    results: list[ast.expr]
    result_reads: list[int]
    live_to_end: list[int]  # values the body reads from outside, live until the loop ends
    # A while loop's test: its statements, the condition and what they read.
    test: list[_Statement | _If | _Loop] | None = None
    condition: ast.expr | None = None
    test_reads: list[int] = dataclasses.field(default_factory=list)
    record: list[_Statement | _If | _Loop] = dataclasses.field(default_factory=list)  # what the push reads
    targets: list[str] = dataclasses.field(default_factory=list)
    index: str = ""
    stack_target: str | None = None
    count_target: str | None = None
    popped: list[str] = dataclasses.field(default_factory=list)


@dataclass
class _LoopPop:
    """The start of an iteration, where the popped values are named."""

    loop: _Loop


def _events(items: list[_Statement | _If | _Loop]) -> Iterator[tuple[object, list[int]]]:
    """Each statement with the values it reads, in textual order, an if's branches inline."""
    for item in items:
        yield item, item.reads
        if isinstance(item, _If):
            for statements, _, result_reads in item.branches:
                yield from _events(statements)
                yield None, result_reads
            yield _IfEnd(item), []
        elif isinstance(item, _Loop):
            if item.test is not None:
                yield from _events(item.test)
                yield None, item.test_reads
            yield from _events(item.record)
            yield _LoopPop(item), item.push_reads
            yield from _events(item.body)
            yield None, item.result_reads
            yield None, item.live_to_end


class BlockEmission:
    """Mixed into ``emit._Emitter``: the statements of a scope, with its ifs and loops."""

    if TYPE_CHECKING:  # provided by emit._Emitter
        aliases: dict[int, Atom]
        carried_targets: dict[int, tuple[int, int]]
        inlined: set[int]
        value_names: dict[int, str]
        use_counts: dict[int, int]
        names: Any

        def prepare(self, graph: Graph) -> None: ...

        def expression(self, atom: Atom, reads: list[int]) -> ast.expr: ...

        def equation_expression(self, equation: Equation, reads: list[int]) -> ast.expr: ...

        def in_place_write(self, equation: Equation, reads: list[int]) -> tuple[ast.expr, ast.expr]: ...

        def target(self, value: Value, position: int, last_use: dict[int, int], parameters: dict[str, int], *, required: bool) -> str | None: ...

        def comments_before(self, equation: Equation) -> list[ast.stmt]: ...

        def assignment(self, target: str, equation: Equation, expression: ast.expr) -> list[ast.stmt]: ...

    def block(self, graph: Graph) -> list[_Statement | _If]:
        """The statements of one scope, their expressions built (names are patched in later)."""
        items: list[_Statement | _If] = []
        for equation in graph.equations:
            reads: list[int] = []
            if equation.op == "cond":
                test = self.expression(equation.inputs[0], reads)
                conditional = _If(equation, test, reads)
                for branch in branches(equation):
                    self.aliases.update((v.id, a) for v, a in zip(branch.inputs, equation.inputs[1:]))
                    self.prepare(branch)
                    statements = self.block(branch)
                    result_reads: list[int] = []
                    results = [self.expression(atom, result_reads) for atom in branch.outputs]
                    conditional.branches.append((statements, results, result_reads))
                items.append(conditional)
            elif equation.op in ("loop", "while"):
                items.append(self.loop(equation))
            elif equation.param("in_place"):
                target, value = self.in_place_write(equation, reads)
                items.append(_Statement(equation, target, reads, stored=value))
            elif equation.output.id not in self.inlined:
                items.append(_Statement(equation, self.equation_expression(equation, reads), reads))
        return items

    def loop(self, equation: Equation) -> _Loop:
        layout = loop_layout(equation)
        body: Graph = equation.param("body")  # type: ignore[assignment]
        reads: list[int] = []
        bounds = [self.expression(a, reads) for a in equation.inputs[: layout.bounds]]
        initial = [self.expression(a, reads) for a in layout.initial(equation)]
        stack_reads: list[int] = []  # popped on every iteration
        stack = self.expression(equation.inputs[-1], stack_reads) if layout.pops else None
        reads += stack_reads
        invariant_inputs = body.inputs[1 + layout.carried : 1 + layout.carried + layout.invariant]
        self.aliases.update((v.id, a) for v, a in zip(invariant_inputs, layout.invariants(equation)))
        for position, value in enumerate(body.outputs):
            if isinstance(value, Value) and value.id not in self.carried_targets:
                self.carried_targets[value.id] = (equation.outputs[position].id, body.inputs[1 + position].id)
        test_items, condition, test_reads, test_inside = None, None, [], set()
        if equation.op == "while":
            test: Graph = equation.param("test")  # type: ignore[assignment]
            self.aliases.update((v.id, a) for v, a in zip(test.inputs[layout.carried :], layout.invariants(equation)))
            self.prepare(test)
            test_items = self.block(test)
            condition = self.expression(test.outputs[0], test_reads)
            test_inside = _defined_ids(test)
        self.prepare(body)
        record_items: list[_Statement | _If | _Loop] = []
        push_reads: list[int] = []
        pushed = []
        if layout.record is not None:  # computed from the body's inputs, at the start of an iteration
            self.aliases.update((v.id, a) for v, a in zip(layout.record.inputs, body.inputs))
            self.prepare(layout.record)
            record_items = self.block(layout.record)  # type: ignore[assignment]
            pushed = [self.expression(a, push_reads) for a in layout.record.outputs]
        statements = self.block(body)
        result_reads: list[int] = []
        results = [self.expression(a, result_reads) for a in body.outputs]
        inside = _defined_ids(body) | test_inside | (_defined_ids(layout.record) if layout.record is not None else set())
        read_inside = [i for _, r in _events(statements + (test_items or []) + record_items) for i in r] + result_reads + push_reads + test_reads
        live = [i for i in read_inside if i not in inside] + [v.id for v in equation.outputs] + [body.inputs[0].id] + stack_reads
        loop = _Loop(equation, bounds, initial, reads, stack, pushed, push_reads, statements, results, result_reads, live)
        loop.test, loop.condition, loop.test_reads = test_items, condition, test_reads
        loop.record = record_items
        return loop

    def name_loop(self, item: _Loop, position: int, last_use: dict[int, int], parameters: dict[str, int]) -> None:
        """Name the carried values (one name each, for the loop's outputs and its body's inputs),
        the loop variable and the stack, where the loop starts."""
        layout = loop_layout(item.equation)
        body: Graph = item.equation.param("body")  # type: ignore[assignment]
        outputs = item.equation.outputs
        item.targets = [self.target(v, position, last_use, parameters, required=True) for v in outputs[: layout.carried]]  # type: ignore[misc]
        for value, name in zip(body.inputs[1 : 1 + layout.carried], item.targets):
            self.value_names[value.id] = name
        if item.equation.op == "while":
            test: Graph = item.equation.param("test")  # type: ignore[assignment]
            for value, name in zip(test.inputs, item.targets):
                self.value_names[value.id] = name
            count = outputs[layout.carried]
            if self.use_counts.get(count.id, 0):  # the backward runs as many times
                item.count_target = self.target(count, position, last_use, parameters, required=True)
            if layout.record is not None:
                item.stack_target = self.target(outputs[-1], position, last_use, parameters, required=True)
            return
        index = body.inputs[0]
        item.index = self.names.versioned(index.name or "i", index.id, position, last_use, parameters)
        self.value_names[index.id] = item.index
        if layout.record is not None:
            item.stack_target = self.target(outputs[-1], position, last_use, parameters, required=True)

    def statements(self, items: list[_Statement | _If | _Loop], *, top: bool) -> list[ast.stmt]:
        body: list[ast.stmt] = []
        for item in items:
            if top:
                body += self.comments_before(item.equation)
            if isinstance(item, _Loop):
                body += self.loop_statements(item)
                continue
            if isinstance(item, _Statement):
                if item.stored is not None:
                    body.append(ast.Assign([item.expression], item.stored, lineno=0))
                elif item.target is None:
                    body.append(ast.Expr(item.expression))  # computed for its errors only
                else:
                    body += self.assignment(item.target, item.equation, item.expression)
                continue
            blocks = []
            for statements, results, _ in item.branches:
                blocks.append(self.statements(statements, top=False) + _assignment(item.targets, results))
            then, orelse = blocks
            if not then:
                then = [ast.Pass()]
            body.append(ast.If(item.test, then, orelse))
        return body

    def while_statement(self, item: _Loop) -> list[ast.stmt]:
        """``while condition:`` (``while True:`` + test + ``break`` when the test has statements),
        counting the iterations where the backward needs the count."""
        statements: list[ast.stmt] = []
        if item.count_target is not None:
            statements.append(ast.Assign([ast.Name(item.count_target, ast.Store())], ast.Constant(0), lineno=0))
        body: list[ast.stmt] = []
        body += self.push(item)
        body += self.statements(item.body, top=False) + _assignment(item.targets, item.results)
        if item.count_target is not None:
            count = ast.Name(item.count_target, ast.Load())
            body.append(ast.Assign([ast.Name(item.count_target, ast.Store())], ast.BinOp(count, ast.Add(), ast.Constant(1)), lineno=0))
        assert item.test is not None and item.condition is not None
        test = self.statements(item.test, top=False)
        if not test:
            return [*statements, ast.While(item.condition, body or [ast.Pass()], [])]
        stop = ast.If(ast.UnaryOp(ast.Not(), item.condition), [ast.Break()], [])
        return [*statements, ast.While(ast.Constant(True), [*test, stop, *body], [])]

    def push(self, item: _Loop) -> list[ast.stmt]:
        """The record's statements, then ``stack.append(...)`` (nothing where nothing is recorded)."""
        if item.stack_target is None:
            return []
        pushed = item.pushed[0] if len(item.pushed) == 1 else ast.Tuple(item.pushed, ast.Load())
        append = ast.Call(ast.Attribute(ast.Name(item.stack_target, ast.Load()), "append", ast.Load()), [pushed], [])
        return [*self.statements(item.record, top=False), ast.Expr(append)]

    def loop_statements(self, item: _Loop) -> list[ast.stmt]:
        """``carried = initial``, ``stack = []``, then ``for i in range(...)``: push or pop, the body,
        ``carried = results``."""
        layout = loop_layout(item.equation)
        statements = _assignment(item.targets, item.initial)
        if item.stack_target is not None:
            statements.append(ast.Assign([ast.Name(item.stack_target, ast.Store())], ast.List([], ast.Load()), lineno=0))
        if item.equation.op == "while":
            return statements + self.while_statement(item)
        start, stop, step = item.bounds
        arguments = [start, stop, step]
        if _is_literal(step, 1):
            arguments = [stop] if _is_literal(start, 0) else [start, stop]
        iterator: ast.expr = ast.Call(ast.Name("range", ast.Load()), arguments, [])
        if layout.reverse:
            iterator = ast.Call(ast.Name("reversed", ast.Load()), [iterator], [])
        body: list[ast.stmt] = []
        body += self.push(item)
        if item.stack is not None:
            popped: ast.expr = ast.Name(item.popped[0], ast.Store())
            if len(item.popped) > 1:
                popped = ast.Tuple([ast.Name(n, ast.Store()) for n in item.popped], ast.Store())
            body.append(ast.Assign([popped], ast.Call(ast.Attribute(item.stack, "pop", ast.Load()), [], []), lineno=0))
        body += self.statements(item.body, top=False) + _assignment(item.targets, item.results)
        statements.append(ast.For(ast.Name(item.index, ast.Store()), iterator, body or [ast.Pass()], [], lineno=0))
        return statements


def _assignment(targets: list[str], values: list[ast.expr]) -> list[ast.stmt]:
    """``a, b = x, y`` (all at once, so that a swap swaps), without the pairs that are ``a = a``."""
    pairs = [(t, v) for t, v in zip(targets, values) if not (isinstance(v, ast.Name) and v.id == t)]
    if not pairs:
        return []
    if len(pairs) == 1:
        return [ast.Assign([ast.Name(pairs[0][0], ast.Store())], pairs[0][1], lineno=0)]
    names = ast.Tuple([ast.Name(t, ast.Store()) for t, _ in pairs], ast.Store())
    return [ast.Assign([names], ast.Tuple([v for _, v in pairs], ast.Load()), lineno=0)]


def _is_literal(node: ast.expr, number: int) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value == number


def _defined_ids(graph: Graph) -> set[int]:
    """The ids ``graph`` and the sub-graphs in it define (inputs included)."""
    ids = {v.id for v in graph.inputs}
    for equation in graph.equations:
        ids.update(v.id for v in equation.outputs)
        for sub_graph in subgraphs(equation):
            ids |= _defined_ids(sub_graph)
    return ids


def _all_equations(graph: Graph) -> Iterator[Equation]:
    for equation in graph.equations:
        yield equation
        for sub_graph in subgraphs(equation):
            yield from _all_equations(sub_graph)


def _unique_ids(graph: Graph) -> Graph:
    """``graph`` with the values of its sub-graphs renumbered past every other id, so that ids
    are unique across scopes (the emitter keys names and liveness by id)."""
    if not any(subgraphs(eq) for eq in graph.equations):
        return graph  # straight-line code: one scope, nothing to renumber
    counter = itertools.count(max([v.id for v in graph.inputs] + [v.id for eq in _all_equations(graph) for v in eq.outputs], default=-1) + 1)

    def equation_with_unique_branches(equation: Equation) -> Equation:
        graphs = subgraphs(equation)
        return with_subgraphs(equation, tuple(renumbered(graph) for graph in graphs)) if graphs else equation

    def renumbered(scope: Graph) -> Graph:
        mapping = {v.id: next(counter) for v in scope.inputs}
        mapping.update((v.id, next(counter)) for eq in scope.equations for v in eq.outputs)

        def fix(atom: Atom) -> Atom:
            if not isinstance(atom, Value) or atom.id not in mapping:
                return atom
            adjoint_of = mapping.get(atom.adjoint_of) if atom.adjoint_of is not None else None
            return dataclasses.replace(atom, id=mapping[atom.id], adjoint_of=adjoint_of)

        equations = tuple(
            dataclasses.replace(
                equation_with_unique_branches(eq),
                inputs=tuple(fix(a) for a in eq.inputs),
                outputs=tuple(fix(v) for v in eq.outputs),  # type: ignore[misc]
            )
            for eq in scope.equations
        )
        return Graph(tuple(fix(v) for v in scope.inputs), equations, tuple(fix(a) for a in scope.outputs))  # type: ignore[misc]

    return Graph(graph.inputs, tuple(equation_with_unique_branches(eq) for eq in graph.equations), graph.outputs)
