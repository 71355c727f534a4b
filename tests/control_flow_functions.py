"""Forward functions with branches (and, later, loops), differentiated by tests/test_control_flow.py."""

# ruff: noqa
import math

import numpy as np

USE_SQUARE = True


# -- conditional expressions ----------------------------------------------------------------


def absolute_square(x):
    y = x if x > 0 else -x
    return y * y + x


def log_where_defined(x):
    # only the branch that runs is evaluated: math.log never sees x <= 0
    return math.log(x) * x if x > 0 else 2.0 * x


# -- if / elif / else -----------------------------------------------------------------------


def piecewise(x, y):
    a = x * y
    if x > 1.0:
        a = a * x
        b = math.sin(y)
    elif x > -1.0:
        b = a + y
    else:
        a = math.exp(x)
        b = y * y
    return a + b


def nested_overwrite(x, y):
    z = x + y
    if x > 0:
        if y > 0:
            z = z * x
        else:
            z = z * y
    else:
        if y > 0:
            z = math.sin(z)
        else:
            z = z ** 2
    return z * x


def swap_in_branch(x, y):
    a = x * 2.0
    b = y + 1.0
    if x > y:
        a, b = b, a
    return a * a + 3.0 * b


def constant_branches(x):
    if x > 0:
        scale = 2.0
    else:
        scale = -3.0
    return scale * x * x


def static_condition(x):
    if USE_SQUARE:
        y = x * x
    else:
        y = math.exp(x)
    return y


def one_branch_assigns(x, y):
    z = y
    if x > 0:
        z = x * y
        print(z)
    return z * z


# -- returns inside branches ----------------------------------------------------------------


def early_return(x, y):
    if x < 0:
        return x * y
    z = math.exp(x) + y
    if z > 3.0:
        return z * z
    return z


def _relu(t):
    if t > 0:
        return t
    return 0.0 * t


def helper_with_if(x, y):
    return _relu(x * y) + _relu(x - y) * 3.0


def returns_from_every_branch(x):
    if x > 1.0:
        return math.sqrt(x)
    elif x > 0.0:
        return x * x
    else:
        return -x * 0.5


# -- arrays ---------------------------------------------------------------------------------


def array_branch(w, x):
    s = np.sum(w * x)
    if s > 0:
        y = np.tanh(w) * x
    else:
        y = w * w
    return np.sum(y)


def array_vector_output(w):
    return np.sin(w) * 2.0 if np.sum(w) > 0 else w * w


# -- for loops over range -------------------------------------------------------------------


def dot_loop(w, x):
    s = 0.0
    for i in range(len(w)):
        s += w[i] * x[i]
    return s


def newton_sqrt(a):
    x = a
    for step in range(6):
        x = x - (x * x - a) / (2.0 * x)
    return x


def newton_sqrt_many_steps(a):
    x = a
    for step in range(600):
        x = x - (x * x - a) / (2.0 * x)
    return x


def _babylonian_step(x, a):
    return 0.5 * (x + a / x)


def helper_in_loop(a, n):
    x = a
    for k in range(n):
        x = _babylonian_step(x, a)
    return x * a


def power_loop(x, n):
    p = 1.0
    for i in range(n):
        p = p * x
    return p


def sines_with_index(x):
    total = 0.0
    for i in range(1, 7, 2):
        t = x * i
        total += math.sin(t) * t
    return total


def countdown(x, n):
    s = x
    for i in range(n, 0, -1):
        s = s * x + i
    return s


def fibonacci_like(x, y, n):
    a, b = x, y
    for i in range(n):
        a, b = b, a + b * x
    return a * b


def branch_in_loop(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0:
            s += x[i] * x[i]
        else:
            s -= 0.5 * x[i]
    return s


def loop_in_branch(x, y):
    if x > 0:
        for i in range(3):
            y = y * x + 1.0
    else:
        y = y - x
    return y


def nested_loops(A, x, y):
    s = 0.0
    for i in range(len(y)):
        row = 0.0
        for j in range(len(x)):
            row += A[i, j] * x[j]
        s += math.tanh(row) * y[i]
    return s


def vector_accumulation(W, x):
    h = x
    for layer in range(3):
        h = np.tanh(W @ h)
    return np.sum(h * h)


def recurrent_state(W, x):
    h = x
    for layer in range(3):
        h = np.tanh(W @ h) + 0.5 * h
    return h


# -- while loops ----------------------------------------------------------------------------


def shrink(x):
    while x > 1.0:
        x = math.sqrt(x) * 0.9
    return x * x


def grow_until(x, y):
    s = y
    while s < 10.0:
        s = s * x + 1.0
    return s


def while_with_branch_and_for(x, w):
    total = 0.0
    while total < 2.0:
        if total > 0.5:
            total = total + x * x
        else:
            total = total + 0.75 + x
        for i in range(len(w)):
            total += 0.1 * w[i] * x
    return total


# -- arrays through loops and branches, for shape specialization ---------------------------


def batched_recurrence(W, b, x):
    h = x  # (rows, hidden) every iteration; b is broadcast over the rows
    for _ in range(3):
        h = np.tanh(h @ W + b)
    return np.sum(h * h)


def growing_state(w, x):
    h = x  # (rows, 1) before the loop, (rows, columns) after one iteration: no fixed point
    for i in range(3):
        h = np.tanh(h * w + 0.1 * i)
    return np.sum(h)


def branch_with_broadcast(w, b, x):
    s = x * w + b
    if np.sum(s) > 0:
        y = np.tanh(s) * b
    else:
        y = s * w
    return np.sum(y)


def while_with_broadcast(x, b):
    while np.sum(x * x) < 40.0:
        x = x * 1.5 + b
    return np.sum(x * b)


def carried_sum(w, x, y):
    for _ in range(2):
        x = np.tanh(x * w)
        y = y + x  # its backward reads y only for its shape
    return np.sum(y * y)
