"""Loops over iterables, and ``break``/``continue``: rewritten, while parsing, into the three
forms ``control_flow.py`` lowers (straight-line code, a ``loop`` over a range, a ``while``).

Guarantees:

* ``for x in <sequence known while parsing>`` (a tuple or list display, a name bound to one, a
  module-level tuple of numbers) is unrolled: one copy of the body per element, each element
  bound to the target (``for W, b in ((W1, b1), (W2, b2))`` unpacks). The elements may have
  different shapes and kinds (a matrix, then a vector), which one loop body with one type per
  carried value could not hold, so unrolling is the only faithful form. The code grows with the
  number of elements, which the source spells out.
* ``for row in X`` over a run-time array is ``for i in range(len(X)): row = X[i]``.
  ``enumerate(seq, start)`` pairs ``start + i`` with each item; ``zip(a, b, ...)`` runs over
  the shortest length (``min(len(a), len(b))``) and pairs the items at each index. Ranges,
  arrays, static sequences and enumerate/zip of them nest freely. If one zipped sequence is
  static, the zip is unrolled over its length (a longer run-time array is cut, as zip does; a
  shorter one raises ``IndexError`` where Python would stop early).
* ``break`` and ``continue`` (also inside ifs in the body, and in unrolled loops) become flags:
  ``live`` (this iteration goes on) is set true at the start of each iteration and false at a
  jump, and the statements after a jump point are guarded by ``if live:``; ``break`` also
  clears ``running`` (the loop goes on). A ``while test`` with a break becomes
  ``running = test; while running: ...; if running: running = test``; a ``for`` over a range
  with a break becomes such a while over a counter; an unrolled loop guards each iteration after
  the first with ``if running:``. This reuses the loops and conds the compiler already
  differentiates (a reversed loop fed by a stack, conds on the same flags), instead of adding
  an exit to the IR that every pass and the emitter would have to learn. A flag known while
  parsing (an unconditional ``break``) folds its ``if`` away.

Every rewritten node is located at the user's node it stands for (the loop, the target, the
jump), so errors still point at the user's line. The names the rewrite binds (``i#3``) cannot
clash with the user's: ``#`` is not valid in an identifier; ``visible_name`` strips it for
the emitted code.
"""

from __future__ import annotations

import ast
import itertools
import types
from typing import TYPE_CHECKING, Any, NoReturn

from gradgen.errors import GradgenError, UnsupportedSyntaxError
from gradgen.ir import Atom, Constant, Value
from gradgen.lowering import PythonObject

_NAME_NUMBERS = itertools.count()

_NOT_ITERABLE = {
    ast.Dict: "a dict",
    ast.DictComp: "a dict comprehension",
    ast.Set: "a set",
    ast.SetComp: "a set comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.ListComp: "a list comprehension",
    ast.JoinedStr: "a string",
}

_ITERABLES_HINT = (
    "loop over range(...), an array's rows (for row in X), a tuple or list of values "
    "(for W in (W1, W2)), or enumerate()/zip() of these"
)


def visible_name(name: str) -> str:
    """The name the emitted code shows for an env name (``i#3`` -> ``i``)."""
    return name.partition("#")[0]


class _Sequence:
    """What a ``for`` iterates over: its length, static or run time, and its item at an index."""

    count: int | None = None  # the number of items, when known while parsing

    def length(self) -> ast.expr:
        raise NotImplementedError

    def item(self, index: ast.expr) -> ast.expr:
        raise NotImplementedError


class _StaticItems(_Sequence):
    def __init__(self, names: list[ast.Name]):
        self.names, self.count = names, len(names)

    def item(self, index: ast.expr) -> ast.expr:
        assert isinstance(index, ast.Constant)
        return self.names[index.value]


class _Rows(_Sequence):
    def __init__(self, array: ast.Name, length_function: ast.Name):
        self.array, self.length_function = array, length_function

    def length(self) -> ast.expr:
        return ast.Call(self.length_function, [self.array], [])

    def item(self, index: ast.expr) -> ast.expr:
        return ast.Subscript(self.array, index, ast.Load())


class _Range(_Sequence):
    """A range with run-time bounds and step 1 (constant bounds give ``_StaticItems``)."""

    def __init__(self, start: ast.expr, stop: ast.expr, maximum: ast.Name):
        self.start, self.stop, self.maximum = start, stop, maximum

    def length(self) -> ast.expr:
        if isinstance(self.start, ast.Constant) and self.start.value == 0:
            difference: ast.expr = self.stop
        else:
            difference = ast.BinOp(self.stop, ast.Sub(), self.start)
        return ast.Call(self.maximum, [difference, ast.Constant(0)], [])

    def item(self, index: ast.expr) -> ast.expr:
        return _plus(self.start, index)


class _Enumerated(_Sequence):
    def __init__(self, inner: _Sequence, start: ast.expr):
        self.inner, self.start, self.count = inner, start, inner.count

    def length(self) -> ast.expr:
        return self.inner.length()

    def item(self, index: ast.expr) -> ast.expr:
        return ast.Tuple([_plus(self.start, index), self.inner.item(index)], ast.Load())


class _Zipped(_Sequence):
    def __init__(self, parts: list[_Sequence], minimum: ast.Name):
        self.parts, self.minimum = parts, minimum
        counts = [part.count for part in parts if part.count is not None]
        self.count = min(counts) if counts else None if parts else 0  # zip() is empty

    def length(self) -> ast.expr:
        lengths = [part.length() for part in self.parts]
        return lengths[0] if len(lengths) == 1 else ast.Call(self.minimum, lengths, [])

    def item(self, index: ast.expr) -> ast.expr:
        return ast.Tuple([part.item(index) for part in self.parts], ast.Load())


class LoopLowering:
    """Mixed into ``parse.FunctionLowering``: ``for`` and ``while`` statements, rewritten."""

    env: dict[str, Any]

    if TYPE_CHECKING:  # provided by parse.FunctionLowering and control_flow.ControlFlowLowering

        def fail(self, kind: type[GradgenError], node: ast.AST, message: str, hint: str = "") -> NoReturn: ...

        def expression(self, node: ast.expr) -> Any: ...

        def statement(self, node: ast.stmt) -> None: ...

        def range_bounds(self, node: ast.expr) -> tuple[Atom, Atom, Atom]: ...

        def range_loop(self, node: ast.For) -> None: ...

        def while_statement(self, node: ast.While) -> None: ...

    def for_statement(self, node: ast.For) -> None:
        """``for``: over a range as it is, over a static sequence unrolled, else over indices."""
        if node.orelse:
            self.fail(UnsupportedSyntaxError, node.orelse[0], "'for ... else' is not supported", "move the else block after the loop")
        if self.called(node.iter) is range:
            if not isinstance(node.target, ast.Name):
                self.fail(UnsupportedSyntaxError, node.target, "the loop variable of a range() loop must be a single name", "for i in range(n)")
            self.counted_loop(node, node.target.id, node.iter, node.body)
            return
        sequence = self.sequence(node.iter)
        if sequence.count is not None:
            self.unrolled(node, sequence)
            return
        index = self.fresh_name("i")
        iterable = ast.Call(self.hidden(PythonObject(range), "range"), [sequence.length()], [])
        first = _located(ast.Assign([node.target], sequence.item(ast.Name(index, ast.Load()))), node.target)
        self.counted_loop(node, index, _located(iterable, node.iter), [first, *node.body])

    def while_loop(self, node: ast.While) -> None:
        """``while``: as it is, or with its jumps turned into flags (see the module docstring)."""
        jumps = _jump_kinds(node.body)
        if node.orelse or not jumps:
            self.while_statement(node)
            return
        if ast.Break not in jumps:
            body = self.guarded(node.body, None, node)
            self.while_statement(_located(ast.While(node.test, body, []), node))
            return
        running = self.fresh_name("running")
        self.statement(_assign(running, node.test, node.test))
        self.running_while(node, running, node.test, [], node.body)

    # -- the three rewrites -------------------------------------------------------------------

    def counted_loop(self, node: ast.For, target: str, iterable: ast.expr, body: list[ast.stmt]) -> None:
        """``for target in range(...)``: a loop equation, or a while over a counter if it breaks."""
        jumps = _jump_kinds(body)
        if ast.Break not in jumps:
            if jumps:
                body = self.guarded(body, None, node)
            self.range_loop(_located(ast.For(ast.Name(target, ast.Store()), iterable, body, []), node))
            return
        start, stop, step = self.range_bounds(iterable)
        if isinstance(step, Constant) and step.value == 0:
            self.fail(UnsupportedSyntaxError, iterable, "range() step must not be zero", "write range(start, stop, step) with a nonzero step")
        counter = self.fresh_name("index")
        self.env[counter] = start
        counter_now, stop_name, step_operand = ast.Name(counter, ast.Load()), self.hidden(stop, "stop"), self.operand(step, "step")
        if isinstance(step, Constant):
            test = ast.Compare(counter_now, [ast.Lt() if step.value > 0 else ast.Gt()], [stop_name])
        else:  # the sign of the step decides the direction: (stop - i) * step > 0
            test = ast.Compare(ast.BinOp(ast.BinOp(stop_name, ast.Sub(), counter_now), ast.Mult(), step_operand), [ast.Gt()], [ast.Constant(0)])
        test = _located(test, iterable)
        running = self.fresh_name("running")
        self.statement(_assign(running, test, node))
        advance = [
            _assign(target, ast.Name(counter, ast.Load()), node.target),
            _assign(counter, ast.BinOp(ast.Name(counter, ast.Load()), ast.Add(), step_operand), node.target),
        ]
        self.running_while(node, running, test, advance, body)

    def running_while(self, node: ast.stmt, running: str, test: ast.expr, advance: list[ast.stmt], body: list[ast.stmt]) -> None:
        """``while running: advance; body (with flags); if running: running = test``."""
        retest = _located(ast.If(ast.Name(running, ast.Load()), [_assign(running, test, test)], []), node)
        loop = ast.While(ast.Name(running, ast.Load()), [*advance, *self.guarded(body, running, node), retest], [])
        self.while_statement(_located(loop, node))

    def unrolled(self, node: ast.For, sequence: _Sequence) -> None:
        """One copy of the body per item of a sequence known while parsing."""
        jumps = _jump_kinds(node.body)
        running = self.fresh_name("running") if ast.Break in jumps else None
        if running is not None:
            self.statement(_assign(running, ast.Constant(True), node))
        for position in range(sequence.count or 0):
            item = sequence.item(ast.Constant(position))
            iteration = [_located(ast.Assign([node.target], item), node.target)]
            iteration += self.guarded(node.body, running, node) if jumps else node.body
            if running is not None and position > 0:
                iteration = [_located(ast.If(ast.Name(running, ast.Load()), iteration, []), node)]
            for statement in iteration:
                self.statement(statement)

    def guarded(self, body: list[ast.stmt], running: str | None, loop: ast.stmt) -> list[ast.stmt]:
        """``live = True`` and ``body`` with its jumps turned into flag assignments."""
        live = self.fresh_name("live")
        return [_assign(live, ast.Constant(True), loop), *_guard(body, running, live)]

    # -- what a for loop iterates over ---------------------------------------------------------

    def called(self, node: ast.expr) -> Any:
        """The Python callable ``node`` calls (``range``, ``zip``...), or None."""
        if not isinstance(node, ast.Call):
            return None
        callee = self.expression(node.func)
        return callee.obj if isinstance(callee, PythonObject) else None

    def sequence(self, node: ast.expr) -> _Sequence:
        callee = self.called(node)
        if callee is range:
            return self.range_sequence(node)  # type: ignore[arg-type]
        if callee is enumerate:
            return self.enumerate_sequence(node)  # type: ignore[arg-type]
        if callee is zip:
            call: ast.Call = node  # type: ignore[assignment]
            if call.keywords:
                self.fail(UnsupportedSyntaxError, call.keywords[0].value, "zip() keywords (strict=...) are not supported", "write zip(a, b): it stops at the shortest")
            return _Zipped([self.sequence(part) for part in call.args], self.hidden(PythonObject(min), "min"))
        if type(node) in _NOT_ITERABLE:
            self.refuse_iterating(node, _NOT_ITERABLE[type(node)])
        if isinstance(node, (ast.List, ast.Tuple)):
            return self.static_items([self.expression(element) for element in node.elts])
        return self.value_sequence(self.expression(node), node)

    def value_sequence(self, value: Any, node: ast.expr) -> _Sequence:
        if isinstance(value, tuple):
            return self.static_items(list(value))
        if isinstance(value, Value) and not value.scalar:
            return _Rows(self.hidden(value, visible_name(value.name) or "sequence"), self.hidden(PythonObject(len), "len"))
        python = value.obj if isinstance(value, PythonObject) else value.value if isinstance(value, Constant) else None
        if isinstance(python, (list, tuple)) and all(isinstance(item, (bool, int, float)) for item in python):
            return self.static_items([Constant(item) for item in python])
        if isinstance(value, Value) or isinstance(python, (bool, int, float)):
            self.refuse_iterating(node, "a number")
        kinds = ((dict, "a dict"), ((set, frozenset), "a set"), (str, "a string"), (types.GeneratorType, "a generator"))
        what = next((kind for cls, kind in kinds if isinstance(python, cls)), f"a {type(python).__name__}")
        self.refuse_iterating(node, what)

    def static_items(self, items: list[Any]) -> _Sequence:
        return _StaticItems([self.hidden(item, "item") for item in items])

    def range_sequence(self, node: ast.Call) -> _Sequence:
        start, stop, step = self.range_bounds(node)
        if all(isinstance(bound, Constant) for bound in (start, stop, step)):
            values = range(start.value, stop.value, step.value)  # type: ignore[union-attr]
            return self.static_items([Constant(v) for v in values])
        if not (isinstance(step, Constant) and step.value == 1):
            self.fail(UnsupportedSyntaxError, node, "enumerate() and zip() take ranges with step 1 or constant bounds", "write for i in range(...) and index with i")
        return _Range(self.operand(start, "start"), self.operand(stop, "stop"), self.hidden(PythonObject(max), "max"))

    def enumerate_sequence(self, node: ast.Call) -> _Sequence:
        starts = [*node.args[1:], *(k.value for k in node.keywords if k.arg == "start")]
        if not node.args or len(node.args) > 2 or len(starts) > 1 or any(k.arg != "start" for k in node.keywords):
            self.fail(UnsupportedSyntaxError, node, "enumerate() takes one sequence and an optional start", "write enumerate(xs) or enumerate(xs, 1)")
        start: ast.expr = ast.Constant(0)
        if starts:
            value = self.expression(starts[0])
            if not (isinstance(value, Value) or (isinstance(value, Constant) and type(value.value) is int)):
                self.fail(UnsupportedSyntaxError, starts[0], "enumerate() starts at an integer", "write enumerate(xs, 1)")
            start = self.operand(value, "start")
        return _Enumerated(self.sequence(node.args[0]), start)

    def refuse_iterating(self, node: ast.expr, what: str) -> NoReturn:
        self.fail(UnsupportedSyntaxError, node, f"gradgen cannot loop over {what}", _ITERABLES_HINT)

    # -- names the rewrite binds --------------------------------------------------------------

    def fresh_name(self, hint: str) -> str:
        return f"{hint}#{next(_NAME_NUMBERS)}"

    def operand(self, atom: Atom, hint: str) -> ast.expr:
        """``atom`` as an expression: a literal if it is a constant (so ``0 + i`` folds)."""
        return ast.Constant(atom.value) if isinstance(atom, Constant) else self.hidden(atom, hint)

    def hidden(self, value: Any, hint: str) -> ast.Name:
        """A name bound to ``value`` (an atom, a tuple, a Python object) for rewritten code to read."""
        name = self.fresh_name(hint)
        self.env[name] = value
        return ast.Name(name, ast.Load())


def _jump_kinds(statements: list[ast.stmt]) -> set[type]:
    """``ast.Break``/``ast.Continue`` if ``statements`` jump out of their own loop (not an inner one)."""
    kinds: set[type] = set()
    for statement in statements:
        if isinstance(statement, (ast.Break, ast.Continue)):
            kinds.add(type(statement))
        elif isinstance(statement, ast.If):
            kinds |= _jump_kinds(statement.body) | _jump_kinds(statement.orelse)
    return kinds


def _guard(statements: list[ast.stmt], running: str | None, live: str) -> list[ast.stmt]:
    """``statements`` with each jump replaced by flag assignments and the code after a possible
    jump guarded by ``if live:`` (code after an unconditional jump is never run: it is dropped)."""
    result: list[ast.stmt] = []
    for position, statement in enumerate(statements):
        if isinstance(statement, (ast.Break, ast.Continue)):
            if isinstance(statement, ast.Break) and running is not None:
                result.append(_assign(running, ast.Constant(False), statement))
            result.append(_assign(live, ast.Constant(False), statement))
            return result
        if isinstance(statement, ast.If) and _jump_kinds([statement]):
            body, orelse = _guard(statement.body, running, live), _guard(statement.orelse, running, live)
            result.append(ast.copy_location(ast.If(statement.test, body, orelse), statement))
            rest = statements[position + 1 :]
            if rest:
                result.append(_located(ast.If(ast.Name(live, ast.Load()), _guard(rest, running, live), []), rest[0]))
            return result
        result.append(statement)
    return result


def _assign(name: str, value: ast.expr, origin: ast.AST) -> ast.stmt:
    return _located(ast.Assign([ast.Name(name, ast.Store())], value), origin)


def _plus(left: ast.expr, right: ast.expr) -> ast.expr:
    if isinstance(left, ast.Constant) and isinstance(right, ast.Constant):
        return ast.Constant(left.value + right.value)
    if isinstance(left, ast.Constant) and left.value == 0:
        return right
    return ast.BinOp(left, ast.Add(), right)


def _located(tree: Any, origin: ast.AST) -> Any:
    """``tree`` with every node the rewrite made located at ``origin`` (the user's own nodes
    inside it keep their places)."""
    for node in ast.walk(tree):
        if "lineno" in node._attributes and not hasattr(node, "lineno"):
            ast.copy_location(node, origin)
    return tree

