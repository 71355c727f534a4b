"""Specialization: for concrete shapes, the backward a person would write."""

import numpy as np
import pytest

import gradgen
from tests import control_flow_functions as cf
from tests import seed_functions as seeds
from tests import test_item_writes as item_writes

rng = np.random.default_rng(3)
W1, W2 = rng.normal(size=(8, 64)), rng.normal(size=(64, 8))
x, y = rng.normal(size=(32, 8)), rng.normal(size=(32, 8))


def test_the_25_line_net_specializes_to_the_seeds_hand_written_backward():
    gradient = gradgen.grad(seeds.two_layer_loss, wrt=("W1", "W2"))
    source = gradient.source_for(W1, W2, x, y)
    # The seed's lines 18-22: dy_hat = y_hat - y; dW2 = a.T.dot(dy_hat); da = dy_hat.dot(W2.T);
    # ds = (s > 0) * da; dW1 = x.T.dot(ds). The two elementwise results go into arrays the
    # function made and reads no more (passes/buffers.py).
    # The int literal of np.maximum(s, 0) meets a float array: it is spelled 0.0 (passes/literals.py).
    for line in (
        "y_hat -= y",
        "grad_y_hat = y_hat",
        "grad_a = grad_y_hat.dot(W2.T)",
        "grad_W2 = a.T.dot(grad_y_hat)",
        "grad_a *= s >= 0.0",
        "grad_s = grad_a",
        "grad_W1 = x.T.dot(grad_s)",
    ):
        assert f"    {line}\n" in source
    assert "runtime" not in source and "grad_x" not in source
    assert "runtime.unbroadcast" in gradient.source  # the generic code stays shape-agnostic


def test_specialized_and_generic_code_agree():
    gradient = gradgen.grad(seeds.two_layer_loss, wrt=("W1", "W2"))
    for specialized, generic in zip(gradient(W1, W2, x, y), gradient.generic(W1, W2, x, y)):
        np.testing.assert_allclose(specialized, generic, rtol=1e-12)


def test_a_broadcast_argument_is_summed_exactly_over_its_broadcast_axes():
    gradient = gradgen.grad(seeds.array_add, wrt=(0, 1))
    a, b = rng.normal(size=(4, 1, 3)), rng.normal(size=(5, 1))
    source = gradient.source_for(a, b)
    grad_a, grad_b = gradient(a, b)
    assert grad_a.shape == a.shape and grad_b.shape == b.shape
    np.testing.assert_allclose(grad_a, np.full(a.shape, 5.0))
    np.testing.assert_allclose(grad_b, np.full(b.shape, 12.0))
    assert "np.sum(" in source.split("# backward")[1] and "keepdims=True" in source


def test_one_specialization_per_shape_and_a_fallback_for_the_rest():
    gradient = gradgen.grad(seeds.array_add, wrt=(0, 1))
    first = gradient.source_for(np.ones((2, 3)), np.ones(3))
    second = gradient.source_for(np.ones((2, 3)), np.ones((2, 3)))
    assert first != second
    assert "keepdims" not in second and "np.sum(" in first.split("# backward")[1]  # nothing was broadcast
    # Python numbers specialize too.
    assert gradient(1.0, 2.0) == (1.0, 1.0)


def test_returned_gradients_never_alias_arguments_or_each_other():
    w, data = rng.normal(size=5), rng.normal(size=5)
    data_before = data.copy()
    grad_w, grad_x = gradgen.grad(seeds.weighted_sum, wrt=(0, 1))(w, data)
    np.testing.assert_array_equal(grad_w, data)
    grad_w *= 0.0  # an in-place update of the gradient must not touch the caller's arrays
    np.testing.assert_array_equal(data, data_before)
    np.testing.assert_array_equal(grad_x, w)
    assert not np.shares_memory(grad_w, data) and not np.shares_memory(grad_x, w)
    grad_a, grad_b = gradgen.grad(seeds.array_add, wrt=(0, 1))(np.ones(3), np.ones(3))
    assert not np.shares_memory(grad_a, grad_b)
    generic_a, generic_b = gradgen.grad(seeds.array_add, wrt=(0, 1)).generic(np.ones(3), np.ones(3))
    assert not np.shares_memory(generic_a, generic_b)


def finite_differences(f, arguments, position, h=1e-6):
    expected = np.zeros_like(arguments[position])
    for index in np.ndindex(arguments[position].shape):
        up, down = [a.copy() for a in arguments], [a.copy() for a in arguments]
        up[position][index] += h
        down[position][index] -= h
        expected[index] = (f(*up) - f(*down)) / (2 * h)
    return expected


CONTROL_FLOW = [
    (cf.batched_recurrence, (rng.normal(size=(4, 4)) / 2, rng.normal(size=4), rng.normal(size=(5, 4)))),
    (cf.growing_state, (rng.normal(size=3), rng.normal(size=(2, 1)))),
    (cf.branch_with_broadcast, (np.array([0.5, 1.0, 1.5]), np.array([0.7]), np.abs(rng.normal(size=(4, 3))))),
    (cf.branch_with_broadcast, (np.array([0.5, 1.0, 1.5]), np.array([-0.7]), -np.abs(rng.normal(size=(4, 3))))),
    (cf.while_with_broadcast, (np.array([[1.0, -0.5, 0.25], [0.5, 0.75, -1.0]]), np.array([[0.1, 0.2, -0.3]]))),
    (cf.carried_sum, (rng.normal(size=3), rng.normal(size=3), rng.normal(size=3))),
]


@pytest.mark.parametrize("case", CONTROL_FLOW, ids=lambda case: case[0].__name__)
def test_loops_and_branches_specialize_and_agree_with_the_generic_code_and_finite_differences(case):
    f, arguments = case
    wrt = tuple(range(len(arguments)))
    gradient = gradgen.grad(f, wrt=wrt)
    assert gradient.source_for(*arguments) != gradient.source  # specialized, not the fallback
    specialized, generic = gradient(*arguments), gradient.generic(*arguments)
    for position in wrt:
        assert specialized[position].shape == arguments[position].shape
        np.testing.assert_allclose(specialized[position], generic[position], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(specialized[position], finite_differences(f, arguments, position), rtol=1e-5, atol=1e-6)


def backward_loop(source):
    """The body of the backward loop, ``for ... in reversed(range(...)):``, up to its end."""
    lines = source.split("in reversed(range(")[1].splitlines()[1:]
    indent = len(lines[0]) - len(lines[0].lstrip())
    return "\n".join(line for line in lines if len(line) - len(line.lstrip()) >= indent)


def test_a_broadcast_inside_a_loop_is_summed_over_exactly_its_axes():
    W, b, x = CONTROL_FLOW[0][1]
    body = backward_loop(gradgen.grad(cf.batched_recurrence, wrt=(0, 1, 2)).source_for(W, b, x))
    assert "unbroadcast" not in body and "np.sum(" in body and "axis=(0,)" in body


def test_a_carried_value_whose_shape_changes_keeps_its_loop_generic():
    w, x = CONTROL_FLOW[1][1]
    body = backward_loop(gradgen.grad(cf.growing_state, wrt=(0, 1)).source_for(w, x))
    assert "runtime.unbroadcast" in body  # h's shape is not known in the body: numpy decides at run time


def test_a_loop_records_only_what_its_specialized_backward_reads():
    generic = gradgen.grad(cf.carried_sum, wrt=(0, 1, 2)).source
    specialized = gradgen.grad(cf.carried_sum, wrt=(0, 1, 2)).source_for(*CONTROL_FLOW[-1][1])
    assert "(x, y)" in generic.split("stack.append")[1].splitlines()[0]  # y is read for its shape only
    assert "stack.append(x)" in specialized and "y = stack.pop()" not in specialized
    w, x = CONTROL_FLOW[-2][1]
    specialized = gradgen.grad(cf.while_with_broadcast, wrt=(0, 1)).source_for(w, x)
    assert "append" not in specialized and "pop()" not in specialized  # nothing left to record


# -- np.dot of N-D arrays: tensordot with the axes written out ----------------------------------


def dot_function(a, b, w):
    return np.sum(np.tanh(np.dot(a, b)) * w)


def dot_method(a, b, w):
    return np.sum(np.tanh(a.dot(b)) * w)


def batched_matmul(a, b, w):
    return np.sum(np.tanh(np.matmul(a, b)) * w)


DOT_SHAPES = [
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 5, 4, 3)),
    ((2, 1, 3, 4), (5, 4, 2)),
]


def _gradients_agree(f, arguments, wrt):
    """The specialized gradients equal the generic code's and central finite differences; the
    specialized source, which is returned, is not the generic one."""
    gradient = gradgen.grad(f, wrt=wrt)
    source = gradient.source_for(*arguments)
    assert source != gradient.source
    specialized, generic = gradient(*arguments), gradient.generic(*arguments)
    for position, grad_specialized, grad_generic in zip(wrt, specialized, generic):
        assert grad_specialized.shape == arguments[position].shape
        np.testing.assert_allclose(grad_specialized, grad_generic, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad_specialized, finite_differences(f, arguments, position), rtol=1e-5, atol=1e-7)
    return source


@pytest.mark.parametrize("f", [dot_function, dot_method])
@pytest.mark.parametrize("shapes", DOT_SHAPES, ids=str)
def test_the_gradients_of_an_n_dimensional_dot_are_tensordots_with_constant_axes(f, shapes):
    a, b = (rng.normal(size=shape) for shape in shapes)
    w = rng.normal(size=np.dot(a, b).shape)
    source = _gradients_agree(f, (a, b, w), (0, 1))
    assert "runtime" not in source  # no dot_vjp_left/right: plain numpy, axes known
    assert "np.dot(a, b)" in source or "a.dot(b)" in source  # the forward as written


@pytest.mark.parametrize("shapes", [((), (2, 3, 4)), ((2, 3, 4), ()), ((), ())], ids=str)
def test_the_dot_with_a_scalar_is_a_product(shapes):
    a, b = (rng.normal(size=shape) for shape in shapes)
    source = _gradients_agree(dot_function, (a, b, rng.normal(size=np.dot(a, b).shape)), (0, 1))
    assert "runtime" not in source


def test_the_backward_of_a_three_dimensional_dot_reads_as_written_by_hand():
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4, 6))
    source = gradgen.grad(dot_function, wrt=(0, 1)).source_for(a, b, rng.normal(size=(2, 3, 5, 6)))
    # z[i, j, n, m] = sum_k a[i, j, k] b[n, k, m]
    assert "grad_a = np.tensordot(t1, b, axes=((2, 3), (0, 2)))" in source
    assert "grad_b = np.transpose(np.tensordot(a, t1, axes=((0, 1), (0, 1))), (1, 0, 2))" in source


@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((2, 1, 3, 4), (5, 4, 2))], ids=str)
def test_a_batched_matmul_is_not_taken_for_a_dot(shapes):
    a, b = (rng.normal(size=shape) for shape in shapes)
    w = rng.normal(size=np.matmul(a, b).shape)
    source = _gradients_agree(batched_matmul, (a, b, w), (0, 1))
    assert "tensordot" not in source  # matmul broadcasts its batch axes: they are not contracted


# -- item writes and indexing: zeros and index assignments, not runtime.unindex/written_gradient --


def rows_read(x):
    return np.sum(np.sin(x[0]) * x[1]) + np.sum(x[-1, 1:] ** 2) + np.sum(x[[2, 0]] ** 3)


def broadcast_writes(x, v):
    H = np.zeros((3, 4))
    H[1:] = v
    H[0, 1:] = x[0]
    H[[2, 0], 0] = x[1:]
    return np.sum(np.sin(H) * H)


@pytest.mark.parametrize("f, arguments", [(rows_read, (rng.normal(size=(3, 4)),)), (broadcast_writes, (rng.normal(size=3), rng.normal(size=(1, 4))))])
def test_item_writes_and_reads_specialize_to_zeros_and_index_assignments(f, arguments):
    source = _gradients_agree(f, arguments, tuple(range(len(arguments))))
    assert "runtime" not in source
    assert "np.zeros((3, 4))" in source or "np.zeros((3,))" in source


# The item-write corpus (its gradients are checked in tests/test_item_writes.py) that keeps the
# helpers: a list of indices repeating a position, and functions whose shapes stamping cannot
# know (a size computed from sizes, T + 1; a slice with run-time bounds), which stay generic.
KEEP_HELPERS = {"repeated-positions", "rnn-reading-previous-row", "prefix-sums", "branch-reads-row", "rows-from-a-while", "accumulate-in-loop"}


@pytest.mark.parametrize("case_id, function, point", item_writes.CASES, ids=item_writes.IDS)
def test_the_item_write_corpus_specializes_without_unindex_and_written_gradient(case_id, function, point):
    source = gradgen.grad(function, wrt=tuple(range(len(point)))).source_for(*point)
    helpers = "runtime.unindex" in source or "runtime.written_gradient" in source
    assert helpers == (case_id in KEEP_HELPERS)


def test_a_python_number_written_into_a_slice_gets_the_slices_sum_as_a_float():
    x = rng.normal(size=3)
    gradient = gradgen.grad(broadcast_writes, wrt=(0, 1))
    source = gradient.source_for(x, 0.7)
    grad_x, grad_v = gradient(x, 0.7)
    generic_x, generic_v = gradient.generic(x, 0.7)
    assert type(grad_v) is float and grad_v == pytest.approx(generic_v, rel=1e-12)
    np.testing.assert_allclose(grad_x, generic_x, rtol=1e-12)
    f = lambda v: broadcast_writes(x, v)  # noqa: E731
    assert grad_v == pytest.approx((f(0.7 + 1e-6) - f(0.7 - 1e-6)) / 2e-6, rel=1e-6)
    assert "grad_v = float(np.sum(grad_H[1:]))" in source and "runtime" not in source


def repeated_positions(x):
    H = np.zeros((4, 3))
    H[[0, 0]] += x
    return np.sum(np.sin(H) * H) + np.sum(x[[1, -1]] ** 2)


def test_a_list_of_indices_that_repeats_a_position_keeps_the_helpers():
    # x[[1, -1]] reads row 1 twice: its gradient adds up there (np.add.at), and H[[0, 0]] += x
    # keeps the last write; the helpers do both, and say so by their name.
    x = rng.normal(size=(2, 3))
    source = _gradients_agree(repeated_positions, (x,), (0,))
    assert "runtime.unindex" in source and "runtime.written_gradient" in source


def row_overwritten(x, v, w):
    H = x.copy()
    H[0] = v
    return np.sum(H * w)


def test_the_gradient_of_a_written_value_is_a_new_array():
    # grad_H is the argument w itself: grad_v = w[0] would alias it
    x, v, w = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(3, 4))
    source = _gradients_agree(row_overwritten, (x, v, w), (0, 1))
    grad_x, grad_v = gradgen.grad(row_overwritten, wrt=(0, 1))(x, v, w)
    np.testing.assert_array_equal(grad_v, w[0])
    assert not np.shares_memory(grad_v, w) and "written_gradient" not in source


def reshaped_argument(x, w):
    return np.sum(x.reshape(6) * w)


def transposed_argument(x, w):
    return np.sum(x.T * w)


def concatenated_argument(a, b, w):
    return np.sum(np.concatenate((a, b), axis=1) * w)


_W6, _W32, _W25 = rng.normal(size=6), rng.normal(size=(3, 2)), rng.normal(size=(2, 5))


@pytest.mark.parametrize(
    "f, arguments, expected",
    [
        (reshaped_argument, (rng.normal(size=(2, 3)), _W6), (_W6.reshape(2, 3),)),
        (transposed_argument, (rng.normal(size=(2, 3)), _W32), (_W32.T,)),
        (concatenated_argument, (rng.normal(size=(2, 3)), rng.normal(size=(2, 2)), _W25), (_W25[:, :3], _W25[:, 3:])),
    ],
    ids=["reshaped", "transposed", "concatenated"],
)
def test_a_gradient_that_is_a_view_of_an_argument_is_returned_as_a_copy(f, arguments, expected):
    # d/dx sum(view(x) * w) is w seen through the inverse view (w.reshape((2, 3)), w.T, w[:, :3]):
    # specialized code computes it as a view of the caller's w, and returns a copy of it
    gradients = gradgen.grad(f, wrt=tuple(range(len(arguments) - 1)))(*arguments)
    for gradient, hand_derived in zip(gradients, expected):
        np.testing.assert_array_equal(gradient, hand_derived)
        assert not np.shares_memory(gradient, arguments[-1])


def two_rows(x):
    return x[0] * 2.0 + x[1]


def test_the_zeros_of_a_read_gradient_have_the_generic_codes_dtype():
    x, grad_out = np.ones((3, 4), dtype=np.float32), np.arange(4, dtype=np.float32)
    gradient = gradgen.vjp(two_rows)
    specialized, generic = gradient(x, grad_out), gradient.generic(x, grad_out)
    assert specialized.dtype == generic.dtype == np.float32
    np.testing.assert_array_equal(specialized, np.stack([2.0 * grad_out, grad_out, np.zeros(4)]))
    assert "np.zeros((3, 4), dtype='float32')" in gradient.source_for(x, grad_out)
