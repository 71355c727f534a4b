"""Run a user's Python function on sympy symbols, without touching the user's module.

``symbolic_forward(f)`` guarantees:

* ``f`` and every plain-Python function it reaches through its globals or closure (a ``sigmoid``
  helper, say) are copied with ``types.FunctionType`` over patched copies of their globals; the
  originals and their modules are left as they were.
* In those copies the ``math`` and ``numpy`` modules (under any alias, found by identity),
  functions and constants imported from them (``from math import exp as e``), the builtins
  ``min``/``max`` and a body's own ``import math`` / ``import numpy`` answer with sympy
  equivalents (``log1p(x)`` -> ``log(1 + x)``, ``maximum`` -> ``Max``, ...). ``abs`` and ``**``
  already work on sympy expressions.
* Array arguments are object arrays of symbols, one per element; numpy's elementwise functions
  map over them and its structural ones (``np.sum``, ``@``, indexing...) run as they are (see
  ``sympy_arrays``).
* The result is one sympy expression in real symbols named after the parameters (``W_0_1`` for
  an element of array ``W``), with floats turned into exact rationals; anything else (a branch
  on a symbol, a function with no sympy equivalent, an array output) is a
  ``SymbolicEvaluationError`` pointing at the user's line.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import math
import numbers
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy
import sympy

from gradgen import sympy_arrays
from gradgen.errors import GradgenError, InvalidArgumentError, SourceLocation


class SymbolicEvaluationError(GradgenError):
    """The function cannot be run on sympy symbols, so the checker has no oracle for it."""


# --- sympy stand-ins for math and numpy ------------------------------------------------------


def _log(x: Any, base: Any = None) -> sympy.Expr:
    return sympy.log(x) if base is None else sympy.log(x, base)


def _log1p(x: Any) -> sympy.Expr:
    return sympy.log(1 + x)


def _expm1(x: Any) -> sympy.Expr:
    return sympy.exp(x) - 1


def _log2(x: Any) -> sympy.Expr:
    return sympy.log(x, 2)


def _log10(x: Any) -> sympy.Expr:
    return sympy.log(x, 10)


def _exp2(x: Any) -> sympy.Expr:
    return sympy.Integer(2) ** x


def _square(x: Any) -> sympy.Expr:
    return x**2


def _power(x: Any, y: Any) -> sympy.Expr:
    return sympy.Pow(x, y)


def _reciprocal(x: Any) -> sympy.Expr:
    return 1 / x


def _negative(x: Any) -> sympy.Expr:
    return -x


def _hypot(*coordinates: Any) -> sympy.Expr:
    return sympy.sqrt(sum(c**2 for c in coordinates))


def _where(condition: Any, if_true: Any, if_false: Any) -> sympy.Expr:
    if isinstance(condition, sympy.Expr):  # a 0/1 indicator from np.greater and friends
        condition = sympy.Ne(condition, 0)
    return sympy.Piecewise((if_true, condition), (if_false, True))


def _clip(x: Any, low: Any, high: Any) -> sympy.Expr:
    if low is not None:
        x = sympy.Max(x, low)
    return x if high is None else sympy.Min(x, high)


def _as_is(x: Any) -> Any:
    # np.float64(x) and friends only change the numeric type, which a symbol does not have.
    return x


_SHARED_MEMBERS: dict[str, Any] = {
    "exp": sympy.exp, "log": _log, "log1p": _log1p, "expm1": _expm1, "log2": _log2,
    "log10": _log10, "sqrt": sympy.sqrt, "fabs": sympy.Abs, "sin": sympy.sin, "cos": sympy.cos,
    "tan": sympy.tan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "floor": sympy.floor, "ceil": sympy.ceiling, "pi": sympy.pi, "e": sympy.E, "inf": sympy.oo,
}  # fmt: skip

_MATH_MEMBERS: dict[str, Any] = {
    **_SHARED_MEMBERS,
    "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan, "atan2": sympy.atan2,
    "asinh": sympy.asinh, "acosh": sympy.acosh, "atanh": sympy.atanh, "pow": _power,
    "hypot": _hypot, "erf": sympy.erf, "erfc": sympy.erfc, "gamma": sympy.gamma,
    "lgamma": sympy.loggamma, "tau": 2 * sympy.pi,
}  # fmt: skip

_NUMPY_MEMBERS: dict[str, Any] = {
    **_SHARED_MEMBERS,
    "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan, "arctan2": sympy.atan2,
    "arcsinh": sympy.asinh, "arccosh": sympy.acosh, "arctanh": sympy.atanh,
    "abs": sympy.Abs, "absolute": sympy.Abs, "sign": sympy.sign, "maximum": sympy.Max,
    "minimum": sympy.Min, "square": _square, "power": _power, "exp2": _exp2,
    "reciprocal": _reciprocal, "negative": _negative, "where": _where, "clip": _clip,
    "float64": _as_is, "float32": _as_is,
}  # fmt: skip


class SympyModuleShim:
    """Stands in for a module inside a function run on symbols; a missing name is a clear error."""

    def __init__(self, module_name: str, members: Mapping[str, Any], fallback: Any = None):
        self.__dict__.update(members)
        self._module_name = module_name
        self._fallback = fallback

    def __getattr__(self, name: str) -> Any:
        # Only called for names not in members.
        if self._fallback is not None:
            return getattr(self._fallback, name)
        raise AttributeError(f"{self._module_name}.{name} has no sympy equivalent in gradgen.check")

    def __repr__(self) -> str:
        return f"<sympy stand-in for {self._module_name}>"


# Elementwise stand-ins map over object arrays of symbols; structural functions (np.sum, @ ...)
# already work on them. A numpy name in neither table is refused.
_NUMPY_ARRAY_MEMBERS: dict[str, Any] = {
    **sympy_arrays.structural_members(),
    **sympy_arrays.elementwise_members(_NUMPY_MEMBERS),
}
_LINALG_MEMBERS: dict[str, Any] = {"norm": sympy_arrays.norm}

_MATH_STAND_INS = sympy_arrays.scalar_members(_MATH_MEMBERS)  # math refuses arrays

MATH_SHIM = SympyModuleShim("math", _MATH_STAND_INS)
LINALG_SHIM = SympyModuleShim("numpy.linalg", _LINALG_MEMBERS)
NUMPY_SHIM = SympyModuleShim("numpy", {**_NUMPY_ARRAY_MEMBERS, "linalg": LINALG_SHIM})
# For gradgen's own runtime helpers: the same stand-ins, and numpy itself for the rest.
LENIENT_NUMPY_SHIM = SympyModuleShim("numpy", {**_NUMPY_ARRAY_MEMBERS, "linalg": LINALG_SHIM}, numpy)


@functools.cache
def _replacements_by_identity() -> dict[int, tuple[Any, Any]]:
    """id(real object) -> (real object, sympy stand-in), for `from math import exp` and friends."""
    table: dict[int, tuple[Any, Any]] = {
        id(math): (math, MATH_SHIM),
        id(numpy): (numpy, NUMPY_SHIM),
        id(numpy.linalg): (numpy.linalg, LINALG_SHIM),
    }
    tables = ((math, _MATH_STAND_INS), (numpy, _NUMPY_ARRAY_MEMBERS), (numpy.linalg, _LINALG_MEMBERS))
    for module, members in tables:
        for name, stand_in in members.items():
            real = getattr(module, name, None)
            # Only functions and the named constants: numpy also has e.g. newaxis = None.
            if real is not None and real is not stand_in and (
                callable(real) or name in ("pi", "e", "inf", "tau")
            ):
                table[id(real)] = (real, stand_in)
    runtime = _runtime_module()
    scalar_sign = getattr(runtime, "scalar_sign", None)
    if scalar_sign is not None:
        table[id(scalar_sign)] = (scalar_sign, sympy.sign)
    return table


def _runtime_module() -> types.ModuleType | None:
    try:
        from gradgen import runtime
    except ImportError:  # the compiler core is optional for the oracle
        return None
    return runtime


def _any_symbolic(values: Iterable[Any]) -> bool:
    return any(isinstance(value, sympy.Basic) for value in values)


def _symbolic_min(*args: Any, **kwargs: Any) -> Any:
    candidates = list(args[0]) if len(args) == 1 else list(args)
    if kwargs or not _any_symbolic(candidates):
        return builtins.min(*args, **kwargs)
    return sympy.Min(*candidates)


def _symbolic_max(*args: Any, **kwargs: Any) -> Any:
    candidates = list(args[0]) if len(args) == 1 else list(args)
    if kwargs or not _any_symbolic(candidates):
        return builtins.max(*args, **kwargs)
    return sympy.Max(*candidates)


def _symbolic_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
    # A function body's own `import math` must bind the stand-in too.
    if level == 0 and name == "math":
        return MATH_SHIM
    if level == 0 and name == "numpy":
        return NUMPY_SHIM
    return builtins.__import__(name, globals, locals, fromlist, level)


SYMBOLIC_BUILTINS: dict[str, Any] = {
    **vars(builtins),
    "min": _symbolic_min,
    "max": _symbolic_max,
    "__import__": _symbolic_import,
}


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
        self._stand_ins = _replacements_by_identity()
        # Keyed by id; the originals are kept in the values so that the ids stay theirs.
        self._functions: dict[int, tuple[types.FunctionType, types.FunctionType]] = {}
        self._globals: dict[int, tuple[dict, dict, set[str]]] = {}
        self.codes: set[types.CodeType] = set()
        self._runtime_stand_in: SympyModuleShim | None = None

    def value(self, value: Any) -> Any:
        known = self._stand_ins.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        if value is _runtime_module() and value is not None:
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
