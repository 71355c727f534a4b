"""Control flow: branches compile to a cond node and to a Python ``if`` in the forward and the
backward; every construct is checked against central finite differences and, for scalar
programs, against sympy's derivative of the branch the point takes (written out by hand below).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

import gradgen
from gradgen import api
from gradgen.errors import UnknownNameError
from gradgen.ir import verify
from tests import control_flow_functions as cf


@pytest.fixture(autouse=True)
def verify_every_pass(monkeypatch):
    monkeypatch.setattr(api, "VERIFY_EVERY_PASS", True)


def finite_differences(f, point, h=1e-6):
    gradient = []
    for i in range(len(point)):
        up = list(point)
        down = list(point)
        up[i] += h
        down[i] -= h
        gradient.append((f(*up) - f(*down)) / (2 * h))
    return gradient


def assert_matches_finite_differences(f, point, optimize=True):
    wrt = tuple(range(len(point)))
    gradient = gradgen.grad(f, wrt=wrt, optimize=optimize)(*point)
    expected = finite_differences(f, point)
    assert np.allclose(gradient, expected, rtol=1e-5, atol=1e-6), (gradient, expected)


X, Y = sympy.symbols("x y", real=True)

# (function, point, the sympy expression of the branch the point takes)
SCALAR_CASES = [
    (cf.absolute_square, (1.5,), (X * X + X,)),
    (cf.absolute_square, (-0.7,), ((-X) * (-X) + X,)),
    (cf.log_where_defined, (2.0,), (sympy.log(X) * X,)),
    (cf.log_where_defined, (-2.0,), (2 * X,)),
    (cf.piecewise, (1.5, 0.3), (X * Y * X + sympy.sin(Y),)),
    (cf.piecewise, (0.5, 0.3), (X * Y + X * Y + Y,)),
    (cf.piecewise, (-1.5, 0.3), (sympy.exp(X) + Y * Y,)),
    (cf.nested_overwrite, (0.5, 0.7), ((X + Y) * X * X,)),
    (cf.nested_overwrite, (0.5, -0.7), ((X + Y) * Y * X,)),
    (cf.nested_overwrite, (-0.5, 0.7), (sympy.sin(X + Y) * X,)),
    (cf.nested_overwrite, (-0.5, -0.7), ((X + Y) ** 2 * X,)),
    (cf.swap_in_branch, (2.0, 1.0), ((Y + 1) ** 2 + 3 * (2 * X),)),
    (cf.swap_in_branch, (1.0, 2.0), ((2 * X) ** 2 + 3 * (Y + 1),)),
    (cf.constant_branches, (1.5,), (2 * X * X,)),
    (cf.constant_branches, (-1.5,), (-3 * X * X,)),
    (cf.static_condition, (1.5,), (X * X,)),
    (cf.one_branch_assigns, (0.5, 2.0), ((X * Y) ** 2,)),
    (cf.one_branch_assigns, (-0.5, 2.0), (Y * Y,)),
    (cf.early_return, (-1.0, 2.0), (X * Y,)),
    (cf.early_return, (1.0, 2.0), ((sympy.exp(X) + Y) ** 2,)),
    (cf.early_return, (0.1, 0.5), (sympy.exp(X) + Y,)),
    (cf.helper_with_if, (1.0, 0.5), (X * Y + (X - Y) * 3,)),
    (cf.helper_with_if, (-1.0, 0.5), (0 * (X * Y) + 0 * (X - Y) * 3,)),
    (cf.returns_from_every_branch, (4.0,), (sympy.sqrt(X),)),
    (cf.returns_from_every_branch, (0.5,), (X * X,)),
    (cf.returns_from_every_branch, (-0.5,), (-X * sympy.Rational(1, 2),)),
]


def _case_id(case) -> str:
    return f"{case[0].__name__}{case[1]}"


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize("case", SCALAR_CASES, ids=_case_id)
def test_scalar_branches_match_finite_differences(case, optimize):
    f, point, _ = case
    assert_matches_finite_differences(f, point, optimize)


@pytest.mark.parametrize("case", SCALAR_CASES, ids=_case_id)
def test_scalar_branches_match_sympy_on_the_branch_taken(case):
    f, point, (expression,) = case
    symbols = (X, Y)[: len(point)]
    substitution = dict(zip(symbols, point))
    expected = [float(sympy.diff(expression, s).subs(substitution)) for s in symbols]
    gradient = gradgen.grad(f, wrt=tuple(range(len(point))))(*point)
    assert np.allclose(gradient, expected, rtol=1e-12, atol=1e-12), (gradient, expected)
    value, _ = gradgen.value_and_grad(f, wrt=tuple(range(len(point))))(*point)
    assert value == pytest.approx(float(expression.subs(substitution))) and value == pytest.approx(f(*point))


def test_the_branch_that_does_not_run_is_not_evaluated():
    # math.log(-2.0) would raise: the forward and the backward evaluate only the else branch
    assert gradgen.grad(cf.log_where_defined)(-2.0) == 2.0


def test_an_if_is_one_cond_node_and_a_python_if_in_both_passes():
    graph = gradgen.grad(cf.piecewise, wrt=(0, 1), optimize=False).graph
    conds = [eq for eq in graph.equations if eq.op == "cond"]
    assert len(conds) == 2  # the forward if and its reverse, on the same predicate
    assert conds[0].inputs[0] == conds[1].inputs[0]
    assert hash(conds[0])  # params hold the sub-graphs: equations stay hashable
    verify(graph)
    source = gradgen.grad(cf.piecewise, wrt=(0, 1)).source
    assert source.count("if x > 1.0:") + source.count("t0 = x > 1.0") >= 1
    assert source.count("elif ") == 2  # the elif in the forward and in the backward
    compile(source, "<test>", "exec")


def test_a_static_condition_selects_its_branch_while_compiling():
    g = gradgen.grad(cf.static_condition)
    assert "cond" not in str(g.graph) and "exp" not in g.source
    assert g(3.0) == 6.0


def test_branches_inline_into_the_enclosing_scope_when_the_condition_folds():
    def folded(x):
        n = 3
        if n > 2:
            y = x * 2.0
        else:
            y = x * 5.0
        return y

    g = gradgen.grad(folded)
    assert "cond" not in str(g.graph) and g(1.0) == 2.0


def test_a_name_assigned_in_one_branch_cannot_be_read_after_it():
    def partial(x):
        if x > 0:
            y = x
        return y

    with pytest.raises(UnknownNameError, match="only one branch"):
        gradgen.grad(partial)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_array_branches_match_finite_differences(sign):
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=3), sign * np.abs(rng.normal(size=3))
    w = np.abs(w) * sign
    g = gradgen.grad(cf.array_branch, wrt=(0, 1))
    grad_w, grad_x = g(w, x)
    for argument, gradient in ((0, grad_w), (1, grad_x)):
        expected = np.zeros(3)
        for i in range(3):
            step = np.zeros(3)
            step[i] = 1e-6
            args_up = [w, x]
            args_down = [w, x]
            args_up[argument] = args_up[argument] + step
            args_down[argument] = args_down[argument] - step
            expected[i] = (cf.array_branch(*args_up) - cf.array_branch(*args_down)) / 2e-6
        assert np.allclose(gradient, expected, atol=1e-6)
    assert g.source_for(w, x) == g.source  # branches are not specialized: the generic code runs


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_vector_output_through_a_conditional_expression(sign):
    w = sign * np.array([0.5, 1.0, 2.0])
    jacobian = gradgen.jacobian(cf.array_vector_output)(w)
    expected = np.diag(2.0 * np.cos(w)) if sign > 0 else np.diag(2.0 * w)
    assert np.allclose(jacobian, expected)
