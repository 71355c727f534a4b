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

from gradgen import sympy_arrays, sympy_shim, sympy_stand_ins
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
    # The backward's branch on x > 0 (for abs) is decided at the point, so its d/dx (1.0) holds
    # on this path only: it cannot be shown equal to sympy's sign(x), nor different from it.
    assert [p.symbolic_status for p in report.partials] == ["undecided", "equal"]


def test_check_falls_back_to_numbers_when_the_backward_branches(hand_written_grad):
    # float() of a symbol raises, so the backward cannot run on symbols.
    unrunnable = "    grad_L = 1.0 + 0.0 * float(s3)\n"
    hand_written_grad(FLAT_NEURON_BACKWARD.replace("    grad_L = 1.0\n", unrunnable))
    report = check(sample_functions.neuron, *NEURON_POINT)
    assert report.ok
    assert [p.symbolic_status for p in report.partials] == ["undecided"] * 5


# --- check() argument errors (raised before gradgen is called) ---------------------------------


def test_check_wants_one_value_per_parameter():
    with pytest.raises(InvalidArgumentError, match="got 2 values for 5 parameters"):
        check(sample_functions.neuron, 1.0, 2.0)


def test_check_refuses_math_on_an_array_as_python_does():
    with pytest.raises(SymbolicEvaluationError, match="math.exp takes numbers, not arrays"):
        check(sample_functions.math_on_an_array, np.array([1.0, 2.0]))


@pytest.mark.parametrize(
    "argument, message",
    [
        ([1.0, 2.0], "pass arrays as numpy arrays"),
        (np.array(["a"]), "needs a non-empty array of real numbers"),
        (np.zeros(300), "takes at most 256"),
    ],
)
def test_check_refuses_arrays_it_cannot_use(argument, message):
    with pytest.raises(InvalidArgumentError, match=message):
        check(sample_functions.array_output, argument)


def test_an_array_output_cannot_be_checked():
    with pytest.raises(SymbolicEvaluationError, match=r"array of shape \(2,\).*a scalar is required"):
        check(sample_functions.array_output, np.array([1.0, 2.0]))


@pytest.mark.parametrize("wrt", ["z", 5, ("w0", "w0"), ()])
def test_check_refuses_a_bad_wrt(wrt):
    with pytest.raises(InvalidArgumentError):
        check(sample_functions.neuron, *NEURON_POINT, wrt=wrt)


def test_check_refuses_a_function_that_cannot_run_on_symbols():
    with pytest.raises(SymbolicEvaluationError, match="math.factorial has no sympy equivalent"):
        check(sample_functions.uses_factorial, 3.0)


def test_check_refuses_an_oracle_that_leaves_the_points_path():
    # sympy's == is structural: x == 0.5 is False for a symbol, so sympy would take the other
    # branch than f does at x = 0.5 and check a different function.
    with pytest.raises(SymbolicEvaluationError, match="f itself returns 0.25|branches_on_equality itself returns 0.25"):
        check(sample_functions.branches_on_equality, 0.5)
    assert check(sample_functions.branches_on_equality, 0.7).ok  # the path sympy takes anyway


@pytest.mark.parametrize("x", [1.5, -1.5])
def test_check_follows_the_branch_the_point_takes(x):
    report = check(sample_functions.branches_on_value, x)
    assert report.ok, str(report)
    assert report.partials[0].sympy_value == (1.0 if x > 0 else -1.0)
    assert report.branches == 1
    assert "branches: 1 condition decided at this point" in str(report)


def test_check_on_loops_and_nested_branches_matches_the_path_taken():
    for point in [(0.7, 1.3), (-0.7, 1.3), (-0.7, -1.3), (2.5, 0.1)]:
        report = check(sample_functions.halving_with_branches, *point)
        assert report.ok, str(report)
        assert report.branches >= 2
        assert [p.symbolic_status for p in report.partials] == ["equal", "equal"]


def test_check_catches_a_wrong_gradient_on_one_branch(hand_written_grad):
    hand_written_grad(
        """
def branches_on_value_backward(x):
    return 1.0 if x > 0 else 1.0
"""
    )
    assert check(sample_functions.branches_on_value, 2.0).ok
    report = check(sample_functions.branches_on_value, -2.0)
    assert not report.ok
    assert "MISMATCH: x" in str(report)


def test_array_branches_are_decided_at_the_point():
    w = np.array([0.5, -1.0, 2.0])
    for scale in (1.0, -1.0):
        report = check(sample_functions.branches_on_an_array_sum, scale * w)
        assert report.ok, str(report)
        assert report.branches == 1


def test_sympy_relations_are_undecidable_again_after_a_check():
    check(sample_functions.branches_on_value, 1.5)
    x = sympy.Symbol("x", real=True)
    with pytest.raises(TypeError):
        bool(x > 0)


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


# --- check() on numpy functions, at small concrete shapes --------------------------------------

RNG = np.random.default_rng(4)
W23, X3 = RNG.normal(size=(2, 3)), RNG.normal(size=3)


def test_numpy_elementwise_functions_map_over_symbol_arrays():
    x = sympy_arrays.symbol_array("x", (2,))
    assert list(sympy_stand_ins.NUMPY_SHIM.exp(x)) == [sympy.exp(x[0]), sympy.exp(x[1])]
    assert list(sympy_stand_ins.NUMPY_SHIM.maximum(x, 0)) == [sympy.Max(x[0], 0), sympy.Max(x[1], 0)]
    assert sympy_stand_ins.NUMPY_SHIM.max(x) == sympy.Max(x[0], x[1])
    assert sympy_stand_ins.NUMPY_SHIM.tanh(x[0]) == sympy.tanh(x[0])  # scalars as before


def test_the_norm_of_w_x_squared_has_gradient_2_q_x_transposed():
    report = check(sample_functions.squared_norm_of_product, W23, X3)
    assert report.ok, str(report)
    (w_check, x_check) = report.arrays
    assert (w_check.name, w_check.shape, len(w_check.elements)) == ("W", (2, 3), 6)
    q = W23 @ X3
    expected = 2 * np.outer(q, X3)
    assert [p.sympy_value for p in w_check.elements] == pytest.approx(expected.ravel(), rel=1e-12)
    assert [p.name for p in w_check.elements][:2] == ["W[0, 0]", "W[0, 1]"]
    assert all(p.symbolic_status == "equal" for p in report.partials), str(report)


def test_softmax_regression_at_small_shapes():
    W, x, b = RNG.normal(size=(3, 2)), RNG.normal(size=2), RNG.normal(size=3)
    t = np.array([0.2, 0.5, 0.3])
    report = check(sample_functions.softmax_regression, W, x, b, t, wrt=("W", "b"))
    assert report.ok, str(report)
    assert [(a.name, a.shape) for a in report.arrays] == [("W", (3, 2)), ("b", (3,))]
    z = W @ x + b
    y = np.exp(z) / np.sum(np.exp(z))
    assert [p.sympy_value for p in report.arrays[1].elements] == pytest.approx(y - t, rel=1e-9)


def test_the_two_layer_relu_net_away_from_kinks():
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])
    W1 = np.array([[0.4, -0.2], [0.1, 0.3], [-0.5, 0.6]])
    W2 = np.array([[0.7], [-1.2]])
    y = np.array([[0.3], [-0.4]])
    assert np.all(np.abs(x @ W1) > 0.05)  # no unit sits on its kink
    report = check(sample_functions.two_layer_relu_net, x, W1, W2, y, wrt=("W1", "W2"))
    assert report.ok, str(report)
    assert not any(p.on_a_kink for p in report.partials)
    assert all(p.symbolic_status == "equal" for p in report.partials), str(report)


def test_a_broadcast_argument_gets_its_gradient_summed_back():
    c, r = np.array([[0.1], [-0.4], [0.9]]), np.array([[0.3, -0.2]])
    report = check(sample_functions.broadcast_outer_sum, c, r)
    assert report.ok, str(report)
    assert [(a.name, a.shape) for a in report.arrays] == [("c", (3, 1)), ("r", (1, 2))]
    text = str(report)
    assert "c: shape (3, 1), 3 elements compared, max |gradgen - sympy| " in text
    assert "r[0, 1]" in text and text.splitlines()[-1] == "ok: all 5 partials agree"


def test_a_large_array_gets_a_summary_and_no_rows():
    W, x = RNG.normal(size=(4, 4)), RNG.normal(size=4)
    report = check(sample_functions.squared_norm_of_product, W, x)
    assert report.ok, str(report)
    assert {p.symbolic_status for p in report.arrays[0].elements} == {"undecided"}
    text = str(report)
    assert "W: shape (4, 4), 16 elements compared" in text
    assert "W[0, 0]" not in text.split("arrays:")[0] and "x[3]" in text


def test_a_wrong_array_gradient_is_a_mismatch(monkeypatch):
    import gradgen.api

    real_grad = gradgen.api.grad

    def wrong_grad(f, wrt=0, **options):
        gradient = real_grad(f, wrt=wrt, **options)

        def off_by_one_element(*args):
            (grad_W,) = gradient(*args)
            grad_W = grad_W.copy()
            grad_W[1, 2] += 1e-3
            return (grad_W,)

        # Its symbolic form is wrong too: 2 W instead of 2 (W x) x^T.
        off_by_one_element.source = "def grad_wrong(W, x):\n    return (2 * W,)\n"
        return off_by_one_element

    monkeypatch.setattr(gradgen.api, "grad", wrong_grad)
    report = check(sample_functions.squared_norm_of_product, W23, X3, wrt="W")
    assert not report.ok
    (array,) = report.arrays
    assert [p.name for p in array.elements if not values_agree(p.gradgen_value, p.sympy_value)] == [
        "W[1, 2]"
    ]
    assert array.worst.name == "W[1, 2]"
    assert array.max_abs_difference == pytest.approx(1e-3, rel=1e-6)
    assert all(p.symbolic_status == "different" for p in array.elements)
    text = str(report)
    assert "W: shape (2, 3), 6 elements compared" in text and ": MISMATCH" in text
    assert text.splitlines()[-1].startswith("MISMATCH: W[0, 0] (symbolically different)")
