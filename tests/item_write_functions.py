"""Forward functions that write items of arrays they create (tests/test_item_writes.py)."""

import numpy as np


def single_write(x, w):
    H = np.zeros(3)
    H[1] = x[0] * x[1]
    return np.sum(H * w)


def slice_writes(x, w):
    H = np.zeros((3, 4))
    H[0] = x
    H[1:, ::2] = x[1:3] * 2.0
    H[2, 1:] = x[0]  # a scalar broadcast into a slice
    return np.sum(H * w)


def column_accumulation(x, v):
    H = np.ones((3, 2))
    H[:, 1] += v * x[0]
    H[:, 0] -= v
    H[1] *= x[1]
    H[2] /= x[2]
    return np.sum(H**2)


def rnn_rows(x, W, U):
    T = x.shape[0]
    H = np.zeros((T, W.shape[0]))
    h = np.zeros(W.shape[0])
    for t in range(T):
        h = np.tanh(W @ h + U @ x[t])
        H[t] = h
    return np.sum(H**2)


def rnn_reading_previous_row(x, W):
    T = x.shape[0]
    H = np.zeros((T + 1, W.shape[0]))
    for t in range(T):
        H[t + 1] = np.tanh(W @ H[t] + x[t])
    return np.sum(H * H)


def leaky_recurrence(x, a):
    # each step reads the row (for a 1-D x, the element) the step before wrote
    T = x.shape[0]
    H = np.zeros_like(x)
    H[0] = x[0]
    for t in range(1, T):
        H[t] = H[t - 1] * a + x[t]
    return np.sum(np.sin(H))


def prefix_sums(x):
    # each step reads a slice that grows with t (recorded as a copy of the slice)
    T = x.shape[0]
    H = np.zeros(T)
    H[0] = x[0]
    for t in range(1, T):
        H[t] = np.sum(H[:t] * 0.5) + np.sin(x[t])
    return np.sum(H * H)


def column_recurrence(x, a):
    T = x.shape[1]
    H = np.zeros((3, T))
    H[:, 0] = x[:, 0]
    for t in range(1, T):
        H[:, t] = np.tanh(H[:, t - 1] * a) + x[:, t]
    return np.sum(H**2)


def branch_reads_row(x, w):
    # the rows are read inside the branches: H is recorded whole (correct, memory T * T)
    H = np.zeros((x.shape[0] + 1, 3))
    for t in range(x.shape[0]):
        if x[t, 0] > 0:
            H[t + 1] = H[t] * w + x[t]
        else:
            H[t + 1] = np.sin(H[t]) + x[t]
    return np.sum(H * H)


def row_rewritten_every_step(x, w):
    # H[0] is read, then overwritten, at every step: what the backward reads of it must be the
    # row as it was at the start of the step, not as later steps leave it
    H = np.ones((2, 3))
    for t in range(x.shape[0]):
        H[0], H[1] = H[0] * H[1] * x[t], np.sin(H[0] * w)
    return np.sum(H * H)


def rows_from_a_while(x, W):
    # a while loop counting its own steps, reading the row the step before wrote
    H = np.zeros((x.shape[0] + 1, W.shape[0]))
    t = 0
    while t < x.shape[0]:
        H[t + 1] = np.tanh(W @ H[t] + x[t])
        t = t + 1
    return np.sum(H * H)


def accumulate_in_loop(x, w):
    H = np.zeros(4)
    for i in range(3):
        H[i : i + 2] += x[i] * w[i]
    return np.sum(H * H)


def nested_loops(x, w):
    H = np.zeros((3, 4))
    for i in range(3):
        for j in range(4):
            H[i, j] += x[i, j] * (i + j)
    return np.sum(H * w)


def while_writes(x, w):
    H = np.zeros(4)
    i = 0
    scale = 1.0
    while scale < 10.0:
        H[i] = np.sum(x) * scale
        scale = scale * 3.0
        i = i + 1
    return np.sum(H * w)


def branch_writes(x, w):
    H = np.zeros(4)
    H[3] = x[0]
    if x[1] > 0:
        H[0] = x[1] * x[2]
    else:
        H[1:3] = x[2]
    return np.sum(H * w)


def view_read_by_the_backward(x, w):
    # r is read before the write; its backward (r * r) reads it after: the write must copy
    H = np.zeros(3)
    H[0] = x[0]
    r = H[0:2]
    s = np.sum(r * r)
    H[1] = s
    return np.sum(H * w)


def _filled(x):
    H = np.zeros(3)
    H[0] = x[0]
    H[2] = x[1] ** 2
    return H


def helper_makes_the_array(x, w):
    H = _filled(x)
    H[1] = 3.0
    return np.sum(H * w)


def tuple_of_targets(x, w):
    H = np.zeros(3)
    H[0], H[2] = x[0] * 2.0, np.sin(x[1])
    return np.sum(H * w)


def copy_of_argument(x, w):
    y = x.copy()
    y[0] = np.tanh(y[1])
    return np.sum(y * w)


def written_output(x):
    H = np.zeros((2, 3))
    H[0] = x
    H[1, 1] = x[0] * x[2]
    return H


def repeated_positions(x, v):
    # numpy keeps the last value written to a repeated position: H[0] = H[0] + v[1]
    H = np.ones((3, 2)) * x[0]
    H[[0, 0]] += v
    H[[2, 1, 2], 1] = x[1:4]
    return np.sum(H * H) + np.sum(x[[0, 0, 3]] * x[[1, 2, 2]])
