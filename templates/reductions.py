"""Reductions: every summed element receives the gradient of the sum."""


def sum(x, z, grad_z, *, axis, keepdims):
    # dz/dx_i = 1 for every x_i summed into z
    grad_x = expand_reduced(grad_z, x, axis=axis, keepdims=keepdims)


def mean(x, z, grad_z, *, axis, keepdims):
    # mean = sum / n: each element receives grad_z / n
    grad_x = expand_reduced(grad_z, x, axis=axis, keepdims=keepdims) / count_reduced(x, axis=axis)


def prod(x, z, grad_z, *, axis, keepdims):
    # dz/dx_i = the product of the other elements (computed without dividing by x_i)
    grad_x = expand_reduced(grad_z, x, axis=axis, keepdims=keepdims) * prod_others(x, axis=axis)


def norm(x, z, grad_z, *, ord, axis, keepdims):
    # z = sqrt(sum(x*x)): dz/dx = x / z (undefined at x = 0)
    grad_x = expand_reduced(grad_z / z, x, axis=axis, keepdims=keepdims) * x
