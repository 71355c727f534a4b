"""numpy on sympy symbols: object arrays of symbols, and numpy stand-ins that work on them.

``gradgen.check`` runs a numpy forward at the concrete shapes of the arrays it is given, on numpy
object arrays holding one real symbol per element (``symbol_array("W", (2, 3))`` holds
``W_0_0 ... W_1_2``). This module guarantees:

* Arithmetic, ``@``, indexing, ``.T``, reshaping, ``np.sum``/``mean``/``prod``/``dot``/``einsum``
  and the other structural functions run natively on object arrays (numpy calls the elements'
  ``+`` and ``*``); ``structural_members`` lists those the sympy check lets through.
* numpy's elementwise math does not (``np.exp`` looks for an ``.exp()`` method on each element,
  ``np.maximum`` asks ``bool(a >= b)``); ``elementwise_members`` wraps each scalar sympy stand-in
  so that it maps over arrays, and leaves a scalar call exactly as it was.
* ``np.max``/``np.min`` reduce with ``sympy.Max``/``Min`` along any axes; ``np.linalg.norm`` is
  ``sqrt(sum(x**2))``; ``np.result_type`` answers ``object`` for symbols, so code that allocates
  with it (gradgen's runtime helpers) allocates object arrays.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy
import sympy


def symbol_array(name: str, shape: tuple[int, ...]) -> numpy.ndarray:
    """An object array of real symbols named ``name_i_j`` after their index.

    >>> symbol_array("W", (2, 2))
    array([[W_0_0, W_0_1],
           [W_1_0, W_1_1]], dtype=object)
    """
    array = numpy.empty(shape, dtype=object)
    for index in numpy.ndindex(*shape):
        array[index] = sympy.Symbol("_".join([name, *map(str, index)]), real=True)
    return array


def element_name(name: str, index: tuple[int, ...]) -> str:
    """How the report names one element: ``W[0, 1]``."""
    return f"{name}[{', '.join(map(str, index))}]"


def _is_array(value: Any) -> bool:
    return isinstance(value, (numpy.ndarray, list, tuple))


def _is_symbolic(value: Any) -> bool:
    if isinstance(value, numpy.ndarray):
        return value.dtype == object
    return isinstance(value, sympy.Basic)


class Elementwise:
    """A scalar sympy function mapped over numpy arrays (numpy's own broadcasting); a call on
    scalars only is the scalar function's call, unchanged."""

    def __init__(self, name: str, scalar_function: Callable[..., Any]):
        self.name = name
        self.scalar_function = scalar_function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError(
                f"numpy.{self.name} with keyword arguments ({', '.join(kwargs)}) is not "
                "supported on sympy symbols"
            )
        if not any(_is_array(argument) for argument in args):
            return self.scalar_function(*args)
        return numpy.frompyfunc(self.scalar_function, len(args), 1)(*args)

    def __repr__(self) -> str:
        return f"<elementwise sympy stand-in for numpy.{self.name}>"


class ScalarOnly:
    """A ``math`` stand-in: like ``math`` itself, it refuses arrays (sympy would take them)."""

    def __init__(self, name: str, scalar_function: Callable[..., Any]):
        self.name = name
        self.scalar_function = scalar_function

    def __call__(self, *args: Any) -> Any:
        if any(_is_array(argument) for argument in args):
            raise TypeError(f"math.{self.name} takes numbers, not arrays; use numpy.{self.name}")
        return self.scalar_function(*args)

    def __repr__(self) -> str:
        return f"<sympy stand-in for math.{self.name}>"


def scalar_members(members: Mapping[str, Any]) -> dict[str, Any]:
    """The math stand-ins, refusing arrays."""
    return {
        name: ScalarOnly(name, member) if callable(member) else member
        for name, member in members.items()
    }


# --- comparisons used as numbers -------------------------------------------------------------

COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "Lt": operator.lt, "LtE": operator.le, "Gt": operator.gt, "GtE": operator.ge,
    "Eq": operator.eq, "NotEq": operator.ne,
}  # fmt: skip


def indicator(relation: str, left: Any, right: Any) -> Any:
    """1 where ``left <relation> right`` holds, else 0, elementwise: what ``g * (a >= b)`` means.

    On symbols it is a step function, like sympy's own derivative of Max/Min/Abs; its second
    argument, the value at the tie, follows the comparison's strictness.
    """
    if _is_array(left) or _is_array(right):
        return numpy.frompyfunc(functools.partial(indicator, relation), 2, 1)(left, right)
    if not isinstance(left, sympy.Basic) and not isinstance(right, sympy.Basic):
        return COMPARISONS[relation](left, right)
    if relation in ("Gt", "GtE"):
        return sympy.Heaviside(left - right, 1 if relation == "GtE" else 0)
    if relation in ("Lt", "LtE"):
        return sympy.Heaviside(right - left, 1 if relation == "LtE" else 0)
    condition = sympy.Eq(left, right) if relation == "Eq" else sympy.Ne(left, right)
    return sympy.Piecewise((1, condition), (0, True))


_COMPARISON_FUNCTIONS = {
    "greater": "Gt", "greater_equal": "GtE", "less": "Lt", "less_equal": "LtE",
    "equal": "Eq", "not_equal": "NotEq",
}  # fmt: skip


# --- reductions and the norm -----------------------------------------------------------------


class Extremum:
    """``np.max``/``np.min`` on object arrays: a ``sympy.Max``/``Min`` per reduction group."""

    def __init__(self, name: str, combine: type[sympy.Basic]):
        self.name = name
        self._reduce = numpy.frompyfunc(combine, 2, 1).reduce

    def __call__(self, values: Any, axis: Any = None, keepdims: bool = False) -> Any:
        values = numpy.asarray(values, dtype=object)
        if values.ndim == 0:
            return values.item()
        axes = _axes(axis, values.ndim)
        kept = [a for a in range(values.ndim) if a not in axes]
        moved = numpy.transpose(values, kept + list(axes))
        groups = moved.reshape(moved.shape[: len(kept)] + (-1,))
        # A not-reorderable ufunc reduces along one axis only, so the axes are moved last first.
        result = self._reduce(groups, axis=-1)
        if keepdims:
            shape = tuple(1 if a in axes else n for a, n in enumerate(values.shape))
            result = numpy.reshape(result, shape)
        return result

    def __repr__(self) -> str:
        return f"<sympy stand-in for numpy.{self.name}>"


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """The vector 2-norm or Frobenius norm, ``sqrt(sum(x**2))``: the norms gradgen supports."""
    if ord not in (None, 2, "fro"):
        raise TypeError(f"numpy.linalg.norm with ord={ord!r} is not supported on sympy symbols")
    if not _is_array(x):
        return sympy.Abs(x)
    squares = numpy.sum(numpy.asarray(x) * numpy.asarray(x), axis=axis, keepdims=keepdims)
    return Elementwise("sqrt", sympy.sqrt)(squares)


def result_type(*arguments: Any) -> Any:
    """``object`` where symbols are involved: what an allocation for them must use."""
    if any(_is_symbolic(argument) for argument in arguments):
        return numpy.dtype(object)
    return numpy.result_type(*arguments)


def astype(x: Any, dtype: Any) -> Any:
    """gradgen.runtime.astype on symbols: a float cast changes nothing a symbol has."""
    if numpy.issubdtype(numpy.dtype(dtype), numpy.floating):
        return x
    raise TypeError(f"a cast to {numpy.dtype(dtype)} is not supported on sympy symbols")


# --- the tables ------------------------------------------------------------------------------

# Run natively on object arrays (checked by the tests); the sympy check lets them through.
_STRUCTURAL_NAMES = (
    "sum", "mean", "prod", "dot", "matmul", "inner", "outer", "einsum", "trace", "tensordot",
    "transpose", "reshape", "ravel", "expand_dims", "squeeze", "broadcast_to", "concatenate",
    "stack", "swapaxes", "moveaxis", "zeros", "ones", "full", "eye", "arange", "zeros_like",
    "ones_like", "full_like", "empty", "array", "asarray", "shape", "ndim", "size", "newaxis",
    "ndarray", "dtype", "add", "subtract", "multiply", "divide", "true_divide",
)  # fmt: skip


_CONSTRUCTORS = ("zeros", "ones", "full", "eye", "zeros_like", "ones_like", "full_like", "empty")


def structural_members() -> dict[str, Any]:
    """numpy's functions that work on object arrays as they are; constructors make object
    arrays, so that a function may write symbols into the arrays it creates (``H[t] = h``)."""
    members = {name: getattr(numpy, name) for name in _STRUCTURAL_NAMES}
    members.update((name, functools.partial(_object_array, getattr(numpy, name))) for name in _CONSTRUCTORS)
    return members


def _object_array(constructor: Any, *args: Any, **kwargs: Any) -> Any:
    result = constructor(*args, **kwargs)
    return result.astype(object) if isinstance(result, numpy.ndarray) else result


def elementwise_members(scalar_members: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar stand-ins, mapped over arrays; plus comparisons, max/min, norm, result_type."""
    members: dict[str, Any] = {
        name: Elementwise(name, member) if callable(member) else member
        for name, member in scalar_members.items()
    }
    for name, relation in _COMPARISON_FUNCTIONS.items():
        members[name] = Elementwise(name, functools.partial(indicator, relation))
    for name, combine in (("max", sympy.Max), ("amax", sympy.Max)):
        members[name] = Extremum(name, combine)
    for name, combine in (("min", sympy.Min), ("amin", sympy.Min)):
        members[name] = Extremum(name, combine)
    members["result_type"] = result_type
    return members
