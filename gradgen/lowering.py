"""Expression lowering shared by the parser (user code) and the rule templates.

``ExpressionLowering.expression`` turns one ``ast`` expression into graph equations and
returns what it evaluates to at compile time: an ``Atom`` (graph value or constant), a
Python tuple of those, or a ``PythonObject`` (a module or function found by name). Name
lookup and calls to non-primitive functions are left to subclasses: the parser resolves
user names and inlines helpers; the template instantiator binds a rule's parameters.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, NoReturn

from gradgen import call_binding, indexing, ops, recognized
from gradgen.builder import GraphBuilder
from gradgen.errors import GradgenError, SourceLocation, UnknownFunctionError, UnsupportedSyntaxError
from gradgen.ir import Atom, Constant, Params, Value


@dataclass(frozen=True)
class PythonObject:
    """A compile-time Python object that is not a number: a module, a function, a class."""

    obj: Any


@dataclass(frozen=True)
class Primitive:
    """A reference to an op; ``lib`` is ``None`` where the caller chooses it from context."""

    op: str
    lib: str | None
    # Params the function itself fixes (np.zeros_like is full_like with fill_value 0).
    preset: Params = ()


_UNSUPPORTED_EXPRESSIONS: dict[type, tuple[str, str]] = {
    ast.IfExp: ("conditional expressions (a if c else b) are not supported here", "write the computation without a condition"),
    ast.Lambda: ("lambda expressions are not supported", "define a helper function with def; it is inlined"),
    ast.BoolOp: ("'and'/'or' are not supported", "use comparisons, which are treated as constants"),
    ast.ListComp: ("list comprehensions are not supported", "write the computation with numpy operations"),
    ast.SetComp: ("set comprehensions are not supported", "write the computation with numpy operations"),
    ast.DictComp: ("dict comprehensions are not supported", "write the computation with numpy operations"),
    ast.GeneratorExp: ("generator expressions are not supported", "write the computation with numpy operations"),
    ast.JoinedStr: ("f-strings are not supported here", "strings are allowed only inside print(...)"),
    ast.NamedExpr: ("assignment expressions (:=) are not supported", "assign in a separate statement"),
    ast.Starred: ("starred expressions (*x) are not supported", "pass each argument by name"),
    ast.Dict: ("dict displays are not supported", "gradgen differentiates numbers and numpy arrays; pass each value as a parameter"),
    ast.Set: ("set displays are not supported", "gradgen differentiates numbers and numpy arrays; pass each value as a parameter"),
    ast.List: ("lists are not supported", "use a tuple, or numpy arrays passed as parameters"),
    ast.Await: ("'await' is not supported", "gradgen differentiates plain (not async) functions"),
    ast.Yield: ("'yield' is not supported", "gradgen differentiates functions that return a value"),
    ast.YieldFrom: ("'yield from' is not supported", "gradgen differentiates functions that return a value"),
}

_OPERATOR_SYMBOLS = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
}



class ExpressionLowering:
    def __init__(self, builder: GraphBuilder):
        self.builder = builder

    # Subclasses provide these.
    def fail(self, kind: type[GradgenError], node: ast.AST, message: str, hint: str = "") -> NoReturn:
        raise NotImplementedError

    def location(self, node: ast.AST) -> SourceLocation | None:
        raise NotImplementedError

    def name(self, node: ast.Name) -> Any:
        raise NotImplementedError

    def call_python(self, function: Any, node: ast.Call, args: list[Any], kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def choose_lib(self, op: str, inputs: tuple[Atom, ...]) -> str:
        """The library a context-free primitive call is spelled with (templates override)."""
        return "numpy"

    def attribute_lib(self) -> str:
        """How ``x.T`` is spelled: as the attribute it was written as (templates override)."""
        return "attribute"

    # -- dispatch -------------------------------------------------------------------------------

    def expression(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, complex) or node.value is Ellipsis or isinstance(node.value, bytes):
                self.fail(UnsupportedSyntaxError, node, f"the literal {ast.unparse(node)} is not supported", "use real numbers")
            return Constant(node.value)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node.op, self.expression(node.left), self.expression(node.right), node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Tuple):
            return tuple(self.expression(element) for element in node.elts)
        if isinstance(node, ast.Subscript):
            return indexing.lower_subscript(self, node)
        if isinstance(node, ast.IfExp) and hasattr(self, "conditional_expression"):
            return self.conditional_expression(node)
        message, hint = _UNSUPPORTED_EXPRESSIONS.get(
            type(node), (f"'{type(node).__name__}' expressions are not supported", "")
        )
        self.fail(UnsupportedSyntaxError, node, message, hint)

    def atom(self, value: Any, node: ast.AST) -> Atom:
        """``value`` as a graph operand, or a located error saying why it cannot be one."""
        if isinstance(value, Value) or (isinstance(value, Constant) and isinstance(value.value, (bool, int, float))):
            return value
        if isinstance(value, Constant):
            self.fail(
                UnsupportedSyntaxError,
                node,
                f"'{ast.unparse(node)}' is {_kind_of(value.value)}, not a number or an array",
                "gradgen differentiates numbers and numpy arrays",
            )
        if isinstance(value, tuple):
            self.fail(UnsupportedSyntaxError, node, "a tuple cannot be used as a number or an array", "unpack it first: a, b = ...")
        what = value.obj if isinstance(value, PythonObject) else value
        self.fail(
            UnsupportedSyntaxError,
            node,
            f"'{ast.unparse(node)}' is {_kind_of(what)}, not a number or an array",
            "gradgen differentiates numbers and numpy arrays",
        )

    # -- operators ----------------------------------------------------------------------------

    def binary(self, operator_node: ast.operator, left: Any, right: Any, node: ast.AST) -> Value:
        op = recognized.BINARY_OPERATORS.get(type(operator_node))
        if op is None:
            symbol = _OPERATOR_SYMBOLS.get(type(operator_node), type(operator_node).__name__)
            self.fail(
                UnsupportedSyntaxError,
                node,
                f"the operator '{symbol}' is not supported",
                "supported operators: + - * / ** @ and unary -",
            )
        operands = (self.atom(left, node), self.atom(right, node))
        return self.builder.add(op, operands, (), self.location(node))

    def unary(self, node: ast.UnaryOp) -> Any:
        operand = self.expression(node.operand)
        if isinstance(node.op, ast.UAdd):
            return self.atom(operand, node)
        if isinstance(node.op, ast.USub):
            if isinstance(operand, Constant) and type(operand.value) in (int, float):
                return Constant(-operand.value)  # a negative literal (axis=-1, x[-1])
            return self.builder.add("neg", (self.atom(operand, node),), (), self.location(node))
        symbol = "not" if isinstance(node.op, ast.Not) else "~"
        self.fail(UnsupportedSyntaxError, node, f"the operator '{symbol}' is not supported", "supported unary operators: - and +")

    def compare(self, node: ast.Compare) -> Value:
        if len(node.ops) != 1:
            self.fail(UnsupportedSyntaxError, node, "chained comparisons are not supported", "compare two values at a time")
        op = recognized.COMPARISONS.get(type(node.ops[0]))
        if op is None:
            self.fail(UnsupportedSyntaxError, node, f"the comparison '{ast.unparse(node)}' is not supported", "supported comparisons: < <= > >= == !=")
        operands = (self.atom(self.expression(node.left), node), self.atom(self.expression(node.comparators[0]), node))
        return self.builder.add(op, operands, (), self.location(node))

    def attribute(self, node: ast.Attribute) -> Any:
        base = self.expression(node.value)
        if isinstance(base, PythonObject):
            try:
                obj = getattr(base.obj, node.attr)
            except AttributeError:
                self.fail(UnknownFunctionError, node, f"'{ast.unparse(node)}' does not exist", recognized.SUPPORTED_FUNCTIONS_HINT)
            return self.python_attribute(obj, node)
        if isinstance(base, Value) and node.attr == "T":
            return self.builder.add("transpose", (base,), (("lib", self.attribute_lib()), ("axes", None)), self.location(node))
        if isinstance(base, Value) and node.attr in recognized.ATTRIBUTES:
            return call_binding.bind(self, recognized.ATTRIBUTES[node.attr], None, [base], {}, node)
        if isinstance(base, Value) and node.attr == "shape":
            self.fail(
                UnsupportedSyntaxError,
                node,
                "x.shape is supported only with a constant index (x.shape[0])",
                "gradgen knows shapes only at run time: write x.shape[i], len(x), x.size, "
                "np.zeros_like(x), or y.reshape(x.shape[0], -1)",
            )
        self.fail(
            UnsupportedSyntaxError,
            node,
            f"the attribute '.{node.attr}' is not supported here",
            "supported: x.T, x.shape[i], x.size, x.ndim, and the methods " + recognized.METHODS_HINT,
        )

    def python_attribute(self, obj: Any, node: ast.AST) -> Any:
        if isinstance(obj, (bool, int, float)):
            return Constant(obj)
        return PythonObject(obj)

    # -- calls ----------------------------------------------------------------------------------

    def call(self, node: ast.Call) -> Any:
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                self.fail(UnsupportedSyntaxError, argument, "*args in calls are not supported", "pass each argument explicitly")
        for keyword in node.keywords:
            if keyword.arg is None:
                self.fail(UnsupportedSyntaxError, keyword.value, "**kwargs in calls are not supported", "pass each argument by name")
        if isinstance(node.func, ast.Attribute):
            receiver = self.expression(node.func.value)
            if isinstance(receiver, Value):
                return self.method_call(receiver, node)
            if not isinstance(receiver, PythonObject):
                self.fail(UnsupportedSyntaxError, node.func, f"'{ast.unparse(node.func)}()' is not supported", recognized.SUPPORTED_FUNCTIONS_HINT)
            callee = self.python_attribute(self._getattr(receiver, node.func), node.func)
        else:
            callee = self.expression(node.func)
        primitive = self.as_primitive(callee)
        variadic = primitive is not None and ops.OPS[primitive.op].arity is None
        args = [self.expression_or_list(argument, variadic) for argument in node.args]
        kwargs = {keyword.arg: self.expression(keyword.value) for keyword in node.keywords if keyword.arg}
        if primitive is not None:
            return self.call_op(primitive.op, primitive.lib, args, kwargs, node, primitive.preset)
        function = callee.obj if isinstance(callee, PythonObject) else callee
        return self.call_python(function, node, args, kwargs)

    def expression_or_list(self, node: ast.expr, list_allowed: bool) -> Any:
        """A call argument; a list display counts as a tuple for np.concatenate([a, b])."""
        if list_allowed and isinstance(node, ast.List):
            return tuple(self.expression(element) for element in node.elts)
        return self.expression(node)

    def _getattr(self, receiver: PythonObject, node: ast.Attribute) -> Any:
        try:
            return getattr(receiver.obj, node.attr)
        except AttributeError:
            self.fail(UnknownFunctionError, node, f"'{ast.unparse(node)}' does not exist", recognized.SUPPORTED_FUNCTIONS_HINT)

    def as_primitive(self, callee: Any) -> Primitive | None:
        if isinstance(callee, Primitive):
            return callee
        if not isinstance(callee, PythonObject):
            return None
        obj = callee.obj
        try:
            for table, lib in (
                (recognized.MATH_FUNCTIONS, "math"),
                (recognized.NUMPY_FUNCTIONS, "numpy"),
                (recognized.BUILTIN_FUNCTIONS, "builtins"),
            ):
                if obj in table:
                    return Primitive(table[obj], lib)
            if obj in recognized.NUMPY_PRESETS:
                op, preset = recognized.NUMPY_PRESETS[obj]
                return Primitive(op, "numpy", preset)
        except TypeError:  # unhashable callables are never primitives
            return None
        return None

    def method_call(self, receiver: Value, node: ast.Call) -> Value:
        assert isinstance(node.func, ast.Attribute)
        op = recognized.METHODS.get(node.func.attr)
        if op is None:
            self.fail(
                UnknownFunctionError,
                node.func,
                f"the method '.{node.func.attr}()' is not supported",
                "supported methods: " + recognized.METHODS_HINT,
            )
        args = [receiver, *(self.expression(argument) for argument in node.args)]
        kwargs = {keyword.arg: self.expression(keyword.value) for keyword in node.keywords if keyword.arg}
        return self.call_op(op, "method", args, kwargs, node)

    def call_op(
        self, op: str, lib: str | None, args: list[Any], kwargs: dict[str, Any], node: ast.AST, preset: Params = ()
    ) -> Any:
        if op == "log" and lib == "math" and len(args) == 2 and not kwargs:
            # math.log(x, base) = log(x) / log(base)
            numerator = self.call_op("log", lib, args[:1], {}, node)
            denominator = self.call_op("log", lib, args[1:], {}, node)
            return self.builder.add("div", (numerator, denominator), (), self.location(node))
        if op in ("maximum", "minimum") and lib == "builtins" and len(args) > 2 and not kwargs:
            result = self.call_op(op, lib, args[:2], {}, node)
            for argument in args[2:]:
                result = self.call_op(op, lib, [result, argument], {}, node)
            return result
        return call_binding.bind(self, op, lib, args, kwargs, node, preset)


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return ast.unparse(node.func) + "()"
    return "this call"


def _kind_of(obj: Any) -> str:
    import types

    if isinstance(obj, types.ModuleType):
        return f"the module {obj.__name__}"
    if callable(obj):
        return "a function"
    if isinstance(obj, str):
        return "a string"
    if obj is None:
        return "None"
    return f"a {type(obj).__name__}"
