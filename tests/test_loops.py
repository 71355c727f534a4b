"""Loops over sequences (tuples, lists, array rows, enumerate, zip) and break/continue.

Every construct is checked against central finite differences, with the optimized and the
unoptimized backward; scalar programs also against sympy's derivative of the path the point
takes, written out below by running the same steps on (number, symbol) pairs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

import gradgen
from gradgen import api
from gradgen.errors import UnknownFunctionError, UnknownNameError
from gradgen.ir import verify
from tests import loop_functions as lf
from tests.test_control_flow import finite_differences


@pytest.fixture(autouse=True)
def verify_every_pass(monkeypatch):
    monkeypatch.setattr(api, "VERIFY_EVERY_PASS", True)


X, Y = sympy.symbols("x y", real=True)


# -- sympy on the path taken ----------------------------------------------------------------
# Each builder takes the point and returns the expression of the path it takes; where the
# path depends on values, it follows a float twin of the computation.


def _break_in_unrolled(x, y):
    s, expression = 0.0, sympy.Integer(0)
    for v, symbolic in ((x, X), (y, Y), (x * y, X * Y)):
        if s > 2.0:
            break
        s, expression = s + v * v, expression + symbolic * symbolic
    return expression


def _newton_until_small(a):
    x, expression = a, X
    for _ in range(50):
        step = (x * x - a) / (2.0 * x)
        x, expression = x - step, expression - (expression * expression - X) / (2 * expression)
        if abs(step) < 1e-10:
            break
    return expression


def _halve_until_small(x0):
    x, expression = x0, X
    while True:
        x, expression = x * 0.5 + 0.1 * math.sin(x), expression * sympy.Rational(1, 2) + sympy.Rational(1, 10) * sympy.sin(expression)
        if x < 1.0:
            break
    return expression


def _while_with_continue(x0, y0):
    x, expression_x, expression_y = x0, X, Y
    while x < 5.0:
        x, expression_x = x + 1.0, expression_x + 1
        if x < 3.0:
            continue
        expression_y = expression_y * expression_x
    return expression_x * expression_y


def _break_and_continue(x, y):
    s, expression = y, Y
    for i in range(10):
        if i == 1:
            continue
        s, expression = s * x + 1.0, expression * X + 1
        if s > 4.0:
            break
        s, expression = s - 0.5, expression - sympy.Rational(1, 2)
    return expression


def _names_like_the_flags(x):
    running, expression = x, X
    for _ in range(5):
        running, expression = running * 2.0 * x + 0.5, expression * 2 * X + sympy.Rational(1, 2)
        if running > 10.0:
            break
    return expression


def _module_tuple(x):
    expression = X
    for c in lf.SCALES:
        expression = sympy.sin(expression) * sympy.nsimplify(c)
    return expression


# (function, point, the sympy expression of the path the point takes)
SCALAR_CASES = [
    (lf.tuple_of_values, (0.7, -1.3), ((X + 1) * 2 + 1) * Y + 1),
    (lf.module_tuple, (0.4,), _module_tuple(0.4)),
    (lf.list_bound_to_a_name, (0.7, -1.3), X**2 + Y**2 + (X * Y) ** 2),
    (lf.enumerate_static, (0.7, -1.3), X**2 + 2 * Y**2 + 3 * (X * Y) ** 2),
    (lf.zip_static_with_range, (0.7, -1.3), sympy.sin(X) + sympy.sin(2 * Y) + sympy.sin(3 * (X + Y))),
    (lf.break_in_unrolled, (0.5, 0.6), _break_in_unrolled(0.5, 0.6)),
    (lf.break_in_unrolled, (0.5, 1.5), _break_in_unrolled(0.5, 1.5)),
    (lf.break_in_unrolled, (1.6, 0.6), _break_in_unrolled(1.6, 0.6)),
    (lf.newton_until_small, (2.0,), _newton_until_small(2.0)),
    (lf.newton_until_small, (30.0,), _newton_until_small(30.0)),
    (lf.halve_until_small, (0.5,), _halve_until_small(0.5)),
    (lf.halve_until_small, (9.0,), _halve_until_small(9.0)),
    (lf.skip_one_power, (0.7, -1.3), Y * (1 + X + X**3)),
    (lf.break_in_inner_loop, (0.7,), sympy.sin(X) + 3 * sympy.sin(2 * X) + 6 * sympy.sin(3 * X)),
    (lf.while_with_continue, (0.5, 1.5), _while_with_continue(0.5, 1.5)),
    (lf.while_with_continue, (3.5, 1.5), _while_with_continue(3.5, 1.5)),
    (lf.while_with_continue, (6.0, 1.5), _while_with_continue(6.0, 1.5)),
    (lf.break_and_continue, (1.1, 0.3), _break_and_continue(1.1, 0.3)),
    (lf.break_and_continue, (0.5, 0.3), _break_and_continue(0.5, 0.3)),
    (lf.names_like_the_flags, (0.9,), _names_like_the_flags(0.9)),
    (lf.names_like_the_flags, (0.3,), _names_like_the_flags(0.3)),
]


def _case_id(case) -> str:
    return f"{case[0].__name__}{case[1]}"


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize("case", SCALAR_CASES, ids=_case_id)
def test_scalar_loops_match_sympy_on_the_path_taken_and_finite_differences(case, optimize):
    f, point, expression = case
    symbols = (X, Y)[: len(point)]
    wrt = tuple(range(len(point)))
    gradient = gradgen.grad(f, wrt=wrt, optimize=optimize)(*point)
    substitution = dict(zip(symbols, point))
    expected = [float(sympy.diff(expression, s).subs(substitution)) for s in symbols]
    assert np.allclose(gradient, expected, rtol=1e-9, atol=1e-12), (gradient, expected)
    assert np.allclose(gradient, finite_differences(f, point), rtol=1e-5, atol=1e-6)
    value, _ = gradgen.value_and_grad(f, wrt=wrt, optimize=optimize)(*point)
    assert value == pytest.approx(f(*point)) and value == pytest.approx(float(expression.subs(substitution)))


# -- arrays: finite differences -------------------------------------------------------------


def _array_finite_differences(f, arguments, position):
    expected = np.zeros_like(arguments[position])
    for index in np.ndindex(arguments[position].shape):
        up = [a.copy() if isinstance(a, np.ndarray) else a for a in arguments]
        down = [a.copy() if isinstance(a, np.ndarray) else a for a in arguments]
        up[position][index] += 1e-6
        down[position][index] -= 1e-6
        expected[index] = (f(*up) - f(*down)) / 2e-6
    return expected


_RNG = np.random.default_rng(7)
_MLP = (_RNG.normal(size=(5, 3)), _RNG.normal(size=(3, 4)), _RNG.normal(size=4), _RNG.normal(size=(4, 2)), _RNG.normal(size=2))

# (function, arguments, the positions of the array arguments to differentiate)
ARRAY_CASES = [
    (lf.two_layer_mlp, _MLP, (0, 1, 2, 3, 4)),
    (lf.layers_as_pairs, _MLP, (0, 1, 2, 3, 4)),
    (lf.rows_loss, (_RNG.normal(size=(6, 3)), _RNG.normal(size=3)), (0, 1)),
    (lf.weighted_rows, (_RNG.normal(size=(4, 3)), _RNG.normal(size=4)), (0, 1)),
    (lf.zip_arrays, (_RNG.normal(size=5), _RNG.normal(size=3)), (0, 1)),
    (lf.zip_with_run_time_range, (_RNG.normal(size=3), _RNG.normal(size=6), 5), (0, 1)),
    (lf.enumerate_zip, (_RNG.normal(size=4), _RNG.normal(size=4)), (0, 1)),
    (lf.zip_range_and_empty_zip, (_RNG.normal(size=4), 3), (0,)),
    (lf.zip_range_and_empty_zip, (_RNG.normal(size=4), 7), (0,)),
    (lf.rows_then_entries, (_RNG.normal(size=(3, 4)),), (0,)),
    (lf.skip_negative, (np.array([0.5, -1.0, 2.0, -0.3, 1.5]),), (0,)),
]


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize("case", ARRAY_CASES, ids=lambda case: case[0].__name__)
def test_array_loops_match_finite_differences(case, optimize):
    f, arguments, wrt = case
    gradients = gradgen.grad(f, wrt=wrt, optimize=optimize)(*arguments)
    gradients = gradients if isinstance(gradients, tuple) else (gradients,)
    for position, gradient in zip(wrt, gradients):
        expected = _array_finite_differences(f, arguments, position)
        assert gradient.shape == arguments[position].shape
        assert np.allclose(gradient, expected, rtol=1e-5, atol=1e-6), (f.__name__, position, gradient, expected)


@pytest.mark.parametrize("case", [*ARRAY_CASES, *((f, p, tuple(range(len(p)))) for f, p, _ in SCALAR_CASES)], ids=lambda case: case[0].__name__)
def test_optimized_and_unoptimized_backwards_agree(case):
    f, arguments, wrt = case
    optimized = gradgen.grad(f, wrt=wrt)(*arguments)
    plain = gradgen.grad(f, wrt=wrt, optimize=False)(*arguments)
    for a, b in zip(optimized, plain):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12)


# (function, point): scalar points, or one array
MORE_CASES = [
    (lf.runtime_n_break, (0.7, 8)),
    (lf.runtime_n_break, (0.1, 8)),
    (lf.nested_unrolled_break, (0.5, 0.7)),
    (lf.nested_unrolled_break, (1.5, 0.7)),
    (lf.nested_unrolled_break, (0.5, 1.7)),
    (lf.unrolled_continue, (0.5, -0.7)),
    (lf.unrolled_continue, (-0.5, 0.7)),
    (lf.elif_break, (0.3,)),
    (lf.elif_break, (-6.3,)),
    (lf.helper_tuple, (0.3,)),
    (lf.negative_step, (0.3,)),
    (lf.negative_step, (0.03,)),
    (lf.while_break_array, (np.array([0.3, 0.5]),)),
    (lf.break_with_run_time_step, (0.3, 2)),
    (lf.break_with_run_time_step, (0.3, -3)),
    (lf.break_with_run_time_step, (1.3, 1)),
]


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize("case", MORE_CASES, ids=_case_id)
def test_more_jumps_and_sequences_match_finite_differences(case, optimize):
    f, point = case
    if isinstance(point[0], np.ndarray):
        gradient = gradgen.grad(f, optimize=optimize)(*point)
        assert np.allclose(gradient, _array_finite_differences(f, point, 0), rtol=1e-5, atol=1e-6)
        return
    wrt = tuple(k for k, v in enumerate(point) if isinstance(v, float))
    gradient = gradgen.grad(f, wrt=wrt, optimize=optimize)(*point)
    expected = finite_differences(lambda *xs: f(*xs, *point[len(wrt) :]), point[: len(wrt)])
    assert np.allclose(gradient, expected, rtol=1e-5, atol=1e-6), (gradient, expected)


def test_skipped_entries_get_no_gradient():
    x = np.array([0.5, -1.0, 2.0, -0.3, 1.5])
    assert np.array_equal(gradgen.grad(lf.skip_negative)(x), np.where(x < 0, 0.0, 2 * x))


def test_the_mlp_loop_is_unrolled_because_its_layers_have_different_shapes():
    g = gradgen.grad(lf.two_layer_mlp, wrt=(1, 3))
    assert "for " not in g.source and "while " not in g.source
    assert g.source.count("np.tanh(") >= 2
    verify(g.graph)


# -- the emitted code -------------------------------------------------------------------------


def test_a_loop_over_rows_is_a_range_loop_over_len_and_does_not_grow_with_the_rows():
    g = gradgen.grad(lf.rows_loss, wrt=(0, 1))
    lines = [line.strip() for line in g.source.splitlines()]
    assert "row = X[i]" in lines and any(line.startswith("for i in reversed(range(") for line in lines)
    w = np.array([0.3, -0.2, 0.1])
    few, many = np.ones((10, 3)) * 0.1, np.ones((1000, 3)) * 0.1
    assert len(g.source_for(few, w)) == len(g.source_for(many, w))
    grad_X, grad_w = g(many, w)
    expected_w = -np.sum(many * (1.0 / (1.0 + np.exp(many @ w)))[:, None], axis=0)
    assert np.allclose(grad_w, expected_w) and grad_X.shape == many.shape


def test_a_loop_over_rows_is_the_code_of_the_loop_over_its_indices():
    def code(f):
        source = gradgen.grad(f, wrt=(0, 1)).source.replace(f.__name__, "f")
        return [line for line in source.splitlines() if not line.strip().startswith("#")]

    assert code(lf.rows_loss) == code(lf.rows_loss_by_index)


def test_a_loop_with_break_does_not_grow_with_the_trip_count(monkeypatch):
    def code():
        return [line for line in gradgen.grad(lf.newton_with_budget).source.splitlines() if not line.strip().startswith("#")]

    monkeypatch.setattr(lf, "BUDGET", 10)
    few = code()
    monkeypatch.setattr(lf, "BUDGET", 1000)
    many = code()
    assert len(few) == len(many) and "\n".join(few).replace("10", "1000") == "\n".join(many)
    assert gradgen.grad(lf.newton_with_budget)(2.0) == pytest.approx(0.5 / math.sqrt(2.0))


def test_a_loop_that_breaks_stops_early_in_the_forward_and_the_backward():
    source = gradgen.grad(lf.newton_until_small).source
    assert "while running:" in source and "for _ in reversed(range(iterations)):" in source
    # the flags and the counter carry no adjoint, and only x is recorded for the backward
    backward = source.split("# backward")[1]
    assert "running" not in backward and "index" not in backward and "stack.append(x)" in source


def test_errors_inside_rewritten_loops_point_at_the_users_line():
    def bad(X):
        s = 0.0
        for row in X:
            if s > 1.0:
                continue
            s = s + row.cumsum()
        return s

    with pytest.raises(UnknownFunctionError) as raised:
        gradgen.grad(bad)
    line = bad.__code__.co_firstlineno + 5
    assert raised.value.location.line == line and "row.cumsum()" in str(raised.value)


def test_a_name_first_bound_in_a_loop_that_breaks_cannot_be_read_after_it():
    def leaky(x):
        for i in range(3):
            y = x * i
            if y > 1.0:
                break
        return y

    with pytest.raises(UnknownNameError, match="'y' is assigned only inside the loop on line") as raised:
        gradgen.grad(leaky)
    assert raised.value.location.line == leaky.__code__.co_firstlineno + 5
