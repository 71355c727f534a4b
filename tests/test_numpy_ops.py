"""The numpy op table: every numpy op gradgen differentiates, checked against central
finite differences through all three code paths (optimized and specialized for the
arguments' shapes, unoptimized, and the generic backward), plus the conventions that finite
differences cannot check: ties of max/min, clip boundaries, np.where's untaken branch, and
finite gradients of the numerically stable forms at logits of +-1000.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

import gradgen
from gradgen import stamping
from tests import numpy_op_functions as fn

_rng = np.random.default_rng(4)


def _array(*shape: int, low: float = -1.5, high: float = 1.5) -> np.ndarray:
    return _rng.uniform(low, high, size=shape)


@dataclass(frozen=True)
class Case:
    id: str
    function: Callable[..., Any]
    point: tuple[Any, ...]
    wrt: tuple[int, ...] = (0,)
    # Whether the shapes decide every value, so that specialization compiles (no fallback).
    specializes: bool = True


X, W = _array(3, 4), _array(3, 4)
POSITIVE = _array(3, 4, low=0.3, high=2.0)
INSIDE = _array(3, 4, low=-0.9, high=0.9)
T, V = _array(2, 3, 4), _array(4, 2, 3)

CASES = [
    Case("square", fn.square, (X, W)),
    Case("clip-constant-bounds", fn.clip_constant_bounds, (X, W)),
    Case(
        "clip-array-bounds",
        fn.clip_array_bounds,
        (X, _array(4, low=-1.0, high=-0.2), _array(3, 1, low=0.2, high=1.0)),
        (0, 1, 2),
    ),
    Case("clip-lower-only", fn.clip_lower_only, (X, W)),
    Case("clip-upper-only", fn.clip_upper_only, (X, W)),
    Case("where", fn.where_select, (X, _array(4), W), (0, 1)),
    Case("log2-log10-sinh-cosh", fn.elementary_numpy, (POSITIVE, W)),
    Case("arcsin-arccos", fn.inverse_trig_numpy, (INSIDE, W)),
    Case(
        "arctan2-broadcast", fn.arctan2_numpy, (_array(3, 1), _array(4, low=0.2, high=1.0)), (0, 1)
    ),
    Case("math-functions", fn.math_functions, (1.3, 1.6), (0, 1)),
    Case("sign-abs-power", fn.sign_abs_power, (X, W)),
    Case("comparisons", fn.comparisons, (X, W)),
    Case("max-keepdims", fn.max_keepdims, (X, W)),
    Case("max-method-axis", fn.max_method_axis, (X, W)),
    Case("max-full", fn.max_full, (X,)),
    Case("min-method-full", fn.min_method_full, (X,)),
    Case("amin-axis", fn.amin_axis, (X, W)),
    Case("prod-axis", fn.prod_axis, (X, W)),
    Case("prod-method-full", fn.prod_method_full, (_array(2, 3, low=0.5, high=1.5),)),
    Case("norm-full", fn.norm_full, (X,)),
    Case("norm-rows", fn.norm_rows, (X, W)),
    Case("norm-vector-ord-2", fn.norm_vector_two, (X, W)),
    Case("norm-frobenius", fn.norm_frobenius, (X,)),
    Case("reshape-tuple", fn.reshape_tuple, (X, W)),
    Case("reshape-varargs-negative", fn.reshape_varargs_negative, (X, W)),
    Case("reshape-runtime-size", fn.reshape_runtime_size, (X, W)),
    Case("ravel-flatten", fn.ravel_and_flatten, (X, W)),
    Case("transpose-axes", fn.transpose_axes, (T, V)),
    Case("transpose-plain", fn.transpose_plain, (X, W)),
    Case("expand-dims-squeeze", fn.expand_and_squeeze, (X, W)),
    Case("concatenate", fn.concatenate_columns, (X, _array(3, 2), W), (0, 1)),
    Case("stack", fn.stack_last, (X, _array(3, 4), W), (0, 1)),
    Case("broadcast-to", fn.broadcast, (_array(4), W)),
    Case("index-int", fn.index_int, (X, W)),
    Case("index-slices", fn.index_slices, (X, W)),
    Case("index-tuple-mixed", fn.index_tuple_mixed, (X, W)),
    Case("index-newaxis", fn.index_newaxis, (X, W)),
    Case("index-repeated", fn.index_repeated, (_array(5),)),
    Case("index-runtime-int", fn.index_runtime, (_array(5, 3), 2), specializes=False),
    Case("index-tensor", fn.index_tensor, (T,)),
    Case("matmul-batched-by-matrix", fn.matmul_batched, (_array(2, 3, 4), _array(4, 5)), (0, 1)),
    Case(
        "matmul-batched-by-batched", fn.matmul_batched, (_array(2, 3, 4), _array(2, 4, 5)), (0, 1)
    ),
    Case("matmul-broadcast-batch", fn.matmul_batched, (_array(1, 3, 4), _array(2, 4, 5)), (0, 1)),
    Case("matmul-vector-by-batched", fn.matmul_function, (_array(4), _array(2, 4, 5)), (0, 1)),
    Case("matmul-batched-by-vector", fn.matmul_function, (_array(2, 3, 4), _array(4)), (0, 1)),
    Case("outer", fn.outer_product, (_array(3), _array(4), W), (0, 1)),
    Case("inner-matrices", fn.inner_product, (_array(3, 4), _array(2, 4)), (0, 1)),
    Case("inner-vectors", fn.inner_product, (_array(4), _array(4)), (0, 1)),
    Case("einsum-matmul", fn.einsum_matmul, (_array(3, 2), _array(2, 4), W), (0, 1)),
    Case("einsum-reductions", fn.einsum_reductions, (_array(3, 4), _array(4)), (0, 1)),
    Case(
        "einsum-three-operands", fn.einsum_three, (_array(2, 3), _array(3, 4), _array(4)), (0, 1, 2)
    ),
    Case("trace", fn.trace_matrix, (_array(3, 3),)),
    Case("sizes", fn.sizes, (X,)),
    Case("constructors", fn.constructors, (X,)),
    Case("runtime-constructors", fn.runtime_constructors, (X,)),
    Case("casts", fn.casts, (X,)),
    Case("softmax", fn.softmax_weighted, (X, W)),
    Case("logsumexp", fn.logsumexp, (X,)),
    Case("cross-entropy", fn.cross_entropy, (X, np.eye(3, 4))),
    Case("item-writes", fn.item_writes, (X, W)),
    Case("copied-argument-written", fn.copied_argument, (X, W), specializes=False),  # y[x.shape[0] - 1]: a run-time index
]


def central_differences(
    function: Callable[..., Any], point: tuple[Any, ...], index: int, step: float = 1e-6
) -> Any:
    base = np.array(point[index], dtype=float)
    gradient = np.zeros_like(base)
    for position in np.ndindex(base.shape):
        values = []
        for sign in (1.0, -1.0):
            moved = base.copy()
            moved[position] += sign * step
            argument = moved if np.ndim(point[index]) else float(moved)
            values.append(float(function(*point[:index], argument, *point[index + 1 :])))
        gradient[position] = (values[0] - values[1]) / (2 * step)
    return gradient


def _gradients(case: Case, path: str) -> tuple[Any, ...]:
    backward = gradgen.grad(case.function, wrt=case.wrt, optimize=path != "unoptimized")
    if path == "generic":
        backward = getattr(backward, "generic", backward)
    return backward(*case.point)


@pytest.mark.parametrize("path", ["specialized", "unoptimized", "generic"])
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_gradient_matches_finite_differences(case: Case, path: str) -> None:
    gradients = _gradients(case, path)
    for index, gradient in zip(case.wrt, gradients):
        expected = central_differences(case.function, case.point, index)
        assert np.shape(gradient) == np.shape(case.point[index])
        np.testing.assert_allclose(
            gradient, expected, rtol=1e-5, atol=1e-6, err_msg=f"d/d argument {index}"
        )


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.specializes and any(np.ndim(a) for a in c.point)],
    ids=lambda c: c.id,
)
def test_array_cases_specialize(case: Case) -> None:
    # Every shape rule is exercised: the specialized backward is compiled, not the fallback.
    backward = gradgen.grad(case.function, wrt=case.wrt)
    stamping.stamp_shapes(backward.graph, case.point)
    assert backward.source_for(*case.point) != backward.source or "runtime" not in backward.source


@pytest.mark.parametrize("path", ["specialized", "unoptimized", "generic"])
class TestConventions:
    def test_max_splits_the_gradient_equally_among_ties(self, path: str) -> None:
        case = Case("ties", fn.max_full, (np.array([[1.0, 3.0], [3.0, 2.0]]),))
        np.testing.assert_array_equal(_gradients(case, path)[0], [[0.0, 1.5], [1.5, 0.0]])

    def test_min_splits_ties_along_its_axis(self, path: str) -> None:
        x = np.array([[1.0, 1.0, 2.0, 1.0], [0.0, 5.0, 6.0, 7.0], [2.0, 2.0, 2.0, 2.0]])
        case = Case("ties", fn.amin_axis, (x, np.ones((3, 4))))
        expected = [[1 / 3, 1 / 3, 0.0, 1 / 3], [1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]]
        np.testing.assert_allclose(_gradients(case, path)[0], expected)

    def test_clip_passes_the_gradient_at_its_bounds(self, path: str) -> None:
        x = np.array([[-0.5, 0.5, -0.7, 0.2]])
        w = np.array([[1.0, 2.0, 3.0, 4.0]])
        case = Case("clip", fn.clip_constant_bounds, (x, w))
        np.testing.assert_array_equal(_gradients(case, path)[0], [[1.0, 2.0, 0.0, 4.0]])

    def test_clip_bounds_get_the_gradient_outside(self, path: str) -> None:
        x, lo, hi = (
            np.array([-2.0, 0.0, 2.0]),
            np.array([-1.0, -1.0, -1.0]),
            np.array([1.0, 1.0, 1.0]),
        )
        gradients = _gradients(Case("clip", fn.clip_array_bounds, (x, lo, hi), (0, 1, 2)), path)
        np.testing.assert_array_equal(gradients[1], [-2.0, 0.0, 0.0])
        np.testing.assert_array_equal(gradients[2], [0.0, 0.0, 2.0])

    def test_where_gives_exact_zeros_to_the_untaken_branch(self, path: str) -> None:
        x, y = np.array([[1.0, -1.0]]), np.array([2.0, 3.0])
        gradients = _gradients(
            Case("where", fn.where_select, (x, y, np.ones((1, 2))), (0, 1)), path
        )
        np.testing.assert_array_equal(gradients[0], [[2.0, 0.0]])
        np.testing.assert_array_equal(gradients[1], [1.0, 6.0])

    def test_where_guarding_log_has_no_nan(self, path: str) -> None:
        x = np.array([2.0, 0.0, -1.0])
        with np.errstate(divide="ignore", invalid="ignore"):
            (gradient,) = _gradients(Case("where-log", fn.where_log_guard, (x,)), path)
        np.testing.assert_array_equal(gradient, [0.5, 0.0, 0.0])

    @pytest.mark.parametrize("scale", [1000.0, -1000.0])
    def test_stable_forms_are_finite_at_large_logits(self, path: str, scale: float) -> None:
        z = np.array([[1.0, 0.0, -1.0, 0.5], [0.2, 0.1, 0.0, -0.3]]) * scale
        w = np.arange(8.0).reshape(2, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow, no nan on the way
            (softmax,) = _gradients(Case("softmax", fn.softmax_weighted, (z, w)), path)
            (lse,) = _gradients(Case("lse", fn.logsumexp, (z,)), path)
            (ce,) = _gradients(Case("ce", fn.cross_entropy, (z, np.eye(2, 4))), path)
        for gradient in (softmax, lse, ce):
            assert np.all(np.isfinite(gradient))
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(ce, (p - np.eye(2, 4)) / 2, atol=1e-12)
        np.testing.assert_allclose(
            softmax, p * (w - np.sum(p * w, axis=1, keepdims=True)), atol=1e-12
        )


@pytest.mark.parametrize(
    "function, words",
    [
        (fn.refused_einsum_implicit, ("explicit output",)),
        (fn.refused_einsum_diagonal, ("repeated index",)),
        (fn.refused_norm_order, ("ord=1", "Frobenius")),
        (fn.refused_concatenate_array, ("tuple or list",)),
        (fn.refused_concatenate_flat, ("axis=None",)),
        (fn.refused_run_time_axis, ("'axis' must be a constant",)),
        (fn.refused_float_index, ("index",)),
        (fn.refused_astype_string, ("dtype",)),
    ],
    ids=lambda item: getattr(item, "__name__", ""),
)
def test_unsupported_numpy_uses_are_refused_where_they_are_written(function, words) -> None:
    with pytest.raises(gradgen.GradgenError) as info:
        gradgen.grad(function)
    error = info.value
    _, first_line = inspect.getsourcelines(function)
    assert error.location is not None and error.location.line == first_line + 1
    assert error.hint
    for word in words:
        assert word in str(error)
