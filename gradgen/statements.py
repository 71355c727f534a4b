"""Lowering one statement: assignments and their targets, augmented assignment, imports.

``StatementLowering.statement`` is the parser's one entry point per statement. It lowers what
runs straight through and hands the rest on: ``if`` to ``control_flow.py``, ``for``/``while``
to ``loops.py``, item writes (``H[key] = v``, ``H[key] += v``) to ``item_writes.py``.

Guarantees:

* an assignment binds each target to the value, a tuple target unpacks a tuple of the same
  length (else a located error), and a bound name is a new SSA value named after the user's
  variable (``visible_name``); a list display on the right is a tuple;
* ``s += x`` on a name is ``s = s + x``; where another name holds the same object (``u = t``,
  tracked as aliases until either is rebound), an array update is refused, at run time when
  only the run time knows whether ``t`` is an array (``no_in_place_update``);
* docstrings, ``pass``, ``assert`` and ``print(...)`` leave nothing in the graph, though the
  names ``print`` reads must exist; another expression statement is lowered (so it is
  validated) and dropped;
* ``import m``, ``import m as a`` and ``from m import n`` bind names while parsing;
* any other statement (``try``, ``with``, ``del``...) is a located ``UnsupportedSyntaxError``
  saying what is supported.
"""

from __future__ import annotations

import ast
import importlib
from typing import TYPE_CHECKING, Any, NoReturn

from gradgen.errors import UnknownNameError, UnsupportedSyntaxError
from gradgen.ir import Constant, Value
from gradgen.loops import visible_name
from gradgen.lowering import PythonObject

if TYPE_CHECKING:
    from gradgen.parse import FunctionLowering

_CONTROL_FLOW_HINT = (
    "gradgen differentiates assignments, augmented assignments to names, if/elif/else, "
    "for loops (over range(), arrays, tuples, enumerate, zip), while loops, break, continue and returns"
)

_UNSUPPORTED_STATEMENTS: dict[type, str] = {
    ast.Return: "'return' is supported only where it ends the function (possibly inside if/else)",
    ast.Try: "'try' statements are not supported",
    ast.With: "'with' statements are not supported",
    ast.Raise: "'raise' statements are not supported",
    ast.Global: "'global' declarations are not supported",
    ast.Nonlocal: "'nonlocal' declarations are not supported",
    ast.Delete: "'del' statements are not supported",
    ast.FunctionDef: "nested function definitions are not supported",
    ast.AsyncFunctionDef: "nested function definitions are not supported",
    ast.ClassDef: "class definitions are not supported",
    ast.Match: "'match' statements are not supported",
    ast.Break: "'break' is supported only inside a loop",
    ast.Continue: "'continue' is supported only inside a loop",
}
if hasattr(ast, "TryStar"):
    _UNSUPPORTED_STATEMENTS[ast.TryStar] = "'try' statements are not supported"

_AUGMENTED_SYMBOLS = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/=", ast.Pow: "**=", ast.MatMult: "@="}


class StatementLowering:
    """Mixed into ``parse.FunctionLowering``: one statement, and the names it binds."""

    def statement(self: FunctionLowering, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            # A list display is a sequence to loop over (weights = [W1, W2]), as a tuple is.
            value = tuple(map(self.expression, node.value.elts)) if isinstance(node.value, ast.List) else self.expression(node.value)
            for target in node.targets:
                self.bind(target, value, node)
            self.record_aliases(node)
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Subscript):
                self.item_write(node.target, self.expression(node.value), node, node.op)
                return
            if not isinstance(node.target, ast.Name):
                self.refuse_target(node.target)
            current = self.expression(ast.Name(node.target.id, ast.Load(), **_position(node.target)))
            self.refuse_shared_update(node, current)
            operand = self.expression(node.value)
            self.bind(node.target, self.binary(node.op, current, operand, node), node)
            self.update_in_place(current, self.env[node.target.id], node)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.bind(node.target, self.expression(node.value), node)
        elif isinstance(node, ast.Expr):
            self.expression_statement(node)
        elif isinstance(node, ast.If):
            self.if_statement(node)
        elif isinstance(node, ast.For):
            self.for_statement(node)
        elif isinstance(node, ast.While):
            self.while_loop(node)
        elif isinstance(node, (ast.Pass, ast.Assert)):
            pass
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.bind_import(node)
        else:
            message = _UNSUPPORTED_STATEMENTS.get(type(node), f"'{type(node).__name__}' statements are not supported")
            self.fail(UnsupportedSyntaxError, node, message, _CONTROL_FLOW_HINT)

    def expression_statement(self: FunctionLowering, node: ast.Expr) -> None:
        value = node.value
        if isinstance(value, ast.Constant):  # docstrings and ``...``
            return
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "print":
            # Left out of the graph, but its names must exist, as they must for Python.
            for name in ast.walk(value):
                if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load):
                    self.name(name)
            return
        self.expression(value)  # validated, then dropped: it has no effect on the output

    def record_aliases(self: FunctionLowering, node: ast.Assign) -> None:
        """Names that are one object after ``u = t`` or ``u = t = ...``: an in-place update of
        one (``t += a`` on an array) changes the other, which SSA values do not model."""
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if isinstance(node.value, ast.Name) and node.value.id in self.env:
            names.append(node.value.id)
        if len(names) < 2:
            return
        group = set(names).union(*(self.aliases.get(name, set()) for name in names))
        for name in group:
            self.aliases[name] = group - {name}

    def refuse_shared_update(self: FunctionLowering, node: ast.AugAssign, current: Any) -> None:
        """``t += a`` rebinds a number but changes an array in place, and with it every name
        for that array. Numbers are fine; an array is refused, at run time when only the run
        time knows (the emitted code then raises this error)."""
        target = node.target.id  # type: ignore[union-attr]
        others = sorted(self.aliases.get(target, ()))
        if not others or isinstance(current, Constant) or getattr(current, "scalar", False):
            return
        symbol = _AUGMENTED_SYMBOLS.get(type(node.op), "?=")
        where = self.source.location(node)
        params = (
            ("message", f"'{target} {symbol} ...' changes in place the array that '{others[0]}' also names"),
            ("hint", f"write {target} = {target} {symbol[:-1]} ... to make a new array (gradgen does not model arrays changed in place)"),
            ("where", (where.filename, where.line, where.column)),
        )
        self.builder.add("no_in_place_update", (current,), params, self.location(node))

    def bind(self: FunctionLowering, target: ast.expr, value: Any, statement: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            for other in self.aliases.pop(target.id, set()):  # rebinding ends the aliasing
                self.aliases.get(other, set()).discard(target.id)
            if isinstance(value, (Value, Constant)):
                value = self.builder.name(value, visible_name(target.id), self.location(statement))
                self.name_buffer(value, statement)
            self.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if not isinstance(value, tuple) or len(value) != len(target.elts):
                count = len(value) if isinstance(value, tuple) else 1
                self.fail(
                    UnsupportedSyntaxError,
                    target,
                    f"cannot unpack {count} value(s) into {len(target.elts)} names",
                    "tuple assignment needs a tuple of the same length on the right",
                )
            for element, item in zip(target.elts, value):
                self.bind(element, item, statement)
        elif isinstance(target, ast.Subscript):
            self.item_write(target, value, statement)
        else:
            self.refuse_target(target)

    def refuse_target(self: FunctionLowering, target: ast.expr) -> NoReturn:
        if isinstance(target, ast.Attribute):
            self.fail(UnsupportedSyntaxError, target, "assignment to an attribute is not supported", "assign to a plain name instead")
        self.fail(
            UnsupportedSyntaxError,
            target,
            f"cannot assign to {ast.unparse(target)}",
            "assign to names or tuples of names (a, b = ...)",
        )

    def bind_import(self: FunctionLowering, node: ast.Import | ast.ImportFrom) -> None:
        try:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    module = importlib.import_module(alias.name)
                    if alias.asname:
                        self.env[alias.asname] = PythonObject(module)
                    else:
                        top = alias.name.split(".")[0]
                        self.env[top] = PythonObject(importlib.import_module(top))
            else:
                module = importlib.import_module(node.module or "")
                for alias in node.names:
                    obj = getattr(module, alias.name)
                    self.env[alias.asname or alias.name] = self.from_python(obj, node)
        except (ImportError, AttributeError) as error:
            self.fail(UnknownNameError, node, f"import failed: {error}", "import math or numpy, or names from them")


def _position(node: ast.AST) -> dict[str, int]:
    return {
        "lineno": node.lineno,
        "col_offset": node.col_offset,
        "end_lineno": getattr(node, "end_lineno", node.lineno),
        "end_col_offset": getattr(node, "end_col_offset", node.col_offset),
    }
