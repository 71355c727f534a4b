"""emit_text.module_text spells an ast.Module exactly as the standard library's ast.unparse."""

from __future__ import annotations

import ast
import inspect

import pytest

import gradgen
import gradgen.emit
from gradgen.emit_text import _OutsideSubset, _Spelling, module_text
from gradgen.errors import GradgenError
from tests import control_flow_functions, item_write_functions, loop_functions, sample_functions
from tests import seed_functions as seeds

# Each line exercises a rule of ast.unparse: operator precedence and associativity, unary
# operators, comparisons, boolean chains, conditional expressions, tuples, subscripts, slices,
# attributes of numbers, constants (negative, inf, nan, strings), keywords, blocks.
SPELLINGS = """\
a = b - (c - d) - e + (f + g)
a = (b ** c) ** d + b ** c ** d + (-b) ** 2 + -b ** 2 + b ** (-c)
a = b / (c * d) * e // (f % g) @ h
a = (b + c) * (d - e) / -(f * g) + ~h + +i
a = b << (c >> d) | e ^ (f & g) | (h | i)
a = not b == c and (d or e) and (not f)
a = b or c and d or (e or f) or (g and h)
a = (b if c else d) if (e if f else g) else (h if i else j)
a = b if c < d <= e != f else g is not h
a = (b < c) + (d in e) * (f is None) - (g not in h)
a, (b, c) = (d,), ()
a = b = (c, d)
a = x[1:2, ::3, 4:] + x[:] + x[(1, 2)] + x[()] + x[1,] + x[-1]
a = 3 .real + (1.5).real + (-2).real + x.T.shape[0] + True .real
a = f(b, c=d, **e)(g).h[i](j=-1.0)
a = [b, -c, (d, e)] + [f]
a = 1e308 * 10 + 0.5 + 'text' + "it's" + None + b'x'
a += b * -c
print(-a.b)
return (a, b, (c, -d))
return a, b
return
if a < b:
    c = d
elif e:
    pass
else:
    break
for i, j in zip(a, b):
    continue
else:
    k = 1
while a > 0:
    a -= 1
"""


def _unwrapped(text: str) -> ast.Module:
    """``text`` as the body of a function (``return`` and ``break`` must be inside one)."""
    body = "\n".join("    " + line for line in text.splitlines())
    return ast.parse(f"import math\nfrom .x import y as z\n\ndef f(a, b=-1, *c, d, e=2, **g):\n{body}\n")


def test_spellings_are_those_of_ast_unparse():
    module = _unwrapped(SPELLINGS)
    assert _Spelling().module(module) == ast.unparse(module)  # no fallback: every rule is exercised


@pytest.mark.parametrize("line", SPELLINGS.splitlines()[:20])
def test_each_expression_is_spelled_like_ast_unparse(line):
    module = _unwrapped(line)
    assert _Spelling().module(module) == ast.unparse(module)


def test_infinities_and_nan_constants():
    module = ast.Module([ast.Expr(ast.BinOp(ast.Constant(float("inf")), ast.Sub(), ast.Constant(float("nan"))))], [])
    assert _Spelling().module(module) == ast.unparse(module) == "1e309 - (1e309-1e309)"


def test_a_node_shared_by_two_parents_keeps_ast_unparses_parentheses():
    # ast.unparse records the precedence a parent requires per node; a node reached again as
    # a call argument (which records none) reads the record its first parent left.
    shared = ast.BinOp(ast.Name("a"), ast.Add(), ast.Name("b"))
    product = ast.BinOp(shared, ast.Mult(), ast.Name("c"))
    call = ast.Call(ast.Name("f"), [shared], [])
    module = ast.Module([ast.Expr(ast.Tuple([product, call], ast.Load()))], [])
    assert _Spelling().module(module) == ast.unparse(module) == "((a + b) * c, f((a + b)))"


@pytest.mark.parametrize(
    "source",
    ['"""doc"""\nx = 1', "def f():\n    'doc'\n    return 1", "x = f(*a)", "x = {1: 2}", "x = lambda: 1", "@d\ndef f():\n    pass"],
)
def test_anything_else_is_left_to_ast_unparse(source):
    module = ast.parse(source)
    with pytest.raises(_OutsideSubset):
        _Spelling().module(module)
    assert module_text(module) == ast.unparse(module)


def test_every_emitted_module_of_the_corpora(monkeypatch):
    spelled = []

    def checked(module: ast.Module) -> str:
        text = _Spelling().module(module)  # the emitter builds nothing outside the subset
        assert text == ast.unparse(module)
        spelled.append(text)
        return text

    monkeypatch.setattr(gradgen.emit, "module_text", checked)
    for corpus in (seeds, sample_functions, control_flow_functions, loop_functions, item_write_functions):
        for name, function in vars(corpus).items():
            if not inspect.isfunction(function) or function.__module__ != corpus.__name__ or not inspect.signature(function).parameters:
                continue
            for optimize in (True, False):
                try:
                    gradgen.grad(function, optimize=optimize)
                except GradgenError:
                    continue
    assert len(spelled) > 150
