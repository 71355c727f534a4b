"""Errors are part of the interface: what gradgen refuses, where it says so, and what it suggests.

Every construct outside the supported subset must raise a ``GradgenError`` subclass at
``grad()`` time. Its message names ``file:line:column`` (line of the file, 1-based column),
shows the source line with a caret under the offending construct, and says what is
supported. The offending functions live in ``tests/bad_functions.py``; each marks its
offending line with ``# <- error TAG [at SNIPPET]`` and the tests below look the expected
line and column up there.
"""

from __future__ import annotations

import inspect
import math
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import gradgen
from gradgen import (
    GradgenError,
    InvalidArgumentError,
    NonScalarOutputError,
    SourceUnavailableError,
    UnknownFunctionError,
    UnknownNameError,
    UnsupportedSyntaxError,
)
from tests import bad_functions as bad

BAD_FILE = Path(bad.__file__)
_BAD_LINES = BAD_FILE.read_text(encoding="utf-8").splitlines()
_MARKER = re.compile(r"#\s*<- error (\w+)(?: at (.+?))?\s*$")


def _markers() -> list[tuple[int, str, str, str | None]]:
    """(line, code before the comment, tag, snippet) for each marker comment in bad_functions.py."""
    found = []
    with open(BAD_FILE, encoding="utf-8") as handle:
        for token in tokenize.generate_tokens(handle.readline):
            match = _MARKER.fullmatch(token.string) if token.type == tokenize.COMMENT else None
            if match:
                line, column = token.start
                found.append((line, _BAD_LINES[line - 1][:column], match.group(1), match.group(2)))
    return found


def expected_location(tag: str) -> tuple[int, set[int]]:
    """The 1-based line marked ``# <- error TAG`` and the 1-based columns the caret may be at."""
    found = [(line, code, snippets) for line, code, marker, snippets in _markers() if marker == tag]
    assert len(found) == 1, f"marker '# <- error {tag}' must appear exactly once in {BAD_FILE.name}"
    number, code, snippets = found[0]
    if snippets is None:
        return number, {len(code) - len(code.lstrip()) + 1}
    columns = set()
    for snippet in snippets.split("||"):
        snippet = snippet.strip()
        assert snippet in code, f"snippet {snippet!r} not on line {number}"
        columns.add(code.index(snippet) + 1)
    return number, columns


def assert_located(error: GradgenError, tag: str, filename: str = BAD_FILE.name) -> None:
    """``error`` points at the marked line and column and draws a caret under it."""
    line, columns = expected_location(tag)
    text = str(error)
    header = re.search(re.escape(filename) + r":(\d+):(\d+)", text)
    assert header, f"no '{filename}:<line>:<column>' in:\n{text}"
    assert int(header.group(1)) == line, f"wrong line (want {line}):\n{text}"
    assert int(header.group(2)) in columns, f"wrong column (want one of {sorted(columns)}):\n{text}"
    assert error.location is not None
    assert Path(error.location.filename).name == filename
    assert error.location.line == line
    assert error.location.column + 1 in columns
    assert_caret(text, _BAD_LINES[line - 1], int(header.group(2)))


def assert_caret(text: str, source_line: str, column: int) -> None:
    """The message shows ``source_line`` and, on the next line, a caret under ``column``."""
    lines = text.splitlines()
    shown = [i for i, candidate in enumerate(lines) if candidate.strip() == source_line.strip()]
    assert shown, f"the source line {source_line!r} is not shown in:\n{text}"
    index = shown[0]
    assert index + 1 < len(lines), f"no caret line after the source line in:\n{text}"
    shown_line, caret_line = lines[index], lines[index + 1]
    assert caret_line.strip() == "^", f"caret line is {caret_line!r}"
    prefix = shown_line.index(source_line.lstrip()) - (len(source_line) - len(source_line.lstrip()))
    assert caret_line.index("^") - prefix == column - 1, f"caret under the wrong column in:\n{text}"


def assert_says_what_is_supported(error: GradgenError, keywords: tuple[str, ...]) -> None:
    text = str(error)
    assert error.hint.strip(), f"the message does not say what is supported instead:\n{text}"
    for keyword in keywords:
        assert keyword in text, f"{keyword!r} missing from:\n{text}"


# -- the catalogue --------------------------------------------------------------------------

CONTROL_FLOW = ("assignments", "if/elif/else", "range()")
ITERABLES = ("range(...)", "for row in X", "enumerate()/zip()")
OPERATORS = ("supported operators", "+ - * / **")
CALLS = ("supported calls", "math.exp", "numpy", "inlined")


@dataclass(frozen=True)
class Case:
    tag: str
    error: type[GradgenError]
    what: str  # what the user did
    keywords: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)
    function: object = None

    def target(self):
        return self.function if self.function is not None else getattr(bad, self.tag)


CASES = [
    # statements
    Case("assigned_in_one_branch", UnknownNameError, "read a name only one branch of an if assigned", ("every branch",)),
    Case("returns_on_one_path", UnsupportedSyntaxError, "returned from one branch only, at the end", ("every branch",)),
    Case("return_inside_branch_of_branch", UnsupportedSyntaxError, "returned from an if nested in an if that falls through", ("ends the function",)),
    Case("branches_return_different_counts", UnsupportedSyntaxError, "returned a pair from one branch, one value from the other", ("same",)),
    Case("loop_over_dict", UnsupportedSyntaxError, "looped over a dict display", ITERABLES),
    Case("loop_over_global_dict", UnsupportedSyntaxError, "looped over a module-level dict", ("a dict", *ITERABLES)),
    Case("loop_over_set", UnsupportedSyntaxError, "looped over a set display", ITERABLES),
    Case("loop_over_string", UnsupportedSyntaxError, "looped over a string", ("a string", *ITERABLES)),
    Case("loop_over_generator", UnsupportedSyntaxError, "looped over a generator expression", ITERABLES),
    Case("loop_over_number", UnsupportedSyntaxError, "looped over a number", ("a number", *ITERABLES)),
    Case("zip_strict", UnsupportedSyntaxError, "passed strict= to zip()", ("zip(a, b)",)),
    Case("break_with_zero_step", UnsupportedSyntaxError, "broke out of a range() loop with step 0", ("nonzero",)),
    Case("return_inside_loop", UnsupportedSyntaxError, "returned from inside a for loop", ("ends the function",)),
    Case("loop_with_else", UnsupportedSyntaxError, "wrote for ... else", ("after the loop",)),
    Case("bound_only_in_loop", UnknownNameError, "read after the loop a name first bound inside it", ("before the loop",)),
    Case("loop_over_float_range", UnsupportedSyntaxError, "looped over range(3.0)", ("int",)),
    Case("while_true", UnsupportedSyntaxError, "wrote while True (with no break)", ("break",)),
    Case("while_with_else", UnsupportedSyntaxError, "wrote while ... else", ("after the loop",)),
    Case("while_changing_nothing", UnsupportedSyntaxError, "looped without changing what the condition reads", ("assign",)),
    Case("uses_try", UnsupportedSyntaxError, "caught an exception with try/except", CONTROL_FLOW),
    Case("uses_with", UnsupportedSyntaxError, "opened a file in a with block", CONTROL_FLOW),
    Case("uses_raise", UnsupportedSyntaxError, "raised an exception", CONTROL_FLOW),
    Case("uses_global", UnsupportedSyntaxError, "declared a global", CONTROL_FLOW),
    Case("uses_nonlocal", UnsupportedSyntaxError, "declared a nonlocal in a closure", CONTROL_FLOW),
    Case("uses_del", UnsupportedSyntaxError, "deleted a local with del", CONTROL_FLOW),
    Case("defines_nested_function", UnsupportedSyntaxError, "defined a function inside the function", ("def",)),
    Case("defines_class", UnsupportedSyntaxError, "defined a class inside the function", ()),
    Case("item_assignment", UnsupportedSyntaxError, "wrote x[0] = v into an argument", ("caller's array x", "x = x.copy()")),
    Case("item_augmented_assignment", UnsupportedSyntaxError, "wrote x[0] += v into an argument", ("caller's array x", "x = x.copy()")),
    Case("item_write_into_view_of_argument", UnsupportedSyntaxError, "wrote into a view of an argument", ("view of the caller's array x", "copy")),
    Case("item_write_through_view", UnsupportedSyntaxError, "wrote through a view of a created array", ("view", "H[1:].copy()")),
    Case("indexes_a_number", UnsupportedSyntaxError, "indexed a module-level number", ("2.0 is a number", "x[i]")),
    Case("stale_view_read", UnsupportedSyntaxError, "read a view taken before a write", (f"line {inspect.getsourcelines(bad.stale_view_read)[1] + 3}", "head = H[0:2].copy()")),
    Case("stale_alias_read", UnsupportedSyntaxError, "read another name for an array after writing into it", ("numpy would show", "copy")),
    Case("stale_view_in_loop", UnsupportedSyntaxError, "read in a loop a view of the array the loop writes into", ("first = H[0].copy()",)),
    Case("helper_writes_into_its_parameter", UnsupportedSyntaxError, "a helper wrote into the array it received", ("caller's array H", "H = H.copy()")),
    Case("item_write_nested_subscript", UnsupportedSyntaxError, "wrote H[0][1] = x", ("H[i, j] = v",)),
    Case("item_write_into_number", UnsupportedSyntaxError, "wrote an item of a float", ("only arrays",)),
    Case("stale_view_after_augmented_assignment", UnsupportedSyntaxError, "read a view of an array after H += x changed it", ("numpy would show", "head = H[0:2].copy()")),
    Case("item_write_with_index_list", UnsupportedSyntaxError, "wrote with a list of run-time indices", ("lists of constant integers",)),
    Case("attribute_assignment", UnsupportedSyntaxError, "set an attribute x.value = ...", ()),
    Case("attribute_augmented_assignment", UnsupportedSyntaxError, "updated an attribute x.value += ...", ()),
    Case("starred_assignment", UnsupportedSyntaxError, "unpacked with a starred target a, *rest = ...", ()),
    Case("code_after_return", UnsupportedSyntaxError, "left a statement after return", ("return",)),
    Case("returns_nothing", UnsupportedSyntaxError, "forgot the return statement", ("return",)),
    Case("bare_return", UnsupportedSyntaxError, "ended with a bare return", ("return",)),
    Case("returns_tuple", NonScalarOutputError, "returned (y, x) without has_aux", ("scalar", "has_aux")),
    Case("returns_triple", NonScalarOutputError, "returned three values without has_aux", ("scalar", "has_aux")),
    Case(
        "returns_scalar_only",
        InvalidArgumentError,
        "passed has_aux=True but returned one scalar",
        ("aux",),
        {"has_aux": True},
    ),
    Case(
        "returns_triple",
        InvalidArgumentError,
        "passed has_aux=True but returned three values",
        ("aux",),
        {"has_aux": True},
    ),
    # expressions
    Case("lambda_expression", UnsupportedSyntaxError, "built a lambda inside the function", ("def",)),
    Case("conditional_with_and", UnsupportedSyntaxError, "wrote 'and' in a conditional expression", ("comparisons",)),
    Case("list_comprehension", UnsupportedSyntaxError, "summed a list comprehension", ("numpy",)),
    Case("generator_expression", UnsupportedSyntaxError, "summed a generator expression", ("numpy",)),
    Case("uses_yield", UnsupportedSyntaxError, "wrote a generator (yield)", ("return",)),
    Case("f_string", UnsupportedSyntaxError, "formatted an f-string", ()),
    Case("walrus", UnsupportedSyntaxError, "used an assignment expression :=", ("separate statement",)),
    Case("starred_call", UnsupportedSyntaxError, "called math.exp(*args)", ()),
    Case("starred_in_tuple", UnsupportedSyntaxError, "built a tuple with (*x, y)", ()),
    Case("floor_division", UnsupportedSyntaxError, "used floor division //", OPERATORS),
    Case("modulo", UnsupportedSyntaxError, "used the remainder %", OPERATORS),
    Case("bit_and", UnsupportedSyntaxError, "used bitwise and &", OPERATORS),
    Case("bit_or", UnsupportedSyntaxError, "used bitwise or |", OPERATORS),
    Case("bit_xor", UnsupportedSyntaxError, "used bitwise xor ^ (meaning a power?)", OPERATORS),
    Case("left_shift", UnsupportedSyntaxError, "used a shift <<", OPERATORS),
    Case("invert", UnsupportedSyntaxError, "used bitwise invert ~", ("-",)),
    Case("logical_not", UnsupportedSyntaxError, "used not", ("-",)),
    Case("logical_and", UnsupportedSyntaxError, "used and", ("comparisons",)),
    Case("logical_or", UnsupportedSyntaxError, "used or", ("comparisons",)),
    Case("chained_comparison", UnsupportedSyntaxError, "wrote 0.0 < x < y", ("two values",)),
    Case("membership_test", UnsupportedSyntaxError, "tested x in (1.0, 2.0)", ("< <= > >=",)),
    Case("fancy_index", UnsupportedSyntaxError, "indexed with a list of run-time positions x[[0, n]]", ("slices", "np.where")),
    Case("whole_shape", UnsupportedSyntaxError, "used x.shape as a whole", ("x.shape[i]", "np.zeros_like")),
    Case("complex_literal", UnsupportedSyntaxError, "multiplied by the complex literal 2j", ("real",)),
    Case("list_display", UnsupportedSyntaxError, "built a list [x, y]", ("tuple",)),
    Case("dict_display", UnsupportedSyntaxError, "built a dict", ()),
    Case("string_as_number", UnsupportedSyntaxError, "multiplied a number by a string literal", ("number",)),
    Case("module_as_number", UnsupportedSyntaxError, "multiplied a number by the math module", ("numbers",)),
    Case("unknown_attribute_on_value", UnsupportedSyntaxError, "read x.real", ("x.T",)),
    Case("missing_module_attribute", UnknownFunctionError, "called math.no_such_function", ()),
    # names and calls
    Case("math_gamma", UnknownFunctionError, "called math.gamma (no derivative rule)", CALLS),
    Case("numpy_cumsum", UnknownFunctionError, "called np.cumsum", CALLS),
    Case("builtin_round", UnknownFunctionError, "called the builtin round", CALLS),
    Case("builtin_print_in_expression", UnknownFunctionError, "used print(x) as a value", CALLS),
    Case("class_instantiation", UnknownFunctionError, "instantiated a class", CALLS),
    Case("unknown_method", UnknownFunctionError, "called the array method x.cumsum()", ("x.sum",)),
    Case("unknown_name", UnknownNameError, "used an undefined name", ("parameter",)),
    Case("used_before_assignment", UnknownNameError, "used a local before assigning it", ("parameter",)),
    Case("failing_import", UnknownNameError, "imported a module that does not exist", ()),
    Case("recursive_helper", UnsupportedSyntaxError, "called a helper that calls itself", ("inline",)),
    Case("star_args_helper", UnsupportedSyntaxError, "called a helper declared with *args", ("name",)),
    Case("kwargs_helper", UnsupportedSyntaxError, "called a helper declared with **kwargs", ("name",)),
    Case("error_inside_helper", UnsupportedSyntaxError, "called a helper with a with block", CONTROL_FLOW),
    Case("helper_wrong_arity", UnsupportedSyntaxError, "called a helper with too many arguments", ()),
    Case("star_args_function", UnsupportedSyntaxError, "declared the function itself with *args", ("by name",)),
    Case("kwargs_function", UnsupportedSyntaxError, "declared the function itself with **kwargs", ("by name",)),
    Case("global_array", UnsupportedSyntaxError, "used a module-level numpy array", ("parameter",)),
    Case("out_keyword", UnsupportedSyntaxError, "passed out= to np.exp", ("np.exp", "1 positional")),
    Case("non_constant_axis", UnsupportedSyntaxError, "passed a parameter as np.sum's axis", ("literal",)),
    Case("wrong_arity_primitive", UnsupportedSyntaxError, "called math.exp with two arguments", ("1 positional",)),
    Case("helper_without_source", SourceUnavailableError, "called a helper built with exec", ("def",)),
    # where the function lives
    Case("nested_loop", UnsupportedSyntaxError, "used with in a function nested in a factory", CONTROL_FLOW),
    Case("nested_deep", UnsupportedSyntaxError, "used // in a nested function", OPERATORS),
    Case("static_loss", UnknownFunctionError, "called math.gamma in a @staticmethod", CALLS, {}, bad.Model.static_loss),
    Case(
        "twice_decorated",
        UnsupportedSyntaxError,
        "used % in a method with two decorators",
        OPERATORS,
        {},
        bad.Model.twice_decorated,
    ),
    Case("decorated_at_top", UnsupportedSyntaxError, "a decorated module-level function", OPERATORS),
    Case("unicode_before_error", UnsupportedSyntaxError, "non-ASCII names before the error", OPERATORS),
    Case("one_line_def", UnsupportedSyntaxError, "wrote the whole def on one line", OPERATORS),
    Case("multi_line_expression", UnsupportedSyntaxError, "used % on a continuation line", OPERATORS),
]


def _case_id(case: Case) -> str:
    return case.tag + ("-has_aux" if case.options.get("has_aux") else "")


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_grad_refuses_with_a_located_error(case: Case) -> None:
    with pytest.raises(GradgenError) as info:
        gradgen.grad(case.target(), **case.options)
    error = info.value
    assert type(error) is case.error, f"the user {case.what}: got {type(error).__name__}:\n{error}"
    assert_located(error, case.tag)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_the_message_says_what_is_supported(case: Case) -> None:
    with pytest.raises(GradgenError) as info:
        gradgen.grad(case.target(), **case.options)
    assert_says_what_is_supported(info.value, case.keywords)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_value_and_grad_refuses_the_same_way(case: Case) -> None:
    with pytest.raises(case.error) as info:
        gradgen.value_and_grad(case.target(), **case.options)
    assert_located(info.value, case.tag)


def test_every_marker_in_bad_functions_has_a_case() -> None:
    tags = {tag for _, _, tag, _ in _markers()}
    assert tags == {case.tag for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_refused_whatever_wrt_says(case: Case) -> None:
    # The user asked for the gradient of every parameter: the refusal does not depend on wrt.
    wrt = tuple(range(len(inspect.signature(case.target()).parameters))) or 0
    with pytest.raises(case.error):
        gradgen.grad(case.target(), wrt=wrt, **case.options)


# -- things that are not functions with source ----------------------------------------------


class CallableLoss:
    def __call__(self, x):
        return x * 2.0

    def loss(self, x):
        return x * 2.0


def test_builtin_function() -> None:
    # The user asked for the gradient of len.
    with pytest.raises(SourceUnavailableError, match="def"):
        gradgen.grad(len)


@pytest.mark.parametrize("function", [np.exp, math.gamma, np.cumsum], ids=["ufunc", "math", "numpy-dispatcher"])
def test_library_functions(function) -> None:
    # The user asked for the gradient of a numpy ufunc / a C function from math / numpy's cumsum.
    with pytest.raises(SourceUnavailableError, match="def"):
        gradgen.grad(function)


@pytest.mark.parametrize("thing", [3, 2.5, "f", (1, 2)], ids=["int", "float", "str", "tuple"])
def test_not_callable(thing) -> None:
    # The user passed a value (maybe the wrt argument) instead of the function.
    with pytest.raises(InvalidArgumentError, match="function"):
        gradgen.grad(thing)
    with pytest.raises(InvalidArgumentError, match="function"):
        gradgen.value_and_grad(thing)


def test_lambda() -> None:
    # The user differentiated a lambda: there is no statement list to read.
    function = lambda x: x * 2.0  # noqa: E731
    with pytest.raises(SourceUnavailableError) as info:
        gradgen.grad(function)
    assert "lambda" in str(info.value)
    assert "def" in info.value.hint
    location = info.value.location
    assert location is not None and location.line == function.__code__.co_firstlineno
    assert f"{Path(__file__).name}:{location.line}:" in str(info.value)


def test_function_built_with_exec() -> None:
    # The user built the function from a string with exec: it has no source file.
    namespace: dict = {}
    exec("def f(x):\n    return x * 2.0\n", namespace)
    with pytest.raises(SourceUnavailableError) as info:
        gradgen.grad(namespace["f"])
    assert "exec" in str(info.value) or "source" in str(info.value)


def test_callable_instance() -> None:
    # The user passed an object with __call__ instead of a function.
    with pytest.raises(SourceUnavailableError) as info:
        gradgen.grad(CallableLoss())
    assert "def" in str(info.value)


def test_bound_method() -> None:
    # The user passed model.loss, a bound method.
    with pytest.raises(InvalidArgumentError) as info:
        gradgen.grad(CallableLoss().loss)
    assert "method" in str(info.value)
    assert "function" in info.value.hint


# -- wrt ------------------------------------------------------------------------------------


def two_parameters(x, y):
    return x * y


@pytest.mark.parametrize(
    "wrt, words",
    [
        ("z", ("'z'", "x, y")),  # a name that is not a parameter
        (2, ("out of range", "x, y")),  # one past the last parameter
        (-1, ("out of range",)),  # negative indices are not Python-style here
        (("x", "x"), ("twice",)),  # the same parameter twice
        (("x", 0), ("twice",)),  # the same parameter by name and by index
        (True, ("True",)),  # a bool is not an index
        ((), ("non-empty",)),  # nothing to differentiate with respect to
        (1.0, ("1.0",)),  # a float index
        (None, ("None",)),  # wrt=None
        ({"x"}, ("wrt",)),  # a set has no order
    ],
    ids=["missing-name", "out-of-range", "negative", "duplicate", "duplicate-mixed", "bool", "empty", "float", "None", "set"],
)
def test_bad_wrt(wrt, words) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        gradgen.grad(two_parameters, wrt=wrt)
    for word in words:
        assert word in str(info.value)
    with pytest.raises(InvalidArgumentError):
        gradgen.value_and_grad(two_parameters, wrt=wrt)


# -- what must work: defaults and keyword-only parameters ----------------------------------


def with_defaults(x, y=2.0, *, z=3.0, w=0.5):
    return x * y * z + w * math.exp(x)


def test_defaults_and_keyword_only_parameters_work() -> None:
    dwith = gradgen.grad(with_defaults, wrt=("x", "y", "z", "w"))
    e = math.exp(1.5)
    assert dwith(1.5) == pytest.approx((2.0 * 3.0 + 0.5 * e, 1.5 * 3.0, 1.5 * 2.0, e))
    assert dwith(1.5, 4.0, z=1.0) == pytest.approx((4.0 + 0.5 * e, 1.5, 6.0, e))
    assert dwith(1.5, w=2.0) == pytest.approx((6.0 + 2.0 * e, 4.5, 3.0, e))
    assert dwith.__defaults__ == with_defaults.__defaults__
    assert dwith.__kwdefaults__ == with_defaults.__kwdefaults__
    forward, backward = inspect.signature(with_defaults), inspect.signature(dwith)
    assert list(backward.parameters) == list(forward.parameters)
    for name, parameter in forward.parameters.items():
        assert backward.parameters[name].default == parameter.default
        assert backward.parameters[name].kind == parameter.kind


def test_value_and_grad_keeps_defaults_too() -> None:
    value, gradient = gradgen.value_and_grad(with_defaults, wrt="z")(1.5)
    assert value == pytest.approx(with_defaults(1.5))
    assert gradient == pytest.approx(3.0)


_BAD_CALLS = [
    ((), {}),  # no arguments
    ((1.0, 2.0, 3.0), {}),  # a keyword-only parameter passed positionally
    ((1.0,), {"q": 2.0}),  # an unknown keyword
    ((1.0,), {"x": 2.0}),  # x given twice
    (("a",), {}),  # a string where a number goes
    ((None,), {}),  # None where a number goes
    ((1.0,), {"y": "b"}),  # a string default override
    (({},), {}),  # a dict
]


@pytest.mark.parametrize("args, kwargs", _BAD_CALLS, ids=[str(i) for i in range(len(_BAD_CALLS))])
def test_wrong_arguments_raise_what_the_forward_raises(args, kwargs) -> None:
    with pytest.raises(Exception) as forward_info:
        with_defaults(*args, **kwargs)
    assert forward_info.type is TypeError
    for compiled in (
        gradgen.grad(with_defaults, wrt=("x", "y", "z", "w")),
        gradgen.value_and_grad(with_defaults, wrt="x"),
    ):
        with pytest.raises(Exception) as backward_info:
            compiled(*args, **kwargs)
        assert backward_info.type is forward_info.type, f"forward {forward_info.value!r}, gradient {backward_info.value!r}"
