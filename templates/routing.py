"""max, min, clip and where route the gradient to the input they selected.

Conventions at ties: np.maximum/np.minimum (x == y) give the whole gradient to the first
argument, so np.maximum(s, 0) passes the gradient through at s == 0 and max(x, x) has
derivative 1. np.clip passes the gradient to x on the closed interval lo <= x <= hi (at a
boundary too), as np.maximum(x, lo) does. The reductions np.max/np.min split the gradient
equally among the elements tied for the extremum, so it still sums to grad_z.
"""


def maximum(x, y, z, grad_z):
    # dz/dx = 1 where x >= y, dz/dy = 1 where y > x
    grad_x = grad_z * (x >= y)
    grad_y = grad_z * (y > x)


def minimum(x, y, z, grad_z):
    # dz/dx = 1 where x <= y, dz/dy = 1 where y < x
    grad_x = grad_z * (x <= y)
    grad_y = grad_z * (y < x)


def clip(x, lo, hi, z, grad_z):
    # z = x on lo <= x <= hi, lo below it, hi above it
    grad_x = grad_z * (x >= lo) * (x <= hi)
    grad_lo = grad_z * (x < lo)
    grad_hi = grad_z * (x > hi)


def where(condition, x, y, z, grad_z):
    # z = x where the condition holds, else y; the condition is piecewise constant
    grad_condition = None
    grad_x = where(condition, grad_z, 0.0)
    grad_y = where(condition, 0.0, grad_z)


def extremum(x, z, grad_z, *, axis, keepdims):
    # z = max(x) (or min): dz/dx_i = 1/k at the k elements equal to z, 0 elsewhere
    selected = x == expand_reduced(z, x, axis=axis, keepdims=keepdims)
    share = grad_z / sum(selected, axis=axis, keepdims=keepdims)
    grad_x = expand_reduced(share, x, axis=axis, keepdims=keepdims) * selected
