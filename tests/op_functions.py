"""One small forward function per differentiable op, for the per-op table in test_rules.py.

gradgen reads these with ``inspect``, so they live in a real file. Each returns a scalar;
array cases contract their result with a fixed ``w`` (weights) argument so every element of
the gradient is different and non-trivial.
"""

import math

import numpy as np

# -- arithmetic on scalars --------------------------------------------------------------------


def add(x, y):
    return x + y


def sub(x, y):
    return x - y


def mul(x, y):
    return x * y


def div(x, y):
    return x / y


def pow_constant_int(x):
    return x**3


def pow_constant_float(x):
    return x**2.5


def pow_constant_negative(x):
    return x**-1.5


def pow_variable(x, y):
    return x**y


def pow_variable_base_constant(y):
    return 2.0**y


def neg(x, y):
    return -x * y


# -- math.* spellings -------------------------------------------------------------------------


def math_exp(x):
    return math.exp(x)


def math_log(x):
    return math.log(x)


def math_log1p(x):
    return math.log1p(x)


def math_expm1(x):
    return math.expm1(x)


def math_sqrt(x):
    return math.sqrt(x)


def math_sin(x):
    return math.sin(x)


def math_cos(x):
    return math.cos(x)


def math_tan(x):
    return math.tan(x)


def math_tanh(x):
    return math.tanh(x)


def math_atan(x):
    return math.atan(x)


def math_fabs(x):
    return math.fabs(x)


# -- builtins ---------------------------------------------------------------------------------


def builtin_abs(x):
    return abs(x)


def builtin_max(x, y):
    return max(x, y)


def builtin_min(x, y):
    return min(x, y)


def builtin_max3(x, y, z):
    return max(x, y, z)


# -- numpy spellings on scalars ---------------------------------------------------------------


def numpy_exp_scalar(x):
    return np.exp(x)


def numpy_log_scalar(x):
    return np.log(x)


def numpy_log1p_scalar(x):
    return np.log1p(x)


def numpy_expm1_scalar(x):
    return np.expm1(x)


def numpy_sqrt_scalar(x):
    return np.sqrt(x)


def numpy_sin_scalar(x):
    return np.sin(x)


def numpy_cos_scalar(x):
    return np.cos(x)


def numpy_tan_scalar(x):
    return np.tan(x)


def numpy_tanh_scalar(x):
    return np.tanh(x)


def numpy_arctan_scalar(x):
    return np.arctan(x)


def numpy_ufuncs_scalar(x, y):
    return np.add(np.multiply(x, y), np.divide(np.subtract(x, y), np.power(y, 2.0))) + np.negative(
        x
    )


def numpy_abs_scalar(x):
    return np.abs(x)


def numpy_maximum_scalar(x, y):
    return np.maximum(x, y)


def numpy_minimum_scalar(x, y):
    return np.minimum(x, y)


# -- numpy elementwise on arrays --------------------------------------------------------------


def numpy_exp(a, w):
    return np.sum(np.exp(a) * w)


def numpy_log(a, w):
    return np.sum(np.log(a) * w)


def numpy_log1p(a, w):
    return np.sum(np.log1p(a) * w)


def numpy_expm1(a, w):
    return np.sum(np.expm1(a) * w)


def numpy_sqrt(a, w):
    return np.sum(np.sqrt(a) * w)


def numpy_sin(a, w):
    return np.sum(np.sin(a) * w)


def numpy_cos(a, w):
    return np.sum(np.cos(a) * w)


def numpy_tan(a, w):
    return np.sum(np.tan(a) * w)


def numpy_tanh(a, w):
    return np.sum(np.tanh(a) * w)


def numpy_arctan(a, w):
    return np.sum(np.arctan(a) * w)


def numpy_abs(a, w):
    return np.sum(np.abs(a) * w)


def numpy_maximum(a, b, w):
    return np.sum(np.maximum(a, b) * w)


def numpy_minimum(a, b, w):
    return np.sum(np.minimum(a, b) * w)


def array_neg(a, w):
    return np.sum(-a * w)


def array_add(a, b, w):
    return np.sum((a + b) * w)


def array_sub(a, b, w):
    return np.sum((a - b) * w)


def array_mul(a, b, w):
    return np.sum(a * b * w)


def array_div(a, b, w):
    return np.sum(a / b * w)


def array_pow_constant(a, w):
    return np.sum(a**3 * w)


def array_pow_variable(a, b, w):
    return np.sum(a**b * w)


# -- reductions -------------------------------------------------------------------------------


def sum_all(a):
    return np.sum(a)


def sum_all_weighted(a, w):
    return np.sum(a * w) * np.sum(a)


def sum_axis0(a, w):
    return np.sum(np.sum(a, axis=0) * w)


def sum_axis1(a, w):
    return np.sum(np.sum(a, axis=1) * w)


def sum_axis_both(a, w):
    return np.sum(a * w, axis=(0, 1)) * np.sum(a * a, axis=(0, 1))


def sum_axis0_keepdims(a, w):
    return np.sum(np.sum(a, axis=0, keepdims=True) * w)


def sum_axis1_keepdims(a, w):
    return np.sum(np.sum(a, axis=1, keepdims=True) * w)


def sum_none_keepdims(a, w):
    return np.sum(np.sum(a * a, keepdims=True) * w)


def sum_axis_both_keepdims(a, w):
    return np.sum(np.sum(a * a, axis=(0, 1), keepdims=True) * w)


def sum_method(a, w):
    return (a * w).sum() * a.sum(axis=0).sum()


def sum_positional_axis(a, w):
    return np.sum(np.sum(a * a, 1) * w)


def mean_all(a, w):
    return np.mean(a * w) * np.mean(a)


def mean_axis0(a, w):
    return np.sum(np.mean(a, axis=0) * w)


def mean_axis1(a, w):
    return np.sum(np.mean(a, axis=1) * w)


def mean_axis_both(a, w):
    return np.mean(a * a, axis=(0, 1)) * np.mean(a * w)


def mean_axis0_keepdims(a, w):
    return np.sum(np.mean(a, axis=0, keepdims=True) * w)


def mean_axis1_keepdims(a, w):
    return np.sum(np.mean(a, axis=1, keepdims=True) * w)


def mean_none_keepdims(a, w):
    return np.sum(np.mean(a * a, keepdims=True) * w)


def mean_axis_both_keepdims(a, w):
    return np.sum(np.mean(a * a, axis=(0, 1), keepdims=True) * w)


def mean_method(a, w):
    return a.mean(axis=1).mean() * (a * w).mean()


# -- products and transposes ------------------------------------------------------------------


def matmul_2d_2d(a, b, w):
    return np.sum((a @ b) * w)


def matmul_2d_1d(a, b, w):
    return np.sum((a @ b) * w)


def matmul_1d_2d(a, b, w):
    return np.sum((a @ b) * w)


def matmul_1d_1d(a, b):
    return a @ b


def np_matmul_2d_2d(a, b, w):
    return np.sum(np.matmul(a, b) * w)


def dot_2d_2d(a, b, w):
    return np.sum(np.dot(a, b) * w)


def dot_2d_1d(a, b, w):
    return np.sum(np.dot(a, b) * w)


def dot_1d_2d(a, b, w):
    return np.sum(np.dot(a, b) * w)


def dot_1d_1d(a, b):
    return np.dot(a, b)


def dot_method(a, b, w):
    return np.sum(a.dot(b) * w)


def transpose_attribute(a, w):
    return np.sum(a.T * w)


def transpose_function(a, w):
    return np.sum(np.transpose(a) * w)


def transpose_method(a, b, w):
    return np.sum((a.transpose() @ b) * w)


# -- broadcasting -----------------------------------------------------------------------------


def broadcast_add(a, b, w):
    return np.sum((a + b) * w)


def broadcast_mul(a, b, w):
    return np.sum(a * b * w)


def broadcast_div(a, b, w):
    return np.sum(a / b * w)


def broadcast_pow(a, b, w):
    return np.sum(a**b * w)


def broadcast_sub(a, b, w):
    return np.sum((a - b) * w)


def broadcast_maximum(a, b, w):
    return np.sum(np.maximum(a, b) * w)


# -- kinds of inputs and outputs --------------------------------------------------------------


def integer_friendly(x, y):
    return x * y + 2 * x


def array_integer_friendly(a, b):
    return np.sum(a * b) + np.sum(a * 2)


def ignores_y(x, y):
    return x * x


def ignores_array(a, b):
    return np.sum(a * a)


def ignores_scalar_and_array(x, a, b):
    return np.sum(b * b) * 3.0


def ignores_everything(x, a):
    return 2.0
