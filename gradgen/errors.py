"""Errors gradgen raises about the user's code or arguments.

Every error is a ``GradgenError``. Errors about a place in the user's source carry a
``SourceLocation`` and print like a compiler diagnostic::

    examples/neuron.py:12:5: error: 'for' loops are not supported
        for i in range(3):
        ^
    supported: straight-line code (assignments, augmented assignments, return) ...

The line number is the line in the file, not within the function; the column is 1-based.
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A place in a source file: 1-based line, 0-based column offset in characters."""

    filename: str
    line: int
    column: int
    # Where the function containing this place was inlined, for code from a helper function.
    call_site: SourceLocation | None = None

    @property
    def outermost(self) -> SourceLocation:
        return self.call_site.outermost if self.call_site is not None else self

    @property
    def source_line(self) -> str:
        return linecache.getline(self.filename, self.line).rstrip("\n")

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column + 1}"


class GradgenError(Exception):
    """Base class of every error gradgen raises about the user's code or arguments."""

    def __init__(self, message: str, location: SourceLocation | None = None, hint: str = ""):
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.location is None:
            parts.append(f"error: {self.message}")
        else:
            parts.append(f"{self.location}: error: {self.message}")
            line = self.location.source_line
            if line:
                parts.append(f"    {line}")
                parts.append("    " + _caret_padding(line, self.location.column) + "^")
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)


def _caret_padding(line: str, column: int) -> str:
    # Keep tabs so the caret lines up under the same character in a terminal.
    return "".join(ch if ch == "\t" else " " for ch in line[:column])


class UnsupportedSyntaxError(GradgenError):
    """A Python construct outside the subset gradgen differentiates."""


class UnknownFunctionError(GradgenError):
    """A call to a function gradgen has no derivative rule for and cannot inline."""


class UnknownNameError(GradgenError):
    """A name that is neither a parameter, a local, a global nor a builtin."""


class MissingRuleError(GradgenError):
    """An operation with no derivative rule (a bug in gradgen's rule table)."""


class SourceUnavailableError(GradgenError):
    """The function has no Python source gradgen can read (builtin, C function, REPL lambda)."""


class InvalidArgumentError(GradgenError):
    """A bad argument to gradgen's own API (wrt naming a missing parameter, a non-function...)."""


class NonScalarOutputError(GradgenError):
    """grad() of a function whose output is not a scalar."""
