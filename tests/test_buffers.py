"""Buffer reuse (passes/buffers.py): elementwise results written into dead arrays the function
made, never into an argument, a view or anything read later; the gradients do not change. In
loop bodies too: accumulators (``grad_W += ...``) write into the arrays made for them, never
into an argument, a value the stack records, or an initial value read later or passed twice."""

import contextlib
import math
import re

import numpy as np
import pytest

import gradgen
from gradgen import dispatch
from gradgen.ir import Constant, Equation, Graph, Value
from gradgen.passes.buffers import reuse_buffers
from tests import buffer_loop_functions as fn
from tests.control_flow_functions import batched_recurrence
from tests.test_benchmark_workloads import RNN as rnn  # the benchmark's rnn_loss(W, U, b, xs, ys, h0)

rng = np.random.default_rng(11)


def chain(x, b):
    return np.sum(np.tanh(np.exp(x * 0.5) + b) * 3.0)


def accumulated(x, w):
    u = x * w
    return np.sum(u * u + np.sin(u) * x + w / (1.0 + x * x))


def view_read_later(x):
    t = np.exp(x)
    v = t.T  # a view of t: t's array is live while v is
    u = t * 2.0
    return np.sum(u * v.T)


def reshaped_view(x):
    t = np.exp(x)
    flat = t.reshape(-1)
    u = t + 1.0
    return np.sum(u) + np.sum(flat * flat)


def indexed_view(x):
    t = np.tanh(x)
    row = t[0]
    u = t * t
    return np.sum(u) + np.sum(row * 3.0)


def read_before_a_write(x):
    a = np.exp(x)
    # a * 3.0 reads a before a + 1.0, which may go into a's array, and is used once, later
    return np.sum((a * 3.0) * (a + 1.0))


def argument_dead_early(x, y):
    s = x * 2.0
    return np.sum(np.exp(s) * y)


def relu_net(W1, W2, x, y):
    s = x @ W1
    a = np.maximum(s, 0)
    y_hat = a @ W2
    return 0.5 * np.sum((y_hat - y) ** 2.0)


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * logp, axis=1))


@contextlib.contextmanager
def buffer_reuse_disabled():
    """Specializations compiled inside are the code without the pass (to compare with)."""
    real = dispatch.reuse_buffers
    dispatch.reuse_buffers = lambda graph: graph
    try:
        yield
    finally:
        dispatch.reuse_buffers = real


def numeric_gradient(function, args, position, step=1e-6):
    argument = np.asarray(args[position], dtype=float)
    result = np.zeros(argument.shape)
    for index in np.ndindex(argument.shape):
        shifted = argument.copy()
        shifted[index] += step
        above = function(*args[:position], shifted, *args[position + 1 :])
        shifted[index] -= 2 * step
        below = function(*args[:position], shifted, *args[position + 1 :])
        result[index] = (above - below) / (2 * step)
    return result


CASES = [
    (chain, (0, 1), [((3,), (3,)), ((4, 3), (3,)), ((4, 3), (4, 1)), ((2, 1, 3), (5, 3)), ((3,), ())]),
    (accumulated, (0, 1), [((5,), (5,)), ((4, 5), (5,)), ((5,), (4, 5)), ((3, 1), (1, 4))]),
    (view_read_later, 0, [((3, 3),), ((2, 4),)]),
    (reshaped_view, 0, [((3, 2),), ((4,),)]),
    (indexed_view, 0, [((3, 2),), ((2, 2, 2),)]),
    (read_before_a_write, 0, [((3,),), ((2, 3),)]),
    (argument_dead_early, (0, 1), [((4,), (4,)), ((2, 4), (4,)), ((4,), (3, 4))]),
]


def check_gradients(function, wrt, shape_sets):
    """The gradients with buffer reuse equal those without it and finite differences, on every
    set of argument shapes, and leave the arguments as they were; the specialized sources."""
    gradient, plain = gradgen.grad(function, wrt=wrt), gradgen.grad(function, wrt=wrt)
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    sources = []
    for shapes in shape_sets:
        args = tuple(rng.normal(size=shape) if shape else float(rng.normal()) for shape in shapes)
        copies = tuple(np.copy(a) for a in args)
        results = gradient(*args)
        results = results if isinstance(wrt, tuple) else (results,)
        sources.append(gradient.source_for(*args))
        with buffer_reuse_disabled():
            expected = plain(*args)
            assert "out=" not in plain.source_for(*args)
        expected = expected if isinstance(wrt, tuple) else (expected,)
        for argument, copy in zip(args, copies):
            np.testing.assert_array_equal(argument, copy)  # arguments are never written
        for position, result, reference in zip(positions, results, expected):
            np.testing.assert_allclose(result, reference, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(result, numeric_gradient(function, args, position), rtol=1e-5, atol=1e-7)
        again = gradient(*args)  # a second call (the dispatcher's fast path) gives the same
        for first, second in zip(results, again if isinstance(wrt, tuple) else (again,)):
            np.testing.assert_array_equal(first, second)
    return sources


def in_place_writes(lines):
    """The lines that write a result into an existing array: ``out=`` or ``a += b``."""
    return [line for line in lines if "out=" in line or re.search(r" [-+*/]= ", line)]


def writes_in_place(lines):
    return bool(in_place_writes(lines))


def loop_bodies(source):
    """The lines inside the ``for`` and ``while`` loops of ``source``."""
    lines, inside, depth = source.splitlines(), [], None
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if depth is not None and indent <= depth and line.strip():
            depth = None
        if depth is not None:
            inside.append(line)
        elif line.lstrip().startswith(("for ", "while ")):
            depth = indent
    return inside


@pytest.mark.parametrize("function, wrt, shape_sets", CASES, ids=[case[0].__name__ for case in CASES])
def test_gradients_match_the_code_without_reuse_and_finite_differences(function, wrt, shape_sets):
    sources = check_gradients(function, wrt, shape_sets)
    assert any(writes_in_place(source.splitlines()) for source in sources)  # the pass had something to do


LOOP_CASES = [
    (rnn, (0, 1, 2, 5), [((3, 3), (3, 2), (3,), (4, 2), (4, 3), (3,)), ((2, 2), (2, 3), (2,), (1, 3), (1, 2), (2,))]),
    (batched_recurrence, (0, 1, 2), [((4, 4), (4,), (5, 4)), ((2, 2), (1, 2), (3, 2))]),
    (fn.broadcast_in_body, (0, 1, 2), [((3, 2, 4), (4,), (2, 1)), ((2, 3, 1), (1,), (3, 1)), ((1, 2, 3), (3,), ())]),
    (fn.accumulator_read_after, (0, 1), [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (2, 3))]),
    (fn.carried_argument, (0, 1), [((3,), (3,)), ((2, 3), (3,)), ((3,), ())]),
    (fn.one_initial_array_twice, 1, [((3,), (3,)), ((2, 3), (3,))]),
    (fn.initial_value_read_in_the_body, 0, [((3,), (3,)), ((2, 3), (3,))]),
    (fn.carried_restarts_from_an_argument, (0, 1), [((3,), (3,)), ((2, 3), (2, 3))]),
    (fn.recorded_on_the_stack, (0, 1), [((3,), (3,)), ((2, 3), (3,))]),
    (fn.while_accumulates, (0, 1), [((3,), (3,)), ((2, 3), (2, 1))]),
    (fn.nested_loops, (0, 1), [((3,), (3,)), ((2, 3), (3,))]),
    (fn.branch_in_body, (0, 1), [((3,), (3,)), ((2, 3), (2, 3))]),
    (fn.branch_operand_read_after, (0, 1), [((3,), (3,)), ((2, 3), (3,))]),
]


@pytest.mark.parametrize("function, wrt, shape_sets", LOOP_CASES, ids=[case[0].__name__ for case in LOOP_CASES])
def test_loop_bodies_write_in_place_and_keep_the_gradients(function, wrt, shape_sets):
    sources = check_gradients(function, wrt, shape_sets)
    assert all(writes_in_place(loop_bodies(source)) for source in sources), sources[0]


def test_the_rnn_accumulates_its_weight_gradients_in_place():
    n, m, T = 6, 4, 5
    args = (rng.normal(size=(n, n)) / 3, rng.normal(size=(n, m)), rng.normal(size=n), rng.normal(size=(T, m)), rng.normal(size=(T, n)), np.zeros(n))
    gradient = gradgen.grad(rnn, wrt=(0, 1, 2))
    body = "\n".join(loop_bodies(gradient.source_for(*args).split("# backward")[1]))
    assert "grad_W += " in body and "grad_U += " in body and "grad_b += " in body, body
    # backpropagation through time by hand
    W, U, b, xs, ys, h0 = args
    hs = [h0]
    for t in range(T):
        hs.append(np.tanh(W @ hs[-1] + U @ xs[t] + b))
    dW, dU, db, dh = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b), np.zeros(n)
    for t in reversed(range(T)):
        dpre = (dh + hs[t + 1] - ys[t]) * (1.0 - hs[t + 1] ** 2)
        dW, dU, db, dh = dW + np.outer(dpre, hs[t]), dU + np.outer(dpre, xs[t]), db + dpre, W.T @ dpre
    for computed, expected in zip(gradient(*args), (dW, dU, db)):
        np.testing.assert_allclose(computed, expected, rtol=1e-12, atol=1e-14)


def test_a_carried_argument_is_copied_once_before_the_loop():
    x, w = rng.normal(size=(2, 3)), rng.normal(size=3)
    source = gradgen.grad(fn.carried_argument, wrt=(0, 1)).source_for(x, w)
    assert source.count("np.copy(x)") == 1 and "np.copy" not in "\n".join(loop_bodies(source)), source


def test_a_loop_does_not_write_into_an_initial_value_read_after_it():
    x, w = rng.normal(size=3), rng.normal(size=3)
    source = gradgen.grad(fn.accumulator_read_after, wrt=(0, 1)).source_for(x, w)
    assert "zero_1 = np.copy(zero)" in source and "zero + 1.0" in source, source


def test_values_recorded_on_the_stack_are_never_written():
    x, w = rng.normal(size=3), rng.normal(size=3)
    source = gradgen.grad(fn.recorded_on_the_stack, wrt=(0, 1)).source_for(x, w)
    forward_loop = loop_bodies(source.split("# backward")[0])
    assert "stack.append(h)" in forward_loop[0] and writes_in_place(forward_loop)
    assert not any(re.search(r"\bh [-+*/]= |out=h\)", line) for line in forward_loop), source


def test_the_branches_of_an_if_write_into_the_accumulator_they_are_handed():
    x, w = rng.normal(size=3), rng.normal(size=3)
    forward = gradgen.grad(fn.branch_in_body, wrt=(0, 1)).source_for(x, w).split("# backward")[0]
    assert "np.copy" not in "\n".join(loop_bodies(forward)), forward
    source = gradgen.grad(fn.branch_in_body, wrt=(0, 1)).source_for(x, w)
    branches = "\n".join(line for line in loop_bodies(source) if line.startswith(" " * 12))
    assert re.search(r"acc_1 [-+*/]= |out=acc_1\)", branches), source


def test_views_and_arrays_read_later_are_not_written():
    x = rng.normal(size=(3, 3))
    for function in (view_read_later, reshaped_view, indexed_view):
        source = gradgen.grad(function).source_for(x)
        forward = source.split("# backward")[0]
        assert "out=t0" not in forward and "t0 +=" not in forward and "t0 *=" not in forward, source


def test_a_value_read_before_a_write_is_computed_before_it():
    # In accumulated's backward, grad_u * w (used once, by a later +=) reads grad_u before
    # grad_u * x is written into grad_u's array: it must not be inlined into its reader.
    x, w = rng.normal(size=(4, 5)), rng.normal(size=5)
    grad_x, grad_w = gradgen.grad(accumulated, wrt=(0, 1))(x, w)
    u = x * w
    np.testing.assert_allclose(grad_x, 2 * u * w + np.cos(u) * w * x + np.sin(u) - 2 * w * x / (1 + x * x) ** 2, rtol=1e-12)
    np.testing.assert_allclose(grad_w, np.sum(2 * u * x + np.cos(u) * x * x + 1 / (1 + x * x), axis=0), rtol=1e-12)
    x = rng.normal(size=3)
    np.testing.assert_allclose(gradgen.grad(read_before_a_write)(x), np.exp(x) * (6.0 * np.exp(x) + 3.0), rtol=1e-12)


def test_arguments_and_returned_gradients_are_never_shared():
    W1, W2, x = rng.normal(size=(8, 16)), rng.normal(size=(16, 4)), rng.normal(size=(5, 8))
    y = rng.normal(size=(5, 4))
    copies = [a.copy() for a in (W1, W2, x, y)]
    grads = gradgen.grad(relu_net, wrt=(0, 1, 2, 3))(W1, W2, x, y)
    for argument, copy in zip((W1, W2, x, y), copies):
        np.testing.assert_array_equal(argument, copy)
    arrays = [W1, W2, x, y, *grads]
    for i, first in enumerate(arrays):
        for second in arrays[i + 1 :]:
            assert not np.shares_memory(first, second)
    s = x @ W1
    grad_y_hat = np.maximum(s, 0) @ W2 - y
    np.testing.assert_allclose(grads[0], x.T @ ((grad_y_hat @ W2.T) * (s > 0)), rtol=1e-12)
    np.testing.assert_allclose(grads[3], -grad_y_hat, rtol=1e-12)


def test_the_mlp_writes_its_elementwise_results_in_place():
    N, D, H, K = 6, 7, 5, 3
    args = (rng.normal(size=(D, H)), rng.normal(size=H), rng.normal(size=(H, K)), rng.normal(size=K), rng.random((N, D)), np.eye(K)[rng.integers(0, K, N)])
    gradient = gradgen.grad(mlp_loss, wrt=(0, 1, 2, 3))
    source = gradient.source_for(*args)
    assert "t0 = X.dot(W1)\n    t0 += b1\n    h = np.tanh(t0, out=t0)\n" in source
    # t0 += b1, tanh, t1 += b2, exp, the softmax's division and products, tanh's derivative
    assert len(in_place_writes(source.splitlines())) >= 8, source
    # softmax cross-entropy by hand: dlogits = (softmax - Y) / N
    W1, b1, W2, b2, X, Y = args
    h = np.tanh(X @ W1 + b1)
    e = np.exp(h @ W2 + b2)
    dlogits = (e / e.sum(axis=1, keepdims=True) - Y) / N
    dpre = dlogits @ W2.T * (1.0 - h * h)
    for computed, expected in zip(gradient(*args), (X.T @ dpre, dpre.sum(axis=0), h.T @ dlogits, dlogits.sum(axis=0))):
        np.testing.assert_allclose(computed, expected, rtol=1e-10, atol=1e-14)


def test_float32_and_integer_arrays_keep_their_dtypes():
    x32, b32 = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    grad_x, grad_b = gradgen.grad(chain, wrt=(0, 1))(x32, b32)
    assert grad_x.dtype == np.float32 and grad_b.dtype == np.float32
    expected = 3.0 * (1.0 - np.tanh(np.exp(x32 * 0.5) + b32) ** 2)
    np.testing.assert_allclose(grad_b, expected.sum(axis=0), rtol=1e-5)
    xi, wi = np.arange(6).reshape(2, 3), np.arange(3)
    grad_x, grad_w = gradgen.grad(accumulated, wrt=(0, 1))(xi, wi)
    assert grad_x.dtype.kind == "f" and grad_w.dtype.kind == "f"
    np.testing.assert_allclose(grad_w, numeric_gradient(accumulated, (xi, wi.astype(float)), 1), rtol=1e-5, atol=1e-6)
    assert not math.isnan(float(np.sum(grad_x)))


# -- the pass on hand-built graphs ---------------------------------------------------------------


def _array(id, shape=(3,), dtype="float64"):
    return Value(id, "", False, shape=shape, dtype=dtype)


def _marks(graph):
    return [equation.param("out") for equation in reuse_buffers(graph).equations]


def test_the_pass_writes_only_into_dead_arrays_the_graph_made():
    x, t, u, v = _array(0), _array(1), _array(2), _array(3)
    # t = exp(x); u = t * 2.0; v = u + x: x is an argument, t and u die where they are read
    graph = Graph((x,), (Equation("exp", (x,), (t,)), Equation("mul", (t, Constant(2.0)), (u,)), Equation("add", (x, u), (v,))), (v,))
    assert _marks(graph) == [None, 0, 1]
    # the same with t returned: it is live to the end and never written
    assert _marks(Graph(graph.inputs, graph.equations, (v, t))) == [None, None, 1]


def test_the_pass_leaves_views_other_dtypes_and_other_shapes_alone():
    x, t, view, u, w = _array(0, (2, 3)), _array(1, (2, 3)), _array(2, (3, 2)), _array(3, (2, 3)), _array(4, (3, 2))
    exp = Equation("exp", (x,), (t,))
    transpose = Equation("transpose", (t,), (view,), (("lib", "attribute"),))
    # t's view is read after t * 2.0: t's array is still live
    graph = Graph((x,), (exp, transpose, Equation("mul", (t, Constant(2.0)), (u,)), Equation("exp", (view,), (w,))), (u, w))
    assert _marks(graph) == [None, None, None, None]
    # a float32 result cannot go into a float64 array, nor a (2, 3) one into a (1, 3) one
    small, narrow, wide = _array(5, (1, 3)), _array(6, (2, 3), "float32"), _array(7, (2, 3))
    graph = Graph((x,), (Equation("exp", (x,), (small,)), Equation("add", (small, x), (wide,))), (wide,))
    assert _marks(graph) == [None, None]
    graph = Graph((x,), (Equation("exp", (x,), (t,)), Equation("mul", (t, Constant(2.0)), (narrow,))), (narrow,))
    assert _marks(graph) == [None, None]
