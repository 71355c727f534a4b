"""Forward functions for the numpy op table in test_numpy_ops.py (gradgen reads their source).

Each returns a scalar; array results are contracted with a weight array ``w`` so that every
element of the gradient is distinct.
"""

import math

import numpy as np

# -- elementwise ------------------------------------------------------------------------------


def square(x, w):
    return np.sum(np.square(x) * w)


def clip_constant_bounds(x, w):
    return np.sum(np.clip(x, -0.5, 0.5) * w)


def clip_array_bounds(x, lo, hi):
    return np.sum(np.clip(x, lo, hi) * x)


def clip_lower_only(x, w):
    return np.sum(np.clip(x, 0.0, None) * w)


def clip_upper_only(x, w):
    return np.sum(np.clip(x, None, 0.25) * w)


def where_select(x, y, w):
    return np.sum(np.where(x > 0, x * y, y**2) * w)


def where_log_guard(x):
    return np.sum(np.where(x > 0, np.log(x), 0.0))


def elementary_numpy(x, w):
    a = np.log2(x) + np.log10(x) * 2.0
    b = np.sinh(x) - np.cosh(x) * 0.5
    return np.sum((a + b) * w)


def inverse_trig_numpy(x, w):
    return np.sum((np.arcsin(x) + 2.0 * np.arccos(x)) * w)


def arctan2_numpy(y, x):
    return np.sum(np.arctan2(y, x) * np.arange(1, 5))


def math_functions(x, y):
    a = math.log2(x) + math.log10(y) + math.sinh(x) * math.cosh(y)
    b = math.asin(x - 1.0) + math.acos(y - 1.0) + math.atan2(y, x) + math.pow(x, y)
    return a + b


def sign_abs_power(x, w):
    return np.sum(np.sign(x) * np.abs(x) * w + np.power(x, 3))


def comparisons(x, w):
    return np.sum(np.greater(x, 0.0) * x * w + np.less_equal(x, 0.0) * x)


# -- reductions -------------------------------------------------------------------------------


def max_keepdims(x, w):
    return np.sum(np.max(x, axis=1, keepdims=True) * w[:, :1])


def max_method_axis(x, w):
    return np.sum(x.max(axis=0) * w[0])


def max_full(x):
    return np.max(x) * 3.0


def min_method_full(x):
    return x.min() * 2.0


def amin_axis(x, w):
    return np.sum(np.amin(x, -1) * w[:, 0])


def prod_axis(x, w):
    return np.sum(np.prod(x, axis=1) * w[:, 0])


def prod_method_full(x):
    return x.prod()


def norm_full(x):
    return np.linalg.norm(x)


def norm_rows(x, w):
    return np.sum(np.linalg.norm(x, axis=1, keepdims=True) * w[:, :1])


def norm_vector_two(x, w):
    return np.sum(np.linalg.norm(x, 2, axis=0) * w[0])


def norm_frobenius(x):
    return np.linalg.norm(x, "fro")


# -- shape ops --------------------------------------------------------------------------------


def reshape_tuple(x, w):
    return np.sum(x.reshape((4, 3)) * w.reshape(4, 3))


def reshape_varargs_negative(x, w):
    return np.sum(x.reshape(2, -1) * np.reshape(w, (2, 6)))


def reshape_runtime_size(x, w):
    return np.sum(x.reshape(x.shape[0], -1) * w.reshape(len(w), -1))


def ravel_and_flatten(x, w):
    return np.sum(np.ravel(x) * w.flatten()) + np.sum(x.ravel() ** 2)


def transpose_axes(t, v):
    return np.sum(np.transpose(t, (2, 0, 1)) * v) + np.sum(t.transpose(1, 0, 2) ** 2)


def transpose_plain(x, w):
    return np.sum(x.T * w.T) + np.sum(np.transpose(x) ** 2)


def expand_and_squeeze(x, w):
    e = np.expand_dims(x, 0)
    return np.sum(np.squeeze(e * 2.0) * w) + np.sum(e.squeeze(0) ** 2)


def concatenate_columns(x, y, w):
    return np.sum(np.concatenate([x, y], axis=1) * np.concatenate((w, w[:, :2]), axis=1))


def stack_last(x, y, w):
    return np.sum(np.stack((x, y * 2.0), axis=-1) * np.stack([w, w], -1) * 3.0)


def broadcast(v, w):
    return np.sum(np.broadcast_to(v, (3, 4)) * w)


# -- indexing ---------------------------------------------------------------------------------


def index_int(x, w):
    return np.sum(x[0] * w[0]) + np.sum(x[-1] ** 2)


def index_slices(x, w):
    return np.sum(x[1:3, ::2] * w[:2, 1::2]) + np.sum(x[::-1, 1:] * w[:, :3])


def index_tuple_mixed(x, w):
    return np.sum(x[:, 1] * w[:, 2]) + x[2, 3] * 5.0 + np.sum(x[..., 0] ** 2)


def index_newaxis(x, w):
    return np.sum(x[None, :, 1] * w[:1, :3]) + np.sum(x[:, None, :] * w[:, None, :])


def index_repeated(x):
    return x[1] * x[1] + x[1] * 2.0 + x[-3]


def index_runtime(x, i):
    return np.sum(x[i] ** 2) + np.sum(x[i + 1 :] * 3.0)


def index_tensor(t):
    return np.sum(t[0, ..., 1:] ** 2) + np.sum(t[:, None, 1, ::2])


# -- linear algebra ---------------------------------------------------------------------------


def matmul_batched(a, b):
    return np.sum(np.sin(a @ b))


def matmul_function(a, b):
    return np.sum(np.cos(np.matmul(a, b)))


def outer_product(x, y, w):
    return np.sum(np.outer(x, y) * w)


def inner_product(x, y):
    return np.sum(np.sin(np.inner(x, y)))


def einsum_matmul(a, b, w):
    return np.sum(np.einsum("ij,jk->ik", a, b) * w)


def einsum_reductions(a, v):
    return np.sum(np.einsum("ij->i", a) * v[:3]) + np.einsum("i,i->", v, v)


def einsum_three(a, b, v):
    return np.einsum("ij,jk,k->", a, b, v)


def trace_matrix(a):
    return np.trace(a) * np.trace(a) + a.trace()


# -- values that carry no gradient ------------------------------------------------------------


def sizes(x):
    return (
        np.sum(x) / x.shape[0]
        + np.sum(x * x) / len(x)
        + np.sum(x) / x.size * x.ndim
        + np.sum(x) / x.shape[-1]
    )


def constructors(x):
    z = np.zeros_like(x) + np.ones_like(x) * 2.0 + np.full_like(x, 0.5)
    e = np.eye(3, 4) + np.ones((3, 4)) + np.zeros(4) + np.full((3, 4), 2.0)
    r = np.arange(4) * 1.0 + np.arange(1, 5, 1) * 0.5
    return np.sum(x * z * e * r)


def runtime_constructors(x):
    return np.sum(
        x * np.ones((x.shape[0], 4)) * np.arange(x.shape[1]) + x * np.eye(len(x), x.shape[1])
    )


def casts(x):
    return (
        np.sum(x.astype(np.float64) * 2.0) + np.sum(np.float64(x) ** 2) + np.sum(x * x.astype(int))
    )


# -- numerically stable forms -----------------------------------------------------------------


def softmax_weighted(z, w):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    p = e / np.sum(e, axis=-1, keepdims=True)
    return np.sum(p * w)


def logsumexp(z):
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


def cross_entropy(z, y):
    m = np.max(z, axis=1, keepdims=True)
    log_p = z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return -np.sum(y * log_p) / z.shape[0]


# -- refused, with a located error ------------------------------------------------------------


def refused_einsum_implicit(a, b):
    return np.sum(np.einsum("ij,jk", a, b))


def refused_einsum_diagonal(a):
    return np.einsum("ii->i", a).sum()


def refused_norm_order(x):
    return np.linalg.norm(x, 1)


def refused_concatenate_array(x):
    return np.sum(np.concatenate(x))


def refused_run_time_axis(x, k):
    return np.sum(np.max(x, axis=k))


def refused_float_index(x):
    return x[1.5]


def refused_astype_string(x):
    return np.sum(x.astype(str))


def refused_concatenate_flat(x, y):
    return np.sum(np.concatenate((x, y), axis=None))


# -- item writes into arrays the function made ------------------------------------------------


def item_writes(x, w):
    H = np.zeros((4, 4))
    H[0] = x[1]
    H[1:3, :] = x[:2] * 2.0
    H[:, 2] += x[2]
    H[3, 1:] = np.sum(x[0])  # a scalar broadcast into a slice
    H[2] *= x[1]
    return np.sum(H[:3] * w) + np.sum(H[3] ** 2)


def copied_argument(x, w):
    y = x.copy()
    y[1, ::2] = np.tanh(y[0, ::2])
    last = x.shape[0] - 1
    y[last] /= 2.0
    y[0] -= np.copy(x[2])
    return np.sum(y * w)
