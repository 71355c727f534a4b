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

import numpy as np

from gradgen import ops
from gradgen.builder import GraphBuilder, is_scalar
from gradgen.errors import GradgenError, MissingRuleError, SourceLocation
from gradgen.ir import Atom, Constant, Equation
from gradgen.lowering import ExpressionLowering, Primitive, PythonObject


@dataclass(frozen=True)
class Rule:
    """A parsed template: ``inputs`` name the op's inputs in order."""

    name: str
    inputs: tuple[str, ...]
    params: tuple[str, ...]
    assignments: dict[str, ast.expr]
    filename: str
    # ``*xs``: the name bound to the tuple of the remaining inputs of a variadic op. Its
    # gradient ``grad_xs`` is instantiated once per input, with ``i`` its position in xs.
    variadic: str | None = None


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
    keyword_only = [a.arg for a in node.args.kwonlyargs]
    variadic = node.args.vararg.arg if node.args.vararg else None
    if variadic is not None:
        if keyword_only[:2] != ["z", "grad_z"]:
            fail("after *inputs, the parameters must start with z, grad_z", node)
        inputs, params = tuple(positional), tuple(keyword_only[2:])
    else:
        if positional[-2:] != ["z", "grad_z"]:
            fail("positional parameters must end with z, grad_z", node)
        inputs, params = tuple(positional[:-2]), tuple(keyword_only)
    assignments: dict[str, ast.expr] = {}
    for statement in node.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)):
            fail("the body may only assign names", statement)
        assignments[statement.targets[0].id] = statement.value
    missing = [name for name in inputs + ((variadic,) if variadic else ()) if f"grad_{name}" not in assignments]
    if missing:
        fail(f"no gradient for input(s) {', '.join(missing)}", node)
    return Rule(node.name, inputs, params, assignments, filename, variadic)


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
    fixed = len(rule.inputs)
    gradients: list[Atom | None] = [None] * len(wanted)
    # In the order the template assigns them: a rule may need one read before another reuses
    # an array (index_set reads grad_z[key] before zeroing it, possibly in place).
    order = list(rule.assignments)
    for position in sorted(range(min(fixed, len(wanted))), key=lambda p: order.index(f"grad_{rule.inputs[p]}")):
        if wanted[position]:
            gradients[position] = lowering.gradient(rule.inputs[position])
    for position in range(fixed, len(wanted)):  # one instantiation per input of a variadic op: its locals depend on i
        if wanted[position]:
            assert rule.variadic is not None
            gradients[position] = _TemplateLowering(rule, equation, adjoint, builder, position - fixed).gradient(rule.variadic)
    return tuple(gradients)


class _TemplateLowering(ExpressionLowering):
    def __init__(self, rule: Rule, equation: Equation, adjoint: Atom, builder: GraphBuilder, index: int = 0):
        super().__init__(builder)
        self.rule = rule
        self.equation = equation
        self.bindings: dict[str, Any] = dict(zip(rule.inputs, equation.inputs))
        if rule.variadic is not None:
            self.bindings[rule.variadic] = equation.inputs[len(rule.inputs) :]
            self.bindings["i"] = _constant(index)
        self.bindings["z"] = equation.output
        self.bindings["grad_z"] = adjoint
        params = dict(equation.params)
        for name in rule.params:
            value: Hashable = params.get(name)
            self.bindings[name] = tuple(_constant(v) for v in value) if isinstance(value, tuple) else _constant(value)
        self.forward_lib = params.get("lib")

    def gradient(self, input_name: str) -> Atom | None:
        expression = self.rule.assignments[f"grad_{input_name}"]
        if isinstance(expression, ast.Constant) and expression.value is None:
            return None  # an input that is not differentiated (np.where's condition, an index)
        return self.atom(self.local(f"grad_{input_name}"), expression)

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
        if node.id in STATIC_FUNCTIONS:
            return PythonObject(STATIC_FUNCTIONS[node.id])
        self.fail(TemplateError, node, f"unknown name {node.id!r}")

    def choose_lib(self, op: str, inputs: tuple[Atom, ...]) -> str:
        # Derivatives are spelled like the forward op (math.cos for math.sin); operators
        # and builtins use math on scalars and numpy otherwise.
        if self.forward_lib in ("math", "numpy") or (op == self.equation.op and self.forward_lib in ("method", "attribute")):
            return str(self.forward_lib)  # grad_z.T for x.T, grad_z.transpose(...) for x.transpose(...)
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
        if function in STATIC_FUNCTIONS.values():
            # Computed on params at compile time: the result is a param of the ops it feeds.
            values = [_unwrap(a) for a in args]
            return _wrap(function(*values, **{k: _unwrap(v) for k, v in kwargs.items()}))
        self.fail(TemplateError, node, f"templates may only call ops, not {function!r}")


def inverse_permutation(axes: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The axes that undo ``np.transpose(x, axes)`` (None, a reversal, undoes itself)."""
    if axes is None:
        return None
    return tuple(int(i) for i in np.argsort([a % len(axes) for a in axes]))


# Functions templates may apply to params; they run when the rule is instantiated.
STATIC_FUNCTIONS: dict[str, Any] = {"inverse_permutation": inverse_permutation}


def _unwrap(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    return value.value if isinstance(value, Constant) else value


def _wrap(value: Any) -> Any:
    return Constant(value)


def _constant(value: Hashable) -> Any:
    from gradgen.ir import Constant

    return Constant(value)
