"""The sympy check's report: one row per partial, one summary per array argument.

``CheckReport`` guarantees:

* ``report.ok`` is True iff every partial (every element of every array argument included) is
  ok: its values agree (``values_agree``) and it is not symbolically different.
* ``str(report)`` starts with ``check f(args)`` and ends with the verdict line (``ok: ...`` or
  ``MISMATCH: ...``). Between them: a table with one row per scalar partial and per element of
  each array of at most ``ROWS_PER_ARRAY`` elements; for each array argument a summary (shape,
  elements compared, largest absolute difference and its element, symbolic verdicts); and
  sympy's derivative for each scalar partial and each failing array element.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import numpy
import sympy

__all__ = ["ArrayCheck", "CheckReport", "PartialCheck", "ROWS_PER_ARRAY", "values_agree"]

SymbolicStatus = Literal["equal", "different", "undecided"]

ROWS_PER_ARRAY = 12  # an array with more elements gets its summary only
_LISTED_PROBLEMS = 6  # the verdict names this many failing partials, then counts the rest


def values_agree(gradgen_value: float, sympy_value: float) -> bool:
    """Equal to 1e-9 relative / 1e-12 absolute; two nans agree."""
    if math.isnan(gradgen_value) and math.isnan(sympy_value):
        return True
    return math.isclose(gradgen_value, sympy_value, rel_tol=1e-9, abs_tol=1e-12)


@dataclass(frozen=True, slots=True)
class PartialCheck:
    """One partial derivative, as gradgen and sympy see it."""

    name: str
    gradgen_value: float
    sympy_value: float
    sympy_derivative: sympy.Expr
    symbolic_status: SymbolicStatus
    ok: bool
    gradgen_expression: sympy.Expr | None = None
    on_a_kink: bool = False  # a step in sympy's derivative switches exactly at the point

    @property
    def difference(self) -> float:
        """|gradgen - sympy|: 0 when both are nan, inf when only one is."""
        if math.isnan(self.gradgen_value) or math.isnan(self.sympy_value):
            return 0.0 if values_agree(self.gradgen_value, self.sympy_value) else math.inf
        if self.gradgen_value == self.sympy_value:  # equal infinities
            return 0.0
        return abs(self.gradgen_value - self.sympy_value)


@dataclass(frozen=True, slots=True)
class ArrayCheck:
    """The partials with respect to one array argument, its elements in C order."""

    name: str
    shape: tuple[int, ...]
    elements: tuple[PartialCheck, ...]

    @property
    def ok(self) -> bool:
        return all(element.ok for element in self.elements)

    @property
    def max_abs_difference(self) -> float:
        return max(element.difference for element in self.elements)

    @property
    def worst(self) -> PartialCheck:
        """A failing element if there is one, else the one with the largest difference."""
        return max(self.elements, key=lambda element: (not element.ok, element.difference))

    def summary(self) -> str:
        statuses = Counter(element.symbolic_status for element in self.elements)
        symbolic = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        return (
            f"{self.name}: shape {self.shape}, {len(self.elements)} elements compared, "
            f"max |gradgen - sympy| {self.max_abs_difference:.3g} at {self.worst.name}, "
            f"symbolic: {symbolic}: {'ok' if self.ok else 'MISMATCH'}"
        )


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every checked partial of one function at one point; ``str()`` renders a table.

    ``partials`` holds every partial, the elements of array arguments included; ``arrays``
    groups those elements by argument.
    """

    function_name: str
    parameter_names: tuple[str, ...]
    point: tuple[Any, ...]  # a float per scalar argument, an array per array argument
    partials: tuple[PartialCheck, ...]
    arrays: tuple[ArrayCheck, ...] = ()
    # Relations (if/while conditions...) decided at the point: sympy followed the path taken.
    branches: int = 0

    @property
    def ok(self) -> bool:
        return all(partial.ok for partial in self.partials)

    def __str__(self) -> str:
        arguments = ", ".join(
            f"{name}={_argument(value)}" for name, value in zip(self.parameter_names, self.point)
        )
        shown = self._rows()
        rows = [("partial", "gradgen", "sympy", "symbolic", "result")]
        rows += [
            (p.name, repr(p.gradgen_value), repr(p.sympy_value), p.symbolic_status,
             "ok" if p.ok else "MISMATCH")
            for p in shown
        ]  # fmt: skip
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = [f"check {self.function_name}({arguments})"]
        for row in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if self.arrays:
            lines.append("arrays:")
            lines.extend(f"  {array.summary()}" for array in self.arrays)
        # An array's derivatives are long and alike: only its failing elements' are listed.
        elements = {id(element) for array in self.arrays for element in array.elements}
        derivatives = [p for p in shown if id(p) not in elements or not p.ok]
        if derivatives:
            lines.append("sympy derivatives:")
        for partial in derivatives:
            lines.append(f"  d/d{partial.name} = {partial.sympy_derivative}")
            if partial.symbolic_status == "different":
                lines.append(f"  gradgen's d/d{partial.name} = {partial.gradgen_expression}")
        if self.branches:
            lines.append(
                f"branches: {self.branches} condition{'s' if self.branches != 1 else ''} decided "
                "at this point; the derivatives are those of the path it takes"
            )
        lines.append(self._verdict())
        return "\n".join(lines)

    def _rows(self) -> list[PartialCheck]:
        """Every partial but the elements of arrays too large to list."""
        hidden = {
            id(element)
            for array in self.arrays
            if len(array.elements) > ROWS_PER_ARRAY
            for element in array.elements
        }
        return [partial for partial in self.partials if id(partial) not in hidden]

    def _verdict(self) -> str:
        if self.ok:
            count = len(self.partials)
            return "ok: 1 partial agrees" if count == 1 else f"ok: all {count} partials agree"
        failing = [partial for partial in self.partials if not partial.ok]
        problems = [_problem(partial) for partial in failing[:_LISTED_PROBLEMS]]
        if len(failing) > _LISTED_PROBLEMS:
            problems.append(f"and {len(failing) - _LISTED_PROBLEMS} more")
        return "MISMATCH: " + ", ".join(problems)


def _problem(partial: PartialCheck) -> str:
    if values_agree(partial.gradgen_value, partial.sympy_value):
        return f"{partial.name} (symbolically different)"
    kink = "; on a kink, where sympy takes Heaviside(0) = 1/2" if partial.on_a_kink else ""
    return (
        f"{partial.name} (gradgen {partial.gradgen_value!r}, "
        f"sympy {partial.sympy_value!r}{kink})"
    )


def _argument(value: Any) -> str:
    if isinstance(value, numpy.ndarray):
        return f"<array of shape {value.shape}>"
    return repr(value)
