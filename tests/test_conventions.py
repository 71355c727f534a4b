"""One documented convention at every non-differentiable point and domain edge (README,
"Conventions"); values outside a domain give what math or numpy give, never a gradgen error."""

import math

import numpy as np
import pytest

import gradgen
from tests import convention_functions as fn


@pytest.mark.parametrize("function", [fn.root, fn.half_power])
def test_the_derivative_of_a_square_root_at_zero_is_infinite_not_an_exception(function):
    gradient = gradgen.grad(function)
    assert gradient(0.0) == math.inf and type(gradient(0.0)) is float
    assert gradient(0) == math.inf  # an int argument takes the general code: same convention
    assert gradient(4.0) == pytest.approx(0.25)


def test_numpy_square_root_at_zero_is_infinite_as_numpy_divides():
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(gradgen.grad(fn.np_root)(np.array([0.0, 4.0])), [np.inf, 0.25])


def test_a_power_above_one_is_differentiable_at_zero():
    assert gradgen.grad(fn.three_halves)(0.0) == 0.0


def test_ties_go_to_the_first_argument():
    np.testing.assert_array_equal(gradgen.grad(fn.relu_sum)(np.array([-1.0, 0.0, 2.0])), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(gradgen.grad(fn.relu_first_zero)(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0])
    assert gradgen.grad(fn.same_max)(3.0) == 1.0


def test_abs_has_derivative_zero_at_zero():
    gradient = gradgen.grad(fn.absolute)
    assert (gradient(-2.0), gradient(0.0), gradient(2.0)) == (-1.0, 0.0, 1.0)


def test_outside_a_domain_math_raises_as_math_does_and_numpy_gives_nan():
    with pytest.raises(ValueError):
        math.log(-1.0)
    with pytest.raises(ValueError):  # the gradient recomputes the forward, which raises
        gradgen.grad(fn.math_log)(-1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(fn.numpy_log(np.array([-1.0])))
        np.testing.assert_array_equal(gradgen.grad(fn.numpy_log)(np.array([-1.0, 0.0])), [-1.0, np.inf])
