"""An independent oracle: differentiate a function with sympy and compare with gradgen.

``check(f, *args)`` guarantees:

* sympy's side never touches gradgen's parser or graph: ``sympy_shim.symbolic_forward`` runs the
  user's own ``f`` (and its helpers) on sympy symbols and ``sympy.diff`` differentiates the result.
* numpy functions are checked at the concrete shapes of the arrays in ``args``: each array
  becomes an object array of symbols, one per element (``W_0_1``), and every element's partial
  is checked like a scalar's (see ``sympy_arrays``).
* Every partial is compared numerically at the given point (``math.isclose`` with
  ``rel_tol=1e-9, abs_tol=1e-12``; nan agrees with nan), and, when gradgen's emitted source can
  also be run on symbols, symbolically (``simplify(a - b) == 0``): "equal", "different" or
  "undecided". For arrays, only those of at most ``SYMBOLIC_ELEMENTS`` elements are compared
  symbolically (simplify is slow); larger ones are "undecided".
* ``report.ok`` is True iff every partial agrees numerically and none is symbolically different.
  At a kink (max(x, y) with x == y, abs at 0) sympy's derivative takes Heaviside(0) = 1/2 while
  gradgen picks a subgradient; the numbers then differ and the report says the point is a kink.
* A function that branches on values (``if``, ``while``, ``a if c else b``, ``max``) is checked on
  the path the point takes: its conditions are decided at the point (``sympy_branches``), and the
  report says how many were.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy
import sympy

from gradgen.errors import GradgenError, InvalidArgumentError
from gradgen.sympy_arrays import element_name, symbol_array
from gradgen.sympy_branches import decided_at
from gradgen.sympy_emitted import symbolic_gradient
from gradgen.sympy_report import (
    ArrayCheck,
    CheckReport,
    PartialCheck,
    SymbolicStatus,
    values_agree,
)
from gradgen.sympy_shim import SymbolicEvaluationError, parameter_names, symbolic_forward

__all__ = [
    "ArrayCheck",
    "CheckReport",
    "PartialCheck",
    "SymbolicEvaluationError",
    "check",
    "compare_partial",
    "symbolic_forward",
    "values_agree",
]

SYMBOLIC_ELEMENTS = 12  # arrays up to this size are also compared symbolically, element by element
MAX_ELEMENTS = 256  # all array arguments together; sympy differentiates once per element


# --- comparing one partial -------------------------------------------------------------------


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
    sympy_derivative: sympy.Expr, gradgen_expression: sympy.Expr | None, path_specific: bool = False
) -> SymbolicStatus:
    """Whether two derivative expressions are equal, different, or neither could be shown.

    "equal": their difference simplifies to 0, once every step function takes sympy's value
    at its kink (at max(x, y) with x == y sympy says 1/2, gradgen picks a subgradient; both
    are right). "different": they differ at one of a few seeded random real points.
    "undecided": anything else. A ``path_specific`` derivative (branches decided at the check
    point) holds only near that point, so random points elsewhere prove nothing: never "different".
    """
    if gradgen_expression is None:
        return "undecided"
    try:
        difference = _steps_as_sympy_does(sympy_derivative - gradgen_expression)
        if sympy.simplify(difference) == 0:
            return "equal"
        if not path_specific and _differ_somewhere(sympy_derivative, gradgen_expression):
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


def compare_partial(
    name: str,
    gradgen_value: float,
    sympy_derivative: sympy.Expr,
    point: Mapping[sympy.Symbol, float],
    gradgen_expression: sympy.Expr | None = None,
    path_specific: bool = False,
) -> PartialCheck:
    """Compare gradgen's value (and expression, if any) for one partial with sympy's derivative."""
    sympy_value = evaluate_at(sympy_derivative, point)
    status = symbolic_status(sympy_derivative, gradgen_expression, path_specific)
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


# --- the entry point -------------------------------------------------------------------------


def check(
    f: Callable[..., Any],
    *args: float | numpy.ndarray,
    wrt: int | str | Sequence[int | str] | None = None,
    optimize: bool = True,
) -> CheckReport:
    """Compare gradgen's gradient of scalar-valued ``f`` at ``args`` with sympy's derivative.

    ``args`` are numbers or numpy arrays (checked at their shapes). ``wrt`` is as in ``grad``
    (a parameter index or name, or a tuple of them); None means all.

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
    symbols = _symbolic_arguments(names, point)
    substitution: dict[sympy.Symbol, float] = {}
    for symbol, value in zip(symbols, point):
        if isinstance(symbol, numpy.ndarray):
            substitution.update(zip(symbol.flat, numpy.asarray(value, dtype=float).flat))
        else:
            substitution[symbol] = value
    # Branches on values follow the path this point takes (sympy_branches).
    with decided_at(substitution) as branches:
        forward = symbolic_forward(f, symbols)
    _require_same_value(f, args, forward, substitution)

    from gradgen.api import grad

    gradient = grad(f, wrt=wrt_names, optimize=optimize)
    values = gradient(*args)
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    if len(values) != len(wrt_names):
        raise GradgenError(
            f"gradgen's gradient of {f.__qualname__} returned {len(values)} values for "
            f"{len(wrt_names)} partials (a bug in gradgen)"
        )
    with decided_at(substitution) as emitted_branches:
        expressions = symbolic_gradient(gradient, f, symbols)
    path_specific = branches.count + emitted_branches.count > 0
    if expressions is None or len(expressions) != len(wrt_names):
        expressions = (None,) * len(wrt_names)
    by_name = dict(zip(names, zip(symbols, point)))
    partials: list[PartialCheck] = []
    arrays: list[ArrayCheck] = []
    for name, value, expression in zip(wrt_names, values, expressions):
        symbol, argument = by_name[name]
        if not isinstance(symbol, numpy.ndarray):
            derivative = sympy.diff(forward, symbol)
            number = _gradgen_number(value, name)
            if not isinstance(expression, sympy.Expr):
                expression = None
            partials.append(compare_partial(name, number, derivative, substitution, expression, path_specific))
            continue
        array = _compare_array(name, symbol, value, forward, substitution, expression, path_specific)
        arrays.append(array)
        partials.extend(array.elements)
    return CheckReport(f.__qualname__, names, point, tuple(partials), tuple(arrays), branches.count)


def _require_same_value(
    f: Callable[..., Any], args: tuple[Any, ...], forward: sympy.Expr, point: Mapping[sympy.Symbol, float]
) -> None:
    """The oracle must compute what ``f`` computes at the point, or it checks another function.

    The symbolic run can leave the point's path where sympy compares structurally (``x == 0.5``
    is False for a symbol ``x``) or where a helper behaves differently on symbols.
    """
    value = f(*args)
    if not isinstance(value, numbers.Real) and not (isinstance(value, numpy.ndarray) and value.ndim == 0):
        return  # as_expression has refused non-scalar results already
    expected, symbolic = float(value), evaluate_at(forward, point)
    if math.isnan(expected) and math.isnan(symbolic):
        return
    if not math.isclose(expected, symbolic, rel_tol=1e-6, abs_tol=1e-9):
        raise SymbolicEvaluationError(
            f"running {f.__qualname__} on sympy symbols gives {symbolic!r} at this point, but "
            f"{f.__qualname__} itself returns {expected!r}, so sympy cannot serve as the oracle here",
            hint="sympy compares expressions with == and != structurally: branch with <, <=, >, >= "
            "(decided at the point), or check the gradient numerically (finite differences)",
        )


def _compare_array(
    name: str,
    symbols: numpy.ndarray,
    gradgen_value: Any,
    forward: sympy.Expr,
    point: Mapping[sympy.Symbol, float],
    gradgen_expressions: Any,
    path_specific: bool,
) -> ArrayCheck:
    """Every element's partial of one array argument."""
    if numpy.shape(gradgen_value) != symbols.shape:
        raise GradgenError(
            f"gradgen's gradient for '{name}' has shape {numpy.shape(gradgen_value)}, not the "
            f"argument's {symbols.shape} (a bug in gradgen)"
        )
    symbolic = (
        isinstance(gradgen_expressions, numpy.ndarray)
        and gradgen_expressions.shape == symbols.shape
        and symbols.size <= SYMBOLIC_ELEMENTS
    )
    values = numpy.asarray(gradgen_value)
    elements = []
    for index in numpy.ndindex(*symbols.shape):
        label = element_name(name, index)
        derivative = sympy.diff(forward, symbols[index])
        number = _gradgen_number(values[index], label)
        expression = gradgen_expressions[index] if symbolic else None
        elements.append(compare_partial(label, number, derivative, point, expression, path_specific))
    return ArrayCheck(name, symbols.shape, tuple(elements))


def _symbolic_arguments(
    names: tuple[str, ...], point: tuple[Any, ...]
) -> tuple[sympy.Symbol | numpy.ndarray, ...]:
    """A real symbol per scalar, an object array of them per array; their names must differ."""
    symbols = tuple(
        symbol_array(name, value.shape)
        if isinstance(value, numpy.ndarray)
        else sympy.Symbol(name, real=True)
        for name, value in zip(names, point)
    )
    seen: set[str] = set()
    for symbol in symbols:
        for element in numpy.ravel(numpy.asarray(symbol, dtype=object)):
            if element.name in seen:
                raise InvalidArgumentError(
                    f"the sympy check names array elements like '{element.name}', which is "
                    "also another parameter's name; rename that parameter"
                )
            seen.add(element.name)
    return symbols


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


def _point(function_name: str, names: tuple[str, ...], args: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(args) != len(names):
        raise InvalidArgumentError(
            f"check({function_name}, ...) got {len(args)} values for {len(names)} parameters "
            f"({', '.join(names)})"
        )
    point = tuple(_argument(value, name) for name, value in zip(names, args))
    elements = sum(value.size for value in point if isinstance(value, numpy.ndarray))
    if elements > MAX_ELEMENTS:
        raise InvalidArgumentError(
            f"the arrays given to check({function_name}, ...) have {elements} elements in all; "
            f"the sympy check differentiates per element and takes at most {MAX_ELEMENTS}",
            hint="check at smaller shapes: the code gradgen emits is the same for every shape",
        )
    return point


def _gradgen_number(value: Any, name: str) -> float:
    if isinstance(value, (numpy.ndarray, numpy.generic)) and numpy.ndim(value) == 0:
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise GradgenError(
        f"gradgen's gradient for '{name}' is {type(value).__name__}, not a number "
        "(a bug in gradgen)"
    )


def _argument(value: Any, name: str) -> float | numpy.ndarray:
    """A float, or a float array of at least one dimension."""
    if isinstance(value, numpy.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, numpy.ndarray):
        if value.dtype.kind not in "fiu" or value.size == 0:
            raise InvalidArgumentError(
                f"'{name}' is an array of {value.dtype} with shape {value.shape}; the sympy check "
                "needs a non-empty array of real numbers"
            )
        return value.astype(float)
    if isinstance(value, (list, tuple)):
        raise InvalidArgumentError(
            f"'{name}' is a {type(value).__name__}; pass arrays as numpy arrays (np.array(...))"
        )
    raise InvalidArgumentError(f"'{name}' is {type(value).__name__}, expected a real number or a numpy array")
