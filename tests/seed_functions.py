"""Forward functions from the seed lectures, used by the unit tests (gradgen reads source)."""

import math

import numpy as np
from math import exp as e


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def neuron(w0, x0, w1, x1, w2):
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = sigmoid(s3)
    return L


def add_mul(x, y, z):
    q = x + y
    f = q * z
    return f


def reassigned(a: float, b: float):
    a = a * a
    a = a * b
    s = a
    s += b
    return s


def aliased_exp(x):
    return e(x) + np.exp(x)


def tuple_assign(x, y):
    p, q = x * y, x + y
    return p * q


def nested(x):
    """A docstring, a print and an assert are left out of the graph."""
    print("computing", x)
    assert x == x
    return math.sin(math.cos(x * x))


LAMBDA = 0.1


def uses_global(w):
    return LAMBDA * w * w


def with_defaults(x, scale=2.0, *, shift=1.0):
    return scale * x + shift


def annotated(x: float, W: np.ndarray):
    return np.sum(W * x)


def two_layer_loss(W1, W2, x, y):
    s = x.dot(W1)
    a = np.maximum(s, 0)
    y_hat = a.dot(W2)
    return 0.5 * np.sum((y_hat - y) ** 2.0)


def fan_out(x):
    return x * x + x


def only_x_matters(x, y):
    return x * 2.0 + y * y


def unused_parameter(x, y):
    return x * 3.0


def array_add(a, b):
    return np.sum(a + b)


def scalar_times_array(w: float, x):
    return np.sum(w * x)


def unknown_output(x, y):
    return x * y


def shadowing(np, math):
    return max(np, math) * np


def unused_scalar(x, y: float):
    return x * 3.0


def weighted_sum(w, x):
    return np.sum(w * x)


def dead_product_of_numbers(w, x):
    unused = w @ x  # noqa: F841  (TypeError for two floats, as the gradient must raise too)
    return np.sum(w * x)


def dead_domain_error(x):
    unused = math.log(-x)
    spare = x * 3.0
    return x * x
