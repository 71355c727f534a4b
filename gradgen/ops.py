"""The op table: every primitive gradgen knows, in one place.

Each ``OpSpec`` says how many inputs the op takes, which family it belongs to (the family
decides how scalar-ness propagates and whether the reverse pass must sum a gradient back
to a broadcast argument's shape), the name of its derivative template in ``templates/``
(``None``: the op is piecewise constant, its inputs get no gradient), how to spell it in
Python, and how to evaluate it on constants for folding.

Adding an op: one ``OpSpec`` below and one template function in ``templates/``.
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from gradgen import runtime

Family = Literal[
    "elementwise",  # numpy broadcasting; scalar iff every input is scalar
    "math",  # math.* functions: inputs and output are Python scalars
    "reduction",  # sum/mean: scalar when reducing over every axis without keepdims
    "linear",  # matmul, dot: shape depends on both operands
    "like_first",  # output has the kind of the first input (transpose, copy, casts)
    "like_last",  # output has the kind of the last input (backward helpers: result shaped like x)
    "scalar",  # always a scalar (backward helpers that count elements)
]


@dataclass(frozen=True, slots=True)
class Operator:
    """Spelled as a Python operator: ``ast.BinOp``, ``ast.UnaryOp`` or ``ast.Compare``."""

    node: type


@dataclass(frozen=True, slots=True)
class Call:
    """Spelled as a call. ``functions`` maps the op's ``lib`` param to (module, attribute);
    module ``""`` means a builtin. Params other than ``lib`` become keyword arguments."""

    functions: tuple[tuple[str, tuple[str, str]], ...]

    def function_for(self, lib: str) -> tuple[str, str]:
        table = dict(self.functions)
        return table.get(lib) or table.get("numpy") or self.functions[0][1]


# Module markers in a ``Call`` spelling: a method of the first argument (``x.sum(axis=0)``),
# or an attribute of it (``x.T``). The user's own spelling is kept, so the gradient fails
# exactly where the forward would (a Python float has no ``.sum()``).
METHOD = "<method>"
ATTRIBUTE = "<attribute>"


@dataclass(frozen=True, slots=True)
class Identity:
    """Spelled as the input itself (``a = b``)."""


Spelling = Operator | Call | Identity


@dataclass(frozen=True, slots=True)
class OpSpec:
    name: str
    arity: int
    family: Family
    rule: str | None
    spelling: Spelling
    fold: Callable[..., object] | None = None
    # True for ops kept even when their output is unused (runtime checks).
    effect: bool = False


def _unary_math(name: str, numpy_name: str | None = None) -> Call:
    numpy_name = numpy_name or name
    return Call((("math", ("math", name)), ("numpy", ("numpy", numpy_name))))


def _numpy(name: str) -> Call:
    return Call((("numpy", ("numpy", name)),))


def _numpy_or_method(name: str) -> Call:
    return Call((("numpy", ("numpy", name)), ("method", (METHOD, name))))


def _runtime(name: str) -> Call:
    return Call((("numpy", ("runtime", name)),))


_ELEMENTARY = {
    # op: (math spelling, numpy spelling, math implementation for folding)
    "exp": ("exp", "exp", math.exp),
    "log": ("log", "log", math.log),
    "log1p": ("log1p", "log1p", math.log1p),
    "expm1": ("expm1", "expm1", math.expm1),
    "sqrt": ("sqrt", "sqrt", math.sqrt),
    "sin": ("sin", "sin", math.sin),
    "cos": ("cos", "cos", math.cos),
    "tan": ("tan", "tan", math.tan),
    "tanh": ("tanh", "tanh", math.tanh),
    "arctan": ("atan", "arctan", math.atan),
}

_OP_LIST: list[OpSpec] = [
    OpSpec("copy", 1, "like_first", "copy", Identity()),
    OpSpec("cast", 1, "math", "copy", Call((("builtins", ("", "float")),)), float),
    OpSpec("add", 2, "elementwise", "add", Operator(ast.Add), operator.add),
    OpSpec("sub", 2, "elementwise", "sub", Operator(ast.Sub), operator.sub),
    OpSpec("mul", 2, "elementwise", "mul", Operator(ast.Mult), operator.mul),
    OpSpec("div", 2, "elementwise", "div", Operator(ast.Div), operator.truediv),
    OpSpec("pow", 2, "elementwise", "pow", Operator(ast.Pow), operator.pow),
    OpSpec("neg", 1, "elementwise", "neg", Operator(ast.USub), operator.neg),
    OpSpec(
        "maximum",
        2,
        "elementwise",
        "maximum",
        Call((("builtins", ("", "max")), ("numpy", ("numpy", "maximum")))),
        max,
    ),
    OpSpec(
        "minimum",
        2,
        "elementwise",
        "minimum",
        Call((("builtins", ("", "min")), ("numpy", ("numpy", "minimum")))),
        min,
    ),
    OpSpec(
        "abs",
        1,
        "elementwise",
        "abs",
        Call((("builtins", ("", "abs")), ("math", ("", "abs")), ("numpy", ("numpy", "abs")))),
        abs,
    ),
    OpSpec(
        "sign",
        1,
        "elementwise",
        None,
        Call((("math", ("runtime", "scalar_sign")), ("numpy", ("numpy", "sign")))),
        runtime.scalar_sign,
    ),
    OpSpec("gt", 2, "elementwise", None, Operator(ast.Gt), operator.gt),
    OpSpec("ge", 2, "elementwise", None, Operator(ast.GtE), operator.ge),
    OpSpec("lt", 2, "elementwise", None, Operator(ast.Lt), operator.lt),
    OpSpec("le", 2, "elementwise", None, Operator(ast.LtE), operator.le),
    OpSpec("eq", 2, "elementwise", None, Operator(ast.Eq), operator.eq),
    OpSpec("ne", 2, "elementwise", None, Operator(ast.NotEq), operator.ne),
    *(
        OpSpec(name, 1, "elementwise", name, _unary_math(math_name, numpy_name), implementation)
        for name, (math_name, numpy_name, implementation) in _ELEMENTARY.items()
    ),
    OpSpec("sum", 1, "reduction", "sum", _numpy_or_method("sum")),
    OpSpec("mean", 1, "reduction", "mean", _numpy_or_method("mean")),
    OpSpec("matmul", 2, "linear", "matmul", Operator(ast.MatMult)),
    OpSpec("dot", 2, "linear", "dot", _numpy_or_method("dot")),
    OpSpec(
        "transpose",
        1,
        "like_first",
        "transpose",
        Call(
            (
                ("numpy", ("numpy", "transpose")),
                ("method", (METHOD, "transpose")),
                ("attribute", (ATTRIBUTE, "T")),
            )
        ),
    ),
    # Helpers that only the backward pass creates; they live in gradgen/runtime.py.
    OpSpec("unbroadcast", 2, "like_last", None, _runtime("unbroadcast")),
    OpSpec("expand_reduced", 2, "like_last", None, _runtime("expand_reduced")),
    OpSpec("count_reduced", 1, "scalar", None, _runtime("count_reduced")),
    OpSpec("matmul_vjp_left", 3, "linear", None, _runtime("matmul_vjp_left")),
    OpSpec("matmul_vjp_right", 3, "linear", None, _runtime("matmul_vjp_right")),
    OpSpec("zeros_like", 1, "like_first", None, _runtime("zeros_like")),
    OpSpec("output_seed", 1, "scalar", None, _runtime("output_seed"), effect=True),
]

OPS: dict[str, OpSpec] = {spec.name: spec for spec in _OP_LIST}

# Ops whose spelling depends on the ``lib`` param ("math", "numpy" or "builtins").
LIBRARY_OPS = frozenset(
    name for name, spec in OPS.items() if isinstance(spec.spelling, Call) and len(spec.spelling.functions) > 1
)

BINARY_OPERATORS: dict[type, str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}

COMPARISONS: dict[type, str] = {
    ast.Gt: "gt",
    ast.GtE: "ge",
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Eq: "eq",
    ast.NotEq: "ne",
}

# Functions the user may call, found by identity whatever name or alias the module uses.
MATH_FUNCTIONS: dict[object, str] = {
    math.exp: "exp",
    math.log: "log",
    math.log1p: "log1p",
    math.expm1: "expm1",
    math.sqrt: "sqrt",
    math.sin: "sin",
    math.cos: "cos",
    math.tan: "tan",
    math.tanh: "tanh",
    math.atan: "arctan",
    math.fabs: "abs",
}

NUMPY_FUNCTIONS: dict[object, str] = {
    np.exp: "exp",
    np.log: "log",
    np.log1p: "log1p",
    np.expm1: "expm1",
    np.sqrt: "sqrt",
    np.sin: "sin",
    np.cos: "cos",
    np.tan: "tan",
    np.tanh: "tanh",
    np.arctan: "arctan",
    np.abs: "abs",
    np.sign: "sign",
    np.maximum: "maximum",
    np.minimum: "minimum",
    np.add: "add",
    np.subtract: "sub",
    np.multiply: "mul",
    np.divide: "div",
    np.power: "pow",
    np.negative: "neg",
    np.sum: "sum",
    np.mean: "mean",
    np.dot: "dot",
    np.matmul: "matmul",
    np.transpose: "transpose",
}

BUILTIN_FUNCTIONS: dict[object, str] = {
    abs: "abs",
    max: "maximum",
    min: "minimum",
    float: "cast",
}

METHODS: dict[str, str] = {
    "dot": "dot",
    "sum": "sum",
    "mean": "mean",
    "transpose": "transpose",
}

# Module-level constants users reach through math/numpy.
MODULE_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "inf": math.inf, "tau": math.tau}

SUPPORTED_FUNCTIONS_HINT = (
    "supported calls: math.exp log log1p expm1 sqrt sin cos tan tanh atan fabs; "
    "numpy exp log log1p expm1 sqrt sin cos tan tanh arctan abs sign maximum minimum "
    "sum mean dot matmul transpose; builtins abs min max float; methods x.dot x.sum x.mean "
    "x.transpose and x.T; and plain Python functions with source, which are inlined"
)
