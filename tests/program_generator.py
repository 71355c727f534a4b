"""Random straight-line forward programs for differential testing, and numeric oracles.

A program is generated as a small tree (``Program``) from which two things are printed: the
Python source gradgen differentiates, and an equivalent sympy expression built independently
from the same tree (never from gradgen's parse or graph). Scalar programs use every scalar op
gradgen supports; numpy programs use random broadcasting shapes, reductions and products.
Domains are kept safe by construction: logs and square roots see ``x*x + c`` or ``|x| + c``,
divisors are ``1 + y*y``, pow bases are positive, exp sees only bounded values (tanh, sin),
and nothing is evaluated near a kink of abs/max/min (checked by ``kink_margin``).

No tests live here; ``tests/test_generated_programs.py`` drives it.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sympy
from hypothesis import strategies as st

# -- numeric oracles ----------------------------------------------------------------------------


def central_differences(
    function: Callable[..., Any], point: Sequence[Any], step: float = 1e-6
) -> list[Any]:
    """The gradient of scalar ``function`` at ``point`` by central differences, per argument."""
    point = list(point)
    gradients: list[Any] = []
    for index, argument in enumerate(point):
        if np.ndim(argument) == 0:
            x = float(argument)
            h = step * max(1.0, abs(x))
            gradients.append(
                (
                    float(function(*_with(point, index, x + h)))
                    - float(function(*_with(point, index, x - h)))
                )
                / (2 * h)
            )
            continue
        base = np.array(argument, dtype=float)
        gradient = np.zeros_like(base)
        for position in np.ndindex(base.shape):
            h = step * max(1.0, abs(base[position]))
            plus, minus = base.copy(), base.copy()
            plus[position] += h
            minus[position] -= h
            gradient[position] = (
                float(function(*_with(point, index, plus)))
                - float(function(*_with(point, index, minus)))
            ) / (2 * h)
        gradients.append(gradient)
    return gradients


def _with(point: list[Any], index: int, value: Any) -> list[Any]:
    return point[:index] + [value] + point[index + 1 :]


def assert_gradients_close(
    actual: Sequence[Any], expected: Sequence[Any], *, rtol: float, atol_scale: float = 1.0
) -> None:
    """Each gradient agrees within ``rtol`` relative to its own magnitude (at least 1)."""
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert np.shape(a) == np.shape(e), (
            f"gradient {index}: shape {np.shape(a)}, expected {np.shape(e)}"
        )
        scale = max(1.0, float(np.max(np.abs(e), initial=0.0)))
        np.testing.assert_allclose(
            np.asarray(a, dtype=float),
            e,
            rtol=rtol,
            atol=rtol * scale * atol_scale,
            err_msg=f"gradient {index}",
        )


# -- the program tree ---------------------------------------------------------------------------

# A value whose bound exceeds this is squashed (tanh, sin, x/(1+x*x)) before it is used again,
# so no program overflows and finite differences stay accurate.
MAGNITUDE_LIMIT = 30.0
# Parameters are drawn from [-INPUT_BOUND, INPUT_BOUND].
INPUT_BOUND = 2.0
# Switches to keep a known gradgen bug (with its repro in regressions.py) out of the random
# programs while it is open, so the fuzzer can find new ones. All on: every bug is fixed.
# regressions.negative_axis: axis=-1 was rejected.
NEGATIVE_AXES = True
# regressions.bool_times_minus_one / bool_times_one_added: ``(a > b) * -1`` and ``(a > b) * 1``
# were simplified to ``-(a > b)`` and ``a > b``, wrong for numpy booleans.
GATE_CONSTANT_FACTORS = True
# regressions.sum_of_keepdims_sum: reducing a keepdims reduction again was a GraphError.
KEEPDIMS_REDUCTIONS = True
# regressions.chained_keepdims_sums: a keepdims reduction of a value computed by another keepdims
# reduction was a GraphError with optimize=True.
CHAINED_KEEPDIMS = True

Shape = tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Node:
    """An expression: ``op`` applied to ``args``; ``lo``/``hi`` bound every element's value."""

    op: str
    args: tuple[Node, ...] = ()
    value: Any = None
    shape: Shape = ()
    lo: float = 0.0
    hi: float = 0.0
    spelling: str = ""
    bound_to_constant: bool = False  # for "var": the name holds a value no parameter affects
    bound_to_keepdims: bool = False  # for "var": its value was computed by a keepdims reduction

    @property
    def magnitude(self) -> float:
        return max(abs(self.lo), abs(self.hi))

    @property
    def has_keepdims_reduction(self) -> bool:
        if self.op == "var":
            return self.bound_to_keepdims
        if self.op in ("sum", "mean") and self.value[1]:
            return True
        return any(a.has_keepdims_reduction for a in self.args)

    @property
    def variable(self) -> bool:
        """Whether some parameter affects this value (constants fold away in gradgen)."""
        if self.op in ("const", "global"):
            return False
        if self.op == "var":
            return not self.bound_to_constant
        return any(a.variable for a in self.args)


@dataclass(frozen=True, eq=False)
class Statement:
    """``targets <operator> sources``; ``results`` are what the targets are bound to."""

    targets: tuple[str, ...]
    operator: str  # "=", "+=", "-=", "*="
    sources: tuple[Node, ...]
    results: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Helper:
    """A module-level function the forward function calls (gradgen inlines it)."""

    name: str
    parameters: tuple[str, ...]
    statements: tuple[Statement, ...]
    result: Node


@dataclass(eq=False)
class Program:
    kind: str  # "scalar" or "numpy"
    parameters: list[tuple[str, Shape]]
    statements: list[Statement]
    result: Node
    helper: Helper | None = None
    globals: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    annotated: frozenset[str] = frozenset()  # parameters written ``x: float`` (proven scalars)
    docstring: bool = False

    def __repr__(self) -> str:
        header = f"Program(kind={self.kind!r}, seed={self.seed}, parameters={self.parameters!r})"
        return f"{header}:\n{self.source()}"

    # -- printing -------------------------------------------------------------------------------

    def source(self, name: str = "forward") -> str:
        lines = ["import math", "", "import numpy as np", ""]
        for constant, number in self.globals.items():
            lines.append(f"{constant} = {number!r}")
        if self.helper is not None:
            lines += ["", "", f"def {self.helper.name}({', '.join(self.helper.parameters)}):"]
            lines += ["    " + line for line in _statement_lines(self.helper.statements)]
            lines.append(f"    return {render(self.helper.result)}")
        parameters = ", ".join(
            f"{p}: float" if p in self.annotated else p for p, _ in self.parameters
        )
        lines += ["", "", f"def {name}({parameters}):"]
        if self.docstring:
            lines.append('    """A generated program."""')
        lines += ["    " + line for line in _statement_lines(self.statements)]
        lines.append(f"    return {render(self.result)}")
        return "\n".join(lines) + "\n"

    def load(self, directory: Path, module_name: str) -> Any:
        """Write the program to ``directory/module_name.py`` and import it."""
        path = directory / f"{module_name}.py"
        path.write_text(self.source(), encoding="utf-8")
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        return module

    # -- evaluation -----------------------------------------------------------------------------

    def point(self) -> tuple[Any, ...]:
        """A random point (from ``seed``) with every parameter in [-INPUT_BOUND, INPUT_BOUND]."""
        rng = np.random.default_rng(self.seed)
        values: list[Any] = []
        for _, shape in self.parameters:
            if shape == ():
                values.append(float(rng.uniform(-INPUT_BOUND, INPUT_BOUND)))
            else:
                values.append(rng.uniform(-INPUT_BOUND, INPUT_BOUND, size=shape))
        return tuple(values)

    def integer_point(self) -> tuple[Any, ...]:
        """A random point of Python ints and int64 arrays in [-INPUT_BOUND, INPUT_BOUND]."""
        rng = np.random.default_rng(self.seed)
        bound = int(INPUT_BOUND)
        values: list[Any] = []
        for _, shape in self.parameters:
            if shape == ():
                values.append(int(rng.integers(-bound, bound + 1)))
            else:
                values.append(rng.integers(-bound, bound + 1, size=shape))
        return tuple(values)

    def kink_margin(self, point: Sequence[Any]) -> float:
        """How far ``point`` is from a kink of abs/max/min or a comparison flipping.

        Exact ties (0.0) are allowed: they come from arguments that are the same function
        (``max(e, e)``, ``abs(x - x)``), where every choice of branch has the same gradient.
        """
        margins: list[float] = []
        env = {name: value for (name, _), value in zip(self.parameters, point)}
        _run(self.statements, env, margins, self.helper)
        evaluate(self.result, env, margins, self.helper)
        inexact = [m for m in margins if m > 0.0]
        return min(inexact, default=math.inf)

    def sympy_gradient(self, point: Sequence[float]) -> list[float]:
        """The gradient at ``point`` from sympy, built from the program tree alone."""
        symbols = [sympy.Symbol(name, real=True) for name, _ in self.parameters]
        env: dict[str, Any] = dict(zip((name for name, _ in self.parameters), symbols))
        _run_symbolic(self.statements, env, self.helper)
        expression = to_sympy(self.result, env, self.helper)
        at = {s: sympy.Float(float(v), 30) for s, v in zip(symbols, point)}
        return [float(sympy.diff(expression, s).xreplace(at).evalf(20)) for s in symbols]


def _statement_lines(statements: Sequence[Statement]) -> list[str]:
    lines = []
    for statement in statements:
        sources = ", ".join(render(node) for node in statement.sources)
        if statement.operator == "pass":
            lines.append("pass")
        elif statement.operator == ": float =":  # an annotated assignment
            lines.append(f"{statement.targets[0]}: float = {sources}")
        elif statement.operator == "chain":  # a = b = value
            lines.append(" = ".join([*statement.targets, sources]))
        else:
            lines.append(f"{', '.join(statement.targets)} {statement.operator} {sources}")
    return lines


# -- printing a node as Python ------------------------------------------------------------------

_BINARY_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
_UFUNCS = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide", "pow": "power"}
_COMPARISONS = {"gt": ">", "lt": "<", "ge": ">=", "le": "<="}
_MATH_NAMES = {"arctan": "atan", "abs": "fabs"}


def _constant_text(number: Any) -> str:
    text = repr(number)
    return f"({text})" if number < 0 else text


def render(node: Node) -> str:
    op, args = node.op, node.args
    if op == "var":
        return str(node.value)
    if op == "const":
        return _constant_text(node.value)
    if op == "global":
        return str(node.value[0])
    if op in _BINARY_SYMBOLS:
        if node.spelling == "ufunc":
            return f"np.{_UFUNCS[op]}({render(args[0])}, {render(args[1])})"
        return f"({render(args[0])} {_BINARY_SYMBOLS[op]} {render(args[1])})"
    if op == "neg":
        if node.spelling == "ufunc":
            return f"np.negative({render(args[0])})"
        return f"(-{render(args[0])})"
    if op == "pos":
        return f"(+{render(args[0])})"
    if op == "log_base":
        return f"math.log({render(args[0])}, {node.value!r})"
    if op == "gate":  # a comparison used as a 0/1 factor
        comparison = f"{render(args[0])} {_COMPARISONS[node.value]} {render(args[1])}"
        return f"(({comparison}) * {render(args[2])})"
    if op in ("maximum", "minimum"):
        inner = ", ".join(render(a) for a in args)
        if node.spelling == "builtin":
            return f"{'max' if op == 'maximum' else 'min'}({inner})"
        return f"np.{op}({inner})"
    if op == "call":
        return f"{node.value.name}({', '.join(render(a) for a in args)})"
    if op in ("sum", "mean"):
        axis, keepdims, form = node.value
        inner = render(args[0])
        keywords = []
        if form == "positional":
            keywords.append(repr(axis))
        elif axis is not None or form == "explicit-none":
            keywords.append(f"axis={axis!r}")
        if keepdims:
            keywords.append("keepdims=True")
        if form == "method":
            return f"{inner}.{op}({', '.join(keywords)})"
        return f"np.{op}({', '.join([inner, *keywords])})"
    if op == "matmul":
        left, right = render(args[0]), render(args[1])
        return {
            "@": f"({left} @ {right})",
            "np.matmul": f"np.matmul({left}, {right})",
            "np.dot": f"np.dot({left}, {right})",
            ".dot": f"{left}.dot({right})",
        }[node.value]
    if op == "transpose":
        inner = render(args[0])
        return {
            ".T": f"{inner}.T",
            "np.transpose": f"np.transpose({inner})",
            ".transpose()": f"{inner}.transpose()",
        }[node.value]
    # unary elementary functions
    inner = render(args[0])
    if node.spelling == "builtin":
        return f"abs({inner})"
    if node.spelling == "math":
        return f"math.{_MATH_NAMES.get(op, op)}({inner})"
    return f"np.{op}({inner})"


# -- evaluating a node with numbers (for kinks and shapes) and with sympy ------------------------

_NUMPY_UNARY: dict[str, Callable[[Any], Any]] = {
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "arctan": np.arctan,
    "abs": np.abs,
}
_SYMPY_UNARY: dict[str, Callable[[Any], Any]] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "log1p": lambda x: sympy.log(1 + x),
    "expm1": lambda x: sympy.exp(x) - 1,
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "tanh": sympy.tanh,
    "arctan": sympy.atan,
    "abs": sympy.Abs,
}
_SYMPY_RELATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
    "ge": lambda a, b: a >= b,
    "le": lambda a, b: a <= b,
}


def _margin(values: Any) -> float:
    return float(np.min(np.abs(values))) if np.size(values) else math.inf


def evaluate(node: Node, env: dict[str, Any], margins: list[float], helper: Helper | None) -> Any:
    op, args = node.op, node.args
    if op == "var":
        return env[node.value]
    if op == "const":
        return node.value
    if op == "global":
        return node.value[1]
    values = [evaluate(a, env, margins, helper) for a in args]
    if op == "add":
        return values[0] + values[1]
    if op == "sub":
        return values[0] - values[1]
    if op == "mul":
        return values[0] * values[1]
    if op == "div":
        return values[0] / values[1]
    if op == "pow":
        return np.power(np.asarray(values[0], dtype=float), values[1])
    if op == "neg":
        return -values[0]
    if op == "pos":
        return values[0]
    if op == "log_base":
        return np.log(values[0]) / np.log(node.value)
    if op == "gate":
        margins.append(_margin(np.subtract(values[0], values[1])))
        return (
            _SYMPY_RELATIONS[node.value](np.asarray(values[0]), np.asarray(values[1])) * values[2]
        )
    if op in ("maximum", "minimum"):
        for first, second in itertools.combinations(values, 2):
            margins.append(_margin(np.subtract(first, second)))
        reduce = np.maximum if op == "maximum" else np.minimum
        result = values[0]
        for value in values[1:]:
            result = reduce(result, value)
        return result
    if op == "abs":
        margins.append(_margin(values[0]))
        return np.abs(values[0])
    if op in _NUMPY_UNARY:
        return _NUMPY_UNARY[op](values[0])
    if op == "call":
        assert helper is not None
        local = dict(zip(helper.parameters, values))
        _run(helper.statements, local, margins, None)
        return evaluate(helper.result, local, margins, None)
    if op in ("sum", "mean"):
        axis, keepdims, _ = node.value
        return getattr(np, op)(values[0], axis=axis, keepdims=keepdims)
    if op == "matmul":
        return (
            np.dot(values[0], values[1])
            if np.ndim(values[0]) == 0 or np.ndim(values[1]) == 0
            else values[0] @ values[1]
        )
    if op == "transpose":
        return np.transpose(values[0])
    raise AssertionError(op)


def _run(
    statements: Sequence[Statement],
    env: dict[str, Any],
    margins: list[float],
    helper: Helper | None,
) -> None:
    for statement in statements:
        results = [evaluate(node, env, margins, helper) for node in statement.results]
        env.update(zip(statement.targets, results))


def to_sympy(node: Node, env: dict[str, Any], helper: Helper | None) -> Any:
    op, args = node.op, node.args
    if op == "var":
        return env[node.value]
    if op == "const":
        return (
            sympy.Integer(node.value)
            if isinstance(node.value, int)
            else sympy.Float(node.value, 30)
        )
    if op == "global":
        return sympy.Float(node.value[1], 30)
    values = [to_sympy(a, env, helper) for a in args]
    if op == "add":
        return values[0] + values[1]
    if op == "sub":
        return values[0] - values[1]
    if op == "mul":
        return values[0] * values[1]
    if op == "div":
        return values[0] / values[1]
    if op == "pow":
        return values[0] ** values[1]
    if op == "neg":
        return -values[0]
    if op == "pos":
        return values[0]
    if op == "log_base":
        return sympy.log(values[0]) / sympy.log(sympy.Float(node.value, 30))
    if op == "gate":
        condition = _SYMPY_RELATIONS[node.value](values[0], values[1])
        return sympy.Piecewise((values[2], condition), (0, True))
    if op == "maximum":
        return sympy.Max(*values)
    if op == "minimum":
        return sympy.Min(*values)
    if op in _SYMPY_UNARY:
        return _SYMPY_UNARY[op](values[0])
    if op == "call":
        assert helper is not None
        local = dict(zip(helper.parameters, values))
        _run_symbolic(helper.statements, local, None)
        return to_sympy(helper.result, local, None)
    raise AssertionError(f"no sympy twin for {op}")


def _run_symbolic(
    statements: Sequence[Statement], env: dict[str, Any], helper: Helper | None
) -> None:
    for statement in statements:
        results = [to_sympy(node, env, helper) for node in statement.results]
        env.update(zip(statement.targets, results))


# -- building nodes with value bounds -----------------------------------------------------------


def _broadcast(*shapes: Shape) -> Shape:
    return tuple(np.broadcast_shapes(*shapes))


def _fits(shape: Shape, target: Shape) -> bool:
    """``shape`` broadcasts to exactly ``target``."""
    try:
        return _broadcast(shape, target) == target
    except ValueError:
        return False


def _span(values: Sequence[float]) -> tuple[float, float]:
    return min(values), max(values)


def var(
    name: str,
    shape: Shape,
    lo: float,
    hi: float,
    bound_to_constant: bool = False,
    bound_to_keepdims: bool = False,
) -> Node:
    return Node(
        "var",
        value=name,
        shape=shape,
        lo=lo,
        hi=hi,
        bound_to_constant=bound_to_constant,
        bound_to_keepdims=bound_to_keepdims,
    )


def const(number: float) -> Node:
    return Node("const", value=number, lo=float(number), hi=float(number))


def binary(op: str, a: Node, b: Node) -> Node:
    shape = _broadcast(a.shape, b.shape)
    corners_of = {
        "add": lambda x, y: x + y,
        "sub": lambda x, y: x - y,
        "mul": lambda x, y: x * y,
        "div": lambda x, y: x / y,
        "pow": lambda x, y: float(x) ** y,
    }[op]
    if op == "div":
        assert b.lo > 0 or b.hi < 0, "divisor may be zero"
    if op == "mul" and a is b:  # a square: never negative
        low = 0.0 if a.lo <= 0 <= a.hi else min(a.lo**2, a.hi**2)
        return Node(op, (a, b), shape=shape, lo=low, hi=max(a.lo**2, a.hi**2))
    if op == "pow":
        if b.op == "const" and isinstance(b.value, int) and b.value >= 0:
            n = b.value
            ends = [a.lo**n, a.hi**n]
            if n % 2 == 0 and a.lo <= 0 <= a.hi:
                ends.append(0.0)
            lo, hi = _span(ends)
            return Node(op, (a, b), shape=shape, lo=lo, hi=hi)
        assert a.lo > 0, "pow with a possibly non-positive base"
    lo, hi = _span([corners_of(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)])
    return Node(op, (a, b), shape=shape, lo=lo, hi=hi)


_MONOTONE = {
    "exp": math.exp,
    "log": math.log,
    "log1p": math.log1p,
    "expm1": math.expm1,
    "sqrt": math.sqrt,
    "tan": math.tan,
    "tanh": math.tanh,
    "arctan": math.atan,
}


def unary(op: str, a: Node, spelling: str) -> Node:
    if op == "neg":
        return Node(op, (a,), shape=a.shape, lo=-a.hi, hi=-a.lo, spelling=spelling)
    if op == "pos":
        return Node(op, (a,), shape=a.shape, lo=a.lo, hi=a.hi)
    if op in ("sin", "cos"):
        return Node(op, (a,), shape=a.shape, lo=-1.0, hi=1.0, spelling=spelling)
    if op == "abs":
        if a.lo >= 0:
            lo, hi = a.lo, a.hi
        elif a.hi <= 0:
            lo, hi = -a.hi, -a.lo
        else:
            lo, hi = 0.0, a.magnitude
        return Node(op, (a,), shape=a.shape, lo=lo, hi=hi, spelling=spelling)
    domain_ok = {
        "log": a.lo >= 0.1,
        "sqrt": a.lo >= 0.1,
        "log1p": a.lo >= -0.5,
        "exp": a.magnitude <= 3.5,
        "expm1": a.magnitude <= 3.5,
        "tan": a.magnitude <= 1.2,
    }.get(op, True)
    assert domain_ok, f"{op} outside its safe domain [{a.lo}, {a.hi}]"
    function = _MONOTONE[op]
    return Node(op, (a,), shape=a.shape, lo=function(a.lo), hi=function(a.hi), spelling=spelling)


def extremum(op: str, args: Sequence[Node], spelling: str) -> Node:
    pick = max if op == "maximum" else min
    shape = _broadcast(*(a.shape for a in args))
    return Node(
        op,
        tuple(args),
        shape=shape,
        lo=pick(a.lo for a in args),
        hi=pick(a.hi for a in args),
        spelling=spelling,
    )


def gate(relation: str, a: Node, b: Node, c: Node) -> Node:
    shape = _broadcast(a.shape, b.shape, c.shape)
    return Node(
        "gate", (a, b, c), value=relation, shape=shape, lo=min(0.0, c.lo), hi=max(0.0, c.hi)
    )


def reduction(op: str, a: Node, axis: Any, keepdims: bool, form: str) -> Node:
    shape = np.sum(np.zeros(a.shape), axis=axis, keepdims=keepdims).shape
    count = int(np.prod(a.shape)) // max(1, int(np.prod(shape))) if a.shape else 1
    scale = count if op == "sum" else 1
    return Node(
        op, (a,), value=(axis, keepdims, form), shape=tuple(shape), lo=a.lo * scale, hi=a.hi * scale
    )


def matmul(a: Node, b: Node, form: str) -> Node:
    if a.shape == () or b.shape == ():
        shape = _broadcast(a.shape, b.shape)
        inner = 1
    else:
        shape = np.zeros(a.shape) @ np.zeros(b.shape)
        shape = np.shape(shape)
        inner = a.shape[-1]
    bound = inner * a.magnitude * b.magnitude
    return Node("matmul", (a, b), value=form, shape=tuple(shape), lo=-bound, hi=bound)


def transpose(a: Node, form: str) -> Node:
    return Node("transpose", (a,), value=form, shape=a.shape[::-1], lo=a.lo, hi=a.hi)


def call(helper: Helper, args: Sequence[Node], shape: Shape) -> Node:
    return Node(
        "call", tuple(args), value=helper, shape=shape, lo=helper.result.lo, hi=helper.result.hi
    )


# -- drawing random programs --------------------------------------------------------------------

# Local names that collide with what gradgen's emitter generates (temporaries, adjoints,
# versioned names, the runtime module, the builtins it calls).
TRICKY_NAMES = (
    "t0",
    "t1",
    "grad_x0",
    "grad_v0",
    "grad_t0",
    "x0_1",
    "v0_1",
    "runtime",
    "L",
    "float",
    "abs_",
)
CONSTANTS = (0.5, 1.0, 2.0, 3.0, -1.5, 0.25, 2, 3, -1, 1, 0, 0.0)
POW_EXPONENTS = (2, 3, 2.0, 0.5, 1.5, -1, -0.5, 1, -2, 2.5, 0)

_ELEMENTWISE_OPS = (
    ("add",) * 3
    + ("sub",) * 2
    + ("mul",) * 3
    + ("div",) * 2
    + ("neg", "pos", "square", "pow_const", "pow_const", "pow_var", "pow_base")
    + ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "arctan")
    + ("abs", "abs", "max", "min", "gate")
)
SCALAR_OPS = _ELEMENTWISE_OPS + ("call", "call", "log_base")
ARRAY_OPS = _ELEMENTWISE_OPS + ("call",) + ("sum", "mean", "sum", "matmul", "matmul", "transpose")
_UNARY = ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "arctan")


class _Drawer:
    """Draws one program; every random choice goes through hypothesis so it shrinks."""

    def __init__(
        self, draw: Callable[[st.SearchStrategy[Any]], Any], kind: str, max_parameters: int = 5
    ):
        self.draw = draw
        self.kind = kind
        self.max_parameters = max_parameters
        self.parameters: list[tuple[str, Shape]] = []
        self.env: dict[str, Node] = {}
        self.fresh: set[str] = set()  # array locals no other name aliases: safe for in-place +=
        self.helper: Helper | None = None
        self.in_helper = False
        self.globals: dict[str, float] = {}
        self.locals_made = 0
        self.helper_locals = 0
        self.dims: tuple[int, ...] = ()

    # -- random choices -----------------------------------------------------------------------

    def choice(self, options: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) < percent

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    # -- names --------------------------------------------------------------------------------

    def new_parameter(self, shape: Shape, prefix: str = "x") -> Node:
        name = f"{prefix}{sum(1 for p, _ in self.parameters if p.startswith(prefix))}"
        self.parameters.append((name, shape))
        node = var(name, shape, -INPUT_BOUND, INPUT_BOUND)
        self.env[name] = node
        return node

    def new_local(self) -> str:
        if self.in_helper:  # helper locals sometimes reuse the caller's names: inlining must rename
            self.helper_locals += 1
            return f"{self.choice(('h', 'v'))}{self.helper_locals}"
        name = f"v{self.locals_made}"
        self.locals_made += 1
        if self.chance(8):  # names gradgen's emitter also uses: its naming must keep them apart
            return self.choice(TRICKY_NAMES)
        return name

    def bind(self, name: str, node: Node) -> None:
        for alias in _aliases(node):
            self.fresh.discard(alias)
        self.env[name] = var(
            name, node.shape, node.lo, node.hi, not node.variable, node.has_keepdims_reduction
        )
        # In a numpy program's helper every name may hold an array, whatever its shape here.
        may_be_array = node.shape != () or (self.in_helper and self.kind == "numpy")
        if may_be_array and not _aliases(node) and node.op not in ("const", "global"):
            self.fresh.add(name)
        else:
            self.fresh.discard(name)

    def spelling(self, shape: Shape) -> str:
        if self.kind == "scalar":
            return self.choice(("math", "math", "numpy"))
        if shape == () and not self.in_helper and self.chance(25):
            return "math"
        return "numpy"

    # -- keeping values in their domains ------------------------------------------------------

    def bounded(self, node: Node, limit: float) -> Node:
        """``node`` if its magnitude is at most ``limit``, else a squashed version (in [-1, 1])."""
        if node.magnitude <= limit:
            return node
        how = self.choice(("tanh", "sin", "ratio"))
        if how == "ratio":  # x / (1 + x*x) lies in [-1/2, 1/2]
            denominator = binary("add", const(1.0), binary("mul", node, node))
            return Node("div", (node, denominator), shape=node.shape, lo=-0.5, hi=0.5)
        return unary(how, node, self.spelling(node.shape))

    def limited(self, node: Node) -> Node:
        return self.bounded(node, MAGNITUDE_LIMIT)

    def positive(self, node: Node) -> Node:
        """``node`` if it is at least 0.5, else ``node*node + c`` or ``abs(node) + 0.5``."""
        if node.lo >= 0.5:
            return node
        if self.chance(50):
            return binary("add", binary("mul", node, node), const(self.choice((0.5, 1.0))))
        return binary("add", self.absolute(node), const(0.5))

    def nonzero(self, node: Node) -> Node:
        if node.lo >= 0.5 or node.hi <= -0.5:
            return node
        return binary("add", const(1.0), binary("mul", node, node))

    def absolute(self, node: Node) -> Node:
        options = ["builtin", "numpy"]
        if self.kind == "scalar" or (node.shape == () and not self.in_helper):
            options.append("math")
        return unary("abs", node, self.choice(options))

    # -- expressions --------------------------------------------------------------------------

    def expression(self, depth: int, target: Shape = (), exact: bool = False) -> Node:
        if depth <= 0 or self.chance(12):
            return self.limited(self.leaf(target, exact))
        ops = SCALAR_OPS if self.kind == "scalar" else ARRAY_OPS
        op = self.choice(ops)
        node = self.compound(op, depth, target, exact)
        if node is None:
            node = self.leaf(target, exact)
        return self.limited(node)

    def leaf(self, target: Shape, exact: bool) -> Node:
        names = sorted(
            n
            for n, node in self.env.items()
            if (node.shape == target if exact else _fits(node.shape, target))
        )
        if names and (
            self.chance(80) or len(self.parameters) >= self.max_parameters or self.in_helper
        ):
            return self.env[self.choice(names)]
        if (target == () or not exact) and (self.chance(30) or self.in_helper):
            if not self.in_helper and self.chance(15):
                name = f"SCALE{len(self.globals)}"
                self.globals[name] = self.choice((0.75, -1.25, 2.0))
                return Node(
                    "global",
                    value=(name, self.globals[name]),
                    lo=self.globals[name],
                    hi=self.globals[name],
                )
            return const(self.choice(CONSTANTS))
        if self.kind == "scalar":
            return self.new_parameter(())
        shapes = [target] if exact else [s for s in self.shapes() if _fits(s, target)]
        return self.new_parameter(self.choice(shapes))

    def ufunc_spelled(self, node: Node) -> Node:
        """Sometimes spell ``a + b`` as ``np.add(a, b)`` (and so on)."""
        if self.chance(12):
            return Node(node.op, node.args, node.value, node.shape, node.lo, node.hi, "ufunc")
        return node

    def variable_leaf(self, target: Shape) -> Node | None:
        """A name some parameter affects, whose shape fits ``target`` (a new parameter if none)."""
        names = sorted(
            n for n, node in self.env.items() if node.variable and _fits(node.shape, target)
        )
        if names:
            return self.limited(self.env[self.choice(names)])
        if self.in_helper:
            return None
        return self.new_parameter(target if self.kind == "numpy" else ())

    def shapes(self) -> list[Shape]:
        found: list[Shape] = [()]
        for a in self.dims:
            for shape in ((a,), (a, 1), (1, a)):
                if shape not in found:
                    found.append(shape)
            for b in self.dims:
                if (a, b) not in found:
                    found.append((a, b))
        return found

    def compound(self, op: str, depth: int, target: Shape, exact: bool) -> Node | None:
        def sub(exact_here: bool = False) -> Node:
            return self.expression(depth - 1, target, exact and exact_here)

        def pair() -> tuple[Node, Node]:
            first, second = sub(True), sub()
            return (first, second) if self.chance(50) else (second, first)

        if op in ("add", "sub", "mul"):
            return self.ufunc_spelled(binary(op, *pair()))
        if op == "div":
            numerator, denominator = pair()
            return self.ufunc_spelled(binary("div", numerator, self.nonzero(denominator)))
        if op == "neg":
            return unary("neg", sub(True), "ufunc" if self.chance(15) else "")
        if op == "pos":
            return unary("pos", sub(True), "")
        if op == "log_base":
            argument = self.positive(sub(True))
            base = self.choice((2.0, 10.0, 0.5, 3))
            lo, hi = _span([math.log(argument.lo, base), math.log(argument.hi, base)])
            return Node("log_base", (argument,), value=base, lo=lo, hi=hi, spelling="math")
        if op == "square":
            node = sub(True)
            return binary("mul", node, node)
        if op == "pow_const":
            exponent = self.choice(POW_EXPONENTS)
            base = self.bounded(sub(True), 3.0)
            if not (isinstance(exponent, int) and exponent > 0):
                base = self.positive(base)
            return binary("pow", base, const(exponent))
        if op == "pow_var":
            base, exponent = pair()
            return self.ufunc_spelled(
                binary("pow", self.positive(self.bounded(base, 3.0)), self.bounded(exponent, 2.0))
            )
        if op == "pow_base":
            return binary(
                "pow", const(self.choice((2.0, 0.5, 3, 1.5))), self.bounded(sub(True), 3.0)
            )
        if op in _UNARY:
            argument = sub(True)
            if op in ("exp", "expm1"):
                argument = self.bounded(argument, 3.0)
            elif op in ("log", "sqrt"):
                argument = self.positive(argument)
            elif op == "log1p" and argument.lo < -0.5:
                argument = (
                    self.positive(argument)
                    if self.chance(50)
                    else binary("mul", argument, argument)
                )
            elif op == "tan":
                argument = self.bounded(argument, 1.2)
            return unary(op, argument, self.spelling(argument.shape))
        if op == "abs":
            return self.absolute(sub(True))
        if op in ("max", "min"):
            name = "maximum" if op == "max" else "minimum"
            arguments = list(pair())
            builtin_ok = self.kind == "scalar" or (
                not self.in_helper and all(a.shape == () for a in arguments)
            )
            if builtin_ok and self.chance(60):
                if self.chance(30):
                    arguments.append(sub())
                if any(a.shape != () for a in arguments):
                    return extremum(name, arguments[:2], "numpy")
                return extremum(name, arguments, "builtin")
            return extremum(name, arguments, "numpy")
        if op == "gate":
            first, second = pair()
            factor = sub()
            if not GATE_CONSTANT_FACTORS and not factor.variable:
                factor = self.variable_leaf(target)
                if factor is None:
                    return None
            return gate(self.choice(("gt", "lt", "ge", "le")), first, second, factor)
        if op == "call":
            if self.helper is None or self.in_helper:
                return None
            arguments = [
                self.bounded(sub(index == 0), INPUT_BOUND)
                for index in range(len(self.helper.parameters))
            ]
            shape = _helper_shape(self.helper, arguments)
            if not (shape == target if exact else _fits(shape, target)):
                return None
            return call(self.helper, arguments, shape)
        if self.in_helper or self.kind == "scalar":
            return None
        if op in ("sum", "mean"):
            candidates = [
                (shape, axis, keepdims)
                for shape, axis, keepdims in self.reductions()
                if (
                    _reduced(shape, axis, keepdims) == target
                    if exact
                    else _fits(_reduced(shape, axis, keepdims), target)
                )
            ]
            if not candidates:
                return None
            shape, axis, keepdims = self.choice(candidates)
            forms = ["function", "method"]
            if axis is not None:
                forms.append("positional")
            else:
                forms.append("explicit-none")
            argument = self.expression(depth - 1, shape, True)
            if keepdims and argument.has_keepdims_reduction and not CHAINED_KEEPDIMS:
                return None
            return reduction(op, argument, axis, keepdims, self.choice(forms))
        if op == "matmul":
            candidates = [
                (a, b)
                for a, b in self.products()
                if (_product(a, b) == target if exact else _fits(_product(a, b), target))
            ]
            if not candidates:
                return None
            left_shape, right_shape = self.choice(candidates)
            forms = ["@", "np.matmul", "np.dot", ".dot"]
            if left_shape == () or right_shape == ():
                forms = ["np.dot"]
            left = self.expression(depth - 1, left_shape, True)
            right = self.expression(depth - 1, right_shape, True)
            return matmul(left, right, self.choice(forms))
        if op == "transpose":
            if len(target) == 0:
                return None
            argument = self.expression(depth - 1, target[::-1], True)
            return transpose(argument, self.choice((".T", "np.transpose", ".transpose()")))
        raise AssertionError(op)

    def reductions(self) -> list[tuple[Shape, Any, bool]]:
        found = []
        for shape in self.shapes():
            if len(shape) == 2:
                axes: list[Any] = [None, 0, 1, (0, 1)] + (
                    [-1, (0, -1), -2] if NEGATIVE_AXES else []
                )
            elif len(shape) == 1:
                axes = [None, 0] + ([-1] if NEGATIVE_AXES else [])
            else:
                continue
            keepdims_options = (False, True) if KEEPDIMS_REDUCTIONS else (False,)
            found += [(shape, axis, keepdims) for axis in axes for keepdims in keepdims_options]
        return found

    def products(self) -> list[tuple[Shape, Shape]]:
        found: list[tuple[Shape, Shape]] = []
        for p in self.dims:
            for q in self.dims:
                found.append(((q,), (q,)))
                found.append(((p, q), (q,)))
                found.append(((q,), (q, p)))
                for r in self.dims:
                    found.append(((p, q), (q, r)))
        for shape in self.shapes():
            if shape:
                found += [((), shape), (shape, ())]
        return sorted(set(found))

    # -- statements ---------------------------------------------------------------------------

    def statements(self, count: int, depth: int) -> list[Statement]:
        made: list[Statement] = []
        for _ in range(count):
            kind = self.choice(
                ("new",) * 5
                + ("reassign", "reassign", "augmented", "augmented", "constant", "tuple", "alias")
                + ("chain", "annotated", "pass")
            )
            statement = self.statement(kind, depth)
            if statement is not None:
                made.append(statement)
        return made

    def statement(self, kind: str, depth: int) -> Statement | None:
        target_shape: Shape = ()
        if self.kind == "numpy" and not self.in_helper:
            two_dimensional = [shape for shape in self.shapes() if len(shape) == 2]
            target_shape = self.choice(two_dimensional if self.chance(60) else self.shapes())
        if kind == "new" or (kind in ("reassign", "alias") and not self.env):
            name = self.new_local()
            node = self.expression(self.integer(1, depth), target_shape)
            return self.assign((name,), (node,))
        if kind == "reassign":
            name = self.choice(sorted(self.env))
            current = self.env[name]
            other = self.expression(
                self.integer(0, depth - 1), current.shape if current.shape else target_shape
            )
            op = self.choice(("add", "mul", "sub"))
            node = self.limited(binary(op, current, other) if self.chance(70) else other)
            return self.assign((name,), (node,))
        if kind == "augmented":
            arrays_possible = self.kind == "numpy" and self.in_helper
            candidates = sorted(
                n
                for n in self.env
                if (self.env[n].shape == () and not arrays_possible) or n in self.fresh
            )
            if not candidates:
                return None
            name = self.choice(candidates)
            current = self.env[name]
            operator = self.choice(("+=", "-=", "*="))
            source = self.expression(self.integer(0, depth - 1), current.shape)
            if operator == "*=":
                source = self.bounded(source, 3.0)
            op = {"+=": "add", "-=": "sub", "*=": "mul"}[operator]
            result = binary(op, current, source)
            self.bind(name, result)
            return Statement((name,), operator, (source,), (result,))
        if kind == "constant":
            name = self.new_local()
            return self.assign((name,), (const(self.choice(CONSTANTS)),))
        if kind == "tuple":
            names = (self.new_local(), self.new_local())
            nodes = tuple(self.expression(self.integer(1, depth), target_shape) for _ in names)
            return self.assign(names, nodes)
        if kind == "alias":
            name = self.new_local()
            return self.assign((name,), (self.env[self.choice(sorted(self.env))],))
        if kind == "chain":  # a = b = value: both names hold the same object
            names = (self.new_local(), self.new_local())
            node = self.expression(self.integer(1, depth), target_shape)
            for name in names:
                self.bind(name, node)
            self.fresh.difference_update(names)  # two names for one array: no in-place updates
            return Statement(names, "chain", (node,), (node, node))
        if kind == "annotated":
            if self.kind == "numpy" and (target_shape != () or self.in_helper):
                return None
            name = self.new_local()
            node = self.expression(self.integer(1, depth), ())
            self.bind(name, node)
            return Statement((name,), ": float =", (node,), (node,))
        if kind == "pass":
            return Statement((), "pass", (), ())
        raise AssertionError(kind)

    def assign(self, names: tuple[str, ...], nodes: tuple[Node, ...]) -> Statement:
        for name, node in zip(names, nodes):
            self.bind(name, node)
        return Statement(names, "=", nodes, nodes)

    def annotations(self) -> frozenset[str]:
        """Some scalar parameters annotated ``float``, which gradgen takes as proven scalars."""
        if not self.chance(30):
            return frozenset()
        return frozenset(name for name, shape in self.parameters if shape == () and self.chance(60))

    def make_helper(self) -> Helper:
        saved = (self.env, self.fresh)
        self.in_helper = True
        self.helper_locals = 0
        parameters = ("p", "q")[: self.integer(1, 2)]
        self.env = {p: var(p, (), -INPUT_BOUND, INPUT_BOUND) for p in parameters}
        self.fresh = set()
        body = self.statements(self.integer(0, 2), 2)
        result = self.expression(self.integer(1, 2))
        self.env, self.fresh = saved
        self.in_helper = False
        return Helper("helper", parameters, tuple(body), result)

    def result(self, depth: int) -> Node:
        locals_now = [n for n in self.env if not any(n == p for p, _ in self.parameters)]
        if self.kind == "scalar":
            terms = [self.env[name] for name in locals_now[-self.integer(1, 3) :]]
            if not terms or self.chance(40):
                terms.append(self.expression(depth))
            total = terms[0]
            for term in terms[1:]:
                total = self.limited(binary(self.choice(("add", "mul", "sub")), total, term))
            return total
        terms = []
        for name in locals_now[-self.integer(1, 3) :]:
            local = self.env[name]
            if local.shape == ():
                terms.append(local)
                continue
            weighted = local
            if self.chance(80):
                weighted = binary("mul", local, self.new_parameter(local.shape, prefix="w"))
            form = self.choice(("function", "method", "explicit-none"))
            terms.append(
                reduction(self.choice(("sum", "sum", "mean")), weighted, None, False, form)
            )
        if not terms or self.chance(20):
            terms.append(self.expression(depth, (), True))
        total = terms[0]
        for term in terms[1:]:
            total = self.limited(binary(self.choice(("add", "mul", "sub")), total, term))
        return total


def _aliases(node: Node) -> set[str]:
    """Names whose array ``node`` may share memory with (a bare name, a transpose, a helper)."""
    if node.op == "var":
        return {str(node.value)}
    if node.op in ("transpose", "call"):
        return set().union(*(_aliases(a) for a in node.args)) if node.args else set()
    return set()


def _reduced(shape: Shape, axis: Any, keepdims: bool) -> Shape:
    return tuple(np.sum(np.zeros(shape), axis=axis, keepdims=keepdims).shape)


def _product(left: Shape, right: Shape) -> Shape:
    if left == () or right == ():
        return _broadcast(left, right)
    return tuple(np.shape(np.zeros(left) @ np.zeros(right)))


def _helper_shape(helper: Helper, arguments: Sequence[Node]) -> Shape:
    env = {
        name: np.full(a.shape, 0.5) if a.shape else 0.5
        for name, a in zip(helper.parameters, arguments)
    }
    _run(helper.statements, env, [], None)
    return tuple(np.shape(evaluate(helper.result, env, [], None)))


def _program(drawer: _Drawer, draw: Callable[[st.SearchStrategy[Any]], Any], kind: str, statements: list[Any]) -> Program:
    """The program ``drawer`` has drawn so far, ended by a result over its values."""
    result = drawer.result(2)
    return Program(
        kind,
        drawer.parameters,
        statements,
        result,
        drawer.helper,
        drawer.globals,
        seed=draw(st.integers(0, 2**32 - 1)),
        annotated=drawer.annotations(),
        docstring=drawer.chance(10),
    )


@st.composite
def scalar_programs(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Program:
    """Straight-line scalar programs over every supported scalar op."""
    drawer = _Drawer(draw, "scalar")
    for _ in range(drawer.integer(1, 4)):
        drawer.new_parameter(())
    if drawer.chance(40):
        drawer.helper = drawer.make_helper()
    statements = drawer.statements(drawer.integer(1, 7), 4)
    return _program(drawer, draw, "scalar", statements)


@st.composite
def numpy_programs(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Program:
    """Straight-line numpy programs: broadcasting, reductions, products, transposes."""
    drawer = _Drawer(draw, "numpy", max_parameters=6)
    drawer.dims = tuple(drawer.integer(1, 4) for _ in range(3))
    for _ in range(drawer.integer(1, 3)):
        drawer.new_parameter(drawer.choice(drawer.shapes()))
    if drawer.chance(30):
        drawer.helper = drawer.make_helper()
    statements = drawer.statements(drawer.integer(1, 6), 3)
    return _program(drawer, draw, "numpy", statements)
