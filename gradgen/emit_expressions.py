"""Spelling one equation as a Python expression: the op table's spellings, built as ``ast``.

Guarantees: every op is spelled as ``ops.OPS`` says (an operator, a call of a ``math``/``numpy``/
``runtime``/builtin function or of a method, an attribute, a subscript, the input itself), with
static params as literals (``axis=0``; ``keepdims=False`` and ``None`` left out) and their
``DYNAMIC`` markers filled by the run-time inputs; an op with no spelling is a loud
``AssertionError``. A builtin that a parameter shadows is called as ``builtins.max``. Modules are
recorded in ``imports`` as they are used, under an alias no value takes. A value read by name is
a ``Name`` node whose name is filled in later, once liveness is known (``name_nodes``); a value
chosen for inlining is spelled in place instead.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any, Iterator

from gradgen.emit_names import IMPORTS, Names
from gradgen.ir import Atom, Constant, Equation, Value
from gradgen.ops import ATTRIBUTE, DYNAMIC, METHOD, OPS, UFUNCS, Call, Identity, Operator, Subscript

if TYPE_CHECKING:
    from gradgen.emit import Signature


class ExpressionSpelling:
    """Mixed into ``emit._Emitter``: atoms and equations as expressions."""

    signature: Signature
    names: Names
    imports: dict[str, str]  # module key ("numpy") -> the alias the emitted code imports it as
    aliases: dict[int, Atom]
    inlined: set[int]
    producer: dict[int, Equation]
    name_nodes: list[tuple[int, ast.Name]]

    def expression(self, atom: Atom, reads: list[int]) -> ast.expr:
        if isinstance(atom, Value) and atom.id in self.aliases:
            return self.expression(self.aliases[atom.id], reads)
        if isinstance(atom, Constant):
            return self.constant(atom.value)
        if atom.id in self.inlined:
            return self.equation_expression(self.producer[atom.id], reads)
        reads.append(atom.id)
        # The name is chosen later, once liveness is known; the node is patched then.
        node = ast.Name("", ast.Load())
        self.name_nodes.append((atom.id, node))
        return node

    def constant(self, value: Any) -> ast.expr:
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            text = "nan" if value != value else "inf"
            node: ast.expr = ast.Attribute(ast.Name(self.module("math"), ast.Load()), text, ast.Load())
            return ast.UnaryOp(ast.USub(), node) if value < 0 else node
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (value < 0 or (value == 0 and str(value).startswith("-"))):
            return ast.UnaryOp(ast.USub(), ast.Constant(-value))
        if isinstance(value, tuple):
            return ast.Tuple([self.constant(v) for v in value], ast.Load())
        return ast.Constant(value)

    def module(self, key: str) -> str:
        if key not in self.imports:
            module, alias = IMPORTS[key]
            self.imports[key] = self.names.module_alias(alias or module)
        return self.imports[key]

    def equation_expression(self, equation: Equation, reads: list[int]) -> ast.expr:
        spec = OPS[equation.op]
        args = [self.expression(a, reads) for a in equation.inputs]
        buffer = equation.param("out")
        if buffer is not None:
            # np.multiply(a, b, out=a): the result goes into an array nothing reads any more
            # (see passes/buffers.py); ``assignment`` may spell it ``a *= b``
            return ast.Call(self.callee("numpy", UFUNCS[equation.op]), args, [ast.keyword("out", args[buffer])])  # type: ignore[index]
        if equation.op == "output_seed":
            return self.output_seed(args[0], equation, reads)
        spelling = spec.spelling
        if isinstance(spelling, Identity):
            return args[0]
        if isinstance(spelling, Operator):
            node = spelling.node()
            if isinstance(node, ast.operator):
                return ast.BinOp(args[0], node, args[1])
            if isinstance(node, ast.unaryop):
                return ast.UnaryOp(node, args[0])
            return ast.Compare(args[0], [node], [args[1]])
        if isinstance(spelling, Subscript):
            dynamic = iter(args[1:])
            entries = [self.key_entry(entry, dynamic, subscript=True) for entry in equation.param("key")]  # type: ignore[union-attr]
            subscript = ast.Subscript(args[0], entries[0] if len(entries) == 1 else ast.Tuple(entries, ast.Load()), ast.Load())
            if equation.param("copy"):  # a view kept apart from an array written in place
                return ast.Call(ast.Attribute(subscript, "copy", ast.Load()), [], [])
            return subscript
        if isinstance(spelling, Call):
            return self.call_expression(spelling, equation, args)
        raise AssertionError(f"no spelling for op {equation.op!r}")

    def call_expression(self, spelling: Call, equation: Equation, args: list[ast.expr]) -> ast.expr:
        params = dict(equation.params)
        module, attribute = spelling.function_for(str(params.get("lib", "numpy")))
        split = len(args) if spelling.dynamic_from is None else spelling.dynamic_from
        operands, dynamic = args[:split], iter(args[split:])
        leading = [self.param_value(params[name], dynamic) for name in spelling.leading]
        positional_values = [params.get(name) for name in spelling.positional]
        while positional_values and positional_values[-1] is None:
            positional_values.pop()
        positional = [self.param_value(value, dynamic) for value in positional_values]
        keywords = [
            ast.keyword(name, self.key_expression(value, dynamic) if name == "key" else self.param_value(value, dynamic))
            for name, value in equation.params
            if name not in ("lib", "in_place", *spelling.leading, *spelling.positional) and value is not None and not (name == "keepdims" and value is False)
        ]
        if spelling.packed:
            operands = [ast.Tuple(operands, ast.Load())]
        if module == ATTRIBUTE:
            return ast.Attribute(operands[0], attribute, ast.Load())
        if module == METHOD:
            return ast.Call(ast.Attribute(operands[0], attribute, ast.Load()), [*operands[1:], *positional], keywords)
        return ast.Call(self.callee(module, attribute), [*leading, *operands, *positional], keywords)

    def param_value(self, value: Any, dynamic: Iterator[ast.expr]) -> ast.expr:
        """A static param as a literal, with its DYNAMIC markers filled by run-time values."""
        if value == DYNAMIC:
            return next(dynamic)
        if isinstance(value, tuple):
            return ast.Tuple([self.param_value(v, dynamic) for v in value], ast.Load())
        return self.constant(value)

    def key_expression(self, key: Any, dynamic: Iterator[ast.expr]) -> ast.expr:
        """An index ``key`` (see indexing.py) as the Python value ``x[...]`` receives."""
        return ast.Tuple([self.key_entry(entry, dynamic, subscript=False) for entry in key], ast.Load())

    def key_entry(self, entry: Any, dynamic: Iterator[ast.expr], *, subscript: bool) -> ast.expr:
        if entry == DYNAMIC:
            return next(dynamic)
        if not isinstance(entry, tuple):
            return self.constant(entry)
        if entry[0] == "newaxis":
            return ast.Constant(None)
        if entry[0] == "ellipsis":
            return ast.Constant(...)
        if entry[0] == "list":
            return ast.List([self.constant(position) for position in entry[1]], ast.Load())
        bounds = [None if part is None else self.param_value(part, dynamic) for part in entry[1:]]
        if subscript:
            return ast.Slice(*bounds)
        return ast.Call(ast.Name("slice", ast.Load()), [b or ast.Constant(None) for b in bounds], [])

    def output_seed(self, output: ast.expr, equation: Equation, reads: list[int]) -> ast.expr:
        """``1.0 if L.__class__ is float else runtime.output_seed(L)``: a Python float output
        costs one attribute test; anything else gets the full check (and its clear error)."""
        again = self.expression(equation.inputs[0], reads)
        is_float = ast.Compare(ast.Attribute(output, "__class__", ast.Load()), [ast.Is()], [ast.Name("float", ast.Load())])
        check = ast.Call(self.callee("runtime", "output_seed"), [again], [])
        return ast.IfExp(is_float, ast.Constant(1.0), check)

    def callee(self, module: str, attribute: str) -> ast.expr:
        if module == "":
            if attribute in self.signature.parameter_names:  # a parameter shadows the builtin
                return ast.Attribute(ast.Name(self.module("builtins"), ast.Load()), attribute, ast.Load())
            return ast.Name(attribute, ast.Load())
        node: ast.expr = ast.Name(self.module(module), ast.Load())
        for part in attribute.split("."):  # np.linalg.norm
            node = ast.Attribute(node, part, ast.Load())
        return node
