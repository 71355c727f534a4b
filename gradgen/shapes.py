"""Shape and dtype inference for concrete arguments: the facts specialization relies on.

``stamp_shapes(graph, arguments)`` returns the graph with every value's ``shape`` and
``dtype`` set, following numpy's broadcasting, reduction and matmul rules and its type
promotion (Python numbers are "weak", as in NEP 50). A dtype is a numpy dtype name, or
``"py:float"``/``"py:int"``/``"py:bool"`` for a Python number. Anything the rules cannot decide, or
arguments numpy would reject, raises ``ShapeError``; the caller then keeps the generic code,
which is correct for every shape and fails, if it must, exactly as numpy does.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from gradgen.ir import Atom, Constant, Equation, Graph, Value
from gradgen.ops import OPS

Shape = tuple[int, ...]
Fact = tuple[Shape, str]


class ShapeError(Exception):
    """The shapes cannot be inferred (or do not fit together) for these arguments."""


_PYTHON_TYPES = {bool: "py:bool", int: "py:int", float: "py:float"}
_PROXIES: dict[str, Any] = {"py:bool": True, "py:int": 1, "py:float": 1.0}
_COMPARISONS = frozenset({"gt", "ge", "lt", "le", "eq", "ne"})
_FLOATING = frozenset({"div", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "arctan", "mean"})


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


def stamp_shapes(graph: Graph, arguments: Sequence[Any]) -> Graph:
    """``graph`` with ``shape`` and ``dtype`` set on every value, for these arguments."""
    facts: dict[int, Fact] = {}
    for value, argument in zip(graph.inputs, arguments):
        facts[value.id] = argument_fact(argument)
    for equation in graph.equations:
        inputs = [_fact(atom, facts) for atom in equation.inputs]
        try:
            facts[equation.output.id] = _infer(equation, inputs)
        except (ValueError, TypeError, IndexError, ArithmeticError) as error:
            raise ShapeError(f"{equation}: {error}") from None

    def stamp(atom: Atom) -> Atom:
        if isinstance(atom, Value) and atom.id in facts:
            shape, dtype = facts[atom.id]
            return dataclasses.replace(atom, shape=shape, dtype=dtype)
        return atom

    equations = tuple(
        dataclasses.replace(
            eq,
            inputs=tuple(stamp(a) for a in eq.inputs),
            outputs=tuple(stamp(v) for v in eq.outputs),  # type: ignore[misc]
        )
        for eq in graph.equations
    )
    return Graph(
        tuple(stamp(v) for v in graph.inputs),  # type: ignore[misc]
        equations,
        tuple(stamp(a) for a in graph.outputs),
    )


def _fact(atom: Atom, facts: dict[int, Fact]) -> Fact:
    if isinstance(atom, Constant):
        python = _PYTHON_TYPES.get(type(atom.value))
        if python is None:
            raise ShapeError(f"constant {atom} has no shape")
        return (), python
    return facts[atom.id]


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


def _infer(equation: Equation, inputs: list[Fact]) -> Fact:
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
    if family == "elementwise":
        shape = np.broadcast_shapes(*shapes)
        if params.get("lib") == "numpy" and all(d in _PROXIES for d in dtypes):
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
            raise ShapeError("np.dot of arrays with more than 2 dimensions")
        return _matmul_shape(shapes[0], shapes[1]), _promote(dtypes)
    if op == "transpose":
        return tuple(reversed(shapes[0])), dtypes[0]
    if op in ("copy", "unbroadcast"):
        return (shapes[0] if op == "copy" else shapes[1]), dtypes[0]
    if op == "expand_reduced":
        return shapes[1], _promote([dtypes[0]], floating=True)
    if op == "zeros_like":
        return shapes[0], _promote([dtypes[0]], floating=True)
    if op == "matmul_vjp_left":
        return shapes[1], _promote([dtypes[0], dtypes[2]])
    if op == "matmul_vjp_right":
        return shapes[2], _promote([dtypes[0], dtypes[1]])
    raise ShapeError(f"no shape rule for {op}")
