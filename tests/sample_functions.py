"""Forward functions the sympy-bridge and CLI tests differentiate (gradgen reads their source)."""

import math
import math as m
from math import exp as e

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def neuron(w0, x0, w1, x1, w2):
    # The lecture's sigmoid neuron (seed 003), with sigmoid as a helper.
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = sigmoid(s3)
    return L


def through_module_alias(x, y):
    return m.exp(x * y) + m.log(x)


def through_imported_name(x):
    return e(2.0 * x)


def through_numpy(x):
    return np.log1p(np.exp(x)) + np.maximum(x, 0.0)


def with_builtins(x, y):
    return abs(x) + max(x, y) + min(x, 2.0 * y)


def lecture_quiz(x, z):
    # Seed 004: y = exp(xz) + xz / log(x) + sin(log(x)) / exp(xz)
    xz = x * z
    return math.exp(xz) + xz / math.log(x) + math.sin(math.log(x)) / math.exp(xz)


def cos_of_sin(x):
    # Seed 004: J = cos(sin(x^2) + 3x^2)
    return math.cos(math.sin(x**2) + 3 * x**2)


def softplus(x):
    return math.log1p(math.exp(x))


def branches_on_value(x):
    if x > 0:
        return x
    return -x


def imports_inside(x):
    import math

    return math.sqrt(x) * math.tanh(x)


def make_scaled_exp(scale):
    def scaled_exp(x):
        return scale * sigmoid(x) * math.exp(x)

    return scaled_exp


scaled_exp = make_scaled_exp(3.0)


def uses_factorial(x):
    return math.factorial(x)
