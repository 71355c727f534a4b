"""Rewrites of a product that look through its factors' producers (called by ``simplify``).

**The logistic sigmoid's slope, as a person writes it: ``y * (1 - y)``.** For ``y = 1 / (1 + t)`` with ``t = exp(-z)`` spelled out in the user's code, reverse mode
gives ``dy/dz = y / (1 + t) * t`` (the rules of ``/``, ``+`` and ``exp`` chained), which keeps
``t`` and ``1 + t`` alive until the backward and, where ``t`` overflows to ``inf`` (``z`` below
about -709 in numpy), computes ``0 * inf = nan``. Since ``t / (1 + t) = 1 - y``, the product
``a / (1 + t) * t`` is ``a * (1 - y)``: the same number of operations, nothing but ``y`` kept,
and finite at both extremes (``y = 0``: ``a * 1``; ``y = 1``: ``a * 0``).

Guarantee: the rewrite applies only where ``y = 1 / (1 + t)`` is computed in the same graph,
so ``1 - y`` reads a value that exists; shapes and dtypes are unchanged (``t``, ``1 + t`` and
``y`` have one shape, and ``1.0 - y`` keeps ``y``'s float dtype).

**A first power, ``c * x ** 1 -> c * x``** (the rule of ``w ** 2`` gives ``2 * w ** 1``, and
``0.5 * 2`` folds away). ``x ** 1 -> x`` alone needs ``x`` proven a number, not a bool; but
for a Python float ``c`` and a scalar ``x`` the products agree in value and type even for a
bool (``c * True == c * 1``), which is what the float-guarded scalar code knows.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from gradgen.builder import is_scalar
from gradgen.ir import Atom, Constant, Equation, Value, is_constant_number

if TYPE_CHECKING:
    from gradgen.passes.simplify import _Simplifier


def slope_factor(simplifier: _Simplifier, eq: Equation) -> list[Equation] | None:
    """``a / (1 + t) * t -> a * (1 - y)`` for ``eq`` a product, where ``y = 1 / (1 + t)``."""
    for quotient, t in (eq.inputs, eq.inputs[::-1]):
        if not isinstance(quotient, Value) or not isinstance(t, Value) or simplifier.use_counts.get(quotient.id, 0) != 1:
            continue
        division = simplifier.producers.get(quotient.id)
        if division is None or division.op != "div" or not isinstance(division.inputs[1], Value):
            continue
        a, one_plus_t = division.inputs
        y = simplifier.reciprocals.get(one_plus_t.id)  # type: ignore[union-attr]
        if y is None or not _is_one_plus(simplifier.producers.get(one_plus_t.id), t):  # type: ignore[union-attr]
            continue
        complement = simplifier.fresh(y, y.scalar)
        return [
            Equation("sub", (Constant(1.0), y), (complement,), (), eq.location, eq.forward),
            dataclasses.replace(eq, op="mul", inputs=(a, complement), params=()),  # a * (1.0 - y)
        ]
    return None


def first_power_factor(simplifier: _Simplifier, eq: Equation) -> list[Equation] | None:
    """``c * x ** 1 -> c * x`` for ``eq`` a product, ``c`` a Python float, ``x`` a scalar."""
    x, y = eq.inputs
    for factor, power in ((x, y), (y, x)):
        producer = simplifier.producers.get(power.id) if isinstance(power, Value) else None
        if producer is None or producer.op != "pow" or not is_constant_number(producer.inputs[1], 1):
            continue
        base = producer.inputs[0]
        python_float = isinstance(factor.value, float) if isinstance(factor, Constant) else factor.dtype == "py:float"
        if is_scalar(base) and python_float:
            return [dataclasses.replace(eq, inputs=(factor, base) if factor is x else (base, factor))]
    return None


def _is_one_plus(equation: Equation | None, t: Atom) -> bool:
    if equation is None or equation.op != "add":
        return False
    x, y = equation.inputs
    return (is_constant_number(x, 1) and y == t) or (is_constant_number(y, 1) and x == t)
