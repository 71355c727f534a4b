"""The arithmetic gates: add distributes, mul swaps, and what follows from them."""


def add(x, y, z, grad_z):
    # dz/dx = dz/dy = 1: the add gate hands its gradient to both inputs
    grad_x = grad_z
    grad_y = grad_z


def sub(x, y, z, grad_z):
    # dz/dx = 1, dz/dy = -1
    grad_x = grad_z
    grad_y = -grad_z


def mul(x, y, z, grad_z):
    # dz/dx = y, dz/dy = x: the mul gate swaps its inputs
    grad_x = grad_z * y
    grad_y = grad_z * x


def div(x, y, z, grad_z):
    # dz/dx = 1/y, dz/dy = -x/y**2 = -z/y (reuses the output)
    grad_x = grad_z / y
    grad_y = -grad_z * z / y


def pow(x, y, z, grad_z):
    # dz/dx = y * x**(y - 1), dz/dy = x**y * log(x) = z * log(x); x**(y - 1) is inf, not an
    # exception, at x = 0 with y < 1
    grad_x = grad_z * y * ieee_pow(x, y - 1)
    grad_y = grad_z * z * log(x)


def neg(x, z, grad_z):
    # dz/dx = -1
    grad_x = -grad_z


def copy(x, z, grad_z):
    # z = x
    grad_x = grad_z
