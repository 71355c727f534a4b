"""Forward functions with loops over sequences, break and continue, differentiated by tests/test_loops.py."""

# ruff: noqa
import math

import numpy as np

SCALES = (0.5, 2.0, -1.0)
BUDGET = 10


# -- sequences known while parsing (unrolled) ----------------------------------------------


def tuple_of_values(x, y):
    s = 1.0
    for c in (x, 2.0, y):
        s = s * c + 1.0
    return s


def module_tuple(x):
    s = x
    for c in SCALES:
        s = math.sin(s) * c
    return s


def list_bound_to_a_name(x, y):
    factors = [x, y, x * y]
    s = 0.0
    for f in factors:
        s = s + f * f
    return s


def enumerate_static(x, y):
    s = 0.0
    for k, v in enumerate((x, y, x * y), 1):
        s = s + k * v * v
    return s


def zip_static_with_range(x, y):
    s = 0.0
    for v, k in zip((x, y, x + y), range(1, 100)):
        s = s + math.sin(k * v)
    return s


def break_in_unrolled(x, y):
    s = 0.0
    for v in (x, y, x * y):
        if s > 2.0:
            break
        s = s + v * v
    return s


def two_layer_mlp(x, W1, b1, W2, b2):
    Ws = (W1, W2)
    bs = [b1, b2]
    h = x
    for W, b in zip(Ws, bs):
        h = np.tanh(h @ W + b)
    return np.sum(h * h)


def layers_as_pairs(x, W1, b1, W2, b2):
    h = x
    for W, b in ((W1, b1), (W2, b2)):
        h = np.maximum(h @ W + b, 0.0)
    return np.sum(h)


# -- run-time sequences (loops) -------------------------------------------------------------


def rows_loss(X, w):
    loss = 0.0
    for row in X:
        loss = loss + np.log(1.0 + np.exp(-(row @ w)))
    return loss


def rows_loss_by_index(X, w):
    loss = 0.0
    for i in range(len(X)):
        row = X[i]
        loss = loss + np.log(1.0 + np.exp(-(row @ w)))
    return loss


def weighted_rows(X, weights):
    total = 0.0
    for k, row in enumerate(X):
        total = total + weights[k] * np.sum(row * row)
    return total


def zip_arrays(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s = s + a * b * b
    return s


def zip_with_run_time_range(x, y, n):
    s = 0.0
    for k, a in zip(range(1, n), x):
        s = s + k * a * y[k]
    return s


def enumerate_zip(x, y):
    s = 0.0
    for k, (a, b) in enumerate(zip(x, y), 1):
        s = s + k * math.sin(a * b)
    return s


def rows_then_entries(X):
    s = 0.0
    for row in X:
        for v in row:
            s = s + v * v * v
    return s


def skip_negative(x):
    s = 0.0
    for v in x:
        if v < 0:
            continue
        s = s + v * v
    return s


# -- break and continue -------------------------------------------------------------------


def newton_until_small(a):
    x = a
    for k in range(50):
        step = (x * x - a) / (2.0 * x)
        x = x - step
        if abs(step) < 1e-10:
            break
    return x


def newton_with_budget(a):
    x = a
    for k in range(BUDGET):
        x = x - (x * x - a) / (2.0 * x)
        if abs(x * x - a) < 1e-12:
            break
    return x


def halve_until_small(x):
    while True:
        x = x * 0.5 + 0.1 * math.sin(x)
        if x < 1.0:
            break
    return x


def skip_one_power(x, y):
    s = 0.0
    for i in range(4):
        if i == 2:
            continue
        s = s + x**i * y
    return s


def break_in_inner_loop(x):
    s = 0.0
    for i in range(3):
        for j in range(4):
            if j > i:
                break
            s = s + math.sin(x * (i + 1)) * (j + 1)
    return s


def while_with_continue(x, y):
    while x < 5.0:
        x = x + 1.0
        if x < 3.0:
            continue
        y = y * x
    return x * y


def break_and_continue(x, y):
    s = y
    for i in range(10):
        if i == 1:
            continue
        s = s * x + 1.0
        if s > 4.0:
            break
        s = s - 0.5
    return s


def names_like_the_flags(x):
    # the user's own running/live/index/i: the rewrite's names must not clash with them
    running, live, index = x, 2.0 * x, 0.5
    for i in range(5):
        running = running * live + index
        if running > 10.0:
            break
    return running


# -- more shapes of jumps and sequences (checked against finite differences) ---------------


def runtime_n_break(x, n):
    s = 0.0
    for i in range(n):
        s = s + x * i
        if s > 3.0:
            break
    return s

def nested_unrolled_break(x, y):
    s = 0.0
    for a in (x, y):
        for b in (y, x, 2.0):
            if b > 1.0:
                break
            s = s + a * b
    return s

def unrolled_continue(x, y):
    s = 0.0
    for a in (x, y, x * y):
        if a < 0.0:
            continue
        s = s + math.exp(a)
    return s

def elif_break(x):
    s = x
    for i in range(6):
        if s > 5.0:
            break
        elif s < -5.0:
            s = -s
            continue
        else:
            s = s * 1.7 + 0.1
        s = s - 0.05
    return s

def _pair():
    return 1.0, 2.0

def helper_tuple(x):
    s = 0.0
    for c in _pair():
        s = s + c * x
    return s

def negative_step(x):
    s = 0.0
    for i in range(10, 0, -2):
        s = s + math.sin(x * i)
        if s > 0.8:
            break
    return s

def while_break_array(x):
    k = 0
    while k < 10:
        x = np.tanh(x) * 1.5
        if np.sum(x * x) > 4.0:
            break
        k = k + 1
    return np.sum(x)


def zip_range_and_empty_zip(x, n):
    s = 0.0
    for k, a in zip(range(n), x):
        s = s + k * a * a
    for v in zip():
        s = s + 1.0
    return s


def break_with_run_time_step(x, step):
    s = 0.0
    for i in range(4, -5 if step < 0 else 9, step):
        s = s + math.sin(x * i)
        if s > 1.2:
            break
    return s
