"""An independent oracle: differentiate a scalar function with sympy and compare with gradgen.

``check(f, *args)`` guarantees:

* sympy's side never touches gradgen's parser or graph: ``sympy_shim.symbolic_forward`` runs the
  user's own ``f`` (and its helpers) on sympy symbols and ``sympy.diff`` differentiates the result.
* Every partial is compared numerically at the given point (``math.isclose`` with
  ``rel_tol=1e-9, abs_tol=1e-12``; nan agrees with nan), and, when gradgen's emitted source can
  also be run on symbols, symbolically (``simplify(a - b) == 0``): "equal", "different" or
  "undecided".
* ``report.ok`` is True iff every partial agrees numerically and none is symbolically different.
  At a kink (max(x, y) with x == y, abs at 0) sympy's derivative takes Heaviside(0) = 1/2 while
  gradgen picks a subgradient; the numbers then differ and the report says the point is a kink.

Scalar functions only for now; array arguments are refused with a clear error.
"""

from __future__ import annotations

import ast
import math
import numbers
import operator
import random
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy
import sympy

from gradgen.errors import GradgenError, InvalidArgumentError
from gradgen.sympy_shim import (
    Rebuilder,
    SymbolicEvaluationError,
    as_expression,
    parameter_names,
    parameter_symbols,
    symbolic_forward,
)

__all__ = [
    "CheckReport",
    "PartialCheck",
    "SymbolicEvaluationError",
    "check",
    "compare_partial",
    "symbolic_forward",
]

SymbolicStatus = Literal["equal", "different", "undecided"]

_EMITTED_FILENAME = "<gradgen emitted source>"


# --- gradgen's emitted source, run on symbols ----------------------------------------------


def symbolic_gradient(
    gradient: Any, forward: Callable[..., Any]
) -> tuple[sympy.Expr, ...] | None:
    """gradgen's emitted gradients as sympy expressions, or None if they cannot run on symbols.

    The emitted ``gradient.source`` is executed over the forward's patched globals, with
    ``import math`` / ``import numpy`` answered by the sympy stand-ins and each comparison
    (gradgen routes max/min/relu adjoints with ``grad * (x >= y)``) turned into a 0/1 Piecewise.
    """
    source = getattr(gradient, "source", None)
    if not isinstance(source, str):
        return None
    try:
        tree = ast.fix_missing_locations(_ComparisonsToIndicators().visit(_DropGuard().visit(ast.parse(source))))
        code = compile(tree, _EMITTED_FILENAME, "exec")
        rebuilder = Rebuilder()
        before = dict(rebuilder.globals_for(forward.__globals__, code))  # type: ignore
        before[_INDICATOR] = _indicator
        namespace = dict(before)
        exec(code, namespace)
        emitted = _emitted_function(namespace, getattr(gradient, "__name__", ""))
        if emitted is None:
            return None
        # Names the source bound itself (gradgen.runtime helpers it imports) need stand-ins too.
        for name, value in list(namespace.items()):
            if name not in before or before[name] is not value:
                if not _is_emitted(value):
                    namespace[name] = rebuilder.value(value)
        result = emitted(*parameter_symbols(forward))
        values = result if isinstance(result, (tuple, list)) else (result,)
        return tuple(as_expression(value, "gradgen's gradient returned") for value in values)
    except Exception:  # e.g. `if x > 0` on a symbol: the numeric comparison still stands
        return None


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

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Lt": operator.lt, "LtE": operator.le, "Gt": operator.gt, "GtE": operator.ge,
    "Eq": operator.eq, "NotEq": operator.ne,
}  # fmt: skip


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
        if relation not in _COMPARISONS:
            return operand
        arguments = [ast.Constant(relation), operand.left, operand.comparators[0]]
        call = ast.Call(ast.Name(_INDICATOR, ast.Load()), arguments, [])
        return ast.copy_location(call, operand)


def _indicator(relation: str, left: Any, right: Any) -> Any:
    """1 where the comparison holds, else 0: what ``gradient * (a >= b)`` means on numbers."""
    if not isinstance(left, sympy.Basic) and not isinstance(right, sympy.Basic):
        return _COMPARISONS[relation](left, right)
    # A step function, like sympy's own derivative of Max/Min/Abs; the second argument is
    # its value at the tie, which follows the comparison's strictness.
    if relation in ("Gt", "GtE"):
        return sympy.Heaviside(left - right, 1 if relation == "GtE" else 0)
    if relation in ("Lt", "LtE"):
        return sympy.Heaviside(right - left, 1 if relation == "LtE" else 0)
    condition = sympy.Eq(left, right) if relation == "Eq" else sympy.Ne(left, right)
    return sympy.Piecewise((1, condition), (0, True))


def _is_emitted(value: Any) -> bool:
    return isinstance(value, types.FunctionType) and value.__code__.co_filename == _EMITTED_FILENAME


def _emitted_function(namespace: dict, preferred_name: str) -> types.FunctionType | None:
    defined = {name: value for name, value in namespace.items() if _is_emitted(value)}
    if preferred_name in defined:
        return defined[preferred_name]
    if len(defined) == 1:
        return next(iter(defined.values()))
    return None


# --- comparing one partial -------------------------------------------------------------------


def values_agree(gradgen_value: float, sympy_value: float) -> bool:
    """Equal to 1e-9 relative / 1e-12 absolute; two nans agree."""
    if math.isnan(gradgen_value) and math.isnan(sympy_value):
        return True
    return math.isclose(gradgen_value, sympy_value, rel_tol=1e-9, abs_tol=1e-12)


def evaluate_at(expression: sympy.Expr, point: Mapping[sympy.Symbol, float]) -> float:
    """The expression's value at the point, evaluated exactly and then rounded; nan if not real."""
    exact = {symbol: _exact(value) for symbol, value in point.items()}
    try:
        return float(expression.subs(exact).evalf(30))
    except (TypeError, ValueError):  # complex, zoo, or something sympy left unevaluated
        return math.nan


def _exact(value: float) -> sympy.Expr:
    # Rational(x) is the double's exact value, so sympy sees the same point gradgen does.
    return sympy.Rational(value) if math.isfinite(value) else sympy.sympify(value)


def symbolic_status(
    sympy_derivative: sympy.Expr, gradgen_expression: sympy.Expr | None
) -> SymbolicStatus:
    """Whether two derivative expressions are equal, different, or neither could be shown.

    "equal": their difference simplifies to 0, once every step function takes sympy's value
    at its kink (at max(x, y) with x == y sympy says 1/2, gradgen picks a subgradient; both
    are right). "different": they differ at one of a few seeded random real points.
    "undecided": anything else.
    """
    if gradgen_expression is None:
        return "undecided"
    try:
        difference = _steps_as_sympy_does(sympy_derivative - gradgen_expression)
        if sympy.simplify(difference) == 0:
            return "equal"
        if _differ_somewhere(sympy_derivative, gradgen_expression):
            return "different"
    except Exception:  # simplify and friends can fail on exotic expressions
        return "undecided"
    return "undecided"


def _steps_as_sympy_does(expression: sympy.Expr) -> sympy.Expr:
    return expression.replace(sympy.Heaviside, _heaviside_with_default_kink)


def _heaviside_with_default_kink(argument: sympy.Expr, *_value_at_kink: Any) -> sympy.Expr:
    return sympy.Heaviside(argument)


def _differ_somewhere(first: sympy.Expr, second: sympy.Expr, tries: int = 8) -> bool:
    symbols = sorted(first.free_symbols | second.free_symbols, key=str)
    generator = random.Random(0)  # seeded: the same verdict on every run
    for _ in range(tries):
        # Random points almost surely miss kinks, where the two may legitimately differ.
        point = {s: generator.choice((-1, 1)) * generator.uniform(0.1, 2.0) for s in symbols}
        a, b = evaluate_at(first, point), evaluate_at(second, point)
        if math.isfinite(a) and math.isfinite(b):  # skip points outside either's domain
            if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                return True
    return False


@dataclass(frozen=True, slots=True)
class PartialCheck:
    """One partial derivative, as gradgen and sympy see it."""

    name: str
    gradgen_value: float
    sympy_value: float
    sympy_derivative: sympy.Expr
    symbolic_status: SymbolicStatus
    ok: bool
    gradgen_expression: sympy.Expr | None = None
    on_a_kink: bool = False  # a step in sympy's derivative switches exactly at the point


def compare_partial(
    name: str,
    gradgen_value: float,
    sympy_derivative: sympy.Expr,
    point: Mapping[sympy.Symbol, float],
    gradgen_expression: sympy.Expr | None = None,
) -> PartialCheck:
    """Compare gradgen's value (and expression, if any) for one partial with sympy's derivative."""
    sympy_value = evaluate_at(sympy_derivative, point)
    status = symbolic_status(sympy_derivative, gradgen_expression)
    agree = values_agree(float(gradgen_value), sympy_value)
    return PartialCheck(
        name=name,
        gradgen_value=float(gradgen_value),
        sympy_value=sympy_value,
        sympy_derivative=sympy_derivative,
        symbolic_status=status,
        ok=agree and status != "different",
        gradgen_expression=gradgen_expression,
        on_a_kink=_on_a_kink(sympy_derivative, point),
    )


def _on_a_kink(derivative: sympy.Expr, point: Mapping[sympy.Symbol, float]) -> bool:
    exact = {symbol: _exact(value) for symbol, value in point.items()}
    steps = derivative.atoms(sympy.Heaviside, sympy.sign)
    return any(step.args[0].subs(exact) == 0 for step in steps)


# --- the report ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every checked partial of one function at one point; ``str()`` renders a table."""

    function_name: str
    parameter_names: tuple[str, ...]
    point: tuple[float, ...]
    partials: tuple[PartialCheck, ...]

    @property
    def ok(self) -> bool:
        return all(partial.ok for partial in self.partials)

    def __str__(self) -> str:
        arguments = ", ".join(f"{n}={v!r}" for n, v in zip(self.parameter_names, self.point))
        rows = [("partial", "gradgen", "sympy", "symbolic", "result")]
        rows += [
            (p.name, repr(p.gradgen_value), repr(p.sympy_value), p.symbolic_status,
             "ok" if p.ok else "MISMATCH")
            for p in self.partials
        ]  # fmt: skip
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = [f"check {self.function_name}({arguments})"]
        for row in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        lines.append("sympy derivatives:")
        for partial in self.partials:
            lines.append(f"  d/d{partial.name} = {partial.sympy_derivative}")
            if partial.symbolic_status == "different":
                lines.append(f"  gradgen's d/d{partial.name} = {partial.gradgen_expression}")
        lines.append(self._verdict())
        return "\n".join(lines)

    def _verdict(self) -> str:
        if self.ok:
            count = len(self.partials)
            return "ok: 1 partial agrees" if count == 1 else f"ok: all {count} partials agree"
        problems = []
        for partial in self.partials:
            if partial.ok:
                continue
            if not values_agree(partial.gradgen_value, partial.sympy_value):
                kink = ""
                if partial.on_a_kink:
                    kink = "; on a kink, where sympy takes Heaviside(0) = 1/2"
                problems.append(
                    f"{partial.name} (gradgen {partial.gradgen_value!r}, "
                    f"sympy {partial.sympy_value!r}{kink})"
                )
            else:
                problems.append(f"{partial.name} (symbolically different)")
        return "MISMATCH: " + ", ".join(problems)


# --- the entry point -------------------------------------------------------------------------


def check(
    f: Callable[..., Any],
    *args: float,
    wrt: int | str | Sequence[int | str] | None = None,
    optimize: bool = True,
) -> CheckReport:
    """Compare gradgen's gradient of scalar ``f`` at ``args`` with sympy's derivative.

    ``wrt`` is as in ``grad`` (a parameter index or name, or a tuple of them); None means all.

    >>> import math
    >>> def softplus(x):
    ...     return math.log1p(math.exp(x))
    >>> report = check(softplus, 0.5)
    >>> report.ok
    True
    >>> print(report)  # doctest: +ELLIPSIS
    check softplus(x=0.5)
    ...
    ok: 1 partial agrees
    """
    names = parameter_names(f)
    point = _point(f.__qualname__, names, args)
    wrt_names = normalize_wrt(f.__qualname__, names, wrt)
    symbols = dict(zip(names, parameter_symbols(f)))
    forward = symbolic_forward(f)
    derivatives = [sympy.diff(forward, symbols[name]) for name in wrt_names]

    from gradgen.api import grad

    gradient = grad(f, wrt=wrt_names, optimize=optimize)
    values = gradient(*args)
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    if len(values) != len(wrt_names):
        raise GradgenError(
            f"gradgen's gradient of {f.__qualname__} returned {len(values)} values for "
            f"{len(wrt_names)} partials (a bug in gradgen)"
        )
    expressions = symbolic_gradient(gradient, f)
    if expressions is None or len(expressions) != len(wrt_names):
        expressions = (None,) * len(wrt_names)
    substitution = {symbols[name]: value for name, value in zip(names, point)}
    partials = tuple(
        compare_partial(name, _gradgen_number(value, name), derivative, substitution, expression)
        for name, value, derivative, expression in zip(wrt_names, values, derivatives, expressions)
    )
    return CheckReport(f.__qualname__, names, point, partials)


def normalize_wrt(
    function_name: str, names: tuple[str, ...], wrt: int | str | Sequence[int | str] | None
) -> tuple[str, ...]:
    """``wrt`` as a tuple of parameter names (None: all of them)."""
    if wrt is None:
        return names
    items = (wrt,) if isinstance(wrt, (int, str)) else tuple(wrt)
    chosen = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item < len(names):
                raise InvalidArgumentError(
                    f"wrt={item} is out of range: {function_name} has {len(names)} parameters "
                    f"({', '.join(names)})"
                )
            item = names[item]
        elif not isinstance(item, str) or item not in names:
            raise InvalidArgumentError(
                f"wrt={item!r} is not a parameter of {function_name} ({', '.join(names)})"
            )
        if item in chosen:
            raise InvalidArgumentError(f"wrt names parameter '{item}' twice")
        chosen.append(item)
    if not chosen:
        raise InvalidArgumentError(f"wrt names no parameter of {function_name}")
    return tuple(chosen)


def _point(function_name: str, names: tuple[str, ...], args: tuple[Any, ...]) -> tuple[float, ...]:
    if len(args) != len(names):
        raise InvalidArgumentError(
            f"check({function_name}, ...) got {len(args)} values for {len(names)} parameters "
            f"({', '.join(names)})"
        )
    return tuple(_scalar(value, name) for name, value in zip(names, args))


def _gradgen_number(value: Any, name: str) -> float:
    if isinstance(value, numpy.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise GradgenError(
        f"gradgen's gradient for '{name}' is {type(value).__name__}, not a number "
        "(a bug in gradgen)"
    )


def _scalar(value: Any, name: str) -> float:
    if isinstance(value, numpy.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, (numpy.ndarray, list, tuple)):
        raise InvalidArgumentError(
            f"'{name}' is an array; the sympy check supports scalar arguments only (arrays are "
            "not yet supported)"
        )
    raise InvalidArgumentError(f"'{name}' is {type(value).__name__}, expected a real number")
