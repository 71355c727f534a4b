"""Elementary functions (math.* and their numpy ufuncs). Rules reuse the output z where the
derivative is a function of it, so the backward pass never recomputes exp or tanh."""


def exp(x, z, grad_z):
    # d exp(x)/dx = exp(x) = z: the exp gate multiplies by its output
    grad_x = grad_z * z


def log(x, z, grad_z):
    # d log(x)/dx = 1/x
    grad_x = grad_z / x


def log1p(x, z, grad_z):
    # d log(1 + x)/dx = 1/(1 + x)
    grad_x = grad_z / (1 + x)


def expm1(x, z, grad_z):
    # d (exp(x) - 1)/dx = exp(x) = z + 1
    grad_x = grad_z * (z + 1)


def sqrt(x, z, grad_z):
    # d sqrt(x)/dx = 1/(2 sqrt(x)) = 0.5/z
    grad_x = grad_z * 0.5 / z


def sin(x, z, grad_z):
    # d sin(x)/dx = cos(x)
    grad_x = grad_z * cos(x)


def cos(x, z, grad_z):
    # d cos(x)/dx = -sin(x)
    grad_x = -grad_z * sin(x)


def tan(x, z, grad_z):
    # d tan(x)/dx = 1 + tan(x)**2 = 1 + z*z
    grad_x = grad_z * (1 + z * z)


def tanh(x, z, grad_z):
    # d tanh(x)/dx = 1 - tanh(x)**2 = 1 - z*z
    grad_x = grad_z * (1 - z * z)


def arctan(x, z, grad_z):
    # d atan(x)/dx = 1/(1 + x*x)
    grad_x = grad_z / (1 + x * x)


def abs(x, z, grad_z):
    # d|x|/dx = sign(x), and 0 at x = 0
    grad_x = grad_z * sign(x)
