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


def branches_on_equality(x):
    if x == 0.5:
        return x * x
    return x


def halving_with_branches(x, y):
    if x > 0:
        z = math.sin(x) * y
    elif y > 0:
        z = x * x * y
    else:
        z = math.exp(x) + y
    while abs(z) > 0.1:
        z = z / 2
    return z * x


def branches_on_an_array_sum(w):
    total = np.sum(w * w)
    if np.sum(w) > 0:
        return total * w[0]
    return total - w[1]


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


# --- numpy functions, checked at small concrete shapes ------------------------------------------


def squared_norm_of_product(W, x):
    # ||W x||^2: grad_W = 2 q x^T with q = W x.
    q = W @ x
    return np.sum(q**2)


def softmax_regression(W, x, b, t):
    z = W @ x + b
    y = np.exp(z) / np.sum(np.exp(z))
    L = -np.sum(t * np.log(y))
    return L


def two_layer_relu_net(x, W1, W2, y):
    # The seed's 2-layer net: s = x W1, a = relu(s), y_hat = a W2, squared error.
    s = x @ W1
    a = np.maximum(s, 0.0)
    y_hat = a @ W2
    return 0.5 * np.sum((y_hat - y) ** 2)


def broadcast_outer_sum(c, r):
    # (3, 1) + (1, 2) -> (3, 2): each gradient sums over the axis its argument was broadcast along.
    return np.sum(np.tanh(c + r) * np.sqrt(c * c + 1.0))


def array_output(x):
    return np.exp(x)


def math_on_an_array(x):
    return math.exp(x)
