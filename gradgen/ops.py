"""The op table: every primitive gradgen knows, in one place.

Each ``OpSpec`` says how many inputs the op takes, which family it belongs to (the family
decides how scalar-ness propagates and whether the reverse pass must sum a gradient back
to a broadcast argument's shape), the name of its derivative template in ``templates/``
(``None``: the op is piecewise constant, its inputs get no gradient), how to spell it in
Python, and how to evaluate it on constants for folding.

Adding an op: one ``OpSpec`` below and one template function in ``templates/``; if users call
it by a name of their own (``np.foo``, ``x.foo()``), an entry in ``recognized.py``, which maps
what the user writes to ops.
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass
from typing import Callable, Literal

from gradgen import runtime

Family = Literal[
    "elementwise",  # numpy broadcasting; scalar iff every input is scalar
    "math",  # math.* functions: inputs and output are Python scalars
    "reduction",  # sum/mean: scalar when reducing over every axis without keepdims
    "linear",  # matmul, dot: shape depends on both operands
    "like_first",  # output has the kind of the first input (transpose, copy, casts)
    "like_last",  # output has the kind of the last input (backward helpers: result shaped like x)
    "scalar",  # always a scalar (backward helpers that count elements, x.size, len(x))
    "shape",  # reshape, broadcast_to: a scalar exactly when the static target ``shape`` is ()
    "array",  # the op decides the shape (x[i], np.concatenate, np.outer...): never proven scalar
    "control",  # cond: its sub-graphs decide (see kinds.py); reverse.py differentiates it
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
    # Params passed positionally before the inputs (np.einsum's subscripts) and after them
    # (x.reshape(shape)), in this order; a positional param that is None is left out.
    leading: tuple[str, ...] = ()
    positional: tuple[str, ...] = ()
    # The inputs are passed as one tuple (np.concatenate((a, b))).
    packed: bool = False
    # Inputs from this position on are run-time values filling the DYNAMIC markers in the
    # params, in order (x.reshape(n, -1) has inputs (x, n) and shape (DYNAMIC, -1)).
    dynamic_from: int | None = None

    def function_for(self, lib: str) -> tuple[str, str]:
        table = dict(self.functions)
        return table.get(lib) or table.get("numpy") or self.functions[0][1]


# Module markers in a ``Call`` spelling: a method of the first argument (``x.sum(axis=0)``),
# or an attribute of it (``x.T``). The user's own spelling is kept, so the gradient fails
# exactly where the forward would (a Python float has no ``.sum()``).
METHOD = "<method>"
ATTRIBUTE = "<attribute>"


@dataclass(frozen=True, slots=True)
class Subscript:
    """Spelled as ``x[key]``: the ``key`` param (see ``indexing.py``), its DYNAMIC markers
    filled by the inputs after ``x``."""


# In a param, marks the place of a run-time value (an index ``x[i]``, a size in a shape).
DYNAMIC = "<dynamic>"


@dataclass(frozen=True, slots=True)
class Identity:
    """Spelled as the input itself (``a = b``)."""


@dataclass(frozen=True, slots=True)
class Block:
    """Spelled as a statement holding blocks of statements (``if``: see emit.py)."""


Spelling = Operator | Call | Subscript | Identity | Block


@dataclass(frozen=True, slots=True)
class OpSpec:
    name: str
    # None: variadic (np.concatenate's arrays, an index's run-time positions, einsum's operands)
    arity: int | None
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


def _runtime(name: str, **layout: object) -> Call:
    return Call((("numpy", ("runtime", name)),), **layout)  # type: ignore[arg-type]


def _numpy_with(name: str, *, method: bool = False, **layout: object) -> Call:
    functions = (("numpy", ("numpy", name)),) + ((("method", (METHOD, name)),) if method else ())
    return Call(functions, **layout)  # type: ignore[arg-type]


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
    "log2": ("log2", "log2", math.log2),
    "log10": ("log10", "log10", math.log10),
    "sinh": ("sinh", "sinh", math.sinh),
    "cosh": ("cosh", "cosh", math.cosh),
    "arcsin": ("asin", "arcsin", math.asin),
    "arccos": ("acos", "arccos", math.acos),
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
    # Division and power as IEEE arithmetic (numpy's): +-inf or nan where Python numbers would
    # raise ZeroDivisionError. Rules use them where the forward succeeded but the derivative is
    # infinite (sqrt at 0); the simplifier turns them back into / and ** where that is safe.
    OpSpec(
        "ieee_div",
        2,
        "elementwise",
        None,
        Call((("math", ("runtime", "scalar_divide")), ("numpy", ("numpy", "divide")))),
        runtime.scalar_divide,
    ),
    OpSpec(
        "ieee_pow",
        2,
        "elementwise",
        None,
        Call((("math", ("runtime", "scalar_power")), ("numpy", ("numpy", "power")))),
        runtime.scalar_power,
    ),
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
        Call((("builtins", ("", "abs")), ("math", ("math", "fabs")), ("numpy", ("numpy", "abs")))),
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
    OpSpec("arctan2", 2, "elementwise", "arctan2", _unary_math("atan2", "arctan2"), math.atan2),
    OpSpec("square", 1, "elementwise", "square", _numpy("square")),
    OpSpec("clip", 3, "elementwise", "clip", _numpy("clip")),
    OpSpec("where", 3, "elementwise", "where", _numpy("where")),
    # The backward of np.where's branches: keep a gradient where its branch was taken.
    OpSpec("mask", 2, "like_last", None, _runtime("mask")),
    OpSpec("sum", 1, "reduction", "sum", _numpy_or_method("sum")),
    OpSpec("mean", 1, "reduction", "mean", _numpy_or_method("mean")),
    OpSpec("max", 1, "reduction", "extremum", _numpy_or_method("max")),
    OpSpec("min", 1, "reduction", "extremum", _numpy_or_method("min")),
    OpSpec("prod", 1, "reduction", "prod", _numpy_or_method("prod")),
    OpSpec("norm", 1, "reduction", "norm", _numpy("linalg.norm")),
    OpSpec("matmul", 2, "linear", "matmul", Operator(ast.MatMult)),
    OpSpec("dot", 2, "linear", "dot", _numpy_or_method("dot")),
    OpSpec("inner", 2, "linear", "inner", _numpy("inner")),
    OpSpec("outer", 2, "array", "outer", _numpy("outer")),
    OpSpec("einsum", None, "array", "einsum", _numpy_with("einsum", leading=("subscripts",))),
    # np.tensordot(a, b, axes=...): made only by specialization (the backward of an N-D np.dot),
    # which runs after differentiation: it needs no rule.
    OpSpec("tensordot", 2, "array", None, _numpy("tensordot")),
    OpSpec("trace", 1, "array", "trace", _numpy_or_method("trace")),
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
            ),
            positional=("axes",),
        ),
    ),
    # Shape ops: every one of them moves elements without changing them. Indexing is x[key].
    OpSpec("index", None, "array", "index", Subscript()),
    # ``H[key] = value`` as a value: a copy of H with value written at key (see item_writes.py);
    # (H, value, *positions). The emitter writes into H itself where nothing reads H's old
    # contents afterwards (passes/in_place.py); its generic spelling copies.
    OpSpec("index_set", None, "like_first", "index_set", _runtime("index_set", dynamic_from=2)),
    OpSpec("reshape", None, "shape", "reshape", _numpy_with("reshape", method=True, positional=("shape",), dynamic_from=1)),
    OpSpec("ravel", 1, "array", "reshape", _numpy_or_method("ravel")),
    OpSpec("flatten", 1, "array", "reshape", Call((("method", (METHOD, "flatten")),))),
    OpSpec("squeeze", 1, "array", "reshape", _numpy_or_method("squeeze")),
    OpSpec("expand_dims", 1, "array", "reshape", _numpy_with("expand_dims", positional=("axis",))),
    OpSpec("broadcast_to", 1, "shape", "broadcast_to", _numpy_with("broadcast_to", positional=("shape",))),
    OpSpec("concatenate", None, "array", "concatenate", _numpy_with("concatenate", packed=True)),
    OpSpec("stack", None, "array", "stack", _numpy_with("stack", packed=True)),
    # x.copy(), np.copy(x): a new array with x's elements (a name alias u = x is "copy").
    OpSpec("array_copy", 1, "like_first", "copy", _numpy_or_method("copy")),
    OpSpec("astype", 1, "like_first", "copy", Call((("method", (METHOD, "astype")), ("numpy", ("runtime", "astype"))), positional=("dtype",))),
    # Values that carry no gradient: sizes, new arrays, integer casts. Sizes may be run-time
    # values (x.shape[0] is np.size(x, 0)); shapes may hold them (np.zeros((n, 3))).
    OpSpec("size", 1, "scalar", None, _numpy_with("size", positional=("axis",))),
    OpSpec("ndim", 1, "scalar", None, _numpy("ndim")),
    OpSpec("len", 1, "scalar", None, Call((("builtins", ("", "len")),))),
    OpSpec("astype_discrete", 1, "like_first", None, Call((("method", (METHOD, "astype")), ("numpy", ("runtime", "astype"))), positional=("dtype",))),
    OpSpec("full_like", 1, "like_first", None, _numpy_with("full_like", positional=("fill_value",))),
    OpSpec("zeros", None, "array", None, _numpy_with("zeros", positional=("shape",), dynamic_from=0)),
    OpSpec("ones", None, "array", None, _numpy_with("ones", positional=("shape",), dynamic_from=0)),
    OpSpec("full", None, "array", None, _numpy_with("full", positional=("shape", "fill_value"), dynamic_from=0)),
    OpSpec("eye", None, "array", None, _numpy_with("eye", positional=("n", "m"), dynamic_from=0)),
    OpSpec("arange", None, "array", None, _numpy_with("arange", positional=("start", "stop", "step"), dynamic_from=0)),
    # Helpers that only the backward pass creates; they live in gradgen/runtime.py.
    OpSpec("unbroadcast", 2, "like_last", None, _runtime("unbroadcast")),
    OpSpec("expand_reduced", 2, "like_last", None, _runtime("expand_reduced")),
    OpSpec("count_reduced", 1, "scalar", None, _runtime("count_reduced")),
    OpSpec("matmul_vjp_left", 3, "linear", None, _runtime("matmul_vjp_left")),
    OpSpec("matmul_vjp_right", 3, "linear", None, _runtime("matmul_vjp_right")),
    OpSpec("dot_vjp_left", 3, "linear", None, _runtime("dot_vjp_left")),
    OpSpec("dot_vjp_right", 3, "linear", None, _runtime("dot_vjp_right")),
    OpSpec("zeros_like", 1, "like_first", None, _runtime("zeros_like")),
    OpSpec("reshape_like", 2, "like_last", None, _runtime("reshape_like")),
    OpSpec("unindex", None, "like_first", None, _runtime("unindex", dynamic_from=2)),  # (x, grad, *positions)
    OpSpec("unconcatenate", None, "array", None, _runtime("unconcatenate")),
    # The adjoint of the value an index_set wrote: (value, grad, *positions), a fresh array.
    OpSpec("written_gradient", None, "like_first", None, _runtime("written_gradient", dynamic_from=2)),
    OpSpec("take", 1, "array", None, _numpy_with("take", positional=("index",))),
    OpSpec("prod_others", 1, "like_first", None, _runtime("prod_others")),
    OpSpec("inner_vjp_left", 3, "linear", None, _runtime("inner_vjp_left")),
    OpSpec("inner_vjp_right", 3, "linear", None, _runtime("inner_vjp_right")),
    OpSpec("einsum_vjp", None, "array", None, _runtime("einsum_vjp")),
    OpSpec("trace_vjp", 2, "like_last", None, _runtime("trace_vjp")),
    OpSpec("output_seed", 1, "scalar", None, _runtime("output_seed"), effect=True),
    # Control flow: ``outs = cond(predicate, *operands)`` with params ``then``/``else`` (sub-graphs).
    OpSpec("cond", None, "control", None, Block()),
    # ``outs = loop(start, stop, step, *initial, *invariant)`` with param ``body`` (ir.LoopLayout).
    OpSpec("loop", None, "control", None, Block()),
    # ``*outs, count = while(*initial, *invariant)`` with params ``test`` and ``body``.
    OpSpec("while", None, "control", None, Block()),
    # t += a where another name holds t: fine for numbers, refused (at run time) for arrays.
    OpSpec("no_in_place_update", 1, "like_first", None, _runtime("no_in_place_update"), effect=True),
]

OPS: dict[str, OpSpec] = {spec.name: spec for spec in _OP_LIST}

# Ops whose spelling depends on the ``lib`` param ("math", "numpy" or "builtins").
LIBRARY_OPS = frozenset(
    name for name, spec in OPS.items() if isinstance(spec.spelling, Call) and len(spec.spelling.functions) > 1
)

# Elementwise ops that are numpy ufuncs: they can write their result into an existing array
# (``np.multiply(a, b, out=a)``; see passes/buffers.py). ``**`` is left out: ``x ** 2`` has a
# fast path that ``np.power`` lacks.
UFUNCS: dict[str, str] = {
    "add": "add", "sub": "subtract", "mul": "multiply", "div": "divide", "neg": "negative",
    "ieee_div": "divide", "maximum": "maximum", "minimum": "minimum", "abs": "absolute",
    "sign": "sign", "exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1",
    "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh",
    "arctan": "arctan", "log2": "log2", "log10": "log10", "sinh": "sinh", "cosh": "cosh",
    "arcsin": "arcsin", "arccos": "arccos", "arctan2": "arctan2", "square": "square",
}
