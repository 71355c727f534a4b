"""Reading a Python function's source as an ``ast.FunctionDef`` with file-accurate locations.

Guarantees: the returned tree's line numbers are lines of the file the function lives in and
its column offsets are columns of those lines (the dedent for methods and nested functions
is undone); decorators are dropped; the function's globals and closure are available for
name resolution. Anything without readable source raises ``SourceUnavailableError``.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import textwrap
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
        # ast columns count UTF-8 bytes; diagnostics count characters.
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
    try:
        lines, first_line = inspect.getsourcelines(function)
    except (OSError, TypeError) as error:
        raise SourceUnavailableError(
            f"cannot read the source of {function.__qualname__} ({error})",
            hint="gradgen reads source files: define the function in a .py file "
            "(functions typed at an interactive prompt or built with exec have no source)",
        ) from None
    indent = len(lines[0]) - len(lines[0].lstrip())
    text = textwrap.dedent("".join(lines))
    try:
        module = ast.parse(text)
    except SyntaxError as error:
        raise SourceUnavailableError(
            f"cannot parse the source of {function.__qualname__}: {error.msg}",
            SourceLocation(filename, first_line + (error.lineno or 1) - 1, error.offset or 0),
        ) from None
    tree = module.body[0]
    if not isinstance(tree, ast.FunctionDef):
        raise SourceUnavailableError(
            f"the source of {function.__qualname__} is not a plain def",
            SourceLocation(filename, first_line, indent),
            hint="async functions and functions created by other means are not supported",
        )
    ast.increment_lineno(tree, first_line - 1)
    if indent and text != "".join(lines):
        for node in ast.walk(tree):
            if hasattr(node, "col_offset"):
                node.col_offset += indent
                if getattr(node, "end_col_offset", None) is not None:
                    node.end_col_offset += indent
    tree.decorator_list = []
    # Make sure diagnostics can show the line even for files linecache has not seen.
    linecache.checkcache(filename)
    linecache.getline(filename, first_line)
    return FunctionSource(function, tree, filename)
