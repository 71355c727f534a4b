"""Specialization: for concrete shapes, the backward a person would write."""

import numpy as np
import pytest

import gradgen
from tests import control_flow_functions as cf
from tests import seed_functions as seeds

rng = np.random.default_rng(3)
W1, W2 = rng.normal(size=(8, 64)), rng.normal(size=(64, 8))
x, y = rng.normal(size=(32, 8)), rng.normal(size=(32, 8))


def test_the_25_line_net_specializes_to_the_seeds_hand_written_backward():
    gradient = gradgen.grad(seeds.two_layer_loss, wrt=("W1", "W2"))
    source = gradient.source_for(W1, W2, x, y)
    # The seed's lines 18-22: dy_hat = y_hat - y; dW2 = a.T.dot(dy_hat); da = dy_hat.dot(W2.T);
    # ds = (s > 0) * da; dW1 = x.T.dot(ds). The two elementwise results go into arrays the
    # function made and reads no more (passes/buffers.py).
    for line in (
        "grad_y_hat = np.subtract(y_hat, y, out=y_hat)",
        "grad_a = grad_y_hat.dot(W2.T)",
        "grad_W2 = a.T.dot(grad_y_hat)",
        "grad_s = np.multiply(grad_a, s >= 0, out=grad_a)",
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
