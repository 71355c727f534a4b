"""Buffer reuse (passes/buffers.py): elementwise results written into dead arrays the function
made, never into an argument, a view or anything read later; the gradients do not change."""

import contextlib
import math
import re

import numpy as np
import pytest

import gradgen
from gradgen import dispatch
from gradgen.ir import Constant, Equation, Graph, Value
from gradgen.passes.buffers import reuse_buffers

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


@pytest.mark.parametrize("function, wrt, shape_sets", CASES, ids=[case[0].__name__ for case in CASES])
def test_gradients_match_the_code_without_reuse_and_finite_differences(function, wrt, shape_sets):
    gradient, plain = gradgen.grad(function, wrt=wrt), gradgen.grad(function, wrt=wrt)
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    in_place = 0
    for shapes in shape_sets:
        args = tuple(rng.normal(size=shape) if shape else float(rng.normal()) for shape in shapes)
        copies = tuple(np.copy(a) for a in args)
        results = gradient(*args)
        results = results if isinstance(wrt, tuple) else (results,)
        source = gradient.source_for(*args)
        in_place += "out=" in source or re.search(r" [-+*/]= ", source) is not None
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
    assert in_place  # the pass had something to do


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
    assert source.count("out=") >= 4 and "*= " in source
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
