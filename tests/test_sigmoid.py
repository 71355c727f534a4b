"""The sigmoid's slope (passes/products.py): ``L * (1 - L)``, as fast and as finite as by hand."""

import math

import numpy as np
import pytest

import gradgen


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def logistic_loss(w, b, x, t, lam):
    z = w * x + b
    y = sigmoid(z)
    return 0.5 * (y - t) ** 2 + lam * 0.5 * w**2


def array_sigmoid_sum(z):
    return np.sum(1.0 / (1.0 + np.exp(-z)))


def array_sigmoid_loss(w, x, t):
    y = 1.0 / (1.0 + np.exp(-(x * w)))
    return np.sum((y - t) ** 2)


def logistic_by_hand(w, b, x, t, lam):
    """The seeds' error signals: z_bar = (y - t) * y * (1 - y), w_bar = z_bar * x + lam * w."""
    y = sigmoid(w * x + b)
    z_bar = (y - t) * y * (1.0 - y)
    return z_bar * x + lam * w, z_bar


def test_the_logistic_backward_is_the_hand_written_one():
    gradient = gradgen.grad(logistic_loss, wrt=("w", "b"))
    source = gradient.source_for(1.5, -0.5, 2.0, 0.0, 0.1)
    assert "grad_y * y * (1.0 - y)" in source and "grad_w = lam * w\n" in source
    assert "w ** 1" not in source and "t0" not in source  # no temporaries kept
    for point in [(1.5, -0.5, 2.0, 0.0, 0.1), (-0.3, 2.0, -1.5, 1.0, 0.5), (2, 1, 3, 1.0, 0.25)]:
        np.testing.assert_allclose(gradient(*point), logistic_by_hand(*point), rtol=1e-13)


def test_the_scalar_slope_is_finite_where_the_forward_is():
    gradient = gradgen.grad(logistic_loss, wrt=("w", "b"))
    # z = 800: exp(-z) underflows to 0, y = 1 and the slope is exactly 0
    assert gradient(400.0, 0.0, 2.0, 1.0, 0.0) == (0.0, 0.0)
    # z = -800: math.exp(800) overflows in the forward, so the gradient raises as it does
    with pytest.raises(OverflowError):
        logistic_loss(-400.0, 0.0, 2.0, 0.0, 0.0)
    with pytest.raises(OverflowError):
        gradient(-400.0, 0.0, 2.0, 0.0, 0.0)


def test_the_array_slope_has_no_nan_where_the_hand_written_one_has_none():
    z = np.array([-800.0, -50.0, -1.0, 0.0, 1.0, 50.0, 800.0])
    gradient = gradgen.grad(array_sigmoid_sum)
    with np.errstate(over="ignore"):  # exp(800) = inf in the forward, as by hand
        y = 1.0 / (1.0 + np.exp(-z))
        expected = y * (1.0 - y)
        specialized, generic = gradient(z), gradient.generic(z)
    assert not np.isnan(expected).any()
    np.testing.assert_allclose(specialized, expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(generic, expected, rtol=1e-12, atol=0)
    assert "1.0 - " in gradient.source_for(z).split("# backward")[1]


def test_the_array_slope_agrees_with_finite_differences_on_broadcast_shapes():
    rng = np.random.default_rng(5)
    gradient = gradgen.grad(array_sigmoid_loss, wrt=("w", "x"))
    for w_shape, x_shape in [((3,), (4, 3)), ((), (5,)), ((2, 1), (2, 4))]:
        w, x, t = rng.normal(size=w_shape), rng.normal(size=x_shape), rng.random(np.broadcast_shapes(w_shape, x_shape))
        grad_w, grad_x = gradient(w, x, t)
        for argument, computed, position in ((w, grad_w, 0), (x, grad_x, 1)):
            numeric = np.zeros(np.shape(argument))
            for index in np.ndindex(np.shape(argument)):
                step = np.zeros(np.shape(argument))
                step[index] = 1e-6
                args = [w, x, t]
                args[position] = argument + step
                above = array_sigmoid_loss(*args)
                args[position] = argument - step
                numeric[index] = (above - array_sigmoid_loss(*args)) / 2e-6
            np.testing.assert_allclose(computed, numeric, rtol=1e-6, atol=1e-8)
