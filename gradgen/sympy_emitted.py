"""gradgen's emitted backward, run on sympy symbols: its gradients as expressions.

``symbolic_gradient(gradient, forward, arguments)`` guarantees:

* It executes gradgen's generic emitted source (``gradient.generic.source`` for array code, else
  ``gradient.source``) over the forward's patched globals: ``import math`` / ``import numpy``
  bind the sympy stand-ins and ``gradgen.runtime``'s helpers are rebuilt over them
  (``sympy_shim.Rebuilder``).
* Each comparison used as a number (gradgen routes max/min/relu adjoints with
  ``grad * (x >= y)``) becomes a step function, elementwise on arrays.
* The result is one gradient per ``wrt`` parameter: a sympy expression for a scalar, an object
  array of them for an array. Whatever cannot run on symbols (a branch on a symbol's value)
  gives None, never an error: the numeric comparison still stands.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy
import sympy

from gradgen.sympy_arrays import COMPARISONS, indicator
from gradgen.sympy_shim import Rebuilder, as_expression

__all__ = ["symbolic_gradient"]

_EMITTED_FILENAME = "<gradgen emitted source>"


def symbolic_gradient(
    gradient: Any, forward: Callable[..., Any], arguments: Sequence[Any]
) -> tuple[sympy.Expr | numpy.ndarray, ...] | None:
    """gradgen's gradients on the symbolic ``arguments``, or None if they cannot run on symbols."""
    generic = getattr(gradient, "generic", gradient)
    source = getattr(generic, "source", None)
    if not isinstance(source, str):
        return None
    try:
        tree = ast.fix_missing_locations(_ComparisonsToIndicators().visit(_DropGuard().visit(ast.parse(source))))
        code = compile(tree, _EMITTED_FILENAME, "exec")
        rebuilder = Rebuilder()
        before = dict(rebuilder.globals_for(forward.__globals__, code))  # type: ignore
        before[_INDICATOR] = indicator
        namespace = dict(before)
        exec(code, namespace)
        emitted = _emitted_function(namespace, getattr(generic, "__name__", ""))
        if emitted is None:
            return None
        # Names the source bound itself (gradgen.runtime helpers it imports) need stand-ins too.
        for name, value in list(namespace.items()):
            if name not in before or before[name] is not value:
                if not _is_emitted(value):
                    namespace[name] = rebuilder.value(value)
        result = emitted(*arguments)
        values = result if isinstance(result, (tuple, list)) else (result,)
        return tuple(_as_gradient(value) for value in values)
    except Exception:  # e.g. `if x > 0` on a symbol: the numeric comparison still stands
        return None


def _as_gradient(value: Any) -> sympy.Expr | numpy.ndarray:
    what = "gradgen's gradient returned"
    if isinstance(value, numpy.ndarray) and value.ndim > 0:
        expressions = numpy.empty(value.shape, dtype=object)
        for index in numpy.ndindex(*value.shape):
            expressions[index] = as_expression(value[index], what)
        return expressions
    return as_expression(value, what)


class _DropGuard(ast.NodeTransformer):
    """Remove the fast path's argument guard (``if x.__class__ is not float: return
    __gradgen_fallback(...)``): symbols are not floats, and the code after it is what to check."""

    def visit_If(self, node: ast.If) -> ast.AST | None:
        body = node.body
        if (
            len(body) == 1
            and isinstance(body[0], ast.Return)
            and isinstance(body[0].value, ast.Call)
            and isinstance(body[0].value.func, ast.Name)
            and body[0].value.func.id == "__gradgen_fallback"
        ):
            return None
        return self.generic_visit(node)


_INDICATOR = "__gradgen_check_indicator__"


class _ComparisonsToIndicators(ast.NodeTransformer):
    """``g * (a >= b)`` -> ``g * __gradgen_check_indicator__("GtE", a, b)``.

    Only comparisons used as numbers (operands of arithmetic) change; a comparison that decides
    a branch keeps raising on symbols, so that such code is reported as undecided.
    """

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        node.left = self._indicator_call(node.left)
        node.right = self._indicator_call(node.right)
        return node

    def _indicator_call(self, operand: ast.expr) -> ast.expr:
        if not isinstance(operand, ast.Compare) or len(operand.ops) != 1:
            return operand
        relation = type(operand.ops[0]).__name__
        if relation not in COMPARISONS:
            return operand
        arguments = [ast.Constant(relation), operand.left, operand.comparators[0]]
        call = ast.Call(ast.Name(_INDICATOR, ast.Load()), arguments, [])
        return ast.copy_location(call, operand)


def _is_emitted(value: Any) -> bool:
    return isinstance(value, types.FunctionType) and value.__code__.co_filename == _EMITTED_FILENAME


def _emitted_function(namespace: dict, preferred_name: str) -> types.FunctionType | None:
    defined = {name: value for name, value in namespace.items() if _is_emitted(value)}
    if preferred_name in defined:
        return defined[preferred_name]
    if len(defined) == 1:
        return next(iter(defined.values()))
    return None
