"""sympy stand-ins for ``math``, ``numpy`` and the builtins, for running a function on symbols.

Guarantees:

* ``MATH_SHIM`` and ``NUMPY_SHIM`` stand in for the modules: each member is a sympy equivalent
  (``log1p(x)`` -> ``log(1 + x)``, ``maximum`` -> ``Max``, ``float64(x)`` -> ``x``...). A name
  with no equivalent raises ``AttributeError`` naming it, so nothing silently computes on floats.
  ``math``'s members refuse arrays; numpy's elementwise members map over object arrays of
  symbols, and its structural ones (``np.sum``, ``@``, indexing...) run as they are (see
  ``sympy_arrays``). ``LENIENT_NUMPY_SHIM`` (for gradgen's own runtime helpers) falls back to
  numpy itself for the rest.
* ``replacements_by_identity()`` maps each real module, function and named constant
  (``math.exp``, ``numpy.pi``...) to its stand-in, so ``from math import exp as e`` is found too.
* ``SYMBOLIC_BUILTINS`` are the builtins with ``min``/``max`` symbolic where an argument is,
  and ``__import__`` answering ``import math`` / ``import numpy`` with the stand-ins.

``sympy_shim.py`` puts these in place of the real objects in copies of the user's functions.
"""

from __future__ import annotations

import builtins
import functools
import math
import types
from collections.abc import Iterable, Mapping
from typing import Any

import numpy
import sympy

from gradgen import sympy_arrays


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
def replacements_by_identity() -> dict[int, tuple[Any, Any]]:
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
    runtime = runtime_module()
    scalar_sign = getattr(runtime, "scalar_sign", None)
    if scalar_sign is not None:
        table[id(scalar_sign)] = (scalar_sign, sympy.sign)
    return table


def runtime_module() -> types.ModuleType | None:
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
