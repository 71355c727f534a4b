"""Forward functions with vector outputs, for test_vector_outputs.py."""

import math

import numpy as np


def layer(x, W):
    return np.tanh(W @ x) * 2.0


def scalar_pair(x, y):
    return x * y + math.sin(x)


def scaled_sine(x, scale=2.0):
    return np.sin(x) * scale


def vector_sum(x):
    return np.sum(x * x)


def has_grad_out(x, grad_out):
    return x * grad_out
