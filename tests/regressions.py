"""Minimal repros of gradgen bugs found by the generated-program and per-op tests.

One forward function per bug; ``REGRESSIONS`` in test_generated_programs.py gives each its
point, what gradgen does and what it should do. gradgen reads these with ``inspect``.
"""

import math

import numpy as np


def negative_axis(a, w):
    # UnsupportedSyntaxError "'axis' must be a constant here": the literal -1 is lowered as
    # neg(1), a graph value, instead of the constant -1.
    return np.sum(np.sum(a, axis=-1) * w)


def negative_axis_tuple(a):
    return np.sum(np.mean(a * a, axis=(0, -1), keepdims=True))


def bool_times_minus_one(a):
    # simplify rewrites ``b * -1 -> -b``; for a numpy bool array ``-b`` raises TypeError
    # ("The numpy boolean negative, the `-` operator, is not supported").
    return np.sum(((a > 0.0) * -1) * a)


def bool_times_one_added(a):
    # simplify rewrites ``b * 1 -> b``, so ``b*1 + b*1`` (an int array of 2s) becomes
    # ``b + b`` (a logical or of bools, 1s): the gradient is silently halved.
    return np.sum(((a > 0.0) * 1 + (a > 0.0) * 1) * a)


def bool_plus_zero_added(a):
    # the same with ``b + 0 -> b``.
    return np.sum(((a > 0.0) + 0 + (a > 0.0)) * a)


def in_place_alias(a):
    # ``t += a`` on an ndarray mutates it in place, so ``u`` (the same array) changes too;
    # gradgen treats ``t += a`` as ``t = t + a`` and returns 1 where the gradient is 2.
    t = a * 1.0
    u = t
    t += a
    return np.sum(u)


def transpose_of_scalar(x, y):
    # (fixed) the backward of np.transpose applied ``.T`` to a Python float adjoint:
    # AttributeError: 'float' object has no attribute 'T'.
    return np.sum(np.transpose(x * y) * 3.0)


def float_cast(x, y):
    # (fixed) the builtin float() was accepted by the parser but the emitter had no spelling
    # for the 'cast' op without a lib: KeyError: 'numpy' at compile time.
    return float(x) * y


def batched_matmul_vector(a, b, w):
    # (2, 3, 4) @ (4,): matmul_vjp_right computes swapaxes(a) @ grad, a batched matrix
    # product, where an einsum over the batch is needed: ValueError at run time.
    return np.sum((a @ b) * w)


def vector_batched_matmul(a, b, w):
    # (4,) @ (2, 4, 3): the same in matmul_vjp_left.
    return np.sum((a @ b) * w)


def dot_three_dimensional(a, b, w):
    # np.dot of N-D arrays is not matmul (it contracts a's last axis with b's second to last
    # and takes an outer product over the rest), but its rule reuses matmul's: ValueError.
    return np.sum(np.dot(a, b) * w)


def scalar_through_sum(x):
    # the gradient with respect to a float argument comes back as a 0-d ndarray (from
    # expand_reduced), not a float like every other scalar gradient.
    return np.sum(x)


def sum_of_keepdims_sum(x):
    # with optimize=True the shape-specialized graph fails verify():
    # GraphError "t#4 used before it is defined in grad_x#5 = expand_reduced ... keepdims=True".
    return np.sum(np.sum(x, keepdims=True))


def sum_of_keepdims_mean(x):
    # the same for mean: GraphError "output grad_x#4 is never defined" (shape (1,)) or
    # "t#4 used before it is defined in t#8 = div t#4 3" (shape (3,)).
    return np.sum(np.mean(x, keepdims=True))


def sum_of_keepdims_axis_sum(x):
    return np.sum(np.sum(x, axis=0, keepdims=True))


def math_fabs_of_int(x, y):
    # math.fabs is emitted as the builtin abs, which keeps an int an int: with x=2, y=3 the
    # gradient for x is the int 3 (expected 3.0), and value_and_grad's value of
    # math.fabs(3) is 3 where the function returns 3.0.
    return x * math.fabs(y)


def chained_keepdims_sums(x):
    # two keepdims reductions in a row, then an elementwise op: with optimize=True the
    # specialized graph fails verify(): "t#9 used before it is defined in
    # grad_x#10 = expand_reduced axis=1 keepdims=True t#9 x#0" (any 2-D shape).
    return np.sum(np.sin(np.sum(np.sum(x, 1, keepdims=True), 0, keepdims=True)))


def chained_keepdims_sums_weighted(x, w):
    return np.sum(np.sum(np.sum(x, 1, keepdims=True), 0, keepdims=True) * w)


def chained_keepdims_means_fan_out(x, w):
    # the same with means used twice: "output grad_x#20 is never defined".
    v0 = np.mean(np.mean(x, axis=1, keepdims=True), axis=0, keepdims=True)
    return np.sum(v0 * w) * np.sum(v0)


def builtin_max_of_int(x, y):
    # simplify takes max(x, 2.0) for a float (it has a float input) and drops the seed's 1.0 *,
    # but the builtin max returns the argument it picks: at x=3, y=4 the gradient for y is
    # the int 3 (expected 3.0). The same for min.
    return max(x, 2.0) * y
