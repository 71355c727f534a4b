"""The emitted ``ast.Module`` -> its source text, exactly as ``ast.unparse`` spells it, faster.

Guarantee: ``module_text(module) == ast.unparse(module)`` (tests/test_emit_text.py checks it
on every function of the test corpora, and on expressions built to exercise each rule). The
emitter builds a small subset of Python (assignments, arithmetic, calls, attributes, tuples,
subscripts, ``if``/``for``/``while``); this module spells that subset with plain string
joins, which takes a fraction of the time of the standard unparser and its per-node context
managers (on a 3000-statement program, the unparse was a tenth of ``grad()``). A module with
any other node is handed to ``ast.unparse`` whole.

It follows ``ast.unparse``'s rules to the letter, including the one that decides parentheses:
a parent records the precedence it requires of a child, keyed by the child node, and a child
without a record is read at the precedence of a test (``ast._Unparser.get_precedence``).
"""

from __future__ import annotations

import ast
import sys
from typing import Callable

# ast._Precedence, as integers (the order is what matters).
TUPLE, YIELD, TEST, OR, AND, NOT, CMP = 2, 3, 4, 5, 6, 7, 8
EXPR, BXOR, BAND, SHIFT, ARITH, TERM, FACTOR, POWER, ATOM = 9, 10, 11, 12, 13, 14, 15, 16, 18

_BINARY: dict[type, tuple[str, int]] = {
    ast.Add: ("+", ARITH), ast.Sub: ("-", ARITH), ast.Mult: ("*", TERM), ast.MatMult: ("@", TERM),
    ast.Div: ("/", TERM), ast.Mod: ("%", TERM), ast.FloorDiv: ("//", TERM), ast.LShift: ("<<", SHIFT),
    ast.RShift: (">>", SHIFT), ast.BitOr: ("|", EXPR), ast.BitXor: ("^", BXOR), ast.BitAnd: ("&", BAND),
    ast.Pow: ("**", POWER),
}
_UNARY: dict[type, tuple[str, int]] = {ast.Invert: ("~", FACTOR), ast.Not: ("not ", NOT), ast.UAdd: ("+", FACTOR), ast.USub: ("-", FACTOR)}
_COMPARISON: dict[type, str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}
_BOOLEAN: dict[type, tuple[str, int]] = {ast.And: (" and ", AND), ast.Or: (" or ", OR)}
_INFINITY = "1e" + repr(sys.float_info.max_10_exp + 1)  # how ast.unparse spells inf


class _OutsideSubset(Exception):
    """A node this module does not spell: the whole module goes to ``ast.unparse``."""


def module_text(module: ast.Module) -> str:
    """``ast.unparse(module)``."""
    try:
        return _Spelling().module(module)
    except _OutsideSubset:
        return ast.unparse(module)


class _Spelling:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.indent = ""
        self.precedences: dict[ast.AST, int] = {}  # what a parent requires of a child
        self.expressions: dict[type, Callable[[ast.expr], str]] = {
            ast.Name: self.name, ast.Constant: self.constant, ast.BinOp: self.binary, ast.UnaryOp: self.unary,
            ast.Call: self.call, ast.Attribute: self.attribute, ast.Compare: self.compare, ast.BoolOp: self.boolean,
            ast.IfExp: self.conditional, ast.Tuple: self.tuple, ast.List: self.list, ast.Subscript: self.subscript,
            ast.Slice: self.slice,
        }

    # -- statements ---------------------------------------------------------------------------

    def module(self, module: ast.Module) -> str:
        if module.type_ignores:
            raise _OutsideSubset
        self.body(module.body)
        return "\n".join(self.lines)

    def body(self, statements: list[ast.stmt]) -> None:
        if statements and _is_docstring(statements[0]):
            raise _OutsideSubset
        for statement in statements:
            self.statement(statement)

    def block(self, head: str, statements: list[ast.stmt]) -> None:
        self.lines.append(f"{self.indent}{head}:")
        outer = self.indent
        self.indent += "    "
        self.body(statements)
        self.indent = outer

    def statement(self, node: ast.stmt) -> None:
        kind = type(node)
        if kind is ast.Assign and not node.type_comment:  # type: ignore[attr-defined]
            targets = []
            for target in node.targets:  # type: ignore[attr-defined]
                self.precedences[target] = TUPLE
                targets.append(self.expression(target))
            self.lines.append(f"{self.indent}{' = '.join(targets)} = {self.expression(node.value)}")  # type: ignore[attr-defined]
        elif kind is ast.Expr:
            self.precedences[node.value] = YIELD  # type: ignore[attr-defined]
            self.lines.append(self.indent + self.expression(node.value))  # type: ignore[attr-defined]
        elif kind is ast.AugAssign:
            operator = _BINARY[type(node.op)][0]  # type: ignore[attr-defined]
            self.lines.append(f"{self.indent}{self.expression(node.target)} {operator}= {self.expression(node.value)}")  # type: ignore[attr-defined]
        elif kind is ast.Return:
            value = node.value  # type: ignore[attr-defined]
            self.lines.append(f"{self.indent}return" + (f" {self.expression(value)}" if value else ""))
        elif kind is ast.If:
            self.conditional_statement(node)  # type: ignore[arg-type]
        elif kind is ast.For and not node.type_comment:  # type: ignore[attr-defined]
            self.precedences[node.target] = TUPLE  # type: ignore[attr-defined]
            self.block(f"for {self.expression(node.target)} in {self.expression(node.iter)}", node.body)  # type: ignore[attr-defined]
            self.orelse(node.orelse)  # type: ignore[attr-defined]
        elif kind is ast.While:
            self.block(f"while {self.expression(node.test)}", node.body)  # type: ignore[attr-defined]
            self.orelse(node.orelse)  # type: ignore[attr-defined]
        elif kind in (ast.Pass, ast.Break, ast.Continue):
            self.lines.append(self.indent + kind.__name__.lower())
        elif kind is ast.Import:
            self.lines.append(f"{self.indent}import {_aliases(node.names)}")  # type: ignore[attr-defined]
        elif kind is ast.ImportFrom:
            module = "." * (node.level or 0) + (node.module or "")  # type: ignore[attr-defined]
            self.lines.append(f"{self.indent}from {module} import {_aliases(node.names)}")  # type: ignore[attr-defined]
        elif kind is ast.FunctionDef and not (node.decorator_list or node.returns or node.type_comment):  # type: ignore[attr-defined]
            if self.lines:
                self.lines.append("")  # ast.unparse leaves a blank line before a def
            self.block(f"def {node.name}({ast.unparse(node.args)})", node.body)  # type: ignore[attr-defined]
        else:
            raise _OutsideSubset

    def conditional_statement(self, node: ast.If) -> None:
        self.block(f"if {self.expression(node.test)}", node.body)
        while len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):  # elif, as ast.unparse collapses it
            node = node.orelse[0]
            self.block(f"elif {self.expression(node.test)}", node.body)
        self.orelse(node.orelse)

    def orelse(self, statements: list[ast.stmt]) -> None:
        if statements:
            self.block("else", statements)

    # -- expressions --------------------------------------------------------------------------

    def expression(self, node: ast.expr) -> str:
        spell = self.expressions.get(type(node))
        if spell is None:
            raise _OutsideSubset
        return spell(node)

    def required(self, node: ast.AST) -> int:
        return self.precedences.get(node, TEST)

    def child(self, node: ast.expr, precedence: int) -> str:
        self.precedences[node] = precedence
        return self.expression(node)

    def name(self, node: ast.Name) -> str:
        return node.id

    def constant(self, node: ast.Constant) -> str:
        value = node.value
        if node.kind is not None or isinstance(value, tuple) or value is ...:
            raise _OutsideSubset
        if isinstance(value, (float, complex)):
            return repr(value).replace("inf", _INFINITY).replace("nan", f"({_INFINITY}-{_INFINITY})")
        return repr(value)

    def binary(self, node: ast.BinOp) -> str:
        operator, precedence = _BINARY[type(node.op)]
        if operator == "**":  # right-associative
            left, right = self.child(node.left, precedence + 1), self.child(node.right, precedence)
        else:
            left, right = self.child(node.left, precedence), self.child(node.right, precedence + 1)
        return _parenthesized(f"{left} {operator} {right}", self.required(node) > precedence)

    def unary(self, node: ast.UnaryOp) -> str:
        operator, precedence = _UNARY[type(node.op)]
        return _parenthesized(operator + self.child(node.operand, precedence), self.required(node) > precedence)

    def compare(self, node: ast.Compare) -> str:
        parts = [self.child(node.left, CMP + 1)]
        for operator, operand in zip(node.ops, node.comparators):
            parts.append(f" {_COMPARISON[type(operator)]} {self.child(operand, CMP + 1)}")
        return _parenthesized("".join(parts), self.required(node) > CMP)

    def boolean(self, node: ast.BoolOp) -> str:
        separator, precedence = _BOOLEAN[type(node.op)]
        # each further operand is required one level tighter, as ast.unparse does
        values = [self.child(value, min(precedence + k, ATOM)) for k, value in enumerate(node.values, 1)]
        return _parenthesized(separator.join(values), self.required(node) > precedence)

    def conditional(self, node: ast.IfExp) -> str:
        body, test = self.child(node.body, TEST + 1), self.child(node.test, TEST + 1)
        text = f"{body} if {test} else {self.child(node.orelse, TEST)}"
        return _parenthesized(text, self.required(node) > TEST)

    def call(self, node: ast.Call) -> str:
        function = self.child(node.func, ATOM)
        arguments = [self.expression(a) for a in node.args]
        for keyword in node.keywords:
            arguments.append(("**" if keyword.arg is None else keyword.arg + "=") + self.expression(keyword.value))
        return f"{function}({', '.join(arguments)})"

    def attribute(self, node: ast.Attribute) -> str:
        value = self.child(node.value, ATOM)
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, int):
            value += " "  # 3 .real: 3.real would read as a float literal
        return f"{value}.{node.attr}"

    def tuple(self, node: ast.Tuple) -> str:
        return _parenthesized(self.items(node.elts), not node.elts or self.required(node) > TUPLE)

    def list(self, node: ast.List) -> str:
        return f"[{', '.join(self.expression(e) for e in node.elts)}]"

    def subscript(self, node: ast.Subscript) -> str:
        value = self.child(node.value, ATOM)
        key = node.slice
        inside = self.items(key.elts) if isinstance(key, ast.Tuple) and key.elts else self.expression(key)
        return f"{value}[{inside}]"

    def slice(self, node: ast.Slice) -> str:
        text = (self.expression(node.lower) if node.lower else "") + ":"
        if node.upper:
            text += self.expression(node.upper)
        if node.step:
            text += ":" + self.expression(node.step)
        return text

    def items(self, elements: list[ast.expr]) -> str:
        if len(elements) == 1:
            return self.expression(elements[0]) + ","
        return ", ".join(self.expression(e) for e in elements)


def _parenthesized(text: str, condition: bool) -> str:
    return f"({text})" if condition else text


def _aliases(names: list[ast.alias]) -> str:
    return ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in names)


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str)
