"""Functions at non-differentiable points and domain edges, for test_conventions.py."""

import math

import numpy as np


def root(x):
    return math.sqrt(x)


def np_root(x):
    return np.sum(np.sqrt(x))


def half_power(x):
    return x ** 0.5


def three_halves(x):
    return x ** 1.5


def relu_sum(s):
    return np.sum(np.maximum(s, 0))


def relu_first_zero(s):
    return np.sum(np.maximum(0, s))


def same_max(x):
    return max(x, x)


def absolute(x):
    return abs(x)


def math_log(x):
    return math.log(x)


def numpy_log(x):
    return np.sum(np.log(x))
