"""What the parser recognizes as an op: Python's operators, the ``math``, ``numpy`` and builtin
functions (found by identity, so any alias or ``from`` import works), array methods and
attributes, and the hint that lists them all.

Every op named here has an ``OpSpec`` in ``ops.py`` (tests/test_parse.py checks it). A
function, method or operator in none of these tables is not an op: the parser inlines it (a
plain Python function with source) or refuses it with ``SUPPORTED_FUNCTIONS_HINT``.
"""

from __future__ import annotations

import ast
import math

import numpy as np

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
    math.log2: "log2",
    math.log10: "log10",
    math.sinh: "sinh",
    math.cosh: "cosh",
    math.asin: "arcsin",
    math.acos: "arccos",
    math.atan2: "arctan2",
    math.pow: "pow",  # spelled x ** y
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
    np.log2: "log2",
    np.log10: "log10",
    np.sinh: "sinh",
    np.cosh: "cosh",
    np.arcsin: "arcsin",
    np.arccos: "arccos",
    np.arctan2: "arctan2",
    np.square: "square",
    np.clip: "clip",
    np.where: "where",
    np.greater: "gt",
    np.greater_equal: "ge",
    np.less: "lt",
    np.less_equal: "le",
    np.equal: "eq",
    np.not_equal: "ne",
    np.max: "max",
    np.amax: "max",
    np.min: "min",
    np.amin: "min",
    np.prod: "prod",
    np.linalg.norm: "norm",
    np.inner: "inner",
    np.outer: "outer",
    np.einsum: "einsum",
    np.trace: "trace",
    np.reshape: "reshape",
    np.ravel: "ravel",
    np.squeeze: "squeeze",
    np.expand_dims: "expand_dims",
    np.broadcast_to: "broadcast_to",
    np.concatenate: "concatenate",
    np.stack: "stack",
    np.size: "size",
    np.ndim: "ndim",
    np.zeros: "zeros",
    np.ones: "ones",
    np.full: "full",
    np.eye: "eye",
    np.arange: "arange",
    np.full_like: "full_like",
    np.copy: "array_copy",
}

# numpy functions that are an op with some params fixed: (op, params).
NUMPY_PRESETS: dict[object, tuple[str, tuple[tuple[str, object], ...]]] = {
    np.zeros_like: ("full_like", (("fill_value", 0),)),
    np.ones_like: ("full_like", (("fill_value", 1),)),
    **{cast: ("astype", (("dtype", np.dtype(cast).name),)) for cast in (np.float16, np.float32, np.float64)},
}

BUILTIN_FUNCTIONS: dict[object, str] = {
    abs: "abs",
    max: "maximum",
    min: "minimum",
    float: "cast",
    len: "len",
}

METHODS: dict[str, str] = {
    **{
        name: name
        for name in ("dot", "sum", "mean", "max", "min", "prod", "transpose", "reshape", "ravel", "flatten", "squeeze", "trace", "astype")
    },
    "copy": "array_copy",
}
METHODS_HINT = "x." + "() x.".join(METHODS) + "()"

# x.size and x.ndim are sizes known at run time (x.T and x.shape[i] are lowered apart).
ATTRIBUTES: dict[str, str] = {"size": "size", "ndim": "ndim"}

# Module-level constants users reach through math/numpy.
MODULE_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "inf": math.inf, "tau": math.tau}

SUPPORTED_FUNCTIONS_HINT = (
    "supported calls: math.exp log log2 log10 log1p expm1 sqrt sin cos tan tanh sinh cosh asin "
    "acos atan atan2 pow fabs; numpy's elementwise functions of those names (arcsin, arctan2...), "
    "square clip where abs sign maximum minimum and comparisons, sum mean max min prod "
    "linalg.norm, dot matmul inner outer einsum trace transpose, reshape ravel squeeze "
    "expand_dims broadcast_to concatenate stack copy, zeros ones full eye arange zeros_like "
    "ones_like full_like size ndim, float32/float64 casts; builtins abs min max float len; "
    "methods " + METHODS_HINT + "; x.T, x[...]; and plain Python functions with source, which are inlined"
)
