"""Shape and dtype inference for concrete arguments: the facts specialization relies on.

``infer(equation, facts)`` gives the ``(shape, dtype)`` of an equation's output from its inputs',
following numpy's broadcasting, reduction and matmul rules and its type promotion (Python
numbers are "weak", as in NEP 50). A dtype is a numpy dtype name, or
``"py:float"``/``"py:int"``/``"py:bool"`` for a Python number. Anything the rules cannot decide, or
arguments numpy would reject, raises ``ShapeError``; the caller then keeps the generic code,
which is correct for every shape and fails, if it must, exactly as numpy does.
``stamping.stamp_shapes`` applies these rules to a whole graph, branches and loops included.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from gradgen.ir import Equation, Value
from gradgen.ops import DYNAMIC, OPS, Subscript

Shape = tuple[int, ...]
Fact = tuple[Shape, str]


class ShapeError(Exception):
    """The shapes cannot be inferred (or do not fit together) for these arguments."""


_PYTHON_TYPES = {bool: "py:bool", int: "py:int", float: "py:float"}
_PROXIES: dict[str, Any] = {"py:bool": True, "py:int": 1, "py:float": 1.0}
_COMPARISONS = frozenset({"gt", "ge", "lt", "le", "eq", "ne"})
_FLOATING = frozenset(
    {"ieee_div", "div", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "arctan", "mean",
     "log2", "log10", "sinh", "cosh", "arcsin", "arccos", "arctan2", "norm"}
)
# Elementwise ops spelled only as numpy functions: Python numbers come out as numpy scalars.
_NUMPY_ONLY = frozenset({"square", "clip", "where"})
# Ops that yield a Python int whose value the shapes decide (x.shape[0] is np.size(x, 0)).
SIZE_OPS = frozenset({"size", "len", "ndim"})


def argument_fact(argument: Any) -> Fact:
    """The (shape, dtype) of one argument, or ShapeError for something that is not numeric."""
    python = _PYTHON_TYPES.get(type(argument))
    if python is not None:
        return (), python
    if isinstance(argument, (np.ndarray, np.generic)) and argument.dtype.kind in "biuf":
        return tuple(argument.shape), argument.dtype.name
    raise ShapeError(f"cannot specialize for a {type(argument).__name__}")


def is_float_dtype(dtype: str | None) -> bool:
    return dtype == "py:float" or (dtype is not None and dtype.startswith("float"))


def _proxy(dtype: str) -> Any:
    return _PROXIES[dtype] if dtype in _PROXIES else np.dtype(dtype)


def _promote(dtypes: Sequence[str], *, floating: bool = False) -> str:
    """numpy's result dtype; Python numbers stay Python numbers when only they take part."""
    if all(d in _PROXIES for d in dtypes):
        result = type(sum((_PROXIES[d] for d in dtypes), 1.0 if floating else 0) if dtypes else 0)
        return _PYTHON_TYPES.get(result, "py:float")
    proxies = [_proxy(d) for d in dtypes] + ([1.0] if floating else [])
    return np.result_type(*proxies).name


def _reduced_shape(shape: Shape, axis: Any, keepdims: bool) -> Shape:
    if axis is None:
        axes = set(range(len(shape)))
    else:
        requested = axis if isinstance(axis, tuple) else (axis,)
        if any(not -len(shape) <= a < len(shape) for a in requested):
            raise ShapeError(f"axis {axis} is out of bounds for shape {shape}")
        axes = {a % len(shape) for a in requested}
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _matmul_shape(left: Shape, right: Shape) -> Shape:
    if not left or not right:
        raise ShapeError("matmul of a scalar")
    a = (1,) + left if len(left) == 1 else left
    b = right + (1,) if len(right) == 1 else right
    if a[-1] != b[-2]:
        raise ShapeError(f"matmul shapes {left} and {right} do not align")
    batch = np.broadcast_shapes(a[:-2], b[:-2])
    shape = batch + (a[-2], b[-1])
    if len(left) == 1:
        shape = shape[:-2] + shape[-1:]
    if len(right) == 1:
        shape = shape[:-1]
    return tuple(shape)


def _dot_shape(left: Shape, right: Shape) -> Shape:
    """``np.dot`` of N-D arrays: left's last axis against right's second to last (its only one
    for a vector); the other axes of left, then those of right, in order."""
    contracted = -2 if len(right) > 1 else 0
    if left[-1] != right[contracted]:
        raise ShapeError(f"np.dot shapes {left} and {right} do not align")
    return left[:-1] + right[:contracted] + (right[-1:] if len(right) > 1 else ())


def _infer(equation: Equation, inputs: list[Fact]) -> Fact:
    """The rules of the core ops (the numpy extension's are in shape_rules.py)."""
    op = equation.op
    shapes = [shape for shape, _ in inputs]
    dtypes = [dtype for _, dtype in inputs]
    family = OPS[op].family
    params = dict(equation.params)
    if op == "output_seed":
        return (), "py:float"
    if op == "count_reduced":
        return (), "py:int"
    if family == "math" or params.get("lib") == "math":
        return (), "py:float"
    if op in _COMPARISONS:
        return np.broadcast_shapes(*shapes), "py:bool" if all(d in _PROXIES for d in dtypes) else "bool"
    if op == "no_in_place_update":
        return shapes[0], dtypes[0]
    if op == "mask":
        return shapes[1], dtypes[1]
    if op == "where":
        dtypes = dtypes[1:]  # the condition's dtype does not take part
    if family == "elementwise":
        shape = np.broadcast_shapes(*shapes)
        if op in ("maximum", "minimum") and params.get("lib") == "builtins" and len(set(dtypes)) > 1:
            # builtin max/min return the argument they pick, as it is: not a promoted type
            not_float = [d for d in dtypes if not is_float_dtype(d)]
            return shape, not_float[0] if not_float else dtypes[0]
        if (params.get("lib") == "numpy" or op in _NUMPY_ONLY) and all(d in _PROXIES for d in dtypes):
            # numpy functions turn Python numbers into numpy scalars of the default dtypes
            dtypes = [np.asarray(_PROXIES[d]).dtype.name for d in dtypes]
        return shape, _promote(dtypes, floating=op in _FLOATING)
    if op in ("sum", "mean"):
        shape = _reduced_shape(shapes[0], params.get("axis"), bool(params.get("keepdims")))
        source = np.asarray(_PROXIES[dtypes[0]]).dtype.name if dtypes[0] in _PROXIES else dtypes[0]
        dtype = _promote([source], floating=op == "mean")
        if op == "sum" and source == "bool":
            dtype = "int64"
        return shape, dtype
    if op in ("matmul", "dot"):
        if op == "dot" and (not shapes[0] or not shapes[1]):
            return np.broadcast_shapes(*shapes), _promote(dtypes)
        if op == "dot" and (len(shapes[0]) > 2 or len(shapes[1]) > 2):
            return _dot_shape(shapes[0], shapes[1]), _promote(dtypes)
        return _matmul_shape(shapes[0], shapes[1]), _promote(dtypes)
    if op == "transpose":
        axes = params.get("axes")
        if axes is None:
            return tuple(reversed(shapes[0])), dtypes[0]
        if sorted(a % len(shapes[0]) for a in axes) != list(range(len(shapes[0]))):
            raise ShapeError(f"axes {axes} do not permute shape {shapes[0]}")
        return tuple(shapes[0][a] for a in axes), dtypes[0]
    if op in ("copy", "unbroadcast"):
        return (shapes[0] if op == "copy" else shapes[1]), dtypes[0]
    if op in ("expand_reduced", "zeros_like"):
        # numpy arrays of the spread value's dtype (a Python number becomes a numpy dtype)
        like = shapes[1] if op == "expand_reduced" else shapes[0]
        source = np.asarray(_PROXIES[dtypes[0]]).dtype.name if dtypes[0] in _PROXIES else dtypes[0]
        dtype = _promote([source], floating=True)
        return like, ("py:float" if not like and op == "expand_reduced" else dtype)
    if op in ("matmul_vjp_left", "dot_vjp_left"):
        return shapes[1], _promote([dtypes[0], dtypes[2]])
    if op in ("matmul_vjp_right", "dot_vjp_right"):
        return shapes[2], _promote([dtypes[0], dtypes[1]])
    raise ShapeError(f"no shape rule for {op}")



# -- the numpy extension: shape ops, indexing, more reductions and products --------------------


def resolve_dynamic(equation: Equation, known: dict[int, int]) -> Equation:
    """``equation`` with the DYNAMIC markers in its params replaced by known sizes."""
    spelling = OPS[equation.op].spelling
    first = 1 if isinstance(spelling, Subscript) else getattr(spelling, "dynamic_from", None)
    if first is None or len(equation.inputs) <= first:
        return equation
    sizes = iter([known[a.id] if isinstance(a, Value) else a.value for a in equation.inputs[first:]])

    def fill(value: Any) -> Any:
        if value == DYNAMIC:
            return next(sizes)
        return tuple(fill(v) for v in value) if isinstance(value, tuple) else value

    params = tuple((name, fill(value)) for name, value in equation.params)
    return dataclasses.replace(equation, inputs=equation.inputs[:first], params=params)


def size_value(equation: Equation, shape: Shape) -> int:
    if equation.op == "ndim":
        return len(shape)
    if equation.op == "len":
        return shape[0]
    axis = equation.param("axis")
    return int(np.prod(shape, dtype=np.int64)) if axis is None else shape[axis]  # type: ignore[index]


def _numpy_dtype(dtype: str) -> str:
    return np.asarray(_PROXIES[dtype]).dtype.name if dtype in _PROXIES else dtype


def python_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """An ``index`` equation's hashable key param as the key Python indexes with."""
    tags = {"newaxis": None, "ellipsis": Ellipsis}
    return tuple(
        (slice(*entry[1:]) if entry[0] == "slice" else list(entry[1]) if entry[0] == "list" else tags[entry[0]]) if isinstance(entry, tuple) else entry
        for entry in key
    )


def _reshaped(size: int, target: Any) -> Shape:
    target = tuple(target) if isinstance(target, tuple) else (target,)
    if target.count(-1) == 1:
        rest = int(np.prod([n for n in target if n != -1], dtype=np.int64))
        target = tuple(size // rest if n == -1 else n for n in target)
    if int(np.prod(target, dtype=np.int64)) != size or any(n < 0 for n in target):
        raise ShapeError(f"cannot reshape {size} elements into {target}")
    return target


def _einsum_shape(subscripts: str, shapes: list[Shape]) -> Shape:
    inputs, output = subscripts.split("->")
    sizes: dict[str, int] = {}
    for term, shape in zip(inputs.split(","), shapes):
        if len(term) != len(shape):
            raise ShapeError(f"einsum term {term} does not fit shape {shape}")
        for letter, n in zip(term, shape):
            if sizes.setdefault(letter, n) != n:
                raise ShapeError(f"einsum index {letter} has sizes {sizes[letter]} and {n}")
    return tuple(sizes[letter] for letter in output)


def _arange_length(start: Any, stop: Any, step: Any) -> int:
    if stop is None:
        start, stop = 0, start
    return max(0, int(np.ceil((stop - start) / (step or 1))))


def infer(equation: Equation, inputs: list[Fact]) -> Fact:
    """The (shape, dtype) of ``equation``'s output from its inputs' facts."""
    op, params = equation.op, dict(equation.params)
    shapes = [shape for shape, _ in inputs]
    dtypes = [dtype for _, dtype in inputs]
    if op in SIZE_OPS:
        return (), "py:int"
    if op in ("max", "min", "prod", "norm"):
        shape = _reduced_shape(shapes[0], params.get("axis"), bool(params.get("keepdims")))
        source = _numpy_dtype(dtypes[0])
        if op == "prod" and source == "bool":
            return shape, "int64"
        return shape, _promote([source], floating=op == "norm")
    if op in ("index", "reshape", "ravel", "flatten", "squeeze", "expand_dims", "broadcast_to"):
        if dtypes[0] in _PROXIES:
            raise ShapeError(f"{op} of a Python number")
        view = np.broadcast_to(np.empty((), dtype=np.int8), shapes[0])  # no memory: the shape is all that is read
        if op == "index":
            return view[python_key(params["key"])].shape, dtypes[0]
        if op == "reshape":
            return _reshaped(view.size, params["shape"]), dtypes[0]
        if op in ("ravel", "flatten"):
            return (view.size,), dtypes[0]
        if op == "squeeze":
            return np.squeeze(view, params.get("axis")).shape, dtypes[0]
        if op == "expand_dims":
            return np.expand_dims(view, params["axis"]).shape, dtypes[0]
        return np.broadcast_to(view, params["shape"]).shape, dtypes[0]
    if op in ("concatenate", "stack"):
        parts = [np.broadcast_to(np.empty((), dtype=np.int8), shape) for shape in shapes]
        combine = np.concatenate if op == "concatenate" else np.stack
        return combine(parts, axis=params["axis"]).shape, _promote([_numpy_dtype(d) for d in dtypes])
    if op == "outer":
        return (int(np.prod(shapes[0])), int(np.prod(shapes[1]))), _promote([_numpy_dtype(d) for d in dtypes])
    if op == "inner":
        if shapes[0] and shapes[1] and shapes[0][-1] != shapes[1][-1]:
            raise ShapeError(f"np.inner of shapes {shapes[0]} and {shapes[1]}")
        shape = shapes[0][:-1] + shapes[1][:-1] if shapes[0] and shapes[1] else np.broadcast_shapes(*shapes)
        return shape, _promote([_numpy_dtype(d) for d in dtypes])
    if op == "einsum":
        return _einsum_shape(str(params["subscripts"]), shapes), _promote([_numpy_dtype(d) for d in dtypes])
    if op == "trace":
        if len(shapes[0]) < 2:
            raise ShapeError("np.trace of an array with fewer than 2 dimensions")
        return shapes[0][2:], _promote([_numpy_dtype(dtypes[0])], floating=False)
    if op in ("astype", "astype_discrete"):
        return shapes[0], str(params["dtype"])
    if op == "full_like":
        return shapes[0], _numpy_dtype(dtypes[0])
    if op in ("zeros", "ones", "full"):
        shape = params["shape"] if isinstance(params["shape"], tuple) else (params["shape"],)
        dtype = "float64" if op != "full" else np.asarray(params["fill_value"]).dtype.name
        return tuple(shape), dtype  # type: ignore[arg-type]
    if op == "eye":
        return (params["n"], params["m"] if params.get("m") is not None else params["n"]), "float64"  # type: ignore[return-value]
    if op == "arange":
        bounds = (params["start"], params.get("stop"), params.get("step"))
        dtype = np.asarray([b for b in bounds if b is not None]).dtype.name
        return (_arange_length(*bounds),), dtype
    return _backward_helpers(equation, shapes, dtypes)


def _backward_helpers(equation: Equation, shapes: list[Shape], dtypes: list[str]) -> Fact:
    op = equation.op
    if op == "reshape_like":
        return shapes[1], dtypes[0]
    if op == "unindex":
        return shapes[0], _promote([dtypes[0], dtypes[1]], floating=True)
    if op in ("index_set", "array_copy"):
        return shapes[0], dtypes[0]  # numpy casts the value into the array's dtype
    if op == "written_gradient":
        return shapes[0], _promote([dtypes[0], dtypes[1]], floating=True)
    if op == "unconcatenate":
        return shapes[1 + equation.param("index")], dtypes[0]  # type: ignore[operator]
    if op == "take":
        shape = list(shapes[0])
        del shape[equation.param("axis")]  # type: ignore[arg-type]
        return tuple(shape), dtypes[0]
    if op in ("prod_others", "trace_vjp"):
        return shapes[-1], _promote([dtypes[0]], floating=True)
    if op == "inner_vjp_left":
        return shapes[1], _promote([dtypes[0], dtypes[2]])
    if op == "inner_vjp_right":
        return shapes[2], _promote([dtypes[0], dtypes[1]])
    if op == "einsum_vjp":
        return shapes[1 + equation.param("index")], _promote([_numpy_dtype(d) for d in dtypes])  # type: ignore[operator]
    return _infer(equation, [(shape, dtype) for shape, dtype in zip(shapes, dtypes)])
