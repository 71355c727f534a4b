"""Matrix products and transposes (vector-Jacobian products, never the Jacobian itself)."""


def matmul(x, y, z, grad_z):
    # z = x @ y: grad_x = grad_z @ y.T, grad_y = x.T @ grad_z (1-D operands promoted as numpy does)
    grad_x = matmul_vjp_left(grad_z, x, y)
    grad_y = matmul_vjp_right(grad_z, x, y)


def dot(x, y, z, grad_z):
    # np.dot agrees with @ for vectors and matrices and is a product for scalars; for N-D
    # arrays it contracts x's last axis with y's second to last (tensordot in the backward)
    grad_x = dot_vjp_left(grad_z, x, y)
    grad_y = dot_vjp_right(grad_z, x, y)


def transpose(x, z, grad_z, *, axes):
    # z = transpose(x, axes): the adjoint is transposed back (x.T undoes itself)
    grad_x = transpose(grad_z, axes=inverse_permutation(axes))


def inner(x, y, z, grad_z):
    # z[I, J] = sum_k x[I, k] y[J, k]: contract grad_z with the other operand
    grad_x = inner_vjp_left(grad_z, x, y)
    grad_y = inner_vjp_right(grad_z, x, y)


def outer(x, y, z, grad_z):
    # z[i, j] = x[i] y[j] (over the flattened operands)
    grad_x = reshape_like(dot(grad_z, ravel(y)), x)
    grad_y = reshape_like(dot(ravel(x), grad_z), y)


def einsum(*xs, z, grad_z, subscripts):
    # the adjoint of one operand is the einsum of grad_z with the others, into its subscripts
    grad_xs = einsum_vjp(grad_z, xs, subscripts=subscripts, index=i)


def trace(x, z, grad_z):
    # z = sum_i x[i, i]: the diagonal receives grad_z, the rest 0
    grad_x = trace_vjp(grad_z, x)
