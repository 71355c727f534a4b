"""Control flow: branches compile to a cond node and to a Python ``if`` in the forward and the
backward; every construct is checked against central finite differences and, for scalar
programs, against sympy's derivative of the branch the point takes (written out by hand below).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    for specialized, generic in zip((grad_w, grad_x), g.generic(w, x)):
        np.testing.assert_allclose(specialized, generic, rtol=1e-12)
    # both branches are specialized: nothing was broadcast, so no broadcasting reduction is left
    assert "runtime.unbroadcast" in g.source and "unbroadcast" not in g.source_for(w, x)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_vector_output_through_a_conditional_expression(sign):
    w = sign * np.array([0.5, 1.0, 2.0])
    jacobian = gradgen.jacobian(cf.array_vector_output)(w)
    expected = np.diag(2.0 * np.cos(w)) if sign > 0 else np.diag(2.0 * w)
    assert np.allclose(jacobian, expected)


# -- loops ----------------------------------------------------------------------------------

A = sympy.symbols("a", real=True)


def _newton_expression(steps):
    x = A
    for _ in range(steps):
        x = x - (x * x - A) / (2 * x)
    return x


def _fibonacci_expression(n):
    a, b = X, Y
    for _ in range(n):
        a, b = b, a + b * X
    return a * b


# (function, point, wrt, the sympy expression, its symbols)
SCALAR_LOOPS = [
    (cf.newton_sqrt, (2.0,), (0,), _newton_expression(6), (A,)),
    (cf.helper_in_loop, (3.0, 4), (0,), _newton_expression(4) * A, (A,)),
    (cf.helper_in_loop, (3.0, 0), (0,), A * A, (A,)),
    (cf.power_loop, (1.3, 5), (0,), X**5, (X,)),
    (cf.power_loop, (1.3, 0), (0,), sympy.Integer(1) + 0 * X, (X,)),
    (cf.sines_with_index, (0.7,), (0,), sum(sympy.sin(X * i) * X * i for i in (1, 3, 5)), (X,)),
    (cf.countdown, (0.9, 3), (0,), ((X * X + 3) * X + 2) * X + 1, (X,)),
    (cf.fibonacci_like, (0.5, 1.5, 4), (0, 1), _fibonacci_expression(4), (X, Y)),
    (cf.loop_in_branch, (0.5, 2.0), (0, 1), ((Y * X + 1) * X + 1) * X + 1, (X, Y)),
    (cf.loop_in_branch, (-0.5, 2.0), (0, 1), Y - X, (X, Y)),
]


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize("case", SCALAR_LOOPS, ids=_case_id)
def test_scalar_loops_match_sympy_and_finite_differences(case, optimize):
    f, point, wrt, expression, symbols = case
    gradient = gradgen.grad(f, wrt=wrt, optimize=optimize)(*point)
    substitution = dict(zip(symbols, point))
    expected = [float(sympy.diff(expression, s).subs(substitution)) for s in symbols]
    assert np.allclose(gradient, expected, rtol=1e-10, atol=1e-12), (gradient, expected)
    differences = finite_differences(lambda *xs: f(*xs, *point[len(wrt) :]), point[: len(wrt)])
    assert np.allclose(gradient, differences, rtol=1e-5, atol=1e-6)


def _array_gradient_check(f, arguments, optimize=True):
    wrt = tuple(range(len(arguments)))
    gradients = gradgen.grad(f, wrt=wrt, optimize=optimize)(*arguments)
    for position, gradient in zip(wrt, gradients):
        expected = np.zeros_like(arguments[position])
        for index in np.ndindex(arguments[position].shape):
            up = [a.copy() for a in arguments]
            down = [a.copy() for a in arguments]
            up[position][index] += 1e-6
            down[position][index] -= 1e-6
            expected[index] = (f(*up) - f(*down)) / 2e-6
        assert np.allclose(gradient, expected, rtol=1e-5, atol=1e-6), (f.__name__, position, gradient, expected)


ARRAY_LOOPS = [
    (cf.dot_loop, (np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7, -1.1]))),
    (cf.branch_in_loop, (np.array([1.0, -2.0, 0.5, -0.1]),)),
    (cf.nested_loops, (np.arange(6.0).reshape(2, 3) / 10, np.array([0.3, -0.7, 1.1]), np.array([0.5, -1.5]))),
    (cf.vector_accumulation, (np.arange(9.0).reshape(3, 3) / 20 - 0.2, np.array([0.3, -0.7, 1.1]))),
]


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize("case", ARRAY_LOOPS, ids=lambda case: case[0].__name__)
def test_array_loops_match_finite_differences(case, optimize):
    f, arguments = case
    _array_gradient_check(f, arguments, optimize)


def test_accumulation_gives_the_dot_product_gradient():
    w, x = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7, -1.1])
    grad_w, grad_x = gradgen.grad(cf.dot_loop, wrt=(0, 1))(w, x)
    assert np.allclose(grad_w, x) and np.allclose(grad_x, w)


def test_a_loop_is_a_python_for_and_its_backward_a_reversed_for_fed_by_a_stack():
    lines = [line.strip() for line in gradgen.grad(cf.newton_sqrt).source.splitlines()]
    assert lines.count("for step in range(6):") == 1
    assert lines.count("for step in reversed(range(6)):") == 1
    source = "\n".join(lines)
    assert ".append(x)" in source and ".pop()" in source
    graph = gradgen.grad(cf.newton_sqrt).graph
    assert [eq.op for eq in graph.equations].count("loop") == 2
    verify(graph)


def test_the_code_does_not_grow_with_the_trip_count():
    def code(f):
        return [line for line in gradgen.grad(f).source.splitlines() if not line.strip().startswith("#")]

    few = "\n".join(code(cf.newton_sqrt))
    many = "\n".join(code(cf.newton_sqrt_many_steps))
    assert many.replace("600", "6").replace("newton_sqrt_many_steps", "newton_sqrt") == few
    assert gradgen.grad(cf.newton_sqrt_many_steps)(2.0) == pytest.approx(0.5 / math.sqrt(2.0))


def test_only_what_the_backward_reads_is_recorded():
    # the accumulator s is not read by the backward of s += w[i] * x[i] ... except for its
    # shape, which the generic code checks; a loop whose carried value nothing reads records nothing
    def scaled(x, n):
        s = 0.0
        for i in range(n):
            s = s + x * 2.0
        return s

    source = gradgen.grad(scaled).source
    assert "append" not in source and "pop" not in source or "s = " in source
    assert gradgen.grad(scaled)(1.5, 4) == pytest.approx(8.0)


def test_a_carried_value_the_body_returns_is_handed_back_not_recomputed():
    backward_loop = gradgen.grad(cf.vector_accumulation).source.split("reversed(range(")[1]
    assert "tanh" not in backward_loop and "W @ " not in backward_loop  # h_1 = tanh(W @ h): the next step's h
    _array_gradient_check(cf.vector_accumulation, (np.arange(9.0).reshape(3, 3) / 20 - 0.2, np.array([0.3, -0.7, 1.1])))


def test_a_carried_value_nothing_reads_is_not_computed():
    def summed(x, n):
        total = 0.0
        h = x
        for i in range(n):
            h = np.sin(h)
            total = total + np.sum(h * h)
        return np.sum(h)

    forward_loop = gradgen.grad(summed).source.split("# backward")[0]
    assert "total" not in forward_loop  # the gradient of np.sum(h) needs no total
    np.testing.assert_allclose(gradgen.grad(summed)(np.array([0.5, -1.0]), 3), _nested_sin_derivative(np.array([0.5, -1.0]), 3))


def test_a_carried_value_only_the_while_test_reads_is_kept():
    def counted(x):
        k = 0.0
        s = x
        while k < 3.0:
            s = s * 1.5
            k = k + 1.0
        return s

    assert gradgen.grad(counted)(2.0) == pytest.approx(1.5**3)


def _nested_sin_derivative(x, n):
    derivative = np.ones_like(x)
    for _ in range(n):
        derivative, x = derivative * np.cos(x), np.sin(x)
    return derivative


def test_a_zero_trip_loop_passes_the_gradient_through():
    assert gradgen.grad(cf.countdown)(0.9, 0) == 1.0


def test_an_accumulated_adjoint_is_not_carried_through_the_backward_loop():
    # grad_total does not change from one iteration to the next: it is an invariant
    source = gradgen.grad(cf.sines_with_index).source
    backward = source.split("reversed(range(1, 7, 2)):")[1]
    assert "grad_total" not in backward and "t0" not in backward


# -- random programs ------------------------------------------------------------------------

_SMOOTH = ["math.sin({})", "math.tanh({})", "math.cos({})", "0.5 * {}", "({} + 0.25)"]


@st.composite
def _expressions(draw, names):
    left, right = draw(st.sampled_from(names)), draw(st.sampled_from(names))
    shape = draw(st.sampled_from(["{} * {}", "{} + {}", "{} - {}", "{} * 0.5 + {}"]))
    return draw(st.sampled_from(_SMOOTH)).format(shape.format(left, right))


@st.composite
def _block(draw, names, depth, indent, loop=None):
    """Statements at ``indent``; ``loop`` is the kind of the innermost enclosing loop, which
    ``break`` and ``continue`` leave (a while body never continues: it would skip the last
    line, which makes the loop end)."""
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        kinds = ["assign", "assign", "augment", "if", "for", "for_tuple", "while"] if depth < 2 else ["assign", "augment"]
        kind = draw(st.sampled_from(kinds + ["jump"] * (loop is not None)))
        target = draw(st.sampled_from(names))
        pad = "    " * indent
        if kind == "jump":
            jumps = ["break", "continue"] if loop == "for" else ["break"]
            lines.append(f"{pad}if {draw(st.sampled_from(names))} > {draw(st.sampled_from(['0.0', '0.3', '-0.2']))}:")
            lines.append(f"{pad}    {draw(st.sampled_from(jumps))}")
        elif kind == "assign":
            lines.append(f"{pad}{target} = {draw(_expressions(names))}")
        elif kind == "augment":
            lines.append(f"{pad}{target} += {draw(_expressions(names))}")
        elif kind == "if":
            lines.append(f"{pad}if {draw(st.sampled_from(names))} > {draw(st.sampled_from(['0.0', '0.3', '-0.2']))}:")
            lines += draw(_block(names, depth + 1, indent + 1, loop))
            if draw(st.booleans()):
                lines.append(f"{pad}else:")
                lines += draw(_block(names, depth + 1, indent + 1, loop))
        elif kind == "for":
            lines.append(f"{pad}for i in range({draw(st.sampled_from(['0', '2', '3', 'n', '1, n']))}):")
            lines += draw(_block(names, depth + 1, indent + 1, "for"))
        elif kind == "for_tuple":  # unrolled while parsing
            lines.append(f"{pad}for {target} in ({draw(st.sampled_from(names))}, {draw(_expressions(names))}):")
            lines += draw(_block(names, depth + 1, indent + 1, "for"))
        else:  # terminates: the body leaves the counter alone and the last line raises it
            others = [name for name in names if name != target]
            lines.append(f"{pad}while {target} < 1.0:")
            if draw(st.booleans()):
                lines += draw(_block(others, depth + 1, indent + 1, "while"))
            lines.append(f"{pad}    {target} = {target} + 0.6 + 0.1 * math.sin({draw(st.sampled_from(others))})")
    return lines


@st.composite
def _programs(draw):
    names = ["x", "y", "a"]
    body = ["    a = x * y"] + draw(_block(names, 0, 1))
    body.append(f"    return {draw(st.sampled_from(names))} * {draw(st.sampled_from(names))} + x")
    return "import math\n\n\ndef program(x, y, n):\n" + "\n".join(body) + "\n"


# Not within 1e-3 of 0.0: a branch boundary there (cos(x + x) < 1.0, or sin(x * x * y) > 0.0
# when x * x * y underflows to 0.0) can hide from the one-sided check below when the jump is
# multiplied by x, and the branch taken at the point differs from the one finite differences
# (step 1e-6) see on both sides.
_COORDINATE = st.floats(-1.5, 1.5).filter(lambda v: abs(v) >= 1e-3)


@settings(max_examples=int(os.environ.get("GRADGEN_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(source=_programs(), point=st.tuples(_COORDINATE, _COORDINATE), n=st.integers(0, 3))
def test_random_programs_with_branches_and_loops_match_finite_differences(tmp_path_factory, source, point, n):
    import importlib.util

    path = tmp_path_factory.mktemp("programs") / "program.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"program_{abs(hash(source))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    f = module.program
    x, y = point
    h = 1e-6
    try:
        fine = finite_differences(lambda a, b: f(a, b, n), (x, y), h=h)
        at = f(x, y, n)
        one_sided = [((f(x + h, y, n) - at) / h, (at - f(x - h, y, n)) / h), ((f(x, y + h, n) - at) / h, (at - f(x, y - h, n)) / h)]
    except (ValueError, OverflowError):
        return  # the program overflows near the point (math.sin(inf)): nothing to compare with
    if any(abs(right - left) > 1e-3 * (1 + abs(right)) for right, left in one_sided):
        return  # the point is on or next to a branch boundary: no derivative to compare with
    for optimize in (True, False):
        gradient = gradgen.grad(f, wrt=(0, 1), optimize=optimize)(x, y, n)
        if not np.allclose(gradient, fine, rtol=1e-4, atol=1e-5) and _path_changes_only_at(f, x, y, n, fine, optimize):
            return
        assert np.allclose(gradient, fine, rtol=1e-4, atol=1e-5), (source, gradient, fine)
        value, _ = gradgen.value_and_grad(f, wrt=(0, 1), optimize=optimize)(x, y, n)
        assert value == pytest.approx(f(x, y, n))


def _path_changes_only_at(f, x, y, n, fine, optimize, h=1e-6) -> bool:
    """Whether (x, y) is the one point where the path changes, as x = 0 is for cos(2x) < 1.

    There f can be smooth, so the differences agree on both sides, while the path taken at the
    point is not the path around it; gradgen differentiates the path taken (the convention at
    every kink). Just beside the point, gradgen must agree with the differences again.
    """
    gradient = gradgen.grad(f, wrt=(0, 1), optimize=optimize)
    beside = [gradient(x + s * h, y + s * h, n) for s in (-2, 2)]
    return all(np.allclose(g, fine, rtol=1e-4, atol=1e-5) for g in beside)


# -- the scalar fast path -------------------------------------------------------------------


def test_scalar_programs_with_loops_and_branches_get_the_guarded_float_code():
    for f, wrt in ((cf.newton_sqrt, 0), (cf.piecewise, (0, 1)), (cf.helper_in_loop, 0)):
        g = gradgen.grad(f, wrt=wrt)
        assert "is not float" in g.source and "runtime." not in g.source.split("__gradgen_fallback")[-1], g.source
    g = gradgen.grad(cf.helper_in_loop)
    expected = gradgen.grad(cf.helper_in_loop, optimize=False)(3.0, 4)
    assert g(3.0, 4) == pytest.approx(expected)
    # other argument types take the general code
    assert g(3, 4) == pytest.approx(expected) and g(np.float64(3.0), 4) == pytest.approx(expected)
    assert g(np.array(3.0), 4) == pytest.approx(expected)


def test_jacobian_of_a_vector_recurrence():
    W, x = np.arange(9.0).reshape(3, 3) / 20 - 0.2, np.array([0.3, -0.7, 1.1])
    jacobian = gradgen.jacobian(cf.recurrent_state, wrt=1)(W, x)
    expected = np.zeros((3, 3))
    for j in range(3):
        step = np.zeros(3)
        step[j] = 1e-6
        expected[:, j] = (cf.recurrent_state(W, x + step) - cf.recurrent_state(W, x - step)) / 2e-6
    assert np.allclose(jacobian, expected, atol=1e-6)


# -- while loops ----------------------------------------------------------------------------


def _shrink_expression(x0):
    expression, value = X, x0
    while value > 1.0:
        expression, value = sympy.sqrt(expression) * sympy.Rational(9, 10), math.sqrt(value) * 0.9
    return expression * expression


def _grow_expression(x0, y0):
    expression, value = Y, y0
    while value < 10.0:
        expression, value = expression * X + 1, value * x0 + 1.0
    return expression


WHILE_CASES = [
    (cf.shrink, (5.0,), _shrink_expression(5.0), (X,)),
    (cf.shrink, (100.0,), _shrink_expression(100.0), (X,)),
    (cf.shrink, (0.5,), X * X, (X,)),
    (cf.grow_until, (1.5, 2.0), _grow_expression(1.5, 2.0), (X, Y)),
    (cf.grow_until, (1.5, 12.0), Y, (X, Y)),
]


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize("case", WHILE_CASES, ids=_case_id)
def test_while_loops_match_sympy_on_the_iterations_taken(case, optimize):
    f, point, expression, symbols = case
    gradient = gradgen.grad(f, wrt=tuple(range(len(point))), optimize=optimize)(*point)
    gradient = gradient if isinstance(gradient, tuple) else (gradient,)
    expected = [float(sympy.diff(expression, s).subs(dict(zip(symbols, point)))) for s in symbols]
    assert np.allclose(gradient, expected, rtol=1e-10, atol=1e-12), (gradient, expected)


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
def test_a_while_loop_with_a_branch_and_a_for_loop_inside(optimize):
    _array_gradient_check(cf.while_with_branch_and_for, (np.array(0.3), np.array([0.5, -0.2])), optimize)


def test_a_while_loop_counts_its_iterations_for_its_backward():
    source = gradgen.grad(cf.shrink).source
    assert "while x > 1.0:" in source and "for _ in reversed(range(iterations)):" in source
    assert gradgen.grad(cf.shrink)(5.0) == pytest.approx(finite_differences(cf.shrink, (5.0,))[0], rel=1e-6)
