"""Reading a function's source: the tree's positions are the file's, whatever the layout.

``source.read_function`` finds the end of a function from indentation and falls back to
``inspect`` (its tokenizer) where that is in doubt. Each layout below is checked against the
file itself: the line and column of a known statement, and the gradient against the
hand-derived derivative.
"""

from __future__ import annotations

import ast
import importlib.util
import math
from pathlib import Path

import pytest

import gradgen
from gradgen.source import read_function


def load(directory: Path, text: str, name: str):
    path = directory / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module, text.splitlines()


def position_of(lines: list[str], marker: str) -> tuple[int, int]:
    """1-based line and 0-based column of the first line holding ``marker``."""
    for number, line in enumerate(lines, start=1):
        if marker in line:
            return number, line.index(marker)
    raise AssertionError(marker)


def assigned(tree: ast.FunctionDef, name: str) -> ast.Assign:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node
    raise AssertionError(name)


LAYOUTS = {
    # the signature's closing bracket stands at the def's own indentation
    "signature_over_lines": (
        "import math\n\n\ndef f(\n    x,\n    y,\n):\n    z = x * math.sin(y)\n    return z\n\n\nOTHER = 1\n",
        "f",
    ),
    # a nested function, a comment at the outer indentation inside it, and a string
    # literal whose continuation starts at column 0
    "nested_with_outdented_lines": (
        "import math\n\n\ndef make():\n    def f(x, y):\n        label = '''first\nsecond'''\n"
        "# a comment at column 0\n        z = x * math.sin(y)\n        return z\n\n    return f\n",
        "make",
    ),
    # a decorator over several lines (it returns the function unchanged)
    "decorator_over_lines": (
        "import math\n\n\ndef keep(*args):\n    return lambda function: function\n\n\n@keep(\n    1,\n)\n"
        "def f(x, y):\n    z = x * math.sin(y)\n    return z\n",
        "f",
    ),
    # read without inspect: a one-line decorator, a blank line and comments inside, a
    # comment and a statement after
    "decorated_then_comment": (
        "import math\n\n\ndef keep(*args):\n    return lambda function: function\n\n\n@keep(1)\n"
        "def f(x, y):\n\n    # inside\n    z = x * math.sin(y)\n  # shallower, still inside\n    return z\n"
        "# after\nOTHER = 2\n",
        "f",
    ),
    # a method-like nested def with a backslash continuation at column 0
    "backslash_continuation": (
        "import math\n\n\ndef make():\n    def f(x, y):\n        z = x * \\\nmath.sin(y)\n        return z\n    return f\n",
        "make",
    ),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_positions_are_the_files_and_the_gradient_is_right(tmp_path, layout):
    text, attribute = LAYOUTS[layout]
    module, lines = load(tmp_path, text, f"layout_{layout}")
    function = getattr(module, attribute)
    if attribute == "make":
        function = function()
    tree = read_function(function).tree
    assert (tree.lineno, tree.col_offset) == position_of(lines, "def f(")
    statement = assigned(tree, "z")
    assert (statement.lineno, statement.col_offset) == position_of(lines, "z = x")
    returned = tree.body[-1]
    assert isinstance(returned, ast.Return) and (returned.lineno, returned.col_offset) == position_of(lines, "return z")
    x, y = 0.7, -1.3
    dx, dy = gradgen.grad(function, wrt=(0, 1))(x, y)
    assert math.isclose(dx, math.sin(y)) and math.isclose(dy, x * math.cos(y))

