"""Forward functions with loops whose bodies write into arrays in place (tests/test_buffers.py):
carried accumulators, initial values shared or read later, arguments, values the stack records."""

# ruff: noqa
import numpy as np


def broadcast_in_body(x, w, b):
    # each step broadcasts w along the rows and b along the columns of acc
    acc = np.zeros_like(x[0])
    for t in range(x.shape[0]):
        acc = acc * 0.5 + np.sin(x[t] * w + b)
    return np.sum(acc * acc)


def accumulator_read_after(x, w):
    zero = np.zeros_like(x)  # read again after the loop: the loop may not write into it
    acc = zero
    for t in range(3):
        acc = acc + np.exp(x * w * t)
    return np.sum(acc * acc) + np.sum((zero + 1.0) * x) + np.sum(acc)


def carried_argument(x, w):
    h = x  # the caller's array: never written
    for t in range(4):
        h = h * 0.5 + w
    return np.sum(h * h)


def one_initial_array_twice(x, w):
    zero = np.zeros_like(x)
    a = zero
    b = zero  # the same array starts two accumulators: neither may write into it
    for t in range(3):
        a = a + x * t
        b = b + w * x
    return np.sum(a * b)


def initial_value_read_in_the_body(x, w):
    z = x * 2.0 + 1.0  # read by nothing after the loop (its derivative is 2)
    acc = z
    for t in range(3):
        acc = acc * 0.5 + z * w  # z starts acc and is read by every iteration
    return np.sum(acc * acc)


def carried_restarts_from_an_argument(x, w):
    a = x * 3.0
    total = np.zeros_like(x)
    for t in range(3):
        total = total + a * 0.5  # a * 0.5 may write into the array a holds in the first iteration only
        a = w
    return np.sum(total * total)


def recorded_on_the_stack(x, w):
    h = x
    for t in range(4):
        h = np.sin(h) + h * w  # the backward reads every h: the stack holds them all
    return np.sum(h * h)


def while_accumulates(x, w):
    acc = np.zeros_like(x)
    k = 0
    while k < 5:
        acc = acc + np.exp(x * w) * k
        k = k + 1
    return np.sum(acc * x)


def nested_loops(x, w):
    total = np.zeros_like(x)
    for i in range(3):
        inner = np.zeros_like(x)
        for j in range(2):
            inner = inner + np.sin(x * w + j)
        total = total + inner * inner * i
    return np.sum(total)


def branch_in_body(x, w):
    acc = np.zeros_like(x)
    for t in range(4):
        if t < 2:
            acc = acc + np.exp(x * w)
        else:
            acc = acc * 0.5 + x
    return np.sum(acc * x)


def branch_operand_read_after(x, w):
    acc = np.zeros_like(x)
    for t in range(3):
        old = acc
        if t < 1:
            acc = acc * 0.5 + x * w
        else:
            acc = acc * 2.0
        acc = acc + old * w  # the array acc held before the if is read after it
    return np.sum(acc * x)
