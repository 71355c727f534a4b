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
    # d sqrt(x)/dx = 1/(2 sqrt(x)) = 0.5/z, which is +inf at x = 0 (never an exception)
    grad_x = grad_z * ieee_div(0.5, z)


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


def log2(x, z, grad_z):
    # d log2(x)/dx = 1/(x log 2)
    grad_x = grad_z / (x * 0.6931471805599453)


def log10(x, z, grad_z):
    # d log10(x)/dx = 1/(x log 10)
    grad_x = grad_z / (x * 2.302585092994046)


def sinh(x, z, grad_z):
    # d sinh(x)/dx = cosh(x)
    grad_x = grad_z * cosh(x)


def cosh(x, z, grad_z):
    # d cosh(x)/dx = sinh(x)
    grad_x = grad_z * sinh(x)


def arcsin(x, z, grad_z):
    # d asin(x)/dx = 1/sqrt(1 - x*x)
    grad_x = grad_z / sqrt(1 - x * x)


def arccos(x, z, grad_z):
    # d acos(x)/dx = -1/sqrt(1 - x*x)
    grad_x = -grad_z / sqrt(1 - x * x)


def arctan2(y, x, z, grad_z):
    # z = atan2(y, x): dz/dy = x/(x*x + y*y), dz/dx = -y/(x*x + y*y)
    grad_y = grad_z * x / (x * x + y * y)
    grad_x = -grad_z * y / (x * x + y * y)


def square(x, z, grad_z):
    # d x**2/dx = 2x
    grad_x = grad_z * 2.0 * x
