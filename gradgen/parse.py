"""Parse: a Python function's source -> an SSA ``Graph``.

The accepted subset (anything else raises a located ``GradgenError`` saying what is supported):

* statements (see ``statements.py``): assignment (``a = ...``, ``a, b = ...``, ``a = b = ...``),
  augmented assignment to a name (``s += x``), item writes into arrays the function created (``H[t] = h``,
  ``H[:, j] += v``: see ``item_writes.py``), annotated assignment, a final ``return``; docstrings, ``pass``,
  ``print(...)`` and ``assert`` are allowed and left out of the graph; ``import`` binds a name;
  ``if``/``elif``/``else`` (returns inside branches included), ``for i in range(...)`` and
  ``while`` become ``cond``, ``loop`` and ``while`` equations (see ``control_flow.py``);
  ``for`` over arrays, tuples and lists, ``enumerate``, ``zip``, and ``break``/``continue``
  are rewritten into those first (see ``loops.py``); a list display is a tuple;
* expressions: numbers, names, tuples, ``a if c else b``, the operators ``+ - * / ** @``, unary ``-``/``+``,
  single comparisons (not differentiated), ``x.T``, and calls to the functions listed in
  ``recognized.SUPPORTED_FUNCTIONS_HINT``;
* names resolve like Python: parameters and locals, then the closure, module globals and
  builtins. ``math``/``numpy`` functions are recognized by identity under any alias; plain
  Python functions with source are inlined (their own names become hints); module-level
  numbers are read at parse time and become constants.

Each equation carries the ``SourceLocation`` of the expression it came from. A re-assigned name
gets a new SSA value; a value is named after the user's variable it is assigned to.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import types
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from gradgen import recognized
from gradgen.builder import GraphBuilder
from gradgen.control_flow import ControlFlowLowering, always_returns, fold_returns
from gradgen.errors import (
    GradgenError,
    SourceLocation,
    UnknownFunctionError,
    UnknownNameError,
    UnsupportedSyntaxError,
)
from gradgen.ir import Constant, Graph, Value
from gradgen.item_writes import BufferTable, ItemWriteLowering
from gradgen.loops import LoopLowering
from gradgen.lowering import ExpressionLowering, PythonObject
from gradgen.source import FunctionSource, read_function
from gradgen.statements import StatementLowering


@dataclass(frozen=True)
class ParsedFunction:
    """The forward graph of a function, its parameter names and the shape of its return."""

    graph: Graph
    parameters: tuple[str, ...]
    source: FunctionSource
    returns_tuple: bool
    return_location: SourceLocation


def parse_function(function: object, *, hash_cons: bool = False) -> ParsedFunction:
    """Parse ``function`` into a forward graph whose inputs are all of its parameters."""
    source = read_function(function)
    builder = GraphBuilder(hash_cons=hash_cons, forward=True)
    lowering = FunctionLowering(source, builder, call_stack=())
    inputs = lowering.bind_parameters()
    result, return_node = lowering.lower_body()
    return_location = source.location(return_node)
    if isinstance(result, tuple):
        outputs = tuple(lowering.atom(item, return_node) for item in result)
    else:
        outputs = (lowering.atom(result, return_node),)
    graph = builder.finish(inputs, outputs)
    return ParsedFunction(
        graph,
        tuple(v.name for v in inputs),
        source,
        isinstance(result, tuple),
        return_location,
    )


class FunctionLowering(StatementLowering, LoopLowering, ControlFlowLowering, ItemWriteLowering, ExpressionLowering):
    """Lowers one function body (the user's function or an inlined helper) into the builder."""

    def __init__(
        self,
        source: FunctionSource,
        builder: GraphBuilder,
        call_stack: tuple[types.CodeType, ...],
        call_site: SourceLocation | None = None,
    ):
        super().__init__(builder)
        self.source = source
        self.call_site = call_site
        self.env: dict[str, Any] = {}
        self.call_stack = call_stack + (source.function.__code__,)
        # As in Python, a name assigned anywhere in the function is local everywhere in it.
        self.local_names = _assigned_names(source.tree)
        self.aliases: dict[str, set[str]] = {}
        self.buffers = BufferTable()
        self.caller_owners: dict[object, str] = {}

    # -- errors -----------------------------------------------------------------------------

    def fail(self, kind: type[GradgenError], node: ast.AST, message: str, hint: str = "") -> NoReturn:
        raise kind(message, self.source.location(node), hint)

    def location(self, node: ast.AST) -> SourceLocation:
        location = self.source.location(node)
        if self.call_site is None:
            return location
        return dataclasses.replace(location, call_site=self.call_site)

    # -- parameters and body ----------------------------------------------------------------

    def bind_parameters(self) -> tuple[Value, ...]:
        self.check_parameters("declare each parameter by name (positional or keyword-only)")
        arguments = self.source.tree.args
        inputs = []
        for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            value = self.builder.new_value(argument.arg, scalar=_annotated_scalar(argument))
            self.env[argument.arg] = value
            self.register_caller_value(value, argument.arg)
            inputs.append(value)
        return tuple(inputs)

    def lower_body(self) -> tuple[Any, ast.AST]:
        return self.lower_returning(fold_returns(self.source.tree.body))

    def lower_returning(self, body: list[ast.stmt]) -> tuple[Any, ast.AST]:
        """Lower statements that end the function: the value returned and the node returning it."""
        for index, statement in enumerate(body):
            returns = isinstance(statement, ast.Return) or (isinstance(statement, ast.If) and always_returns([statement]))
            if returns and index != len(body) - 1:
                self.fail(
                    UnsupportedSyntaxError,
                    body[index + 1],
                    "code after 'return' is never run",
                    "end the function with its return statement",
                )
            if isinstance(statement, ast.Return):
                if statement.value is None:
                    break
                return self.expression(statement.value), statement
            if returns:
                return self.returning_if(statement), statement  # type: ignore[arg-type]
            if index == len(body) - 1 and isinstance(statement, ast.If) and (always_returns(statement.body) or always_returns(statement.orelse)):
                self.fail(
                    UnsupportedSyntaxError,
                    statement,
                    f"{self.source.name}() does not return a value on every path through this if",
                    "return in every branch (add an else), or after the if",
                )
            self.statement(statement)
        self.fail(
            UnsupportedSyntaxError,
            body[-1] if body else self.source.tree,
            f"{self.source.name}() does not return a value",
            "end the function with 'return <output>'",
        )

    # -- names and calls ----------------------------------------------------------------------

    def name(self, node: ast.Name) -> Any:
        if node.id in self.env:
            return self.check_current(self.check_bound(self.env[node.id], node), node)
        if node.id in self.local_names:
            self.fail(
                UnknownNameError,
                node,
                f"local variable '{node.id}' is used before it is assigned",
                "assign it before this line or pass it as a parameter (Python treats a name "
                "assigned anywhere in a function as local, so the global is not used)",
            )
        found, obj = self.source.lookup_global(node.id)
        if not found:
            self.fail(
                UnknownNameError,
                node,
                f"name '{node.id}' is not defined",
                "use a parameter, a local assigned earlier, or a module-level name",
            )
        return self.from_python(obj, node)

    def from_python(self, obj: Any, node: ast.AST) -> Any:
        """A Python object found by name -> a constant, a tuple, or an opaque object."""
        if isinstance(obj, np.generic) and isinstance(obj.item(), (bool, int, float)):
            return Constant(obj.item())
        if isinstance(obj, (bool, int, float)) or obj is None:
            return Constant(obj)
        if isinstance(obj, tuple) and all(isinstance(item, (bool, int, float)) for item in obj):
            return tuple(Constant(item) for item in obj)
        if isinstance(obj, np.ndarray):
            self.fail(
                UnsupportedSyntaxError,
                node,
                f"'{ast.unparse(node)}' is an array from outside the function",
                "pass arrays to the function as parameters",
            )
        return PythonObject(obj)

    def call_python(self, function: Any, node: ast.Call, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if isinstance(function, types.FunctionType):
            return self.inline(function, node, args, kwargs)
        self.fail(
            UnknownFunctionError,
            node.func,
            f"call to {_describe(function)} is not supported",
            recognized.SUPPORTED_FUNCTIONS_HINT,
        )

    def inline(self, function: types.FunctionType, node: ast.Call, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if function.__code__ in self.call_stack:
            self.fail(
                UnsupportedSyntaxError,
                node,
                f"recursive call to {function.__name__}() is not supported",
                "gradgen inlines helper functions, so they cannot call themselves",
            )
        try:
            bound = inspect.signature(function).bind(*args, **kwargs)
        except TypeError as error:
            self.fail(
                UnsupportedSyntaxError,
                node,
                f"bad call to {function.__name__}(): {error}",
                "call the helper with the parameters it declares",
            )
        bound.apply_defaults()
        try:
            helper_source = read_function(function)
        except GradgenError as error:
            if error.location is not None:
                raise
            raise type(error)(error.message, self.source.location(node), error.hint) from None
        helper = FunctionLowering(helper_source, self.builder, self.call_stack, self.location(node))
        helper.check_parameters("helpers are inlined: declare each parameter by name")
        helper.buffers, helper.caller_owners = self.buffers, dict(self.caller_owners)
        for name, value in bound.arguments.items():
            helper.env[name] = value if not _is_python_value(value) else helper.from_python(value, node)
            helper.register_caller_value(helper.env[name], name)
        result, _ = helper.lower_body()
        return result

    def check_parameters(self, hint: str) -> None:
        """Refuse ``*args`` and ``**kwargs``: every parameter must be a name gradgen can bind."""
        arguments = self.source.tree.args
        for special, what in ((arguments.vararg, "*args"), (arguments.kwarg, "**kwargs")):
            if special is not None:
                self.fail(
                    UnsupportedSyntaxError,
                    special,
                    f"{what} parameters are not supported",
                    hint,
                )


def _assigned_names(tree: ast.FunctionDef) -> frozenset[str]:
    """Every name the function's own body binds (its locals, in Python's sense)."""
    names: set[str] = set()
    pending: list[ast.AST] = [tree]  # a plain stack visits what ast.walk does, at half its cost
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                names.add(node.id)
            continue  # its only child is the ctx
        if isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node is not tree:
            names.add(node.name)
        for field in node._fields:
            child = getattr(node, field, None)
            if isinstance(child, list):
                pending.extend(item for item in child if isinstance(item, ast.AST))
            elif isinstance(child, ast.AST):
                pending.append(child)
    return frozenset(names)


def _is_python_value(value: Any) -> bool:
    return not isinstance(value, (Value, Constant, tuple, PythonObject))


def _annotated_scalar(argument: ast.arg) -> bool:
    return isinstance(argument.annotation, ast.Name) and argument.annotation.id in ("float", "int")


def _describe(function: Any) -> str:
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    module = getattr(function, "__module__", None)
    if name and module and module != "builtins":
        return f"{module}.{name}()"
    if name:
        return f"{name}()"
    return repr(function)

