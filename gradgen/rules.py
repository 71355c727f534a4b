"""Derivative rules: load the templates in ``templates/`` and instantiate them into a graph.

Each template is parsed once (``load_rules``) and checked: its parameters are the op's inputs,
``z``, ``grad_z`` and keyword-only params, and its body assigns ``grad_<input>`` for every input.
``instantiate`` lowers the right-hand sides with the real atoms substituted, through the same
expression lowering as user code, computing only the gradients that are asked for.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any, Hashable, NoReturn

from gradgen import ops
from gradgen.builder import GraphBuilder, is_scalar
from gradgen.errors import GradgenError, MissingRuleError, SourceLocation
from gradgen.ir import Atom, Equation
from gradgen.lowering import ExpressionLowering, Primitive


@dataclass(frozen=True)
class Rule:
    """A parsed template: ``inputs`` name the op's inputs in order."""

    name: str
    inputs: tuple[str, ...]
    params: tuple[str, ...]
    assignments: dict[str, ast.expr]
    filename: str


class TemplateError(GradgenError):
    """A malformed template in templates/: a bug in gradgen, reported with its location."""


@functools.cache
def load_rules() -> dict[str, Rule]:
    """All templates by name, parsed and checked."""
    rules: dict[str, Rule] = {}
    package = resources.files("gradgen.templates")
    for entry in sorted(package.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".py") or entry.name.startswith("_"):
            continue
        filename = f"templates/{entry.name}"
        tree = ast.parse(entry.read_text(encoding="utf-8"), filename)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                rules[node.name] = _parse_rule(node, filename)
    for spec in ops.OPS.values():
        if spec.rule is not None and spec.rule not in rules:
            raise MissingRuleError(f"op {spec.name!r} names the rule {spec.rule!r}, which no template defines")
    return rules


def _parse_rule(node: ast.FunctionDef, filename: str) -> Rule:
    def fail(message: str, at: ast.AST) -> NoReturn:
        raise TemplateError(f"template {node.name}: {message}", SourceLocation(filename, getattr(at, "lineno", node.lineno), 0))

    positional = [a.arg for a in node.args.args]
    if positional[-2:] != ["z", "grad_z"]:
        fail("positional parameters must end with z, grad_z", node)
    inputs = tuple(positional[:-2])
    assignments: dict[str, ast.expr] = {}
    for statement in node.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)):
            fail("the body may only assign names", statement)
        assignments[statement.targets[0].id] = statement.value
    missing = [name for name in inputs if f"grad_{name}" not in assignments]
    if missing:
        fail(f"no gradient for input(s) {', '.join(missing)}", node)
    return Rule(node.name, inputs, tuple(a.arg for a in node.args.kwonlyargs), assignments, filename)


def instantiate(
    equation: Equation,
    adjoint: Atom,
    wanted: tuple[bool, ...],
    builder: GraphBuilder,
) -> tuple[Atom | None, ...]:
    """The gradients of ``equation``'s inputs given its output's adjoint (None where not wanted)."""
    spec = ops.OPS[equation.op]
    if spec.rule is None:
        return tuple(None for _ in equation.inputs)
    rule = load_rules()[spec.rule]
    lowering = _TemplateLowering(rule, equation, adjoint, builder)
    return tuple(
        lowering.gradient(name) if want else None for name, want in zip(rule.inputs, wanted)
    )


class _TemplateLowering(ExpressionLowering):
    def __init__(self, rule: Rule, equation: Equation, adjoint: Atom, builder: GraphBuilder):
        super().__init__(builder)
        self.rule = rule
        self.equation = equation
        self.bindings: dict[str, Any] = dict(zip(rule.inputs, equation.inputs))
        self.bindings["z"] = equation.output
        self.bindings["grad_z"] = adjoint
        params = dict(equation.params)
        for name in rule.params:
            value: Hashable = params.get(name)
            self.bindings[name] = tuple(_constant(v) for v in value) if isinstance(value, tuple) else _constant(value)
        self.forward_lib = params.get("lib")

    def gradient(self, input_name: str) -> Atom:
        return self.atom(self.local(f"grad_{input_name}"), self.rule.assignments[f"grad_{input_name}"])

    def local(self, name: str) -> Any:
        # Template locals are lowered on first use, so unwanted gradients cost nothing.
        if name not in self.bindings:
            self.bindings[name] = self.expression(self.rule.assignments[name])
        return self.bindings[name]

    def name(self, node: ast.Name) -> Any:
        if node.id in self.bindings or node.id in self.rule.assignments:
            return self.local(node.id)
        if node.id in ops.OPS:
            return Primitive(node.id, None)
        self.fail(TemplateError, node, f"unknown name {node.id!r}")

    def choose_lib(self, op: str, inputs: tuple[Atom, ...]) -> str:
        # Derivatives are spelled like the forward op (math.cos for math.sin); operators
        # and builtins use math on scalars and numpy otherwise.
        if self.forward_lib in ("math", "numpy"):
            return str(self.forward_lib)
        return "math" if all(is_scalar(atom) for atom in inputs) else "numpy"

    def attribute_lib(self) -> str:
        # grad_z.T in a rule is spelled like the forward transpose (np.transpose or .T)
        return str(self.forward_lib) if self.forward_lib in ("numpy", "method", "attribute") else "attribute"

    def location(self, node: ast.AST) -> SourceLocation | None:
        return self.equation.location

    def fail(self, kind: type[GradgenError], node: ast.AST, message: str, hint: str = "") -> NoReturn:
        raise TemplateError(
            f"template {self.rule.name}: {message}",
            SourceLocation(self.rule.filename, getattr(node, "lineno", 1), getattr(node, "col_offset", 0)),
        )

    def call_python(self, function: Any, node: ast.Call, args: list[Any], kwargs: dict[str, Any]) -> Any:
        self.fail(TemplateError, node, f"templates may only call ops, not {function!r}")


def _constant(value: Hashable) -> Any:
    from gradgen.ir import Constant

    return Constant(value)
