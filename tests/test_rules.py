"""The per-op table: every differentiable op, checked against finite differences and sympy.

Each ``OpCase`` names a user-style forward function in ``op_functions.py``, a point inside the
op's domain (away from kinks), and, for scalar functions, the same function written
independently as a sympy expression. gradgen's gradient (with and without the optimizer)
must match central finite differences everywhere and sympy's derivative where there is one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import sympy

import gradgen
from tests import op_functions as fn
from tests.program_generator import assert_gradients_close, central_differences


@dataclass(frozen=True)
class OpCase:
    id: str
    function: Callable[..., Any]
    point: tuple[Any, ...]
    # The forward function as a sympy expression of real symbols, one per parameter.
    symbolic: Callable[..., Any] | None = None


_rng = np.random.default_rng(20240611)


def _array(*shape: int, low: float = -1.5, high: float = 1.5) -> np.ndarray:
    return _rng.uniform(low, high, size=shape)


def _positive(*shape: int) -> np.ndarray:
    return _array(*shape, low=0.5, high=2.0)


A34, B34, W34 = _array(3, 4), _array(3, 4), _array(3, 4)
W43 = _array(4, 3)
P34, Q34 = _positive(3, 4), _array(3, 4, low=-2.0, high=2.0)

S = sympy

SCALAR_CASES = [
    OpCase("add", fn.add, (1.3, -0.7), lambda x, y: x + y),
    OpCase("sub", fn.sub, (1.3, -0.7), lambda x, y: x - y),
    OpCase("mul", fn.mul, (1.3, -0.7), lambda x, y: x * y),
    OpCase("div", fn.div, (1.3, -0.7), lambda x, y: x / y),
    OpCase("pow-constant-int", fn.pow_constant_int, (1.3,), lambda x: x**3),
    OpCase("pow-constant-float", fn.pow_constant_float, (1.3,), lambda x: x ** S.Rational(5, 2)),
    OpCase(
        "pow-constant-negative", fn.pow_constant_negative, (1.3,), lambda x: x ** S.Rational(-3, 2)
    ),
    OpCase("pow-variable", fn.pow_variable, (1.3, -0.7), lambda x, y: x**y),
    OpCase("pow-constant-base", fn.pow_variable_base_constant, (0.8,), lambda y: 2**y),
    OpCase("neg", fn.neg, (1.3, -0.7), lambda x, y: -x * y),
    OpCase("math.exp", fn.math_exp, (0.6,), lambda x: S.exp(x)),
    OpCase("math.log", fn.math_log, (0.6,), lambda x: S.log(x)),
    OpCase("math.log1p", fn.math_log1p, (-0.4,), lambda x: S.log(1 + x)),
    OpCase("math.expm1", fn.math_expm1, (0.6,), lambda x: S.exp(x) - 1),
    OpCase("math.sqrt", fn.math_sqrt, (0.6,), lambda x: S.sqrt(x)),
    OpCase("math.sin", fn.math_sin, (0.6,), lambda x: S.sin(x)),
    OpCase("math.cos", fn.math_cos, (0.6,), lambda x: S.cos(x)),
    OpCase("math.tan", fn.math_tan, (0.6,), lambda x: S.tan(x)),
    OpCase("math.tanh", fn.math_tanh, (0.6,), lambda x: S.tanh(x)),
    OpCase("math.atan", fn.math_atan, (0.6,), lambda x: S.atan(x)),
    OpCase("math.fabs-positive", fn.math_fabs, (0.6,), lambda x: S.Abs(x)),
    OpCase("math.fabs-negative", fn.math_fabs, (-0.6,), lambda x: S.Abs(x)),
    OpCase("abs-positive", fn.builtin_abs, (0.6,), lambda x: S.Abs(x)),
    OpCase("abs-negative", fn.builtin_abs, (-0.6,), lambda x: S.Abs(x)),
    OpCase("max-first", fn.builtin_max, (1.3, -0.7), lambda x, y: S.Max(x, y)),
    OpCase("max-second", fn.builtin_max, (-1.3, 0.7), lambda x, y: S.Max(x, y)),
    OpCase("min-first", fn.builtin_min, (-1.3, 0.7), lambda x, y: S.Min(x, y)),
    OpCase("min-second", fn.builtin_min, (1.3, -0.7), lambda x, y: S.Min(x, y)),
    OpCase(
        "max-three-arguments", fn.builtin_max3, (0.2, 1.1, -0.5), lambda x, y, z: S.Max(x, y, z)
    ),
    OpCase("np.exp-scalar", fn.numpy_exp_scalar, (0.6,), lambda x: S.exp(x)),
    OpCase("np.log-scalar", fn.numpy_log_scalar, (0.6,), lambda x: S.log(x)),
    OpCase("np.log1p-scalar", fn.numpy_log1p_scalar, (-0.4,), lambda x: S.log(1 + x)),
    OpCase("np.expm1-scalar", fn.numpy_expm1_scalar, (0.6,), lambda x: S.exp(x) - 1),
    OpCase("np.sqrt-scalar", fn.numpy_sqrt_scalar, (0.6,), lambda x: S.sqrt(x)),
    OpCase("np.sin-scalar", fn.numpy_sin_scalar, (0.6,), lambda x: S.sin(x)),
    OpCase("np.cos-scalar", fn.numpy_cos_scalar, (0.6,), lambda x: S.cos(x)),
    OpCase("np.tan-scalar", fn.numpy_tan_scalar, (0.6,), lambda x: S.tan(x)),
    OpCase("np.tanh-scalar", fn.numpy_tanh_scalar, (0.6,), lambda x: S.tanh(x)),
    OpCase("np.arctan-scalar", fn.numpy_arctan_scalar, (0.6,), lambda x: S.atan(x)),
    OpCase(
        "np.add-subtract-multiply-divide-power-negative",
        fn.numpy_ufuncs_scalar,
        (1.3, -0.7),
        lambda x, y: x * y + (x - y) / y**2 - x,
    ),
    OpCase("np.abs-scalar", fn.numpy_abs_scalar, (-0.6,), lambda x: S.Abs(x)),
    OpCase("np.maximum-scalar", fn.numpy_maximum_scalar, (-1.3, 0.7), lambda x, y: S.Max(x, y)),
    OpCase("np.minimum-scalar", fn.numpy_minimum_scalar, (-1.3, 0.7), lambda x, y: S.Min(x, y)),
]

ARRAY_CASES = [
    # numpy elementwise functions on arrays
    OpCase("np.exp", fn.numpy_exp, (A34, W34)),
    OpCase("np.log", fn.numpy_log, (P34, W34)),
    OpCase("np.log1p", fn.numpy_log1p, (P34 - 1.2, W34)),
    OpCase("np.expm1", fn.numpy_expm1, (A34, W34)),
    OpCase("np.sqrt", fn.numpy_sqrt, (P34, W34)),
    OpCase("np.sin", fn.numpy_sin, (A34, W34)),
    OpCase("np.cos", fn.numpy_cos, (A34, W34)),
    OpCase("np.tan", fn.numpy_tan, (A34, W34)),
    OpCase("np.tanh", fn.numpy_tanh, (A34, W34)),
    OpCase("np.arctan", fn.numpy_arctan, (A34, W34)),
    OpCase("np.abs", fn.numpy_abs, (A34, W34)),
    OpCase("np.maximum", fn.numpy_maximum, (A34, B34, W34)),
    OpCase("np.minimum", fn.numpy_minimum, (A34, B34, W34)),
    OpCase("array-neg", fn.array_neg, (A34, W34)),
    OpCase("array-add", fn.array_add, (A34, B34, W34)),
    OpCase("array-sub", fn.array_sub, (A34, B34, W34)),
    OpCase("array-mul", fn.array_mul, (A34, B34, W34)),
    OpCase("array-div", fn.array_div, (A34, P34, W34)),
    OpCase("array-pow-constant", fn.array_pow_constant, (A34, W34)),
    OpCase("array-pow-variable", fn.array_pow_variable, (P34, Q34, W34)),
    # reductions
    OpCase("sum-axis-None", fn.sum_all, (A34,)),
    OpCase("sum-axis-None-weighted", fn.sum_all_weighted, (A34, W34)),
    OpCase("sum-axis-0", fn.sum_axis0, (A34, _array(4))),
    OpCase("sum-axis-1", fn.sum_axis1, (A34, _array(3))),
    OpCase("sum-axis-(0,1)", fn.sum_axis_both, (A34, W34)),
    OpCase("sum-axis-0-keepdims", fn.sum_axis0_keepdims, (A34, _array(1, 4))),
    OpCase("sum-axis-1-keepdims", fn.sum_axis1_keepdims, (A34, _array(3, 1))),
    OpCase("sum-axis-None-keepdims", fn.sum_none_keepdims, (A34, _array(1, 1))),
    OpCase("sum-axis-(0,1)-keepdims", fn.sum_axis_both_keepdims, (A34, _array(1, 1))),
    OpCase("sum-method", fn.sum_method, (A34, W34)),
    OpCase("sum-positional-axis", fn.sum_positional_axis, (A34, _array(3))),
    OpCase("mean-axis-None", fn.mean_all, (A34, W34)),
    OpCase("mean-axis-0", fn.mean_axis0, (A34, _array(4))),
    OpCase("mean-axis-1", fn.mean_axis1, (A34, _array(3))),
    OpCase("mean-axis-(0,1)", fn.mean_axis_both, (A34, W34)),
    OpCase("mean-axis-0-keepdims", fn.mean_axis0_keepdims, (A34, _array(1, 4))),
    OpCase("mean-axis-1-keepdims", fn.mean_axis1_keepdims, (A34, _array(3, 1))),
    OpCase("mean-axis-None-keepdims", fn.mean_none_keepdims, (A34, _array(1, 1))),
    OpCase("mean-axis-(0,1)-keepdims", fn.mean_axis_both_keepdims, (A34, _array(1, 1))),
    OpCase("mean-method", fn.mean_method, (A34, W34)),
    # products and transposes
    OpCase("matmul-2d@2d", fn.matmul_2d_2d, (A34, _array(4, 2), _array(3, 2))),
    OpCase("matmul-2d@1d", fn.matmul_2d_1d, (A34, _array(4), _array(3))),
    OpCase("matmul-1d@2d", fn.matmul_1d_2d, (_array(3), A34, _array(4))),
    OpCase("matmul-1d@1d", fn.matmul_1d_1d, (_array(4), _array(4))),
    OpCase("np.matmul-2d@2d", fn.np_matmul_2d_2d, (A34, _array(4, 2), _array(3, 2))),
    OpCase("dot-2d.2d", fn.dot_2d_2d, (A34, _array(4, 2), _array(3, 2))),
    OpCase("dot-2d.1d", fn.dot_2d_1d, (A34, _array(4), _array(3))),
    OpCase("dot-1d.2d", fn.dot_1d_2d, (_array(3), A34, _array(4))),
    OpCase("dot-1d.1d", fn.dot_1d_1d, (_array(4), _array(4))),
    OpCase("dot-method", fn.dot_method, (A34, _array(4, 2), _array(3, 2))),
    OpCase("transpose-.T", fn.transpose_attribute, (A34, W43)),
    OpCase("transpose-np.transpose", fn.transpose_function, (A34, W43)),
    OpCase("transpose-method", fn.transpose_method, (A34, _array(3, 2), _array(4, 2))),
    # broadcasting
    OpCase("broadcast-add-(3,1)x(1,4)", fn.broadcast_add, (_array(3, 1), _array(1, 4), W34)),
    OpCase("broadcast-add-(4,)x(3,4)", fn.broadcast_add, (_array(4), A34, W34)),
    OpCase("broadcast-add-(3,4)x(4,)", fn.broadcast_add, (A34, _array(4), W34)),
    OpCase("broadcast-add-scalar-x-array", fn.broadcast_add, (0.7, A34, W34)),
    OpCase(
        "broadcast-add-(3,1)x(1,4)-weights-(4,)",
        fn.broadcast_add,
        (_array(3, 1), _array(1, 4), _array(4)),
    ),
    OpCase("broadcast-sub-(3,1)x(1,4)", fn.broadcast_sub, (_array(3, 1), _array(1, 4), W34)),
    OpCase("broadcast-mul-(3,1)x(1,4)", fn.broadcast_mul, (_array(3, 1), _array(1, 4), W34)),
    OpCase("broadcast-mul-(4,)x(3,4)", fn.broadcast_mul, (_array(4), A34, W34)),
    OpCase("broadcast-mul-scalar-x-array", fn.broadcast_mul, (0.7, A34, W34)),
    OpCase("broadcast-mul-array-x-scalar", fn.broadcast_mul, (A34, -0.7, W34)),
    OpCase("broadcast-div-(3,1)x(1,4)", fn.broadcast_div, (_array(3, 1), _positive(1, 4), W34)),
    OpCase("broadcast-div-(4,)x(3,4)", fn.broadcast_div, (_array(4), P34, W34)),
    OpCase("broadcast-div-scalar-x-array", fn.broadcast_div, (0.7, P34, W34)),
    OpCase("broadcast-div-array-x-scalar", fn.broadcast_div, (A34, 1.7, W34)),
    OpCase("broadcast-pow-(3,1)x(1,4)", fn.broadcast_pow, (_positive(3, 1), _array(1, 4), W34)),
    OpCase("broadcast-pow-(4,)x(3,4)", fn.broadcast_pow, (_positive(4), Q34, W34)),
    OpCase("broadcast-pow-scalar-x-array", fn.broadcast_pow, (1.7, Q34, W34)),
    OpCase("broadcast-pow-array-x-scalar", fn.broadcast_pow, (P34, 1.7, W34)),
    OpCase(
        "broadcast-maximum-(3,1)x(1,4)", fn.broadcast_maximum, (_array(3, 1), _array(1, 4), W34)
    ),
]

ALL_CASES = SCALAR_CASES + ARRAY_CASES


def _compile(case: OpCase, optimize: bool):
    wrt = tuple(range(len(case.point)))
    return gradgen.grad(case.function, wrt=wrt, optimize=optimize)


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.id)
def test_gradient_matches_finite_differences(case: OpCase, optimize: bool) -> None:
    gradients = _compile(case, optimize)(*case.point)
    expected = central_differences(case.function, case.point)
    assert len(gradients) == len(case.point)
    for gradient, argument in zip(gradients, case.point):
        assert np.shape(gradient) == np.shape(argument)
    assert_gradients_close(gradients, expected, rtol=1e-6)


def _sympy_gradient(case: OpCase) -> list[float]:
    symbols = sympy.symbols(f"p0:{len(case.point)}", real=True)
    expression = case.symbolic(*symbols)
    at = dict(zip(symbols, case.point))
    return [float(sympy.diff(expression, s).evalf(subs=at)) for s in symbols]


SYMBOLIC_CASES = [case for case in SCALAR_CASES if case.symbolic is not None]


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize("case", SYMBOLIC_CASES, ids=lambda case: case.id)
def test_gradient_matches_sympy(case: OpCase, optimize: bool) -> None:
    gradients = _compile(case, optimize)(*case.point)
    expected = _sympy_gradient(case)
    for gradient, reference in zip(gradients, expected):
        assert math.isclose(gradient, reference, rel_tol=1e-12, abs_tol=1e-14), (
            gradient,
            reference,
        )


def test_the_table_covers_every_differentiable_op() -> None:
    """Every op with a rule appears in a forward graph of this table or of test_numpy_ops'."""
    from gradgen.ops import OPS
    from gradgen.parse import parse_function
    from tests.test_numpy_ops import CASES as NUMPY_CASES

    differentiable = {name for name, spec in OPS.items() if spec.rule is not None and name not in ("copy", "cast")}
    covered = {
        equation.op
        for case in [*ALL_CASES, *NUMPY_CASES]
        for equation in parse_function(case.function).graph.equations
    }
    assert differentiable <= covered, (
        f"ops with no row in the tables: {sorted(differentiable - covered)}"
    )
    ids = [case.id for case in ALL_CASES]
    assert len(ids) == len(set(ids))


# -- kinds of inputs and outputs ------------------------------------------------------------


INTEGER_CASES = [
    ("mul-and-add", fn.integer_friendly, (3, 4)),
    ("add", fn.add, (3, 4)),
    ("sub", fn.sub, (3, 4)),
    ("mul", fn.mul, (3, 4)),
    ("div", fn.div, (3, 4)),
    ("neg", fn.neg, (3, 4)),
    ("pow-constant-int", fn.pow_constant_int, (3,)),
    ("pow-variable", fn.pow_variable, (3, 2)),
    ("abs", fn.builtin_abs, (-3,)),
    ("max", fn.builtin_max, (3, 4)),
    ("min", fn.builtin_min, (3, 4)),
    ("np.maximum", fn.numpy_maximum_scalar, (3, 4)),
    ("math.exp", fn.math_exp, (1,)),
    ("math.sqrt", fn.math_sqrt, (4,)),
    ("ignores-y", fn.ignores_y, (3, 4)),
]


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize(
    "function, point", [c[1:] for c in INTEGER_CASES], ids=[c[0] for c in INTEGER_CASES]
)
def test_integer_scalars_get_float_gradients(function, point, optimize: bool) -> None:
    gradients = gradgen.grad(function, wrt=tuple(range(len(point))), optimize=optimize)(*point)
    for gradient in gradients:
        assert isinstance(gradient, float), f"{gradient!r} is a {type(gradient).__name__}"
    expected = central_differences(function, tuple(float(p) for p in point))
    assert_gradients_close(gradients, expected, rtol=1e-6)


def test_integer_scalar_gradient_of_a_single_parameter_is_a_float() -> None:
    gradient = gradgen.grad(fn.pow_constant_int)(3)
    assert isinstance(gradient, float) and gradient == 27.0


INTEGER_ARRAY_CASES = [
    (
        "mul-and-sum",
        fn.array_integer_friendly,
        (np.arange(6).reshape(2, 3), np.arange(6).reshape(2, 3) - 2),
    ),
    ("matmul-1d@1d", fn.matmul_1d_1d, (np.arange(4), np.arange(4) + 1)),
    ("sum", fn.sum_all, (np.arange(6).reshape(2, 3),)),
    (
        "broadcast-add",
        fn.broadcast_add,
        (np.arange(3).reshape(3, 1), np.arange(4), np.ones((3, 4), dtype=int)),
    ),
    ("transpose", fn.transpose_attribute, (np.arange(6).reshape(2, 3), np.arange(6).reshape(3, 2))),
    ("ignores-array", fn.ignores_array, (np.arange(3), np.arange(4))),
]


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize(
    "function, point", [c[1:] for c in INTEGER_ARRAY_CASES], ids=[c[0] for c in INTEGER_ARRAY_CASES]
)
def test_integer_arrays_get_float_gradients(function, point, optimize: bool) -> None:
    gradients = gradgen.grad(function, wrt=tuple(range(len(point))), optimize=optimize)(*point)
    for gradient, argument in zip(gradients, point):
        assert isinstance(gradient, np.ndarray), f"{gradient!r} is not an array"
        assert gradient.dtype.kind == "f", f"gradient dtype {gradient.dtype}"
        assert gradient.shape == argument.shape
    expected = central_differences(function, tuple(np.asarray(p, dtype=float) for p in point))
    assert_gradients_close(gradients, expected, rtol=1e-6)


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
def test_unused_scalar_parameter_gets_zero(optimize: bool) -> None:
    grad_x, grad_y = gradgen.grad(fn.ignores_y, wrt=("x", "y"), optimize=optimize)(1.5, 2.5)
    assert grad_x == 3.0
    assert grad_y == 0.0 and isinstance(grad_y, float)


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
def test_unused_array_parameter_gets_zeros_of_its_shape(optimize: bool) -> None:
    a, b = _array(3), _array(2, 5)
    grad_a, grad_b = gradgen.grad(fn.ignores_array, wrt=(0, 1), optimize=optimize)(a, b)
    np.testing.assert_allclose(grad_a, 2 * a, rtol=1e-15)
    assert isinstance(grad_b, np.ndarray) and grad_b.shape == (2, 5) and grad_b.dtype.kind == "f"
    assert not grad_b.any()


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
def test_unused_parameters_of_every_kind_get_zeros(optimize: bool) -> None:
    x, a, b = 1.5, np.arange(6).reshape(2, 3), _array(4)
    grad_x, grad_a, grad_b = gradgen.grad(
        fn.ignores_scalar_and_array, wrt=(0, 1, 2), optimize=optimize
    )(x, a, b)
    assert grad_x == 0.0 and np.ndim(grad_x) == 0
    assert grad_a.shape == (2, 3) and grad_a.dtype.kind == "f" and not grad_a.any()
    np.testing.assert_allclose(grad_b, 6.0 * b, rtol=1e-15)


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
def test_constant_output_gives_zero_gradients(optimize: bool) -> None:
    grad_x, grad_a = gradgen.grad(fn.ignores_everything, wrt=(0, 1), optimize=optimize)(
        1.5, _array(2, 2)
    )
    assert grad_x == 0.0
    assert grad_a.shape == (2, 2) and not grad_a.any()
