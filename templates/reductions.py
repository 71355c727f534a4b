"""Reductions: every summed element receives the gradient of the sum."""


def sum(x, z, grad_z, *, axis, keepdims):
    # dz/dx_i = 1 for every x_i summed into z
    grad_x = expand_reduced(grad_z, x, axis=axis, keepdims=keepdims)


def mean(x, z, grad_z, *, axis, keepdims):
    # mean = sum / n: each element receives grad_z / n
    grad_x = expand_reduced(grad_z, x, axis=axis, keepdims=keepdims) / count_reduced(x, axis=axis)
