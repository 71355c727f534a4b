"""Matrix products and transposes (vector-Jacobian products, never the Jacobian itself)."""


def matmul(x, y, z, grad_z):
    # z = x @ y: grad_x = grad_z @ y.T, grad_y = x.T @ grad_z (1-D operands promoted as numpy does)
    grad_x = matmul_vjp_left(grad_z, x, y)
    grad_y = matmul_vjp_right(grad_z, x, y)


def dot(x, y, z, grad_z):
    # np.dot agrees with @ for vectors and matrices, and is a product for scalars
    grad_x = matmul_vjp_left(grad_z, x, y)
    grad_y = matmul_vjp_right(grad_z, x, y)


def transpose(x, z, grad_z):
    # z = x.T: the adjoint of a transpose is the transpose of the adjoint
    grad_x = grad_z.T
