"""User-style functions that gradgen must refuse, each with a marked offending line.

A line ending in ``# <- error TAG`` is where the diagnostic for the test tagged TAG must point;
``# <- error TAG at SNIPPET`` also says the caret goes under the first occurrence of SNIPPET on
that line (without it, under the first non-blank character). ``tests/test_errors.py`` finds the
expected line and column by searching this file, so functions can be moved or edited freely.
Nothing here is meant to be run.
"""

# ruff: noqa
import math

import numpy as np

GLOBAL_ARRAY = np.ones(3)
SCALE = 2.0
WEIGHTS = {"a": 1.0}


# -- statements -----------------------------------------------------------------------------


def assigned_in_one_branch(x):
    if x > 0:
        y = x * 2.0
    return y  # <- error assigned_in_one_branch at y


def returns_on_one_path(x):
    y = x * 2.0
    if y > 0:  # <- error returns_on_one_path
        return y


def return_inside_branch_of_branch(x):
    if x > 0:
        if x > 1:
            return x  # <- error return_inside_branch_of_branch
        x = x * 2.0
    return x


def branches_return_different_counts(x):
    if x > 0:
        return x, x
    return x  # <- error branches_return_different_counts


def loop_over_dict(x):
    s = 0.0
    for key in {"a": x, "b": 2.0}:  # <- error loop_over_dict at {
        s = s + x
    return s


def loop_over_global_dict(x):
    s = 0.0
    for key in WEIGHTS:  # <- error loop_over_global_dict at WEIGHTS
        s = s + x
    return s


def loop_over_set(x):
    s = 0.0
    for v in {x, 2.0}:  # <- error loop_over_set at {
        s = s + v
    return s


def loop_over_string(x):
    s = 0.0
    for c in "abc":  # <- error loop_over_string at "abc"
        s = s + x
    return s


def loop_over_generator(x):
    s = 0.0
    for v in (x * i for i in range(3)):  # <- error loop_over_generator at (x
        s = s + v
    return s


def loop_over_number(x):
    s = 0.0
    for v in 3.0:  # <- error loop_over_number at 3.0
        s = s + v * x
    return s


def zip_strict(x, y):
    s = 0.0
    for a, b in zip(x, y, strict=True):  # <- error zip_strict at True
        s = s + a * b
    return s


def break_with_zero_step(x):
    s = 0.0
    for i in range(0, 10, 0):  # <- error break_with_zero_step at range
        s = s + x
        if s > 1.0:
            break
    return s


def loop_with_else(x):
    s = 0.0
    for i in range(3):
        s = s + x
    else:
        s = s * 2.0  # <- error loop_with_else
    return s


def return_inside_loop(x):
    for i in range(3):
        x = x * 2.0
        if x > 10.0:
            return x  # <- error return_inside_loop
    return x


def bound_only_in_loop(x):
    for i in range(3):
        y = x * i
    return y  # <- error bound_only_in_loop at y


def loop_over_float_range(x):
    s = 0.0
    for i in range(3.0):  # <- error loop_over_float_range at 3.0
        s = s + x
    return s


def while_true(x):
    while True:  # <- error while_true at True
        x = x / 2.0
    return x


def while_with_else(x):
    while x > 1.0:
        x = x / 2.0
    else:
        x = x * 3.0  # <- error while_with_else
    return x


def while_changing_nothing(x):
    y = x
    while x > 1.0:  # <- error while_changing_nothing
        z = x / 2.0
    return y


def uses_try(x):
    try:  # <- error uses_try
        y = math.log(x)
    except ValueError:
        y = 0.0
    return y


def uses_with(x):
    with open("/dev/null") as handle:  # <- error uses_with
        y = x * 2.0
    return y


def uses_raise(x):
    y = x * 2.0
    raise ValueError("no")  # <- error uses_raise
    return y


def uses_global(x):
    global SCALE  # <- error uses_global
    return SCALE * x


def _make_uses_nonlocal():
    factor = 2.0

    def uses_nonlocal(x):
        nonlocal factor  # <- error uses_nonlocal
        return factor * x

    return uses_nonlocal


uses_nonlocal = _make_uses_nonlocal()


def uses_del(x):
    y = x * 2.0
    del y  # <- error uses_del
    return x


def defines_nested_function(x):
    def inner(t):  # <- error defines_nested_function
        return t * 2.0

    return inner(x)


def defines_class(x):
    class Box:  # <- error defines_class
        pass

    return x


def item_assignment(x, v):
    x[0] = v  # <- error item_assignment
    return np.sum(x)


def item_augmented_assignment(x, v):
    x[0] += v  # <- error item_augmented_assignment
    return np.sum(x)


def item_write_into_view_of_argument(x, v):
    rest = x[1:]
    rest[0] = v  # <- error item_write_into_view_of_argument
    return np.sum(rest)


def item_write_through_view(x):
    H = np.zeros(3)
    tail = H[1:]
    tail[0] = x  # <- error item_write_through_view
    return np.sum(H)


def indexes_a_number(x):
    return SCALE[0] * x  # <- error indexes_a_number at SCALE[0]


def stale_view_read(x):
    H = np.zeros(3)
    head = H[0:2]
    H[0] = x
    return np.sum(head)  # <- error stale_view_read at head)


def stale_alias_read(x):
    H = np.zeros(3)
    same = H
    H[1] = x
    return np.sum(same * x)  # <- error stale_alias_read at same *


def stale_view_in_loop(x):
    H = np.ones(3)
    first = H[0]
    for i in range(3):
        H[i] = x * first  # <- error stale_view_in_loop at first
    return np.sum(H)


def _fill_first(H, x):
    H[0] = x  # <- error helper_writes_into_its_parameter
    return H


def helper_writes_into_its_parameter(x):
    H = np.zeros(3)
    return np.sum(_fill_first(H, x))


def item_write_nested_subscript(x):
    H = np.zeros((2, 2))
    H[0][1] = x  # <- error item_write_nested_subscript
    return np.sum(H)


def item_write_into_number(x):
    total = 0.0
    total[0] = x  # <- error item_write_into_number
    return total


def item_write_with_index_list(x, n):
    H = np.zeros(3)
    H[[0, n]] += x  # <- error item_write_with_index_list at [0, n]
    return np.sum(H)


def attribute_assignment(x):
    x.value = 2.0  # <- error attribute_assignment
    return x


def attribute_augmented_assignment(x):
    x.value += 2.0  # <- error attribute_augmented_assignment
    return x


def starred_assignment(x, y):
    a, *rest = x, y  # <- error starred_assignment at *rest
    return a


def code_after_return(x):
    return x * 2.0
    y = x + 1.0  # <- error code_after_return


def returns_nothing(x):
    y = x * 2.0  # <- error returns_nothing


def bare_return(x):
    y = x * 2.0
    return  # <- error bare_return


def returns_tuple(x):
    y = x * 2.0
    return y, x  # <- error returns_tuple


def returns_scalar_only(x):
    return x * 2.0  # <- error returns_scalar_only


def returns_triple(x):
    return x * 2.0, x, x  # <- error returns_triple


# -- expressions ----------------------------------------------------------------------------


def lambda_expression(x):
    double = lambda t: t * 2.0  # <- error lambda_expression at lambda
    return double(x)


def conditional_with_and(x):
    return x if x > 0 and x < 1.0 else -x  # <- error conditional_with_and at x > 0 and


def list_comprehension(x):
    return sum([x * i for i in range(3)])  # <- error list_comprehension at [x


def generator_expression(x):
    return sum(x * i for i in range(3))  # <- error generator_expression at (x * i || x * i


def uses_yield(x):
    yield x * 2.0  # <- error uses_yield at yield


def f_string(x):
    label = f"x={x}"  # <- error f_string at f"
    return x


def walrus(x):
    y = (z := x * 2.0) + 1.0  # <- error walrus at z :=
    return y


def starred_call(x):
    args = (x,)
    return math.exp(*args)  # <- error starred_call at *args


def starred_in_tuple(x, y):
    pair = (*x, y)  # <- error starred_in_tuple at *x
    return y


def floor_division(x, y):
    return x + x // y  # <- error floor_division at x // y


def modulo(x, y):
    return x % y  # <- error modulo at x % y


def bit_and(x, y):
    return 1.0 + (x & y)  # <- error bit_and at x & y


def bit_or(x, y):
    return x | y  # <- error bit_or at x | y


def bit_xor(x, y):
    return x ^ y  # <- error bit_xor at x ^ y


def left_shift(x, y):
    return x << y  # <- error left_shift at x << y


def invert(x):
    return ~x  # <- error invert at ~x


def logical_not(x):
    return x * (not x)  # <- error logical_not at not x


def logical_and(x, y):
    return x * (x and y)  # <- error logical_and at x and y


def logical_or(x, y):
    return x * (x or y)  # <- error logical_or at x or y


def chained_comparison(x, y):
    return x * (0.0 < x < y)  # <- error chained_comparison at 0.0 <


def membership_test(x, y):
    return x * (x in (1.0, 2.0))  # <- error membership_test at x in


def fancy_index(x, n):
    return np.sum(x[[0, n]])  # <- error fancy_index at [0, n]


def whole_shape(x):
    return np.sum(np.zeros(x.shape) + x)  # <- error whole_shape at x.shape


def complex_literal(x):
    return x * 2j  # <- error complex_literal at 2j


def list_display(x, y):
    return np.sum([x, y])  # <- error list_display at [x, y]


def dict_display(x):
    d = {"x": x}  # <- error dict_display at {
    return x


def string_as_number(x):
    return x * "two"  # <- error string_as_number at x * "two" || "two"


def module_as_number(x):
    return x * math  # <- error module_as_number at x * math


def unknown_attribute_on_value(x):
    return x.real * 2.0  # <- error unknown_attribute_on_value at x.real


def missing_module_attribute(x):
    return math.no_such_function(x)  # <- error missing_module_attribute at math.no_such


# -- names and calls ------------------------------------------------------------------------


class Affine:
    def __init__(self, x):
        self.x = x


def math_gamma(x):
    return math.gamma(x) * 2.0  # <- error math_gamma at math.gamma


def numpy_cumsum(x):
    return np.sum(np.cumsum(x))  # <- error numpy_cumsum at np.cumsum


def builtin_round(x):
    return x * round(x)  # <- error builtin_round at round


def builtin_print_in_expression(x):
    return x + print(x)  # <- error builtin_print_in_expression at print


def class_instantiation(x):
    box = Affine(x)  # <- error class_instantiation at Affine
    return x


def unknown_method(x):
    return x.cumsum()  # <- error unknown_method at x.cumsum


def unknown_name(x):
    return x * undefined_thing  # <- error unknown_name at undefined_thing


def used_before_assignment(x):
    y = x * later  # <- error used_before_assignment at later
    later = 2.0
    return y


def failing_import(x):
    import no_such_module_for_gradgen  # <- error failing_import

    return x


def _recursive_helper(x):
    return _recursive_helper(x * 0.5)  # <- error recursive_helper at _recursive_helper(x * 0.5)


def recursive_helper(x):
    return _recursive_helper(x)


def _star_args_helper(*parts):  # <- error star_args_helper at parts
    return parts


def star_args_helper(x):
    return _star_args_helper(x)


def _kwargs_helper(x, **options):  # <- error kwargs_helper at options
    return x


def kwargs_helper(x):
    return _kwargs_helper(x)


def _helper_with_loop(t):
    with open("/dev/null"):  # <- error error_inside_helper
        t = t / 2.0
    return t


def error_inside_helper(x):
    return _helper_with_loop(x) + 1.0


_exec_namespace: dict = {}
exec("def _exec_helper(t):\n    return t * 2.0\n", _exec_namespace)
_exec_helper = _exec_namespace["_exec_helper"]


def helper_without_source(x):
    return _exec_helper(x) + 1.0  # <- error helper_without_source at _exec_helper


def helper_wrong_arity(x):
    return _recursive_helper(x, x)  # <- error helper_wrong_arity at _recursive_helper(x, x)


def star_args_function(*xs):  # <- error star_args_function at xs
    return xs


def kwargs_function(x, **options):  # <- error kwargs_function at options
    return x


def global_array(x):
    return np.sum(x * GLOBAL_ARRAY)  # <- error global_array at GLOBAL_ARRAY


def out_keyword(x, y):
    return np.sum(np.exp(x, out=y))  # <- error out_keyword at np.exp(


def non_constant_axis(x, a):
    return np.sum(np.sum(x, axis=a))  # <- error non_constant_axis at np.sum(x


def wrong_arity_primitive(x):
    return math.exp(x, x)  # <- error wrong_arity_primitive at math.exp


# -- where the function lives: indented and decorated definitions --------------------------


def _make_nested():
    def nested_loop(x):
        with open("/dev/null"):  # <- error nested_loop
            x = x / 2.0
        return x

    def nested_deep(x):
        return x + (x // 2.0)  # <- error nested_deep at x // 2.0

    return nested_loop, nested_deep


nested_loop, nested_deep = _make_nested()


def _identity_decorator(function):
    return function


class Model:
    @staticmethod
    def static_loss(x):
        return math.gamma(x)  # <- error static_loss at math.gamma

    @staticmethod
    @_identity_decorator
    def twice_decorated(x):
        y = x % 3.0  # <- error twice_decorated at x % 3.0
        return y

    def method(self, x):
        return x * 2.0

    def __call__(self, x):
        return x * 2.0


@_identity_decorator
def decorated_at_top(x):
    return x // 2.0  # <- error decorated_at_top at x // 2.0


def unicode_before_error(x):
    café = x * 2.0
    return café + café // 2.0  # <- error unicode_before_error at café // 2.0


def one_line_def(x): return x // 2  # <- error one_line_def at x // 2


def multi_line_expression(x):
    y = (x +
         x % 2.0)  # <- error multi_line_expression at x % 2.0
    return y


def stale_view_after_augmented_assignment(x):
    H = np.zeros(3)
    head = H[0:2]
    H += x
    return np.sum(head * x[:2])  # <- error stale_view_after_augmented_assignment at head *
