"""Mutation fuzzing of the front end: broken programs get a GradgenError, never a crash.

A few valid forward functions are mutated at the AST level (statements deleted, duplicated,
swapped; names, operators and calls replaced; random Python constructs inserted), written to a
file and imported. For every mutant that is valid Python, ``grad(f, wrt=all parameters)`` must
either return a function or raise a ``GradgenError``. A returned function is called at a safe
point: it must agree with central differences of the forward where the forward runs and is
finite and smooth there, and raise the same exception type as the forward where the forward
raises.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import importlib.util
import inspect
import math
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import gradgen
from gradgen import GradgenError, NonScalarOutputError

PRELUDE = '''
import math

import numpy as np

SCALE = 1.5
ARRAY = np.ones(3)


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))
'''

_RNG = np.random.default_rng(7)


@dataclass(frozen=True)
class Seed:
    name: str
    source: str
    point: tuple[Any, ...]


SEEDS = [
    Seed(
        "neuron",
        '''
def neuron(w0, x0, w1, x1, w2):
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = sigmoid(s3)
    return L
''',
        (2.0, -1.0, -3.0, -2.0, -3.0),
    ),
    Seed(
        "quiz",
        '''
def quiz(x, z):
    xz = x * z
    y = math.exp(xz) + xz / math.log(x) + math.sin(math.log(x)) / math.exp(xz)
    return y
''',
        (1.7, 0.6),
    ),
    Seed(
        "cos_of_sin",
        '''
def cos_of_sin(x, c):
    s = x ** 2
    J = math.cos(math.sin(s) + c * s)
    J += abs(x) * max(x, c) - min(c, 0.5) / float(2)
    return J
''',
        (0.8, 3.0),
    ),
    Seed(
        "numpy_scalar",
        '''
def numpy_scalar(a, b):
    u = np.tanh(a) * np.sqrt(b) + np.log1p(np.exp(a - b))
    v = np.maximum(u, 0.25) - np.minimum(a, b) * np.sin(b) / np.cos(a)
    return u * v + SCALE * np_sigmoid(a)
''',
        (0.3, 1.4),
    ),
    Seed(
        "two_layer_net",
        '''
def two_layer_net(W1, W2, x, y):
    s = x.dot(W1)
    a = np.maximum(s, 0)
    y_hat = a.dot(W2)
    return 0.5 * np.sum((y_hat - y) ** 2.0)
''',
        (
            _RNG.standard_normal((3, 4)),
            _RNG.standard_normal((4, 2)),
            _RNG.standard_normal((5, 3)),
            _RNG.standard_normal((5, 2)),
        ),
    ),
    Seed(
        "logistic",
        '''
def logistic(w, b, X, t):
    z = X @ w + b
    p = np_sigmoid(z)
    loss = -np.mean(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))
    return loss + 0.01 * np.sum(w * w) + np.sum(X.T.dot(p)) * 0.0
''',
        (_RNG.standard_normal(3), 0.2, _RNG.standard_normal((6, 3)), (_RNG.random(6) > 0.5) * 1.0),
    ),
]

# -- mutations --------------------------------------------------------------------------------

OPERATORS = [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult, ast.FloorDiv, ast.Mod,
             ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift]  # fmt: skip
UNARY_OPERATORS = [ast.USub, ast.UAdd, ast.Not, ast.Invert]
COMPARISONS = [ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.Is, ast.IsNot, ast.In, ast.NotIn]
REPLACEMENT_NAMES = ["undefined_name", "math", "np", "len", "print", "SCALE", "ARRAY", "sigmoid", "__name__", "True", "None"]
REPLACEMENT_CALLS = [
    "math.gamma", "len", "print", "np.cumsum", "math.exp", "np.exp", "abs", "max", "min", "float", "int",
    "round", "math.factorial", "np.sum", "np.mean", "np.tanh", "math.sqrt", "np.linalg.norm", "sorted",
    "sigmoid", "np_sigmoid", "undefined_function", "np.dot", "str", "math.log", "np.maximum", "isinstance",
    "{self}", "SCALE", "np.transpose", "math.atan", "np.abs", "np.sign",
]  # fmt: skip
BINARY_REPLACEMENTS = ["{l} < {r}", "{l} and {r}", "{l} if {r} else {l}", "({l}, {r})", "{l}[{r}]", "{l}.{attr}"]
INSERTIONS = [
    "if {a} > 0:\n    {a} = {a} * 2.0",
    "for _i in range(2):\n    {a} = {a} + 1.0",
    "while False:\n    pass",
    "try:\n    {a} = {a} * 1.0\nexcept Exception:\n    pass",
    "with open('/dev/null'):\n    pass",
    "raise ValueError('mutant')",
    "{a} = (lambda t: t * 2.0)({a})",
    "{a} = {a}[0]",
    "{a} = {a}[1:]",
    "{a}.attr = 1.0",
    "{a}[0] = 1.0",
    "{a}[0] += {b}",
    "yield {a}",
    "return {a}",
    "return",
    "return {a}, {b}",
    "global SCALE",
    "del {a}",
    "{a} = {a} if {b} else 1.0",
    "{a} = sum([{a} for _ in range(2)])",
    "{a} = sum({a} for _ in range(2))",
    "{a} = ({b} := {a} * 2.0)",
    "{a} = f'{{{a}}}'",
    "print({a})",
    "pass",
    "'''a docstring'''",
    "import math",
    "from math import exp",
    "{a} = {a} * 2.0",
    "{a} += {b}",
    "{a} -= 1",
    "{a} = {b}, {a}",
    "{a}, {b} = {b}, {a}",
    "{a} = {b} = {a} * 1.0",
    "{a}: float = {a} * 1.0",
    "{a} = -{a}",
    "{a} = math.log({a})",
    "{a} = np.exp({a})",
    "{a} = {a}.T",
    "{a} = {a}.sum()",
    "{a} = {a}.mean(axis=0)",
    "{a} = {a}.real",
    "{a} = max({a}, {b})",
    "{a} = abs({a})",
    "{a} = float({a})",
    "class C:\n    pass",
    "def inner(t):\n    return t",
    "{a} = {a} // 2.0",
    "{a} = {a} % 2.0",
    "{a} = {a} & {b}",
    "{a} = 0.0 < {a} < {b}",
    "{a} = not {a}",
    "{a} = {a} and {b}",
    "{a} = {a} @ {b}",
    "{a} = np.sum({a}, axis={b})",
    "{a} = np.sum({a}, axis=0)",
    "{a} = np.exp({a}, out={b})",
    "{a} = 1j * {a}",
    "{a} = None",
    "{a} = 'text'",
    "{a} = (1.0, 2.0)",
    "{a} = [1.0, 2.0]",
    "{a} = {{'k': {a}}}",
    "{a} = {a}(1.0)",
    "{a} = math",
    "{a} = math.pi * {a}",
    "{a} = {a} ** {b}",
    "{a} = {a} == {b}",
    "{a} = {self}({a})",
    "{a} = sigmoid({a}, {b})",
    "{a} = sigmoid(z={a})",
    "{a} = np.maximum({a})",
    "{a} = math.log({a}, 2.0)",
    "{a} = max({a}, {b}, 0.5)",
    "{a} = {a} / 0.0",
    "{a} = 1.0 / ({a} - {a})",
    "{a} = np.float64(2.0) * {a}",
    "{a} = ARRAY * {a}",
    "{a} = np.ones(3) * {a}",
    "{a} = math.sqrt(-1.0) * {a}",
    "{a} = (*{a},)",
    "{a} = math.exp(*{a})",
    "{a} = {a} is {b}",
    "assert {a} is not None",
]


def _function_names(tree: ast.Module) -> list[ast.FunctionDef]:
    return [node for node in tree.body if isinstance(node, ast.FunctionDef)]


def _local_names(function: ast.FunctionDef) -> list[str]:
    names = [argument.arg for argument in function.args.args]
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id not in names:
            names.append(node.id)
    return names


def _statement_lists(function: ast.FunctionDef) -> list[list[ast.stmt]]:
    return [node.body for node in ast.walk(function) if isinstance(node, (ast.FunctionDef, ast.If, ast.For))]


def _parse_statements(text: str) -> list[ast.stmt]:
    return ast.parse(text).body


@st.composite
def mutants(draw: st.DrawFn, seed: Seed) -> str:
    tree = ast.parse(PRELUDE + seed.source)
    functions = _function_names(tree)
    target = functions[-1]
    for _ in range(draw(st.integers(1, 3))):
        # Mostly mutate the function itself; sometimes its helpers.
        function = target if draw(st.integers(0, 3)) else draw(st.sampled_from(functions[:-1]))
        mutate(draw, function, target.name)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def mutate(draw: st.DrawFn, function: ast.FunctionDef, self_name: str) -> None:
    names = _local_names(function)
    kind = draw(
        st.sampled_from(["delete", "duplicate", "swap", "name", "operator", "call", "insert", "insert", "constant"])
    )
    body = draw(st.sampled_from(_statement_lists(function)))
    nodes = list(ast.walk(function))
    if kind == "delete" and len(body) > 1:
        del body[draw(st.integers(0, len(body) - 1))]
    elif kind == "duplicate":
        index = draw(st.integers(0, len(body) - 1))
        body.insert(index, copy.deepcopy(body[index]))
    elif kind == "swap" and len(body) > 1:
        i, j = draw(st.integers(0, len(body) - 1)), draw(st.integers(0, len(body) - 1))
        body[i], body[j] = body[j], body[i]
    elif kind == "name":
        loads = [node for node in nodes if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)]
        if loads:
            node = draw(st.sampled_from(loads))
            node.id = draw(st.sampled_from(names + REPLACEMENT_NAMES))
    elif kind == "operator":
        operators = [node for node in nodes if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.AugAssign))]
        if operators:
            node = draw(st.sampled_from(operators))
            if isinstance(node, ast.UnaryOp):
                node.op = draw(st.sampled_from(UNARY_OPERATORS))()
            elif isinstance(node, ast.Compare):
                node.ops = [draw(st.sampled_from(COMPARISONS))()]
            elif isinstance(node, ast.BinOp) and draw(st.booleans()):
                _replace_expression(function, node, _binary_replacement(draw, node))
            else:
                node.op = draw(st.sampled_from(OPERATORS))()
    elif kind == "call":
        calls = [node for node in nodes if isinstance(node, ast.Call)]
        if calls:
            node = draw(st.sampled_from(calls))
            replacement = draw(st.sampled_from(REPLACEMENT_CALLS)).format(self=self_name)
            node.func = ast.parse(replacement, mode="eval").body
    elif kind == "constant":
        constants = [node for node in nodes if isinstance(node, ast.Constant)]
        if constants:
            node = draw(st.sampled_from(constants))
            node.value = draw(st.sampled_from([0, 0.0, -1, 1, 2.5, 3, 1j, "s", None, True, False]))
    else:
        text = draw(st.sampled_from(INSERTIONS))
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        index = draw(st.integers(0, len(body)))
        body[index:index] = _parse_statements(text.format(a=a, b=b, self=self_name))


def _binary_replacement(draw: st.DrawFn, node: ast.BinOp) -> ast.expr:
    template = draw(st.sampled_from(BINARY_REPLACEMENTS))
    text = template.format(l=ast.unparse(node.left), r=ast.unparse(node.right), attr=draw(st.sampled_from(["T", "real", "shape"])))
    return ast.parse(text, mode="eval").body


def _replace_expression(function: ast.FunctionDef, old: ast.expr, new: ast.expr) -> None:
    for parent in ast.walk(function):
        for field_name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field_name, new)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if item is old:
                        value[index] = new


# -- running a mutant -------------------------------------------------------------------------


def load_mutant(directory, source: str, name: str) -> Callable[..., Any] | None:
    """Write ``source`` to a file and import it; ``None`` if it is not valid, importable Python."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    module_name = f"gradgen_mutant_{digest}"
    path = directory / f"{module_name}.py"
    path.write_text(source, encoding="utf-8")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, str(path), "exec")
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
    except Exception:
        sys.modules.pop(module_name, None)
        return None
    return getattr(module, name, None)


def run_quietly(function: Callable[..., Any], *args: Any) -> tuple[Any, BaseException | None]:
    """Call ``function``; return (result, None) or (None, the exception). Numeric warnings ignored."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        args = copy.deepcopy(args)  # ``a += b`` on an array parameter writes into the caller's array
        try:
            return function(*args), None
        except RecursionError as error:
            return None, error
        except Exception as error:
            return None, error


def _builtin_type(error: BaseException) -> type:
    """The most specific built-in exception class of ``error`` (numpy's UFuncTypeError -> TypeError)."""
    return next(cls for cls in type(error).__mro__ if cls.__module__ == "builtins")


def _is_real_scalar(value: Any) -> bool:
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "biuf"


def _as_float(value: Any) -> float:
    return float(np.asarray(value, dtype=float))


def central_difference(forward: Callable[..., Any], point: list[Any], step: float) -> list[Any] | None:
    """Central differences of a real scalar ``forward``; ``None`` if any evaluation fails."""
    gradients: list[Any] = []
    for index, argument in enumerate(point):
        base = np.array(argument, dtype=float)
        gradient = np.zeros_like(base)
        for position in np.ndindex(base.shape):
            h = step * max(1.0, abs(float(base[position])))
            values = []
            for sign in (1.0, -1.0):
                moved = base.copy()
                moved[position] += sign * h
                shifted = moved if np.ndim(argument) else float(moved)
                value, error = run_quietly(forward, *point[:index], shifted, *point[index + 1 :])
                if error is not None or not _is_real_scalar(value) or not math.isfinite(_as_float(value)):
                    return None
                values.append(_as_float(value))
            gradient[position] = (values[0] - values[1]) / (2 * h)
        gradients.append(gradient)
    return gradients


def check_mutant(forward: Callable[..., Any], point: tuple[Any, ...], source: str) -> None:
    parameters = inspect.signature(forward).parameters
    try:
        backward = gradgen.grad(forward, wrt=tuple(range(len(parameters))))
    except GradgenError:
        return
    # Any other exception escapes here and fails the test.
    point_list = [np.array(p) if isinstance(p, np.ndarray) else p for p in point]
    value, forward_error = run_quietly(forward, *point_list)
    gradients, backward_error = run_quietly(backward, *point_list)
    context = f"mutant:\n{source}\n\nemitted:\n{backward.source}"
    if forward_error is not None:
        assert backward_error is not None, f"forward raised {forward_error!r}, gradient returned {gradients!r}\n{context}"
        assert _builtin_type(backward_error) is _builtin_type(forward_error), (
            f"forward raised {forward_error!r}, gradient raised {backward_error!r}\n{context}"
        )
        return
    if isinstance(value, np.ndarray) and value.ndim > 0:
        assert isinstance(backward_error, NonScalarOutputError), (
            f"forward returned an array of shape {value.shape}; gradient gave {backward_error!r} / {gradients!r}\n{context}"
        )
        return
    if not _is_real_scalar(value) or not math.isfinite(_as_float(value)):
        return  # complex, non-finite or non-numeric outputs: nothing to compare against
    coarse = central_difference(forward, point_list, 1e-5)
    fine = central_difference(forward, point_list, 1e-6)
    if coarse is None or fine is None:
        return  # not differentiable around the point (a domain edge): any behaviour is fine
    if not all(np.allclose(c, f, rtol=1e-3, atol=1e-5) for c, f in zip(coarse, fine)):
        return  # not smooth at this point (a kink, a jump of a comparison)
    assert backward_error is None, f"forward ran fine, gradient raised {backward_error!r}\n{context}"
    if len(parameters) == 1 and not isinstance(gradients, tuple):
        gradients = (gradients,)
    assert isinstance(gradients, tuple) and len(gradients) == len(parameters), f"{gradients!r}\n{context}"
    for name, got, want in zip(parameters, gradients, fine):
        got = np.asarray(got)
        assert got.shape == want.shape, f"d{name}: shape {got.shape} != {want.shape}\n{context}"
        assert np.allclose(got, want, rtol=1e-4, atol=1e-5 * (1.0 + abs(_as_float(value)))), (
            f"d{name}: gradgen {got} vs finite differences {want}\n{context}"
        )


# -- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mutant_directory(tmp_path_factory):
    return tmp_path_factory.mktemp("mutants")


def test_every_seed_is_valid_and_checked(mutant_directory) -> None:
    # The unmutated seeds themselves pass the oracle (and their gradients are not all zero).
    for seed in SEEDS:
        source = PRELUDE + seed.source
        forward = load_mutant(mutant_directory, source, seed.name)
        assert forward is not None
        check_mutant(forward, seed.point, source)
        gradients = gradgen.grad(forward, wrt=tuple(range(len(seed.point))))(*seed.point)
        assert any(np.any(np.asarray(g) != 0) for g in gradients)


SCALAR_SEEDS = [seed for seed in SEEDS if not any(isinstance(p, np.ndarray) for p in seed.point)]
ARRAY_SEEDS = [seed for seed in SEEDS if seed not in SCALAR_SEEDS]
# No shrinking: a failure already prints the whole (short) mutant, and shrinking many
# distinct failures can take minutes. GRADGEN_FUZZ_EXAMPLES (see conftest.py) runs a longer campaign.
_FUZZ_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    max_examples=int(os.environ.get("GRADGEN_FUZZ_EXAMPLES", "200")),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_FUZZ_SETTINGS
@given(data=st.data())
def test_scalar_mutants_compile_or_refuse(mutant_directory, data) -> None:
    seed = data.draw(st.sampled_from(SCALAR_SEEDS), label="seed")
    source = data.draw(mutants(seed), label="source")
    forward = load_mutant(mutant_directory, source, seed.name)
    if forward is not None:
        check_mutant(forward, seed.point, source)


@_FUZZ_SETTINGS
@given(data=st.data())
def test_array_mutants_compile_or_refuse(mutant_directory, data) -> None:
    seed = data.draw(st.sampled_from(ARRAY_SEEDS), label="seed")
    source = data.draw(mutants(seed), label="source")
    forward = load_mutant(mutant_directory, source, seed.name)
    if forward is not None:
        check_mutant(forward, seed.point, source)


# -- what the fuzzer found, as fixed regression cases -------------------------------------------

FOUND_BY_FUZZING = [
    # grad() crashed with KeyError: 'numpy' in emit (float() whose result is named).
    ("float_cast_assigned", "def f(x):\n    y = float(x)\n    return y\n", (1.5,)),
    # np.transpose of a Python number is emitted as ``x.T``: the gradient raises AttributeError.
    ("transpose_of_float", "def f(x):\n    return np.transpose(x) * 2.0\n", (1.5,)),
    ("transpose_of_int_constant", "def f(x):\n    return x / np.transpose(2)\n", (1.5,)),
    # A name assigned later in the body is local in all of it (Python raises UnboundLocalError);
    # gradgen reads the global before the assignment.
    ("global_shadowed_later", "def f(x):\n    y = SCALE * x\n    SCALE = 2.0\n    return y * SCALE\n", (1.5,)),
    ("module_shadowed_later", "def f(x):\n    y = math.exp(x)\n    math = 2.0\n    return y * math\n", (1.5,)),
    ("helper_shadowed_later", "def f(x):\n    y = sigmoid(x)\n    sigmoid = 2.0\n    return y * sigmoid\n", (1.5,)),
    # print(...) is dropped without checking its arguments.
    ("print_of_undefined_name", "def f(x):\n    print(undefined_name)\n    return x * 2.0\n", (1.5,)),
    ("print_before_assignment", "def f(x):\n    print(y)\n    y = x * 2.0\n    return y\n", (1.5,)),
    # A statement whose value is unused is dropped, and with it the error the forward raises.
    ("dead_statement_domain_error", "def f(x):\n    unused = math.log(-x)\n    return x * 2.0\n", (1.5,)),
    ("dead_statement_division_by_zero", "def f(x):\n    unused = 1.0 / (x - x)\n    return x * 2.0\n", (1.5,)),
    # Methods and casts are emitted as numpy functions, which accept what the forward rejects.
    ("sum_method_on_float", "def f(x):\n    return (x * 2.0).sum()\n", (1.5,)),
    ("mean_method_on_float", "def f(x):\n    return (x * 2.0).mean(axis=0)\n", (1.5,)),
    ("float_of_array", "def f(x):\n    return float(x) * 2.0\n", (np.ones(3),)),
    # ``x * 0.0 + y`` is an array, but simplification drops x's shape: no NonScalarOutputError.
    ("array_output_times_zero", "def f(x, y):\n    return x * 0.0 + y\n", (np.ones(3), 2.0)),
]


@pytest.mark.parametrize("body, point", [case[1:] for case in FOUND_BY_FUZZING], ids=[case[0] for case in FOUND_BY_FUZZING])
def test_found_by_fuzzing(mutant_directory, body, point) -> None:
    source = PRELUDE + "\n\n" + body
    forward = load_mutant(mutant_directory, source, "f")
    assert forward is not None
    check_mutant(forward, point, source)
