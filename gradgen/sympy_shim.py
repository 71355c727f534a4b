"""Run a user's Python function on sympy symbols, without touching the user's module.

``symbolic_forward(f)`` guarantees:

* ``f`` and every plain-Python function it reaches through its globals or closure (a ``sigmoid``
  helper, say) are copied with ``types.FunctionType`` over patched copies of their globals; the
  originals and their modules are left as they were.
* In those copies the ``math`` and ``numpy`` modules (under any alias, found by identity),
  functions and constants imported from them (``from math import exp as e``), the builtins
  ``min``/``max`` and a body's own ``import math`` / ``import numpy`` answer with sympy
  equivalents (``log1p(x)`` -> ``log(1 + x)``, ``maximum`` -> ``Max``, ...: the stand-ins of
  ``sympy_stand_ins.py``). ``abs`` and ``**`` already work on sympy expressions.
* Array arguments are object arrays of symbols, one per element; numpy's elementwise functions
  map over them and its structural ones (``np.sum``, ``@``, indexing...) run as they are (see
  ``sympy_arrays``).
* The result is one sympy expression in real symbols named after the parameters (``W_0_1`` for
  an element of array ``W``), with floats turned into exact rationals; anything else (a branch
  on a symbol, a function with no sympy equivalent, an array output) is a
  ``SymbolicEvaluationError`` pointing at the user's line.
"""

from __future__ import annotations

import inspect
import numbers
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy
import sympy

from gradgen import sympy_arrays
from gradgen.errors import GradgenError, InvalidArgumentError, SourceLocation
from gradgen.sympy_stand_ins import (
    LENIENT_NUMPY_SHIM,
    SYMBOLIC_BUILTINS,
    SympyModuleShim,
    replacements_by_identity,
    runtime_module,
)


class SymbolicEvaluationError(GradgenError):
    """The function cannot be run on sympy symbols, so the checker has no oracle for it."""


# --- rebuilding the user's functions over patched globals ------------------------------------


def _referenced_names(code: types.CodeType) -> set[str]:
    """Every global or attribute name the code (and the code nested in it) mentions."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _referenced_names(constant)
    return names


class Rebuilder:
    """Copies functions so that they compute on sympy symbols; one instance per evaluation."""

    def __init__(self) -> None:
        self._stand_ins = replacements_by_identity()
        # Keyed by id; the originals are kept in the values so that the ids stay theirs.
        self._functions: dict[int, tuple[types.FunctionType, types.FunctionType]] = {}
        self._globals: dict[int, tuple[dict, dict, set[str]]] = {}
        self.codes: set[types.CodeType] = set()
        self._runtime_stand_in: SympyModuleShim | None = None

    def value(self, value: Any) -> Any:
        known = self._stand_ins.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        if value is runtime_module() and value is not None:
            if self._runtime_stand_in is None:
                self._runtime_stand_in = self._runtime(value)
            return self._runtime_stand_in
        if isinstance(value, types.FunctionType):
            return self.function(value)
        return value

    def function(self, function: types.FunctionType) -> types.FunctionType:
        known = self._functions.get(id(function))
        if known is not None:
            return known[1]
        code = function.__code__
        patched_globals = self.globals_for(function.__globals__, code)
        old_cells = function.__closure__ or ()
        # Cells are filled after the copy is registered, so a function that closes over
        # itself (or over a helper that calls back) is rebuilt once, not forever.
        new_cells = tuple(types.CellType() for _ in old_cells)
        rebuilt = types.FunctionType(
            code, patched_globals, function.__name__, function.__defaults__, new_cells or None
        )
        rebuilt.__kwdefaults__ = function.__kwdefaults__
        self._functions[id(function)] = (function, rebuilt)
        self.codes.add(code)
        self._patch_names(function.__globals__, _referenced_names(code))
        for old_cell, new_cell in zip(old_cells, new_cells):
            try:
                contents = old_cell.cell_contents
            except ValueError:  # not assigned yet in the original either
                continue
            new_cell.cell_contents = self.value(contents)
        return rebuilt

    def globals_for(self, original: dict, code: types.CodeType) -> dict:
        """The patched copy of a module's globals, covering every name ``code`` mentions."""
        known = self._globals.get(id(original))
        if known is None:
            patched = dict(original)
            # Set before any function is created over it: functions capture their builtins.
            patched["__builtins__"] = SYMBOLIC_BUILTINS
            known = (original, patched, set())
            self._globals[id(original)] = known
        self._patch_names(original, _referenced_names(code))
        return known[1]

    def _runtime(self, runtime: types.ModuleType) -> SympyModuleShim:
        """gradgen.runtime with its helpers rebuilt over numpy stand-ins that handle symbols.

        The helpers are gradgen's own code, so unlike a user's function they may use any
        numpy function; those without a stand-in are numpy's own.
        """
        original = vars(runtime)
        if id(original) not in self._globals:
            patched = dict(original)
            patched["__builtins__"] = SYMBOLIC_BUILTINS
            lenient = {name for name, member in original.items() if member is numpy}
            patched.update(dict.fromkeys(lenient, LENIENT_NUMPY_SHIM))
            self._globals[id(original)] = (original, patched, lenient)
        members = {
            name: self.value(member)
            for name, member in original.items()
            if isinstance(member, types.FunctionType) and member.__module__ == runtime.__name__
        }
        members["astype"] = sympy_arrays.astype
        return SympyModuleShim("gradgen.runtime", members)

    def _patch_names(self, original: dict, names: Iterable[str]) -> None:
        _, patched, done = self._globals[id(original)]
        for name in sorted(set(names) - done):
            done.add(name)
            if name in original and name != "__builtins__":
                patched[name] = self.value(original[name])


# --- running a function on symbols ----------------------------------------------------------


def parameter_names(function: Callable[..., Any]) -> tuple[str, ...]:
    """The positional parameters of a plain Python function, in order."""
    if not isinstance(function, types.FunctionType):
        raise InvalidArgumentError(
            f"expected a Python function, got {type(function).__name__} {function!r}"
        )
    names = []
    for parameter in inspect.signature(function, follow_wrapped=False).parameters.values():
        if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            raise InvalidArgumentError(
                f"{function.__qualname__} has a {parameter.kind.description} parameter "
                f"'{parameter.name}'; only plain positional parameters are supported"
            )
        names.append(parameter.name)
    return tuple(names)


def parameter_symbols(function: Callable[..., Any]) -> tuple[sympy.Symbol, ...]:
    """One real sympy Symbol per parameter, named after it."""
    return tuple(sympy.Symbol(name, real=True) for name in parameter_names(function))


def symbolic_forward(
    function: Callable[..., Any], arguments: Sequence[Any] | None = None
) -> sympy.Expr:
    """Run ``function`` on symbolic ``arguments`` (default: one symbol per parameter) and
    return the scalar sympy expression it computes. An array argument is an object array of
    symbols (``sympy_arrays.symbol_array``).

    >>> import math
    >>> def softplus(x):
    ...     return math.log1p(math.exp(x))
    >>> symbolic_forward(softplus)
    log(exp(x) + 1)
    """
    symbols = parameter_symbols(function) if arguments is None else tuple(arguments)
    rebuilder = Rebuilder()
    rebuilt = rebuilder.function(function)  # type: ignore[arg-type]
    try:
        result = rebuilt(*symbols)
    except Exception as error:
        raise SymbolicEvaluationError(
            f"cannot build {function.__qualname__} symbolically: running it on sympy symbols "
            f"raised {type(error).__name__}: {error}",
            _failure_location(error, rebuilder.codes),
            hint="the sympy check needs code whose math/numpy calls have sympy equivalents; "
            "conversions of values to float/int, comparisons used as numbers and array methods "
            "other than numpy's structural ones are not supported (branches on values are, "
            "decided at the check point)",
        ) from error
    return as_expression(result, f"{function.__qualname__} returned")


def _failure_location(
    error: BaseException, codes: set[types.CodeType]
) -> SourceLocation | None:
    """The innermost line of the user's code on the error's traceback."""
    innermost = None
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code in codes:
            innermost = traceback
        traceback = traceback.tb_next
    if innermost is None:
        return None
    code = innermost.tb_frame.f_code
    column = 0
    if hasattr(code, "co_positions"):  # Python 3.11+: instruction -> (line, end, col, end col)
        positions = list(code.co_positions())
        column = positions[innermost.tb_lasti // 2][2] or 0
    return SourceLocation(code.co_filename, innermost.tb_lineno, column)


def as_expression(value: Any, what: str) -> sympy.Expr:
    """``value`` as a sympy expression with exact rationals; ``what`` begins the error message."""
    if isinstance(value, numpy.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = sympy.sympify(float(value))
    if isinstance(value, numpy.ndarray):
        raise SymbolicEvaluationError(
            f"{what} an array of shape {value.shape} on sympy symbols; a scalar is required"
        )
    if not isinstance(value, sympy.Expr):
        raise SymbolicEvaluationError(
            f"{what} {type(value).__name__} on sympy symbols; a scalar expression is required"
        )
    # Exact rationals print cleanly (x, not 1.0*x) and let simplify cancel terms.
    return sympy.nsimplify(value, rational=True)
