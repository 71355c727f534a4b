"""The sympy oracle: running forward functions on symbols, comparing partials, the report.

The last section calls ``check`` with gradgen's real ``grad``; the others
exercise the oracle on its own (with a hand-written gradient standing in for gradgen's).
"""

import doctest
import math
import sys
import types

import numpy as np
import pytest
import sympy

from gradgen import sympy_shim
from gradgen.errors import GradgenError, InvalidArgumentError
from gradgen.sympy_bridge import (
    CheckReport,
    SymbolicEvaluationError,
    check,
    compare_partial,
    symbolic_forward,
    symbolic_status,
    values_agree,
)
from tests import sample_functions

NEURON_POINT = (2.0, -1.0, -3.0, -2.0, -3.0)
NEURON_GRADIENT = (
    -0.19661193324148185,
    0.3932238664829637,
    -0.3932238664829637,
    -0.5898357997244456,
    0.19661193324148185,
)
NEURON_PARAMETERS = ("w0", "x0", "w1", "x1", "w2")


def real_symbols(names: str):
    return sympy.symbols(names, real=True)


# --- running the forward on symbols ------------------------------------------------------------


def test_math_through_a_module_alias_becomes_sympy():
    x, y = real_symbols("x y")
    expected = sympy.exp(x * y) + sympy.log(x)
    assert symbolic_forward(sample_functions.through_module_alias) == expected


def test_a_function_imported_under_another_name_becomes_sympy():
    (x,) = real_symbols("x,")
    assert symbolic_forward(sample_functions.through_imported_name) == sympy.exp(2 * x)


def test_numpy_functions_become_sympy():
    (x,) = real_symbols("x,")
    expected = sympy.log(1 + sympy.exp(x)) + sympy.Max(x, 0)
    assert symbolic_forward(sample_functions.through_numpy) == expected


def test_helper_functions_are_followed():
    w0, x0, w1, x1, w2 = real_symbols("w0 x0 w1 x1 w2")
    expected = 1 / (1 + sympy.exp(-(w0 * x0 + w1 * x1 + w2)))
    assert sympy.simplify(symbolic_forward(sample_functions.neuron) - expected) == 0


def test_builtin_abs_min_max_work_on_symbols():
    x, y = real_symbols("x y")
    expected = sympy.Abs(x) + sympy.Max(x, y) + sympy.Min(x, 2 * y)
    assert symbolic_forward(sample_functions.with_builtins) == expected


def test_an_import_inside_the_body_binds_the_stand_in():
    (x,) = real_symbols("x,")
    assert symbolic_forward(sample_functions.imports_inside) == sympy.sqrt(x) * sympy.tanh(x)


def test_closures_are_followed():
    (x,) = real_symbols("x,")
    expected = 3 * sympy.exp(x) / (1 + sympy.exp(-x))
    assert sympy.simplify(symbolic_forward(sample_functions.scaled_exp) - expected) == 0


def test_the_users_module_is_left_untouched():
    symbolic_forward(sample_functions.neuron)
    assert sample_functions.math is math
    assert sample_functions.sigmoid.__globals__ is vars(sample_functions)
    assert sample_functions.neuron(*NEURON_POINT) == pytest.approx(1 / (1 + math.exp(-1.0)))


def test_a_branch_on_a_symbol_is_an_error_pointing_at_the_line():
    with pytest.raises(SymbolicEvaluationError) as raised:
        symbolic_forward(sample_functions.branches_on_value)
    assert isinstance(raised.value, GradgenError)
    assert raised.value.location.filename == sample_functions.__file__
    assert raised.value.location.source_line.strip() == "if x > 0:"
    assert "cannot build branches_on_value symbolically" in str(raised.value)


def test_a_math_function_without_sympy_equivalent_is_named():
    with pytest.raises(SymbolicEvaluationError, match="math.factorial has no sympy equivalent"):
        symbolic_forward(sample_functions.uses_factorial)


def test_docstring_examples():
    assert doctest.testmod(sympy_shim).failed == 0


# --- comparing partials ------------------------------------------------------------------------


def neuron_partials():
    w0, x0, w1, x1, w2 = symbols = real_symbols("w0 x0 w1 x1 w2")
    forward = symbolic_forward(sample_functions.neuron)
    point = dict(zip(symbols, NEURON_POINT))
    return [sympy.diff(forward, symbol) for symbol in symbols], point


def test_sympy_derivatives_of_the_neuron_match_the_lecture():
    derivatives, point = neuron_partials()
    for name, derivative, known in zip(NEURON_PARAMETERS, derivatives, NEURON_GRADIENT):
        partial = compare_partial(name, known, derivative, point)
        assert partial.sympy_value == pytest.approx(known, rel=1e-15)
        assert partial.ok
        assert partial.symbolic_status == "undecided"  # no gradgen expression given


def test_a_wrong_value_is_a_mismatch():
    derivatives, point = neuron_partials()
    partial = compare_partial("w0", NEURON_GRADIENT[0] * (1 + 1e-6), derivatives[0], point)
    assert not partial.ok


def test_values_agree_within_tolerance_and_nan_agrees_with_nan():
    assert values_agree(1.0, 1.0 + 1e-12)
    assert values_agree(0.0, 1e-13)
    assert not values_agree(1.0, 1.0 + 1e-8)
    assert values_agree(math.nan, math.nan)
    assert not values_agree(math.nan, 0.0)
    assert values_agree(math.inf, math.inf)


def test_equal_expressions_in_different_forms_are_symbolically_equal():
    (s,) = real_symbols("s,")
    sigmoid = 1 / (1 + sympy.exp(-s))
    assert symbolic_status(sympy.diff(sigmoid, s), sigmoid * (1 - sigmoid)) == "equal"
    assert symbolic_status(sympy.diff(sigmoid, s), sigmoid * (1 + sigmoid)) == "different"
    assert symbolic_status(sympy.diff(sigmoid, s), None) == "undecided"


def test_a_symbolically_different_gradient_fails_even_if_the_value_agrees():
    (x,) = real_symbols("x,")
    # x**2 and 2*x agree at x = 2 but are different derivatives of x**2.
    partial = compare_partial("x", 4.0, sympy.diff(x**2, x), {x: 2.0}, gradgen_expression=x**2)
    assert partial.symbolic_status == "different"
    assert not partial.ok


def test_step_functions_are_equal_whatever_their_value_at_the_kink():
    x, y = real_symbols("x y")
    at_tie_one = sympy.Heaviside(x - y, 1)
    assert symbolic_status(sympy.diff(sympy.Max(x, y), x), at_tie_one) == "equal"
    assert symbolic_status(sympy.diff(sympy.Max(x, y), x), sympy.Heaviside(y - x, 1)) == "different"


def test_a_mismatch_on_a_kink_says_so():
    x, y = real_symbols("x y")
    derivative = sympy.diff(sympy.Max(x, y), x)  # Heaviside(x - y): 1/2 at x == y
    partial = compare_partial("x", 1.0, derivative, {x: 2.0, y: 2.0}, sympy.Heaviside(x - y, 1))
    assert (partial.ok, partial.on_a_kink, partial.symbolic_status) == (False, True, "equal")
    report = CheckReport("maximum", ("x", "y"), (2.0, 2.0), (partial,))
    assert "on a kink, where sympy takes Heaviside(0) = 1/2" in str(report)
    away = compare_partial("x", 1.0, derivative, {x: 3.0, y: 2.0})
    assert (away.ok, away.on_a_kink) == (True, False)


def test_a_derivative_that_is_not_real_at_the_point_evaluates_to_nan():
    (x,) = real_symbols("x,")
    partial = compare_partial("x", math.nan, sympy.diff(sympy.sqrt(x), x), {x: -1.0})
    assert math.isnan(partial.sympy_value)
    assert partial.ok


# --- the report --------------------------------------------------------------------------------


def neuron_report(gradgen_values) -> CheckReport:
    derivatives, point = neuron_partials()
    partials = tuple(
        compare_partial(name, value, derivative, point)
        for name, value, derivative in zip(NEURON_PARAMETERS, gradgen_values, derivatives)
    )
    return CheckReport("neuron", NEURON_PARAMETERS, NEURON_POINT, partials)


def test_the_report_lists_every_partial_side_by_side():
    text = str(neuron_report(NEURON_GRADIENT))
    lines = text.splitlines()
    assert lines[0] == "check neuron(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)"
    for name, value in zip(NEURON_PARAMETERS, NEURON_GRADIENT):
        row = next(line for line in lines if line.split()[0] == name)
        assert row.split()[1:3] == [repr(value), repr(value)]
        assert row.split()[-1] == "ok"
        assert f"d/d{name} = " in text
    assert lines[-1] == "ok: all 5 partials agree"


def test_the_report_of_a_wrong_gradient_says_mismatch():
    wrong = list(NEURON_GRADIENT)
    wrong[1] = -wrong[1]
    report = neuron_report(wrong)
    assert not report.ok
    assert [p.name for p in report.partials if not p.ok] == ["x0"]
    last_line = str(report).splitlines()[-1]
    assert last_line.startswith("MISMATCH: x0 (gradgen -0.39322386648296")
    assert "w0" not in last_line


# --- check() end to end, with a hand-written gradient standing in for gradgen's ----------------

FLAT_NEURON_BACKWARD = """
import math

def neuron_backward(w0, x0, w1, x1, w2):
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = 1.0 / (1.0 + math.exp(-s3))
    grad_L = 1.0
    grad_s3 = grad_L * (1 - L) * L
    grad_w2 = grad_s3
    grad_s2 = grad_s3
    grad_s0 = grad_s2
    grad_s1 = grad_s2
    grad_w1 = grad_s1 * x1
    grad_x1 = grad_s1 * w1
    grad_w0 = grad_s0 * x0
    grad_x0 = grad_s0 * w0
    return grad_w0, grad_x0, grad_w1, grad_x1, grad_w2
"""


@pytest.fixture
def hand_written_grad(monkeypatch):
    """Makes gradgen.api.grad return the given backward source, compiled, for any function."""

    def install(source: str) -> None:
        def grad(f, wrt=0, *, optimize=True, has_aux=False):
            namespace: dict = {}
            exec(compile(source, "<hand-written>", "exec"), namespace)
            backward = namespace[f"{f.__name__}_backward"]
            backward.source, backward.forward, backward.wrt = source, f, tuple(wrt)
            return backward

        monkeypatch.setitem(sys.modules, "gradgen.api", types.SimpleNamespace(grad=grad))

    return install


def test_check_accepts_the_lectures_flat_code(hand_written_grad):
    hand_written_grad(FLAT_NEURON_BACKWARD)
    report = check(sample_functions.neuron, *NEURON_POINT)
    assert report.ok
    assert [p.symbolic_status for p in report.partials] == ["equal"] * 5
    assert [p.gradgen_value for p in report.partials] == pytest.approx(NEURON_GRADIENT)


def test_check_catches_swapped_operands(hand_written_grad):
    hand_written_grad(FLAT_NEURON_BACKWARD.replace("grad_s0 * w0", "grad_s0 * x0"))
    report = check(sample_functions.neuron, *NEURON_POINT)
    assert not report.ok
    failed = [p for p in report.partials if not p.ok]
    assert [p.name for p in failed] == ["x0"]
    assert failed[0].symbolic_status == "different"
    assert "MISMATCH: x0" in str(report)


def test_comparisons_used_as_numbers_become_step_functions(hand_written_grad):
    # Routing max/min adjoints with `grad * (a >= b)`, as gradgen's emitter does.
    hand_written_grad(
        """
def with_builtins_backward(x, y):
    t0 = 2.0 * y
    grad_x = 1.0 * (x <= t0) + 1.0 * (x >= y) + (1.0 if x > 0 else -1.0) * 1.0
    grad_y = 1.0 * (t0 < x) * 2.0 + 1.0 * (y > x)
    return grad_x, grad_y
"""
    )
    report = check(sample_functions.with_builtins, 0.5, 2.0)
    assert report.ok
    # The branch on x > 0 (for abs) cannot run on symbols, so the check stays numeric.
    assert [p.symbolic_status for p in report.partials] == ["undecided"] * 2


def test_check_falls_back_to_numbers_when_the_backward_branches(hand_written_grad):
    # sympy cannot decide the sign of s3, so running this on symbols raises.
    branching = "    grad_L = 1.0 if s3 > 0 else 1.0\n"
    hand_written_grad(FLAT_NEURON_BACKWARD.replace("    grad_L = 1.0\n", branching))
    report = check(sample_functions.neuron, *NEURON_POINT)
    assert report.ok
    assert [p.symbolic_status for p in report.partials] == ["undecided"] * 5


# --- check() argument errors (raised before gradgen is called) ---------------------------------


def test_check_wants_one_value_per_parameter():
    with pytest.raises(InvalidArgumentError, match="got 2 values for 5 parameters"):
        check(sample_functions.neuron, 1.0, 2.0)


def test_check_refuses_arrays_for_now():
    with pytest.raises(InvalidArgumentError, match="not yet supported"):
        check(sample_functions.softplus, np.array([1.0, 2.0]))


@pytest.mark.parametrize("wrt", ["z", 5, ("w0", "w0"), ()])
def test_check_refuses_a_bad_wrt(wrt):
    with pytest.raises(InvalidArgumentError):
        check(sample_functions.neuron, *NEURON_POINT, wrt=wrt)


def test_check_refuses_a_function_that_cannot_run_on_symbols():
    with pytest.raises(SymbolicEvaluationError):
        check(sample_functions.branches_on_value, 1.0)


# --- check() with gradgen's own grad (needs the compiler core) ---------------------------------


def test_gradgen_matches_sympy_on_the_neuron():
    report = check(sample_functions.neuron, *NEURON_POINT)
    assert report.ok, str(report)
    assert [p.symbolic_status for p in report.partials] == ["equal"] * 5
    assert [p.gradgen_value for p in report.partials] == pytest.approx(NEURON_GRADIENT, rel=1e-12)
    for name in NEURON_PARAMETERS:
        assert name in str(report)


@pytest.mark.parametrize(
    "function, point",
    [
        (sample_functions.lecture_quiz, (1.5, 0.3)),
        (sample_functions.cos_of_sin, (0.7,)),
        (sample_functions.softplus, (-0.4,)),
        (sample_functions.through_module_alias, (1.2, -0.5)),
        (sample_functions.through_numpy, (0.3,)),
        (sample_functions.with_builtins, (-0.7, 0.4)),
    ],
)
def test_gradgen_matches_sympy_on_sample_functions(function, point):
    report = check(function, *point)
    assert report.ok, str(report)
    assert all(p.symbolic_status == "equal" for p in report.partials), str(report)


def test_check_can_differentiate_a_subset_of_parameters():
    report = check(sample_functions.neuron, *NEURON_POINT, wrt=("x1", 0))
    assert [p.name for p in report.partials] == ["x1", "w0"]
    assert report.ok, str(report)


def test_check_docstring_example():
    from gradgen import sympy_bridge

    assert doctest.testmod(sympy_bridge).failed == 0
