"""Parsing control flow: ``if``/``elif``/``else`` and ``a if c else b`` -> ``cond`` equations,
``for i in range(...)`` -> ``loop`` equations, ``while`` -> ``while`` equations (other ``for``
loops, and ``break``/``continue``, are first rewritten into these by ``loops.py``).

Guarantees: each branch is lowered into a closed sub-graph of its own (its inputs are the
enclosing values it reads, in first-use order, shared by both branches); a name that either
branch (re)assigns and both branches define becomes an output of the cond (a phi), so later code
reads the value of whichever branch ran. A name bound in one branch only is an error where it is
read after the ``if``; an ``if`` that assigns nothing read later is left out. A condition known at compile time (a literal, a module-level flag)
selects its branch while parsing, and the other is never lowered. An ``if`` whose branch
returns is rewritten so that the code after it becomes the other branch (``_fold_returns``);
a function may then end with an ``if`` whose branches both return.

A loop body is lowered the same way, with the loop variable and the carried names (those the
body assigns that are bound before the loop) as its first inputs and the enclosing values it
reads as the rest; names first bound inside the loop cannot be read after it. A carried value
is a scalar if it starts as one and the body keeps it one (the body is lowered again if not).
A ``while`` loop's test is lowered like its body, reading the carried names.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from gradgen.builder import GraphBuilder, is_scalar
from gradgen.errors import GradgenError, SourceLocation, UnknownNameError, UnsupportedSyntaxError
from gradgen.ir import Atom, Constant, Equation, Graph, Value
from gradgen.item_writes import written_names
from gradgen.loops import visible_name
from gradgen.lowering import PythonObject


@dataclass(frozen=True)
class BoundInOneBranch:
    """The env entry of a name that only one branch of an ``if`` (or only a loop) assigned."""

    name: str
    line: int
    where: str = "in only one branch of the if"


@dataclass
class _Branch:
    builder: GraphBuilder
    env: dict[str, Any]
    result: Any


class ControlFlowLowering:
    """Mixed into ``parse.FunctionLowering``: the statements and expressions that branch."""

    builder: GraphBuilder
    env: dict[str, Any]

    if TYPE_CHECKING:  # provided by parse.FunctionLowering and lowering.ExpressionLowering

        def fail(self, kind: type[GradgenError], node: ast.AST, message: str, hint: str = "") -> NoReturn: ...

        def location(self, node: ast.AST) -> SourceLocation: ...

        def expression(self, node: ast.expr) -> Any: ...

        def atom(self, value: Any, node: ast.AST) -> Atom: ...

        def statement(self, node: ast.stmt) -> None: ...

        def lower_returning(self, body: list[ast.stmt]) -> tuple[Any, ast.AST]: ...

        def join_buffers(self, value: Value, sources: tuple[Any, ...], written: bool, line: int) -> None: ...

        def refuse_stale_loop_carry(self, name: str, output: Any, node: ast.AST) -> None: ...

    # -- the three forms ----------------------------------------------------------------------

    def if_statement(self, node: ast.If) -> None:
        predicate = self.condition(node.test)
        if isinstance(predicate, bool):
            for statement in node.body if predicate else node.orelse:
                self.statement(statement)
            return
        before = self.env
        then = self.in_branch(lambda: [self.statement(s) for s in node.body])
        orelse = self.in_branch(lambda: [self.statement(s) for s in node.orelse])
        names = [n for n in dict.fromkeys([*then.env, *orelse.env]) if then.env.get(n) is not before.get(n) or orelse.env.get(n) is not before.get(n)]
        merged: list[tuple[str, Atom, Atom]] = []
        for name in names:
            if name not in then.env or name not in orelse.env:
                self.env[name] = BoundInOneBranch(name, node.lineno)
                continue
            first, second = then.env[name], orelse.env[name]
            if first == second:
                self.env[name] = first
                continue
            for value in (first, second):
                if isinstance(value, BoundInOneBranch):
                    self.env[name] = value
                    break
            else:
                merged.append((name, self.branch_atom(first, name, node), self.branch_atom(second, name, node)))
        outputs = self.cond(predicate, then, orelse, [(n, a, b) for n, a, b in merged], node)
        for (name, first, second), value in zip(merged, outputs):
            self.env[name] = value
            self.join_buffers(value, (first, second), False, node.lineno)

    def range_loop(self, node: ast.For) -> None:
        """``for i in range(...)``: one loop equation carrying the names the body assigns.

        ``loops.LoopLowering`` sends every other ``for`` here rewritten (or unrolls it)."""
        assert isinstance(node.target, ast.Name) and not node.orelse
        bounds = self.range_bounds(node.iter)
        assigned = [n for n in _assigned_in(node.body) if n != node.target.id]
        carried = [n for n in assigned if isinstance(self.env.get(n), (Value, Constant)) and self.is_number(self.env[n])]
        initial = tuple(self.env[n] for n in carried)
        scalar = {n: is_scalar(a) for n, a in zip(carried, initial)}
        while True:  # a carried value is a scalar if it starts as one and the body keeps it one
            body, index, inputs = self.in_loop_body(node.body, node.target.id, carried, scalar)
            outputs = tuple(self.branch_atom(body.env[n], n, node) for n in carried)
            widened = [n for n, out in zip(carried, outputs) if scalar[n] and not is_scalar(out)]
            if not widened:
                break
            scalar.update((n, False) for n in widened)
        for name in [*assigned, node.target.id]:
            self.env[name] = BoundInOneBranch(name, node.lineno, "only inside the for loop")
        if not carried:
            return  # the loop changes nothing read after it
        bound = {v.id for v in (index, *inputs)}
        invariants = tuple(v for v in _free_values(body.builder.equations, outputs) if v.id not in bound)
        graph = Graph((index, *inputs, *invariants), tuple(body.builder.equations), outputs)
        results = tuple(self.builder.new_value(visible_name(n), scalar[n]) for n in carried)
        self.builder.append(Equation("loop", (*bounds, *initial, *invariants), results, (("body", graph),), self.location(node), True))
        self.carry_buffers(node, carried, initial, outputs, results)

    def range_bounds(self, node: ast.expr) -> tuple[Atom, Atom, Atom]:
        callee = self.expression(node.func) if isinstance(node, ast.Call) else None
        if not (isinstance(callee, PythonObject) and callee.obj is range) or node.keywords or not 1 <= len(node.args) <= 3:  # type: ignore[union-attr]
            self.fail(
                UnsupportedSyntaxError,
                node,
                "gradgen loops over range(...) only",
                "write for i in range(n), range(start, stop) or range(start, stop, step), and index arrays with i",
            )
        bounds = [self.atom(self.expression(argument), argument) for argument in node.args]  # type: ignore[union-attr]
        for bound, argument in zip(bounds, node.args):  # type: ignore[union-attr]
            if isinstance(bound, Constant) and type(bound.value) is not int:
                self.fail(UnsupportedSyntaxError, argument, "range() takes integers", "use int bounds (len(x), x.shape[0], an int parameter)")
        if len(bounds) == 1:
            return Constant(0), bounds[0], Constant(1)
        if len(bounds) == 2:
            return bounds[0], bounds[1], Constant(1)
        return bounds[0], bounds[1], bounds[2]

    def while_statement(self, node: ast.While) -> None:
        """``while test:``: one while equation; its test and body read the carried names."""
        if node.orelse:
            self.fail(UnsupportedSyntaxError, node.orelse[0], "'while ... else' is not supported", "move the else block after the loop")
        assigned = _assigned_in(node.body)
        carried = [n for n in assigned if isinstance(self.env.get(n), (Value, Constant)) and self.is_number(self.env[n])]
        initial = tuple(self.env[n] for n in carried)
        scalar = {n: is_scalar(a) for n, a in zip(carried, initial)}
        while True:
            test_inputs: list[Value] = []
            test = self.in_branch(lambda: self.loop_test(node.test, carried, scalar, test_inputs, written_names(node.body)))
            if isinstance(test.result, bool):
                if test.result:
                    self.fail(UnsupportedSyntaxError, node.test, "this while loop never ends", "loop on a condition the body changes, or leave the loop with 'break'")
                for name in assigned:
                    self.env[name] = BoundInOneBranch(name, node.lineno, "only inside the loop")
                return
            body, index, inputs = self.in_loop_body(node.body, None, carried, scalar)
            outputs = tuple(self.branch_atom(body.env[n], n, node) for n in carried)
            widened = [n for n, out in zip(carried, outputs) if scalar[n] and not is_scalar(out)]
            if not widened:
                break
            scalar.update((n, False) for n in widened)
        for name in assigned:
            self.env[name] = BoundInOneBranch(name, node.lineno, "only inside the loop")
        if not carried:
            self.fail(UnsupportedSyntaxError, node, "this while loop changes nothing its condition reads", "assign, in the loop, a variable bound before it")
        bound = {v.id for v in (index, *inputs, *test_inputs)}
        invariants = tuple(
            dict.fromkeys(
                v
                for v in [*_free_values(test.builder.equations, (test.result,)), *_free_values(body.builder.equations, outputs)]
                if v.id not in bound
            )
        )
        test_graph = Graph((*test_inputs, *invariants), tuple(test.builder.equations), (test.result,))
        body_graph = Graph((index, *inputs, *invariants), tuple(body.builder.equations), outputs)
        results = tuple(self.builder.new_value(visible_name(n), scalar[n]) for n in carried)
        count = self.builder.new_value("iterations", scalar=True)
        params = (("test", test_graph), ("body", body_graph))
        self.builder.append(Equation("while", (*initial, *invariants), (*results, count), params, self.location(node), True))
        self.carry_buffers(node, carried, initial, outputs, results)

    def carry_buffers(self, node: ast.For | ast.While, carried: list[str], initial: tuple[Atom, ...], outputs: tuple[Atom, ...], results: tuple[Value, ...]) -> None:
        """Bind the loop's results; an array it writes into must stay the loop's own (item_writes.py)."""
        written = written_names(node.body)
        for name, first, last, result in zip(carried, initial, outputs, results):
            if name in written:
                self.refuse_stale_loop_carry(name, last, node)
            self.env[name] = result
            self.join_buffers(result, (first, last), name in written, node.lineno)

    def loop_test(self, test: ast.expr, carried: list[str], scalar: dict[str, bool], inputs: list[Value], written: set[str]) -> bool | Atom:
        for name in carried:
            value = self.builder.new_value(visible_name(name), scalar[name])
            inputs.append(value)
            self.join_buffers(value, (self.env[name],), name in written, test.lineno)
            self.env[name] = value
        return self.condition(test)

    def in_loop_body(
        self, statements: list[ast.stmt], target: str | None, carried: list[str], scalar: dict[str, bool]
    ) -> tuple[_Branch, Value, tuple[Value, ...]]:
        """Lower the body once, with the loop variable and the carried names as its inputs."""
        outer_builder = self.builder
        first = outer_builder.next_id
        inputs: list[Value] = []

        def run() -> None:
            index = self.builder.new_value(visible_name(target or "_"), scalar=True)
            inputs.append(index)
            for name in carried:
                value = self.builder.new_value(visible_name(name), scalar[name])
                inputs.append(value)
                self.join_buffers(value, (self.env[name],), name in written_names(statements), statements[0].lineno)
                self.env[name] = value
            if target is not None:
                self.env[target] = index
            for statement in statements:
                self.statement(statement)

        body = self.in_branch(run)
        assert inputs and inputs[0].id >= first
        return body, inputs[0], tuple(inputs[1:])

    @staticmethod
    def is_number(atom: Any) -> bool:
        return isinstance(atom, Value) or isinstance(atom.value, (bool, int, float))

    def conditional_expression(self, node: ast.IfExp) -> Any:
        predicate = self.condition(node.test)
        if isinstance(predicate, bool):
            return self.expression(node.body if predicate else node.orelse)
        then = self.in_branch(lambda: self.atom(self.expression(node.body), node.body))
        orelse = self.in_branch(lambda: self.atom(self.expression(node.orelse), node.orelse))
        return self.cond(predicate, then, orelse, [("", then.result, orelse.result)], node)[0]

    def returning_if(self, node: ast.If) -> Any:
        """The value of an ``if`` whose branches both end the function."""
        predicate = self.condition(node.test)
        if isinstance(predicate, bool):
            return self.lower_returning(node.body if predicate else node.orelse)[0]
        then = self.in_branch(lambda: self.lower_returning(node.body))
        orelse = self.in_branch(lambda: self.lower_returning(node.orelse))
        (first, first_node), (second, second_node) = then.result, orelse.result
        if isinstance(first, tuple) != isinstance(second, tuple) or (isinstance(first, tuple) and len(first) != len(second)):
            self.fail(
                UnsupportedSyntaxError,
                second_node,
                "the branches of this if return different numbers of values",
                "return the same kind of result (one value, or tuples of the same length) from every branch",
            )
        firsts = first if isinstance(first, tuple) else (first,)
        seconds = second if isinstance(second, tuple) else (second,)
        merged = [("", self.atom(a, first_node), self.atom(b, second_node)) for a, b in zip(firsts, seconds)]
        outputs = self.cond(predicate, then, orelse, merged, node)
        return tuple(outputs) if isinstance(first, tuple) else outputs[0]

    # -- building blocks ----------------------------------------------------------------------

    def condition(self, test: ast.expr) -> bool | Atom:
        """The truth of a condition known while parsing (``if DEBUG:``), or its run-time value."""
        value = self.expression(test)
        if isinstance(value, Constant):
            return bool(value.value)
        if isinstance(value, tuple):
            return bool(value)
        if isinstance(value, PythonObject):
            return bool(value.obj)
        return self.atom(value, test)

    def branch_atom(self, value: Any, name: str, node: ast.AST) -> Atom:
        if isinstance(value, Value) or (isinstance(value, Constant) and isinstance(value.value, (bool, int, float))):
            return value
        self.fail(
            UnsupportedSyntaxError,
            node,
            f"'{name}' holds something other than a number or an array after one branch of this if",
            "branches may assign numbers and arrays; assign tuples, modules and functions outside the if",
        )

    def in_branch(self, run: Callable[[], Any]) -> _Branch:
        """Lower ``run()`` into a builder of its own, on a copy of the names in scope."""
        outer_builder, outer_env = self.builder, self.env
        builder = GraphBuilder(first_id=outer_builder.next_id, forward=True)
        self.builder, self.env = builder, dict(outer_env)
        try:
            result = run()
            env = self.env
        finally:
            self.builder, self.env = outer_builder, outer_env
        outer_builder.skip_to(builder.next_id)
        return _Branch(builder, env, result)

    def cond(self, predicate: Atom, then: _Branch, orelse: _Branch, merged: list[tuple[str, Atom, Atom]], node: ast.AST) -> tuple[Value, ...]:
        """Append ``outs = cond(predicate, *operands)``; ``merged`` lists (name, then value, else value).

        With nothing to merge, the branches cannot change the result and are left out (as
        ``print`` is).
        """
        if not merged:
            return ()
        then_outputs = tuple(first for _, first, _ in merged)
        else_outputs = tuple(second for _, _, second in merged)
        operands = tuple(dict.fromkeys([*_free_values(then.builder.equations, then_outputs), *_free_values(orelse.builder.equations, else_outputs)]))
        then_graph = Graph(operands, tuple(then.builder.equations), then_outputs)
        else_graph = Graph(operands, tuple(orelse.builder.equations), else_outputs)
        outputs = tuple(self.builder.new_value(visible_name(name), is_scalar(first) and is_scalar(second)) for name, first, second in merged)
        params = (("then", then_graph), ("else", else_graph))
        self.builder.append(Equation("cond", (predicate, *operands), outputs, params, self.location(node), True))
        return outputs

    def check_bound(self, value: Any, node: ast.Name) -> Any:
        if isinstance(value, BoundInOneBranch):
            self.fail(
                UnknownNameError,
                node,
                f"'{node.id}' is assigned {value.where} on line {value.line}",
                "assign it before the if, or in every branch" if "branch" in value.where else "assign it before the loop (returning from inside a loop is not supported)",
            )
        return value


def _free_values(equations: list[Equation], outputs: tuple[Atom, ...]) -> list[Value]:
    """The values ``equations`` and ``outputs`` read without defining them, in first-use order."""
    defined: set[int] = set()
    free: dict[int, Value] = {}
    for equation in equations:
        for atom in equation.inputs:
            if isinstance(atom, Value) and atom.id not in defined:
                free.setdefault(atom.id, atom)
        defined.update(v.id for v in equation.outputs)
    for atom in outputs:
        if isinstance(atom, Value) and atom.id not in defined:
            free.setdefault(atom.id, atom)
    return list(free.values())


def _assigned_in(statements: list[ast.stmt]) -> list[str]:
    """The names ``statements`` assign, in order of first assignment."""
    names: dict[str, None] = {}
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.setdefault(node.id)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
                names.setdefault(node.value.id)  # H[t] = h writes a new version of H
    return list(names)


def always_returns(statements: list[ast.stmt]) -> bool:
    """Whether every path through ``statements`` ends in a ``return``."""
    if not statements:
        return False
    last = statements[-1]
    if isinstance(last, ast.Return):
        return True
    return isinstance(last, ast.If) and always_returns(last.body) and always_returns(last.orelse)


def fold_returns(statements: list[ast.stmt]) -> list[ast.stmt]:
    """Move the code after an ``if`` with one returning branch into its other branch.

    ``if c: return a`` followed by ``rest`` is ``if c: return a`` ``else: rest``. New nodes are
    built (the parsed tree is cached and shared), located where the original ``if`` is.
    """
    result: list[ast.stmt] = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, ast.If):
            result.append(statement)
            continue
        body, orelse = fold_returns(statement.body), fold_returns(statement.orelse)
        rest = statements[index + 1 :]
        body_returns, else_returns = always_returns(body), always_returns(orelse)
        moved = bool(rest) and body_returns != else_returns
        if moved and body_returns:
            orelse = fold_returns(orelse + rest)
        elif moved:
            body = fold_returns(body + rest)
        result.append(ast.copy_location(ast.If(statement.test, body, orelse), statement))
        if moved:
            break
    return result
