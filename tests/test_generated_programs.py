"""Differential testing on random straight-line programs (see program_generator.py).

Every generated program is written to a file, imported, and differentiated with respect to all
of its parameters. Oracles: central finite differences (all programs) and sympy built from the
same program tree (scalar programs). Invariants: optimize=True and optimize=False agree; the
optimized graph is no larger; both graphs verify; compiling twice gives the same source;
value_and_grad's value is the forward's; shape-specialized code agrees with the generic code.

``GRADGEN_FUZZ_EXAMPLES=5000`` (or ``pytest --runslow``) runs that many programs of each kind,
with fresh randomness; the default run is small, fast and deterministic.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings

import gradgen
from gradgen.ir import verify
from tests import regressions
from tests.program_generator import (
    Program,
    assert_gradients_close,
    central_differences,
    numpy_programs,
    scalar_programs,
)

FUZZ_EXAMPLES = int(os.environ.get("GRADGEN_FUZZ_EXAMPLES", "0"))
SCALAR_EXAMPLES = FUZZ_EXAMPLES or 200
NUMPY_EXAMPLES = FUZZ_EXAMPLES or 150
INTEGER_EXAMPLES = FUZZ_EXAMPLES // 5 or 50

# Points closer than this to a kink of abs/max/min (or a comparison flipping) are skipped.
KINK_MARGIN = 1e-3

_counter = itertools.count()


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=not FUZZ_EXAMPLES,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


@pytest.fixture(scope="module")
def program_directory(tmp_path_factory):
    return tmp_path_factory.mktemp("generated_programs")


def _is_float_scalar(value) -> bool:
    return isinstance(value, float) or (
        isinstance(value, np.generic) and np.issubdtype(type(value), np.floating)
    )


def _check_gradient_kinds(gradients, point) -> None:
    for gradient, argument in zip(gradients, point):
        if np.ndim(argument) == 0:
            assert np.ndim(gradient) == 0, (
                f"gradient of a scalar argument has shape {np.shape(gradient)}"
            )
        else:
            assert isinstance(gradient, np.ndarray), (
                f"gradient {gradient!r} of an array argument is not an array"
            )
            assert gradient.shape == np.shape(argument)
            assert gradient.dtype.kind == "f", gradient.dtype


def check_program(program: Program, directory, *, with_sympy: bool) -> None:
    """Compile ``program``'s gradient and check it against every oracle and invariant."""
    source = program.source()
    note(source)
    point = program.point()
    note(f"point = {point!r}")
    margin = program.kink_margin(point)
    assume(margin >= KINK_MARGIN)

    module_name = f"generated_{os.getpid()}_{next(_counter)}"
    forward = program.load(directory, module_name).forward
    try:
        _check_compiled(program, forward, point, with_sympy=with_sympy)
    finally:
        sys.modules.pop(module_name, None)


def _check_compiled(program: Program, forward, point, *, with_sympy: bool) -> None:
    wrt = tuple(range(len(program.parameters)))
    optimized = gradgen.grad(forward, wrt=wrt)
    unoptimized = gradgen.grad(forward, wrt=wrt, optimize=False)
    note(optimized.source)

    verify(optimized.graph)
    verify(unoptimized.graph)
    assert len(optimized.graph.equations) <= len(unoptimized.graph.equations)
    assert gradgen.grad(forward, wrt=wrt).source == optimized.source, (
        "compiling twice gave different source"
    )

    copies = [np.copy(argument) for argument in point]
    gradients = optimized(*point)
    assert isinstance(gradients, tuple) and len(gradients) == len(point)
    _check_gradient_kinds(gradients, point)
    assert_gradients_close(unoptimized(*point), gradients, rtol=1e-9)
    assert_gradients_close(optimized(*point), gradients, rtol=0.0)  # a second call (cached)
    generic = getattr(optimized, "generic", None)
    if generic is not None:  # array arguments: the shape-specialized code agrees with the generic
        assert_gradients_close(generic(*point), gradients, rtol=1e-9)
        again = gradgen.grad(forward, wrt=wrt)
        assert again.source_for(*point) == optimized.source_for(*point), (
            "specializing twice gave different source"
        )
    for argument, copy in zip(point, copies):  # no argument is written (passes/buffers.py)
        np.testing.assert_array_equal(argument, copy)

    value, value_gradients = gradgen.value_and_grad(forward, wrt=wrt)(*point)
    assert_gradients_close([value], [forward(*point)], rtol=1e-12)
    assert_gradients_close(value_gradients, gradients, rtol=1e-12)

    expected = central_differences(forward, point)
    assert_gradients_close(gradients, expected, rtol=1e-5)

    if with_sympy:
        symbolic = program.sympy_gradient(point)
        for index, (gradient, reference) in enumerate(zip(gradients, symbolic)):
            assert math.isclose(
                gradient, reference, rel_tol=1e-7, abs_tol=1e-9 * max(1.0, abs(reference))
            ), f"d/d{program.parameters[index][0]}: gradgen {gradient!r}, sympy {reference!r}"


@_settings(SCALAR_EXAMPLES)
@given(program=scalar_programs())
def test_scalar_programs(program: Program, program_directory) -> None:
    check_program(program, program_directory, with_sympy=True)


@_settings(NUMPY_EXAMPLES)
@given(program=numpy_programs())
def test_numpy_programs(program: Program, program_directory) -> None:
    check_program(program, program_directory, with_sympy=False)


def check_integer_inputs(program: Program, directory) -> None:
    """Integer arguments get the float gradients of the same values given as floats.

    No finite differences here, so kinks do not matter: ints and floats take the same branches.
    """
    note(program.source())
    integers = program.integer_point()
    floats = tuple(
        float(value) if np.ndim(value) == 0 else value.astype(float) for value in integers
    )
    note(f"point = {integers!r}")
    module_name = f"generated_{os.getpid()}_{next(_counter)}"
    forward = program.load(directory, module_name).forward
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                forward(*integers)
                forward(*floats)
        except (ArithmeticError, ValueError, TypeError, RuntimeWarning):
            # e.g. an integer array to a negative integer power, or an in-place float update
            # of an integer array: the forward itself fails on these integers
            assume(False)
        gradient = gradgen.grad(forward, wrt=tuple(range(len(integers))))
        from_floats = gradient(*floats)
        from_integers = gradient(*integers)  # the same compiled function, another dtype
        _check_gradient_kinds(from_integers, integers)
        for value in from_integers:
            if np.ndim(value) == 0:
                assert _is_float_scalar(value), f"{value!r} is not a float"
        assert_gradients_close(from_integers, from_floats, rtol=1e-12)
    finally:
        sys.modules.pop(module_name, None)


@_settings(INTEGER_EXAMPLES)
@given(program=scalar_programs())
def test_scalar_programs_on_integers(program: Program, program_directory) -> None:
    check_integer_inputs(program, program_directory)


@_settings(INTEGER_EXAMPLES)
@given(program=numpy_programs())
def test_numpy_programs_on_integers(program: Program, program_directory) -> None:
    check_integer_inputs(program, program_directory)


# -- regressions: minimal repros of bugs these tests found ---------------------------------------


@dataclass(frozen=True)
class Regression:
    id: str
    function: Callable[..., Any]
    point: tuple[Any, ...]
    bug: str  # what gradgen does; empty once fixed
    optimize_only: bool = False  # the bug is in the optimizer: optimize=False is right
    may_refuse: bool = False  # a clear GradgenError would also be a fix
    scalar_gradients: bool = False  # also require float (not 0-d array) gradients for floats


_rng = np.random.default_rng(7)
VECTOR = np.array([0.5, -0.3, 1.2, -0.9])

REGRESSIONS = [
    Regression(
        "negative-axis",
        regressions.negative_axis,
        (_rng.normal(size=(3, 4)), _rng.normal(size=3)),
        "",  # fixed: UnsupportedSyntaxError: 'axis' must be a constant here
    ),
    Regression(
        "negative-axis-in-tuple",
        regressions.negative_axis_tuple,
        (_rng.normal(size=(3, 4)),),
        "",  # fixed: UnsupportedSyntaxError: 'axis' must be a constant here
    ),
    Regression(
        "bool-times-minus-one",
        regressions.bool_times_minus_one,
        (VECTOR,),
        "",  # fixed: TypeError: numpy boolean negative (simplify: b * -1 -> -b)
        optimize_only=True,
    ),
    Regression(
        "bool-times-one-added",
        regressions.bool_times_one_added,
        (VECTOR,),
        "",  # fixed: gradient 1 instead of 2 (simplify: b * 1 -> b, then b + b is a logical or)
        optimize_only=True,
    ),
    Regression(
        "bool-plus-zero-added",
        regressions.bool_plus_zero_added,
        (VECTOR,),
        "",  # fixed: gradient 1 instead of 2 (simplify: b + 0 -> b)
        optimize_only=True,
    ),
    Regression(
        "in-place-alias",
        regressions.in_place_alias,
        (VECTOR,),
        "",  # fixed: gradient 1 instead of 2: ndarray += mutates an aliased array (now refused)
        may_refuse=True,
    ),
    # Fixed: was AttributeError: 'float' object has no attribute 'T'.
    Regression("transpose-of-scalar", regressions.transpose_of_scalar, (0.3, 0.7), bug=""),
    # Fixed: was KeyError: 'numpy' in emit.
    Regression("float-cast", regressions.float_cast, (3.0, 2.0), bug=""),
    Regression(
        "batched-matmul-vector",
        regressions.batched_matmul_vector,
        (_rng.normal(size=(2, 3, 4)), _rng.normal(size=4), _rng.normal(size=(2, 3))),
        "",  # fixed: ValueError in runtime.matmul_vjp_right
        may_refuse=True,
    ),
    Regression(
        "vector-batched-matmul",
        regressions.vector_batched_matmul,
        (_rng.normal(size=4), _rng.normal(size=(2, 4, 3)), _rng.normal(size=(2, 3))),
        "",  # fixed: ValueError in runtime.matmul_vjp_left
        may_refuse=True,
    ),
    Regression(
        "dot-three-dimensional",
        regressions.dot_three_dimensional,
        (_rng.normal(size=(2, 3, 4)), _rng.normal(size=(2, 4, 5)), _rng.normal(size=(2, 3, 2, 5))),
        "",  # fixed: ValueError in runtime.matmul_vjp_left (np.dot is not matmul for N-D)
        may_refuse=True,
    ),
    Regression(
        "sum-of-keepdims-sum",
        regressions.sum_of_keepdims_sum,
        (_rng.normal(size=(2, 3)),),
        "",  # fixed: GraphError: t#4 used before it is defined (shape specialization)
        optimize_only=True,
    ),
    Regression(
        "sum-of-keepdims-sum-size-one",
        regressions.sum_of_keepdims_sum,
        (_rng.normal(size=1),),
        "",  # fixed: GraphError: t#4 used before it is defined (shape specialization)
        optimize_only=True,
    ),
    Regression(
        "sum-of-keepdims-mean",
        regressions.sum_of_keepdims_mean,
        (_rng.normal(size=3),),
        "",  # fixed: GraphError: t#4 used before it is defined (shape specialization)
        optimize_only=True,
    ),
    Regression(
        "sum-of-keepdims-mean-size-one",
        regressions.sum_of_keepdims_mean,
        (_rng.normal(size=(1, 1)),),
        "",  # fixed: GraphError: output grad_x#4 is never defined (shape specialization)
        optimize_only=True,
    ),
    Regression(
        "sum-of-keepdims-axis-sum",
        regressions.sum_of_keepdims_axis_sum,
        (_rng.normal(size=(2, 3)),),
        "",  # fixed: GraphError: t#4 used before it is defined (shape specialization)
        optimize_only=True,
    ),
    Regression(
        "chained-keepdims-sums",
        regressions.chained_keepdims_sums,
        (_rng.normal(size=(2, 3)),),
        "",  # fixed: GraphError: t#9 used before it is defined (specialization of chained keepdims)
        optimize_only=True,
    ),
    Regression(
        "chained-keepdims-sums-weighted",
        regressions.chained_keepdims_sums_weighted,
        (_rng.normal(size=(4, 1)), np.array([[0.7]])),
        "",  # fixed: GraphError: t#12 used before it is defined (specialization of chained keepdims)
        optimize_only=True,
    ),
    Regression(
        "chained-keepdims-means-fan-out",
        regressions.chained_keepdims_means_fan_out,
        (_rng.normal(size=(4, 1)), np.array([[0.7]])),
        "",  # fixed: GraphError: output grad_x#20 is never defined (specialization of chained keepdims)
        optimize_only=True,
    ),
    Regression(
        "math-fabs-of-int",
        regressions.math_fabs_of_int,
        (2, 3),
        "",  # fixed: grad for x is the int 3, not 3.0: math.fabs is emitted as the builtin abs
        optimize_only=True,  # unoptimized, the seed's 1.0 * abs(y) makes it a float
        scalar_gradients=True,
    ),
    Regression(
        "builtin-max-of-int",
        regressions.builtin_max_of_int,
        (3, 4),
        "",  # fixed: grad for y is the int 3, not 3.0: simplify takes builtin max(x, 2.0) for a float
        optimize_only=True,
        scalar_gradients=True,
    ),
    Regression(
        "scalar-through-sum",
        regressions.scalar_through_sum,
        (1.5,),
        "",  # fixed: returns array(1.) (a 0-d ndarray) for a float argument
        scalar_gradients=True,
    ),
]


def _regression_params():
    for case in REGRESSIONS:
        for optimize in (True, False):
            broken = bool(case.bug) and (optimize or not case.optimize_only)
            marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if broken else []
            yield pytest.param(
                case,
                optimize,
                marks=marks,
                id=f"{case.id}-{'optimized' if optimize else 'unoptimized'}",
            )


@pytest.mark.parametrize("case, optimize", list(_regression_params()))
def test_regression(case: Regression, optimize: bool) -> None:
    """Each repro's gradient matches finite differences (xfail, strict, while the bug is open)."""
    wrt = tuple(range(len(case.point)))
    try:
        gradients = gradgen.grad(case.function, wrt=wrt, optimize=optimize)(*case.point)
    except gradgen.GradgenError:
        if case.may_refuse:
            return
        raise
    _check_gradient_kinds(gradients, case.point)
    if case.scalar_gradients:
        for gradient, argument in zip(gradients, case.point):
            if np.ndim(argument) == 0:
                assert _is_float_scalar(gradient), f"{gradient!r} is not a float"
    assert_gradients_close(gradients, central_differences(case.function, case.point), rtol=1e-6)
