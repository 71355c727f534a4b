"""Shape ops and indexing move elements without changing them: the adjoint moves back."""


def reshape(x, *sizes, z, grad_z, shape):
    # x.reshape(shape), ravel, flatten, squeeze, expand_dims: same elements, x's shape again
    grad_x = reshape_like(grad_z, x)
    grad_sizes = None


def broadcast_to(x, z, grad_z, *, shape):
    # every copy of an element passes its gradient back: sum over the broadcast axes
    grad_x = unbroadcast(grad_z, x)


def index(x, *positions, z, grad_z, key):
    # z = x[key]: the selected elements receive grad_z, every other element 0
    grad_x = unindex(x, grad_z, positions, key=key)
    grad_positions = None


def index_set(x, value, *positions, z, grad_z, key):
    # z = x with z[key] = value: z[key] comes from value (summed where value was broadcast),
    # every other element from x. grad_value is computed first: grad_x may then reuse grad_z.
    grad_value = written_gradient(value, grad_z, positions, key=key)
    grad_x = index_set(grad_z, 0.0, positions, key=key)
    grad_positions = None


def concatenate(*xs, z, grad_z, axis):
    # each x_i receives its own block of grad_z
    grad_xs = unconcatenate(grad_z, xs, axis=axis, index=i)


def stack(*xs, z, grad_z, axis):
    # x_i is z's slice i along the new axis
    grad_xs = take(grad_z, i, axis=axis)
