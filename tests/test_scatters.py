"""Scatters (passes/scatters.py): the gradients of reads of an array land in one array's slots,
``grad_x[key] += g``, in straight-line code and in a loop's accumulator, never in an argument."""

import numpy as np

import gradgen
from tests import test_item_writes as item_writes
from tests.test_specialization import _gradients_agree, backward_loop, finite_differences, rows_read

rng = np.random.default_rng(7)


def many_reads(x, i):
    # negative steps, None, ..., run-time integers, a list without repeats
    first = np.sum(np.sin(x[::-1, 0]) * x[1, ::2].sum()) + np.sum(x[None, 1] ** 2)
    return first + np.sum(x[..., -1] ** 3) + np.sum(np.cos(x[i, 1:])) + np.sum(x[:, i] * x[[0, 2], 1].sum())


def test_reads_of_every_kind_of_key_specialize():
    x, gradient = rng.normal(size=(3, 4)), gradgen.grad(many_reads)
    for i in (0, 1, -1):  # with i = 1, x[:, i] and x[[0, 2], 1] overlap: their gradients add up
        source = gradient.source_for(x, i)
        np.testing.assert_allclose(gradient(x, i), gradient.generic(x, i), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gradient(x, i), finite_differences(lambda x: many_reads(x, i), [x], 0), rtol=1e-5, atol=1e-7)
        assert "runtime" not in source and source.count("np.zeros(") == 1


def test_the_gradients_of_several_reads_land_in_one_array():
    # x[[2, 0]], x[-1, 1:], x[1] and x[0]: one np.zeros of x's shape, each gradient added into
    # its slot (passes/scatters.py), not a scatter of x's shape per read summed
    source = _gradients_agree(rows_read, (rng.normal(size=(3, 4)),), (0,))
    assert source.count("np.zeros(") == 1 and "grad_x = np.zeros((3, 4))" in source
    for slot in ("grad_x[-1, 1:]", "grad_x[1]", "grad_x[0]"):
        assert f"    {slot} = " in source


def test_a_loop_adds_the_gradient_of_a_row_it_read_into_the_accumulators_row():
    # h = np.tanh(W @ h + U @ x[t]): grad_x[t] += U.T.dot(...), not grad_x += a scatter of x's shape
    _, function, point = next(case for case in item_writes.CASES if case[0] == "rnn-rows")
    body = backward_loop(_gradients_agree(function, point, (0, 1, 2)))
    assert "grad_x[t] = " in body and "np.zeros" not in body and "grad_x +=" not in body


def read_and_weighted(x, w):
    return np.sum(x * w) + np.sum(x[0] ** 2)


def test_a_read_gradient_is_never_added_into_an_argument():
    # grad_x = w + scatter(2 * x[0]): w is the caller's, so the scatter is made, not folded into w
    x, w = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    kept = w.copy()
    source = _gradients_agree(read_and_weighted, (x, w), (0, 1))
    np.testing.assert_array_equal(w, kept)
    assert "w[0] =" not in source and "runtime" not in source
