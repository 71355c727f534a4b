"""Reading a Python function's source as an ``ast.FunctionDef`` with file-accurate locations.

Guarantees: the returned tree's line numbers are lines of the file the function lives in and
its column offsets are columns of those lines (methods and nested functions are parsed where
they stand, not dedented); decorators are dropped; the function's globals and closure are
available for name resolution. Anything without readable source raises
``SourceUnavailableError``. Reading costs one parse of the function's own lines: their end is
found from indentation, and ``inspect`` is asked only where that is in doubt.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import types
from dataclasses import dataclass
from typing import Any

from gradgen.errors import InvalidArgumentError, SourceLocation, SourceUnavailableError, UnsupportedSyntaxError


@dataclass(frozen=True)
class FunctionSource:
    function: types.FunctionType
    tree: ast.FunctionDef
    filename: str

    @property
    def name(self) -> str:
        return self.function.__name__

    def location(self, node: ast.AST) -> SourceLocation:
        line = getattr(node, "lineno", self.tree.lineno)
        column = getattr(node, "col_offset", 0)
        text = linecache.getline(self.filename, line)
        # ast columns count UTF-8 bytes; diagnostics count characters (the same on ASCII lines).
        if not (text.isascii() and column <= len(text)):
            column = len(text.encode("utf-8")[:column].decode("utf-8", errors="ignore"))
        return SourceLocation(self.filename, line, column)

    def lookup_global(self, name: str) -> tuple[bool, Any]:
        """Resolve a free name as Python would: closure, module globals, then builtins."""
        code = self.function.__code__
        if name in code.co_freevars and self.function.__closure__ is not None:
            cell = self.function.__closure__[code.co_freevars.index(name)]
            try:
                return True, cell.cell_contents
            except ValueError:  # an empty cell: the variable is not assigned yet
                return False, None
        if name in self.function.__globals__:
            return True, self.function.__globals__[name]
        if hasattr(builtins, name):
            return True, getattr(builtins, name)
        return False, None


_cache: dict[types.CodeType, FunctionSource] = {}


def read_function(function: object) -> FunctionSource:
    """Return the parsed source of a plain Python function (cached per code object)."""
    if isinstance(function, types.MethodType):
        raise InvalidArgumentError(
            f"{function!r} is a bound method",
            hint="pass a plain function (def at module level or nested); "
            "methods are not supported yet",
        )
    if not isinstance(function, types.FunctionType):
        if callable(function):
            raise SourceUnavailableError(
                f"{function!r} is not a Python function with source (builtins, C functions "
                "and callable objects cannot be read)",
                hint="pass a function defined with def in a .py file",
            )
        raise InvalidArgumentError(
            f"expected a function to differentiate, got {type(function).__name__} {function!r}"
        )
    if getattr(function, "__wrapped__", None) is not None:
        inner = inspect.unwrap(function)
        code = getattr(inner, "__code__", None)
        location = SourceLocation(code.co_filename, code.co_firstlineno, 0) if code else None
        raise UnsupportedSyntaxError(
            f"{function.__qualname__} is wrapped by a decorator, and gradgen can only read the "
            "source of the function inside it",
            location,
            hint=f"differentiate {function.__qualname__}.__wrapped__, or apply the decorator after grad()",
        )
    cached = _cache.get(function.__code__)
    if cached is not None and cached.function is function:
        return cached
    source = _read(function)
    _cache[function.__code__] = source
    return source


def _read(function: types.FunctionType) -> FunctionSource:
    code = function.__code__
    if function.__name__ == "<lambda>":
        raise SourceUnavailableError(
            "lambda functions are not supported",
            SourceLocation(code.co_filename, code.co_firstlineno, 0),
            hint="define the function with def so gradgen can read its statements",
        )
    filename = inspect.getsourcefile(function) or code.co_filename
    found = _parsed_by_indentation(function, filename)
    if found is None:
        try:
            lines, first_line = inspect.getsourcelines(function)
        except (OSError, TypeError) as error:
            raise SourceUnavailableError(
                f"cannot read the source of {function.__qualname__} ({error})",
                hint="gradgen reads source files: define the function in a .py file "
                "(functions typed at an interactive prompt or built with exec have no source)",
            ) from None
        indent = len(lines[0]) - len(lines[0].lstrip())
        try:
            tree = _parse_in_place(lines, first_line, indent)
        except SyntaxError as error:
            raise SourceUnavailableError(
                f"cannot parse the source of {function.__qualname__}: {error.msg}",
                SourceLocation(filename, error.lineno or first_line, error.offset or 0),
            ) from None
    else:
        tree, first_line, indent = found
    if not isinstance(tree, ast.FunctionDef):
        raise SourceUnavailableError(
            f"the source of {function.__qualname__} is not a plain def",
            SourceLocation(filename, first_line, indent),
            hint="async functions and functions created by other means are not supported",
        )
    tree.decorator_list = []
    # Make sure diagnostics can show the line even for files linecache has not seen.
    linecache.checkcache(filename)
    linecache.getline(filename, first_line)
    return FunctionSource(function, tree, filename)


def _parse_in_place(lines: list[str], first_line: int, indent: int) -> ast.stmt:
    """The first statement of ``lines``, parsed with the file's own line and column numbers:
    blank lines stand for the lines above it, and an indented def (a method, a nested function)
    is parsed as it stands, inside an ``if 1:``. No pass over the tree renumbers it."""
    if not indent:
        return ast.parse("\n" * (first_line - 1) + "".join(lines)).body[0]
    header = "\n" * max(first_line - 2, 0) + "if 1:\n"
    return ast.parse(header + "".join(lines)).body[0].body[0]  # type: ignore[attr-defined]


def _parsed_by_indentation(function: types.FunctionType, filename: str) -> tuple[ast.stmt, int, int] | None:
    """The tree of ``function``, its first line (decorators included) and its indentation,
    reading the lines ``inspect.getsourcelines`` would give without its tokenizer (slow on
    long functions); None where in doubt, and the caller asks ``inspect``.

    The body ends before the first line after the ``def`` line that is not blank or a comment
    and is indented no deeper than the ``def``. Inside the function such a line can only
    continue a string, a bracket or a backslash line, and cutting there leaves text that does
    not parse. Decorators over several lines, and tabs in the indentation, also defer."""
    linecache.checkcache(filename)  # as inspect does: a file edited since it was read is reread
    lines = linecache.getlines(filename, function.__globals__)
    first_line = function.__code__.co_firstlineno
    if not 0 < first_line <= len(lines):
        return None
    start = first_line - 1
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    position = start
    while position < len(lines) and lines[position].lstrip().startswith("@"):
        position += 1
    if position == len(lines) or not lines[position].lstrip().startswith("def ") or "\t" in indent:
        return None
    end = position + 1
    while end < len(lines):
        line = lines[end]
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#"):
            depth = line[: len(line) - len(stripped)]
            if "\t" in depth:
                return None
            if len(depth) <= len(indent):
                break
        end += 1
    try:
        return _parse_in_place(lines[start:end], first_line, len(indent)), first_line, len(indent)
    except SyntaxError:
        return None
