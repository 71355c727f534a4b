"""Deciding a function's branch conditions at the check point, so sympy can follow the path taken.

Running a function on sympy symbols stops at its first ``if x > 0:``: the truth of a sympy
relation is unknown, so ``bool()`` raises. ``gradgen.check`` differentiates at one point, and
there the path is known, so inside ``decided_at(point)``:

* ``bool(relation)`` called from the user's code (an ``if``/``while`` test, ``and``/``or``/
  ``not``, a conditional expression, builtin ``max``/``min``) is the relation's truth at
  ``point``, evaluated exactly (rationals, then 30 digits where sympy cannot decide exactly);
  the derivative sympy then takes is the one on the path the point takes, the one gradgen's
  code computes there.
* A call from sympy's own modules keeps sympy's behaviour (a ``TypeError``), which its internals
  rely on to tell decidable relations from undecidable ones.
* ``==`` and ``!=`` between sympy expressions are structural in sympy (a plain ``bool``, no
  relation), so a branch on ``x == 0`` does not see the point; ``decisions`` counts only the
  relations decided here.

The patch is on ``sympy.core.relational.Relational.__bool__`` for the duration of the ``with``
block only, and is not reentrant across threads (``check`` is not called concurrently).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import sympy
from sympy.core.relational import Relational

_COMPARE = {
    ">": lambda difference: difference > 0,
    ">=": lambda difference: difference >= 0,
    "<": lambda difference: difference < 0,
    "<=": lambda difference: difference <= 0,
}


@dataclass
class BranchDecisions:
    """How many relations were decided at the point while the block ran."""

    count: int = 0


def _is_sympy_code(frame_globals: Mapping[str, object]) -> bool:
    module = frame_globals.get("__name__")
    return isinstance(module, str) and (module == "sympy" or module.startswith("sympy."))


def _truth_at(relation: Relational, exact_point: Mapping[sympy.Symbol, sympy.Rational]) -> bool | None:
    decided = relation.subs(exact_point)
    if decided is sympy.true or decided is sympy.false:
        return bool(decided)
    compare = _COMPARE.get(relation.rel_op)
    if compare is None:
        return None
    difference = (relation.lhs - relation.rhs).subs(exact_point).evalf(30)
    if not difference.is_real or not difference.is_number:
        return None
    return bool(compare(difference))


@contextlib.contextmanager
def decided_at(point: Mapping[sympy.Symbol, float]) -> Iterator[BranchDecisions]:
    """While the block runs, the user's code reads relations as their truth at ``point``."""
    exact_point = {symbol: sympy.Rational(value) for symbol, value in point.items()}
    decisions = BranchDecisions()
    undecided = Relational.__bool__

    def truth(relation: Relational) -> bool:
        if not _is_sympy_code(sys._getframe(1).f_globals):
            decided = _truth_at(relation, exact_point)
            if decided is not None:
                decisions.count += 1
                return decided
        return undecided(relation)

    Relational.__bool__ = truth  # type: ignore[method-assign]
    try:
        yield decisions
    finally:
        Relational.__bool__ = undecided  # type: ignore[method-assign]
